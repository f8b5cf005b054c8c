"""Model files, C++ inference and ahead-of-time compilation (docs/models.md).

Parity: the interpreted C++ models equal LightGBM's own predictions and the numpy implementation
(``LoadedModel.predict_python``) to 1e-9; compiled libraries equal the interpreted models bit for bit.
Bad input: truncated/malformed files, wrong version or shapes, non-finite weights, another feature bank,
a missing or failing compiler -> ConfigError naming the file and key (the interpreted model stays usable).
"""
from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from mmsim import _core
from mmsim.signals import compile as C
from mmsim.signals import models as M
from mmsim.cli import main
from mmsim.errors import ConfigError
from mmsim.signals.features import SMALL, column_names, spec_hash

SPECS = column_names(SMALL)
N = len(SPECS)
TOL = 1e-9


def rows(n: int, seed: int = 0, nan: float = 0.1, width: int = N) -> np.ndarray:
    """Inputs with NaN, exact zeros, tiny values (|x| <= LightGBM's zero threshold) and infinities."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, width)) * 2.0
    X[rng.random(X.shape) < nan] = np.nan
    X[rng.random(X.shape) < 0.05] = 0.0
    X[rng.random(X.shape) < 0.01] = 1e-40
    return X


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One compile cache for the session (compiling a 100-tree model takes a second or two)."""
    d = tmp_path_factory.mktemp("model-cache")
    old = os.environ.get("MMSIM_CACHE_DIR")
    os.environ["MMSIM_CACHE_DIR"] = str(d)
    yield d
    if old is None:
        os.environ.pop("MMSIM_CACHE_DIR", None)
    else:
        os.environ["MMSIM_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def lgb():
    return pytest.importorskip("lightgbm", reason="lightgbm (the [models] extra) is not installed")


def _train(lgb, objective: str, rounds: int = 100, **params):
    """A booster on random data with NaNs: ~100 trees of depth <= 6."""
    rng = np.random.default_rng(7)
    X = rows(3000, seed=11, nan=0.15)
    x0, x1 = np.nan_to_num(X[:, 0]), np.nan_to_num(X[:, 1])
    move = x0 + 0.5 * x1 ** 2 - 0.3 * np.isnan(X[:, 2]) + rng.normal(size=len(X)) * 0.5
    label = {"regression": move, "binary": (move > 0.5).astype(float),
             "multiclass": np.digitize(move, [-0.5, 0.5]).astype(float)}[objective]
    p = {"objective": objective, "verbose": -1, "num_leaves": 63, "max_depth": 6, "min_data_in_leaf": 10,
         "num_threads": 1, "seed": 1, **params}
    if objective == "multiclass":
        p["num_class"] = 3
    cat = p.pop("categorical", None)
    ds = lgb.Dataset(X, label, categorical_feature=cat if cat is not None else "auto")
    return lgb.train(p, ds, num_boost_round=rounds), X


def gbdt_doc(booster, objective: str, specs=SPECS, preprocess=None) -> dict:
    target, outputs = {"regression": ("move", ["move"]), "binary": ("up", ["p_up"]),
                       "multiclass": ("direction", list(M.CLASS_NAMES))}[objective]
    doc = {"format": "mmsim-model", "version": 1, "type": "gbdt",
           "features": {"specs": list(specs), "hash": spec_hash(specs)}, "horizon_ns": 1_000_000_000,
           "target": target, "outputs": outputs,
           "training": {"scenario": "test", "seed": 0, "start_ts": 0, "end_ts": 10, "n_rows": 3000, "metrics": {}},
           "params": {"lightgbm": booster.model_to_string(), "objective": objective}}
    if preprocess is not None:
        doc["preprocess"] = preprocess
    return doc


@pytest.fixture(scope="session")
def boosters(lgb):
    return {obj: _train(lgb, obj)[0] for obj in ("regression", "binary", "multiclass")}


@pytest.fixture(scope="session")
def model_files(tmp_path_factory):
    """One saved model file of each dense kind (no lightgbm needed)."""
    d = tmp_path_factory.mktemp("models")
    out = {}
    for kind in ("linear", "logistic", "multinomial"):
        out[kind] = M.save_model(M.example_model(kind, SPECS, seed=3), d / f"{kind}.json")
    out["mlp"] = M.save_model(M.example_model("mlp", SPECS, seed=4, hidden=(32, 16)), d / "mlp.json")
    out["mlp_softmax"] = M.save_model(M.example_model("mlp", SPECS, seed=5, hidden=(16,), softmax=True),
                                      d / "mlp_softmax.json")
    return out


@pytest.fixture(scope="session")
def gbdt_files(tmp_path_factory, boosters):
    d = tmp_path_factory.mktemp("gbdt-models")
    return {f"gbdt_{obj}": M.save_model(gbdt_doc(b, obj), d / f"gbdt_{obj}.json") for obj, b in boosters.items()}


def model_file(request, kind: str) -> Path:
    files = request.getfixturevalue("gbdt_files" if kind.startswith("gbdt") else "model_files")
    return files[kind]


# ------------------------------------------------------------------------------------- LightGBM parity
def on_thresholds(trees: M.GbdtTrees, X: np.ndarray, seed: int = 3) -> np.ndarray:
    """Put a third of the values exactly on split thresholds (the x <= threshold boundary)."""
    rng = np.random.default_rng(seed)
    finite = trees.threshold[np.isfinite(trees.threshold) & ((trees.decision_type & 1) == 0)]
    X = X.copy()
    mask = rng.random(X.shape) < 0.33
    X[mask] = rng.choice(finite, size=int(mask.sum()))
    return X


@pytest.mark.parametrize("objective", ["regression", "binary", "multiclass"])
def test_gbdt_matches_lightgbm(boosters, objective):
    b = boosters[objective]
    m = M.validate_model(gbdt_doc(b, objective))
    assert m.trees.n_trees == 100 * (3 if objective == "multiclass" else 1)
    assert m.trees.transform == {"regression": "identity", "binary": "sigmoid", "multiclass": "softmax"}[objective]
    X = on_thresholds(m.trees, rows(4000, seed=1))
    X[0, :] = np.inf
    X[1, :] = -np.inf
    X[2, :] = np.nan
    want = np.asarray(b.predict(X)).reshape(len(X), -1)
    got = m.native().predict(X)
    py = m.predict_python(X)
    assert got.shape == want.shape == py.shape
    assert np.max(np.abs(got - want)) <= TOL
    assert np.max(np.abs(py - want)) <= TOL
    # one row at a time through the same model
    one = m.native()
    assert np.max(np.abs(np.array([one.predict(x) for x in X[:50]]) - want[:50])) <= TOL


@pytest.mark.parametrize("params, missing", [
    ({"zero_as_missing": True}, {1}),
    ({"use_missing": False}, {0}),
    ({}, {2}),
])
def test_gbdt_missing_value_modes(lgb, params, missing):
    b, _ = _train(lgb, "regression", rounds=20, **params)
    m = M.validate_model(gbdt_doc(b, "regression"))
    seen = set(((m.trees.decision_type.astype(int) >> 2) & 3).tolist())
    assert missing <= seen  # the mode under test occurs in the trees
    X = on_thresholds(m.trees, rows(3000, seed=2, nan=0.3))
    want = b.predict(X)
    assert np.max(np.abs(m.native().predict(X)[:, 0] - want)) <= TOL
    assert np.max(np.abs(m.predict_python(X)[:, 0] - want)) <= TOL


def test_gbdt_categorical_and_random_forest(lgb):
    rng = np.random.default_rng(5)
    X = rows(3000, seed=4)
    X[:, 3] = rng.integers(0, 40, len(X)).astype(float)
    X[rng.random(len(X)) < 0.1, 3] = np.nan
    y = (X[:, 3] % 3 == 0) + np.nan_to_num(X[:, 0]) + rng.normal(size=len(X)) * 0.1
    for extra in ({}, {"boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.5}):
        p = {"objective": "regression", "verbose": -1, "num_leaves": 31, "num_threads": 1, "min_data_per_group": 5,
             "cat_smooth": 1, **extra}
        b = lgb.train(p, lgb.Dataset(X, y, categorical_feature=[3]), num_boost_round=30)
        m = M.validate_model(gbdt_doc(b, "regression"))
        assert m.trees.cat_begin.size > 0
        assert m.trees.average_output == ("boosting" in extra)
        Xt = rows(2000, seed=6)
        Xt[:, 3] = rng.integers(-3, 60, len(Xt)).astype(float)
        Xt[:8, 3] = [0.5, -0.5, -1.0, 1e10, -1e10, 3.7, np.nan, 2 ** 31]
        want = b.predict(Xt)
        assert np.max(np.abs(m.native().predict(Xt)[:, 0] - want)) <= TOL
        assert np.max(np.abs(m.predict_python(Xt)[:, 0] - want)) <= TOL


def test_gbdt_preprocess_keeps_nan_for_the_trees(boosters):
    """With preprocess, trees see (x - mean) / scale; NaN stays NaN and LightGBM's rules decide."""
    b = boosters["regression"]
    rng = np.random.default_rng(9)
    mean, scale = rng.normal(size=N), rng.uniform(0.5, 2, N)
    m = M.validate_model(gbdt_doc(b, "regression", preprocess={"mean": mean.tolist(), "scale": scale.tolist()}))
    X = rows(2000, seed=8)
    want = b.predict((X - mean) / scale)
    assert np.max(np.abs(m.native().predict(X)[:, 0] - want)) <= TOL
    assert np.max(np.abs(m.predict_python(X)[:, 0] - want)) <= TOL


def test_gbdt_trained_without_nan_reads_nan_as_the_mean(lgb):
    """mmsim train imputes before LightGBM: its trees read NaN as 0 (the training mean), as the contract says."""
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(2000, N))
    b = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1}, lgb.Dataset(Z, Z[:, 0] - Z[:, 1]),
                  num_boost_round=20)
    mean, scale = rng.normal(size=N), rng.uniform(0.5, 2, N)
    m = M.validate_model(gbdt_doc(b, "regression", preprocess={"mean": mean.tolist(), "scale": scale.tolist()}))
    X = rows(500, seed=3, nan=0.3)
    imputed = np.where(np.isnan(X), mean, X)
    assert np.array_equal(m.native().predict(X), m.native().predict(imputed))


