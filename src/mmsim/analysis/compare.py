"""Savings of a treated strategy over a baseline on the same market path, with paired block-bootstrap CIs.

(design.md section 4, docs/analytics.md.) Both runs are decomposed per fill (``mmsim.analysis.markouts``); exchange
time is cut into blocks of ``block`` (default 60 s) from the first event, and in every block each run gets

- spread capture and adverse selection of the fills inside it (at horizon H),
- fees of those fills,
- net PnL: the block's cash flow plus the change of the position's mark-to-market value, marked at the mid
  at the block's end (the last block at the run's final mid). The blocks' net PnL adds up to the run's pnl
  exactly (integer half ticks), and ``inventory`` = net − spread capture − adverse selection + fees per block
  adds up to the run's inventory term.

Per block the paired differences are: AS-cost saving = baseline AS cost − treated AS cost; spread capture
given up = baseline spread capture − treated; net PnL difference = treated − baseline. The estimates are
their sums over the blocks (= the run totals); the confidence intervals come from resampling the blocks
with replacement (the same resampled blocks for both runs and all three figures: paired), percentile
intervals, seeded and deterministic.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from mmsim import records as R
from mmsim.analysis.bootstrap import CONFIDENCE
from mmsim.analysis.paths import FIGURES
from mmsim.analysis.markouts import (DEFAULT_DECOMP_HORIZON, Analysis, MidSeries, analyze, horizon_label, mid_series,
                        parse_horizon, write_fill_log)
from mmsim.errors import ConfigError, DataError

__all__ = ["events_hash", "block_table", "paired_block_bootstrap", "compare_runs", "CompareResult",
           "run_compare", "format_compare", "ESTIMATES"]

DEFAULT_BLOCK = "60s"
DEFAULT_N_BOOT = 2000
#: The three savings figures of one path's comparison, key -> (label, what a positive value means): the
#: pooled figures' entries (mmsim.analysis.paths.FIGURES).
ESTIMATES = {k: FIGURES[k] for k in ("as_cost_saving", "spread_capture_given_up", "net_pnl_difference")}


def events_hash(events: np.ndarray) -> str:
    """SHA-256 over the named fields of EVENT_DTYPE rows (padding ignored): the market path's identity."""
    ev = np.asarray(events)
    if ev.dtype != R.EVENT_DTYPE:
        raise ConfigError("events_hash: events must be an EVENT_DTYPE array")
    h = hashlib.sha256()
    h.update(str(len(ev)).encode())
    for name in ev.dtype.names:
        if name != "_pad":
            h.update(np.ascontiguousarray(ev[name]).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- blocks
def block_table(an: Analysis, mids: MidSeries, *, block_ns: int, value: float, m_end2: int):
    """Per time block of one run: fills, lots, spread capture, adverse selection, inventory, fees, net PnL
    (currency), and the exact integer half-tick·lot columns ``*_2``. Blocks start at the first event."""
    import pandas as pd

    t0 = mids.start_ts
    n_blocks = (mids.end_ts - t0) // block_ns + 1
    log = an.fills
    t = log["exch_ts"].to_numpy(np.int64)
    b = (t - t0) // block_ns
    s, p, q = (log[c].to_numpy(np.int64) for c in ("side", "price", "qty"))
    fee = log["fee"].to_numpy(np.float64)

    def per_block(x, dtype=np.int64):
        return np.bincount(b, weights=None if x is None else x, minlength=n_blocks).astype(dtype) \
            if len(b) else np.zeros(n_blocks, dtype)

    # int64 sums: np.bincount works in float64, exact only below 2**53; sum integers with np.add.at instead
    def isum(x):
        out = np.zeros(n_blocks, np.int64)
        np.add.at(out, b, x)
        return out

    cash2 = isum(-2 * s * p * q)
    dpos = isum(s * q)
    pos = np.cumsum(dpos)
    ends = t0 + (np.arange(n_blocks, dtype=np.int64) + 1) * block_ns
    mark2 = mids.at_time(ends - 1)
    mark2[-1] = m_end2
    value2 = np.where(pos == 0, 0, pos * mark2)
    prev = np.concatenate([[0], value2[:-1]])
    net2 = cash2 + value2 - prev
    sc2, as2 = isum(an.parts2["sc2"]), isum(an.parts2["as2"])
    inv2 = net2 - sc2 - as2
    fees = np.zeros(n_blocks)
    np.add.at(fees, b, fee)
    df = pd.DataFrame({
        "block": np.arange(n_blocks), "start_ts": t0 + np.arange(n_blocks, dtype=np.int64) * block_ns,
        "n_fills": per_block(None), "lots": isum(q), "position_end": pos,
        "spread_capture": sc2 / 2 * value, "adverse_selection": as2 / 2 * value,
        "as_cost": 0.0 - as2 / 2 * value, "inventory": inv2 / 2 * value, "fees": fees,
        "net_pnl": net2 / 2 * value - fees,
        "spread_capture_2": sc2, "adverse_selection_2": as2, "inventory_2": inv2, "net_2": net2,
    })
    return df


def paired_block_bootstrap(diffs: np.ndarray, n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
                           confidence: float = CONFIDENCE, chunk: int = 256) -> dict[str, np.ndarray]:
    """Percentile CIs of the column sums of ``diffs`` (n_blocks x k paired per-block differences).

    Each replicate draws n_blocks block indices with replacement (one draw shared by all k columns: the
    figures stay paired with each other as the runs are paired within a block) and sums the drawn rows.
    Deterministic for ``seed`` (numpy PCG64). Returns ``estimate`` (the plain sums), ``low``, ``high``, ``se``
    (bootstrap standard error); NaN when there are fewer than 2 blocks.
    """
    d = np.asarray(diffs, np.float64)
    if d.ndim == 1:
        d = d[:, None]
    n, k = d.shape
    est = d.sum(axis=0)
    nan = np.full(k, np.nan)
    if n < 2 or n_boot < 1:
        return {"estimate": est, "low": nan, "high": nan.copy(), "se": nan.copy(), "replicates": np.zeros((0, k))}
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB00757]))
    reps = np.empty((int(n_boot), k))
    for i in range(0, int(n_boot), chunk):
        m = min(chunk, int(n_boot) - i)
        idx = rng.integers(0, n, size=(m, n))
        reps[i:i + m] = d[idx].sum(axis=1)
    a = (1.0 - confidence) / 2
    lo, hi = np.quantile(reps, [a, 1.0 - a], axis=0)
    se = reps.std(axis=0, ddof=1) if n_boot > 1 else nan.copy()
    return {"estimate": est, "low": lo, "high": hi, "se": se, "replicates": reps}


