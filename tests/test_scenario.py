"""Scenario files: bundled ones load, every mistake names the file and key, both sources produce events."""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from mmsim import records as R
from mmsim.data import scenario as S
from mmsim.errors import ConfigError, DataError
from pathlib import Path

from mmsim.data.scenario import list_scenarios, load_scenario, scenario_path
from mmsim.records import Instrument

MINIMAL = """
[scenario]
name = "tiny"

[instrument]
tick_size = 0.5

[source]
kind = "synthetic_l2"
n_rows = 500
"""


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_bundled_scenarios_load():
    names = list_scenarios()
    assert "quiet" in names
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name and sc.description
        assert sc.path.name == f"{name}.toml"


def test_quiet_contents():
    sc = load_scenario("quiet")
    assert sc.source["kind"] == "synthetic_market" and sc.source["preset"] == "quiet"
    assert 150_000 <= sc.source["n_rows"] <= 250_000
    assert sc.instrument == Instrument(tick_size=0.01, lot_size=1.0, symbol="SYN")
    kw = sc.sim_kwargs()
    assert set(kw) == {"feed_latency", "entry_latency", "cancel_latency", "response_latency",
                       "compute_latency", "queue_model", "queue_power", "maker_fee_bps", "taker_fee_bps",
                       "timer_interval_ns", "wake_on_feed", "wake_on_response", "post_only", "crossed_policy"}
    assert kw["timer_interval_ns"] == 100_000_000
    assert sc.strategy.startswith("symmetric")


def test_quiet_generates_valid_events():
    sc = load_scenario("quiet")
    ev, inst = sc.load_events(limit=5000)
    assert ev.dtype == R.EVENT_DTYPE and len(ev) == 5000 and inst.tick_size == 0.01
    assert sc.report["mode"] == "l3" and sc.report["n_rows"] == 5000
    ev2, _ = load_scenario("quiet").load_events(limit=5000)
    assert np.array_equal(ev, ev2)  # deterministic


def test_minimal_file_and_defaults(tmp_path):
    sc = load_scenario(write(tmp_path, MINIMAL))
    assert sc.name == "tiny" and sc.description == ""
    assert sc.instrument == Instrument(tick_size=0.5, lot_size=1.0, symbol="")
    assert sc.strategy == S.DEFAULT_STRATEGY
    kw = sc.sim_kwargs()
    assert kw["feed_latency"] == "0" and kw["maker_fee_bps"] == 0.0 and kw["queue_model"] == "risk_averse"
    ev, _ = sc.load_events()
    assert len(ev) == 500
    # by path string too, and a name defaults to the file stem
    p = write(tmp_path, MINIMAL.replace('name = "tiny"', ""), "stem_name.toml")
    assert load_scenario(str(p)).name == "stem_name"


def test_generator_parameters_pass_through(tmp_path, monkeypatch):
    seen = {}

    def fake_generate_l2(n_rows, seed=0, *, tick_size=0.01, start_ts=0, mean_gap_ns=1_000_000, n_levels=5,
                         base_price=10_000, sigma=0.05):
        seen.update(n_rows=n_rows, seed=seed, tick_size=tick_size, start_ts=start_ts, n_levels=n_levels,
                    sigma=sigma)
        ev = np.zeros(n_rows, dtype=R.EVENT_DTYPE)
        ev["exch_ts"] = np.arange(n_rows)
        ev["recv_ts"] = R.NO_TS
        ev["kind"], ev["side"], ev["price"], ev["qty"] = R.DEPTH, 1, base_price, 1
        return ev

    monkeypatch.setattr(S, "_generator", lambda: fake_generate_l2)
    text = MINIMAL + "seed = 9\nstart_ts = 1000\nn_levels = 3\nsigma = 1\n"
    sc = load_scenario(write(tmp_path, text))
    ev, _ = sc.load_events()
    assert seen == dict(n_rows=500, seed=9, tick_size=0.5, start_ts=1000, n_levels=3, sigma=1.0)
    with pytest.raises(ConfigError, match=r"\[source\] jump_prob: unknown key"):
        load_scenario(write(tmp_path, MINIMAL + "jump_prob = 0.1\n"))
    with pytest.raises(ConfigError, match=r"\[source\] n_levels: expected an integer, got 2.5"):
        load_scenario(write(tmp_path, MINIMAL + "n_levels = 2.5\n"))


