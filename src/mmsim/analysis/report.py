"""``mmsim report DIR``: one self-contained HTML page for a compare folder (or a single run folder).

(docs/report.md.) The page leads with the answer: one verdict line right under the title (the net saving per
path with its interval, where it stops paying if a sweep is there, the share of the clairvoyant bound if the
inputs carry one, the model's out-of-sample quality beside it, UNMATCHED ARMS when the arms' risk limits
differ), then the savings against feed latency, the pooled estimates with their rules, the markout curves, the
AS saving against horizon, the per-path table, and last the first path's time panels.

The page opens offline: no external URL of any kind; the figures are base64 PNGs drawn with matplotlib's Agg
renderer, the CSS is inline, and a tiny inline script marks ``document.body.dataset.rendered = "1"`` once the
page (and every figure) has loaded and writes any script error into the visible ``#errors`` element.

Inputs (never modified; only ``DIR/report.html`` is written, atomically):

- a **compare folder** (``mmsim compare … --out DIR``): ``compare.json`` (pooled over the paths: estimates,
  rules, markout curves, the AS saving against horizon, the per-path table; the first path's runs in detail),
  ``paths.parquet`` (read if compare.json has no ``paths``), and the first path's ``blocks.parquet``,
  ``baseline/`` and ``treated/`` (``fills.parquet``, ``summary.json``, ``markouts.parquet``);
- a **run folder** (``mmsim run … --out DIR``, or ``baseline/`` of a compare): ``summary.json`` and
  ``fills.parquet`` (``markouts.parquet`` if present) → a reduced report of that run;
- optionally a **sweep folder** (``mmsim sweep … --out SW``: ``sweep.parquet``, ``sweep.json``), given with
  ``sweep=`` or found at ``DIR/sweep``, for the savings-vs-latency section and the verdict's break-even.

Every key of compare.json / sweep.json is read defensively: a folder written by an older mmsim (one path, no
``paths``, ``markout_curves`` or ``as_saving_vs_horizon``) still gets a page, with the missing parts left out.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from mmsim.errors import DataError

__all__ = ["build_report", "write_report", "folder_kind"]

_NS = 1_000_000_000
#: A zero feed latency is drawn at this latency on the log axis (as ``mmsim sweep`` does).
ZERO_LATENCY_NS = 10_000
_COLORS = {"baseline": "#1f77b4", "treated": "#d62728"}
_GROUP_COLORS = ("#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_COMPONENTS = (("spread_capture", "spread capture", "#2ca02c"), ("adverse_selection", "adverse selection", "#d62728"),
               ("inventory", "inventory", "#9467bd"), ("fees", "fees (−)", "#8c564b"),
               ("net_pnl", "net PnL", "#000000"))
#: The pooled figures: key -> (label, what a positive value means). net = AS − SC + inv − fees.
_FIGURES = (("as_cost_saving", "adverse-selection cost saving", "treated loses less to adverse selection"),
            ("spread_capture_given_up", "spread capture given up", "treated captures less spread"),
            ("inventory_difference", "inventory PnL difference", "treated's inventory earns more"),
            ("fees_difference", "fees difference", "treated pays more fees"),
            ("net_pnl_difference", "net PnL difference (net saving)", "treated earns more, net"))
_PER_PATH = "quote currency per path"
_IDENTITY = "net = AS saving − spread capture given up + inventory difference − fees difference"


# --------------------------------------------------------------------------------------------- inputs
def folder_kind(path: Path) -> str:
    """``compare``, ``run`` or ``sweep``; DataError (one line) for anything else."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"report: {p}: no such folder")
    if not p.is_dir():
        raise DataError(f"report: {p}: not a folder (give a compare or run folder)")
    if (p / "compare.json").is_file():
        return "compare"
    if (p / "summary.json").is_file() and (p / "fills.parquet").is_file():
        return "run"
    if (p / "sweep.parquet").is_file():
        return "sweep"
    raise DataError(f"report: {p}: neither a compare folder (compare.json) nor a run folder (summary.json + "
                    "fills.parquet)")


def _read_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"report: {path}: cannot read ({e.__class__.__name__}: {e})") from None
    if not isinstance(doc, dict):
        raise DataError(f"report: {path}: not a JSON object")
    return doc


def _read_parquet(path: Path, columns: Optional[list] = None):
    import pandas as pd

    try:
        return pd.read_parquet(path, columns=columns)
    except FileNotFoundError:
        raise DataError(f"report: {path}: missing") from None
    except Exception as e:  # corrupt / not parquet
        raise DataError(f"report: {path}: cannot read ({e.__class__.__name__})") from None


def _load_run(d: Path, role: str) -> dict:
    if not (d / "summary.json").is_file() or not (d / "fills.parquet").is_file():
        raise DataError(f"report: {d}: the {role} run folder lacks summary.json or fills.parquet")
    fills = _read_parquet(d / "fills.parquet", ["exch_ts", "price", "qty", "side", "position"])
    mk = None
    if (d / "markouts.parquet").is_file():
        mk = _read_parquet(d / "markouts.parquet")
    return {"role": role, "summary": _read_json(d / "summary.json"), "fills": fills, "markouts": mk}


def _load_sweep(d: Path) -> dict:
    if not (d / "sweep.parquet").is_file():
        raise DataError(f"report: --sweep {d}: not a sweep folder (no sweep.parquet)")
    frame = _read_parquet(d / "sweep.parquet")
    meta = _read_json(d / "sweep.json") if (d / "sweep.json").is_file() else {}
    return {"dir": d, "frame": frame, "meta": meta}


def _path_rows(d: Path, cmp: dict) -> Optional[list]:
    """The per-path table: compare.json ``paths``, else ``paths.parquet``, else None (an older compare)."""
    rows = cmp.get("paths")
    if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
        return rows
    if (d / "paths.parquet").is_file():
        frame = _read_parquet(d / "paths.parquet")
        return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                for r in frame.to_dict("records")]
    return None


