"""Signal venues (issue 12, stage 1; docs/venues.md) on the pure-Python reference simulator: tiny hand-made
streams whose expected decisions are computed by hand in the comments. The quoted venue is the one the strategy
trades; a signal venue's rows reach only its own delayed book, at their own arrival times."""
from __future__ import annotations

import numpy as np
import pytest

from mmsim import records as R
from mmsim.errors import ConfigError, DataError, StrategyError
from mmsim.reference import ReferenceEngine
from mmsim.engine.strategy import Quotes

B, A = R.BID, R.ASK
NO = R.NO_TS


def events(*rows, ends=None):
    """rows: (exch_ts, kind, side, price, qty[, order_id]); ``ends``: indices of rows marked FLAG_MSG_END."""
    ev = np.zeros(len(rows), R.EVENT_DTYPE)
    ev["recv_ts"] = R.NO_TS
    for i, r in enumerate(rows):
        ev["exch_ts"][i], ev["kind"][i], ev["side"][i], ev["price"][i], ev["qty"][i] = r[:5]
        if len(r) > 5:
            ev["order_id"][i] = r[5]
        if ends is not None and i in ends:
            ev["flags"][i] = R.FLAG_MSG_END
    return ev


def depth(t, side, price, qty):
    return (t, R.DEPTH, side, price, qty)


def trade(t, aggressor, price, qty):
    return (t, R.TRADE, aggressor, price, qty)


QUOTED = events(depth(1000, B, 100, 5), depth(1000, A, 101, 5), depth(5000, B, 100, 6))  # arrives as stamped


def meta(name, **kw):
    return dict(name=name, mode="l2", tick_size=0.5, lot_size=0.001, crossed_policy="error", **kw)


class Watcher:
    """Records, at each wakeup, the quoted top of book and every venue's view; quotes nothing (or ``quote``)."""

    def __init__(self, quote=None):
        self.seen, self.quote = [], quote

    def on_wakeup(self, ctx):
        views = {}
        for name in ctx.venue_names:
            v = ctx.venue(name)
            views[name] = dict(bid=(v.best_bid, v.bid_qty), ask=(v.best_ask, v.ask_qty), mid=v.mid,
                               rows=v.data_rows, exch=v.data_exch_ts, arr=v.data_arrival_ts,
                               depth1=(v.depth(B, 1), v.depth(A, 1)), tick=v.tick_size, lot=v.lot_size,
                               n_features=len(v.features))
        self.seen.append(dict(now=ctx.now, reason=ctx.reason, rows=ctx.data_rows, views=views))
        return self.quote


def run(strategy, signals=(), *, quoted=QUOTED, arrival=None, timer=0, wake_on_feed=True, compute=0,
        response=0, metas=None, **cfg):
    arrival = quoted["exch_ts"].copy() if arrival is None else np.asarray(arrival, np.int64)
    lat = dict(entry=np.zeros(1, np.int64), cancel=np.zeros(1, np.int64), response=np.array([response], np.int64),
               compute=np.array([compute], np.int64))
    metas = [meta(f"s{k}") for k in range(1, len(signals) + 1)] if metas is None else metas
    config = dict(timer_interval_ns=timer, wake_on_feed=wake_on_feed, signals=metas, **cfg)
    eng = ReferenceEngine(quoted, arrival, lat, config, strategy,
                          signals=[(ev, np.asarray(arr, np.int64)) for ev, arr in signals])
    assert eng.step(10**9) is True
    return eng


