"""The built-in quoting strategies in Python: twins of the native ones (cpp/src/quoters.cpp).

Each twin does the native arithmetic step for step (the same floating-point operations in the same order,
then the same integer rules), so it gives exactly the native targets; the reference engine runs these,
tests compare the two on random contexts, and they are the readable statement of each rule.
docs/strategies.md gives the formulas and parameters.

=====================  ==========================================================================
built-in               twin
=====================  ==========================================================================
``symmetric``          ``SpreadQuoter(half_spread, size, max_position, fair)``
``skew``               ``SpreadQuoter(..., skew=k)``
``pull``               ``SpreadQuoter(..., pull_threshold=threshold)``
``skew_pull``          ``SpreadQuoter(..., skew=k, pull_threshold=threshold)``
``avellaneda_stoikov`` ``AvellanedaStoikovQuoter(gamma, sigma, k, horizon, session, size, ...)``
``glft``               ``GlftQuoter(A, k, gamma, sigma, size, max_position, fair)``
``lead_defence``       ``LeadDefenceQuoter(lead_index, window_ns, half_spread, ..., skew=k, pull_threshold=threshold)``
``oracle``             ``OracleQuoter(mids, horizon_ns, half_spread, threshold, skew, ...)``
``oracle_regime``      ``RegimeOracleQuoter(regimes, horizon_ns, half_spread, widen, toxic_mask, ...)``
=====================  ==========================================================================

The two oracles are the clairvoyant bound (docs/strategies.md): they read the future through a
:class:`MarkedPath` that ``simulate`` computes from the data before the loop (``mmsim.engine.oracle``), and
declare it (``clairvoyant = True``) so that every decision they take is marked in the decision log.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from abc import ABC, abstractmethod
from typing import Any, Optional

import numpy as np

from mmsim.errors import ConfigError
from mmsim.engine.strategy import Quotes

__all__ = ["Quoter", "SpreadQuoter", "AvellanedaStoikovQuoter", "GlftQuoter", "LeadDefenceQuoter", "MarkedPath",
           "OracleQuoter",
           "RegimeOracleQuoter", "from_builtin", "engine_strategy"]

_PRICE_LIMIT = 9007199254740992.0  # 2^53: integer ticks stay exact as floats
_NAN = float("nan")


def _floor_tick(x: float) -> int:
    if x < -_PRICE_LIMIT:
        return -int(_PRICE_LIMIT)
    if x > _PRICE_LIMIT:
        return int(_PRICE_LIMIT)
    return math.floor(x)


def _ceil_tick(x: float) -> int:
    if x < -_PRICE_LIMIT:
        return -int(_PRICE_LIMIT)
    if x > _PRICE_LIMIT:
        return int(_PRICE_LIMIT)
    return math.ceil(x)


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ConfigError(what)


def _finite(x: float) -> bool:
    return math.isfinite(x)


class Quoter(ABC):
    """The rules every built-in shares; subclasses give real-valued prices around the fair value.

    At each wakeup: a one-sided book pulls both sides (``Quotes(0, 0, 0, 0)``); otherwise the fair value ``f``
    (``mid`` or the size-weighted ``micro``) goes to :meth:`prices`, the bid is floored and the ask ceiled to
    ticks, the bid is held at or below ``best_ask - 1`` and the ask at or above ``best_bid + 1`` (passive
    quotes only), a touching pair is widened by moving the ask up a tick, and with ``max_position > 0`` the
    bid quantity is capped at ``max_position - position`` (0 at or beyond the limit) and the ask quantity at
    ``max_position + position``.
    """

    def __init__(self, size: int = 1, max_position: int = 0, fair: str = "mid"):
        self.size, self.max_position, self.fair = int(size), int(max_position), str(fair)
        _require(self.size > 0, f"quoter: size must be > 0 lots, not {self.size}")
        _require(self.max_position >= 0,
                 f"quoter: max_position must be >= 0 lots (0: no limit), not {self.max_position}")
        _require(self.fair in ("mid", "micro"), f"quoter: fair must be 'mid' or 'micro', not '{self.fair}'")

    @abstractmethod
    def prices(self, ctx: Any, fair: float) -> tuple[float, float, bool, bool]:
        """Real-valued ``(bid, ask, bid_on, ask_on)`` around ``fair`` (ticks)."""

    def on_wakeup(self, ctx: Any) -> Quotes:
        if ctx.bid_qty <= 0 or ctx.ask_qty <= 0:  # one-sided book: no fair value, pull both sides
            return Quotes(0, 0, 0, 0)
        bb, ba = int(ctx.best_bid), int(ctx.best_ask)
        if self.fair == "mid":
            f = float(bb + ba) * 0.5
        else:
            w = float(ctx.bid_qty) / float(ctx.bid_qty + ctx.ask_qty)
            f = float(bb) + w * float(ba - bb)
        b, a, bid_on, ask_on = self.prices(ctx, f)
        if math.isnan(b):
            bid_on, b = False, f
        if math.isnan(a):
            ask_on, a = False, f
        bid, ask = _floor_tick(b), _ceil_tick(a)
        bid = min(bid, ba - 1)  # passive: never through the strategy-side book
        ask = max(ask, bb + 1)
        if bid >= ask:          # never crossed, never touching
            ask = bid + 1
        bq = self.size if bid_on else 0
        aq = self.size if ask_on else 0
        if self.max_position > 0:  # never trade past the limit
            pos = int(ctx.position)
            bq = min(bq, max(self.max_position - pos, 0))
            aq = min(aq, max(self.max_position + pos, 0))
        return Quotes(bid, bq, ask, aq)

    @abstractmethod
    def native(self) -> Any:
        """The native strategy with the same parameters (``mmsim._core``)."""


def _pred(ctx: Any) -> float:
    return float(getattr(ctx, "pred_move", _NAN))


class SpreadQuoter(Quoter):
    """``symmetric``, ``skew``, ``pull``, ``skew_pull``.

    With a finite prediction ``p = ctx.pred_move`` (ticks): fair value ``f + skew * p``; the bid is pulled when
    ``p < -pull_threshold`` and the ask when ``p > pull_threshold``. Without one (NaN: no model) it quotes
    ``f ± h`` like the symmetric baseline. ``h`` is ``half_spread`` rounded to the nearest half tick (ties to
    even), so with ``fair="mid"`` and no prediction every step is exact.
    """

    def __init__(self, half_spread: float = 1.0, size: int = 1, max_position: int = 0, fair: str = "mid",
                 skew: float = 0.0, pull_threshold: float = math.inf):
        super().__init__(size, max_position, fair)
        half_spread, skew, pull_threshold = float(half_spread), float(skew), float(pull_threshold)
        _require(_finite(half_spread) and 0.0 <= half_spread <= 1e15,
                 "quoter: half_spread must be a finite number of ticks >= 0")
        _require(_finite(skew), "quoter: skew (k) must be finite")
        _require(not math.isnan(pull_threshold) and pull_threshold >= 0.0, "quoter: pull threshold must be >= 0 ticks")
        self.half_spread2 = int(round(2.0 * half_spread))  # ties to even, like the native nearbyint
        self.half_spread = float(self.half_spread2) * 0.5
        self.skew, self.pull_threshold = skew, pull_threshold

    def move(self, ctx: Any) -> float:
        """The move (ticks) the rule acts on: the model's prediction ``ctx.pred_move`` (NaN: none)."""
        return _pred(ctx)

    def prices(self, ctx: Any, fair: float) -> tuple[float, float, bool, bool]:
        fv, bid_on, ask_on = fair, True, True
        p = self.move(ctx)
        if math.isfinite(p):
            if self.skew != 0.0:
                fv = fair + self.skew * p
            if p < -self.pull_threshold:
                bid_on = False  # a predicted fall threatens the bid
            if p > self.pull_threshold:
                ask_on = False  # a predicted rise threatens the ask
        return fv - self.half_spread, fv + self.half_spread, bid_on, ask_on

    def native(self) -> Any:
        from mmsim._core import SpreadQuoter as Native

        return Native(self.half_spread, self.size, self.max_position, self.fair, self.skew, self.pull_threshold)


