"""Do the intervals hold their level? Coverage of mmsim compare's intervals on a synthetic preset.

Runs a matched pair of quoters (both capped) on many market paths of one preset (one seed each) and measures

1. **per-path intervals**: the share of the paths' own 95 % intervals (the block bootstrap within a path, the
   block length chosen by Politis–White as compare does) that cover the across-path mean of the net
   difference — the quantity a one-path answer claims to estimate;
2. **pooled intervals**: the paths are cut into groups of ``--group`` (20); each group's pooled 95 % interval
   (two-level bootstrap: paths, then blocks) is checked against the mean of all the *other* paths (200 or
   more): the share that cover it.

Both should be near 0.95; far below means the method understates the uncertainty (the check is not to be
loosened: the method is to be fixed). Writes benchmarks/results/coverage.json; figures in docs/analytics.md.

    python benchmarks/bench_coverage.py --paths 220 --rows 100000
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from _common import cpu_name  # benchmarks/ is on sys.path when a script runs

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "coverage.json"
FIGURE = 4  # net_pnl_difference in mmsim.analysis.paths.paired_figures


def one_path(args: tuple) -> tuple:
    """Both arms on one seed of the preset: the PathPair (per-bin figures)."""
    scenario, seed, rows, baseline, treated, model = args
    import dataclasses

    from mmsim.analysis.markouts import mid_series
    from mmsim.analysis.paths import PathPair, arm_bins
    from mmsim.data.scenario import load_scenario
    from mmsim.engine.sim import simulate

    sc = load_scenario(scenario)
    sc = dataclasses.replace(sc, source={**sc.source, "seed": int(seed)})
    events, inst = sc.load_events(limit=rows)
    mids = mid_series(events)
    kw = {**sc.sim_kwargs(), "seed": 0, "progress": False, "model": model}
    arms = [arm_bins(simulate(events, inst, s, **kw), events, mids, tick_size=inst.tick_size, lot_size=inst.lot_size)
            for s in (baseline, treated)]
    return PathPair(f"seed {seed}", arms[0], arms[1], {"seed": int(seed)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="toxic_burst")
    ap.add_argument("--paths", type=int, default=220)
    ap.add_argument("--group", type=int, default=20)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--baseline", default="symmetric:half_spread=1,max_position=5")
    ap.add_argument("--treated", default="skew_pull:half_spread=1,k=1,threshold=0.5,max_position=5")
    ap.add_argument("--model", help="model file for the treated quoter (default: train one on toxic_burst_train, "
                    "linear, 1s, as the worked example does)")
    ap.add_argument("--horizon", default="5s")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args(argv)

    from mmsim.analysis.bootstrap import Resample, auto_block_bins, percentile_interval
    from mmsim.analysis.paths import grid_ns, paired_figures, parse_horizon, pooled_report

    t0 = time.perf_counter()
    model = a.model
    if model is None:
        import tempfile

        from mmsim.cli import main as cli

        model = str(Path(tempfile.mkdtemp()) / "model.json")
        if cli(["train", "toxic_burst_train", "--model", "linear", "--horizon", "1s", "--out", model]) != 0:
            raise SystemExit("training the model failed")
    jobs = [(a.scenario, s, a.rows, a.baseline, a.treated, model) for s in range(1, a.paths + 1)]
    with ProcessPoolExecutor(a.workers) as ex:
        pairs = list(ex.map(one_path, jobs, chunksize=4))
    t_run = time.perf_counter() - t0
    hi = int(np.flatnonzero(grid_ns() == parse_horizon(a.horizon))[0])
    X = [paired_figures(p, hi) for p in pairs]
    totals = np.array([x[:, FIGURE].sum() for x in X])
    mean_all = float(totals.mean())
    block = auto_block_bins([x[:, FIGURE] for x in X])

    # 1. per-path intervals vs the across-path mean: the path's own block-bootstrap interval, and the
    #    interval compare uses for flagging, which adds the heterogeneity between paths (tau^2)
    cover, widths, ses = 0, [], []
    for k, x in enumerate(X):
        rs = Resample.draw([len(x)], block, a.n_boot, k)
        r = rs.replicates(x[:, FIGURE])
        lo, hi_ = percentile_interval(r[:, None])
        cover += bool(lo[0] <= mean_all <= hi_[0])
        widths.append(float(hi_[0] - lo[0]))
        ses.append(float(np.std(r, ddof=1)))
    ses = np.array(ses)
    tau2 = max(0.0, float(totals.var(ddof=1) - np.mean(ses ** 2)))
    half = 1.959964 * np.sqrt(ses ** 2 + tau2)
    cover_re = int(np.sum(np.abs(totals - mean_all) <= half))
    per_path = {"coverage_own_interval": cover / len(X), "coverage_with_heterogeneity": cover_re / len(X),
                "n_paths": len(X), "mean_width_own": float(np.mean(widths)), "mean_width_with_heterogeneity":
                float(np.mean(2 * half)), "tau": float(np.sqrt(tau2)), "mean_within_se": float(np.mean(ses)),
                "across_path_sd": float(totals.std(ddof=1)), "across_path_mean": mean_all}
    # 2. pooled intervals of groups of `group` paths vs the mean of all the others
    groups = [list(range(i, i + a.group)) for i in range(0, len(pairs) - a.group + 1, a.group)]
    g_cover, g_rows = 0, []
    for gi, idx in enumerate(groups):
        rep = pooled_report([pairs[i] for i in idx], horizon=a.horizon, n_boot=a.n_boot, seed=gi)
        e = rep["estimates"]["net_pnl_difference"]
        rest = np.delete(totals, idx).mean()
        ok = e["ci_low"] <= rest <= e["ci_high"]
        g_cover += bool(ok)
        g_rows.append({"group": gi, "estimate": e["estimate"], "ci": [e["ci_low"], e["ci_high"]],
                       "others_mean": float(rest), "covers": bool(ok), "block": rep["block"]})
    ideal = 2 * 1.959964 * float(totals.std(ddof=1)) / np.sqrt(a.group)
    pooled = {"coverage": g_cover / len(groups) if groups else None, "n_groups": len(groups),
              "mean_width": float(np.mean([g["ci"][1] - g["ci"][0] for g in g_rows])) if g_rows else None,
              "width_if_paths_iid_normal": ideal,
              "paths_per_group": a.group, "others_per_group": len(pairs) - a.group, "groups": g_rows}
    result = {
        "what": "coverage of mmsim compare's 95 % intervals (net PnL difference per path)",
        "command": "python benchmarks/bench_coverage.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "scenario": a.scenario, "rows_per_path": a.rows, "baseline": a.baseline, "treated": a.treated,
        "model": a.model or "linear 1s model trained on toxic_burst_train",
        "horizon": a.horizon, "block_bins": block, "n_boot": a.n_boot,
        "per_path_intervals": per_path, "pooled_intervals": pooled,
        "run_s": round(t_run, 1), "total_s": round(time.perf_counter() - t0, 1), "cpu": cpu_name(),
        "cores": os.cpu_count(),
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"per-path 95% intervals cover the across-path mean: own interval {per_path['coverage_own_interval']:.3f}, "
          f"with the heterogeneity between paths {per_path['coverage_with_heterogeneity']:.3f} of {len(X)} paths "
          f"(within-path se {per_path['mean_within_se']:.3g}, tau {per_path['tau']:.3g}, across-path sd "
          f"{per_path['across_path_sd']:.3g})")
    if groups:
        print(f"pooled 95% intervals of {a.group} paths cover the mean of the other {len(pairs) - a.group}: "
              f"{g_cover} of {len(groups)} (mean width {pooled['mean_width']:.3g}; {ideal:.3g} if the paths were "
              "iid normal: the two-level bootstrap is conservative)")
    print(f"wrote {a.out} ({result['total_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