# ------------------------------------------------------------------------------------------- messages
def test_a_signal_message_split_over_rows_is_seen_whole():
    # perp: one message of three rows stamped 1500 (bid, ask, a trade; the last row ends it), one packet at 1700;
    # then a one-row message stamped 1600 arriving at 1800.
    perp = events(depth(1500, B, 200, 1), depth(1500, A, 202, 2), trade(1500, B, 202, 1), depth(1600, B, 201, 4),
                  ends={2, 3})
    w = Watcher()
    eng = run(w, [(perp, [1700, 1700, 1700, 1800])], metas=[meta("perp")])
    # wakeups: 1000 (quoted rows), 1700 (perp's packet), 1800 (perp row 3), 5000 (quoted row 2)
    assert [s["now"] for s in w.seen] == [1000, 1700, 1800, 5000]
    assert all(s["reason"] == R.WAKE_FEED for s in w.seen)
    perp_seen = [s["views"]["perp"] for s in w.seen]
    assert [p["rows"] for p in perp_seen] == [0, 3, 4, 4]           # never 1 or 2: the message arrives whole
    assert perp_seen[0] == dict(bid=(0, 0), ask=(0, 0), mid=None, rows=0, exch=NO, arr=NO,
                                depth1=((0, 0), (0, 0)), tick=0.5, lot=0.001, n_features=0)
    assert perp_seen[1]["bid"] == (200, 1) and perp_seen[1]["ask"] == (202, 2) and perp_seen[1]["mid"] == 201.0
    assert (perp_seen[1]["exch"], perp_seen[1]["arr"]) == (1500, 1700)
    assert perp_seen[2]["bid"] == (201, 4) and perp_seen[2]["depth1"] == ((200, 1), (0, 0))
    assert (perp_seen[2]["exch"], perp_seen[2]["arr"]) == (1600, 1800)
    # the quoted venue is venue 0, named "quoted" by default, and its view equals ctx's own fields
    assert [s["rows"] for s in w.seen] == [2, 2, 2, 3]
    assert w.seen[1]["views"]["quoted"]["bid"] == (100, 5) and w.seen[1]["views"]["quoted"]["rows"] == 2
    sd = eng.signal_data()
    assert sd.dtype == R.SIGNAL_DATA_DTYPE and sd.dtype.itemsize == 40
    assert sd.tolist() == [(0, 1, NO, NO, 0), (1, 1, 1500, 1700, 3), (2, 1, 1600, 1800, 4), (3, 1, 1600, 1800, 4)]
    assert eng.summary()["signal_rows"] == [4]


# ------------------------------------------------------------------------------------------- same instant
def test_same_instant_the_decision_sees_every_venue_and_the_timer_comes_after_signal_rows():
    # No wake on feed: only the timer (every 1000 from the first quoted arrival, 1000) wakes the strategy.
    # perp row 0 arrives at exactly 2000 (a timer tick): signal feeds (priority 3) go before the timer (5) and the
    # wakeup (6), so the 2000 decision sees it; row 1 arrives at 2001 and is seen first at 3000.
    perp = events(depth(1900, B, 50, 1), depth(2000, A, 52, 1))
    w = Watcher()
    eng = run(w, [(perp, [2000, 2001])], timer=1000, wake_on_feed=False, metas=[meta("perp")])
    assert [s["now"] for s in w.seen] == [1000, 2000, 3000, 4000, 5000]
    assert all(s["reason"] == R.WAKE_TIMER for s in w.seen)
    assert [s["views"]["perp"]["rows"] for s in w.seen] == [0, 1, 2, 2, 2]
    assert eng.signal_data()["data_arrival_ts"].tolist() == [NO, 2000, 2001, 2001, 2001]


def test_same_instant_a_quoted_and_a_signal_row_make_one_wakeup_that_sees_both():
    quoted = events(depth(1000, B, 100, 5), depth(1000, A, 101, 5), depth(3000, B, 99, 2))
    perp = events(depth(2500, B, 50, 1))
    w = Watcher()
    run(w, [(perp, [3000])], quoted=quoted, metas=[meta("perp")])
    assert [s["now"] for s in w.seen] == [1000, 3000]
    assert w.seen[1]["rows"] == 3 and w.seen[1]["views"]["perp"]["rows"] == 1


