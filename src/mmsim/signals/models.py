"""Prediction model files (docs/models.md): read, validate, write and hash them; turn LightGBM's text model into
flat node arrays; build the native (C++) model the event loop calls; and a plain numpy implementation of every
model type, the Python side of the parity tests.

- :func:`load_model` reads and validates a file, optionally against the feature bank it will run on (the
  bank's :func:`mmsim.signals.features.spec_hash` must equal the file's ``features.hash``); :func:`validate_model` does
  the same for a dict. Every problem is a :class:`~mmsim.errors.ConfigError` ``"{file}: {key}: {what}"``.
- :func:`save_model` validates a dict (numpy arrays allowed) and writes it atomically.
- :func:`model_hash`: sha256 of the canonical JSON (sorted keys, no spaces): the compile cache's key.
- :func:`parse_lightgbm`: LightGBM's ``Booster.model_to_string()`` text -> :class:`GbdtTrees` (no lightgbm
  import: it is an optional extra).
- :meth:`LoadedModel.native` gives the ``mmsim._core`` model (interpreted, or the library built by
  ``mmsim model compile`` when asked for and cached); :meth:`LoadedModel.predict_python` computes the same
  predictions with numpy.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from mmsim.errors import ConfigError

__all__ = [
    "FORMAT", "VERSION", "TYPES", "CLASS_NAMES", "GbdtTrees", "LoadedModel", "load_model", "validate_model",
    "save_model", "model_hash", "parse_lightgbm",
]

FORMAT = "mmsim-model"
VERSION = 1
TYPES = ("linear", "logistic", "multinomial", "gbdt", "mlp")
TARGETS = ("move", "up", "direction")
#: Outputs of the three-class models (classes down, flat, up); ``move`` = p_up - p_down may follow.
CLASS_NAMES = ("p_down", "p_flat", "p_up")
#: LightGBM's kZeroThreshold (a float): its predictor reads inputs with |x| <= this as 0.0.
LGB_ZERO = float(np.float32(1e-35))
#: LightGBM objectives whose output is the raw score.
_IDENTITY_OBJECTIVES = {"regression", "regression_l2", "regression_l1", "huber", "fair", "quantile", "mape"}

PathLike = Union[str, os.PathLike]


# ------------------------------------------------------------------------------------------------ helpers
def _plain(obj: Any) -> Any:
    """A copy with numpy arrays and scalars turned into lists and Python numbers (JSON-ready)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


