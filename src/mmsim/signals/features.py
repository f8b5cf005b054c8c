"""Feature specs, bundled feature sets, and the independent numpy reference of the Rust feature bank.

A feature is a *spec*: a kind, and where the kind takes them a book level ``l``, an exponential-decay
horizon ``h`` and an event window ``w``. The text form (docs/features.md has every formula)::

    kind[:l=N][:h=DURATION][:w=N]       e.g.  mid   ofi:l=5:h=1s   realized_vol:w=100   vpin:w=200:h=60s

Durations are ``100ns``, ``250us``, ``500ms``, ``1.5s`` (a whole number of ns, > 0). Keys may come in any
order and also be spelled ``level=``, ``horizon=``, ``window=``; the *canonical* text (``FeatureSpec.text``,
also the column name) orders them ``l``, ``h``, ``w``, writes ``l`` only for the multi-level kinds
(microprice, depth_imbalance, ofi) and the horizon in the largest unit that divides it exactly.

- :func:`parse_specs` turns a list, a comma/whitespace-separated text, a bundled set name (``small``,
  ``full``) or a file (one or more specs per line, ``#`` comments) into a list of :class:`FeatureSpec`,
  raising :class:`~mmsim.errors.ConfigError` that names the bad spec.
- :func:`spec_array` gives the ``MmsimFeatureSpec`` records the Rust bank takes (``SPEC_DTYPE``);
  :func:`batch_features` runs the bank (``mmsim._core.feature_batch``) over observations.
- :func:`reference_features` is the *independent* implementation the tests hold the bank to: for every
  observation it recomputes each feature from scratch over the whole history with plain numpy (decayed
  sums as Σ x_j·exp(−(t − t_j)/H) over all j, windows as the last W values, VPIN by re-bucketing every
  trade). O(n²); meant for small streams.
- :func:`observations_from_events` replays EVENT_DTYPE rows through a simple book (numba) and returns the
  top-L observations the strategy would see, one per event. It is a helper, separate from the reference.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from mmsim import records as R
from mmsim.errors import ConfigError
from mmsim.data.latency import parse_duration

__all__ = [
    "KINDS", "FeatureSpec", "parse_spec", "parse_specs", "SMALL", "FULL", "SPEC_DTYPE", "spec_array",
    "column_names", "spec_hash", "Observations", "as_observations", "batch_features", "reference_features",
    "observations_from_events", "MAX_WINDOW", "VPIN_BUCKETS",
]

#: Kind name -> code of ``enum MmsimFeatureKind`` (cpp/include/mmsim/feature_bank.h).
KINDS: dict[str, int] = {
    "mid": 1,
    "spread": 2,
    "microprice": 3,
    "queue_imbalance": 4,
    "depth_imbalance": 5,
    "ofi": 6,
    "trade_sign_imbalance": 7,
    "signed_volume": 8,
    "realized_vol": 9,
    "event_intensity": 10,
    "trade_intensity": 11,
    "time_since_trade": 12,
    "time_since_mid_change": 13,
    "vpin": 14,
    "mid_return": 15,
}

# Parameter shapes (bank.rs `Shape`): which of level / horizon / window a kind takes.
_L1 = {"mid", "spread", "queue_imbalance"}                        # top of book; optional h (EWMA)
_MULTI_LEVEL = {"microprice", "depth_imbalance"}                  # l = 1..depth; optional h (EWMA)
_FLOW = {"ofi", "trade_sign_imbalance", "signed_volume", "realized_vol", "mid_return"}  # h xor w
_INTENSITY = {"event_intensity", "trade_intensity"}               # h required
_CLOCK = {"time_since_trade", "time_since_mid_change"}            # nothing
_USES_LEVEL = _MULTI_LEVEL | {"ofi"}

#: Longest event window (observations or trades), as in the Rust bank.
MAX_WINDOW = 10_000_000
#: Most book levels the bank takes.
MAX_LEVELS = 1024
#: Buckets averaged by an undecayed ``vpin`` (Easley, López de Prado, O'Hara 2012).
VPIN_BUCKETS = 50

_NS = 1_000_000_000


def _fmt_ns(ns: int) -> str:
    for unit, k in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns % k == 0:
            return f"{ns // k}{unit}"
    return f"{ns}ns"


# ------------------------------------------------------------------------------------------------ specs
@dataclass(frozen=True)
class FeatureSpec:
    """One feature: ``kind`` (a name of :data:`KINDS`), ``level`` (0 for kinds without one, 1 for the
    top-of-book kinds), ``horizon_ns`` (0 = none) and ``window`` (0 = none). Build it with
    :func:`parse_spec` / :func:`parse_specs`, which validate; ``text`` is the canonical form."""

    kind: str
    level: int = 0
    horizon_ns: int = 0
    window: int = 0

    def __post_init__(self) -> None:
        # level defaults: 1 for the book kinds, 0 (none) for the others
        if self.kind in _L1 | _USES_LEVEL and self.level == 0:
            object.__setattr__(self, "level", 1)
        elif self.kind in KINDS and self.kind not in _L1 | _USES_LEVEL and self.level == 1:
            object.__setattr__(self, "level", 0)

    @property
    def code(self) -> int:
        return KINDS[self.kind]

    @property
    def text(self) -> str:
        parts = [self.kind]
        if self.kind in _USES_LEVEL:
            parts.append(f"l={self.level}")
        if self.horizon_ns:
            parts.append(f"h={_fmt_ns(self.horizon_ns)}")
        if self.window:
            parts.append(f"w={self.window}")
        return ":".join(parts)

    def __str__(self) -> str:
        return self.text

    def validate(self, max_levels: Optional[int] = None, where: str = "", source: Optional[str] = None
                 ) -> "FeatureSpec":
        """Check the parameters against the kind (and the book depth); raises ConfigError naming the spec
        (as ``source``, the text it was parsed from, if given)."""
        label = f"feature spec '{source if source is not None else self.text}'{where}"
        if self.kind not in KINDS:
            raise ConfigError(f"{label}: unknown kind '{self.kind}' (kinds: {', '.join(KINDS)})")
        k, lvl, h, w = self.kind, self.level, self.horizon_ns, self.window
        for name, v in (("level", lvl), ("horizon_ns", h), ("window", w)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ConfigError(f"{label}: {name} must be an integer")
        if k in _USES_LEVEL:
            if lvl < 1:
                raise ConfigError(f"{label}: level must be >= 1")
            if lvl > MAX_LEVELS:
                raise ConfigError(f"{label}: level {lvl} is beyond the most levels a bank takes ({MAX_LEVELS})")
            if max_levels is not None and lvl > max_levels:
                raise ConfigError(f"{label}: level {lvl} is beyond the book depth ({max_levels} levels)")
        elif k in _L1:
            if lvl != 1:
                raise ConfigError(f"{label}: {k} is top of book only (level 1)")
            if max_levels is not None and max_levels < 1:
                raise ConfigError(f"{label}: needs a book with at least 1 level")
        elif lvl not in (0, 1):
            raise ConfigError(f"{label}: {k} takes no level")
        if h < 0:
            raise ConfigError(f"{label}: horizon must be > 0")
        if w < 0:
            raise ConfigError(f"{label}: window must be > 0")
        if w > MAX_WINDOW and k != "vpin":
            raise ConfigError(f"{label}: window {w} is longer than the maximum {MAX_WINDOW}")
        if k in _L1 or k in _MULTI_LEVEL:
            if w:
                raise ConfigError(f"{label}: {k} takes no window (use h= for a time-weighted average)")
        elif k in _FLOW:
            if not h and not w:
                raise ConfigError(f"{label}: {k} needs a horizon (h=) or an event window (w=)")
            if h and w:
                raise ConfigError(f"{label}: {k} takes a horizon (h=) or a window (w=), not both")
        elif k in _INTENSITY:
            if not h:
                raise ConfigError(f"{label}: {k} needs a horizon (h=)")
            if w:
                raise ConfigError(f"{label}: {k} takes no window")
        elif k in _CLOCK:
            if h or w:
                raise ConfigError(f"{label}: {k} takes no horizon or window")
        else:  # vpin
            if not w:
                raise ConfigError(f"{label}: vpin needs w= (the bucket volume, lots)")
        return self


_KEYS = {"l": "l", "level": "l", "h": "h", "horizon": "h", "w": "w", "window": "w"}
_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")


def parse_spec(text: str, max_levels: Optional[int] = None, where: str = "") -> FeatureSpec:
    """``"ofi:l=5:h=1s"`` -> FeatureSpec. Raises ConfigError naming the spec."""
    src = str(text).strip()
    label = f"feature spec '{src}'{where}"
    if not src:
        raise ConfigError(f"feature spec ''{where}: empty")
    kind, *params = src.split(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise ConfigError(f"{label}: unknown kind '{kind}' (kinds: {', '.join(KINDS)})")
    got: dict[str, str] = {}
    for p in params:
        key, eq, value = p.partition("=")
        key = key.strip().lower()
        if not eq or key not in _KEYS:
            raise ConfigError(f"{label}: '{p}' is not l=N, h=DURATION or w=N")
        if _KEYS[key] in got:
            raise ConfigError(f"{label}: {key} given twice")
        got[_KEYS[key]] = value.strip()
    level = 1 if kind in _L1 | _USES_LEVEL else 0
    horizon = window = 0
    if "l" in got:
        if not _INT_RE.match(got["l"]):
            raise ConfigError(f"{label}: level '{got['l']}' is not an integer")
        level = int(got["l"])
        if kind not in _L1 | _USES_LEVEL:
            raise ConfigError(f"{label}: {kind} takes no level")
        if level < 1:
            raise ConfigError(f"{label}: level must be >= 1")
    if "h" in got:
        v = got["h"]
        if v.startswith("-"):
            raise ConfigError(f"{label}: horizon must be > 0")
        horizon = parse_duration(v, f"{label}: horizon '{v}'")
        if horizon <= 0:
            raise ConfigError(f"{label}: horizon must be > 0 (omit h= for none)")
    if "w" in got:
        v = got["w"]
        if not _INT_RE.match(v):
            raise ConfigError(f"{label}: window '{v}' is not an integer")
        window = int(v)
        if window <= 0:
            raise ConfigError(f"{label}: window must be > 0 (omit w= for none)")
    return FeatureSpec(kind, level, horizon, window).validate(max_levels, where, src)


SpecsLike = Union[str, os.PathLike, FeatureSpec, Iterable[Union[str, FeatureSpec]]]


def parse_specs(specs: SpecsLike, max_levels: Optional[int] = None) -> list[FeatureSpec]:
    """Specs from a list (of texts or FeatureSpec), a text (comma/whitespace separated, may include the
    set names ``small``/``full``), a bundled set name, or a file path with specs one or more per line
    (``#`` starts a comment). Validates each (``max_levels``: the book depth, if known) and rejects
    duplicates. Raises ConfigError naming the bad spec (and the file line)."""
    out: list[FeatureSpec] = []
    seen: set[str] = set()

    def add(spec: FeatureSpec, where: str) -> None:
        if spec.text in seen:
            raise ConfigError(f"feature spec '{spec.text}'{where}: given twice")
        seen.add(spec.text)
        out.append(spec)

    def add_text(text: str, where: str) -> None:
        for tok in re.split(r"[,\s]+", text):
            if not tok:
                continue
            if tok.lower() in _BUNDLED:
                for s in _BUNDLED[tok.lower()]:
                    add(s.validate(max_levels, where), where)
            else:
                add(parse_spec(tok, max_levels, where), where)

    def read_file(path: str) -> None:
        if not Path(path).is_file():
            raise ConfigError(f"feature spec file '{path}' not found")
        for n, line in enumerate(Path(path).read_text().splitlines(), 1):
            add_text(line.split("#", 1)[0], f" ({path} line {n})")

    if isinstance(specs, FeatureSpec):
        specs = [specs]
    if isinstance(specs, os.PathLike):
        read_file(os.fspath(specs))
    elif isinstance(specs, str):
        toks = [t for t in re.split(r"[,\s]+", specs) if t]
        if toks and all(t.split(":")[0].lower() in KINDS or t.lower() in _BUNDLED for t in toks):
            add_text(specs, "")
        elif Path(specs.strip()).is_file():
            read_file(specs.strip())
        elif os.sep in specs or specs.strip().endswith((".txt", ".spec")):
            raise ConfigError(f"feature spec file '{specs.strip()}' not found")
        else:
            add_text(specs, "")
    else:
        try:
            items = list(specs)  # type: ignore[arg-type]
        except TypeError:
            raise ConfigError(f"feature specs must be text, a file or a list, not {type(specs).__name__}") from None
        for i, s in enumerate(items):
            if isinstance(s, FeatureSpec):
                add(s.validate(max_levels, f" (item {i})"), f" (item {i})")
            elif isinstance(s, str):
                add_text(s, f" (item {i})")
            else:
                raise ConfigError(f"feature spec item {i}: expected text or FeatureSpec, not {type(s).__name__}")
    if not out:
        raise ConfigError("feature specs: none given")
    return out


# ------------------------------------------------------------------------------------------ bundled sets
HORIZONS = ("100ms", "500ms", "1s", "5s", "10s", "30s", "60s")
LEVELS = (1, 2, 3, 5, 10)
WINDOWS = (10, 100, 1000)

_SMALL_TEXT = """
mid  mid:h=10s  spread  microprice:l=1  queue_imbalance  depth_imbalance:l=5
ofi:l=1:h=1s  ofi:l=1:h=10s  ofi:l=5:h=1s  ofi:l=1:w=100
trade_sign_imbalance:h=10s  signed_volume:h=1s  signed_volume:h=10s
realized_vol:h=10s  realized_vol:h=60s  mid_return:h=1s  mid_return:w=100
event_intensity:h=1s  trade_intensity:h=10s  time_since_trade  time_since_mid_change  vpin:w=100
"""


def _full_text() -> list[str]:
    t: list[str] = []
    for k in ("mid", "spread", "queue_imbalance"):
        t += [k] + [f"{k}:h={h}" for h in HORIZONS]
    for lvl in LEVELS:
        t += [f"microprice:l={lvl}"] + [f"microprice:l={lvl}:h={h}" for h in HORIZONS]
    for lvl in LEVELS[1:]:
        t += [f"depth_imbalance:l={lvl}"] + [f"depth_imbalance:l={lvl}:h={h}" for h in HORIZONS]
    for lvl in LEVELS:
        t += [f"ofi:l={lvl}:h={h}" for h in HORIZONS] + [f"ofi:l={lvl}:w={w}" for w in WINDOWS]
    for k in ("trade_sign_imbalance", "signed_volume", "realized_vol", "mid_return"):
        t += [f"{k}:h={h}" for h in HORIZONS] + [f"{k}:w={w}" for w in WINDOWS]
    for k in ("event_intensity", "trade_intensity"):
        t += [f"{k}:h={h}" for h in HORIZONS]
    t += ["time_since_trade", "time_since_mid_change"]
    t += ["vpin:w=100", "vpin:w=1000", "vpin:w=100:h=60s", "vpin:w=1000:h=60s"]
    return t


_BUNDLED: dict[str, tuple[FeatureSpec, ...]] = {}
#: About 20 features a quoting model would start from (top of book, order flow, trades, volatility).
SMALL: tuple[FeatureSpec, ...] = tuple(parse_specs(_SMALL_TEXT))
#: 206 features: the kinds × horizons {100ms … 60s} × levels {1, 2, 3, 5, 10} × windows {10, 100, 1000}
#: where meaningful. Needs a book of 10 levels.
FULL: tuple[FeatureSpec, ...] = tuple(parse_specs(_full_text()))
_BUNDLED.update(small=SMALL, full=FULL)


# ------------------------------------------------------------------------------------- arrays and names
#: numpy mirror of ``MmsimFeatureSpec``.
SPEC_DTYPE = np.dtype([("kind", "<i4"), ("level", "<i4"), ("horizon_ns", "<i8"), ("window", "<i8")])
assert SPEC_DTYPE.itemsize == 24


def spec_array(specs: SpecsLike) -> np.ndarray:
    """The specs as ``MmsimFeatureSpec`` records (SPEC_DTYPE), validated."""
    sp = specs if _is_spec_list(specs) else parse_specs(specs)
    a = np.zeros(len(sp), SPEC_DTYPE)
    for i, s in enumerate(sp):
        s.validate(where=f" (item {i})")
        a[i] = (s.code, s.level, s.horizon_ns, s.window)
    return a


_VENUE_TOKEN_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)/([A-Za-z_].*)$")
#: Cross-venue columns, written ``venue/NAME`` (docs/venues.md): not a bank feature of either venue but computed
#: from both venues' delayed books. ``basis``: the venue's mid minus the quoted venue's, in quoted ticks,
#: ``(mid_v · tick_v − mid_0 · tick_0) / tick_0`` (NaN when either book has an empty side).
CROSS_VENUE = ("basis",)


def venue_columns(specs: SpecsLike) -> list[tuple[Optional[str], str]]:
    """The columns of a feature set that may read several venues, in order: ``(venue, canonical spec)``, venue
    ``None`` for the quoted venue. A token ``perp/ofi:l=1:h=100ms`` is signal venue ``perp``'s bank
    (docs/venues.md); set names apply per venue (``perp/small``). A file or a list of FeatureSpec is the quoted
    venue's. ConfigError names a spec given twice."""
    toks: Optional[list[str]] = None
    if isinstance(specs, str):
        toks = [t for t in re.split(r"[,\s]+", specs) if t]
    elif isinstance(specs, (list, tuple)) and all(isinstance(t, str) for t in specs):
        toks = [t for x in specs for t in re.split(r"[,\s]+", x) if t]
    bare = next((t for t in toks or () if t.lower() in CROSS_VENUE), None)
    if bare is not None:
        raise ConfigError(f"feature spec '{bare}': a cross-venue feature names its venue, e.g. perp/{bare.lower()} "
                          "(docs/venues.md)")
    if toks is None or not any(_VENUE_TOKEN_RE.match(t) for t in toks):
        return [(None, c) for c in _plain_column_names(specs)]
    out: list[tuple[Optional[str], str]] = []
    for t in toks:
        m = _VENUE_TOKEN_RE.match(t)
        venue, rest = (m.group(1), m.group(2)) if m else (None, t)
        if rest.lower() in CROSS_VENUE:
            if venue is None:
                raise ConfigError(f"feature spec '{t}': a cross-venue feature names its venue, e.g. perp/{rest.lower()} "
                                  "(docs/venues.md)")
            if (venue, rest.lower()) in out:
                raise ConfigError(f"feature spec '{t}': given twice")
            out.append((venue, rest.lower()))
            continue
        if rest.split(":")[0].lower() not in KINDS and rest.lower() not in _BUNDLED:
            raise ConfigError(f"feature spec '{t}': unknown kind '{rest.split(':')[0]}'")
        for c in _plain_column_names(rest):
            if (venue, c) in out:
                raise ConfigError(f"feature spec '{t}': given twice")
            out.append((venue, c))
    return out


def venue_column_name(venue: Optional[str], spec: str) -> str:
    """A column's name: the spec for the quoted venue, ``venue/spec`` for a signal venue's."""
    return spec if venue is None else f"{venue}/{spec}"


def column_names(specs: SpecsLike) -> list[str]:
    """One column name per spec: its canonical text (``venue/text`` for a signal venue's, docs/venues.md)."""
    return [venue_column_name(v, c) for v, c in venue_columns(specs)]


def _plain_column_names(specs: SpecsLike) -> list[str]:
    sp = specs if _is_spec_list(specs) else parse_specs(specs)
    return [s.text for s in sp]


def spec_hash(specs: SpecsLike) -> str:
    """sha256 (hex) of the canonical texts joined by newlines: the same set in the same order, the same hash."""
    return hashlib.sha256("\n".join(column_names(specs)).encode()).hexdigest()


def max_level(specs: Sequence[FeatureSpec]) -> int:
    """The deepest book level the specs read (1 if they read only the top; 0 if no book at all)."""
    lv = [s.level for s in specs if s.kind in _USES_LEVEL or s.kind in _L1]
    return max(lv) if lv else 0


def _is_spec_list(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and all(isinstance(s, FeatureSpec) for s in x)


# --------------------------------------------------------------------------------------- observations
class Observations(NamedTuple):
    """What the strategy sees after each event: ``ts`` (n,) int64 ns; the book's top L levels per side,
    ``bid_px``/``bid_qty``/``ask_px``/``ask_qty`` (n, L) int64 (ticks, lots; qty 0 = no level); the trade
    the event carried, ``trade_sign`` (+1 buyer-initiated, -1 seller, 0 unknown) / ``trade_price`` /
    ``trade_qty`` (n,) (qty 0 = no trade)."""

    ts: np.ndarray
    bid_px: np.ndarray
    bid_qty: np.ndarray
    ask_px: np.ndarray
    ask_qty: np.ndarray
    trade_sign: np.ndarray
    trade_price: np.ndarray
    trade_qty: np.ndarray

    @property
    def levels(self) -> int:
        return int(self.bid_px.shape[1])

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.ts.shape[0])


def as_observations(obs: Any) -> Observations:
    """Observations from an Observations, a mapping or any object with the eight arrays as attributes.
    Book arrays may be (n,) for one level."""
    get = (lambda k: obs[k]) if isinstance(obs, Mapping) else (lambda k: getattr(obs, k))
    try:
        ts = np.ascontiguousarray(get("ts"), np.int64).reshape(-1)
        n = len(ts)
        book = []
        for k in ("bid_px", "bid_qty", "ask_px", "ask_qty"):
            a = np.asarray(get(k), np.int64)
            if a.ndim == 1:
                a = a.reshape(n, 1)
            book.append(np.ascontiguousarray(a))
        trades = [np.ascontiguousarray(get(k), np.int64).reshape(-1) for k in ("trade_sign", "trade_price", "trade_qty")]
    except (KeyError, AttributeError) as e:
        raise ConfigError(f"observations: missing array {e}") from None
    o = Observations(ts, *book, *trades)
    for name, a in zip(o._fields, o):
        if a.shape[0] != n:
            raise ConfigError(f"observations: {name} has {a.shape[0]} rows, ts has {n}")
    if len({a.shape[1] for a in book}) != 1:
        raise ConfigError("observations: the four book arrays must have the same number of levels")
    return o


def batch_features(obs: Any, specs: SpecsLike, max_levels: Optional[int] = None,
                   now: Optional[np.ndarray] = None) -> np.ndarray:
    """The Rust bank over observations (``_core.feature_batch``): row i = values after update i, as of
    ``now[i]`` (default ``ts[i]``). ``max_levels`` defaults to the observations' depth."""
    from mmsim import _core

    o = as_observations(obs)
    depth = o.levels if max_levels is None else int(max_levels)
    sp = parse_specs(specs, max_levels=depth)
    return _core.feature_batch(spec_array(sp), o.ts, o.bid_px, o.bid_qty, o.ask_px, o.ask_qty, o.trade_sign,
                               o.trade_price, o.trade_qty, depth, now)


# ------------------------------------------------------------------------------------ numpy reference
def reference_features(observations: Any, specs: SpecsLike, now: Optional[np.ndarray] = None,
                       rows: Optional[Sequence[int]] = None) -> np.ndarray:
    """Every feature recomputed from scratch, independently of the bank, for each observation i (or each
    of ``rows``), as of ``now[i]`` (default ``ts[i]``), from observations 0..i only. Returns
    (len(rows), n_features) float64. Formulas: docs/features.md. O(n²) per feature: small streams only."""
    o = as_observations(observations)
    sp = parse_specs(specs)
    n = len(o)
    ts = o.ts
    at = ts if now is None else np.asarray(now, np.int64)
    idx = np.arange(n) if rows is None else np.asarray(rows, np.int64)
    raw = _Raw(o)
    out = np.full((len(idx), len(sp)), np.nan)
    for c, s in enumerate(sp):
        for r, i in enumerate(idx):
            out[r, c] = _ref_one(s, raw, int(i), int(at[i]))
    return out


class _Raw:
    """Point-in-time quantities of each observation (no history involved), computed with numpy."""

    def __init__(self, o: Observations):
        self.o = o
        self.ts = o.ts
        bq, aq = o.bid_qty.astype(float), o.ask_qty.astype(float)
        bp, ap = o.bid_px.astype(float), o.ask_px.astype(float)
        L = bq.shape[1]
        has_b = bq[:, 0] > 0 if L else np.zeros(len(o), bool)
        has_a = aq[:, 0] > 0 if L else np.zeros(len(o), bool)
        self.two_sided = has_b & has_a
        b1 = bp[:, 0] if L else np.zeros(len(o))
        a1 = ap[:, 0] if L else np.zeros(len(o))
        self.mid = np.where(self.two_sided, (b1 + a1) / 2.0, np.nan)
        self.spread = np.where(self.two_sided, a1 - b1, np.nan)
        q1b = bq[:, 0] if L else np.zeros(len(o))
        q1a = aq[:, 0] if L else np.zeros(len(o))
        with np.errstate(invalid="ignore", divide="ignore"):
            self.qi = np.where(q1b + q1a > 0, (q1b - q1a) / (q1b + q1a), np.nan)
        self.bq, self.aq, self.b1, self.a1 = bq, aq, b1, a1
        self.bp, self.ap = bp, ap
        # log returns between consecutive usable mids (defined and > 0); 0 elsewhere
        self.r = np.zeros(len(o))
        prev = None
        for i, m in enumerate(self.mid):
            if np.isfinite(m) and m > 0:
                if prev is not None:
                    self.r[i] = math.log(m / prev)
                prev = m
        self.is_trade = o.trade_qty > 0
        self.sign = np.where(self.is_trade, o.trade_sign, 0).astype(float)
        self.svol = self.sign * np.where(self.is_trade, o.trade_qty, 0)
        self._ofi: dict[int, np.ndarray] = {}

    def micro(self, level: int) -> np.ndarray:
        cb = self.bq[:, :level].sum(axis=1)
        ca = self.aq[:, :level].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            imb = cb / (cb + ca)
        return np.where(self.two_sided, imb * self.a1 + (1.0 - imb) * self.b1, np.nan)

    def depth_imbalance(self, level: int) -> np.ndarray:
        w = 1.0 / np.arange(1, level + 1)
        num = (self.bq[:, :level] - self.aq[:, :level]) @ w
        den = (self.bq[:, :level] + self.aq[:, :level]) @ w
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)

    def ofi(self, level: int) -> np.ndarray:
        """e_n summed over levels 1..level (CKS per level; empty level = price ∓inf, qty 0); e_0 = 0."""
        if level not in self._ofi:
            inf = np.inf
            bq, aq = self.bq[:, :level], self.aq[:, :level]
            bp = np.where(bq > 0, self.bp[:, :level], -inf)
            ap = np.where(aq > 0, self.ap[:, :level], inf)
            e = np.zeros(len(self.ts))
            if len(self.ts) > 1:
                pb, pq, pa, paq = bp[:-1], bq[:-1], ap[:-1], aq[:-1]
                cb, cq, ca, caq = bp[1:], bq[1:], ap[1:], aq[1:]
                en = ((cb >= pb) * cq - (cb <= pb) * pq - (ca <= pa) * caq + (ca >= pa) * paq)
                e[1:] = en.sum(axis=1)
            self._ofi[level] = e
        return self._ofi[level]


