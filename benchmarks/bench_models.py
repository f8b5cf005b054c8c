"""Model inference benchmark: ns per prediction of the C++ models, interpreted and compiled for this CPU, on the
``full`` feature bank (206 inputs), beside calling the same LightGBM model from Python once per tick.

    python benchmarks/bench_models.py --rows 300000

1. Inputs: ``mmsim.data.synthetic.generate_l2(rows, seed, n_levels=10)`` replayed into observations and run through
   the Rust bank (``mmsim.signals.features.batch_features``) with the bundled ``full`` specs: one row of 206 real feature
   values per event (NaN where a feature is not defined yet). Consecutive rows are consecutive ticks, as in the
   event loop (branch predictors see realistic, slowly changing inputs); ``--shuffle`` times random rows instead.
2. Models (files per docs/models.md, written with ``mmsim.signals.models.save_model``):
   - linear: least squares of the 1 s mid move (ticks) on the standardised features;
   - gbdt: LightGBM regression on the same target, 100 trees, ``max_depth=6``, ``num_leaves=63``, raw features
     (LightGBM's own NaN handling; no preprocess, so LightGBM and mmsim do exactly the same work);
   - mlp: 206 -> 64 -> 32 -> 1 ReLU network with random (Glorot) weights and the training standardisation —
     the shapes decide the cost; its fit is not the point here.
3. Each model is timed with ``mmsim._core.model_bench`` (a C++ loop over the test rows, best of ``--repeat``)
   interpreted and compiled (``mmsim model compile``: generated C++, ``-O3 -march=native``; compile time
   reported, into a fresh cache). The compiled predictions must equal the interpreted ones bit for bit and the
   gbdt's must equal LightGBM's to 1e-9 (checked here, on all test rows).
4. Python per tick: ``Booster.predict(row)`` on one (1, 206) row at a time (the way a Python strategy would call
   it at each wakeup; default threads and with ``num_threads=1``), and for linear and mlp the numpy
   implementation (``LoadedModel.predict_python``) per row. Ratio = Python ns per call / C++ ns per call.

Writes ``benchmarks/results/models.json`` and prints a table.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

from mmsim import _core  # noqa: E402
from mmsim import features as F  # noqa: E402
from mmsim import models as M  # noqa: E402
from mmsim.data.synthetic import generate_l2  # noqa: E402

NS = 1_000_000_000


def feature_rows(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(features (rows, 206), 1 s mid move in ticks per row; NaN where the horizon runs past the data)."""
    ev = generate_l2(rows, seed=seed, n_levels=10)
    obs = F.observations_from_events(ev, levels=10)
    X = F.batch_features(obs, F.FULL)
    ok = (obs.bid_qty[:, 0] > 0) & (obs.ask_qty[:, 0] > 0)
    mid = np.where(ok, (obs.bid_px[:, 0] + obs.ask_px[:, 0]) / 2.0, np.nan)
    j = np.searchsorted(obs.ts, obs.ts + NS, side="right") - 1
    move = mid[j] - mid
    move[obs.ts + NS > obs.ts[-1]] = np.nan
    return X, move


def base_doc(kind: str, specs: list[str], train_end: int) -> dict:
    return {"format": M.FORMAT, "version": M.VERSION, "type": kind,
            "features": {"specs": specs, "hash": F.spec_hash(specs)}, "horizon_ns": NS,
            "training": {"scenario": "synthetic generate_l2 (bench_models.py)", "seed": 0, "start_ts": 0,
                         "end_ts": int(train_end), "n_rows": 0, "metrics": {}}}