def _canonical(doc: Any) -> bytes:
    return json.dumps(_plain(doc), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def model_hash(doc: dict) -> str:
    """sha256 (hex) of the model's canonical JSON (sorted keys, compact, numpy values as JSON numbers)."""
    return hashlib.sha256(_canonical(doc)).hexdigest()


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Check:
    """Validation helpers that raise ConfigError('{where}: {key}: {what}')."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, what: str) -> "ConfigError":
        return ConfigError(f"{self.where}: {key}: {what}")

    def get(self, d: dict, key: str, prefix: str = "") -> Any:
        if key not in d:
            raise self.fail(prefix + key, "missing")
        return d[key]

    def obj(self, v: Any, key: str) -> dict:
        if not isinstance(v, dict):
            raise self.fail(key, f"expected an object, got {_kind(v)}")
        return v

    def text(self, v: Any, key: str) -> str:
        if not isinstance(v, str):
            raise self.fail(key, f"expected a string, got {_kind(v)}")
        return v

    def integer(self, v: Any, key: str) -> int:
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.fail(key, f"expected an integer, got {_kind(v)}")
        return v

    def number(self, v: Any, key: str) -> float:
        if not _is_num(v):
            raise self.fail(key, f"expected a number, got {_kind(v)}")
        if not math.isfinite(v):
            raise self.fail(key, f"non-finite value {v}")
        return float(v)

    def vector(self, v: Any, key: str, n: Optional[int] = None) -> np.ndarray:
        if not isinstance(v, list):
            raise self.fail(key, f"expected a list of numbers, got {_kind(v)}")
        if n is not None and len(v) != n:
            raise self.fail(key, f"expected {n} values, got {len(v)}")
        if not v:
            raise self.fail(key, "empty")
        for i, x in enumerate(v):
            if not _is_num(x):
                raise self.fail(f"{key}[{i}]", f"expected a number, got {_kind(x)}")
        a = np.asarray(v, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise self.fail(f"{key}[{bad[0]}]", f"non-finite value {a[bad[0]]} (NaN or infinity)")
        return a

    def matrix(self, v: Any, key: str, rows: Optional[int] = None, cols: Optional[int] = None) -> np.ndarray:
        if not isinstance(v, list) or not v:
            raise self.fail(key, f"expected a non-empty list of rows, got {_kind(v)}")
        if rows is not None and len(v) != rows:
            raise self.fail(key, f"expected {rows} rows, got {len(v)}")
        out = [self.vector(r, f"{key}[{i}]", cols) for i, r in enumerate(v)]
        width = len(out[0])
        for i, r in enumerate(out):
            if len(r) != width:
                raise self.fail(f"{key}[{i}]", f"expected {width} values (as row 0), got {len(r)}")
        return np.vstack(out)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    if isinstance(v, str):
        return f"the string {v[:40]!r}"
    if isinstance(v, list):
        return f"a list of {len(v)}"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


# ------------------------------------------------------------------------------------------- LightGBM text
@dataclass(frozen=True)
class GbdtTrees:
    """A LightGBM ensemble as flat arrays (the layout of ``mmsim._core.GbdtModel``).

    Tree ``t`` owns internal nodes ``tree_nodes[t]:tree_nodes[t+1]`` and leaves ``tree_leaves[t]:tree_leaves[t+1]``
    and adds to class ``t % n_classes``. Children >= 0 are nodes of the same tree (local index), < 0 the leaf
    ``~child``. A categorical node's ``threshold`` is the index ``c`` of its split; its category bitset is
    ``cat_words[cat_begin[c]:cat_end[c]]``.
    """

    objective: str
    n_inputs: int
    n_classes: int
    transform: str  # identity | sigmoid | softmax
    sigmoid: float
    average_output: bool
    tree_nodes: np.ndarray
    tree_leaves: np.ndarray
    split_feature: np.ndarray
    threshold: np.ndarray
    decision_type: np.ndarray
    left_child: np.ndarray
    right_child: np.ndarray
    leaf_value: np.ndarray
    cat_begin: np.ndarray
    cat_end: np.ndarray
    cat_words: np.ndarray
    feature_names: tuple[str, ...] = ()

    @property
    def n_trees(self) -> int:
        return len(self.tree_nodes) - 1

    def core_kwargs(self) -> dict[str, Any]:
        return dict(n_inputs=self.n_inputs, n_classes=self.n_classes, transform=self.transform,
                    sigmoid=self.sigmoid, average_output=self.average_output, tree_nodes=self.tree_nodes,
                    tree_leaves=self.tree_leaves, split_feature=self.split_feature, threshold=self.threshold,
                    decision_type=self.decision_type, left_child=self.left_child, right_child=self.right_child,
                    leaf_value=self.leaf_value, cat_begin=self.cat_begin, cat_end=self.cat_end,
                    cat_words=self.cat_words)


def parse_lightgbm(text: str, where: str = "lightgbm") -> GbdtTrees:
    """LightGBM's text model (``Booster.model_to_string()``, format v2-v4) -> :class:`GbdtTrees`.

    Supports numerical splits with every missing-value mode, categorical splits, regression (identity), binary
    (sigmoid) and multiclass (softmax) objectives and random-forest averaging; rejects linear trees and other
    objectives. Errors name ``where`` and the tree."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: empty LightGBM model text")
    lines = text.splitlines()
    if lines[0].strip() != "tree":
        raise ConfigError(f"{where}: not a LightGBM text model (first line {lines[0][:40]!r}, expected 'tree')")
    header: dict[str, str] = {}
    flags: set[str] = set()
    i = 1
    while i < len(lines) and not lines[i].startswith("Tree="):
        line = lines[i].strip()
        if line == "end of trees":
            break
        if line:
            k, eq, v = line.partition("=")
            if eq:
                header[k] = v
            else:
                flags.add(k)
        i += 1

    def need(key: str) -> str:
        if key not in header:
            raise ConfigError(f"{where}: header has no {key}=")
        return header[key]

    def as_int(v: str, key: str) -> int:
        try:
            return int(v)
        except ValueError:
            raise ConfigError(f"{where}: {key}={v!r} is not an integer") from None

    version = need("version")
    if version not in ("v2", "v3", "v4"):
        raise ConfigError(f"{where}: LightGBM model format {version} is not supported (v2, v3, v4)")
    k = as_int(need("num_tree_per_iteration"), "num_tree_per_iteration")
    num_class = as_int(need("num_class"), "num_class")
    n_inputs = as_int(need("max_feature_idx"), "max_feature_idx") + 1
    obj_tokens = need("objective").split()
    if not obj_tokens:
        raise ConfigError(f"{where}: objective= is empty")
    objective = obj_tokens[0]
    opts = dict(t.split(":", 1) for t in obj_tokens[1:] if ":" in t)
    sigmoid = 1.0
    if objective in _IDENTITY_OBJECTIVES:
        if "sqrt" in obj_tokens[1:]:
            raise ConfigError(f"{where}: objective '{objective} sqrt' (square-root transformed label) is not "
                              "supported")
        transform = "identity"
    elif objective == "binary":
        transform = "sigmoid"
        try:
            sigmoid = float(opts.get("sigmoid", "1"))
        except ValueError:
            raise ConfigError(f"{where}: objective sigmoid:{opts['sigmoid']!r} is not a number") from None
    elif objective == "multiclass":
        transform = "softmax"
    else:
        raise ConfigError(f"{where}: objective '{objective}' is not supported (regression, binary, multiclass)")
    if (transform == "softmax") != (k > 1) or num_class != k:
        raise ConfigError(f"{where}: objective {objective} with num_class={num_class} and "
                          f"num_tree_per_iteration={k} is not supported")

    cols: dict[str, list] = {n: [] for n in ("split_feature", "threshold", "decision_type", "left_child",
                                             "right_child", "leaf_value")}
    tree_nodes, tree_leaves = [0], [0]
    cat_begin: list[int] = []
    cat_end: list[int] = []
    cat_words: list[int] = []
    ended = False
    t = 0
    while i < len(lines):
        line = lines[i].strip()
        if line == "end of trees":
            ended = True
            break
        if not line:
            i += 1
            continue
        if not line.startswith("Tree="):
            raise ConfigError(f"{where}: unexpected line {i + 1}: {line[:60]!r}")
        label = f"{where}: tree {t}"
        if as_int(line[5:], "Tree") != t:
            raise ConfigError(f"{label}: found {line!r} (trees must be numbered 0, 1, ...)")
        block: dict[str, str] = {}
        i += 1
        while i < len(lines) and lines[i].strip() and not lines[i].startswith("Tree="):
            kk, eq, vv = lines[i].strip().partition("=")
            if eq:
                block[kk] = vv
            i += 1
        _parse_tree(block, label, n_inputs, cols, tree_nodes, tree_leaves, cat_begin, cat_end, cat_words)
        t += 1
    if not ended:
        raise ConfigError(f"{where}: no 'end of trees' line: the model text is truncated")
    if t == 0:
        raise ConfigError(f"{where}: no trees")
    if t % k:
        raise ConfigError(f"{where}: {t} trees is not a multiple of num_tree_per_iteration={k}")
    if "tree_sizes" in header and len(header["tree_sizes"].split()) != t:
        raise ConfigError(f"{where}: tree_sizes lists {len(header['tree_sizes'].split())} trees, found {t}")
    names = tuple(header.get("feature_names", "").split())
    return GbdtTrees(
        objective=objective, n_inputs=n_inputs, n_classes=k, transform=transform, sigmoid=sigmoid,
        average_output="average_output" in flags,
        tree_nodes=np.asarray(tree_nodes, np.int32), tree_leaves=np.asarray(tree_leaves, np.int32),
        split_feature=np.asarray(cols["split_feature"], np.int32),
        threshold=np.asarray(cols["threshold"], np.float64),
        decision_type=np.asarray(cols["decision_type"], np.int8),
        left_child=np.asarray(cols["left_child"], np.int32), right_child=np.asarray(cols["right_child"], np.int32),
        leaf_value=np.asarray(cols["leaf_value"], np.float64),
        cat_begin=np.asarray(cat_begin, np.int32), cat_end=np.asarray(cat_end, np.int32),
        cat_words=np.asarray(cat_words, np.uint32), feature_names=names)


