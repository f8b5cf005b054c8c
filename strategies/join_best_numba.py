"""Example plugin (numba cfunc): the JoinBest rule compiled to a C callback, called from the C++ loop.

    mmsim run quiet --strategy strategies/join_best_numba.py:join_best --out out/join_numba
"""
from mmsim.engine.numba_strategy import CI_ASK_QTY, CI_BEST_ASK, CI_BEST_BID, CI_BID_QTY, CI_POSITION, cfunc_strategy


@cfunc_strategy(params={"size": 1.0, "max_position": 10.0})
def join_best(ci, cf, p, out):
    out[0] = 1
    if ci[CI_BID_QTY] == 0 or ci[CI_ASK_QTY] == 0:
        out[1] = 0
        out[2] = 0
        out[3] = 0
        out[4] = 0
        return 0
    size, limit = int(p[0]), int(p[1])
    out[1] = ci[CI_BEST_BID]
    out[2] = size if ci[CI_POSITION] < limit else 0
    out[3] = ci[CI_BEST_ASK]
    out[4] = size if ci[CI_POSITION] > -limit else 0
    return 0
