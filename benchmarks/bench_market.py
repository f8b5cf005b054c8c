"""Generation speed of the synthetic market with ground truth (``mmsim.data.market.generate_market``), per preset.

    python benchmarks/bench_market.py --rows 5000000

For each preset: one warm-up call on a small run (numba compilation or cache load is not timed), then
``--repeat`` timed calls of ``generate_market(preset, rows, seed)`` (the fastest counts; every repeat must
give byte-identical events). Reported: rows/s, exchange time covered, rows per exchange second, the share of
each event kind and the informed share of market orders. Figures go to ``benchmarks/results/market.json``
and a table is printed. docs/synthetic.md quotes them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform

from _common import cpu_name  # benchmarks/ is on sys.path when a script runs
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from mmsim import records as R                      # noqa: E402
from mmsim.data.market import PRESETS, generate_market   # noqa: E402
from mmsim.data.validate import KIND_NAMES               # noqa: E402




def _versions() -> dict[str, str]:
    import numba

    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__}


def measure(preset: str, rows: int, seed: int, repeat: int) -> dict:
    generate_market(preset, 10_000, seed)   # compile / load the numba cache
    times, digest, m = [], None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        m = generate_market(preset, rows, seed)
        times.append(time.perf_counter() - t0)
        d = hashlib.sha1(m.events.tobytes()).hexdigest()
        if digest is not None and d != digest:
            raise SystemExit(f"{preset}: repeats differ (not deterministic)")
        digest = d
    ev = m.events
    best = min(times)
    span_s = (int(ev["exch_ts"][-1]) - int(ev["exch_ts"][0])) / 1e9
    kinds, counts = np.unique(ev["kind"], return_counts=True)
    out = {
        "rows": rows,
        "seconds": best,
        "rows_per_s": rows / best,
        "all_seconds": times,
        "exchange_seconds": span_s,
        "rows_per_exchange_second": rows / span_s if span_s > 0 else None,
        "kind_share": {KIND_NAMES[int(k)]: int(c) / rows for k, c in zip(kinds, counts)},
        "events_sha1": digest,
    }
    ex = np.flatnonzero(ev["kind"] == R.EXECUTE)
    if len(ex):
        e = ev[ex]
        first = np.ones(len(e), bool)
        first[1:] = (e["exch_ts"][1:] != e["exch_ts"][:-1]) | (ex[1:] != ex[:-1] + 1)
        out["market_orders"] = int(first.sum())
        out["informed_share_of_market_orders"] = float(((e["flags"][first] & R.FLAG_INFORMED) != 0).mean())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--presets", default=",".join(PRESETS), help="comma-separated (default: all)")
    ap.add_argument("--json", default=str(HERE / "results" / "market.json"))
    a = ap.parse_args(argv)
    presets = [p.strip() for p in a.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        ap.error(f"unknown preset {unknown[0]!r} (known: {', '.join(PRESETS)})")

    results = {}
    for p in presets:
        print(f"[bench] {p} ...", file=sys.stderr, flush=True)
        results[p] = measure(p, a.rows, a.seed, a.repeat)
    doc = {
        "benchmark": "market",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": _versions(),
        "params": {"rows": a.rows, "seed": a.seed, "repeat": a.repeat},
        "results": results,
    }
    out = Path(a.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")

    print(f"| preset | rows | s | rows/s | exchange time | rows per exchange s | informed share of MOs |")
    print("|---|---|---|---|---|---|---|")
    for p, r in results.items():
        share = r.get("informed_share_of_market_orders")
        print(f"| {p} | {r['rows']:,} | {r['seconds']:.3f} | {r['rows_per_s'] / 1e6:.1f} M | "
              f"{r['exchange_seconds'] / 60:.0f} min | {r['rows_per_exchange_second']:.0f} | "
              f"{'' if share is None else f'{share:.3f}'} |")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
