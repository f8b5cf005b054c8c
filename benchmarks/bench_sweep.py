"""The whole `mmsim sweep` a user runs: 40 market paths x 8 feed latencies of 200k-row toxic_burst paths,
matched capped arms, a linear model in the loop, on a local Dask cluster of 2 workers (this machine's cores).

    python benchmarks/bench_sweep.py [--paths 40] [--rows 200000] [--workers 2]

Measured in the same run: the sweep's wall time end to end (cluster start, every simulation, the per-bin
reduction, the gather with one shared bootstrap, the plot); the time one path's events take to generate, so
the saving of generating each path once per worker (40 generations) rather than once per point (320) is a
figure, not a claim; and a rerun of the finished sweep (resume: only the gather). The 2-worker run is repeated
with 1 worker on a quarter of the paths for the speed-up. Writes benchmarks/results/sweep.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from _common import cpu_name, peak_rss_bytes  # benchmarks/ is on sys.path when a script runs

HERE = Path(__file__).resolve().parent
LATENCIES = ("0", "1ms", "2ms", "5ms", "10ms", "20ms", "50ms", "100ms")


def timed_sweep(spec, workers: int) -> tuple[float, float, Path]:
    from mmsim.analysis.sweep import run_sweep

    d = Path(tempfile.mkdtemp(prefix=f"mmsim_sweep_{workers}_"))
    t = time.perf_counter()
    run_sweep(spec, d, workers=workers, progress=False)
    wall = time.perf_counter() - t
    t = time.perf_counter()
    run_sweep(spec, d, workers=workers, progress=False)      # resume of a finished sweep: gather only
    return wall, time.perf_counter() - t, d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=40)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", help="model file (default: train the worked example's linear 1s model)")
    a = ap.parse_args(argv)

    from mmsim.analysis.sweep import SweepSpec
    from mmsim.cli import main as cli
    from mmsim.data.scenario import load_scenario

    model = a.model
    if model is None:
        model = str(Path(tempfile.mkdtemp()) / "model.json")
        if cli(["train", "toxic_burst_train", "--model", "linear", "--horizon", "1s", "--out", model]) != 0:
            raise SystemExit("training the model failed")
    sc = load_scenario("toxic_burst")
    s0 = int(sc.source["seed"])
    base = dict(scenario="toxic_burst", baseline="symmetric:half_spread=1,max_position=5",
                treated="skew_pull:half_spread=1,k=1,threshold=0.5,max_position=5", feed_latencies=LATENCIES,
                model=model, n_boot=1000, rows=a.rows)
    spec = SweepSpec(**base, seeds=tuple(range(s0, s0 + a.paths)))
    small = SweepSpec(**base, seeds=tuple(range(s0, s0 + max(2, a.paths // 4))))

    import dataclasses

    t = time.perf_counter()
    dataclasses.replace(sc, source={**sc.source, "seed": s0}).load_events(limit=a.rows)
    gen_s = time.perf_counter() - t

    wall, resume, d = timed_sweep(spec, a.workers)
    summary = json.loads((d / "sweep.json").read_text())
    shutil.rmtree(d)
    small_w, _, d1 = timed_sweep(small, 1)
    f1 = pd.read_parquet(d1 / "sweep.parquet")
    shutil.rmtree(d1)
    small_w2, _, d2 = timed_sweep(small, a.workers)
    f2 = pd.read_parquet(d2 / "sweep.parquet")
    shutil.rmtree(d2)
    n_sims = a.paths * len(LATENCIES) * 2
    out = {
        "benchmark": "sweep",
        "command": "python benchmarks/bench_sweep.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "paths": a.paths, "latencies": len(LATENCIES), "rows_per_path": a.rows, "simulations": n_sims,
        "workers": a.workers, "wall_s": round(wall, 1), "target_s": 300,
        "per_simulation_s": round(wall * a.workers / n_sims, 3),
        "resume_of_finished_sweep_s": round(resume, 2),
        "generate_one_path_s": round(gen_s, 3),
        "generation_saved_s": round(gen_s * (a.paths * len(LATENCIES) - a.paths), 1),
        "speedup": {"paths": len(small.seeds), "workers_1_s": round(small_w, 1),
                    f"workers_{a.workers}_s": round(small_w2, 1), "ratio": round(small_w / small_w2, 2),
                    "identical_results": bool(f1.equals(f2))},
        "break_even": summary["break_even"], "horizon": summary["horizon"], "block": summary["block"],
        "peak_rss_bytes": peak_rss_bytes(), "cpu": cpu_name(), "cores": os.cpu_count(),
    }
    (HERE / "results" / "sweep.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "break_even"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