# ------------------------------------------------------------------------------ dense models vs numpy
@pytest.mark.parametrize("kind", ["linear", "logistic", "multinomial", "mlp", "mlp_softmax"])
def test_dense_models_match_numpy(model_files, kind):
    m = M.load_model(model_files[kind], SMALL)
    X = rows(3000, seed=12)
    X[0] = np.nan
    got, want = m.native().predict(X), m.predict_python(X)
    assert got.shape == want.shape == (len(X), m.n_outputs)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    assert m.native().output_names == m.outputs
    # independent formulas (not predict_python) for two of them
    Z = np.nan_to_num((X - m.mean) / m.scale, nan=0.0)
    if kind == "linear":
        np.testing.assert_allclose(got[:, 0], Z @ m.weights + m.bias, rtol=TOL, atol=TOL)
    if kind == "multinomial":
        e = np.exp(Z @ m.weights.T + m.bias)
        p = e / e.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(got, np.column_stack([p, p[:, 2] - p[:, 0]]), rtol=TOL, atol=TOL)
        assert m.outputs == ["p_down", "p_flat", "p_up", "move"]


def test_nan_input_is_the_training_mean(model_files):
    for kind in ("linear", "logistic", "multinomial", "mlp"):
        m = M.load_model(model_files[kind])
        x = rows(1, seed=1, nan=0.0)[0]
        x[[1, 4, 7]] = np.nan
        filled = x.copy()
        filled[[1, 4, 7]] = m.mean[[1, 4, 7]]
        assert np.array_equal(m.native().predict(x), m.native().predict(filled)), kind


