"""Scenario files: one small, strict TOML per market setup (data source, instrument, latency, fees, engine).

::

    [scenario]    name, description
    [instrument]  tick_size (required), lot_size, symbol, contract_size, inverse (docs/data.md, "Inverse contracts")
    [source]      kind = "synthetic_l2" (n_rows, seed, generator parameters) | "synthetic_market" (preset,
                  n_rows, seed, the preset's parameters, mmsim.data.market) | "two_venue" (preset, n_rows,
                  seed, lag, venue = "lead" | "lagging": one venue of mmsim.data.two_venue) | "events_parquet"
                  (path); repair
    [latency]     feed, entry, cancel, response, compute      (latency specs, docs/latency.md)
    [fees]        maker_bps, taker_bps
    [engine]      queue_model, queue_power, timer_interval, wake_on_feed, wake_on_response, post_only,
                  crossed_policy
    [strategy]    default
    [signals.NAME] a read-only signal venue (docs/venues.md): tick_size, lot_size, symbol, feed_latency,
                  features; its [signals.NAME.source] takes the keys of [source] (synthetic sources default
                  to the quoted source's seed, and every source to its time window)
    [venues.NAME] another venue that may be quoted: a [signals.NAME]'s keys plus quoted (default false) and,
                  when quoted, its own entry_latency, cancel_latency, response_latency, maker_bps,
                  taker_bps, queue_model, queue_power, post_only (default: the scenario's)
    [calibration] what `mmsim calibrate` fitted a twin to (store, SHA-256, the facts); read, not used

Unknown tables or keys and wrong types raise :class:`mmsim.errors.ConfigError` naming the file and the key.
Relative paths (``path``, ``empirical:FILE``) are relative to the scenario file. Bundled scenarios live in
the repository's ``scenarios/`` folder (``mmsim scenarios list``). Format reference: docs/cli.md.
"""
from __future__ import annotations

import inspect
from datetime import date
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from mmsim._paths import PACKAGE_DIR, checkout_root
from mmsim.errors import ConfigError, DataError
from mmsim.data.latency import parse_duration, parse_leg
from mmsim.records import DEFAULT_CONFIG, QUEUE_MODELS, Instrument

__all__ = ["Scenario", "SignalSpec", "split_venue_spec", "load_scenario", "list_scenarios", "scenario_path", "SCENARIO_DIRS", "LATENCY_LEGS"]

#: Where bundled scenarios are looked up, in order: ``mmsim/scenarios/`` (where the wheel installs them), then
#: the repository's ``scenarios/`` when the package is imported from its source checkout (editable install).
SCENARIO_DIRS = (PACKAGE_DIR / "scenarios",) + ((_root / "scenarios",) if (_root := checkout_root()) else ())

LATENCY_LEGS = ("feed", "entry", "cancel", "response", "compute")
CROSSED_POLICIES = ("error", "repair")
SOURCE_KINDS = ("synthetic_l2", "synthetic_market", "events_parquet", "store", "two_venue")
DEFAULT_STRATEGY = "symmetric:half_spread=1,size=1"
#: compute latency "measured" / "measured:xF": the strategy's measured wall time times F (mmsim.engine.sim).
_MEASURED_RE = re.compile(r"^measured(:x(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)?$")


# --------------------------------------------------------------------------------------------- types
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _t_str(v):
    if not isinstance(v, str):
        raise TypeError("a string")
    return v


def _t_int(v):
    if not _is_int(v):
        raise TypeError("an integer")
    return v


def _t_float(v):
    if not (_is_int(v) or isinstance(v, float)) or not math.isfinite(v):
        raise TypeError("a finite number")
    return float(v)


def _t_float_any(v):
    if not (_is_int(v) or isinstance(v, float)):
        raise TypeError("a number")
    return float(v)


def _t_facts(v):
    if not isinstance(v, dict) or not all(isinstance(k, str) and (_is_int(x) or isinstance(x, float))
                                          for k, x in v.items()):
        raise TypeError("a table of numbers")
    return {k: float(x) for k, x in v.items()}


def _t_bool(v):
    if not isinstance(v, bool):
        raise TypeError("true or false")
    return v


def _t_latency(v):
    if not (isinstance(v, str) or _is_int(v)):
        raise TypeError("a latency spec string (e.g. \"2ms\") or an integer of ns")
    return v


def _t_duration(v):
    if _is_int(v):
        if v < 0:
            raise ValueError("must be >= 0")
        return v
    if isinstance(v, str):
        return parse_duration(v, "duration")  # ConfigError text re-labelled by the caller
    raise TypeError("a duration string (e.g. \"100ms\") or an integer of ns")


def _t_time(v):
    """A time as typed (int ns, ISO timestamp, session clock time, TOML date-time): syntax checked here, resolved
    against the data's session when the events load (mmsim.data.times)."""
    from mmsim.data.times import check_time_syntax

    if isinstance(v, (bool, float)):
        raise TypeError("a time (int ns, \"2024-08-08T23:57:30Z\" or a clock time \"12:00\")")
    try:
        return check_time_syntax(v, "time")
    except ConfigError as e:
        raise ValueError(str(e).split(": ", 1)[-1]) from None


def _t_features(v):
    if isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)):
        return v
    raise TypeError("a feature set name (\"small\") or a list of feature specs")


def _positive(x):
    if not x > 0:
        raise ValueError("must be > 0")
    return x


def _nonneg(x):
    if not x >= 0:
        raise ValueError("must be >= 0")
    return x


def _one_of(*choices):
    def check(v):
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(repr(c) for c in choices)}")
        return v
    return check


