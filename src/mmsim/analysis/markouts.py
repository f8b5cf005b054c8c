"""Fill analytics (design.md section 4; docs/analytics.md): markouts, the exact PnL decomposition, toxicity.

For a fill with side s (+1 we bought, -1 we sold), price p (ticks), quantity q (lots) at exchange time t,
and the exchange-side mid m(.) (ticks):

- markout(h)          = s·(m(t+h) − p)·q
- spread capture      = s·(m_fill − p)·q
- adverse selection   = s·(m(t+h) − m_fill)·q              (cost = − its sum over fills)

``m(x)`` is the mid after the last event with exch_ts <= x (the last two-sided mid, forward-filled);
``m_fill`` is the mid the fill is measured against: by default (``fill_mid="pre"``) the mid prevailing just
before the data row that caused the fill, so the fill's own market order's impact counts as adverse
selection (the effective/realised-spread convention); ``fill_mid="time"`` takes m(t), which includes every
event at the fill's own timestamp (e.g. the rest of the market order that filled us) and so books part of
that impact as reduced spread capture instead.

Decomposition at one horizon H, exact in integer half-ticks (2·mid is an integer):

    Σ s·q·(m_end − p) = Σ s·q·(m_fill − p) + Σ s·q·(m_H − m_fill) + Σ s·q·(m_end − m_H)
        cash + position·m_end = spread capture + adverse selection + inventory

with m_H = m(t+H), or m_end when t+H is past the data's end, and m_end the run's final mid. Starting flat,
cash = −Σ s·p·q and position = Σ s·q, so the left side times tick·lot, minus fees, is ``simulate``'s pnl.

Everything here is vectorised numpy (np.searchsorted into the event timestamps); no per-fill Python.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from mmsim import records as R
from mmsim.errors import ConfigError, DataError

__all__ = ["DEFAULT_HORIZONS", "MidSeries", "Analysis", "mid_series", "parse_horizon", "horizon_label",
           "fill_log", "decompose", "toxicity", "fill_rates", "analyze", "write_fill_log"]

_NS = 1_000_000_000
#: Markout horizons used when none are given: 100 ms, 1 s, 10 s, 60 s.
DEFAULT_HORIZONS = ("100ms", "1s", "10s", "60s")
#: Horizon of the decomposition (adverse selection vs inventory) when none is given.
DEFAULT_DECOMP_HORIZON = "1s"
FILL_MIDS = ("pre", "time")

# counterparty labels of a fill (toxicity by ground truth)
INFORMED, NOISE, OTHER, UNLABELLED = "informed", "noise", "other", "unlabelled"
_COUNTERPARTY = (INFORMED, NOISE, OTHER, UNLABELLED)


# --------------------------------------------------------------------------------------------- horizons
def parse_horizon(h: Union[str, int, float], what: str = "horizon") -> int:
    """A horizon in ns: ``"100ms"``, ``"1s"``, ``"60s"`` or an int of ns (> 0). ConfigError naming it."""
    from mmsim.data.latency import parse_duration

    if isinstance(h, (bool, np.bool_)):
        raise ConfigError(f"{what} {h!r}: not a duration")
    if isinstance(h, (int, np.integer)):
        ns = int(h)
    elif isinstance(h, (float, np.floating)):
        if not math.isfinite(h) or h != int(h):
            raise ConfigError(f"{what} {h!r}: give a whole number of ns or a duration such as '1s'")
        ns = int(h)
    else:
        ns = parse_duration(str(h), f"{what} '{h}'")
    if ns <= 0:
        raise ConfigError(f"{what} '{h}': must be > 0")
    return ns


def horizon_label(ns: int) -> str:
    """Short column-friendly label: 100000000 -> '100ms', 1e9 -> '1s', 1500000 -> '1500us'."""
    ns = int(ns)
    for unit, size in (("s", _NS), ("ms", 1_000_000), ("us", 1_000)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def _horizons(horizons: Optional[Iterable[Any]]) -> list[int]:
    hs = [parse_horizon(h) for h in (DEFAULT_HORIZONS if horizons is None else horizons)]
    out = sorted(set(hs))
    if not out:
        raise ConfigError("horizons: give at least one")
    return out


# --------------------------------------------------------------------------------------------- mid
@dataclass
class MidSeries:
    """The exchange-side mid after every event, as integers 2·mid (half ticks), forward-filled.

    ``mid2[i]`` is twice the mid after row i: the last two-sided book at or before row i; rows before the
    first two-sided book take the first two-sided mid (``n_before_first`` counts them, ``first_row`` is
    that row). ``end_ts`` is the data's last exchange time; ``mid2_end`` twice the final mid.
    """

    ts: np.ndarray
    mid2: np.ndarray
    first_row: int
    end_ts: int
    start_ts: int
    mid2_end: int

    def __len__(self) -> int:
        return len(self.ts)

    def row_at(self, t: np.ndarray) -> np.ndarray:
        """Index of the last event with exch_ts <= t (-1 if t is before the first event)."""
        return np.searchsorted(self.ts, np.asarray(t, np.int64), side="right") - 1

    def at_time(self, t: np.ndarray) -> np.ndarray:
        """2·m(t): the mid after the last event with exch_ts <= t (first mid if t precedes the data)."""
        return self.mid2[np.maximum(self.row_at(t), 0)]

    def before_row(self, rows: np.ndarray) -> np.ndarray:
        """2·mid prevailing just before data row ``rows`` (after row - 1; the first mid for row 0)."""
        i = np.clip(np.asarray(rows, np.int64) - 1, 0, len(self.mid2) - 1)
        return self.mid2[i]


def mid_series(events: np.ndarray) -> MidSeries:
    """The exchange-side mid per event from ``mmsim.signals.cks.level1`` (mmsim's own book replay)."""
    from mmsim.signals.cks import level1

    ev = np.asarray(events)
    if ev.dtype != R.EVENT_DTYPE:
        raise ConfigError("mid_series: events must be an EVENT_DTYPE array")
    if len(ev) == 0:
        raise DataError("mid_series: no events")
    book = level1(ev)
    bid, ask = book["bid"].to_numpy(np.int64), book["ask"].to_numpy(np.int64)
    two = (book["bid_qty"].to_numpy() > 0) & (book["ask_qty"].to_numpy() > 0)
    if not two.any():
        raise DataError("mid_series: the book is never two-sided: no mid to mark fills against")
    idx = np.where(two, np.arange(len(ev)), -1)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.argmax(two))
    idx[idx < 0] = first
    mid2 = (bid + ask)[idx]
    ts = np.ascontiguousarray(ev["exch_ts"], np.int64)
    return MidSeries(ts=ts, mid2=mid2, first_row=first, end_ts=int(ts[-1]), start_ts=int(ts[0]),
                     mid2_end=int(mid2[-1]))


