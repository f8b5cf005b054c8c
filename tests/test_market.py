"""The synthetic market with ground truth (mmsim.data.market): determinism, valid L3 data, labelled informed flow that
is toxic, OFI that predicts the next mid move over the preset's own time scale, and the Avellaneda–Stoikov fill
intensity A·e^{-kδ}."""
from __future__ import annotations

import dataclasses
import math
import textwrap
from collections import deque
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from mmsim import records as R
from mmsim.errors import ConfigError
from mmsim.data.market import (PRESETS, REGIME_BURST, REGIME_CALM, MarketParams, generate_market,
                               ofi_decay, ofi_stats, top_of_book)
from mmsim.data.scenario import list_scenarios, load_scenario
from mmsim.records import Instrument
from mmsim.engine.sim import simulate

L3_PRESETS = [p for p, v in PRESETS.items() if isinstance(v, MarketParams)]
ALL_PRESETS = list(PRESETS)
N_OFI = 300_000     # ~14 minutes of exchange time: ~840 one-second intervals (fast_perp: ~95 s, 9500 x 10 ms)
SEC = 1_000_000_000


def scale_ns(preset: str) -> int:
    """The preset's signal time scale, max(lp_lag, informed_horizon), in ns (1 s for the original presets)."""
    return int(round(PRESETS[preset].signal_scale * SEC))


@lru_cache(maxsize=None)
def market(preset: str, n: int = N_OFI, seed: int = 3):
    return generate_market(preset, n, seed)


# --------------------------------------------------------------------------------------------- replay
def replay_l3(ev: np.ndarray) -> pd.DataFrame:
    """Replay L3 rows with plain dicts, asserting every rule of the data contract on the way.

    Returns best bid/ask price and size after each row.
    """
    n = len(ev)
    kind, side, price, qty, oid, ts, flags = (ev[k].tolist() for k in
                                              ("kind", "side", "price", "qty", "order_id", "exch_ts", "flags"))
    orders: dict[int, list] = {}                       # id -> [side, price, remaining]
    queues = {1: {}, -1: {}}                           # side -> price -> deque of ids (FIFO)
    level = {1: {}, -1: {}}                            # side -> price -> lots
    out = np.empty((n, 4), np.int64)
    last_id = 0
    prev_ts = ts[0]
    for i in range(n):
        k, s, p, q, x, t = kind[i], side[i], price[i], qty[i], oid[i], ts[i]
        assert t >= prev_ts, f"row {i}: time goes back"
        prev_ts = t
        assert p > 0 and q > 0 and s in (1, -1) and k in R.L3_KINDS, f"row {i}: bad row"
        label = flags[i] & ~R.FLAG_MSG_END
        assert label == 0 or k == R.EXECUTE, f"row {i}: only executions carry labels"
        # One action is one message: the opening book (all rows at the first timestamp) is one, each later
        # ADD/CANCEL/DELETE is one, and a market order's executions are one ending on its last.
        opening = t == ts[0]
        if opening or k == R.EXECUTE:
            nxt_same = i + 1 < n and ts[i + 1] == t and (opening or kind[i + 1] == R.EXECUTE)
            assert bool(flags[i] & R.FLAG_MSG_END) == (not nxt_same), f"row {i}: message end misplaced"
        else:
            assert flags[i] & R.FLAG_MSG_END, f"row {i}: an LP action is a whole message"
        lv, qs = level[s], queues[s]
        if k == R.ADD:
            assert x > last_id, f"row {i}: ids must be new and increasing"
            last_id = x
            orders[x] = [s, p, q]
            qs.setdefault(p, deque()).append(x)
            lv[p] = lv.get(p, 0) + q
        else:
            o = orders.get(x)
            assert o is not None, f"row {i}: unknown id {x}"
            assert o[0] == s and o[1] == p, f"row {i}: side/price differ from the order's"
            if k == R.CANCEL:
                assert q < o[2], f"row {i}: CANCEL must leave something"
            elif k == R.DELETE:
                assert q == o[2], f"row {i}: DELETE qty {q} != remaining {o[2]}"
            else:  # EXECUTE: FIFO, at the best price of its side
                assert q <= o[2], f"row {i}: EXECUTE more than remains"
                assert qs[p][0] == x, f"row {i}: EXECUTE is not of the first order in the queue"
                best = max(lv) if s == 1 else min(lv)
                assert p == best, f"row {i}: EXECUTE away from the best"
            o[2] -= q
            lv[p] -= q
            if o[2] == 0:
                del orders[x]
                qs[p].remove(x)
            if lv[p] == 0:
                del lv[p]
                del qs[p]
        bids, asks = level[1], level[-1]
        bb = max(bids) if bids else -1
        ba = min(asks) if asks else -1
        assert not (bids and asks and bb >= ba), f"row {i}: crossed or locked book {bb} >= {ba}"
        out[i] = (bb, bids.get(bb, 0), ba, asks.get(ba, 0))
    return pd.DataFrame(out, columns=["bid_px", "bid_qty", "ask_px", "ask_qty"])


@lru_cache(maxsize=None)
def replayed(preset: str) -> pd.DataFrame:
    m = market(preset)
    top = replay_l3(m.events)
    top["ts"] = m.events["exch_ts"]
    top["fv"] = m.truth
    return top


def market_orders(ev: np.ndarray) -> pd.DataFrame:
    """One row per market order: the first of a same-timestamp run of EXECUTE rows on one side.

    Also checks that such a run looks like one market order: one side, one label, prices never improving.
    """
    ex = np.flatnonzero(ev["kind"] == R.EXECUTE)
    e = ev[ex]
    new = np.ones(len(e), bool)
    new[1:] = (e["exch_ts"][1:] != e["exch_ts"][:-1]) | (ex[1:] != ex[:-1] + 1)
    # within a run: same side and label, price monotone away from the spread
    cont = ~new
    assert (e["side"][1:][cont[1:]] == e["side"][:-1][cont[1:]]).all()
    label = e["flags"] & R.FLAG_INFORMED
    assert (label[1:][cont[1:]] == label[:-1][cont[1:]]).all()
    # a run is one exchange message: only its last execution ends it
    ends = (e["flags"] & R.FLAG_MSG_END) != 0
    assert not ends[:-1][cont[1:]].any() and ends[np.r_[np.flatnonzero(new)[1:] - 1, len(e) - 1]].all()
    dpx = (e["price"][1:] - e["price"][:-1]) * e["side"][1:]   # resting bids: price falls, asks: rises
    assert (dpx[cont[1:]] <= 0).all()
    first = ex[new]
    return pd.DataFrame({"row": first, "ts": ev["exch_ts"][first], "aggr": -ev["side"][first].astype(int),
                         "informed": (ev["flags"][first] & R.FLAG_INFORMED) != 0})