# --------------------------------------------------------------------------------------------- numbers
def _f(v: Any) -> Optional[float]:
    """A finite float, or None (None, NaN, inf, non-numbers)."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _num(v: Any, signed: bool = True, digits: int = 4) -> str:
    """``digits`` significant digits, fixed-point in the usual range: -0.4667, +6.280, +1,234."""
    x = _f(v)
    if x is None:
        return "n/a"
    sign = "+" if signed else ""
    if x == 0:
        return "0"
    a = abs(x)
    if 1e-3 <= a < 1e7:
        dec = max(0, digits - 1 - int(math.floor(math.log10(a))))
        return f"{x:{sign},.{dec}f}"
    return f"{x:{sign}.{digits - 1}e}"


def _ci(x: Any, signed: bool = True, fmt=None) -> str:
    """``[lo, hi]`` of an estimate dict, or "n/a"."""
    fmt = fmt or (lambda v: _num(v, signed))
    if not isinstance(x, dict) or _f(x.get("ci_low")) is None or _f(x.get("ci_high")) is None:
        return "n/a"
    return f"[{fmt(x['ci_low'])}, {fmt(x['ci_high'])}]"


def _significance(x: Any) -> str:
    if not isinstance(x, dict) or _f(x.get("estimate")) is None:
        return "no estimate"
    lo, hi = _f(x.get("ci_low")), _f(x.get("ci_high"))
    if lo is None or hi is None:
        return "no interval"
    if lo > 0:
        return "significantly positive: the treated quoter earns more"
    if hi < 0:
        return "significantly negative: the treated quoter earns less"
    return "not significantly different from zero"


def _lat_label(ns: Any) -> str:
    """A latency in ns as a short label: 0, 500 µs, 10 ms, 1.5 s."""
    x = _f(ns)
    if x is None:
        return "?"
    if x == 0:
        return "0"
    for unit, size in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if x >= size:
            return f"{x / size:.3g} {unit}"
    return f"{x:.3g} ns"


def _pct(v: Any) -> str:
    x = _f(v)
    return "n/a" if x is None else f"{100 * x:.3g} %"


# --------------------------------------------------------------------------------------------- figures
def _figure(w: float = 11.0, h: float = 3.6, ncols: int = 1, sharey: bool = False):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=90)
    axes = fig.subplots(1, ncols, sharey=sharey, squeeze=False)[0]
    return fig, axes


def _png(fig, alt: str, attrs: Optional[dict] = None) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    extra = "".join(f' {k}="{html.escape(str(v))}"' for k, v in (attrs or {}).items())
    return f'<img class="fig" alt="{html.escape(alt)}"{extra} src="data:image/png;base64,{data}">'


def _no_fills(ax, what: str = "no fills") -> None:
    ax.text(0.5, 0.5, what, ha="center", va="center", transform=ax.transAxes, fontsize=14, color="#888")
    # tick_params, not set_[xy]ticks: with sharey the latter would strip the neighbour panel's ticks too
    ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)


def _zone(runs: list[dict]) -> str:
    """The venue's time zone of the runs' data (summary.json ``time_zone``; UTC for older runs)."""
    return str((runs[0]["summary"] if runs else {}).get("time_zone") or "UTC")


#: steps of clock-time ticks, seconds: ticks fall on round times of the venue's clock
_CLOCK_STEPS = (0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)


def _clock_axis(ax, base_ns: int, zone: str) -> None:
    """An x axis of seconds since ``base_ns`` with ticks at round times of the venue's clock, labelled in it
    (mmsim.data.times), and the zone and date in the axis label."""
    from matplotlib.ticker import FuncFormatter, Locator

    from mmsim.data.times import format_clock, local_time, zone_label

    day, tod0 = local_time(base_ns, zone)

    class ClockLocator(Locator):
        def __call__(self):
            lo, hi = self.axis.get_view_interval()
            return self.tick_values(lo, hi)

        def tick_values(self, lo, hi):
            span = max(hi - lo, 1e-9)
            step = next((s for s in _CLOCK_STEPS if span / s <= 7), _CLOCK_STEPS[-1])
            step_ns = int(round(step * _NS))
            k = -(-(tod0 + int(lo * _NS)) // step_ns)
            out = []
            while (k * step_ns - tod0) / _NS <= hi and len(out) < 50:
                out.append((k * step_ns - tod0) / _NS)
                k += 1
            return out

    def fmt(x: float, _pos: object) -> str:
        lo, hi = ax.get_xlim()
        span = hi - lo
        digits = 0 if span >= 10 else (1 if span >= 1 else 3)
        text = format_clock(base_ns + int(round(x * _NS)), zone, digits)
        return text[:-3] if span >= 600 and text.endswith(":00") else text

    ax.xaxis.set_major_locator(ClockLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(fmt))
    ax.set_xlabel(f"exchange time, {zone_label(zone)} ({day.isoformat()})")


def _fig_decomposition(blocks, block_ns: int, roles: list[str], zone: str = "UTC") -> str:
    fig, axes = _figure(ncols=len(roles), sharey=True)
    t0 = int(blocks["start_ts"].iloc[0]) if len(blocks) else 0
    x = (blocks["start_ts"].to_numpy(np.int64) - t0 + block_ns) / _NS
    for ax, role in zip(axes, roles):
        n = int(blocks[f"{role}_n_fills"].sum()) if f"{role}_n_fills" in blocks else 0
        ax.set_title(f"{role}: cumulative PnL decomposition")
        if n == 0:
            _no_fills(ax)
            continue
        for key, label, color in _COMPONENTS:
            col = f"{role}_{key}"
            if col not in blocks:
                continue
            y = blocks[col].to_numpy(float)
            y = -y if key == "fees" else y
            ax.step(np.r_[0.0, x], np.r_[0.0, np.cumsum(y)], where="post", label=label, color=color,
                    lw=2.0 if key == "net_pnl" else 1.3)
        ax.axhline(0, color="#999", lw=0.6)
        _clock_axis(ax, t0, zone)
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("quote currency")
    return _png(fig, "cumulative PnL decomposition")


def _fig_decomposition_fills(run: dict) -> str:
    """Reduced report: cumulative spread capture / adverse selection / markout per fill (ticks·lots)."""
    fig, axes = _figure()
    ax = axes[0]
    mk = run["markouts"]
    ax.set_title(f"{run['role']}: cumulative decomposition by fill (ticks·lots)")
    if mk is None or len(mk) == 0:
        _no_fills(ax, "no fills" if mk is not None else "no markouts.parquet")
        return _png(fig, "decomposition")
    t = (mk["exch_ts"].to_numpy(np.int64) - int(mk["exch_ts"].iloc[0])) / _NS
    for col, label, color in (("spread_capture", "spread capture", "#2ca02c"),
                              ("as_decomp", "adverse selection", "#d62728"),
                              ("inventory", "inventory", "#9467bd")):
        if col in mk:
            ax.step(t, np.nancumsum(mk[col].to_numpy(float)), where="post", label=label, color=color)
    ax.axhline(0, color="#999", lw=0.6)
    _clock_axis(ax, int(mk["exch_ts"].iloc[0]), _zone([run]))
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig, "decomposition")


def _fig_inventory(runs: list[dict], t0: Optional[int]) -> str:
    fig, axes = _figure(h=3.0)
    ax = axes[0]
    ax.set_title("inventory (position, lots)")
    any_fill = False
    for run in runs:
        f = run["fills"]
        if len(f) == 0:
            continue
        any_fill = True
        base = t0 if t0 is not None else int(f["exch_ts"].iloc[0])
        t = (f["exch_ts"].to_numpy(np.int64) - base) / _NS
        ax.step(np.r_[t[0], t], np.r_[0, f["position"].to_numpy()], where="post", label=run["role"],
                color=_COLORS.get(run["role"], "#333"), lw=1.2, alpha=0.85)
    if not any_fill:
        _no_fills(ax)
    else:
        ax.axhline(0, color="#999", lw=0.6)
        _clock_axis(ax, base, _zone(runs))
        ax.legend(fontsize=8)
    return _png(fig, "inventory")


def _markout_table(mk) -> dict:
    """{group: (labels, ns, per-lot markout in ticks)} for all fills and, if labelled, informed/noise."""
    from mmsim.analysis.markouts import parse_horizon

    cols = [c for c in mk.columns if c.startswith("markout_") and not c.endswith("_ccy")]
    hs = sorted(((parse_horizon(c[len("markout_"):]), c[len("markout_"):]) for c in cols))
    groups = {"all fills": np.ones(len(mk), bool)}
    if "counterparty" in mk:
        cp = mk["counterparty"].astype(str).to_numpy()
        for g in ("informed", "noise"):
            if (cp == g).any():
                groups[g] = cp == g
    out = {}
    qty = mk["qty"].to_numpy(float)
    for g, sel in groups.items():
        vals = []
        for ns, lab in hs:
            m = mk[f"markout_{lab}"].to_numpy(float)
            ok = sel & np.isfinite(m)
            vals.append(m[ok].sum() / qty[ok].sum() if qty[ok].sum() > 0 else np.nan)
        out[g] = ([lab for _, lab in hs], [ns for ns, _ in hs], vals)
    return out


def _fig_markouts(runs: list[dict]) -> str:
    fig, axes = _figure(h=3.6)
    ax = axes[0]
    ax.set_title("markout per lot by horizon (ticks): baseline vs treated")
    styles = {"all fills": "-", "informed": "--", "noise": ":"}
    drew, labels = False, None
    for run in runs:
        mk = run["markouts"]
        if mk is None or len(mk) == 0:
            continue
        for g, (labs, ns, vals) in _markout_table(mk).items():
            ax.plot(ns, vals, marker="o", ls=styles.get(g, "-"), color=_COLORS.get(run["role"], "#333"),
                    label=f"{run['role']} – {g}")
            drew, labels = True, (ns, labs)
    if not drew:
        missing = all(r["markouts"] is None for r in runs)
        _no_fills(ax, "no markouts.parquet" if missing else "no fills")
        return _png(fig, "markouts")
    ax.set_xscale("log")
    ax.set_xticks(labels[0])
    ax.set_xticklabels(labels[1])
    ax.axhline(0, color="#999", lw=0.6)
    ax.set_xlabel("horizon")
    ax.set_ylabel("ticks per lot")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(fig, "markouts")


def _fig_price_path(runs: list[dict], t0: Optional[int]) -> str:
    fig, axes = _figure(h=3.4, ncols=len(runs), sharey=True)
    for ax, run in zip(axes, runs):
        f = run["fills"]
        ax.set_title(f"{run['role']}: fills on the price path (ticks)")
        if len(f) == 0:
            _no_fills(ax)
            continue
        base = t0 if t0 is not None else int(f["exch_ts"].iloc[0])
        t = (f["exch_ts"].to_numpy(np.int64) - base) / _NS
        mk = run["markouts"]
        if mk is not None and "mid_fill" in mk and len(mk) == len(f):
            ax.step(t, mk["mid_fill"].to_numpy(float), where="post", color="#777", lw=0.9, label="mid at fill")
        side = f["side"].to_numpy()
        p = f["price"].to_numpy(float)
        buy = side > 0
        ax.scatter(t[buy], p[buy], marker="^", s=14, color="#2ca02c", label="buy", zorder=3)
        ax.scatter(t[~buy], p[~buy], marker="v", s=14, color="#d62728", label="sell", zorder=3)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        _clock_axis(ax, base, _zone(runs))
        ax.legend(fontsize=7, loc="upper left")
    return _png(fig, "fills on the price path")


def _log_ticks(ax, ns: list, labels: list, rotate: bool = False) -> None:
    """Ticks exactly at the given points of a log x axis, no minor ticks."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ns))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels(labels, fontsize=7, rotation=45 if rotate else 0, ha="right" if rotate else "center",
                       rotation_mode="anchor" if rotate else "default")


