"""Savings over many market paths: per-bin figures of both arms, the horizon read off the markout curve,
matched arms, and the pooled estimate with the two-level paired bootstrap (docs/analytics.md, "Many paths").

A *path* is one market history both arms run on with the same events and the same latency draws: a seed of
a synthetic scenario (``--seeds 1-40``), or one of ``--windows N`` equal stretches of exchange time of one
run over real data. Each arm's run on a path is reduced to per-bin figures (bins of 1 s from the path's first
event, :func:`arm_bins`): fills, lots, spread capture, fees, net PnL (cash flow + change of the position's
mark) and, for every horizon of :data:`HORIZON_GRID`, the adverse selection (measured to the data's end when
the horizon runs past it) and the markout-curve sums (fills whose horizon lies inside the data, all and
informed by ground truth). Every figure is exact in integer half ticks before it is scaled to currency, and
per path ``net = spread capture + adverse selection + inventory`` at any horizon.

The pooled estimate of a figure is its mean per path; its interval comes from :mod:`mmsim.analysis.bootstrap`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from mmsim import records as R
from mmsim.analysis.bootstrap import CONFIDENCE, Resample, auto_block_bins, percentile_interval
from mmsim.analysis.markouts import MidSeries, horizon_label, parse_horizon
from mmsim.errors import ConfigError

__all__ = ["HORIZON_GRID", "BIN", "ArmBins", "arm_bins", "PathPair", "FIGURES", "paired_figures", "choose_horizon",
           "pooled_report", "check_matched", "parse_seeds", "split_windows", "markout_curve"]

#: Markout horizons, a 1-2-5 log grid from 10 ms to 5 min.
HORIZON_GRID = ("10ms", "20ms", "50ms", "100ms", "200ms", "500ms", "1s", "2s", "5s", "10s", "20s", "60s", "120s",
                "300s")
#: Width of the bins the bootstrap resamples (blocks are whole numbers of bins).
BIN = "1s"
#: The horizon rule's tolerance: the curve has settled once it stays within this share of its largest
#: magnitude (or within two standard errors across paths) at every longer horizon.
SETTLE_TOLERANCE = 0.10
#: Horizons longer than this share of the shortest path are not used (too few fills would see them).
MAX_HORIZON_SHARE = 0.2

#: The paired figures, key -> (label, what a positive value means). Savings are baseline − treated costs;
#: differences are treated − baseline.
FIGURES = {
    "as_cost_saving": ("adverse-selection cost saving", "treated loses less to adverse selection"),
    "spread_capture_given_up": ("spread capture given up", "treated captures less spread"),
    "inventory_difference": ("inventory PnL difference", "treated's inventory earns more"),
    "fees_difference": ("fees difference", "treated pays more fees"),
    "net_pnl_difference": ("net PnL difference", "treated earns more, net"),
}


def grid_ns(grid: Sequence[str] = HORIZON_GRID) -> np.ndarray:
    return np.array([parse_horizon(h) for h in grid], np.int64)


# --------------------------------------------------------------------------------------------- one arm
@dataclass
class ArmBins:
    """One arm's run on one path, per bin. Columns (integers in half ticks·lots unless said): ``n_fills``,
    ``lots``, ``sc2``, ``net2`` (cash flow + mark change), ``fees`` (currency), ``pos_end`` (lots), and per
    horizon index i: ``as2_i`` (end-clamped, for the decomposition), ``mk2_i`` / ``lk_i`` (markout sums and
    lots of fills whose horizon is inside the data), ``mki2_i`` / ``lki_i`` (the same for fills against
    informed traders). ``value`` is currency per tick·lot; ``labelled`` whether ground truth exists."""

    frame: Any
    value: float
    labelled: bool
    summary: dict = field(default_factory=dict)


def arm_bins(result: Any, events: np.ndarray, mids: MidSeries, *, tick_size: float, lot_size: float,
             bin_ns: Optional[int] = None, grid: Sequence[str] = HORIZON_GRID) -> ArmBins:
    """Reduce a run (``RunResult``) on ``events`` to per-bin figures (see :class:`ArmBins`)."""
    import pandas as pd

    from mmsim.analysis.markouts import _counterparty, _fill_arrays, _has_labels, _mid2_end

    bin_ns = parse_horizon(BIN) if bin_ns is None else int(bin_ns)
    hs = grid_ns(grid)
    summary = dict(getattr(result, "summary", {}) or {})
    warnings: list[str] = []
    m_end2 = _mid2_end(mids, summary, warnings)
    a = _fill_arrays(result.fills)
    s, p, q, t, row = a["side"], a["price"], a["qty"], a["exch_ts"], a["data_row"]
    t0 = mids.start_ts
    n_bins = (mids.end_ts - t0) // bin_ns + 1
    b = (t - t0) // bin_ns
    sq = s * q
    m_fill2 = mids.before_row(row)
    labelled = _has_labels(events)
    informed = np.zeros(len(t), bool)
    if labelled and len(t):
        informed = np.asarray(_counterparty(row, result.fills, events) == "informed")

    def isum(x) -> np.ndarray:
        out = np.zeros(n_bins, np.int64)
        np.add.at(out, b, np.asarray(x, np.int64))
        return out

    cols: dict[str, np.ndarray] = {"n_fills": isum(np.ones(len(t), np.int64)), "lots": isum(q),
                                   "sc2": isum(sq * (m_fill2 - 2 * p))}
    cash2 = isum(-2 * sq * p)
    pos = np.cumsum(isum(sq))
    ends = t0 + (np.arange(n_bins, dtype=np.int64) + 1) * bin_ns
    mark2 = mids.at_time(ends - 1)
    mark2[-1] = m_end2
    value2 = np.where(pos == 0, 0, pos * mark2)
    cols["net2"] = cash2 + value2 - np.concatenate([[0], value2[:-1]])
    cols["pos_end"] = pos
    fees = np.zeros(n_bins)
    np.add.at(fees, b, a["fee"])
    cols["fees"] = fees
    for i, h in enumerate(hs):
        past = (t + h) > mids.end_ts
        mh2 = np.where(past, m_end2, mids.at_time(t + h))
        as2 = sq * (mh2 - m_fill2)
        cols[f"as2_{i}"] = isum(as2)
        inside = ~past
        cols[f"mk2_{i}"] = isum(np.where(inside, as2, 0))
        cols[f"lk_{i}"] = isum(np.where(inside, q, 0))
        cols[f"mki2_{i}"] = isum(np.where(inside & informed, as2, 0))
        cols[f"lki_{i}"] = isum(np.where(inside & informed, q, 0))
    frame = pd.DataFrame(cols)
    frame.insert(0, "start_ts", t0 + np.arange(n_bins, dtype=np.int64) * bin_ns)
    frame.attrs.update(bin_ns=bin_ns, grid=list(grid))
    if int(frame["net2"].sum()) != 2 * int(summary.get("cash_ticklots", 0)) + int(summary.get("position", 0)) * m_end2 \
            and "cash_ticklots" in summary:
        raise AssertionError("arm_bins: the bins do not add up to the run's cash and position")  # pragma: no cover
    return ArmBins(frame=frame, value=float(tick_size) * float(lot_size), labelled=labelled, summary=summary)


def split_windows(arm: ArmBins, n: int) -> list[ArmBins]:
    """One run's bins cut into ``n`` consecutive windows of (nearly) equal length: paths of one history."""
    k = len(arm.frame)
    if n < 1 or n > k:
        raise ConfigError(f"--windows {n}: must be between 1 and the data's {k} bins of {BIN}")
    cuts = np.linspace(0, k, n + 1).round().astype(int)
    return [ArmBins(frame=arm.frame.iloc[cuts[i]:cuts[i + 1]].reset_index(drop=True), value=arm.value,
                    labelled=arm.labelled, summary=arm.summary) for i in range(n)]