# --------------------------------------------------------------------------------------------- basics
def test_presets():
    assert set(PRESETS) == {"quiet", "toxic_burst", "news_jump", "trending", "latency_spike", "avellaneda_stoikov",
                            "fast_perp", "slow_equity"}
    a = PRESETS["avellaneda_stoikov"]
    assert (a.s0, a.sigma, a.A, a.k, a.horizon, a.tick_size) == (100.0, 2.0, 140.0, 1.5, 1.0, 0.01)


@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_deterministic_exact_size_and_prefix(preset):
    a = generate_market(preset, 40_000, seed=11)
    b = generate_market(preset, 40_000, seed=11)
    c = generate_market(preset, 40_000, seed=12)
    assert a.events.dtype == R.EVENT_DTYPE and len(a.events) == 40_000
    assert a.events.tobytes() == b.events.tobytes()
    assert a.truth.tobytes() == b.truth.tobytes() and a.regime.tobytes() == b.regime.tobytes()
    assert a.events.tobytes() != c.events.tobytes()
    # a shorter run is a prefix of a longer one (so `--rows N` equals a run of N rows), except that its last
    # row always ends an exchange message (a market order cut by the end is a whole, shorter message)
    d = generate_market(preset, 12_345, seed=11)
    head = a.events[:12_345].copy()
    head["flags"][-1] |= R.FLAG_MSG_END
    assert d.events.tobytes() == head.tobytes()
    assert (a.events["recv_ts"] == R.NO_TS).all() and (a.events["_pad"] == 0).all()
    assert (np.diff(a.events["exch_ts"]) >= 0).all() and (a.events["price"] > 0).all()
    assert a.truth.dtype == np.float64 and np.isfinite(a.truth).all()
    for n in (0, 1, 7):
        assert len(generate_market(preset, n, seed=1).events) == n


def test_overrides_and_bad_parameters():
    m = generate_market("quiet", 2000, seed=1, n_levels=3, noise_rate=10)
    assert m.params.n_levels == 3 and m.params.noise_rate == 10
    m2 = generate_market(dataclasses.replace(PRESETS["quiet"], n_levels=3, noise_rate=10), 2000, seed=1)
    assert m.events.tobytes() == m2.events.tobytes()
    with pytest.raises(ValueError, match="unknown market preset 'calm'"):
        generate_market("calm", 10)
    with pytest.raises(ValueError, match="unknown parameter 'A' for preset 'quiet'"):
        generate_market("quiet", 10, A=3.0)
    with pytest.raises(ValueError, match="n_levels must be in"):
        generate_market("quiet", 10, n_levels=0)
    with pytest.raises(ValueError, match="n_levels must be a whole number"):
        generate_market("quiet", 10, n_levels=2.5)
    with pytest.raises(ValueError, match="p_stale must be in"):
        generate_market("toxic_burst", 10, p_stale=1.5)
    with pytest.raises(ValueError, match="k must be > 0"):
        generate_market("avellaneda_stoikov", 10, k=0.0)
    with pytest.raises(ValueError, match="seed"):
        generate_market("quiet", 10, seed=-1)


# --------------------------------------------------------------------------------------------- L3 validity
@pytest.mark.parametrize("preset", L3_PRESETS)
def test_l3_rows_are_valid(preset):
    """ids, FIFO executions at the best, DELETE = remaining, CANCEL < remaining, never crossed after any row."""
    top = replayed(preset)
    ev = market(preset).events
    counts = np.bincount(ev["kind"], minlength=8)
    assert counts[[R.ADD, R.CANCEL, R.DELETE, R.EXECUTE]].min() > 1000
    assert counts[[R.DEPTH, R.TRADE, R.CLEAR]].sum() == 0
    assert ((top.bid_px > 0) & (top.ask_px > 0)).mean() > 0.99
    mo = market_orders(ev)
    assert len(mo) > 1000
    # realistic gaps: microseconds to milliseconds between messages, a few hundred rows per second
    gaps = np.diff(np.unique(ev["exch_ts"]))
    assert 1e5 < np.median(gaps) < 1e7 and gaps.min() >= 1
    # the numba helper used for the docs agrees with this replay
    fast = top_of_book(ev)
    for c in ("bid_px", "bid_qty", "ask_px", "ask_qty"):
        assert np.array_equal(fast[c], top[c].to_numpy()), c


#: SHA-256 of events + truth + regime of every L3 preset (60k rows, seeds 0 and 5), computed on main's generator
#: before ``level_gap`` and ``round_lot`` existed: their defaults (1) must leave every preset byte-identical.
PRESET_DIGESTS = {
    ("quiet", 0): "3b2521251a9ff469bcc29b963c696e4fae661973817f05515d933642c7ebd72b",
    ("quiet", 5): "9277fde6b266ce69f5d869c8814cd40dbe90dabd050ff3b617b4416d4f9665a3",
    ("toxic_burst", 0): "68a87fce5dc59340c3774335dcbc91afe074045b98a30b1f34a063e4fba61a47",
    ("toxic_burst", 5): "89489880380fd240da67eb528118956f54be0b866f21ed7d9ce3609a81bad7b0",
    ("news_jump", 0): "4eb3815c822aafac30f7b2a2747641e74f35bfce2d5c32cf59615cbc375c8f3a",
    ("news_jump", 5): "b1c9988f88baf0b9682c095a101c772f3eb023218dd57c590977a965aed6f11d",
    ("trending", 0): "fd9b25ca536ad8ec447070708440534a0a2e69d33a52b80b8eca0c9dd32bf9a4",
    ("trending", 5): "d8faa1b3939b626ea61d54857ffa1887a8c7917222cb002aba692d043d3e1144",
    ("latency_spike", 0): "3b2521251a9ff469bcc29b963c696e4fae661973817f05515d933642c7ebd72b",
    ("latency_spike", 5): "9277fde6b266ce69f5d869c8814cd40dbe90dabd050ff3b617b4416d4f9665a3",
    ("fast_perp", 0): "dceb178b011e100f20186fdcdd6338a2f4adc6df86b3e3101746370af8d4ce84",
    ("fast_perp", 5): "ec9c2a08d6c49568b48c477c827956138e37e565aca8cfc8d709007e8caa7e5d",
    ("slow_equity", 0): "895c6859ab59613ccaf1a5015bc209dd7fda3df2838446b1e1fb86df7f639dd1",
    ("slow_equity", 5): "7b5bb266cbdd6a41f0f5431b273ac1d4c970953a9611d3257ce2ce46c9aa6e1b",
}


