"""A synthetic market with ground truth: ``generate_market(preset, n_rows, seed) -> Market``.

Two models, both single ``@njit`` passes over preallocated columns (several million rows per second), both
deterministic for a seed (an own splitmix64 stream inside the kernel, seeded from
``numpy.random.default_rng(seed)``: the same seed gives byte-identical events).

**L3 order-flow market** (presets ``quiet``, ``toxic_burst``, ``news_jump``, ``trending``,
``latency_spike``, ``fast_perp``, ``slow_equity``; docs/synthetic.md has the model, the parameters and the
measured figures):

- A latent **fair value** ``v`` (ticks) on a grid of ``v_dt`` s (10 ms): Gaussian diffusion (``sigma`` ticks per √s),
  ``drift`` (ticks per s) and jumps (``jump_rate`` per s, size ``jump_ticks`` x (1 + Exp(1)), random sign).
- **Liquidity providers** quote around a reference price ``r`` that follows ``v`` with a lag (exponential,
  time constant ``lp_lag`` s) and shifts by ``lp_impact`` ticks on every market order (they learn from the
  flow but cannot tell who is informed). Anchors: bid ``floor(r - half_spread)``, ask ``ceil(r +
  half_spread)``, each rounded (down for the bid, up for the ask) to a multiple of ``level_gap`` ticks; the
  levels are ``level_gap`` ticks apart (1: contiguous; with a gap every resting price is a multiple of it, so
  a market order that empties a level moves that side by the gap). Each LP action (``lp_rate`` per s, one
  row) either deletes a stale order (a bid above the anchor or an ask below it, with probability
  ``p_stale``; orders more than ``n_levels`` levels behind the anchor always), or works one of ``n_levels``
  levels: ``ADD`` an order (geometric size, mean ``order_qty``) while the level holds less than its target
  (``level_qty`` x (1 + ``level_growth`` x level), 0.3 by default), else ``CANCEL`` part of or
  ``DELETE`` one of its orders. With probability ``p_refill`` the level worked is the one furthest below
  its target: levels are refilled after being hit. A new order never locks or crosses the book.
- **Noise traders** send market orders (``noise_rate`` per s, random side, mean size ``noise_qty``).
  Every market order's drawn size is rounded up to a multiple of ``round_lot`` lots (1: the geometric draw).
- **Order-flow continuation** (all off by default): ``impact`` ticks of permanent impact on the fair value per
  market order; with chance ``mo_branch`` a market order is followed by another of the same sign after an
  exponential delay of mean ``mo_delay`` s; ``lp_react`` LP actions on the side not hit requote at its anchor
  after such a delay; ``odd_share`` of the market orders are odd lots (geometric, mean ``odd_qty``, not
  rounded); the first level's target is ``level_qty`` x ``touch_mult``; with chance ``p_trim`` an LP action
  trims the level most above its target; LP orders at the first level have mean ``order_qty`` x ``touch_qty``;
  a slow informed class (``slow_rate`` looks per s at the fair value ``slow_horizon`` s ahead, trading beyond
  ``slow_threshold`` ticks). docs/synthetic.md has the details.
- **Informed traders** look ``informed_rate`` times per s (x ``burst_mult`` in a toxic burst,
  x ``news_mult`` for ``news_window`` s after a jump) at the fair value ``informed_horizon`` s ahead; when
  it is more than ``informed_threshold`` ticks away from the mid they send a market order that way (mean
  size ``informed_qty``), limited at that future fair value.
- A market order executes FIFO, best price first: one ``EXECUTE`` row per resting order touched
  (``order_id``, ``side``, ``price`` of the resting order), all at one timestamp, ``flags =
  FLAG_INFORMED`` for an informed aggressor. Each action (an LP row, a whole market order, the opening book)
  is one exchange message: its last row carries ``FLAG_MSG_END``.
- **Toxic bursts**: a two-state regime on the fair-value grid (calm -> burst at ``burst_rate`` per s, mean
  burst ``burst_len`` s); in a burst the fair value is ``burst_vol`` times as volatile.
- **Time scales**: order flow predicts the mid over about ``max(lp_lag, informed_horizon)`` (1 s in the
  original presets, 10 ms in ``fast_perp``, 0.2 s in ``slow_equity``; :func:`ofi_decay` measures it). The kernel
  has no other clock: :meth:`MarketParams.time_scaled` gives the same market c times as fast.

Guarantees (tests/test_market.py): exactly ``n_rows`` rows (a market order cut by the end is simply
shorter); ``recv_ts = NO_TS``; timestamps non-decreasing; ids unique, every referenced id live, ``DELETE``
qty = remaining, ``CANCEL`` qty < remaining, ``EXECUTE`` qty <= remaining and always of the first order in
its level's queue at the best price; the book is never crossed or locked after *any* row (so every prefix
is valid data too); prices > 0.

**Avellaneda–Stoikov market** (preset ``avellaneda_stoikov``, L2): the mid is Brownian motion
``S`` (``sigma`` price units per √time-unit, ``time_unit_s`` seconds per unit), shown as ``n_levels``
DEPTH levels of constant size ``level_qty`` per side around the integer mid ``M = round(S)`` (best bid
``M - 1``, best ask ``M + 1``). Buy and sell market orders each arrive at rate ``A`` per time unit and
reach a depth ``D ~ Exp(k)``, so one reaches depth >= δ with intensity ``A·e^{-kδ}``; it prints a
``TRADE`` of ``trade_qty`` lots at ``M ± (floor(D) + 1)`` ticks, the deepest price it reached (it took
part of that level's queue), at its own timestamp (the mid moves only at its own samples, ``mid_rate``
per s). A quote at ``M + j`` is strictly better than that print exactly when
``j <= D``, so the engine's trade-through rule (docs/fills.md, rule T) fills it with intensity
``A·e^{-k·j·tick}``. Defaults are the paper's: s0 = 100, σ = 2, A = 140, k = 1.5, T = 1, tick 0.01.

``Market.truth`` is the fair value in ticks after each row (the Brownian mid ``S`` for the A–S market);
``Market.regime`` is 0 (calm), 1 (toxic burst) or 2 (news window, after a fair-value jump) per row.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
from numba import njit

from mmsim.data._rng import exp1, normal, uniform

from mmsim.data.messages import message_ends
from mmsim.records import (ADD, ASK, BID, CANCEL, DELETE, DEPTH, EVENT_DTYPE, EXECUTE, FLAG_INFORMED, FLAG_MSG_END,
                           NO_TS, TRADE)

__all__ = ["MarketParams", "ASMarketParams", "Market", "PRESETS", "generate_market", "preset_params",
           "preset_names", "top_of_book", "ofi_stats", "ofi_decay", "DECAY_HORIZONS", "market_orders",
           "REGIME_CALM", "REGIME_BURST", "REGIME_NEWS"]

REGIME_CALM = 0
REGIME_BURST = 1
REGIME_NEWS = 2

#: Price slots per side in the kernel's ring of levels; the span of resting prices on one side must stay
#: below half of it (LPs delete orders far behind their anchor long before).
_RING = 1 << 12
#: Most orders one level may hold.
_K = 32
#: Most fair-value grid points the kernel keeps ahead of the clock (``informed_horizon / v_dt``).
_MAX_GRID_AHEAD = 1 << 22


# --------------------------------------------------------------------------------------------- params
@dataclass(frozen=True)
class MarketParams:
    """Parameters of the L3 order-flow market (ticks, lots, seconds). See the module docstring."""

    base_price: int = 10_000           #: initial fair value, ticks
    start_ts: int = 34_200_000_000_000  #: first exchange timestamp, ns (09:30 as ns of day)
    sigma: float = 0.6                 #: fair-value diffusion, ticks per sqrt(second)
    drift: float = 0.0                 #: fair-value drift, ticks per second
    jump_rate: float = 0.002           #: fair-value jumps per second
    jump_ticks: float = 2.0            #: jump size scale: jump_ticks * (1 + Exp(1)) ticks, random sign
    lp_rate: float = 350.0             #: LP actions (one row each) per second
    lp_lag: float = 1.0                #: time constant of the LPs' reference price following v, seconds
    lp_impact: float = 0.05            #: ticks the LPs' reference moves per market order, its direction
    half_spread: float = 0.25          #: LP anchors: bid floor(r - h), ask ceil(r + h), ticks
    n_levels: int = 5                  #: levels per side the LPs keep
    level_gap: int = 1                 #: ticks between the LPs' price levels (1: contiguous levels)
    level_qty: float = 12.0            #: target lots at the first level (x (1 + level_growth level) deeper)
    level_growth: float = 0.3          #: growth of the LPs' level targets per level behind the first
    order_qty: float = 4.0             #: mean LP order size, lots
    p_refill: float = 0.5              #: chance an LP action works the level most below its target
    p_stale: float = 0.5               #: chance an LP action deletes a stale (too aggressive) order if any
    noise_rate: float = 3.0            #: noise market orders per second
    noise_qty: float = 4.0             #: mean noise market order size, lots
    round_lot: int = 1                 #: market order sizes rounded up to a multiple of this, lots (1: as drawn)
    informed_rate: float = 3.0         #: informed traders' looks per second (calm regime)
    informed_qty: float = 6.0          #: mean informed market order size, lots
    informed_horizon: float = 1.0      #: how far ahead the informed see the fair value, seconds
    informed_threshold: float = 1.25   #: |v(t + horizon) - mid| that makes them trade, ticks
    burst_rate: float = 0.0            #: calm -> toxic burst transitions per second
    burst_len: float = 10.0            #: mean toxic burst duration, seconds
    burst_mult: float = 10.0           #: informed look rate multiplier in a burst
    burst_vol: float = 1.0             #: fair-value volatility multiplier in a burst
    news_window: float = 0.0           #: seconds after a jump with news_mult x informed looks
    news_mult: float = 1.0             #: informed look rate multiplier in a news window
    v_dt: float = 0.01                 #: fair-value grid step, seconds (v is constant between grid points)
    impact: float = 0.0                #: permanent impact: ticks the fair value moves per market order, its way
    mo_branch: float = 0.0             #: chance a market order is followed by another of the same sign
    mo_delay: float = 0.01             #: mean delay of that follow-up order, seconds (exponential)
    odd_share: float = 0.0             #: share of market orders of an odd-lot size (not rounded to round_lot)
    odd_qty: float = 20.0              #: mean odd-lot market order size, lots (geometric)
    lp_react: float = 0.0              #: LP actions on the side opposite the aggressor each market order triggers
    touch_mult: float = 1.0            #: target at the LPs' first level, x level_qty (deeper: the growth line)
    p_trim: float = 0.0                #: chance an LP action trims the level most above its target, if any
    touch_qty: float = 1.0             #: mean size of an LP order at the LPs' first level, x order_qty
    slow_rate: float = 0.0             #: slow informed traders' looks per second (0: none)
    slow_horizon: float = 30.0         #: how far ahead the slow informed see the fair value, seconds
    slow_threshold: float = 10.0       #: |v(t + slow_horizon) - mid| that makes them trade, ticks

    model = "l3"

    #: Parameters in seconds (x c in :meth:`time_scaled`) and per second (/ c).
    TIME_FIELDS = ("lp_lag", "informed_horizon", "burst_len", "news_window", "v_dt", "mo_delay", "slow_horizon")
    RATE_FIELDS = ("jump_rate", "lp_rate", "noise_rate", "informed_rate", "burst_rate", "drift", "slow_rate")

    def time_scaled(self, c: float) -> "MarketParams":
        """The same market on a clock ``c`` times as slow (``c`` < 1: faster).

        Every time constant (``TIME_FIELDS``) x c, every rate and ``drift`` (``RATE_FIELDS``) / c, ``sigma`` / √c:
        the same market with every time c times as long, so its signals (the OFI-predictiveness curve,
        markouts) decay c times as fast. With the same seed the rows are the original's (times x c) until
        the rounding of a timestamp to the ns first changes a draw, after hundreds to thousands of rows.
        """
        c = float(c)
        if not (c > 0 and math.isfinite(c)):
            raise ValueError(f"time_scaled: c must be a finite number > 0, got {c!r}")
        kw = {k: getattr(self, k) * c for k in self.TIME_FIELDS}
        kw.update({k: getattr(self, k) / c for k in self.RATE_FIELDS})
        kw["sigma"] = self.sigma / math.sqrt(c)
        return dataclasses.replace(self, **kw)

    @property
    def signal_scale(self) -> float:
        """``max(lp_lag, informed_horizon)``, s: the horizon around which order flow predicts the mid best."""
        return max(self.lp_lag, self.informed_horizon)

    def check(self) -> None:
        """Raise ValueError naming the first out-of-range parameter."""
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"generate_market: {what}")

        _check_numbers(self)
        need(self.base_price > 200, "base_price must be > 200 ticks")
        need(self.start_ts >= 0, "start_ts must be >= 0")
        need(1 <= self.n_levels <= 64, "n_levels must be in [1, 64]")
        need(1 <= self.level_gap <= 50, "level_gap must be in [1, 50] ticks")
        need(self.n_levels * self.level_gap <= 512, "n_levels * level_gap must be <= 512 ticks")
        need(1 <= self.round_lot <= 1_000_000, "round_lot must be in [1, 1000000] lots")
        for name in ("sigma", "jump_rate", "jump_ticks", "lp_impact", "half_spread", "noise_rate",
                     "informed_rate", "informed_horizon", "informed_threshold", "burst_rate", "news_window"):
            need(getattr(self, name) >= 0, f"{name} must be >= 0")
        for name in ("lp_rate", "lp_lag", "level_qty", "order_qty", "noise_qty", "informed_qty", "burst_len"):
            need(getattr(self, name) > 0, f"{name} must be > 0")
        for name in ("burst_mult", "burst_vol", "news_mult"):
            need(getattr(self, name) >= 1, f"{name} must be >= 1")
        for name in ("p_refill", "p_stale"):
            need(0 <= getattr(self, name) <= 1, f"{name} must be in [0, 1]")
        need(self.half_spread <= 25, "half_spread must be <= 25 ticks")
        need(self.informed_horizon <= 60, "informed_horizon must be <= 60 s")
        need(1e-5 <= self.v_dt <= 1, "v_dt must be in [1e-5, 1] s")
        need(self.informed_horizon / self.v_dt <= _MAX_GRID_AHEAD,
             f"informed_horizon / v_dt must be <= {_MAX_GRID_AHEAD} grid points")
        need(abs(self.drift) <= 50 and self.sigma <= 500, "|drift| must be <= 50 ticks per s and sigma <= 500 ticks per sqrt s")
        need(-1 < self.level_growth <= 10 and 1 + self.level_growth * (self.n_levels - 1) >= 0.1,
             "level_growth must be in (-1, 10] with 1 + level_growth (n_levels - 1) >= 0.1")
        need(0 <= self.mo_branch <= 0.95, "mo_branch must be in [0, 0.95]")
        need(1e-6 <= self.mo_delay <= 60, "mo_delay must be in [1e-6, 60] s")
        need(0 <= self.odd_share <= 1, "odd_share must be in [0, 1]")
        need(self.odd_qty >= 1, "odd_qty must be >= 1")
        need(0 <= self.impact <= 100, "impact must be in [0, 100] ticks")
        need(0 <= self.lp_react <= 4, "lp_react must be in [0, 4]")
        need(0.1 <= self.touch_mult <= 10, "touch_mult must be in [0.1, 10]")
        need(0 <= self.p_trim <= 1, "p_trim must be in [0, 1]")
        need(0.1 <= self.touch_qty <= 10, "touch_qty must be in [0.1, 10]")
        need(self.slow_rate >= 0 and self.slow_threshold >= 0, "slow_rate and slow_threshold must be >= 0")
        need(self.slow_horizon > 0, "slow_horizon must be > 0 s")
        if self.slow_rate > 0:
            need(self.slow_horizon <= 120, "slow_horizon must be <= 120 s")
            need(self.slow_horizon / self.v_dt <= _MAX_GRID_AHEAD,
                 f"slow_horizon / v_dt must be <= {_MAX_GRID_AHEAD} grid points")
        need(self.level_qty * max(1.0, self.touch_mult, 1 + self.level_growth * (self.n_levels - 1)) / self.order_qty
             < _K - 4,
             f"level_qty / order_qty too large (a level holds at most {_K} orders)")


@dataclass(frozen=True)
class ASMarketParams:
    """Parameters of the stylised Avellaneda–Stoikov (2008) market; defaults are the paper's."""

    s0: float = 100.0              #: initial mid, price units
    sigma: float = 2.0             #: mid volatility, price units per sqrt(time unit)
    A: float = 140.0               #: market orders per time unit and side (at depth 0)
    k: float = 1.5                 #: decay of the intensity with depth, per price unit
    horizon: float = 1.0           #: T, in time units: for strategies (the generator does not use it)
    time_unit_s: float = 60.0      #: seconds per model time unit
    tick_size: float = 0.01        #: price units per tick (a scenario takes it from [instrument])
    mid_rate: float = 100.0        #: mid updates (Brownian samples) per second
    n_levels: int = 400            #: visible DEPTH levels per side
    level_qty: int = 100           #: lots at every visible level
    trade_qty: int = 10            #: lots per TRADE print (less than level_qty: a quote at the print price
    #:                                 is behind the queue there and is not filled)
    start_ts: int = 34_200_000_000_000  #: first exchange timestamp, ns

    model = "as"

    def check(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"generate_market: {what}")

        _check_numbers(self)
        for name in ("s0", "A", "k", "horizon", "time_unit_s", "tick_size", "mid_rate"):
            need(getattr(self, name) > 0, f"{name} must be > 0")
        need(self.sigma >= 0, "sigma must be >= 0")
        need(1 <= self.n_levels <= 100_000, "n_levels must be in [1, 100000]")
        need(self.level_qty > 0 and self.trade_qty > 0, "level_qty and trade_qty must be > 0")
        need(self.start_ts >= 0, "start_ts must be >= 0")
        need(self.s0 / self.tick_size > 4 * self.n_levels + 10, "s0 / tick_size must exceed 4 n_levels + 10 ticks")
        need(self.s0 / self.tick_size < 2.0 ** 52, "s0 / tick_size too large")


