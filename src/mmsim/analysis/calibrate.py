"""``mmsim calibrate``: fit the synthetic L3 market (:mod:`mmsim.data.market`) to a store — a twin of a real day.

The twin is the ``quiet`` preset (no toxic bursts) with every fitted parameter written out, jumps off,
started at the store's first time and mid. Both days are measured by one function,
:func:`mmsim.analysis.stylised.stylised_facts`. The fit (docs/calibrate.md):

1. **Direct moments.** ``half_spread`` = (spread − 1)/2 (the LPs' anchors floor(r − h), ceil(r + h) are
   2h + 1 apart on average); ``level_qty`` = depth at level 1; ``order_qty`` = mean ADD size (L3; a quarter
   of ``level_qty`` on L2 data); ``lp_rate`` = messages per s (L3) or rows (level updates) per s (L2);
   ``sigma`` = the 10 s volatility; ``noise_rate`` = trades per s × 0.8 and ``informed_rate`` = trades per s
   × 0.2 / 0.3 (an informed trader trades on about a third of its looks); ``noise_qty`` = ``informed_qty``
   = mean aggressive-order size; ``informed_threshold`` = max(1.25, spread / 2) (the informed cross the half
   spread only for a larger edge).
2. **Time scales by grid search.** ``informed_horizon`` over a half-decade grid from 0.1 to 30 s, then
   ``lp_lag`` from 10 ms to 10 s, each candidate scored by the fit's loss (below) on a simulated twin;
   ``v_dt`` = min(10 ms, ``lp_lag`` / 10, ``informed_horizon`` / 10).
3. **Fixed-point rounds** for the level parameters: each parameter is moved by the ratio (or the
   difference, for ``half_spread``) of the real fact to the twin's, damped (the ratio clipped to [0.5, 2], exponent 0.5):
   lp_rate ↔ messages (L3) / rows (L2) per s, half_spread ↔ spread, level_qty ↔ depth_1,
   order_qty ↔ add size (L3), sigma ↔ vol_10s, noise_rate ↔ trades per s, noise_qty = informed_qty ↔ trade
   size, informed_rate ↔ the markouts at 1, 10 and 60 s (their sum).
4. The grids once more at the fitted levels, then two last rounds.

The loss is Σ min(((twin − real) / tolerance)², 25) over the fitted facts (every fact but ``rows_per_s`` on L3
data; on L2 data every fact but ``messages_per_s``, ``top_changes_per_s`` and ``add_size_mean``: a message is
a batch of depth updates there, and one LP action of the twin is one level update, one row), each
tolerance from :data:`mmsim.analysis.stylised.FACTS`. Every simulation uses the fit seeds (``seed + 1000``):
the same store and seed give the same twin, byte for byte. The twin has as many rows as cover the store's
exchange time at its own row rate, so facts are compared over the same span.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from mmsim.analysis.stylised import FACTS, StylisedFacts, facts_table, stylised_facts, within_tolerance
from mmsim.errors import ConfigError, DataError

__all__ = ["Calibration", "fit_twin", "calibrate_events", "calibrate_store", "twin_toml", "write_twin",
           "format_calibration", "FITTED", "BASE_PRESET", "file_sha256"]

#: The preset the twin overrides (no bursts; every fitted parameter is written out).
BASE_PRESET = "quiet"
#: Parameters the fit sets, in the order they are written.
FITTED = ("base_price", "start_ts", "n_levels", "half_spread", "level_qty", "order_qty", "lp_rate", "lp_lag",
          "informed_horizon", "v_dt", "sigma", "noise_rate", "noise_qty", "informed_rate", "informed_qty",
          "informed_threshold", "lp_impact", "jump_rate", "burst_rate")
INFORMED_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
LAG_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
_DAMP = 0.5
_CLIP = 25.0
#: Bounds the fit keeps each parameter in (the generator's own checks are wider or equal).
_BOUNDS = {"half_spread": (0.0, 25.0), "sigma": (0.01, 500.0), "lp_rate": (0.2, 20_000.0),
           "noise_rate": (0.005, 5_000.0), "informed_rate": (0.0, 5_000.0), "level_qty": (1.0, 1e9),
           "order_qty": (1.0, 1e9), "noise_qty": (1.0, 1e9)}


def _sig(x: float, digits: int = 6) -> float:
    """x rounded to ``digits`` significant digits (the twin file's numbers, and what is simulated)."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


@dataclass
class Calibration:
    """A fitted twin: generator ``params`` (overrides of :data:`BASE_PRESET`), its ``n_rows`` and ``seed``,
    the real and the twin's facts, the fit's log (``evals``, ``loss``, the grids' losses), the store."""

    params: dict[str, Any]
    n_rows: int
    seed: int
    real: StylisedFacts
    twin: StylisedFacts
    instrument: Any
    store: dict[str, Any] = field(default_factory=dict)
    log: dict[str, Any] = field(default_factory=dict)
    informed_share: float = math.nan

    def table(self) -> list[dict[str, Any]]:
        return facts_table(self.real, self.twin)


# --------------------------------------------------------------------------------------------- fit
def _fit_facts(mode: str) -> list[str]:
    skip = {"rows_per_s"} if mode == "l3" else {"messages_per_s", "top_changes_per_s", "add_size_mean"}
    return [f.name for f in FACTS if f.name not in skip]


def _loss(real: StylisedFacts, twin: StylisedFacts, names: list[str]) -> float:
    tot = 0.0
    for k in names:
        r, t = real.values[k], twin.values[k]
        if not math.isfinite(r):
            continue
        _, tol = within_tolerance(k, r, t, real.se[k])
        z = _CLIP if not math.isfinite(t) else min(((t - r) / max(tol, 1e-12)) ** 2, _CLIP)
        tot += z
    return tot


def _with_scales(p: dict[str, Any]) -> dict[str, Any]:
    q = dict(p)
    q["v_dt"] = _sig(min(0.01, q["lp_lag"] / 10.0, q["informed_horizon"] / 10.0))
    # the generator's limit on orders per level: level_qty * (1 + 0.3 (n_levels - 1)) / order_qty < 28
    q["order_qty"] = max(q["order_qty"], q["level_qty"] * (1 + 0.3 * (q["n_levels"] - 1)) / 27.0)
    return {k: (_sig(v) if isinstance(v, float) else v) for k, v in q.items()}


def _initial(real: StylisedFacts, levels: int) -> dict[str, Any]:
    v, mode = real.values, real.info["mode"]
    spread = v["spread_mean"]
    trades = v["trades_per_s"]
    size = v["trade_size_mean"]
    depth = max(v["depth_1"], 1.0)
    lp = v["messages_per_s"] - trades if mode == "l3" else v["rows_per_s"]
    p = {
        "base_price": int(round(real.info["first_mid"])),
        "start_ts": int(real.info["first_ts"]) // 1_000_000_000 * 1_000_000_000,  # a whole second: exact as a float
        "n_levels": int(levels),
        "half_spread": float(np.clip((spread - 1.0) / 2.0, *_BOUNDS["half_spread"])),
        "level_qty": depth,
        "order_qty": v["add_size_mean"] if mode == "l3" and math.isfinite(v["add_size_mean"]) else depth / 4.0,
        "lp_rate": float(np.clip(lp, *_BOUNDS["lp_rate"])),
        "lp_lag": 1.0,
        "informed_horizon": 1.0,
        "sigma": float(np.clip(v["vol_10s"] if math.isfinite(v["vol_10s"]) else v["vol_1s"], *_BOUNDS["sigma"])),
        "noise_rate": float(np.clip(0.8 * trades, *_BOUNDS["noise_rate"])),
        "noise_qty": max(size, 1.0),
        "informed_rate": float(np.clip(0.2 * trades / 0.3, *_BOUNDS["informed_rate"])),
        "informed_qty": max(size, 1.0),
        "informed_threshold": max(1.25, spread / 2.0),
        "lp_impact": 0.05,
        "jump_rate": 0.0,
        "burst_rate": 0.0,
    }
    return _with_scales(p)


def _rows_for(params: dict[str, Any], span_s: float, rows_per_s: Optional[float]) -> int:
    """Rows of the twin covering ``span_s`` of exchange time (its row rate measured, else estimated)."""
    if rows_per_s is None:
        rows_per_s = params["lp_rate"] + params["noise_rate"] * 1.5 + params["informed_rate"]
    return int(max(1000, round(span_s * rows_per_s)))


def _simulate(params: dict[str, Any], n_rows: int, seed: int):
    from mmsim.data.market import generate_market

    try:
        return generate_market(BASE_PRESET, n_rows, seed, **params)
    except ValueError as e:
        raise DataError(f"calibrate: the twin's parameters are out of the generator's range: {e}") from None


def _update(p: dict[str, Any], real: StylisedFacts, twin: StylisedFacts) -> dict[str, Any]:
    """One damped fixed-point step of the level parameters toward the real facts."""
    r, t, mode = real.values, twin.values, real.info["mode"]
    q = dict(p)

    def ratio(a: float, b: float) -> float:
        if not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
            return 1.0
        return float(np.clip(a / b, 0.5, 2.0)) ** _DAMP

    def clip(name: str, x: float) -> float:
        lo, hi = _BOUNDS[name]
        return float(np.clip(x, lo, hi))

    rate_fact = "messages_per_s" if mode == "l3" else "rows_per_s"
    q["lp_rate"] = clip("lp_rate", p["lp_rate"] * ratio(r[rate_fact], t[rate_fact]))
    q["half_spread"] = clip("half_spread", p["half_spread"] + _DAMP * 0.5 * (r["spread_mean"] - t["spread_mean"]))
    q["level_qty"] = clip("level_qty", p["level_qty"] * ratio(r["depth_1"], t["depth_1"]))
    if mode == "l3":
        q["order_qty"] = clip("order_qty", p["order_qty"] * ratio(r["add_size_mean"], t["add_size_mean"]))
    else:
        q["order_qty"] = q["level_qty"] / 4.0
    q["sigma"] = clip("sigma", p["sigma"] * ratio(r["vol_10s"], t["vol_10s"]))
    q["noise_rate"] = clip("noise_rate", p["noise_rate"] * ratio(r["trades_per_s"], t["trades_per_s"]))
    q["noise_qty"] = clip("noise_qty", p["noise_qty"] * ratio(r["trade_size_mean"], t["trade_size_mean"]))
    q["informed_qty"] = q["noise_qty"]
    mk = ("markout_1s", "markout_10s", "markout_60s")
    rm = sum(r[k] for k in mk if math.isfinite(r[k]) and math.isfinite(t[k]))
    tm = sum(t[k] for k in mk if math.isfinite(r[k]) and math.isfinite(t[k]))
    if p["informed_rate"] > 0:
        q["informed_rate"] = clip("informed_rate", p["informed_rate"] * ratio(max(rm, 0.01), max(tm, 0.01)))
    q["informed_threshold"] = max(1.25, q["half_spread"] + 0.5)
    # the LPs' reaction to a market order sets the immediate impact (markout_0)
    q["lp_impact"] = float(np.clip(p["lp_impact"] + _DAMP * 0.5 * (r["markout_0"] - t["markout_0"]), 0.0, 10.0))
    return _with_scales(q)


def fit_twin(real: StylisedFacts, *, seed: int = 0, levels: int = 5, rounds: int = 4,
             progress: Optional[Callable[[str], None]] = None) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """Fit the twin's parameters to ``real`` facts: (params, n_rows, log). Deterministic for ``seed``."""
    span = real.info["span_s"]
    names = _fit_facts(real.info["mode"])
    fit_seed = int(seed) + 1000
    log: dict[str, Any] = {"evals": 0, "grids": []}
    cache: dict[tuple, tuple[StylisedFacts, float, int]] = {}
    state: dict[str, float] = {}

    def evaluate(p: dict[str, Any]) -> tuple[StylisedFacts, float, int]:
        key = tuple(sorted(p.items()))
        if key in cache:
            return cache[key]
        n = _rows_for(p, span, state.get("rows_per_s"))
        m = _simulate(p, n, fit_seed)
        # the row rate is only known after a run: rerun at the length that covers the real span
        got = (int(m.events["exch_ts"][-1]) - int(m.events["exch_ts"][0])) / 1e9
        if got > 0 and abs(got - span) > 0.05 * span:
            n = int(max(1000, round(n * span / got)))
            m = _simulate(p, n, fit_seed)
        if got > 0:
            state["rows_per_s"] = len(m.events) / ((int(m.events["exch_ts"][-1]) - int(m.events["exch_ts"][0])) / 1e9)
        try:
            tw = stylised_facts(m.events)
        except DataError:
            out = (None, math.inf, n)
        else:
            out = (tw, _loss(real, tw, names), n)
        log["evals"] += 1
        cache[key] = out
        return out

    def grid(p: dict[str, Any], name: str, values: tuple) -> dict[str, Any]:
        best, best_loss, losses = p, math.inf, {}
        for x in values:
            q = _with_scales({**p, name: x})
            _, loss, _ = evaluate(q)
            losses[f"{x:g}"] = round(loss, 3)
            if loss < best_loss:
                best, best_loss = q, loss
        log["grids"].append({"param": name, "losses": losses, "chosen": best[name]})
        if progress:
            progress(f"  {name}: {best[name]:g} s (loss {best_loss:.1f})")
        return best

    def rounds_of(p: dict[str, Any], k: int) -> dict[str, Any]:
        """k fixed-point steps; returns the best parameters seen (the loss never goes up)."""
        best, (_, best_loss, _) = p, evaluate(p)
        for _ in range(k):
            tw, loss, _ = evaluate(p)
            if tw is None:
                break
            q = _update(p, real, tw)
            _, qloss, _ = evaluate(q)
            if progress:
                progress(f"  round: loss {loss:.1f} -> {qloss:.1f}")
            if qloss < best_loss:
                best, best_loss = q, qloss
            p = q
        return best

    p = _initial(real, levels)
    p = rounds_of(p, 2)
    p = grid(p, "informed_horizon", INFORMED_GRID)
    p = grid(p, "lp_lag", LAG_GRID)
    p = rounds_of(p, rounds)
    p = grid(p, "informed_horizon", INFORMED_GRID)
    p = grid(p, "lp_lag", LAG_GRID)
    p = rounds_of(p, 2)
    _, loss, n = evaluate(p)
    log["loss"] = round(loss, 3)
    return p, n, log


# --------------------------------------------------------------------------------------------- entry
def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def calibrate_events(events: np.ndarray, instrument: Any, *, seed: int = 0, store: Optional[dict] = None,
                     progress: Optional[Callable[[str], None]] = None) -> Calibration:
    """Fit a twin to an EVENT_DTYPE array (one day or any window) and measure it at ``seed``."""
    real = stylised_facts(events)
    if progress:
        progress(f"real: {real.info['rows']:,} rows, {real.info['span_s']:,.0f} s, "
                 f"{real.info['aggressive_orders']:,} aggressive orders")
    params, n_rows, log = fit_twin(real, seed=seed, progress=progress)
    m = _simulate(params, n_rows, seed)
    twin = stylised_facts(m.events)
    from mmsim.analysis.stylised import aggressive_orders
    from mmsim.records import FLAG_INFORMED

    mo = aggressive_orders(m.events)
    share = float(((m.events["flags"][mo["first"]] & FLAG_INFORMED) != 0).mean()) if len(mo["first"]) else math.nan
    return Calibration(params=params, n_rows=n_rows, seed=int(seed), real=real, twin=twin, instrument=instrument,
                       store=store or {}, log=log, informed_share=share)


def calibrate_store(path: Any, *, seed: int = 0, rows: Optional[int] = None,
                    progress: Optional[Callable[[str], None]] = None) -> Calibration:
    """Fit a twin to an event store (its first ``rows`` rows when given). ConfigError / DataError on bad input."""
    from mmsim.data.store import EventStore

    store = EventStore(path)
    events = store.read(rows)
    if len(events) == 0:
        raise DataError(f"{path}: the store has no rows")
    info = {"name": Path(path).resolve().name, "events_sha256": file_sha256(Path(path) / "events.parquet"),
            "rows": int(len(events)), "time_zone": store.meta.get("time_zone", "UTC")}
    if rows is not None:
        info["rows_limit"] = int(rows)
    try:
        return calibrate_events(events, store.instrument, seed=seed, store=info, progress=progress)
    except DataError as e:
        raise DataError(f"{path}: {e}") from None


# --------------------------------------------------------------------------------------------- output
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        s = repr(_sig(x))
        return s if ("." in s or "e" in s or "n" in s) else s + ".0"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def twin_toml(cal: Calibration) -> str:
    """The twin as a scenario file (docs/calibrate.md): runnable with run, compare (``--seeds``) and sweep."""
    inst = cal.instrument
    st = cal.store
    lines = [
        f"# A synthetic twin of {st.get('name', 'a store')} written by `mmsim calibrate` (docs/calibrate.md).",
        "# The L3 order-flow market (docs/synthetic.md), preset quiet with every fitted parameter below;",
        "# [calibration] records the store it was fitted to and the stylised facts of both (mmsim.analysis.stylised).",
        "",
        "[scenario]",
        f"name = {_toml_value((Path(st.get('name', 'store')).stem or 'store') + '_twin')}",
        f"description = {_toml_value('Synthetic twin of ' + st.get('name', 'a store') + ' (mmsim calibrate)')}",
        "",
        "[instrument]",
        f"symbol = {_toml_value(inst.symbol or 'TWIN')}",
        f"tick_size = {_toml_value(float(inst.tick_size))}",
        f"lot_size = {_toml_value(float(inst.lot_size))}",
        "",
        "[source]",
        'kind = "synthetic_market"',
        f'preset = "{BASE_PRESET}"',
        f"n_rows = {cal.n_rows}",
        f"seed = {cal.seed}",
        # the venue's clock: the twin starts at the store's first second, so `12:00` means the same on both
        f"time_zone = {_toml_value(st.get('time_zone', 'UTC'))}",
    ]
    lines += [f"{k} = {_toml_value(cal.params[k])}" for k in FITTED]
    lines += [
        "",
        "[latency]",
        'feed = "lognormal:median=1ms,sigma=0.5"',
        'entry = "1ms"',
        'cancel = "1ms"',
        'response = "1ms"',
        'compute = "0"',
        "",
        "[engine]",
        'timer_interval = "100ms"',
        "",
        "[calibration]",
        f"store = {_toml_value(st.get('name', ''))}",
        f"store_events_sha256 = {_toml_value(st.get('events_sha256', ''))}",
        f"store_rows = {int(st.get('rows', cal.real.info['rows']))}",
        f"span_s = {_toml_value(cal.real.info['span_s'])}",
        f"fit_loss = {_toml_value(float(cal.log.get('loss', math.nan)))}",
        f"fit_evals = {int(cal.log.get('evals', 0))}",
        f"twin_informed_share = {_toml_value(cal.informed_share)}",
        "",
        "[calibration.real]",
        *(f"{r['fact']} = {_toml_value(r['real'])}" for r in cal.table()),
        "",
        "[calibration.twin]",
        *(f"{r['fact']} = {_toml_value(r['twin'])}" for r in cal.table()),
        "",
        "[calibration.tolerance]",
        *(f"{r['fact']} = {_toml_value(r['tol'])}" for r in cal.table()),
        "",
    ]
    return "\n".join(lines)


def write_twin(cal: Calibration, out: Any) -> Path:
    """Write the twin's TOML atomically (ConfigError naming --out when it cannot be written)."""
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a directory")
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(twin_toml(cal), encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot write: {e.strerror or e}") from None
    return out


def format_calibration(cal: Calibration) -> str:
    """The real-vs-twin table with each fact's tolerance and pass/fail, then the fitted parameters."""
    def f(x: Any) -> str:
        if x is None or (isinstance(x, float) and not math.isfinite(x)):
            return "–"
        return f"{x:,.4g}" if abs(x) < 1e5 else f"{x:,.0f}"

    rows = cal.table()
    out = [f"{'fact':<20} {'unit':<9} {'real':>11} {'twin':>11} {'tolerance':>11}  match"]
    for r in rows:
        ok = "–" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        out.append(f"{r['fact']:<20} {r['unit']:<9} {f(r['real']):>11} {f(r['twin']):>11} {f(r['tol']):>11}  {ok}")
    n_ok = sum(1 for r in rows if r["ok"])
    n = sum(1 for r in rows if r["ok"] is not None)
    out.append(f"{n_ok} of {n} facts within tolerance (|twin - real| <= max(abs, rel x |real|, 2 se))")
    p = cal.params
    out.append(f"fitted: half_spread {p['half_spread']:g}, level_qty {p['level_qty']:g}, order_qty {p['order_qty']:g}, "
               f"lp_rate {p['lp_rate']:g}/s, lp_lag {p['lp_lag']:g} s, informed_horizon {p['informed_horizon']:g} s, "
               f"sigma {p['sigma']:g} ticks/√s, noise_rate {p['noise_rate']:g}/s, informed_rate {p['informed_rate']:g}/s, "
               f"order size {p['noise_qty']:g}; twin informed share of market orders {cal.informed_share:.2f}")
    out.append(f"twin: {cal.n_rows:,} rows, seed {cal.seed}; fit: {cal.log.get('evals', 0)} simulations, "
               f"loss {cal.log.get('loss', math.nan):.1f}")
    return "\n".join(out)
