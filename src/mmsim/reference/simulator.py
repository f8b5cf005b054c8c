"""The pure-Python reference simulator: the readable statement of docs/event-loop.md and docs/fills.md.

``ReferenceEngine`` takes the same arguments and offers the same methods as the C++ engine
(``mmsim._core.Engine``, see ``src/mmsim/engine/sim.py``) and must produce identical fills, orders, decisions,
quotes and summary. It is written for clarity, not speed: every rule lives in one small, commented method, named
after the section of the docs it implements.

Vocabulary used below:

- *exchange side*: the book replayed at exchange time (``exch_ts``) plus our orders as the exchange sees
  them. It alone decides fills.
- *strategy side*: the book built from rows delivered by the feed (at ``arrival``), the features, and the
  strategy's own view of its orders, updated only by responses.
- *venue*: one instrument. Every venue has a strategy-side feed (``FeedVenue``). Venue 0 is the primary quoted
  instrument; venues 1..K are *signal venues* (docs/venues.md), read-only by default: their rows reach only
  their own strategy-side book, at their own feed arrival times. A venue that is *quoted* (venue 0 always, a
  signal venue with ``"quoted": True``, issue 12 stage 2) also has an exchange side and an order session of its
  own (``QuotedVenue``): one object per quoted venue holding its exchange-side book, queue state, own orders,
  request/response sessions, latency counters and the strategy's view of its orders. Every rule of the exchange
  side is the same code for every quoted venue, applied to that venue's state.
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

    Index 0 is the primary quoted venue; 1..K are signal venues. A read-only venue has no exchange side: its rows
    only reach this book, at their arrival (docs/venues.md). A quoted venue (0, or k with ``"quoted"``) also has a
    ``QuotedVenue`` over the same rows, applied at their exchange times.
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
    arrived, its instrument, its features (none in the reference), ``depth(side, level)``, whether it is quoted
    and, if so, the position and cash the strategy knows of it (0 for a read-only venue)."""

    def __init__(self, feed: FeedVenue, quoted: "Optional[QuotedVenue]") -> None:
        self._book = feed.book
        self.name = feed.name
        self.index = feed.index  # 0 = the primary quoted instrument
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
        self.quoted = quoted is not None
        self.position = quoted.st_position if quoted is not None else 0
        self.cash = quoted.known_cash() if quoted is not None else 0.0

    def depth(self, side: int, level: int) -> tuple[int, int]:
        """``(price, qty)`` of level ``level`` (0 = best) of a side of this venue's delayed book; (0, 0) past the end."""
        if side not in (R.BID, R.ASK):
            raise StrategyError(f"depth: side must be +1 or -1, got {side!r}")
        return self._book.level(side, operator.index(level))

    def __repr__(self) -> str:
        return (f"ReferenceVenue({self.name!r}, bid {self.best_bid}x{self.bid_qty}, ask {self.best_ask}x{self.ask_qty}, "
                f"data_rows {self.data_rows}{', quoted' if self.quoted else ''})")


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
    venue: int = 0           # the quoted venue it goes to
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
    venue: int = 0
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




