r"""Example plugin (plain Python): a model-driven skew/pull quoter, written out in full to be copied.

The model predicts the mid's move over its horizon (``ctx.pred_move``, ticks; NaN without a model). This
rule centres its quotes on where the mid is going (skew) and cancels the side a large predicted move would
pick off (pull), then re-quotes as soon as the prediction falls back inside the threshold:

    mmsim run toxic_burst --strategy strategies/skew_pull.py:SkewPull:k=0.5,threshold=1 \
        --model model.json --out out/sp

With a half spread in half ticks it gives exactly the built-in ``skew_pull`` (tests/test_quoters.py checks
it), so it is a starting point for your own variant. docs/strategies.md, "Writing your own skew/pull rule".
"""
import math

from mmsim import Quotes


class SkewPull:
    def __init__(self, half_spread=1.0, k=0.5, threshold=1.0, size=1, max_position=0):
        self.half_spread = float(half_spread)  # ticks from the fair value to each quote
        self.k = float(k)                      # ticks of skew per tick of predicted move
        self.threshold = float(threshold)      # |predicted move| beyond which the threatened side is pulled
        self.size = int(size)                  # lots per side
        self.max_position = int(max_position)  # inventory limit in lots (0: none)

    def on_wakeup(self, ctx):
        if ctx.bid_qty == 0 or ctx.ask_qty == 0:
            return Quotes(0, 0, 0, 0)                      # one-sided book: no fair value, stand aside
        fair = (ctx.best_bid + ctx.best_ask) / 2           # the strategy-side mid, ticks
        pred = getattr(ctx, "pred_move", math.nan)         # the model's predicted move (NaN: no model)
        bid_on = ask_on = True
        if math.isfinite(pred):
            fair += self.k * pred                          # skew: quote around where the mid is going
            bid_on = pred >= -self.threshold               # pull: a predicted fall would pick off our bid,
            ask_on = pred <= self.threshold                #       a predicted rise our ask
        bid = min(math.floor(fair - self.half_spread), ctx.best_ask - 1)  # passive: never through the book
        ask = max(math.ceil(fair + self.half_spread), ctx.best_bid + 1)
        if bid >= ask:
            ask = bid + 1                                  # never crossed
        bid_qty = self.size if bid_on else 0
        ask_qty = self.size if ask_on else 0
        if self.max_position > 0:                          # never buy above +max or sell below -max
            bid_qty = min(bid_qty, max(self.max_position - ctx.position, 0))
            ask_qty = min(ask_qty, max(self.max_position + ctx.position, 0))
        return Quotes(bid, bid_qty, ask, ask_qty)
