"""Fixed-layout records shared by the C++ engine, the Python reference simulator and numpy.

Every record is a packed struct of 8-byte fields followed by small integer fields, mirrored exactly by
``cpp/include/mmsim/records.hpp``; ``tests/test_records.py`` proves the layouts agree.
Timestamps are int64 nanoseconds, prices int64 ticks, quantities int64 lots.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Sentinel for "no timestamp" (e.g. data without a recorded receive time).
NO_TS = np.iinfo(np.int64).min

# Event kinds (EVENT_DTYPE["kind"]).
DEPTH = 1    #: L2: level (side, price) now holds qty lots in total (0 removes the level)
TRADE = 2    #: a trade print; side is the aggressor's (+1 buyer-initiated, -1 seller-initiated)
CLEAR = 3    #: L2: clear side (+1 bids, -1 asks, 0 both), e.g. before a snapshot
ADD = 4      #: L3: new resting order order_id (side, price, qty)
CANCEL = 5   #: L3: qty lots removed from order_id, which keeps its priority
DELETE = 6   #: L3: order_id removed; qty is its whole remaining quantity
EXECUTE = 7  #: L3: qty lots of resting order_id executed; side is the resting (passive) side

EVENT_KINDS = {
    "depth": DEPTH, "trade": TRADE, "clear": CLEAR,
    "add": ADD, "cancel": CANCEL, "delete": DELETE, "execute": EXECUTE,
}
L2_KINDS = (DEPTH, TRADE, CLEAR)
L3_KINDS = (ADD, CANCEL, DELETE, EXECUTE)

BID = 1
ASK = -1

#: Event flag bits (EVENT_DTYPE["flags"]).
FLAG_INFORMED = 1  #: ground truth from a synthetic market: the trade came from an informed trader
#: The row is the last of its exchange message. The rows since the previous MSG_END row (or the start) form
#: one message: they share exch_ts, are drawn one feed latency and arrive at the strategy together, so it
#: never sees a book halfway through a message (docs/event-loop.md). Every adapter and generator sets it.
FLAG_MSG_END = 2

EVENT_DTYPE = np.dtype([
    ("exch_ts", "<i8"),   # exchange timestamp, ns
    ("recv_ts", "<i8"),   # recorded receive timestamp, ns, or NO_TS
    ("price", "<i8"),     # ticks
    ("qty", "<i8"),       # lots
    ("order_id", "<i8"),  # L3 order id (0 for L2 events)
    ("kind", "u1"),
    ("side", "i1"),
    ("flags", "u1"),
    ("_pad", "u1", (5,)),
])
assert EVENT_DTYPE.itemsize == 48

# Own-order time in force.
GTC = 0        #: rests until filled or cancelled; crosses as taker at entry
POST_ONLY = 1  #: rejected if it would cross at entry
IOC = 2        #: takes what it can at entry, the rest expires

# Final order status (ORDER_DTYPE["status"]).
ST_PENDING = 0    #: sent but had not reached the exchange when the run ended
ST_OPEN = 1       #: resting at the end of the run
ST_FILLED = 2
ST_CANCELLED = 3
ST_REJECTED = 4   #: a post-only order that would have crossed at entry
ST_EXPIRED = 5    #: IOC remainder

# What made a fill (FILL_DTYPE["cause"]).
CAUSE_TRADE = 0          #: a trade print at our price reached our queue position
CAUSE_TRADE_THROUGH = 1  #: a trade printed at a worse price than ours: we would have been hit first
CAUSE_CROSS = 2          #: the opposite best moved through our resting price
CAUSE_TAKER = 3          #: our order crossed the book when it arrived
CAUSE_EXECUTE = 4        #: L3: an execution of a market order queued behind ours

FILL_DTYPE = np.dtype([
    ("fill_id", "<i8"),
    ("order_id", "<i8"),
    ("exch_ts", "<i8"),       # when the fill happened on the exchange
    ("recv_ts", "<i8"),       # when the strategy learned of it (response latency)
    ("price", "<i8"),
    ("qty", "<i8"),
    ("position", "<i8"),      # exchange-side position after this fill, lots
    ("data_row", "<i8"),      # data row that caused it (for a taker fill: the next row to be processed)
    ("fee", "<f8"),           # quote currency; negative is a rebate
    ("side", "i1"),           # +1 we bought, -1 we sold
    ("maker", "u1"),
    ("cause", "u1"),
    ("venue", "u1"),          # the venue it happened on (0 = the primary quoted venue; docs/event-loop.md)
    ("_pad", "u1", (4,)),
])
assert FILL_DTYPE.itemsize == 80

ORDER_DTYPE = np.dtype([
    ("order_id", "<i8"),
    ("decision_id", "<i8"),   # the decision (wakeup) that sent it
    ("price", "<i8"),
    ("qty", "<i8"),           # quantity at entry
    ("filled", "<i8"),
    ("sent_ts", "<i8"),       # on the wire (decision time + compute latency)
    ("exch_ts", "<i8"),       # reached the exchange, or NO_TS
    ("done_ts", "<i8"),       # exchange time it stopped working, or NO_TS
    ("side", "i1"),
    ("tif", "u1"),
    ("status", "u1"),
    ("venue", "u1"),          # the venue it was sent to (0 = the primary quoted venue)
    ("_pad", "u1", (4,)),
])
assert ORDER_DTYPE.itemsize == 72

DECISION_DTYPE = np.dtype([
    ("decision_id", "<i8"),
    ("ts", "<i8"),            # wakeup time on the strategy clock
    ("wire_ts", "<i8"),       # ts + compute latency: when its actions reach the wire
    ("data_exch_ts", "<i8"),  # newest exchange time of the data it saw (NO_TS if none yet)
    ("data_arrival_ts", "<i8"),  # arrival time of that data at the strategy
    ("data_rows", "<i8"),     # number of data rows it had seen
    ("position", "<i8"),      # position as known to the strategy
    ("bid_price", "<i8"),     # target; qty 0 = side pulled; no target: qty -1
    ("bid_qty", "<i8"),
    ("ask_price", "<i8"),
    ("ask_qty", "<i8"),
    ("n_new", "<i4"),
    ("n_cancel", "<i4"),
    ("n_modify", "<i4"),
    ("reason", "<i2"),        # bit mask of WAKE_*
    ("flags", "<u2"),         # bit mask of DECISION_* (0 for every causal strategy)
])
assert DECISION_DTYPE.itemsize == 104

#: What a decision had seen of one read-only signal venue (docs/event-loop.md "Signal venues"): one row per
#: decision per signal venue, in decision order then venue order (C++ ``SignalDataRecord``).
SIGNAL_DATA_DTYPE = np.dtype([
    ("decision_id", "<i8"),
    ("venue", "<i8"),            # 1..K, the order of the run's signal venues
    ("data_exch_ts", "<i8"),     # exch_ts of that venue's last delivered row (NO_TS before any)
    ("data_arrival_ts", "<i8"),  # its arrival at the strategy (NO_TS before any)
    ("data_rows", "<i8"),        # rows of that venue delivered so far
])
assert SIGNAL_DATA_DTYPE.itemsize == 40

#: What a decision set on one quoted venue k >= 1 (docs/event-loop.md "Quoted venues"): one row per decision
#: per quoted venue k >= 1, in decision order then venue order (C++ ``QuoteRecord``). Venue 0's are on the
#: decision itself.
QUOTE_DTYPE = np.dtype([
    ("decision_id", "<i8"),
    ("venue", "<i8"),       # 1..K, a quoted venue
    ("position", "<i8"),    # the strategy's known position at that venue at the decision
    ("bid_price", "<i8"),   # targets; qty 0 = side pulled; no targets: qty -1
    ("bid_qty", "<i8"),
    ("ask_price", "<i8"),
    ("ask_qty", "<i8"),
    ("n_new", "<i4"),       # actions sent to that venue by the decision (low-level calls included)
    ("n_cancel", "<i4"),
    ("n_modify", "<i4"),
    ("_pad", "u1", (4,)),
])
assert QUOTE_DTYPE.itemsize == 72

WAKE_FEED = 1
WAKE_TIMER = 2
WAKE_RESPONSE = 4

#: Decision flag bits (DECISION_DTYPE["flags"]).
#: The decision read the future through the marked path: a built-in oracle (the clairvoyant bound,
#: docs/strategies.md). ``mmsim audit`` labels such runs and fails them for any other strategy.
DECISION_CLAIRVOYANT = 1


# --------------------------------------------------------------------------------------------- run contract
#: L2 queue-position models (docs/fills.md), in both engines (C++: cpp/bindings/register_engine.cpp).
QUEUE_MODELS = ("risk_averse", "power", "log")

#: The engines' configuration keys and defaults: the C++ loop and the reference simulator both read these.
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
    """Instrument metadata: prices are integer ticks of ``tick_size``, quantities lots of ``lot_size``.

    An ``inverse`` contract (Binance COIN-M) is quoted in quote currency per coin, but each of its contracts is
    worth ``contract_size`` quote-currency units and settles in coin: quantities stay contracts (lots of
    ``lot_size`` contracts), the summary adds PnL and fees in coin (docs/data.md, "Inverse contracts").
    """

    tick_size: float = 0.01
    lot_size: float = 1.0
    symbol: str = ""
    contract_size: float = 1.0  #: quote currency per contract (inverse); 1 for a linear instrument
    inverse: bool = False


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
