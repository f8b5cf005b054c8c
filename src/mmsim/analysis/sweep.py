"""Latency sweeps on Dask distributed: the adverse-selection saving of a treated quoter over a baseline, at
each feed latency × compute-latency profile (× optional treated-strategy parameters).

Every point is a pure function of (scenario, strategies, model, point, seed): it runs baseline and treated on
the same market path with the same latency draws (``mmsim.analysis.compare``) and writes ``points/<id>.json``
atomically (a temporary file renamed into place), so a killed sweep resumes without losing or repeating a
point, and results are identical with 1 or N workers. A local cluster on this machine is the default;
``scheduler=ADDRESS`` uses a running Dask scheduler (workers must be able to import mmsim and load the
scenario by the same name or path).
"""
from __future__ import annotations

import hashlib
import itertools
import json
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
    horizon: str = "1s"
    block: str = "60s"
    n_boot: int = 1000
    rows: Optional[int] = None

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
                      "model": spec.model, "seed": spec.seed, "horizon": spec.horizon, "block": spec.block,
                      "n_boot": spec.n_boot, "rows": spec.rows, "feed": point["feed_latency"],
                      "compute": point["compute_latency"], "params": point["params"]}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


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


# ------------------------------------------------------------------------------------------ one point
_EVENTS_CACHE: dict = {}


def _load(scenario: str, rows: Optional[int]):
    key = (scenario, rows)
    if key not in _EVENTS_CACHE:  # once per worker process: scenarios are deterministic
        from mmsim.data.scenario import load_scenario

        sc = load_scenario(scenario)
        events, instrument = sc.load_events(limit=rows)
        _EVENTS_CACHE.clear()
        _EVENTS_CACHE[key] = (sc, events, instrument)
    return _EVENTS_CACHE[key]


def run_point(spec: SweepSpec, point: dict, out_dir: str) -> dict:
    """Compute one point (baseline and treated on the same path and latency draws, then the paired
    comparison) and write ``points/<id>.json`` atomically; returns the record."""
    from mmsim.analysis.compare import compare_runs
    from mmsim.engine.sim import simulate

    sc, events, instrument = _load(spec.scenario, spec.rows)
    kw = sc.sim_kwargs()
    kw.update(feed_latency=point["feed_latency"], compute_latency=point["compute_latency"], seed=spec.seed,
              source_name=sc.source_name)
    if spec.model is not None:
        kw["model"] = spec.model
    runs = [simulate(events, instrument, s, **kw)
            for s in (spec.baseline, treated_spec(spec.treated, point["params"]))]
    res = compare_runs(runs[0], runs[1], events, tick_size=instrument.tick_size, lot_size=instrument.lot_size,
                       horizon=spec.horizon, block=spec.block, n_boot=spec.n_boot, seed=spec.seed)
    rep = res.report
    summary = {k: rep[k] for k in ("status", "warnings", "n_blocks", "estimates", "identity", "horizon", "block")}
    for role in ("baseline", "treated"):
        part = rep[role]
        summary[role] = {k: part[k] for k in ("pnl", "spread_capture", "adverse_selection_cost", "fees")
                         if k in part}
        summary[role]["n_fills"] = int(runs[0 if role == "baseline" else 1].summary["n_fills"])
    record = {"id": point["id"], "feed_latency": point["feed_latency"], "compute_latency": point["compute_latency"],
              "params": point["params"], "result": summary}
    write_json_atomic(Path(out_dir) / "points" / f"{point['id']}.json", record)
    return record


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


def _done(out_dir: Path, point: dict) -> bool:
    p = out_dir / "points" / f"{point['id']}.json"
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text()).get("id") == point["id"]
    except (OSError, ValueError):
        return False  # a torn or foreign file: recompute


