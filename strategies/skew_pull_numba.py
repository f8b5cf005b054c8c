r"""Example plugin (numba cfunc): the SkewPull rule of skew_pull.py compiled to a C callback.

The C++ loop calls it through a function pointer with the context as flat arrays, so no Python runs per
event. The model's prediction is ``cf[CF_PRED_MOVE]`` (ticks; NaN without a model):

    mmsim run toxic_burst --strategy strategies/skew_pull_numba.py:skew_pull:k=0.5,threshold=1 \
        --model model.json --out out/spn

Parameters arrive as float64 ``p[0..4]`` in the order of the decorator's dict. docs/strategies.md,
"Writing your own skew/pull rule".
"""
import numpy as np

from mmsim.engine.numba_strategy import (CF_PRED_MOVE, CI_ASK_QTY, CI_BEST_ASK, CI_BEST_BID, CI_BID_QTY, CI_POSITION,
                                  cfunc_strategy)


@cfunc_strategy(params={"half_spread": 1.0, "k": 0.5, "threshold": 1.0, "size": 1.0, "max_position": 0.0})
def skew_pull(ci, cf, p, out):
    half_spread, k, threshold = p[0], p[1], p[2]
    size, max_position = np.int64(p[3]), np.int64(p[4])
    out[0] = 1                                  # 1: these are target quotes
    if ci[CI_BID_QTY] == 0 or ci[CI_ASK_QTY] == 0:
        out[1] = 0                              # one-sided book: stand aside
        out[2] = 0
        out[3] = 0
        out[4] = 0
        return 0
    best_bid, best_ask, position = ci[CI_BEST_BID], ci[CI_BEST_ASK], ci[CI_POSITION]
    fair = (best_bid + best_ask) / 2.0          # the strategy-side mid, ticks
    pred = cf[CF_PRED_MOVE]                     # the model's predicted move (NaN: no model)
    bid_on = True
    ask_on = True
    if np.isfinite(pred):
        fair += k * pred                        # skew
        bid_on = pred >= -threshold             # pull the bid before a predicted fall
        ask_on = pred <= threshold              # pull the ask before a predicted rise
    bid = min(np.int64(np.floor(fair - half_spread)), best_ask - 1)  # passive: never through the book
    ask = max(np.int64(np.ceil(fair + half_spread)), best_bid + 1)
    if bid >= ask:
        ask = bid + 1                           # never crossed
    bid_qty = size if bid_on else 0
    ask_qty = size if ask_on else 0
    if max_position > 0:                        # never buy above +max or sell below -max
        bid_qty = min(bid_qty, max(max_position - position, 0))
        ask_qty = min(ask_qty, max(max_position + position, 0))
    out[1] = bid
    out[2] = bid_qty
    out[3] = ask
    out[4] = ask_qty
    return 0                                    # 0: success (non-zero stops the run with that status)