@dataclass
class PathPair:
    """Both arms on one path, and what identifies the path."""

    label: str
    baseline: ArmBins
    treated: ArmBins
    info: dict = field(default_factory=dict)

    @property
    def n_bins(self) -> int:
        return len(self.baseline.frame)


# --------------------------------------------------------------------------------------------- figures
def paired_figures(pair: PathPair, h_index: int) -> np.ndarray:
    """Per bin of one path (rows) the paired figures of :data:`FIGURES` (columns, currency) at horizon index
    ``h_index``, then each arm's lots and adverse-selection cost (for the fills split): 9 columns."""
    fb, ft = pair.baseline.frame, pair.treated.frame
    v = pair.baseline.value
    col = f"as2_{h_index}"

    def arm(f):
        sc = f["sc2"].to_numpy() / 2 * v
        as_ = f[col].to_numpy() / 2 * v
        net = f["net2"].to_numpy() / 2 * v
        fees = f["fees"].to_numpy()
        return sc, as_, net - sc - as_, fees, net - fees, f["lots"].to_numpy(np.float64)

    scb, asb, invb, feeb, netb, lb = arm(fb)
    sct, ast, invt, feet, nett, lt = arm(ft)
    return np.column_stack([ast - asb, scb - sct, invt - invb, feet - feeb, nett - netb, lb, lt, -asb, -ast])


