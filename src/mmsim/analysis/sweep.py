"""Latency sweeps on Dask distributed: the adverse-selection saving of a treated quoter over a baseline, at
each feed latency × compute-latency profile (× optional treated-strategy parameters).

Work is split by market path: one task per path generates (or reads) the path's events once and runs baseline
and treated at every point on them, with the same latency draws for both arms; each (point, path) result, the
per-bin figures of both arms (``mmsim.analysis.paths.arm_bins``), is written as ``points/<point id>/<path>.parquet``
atomically (a temporary file renamed into place), so a killed sweep resumes without losing or repeating work,
and results are identical with 1 or N workers. The gather step pools the paths at every point with one and the
same bootstrap resample (paths, then blocks), picks the horizon and block length once (at the fastest point),
and reads the break-even latency off the net-saving curve with an interval from the same replicates. A local cluster on this machine is the default;
``scheduler=ADDRESS`` uses a running Dask scheduler (workers must be able to import mmsim and load the
scenario by the same name or path).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from mmsim.errors import ConfigError


@dataclass(frozen=True)
class SweepSpec:
    scenario: str
    baseline: str
    treated: str
    feed_latencies: tuple[str, ...]
    compute_latencies: tuple[str, ...] = ("0",)
    treated_params: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (name, values) of the treated strategy
    model: Optional[str] = None
    seed: int = 0
    horizon: Optional[str] = None   # None: read off the baseline's markout curve at the fastest point
    block: Optional[str] = None     # None: Politis–White from the data
    n_boot: int = 1000
    rows: Optional[int] = None
    seeds: Optional[tuple[int, ...]] = None   # market seeds (synthetic): one path each; None: the scenario's
    unmatched: bool = False
    bound: Optional[str] = None     # a clairvoyant third arm (oracle:...): the treated saving as its share
    windows: Optional[int] = None   # one history (real data) cut into this many paths of equal exchange time
    feed_venue: Optional[str] = None  # the signal venue whose feed latency is swept (None: the quoted venue's)
    inputs: str = ""                # digest of the inputs' contents (input_digest); set by run_sweep

    def paths(self) -> list[tuple[str, Optional[int]]]:
        """(label, market seed) per path, in order; seed None: the scenario's own data."""
        if self.seeds is None:
            return [("data", None)]
        return [(f"seed-{s}", int(s)) for s in self.seeds]

    def points(self) -> list[dict]:
        """Every point, in a fixed order: feed latency varies fastest within each compute profile."""
        names = [n for n, _ in self.treated_params]
        combos = list(itertools.product(*[v for _, v in self.treated_params])) or [()]
        out = []
        for params in combos:
            for compute in self.compute_latencies:
                for feed in self.feed_latencies:
                    p = {"feed_latency": feed, "compute_latency": compute, "params": dict(zip(names, params))}
                    p["id"] = point_id(self, p)
                    out.append(p)
        return out

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["treated_params"] = [[n, list(v)] for n, v in self.treated_params]
        d["seeds"] = None if self.seeds is None else list(self.seeds)
        return d


def split_specs(text: str) -> tuple[str, ...]:
    """``"0,2ms,lognormal:median=2ms,sigma=0.6"`` -> ("0", "2ms", "lognormal:median=2ms,sigma=0.6"): a comma
    followed by ``key=`` continues the previous spec's parameters."""
    import re

    out: list[str] = []
    for tok in (t.strip() for t in text.split(",")):
        if out and ":" in out[-1] and re.match(r"^[A-Za-z_]+=", tok):
            out[-1] += "," + tok
        elif tok:
            out.append(tok)
    if not out:
        raise ConfigError(f"latency list '{text}': empty")
    return tuple(out)