class AvellanedaStoikovQuoter(Quoter):
    """Avellaneda–Stoikov (2008): reservation ``r = f - q*gamma*sigma^2*(T-t)``, quotes ``r -/+ delta`` with
    ``delta = (gamma*sigma^2*(T-t) + (2/gamma)*ln(1 + gamma/k)) / 2``; ``q`` is the position in lots.

    ``T - t`` is ``horizon`` seconds at every wakeup (rolling horizon, the default), or with ``session=True``
    the time left to the end of the current ``horizon``-second period of the data clock (periods start at
    t = 0 ns: ``horizon=86400`` ends each session at UTC midnight).
    """

    def __init__(self, gamma: float = 0.1, sigma: float = 1.0, k: float = 1.5, horizon: float = 1.0,
                 session: bool = False, size: int = 1, max_position: int = 0, fair: str = "mid"):
        super().__init__(size, max_position, fair)
        gamma, sigma, k, horizon = float(gamma), float(sigma), float(k), float(horizon)
        _require(_finite(gamma) and gamma > 0.0, "avellaneda_stoikov: gamma must be > 0")
        _require(_finite(sigma) and sigma >= 0.0, "avellaneda_stoikov: sigma must be >= 0 ticks per sqrt(s)")
        _require(_finite(k) and k > 0.0, "avellaneda_stoikov: k must be > 0 per tick")
        _require(_finite(horizon) and 0.0 < horizon <= 4e9, "avellaneda_stoikov: horizon must be > 0 s")
        self.horizon_ns = int(round(horizon * 1e9))
        _require(self.horizon_ns >= 1, "avellaneda_stoikov: horizon must be at least 1 ns")
        self.gamma, self.sigma, self.k, self.horizon, self.session = gamma, sigma, k, horizon, bool(session)
        self.gs2 = gamma * sigma * sigma                  # gamma sigma^2
        self.c = 2.0 / gamma * math.log1p(gamma / k)      # (2/gamma) ln(1 + gamma/k)
        _require(_finite(self.gs2) and _finite(self.c), "avellaneda_stoikov: gamma, sigma, k overflow")

    def prices(self, ctx: Any, fair: float) -> tuple[float, float, bool, bool]:
        tau = self.horizon  # T - t, seconds
        if self.session:
            m = int(ctx.now) % self.horizon_ns
            tau = float(self.horizon_ns - m) / 1e9
        a = self.gs2 * tau                           # gamma sigma^2 (T - t)
        r = fair - float(int(ctx.position)) * a      # reservation price
        d = (a + self.c) * 0.5                       # half the optimal spread
        return r - d, r + d, True, True

    def native(self) -> Any:
        from mmsim._core import AvellanedaStoikovQuoter as Native

        return Native(self.gamma, self.sigma, self.k, self.horizon, self.session, self.size, self.max_position,
                      self.fair)


