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


def zero_lat():
    return {k: np.zeros(1, np.int64) for k in ("entry", "cancel", "response", "compute")}


def small_run(sig_rows, sig_arr, cfg_extra=None, strategy=None, signals_cfg=None):
    q = events([(1000, R.DEPTH, 1, 100, 5), (1000, R.DEPTH, -1, 102, 5), (9000, R.DEPTH, 1, 101, 1)])
    cfg = {"signals": signals_cfg or [signal_cfg("perp")], "name": "spot"}
    cfg.update(cfg_extra or {})
    eng = _core.Engine(q, q["exch_ts"] + 100, zero_lat(), cfg, strategy or _core.SymmetricQuoter(2, 1), True,
                       [(sig_rows, sig_arr)] * len(cfg["signals"]))
    return eng.step(1 << 30), eng


def test_a_crossed_signal_book_is_a_data_error_naming_the_venue():
    s = events([(1000, R.DEPTH, 1, 50, 1), (1000, R.DEPTH, -1, 52, 1), (2000, R.DEPTH, 1, 53, 1)])
    with pytest.raises(DataError, match=r"^signal 'perp': row 2: crossed book: best bid 53 >= best ask 52$"):
        small_run(s, s["exch_ts"] + 10)
    # repair: the stale side's crossed level goes, and the run goes on
    done, eng = small_run(s, s["exch_ts"] + 10, signals_cfg=[signal_cfg("perp", crossed_policy="repair")])
    assert done and eng.summary()["signal_rows"] == [3]
    # the same rows arriving after the quoted venue's last arrival are never delivered (no error)
    done, eng = small_run(s, s["exch_ts"] + 100_000)
    assert done and eng.summary()["signal_rows"] == [0]


def test_a_bad_signal_row_is_a_data_error_naming_the_venue():
    s = events([(1000, R.ADD, 1, 50, 1, 7), (2000, R.CANCEL, 1, 50, 3, 7)])
    with pytest.raises(DataError, match=r"^signal 'perp': row 1: "):
        small_run(s, s["exch_ts"] + 10, signals_cfg=[signal_cfg("perp", mode="l3")])


@pytest.mark.parametrize("signals_cfg, message", [
    ([signal_cfg("spot")], r"signal 1 'spot': the name is the quoted instrument's name"),
    ([signal_cfg("perp"), signal_cfg("perp")], r"signal 2 'perp': the name is used twice"),
    ([signal_cfg("")], r"signal 1: the name must not be empty"),
    ([signal_cfg("perp", mode="l4")], r"signal 'perp': mode must be 'l2' or 'l3', not 'l4'"),
    ([signal_cfg("perp", crossed_policy="ignore")], r"signal 'perp': crossed_policy must be 'error' or 'repair'"),
    ([signal_cfg("perp", tick_size=0.0)], r"signal 1 'perp': tick_size and lot_size must be > 0"),
    ([signal_cfg("perp", features=np.array([[999, 1, 0, 0]]))], r"^signal 1 'perp': .*"),
    ([{"name": "perp", "tick": 1}], r"config\['signals'\]\[0\]: unknown key 'tick'"),
    ([{"mode": "l2"}], r"config\['signals'\]\[0\] needs a 'name'"),
])
def test_bad_signal_config_is_a_config_error_naming_the_venue(signals_cfg, message):
    s = events([(1000, R.DEPTH, 1, 50, 1)])
    with pytest.raises(ConfigError, match=message):
        small_run(s, s["exch_ts"] + 10, signals_cfg=signals_cfg)


def test_signal_streams_must_match_the_config_and_arrive_in_order():
    q = events([(1000, R.DEPTH, 1, 100, 5)])
    s = events([(1000, R.DEPTH, 1, 50, 1), (1001, R.DEPTH, 1, 51, 1)])
    with pytest.raises(ConfigError, match="config has 1 signal venue\\(s\\) but 0 signal stream\\(s\\)"):
        _core.Engine(q, q["exch_ts"], zero_lat(), {"signals": [signal_cfg()]}, _core.SymmetricQuoter(2, 1))
    with pytest.raises(ConfigError, match="config has 0 signal venue\\(s\\) but 1 signal stream\\(s\\)"):
        _core.Engine(q, q["exch_ts"], zero_lat(), {}, _core.SymmetricQuoter(2, 1), True, [(s, s["exch_ts"])])
    with pytest.raises(ConfigError, match="signal 1 'perp': feed arrival times go back in time at row 1"):
        _core.Engine(q, q["exch_ts"], zero_lat(), {"signals": [signal_cfg()]}, _core.SymmetricQuoter(2, 1), True,
                     [(s, np.array([10, 5], np.int64))])
    with pytest.raises(ConfigError, match=r"signals\[0\]: arrival must be an int64 array with one entry per event"):
        _core.Engine(q, q["exch_ts"], zero_lat(), {"signals": [signal_cfg()]}, _core.SymmetricQuoter(2, 1), True,
                     [(s, np.array([10], np.int64))])
    with pytest.raises(ConfigError, match=r"signals\[0\] must be an \(events, arrival\) pair"):
        _core.Engine(q, q["exch_ts"], zero_lat(), {"signals": [signal_cfg()]}, _core.SymmetricQuoter(2, 1), True,
                     [(s,)])


def test_unknown_venue_key_fails_the_run_naming_the_known_venues():
    s = events([(1000, R.DEPTH, 1, 50, 1)])

    class Asks:
        def __init__(self, key):
            self.key = key

        def on_wakeup(self, ctx):
            ctx.venue(self.key)

    for key in ("pepr", 2, -1):
        with pytest.raises(StrategyError, match=r"unknown venue .*; known: 'spot', 'perp' \(or an index 0\.\.1\)"):
            small_run(s, s["exch_ts"] + 10, strategy=Asks(key))