@pytest.mark.parametrize("preset, seed", sorted(PRESET_DIGESTS))
def test_level_gap_and_round_lot_defaults_keep_every_preset_byte_identical(preset, seed):
    import hashlib

    assert PRESETS[preset].level_gap == 1 and PRESETS[preset].round_lot == 1
    for kw in ({}, {"level_gap": 1, "round_lot": 1},
               {"impact": 0.0, "mo_branch": 0.0, "mo_delay": 0.01, "odd_share": 0.0, "odd_qty": 20.0,
                "touch_mult": 1.0, "lp_react": 0.0, "p_trim": 0.0, "touch_qty": 1.0, "slow_rate": 0.0,
                "slow_horizon": 60.0, "slow_threshold": 3.0}):
        m = generate_market(preset, 60_000, seed, **kw)
        got = hashlib.sha256(m.events.tobytes() + m.truth.tobytes() + m.regime.tobytes()).hexdigest()
        assert got == PRESET_DIGESTS[(preset, seed)], kw


@pytest.mark.parametrize("gap, lot", [(2, 1), (3, 100), (1, 10)])
def test_level_gap_spaces_the_lps_levels_and_round_lot_rounds_market_orders(gap, lot):
    """Valid L3 data (the full replay's checks); every resting price a multiple of the gap, so the visible levels
    are gap ticks apart; market orders (before any cut by the book or the informed limit) multiples of lot."""
    m = generate_market("quiet", 60_000, 4, level_gap=gap, round_lot=lot, half_spread=2.0, noise_qty=30.0,
                        informed_qty=30.0, level_qty=60.0, order_qty=20.0)
    ev = m.events
    top = replay_l3(ev)
    assert ((top.bid_px > 0) & (top.ask_px > 0)).mean() > 0.99
    assert (ev["price"][ev["kind"] == R.ADD] % gap == 0).all()
    assert ((top.ask_px - top.bid_px)[(top.bid_px > 0) & (top.ask_px > 0)] % gap == 0).all()
    mo = market_orders(ev)
    ex = np.flatnonzero(ev["kind"] == R.EXECUTE)
    run = np.searchsorted(mo["row"].to_numpy(), ex, "right") - 1
    size = np.bincount(run, weights=ev["qty"][ex].astype(float), minlength=len(mo))
    noise = ~mo["informed"].to_numpy()
    # a noise order is cut only when it empties a whole side, which these books never do
    assert len(size[noise]) > 300 and (size[noise] % lot == 0).all()
    if lot > 1:
        # a geometric draw of mean 30 rounded up: mean lot / (1 - (1 - 1/30)^lot) (103.5 for 100, 34.7 for 10)
        assert abs(size[noise].mean() / (lot / (1 - (1 - 1 / 30) ** lot)) - 1) < 0.1
    else:
        assert len(np.unique(size[noise] % 10)) == 10
    if gap > 1:
        from mmsim.analysis.stylised import stylised_facts
        f = stylised_facts(ev)
        assert f.values["level_gap"] == pytest.approx(gap, abs=0.05)
        # emptying a level moves that side by the gap: the immediate markout of a market order grows with it
        base = stylised_facts(generate_market("quiet", 60_000, 4, half_spread=2.0, noise_qty=30.0,
                                              informed_qty=30.0, level_qty=60.0, order_qty=20.0).events)
        assert f.values["markout_0"] > 1.5 * base.values["markout_0"]


#: A book deep enough that a market order never empties a side (every order's size and sign stay as drawn).
_DEEP = dict(half_spread=2.0, level_qty=400.0, order_qty=40.0, noise_qty=10.0, informed_rate=0.0, noise_rate=2.0,
             lp_rate=200.0, jump_rate=0.0)


def _orders(ev):
    from mmsim.analysis.stylised import aggressive_orders
    return aggressive_orders(ev)


def test_permanent_impact_moves_the_fair_value_by_lambda_per_market_order():
    """Ground truth: without diffusion the fair value moves only at market orders, by exactly impact x aggressor;
    the LPs follow it, so the mid markout at long horizons is about impact (vs about 0 without)."""
    from mmsim.analysis.stylised import stylised_facts

    lam = 1.5
    m = generate_market("quiet", 80_000, 6, sigma=0.0, impact=lam, lp_lag=0.05, **_DEEP)
    mo = _orders(m.events)
    # the rows after a market order carry the moved fair value: impact x its aggressor per order (two orders
    # back to back show as one step of 0 or 2 impacts), nothing else moves it
    d = np.diff(m.truth)
    steps = d / lam
    assert len(mo["first"]) > 300 and np.allclose(steps, np.round(steps))
    total = m.truth[-1] - m.truth[0]
    assert any(math.isclose(total, lam * mo["aggr"][:len(mo["aggr"]) - cut].sum()) for cut in (0, 1))
    f = stylised_facts(m.events).values
    base = stylised_facts(generate_market("quiet", 80_000, 6, sigma=0.0, lp_lag=0.05, **_DEEP).events).values
    assert abs(base["markout_10s"]) < 0.25 and abs(f["markout_10s"] - lam) < 0.35


