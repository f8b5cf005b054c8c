"""Differential property tests for signal venues (issue 12 stage 1, docs/venues.md): random quoted streams with one
or two random read-only signal venues (L2 or L3, own feed latencies, crossed-book policies), random order latencies
and a Python strategy whose every decision depends on what it reads of every venue. The C++ engine and the
pure-Python reference must agree bit for bit: fills, orders, decisions, signal_data and summary — or fail with the
same error. Also: adding a signal venue leaves the quoted venue's draws (and, for a strategy ignoring it, every
output) unchanged."""
import math
import random

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings, strategies as st

from mmsim import DataError, Instrument, SignalVenue, StrategyError, records as R, simulate
from mmsim.data.messages import message_ends
from mmsim.data.synthetic import generate_l2
from mmsim.engine.numba_strategy import (CI_BEST_ASK, CI_BEST_BID, CI_N_VENUES, CV_ASK_QTY, CV_BID_QTY, cfunc_strategy,
                                         venue_block)
from mmsim.data.latency import signal_feed_stream
from test_differential import LATENCY_SETS, RandomQuoter, assert_identical, l2_streams, l3_streams, to_events

SIGNAL_LATENCIES = (0, "2us", "500ns", "lognormal:median=2us,sigma=0.8", "gamma:shape=2,scale=1us")


class VenueQuoter:
    """RandomQuoter whose every choice also depends on everything it reads of every venue (tops, mids, second
    levels, what has arrived, instrument metadata): both engines drive it identically only if they show it
    identical venues. It also notes any venue 0 that differs from ctx's own fields."""

    def __init__(self, seed: int, aggressive: bool):
        self.seed, self.inner, self.mismatch = seed, RandomQuoter(seed, aggressive), []

    def on_wakeup(self, ctx):
        views = []
        for k, name in enumerate(ctx.venue_names):
            v = ctx.venue(name if k % 2 else k)  # by name and by index
            views.append((v.name, v.best_bid, v.bid_qty, v.best_ask, v.ask_qty, v.mid, v.data_exch_ts,
                          v.data_arrival_ts, v.data_rows, v.depth(R.BID, 1), v.depth(R.ASK, 1), v.tick_size,
                          v.lot_size, len(v.features)))
        q = views[0]
        if q[1:5] != (ctx.best_bid, ctx.bid_qty, ctx.best_ask, ctx.ask_qty) or q[6:9] != (
                ctx.data_exch_ts, ctx.data_arrival_ts, ctx.data_rows) or q[9:11] != (ctx.depth(R.BID, 1), ctx.depth(R.ASK, 1)):
            self.mismatch.append((ctx.now, q))
        self.inner.seed = hash((self.seed, tuple(views)))
        return self.inner.on_wakeup(ctx)


@st.composite
def signal_venues(draw):
    """One or two signal venues: rows (L2 or L3), message marks, feed latency, crossed-book policy."""
    out = []
    for _ in range(draw(st.integers(1, 2))):
        l3 = draw(st.booleans())
        rows = draw(l3_streams() if l3 else l2_streams())
        ends = draw(st.lists(st.booleans(), min_size=1, max_size=8))
        shift = draw(st.sampled_from((0, 0, 1_500, 40_000)))  # a venue starting later (or never within the run)
        rows = [(r[0] + shift, *r[1:]) for r in rows]
        out.append(dict(rows=rows, ends=ends, latency=draw(st.sampled_from(SIGNAL_LATENCIES)),
                        policy=draw(st.sampled_from(("repair",) * 7 + ("error",))),
                        tick=draw(st.sampled_from((0.5, 0.01)))))
    return out


def build_signals(specs, names=("perp", "spot2")):
    return {name: SignalVenue(to_events(s["rows"], s["ends"]), Instrument(s["tick"], 0.001), feed_latency=s["latency"],
                              crossed_policy=s["policy"])
            for name, s in zip(names, specs)}


def run_both(ev, make_strategy, signals, **kw):
    """Both engines' results, or both engines' error (type and message); and the strategies that ran."""
    out, strategies = [], []
    for engine in ("cpp", "reference"):
        strategy = make_strategy()
        strategies.append(strategy)
        try:
            out.append(simulate(ev, Instrument(0.01, 1.0), strategy, engine=engine, signals=signals,
                                instrument_name="spot", **kw))
        except (DataError, StrategyError) as e:
            out.append((type(e).__name__, str(e)))
    return out, strategies


