"""Differential property tests for several QUOTED venues (issue 12 stage 2, /work/prompts/mq-spec.md "Must hold" 4;
docs/event-loop.md "Quoted venues"): random streams on venue 0 and one or two more venues, each at random quoted or
read-only, L2 or L3, with its own feed arrivals (zero, equal to other venues' times, random per message), its own
crossed-book policy and, if quoted, its own queue model, fees, post_only and order latency tables (or the run's);
random run latencies (zero included), queue model, fees, post_only, timer and wake sources; and one deterministic
Python strategy that reads everything of every venue and mixes ``Quotes`` returns, dict targets (by name and by
index, ``None`` entries) and low-level submits, cancels and modifies on several venues.

The C++ engine (``mmsim._core.Engine``) and the pure-Python reference (``mmsim.reference.ReferenceEngine``) are
called directly with the same arguments and must agree byte for byte on fills, orders, decisions, signal_data and
quotes, and exactly on summary() — or fail with the same error. Stepping in pieces equals one run, and a run on a
prefix of venue 0's rows keeps every earlier decision (both engines)."""
from __future__ import annotations

import math
import random

import numpy as np
from hypothesis import HealthCheck, event, given, settings, strategies as st

from mmsim import _core, records as R
from mmsim.data.messages import message_ends
from mmsim.engine.numba_strategy import (CI_BEST_ASK, CI_BEST_BID, CI_N_VENUES, CV_BEST_ASK, CV_BEST_BID, CV_POSITION,
                                         CV_QUOTED, cfunc_strategy, venue_block, venue_out)
from mmsim.engine.strategy import Quotes
from mmsim.errors import DataError, StrategyError
from mmsim.reference import ReferenceEngine
from test_differential import l2_streams, l3_streams, to_events

NAMES = ("spot", "perp", "fut")


class MultiVenueQuoter:
    """A pure function of everything it reads — every venue's top, second levels, what has arrived, its known
    position and cash, whether it is quoted, and its own orders at every quoted venue — so both engines drive it
    identically only if they show it identical venues. Each wakeup: 0-2 low-level calls (a submit to a random quoted
    venue, by name or index, or a cancel/modify of any venue's open order), then ``None``, a ``Quotes`` for venue
    0, or a dict of targets for some quoted venues (keys by name or index, some ``None``, now and then one venue
    under both its keys)."""

    def __init__(self, seed: int, aggressive: bool):
        self.seed, self.aggressive = seed, aggressive

    @staticmethod
    def _mid(view) -> int:
        return (view[0] + view[2]) // 2 if view[1] and view[3] else 100

    def _targets(self, rnd: random.Random, view) -> Quotes:
        mid = self._mid(view)
        reach = 2 if self.aggressive else 0  # aggressive quotes may cross and take
        bid = mid - rnd.randint(-reach, 3)
        ask = max(bid + 1, mid + rnd.randint(-reach, 3))
        return Quotes(bid, rnd.choice((0, 1, 2, 3)), ask, rnd.choice((0, 1, 2, 3)))

    def on_wakeup(self, ctx):
        names = ctx.venue_names
        views = []
        for k, name in enumerate(names):
            v = ctx.venue(name if k % 2 else k)
            views.append((v.best_bid, v.bid_qty, v.best_ask, v.ask_qty, v.data_rows, v.data_arrival_ts, v.position,
                          v.cash.hex(), v.quoted, v.depth(R.BID, 1), v.depth(R.ASK, 1), v.mid))
        quoted = [k for k in range(len(names)) if views[k][8]]
        opens = [ctx.open_orders(venue=k if k % 2 == 0 else names[k]) for k in quoted]
        rnd = random.Random(repr((self.seed, ctx.now, ctx.reason, ctx.position, ctx.cash.hex(), ctx.ewma_mid.hex(),
                                  views, opens)))
        every = [o for orders in opens for o in orders]
        for _ in range(rnd.choice((0, 0, 1, 2))):
            u = rnd.random()
            if u < 0.25 and every:
                ctx.cancel(rnd.choice(every)[0])
            elif u < 0.4 and every:
                ctx.modify(rnd.choice(every)[0], rnd.randint(1, 4))
            else:
                k = rnd.choice(quoted)
                ctx.submit(rnd.choice((1, -1)), self._mid(views[k]) + rnd.randint(-3, 3), rnd.randint(1, 3),
                           rnd.choice(("gtc", "post_only", "ioc")), venue=k if rnd.random() < 0.5 else names[k])
        u = rnd.random()
        if u < 0.15:
            return None
        if u < 0.3:
            return self._targets(rnd, views[0])
        out = {}
        for k in quoted:
            if rnd.random() < 0.8:
                out[k if rnd.random() < 0.5 else names[k]] = self._targets(rnd, views[k]) if rnd.random() < 0.85 else None
        if rnd.random() < 0.1:  # a venue given twice, by name and by index: the later entry counts
            k = rnd.choice(quoted)
            out[names[k] if k in out else k] = self._targets(rnd, views[k])
        return out


