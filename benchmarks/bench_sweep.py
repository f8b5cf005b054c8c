"""A 16-point latency sweep with 1 and with 2 Dask workers: wall time and speed-up (same results).

    python benchmarks/bench_sweep.py [--rows 100000]

Points: 8 feed latencies x 2 compute profiles, symmetric vs skew_pull (no model: the treated rule falls
back to symmetric quotes, so each point costs what a real one costs minus inference). Writes
benchmarks/results/sweep.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from mmsim.analysis.sweep import SweepSpec, run_sweep

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    spec = SweepSpec(scenario="toxic_burst", baseline="symmetric:half_spread=1", treated="symmetric:half_spread=2",
                     feed_latencies=("0", "1ms", "2ms", "5ms", "10ms", "20ms", "50ms", "100ms"),
                     compute_latencies=("profile:high_clock", "profile:cheap_cloud_vcpu"), block="10s",
                     n_boot=1000, rows=args.rows)
    out = {"benchmark": "sweep", "points": len(spec.points()), "rows": args.rows, "results": {}}
    frames = {}
    for workers in (1, 2):
        d = Path(tempfile.mkdtemp(prefix=f"mmsim_sweep_{workers}_"))
        t = time.perf_counter()
        run_sweep(spec, d, workers=workers, progress=False)
        out["results"][f"workers_{workers}"] = {"wall_s": time.perf_counter() - t}
        frames[workers] = pd.read_parquet(d / "sweep.parquet")
        shutil.rmtree(d)
    out["speedup_2_over_1"] = out["results"]["workers_1"]["wall_s"] / out["results"]["workers_2"]["wall_s"]
    out["identical_results"] = bool(frames[1].equals(frames[2]))
    (HERE / "results" / "sweep.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