def _parse_tree(block: dict[str, str], label: str, n_inputs: int, cols: dict[str, list], tree_nodes: list[int],
                tree_leaves: list[int], cat_begin: list[int], cat_end: list[int], cat_words: list[int]) -> None:
    def field_(key: str, conv: Any, n: int) -> list:
        if key not in block:
            raise ConfigError(f"{label}: no {key}=")
        toks = block[key].split()
        if len(toks) != n:
            raise ConfigError(f"{label}: {key} has {len(toks)} values, expected {n}")
        try:
            return [conv(x) for x in toks]
        except ValueError:
            raise ConfigError(f"{label}: {key} has a value that is not a number") from None

    try:
        num_leaves = int(block.get("num_leaves", ""))
        num_cat = int(block.get("num_cat", "0"))
    except ValueError:
        raise ConfigError(f"{label}: num_leaves / num_cat missing or not integers") from None
    if num_leaves < 1 or num_cat < 0:
        raise ConfigError(f"{label}: num_leaves must be >= 1 and num_cat >= 0")
    if block.get("is_linear", "0") != "0":
        raise ConfigError(f"{label}: linear trees (linear_tree=true) are not supported")
    leaves = field_("leaf_value", float, num_leaves)
    if not all(math.isfinite(v) for v in leaves):
        raise ConfigError(f"{label}: leaf_value has a non-finite value")
    n = num_leaves - 1
    if n:
        feat = field_("split_feature", int, n)
        thr = field_("threshold", float, n)
        dt = field_("decision_type", int, n)
        left = field_("left_child", int, n)
        right = field_("right_child", int, n)
        for j in range(n):
            if not 0 <= feat[j] < n_inputs:
                raise ConfigError(f"{label}: node {j} splits on feature {feat[j]}, the model has {n_inputs}")
            if not 0 <= dt[j] < 16 or (dt[j] >> 2) & 3 == 3:
                raise ConfigError(f"{label}: node {j} has an unknown decision_type {dt[j]}")
            for ch in (left[j], right[j]):
                if (ch >= 0 and not j < ch < n) or (ch < 0 and ~ch >= num_leaves):
                    raise ConfigError(f"{label}: node {j} has a child {ch} out of range")
            if math.isnan(thr[j]):  # +-inf occurs (a split of NaN from everything else)
                raise ConfigError(f"{label}: node {j} has a NaN threshold")
        if num_cat:
            bounds = field_("cat_boundaries", int, num_cat + 1)
            words = block.get("cat_threshold", "").split()
            if bounds[0] != 0 or bounds[-1] != len(words) or any(b > c for b, c in zip(bounds, bounds[1:])):
                raise ConfigError(f"{label}: cat_boundaries do not fit cat_threshold")
            try:
                w = [int(x) for x in words]
            except ValueError:
                raise ConfigError(f"{label}: cat_threshold has a value that is not an integer") from None
            if any(not 0 <= x < 2**32 for x in w):
                raise ConfigError(f"{label}: cat_threshold values must be 32-bit unsigned")
            split_base, word_base = len(cat_begin), len(cat_words)
            for c in range(num_cat):
                cat_begin.append(word_base + bounds[c])
                cat_end.append(word_base + bounds[c + 1])
            cat_words.extend(w)
            for j in range(n):
                if dt[j] & 1:
                    c = thr[j]
                    if c != int(c) or not 0 <= c < num_cat:
                        raise ConfigError(f"{label}: node {j} has categorical split index {c} of {num_cat}")
                    thr[j] = float(split_base + int(c))
        elif any(d & 1 for d in dt):
            raise ConfigError(f"{label}: a categorical split but num_cat=0")
        cols["split_feature"] += feat
        cols["threshold"] += thr
        cols["decision_type"] += dt
        cols["left_child"] += left
        cols["right_child"] += right
    cols["leaf_value"] += leaves
    tree_nodes.append(tree_nodes[-1] + n)
    tree_leaves.append(tree_leaves[-1] + num_leaves)