def assert_identical_with_signals(a, b, signals):
    assert_identical(a, b)
    if isinstance(a, tuple):
        return
    pd.testing.assert_frame_equal(a.signal_data, b.signal_data)
    assert a.summary["signal_rows"] == b.summary["signal_rows"]
    assert a.summary["signal_venues"] == b.summary["signal_venues"] == list(signals)
    k = len(signals)
    assert len(a.signal_data) == k * len(a.decisions)
    # every decision saw whole messages of every signal venue, and only rows that had arrived
    ts = np.repeat(a.decisions["ts"].to_numpy(), k)
    sd = a.signal_data
    for v, (name, venue) in enumerate(signals.items(), 1):
        mine = (sd["venue"] == v).to_numpy()
        seen = sd["data_rows"].to_numpy()[mine]
        ends = message_ends(venue.events)
        assert ((seen == 0) | ends[np.maximum(seen - 1, 0)]).all(), name
        assert (sd["instrument"].astype(str).to_numpy()[mine] == name).all()
        arr = sd["data_arrival_ts"].to_numpy()[mine]
        assert ((seen == 0) | (arr <= ts[mine])).all()
        assert (np.diff(seen) >= 0).all()


COMMON = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@COMMON
@given(quoted_l3=st.booleans(), data=st.data(), specs=signal_venues(), lat=st.sampled_from((0, 1, 1, 2, 2, 3, 3)),
       seed=st.integers(0, 2**16), aggressive=st.booleans(), policy=st.sampled_from(("repair", "repair", "repair", "error")),
       timer=st.sampled_from((0, 2_000)), wake_feed=st.booleans(), ends=st.lists(st.booleans(), min_size=1, max_size=16))
def test_engines_agree_with_signal_venues(quoted_l3, data, specs, lat, seed, aggressive, policy, timer, wake_feed, ends):
    rows = data.draw(l3_streams() if quoted_l3 else l2_streams())
    ev = to_events(rows, ends)
    signals = build_signals(specs)
    (a, b), (sa, sb) = run_both(ev, lambda: VenueQuoter(seed, aggressive), signals, seed=seed, crossed_policy=policy,
                                timer_interval_ns=timer, wake_on_feed=wake_feed or timer == 0, maker_fee_bps=-0.2,
                                taker_fee_bps=1.0, **LATENCY_SETS[lat])
    assert_identical_with_signals(a, b, signals)
    assert sa.mismatch == [] and sb.mismatch == []
    event(f"both failed: {a[1].split(':')[0]}" if isinstance(a, tuple) else
          f"ran: {len(signals)} signal venue(s), {'some' if (a.signal_data['data_rows'] > 0).any() else 'no'} rows seen")


def test_differential_cases_reach_every_venue_situation():
    """Guard against a generator that stopped producing interesting cases: over fixed random runs (signal books
    crossing and repaired), decisions see a signal venue before any row, part-way, and after its last row."""
    seen_none = seen_some = seen_all = 0
    for seed in range(12):
        rnd = random.Random(seed)
        q = [(0, R.DEPTH, 1, 99, 5), (0, R.DEPTH, -1, 101, 5)]
        p = []
        t = 0
        for _ in range(60):
            t += rnd.choice((0, 1_000, 2_000))
            q.append((t, R.DEPTH, rnd.choice((1, -1)), rnd.randint(95, 105), rnd.randint(0, 8)) if rnd.random() < 0.6
                     else (t, R.TRADE, rnd.choice((1, -1)), rnd.randint(96, 104), rnd.randint(1, 6)))
            p.append((t + 500, R.DEPTH, rnd.choice((1, -1)), rnd.randint(45, 55), rnd.randint(0, 4)))
        p = p[: rnd.randint(10, 60)]
        signals = {"perp": SignalVenue(to_events(p), Instrument(0.5, 1), feed_latency="lognormal:median=3us,sigma=1",
                                       crossed_policy="repair")}
        (a, b), _ = run_both(to_events(q), lambda: VenueQuoter(seed, True), signals, seed=seed, crossed_policy="repair",
                             timer_interval_ns=1_500, **LATENCY_SETS[2])
        assert_identical_with_signals(a, b, signals)
        rows = a.signal_data["data_rows"].to_numpy()
        seen_none += int((rows == 0).any())
        seen_some += int(((rows > 0) & (rows < len(p))).any())
        seen_all += int((rows == len(p)).any())
    assert seen_none and seen_some and seen_all


# ------------------------------------------------------------------------------------------- matched arms
def _quoted_market():
    return generate_l2(6_000, seed=21)


def _perp_market(seed=22):
    return generate_l2(9_000, seed=seed)


RUN = dict(feed_latency="lognormal:median=2us,sigma=0.7", entry_latency="gamma:shape=2,scale=1us",
           cancel_latency="1us", response_latency="lognormal:median=1us,sigma=0.5", compute_latency="300ns",
           timer_interval_ns=400_000, wake_on_feed=False, wake_on_response=False, seed=7)  # ~7,800 timer decisions