def arrivals(ev: np.ndarray, how, rnd: random.Random) -> np.ndarray:
    """Feed arrival times: a constant latency, or one latency per message (from a few values, so times tie across
    venues), never reordering."""
    ts = ev["exch_ts"].astype(np.int64)
    if not isinstance(how, str):
        return ts + how
    ends = message_ends(ev)
    lat, out = rnd.choice((0, 1000, 2000)), np.empty(len(ev), np.int64)
    for i in range(len(ev)):
        out[i] = ts[i] + lat
        if ends[i]:
            lat = rnd.choice((0, 1000, 2000, 500))
    return np.maximum.accumulate(out)


TABLES = ((0,), (1000,), (0, 2000), (500, 1000, 0), (3000, 1000))


@st.composite
def tables(draw):
    return {leg: np.array(draw(st.sampled_from(TABLES)), np.int64) for leg in ("entry", "cancel", "response")}


@st.composite
def venues(draw):
    """One or two venues besides venue 0: rows, marks, arrivals, settings (those of a quoted venue at random:
    omitted keys take the run's values)."""
    out = []
    for k in range(draw(st.integers(1, 2))):
        l3 = draw(st.booleans())
        rows = draw(l3_streams() if l3 else l2_streams())
        shift = draw(st.sampled_from((0, 0, 0, 1000, 1500, 40_000)))  # later (or never within the run)
        rows = [(r[0] + shift, *r[1:]) for r in rows]
        meta = dict(name=NAMES[k], mode="l3" if l3 else "l2", tick_size=draw(st.sampled_from((0.5, 0.01))),
                    lot_size=draw(st.sampled_from((1.0, 0.001))),
                    crossed_policy=draw(st.sampled_from(("repair",) * 7 + ("error",))))
        if draw(st.sampled_from((True, True, True, False))):
            meta["quoted"] = True
            if draw(st.booleans()):
                meta["queue_model"] = draw(st.sampled_from(R.QUEUE_MODELS))
                meta["queue_power"] = draw(st.sampled_from((1.0, 2.5)))
            if draw(st.booleans()):
                meta["maker_fee_bps"], meta["taker_fee_bps"] = draw(st.sampled_from(((0.0, 0.0), (-1.0, 3.0))))
            if draw(st.booleans()):
                meta["post_only"] = draw(st.booleans())
            if draw(st.booleans()):
                meta["latencies"] = draw(tables())
        elif draw(st.booleans()):
            meta["quoted"] = False
        out.append(dict(rows=rows, ends=draw(st.lists(st.booleans(), min_size=1, max_size=8)), meta=meta,
                        feed=draw(st.sampled_from((0, 1000, "per message")))))
    return out


def build(l3, rows, ends, specs, feed, lat, cfg_kw, seed):
    rnd = random.Random(seed)
    ev = to_events(rows, ends)
    arr = arrivals(ev, feed, rnd)
    sigs, metas = [], []
    for s in specs:
        sev = to_events(s["rows"], s["ends"])
        sigs.append((sev, arrivals(sev, s["feed"], rnd)))
        metas.append(s["meta"])
    cfg = dict(mode="l3" if l3 else "l2", tick_size=0.01, lot_size=1.0, name="quoted", signals=metas, **cfg_kw)
    return ev, arr, lat, cfg, sigs


