"""Times people type and read (mmsim.data.times): ISO timestamps, session clock times in the venue's zone, int ns;
stores record their zone; the command line takes and shows clock times; bad times are one line, exit 2."""
from __future__ import annotations

import json
import tomllib
from datetime import date

import pytest
from hypothesis import given, strategies as st

from adapters_helpers import DATA
from mmsim.cli import main
from mmsim.data.adapters import convert
from mmsim.data.store import EventStore
from mmsim.data.times import (Session, format_clock, format_span, iso, parse_time, session_of_meta,
                              session_of_span, utc_offset_s)
from mmsim.errors import ConfigError

NY = "America/New_York"
S = 1_000_000_000
# 2012-06-21 09:30 New York (EDT, UTC-4) = 13:30 UTC
OPEN_2012 = 1_340_285_400 * S
AMZN = session_of_span(OPEN_2012 + 17_459_617, OPEN_2012 + 23_399_959_359_650, NY)


@pytest.mark.parametrize("typed, want", [
    ("12:00", OPEN_2012 + 9_000 * S),
    ("12:00:30.5", OPEN_2012 + 9_030 * S + 500_000_000),
    ("12:00:00.000000001", OPEN_2012 + 9_000 * S + 1),
    ("2012-06-21T12:00:00-04:00", OPEN_2012 + 9_000 * S),
    ("2012-06-21T16:00:00Z", OPEN_2012 + 9_000 * S),
    ("2012-06-21T16:00:00.123456789+00:00", OPEN_2012 + 9_000 * S + 123_456_789),
    ("2012-06-21 12:00", OPEN_2012 + 9_000 * S),      # no offset: the venue's zone
    ("2012-06-21", OPEN_2012 - (9 * 3600 + 1800) * S),  # the venue's midnight
    (OPEN_2012, OPEN_2012),
    (str(OPEN_2012), OPEN_2012),
    ("1_340_285_400_000_000_000", OPEN_2012),
])
def test_typed_forms_resolve_against_the_session(typed, want):
    assert parse_time(typed, "t", AMZN) == want


def test_toml_date_times_and_times_are_read_the_same_way():
    doc = tomllib.loads("a = 2012-06-21T16:00:00Z\nb = 2012-06-21T12:00:00\nc = 12:00:00\nd = 2012-06-21T12:00:00.5-04:00")
    assert {k: parse_time(v, k, AMZN) for k, v in doc.items()} == {
        "a": OPEN_2012 + 9_000 * S, "b": OPEN_2012 + 9_000 * S, "c": OPEN_2012 + 9_000 * S,
        "d": OPEN_2012 + 9_000 * S + 500_000_000}


def test_new_york_daylight_saving_is_the_us_rule():
    assert utc_offset_s(NY, date(2012, 6, 21)) == -4 * 3600
    assert utc_offset_s(NY, date(2012, 1, 20)) == -5 * 3600
    winter = session_of_span(None, None, NY, day=date(2012, 1, 20))
    assert iso(parse_time("09:30", "t", winter), NY) == "2012-01-20T09:30:00.000000000-05:00"
    assert iso(parse_time("09:30", "t", winter)) == "2012-01-20T14:30:00.000000000Z"


def test_a_clock_time_after_midnight_in_a_capture_across_midnight_is_the_next_day():
    t0 = 1_723_161_256_493_000_000  # 2024-08-08T23:54:16.493Z
    cap = session_of_span(t0, t0 + 345 * S)
    assert iso(parse_time("23:57:30", "t", cap)) == "2024-08-08T23:57:30.000000000Z"
    assert iso(parse_time("00:00:01", "t", cap)) == "2024-08-09T00:00:01.000000000Z"
    assert format_span(t0, t0 + 345 * S) == "2024-08-08 23:54:16.493 – 2024-08-09 00:00:01.493 UTC"


@pytest.mark.parametrize("bad, message", [
    ("noon", "--from 'noon': not a time"),
    ("12:60", "--from '12:60': not a time of day"),
    ("25:00", "--from '25:00': not a time of day"),
    ("2012-02-30T10:00Z", "--from '2012-02-30T10:00Z': day is out of range for month"),
    ("2012-06-21T10:00+24:00", "--from '2012-06-21T10:00+24:00': UTC offset '+24:00' is out of range"),
    ("12:00:00.0000000001", "--from '12:00:00.0000000001': not a time"),  # finer than ns
    (1.5, "--from 1.5: not a time"),
    (True, "--from True: not a time"),
])
def test_an_unreadable_time_is_one_line_naming_the_option_and_value(bad, message):
    with pytest.raises(ConfigError) as e:
        parse_time(bad, "--from", AMZN)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_clock_time_needs_a_session_date():
    with pytest.raises(ConfigError, match="a clock time needs the session's date"):
        parse_time("12:00", "--from", Session())


@given(st.integers(567_993_600 * S, 4_102_444_800 * S), st.sampled_from(["UTC", NY]))  # 1988-2100: the built-in US rules
def test_iso_round_trips_to_the_nanosecond(ns, zone):
    text = iso(ns, zone)
    assert parse_time(text, "t") == ns
    day = date.fromisoformat(text[:10])
    assert parse_time(format_clock(ns, zone, 9), "t", Session(zone, day)) == ns


