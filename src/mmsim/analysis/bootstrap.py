"""The two-level paired bootstrap over market paths and time blocks (docs/analytics.md, "Many paths").

Every paired figure (a saving, a difference, an arm's own total) is a series of per-bin values on each path:
exchange time cut into bins of ``bin_ns`` (1 s by default) from each path's first event. A replicate draws
``P`` paths with replacement, then, within every drawn path, as many blocks of ``block_bins`` consecutive
bins as the path has, with replacement; the figure is the mean over the drawn paths of their resampled
totals. The draws depend only on the structure (bins per path, block length), the number of replicates and
the seed, and are one weight per bin (:class:`Resample`): the *same* weights are applied to both arms, every
figure and every sweep point, so differences, curves and crossings computed from them stay paired.

The block length is chosen from the data by default: the Politis–White (2004, with Patton–Politis–White
2009's correction) optimal length for the circular block bootstrap, from ``arch.bootstrap``, of each path's
per-bin net-PnL difference series; the median over paths, rounded up, at least one bin and at most a quarter
of the shortest path (so every path keeps four or more blocks).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mmsim.errors import ConfigError

__all__ = ["Resample", "auto_block_bins", "percentile_interval", "CONFIDENCE"]

CONFIDENCE = 0.95
#: Below this many paths the path level of the bootstrap cannot describe the spread across paths.
MIN_PATHS_FOR_INTERVAL = 2


def auto_block_bins(series: Sequence[np.ndarray]) -> int:
    """Politis–White block length (circular block bootstrap), in bins: median over the paths' series."""
    from arch.bootstrap import optimal_block_length

    lengths = []
    shortest = min(len(s) for s in series)
    for s in series:
        x = np.asarray(s, np.float64)
        if len(x) < 8 or not np.isfinite(x).all() or float(np.std(x)) == 0.0:
            continue
        with warnings.catch_warnings():  # a flat autocorrelation divides by zero inside arch: b is inf, skipped
            warnings.simplefilter("ignore", RuntimeWarning)
            b = float(optimal_block_length(x)["circular"].iloc[0])
        if math.isfinite(b):
            lengths.append(b)
    b = math.ceil(float(np.median(lengths))) if lengths else 1
    return int(max(1, min(b, max(1, shortest // 4))))


@dataclass(frozen=True)
class Resample:
    """The replicates' draws, as one weight per bin (paths concatenated): how often the bin enters the
    replicate, divided by the number of paths, so ``weights @ x`` is the replicate's mean-per-path total of
    ``x``. The weights are regenerated from the seed in chunks (never all held at once) and are identical on
    every call: apply them to all figures in one call, or in several, and the replicates stay paired."""

    bins_per_path: tuple[int, ...]
    block_bins: int
    n_boot: int
    seed: int

    def __post_init__(self) -> None:
        if not self.bins_per_path or min(self.bins_per_path) < 1:
            raise ConfigError("bootstrap: every path needs at least one bin")
        if self.block_bins < 1:
            raise ConfigError(f"bootstrap: block length {self.block_bins} bins: must be >= 1")
        if self.n_boot < 1:
            raise ConfigError(f"--n-boot {self.n_boot}: must be >= 1")

    @classmethod
    def draw(cls, bins_per_path: Sequence[int], block_bins: int, n_boot: int, seed: int) -> "Resample":
        return cls(tuple(int(b) for b in bins_per_path), int(block_bins), int(n_boot), int(seed))

    @property
    def n_paths(self) -> int:
        return len(self.bins_per_path)

    @property
    def n_bins(self) -> int:
        return int(sum(self.bins_per_path))

    def _chunks(self, chunk: int = 64):
        bins = self.bins_per_path
        P = len(bins)
        offsets = np.concatenate([[0], np.cumsum(bins)]).astype(np.int64)
        starts = [np.arange(0, b, self.block_bins) for b in bins]
        widths = [np.diff(np.append(s, b)) for s, b in zip(starts, bins)]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x2B007, self.block_bins, P, *bins]))
        for r0 in range(0, self.n_boot, chunk):
            m = min(chunk, self.n_boot - r0)
            W = np.zeros((m, int(offsets[-1])), np.float64)
            for r in range(m):
                for p in (rng.integers(0, P, P) if P > 1 else (0,)):
                    k = len(starts[p])
                    counts = np.bincount(rng.integers(0, k, k), minlength=k).astype(np.float64)
                    W[r, offsets[p]:offsets[p + 1]] += np.repeat(counts, widths[p])
            yield r0, W / P

    def replicates(self, x: np.ndarray) -> np.ndarray:
        """Replicates of the mean-per-path total of per-bin values ``x`` (bins x figures, or one figure)."""
        x = np.asarray(x, np.float64)
        one = x.ndim == 1
        X = x[:, None] if one else x
        if X.shape[0] != self.n_bins:
            raise ValueError(f"bootstrap: {X.shape[0]} bins given, the paths have {self.n_bins}")
        out = np.empty((self.n_boot, X.shape[1]))
        for r0, W in self._chunks():
            out[r0:r0 + len(W)] = W @ X
        return out[:, 0] if one else out


def percentile_interval(reps: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of replicates along axis 0 (NaN where fewer than two replicates)."""
    reps = np.asarray(reps, np.float64)
    if reps.shape[0] < 2:
        nan = np.full(reps.shape[1:], np.nan)
        return nan, nan.copy()
    a = (1.0 - confidence) / 2
    lo, hi = np.nanquantile(reps, [a, 1.0 - a], axis=0)
    return lo, hi
