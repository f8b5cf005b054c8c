"""Quoted venues k >= 1 in the C++ engine (issue 12 stage 2, docs/event-loop.md "Quoted venues"), through direct
``_core.Engine(..., signals=...)`` calls: the mirror property (a venue quoted with venue 0's own rows and
latencies fills exactly as venue 0 does), a quoted venue never quoted equals it read-only, per-venue order
sessions (latency tables, counters, no-overtaking), dict targets / submit(venue=) / open_orders(venue=), a numba
cfunc quoting two venues, the logs (venue byte, quotes(), summary "quoted"), causality, and one clear error per
bad input. The differential tests against the reference engine live beside the reference."""
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import events
from mmsim import ConfigError, DataError, StrategyError, _core, records as R
from mmsim.data.synthetic import generate_l2
from mmsim.engine.numba_strategy import (CI_ASK_QTY, CI_BEST_ASK, CI_BEST_BID, CI_BID_QTY, CI_POSITION, CO_BLOCK,
                                         CV_ASK_QTY, CV_BEST_ASK, CV_BEST_BID, CV_BID_QTY, CV_POSITION, CV_QUOTED,
                                         cfunc_strategy, venue_block, venue_out)
from mmsim.engine.strategy import Quotes
from test_differential import l2_streams, l3_streams, to_events

FILL_SAME = [n for n in R.FILL_DTYPE.names if n not in ("fill_id", "order_id", "venue", "_pad")]
ORDER_SAME = [n for n in R.ORDER_DTYPE.names if n not in ("order_id", "venue", "_pad")]
SUMMARY_VENUE_KEYS = ("n_events", "n_fills", "volume", "position", "cash_ticklots", "fees", "final_mid", "pnl",
                      "n_orders", "repaired_crossed_levels")


def lat(entry=(0,), cancel=(0,), response=(0,), compute=(0,)):
    return {k: np.asarray(v, np.int64) for k, v in
            (("entry", entry), ("cancel", cancel), ("response", response), ("compute", compute))}


def venue(name="perp", **kw):
    c = {"name": name, "mode": "l2", "tick_size": 0.01, "lot_size": 1.0, "crossed_policy": "error", "quoted": True}
    c.update(kw)
    return c


def engine(ev, arr, latencies, strategy, sigs, **cfg):
    """sigs: [(events, arrival, venue config)]."""
    c = {"tick_size": 0.01, "lot_size": 1.0, "name": "spot", "signals": [s[2] for s in sigs]}
    c.update(cfg)
    return _core.Engine(ev, arr, latencies, c, strategy, True, [(s[0], s[1]) for s in sigs] or None)


def run(*a, **kw):
    eng = engine(*a, **kw)
    assert eng.step(1 << 40)
    return eng


def outputs(eng):
    return (eng.fills().tobytes(), eng.orders().tobytes(), eng.decisions().tobytes(), eng.signal_data().tobytes(),
            eng.quotes().tobytes())


