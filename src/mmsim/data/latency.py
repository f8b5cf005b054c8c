"""Latency specs: parsed once, drawn vectorised, seeded.

A latency spec (docs/latency.md) becomes a :class:`LatencyModel`. The feed leg turns it into one arrival
time per data row (:func:`feed_arrival`); the order-entry, cancel, response and compute legs turn it into a
table that the engine cycles through (:func:`latency_table`). Every random draw comes from a generator of
:func:`seeded_streams`, so a run is bit-identical for a seed. Draws are prefix-stable: a row's latency
depends on the seed and its position only, never on the number of rows (docs/latency.md, "Prefix stability").

Spec forms (all times are int64 nanoseconds)::

    0  250us  2ms  1.5s  100ns                 constant
    data  data+3ms                             the data's recv_ts (plus a constant); feed leg only
    lognormal:median=2ms,sigma=0.6[,shift=..]  (or mean= instead of median=)
    gamma:shape=2,scale=1ms[,shift=..]         (or mean= instead of scale=)
    empirical:FILE                             sampled with replacement from FILE (ns, one per line, or .npy)
    regime:base=1ms,spike=50ms,p_enter=0.001,p_exit=0.05[,sigma=..][,spike_sigma=..]

and, from Python, an ``int`` (ns), a numpy array (one latency per event / a user table) or a vectorised
callable ``f(events, rng) -> int64 array``.
"""
from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Optional, Any, Callable, Union

import numpy as np

from mmsim import records as R
from mmsim.errors import ConfigError, DataError
from mmsim.data.messages import message_starts

__all__ = [
    "LatencyModel", "Constant", "FromData", "LogNormal", "Gamma", "Empirical", "Regime", "UserArray",
    "UserCallable", "parse_latency", "parse_duration", "feed_arrival", "latency_table", "seeded_streams",
    "signal_feed_stream", "venue_order_streams", "STREAMS",
]

#: Names of the seeded generators of :func:`seeded_streams`, in spawn order.
STREAMS = ("feed", "entry", "cancel", "response", "compute")

_INT64_MAX = np.iinfo(np.int64).max
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "min": 60_000_000_000,
          "h": 3_600_000_000_000}
_DURATION_RE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(ns|us|µs|ms|s|min|h)?\s*$")