def test_same_instant_signal_venues_are_taken_in_venue_order():
    # Two signal venues whose books cross in a packet arriving at one instant: venue 1 is applied (and fails its
    # crossed-book check) first, whatever the exchange times; delay venue 1 by 1 ns and venue 2 fails first.
    crossed = events(depth(1500, B, 60, 1), depth(1500, A, 60, 1))
    also = events(depth(1400, B, 80, 1), depth(1400, A, 79, 1))
    with pytest.raises(DataError, match=r"^signal 'one': row 1: crossed book: best bid 60 >= best ask 60$"):
        run(Watcher(), [(crossed, [2000, 2000]), (also, [2000, 2000])], metas=[meta("one"), meta("two")])
    with pytest.raises(DataError, match=r"^signal 'two': row 1: crossed book: best bid 80 >= best ask 79$"):
        run(Watcher(), [(crossed, [2001, 2001]), (also, [2000, 2000])], metas=[meta("one"), meta("two")])


def test_wakeups_at_an_instant_come_after_every_stream_and_responses_after_signal_rows():
    # The strategy submits a bid at its first wakeup (1000); with zero latencies the ack comes back at 1000 and
    # a response (priority 4) at 2000 ... here response latency 1000: the ack arrives at 2000, the same instant as a
    # perp row; one wakeup at 2000, reason FEED|RESPONSE, sees the perp row.
    class Once(Watcher):
        def on_wakeup(self, ctx):
            super().on_wakeup(ctx)
            return Quotes(99, 1, 0, 0) if len(self.seen) == 1 else None

    perp = events(depth(1900, B, 50, 1))
    w = Once()
    run(w, [(perp, [2000])], response=1000, metas=[meta("perp")])
    assert [(s["now"], s["reason"]) for s in w.seen][:2] == [(1000, R.WAKE_FEED), (2000, R.WAKE_FEED | R.WAKE_RESPONSE)]
    assert w.seen[1]["views"]["perp"]["rows"] == 1


# ------------------------------------------------------------------------------------------- what arrived
def test_a_strategy_sees_exactly_the_signal_rows_that_have_arrived():
    # perp: four one-row messages stamped 1100, 1200, 1300, 1400 with arrivals 1150, 1450, 1450, 2600 (a slow
    # message holds back the next). Timer every 250 ns from 1000, no wake on feed.
    perp = events(depth(1100, B, 10, 1), depth(1200, A, 12, 2), depth(1300, B, 11, 3), depth(1400, A, 12, 0))
    arr = [1150, 1450, 1450, 2600]
    w = Watcher()
    eng = run(w, [(perp, arr)], timer=250, wake_on_feed=False, metas=[meta("perp")])
    ts = [s["now"] for s in w.seen]
    assert ts == list(range(1000, 5001, 250))
    want = [sum(a <= t for a in arr) for t in ts]
    assert [s["views"]["perp"]["rows"] for s in w.seen] == want
    by_t = {s["now"]: s["views"]["perp"] for s in w.seen}
    assert by_t[1250]["bid"] == (10, 1) and by_t[1250]["ask"] == (0, 0) and by_t[1250]["mid"] is None
    assert by_t[1500]["bid"] == (11, 3) and by_t[1500]["ask"] == (12, 2) and by_t[1500]["mid"] == 11.5
    assert by_t[1500]["depth1"] == ((10, 1), (0, 0))
    assert by_t[2750]["ask"] == (0, 0) and by_t[2750]["exch"] == 1400 and by_t[2750]["arr"] == 2600
    sd = eng.signal_data()
    assert sd["data_rows"].tolist() == want and (sd["decision_id"] == np.arange(len(ts))).all()
    assert eng.summary()["signal_rows"] == [4]


def test_signal_rows_arriving_after_the_quoted_venues_last_arrival_are_never_delivered():
    perp = events(depth(1000, B, 10, 1), depth(4000, B, 11, 1), depth(6000, B, 12, 1))
    w = Watcher()
    eng = run(w, [(perp, [1000, 5000, 5001])], metas=[meta("perp")])  # the quoted venue's last arrival: 5000
    assert [s["now"] for s in w.seen] == [1000, 5000]
    assert [s["views"]["perp"]["rows"] for s in w.seen] == [1, 2]
    assert eng.summary()["signal_rows"] == [2]