def sym(ctx_or_view, h=1, size=1):
    v = ctx_or_view
    if not (v.bid_qty and v.ask_qty):
        return Quotes(0, 0, 0, 0)
    mid2 = v.best_bid + v.best_ask
    return Quotes((mid2 - 2 * h) // 2, size, -((-(mid2 + 2 * h)) // 2), size)


# ---------------------------------------------------------------------------------------------- the mirror
class MirrorQuoter:
    """Random quoting and low-level calls (a pure function of what venue 0 shows), done identically on venue 0
    and on venue 1: the same targets through a dict, the same submits, and cancels/modifies of the matching
    orders (the n-th open order of one venue mirrors the n-th of the other)."""

    def __init__(self, seed):
        self.seed = seed

    def on_wakeup(self, ctx):
        o0, o1 = ctx.open_orders(), ctx.open_orders(venue="perp")
        v1 = ctx.venue(1)
        assert len(o0) == len(o1) and v1.position == ctx.position and v1.cash == ctx.cash and v1.quoted
        assert [o[1:] for o in o0] == [o[1:] for o in o1]  # side, price, qty, leaves
        rnd = random.Random(hash((self.seed, ctx.now, ctx.reason, ctx.best_bid, ctx.bid_qty, ctx.best_ask,
                                  ctx.ask_qty, ctx.position, ctx.data_rows, len(o0))))
        mid = (ctx.best_bid + ctx.best_ask) // 2 if ctx.bid_qty and ctx.ask_qty else 100
        u = rnd.random()
        if u < 0.15 and o0:
            j = rnd.randrange(len(o0))
            ctx.cancel(o0[j][0])
            ctx.cancel(o1[j][0])
        elif u < 0.25 and o0:
            j, q = rnd.randrange(len(o0)), rnd.randint(1, 4)
            ctx.modify(o0[j][0], q)
            ctx.modify(o1[j][0], q)
        elif u < 0.35:
            side, px, q = rnd.choice((1, -1)), mid + rnd.randint(-3, 3), rnd.randint(1, 3)
            tif = rnd.choice(("gtc", "post_only", "ioc"))
            ctx.submit(side, px, q, tif)
            ctx.submit(side, px, q, tif, venue=1)
        if rnd.random() < 0.2:
            return None if rnd.random() < 0.5 else {"spot": None, 1: None}
        bid = mid - rnd.randint(-2, 3)
        ask = max(bid + 1, mid + rnd.randint(-2, 3))
        q = Quotes(bid, rnd.choice((0, 1, 2, 3)), ask, rnd.choice((0, 1, 2, 3)))
        return {0: q, "perp": q}


def assert_mirror(eng):
    f, o = eng.fills(), eng.orders()
    f0, f1 = f[f["venue"] == 0], f[f["venue"] == 1]
    o0, o1 = o[o["venue"] == 0], o[o["venue"] == 1]
    assert len(f0) == len(f1) and len(o0) == len(o1) and len(f0) + len(f1) == len(f)
    for n in FILL_SAME:
        assert (f0[n] == f1[n]).all(), n
    for n in ORDER_SAME:
        assert (o0[n] == o1[n]).all(), n
    # ids are one counter across venues, in creation order
    assert (f["fill_id"] == np.arange(len(f))).all() and (o["order_id"] == np.arange(1, len(o) + 1)).all()
    d, q = eng.decisions(), eng.quotes()
    assert len(q) == len(d) and (q["decision_id"] == d["decision_id"]).all() and (q["venue"] == 1).all()
    for n in ("position", "bid_price", "bid_qty", "ask_price", "ask_qty", "n_new", "n_cancel", "n_modify"):
        assert (q[n] == d[n]).all(), n
    s = eng.summary()
    assert [r["venue"] for r in s["quoted"]] == [1] and s["quoted"][0]["name"] == "perp"
    for k in SUMMARY_VENUE_KEYS:
        assert s["quoted"][0][k] == s[k] or (s[k] != s[k] and s["quoted"][0][k] != s["quoted"][0][k]), k


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.one_of(l2_streams(), l3_streams()), seed=st.integers(0, 2**16),
       queue=st.sampled_from(("risk_averse", "power", "log")), wake_feed=st.booleans(),
       timer=st.sampled_from((0, 3_000)), explicit=st.booleans(), fees=st.booleans())
def test_property_a_venue_quoted_with_venue_0s_rows_mirrors_venue_0(rows, seed, queue, wake_feed, timer, explicit,
                                                                     fees):
    """Venue 1 quoted with venue 0's own rows, arrivals and latency tables, and a strategy doing the same on both:
    venue 1's fills and orders equal venue 0's field for field except ids and venue; its quote rows equal the
    decisions' targets and counts; its summary equals the top level's. L2 and L3, random latencies (zero
    included), queue models, fees, wakeups."""
    ev = to_events(rows)
    l3 = any(r[1] in (R.ADD, R.CANCEL, R.DELETE, R.EXECUTE) for r in rows)
    rng = np.random.default_rng(seed)
    arr = np.maximum.accumulate(ev["exch_ts"] + rng.integers(0, 4, len(ev)) * 1_000)
    tables = lat(*(rng.integers(0, 5, rng.integers(1, 6)) * 1_000 for _ in range(3)),
                 compute=rng.integers(0, 3, 4) * 500)
    cfg = dict(mode="l3" if l3 else "l2", queue_model=queue, crossed_policy="repair", wake_on_feed=wake_feed,
               timer_interval_ns=timer, maker_fee_bps=-1.0 if fees else 0.0, taker_fee_bps=3.0 if fees else 0.0)
    v1 = venue(mode=cfg["mode"], crossed_policy="repair")
    if explicit:  # the same settings given explicitly instead of inherited
        v1.update(queue_model=queue, maker_fee_bps=cfg["maker_fee_bps"], taker_fee_bps=cfg["taker_fee_bps"],
                  post_only=False, latencies={k: tables[k] for k in ("entry", "cancel", "response")})
    eng = engine(ev, arr, tables, MirrorQuoter(seed), [(ev, arr, v1)], **cfg)
    try:
        eng.step(1 << 40)
    except DataError as e:  # a bad random stream fails on venue 0 first
        assert not str(e).startswith("venue 'perp'"), e
        return
    except StrategyError as e:  # zero latencies: a strategy acting on its own fills forever (MirrorQuoter's
        if "without time advancing" not in str(e):  # own asserts fail the run with another message)
            raise
        return
    assert_mirror(eng)