_SPLIT_COLS = ("lots_baseline", "lots_treated", "as_cost_baseline", "as_cost_treated")


def markout_curve(pairs: Sequence[PathPair], arm: str, grid: Sequence[str] = HORIZON_GRID) -> dict:
    """Pooled markout curve of an arm over the paths: adverse selection per lot (ticks) at each horizon, for
    all fills and, where the data carry ground truth, against informed and uninformed traders; with the
    standard error across paths (ratio estimator) and the per-path values (for the horizon rule)."""
    hs = list(grid)
    per_path = {k: [] for k in ("mk", "lk", "mki", "lki")}
    for p in pairs:
        f = getattr(p, arm).frame
        per_path["mk"].append([f[f"mk2_{i}"].sum() / 2 for i in range(len(hs))])
        per_path["lk"].append([f[f"lk_{i}"].sum() for i in range(len(hs))])
        per_path["mki"].append([f[f"mki2_{i}"].sum() / 2 for i in range(len(hs))])
        per_path["lki"].append([f[f"lki_{i}"].sum() for i in range(len(hs))])
    mk, lk, mki, lki = (np.asarray(per_path[k], np.float64) for k in ("mk", "lk", "mki", "lki"))
    labelled = bool(pairs) and getattr(pairs[0], arm).labelled

    def ratio(num, den):
        tot = den.sum(axis=0)
        r = np.where(tot > 0, num.sum(axis=0) / np.where(tot > 0, tot, 1), np.nan)
        P = num.shape[0]
        if P < 2:
            return r, np.full(len(r), np.nan)
        resid = num - r * den
        se = np.sqrt((resid ** 2).sum(axis=0) * P / (P - 1)) / np.where(tot > 0, tot, np.nan)
        return r, se

    allr, allse = ratio(mk, lk)
    out = {"horizons": hs, "per_lot_ticks": allr.tolist(), "se": allse.tolist(),
           "lots": lk.sum(axis=0).tolist(), "labelled": labelled}
    if labelled:
        out["informed_per_lot_ticks"] = ratio(mki, lki)[0].tolist()
        out["uninformed_per_lot_ticks"] = ratio(mk - mki, lk - lki)[0].tolist()
    out["_per_path"] = (mk, lk)
    return out