def _venue_of(spec: str) -> str:
    """``"perp/ofi:l=1:h=1s"`` -> ``"perp"``; a quoted venue's spec -> ``""``."""
    head, sep, _ = spec.partition("/")
    return head if sep and ":" not in head else ""


# -------------------------------------------------------------------------------------------- the model
@dataclass
class LoadedModel:
    """A validated model file. ``doc`` is the JSON as read; arrays are parsed once here."""

    doc: dict
    path: Optional[Path]
    hash: str
    type: str
    specs: list[str]
    feature_hash: str
    horizon_ns: int
    target: str
    outputs: list[str]
    mean: Optional[np.ndarray] = None
    scale: Optional[np.ndarray] = None
    weights: Optional[np.ndarray] = None          # linear/logistic (n,), multinomial (k, n)
    bias: Any = None                             # float, or (k,) for multinomial
    layers: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # mlp: (W [out][in], b [out])
    softmax: bool = False                        # mlp
    trees: Optional[GbdtTrees] = None            # gbdt

    @property
    def n_inputs(self) -> int:
        return len(self.specs)

    @property
    def quoted_specs(self) -> list[str]:
        """The inputs read from the quoted venue's bank, in the model's order."""
        return [s for s in self.specs if not _venue_of(s)]

    @property
    def venue_specs(self) -> dict[str, list[str]]:
        """Signal venue -> the inputs read from its bank (``venue/spec`` in ``specs``), in the model's order."""
        from mmsim.signals.features import CROSS_VENUE

        out: dict[str, list[str]] = {}
        for s in self.specs:
            v = _venue_of(s)
            if v:
                bank = out.setdefault(v, [])  # a venue read only through a cross-venue column has an empty bank
                if s.split("/", 1)[1] not in CROSS_VENUE:
                    bank.append(s.split("/", 1)[1])
        return out

    def input_map(self, venues: Sequence[str]) -> list[tuple[int, int]]:
        """Per model input, ``(venue index, feature index in that venue's bank)``: venue 0 the quoted one,
        ``venues`` the run's signal venues in order; each bank being :attr:`quoted_specs` / :attr:`venue_specs`.
        A cross-venue ``venue/basis`` is ``(venue index, -1)``: the engine computes it from both books."""
        q = self.quoted_specs
        vs = self.venue_specs
        out = []
        for s in self.specs:
            v = _venue_of(s)
            if not v:
                out.append((0, q.index(s)))
            else:
                if v not in venues:
                    raise ConfigError(f"{self.where}: features.specs: the model reads signal venue {v!r} "
                                      f"({s}); the run has {', '.join(venues) or 'no signal venues'}")
                name = s.split("/", 1)[1]
                out.append((list(venues).index(v) + 1, -1 if name == "basis" else vs[v].index(name)))
        return out

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def with_move(self) -> bool:
        """A three-class model that also outputs move = p_up - p_down."""
        return self.target == "direction" and self.outputs[-1] == "move"

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else "model"

    def check_specs(self, specs: Any) -> None:
        """ConfigError unless ``specs`` (anything mmsim.signals.features.parse_specs takes) is the model's feature bank."""
        from mmsim.signals.features import column_names, parse_specs, spec_hash

        bank = column_names(parse_specs(specs))
        want = self.quoted_specs  # all of specs for a single-venue model
        h = spec_hash(bank)
        if bank == want:
            return
        if sorted(bank) == sorted(want):
            detail = "the same features in a different order"
        elif len(bank) != len(want):
            of = " of the quoted venue" if len(want) < len(self.specs) else ""
            detail = f"the model takes {len(want)} features{of}, the bank has {len(bank)}"
        else:
            j = next(i for i, (a, b) in enumerate(zip(want, bank)) if a != b)
            detail = f"feature {j} is '{want[j]}' in the model, '{bank[j]}' in the bank"
        raise ConfigError(f"{self.where}: features.hash: the model was trained on feature bank "
                          f"{spec_hash(want) if want else self.feature_hash}, the run uses feature bank {h} ({detail})")

    # ------------------------------------------------------------------------------------- native models
    def interpreted(self) -> Any:
        """The interpreted C++ model (mmsim._core)."""
        from mmsim import _core

        pre = dict(mean=self.mean, scale=self.scale, output_names=self.outputs)
        if self.type == "linear":
            return _core.LinearModel(self.weights, float(self.bias), **pre)
        if self.type == "logistic":
            return _core.LogisticModel(self.weights, float(self.bias), **pre)
        if self.type == "multinomial":
            return _core.MultinomialModel(self.weights, self.bias, with_move=self.with_move, **pre)
        if self.type == "mlp":
            return _core.MlpModel([w for w, _ in self.layers], [b for _, b in self.layers], softmax=self.softmax,
                                  with_move=self.with_move, **pre)
        assert self.trees is not None
        return _core.GbdtModel(**self.trees.core_kwargs(), with_move=self.with_move, **pre)

    def native(self, library: Optional[str] = None) -> Any:
        """The ``mmsim._core.Model`` for the event loop: the compiled ``library`` (``mmsim model compile``;
        :func:`mmsim.signals.compile.native_model` finds the cached one) when given, else the interpreted model."""
        if library is not None:
            from mmsim import _core

            return _core.load_compiled(str(library), self.hash, self.n_inputs, self.n_outputs)
        return self.interpreted()

    # ----------------------------------------------------------------------------------- numpy reference
    def predict_python(self, X: Any) -> np.ndarray:
        """The model's outputs computed with numpy: X (n_inputs,) -> (n_outputs,), or (rows, n_inputs) ->
        (rows, n_outputs)."""
        X = np.asarray(X, dtype=np.float64)
        one = X.ndim == 1
        X = np.atleast_2d(X)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ConfigError(f"predict: the model takes {self.n_inputs} inputs, got shape {X.shape}")
        Z = (X - self.mean) / self.scale if self.mean is not None else X.copy()
        if self.type != "gbdt":
            Z[np.isnan(Z)] = 0.0
        if self.type == "linear":
            out = (Z @ self.weights + self.bias)[:, None]
        elif self.type == "logistic":
            out = (1.0 / (1.0 + np.exp(-(Z @ self.weights + self.bias))))[:, None]
        elif self.type == "multinomial":
            out = _softmax(Z @ self.weights.T + self.bias)
        elif self.type == "mlp":
            h = Z
            for i, (W, b) in enumerate(self.layers):
                h = h @ W.T + b
                if i + 1 < len(self.layers):
                    h = np.where(h > 0.0, h, 0.0)
            out = _softmax(h) if self.softmax else h
        else:
            assert self.trees is not None
            out = _gbdt_numpy(self.trees, Z)
        if self.with_move:
            out = np.column_stack([out, out[:, -1] - out[:, 0]])
        return out[0] if one else out


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    s = e[:, 0].copy()
    for j in range(1, e.shape[1]):  # sequential sum, as LightGBM and the C++ models
        s += e[:, j]
    return e / s[:, None]


