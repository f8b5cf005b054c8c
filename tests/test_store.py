"""The event store and streamed replay: a store replays exactly like the same rows held in memory."""
import numpy as np
import pandas as pd
import pytest

from mmsim import ConfigError, DataError, Instrument, _core, records as R, simulate
from mmsim.data.latency import FeedClock, seeded_streams
from mmsim.data.store import EventStore, write_store
from mmsim.data.synthetic import generate_l2

RUN = dict(entry_latency="gamma:shape=2,scale=300us", cancel_latency="500us", response_latency="700us",
           compute_latency="10us", timer_interval_ns=20_000_000, wake_on_feed=False, seed=11)


@pytest.fixture(scope="module")
def market():
    return generate_l2(120_000, seed=9)


def chunked(ev, size):
    return (ev[i:i + size] for i in range(0, len(ev), size))


def test_roundtrip_and_byte_identical(tmp_path, market):
    a = write_store(tmp_path / "a.mmstore", chunked(market, 50_000), Instrument(0.01, 1, "SYN"), row_group=30_000)
    write_store(tmp_path / "b.mmstore", chunked(market, 7_000), Instrument(0.01, 1, "SYN"), row_group=30_000)
    store = EventStore(tmp_path / "a.mmstore")
    assert a["n_rows"] == store.n_rows == len(market) and store.meta["mode"] == "l2"
    assert store.instrument == Instrument(0.01, 1.0, "SYN")
    assert [len(c) for c in store.iter_chunks()] == [30_000] * 4
    np.testing.assert_array_equal(store.read(), market)
    for name in ("events.parquet", "meta.json"):
        assert (tmp_path / "a.mmstore" / name).read_bytes() == (tmp_path / "b.mmstore" / name).read_bytes()


@pytest.mark.parametrize("feed", ["lognormal:median=1ms,sigma=0.7",
                                  "regime:base=500us,spike=30ms,p_enter=0.001,p_exit=0.02"])
def test_streamed_replay_equals_in_memory(tmp_path, market, feed, monkeypatch):
    monkeypatch.setattr(FeedClock, "BLOCK", 25_000)  # several latency blocks, not aligned with row groups
    write_store(tmp_path / "s.mmstore", chunked(market, 40_000), Instrument(0.01, 1), row_group=17_000)
    whole = simulate(market, Instrument(0.01, 1), "symmetric", feed_latency=feed, **RUN)
    streamed = simulate(EventStore(tmp_path / "s.mmstore"), None, "symmetric", feed_latency=feed, **RUN)
    assert len(whole.fills) > 100
    pd.testing.assert_frame_equal(whole.fills, streamed.fills)
    pd.testing.assert_frame_equal(whole.decisions, streamed.decisions)
    assert whole.summary["pnl"] == streamed.summary["pnl"]


def test_feed_clock_does_not_depend_on_chunking(market, monkeypatch):
    monkeypatch.setattr(FeedClock, "BLOCK", 10_000)
    spec = "regime:base=1ms,spike=40ms,p_enter=0.002,p_exit=0.05,sigma=0.3"
    one = FeedClock(spec, seeded_streams(3)["feed"], len(market)).arrivals(market)
    clock = FeedClock(spec, seeded_streams(3)["feed"], len(market))
    many = np.concatenate([clock.arrivals(c) for c in chunked(market, 3_333)])
    np.testing.assert_array_equal(one, many)
    assert (np.diff(one) >= 0).all() and (one >= market["exch_ts"]).all()


def test_engine_holds_a_bounded_window(market):
    lat = {k: np.array([1_000_000]) for k in ("entry", "cancel", "response", "compute")}
    arrival = market["exch_ts"] + 1_000_000
    size = 10_000
    eng = _core.Engine(market[:size], arrival[:size], lat, {"timer_interval_ns": 10_000_000, "wake_on_feed": False},
                       _core.SymmetricQuoter(2, 1), final=False)
    held, nxt = [], size
    while not eng.step(1 << 30):
        assert eng.needs_data()
        eng.append(market[nxt:nxt + size], arrival[nxt:nxt + size], nxt + size >= len(market))
        held.append(eng.rows_held())
        nxt += size
    assert max(held) < 2 * size + 2_000  # one chunk plus what the 1 ms feed lag still needs


def test_unsorted_across_chunks_names_the_global_row(tmp_path, market):
    bad = market.copy()
    bad["exch_ts"][60_000:] -= 10**12
    with pytest.raises(DataError, match="row 60000"):
        write_store(tmp_path / "x.mmstore", chunked(bad, 25_000), Instrument(0.01, 1))


def test_not_a_store_is_a_clear_error(tmp_path):
    from mmsim import ConfigError

    with pytest.raises(ConfigError, match="not an event store"):
        EventStore(tmp_path)