class GlftQuoter(Quoter):
    """Guéant–Lehalle–Fernandez-Tapia (2013) closed-form asymptotic quotes (unit order size, xi = gamma)::

        delta_b = c1 + (2q + 1)/2 * c2      delta_a = c1 - (2q - 1)/2 * c2
        c1 = ln(1 + gamma/k) / gamma        c2 = sigma * sqrt(gamma/(2 A k) * (1 + gamma/k)^(1 + k/gamma))

    bid ``f - delta_b``, ask ``f + delta_a``; the inventory limit Q is ``max_position``.
    """

    def __init__(self, A: float = 1.0, k: float = 1.5, gamma: float = 0.1, sigma: float = 1.0, size: int = 1,
                 max_position: int = 10, fair: str = "mid"):
        super().__init__(size, max_position, fair)
        A, k, gamma, sigma = float(A), float(k), float(gamma), float(sigma)
        _require(_finite(A) and A > 0.0, "glft: A must be > 0 fills per second")
        _require(_finite(k) and k > 0.0, "glft: k must be > 0 per tick")
        _require(_finite(gamma) and gamma > 0.0, "glft: gamma must be > 0")
        _require(_finite(sigma) and sigma >= 0.0, "glft: sigma must be >= 0 ticks per sqrt(s)")
        self.A, self.k, self.gamma, self.sigma = A, k, gamma, sigma
        self.c1 = math.log1p(gamma / k) / gamma
        try:
            self.c2 = sigma * math.sqrt(gamma / (2.0 * A * k) * math.pow(1.0 + gamma / k, 1.0 + k / gamma))
        except OverflowError:
            self.c2 = math.inf
        _require(_finite(self.c1) and _finite(self.c2), "glft: A, k, gamma, sigma overflow")

    def prices(self, ctx: Any, fair: float) -> tuple[float, float, bool, bool]:
        q = float(int(ctx.position))
        return (fair - (self.c1 + (2.0 * q + 1.0) * 0.5 * self.c2),   # delta_b
                fair + (self.c1 - (2.0 * q - 1.0) * 0.5 * self.c2),   # delta_a
                True, True)

    def native(self) -> Any:
        from mmsim._core import GlftQuoter as Native

        return Native(self.A, self.k, self.gamma, self.sigma, self.size, self.max_position, self.fair)


