"""The cost of starting a store at a time T: rebuilding the book from the rows before T (docs/data.md,
"Windows and start times").

    python benchmarks/bench_seek.py [--rows 5000000] [--shared ../shared/data]

Builds a synthetic L3 store (the ``quiet`` market) and a synthetic L2 store (``generate_l2``) of ``--rows`` rows,
converts the real samples when present (LOBSTER AMZN level 5, Binance USD-M), and times ``EventStore.window(T)``
at a quarter, half and nine tenths of each store's span: seconds per million rows replayed (the best of 3 runs).
Writes benchmarks/results/seek.json.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def build_synthetic(d: Path, rows: int) -> dict:
    from mmsim import Instrument
    from mmsim.data.market import generate_market
    from mmsim.data.store import write_store
    from mmsim.data.synthetic import generate_l2

    out = {}
    write_store(d / "l3.mmstore", [generate_market("quiet", rows, 1).events], Instrument(0.01, 1))
    out["synthetic L3 (quiet)"] = d / "l3.mmstore"
    write_store(d / "l2.mmstore", [generate_l2(rows, seed=1)], Instrument(0.01, 1))
    out["synthetic L2 (generate_l2)"] = d / "l2.mmstore"
    return out


def build_real(d: Path, shared: Path) -> dict:
    from mmsim.data.adapters import convert

    out = {}
    lob = shared / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    if lob.is_file():
        convert("lobster", [lob], d / "amzn5.mmstore")
        out["LOBSTER AMZN level 5"] = d / "amzn5.mmstore"
    bn = shared / "binance" / "usdm_btcusdt_20240808.gz"
    if bn.is_file():
        convert("binance", [bn], d / "usdm.mmstore", tick_size=0.1, lot_size=0.001)
        out["Binance USD-M BTCUSDT"] = d / "usdm.mmstore"
    return out


def measure(path: Path) -> dict:
    from mmsim.data.store import EventStore

    store = EventStore(path)
    first, last = int(store.meta["first_ts"]), int(store.meta["last_ts"])
    res = {"n_rows": store.n_rows, "mode": store.meta["mode"], "points": []}
    for frac in (0.25, 0.5, 0.9):
        t = first + int(frac * (last - first))
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            view = store.window(t)
            wall = time.perf_counter() - t0
            best = wall if best is None else min(best, wall)
        n = view.seek["rows_replayed"]
        res["points"].append({"fraction": frac, "rows_replayed": n, "snapshot_rows": view.seek["snapshot_rows"],
                              "window_s": best, "s_per_million_rows": best / n * 1e6 if n else None})
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    args = ap.parse_args()
    out: dict = {"rows": args.rows, "stores": {}}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        stores = {**build_real(d, Path(args.shared)), **build_synthetic(d, args.rows)}
        for name, path in stores.items():
            out["stores"][name] = measure(path)
            for p in out["stores"][name]["points"]:
                print(f"{name:<28} T at {p['fraction']:.2f}: {p['rows_replayed']:>10,} rows replayed, snapshot "
                      f"{p['snapshot_rows']:>6,} rows, {p['window_s']:.3f} s = {p['s_per_million_rows']:.3f} s/M rows")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "seek.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS / 'seek.json'}")


if __name__ == "__main__":
    main()
