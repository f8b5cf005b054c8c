"""The pure-Python reference simulator: the readable statement of docs/event-loop.md and docs/fills.md.

``ReferenceEngine`` takes the same arguments and offers the same methods as the C++ engine
(``mmsim._core.Engine``, see ``src/mmsim/engine/sim.py``) and must produce identical fills, orders, decisions and
summary. It is written for clarity, not speed: every rule lives in one small, commented method, named
after the section of the docs it implements.

Vocabulary used below:

- *exchange side*: the book replayed at exchange time (``exch_ts``) plus our orders as the exchange sees
  them. It alone decides fills.
- *strategy side*: the book built from rows delivered by the feed (at ``arrival``), the features, and the
  strategy's own view of its orders, updated only by responses.
- *venue*: one instrument's strategy-side feed (``FeedVenue``). Venue 0 is the quoted instrument (the only one
  with an exchange side); venues 1..K are read-only *signal venues* (docs/venues.md): their rows reach only
  their own strategy-side book, at their own feed arrival times.
"""
from __future__ import annotations

import math
import operator
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from sortedcontainers import SortedDict

from mmsim import records as R
from mmsim.errors import ConfigError, DataError, StrategyError
from mmsim.records import DEFAULT_CONFIG, SUMMARY_KEYS

__all__ = ["ReferenceEngine", "marked_mid_path"]

# Stream priorities of the event loop (docs/event-loop.md, docs/venues.md): at equal time the smallest
# (time, priority, venue) runs first; signal feeds come right after the quoted feed, venue 1 before venue 2.
P_EXCHANGE, P_REQUEST, P_FEED, P_SIGNAL, P_RESPONSE, P_TIMER, P_WAKEUP = 0, 1, 2, 3, 4, 5, 6

# Request kinds (strategy -> exchange) and response kinds (exchange -> strategy).
REQ_NEW, REQ_CANCEL, REQ_MODIFY = "new", "cancel", "modify"
RSP_ACK, RSP_FILL, RSP_CANCELLED, RSP_EXPIRED, RSP_REJECTED = "ack", "fill", "cancelled", "expired", "rejected"
RSP_MODIFIED, RSP_CANCEL_REJECT, RSP_MODIFY_REJECT = "modified", "cancel_reject", "modify_reject"

# Strategy-side knowledge of an order.
SENT, LIVE, DONE = "sent", "live", "done"

#: A strategy that wakes more often than this at one instant stops the run (docs/event-loop.md).
MAX_WAKES_PER_INSTANT = 1000

_TIFS = {"gtc": R.GTC, "post_only": R.POST_ONLY, "ioc": R.IOC}
_KIND_NAMES = {v: k.upper() for k, v in R.EVENT_KINDS.items()}


# ================================================================================================ books
class Book:
    """Price levels of one book: ``side -> SortedDict(price -> qty)``; a level at 0 lots does not exist.

    The exchange side and the strategy side use this same class fed the same rows (docs/event-loop.md).
    """

    def __init__(self) -> None:
        self.levels = {R.BID: SortedDict(), R.ASK: SortedDict()}
        self.last_changed_side = 0  # side of the last level-changing event (for the crossed-book repair)

    def qty_at(self, side: int, price: int) -> int:
        return self.levels[side].get(price, 0)

    def best(self, side: int) -> Optional[int]:
        """Best price of a side, None when the side is empty."""
        lv = self.levels[side]
        if not lv:
            return None
        return lv.peekitem(-1)[0] if side == R.BID else lv.peekitem(0)[0]

    def level(self, side: int, k: int) -> tuple[int, int]:
        """``(price, qty)`` of level k (0 = best) of a side; ``(0, 0)`` past the end."""
        lv = self.levels[side]
        if k < 0 or k >= len(lv):
            return (0, 0)
        return lv.peekitem(-1 - k) if side == R.BID else lv.peekitem(k)

    def set(self, side: int, price: int, qty: int) -> int:
        """L2 DEPTH: level (side, price) now holds ``qty`` lots; returns the previous quantity."""
        lv = self.levels[side]
        prev = lv.get(price, 0)
        if qty > 0:
            lv[price] = qty
        else:
            lv.pop(price, None)
        self.last_changed_side = side
        return prev

    def add(self, side: int, price: int, dq: int, row: int) -> None:
        """L3: add ``dq`` lots (negative removes) to a level; a level cannot go negative."""
        lv = self.levels[side]
        prev = lv.get(price, 0)
        new = prev + dq
        if new < 0:
            raise DataError(f"row {row}: level {price} would go negative ({prev} lots, change {dq})")
        if new > 0:
            lv[price] = new
        else:
            lv.pop(price, None)
        self.last_changed_side = side

    def clear(self, side: int) -> None:
        """L2 CLEAR: +1 bids, -1 asks, 0 both. Not a level-changing event for the repair rule."""
        for s in (R.BID, R.ASK):
            if side == 0 or side == s:
                self.levels[s].clear()

    def mid(self) -> Optional[float]:
        bb, ba = self.best(R.BID), self.best(R.ASK)
        if bb is None or ba is None:
            return None
        return (bb + ba) / 2.0

    def check_crossed(self, row: int, policy: str) -> int:
        """End of an exchange-timestamp group (docs/fills.md, "Crossed books in the data").

        Returns the number of levels removed by the repair (0 when not crossed).
        """
        bb, ba = self.best(R.BID), self.best(R.ASK)
        if bb is None or ba is None or bb < ba:
            return 0
        if policy == "error":
            raise DataError(f"row {row}: crossed book: best bid {bb} >= best ask {ba}")
        # Repair: the side touched by the last level-changing event is fresh; the other side is stale and
        # loses its crossed levels, best first, until the book is no longer crossed.
        stale = -self.last_changed_side if self.last_changed_side != 0 else R.ASK
        removed = 0
        while True:
            bb, ba = self.best(R.BID), self.best(R.ASK)
            if bb is None or ba is None or bb < ba:
                return removed
            self.levels[stale].pop(self.best(stale))
            removed += 1


def apply_row_to_levels(book: Book, mode: str, kind: int, side: int, price: int, qty: int, row: int) -> int:
    """Apply one data row to a book's levels (both books use this). Returns the previous level quantity
    for an L2 DEPTH (used by the queue models), else 0.

    L2: DEPTH sets a level, CLEAR clears sides, TRADE is a print. L3: ADD adds, CANCEL/DELETE/EXECUTE
    remove ``qty`` at (side, price), TRADE is a print that changes no level.
    """
    if mode == "l2":
        if kind == R.DEPTH:
            return book.set(side, price, qty)
        if kind == R.CLEAR:
            book.clear(side)
        return 0
    if kind == R.ADD:
        book.add(side, price, qty, row)
    elif kind in (R.CANCEL, R.DELETE, R.EXECUTE):
        book.add(side, price, -qty, row)
    return 0