def _gbdt_raw(t: GbdtTrees, X: np.ndarray) -> np.ndarray:
    """Raw scores (rows, n_classes): every row walks every tree with LightGBM's decision rules."""
    X = np.where(np.abs(X) <= LGB_ZERO, 0.0, X)  # LightGBM's predictor reads |x| <= kZeroThreshold as 0 (NaN kept)
    m = X.shape[0]
    raw = np.zeros((m, t.n_classes))
    for ti in range(t.n_trees):
        n0, n1, l0 = int(t.tree_nodes[ti]), int(t.tree_nodes[ti + 1]), int(t.tree_leaves[ti])
        if n1 == n0:
            raw[:, ti % t.n_classes] += t.leaf_value[l0]
            continue
        node = np.zeros(m, np.int64)
        while True:
            idx = np.flatnonzero(node >= 0)
            if idx.size == 0:
                break
            g = n0 + node[idx]
            v = X[idx, t.split_feature[g]]
            dt = t.decision_type[g].astype(np.int64)
            thr = t.threshold[g]
            missing = (dt >> 2) & 3
            nan = np.isnan(v)
            vv = np.where(nan & (missing != 2), 0.0, v)
            default = ((missing == 1) & (vv >= -LGB_ZERO) & (vv <= LGB_ZERO)) | ((missing == 2) & nan)
            with np.errstate(invalid="ignore"):
                left = np.where(default, (dt & 2) != 0, vv <= thr)
            cat = np.flatnonzero(dt & 1)
            if cat.size:
                cv = v[cat]
                ok = (cv > -1.0) & (cv < 2147483648.0)
                c = np.where(ok, np.trunc(np.where(ok, cv, 0.0)), 0).astype(np.int64)
                split = thr[cat].astype(np.int64)
                begin, end = t.cat_begin[split].astype(np.int64), t.cat_end[split].astype(np.int64)
                word = c // 32
                inside = ok & (word < end - begin)
                bits = np.zeros(cat.size, np.uint64)
                bits[inside] = t.cat_words[begin[inside] + word[inside]]
                left[cat] = inside & (((bits >> (c % 32).astype(np.uint64)) & np.uint64(1)) == 1)
            node[idx] = np.where(left, t.left_child[g], t.right_child[g])
        raw[:, ti % t.n_classes] += t.leaf_value[l0 + ~node]
    if t.average_output:
        raw /= t.n_trees // t.n_classes
    return raw