# --------------------------------------------------------------------------------------------- models
class LatencyModel(ABC):
    """A parsed latency spec. ``spec`` is the canonical text used in messages and logs."""

    spec: str = ""
    #: True when every draw is the same number (the table has length 1).
    constant: bool = False
    #: True for ``data``/``data+X``: needs the events' recv_ts, valid for the feed leg only.
    uses_data: bool = False

    @abstractmethod
    def draw(self, n: int, rng: np.random.Generator, events: np.ndarray | None = None) -> np.ndarray:
        """``n`` latencies (int64 ns, >= 0), one per event when ``events`` is given."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


@dataclass(repr=False)
class Constant(LatencyModel):
    ns: int
    spec: str = ""
    constant = True

    def __post_init__(self):
        self.spec = self.spec or _fmt_ns(self.ns)

    def draw(self, n, rng, events=None):
        return np.full(n, self.ns, dtype=np.int64)


@dataclass(repr=False)
class FromData(LatencyModel):
    """``data`` / ``data+X``: the recorded receive time ``recv_ts`` plus a constant ``offset``."""

    offset: int = 0
    spec: str = ""
    uses_data = True

    def __post_init__(self):
        self.spec = self.spec or ("data" if self.offset == 0 else f"data+{_fmt_ns(self.offset)}")

    def draw(self, n, rng, events=None):
        raise ConfigError(f"latency '{self.spec}': 'data' is only valid for the feed leg")


@dataclass(repr=False, eq=False)
class LogNormal(LatencyModel):
    """``shift + median * exp(sigma * Z)``, Z standard normal, rounded to whole ns."""

    median: float
    sigma: float
    shift: int = 0
    spec: str = ""

    def draw(self, n, rng, events=None):
        x = self.median * np.exp(self.sigma * rng.standard_normal(n))
        return _to_ns(x, self.shift)


@dataclass(repr=False, eq=False)
class Gamma(LatencyModel):
    """``shift + Gamma(shape, scale)``, rounded to whole ns (mean ``shape * scale``)."""

    shape: float
    scale: float
    shift: int = 0
    spec: str = ""

    def draw(self, n, rng, events=None):
        return _to_ns(rng.gamma(self.shape, self.scale, n), self.shift)


@dataclass(repr=False, eq=False)
class Empirical(LatencyModel):
    """Sampled with replacement from recorded latencies (uniform over the samples)."""

    values: np.ndarray
    spec: str = ""

    def draw(self, n, rng, events=None):
        return self.values[rng.integers(0, len(self.values), n)]


@dataclass(repr=False, eq=False)
class Regime(LatencyModel):
    """Two-state (calm/spike) Markov chain over events, a model of latency bursts.

    Event 0 is calm. Before each later event the chain moves calm -> spike with probability ``p_enter``
    and spike -> calm with probability ``p_exit``; so calm runs last Geometric(p_enter) events (mean
    1/p_enter) and spike runs Geometric(p_exit) events (mean 1/p_exit). In the calm state the latency is
    ``base * exp(sigma * Z)``, in the spike state ``spike * exp(spike_sigma * Z)`` (``sigma = 0``:
    exactly ``base`` / ``spike``).

    Prefix-stable: the chain is drawn ``CHUNK`` events at a time, each chunk continuing from the state of
    the one before; a chunk draws its run lengths in batches whose size depends on the spec only (never on
    ``n``), then ``CHUNK`` normals (when a sigma is > 0), and the last chunk is cut to ``n``. So the first
    ``k`` draws are the same for every ``n >= k``.
    """

    base: float
    spike: float
    p_enter: float
    p_exit: float
    sigma: float = 0.0
    spike_sigma: float = 0.0
    spec: str = ""

    #: Events per step of the chain (the random numbers a chunk takes do not depend on how many are used).
    CHUNK = 1 << 16

    def _batch(self) -> int:
        """Run-length pairs drawn at a time: about 1.25 chunks' worth, from the spec and CHUNK only."""
        mean_pair = 1.0 / self.p_enter + 1.0 / self.p_exit
        return int(min(max(16, 1.25 * self.CHUNK / mean_pair + 16), 1 << 24))

    def _chunk_states(self, rng: np.random.Generator, start: Optional[bool]) -> np.ndarray:
        """States of the next CHUNK events (True = spike); ``start``: state of the event before (None: none)."""
        n = self.CHUNK
        if start:  # a chain in the spike state is the mirror image of one in the calm state
            mirror = Regime(self.spike, self.base, self.p_exit, self.p_enter)
            return ~mirror._chunk_states(rng, start=False)
        out = np.zeros(n, dtype=bool)
        if self.p_enter == 0.0:
            return out
        # Alternating run lengths calm, spike, calm, ... drawn in fixed-size batches until they cover n.
        k = self._batch()
        calm_runs, spike_runs = [], []
        covered = 0
        while covered < n:
            c = rng.geometric(self.p_enter, k)
            s = rng.geometric(self.p_exit, k)
            calm_runs.append(c)
            spike_runs.append(s)
            covered += int(c.sum()) + int(s.sum())
        runs = np.empty(2 * k * len(calm_runs), dtype=np.int64)
        runs[0::2] = np.concatenate(calm_runs)
        runs[1::2] = np.concatenate(spike_runs)
        if start is not None:  # continuing: run lengths are memoryless, so the calm run in progress goes on
            runs[0] -= 1       # for Geometric - 1 more events (possibly none)
        ends = np.cumsum(runs)
        # starts of spike runs, and their ends, clipped to n: +1/-1 marks and a cumulative sum
        spike_start = ends[0::2]
        spike_end = ends[1::2]
        mark = np.zeros(n + 1, dtype=np.int8)
        keep = spike_start < n
        mark[spike_start[keep]] += 1  # run boundaries are distinct, so plain fancy indexing is exact
        mark[np.minimum(spike_end[keep], n)] -= 1
        out[:] = np.cumsum(mark[:n]) > 0
        return out

    def chain(self, n: int, rng: np.random.Generator, start: Optional[bool] = None
              ) -> tuple[np.ndarray, np.ndarray, Optional[bool]]:
        """``(spiking, latency, last)`` of ``n`` events: True where event i is in the spike state, its latency
        (int64 ns), and the state of the last event (``start`` when ``n == 0``).

        ``start`` continues a chain whose previous event was in that state (True = spike); None starts a new
        chain, calm at event 0.
        """
        spiking = np.empty(n, dtype=bool)
        lat = np.empty(n, dtype=np.int64)
        noisy = self.sigma > 0 or self.spike_sigma > 0
        state = start
        for lo in range(0, n, self.CHUNK):
            s = self._chunk_states(rng, state)
            z = rng.standard_normal(self.CHUNK) if noisy else np.zeros(self.CHUNK)
            m = min(self.CHUNK, n - lo)
            spiking[lo:lo + m] = s[:m]
            calm = self.base * np.exp(self.sigma * z[:m])
            hot = self.spike * np.exp(self.spike_sigma * z[:m])
            lat[lo:lo + m] = _to_ns(np.where(s[:m], hot, calm), 0)
            state = bool(s[m - 1])
        return spiking, lat, state

    def states(self, n: int, rng: np.random.Generator, start: Optional[bool] = None) -> np.ndarray:
        """Boolean array, True where event i is in the spike state (takes the same draws as :meth:`draw`)."""
        return self.chain(n, rng, start)[0]

    def draw(self, n, rng, events=None, start: Optional[bool] = None):
        return self.chain(n, rng, start)[1]


