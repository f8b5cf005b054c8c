"""Run a strategy over events: builds the latency streams, picks an engine, collects results.

Both engines — the C++ loop (``mmsim._core.Engine``) and the pure-Python reference
(``mmsim.reference.ReferenceEngine``) — take the same arguments::

    Engine(events, arrival, latencies, config, strategy, final=True, signals=None)

- ``events``: EVENT_DTYPE array, validated (``mmsim.data.validate``).
- ``arrival``: int64 per row, feed arrival time at the strategy (already monotone).
- ``latencies``: dict of int64 arrays ``entry``, ``cancel``, ``response``, ``compute`` (each len >= 1;
  the k-th use of a leg takes element ``k % len``).
- ``config``: dict, keys in ``DEFAULT_CONFIG``.
- ``strategy``: a Python object with ``on_wakeup(ctx)``, or (C++ only) a native/cfunc strategy handle.
- ``signals``: read-only signal venues (docs/venues.md), a list of ``(events_k, arrival_k)`` pairs described
  in the same order by ``config["signals"]``; ``None`` or ``[]`` is a single-venue run.

and offer ``step(n_rows) -> bool done``, ``fills()``, ``orders()``, ``decisions()``, ``signal_data()`` (record
arrays of ``mmsim.records``) and ``summary() -> dict``.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from mmsim.data.latency import compute_spec
from mmsim.errors import ConfigError, DataError
from mmsim import records as R
from mmsim.records import DEFAULT_CONFIG, Instrument

def _no_signal_data() -> Any:
    from mmsim.engine.results import signal_frame

    return signal_frame(None, ())


def _no_quotes() -> Any:
    from mmsim.engine.results import quote_frame

    return quote_frame(None, ())


@dataclass
class RunResult:
    fills: "Any"        # pandas DataFrames (FILL_DTYPE, ORDER_DTYPE, DECISION_DTYPE columns)
    orders: "Any"
    decisions: "Any"
    summary: dict = field(default_factory=dict)
    #: what each decision had seen of each signal venue (SIGNAL_DATA_DTYPE columns + ``instrument``, the venue's
    #: name); empty without signal venues
    signal_data: "Any" = field(default_factory=_no_signal_data)
    #: each decision's targets and actions on each quoted venue after the first (QUOTE_DTYPE columns +
    #: ``instrument``); empty unless several venues are quoted (docs/venues.md, "Quoting several venues")
    quotes: "Any" = field(default_factory=_no_quotes)


@dataclass(frozen=True)
class SignalVenue:
    """Another venue of a run (docs/venues.md): another instrument's market data, seen by the strategy only
    through its own delayed feed (``ctx.venue(name)``). Read-only by default (a signal source: no orders there);
    ``quoted=True`` makes it a quoted venue as well, with an exchange side of its own (docs/venues.md, "Quoting
    several venues"): the strategy sets its targets (``on_wakeup`` returning ``{name: Quotes}``) or sends orders
    to it (``ctx.submit(..., venue=name)``), and its fills, orders and quotes carry its name.

    ``events`` is an EVENT_DTYPE array or an :class:`mmsim.data.store.EventStore` (read whole: other venues are
    held in memory); ``instrument`` its metadata (None: the store's, else ``Instrument()``); ``feed_latency`` a
    latency spec as for the quoted feed (its draws come from a stream of their own: docs/venues.md); ``features`` a
    feature spec list or ``"small"`` (C++ engine only); ``repair`` drops zero-size rows as ``simulate(repair=)``
    does; ``crossed_policy`` ``"error"`` or ``"repair"`` for this venue's book (None: the run's).

    A quoted venue's own order session: ``entry_latency``, ``cancel_latency``, ``response_latency`` (latency
    specs drawn from this venue's own streams, ``mmsim.data.latency.venue_order_streams``), ``queue_model``,
    ``queue_power``, ``maker_fee_bps``, ``taker_fee_bps``, ``post_only``; None takes the run's setting. Given on a
    read-only venue they are an error (they would do nothing).
    """

    events: Any
    instrument: Optional[Instrument] = None
    feed_latency: Any = 0
    features: Any = None
    repair: bool = False
    crossed_policy: Optional[str] = None
    quoted: bool = False
    entry_latency: Any = None
    cancel_latency: Any = None
    response_latency: Any = None
    queue_model: Optional[str] = None
    queue_power: Optional[float] = None
    maker_fee_bps: Optional[float] = None
    taker_fee_bps: Optional[float] = None
    post_only: Optional[bool] = None


#: A venue of a run, quoted or read-only (the same class: ``Venue(events, quoted=True)`` reads better).
Venue = SignalVenue

#: SignalVenue fields that set a quoted venue's order session (None: the run's value).
QUOTED_FIELDS = ("entry_latency", "cancel_latency", "response_latency", "queue_model", "queue_power",
                 "maker_fee_bps", "taker_fee_bps", "post_only")


def _quoted_meta(venue: SignalVenue, name: str, label: str, seed: int, run: dict) -> dict:
    """A quoted venue's engine keys (docs/venues.md): its order-session settings, each defaulting to the run's
    (``run``: the run's queue_model, queue_power, fees, post_only and latency specs), and its latency tables drawn
    from its own streams."""
    from mmsim.data import latency as L

    def pick(key: str) -> Any:
        v = getattr(venue, key)
        return run[key] if v is None else v

    model = pick("queue_model")
    if model not in R.QUEUE_MODELS:
        raise ConfigError(f"{label}: queue_model must be one of {', '.join(R.QUEUE_MODELS)}, not {model!r}")
    meta: dict = {"quoted": True, "queue_model": model}
    for key in ("queue_power", "maker_fee_bps", "taker_fee_bps"):
        v = pick(key)
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{label}: {key} must be a number, not {v!r}") from None
        if not math.isfinite(f):
            raise ConfigError(f"{label}: {key} must be finite, not {v!r}")
        meta[key] = f
    meta["post_only"] = bool(pick("post_only"))
    rngs = L.venue_order_streams(seed, name)
    tables = {}
    for leg in ("entry", "cancel", "response"):
        try:
            tables[leg] = L.latency_table(pick(f"{leg}_latency"), rngs[leg])
        except ConfigError as e:
            raise ConfigError(f"{label}: {leg}_latency: {e}") from None
    meta["latencies"] = tables
    return meta


def _prepare_signals(signals: Any, quoted_name: str, seed: int, engine: str,
                     crossed_policy: str, run: Optional[dict] = None) -> tuple[list[str], list[tuple], list[dict]]:
    """Other venues as the engines take them: names, ``(events, arrival)`` pairs and ``config["signals"]``
    (``run``: the run's order-session settings a quoted venue defaults to, see :func:`_quoted_meta`)."""
    from mmsim.data import latency as L
    from mmsim.data.store import EventStore
    from mmsim.data.validate import validate_events

    if signals is None:
        return [], [], []
    if not isinstance(signals, Mapping):
        raise ConfigError(f"signals must be a mapping name -> mmsim.SignalVenue, got {type(signals).__name__}")
    if not isinstance(quoted_name, str) or not quoted_name:
        raise ConfigError(f"instrument_name must be a non-empty string, got {quoted_name!r}")
    names: list[str] = []
    pairs: list[tuple] = []
    metas: list[dict] = []
    for name, venue in signals.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"signal venue names must be non-empty strings, got {name!r}")
        if name == quoted_name:
            raise ConfigError(f"signal {name!r}: the name is the quoted instrument's (instrument_name)")
        label = f"signal '{name}'"
        if isinstance(venue, Mapping):  # a scenario's [signals.NAME] (Scenario.signal_kwargs)
            try:
                venue = SignalVenue(**venue)
            except TypeError as e:
                raise ConfigError(f"{label}: {e}") from None
        if not isinstance(venue, SignalVenue):
            raise ConfigError(f"{label}: must be a mmsim.SignalVenue, got {type(venue).__name__}")
        if venue.quoted:
            label = f"venue '{name}'"
        else:
            given = [k for k in QUOTED_FIELDS if getattr(venue, k) is not None]
            if given:
                raise ConfigError(f"{label}: {given[0]} applies to a quoted venue only (add quoted=True)")
        events, instrument = venue.events, venue.instrument
        if isinstance(events, EventStore):
            instrument = instrument or events.instrument
            events = events.read()
        instrument = instrument or Instrument()
        policy = crossed_policy if venue.crossed_policy is None else venue.crossed_policy
        if policy not in ("error", "repair"):
            raise ConfigError(f"{label}: crossed_policy must be 'error' or 'repair', not {policy!r}")
        checked, report = validate_events(events, label, repair=bool(venue.repair))
        rng = L.signal_feed_stream(seed, name)  # batch mode (mmsim.signals.batch) draws from the same
        arrival = L.feed_arrival(venue.feed_latency, checked, rng, source=label)
        meta = {"name": name, "mode": report["mode"], "tick_size": float(instrument.tick_size),
                "lot_size": float(instrument.lot_size), "crossed_policy": policy}
        if venue.quoted:
            if instrument.inverse:
                raise ConfigError(f"{label}: an inverse contract can be quoted only as the run's first instrument "
                                  "(its coin figures are computed for that one)")
            meta.update(_quoted_meta(venue, name, label, seed, run or {}))
        if venue.features is not None:
            if engine != "cpp":
                raise ConfigError(f"{label}: features need the C++ engine (the reference simulator has no feature bank)")
            from mmsim.signals.batch import spec_matrix

            meta["features"] = spec_matrix(venue.features)
        names.append(name)
        pairs.append((checked, arrival))
        metas.append(meta)
    return names, pairs, metas


def resolve_lead(obj: Any, venues: list[str]) -> Any:
    """A built-in that names a lead venue (``lead_defence:lead=perp``) gets its index among the signal venues
    (1 = the first); one clear line when there is none or the name is unknown."""
    from mmsim.engine import loader

    if not isinstance(obj, loader.BuiltinSpec) or "lead" not in obj.params:
        return obj
    lead = str(obj.params["lead"])
    if not venues:
        raise ConfigError(f"strategy {obj.name}: needs a signal venue to lead (simulate(signals=...) or "
                          "[signals.NAME] in the scenario)")
    if lead and lead not in venues:
        raise ConfigError(f"strategy {obj.name}: lead={lead!r} is not a signal venue of this run "
                          f"(signal venues: {', '.join(venues)})")
    return loader.BuiltinSpec(obj.name, {**obj.params, "lead": lead or venues[0],
                                         "lead_index": venues.index(lead) + 1 if lead else 1})


def _engine_strategy(obj: Any, engine: str, marked: Any = None) -> Any:
    """What the chosen engine runs for a loaded strategy (``mmsim.engine.loader.load_strategy``); an oracle
    also takes its marked path (``mmsim.engine.oracle``)."""
    import sys

    from mmsim.engine import loader

    if isinstance(obj, loader.BuiltinSpec):  # native object for "cpp", its Python twin for "reference"
        from mmsim.engine.quoters import engine_strategy

        return engine_strategy(obj.name, obj.params, engine, marked)
    numba_mod = sys.modules.get("mmsim.engine.numba_strategy")  # a NumbaStrategy exists only once it was imported
    if numba_mod is not None and isinstance(obj, numba_mod.NumbaStrategy):
        return obj.native() if engine == "cpp" else obj
    return obj


def _whole_messages(chunks):
    """Store chunks cut at a row limit: the last chunk ends at its last whole message (version 2 stores flag
    every message end), so the run never sees the first rows of a message without the rest."""
    held = next(chunks, None)
    for chunk in chunks:
        yield held
        held = chunk
    if held is not None:
        ends = np.flatnonzero(held["flags"] & R.FLAG_MSG_END)
        if len(ends):
            held = held[:int(ends[-1]) + 1]
        yield held


def simulate(events: Any, instrument: Optional[Instrument] = None, strategy: Any = "symmetric", *,
             feed_latency: Any = 0, entry_latency: Any = 0, cancel_latency: Any = 0, response_latency: Any = 0,
             compute_latency: Any = 0, seed: int = 0, queue_model: str = "risk_averse", queue_power: float = 2.0,
             maker_fee_bps: float = 0.0, taker_fee_bps: float = 0.0, timer_interval_ns: int = 0,
             wake_on_feed: bool = True, wake_on_response: bool = True, post_only: bool = False,
             crossed_policy: str = "error", ewma_tau_ns: int = 1_000_000_000, repair: bool = False,
             engine: str = "cpp", progress: bool = False, source_name: str = "events",
             chunk_rows: int = 1 << 18, limit: Optional[int] = None, features: Any = None,
             model: Any = None, truth: Any = None, time_zone: Optional[str] = None, signals: Any = None,
             instrument_name: str = "quoted") -> RunResult:
    """Replay ``events`` through the exchange simulator with ``strategy`` quoting; return the results.

    ``events`` is an EVENT_DTYPE array, or an :class:`mmsim.data.store.EventStore`, which is streamed one
    row group at a time so memory does not grow with its length (C++ engine; ``limit`` takes its first
    rows). Latencies take the specs of docs/latency.md (``"2ms"``, ``"data+1ms"``,
    ``"lognormal:median=2ms,sigma=0.6"``, an array, a callable); ``compute_latency`` also takes
    ``"measured"`` or ``"measured:xF"``. Every random draw comes from ``seed``: the same inputs and seed give
    identical results, streamed or not. ``engine="reference"`` runs the pure-Python reference simulator
    (same rules, much slower). ``features`` (a spec list, ``"small"``, ``"full"``; docs/features.md) gives the
    strategy a Rust feature bank over its delayed view: ``ctx.features``. ``model`` (a model file path or a
    loaded model, docs/models.md) is called by the loop on those features at each wakeup: ``ctx.pred_move``,
    ``ctx.p_up`` …; its feature bank is the model's own (``features`` may be omitted, or must match).
    ``compute_latency="model:x3"`` charges 3 × the measured inference time; ``"profile:cheap_cloud_vcpu"``
    or ``"profile:high_clock"`` draw from the post's hardware profiles.

    The built-in oracles (``oracle``, ``oracle_regime``: the clairvoyant bound, docs/strategies.md) read the
    future through a marked path computed here from the data before the loop; ``truth`` (a
    :class:`mmsim.data.market.Market`, or a mapping with ``exch_ts`` and ``regime`` arrays) is the true regime
    ``oracle_regime`` reads, and is handed to nothing else. Their decisions are marked clairvoyant and the
    summary says ``clairvoyant: True`` with ``oracle_past_end``, the decisions whose horizon ran past the data.
    ``time_zone`` (the venue's, e.g. ``America/New_York``) is the zone of the summary's ISO times; default the
    store's, else UTC.

    ``signals`` (a mapping name -> :class:`SignalVenue`) adds read-only signal venues (docs/venues.md): their rows
    reach the strategy through their own delayed feeds (``ctx.venue(name)``; the quoted instrument is
    ``ctx.venue(instrument_name)`` or ``ctx.venue(0)``) and ``RunResult.signal_data`` records what each decision
    had seen of each. Each venue's feed clock has its own random stream (the seed and the venue's name), so the
    quoted venue's draws are the same with or without signal venues.
    """
    import time

    from mmsim.data import latency as L
    from mmsim.engine.results import inverse_figures, quote_frame, signal_frame, to_frames
    from mmsim.data.store import EventStore
    from mmsim.data.validate import validate_events

    if engine not in ("cpp", "reference"):
        raise ConfigError(f"engine must be 'cpp' or 'reference', not '{engine}'")
    if isinstance(events, EventStore):
        instrument = instrument or events.instrument
        total = events.n_rows if limit is None else min(int(limit), events.n_rows)
        chunks = _whole_messages(events.iter_chunks(total)) if total < events.n_rows else events.iter_chunks(total)
        store_mode = events.meta["mode"]
        if engine != "cpp":
            raise ConfigError("streaming an event store needs the C++ engine (the reference holds all rows)")
    else:
        if limit is not None and isinstance(events, np.ndarray) and int(limit) < len(events):
            from mmsim.data.messages import complete_prefix

            # Cut at a message boundary: a message's first rows alone are a book that never existed.
            head = events[:int(limit)]
            events = head[:complete_prefix(head, int(events["exch_ts"][int(limit)]))]
            if len(events) == 0:
                raise ConfigError(f"{source_name}: the first {int(limit)} rows hold no whole exchange message")
        total = len(events) if isinstance(events, np.ndarray) else 0
        chunks = iter([events])
        store_mode = None
    instrument = instrument or Instrument()
    rngs = L.seeded_streams(seed)
    try:
        run_session = {"queue_model": queue_model, "queue_power": queue_power, "maker_fee_bps": maker_fee_bps,
                       "taker_fee_bps": taker_fee_bps, "post_only": post_only, "entry_latency": entry_latency,
                       "cancel_latency": cancel_latency, "response_latency": response_latency}
        sig_names, sig_pairs, sig_metas = _prepare_signals(signals, instrument_name, seed, engine, crossed_policy,
                                                           run_session)
    except DataError as e:
        raise DataError(str(e)) from None
    compute_source, factor, compute = compute_spec(compute_latency)
    latencies = {
        "entry": L.latency_table(entry_latency, rngs["entry"]),
        "cancel": L.latency_table(cancel_latency, rngs["cancel"]),
        "response": L.latency_table(response_latency, rngs["response"]),
        "compute": L.latency_table(compute, rngs["compute"]),
    }
    from mmsim.engine import loader, oracle

    loaded, name = loader.load_strategy(strategy)
    clairvoyant = oracle.is_oracle(loaded)  # built once its marked path is known (below), from the checked rows
    loaded = resolve_lead(loaded, sig_names)
    if isinstance(loaded, loader.BuiltinSpec) and ":lead=," in name:  # show the venue actually led by
        name = name.replace(":lead=,", f":lead={loaded.params['lead']},", 1)
    strat = None if clairvoyant else _engine_strategy(loaded, engine)
    clock = L.FeedClock(feed_latency, rngs["feed"], total, source=source_name)
    counts = {"rows": 0, "dropped": 0}
    span: dict = {}  # first and last exch_ts of the rows replayed

    def prepared(chunk):
        """Validate a chunk (rows numbered globally) and give it its feed arrival times."""
        chunk, report = validate_events(chunk, source_name, repair=repair, row_offset=counts["rows"])
        counts["rows"] += report["n_input"]
        counts["dropped"] += report["n_dropped"]
        if len(chunk):
            span.setdefault("first_ts", int(chunk["exch_ts"][0]))
            span["last_ts"] = int(chunk["exch_ts"][-1])
        return chunk, clock.arrivals(chunk), report

    try:
        first, first_arrival, report = prepared(next(chunks))
        mode = store_mode or report["mode"]
        if clairvoyant:  # the only path from the future into a strategy: explicit, and only for an oracle
            rows = [first] if store_mode is None else _checked_chunks(events, total, source_name, repair)
            marked = oracle.marked_path(loaded, name, rows, engine=engine, mode=mode,
                                        crossed_policy=crossed_policy, truth=truth)
            strat = _engine_strategy(loaded, engine, marked)
    except DataError as e:
        msg = str(e)
        raise DataError(msg if msg.startswith(f"{source_name}: ") else f"{source_name}: {msg}") from None
    config = dict(DEFAULT_CONFIG)
    config.update(mode=mode, queue_model=queue_model, queue_power=float(queue_power),
                  maker_fee_bps=float(maker_fee_bps), taker_fee_bps=float(taker_fee_bps),
                  tick_size=float(instrument.tick_size), lot_size=float(instrument.lot_size),
                  wake_on_feed=bool(wake_on_feed), wake_on_response=bool(wake_on_response),
                  timer_interval_ns=int(timer_interval_ns), post_only=bool(post_only),
                  crossed_policy=crossed_policy, ewma_tau_ns=int(ewma_tau_ns), compute_source=compute_source,
                  compute_factor=factor, strategy_name=name, name=instrument_name)
    if sig_pairs:
        config["signals"] = sig_metas
    sig_kw = {"signals": sig_pairs} if sig_pairs else {}  # a single-venue run calls the engines as before
    if model is not None:
        from mmsim.signals.compile import native_model
        from mmsim.signals.models import load_model

        mdl = load_model(model) if isinstance(model, (str, os.PathLike)) else model
        if features is not None:
            mdl.check_specs(features)  # names both hashes and the first feature that differs
        if engine != "cpp":
            raise ConfigError("a model needs the C++ engine (inference runs in the loop)")
        venue_specs = mdl.venue_specs
        if venue_specs:  # inputs read from signal venues' banks too ("venue/spec", docs/venues.md)
            from mmsim.signals.batch import spec_matrix
            from mmsim.signals.features import column_names

            inputs = mdl.input_map(sig_names)  # one clear line for a venue the run lacks
            for venue, specs in venue_specs.items():
                meta = sig_metas[sig_names.index(venue)]
                given = (signals[venue].features if isinstance(signals[venue], SignalVenue)
                         else signals[venue].get("features"))
                if given is not None and column_names(given) != specs:
                    raise ConfigError(f"signal '{venue}': features {column_names(given)} differ from the model's "
                                      f"inputs of that venue {specs} (leave them out: the model's are used)")
                if specs:  # a venue read only through its basis needs no bank
                    meta["features"] = spec_matrix(specs)
            config["model_inputs"] = [(int(v), int(j)) for v, j in inputs]
        features = mdl.quoted_specs or None
        # the library `mmsim model compile` built for this CPU when one is cached, else the interpreted model
        config["model"] = native_model(mdl)
    if features is not None:
        if engine != "cpp":
            raise ConfigError("features need the C++ engine (the reference simulator checks the engine rules; "
                              "the feature bank is checked against its own numpy reference)")
        from mmsim.signals.batch import spec_matrix

        config["features"] = spec_matrix(features)

    t0 = time.perf_counter()
    bar = None
    try:
        pending = next(chunks, None)
        if engine == "cpp":
            from mmsim._core import Engine
            eng = Engine(first, first_arrival, latencies, config, strat, final=pending is None, **sig_kw)
        else:
            from mmsim.reference import ReferenceEngine
            eng = ReferenceEngine(first, first_arrival, latencies, config, strat, **sig_kw)
        if progress and total > chunk_rows:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="row", unit_scale=True, desc=source_name, leave=False)
        done, seen = False, 0
        max_held = len(first)
        while not done:
            done = eng.step(chunk_rows)
            if not done and pending is not None and eng.needs_data():
                chunk, arrival, rep = prepared(pending)
                if rep["mode"] != mode and rep["counts"].keys() - {"trade"}:
                    raise DataError(f"{source_name}: row {counts['rows'] - rep['n_input']}: "
                                    f"{rep['mode'].upper()} events in a {mode.upper()} stream")
                pending = next(chunks, None)
                eng.append(chunk, arrival, pending is None)
                max_held = max(max_held, int(eng.rows_held()))
            if bar is not None:
                now = int(eng.rows_delivered()) if hasattr(eng, "rows_delivered") else total
                bar.update(now - seen)
                seen = now
    except DataError as e:
        msg = str(e)  # a signal venue's errors name it ("signal 'perp': row 3: ..."), the quoted rows the source
        named = msg.startswith(f"{source_name}: ") or any(msg.startswith((f"signal '{n}': ", f"venue '{n}': "))
                                                          for n in sig_names)
        raise DataError(msg if named else f"{source_name}: {msg}") from None
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    n_rows = counts["rows"] - counts["dropped"]
    fills, orders, decisions = eng.fills(), eng.orders(), eng.decisions()
    signal_data = eng.signal_data() if sig_pairs else None
    quoted = [0] + [k + 1 for k, m in enumerate(sig_metas) if m.get("quoted")]  # venue numbers quoted
    quotes = eng.quotes() if len(quoted) > 1 else None
    summary = dict(eng.summary())
    del eng  # free the engine's own logs and books before the DataFrames are built: lower peak memory
    summary.update(wall_s=wall, events_per_s=(n_rows / wall if wall > 0 else float("inf")),
                   engine=engine, strategy=name, seed=int(seed), mode=mode, source=source_name,
                   repaired_rows=int(counts["dropped"]), max_rows_held=max_held)
    if span:  # the data's span in ns, and as ISO times of the venue's zone beside them (mmsim.data.times)
        from mmsim.data.times import time_fields

        zone = time_zone or (events.meta.get("time_zone") if isinstance(events, EventStore) else None) or "UTC"
        summary.update(first_ts=span["first_ts"], last_ts=span["last_ts"],
                       **time_fields(span["first_ts"], span["last_ts"], zone))
    if getattr(strat, "clairvoyant", False):  # read the future: say so where every reader looks
        summary["clairvoyant"] = True
        past_end = oracle.past_end(strat)
        if past_end is not None:
            summary["oracle_past_end"] = past_end
    if instrument.inverse:  # an inverse contract's money is coin: docs/data.md, "Inverse contracts"
        summary.update(inverse_figures(fills, summary, instrument, maker_fee_bps, taker_fee_bps))
    if sig_pairs:  # only with signal venues: a single-venue summary stays as it was
        summary["signal_venues"] = list(sig_names)
    venue_names = [instrument_name] + list(sig_names)
    if len(quoted) > 1:  # several quoted venues: every venue's figures, by name (docs/venues.md)
        summary["quoted_venues"] = [venue_names[v] for v in quoted]
        summary["quoted"] = [{**q, "name": venue_names[int(q["venue"])]} for q in summary.get("quoted", [])]
    f, o, d = to_frames(fills, orders, decisions, venue_names=venue_names if len(quoted) > 1 else None)
    return RunResult(fills=f, orders=o, decisions=d, summary=summary,
                     signal_data=signal_frame(signal_data, sig_names),
                     quotes=quote_frame(quotes, venue_names) if len(quoted) > 1 else _no_quotes())


def _checked_chunks(store: Any, total: int, source_name: str, repair: bool):
    """A streamed run's rows, validated chunk by chunk as the run will see them (the oracle's pre-pass)."""
    from mmsim.data.validate import validate_events

    offset = 0
    chunks = store.iter_chunks(total)
    for chunk in (_whole_messages(chunks) if total < store.n_rows else chunks):
        checked, report = validate_events(chunk, source_name, repair=repair, row_offset=offset)
        offset += report["n_input"]
        yield checked