def _gbdt_numpy(t: GbdtTrees, X: np.ndarray) -> np.ndarray:
    raw = _gbdt_raw(t, X)
    if t.transform == "sigmoid":
        return 1.0 / (1.0 + np.exp(-(t.sigmoid * raw)))
    if t.transform == "softmax":
        return _softmax(raw)
    return raw


# ------------------------------------------------------------------------------------------- validation
def _expected_outputs(kind: str, target: str, k: int) -> list[list[str]]:
    if target == "move":
        return [["move"]]
    if target == "up":
        return [["p_up"]]
    names = list(CLASS_NAMES) if k == 3 else [f"p_{i}" for i in range(k)]
    return [names, names + ["move"]]


def validate_model(doc: Any, where: str = "model", path: Optional[Path] = None) -> LoadedModel:
    """Check a model dict against docs/models.md; return it parsed. ConfigError '{where}: {key}: {what}'."""
    from mmsim.signals.features import column_names, parse_specs, spec_hash

    c = _Check(where)
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {_kind(doc)}")
    fmt = c.get(doc, "format")
    if fmt != FORMAT:
        raise c.fail("format", f"expected {FORMAT!r}, got {fmt!r} (not an mmsim model file)")
    version = c.get(doc, "version")
    if version != VERSION or isinstance(version, bool):
        raise c.fail("version", f"{version!r} is not supported (this mmsim reads version {VERSION})")
    kind = c.text(c.get(doc, "type"), "type")
    if kind not in TYPES:
        raise c.fail("type", f"unknown model type {kind!r} (types: {', '.join(TYPES)})")
    feats = c.obj(c.get(doc, "features"), "features")
    raw_specs = c.get(feats, "specs", "features.")
    if not isinstance(raw_specs, list) or not raw_specs or not all(isinstance(s, str) for s in raw_specs):
        raise c.fail("features.specs", "expected a non-empty list of feature spec strings")
    try:
        specs = column_names(raw_specs)  # "venue/spec": a signal venue's feature (docs/venues.md)
    except ConfigError as e:
        raise c.fail("features.specs", str(e)) from None
    fhash = c.text(c.get(feats, "hash", "features."), "features.hash")
    if spec_hash(specs) != fhash:
        raise c.fail("features.hash", f"{fhash} does not match features.specs, which hash to {spec_hash(specs)}")
    n = len(specs)
    horizon = c.integer(c.get(doc, "horizon_ns"), "horizon_ns")
    if horizon <= 0:
        raise c.fail("horizon_ns", f"must be > 0, got {horizon}")
    target = c.text(c.get(doc, "target"), "target")
    if target not in TARGETS:
        raise c.fail("target", f"unknown target {target!r} (targets: {', '.join(TARGETS)})")
    outputs = c.get(doc, "outputs")
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str) for o in outputs):
        raise c.fail("outputs", "expected a non-empty list of output names")
    training = c.obj(c.get(doc, "training"), "training")
    start = c.integer(c.get(training, "start_ts", "training."), "training.start_ts")
    end = c.integer(c.get(training, "end_ts", "training."), "training.end_ts")
    if end < start:
        raise c.fail("training.end_ts", f"{end} is before training.start_ts {start}")
    m = LoadedModel(doc=doc, path=path, hash=model_hash(doc), type=kind, specs=specs, feature_hash=fhash,
                    horizon_ns=horizon, target=target, outputs=list(outputs))
    if doc.get("preprocess") is not None:
        pre = c.obj(doc["preprocess"], "preprocess")
        m.mean = c.vector(c.get(pre, "mean", "preprocess."), "preprocess.mean", n)
        m.scale = c.vector(c.get(pre, "scale", "preprocess."), "preprocess.scale", n)
        bad = np.flatnonzero(m.scale <= 0)
        if bad.size:
            raise c.fail(f"preprocess.scale[{bad[0]}]", f"must be > 0, got {m.scale[bad[0]]}")
    params = c.obj(c.get(doc, "params"), "params")
    want_target = {"linear": "move", "logistic": "up", "multinomial": "direction"}
    if kind in want_target and target != want_target[kind]:
        raise c.fail("target", f"a {kind} model predicts target {want_target[kind]!r}, not {target!r}")
    k = 1
    if kind in ("linear", "logistic"):
        m.weights = c.vector(c.get(params, "weights", "params."), "params.weights", n)
        m.bias = c.number(c.get(params, "bias", "params."), "params.bias")
    elif kind == "multinomial":
        m.weights = c.matrix(c.get(params, "weights", "params."), "params.weights", 3, n)
        m.bias = c.vector(c.get(params, "bias", "params."), "params.bias", 3)
        k = 3
    elif kind == "mlp":
        layers = c.get(params, "layers", "params.")
        if not isinstance(layers, list) or not layers:
            raise c.fail("params.layers", "expected a non-empty list of {weights, bias} objects")
        width = n
        for i, layer in enumerate(layers):
            key = f"params.layers[{i}]"
            layer = c.obj(layer, key)
            W = c.matrix(c.get(layer, "weights", key + "."), key + ".weights", None, width)
            b = c.vector(c.get(layer, "bias", key + "."), key + ".bias", W.shape[0])
            m.layers.append((W, b))
            width = W.shape[0]
        sm = params.get("softmax", False)
        if not isinstance(sm, bool):
            raise c.fail("params.softmax", f"expected true or false, got {_kind(sm)}")
        m.softmax = sm
        k = width
        if sm and (width != 3 or target != "direction"):
            raise c.fail("params.softmax", f"a softmax network needs 3 outputs and target 'direction' "
                         f"(has {width} outputs, target {target!r})")
        if not sm and (width != 1 or target != "move"):
            raise c.fail("params.layers", f"a regression network needs 1 output and target 'move' "
                         f"(has {width} outputs, target {target!r}; set \"softmax\": true for class probabilities)")
    else:  # gbdt
        text = c.text(c.get(params, "lightgbm", "params."), "params.lightgbm")
        objective = c.text(c.get(params, "objective", "params."), "params.objective")
        trees = parse_lightgbm(text, f"{where}: params.lightgbm")
        if objective.split()[0] != trees.objective:
            raise c.fail("params.objective", f"{objective!r} but the LightGBM model's objective is {trees.objective!r}")
        if trees.n_inputs != n:
            raise c.fail("params.lightgbm", f"the LightGBM model takes {trees.n_inputs} features, features.specs "
                         f"has {n}")
        want = {"identity": "move", "sigmoid": "up", "softmax": "direction"}[trees.transform]
        if target != want:
            raise c.fail("target", f"a LightGBM {trees.objective} model predicts target {want!r}, not {target!r}")
        if trees.transform == "softmax" and trees.n_classes != 3:
            raise c.fail("params.lightgbm", f"a multiclass model needs 3 classes (down, flat, up), "
                         f"has {trees.n_classes}")
        m.trees = trees
        k = trees.n_classes
    allowed = _expected_outputs(kind, target, k)
    if list(outputs) not in allowed:
        raise c.fail("outputs", f"{outputs} does not fit a {kind} model with target {target!r} "
                     f"(expected {' or '.join(str(a) for a in allowed)})")
    return m