def test_predict_shapes_and_errors(model_files):
    m = M.load_model(model_files["multinomial"]).native()
    assert m.n_inputs == N and m.n_outputs == 4
    assert m.predict(np.zeros(N)).shape == (4,)
    assert m.predict(np.zeros((3, N))).shape == (3, 4)
    p = m.predict(np.zeros(N))
    assert math.isclose(p[:3].sum(), 1.0, rel_tol=1e-12)
    with pytest.raises(ConfigError, match=f"takes {N} inputs, got {N - 1}"):
        m.predict(np.zeros(N - 1))
    with pytest.raises(ConfigError, match="takes"):
        M.load_model(model_files["linear"]).predict_python(np.zeros((2, N + 1)))
    assert _core.model_bench(m, np.zeros((100, N)), 2) > 0


def test_predict_from_threads(model_files):
    """predict keeps its scratch on the stack: one model, several threads at once, the same answers."""
    m = M.load_model(model_files["mlp"]).native()
    X = rows(2000, seed=5)
    want = m.predict(X)
    got: list = [None] * 4

    def run(i):
        got[i] = m.predict(X)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(np.array_equal(g, want) for g in got)


def test_core_constructors_check_their_arrays():
    with pytest.raises(ConfigError, match="non-finite"):
        _core.LinearModel(np.array([1.0, np.nan]), 0.0)
    with pytest.raises(ConfigError, match="scale must be > 0"):
        _core.LinearModel(np.ones(2), 0.0, mean=np.zeros(2), scale=np.array([1.0, 0.0]))
    with pytest.raises(ConfigError, match="3 x 2"):
        _core.MultinomialModel(np.ones((2, 2)), np.zeros(3))
    with pytest.raises(ConfigError, match="layer 1 weights"):
        _core.MlpModel([np.ones((4, 3)), np.ones((1, 5))], [np.zeros(4), np.zeros(1)])
    arrays = dict(n_inputs=2, n_classes=1, transform="identity", sigmoid=1.0, average_output=False,
                  tree_nodes=[0, 1], tree_leaves=[0, 2], split_feature=[0], threshold=[0.5], decision_type=[0],
                  left_child=[-1], right_child=[-2], leaf_value=[1.0, 2.0], cat_begin=[], cat_end=[], cat_words=[])
    g = _core.GbdtModel(**arrays)
    assert list(g.predict(np.array([[0.5, 0.0], [0.6, 0.0], [np.nan, 0.0]]))[:, 0]) == [1.0, 2.0, 1.0]
    with pytest.raises(ConfigError, match="child 0 is out of range"):
        _core.GbdtModel(**{**arrays, "left_child": [0]})  # a cycle
    with pytest.raises(ConfigError, match="split feature 5"):
        _core.GbdtModel(**{**arrays, "split_feature": [5]})
    with pytest.raises(ConfigError, match="computes 1 outputs but 2"):
        _core.GbdtModel(**arrays, output_names=["a", "b"])