def choose_horizon(curve: dict, max_ns: int) -> tuple[int, str]:
    """The decomposition horizon read off the baseline's markout curve: the shortest grid horizon after which
    the curve stays within 10 % of its largest magnitude, or within two standard errors across paths, at
    every longer horizon up to ``max_ns``. Returns (index into the grid, the rule as text)."""
    hs = grid_ns(curve["horizons"])
    use = [i for i, h in enumerate(hs) if h <= max_ns and np.isfinite(curve["per_lot_ticks"][i])]
    rule = (f"the shortest horizon after which the baseline's markout curve stays within "
            f"{SETTLE_TOLERANCE:.0%} of its largest magnitude (or two standard errors across paths) up to "
            f"{horizon_label(int(hs[use[-1]])) if use else 'n/a'}")
    if not use:
        raise ConfigError("horizon rule: no horizon of the grid fits in the data (paths shorter than "
                          f"{horizon_label(int(hs[0]))}/{MAX_HORIZON_SHARE}); give --horizon")
    m = np.asarray(curve["per_lot_ticks"], np.float64)
    mk, lk = curve["_per_path"]
    scale = np.nanmax(np.abs(m[use])) if len(use) else 0.0
    for a_pos, i in enumerate(use):
        ok = True
        for j in use[a_pos + 1:]:
            diff = m[j] - m[i]
            se = np.nan
            P = mk.shape[0]
            if P >= 2:  # linearised ratio estimator: each path's contribution to the change from i to j
                Li, Lj = lk[:, i].sum(), lk[:, j].sum()
                if Li > 0 and Lj > 0:
                    u = (mk[:, j] - m[j] * lk[:, j]) / Lj - (mk[:, i] - m[i] * lk[:, i]) / Li
                    se = float(math.sqrt((u ** 2).sum() * P / (P - 1)))
            tol = max(SETTLE_TOLERANCE * scale, 2 * se if np.isfinite(se) else 0.0)
            if abs(diff) > tol:
                ok = False
                break
        if ok:
            return i, rule
    return use[-1], rule


# --------------------------------------------------------------------------------------------- pooling
def _est(reps: np.ndarray, est: float, confidence: float) -> dict:
    f = lambda v: float(v) if v is not None and math.isfinite(float(v)) else None  # noqa: E731
    if reps is None or len(reps) < 2:
        return {"estimate": f(est), "ci_low": None, "ci_high": None, "se": None}
    lo, hi = percentile_interval(reps[:, None], confidence)
    return {"estimate": f(est), "ci_low": f(lo[0]), "ci_high": f(hi[0]), "se": f(np.std(reps, ddof=1))}