# --------------------------------------------------------------------------------------------- compare
@dataclass
class CompareResult:
    report: dict                 #: what compare.json holds
    blocks: Any                  #: DataFrame: per block, both runs' figures and the paired differences
    baseline: Analysis
    treated: Analysis
    replicates: Any = field(default=None, repr=False)


def _check_same_path(base: Any, treat: Any, events: np.ndarray, digest: str) -> None:
    """Different market paths are an error: source, n_events, events hash, and the fills' own data rows."""
    sb, st = dict(base.summary or {}), dict(treat.summary or {})
    for key in ("source", "n_events", "events_hash"):
        if key in sb and key in st and sb[key] != st[key]:
            raise DataError(f"compare: baseline and treated ran on different market paths "
                            f"({key} {sb[key]!r} vs {st[key]!r})")
    for name, s in (("baseline", sb), ("treated", st)):
        if s.get("n_events") is not None and int(s["n_events"]) != len(events):
            raise DataError(f"compare: the {name} run applied {s['n_events']} events, the market path given has "
                            f"{len(events)}: different market paths")
        if s.get("events_hash") is not None and s["events_hash"] != digest:
            raise DataError(f"compare: the {name} run's events hash {str(s['events_hash'])[:12]}… differs from the "
                            f"market path given ({digest[:12]}…): different market paths")
    ts = events["exch_ts"]
    for name, r in (("baseline", base), ("treated", treat)):
        f = r.fills
        if len(f) == 0:
            continue
        rows = f["data_row"].to_numpy(np.int64)
        passive = f["cause"].to_numpy() != R.CAUSE_TAKER
        bad = (rows < 0) | (rows >= len(events))
        if bad.any():
            raise DataError(f"compare: the {name} run has fills at data rows outside the {len(events)} events: "
                            "different market paths")
        mism = passive & (ts[rows] != f["exch_ts"].to_numpy(np.int64))
        if mism.any():
            i = int(np.argmax(mism))
            raise DataError(f"compare: fill {int(f['fill_id'].iloc[i])} of the {name} run is at exch_ts "
                            f"{int(f['exch_ts'].iloc[i])} but its data row {int(rows[i])} is at {int(ts[rows[i]])}: "
                            "the runs are not on this market path")