# ---------------------------------------------------------------------------------------- compilation
KINDS = ["linear", "logistic", "multinomial", "mlp", "mlp_softmax", "gbdt_regression", "gbdt_binary",
         "gbdt_multiclass"]


@pytest.mark.parametrize("kind", KINDS)
def test_compiled_equals_interpreted(cache, request, kind):
    path = model_file(request, kind)
    m = M.load_model(path)
    lib = C.compile_model(path)
    assert lib.parent == cache and lib.suffix == ".so"
    assert lib.with_suffix(".cpp").is_file() and lib.with_suffix(".json").is_file()
    compiled = C.native_model(m)
    assert isinstance(compiled, _core.CompiledModel) and compiled.path == str(lib)
    assert compiled.output_names == m.outputs and compiled.n_inputs == N
    X = rows(5000, seed=21)
    if m.trees is not None:
        X = on_thresholds(m.trees, X)
    X[0] = np.nan
    assert np.array_equal(compiled.predict(X), m.native().predict(X))  # bit for bit
    assert isinstance(m.native(), _core.Model) and not isinstance(m.native(), _core.CompiledModel)


def test_generated_source_is_exact(gbdt_files):
    m = M.load_model(gbdt_files["gbdt_regression"])
    src = C.generate_source(m)
    assert src.count("inline double tree") == 100
    assert m.trees.threshold[0].hex() in src and m.trees.leaf_value[0].hex() in src
    assert "if (numerical_left(" in src and "} else {" in src


