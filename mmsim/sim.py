"""Run a strategy over events: builds the latency streams, picks an engine, collects results.

Both engines — the C++ loop (``mmsim._core.Engine``) and the pure-Python reference
(``mmsim.reference.ReferenceEngine``) — take the same arguments::

    Engine(events, arrival, latencies, config, strategy)

- ``events``: EVENT_DTYPE array, validated (``mmsim.validate``).
- ``arrival``: int64 per row, feed arrival time at the strategy (already monotone).
- ``latencies``: dict of int64 arrays ``entry``, ``cancel``, ``response``, ``compute`` (each len >= 1;
  the k-th use of a leg takes element ``k % len``).
- ``config``: dict, keys in ``DEFAULT_CONFIG``.
- ``strategy``: a Python object with ``on_wakeup(ctx)``, or (C++ only) a native/cfunc strategy handle.

and offer ``step(n_rows) -> bool done``, ``fills()``, ``orders()``, ``decisions()`` (record arrays of
``mmsim.records``) and ``summary() -> dict``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import records as R
from .errors import ConfigError, DataError

DEFAULT_CONFIG: dict[str, Any] = {
    "mode": "l2",                 # "l2" or "l3", derived from the event kinds by simulate()
    "queue_model": "risk_averse",  # L2 only: "risk_averse", "power", "log"
    "queue_power": 2.0,
    "maker_fee_bps": 0.0,
    "taker_fee_bps": 0.0,
    "tick_size": 1.0,
    "lot_size": 1.0,
    "wake_on_feed": True,
    "wake_on_response": True,
    "timer_interval_ns": 0,
    "post_only": False,
    "crossed_policy": "error",    # or "repair"
    "ewma_tau_ns": 1_000_000_000,
    "compute_measured": False,    # charge measured strategy wall time x compute_factor
    "compute_factor": 1.0,
    "strategy_name": "strategy",
}


@dataclass(frozen=True)
class Instrument:
    """Instrument metadata: prices are integer ticks of ``tick_size``, quantities lots of ``lot_size``."""

    tick_size: float = 0.01
    lot_size: float = 1.0
    symbol: str = ""


@dataclass
class RunResult:
    fills: "Any"        # pandas DataFrames (FILL_DTYPE, ORDER_DTYPE, DECISION_DTYPE columns)
    orders: "Any"
    decisions: "Any"
    summary: dict = field(default_factory=dict)


#: Keys of ``Engine.summary()``, identical for both engines.
SUMMARY_KEYS = (
    "n_events",          # data rows applied on the exchange side
    "n_fills", "volume",  # fills and lots filled
    "position",          # lots, exchange truth at the end
    "cash_ticklots",     # exact cash in tick*lots (buys negative)
    "fees",              # quote currency (negative = net rebate)
    "final_mid",         # ticks, exchange-side mid at the end (last two-sided mid; NaN if never)
    "pnl",               # cash_ticklots*tick*lot - fees + position*final_mid*tick*lot
    "n_orders", "n_decisions",
    "repaired_crossed_levels",
)


def _engine_strategy(strategy: Any, engine: str) -> tuple[Any, str]:
    """Resolve a strategy spec into what the chosen engine runs, and its display name."""
    from . import loader
    from .numba_strategy import NumbaStrategy
    from .strategy import SymmetricQuoter

    obj, name = loader.load_strategy(strategy)
    if isinstance(obj, loader.BuiltinSpec):
        if obj.name == "symmetric":
            h, size = float(obj.params["half_spread"]), int(obj.params["size"])
            if engine == "cpp":
                from ._core import SymmetricQuoter as NativeSymmetric
                return NativeSymmetric(int(round(2 * h)), size), name
            return SymmetricQuoter(h, size), name
        raise ConfigError(f"strategy {name}: built-in has no engine implementation")
    if isinstance(obj, NumbaStrategy):
        return (obj.native() if engine == "cpp" else obj), name
    return obj, name


def _compute_spec(spec: Any) -> tuple[bool, float, Any]:
    """``measured`` / ``measured:x2.5`` -> charge measured wall time x factor; else a latency spec."""
    if isinstance(spec, str) and spec.strip().startswith("measured"):
        rest = spec.strip()[len("measured"):]
        if not rest:
            return True, 1.0, 0
        try:
            if not rest.startswith(":x"):
                raise ValueError
            factor = float(rest[2:])
            if not np.isfinite(factor) or factor < 0:
                raise ValueError
        except ValueError:
            raise ConfigError(f"compute latency '{spec}': expected 'measured' or 'measured:xF' (F >= 0)") from None
        return True, factor, 0
    return False, 1.0, spec


def simulate(events: np.ndarray, instrument: Optional[Instrument] = None, strategy: Any = "symmetric", *,
             feed_latency: Any = 0, entry_latency: Any = 0, cancel_latency: Any = 0, response_latency: Any = 0,
             compute_latency: Any = 0, seed: int = 0, queue_model: str = "risk_averse", queue_power: float = 2.0,
             maker_fee_bps: float = 0.0, taker_fee_bps: float = 0.0, timer_interval_ns: int = 0,
             wake_on_feed: bool = True, wake_on_response: bool = True, post_only: bool = False,
             crossed_policy: str = "error", ewma_tau_ns: int = 1_000_000_000, repair: bool = False,
             engine: str = "cpp", progress: bool = False, source_name: str = "events",
             chunk_rows: int = 1 << 18) -> RunResult:
    """Replay ``events`` through the exchange simulator with ``strategy`` quoting; return the results.

    Latencies take the specs of docs/latency.md (``"2ms"``, ``"data+1ms"``, ``"lognormal:median=2ms,sigma=0.6"``,
    an array, a callable). ``compute_latency`` also takes ``"measured"`` or ``"measured:xF"``. Every random draw
    comes from ``seed``: the same inputs and seed give identical results. ``engine="reference"`` runs the
    pure-Python reference simulator instead of the C++ loop (same rules, much slower).
    """
    import time

    from . import latency as L
    from .results import to_frames
    from .validate import validate_events

    if engine not in ("cpp", "reference"):
        raise ConfigError(f"engine must be 'cpp' or 'reference', not '{engine}'")
    instrument = instrument or Instrument()
    events, report = validate_events(events, source_name, repair=repair)
    rngs = L.seeded_streams(seed)
    arrival = L.feed_arrival(feed_latency, events, rngs["feed"], source=source_name)
    measured, factor, compute = _compute_spec(compute_latency)
    latencies = {
        "entry": L.latency_table(entry_latency, rngs["entry"]),
        "cancel": L.latency_table(cancel_latency, rngs["cancel"]),
        "response": L.latency_table(response_latency, rngs["response"]),
        "compute": L.latency_table(compute, rngs["compute"]),
    }
    strat, name = _engine_strategy(strategy, engine)
    config = dict(DEFAULT_CONFIG)
    config.update(mode=report["mode"], queue_model=queue_model, queue_power=float(queue_power),
                  maker_fee_bps=float(maker_fee_bps), taker_fee_bps=float(taker_fee_bps),
                  tick_size=float(instrument.tick_size), lot_size=float(instrument.lot_size),
                  wake_on_feed=bool(wake_on_feed), wake_on_response=bool(wake_on_response),
                  timer_interval_ns=int(timer_interval_ns), post_only=bool(post_only),
                  crossed_policy=crossed_policy, ewma_tau_ns=int(ewma_tau_ns), compute_measured=measured,
                  compute_factor=factor, strategy_name=name)
    if engine == "cpp":
        from ._core import Engine
    else:
        from .reference import ReferenceEngine as Engine

    t0 = time.perf_counter()
    try:
        eng = Engine(events, arrival, latencies, config, strat)
        bar = None
        if progress and len(events) > chunk_rows:
            from tqdm import tqdm
            bar = tqdm(total=len(events), unit="row", unit_scale=True, desc=source_name, leave=False)
        done, seen = False, 0
        while not done:
            done = eng.step(chunk_rows)
            if bar is not None:
                now = int(eng.rows_delivered()) if hasattr(eng, "rows_delivered") else len(events)
                bar.update(now - seen)
                seen = now
        if bar is not None:
            bar.close()
    except DataError as e:
        raise DataError(f"{source_name}: {e}") from None
    wall = time.perf_counter() - t0
    fills, orders, decisions = eng.fills(), eng.orders(), eng.decisions()
    summary = dict(eng.summary())
    summary.update(wall_s=wall, events_per_s=(len(events) / wall if wall > 0 else float("inf")),
                   engine=engine, strategy=name, seed=int(seed), mode=report["mode"], source=source_name,
                   repaired_rows=int(report.get("n_dropped", 0)))
    f, o, d = to_frames(fills, orders, decisions)
    return RunResult(fills=f, orders=o, decisions=d, summary=summary)