def _chain(*fs):
    def run(v):
        for f in fs:
            v = f(v)
        return v
    return run


#: table -> key -> converter (raises TypeError "expected ..." / ValueError "reason").
SCHEMA: dict[str, dict[str, Callable[[Any], Any]]] = {
    "scenario": {"name": _t_str, "description": _t_str},
    "instrument": {"tick_size": _chain(_t_float, _positive), "lot_size": _chain(_t_float, _positive),
                   "symbol": _t_str, "contract_size": _chain(_t_float, _positive), "inverse": _t_bool},
    "source": {"kind": _chain(_t_str, _one_of(*SOURCE_KINDS)), "path": _t_str, "repair": _t_bool,
               "n_rows": _chain(_t_int, _positive), "seed": _chain(_t_int, _nonneg), "preset": _t_str,
               "from_ts": _t_time, "until_ts": _t_time, "time_zone": _t_str,
               "lag": _t_duration, "venue": _chain(_t_str, _one_of("lead", "lagging"))},
    "latency": {leg: _t_latency for leg in LATENCY_LEGS},
    "fees": {"maker_bps": _t_float, "taker_bps": _t_float},
    "engine": {"queue_model": _chain(_t_str, _one_of(*QUEUE_MODELS)),
               "queue_power": _chain(_t_float, _positive),
               "timer_interval": _t_duration,
               "wake_on_feed": _t_bool, "wake_on_response": _t_bool, "post_only": _t_bool,
               "crossed_policy": _chain(_t_str, _one_of(*CROSSED_POLICIES))},
    "strategy": {"default": _t_str},
    # written by `mmsim calibrate` (docs/calibrate.md): the store a twin was fitted to and the facts of both
    "calibration": {"store": _t_str, "store_events_sha256": _t_str, "store_rows": _t_int, "span_s": _t_float_any,
                    "fit_loss": _t_float_any, "fit_evals": _t_int, "twin_informed_share": _t_float_any,
                    "real": _t_facts, "twin": _t_facts, "tolerance": _t_facts},
}
_REQUIRED = {"scenario": (), "instrument": ("tick_size",), "source": ("kind",)}
#: keys of a [signals.NAME] table besides its [signals.NAME.source] sub-table
SIGNAL_KEYS: dict[str, Callable[[Any], Any]] = {
    "tick_size": _chain(_t_float, _positive), "lot_size": _chain(_t_float, _positive), "symbol": _t_str,
    "feed_latency": _t_latency, "features": lambda v: _t_features(v)}
#: keys of a [venues.NAME] table (a venue that may be quoted, docs/venues.md "Quoting several venues"): a signal
#: venue's, plus ``quoted`` and, for a quoted venue, its own order session (each defaulting to the scenario's).
QUOTED_KEYS: dict[str, Callable[[Any], Any]] = {
    "entry_latency": _t_latency, "cancel_latency": _t_latency, "response_latency": _t_latency,
    "maker_bps": _t_float, "taker_bps": _t_float, "queue_model": _chain(_t_str, _one_of(*QUEUE_MODELS)),
    "queue_power": _chain(_t_float, _positive), "post_only": _t_bool}
VENUE_KEYS: dict[str, Callable[[Any], Any]] = {**SIGNAL_KEYS, "quoted": _t_bool, **QUOTED_KEYS}
#: scenario keys -> mmsim.SignalVenue fields of a quoted venue's order session
_QUOTED_FIELD = {"entry_latency": "entry_latency", "cancel_latency": "cancel_latency",
                 "response_latency": "response_latency", "maker_bps": "maker_fee_bps", "taker_bps": "taker_fee_bps",
                 "queue_model": "queue_model", "queue_power": "queue_power", "post_only": "post_only"}
_SIGNAL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: exchange-time window [from_ts, until_ts) for every source: int ns, ISO timestamps or session clock times
_TIME_RANGE = {"from_ts", "until_ts", "time_zone"}  # time_zone: the venue's zone of a source without one (not a store)
_SOURCE_KEYS = {"synthetic_l2": {"kind", "n_rows", "seed", "repair"} | _TIME_RANGE,
                "synthetic_market": {"kind", "preset", "n_rows", "seed", "repair"} | _TIME_RANGE,
                "events_parquet": {"kind", "path", "repair"} | _TIME_RANGE,
                "store": {"kind", "path", "from_ts", "until_ts"},  # a store records its own zone
                "two_venue": {"kind", "preset", "n_rows", "seed", "lag", "venue", "repair"} | _TIME_RANGE}
#: generate_l2 keywords a scenario may not set (they come from elsewhere).
_GEN_RESERVED = {"n_rows", "seed", "tick_size", "lot_size"}


def _generator() -> Callable[..., np.ndarray]:
    from mmsim.data.synthetic import generate_l2
    return generate_l2


#: generate_market parameters a scenario may not set (tick_size comes from [instrument]).
_MARKET_RESERVED = {"tick_size"}


def _market_presets() -> list[str]:
    from mmsim.data.market import preset_names
    return preset_names()


def _market_params(preset: str) -> dict[str, Callable[[Any], Any]]:
    """Parameters of a ``generate_market`` preset a scenario may override, typed by the preset's values."""
    import dataclasses

    from mmsim.data.market import preset_params

    out: dict[str, Callable[[Any], Any]] = {}
    for f in dataclasses.fields(preset_params(preset)):
        if f.name in _MARKET_RESERVED:
            continue
        out[f.name] = _t_int if f.type in ("int", int) else _t_float
    return out