# ================================================================================================ quoted venues
class QuotedVenue:
    """Everything of one QUOTED venue beyond its feed: the exchange side (its book replayed at exchange time, our
    resting orders and their queue positions, the fills), the order session between the strategy and that
    exchange (its own latency tables and use counters, requests and responses each in one FIFO session), and the
    strategy's own view of its orders there (updated only by that venue's responses).

    Venue 0 is one of these; so is every signal venue marked ``"quoted"``. The order log and the fill log are
    shared by all venues (order ids and fill ids are one counter each across venues), so they are passed in.
    """

    def __init__(self, feed: FeedVenue, order_ids: list[int], *, queue_model: str, queue_power: float,
                 maker_bps: float, taker_bps: float, post_only: bool, lat: dict[str, list[int]],
                 orders: list[ExOrder], fill_rows: list[tuple]) -> None:
        self.feed = feed
        self.index, self.name = feed.index, feed.name
        #: prefix of this venue's exchange-side data errors: none for venue 0 (as before), its name otherwise
        self.label = "" if feed.index == 0 else f"venue {feed.name!r}: "
        self.mode, self.crossed_policy = feed.mode, feed.crossed_policy
        self.tick_size, self.lot_size = feed.tick_size, feed.lot_size
        self.queue_model, self.queue_power = queue_model, queue_power
        self.maker_bps, self.taker_bps, self.post_only = maker_bps, taker_bps, post_only
        # the venue's rows (the same lists as its feed's) and their L3 order ids
        self.exch_ts, self.price, self.qty = feed.exch_ts, feed.price, feed.qty
        self.kind, self.side, self.oid = feed.kind, feed.side, order_ids
        self.n = feed.n
        self._orders = orders        # the run's order log, index = order_id - 1 (all venues)
        self._fill_rows = fill_rows  # the run's fill log (all venues)

        # ---- exchange side
        self.ex_i = 0                # next row for the exchange side
        self.book = Book()
        # lots our taker orders took at (side, price) since the data last updated that level (rule E)
        self.taken: dict[int, dict[int, int]] = {R.BID: {}, R.ASK: {}}
        self.mkt_orders: dict[int, list] = {}  # L3: id -> [seq, side, price, qty]
        self.own = {R.BID: SortedDict(), R.ASK: SortedDict()}  # resting own orders: price -> FIFO list
        self.position = 0
        self.cash_ticklots = 0
        self.fees = 0.0
        self.volume = 0
        self.n_fills = 0
        self.n_orders = 0
        self.last_mid = math.nan
        self.repaired = 0
        self.n_events = 0

        # ---- the order session (each venue its own latency tables and use counters)
        self.lat = lat
        self.lat_count = {"entry": 0, "cancel": 0, "response": 0}
        self.requests: deque = deque()   # (arrival, kind, order_id, qty)
        self.responses: deque = deque()  # (arrival, kind, order_id, payload)
        self.last_req_arrival: Optional[int] = None
        self.last_resp_arrival: Optional[int] = None

        # ---- the strategy's view of this venue's orders
        self.st_active: dict[int, StOrder] = {}  # not known done; insertion order == id order
        self.st_position = 0
        self.st_cash_ticklots = 0
        self.st_fees = 0.0

    def known_cash(self) -> float:
        """The venue's cash as the strategy knows it (``ctx.cash`` for venue 0)."""
        return self.st_cash_ticklots * self.tick_size * self.lot_size - self.st_fees

    def next_row_ts(self) -> Optional[int]:
        return self.exch_ts[self.ex_i] if self.ex_i < self.n else None

    def draw(self, leg: str) -> int:
        """The k-th use of a latency leg of this venue takes element k % len of its table."""
        table = self.lat[leg]
        k = self.lat_count[leg]
        self.lat_count[leg] = k + 1
        return table[k % len(table)]

    # ============================================================================== exchange: data rows
    def on_row(self) -> None:
        """The next row at its exch_ts: update the exchange book and apply fill rules T and C (docs/fills.md)."""
        i = self.ex_i
        kind, side, price, qty = self.kind[i], self.side[i], self.price[i], self.qty[i]
        validate_row(i, self.mode, kind, side)
        self.ex_i = i + 1
        if self.mode == "l2":
            self._exchange_l2(i, kind, side, price, qty)
        else:
            self._exchange_l3(i, kind, side, price, qty, self.oid[i])
        if kind == R.CLEAR:  # a data update of a level restores its full displayed size to our taker orders
            for s in ((R.BID, R.ASK) if side == 0 else (side,)):
                self.taken[s].clear()
        elif kind != R.TRADE:
            self.taken[side].pop(price, None)
        self.n_events += 1
        if self._last_of_group(i):  # the crossed-book check (and repair) comes first: fills see clean data
            self.repaired += self.book.check_crossed(i, self.crossed_policy)
        if kind != R.CLEAR:
            self._rule_c(i)
        mid = self.book.mid()
        if mid is not None:
            self.last_mid = mid

    def _last_of_group(self, i: int) -> bool:
        return i == self.n - 1 or self.exch_ts[i + 1] != self.exch_ts[i]

    def _exchange_l2(self, i: int, kind: int, side: int, price: int, qty: int) -> None:
        if kind == R.DEPTH:
            prev = apply_row_to_levels(self.book, "l2", kind, side, price, qty, i)
            for o in self.own[side].get(price, ()):
                self._queue_level_update(o, prev, max(qty, 0))
        elif kind == R.TRADE:
            self._rule_t(i, aggressor=side, p=price, q=qty, cause_at_p=R.CAUSE_TRADE)
            # L2: the print consumed q of the market queue at p in front of our orders there.
            for o in self.own[-side].get(price, ()):
                o.ahead = max(o.ahead - qty, 0.0)
                o.traded += qty
        else:  # CLEAR: levels vanish; queue positions are left alone (not a fill, not a queue advance)
            apply_row_to_levels(self.book, "l2", kind, side, price, qty, i)

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
            apply_row_to_levels(self.book, "l3", kind, side, price, qty, i)
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
        apply_row_to_levels(self.book, "l3", kind, side, price, qty, i)
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
        t = self.exch_ts[i]
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
        bb, ba = self.book.best(R.BID), self.book.best(R.ASK)
        crossed = []
        if ba is not None:
            for price in self.own[R.BID].irange(minimum=ba):
                crossed.extend(self.own[R.BID][price])
        if bb is not None:
            for price in self.own[R.ASK].irange(maximum=bb):
                crossed.extend(self.own[R.ASK][price])
        t = self.exch_ts[i]
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
        self.n_fills += 1
        recv = self.respond(t, RSP_FILL, o.order_id, (price, qty, fee))
        fills = self._fill_rows  # fill ids: one counter across venues
        fills.append((len(fills), o.order_id, t, recv, price, qty, self.position, row, fee, o.side, int(maker),
                      cause, self.index))
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
        o.ahead = float(self.book.qty_at(o.side, o.price))
        o.traded = 0.0
        o.seq = 2 * self.ex_i - 1  # behind every market order already there, ahead of every later one
        self.own[o.side].setdefault(o.price, []).append(o)

    def _unrest(self, o: ExOrder) -> None:
        o.live = False
        queue = self.own[o.side][o.price]
        queue.remove(o)
        if not queue:
            del self.own[o.side][o.price]

    # ============================================================================== the session
    def send(self, kind: str, oid: int, qty: int, wire_ts: int) -> None:
        """Put a request to this venue on the wire; requests to one venue travel over its one session and are
        never reordered."""
        if kind == REQ_NEW:
            self._orders[oid - 1].sent_ts = wire_ts
        lat = self.draw("cancel" if kind == REQ_CANCEL else "entry")  # modifies use the entry leg
        arr = wire_ts + lat
        if self.last_req_arrival is not None:
            arr = max(arr, self.last_req_arrival)
        self.last_req_arrival = arr
        self.requests.append((arr, kind, oid, qty))

    def respond(self, t: int, kind: str, order_id: int, payload: Any = None) -> int:
        """Send a message to the strategy; this venue's responses travel over one session, never reordered."""
        arr = t + self.draw("response")
        if self.last_resp_arrival is not None:
            arr = max(arr, self.last_resp_arrival)
        self.last_resp_arrival = arr
        self.responses.append((arr, kind, order_id, payload))
        return arr

    # ============================================================================== exchange: requests
    def on_request(self) -> None:
        t, kind, oid, qty = self.requests.popleft()
        o = self._orders[oid - 1]
        if kind == REQ_NEW:
            self._entry(o, t)
        elif kind == REQ_CANCEL:
            if o.live:
                self._finish(o, R.ST_CANCELLED, t)
                self.respond(t, RSP_CANCELLED, oid)
            else:  # already filled or gone: fills that happened in flight stand
                self.respond(t, RSP_CANCEL_REJECT, oid)
        else:  # REQ_MODIFY
            if o.live:
                if qty > o.leaves:  # loses priority: re-queued at the back as on arrival
                    self._unrest(o)
                    o.leaves = qty
                    self._rest(o)
                else:
                    o.leaves = qty
                self.respond(t, RSP_MODIFIED, oid, qty)
            else:
                self.respond(t, RSP_MODIFY_REJECT, oid)

    def _entry(self, o: ExOrder, t: int) -> None:
        """Rule E: the order reaches the exchange."""
        o.exch_ts = t
        o.leaves = o.qty
        opp = -o.side
        best_opp = self.book.best(opp)
        crosses = best_opp is not None and (o.price >= best_opp if o.side == R.BID else o.price <= best_opp)
        if crosses and o.tif == R.POST_ONLY:
            o.status = R.ST_REJECTED
            o.done_ts = t
            self.respond(t, RSP_REJECTED, o.order_id)
            return
        self.respond(t, RSP_ACK, o.order_id)
        if crosses:
            # Taker: walk the opposite levels from the best up to our limit, taking what our earlier taker
            # orders have not already taken there since the data last updated the level.
            opp_levels = self.book.levels[opp]
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
            self.respond(t, RSP_EXPIRED, o.order_id)
            return
        self._rest(o)

    # ============================================================================== strategy side
    def on_response(self, st_orders: dict[int, StOrder]) -> int:
        """This venue's next response reaches the strategy: update its view of the order, the venue's known
        position, cash and fees. Returns the arrival time."""
        t, kind, oid, payload = self.responses.popleft()
        v = st_orders[oid]
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
        return t

    def _st_done(self, v: StOrder) -> None:
        v.state = DONE
        self.st_active.pop(v.order_id, None)

    def working(self, side: Optional[int] = None) -> list[StOrder]:
        """The strategy's working orders at this venue (known not done, no cancel sent), in id order."""
        return [v for v in self.st_active.values() if v.working and (side is None or v.side == side)]

    def summary_pnl(self) -> float:
        pnl = self.cash_ticklots * self.tick_size * self.lot_size - self.fees
        if self.position != 0:
            pnl += self.position * self.last_mid * self.tick_size * self.lot_size
        return pnl


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
        self.position = eng.primary.st_position
        self.cash = eng.primary.known_cash()
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
        """One venue's delayed view by name or index (0 = the primary quoted venue, 1..K the signal venues in
        order), with its known position and cash if it is quoted."""
        k = self._eng.venue_of(key, "ctx.venue")
        return ReferenceVenue(self._eng.feeds[k], self._eng.quoted[k])

    def open_orders(self, venue: "int | str" = 0) -> list[tuple[int, int, int, int, int]]:
        """``(order_id, side, price, qty, leaves_known)`` of the working orders at a venue (none at a read-only
        venue)."""
        q = self._eng.quoted[self._eng.venue_of(venue, "open_orders")]
        if q is None:
            return []
        return [(o.order_id, o.side, o.price, o.qty, o.leaves_known) for o in q.working()]

    def submit(self, side: int, price: int, qty: int, tif: str = "gtc", venue: "int | str" = 0) -> int:
        """Send a new order to a quoted venue (0 = the primary); returns its id (one counter across venues)."""
        self._check_open()
        v = self._eng.venue_of(venue, "submit")
        if self._eng.quoted[v] is None:
            raise StrategyError(f"submit: quotes read-only instrument {self._eng.venue_names[v]!r} (mark it quoted)")
        side, price, qty = operator.index(side), operator.index(price), operator.index(qty)
        if side not in (R.BID, R.ASK):
            raise StrategyError("submit: side must be +1 (bid) or -1 (ask)")
        if qty <= 0:
            raise StrategyError("submit: qty must be > 0")
        if tif not in _TIFS:
            raise StrategyError(f"submit: tif must be 'gtc', 'post_only' or 'ioc', not {tif!r}")
        return self._eng._api_new(v, side, price, qty, _TIFS[tif])

    def cancel(self, order_id: int) -> None:
        """Cancel a working order of any venue (ids are global)."""
        self._check_open()
        self._eng._api_cancel(operator.index(order_id))

    def modify(self, order_id: int, qty: int) -> None:
        """Change the quantity of a working order of any venue (ids are global)."""
        self._check_open()
        order_id, qty = operator.index(order_id), operator.index(qty)
        if qty <= 0:
            raise StrategyError("modify: qty must be > 0 (use cancel)")
        self._eng._api_modify(order_id, qty)