def marked_mid_path(events: np.ndarray, mode: str = "l2", crossed_policy: str = "error") -> tuple[np.ndarray, np.ndarray]:
    """The oracle's marked path (docs/strategies.md, "The clairvoyant bound"), computed before the loop: the
    exchange-side mid as a step function of exchange time.

    The rows go through a book with the exchange side's rules (``apply_row_to_levels``; the crossed-book check
    or repair at the end of each exchange-timestamp group); after each group, twice the mid (integer ticks) is
    recorded at the group's ``exch_ts`` when it differs from the last one recorded. A one-sided book records
    nothing: the last two-sided mid holds. Returns ``(ts, mid2)`` int64 arrays (the C++ engine's twin is
    ``mmsim._core.MidPathBuilder``).
    """
    book = Book()
    ts, kind, side = events["exch_ts"].tolist(), events["kind"].tolist(), events["side"].tolist()
    price, qty = events["price"].tolist(), events["qty"].tolist()
    out_ts: list[int] = []
    out_mid2: list[int] = []
    n = len(ts)
    for i in range(n):
        apply_row_to_levels(book, mode, kind[i], side[i], price[i], qty[i], i)
        if i + 1 < n and ts[i + 1] == ts[i]:
            continue  # the group goes on
        book.check_crossed(i, crossed_policy)
        bb, ba = book.best(R.BID), book.best(R.ASK)
        if bb is not None and ba is not None and (not out_mid2 or bb + ba != out_mid2[-1]):
            out_ts.append(ts[i])
            out_mid2.append(bb + ba)
    return np.array(out_ts, dtype=np.int64), np.array(out_mid2, dtype=np.int64)


def validate_row(i: int, mode: str, kind: int, side: int) -> None:
    """A row's kind must belong to the stream's mode and its side be +1/-1 (CLEAR: +1, -1 or 0)."""
    allowed = (R.DEPTH, R.TRADE, R.CLEAR) if mode == "l2" else (R.ADD, R.CANCEL, R.DELETE, R.EXECUTE, R.TRADE)
    if kind not in allowed:
        name = _KIND_NAMES.get(kind, str(kind))
        raise DataError(f"row {i}: event kind {name} is not valid in {mode.upper()} mode")
    if kind == R.CLEAR:
        if side not in (R.BID, R.ASK, 0):
            raise DataError(f"row {i}: CLEAR side must be +1, -1 or 0, got {side}")
    elif side not in (R.BID, R.ASK):
        raise DataError(f"row {i}: side must be +1 or -1, got {side}")


# ================================================================================================ venues
class FeedVenue:
    """The strategy side of one venue: its rows, their feed arrival times, the delayed book built from the rows
    delivered so far, and what has been delivered (``data_rows`` and the last delivered row's times).

    Index 0 is the quoted venue (its exchange side lives in the engine); 1..K are signal venues, which have no
    exchange side: a signal row only reaches this book, at its arrival (docs/venues.md). One struct per venue,
    so quoting several venues (issue 12, stage 2) adds an exchange side beside it without touching this.
    """

    def __init__(self, index: int, name: str, events: np.ndarray, arrival: Any, mode: str, crossed_policy: str,
                 tick_size: float, lot_size: float) -> None:
        self.index, self.name, self.mode, self.crossed_policy = index, name, mode, crossed_policy
        self.tick_size, self.lot_size = float(tick_size), float(lot_size)
        #: prefix of this venue's data errors: none for the quoted venue (as before), the venue's name otherwise
        self.label = "" if index == 0 else f"signal {name!r}: "
        self.exch_ts = events["exch_ts"].tolist()
        self.price = events["price"].tolist()
        self.qty = events["qty"].tolist()
        self.kind = events["kind"].tolist()
        self.side = events["side"].tolist()
        self.arrival = np.asarray(arrival, dtype=np.int64).tolist()
        self.n = len(self.exch_ts)
        self.book = Book()
        self.next_row = 0                 # the next row the feed delivers
        self.data_rows = 0                # rows delivered
        self.data_exch_ts = R.NO_TS       # the last delivered row's exchange time ...
        self.data_arrival_ts = R.NO_TS    # ... and arrival time
        self.repaired = 0                 # crossed levels the repair removed from this (strategy-side) book

    def last_of_group(self, i: int) -> bool:
        return i == self.n - 1 or self.exch_ts[i + 1] != self.exch_ts[i]

    def deliver(self) -> int:
        """The next row arrives: apply it to the delayed book, check (or repair) a crossed book at the end of its
        exchange-time group, and return its arrival time."""
        i = self.next_row
        try:
            apply_row_to_levels(self.book, self.mode, self.kind[i], self.side[i], self.price[i], self.qty[i], i)
            if self.last_of_group(i):
                self.repaired += self.book.check_crossed(i, self.crossed_policy)
        except DataError as e:
            if not self.label:
                raise
            raise DataError(f"{self.label}{e}") from None
        t = self.arrival[i]
        self.next_row = self.data_rows = i + 1
        self.data_exch_ts = self.exch_ts[i]
        self.data_arrival_ts = t
        return t


class ReferenceVenue:
    """What a strategy reads of one venue (``ctx.venue(key)``): the top of its delayed book, what of it has
    arrived, its instrument, its features (none in the reference) and ``depth(side, level)``."""

    def __init__(self, feed: FeedVenue) -> None:
        self._book = feed.book
        self.name = feed.name
        self.index = feed.index  # 0 = the quoted instrument
        bb, ba = feed.book.best(R.BID), feed.book.best(R.ASK)
        self.best_bid = bb if bb is not None else 0
        self.bid_qty = feed.book.qty_at(R.BID, bb) if bb is not None else 0
        self.best_ask = ba if ba is not None else 0
        self.ask_qty = feed.book.qty_at(R.ASK, ba) if ba is not None else 0
        self.mid = feed.book.mid()  # ticks; None when a side is empty
        self.data_exch_ts = feed.data_exch_ts
        self.data_arrival_ts = feed.data_arrival_ts
        self.data_rows = feed.data_rows
        self.tick_size = feed.tick_size
        self.lot_size = feed.lot_size
        self.features = np.zeros(0, dtype=np.float64)

    def depth(self, side: int, level: int) -> tuple[int, int]:
        """``(price, qty)`` of level ``level`` (0 = best) of a side of this venue's delayed book; (0, 0) past the end."""
        if side not in (R.BID, R.ASK):
            raise StrategyError(f"depth: side must be +1 or -1, got {side!r}")
        return self._book.level(side, operator.index(level))

    def __repr__(self) -> str:
        return (f"ReferenceVenue({self.name!r}, bid {self.best_bid}x{self.bid_qty}, ask {self.best_ask}x{self.ask_qty}, "
                f"data_rows {self.data_rows})")


