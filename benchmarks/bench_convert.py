"""Conversion speed of `mmsim data convert`, per format, on the full real samples.

    python benchmarks/bench_convert.py [--repeat 3] [--data ../shared/data]   # -> benchmarks/results/convert.json

- lobster: the two AMZN sample zips (1 and 5 levels), read straight from the zip.
- binance: the BTCUSDT USD-M capture (two passes: the skew estimate, then the conversion).
- tardis: no Tardis sample is available, so the Binance sample's converted events are written out as
  Tardis ``incremental_book_L2`` + ``trades`` CSV files (same rows, real market) and converted back.
- parquet: the same events written as a float (currency-unit) Parquet file of the documented schema.

Each measurement runs in a fresh subprocess (peak RSS is that process's ``ru_maxrss``), converts into a
temporary store and is repeated ``--repeat`` times; the fastest counts. ``rows/s`` counts rows written to the
store, ``input/s`` lines (or Parquet rows) read.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "convert.json"

_CHILD = r"""
import json, resource, sys, time, tempfile, shutil
from pathlib import Path
from mmsim.data.adapters import convert
fmt, out, kw, inputs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:]
t0 = time.perf_counter()
meta = convert(fmt, inputs, out, **kw)
wall = time.perf_counter() - t0
rep = meta["report"]
print(json.dumps({"wall_s": wall, "n_rows": meta["n_rows"],
                  "n_input": rep.get("n_input_lines", rep.get("n_input_rows")),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def measure(fmt: str, inputs: list[Path], kw: dict, repeat: int, tmp: Path) -> dict:
    best = None
    for _ in range(repeat):
        out = tmp / f"{fmt}.mmstore"
        r = subprocess.run([sys.executable, "-c", _CHILD, fmt, str(out), json.dumps(kw), *map(str, inputs)],
                           capture_output=True, text=True, check=True)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        if best is None or res["wall_s"] < best["wall_s"]:
            best = res
    best["rows_per_s"] = best["n_rows"] / best["wall_s"]
    best["input_per_s"] = best["n_input"] / best["wall_s"]
    best["inputs"] = [p.name for p in inputs]
    best["input_bytes"] = sum(p.stat().st_size for p in inputs)
    return best


def tardis_and_parquet_from(store_dir: Path, tmp: Path) -> tuple[list[Path], Path]:
    """Write the converted Binance events as Tardis CSVs and as a float Parquet file."""
    import numpy as np
    import pandas as pd

    from mmsim import records as R
    from mmsim.data.store import EventStore

    st = EventStore(store_dir)
    tick, lot = st.instrument.tick_size, st.instrument.lot_size
    book_p, trade_p = tmp / "bench_incremental_book_L2.csv", tmp / "bench_trades.csv"
    with open(book_p, "w") as fb, open(trade_p, "w") as ft:
        fb.write("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n")
        ft.write("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n")
        tid, snap = 0, False
        for ch in st.iter_chunks():
            us = ch["exch_ts"] // 1000
            loc = ch["recv_ts"] // 1000
            for k in range(len(ch)):
                kind = ch["kind"][k]
                if kind == R.CLEAR:
                    snap = True
                    continue
                px = f"{ch['price'][k] * tick:.1f}"
                amt = f"{ch['qty'][k] * lot:.3f}"
                if kind == R.DEPTH:
                    side = "bid" if ch["side"][k] > 0 else "ask"
                    fb.write(f"binance-futures,BTCUSDT,{us[k]},{loc[k]},{'true' if snap else 'false'},{side},"
                             f"{px},{amt}\n")
                else:
                    snap = False
                    tid += 1
                    side = "buy" if ch["side"][k] > 0 else "sell"
                    ft.write(f"binance-futures,BTCUSDT,{us[k]},{loc[k]},{tid},{side},{px},{amt}\n")
                if kind == R.DEPTH and k + 1 < len(ch) and ch["exch_ts"][k + 1] != ch["exch_ts"][k]:
                    snap = False
    ev = st.read()
    df = pd.DataFrame({"exch_ts": ev["exch_ts"], "recv_ts": ev["recv_ts"],
                       "kind": pd.Categorical.from_codes(ev["kind"].astype(np.int64) - 1,
                                                         ["depth", "trade", "clear"]).astype(str),
                       "side": ev["side"], "price": ev["price"] * tick, "qty": ev["qty"] * lot})
    pq_p = tmp / "bench_events.parquet"
    df.to_parquet(pq_p, index=False)
    return [book_p, trade_p], pq_p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    data = Path(args.data)
    lob1 = data / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"
    lob5 = data / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    bn = data / "binance" / "usdm_btcusdt_20240808.gz"
    for p in (lob1, lob5, bn):
        if not p.is_file():
            sys.exit(f"bench_convert: {p} not found (the full samples live in ../shared/data)")
    sizes = {"tick_size": 0.1, "lot_size": 0.001}
    results = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        results["lobster_level1"] = measure("lobster", [lob1], {}, args.repeat, tmp)
        results["lobster_level5"] = measure("lobster", [lob5], {}, args.repeat, tmp)
        results["binance"] = measure("binance", [bn], sizes, args.repeat, tmp)
        from mmsim.data.adapters import convert

        convert("binance", [bn], tmp / "src.mmstore", **sizes)
        tardis_files, pq_file = tardis_and_parquet_from(tmp / "src.mmstore", tmp)
        results["tardis_from_binance_sample"] = measure("tardis", tardis_files, sizes, args.repeat, tmp)
        results["parquet_from_binance_sample"] = measure("parquet", [pq_file], sizes, args.repeat, tmp)
    import numpy
    import pyarrow

    record = {
        "what": "mmsim data convert: rows written per second (rows_per_s) and input lines read per second "
                "(input_per_s), fastest of --repeat runs, each in a fresh process",
        "repeat": args.repeat,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "numpy": numpy.__version__, "pyarrow": pyarrow.__version__},
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    w = max(len(k) for k in results)
    print(f"{'input':<{w}}  {'rows':>9}  {'input':>9}  {'s':>6}  {'rows/s':>9}  {'input/s':>9}  {'peak RSS':>9}")
    for k, r in results.items():
        print(f"{k:<{w}}  {r['n_rows']:>9,}  {r['n_input']:>9,}  {r['wall_s']:>6.2f}  {r['rows_per_s']:>9,.0f}  "
              f"{r['input_per_s']:>9,.0f}  {r['peak_rss_bytes'] / 2**20:>6.0f} MiB")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