def test_cache_hit_on_second_compile(cache, model_files):
    m = M.load_model(model_files["linear"])
    first = C.compile_loaded(m)
    stamp = first.path.stat().st_mtime_ns
    again = C.compile_loaded(m)
    assert again.cached and again.path == first.path and again.path.stat().st_mtime_ns == stamp
    assert C.cached_library(m) == first.path
    # another model (one weight changed): another library
    doc = json.loads(model_files["linear"].read_text())
    doc["params"]["bias"] = 0.25
    other = M.validate_model(doc)
    assert other.hash != m.hash and C.cached_library(other) is None
    assert C.compile_loaded(m, force=True).cached is False


def test_missing_compiler_is_a_clear_error(tmp_path, monkeypatch, model_files):
    monkeypatch.setenv("MMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.raises(ConfigError,
                       match=r"linear.json: cannot compile: no C\+\+ compiler: \$CXX='/nonexistent/c\+\+'"):
        C.compile_model(model_files["linear"])
    m = M.load_model(model_files["linear"])
    assert not isinstance(C.native_model(m), _core.CompiledModel)  # the interpreted model, still usable
    assert C.native_model(m).predict(np.zeros(N)).shape == (1,)


def test_failing_compiler_reports_its_errors(tmp_path, monkeypatch, model_files, capsys):
    monkeypatch.setenv("MMSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CXX", "sh -c 'echo \"model.cpp:1: error: no space left\" >&2; exit 1'")
    with pytest.raises(ConfigError, match="compiling with .*sh failed \\(exit 1\\): model.cpp:1: error: no space left"):
        C.compile_model(model_files["logistic"])
    assert not list((tmp_path / "cache").glob("*.so"))
    assert not list((tmp_path / "cache").glob(".build-*"))  # no leftovers
    assert main(["model", "compile", str(model_files["logistic"])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmsim: error: ") and err.count("\n") == 1 and "no space left" in err


def test_cli_model_compile(cache, model_files, capsys):
    assert main(["model", "compile", str(model_files["mlp"])]) == 0
    out = capsys.readouterr().out
    assert "mlp model" in out and str(cache) in out
    assert main(["model", "compile", str(model_files["mlp"])]) == 0
    assert "already compiled" in capsys.readouterr().out
    assert main(["model"]) == 2
    assert "mmsim model --help" in capsys.readouterr().err


def test_load_compiled_checks_the_library(cache, model_files, tmp_path):
    m = M.load_model(model_files["linear"])
    lib = str(C.compile_model(model_files["linear"]))
    with pytest.raises(ConfigError, match="compiled from model .* expected model deadbeef"):
        _core.load_compiled(lib, "deadbeef", N, 1)
    with pytest.raises(ConfigError, match=f"takes {N} inputs and gives 1 outputs, expected {N + 1} and 1"):
        _core.load_compiled(lib, m.hash, N + 1, 1)
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not a library")
    with pytest.raises(ConfigError, match="junk.so: cannot load the compiled model"):
        _core.load_compiled(str(junk), m.hash, N, 1)
    # a broken cache entry is rebuilt by the next compile
    broken = M.load_model(model_files["logistic"])
    path = C.compile_loaded(broken).path
    path.write_bytes(b"broken")
    res = C.compile_loaded(broken)
    assert not res.cached and np.array_equal(C.native_model(broken).predict(np.ones(N)),
                                             broken.native().predict(np.ones(N)))


# ---------------------------------------------------------------------------------------- model files
def test_save_load_round_trip(tmp_path):
    doc = M.example_model("multinomial", SPECS, seed=1)
    doc["params"]["weights"] = np.asarray(doc["params"]["weights"])  # numpy arrays are welcome
    doc["params"]["bias"] = np.asarray(doc["params"]["bias"], np.float32)
    p = M.save_model(doc, tmp_path / "sub" / "m.json")
    m = M.load_model(p, SPECS)
    assert m.hash == M.model_hash(doc) == M.model_hash(json.loads(p.read_text()))
    assert np.array_equal(m.weights, np.asarray(doc["params"]["weights"]))
    assert not list(tmp_path.glob("**/*.tmp"))


def write(tmp_path: Path, doc, name: str = "bad.json") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def test_truncated_and_malformed_files(tmp_path, model_files):
    text = model_files["mlp"].read_text()
    for cut in (len(text) // 2, len(text) // 3, len(text) - 3, 10):
        with pytest.raises(ConfigError, match=r"bad.json: not valid JSON \(truncated"):
            M.load_model(write(tmp_path, text[:cut]))
    with pytest.raises(ConfigError, match=r"bad.json: not valid JSON \(malformed"):
        M.load_model(write(tmp_path, "{format: mmsim-model}\n"))
    with pytest.raises(ConfigError, match="bad.json: expected a JSON object"):
        M.load_model(write(tmp_path, "[1, 2]"))
    with pytest.raises(ConfigError, match="model file not found"):
        M.load_model(tmp_path / "missing.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        M.load_model(tmp_path / "bin.json")


def _bad(tmp_path, mutate, match, kind="linear"):
    doc = M.example_model(kind, SPECS)
    mutate(doc)
    with pytest.raises(ConfigError, match=match):
        M.load_model(write(tmp_path, doc))
    with pytest.raises(ConfigError, match=match.replace("bad.json", "out.json")):
        M.save_model(doc, tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


def test_bad_keys_and_versions(tmp_path):
    _bad(tmp_path, lambda d: d.update(version=2), r"bad.json: version: 2 is not supported")
    _bad(tmp_path, lambda d: d.update(format="other"), r"bad.json: format: expected 'mmsim-model'")
    _bad(tmp_path, lambda d: d.pop("horizon_ns"), r"bad.json: horizon_ns: missing")
    _bad(tmp_path, lambda d: d.update(horizon_ns=0), r"bad.json: horizon_ns: must be > 0")
    _bad(tmp_path, lambda d: d.update(type="svm"), r"bad.json: type: unknown model type 'svm'")
    _bad(tmp_path, lambda d: d["training"].pop("end_ts"), r"bad.json: training.end_ts: missing")
    _bad(tmp_path, lambda d: d.update(outputs=["p_up"]), r"bad.json: outputs: \['p_up'\] does not fit")
    _bad(tmp_path, lambda d: d.update(target="up"), r"bad.json: target: a linear model predicts target 'move'")
    _bad(tmp_path, lambda d: d["features"].update(hash="0" * 64), r"bad.json: features.hash: 0+ does not match")
    _bad(tmp_path, lambda d: d["features"].update(specs=["mid", "nonsense:l=1"]),
         r"bad.json: features.specs: feature spec 'nonsense:l=1'")


def test_bad_shapes_and_weights(tmp_path):
    _bad(tmp_path, lambda d: d["params"].update(weights=d["params"]["weights"][:-1]),
         rf"bad.json: params.weights: expected {N} values, got {N - 1}")
    _bad(tmp_path, lambda d: d["params"]["weights"].__setitem__(3, float("nan")),
         r"bad.json: params.weights\[3\]: non-finite value nan")
    _bad(tmp_path, lambda d: d["params"].update(bias=float("inf")), r"bad.json: params.bias: non-finite value inf")
    _bad(tmp_path, lambda d: d["params"]["weights"].__setitem__(0, "1.0"),
         r"bad.json: params.weights\[0\]: expected a number, got the string '1.0'")
    _bad(tmp_path, lambda d: d["preprocess"]["scale"].__setitem__(2, 0.0),
         r"bad.json: preprocess.scale\[2\]: must be > 0")
    _bad(tmp_path, lambda d: d["preprocess"].update(mean=[0.0] * (N + 1)),
         rf"bad.json: preprocess.mean: expected {N} values, got {N + 1}")
    _bad(tmp_path, lambda d: d["params"].update(weights=d["params"]["weights"][:2]),
         r"bad.json: params.weights: expected 3 rows, got 2", kind="multinomial")
    _bad(tmp_path, lambda d: d["params"]["layers"][1].update(weights=[[0.0] * 5]),
         r"bad.json: params.layers\[1\].weights\[0\]: expected 64 values, got 5", kind="mlp")
    _bad(tmp_path, lambda d: d["params"]["layers"][0]["bias"].__setitem__(0, float("nan")),
         r"bad.json: params.layers\[0\].bias\[0\]: non-finite", kind="mlp")


def test_bad_gbdt_files(tmp_path, boosters):
    good = gbdt_doc(boosters["binary"], "binary")
    text = good["params"]["lightgbm"]

    def bad(mutate, match):
        doc = json.loads(json.dumps(good))
        mutate(doc)
        with pytest.raises(ConfigError, match=match):
            M.load_model(write(tmp_path, doc))

    bad(lambda d: d["params"].update(lightgbm=text[: len(text) // 2]),
        r"bad.json: params.lightgbm: .*(truncated|has \d+ values|no )")
    bad(lambda d: d["params"].update(lightgbm=text[: text.index("end of trees")]),
        r"bad.json: params.lightgbm: no 'end of trees' line: the model text is truncated")
    bad(lambda d: d["params"].update(lightgbm="hello"), r"not a LightGBM text model")
    bad(lambda d: d["params"].update(objective="regression"),
        r"bad.json: params.objective: 'regression' but the LightGBM model's objective is 'binary'")
    bad(lambda d: d.update(target="move", outputs=["move"]), r"bad.json: target: a LightGBM binary model predicts")
    bad(lambda d: d["features"].update(specs=SPECS[:-1], hash=spec_hash(SPECS[:-1])),
        rf"bad.json: params.lightgbm: the LightGBM model takes {N} features, features.specs has {N - 1}")
    bad(lambda d: d["params"].update(lightgbm=text.replace("objective=binary", "objective=poisson", 1)),
        r"objective 'poisson' is not supported")
    bad(lambda d: d["params"].update(lightgbm=text.replace("leaf_value=", "leaf_value=nan ", 1)),
        r"tree 0: leaf_value has \d+ values")


def test_feature_bank_mismatch_names_both_hashes(model_files):
    path = model_files["linear"]
    mine = spec_hash(SPECS)
    reordered = SPECS[1:] + SPECS[:1]
    with pytest.raises(ConfigError) as e:
        M.load_model(path, reordered)
    msg = str(e.value)
    assert str(path) in msg and mine in msg and spec_hash(reordered) in msg and "different order" in msg
    with pytest.raises(ConfigError, match=rf"takes {N} features, the bank has {N + 1}"):
        M.load_model(path, SPECS + ["mid:h=1s"])
    with pytest.raises(ConfigError, match="feature 0 is 'mid' in the model, 'mid:h=1s' in the bank"):
        M.load_model(path, ["mid:h=1s"] + SPECS[1:])
    with pytest.raises(ConfigError, match="the bank has 206"):
        M.load_model(path, "full")
    assert M.load_model(path, "small").feature_hash == mine