def test_mirror_on_generated_data_fills_a_lot():
    """The mirror on a longer generated stream with random order latencies: many fills on each venue."""
    ev = generate_l2(20_000, seed=5)
    arr = ev["exch_ts"] + 1_000_000
    rng = np.random.default_rng(3)
    tables = lat(*(rng.integers(50_000, 2_000_000, 17) for _ in range(3)), compute=(20_000,))
    eng = run(ev, arr, tables, MirrorQuoter(1), [(ev, arr, venue())], timer_interval_ns=5_000_000,
              wake_on_feed=False)
    assert (eng.fills()["venue"] == 1).sum() > 50
    assert_mirror(eng)


# ------------------------------------------------------------------------------- never quoted == read-only
class OnlyVenue0:
    def on_wakeup(self, ctx):
        return sym(ctx)


class OnlyVenue0Dict:
    def on_wakeup(self, ctx):
        return {"spot": sym(ctx), 1: None}


@cfunc_strategy(params={}, name="only_venue_0")
def only_venue_0(ci, cf, p, out):
    out[0] = 1
    if ci[CI_BID_QTY] == 0 or ci[CI_ASK_QTY] == 0:
        out[1] = out[2] = out[3] = out[4] = 0
        return 0
    mid2 = ci[CI_BEST_BID] + ci[CI_BEST_ASK]
    out[1], out[2], out[3], out[4] = (mid2 - 2) // 2, 1, -((-(mid2 + 2)) // 2), 1
    return 0


@pytest.mark.parametrize("wake_feed", [False, True])
def test_a_quoted_venue_never_quoted_equals_it_read_only(wake_feed):
    ev = generate_l2(15_000, seed=21)
    arr = ev["exch_ts"] + 700_000
    pev = generate_l2(20_000, seed=22)
    parr = pev["exch_ts"] + 300_000
    tables = lat((400_000, 900_000), (300_000,), (500_000, 100_000), (20_000,))
    for make in (lambda: _core.SymmetricQuoter(2, 1), OnlyVenue0, OnlyVenue0Dict, lambda: only_venue_0.native()):
        ro = run(ev, arr, tables, make(), [(pev, parr, venue(quoted=False))], timer_interval_ns=10_000_000,
                 wake_on_feed=wake_feed)
        qd = run(ev, arr, tables, make(), [(pev, parr, venue(maker_fee_bps=-2.0, queue_model="log",
                                                             latencies={"entry": np.array([1], np.int64)}))],
                 timer_interval_ns=10_000_000, wake_on_feed=wake_feed)
        assert len(ro.fills()) > 20
        assert outputs(ro)[:4] == outputs(qd)[:4]
        assert len(ro.quotes()) == 0 and ro.quotes().dtype == R.QUOTE_DTYPE and "quoted" not in ro.summary()
        q = qd.quotes()
        assert len(q) == len(qd.decisions()) and (q["venue"] == 1).all()
        assert (q["bid_qty"] == -1).all() and (q["ask_qty"] == -1).all() and (q["position"] == 0).all()
        assert (q[["n_new", "n_cancel", "n_modify"]].tolist() == [(0, 0, 0)] * len(q))
        s = qd.summary()
        assert {k: v for k, v in s.items() if k != "quoted"} == ro.summary()
        (v1,) = s["quoted"]
        assert v1["n_fills"] == v1["n_orders"] == v1["volume"] == v1["position"] == 0 and v1["pnl"] == 0.0
        # its exchange side took in its rows up to venue 0's last arrival
        assert v1["n_events"] == int(np.searchsorted(pev["exch_ts"], arr[-1], side="right"))
        assert v1["final_mid"] > 0


# ---------------------------------------------------------------------------- per-venue order sessions
def two_books(t0=1_000):
    """A book 100/102 on both venues: a bid at 102 takes the ask as taker the moment it arrives."""
    return events([(t0, R.DEPTH, 1, 100, 5), (t0, R.DEPTH, -1, 102, 50)])


class Script:
    """Submits the scripted orders at its first wakeups: plan[k] = [(venue, side, price, qty), ...]."""

    def __init__(self, plan):
        self.plan, self.k, self.seen = plan, 0, []

    def on_wakeup(self, ctx):
        self.seen.append((ctx.now, [(ctx.venue(v).position, ctx.venue(v).cash, ctx.venue(v).quoted,
                                     ctx.open_orders(venue=v)) for v in range(ctx.n_venues)]))
        if self.k < len(self.plan):
            for v, side, px, q in self.plan[self.k]:
                ctx.submit(side, px, q, venue=v)
        self.k += 1


