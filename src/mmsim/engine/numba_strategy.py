"""Strategies compiled by numba as a C callback: the C++ loop calls them through a function pointer, with
no Python in the loop.

A rule is a plain function over flat arrays::

    rule(ci: int64[CI_SIZE], cf: float64[CF_SIZE], params: float64[n], out: int64[5]) -> int
    rule(ci, cf, params, features: float64[ci[CI_N_FEATURES]], out) -> int     (to read the feature bank)

With other venues (docs/event-loop.md "Signal venues", "Quoted venues") ``ci`` is longer: ``ci[CI_N_VENUES]``
is 1 + K, and venue k (1..K) has a block of ``CI_VENUE_BLOCK`` int64 at ``venue_block(k)``: best bid,
bid qty, best ask, ask qty, data exch_ts, data arrival_ts, data rows, n_features, known position, quoted
(offsets ``CV_*``). ``features`` then holds venue 0's features followed by each other venue's, in order
(``venue_features_start(ci, k)`` is where venue k's begin).

It writes ``out[0] = 1`` and ``out[1:5] = bid_price, bid_qty, ask_price, ask_qty`` for target quotes (or
``out[0] = 0`` for none) and returns 0; a non-zero return stops the run with that status. ``out`` holds
``CO_BLOCK`` (5) int64 per venue, all zeroed before each call: a quoted venue v >= 1's targets go to
``out[venue_out(v) + 0..4]`` the same way (quoting a read-only venue fails the run). An exception
inside numba code cannot cross the C boundary (the cfunc would return 0), so rules return a status
instead, and ``out[0]`` is preset to a sentinel that the wrapper turns into an error if left untouched.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numba
import numpy as np
from numba import types

from mmsim._core import CfuncStrategy, context_layout
from mmsim.engine.strategy import Quotes

_L = context_layout()
CI_NOW: int = _L["CI_NOW"]
CI_REASON: int = _L["CI_REASON"]
CI_BEST_BID: int = _L["CI_BEST_BID"]
CI_BID_QTY: int = _L["CI_BID_QTY"]
CI_BEST_ASK: int = _L["CI_BEST_ASK"]
CI_ASK_QTY: int = _L["CI_ASK_QTY"]
CI_POSITION: int = _L["CI_POSITION"]
CI_DATA_EXCH_TS: int = _L["CI_DATA_EXCH_TS"]
CI_DATA_ARRIVAL_TS: int = _L["CI_DATA_ARRIVAL_TS"]
CI_DATA_ROWS: int = _L["CI_DATA_ROWS"]
CI_N_FEATURES: int = _L["CI_N_FEATURES"]
CI_DEPTH0: int = _L["CI_DEPTH0"]   # level L: bid px, bid qty, ask px, ask qty at CI_DEPTH0 + 4L
CI_LEVELS: int = _L["CI_LEVELS"]
CI_N_VENUES: int = _L["CI_N_VENUES"]   # 1 + the number of other venues (read-only or quoted)
CI_SIZE: int = _L["CI_SIZE"]           # venue 1's block starts here
CI_VENUE_BLOCK: int = _L["CI_VENUE_BLOCK"]  # int64 per venue block
CV_BEST_BID: int = _L["CV_BEST_BID"]   # offsets inside a venue's block
CV_BID_QTY: int = _L["CV_BID_QTY"]
CV_BEST_ASK: int = _L["CV_BEST_ASK"]
CV_ASK_QTY: int = _L["CV_ASK_QTY"]
CV_DATA_EXCH_TS: int = _L["CV_DATA_EXCH_TS"]
CV_DATA_ARRIVAL_TS: int = _L["CV_DATA_ARRIVAL_TS"]
CV_DATA_ROWS: int = _L["CV_DATA_ROWS"]
CV_N_FEATURES: int = _L["CV_N_FEATURES"]
CV_POSITION: int = _L["CV_POSITION"]   # the strategy's known position at that venue (0 for a read-only venue)
CV_QUOTED: int = _L["CV_QUOTED"]       # 1 if the venue is quoted
CO_BLOCK: int = _L["CO_BLOCK"]         # int64 per venue in ``out``: has, bid_price, bid_qty, ask_price, ask_qty
CF_EWMA_MID: int = _L["CF_EWMA_MID"]
CF_CASH: int = _L["CF_CASH"]
CF_TICK_SIZE: int = _L["CF_TICK_SIZE"]
CF_LOT_SIZE: int = _L["CF_LOT_SIZE"]
CF_PRED_MOVE: int = _L["CF_PRED_MOVE"]   # the model's predicted mid move (ticks); NaN without a model
CF_P_DOWN: int = _L["CF_P_DOWN"]
CF_P_FLAT: int = _L["CF_P_FLAT"]
CF_P_UP: int = _L["CF_P_UP"]
CF_SIZE: int = _L["CF_SIZE"]


@numba.njit(cache=False)
def venue_block(k: int) -> int:
    """Index in ``ci`` of signal venue ``k``'s block (k = 1..K); callable from a rule and from Python."""
    return CI_SIZE + CI_VENUE_BLOCK * (k - 1)