def run_chunked(ev, arr, strategy, sigs, cfg, chunk):
    c = dict(cfg, signals=[x[2] for x in sigs])
    eng = _core.Engine(ev[:chunk], arr[:chunk], latencies(), c, strategy, len(ev) <= chunk,
                       [(x[0], x[1]) for x in sigs])
    at = chunk
    while not eng.step(chunk):
        if eng.needs_data():
            eng.append(ev[at:at + chunk], arr[at:at + chunk], at + chunk >= len(ev))
            at += chunk
    return eng


def test_streamed_quoted_rows_with_signal_venues_equal_one_shot(quoted, perp):
    """Signal venues are held whole while the quoted venue streams in chunks: the same run either way."""
    sigs = [(*perp, signal_cfg("perp", features=spec_matrix(["ofi:h=10ms"])))]
    cfg = config(wake_on_feed=True)
    one = run_chunked(*quoted, _core.SymmetricQuoter(2, 1), sigs, cfg, 1 << 30)
    many = run_chunked(*quoted, _core.SymmetricQuoter(2, 1), sigs, cfg, 997)
    assert len(one.decisions()) > 1000
    assert outputs(one) == outputs(many)
    assert one.signal_data().tobytes() == many.signal_data().tobytes()
    assert one.summary() == many.summary()


@cfunc_strategy(params={"size": 1.0}, name="lead_follow")
def lead_follow(ci, cf, p, features, out):
    """Quotes the quoted venue one tick wider on the side the first signal venue's features and book lean."""
    out[0] = 1
    if ci[CI_BID_QTY] == 0 or ci[CI_ASK_QTY] == 0 or ci[CI_N_VENUES] < 2:
        out[1] = 0
        out[2] = 0
        out[3] = 0
        out[4] = 0
        return 0
    b = venue_block(1)
    lean = 0
    if ci[b + CV_DATA_ROWS] > 0 and ci[b + CV_BEST_BID] > 0 and ci[b + CV_BEST_ASK] > 0:
        f0 = venue_features_start(ci, 1)
        if ci[b + CV_N_FEATURES] > 0 and features[f0] == features[f0]:  # not NaN
            lean = 1 if features[f0] > 0 else -1
    out[1] = ci[CI_BEST_BID] - 1 - (1 if lean < 0 else 0)
    out[2] = np.int64(p[0])
    out[3] = ci[CI_BEST_ASK] + 1 + (1 if lean > 0 else 0)
    out[4] = np.int64(p[0])
    return 0


class LeadFollow:
    """The same rule as ``lead_follow`` through ``ctx.venue``."""

    def on_wakeup(self, ctx):
        if ctx.bid_qty == 0 or ctx.ask_qty == 0 or len(ctx.venue_names) < 2:
            return Quotes(0, 0, 0, 0)
        v = ctx.venue(1)
        lean = 0
        if v.data_rows > 0 and v.best_bid > 0 and v.best_ask > 0 and len(v.features) and v.features[0] == v.features[0]:
            lean = 1 if v.features[0] > 0 else -1
        return Quotes(ctx.best_bid - 1 - (lean < 0), 1, ctx.best_ask + 1 + (lean > 0), 1)


def test_numba_cfunc_reads_a_signal_venues_block_as_a_python_strategy_reads_ctx_venue(quoted, perp):
    other = generate_l2(10_000, seed=31)
    sigs = [(*perp, signal_cfg("perp", features=spec_matrix(["ofi:h=20ms", "mid"]))),
            (other, arrivals(other, 9), signal_cfg("other", features=spec_matrix(["spread"])))]
    cfg = dict(features=spec_matrix(["queue_imbalance", "spread"]))
    native = run(quoted, lead_follow.native(), sigs, **cfg)
    through_python = run(quoted, lead_follow, sigs, **cfg)  # NumbaStrategy.on_wakeup: the layout built in Python
    plain = run(quoted, LeadFollow(), sigs, **cfg)
    ignored = run(quoted, lead_follow.native(), **cfg)      # no signal venue: the rule pulls
    assert len(native.fills()) > 20
    assert outputs(native) == outputs(through_python) == outputs(plain)
    assert len(ignored.fills()) == 0
    # the lean is read from perp's features: without them the same rule quotes differently
    sigs[0] = (*perp, signal_cfg("perp"))
    no_lean = run(quoted, lead_follow.native(), sigs, **cfg)
    assert outputs(no_lean) == outputs(run(quoted, LeadFollow(), sigs, **cfg))
    assert no_lean.decisions().tobytes() != native.decisions().tobytes()


def test_context_layout_signal_blocks_follow_ci_size():
    L = _core.context_layout()
    assert L["CI_N_VENUES"] == L["CI_DEPTH0"] + 4 * L["CI_LEVELS"] and L["CI_SIZE"] == L["CI_N_VENUES"] + 1
    assert L["CI_VENUE_BLOCK"] == 10  # stage 2 added CV_POSITION and CV_QUOTED (docs/event-loop.md "Quoted venues")
    assert [L[k] for k in ("CV_BEST_BID", "CV_BID_QTY", "CV_BEST_ASK", "CV_ASK_QTY", "CV_DATA_EXCH_TS",
                           "CV_DATA_ARRIVAL_TS", "CV_DATA_ROWS", "CV_N_FEATURES", "CV_POSITION",
                           "CV_QUOTED")] == list(range(10))
    assert venue_block(1) == L["CI_SIZE"] and venue_block(3) == L["CI_SIZE"] + 20
