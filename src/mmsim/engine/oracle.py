"""The clairvoyant bound: the marked paths the built-in oracles read the future through (docs/strategies.md).

An oracle (``oracle``, ``oracle_regime``) is a built-in quoter that knows the future: ``simulate`` computes its
*marked path* from the data before the loop and hands it to the oracle's constructor, and to nothing else:

- ``oracle``: the exchange-side mid as a step function of exchange time. One pass over the run's (validated)
  rows with the exchange side's book rules; twice the mid after each exchange-timestamp group, where it
  changes. The C++ engine's path comes from ``mmsim._core.MidPathBuilder``, the reference engine's from
  :func:`mmsim.reference.simulator.marked_mid_path` (two implementations, held equal by tests/test_oracle.py).
- ``oracle_regime``: a synthetic market's true regime (``mmsim.data.market.Market.regime``: 0 calm, 1 toxic
  burst, 2 news) as a step function of exchange time, from ``simulate(..., truth=market)``.

The oracle then acts through the same feed, compute and order latency as any strategy. It declares itself
(``clairvoyant``): every decision it takes is marked ``DECISION_CLAIRVOYANT`` in the decision log, the run
summary says ``clairvoyant: true`` with the count of lookups past the data's end (``oracle_past_end``), and
``mmsim audit`` labels the run (and fails any other strategy whose decisions carry the mark).
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from mmsim import records as R
from mmsim.engine.loader import ORACLES, BuiltinSpec
from mmsim.engine.quoters import MarkedPath
from mmsim.errors import ConfigError

__all__ = ["ORACLES", "is_oracle", "mid_path", "regime_path", "marked_path"]


def is_oracle(obj: Any) -> bool:
    """A loaded strategy spec that is a built-in oracle."""
    return isinstance(obj, BuiltinSpec) and obj.name in ORACLES


def mid_path(chunks: Iterable[np.ndarray], *, engine: str, mode: str,
             crossed_policy: str) -> tuple[MarkedPath, int, int]:
    """The exchange-side mid path of validated rows given in order (one array, or a streamed run's chunks),
    with the first row's exchange time and the number of rows: ``(path, first_ts, rows)``."""
    if engine == "cpp":
        from mmsim._core import MidPathBuilder

        b = MidPathBuilder(crossed_policy == "repair")
        pending = None
        for chunk in chunks:
            if pending is not None:
                b.feed(pending, False)
            pending = np.ascontiguousarray(chunk)
        b.feed(pending if pending is not None else np.zeros(0, R.EVENT_DTYPE), True)
        return MarkedPath(b.ts, b.mid2, b.end_ts), int(b.first_ts), int(b.rows)
    from mmsim.reference.simulator import marked_mid_path

    events = np.concatenate(list(chunks)) if not isinstance(chunks, np.ndarray) else chunks
    ts, mid2 = marked_mid_path(events, mode=mode, crossed_policy=crossed_policy)
    first, end = (int(events["exch_ts"][0]), int(events["exch_ts"][-1])) if len(events) else (int(R.NO_TS),) * 2
    return MarkedPath(ts, mid2, end), first, len(events)


def regime_path(truth: Any, end_ts: int) -> MarkedPath:
    """The true regime as a step function of exchange time: the regime after the last row of each timestamp
    group, where it changes. ``truth`` is a :class:`mmsim.data.market.Market` (``.events``, ``.regime``) or a
    mapping with ``exch_ts`` and ``regime`` arrays; it may cover more rows than the run (the run's data end,
    ``end_ts``, is where the future becomes unknown)."""
    if truth is None:
        raise ConfigError("needs the true regime: simulate(..., truth=market) with a mmsim.data.market.Market "
                          "(or a synthetic_market scenario with mmsim run)")
    try:
        if hasattr(truth, "regime") and hasattr(truth, "events"):
            ts, regime = truth.events["exch_ts"], truth.regime
        else:
            ts, regime = truth["exch_ts"], truth["regime"]
    except (KeyError, TypeError, IndexError, ValueError):
        raise ConfigError("truth must be a mmsim.data.market.Market or a mapping with 'exch_ts' and 'regime' "
                          "arrays") from None
    ts = np.asarray(ts, dtype=np.int64).ravel()
    regime = np.asarray(regime).astype(np.int64).ravel()
    if len(ts) != len(regime):
        raise ConfigError(f"truth: {len(ts)} exchange times but {len(regime)} regimes")
    if len(ts) and (np.diff(ts) < 0).any():
        raise ConfigError("truth: exchange times go back")
    if len(ts):
        last_of_group = np.r_[ts[1:] != ts[:-1], True]
        ts, regime = ts[last_of_group], regime[last_of_group]
        changed = np.r_[True, regime[1:] != regime[:-1]]
        ts, regime = ts[changed], regime[changed]
    return MarkedPath(ts, regime, end_ts)


def marked_path(spec: BuiltinSpec, display: str, chunks: Iterable[np.ndarray], *, engine: str, mode: str,
                crossed_policy: str, truth: Any = None) -> MarkedPath:
    """The marked path oracle ``spec`` reads, from the run's validated rows (and ``truth`` for
    ``oracle_regime``). A horizon that runs past the data's end for every decision is a ConfigError."""
    from mmsim.data.latency import parse_duration

    mids, first_ts, rows = mid_path(chunks, engine=engine, mode=mode, crossed_policy=crossed_policy)
    horizon_ns = parse_duration(str(spec.params.get("horizon", "0")), f"strategy '{display}': horizon")
    if rows > 0 and first_ts + horizon_ns > mids.end_ts:
        span = (mids.end_ts - first_ts) / 1e9
        raise ConfigError(f"strategy '{display}': horizon {spec.params.get('horizon')} runs past the data's end "
                          f"for every decision (the data span {span:g} s)")
    if spec.name == "oracle":
        return mids
    try:
        return regime_path(truth, mids.end_ts)
    except ConfigError as e:
        raise ConfigError(f"strategy '{display}': {e}") from None


def past_end(strategy: Any) -> Optional[int]:
    """Lookups past the data's end of an oracle (native or twin) after its run; None for other strategies."""
    v = getattr(strategy, "past_end", None)
    return None if v is None else int(v)