# ------------------------------------------------------------------------------------------ the clairvoyant bound
_MAX_TS = 2**63 - 1
_NO_TS = -(2**63)  # mmsim.records.NO_TS


def _ahead(now: int, horizon_ns: int) -> int:
    """now + horizon, saturating at the int64 end of time (as the native oracles do)."""
    return min(int(now) + horizon_ns, _MAX_TS)


class MarkedPath:
    """A step function of exchange time computed from the data before the loop: ``values[j]`` holds from
    ``ts[j]`` until ``ts[j + 1]``; ``end_ts`` is the data's last exchange time (beyond it the future is unknown:
    the last value stands in, and the oracles count such lookups).

    :meth:`at` moves a cursor forward for times that never decrease (a run's decisions: O(1) amortised) and
    searches for an earlier one, exactly as the native ``MarkedPath`` (cpp/include/mmsim/oracle.hpp).
    """

    def __init__(self, ts: Any, values: Any, end_ts: int):
        self.ts = np.ascontiguousarray(ts, dtype=np.int64)
        self.values = np.ascontiguousarray(values, dtype=np.int64)
        self.end_ts = int(end_ts)
        _require(self.ts.ndim == 1 and self.values.ndim == 1, "marked path: ts and values must be 1-d arrays")
        _require(len(self.ts) == len(self.values), "marked path: ts and values differ in length")
        back = np.flatnonzero(np.diff(self.ts) < 0)
        _require(len(back) == 0, f"marked path: exchange times go back at entry {int(back[0]) + 1 if len(back) else 0}")
        self._ts, self._values = self.ts.tolist(), self.values.tolist()
        self._next, self._last = 0, None

    def at(self, t: int) -> Optional[int]:
        """The value in force at exchange time ``t``; None before the first entry."""
        if self._last is not None and t < self._last:
            self._next = bisect.bisect_right(self._ts, t)
        else:
            ts, j, n = self._ts, self._next, len(self._ts)
            while j < n and ts[j] <= t:
                j += 1
            self._next = j
        self._last = t
        return self._values[self._next - 1] if self._next else None

    def __len__(self) -> int:
        return len(self._ts)


class OracleQuoter(SpreadQuoter):
    """``oracle``: the ``skew_pull`` rule with the predicted move replaced by the true one::

        move = mid_exch(now + horizon) - mid_now        (ticks)

    ``mid_exch`` read from the marked mid path (twice the exchange-side mid, ``simulate`` computes it from the
    data), ``mid_now`` = (best_bid + best_ask) / 2 of the strategy-side book it quotes around. ``now`` is the
    decision time (``anchor="decision"``) or the exchange time of the newest data seen (``anchor="data"``:
    foresight of ``horizon`` beyond its feed). NaN (quote as ``symmetric``) before the exchange's first
    two-sided mid. ``past_end`` counts lookups beyond the data's end.
    """

    clairvoyant = True

    def __init__(self, mids: MarkedPath, horizon_ns: int, half_spread: float = 1.0, threshold: float = 0.5,
                 skew: float = 0.0, size: int = 1, max_position: int = 0, fair: str = "mid",
                 anchor: str = "decision"):
        super().__init__(half_spread, size, max_position, fair, skew=skew, pull_threshold=threshold)
        _require(isinstance(mids, MarkedPath), "oracle: needs the marked mid path (simulate computes it)")
        _require(anchor in ("decision", "data"), f"oracle: anchor must be 'decision' or 'data', not '{anchor}'")
        self.mids, self.horizon_ns, self.anchor, self.past_end = mids, int(horizon_ns), anchor, 0
        _require(self.horizon_ns >= 0, "oracle: horizon must be >= 0 ns")

    def move(self, ctx: Any) -> float:
        start = int(ctx.data_exch_ts) if self.anchor == "data" else int(ctx.now)
        if start == _NO_TS:
            return _NAN  # no data seen yet
        t = _ahead(start, self.horizon_ns)
        if t > self.mids.end_ts:
            self.past_end += 1  # beyond the data: the last mid stands in
        mid2 = self.mids.at(t)
        if mid2 is None:
            return _NAN
        return float(mid2 - (int(ctx.best_bid) + int(ctx.best_ask))) * 0.5

    def native(self) -> Any:
        from mmsim._core import OracleQuoter as Native

        return Native(self.mids.ts, self.mids.values, self.mids.end_ts, self.horizon_ns, self.half_spread,
                      self.pull_threshold, self.skew, self.size, self.max_position, self.fair, self.anchor)