def test_each_quoted_venue_has_its_own_latency_tables_counters_and_session():
    ev = two_books()
    arr = ev["exch_ts"] + 10
    # wakeups at 1_010 (feed), then a timer every 1_000 ns
    plan = [[(0, 1, 102, 1), (0, 1, 102, 1), (1, 1, 102, 1)], [(1, 1, 102, 1)], [(1, 1, 102, 1)]]
    tables = lat(entry=(500,), response=(7,))
    v1 = venue(latencies={"entry": np.array([60, 70, 80], np.int64), "response": np.array([3], np.int64)})
    extra = events([(5_000, R.DEPTH, 1, 100, 5)])  # venue 0's last arrival: the run ends at 5_010
    eng = engine(np.concatenate([ev, extra]), np.concatenate([arr, extra["exch_ts"] + 10]), tables,
                 Script(plan), [(ev, arr, v1)], timer_interval_ns=1_000, wake_on_response=False)
    assert eng.step(1 << 30)
    o = eng.orders()
    assert o["venue"].tolist() == [0, 0, 1, 1, 1] and o["order_id"].tolist() == [1, 2, 3, 4, 5]
    # venue 0: entry 500 (its own counter); venue 1: 60, 70, 80 by its own counter, not bumped by venue 0's
    # slower session (arrival = max(sent + latency, previous arrival on that venue only))
    assert (o["exch_ts"] - o["sent_ts"]).tolist() == [500, 500, 60, 70, 80]
    f = eng.fills()
    assert f["order_id"].tolist() == [3, 1, 2, 4, 5]  # venue 1's first fill comes before venue 0's
    assert (f["recv_ts"] - f["exch_ts"]).tolist() == [3, 7, 7, 3, 3]
    assert f["venue"].tolist() == [1, 0, 0, 1, 1] and f["position"].tolist() == [1, 1, 2, 2, 3]
    assert (f["cause"] == R.CAUSE_TAKER).all()
    s = eng.summary()
    assert (s["position"], s["n_fills"], s["n_orders"]) == (2, 2, 2)
    (q1,) = s["quoted"]
    assert (q1["position"], q1["n_fills"], q1["n_orders"], q1["cash_ticklots"]) == (3, 3, 3, -306)
    # each decision's actions counted per venue; each venue's known position from its own responses
    d, q = eng.decisions(), eng.quotes()
    assert d["ts"].tolist()[:3] == [1_010, 2_010, 3_010] and d["ts"][-1] == 5_010
    assert q["n_new"].tolist()[:3] == [1, 1, 1] and d["n_new"].tolist()[:3] == [2, 0, 0]
    assert q["position"][-1] == 3 and d["position"][-1] == 2


def test_a_larger_entry_latency_on_venue_1_delays_its_fills_by_exactly_that():
    """The same order on the same book at the same instant on two venues: venue 1's entry latency is D larger,
    so its taker fill happens D later (and reaches the strategy D later)."""
    ev = two_books()
    arr = ev["exch_ts"] + 10
    extra = events([(9_000, R.DEPTH, 1, 100, 5)])
    D = 1_234
    for base in (0, 300):
        tables = lat(entry=(base,), response=(50,))
        v1 = venue(latencies={"entry": np.array([base + D], np.int64)})
        eng = engine(np.concatenate([ev, extra]), np.concatenate([arr, extra["exch_ts"] + 10]), tables,
                     Script([[(0, 1, 102, 2), (1, 1, 102, 2)]]), [(ev, arr, v1)], wake_on_response=False)
        assert eng.step(1 << 30)
        f = eng.fills()
        assert f["venue"].tolist() == [0, 1]
        assert f["exch_ts"][1] - f["exch_ts"][0] == D and f["recv_ts"][1] - f["recv_ts"][0] == D
        assert f["exch_ts"][0] == 1_010 + base and (f["price"] == 102).all() and (f["qty"] == 2).all()