def _normal_quantile(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def _split(tot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fewer fills / better fills parts of the AS-cost saving from totals (…, lots_b, lots_t, cost_b, cost_t)."""
    lb, lt, cb, ct = tot[..., 0], tot[..., 1], tot[..., 2], tot[..., 3]
    per_lot_b = np.where(lb > 0, cb / np.where(lb > 0, lb, 1), 0.0)
    per_lot_t = np.where(lt > 0, ct / np.where(lt > 0, lt, 1), 0.0)
    return (lb - lt) * per_lot_b, lt * (per_lot_b - per_lot_t)


def pooled_report(pairs: Sequence[PathPair], *, horizon: Any = None, block: Any = None, n_boot: int = 2000,
                  seed: int = 0, confidence: float = CONFIDENCE, vs_horizon: bool = True) -> dict:
    """The pooled answer over the paths: per-path table, pooled estimates with two-level bootstrap intervals,
    markout curves, the horizon (chosen by the rule unless given), savings against horizon, the fills split,
    and flags (paths that disagree, too few paths or blocks). JSON-ready; ``_resample`` and ``_reps_h`` (the replicates at the chosen horizon) carry
    what a sweep needs to keep its points paired."""
    if not pairs:
        raise ConfigError("compare: no paths")
    bin_ns = int(pairs[0].baseline.frame.attrs.get("bin_ns", parse_horizon(BIN)))
    grid = list(pairs[0].baseline.frame.attrs.get("grid", HORIZON_GRID))
    hs = grid_ns(grid)
    shortest = min(p.n_bins for p in pairs) * bin_ns
    warnings: list[str] = []
    curve_b, curve_t = markout_curve(pairs, "baseline", grid), markout_curve(pairs, "treated", grid)
    nb = int(sum(p.baseline.frame["n_fills"].sum() for p in pairs))
    nt = int(sum(p.treated.frame["n_fills"].sum() for p in pairs))
    no_fills = nb == 0 and nt == 0
    if no_fills:
        warnings.append("neither run has fills: nothing to compare (estimates are null)")
    elif nb == 0 or nt == 0:
        empty = "baseline" if nb == 0 else "treated"
        warnings.append(f"the {empty} run has no fills: its spread capture, adverse selection and PnL are 0, "
                        "so the estimates are the other run's figures")
    if horizon is None and no_fills:
        hi = int(np.flatnonzero(hs == parse_horizon("1s"))[0])
        H, rule = int(hs[hi]), "no fills to read a markout curve from: 1s"
    elif horizon is None:
        hi, rule = choose_horizon(curve_b if nb else curve_t, int(MAX_HORIZON_SHARE * shortest))
        if not nb:
            rule += " (the treated arm's curve: the baseline has no fills)"
        H = int(hs[hi])
    else:
        H = parse_horizon(horizon, "--horizon")
        if H > shortest:
            raise ConfigError(f"--horizon {horizon_label(H)}: beyond the data's end (the shortest path spans "
                              f"{shortest / 1e9:g} s)")
        if H not in set(hs.tolist()):
            raise ConfigError(f"--horizon {horizon_label(H)}: not on the markout grid ({', '.join(grid)})")
        hi, rule = int(np.flatnonzero(hs == H)[0]), "given by --horizon"
    per_path = [paired_figures(p, hi) for p in pairs]   # the chosen horizon's figures, path by path
    # block length: from the data unless given
    if block is None:
        block_bins = auto_block_bins([x[:, 4] for x in per_path])
        block_rule = "Politis–White (circular), median over paths"
    else:
        B = parse_horizon(block, "--block")
        if B % bin_ns:
            raise ConfigError(f"--block {horizon_label(B)}: must be a whole number of {horizon_label(bin_ns)} bins")
        block_bins = B // bin_ns
        block_rule = "given by --block"
    rs = Resample.draw([p.n_bins for p in pairs], block_bins, n_boot, seed)
    X = np.vstack(per_path)
    P = len(pairs)
    est = X.sum(axis=0) / P
    # one call: every figure (at every horizon, for the savings-vs-horizon curve) shares the replicates
    ncol = X.shape[1]
    if vs_horizon:
        per_h = [X if i == hi else np.vstack([paired_figures(p, i) for p in pairs]) for i in range(len(hs))]
        reps_all = rs.replicates(np.hstack(per_h))
        reps = reps_all[:, hi * ncol:(hi + 1) * ncol]
    else:
        reps = rs.replicates(X)
    estimates = {key: _est(reps[:, j], est[j], confidence) for j, key in enumerate(FIGURES)}
    if no_fills:
        estimates = {key: _est(None, None, confidence) for key in FIGURES}
    few, better = _split(est[5:9])
    rf, rb = _split(reps[:, 5:9])
    split = {"fewer_fills": _est(rf, float(few), confidence), "better_fills": _est(rb, float(better), confidence),
             "lots_per_path": {"baseline": float(est[5]), "treated": float(est[6])}}
    # per path: totals, the within-path interval (the same block length), and the heterogeneity between paths
    offs = np.concatenate([[0], np.cumsum([p.n_bins for p in pairs])])
    table = []
    pooled_net = est[4]
    z = float(_normal_quantile(0.5 + confidence / 2))
    within_se = []
    for k, p in enumerate(pairs):
        Xp = X[offs[k]:offs[k + 1]]
        tot = Xp.sum(axis=0)
        row = {"path": p.label, **p.info, "n_bins": p.n_bins}
        for j, key in enumerate(FIGURES):
            row[key] = float(tot[j])
        row["n_fills_baseline"] = int(p.baseline.frame["n_fills"].sum())
        row["n_fills_treated"] = int(p.treated.frame["n_fills"].sum())
        r = Resample.draw([p.n_bins], block_bins, min(n_boot, 1000), seed + 1 + k).replicates(Xp[:, 4])
        lo, hi_ = percentile_interval(r[:, None], confidence)
        row["net_ci_low"], row["net_ci_high"] = float(lo[0]), float(hi_[0])
        row["net_se_within"] = float(np.std(r, ddof=1)) if len(r) > 1 else float("nan")
        within_se.append(row["net_se_within"])
        table.append(row)
    # tau^2: the variance of the paths' net totals beyond their own time-block noise (method of moments, as in
    # a random-effects meta-analysis). A path's interval for the across-path mean needs both: one path's own
    # interval covers it too rarely (measured: docs/analytics.md, benchmarks/bench_coverage.py).
    nets = np.array([row["net_pnl_difference"] for row in table])
    tau2 = float(max(0.0, np.var(nets, ddof=1) - np.nanmean(np.square(within_se)))) if P > 1 else float("nan")
    flagged = 0
    for row in table:
        if P > 1:
            half = z * math.sqrt(row["net_se_within"] ** 2 + tau2)
            row["net_pi_low"], row["net_pi_high"] = row["net_pnl_difference"] - half, row["net_pnl_difference"] + half
            row["disagrees"] = bool(not (row["net_pi_low"] <= pooled_net <= row["net_pi_high"]))
        else:
            row["net_pi_low"] = row["net_pi_high"] = None
            row["disagrees"] = False
        flagged += row["disagrees"]
    heterogeneity = {"tau": math.sqrt(tau2) if P > 1 else None,
                     "between_path_sd": float(np.std(nets, ddof=1)) if P > 1 else None,
                     "mean_within_path_se": float(np.nanmean(within_se)),
                     "what": "tau: the standard deviation of the paths' net differences beyond their own time-block "
                             "noise; a path is flagged when its net difference ± z·sqrt(se_within² + tau²) "
                             "excludes the pooled estimate"}
    if P < 2:
        warnings.append("one path: the interval describes this sample's time blocks only, not other market "
                        "paths (use --seeds for synthetic scenarios, several stores or --windows for real data)")
    elif flagged:
        expected = (1 - confidence) * P
        warnings.append(f"{flagged} of {P} paths disagree with the pooled estimate beyond their own noise and the "
                        f"spread between paths (about {expected:.1f} expected by chance at {confidence:.0%}): see "
                        "the per-path table")
    n_blocks = sum(math.ceil(p.n_bins / block_bins) for p in pairs)
    if n_blocks < 20:
        warnings.append(f"only {n_blocks} blocks in all: the intervals are rough")
    # savings against horizon, for the report
    vs_h = []
    for i, h in enumerate(hs):
        if h > shortest or not vs_horizon:
            continue
        r_i = reps_all[:, i * ncol:i * ncol + 1]
        e = _est(r_i[:, 0], float(per_h[i][:, 0].sum() / P), confidence)
        vs_h.append({"horizon": grid[i], "horizon_ns": int(h), "as_cost_saving": e})
    for c in (curve_b, curve_t):
        c.pop("_per_path", None)
    report = {
        "n_paths": P,
        "partial": bool(no_fills or nb == 0 or nt == 0),
        "n_fills": {"baseline": nb, "treated": nt},
        "per": "mean per path",
        "horizon": horizon_label(H), "horizon_ns": H, "horizon_rule": rule,
        "bin": horizon_label(bin_ns), "block": horizon_label(block_bins * bin_ns), "block_bins": block_bins,
        "block_rule": block_rule, "n_blocks": n_blocks, "n_boot": int(n_boot), "seed": int(seed),
        "confidence": confidence,
        "estimates": estimates,
        "as_saving_split": split,
        "identity": "net_pnl_difference = as_cost_saving - spread_capture_given_up + inventory_difference "
                    "- fees_difference (per path, in currency)",
        "markout_curves": {"baseline": curve_b, "treated": curve_t},
        "as_saving_vs_horizon": vs_h,
        "paths": table,
        "heterogeneity": heterogeneity,
        "warnings": warnings,
        "units": f"quote currency per path (tick_size x lot_size = {pairs[0].baseline.value} per tick·lot)",
    }
    report["_resample"], report["_reps_h"], report["_hi"] = rs, reps, hi
    return report


# --------------------------------------------------------------------------------------------- arms and paths
_LIMIT_KEYS = ("max_position", "size")


def _limits(spec: str) -> Optional[dict]:
    from mmsim.engine.loader import BuiltinSpec, load_strategy

    obj, _ = load_strategy(spec)
    if isinstance(obj, BuiltinSpec):
        return {k: obj.params.get(k) for k in _LIMIT_KEYS if k in obj.params}
    got = {k: getattr(obj, k) for k in _LIMIT_KEYS if hasattr(obj, k)}
    return got or None


def check_one_quoted(scenario: Any, command: str = "compare") -> None:
    """``compare`` and ``sweep`` measure adverse selection on one quoted instrument (its fills against its own
    mid path). A scenario quoting several venues would mix fills of one venue with another's mids, or leave out
    a cross-venue strategy's PnL on the other venues: one clear line instead (docs/venues.md)."""
    quoted = [n for n, v in getattr(scenario, "signals", {}).items() if getattr(v, "quoted", False)]
    if quoted:
        raise ConfigError(f"{command}: scenario {scenario.name} quotes several venues ({', '.join(quoted)} besides the "
                          f"first); {command} measures adverse selection on one quoted instrument — run it with "
                          "`mmsim run` for every venue's PnL, or set quoted = false on "
                          f"[venues.{quoted[0]}] to use it as a signal venue")


def check_matched(baseline: str, treated: str, *, unmatched: bool = False) -> list[str]:
    """Risk limits must match between the arms (fees do by construction: both arms run with the scenario's).
    A mismatch is a ConfigError unless ``unmatched``; returns the notes every output must carry."""
    notes: list[str] = []
    lb, lt = _limits(baseline), _limits(treated)
    if lb is None or lt is None:
        which = "baseline" if lb is None else "treated"
        notes.append(f"the {which} strategy does not expose max_position/size: its risk limits are not checked "
                     "against the other arm's")
        return notes
    diff = {k: (lb.get(k), lt.get(k)) for k in ("max_position",) if lb.get(k) != lt.get(k)}
    if diff:
        what = ", ".join(f"{k} {a} vs {b}" for k, (a, b) in diff.items())
        if not unmatched:
            raise ConfigError(f"compare: the arms have different risk limits ({what}): the difference would "
                              "measure the limit, not the defence; set the same limits on both arms or pass "
                              "--unmatched")
        notes.append(f"UNMATCHED ARMS ({what}): the difference includes the effect of the different limits")
    if not lb.get("max_position") and not lt.get("max_position"):
        notes.append("both arms are uncapped (max_position=0): inventory marked to market dominates the net "
                     "difference's variance; a cap on both arms (e.g. max_position=5) measures the defence")
    return notes


def parse_seeds(text: str) -> list[int]:
    """``"1-40"``, ``"1,3,7"``, ``"1-5,9"`` -> sorted unique seeds; ConfigError naming the text."""
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ConfigError(f"--seeds {text}: expected seeds like 1-40 or 1,3,7") from None
        if a < 0 or b < a:
            raise ConfigError(f"--seeds {text}: '{part}' is not a range A-B of seeds with 0 <= A <= B")
        twice = out.intersection(range(a, b + 1))
        if twice:
            raise ConfigError(f"--seeds {text}: seed {min(twice)} given twice (overlapping paths would count one "
                              "market history twice)")
        out.update(range(a, b + 1))
    if not out:
        raise ConfigError(f"--seeds {text}: no seeds")
    return sorted(out)


def events_labelled(events: np.ndarray) -> bool:
    return bool((np.asarray(events)["flags"] & R.FLAG_INFORMED).any())
