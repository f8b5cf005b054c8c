"""Example plugin (Python class): join the best bid and offer, pull the side our inventory is long on.

    mmsim run quiet --strategy strategies/join_best.py:JoinBest:size=2,max_position=5 --out out/join
"""
from mmsim import Quotes


class JoinBest:
    def __init__(self, size: int = 1, max_position: int = 10):
        self.size, self.max_position = int(size), int(max_position)

    def on_wakeup(self, ctx):
        if ctx.bid_qty == 0 or ctx.ask_qty == 0:
            return Quotes(0, 0, 0, 0)  # one-sided book: stand aside
        bid_qty = self.size if ctx.position < self.max_position else 0
        ask_qty = self.size if ctx.position > -self.max_position else 0
        return Quotes(ctx.best_bid, bid_qty, ctx.best_ask, ask_qty)