def test_the_strategy_sees_each_venues_position_cash_and_orders():
    ev = two_books()
    arr = ev["exch_ts"] + 10
    extra = events([(5_000, R.DEPTH, 1, 100, 5)])
    plan = [[(1, 1, 102, 2), (1, 1, 99, 1), (0, -1, 103, 1)]]
    script = Script(plan)
    eng = engine(np.concatenate([ev, extra]), np.concatenate([arr, extra["exch_ts"] + 10]), lat(entry=(100,),
                 response=(100,)), script, [(ev, arr, venue(maker_fee_bps=0.0, taker_fee_bps=10.0))],
                 timer_interval_ns=1_000)
    assert eng.step(1 << 30)
    first_t, first = script.seen[0]
    assert first == [(0, 0.0, True, []), (0, 0.0, True, [])]
    t, after = script.seen[-1]
    (p0, c0, q0, open0), (p1, c1, q1, open1) = after
    assert (p0, c0, q0) == (0, 0.0, True) and [o[1:] for o in open0] == [(-1, 103, 1, 1)]
    fee = 102 * 0.01 * 2 * 1.0 * 10.0 / 1e4
    assert p1 == 2 and c1 == pytest.approx(-2.04 - fee) and q1 and [o[1:] for o in open1] == [(1, 99, 1, 1)]
    assert [o[0] for o in open0] == [3] and [o[0] for o in open1] == [2]  # global ids, per-venue lists


def test_read_only_venue_view_has_no_position_and_is_not_quoted():
    ev = two_books()
    seen = []

    class Peek:
        def on_wakeup(self, ctx):
            v = ctx.venue("perp")
            seen.append((v.position, v.cash, v.quoted, ctx.venue(0).quoted, ctx.open_orders(venue="perp")))

    run(ev, ev["exch_ts"] + 10, lat(), Peek(), [(ev, ev["exch_ts"] + 10, venue(quoted=False))])
    assert seen and all(s == (0, 0.0, False, True, []) for s in seen)


# ------------------------------------------------------------------------------------- numba cfunc
@cfunc_strategy(params={"size": 1.0}, name="two_venue_sym")
def two_venue_sym(ci, cf, p, out):
    """The symmetric rule on venue 0 (out[0..4]) and on venue 1 from its block (out[venue_out(1)..]); it
    records venue 1's known position in the bid size to show CV_POSITION and CV_QUOTED reach it."""
    size = np.int64(p[0])
    out[0] = 1
    if ci[CI_BID_QTY] == 0 or ci[CI_ASK_QTY] == 0:
        out[1] = out[2] = out[3] = out[4] = 0
    else:
        mid2 = ci[CI_BEST_BID] + ci[CI_BEST_ASK]
        out[1], out[2], out[3], out[4] = (mid2 - 2) // 2, size, -((-(mid2 + 2)) // 2), size
    b, o = venue_block(1), venue_out(1)
    if ci[b + CV_QUOTED] != 1:
        return 7
    if ci[b + CV_BID_QTY] == 0 or ci[b + CV_ASK_QTY] == 0:
        return 0  # out[o] stays 0: no targets for venue 1
    mid2 = ci[b + CV_BEST_BID] + ci[b + CV_BEST_ASK]
    size1 = size + (1 if ci[b + CV_POSITION] < 0 else 0)
    out[o], out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, (mid2 - 2) // 2, size1, -((-(mid2 + 2)) // 2), size
    return 0


class TwoVenueSym:
    """two_venue_sym written in Python, returning a dict."""

    def on_wakeup(self, ctx):
        v = ctx.venue("perp")
        out = {0: sym(ctx)}
        if v.bid_qty and v.ask_qty:
            q = sym(v)
            out["perp"] = Quotes(q.bid_price, 1 + (v.position < 0), q.ask_price, 1)
        return out


def test_numba_cfunc_quotes_two_venues_through_the_out_blocks():
    assert CO_BLOCK == 5 and venue_out(0) == 0 and venue_out(2) == 10
    ev = generate_l2(15_000, seed=31)
    arr = ev["exch_ts"] + 500_000
    pev = generate_l2(15_000, seed=32)
    parr = pev["exch_ts"] + 200_000
    tables = lat((300_000,), (200_000,), (400_000,), (10_000,))
    sigs = [(pev, parr, venue())]
    native = run(ev, arr, tables, two_venue_sym.native(), sigs, timer_interval_ns=5_000_000, wake_on_feed=False)
    python = run(ev, arr, tables, TwoVenueSym(), sigs, timer_interval_ns=5_000_000, wake_on_feed=False)
    f = native.fills()
    assert (f["venue"] == 0).sum() > 20 and (f["venue"] == 1).sum() > 20
    assert outputs(native) == outputs(python)
    assert (native.quotes()["bid_qty"] == 2).any()  # venue 1's short position reached the rule through CV_POSITION
    # the same rule called from Python (NumbaStrategy.on_wakeup, the reference engine's path) returns a dict of
    # every venue's targets: the same run byte for byte
    via_python = run(ev, arr, tables, two_venue_sym, sigs, timer_interval_ns=5_000_000, wake_on_feed=False)
    assert outputs(native) == outputs(via_python)
    # the rule reads CV_QUOTED: on a read-only venue 1 it returns status 7
    with pytest.raises(StrategyError, match=r"ns: cfunc returned status 7$"):
        run(ev, arr, tables, two_venue_sym.native(), [(pev, parr, venue(quoted=False))], timer_interval_ns=5_000_000)