def _est(x: dict, i: int) -> dict:
    f = lambda v: float(v) if math.isfinite(float(v)) else None  # noqa: E731
    return {"estimate": f(x["estimate"][i]), "ci_low": f(x["low"][i]), "ci_high": f(x["high"][i]),
            "se": f(x["se"][i])}


def compare_runs(baseline: Any, treated: Any, events: np.ndarray, *, tick_size: float = 1.0,
                 lot_size: float = 1.0, horizon: Any = DEFAULT_DECOMP_HORIZON, block: Any = DEFAULT_BLOCK,
                 n_boot: int = DEFAULT_N_BOOT, seed: int = 0, horizons: Optional[Sequence[Any]] = None,
                 fill_mid: str = "pre", confidence: float = CONFIDENCE) -> CompareResult:
    """Compare two RunResults on the market path ``events``: point estimates and paired block-bootstrap CIs
    of the adverse-selection cost saving, the spread capture given up and the net PnL difference (currency).

    Raises DataError when the runs are not on ``events`` (source, event count, events hash, fill rows).
    A run without fills still compares (its figures are 0; ``status`` is ``partial`` with a warning);
    neither run with fills gives NaN (null) estimates.
    """
    from mmsim.data.store import EventStore

    if isinstance(events, EventStore):
        events = events.read()
    events = np.asarray(events)
    H = parse_horizon(horizon, "--horizon")
    B = parse_horizon(block, "--block")
    if not (0 < confidence < 1):
        raise ConfigError(f"confidence {confidence}: must be in (0, 1)")
    if int(n_boot) < 1:
        raise ConfigError(f"--n-boot {n_boot}: must be >= 1")
    digest = events_hash(events)
    _check_same_path(baseline, treated, events, digest)
    mids = mid_series(events)
    span = mids.end_ts - mids.start_ts
    if H > span:
        raise ConfigError(f"--horizon {horizon_label(H)}: beyond the data's end (the data span {span / 1e9:g} s)")
    value = float(tick_size) * float(lot_size)
    kw = dict(tick_size=tick_size, lot_size=lot_size, horizons=horizons, horizon=H, fill_mid=fill_mid, mids=mids)
    ab, at = analyze(baseline, events, **kw), analyze(treated, events, **kw)
    tb = block_table(ab, mids, block_ns=B, value=value, m_end2=_end2(ab))
    tt = block_table(at, mids, block_ns=B, value=value, m_end2=_end2(at))
    for name, an, tab in (("baseline", ab, tb), ("treated", at, tt)):  # the identity, block by block
        if int(tab["net_2"].sum()) != an.totals["decomposition"]["half_ticklots"]["gross"]:
            raise AssertionError(f"compare: {name} block PnL does not add up to the run's")  # pragma: no cover
    diffs = np.column_stack([
        tb["as_cost"].to_numpy() - tt["as_cost"].to_numpy(),
        tb["spread_capture"].to_numpy() - tt["spread_capture"].to_numpy(),
        tt["net_pnl"].to_numpy() - tb["net_pnl"].to_numpy(),
    ])
    boot = paired_block_bootstrap(diffs, n_boot, seed, confidence)
    warnings: list[str] = []
    status = "ok"
    nb, nt = ab.totals["n_fills"], at.totals["n_fills"]
    if nb == 0 and nt == 0:
        status = "partial"
        warnings.append("neither run has fills: nothing to compare (estimates are NaN)")
        for key in ("estimate", "low", "high", "se"):
            boot[key] = np.full(3, np.nan)
    elif nb == 0 or nt == 0:
        status = "partial"
        empty = "baseline" if nb == 0 else "treated"
        warnings.append(f"the {empty} run has no fills: its spread capture, adverse selection and PnL are 0, "
                        "so the estimates are the other run's figures")
    n_blocks = len(tb)
    if n_blocks < 2:
        status = "partial"
        warnings.append(f"only {n_blocks} block of {horizon_label(B)}: no confidence intervals (use a smaller "
                        "--block or more data)")
    elif n_blocks < 20:
        warnings.append(f"only {n_blocks} blocks: the bootstrap intervals are rough (use a smaller --block or "
                        "more data)")
    for name, an in (("baseline", ab), ("treated", at)):
        if an.totals["n_past_end_decomp"]:
            warnings.append(f"{name}: {an.totals['n_past_end_decomp']} fills within {horizon_label(H)} of the "
                            "data's end: their adverse selection is measured to the end")
        warnings += [f"{name}: {w}" for w in an.totals["warnings"] if w.startswith("the run's final mid")]
    blocks = tb.drop(columns=["block", "start_ts"]).add_prefix("baseline_")
    blocks = tt.drop(columns=["block", "start_ts"]).add_prefix("treated_").join(blocks)
    blocks.insert(0, "start_ts", tb["start_ts"])
    blocks.insert(0, "block", tb["block"])
    for j, key in enumerate(ESTIMATES):
        blocks[key] = diffs[:, j]

    def run_part(r: Any, an: Analysis) -> dict:
        t = an.totals
        d = t["decomposition"]
        return {
            "strategy": (r.summary or {}).get("strategy"),
            "summary": dict(r.summary or {}),
            "n_fills": t["n_fills"], "volume": t["volume"],
            "spread_capture": d["spread_capture"], "adverse_selection": d["adverse_selection"],
            "adverse_selection_cost": t["adverse_selection_cost"], "inventory": d["inventory"],
            "fees": d["fees"], "pnl": d["pnl"], "decomposition_exact": d.get("exact"),
            "markouts": t["markouts"], "toxicity": t["toxicity"], "fill_rate": t["fill_rate"],
        }

    ident = {
        "as_cost_saving": float(diffs[:, 0].sum()),
        "spread_capture_given_up": float(diffs[:, 1].sum()),
        "inventory_difference": at.totals["decomposition"]["inventory"] - ab.totals["decomposition"]["inventory"],
        "fees_difference": at.totals["decomposition"]["fees"] - ab.totals["decomposition"]["fees"],
        "net_pnl_difference": float(diffs[:, 2].sum()),
        "formula": "net_pnl_difference = as_cost_saving - spread_capture_given_up + inventory_difference "
                   "- fees_difference",
    }
    report = {
        "status": status,
        "warnings": warnings,
        "units": f"quote currency (tick_size {tick_size} x lot_size {lot_size} per tick·lot)",
        "horizon": horizon_label(H), "horizon_ns": H,
        "block": horizon_label(B), "block_ns": B,
        "n_blocks": n_blocks, "n_boot": int(n_boot), "seed": int(seed), "confidence": confidence,
        "fill_mid": fill_mid,
        "n_events": len(events), "events_hash": digest,
        "estimates": {key: _est(boot, j) for j, key in enumerate(ESTIMATES)},
        "identity": ident,
        "baseline": run_part(baseline, ab),
        "treated": run_part(treated, at),
    }
    return CompareResult(report=report, blocks=blocks, baseline=ab, treated=at, replicates=boot["replicates"])


