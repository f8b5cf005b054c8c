"""Ahead-of-time compilation of a model for this CPU (``mmsim model compile MODEL.json``; docs/models.md).

:func:`generate_source` writes self-contained C++ for one model: a LightGBM ensemble as one function per tree of
nested if/else with literal thresholds and leaf values, a network or linear model as fixed-size loops over literal
weight arrays. Every literal is a hexadecimal float (``float.hex``), exact to the bit, and the code repeats the
interpreted models' operations in the same order (cpp/include/mmsim/models.hpp), so predictions are identical to
the interpreted model. :func:`compile_model` builds it with the system compiler (``$CXX``, else ``c++``, ``g++``,
``clang++``) as ``-O3 -march=native -ffp-contract=off -shared -fPIC``, checks the library against the interpreted
model, and caches it under ``$MMSIM_CACHE_DIR`` (default ``~/.cache/mmsim/models``) keyed by the model hash, the
CPU (model name and feature flags), the flags, the generator version and the mmsim version. A missing or failing
compiler is a ConfigError with the compiler's first error lines; nothing else changes (the interpreted model stays
usable).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from mmsim.errors import ConfigError
from mmsim.signals.models import LoadedModel, load_model

__all__ = ["GENERATOR_VERSION", "CXXFLAGS", "CompileResult", "generate_source", "compile_model", "compile_loaded",
           "cached_library", "cache_dir", "cpu_id", "find_compiler"]

#: Bump when the generated code changes: old libraries in the cache are then not used.
GENERATOR_VERSION = 1
#: No -ffast-math, and no fused multiply-add: the library must compute exactly what the interpreter does.
CXXFLAGS = ("-std=c++17", "-O3", "-march=native", "-ffp-contract=off", "-shared", "-fPIC")
ABI = 1  # kCompiledModelAbi in cpp/include/mmsim/models.hpp
COMPILE_TIMEOUT_S = 900


@dataclass(frozen=True)
class CompileResult:
    path: Path          # the shared library
    cached: bool        # found in the cache (no compiler run)
    seconds: float      # compile time (0 when cached)
    compiler: str       # the compiler's version line ("" when cached)


# ---------------------------------------------------------------------------------------------- the cache
def cache_dir() -> Path:
    env = os.environ.get("MMSIM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "mmsim" / "models"


@lru_cache(maxsize=1)
def cpu_id() -> str:
    """This CPU as the cache sees it: machine, model name and a hash of the feature flags."""
    name, flags = platform.processor() or "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "CPU part") and not name:
                name = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = value.strip()
            if name and flags:
                break
    except OSError:
        pass
    return f"{platform.machine()}|{name}|{hashlib.sha256(flags.encode()).hexdigest()[:16]}"


def _key(model: LoadedModel) -> str:
    from mmsim._version import __version__

    what = f"{cpu_id()}|{' '.join(CXXFLAGS)}|gen{GENERATOR_VERSION}|mmsim{__version__}"
    cpu = hashlib.sha256(what.encode()).hexdigest()[:16]
    return f"{model.hash[:24]}-{cpu}"


def cached_library(model: LoadedModel) -> Optional[Path]:
    """The cached library of this model for this CPU, or None."""
    p = cache_dir() / f"{_key(model)}.so"
    return p if p.is_file() else None


# ------------------------------------------------------------------------------------------ the compiler
def find_compiler() -> list[str]:
    """``$CXX`` (may carry arguments, e.g. ``ccache g++``), else the first of c++, g++, clang++ on PATH."""
    env = os.environ.get("CXX", "").strip()
    if env:
        argv = shlex.split(env)
        exe = shutil.which(argv[0])
        if exe is None:
            raise ConfigError(f"no C++ compiler: $CXX={env!r} is not found")
        return [exe] + argv[1:]
    for name in ("c++", "g++", "clang++"):
        exe = shutil.which(name)
        if exe:
            return [exe]
    raise ConfigError("no C++ compiler: none of c++, g++, clang++ is on PATH (set $CXX)")


def _compiler_version(cxx: list[str]) -> str:
    try:
        r = subprocess.run(cxx + ["--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"C++ compiler {cxx[0]} does not run: {e}") from None
    return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr).strip() else cxx[0]


def _first_errors(text: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines
    return " | ".join(errors[:n]) if errors else "(no output)"


# -------------------------------------------------------------------------------------------- generation
def _f(v: float) -> str:
    """An exact C++ double literal."""
    v = float(v)
    if v != v:
        raise ConfigError("generate_source: NaN literal")
    if v in (float("inf"), float("-inf")):
        return "(-INF)" if v < 0 else "INF"
    return v.hex()


def _array(name: str, values: Any, ctype: str = "double") -> str:
    flat = np.asarray(values).ravel()
    conv = _f if ctype == "double" else (lambda x: f"{int(x)}u")
    body = ",".join(conv(x) for x in flat)
    return f"alignas(64) static const {ctype} {name}[{max(flat.size, 1)}] = {{{body or '0'}}};\n"


_PRELUDE = """\
// Generated by `mmsim model compile` (generator v{gen}) from model {hash}. Do not edit.
// {summary}
// Same operations, in the same order, as the interpreted model (cpp/include/mmsim/models.hpp).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace {{

