"""Engine benchmark: mmsim vs hftbacktest on the same synthetic L2 rows and the same quoting rule.

    python benchmarks/bench_engine.py --rows 5000000

The rule: a two-sided quote bid = floor(mid - h), ask = ceil(mid + h) (h = 1 tick, 1 lot), re-evaluated
every 100 ms on the strategy's (feed-delayed) clock; constant 1 ms feed, entry, cancel and response
latencies; risk-averse queue position; no fees. Measurements, each in a fresh subprocess (so the peak RSS
of one does not leak into another):

- ``generate``       ``mmsim.data.synthetic.generate_l2`` speed (and it writes the row cache);
- ``hftbacktest``    the rule as a numba strategy on ``HashMapMarketDepthBacktest`` (hbt_adapter.py);
- ``mmsim_native``   ``simulate(..., "symmetric:half_spread=1,size=1")`` (C++ strategy);
- ``mmsim_cfunc``    the same rule as a numba cfunc called from the C++ loop (target: <= 1.5x native time);
- ``mmsim_python``   the Python class ``mmsim.engine.strategy.SymmetricQuoter`` (on ``--python-rows`` rows).

The mmsim measurements run when ``mmsim._core`` imports; otherwise they are reported as skipped.
Rows are generated once (seeded) and cached as ``.npy`` under ``benchmarks/results/``; figures go to
``benchmarks/results/engine.json`` and a table is printed. See benchmarks/README.md for how the two
simulators' fill rules differ.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform

from _common import cpu_name  # benchmarks/ is on sys.path when a script runs
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

MEASUREMENTS = ("generate", "hftbacktest", "mmsim_native", "mmsim_cfunc", "mmsim_python")
MARK = "@@BENCH@@"   # prefix of the worker's one JSON line on stdout

TICK_SIZE = 0.01
LOT_SIZE = 1.0
LATENCY_NS = 1_000_000          # feed, entry, cancel and response: 1 ms each
INTERVAL_NS = 100_000_000       # quote refresh every 100 ms
WARMUP_ROWS = 20_000            # compile / warm caches on a prefix before timing


# ----------------------------------------------------------------------------------------------- data

def _generator_tag() -> str:
    """Short hash of the generator's source: a changed generator never reuses a stale cache."""
    import mmsim.data.synthetic as syn
    return hashlib.sha1(Path(syn.__file__).read_bytes()).hexdigest()[:10]


def cache_path(rows: int, seed: int) -> Path:
    return RESULTS / f"l2_rows{rows}_seed{seed}_{_generator_tag()}.npy"


def load_rows(rows: int, seed: int) -> np.ndarray:
    """The cached rows, generating (and caching) them if needed."""
    from mmsim.records import EVENT_DTYPE
    path = cache_path(rows, seed)
    if path.exists():
        ev = np.load(path)
        if ev.dtype == EVENT_DTYPE and len(ev) == rows:
            return ev
    from mmsim.data.synthetic import generate_l2
    ev = generate_l2(rows, seed)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, ev)
    os.replace(tmp, path)
    return ev


# ------------------------------------------------------------------------------------------ the mmsim side

def mmsim_available() -> tuple[bool, str]:
    try:
        import mmsim._core  # noqa: F401
        from mmsim.engine.sim import simulate  # noqa: F401
    except Exception as e:  # ImportError, or a half-built package
        return False, f"mmsim engine not available ({type(e).__name__}: {e})"
    return True, ""


_KEEP_ALIVE: list[Any] = []   # cfunc objects whose address C++ holds