@numba.njit(cache=False)
def venue_out(v: int) -> int:
    """Index in ``out`` of venue ``v``'s targets (``has, bid_price, bid_qty, ask_price, ask_qty``); 0 for venue 0."""
    return CO_BLOCK * v


@numba.njit(cache=False)
def venue_features_start(ci: np.ndarray, k: int) -> int:
    """Index in ``features`` of venue ``k``'s first feature (0 = the quoted venue, which starts at 0)."""
    start = ci[CI_N_FEATURES]
    for j in range(1, k):
        start += ci[CI_SIZE + CI_VENUE_BLOCK * (j - 1) + CV_N_FEATURES]
    return 0 if k == 0 else start


def ci_length(n_venues: int) -> int:
    """Length of ``ci`` for a run with ``n_venues`` venues (1 + K)."""
    return CI_SIZE + CI_VENUE_BLOCK * (n_venues - 1)


#: Written to out[0] before each call; a rule that returns 0 without replacing it failed silently.
_UNSET = -0x6D6D73696D
STATUS_OUT_UNSET = 1_000_001

_SIG = types.int32(types.CPointer(types.int64), types.CPointer(types.float64), types.CPointer(types.float64),
                   types.CPointer(types.float64), types.CPointer(types.int64))


class NumbaStrategy:
    """A compiled rule plus its parameter values; usable by both the C++ engine and the reference."""

    def __init__(self, rule: Callable, param_names: tuple[str, ...], params: np.ndarray, name: str):
        self.rule = rule                      # numba.njit dispatcher
        self.param_names = param_names
        self.params = np.ascontiguousarray(params, dtype=np.float64)
        self.name = name
        self._cfunc = _compile_cfunc(rule, max(len(param_names), 1))  # kept alive while C++ holds its address

    @property
    def address(self) -> int:
        return self._cfunc.address

    def with_params(self, **kw: float) -> "NumbaStrategy":
        unknown = set(kw) - set(self.param_names)
        if unknown:
            from mmsim.errors import ConfigError
            raise ConfigError(f"strategy {self.name}: unknown parameter(s) {sorted(unknown)}; "
                              f"known: {list(self.param_names)}")
        vals = dict(zip(self.param_names, self.params))
        vals.update({k: float(v) for k, v in kw.items()})
        clone = object.__new__(NumbaStrategy)
        clone.rule, clone.param_names, clone.name, clone._cfunc = self.rule, self.param_names, self.name, self._cfunc
        clone.params = np.array([vals[k] for k in self.param_names] or [0.0], dtype=np.float64)
        return clone

    def native(self) -> CfuncStrategy:
        """The handle the C++ loop calls (function pointer + parameters)."""
        params = self.params if len(self.params) else np.zeros(1)
        return _GuardedCfunc(self.address, list(map(float, params)), self)

    def on_wakeup(self, ctx: Any) -> Optional[Quotes]:
        """The same rule called from Python (used by the reference engine and for debugging)."""
        names = tuple(getattr(ctx, "venue_names", ()))
        n_venues = max(len(names), 1)
        ci = np.zeros(ci_length(n_venues), dtype=np.int64)
        cf = np.zeros(CF_SIZE, dtype=np.float64)
        ci[CI_NOW], ci[CI_REASON] = ctx.now, ctx.reason
        ci[CI_BEST_BID], ci[CI_BID_QTY], ci[CI_BEST_ASK], ci[CI_ASK_QTY] = ctx.best_bid, ctx.bid_qty, ctx.best_ask, ctx.ask_qty
        ci[CI_POSITION] = ctx.position
        ci[CI_DATA_EXCH_TS], ci[CI_DATA_ARRIVAL_TS], ci[CI_DATA_ROWS] = ctx.data_exch_ts, ctx.data_arrival_ts, ctx.data_rows
        feat = np.asarray(getattr(ctx, "features", np.zeros(0)), dtype=np.float64)
        ci[CI_N_FEATURES] = len(feat)
        ci[CI_N_VENUES] = n_venues
        parts = [feat]
        for k in range(1, n_venues):
            v = ctx.venue(k)
            vf = np.asarray(v.features, dtype=np.float64)
            b = CI_SIZE + CI_VENUE_BLOCK * (k - 1)
            ci[b + CV_BEST_BID], ci[b + CV_BID_QTY], ci[b + CV_BEST_ASK], ci[b + CV_ASK_QTY] = (
                v.best_bid, v.bid_qty, v.best_ask, v.ask_qty)
            ci[b + CV_DATA_EXCH_TS], ci[b + CV_DATA_ARRIVAL_TS], ci[b + CV_DATA_ROWS] = (
                v.data_exch_ts, v.data_arrival_ts, v.data_rows)
            ci[b + CV_N_FEATURES] = len(vf)
            ci[b + CV_POSITION] = getattr(v, "position", 0)
            ci[b + CV_QUOTED] = 1 if getattr(v, "quoted", False) else 0
            parts.append(vf)
        feat = np.concatenate(parts) if n_venues > 1 else feat
        for lvl in range(CI_LEVELS):
            b, a = ctx.depth(1, lvl), ctx.depth(-1, lvl)
            ci[CI_DEPTH0 + 4 * lvl: CI_DEPTH0 + 4 * lvl + 4] = (b[0], b[1], a[0], a[1])
        cf[CF_EWMA_MID], cf[CF_CASH], cf[CF_TICK_SIZE], cf[CF_LOT_SIZE] = ctx.ewma_mid, ctx.cash, ctx.tick_size, ctx.lot_size
        nan = float("nan")
        cf[CF_PRED_MOVE], cf[CF_P_DOWN], cf[CF_P_FLAT], cf[CF_P_UP] = (getattr(ctx, k, nan) for k in
                                                                      ("pred_move", "p_down", "p_flat", "p_up"))
        out = np.zeros(CO_BLOCK * n_venues, dtype=np.int64)
        out[0] = _UNSET
        params = self.params if len(self.params) else np.zeros(1)
        args = (ci, cf, params, feat if len(feat) else np.zeros(1), out) if _takes_features(self.rule) else (ci, cf, params, out)
        status = int(self.rule(*args))
        if status == 0 and out[0] == _UNSET:
            status = STATUS_OUT_UNSET
        if status != 0:
            raise RuntimeError(f"cfunc returned status {status}")
        first = None if out[0] == 0 else Quotes(int(out[1]), int(out[2]), int(out[3]), int(out[4]))
        others = {v: Quotes(*(int(x) for x in out[CO_BLOCK * v + 1: CO_BLOCK * v + 5]))
                  for v in range(1, n_venues) if out[CO_BLOCK * v] != 0}
        if not others:
            return first
        return {0: first, **others}  # the Python form of several venues' targets