# --------------------------------------------------------------------------------------------- per fill
def _fill_arrays(fills: Any) -> dict[str, np.ndarray]:
    """side, price, qty, exch_ts, data_row, fee from a fills DataFrame or FILL_DTYPE array."""
    need = ("exch_ts", "price", "qty", "side", "data_row", "fee")
    cols = fills.columns if hasattr(fills, "columns") else (np.asarray(fills).dtype.names or ())
    missing = [c for c in need if c not in cols]
    if missing:
        raise ConfigError(f"fills: missing column(s) {', '.join(missing)}")
    out = {}
    for c in need:
        a = fills[c].to_numpy() if hasattr(fills, "columns") else np.asarray(fills)[c]
        out[c] = np.asarray(a, np.float64 if c == "fee" else np.int64)
    return out


def _mid2_end(mids: MidSeries, summary: Optional[dict], warnings: list[str]) -> int:
    """2·final mid: the run summary's ``final_mid`` (what its pnl used), else the replayed book's."""
    fm = (summary or {}).get("final_mid")
    if fm is None or not isinstance(fm, (int, float, np.integer, np.floating)) or not math.isfinite(fm):
        return mids.mid2_end
    m2 = int(round(2 * float(fm)))
    if m2 != mids.mid2_end:
        warnings.append(f"the run's final mid {fm} differs from the replayed book's {mids.mid2_end / 2} "
                        "(repaired crossed levels?); the decomposition uses the run's")
    return m2


@dataclass
class Analysis:
    """``fills``: the per-fill log (DataFrame); ``totals``: the run's figures (JSON-ready dict)."""

    fills: Any
    totals: dict = field(default_factory=dict)
    #: per fill, in integer half-ticks·lots: spread capture, adverse selection at H (end-clamped), inventory
    parts2: dict = field(default_factory=dict)


