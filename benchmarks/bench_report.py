"""Report generation time (``mmsim report``): one compare folder of ``toxic_burst`` plus a sweep.

    python benchmarks/bench_report.py [--rows 200000] [--repeat 3]

Builds (untimed) a compare folder (``symmetric:half_spread=1`` vs ``symmetric:half_spread=2``, ``--block 10s``,
200 bootstrap replicates) over the first ``--rows`` events and a 3-point feed-latency sweep at ``DIR/sweep``
(computed in-process, no Dask), then times ``write_report(DIR)`` (read the Parquet/JSON inputs, draw the five
figures with matplotlib Agg, write ``report.html``) best of ``--repeat``, in a fresh process each time so that
the matplotlib/pandas import cost is counted as a user sees it (``import_and_write_s``), and in-process after a
warm-up (``write_s``). Figures go to ``benchmarks/results/report.json``; docs/report.md quotes them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform

from _common import cpu_name  # benchmarks/ is on sys.path when a script runs
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from mmsim.cli import main as cli                              # noqa: E402
from mmsim.analysis.report import write_report                          # noqa: E402
from mmsim.analysis.sweep import SweepSpec, run_path, run_sweep        # noqa: E402




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "report.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "cmp"
        assert cli(["compare", "toxic_burst", "--baseline", "symmetric:half_spread=1", "--treated",
                    "symmetric:half_spread=2", "--rows", str(a.rows), "--seeds", "1-3", "--block", "10s",
                    "--n-boot", "200",
                    "--out", str(d)]) == 0
        spec = SweepSpec(scenario="toxic_burst", baseline="symmetric:half_spread=1",
                         treated="symmetric:half_spread=2", feed_latencies=("0", "1ms", "10ms"),
                         compute_latencies=("0",), seed=0, horizon="1s", block="10s", n_boot=200,
                         rows=min(a.rows, 40_000), seeds=(1, 2))
        for path in spec.paths():
            run_path(spec, path, spec.points(), str(d / "sweep"))
        run_sweep(spec, d / "sweep", workers=1, progress=False)
        n_fills = sum(json.loads((d / r / "summary.json").read_text())["n_fills"] for r in ("baseline", "treated"))
        write_report(d)                                          # warm-up (imports, font cache)
        warm = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            write_report(d)
            warm.append(time.perf_counter() - t)
        cold = []
        code = "import sys; from mmsim.analysis.report import write_report; write_report(sys.argv[1])"
        for _ in range(a.repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code, str(d)], check=True, cwd=ROOT)
            cold.append(time.perf_counter() - t)
        size = (d / "report.html").stat().st_size
    res = {"benchmark": "report", "rows": a.rows, "fills_both_runs": n_fills, "sweep_points": 3,
           "write_s": round(min(warm), 4), "import_and_write_s": round(min(cold), 4), "html_bytes": size,
           "repeat": a.repeat, "cpu": cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version()}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"report: {a.rows:,} rows, {n_fills:,} fills, 3 sweep points: write {res['write_s']:.3f} s "
          f"(fresh process incl. imports {res['import_and_write_s']:.3f} s), {size / 1e3:,.0f} kB HTML")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