@pytest.mark.parametrize("branch", [0.3, 0.6])
def test_follow_up_market_orders_have_the_branching_ratio_and_delay(branch):
    """Ground truth: a cluster of a Poisson order and its follow-ups has mean size 1 / (1 - branch), so the order
    rate is noise_rate / (1 - branch); follow-ups come mo_delay after their parent (exponential) with its sign."""
    delay = 0.02
    m = generate_market("quiet", 150_000, 8, mo_branch=branch, mo_delay=delay, **_DEEP)
    mo = _orders(m.events)
    span = (int(m.events["exch_ts"][-1]) - int(m.events["exch_ts"][0])) / 1e9
    rate = len(mo["ts"]) / span
    assert abs(rate / (_DEEP["noise_rate"] / (1 - branch)) - 1) < 0.1
    gap = np.diff(mo["ts"]) / 1e9
    quick = gap < 5 * delay                 # a follow-up comes this soon with chance 1 - exp(-5) = 99.3 %
    same = mo["aggr"][1:] == mo["aggr"][:-1]
    assert quick.mean() > branch            # the follow-ups (a share branch of the orders) and some Poisson ones
    assert same[quick].mean() > same[~quick].mean() + 0.25 and abs(same[~quick].mean() - 0.5) < 0.1
    assert abs(np.median(gap[quick & same]) / (delay * math.log(2)) - 1) < 0.25
    # no follow-up without mo_branch: gaps are exponential at the order rate
    m0 = generate_market("quiet", 150_000, 8, **_DEEP)
    g0 = np.diff(_orders(m0.events)["ts"]) / 1e9
    assert abs((g0 < 5 * delay).mean() - (1 - math.exp(-_DEEP["noise_rate"] * 5 * delay))) < 0.03


def test_odd_lot_mixture_gives_its_share_mean_and_median():
    """odd_share of the market orders are geometric odd lots of mean odd_qty (median about odd_qty ln 2), the
    rest round lots: the mixture's mean is the weighted mean of the parts."""
    lot, share, odd = 100, 0.45, 30.0
    m = generate_market("quiet", 150_000, 9, round_lot=lot, odd_share=share, odd_qty=odd,
                        **{**_DEEP, "noise_qty": 60.0, "level_qty": 800.0, "order_qty": 80.0})
    q = _orders(m.events)["qty"]
    small = q % lot != 0
    assert len(q) > 1000
    assert abs(small.mean() - share * (1 - (1 - 1 / odd) ** lot)) < 0.04   # an odd draw of 100, 200 ... is round
    assert abs(q[q < lot].mean() / odd - 1) < 0.1
    assert abs(np.median(q[q < lot]) - odd * math.log(2)) <= 3
    big = lot / (1 - (1 - 1 / 60.0) ** lot)
    assert abs(q.mean() / (share * odd + (1 - share) * big) - 1) < 0.08
    assert np.median(q) == lot


def test_lp_reactions_move_the_other_side_after_a_market_order():
    """lp_react: the LPs on the side the aggressor did not hit requote at their (moved) anchor right after it,
    so the other side's quote follows the aggressor within mo_delay; without it, LP actions come at lp_rate."""
    from mmsim.analysis.stylised import stylised_facts

    kw = dict(_DEEP, lp_rate=5.0, lp_impact=2.0, level_qty=60.0, order_qty=20.0, half_spread=3.0)
    slow = stylised_facts(generate_market("quiet", 40_000, 10, **kw).events).values
    fast = stylised_facts(generate_market("quiet", 40_000, 10, lp_react=2.0, **kw).events).values
    assert fast["markout_100ms"] > slow["markout_100ms"] + 0.2      # measured 0.45 vs 0.15


def test_touch_mult_deepens_the_first_level():
    from mmsim.analysis.stylised import stylised_facts

    kw = dict(half_spread=2.0, level_qty=40.0, order_qty=8.0, level_growth=0.0)
    d1 = stylised_facts(generate_market("quiet", 80_000, 11, **kw).events).values["depth_1"]
    d2 = stylised_facts(generate_market("quiet", 80_000, 11, touch_mult=2.0, **kw).events).values["depth_1"]
    assert d2 > 1.3 * d1


def test_p_trim_cuts_levels_above_their_targets():
    """p_trim: LP actions that cancel the excess of the level most above its target. With a deep first-level
    target the old touch, once the anchor moves, keeps its size without trimming (depth_2 follows depth_1)."""
    from mmsim.analysis.stylised import stylised_facts

    kw = dict(half_spread=2.0, level_qty=40.0, order_qty=8.0, level_growth=0.0, touch_mult=2.5)
    keep = stylised_facts(generate_market("quiet", 80_000, 12, **kw).events).values
    trim = stylised_facts(generate_market("quiet", 80_000, 12, p_trim=0.5, **kw).events).values
    assert trim["depth_2"] < 0.85 * keep["depth_2"]
    assert trim["depth_1"] / trim["depth_2"] > keep["depth_1"] / keep["depth_2"]


def test_touch_qty_makes_first_level_orders_larger_and_deepens_the_touch():
    """Ground truth: LP orders at the first level (d = 0: the anchor, the LPs' touch) have mean order_qty x
    touch_qty, the others order_qty; with the same targets the touch is refilled in fewer actions."""
    from mmsim.analysis.stylised import stylised_facts

    kw = dict(half_spread=2.0, level_qty=40.0, order_qty=8.0, level_growth=0.0, noise_rate=6.0, noise_qty=15.0,
              informed_rate=0.0, lp_rate=60.0, jump_rate=0.0, sigma=0.0)
    base = generate_market("quiet", 80_000, 13, **kw)
    big = generate_market("quiet", 80_000, 13, touch_qty=3.0, **kw)
    # sigma 0, no informed flow, lp_impact 0.05: the anchors stay put, so the first level is a fixed price a side
    for m, mult in ((base, 1.0), (big, 3.0)):
        ev = m.events
        add = ev[(ev["kind"] == R.ADD) & (ev["order_id"] > 0)]
        bid, ask = add[add["side"] == R.BID], add[add["side"] == R.ASK]
        b1, a1 = bid["price"].max(), ask["price"].min()   # the anchors (nothing is ever added inside them)
        first = np.r_[bid["qty"][bid["price"] == b1], ask["qty"][ask["price"] == a1]]
        rest = np.r_[bid["qty"][bid["price"] < b1], ask["qty"][ask["price"] > a1]]
        assert len(first) > 300 and len(rest) > 300
        assert abs(first.mean() / (8.0 * mult) - 1) < 0.12, (mult, first.mean())
        assert abs(rest.mean() / 8.0 - 1) < 0.12, (mult, rest.mean())
    d0 = stylised_facts(base.events).values["depth_1"]
    d1 = stylised_facts(big.events).values["depth_1"]
    assert d1 > 1.15 * d0, (d0, d1)