# ------------------------------------------------------------------------------------------ the sweep
def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike, *, workers: int = 2, scheduler: Optional[str] = None,
              progress: bool = True, point_fn: Callable[[SweepSpec, dict, str], dict] = run_point) -> dict:
    """Run every missing point on Dask (local cluster of ``workers`` processes, or ``scheduler``), then
    gather ``sweep.parquet``, ``sweep.json`` (with the break-even latency) and ``sweep.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "sweep_spec.json", spec.to_json())
    points = spec.points()
    todo = [p for p in points if not _done(out, p)]
    if todo:
        _execute(spec, todo, str(out), workers=workers, scheduler=scheduler, progress=progress, point_fn=point_fn)
    return gather(spec, out)


def _execute(spec, todo, out, *, workers, scheduler, progress, point_fn) -> None:
    from distributed import Client, LocalCluster, as_completed

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="point", desc="sweep", leave=False)
    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        if workers < 1:
            raise ConfigError(f"--workers {workers}: must be >= 1")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=40)
        client = Client(cluster)
    try:
        futures = [client.submit(point_fn, spec, p, out, key=f"mmsim-point-{p['id']}", pure=False) for p in todo]
        for fut in as_completed(futures):
            fut.result()  # re-raises a point's error here, naming its input
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def _flatten(record: dict) -> dict:
    res = record["result"]
    row = {"id": record["id"], "feed_latency": record["feed_latency"], "compute_latency": record["compute_latency"]}
    row.update({f"param_{k}": v for k, v in record["params"].items()})
    from mmsim.data.latency import parse_latency

    row["feed_latency_ns"] = _median_ns(parse_latency(record["feed_latency"]))
    nan = float("nan")
    for key in ("as_cost_saving", "spread_capture_given_up", "net_pnl_difference"):
        est = res["estimates"].get(key, {})
        none = lambda v: nan if v is None else v  # noqa: E731
        row[key] = none(est.get("estimate"))
        row[f"{key}_lo"] = none(est.get("ci_low"))
        row[f"{key}_hi"] = none(est.get("ci_high"))
    row["n_blocks"] = res.get("n_blocks", 0)
    row["status"] = res.get("status", "")
    for role in ("baseline", "treated"):
        row[f"{role}_n_fills"] = res[role]["n_fills"]
        row[f"{role}_pnl"] = res[role].get("pnl", nan)
    return row


def _median_ns(model) -> float:
    """A latency model's typical value in ns, for ordering and plotting points."""
    for attr in ("ns", "median", "base", "offset"):
        if hasattr(model, attr):
            return float(getattr(model, attr))
    return float(np.median(model.draw(10_001, np.random.default_rng(0))))


def gather(spec: SweepSpec, out: Path) -> dict:
    """Collect the point files of ``spec`` (in point order) into sweep.parquet / sweep.json / sweep.png."""
    rows = []
    for p in spec.points():
        f = out / "points" / f"{p['id']}.json"
        if not f.is_file():
            raise ConfigError(f"{out}: point {p['id']} ({p['feed_latency']}, {p['compute_latency']}) has no result")
        rows.append(_flatten(json.loads(f.read_text())))
    frame = pd.DataFrame(rows)
    frame.to_parquet(out / "sweep.parquet.tmp", index=False)
    os.replace(out / "sweep.parquet.tmp", out / "sweep.parquet")
    summary = {"spec": spec.to_json(), "n_points": len(frame), "break_even": break_even(frame), "points": rows}
    write_json_atomic(out / "sweep.json", summary)
    plot_sweep(frame, out / "sweep.png")
    return summary


def break_even(frame: pd.DataFrame) -> list[dict]:
    """Per compute profile (and treated params): the smallest feed latency at which the net saving's
    interval first includes zero (or lies below it), after a lower latency where it was significantly
    positive. ``None`` otherwise, with ``status`` saying which: the saving held at every latency swept, or
    there was no significant net saving even at the lowest latency."""
    out = []
    group_cols = ["compute_latency"] + [c for c in frame.columns if c.startswith("param_")]
    for key, g in frame.groupby(group_cols, sort=False):
        g = g.sort_values("feed_latency_ns", kind="stable")
        significant = (g["net_pnl_difference_lo"] > 0).to_numpy()  # NaN (no interval) is not significant
        key = key if isinstance(key, tuple) else (key,)
        row = {**dict(zip(group_cols, key)), "net_saving_at_lowest_latency": float(g["net_pnl_difference"].iloc[0]),
               "break_even_feed_latency": None, "break_even_feed_latency_ns": None}
        if not significant[0]:
            row["status"] = "no significant net saving even at the lowest latency"
        elif significant.all():
            row["status"] = "net saving significant at every latency swept"
        else:
            i = int(np.argmin(significant))
            row.update(status="break-even found", break_even_feed_latency=g["feed_latency"].iloc[i],
                       break_even_feed_latency_ns=float(g["feed_latency_ns"].iloc[i]))
        out.append(row)
    return out


def plot_sweep(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    group_cols = ["compute_latency"] + [c for c in frame.columns if c.startswith("param_")]
    for key, g in frame.groupby(group_cols, sort=False):
        g = g.sort_values("feed_latency_ns")
        x = g["feed_latency_ns"] / 1e6
        label = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        ax.plot(x, g["net_pnl_difference"], marker="o", label=f"net PnL difference ({label})")
        ax.fill_between(x, g["net_pnl_difference_lo"], g["net_pnl_difference_hi"], alpha=0.2)
        ax.plot(x, g["as_cost_saving"], ls="--", alpha=0.7, label=f"AS-cost saving ({label})")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("feed latency (ms)")
    ax.set_ylabel("treated − baseline (quote currency)")
    ax.set_title("Adverse-selection saving vs feed latency (95 % block-bootstrap CI)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
