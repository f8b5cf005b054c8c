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

import os
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

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
    "compute_source": "table",    # "table" (latency stream), "strategy" or "model" (measured wall time)
    "compute_factor": 1.0,        # x measured time: the hardware factor
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
    import sys

    from . import loader

    obj, name = loader.load_strategy(strategy)
    if isinstance(obj, loader.BuiltinSpec):  # native object for "cpp", its Python twin for "reference"
        from .quoters import engine_strategy

        return engine_strategy(obj.name, obj.params, engine), name
    numba_mod = sys.modules.get("mmsim.numba_strategy")  # a NumbaStrategy exists only once it was imported
    if numba_mod is not None and isinstance(obj, numba_mod.NumbaStrategy):
        return (obj.native() if engine == "cpp" else obj), name
    return obj, name


#: Compute-latency profiles named after the motivating post's table (docs/latency.md): lognormal with 90 % of
#: decisions inside the quoted range (median = geometric mid, sigma = ln(hi/lo) / (2 * 1.645)).
COMPUTE_PROFILES = {
    "cheap_cloud_vcpu": "lognormal:median=2236us,sigma=0.489",   # 1-5 ms per decision
    "high_clock": "lognormal:median=12649ns,sigma=0.700",        # 4-40 us per decision
}


def _compute_spec(spec: Any) -> tuple[str, float, Any]:
    """Compute latency: ``measured[:xF]`` (strategy + model wall time x F), ``model[:xF]`` (model inference
    time x F), ``profile:NAME``, or any latency spec. Returns (source, factor, latency spec)."""
    if isinstance(spec, str):
        text = spec.strip()
        for word, source in (("measured", "strategy"), ("model", "model")):
            if text == word or text.startswith(word + ":"):
                rest = text[len(word):]
                if not rest:
                    return source, 1.0, 0
                try:
                    if not rest.startswith(":x"):
                        raise ValueError
                    factor = float(rest[2:])
                    if not np.isfinite(factor) or factor < 0:
                        raise ValueError
                except ValueError:
                    raise ConfigError(f"latency '{spec}': expected '{word}' or '{word}:xF' (F >= 0)") from None
                return source, factor, 0
        if text.startswith("profile:"):
            name = text[len("profile:"):]
            if name not in COMPUTE_PROFILES:
                raise ConfigError(f"compute latency '{spec}': unknown profile (known: {', '.join(COMPUTE_PROFILES)})")
            return "table", 1.0, COMPUTE_PROFILES[name]
    return "table", 1.0, spec