def _band(ax, x, lo, hi, color, alpha=0.18) -> None:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        ax.fill_between(np.asarray(x, float), lo, hi, where=ok, alpha=alpha, color=color, lw=0)


def _sweep_groups(frame) -> list:
    """[(label, key dict, rows sorted by feed latency)] per compute latency (× treated parameters)."""
    group_cols = [c for c in ["compute_latency"] + [c for c in frame.columns if c.startswith("param_")]
                  if c in frame]
    if not group_cols:
        return [("", {}, frame)]
    out = []
    for key, g in frame.groupby(group_cols, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        kd = dict(zip(group_cols, key))
        label = ", ".join(f"compute {v}" if c == "compute_latency" else f"{c[6:]}={v}" for c, v in kd.items())
        if "feed_latency_ns" in g:
            g = g.sort_values("feed_latency_ns", kind="stable")
        out.append((label, kd, g))
    return out


def _break_even_for(be: list, kd: dict) -> Optional[dict]:
    for x in be:
        if isinstance(x, dict) and all(str(x.get(c)) == str(v) for c, v in kd.items()):
            return x
    return None


def _fig_sweep(sw: dict) -> str:
    """The net saving per path against feed latency (log axis; 0 drawn at 10 µs) with its interval band and the
    break-even latency (dotted, its interval shaded), then one panel per part below it."""
    from matplotlib.figure import Figure

    frame = sw["frame"]
    be = (sw["meta"].get("break_even") or []) if isinstance(sw["meta"].get("break_even"), list) else []
    groups = _sweep_groups(frame)
    fig = Figure(figsize=(11.0, 6.6), dpi=90)
    gs = fig.add_gridspec(2, 3, height_ratios=[1.35, 1.0])
    ax = fig.add_subplot(gs[0, :])
    parts = [("as_cost_saving", "AS-cost saving"), ("spread_capture_given_up", "spread capture given up"),
             ("inventory_difference", "inventory difference")]
    pax = [fig.add_subplot(gs[1, j], sharex=ax) for j in range(3)]
    if "feed_latency_ns" in frame:
        ns_all = frame["feed_latency_ns"].to_numpy(float)
    else:  # an old sweep.parquet without latencies in ns: points in order, still on a log axis
        ns_all = np.geomspace(1e6, 1e6 * 10 ** (len(frame) - 1), len(frame)) if len(frame) else np.zeros(0)
        frame = frame.assign(feed_latency_ns=ns_all)
        groups = _sweep_groups(frame)
    xs = np.maximum(np.nan_to_num(ns_all, nan=ZERO_LATENCY_NS), ZERO_LATENCY_NS)
    ticks = sorted(set(float(v) for v in xs))
    raw = np.nan_to_num(ns_all, nan=ZERO_LATENCY_NS)
    tick_labels = []
    for t in ticks:
        lab = _lat_label(t)
        if t == ZERO_LATENCY_NS and (raw < ZERO_LATENCY_NS).any():
            lab = "0\n(drawn at 10 µs)" if (raw[raw <= ZERO_LATENCY_NS] == 0).all() else "≤ 10 µs"
        tick_labels.append(lab)
    for gi, (label, kd, g) in enumerate(groups):
        color = _GROUP_COLORS[gi % len(_GROUP_COLORS)]
        x = np.maximum(np.nan_to_num(g["feed_latency_ns"].to_numpy(float), nan=ZERO_LATENCY_NS), ZERO_LATENCY_NS)
        b = _break_even_for(be, kd)
        status = (b or {}).get("status")
        name = f"net saving ({label})" if label else "net saving"
        if "net_pnl_difference" in g:
            ax.plot(x, g["net_pnl_difference"].to_numpy(float), marker="o", color=color, lw=2,
                    label=name + (f": {status}" if status else ""))
            if "net_pnl_difference_lo" in g and "net_pnl_difference_hi" in g:
                _band(ax, x, g["net_pnl_difference_lo"], g["net_pnl_difference_hi"], color)
        if b and _f(b.get("break_even_ns")):
            xb = max(float(b["break_even_ns"]), ZERO_LATENCY_NS)
            ax.axvline(xb, color=color, ls=":", lw=1.5)
            ci = b.get("break_even_ci_ns") or [None, None]
            lo = _f(ci[0]) if len(ci) > 0 else None
            hi = _f(ci[1]) if len(ci) > 1 else None
            if lo is not None:
                ax.axvspan(max(lo, ZERO_LATENCY_NS), max(hi, ZERO_LATENCY_NS) if hi is not None else max(ticks) * 3,
                           color=color, alpha=0.07, lw=0)
            ax.annotate(f"break-even {_lat_label(b['break_even_ns'])}", (xb, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -12), textcoords="offset points", fontsize=8, color=color)
        for pa, (col, pname) in zip(pax, parts):
            if col not in g:
                continue
            pa.plot(x, g[col].to_numpy(float), marker=".", color=color, label=label or None)
            if f"{col}_lo" in g and f"{col}_hi" in g:
                _band(pa, x, g[f"{col}_lo"], g[f"{col}_hi"], color, alpha=0.14)
    ax.set_title("net saving per path vs feed latency (95 % interval band; dotted: break-even, shaded: its interval)",
                 fontsize=10)
    ax.set_ylabel("net saving\n(quote currency per path)")
    ax.legend(fontsize=7, loc="best")
    for pa, (col, pname) in zip(pax, parts):
        pa.set_title(pname + ("" if col in frame else " (not in this sweep)"), fontsize=9)
        pa.set_xlabel("feed latency (log scale)", fontsize=8)
        pa.tick_params(labelsize=7)
        if len(groups) > 1:
            pa.legend(fontsize=6)
    pax[0].set_ylabel("quote currency per path", fontsize=8)
    for a in [ax] + pax:
        a.axhline(0, color="#999", lw=0.8)
    if ticks:
        _log_ticks(ax, ticks, tick_labels)
        for pa in pax:
            _log_ticks(pa, ticks, tick_labels)
        ax.set_xlim(min(ticks) / 2, max(ticks) * 2)
    ax.set_xlabel("feed latency (log scale; a zero latency is drawn at 10 µs)", fontsize=8)
    return _png(fig, "savings vs feed latency (log latency axis)", {"data-xscale": ax.get_xscale(), "id": "fig-sweep"})


def _curve(c: dict, key: str) -> np.ndarray:
    v = c.get(key)
    if not isinstance(v, list):
        return np.array([])
    return np.array([np.nan if _f(x) is None else float(x) for x in v])


def _fig_markout_curves(cmp: dict) -> Optional[str]:
    """Pooled markout per lot (ticks) against horizon for both arms (log horizon axis), ±2 s.e. across paths;
    a second panel informed / uninformed fills where the data are labelled. The chosen horizon is marked."""
    from mmsim.analysis.markouts import parse_horizon

    mc = cmp.get("markout_curves")
    if not isinstance(mc, dict) or not any(isinstance(mc.get(r), dict) for r in ("baseline", "treated")):
        return None
    labelled = any(isinstance(mc.get(r), dict) and mc[r].get("labelled") and
                   mc[r].get("informed_per_lot_ticks") is not None for r in ("baseline", "treated"))
    fig, axes = _figure(h=3.8, ncols=2 if labelled else 1, sharey=True)
    H = _f(cmp.get("horizon_ns"))
    ticks: list = []
    core: list = []   # values at horizons where most of the arm's lots have a markout: they set the y range
    for role in ("baseline", "treated"):
        c = mc.get(role)
        if not isinstance(c, dict) or not isinstance(c.get("horizons"), list):
            continue
        try:
            ns = np.array([parse_horizon(h) for h in c["horizons"]], float)
        except Exception:
            continue
        ticks = list(zip(ns, c["horizons"])) if len(ns) > len(ticks) else ticks
        color = _COLORS[role]
        y, se = _curve(c, "per_lot_ticks"), _curve(c, "se")
        lots = _curve(c, "lots")
        dense = (lots >= 0.5 * np.nanmax(lots)) if len(lots) == len(ns) and np.nanmax(lots, initial=0) > 0 else \
            np.ones(len(ns), bool)
        if len(y) == len(ns):
            axes[0].plot(ns, y, marker="o", ms=3, color=color, label=f"{role}: all fills")
            core += list(y[dense])
            if len(se) == len(ns):
                _band(axes[0], ns, y - 2 * se, y + 2 * se, color, alpha=0.15)
                core += list((y + 2 * se)[dense]) + list((y - 2 * se)[dense])
        if labelled:
            for key, ls, name in (("informed_per_lot_ticks", "--", "informed"),
                                  ("uninformed_per_lot_ticks", ":", "uninformed")):
                yy = _curve(c, key)
                if len(yy) == len(ns):
                    axes[1].plot(ns, yy, marker=".", ls=ls, color=color, label=f"{role}: {name} fills")
                    core += list(yy[dense])

    if not ticks:
        return None
    core_ = np.array([v for v in core if np.isfinite(v)])
    if len(core_):
        lo, hi = min(core_.min(), 0.0), max(core_.max(), 0.0)
        pad = 0.08 * (hi - lo or 1.0)
        axes[0].set_ylim(lo - pad, hi + pad)
    for j, ax in enumerate(axes):
        ax.axhline(0, color="#999", lw=0.6)
        if H:
            ax.axvline(H, color="#555", ls="-.", lw=1.2, label=f"chosen horizon {cmp.get('horizon', '')}")
        _log_ticks(ax, [t for t, _ in ticks], [lab for _, lab in ticks], rotate=True)
        ax.set_xlabel("horizon (log scale)")
        ax.legend(fontsize=7)
    axes[0].set_title("markout per lot, all fills (band: ±2 s.e. across paths)", fontsize=10)
    axes[0].set_ylabel("ticks per lot (pooled over paths)")
    if labelled:
        axes[1].set_title("markout per lot by counterparty (ground truth)", fontsize=10)
    return _png(fig, "markout curves of both arms (log horizon axis)", {"data-xscale": axes[0].get_xscale(),
                                                                          "id": "fig-markouts"})


def _fig_as_vs_horizon(cmp: dict) -> Optional[str]:
    rows = cmp.get("as_saving_vs_horizon")
    if not isinstance(rows, list):
        return None
    pts = []
    for r in rows:
        if not isinstance(r, dict):
            continue
        e = r.get("as_cost_saving") or {}
        ns = _f(r.get("horizon_ns"))
        if ns is None or ns <= 0 or not isinstance(e, dict):
            continue
        pts.append((ns, str(r.get("horizon", _lat_label(ns))), _f(e.get("estimate")), _f(e.get("ci_low")),
                    _f(e.get("ci_high"))))
    if not pts:
        return None
    pts.sort()
    nan = float("nan")
    x = np.array([p[0] for p in pts])
    y, lo, hi = (np.array([nan if p[i] is None else p[i] for p in pts]) for i in (2, 3, 4))
    fig, axes = _figure(h=3.2)
    ax = axes[0]
    ax.plot(x, y, marker="o", ms=3, color="#d62728", label="AS-cost saving (95 % interval band)")
    _band(ax, x, lo, hi, "#d62728")
    ax.axhline(0, color="#999", lw=0.6)
    H = _f(cmp.get("horizon_ns"))
    if H:
        ax.axvline(H, color="#555", ls="-.", lw=1.2, label=f"chosen horizon {cmp.get('horizon', '')}")
    _log_ticks(ax, list(x), [p[1] for p in pts], rotate=True)
    ax.set_xlabel("horizon at which adverse selection is measured (log scale)")
    ax.set_ylabel(_PER_PATH)
    ax.set_title("adverse-selection cost saving vs horizon", fontsize=10)
    ax.legend(fontsize=7)
    return _png(fig, "AS saving vs horizon (log horizon axis)", {"data-xscale": ax.get_xscale(),
                                                                 "id": "fig-as-horizon"})


# --------------------------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;
max-width:1100px;padding:16px 24px;color:#222;background:#fff}
h1{font-size:1.5em;margin:.2em 0} h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:1.6em}
h3{font-size:1em;margin:1.1em 0 .3em}
table{border-collapse:collapse;font-size:.88em;margin:.2em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} th{background:#f4f4f4}
tr.net td,tr.net th{font-weight:bold}
.status-ok{color:#1a7f37;font-weight:bold}.status-partial{color:#b35900;font-weight:bold}
.warn{background:#fff6e0;border-left:4px solid #e0a000;padding:4px 10px;margin:3px 0;font-size:.9em}
.warn.bad{background:#fde8e8;border-left-color:#c00000;font-weight:bold}
.note{color:#666;font-style:italic} img.fig{max-width:100%;display:block;margin:.4em 0}
.scroll{overflow-x:auto;max-width:100%;margin:.3em 0} td{overflow-wrap:anywhere}
.scroll.tall{max-height:26em;overflow-y:auto} .scroll.tall th{position:sticky;top:0;z-index:1}
tr.flagged td{background:#fff1c2} td.flag{color:#b35900;font-weight:bold;white-space:nowrap}
#errors{color:#b00020;white-space:pre-wrap} #errors:empty{display:none} .meta{color:#555;font-size:.9em}
.cap{color:#444;font-size:.85em;margin:.15em 0 .5em}
.verdict{border:1px solid #ccc;border-left:6px solid #888;background:#fafafa;padding:8px 14px;margin:.5em 0 .6em}
.verdict.pos{border-left-color:#1a7f37}.verdict.neg{border-left-color:#c00000}
.verdict-line{font-size:1.12em;margin:.1em 0;line-height:1.45}.verdict-side{margin:.35em 0 .1em;font-size:.92em}
.badge{display:inline-block;padding:1px 7px;border-radius:3px;font-weight:bold;font-size:.9em}
.badge.bad{background:#c00000;color:#fff}.mq-useful{color:#1a7f37;font-weight:bold}
.mq-weak,.mq-unknown{color:#b35900;font-weight:bold}.mq-bad{color:#c00000;font-weight:bold}
.banner{background:#c00000;color:#fff;font-weight:bold;padding:6px 12px;margin:.4em 0;border-radius:3px}
.unit{color:#555;font-size:.88em;font-weight:normal}
table.wide{width:100%}
"""

_JS = """
window.addEventListener('error',function(ev){var e=document.getElementById('errors');
if(e){e.textContent+=String(ev.message||'resource failed to load')+'\\n';}},true);
window.addEventListener('load',function(){var bad=0,imgs=document.images;
for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||imgs[i].naturalWidth===0){bad++;}}
if(bad){document.getElementById('errors').textContent+=bad+' figure(s) failed to render\\n';}
document.body.dataset.rendered='1';});
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(float(v)):
            return "n/a"
        return f"{float(v):+,.4f}" if signed else f"{float(v):,.4f}"
    return str(v)


def _scroll(table: str, tall: bool = False, ident: str = "") -> str:
    """Every table sits in a div that scrolls sideways when it is wider than the page."""
    idattr = f' id="{ident}"' if ident else ""
    return f'<div class="scroll{" tall" if tall else ""}"{idattr}>{table}</div>'


def _cap(text: str) -> str:
    """A caption (HTML) under a figure or table: what it shows and its units."""
    return f"<p class=cap>{text}</p>"


def _kv_table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt(v) if not isinstance(v, str) else v)}</td></tr>"
                   for k, v in rows)
    return _scroll(f"<table>{body}</table>")


def _settings_rows(cmp: Optional[dict], summary: dict) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    if cmp is not None:
        for k in ("scenario", "source", "n_paths", "n_events", "events_hash", "horizon", "bin", "block", "n_blocks",
                  "n_boot", "seed", "confidence", "fill_mid", "units", "model"):
            if k in cmp and not isinstance(cmp[k], (dict, list)):
                rows.append((k, cmp[k] if k != "events_hash" else str(cmp[k])[:16] + "…"))
        for k, v in sorted((cmp.get("settings") or {}).items()):
            rows.append((f"settings.{k}", v if not isinstance(v, (dict, list)) else json.dumps(v)))
    for k in ("engine", "mode", "seed", "source", "n_events", "n_decisions", "n_orders", "wall_s",
              "events_per_s", "strategy_spec", "decision_chain"):
        if k in summary and not any(r[0] in (k, f"settings.{k}") for r in rows):
            rows.append((f"first path run.{k}" if cmp is not None else f"run.{k}", summary[k]))
    return rows


def _sweep_mismatch(cmp: dict, sw: Optional[dict]) -> list[str]:
    """A sweep of another experiment must not pass for this compare's: name what differs."""
    meta = (sw or {}).get("meta") or {}
    spec = meta.get("spec") or {}
    if not spec or not isinstance(cmp, dict):
        return []
    strategies = cmp.get("strategies") or {}
    # compare records the scenario's name, sweep the scenario as typed (a path) and, since, its name too
    pairs = [("scenario", cmp.get("scenario"), meta.get("scenario_name", spec.get("scenario"))),
             ("baseline", strategies.get("baseline"), spec.get("baseline")),
             ("treated", strategies.get("treated"), spec.get("treated")),
             ("model", cmp.get("model"), spec.get("model"))]
    diff = [f"{k} {a!r} vs {b!r}" for k, a, b in pairs if a is not None and b is not None and str(a) != str(b)]
    if (cmp.get("model") is None) != (spec.get("model") is None):
        diff.append(f"model {cmp.get('model')!r} vs {spec.get('model')!r}")
    if not diff:
        return []
    return ["THE SWEEP IS ANOTHER EXPERIMENT: its " + "; ".join(diff) + " (compare vs sweep): the latency section "
            "and the break-even do not describe this compare"]


# --------------------------------------------------------------------------------------------- the verdict
def _bound(docs: list) -> Optional[str]:
    """The share of the clairvoyant (oracle) bound, when compare.json or sweep.json carries one: a ``bound``
    section (or an ``oracle`` section with a ``share_of_bound``). The share is a fraction (0.42 = 42 %), a
    number or an estimate dict (estimate, ci_low, ci_high); a ``text`` / ``status`` string is shown as given.
    None when there is no such section (the page then says nothing about it)."""
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        for key in ("bound", "oracle"):
            b = doc.get(key)
            if key == "oracle" and not (isinstance(b, dict) and "share_of_bound" in b):
                continue
            if isinstance(b, str) and b.strip():
                return _e(b)
            if not isinstance(b, dict):
                continue
            share = b.get("share_of_bound", b.get("share"))
            what = "of the clairvoyant bound"
            if isinstance(share, dict) and isinstance(share.get("as_cost_saving"), dict):  # mmsim compare/sweep
                share, what = share["as_cost_saving"], "of the clairvoyant bound's adverse-selection saving"
            text = next((b[k] for k in ("text", "status", "verdict") if isinstance(b.get(k), str) and b[k]), None)
            if isinstance(share, dict) and _f(share.get("estimate")) is not None:
                ci = _ci(share, fmt=_pct)
                s = f"<b>{_e(_pct(share['estimate']))}</b> {what}" + (f" {_e(ci)}" if ci != "n/a" else "")
            elif _f(share) is not None:
                s = f"<b>{_e(_pct(share))}</b> {what}"
            elif text:
                return f"clairvoyant bound: {_e(text)}"
            else:
                continue
            who = b.get("oracle") or b.get("strategy")
            if isinstance(who, str) and who:
                s += f" <span class=unit>(bound: {_e(who)})</span>"
            elif text:
                s += f" <span class=unit>({_e(text)})</span>"
            return s
    return None


def _model_quality(cmp: Optional[dict], sw: Optional[dict]) -> tuple[str, bool]:
    """(HTML beside the verdict, whether the model is no better than chance); ("", False) without a model."""
    mq = (cmp or {}).get("model_quality") or ((sw or {}).get("meta") or {}).get("model_quality")
    if not isinstance(mq, dict) or not mq:
        return "", False
    v = str(mq.get("verdict") or "unknown")
    bad = v == "no better than chance"
    cls = "mq-bad" if bad else ("mq-useful" if v == "useful" else "mq-weak")
    o = mq.get("out_of_sample") if isinstance(mq.get("out_of_sample"), dict) else {}
    names = (("r2", "R²"), ("auc", "AUC"), ("hit_rate", "hit rate"))
    reason = str(mq.get("reason") or "")
    facts = [f"{name} {_num(o.get(k), False, 3)}" for k, name in names
             if _f(o.get(k)) is not None and f"{name} " not in reason]   # not what the reason already says
    if _f(o.get("n")) is not None:
        facts.append(f"n {int(float(o['n'])):,}")
    detail = "; ".join(x for x in [reason] +
                       (["out of sample " + ", ".join(facts)] if facts else []) +
                       ([f"trained on {mq['trained_on']}"] if mq.get("trained_on") else []) if x)
    side = (f"<p class=verdict-side id=model-quality>model quality: <span class={cls}>{'⚠ ' if bad else ''}"
            f"{_e(v)}</span>{' <span class=unit>(' + _e(detail) + ')</span>' if detail else ''}</p>")
    return side, bad


def _sweep_status(sw: Optional[dict]) -> Optional[str]:
    """The sweep's break-even status per compute profile, joined (HTML), or None without a sweep."""
    if sw is None:
        return None
    be = sw["meta"].get("break_even")
    if not isinstance(be, list) or not be:
        return None
    out = []
    for x in be:
        if not isinstance(x, dict):
            continue
        st = x.get("status") or (f"break-even at {x['break_even_feed_latency']}" if x.get("break_even_feed_latency")
                                 else "break-even not reached")
        who = [f"compute {x['compute_latency']}"] if "compute_latency" in x else []
        who += [f"{k[6:]}={v}" for k, v in x.items() if k.startswith("param_")]
        out.append((", ".join(who), st))
    if not out:
        return None
    if len(out) == 1:
        return f"stops paying: <b>{_e(out[0][1])}</b> <span class=unit>(feed latency, {_e(out[0][0])})</span>"
    return "stops paying (feed latency): " + "; ".join(f"{_e(w)}: <b>{_e(s)}</b>" for w, s in out)


def _verdict(cmp: Optional[dict], sw: Optional[dict], run_summary: Optional[dict], unmatched: bool) -> str:
    """The first thing under the title: one line with the answer, model quality beside it."""
    bits, cls = [], ""
    badge = '<span class="badge bad">UNMATCHED ARMS</span> ' if unmatched else ""
    if cmp is not None:
        net = (cmp.get("estimates") or {}).get("net_pnl_difference")
        pct = int(round(100 * (_f(cmp.get("confidence")) or 0.95)))
        n = cmp.get("n_paths")
        paths = f"{int(n)} path{'s' if int(n) != 1 else ''}" if _f(n) is not None else "one path"
        sig = _significance(net)
        if isinstance(net, dict) and _f(net.get("estimate")) is not None:
            lo, hi = _f(net.get("ci_low")), _f(net.get("ci_high"))
            cls = " pos" if lo is not None and lo > 0 else (" neg" if hi is not None and hi < 0 else "")
            bits.append(f"Net saving <b id=net-estimate>{_e(_num(net['estimate']))}</b> per path "
                        f"<b id=net-ci>{_e(_ci(net))}</b> <span class=unit>({pct} % interval; {_e(_PER_PATH)}; "
                        f"{_e(paths)}; {_e(sig)})</span>")
        else:
            bits.append(f"Net saving: <b>no estimate</b> <span class=unit>({_e(paths)}; no fills in either arm)"
                        "</span>")
    else:
        s = run_summary or {}
        bits.append(f"Single run (no comparison): net PnL <b id=net-estimate>{_e(_num(s.get('pnl')))}</b> "
                    f"<span class=unit>(quote currency; {_e(_fmt(s.get('n_fills')))} fills)</span>")
    st = _sweep_status(sw)
    if st:
        bits.append(st)
    b = _bound([cmp, (sw or {}).get("meta")])
    if b:
        bits.append(b)
    side, _ = _model_quality(cmp, sw)
    return f'<div id="verdict" class="verdict{cls}"><p class=verdict-line>{badge}{" · ".join(bits)}</p>{side}</div>'


def _top_notes(cmp: Optional[dict], sw: Optional[dict], warnings: list, unmatched: bool) -> tuple[str, list]:
    """The UNMATCHED ARMS banner and the model warning (right under the verdict), and the remaining warnings."""
    out, rest = [], []
    um = [w for w in warnings if str(w).startswith("UNMATCHED ARMS")]
    chance = [w for w in warnings if "no better than chance" in str(w)]
    if unmatched:
        text = um[0] if um else ("UNMATCHED ARMS: the arms' risk limits differ; the difference includes the effect "
                                 "of the different limits")
        out.append(f'<div class=banner id=unmatched>{_e(text)}</div>')
    _, bad = _model_quality(cmp, sw)
    if bad:
        text = chance[0] if chance else ("the model is no better than chance out of sample: a saving here comes "
                                         "from something other than prediction")
        out.append(f'<div class="warn bad" id=model-warning>⚠ {_e(text)}</div>')
    for w in warnings:
        if (unmatched and w in um) or (bad and w in chance):
            continue
        rest.append(w)
    return "".join(out), rest


# --------------------------------------------------------------------------------------------- sections
def _sweep_section(sw: Optional[dict], searched: list[Path], shown: tuple = ()) -> str:
    """Savings vs feed latency: the figure, the break-even per compute profile, the points (``shown``:
    warnings already on the page, not repeated)."""
    head = "<h2>Savings vs latency</h2>"
    if sw is None:
        where = " or ".join(str(p) for p in searched)
        return (head + "<p class=note>No sweep available (looked for "
                f"{_e(where)}; give one with <code>--sweep DIR</code>, made by <code>mmsim sweep … --out DIR</code>)."
                "</p>")
    frame, meta = sw["frame"], sw["meta"]
    parts = [head]
    rules = []
    if _f(meta.get("n_paths")) is not None:
        rules.append(f"{int(meta['n_paths'])} paths per point")
    if meta.get("horizon"):
        rules.append(f"horizon {meta['horizon']}" + (f" ({meta['horizon_rule']})" if meta.get("horizon_rule") else ""))
    if meta.get("block"):
        rules.append(f"blocks of {meta['block']}" + (f" ({meta['block_rule']})" if meta.get("block_rule") else ""))
    parts.append(f"<p class=meta>sweep folder {_e(sw['dir'])}" + (f" · {_e('; '.join(rules))}" if rules else "")
                 + "</p>")
    for w in meta.get("warnings") or []:
        if str(w) not in shown:
            parts.append(f"<div class=warn>sweep: {_e(w)}</div>")
    if len(frame):
        parts.append(_fig_sweep(sw))
        parts.append(_cap("Top: the net saving of treated over baseline, mean per path in quote currency, at each "
                          "feed latency (log scale; a zero latency is drawn at 10 µs), with its 95 % two-level "
                          "bootstrap band; the dotted line is the break-even latency and the shaded span its "
                          "interval. Below, its parts on their own panels (quote currency per path): AS-cost "
                          "saving, spread capture given up, inventory difference; net = AS saving − spread "
                          "capture given up + inventory difference − fees difference."))
    be = meta.get("break_even") or []
    be = [x for x in be if isinstance(x, dict)] if isinstance(be, list) else []
    if be:
        keys = sorted({k for x in be for k in x if k.startswith("param_")})

        def lat_ci(x: dict) -> str:
            ci = x.get("break_even_ci_ns")
            if not isinstance(ci, list) or len(ci) != 2 or _f(ci[0]) is None:
                return ""
            return f"[{_lat_label(ci[0])}, {_lat_label(ci[1]) if _f(ci[1]) is not None else '> the slowest swept'}]"

        def vms(x: dict) -> str:
            if _f(x.get("value_of_ms")) is None:
                return "n/a"
            ci = x.get("value_of_ms_ci") or [None, None]
            s = _num(x["value_of_ms"])
            if isinstance(ci, list) and len(ci) == 2 and _f(ci[0]) is not None and _f(ci[1]) is not None:
                s += f" [{_num(ci[0])}, {_num(ci[1])}]"
            btw = x.get("value_of_ms_between")
            if isinstance(btw, list) and len(btw) == 2:
                s += f" (between {btw[0]} and {btw[1]})"
            return s

        rows = "".join(
            f"<tr><td>{_e(x.get('compute_latency'))}</td>" + "".join(f"<td>{_e(x.get(k))}</td>" for k in keys)
            + f"<td><b>{_e(x.get('status') or x.get('break_even_feed_latency') or 'not reached')}</b>"
            + (f"<br><span class=unit>replicates' interval {_e(lat_ci(x))}</span>"
               if lat_ci(x) and _f(x.get("break_even_ns")) is None else "") + "</td>"
            f"<td>{_e(x.get('significance') or '')}</td>"
            f"<td class=n>{_e(vms(x))}</td>"
            f"<td class=n>{_e(_num(x.get('net_saving_at_fastest', x.get('net_saving_at_lowest_latency'))))}"
            f"{' at ' + _e(x['fastest_feed_latency']) if x.get('fastest_feed_latency') is not None else ''}</td>"
            "</tr>" for x in be)
        parts.append("<h3>Break-even feed latency</h3>")
        parts.append(_scroll("<table id=break-even class=wide><tr><th>compute latency</th>"
                             + "".join(f"<th>{_e(k[6:])}</th>" for k in keys)
                             + "<th>break-even [95 % interval]</th><th>significance</th>"
                             "<th>value of a ms<br><span class=unit>quote ccy per path per ms [95 %]</span></th>"
                             "<th>net saving at the fastest<br><span class=unit>quote ccy per path</span></th>"
                             f"</tr>{rows}</table>"))
        parts.append(_cap("Break-even: where the net-saving estimate first goes from positive to zero or below, "
                          "interpolated on log latency; its interval from the bootstrap replicates, each a whole "
                          "curve (docs/sweeps.md). Significance is whether the interval at the fastest latency "
                          "excludes zero. The value of a millisecond is the slope of the net saving between the "
                          "two fastest latencies."))
    plain = [c for c in ("feed_latency", "compute_latency") if c in frame]
    plain += [c for c in frame.columns if c.startswith("param_")]
    ests = [c for c, _, _ in _FIGURES if c in frame]
    tail = [c for c in ("n_paths", "n_blocks", "paths_flagged", "baseline_n_fills", "treated_n_fills", "status")
            if c in frame]

    def est(r: Any, c: str) -> str:
        lo, hi = _f(r.get(f"{c}_lo")), _f(r.get(f"{c}_hi"))
        return _num(r[c]) + ("" if lo is None or hi is None else f" [{_num(lo)}, {_num(hi)}]")

    if "feed_latency_ns" in frame:
        frame = frame.sort_values([c for c in ("compute_latency", "feed_latency_ns") if c in frame], kind="stable")
    head_row = "".join(f"<th>{_e(c)}</th>" for c in plain + [f"{c} [95 % CI]" for c in ests] + tail)
    body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(r[c]))}</td>" for c in plain)
                   + "".join(f"<td class=n>{_e(est(r, c))}</td>" for c in ests)
                   + "".join(f"<td class=n>{_e(_fmt(r[c]))}</td>" for c in tail) + "</tr>"
                   for _, r in frame.iterrows())
    parts.append("<h3>The sweep's points</h3>")
    parts.append(_scroll(f"<table id=sweep-points><tr>{head_row}</tr>{body}</table>"))
    parts.append(_cap(f"Each point's pooled estimates, {_e(_PER_PATH)}, with 95 % intervals; "
                      "paths_flagged: paths whose own interval excludes the pooled estimate."))
    return "".join(parts)


def _headline(cmp: dict) -> str:
    """The pooled estimates with intervals, the fewer/better-fills split and the rules."""
    e = cmp.get("estimates") if isinstance(cmp.get("estimates"), dict) else {}
    pct = int(round(100 * (_f(cmp.get("confidence")) or 0.95)))
    out = []
    rows = []
    for key, label, what in _FIGURES:
        x = e.get(key)
        if not isinstance(x, dict):
            continue
        rows.append(f"<tr{' class=net' if key == 'net_pnl_difference' else ''}><th>{_e(label)}</th>"
                    f"<td class=n>{_e(_num(x.get('estimate')))}</td><td class=n>{_e(_ci(x))}</td>"
                    f"<td class=n>{_e(_num(x.get('se'), False))}</td><td>{_e(what)}</td></tr>")
    out.append(_scroll(f"<table id=estimates><tr><th>pooled estimate</th><th>estimate</th><th>{pct} % interval</th>"
                       f"<th>s.e.</th><th>positive means</th></tr>{''.join(rows)}</table>"))
    units = cmp.get("units") or "quote currency"
    out.append(_cap(f"Mean per path over {_e(cmp.get('n_paths', 1))} path(s), {_e(units)}; intervals from the "
                    "two-level paired bootstrap (paths, then time blocks within each path). "
                    f"{_e(cmp.get('identity') or _IDENTITY)}."))
    sp = cmp.get("as_saving_split")
    if isinstance(sp, dict):
        srows = []
        for key, label in (("fewer_fills", "fewer fills: (L_b − L_t)·c_b"),
                           ("better_fills", "better fills: L_t·(c_b − c_t)")):
            x = sp.get(key)
            if isinstance(x, dict):
                srows.append(f"<tr><th>{_e(label)}</th><td class=n>{_e(_num(x.get('estimate')))}</td>"
                             f"<td class=n>{_e(_ci(x))}</td><td class=n>{_e(_num(x.get('se'), False))}</td></tr>")
        lots = sp.get("lots_per_path") if isinstance(sp.get("lots_per_path"), dict) else {}
        out.append("<h3>Where the AS saving comes from</h3>")
        out.append(_scroll(f"<table id=split><tr><th>of the AS-cost saving</th><th>estimate</th><th>{pct} % interval"
                           f"</th><th>s.e.</th></tr>{''.join(srows)}</table>"))
        out.append(_cap(f"{_e(_PER_PATH)}. L: lots filled per path (baseline {_e(_num(lots.get('baseline'), False))}, "
                        f"treated {_e(_num(lots.get('treated'), False))} lots); c: AS cost per lot of the pooled "
                        "paths. A quoter that saves only by trading less shows it in \"fewer fills\"."))
    rules = [("paths", cmp.get("n_paths", "1 (an older compare)")),
             ("horizon", f"{cmp.get('horizon', '?')}" + (f" — {cmp['horizon_rule']}" if cmp.get("horizon_rule")
                                                         else "")),
             ("block", f"{cmp.get('block', '?')}" + (f" — {cmp['block_rule']}" if cmp.get("block_rule") else "")),
             ("blocks in all", cmp.get("n_blocks")),
             ("bootstrap", f"{_fmt(cmp.get('n_boot'))} replicates, seed {_fmt(cmp.get('seed'))}, "
                           f"{pct} % percentile intervals" + (" (paths, then blocks)" if cmp.get("n_paths") else "")),
             ("bin", cmp.get("bin")), ("units", units)]
    out.append("<h3>Rules</h3>")
    out.append(_kv_table([(k, v) for k, v in rules if v is not None]))
    return "".join(out)


_PATH_COLS = (("n_bins", "bins", False), ("as_cost_saving", "AS-cost saving", True),
              ("spread_capture_given_up", "spread capture given up", True),
              ("inventory_difference", "inventory difference", True), ("fees_difference", "fees difference", True),
              ("net_pnl_difference", "net PnL difference", True))


def _paths_table(rows: list, cmp: dict) -> str:
    pct = int(round(100 * (_f(cmp.get("confidence")) or 0.95)))
    ids = [c for c in ("path", "seed", "window") if any(c in r for r in rows)]
    cols = [c for c in _PATH_COLS if any(c[0] in r for r in rows)]
    head = ("".join(f"<th>{_e(c)}</th>" for c in ids) + "".join(f"<th>{_e(lab)}</th>" for _, lab, _ in cols)
            + f"<th>net {pct} % interval (this path)</th><th>fills baseline</th><th>fills treated</th><th>flag</th>")
    body, flagged = [], 0
    for r in rows:
        bad = bool(r.get("disagrees"))
        flagged += bad
        lo, hi = _f(r.get("net_ci_low")), _f(r.get("net_ci_high"))
        body.append(f"<tr{' class=flagged' if bad else ''}>" + "".join(f"<td>{_e(r.get(c, ''))}</td>" for c in ids)
                    + "".join(f"<td class=n>{_e(_num(r.get(c), signed) if signed else _fmt(r.get(c)))}</td>"
                              for c, _, signed in cols)
                    + f"<td class=n>{_e('n/a' if lo is None or hi is None else f'[{_num(lo)}, {_num(hi)}]')}</td>"
                    f"<td class=n>{_e(_fmt(r.get('n_fills_baseline')))}</td>"
                    f"<td class=n>{_e(_fmt(r.get('n_fills_treated')))}</td>"
                    f"<td class=flag>{'⚑ disagrees' if bad else ''}</td></tr>")
    n = len(rows)
    expected = (1 - (_f(cmp.get("confidence")) or 0.95)) * n
    out = [_scroll(f"<table id=paths-table><tr>{head}</tr>{''.join(body)}</table>", tall=True)]
    out.append(_cap(f"One row per path; figures in quote currency for the whole path (the pooled estimates are "
                    f"their mean); bins of {_e(cmp.get('bin', '1s'))}. <b>{flagged} of {n}</b> path(s) flagged "
                    f"(highlighted): the path's own {pct} % block-bootstrap interval excludes the pooled net "
                    f"estimate; about {expected:.1f} expected by chance."))
    return "".join(out)


def _first_path_totals(cmp: dict) -> str:
    b, t = cmp.get("baseline"), cmp.get("treated")
    if not isinstance(b, dict) or not isinstance(t, dict):
        return ""
    rows = [("fills", "n_fills", False), ("spread capture", "spread_capture", True),
            ("adverse-selection cost", "adverse_selection_cost", True), ("inventory PnL", "inventory", True),
            ("fees", "fees", True), ("net PnL", "pnl", True)]
    body = "".join(f"<tr><th>{_e(lab)}</th><td class=n>{_e(_num(b.get(k), s) if s else _fmt(b.get(k)))}</td>"
                   f"<td class=n>{_e(_num(t.get(k), s) if s else _fmt(t.get(k)))}</td></tr>"
                   for lab, k, s in rows if k in b or k in t)
    ib = (b.get("toxicity") or {}).get("informed_share_fills") if isinstance(b.get("toxicity"), dict) else None
    it = (t.get("toxicity") or {}).get("informed_share_fills") if isinstance(t.get("toxicity"), dict) else None
    if ib is not None or it is not None:
        body += (f"<tr><th>informed share of fills</th><td class=n>{_e(_pct(ib))}</td>"
                 f"<td class=n>{_e(_pct(it))}</td></tr>")
    return (_scroll(f"<table id=first-path-totals><tr><th>first path only</th><th>baseline</th><th>treated</th></tr>"
                    f"{body}</table>")
            + _cap("The first path's run totals in quote currency (fills: count), adverse selection at the "
                   f"compare's horizon {_e(cmp.get('horizon', ''))}: one path, not the pooled answer."))


def build_report(folder: Any, sweep: Any = None) -> str:
    """The HTML text of the report on ``folder`` (compare or run folder); see the module docstring."""
    d = Path(folder)
    kind = folder_kind(d)
    if kind == "sweep":
        raise DataError(f"report: {d}: a sweep folder; give the compare or run folder and --sweep {d}")
    searched = [d / "sweep"]
    sw = None
    if sweep is not None:
        sp = Path(sweep)
        if not sp.is_dir():
            raise DataError(f"report: --sweep {sp}: no such folder")
        sw = _load_sweep(sp)
    elif (d / "sweep" / "sweep.parquet").is_file():
        sw = _load_sweep(d / "sweep")

    cmp = None
    path_rows = None
    if kind == "compare":
        cmp = _read_json(d / "compare.json")
        runs = [_load_run(d / role, role) for role in ("baseline", "treated")]
        blocks = _read_parquet(d / "blocks.parquet")
        t0 = int(blocks["start_ts"].iloc[0]) if len(blocks) else None
        strategies = cmp.get("strategies") if isinstance(cmp.get("strategies"), dict) else \
            {r: (cmp.get(r) or {}).get("strategy") for r in ("baseline", "treated")}
        title = f"{cmp.get('scenario', '?')}: {strategies.get('treated')} vs {strategies.get('baseline')}"
        status, warnings = cmp.get("status", "?"), [str(w) for w in (cmp.get("warnings") or [])]
        path_rows = _path_rows(d, cmp)
        warnings += _sweep_mismatch(cmp, sw)
    else:
        runs = [_load_run(d, "run")]
        blocks, t0 = None, None
        s = runs[0]["summary"]
        strategies = {"run": s.get("strategy_spec") or s.get("strategy")}
        title = f"{s.get('scenario') or s.get('source', '?')}: {strategies['run']}"
        status = "ok" if len(runs[0]["fills"]) else "partial"
        warnings = [] if len(runs[0]["fills"]) else ["the run has no fills"]
    first = (cmp or {}).get("first_path") if isinstance((cmp or {}).get("first_path"), dict) else {}
    first_label = first.get("label") or "the only path"
    for r in runs:
        if len(r["fills"]) == 0 and kind == "compare" and not any(f"{r['role']} run has no fills" in w
                                                                  for w in warnings):
            where = f" on the first path ({first_label})" if first else ""
            warnings.append(f"the {r['role']} run has no fills{where}: its charts are marked \"no fills\"")
    summary = runs[0]["summary"]
    unmatched = bool((cmp or {}).get("unmatched")) or bool(((sw or {}).get("meta") or {}).get("spec", {}).get(
        "unmatched") if isinstance(((sw or {}).get("meta") or {}).get("spec"), dict) else False)

    parts = [f"<h1>mmsim report — {_e(title)}</h1>",
             _verdict(cmp, sw, summary if cmp is None else None, unmatched)]
    all_warnings = list(warnings)
    top, warnings = _top_notes(cmp, sw, warnings, unmatched)
    parts.append(top)
    parts.append(f"<p class=meta>folder {_e(d.resolve())} · {'compare' if cmp else 'single run (reduced report)'} · "
                 f"generated {_e(time.strftime('%Y-%m-%d %H:%M:%S'))}</p>")
    parts.append(_scroll("<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                             for k, v in strategies.items())
                         + f"<tr><th>status</th><td class='status-{_e(status)}'>{_e(status)}</td></tr></table>"))
    parts += [f"<div class=warn>{_e(w)}</div>" for w in warnings]
    parts.append('<pre id="errors"></pre>')

    if cmp is not None or sw is not None:   # a run folder: the sweep (or the note that there is none) comes last
        parts.append(_sweep_section(sw, searched, tuple(all_warnings)))
    if cmp is not None:
        parts.append("<h2>Headline: pooled savings of treated over baseline</h2>")
        parts.append(_headline(cmp))
        mk = _fig_markout_curves(cmp)
        if mk:
            parts.append("<h2>Markout curves (pooled over the paths)</h2>")
            parts.append(mk)
            parts.append(_cap("Mean markout in ticks per lot at each horizon (log scale), pooled over the paths: "
                              "all fills with a ±2 s.e. band across paths, and, when the data carry ground truth, "
                              "fills against informed (dashed) and uninformed (dotted) traders. Negative: the "
                              "price moved against the fill. The y range is set by the horizons where at least "
                              "half of an arm's lots have a markout (longer ones run past the paths' ends and "
                              "rest on few lots). The dash-dotted line is the chosen horizon "
                              f"{_e(cmp.get('horizon', ''))}" + (f" ({_e(cmp['horizon_rule'])})"
                                                                 if cmp.get("horizon_rule") else "") + "."))
        ah = _fig_as_vs_horizon(cmp)
        if ah:
            parts.append("<h2>AS saving vs horizon</h2>")
            parts.append(ah)
            parts.append(_cap(f"The adverse-selection cost saving ({_e(_PER_PATH)}) measured at each horizon of the "
                              "grid (log scale), with its 95 % interval band; the dash-dotted line is the chosen "
                              "horizon. Too short a horizon books adverse selection as inventory."))
        parts.append("<h2>Per-path table</h2>")
        if path_rows:
            parts.append(_paths_table(path_rows, cmp))
        else:
            parts.append("<p class=note>No per-path table (compare.json has no <code>paths</code> and there is no "
                         "paths.parquet: a compare written by an older mmsim, one path).</p>")
        parts.append(f"<h2>First path only ({_e(first_label)}): time panels</h2>")
        parts.append(f"<p class=meta><b>Everything in this section is the first path ({_e(first_label)}) alone</b>, "
                     "not the pooled answer above: its runs in baseline/ and treated/ and its time blocks in "
                     "blocks.parquet.</p>")
        parts.append(_first_path_totals(cmp))
        parts.append("<h3>Cumulative PnL decomposition over time (first path)</h3>")
        parts.append(_fig_decomposition(blocks, int(_f(cmp.get("block_ns")) or 0), ["baseline", "treated"],
                                        _zone(runs)))
        parts.append(_cap(f"Per block of {_e(first.get('block') or cmp.get('block', ''))} of exchange time: "
                          "cumulative spread capture, adverse selection at horizon "
                          f"{_e(cmp.get('horizon'))}, inventory, fees (subtracted) and their sum, the net PnL; "
                          "quote currency; over exchange time in the venue's clock time (time zone in the axis label)."))
        parts.append("<h3>Inventory (first path)</h3>")
        parts.append(_fig_inventory(runs, t0))
        parts.append(_cap("Position after each fill, in lots, over exchange time (the venue's clock time)."))
        if not mk:
            parts.append("<h3>Markout curves (first path)</h3>")
            parts.append(_fig_markouts(runs))
            parts.append(_cap("Mean markout per lot (ticks) at each horizon over the fills whose horizon lies "
                              "inside the data; dashed/dotted: fills against informed/noise flow, when the data are "
                              "labelled."))
        parts.append("<h3>Fills on the price path (first path)</h3>")
        parts.append(_fig_price_path(runs, t0))
        parts.append(_cap("Fill prices (▲ buy, ▼ sell) and the mid at fill time, in ticks, over exchange time (the "
                          "venue's clock time)."))
    else:
        s = summary
        parts.append("<h2>Run summary</h2>")
        span = []
        if "first_ts" in s and "last_ts" in s:  # the data replayed, in the venue's clock time beside the ns
            from mmsim.data.times import format_span

            span = [("data", f"{format_span(int(s['first_ts']), int(s['last_ts']), _zone(runs))} "
                             f"[{int(s['first_ts'])}, {int(s['last_ts'])}] ns")]
        parts.append(_kv_table(span + [(k, s.get(k)) for k in ("strategy", "n_fills", "volume", "position", "fees",
                                                                "final_mid", "pnl") if k in s]))
        parts.append(_cap("fees, pnl: quote currency; volume, position: lots; final_mid: price."))
        parts.append("<h2>Cumulative decomposition by fill</h2>")
        parts.append(_fig_decomposition_fills(runs[0]))
        parts.append(_cap("Cumulative spread capture, adverse selection and inventory per fill, in ticks·lots, "
                          "over exchange time (the venue's clock time)."))
        parts.append("<h2>Inventory</h2>")
        parts.append(_fig_inventory(runs, t0))
        parts.append(_cap("Position after each fill, in lots, over exchange time (the venue's clock time)."))
        parts.append("<h2>Markout curves</h2>")
        parts.append(_fig_markouts(runs))
        parts.append(_cap("Mean markout per lot (ticks) at each horizon over the fills whose horizon lies inside "
                          "the data; dashed/dotted: fills against informed/noise flow, when the data are labelled."))
        parts.append("<h2>Fills on the price path</h2>")
        parts.append(_fig_price_path(runs, t0))
        parts.append(_cap("Fill prices (▲ buy, ▼ sell) and the mid at fill time, in ticks, over exchange time in "
                          "seconds since the first fill."))
        if sw is None:
            parts.append(_sweep_section(sw, searched))
    parts.append("<h2>Settings</h2>")
    parts.append(_kv_table(_settings_rows(cmp, summary)))

    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>mmsim report — {_e(title)}</title><style>{_CSS}</style><script>{_JS}</script></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def write_report(folder: Any, sweep: Any = None, out: Any = None) -> Path:
    """Build the report and write it atomically to ``out`` (default ``folder/report.html``)."""
    from mmsim.engine.results import _atomic_write

    text = build_report(folder, sweep)
    path = Path(out) if out is not None else Path(folder) / "report.html"

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # a page to open and share: readable like any document (mkstemp makes it 0600)

    _atomic_write(path, write)
    return path