def test_two_signal_venues_records_in_decision_then_venue_order_and_index_keys():
    one = events(depth(1100, B, 10, 1))
    two = events(depth(900, A, 30, 2), depth(2900, A, 31, 2))

    class ByIndex:
        def __init__(self):
            self.names = []

        def on_wakeup(self, ctx):
            self.names.append(tuple(ctx.venue(k).name for k in range(len(ctx.venue_names))))
            assert ctx.venue(2).best_ask == ctx.venue("two").best_ask
            return None

    s = ByIndex()
    eng = run(s, [(one, [1100]), (two, [1000, 3000])], metas=[meta("one"), meta("two")], name="spot")
    assert s.names[0] == ("spot", "one", "two")
    # decisions at 1000 (quoted rows + two's row 0), 1100 (one's row), 3000 (two's row 1), 5000 (quoted row 2)
    assert eng.signal_data().tolist() == [
        (0, 1, NO, NO, 0), (0, 2, 900, 1000, 1),
        (1, 1, 1100, 1100, 1), (1, 2, 900, 1000, 1),
        (2, 1, 1100, 1100, 1), (2, 2, 2900, 3000, 2),
        (3, 1, 1100, 1100, 1), (3, 2, 2900, 3000, 2)]
    assert eng.summary()["signal_rows"] == [1, 2]


def test_l3_signal_venue_builds_its_book_from_order_events():
    perp = events((1100, R.ADD, B, 20, 3, 1), (1200, R.ADD, A, 22, 2, 2), (1300, R.EXECUTE, A, 22, 1, 2),
                  (1400, R.CANCEL, B, 20, 1, 1), (1400, R.TRADE, B, 22, 1, 0))
    w = Watcher()
    run(w, [(perp, [1100, 1200, 1300, 1400, 1400])], metas=[dict(meta("perp"), mode="l3")])
    last = w.seen[-1]["views"]["perp"]
    assert last["bid"] == (20, 2) and last["ask"] == (22, 1) and last["rows"] == 5


def test_signal_crossed_book_repair_fixes_only_that_venues_book():
    # the ask side was touched last: the stale bid 60 is removed, leaving bid 59 / ask 60
    perp = events(depth(1500, B, 59, 1), depth(1500, B, 60, 1), depth(1500, A, 60, 1))
    w = Watcher()
    eng = run(w, [(perp, [2000] * 3)], metas=[dict(meta("perp"), crossed_policy="repair")])
    assert w.seen[1]["views"]["perp"]["bid"] == (59, 1) and w.seen[1]["views"]["perp"]["ask"] == (60, 1)
    assert eng.summary()["repaired_crossed_levels"] == 0  # the summary counts the quoted exchange side only


# ------------------------------------------------------------------------------------------- no signals
def test_without_signals_results_are_todays_and_a_strategy_ignoring_signals_is_unchanged():
    class Quoter:
        def on_wakeup(self, ctx):
            return Quotes(ctx.best_bid, 1, ctx.best_ask, 1) if ctx.bid_qty and ctx.ask_qty else None

    quoted = events(depth(1000, B, 100, 5), depth(1000, A, 101, 5), trade(2000, B, 101, 7), depth(2000, A, 101, 0),
                    depth(2000, A, 102, 3), trade(4000, A, 100, 9), depth(5000, B, 99, 1))
    base = run(Quoter(), quoted=quoted, timer=700, wake_on_feed=False, compute=150, response=300)
    empty = run(Quoter(), [], quoted=quoted, timer=700, wake_on_feed=False, compute=150, response=300)
    perp = events(depth(900, B, 10, 1), depth(1800, A, 12, 1), depth(4100, B, 11, 2))
    with_sig = run(Quoter(), [(perp, [1000, 2100, 4100])], quoted=quoted, timer=700, wake_on_feed=False,
                   compute=150, response=300, metas=[meta("perp")])
    assert len(base.fills()) > 0
    for other in (empty, with_sig):
        assert other.fills().tobytes() == base.fills().tobytes()
        assert other.orders().tobytes() == base.orders().tobytes()
        assert other.decisions().tobytes() == base.decisions().tobytes()
    assert base.summary() == empty.summary() and "signal_rows" not in base.summary()
    assert len(base.signal_data()) == 0 and base.signal_data().dtype == R.SIGNAL_DATA_DTYPE
    assert {k: v for k, v in with_sig.summary().items() if k != "signal_rows"} == base.summary()