class RegimeOracleQuoter(Quoter):
    """``oracle_regime``: quotes ``f ± h``; while the true regime at exchange time ``now + horizon`` is toxic
    (bit r of ``toxic_mask`` set for regime r: 1 toxic burst, 2 news window) it pulls both sides
    (``widen == 0``) or quotes ``f ± (h + widen)``. ``h`` is ``half_spread`` rounded to the nearest half tick.
    """

    clairvoyant = True

    def __init__(self, regimes: MarkedPath, horizon_ns: int, half_spread: float = 1.0, widen: float = 0.0,
                 toxic_mask: int = 6, size: int = 1, max_position: int = 0, fair: str = "mid"):
        super().__init__(size, max_position, fair)
        half_spread, widen = float(half_spread), float(widen)
        _require(isinstance(regimes, MarkedPath), "oracle_regime: needs the marked regime path (simulate's truth=)")
        _require(int(horizon_ns) >= 0, "oracle_regime: horizon must be >= 0 ns")
        _require(_finite(half_spread) and 0.0 <= half_spread <= 1e15,
                 "quoter: half_spread must be a finite number of ticks >= 0")
        _require(_finite(widen) and 0.0 <= widen <= 1e15, "oracle_regime: widen must be a finite number of ticks >= 0")
        _require(int(toxic_mask) >= 0, "oracle_regime: toxic_mask must be >= 0")
        self.regimes, self.horizon_ns, self.past_end = regimes, int(horizon_ns), 0
        self.half_spread = float(int(round(2.0 * half_spread))) * 0.5
        self.widen, self.toxic_mask = widen, int(toxic_mask)
        self._hw = self.half_spread + self.widen

    def prices(self, ctx: Any, fair: float) -> tuple[float, float, bool, bool]:
        t = _ahead(ctx.now, self.horizon_ns)
        if t > self.regimes.end_ts:
            self.past_end += 1
        r = self.regimes.at(t)
        toxic = r is not None and 0 <= r < 63 and (self.toxic_mask >> r) & 1 == 1
        h, on = self.half_spread, True
        if toxic:
            on = self.widen != 0.0  # stand aside while informed flow is about, or widen
            h = self._hw
        return fair - h, fair + h, on, on

    def native(self) -> Any:
        from mmsim._core import RegimeOracleQuoter as Native

        return Native(self.regimes.ts, self.regimes.values, self.regimes.end_ts, self.horizon_ns, self.half_spread,
                      self.widen, self.toxic_mask, self.size, self.max_position, self.fair)


#: Regime names of ``oracle_regime``'s ``toxic`` parameter -> the bits of ``toxic_mask`` (mmsim.data.market:
#: REGIME_BURST = 1, REGIME_NEWS = 2).
TOXIC_REGIMES = {"burst": 1 << 1, "news": 1 << 2}


def toxic_mask(text: str) -> int:
    """``"burst+news"`` -> 6."""
    mask = 0
    for part in str(text).split("+"):
        _require(part in TOXIC_REGIMES, f"oracle_regime: toxic={text}: use burst, news or burst+news")
        mask |= TOXIC_REGIMES[part]
    return mask