def fill_log(fills: Any, mids: MidSeries, *, horizons: Optional[Sequence[Any]] = None,
             horizon: Any = DEFAULT_DECOMP_HORIZON, tick_size: float = 1.0, lot_size: float = 1.0,
             fill_mid: str = "pre", mid2_end: Optional[int] = None,
             events: Optional[np.ndarray] = None) -> tuple[Any, dict, dict]:
    """The per-fill log: the fill's columns plus mids, spread capture, markouts and adverse selection at each
    horizon (ticks·lots; ``*_ccy`` in currency), ``past_end_<h>`` where t+h is past the data's end (then the
    markout is NaN), and the decomposition at ``horizon``: ``as_decomp`` (adverse selection, measured to the
    end of the data when t+H is past it) and ``inventory`` (ticks·lots). With ``events`` a ``counterparty``
    column (informed / noise / other / unlabelled) from the ground-truth flags.

    Returns ``(DataFrame, parts2, info)``: ``parts2`` holds the exact integer half-tick·lot columns
    ``sc2``, ``as2``, ``inv2``; ``info`` the partial counts per horizon.
    """
    import pandas as pd

    if fill_mid not in FILL_MIDS:
        raise ConfigError(f"fill_mid '{fill_mid}': must be one of {', '.join(FILL_MIDS)}")
    hs = _horizons(horizons)
    H = parse_horizon(horizon)
    a = _fill_arrays(fills)
    s, p, q, t = a["side"], a["price"], a["qty"], a["exch_ts"]
    value = float(tick_size) * float(lot_size)
    m_end2 = mids.mid2_end if mid2_end is None else int(mid2_end)
    sq = s * q
    m_fill2 = mids.before_row(a["data_row"]) if fill_mid == "pre" else mids.at_time(t)

    base = fills.copy() if hasattr(fills, "columns") else pd.DataFrame(
        {n: np.asarray(fills)[n] for n in np.asarray(fills).dtype.names if n != "_pad"})
    base = base.reset_index(drop=True)
    cols: dict[str, np.ndarray] = {}
    cols["mid_fill"] = m_fill2 / 2.0
    sc2 = sq * (m_fill2 - 2 * p)
    cols["spread_capture"] = sc2 / 2.0
    info: dict[str, Any] = {"partial": {}}
    for h in hs:
        lab = horizon_label(h)
        th = t + h
        past = th > mids.end_ts
        mh2 = mids.at_time(th)
        mid = np.where(past, np.nan, mh2 / 2.0)
        cols[f"mid_{lab}"] = mid
        cols[f"markout_{lab}"] = np.where(past, np.nan, sq * (mh2 - 2 * p) / 2.0)
        cols[f"adverse_selection_{lab}"] = np.where(past, np.nan, sq * (mh2 - m_fill2) / 2.0)
        cols[f"past_end_{lab}"] = past
        info["partial"][lab] = int(past.sum())
    # decomposition at H: past the end -> measured to the end (inventory term 0 for that fill)
    past_H = (t + H) > mids.end_ts
    mH2 = np.where(past_H, m_end2, mids.at_time(t + H))
    as2 = sq * (mH2 - m_fill2)
    inv2 = sq * (m_end2 - mH2)
    cols["as_decomp"] = as2 / 2.0
    cols["inventory"] = inv2 / 2.0
    cols["past_end_decomp"] = past_H
    cols["spread_capture_ccy"] = cols["spread_capture"] * value
    for h in hs:
        lab = horizon_label(h)
        cols[f"markout_{lab}_ccy"] = cols[f"markout_{lab}"] * value
    if events is not None:
        cols["counterparty"] = _counterparty(a["data_row"], fills, events)
    df = pd.concat([base, pd.DataFrame(cols)], axis=1)
    df.attrs.update(horizons_ns=hs, horizon_ns=H, value_per_ticklot=value, fill_mid=fill_mid)
    info.update(horizons_ns=hs, horizon_ns=H, n_past_end_decomp=int(past_H.sum()))
    return df, {"sc2": sc2, "as2": as2, "inv2": inv2, "sq": sq}, info


def _has_labels(events: np.ndarray) -> bool:
    return bool((events["flags"] & R.FLAG_INFORMED).any())


def _counterparty(data_row: np.ndarray, fills: Any, events: np.ndarray):
    """informed / noise: the fill's data row is an EXECUTE or TRADE of an informed / other trader; other: a
    fill not caused by a trade (a cross, or our own taker order); unlabelled: the data carry no labels."""
    import pandas as pd

    n = len(events)
    rows = np.asarray(data_row, np.int64)
    ok = (rows >= 0) & (rows < n)
    r = np.where(ok, rows, 0)
    kind = events["kind"][r]
    informed = (events["flags"][r] & R.FLAG_INFORMED) != 0
    trade = ok & ((kind == R.EXECUTE) | (kind == R.TRADE))
    cause = fills["cause"].to_numpy() if hasattr(fills, "columns") else np.asarray(fills)["cause"]
    trade &= np.asarray(cause) != R.CAUSE_TAKER
    if _has_labels(events):
        code = np.where(trade, np.where(informed, 0, 1), 2)
    else:
        code = np.where(trade, 3, 2)
    return pd.Categorical.from_codes(code.astype(np.int64), categories=list(_COUNTERPARTY))


