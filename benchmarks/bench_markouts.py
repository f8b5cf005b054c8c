"""Markout computation speed (``mmsim.analysis.markouts``): 1 M synthetic fills at 4 horizons.

    python benchmarks/bench_markouts.py --fills 1000000 --rows 2000000

Events: ``generate_market("quiet", rows, seed)`` (L3, ground-truth labels). Fills: ``--fills`` synthetic own
fills at uniformly random exchange times over the data's span (sorted), random side, 1–5 lots, price one tick
inside or outside the mid, ``data_row`` = the last row at or before the fill. Timed, best of ``--repeat``
after one warm-up (numba compilation is not timed):

- ``mid_series``: the exchange-side mid after every event (book replay, ``mmsim.signals.cks.level1``);
- ``fill_log``: the per-fill log — mids, spread capture, markouts and adverse selection at 100 ms, 1 s,
  10 s, 60 s, the decomposition at 1 s and the counterparty labels (the markout computation proper);
- ``analyze``: ``fill_log`` plus the run totals (decomposition, markouts, toxicity, fill rate), given the mids.

Figures go to ``benchmarks/results/markouts.json`` and a table is printed. docs/analytics.md quotes them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform

from _common import cpu_name  # benchmarks/ is on sys.path when a script runs
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from mmsim import records as R                                  # noqa: E402
from mmsim.analysis.markouts import DEFAULT_HORIZONS, analyze, fill_log, mid_series  # noqa: E402
from mmsim.data.market import generate_market                        # noqa: E402
from mmsim.engine.results import to_frames                             # noqa: E402
from mmsim.engine.sim import RunResult                                 # noqa: E402




def synthetic_fills(events: np.ndarray, mids, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ts = events["exch_ts"]
    t = np.sort(rng.integers(int(ts[0]), int(ts[-1]) + 1, n))
    side = rng.choice(np.array([-1, 1], np.int8), n)
    f = np.zeros(n, R.FILL_DTYPE)
    f["fill_id"] = np.arange(n)
    f["order_id"] = np.arange(n)
    f["exch_ts"] = t
    f["recv_ts"] = t
    f["side"] = side
    f["qty"] = rng.integers(1, 6, n)
    mid2 = mids.at_time(t)
    f["price"] = (mid2 - side * (1 + rng.integers(0, 2, n))) // 2
    f["data_row"] = np.maximum(mids.row_at(t), 0)
    f["position"] = np.cumsum(side.astype(np.int64) * f["qty"])
    f["maker"] = 1
    f["cause"] = R.CAUSE_EXECUTE
    return f


def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fills", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "markouts.json"))
    a = ap.parse_args(argv)

    ev = generate_market("quiet", a.rows, a.seed).events
    small = ev[:10_000]
    mid_series(small)  # compile / load the numba cache of the book replay
    t_mid, all_mid, mids = best(lambda: mid_series(ev), a.repeat)
    arr = synthetic_fills(ev, mids, a.fills, a.seed)
    fills, _, _ = to_frames(arr, None, None)
    kw = dict(horizons=DEFAULT_HORIZONS, horizon="1s", tick_size=0.01, lot_size=1.0)
    fill_log(fills.iloc[:1000], mids, events=ev, **kw)
    t_log, all_log, (log, _, info) = best(lambda: fill_log(fills, mids, events=ev, **kw), a.repeat)
    res = RunResult(fills=fills, orders=None, decisions=None, summary={})
    t_an, all_an, an = best(lambda: analyze(res, ev, mids=mids, **kw), a.repeat)
    span_s = (int(ev["exch_ts"][-1]) - int(ev["exch_ts"][0])) / 1e9
    out = {
        "benchmark": "markouts",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "pandas": __import__("pandas").__version__},
        "params": {"fills": a.fills, "rows": a.rows, "seed": a.seed, "repeat": a.repeat,
                   "horizons": list(DEFAULT_HORIZONS), "decomposition_horizon": "1s"},
        "results": {
            "exchange_seconds": span_s,
            "mid_series_s": t_mid, "mid_series_all_s": all_mid, "mid_rows_per_s": a.rows / t_mid,
            "fill_log_s": t_log, "fill_log_all_s": all_log, "fills_per_s": a.fills / t_log,
            "analyze_s": t_an, "analyze_all_s": all_an,
            "columns": int(log.shape[1]),
            "partial": info["partial"],
            "markout_per_lot_ticks": {k: v["per_lot_ticks"] for k, v in an.totals["markouts"].items()},
        },
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"{a.fills:,} fills x {len(DEFAULT_HORIZONS)} horizons over {a.rows:,} events "
          f"({span_s:,.0f} s of exchange time)")
    print("| step | seconds (best of %d) | rate |" % a.repeat)
    print("|---|---|---|")
    print(f"| mid_series ({a.rows:,} events) | {t_mid:.3f} | {a.rows / t_mid:,.0f} events/s |")
    print(f"| fill_log (markouts, {a.fills:,} fills) | {t_log:.3f} | {a.fills / t_log:,.0f} fills/s |")
    print(f"| analyze (fill_log + totals) | {t_an:.3f} | {a.fills / t_an:,.0f} fills/s |")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