class LeadDefenceQuoter(SpreadQuoter):
    """``lead_defence``: ``skew_pull`` on the lead venue's recent move instead of a model's prediction.

    The move (ticks of the quoted venue) is the lead's relative mid change over the last ``window_ns``, as this
    strategy saw it, times the quoted mid: ``(m_now - m_then) / m_then * quoted_mid`` with ``m`` the lead's
    doubled mid (``best_bid + best_ask``, its own ticks), ``m_now`` the lead's mid at this wakeup and
    ``m_then`` the lead's mid at the latest earlier wakeup at or before ``now - window_ns`` (the strategy
    records the lead's mid at every wakeup where both venues are two-sided). NaN — quote like ``symmetric`` —
    while the lead is one-sided or the strategy has not yet watched for a whole window. The lead is venue
    ``lead_index`` of ``ctx.venue`` (1 = the first signal venue; ``simulate`` resolves the name).
    """

    def __init__(self, lead_index: int, window_ns: int, half_spread: float = 1.0, size: int = 1,
                 max_position: int = 0, fair: str = "mid", skew: float = 0.0, pull_threshold: float = 1.0):
        super().__init__(half_spread, size, max_position, fair, skew, pull_threshold)
        _require(int(lead_index) >= 1, "lead_defence: the lead must be a signal venue (index >= 1)")
        _require(int(window_ns) > 0, "lead_defence: window must be > 0")
        self.lead_index, self.window_ns = int(lead_index), int(window_ns)
        self._seen: deque = deque()  # (wakeup time, lead doubled mid), oldest first

    def move(self, ctx: Any) -> float:
        v = ctx.venue(self.lead_index)
        if int(v.bid_qty) <= 0 or int(v.ask_qty) <= 0:
            return _NAN
        now, m_now = int(ctx.now), int(v.best_bid) + int(v.best_ask)
        seen = self._seen
        seen.append((now, m_now))
        cut = now - self.window_ns
        while len(seen) >= 2 and seen[1][0] <= cut:  # keep the newest observation at or before the cut
            seen.popleft()
        if seen[0][0] > cut or seen[0][1] == 0:
            return _NAN
        m_then = seen[0][1]
        return float(m_now - m_then) / float(m_then) * (float(int(ctx.best_bid) + int(ctx.best_ask)) * 0.5)

    def native(self) -> Any:
        from mmsim._core import LeadDefenceQuoter as Native

        return Native(self.lead_index, self.window_ns, self.half_spread, self.size, self.max_position, self.fair,
                      self.skew, self.pull_threshold)


def from_builtin(name: str, params: dict, marked: Optional[MarkedPath] = None) -> Quoter:
    """The Python twin of built-in ``name`` with the loader's (complete, checked) parameters; an oracle also
    takes its marked path (``mmsim.engine.oracle`` builds it from the data)."""
    p = dict(params)
    common = {k: p.pop(k) for k in ("size", "max_position", "fair") if k in p}
    if name in ("oracle", "oracle_regime"):
        from mmsim.data.latency import parse_duration

        _require(marked is not None, f"strategy {name}: an oracle needs its marked path (simulate computes it "
                                     "from the data)")
        horizon_ns = parse_duration(str(p.pop("horizon", "0")), f"strategy {name}: horizon")
        if name == "oracle":
            q: Quoter = OracleQuoter(marked, horizon_ns, p.pop("half_spread", 1.0), p.pop("threshold", 0.5),
                                     p.pop("k", 0.0), anchor=p.pop("anchor", "decision"), **common)
        else:
            q = RegimeOracleQuoter(marked, horizon_ns, p.pop("half_spread", 1.0), p.pop("widen", 0.0),
                                   toxic_mask(p.pop("toxic", "burst+news")), **common)
        _require(not p, f"strategy {name}: unknown parameter(s) {sorted(p)}")
        return q
    if name == "lead_defence":
        from mmsim.data.latency import parse_duration

        _require("lead_index" in p, "strategy lead_defence: needs a signal venue to lead (simulate(signals=...) "
                                    "or [signals.NAME] in the scenario)")
        p.pop("lead", None)
        q = LeadDefenceQuoter(p.pop("lead_index"), parse_duration(str(p.pop("window", "100ms")),
                                                                   "strategy lead_defence: window"),
                              p.pop("half_spread", 1.0), skew=p.pop("k", 0.0),
                              pull_threshold=p.pop("threshold", 1.0), **common)
        _require(not p, f"strategy {name}: unknown parameter(s) {sorted(p)}")
        return q
    if name in ("symmetric", "skew", "pull", "skew_pull"):
        q = SpreadQuoter(p.pop("half_spread", 1.0), skew=p.pop("k", 0.0),
                         pull_threshold=p.pop("threshold", math.inf), **common)
        _require(not p, f"strategy {name}: unknown parameter(s) {sorted(p)}")
        return q
    if name == "avellaneda_stoikov":
        clock = p.pop("clock", "rolling")
        return AvellanedaStoikovQuoter(session=clock == "session", **p, **common)
    if name == "glft":
        return GlftQuoter(**p, **common)
    raise ConfigError(f"strategy {name}: built-in has no implementation")


def engine_strategy(name: str, params: dict, engine: str, marked: Optional[MarkedPath] = None) -> Any:
    """What an engine runs for a built-in: the native object (``"cpp"``) or its Python twin (``"reference"``)."""
    twin = from_builtin(name, params, marked)
    return twin.native() if engine == "cpp" else twin
