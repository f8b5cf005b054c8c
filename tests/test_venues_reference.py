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
