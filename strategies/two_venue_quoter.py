r"""Example plugin (plain Python): quote every quoted venue of a run, and pull on the lead venue's move.

A run may quote several venues (docs/venues.md, "Quoting several venues"): ``on_wakeup`` returns a dict
``{venue name: Quotes}``. This rule quotes ``half_spread`` ticks around each quoted venue's own delayed mid and,
when the lead venue's mid has moved more than ``threshold`` of its ticks within ``window`` ns, pulls the side of
every *other* venue that move would pick off (a rise picks off asks, a fall bids), until the move is older than
the window:

    mmsim run perp_spot_both --strategy strategies/two_venue_quoter.py:TwoVenueQuoter:lead=perp,threshold=1 \
        --out out/both

It reads only what arrived through each venue's feed (``ctx.venue(name)``), as every strategy must.
"""
import math
from collections import deque

from mmsim import Quotes


class TwoVenueQuoter:
    def __init__(self, lead="", half_spread=1.0, size=1, window=20_000_000, threshold=0.0, max_position=0):
        self.lead = str(lead)                  # the lead venue's name ("": no defence, just quote)
        self.half_spread = float(half_spread)  # ticks from each venue's mid to its quotes
        self.size = int(size)                  # lots per side
        self.window = int(window)              # ns over which the lead's move is measured
        self.threshold = float(threshold)      # |move| in the lead's ticks beyond which others pull (0: never)
        self.max_position = int(max_position)  # per-venue inventory limit in lots (0: none)
        self.history = deque()                 # (arrival time, lead mid) of the lead data seen

    def lead_move(self, ctx):
        """The lead venue's mid now minus its mid `window` ago (ticks of the lead), from its delayed feed."""
        if not self.lead:
            return 0.0
        v = ctx.venue(self.lead)
        if v.mid is None:
            return 0.0
        self.history.append((ctx.now, v.mid))
        while len(self.history) > 1 and self.history[1][0] <= ctx.now - self.window:
            self.history.popleft()
        return v.mid - self.history[0][1]

    def on_wakeup(self, ctx):
        move = self.lead_move(ctx)
        out = {}
        for name in ctx.venue_names:
            v = ctx.venue(name)
            if not v.quoted:
                continue                                        # a read-only venue takes no orders
            if v.bid_qty == 0 or v.ask_qty == 0:
                out[name] = Quotes(0, 0, 0, 0)                  # one-sided: no fair value, stand aside
                continue
            mid = (v.best_bid + v.best_ask) / 2
            bid = min(math.floor(mid - self.half_spread), v.best_ask - 1)  # passive: never through the book
            ask = max(math.ceil(mid + self.half_spread), v.best_bid + 1)
            bid_qty = ask_qty = self.size
            if name != self.lead and self.threshold > 0:
                if move > self.threshold:
                    ask_qty = 0                                  # the lead rose: our ask is about to be lifted
                elif move < -self.threshold:
                    bid_qty = 0                                  # the lead fell: our bid is about to be hit
            if self.max_position > 0:
                bid_qty = min(bid_qty, max(self.max_position - v.position, 0))
                ask_qty = min(ask_qty, max(self.max_position + v.position, 0))
            out[name] = Quotes(bid, bid_qty, ask, ask_qty)
        return out