def test_slow_informed_trade_on_the_fair_value_far_ahead():
    """Ground truth: a slow informed look sees v(t + slow_horizon) and buys (sells) only when it is more than
    slow_threshold above (below) the mid: its orders are flagged informed, their sign is the sign of the fair
    value's move over the next slow_horizon every time it exceeds the threshold by the mid's distance to v, and the
    mid markout of the informed orders rises from 1 s to slow_horizon (no fast informed traders here)."""
    hz, thr = 20.0, 6.0
    kw = dict(_DEEP, sigma=1.0, slow_rate=0.5, slow_horizon=hz, slow_threshold=thr, lp_lag=0.2)
    m = generate_market("quiet", 200_000, 14, **kw)
    ev = m.events
    mo = _orders(ev)
    inf = (ev["flags"][mo["first"]] & R.FLAG_INFORMED) != 0
    span = (int(ev["exch_ts"][-1]) - int(ev["exch_ts"][0])) / 1e9
    assert inf.sum() > 50 and abs((~inf).sum() / span / 2.0 - 1) < 0.1       # noise orders at their own rate
    ts = ev["exch_ts"]
    first = mo["first"][inf]
    ahead = np.searchsorted(ts, ts[first] + int(hz * 1e9), "right") - 1
    ok = ahead < len(ev) - 1
    move = m.truth[ahead[ok]] - m.truth[first[ok] - 1]
    assert (np.sign(move) == mo["aggr"][inf][ok]).mean() > 0.97          # they know where v will be
    assert (np.abs(move) > thr - 3.0).mean() > 0.97                     # and trade only on a large gap
    top = top_of_book(ev)
    mid = 0.5 * (top["bid_px"] + top["ask_px"])

    def markout(h: float) -> float:
        j = np.searchsorted(ts, ts[first] + int(h * 1e9), "right") - 1
        k = j < len(ev) - 1
        return float((mo["aggr"][inf][k] * (mid[j[k]] - mid[first[k] - 1])).mean())
    assert markout(hz) > markout(1.0) + 3.0                              # the move comes over tens of seconds
    # off by default, and the default horizon only matters when on
    off = generate_market("quiet", 20_000, 14, **{**kw, "slow_rate": 0.0})
    assert not ((off.events["flags"] & R.FLAG_INFORMED) != 0).any()


def test_level_gap_and_round_lot_are_checked():
    for kw, text in (({"level_gap": 0}, "level_gap must be in"), ({"level_gap": 1.5}, "whole number"),
                     ({"level_gap": 20, "n_levels": 30}, "n_levels \\* level_gap"),
                     ({"round_lot": 0}, "round_lot must be in"), ({"level_growth": -0.5}, "level_growth must be"),
                     ({"mo_branch": 0.99}, "mo_branch must be"), ({"odd_share": 1.5}, "odd_share must be"),
                     ({"impact": -1.0}, "impact must be"), ({"lp_react": 5.0}, "lp_react must be"),
                     ({"touch_mult": 0.0}, "touch_mult must be"), ({"mo_delay": 0.0}, "mo_delay must be"),
                     ({"p_trim": 2.0}, "p_trim must be"), ({"touch_qty": 0.0}, "touch_qty must be"),
                     ({"slow_rate": -1.0}, "slow_rate and slow_threshold"), ({"slow_horizon": 0.0}, "slow_horizon must be"),
                     ({"slow_rate": 1.0, "slow_horizon": 200.0}, "slow_horizon must be <= 120")):
        with pytest.raises(ValueError, match=text):
            generate_market("quiet", 10, **kw)


@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_every_preset_simulates(preset):
    m = generate_market(preset, 60_000, seed=5)
    res = simulate(m.events, Instrument(tick_size=0.01), "symmetric:half_spread=1,size=1",
                   feed_latency="1ms", entry_latency="1ms", cancel_latency="1ms", response_latency="1ms",
                   timer_interval_ns=100_000_000)
    s = res.summary
    assert s["n_events"] == 60_000 and s["mode"] == ("l2" if preset == "avellaneda_stoikov" else "l3")
    assert s["n_fills"] > 0 and s["repaired_crossed_levels"] == 0


# --------------------------------------------------------------------------------------------- ground truth
@pytest.mark.parametrize("preset", L3_PRESETS)
def test_informed_labels_present(preset):
    ev = market(preset).events
    mo = market_orders(ev)
    share = mo.informed.mean()
    assert 0.03 < share < 0.6, share
    ex = ev["kind"] == R.EXECUTE
    assert (((ev["flags"] & R.FLAG_INFORMED) != 0) <= ex).all()   # only executions are labelled


@pytest.mark.parametrize("preset", ["toxic_burst", "fast_perp", "slow_equity"])
def test_informed_share_rises_in_toxic_bursts(preset):
    m = market(preset)
    mo = market_orders(m.events)
    reg = m.regime[mo.row.to_numpy()]
    assert (reg == REGIME_BURST).sum() > 100 and (reg == REGIME_CALM).sum() > 100
    calm = mo.informed[reg == REGIME_CALM].mean()
    burst = mo.informed[reg == REGIME_BURST].mean()
    assert burst > 2 * calm and burst > 0.3, (calm, burst)
    # rows in bursts are a minority of the run
    assert 0.05 < (m.regime == REGIME_BURST).mean() < 0.5