def _decayed_sum(x: np.ndarray, t: np.ndarray, now: int, horizon: int) -> float:
    return float(np.sum(x * np.exp(-(now - t).astype(float) / horizon)))


def _decayed_mean(x: np.ndarray, t: np.ndarray, horizon: int) -> float:
    """Σ w x / Σ w with w = exp(-(now - t)/H); the ratio does not depend on now, so weights are taken
    relative to the newest t (no underflow)."""
    if len(x) == 0:
        return math.nan
    w = np.exp(-(t[-1] - t).astype(float) / horizon)
    return float(np.sum(w * x) / np.sum(w))


def _held_ewma(x: np.ndarray, t: np.ndarray, now: int, horizon: int) -> float:
    """Time-weighted EWMA at ``now`` of the step function holding each defined x_k from t_k to the next
    defined value's time (the first held since -inf): Σ_k x_k (e^{-(now-t_{k+1})/H} - e^{-(now-t_k)/H})."""
    ok = ~np.isnan(x)
    x, t = x[ok], t[ok]
    if len(x) == 0:
        return math.nan
    ends = np.append(t[1:], now).astype(float)
    starts = t.astype(float)
    w_end = np.exp(-(now - ends) / horizon)
    w_start = np.exp(-(now - starts) / horizon)
    w_start[0] = 0.0
    return float(np.sum(x * (w_end - w_start)))