def _end2(an: Analysis) -> int:
    return int(round(2 * an.totals["decomposition"]["final_mid"]))


# --------------------------------------------------------------------------------------------- command
#: Paths of a synthetic scenario when --seeds is not given: its own seed and the next ones.
DEFAULT_SYNTHETIC_PATHS = 20
SYNTHETIC_SOURCES = ("synthetic_market", "synthetic_l2", "two_venue")


def _signal_settings(v: Any) -> dict:
    """What compare.json records of a signal venue: its feed latency, features, instrument and row count."""
    d = v if isinstance(v, dict) else {k: getattr(v, k) for k in ("events", "instrument", "feed_latency", "features")}
    inst = d.get("instrument")
    ev = d.get("events")
    return {"feed_latency": str(d.get("feed_latency", 0)), "features": d.get("features"),
            "tick_size": getattr(inst, "tick_size", None), "lot_size": getattr(inst, "lot_size", None),
            "n_rows": int(len(ev)) if hasattr(ev, "__len__") else None}


def scenario_paths(sc: Any, seeds: Optional[Sequence[int]]) -> list[tuple[str, Any, dict]]:
    """The paths a compare runs on: (label, scenario of that path, info). Synthetic scenarios: one per seed
    (default: the scenario's seed and the next ``DEFAULT_SYNTHETIC_PATHS - 1``); other sources: the data."""
    import dataclasses

    kind = sc.source["kind"]
    if kind not in SYNTHETIC_SOURCES:
        if seeds is not None:
            raise ConfigError(f"--seeds: scenario {sc.name} reads data ({kind}); market seeds apply to synthetic "
                              "scenarios only (for real data give several stores or --windows N)")
        return [(sc.name, sc, {"source": sc.source_name})]
    if seeds is None:
        s0 = int(sc.source.get("seed", 0))
        seeds = list(range(s0, s0 + DEFAULT_SYNTHETIC_PATHS))
    return [(f"seed {s}", dataclasses.replace(sc, source={**sc.source, "seed": int(s)}), {"seed": int(s)})
            for s in seeds]