def _generator_params() -> dict[str, Callable[[Any], Any]]:
    """Keyword parameters of ``generate_l2`` a scenario may set, typed by their defaults."""
    try:
        sig = inspect.signature(_generator())
    except ImportError:  # pragma: no cover - the generator ships with the package
        return {}
    out: dict[str, Callable[[Any], Any]] = {}
    for p in sig.parameters.values():
        if p.name in _GEN_RESERVED or p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            continue
        d = p.default
        if isinstance(d, bool):
            out[p.name] = _t_bool
        elif _is_int(d):
            out[p.name] = _t_int
        elif isinstance(d, float):
            out[p.name] = _t_float
        elif isinstance(d, str):
            out[p.name] = _t_str
        else:
            out[p.name] = lambda v: v
    return out


# --------------------------------------------------------------------------------------------- Scenario
@dataclass
class Scenario:
    name: str
    description: str
    path: Path
    instrument: Instrument
    source: dict
    latency: dict = field(default_factory=dict)   # leg -> spec (str or int ns), paths resolved
    fees: dict = field(default_factory=dict)
    engine: dict = field(default_factory=dict)
    strategy: str = DEFAULT_STRATEGY
    #: validation report of the last load_events() (mmsim.data.validate.validate_events)
    report: Optional[dict] = None
    #: the data's session after load_events(): time zone, session date, first/last exch_ts (mmsim.data.times)
    session: Optional[Any] = field(default=None, repr=False, compare=False)
    #: how errors name the window's ends (the scenario keys, or the command-line options that set them)
    window_labels: dict = field(default_factory=dict, repr=False, compare=False)
    #: a synthetic_market source's generated Market (events with their ground truth: .regime, .truth) after
    #: load_events(); None for other sources. Only the oracle_regime built-in reads it (simulate's truth=).
    truth: Optional[Any] = field(default=None, repr=False, compare=False)
    #: read-only signal venues by name (``[signals.NAME]``, docs/venues.md)
    signals: dict = field(default_factory=dict)
    #: each signal venue's (events, instrument) after load_events()
    signal_events: dict = field(default_factory=dict, repr=False, compare=False)
    #: the resolved exchange-time window [start, end) of the last load_events() (None: open)
    window_ns: tuple = field(default=(None, None), repr=False, compare=False)
    #: a signal venue's window: a start before its data starts at its data (it may begin later than the quoted)
    lenient_window: bool = field(default=False, repr=False, compare=False)

    def input_files(self) -> list[Path]:
        """Every file this scenario reads, sorted: the scenario file, its source's data (a store's files, an
        events Parquet), empirical latency files, and the same for each signal venue. A sweep's point ids hash
        their contents (mmsim.analysis.sweep.input_digest), so a changed input is never answered from a cache."""
        files: set[Path] = {Path(self.path).resolve()}

        def add_source(src: dict) -> None:
            p = src.get("path")
            if p is None:
                return
            p = Path(p)
            if p.is_dir():
                files.update(f.resolve() for f in sorted(p.rglob("*")) if f.is_file())
            else:
                files.add(p.resolve())

        def add_latency(spec: Any) -> None:
            if isinstance(spec, str) and spec.lower().startswith("empirical:"):
                files.add(Path(spec.split(":", 1)[1]).resolve())

        add_source(self.source)
        for spec in self.latency.values():
            add_latency(spec)
        for sig in self.signals.values():
            add_source(sig.scenario.source)
            add_latency(sig.feed_latency)
        return sorted(files)

    @property
    def source_name(self) -> str:
        if self.source["kind"] in ("events_parquet", "store"):
            return str(self.source["path"])
        return f"{self.name} ({self.source['kind']})"

    def load_events(self, limit: Optional[int] = None) -> tuple[Any, Instrument]:
        """The quoted venue's events (:meth:`load_quoted`), and each signal venue's into ``signal_events``:
        over the same exchange-time window, a synthetic signal source at the quoted source's seed unless it
        sets its own. A signal venue is read whole (not streamed) and not cut by ``limit``."""
        out = self.load_quoted(limit)
        loaded: dict = {}
        start, end = self.window_ns
        for name, spec in self.signals.items():
            sub = spec.scenario
            src = dict(sub.source)
            if spec.seed_follows and src["kind"] in ("synthetic_l2", "synthetic_market", "two_venue") \
                    and "seed" in self.source:
                src["seed"] = self.source["seed"]
            for key, v in (("from_ts", start), ("until_ts", end)):
                if v is not None and key not in sub.source:
                    src[key] = v
            sub = replace(sub, source=src, signals={}, lenient_window=True, window_labels={
                k: f"{self._label(k)} (applied to signal venue '{name}')" for k in ("from_ts", "until_ts")
                if k not in sub.source})
            try:
                ev, inst = sub.load_quoted(None)
            except ConfigError as e:
                msg = str(e)
                raise ConfigError(msg if f"{spec.table}.{name}" in msg else f"signal venue '{name}': {msg}") from None
            from mmsim.data.store import EventStore

            if isinstance(ev, EventStore):
                ev = ev.read()
            self._check_overlap(name, ev)
            loaded[name] = (ev, inst)
        self.signal_events = loaded
        return out

    def _check_overlap(self, name: str, events: np.ndarray) -> None:
        """A signal venue whose data do not overlap the quoted venue's span cannot be aligned with it: one line."""
        from mmsim.data.times import iso

        sess = self.session
        if sess is None or sess.first_ts is None or sess.last_ts is None or len(events) == 0:
            return
        start, end = self.window_ns
        q0 = max(int(sess.first_ts), start) if start is not None else int(sess.first_ts)
        q1 = min(int(sess.last_ts), end - 1) if end is not None else int(sess.last_ts)
        s0, s1 = int(events["exch_ts"][0]), int(events["exch_ts"][-1])
        if s1 < q0 or s0 > q1:
            raise ConfigError(f"{self.path}: [{self.signals[name].table}.{name}]: its data ({iso(s0)} – {iso(s1)}) do not overlap the "
                              f"quoted venue's ({iso(q0)} – {iso(q1)}): the two clocks cannot be aligned (another "
                              "day or another time zone?)")

    def load_quoted(self, limit: Optional[int] = None) -> tuple[Any, Instrument]:
        """Read or generate the events (the time range, then the first ``limit`` rows), validated:
        ``(events, instrument)``. A ``store`` source gives an EventStore view, streamed by simulate().

        A window ``[from_ts, until_ts)`` starts with the exact book at ``from_ts`` (one snapshot message built
        from the rows before it, mmsim.data.seek; ``self.report["seek"]`` says what it cost). Typed times are
        resolved against the data's session (``self.session``: the venue's time zone and session date)."""
        from mmsim.data.validate import validate_events
        from mmsim.data.times import session_of_meta, session_of_span

        if limit is not None and (not _is_int(limit) or limit <= 0):
            raise ConfigError(f"row limit {limit!r}: must be a positive integer")
        kind = self.source["kind"]
        if kind == "store":
            from mmsim.data.store import EventStore

            store = EventStore(self.source["path"])
            got = store.instrument
            if (got.tick_size, got.lot_size) != (self.instrument.tick_size, self.instrument.lot_size):
                raise ConfigError(f"{self.path}: [instrument] tick_size/lot_size {self.instrument.tick_size}/"
                                  f"{self.instrument.lot_size} differ from the store's {got.tick_size}/{got.lot_size}")
            # contract terms: the store's (a COIN-M store is inverse) unless the scenario states other inverse ones
            if self.instrument.inverse and (got.inverse, got.contract_size) != (True, self.instrument.contract_size):
                raise ConfigError(f"{self.path}: [instrument] inverse contract_size {self.instrument.contract_size} "
                                  f"differs from the store's ({'inverse, contract_size ' + str(got.contract_size) if got.inverse else 'linear'})")
            if got.inverse and not self.instrument.inverse:
                self.instrument = replace(self.instrument, contract_size=got.contract_size, inverse=True)
            self.session = session_of_meta(store.meta)
            start, end = self._window()
            self.window_ns = (start, end)
            try:
                view = store.window(start, end, limit) if (start, end, limit) != (None, None, None) else store
            except ConfigError as e:
                if "no events in the time range" not in str(e):
                    raise
                raise ConfigError(f"{self.path}: [source] from_ts/until_ts: no events in that time range "
                                  f"(the store has none in [{start}, {end}))") from None
            self.report = {"mode": view.meta["mode"], "n_rows": view.n_rows, "n_dropped": 0,
                           "conversion": store.meta.get("report", {})}
            if view.seek is not None:
                self.report["seek"] = dict(view.seek)
            return view, self.instrument
        if kind == "synthetic_l2":
            events = self._synthetic()
        elif kind == "synthetic_market":
            events = self._market(limit)
        elif kind == "two_venue":
            events = self._two_venue()
        else:
            events = _read_events_parquet(Path(self.source["path"]), self.source_name, self.instrument, limit)
        if len(events):
            zone = self.source.get("time_zone", "UTC")
            from mmsim.data.times import utc_offset_s

            try:
                utc_offset_s(zone, date(2000, 1, 1))  # an unknown zone: one line naming the key
            except ConfigError as e:
                raise ConfigError(f"{self.path}: [source] time_zone: {e}") from None
            self.session = session_of_span(int(events["exch_ts"][0]), int(events["exch_ts"][-1]), zone)
        start, end = self._window()
        self.window_ns = (start, end)
        seek = None
        if start is not None or end is not None:
            import time

            from mmsim.data.seek import window_array

            t0 = time.perf_counter()
            events, seek = window_array(events, start, end, source=self.source_name)
            seek.update(from_ts=start, seconds=time.perf_counter() - t0)
            if len(events) == 0 or len(events) == seek["snapshot_rows"]:
                raise ConfigError(f"{self.path}: [source] from_ts/until_ts: no events in that time range")
        if limit is not None and limit < len(events):
            from mmsim.data.messages import complete_prefix

            # never split a message: stop at the last whole one (as simulate's row limit does)
            cut = complete_prefix(events[:limit], int(events["exch_ts"][limit]))
            if cut == 0:
                raise ConfigError(f"row limit {limit}: the first {limit} rows hold no whole exchange message")
            events = events[:cut]
        events, self.report = validate_events(events, self.source_name, repair=self.source.get("repair", False))
        if seek is not None:
            self.report["seek"] = seek
        return events, self.instrument

    def signal_kwargs(self) -> dict[str, Any]:
        """``{"signals": {name: {events, instrument, feed_latency, features}}}`` once load_events() has read
        the signal venues, else ``{}``: what simulate() needs of them (merged into sim_kwargs())."""
        if not self.signal_events:
            return {}
        return {"instrument_name": self.instrument.symbol or "quoted",
                "signals": {name: {"events": ev, "instrument": inst,
                                   "feed_latency": self.signals[name].feed_latency,
                                   "features": self.signals[name].features,
                                   **({"quoted": True, **self.signals[name].session}
                                      if self.signals[name].quoted else {})}
                            for name, (ev, inst) in self.signal_events.items()}}

    def set_signal_latency(self, name: str, spec: Any, label: str = "--feed-latency") -> None:
        """Set signal venue ``name``'s feed latency (checked now; errors name ``label`` and the known venues)."""
        if name not in self.signals:
            if name == (self.instrument.symbol or "quoted"):  # the first venue's own feed has no name= prefix
                raise ConfigError(f"{label} {name}=...: {name!r} is the scenario's first instrument; give its feed "
                                  f"latency without a name ({label} {spec})")
            known = ", ".join(self.signals) or "none: add a [signals.NAME] table"
            raise ConfigError(f"{label} {name}=...: no signal venue {name!r} in scenario {self.name} "
                              f"(signal venues: {known})")
        try:
            parse_leg("feed", spec)
        except ConfigError as e:
            raise ConfigError(f"{label} {name}={spec}: {e}") from None
        self.signals[name].feed_latency = spec

    def set_window(self, from_ts: Any = None, until_ts: Any = None, *, labels: tuple[str, str] = ("--from", "--until")
                   ) -> None:
        """Override ``[source] from_ts/until_ts`` (e.g. from ``--from``/``--until``; None keeps the scenario's);
        the syntax is checked now, naming ``labels``, and the times resolved when the events load."""
        from mmsim.data.times import check_time_syntax

        for key, v, label in (("from_ts", from_ts, labels[0]), ("until_ts", until_ts, labels[1])):
            if v is not None:
                self.source[key] = check_time_syntax(v, label)
                self.window_labels[key] = label

    def _window(self) -> tuple[Optional[int], Optional[int]]:
        """``[source] from_ts/until_ts`` resolved against ``self.session`` and checked against the data's span:
        a time that cannot be read, or a window outside the data, is one ConfigError naming the key and value."""
        from mmsim.data.times import format_clock, parse_time

        sess = self.session
        out: dict[str, Optional[int]] = {}
        for key in ("from_ts", "until_ts"):
            v = self.source.get(key)
            out[key] = None if v is None else parse_time(v, self._label(key), sess)
        start, end = out["from_ts"], out["until_ts"]

        def show(key: str, ns: int) -> str:
            v = self.source[key]
            typed = f"{v!r}" if not _is_int(v) else str(v)
            zone = sess.zone if sess is not None else "UTC"
            return f"{self._label(key)} {typed} ({format_clock(ns, zone, with_date=True)} {zone})"

        if self.lenient_window and sess is not None and sess.first_ts is not None and start is not None \
                and start <= sess.first_ts:
            start = None
        if sess is not None and sess.first_ts is not None and start is not None and start < sess.first_ts:
            # not silently the whole data: a mistyped time (another day, another zone) must not pass for a window
            raise ConfigError(f"{show('from_ts', start)}: before the data's first row "
                              f"({format_clock(sess.first_ts, sess.zone, with_date=True)} {sess.zone}); "
                              "leave it out to start at the beginning")
        if sess is not None and sess.last_ts is not None and start is not None and start > sess.last_ts:
            raise ConfigError(f"{show('from_ts', start)}: after the data's last row "
                              f"({format_clock(sess.last_ts, sess.zone, with_date=True)} {sess.zone})")
        if sess is not None and sess.first_ts is not None and end is not None and end <= sess.first_ts:
            raise ConfigError(f"{show('until_ts', end)}: not after the data's first row "
                              f"({format_clock(sess.first_ts, sess.zone, with_date=True)} {sess.zone})")
        if start is not None and end is not None and end <= start:
            raise ConfigError(f"{show('until_ts', end)}: must be after {self._label('from_ts').rsplit(' ', 1)[-1]}")
        return start, end

    def _label(self, key: str) -> str:
        return self.window_labels.get(key) or f"{self.path}: [source] {key}"

    def _synthetic(self) -> np.ndarray:
        gen = _generator()
        params = {k: v for k, v in self.source.items()
                  if k not in ("kind", "n_rows", "seed", "repair") and k not in _TIME_RANGE}
        kwargs = dict(params, tick_size=self.instrument.tick_size)
        if "lot_size" in inspect.signature(gen).parameters:
            kwargs["lot_size"] = self.instrument.lot_size
        try:
            return gen(self.source["n_rows"], self.source.get("seed", 0), **kwargs)
        except ValueError as e:
            raise ConfigError(f"{self.path}: [source]: {e}") from None

    def _market(self, limit: Optional[int]) -> np.ndarray:
        from mmsim.data.market import generate_market, preset_params

        preset = self.source["preset"]
        params = {k: v for k, v in self.source.items()
                  if k not in ("kind", "preset", "n_rows", "seed", "repair") and k not in _TIME_RANGE}
        if hasattr(preset_params(preset), "tick_size"):
            params["tick_size"] = self.instrument.tick_size
        n = self.source["n_rows"] if limit is None else min(limit, self.source["n_rows"])
        try:  # the generator is sequential: the first `limit` rows of a run are a shorter run
            self.truth = generate_market(preset, n, self.source.get("seed", 0), **params)
            return self.truth.events
        except ValueError as e:
            raise ConfigError(f"{self.path}: [source]: {e}") from None

    def _two_venue(self) -> np.ndarray:
        """One venue of a two-venue market (mmsim.data.two_venue): n_rows of the lead venue, the lagging
        venue over the same span; the same preset, seed and lag give the other venue of the same market."""
        from mmsim.data.two_venue import generate_two_venue

        src = self.source
        try:
            m = generate_two_venue(src.get("preset", "perp_spot"), src["n_rows"], src.get("seed", 0),
                                   lag=None if "lag" not in src else src["lag"] / 1e9)
        except ValueError as e:
            raise ConfigError(f"{self.path}: [source]: {e}") from None
        self.truth = m.lead if src.get("venue", "lagging") == "lead" else m.lagging
        return self.truth.events

    def sim_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``mmsim.engine.sim.simulate`` this scenario sets (latencies, fees, engine)."""
        e = {**_ENGINE_DEFAULTS, **self.engine}
        return {
            **{f"{leg}_latency": self.latency.get(leg, "0") for leg in LATENCY_LEGS},
            "queue_model": e["queue_model"],
            "queue_power": e["queue_power"],
            "maker_fee_bps": self.fees.get("maker_bps", 0.0),
            "taker_fee_bps": self.fees.get("taker_bps", 0.0),
            "timer_interval_ns": e["timer_interval"],
            "wake_on_feed": e["wake_on_feed"],
            "wake_on_response": e["wake_on_response"],
            "post_only": e["post_only"],
            "crossed_policy": e["crossed_policy"],
            # the venue's zone once the data is loaded: a run on a window of a store shows its clock times
            **({"time_zone": self.session.zone} if getattr(self, "session", None) is not None else {}),
            # read-only signal venues, once loaded: simulate(signals=...) takes these mappings
            **self.signal_kwargs(),
        }


@dataclass
class SignalSpec:
    """One ``[signals.NAME]`` table: a read-only venue (docs/venues.md)."""

    name: str
    scenario: Scenario            #: its source and instrument, checked as a scenario's
    feed_latency: Any = 0         #: its own feed latency spec
    features: Any = None          #: its feature bank (spec list or a set name), or None
    seed_follows: bool = True     #: a synthetic source without its own seed takes the quoted source's
    quoted: bool = False          #: a [venues.NAME] table with quoted = true: the strategy may quote it too
    session: dict = field(default_factory=dict)  #: a quoted venue's own order session (SignalVenue fields)
    table: str = "signals"        #: where it was declared: [signals.NAME] or [venues.NAME]


_ENGINE_DEFAULTS = {
    "queue_model": DEFAULT_CONFIG["queue_model"],
    "queue_power": DEFAULT_CONFIG["queue_power"],
    "timer_interval": DEFAULT_CONFIG["timer_interval_ns"],
    "wake_on_feed": DEFAULT_CONFIG["wake_on_feed"],
    "wake_on_response": DEFAULT_CONFIG["wake_on_response"],
    "post_only": DEFAULT_CONFIG["post_only"],
    "crossed_policy": DEFAULT_CONFIG["crossed_policy"],
}


_VENUE_SPEC_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)=(.+)$", re.S)


def split_venue_spec(text: str) -> tuple[Optional[str], str]:
    """``"perp=0,1ms,5ms"`` -> ``("perp", "0,1ms,5ms")``: a feed latency for signal venue ``perp``;
    ``"lognormal:median=2ms"`` or ``"5ms"`` -> ``(None, text)``: the quoted venue's (a latency spec's own
    ``key=`` comes after its ``kind:``)."""
    m = _VENUE_SPEC_RE.match(text.strip())
    return (m.group(1), m.group(2).strip()) if m else (None, text)


# --------------------------------------------------------------------------------------------- lookup
def list_scenarios() -> list[str]:
    """Names of the bundled scenarios, sorted."""
    names: set[str] = set()
    for d in SCENARIO_DIRS:
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def scenario_path(name_or_path: str | Path) -> Path:
    """The TOML file of a bundled name, or the given path. ConfigError if neither exists."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        p = Path(text).expanduser()
        if not p.is_file():
            raise ConfigError(f"scenario file {text} not found")
        return p
    for d in SCENARIO_DIRS:
        p = d / f"{text}.toml"
        if p.is_file():
            return p
    bundled = ", ".join(list_scenarios()) or "none found"
    raise ConfigError(f"unknown scenario '{text}' (bundled: {bundled}; or give a path to a .toml file)")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and check a bundled scenario by name, or a scenario file by path."""
    path = scenario_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    return _build(doc, path)


def _build(doc: dict, path: Path) -> Scenario:
    doc = dict(doc)
    signals_doc = doc.pop("signals", None)
    venues_doc = doc.pop("venues", None)
    sc = _build_one(doc, path)
    if signals_doc is not None:
        sc.signals = _build_signals(signals_doc, sc, path)
    if venues_doc is not None:
        venues = _build_signals(venues_doc, sc, path, table="venues")
        clash = next((n for n in venues if n in sc.signals), None)
        if clash is not None:
            raise ConfigError(f"{path}: [venues.{clash}]: the name is also a [signals.{clash}] table; venue names "
                              "must be unique")
        sc.signals = {**sc.signals, **venues}
    return sc


def _build_signals(doc: Any, quoted: Scenario, path: Path, table: str = "signals") -> dict[str, "SignalSpec"]:
    """``[signals.NAME]`` tables: each a read-only venue with its own source, instrument, feed latency and
    features; ``[venues.NAME]`` (``table="venues"``) the same plus ``quoted`` and a quoted venue's own order
    session. Its source is checked by the same rules as ``[source]``; errors name ``[TABLE.NAME...]``."""
    if not isinstance(doc, dict) or not doc:
        raise ConfigError(f"{path}: [{table}] must hold one table per venue, e.g. [{table}.perp]")
    keys = VENUE_KEYS if table == "venues" else SIGNAL_KEYS
    out: dict[str, SignalSpec] = {}
    quoted_name = quoted.instrument.symbol or "quoted"
    for name, table_doc in doc.items():
        where = f"{path}: [{table}.{name}]"
        if not isinstance(table_doc, dict):
            raise ConfigError(f"{where} must be a table")
        if not _SIGNAL_NAME_RE.match(name):
            raise ConfigError(f"{where}: a venue name is a letter then letters, digits or _")
        if name in (quoted_name, "quoted"):
            raise ConfigError(f"{where}: the name {name!r} is the quoted instrument's; name the signal venue otherwise")
        vals: dict[str, Any] = {}
        for k, v in table_doc.items():
            if k == "source":
                continue
            conv = keys.get(k)
            if conv is None and k in VENUE_KEYS:
                raise ConfigError(f"{where} {k}: a [signals.NAME] venue is read-only; to quote it declare it as "
                                  f"[venues.{name}] with quoted = true")
            if conv is None:
                raise ConfigError(f"{where} {k}: unknown key (known: source, {', '.join(keys)})")
            try:
                vals[k] = conv(v)
            except TypeError as e:
                raise ConfigError(f"{where} {k}: expected {e}, got {v!r}") from None
            except (ValueError, ConfigError) as e:
                raise ConfigError(f"{where} {k}: {v!r} {e}") from None
        if "source" not in table_doc or not isinstance(table_doc["source"], dict):
            raise ConfigError(f"{where}: missing table [{table}.{name}.source]")
        if "tick_size" not in vals:
            raise ConfigError(f"{where} tick_size: missing")
        if "feed_latency" in vals:
            try:
                vals["feed_latency"] = _check_latency("feed", vals["feed_latency"], path.resolve().parent, path)
            except ConfigError as e:
                raise ConfigError(str(e).replace(f"{path}: [latency] feed", f"{where} feed_latency")) from None
        inst = {k: vals[k] for k in ("tick_size", "lot_size", "symbol") if k in vals}
        try:
            sub = _build_one({"scenario": {}, "instrument": inst, "source": dict(table_doc["source"])}, path)
        except ConfigError as e:
            msg = str(e).replace(f"{path}: [source]", f"{path}: [{table}.{name}.source]")
            raise ConfigError(msg.replace(f"{path}: [instrument]", f"{where}")) from None
        sub.name = f"{quoted.name}:{name}"
        is_quoted = bool(vals.get("quoted", False))
        order_keys = [k for k in QUOTED_KEYS if k in vals]
        if order_keys and not is_quoted:
            raise ConfigError(f"{where} {order_keys[0]}: applies to a quoted venue only (add quoted = true)")
        session = {}
        for k in order_keys:
            v = vals[k]
            if k.endswith("_latency"):
                leg = k[:-len("_latency")]
                try:
                    v = _check_latency(leg, v, path.resolve().parent, path)
                except ConfigError as e:
                    raise ConfigError(str(e).replace(f"{path}: [latency] {leg}", f"{where} {k}")) from None
            session[_QUOTED_FIELD[k]] = v
        out[name] = SignalSpec(name=name, scenario=sub, feed_latency=vals.get("feed_latency", 0),
                               features=vals.get("features"),
                               seed_follows="seed" not in table_doc["source"], quoted=is_quoted,
                               session=session, table=table)
    return out


def _build_one(doc: dict, path: Path) -> Scenario:
    base = path.resolve().parent
    unknown = [k for k in doc if k not in SCHEMA]
    if unknown:
        raise ConfigError(f"{path}: unknown table [{unknown[0]}] (known: {', '.join(SCHEMA)}, signals, venues)")
    for table in doc:
        if not isinstance(doc[table], dict):
            raise ConfigError(f"{path}: {table} must be a table [{table}]")
    for table, keys in _REQUIRED.items():
        if table not in doc:
            raise ConfigError(f"{path}: missing table [{table}]")
        for k in keys:
            if k not in doc[table]:
                raise ConfigError(f"{path}: [{table}] {k}: missing")

    source_kind = doc["source"].get("kind")
    schema = {t: dict(s) for t, s in SCHEMA.items()}
    market_params: dict[str, Callable[[Any], Any]] = {}
    if source_kind == "synthetic_l2":
        schema["source"].update({k: v for k, v in _generator_params().items() if k not in schema["source"]})
    elif source_kind == "synthetic_market":
        preset = doc["source"].get("preset")
        if preset is None:
            raise ConfigError(f"{path}: [source] preset: missing (needed by kind = \"synthetic_market\"; "
                              f"one of {', '.join(_market_presets())})")
        if not isinstance(preset, str):
            raise ConfigError(f"{path}: [source] preset: expected a string, got {preset!r}")
        if preset not in _market_presets():
            raise ConfigError(f"{path}: [source] preset: {preset!r} must be one of "
                              f"{', '.join(repr(p) for p in _market_presets())}")
        market_params = _market_params(preset)
        schema["source"].update({k: v for k, v in market_params.items() if k not in schema["source"]})

    vals: dict[str, dict] = {}
    for table, entries in doc.items():
        vals[table] = {}
        for k, v in entries.items():
            conv = schema[table].get(k)
            if conv is None:
                known = ", ".join(schema[table])
                raise ConfigError(f"{path}: [{table}] {k}: unknown key (known: {known})")
            try:
                vals[table][k] = conv(v)
            except TypeError as e:
                raise ConfigError(f"{path}: [{table}] {k}: expected {e}, got {v!r}") from None
            except (ValueError, ConfigError) as e:
                msg = str(e).removeprefix("duration: ")
                raise ConfigError(f"{path}: [{table}] {k}: {v!r} {msg}") from None

    source = vals["source"]
    kind = source["kind"]
    allowed = _SOURCE_KEYS[kind] | (set(_generator_params()) if kind == "synthetic_l2" else set()) \
        | set(market_params)
    for k in source:
        if k not in allowed:
            raise ConfigError(f"{path}: [source] {k}: not a parameter of kind = \"{kind}\" "
                              f"(allowed: {', '.join(sorted(allowed))})")
    if kind in ("synthetic_l2", "synthetic_market", "two_venue") and "n_rows" not in source:
        raise ConfigError(f"{path}: [source] n_rows: missing (needed by kind = \"{kind}\")")
    if kind == "synthetic_market":
        _check_market(source, vals["instrument"], path)
    if kind == "two_venue":
        _check_two_venue(source, path)
    if kind in ("events_parquet", "store"):
        if "path" not in source:
            raise ConfigError(f"{path}: [source] path: missing (needed by kind = \"{kind}\")")
        source["path"] = str(_resolve(source["path"], base))
    if _is_int(source.get("from_ts")) and _is_int(source.get("until_ts")) and source["until_ts"] <= source["from_ts"]:
        raise ConfigError(f"{path}: [source] until_ts: must be after from_ts")

    latency = {}
    for leg, spec in vals.get("latency", {}).items():
        latency[leg] = _check_latency(leg, spec, base, path)

    inst = vals["instrument"]
    if inst.get("contract_size", 1.0) != 1.0 and not inst.get("inverse", False):
        raise ConfigError(f"{path}: [instrument] contract_size: applies to an inverse contract (inverse = true); "
                          "a linear instrument's multiplier is its lot_size")
    meta = vals.get("scenario", {})
    return Scenario(
        name=meta.get("name", path.stem),
        description=meta.get("description", ""),
        path=path,
        instrument=Instrument(tick_size=inst["tick_size"], lot_size=inst.get("lot_size", 1.0),
                              symbol=inst.get("symbol", ""), contract_size=inst.get("contract_size", 1.0),
                              inverse=inst.get("inverse", False)),
        source=source,
        latency=latency,
        fees=vals.get("fees", {}),
        engine=vals.get("engine", {}),
        strategy=vals.get("strategy", {}).get("default", DEFAULT_STRATEGY),
    )


def _check_market(source: dict, instrument: dict, path: Path) -> None:
    """Range-check the preset's parameters with the overrides now, so a bad value fails at load time."""
    import dataclasses

    from mmsim.data.market import preset_params

    base = preset_params(source["preset"])
    over = {k: v for k, v in source.items() if k not in _SOURCE_KEYS["synthetic_market"]}
    if hasattr(base, "tick_size"):
        over["tick_size"] = instrument["tick_size"]
    try:
        dataclasses.replace(base, **over).check()
    except ValueError as e:
        raise ConfigError(f"{path}: [source]: {e}") from None


