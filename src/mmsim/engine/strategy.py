"""The strategy interface shared by every engine: target quotes in, orders out."""
from __future__ import annotations

from typing import NamedTuple, Optional, Protocol


class Quotes(NamedTuple):
    """Target quotes in ticks and lots; a quantity of 0 pulls that side."""

    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int


class Context(Protocol):
    """What a strategy may read at a wakeup: the strategy-side (delayed) view only. See docs/strategies.md."""

    now: int
    reason: int
    best_bid: int
    bid_qty: int
    best_ask: int
    ask_qty: int
    position: int
    cash: float
    ewma_mid: float
    data_exch_ts: int
    data_arrival_ts: int
    data_rows: int
    tick_size: float
    lot_size: float

    def depth(self, side: int, level: int) -> tuple[int, int]: ...
    def open_orders(self) -> list[tuple[int, int, int, int, int]]: ...
    def submit(self, side: int, price: int, qty: int, tif: str = "gtc") -> int: ...
    def cancel(self, order_id: int) -> None: ...
    def modify(self, order_id: int, qty: int) -> None: ...


class Strategy(Protocol):
    def on_wakeup(self, ctx: Context) -> Optional[Quotes]: ...


class SymmetricQuoter:
    """Fixed-spread symmetric quoter: bid floor(mid - h), ask ceil(mid + h); pulls when one-sided.

    The Python twin of the native ``symmetric`` strategy (same rule, same results).
    """

    def __init__(self, half_spread: float = 1.0, size: int = 1):
        self.half_spread2 = int(round(2 * float(half_spread)))  # 2h in ticks: keeps the rule in integers
        self.size = int(size)
        if self.half_spread2 < 0 or self.size <= 0:
            raise ValueError("symmetric: half_spread must be >= 0 and size > 0")

    def on_wakeup(self, ctx: Context) -> Quotes:
        if ctx.bid_qty == 0 or ctx.ask_qty == 0:
            return Quotes(0, 0, 0, 0)
        mid2 = ctx.best_bid + ctx.best_ask
        bid = (mid2 - self.half_spread2) // 2
        ask = -((-(mid2 + self.half_spread2)) // 2)  # ceil
        return Quotes(bid, self.size, ask, self.size)