# --------------------------------------------------------------------------------------------- run totals
def decompose(parts2: dict, fees: float, value: float, m_end2: int, summary: Optional[dict] = None) -> dict:
    """Run totals of the decomposition: integer half-tick·lot sums and currency; checks against ``summary``."""
    sc2, as2, inv2, sq = (int(parts2[k].sum()) for k in ("sc2", "as2", "inv2", "sq"))
    gross2 = sc2 + as2 + inv2
    out = {
        "ticklots": {"spread_capture": sc2 / 2, "adverse_selection": as2 / 2, "inventory": inv2 / 2,
                     "gross": gross2 / 2},
        "half_ticklots": {"spread_capture": sc2, "adverse_selection": as2, "inventory": inv2, "gross": gross2},
        "spread_capture": sc2 / 2 * value,
        "adverse_selection": as2 / 2 * value,
        "inventory": inv2 / 2 * value,
        "fees": float(fees),
        "pnl": gross2 / 2 * value - float(fees),
        "final_mid": m_end2 / 2,
        "position": sq,
    }
    if summary:
        cash, pos = summary.get("cash_ticklots"), summary.get("position")
        if cash is not None and pos is not None:
            out["exact"] = bool(gross2 == 2 * int(cash) + int(pos) * m_end2)
        if summary.get("pnl") is not None:
            out["pnl_summary"] = float(summary["pnl"])
            out["pnl_diff"] = out["pnl"] - float(summary["pnl"])
    return out


def _per_lot(x: np.ndarray, q: np.ndarray) -> float:
    ok = ~np.isnan(x)
    lots = float(q[ok].sum())
    return float(np.nansum(x) / lots) if lots > 0 else float("nan")


def toxicity(log: Any, hs: Sequence[int]) -> dict:
    """Share of own fills against informed traders and markouts (ticks per lot) split by counterparty."""
    if "counterparty" not in log:
        return {"labelled": False}
    cp = log["counterparty"].to_numpy()
    q = log["qty"].to_numpy(np.float64)
    labelled = not (cp == UNLABELLED).any() and bool(((cp == INFORMED) | (cp == NOISE)).any())
    out: dict[str, Any] = {"labelled": labelled}
    groups = {}
    for g in _COUNTERPARTY:
        sel = cp == g
        if not sel.any():
            continue
        gq = q[sel]
        d = {"n_fills": int(sel.sum()), "lots": int(gq.sum()),
             "spread_capture_per_lot": _per_lot(log["spread_capture"].to_numpy()[sel], gq),
             "adverse_selection_cost": 0.0 - float(log["as_decomp"].to_numpy()[sel].sum()),
             "markout_per_lot": {}}
        for h in hs:
            lab = horizon_label(h)
            d["markout_per_lot"][lab] = _per_lot(log[f"markout_{lab}"].to_numpy()[sel], gq)
        groups[g] = d
    out["groups"] = groups
    ni, nn = groups.get(INFORMED, {}).get("n_fills", 0), groups.get(NOISE, {}).get("n_fills", 0)
    li, ln = groups.get(INFORMED, {}).get("lots", 0), groups.get(NOISE, {}).get("lots", 0)
    out["informed_share_fills"] = ni / (ni + nn) if ni + nn else float("nan")
    out["informed_share_lots"] = li / (li + ln) if li + ln else float("nan")
    return out


def fill_rates(fills: Any, orders: Any = None, decisions: Any = None) -> dict:
    """Fill rate, defined three ways (docs/analytics.md):

    - ``lots``: filled lots / lots of the orders that reached the exchange and were not rejected;
    - ``orders``: share of those orders that filled at least one lot;
    - ``per_decision``: fills per strategy decision (wakeup).
    """
    n_fills = len(fills)
    lots = int(np.asarray(fills["qty"]).sum()) if n_fills else 0
    out: dict[str, Any] = {"n_fills": n_fills, "filled_lots": lots}
    if orders is not None and len(orders):
        o_ts = np.asarray(orders["exch_ts"], np.int64)
        st = np.asarray(orders["status"])
        live = (o_ts != R.NO_TS) & (st != R.ST_REJECTED)
        sent_lots = int(np.asarray(orders["qty"], np.int64)[live].sum())
        out["orders_at_exchange"] = int(live.sum())
        out["lots_at_exchange"] = sent_lots
        out["lots"] = lots / sent_lots if sent_lots else float("nan")
        filled = np.asarray(orders["filled"], np.int64)[live] > 0
        out["orders"] = float(filled.mean()) if live.any() else float("nan")
    if decisions is not None:
        nd = len(decisions)
        out["n_decisions"] = nd
        out["per_decision"] = n_fills / nd if nd else float("nan")
    return out