def point_id(spec: SweepSpec, point: dict) -> str:
    """Stable id of a point: a hash of everything its result depends on."""
    key = json.dumps({"scenario": spec.scenario, "baseline": spec.baseline, "treated": spec.treated,
                      "bound": spec.bound,
                      "model": spec.model, "seed": spec.seed, "rows": spec.rows, "feed": point["feed_latency"],
                      "compute": point["compute_latency"], "params": point["params"],
                      # only when set, so that the ids of single-venue sweeps (and their resumes) do not change
                      **({"feed_venue": spec.feed_venue} if spec.feed_venue else {}),
                      # what the files contain, not only their names: a changed input is a new point
                      **({"inputs": spec.inputs} if spec.inputs else {})}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


_FILE_DIGESTS: dict = {}


def file_digest(path: Path) -> str:
    """sha256 of a file's contents (kept per process by path, size and modification time: a store is hashed
    once per sweep, not once per point)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _FILE_DIGESTS[key] = h.hexdigest()
    return _FILE_DIGESTS[key]


def _plugin_file(spec: Optional[str]) -> Optional[Path]:
    """The source file of a ``path/to/file.py:Class`` strategy spec (resolved as the loader resolves it)."""
    import re

    if not spec:
        return None
    m = re.search(r"\.py(?=:|$)", spec.strip())
    return Path(spec.strip()[:m.end()]).expanduser().resolve() if m else None


def input_digest(spec: SweepSpec) -> str:
    """One digest of everything a point's result depends on besides its settings: the contents of the scenario
    file and of every file it reads (its store or events file, empirical latency files, its signal venues'),
    the model file, each plugin strategy's source, and mmsim's version. A point's id includes it, so editing
    the scenario, retraining the model at the same path or changing a plugin recomputes every point."""
    from mmsim._version import __version__
    from mmsim.data.scenario import load_scenario

    parts = {"mmsim": __version__, "files": {}}
    try:
        files = list(load_scenario(spec.scenario).input_files())
        if spec.model:
            files.append(Path(spec.model).resolve())
        for s in (spec.baseline, spec.treated, spec.bound):
            p = _plugin_file(s)
            if p is not None:
                files.append(p)
        for f in files:
            parts["files"][str(f)] = file_digest(f)
    except OSError as e:
        raise ConfigError(f"sweep: cannot read an input: {e.filename or ''}: {e.strerror or e}") from None
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a point file's table: column names, dtypes and values in order (an edited point fails it)."""
    h = hashlib.sha256()
    for name in frame.columns:
        col = frame[name].to_numpy()
        h.update(f"{name}\0{col.dtype.str}\0{len(col)}\0".encode())
        h.update(np.ascontiguousarray(col).tobytes() if col.dtype != object else repr(col.tolist()).encode())
    return h.hexdigest()


def treated_spec(base: str, params: dict) -> str:
    """``skew:k=0.5`` + {"k": "1"} -> ``skew:k=1``: sweep values override the spec's own."""
    if not params:
        return base
    from mmsim.engine.loader import parse_params

    name, _, rest = base.partition(":")
    if ".py:" in base or base.endswith(".py"):
        raise ConfigError("--param sweeps need a built-in treated strategy")
    merged = dict(parse_params(rest, base)) if rest else {}
    merged.update(params)
    return name + ":" + ",".join(f"{k}={v}" for k, v in merged.items())


# ------------------------------------------------------------------------------------------ one path
_EVENTS_CACHE: dict = {}


def _load(scenario: str, rows: Optional[int], market_seed: Optional[int] = None, inputs: str = ""):
    key = (scenario, rows, market_seed, inputs)  # inputs: a changed file is a new key, even in a long-lived worker
    if key not in _EVENTS_CACHE:  # once per worker process and path: scenarios are deterministic
        import dataclasses

        from mmsim.analysis.markouts import mid_series
        from mmsim.data.scenario import load_scenario
        from mmsim.data.store import EventStore

        sc = load_scenario(scenario)
        if market_seed is not None:
            sc = dataclasses.replace(sc, source={**sc.source, "seed": int(market_seed)})
        events, instrument = sc.load_events(limit=rows)
        if isinstance(events, EventStore):
            events = events.read()
        _EVENTS_CACHE.clear()
        _EVENTS_CACHE[key] = (sc, events, instrument, mid_series(events))
    return _EVENTS_CACHE[key]


def _point_file(out_dir: Path, point: dict, path_label: str) -> Path:
    return Path(out_dir) / "points" / point["id"] / f"{path_label}.parquet"


def _done(f: Path, point_id: Optional[str] = None, label: Optional[str] = None) -> bool:
    """A finished (point, path) file: readable, carrying mmsim's metadata with this point's id and path and the
    digest of its own table (a torn, foreign, misplaced or edited file is recomputed)."""
    if not f.is_file():
        return False
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(f)
        meta = json.loads((table.schema.metadata or {})[b"mmsim"])
        if point_id is not None and (meta.get("id") != point_id or meta.get("path") != label):
            return False
        return meta.get("digest") == frame_digest(table.to_pandas())
    except Exception:  # any unreadable, foreign or older file: recompute it
        return False


def run_path(spec: SweepSpec, path: tuple[str, Optional[int]], points: list[dict], out_dir: str) -> int:
    """Every missing point on one path: the path's events once, both arms at each point with the same
    latency draws, their per-bin figures written atomically. Returns the number of points computed."""
    from mmsim.analysis.paths import arm_bins
    from mmsim.engine.sim import simulate

    label, market_seed = path
    sc, events, instrument, mids = _load(spec.scenario, spec.rows, market_seed, spec.inputs)
    done = 0
    for point in points:
        f = _point_file(Path(out_dir), point, label)
        if _done(f, point["id"], label):
            continue
        kw = sc.sim_kwargs()
        kw.update(compute_latency=point["compute_latency"], seed=spec.seed, source_name=sc.source_name,
                  progress=False)
        if spec.feed_venue:  # this point's latency is the signal venue's; the quoted feed keeps the scenario's
            kw["signals"] = {n: dict(d) for n, d in kw["signals"].items()}
            kw["signals"][spec.feed_venue]["feed_latency"] = point["feed_latency"]
        else:
            kw["feed_latency"] = point["feed_latency"]
        if spec.model is not None:
            kw["model"] = spec.model
        frames = []
        arms = [("baseline", spec.baseline), ("treated", treated_spec(spec.treated, point["params"]))]
        if spec.bound:
            arms.append(("bound", spec.bound))
        for role, s in arms:
            r = simulate(events, instrument, s, truth=sc.truth, **kw)
            a = arm_bins(r, events, mids, tick_size=instrument.tick_size, lot_size=instrument.lot_size)
            fr = a.frame.add_prefix(f"{role}_")
            fr.attrs = {}
            frames.append(fr)
        frame = frames[0]
        for fr in frames[1:]:
            frame = frame.join(fr)
        frame.attrs = {}
        meta = {"value": float(instrument.tick_size) * float(instrument.lot_size), "labelled": a.labelled,
                "n_events": len(events), "id": point["id"], "path": label, "digest": frame_digest(frame)}
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f".{f.name}.{os.getpid()}.tmp")
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"mmsim": json.dumps(meta).encode()})
        pq.write_table(table, tmp)
        os.replace(tmp, f)
        done += 1
    return done