def make_cfunc_strategy(half_spread: float, size: int):
    """The symmetric rule as a numba cfunc strategy (docs/strategies.md (b))."""
    try:
        from mmsim.engine import numba_strategy as ns
    except ImportError:
        ns = None
    # layout of the int64 context (cpp/include/mmsim/strategy.hpp CtxIndex), mirrored by mmsim.engine.numba_strategy
    BB = getattr(ns, "CI_BEST_BID", 2)
    BQ = getattr(ns, "CI_BID_QTY", 3)
    BA = getattr(ns, "CI_BEST_ASK", 4)
    AQ = getattr(ns, "CI_ASK_QTY", 5)

    def symmetric_rule(ci, cf, params, out):
        h2 = np.int64(2.0 * params[0] + 0.5)
        sz = np.int64(params[1])
        out[0] = 1
        if ci[BQ] == 0 or ci[AQ] == 0:          # one-sided book: pull both sides
            out[1] = 0
            out[2] = 0
            out[3] = 0
            out[4] = 0
            return 0
        mid2 = ci[BB] + ci[BA]
        out[1] = (mid2 - h2) // 2
        out[2] = sz
        out[3] = -((-(mid2 + h2)) // 2)
        out[4] = sz
        return 0

    params = {"half_spread": float(half_spread), "size": float(size)}
    if ns is not None and hasattr(ns, "cfunc_strategy"):
        strat = ns.cfunc_strategy(params=params)(symmetric_rule)
        _KEEP_ALIVE.append(strat)
        return strat
    # Fallback while mmsim.engine.numba_strategy is not there: compile it ourselves and wrap the address.
    from numba import cfunc, types
    from mmsim import _core
    sig = types.int32(types.CPointer(types.int64), types.CPointer(types.float64),
                      types.CPointer(types.float64), types.CPointer(types.int64))
    cf = cfunc(sig, nopython=True)(symmetric_rule)
    _KEEP_ALIVE.append(cf)
    return _core.CfuncStrategy(cf.address, [params["half_spread"], params["size"]])


def make_strategy(kind: str, half_spread: float, size: int):
    if kind == "native":
        return f"symmetric:half_spread={half_spread:g},size={size}"
    if kind == "cfunc":
        return make_cfunc_strategy(half_spread, size)
    if kind == "python":
        from mmsim.engine.strategy import SymmetricQuoter
        return SymmetricQuoter(half_spread=half_spread, size=size)
    raise ValueError(f"unknown strategy kind {kind!r}")


def run_mmsim(events: np.ndarray, strategy_spec, *, seed: int = 0) -> dict[str, Any]:
    """One mmsim run of the benchmark's configuration; ``strategy_spec`` is whatever ``simulate`` takes
    as a strategy (a spec string, a cfunc handle, a Python object)."""
    from mmsim.records import Instrument
    from mmsim.engine.sim import simulate
    t0 = time.perf_counter()
    res = simulate(
        events, Instrument(tick_size=TICK_SIZE, lot_size=LOT_SIZE), strategy_spec,
        feed_latency="1ms", entry_latency="1ms", cancel_latency="1ms", response_latency="1ms",
        compute_latency="0", timer_interval_ns=INTERVAL_NS, wake_on_feed=False, wake_on_response=False,
        queue_model="risk_averse", seed=seed,
    )
    total = time.perf_counter() - t0
    s = dict(res.summary)
    n = len(events)
    wall = float(s.get("wall_s", total) or total)
    return {
        "rows": n,
        "n_fills": int(s["n_fills"]),
        "volume": int(s.get("volume", -1)),
        "position_lots": int(s.get("position", 0)),
        "n_orders": int(s.get("n_orders", -1)),
        "n_decisions": int(s.get("n_decisions", -1)),
        "pnl": float(s.get("pnl", float("nan"))),
        "wall_s": wall,                 # the engine's own loop time (summary["wall_s"])
        "total_s": total,               # simulate() end to end: latency streams, loop, result frames
        "rows_per_s": n / wall if wall > 0 else float("nan"),
        "rows_per_s_total": n / total if total > 0 else float("nan"),
    }


# --------------------------------------------------------------------------------------------- workers

def _rss_now() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return -1


def _peak_rss() -> int:
    from _common import peak_rss_bytes  # VmHWM: ru_maxrss would report the parent's peak across exec

    return peak_rss_bytes()


def _best(runs: list[dict], time_key: str, rate_keys: tuple[str, ...]) -> dict[str, Any]:
    """The fastest of repeated runs (by ``time_key``); every run must give the same fills."""
    fills = {r["n_fills"] for r in runs}
    if len(fills) != 1:
        raise RuntimeError(f"repeated runs disagree on fills: {sorted(fills)}")
    best = dict(min(runs, key=lambda r: r[time_key]))
    best["repeat"] = len(runs)
    best[time_key + "_all"] = [r[time_key] for r in runs]
    for k in ("total_s", "convert_s"):
        if k in best:
            best[k] = min(r[k] for r in runs)
    for k in rate_keys:
        best[k] = max(r[k] for r in runs)
    return best


def worker(name: str, a: argparse.Namespace) -> dict[str, Any]:
    if name == "generate":
        from mmsim.data.synthetic import generate_l2
        t0 = time.perf_counter()
        generate_l2(1000, a.seed)                      # numba compile, or load from its disk cache
        t1 = time.perf_counter()
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            ev = generate_l2(a.rows, a.seed)
            best = min(best, time.perf_counter() - t)
            del ev
        load_rows(a.rows, a.seed)                      # make sure the cache exists
        return {"rows": a.rows, "compile_or_load_s": t1 - t0, "best_of_3_s": best,
                "rows_per_s": a.rows / best, "array_bytes": a.rows * 48}

    if name == "hftbacktest":
        import hbt_adapter  # noqa: F401
    elif mmsim_available()[0]:
        import numba  # noqa: F401
        import pandas  # noqa: F401
        import mmsim._core  # noqa: F401
        import mmsim.engine.numba_strategy  # noqa: F401
        import mmsim.engine.sim  # noqa: F401
    rss_imports = _rss_now()     # interpreter + numpy + numba + the simulator, before any data
    ev = load_rows(a.python_rows if name == "mmsim_python" else a.rows, a.seed)
    out: dict[str, Any] = {"input_bytes": int(ev.nbytes), "rss_after_imports_bytes": rss_imports}
    if name == "hftbacktest":
        from hbt_adapter import run_hbt
        rss0 = _rss_now()
        runs = [run_hbt(ev, tick_size=TICK_SIZE, lot_size=LOT_SIZE, feed_latency_ns=LATENCY_NS,
                        entry_latency_ns=LATENCY_NS, response_latency_ns=LATENCY_NS, interval_ns=INTERVAL_NS,
                        half_spread=a.half_spread, size=a.size, queue="risk_averse", exchange="no_partial",
                        requote_all=a.hbt_requote_all, warmup=(k == 0))
                for k in range(a.repeat)]
        out.update(_best(runs, "run_s", ("rows_per_s", "rows_per_s_incl_build", "rows_per_s_end_to_end")))
    else:
        ok, why = mmsim_available()
        if not ok:
            return {"skipped": why}
        kind = name.split("_", 1)[1]
        strat = make_strategy(kind, a.half_spread, a.size)
        run_mmsim(ev[:WARMUP_ROWS], strat, seed=a.seed)   # warm-up: first-call costs out of the timing
        rss0 = _rss_now()
        runs = []
        for _ in range(a.repeat):
            if kind == "python":                           # a fresh object: no state carried over
                strat = make_strategy(kind, a.half_spread, a.size)
            runs.append(run_mmsim(ev, strat, seed=a.seed))
        out.update(_best(runs, "wall_s", ("rows_per_s", "rows_per_s_total")))
        out["strategy"] = strat if isinstance(strat, str) else type(strat).__name__
    out["rss_before_run_bytes"] = rss0
    out["peak_rss_bytes"] = _peak_rss()
    return out


def run_worker_subprocess(name: str, a: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--rows", str(a.rows),
           "--python-rows", str(a.python_rows), "--seed", str(a.seed), "--half-spread", str(a.half_spread),
           "--size", str(a.size), "--repeat", str(a.repeat)]
    if a.hbt_requote_all:
        cmd.append("--hbt-requote-all")
    p = subprocess.run(cmd, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
    return {"error": f"worker {name} exited {p.returncode}: " + " | ".join(tail)}


# ---------------------------------------------------------------------------------------------- report

def _versions() -> dict[str, str]:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("numba", "hftbacktest", "mmsim"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", "?")
        except Exception:
            v[mod] = "not installed"
    return v




def compare(res: dict[str, dict]) -> dict[str, Any]:
    c: dict[str, Any] = {}
    hbt = res.get("hftbacktest", {})
    nat = res.get("mmsim_native", {})
    cfn = res.get("mmsim_cfunc", {})
    ok = lambda r: r and "rows_per_s" in r  # noqa: E731
    if ok(hbt) and ok(nat):
        c["rows_per_s_ratio_mmsim_over_hbt"] = nat["rows_per_s"] / hbt["rows_per_s"]
        c["rows_per_s_ratio_end_to_end"] = nat["rows_per_s_total"] / hbt["rows_per_s_end_to_end"]
        c["fills_mmsim"] = nat["n_fills"]
        c["fills_hbt"] = hbt["n_fills"]
        c["fills_diff"] = nat["n_fills"] - hbt["n_fills"]
        c["fills_rel_diff"] = (nat["n_fills"] - hbt["n_fills"]) / max(hbt["n_fills"], 1)
        c["orders_mmsim"] = nat.get("n_orders")
        c["orders_hbt"] = hbt.get("submitted")
        c["wakeups_mmsim"] = nat.get("n_decisions")
        c["wakeups_hbt"] = hbt.get("wakeups")
    if ok(nat) and ok(cfn):
        c["cfunc_over_native_time"] = cfn["wall_s"] / nat["wall_s"]
        c["cfunc_within_1_5x"] = c["cfunc_over_native_time"] <= 1.5
        c["cfunc_same_fills_as_native"] = cfn["n_fills"] == nat["n_fills"]
    if ok(res.get("mmsim_python", {})):
        c["python_rows_per_s"] = res["mmsim_python"]["rows_per_s"]
    if ok(nat):
        c["peak_rss_bytes_mmsim_native"] = nat["peak_rss_bytes"]
        c["input_bytes"] = nat["input_bytes"]
    return c


def _fmt_rate(x) -> str:
    return f"{x / 1e6:8.2f} M" if isinstance(x, (int, float)) and x == x else "       -"


def print_table(doc: dict[str, Any]) -> None:
    res = doc["results"]
    print(f"\nmmsim engine benchmark: {doc['params']['rows']:,} L2 rows (seed {doc['params']['seed']}), "
          f"quote every 100 ms, 1 ms latencies, risk-averse queue")
    print(f"{'measurement':<14} {'rows':>10} {'loop s':>8} {'rows/s':>11} {'e2e rows/s':>11} "
          f"{'fills':>7} {'orders':>7} {'peak RSS':>10}")
    for name in MEASUREMENTS:
        r = res.get(name)
        if r is None:
            continue
        if "skipped" in r or "error" in r:
            print(f"{name:<14} {r.get('skipped') or r.get('error')}")
            continue
        if name == "generate":
            print(f"{name:<14} {r['rows']:>10,} {r['best_of_3_s']:>8.3f} {_fmt_rate(r['rows_per_s']):>11}")
            continue
        loop = r.get("run_s", r.get("wall_s"))
        e2e = r.get("rows_per_s_end_to_end", r.get("rows_per_s_total"))
        orders = r.get("submitted", r.get("n_orders", ""))
        print(f"{name:<14} {r['rows']:>10,} {loop:>8.3f} {_fmt_rate(r['rows_per_s']):>11} "
              f"{_fmt_rate(e2e):>11} {r['n_fills']:>7} {orders:>7} {r['peak_rss_bytes'] / 2**20:>6.0f} MiB")
    c = doc["comparison"]
    if c:
        print()
        for k, v in c.items():
            print(f"  {k:<36} {v:.4g}" if isinstance(v, float) else f"  {k:<36} {v}")
    print(f"\nloop s / rows/s: the simulation loop only (mmsim: summary['wall_s']; hftbacktest: the strategy's "
          f"elapse loop).\ne2e rows/s: from EVENT_DTYPE rows to a result (mmsim: simulate(); hftbacktest: "
          f"conversion + build + loop).\ninput array: {doc['params']['rows'] * 48 / 2**20:.0f} MiB (48 B/row); "
          f"hftbacktest's converted copy: 64 B/row")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--python-rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--half-spread", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the fastest counts")
    ap.add_argument("--only", default=",".join(MEASUREMENTS),
                    help="comma-separated subset of: " + ", ".join(MEASUREMENTS))
    ap.add_argument("--inline", action="store_true", help="run measurements in this process (no peak RSS)")
    ap.add_argument("--hbt-requote-all", action="store_true",
                    help="hftbacktest side cancels and re-sends both quotes at every wakeup")
    ap.add_argument("--json", default=str(RESULTS / "engine.json"))
    ap.add_argument("--worker", choices=MEASUREMENTS, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.python_rows = min(a.python_rows, a.rows)

    if a.worker:
        try:
            r = worker(a.worker, a)
        except Exception as e:  # report, don't hide: the parent prints it in the table
            import traceback
            traceback.print_exc()
            r = {"error": f"{type(e).__name__}: {e}"}
        print(MARK + json.dumps(r), flush=True)
        return 0

    only = [m.strip() for m in a.only.split(",") if m.strip()]
    bad = [m for m in only if m not in MEASUREMENTS]
    if bad:
        ap.error(f"unknown measurement(s): {', '.join(bad)}")
    load_rows(a.rows, a.seed)       # generate + cache once, before the workers
    if "mmsim_python" in only:
        load_rows(a.python_rows, a.seed)
    results: dict[str, dict] = {}
    for name in MEASUREMENTS:
        if name not in only:
            continue
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        results[name] = worker(name, a) if a.inline else run_worker_subprocess(name, a)
    doc = {
        "benchmark": "engine",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": _versions(),
        "params": {"rows": a.rows, "python_rows": a.python_rows, "seed": a.seed,
                   "tick_size": TICK_SIZE, "lot_size": LOT_SIZE, "half_spread_ticks": a.half_spread,
                   "size_lots": a.size, "interval_ns": INTERVAL_NS, "feed_latency_ns": LATENCY_NS,
                   "entry_latency_ns": LATENCY_NS, "cancel_latency_ns": LATENCY_NS,
                   "response_latency_ns": LATENCY_NS, "queue_model": "risk_averse",
                   "hbt_exchange": "no_partial", "hbt_requote_all": a.hbt_requote_all,
                   "generator": "mmsim.data.synthetic.generate_l2 defaults", "inline": a.inline,
                   "repeat": a.repeat},
        "results": results,
        "comparison": compare(results),
    }
    out = Path(a.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print_table(doc)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