@pytest.mark.parametrize("preset", L3_PRESETS)
def test_informed_trades_are_toxic(preset):
    """Markouts (ticks, in the aggressor's direction, from the mid just before the market order): the mid and the
    fair value h later are well beyond it after informed trades, and about flat after noise trades (h = 1 and 5
    times the preset's time scale: 1 s and 5 s for the original presets)."""
    m = market(preset)
    top = replayed(preset)
    mid = 0.5 * (top.bid_px + top.ask_px).to_numpy(float)
    mid[(top.bid_px <= 0).to_numpy() | (top.ask_px <= 0).to_numpy()] = np.nan   # a side empty (rare in bursts)
    ts = m.events["exch_ts"]
    mo = market_orders(m.events)
    before = mo.row.to_numpy() - 1
    a = mo.aggr.to_numpy()
    inf = mo.informed.to_numpy()
    for h in (scale_ns(preset), 5 * scale_ns(preset)):
        after = np.searchsorted(ts, mo.ts.to_numpy() + h, side="right") - 1
        ok = (after < len(ts) - 1) & np.isfinite(mid[after]) & np.isfinite(mid[before])
        mid_mark = a * (mid[after] - mid[before])
        fv_mark = a * (m.truth[after] - mid[before])
        mi, mn = mid_mark[ok & inf].mean(), mid_mark[ok & ~inf].mean()
        fi, fn = fv_mark[ok & inf].mean(), fv_mark[ok & ~inf].mean()
        assert mi > 0.5 and mi > mn + 0.5, (h, mi, mn)
        assert fi > 1.0 and fi > fn + 1.0, (h, fi, fn)
        assert abs(mn) < 0.2 and abs(fn) < 0.3, (h, mn, fn)


# --------------------------------------------------------------------------------------------- OFI
def ofi_table(top: pd.DataFrame, interval_ns: int = SEC) -> pd.DataFrame:
    """Cont–Kukanov–Stoikov level-1 OFI per interval, with that interval's and the next interval's mid change."""
    last = np.r_[top.ts.to_numpy()[1:] != top.ts.to_numpy()[:-1], True]   # end of each timestamp group
    b = top[last & (top.bid_px > 0).to_numpy() & (top.ask_px > 0).to_numpy()].reset_index(drop=True)
    pb, qb, pa, qa = b.bid_px, b.bid_qty, b.ask_px, b.ask_qty
    e = ((pb >= pb.shift()) * qb - (pb <= pb.shift()) * qb.shift()
         - (pa <= pa.shift()) * qa + (pa >= pa.shift()) * qa.shift()).fillna(0.0)
    bucket = (b.ts - b.ts.iloc[0]) // interval_ns
    g = pd.DataFrame({"ofi": e, "mid": 0.5 * (pb + pa), "bucket": bucket}).groupby("bucket").agg(
        ofi=("ofi", "sum"), mid=("mid", "last"))
    g = g.reindex(range(int(bucket.iloc[-1]) + 1))
    g["mid"] = g.mid.ffill()
    g["ofi"] = g.ofi.fillna(0.0)
    g["dmid"] = g.mid.diff()
    g["dmid_next"] = g.dmid.shift(-1)
    return g.iloc[1:-1]


@pytest.mark.parametrize("preset", L3_PRESETS)
def test_ofi_predicts_the_next_mid_move(preset):
    """Over intervals of the preset's time scale (1 s for the original presets, 10 ms for fast_perp)."""
    g = ofi_table(replayed(preset), scale_ns(preset))
    assert len(g) > 600
    c_next = np.corrcoef(g.ofi, g.dmid_next)[0, 1]
    c_now = np.corrcoef(g.ofi, g.dmid)[0, 1]
    # slope of the regression of the next mid change on OFI is positive, and clearly so
    slope = np.polyfit(g.ofi, g.dmid_next, 1)[0]
    assert c_next > 0.1 and slope > 0, (preset, c_next)
    assert c_now ** 2 > 0.4, (preset, c_now)
    # the module's helper (used for docs/synthetic.md) computes the same figures
    st = ofi_stats(market(preset).events, scale_ns(preset))
    assert st["intervals"] == len(g)
    assert st["corr_next"] == pytest.approx(c_next, abs=1e-9) and st["corr_now"] == pytest.approx(c_now, abs=1e-9)


# --------------------------------------------------------------------------------------------- time scales
#: docs/synthetic.md, "Time scales": the OFI-predictiveness curve peaks within this factor of max(lp_lag,
#: informed_horizon), and rises to half its peak between 1/30 of that scale and the scale itself.
DECAY_FACTOR = 3.0


def decay_grid(scale: float) -> np.ndarray:
    """Horizons scale/31.6 ... 3.16 x scale, 8 per decade (longer ones are noisy on 300k rows of the slow presets)."""
    return scale * 10.0 ** (np.arange(-12, 5) / 8)


@lru_cache(maxsize=None)
def decay(preset: str) -> dict:
    return ofi_decay(market(preset).events, decay_grid(PRESETS[preset].signal_scale), max_samples=200_000)


@pytest.mark.parametrize("preset", L3_PRESETS)
def test_ofi_predictiveness_peaks_at_the_presets_time_scale(preset):
    scale = PRESETS[preset].signal_scale
    d = decay(preset)
    assert d["peak_corr"] > 0.15, d["peak_corr"]
    # the peak is inside the grid (the curve turns down before 3.16 x scale) and near the scale
    assert scale / DECAY_FACTOR <= d["peak_s"] <= 2 * scale, (d["peak_s"], scale)
    # it builds up over the scale: half the peak is reached between scale / 30 and the scale
    assert scale / 30 <= d["half_lo_s"] <= scale, (d["half_lo_s"], scale)
    # at the shortest horizon (scale / 31.6) it is at most a third of the peak
    assert d["corr"][0] < d["peak_corr"] / 3


def test_fast_perp_signal_decays_within_tens_of_ms():
    """fast_perp: peak at 10-20 ms, half-decayed by 0.1 s, when toxic_burst's predictiveness has barely started;
    its peak horizon is at least 10x shorter than toxic_burst's."""
    fast = ofi_decay(market("fast_perp").events, 10.0 ** (np.arange(-24, -4) / 8), max_samples=200_000)
    tb = decay("toxic_burst")
    assert 0.005 <= fast["peak_s"] <= 0.03 and fast["peak_corr"] > 0.3, fast
    assert fast["half_lo_s"] < 0.008 and fast["half_hi_s"] < 0.1, fast
    assert 10 * fast["peak_s"] <= tb["peak_s"], (fast["peak_s"], tb["peak_s"])
    assert fast["half_hi_s"] < tb["half_lo_s"], (fast["half_hi_s"], tb["half_lo_s"])
    # slow_equity lies in between: 100 ms - 1 s
    assert 0.1 <= decay("slow_equity")["peak_s"] <= 0.5