@cfunc_strategy(params={}, name="quotes_venue_1")
def quotes_venue_1(ci, cf, p, out):
    out[0] = 0
    o = venue_out(1)
    out[o], out[o + 1], out[o + 2], out[o + 3], out[o + 4] = 1, 98, 1, 104, 1
    return 0


def test_a_cfunc_quoting_a_read_only_venue_fails_the_run():
    ev = two_books()
    with pytest.raises(StrategyError, match=r"^strategy strategy failed at t=1010 ns: venue 1 'perp': quotes "
                                            r"read-only instrument 'perp' \(mark it quoted\)$"):
        run(ev, ev["exch_ts"] + 10, lat(), quotes_venue_1.native(), [(ev, ev["exch_ts"] + 10, venue(quoted=False))])
    eng = run(ev, ev["exch_ts"] + 10, lat(), quotes_venue_1.native(), [(ev, ev["exch_ts"] + 10, venue())])
    assert eng.orders()["venue"].tolist() == [1, 1]


# ------------------------------------------------------------------------------------- causality, truncation
def test_every_decision_saw_only_data_that_had_arrived():
    ev = generate_l2(10_000, seed=41)
    arr = ev["exch_ts"] + np.random.default_rng(1).integers(100_000, 3_000_000, len(ev))
    arr = np.maximum.accumulate(arr)
    pev = generate_l2(10_000, seed=42)
    parr = np.maximum.accumulate(pev["exch_ts"] + np.random.default_rng(2).integers(0, 1_000_000, len(pev)))
    eng = run(ev, arr, lat((200_000,), (100_000,), (300_000,), (5_000,)), TwoVenueSym(), [(pev, parr, venue())],
              timer_interval_ns=3_000_000)
    d, sd = eng.decisions(), eng.signal_data()
    assert len(d) > 100 and ((d["data_arrival_ts"] == R.NO_TS) | (d["data_arrival_ts"] <= d["ts"])).all()
    ts = d["ts"][sd["decision_id"]]
    assert ((sd["data_arrival_ts"] == R.NO_TS) | (sd["data_arrival_ts"] <= ts)).all()
    # a fill is known to the strategy only after it happened on its venue
    f = eng.fills()
    assert (f["recv_ts"] >= f["exch_ts"]).all() and (f["venue"] == 1).sum() > 10


def test_stepping_in_pieces_equals_one_run():
    ev = generate_l2(8_000, seed=51)
    arr = ev["exch_ts"] + 400_000
    pev = generate_l2(8_000, seed=52)
    parr = pev["exch_ts"] + 100_000
    args = (ev, arr, lat((200_000,), (100_000,), (300_000,), (5_000,)))
    sigs = [(pev, parr, venue())]
    whole = run(*args, TwoVenueSym(), sigs, timer_interval_ns=2_000_000)
    piece = engine(*args, TwoVenueSym(), sigs, timer_interval_ns=2_000_000)
    n = 0
    while not piece.step(777):
        n += 1
        head = piece.decisions()
        assert head.tobytes() == whole.decisions()[:len(head)].tobytes()
        assert piece.quotes().tobytes() == whole.quotes()[:len(piece.quotes())].tobytes()
    assert n > 5 and outputs(piece) == outputs(whole) and piece.summary() == whole.summary()


# ------------------------------------------------------------------------------------- bad input
class Returns:
    def __init__(self, res=None, submit=None):
        self.res, self.submit = res, submit

    def on_wakeup(self, ctx):
        if self.submit is not None:
            ctx.submit(1, 100, 1, venue=self.submit)
        return self.res