def _vpin_buckets(q: np.ndarray, sgn: np.ndarray, t: np.ndarray, V: int) -> tuple[np.ndarray, np.ndarray]:
    """Re-bucket a whole trade history into volume buckets of V lots: (imbalance |buy-sell|/V, completion
    time) of every completed bucket, from cumulative buy and sell volumes at the bucket boundaries."""
    q = q.astype(np.int64)
    cum = np.concatenate([[0], np.cumsum(q)])
    buy = np.concatenate([[0], np.cumsum(np.where(sgn > 0, q, 0))])
    sell = np.concatenate([[0], np.cumsum(np.where(sgn < 0, q, 0))])
    k = int(cum[-1] // V)
    if k == 0:
        return np.zeros(0), np.zeros(0, np.int64)
    bounds = np.arange(0, k + 1, dtype=np.int64) * V

    def at(cumx: np.ndarray, sign_is: int) -> np.ndarray:
        # volume of that side among the first x lots of the volume line
        j = np.searchsorted(cum, bounds, side="left")  # trade j-1 (0-based) holds lot x, or x == 0
        j = np.maximum(j, 1)
        before = cumx[j - 1]
        inside = bounds - cum[j - 1]
        same = (np.sign(sgn[j - 1]) == sign_is)
        return np.where(bounds == 0, 0, before + np.where(same, inside, 0))

    b, s = at(buy, 1), at(sell, -1)
    imb = np.abs(np.diff(b) - np.diff(s)) / V
    done = t[np.searchsorted(cum, bounds[1:], side="left") - 1]
    return imb, done


def _ref_one(s: FeatureSpec, raw: _Raw, i: int, now: int) -> float:
    k, h, w, lvl = s.kind, s.horizon_ns, s.window, s.level
    t = raw.ts[: i + 1]
    # ---- book quantities: instantaneous, or a time-weighted EWMA of the held value
    if k in _L1 or k in _MULTI_LEVEL:
        x = {"mid": raw.mid, "spread": raw.spread, "queue_imbalance": raw.qi}.get(k)
        if x is None:
            x = raw.micro(lvl) if k == "microprice" else raw.depth_imbalance(lvl)
        if not h:
            return float(x[i])
        return _held_ewma(x[: i + 1], t, now, h)
    # ---- per-observation flows
    if k in ("ofi", "realized_vol", "mid_return"):
        x = raw.ofi(lvl) if k == "ofi" else (raw.r ** 2 if k == "realized_vol" else raw.r)
        x = x[: i + 1]
        v = _decayed_sum(x, t, now, h) if h else float(np.sum(x[-w:]))
        return math.sqrt(max(v, 0.0)) if k == "realized_vol" else v
    # ---- per-trade flows
    tr = np.flatnonzero(raw.is_trade[: i + 1])
    if k == "signed_volume":
        x = raw.svol[tr]
        return _decayed_sum(x, raw.ts[tr], now, h) if h else float(np.sum(x[-w:]))
    if k == "trade_sign_imbalance":
        x = raw.sign[tr]
        if len(x) == 0:
            return math.nan
        return _decayed_mean(x, raw.ts[tr], h) if h else float(np.mean(x[-w:]))
    if k == "event_intensity":
        return _decayed_sum(np.ones(len(t)), t, now, h) * _NS / h
    if k == "trade_intensity":
        return _decayed_sum(np.ones(len(tr)), raw.ts[tr], now, h) * _NS / h
    if k == "time_since_trade":
        return (now - int(raw.ts[tr[-1]])) / _NS if len(tr) else math.nan
    if k == "time_since_mid_change":
        m = raw.mid[: i + 1]
        ok = np.flatnonzero(~np.isnan(m))
        if len(ok) == 0:
            return math.nan
        changed = ok[1:][m[ok[1:]] != m[ok[:-1]]]
        j = changed[-1] if len(changed) else ok[0]
        return (now - int(raw.ts[j])) / _NS
    if k == "vpin":
        imb, done = _vpin_buckets(raw.o.trade_qty[tr], raw.o.trade_sign[tr], raw.ts[tr], w)
        if len(imb) == 0:
            return math.nan
        if h:
            return _decayed_mean(imb, done, h)
        return float(np.mean(imb[-VPIN_BUCKETS:]))
    raise ConfigError(f"feature spec '{s.text}': no reference for kind {k}")  # pragma: no cover


# ------------------------------------------------------------------------- events -> observations
def observations_from_events(events: np.ndarray, arrival: Optional[np.ndarray] = None,
                             levels: int = 10) -> Observations:
    """Replay EVENT_DTYPE rows through a price-level book and return one observation per row: the top
    ``levels`` per side after the row's exchange message (a row inside a message shows the book after the
    previous message, :mod:`mmsim.data.messages`), at ``arrival[i]`` (default the row's ``exch_ts``), with the trade
    the row carried (TRADE: sign = aggressor side; L3 EXECUTE: sign = -resting side). L2 rows set levels
    (DEPTH), CLEAR empties a side; L3 rows (ADD/CANCEL/DELETE/EXECUTE) add or remove lots at their price.
    A helper for benchmarks and batch runs (numba), not part of the reference."""
    ev = np.ascontiguousarray(events)
    if ev.dtype != R.EVENT_DTYPE:
        raise ConfigError("observations_from_events: events must be an EVENT_DTYPE array")
    if levels < 1:
        raise ConfigError("observations_from_events: levels must be >= 1")
    ts = ev["exch_ts"].copy() if arrival is None else np.ascontiguousarray(arrival, np.int64).copy()
    if len(ts) != len(ev):
        raise ConfigError("observations_from_events: arrival must have one entry per event")
    n = len(ev)
    out = [np.zeros((n, levels), np.int64) for _ in range(4)]
    sign = np.zeros(n, np.int64)
    price = np.zeros(n, np.int64)
    qty = np.zeros(n, np.int64)
    from mmsim.data.messages import message_ends

    _replay(ev["kind"].astype(np.int64), ev["side"].astype(np.int64), ev["price"], ev["qty"],
            message_ends(ev), levels, *out, sign, price, qty)
    return Observations(ts, *out, sign, price, qty)


def _replay_py(kind, side, px, qt, ends, L, bpx, bqty, apx, aqty, sign, price, qty):  # pragma: no cover - numba
    # Each side is a sorted array of (key, qty) with key = -price for bids, +price for asks (ascending).
    cap = 64
    keys = np.zeros((2, cap), np.int64)
    qtys = np.zeros((2, cap), np.int64)
    cnt = np.zeros(2, np.int64)
    for i in range(len(kind)):
        k = kind[i]
        if k == 3:  # CLEAR
            if side[i] >= 0:
                cnt[0] = 0
            if side[i] <= 0:
                cnt[1] = 0
        elif k == 1 or k == 4 or k == 5 or k == 6 or k == 7:
            s = 0 if side[i] > 0 else 1
            key = -px[i] if s == 0 else px[i]
            m = cnt[s]
            lo, hi = 0, m
            while lo < hi:
                mid = (lo + hi) // 2
                if keys[s, mid] < key:
                    lo = mid + 1
                else:
                    hi = mid
            found = lo < m and keys[s, lo] == key
            cur = qtys[s, lo] if found else 0
            new = qt[i] if k == 1 else (cur + qt[i] if k == 4 else cur - qt[i])
            if new < 0:
                new = 0
            if found and new == 0:
                for j in range(lo, m - 1):
                    keys[s, j] = keys[s, j + 1]
                    qtys[s, j] = qtys[s, j + 1]
                cnt[s] = m - 1
            elif found:
                qtys[s, lo] = new
            elif new > 0:
                if m == keys.shape[1]:
                    nk = np.zeros((2, 2 * m), np.int64)
                    nq = np.zeros((2, 2 * m), np.int64)
                    nk[:, :m] = keys
                    nq[:, :m] = qtys
                    keys = nk
                    qtys = nq
                for j in range(m, lo, -1):
                    keys[s, j] = keys[s, j - 1]
                    qtys[s, j] = qtys[s, j - 1]
                keys[s, lo] = key
                qtys[s, lo] = new
                cnt[s] = m + 1
            if k == 7:  # EXECUTE: a trade against the resting side
                sign[i] = -side[i]
                price[i] = px[i]
                qty[i] = qt[i]
        elif k == 2:  # TRADE
            sign[i] = side[i]
            price[i] = px[i]
            qty[i] = qt[i]
        if not ends[i]:  # inside a message: the book after the previous message (zeros before the first)
            if i > 0:
                for j in range(L):
                    bpx[i, j] = bpx[i - 1, j]
                    bqty[i, j] = bqty[i - 1, j]
                    apx[i, j] = apx[i - 1, j]
                    aqty[i, j] = aqty[i - 1, j]
            continue
        nb = min(cnt[0], L)
        na = min(cnt[1], L)
        for j in range(nb):
            bpx[i, j] = -keys[0, j]
            bqty[i, j] = qtys[0, j]
        for j in range(na):
            apx[i, j] = keys[1, j]
            aqty[i, j] = qtys[1, j]


def _compile_replay():
    from numba import njit

    return njit(cache=True)(_replay_py)


class _Lazy:
    fn = None

    def __call__(self, *a):
        if _Lazy.fn is None:
            _Lazy.fn = _compile_replay()
        return _Lazy.fn(*a)


_replay = _Lazy()