def _read_pairs(spec: SweepSpec, out: Path, point: dict, other: str = "treated"):
    """The PathPairs of one point, in path order: baseline against ``other`` (treated, or the bound)."""
    import pyarrow.parquet as pq

    from mmsim.analysis.paths import BIN, HORIZON_GRID, ArmBins, PathPair
    from mmsim.analysis.markouts import parse_horizon

    from mmsim.analysis.paths import split_windows

    pairs = []
    for label, market_seed in spec.paths():
        f = _point_file(out, point, label)
        if not _done(f, point["id"], label):
            raise ConfigError(f"{out}: point {point['id']} ({point['feed_latency']}, {point['compute_latency']}) has "
                              f"no result for path {label}")
        table = pq.read_table(f)
        meta = json.loads(table.schema.metadata[b"mmsim"])
        frame = table.to_pandas()
        arms = {}
        for role in ("baseline", other):
            cols = [c for c in frame.columns if c.startswith(role + "_")]
            fr = frame[cols].rename(columns=lambda c: c[len(role) + 1:])
            fr.attrs.update(bin_ns=parse_horizon(BIN), grid=list(HORIZON_GRID))
            arms[role] = ArmBins(frame=fr, value=meta["value"], labelled=meta["labelled"])
        info = {} if market_seed is None else {"seed": market_seed}
        if spec.windows is None:
            pairs.append(PathPair(label.replace("-", " "), arms["baseline"], arms[other], info))
            continue
        # Windows are cut from the one run's bins at gather time: the points on disk do not depend on them.
        wb, wo = split_windows(arms["baseline"], spec.windows), split_windows(arms[other], spec.windows)
        for w, (b_, o_) in enumerate(zip(wb, wo)):
            winfo = {**info, "window": w + 1, "start_ts": int(b_.frame["start_ts"].iloc[0])}
            pairs.append(PathPair(f"window {w + 1}/{spec.windows}", b_, o_, winfo))
    return pairs


def write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(x: Any):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON: {type(x).__name__}")