def simulate(events: Any, instrument: Optional[Instrument] = None, strategy: Any = "symmetric", *,
             feed_latency: Any = 0, entry_latency: Any = 0, cancel_latency: Any = 0, response_latency: Any = 0,
             compute_latency: Any = 0, seed: int = 0, queue_model: str = "risk_averse", queue_power: float = 2.0,
             maker_fee_bps: float = 0.0, taker_fee_bps: float = 0.0, timer_interval_ns: int = 0,
             wake_on_feed: bool = True, wake_on_response: bool = True, post_only: bool = False,
             crossed_policy: str = "error", ewma_tau_ns: int = 1_000_000_000, repair: bool = False,
             engine: str = "cpp", progress: bool = False, source_name: str = "events",
             chunk_rows: int = 1 << 18, limit: Optional[int] = None, features: Any = None,
             model: Any = None) -> RunResult:
    """Replay ``events`` through the exchange simulator with ``strategy`` quoting; return the results.

    ``events`` is an EVENT_DTYPE array, or an :class:`mmsim.store.EventStore`, which is streamed one
    row group at a time so memory does not grow with its length (C++ engine; ``limit`` takes its first
    rows). Latencies take the specs of docs/latency.md (``"2ms"``, ``"data+1ms"``,
    ``"lognormal:median=2ms,sigma=0.6"``, an array, a callable); ``compute_latency`` also takes
    ``"measured"`` or ``"measured:xF"``. Every random draw comes from ``seed``: the same inputs and seed give
    identical results, streamed or not. ``engine="reference"`` runs the pure-Python reference simulator
    (same rules, much slower). ``features`` (a spec list, ``"small"``, ``"full"``; docs/features.md) gives the
    strategy a Rust feature bank over its delayed view: ``ctx.features``. ``model`` (a model file path or a
    loaded model, docs/models.md) is called by the loop on those features at each wakeup: ``ctx.pred_move``,
    ``ctx.p_up`` …; its feature bank is the model's own (``features`` may be omitted, or must match).
    ``compute_latency="model:x3"`` charges 3 × the measured inference time; ``"profile:cheap_cloud_vcpu"``
    or ``"profile:high_clock"`` draw from the post's hardware profiles.
    """
    import time

    from . import latency as L
    from .results import to_frames
    from .store import EventStore
    from .validate import validate_events

    if engine not in ("cpp", "reference"):
        raise ConfigError(f"engine must be 'cpp' or 'reference', not '{engine}'")
    if isinstance(events, EventStore):
        instrument = instrument or events.instrument
        total = events.n_rows if limit is None else min(int(limit), events.n_rows)
        chunks = events.iter_chunks(total)
        store_mode = events.meta["mode"]
        if engine != "cpp":
            raise ConfigError("streaming an event store needs the C++ engine (the reference holds all rows)")
    else:
        if limit is not None and isinstance(events, np.ndarray):
            events = events[:int(limit)]
        total = len(events) if isinstance(events, np.ndarray) else 0
        chunks = iter([events])
        store_mode = None
    instrument = instrument or Instrument()
    rngs = L.seeded_streams(seed)
    compute_source, factor, compute = _compute_spec(compute_latency)
    latencies = {
        "entry": L.latency_table(entry_latency, rngs["entry"]),
        "cancel": L.latency_table(cancel_latency, rngs["cancel"]),
        "response": L.latency_table(response_latency, rngs["response"]),
        "compute": L.latency_table(compute, rngs["compute"]),
    }
    strat, name = _engine_strategy(strategy, engine)
    clock = L.FeedClock(feed_latency, rngs["feed"], total, source=source_name)
    counts = {"rows": 0, "dropped": 0}

    def prepared(chunk):
        """Validate a chunk (rows numbered globally) and give it its feed arrival times."""
        chunk, report = validate_events(chunk, source_name, repair=repair, row_offset=counts["rows"])
        counts["rows"] += report["n_input"]
        counts["dropped"] += report["n_dropped"]
        return chunk, clock.arrivals(chunk), report

    first, first_arrival, report = prepared(next(chunks))
    mode = store_mode or report["mode"]
    config = dict(DEFAULT_CONFIG)
    config.update(mode=mode, queue_model=queue_model, queue_power=float(queue_power),
                  maker_fee_bps=float(maker_fee_bps), taker_fee_bps=float(taker_fee_bps),
                  tick_size=float(instrument.tick_size), lot_size=float(instrument.lot_size),
                  wake_on_feed=bool(wake_on_feed), wake_on_response=bool(wake_on_response),
                  timer_interval_ns=int(timer_interval_ns), post_only=bool(post_only),
                  crossed_policy=crossed_policy, ewma_tau_ns=int(ewma_tau_ns), compute_source=compute_source,
                  compute_factor=factor, strategy_name=name)
    if model is not None:
        from .models import load_model

        loaded = load_model(model) if isinstance(model, (str, os.PathLike)) else model
        if features is not None:
            loaded.check_specs(features)  # names both hashes and the first feature that differs
        features = loaded.specs
        if engine != "cpp":
            raise ConfigError("a model needs the C++ engine (inference runs in the loop)")
        # the library `mmsim model compile` built for this CPU when one is cached, else the interpreted model
        config["model"] = loaded.native(compiled=True)
    if features is not None:
        if engine != "cpp":
            raise ConfigError("features need the C++ engine (the reference simulator checks the engine rules; "
                              "the feature bank is checked against its own numpy reference)")
        from .batch import spec_matrix

        config["features"] = spec_matrix(features)

    t0 = time.perf_counter()
    bar = None
    try:
        pending = next(chunks, None)
        if engine == "cpp":
            from ._core import Engine
            eng = Engine(first, first_arrival, latencies, config, strat, final=pending is None)
        else:
            from .reference import ReferenceEngine
            eng = ReferenceEngine(first, first_arrival, latencies, config, strat)
        if progress and total > chunk_rows:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="row", unit_scale=True, desc=source_name, leave=False)
        done, seen = False, 0
        max_held = len(first)
        while not done:
            done = eng.step(chunk_rows)
            if not done and pending is not None and eng.needs_data():
                chunk, arrival, rep = prepared(pending)
                if rep["mode"] != mode and rep["counts"].keys() - {"trade"}:
                    raise DataError(f"{source_name}: row {counts['rows'] - rep['n_input']}: "
                                    f"{rep['mode'].upper()} events in a {mode.upper()} stream")
                pending = next(chunks, None)
                eng.append(chunk, arrival, pending is None)
                max_held = max(max_held, int(eng.rows_held()))
            if bar is not None:
                now = int(eng.rows_delivered()) if hasattr(eng, "rows_delivered") else total
                bar.update(now - seen)
                seen = now
    except DataError as e:
        msg = str(e)
        raise DataError(msg if msg.startswith(f"{source_name}: ") else f"{source_name}: {msg}") from None
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    n_rows = counts["rows"] - counts["dropped"]
    fills, orders, decisions = eng.fills(), eng.orders(), eng.decisions()
    summary = dict(eng.summary())
    del eng  # free the engine's own logs and books before the DataFrames are built: lower peak memory
    summary.update(wall_s=wall, events_per_s=(n_rows / wall if wall > 0 else float("inf")),
                   engine=engine, strategy=name, seed=int(seed), mode=mode, source=source_name,
                   repaired_rows=int(counts["dropped"]), max_rows_held=max_held)
    f, o, d = to_frames(fills, orders, decisions)
    return RunResult(fills=f, orders=o, decisions=d, summary=summary)