def _check_two_venue(source: dict, path: Path) -> None:
    """A two_venue source's preset and lag checked at load time (mmsim.data.two_venue)."""
    from mmsim.data.two_venue import MAX_LAG_S, two_venue_preset

    try:
        p = two_venue_preset(source.get("preset", "perp_spot"))
    except ValueError as e:
        raise ConfigError(f"{path}: [source] preset: {e}") from None
    lag = source.get("lag", int(round(p.lag_s * 1e9)))
    step = int(round(p.lead.v_dt * 1e9))
    if lag > MAX_LAG_S * 1e9 or lag % step:
        raise ConfigError(f"{path}: [source] lag: {lag} ns must be a multiple of the preset's grid step "
                          f"({step} ns) and at most {MAX_LAG_S:g} s")


def _resolve(p: str, base: Path) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else base / q


def _check_latency(leg: str, spec: Any, base: Path, path: Path) -> Any:
    """Parse now (errors name the key); return the spec with an empirical file resolved against ``base``."""
    if isinstance(spec, str):
        s = spec.strip()
        if leg == "compute":  # measured[:xF], model[:xF], profile:NAME (mmsim.data.latency.compute_spec)
            from mmsim.data.latency import compute_spec

            try:
                source, _, inner = compute_spec(s)
            except ConfigError as e:
                raise ConfigError(f"{path}: [latency] {leg}: {e}") from None
            if source != "table" or inner != s:
                return s
        if s.lower().startswith("empirical:"):
            s = "empirical:" + str(_resolve(s.split(":", 1)[1].strip(), base))
        spec = s
    try:
        parse_leg(leg, spec)
    except ConfigError as e:
        raise ConfigError(f"{path}: [latency] {leg}: {e}") from None
    return spec


# --------------------------------------------------------------------------------------------- parquet
def _read_events_parquet(path: Path, source: str, inst: Instrument, limit: Optional[int]) -> np.ndarray:
    """EVENT_DTYPE from Parquet: integer price/qty columns are ticks/lots, float ones are converted."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mmsim.data.validate import events_from_frame, events_from_int_frame

    if not path.is_file():
        raise DataError(f"{source}: file not found")
    try:
        pf = pq.ParquetFile(path)
        table = pf.read() if limit is None else _head(pf, limit)
    except (OSError, pa.ArrowException) as e:
        raise DataError(f"{source}: cannot read Parquet: {e}") from None
    df = table.to_pandas()
    import pandas as pd

    if "price" in df.columns and pd.api.types.is_float_dtype(df["price"]):
        return events_from_frame(df, source, inst.tick_size, inst.lot_size)
    return events_from_int_frame(df, source)


def _head(pf, limit: int):
    import pyarrow as pa

    batches, n = [], 0
    for b in pf.iter_batches(batch_size=min(limit, 1 << 16)):
        batches.append(b)
        n += len(b)
        if n >= limit:
            break
    if not batches:
        return pf.schema_arrow.empty_table()
    return pa.Table.from_batches(batches).slice(0, limit)