# ------------------------------------------------------------------------------------------ the sweep
def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike, *, workers: int = 2, scheduler: Optional[str] = None,
              progress: bool = True, path_fn: Callable[..., int] = run_path) -> dict:
    """Run every missing (point, path) on Dask (local cluster of ``workers`` processes, or ``scheduler``), one
    task per path, then gather ``sweep.parquet``, ``sweep.json`` (break-even with its interval, the value of a
    millisecond) and ``sweep.png``."""
    from mmsim.analysis.paths import check_matched, check_one_quoted
    from mmsim.data.scenario import load_scenario

    check_one_quoted(load_scenario(spec.scenario), "sweep")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from mmsim.analysis.compare import prediction_notes

    notes = check_matched(spec.baseline, spec.treated, unmatched=spec.unmatched) + \
        prediction_notes(spec.treated, spec.model)
    import dataclasses

    from mmsim.engine.loader import load_strategy

    spec = dataclasses.replace(spec, inputs=input_digest(spec))  # point ids cover the inputs' contents
    points = spec.points()
    for point in points:  # every swept strategy loads here, before a worker starts (one clear line)
        load_strategy(treated_spec(spec.treated, point["params"]))
    write_json_atomic(out / "sweep_spec.json", spec.to_json())
    todo = [p for p in spec.paths() if any(not _done(_point_file(out, pt, p[0]), pt["id"], p[0]) for pt in points)]
    if todo:
        _execute(spec, todo, points, str(out), workers=workers, scheduler=scheduler, progress=progress,
                 path_fn=path_fn)
    return gather(spec, out, notes=notes)


def _execute(spec, todo, points, out, *, workers, scheduler, progress, path_fn) -> None:
    from distributed import Client, LocalCluster, as_completed

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="path", desc="sweep", leave=False)
    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        if workers < 1:
            raise ConfigError(f"--workers {workers}: must be >= 1")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=40)
        client = Client(cluster)
    try:
        futures = [client.submit(path_fn, spec, p, points, out, key=f"mmsim-path-{p[0]}-{spec.seed}", pure=False)
                   for p in todo]
        for fut in as_completed(futures):
            fut.result()  # re-raises a path's error here, naming its input
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def _median_ns(model) -> float:
    """A latency model's typical value in ns, for ordering and plotting points."""
    for attr in ("ns", "median", "base", "offset"):
        if hasattr(model, attr):
            return float(getattr(model, attr))
    return float(np.median(model.draw(10_001, np.random.default_rng(0))))