constexpr double INF = std::numeric_limits<double>::infinity();
constexpr std::size_t N = {n};

inline double dot(const double* w, const double* x, std::size_t n) {{
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {{
    a0 += w[i] * x[i];
    a1 += w[i + 1] * x[i + 1];
    a2 += w[i + 2] * x[i + 2];
    a3 += w[i + 3] * x[i + 3];
  }}
  for (; i < n; ++i) a0 += w[i] * x[i];
  return (a0 + a1) + (a2 + a3);
}}

inline void softmax(double* v, std::size_t k) {{
  double m = v[0];
  for (std::size_t i = 1; i < k; ++i) m = v[i] > m ? v[i] : m;
  double s = 0.0;
  for (std::size_t i = 0; i < k; ++i) {{
    v[i] = std::exp(v[i] - m);
    s += v[i];
  }}
  for (std::size_t i = 0; i < k; ++i) v[i] /= s;
}}

inline double sigmoid(double z) {{ return 1.0 / (1.0 + std::exp(-z)); }}

"""

_GBDT_HELPERS = """\
constexpr double kZero = static_cast<double>(1e-35f);
inline double filter(double v) { return std::fabs(v) <= kZero ? 0.0 : v; }
inline bool numerical_left(double v, double threshold, int decision_type) {
  const int missing = (decision_type >> 2) & 3;
  if (std::isnan(v) && missing != 2) v = 0.0;
  if ((missing == 1 && v >= -kZero && v <= kZero) || (missing == 2 && std::isnan(v))) return (decision_type & 2) != 0;
  return v <= threshold;
}
inline bool categorical_left(double v, const std::uint32_t* words, int n_words) {
  if (!(v > -1.0 && v < 2147483648.0)) return false;
  const int c = static_cast<int>(v);
  if (c / 32 >= n_words) return false;
  return ((words[c / 32] >> (c % 32)) & 1u) != 0;
}

"""

_EPILOGUE = """\
}}  // namespace