def run_compare(scenario: Any, baseline: str, treated: str, out: Any, *, sim_kwargs: Optional[dict] = None,
                model: Any = None, rows: Optional[int] = None, horizon: Any = None, block: Any = None,
                n_boot: int = DEFAULT_N_BOOT, seed: int = 0, seeds: Optional[Sequence[int]] = None,
                windows: Optional[int] = None, unmatched: bool = False, bound: Optional[str] = None,
                horizons: Optional[Sequence[Any]] = None, fill_mid: str = "pre", progress: bool = False) -> dict:
    """``mmsim compare``: both strategies on every path (same events, same latency draws), reduced to per-bin
    figures, then the pooled answer (``mmsim.analysis.paths.pooled_report``). Writes ``out/compare.json``
    (last), ``out/paths.parquet`` (the per-path table), ``out/bins.parquet`` (every path's bins, both arms),
    and, for the first path, ``out/baseline/``, ``out/treated/`` (run results plus ``markouts.parquet``) and
    ``out/blocks.parquet``. ``bound``: a clairvoyant strategy (``oracle:...``) run as a third arm on every path;
    its saving over the baseline bounds what any model can achieve, and the treated saving is reported as a
    share of it (the same resample). Returns the report."""
    import os

    import pandas as pd

    from mmsim.analysis.paths import PathPair, arm_bins, check_matched, check_one_quoted, pooled_report, split_windows
    from mmsim.data.scenario import load_scenario
    from mmsim.data.store import EventStore
    from mmsim.engine.results import _atomic_write, _jsonable, write_results
    from mmsim.engine.sim import simulate

    sc = load_scenario(scenario) if isinstance(scenario, (str, os.PathLike)) else scenario
    check_one_quoted(sc, "compare")
    outp = Path(out)
    if outp.exists() and not outp.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    if horizon is not None:
        parse_horizon(horizon, "--horizon")
    if block is not None:
        parse_horizon(block, "--block")
    notes = check_matched(baseline, treated, unmatched=unmatched)
    if bound is not None:
        notes += [n.replace("treated", "bound") for n in check_matched(baseline, bound, unmatched=unmatched)
                  if n.startswith("UNMATCHED")]
    if model is not None and not Path(model).is_file():
        raise ConfigError(f"--model {model}: file not found")
    notes += prediction_notes(treated, model)
    quality = model_quality(model)
    if quality and quality["verdict"] in ("no better than chance", "weak"):
        notes.append(f"the model is {quality['verdict']} out of sample ({quality['reason']}): a saving here may come "
                     "from something other than prediction (fewer fills: see the split of the AS saving)")
    paths = scenario_paths(sc, seeds)
    if windows is not None and len(paths) > 1:
        raise ConfigError("--windows cuts one history (real data) into paths; a synthetic scenario has a path per "
                          "market seed: give --seeds with one seed to cut it into windows")
    kw = dict(sc.sim_kwargs() if sim_kwargs is None else sim_kwargs)
    kw["seed"] = int(seed)
    kw.pop("progress", None)
    kw.pop("source_name", None)
    if model is not None:
        kw["model"] = str(model)
    bar = None
    if progress and len(paths) > 1:
        from tqdm import tqdm
        bar = tqdm(total=len(paths), unit="path", desc="compare", leave=False)
    pairs: list[PathPair] = []
    bound_pairs: list[PathPair] = []
    first: dict = {}
    for k, (label, psc, info) in enumerate(paths):
        events, instrument = psc.load_events(limit=rows)
        if isinstance(events, EventStore):
            events = events.read()
        digest = events_hash(events)
        mids = mid_series(events)
        runs = {}
        arms_spec = [("baseline", baseline), ("treated", treated)] + ([("bound", bound)] if bound else [])
        if psc.session is not None:  # the venue's zone, known once the data is loaded: clock times in the summaries
            kw["time_zone"] = psc.session.zone
        kw.update(psc.signal_kwargs())  # this path's signal venues (docs/venues.md)
        for role, spec in arms_spec:
            r = simulate(events, instrument, spec, source_name=psc.source_name, progress=False, truth=psc.truth, **kw)
            r.summary.update(events_hash=digest, scenario=sc.name, role=role, strategy_spec=spec, path=label)
            runs[role] = r
        arms = {role: arm_bins(runs[role], events, mids, tick_size=instrument.tick_size,
                               lot_size=instrument.lot_size) for role in runs}
        info = {**info, "n_events": len(events), "events_hash": digest}
        same = [pp.label for pp in pairs if pp.info.get("events_hash") == digest]
        if same:
            raise ConfigError(f"compare: paths '{same[0]}' and '{label}' have identical events: overlapping paths "
                              "would count one market history twice")
        if windows is not None:
            wb, wt = split_windows(arms["baseline"], windows), split_windows(arms["treated"], windows)
            wo = split_windows(arms["bound"], windows) if bound else [None] * windows
            for w, (b_, t_, o_) in enumerate(zip(wb, wt, wo)):
                winfo = {**info, "window": w + 1, "start_ts": int(b_.frame["start_ts"].iloc[0])}
                pairs.append(PathPair(f"window {w + 1}/{windows}", b_, t_, winfo))
                if bound:
                    bound_pairs.append(PathPair(f"window {w + 1}/{windows}", b_, o_, winfo))
        else:
            pairs.append(PathPair(label, arms["baseline"], arms["treated"], info))
            if bound:
                bound_pairs.append(PathPair(label, arms["baseline"], arms["bound"], info))
        if k == 0:
            first = dict(events=events, instrument=instrument, runs=runs, label=label)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    rep = pooled_report(pairs, horizon=horizon, block=block, n_boot=n_boot, seed=seed)
    if bound:
        rep["bound"] = bound_section(rep, pooled_report(bound_pairs, horizon=rep["horizon"], block=rep["block"],
                                                        n_boot=n_boot, seed=seed), bound)
    for key in [k for k in rep if k.startswith("_")]:
        rep.pop(key)
    # the first path's runs, for the report's time panels and for mmsim audit
    H = rep["horizon_ns"]
    one = compare_runs(first["runs"]["baseline"], first["runs"]["treated"], first["events"],
                       tick_size=first["instrument"].tick_size, lot_size=first["instrument"].lot_size, horizon=H,
                       block=DEFAULT_BLOCK, n_boot=1, seed=seed, horizons=horizons, fill_mid=fill_mid)
    status = "partial" if rep["partial"] else "ok"   # partial: an arm without fills (the warnings say which)
    settings = {k: v for k, v in kw.items() if k != "signals"}
    if kw.get("signals"):  # a signal venue's settings, not its rows (those are its store or generator's)
        settings["signals"] = {n: _signal_settings(v) for n, v in kw["signals"].items()}
    report = {
        "status": status,
        "verdict": ("UNMATCHED ARMS: " if unmatched else "") + verdict_line(rep)
                   + f" [feed latency {kw.get('feed_latency', 0)}"
                   + "".join(f", {n} feed latency {v.get('feed_latency', 0) if isinstance(v, dict) else v.feed_latency}"
                             for n, v in (kw.get("signals") or {}).items())
                   + f", compute latency {kw.get('compute_latency', 0)}]",
        **rep,
        "warnings": notes + rep["warnings"],
        "unmatched": bool(unmatched),
        "scenario": sc.name, "source": sc.source_name, "settings": settings,
        "strategies": {"baseline": baseline, "treated": treated},
        "model": None if model is None else str(model),
        "model_quality": quality,
        "fill_mid": fill_mid,
        # the first path's own figures, point estimates only: its runs are computed without a bootstrap here
        # (the intervals are the pooled ones above); with --windows it is the whole history, all windows
        "first_path": {"label": first["label"] + (f" (the whole history: all {windows} windows)" if windows else ""),
                       "estimates": {k: ({"estimate": v.get("estimate")} if isinstance(v, dict) else v)
                                     for k, v in one.report["estimates"].items()},
                       "block": one.report["block"]},
        "baseline": one.report["baseline"], "treated": one.report["treated"],
        "block_ns": one.report["block_ns"],
    }
    for name, an in (("baseline", one.baseline), ("treated", one.treated)):
        write_results(outp / name, first["runs"][name])
        write_fill_log(outp / name / "markouts.parquet", an.fills)
    _atomic_write(outp / "blocks.parquet", lambda tmp: one.blocks.to_parquet(tmp, index=False))
    table = pd.DataFrame(report["paths"])
    _atomic_write(outp / "paths.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    frames = []
    for k, pp in enumerate(pairs):
        f = pp.baseline.frame.drop(columns=["start_ts"]).add_prefix("baseline_")
        f = f.join(pp.treated.frame.drop(columns=["start_ts"]).add_prefix("treated_"))
        f.insert(0, "start_ts", pp.baseline.frame["start_ts"].to_numpy())
        f.insert(0, "bin", np.arange(len(f)))
        f.insert(0, "path", k)
        frames.append(f)
    bins = pd.concat(frames, ignore_index=True)
    _atomic_write(outp / "bins.parquet", lambda tmp: bins.to_parquet(tmp, index=False))
    text = json.dumps(_jsonable(report), indent=2) + "\n"

    def write_json(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    _atomic_write(outp / "compare.json", write_json)
    return report


#: Built-ins whose quotes depend on a model's prediction (ctx.pred_move); without --model they quote like symmetric.
PREDICTION_BUILTINS = ("skew", "pull", "skew_pull")


def prediction_notes(treated: str, model: Any) -> list[str]:
    name = str(treated).partition(":")[0]
    if model is None and name in PREDICTION_BUILTINS:
        return [f"the treated {name} reads a model's prediction but no --model was given: it quotes exactly like "
                "symmetric, so the difference is zero by construction"]
    return []


def bound_section(rep: dict, brep: dict, spec: str) -> dict:
    """The clairvoyant bound beside the answer: the bound's own savings over the baseline and the treated
    savings as a share of them, per replicate of the one shared resample (so the share has an interval)."""
    from mmsim.analysis.paths import _est

    assert brep["_hi"] == rep["_hi"] and brep["_resample"] == rep["_resample"]  # one resample, one horizon
    shares = {}
    for j, key in ((0, "as_cost_saving"), (4, "net_pnl_difference")):
        t_est, b_est = rep["estimates"][key]["estimate"], brep["estimates"][key]["estimate"]
        rt, rb = rep["_reps_h"][:, j], brep["_reps_h"][:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(rb > 0, rt / rb, np.nan)
        est = t_est / b_est if (t_est is not None and b_est and b_est > 0) else None
        shares[key] = _est(ratio[np.isfinite(ratio)], est, rep["confidence"])
        shares[key]["defined"] = bool(b_est is not None and b_est > 0)
    return {"strategy": spec, "estimates": brep["estimates"], "share_of_bound": shares,
            "note": "the bound: a clairvoyant quoter acting through the same feed, compute and order latency "
                    "(its decisions read the future through a marked path; mmsim audit labels such runs)"}


def model_quality(model: Any) -> Optional[dict]:
    """The model file's out-of-sample metrics and verdict (``mmsim train``), for the answer's side."""
    if model is None:
        return None
    from mmsim.signals.train import model_verdict

    doc = json.loads(Path(model).read_text())
    m = (doc.get("training") or {}).get("metrics") or {}
    if not m:
        return {"verdict": "unknown", "reason": "the model file carries no out-of-sample metrics"}
    v = model_verdict(m)  # from the stored metrics: the current rule, also for older files
    o = m.get("out_of_sample") or {}
    return {**v, "horizon_ns": doc.get("horizon_ns"), "out_of_sample": {k: o.get(k) for k in ("n", "hit_rate", "auc", "r2")},
            "trained_on": (doc.get("training") or {}).get("scenario")}


def _ci(x: dict, fmt: str = "+,.4f") -> str:
    if x.get("ci_low") is None:
        return "n/a"
    return f"[{x['ci_low']:{fmt}}, {x['ci_high']:{fmt}}]"


def verdict_line(rep: dict) -> str:
    """One sentence: the net saving with its interval over the paths, and what it is made of."""
    e = rep["estimates"]
    net, asv, sc = e["net_pnl_difference"], e["as_cost_saving"], e["spread_capture_given_up"]
    if net["estimate"] is None:
        return "no answer: no fills"
    sig = "no interval"
    if net["ci_low"] is not None:
        if net["ci_low"] > 0:
            sig = "the treated quoter earns more, significantly"
        elif net["ci_high"] < 0:
            sig = "the treated quoter earns less, significantly"
        else:
            sig = "not significantly different from zero"
    line = (f"net saving {net['estimate']:+,.4g} per path {_ci(net, '+,.4g')} ({sig}; {rep['n_paths']} paths): "
            f"adverse selection saved {asv['estimate']:+,.4g} {_ci(asv, '+,.4g')} at {rep['horizon']}, spread "
            f"capture given up {sc['estimate']:+,.4g} {_ci(sc, '+,.4g')}")
    b = rep.get("bound")
    if b:
        s = b["share_of_bound"]["as_cost_saving"]
        if s["estimate"] is not None:
            line += (f"; it captures {s['estimate']:.0%} {_ci(s, '.0%')} of the adverse-selection saving a "
                     f"clairvoyant quoter achieves")
    return line


def _num(v: Any, width: int = 12, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return f"{'n/a':>{width}}"
    return f"{v:>+{width},.4f}" if signed else f"{v:>{width},.4f}"


def format_compare(report: dict) -> str:
    """The readable answer ``mmsim compare`` prints: the verdict, the pooled table with intervals, the
    horizon and block rules, the per-path spread, and every note."""
    e = report["estimates"]
    pct = int(round(report["confidence"] * 100))
    strat = report.get("strategies", {})
    lines = [
        f"baseline  {strat.get('baseline')}",
        f"treated   {strat.get('treated')}",
        f"paths {report['n_paths']} ({report.get('per', 'mean per path')})   horizon {report['horizon']} "
        f"({report['horizon_rule']})",
        f"blocks of {report['block']} ({report['block_rule']}), {report['n_blocks']} in all   bootstrap "
        f"{report['n_boot']} (seed {report['seed']}, paths then blocks)   {report['units']}",
        "",
        f"{'':<34}{'estimate':>12}   {pct}% CI",
    ]
    for key, (label, meaning) in FIGURES.items():
        x = e[key]
        lines.append(f"{label:<34}{_num(x['estimate'], signed=True)}   {_ci(x)}   (positive: {meaning})")
    sp = report.get("as_saving_split") or {}
    if sp:
        lines.append(f"{'  of the AS saving: fewer fills':<34}{_num(sp['fewer_fills']['estimate'], signed=True)}   "
                     f"{_ci(sp['fewer_fills'])}")
        lines.append(f"{'  of the AS saving: better fills':<34}{_num(sp['better_fills']['estimate'], signed=True)}   "
                     f"{_ci(sp['better_fills'])}")
        lots = sp["lots_per_path"]
        lines.append(f"{'lots filled per path':<34}{lots['baseline']:>12,.1f} baseline {lots['treated']:>10,.1f} treated")
    tb = report["markout_curves"]["baseline"]
    if tb.get("labelled"):
        i = tb["horizons"].index(report["horizon"]) if report["horizon"] in tb["horizons"] else None
        if i is not None:
            ti = report["markout_curves"]["treated"]
            lines.append(f"{'AS per lot at H, informed fills':<34}{_num(tb['informed_per_lot_ticks'][i])} baseline "
                         f"{_num(ti['informed_per_lot_ticks'][i])} treated (ticks per lot; negative = a cost; informed fills only)")
    nets = [p["net_pnl_difference"] for p in report["paths"]]
    if len(nets) > 1:
        het = report.get("heterogeneity") or {}
        lines.append(f"per path net difference: min {min(nets):+,.4g}, median {float(np.median(nets)):+,.4g}, "
                     f"max {max(nets):+,.4g}; sd between paths {het.get('between_path_sd', float('nan')):.4g} "
                     f"(time-block noise within a path {het.get('mean_within_path_se', float('nan')):.4g}, "
                     f"heterogeneity tau {het.get('tau', float('nan')):.4g}); "
                     f"{sum(p['disagrees'] for p in report['paths'])} path(s) flagged")
    b = report.get("bound")
    if b:
        be = b["estimates"]
        lines.append(f"bound {b['strategy']}: AS saving {_num(be['as_cost_saving']['estimate'], signed=True)} "
                     f"{_ci(be['as_cost_saving'])}, net {_num(be['net_pnl_difference']['estimate'], signed=True)} "
                     f"{_ci(be['net_pnl_difference'])}")
        for key, what in (("as_cost_saving", "AS saving"), ("net_pnl_difference", "net saving")):
            s = b["share_of_bound"][key]
            txt = "n/a (the bound does not save)" if s["estimate"] is None else f"{s['estimate']:.1%} {_ci(s, '.1%')}"
            lines.append(f"  treated's share of the bound's {what}: {txt}")
    mq = report.get("model_quality")
    if mq:
        o = mq.get("out_of_sample", {})
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(f"model: {mq['verdict']} out of sample (R² {fmt(o.get('r2'))}, AUC {fmt(o.get('auc'))}, hit "
                     f"{fmt(o.get('hit_rate'))}; trained on {mq.get('trained_on')})")
    lines.append("")
    lines.append(report.get("verdict", ""))
    lines.append(f"status: {report['status']}")
    lines += [f"note: {w}" for w in report["warnings"]]
    return "\n".join(lines)