def _check_numbers(params) -> None:
    """Every field a finite number; integer fields (int defaults) whole numbers."""
    for f in dataclasses.fields(params):
        v = getattr(params, f.name)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ValueError(f"generate_market: {f.name} must be a finite number, got {v!r}")
        if isinstance(f.default, int) and float(v) != int(v):
            raise ValueError(f"generate_market: {f.name} must be a whole number, got {v!r}")


Params = Union[MarketParams, ASMarketParams]

#: Bundled presets. ``latency_spike`` is the quiet market; its scenario adds a bursty feed latency.
PRESETS: dict[str, Params] = {
    "quiet": MarketParams(),
    "toxic_burst": MarketParams(burst_rate=1 / 45, burst_len=10.0, burst_mult=12.0, burst_vol=3.0),
    "news_jump": MarketParams(jump_rate=1 / 40, jump_ticks=6.0, news_window=4.0, news_mult=12.0,
                              informed_horizon=0.25),
    "trending": MarketParams(drift=0.2),
    "latency_spike": MarketParams(),
    "avellaneda_stoikov": ASMarketParams(),
    # A liquid crypto perpetual: LPs and informed traders on a 10 ms scale (v on a 1 ms grid, an LP action
    # every 0.33 ms), toxic bursts of ~2 s every ~9 s. sigma * sqrt(horizon) = 0.6 ticks, as quiet's over 1 s.
    "fast_perp": MarketParams(v_dt=0.001, lp_lag=0.01, informed_horizon=0.01, sigma=6.0, lp_rate=3000.0,
                              noise_rate=30.0, informed_rate=30.0, burst_rate=1 / 9, burst_len=2.0,
                              burst_mult=10.0, burst_vol=2.0),
    # A slower equity: a 0.2 s scale (v on a 5 ms grid), milder bursts of ~5 s every ~30 s.
    "slow_equity": MarketParams(v_dt=0.005, lp_lag=0.2, informed_horizon=0.2, sigma=1.35, lp_rate=1000.0,
                                noise_rate=10.0, informed_rate=6.0, burst_rate=1 / 30, burst_len=5.0,
                                burst_mult=6.0, burst_vol=2.0),
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_params(preset: str) -> Params:
    """The parameters of a bundled preset (ValueError naming the presets if unknown)."""
    try:
        return PRESETS[preset]
    except (KeyError, TypeError):
        raise ValueError(f"unknown market preset {preset!r} (known: {', '.join(PRESETS)})") from None


# --------------------------------------------------------------------------------------------- result
@dataclass
class Market:
    """Generated events with their ground truth (one entry per row)."""

    events: np.ndarray          #: EVENT_DTYPE rows
    truth: np.ndarray           #: float64, latent fair value in ticks after each row
    regime: np.ndarray          #: uint8, REGIME_CALM / REGIME_BURST / REGIME_NEWS at each row
    params: Params
    preset: str = ""
    seed: int = 0
    info: dict = field(default_factory=dict)

    @property
    def informed(self) -> np.ndarray:
        """Boolean per row: an execution of an informed market order."""
        return (self.events["flags"] & FLAG_INFORMED) != 0

    def __len__(self) -> int:
        return len(self.events)


# --------------------------------------------------------------------------------------------- random
# splitmix64 (mmsim.data._rng): one stream per run, a pure function of the seed
_u = uniform
_exp1 = exp1
_normal = normal


@njit(cache=True, inline="always")
def _geom(st, mean):
    """Integer >= 1 with the given mean."""
    if mean <= 1.0:
        return 1
    return 1 + int(math.log(1.0 - _u(st)) / math.log(1.0 - 1.0 / mean))


def _seed_state(seed: int) -> np.uint64:
    rng = np.random.default_rng(int(seed))
    return np.uint64(int(rng.integers(0, 2 ** 63 - 1, dtype=np.int64)) * 2 + 1)


# --------------------------------------------------------------------------------------------- L3 kernel
# Float parameters, in this order, in the kernel's ``fp`` array.
_L3_FLOATS = ("sigma", "drift", "jump_rate", "jump_ticks", "lp_rate", "lp_lag", "lp_impact", "half_spread",
              "level_qty", "order_qty", "p_refill", "p_stale", "noise_rate", "noise_qty", "informed_rate",
              "informed_qty", "informed_horizon", "informed_threshold", "burst_rate", "burst_len",
              "burst_mult", "burst_vol", "news_window", "news_mult", "v_dt", "level_growth", "impact",
              "mo_branch", "mo_delay", "odd_share", "odd_qty", "touch_mult", "lp_react", "p_trim", "touch_qty",
              "slow_rate", "slow_horizon", "slow_threshold")
#: Most follow-up market orders (``mo_branch``) pending at once; a further one is dropped.
_PEND = 64


@njit(cache=True, inline="always")
def _row(i, ts, kind, side, price, qty, oid, flag, v, reg, ts_o, px_o, qty_o, oid_o, kind_o, side_o, fl_o,
         v_o, reg_o):
    ts_o[i] = ts
    px_o[i] = price
    qty_o[i] = qty
    oid_o[i] = oid
    kind_o[i] = kind
    side_o[i] = side
    fl_o[i] = flag
    v_o[i] = v
    reg_o[i] = reg
    return i + 1


@njit(cache=True, inline="always")
def _remove_at(q_id, q_qty, cnt, s, x, j):
    """Remove queue entry j of level (s, x), keeping the order of the others."""
    n = cnt[s, x]
    for m in range(j, n - 1):
        q_id[s, x, m] = q_id[s, x, m + 1]
        q_qty[s, x, m] = q_qty[s, x, m + 1]
    cnt[s, x] = n - 1


@njit(cache=True)
def _l3_kernel(n, seed, start_ts, base_price, n_levels, lgap, lot, fp, ts_o, px_o, qty_o, oid_o, kind_o, side_o, fl_o,
               v_o, reg_o, vext, fext):
    """Write up to ``n`` rows; returns how many. ``vext``/``fext`` (empty: the kernel draws its own fair value):
    an externally supplied fair-value grid (``vext[g]`` = v at grid point g, ticks) and its flags (bit 0: toxic
    burst, bit 1: a jump at that point); no fair-value draws are made then, and the run ends early (fewer rows)
    at the first row whose ``t + informed_horizon`` is past the grid's last point (mmsim.data.two_venue)."""
    (sigma, drift, jump_rate, jump_ticks, lp_rate, lp_lag, lp_impact, half_spread, level_qty, order_qty,
     p_refill, p_stale, noise_rate, noise_qty, informed_rate, informed_qty, horizon, threshold, burst_rate,
     burst_len, burst_mult, burst_vol, news_window, news_mult, v_dt, growth) = (
        fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], fp[7], fp[8], fp[9], fp[10], fp[11], fp[12],
        fp[13], fp[14], fp[15], fp[16], fp[17], fp[18], fp[19], fp[20], fp[21], fp[22], fp[23], fp[24], fp[25])
    impact, mo_branch, mo_delay, odd_share, odd_qty, touch_mult, lp_react, p_trim = (
        fp[26], fp[27], fp[28], fp[29], fp[30], fp[31], fp[32], fp[33])
    touch_qty, slow_rate, slow_horizon, slow_threshold = fp[34], fp[35], fp[36], fp[37]
    # the fair value is generated as far ahead as the furthest-looking trader sees (slow informed only when on)
    ahead = horizon
    if slow_rate > 0.0 and slow_horizon > ahead:
        ahead = slow_horizon
    st = np.empty(1, np.uint64)
    st[0] = seed
    _u(st)

    R = _RING
    MASK = R - 1
    K = _K
    # side index 0 = bids, 1 = asks. Level slot of price p: p & MASK.
    q_id = np.zeros((2, R, K), np.int64)
    q_qty = np.zeros((2, R, K), np.int64)
    cnt = np.zeros((2, R), np.int64)
    lvl = np.zeros((2, R), np.int64)
    nlev = np.zeros(2, np.int64)
    best = np.zeros(2, np.int64)   # best bid / best ask price (valid when nlev > 0)
    worst = np.zeros(2, np.int64)  # lowest bid / highest ask price
    target = np.empty(n_levels, np.float64)
    for d in range(n_levels):
        target[d] = level_qty * (1.0 + growth * d)
    target[0] = level_qty * touch_mult
    # pending follow-ups: a market order (mo_branch; kind 0) or an LP reaction (lp_react; kind 1, on side
    # pend_aggr: 0 bids, 1 asks): exchange time, aggressor, informed flag, limit (informed: v ahead)
    pend_kind = np.zeros(_PEND, np.uint8)
    pend_ts = np.zeros(_PEND, np.int64)
    pend_aggr = np.zeros(_PEND, np.int64)
    pend_inf = np.zeros(_PEND, np.uint8)
    pend_lim = np.zeros(_PEND, np.float64)
    npend = 0
    imp = 0.0           # permanent impact of the market orders so far (impact), added to the fair value

    # Fair value on a grid of v_dt seconds, generated `horizon` ahead of the clock (ring buffer).
    G = 1
    while G < int(ahead / v_dt) + 8:
        G *= 2
    GM = G - 1
    vg = np.zeros(G, np.float64)
    jg = np.zeros(G, np.uint8)    # a jump happened at this grid point
    bg = np.zeros(G, np.uint8)    # toxic-burst regime at this grid point
    vg[0] = base_price + 0.5
    n_ext = len(vext)
    if n_ext > 0:
        vg[0] = vext[0]
        bg[0] = fext[0] & 1
        jg[0] = (fext[0] >> 1) & 1
    g_gen = 0   # newest generated grid index
    g_cur = 0   # grid index of the clock
    sq_dt = math.sqrt(v_dt)
    p_jump = 1.0 - math.exp(-jump_rate * v_dt)
    p_burst_on = 1.0 - math.exp(-burst_rate * v_dt)
    p_burst_off = 1.0 - math.exp(-v_dt / burst_len)
    floor_v = 100.0 + n_levels * lgap

    r = vg[0]           # LPs' reference price
    ts = start_ts
    t = 0.0             # seconds since start
    burst = False
    b_gen = False       # burst state at the newest generated grid point
    news_until = -1.0
    next_id = 1
    i = 0

    # Initial book: the LPs' levels, filled to their targets, all at the first timestamp.
    bstar, astar = _anchors(r, half_spread, lgap)
    for d in range(n_levels):
        for s in range(2):
            p = bstar - d * lgap if s == 0 else astar + d * lgap
            x = p & MASK
            while lvl[s, x] < target[d] and cnt[s, x] < K and i < n:
                q = _geom(st, order_qty * touch_qty if d == 0 else order_qty)
                q_id[s, x, cnt[s, x]] = next_id
                q_qty[s, x, cnt[s, x]] = q
                cnt[s, x] += 1
                lvl[s, x] += q
                i = _row(i, ts, ADD, BID if s == 0 else ASK, p, q, next_id, 0, vg[0], 0, ts_o, px_o, qty_o,
                         oid_o, kind_o, side_o, fl_o, v_o, reg_o)
                next_id += 1
            if cnt[s, x] > 0:
                if nlev[s] == 0:
                    best[s] = p
                    worst[s] = p
                elif s == 0:
                    best[s] = max(best[s], p)
                    worst[s] = min(worst[s], p)
                else:
                    best[s] = min(best[s], p)
                    worst[s] = max(worst[s], p)
                nlev[s] += 1

    while i < n:
        if i > 0:
            fl_o[i - 1] |= 2  # FLAG_MSG_END: every action (and the opening book) is one exchange message
        # ---- clock
        mult = 1.0
        if burst:
            mult = burst_mult
        if t < news_until and news_mult > mult:
            mult = news_mult
        lam_inf = informed_rate * mult
        lam = lp_rate + noise_rate + lam_inf + slow_rate
        dt = _exp1(st) / lam
        follow = -1   # index of the pending follow-up market order due before the next Poisson event
        if npend > 0:
            ts_next = ts + int(dt * 1e9)
            for k in range(npend):
                if pend_ts[k] < ts_next and (follow < 0 or pend_ts[k] < pend_ts[follow]):
                    follow = k
        if follow >= 0:
            # the competing Poisson clocks are memoryless: the draw above is simply superseded
            dt = (pend_ts[follow] - ts) * 1e-9
            ts = pend_ts[follow]
        else:
            ts += int(dt * 1e9)
        t = (ts - start_ts) * 1e-9
        # ---- fair value and burst regime on the grid up to t + horizon; news window from jumps passed
        g_need = int((t + ahead) / v_dt)
        while g_gen < g_need:
            # grid point g_gen + 1 takes the ring slot of point g_gen + 1 - G: the clock must have passed that
            # one (its jump flag read) first. Only after a gap between rows longer than G - horizon / v_dt points.
            while g_cur < g_gen + 1 - G:
                g_cur += 1
                if jg[g_cur & GM] != 0:
                    news_until = g_cur * v_dt + news_window
            if n_ext > 0:   # external grid: read, do not draw; past its end the run stops here
                if g_gen + 1 >= n_ext:
                    return i
                g_gen += 1
                vg[g_gen & GM] = vext[g_gen]
                jg[g_gen & GM] = (fext[g_gen] >> 1) & 1
                bg[g_gen & GM] = fext[g_gen] & 1
                continue
            if b_gen:
                if _u(st) < p_burst_off:
                    b_gen = False
            elif p_burst_on > 0.0 and _u(st) < p_burst_on:
                b_gen = True
            vn = vg[g_gen & GM] + drift * v_dt + sigma * (burst_vol if b_gen else 1.0) * sq_dt * _normal(st)
            jf = 0
            if p_jump > 0.0 and _u(st) < p_jump:
                size = jump_ticks * (1.0 + _exp1(st))
                vn += size if _u(st) < 0.5 else -size
                jf = 1
            if vn < floor_v:
                vn = 2.0 * floor_v - vn
            g_gen += 1
            vg[g_gen & GM] = vn
            jg[g_gen & GM] = jf
            bg[g_gen & GM] = 1 if b_gen else 0
        g_now = int(t / v_dt)
        while g_cur < g_now:
            g_cur += 1
            if jg[g_cur & GM] != 0:
                news_until = g_cur * v_dt + news_window
        v = vg[g_cur & GM] + imp
        burst = bg[g_cur & GM] != 0
        reg = 0
        if t < news_until:
            reg = 2
        elif burst:
            reg = 1
        # ---- LPs lean toward v
        r += (v - r) * (1.0 - math.exp(-dt / lp_lag))

        u = lam   # a follow-up market order: no draw
        react = follow >= 0 and pend_kind[follow] == 1
        if follow < 0:
            u = _u(st) * lam
        if (follow < 0 and u < lp_rate) or react:
            # ================= LP action
            if react:
                s = pend_aggr[follow]
                npend -= 1
                pend_kind[follow] = pend_kind[npend]
                pend_ts[follow] = pend_ts[npend]
                pend_aggr[follow] = pend_aggr[npend]
                pend_inf[follow] = pend_inf[npend]
                pend_lim[follow] = pend_lim[npend]
            else:
                s = 0 if _u(st) < 0.5 else 1
            bstar, astar = _anchors(r, half_spread, lgap)
            # this side's anchor, never locking the other side (the nearest multiple of gap that does not)
            if s == 0:
                anchor = bstar
                if nlev[1] > 0 and anchor >= best[1]:
                    anchor = ((best[1] - 1) // lgap) * lgap
                stale = nlev[0] > 0 and best[0] > anchor
                far = nlev[0] > 0 and worst[0] < anchor - n_levels * lgap
            else:
                anchor = astar
                if nlev[0] > 0 and anchor <= best[0]:
                    anchor = -((-(best[0] + 1)) // lgap) * lgap
                stale = nlev[1] > 0 and best[1] < anchor
                far = nlev[1] > 0 and worst[1] > anchor + n_levels * lgap
            sgn = 1 if s == 0 else -1   # price step away from the spread is -sgn
            side_v = BID if s == 0 else ASK
            p = -1
            d = 0
            action = 0  # 1 delete newest at p, 2 work level at p
            if stale and _u(st) < p_stale:
                p = best[s]
                action = 1
            elif far:
                p = worst[s]
                action = 1
            elif react:
                d = 0   # a reaction requotes at the anchor, the new touch (nothing when it is full)
                p = anchor
                action = 2
                if p <= 0 or lvl[s, p & MASK] >= target[0]:
                    action = 0
            else:
                trim = -1   # p_trim: the level most above its target (its excess is cancelled below)
                if p_trim > 0.0 and _u(st) < p_trim:
                    over = 0.0
                    for dd in range(n_levels):
                        pp = anchor - sgn * dd * lgap
                        g = lvl[s, pp & MASK] - target[dd]
                        if g > over and cnt[s, pp & MASK] > 0:
                            over = g
                            trim = dd
                if trim >= 0:
                    d = trim
                elif _u(st) < p_refill:
                    dbest = 0
                    gap = -1e300
                    for d in range(n_levels):
                        pp = anchor - sgn * d * lgap
                        g = target[d] - lvl[s, pp & MASK]
                        if g > gap:
                            gap = g
                            dbest = d
                    d = dbest
                else:
                    d = int(_u(st) * n_levels)
                p = anchor - sgn * d * lgap
                action = 2
                if p <= 0:
                    action = 0
            if action != 0:
                x = p & MASK
                c = cnt[s, x]
                if action == 2 and lvl[s, x] < target[d] and c < K:
                    if nlev[s] > 0 and abs(p - worst[s]) >= R // 2:
                        raise RuntimeError("market kernel: price span of one side exceeds the level ring")
                    q = _geom(st, order_qty * touch_qty if d == 0 else order_qty)
                    q_id[s, x, c] = next_id
                    q_qty[s, x, c] = q
                    cnt[s, x] = c + 1
                    lvl[s, x] += q
                    if c == 0:
                        if nlev[s] == 0:
                            best[s] = p
                            worst[s] = p
                        elif s == 0:
                            if p > best[0]:
                                best[0] = p
                            if p < worst[0]:
                                worst[0] = p
                        else:
                            if p < best[1]:
                                best[1] = p
                            if p > worst[1]:
                                worst[1] = p
                        nlev[s] += 1
                    i = _row(i, ts, ADD, side_v, p, q, next_id, 0, v, reg, ts_o, px_o, qty_o, oid_o, kind_o,
                             side_o, fl_o, v_o, reg_o)
                    next_id += 1
                elif c > 0:
                    # delete the newest order (stale/far) or churn a random one
                    j = c - 1 if action == 1 else int(_u(st) * c)
                    oq = q_qty[s, x, j]
                    oi = q_id[s, x, j]
                    if action == 2 and oq >= 2 and _u(st) < 0.4:
                        cq = 1 + int(_u(st) * (oq - 1))
                        q_qty[s, x, j] = oq - cq
                        lvl[s, x] -= cq
                        i = _row(i, ts, CANCEL, side_v, p, cq, oi, 0, v, reg, ts_o, px_o, qty_o, oid_o, kind_o,
                                 side_o, fl_o, v_o, reg_o)
                    else:
                        _remove_at(q_id, q_qty, cnt, s, x, j)
                        lvl[s, x] -= oq
                        if cnt[s, x] == 0:
                            _level_emptied(s, p, cnt, nlev, best, worst, MASK)
                        i = _row(i, ts, DELETE, side_v, p, oq, oi, 0, v, reg, ts_o, px_o, qty_o, oid_o, kind_o,
                                 side_o, fl_o, v_o, reg_o)
                # else: nothing to do at an empty level that is at or above target (cannot happen)
        else:
            # ================= market order
            informed = u >= lp_rate + noise_rate
            if follow >= 0:
                aggr = pend_aggr[follow]
                informed = pend_inf[follow] != 0
                vh = pend_lim[follow]
                flag = FLAG_INFORMED if informed else 0
                q = _geom(st, informed_qty if informed else noise_qty)
                npend -= 1
                pend_kind[follow] = pend_kind[npend]
                pend_ts[follow] = pend_ts[npend]
                pend_aggr[follow] = pend_aggr[npend]
                pend_inf[follow] = pend_inf[npend]
                pend_lim[follow] = pend_lim[npend]
            elif informed:
                # a slow informed look (slow_rate) sees further and trades only on a larger gap
                slow = slow_rate > 0.0 and u >= lp_rate + noise_rate + lam_inf
                vh = vg[int((t + (slow_horizon if slow else horizon)) / v_dt) & GM] + imp
                if nlev[0] > 0 and nlev[1] > 0:
                    mid = 0.5 * (best[0] + best[1])
                else:
                    mid = r
                gap = vh - mid
                thr = slow_threshold if slow else threshold
                if gap > thr:
                    aggr = 1
                elif gap < -thr:
                    aggr = -1
                else:
                    aggr = 0
                q = _geom(st, informed_qty)
                flag = FLAG_INFORMED
            else:
                vh = 0.0
                aggr = 1 if _u(st) < 0.5 else -1
                q = _geom(st, noise_qty)
                flag = 0
            if odd_share > 0.0 and _u(st) < odd_share:
                q = _geom(st, odd_qty)   # an odd lot: not rounded
            elif lot > 1:
                q = ((q + lot - 1) // lot) * lot
            if aggr != 0 and mo_branch > 0.0 and _u(st) < mo_branch and npend < _PEND:
                # a follow-up of the same sign (and limit) after an exponential delay, at least 1 us later
                pend_kind[npend] = 0
                pend_ts[npend] = ts + max(1000, int(_exp1(st) * mo_delay * 1e9))
                pend_aggr[npend] = aggr
                pend_inf[npend] = 1 if informed else 0
                pend_lim[npend] = vh
                npend += 1
            if aggr != 0:
                s = 1 if aggr == 1 else 0   # passive side
                side_v = ASK if s == 1 else BID
                done = 0
                while q > 0 and nlev[s] > 0 and i < n:
                    p = best[s]
                    if informed and ((aggr == 1 and p > vh) or (aggr == -1 and p < vh)):
                        break
                    x = p & MASK
                    oq = q_qty[s, x, 0]
                    take = q if q < oq else oq
                    i = _row(i, ts, EXECUTE, side_v, p, take, q_id[s, x, 0], flag, v, reg, ts_o, px_o, qty_o,
                             oid_o, kind_o, side_o, fl_o, v_o, reg_o)
                    q -= take
                    done += take
                    lvl[s, x] -= take
                    if take == oq:
                        _remove_at(q_id, q_qty, cnt, s, x, 0)
                        if cnt[s, x] == 0:
                            _level_emptied(s, p, cnt, nlev, best, worst, MASK)
                    else:
                        q_qty[s, x, 0] = oq - take
                if done > 0:
                    r += lp_impact * aggr
                    if impact > 0.0:
                        imp += impact * aggr
                    if lp_react > 0.0:
                        # the LPs on the other side requote toward the new reference: int(lp_react) actions,
                        # one more with the fractional part's chance, each after an exponential delay
                        nr = int(lp_react)
                        if _u(st) < lp_react - nr:
                            nr += 1
                        for _k in range(nr):
                            if npend < _PEND:
                                pend_kind[npend] = 1
                                pend_ts[npend] = ts + max(1000, int(_exp1(st) * mo_delay * 1e9))
                                pend_aggr[npend] = 0 if aggr == 1 else 1
                                npend += 1
    return i


@njit(cache=True, inline="always")
def _anchors(r, half_spread, gap):
    """The LPs' anchors: bid floor(r - h), ask ceil(r + h), each on the grid of multiples of ``gap`` ticks
    (gap 1: every tick), the ask at least one grid step above the bid."""
    if gap == 1:
        bstar = int(math.floor(r - half_spread))
        astar = int(math.ceil(r + half_spread))
    else:
        bstar = int(math.floor((r - half_spread) / gap)) * gap
        astar = int(math.ceil((r + half_spread) / gap)) * gap
    if astar <= bstar:
        astar = bstar + gap
    return bstar, astar


@njit(cache=True, inline="always")
def _level_emptied(s, p, cnt, nlev, best, worst, MASK):
    """Level p of side s has no orders left: fix the level count and the best/worst prices."""
    nlev[s] -= 1
    if nlev[s] == 0:
        return
    step = -1 if s == 0 else 1   # from the best toward the worst
    if p == best[s]:
        q = p + step
        while cnt[s, q & MASK] == 0:
            q += step
        best[s] = q
    elif p == worst[s]:
        q = p - step
        while cnt[s, q & MASK] == 0:
            q -= step
        worst[s] = q


# --------------------------------------------------------------------------------------------- A-S kernel
@njit(cache=True)
def _as_kernel(n, seed, start_ts, m0, sig_tick, mo_rate, k_tick, mid_rate, n_levels, level_qty, trade_qty,
               ts_o, px_o, qty_o, kind_o, side_o, v_o):
    st = np.empty(1, np.uint64)
    st[0] = seed
    _u(st)
    S = float(m0)
    M = m0
    floor_s = 2.0 * n_levels + 5.0
    ts = start_ts
    i = 0
    # snapshot: asks from the inside out then bids
    for j in range(1, n_levels + 1):
        if i < n:
            i = _as_row(i, ts, DEPTH, ASK, M + j, level_qty, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
        if i < n:
            i = _as_row(i, ts, DEPTH, BID, M - j, level_qty, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
    lam = mid_rate + 2.0 * mo_rate
    last_mid_t = 0.0
    while i < n:
        dt = _exp1(st) / lam
        ts += int(dt * 1e9)
        t = (ts - start_ts) * 1e-9
        if _u(st) * lam < mid_rate:
            S += sig_tick * math.sqrt(t - last_mid_t) * _normal(st)
            last_mid_t = t
            if S < floor_s:
                S = 2.0 * floor_s - S
            M2 = int(math.floor(S + 0.5))
            if M2 > M:
                # up: new far asks first, then remove inner asks, then inner bids in, far bids out
                lo_new = M2 + 1
                hi_new = M2 + n_levels
                lo_old = M + 1
                hi_old = M + n_levels
                for p in range(max(hi_old + 1, lo_new), hi_new + 1):
                    if i < n:
                        i = _as_row(i, ts, DEPTH, ASK, p, level_qty, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
                for p in range(lo_old, min(lo_new - 1, hi_old) + 1):
                    if i < n:
                        i = _as_row(i, ts, DEPTH, ASK, p, 0, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
                blo_old = M - n_levels
                bhi_old = M - 1
                blo_new = M2 - n_levels
                bhi_new = M2 - 1
                for p in range(bhi_new, max(bhi_old + 1, blo_new) - 1, -1):
                    if i < n:
                        i = _as_row(i, ts, DEPTH, BID, p, level_qty, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
                for p in range(blo_old, min(blo_new - 1, bhi_old) + 1):
                    if i < n:
                        i = _as_row(i, ts, DEPTH, BID, p, 0, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
                M = M2
            elif M2 < M:
                # down: new far bids first, remove inner bids, then inner asks in, far asks out
                blo_old = M - n_levels
                bhi_old = M - 1
                blo_new = M2 - n_levels
                bhi_new = M2 - 1
                for p in range(min(blo_old - 1, bhi_new), blo_new - 1, -1):
                    if i < n:
                        i = _as_row(i, ts, DEPTH, BID, p, level_qty, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
                for p in range(bhi_old, max(bhi_new + 1, blo_old) - 1, -1):
                    if i < n:
                        i = _as_row(i, ts, DEPTH, BID, p, 0, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
                lo_old = M + 1
                hi_old = M + n_levels
                lo_new = M2 + 1
                hi_new = M2 + n_levels
                for p in range(lo_new, min(lo_old - 1, hi_new) + 1):
                    if i < n:
                        i = _as_row(i, ts, DEPTH, ASK, p, level_qty, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
                for p in range(hi_old, max(hi_new + 1, lo_old) - 1, -1):
                    if i < n:
                        i = _as_row(i, ts, DEPTH, ASK, p, 0, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
                M = M2
        else:
            aggr = 1 if _u(st) < 0.5 else -1
            depth = int(math.floor(_exp1(st) / k_tick))  # floor(D), D ~ Exp(k) in ticks
            p = M + aggr * (depth + 1)
            if p > 0:
                i = _as_row(i, ts, TRADE, aggr, p, trade_qty, S, ts_o, px_o, qty_o, kind_o, side_o, v_o)
    return i


@njit(cache=True, inline="always")
def _as_row(i, ts, kind, side, price, qty, v, ts_o, px_o, qty_o, kind_o, side_o, v_o):
    ts_o[i] = ts
    px_o[i] = price
    qty_o[i] = qty
    kind_o[i] = kind
    side_o[i] = side
    v_o[i] = v
    return i + 1


# --------------------------------------------------------------------------------------------- entry point
def generate_market(preset: Union[str, Params], n_rows: int, seed: int = 0, **overrides: Any) -> Market:
    """Generate ``n_rows`` rows of a synthetic market with ground truth, deterministic for ``seed``.

    ``preset`` is a bundled name (:data:`PRESETS`) or a :class:`MarketParams` / :class:`ASMarketParams`;
    ``overrides`` replace single parameters (ValueError for an unknown name or an out-of-range value).
    """
    if isinstance(preset, str):
        name = preset
        base = preset_params(preset)
    elif isinstance(preset, (MarketParams, ASMarketParams)):
        name = ""
        base = preset
    else:
        raise ValueError(f"generate_market: preset must be a name or MarketParams/ASMarketParams, "
                         f"got {type(preset).__name__}")
    if overrides:
        known = {f.name for f in dataclasses.fields(base)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ValueError(f"generate_market: unknown parameter {bad[0]!r} for preset {name or base.model!r} "
                             f"(known: {', '.join(sorted(known))})")
        base = dataclasses.replace(base, **overrides)
    base.check()
    n = int(n_rows)
    if n < 0:
        raise ValueError("generate_market: n_rows must be >= 0")
    if isinstance(seed, bool) or int(seed) < 0:
        raise ValueError("generate_market: seed must be an integer >= 0")

    out = np.zeros(n, dtype=EVENT_DTYPE)
    out["recv_ts"] = NO_TS
    truth = np.zeros(n, np.float64)
    regime = np.zeros(n, np.uint8)
    state = _seed_state(seed)
    if isinstance(base, MarketParams):
        fp = np.array([float(getattr(base, k)) for k in _L3_FLOATS], np.float64)
        got = _l3_kernel(n, state, np.int64(base.start_ts), np.int64(base.base_price), int(base.n_levels),
                         np.int64(base.level_gap), np.int64(base.round_lot), fp,
                         out["exch_ts"], out["price"], out["qty"], out["order_id"], out["kind"], out["side"],
                         out["flags"], truth, regime, np.empty(0, np.float64), np.empty(0, np.uint8))
        info = {"model": "l3"}
    else:
        tick = float(base.tick_size)
        m0 = int(round(base.s0 / tick))
        sig_tick = base.sigma / tick / math.sqrt(base.time_unit_s)
        mo_rate = base.A / base.time_unit_s
        k_tick = base.k * tick
        got = _as_kernel(n, state, np.int64(base.start_ts), np.int64(m0), float(sig_tick), float(mo_rate),
                         float(k_tick), float(base.mid_rate), int(base.n_levels), np.int64(base.level_qty),
                         np.int64(base.trade_qty), out["exch_ts"], out["price"], out["qty"], out["kind"],
                         out["side"], truth)
        info = {"model": "as", "sigma_ticks_per_sqrt_s": sig_tick, "mo_rate_per_s_per_side": mo_rate,
                "k_per_tick": k_tick}
    if got != n:  # pragma: no cover - the kernels always fill the array
        raise RuntimeError(f"generate_market: kernel wrote {got} of {n} rows")
    # The last row ends its message (a market order cut by the end is a whole, shorter message); the A-S
    # kernel writes no flags: its messages are its timestamp groups (a mid move and its level rows).
    if info["model"] == "as":
        out["flags"][message_ends(out)] |= FLAG_MSG_END
    if n:
        out["flags"][-1] |= FLAG_MSG_END
    return Market(events=out, truth=truth, regime=regime, params=base, preset=name, seed=int(seed), info=info)


# --------------------------------------------------------------------------------------------- analysis
@njit(cache=True)
def _top_kernel(kind, side, price, qty, bb, bq, ba, aq):
    """Best bid/ask price and size after each row (L2 or L3; TRADE rows change nothing)."""
    n = len(kind)
    if n == 0:
        return
    lo = price.min()
    hi = price.max()
    span = hi - lo + 1
    bid = np.zeros(span, np.int64)
    ask = np.zeros(span, np.int64)
    b = -1      # index of best bid, -1 none
    a = span    # index of best ask, span none
    for r in range(n):
        k = kind[r]
        x = price[r] - lo
        s = side[r]
        if k == DEPTH:
            if s == 1:
                bid[x] = qty[r]
            else:
                ask[x] = qty[r]
        elif k == ADD:
            if s == 1:
                bid[x] += qty[r]
            else:
                ask[x] += qty[r]
        elif k == CANCEL or k == DELETE or k == EXECUTE:
            if s == 1:
                bid[x] -= qty[r]
            else:
                ask[x] -= qty[r]
        elif k == 3:  # CLEAR
            if s >= 0:
                bid[:] = 0
                b = -1
            if s <= 0:
                ask[:] = 0
                a = span
        # fix the best indices
        if k == TRADE or k == 3:
            pass
        elif s == 1:
            if bid[x] > 0 and x > b:
                b = x
            while b >= 0 and bid[b] == 0:
                b -= 1
        elif s == -1:
            if ask[x] > 0 and x < a:
                a = x
            while a < span and ask[a] == 0:
                a += 1
        if b >= 0:
            bb[r] = b + lo
            bq[r] = bid[b]
        else:
            bb[r] = -1
            bq[r] = 0
        if a < span:
            ba[r] = a + lo
            aq[r] = ask[a]
        else:
            ba[r] = -1
            aq[r] = 0


def top_of_book(events: np.ndarray) -> dict[str, np.ndarray]:
    """Best bid/ask price (ticks; -1 when the side is empty) and size (lots) after every row."""
    n = len(events)
    out = {k: np.empty(n, np.int64) for k in ("bid_px", "bid_qty", "ask_px", "ask_qty")}
    _top_kernel(events["kind"], events["side"], events["price"], events["qty"], out["bid_px"], out["bid_qty"],
                out["ask_px"], out["ask_qty"])
    return out


def _ofi_groups(events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per timestamp group with both sides quoted (the book at its end): exch_ts, the level-1 OFI e_n of
    Cont–Kukanov–Stoikov (0 for the first group) and the mid (ticks)."""
    top = top_of_book(events)
    ts = events["exch_ts"]
    last = np.ones(len(ts), bool)
    last[:-1] = ts[1:] != ts[:-1]
    ok = last & (top["bid_px"] > 0) & (top["ask_px"] > 0)
    pb, qb, pa, qa = (top[c][ok] for c in ("bid_px", "bid_qty", "ask_px", "ask_qty"))
    e = np.zeros(len(pb))
    e[1:] = ((pb[1:] >= pb[:-1]) * qb[1:] - (pb[1:] <= pb[:-1]) * qb[:-1]
             - (pa[1:] <= pa[:-1]) * qa[1:] + (pa[1:] >= pa[:-1]) * qa[:-1])
    return ts[ok], e, 0.5 * (pb + pa)


def ofi_stats(events: np.ndarray, interval_ns: int = 1_000_000_000) -> dict[str, float]:
    """Level-1 OFI (Cont, Kukanov, Stoikov 2014) per interval against the same and the next interval's mid move.

    The book state is taken at the end of each timestamp group; e_n is summed over each interval of
    ``interval_ns``; the mid change of an interval is the mid at its last group minus the mid at the
    previous interval's last group (ticks). Returns the number of intervals, the correlation and R² of
    next-interval mid change on OFI, and the contemporaneous R².
    """
    import pandas as pd

    ts, e, mid = _ofi_groups(events)
    df = pd.DataFrame({"ts": ts, "e": e, "mid": mid})
    b = (df.ts - df.ts.iloc[0]) // int(interval_ns)
    g = df.groupby(b).agg(ofi=("e", "sum"), mid=("mid", "last"))
    g = g.reindex(range(int(b.iloc[-1]) + 1))
    g["mid"] = g["mid"].ffill()
    g["ofi"] = g["ofi"].fillna(0.0)
    g["dmid"] = g["mid"].diff()
    g["dmid_next"] = g["dmid"].shift(-1)
    g = g.iloc[1:-1]
    c_next = float(np.corrcoef(g.ofi, g.dmid_next)[0, 1])
    c_now = float(np.corrcoef(g.ofi, g.dmid)[0, 1])
    return {"intervals": int(len(g)), "corr_next": c_next, "r2_next": c_next ** 2,
            "corr_now": c_now, "r2_now": c_now ** 2}


#: Horizons of the OFI-predictiveness curve in docs/synthetic.md, seconds: a 1-2-5 grid from 1 ms to 10 s.
DECAY_HORIZONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def ofi_decay(events: np.ndarray, horizons=DECAY_HORIZONS, overlap: int = 4,
              max_samples: int = 2_000_000) -> dict[str, Any]:
    """How far ahead order-flow imbalance predicts the mid: the OFI-predictiveness curve over horizons h.

    For each h (seconds): the correlation, over times τ, of the level-1 OFI summed over [τ − h, τ) with the
    mid move from τ to τ + h (mids at the last timestamp group before τ and before τ + h) — the
    next-interval correlation of :func:`ofi_stats` at interval h, with the intervals overlapping (τ steps
    by h / ``overlap``, or coarser so that there are at most ``max_samples`` of them). The R² of the
    regression of the next move on OFI is its square.

    Returns ``horizon_s`` and ``corr`` (arrays), ``intervals`` (span / h: independent intervals; the standard
    error of a correlation is about 1/√intervals), ``peak_s`` and ``peak_corr`` (the horizon of the largest
    correlation and that correlation), ``half_lo_s`` and ``half_hi_s`` (where the correlation crosses half
    its peak below and above ``peak_s``, interpolated in log h; nan when that is outside the grid).
    """
    hs = np.asarray(horizons, np.float64)
    if hs.ndim != 1 or len(hs) == 0 or not (hs > 0).all() or (np.diff(hs) <= 0).any():
        raise ValueError("ofi_decay: horizons must be increasing and > 0")
    ts, e, mid = _ofi_groups(events)
    cum = np.concatenate(([0.0], np.cumsum(e)))   # cum[j + 1] = OFI of groups 0..j
    corr = np.full(len(hs), np.nan)
    intervals = np.zeros(len(hs))
    t0 = int(ts[0]) if len(ts) else 0
    span = int(ts[-1]) - t0 if len(ts) else 0
    for k, h in enumerate(hs):
        hn = int(round(h * 1e9))
        intervals[k] = span / hn
        room = span - 2 * hn
        if hn <= 0 or room <= 0:
            continue
        step = max(hn / overlap, room / max_samples)
        tau = t0 + hn + (np.arange(int(room // step) + 1) * step).astype(np.int64)
        i_now = np.searchsorted(ts, tau, "left")           # groups before tau: [0, i_now)
        i_back = np.searchsorted(ts, tau - hn, "left")
        i_next = np.searchsorted(ts, tau + hn, "left")
        x = cum[i_now] - cum[i_back]
        y = mid[i_next - 1] - mid[i_now - 1]
        if len(x) > 2 and x.std() > 0 and y.std() > 0:
            corr[k] = np.corrcoef(x, y)[0, 1]
    out: dict[str, Any] = {"horizon_s": hs, "corr": corr, "intervals": intervals, "peak_s": math.nan,
                           "peak_corr": math.nan, "half_lo_s": math.nan, "half_hi_s": math.nan}
    if not np.isfinite(corr).any():
        return out
    j = int(np.nanargmax(corr))
    peak = float(corr[j])
    out["peak_s"], out["peak_corr"] = float(hs[j]), peak
    half = 0.5 * peak
    lh = np.log(hs)

    def cross(a: int, b: int) -> float:   # corr[a] >= half > corr[b]; nan when corr[b] is unknown
        ca, cb = corr[a], corr[b]
        if not np.isfinite(cb):
            return math.nan
        return float(math.exp(lh[a] + (lh[b] - lh[a]) * (ca - half) / (ca - cb)))

    for b in range(j + 1, len(hs)):
        if not corr[b] >= half:
            out["half_hi_s"] = cross(b - 1, b)
            break
    for b in range(j - 1, -1, -1):
        if not corr[b] >= half:
            out["half_lo_s"] = cross(b + 1, b)
            break
    return out


def market_orders(events: np.ndarray) -> np.ndarray:
    """Row index of the first EXECUTE of each market order (a same-timestamp run of consecutive EXECUTE rows)."""
    ex = np.flatnonzero(events["kind"] == EXECUTE)
    if len(ex) == 0:
        return ex
    ts = events["exch_ts"][ex]
    first = np.ones(len(ex), bool)
    first[1:] = (ts[1:] != ts[:-1]) | (ex[1:] != ex[:-1] + 1)
    return ex[first]


def _main(argv=None) -> int:  # pragma: no cover - documentation helper
    """``python -m mmsim.data.market {ofi,decay,toxicity,as} [--rows N] [--seed S]``: docs/synthetic.md tables."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m mmsim.data.market")
    ap.add_argument("what", choices=("ofi", "decay", "toxicity", "as"))
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--interval-ms", type=float, default=1000.0, help="OFI interval (ofi)")
    a = ap.parse_args(argv)
    l3 = [name for name, p in PRESETS.items() if p.model == "l3"]
    if a.what == "ofi":
        print("| preset | intervals | corr(OFI, next Δmid) | R² next | R² same interval |")
        print("|---|---|---|---|---|")
        for name in l3:
            st = ofi_stats(generate_market(name, a.rows, a.seed).events, int(a.interval_ms * 1e6))
            print(f"| {name} | {st['intervals']} | {st['corr_next']:.3f} | {st['r2_next']:.3f} | {st['r2_now']:.3f} |")
    elif a.what == "decay":
        fmt_s = lambda x: "–" if not math.isfinite(x) else (f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s")
        curves, rows = [], []
        for name in l3:
            p = PRESETS[name]
            m = generate_market(name, a.rows, a.seed)
            ev = m.events
            d = ofi_decay(ev)
            curves.append(f"| {name} | " + " | ".join("–" if not math.isfinite(c) else f"{c:.2f}" for c in d["corr"])
                          + " |")
            ex = ev["kind"] == EXECUTE
            inf = m.informed[ex]
            reg = m.regime[ex]
            shares = " / ".join("–" if not (reg == r).any() else f"{inf[reg == r].mean():.2f}" for r in (0, 1, 2))
            span = (int(ev["exch_ts"][-1]) - int(ev["exch_ts"][0])) / 1e9
            rows.append(f"| {name} | {fmt_s(p.lp_lag)} / {fmt_s(p.informed_horizon)} / {fmt_s(p.v_dt)} | "
                        f"{fmt_s(d['peak_s'])} | {d['peak_corr']:.2f} | {fmt_s(d['half_lo_s'])} – "
                        f"{fmt_s(d['half_hi_s'])} | {d['peak_s'] / p.signal_scale:.2g} | {inf.mean():.2f} | {shares} | "
                        f"{span / 60:.0f} min |")
        print("corr(OFI over [t − h, t), mid(t + h) − mid(t)); R² of the regression = its square")
        print("| preset | " + " | ".join(fmt_s(h) for h in DECAY_HORIZONS) + " |")
        print("|---" * (len(DECAY_HORIZONS) + 1) + "|")
        print("\n".join(curves))
        print()
        print("| preset | lp_lag / informed_horizon / v_dt | peak h* | peak corr | corr ≥ peak/2 | h* / max(lp_lag, "
              "informed_horizon) | informed share of executions | calm / burst / news | exchange time |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    elif a.what == "toxicity":
        hs = (0.1, 1.0, 5.0, 30.0)
        print("| preset | informed share of MOs (calm / burst / news) | mid markout informed, ticks at "
              + " / ".join(f"{h:g}" for h in hs) + " x scale | noise | fair value − mid before, informed at "
              "1 x scale | noise |")
        print("|---|---|---|---|---|---|")
        for name in l3:
            scale = PRESETS[name].signal_scale
            m = generate_market(name, a.rows, a.seed)
            ev = m.events
            top = top_of_book(ev)
            mid = np.where((top["bid_px"] > 0) & (top["ask_px"] > 0), 0.5 * (top["bid_px"] + top["ask_px"]), np.nan)
            mo = market_orders(ev)
            aggr = -ev["side"][mo].astype(np.int64)
            inf = (ev["flags"][mo] & FLAG_INFORMED) != 0
            reg = m.regime[mo]
            shares = " / ".join("–" if not (reg == r).any() else f"{inf[reg == r].mean():.2f}" for r in (0, 1, 2))
            before = mo - 1
            mi, mn = [], []
            fi = fn = 0.0
            for h in hs:
                after = np.searchsorted(ev["exch_ts"], ev["exch_ts"][mo] + int(h * scale * 1e9), side="right") - 1
                ok = (after < len(ev) - 1) & np.isfinite(mid[after]) & np.isfinite(mid[before])
                mk = aggr * (mid[after] - mid[before])
                mi.append(mk[ok & inf].mean())
                mn.append(mk[ok & ~inf].mean())
                if h == 1.0:
                    fv = aggr * (m.truth[after] - mid[before])
                    fi, fn = fv[ok & inf].mean(), fv[ok & ~inf].mean()
            print(f"| {name} | {shares} | " + " / ".join(f"{x:.2f}" for x in mi) + " | "
                  + " / ".join(f"{x:.2f}" for x in mn) + f" | {fi:.2f} | {fn:.2f} |")
    else:
        p = PRESETS["avellaneda_stoikov"]
        m = generate_market("avellaneda_stoikov", a.rows, a.seed)
        ev = m.events
        top = top_of_book(ev)
        tr = np.flatnonzero(ev["kind"] == TRADE)
        tr = tr[tr > 0]
        reach = ev["side"][tr].astype(np.int64) * (ev["price"][tr] - (top["bid_px"][tr - 1] + 1))
        units = (int(ev["exch_ts"][-1]) - int(ev["exch_ts"][0])) / 1e9 / p.time_unit_s
        print(f"{a.rows:,} rows, {units:.1f} time units of {p.time_unit_s:g} s, {len(tr):,} prints")
        print("| δ ticks | δ price | A·e^{−kδ} per side per unit | measured |")
        print("|---|---|---|---|")
        for j in (1, 10, 25, 50, 100, 150, 200, 300):
            d = j * p.tick_size
            print(f"| {j} | {d:.2f} | {p.A * math.exp(-p.k * d):.1f} | {(reach > j).sum() / 2 / units:.1f} |")
        js = np.arange(0, 300, 10)
        fit = np.polyfit(js * p.tick_size, np.log([(reach > j).sum() for j in js]), 1)
        mid = m.truth[np.r_[True, np.diff(m.truth) != 0]]
        sig = float(np.std(np.diff(mid)) / math.sqrt(units / len(mid)) * p.tick_size)
        print(f"fit: k = {-fit[0]:.3f}, A = {math.exp(fit[1]) / 2 / units:.1f}; mid sigma = {sig:.3f} per sqrt(unit)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