#define MMSIM_EXPORT extern "C" __attribute__((visibility("default")))
MMSIM_EXPORT int mmsim_model_abi(void) {{ return {abi}; }}
MMSIM_EXPORT const char* mmsim_model_hash(void) {{ return "{hash}"; }}
MMSIM_EXPORT std::int64_t mmsim_model_n_inputs(void) {{ return {n}; }}
MMSIM_EXPORT std::int64_t mmsim_model_n_outputs(void) {{ return {k}; }}
MMSIM_EXPORT const char* mmsim_model_output_names(void) {{ return {names}; }}
MMSIM_EXPORT void mmsim_model_predict(const double* x, double* out) {{ predict(x, out); }}
"""


def _prepare(model: LoadedModel, nan_to_zero: bool, dst: str) -> str:
    """C++ filling double {dst}[N] from x as BasicModel::prepare does."""
    s = ""
    if model.mean is None:
        s += f"  for (std::size_t i = 0; i < N; ++i) {dst}[i] = x[i];\n"
    else:
        s += f"  for (std::size_t i = 0; i < N; ++i) {dst}[i] = (x[i] - MEAN[i]) / SCALE[i];\n"
    if nan_to_zero:
        s += f"  for (std::size_t i = 0; i < N; ++i) {dst}[i] = std::isnan({dst}[i]) ? 0.0 : {dst}[i];\n"
    return s


def _tree_code(model: LoadedModel, t: int, lines: list[str]) -> None:
    tr = model.trees
    assert tr is not None
    n0, n1, l0 = int(tr.tree_nodes[t]), int(tr.tree_nodes[t + 1]), int(tr.tree_leaves[t])
    lines.append(f"inline double tree{t}(const double* x) {{\n")
    if n1 == n0:
        lines.append(f"  return {_f(tr.leaf_value[l0])};\n}}\n\n")
        return

    def cond(j: int) -> str:
        g = n0 + j
        f, dt = int(tr.split_feature[g]), int(tr.decision_type[g])
        if dt & 1:
            c = int(tr.threshold[g])
            b, e = int(tr.cat_begin[c]), int(tr.cat_end[c])
            return f"categorical_left(filter(x[{f}]), CAT + {b}, {e - b})"
        return f"numerical_left(filter(x[{f}]), {_f(tr.threshold[g])}, {dt})"

    def child(ch: int) -> tuple[bool, str]:
        return (ch < 0, _f(tr.leaf_value[l0 + ~ch]) if ch < 0 else "")

    # nested if/else, iteratively (a deep tree must not exhaust Python's recursion)
    stack: list[tuple[str, int, int]] = [("node", 0, 1)]
    while stack:
        op, j, depth = stack.pop()
        pad = "  " * depth
        if op == "close":
            lines.append(f"{pad}}}\n")
            continue
        if op == "else":
            lines.append(f"{pad}}} else {{\n")
            continue
        if op == "leaf":
            lines.append(f"{pad}return {_f(tr.leaf_value[l0 + j])};\n")
            continue
        g = n0 + j
        left, right = int(tr.left_child[g]), int(tr.right_child[g])
        lines.append(f"{pad}if ({cond(j)}) {{\n")
        stack.append(("close", 0, depth))
        stack.append(("leaf", ~right, depth + 1) if right < 0 else ("node", right, depth + 1))
        stack.append(("else", 0, depth))
        stack.append(("leaf", ~left, depth + 1) if left < 0 else ("node", left, depth + 1))
    lines.append("}\n\n")


def generate_source(model: LoadedModel) -> str:
    """Self-contained C++ source of the model (exports the C ABI of cpp/include/mmsim/models.hpp)."""
    n, k = model.n_inputs, model.n_outputs
    summary = f"type {model.type}, {n} inputs, outputs {', '.join(model.outputs)}"
    if model.trees is not None:
        summary += f", {model.trees.n_trees} trees ({model.trees.objective})"
    if model.layers:
        summary += f", layers {' -> '.join(str(w) for w in [n] + [W.shape[0] for W, _ in model.layers])}"
    parts = [_PRELUDE.format(gen=GENERATOR_VERSION, hash=model.hash, summary=summary, n=n)]
    if model.mean is not None:
        parts.append(_array("MEAN", model.mean) + _array("SCALE", model.scale))
    body: list[str] = []
    if model.type in ("linear", "logistic"):
        parts.append(_array("W", model.weights) + f"constexpr double B = {_f(model.bias)};\n\n")
        body.append("  double xp[N];\n" + _prepare(model, True, "xp"))
        z = "dot(W, xp, N) + B"
        body.append(f"  out[0] = {z};\n" if model.type == "linear" else f"  out[0] = sigmoid({z});\n")
    elif model.type == "multinomial":
        kc = model.weights.shape[0]
        parts.append(_array("W", model.weights) + _array("B", model.bias) + "\n")
        body.append("  double xp[N];\n" + _prepare(model, True, "xp"))
        body.append(f"  for (std::size_t c = 0; c < {kc}; ++c) out[c] = dot(W + c * N, xp, N) + B[c];\n")
        body.append(f"  softmax(out, {kc});\n")
        if model.with_move:
            body.append(f"  out[{kc}] = out[{kc - 1}] - out[0];\n")
    elif model.type == "mlp":
        widths = [n] + [W.shape[0] for W, _ in model.layers]
        for li, (W, b) in enumerate(model.layers):  # transposed, [in][out], as MlpModel stores them
            parts.append(_array(f"WT{li}", W.T) + _array(f"B{li}", b))
        parts.append("\n")
        body.append("  double h0[N];\n" + _prepare(model, True, "h0"))
        last = len(model.layers) - 1
        for li in range(len(model.layers)):
            i_w, o_w = widths[li], widths[li + 1]
            h, o = f"h{li}", f"h{li + 1}"
            body.append(f"  double {o}[{o_w}];\n")
            body.append(f"  for (std::size_t j = 0; j < {o_w}; ++j) {o}[j] = 0.0;\n")
            body.append(f"  for (std::size_t i = 0; i < {i_w}; ++i) {{\n    const double xi = {h}[i];\n"
                        f"    for (std::size_t j = 0; j < {o_w}; ++j) {o}[j] += WT{li}[i * {o_w} + j] * xi;\n  }}\n")
            body.append(f"  for (std::size_t j = 0; j < {o_w}; ++j) {{\n    const double v = {o}[j] + B{li}[j];\n"
                        f"    {o}[j] = {'v' if li == last else '(v > 0.0 ? v : 0.0)'};\n  }}\n")
        ko = widths[-1]
        body.append(f"  for (std::size_t j = 0; j < {ko}; ++j) out[j] = h{last + 1}[j];\n")
        if model.softmax:
            body.append(f"  softmax(out, {ko});\n")
            if model.with_move:
                body.append(f"  out[{ko}] = out[{ko - 1}] - out[0];\n")
    else:
        tr = model.trees
        assert tr is not None
        parts.append(_GBDT_HELPERS)
        if tr.cat_words.size:
            parts.append(_array("CAT", tr.cat_words, "std::uint32_t") + "\n")
        trees: list[str] = []
        for t in range(tr.n_trees):
            _tree_code(model, t, trees)
        parts.append("".join(trees))
        if model.mean is not None:
            body.append("  double xb[N];\n" + _prepare(model, False, "xb") + "  const double* xp = xb;\n")
        else:
            body.append("  const double* xp = x;\n")
        kc = tr.n_classes
        body.append("".join(f"  out[{c}] = 0.0;\n" for c in range(kc)))
        body.append("".join(f"  out[{t % kc}] += tree{t}(xp);\n" for t in range(tr.n_trees)))
        if tr.average_output:
            body.append("".join(f"  out[{c}] /= static_cast<double>({tr.n_trees // kc});\n" for c in range(kc)))
        if tr.transform == "sigmoid":
            body.append(f"  out[0] = sigmoid({_f(tr.sigmoid)} * out[0]);\n")
        elif tr.transform == "softmax":
            body.append(f"  softmax(out, {kc});\n")
            if model.with_move:
                body.append(f"  out[{kc}] = out[{kc - 1}] - out[0];\n")
    parts.append("inline void predict(const double* x, double* out) {\n" + "".join(body) + "}\n\n")
    names = json.dumps("\n".join(model.outputs))  # a valid C string literal for these plain names
    parts.append(_EPILOGUE.format(abi=ABI, hash=model.hash, n=n, k=k, names=names))
    return "".join(parts)


# ------------------------------------------------------------------------------------------- compilation
def _probe_rows(model: LoadedModel, rows: int = 64) -> np.ndarray:
    """Inputs that exercise the model: around its training mean, NaN, zeros, tiny values, both signs."""
    rng = np.random.default_rng(12345)
    n = model.n_inputs
    center = model.mean if model.mean is not None else np.zeros(n)
    spread = model.scale if model.scale is not None else np.ones(n)
    X = center + spread * rng.normal(size=(rows, n)) * 2.0
    if model.trees is not None and model.trees.threshold.size:  # land on and around the thresholds too
        tr = model.trees
        pick = rng.integers(0, tr.threshold.size, size=(rows, n))
        thr = tr.threshold[pick]
        use = (rng.random((rows, n)) < 0.5) & np.isfinite(thr)
        X = np.where(use, thr if model.mean is None else thr * spread + center, X)
    X[rng.random((rows, n)) < 0.1] = np.nan
    X[rng.random((rows, n)) < 0.05] = 0.0
    X[rng.random((rows, n)) < 0.02] = 1e-40
    return X


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def compile_loaded(model: LoadedModel, force: bool = False) -> CompileResult:
    """Compile ``model`` for this CPU into the cache (or find it there); return the library."""
    from mmsim import _core

    cache = cache_dir()
    final = cache / f"{_key(model)}.so"
    if final.is_file() and not force:
        try:
            _core.load_compiled(str(final), model.hash, model.n_inputs, model.n_outputs)
            return CompileResult(final, True, 0.0, "")
        except ConfigError:
            pass  # a broken cache entry: build it again
    where = model.where
    try:
        cxx = find_compiler()
        version = _compiler_version(cxx)
    except ConfigError as e:
        raise ConfigError(f"{where}: cannot compile: {e}") from None
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"compile cache {cache}: cannot create it ({e.strerror or e})") from None
    src = generate_source(model)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        cpp, lib = work / "model.cpp", work / "model.so"
        cpp.write_text(src, encoding="utf-8")
        cmd = cxx + list(CXXFLAGS) + ["-o", str(lib), str(cpp)]
        t0 = time.perf_counter()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        except FileNotFoundError:
            raise ConfigError(f"{where}: no C++ compiler: {cxx[0]} not found") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"{where}: {cxx[0]} took longer than {COMPILE_TIMEOUT_S} s") from None
        seconds = time.perf_counter() - t0
        if r.returncode != 0 or not lib.is_file():
            raise ConfigError(f"{where}: compiling with {cxx[0]} failed (exit {r.returncode}): "
                              f"{_first_errors(r.stderr or r.stdout)}")
        # The library must predict exactly what the interpreter does (same inputs, bit for bit).
        compiled = _core.load_compiled(str(lib), model.hash, model.n_inputs, model.n_outputs)
        X = _probe_rows(model)
        got, want = compiled.predict(X), model.interpreted().predict(X)
        del compiled
        if not _same(got, want):
            raise ConfigError(f"{where}: the compiled model differs from the interpreted one (max difference "
                              f"{np.nanmax(np.abs(got - want)):.3g}); not cached")
        meta = {"model_hash": model.hash, "model": str(model.path) if model.path else None, "cpu": cpu_id(),
                "compiler": version, "command": " ".join(shlex.quote(c) for c in cmd[:-3] + ["-o", final.name]),
                "generator": GENERATOR_VERSION, "compile_s": round(seconds, 3),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.replace(cpp, final.with_suffix(".cpp"))
        (work / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(work / "meta.json", final.with_suffix(".json"))
        os.replace(lib, final)  # last: a library in the cache is always complete and checked
        return CompileResult(final, False, seconds, version)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compile_model(path: Union[str, os.PathLike], force: bool = False) -> Path:
    """``mmsim model compile MODEL.json``: the cached library for this CPU, compiled if needed."""
    return compile_loaded(load_model(path), force=force).path


def native_model(model: LoadedModel) -> Any:
    """The model as the event loop runs it: the library compiled for this CPU when one is cached
    (``mmsim model compile``), else the interpreted model; both give identical predictions."""
    lib = cached_library(model)
    return model.native(None if lib is None else str(lib))