@pytest.mark.parametrize("quoted, strategy, message", [
    (False, Returns({"perp": Quotes(100, 1, 102, 1)}),
     r"^strategy strategy failed at t=1010 ns: venue 1 'perp': quotes read-only instrument 'perp' \(mark it quoted\)$"),
    (False, Returns(submit="perp"),
     r"^strategy strategy failed at t=1010 ns: StrategyError: submit: quotes read-only instrument 'perp' "
     r"\(mark it quoted\)$"),
    (True, Returns({"prep": Quotes(100, 1, 102, 1)}),
     r"^strategy strategy failed at t=1010 ns: on_wakeup: unknown venue 'prep'; known: 'spot', 'perp' "
     r"\(or an index 0\.\.1\)$"),
    (True, Returns({2: None}), r"on_wakeup: unknown venue 2; known: 'spot', 'perp'"),
    (True, Returns({True: None}), r"on_wakeup: unknown venue True; known: 'spot', 'perp'"),
    (True, Returns(submit=5), r"StrategyError: submit: unknown venue 5; known: 'spot', 'perp'"),
    (True, Returns({1: Quotes(100, -1, 102, 1)}), r"ns: venue 1 'perp': negative target quantity$"),
    (True, Returns({1: Quotes(102, 1, 102, 1)}), r"ns: venue 1 'perp': crossed target quotes: bid 102 >= ask 102$"),
    (True, Returns({1: Quotes(100.5, 1, 102, 1)}), r"ns: venue 1 'perp': target quotes must be integers"),
    (True, Returns({"perp": (1, 2)}),
     r"ns: venue 1 'perp': on_wakeup must return Quotes\(bid_price, bid_qty, ask_price, ask_qty\) or None, got tuple$"),
    (True, Returns({0: Quotes(102, 1, 101, 1)}), r"ns: crossed target quotes: bid 102 >= ask 101$"),
])
def test_bad_targets_and_orders_fail_the_run_with_one_clear_line(quoted, strategy, message):
    ev = two_books()
    with pytest.raises(StrategyError, match=message):
        run(ev, ev["exch_ts"] + 10, lat(), strategy, [(ev, ev["exch_ts"] + 10, venue(quoted=quoted))])


def test_dict_targets_by_name_or_index_and_venue_0_in_a_dict():
    ev = two_books()
    for res in ({"spot": Quotes(99, 1, 103, 2), "perp": Quotes(98, 3, 104, 4)},
                {0: Quotes(99, 1, 103, 2), np.int64(1): Quotes(98, 3, 104, 4)}):
        eng = run(ev, ev["exch_ts"] + 10, lat(), Returns(res), [(ev, ev["exch_ts"] + 10, venue())])
        o = eng.orders()
        assert [tuple(r) for r in o[["venue", "side", "price", "qty"]].tolist()] == [
            (0, 1, 99, 1), (0, -1, 103, 2), (1, 1, 98, 3), (1, -1, 104, 4)]
        d, q = eng.decisions()[0], eng.quotes()[0]
        assert (d["bid_price"], d["bid_qty"], d["ask_price"], d["ask_qty"], d["n_new"]) == (99, 1, 103, 2, 2)
        assert (q["bid_price"], q["bid_qty"], q["ask_price"], q["ask_qty"], q["n_new"]) == (98, 3, 104, 4, 2)


@pytest.mark.parametrize("vcfg, message", [
    (venue(quoted=False, maker_fee_bps=1.0), r"^signal 1 'perp': maker_fee_bps applies to a quoted venue only$"),
    (venue(quoted=False, latencies={"entry": np.zeros(1, np.int64)}),
     r"^signal 1 'perp': latencies applies to a quoted venue only$"),
    (venue(quoted=False, post_only=True), r"^signal 1 'perp': post_only applies to a quoted venue only$"),
    (venue(queue_model="fifo"), r"^signal 1 'perp': queue_model must be risk_averse, power or log, not 'fifo'$"),
    (venue(maker_fee_bps="x"), r"^signal 1 'perp': maker_fee_bps must be a number, not 'x'$"),
    (venue(taker_fee_bps=float("nan")), r"^signal 1 'perp': taker_fee_bps must be finite$"),
    (venue(queue_power=float("inf")), r"^signal 1 'perp': queue_power must be finite$"),
    (venue(latencies={"entry": np.zeros(0, np.int64)}), r"^signal 1 'perp': latency table 'entry' is empty$"),
    (venue(latencies={"cancel": np.array([5, -1], np.int64)}),
     r"^signal 1 'perp': latency table 'cancel' has a negative latency$"),
    (venue(latencies={"compute": np.zeros(1, np.int64)}),
     r"^signal 1 'perp': latencies: unknown leg 'compute' \(known: entry, cancel, response\)$"),
    (venue(latencies=[1, 2]), r"^signal 1 'perp': latencies must be a dict"),
    (venue(qouted=True), r"config\['signals'\]\[0\]: unknown key 'qouted'"),
])
def test_bad_quoted_venue_config_is_one_config_error_naming_the_venue(vcfg, message):
    ev = two_books()
    with pytest.raises(ConfigError, match=message):
        run(ev, ev["exch_ts"] + 10, lat(), Returns(), [(ev, ev["exch_ts"] + 10, vcfg)])


