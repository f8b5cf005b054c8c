"""A synthetic two-venue market with ground truth: ``generate_two_venue(preset, n_rows, seed, lag=...)``.

A **lead** venue and a **lagging** venue share one latent fair value ``v(t)`` (ticks, on a grid of ``v_dt``
seconds, drawn once: diffusion, drift, jumps and toxic bursts exactly as in :mod:`mmsim.data.market`). Each venue
is the L3 order-flow kernel of :mod:`mmsim.data.market` run on an externally supplied fair-value grid:

- the lead venue's LPs follow ``v(t)`` (time constant ``lead.lp_lag``); its informed traders look
  ``lead.informed_horizon`` ahead, as in a single-venue market;
- the lagging venue's LPs follow ``v(t − lag)``: they see the lead's move only ``lag`` later (their grid is the
  shared one shifted by ``lag``), with their own time constant ``lagging.lp_lag``;
- the lagging venue's informed traders act on the lead's move: they see ``v(t)`` itself, i.e. they look
  ``lag`` ahead of the lagging venue's LPs (the kernel's ``informed_horizon`` = ``lag`` on the shifted grid).

The regime (toxic burst, news window after a jump) is the shared grid's at ``t`` on both venues. Both event
arrays are valid data on their own (same clock, ``FLAG_MSG_END`` on the last row of each message, the book
never crossed): ``n_rows`` rows of the lead venue, and the lagging venue's rows over the same exchange-time
span (up to the lead's last timestamp). Deterministic: three splitmix64 streams (the fair value, each venue's
order flow) seeded from ``numpy.random.SeedSequence([seed, k])``; the same seed gives byte-identical arrays.

Ground truth (:class:`TwoVenueMarket`): ``lead.truth`` and ``lagging.truth`` = ``v(t)`` after each row (the
shared fair value at the row's time), ``lagging_lp_value`` = ``v(t − lag)`` (what the lagging LPs follow),
``lag_s``, the shared grid ``fair_value`` (``v_dt`` apart, from ``start_ts``), ``FLAG_INFORMED`` on every
execution of an informed market order (:meth:`TwoVenueMarket.informed_orders` gives the lagging venue's market
orders and which were informed). docs/synthetic.md ("Two venues") has the measured figures.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
from numba import njit

from mmsim.data._rng import exp1, normal, uniform
from mmsim.data.market import (_L3_FLOATS, Market, MarketParams, _l3_kernel, market_orders)
from mmsim.records import EVENT_DTYPE, FLAG_INFORMED, FLAG_MSG_END, NO_TS

__all__ = ["TwoVenueParams", "TwoVenueMarket", "TWO_VENUE_PRESETS", "generate_two_venue", "two_venue_preset",
           "parse_lag", "MAX_LAG_S"]

#: Largest lag accepted, seconds.
MAX_LAG_S = 10.0


@dataclass(frozen=True)
class TwoVenueParams:
    """The two venues' parameters. The fair value (``base_price``, ``start_ts``, ``sigma``, ``drift``, jumps,
    bursts, ``v_dt``) is the lead's; the lagging venue's copies of those fields are replaced by the lead's, and
    its ``informed_horizon`` by the lag."""

    lead: MarketParams
    lagging: MarketParams
    lag_s: float = 0.05            #: default lag, seconds (generate_two_venue's ``lag`` overrides it)

    #: MarketParams fields of the shared fair value (taken from ``lead``).
    SHARED = ("base_price", "start_ts", "sigma", "drift", "jump_rate", "jump_ticks", "burst_rate", "burst_len",
              "burst_vol", "v_dt")


#: Bundled two-venue presets.
TWO_VENUE_PRESETS: dict[str, TwoVenueParams] = {
    # A fast perpetual leading spot: both books on a 1 ms fair-value grid with LPs following their own view of v
    # with the same 5 ms time constant (so the lagging mid is the lead's shifted by the lag), an LP action every
    # 0.33 ms on both; spot has fewer market orders, and its informed traders (who watch the perp) trade on the
    # gap between v and spot's mid. Toxic bursts of ~2 s every ~9 s on both (a market-wide regime).
    "perp_spot": TwoVenueParams(
        lead=MarketParams(v_dt=0.001, lp_lag=0.005, informed_horizon=0.005, sigma=6.0, lp_rate=3000.0,
                          noise_rate=30.0, informed_rate=20.0, burst_rate=1 / 9, burst_len=2.0, burst_mult=5.0,
                          burst_vol=2.0),
        lagging=MarketParams(v_dt=0.001, lp_lag=0.005, lp_rate=3000.0, noise_rate=10.0, informed_rate=5.0,
                             informed_threshold=1.25, burst_mult=5.0),
        lag_s=0.05),
}


def two_venue_preset(name: str) -> TwoVenueParams:
    """A bundled two-venue preset (ValueError naming the presets if unknown)."""
    try:
        return TWO_VENUE_PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown two-venue preset {name!r} (known: {', '.join(TWO_VENUE_PRESETS)})") from None


def parse_lag(lag: Union[float, int, str]) -> float:
    """A lag in seconds from a number of seconds or a duration string (``"50ms"``, ``"1s"``, ``"500us"``)."""
    if isinstance(lag, str):
        from mmsim.data.latency import parse_duration
        return parse_duration(lag) / 1e9
    if isinstance(lag, bool) or not isinstance(lag, (int, float, np.integer, np.floating)):
        raise ValueError(f"generate_two_venue: lag must be seconds or a duration string, got {lag!r}")
    return float(lag)


@dataclass
class TwoVenueMarket:
    """Two generated venues on one clock with their ground truth."""

    lead: Market                   #: the lead venue (truth: v(t) after each row)
    lagging: Market                #: the lagging venue (truth: v(t) after each row)
    lag_s: float                   #: the lag of the lagging LPs behind v, seconds (a multiple of v_dt)
    lagging_lp_value: np.ndarray   #: float64 per lagging row: v(t − lag), the value its LPs follow
    fair_value: np.ndarray         #: the shared grid: v at start_ts + g v_dt (ticks)
    v_dt: float                    #: grid step, seconds
    params: TwoVenueParams
    preset: str = ""
    seed: int = 0
    info: dict = field(default_factory=dict)

    def informed_orders(self, venue: str = "lagging") -> tuple[np.ndarray, np.ndarray]:
        """(row index of the first EXECUTE of each market order, bool: it was informed) on ``venue``."""
        m = self.lagging if venue == "lagging" else self.lead if venue == "lead" else None
        if m is None:
            raise ValueError(f"informed_orders: venue must be 'lead' or 'lagging', got {venue!r}")
        mo = market_orders(m.events)
        return mo, (m.events["flags"][mo] & FLAG_INFORMED) != 0


# --------------------------------------------------------------------------------------------- fair value
@njit(cache=True)
def _grid_kernel(n, seed, v0, sigma, drift, jump_rate, jump_ticks, burst_rate, burst_len, burst_vol, v_dt, floor_v,
                 v_o, f_o):
    """The fair value on ``n`` grid points, the draws of mmsim.data.market's kernel in its order (burst state,
    diffusion, jump); f_o bit 0 burst, bit 1 jump. Sequential: n points are the first n of any longer grid."""
    st = np.empty(1, np.uint64)
    st[0] = seed
    uniform(st)
    sq_dt = math.sqrt(v_dt)
    p_jump = 1.0 - math.exp(-jump_rate * v_dt)
    p_burst_on = 1.0 - math.exp(-burst_rate * v_dt)
    p_burst_off = 1.0 - math.exp(-v_dt / burst_len)
    b = False
    vn = v0
    if n > 0:
        v_o[0] = v0
        f_o[0] = 0
    for g in range(1, n):
        if b:
            if uniform(st) < p_burst_off:
                b = False
        elif p_burst_on > 0.0 and uniform(st) < p_burst_on:
            b = True
        vn = vn + drift * v_dt + sigma * (burst_vol if b else 1.0) * sq_dt * normal(st)
        jf = 0
        if p_jump > 0.0 and uniform(st) < p_jump:
            size = jump_ticks * (1.0 + exp1(st))
            vn += size if uniform(st) < 0.5 else -size
            jf = 2
        if vn < floor_v:
            vn = 2.0 * floor_v - vn
        v_o[g] = vn
        f_o[g] = (1 if b else 0) | jf


def _state(seed: int, k: int) -> np.uint64:
    """Stream k of a run: an odd splitmix64 state from SeedSequence([seed, k])."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(k)]))
    return np.uint64(int(rng.integers(0, 2 ** 63 - 1, dtype=np.int64)) * 2 + 1)