def test_generator_value_errors_are_config_errors(tmp_path):
    sc = load_scenario(write(tmp_path, MINIMAL + "n_levels = 0\n"))
    with pytest.raises(ConfigError, match=r"s\.toml: \[source\]: .*n_levels"):
        sc.load_events()


@pytest.mark.parametrize("extra, text", [
    ("[bogus]\nx = 1\n", "unknown table [bogus]"),
    ("[engine]\nqueue_modle = 'log'\n", "[engine] queue_modle: unknown key"),
    ("[engine]\nqueue_model = 'fifo'\n", "[engine] queue_model: 'fifo' must be one of"),
    ("[engine]\nqueue_power = 0\n", "[engine] queue_power: 0 must be > 0"),
    ("[engine]\nwake_on_feed = 1\n", "[engine] wake_on_feed: expected true or false, got 1"),
    ("[engine]\ntimer_interval = '100 parsecs'\n", "[engine] timer_interval: '100 parsecs' not a duration"),
    ("[engine]\ntimer_interval = -5\n", "[engine] timer_interval: -5 must be >= 0"),
    ("[engine]\ncrossed_policy = 'ignore'\n", "[engine] crossed_policy: 'ignore' must be one of"),
    ("[fees]\nmaker_bps = 'cheap'\n", "[fees] maker_bps: expected a finite number, got 'cheap'"),
    ("[fees]\ntaker_bps = nan\n", "[fees] taker_bps: expected a finite number"),
    ("[latency]\nfeed = '2 parsecs'\n", "[latency] feed: latency '2 parsecs'"),
    ("[latency]\nfeed = -1\n", "[latency] feed: latency -1: must be >= 0"),
    ("[latency]\nentry = 'data+1ms'\n", "[latency] entry: 'data+1ms': 'data' is only valid for the feed"),
    ("[latency]\nfeed = 1.5\n", "[latency] feed: expected a latency spec string"),
    ("[latency]\nwire = '1ms'\n", "[latency] wire: unknown key"),
    ("[latency]\ncompute = 'measured:often'\n", "[latency] compute: latency 'measured:often'"),
    ("[strategy]\ndefault = 3\n", "[strategy] default: expected a string, got 3"),
    ("[strategy]\nname = 'x'\n", "[strategy] name: unknown key"),
])
def test_mistakes_name_the_key(tmp_path, extra, text):
    p = write(tmp_path, MINIMAL + extra)
    with pytest.raises(ConfigError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and text in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("doc, text", [
    ("[instrument]\ntick_size = 0.01\n[source]\nkind = 'synthetic_l2'\nn_rows = 5\n", "missing table [scenario]"),
    ("[scenario]\n[source]\nkind = 'synthetic_l2'\nn_rows = 5\n", "missing table [instrument]"),
    ("[scenario]\n[instrument]\nsymbol = 'X'\n[source]\nkind = 'synthetic_l2'\n", "[instrument] tick_size: missing"),
    ("[scenario]\n[instrument]\ntick_size = -0.01\n[source]\nkind = 'synthetic_l2'\nn_rows = 5\n",
     "[instrument] tick_size: -0.01 must be > 0"),
    ("[scenario]\n[instrument]\ntick_size = 0.01\n", "missing table [source]"),
    ("[scenario]\n[instrument]\ntick_size = 0.01\n[source]\nn_rows = 5\n", "[source] kind: missing"),
    ("[scenario]\n[instrument]\ntick_size = 0.01\n[source]\nkind = 'csv'\n", "[source] kind: 'csv' must be one of"),
    ("[scenario]\n[instrument]\ntick_size = 0.01\n[source]\nkind = 'synthetic_l2'\n", "[source] n_rows: missing"),
    ("[scenario]\n[instrument]\ntick_size = 0.01\n[source]\nkind = 'synthetic_l2'\nn_rows = 0\n",
     "[source] n_rows: 0 must be > 0"),
    ("[scenario]\n[instrument]\ntick_size = 0.01\n[source]\nkind = 'events_parquet'\n", "[source] path: missing"),
    ("[scenario]\n[instrument]\ntick_size = 0.01\n[source]\nkind = 'events_parquet'\npath = 'x.parquet'\n"
     "n_rows = 5\n", "[source] n_rows: not a parameter of kind = \"events_parquet\""),
    ("[scenario]\nname = 'x'\n[instrument\n", "invalid TOML"),
    ("scenario = 1\n", "scenario must be a table"),
])
def test_structure_mistakes(tmp_path, doc, text):
    p = write(tmp_path, doc)
    with pytest.raises(ConfigError) as e:
        load_scenario(p)
    assert text in str(e.value), str(e.value)


def test_lookup_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown scenario 'nope' \(bundled: .*quiet"):
        load_scenario("nope")
    with pytest.raises(ConfigError, match="scenario file .*missing.toml not found"):
        load_scenario(str(tmp_path / "missing.toml"))


def test_empirical_path_is_relative_to_the_file(tmp_path):
    (tmp_path / "lat.txt").write_text("1000\n2000\n")
    p = write(tmp_path, MINIMAL + "[latency]\nfeed = 'empirical:lat.txt'\ncompute = 'measured:x2'\n")
    sc = load_scenario(p)
    assert sc.latency["feed"] == f"empirical:{tmp_path / 'lat.txt'}"
    assert sc.latency["compute"] == "measured:x2"


# --------------------------------------------------------------------------------------------- parquet
def parquet_scenario(tmp_path, df, extra=""):
    df.to_parquet(tmp_path / "ev.parquet", index=False)
    return load_scenario(write(tmp_path, f"""
        [scenario]
        name = "pq"
        [instrument]
        tick_size = 0.01
        lot_size = 0.5
        [source]
        kind = "events_parquet"
        path = "ev.parquet"
        {extra}
        """))


def int_frame():
    return pd.DataFrame({"exch_ts": np.array([10, 20, 30, 40], dtype=np.int64),
                         "kind": np.array([R.DEPTH, R.DEPTH, R.TRADE, R.DEPTH], dtype=np.uint8),
                         "side": np.array([1, -1, 1, -1], dtype=np.int8),
                         "price": np.array([9999, 10001, 10001, 10001], dtype=np.int64),
                         "qty": np.array([4, 6, 0, 5], dtype=np.int64)})


def test_parquet_integer_columns(tmp_path):
    df = int_frame()
    df.loc[2, "qty"] = 2
    sc = parquet_scenario(tmp_path, df)
    assert sc.source_name.endswith("ev.parquet")
    ev, inst = sc.load_events()
    assert ev["price"].tolist() == [9999, 10001, 10001, 10001] and ev["qty"].tolist() == [4, 6, 2, 5]
    assert (ev["recv_ts"] == R.NO_TS).all() and inst.lot_size == 0.5
    ev, _ = sc.load_events(limit=2)
    assert len(ev) == 2


def test_parquet_float_prices_and_names(tmp_path):
    df = pd.DataFrame({"exch_ts": [10, 20, 30], "recv_ts": [11, 21, 31], "kind": ["depth", "depth", "trade"],
                       "side": ["bid", "ask", "sell"], "price": [99.99, 100.01, 99.99], "qty": [2.0, 3.0, 0.5]})
    ev, _ = parquet_scenario(tmp_path, df).load_events()
    assert ev["price"].tolist() == [9999, 10001, 9999] and ev["qty"].tolist() == [4, 6, 1]
    assert ev["side"].tolist() == [1, -1, -1] and ev["recv_ts"].tolist() == [11, 21, 31]


def test_parquet_bad_data_and_repair(tmp_path):
    sc = parquet_scenario(tmp_path, int_frame())
    with pytest.raises(DataError, match=r"ev\.parquet: row 2: zero size in a TRADE event"):
        sc.load_events()
    sc = parquet_scenario(tmp_path, int_frame(), "repair = true")
    ev, _ = sc.load_events()
    assert len(ev) == 3 and sc.report["dropped"] == {"zero_qty": 1}
    df = int_frame().drop(columns="side")
    with pytest.raises(DataError, match="missing column"):
        parquet_scenario(tmp_path, df).load_events()
    df = pd.DataFrame({"exch_ts": [1], "kind": [1], "side": [1], "price": [100.001], "qty": [1.0]})
    with pytest.raises(DataError, match="row 0: price 100.001 is not on the tick grid"):
        parquet_scenario(tmp_path, df).load_events()


def test_parquet_missing_or_corrupt(tmp_path):
    sc = parquet_scenario(tmp_path, int_frame())
    (tmp_path / "ev.parquet").unlink()
    with pytest.raises(DataError, match="file not found"):
        sc.load_events()
    (tmp_path / "ev.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot read Parquet"):
        sc.load_events()


def test_bad_limit(tmp_path):
    sc = load_scenario(write(tmp_path, MINIMAL))
    for bad in (0, -1, 1.5):
        with pytest.raises(ConfigError, match="row limit"):
            sc.load_events(limit=bad)


def test_time_range_selects_rows_of_any_source(tmp_path):
    full, _ = load_scenario("quiet").load_events(limit=20_000)
    lo, hi = int(full["exch_ts"][5_000]), int(full["exch_ts"][9_000])
    text = Path(scenario_path("quiet")).read_text().replace("seed = 1\n", f"seed = 1\nfrom_ts = {lo}\nuntil_ts = {hi}\n")
    (tmp_path / "q.toml").write_text(text)
    sc = load_scenario(tmp_path / "q.toml")
    ev, _ = sc.load_events(limit=20_000)
    want = full[(full["exch_ts"] >= lo) & (full["exch_ts"] < hi)]
    n_snap = sc.report["seek"]["snapshot_rows"]  # the resting orders at lo first (tests/test_seek.py)
    assert n_snap > 0 and len(ev) == n_snap + len(want) and np.array_equal(ev[n_snap:], want)
    assert (ev["kind"][:n_snap] == R.ADD).all() and (ev["exch_ts"][:n_snap] == lo).all()
    (tmp_path / "bad.toml").write_text(text.replace(f"until_ts = {hi}", f"until_ts = {lo}"))
    with pytest.raises(ConfigError, match="until_ts: must be after from_ts"):
        load_scenario(tmp_path / "bad.toml")


def test_typed_times_select_the_same_window_as_int_ns(tmp_path):
    """quiet starts at 09:30 on 1970-01-01 (a synthetic source's session is UTC): "09:31" is 60 s later."""
    base = Path(scenario_path("quiet")).read_text()
    ns = 9 * 3600 * 10**9 + 31 * 60 * 10**9
    got = {}
    for typed in (str(ns), '"09:31"', '"09:31:00.000000000"', '"1970-01-01T09:31:00Z"', '"1970-01-01T10:31+01:00"',
                  "1970-01-01T09:31:00Z", "09:31:00"):  # the last two: TOML's own date-time and time values
        (tmp_path / "t.toml").write_text(base.replace("seed = 1\n", f"seed = 1\nfrom_ts = {typed}\n"))
        sc = load_scenario(tmp_path / "t.toml")
        ev, _ = sc.load_events(limit=30_000)
        got[typed] = ev
        assert sc.report["seek"]["from_ts"] == ns and ev["exch_ts"][0] == ns
    first = got[str(ns)]
    assert all(np.array_equal(first, v) for v in got.values())


@pytest.mark.parametrize("line, message", [
    ('from_ts = "noon"', "[source] from_ts: 'noon' not a time"),
    ('from_ts = "12:75"', "[source] from_ts: '12:75' not a time of day"),
    ('from_ts = 1.5', "[source] from_ts: expected a time"),
    ('from_ts = "2024-02-30T00:00:00Z"', "[source] from_ts: '2024-02-30T00:00:00Z' day is out of range"),
])
def test_an_unreadable_time_is_one_line_naming_the_key(tmp_path, line, message):
    text = Path(scenario_path("quiet")).read_text().replace("seed = 1\n", f"seed = 1\n{line}\n")
    (tmp_path / "b.toml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_scenario(tmp_path / "b.toml")
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("lines, message", [
    ('from_ts = "23:00"', "[source] from_ts '23:00' (1970-01-01 23:00:00.000 UTC): after the data's last row (1970-01-01 09:30:56.182 UTC)"),
    ('until_ts = "09:00"', "[source] until_ts '09:00' (1970-01-01 09:00:00.000 UTC): not after the data's first row"),
    ('from_ts = "09:30:40"\nuntil_ts = "09:30:35"', "[source] until_ts '09:30:35' (1970-01-01 09:30:35.000 UTC): "
                                                  "must be after from_ts"),
])
def test_a_window_outside_the_data_is_one_line_naming_the_key(tmp_path, lines, message):
    text = Path(scenario_path("quiet")).read_text().replace("seed = 1\n", f"seed = 1\n{lines}\n")
    (tmp_path / "w.toml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_scenario(tmp_path / "w.toml").load_events(limit=20_000)
    assert message in str(e.value)