def run_engine(which, ev, arr, lat, cfg, strategy, sigs, piece=None):
    """One engine's outputs (bytes of every log, the summary), or its error (type, message)."""
    try:
        if which == "cpp":
            eng = _core.Engine(ev, arr, lat, cfg, strategy, True, sigs)
        else:
            eng = ReferenceEngine(ev, arr, lat, cfg, strategy, True, sigs)
        if piece is None:
            assert eng.step(1 << 40)
        else:
            while not eng.step(piece):
                pass
        return dict(fills=eng.fills(), orders=eng.orders(), decisions=eng.decisions(), signal_data=eng.signal_data(),
                    quotes=eng.quotes(), summary=eng.summary())
    except (DataError, StrategyError) as e:
        return (type(e).__name__, str(e))


def same_value(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same_value(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(same_value(a, b) for a, b in zip(x, y))
    return type(x) is type(y) and x == y


def assert_agree(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
        return
    for what in ("fills", "orders", "decisions", "signal_data", "quotes"):
        assert a[what].dtype == b[what].dtype, what
        if a[what].tobytes() != b[what].tobytes():  # show the first differing record
            n = min(len(a[what]), len(b[what]))
            i = next((i for i in range(n) if a[what][i].tobytes() != b[what][i].tobytes()), n)
            raise AssertionError(f"{what} differ at record {i} (cpp {len(a[what])}, reference {len(b[what])} "
                                 f"records): cpp {a[what][i:i + 1].tolist()} reference {b[what][i:i + 1].tolist()}")
    assert same_value(a["summary"], b["summary"]), (a["summary"], b["summary"])


def assert_causal(r):
    """Every decision saw only venue-0 data and signal-venue data that had arrived (Must hold 6)."""
    d, sd = r["decisions"], r["signal_data"]
    assert ((d["data_arrival_ts"] == R.NO_TS) | (d["data_arrival_ts"] <= d["ts"])).all()
    ts = d["ts"][sd["decision_id"]]
    assert ((sd["data_arrival_ts"] == R.NO_TS) | (sd["data_arrival_ts"] <= ts)).all()
    f = r["fills"]
    assert (f["recv_ts"] >= f["exch_ts"]).all()


LAT_SETS = [
    dict(entry=(0,), cancel=(0,), response=(0,), compute=(0,)),
    dict(entry=(1000,), cancel=(2000,), response=(1000,), compute=(0,)),
    dict(entry=(4000, 1000), cancel=(500,), response=(2000, 0), compute=(1500,)),
    dict(entry=(0, 3000, 1000), cancel=(1000, 0), response=(500,), compute=(0, 1000)),
]


def latencies(i):
    return {k: np.array(v, np.int64) for k, v in LAT_SETS[i].items()}


COMMON = settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@COMMON
@given(l3=st.booleans(), data=st.data(), specs=venues(), lat=st.sampled_from(range(len(LAT_SETS))),
       seed=st.integers(0, 2**16), aggressive=st.booleans(), queue=st.sampled_from(R.QUEUE_MODELS),
       policy=st.sampled_from(("repair", "repair", "repair", "error")), timer=st.sampled_from((0, 2_000)),
       wake_feed=st.booleans(), wake_response=st.booleans(), post_only=st.booleans(),
       fees=st.sampled_from(((0.0, 0.0), (-0.2, 1.0))), ends=st.lists(st.booleans(), min_size=1, max_size=16),
       feed=st.sampled_from((0, 1000, "per message")), piece=st.integers(1, 7))
def test_engines_agree_with_quoted_venues(l3, data, specs, lat, seed, aggressive, queue, policy, timer, wake_feed,
                                          wake_response, post_only, fees, ends, feed, piece):
    rows = data.draw(l3_streams() if l3 else l2_streams())
    cfg_kw = dict(queue_model=queue, queue_power=1.5, crossed_policy=policy, timer_interval_ns=timer,
                  wake_on_feed=wake_feed or timer == 0, wake_on_response=wake_response, post_only=post_only,
                  maker_fee_bps=fees[0], taker_fee_bps=fees[1])
    ev, arr, lt, cfg, sigs = build(l3, rows, ends, specs, feed, latencies(lat), cfg_kw, seed)
    a = run_engine("cpp", ev, arr, lt, cfg, MultiVenueQuoter(seed, aggressive), sigs)
    b = run_engine("reference", ev, arr, lt, cfg, MultiVenueQuoter(seed, aggressive), sigs)
    assert_agree(a, b)
    n_quoted = sum(bool(s["meta"].get("quoted")) for s in specs)
    if isinstance(a, tuple):
        event(f"both failed: {a[0]}")
        return
    event(f"ran: {len(specs) + 1} venues, {n_quoted} quoted k>=1, "
          f"{'fills on k>=1' if (a['fills']['venue'] > 0).any() else 'no fills on k>=1'}")
    assert_causal(a)
    assert len(a["quotes"]) == n_quoted * len(a["decisions"])
    # stepping in pieces equals one run, in both engines
    for which, whole in (("cpp", a), ("reference", b)):
        assert_agree(whole, run_engine(which, ev, arr, lt, cfg, MultiVenueQuoter(seed, aggressive), sigs, piece=piece))


@COMMON
@given(l3=st.booleans(), data=st.data(), specs=venues(), lat=st.sampled_from(range(len(LAT_SETS))),
       seed=st.integers(0, 2**16), timer=st.sampled_from((0, 1_500)), ends=st.lists(st.booleans(), min_size=1, max_size=16),
       cut=st.floats(0.2, 0.9))
def test_a_shorter_run_keeps_every_earlier_decision_in_both_engines(l3, data, specs, lat, seed, timer, ends, cut):
    rows = data.draw(l3_streams() if l3 else l2_streams())
    cfg_kw = dict(crossed_policy="repair", timer_interval_ns=timer, wake_on_feed=timer == 0, maker_fee_bps=-0.2,
                  taker_fee_bps=1.0)
    ev, arr, lt, cfg, sigs = build(l3, rows, ends, specs, "per message", latencies(lat), cfg_kw, seed)
    # cut between two exchange-time groups (so between messages): a cut inside a group would end that group early,
    # moving its crossed-book check — a different book, not a shorter run
    ts = ev["exch_ts"]
    m = max([j for j in range(1, int(len(ev) * cut) + 1) if j == len(ev) or ts[j] != ts[j - 1]], default=len(ev))
    full = [run_engine(w, ev, arr, lt, cfg, MultiVenueQuoter(seed, True), sigs) for w in ("cpp", "reference")]
    part = [run_engine(w, ev[:m], arr[:m], lt, cfg, MultiVenueQuoter(seed, True), sigs) for w in ("cpp", "reference")]
    assert_agree(*full)
    assert_agree(*part)
    if isinstance(full[0], tuple) or isinstance(part[0], tuple):
        return
    for f, p in zip(full, part):
        d = p["decisions"]
        if not len(d):
            continue
        k = int((d["ts"] < d["ts"][-1]).sum())  # all but the last instant's (it may wait for rows the cut removed)
        assert d[:k].tobytes() == f["decisions"][:k].tobytes()
        for what in ("quotes", "signal_data"):
            mine, theirs = p[what], f[what]
            assert mine[mine["decision_id"] < k].tobytes() == theirs[theirs["decision_id"] < k].tobytes(), what


def test_differential_cases_reach_quoted_venue_situations():
    """Guard against a generator that stopped producing interesting cases: over fixed random runs, quoted venues
    k >= 1 get fills of every cause, post-only rejections and IOC expiries, and both engines agree."""
    causes, statuses, n_fills = set(), set(), 0
    for seed in range(16):
        rnd = random.Random(seed)

        def stream(t0):
            rows, t = [(t0, R.DEPTH, 1, 99, 5), (t0, R.DEPTH, -1, 101, 5)], t0
            for _ in range(80):
                t += rnd.choice((0, 1_000, 2_000))
                if rnd.random() < 0.5:
                    rows.append((t, R.DEPTH, rnd.choice((1, -1)), rnd.randint(95, 105), rnd.randint(0, 8)))
                else:
                    rows.append((t, R.TRADE, rnd.choice((1, -1)), rnd.randint(96, 104), rnd.randint(1, 6)))
            return rows

        specs = [dict(rows=stream(0), ends=[True], feed="per message",
                      meta=dict(name="spot", mode="l2", tick_size=0.5, lot_size=0.001, crossed_policy="repair",
                                quoted=True, post_only=seed % 2 == 0, taker_fee_bps=2.0,
                                latencies={k: np.array(v, np.int64) for k, v in
                                           (("entry", (1000, 0)), ("cancel", (500,)), ("response", (1000,)))})),
                 dict(rows=stream(500), ends=[True], feed=1000,
                      meta=dict(name="perp", mode="l2", tick_size=0.5, lot_size=0.001, crossed_policy="repair"))]
        ev, arr, lt, cfg, sigs = build(False, stream(0), [True], specs, "per message", latencies(1),
                                       dict(crossed_policy="repair", timer_interval_ns=1_500), seed)
        a = run_engine("cpp", ev, arr, lt, cfg, MultiVenueQuoter(seed, True), sigs)
        b = run_engine("reference", ev, arr, lt, cfg, MultiVenueQuoter(seed, True), sigs)
        assert_agree(a, b)
        f, o = a["fills"], a["orders"]
        causes |= set(f["cause"][f["venue"] == 1].tolist())
        statuses |= set(o["status"][o["venue"] == 1].tolist())
        n_fills += int((f["venue"] == 1).sum())
        assert (o["venue"] != 2).all()  # perp is read-only
    assert {R.CAUSE_TRADE, R.CAUSE_TRADE_THROUGH, R.CAUSE_CROSS, R.CAUSE_TAKER} <= causes
    assert {R.ST_FILLED, R.ST_CANCELLED, R.ST_REJECTED, R.ST_EXPIRED} <= statuses
    assert n_fills > 100


# ------------------------------------------------------------------------------------------- numba
def _every_venue_rule(ci, cf, params, out):
    """Quote at venue 0's top, and around every quoted venue's own top, leaning against that venue's
    known position (the int64 context's CV_POSITION / CV_QUOTED, targets in ``out[venue_out(k) ...]``)."""
    if ci[CI_BEST_BID] > 0 and ci[CI_BEST_ASK] > 0:
        out[0], out[1], out[2], out[3], out[4] = 1, ci[CI_BEST_BID], 1, ci[CI_BEST_ASK], 1
    else:
        out[0] = 0
    for k in range(1, ci[CI_N_VENUES]):
        b = venue_block(k)
        if ci[b + CV_QUOTED] == 1 and ci[b + CV_BEST_BID] > 0 and ci[b + CV_BEST_ASK] > 0:
            lean = -1 if ci[b + CV_POSITION] > 0 else (1 if ci[b + CV_POSITION] < 0 else 0)
            o = venue_out(k)
            out[o], out[o + 1], out[o + 2] = 1, ci[b + CV_BEST_BID] + lean, 1 + (lean > 0)
            out[o + 3], out[o + 4] = ci[b + CV_BEST_ASK] + 1 + lean, 1 + (lean < 0)
    return 0


def test_a_numba_rule_quoting_several_venues_agrees_across_engines():
    from mmsim.data.synthetic import generate_l2

    rule = cfunc_strategy()(_every_venue_rule)
    ev, spot, perp = generate_l2(5_000, seed=31), generate_l2(5_000, seed=32), generate_l2(4_000, seed=33)
    sigs = [(spot, spot["exch_ts"] + 150_000), (perp, perp["exch_ts"] + 80_000)]
    cfg = dict(mode="l2", tick_size=0.01, lot_size=1.0, name="quoted", timer_interval_ns=300_000, wake_on_feed=False,
               maker_fee_bps=-0.2, taker_fee_bps=1.0,
               signals=[dict(name="spot", tick_size=0.01, lot_size=1.0, crossed_policy="repair", quoted=True,
                             queue_model="power", post_only=True,
                             latencies={k: np.array(v, np.int64) for k, v in
                                        (("entry", (90_000, 40_000)), ("cancel", (60_000,)), ("response", (70_000,)))}),
                        dict(name="perp", tick_size=0.01, lot_size=1.0, crossed_policy="repair")])
    lat = {k: np.array(v, np.int64) for k, v in (("entry", (200_000,)), ("cancel", (100_000,)),
                                                 ("response", (150_000, 50_000)), ("compute", (5_000,)))}
    arr = ev["exch_ts"] + 200_000
    a = run_engine("cpp", ev, arr, lat, cfg, rule.native(), sigs)
    b = run_engine("reference", ev, arr, lat, cfg, rule, sigs)
    assert_agree(a, b)
    f, q = a["fills"], a["quotes"]
    assert (f["venue"] == 0).sum() > 10 and (f["venue"] == 1).sum() > 10 and (f["venue"] != 2).all()
    assert (q["venue"] == 1).all() and len(q) == len(a["decisions"]) and (q["bid_qty"] == 2).any()