def gather(spec: SweepSpec, out: Path, notes: Optional[list] = None) -> dict:
    """Pool the paths of every point with one shared resample, and write sweep.parquet / sweep.json /
    sweep.png. The horizon and block length are fixed once, at the first point of the fastest feed latency."""
    from mmsim.analysis.paths import FIGURES, pooled_report
    from mmsim.data.latency import parse_latency

    points = spec.points()
    lat_ns = [_median_ns(parse_latency(p["feed_latency"])) for p in points]
    fastest = int(np.argmin(lat_ns))
    head = pooled_report(_read_pairs(spec, out, points[fastest]), horizon=spec.horizon, block=spec.block,
                         n_boot=spec.n_boot, seed=spec.seed, vs_horizon=False)
    H, block = head["horizon"], head["block"]
    rows, reps_net, reports = [], [], []
    for p, L in zip(points, lat_ns):
        rep = pooled_report(_read_pairs(spec, out, p), horizon=H, block=block, n_boot=spec.n_boot, seed=spec.seed,
                            vs_horizon=False)
        reps_net.append(rep["_reps_h"][:, 4])
        row = {"id": p["id"], "feed_latency": p["feed_latency"], "compute_latency": p["compute_latency"],
               "feed_latency_ns": L}
        row.update({f"param_{k}": v for k, v in p["params"].items()})
        nan = float("nan")
        for key in FIGURES:
            e = rep["estimates"][key]
            none = lambda v: nan if v is None else v  # noqa: E731
            row[key], row[f"{key}_lo"], row[f"{key}_hi"] = (none(e["estimate"]), none(e["ci_low"]),
                                                            none(e["ci_high"]))
        if spec.bound:
            from mmsim.analysis.compare import bound_section

            bsec = bound_section(rep, pooled_report(_read_pairs(spec, out, p, "bound"), horizon=H, block=block,
                                                    n_boot=spec.n_boot, seed=spec.seed, vs_horizon=False), spec.bound)
            for key, col in (("as_cost_saving", "bound_as_cost_saving"), ("net_pnl_difference", "bound_net_saving")):
                e = bsec["estimates"][key]
                row[col], row[f"{col}_lo"], row[f"{col}_hi"] = (none(e["estimate"]), none(e["ci_low"]),
                                                                none(e["ci_high"]))
                s = bsec["share_of_bound"][key]
                sc_ = f"share_of_bound_{'as' if key == 'as_cost_saving' else 'net'}"
                row[sc_], row[f"{sc_}_lo"], row[f"{sc_}_hi"] = (none(s["estimate"]), none(s["ci_low"]),
                                                                none(s["ci_high"]))
        row["n_paths"], row["n_blocks"] = rep["n_paths"], rep["n_blocks"]
        row["paths_flagged"] = int(sum(x["disagrees"] for x in rep["paths"]))
        rows.append(row)
        reports.append({k: v for k, v in rep.items() if not k.startswith("_") and k not in ("paths",)})
    frame = pd.DataFrame(rows)
    frame.to_parquet(out / "sweep.parquet.tmp", index=False)
    os.replace(out / "sweep.parquet.tmp", out / "sweep.parquet")
    be = break_even(frame, np.column_stack(reps_net))
    from mmsim.analysis.compare import model_quality

    quality = model_quality(spec.model)
    notes = list(notes or [])
    if quality and quality["verdict"] in ("no better than chance", "weak"):
        notes.append(f"the model is {quality['verdict']} out of sample ({quality['reason']}): a saving here may come "
                     "from something other than prediction")
    from mmsim.data.scenario import load_scenario

    summary = {"spec": spec.to_json(), "scenario_name": load_scenario(spec.scenario).name, "n_points": len(frame), "n_paths": head["n_paths"], "model_quality": quality,
               "horizon": H, "horizon_rule": head["horizon_rule"], "block": block, "block_rule": head["block_rule"],
               "break_even": be, "warnings": notes + head["warnings"], "points": rows}
    write_json_atomic(out / "sweep.json", summary)
    plot_sweep(frame, out / "sweep.png", be)
    return summary


# ------------------------------------------------------------------------------------------ break-even
#: A zero feed latency is placed at this latency on the log axis (the crossing is interpolated in log space).
ZERO_LATENCY_NS = 10_000


def _log_x(lat_ns: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(np.asarray(lat_ns, np.float64), ZERO_LATENCY_NS))