# ================================================================================================ orders
@dataclass(eq=False)
class ExOrder:
    """One own order as the exchange sees it, plus the fields of its ``orders`` log row."""

    order_id: int
    decision_id: int
    side: int
    price: int
    qty: int                 # entry quantity (log)
    tif: int
    sent_ts: int
    leaves: int = 0
    filled: int = 0
    exch_ts: int = R.NO_TS
    done_ts: int = R.NO_TS
    status: int = R.ST_PENDING
    live: bool = False       # resting at the exchange
    ahead: float = 0.0       # market quantity in front of us at our price
    traded: float = 0.0      # print volume at our price since the last level update (probabilistic models)
    seq: int = 0             # L3 priority against market orders


@dataclass(eq=False)
class StOrder:
    """The strategy's own view of one of its orders, updated only by responses."""

    order_id: int
    side: int
    price: int
    qty: int                 # target quantity (set to q' when a modify is sent)
    leaves_known: int
    state: str = SENT
    cancel_sent: bool = False

    @property
    def working(self) -> bool:
        return self.state != DONE and not self.cancel_sent


class _Ewma:
    """Exact time-decayed EWMA of a piecewise-constant signal (the Rust feature ``mmsim_ewma_update``)."""

    def __init__(self, tau_ns: int) -> None:
        self.tau = float(tau_ns)
        self.initialized = False
        self.value = math.nan
        self.last_x = 0.0
        self.last_t = 0

    def update(self, t: int, x: float) -> None:
        if not self.initialized:
            self.value = x
            self.initialized = True
        else:
            w = math.exp(-(t - self.last_t) / self.tau)
            self.value = w * self.value + (1.0 - w) * self.last_x
        self.last_x = x
        self.last_t = t

    def value_at(self, t: int) -> float:
        """The average as of ``t`` (>= the last update), the last value held since then."""
        if not self.initialized:
            return math.nan
        w = math.exp(-(t - self.last_t) / self.tau)
        return w * self.value + (1.0 - w) * self.last_x


# ================================================================================================ context
class ReferenceContext:
    """What a strategy reads at a wakeup (strategy side only) plus the low-level order API."""

    def __init__(self, eng: "ReferenceEngine", ts: int, reason: int) -> None:
        self._eng = eng
        self._open = True
        self.now = ts
        self.reason = reason
        book = eng.feeds[0].book
        bb, ba = book.best(R.BID), book.best(R.ASK)
        self.best_bid = bb if bb is not None else 0
        self.bid_qty = book.qty_at(R.BID, bb) if bb is not None else 0
        self.best_ask = ba if ba is not None else 0
        self.ask_qty = book.qty_at(R.ASK, ba) if ba is not None else 0
        self.position = eng.st_position
        self.cash = eng.st_cash_ticklots * eng.tick_size * eng.lot_size - eng.st_fees
        self.ewma_mid = eng.ewma.value_at(ts)
        quoted = eng.feeds[0]
        self.data_exch_ts = quoted.data_exch_ts
        self.data_arrival_ts = quoted.data_arrival_ts
        self.data_rows = quoted.data_rows
        self.tick_size = eng.tick_size
        self.lot_size = eng.lot_size
        self.venue_names = eng.venue_names

    def _check_open(self) -> None:
        if not self._open:
            raise StrategyError("the context is only valid during on_wakeup")

    def depth(self, side: int, level: int) -> tuple[int, int]:
        if side not in (R.BID, R.ASK):
            raise StrategyError(f"depth: side must be +1 or -1, got {side!r}")
        return self._eng.feeds[0].book.level(side, operator.index(level))

    def venue(self, key: "int | str") -> ReferenceVenue:
        """One venue's delayed view by name or index (0 = the quoted venue, 1..K the signal venues in order)."""
        feeds = self._eng.feeds
        if isinstance(key, str):
            k = self._eng.venue_index.get(key)
        elif isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            k = int(key) if 0 <= int(key) < len(feeds) else None
        else:
            k = None
        if k is None:
            known = ", ".join(f"'{n}'" for n in self.venue_names)
            raise StrategyError(f"ctx.venue: unknown venue {key!r}; known: {known} (or an index 0..{len(feeds) - 1})")
        return ReferenceVenue(feeds[k])

    def open_orders(self) -> list[tuple[int, int, int, int, int]]:
        return [(o.order_id, o.side, o.price, o.qty, o.leaves_known)
                for o in self._eng.st_active.values() if o.working]

    def submit(self, side: int, price: int, qty: int, tif: str = "gtc") -> int:
        self._check_open()
        side, price, qty = operator.index(side), operator.index(price), operator.index(qty)
        if side not in (R.BID, R.ASK):
            raise StrategyError("submit: side must be +1 (bid) or -1 (ask)")
        if qty <= 0:
            raise StrategyError("submit: qty must be > 0")
        if tif not in _TIFS:
            raise StrategyError(f"submit: tif must be 'gtc', 'post_only' or 'ioc', not {tif!r}")
        return self._eng._api_new(side, price, qty, _TIFS[tif])

    def cancel(self, order_id: int) -> None:
        self._check_open()
        self._eng._api_cancel(operator.index(order_id))

    def modify(self, order_id: int, qty: int) -> None:
        self._check_open()
        order_id, qty = operator.index(order_id), operator.index(qty)
        if qty <= 0:
            raise StrategyError("modify: qty must be > 0 (use cancel)")
        self._eng._api_modify(order_id, qty)