def test_adding_a_signal_venue_leaves_the_quoted_draws_and_a_blind_strategys_outputs_unchanged():
    ev = _quoted_market()
    for engine in ("cpp", "reference"):
        base = simulate(ev, Instrument(0.01, 1), RandomQuoter(3, True), engine=engine, **RUN)
        one = simulate(ev, Instrument(0.01, 1), RandomQuoter(3, True), engine=engine,
                       signals={"perp": SignalVenue(_perp_market(), Instrument(0.5, 0.001), feed_latency="5us")}, **RUN)
        two = simulate(ev, Instrument(0.01, 1), RandomQuoter(3, True), engine=engine,
                       signals={"perp": SignalVenue(_perp_market(), Instrument(0.5, 0.001), feed_latency="5us"),
                                "spot2": SignalVenue(_perp_market(23), feed_latency="lognormal:median=9us,sigma=1")},
                       **RUN)
        assert len(base.fills) > 10 and len(base.decisions) > 100
        for other in (one, two):
            for what in ("fills", "orders", "decisions"):
                pd.testing.assert_frame_equal(getattr(other, what), getattr(base, what))
            for k, v in base.summary.items():
                if k not in ("wall_s", "events_per_s"):
                    assert other.summary[k] == v or (isinstance(v, float) and math.isnan(v)), k
        assert "signal_rows" not in base.summary and len(base.signal_data) == 0
        # perp's own draws depend on the seed and its name only: a second venue changes nothing of perp's
        perp_one = one.signal_data[one.signal_data["venue"] == 1].reset_index(drop=True).astype({"instrument": str})
        perp_two = two.signal_data[two.signal_data["venue"] == 1].reset_index(drop=True).astype({"instrument": str})
        pd.testing.assert_frame_equal(perp_one, perp_two)
        assert one.summary["signal_rows"][0] == two.summary["signal_rows"][0] > 0


def test_a_signal_venues_draws_follow_its_name_and_the_seed():
    from mmsim.data.latency import feed_arrival

    perp = _perp_market()
    a = feed_arrival("lognormal:median=2us,sigma=1", perp, signal_feed_stream(7, "perp"))
    b = feed_arrival("lognormal:median=2us,sigma=1", perp, signal_feed_stream(7, "perp"))
    c = feed_arrival("lognormal:median=2us,sigma=1", perp, signal_feed_stream(7, "perp2"))
    d = feed_arrival("lognormal:median=2us,sigma=1", perp, signal_feed_stream(8, "perp"))
    assert (a == b).all() and (a != c).any() and (a != d).any()
    # and a run uses exactly that clock: decisions that saw perp saw its rows at these arrivals
    res = simulate(_quoted_market(), Instrument(0.01, 1), "symmetric", engine="cpp",
                   signals={"perp": SignalVenue(perp, feed_latency="lognormal:median=2us,sigma=1")}, **RUN)
    sd = res.signal_data[res.signal_data["data_rows"] > 0]
    assert len(sd) > 100
    assert (sd["data_arrival_ts"].to_numpy() == a[sd["data_rows"].to_numpy() - 1]).all()


def test_same_inputs_and_seed_give_identical_signal_outputs():
    ev, perp = _quoted_market(), _perp_market()
    runs = [simulate(ev, Instrument(0.01, 1), VenueQuoter(5, False), engine="cpp",
                     signals={"perp": SignalVenue(perp, feed_latency="lognormal:median=2us,sigma=1")},
                     **dict(RUN, timer_interval_ns=0, wake_on_feed=True)) for _ in range(2)]
    for what in ("fills", "orders", "decisions", "signal_data"):
        pd.testing.assert_frame_equal(getattr(runs[0], what), getattr(runs[1], what))
    assert runs[0].summary["signal_rows"] == runs[1].summary["signal_rows"]


# ------------------------------------------------------------------------------------------- numba
def _lean_rule(ci, cf, params, out):
    """Quote around the quoted top, leaning one tick toward signal venue 1's heavier side."""
    if ci[CI_BEST_BID] == 0 or ci[CI_BEST_ASK] == 0:
        out[0] = 0
        return 0
    lean = 0
    if ci[CI_N_VENUES] > 1:
        b = venue_block(1)
        if ci[b + CV_BID_QTY] > ci[b + CV_ASK_QTY]:
            lean = 1
        elif ci[b + CV_BID_QTY] < ci[b + CV_ASK_QTY]:
            lean = -1
    out[0], out[1], out[2], out[3], out[4] = 1, ci[CI_BEST_BID] - 1 + lean, 1, ci[CI_BEST_ASK] + 1 + lean, 1
    return 0


def test_a_numba_rule_reading_a_signal_venue_agrees_across_engines():
    rule = cfunc_strategy()(_lean_rule)
    ev, perp = _quoted_market(), _perp_market()
    signals = {"perp": SignalVenue(perp, feed_latency="lognormal:median=2us,sigma=1")}
    a = simulate(ev, Instrument(0.01, 1), rule, engine="cpp", signals=signals, **RUN)
    b = simulate(ev, Instrument(0.01, 1), rule, engine="reference", signals=signals, **RUN)
    assert_identical_with_signals(a, b, signals)
    blind = simulate(ev, Instrument(0.01, 1), rule, engine="cpp", **RUN)
    assert len(a.fills) > 5 and not a.orders["price"].equals(blind.orders["price"])  # the lean did something