# ================================================================================================ engine
#: ``config["signals"][k]`` keys of every signal venue (stage 1) ...
_VENUE_KEYS = ("name", "mode", "tick_size", "lot_size", "crossed_policy", "features", "quoted")
#: ... and those that apply to a quoted one only (issue 12 stage 2; each defaults to the run's own value).
_QUOTED_KEYS = ("queue_model", "queue_power", "maker_fee_bps", "taker_fee_bps", "post_only", "latencies")
_SESSION_LEGS = ("entry", "cancel", "response")


def _latency_table(leg: str, table: Any, where: str = "") -> list[int]:
    """A latency table as a list of ints: non-empty, integer, >= 0. ``where`` prefixes the error."""
    arr = np.asarray(table)
    if arr.size < 1:
        raise ConfigError(f"{where}latency table {leg!r} is missing or empty")
    if where and arr.dtype.kind not in "iu":
        raise ConfigError(f"{where}latency table {leg!r} must hold integers (ns), got dtype {arr.dtype}")
    out = arr.astype(np.int64).ravel().tolist()
    if min(out) < 0:
        raise ConfigError(f"{where}latency table {leg!r} has a negative latency")
    return out


class ReferenceEngine:
    """Same interface as ``mmsim._core.Engine``: ``step``, ``fills``, ``orders``, ``decisions``, ``signal_data``,
    ``quotes``, ``summary``."""

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
        self.lat = {}
        for leg in ("entry", "cancel", "response", "compute"):
            if leg not in latencies or len(latencies[leg]) < 1:
                raise ConfigError(f"latency table {leg!r} is missing or empty")
            self.lat[leg] = _latency_table(leg, latencies[leg])

        # ---- logs shared by every venue: order ids and fill ids are one counter each across venues
        self.orders_: list[ExOrder] = []      # index = order_id - 1
        self.fill_rows: list[tuple] = []

        # ---- venues: a feed each (strategy side); an exchange side and an order session each quoted one
        primary = FeedVenue(0, str(cfg.get("name", "quoted")), events, arrival, self.mode, self.crossed_policy,
                            self.tick_size, self.lot_size)
        self.feeds: list[FeedVenue] = [primary]
        #: index -> the venue's QuotedVenue, None for a read-only venue
        self.quoted: list[Optional[QuotedVenue]] = [
            QuotedVenue(primary, events["order_id"].tolist(), queue_model=self.queue_model,
                        queue_power=self.queue_power, maker_bps=self.maker_bps, taker_bps=self.taker_bps,
                        post_only=self.post_only, lat={leg: self.lat[leg] for leg in _SESSION_LEGS},
                        orders=self.orders_, fill_rows=self.fill_rows)]
        self._signal_venues(signals, cfg, primary.name)
        self.venue_names = tuple(f.name for f in self.feeds)
        self.venue_index = {f.name: k for k, f in enumerate(self.feeds)}
        self.exchanges = [q for q in self.quoted if q is not None]  # venue order
        self.arrival = primary.arrival
        self.t_end = self.arrival[-1] if self.n else None

        # ---- strategy side (the delayed books are the venues' own: self.feeds)
        self.ewma = _Ewma(int(cfg["ewma_tau_ns"]))
        self.st_orders: dict[int, StOrder] = {}  # every venue's, by (global) order id
        self.decision_rows: list[tuple] = []
        self.signal_rows: list[tuple] = []  # SIGNAL_DATA rows: per decision, per signal venue
        self.quote_rows: list[tuple] = []   # QUOTE rows: per decision, per quoted venue k >= 1
        self.api_actions: Optional[list] = None  # low-level calls queued during a wakeup
        self.cur_decision = 0

        # ---- streams (each quoted venue keeps its own exchange cursor, requests and responses)
        self.next_timer = self.arrival[0] if (self.n and self.timer_interval > 0) else None
        self.wake_time: Optional[int] = None
        self.wake_reason = 0
        self.busy_until: Optional[int] = None
        self.last_wake_ts: Optional[int] = None
        self.wakes_at_ts = 0
        self.done = self.n == 0

    def _signal_venues(self, signals: Optional[list], cfg: dict, quoted_name: str) -> None:
        """The signal venues 1..K from ``signals`` (``(events_k, arrival_k)`` pairs) and ``config["signals"]``
        (one dict per venue, same order), appended to ``self.feeds`` and ``self.quoted``. Their rows are checked
        here, whole: they are held in memory."""
        signals = list(signals or [])
        metas = cfg.get("signals") or []
        if len(metas) != len(signals):
            raise ConfigError(f"config['signals'] describes {len(metas)} signal venues, signals= gives {len(signals)}")
        if not quoted_name:
            raise ConfigError("the quoted instrument's name (config['name']) must be non-empty")
        names = {quoted_name}
        for k, (pair, meta) in enumerate(zip(signals, metas), 1):
            if not isinstance(meta, dict):
                raise ConfigError(f"config['signals'][{k - 1}] must be a dict")
            unknown = sorted(set(meta) - set(_VENUE_KEYS) - set(_QUOTED_KEYS))
            if unknown:
                raise ConfigError(f"config['signals'][{k - 1}]: unknown key '{unknown[0]}' "
                                  f"(known: {', '.join(_VENUE_KEYS + _QUOTED_KEYS)})")
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
            quoted = meta.get("quoted", False)
            if not isinstance(quoted, (bool, np.bool_)):
                raise ConfigError(f"signal {k} {name!r}: quoted must be true or false, got {quoted!r}")
            session = self._quoted_settings(k, name, meta) if quoted else None
            if session is None:
                for key in _QUOTED_KEYS:
                    if key in meta:
                        raise ConfigError(f"signal {k} {name!r}: {key} applies to a quoted venue only")
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
            # a quoted venue's rows also go to its exchange side: its data errors name it as one (`venue 'NAME': `)
            where = f"venue {name!r}" if session is not None else label
            kinds, sides = events_k["kind"].tolist(), events_k["side"].tolist()
            for i in range(len(events_k)):
                try:
                    validate_row(i, mode, kinds[i], sides[i])
                except DataError as e:
                    raise DataError(f"{where}: {e}") from None
            if session is not None and len(events_k) > 1 and bool((np.diff(events_k["exch_ts"]) < 0).any()):
                j = int(np.argmax(np.diff(events_k["exch_ts"]) < 0)) + 1
                raise DataError(f"{where}: row {j}: exch_ts goes back in time")
            feed = FeedVenue(k, name, events_k, arrival_k, mode, policy, float(meta.get("tick_size", 1.0)),
                             float(meta.get("lot_size", 1.0)))
            self.feeds.append(feed)
            self.quoted.append(None if session is None else QuotedVenue(
                feed, events_k["order_id"].tolist(), orders=self.orders_, fill_rows=self.fill_rows, **session))

    def _quoted_settings(self, k: int, name: str, meta: dict) -> dict:
        """A quoted venue's exchange and session settings: each key defaults to the run's own value; the
        latency tables default to the run's (the venue still keeps its own use counters)."""
        where = f"signal {k} {name!r}: "
        queue_model = str(meta.get("queue_model", self.queue_model))
        if queue_model not in R.QUEUE_MODELS:
            raise ConfigError(f"{where}queue_model must be risk_averse, power or log, got {queue_model!r}")
        numbers = {}
        for key, default in (("queue_power", self.queue_power), ("maker_fee_bps", self.maker_bps),
                             ("taker_fee_bps", self.taker_bps)):
            x = meta.get(key, default)
            try:
                if isinstance(x, (bool, np.bool_)):
                    raise TypeError
                numbers[key] = float(x)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}{key} must be a number, got {x!r}") from None
            if not math.isfinite(numbers[key]):
                raise ConfigError(f"{where}{key} must be finite, got {x!r}")
        post_only = meta.get("post_only", self.post_only)
        if not isinstance(post_only, (bool, np.bool_)):
            raise ConfigError(f"{where}post_only must be true or false, got {post_only!r}")
        tables = meta.get("latencies")
        lat = {leg: self.lat[leg] for leg in _SESSION_LEGS}
        if tables is not None:
            if not isinstance(tables, dict):
                raise ConfigError(f"{where}latencies must be a dict of int64 arrays (entry, cancel, response)")
            extra = sorted(set(tables) - set(_SESSION_LEGS))
            if extra:
                raise ConfigError(f"{where}latencies: unknown leg {extra[0]!r} (known: entry, cancel, response)")
            for leg in _SESSION_LEGS:
                if leg in tables:
                    lat[leg] = _latency_table(leg, tables[leg], where)
        return dict(queue_model=queue_model, queue_power=numbers["queue_power"], maker_bps=numbers["maker_fee_bps"],
                    taker_bps=numbers["taker_fee_bps"], post_only=bool(post_only), lat=lat)

    # ---- venue 0's exchange side and strategy view, by their old names
    @property
    def primary(self) -> QuotedVenue:
        """Venue 0, the primary quoted venue."""
        return self.quoted[0]  # type: ignore[return-value]

    @property
    def ex_book(self) -> Book:
        """Venue 0's exchange-side book."""
        return self.primary.book

    @property
    def st_book(self) -> Book:
        """Venue 0's strategy-side (delayed) book."""
        return self.feeds[0].book

    @property
    def fd_i(self) -> int:
        """The next venue-0 row for the feed."""
        return self.feeds[0].next_row

    def venue_of(self, key: Any, what: str) -> int:
        """A venue's index from its name or index; an unknown key fails naming the known venues."""
        if isinstance(key, str):
            k = self.venue_index.get(key)
        elif isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            k = int(key) if 0 <= int(key) < len(self.feeds) else None
        else:
            k = None
        if k is None:
            known = ", ".join(f"'{n}'" for n in self.venue_names)
            raise StrategyError(f"{what}: unknown venue {key!r}; known: {known} (or an index 0..{len(self.feeds) - 1})")
        return k

    # ============================================================================== the loop
    def _next_item(self) -> Optional[tuple[int, int, int]]:
        """The smallest ``(time, priority, venue)`` over the heads of the streams, or None."""
        heads = []
        for x in self.exchanges:
            t = x.next_row_ts()
            if t is not None:
                heads.append((t, P_EXCHANGE, x.index))
            if x.requests:
                heads.append((x.requests[0][0], P_REQUEST, x.index))
            if x.responses:
                heads.append((x.responses[0][0], P_RESPONSE, x.index))
        primary = self.feeds[0]
        if primary.next_row < primary.n:
            heads.append((primary.arrival[primary.next_row], P_FEED, 0))
        for k in range(1, len(self.feeds)):
            f = self.feeds[k]
            if f.next_row < f.n:
                heads.append((f.arrival[f.next_row], P_SIGNAL, k))
        if self.next_timer is not None:
            heads.append((self.next_timer, P_TIMER, 0))
        if self.wake_time is not None:
            heads.append((self.wake_time, P_WAKEUP, 0))
        return min(heads) if heads else None

    def step(self, n_rows: int) -> bool:
        """Process loop items until ``n_rows`` (at least 1) more venue-0 feed rows were delivered, returning
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
                self._on_exchange_row(self.quoted[venue])
            elif prio == P_REQUEST:
                self.quoted[venue].on_request()
            elif prio == P_FEED:
                self._on_feed_row()
            elif prio == P_SIGNAL:
                self._on_signal_row(venue)
            elif prio == P_RESPONSE:
                self._on_response(self.quoted[venue])
            elif prio == P_TIMER:
                self.next_timer = t + self.timer_interval
                self._request_wake(t, R.WAKE_TIMER)
            else:
                self._wakeup(t)
        return True

    def _on_exchange_row(self, x: QuotedVenue) -> None:
        """A quoted venue's next row at its exch_ts; its data errors name the venue (venue 0's do not)."""
        try:
            x.on_row()
        except DataError as e:
            if not x.label:
                raise
            raise DataError(f"{x.label}{e}") from None

    # ============================================================================== strategy side
    def _on_feed_row(self) -> None:
        """Venue 0's next row arrives at the strategy: strategy-side book, features, wake (feed)."""
        primary = self.feeds[0]
        t = primary.deliver()
        mid = primary.book.mid()
        if mid is not None and (not self.ewma.initialized or mid != self.ewma.last_x):
            self.ewma.update(t, mid)  # the mid is a step function: updating on change only is exact
        if self.wake_on_feed:
            self._request_wake(t, R.WAKE_FEED)

    def _on_signal_row(self, k: int) -> None:
        """Venue k's next row arrives: only its own delayed book changes (its exchange side, if quoted, saw the
        row at its exch_ts); the strategy wakes as for a venue-0 feed row (docs/venues.md)."""
        t = self.feeds[k].deliver()
        if self.wake_on_feed:
            self._request_wake(t, R.WAKE_FEED)

    def _on_response(self, x: QuotedVenue) -> None:
        t = x.on_response(self.st_orders)
        if self.wake_on_response:
            self._request_wake(t, R.WAKE_RESPONSE)

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
        wire_ts = ts + compute  # every action of the decision, to any venue, goes on the wire then
        positions = [x.st_position for x in self.exchanges]  # what the decision knew, per quoted venue

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
        actions = self.api_actions  # (venue, kind, order_id, qty): the low-level calls in call order
        self.api_actions = None

        # Wire order: the low-level calls, then venue 0's bid and ask, then venue 1's, ... in venue order.
        targets = self._parse_result(result, ts)
        for x in self.exchanges:
            tg = targets.get(x.index)
            if tg is not None:
                bp, bq, ap, aq = tg
                actions += self._side_actions(x, R.BID, bp, bq)
                actions += self._side_actions(x, R.ASK, ap, aq)

        for venue, kind, oid, qty in actions:
            self.quoted[venue].send(kind, oid, qty, wire_ts)  # latency from that venue's own tables
        for x, position in zip(self.exchanges, positions):
            mine = [a[1] for a in actions if a[0] == x.index]
            counts = (mine.count(REQ_NEW), mine.count(REQ_CANCEL), mine.count(REQ_MODIFY))
            tg = targets.get(x.index) or (0, -1, 0, -1)
            if x.index == 0:
                primary = self.feeds[0]
                self.decision_rows.append((k, ts, wire_ts, primary.data_exch_ts, primary.data_arrival_ts,
                                           primary.data_rows, position, *tg, *counts, reason, self.decision_flags))
            else:
                self.quote_rows.append((k, x.index, position, *tg, *counts))
        for v in range(1, len(self.feeds)):  # what of each signal venue this decision had seen
            f = self.feeds[v]
            self.signal_rows.append((k, v, f.data_exch_ts, f.data_arrival_ts, f.data_rows))
        self.busy_until = wire_ts

    def _parse_result(self, result: Any, ts: int) -> dict[int, tuple[int, int, int, int]]:
        """``on_wakeup``'s return value as ``venue index -> targets`` for the venues given targets: ``None`` (no
        targets), a ``Quotes`` (venue 0's) or a dict venue name or index -> ``Quotes`` or ``None``."""
        prefix = f"strategy {self.strategy_name} failed at t={ts} ns: "
        if not isinstance(result, dict):
            tg = self._parse_targets(result, prefix, 0)
            return {} if tg is None else {0: tg}
        given: dict[int, Any] = {}
        for key, value in result.items():
            try:
                v = self.venue_of(key, "on_wakeup")
            except StrategyError as e:
                raise StrategyError(prefix + str(e)) from None
            given[v] = value  # a venue given twice (as name and index) keeps the later, as in the C++ engine
        out = {}
        for v in sorted(given):
            if given[v] is None:
                continue
            if self.quoted[v] is None:
                raise StrategyError(prefix + f"venue {v} {self.venue_names[v]!r}: quotes read-only instrument "
                                    f"{self.venue_names[v]!r} (mark it quoted)")
            out[v] = self._parse_targets(given[v], prefix, v)
        return out

    def _parse_targets(self, result: Any, prefix: str, v: int) -> Optional[tuple[int, int, int, int]]:
        """One venue's targets, checked: integers, no negative quantity, not crossed (the message names the venue
        for v >= 1)."""
        if result is None:
            return None
        if v:
            prefix += f"venue {v} {self.venue_names[v]!r}: "
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

    def _side_actions(self, x: QuotedVenue, side: int, price: int, qty: int) -> list[tuple]:
        """Targets of one side of one venue to actions (docs/event-loop.md, "From targets to orders"), using only
        that venue's working orders: cancels first (order id order), then the kept order's modify or a new
        order (post-only if that venue's ``post_only``)."""
        working = x.working(side)
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
            tif = R.POST_ONLY if x.post_only else R.GTC
            actions.append((x.index, REQ_NEW, self._new_order(x, side, price, qty, tif), qty))
        return actions

    # ---- strategy-side order API
    def _new_order(self, x: QuotedVenue, side: int, price: int, qty: int, tif: int) -> int:
        oid = len(self.orders_) + 1  # one counter across venues
        self.orders_.append(ExOrder(order_id=oid, decision_id=self.cur_decision, side=side, price=price,
                                    qty=qty, tif=tif, sent_ts=R.NO_TS, venue=x.index))
        v = StOrder(order_id=oid, side=side, price=price, qty=qty, leaves_known=qty, venue=x.index)
        self.st_orders[oid] = v
        x.st_active[oid] = v
        x.n_orders += 1
        return oid

    @staticmethod
    def _queue_cancel(v: StOrder) -> tuple:
        v.cancel_sent = True
        return (v.venue, REQ_CANCEL, v.order_id, 0)

    @staticmethod
    def _queue_modify(v: StOrder, qty: int) -> tuple:
        v.qty = qty
        return (v.venue, REQ_MODIFY, v.order_id, qty)

    def _api_new(self, venue: int, side: int, price: int, qty: int, tif: int) -> int:
        x = self.quoted[venue]
        oid = self._new_order(x, side, price, qty, tif)
        self.api_actions.append((venue, REQ_NEW, oid, qty))
        return oid

    def _api_cancel(self, oid: int) -> None:
        v = self.st_orders.get(oid)
        if v is not None and v.working:
            self.api_actions.append(self._queue_cancel(v))

    def _api_modify(self, oid: int, qty: int) -> None:
        v = self.st_orders.get(oid)
        if v is not None and v.working:
            self.api_actions.append(self._queue_modify(v, qty))

    # ============================================================================== results
    def fills(self) -> np.ndarray:
        return _records(R.FILL_DTYPE, self.fill_rows,
                        ("fill_id", "order_id", "exch_ts", "recv_ts", "price", "qty", "position", "data_row",
                         "fee", "side", "maker", "cause", "venue"))

    def orders(self) -> np.ndarray:
        rows = [(o.order_id, o.decision_id, o.price, o.qty, o.filled, o.sent_ts, o.exch_ts, o.done_ts, o.side,
                 o.tif, o.status, o.venue) for o in self.orders_]
        return _records(R.ORDER_DTYPE, rows,
                        ("order_id", "decision_id", "price", "qty", "filled", "sent_ts", "exch_ts", "done_ts",
                         "side", "tif", "status", "venue"))

    def decisions(self) -> np.ndarray:
        return _records(R.DECISION_DTYPE, self.decision_rows,
                        ("decision_id", "ts", "wire_ts", "data_exch_ts", "data_arrival_ts", "data_rows",
                         "position", "bid_price", "bid_qty", "ask_price", "ask_qty", "n_new", "n_cancel",
                         "n_modify", "reason", "flags"))

    def signal_data(self) -> np.ndarray:
        """SIGNAL_DATA records: one per decision per signal venue (quoted or not), decision order then venue
        order (empty without signal venues)."""
        return _records(R.SIGNAL_DATA_DTYPE, self.signal_rows,
                        ("decision_id", "venue", "data_exch_ts", "data_arrival_ts", "data_rows"))

    def quotes(self) -> np.ndarray:
        """QUOTE records: one per decision per quoted venue k >= 1, decision order then venue order (empty
        without quoted venues k >= 1)."""
        return _records(R.QUOTE_DTYPE, self.quote_rows,
                        ("decision_id", "venue", "position", "bid_price", "bid_qty", "ask_price", "ask_qty",
                         "n_new", "n_cancel", "n_modify"))

    def summary(self) -> dict:
        x = self.primary
        out = {
            "n_events": x.n_events,
            "n_fills": x.n_fills,
            "volume": x.volume,
            "position": x.position,
            "cash_ticklots": x.cash_ticklots,
            "fees": x.fees,
            "final_mid": x.last_mid,
            "pnl": x.summary_pnl(),
            "n_orders": x.n_orders,
            "n_decisions": len(self.decision_rows),
            "repaired_crossed_levels": x.repaired,
        }
        assert tuple(out) == SUMMARY_KEYS
        if len(self.feeds) > 1:  # only with signal venues: a single-venue summary stays as it was
            out["signal_rows"] = [f.data_rows for f in self.feeds[1:]]
        if len(self.exchanges) > 1:  # only with quoted venues k >= 1
            out["quoted"] = [{"venue": q.index, "name": q.name, "n_events": q.n_events, "n_fills": q.n_fills,
                              "volume": q.volume, "position": q.position, "cash_ticklots": q.cash_ticklots,
                              "fees": q.fees, "final_mid": q.last_mid, "pnl": q.summary_pnl(),
                              "n_orders": q.n_orders, "repaired_crossed_levels": q.repaired}
                             for q in self.exchanges[1:]]
        return out


def _records(dtype: np.dtype, rows: list[tuple], names: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(len(rows), dtype=dtype)
    if rows:
        for name, column in zip(names, zip(*rows)):
            out[name] = column
    return out
