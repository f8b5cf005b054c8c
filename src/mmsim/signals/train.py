"""Training prediction models without look-ahead (docs/training.md; the model file: docs/models.md).

The pipeline, each step a function here:

1. **Samples** (:func:`build_samples`). The strategy decides at feed arrivals. For every multiple g of
   ``every_ns`` (aligned to the epoch), the sample is the first feed arrival at or after g; of the rows
   delivered at that instant, the last one. Its arrival time is a_i; its features are the batch-mode
   bank's row (:func:`mmsim.signals.batch.features_frame`: the strategy-side book after the feed latency, the same
   numbers the loop's ``ctx.features`` holds at a_i).
2. **Targets** (:func:`exchange_mid`, :func:`mid_at`). move_i = m(a_i + H) − m(a_i) in ticks, where m(t) is
   the *exchange-side* mid after the last event with ``exch_ts <= t`` (``mmsim.signals.cks.level1``). ``up`` =
   move > 0; ``direction`` = down / flat / up with flat = |move| < 0.5 tick. A sample whose label window
   [a_i, a_i + H] ends past the data's end (or past ``end_ts``) is dropped and counted; so is one where the
   book has not been two-sided yet.
3. **Walk-forward** (:func:`walk_forward`). Expanding window (default): the samples, in time order, are cut
   into K + 1 blocks; fold k tests on block k and trains on every earlier sample whose label window ends
   before the fold's first arrival (the purge). Only the past is used, so no embargo is needed. ``purged``:
   K blocks, training on every other block, with the purge on both sides and an embargo after the test fold.
4. **Fitting** (:func:`fit`): ridge, logistic (Newton/IRLS), softmax (Newton), a small ReLU MLP (full-batch
   Adam), LightGBM. All deterministic for a seed. Standardisation is fitted on the training rows only.
5. **Model file** (:func:`train`, :func:`write_model`): the final model is refitted on all samples, and the
   file records the training window, the options and the out-of-sample metrics.

Everything reads only events with ``exch_ts <= end`` where end is the training window's end: the events
after it are never looked at (except that the data goes on past it), so perturbing them changes nothing
(tests/test_train.py proves it byte for byte).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from mmsim.errors import ConfigError, DataError

__all__ = [
    "MODEL_TYPES", "TARGETS", "DEFAULT_EVERY_NS", "Samples", "exchange_mid", "mid_at", "sample_rows",
    "build_samples", "make_target", "Fold", "walk_forward", "auc", "metrics", "fit", "predict", "train",
    "TrainResult", "write_model", "model_paths", "format_report", "format_horizon_table",
]

#: model type -> targets it can learn (the first is the default).
MODEL_TYPES: dict[str, tuple[str, ...]] = {
    "linear": ("move",),
    "logistic": ("up",),
    "multinomial": ("direction",),
    "gbdt": ("move", "up", "direction"),
    "mlp": ("move", "direction"),
}
TARGETS = ("move", "up", "direction")
OUTPUTS = {"move": ["move"], "up": ["p_up"], "direction": ["p_down", "p_flat", "p_up"]}
DEFAULT_EVERY_NS = 100_000_000
#: |move| below this many ticks is "flat" (moves of a two-sided mid come in half ticks).
FLAT_TICKS = 0.5
#: fewest samples per walk-forward block, and fewest training samples of a fold after the purge.
MIN_BLOCK = 20
MIN_TRAIN = 20

_DEFAULTS = {"alpha": 1e-3, "hidden": (64, 32), "steps": 300, "learning_rate": 0.01, "rounds": 200,
             "leaves": 15, "gbdt_learning_rate": 0.05, "min_data_in_leaf": 50}


# ------------------------------------------------------------------------------------------ samples
def exchange_mid(events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exch_ts, mid) after every event, mid in ticks from the exchange-side top of book
    (``mmsim.signals.cks.level1``). Where the book is one-sided the last two-sided mid is held; NaN before the
    first two-sided book."""
    from mmsim.signals.cks import level1

    book = level1(events)
    ts = book["ts"].to_numpy(np.int64)
    two = (book["bid_qty"].to_numpy() > 0) & (book["ask_qty"].to_numpy() > 0)
    raw = np.where(two, (book["bid"].to_numpy(np.float64) + book["ask"].to_numpy(np.float64)) / 2.0, np.nan)
    # hold the last defined value (forward fill)
    idx = np.where(two, np.arange(len(raw)), -1)
    np.maximum.accumulate(idx, out=idx)
    mid = np.where(idx >= 0, raw[np.maximum(idx, 0)], np.nan)
    return ts, mid


def mid_at(ts: np.ndarray, mid: np.ndarray, t: np.ndarray) -> np.ndarray:
    """m(t): the mid after the last event with ``exch_ts <= t`` (NaN before the first event)."""
    j = np.searchsorted(ts, np.asarray(t, np.int64), side="right") - 1
    return np.where(j >= 0, mid[np.maximum(j, 0)], np.nan)