def analyze(result: Any, events: np.ndarray, *, tick_size: float = 1.0, lot_size: float = 1.0,
            horizons: Optional[Sequence[Any]] = None, horizon: Any = DEFAULT_DECOMP_HORIZON,
            fill_mid: str = "pre", mids: Optional[MidSeries] = None) -> Analysis:
    """Per-fill log and run totals of a run (``RunResult``: fills, orders, decisions, summary) on ``events``.

    ``totals``: the decomposition (exact; ``decomposition.exact`` says the integer identity held against the
    summary's cash and position), adverse-selection cost, markouts per horizon (sum and ticks per lot over the
    fills whose horizon lies inside the data, with the count past the end), toxicity by ground truth and fill
    rates. ``partial`` is true when some markout horizon ran past the data's end or there are no fills;
    ``warnings`` says why.
    """
    from mmsim.data.store import EventStore

    if isinstance(events, EventStore):
        events = events.read()
    events = np.asarray(events)
    summary = dict(getattr(result, "summary", {}) or {})
    fills = result.fills
    if summary.get("n_events") is not None and int(summary["n_events"]) != len(events):
        raise DataError(f"analyze: the run applied {summary['n_events']} events but {len(events)} were given "
                        "(not the run's market path)")
    mids = mids if mids is not None else mid_series(events)
    warnings: list[str] = []
    m_end2 = _mid2_end(mids, summary, warnings)
    value = float(tick_size) * float(lot_size)
    log, parts2, info = fill_log(fills, mids, horizons=horizons, horizon=horizon, tick_size=tick_size,
                                 lot_size=lot_size, fill_mid=fill_mid, mid2_end=m_end2, events=events)
    hs, H = info["horizons_ns"], info["horizon_ns"]
    fees = float(log["fee"].sum()) if len(log) else 0.0
    dec = decompose(parts2, fees, value, m_end2, summary)
    if dec.get("exact") is False:
        warnings.append("the fills do not add up to the run's cash and position: the decomposition does not "
                        "match its pnl (a subset of the fills?)")
    q = log["qty"].to_numpy(np.float64)
    markouts = {}
    for h in hs:
        lab = horizon_label(h)
        x = log[f"markout_{lab}"].to_numpy()
        asx = log[f"adverse_selection_{lab}"].to_numpy()
        ok = ~np.isnan(x)
        markouts[lab] = {"ns": h, "n": int(ok.sum()), "n_past_end": info["partial"][lab],
                         "sum_ticklots": float(x[ok].sum()), "per_lot_ticks": _per_lot(x, q),
                         "sum_ccy": float(x[ok].sum()) * value,
                         "adverse_selection_per_lot_ticks": _per_lot(asx, q)}
    partial = [lab for lab, m in markouts.items() if m["n_past_end"]]
    if partial:
        warnings.append("markouts past the data's end (NaN, not in the sums): "
                        + ", ".join(f"{lab}: {markouts[lab]['n_past_end']} fills" for lab in partial))
    if len(log) == 0:
        warnings.append("no fills: markouts, toxicity and per-lot figures are undefined (NaN)")
    totals = {
        "n_fills": int(len(log)),
        "volume": int(q.sum()),
        "horizon": horizon_label(H),
        "horizon_ns": H,
        "horizons": [horizon_label(h) for h in hs],
        "fill_mid": fill_mid,
        "value_per_ticklot": value,
        "decomposition": dec,
        "adverse_selection_cost": 0.0 - dec["adverse_selection"],
        "adverse_selection_cost_ticklots": 0.0 - dec["ticklots"]["adverse_selection"],
        "n_past_end_decomp": info["n_past_end_decomp"],
        "markouts": markouts,
        "toxicity": toxicity(log, hs),
        "fill_rate": fill_rates(log, getattr(result, "orders", None), getattr(result, "decisions", None)),
        "partial": bool(partial) or len(log) == 0,
        "warnings": warnings,
    }
    return Analysis(fills=log, totals=totals, parts2=parts2)


def write_fill_log(path: Union[str, Path], log: Any) -> Path:
    """Write the per-fill log as Parquet (atomic rename, as ``mmsim.engine.results``)."""
    from mmsim.engine.results import _atomic_write

    p = Path(path)
    df = log.copy()
    df.attrs = {}
    _atomic_write(p, lambda tmp: df.to_parquet(tmp, index=False))
    return p
