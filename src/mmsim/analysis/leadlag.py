"""Lead-lag between two venues: which one's price moves first, by how much time, with an interval.

``lead_lag(lead, lagging, grid_ns=1 ms, max_lag_ns=1 s)`` (event arrays, stores or scenario files; docs/lead-lag.md):

- **Price series** of each venue: the mid (best bid + best ask) / 2 after each exchange message (``price="mid"``,
  sides from the L2 or L3 book rebuilt from the rows; messages where a side is empty are skipped) or the
  price of the last trade of each message (``price="trade"``: TRADE or EXECUTE rows), in ticks, on the exchange
  clock (``clock="exch"``) or the recorded receive clock (``clock="recv"``); only the changes are kept.
  The book is rebuilt in a window of ±2²¹ ticks around the first level seen (``BOOK_WINDOW``): levels farther
  away are ignored (a real spot book holds orders a factor 10 away from the price, which never become the best).
- **Grid cross-correlation**: both series sampled on a common grid of ``grid_ns`` over the time both cover
  (the last price at or before each grid point), increments ``x_k`` (lead) and ``y_k`` (lagging), each less
  its mean; ``ρ(ℓ) = Σ_k x_k y_{k+ℓ} / √(Σx² Σy²)`` for ℓ in [−max_lag, max_lag]. A positive lag: the lagging
  venue's moves follow the lead's. The estimate is the ℓ maximising ρ (the same asset: a positive correlation).
- **Interval**: moving-block bootstrap over time: the grid is cut into blocks of ``block_ns`` (default the
  larger of 5 × max_lag and span / 40), each block's cross-products ``Σ_{k∈b} x_k y_{k+ℓ}`` and sums of squares
  are computed once (FFT), and ``n_boot`` replicates draw as many blocks with replacement; the interval is the
  2.5–97.5 % percentiles of the replicates' argmax (and of their peak correlation).
- **Hayashi–Yoshida** (a check that needs no grid): the HY correlation of the two change series with the
  lagging one's times shifted back by θ, for θ on the same lags (at most 401 of them, evenly spaced); its
  argmax is reported beside the grid estimate (point estimate only). Its normalisation is the realised
  variances of the two change series, so it is not bounded by 1 (each X interval meets Y intervals that reach
  beyond it); only its shape and argmax are read.

Deterministic: the bootstrap draws from ``numpy.random.default_rng(seed)``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
from numba import njit

from mmsim.data.messages import message_ends
from mmsim.errors import ConfigError, DataError
from mmsim.records import ADD, CANCEL, CLEAR, DELETE, DEPTH, EXECUTE, NO_TS, TRADE

__all__ = ["LeadLag", "lead_lag", "price_series", "format_lead_lag", "write_lead_lag", "BOOK_WINDOW",
           "PRICE_KINDS", "CLOCKS"]

#: Half-width of the rebuilt book's dense window, ticks.
BOOK_WINDOW = 1 << 21
PRICE_KINDS = ("mid", "trade")
CLOCKS = ("exch", "recv")
#: Fewest price changes a venue must show in the common span.
MIN_CHANGES = 20


# --------------------------------------------------------------------------------------------- series
@njit(cache=True)
def _mid_kernel(kind, side, price, qty, ends, center, half, out):
    """Mid (ticks, nan when a side is empty) after each row that ends a message; other rows nan."""
    n = len(kind)
    span = 2 * half + 1
    lo = center - half
    bid = np.zeros(span, np.int64)
    ask = np.zeros(span, np.int64)
    b = -1
    a = span
    for r in range(n):
        k = kind[r]
        s = side[r]
        x = price[r] - lo
        inside = 0 <= x < span
        if k == CLEAR:
            if s >= 0:
                bid[:] = 0
                b = -1
            if s <= 0:
                ask[:] = 0
                a = span
        elif k != TRADE and inside and (s == 1 or s == -1):
            if k == DEPTH:
                d = qty[r]
                if s == 1:
                    bid[x] = d
                else:
                    ask[x] = d
            elif k == ADD:
                if s == 1:
                    bid[x] += qty[r]
                else:
                    ask[x] += qty[r]
            elif k == CANCEL or k == DELETE or k == EXECUTE:
                if s == 1:
                    bid[x] -= qty[r]
                else:
                    ask[x] -= qty[r]
            if s == 1:
                if bid[x] > 0 and x > b:
                    b = x
                while b >= 0 and bid[b] <= 0:
                    b -= 1
            else:
                if ask[x] > 0 and x < a:
                    a = x
                while a < span and ask[a] <= 0:
                    a += 1
        if ends[r]:
            if b >= 0 and a < span:
                out[r] = 0.5 * (b + a) + lo
            else:
                out[r] = np.nan
        else:
            out[r] = np.nan


def price_series(events: np.ndarray, price: str = "mid", clock: str = "exch") -> tuple[np.ndarray, np.ndarray]:
    """(times ns, price ticks) at each change of the venue's mid or last trade price (see the module docstring)."""
    if price not in PRICE_KINDS:
        raise ConfigError(f"price: {price!r} is not one of {', '.join(PRICE_KINDS)}")
    if clock not in CLOCKS:
        raise ConfigError(f"clock: {clock!r} is not one of {', '.join(CLOCKS)}")
    n = len(events)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    ends = message_ends(events)
    if clock == "recv":
        ts = np.asarray(events["recv_ts"], np.int64)
        if (ts[ends] == NO_TS).any():
            raise DataError("clock recv: the data has rows without a recorded receive time (recv_ts); use exch")
    else:
        ts = np.asarray(events["exch_ts"], np.int64)
    kind = np.asarray(events["kind"])
    if price == "mid":
        book = (kind == DEPTH) | (kind == ADD)
        if not book.any():
            return np.empty(0, np.int64), np.empty(0, np.float64)
        center = int(np.asarray(events["price"])[np.flatnonzero(book)[0]])
        px = np.empty(n, np.float64)
        _mid_kernel(kind, np.asarray(events["side"]), np.asarray(events["price"], np.int64),
                    np.asarray(events["qty"], np.int64), ends, np.int64(center), np.int64(BOOK_WINDOW), px)
        keep = np.isfinite(px)
    else:
        tr = (kind == TRADE) | (kind == EXECUTE)
        # the last trade of each message: a trade row followed by no other trade row in its message
        msg = np.cumsum(np.r_[0, ends[:-1]])
        last = np.zeros(n, bool)
        idx = np.flatnonzero(tr)
        if len(idx):
            m = msg[idx]
            is_last = np.r_[m[1:] != m[:-1], True]
            last[idx[is_last]] = True
        px = np.asarray(events["price"], np.float64)
        keep = last
    t, p = ts[keep], px[keep]
    if len(t) > 1 and (np.diff(t) < 0).any():
        order = np.argsort(t, kind="stable")   # receive clock: rows stay in exchange order, times may not
        t, p = t[order], p[order]
    ch = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, bool)
    return t[ch], p[ch]


