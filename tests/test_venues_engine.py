"""Read-only signal venues in the C++ engine (issue 12 stage 1), through direct ``_core.Engine(..., signals=...)``
calls: signal rows reach only the strategy side, the same-instant merge order, message atomicity per venue,
the signal_data log, the three strategy speeds' views of a venue, errors naming the venue."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import events
from mmsim import ConfigError, DataError, StrategyError, _core, records as R
from mmsim.data.messages import message_ends, message_starts
from mmsim.data.synthetic import generate_l2
from mmsim.engine.numba_strategy import (CI_BEST_ASK, CI_BEST_BID, CI_BID_QTY, CI_ASK_QTY, CI_N_FEATURES,
                                         CI_N_VENUES, CV_BEST_ASK, CV_BEST_BID, CV_DATA_ROWS, CV_N_FEATURES,
                                         cfunc_strategy, symmetric_numba, venue_block, venue_features_start)
from mmsim.engine.strategy import Quotes, SymmetricQuoter
from mmsim.signals.batch import spec_matrix

TIMER = 20_000_000


def arrivals(ev, seed, median_ns=1_000_000):
    """One random feed latency per message (all its rows arrive together), never reordered."""
    starts = message_starts(ev)
    msg = np.cumsum(starts) - 1
    lat = np.random.default_rng(seed).lognormal(np.log(median_ns), 0.7, int(starts.sum())).astype(np.int64)
    return np.maximum.accumulate(ev["exch_ts"] + lat[msg])


def latencies(seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.integers(100_000, 2_000_000, 64).astype(np.int64) for k in ("entry", "cancel", "response")} | {
        "compute": np.full(1, 20_000, np.int64)}


def config(**kw):
    c = {"tick_size": 0.01, "lot_size": 1.0, "timer_interval_ns": TIMER, "wake_on_feed": False, "name": "spot"}
    c.update(kw)
    return c


def signal_cfg(name="perp", **kw):
    c = {"name": name, "mode": "l2", "tick_size": 0.5, "lot_size": 0.001, "crossed_policy": "error"}
    c.update(kw)
    return c


@pytest.fixture(scope="module")
def quoted():
    ev = generate_l2(30_000, seed=11)
    return ev, arrivals(ev, 1)


@pytest.fixture(scope="module")
def perp():
    ev = generate_l2(40_000, seed=12)
    return ev, arrivals(ev, 2, median_ns=300_000)


def run(quoted, strategy, signals=(), cfg=None, **kw):
    ev, arr = quoted
    c = config(**kw) if cfg is None else cfg
    if signals:
        c["signals"] = [s[2] for s in signals]
    eng = _core.Engine(ev, arr, latencies(), c, strategy, True, [(s[0], s[1]) for s in signals] or None)
    assert eng.step(1 << 40)
    return eng


def outputs(eng):
    return eng.fills().tobytes(), eng.orders().tobytes(), eng.decisions().tobytes()


def test_a_signal_venue_the_strategy_ignores_changes_nothing(quoted, perp):
    """Fills, orders and decisions byte-identical with and without a signal venue (timer wakeups only)."""
    alone = run(quoted, _core.SymmetricQuoter(2, 1))
    with_perp = run(quoted, _core.SymmetricQuoter(2, 1), [(*perp, signal_cfg())])
    assert len(alone.fills()) > 20
    assert outputs(alone) == outputs(with_perp)
    assert alone.signal_data().dtype == R.SIGNAL_DATA_DTYPE and len(alone.signal_data()) == 0
    assert "signal_rows" not in alone.summary()
    s = with_perp.summary()
    assert {k: v for k, v in s.items() if k != "signal_rows"} == alone.summary()
    sd = with_perp.signal_data()
    assert len(sd) == len(with_perp.decisions())
    assert (sd["venue"] == 1).all() and (sd["decision_id"] == np.arange(len(sd))).all()
    # the run ends at the quoted venue's last arrival: perp rows after it are never delivered
    t_end = quoted[1][-1]
    assert s["signal_rows"] == [int(np.searchsorted(perp[1], t_end, side="right"))]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), k=st.integers(1, 2), timer_ms=st.sampled_from([1, 7, 50]))
def test_property_ignored_signal_venues_leave_the_run_byte_identical(seed, k, timer_ms):
    """Signal rows touch no exchange side: with any 1-2 random signal streams (random feed latencies) a strategy
    that ignores them gets byte-identical fills, orders and decisions. (Feed wakeups are off: with
    wake_on_feed a signal message requests a wakeup, which is a decision of its own.)"""
    ev = generate_l2(4_000, seed=seed)
    q = (ev, arrivals(ev, seed + 1))
    sigs = []
    for j in range(k):
        sev = generate_l2(3_000 + 1_000 * j, seed=seed + 7 + j)
        sigs.append((sev, arrivals(sev, seed + 3 + j, median_ns=200_000 * (j + 1)), signal_cfg(f"s{j}")))
    for strat in (lambda: _core.SymmetricQuoter(2, 1), lambda: SymmetricQuoter(1.0, 1),
                  lambda: symmetric_numba.native()):
        alone = run(q, strat(), timer_interval_ns=timer_ms * 1_000_000)
        with_sigs = run(q, strat(), sigs, timer_interval_ns=timer_ms * 1_000_000)
        assert outputs(alone) == outputs(with_sigs)
        assert len(with_sigs.signal_data()) == k * len(with_sigs.decisions())


class Recorder:
    """A Python strategy that reads every venue and quotes the symmetric rule on the quoted one."""

    def __init__(self):
        self.seen = []

    def on_wakeup(self, ctx):
        views = []
        for k, name in enumerate(ctx.venue_names):
            v = ctx.venue(name)
            assert v.name == name and ctx.venue(k).index == k
            views.append((v.best_bid, v.bid_qty, v.best_ask, v.ask_qty, v.data_exch_ts, v.data_arrival_ts,
                          v.data_rows, v.mid, tuple(v.features), v.tick_size, v.lot_size,
                          tuple(v.depth(s, lvl) for s in (1, -1) for lvl in range(3))))
        own = (ctx.best_bid, ctx.bid_qty, ctx.best_ask, ctx.ask_qty, ctx.data_exch_ts, ctx.data_arrival_ts,
               ctx.data_rows)
        self.seen.append((ctx.now, own, tuple(ctx.depth(s, lvl) for s in (1, -1) for lvl in range(3)), views))
        if ctx.bid_qty == 0 or ctx.ask_qty == 0:
            return Quotes(0, 0, 0, 0)
        return Quotes(ctx.best_bid - 1, 1, ctx.best_ask + 1, 1)


def replay_l2(ev, n):
    """The top of an L2 book after rows [0, n) (DEPTH / CLEAR rows; a TRADE changes no level)."""
    book = {1: {}, -1: {}}
    for r in ev[:n]:
        if r["kind"] == R.DEPTH:
            lv = book[int(r["side"])]
            if r["qty"]:
                lv[int(r["price"])] = int(r["qty"])
            else:
                lv.pop(int(r["price"]), None)
        elif r["kind"] == R.CLEAR:
            for s in (1, -1):
                if r["side"] in (0, s):
                    book[s].clear()
    bid = max(book[1]) if book[1] else 0
    ask = min(book[-1]) if book[-1] else 0
    return bid, book[1].get(bid, 0), ask, book[-1].get(ask, 0)


def test_python_strategy_sees_each_venue_and_signal_data_matches():
    qev, pev, aev = generate_l2(4_000, seed=20), generate_l2(5_000, seed=21), generate_l2(2_000, seed=22)
    sigs = [(pev, arrivals(pev, 4, median_ns=300_000), signal_cfg("perp", features=spec_matrix(["mid", "spread"]))),
            (aev, arrivals(aev, 5, median_ns=3_000_000), signal_cfg("alt", tick_size=0.25, lot_size=2.0))]
    rec = Recorder()
    eng = run((qev, arrivals(qev, 3)), rec, sigs, wake_on_feed=True, features=spec_matrix(["mid"]))
    dec, sd = eng.decisions(), eng.signal_data()
    assert len(rec.seen) == len(dec) > 1000
    assert len(sd) == 2 * len(dec)
    assert (sd["decision_id"] == np.repeat(dec["decision_id"], 2)).all()
    assert (sd["venue"] == np.tile([1, 2], len(dec))).all()
    ends = [np.ones(1, bool)] + [np.r_[True, message_ends(s[0])] for s in sigs]  # index = rows delivered
    checked = 0
    for j, (now, own, own_depth, views) in enumerate(rec.seen):
        assert dec["ts"][j] == now
        assert views[0][:7] == own and views[0][11] == own_depth  # venue 0 is the quoted venue
        assert views[0][9:11] == (0.01, 1.0) and views[1][9:11] == (0.5, 0.001) and views[2][9:11] == (0.25, 2.0)
        assert len(views[0][8]) == 1 and len(views[1][8]) == 2 and len(views[2][8]) == 0
        for k in (1, 2):
            row = sd[2 * j + k - 1]
            v = views[k]
            # what signal_data says the decision saw is what the strategy read
            assert (v[4], v[5], v[6]) == (row["data_exch_ts"], row["data_arrival_ts"], row["data_rows"])
            n = int(row["data_rows"])
            sev, sarr = sigs[k - 1][0], sigs[k - 1][1]
            # causal: exactly the rows arrived by now, and whole messages only
            assert n == np.searchsorted(sarr, now, side="right")
            assert ends[k][n]
            if n:
                assert (row["data_exch_ts"], row["data_arrival_ts"]) == (sev["exch_ts"][n - 1], sarr[n - 1])
            else:
                assert row["data_exch_ts"] == R.NO_TS == row["data_arrival_ts"]
            if j % 13 == 0:  # the delayed book is the replay of exactly those rows
                assert v[:4] == replay_l2(sev, n)
                assert v[7] == (None if 0 in (v[1], v[3]) else (v[0] + v[2]) / 2)
                checked += 1
    assert checked > 20
    assert eng.summary()["signal_rows"] == [int(sd["data_rows"][-2]), int(sd["data_rows"][-1])]


def test_same_instant_quoted_and_signal_rows_are_seen_by_one_wakeup():
    """A quoted row, a signal row of each venue and a timer tick at one arrival: one wakeup sees them all."""
    q = events([(1000, R.DEPTH, 1, 100, 5), (1000, R.DEPTH, -1, 102, 5),
                (2000, R.DEPTH, 1, 101, 3), (3000, R.DEPTH, 1, 99, 1)])
    q_arr = np.array([1500, 1500, 5000, 9000], np.int64)
    s1 = events([(900, R.DEPTH, 1, 50, 1), (900, R.DEPTH, -1, 52, 1), (4000, R.DEPTH, 1, 51, 2)])
    s1_arr = np.array([1200, 1200, 5000], np.int64)
    s2 = events([(4500, R.DEPTH, -1, 70, 4), (4500, R.DEPTH, 1, 60, 4)])
    s2_arr = np.array([5000, 5000], np.int64)
    rec = Recorder()
    cfg = {"wake_on_feed": True, "timer_interval_ns": 3500, "name": "q",
           "signals": [signal_cfg("a"), signal_cfg("b")]}
    eng = _core.Engine(q, q_arr, {k: np.full(1, 10, np.int64) for k in ("entry", "cancel", "response", "compute")},
                       cfg, rec, True, [(s1, s1_arr), (s2, s2_arr)])
    assert eng.step(100)
    dec = eng.decisions()
    at = np.flatnonzero(dec["ts"] == 5000)
    assert len(at) == 1
    j = int(at[0])
    assert dec["reason"][j] == R.WAKE_FEED | R.WAKE_TIMER
    now, own, _, views = rec.seen[j]
    assert own[6] == 3 and views[1][6] == 3 and views[2][6] == 2
    assert views[1][:4] == (51, 2, 52, 1) and views[2][:4] == (60, 4, 70, 4)
    assert (own[0], own[1]) == (101, 3)
    # the first wakeup (arrival 1200: signal 'a' only) saw no quoted row yet
    assert rec.seen[0][0] == 1200 and rec.seen[0][1][6] == 0 and rec.seen[0][3][1][6] == 2
    assert eng.summary()["signal_rows"] == [3, 2]


def test_signal_message_is_atomic_for_every_decision():
    """A many-row signal message (one arrival, FLAG_MSG_END on its last row): no decision sees part of it,
    even with a decision at every row's arrival and zero latencies."""
    q = events([(t, R.DEPTH, 1, 100, 1 + t % 3) for t in range(0, 10_000, 500)] +
               [(10_000, R.DEPTH, -1, 105, 1)])
    q_arr = q["exch_ts"] + 1
    rows = [(1000, R.CLEAR, 0, 0, 0)] + [(1000, R.DEPTH, 1, 200 - i, 1 + i) for i in range(8)] + \
           [(1000, R.DEPTH, -1, 201 + i, 1) for i in range(8)] + [(3000, R.TRADE, 1, 201, 1),
                                                                  (3000, R.DEPTH, -1, 201, 0)]
    s = events(rows)
    s["flags"][16] = R.FLAG_MSG_END
    s["flags"][18] = R.FLAG_MSG_END
    s_arr = np.array([1501] * 17 + [3001] * 2, np.int64)
    rec = Recorder()
    cfg = {"wake_on_feed": True, "timer_interval_ns": 1, "signals": [signal_cfg("perp")]}
    eng = _core.Engine(q, q_arr, {k: np.zeros(1, np.int64) for k in ("entry", "cancel", "response", "compute")},
                       cfg, rec, True, [(s, s_arr)])
    assert eng.step(1 << 30)
    seen_rows = {int(r) for r in eng.signal_data()["data_rows"]}
    assert seen_rows == {0, 17, 19}
    for now, _, _, views in rec.seen:
        if views[1][6] == 17:
            assert views[1][:4] == (200, 1, 201, 1) and views[1][11][:3] == ((200, 1), (199, 2), (198, 3))
        if views[1][6] == 19:
            assert views[1][:4] == (200, 1, 202, 1)