@dataclass(repr=False, eq=False)
class UserArray(LatencyModel):
    """User-supplied latencies: one per event on the feed leg, a table on the other legs."""

    values: np.ndarray
    spec: str = ""

    def draw(self, n, rng, events=None):
        if len(self.values) != n:
            raise ConfigError(f"latency {self.spec}: has {len(self.values)} entries, need one per event ({n})")
        return self.values


@dataclass(repr=False, eq=False)
class UserCallable(LatencyModel):
    """``f(events, rng) -> int64 array`` with one latency per row of ``events``."""

    fn: Callable[..., Any]
    spec: str = ""

    def draw(self, n, rng, events=None):
        if events is None:
            events = np.zeros(n, dtype=R.EVENT_DTYPE)
        try:
            out = self.fn(events, rng)
        except Exception as e:  # a user callable: report it as a config problem, one line
            raise ConfigError(f"latency {self.spec}: raised {type(e).__name__}: {e}") from e
        arr = _check_array(out, f"latency {self.spec}")
        if len(arr) != n:
            raise ConfigError(f"latency {self.spec}: returned {len(arr)} values for {n} events")
        return arr


# --------------------------------------------------------------------------------------------- parsing
LatencySpec = Union[str, int, np.ndarray, Callable[..., Any], LatencyModel]


def parse_duration(text: str, what: str | None = None) -> int:
    """``"250us"`` -> 250000 (ns). A bare number must be ``0``. Raises ConfigError naming ``what``/the text."""
    label = what or f"duration '{text}'"
    m = _DURATION_RE.match(str(text))
    if not m:
        raise ConfigError(f"{label}: not a duration (use e.g. 0, 100ns, 250us, 2ms, 1.5s, 5min, 1h)")
    num, unit = m.group(1), m.group(2)
    try:
        value = Decimal(num)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ConfigError(f"{label}: not a duration") from None
    if value < 0:
        raise ConfigError(f"{label}: must be >= 0")
    if unit is None:
        if value != 0:
            raise ConfigError(f"{label}: a non-zero duration needs a unit (ns, us, ms, s, min, h)")
        return 0
    ns = value * _UNITS[unit]
    if ns != ns.to_integral_value():
        raise ConfigError(f"{label}: not a whole number of nanoseconds")
    if ns > _INT64_MAX:
        raise ConfigError(f"{label}: too large")
    return int(ns)