def crossing(lat_ns: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Where the net-saving curve first goes from positive to <= 0, interpolated on log latency: (latency ns,
    number of sign changes). 0.0 when it is not positive at the fastest point, inf when it never crosses."""
    y = np.asarray(y, np.float64)
    pos = y > 0
    changes = int(np.count_nonzero(pos[1:] != pos[:-1]))
    if not pos[0]:
        return 0.0, changes
    if pos.all():
        return math.inf, changes
    i = int(np.argmin(pos))  # first non-positive point; i >= 1
    x = _log_x(lat_ns)
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    xc = x0 + (x1 - x0) * (y0 / (y0 - y1)) if y0 != y1 else x1
    return float(10 ** xc), changes


def _fmt_lat(ns: float) -> str:
    if not math.isfinite(ns):
        return "inf"
    if ns <= ZERO_LATENCY_NS and ns == 0:
        return "0"
    from mmsim.analysis.markouts import horizon_label

    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    return horizon_label(int(round(ns))) if ns >= 1 else "0"


def break_even(frame: pd.DataFrame, reps: Optional[np.ndarray] = None, confidence: float = 0.95) -> list[dict]:
    """Per compute profile (and treated params): the break-even feed latency, where the net-saving estimate
    crosses zero (log-latency interpolation), with an interval from the bootstrap replicates (each replicate a
    whole curve and its crossing); a status that describes the estimate; significance at the fastest point
    beside it; non-monotone curves flagged; and the value of a millisecond (the slope of the net saving per ms
    of feed latency between the two fastest points, with its interval). ``reps``: n_boot x n_points replicates
    of the net saving, columns in ``frame``'s row order."""
    out = []
    group_cols = ["compute_latency"] + [c for c in frame.columns if c.startswith("param_")]
    a = (1 - confidence) / 2
    for key, g in frame.groupby(group_cols, sort=False):
        g = g.sort_values("feed_latency_ns", kind="stable")
        idx = g.index.to_numpy()
        L = g["feed_latency_ns"].to_numpy(np.float64)
        y = g["net_pnl_difference"].to_numpy(np.float64)
        key = key if isinstance(key, tuple) else (key,)
        row = {**dict(zip(group_cols, key)), "net_saving_at_fastest": float(y[0]),
               "fastest_feed_latency": g["feed_latency"].iloc[0],
               "significant_at_fastest": bool(g["net_pnl_difference_lo"].iloc[0] > 0),
               "break_even_ns": None, "break_even_ci_ns": [None, None], "value_of_ms": None,
               "value_of_ms_ci": [None, None]}
        if len(y) == 0 or not np.isfinite(y).all():
            row["status"] = "no estimate (a point has no fills)"
            out.append(row)
            continue
        cross, changes = crossing(L, y)
        row["non_monotone"] = changes > 1
        if reps is not None and reps.shape[0] >= 2:
            R_ = reps[:, idx]
            cr = np.array([crossing(L, R_[r])[0] for r in range(R_.shape[0])])
            lo, hi = np.quantile(cr, [a, 1 - a], method="inverted_cdf")  # no interpolation: inf-safe
            row["break_even_ci_ns"] = [float(lo), float(hi) if math.isfinite(hi) else None]
        if cross == 0.0:
            row["status"] = "never pays (the net saving is not positive even at the fastest latency swept)"
        elif math.isinf(cross):
            row["status"] = f"pays at every latency swept (up to {g['feed_latency'].iloc[-1]})"
        else:
            row["break_even_ns"] = cross
            ci = row["break_even_ci_ns"]
            ci_txt = "" if ci[0] is None and ci[1] is None else \
                f" [{_fmt_lat(ci[0])}, {_fmt_lat(ci[1]) if ci[1] is not None else '> ' + g['feed_latency'].iloc[-1]}]"
            row["status"] = f"pays up to {_fmt_lat(cross)}{ci_txt}"
        if row["non_monotone"]:
            row["status"] += "; the curve is not monotone (it crosses zero more than once)"
        row["significance"] = ("the net saving at the fastest latency is significantly positive"
                               if row["significant_at_fastest"] else
                               "the net saving at the fastest latency is not significantly positive")
        if len(L) >= 2 and L[1] > L[0]:
            dms = (L[1] - L[0]) / 1e6
            row["value_of_ms"] = float((y[1] - y[0]) / dms)
            if reps is not None and reps.shape[0] >= 2:
                s = (reps[:, idx[1]] - reps[:, idx[0]]) / dms
                lo, hi = np.quantile(s, [a, 1 - a])
                row["value_of_ms_ci"] = [float(lo), float(hi)]
            row["value_of_ms_between"] = [g["feed_latency"].iloc[0], g["feed_latency"].iloc[1]]
        out.append(row)
    return out


def plot_sweep(frame: pd.DataFrame, path: Path, be: Optional[list] = None) -> None:
    """Two panels on a log feed-latency axis: the net saving per path with its interval band and the
    break-even latency, then its parts (AS-cost saving, spread capture given up, inventory difference)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7.5, 6.5), dpi=110, sharex=True)
    group_cols = ["compute_latency"] + [c for c in frame.columns if c.startswith("param_")]
    for gi, (key, g) in enumerate(frame.groupby(group_cols, sort=False)):
        g = g.sort_values("feed_latency_ns")
        x = np.maximum(g["feed_latency_ns"].to_numpy(np.float64), ZERO_LATENCY_NS) / 1e6
        label = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        line, = ax.plot(x, g["net_pnl_difference"], marker="o", label=f"net saving ({label})")
        ax.fill_between(x, g["net_pnl_difference_lo"], g["net_pnl_difference_hi"], alpha=0.2, color=line.get_color())
        if be and gi < len(be) and be[gi].get("break_even_ns"):
            ax.axvline(be[gi]["break_even_ns"] / 1e6, color=line.get_color(), ls=":", lw=1)
        for col, ls, name in (("as_cost_saving", "--", "AS-cost saving"),
                              ("spread_capture_given_up", "-.", "spread capture given up"),
                              ("inventory_difference", ":", "inventory difference")):
            if col in g:
                l2, = ax2.plot(x, g[col], ls=ls, marker=".", label=f"{name} ({label})")
                ax2.fill_between(x, g[f"{col}_lo"], g[f"{col}_hi"], alpha=0.12, color=l2.get_color())
    for a in (ax, ax2):
        a.axhline(0, color="black", lw=0.8)
        a.set_xscale("log")
        a.legend(fontsize=7)
    ax.set_ylabel("net saving per path\n(quote currency)")
    ax2.set_ylabel("parts, per path\n(quote currency)")
    ax2.set_xlabel(f"feed latency (ms, log scale; 0 drawn at {ZERO_LATENCY_NS / 1e6:g} ms)")
    ax.set_title("Net saving vs feed latency (95 % two-level bootstrap band; dotted: break-even)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def significant_latencies(g: pd.DataFrame) -> str:
    """Which feed latencies' net-saving intervals exclude zero — what can be claimed, beside the break-even that
    reads the point estimates."""
    pos = g[g["net_pnl_difference_lo"] > 0]["feed_latency"].tolist()
    neg = g[g["net_pnl_difference_hi"] < 0]["feed_latency"].tolist()
    parts = []
    if pos:
        parts.append(f"a significant net gain at {', '.join(pos)}")
    if neg:
        parts.append(f"a significant net loss at {', '.join(neg)}")
    return ("the 95% interval excludes zero only for " + "; ".join(parts)) if parts else \
        "no latency swept shows a net saving significantly different from zero"


def format_sweep(summary: dict) -> str:
    """What ``mmsim sweep`` prints: the pooling, then per compute profile the net saving at each latency, the
    break-even latency with its interval, significance beside it and the value of a millisecond."""
    lines = [f"{summary['n_paths']} paths per point   horizon {summary['horizon']} ({summary['horizon_rule']})   "
             f"blocks of {summary['block']} ({summary['block_rule']})"]
    frame = pd.DataFrame(summary["points"])
    venue = (summary.get("spec") or {}).get("feed_venue")
    feed_label = f"{venue} feed" if venue else "feed"
    if venue:
        lines.append(f"feed latency swept: signal venue {venue}'s (the quoted venue's stays the scenario's)")
    for be in summary["break_even"]:
        g = frame[frame["compute_latency"] == be["compute_latency"]].sort_values("feed_latency_ns")
        params = {k[6:]: v for k, v in be.items() if k.startswith("param_")}
        for k, v in params.items():
            g = g[g[f"param_{k}"] == v]
        head = f"compute {be['compute_latency']}" + "".join(f", {k}={v}" for k, v in params.items())
        lines.append("")
        lines.append(f"{head}: net saving per path (95% CI), and the adverse selection saved within it")
        for _, r in g.iterrows():
            line = (f"  {feed_label:<4} {r['feed_latency']:>12}   {r['net_pnl_difference']:+10.4g}   "
                    f"[{r['net_pnl_difference_lo']:+.4g}, {r['net_pnl_difference_hi']:+.4g}]")
            if "as_cost_saving" in r:  # what the net is made of: a net gain without an AS saving is not a defence
                line += (f"   AS saved {r['as_cost_saving']:+.4g} [{r['as_cost_saving_lo']:+.4g}, "
                         f"{r['as_cost_saving_hi']:+.4g}]")
            if "share_of_bound_as" in r and r["share_of_bound_as"] == r["share_of_bound_as"]:
                line += (f"   captures {r['share_of_bound_as']:.0%} [{r['share_of_bound_as_lo']:.0%}, "
                         f"{r['share_of_bound_as_hi']:.0%}] of the clairvoyant AS saving")
            lines.append(line)
        lines.append(f"  break-even: {be['status']}")
        lines.append("  " + significant_latencies(g))
        lines.append(f"  {be.get('significance', '')}")
        if be.get("value_of_ms") is not None:
            lo, hi = be["value_of_ms_ci"]
            ci = "" if lo is None else f" [{lo:+.4g}, {hi:+.4g}]"
            a, b = be["value_of_ms_between"]
            lines.append(f"  value of a millisecond: {be['value_of_ms']:+.4g} per path per ms of feed latency{ci} "
                         f"(between {a} and {b})")
    mq = summary.get("model_quality")
    if mq:
        lines.append(f"model: {mq['verdict']} out of sample ({mq['reason']})")
    lines += [f"note: {w}" for w in summary.get("warnings", [])]
    return "\n".join(lines)