class _GuardedCfunc(CfuncStrategy):
    """Keeps the Python-side strategy (and so the compiled cfunc) alive as long as the handle."""

    def __init__(self, address: int, params: list, owner: NumbaStrategy):
        super().__init__(address, params)
        self.owner = owner


def _takes_features(rule: Callable) -> bool:
    import inspect

    return len(inspect.signature(getattr(rule, "py_func", rule)).parameters) == 5


def _compile_cfunc(rule: Callable, n_params: int):
    ci_n, cf_n, unset, unset_status, n_feat_at = CI_SIZE, CF_SIZE, _UNSET, STATUS_OUT_UNSET, CI_N_FEATURES
    n_venues_at, block, block_n_feat, out_block = CI_N_VENUES, CI_VENUE_BLOCK, CV_N_FEATURES, CO_BLOCK

    if _takes_features(rule):
        @numba.cfunc(_SIG, nopython=True)
        def entry(ci_p, cf_p, p_p, f_p, out_p):
            n_venues = numba.carray(ci_p, (ci_n,))[n_venues_at]
            ci = numba.carray(ci_p, (ci_n + block * (n_venues - 1),))
            cf = numba.carray(cf_p, (cf_n,))
            p = numba.carray(p_p, (n_params,))
            n_feat = ci[n_feat_at]
            for k in range(1, n_venues):
                n_feat += ci[ci_n + block * (k - 1) + block_n_feat]
            feat = numba.carray(f_p, (max(n_feat, 1),))
            out = numba.carray(out_p, (out_block * n_venues,))
            out[0] = unset
            status = rule(ci, cf, p, feat, out)
            if status == 0 and out[0] == unset:
                return unset_status
            return status
    else:
        @numba.cfunc(_SIG, nopython=True)
        def entry(ci_p, cf_p, p_p, f_p, out_p):
            n_venues = numba.carray(ci_p, (ci_n,))[n_venues_at]
            ci = numba.carray(ci_p, (ci_n + block * (n_venues - 1),))
            cf = numba.carray(cf_p, (cf_n,))
            p = numba.carray(p_p, (n_params,))
            out = numba.carray(out_p, (out_block * n_venues,))
            out[0] = unset
            status = rule(ci, cf, p, out)
            if status == 0 and out[0] == unset:
                return unset_status
            return status

    return entry