def parse_latency(spec: LatencySpec) -> LatencyModel:
    """Parse a latency spec (string, int ns, array, callable, or an existing model). See module docs."""
    if isinstance(spec, LatencyModel):
        return spec
    if isinstance(spec, (bool, np.bool_)):
        raise ConfigError(f"latency {spec!r}: not a latency (give an int of ns or a spec string)")
    if isinstance(spec, (int, np.integer)):
        if spec < 0:
            raise ConfigError(f"latency {int(spec)}: must be >= 0 ns")
        if spec > _INT64_MAX:
            raise ConfigError(f"latency {int(spec)}: too large for int64 ns")
        return Constant(int(spec))
    if isinstance(spec, (float, np.floating)):
        f = float(spec)
        if not math.isfinite(f) or f < 0 or f != int(f) or f >= 2.0 ** 63:
            raise ConfigError(f"latency {f!r}: a numeric latency must be a whole, non-negative number of ns")
        return Constant(int(f))
    if isinstance(spec, np.ndarray):
        label = f"<array of {spec.size} {spec.dtype}>"
        return UserArray(_check_array(spec, f"latency {label}"), spec=label)
    if isinstance(spec, str):
        return _parse_str(spec)
    if callable(spec):
        return UserCallable(spec, spec=f"<callable {getattr(spec, '__name__', type(spec).__name__)}>")
    raise ConfigError(f"latency {spec!r}: not a latency spec (a string, int ns, numpy array or callable)")


def _parse_str(spec: str) -> LatencyModel:
    text = spec.strip()
    label = f"latency '{spec}'"
    if not text:
        raise ConfigError(f"{label}: empty")
    head, sep, rest = text.partition(":")
    head = head.strip().lower()
    if text.lower().startswith("data"):
        tail = text[4:].strip()
        if not tail:
            return FromData(0, spec="data")
        if not tail.startswith("+"):
            raise ConfigError(f"{label}: expected 'data' or 'data+DURATION'")
        off = parse_duration(tail[1:].strip(), label)
        return FromData(off, spec=f"data+{_fmt_ns(off)}" if off else "data")
    if not sep:
        ns = parse_duration(text, label)
        return Constant(ns, spec=_fmt_ns(ns))
    parse = LATENCY_KINDS.get(head)
    if parse is None:
        raise ConfigError(f"{label}: unknown latency kind '{head}' (use a duration, data, data+DURATION, "
                          f"{', '.join(k + ':' for k in LATENCY_KINDS)})")
    return parse(rest, label, text)


def _parse_lognormal(rest: str, label: str, text: str) -> LatencyModel:
    p = _take(_parse_params(rest, label), label, durations=("median", "mean", "shift"), floats=("sigma",))
    sigma = p.get("sigma")
    if sigma is None:
        raise ConfigError(f"{label}: needs sigma=")
    _nonneg(sigma, "sigma", label)
    if ("median" in p) == ("mean" in p):
        raise ConfigError(f"{label}: give exactly one of median= or mean=")
    median = p["median"] if "median" in p else p["mean"] / math.exp(sigma * sigma / 2)
    return LogNormal(float(median), sigma, p.get("shift", 0), spec=text)


def _parse_gamma(rest: str, label: str, text: str) -> LatencyModel:
    p = _take(_parse_params(rest, label), label, durations=("scale", "mean", "shift"), floats=("shape",))
    shape = p.get("shape")
    if shape is None or not shape > 0:
        raise ConfigError(f"{label}: needs shape= > 0")
    if ("scale" in p) == ("mean" in p):
        raise ConfigError(f"{label}: give exactly one of scale= or mean=")
    scale = p["scale"] if "scale" in p else p["mean"] / shape
    return Gamma(shape, float(scale), p.get("shift", 0), spec=text)