def test_time_window_streams_exactly_the_rows_in_range(tmp_path, market):
    write_store(tmp_path / "w.mmstore", chunked(market, 40_000), Instrument(0.01, 1), row_group=10_000)
    ts = market["exch_ts"]
    lo, hi = int(ts[25_000]), int(ts[70_000])
    view = EventStore(tmp_path / "w.mmstore").window(lo, hi)
    want = market[(ts >= lo) & (ts < hi)]
    n_snap = view.seek["snapshot_rows"]  # the book at lo first (tests/test_seek.py checks it is exact)
    assert n_snap > 1 and view.n_rows == n_snap + len(want) and view.seek["rows_replayed"] == int((ts < lo).sum())
    rows = view.read()
    np.testing.assert_array_equal(rows[n_snap:], want)
    assert (rows["exch_ts"][:n_snap] == lo).all() and rows["kind"][0] == 3  # CLEAR, then the levels
    a = simulate(view, None, "symmetric", feed_latency="1ms", **RUN)
    b = simulate(rows, Instrument(0.01, 1), "symmetric", feed_latency="1ms", **RUN)
    pd.testing.assert_frame_equal(a.fills, b.fills)
    assert view.meta["first_ts"] == lo and view.meta["last_ts"] == int(want["exch_ts"][-1])


def test_scenario_with_a_store_source_runs_from_the_cli(tmp_path, market, capsys):
    import json

    from mmsim.cli import main

    write_store(tmp_path / "s.mmstore", chunked(market, 40_000), Instrument(0.01, 1, "SYN"), row_group=20_000)
    start = int(market["exch_ts"][10_000])
    (tmp_path / "s.toml").write_text(f"""
[scenario]
name = "from_store"
[instrument]
tick_size = 0.01
[source]
kind = "store"
path = "s.mmstore"
from_ts = {start}
[latency]
feed = "1ms"
[engine]
timer_interval = "50ms"
wake_on_feed = false
""")
    code = main(["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    # the rows from start on, after one snapshot message of the book at start (a CLEAR and the levels)
    assert summary["n_events"] > int((market["exch_ts"] >= start).sum()) + 1
    (tmp_path / "bad.toml").write_text((tmp_path / "s.toml").read_text().replace("tick_size = 0.01", "tick_size = 0.5"))
    assert main(["run", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "o2")]) == 2
    assert "differ from the store" in capsys.readouterr().err


def test_store_marks_every_message_end_however_chunked(tmp_path, market):
    """Unmarked data: the writer marks each exchange-time group's last row, also where a chunk edge falls
    inside a group (the edge row waits for the next chunk); marked data keeps its own, finer messages."""
    bare = market.copy()
    bare["flags"] = 0
    for size in (1, 3, 4_999):
        write_store(tmp_path / f"b{size}.mmstore", chunked(bare[:20_000], size), Instrument(0.01, 1), row_group=4_096)
    got = EventStore(tmp_path / "b1.mmstore").read()
    ts = got["exch_ts"]
    want = np.r_[ts[1:] != ts[:-1], True]
    np.testing.assert_array_equal((got["flags"] & R.FLAG_MSG_END) != 0, want)
    for size in (3, 4_999):
        assert ((tmp_path / f"b{size}.mmstore" / "events.parquet").read_bytes()
                == (tmp_path / "b1.mmstore" / "events.parquet").read_bytes())
    write_store(tmp_path / "m.mmstore", chunked(market[:20_000], 777), Instrument(0.01, 1))
    head = market[:20_000].copy()
    head["flags"][-1] |= R.FLAG_MSG_END  # the data ends there, and so does its last message
    np.testing.assert_array_equal(EventStore(tmp_path / "m.mmstore").read(), head)


def test_a_version_1_store_is_refused_with_one_line(tmp_path, market):
    import json

    write_store(tmp_path / "old.mmstore", [market[:100]], Instrument(0.01, 1))
    meta = json.loads((tmp_path / "old.mmstore" / "meta.json").read_text())
    meta["version"] = 1
    (tmp_path / "old.mmstore" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"old.mmstore: a version 1 store, written before exchange messages "
                                          r"were marked .*convert the data again"):
        EventStore(tmp_path / "old.mmstore")


def test_a_row_limit_stops_at_the_last_whole_message(tmp_path, market):
    ends = np.flatnonzero(market["flags"] & R.FLAG_MSG_END)
    inside = int(ends[500]) + 2  # a limit two rows into a message of >= 3 rows
    while not (market["exch_ts"][inside - 1] == market["exch_ts"][inside]
               and not market["flags"][inside - 1] & R.FLAG_MSG_END):
        inside += 1
    last_whole = int(ends[ends < inside][-1]) + 1
    write_store(tmp_path / "s.mmstore", chunked(market, 40_000), Instrument(0.01, 1), row_group=17_000)
    kw = dict(feed_latency="lognormal:median=1ms,sigma=0.7", **RUN)
    for source in (market, EventStore(tmp_path / "s.mmstore")):
        cut = simulate(source, Instrument(0.01, 1), "symmetric", limit=inside, **kw)
        whole = simulate(market[:last_whole], Instrument(0.01, 1), "symmetric", **kw)
        assert cut.summary["n_events"] == last_whole < inside
        pd.testing.assert_frame_equal(cut.decisions, whole.decisions)
    with pytest.raises(ConfigError, match="the first 1 rows hold no whole exchange message"):
        simulate(market, Instrument(0.01, 1), "symmetric", limit=1, **kw)
