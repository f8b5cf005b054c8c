"""``mmsim report DIR``: one self-contained HTML page for a compare folder (or a single run folder).

(docs/report.md.) The page opens offline: no external URL of any kind; the figures are base64 PNGs drawn
with matplotlib's Agg renderer, the CSS is inline, and a tiny inline script marks
``document.body.dataset.rendered = "1"`` once the page (and every figure) has loaded and writes any
script error into the visible ``#errors`` element.

Inputs (never modified; only ``DIR/report.html`` is written, atomically):

- a **compare folder** (``mmsim compare … --out DIR``): ``compare.json``, ``blocks.parquet``,
  ``baseline/`` and ``treated/`` (``fills.parquet``, ``summary.json``, ``markouts.parquet``);
- a **run folder** (``mmsim run … --out DIR``, or ``baseline/`` of a compare): ``summary.json`` and
  ``fills.parquet`` (``markouts.parquet`` if present) → a reduced report of that run;
- optionally a **sweep folder** (``mmsim sweep … --out SW``: ``sweep.parquet``, ``sweep.json``), given with
  ``sweep=`` or found at ``DIR/sweep``, for the savings-vs-latency section.
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
_COLORS = {"baseline": "#1f77b4", "treated": "#d62728"}
_COMPONENTS = (("spread_capture", "spread capture", "#2ca02c"), ("adverse_selection", "adverse selection", "#d62728"),
               ("inventory", "inventory", "#9467bd"), ("fees", "fees (−)", "#8c564b"),
               ("net_pnl", "net PnL", "#000000"))


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
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"report: {path}: cannot read ({e.__class__.__name__}: {e})") from None


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


# --------------------------------------------------------------------------------------------- figures
def _figure(w: float = 11.0, h: float = 3.6, ncols: int = 1, sharey: bool = False):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=90)
    axes = fig.subplots(1, ncols, sharey=sharey, squeeze=False)[0]
    return fig, axes


def _png(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="fig" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _no_fills(ax, what: str = "no fills") -> None:
    ax.text(0.5, 0.5, what, ha="center", va="center", transform=ax.transAxes, fontsize=14, color="#888")
    # tick_params, not set_[xy]ticks: with sharey the latter would strip the neighbour panel's ticks too
    ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)


def _fig_decomposition(blocks, block_ns: int, roles: list[str]) -> str:
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
        ax.set_xlabel("exchange time since start (s)")
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
    ax.set_xlabel("exchange time since first fill (s)")
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
        ax.set_xlabel("exchange time since start (s)")
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
        ax.set_xlabel("exchange time since start (s)")
        ax.legend(fontsize=7, loc="upper left")
    return _png(fig, "fills on the price path")


def _fig_sweep(sw: dict) -> str:
    frame = sw["frame"]
    group_cols = ["compute_latency"] + [c for c in frame.columns if c.startswith("param_")]
    group_cols = [c for c in group_cols if c in frame]
    groups = list(frame.groupby(group_cols, sort=False)) if group_cols else [("", frame)]
    fig, axes = _figure(h=3.8, ncols=len(groups), sharey=True)
    series = (("net_pnl_difference", "net PnL difference", "#000000"),
              ("as_cost_saving", "AS-cost saving", "#d62728"),
              ("spread_capture_given_up", "spread capture given up", "#2ca02c"))
    for ax, (key, g) in zip(axes, groups):
        g = g.sort_values("feed_latency_ns", kind="stable")
        x = np.arange(len(g))
        for j, (col, label, color) in enumerate(series):
            if col not in g:
                continue
            off = (j - 1) * 0.08
            y = g[col].to_numpy(float)
            lo = g.get(f"{col}_lo")
            hi = g.get(f"{col}_hi")
            if lo is not None and hi is not None:
                lo, hi = lo.to_numpy(float), hi.to_numpy(float)
                err = np.vstack([np.where(np.isfinite(lo), y - lo, 0), np.where(np.isfinite(hi), hi - y, 0)])
                ax.errorbar(x + off, y, yerr=np.clip(err, 0, None), marker="o", capsize=3, color=color,
                            label=f"{label} (95% CI)")
            else:
                ax.plot(x + off, y, marker="o", color=color, label=label)
        ax.axhline(0, color="#999", lw=0.8)
        ax.set_xticks(x)
        ax.set_xticklabels([str(v) for v in g["feed_latency"]])
        ax.set_xlabel("feed latency")
        name = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        ax.set_title(f"savings vs feed latency (compute {name})" if name else "savings vs feed latency")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("treated vs baseline (quote currency)")
    return _png(fig, "savings vs latency")


# --------------------------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;
max-width:1100px;padding:16px 24px;color:#222;background:#fff}
h1{font-size:1.5em;margin:.2em 0} h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:1.6em}
table{border-collapse:collapse;font-size:.88em;margin:.4em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} th{background:#f4f4f4}
.status-ok{color:#1a7f37;font-weight:bold}.status-partial{color:#b35900;font-weight:bold}
.warn{background:#fff6e0;border-left:4px solid #e0a000;padding:4px 10px;margin:3px 0;font-size:.9em}
.note{color:#666;font-style:italic} img.fig{max-width:100%;display:block;margin:.4em 0}
.scroll{overflow-x:auto;max-width:100%} td{overflow-wrap:anywhere}
#errors{color:#b00020;white-space:pre-wrap} #errors:empty{display:none} .meta{color:#555;font-size:.9em}
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


def _kv_table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt(v) if not isinstance(v, str) else v)}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


def _settings_rows(cmp: Optional[dict], summary: dict) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    if cmp is not None:
        for k in ("scenario", "source", "n_events", "events_hash", "horizon", "block", "n_blocks", "n_boot",
                  "seed", "confidence", "fill_mid", "units", "model"):
            if k in cmp:
                rows.append((k, cmp[k] if k != "events_hash" else str(cmp[k])[:16] + "…"))
        for k, v in sorted((cmp.get("settings") or {}).items()):
            rows.append((f"settings.{k}", v if not isinstance(v, (dict, list)) else json.dumps(v)))
    for k in ("engine", "mode", "seed", "source", "n_events", "n_decisions", "n_orders", "wall_s",
              "events_per_s", "strategy_spec", "decision_chain"):
        if k in summary and not any(r[0] in (k, f"settings.{k}") for r in rows):
            rows.append((f"run.{k}", summary[k]))
    return rows


def _headline(cmp: dict) -> str:
    from mmsim.analysis.compare import ESTIMATES

    b, t, e = cmp.get("baseline", {}), cmp.get("treated", {}), cmp.get("estimates", {})
    pct = int(round(float(cmp.get("confidence", 0.95)) * 100))
    rows = [("spread capture", "spread_capture", "spread_capture_given_up", "given up"),
            ("adverse-selection cost", "adverse_selection_cost", "as_cost_saving", "saved"),
            ("inventory PnL", "inventory", None, ""),
            ("fees", "fees", None, ""),
            ("net PnL", "pnl", "net_pnl_difference", "treated − baseline")]
    out = [f"<table><tr><th></th><th>baseline</th><th>treated</th><th>saving / difference</th>"
           f"<th>{pct}% CI</th><th></th></tr>"]
    for label, key, est, what in rows:
        cells = f"<td class=n>{_e(_fmt(b.get(key)))}</td><td class=n>{_e(_fmt(t.get(key)))}</td>"
        if est:
            x = e.get(est) or {}
            ci = ("n/a" if x.get("ci_low") is None else f"[{_fmt(x['ci_low'], True)}, {_fmt(x['ci_high'], True)}]")
            cells += (f"<td class=n>{_e(_fmt(x.get('estimate'), True))}</td><td class=n>{_e(ci)}</td>"
                      f"<td>{_e(what)}</td>")
        else:
            cells += "<td></td><td></td><td></td>"
        out.append(f"<tr><th>{_e(label)}</th>{cells}</tr>")
    out.append(f"<tr><th>fills</th><td class=n>{_e(_fmt(b.get('n_fills')))}</td>"
               f"<td class=n>{_e(_fmt(t.get('n_fills')))}</td><td></td><td></td><td></td></tr>")
    ib = (b.get("toxicity") or {}).get("informed_share_fills")
    it = (t.get("toxicity") or {}).get("informed_share_fills")
    if ib is not None or it is not None:
        out.append(f"<tr><th>informed share of fills</th><td class=n>{_e(_fmt(ib))}</td>"
                   f"<td class=n>{_e(_fmt(it))}</td><td></td><td></td><td></td></tr>")
    out.append("</table>")
    means = "; ".join(f"<b>{_e(k)}</b>: positive = {_e(v[1])}" for k, v in ESTIMATES.items())
    out.append(f"<p class=meta>{means}. Units: {_e(cmp.get('units', ''))}.</p>")
    return "".join(out)


def _sweep_section(sw: Optional[dict], searched: list[Path]) -> str:
    if sw is None:
        where = " or ".join(str(p) for p in searched)
        return ("<h2>Savings vs latency</h2><p class=note>No sweep available (looked for "
                f"{_e(where)}; give one with <code>--sweep DIR</code>, made by <code>mmsim sweep … --out DIR</code>)."
                "</p>")
    frame = sw["frame"]
    parts = [f"<h2>Savings vs latency</h2><p class=meta>sweep folder {_e(sw['dir'])}</p>"]
    spec = sw["meta"].get("spec") or {}
    if spec:
        parts.append(_kv_table([(k, json.dumps(v) if isinstance(v, (list, dict)) else v)
                                for k, v in spec.items()]))
    if len(frame):
        parts.append(_fig_sweep(sw))
    be = sw["meta"].get("break_even") or []
    if be:
        keys = [k for k in be[0] if k.startswith("param_")]
        rows = "".join(
            f"<tr><td>{_e(x.get('compute_latency'))}</td>" + "".join(f"<td>{_e(x.get(k))}</td>" for k in keys)
            + f"<td><b>{_e(x.get('break_even_feed_latency') or '—')}</b></td>"
            f"<td>{_e(x.get('status') or ('' if x.get('break_even_feed_latency') else 'not reached'))}</td>"
            f"<td class=n>{_e(_fmt(x.get('net_saving_at_lowest_latency'), True))}</td></tr>" for x in be)
        parts.append("<p><b>Break-even feed latency</b> (the smallest feed latency at which the net PnL "
                     "difference's interval, significantly positive at a lower latency, includes zero or lies "
                     "below it):</p><table><tr><th>compute latency</th>"
                     + "".join(f"<th>{_e(k)}</th>" for k in keys)
                     + "<th>break-even feed latency</th><th>status</th>"
                     f"<th>net difference at the lowest latency</th></tr>{rows}</table>")
    plain = [c for c in ("feed_latency", "compute_latency") if c in frame]
    plain += [c for c in frame.columns if c.startswith("param_")]
    ests = [c for c in ("as_cost_saving", "spread_capture_given_up", "net_pnl_difference") if c in frame]
    tail = [c for c in ("baseline_n_fills", "treated_n_fills", "status") if c in frame]

    def est(r: Any, c: str) -> str:
        lo, hi = r.get(f"{c}_lo"), r.get(f"{c}_hi")
        ci = "" if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)) else \
            f" [{_fmt(lo, True)}, {_fmt(hi, True)}]"
        return _fmt(r[c], True) + ci

    head = "".join(f"<th>{_e(c)}</th>" for c in plain + [f"{c} (95% CI)" for c in ests] + tail)
    body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(r[c]))}</td>" for c in plain)
                   + "".join(f"<td class=n>{_e(est(r, c))}</td>" for c in ests)
                   + "".join(f"<td class=n>{_e(_fmt(r[c]))}</td>" for c in tail) + "</tr>"
                   for _, r in frame.iterrows())
    parts.append(f"<div class=scroll><table><tr>{head}</tr>{body}</table></div>")
    return "".join(parts)


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
    if kind == "compare":
        cmp = _read_json(d / "compare.json")
        runs = [_load_run(d / role, role) for role in ("baseline", "treated")]
        blocks = _read_parquet(d / "blocks.parquet")
        t0 = int(blocks["start_ts"].iloc[0]) if len(blocks) else None
        strategies = cmp.get("strategies") or {r: (cmp.get(r) or {}).get("strategy") for r in ("baseline", "treated")}
        title = f"{cmp.get('scenario', '?')}: {strategies.get('treated')} vs {strategies.get('baseline')}"
        status, warnings = cmp.get("status", "?"), list(cmp.get("warnings") or [])
    else:
        runs = [_load_run(d, "run")]
        blocks, t0 = None, None
        s = runs[0]["summary"]
        strategies = {"run": s.get("strategy_spec") or s.get("strategy")}
        title = f"{s.get('scenario') or s.get('source', '?')}: {strategies['run']}"
        status = "ok" if len(runs[0]["fills"]) else "partial"
        warnings = [] if len(runs[0]["fills"]) else ["the run has no fills"]
    for r in runs:
        if len(r["fills"]) == 0 and kind == "compare" and not any(f"{r['role']} run has no fills" in w
                                                                  for w in warnings):
            warnings.append(f"the {r['role']} run has no fills: its charts are marked \"no fills\"")
    summary = runs[0]["summary"]

    parts = [f"<h1>mmsim report — {_e(title)}</h1>",
             f"<p class=meta>folder {_e(d.resolve())} · {'compare' if cmp else 'single run (reduced report)'} · "
             f"generated {_e(time.strftime('%Y-%m-%d %H:%M:%S'))}</p>",
             "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in strategies.items())
             + f"<tr><th>status</th><td class='status-{_e(status)}'>{_e(status)}</td></tr></table>"]
    parts += [f"<div class=warn>{_e(w)}</div>" for w in warnings]
    parts.append('<pre id="errors"></pre>')

    if cmp is not None:
        parts.append("<h2>Headline: savings of treated over baseline</h2>")
        parts.append(_headline(cmp))
    else:
        s = summary
        parts.append("<h2>Run summary</h2>")
        parts.append(_kv_table([(k, s.get(k)) for k in ("strategy", "n_fills", "volume", "position", "fees",
                                                         "final_mid", "pnl") if k in s]))

    parts.append("<h2>Cumulative PnL decomposition over time</h2>")
    if cmp is not None:
        parts.append("<p class=meta>Per block of exchange time (blocks.parquet): spread capture, adverse "
                     f"selection at horizon {_e(cmp.get('horizon'))}, inventory, fees (subtracted) and their sum, "
                     "the net PnL. Quote currency.</p>")
        parts.append(_fig_decomposition(blocks, int(cmp.get("block_ns") or 0), ["baseline", "treated"]))
    else:
        parts.append(_fig_decomposition_fills(runs[0]))

    parts.append("<h2>Inventory</h2>")
    parts.append(_fig_inventory(runs, t0))
    parts.append("<h2>Markout curves</h2>")
    parts.append("<p class=meta>Mean markout per lot (ticks) at each horizon over the fills whose horizon lies "
                 "inside the data; dashed/dotted: fills against informed/noise flow, when the data are labelled."
                 "</p>")
    parts.append(_fig_markouts(runs))
    parts.append("<h2>Fills on the price path</h2>")
    parts.append(_fig_price_path(runs, t0))
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