def time_python_per_row(fn, X: np.ndarray, n: int, repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for i in range(n):
            fn(X[i:i + 1])
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=300_000, help="synthetic events (feature rows)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-rows", type=int, default=50_000, help="rows timed in C++ (the last ones)")
    ap.add_argument("--python-rows", type=int, default=2_000, help="rows timed one call at a time in Python")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--shuffle", action="store_true", help="time random rows instead of consecutive ticks")
    ap.add_argument("--out", default=str(RESULTS / "models.json"))
    a = ap.parse_args(argv)
    import lightgbm as lgb

    t0 = time.perf_counter()
    X, move = feature_rows(a.rows, a.seed)
    feat_s = time.perf_counter() - t0
    specs = F.column_names(F.FULL)
    n = len(specs)
    split = len(X) - a.test_rows
    train = np.flatnonzero(np.isfinite(move[:split]))[::5]  # every 5th tick: less redundant rows, faster fit
    Xtr, ytr = X[train], move[train]
    test = X[split:]
    if a.shuffle:
        test = test[np.random.default_rng(a.seed).permutation(len(test))]
    test = np.ascontiguousarray(test)
    mean = np.nanmean(Xtr, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.nanstd(Xtr, axis=0)
    scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    Z = np.nan_to_num((Xtr - mean) / scale, nan=0.0)
    pre = {"mean": mean.tolist(), "scale": scale.tolist()}

    docs: dict[str, dict] = {}
    w, *_ = np.linalg.lstsq(np.column_stack([Z, np.ones(len(Z))]), ytr, rcond=None)
    docs["linear"] = {**base_doc("linear", specs, split), "target": "move", "outputs": ["move"], "preprocess": pre,
                      "params": {"weights": w[:-1].tolist(), "bias": float(w[-1])}}
    t1 = time.perf_counter()
    booster = lgb.train({"objective": "regression", "num_leaves": 63, "max_depth": 6, "learning_rate": 0.05,
                         "min_data_in_leaf": 50, "verbose": -1, "seed": a.seed},
                        lgb.Dataset(Xtr, ytr), num_boost_round=a.trees)
    fit_s = time.perf_counter() - t1
    docs["gbdt"] = {**base_doc("gbdt", specs, split), "target": "move", "outputs": ["move"],
                    "params": {"lightgbm": booster.model_to_string(), "objective": "regression"}}
    rng = np.random.default_rng(a.seed)
    widths = [n, 64, 32, 1]
    layers = [{"weights": (rng.normal(size=(o, i)) * math.sqrt(2.0 / (i + o))).tolist(),
               "bias": (rng.normal(size=o) * 0.01).tolist()} for i, o in zip(widths, widths[1:])]
    docs["mlp"] = {**base_doc("mlp", specs, split), "target": "move", "outputs": ["move"], "preprocess": pre,
                   "params": {"layers": layers}}

    from mmsim.signals import compile as C

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MMSIM_CACHE_DIR"] = str(Path(tmp) / "cache")
        for kind, doc in docs.items():
            path = M.save_model(doc, Path(tmp) / f"{kind}.json")
            m = M.load_model(path, F.FULL)
            interp = m.native()
            res = C.compile_loaded(m)
            compiled = C.native_model(m)
            assert isinstance(compiled, _core.CompiledModel)
            yi, yc = interp.predict(test), compiled.predict(test)
            assert np.array_equal(yi, yc), f"{kind}: compiled != interpreted"
            r: dict = {"model": {"type": kind, "inputs": n, "file_bytes": path.stat().st_size},
                       "compile_s": round(res.seconds, 3), "library_bytes": res.path.stat().st_size,
                       "compiled_equals_interpreted": True}
            r["interpreted_ns"] = _core.model_bench(interp, test, a.repeat)
            r["compiled_ns"] = _core.model_bench(compiled, test, a.repeat)
            if kind == "gbdt":
                r["model"].update(trees=m.trees.n_trees, max_depth=6, num_leaves=63,
                                  nodes=int(m.trees.split_feature.size))
                want = booster.predict(test)
                r["max_abs_diff_vs_lightgbm"] = float(np.max(np.abs(yi[:, 0] - want)))
                assert r["max_abs_diff_vs_lightgbm"] <= 1e-9
                r["lightgbm_per_row_ns"] = time_python_per_row(booster.predict, test, a.python_rows)
                r["lightgbm_per_row_1thread_ns"] = time_python_per_row(
                    lambda x: booster.predict(x, num_threads=1), test, a.python_rows)
                t2 = time.perf_counter_ns()
                booster.predict(test)
                r["lightgbm_batch_per_row_ns"] = (time.perf_counter_ns() - t2) / len(test)
                # LightGBM's best per-row figure (its default threads are slower and noisy for one row)
                best = min(r["lightgbm_per_row_ns"], r["lightgbm_per_row_1thread_ns"])
                r["ratio_lightgbm_per_row_to_interpreted"] = best / r["interpreted_ns"]
                r["ratio_lightgbm_per_row_to_compiled"] = best / r["compiled_ns"]
            else:
                py = time_python_per_row(m.predict_python, test, a.python_rows)
                r["numpy_per_row_ns"] = py
                r["model"]["layers"] = widths if kind == "mlp" else [n, 1]
                r["ratio_numpy_per_row_to_interpreted"] = py / r["interpreted_ns"]
                r["ratio_numpy_per_row_to_compiled"] = py / r["compiled_ns"]
            r["speedup_compiled"] = r["interpreted_ns"] / r["compiled_ns"]
            results[kind] = r

    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    out = {
        "rows": a.rows, "seed": a.seed, "test_rows": len(test), "python_rows": a.python_rows,
        "inputs": "consecutive ticks" if not a.shuffle else "shuffled rows", "features": "full",
        "n_features": n, "nan_fraction": float(np.isnan(test).mean()), "features_s": round(feat_s, 2),
        "gbdt_fit_s": round(fit_s, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": {"cpu": cpu or platform.processor(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "lightgbm": lgb.__version__,
                    "compiler": C._compiler_version(C.find_compiler())},
        "models": results,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")

    print(f"{len(test):,} test rows of the full bank ({n} features, {out['nan_fraction']:.1%} NaN), "
          f"{out['inputs']}; ns per prediction (best of {a.repeat})")
    print(f"{'model':<8}{'interpreted':>13}{'compiled':>11}{'compile s':>11}{'Python/row':>12}"
          f"{'ratio interp':>14}{'ratio compiled':>16}")
    for kind, r in results.items():
        py = (min(r["lightgbm_per_row_ns"], r["lightgbm_per_row_1thread_ns"]) if kind == "gbdt"
              else r["numpy_per_row_ns"])
        print(f"{kind:<8}{r['interpreted_ns']:>13,.0f}{r['compiled_ns']:>11,.0f}{r['compile_s']:>11.2f}"
              f"{py:>12,.0f}{py / r['interpreted_ns']:>13,.0f}x{py / r['compiled_ns']:>15,.0f}x")
    g = results["gbdt"]
    print(f"gbdt: LightGBM Booster.predict per row {g['lightgbm_per_row_ns']:,.0f} ns "
          f"({g['lightgbm_per_row_1thread_ns']:,.0f} ns with num_threads=1; batch {g['lightgbm_batch_per_row_ns']:,.0f}"
          f" ns/row); max |C++ - LightGBM| = {g['max_abs_diff_vs_lightgbm']:.1e}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