def sample_rows(arrival: np.ndarray, every_ns: int) -> np.ndarray:
    """Rows at which the strategy is sampled: for each multiple g of ``every_ns`` (epoch-aligned) from the
    first arrival to the last, the first arrival >= g, and of the rows delivered then, the last. Sorted,
    unique. A quiet spell longer than ``every_ns`` gives one sample, at the first arrival after it."""
    a = np.asarray(arrival, np.int64)
    if len(a) == 0:
        return np.zeros(0, np.int64)
    every = int(every_ns)
    g0 = (int(a[0]) // every) * every
    grid = np.arange(g0, int(a[-1]) + 1, every, dtype=np.int64)
    first = np.searchsorted(a, grid, side="left")
    first = first[first < len(a)]
    last = np.searchsorted(a, a[first], side="right") - 1
    return np.unique(last).astype(np.int64)


@dataclass
class Samples:
    """The in-sample data of one horizon: sample ``rows`` (event row), ``arrival`` a_i, feature matrix ``X``
    (raw bank values, columns = ``columns``), ``move`` in ticks, and the counts of dropped samples."""

    rows: np.ndarray
    arrival: np.ndarray
    X: np.ndarray
    move: np.ndarray
    columns: list[str]
    horizon_ns: int
    limit_ts: int                 # no label window ends after this (min(end_ts, data end))
    n_dropped_end: int = 0        # label window past the data's end / the window's end
    n_dropped_no_mid: int = 0     # no two-sided book yet at a_i
    n_before_start: int = 0       # arrival before start_ts

    def __len__(self) -> int:
        return int(len(self.rows))

    @property
    def start_ts(self) -> int:
        return int(self.arrival[0]) if len(self) else 0

    @property
    def end_ts(self) -> int:
        """End of the training window: the last label window's end."""
        return int(self.arrival[-1]) + self.horizon_ns if len(self) else 0


@dataclass
class _Base:
    """What every horizon shares: the events read (up to ``limit_ts``), their arrivals, the bank's values
    at the sampled rows, and the exchange-side mid."""

    rows: np.ndarray
    arrival: np.ndarray
    X: np.ndarray
    columns: list[str]
    ts: np.ndarray
    mid: np.ndarray
    limit_ts: int
    n_before_start: int


def _base(events: np.ndarray, specs: Any, *, every_ns: int, feed_latency: Any, seed: int, crossed_policy: str,
          start_ts: Optional[int], end_ts: Optional[int], source_name: str, signals: Optional[dict] = None,
          tick_size: float = 1.0) -> _Base:
    from mmsim.signals.features import venue_columns

    cols = venue_columns(specs)
    if all(v is None for v, _ in cols):
        return _base_quoted(events, specs, every_ns=every_ns, feed_latency=feed_latency, seed=seed,
                            crossed_policy=crossed_policy, start_ts=start_ts, end_ts=end_ts, source_name=source_name)
    return _base_venues(events, cols, every_ns=every_ns, feed_latency=feed_latency, seed=seed,
                        crossed_policy=crossed_policy, start_ts=start_ts, end_ts=end_ts, source_name=source_name,
                        signals=signals or {}, tick_size=tick_size)


def _base_venues(events: np.ndarray, cols: list, *, every_ns: int, feed_latency: Any, seed: int,
                 crossed_policy: str, start_ts: Optional[int], end_ts: Optional[int], source_name: str,
                 signals: dict, tick_size: float = 1.0) -> _Base:
    """Samples at the quoted venue's arrivals with features of several venues (docs/venues.md): the quoted
    bank as in the single-venue case, each signal venue's bank at the sample times as a wakeup then reads it
    (its rows through its own feed clock, ``mmsim.data.latency.signal_feed_stream``)."""
    from mmsim.data import latency as L
    from mmsim.data.validate import validate_events
    from mmsim.signals.batch import features_at
    from mmsim.signals.features import venue_column_name

    quoted = [c for v, c in cols if v is None]
    if quoted:
        base = _base_quoted(events, quoted, every_ns=every_ns, feed_latency=feed_latency, seed=seed,
                            crossed_policy=crossed_policy, start_ts=start_ts, end_ts=end_ts, source_name=source_name)
    else:  # only other venues' features: the quoted venue gives the sample times and the target
        if not isinstance(every_ns, (int, np.integer)) or isinstance(every_ns, bool) or every_ns <= 0:
            raise ConfigError(f"every {every_ns!r}: the sampling interval must be > 0 ns")
        ev, _ = validate_events(events, source_name)
        if len(ev) == 0:
            raise DataError(f"{source_name}: no events")
        data_end = int(ev["exch_ts"][-1])
        limit = data_end if end_ts is None else min(int(end_ts), data_end)
        ev = ev[:int(np.searchsorted(ev["exch_ts"], limit, side="right"))]
        arrival = L.feed_arrival(feed_latency, ev, L.seeded_streams(seed)["feed"], source=source_name)
        rows = sample_rows(arrival, int(every_ns))
        n_before = 0
        if start_ts is not None:
            keep = arrival[rows] >= int(start_ts)
            n_before, rows = int((~keep).sum()), rows[keep]
        ts, mid = exchange_mid(ev)
        base = _Base(rows, arrival[rows], np.zeros((len(rows), 0)), [], ts, mid, limit, n_before)
    from mmsim.signals.features import CROSS_VENUE

    blocks = {None: (base.X, list(base.columns))}
    quoted_mid = None
    for venue in dict.fromkeys(v for v, _ in cols if v is not None):
        if venue not in signals:
            known = ", ".join(signals) or "none: add a [signals.NAME] table to the scenario"
            raise ConfigError(f"feature spec '{venue}/...': no signal venue {venue!r} (signal venues: {known})")
        sig = signals[venue]
        vspecs = [c for v, c in cols if v == venue and c not in CROSS_VENUE]
        basis = (venue, "basis") in cols
        extra = ["mid"] if basis and "mid" not in vspecs else []  # the venue's mid, for its basis
        X = features_at(sig["events"], vspecs + extra, base.arrival,
                        feed_latency=sig.get("feed_latency", 0), rng=L.signal_feed_stream(seed, venue),
                        crossed_policy=crossed_policy, source_name=f"signal '{venue}'")
        if basis:  # the venue's mid minus the quoted venue's, in quoted ticks, from both delayed books
            inst = sig.get("instrument")
            tick_v = float(getattr(inst, "tick_size", 1.0)) if inst is not None else 1.0
            if quoted_mid is None:
                quoted_mid = features_at(events, ["mid"], base.arrival, feed_latency=feed_latency,
                                         rng=L.seeded_streams(seed)["feed"], crossed_policy=crossed_policy,
                                         source_name=source_name)[:, 0]
            v_mid = X[:, (vspecs + extra).index("mid")]
            X = np.column_stack([X[:, :len(vspecs)], (v_mid * tick_v - quoted_mid * float(tick_size)) / float(tick_size)])
            vspecs = vspecs + ["basis"]
        blocks[venue] = (X, vspecs)
    index = {(v, c): (v, blocks[v][1].index(c)) for v, c in cols}
    X = np.column_stack([blocks[v][0][:, j] for v, j in (index[vc] for vc in cols)]) if cols else base.X
    names = [venue_column_name(v, c) for v, c in cols]
    if np.isinf(X).any():
        r, c = np.argwhere(np.isinf(X))[0]
        raise DataError(f"{source_name}: feature {names[c]} is infinite at sample {int(r)}")
    return _Base(base.rows, base.arrival, X, names, base.ts, base.mid, base.limit_ts, base.n_before_start)


def _base_quoted(events: np.ndarray, specs: Any, *, every_ns: int, feed_latency: Any, seed: int,
                 crossed_policy: str, start_ts: Optional[int], end_ts: Optional[int], source_name: str) -> _Base:
    from mmsim.signals.batch import features_frame
    from mmsim.signals.features import column_names, parse_specs

    if not isinstance(every_ns, (int, np.integer)) or isinstance(every_ns, bool) or every_ns <= 0:
        raise ConfigError(f"every {every_ns!r}: the sampling interval must be > 0 ns")
    sp = parse_specs(specs)
    if len(events) == 0:
        raise DataError(f"{source_name}: no events")
    data_end = int(events["exch_ts"][-1])
    limit = data_end if end_ts is None else min(int(end_ts), data_end)
    # Only the events a label may reach are read: exch_ts <= limit. The features of a sample row (arrival
    # <= limit) depend only on rows up to it, and the feed latency draws of a prefix do not depend on the
    # rows after it (mmsim.data.latency.FeedClock), so this is the same as reading everything and ignoring the
    # rest -- but data after the window is never even validated.
    n = int(np.searchsorted(events["exch_ts"], limit, side="right"))
    if n == 0:
        from mmsim.data.times import iso

        raise ConfigError(f"{source_name}: no events before the end of the training window ({limit} ns, "
                          f"{iso(limit)}): the data starts at {iso(int(events['exch_ts'][0]))} (--end-ts before "
                          "the scenario's from_ts?)")
    ev = events[:n]
    frame = features_frame(ev, sp, feed_latency=feed_latency, seed=seed, crossed_policy=crossed_policy,
                           source_name=source_name)
    arrival = frame["arrival_ts"].to_numpy(np.int64)
    rows = sample_rows(arrival, int(every_ns))
    n_before = 0
    if start_ts is not None:
        keep = arrival[rows] >= int(start_ts)
        n_before = int((~keep).sum())
        rows = rows[keep]
    cols = column_names(sp)
    X = frame[cols].to_numpy(np.float64)[rows]
    if np.isinf(X).any():
        r, c = np.argwhere(np.isinf(X))[0]
        raise DataError(f"{source_name}: feature {cols[c]} is infinite at row {int(rows[r])}")
    ts, mid = exchange_mid(ev)
    return _Base(rows, arrival[rows], X, cols, ts, mid, limit, n_before)


def _samples(base: _Base, horizon_ns: int) -> Samples:
    a = base.arrival
    inside = a + horizon_ns <= base.limit_ts
    m0 = mid_at(base.ts, base.mid, a)
    m1 = mid_at(base.ts, base.mid, a + horizon_ns)
    has_mid = np.isfinite(m0) & np.isfinite(m1)
    keep = inside & has_mid
    return Samples(rows=base.rows[keep], arrival=a[keep], X=base.X[keep], move=(m1 - m0)[keep],
                   columns=list(base.columns), horizon_ns=int(horizon_ns), limit_ts=int(base.limit_ts),
                   n_dropped_end=int((~inside).sum()), n_dropped_no_mid=int((inside & ~has_mid).sum()),
                   n_before_start=base.n_before_start)


def build_samples(events: np.ndarray, specs: Any, horizon_ns: int, *, every_ns: int = DEFAULT_EVERY_NS,
                  feed_latency: Any = 0, seed: int = 0, crossed_policy: str = "error",
                  start_ts: Optional[int] = None, end_ts: Optional[int] = None,
                  source_name: str = "events") -> Samples:
    """The samples of one horizon (see the module docs). ``start_ts``: first arrival to sample;
    ``end_ts``: no label window ends after it (default: the data's last ``exch_ts``)."""
    _check_horizon(horizon_ns)
    base = _base(events, specs, every_ns=every_ns, feed_latency=feed_latency, seed=seed,
                 crossed_policy=crossed_policy, start_ts=start_ts, end_ts=end_ts, source_name=source_name)
    return _samples(base, int(horizon_ns))


def make_target(move: np.ndarray, target: str) -> np.ndarray:
    """``move`` (float ticks), ``up`` (0/1) or ``direction`` (0 down, 1 flat, 2 up; flat = |move| < 0.5)."""
    move = np.asarray(move, np.float64)
    if target == "move":
        return move
    if target == "up":
        return (move > 0).astype(np.float64)
    if target == "direction":
        return np.where(np.abs(move) < FLAT_TICKS, 1, np.where(move > 0, 2, 0)).astype(np.int64)
    raise ConfigError(f"target '{target}': unknown (targets: {', '.join(TARGETS)})")


def _check_horizon(h: Any) -> None:
    if not isinstance(h, (int, np.integer)) or isinstance(h, bool) or h <= 0:
        raise ConfigError(f"horizon {h!r}: must be > 0 ns")


# ------------------------------------------------------------------------------------- walk-forward
@dataclass
class Fold:
    """One out-of-sample test: ``train`` and ``test`` sample indices; the test period [test_start_ts,
    test_end_ts] runs from the fold's first arrival to its last label window's end."""

    k: int
    train: np.ndarray
    test: np.ndarray
    test_start_ts: int
    test_end_ts: int
    n_purged: int = 0
    n_embargoed: int = 0


def walk_forward(arrival: np.ndarray, horizon_ns: int, folds: int = 5, scheme: str = "expanding",
                 embargo_ns: Optional[int] = None) -> list[Fold]:
    """Time-ordered folds over samples with arrivals ``arrival`` (non-decreasing).

    ``expanding``: K + 1 equal blocks; fold k = 1..K tests on block k and trains on the samples before it
    whose label window ends before the block starts (a_j + H < test_start: the purge). Only the past.

    ``purged``: K blocks; fold k = 1..K tests on the k-th block and trains on all other samples except those
    whose label window [a_j, a_j + H] overlaps the test period [test_start, test_end] (purge) and those with
    test_end < a_j <= test_end + embargo (embargo, default H): samples just after a test fold share its
    history through their features.
    """
    a = np.asarray(arrival, np.int64)
    n = len(a)
    H = int(horizon_ns)
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 1:
        raise ConfigError(f"folds {folds!r}: must be an integer >= 1")
    if scheme not in ("expanding", "purged"):
        raise ConfigError(f"scheme '{scheme}': unknown (expanding or purged)")
    if scheme == "purged" and folds < 2:
        raise ConfigError("folds: the purged scheme needs at least 2 folds")
    emb = H if embargo_ns is None else int(embargo_ns)
    if emb < 0:
        raise ConfigError(f"embargo {embargo_ns!r}: must be >= 0")
    n_blocks = folds + 1 if scheme == "expanding" else folds
    if n < MIN_BLOCK * n_blocks:
        raise ConfigError(f"too few samples: {n} usable samples for {folds} folds ({scheme}: {n_blocks} blocks of "
                          f"at least {MIN_BLOCK}); use more data, a smaller --every, a shorter --horizon or "
                          f"fewer --folds")
    blocks = np.array_split(np.arange(n), n_blocks)
    out = []
    for k, test in enumerate(blocks):
        if scheme == "expanding" and k == 0:
            continue
        t0, t1 = int(a[test[0]]), int(a[test[-1]]) + H
        idx = np.arange(n)
        other = (idx < test[0]) | (idx > test[-1])
        if scheme == "expanding":
            before = idx < test[0]
            ok = before & (a + H < t0)
            n_purged = int((before & ~ok).sum())
            n_emb = 0
        else:
            overlap = (a <= t1) & (a + H >= t0)
            embargo = (a > t1) & (a <= t1 + emb)
            ok = other & ~overlap & ~embargo
            n_purged = int((other & overlap).sum())
            n_emb = int((other & ~overlap & embargo).sum())
        train = np.flatnonzero(ok)
        number = k if scheme == "expanding" else k + 1
        if len(train) < MIN_TRAIN:
            raise ConfigError(f"fold {number}: only {len(train)} training samples after the purge (need {MIN_TRAIN}); "
                              f"use more data, fewer --folds or a shorter --horizon")
        out.append(Fold(number, train, test.astype(np.int64), t0, t1, n_purged, n_emb))
    return out


# ------------------------------------------------------------------------------------------ metrics
def auc(labels: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for ``labels`` (bool): the Mann–Whitney statistic from
    average ranks (a tie between a positive and a negative counts one half). NaN if a class is empty."""
    y = np.asarray(labels, bool)
    s = np.asarray(score, np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    ranks = np.empty(len(s), np.float64)
    # average rank of each run of equal scores (ranks 1..n)
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    ends = np.r_[starts[1:], len(ss)]
    avg = (starts + 1 + ends) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot


def metrics(move: np.ndarray, out: np.ndarray, target: str, prior_up: Any = 0.5) -> dict[str, Any]:
    """Out-of-sample figures of model outputs ``out`` (n, n_outputs) against realised ``move``:

    - ``hit_rate``: on samples whose move is not zero, the share where the predicted direction has the
      move's sign. Predicted direction: sign of the predicted move (``move``), of p_up − p_down
      (``direction``), of p_up − ``prior_up`` (``up``: the training up rate; a number or one per sample).
      A zero prediction is a miss.
    - ``auc``: AUC of the score (predicted move, or p_up) for up (move > 0) against not up.
    - ``r2``: 1 − SSE/SST of the predicted move, SST about the test mean (``move`` models only, else None).
    - ``logloss``: mean negative log-likelihood of the realised class (``up``/``direction`` models).
    """
    move = np.asarray(move, np.float64)
    out = np.asarray(out, np.float64).reshape(len(move), -1)
    up = move > 0
    if target == "move":
        score, direction = out[:, 0], out[:, 0]
    elif target == "up":
        score, direction = out[:, 0], out[:, 0] - np.asarray(prior_up, np.float64)
    else:
        score, direction = out[:, 2], out[:, 2] - out[:, 0]
    nz = move != 0
    res: dict[str, Any] = {"n": int(len(move)), "n_nonzero": int(nz.sum()),
                           "up_rate": float(up.mean()) if len(move) else math.nan}
    res["hit_rate"] = float(np.mean(np.sign(direction[nz]) == np.sign(move[nz]))) if nz.any() else math.nan
    res["auc"] = auc(up, score)
    res["r2"] = _r2(move, out[:, 0]) if target == "move" else None
    if target == "up":
        p = np.clip(out[:, 0], 1e-15, 1 - 1e-15)
        res["logloss"] = float(-np.mean(np.where(up, np.log(p), np.log1p(-p)))) if len(move) else math.nan
    elif target == "direction":
        cls = make_target(move, "direction")
        p = np.clip(out[np.arange(len(move)), cls], 1e-15, 1.0)
        res["logloss"] = float(-np.mean(np.log(p))) if len(move) else math.nan
    return res


# -------------------------------------------------------------------------------------------- fitting
def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training mean and scale (population std) of each column, ignoring NaN. A column that is all NaN
    gets mean 0; a constant (or all-NaN) column gets scale 1."""
    ok = ~np.isnan(X)
    cnt = ok.sum(axis=0)
    Z = np.where(ok, X, 0.0)
    mean = np.where(cnt > 0, Z.sum(axis=0) / np.maximum(cnt, 1), 0.0)
    var = np.where(cnt > 0, (np.where(ok, X - mean, 0.0) ** 2).sum(axis=0) / np.maximum(cnt, 1), 0.0)
    scale = np.sqrt(var)
    scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    return mean, scale


def _apply(X: np.ndarray, mean: Sequence[float], scale: Sequence[float]) -> np.ndarray:
    """x' = (x − mean) / scale, NaN -> 0 (docs/models.md: what inference does)."""
    Z = (np.asarray(X, np.float64) - np.asarray(mean, np.float64)) / np.asarray(scale, np.float64)
    return np.where(np.isnan(Z), 0.0, Z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """min (1/2n)·Σ(y − Xw − b)² + (α/2)·|w|²; X standardised. Closed form."""
    n, p = X.shape
    xm = X.mean(axis=0)
    ym = float(y.mean())
    Xc = X - xm
    A = Xc.T @ Xc / n + alpha * np.eye(p)
    w = np.linalg.solve(A, Xc.T @ (y - ym) / n)
    return w, ym - float(xm @ w)


def _newton_softmax(X: np.ndarray, y: np.ndarray, n_class: int, alpha: float, max_iter: int = 100
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial (n_class >= 3) or binary (n_class == 2, one score = logit of class 1) logistic
    regression by Newton's method with step halving: min mean NLL + (α/2)·|W|² (+ 1e-8/2·|b|² so that a
    class absent from the data still gives finite weights). Returns W (K, p), b (K) with K = 1 for binary."""
    n, p = X.shape
    K = 1 if n_class == 2 else n_class
    Z = np.column_stack([X, np.ones(n)])
    d = p + 1
    pen = np.r_[np.full(p, alpha), 1e-8]
    if K == 1:
        Y = y.reshape(n, 1).astype(np.float64)
    else:
        Y = np.zeros((n, K))
        Y[np.arange(n), y.astype(np.int64)] = 1.0
    theta = np.zeros((K, d))

    def loss(th: np.ndarray) -> float:
        S = Z @ th.T
        if K == 1:
            s = S[:, 0]
            nll = np.mean(np.logaddexp(0.0, s) - Y[:, 0] * s)
        else:
            m = S.max(axis=1, keepdims=True)
            lse = (m[:, 0] + np.log(np.exp(S - m).sum(axis=1)))
            nll = np.mean(lse - (S * Y).sum(axis=1))
        return float(nll + 0.5 * np.sum(pen * th ** 2))

    cur = loss(theta)
    for _ in range(max_iter):
        S = Z @ theta.T
        P = _sigmoid(S) if K == 1 else _softmax(S)
        G = (P - Y).T @ Z / n + pen * theta                       # (K, d)
        Hs = np.zeros((K * d, K * d))
        for k in range(K):
            for m in range(k, K):
                if K == 1:
                    wts = P[:, 0] * (1 - P[:, 0])
                else:
                    wts = P[:, k] * ((1.0 if k == m else 0.0) - P[:, m])
                B = (Z * wts[:, None]).T @ Z / n
                Hs[k * d:(k + 1) * d, m * d:(m + 1) * d] = B
                if m != k:
                    Hs[m * d:(m + 1) * d, k * d:(k + 1) * d] = B.T
        Hs += np.diag(np.tile(pen, K))
        if K > 1:
            Hs += 1e-10 * np.eye(K * d)  # the softmax is invariant to a common shift of all classes
        step = np.linalg.solve(Hs, G.reshape(-1)).reshape(K, d)
        if np.max(np.abs(G)) < 1e-10:
            break
        t = 1.0
        while t >= 1e-6:  # step halving until the penalised loss does not increase
            cand = theta - t * step
            new = loss(cand)
            if new <= cur:
                break
            t *= 0.5
        else:
            break  # no descent along the Newton direction: at the optimum up to rounding
        theta, prev, cur = cand, cur, new
        if prev - cur <= 1e-15 * max(1.0, abs(cur)):
            break
    if K > 1:  # pick the representative with classes summing to zero (the L2 optimum already has it for W)
        theta = theta - theta.mean(axis=0, keepdims=True)
    return theta[:, :p], theta[:, p]


def _mlp(X: np.ndarray, y: np.ndarray, *, softmax: bool, hidden: Sequence[int], steps: int, lr: float,
         alpha: float, seed: int) -> list[dict[str, list]]:
    """ReLU network trained by full-batch Adam from a seeded He initialisation. Regression: squared error
    on the standardised move, the output layer then rescaled to ticks. Classification: 3-way softmax
    cross-entropy. L2 (α) on the weights. Returns the layers as in docs/models.md."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6D6C70]))
    n, p = X.shape
    sizes = [p, *[int(h) for h in hidden], 3 if softmax else 1]
    Ws = [rng.standard_normal((sizes[i + 1], sizes[i])) * math.sqrt(2.0 / max(sizes[i], 1))
          for i in range(len(sizes) - 1)]
    bs = [np.zeros(sizes[i + 1]) for i in range(len(sizes) - 1)]
    if softmax:
        T = np.zeros((n, 3))
        T[np.arange(n), y.astype(np.int64)] = 1.0
        ym, ys = 0.0, 1.0
    else:
        ym = float(y.mean())
        ys = float(y.std()) or 1.0
        T = ((y - ym) / ys).reshape(n, 1)
    params = [*Ws, *bs]
    m1 = [np.zeros_like(q) for q in params]
    m2 = [np.zeros_like(q) for q in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    L = len(Ws)
    for step in range(1, int(steps) + 1):
        acts = [X]
        pre = []
        h = X
        for i in range(L):
            z = h @ Ws[i].T + bs[i]
            pre.append(z)
            h = np.maximum(z, 0.0) if i < L - 1 else z
            acts.append(h)
        out = acts[-1]
        delta = (_softmax(out) - T) / n if softmax else (out - T) / n   # d(mean loss)/d(out); MSE with 1/2
        gW: list[np.ndarray] = [np.zeros(0)] * L
        gb: list[np.ndarray] = [np.zeros(0)] * L
        for i in range(L - 1, -1, -1):
            gW[i] = delta.T @ acts[i] + alpha * Ws[i]
            gb[i] = delta.sum(axis=0)
            if i > 0:
                delta = (delta @ Ws[i]) * (pre[i - 1] > 0)
        grads = [*gW, *gb]
        for j, (q, g) in enumerate(zip(params, grads)):
            m1[j] = b1 * m1[j] + (1 - b1) * g
            m2[j] = b2 * m2[j] + (1 - b2) * g * g
            mhat = m1[j] / (1 - b1 ** step)
            vhat = m2[j] / (1 - b2 ** step)
            q -= lr * mhat / (np.sqrt(vhat) + eps)   # in place: Ws/bs hold the same arrays
    Ws[-1] = Ws[-1] * ys
    bs[-1] = bs[-1] * ys + ym
    return [{"weights": W.tolist(), "bias": b.tolist()} for W, b in zip(Ws, bs)]


def _lightgbm():
    try:
        import lightgbm
    except ImportError:
        raise ConfigError('--model gbdt needs LightGBM: pip install "mmsim[models]"') from None
    return lightgbm


def _gbdt(X: np.ndarray, y: np.ndarray, target: str, *, rounds: int, leaves: int, lr: float,
          min_data_in_leaf: int, seed: int) -> dict[str, Any]:
    lgb = _lightgbm()
    objective = {"move": "regression", "up": "binary", "direction": "multiclass"}[target]
    params: dict[str, Any] = {
        "objective": objective, "learning_rate": float(lr), "num_leaves": int(leaves),
        "min_data_in_leaf": int(min_data_in_leaf), "deterministic": True, "num_threads": 1, "seed": int(seed),
        "force_col_wise": True, "verbosity": -1, "feature_pre_filter": False,
    }
    if objective == "multiclass":
        params["num_class"] = 3
    names = [f"f{i}" for i in range(X.shape[1])]
    ds = lgb.Dataset(X, label=y, feature_name=names, params={"verbosity": -1}, free_raw_data=True)
    booster = lgb.train(params, ds, num_boost_round=int(rounds))
    return {"lightgbm": booster.model_to_string(), "objective": objective}


def fit(model_type: str, target: str, X: np.ndarray, y: np.ndarray, *, seed: int = 0,
        options: Optional[dict] = None) -> tuple[dict, dict]:
    """Fit ``model_type`` to raw features ``X`` and target values ``y`` (from :func:`make_target`).
    Returns (preprocess, params) of docs/models.md; the standardisation comes from these rows only."""
    o = {**_DEFAULTS, **(options or {})}
    X = np.asarray(X, np.float64)
    mean, scale = _standardise(X)
    Z = _apply(X, mean, scale)
    alpha = float(o["alpha"])
    if model_type == "linear":
        w, b = _ridge(Z, y, alpha)
        params: dict[str, Any] = {"weights": w.tolist(), "bias": float(b)}
    elif model_type == "logistic":
        W, b = _newton_softmax(Z, y, 2, alpha)
        params = {"weights": W[0].tolist(), "bias": float(b[0])}
    elif model_type == "multinomial":
        W, b = _newton_softmax(Z, y, 3, alpha)
        params = {"weights": W.tolist(), "bias": b.tolist()}
    elif model_type == "mlp":
        layers = _mlp(Z, y, softmax=target == "direction", hidden=o["hidden"], steps=int(o["steps"]),
                      lr=float(o["learning_rate"]), alpha=alpha, seed=seed)
        params = {"layers": layers, "softmax": target == "direction"}
    elif model_type == "gbdt":
        params = _gbdt(Z, y, target, rounds=o["rounds"], leaves=o["leaves"], lr=o["gbdt_learning_rate"],
                       min_data_in_leaf=o["min_data_in_leaf"], seed=seed)
    else:
        raise ConfigError(f"model '{model_type}': unknown (types: {', '.join(MODEL_TYPES)})")
    return {"mean": mean.tolist(), "scale": scale.tolist()}, params


def predict(model: dict, X: np.ndarray) -> np.ndarray:
    """Outputs (n, len(model['outputs'])) of a model dict for raw features X: the Python reference of what
    the C++ inference computes (standardise, NaN -> 0, then the type's formula)."""
    X = np.asarray(X, np.float64)
    pre = model.get("preprocess")
    Z = _apply(X, pre["mean"], pre["scale"]) if pre else np.where(np.isnan(X), 0.0, X)
    t, p = model["type"], model["params"]
    if t in ("linear", "logistic"):
        s = Z @ np.asarray(p["weights"], np.float64) + float(p["bias"])
        return (s if t == "linear" else _sigmoid(s)).reshape(-1, 1)
    if t == "multinomial":
        return _softmax(Z @ np.asarray(p["weights"], np.float64).T + np.asarray(p["bias"], np.float64))
    if t == "mlp":
        h = Z
        layers = p["layers"]
        for i, layer in enumerate(layers):
            h = h @ np.asarray(layer["weights"], np.float64).T + np.asarray(layer["bias"], np.float64)
            if i < len(layers) - 1:
                h = np.maximum(h, 0.0)
        return _softmax(h) if p.get("softmax") else h
    if t == "gbdt":
        lgb = _lightgbm()
        booster = lgb.Booster(model_str=p["lightgbm"])
        out = np.asarray(booster.predict(Z, num_threads=1), np.float64)
        return out.reshape(len(Z), -1)
    raise ConfigError(f"model type '{t}': unknown")


# ---------------------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """One horizon: the model dict (as written), its samples (the in-sample features ``samples.X``), the
    folds, per-fold and pooled out-of-sample metrics."""

    model: dict
    samples: Samples
    folds: list[Fold]
    fold_metrics: list[dict]
    pooled: dict
    in_sample: dict


def _clean(v: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _model_dict(model_type: str, target: str, specs: list, horizon_ns: int, preprocess: dict, params: dict,
                training: dict) -> dict:
    from mmsim.signals.features import spec_hash

    return {
        "format": "mmsim-model",
        "version": 1,
        "type": model_type,
        "features": {"specs": list(specs), "hash": spec_hash(list(specs))},
        "horizon_ns": int(horizon_ns),
        "target": target,
        "outputs": list(OUTPUTS[target]),
        "training": training,
        "preprocess": preprocess,
        "params": params,
    }


def _resolve_target(model_type: str, target: Optional[str]) -> str:
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"model '{model_type}': unknown (types: {', '.join(MODEL_TYPES)})")
    allowed = MODEL_TYPES[model_type]
    if target is None:
        return allowed[0]
    if target not in TARGETS:
        raise ConfigError(f"target '{target}': unknown (targets: {', '.join(TARGETS)})")
    if target not in allowed:
        raise ConfigError(f"target '{target}': model {model_type} learns {' or '.join(allowed)}")
    return target


def train(events: np.ndarray, specs: Any, model_type: str, horizons: Sequence[int] | int, *,
          target: Optional[str] = None, every_ns: int = DEFAULT_EVERY_NS, folds: int = 5,
          scheme: str = "expanding", embargo_ns: Optional[int] = None, feed_latency: Any = 0, seed: int = 0,
          crossed_policy: str = "error", start_ts: Optional[int] = None, end_ts: Optional[int] = None,
          scenario: str = "", source_name: str = "events", options: Optional[dict] = None,
          progress: Optional[Callable[[str], None]] = None, signals: Optional[dict] = None,
          tick_size: float = 1.0) -> list[TrainResult]:
    """Walk-forward evaluation and a final fit, for each horizon (ns). Returns one TrainResult each, in
    the order given. The features are computed once, at the sampled rows, over events up to
    ``min(end_ts, data end)``."""
    from mmsim.signals.features import column_names, parse_specs

    target = _resolve_target(model_type, target)
    if isinstance(horizons, (int, np.integer)):
        horizons = [int(horizons)]
    if not horizons:
        raise ConfigError("horizon: give at least one")
    for h in horizons:
        _check_horizon(h)
    if len(set(horizons)) != len(horizons):
        raise ConfigError("horizon: a horizon is given twice")
    if model_type == "gbdt":
        _lightgbm()
    opts = {**_DEFAULTS, **(options or {})}
    unknown = set(opts) - set(_DEFAULTS)
    if unknown:
        raise ConfigError(f"training option {sorted(unknown)[0]!r}: unknown (options: {', '.join(_DEFAULTS)})")
    from mmsim.signals.features import venue_columns

    multi = any(v is not None for v, _ in venue_columns(specs))
    sp = specs if multi else parse_specs(specs)  # "venue/spec" columns: features of signal venues too
    base = _base(events, sp, every_ns=every_ns, feed_latency=feed_latency, seed=seed,
                 crossed_policy=crossed_policy, start_ts=start_ts, end_ts=end_ts, source_name=source_name,
                 signals=signals, tick_size=tick_size)
    spec_texts = list(base.columns) if multi else column_names(sp)
    results = []
    for H in horizons:
        s = _samples(base, int(H))
        fl = walk_forward(s.arrival, int(H), folds, scheme, embargo_ns)
        y_all = make_target(s.move, target)
        fold_rows, oos_move, oos_out, oos_prior = [], [], [], []
        for f in fl:
            pre, params = fit(model_type, target, s.X[f.train], y_all[f.train], seed=seed, options=opts)
            m = _model_dict(model_type, target, spec_texts, H, pre, params, {})
            out = predict(m, s.X[f.test])
            prior = float((s.move[f.train] > 0).mean())
            fm = metrics(s.move[f.test], out, target, prior)
            fm.update(fold=f.k, train_n=int(len(f.train)), test_start_ts=f.test_start_ts,
                      test_end_ts=f.test_end_ts, n_purged=f.n_purged, n_embargoed=f.n_embargoed)
            fold_rows.append(fm)
            oos_move.append(s.move[f.test])
            oos_out.append(out)
            oos_prior.append(np.full(len(f.test), prior))
            if progress:
                progress(f"horizon {_fmt_ns(H)} fold {f.k}: hit {fm['hit_rate']:.3f} auc {fm['auc']:.3f}")
        # pooled: every out-of-sample prediction together (each `up` fold against its own training up rate)
        pooled = metrics(np.concatenate(oos_move), np.concatenate(oos_out), target, np.concatenate(oos_prior))
        y = y_all
        pre, params = fit(model_type, target, s.X, y, seed=seed, options=opts)
        tmp = _model_dict(model_type, target, spec_texts, H, pre, params, {})
        ins = metrics(s.move, predict(tmp, s.X), target, float((s.move > 0).mean()))
        emb = int(H) if embargo_ns is None else int(embargo_ns)
        training = _clean({
            "scenario": scenario, "seed": int(seed), "start_ts": s.start_ts, "end_ts": s.end_ts,
            "n_rows": len(s),
            "metrics": {"out_of_sample": pooled, "folds": fold_rows, "in_sample": ins,
                        "verdict": model_verdict({"out_of_sample": pooled, "folds": fold_rows})},
            "options": {
                "every_ns": int(every_ns), "folds": int(folds), "scheme": scheme,
                "embargo_ns": emb if scheme == "purged" else 0, "purge": "label window [a, a + H]",
                "feed_latency": str(feed_latency), "window_start_ts": None if start_ts is None else int(start_ts),
                "window_end_ts": int(s.limit_ts), "n_dropped_end": s.n_dropped_end,
                "n_dropped_no_mid": s.n_dropped_no_mid, "n_before_start": s.n_before_start,
                **_model_options(model_type, opts),
            },
        })
        model = _model_dict(model_type, target, spec_texts, H, pre, params, training)
        _check_finite(model)
        results.append(TrainResult(model, s, fl, fold_rows, pooled, ins))
    return results


def _model_options(model_type: str, o: dict) -> dict:
    if model_type in ("linear", "logistic", "multinomial"):
        return {"alpha": float(o["alpha"])}
    if model_type == "mlp":
        return {"alpha": float(o["alpha"]), "hidden": [int(h) for h in o["hidden"]], "steps": int(o["steps"]),
                "learning_rate": float(o["learning_rate"]), "optimizer": "adam (full batch)"}
    return {"rounds": int(o["rounds"]), "leaves": int(o["leaves"]), "learning_rate": float(o["gbdt_learning_rate"]),
            "min_data_in_leaf": int(o["min_data_in_leaf"])}


def _check_finite(model: dict) -> None:
    def walk(v: Any, key: str) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{key}.{k}")
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, float) and not math.isfinite(v):
            raise DataError(f"training gave a non-finite value in {key} (features too collinear or "
                            f"too little data?)")

    walk(model["params"], "params")
    walk(model["preprocess"], "preprocess")


# ---------------------------------------------------------------------------------------- writing
def model_paths(out: str | os.PathLike, horizons: Sequence[int]) -> list[Path]:
    """Where each horizon's model goes: the first to ``out``; each further one beside it with the horizon
    before the suffix (``model.json`` -> ``model.h10s.json``)."""
    out = Path(out)
    paths = [out]
    for h in horizons[1:]:
        paths.append(out.with_name(f"{out.stem}.h{_fmt_ns(int(h))}{out.suffix or '.json'}"))
    return paths


def write_model(model: dict, path: str | os.PathLike) -> Path:
    """Write a model file: ``mmsim.signals.models.save_model`` if present, else JSON written atomically (a temporary
    file beside it, then renamed), keys in the contract's order, 1-space indent, newline at the end."""
    path = Path(path)
    try:
        from mmsim.signals.models import save_model  # type: ignore[attr-defined]
    except ImportError:
        save_model = None
    if save_model is not None:
        save_model(model, path)
        return path
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(model, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------ command line
def parse_positive_duration(text: str, option: str) -> int:
    """A duration > 0 (``100ms``, ``1s``) from an option, or ConfigError naming the option."""
    from mmsim.data.latency import parse_duration

    t = str(text).strip()
    if t.startswith("-"):
        raise ConfigError(f"{option} '{t}': must be > 0")
    ns = parse_duration(t, f"{option} '{t}'")
    if ns <= 0:
        raise ConfigError(f"{option} '{t}': must be > 0")
    return ns


def parse_duration_option(text: str, option: str) -> int:
    """A duration >= 0 from an option, or ConfigError naming the option."""
    from mmsim.data.latency import parse_duration

    t = str(text).strip()
    if t.startswith("-"):
        raise ConfigError(f"{option} '{t}': must be >= 0")
    return parse_duration(t, f"{option} '{t}'")


def parse_horizons(text: str) -> list[int]:
    """``"100ms,1s,10s"`` -> ns, each > 0, no repeats, in the order given."""
    toks = [t.strip() for t in str(text).split(",")]
    if not any(toks):
        raise ConfigError("--horizon: give a duration, e.g. 1s")
    out: list[int] = []
    for t in toks:
        if not t:
            raise ConfigError(f"--horizon '{text}': empty item")
        h = parse_positive_duration(t, "--horizon")
        if h in out:
            raise ConfigError(f"--horizon '{text}': {t} given twice")
        out.append(h)
    return out


def cli_options(alpha: Any = None, hidden: Any = None, steps: Any = None, rounds: Any = None) -> dict:
    """Fitting options from the command line (only those given)."""
    o: dict[str, Any] = {}
    if alpha is not None:
        a = float(alpha)
        if not (a > 0 and math.isfinite(a)):
            raise ConfigError(f"--alpha {alpha}: must be a positive number")
        o["alpha"] = a
    if hidden is not None:
        try:
            widths = [int(x) for x in str(hidden).split(",")]
        except ValueError:
            raise ConfigError(f"--hidden '{hidden}': expected widths like 64,32") from None
        if not widths or any(w <= 0 for w in widths):
            raise ConfigError(f"--hidden '{hidden}': every width must be > 0")
        o["hidden"] = tuple(widths)
    if steps is not None:
        o["steps"] = int(steps)
    if rounds is not None:
        o["rounds"] = int(rounds)
    return o


def resolve_target(model_type: str, target: Optional[str]) -> str:
    """The target a model type learns: ``target`` if it can, its default if None; else ConfigError."""
    return _resolve_target(model_type, target)


def require_lightgbm() -> None:
    """ConfigError (pip install "mmsim[models]") unless LightGBM can be imported."""
    _lightgbm()


def format_header(r: TrainResult, scenario: str, model_type: str) -> str:
    o = r.model["training"]["options"]
    if o["scheme"] == "purged":
        purge = (f"purge: no training label window [a, a+H] overlaps the test period; embargo "
                 f"{_fmt_ns(o['embargo_ns']) if o['embargo_ns'] else '0'} after it")
    else:
        purge = "purge: every training label window [a, a+H] ends before the test fold starts"
    return (f"scenario  {scenario}   model  {model_type} (target {r.model['target']})   features  "
            f"{len(r.model['features']['specs'])}   every  {_fmt_ns(o['every_ns'])}   folds  {o['folds']} "
            f"({o['scheme']}; {purge})")


# ---------------------------------------------------------------------------------------- reports
def _fmt_ns(ns: int) -> str:
    for unit, k in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns % k == 0:
            return f"{ns // k}{unit}"
    return f"{ns}ns"


def _f(v: Any, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{nd}f}"


#: Out-of-sample thresholds of the model verdict (docs/training.md).
CHANCE_AUC = 0.52


def model_verdict(metrics: dict) -> dict:
    """A verdict on out-of-sample quality (docs/training.md): ``useful`` (pooled AUC above 0.52 and, where a
    move is predicted, R² > 0, and no fold worse), ``weak`` (the direction ranks better than chance pooled, but
    the move predictions are worse than the mean or some fold is no better than chance), or ``no better than
    chance`` (pooled AUC <= 0.52; without an AUC, R² <= 0). Savings with a weak or chance-level model may come
    from something other than prediction (e.g. fewer fills during a trend)."""
    o = metrics.get("out_of_sample") or {}
    folds = metrics.get("folds") or []
    r2, auc = o.get("r2"), o.get("auc")

    def ok(v) -> bool:
        return v is not None and v == v

    def shown() -> str:
        return ", ".join(x for x in (f"R² {r2:.3f}" if ok(r2) else "", f"AUC {auc:.3f}" if ok(auc) else "") if x)

    def fails(m: dict) -> bool:
        a, r = m.get("auc"), m.get("r2")
        return (ok(a) and a <= CHANCE_AUC) or (ok(r) and r <= 0)

    chance = (ok(auc) and auc <= CHANCE_AUC) or (not ok(auc) and (not ok(r2) or r2 <= 0))
    if chance:
        return {"verdict": "no better than chance", "reason": "pooled out-of-sample " + (shown() or "n/a")}
    if ok(r2) and r2 <= 0:
        return {"verdict": "weak", "reason": f"it ranks the direction (AUC {auc:.3f}) but its move predictions are "
                                             f"worse than the mean out of sample (R² {r2:.3f})"}
    n_bad = sum(fails(f) for f in folds)
    if n_bad:
        return {"verdict": "weak", "reason": f"{n_bad} of {len(folds)} folds no better than chance out of sample "
                                             f"(pooled {shown()})"}
    return {"verdict": "useful", "reason": f"better than chance out of sample, pooled and in every fold ({shown()})"}


def format_report(r: TrainResult, zone: Optional[str] = None) -> str:
    """Per-fold and pooled out-of-sample table of one horizon; ``zone`` (the venue's time zone) adds the
    training window's clock times beside its ns."""
    H = _fmt_ns(r.model["horizon_ns"])
    sm = r.samples
    clock = ""
    if zone is not None:
        from mmsim.data.times import format_span

        clock = f" ({format_span(int(sm.start_ts), int(sm.end_ts), zone)})"
    lines = [f"horizon {H}: {len(sm):,} samples ({sm.n_dropped_end} dropped: label window past the window's end; "
             f"{sm.n_dropped_no_mid} without a mid), training window {sm.start_ts} .. {sm.end_ts} ns{clock}"]
    lines += [f"{'horizon':>7}  {'fold':>6}  {'train':>6}  {'test':>6}  {'hit':>6}  {'auc':>6}  {'r2':>7}  "
             f"{'up':>5}"]
    for m in r.fold_metrics:
        lines.append(f"{H:>7}  {m['fold']:>6}  {m['train_n']:>6}  {m['n']:>6}  {_f(m['hit_rate']):>6}  "
                     f"{_f(m['auc']):>6}  {_f(m['r2'], 4):>7}  {_f(m['up_rate'], 2):>5}")
    p = r.pooled
    lines.append(f"{H:>7}  {'pooled':>6}  {'':>6}  {p['n']:>6}  {_f(p['hit_rate']):>6}  {_f(p['auc']):>6}  "
                 f"{_f(p['r2'], 4):>7}  {_f(p['up_rate'], 2):>5}")
    v = model_verdict({"out_of_sample": p, "folds": r.fold_metrics})
    lines.append(f"verdict: {v['verdict']} ({v['reason']})")
    return "\n".join(lines)


def format_horizon_table(results: Sequence[TrainResult], paths: Sequence[Path]) -> str:
    """One line per horizon: pooled out-of-sample figures and the file written."""
    lines = [f"{'horizon':>7}  {'samples':>7}  {'hit':>6}  {'auc':>6}  {'r2':>7}  {'in-sample r2':>12}  file"]
    for r, p in zip(results, paths):
        o, i = r.pooled, r.in_sample
        lines.append(f"{_fmt_ns(r.model['horizon_ns']):>7}  {len(r.samples):>7}  {_f(o['hit_rate']):>6}  "
                     f"{_f(o['auc']):>6}  {_f(o['r2'], 4):>7}  {_f(i['r2'], 4):>12}  {p}")
    return "\n".join(lines)