def _grid(p: MarketParams, n_pts: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    v = np.empty(n_pts, np.float64)
    f = np.empty(n_pts, np.uint8)
    floor_v = 100.0 + p.n_levels * p.level_gap
    _grid_kernel(n_pts, _state(seed, 0), float(p.base_price) + 0.5, float(p.sigma), float(p.drift),
                 float(p.jump_rate), float(p.jump_ticks), float(p.burst_rate), float(p.burst_len), float(p.burst_vol),
                 float(p.v_dt), floor_v, v, f)
    return v, f


def _run(p: MarketParams, n: int, stream: int, seed: int, vext: np.ndarray, fext: np.ndarray):
    """The L3 kernel on an external grid: (events, kernel truth, regime) of the rows written (<= n)."""
    out = np.zeros(n, dtype=EVENT_DTYPE)
    out["recv_ts"] = NO_TS
    truth = np.zeros(n, np.float64)
    regime = np.zeros(n, np.uint8)
    fp = np.array([float(getattr(p, k)) for k in _L3_FLOATS], np.float64)
    got = _l3_kernel(n, _state(seed, stream), np.int64(p.start_ts), np.int64(p.base_price), int(p.n_levels),
                     np.int64(p.level_gap), np.int64(p.round_lot), fp, out["exch_ts"], out["price"], out["qty"],
                     out["order_id"], out["kind"], out["side"], out["flags"], truth, regime,
                     np.ascontiguousarray(vext, np.float64), np.ascontiguousarray(fext, np.uint8))
    return out[:got], truth[:got], regime[:got]


def _grid_index(ts: np.ndarray, start_ts: int, v_dt: float) -> np.ndarray:
    """The grid point of each timestamp, computed as the kernel does (int(t / v_dt), t = (ts − start) 1e-9)."""
    t = (ts.astype(np.int64) - np.int64(start_ts)).astype(np.float64) * 1e-9
    return (t / v_dt).astype(np.int64)


# --------------------------------------------------------------------------------------------- entry point
def generate_two_venue(preset: Union[str, TwoVenueParams], n_rows: int, seed: int = 0, *,
                       lag: Union[float, str, None] = None, lead: dict | None = None,
                       lagging: dict | None = None) -> TwoVenueMarket:
    """Generate a lead venue of ``n_rows`` rows and the lagging venue over the same span, deterministic for ``seed``.

    ``preset``: a name of :data:`TWO_VENUE_PRESETS` or a :class:`TwoVenueParams`; ``lag``: seconds or a duration
    string (default: the preset's), a multiple of the grid step ``v_dt`` in [0, 10 s]; ``lead`` / ``lagging``:
    MarketParams overrides of either venue (the shared fair-value fields only through ``lead``). ValueError
    naming the parameter on bad input.
    """
    if isinstance(preset, str):
        name, base = preset, two_venue_preset(preset)
    elif isinstance(preset, TwoVenueParams):
        name, base = "", preset
    else:
        raise ValueError(f"generate_two_venue: preset must be a name or TwoVenueParams, got {type(preset).__name__}")
    lp = _override(base.lead, lead or {}, "lead")
    lag_s = parse_lag(base.lag_s if lag is None else lag)
    if not (math.isfinite(lag_s) and 0.0 <= lag_s <= MAX_LAG_S):
        raise ValueError(f"generate_two_venue: lag must be in [0, {MAX_LAG_S:g}] s, got {lag_s!r}")
    n_lag = int(round(lag_s / lp.v_dt))
    if abs(n_lag * lp.v_dt - lag_s) > 1e-9 * max(1.0, lag_s):
        raise ValueError(f"generate_two_venue: lag {lag_s!r} s is not a multiple of the grid step v_dt = {lp.v_dt!r} s")
    bad = sorted(set(lagging or {}) & set(TwoVenueParams.SHARED))
    if bad:
        raise ValueError(f"generate_two_venue: lagging.{bad[0]} is the shared fair value's: set it through lead")
    if "informed_horizon" in (lagging or {}):
        raise ValueError("generate_two_venue: lagging.informed_horizon is the lag (its informed traders see v(t)): "
                         "set lag")
    gp = _override(base.lagging, lagging or {}, "lagging")
    gp = dataclasses.replace(gp, **{k: getattr(lp, k) for k in TwoVenueParams.SHARED}, informed_horizon=lag_s)
    lp.check()
    try:
        gp.check()
    except ValueError as e:
        raise ValueError(f"{e} (lagging venue)") from None
    n = int(n_rows)
    if n < 0:
        raise ValueError("generate_two_venue: n_rows must be >= 0")
    if isinstance(seed, bool) or int(seed) < 0:
        raise ValueError("generate_two_venue: seed must be an integer >= 0")
    seed = int(seed)

    # Lead venue: n rows; the grid must reach the last row's t + horizon. Longer grids have the same prefix
    # (sequential draws), so a retry with a longer one gives the same rows.
    rate = lp.lp_rate + 2.0 * (lp.noise_rate + lp.informed_rate)
    span = n / rate * 1.25 + 1.0
    while True:
        n_pts = int((span + lp.informed_horizon + lag_s) / lp.v_dt) + 16
        v, f = _grid(lp, n_pts, seed)
        ev_a, tr_a, rg_a = _run(lp, n, 1, seed, v, f)
        if len(ev_a) == n:
            break
        span *= 2.0
    end_ts = int(ev_a["exch_ts"][-1]) if n else int(lp.start_ts)

    # Lagging venue: its LPs' grid is v shifted by lag (v[0] before the start); it stops past end_ts (the grid
    # ends there + lag), then rows after end_ts are dropped (whole messages: a message is one timestamp).
    g_end = int(((end_ts - lp.start_ts) * 1e-9) / lp.v_dt) + 1
    n_ext = min(g_end + n_lag + 2, len(v) + n_lag)
    v_lag = np.concatenate((np.full(n_lag, v[0]), v[:n_ext - n_lag]))
    f_lag = f[:n_ext] if n_ext <= len(f) else np.concatenate((f, np.zeros(n_ext - len(f), np.uint8)))
    cap = max(1024, int((end_ts - lp.start_ts) * 1e-9 * (gp.lp_rate + 2.0 * (gp.noise_rate + gp.informed_rate))
                        * 1.25) + 1024)
    while True:
        ev_b, lp_b, rg_b = _run(gp, cap, 2, seed, v_lag, f_lag)
        if len(ev_b) < cap:
            break
        cap *= 2
    keep = int(np.searchsorted(ev_b["exch_ts"], end_ts, "right")) if n else 0
    ev_b, lp_b, rg_b = ev_b[:keep].copy(), lp_b[:keep].copy(), rg_b[:keep].copy()
    if keep:
        ev_b["flags"][-1] |= FLAG_MSG_END
    if n:
        ev_a["flags"][-1] |= FLAG_MSG_END
    tr_b = v[np.minimum(_grid_index(ev_b["exch_ts"], lp.start_ts, lp.v_dt), len(v) - 1)]
    info = {"lead_span_s": (end_ts - lp.start_ts) * 1e-9, "lag_grid_points": n_lag, "lagging_rows": int(keep)}
    return TwoVenueMarket(
        lead=Market(events=ev_a, truth=tr_a, regime=rg_a, params=lp, preset=name and f"{name}:lead", seed=seed),
        lagging=Market(events=ev_b, truth=tr_b, regime=rg_b, params=gp, preset=name and f"{name}:lagging",
                       seed=seed),
        lag_s=n_lag * lp.v_dt, lagging_lp_value=lp_b, fair_value=v, v_dt=float(lp.v_dt), params=base,
        preset=name, seed=seed, info=info)


def _override(p: MarketParams, over: dict[str, Any], venue: str) -> MarketParams:
    if not over:
        return p
    known = {f.name for f in dataclasses.fields(p)}
    bad = sorted(set(over) - known)
    if bad:
        raise ValueError(f"generate_two_venue: unknown parameter {venue}.{bad[0]} (known: {', '.join(sorted(known))})")
    return dataclasses.replace(p, **over)