def _parse_empirical(rest: str, label: str, text: str) -> LatencyModel:
    return _load_empirical(rest.strip(), label, text)


def _parse_regime(rest: str, label: str, text: str) -> LatencyModel:
    p = _take(_parse_params(rest, label), label, durations=("base", "spike"),
              floats=("p_enter", "p_exit", "sigma", "spike_sigma"))
    for k in ("base", "spike", "p_enter", "p_exit"):
        if k not in p:
            raise ConfigError(f"{label}: needs {k}=")
    if not 0.0 <= p["p_enter"] <= 1.0:
        raise ConfigError(f"{label}: p_enter must be in [0, 1]")
    if not 0.0 < p["p_exit"] <= 1.0:
        raise ConfigError(f"{label}: p_exit must be in (0, 1]")
    sigma = p.get("sigma", 0.0)
    _nonneg(sigma, "sigma", label)
    spike_sigma = p.get("spike_sigma", sigma)
    _nonneg(spike_sigma, "spike_sigma", label)
    return Regime(float(p["base"]), float(p["spike"]), p["p_enter"], p["p_exit"], sigma, spike_sigma, spec=text)


#: The parametric latency kinds, ``KIND:...``: name -> parser(text after the colon, error label, spec text).
#: A new kind is a :class:`LatencyModel` subclass, its parser, and one line here (docs/latency.md).
LATENCY_KINDS: dict[str, Callable[[str, str, str], LatencyModel]] = {
    "lognormal": _parse_lognormal,
    "gamma": _parse_gamma,
    "empirical": _parse_empirical,
    "regime": _parse_regime,
}


