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
=====================  ==========================================================================
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

from mmsim.errors import ConfigError
from mmsim.engine.strategy import Quotes

__all__ = ["Quoter", "SpreadQuoter", "AvellanedaStoikovQuoter", "GlftQuoter", "from_builtin", "engine_strategy"]

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

    def prices(self, ctx: Any, fair: float) -> tuple[float, float, bool, bool]:
        fv, bid_on, ask_on = fair, True, True
        p = _pred(ctx)
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


def from_builtin(name: str, params: dict) -> Quoter:
    """The Python twin of built-in ``name`` with the loader's (complete, checked) parameters."""
    p = dict(params)
    common = {k: p.pop(k) for k in ("size", "max_position", "fair") if k in p}
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


def engine_strategy(name: str, params: dict, engine: str) -> Any:
    """What an engine runs for a built-in: the native object (``"cpp"``) or its Python twin (``"reference"``)."""
    twin = from_builtin(name, params)
    return twin.native() if engine == "cpp" else twin