def load_model(path: PathLike, specs: Any = None) -> LoadedModel:
    """Read and validate a model file; with ``specs`` (the run's feature bank) also check the feature hash."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: model file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, not a model file") from None
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a JSON model file (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        # the text ends at (or one character after) the error, or inside a string: it was cut short
        cut = len(text[e.pos:].strip()) <= 1 or e.msg.startswith("Unterminated string")
        what = "truncated" if cut else "malformed"
        raise ConfigError(f"{p}: not valid JSON ({what}: {e.msg} at line {e.lineno} column {e.colno})") from None
    m = validate_model(doc, str(p), p)
    if specs is not None:
        m.check_specs(specs)
    return m


# ------------------------------------------------------------------------------------------------ writing
def _dump(v: Any, indent: str = "") -> str:
    """JSON with objects one key per line and numeric lists on one line (a matrix: one row per line)."""
    if isinstance(v, dict):
        if not v:
            return "{}"
        inner = indent + "  "
        items = [f"{inner}{json.dumps(k)}: {_dump(x, inner)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(v, list) and v and all(isinstance(x, list) for x in v):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _dump(x, inner) for x in v) + "\n" + indent + "]"
    if isinstance(v, list) and any(isinstance(x, dict) for x in v):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _dump(x, inner) for x in v) + "\n" + indent + "]"
    return json.dumps(v, ensure_ascii=False, allow_nan=False)


def save_model(doc: dict, path: PathLike) -> Path:
    """Validate ``doc`` (numpy arrays and scalars allowed) and write it to ``path`` atomically. Returns the path."""
    p = Path(path)
    plain = _plain(doc)
    validate_model(plain, str(p), p)
    text = _dump(plain) + "\n"
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def example_model(kind: str, specs: Sequence[str], seed: int = 0, **extra: Any) -> dict:
    """A small random model dict of a type (tests, benchmarks, the worked example in docs/models.md)."""
    from mmsim.signals.features import column_names, parse_specs, spec_hash

    names = column_names(parse_specs(list(specs)))
    n = len(names)
    rng = np.random.default_rng(seed)
    doc: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "type": kind,
        "features": {"specs": names, "hash": spec_hash(names)},
        "horizon_ns": 1_000_000_000,
        "training": {"scenario": "example", "seed": seed, "start_ts": 0, "end_ts": 0, "n_rows": 0, "metrics": {}},
        "preprocess": {"mean": rng.normal(size=n).tolist(), "scale": rng.uniform(0.5, 2.0, n).tolist()},
    }
    if kind == "linear":
        doc.update(target="move", outputs=["move"], params={"weights": rng.normal(size=n).tolist(), "bias": 0.1})
    elif kind == "logistic":
        doc.update(target="up", outputs=["p_up"], params={"weights": (rng.normal(size=n) / 4).tolist(), "bias": -0.2})
    elif kind == "multinomial":
        doc.update(target="direction", outputs=list(CLASS_NAMES) + ["move"],
                   params={"weights": (rng.normal(size=(3, n)) / 4).tolist(), "bias": [0.1, 0.3, -0.2]})
    elif kind == "mlp":
        hidden = list(extra.get("hidden", (64, 32)))
        softmax = bool(extra.get("softmax", False))
        widths = [n] + hidden + [3 if softmax else 1]
        layers = [{"weights": (rng.normal(size=(o, i)) / math.sqrt(i)).tolist(),
                   "bias": (rng.normal(size=o) / 10).tolist()}
                  for i, o in zip(widths, widths[1:])]
        doc.update(target="direction" if softmax else "move",
                   outputs=list(CLASS_NAMES) if softmax else ["move"],
                   params={"layers": layers, **({"softmax": True} if softmax else {})})
    else:
        raise ConfigError(f"example_model: no example for type {kind!r} (gbdt needs a LightGBM model)")
    return doc