def _parse_params(rest: str, label: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in rest.split(","):
        item = item.strip()
        if not item:
            raise ConfigError(f"{label}: empty parameter")
        k, eq, v = item.partition("=")
        k, v = k.strip().lower(), v.strip()
        if not eq or not k or not v:
            raise ConfigError(f"{label}: parameter '{item}' is not key=value")
        if k in out:
            raise ConfigError(f"{label}: parameter '{k}' given twice")
        out[k] = v
    return out


def _take(params: dict[str, str], label: str, *, durations=(), floats=()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k in durations:
            out[k] = parse_duration(v, f"{label}: {k}")
        elif k in floats:
            try:
                f = float(v)
            except ValueError:
                raise ConfigError(f"{label}: {k}={v} is not a number") from None
            if not math.isfinite(f):
                raise ConfigError(f"{label}: {k}={v} is not finite")
            out[k] = f
        else:
            known = ", ".join(sorted((*durations, *floats)))
            raise ConfigError(f"{label}: unknown parameter '{k}' (known: {known})")
    return out


def _nonneg(x: float, name: str, label: str) -> None:
    if not x >= 0:
        raise ConfigError(f"{label}: {name} must be >= 0")


def _load_empirical(path_text: str, label: str, spec: str) -> Empirical:
    if not path_text:
        raise ConfigError(f"{label}: needs a file, empirical:FILE")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ConfigError(f"{label}: file {path_text} not found")
    try:
        if path.suffix.lower() == ".npy":
            raw = np.load(path, allow_pickle=False)
            values = np.asarray(raw).reshape(-1)
        else:
            values = _read_text_latencies(path, label)
    except ConfigError:
        raise
    except (OSError, ValueError) as e:
        raise ConfigError(f"{label}: cannot read {path_text}: {e}") from None
    if values.size == 0:
        raise ConfigError(f"{label}: {path_text} holds no latencies")
    if values.dtype.kind == "f":
        values = np.rint(values)  # measured latencies may carry fractions of a ns
    return Empirical(_check_array(values, label), spec=spec.strip())


def _read_text_latencies(path: Path, label: str) -> np.ndarray:
    """One latency (ns) per line; a CSV's first column; '#' comments, blank lines and one header skipped."""
    vals: list[float] = []
    first = True
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        cell = line.split("#", 1)[0].split(",", 1)[0].strip()
        if not cell:
            continue
        try:
            vals.append(int(cell))
        except ValueError:
            try:
                vals.append(float(cell))
            except ValueError:
                if first:  # a CSV header
                    first = False
                    continue
                raise ConfigError(f"{label}: {path.name} line {lineno}: '{cell}' is not a number") from None
        first = False
    if vals and all(isinstance(v, int) for v in vals):
        return np.array(vals, dtype=np.int64)
    return np.array(vals, dtype=np.float64)


def _check_array(values: Any, label: str) -> np.ndarray:
    """Validate user latencies: 1-d, finite, >= 0, whole ns -> int64. ``label`` starts the messages."""
    try:
        arr = np.asarray(values)
    except Exception:
        raise ConfigError(f"{label}: not an array of latencies") from None
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise ConfigError(f"{label}: must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.size and arr.max() > _INT64_MAX:
            raise ConfigError(f"{label}: value too large")
        out = arr.astype(np.int64, copy=False)
    elif arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ConfigError(f"{label}: entry {int(np.argmax(bad))} is NaN or infinite")
        frac = arr != np.rint(arr)
        if frac.any():
            raise ConfigError(f"{label}: entry {int(np.argmax(frac))} ({arr[np.argmax(frac)]}) "
                              "is not a whole number of ns")
        out = arr.astype(np.int64)
    else:
        raise ConfigError(f"{label}: dtype {arr.dtype} is not numeric")
    neg = out < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise ConfigError(f"{label}: entry {i} is negative ({out[i]})")
    return out


def _to_ns(x: np.ndarray, shift: int) -> np.ndarray:
    """Round non-negative float latencies to int64 ns (clipped so that the sum cannot overflow)."""
    x = np.minimum(np.rint(x), float(1 << 61))
    return x.astype(np.int64) + np.int64(shift)


def _fmt_ns(ns: int) -> str:
    for unit, k in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns and ns % k == 0:
            return f"{ns // k}{unit}"
    return f"{ns}ns" if ns else "0"


# --------------------------------------------------------------------------------------------- legs
class FeedClock:
    """Feed arrival times for rows that come in chunks, identical however the rows are chunked, and
    prefix-stable: the arrival time of row i depends on the seed and rows 0..i only, never on the total.
    One latency is drawn per exchange message (:mod:`mmsim.data.messages`), not per row.

    Random latencies are drawn in blocks of exactly ``BLOCK`` rows whatever the row count (the unused tail
    of the last block is never looked at); the no-reordering maximum and a regime chain's state carry over
    from one block and one chunk to the next. A user callable is called once per chunk with that chunk's
    rows; a user array must hold one latency per row (``total_rows``).
    """

    #: Rows per draw; a multiple of Regime.CHUNK, so a regime feed's latencies are ``Regime.draw(n)``'s.
    BLOCK = 1 << 16

    def __init__(self, model: LatencySpec, rng: np.random.Generator, total_rows: int, *, source: str = "events"):
        self.model = parse_latency(model)
        self.rng, self.total, self.source = rng, int(total_rows), source
        self.offset = 0            # global index of the next row
        self.last: Optional[int] = None
        self.buf = np.empty(0, np.int64)
        self.state: Optional[bool] = None  # regime chain: state of the last drawn event
        self.prev_flags: Optional[int] = None  # the previous chunk's last row: does it end its message?
        self.prev_ts: Optional[int] = None

    def _take(self, n: int) -> np.ndarray:
        parts = []
        while n > 0:
            if len(self.buf) == 0:
                if isinstance(self.model, Regime):
                    _, self.buf, self.state = self.model.chain(self.BLOCK, self.rng, self.state)
                else:
                    self.buf = self.model.draw(self.BLOCK, self.rng)
            k = min(n, len(self.buf))
            parts.append(self.buf[:k])
            self.buf = self.buf[k:]
            n -= k
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def arrivals(self, events: np.ndarray) -> np.ndarray:
        """Arrival time of each row of the next chunk: one latency per exchange message (docs/event-loop.md,
        "Messages"), so all rows of a message arrive together, also when a chunk ends inside one."""
        model, n = self.model, len(events)
        exch = np.asarray(events["exch_ts"], dtype=np.int64)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        starts = message_starts(events, self.prev_flags, self.prev_ts)
        first = np.flatnonzero(starts)  # the row that starts each message opened in this chunk
        if isinstance(model, FromData):
            recv = np.asarray(events["recv_ts"], dtype=np.int64)
            missing = recv == R.NO_TS
            if missing.any():
                i = self.offset + int(np.argmax(missing))
                raise DataError(f"{self.source}: row {i}: no recorded recv_ts (feed latency '{model.spec}' needs it)")
            early = recv < exch
            if early.any():
                j = int(np.argmax(early))
                raise DataError(f"{self.source}: row {self.offset + j}: recv_ts {recv[j]} is before exch_ts "
                                f"{exch[j]} (feed latency '{model.spec}' needs recv_ts >= exch_ts)")
            if model.offset > _INT64_MAX - int(recv.max()):
                raise ConfigError(f"latency '{model.spec}': arrival time overflows int64")
            at_start = recv[first] + np.int64(model.offset)  # the packet arrived when its first row did
        else:
            if isinstance(model, Constant):
                lat = np.full(len(first), model.ns, dtype=np.int64)
            elif isinstance(model, UserArray):
                if len(model.values) != self.total:
                    raise ConfigError(f"latency {model.spec}: has {len(model.values)} entries, need one per event "
                                      f"({self.total}; a message takes its first row's)")
                lat = model.values[self.offset + first]
            elif isinstance(model, UserCallable):
                lat = model.draw(n, self.rng, events)[first]
            else:
                lat = self._take(len(first)) if len(first) else np.empty(0, np.int64)
            if len(lat) and int(lat.max()) > _INT64_MAX - int(exch.max()):
                raise ConfigError(f"latency {_label(model)}: arrival time overflows int64")
            at_start = exch[first] + lat
        # Every row takes its message's arrival; rows continuing the previous chunk's last message, its.
        msg = np.cumsum(starts) - 1
        arrival = np.empty(n, dtype=np.int64)
        cont = msg < 0
        arrival[~cont] = at_start[msg[~cont]]
        if cont.any():
            arrival[cont] = self.last
        if self.last is not None and arrival[0] < self.last:
            arrival[0] = self.last
        arrival = np.maximum.accumulate(arrival)
        self.last = int(arrival[-1])
        self.prev_flags, self.prev_ts = int(events["flags"][-1]), int(exch[-1])
        self.offset += n
        return arrival


def feed_arrival(model: LatencySpec, events: np.ndarray, rng: np.random.Generator, *,
                 source: str = "events") -> np.ndarray:
    """Arrival time at the strategy of every row: ``max.accumulate(exch_ts + latency)`` (never reordered), one
    latency per exchange message (all rows of a message arrive together).

    ``data``/``data+X`` use the row's ``recv_ts`` (+X); a row without one, or received before its
    exchange time, raises DataError naming the row. The same as one FeedClock fed all rows at once.
    """
    return FeedClock(model, rng, len(events), source=source).arrivals(events)


def latency_table(model: LatencySpec, rng: np.random.Generator, n: int = 1 << 20) -> np.ndarray:
    """Latencies for an order-entry/cancel/response/compute leg: the k-th use takes entry ``k % len``.

    A constant gives a table of length 1, a random spec ``n`` draws, a user array itself. ``data`` is
    rejected (the data records no order latencies).
    """
    model = parse_latency(model)
    if model.uses_data:
        raise ConfigError(f"latency '{model.spec}': 'data' is only valid for the feed leg")
    if isinstance(model, Constant):
        return np.array([model.ns], dtype=np.int64)
    if isinstance(model, UserArray):
        if len(model.values) == 0:
            raise ConfigError(f"latency {model.spec}: empty")
        return model.values
    if n <= 0:
        raise ConfigError(f"latency table size must be > 0, got {n}")
    return model.draw(int(n), rng)


def seeded_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators ``feed``, ``entry``, ``cancel``, ``response``, ``compute`` for one run seed."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed {seed!r}: must be a non-negative integer")
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(ss)) for name, ss in zip(STREAMS, children)}