def test_stores_record_the_venue_zone_and_old_stores_read_as_utc(tmp_path):
    convert("lobster", [DATA / "lobster" / "AMZN_2012-06-21_5_lines61001-64000.zip"], tmp_path / "a.mmstore")
    meta = EventStore(tmp_path / "a.mmstore").meta
    assert (meta["time_zone"], meta["session_date"]) == (NY, "2012-06-21")
    sess = session_of_meta(meta)
    assert format_span(sess.first_ts, sess.last_ts, sess.zone) == "11:36:25.651–11:45:35.346 New York (2012-06-21)"
    convert("binance", [DATA / "binance" / "usdm_btcusdt_20240808_lines1-3000.gz"], tmp_path / "b.mmstore",
            tick_size=0.1, lot_size=0.001)
    assert EventStore(tmp_path / "b.mmstore").meta["time_zone"] == "UTC"
    del meta["time_zone"], meta["session_date"]
    old = session_of_meta(meta)
    assert old.zone == "UTC" and not old.zone_recorded and old.day == date(2012, 6, 21)


# --------------------------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def amzn(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    convert("lobster", [DATA / "lobster" / "AMZN_2012-06-21_5_lines61001-64000.zip"], d / "amzn.mmstore")
    (d / "amzn.toml").write_text('[scenario]\nname = "amzn"\n[instrument]\ntick_size = 0.01\n[source]\n'
                                 'kind = "store"\npath = "amzn.mmstore"\n[latency]\nfeed = "1ms"\nentry = "1ms"\n'
                                 'cancel = "1ms"\nresponse = "1ms"\n[engine]\ntimer_interval = "100ms"\n'
                                 'wake_on_feed = false\n')
    return d


def test_run_from_a_clock_time_prints_and_writes_clock_times(amzn, capsys):
    out = amzn / "run"
    code = main(["run", str(amzn / "amzn.toml"), "--from", "11:40", "--until", "2012-06-21T15:44:00Z",
                 "--strategy", "symmetric:half_spread=1,size=10", "--out", str(out), "--no-progress"])
    text = capsys.readouterr()
    assert code == 0, text.err
    assert "data      11:40:00.000–11:43:" in text.out and "New York (2012-06-21)" in text.out
    assert "window    from 11:40:00.000: book rebuilt from" in text.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["first_ts"] == parse_time("2012-06-21T11:40:00-04:00")
    assert summary["first_time"] == "2012-06-21T11:40:00.000000000-04:00" and summary["time_zone"] == NY
    rows = EventStore(amzn / "amzn.mmstore").read()["exch_ts"]
    last = int(rows[rows < parse_time("2012-06-21T11:44:00-04:00")][-1])   # the last row before --until
    assert summary["last_ts"] == last and summary["last_time"] == iso(last, NY)
    assert f"–{format_clock(last, NY)} New York" in text.out


@pytest.mark.parametrize("args, message", [
    (["--from", "noon"], "--from 'noon': not a time"),
    (["--from", "12:00"], "--from '12:00' (2012-06-21 12:00:00.000 America/New_York): after the data's last row "
                          "(2012-06-21 11:45:35.346 America/New_York)"),
    (["--until", "11:00"], "--until '11:00' (2012-06-21 11:00:00.000 America/New_York): not after the data's first row"),
    (["--from", "11:41", "--until", "11:40"], "--until '11:40' (2012-06-21 11:40:00.000 America/New_York): must be "
                                              "after --from"),
    # a start before the data is not silently the whole data (another day, another zone typed by mistake)
    (["--from", "09:00"], "--from '09:00' (2012-06-21 09:00:00.000 America/New_York): before the data's first row"),
    (["--from", "2012-06-20T12:00:00Z"], "before the data's first row"),
    (["--from", "12"], "--from '12' (1969-12-31 19:00:00.000 America/New_York): before the data's first row"),
])
def test_bad_window_options_are_one_line_and_exit_2(amzn, capsys, args, message):
    code = main(["run", str(amzn / "amzn.toml"), *args, "--out", str(amzn / "bad"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_train_time_options_are_checked_before_any_work(amzn, capsys):
    code = main(["train", str(amzn / "amzn.toml"), "--model", "linear", "--horizon", "1s", "--start-ts", "half past",
                 "--out", str(amzn / "m.json")])
    err = capsys.readouterr().err
    assert code == 2 and "--start-ts 'half past': not a time" in err and err.count("\n") == 1


@pytest.mark.parametrize("text, ns", [("5min", 300 * S), ("90s", 90 * S), ("1.5h", 5_400 * S), ("250us", 250_000)])
def test_every_duration_option_takes_minutes_and_hours(text, ns):
    from mmsim.analysis.markouts import parse_horizon
    from mmsim.data.scenario import _t_duration
    from mmsim.signals.train import parse_duration_option, parse_horizons, parse_positive_duration

    assert parse_positive_duration(text, "--every") == parse_duration_option(text, "--embargo") == ns
    assert parse_horizons(f"{text},7s") == [ns, 7 * S] and parse_horizon(text, "--block") == ns
    assert _t_duration(text) == ns  # [engine] timer_interval


def test_a_synthetic_source_takes_the_venue_zone(tmp_path):
    """A twin (or any synthetic scenario) can run on the venue's clock: `time_zone` under [source]."""
    from mmsim.data.scenario import load_scenario

    body = ('[scenario]\nname = "t"\n[instrument]\ntick_size = 0.01\n[source]\nkind = "synthetic_market"\n'
            'preset = "quiet"\nn_rows = 20000\nstart_ts = 1340285400000000000\ntime_zone = "America/New_York"\n'
            'from_ts = "09:30:30"\n')
    (tmp_path / "t.toml").write_text(body)
    sc = load_scenario(tmp_path / "t.toml")
    ev, _ = sc.load_events()
    assert sc.session.zone == NY and int(ev["exch_ts"][0]) == parse_time("2012-06-21T09:30:30-04:00")
    (tmp_path / "u.toml").write_text(body.replace("America/New_York", "Mars/Olympus"))
    with pytest.raises(ConfigError, match=r"u.toml: \[source\] time_zone: time zone 'Mars/Olympus': unknown"):
        load_scenario(tmp_path / "u.toml").load_events()