def test_ofi_decay_matches_ofi_stats_and_checks_horizons():
    ev = market("toxic_burst").events
    d = ofi_decay(ev, (0.5, 1.0, 2.0), overlap=1)
    for k, h in enumerate((0.5, 1.0, 2.0)):
        st = ofi_stats(ev, int(h * SEC))   # the same intervals (up to the first and last), not overlapping
        assert d["corr"][k] == pytest.approx(st["corr_next"], abs=0.01), (h, d["corr"][k], st["corr_next"])
        assert d["intervals"][k] == pytest.approx(st["intervals"], rel=0.01)
    for bad in ((), (1.0, 0.5), (0.0, 1.0)):
        with pytest.raises(ValueError, match="horizons"):
            ofi_decay(ev[:1000], bad)


def test_time_scaled_market_is_the_same_market_on_a_faster_clock():
    """MarketParams.time_scaled(c): every time constant x c, rates / c, sigma / sqrt(c). The kernel has no other
    clock: the rows are the same as the original's until a nanosecond rounding first changes a draw, and the
    OFI-predictiveness curve is the original's with horizons x c."""
    p = PRESETS["toxic_burst"]
    a = market("toxic_burst").events
    for c in (0.1, 0.01):
        q = p.time_scaled(c)
        assert q.lp_lag == p.lp_lag * c and q.v_dt == p.v_dt * c and q.lp_rate == p.lp_rate / c
        assert q.burst_len == p.burst_len * c and q.sigma == pytest.approx(p.sigma / math.sqrt(c))
        b = generate_market(q, N_OFI, 3).events
        same = np.ones(len(a), bool)
        for k in ("kind", "side", "price", "qty", "order_id", "flags"):
            same &= a[k] == b[k]
        n_same = int(np.argmin(same))
        assert n_same >= 100, (c, n_same)   # the initial book is ~50 rows; 140-2500 over seeds 0-11
        ta = (a["exch_ts"][:n_same] - a["exch_ts"][0]).astype(float)
        tb = (b["exch_ts"][:n_same] - b["exch_ts"][0]).astype(float)
        assert np.allclose(tb, c * ta, rtol=1e-5, atol=1e3)
        da = decay("toxic_burst")
        db = ofi_decay(b, decay_grid(p.signal_scale) * c, max_samples=200_000)
        assert db["peak_s"] / c == pytest.approx(da["peak_s"], rel=0.4), (c, db["peak_s"], da["peak_s"])
        # two paths of the same market: the curves differ by noise only (mean 0.01-0.08 over seeds 0-19)
        assert np.nanmean(np.abs(db["corr"] - da["corr"])) < 0.1, (c, db["corr"], da["corr"])
    with pytest.raises(ValueError, match="c must be"):
        p.time_scaled(0.0)


def test_v_dt_is_checked_and_the_default_keeps_the_old_markets():
    assert all(PRESETS[n].v_dt == 0.01 for n in ("quiet", "toxic_burst", "news_jump", "trending", "latency_spike"))
    with pytest.raises(ValueError, match="v_dt must be in"):
        generate_market("quiet", 10, v_dt=0.0)
    with pytest.raises(ValueError, match="informed_horizon / v_dt"):
        generate_market("quiet", 10, v_dt=1e-5, informed_horizon=60.0)
    # the fair value is constant between grid points of v_dt
    m = generate_market("quiet", 20_000, 1, v_dt=0.05)
    t = (m.events["exch_ts"] - m.events["exch_ts"][0]) * 1e-9    # as the kernel computes it
    change = np.flatnonzero(np.diff(m.truth) != 0) + 1
    grid = np.floor(t / 0.05)
    assert len(change) > 100 and (grid[change] != grid[change - 1]).all()


def test_news_windows_follow_jumps_even_with_long_gaps_between_rows():
    """With a fine grid (v_dt = 0.1 ms) and few rows per second, one gap between rows spans more grid points than
    the kernel's ring holds: every jump must still open its news window, and no window opens before its jump.
    With sigma = 0 the fair value changes only at jumps."""
    m = generate_market("news_jump", 20_000, 2, sigma=0.0, jump_rate=0.5, v_dt=1e-4, informed_horizon=0.005,
                        lp_rate=40.0, news_window=0.5)
    t = (m.events["exch_ts"] - m.events["exch_ts"][0]) * 1e-9
    jump_rows = np.flatnonzero(np.diff(m.truth) != 0) + 1
    assert len(jump_rows) > 50
    assert (m.regime[jump_rows] == 2).all()     # a jump opens a news window at once
    news = np.flatnonzero(m.regime == 2)
    last_jump = jump_rows[np.searchsorted(jump_rows, news, side="right") - 1]
    assert (news >= jump_rows[0]).all() and (t[news] - t[last_jump] <= 0.5 + 0.01).all()