def signal_feed_stream(seed: int, name: str) -> np.random.Generator:
    """The feed-latency generator of signal venue ``name`` (docs/venues.md): seeded by the run's seed and the
    venue's name (CRC-32), so adding, removing or changing a signal venue never changes another venue's draws.
    The loop (mmsim.engine.sim) and batch mode (mmsim.signals.batch) both draw from it."""
    import zlib

    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed {seed!r}: must be a non-negative integer")
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode("utf-8"))]))


def venue_order_streams(seed: int, name: str) -> dict[str, np.random.Generator]:
    """The order legs' generators (``entry``, ``cancel``, ``response``) of quoted venue ``name`` other than the
    run's first (docs/venues.md, "Quoting several venues"): seeded by the run's seed and the venue's name, apart
    from its feed stream (:func:`signal_feed_stream`), so each venue's order session draws on its own and adding a
    venue never moves another's draws."""
    import zlib

    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed {seed!r}: must be a non-negative integer")
    children = np.random.SeedSequence([int(seed), zlib.crc32(name.encode("utf-8")), 1]).spawn(3)
    return {leg: np.random.Generator(np.random.PCG64(ss)) for leg, ss in zip(("entry", "cancel", "response"), children)}


def _label(model: LatencyModel) -> str:
    return model.spec if model.spec.startswith("<") else f"'{model.spec}'"