# ------------------------------------------------------------------------------------------- bad input
def test_bad_signal_input_names_the_venue():
    good = events(depth(1000, B, 10, 1))
    with pytest.raises(DataError, match=r"^signal 'perp': row 1: event kind ADD is not valid in L2 mode$"):
        run(Watcher(), [(events(depth(1000, B, 10, 1), (1100, R.ADD, B, 10, 1, 7)), [1000, 1100])],
            metas=[meta("perp")])
    with pytest.raises(DataError, match=r"^signal 'perp': row 0: side must be \+1 or -1, got 0$"):
        run(Watcher(), [(events(depth(1000, 0, 10, 1)), [1000])], metas=[meta("perp")])
    with pytest.raises(DataError, match=r"^signal 'perp': row 1: level 10 would go negative \(1 lots, change -2\)$"):
        run(Watcher(), [(events((1000, R.ADD, B, 10, 1, 1), (1100, R.CANCEL, B, 10, 2, 1)), [1000, 1100])],
            metas=[dict(meta("perp"), mode="l3")])
    for metas, msg in [([meta("quoted")], "name 'quoted' is already taken"),
                       ([meta("")], "needs a non-empty 'name'"),
                       ([meta("p"), meta("p")], "name 'p' is already taken"),
                       ([dict(meta("p"), mode="l4")], "mode must be"),
                       ([dict(meta("p"), crossed_policy="ignore")], "crossed_policy must be"),
                       ([dict(meta("p"), features=np.zeros((1, 4), np.int64))], "features need the C[+][+] engine"),
                       ([dict(meta("p"), tick=1)], r"config\['signals'\]\[0\]: unknown key 'tick'"),
                       ([], "describes 0 signal venues")]:
        sig = [(good, [1000])] * max(len(metas), 1)
        with pytest.raises(ConfigError, match=msg):
            run(Watcher(), sig, metas=metas)
    with pytest.raises(ConfigError, match="signal 'perp': arrival has 2 rows, events 1"):
        run(Watcher(), [(good, [1000, 1000])], metas=[meta("perp")])
    with pytest.raises(ConfigError, match="signal 'perp': arrival goes back in time at row 1"):
        run(Watcher(), [(events(depth(1000, B, 10, 1), depth(1000, B, 11, 1)), [1000, 999])], metas=[meta("perp")])


def test_unknown_venue_key_names_the_known_venues():
    class Bad:
        def on_wakeup(self, ctx):
            ctx.venue("spot")

    with pytest.raises(StrategyError, match=r"ctx\.venue: unknown venue 'spot'; known: 'quoted', 'perp' \(or an index 0\.\.1\)"):
        run(Bad(), [(events(depth(1000, B, 10, 1)), [1000])], metas=[meta("perp")])

    class BadIndex:
        def on_wakeup(self, ctx):
            ctx.venue(2)

    with pytest.raises(StrategyError, match=r"ctx\.venue: unknown venue 2; known"):
        run(BadIndex(), [(events(depth(1000, B, 10, 1)), [1000])], metas=[meta("perp")])


# ------------------------------------------------------------------------------------------- outputs + audit
import json  # noqa: E402

import pandas as pd  # noqa: E402

from mmsim import Instrument, SignalVenue, simulate  # noqa: E402
from mmsim.analysis.audit import LABEL_CAUSAL, audit_dir  # noqa: E402
from mmsim.cli import main  # noqa: E402
from mmsim.data.synthetic import generate_l2  # noqa: E402
from mmsim.engine.chain import signal_chain_hashes  # noqa: E402
from mmsim.engine.results import write_results  # noqa: E402

RUN = dict(feed_latency="lognormal:median=200us,sigma=0.7", entry_latency="100us", cancel_latency="100us",
           response_latency="100us", timer_interval_ns=5_000_000, engine="reference", seed=4)


class Lean:
    """Quotes the quoted top, leaning a tick toward the heavier side of the perp's delayed book."""

    def on_wakeup(self, ctx):
        if not (ctx.bid_qty and ctx.ask_qty):
            return None
        p = ctx.venue("perp")
        lean = (p.bid_qty > p.ask_qty) - (p.bid_qty < p.ask_qty)
        return Quotes(ctx.best_bid - 1 + lean, 1, ctx.best_ask + 1 + lean, 1)