# ================================================================================================ engine
class ReferenceEngine:
    """Same interface as ``mmsim._core.Engine``: ``step``, ``fills``, ``orders``, ``decisions``, ``summary``."""

    def __init__(self, events: np.ndarray, arrival: np.ndarray, latencies: dict, config: dict,
                 strategy: Any, final: bool = True, signals: Optional[list] = None) -> None:
        # ---- configuration
        cfg = dict(DEFAULT_CONFIG)
        cfg.update(config or {})
        self.cfg = cfg
        self.mode = str(cfg["mode"])
        if self.mode not in ("l2", "l3"):
            raise ConfigError(f"mode must be 'l2' or 'l3', got {self.mode!r}")
        self.queue_model = str(cfg["queue_model"])
        if self.queue_model not in R.QUEUE_MODELS:
            raise ConfigError(f"queue_model must be risk_averse, power or log, got {self.queue_model!r}")
        self.queue_power = float(cfg["queue_power"])
        self.crossed_policy = str(cfg["crossed_policy"])
        if self.crossed_policy not in ("error", "repair"):
            raise ConfigError(f"crossed_policy must be 'error' or 'repair', got {self.crossed_policy!r}")
        if cfg.get("compute_measured") or cfg.get("compute_source", "table") != "table":
            raise ConfigError("the reference engine cannot measure compute latency (compute_source must be 'table')")
        if int(cfg["ewma_tau_ns"]) <= 0:
            raise ConfigError(f"ewma_tau_ns must be > 0, got {cfg['ewma_tau_ns']}")
        self.tick_size = float(cfg["tick_size"])
        self.lot_size = float(cfg["lot_size"])
        self.maker_bps = float(cfg["maker_fee_bps"])
        self.taker_bps = float(cfg["taker_fee_bps"])
        self.wake_on_feed = bool(cfg["wake_on_feed"])
        self.wake_on_response = bool(cfg["wake_on_response"])
        self.timer_interval = int(cfg["timer_interval_ns"])
        if self.timer_interval < 0:
            raise ConfigError(f"timer_interval_ns must be >= 0, got {self.timer_interval}")
        self.post_only = bool(cfg["post_only"])
        self.strategy_name = str(cfg["strategy_name"])
        self.strategy = strategy
        # A strategy that reads the future (a built-in oracle's twin) says so; each decision carries the mark.
        self.decision_flags = R.DECISION_CLAIRVOYANT if getattr(strategy, "clairvoyant", False) else 0

        # ---- inputs (plain Python ints: the reference favours clarity over speed)
        events = np.asarray(events)
        if events.dtype != R.EVENT_DTYPE:
            raise ConfigError(f"events must have EVENT_DTYPE, got {events.dtype}")
        self.n = len(events)
        if len(arrival) != self.n:
            raise ConfigError(f"arrival has {len(arrival)} rows, events {self.n}")
        if not final:
            raise ConfigError("the reference engine holds all rows: final must be True (it does not stream)")
        quoted = FeedVenue(0, str(cfg.get("name", "quoted")), events, arrival, self.mode, self.crossed_policy,
                           self.tick_size, self.lot_size)
        self.feeds: list[FeedVenue] = [quoted] + self._signal_venues(signals, cfg, quoted.name)
        self.venue_names = tuple(f.name for f in self.feeds)
        self.venue_index = {f.name: k for k, f in enumerate(self.feeds)}
        # the quoted venue's columns, read by its exchange side (the same lists as its feed's)
        self.ev_exch_ts, self.ev_price, self.ev_qty = quoted.exch_ts, quoted.price, quoted.qty
        self.ev_kind, self.ev_side = quoted.kind, quoted.side
        self.ev_oid = events["order_id"].tolist()
        self.arrival = quoted.arrival
        self.lat = {}
        for leg in ("entry", "cancel", "response", "compute"):
            if leg not in latencies or len(latencies[leg]) < 1:
                raise ConfigError(f"latency table {leg!r} is missing or empty")
            self.lat[leg] = np.asarray(latencies[leg], dtype=np.int64).ravel().tolist()
            if min(self.lat[leg]) < 0:
                raise ConfigError(f"latency table {leg!r} has a negative latency")
        self.lat_count = {"entry": 0, "cancel": 0, "response": 0}
        self.t_end = self.arrival[-1] if self.n else None

        # ---- exchange side
        self.ex_book = Book()
        # lots our taker orders took at (side, price) since the data last updated that level (rule E)
        self.taken: dict[int, dict[int, int]] = {R.BID: {}, R.ASK: {}}
        self.mkt_orders: dict[int, list] = {}  # L3: id -> [seq, side, price, qty]
        self.own = {R.BID: SortedDict(), R.ASK: SortedDict()}  # resting own orders: price -> FIFO list
        self.orders_: list[ExOrder] = []      # index = order_id - 1
        self.position = 0
        self.cash_ticklots = 0
        self.fees = 0.0
        self.volume = 0
        self.fill_rows: list[tuple] = []
        self.last_mid = math.nan
        self.repaired = 0
        self.n_events = 0

        # ---- strategy side (the delayed books are the venues' own: self.feeds)
        self.ewma = _Ewma(int(cfg["ewma_tau_ns"]))
        self.st_orders: dict[int, StOrder] = {}
        self.st_active: dict[int, StOrder] = {}  # not known done; insertion order == id order
        self.st_position = 0
        self.st_cash_ticklots = 0
        self.st_fees = 0.0
        self.decision_rows: list[tuple] = []
        self.signal_rows: list[tuple] = []  # SIGNAL_DATA rows: per decision, per signal venue
        self.api_actions: Optional[list] = None  # low-level calls queued during a wakeup
        self.cur_decision = 0

        # ---- streams
        self.ex_i = 0      # next row for the exchange side (the feeds keep their own cursors)
        self.requests: deque = deque()   # (arrival, kind, order_id, qty)
        self.responses: deque = deque()  # (arrival, kind, order_id, payload)
        self.last_req_arrival: Optional[int] = None
        self.last_resp_arrival: Optional[int] = None
        self.next_timer = self.arrival[0] if (self.n and self.timer_interval > 0) else None
        self.wake_time: Optional[int] = None
        self.wake_reason = 0
        self.busy_until: Optional[int] = None
        self.last_wake_ts: Optional[int] = None
        self.wakes_at_ts = 0
        self.done = self.n == 0

    @staticmethod
    def _signal_venues(signals: Optional[list], cfg: dict, quoted_name: str) -> list[FeedVenue]:
        """The signal venues 1..K from ``signals`` (``(events_k, arrival_k)`` pairs) and ``config["signals"]``
        (one dict per venue, same order). Their rows are checked here, whole: they are held in memory."""
        signals = list(signals or [])
        metas = cfg.get("signals") or []
        if len(metas) != len(signals):
            raise ConfigError(f"config['signals'] describes {len(metas)} signal venues, signals= gives {len(signals)}")
        if not quoted_name:
            raise ConfigError("the quoted instrument's name (config['name']) must be non-empty")
        out: list[FeedVenue] = []
        names = {quoted_name}
        for k, (pair, meta) in enumerate(zip(signals, metas), 1):
            if not isinstance(meta, dict):
                raise ConfigError(f"config['signals'][{k - 1}] must be a dict")
            unknown = sorted(set(meta) - {"name", "mode", "tick_size", "lot_size", "crossed_policy", "features"})
            if unknown:
                raise ConfigError(f"config['signals'][{k - 1}]: unknown key '{unknown[0]}' "
                                  "(known: name, mode, tick_size, lot_size, crossed_policy, features)")
            name = meta.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"signal venue {k}: needs a non-empty 'name'")
            if name in names:
                raise ConfigError(f"signal venue {k}: name {name!r} is already taken "
                                  f"({'the quoted instrument' if name == quoted_name else 'another signal venue'})")
            names.add(name)
            label = f"signal {name!r}"
            mode = str(meta.get("mode", "l2"))
            if mode not in ("l2", "l3"):
                raise ConfigError(f"{label}: mode must be 'l2' or 'l3', got {mode!r}")
            policy = str(meta.get("crossed_policy", "error"))
            if policy not in ("error", "repair"):
                raise ConfigError(f"{label}: crossed_policy must be 'error' or 'repair', got {policy!r}")
            if meta.get("features") is not None:
                raise ConfigError(f"{label}: features need the C++ engine (the reference simulator has no feature bank)")
            try:
                events_k, arrival_k = pair
            except (TypeError, ValueError):
                raise ConfigError(f"{label}: signals entries must be (events, arrival) pairs") from None
            events_k = np.asarray(events_k)
            if events_k.dtype != R.EVENT_DTYPE:
                raise ConfigError(f"{label}: events must have EVENT_DTYPE, got {events_k.dtype}")
            arrival_k = np.asarray(arrival_k, dtype=np.int64)
            if len(arrival_k) != len(events_k):
                raise ConfigError(f"{label}: arrival has {len(arrival_k)} rows, events {len(events_k)}")
            if len(arrival_k) > 1 and bool((np.diff(arrival_k) < 0).any()):
                j = int(np.argmax(np.diff(arrival_k) < 0)) + 1
                raise ConfigError(f"{label}: arrival goes back in time at row {j} (a feed never reorders)")
            kinds, sides = events_k["kind"].tolist(), events_k["side"].tolist()
            for i in range(len(events_k)):
                try:
                    validate_row(i, mode, kinds[i], sides[i])
                except DataError as e:
                    raise DataError(f"{label}: {e}") from None
            out.append(FeedVenue(k, name, events_k, arrival_k, mode, policy, float(meta.get("tick_size", 1.0)),
                                 float(meta.get("lot_size", 1.0))))
        return out

    # ============================================================================== the loop
    def _next_item(self) -> Optional[tuple[int, int, int]]:
        """The smallest ``(time, priority, venue)`` over the heads of the streams, or None."""
        heads = []
        if self.ex_i < self.n:
            heads.append((self.ev_exch_ts[self.ex_i], P_EXCHANGE, 0))
        if self.requests:
            heads.append((self.requests[0][0], P_REQUEST, 0))
        quoted = self.feeds[0]
        if quoted.next_row < quoted.n:
            heads.append((quoted.arrival[quoted.next_row], P_FEED, 0))
        for k in range(1, len(self.feeds)):
            f = self.feeds[k]
            if f.next_row < f.n:
                heads.append((f.arrival[f.next_row], P_SIGNAL, k))
        if self.responses:
            heads.append((self.responses[0][0], P_RESPONSE, 0))
        if self.next_timer is not None:
            heads.append((self.next_timer, P_TIMER, 0))
        if self.wake_time is not None:
            heads.append((self.wake_time, P_WAKEUP, 0))
        return min(heads) if heads else None

    @property
    def st_book(self) -> Book:
        """The quoted venue's strategy-side (delayed) book."""
        return self.feeds[0].book

    @property
    def fd_i(self) -> int:
        """The next quoted row for the feed."""
        return self.feeds[0].next_row

    def step(self, n_rows: int) -> bool:
        """Process loop items until ``n_rows`` (at least 1) more quoted feed rows were delivered, returning
        False right after the last of them, or until the run ended, returning True."""
        target = self.fd_i + max(int(n_rows), 1)
        while not self.done:
            if target <= self.fd_i < self.n:
                return False
            item = self._next_item()
            if item is None or item[0] > self.t_end:  # nothing later than T_end is processed
                self.done = True
                break
            t, prio, venue = item
            if prio == P_EXCHANGE:
                self._on_exchange_row(self.ex_i)
            elif prio == P_REQUEST:
                self._on_request(self.requests.popleft())
            elif prio == P_FEED:
                self._on_feed_row()
            elif prio == P_SIGNAL:
                self._on_signal_row(venue)
            elif prio == P_RESPONSE:
                self._on_response(self.responses.popleft())
            elif prio == P_TIMER:
                self.next_timer = t + self.timer_interval
                self._request_wake(t, R.WAKE_TIMER)
            else:
                self._wakeup(t)
        return True

    def _draw(self, leg: str) -> int:
        """The k-th use of a latency leg takes element k % len."""
        table = self.lat[leg]
        k = self.lat_count[leg]
        self.lat_count[leg] = k + 1
        return table[k % len(table)]

    # ============================================================================== exchange: data rows
    def _on_exchange_row(self, i: int) -> None:
        """Row i at exch_ts[i]: update the exchange book and apply fill rules T and C (docs/fills.md)."""
        kind, side, price, qty = self.ev_kind[i], self.ev_side[i], self.ev_price[i], self.ev_qty[i]
        self._validate_row(i, kind, side)
        self.ex_i = i + 1
        if self.mode == "l2":
            self._exchange_l2(i, kind, side, price, qty)
        else:
            self._exchange_l3(i, kind, side, price, qty, self.ev_oid[i])
        if kind == R.CLEAR:  # a data update of a level restores its full displayed size to our taker orders
            for s in ((R.BID, R.ASK) if side == 0 else (side,)):
                self.taken[s].clear()
        elif kind != R.TRADE:
            self.taken[side].pop(price, None)
        self.n_events += 1
        if self._last_of_group(i):  # the crossed-book check (and repair) comes first: fills see clean data
            self.repaired += self.ex_book.check_crossed(i, self.crossed_policy)
        if kind != R.CLEAR:
            self._rule_c(i)
        mid = self.ex_book.mid()
        if mid is not None:
            self.last_mid = mid

    def _validate_row(self, i: int, kind: int, side: int) -> None:
        validate_row(i, self.mode, kind, side)

    def _last_of_group(self, i: int) -> bool:
        return i == self.n - 1 or self.ev_exch_ts[i + 1] != self.ev_exch_ts[i]

    def _exchange_l2(self, i: int, kind: int, side: int, price: int, qty: int) -> None:
        if kind == R.DEPTH:
            prev = apply_row_to_levels(self.ex_book, "l2", kind, side, price, qty, i)
            for o in self.own[side].get(price, ()):
                self._queue_level_update(o, prev, max(qty, 0))
        elif kind == R.TRADE:
            self._rule_t(i, aggressor=side, p=price, q=qty, cause_at_p=R.CAUSE_TRADE)
            # L2: the print consumed q of the market queue at p in front of our orders there.
            for o in self.own[-side].get(price, ()):
                o.ahead = max(o.ahead - qty, 0.0)
                o.traded += qty
        else:  # CLEAR: levels vanish; queue positions are left alone (not a fill, not a queue advance)
            apply_row_to_levels(self.ex_book, "l2", kind, side, price, qty, i)

    def _queue_level_update(self, o: ExOrder, prev: int, new: int) -> None:
        """L2 level update from ``prev`` to ``new`` lots at an own order's price (docs/fills.md)."""
        if self.queue_model == "risk_averse":
            o.ahead = min(o.ahead, float(new))
            return
        chg = prev - new - o.traded
        o.traded = 0.0
        if chg < 0:  # the level grew net of trades: growth goes behind us
            o.ahead = min(o.ahead, float(new))
            return
        front = o.ahead
        back = max(prev - front, 0.0)
        fb, ff = self._queue_f(back), self._queue_f(front)
        den = fb + ff
        p = fb / den if den != 0.0 else math.nan
        if not math.isfinite(p):
            p = 1.0
        est = front - (1.0 - p) * chg + min(back - p * chg, 0.0)
        o.ahead = max(min(est, float(new)), 0.0)

    def _queue_f(self, x: float) -> float:
        """f(x) = x^n ("power") or ln(1 + x) ("log", computed as log1p like the C++ engine)."""
        if self.queue_model == "power":
            try:
                return math.pow(x, self.queue_power)
            except OverflowError:
                return math.inf
        return math.log1p(x)

    def _exchange_l3(self, i: int, kind: int, side: int, price: int, qty: int, oid: int) -> None:
        if kind == R.TRADE:
            # A print not tied to a visible order: rule T, no change to any `ahead`.
            self._rule_t(i, aggressor=side, p=price, q=qty, cause_at_p=R.CAUSE_TRADE)
            return
        if kind == R.ADD:
            if oid in self.mkt_orders:
                raise DataError(f"row {i}: ADD of order id {oid}, which is already in the book")
            self.mkt_orders[oid] = [2 * i, side, price, qty]
            apply_row_to_levels(self.ex_book, "l3", kind, side, price, qty, i)
            return  # additions never change `ahead`
        x = self.mkt_orders.get(oid)
        if x is None:
            raise DataError(f"row {i}: {_KIND_NAMES[kind]} of unknown order id {oid}")
        seq_x, x_side, x_price, x_qty = x
        if side != x_side or price != x_price:
            raise DataError(f"row {i}: {_KIND_NAMES[kind]} of order id {oid} at side {side} price {price}, "
                            f"but the order is at side {x_side} price {x_price}")
        if kind == R.DELETE:
            if qty != x_qty:
                raise DataError(f"row {i}: DELETE of order id {oid} with qty {qty}, but {x_qty} remain")
        elif qty > x_qty:
            raise DataError(f"row {i}: {_KIND_NAMES[kind]} of {qty} lots from order id {oid}, "
                            f"which has {x_qty}")
        if kind == R.EXECUTE:
            # The aggressor (opposite side) reached X, so it passed our orders ahead of X at p.
            self._rule_t(i, aggressor=-side, p=price, q=qty, cause_at_p=R.CAUSE_EXECUTE, before_seq=seq_x)
        # X loses qty (CANCEL keeps its priority); own orders behind X at its price advance by qty.
        x[3] = x_qty - qty
        if x[3] == 0:
            del self.mkt_orders[oid]
        apply_row_to_levels(self.ex_book, "l3", kind, side, price, qty, i)
        for o in self.own[side].get(price, ()):
            if o.seq > seq_x:
                o.ahead = max(o.ahead - qty, 0.0)

    # ---- fill rules
    def _rule_t(self, i: int, aggressor: int, p: int, q: int, cause_at_p: int,
                before_seq: Optional[int] = None) -> None:
        """Rule T: hand out a print of q lots at p over our passive orders, best price first, then FIFO.

        ``before_seq`` (L3 EXECUTE of X): at price p only own orders ahead of X are candidates.
        """
        passive = -aggressor
        t = self.ev_exch_ts[i]
        book = self.own[passive]
        if passive == R.ASK:   # a buyer lifts asks at or below p, lowest first
            prices = list(book.irange(maximum=p))
        else:                  # a seller hits bids at or above p, highest first
            prices = list(book.irange(minimum=p, reverse=True))
        candidates = [o for price in prices for o in book[price]]
        r = q
        for o in candidates:
            if r <= 0:
                break
            if o.price != p:
                fill, cause = min(o.leaves, r), R.CAUSE_TRADE_THROUGH
            else:
                if before_seq is not None and not o.seq < before_seq:
                    continue
                fill, cause = min(o.leaves, max(0, math.floor(r - o.ahead))), cause_at_p
            if fill > 0:
                self._fill(o, fill, o.price, True, cause, i, t)
            r -= fill

    def _rule_c(self, i: int) -> None:
        """Rule C: own bids at or above the best ask, own asks at or below the best bid, fill all their
        leaves at their own price as maker, in order id order."""
        bb, ba = self.ex_book.best(R.BID), self.ex_book.best(R.ASK)
        crossed = []
        if ba is not None:
            for price in self.own[R.BID].irange(minimum=ba):
                crossed.extend(self.own[R.BID][price])
        if bb is not None:
            for price in self.own[R.ASK].irange(maximum=bb):
                crossed.extend(self.own[R.ASK][price])
        t = self.ev_exch_ts[i]
        for o in sorted(crossed, key=lambda o: o.order_id):
            self._fill(o, o.leaves, o.price, True, R.CAUSE_CROSS, i, t)

    def _fill(self, o: ExOrder, qty: int, price: int, maker: bool, cause: int, row: int, t: int) -> None:
        bps = self.maker_bps if maker else self.taker_bps
        fee = float(price) * self.tick_size * float(qty) * self.lot_size * bps / 1e4
        o.leaves -= qty
        o.filled += qty
        self.position += o.side * qty
        self.cash_ticklots -= o.side * price * qty
        self.fees += fee
        self.volume += qty
        recv = self._respond(t, RSP_FILL, o.order_id, (price, qty, fee))
        self.fill_rows.append((len(self.fill_rows), o.order_id, t, recv, price, qty, self.position, row, fee,
                               o.side, int(maker), cause))
        if o.leaves == 0:
            self._finish(o, R.ST_FILLED, t)

    def _finish(self, o: ExOrder, status: int, t: int) -> None:
        if o.live:
            self._unrest(o)
        o.status = status
        o.done_ts = t

    def _rest(self, o: ExOrder) -> None:
        """Join the back of the queue at our price: ahead = the book's quantity there (docs/fills.md)."""
        o.live = True
        o.status = R.ST_OPEN
        o.ahead = float(self.ex_book.qty_at(o.side, o.price))
        o.traded = 0.0
        o.seq = 2 * self.ex_i - 1  # behind every market order already there, ahead of every later one
        self.own[o.side].setdefault(o.price, []).append(o)

    def _unrest(self, o: ExOrder) -> None:
        o.live = False
        queue = self.own[o.side][o.price]
        queue.remove(o)
        if not queue:
            del self.own[o.side][o.price]

    # ============================================================================== exchange: requests
    def _respond(self, t: int, kind: str, order_id: int, payload: Any = None) -> int:
        """Send a message to the strategy; responses travel over one session and are never reordered."""
        arr = t + self._draw("response")
        if self.last_resp_arrival is not None:
            arr = max(arr, self.last_resp_arrival)
        self.last_resp_arrival = arr
        self.responses.append((arr, kind, order_id, payload))
        return arr

    def _on_request(self, req: tuple) -> None:
        t, kind, oid, qty = req
        o = self.orders_[oid - 1]
        if kind == REQ_NEW:
            self._entry(o, t)
        elif kind == REQ_CANCEL:
            if o.live:
                self._finish(o, R.ST_CANCELLED, t)
                self._respond(t, RSP_CANCELLED, oid)
            else:  # already filled or gone: fills that happened in flight stand
                self._respond(t, RSP_CANCEL_REJECT, oid)
        else:  # REQ_MODIFY
            if o.live:
                if qty > o.leaves:  # loses priority: re-queued at the back as on arrival
                    self._unrest(o)
                    o.leaves = qty
                    self._rest(o)
                else:
                    o.leaves = qty
                self._respond(t, RSP_MODIFIED, oid, qty)
            else:
                self._respond(t, RSP_MODIFY_REJECT, oid)

    def _entry(self, o: ExOrder, t: int) -> None:
        """Rule E: the order reaches the exchange."""
        o.exch_ts = t
        o.leaves = o.qty
        opp = -o.side
        best_opp = self.ex_book.best(opp)
        crosses = best_opp is not None and (o.price >= best_opp if o.side == R.BID else o.price <= best_opp)
        if crosses and o.tif == R.POST_ONLY:
            o.status = R.ST_REJECTED
            o.done_ts = t
            self._respond(t, RSP_REJECTED, o.order_id)
            return
        self._respond(t, RSP_ACK, o.order_id)
        if crosses:
            # Taker: walk the opposite levels from the best up to our limit, taking what our earlier taker
            # orders have not already taken there since the data last updated the level.
            opp_levels = self.ex_book.levels[opp]
            taken = self.taken[opp]
            if o.side == R.BID:
                walk = list(opp_levels.irange(maximum=o.price))
            else:
                walk = list(opp_levels.irange(minimum=o.price, reverse=True))
            for level_price in walk:
                if o.leaves == 0:
                    break
                f = min(o.leaves, opp_levels[level_price] - taken.get(level_price, 0))
                if f > 0:
                    taken[level_price] = taken.get(level_price, 0) + f
                    self._fill(o, f, level_price, False, R.CAUSE_TAKER, self.ex_i, t)
        if o.leaves == 0:
            return  # filled
        if o.tif == R.IOC:
            o.status = R.ST_EXPIRED
            o.done_ts = t
            self._respond(t, RSP_EXPIRED, o.order_id)
            return
        self._rest(o)

    # ============================================================================== strategy side
    def _on_feed_row(self) -> None:
        """The quoted venue's next row arrives at the strategy: strategy-side book, features, wake (feed)."""
        quoted = self.feeds[0]
        t = quoted.deliver()
        mid = quoted.book.mid()
        if mid is not None and (not self.ewma.initialized or mid != self.ewma.last_x):
            self.ewma.update(t, mid)  # the mid is a step function: updating on change only is exact
        if self.wake_on_feed:
            self._request_wake(t, R.WAKE_FEED)

    def _on_signal_row(self, k: int) -> None:
        """Signal venue k's next row arrives: only its own delayed book changes (it has no exchange side); the
        strategy wakes as for a quoted feed row (docs/venues.md)."""
        t = self.feeds[k].deliver()
        if self.wake_on_feed:
            self._request_wake(t, R.WAKE_FEED)

    def _on_response(self, msg: tuple) -> None:
        t, kind, oid, payload = msg
        v = self.st_orders[oid]
        if kind == RSP_ACK:
            if v.state != DONE:
                v.state = LIVE
        elif kind == RSP_FILL:
            price, qty, fee = payload
            v.leaves_known -= qty
            self.st_position += v.side * qty
            self.st_cash_ticklots -= v.side * price * qty
            self.st_fees += fee
            if v.leaves_known == 0:
                self._st_done(v)
        elif kind in (RSP_CANCELLED, RSP_EXPIRED, RSP_REJECTED):
            self._st_done(v)
        elif kind == RSP_MODIFIED:
            v.leaves_known = payload
        # RSP_CANCEL_REJECT / RSP_MODIFY_REJECT change nothing
        if self.wake_on_response:
            self._request_wake(t, R.WAKE_RESPONSE)

    def _st_done(self, v: StOrder) -> None:
        v.state = DONE
        self.st_active.pop(v.order_id, None)

    def _request_wake(self, t: int, reason: int) -> None:
        """Requests coalesce: while a wake is pending only its reason grows; a new one waits until the
        strategy stops being busy."""
        if self.wake_time is None:
            self.wake_time = t if self.busy_until is None else max(t, self.busy_until)
            self.wake_reason = reason
        else:
            self.wake_reason |= reason

    # ---- wakeup
    def _wakeup(self, ts: int) -> None:
        # Zero order and response latency let a strategy act, hear back and act again at one instant: cap it.
        if ts == self.last_wake_ts:
            self.wakes_at_ts += 1
            if self.wakes_at_ts > MAX_WAKES_PER_INSTANT:
                raise StrategyError(
                    f"strategy {self.strategy_name} failed at t={ts} ns: woke {MAX_WAKES_PER_INSTANT} times "
                    "without time advancing (zero order and response latency with a strategy that keeps acting "
                    "on its own fills?)")
        else:
            self.last_wake_ts, self.wakes_at_ts = ts, 1
        k = len(self.decision_rows)
        reason = self.wake_reason
        self.wake_time, self.wake_reason = None, 0
        compute = self.lat["compute"][k % len(self.lat["compute"])]
        wire_ts = ts + compute
        position = self.st_position

        self.cur_decision = k
        self.api_actions = []
        ctx = ReferenceContext(self, ts, reason)
        try:
            result = self.strategy.on_wakeup(ctx)
        except Exception as e:
            raise StrategyError(f"strategy {self.strategy_name} failed at t={ts} ns: "
                                f"{type(e).__name__}: {e}") from e
        finally:
            ctx._open = False
        actions = self.api_actions
        self.api_actions = None

        targets = self._parse_targets(result, ts)
        if targets is None:
            row_targets = (0, -1, 0, -1)
        else:
            row_targets = targets
            bp, bq, ap, aq = targets
            actions += self._side_actions(R.BID, bp, bq)
            actions += self._side_actions(R.ASK, ap, aq)

        for a in actions:
            self._send(a, wire_ts)
        n_new = sum(1 for a in actions if a[0] == REQ_NEW)
        n_cancel = sum(1 for a in actions if a[0] == REQ_CANCEL)
        n_modify = sum(1 for a in actions if a[0] == REQ_MODIFY)
        quoted = self.feeds[0]
        self.decision_rows.append((k, ts, wire_ts, quoted.data_exch_ts, quoted.data_arrival_ts, quoted.data_rows,
                                   position, *row_targets, n_new, n_cancel, n_modify, reason,
                                   self.decision_flags))
        for v in range(1, len(self.feeds)):  # what of each signal venue this decision had seen
            f = self.feeds[v]
            self.signal_rows.append((k, v, f.data_exch_ts, f.data_arrival_ts, f.data_rows))
        self.busy_until = wire_ts

    def _parse_targets(self, result: Any, ts: int) -> Optional[tuple[int, int, int, int]]:
        if result is None:
            return None
        prefix = f"strategy {self.strategy_name} failed at t={ts} ns: "
        if not isinstance(result, tuple) or len(result) != 4:
            raise StrategyError(prefix + "on_wakeup must return Quotes(bid_price, bid_qty, ask_price, ask_qty) or "
                                f"None, got {type(result).__name__}")
        try:
            bp, bq, ap, aq = (operator.index(x) for x in result)
        except TypeError as e:
            raise StrategyError(prefix + f"target quotes must be integers (ticks, lots), got {result!r}") from e
        if bq < 0 or aq < 0:
            raise StrategyError(prefix + "negative target quantity")
        if bq > 0 and aq > 0 and bp >= ap:
            raise StrategyError(prefix + f"crossed target quotes: bid {bp} >= ask {ap}")
        return (bp, bq, ap, aq)

    def _side_actions(self, side: int, price: int, qty: int) -> list[tuple]:
        """Targets of one side to actions (docs/event-loop.md, "From targets to orders"): cancels first
        (order id order), then the kept order's modify or a new order."""
        working = [v for v in self.st_active.values() if v.working and v.side == side]
        actions: list[tuple] = []
        if qty == 0:
            for v in working:
                actions.append(self._queue_cancel(v))
            return actions
        kept = next((v for v in working if v.price == price), None)
        for v in working:
            if v is not kept:
                actions.append(self._queue_cancel(v))
        if kept is not None:
            if kept.qty != qty:
                actions.append(self._queue_modify(kept, qty))
        else:
            tif = R.POST_ONLY if self.post_only else R.GTC
            actions.append((REQ_NEW, self._new_order(side, price, qty, tif), qty))
        return actions

    # ---- strategy-side order API
    def _new_order(self, side: int, price: int, qty: int, tif: int) -> int:
        oid = len(self.orders_) + 1
        self.orders_.append(ExOrder(order_id=oid, decision_id=self.cur_decision, side=side, price=price,
                                    qty=qty, tif=tif, sent_ts=R.NO_TS))
        v = StOrder(order_id=oid, side=side, price=price, qty=qty, leaves_known=qty)
        self.st_orders[oid] = v
        self.st_active[oid] = v
        return oid

    def _queue_cancel(self, v: StOrder) -> tuple:
        v.cancel_sent = True
        return (REQ_CANCEL, v.order_id, 0)

    def _queue_modify(self, v: StOrder, qty: int) -> tuple:
        v.qty = qty
        return (REQ_MODIFY, v.order_id, qty)

    def _api_new(self, side: int, price: int, qty: int, tif: int) -> int:
        oid = self._new_order(side, price, qty, tif)
        self.api_actions.append((REQ_NEW, oid, qty))
        return oid

    def _api_cancel(self, oid: int) -> None:
        v = self.st_orders.get(oid)
        if v is not None and v.working:
            self.api_actions.append(self._queue_cancel(v))

    def _api_modify(self, oid: int, qty: int) -> None:
        v = self.st_orders.get(oid)
        if v is not None and v.working:
            self.api_actions.append(self._queue_modify(v, qty))

    def _send(self, action: tuple, wire_ts: int) -> None:
        """Put a request on the wire; requests travel over one session and are never reordered."""
        kind, oid, qty = action
        if kind == REQ_NEW:
            self.orders_[oid - 1].sent_ts = wire_ts
        lat = self._draw("cancel" if kind == REQ_CANCEL else "entry")  # modifies use the entry leg
        arr = wire_ts + lat
        if self.last_req_arrival is not None:
            arr = max(arr, self.last_req_arrival)
        self.last_req_arrival = arr
        self.requests.append((arr, kind, oid, qty))

    # ============================================================================== results
    def fills(self) -> np.ndarray:
        return _records(R.FILL_DTYPE, self.fill_rows,
                        ("fill_id", "order_id", "exch_ts", "recv_ts", "price", "qty", "position", "data_row",
                         "fee", "side", "maker", "cause"))

    def orders(self) -> np.ndarray:
        rows = [(o.order_id, o.decision_id, o.price, o.qty, o.filled, o.sent_ts, o.exch_ts, o.done_ts, o.side,
                 o.tif, o.status) for o in self.orders_]
        return _records(R.ORDER_DTYPE, rows,
                        ("order_id", "decision_id", "price", "qty", "filled", "sent_ts", "exch_ts", "done_ts",
                         "side", "tif", "status"))

    def decisions(self) -> np.ndarray:
        return _records(R.DECISION_DTYPE, self.decision_rows,
                        ("decision_id", "ts", "wire_ts", "data_exch_ts", "data_arrival_ts", "data_rows",
                         "position", "bid_price", "bid_qty", "ask_price", "ask_qty", "n_new", "n_cancel",
                         "n_modify", "reason", "flags"))

    def signal_data(self) -> np.ndarray:
        """SIGNAL_DATA records: one per decision per signal venue, decision order then venue order (empty
        without signal venues)."""
        return _records(R.SIGNAL_DATA_DTYPE, self.signal_rows,
                        ("decision_id", "venue", "data_exch_ts", "data_arrival_ts", "data_rows"))

    def summary(self) -> dict:
        tick, lot = self.tick_size, self.lot_size
        pnl = self.cash_ticklots * tick * lot - self.fees
        if self.position != 0:
            pnl += self.position * self.last_mid * tick * lot
        out = {
            "n_events": self.n_events,
            "n_fills": len(self.fill_rows),
            "volume": self.volume,
            "position": self.position,
            "cash_ticklots": self.cash_ticklots,
            "fees": self.fees,
            "final_mid": self.last_mid,
            "pnl": pnl,
            "n_orders": len(self.orders_),
            "n_decisions": len(self.decision_rows),
            "repaired_crossed_levels": self.repaired,
        }
        assert tuple(out) == SUMMARY_KEYS
        if len(self.feeds) > 1:  # only with signal venues: a single-venue summary stays as it was
            out["signal_rows"] = [f.data_rows for f in self.feeds[1:]]
        return out


def _records(dtype: np.dtype, rows: list[tuple], names: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(len(rows), dtype=dtype)
    if rows:
        for name, column in zip(names, zip(*rows)):
            out[name] = column
    return out