#: Compute-latency profiles named after the motivating post's table (docs/latency.md): lognormal with 90 % of
#: decisions inside the quoted range (median = geometric mid, sigma = ln(hi/lo) / (2 * 1.645)).
COMPUTE_PROFILES = {
    "cheap_cloud_vcpu": "lognormal:median=2236us,sigma=0.489",   # 1-5 ms per decision
    "high_clock": "lognormal:median=12649ns,sigma=0.700",        # 4-40 us per decision
}


def compute_spec(spec: Any) -> tuple[str, float, Any]:
    """Compute latency: ``measured[:xF]`` (strategy + model wall time x F), ``model[:xF]`` (model inference
    time x F), ``profile:NAME``, or any latency spec. Returns (source, factor, latency spec)."""
    if isinstance(spec, str):
        text = spec.strip()
        for word, source in (("measured", "strategy"), ("model", "model")):
            if text == word or text.startswith(word + ":"):
                rest = text[len(word):]
                if not rest:
                    return source, 1.0, 0
                try:
                    if not rest.startswith(":x"):
                        raise ValueError
                    factor = float(rest[2:])
                    if not np.isfinite(factor) or factor < 0:
                        raise ValueError
                except ValueError:
                    raise ConfigError(f"latency '{spec}': expected '{word}' or '{word}:xF' (F >= 0)") from None
                return source, factor, 0
        if text.startswith("profile:"):
            name = text[len("profile:"):]
            if name not in COMPUTE_PROFILES:
                raise ConfigError(f"compute latency '{spec}': unknown profile (known: {', '.join(COMPUTE_PROFILES)})")
            return "table", 1.0, COMPUTE_PROFILES[name]
    return "table", 1.0, spec


def parse_leg(leg: str, spec: Any) -> LatencyModel:
    """A latency spec checked for its leg: the compute leg also takes ``measured[:xF]``, ``model[:xF]`` and
    ``profile:NAME`` (:func:`compute_spec`); ``data`` / ``data+X`` is valid on the feed leg only. ConfigError
    texts carry no leg name: callers prefix it as the user wrote it (an option or a scenario key)."""
    if leg == "compute":
        _, _, spec = compute_spec(spec)
    model = parse_latency(spec)
    if leg != "feed" and model.uses_data:
        raise ConfigError(f"'{spec}': 'data' is only valid for the feed leg")
    return model