@pytest.fixture(scope="module")
def markets():
    return generate_l2(2_500, seed=31), generate_l2(4_000, seed=32), generate_l2(3_000, seed=33)


@pytest.fixture()
def signal_run(tmp_path, markets):
    q, p, idx = markets
    res = simulate(q, Instrument(0.01, 1), Lean(), instrument_name="spot",
                   signals={"perp": SignalVenue(p, Instrument(0.1, 0.001), feed_latency="50us"),
                            "idx": SignalVenue(idx, feed_latency="1ms")}, **RUN)
    write_results(tmp_path / "run", res)
    return tmp_path / "run", res


def test_signal_outputs_are_written_and_pass_the_audit(signal_run, capsys):
    run_dir, res = signal_run
    sd = res.signal_data
    assert list(sd.columns) == ["decision_id", "venue", "instrument", "data_exch_ts", "data_arrival_ts", "data_rows"]
    assert len(sd) == 2 * len(res.decisions) > 500 and sd["instrument"].astype(str).tolist()[:2] == ["perp", "idx"]
    assert res.summary["signal_venues"] == ["perp", "idx"] and 1_000 < res.summary["signal_rows"][0] < 4_000
    on_disk = pd.read_parquet(run_dir / "signal_data.parquet")
    assert on_disk["chain"].iloc[-1] == json.loads((run_dir / "summary.json").read_text())["signal_data_chain"]
    report = audit_dir(run_dir)
    assert report["ok"] and "failure" not in report
    assert report["signal_labels"] == {"perp": LABEL_CAUSAL, "idx": LABEL_CAUSAL}
    assert main(["audit", str(run_dir)]) == 0
    assert "audit passed" in capsys.readouterr().out


def test_a_run_without_signals_writes_and_audits_as_before(tmp_path, markets):
    res = simulate(markets[0], Instrument(0.01, 1), "symmetric", **RUN)
    written = write_results(tmp_path / "run", res)
    assert "signal_data.parquet" not in written and not (tmp_path / "run" / "signal_data.parquet").exists()
    assert not {"signal_venues", "signal_rows", "signal_data_chain"} & set(res.summary)
    report = audit_dir(tmp_path / "run")
    assert report["ok"] and not {"signal_venues", "signal_labels", "signal_data_chain", "signal_rows_misplaced",
                                 "signal_arrival_after_decision", "failure"} & set(report)


def _rewrite(run_dir, edit, rechain=True):
    s = pd.read_parquet(run_dir / "signal_data.parquet")
    s = edit(s)
    if rechain:  # a forger who also recomputes the chain and the summary's hash
        s["chain"] = signal_chain_hashes(s)
        summary = json.loads((run_dir / "summary.json").read_text())
        summary["signal_data_chain"] = s["chain"].iloc[-1]
        (run_dir / "summary.json").write_text(json.dumps(summary))
    s.to_parquet(run_dir / "signal_data.parquet", index=False)


def test_a_signal_row_claiming_data_that_arrived_after_the_decision_fails_with_one_line(signal_run, capsys):
    run_dir, res = signal_run
    ts = int(res.decisions["ts"].iloc[300])

    def edit(s):
        s.loc[601, "data_arrival_ts"] = ts + 1   # row 601 = decision 300, venue 2 ("idx")
        return s

    _rewrite(run_dir, edit)
    report = audit_dir(run_dir)
    assert not report["ok"] and report["signal_arrival_after_decision"] == 1
    assert report["signal_labels"]["perp"] == LABEL_CAUSAL
    assert report["signal_labels"]["idx"].startswith("NOT causal: signal_arrival_after_decision")
    assert report["failure"] == (f"signal_data.parquet: row 601 (decision 300, signal 'idx'): data_arrival_ts {ts + 1} "
                                 f"is after the decision's ts {ts}: it saw data that had not arrived")
    assert main(["audit", str(run_dir)]) == 1
    out = capsys.readouterr()
    assert "FAILED" in out.err and sum("data that had not arrived" in line for line in out.out.splitlines()) == 1


