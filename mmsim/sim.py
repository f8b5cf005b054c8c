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