# --------------------------------------------------------------------------------------------- result
@dataclass
class LeadLag:
    """The estimate, its interval and the curves (lags in seconds; positive: the lagging venue follows)."""

    lag_s: float
    lag_lo_s: float
    lag_hi_s: float
    peak_corr: float
    peak_lo: float
    peak_hi: float
    corr_at_zero: float
    lags_s: np.ndarray
    corr: np.ndarray
    hy_lags_s: np.ndarray
    hy_corr: np.ndarray
    hy_lag_s: float
    hy_peak_corr: float
    start_ts: int
    end_ts: int
    grid_s: float
    max_lag_s: float
    block_s: float
    n_blocks: int
    n_boot: int
    changes: tuple[int, int]
    price: str
    clock: str
    boot_lags_s: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    labels: tuple[str, str] = ("lead", "lagging")

    @property
    def span_s(self) -> float:
        return (self.end_ts - self.start_ts) / 1e9

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (no curves)."""
        return {"lead": self.labels[0], "lagging": self.labels[1], "price": self.price, "clock": self.clock,
                "start_ts": int(self.start_ts), "end_ts": int(self.end_ts), "span_s": self.span_s,
                "grid_s": self.grid_s, "max_lag_s": self.max_lag_s, "changes_lead": int(self.changes[0]),
                "changes_lagging": int(self.changes[1]), "lag_s": self.lag_s, "lag_interval_s": [self.lag_lo_s,
                                                                                                  self.lag_hi_s],
                "peak_corr": self.peak_corr, "peak_corr_interval": [self.peak_lo, self.peak_hi],
                "corr_at_zero": self.corr_at_zero, "hy_lag_s": self.hy_lag_s, "hy_peak_corr": self.hy_peak_corr,
                "block_s": self.block_s, "n_blocks": self.n_blocks, "n_boot": self.n_boot,
                "interval": "2.5-97.5 % of a moving-block bootstrap of the argmax"}


# --------------------------------------------------------------------------------------------- estimators
def _sample(t: np.ndarray, p: np.ndarray, grid: np.ndarray) -> np.ndarray:
    i = np.searchsorted(t, grid, "right") - 1
    return p[np.maximum(i, 0)]


def _block_xcorr(x: np.ndarray, y: np.ndarray, L: int, B: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block of B grid points: Σ x_k y_{k+ℓ} (ℓ = −L..L), Σ x², Σ y² (y zero outside the series)."""
    N = len(x)
    nb = max(1, N // B)
    longest = N - (nb - 1) * B   # the last block takes the remainder
    nfft = 1 << int(math.ceil(math.log2(longest + 2 * L + 1)))
    ypad = np.concatenate((np.zeros(L), y, np.zeros(L + B)))
    C = np.empty((nb, 2 * L + 1))
    sxx = np.empty(nb)
    syy = np.empty(nb)
    step = 64
    for b0 in range(0, nb, step):
        bs = range(b0, min(nb, b0 + step))
        xs = np.zeros((len(bs), nfft))
        ys = np.zeros((len(bs), nfft))
        for j, b in enumerate(bs):
            k0 = b * B
            k1 = N if b == nb - 1 else k0 + B
            xs[j, :k1 - k0] = x[k0:k1]
            seg = ypad[k0:k1 + 2 * L]
            ys[j, :len(seg)] = seg
            sxx[b] = float(np.dot(x[k0:k1], x[k0:k1]))
            syy[b] = float(np.dot(y[k0:k1], y[k0:k1]))
        r = np.fft.irfft(np.conj(np.fft.rfft(xs, axis=1)) * np.fft.rfft(ys, axis=1), n=nfft, axis=1)
        C[b0:b0 + len(bs)] = r[:, :2 * L + 1]
    return C, sxx, syy


@njit(cache=True)
def _hy_kernel(tx, x, ty, y, thetas, out):
    """HY correlation of the change series (tx, x) and (ty − θ, y) for each θ: Σ_i ΔX_i ΔY over the Y
    intervals overlapping X interval i, via the Y value at the first time ≥ its end minus at the last time ≤ its
    start; over √(ΣΔX² ΣΔY²)."""
    nx = len(tx)
    ny = len(ty)
    sxx = 0.0
    for i in range(1, nx):
        d = x[i] - x[i - 1]
        sxx += d * d
    syy = 0.0
    for j in range(1, ny):
        d = y[j] - y[j - 1]
        syy += d * d
    norm = math.sqrt(sxx * syy)
    for q in range(len(thetas)):
        th = thetas[q]
        acc = 0.0
        jlo = 0   # last index with ty[j] - th <= s
        jhi = 0   # first index with ty[j] - th >= e
        for i in range(1, nx):
            s = tx[i - 1]
            e = tx[i]
            while jlo + 1 < ny and ty[jlo + 1] - th <= s:
                jlo += 1
            while jhi < ny - 1 and ty[jhi] - th < e:
                jhi += 1
            if ty[jlo] - th > s:     # no Y observation at or before s: start from the first
                a = y[0]
            else:
                a = y[jlo]
            acc += (x[i] - x[i - 1]) * (y[jhi] - a)
        out[q] = acc / norm if norm > 0 else np.nan


def _read(src: Any, what: str) -> tuple[np.ndarray, str]:
    """Events of an array, a store folder or a scenario file (``*.toml``: its source, e.g. one venue of a
    ``two_venue`` market), and the name errors use."""
    if isinstance(src, np.ndarray):
        return src, what
    if str(src).endswith(".toml"):
        from mmsim.data.scenario import load_scenario

        ev, _ = load_scenario(str(src)).load_events()
        return (ev if isinstance(ev, np.ndarray) else ev.read()), str(src)
    from mmsim.data.store import EventStore

    return EventStore(src).read(), str(src)


def lead_lag(lead: Any, lagging: Any, *, grid_ns: int = 1_000_000, max_lag_ns: int = 1_000_000_000,
             price: str = "mid", clock: str = "exch", block_ns: Optional[int] = None, n_boot: int = 1000,
             seed: int = 0, hy: bool = True) -> LeadLag:
    """Estimate how far ``lagging``'s price follows ``lead``'s (EVENT_DTYPE arrays, store folders or scenario
    files ``*.toml``).

    ConfigError for bad settings, DataError when the two do not overlap in time or show too few changes.
    """
    grid_ns, max_lag_ns = int(grid_ns), int(max_lag_ns)
    if grid_ns <= 0:
        raise ConfigError("grid: must be > 0")
    if max_lag_ns < grid_ns:
        raise ConfigError(f"max-lag: {max_lag_ns} ns is shorter than the grid ({grid_ns} ns)")
    if max_lag_ns // grid_ns > 100_000:
        raise ConfigError(f"max-lag / grid: {max_lag_ns // grid_ns:,} lags, at most 100,000 (a coarser grid?)")
    if int(n_boot) < 10:
        raise ConfigError("n-boot: must be >= 10")
    ev_a, name_a = _read(lead, "lead")
    ev_b, name_b = _read(lagging, "lagging")
    ta, pa = price_series(ev_a, price, clock)
    tb, pb = price_series(ev_b, price, clock)
    for name, t in ((name_a, ta), (name_b, tb)):
        if len(t) < 2:
            raise DataError(f"{name}: fewer than 2 {price} prices ({price} needs "
                            f"{'both book sides' if price == 'mid' else 'trades'})")
    start, end = max(int(ta[0]), int(tb[0])), min(int(ta[-1]), int(tb[-1]))
    if end <= start:
        raise DataError(f"{name_a} and {name_b} do not overlap in time: {name_a} {int(ta[0])}..{int(ta[-1])}, "
                        f"{name_b} {int(tb[0])}..{int(tb[-1])} ns ({clock} clock)")
    N = (end - start) // grid_ns
    L = max_lag_ns // grid_ns
    if N < 4 * L:
        raise DataError(f"{name_a} and {name_b} overlap for {(end - start) / 1e9:.3f} s: shorter than 4 x max-lag "
                        f"({4 * max_lag_ns / 1e9:g} s): use a smaller max-lag")
    inside = lambda t: int(((t > start) & (t <= start + N * grid_ns)).sum())
    changes = (inside(ta), inside(tb))
    for name, c in zip((name_a, name_b), changes):
        if c < MIN_CHANGES:
            raise DataError(f"{name}: only {c} {price} changes in the common span (at least {MIN_CHANGES})")
    grid = start + np.arange(N + 1, dtype=np.int64) * grid_ns
    x = np.diff(_sample(ta, pa, grid))
    y = np.diff(_sample(tb, pb, grid))
    x -= x.mean()
    y -= y.mean()
    if block_ns is None:
        block_ns = max(5 * max_lag_ns, (end - start) // 40)
    B = max(1, int(block_ns) // grid_ns)
    if B > N:
        raise ConfigError(f"block: {int(block_ns) / 1e9:g} s is longer than the common span "
                          f"({(end - start) / 1e9:.3f} s)")
    C, sxx, syy = _block_xcorr(x, y, L, B)
    nb = len(sxx)
    lags = np.arange(-L, L + 1)
    denom = math.sqrt(sxx.sum() * syy.sum())
    if denom == 0:
        raise DataError(f"{name_a} / {name_b}: a price that never changes on the {grid_ns} ns grid")
    corr = C.sum(0) / denom
    j = int(np.argmax(corr))
    rng = np.random.default_rng(int(seed))
    counts = np.zeros((int(n_boot), nb))
    draws = rng.integers(0, nb, size=(int(n_boot), nb))
    for r in range(int(n_boot)):
        counts[r] = np.bincount(draws[r], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        rc = (counts @ C) / np.sqrt((counts @ sxx) * (counts @ syy))[:, None]
    rc = np.nan_to_num(rc, nan=-np.inf)
    jb = np.argmax(rc, axis=1)
    boot_lags = lags[jb] * grid_ns / 1e9
    boot_peak = rc[np.arange(len(jb)), jb]
    if hy:
        step = max(1, (2 * L) // 400)
        hl = np.arange(-L, L + 1, step)
        thetas = (hl * grid_ns).astype(np.float64)
        hc = np.empty(len(hl))
        sel_a = (ta >= start - max_lag_ns) & (ta <= end + max_lag_ns)
        sel_b = (tb >= start - max_lag_ns) & (tb <= end + max_lag_ns)
        _hy_kernel((ta[sel_a] - start).astype(np.float64), pa[sel_a], (tb[sel_b] - start).astype(np.float64),
                   pb[sel_b], thetas, hc)
        jh = int(np.nanargmax(hc)) if np.isfinite(hc).any() else 0
        hy_lag, hy_peak = float(hl[jh] * grid_ns / 1e9), float(hc[jh])
    else:
        hl, hc, hy_lag, hy_peak = np.empty(0, np.int64), np.empty(0), math.nan, math.nan
    return LeadLag(
        lag_s=float(lags[j] * grid_ns / 1e9), lag_lo_s=float(np.percentile(boot_lags, 2.5)),
        lag_hi_s=float(np.percentile(boot_lags, 97.5)), peak_corr=float(corr[j]),
        peak_lo=float(np.percentile(boot_peak, 2.5)), peak_hi=float(np.percentile(boot_peak, 97.5)),
        corr_at_zero=float(corr[L]), lags_s=lags * grid_ns / 1e9, corr=corr, hy_lags_s=hl * grid_ns / 1e9,
        hy_corr=hc, hy_lag_s=hy_lag, hy_peak_corr=hy_peak, start_ts=start, end_ts=start + N * grid_ns,
        grid_s=grid_ns / 1e9, max_lag_s=L * grid_ns / 1e9, block_s=B * grid_ns / 1e9, n_blocks=nb,
        n_boot=int(n_boot), changes=changes, price=price, clock=clock, boot_lags_s=boot_lags,
        labels=(name_a, name_b))


# --------------------------------------------------------------------------------------------- output
def _fmt_s(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{x * 1e3:+.4g} ms" if abs(x) < 1 else f"{x:+.4g} s"


def table_lags(res: LeadLag) -> list[int]:
    """Indices of the printed rows: 0, ±1-2-5 x 10^k grid steps within max-lag, and the peak ± 2 steps."""
    L = (len(res.lags_s) - 1) // 2
    picks = {0}
    m = 1
    while m <= L:
        for f in (1, 2, 5):
            if f * m <= L:
                picks.update((f * m, -f * m))
        m *= 10
    j = int(np.argmax(res.corr)) - L
    picks.update(k for k in range(j - 2, j + 3) if -L <= k <= L)
    return [k + L for k in sorted(picks)]


def format_lead_lag(res: LeadLag) -> str:
    """The printed table and estimate."""
    hy = dict(zip(np.round(res.hy_lags_s, 12), res.hy_corr))
    lines = [f"lead-lag of {res.labels[1]} behind {res.labels[0]} ({res.price} changes, {res.clock} clock): "
             f"{res.span_s:.3f} s in common, {res.changes[0]:,} / {res.changes[1]:,} changes, grid "
             f"{_fmt_s(res.grid_s).lstrip('+')}",
             "| lag | corr of increments | HY (normalised) |", "|---|---|---|"]
    for i in table_lags(res):
        h = hy.get(round(float(res.lags_s[i]), 12))
        mark = " ← peak" if i == int(np.argmax(res.corr)) else ""
        lines.append(f"| {_fmt_s(res.lags_s[i])} | {res.corr[i]:.4f}{mark} | "
                     f"{'' if h is None else f'{h:.4f}'} |")
    lines.append(f"lag {_fmt_s(res.lag_s)} (95 % interval {_fmt_s(res.lag_lo_s)} .. {_fmt_s(res.lag_hi_s)}; "
                 f"{res.n_boot} block-bootstrap replicates of {res.n_blocks} blocks of {res.block_s:g} s), peak corr "
                 f"{res.peak_corr:.4f} ({res.peak_lo:.4f} .. {res.peak_hi:.4f}), at 0: {res.corr_at_zero:.4f}")
    if math.isfinite(res.hy_lag_s):
        lines.append(f"Hayashi-Yoshida: lag {_fmt_s(res.hy_lag_s)}, peak {res.hy_peak_corr:.4f} (HY covariance / "
                     "√(ΣΔX² ΣΔY²) of the change series: not bounded by 1)")
    return "\n".join(lines)


def write_lead_lag(res: LeadLag, out_dir: Union[str, os.PathLike]) -> dict[str, Path]:
    """DIR/leadlag.json (the figures) and DIR/leadlag_curve.csv (lag_s, corr, hy_corr), written atomically."""
    from mmsim.engine.results import _atomic_write, _jsonable

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js = out / "leadlag.json"
    _atomic_write(js, lambda tmp: Path(tmp).write_text(json.dumps(_jsonable(res.summary()), indent=2) + "\n"))
    hy = dict(zip(np.round(res.hy_lags_s, 12), res.hy_corr))
    rows = ["lag_s,corr,hy_corr"]
    for lag, c in zip(res.lags_s, res.corr):
        h = hy.get(round(float(lag), 12))
        rows.append(f"{lag:.9f},{c:.8f},{'' if h is None else f'{h:.8f}'}")
    csv = out / "leadlag_curve.csv"
    _atomic_write(csv, lambda tmp: Path(tmp).write_text("\n".join(rows) + "\n"))
    return {"json": js, "curve": csv}


def _main(argv=None) -> int:  # pragma: no cover - documentation helper
    """``python -m mmsim.analysis.leadlag [--rows N] [--seeds A-B] [--lags 5ms,50ms,500ms]``: the synthetic
    two-venue table of docs/synthetic.md (measured lag against the generator's, informed vs noise markouts)."""
    import argparse

    from mmsim.data.latency import parse_duration
    from mmsim.data.two_venue import generate_two_venue

    ap = argparse.ArgumentParser(prog="python -m mmsim.analysis.leadlag")
    ap.add_argument("--preset", default="perp_spot")
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--seeds", default="1-1")
    ap.add_argument("--lags", default="1ms,5ms,20ms,50ms,200ms,500ms")
    ap.add_argument("--summary", action="store_true", help="one row per lag over all seeds")
    a = ap.parse_args(argv)
    s0, _, s1 = a.seeds.partition("-")
    seeds = range(int(s0), int(s1 or s0) + 1)
    if a.summary:
        k = len(seeds)
        print(f"| lag | estimate = lag | largest error | interval covers the lag | peak corr | informed share | "
              f"markout 1 s informed, ticks: mean (range) | noise |")
        print("|---|---|---|---|---|---|---|---|")
        for lag in a.lags.split(","):
            lag_ns = parse_duration(lag)
            err, cover, peak, mi, mn, share = [], [], [], [], [], []
            for seed in seeds:
                m = generate_two_venue(a.preset, a.rows, seed, lag=lag)
                r = lead_lag(m.lead.events, m.lagging.events, grid_ns=1_000_000,
                             max_lag_ns=max(4 * lag_ns, 100_000_000), n_boot=200, hy=False)
                err.append(round((r.lag_s - lag_ns / 1e9) * 1e3))
                cover.append(r.lag_lo_s <= lag_ns / 1e9 <= r.lag_hi_s)
                peak.append(r.peak_corr)
                x, y, _, sh = informed_markouts(m, 1.0)
                mi.append(x)
                mn.append(y)
                share.append(sh)
            e = np.abs(np.array(err))
            print(f"| {lag} | {(e == 0).sum()}/{k} | {e.max()} ms | {sum(cover)}/{k} | {min(peak):.3f}–{max(peak):.3f} | "
                  f"{np.mean(share):.2f} | {np.mean(mi):.2f} ({min(mi):.2f}–{max(mi):.2f}) | {np.mean(mn):.2f} "
                  f"({min(mn):.2f}–{max(mn):.2f}) |")
        return 0
    print("| lag | seed | measured (95 % interval) | HY | peak corr | lagging MOs | informed | markout 1 s "
          "informed / noise, ticks |")
    print("|---|---|---|---|---|---|---|---|")
    for lag in a.lags.split(","):
        lag_ns = parse_duration(lag)
        for seed in seeds:
            m = generate_two_venue(a.preset, a.rows, seed, lag=lag)
            max_lag = max(4 * lag_ns, 100_000_000)
            res = lead_lag(m.lead.events, m.lagging.events, grid_ns=1_000_000, max_lag_ns=max_lag, n_boot=200)
            mk_i, mk_n, n_mo, share = informed_markouts(m, 1.0)
            print(f"| {lag} | {seed} | {_fmt_s(res.lag_s)} ({_fmt_s(res.lag_lo_s)} .. {_fmt_s(res.lag_hi_s)}) | "
                  f"{_fmt_s(res.hy_lag_s)} | {res.peak_corr:.3f} | {n_mo:,} | {share:.2f} | {mk_i:.2f} / "
                  f"{mk_n:.2f} |")
    return 0


def informed_markouts(m: Any, horizon_s: float) -> tuple[float, float, int, float]:
    """Mean mid markout (ticks, in the aggressor's favour) ``horizon_s`` after each lagging-venue market order,
    informed and noise: (informed, noise, number of market orders, informed share). The mid is the one before
    the order (the row before its first execution) and the last one at or before t + horizon."""
    ev = m.lagging.events
    ts_m, mid = price_series(ev, "mid")
    mo, inf = m.informed_orders("lagging")
    mo, inf = mo[mo > 0], inf[mo > 0]
    t0 = ev["exch_ts"][mo]
    before = np.searchsorted(ts_m, t0, "left") - 1      # the mid of messages before the order's
    after = np.searchsorted(ts_m, t0 + int(horizon_s * 1e9), "right") - 1
    ok = (before >= 0) & (t0 + int(horizon_s * 1e9) <= ev["exch_ts"][-1])
    aggr = -ev["side"][mo].astype(np.float64)
    mk = aggr * (mid[after] - mid[np.maximum(before, 0)])
    return float(mk[ok & inf].mean()), float(mk[ok & ~inf].mean()), int(ok.sum()), float(inf[ok].mean())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