@pytest.mark.parametrize("tamper, check", [
    ("edit_no_rechain", "signal_chain_first_broken_row"),
    ("drop", "signal_rows_missing"),
    ("swap", "signal_rows_misplaced"),
    ("rename", "signal_name_mismatch"),
    ("more_rows", "signal_rows_beyond_delivered"),
    ("back", "signal_rows_went_back"),
    ("future_exchange", "signal_data_arrived_before_exchange"),
    ("times_without_rows", "signal_times_without_rows"),
])
def test_any_edit_of_the_signal_log_fails_the_audit(signal_run, tamper, check):
    run_dir, res = signal_run
    last = res.summary["signal_rows"][0]

    def edit(s):
        if tamper == "edit_no_rechain":
            s.loc[40, "data_rows"] -= 1
        elif tamper == "drop":
            s = s.drop(index=len(s) - 2).reset_index(drop=True)
        elif tamper == "swap":
            s = s.iloc[[*range(10), 12, 11, 10, *range(13, len(s))]].reset_index(drop=True)
        elif tamper == "rename":
            s["instrument"] = s["instrument"].astype(str)
            s.loc[7, "instrument"] = "perp"
        elif tamper == "more_rows":
            s.loc[len(s) - 2, "data_rows"] = last + 1
        elif tamper == "back":
            s.loc[400, "data_rows"] = s.loc[398, "data_rows"] - 1
        elif tamper == "future_exchange":
            s.loc[500, "data_exch_ts"] = s.loc[500, "data_arrival_ts"] + 1
        else:
            s.loc[0, "data_rows"], s.loc[0, "data_exch_ts"], s.loc[0, "data_arrival_ts"] = 0, 5, 5
        return s

    _rewrite(run_dir, edit, rechain=tamper != "edit_no_rechain")
    report = audit_dir(run_dir)
    assert not report["ok"] and report[check] not in (0, -1), report
    assert report["failure"].startswith("signal_data.parquet: ")


def test_a_missing_signal_log_is_a_one_line_error(signal_run):
    run_dir, _ = signal_run
    (run_dir / "signal_data.parquet").unlink()
    with pytest.raises(ConfigError, match="signal_data.parquet: missing"):
        audit_dir(run_dir)


def test_simulate_bad_signal_input_is_one_error_naming_the_venue(markets):
    q, p, _ = markets
    unsorted = p[:50].copy()
    unsorted["exch_ts"][20] = unsorted["exch_ts"][19] - 1
    crossed = events(depth(q["exch_ts"][0], B, 60, 1), depth(q["exch_ts"][0], A, 60, 1))
    cases = [
        (dict(signals={"perp": SignalVenue(unsorted)}), DataError, r"^signal 'perp': row 20: "),
        (dict(signals={"perp": SignalVenue(crossed)}), DataError, r"^signal 'perp': row 1: crossed book"),
        (dict(signals={"spot": SignalVenue(p)}, instrument_name="spot"), ConfigError, "quoted instrument's"),
        (dict(signals={"": SignalVenue(p)}), ConfigError, "non-empty"),
        (dict(signals={"perp": p}), ConfigError, "must be a mmsim.SignalVenue"),
        (dict(signals=[SignalVenue(p)]), ConfigError, "mapping name -> mmsim.SignalVenue"),
        (dict(signals={"perp": SignalVenue(p, features="small")}), ConfigError, "features need the C"),
        (dict(signals={"perp": SignalVenue(p, crossed_policy="fix")}), ConfigError, "crossed_policy"),
        (dict(signals={"perp": SignalVenue(p, feed_latency="data")}), DataError, r"^signal 'perp': row 0: no recorded recv_ts"),
    ]
    for kw, err, msg in cases:
        for engine in ("reference", "cpp"):
            if engine == "cpp" and "features" in msg:
                continue
            with pytest.raises(err, match=msg):
                simulate(q, Instrument(0.01, 1), "symmetric", **dict(RUN, engine=engine), **kw)