# --------------------------------------------------------------------------------------------- Avellaneda–Stoikov
def test_as_print_intensity_matches_A_exp_minus_k_delta():
    p = PRESETS["avellaneda_stoikov"]
    m = generate_market("avellaneda_stoikov", 1_000_000, seed=2)
    ev = m.events
    top = top_of_book(ev)
    # the book: constant levels, best bid M-1, best ask M+1 around the integer mid M (after each timestamp)
    ts = ev["exch_ts"]
    end = np.r_[ts[1:] != ts[:-1], False]      # the last group may be cut short by n_rows
    assert (top["ask_px"] - top["bid_px"] == 2)[end].all()
    assert ((top["ask_px"] > top["bid_px"]) & (top["bid_px"] > 0)).sum() >= len(ev) - 2 * p.n_levels
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for i, (k, s, px, q) in enumerate(ev[["kind", "side", "price", "qty"]][:30_000].tolist()):
        if k == R.DEPTH:
            book = bids if s == 1 else asks
            if q:
                book[px] = q
            else:
                del book[px]
        if bids and asks:
            assert (top["bid_px"][i], top["ask_px"][i]) == (max(bids), min(asks))
    assert set(np.unique(ev["qty"][ev["kind"] == R.DEPTH]).tolist()) <= {0, p.level_qty}
    tr = np.flatnonzero(ev["kind"] == R.TRADE)
    assert (tr > 0).all()
    M = (top["bid_px"][tr - 1] + 1)            # the mid when the market order arrived
    aggr = ev["side"][tr].astype(np.int64)
    reach = aggr * (ev["price"][tr] - M)        # floor(D) + 1 ticks: a quote j ticks away fills iff j < reach
    units = (ev["exch_ts"][-1] - ev["exch_ts"][0]) / 1e9 / p.time_unit_s
    for j in (1, 10, 25, 50, 100, 150, 200):
        delta = j * p.tick_size
        expected = 2 * p.A * math.exp(-p.k * delta) * units     # both sides
        got = int((reach > j).sum())
        assert abs(got - expected) < 4 * math.sqrt(expected), (j, got, expected)
    # the log-linear fit gives back k
    js = np.arange(0, 300, 10)
    counts = np.array([(reach > j).sum() for j in js])
    k_hat = -np.polyfit(js * p.tick_size, np.log(counts), 1)[0]
    assert k_hat == pytest.approx(p.k, rel=0.06)
    # the mid is Brownian with sigma per sqrt(time unit)
    mid = m.truth[np.r_[True, np.diff(m.truth) != 0]]
    t_units = units / len(mid)
    sig = np.std(np.diff(mid)) / math.sqrt(t_units) * p.tick_size
    assert sig == pytest.approx(p.sigma, rel=0.05)


def test_as_engine_fills_a_quote_delta_away_at_A_exp_minus_k_delta():
    """A symmetric quote 50 ticks (0.5 price units) from the mid, zero latency: fills per side = A·e^{-0.75}·T."""
    p = PRESETS["avellaneda_stoikov"]
    m = generate_market("avellaneda_stoikov", 300_000, seed=4)
    res = simulate(m.events, Instrument(tick_size=p.tick_size), "symmetric:half_spread=50,size=1")
    units = (m.events["exch_ts"][-1] - m.events["exch_ts"][0]) / 1e9 / p.time_unit_s
    expected = p.A * math.exp(-p.k * 0.5) * units
    f = res.fills
    assert (f.cause == R.CAUSE_TRADE_THROUGH).all()
    for side in (1, -1):
        got = int((f.side == side).sum())
        assert abs(got - expected) < 4 * math.sqrt(expected), (side, got, expected)


# --------------------------------------------------------------------------------------------- scenarios
def test_bundled_scenarios_for_every_preset():
    names = set(list_scenarios())
    for preset in ALL_PRESETS:
        if preset == "quiet":
            continue  # scenarios/quiet.toml is the simple L2 market (mmsim.data.synthetic); the quiet preset runs
            #           behind latency_spike
        assert preset in names
        sc = load_scenario(preset)
        assert sc.source["kind"] == "synthetic_market" and sc.source["preset"] == preset
        assert sc.source["n_rows"] <= 300_000 and sc.strategy == "symmetric:half_spread=1,size=1"
        ev, inst = sc.load_events(limit=3000)
        assert len(ev) == 3000 and inst.tick_size == 0.01
        assert ev.tobytes() == generate_market(preset, 3000, sc.source["seed"]).events.tobytes()
    assert load_scenario("latency_spike").latency["feed"].startswith("regime:")


def test_mmsim_run_each_scenario(tmp_path, capsys):
    from mmsim.cli import main

    for name in ("toxic_burst", "news_jump", "trending", "latency_spike", "avellaneda_stoikov", "fast_perp",
                 "slow_equity"):
        out = tmp_path / name
        assert main(["run", name, "--rows", "20000", "--no-progress", "--out", str(out)]) == 0
        assert (out / "summary.json").is_file() and (out / "fills.parquet").is_file()
    capsys.readouterr()


SC = """
[scenario]
name = "m"
[instrument]
tick_size = 0.01
[source]
kind = "synthetic_market"
n_rows = 1000
"""


@pytest.mark.parametrize("extra, text", [
    ("", "[source] preset: missing"),
    ("preset = 'calm'\n", "[source] preset: 'calm' must be one of 'quiet'"),
    ("preset = 3\n", "[source] preset: expected a string, got 3"),
    ("preset = 'quiet'\nA = 100.0\n", "[source] A: unknown key"),
    ("preset = 'avellaneda_stoikov'\nnoise_rate = 1.0\n", "[source] noise_rate: unknown key"),
    ("preset = 'avellaneda_stoikov'\ntick_size = 0.1\n", "[source] tick_size: unknown key"),
    ("preset = 'quiet'\nn_levels = 2.5\n", "[source] n_levels: expected an integer, got 2.5"),
    ("preset = 'quiet'\nsigma = 'high'\n", "[source] sigma: expected a finite number, got 'high'"),
    ("preset = 'quiet'\nn_levels = 0\n", "[source]: generate_market: n_levels must be in [1, 64]"),
    ("preset = 'quiet'\npath = 'x.parquet'\n", "[source] path: not a parameter of kind = \"synthetic_market\""),
])
def test_scenario_schema_is_strict(tmp_path, extra, text):
    p = tmp_path / "m.toml"
    p.write_text(textwrap.dedent(SC) + extra)
    with pytest.raises(ConfigError) as e:
        load_scenario(p)
    assert str(e.value).startswith(str(p)) and text in str(e.value), str(e.value)


def test_scenario_overrides_reach_the_generator(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text(textwrap.dedent(SC) + "preset = 'quiet'\nseed = 4\nn_levels = 3\nnoise_rate = 8\n")
    ev, _ = load_scenario(p).load_events()
    assert ev.tobytes() == generate_market("quiet", 1000, 4, n_levels=3, noise_rate=8.0).events.tobytes()
    p.write_text(textwrap.dedent(SC).replace("0.01", "0.05") + "preset = 'avellaneda_stoikov'\nA = 100\n")
    sc = load_scenario(p)
    ev, _ = sc.load_events()
    assert ev.tobytes() == generate_market("avellaneda_stoikov", 1000, 0, A=100.0, tick_size=0.05).events.tobytes()