def test_bad_rows_on_a_quoted_venues_exchange_side_name_the_venue():
    ev = two_books()
    crossed = events([(1000, R.DEPTH, 1, 50, 1), (1000, R.DEPTH, -1, 52, 1), (2000, R.DEPTH, 1, 53, 1)])
    with pytest.raises(DataError, match=r"^venue 'perp': row 2: crossed book: best bid 53 >= best ask 52$"):
        run(ev, ev["exch_ts"] + 5_000, lat(), Returns(), [(crossed, crossed["exch_ts"] + 10, venue())])
    # repair on that venue: its exchange side drops the stale level and counts it
    eng = run(ev, ev["exch_ts"] + 5_000, lat(), Returns(), [(crossed, crossed["exch_ts"] + 10,
                                                            venue(crossed_policy="repair"))])
    assert eng.summary()["quoted"][0]["repaired_crossed_levels"] == 1 and eng.summary()["repaired_crossed_levels"] == 0
    bad_l3 = events([(1000, R.ADD, 1, 50, 1, 7), (2000, R.CANCEL, 1, 50, 3, 7)])
    with pytest.raises(DataError, match=r"^venue 'perp': row 1: removes 3 lots from order id 7 which has 1$"):
        run(ev, ev["exch_ts"] + 5_000, lat(), Returns(), [(bad_l3, bad_l3["exch_ts"] + 10, venue(mode="l3"))])
    l3_on_l2 = events([(1000, R.ADD, 1, 50, 1, 7)])
    with pytest.raises(DataError, match=r"^venue 'perp': row 0: event kind 4 is not an L2 kind"):
        run(ev, ev["exch_ts"] + 5_000, lat(), Returns(), [(l3_on_l2, l3_on_l2["exch_ts"] + 10, venue())])
    back = events([(2000, R.DEPTH, 1, 50, 1), (1000, R.DEPTH, 1, 51, 1)])
    with pytest.raises(DataError, match=r"^venue 'perp': row 1: exch_ts goes back in time$"):
        run(ev, ev["exch_ts"] + 5_000, lat(), Returns(), [(back, np.array([2010, 2010]), venue())])


# ------------------------------------------------------------------------------------- logs
def test_single_venue_logs_keep_the_old_bytes():
    """Venue 0's fills and orders carry venue 0 in what was padding: the padding bytes stay zero, so the arrays
    are byte-identical to the stage-1 layout's; quotes() is empty; no 'quoted' key."""
    ev = generate_l2(5_000, seed=61)
    eng = run(ev, ev["exch_ts"] + 300_000, lat((100_000,), (100_000,), (100_000,)), _core.SymmetricQuoter(2, 1), [],
              timer_interval_ns=1_000_000)
    f, o = eng.fills(), eng.orders()
    assert len(f) > 10 and (f["venue"] == 0).all() and (o["venue"] == 0).all()
    assert not f["_pad"].any() and not o["_pad"].any()
    assert R.FILL_DTYPE.itemsize == 80 and R.ORDER_DTYPE.itemsize == 72 and R.QUOTE_DTYPE.itemsize == 72
    assert R.FILL_DTYPE.fields["venue"][1] == R.FILL_DTYPE.fields["cause"][1] + 1
    assert R.ORDER_DTYPE.fields["venue"][1] == R.ORDER_DTYPE.fields["status"][1] + 1
    assert len(eng.quotes()) == 0 and "quoted" not in eng.summary()


def test_venue_0_streamed_in_chunks_with_a_quoted_venue_equals_one_shot():
    """Venue 0 streams (append) while quoted venue 1 is held whole: the same run either way."""
    ev = generate_l2(12_000, seed=71)
    arr = ev["exch_ts"] + 600_000
    pev = generate_l2(12_000, seed=72)
    sigs = [(pev, pev["exch_ts"] + 100_000, venue(maker_fee_bps=-1.0))]
    tables = lat((300_000,), (200_000,), (400_000, 50_000), (10_000,))

    def chunked(chunk):
        eng = _core.Engine(ev[:chunk], arr[:chunk], tables, dict(tick_size=0.01, lot_size=1.0, name="spot",
                           timer_interval_ns=4_000_000, signals=[sigs[0][2]]), TwoVenueSym(), len(ev) <= chunk,
                           [sigs[0][:2]])
        at = chunk
        while not eng.step(chunk):
            if eng.needs_data():
                eng.append(ev[at:at + chunk], arr[at:at + chunk], at + chunk >= len(ev))
                at += chunk
        return eng

    one, many = chunked(1 << 30), chunked(1_013)
    assert (one.fills()["venue"] == 1).sum() > 20
    assert outputs(one) == outputs(many) and one.summary() == many.summary()