def cfunc_strategy(params: Optional[dict[str, float]] = None, name: Optional[str] = None):
    """Decorator: compile ``rule(ci, cf, params, out) -> int`` into a :class:`NumbaStrategy`.

    ``params`` gives the parameter names in order with their defaults; the rule reads them as
    ``params[0]``, ``params[1]``, … (see docs/strategies.md).
    """
    params = dict(params or {})

    def wrap(fn: Callable) -> NumbaStrategy:
        jitted = numba.njit(cache=False)(fn)
        return NumbaStrategy(jitted, tuple(params), np.array(list(params.values()) or [0.0], dtype=np.float64),
                             name or fn.__name__)

    return wrap


@cfunc_strategy(params={"half_spread": 1.0, "size": 1.0}, name="symmetric_numba")
def symmetric_numba(ci, cf, p, out):
    """The fixed-spread symmetric rule (same results as the native ``symmetric``), as a cfunc."""
    out[0] = 1
    if ci[CI_BID_QTY] == 0 or ci[CI_ASK_QTY] == 0:
        out[1] = 0
        out[2] = 0
        out[3] = 0
        out[4] = 0
        return 0
    h2 = np.int64(np.round(2.0 * p[0]))
    mid2 = ci[CI_BEST_BID] + ci[CI_BEST_ASK]
    out[1] = (mid2 - h2) // 2
    out[2] = np.int64(p[1])
    out[3] = -((-(mid2 + h2)) // 2)
    out[4] = np.int64(p[1])
    return 0
