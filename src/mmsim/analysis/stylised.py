"""Stylised facts of a market: one function, :func:`stylised_facts`, measures a real store and its synthetic
twin identically (docs/calibrate.md has the definitions and the tolerances).

**Book states at message ends.** The book is read only where an exchange message ends: at rows flagged
``records.FLAG_MSG_END`` when the events carry that flag, else at the last row of each exchange-timestamp
group (the rows of one message share ``exch_ts``). State k holds from its time to the next state's time;
"time-weighted" means weighted by that duration. Prices in ticks, sizes in lots, times in seconds.

**Aggressive orders.** A run of consecutive trade rows (``TRADE``: aggressor = ``side``; L3 ``EXECUTE``:
aggressor = ``-side``) with one timestamp and one aggressor side is one aggressive (market) order: its size is
the sum of the rows' quantities. LOBSTER writes one execution per resting order touched, all at the order's
time; the synthetic market writes a market order the same way; Binance prints one trade per fill.

Facts (``FACTS`` lists them with their units and tolerances):

- ``messages_per_s``, ``rows_per_s``, ``top_changes_per_s`` (message ends where the best bid/ask price or
  size changed), ``trades_per_s`` (aggressive orders), ``mid_changes_per_s``;
- ``trade_size_mean``, ``trade_size_median`` (lots per aggressive order); ``add_size_mean`` (L3: ADD rows
  of real orders, ``order_id > 0``; LOBSTER's synthetic orders have negative ids);
- ``spread_mean`` (ticks, time-weighted, two-sided states), ``depth_1`` … ``depth_5`` (lots at the k-th
  non-empty price level, the mean of both sides, time-weighted, 0 where the level is missing);
  ``level_gap`` (ticks between consecutive non-empty levels among the first five, both sides, time-weighted);
- ``vol_1s``, ``vol_10s``: standard deviation of the mid's change over consecutive intervals of h, / √h
  (ticks per √s; mid = the last message-end mid before the interval's end);
- ``markout_0``, ``markout_100ms``, ``markout_1s``, ``markout_10s``, ``markout_60s``: the aggressor's mid
  markout per order, ``aggr · (m(t + h) − m_before)`` in ticks, with ``m_before`` the mid just before the
  order's first row (:meth:`mmsim.analysis.markouts.MidSeries.before_row`) and ``m(t + h)`` the mid after the
  last row at or before t + h (``MidSeries.at_time``; h = 0: after the order's own timestamp); orders whose
  t + h is past the data's end are left out;
- ``add_new_best_ratio`` (:data:`EXTRA_FACTS`: measured and recorded, not scored): the mean size of the ADDs of
  real orders that open a new best level (a price better than the best of their side just before them, or
  on an empty side) over the mean size of all real ADDs (L3 only; AMZN: 119 / 84 lots);
- ``ofi_corr_100ms``, ``ofi_corr_1s``, ``ofi_corr_10s``: the OFI-predictiveness curve of docs/synthetic.md
  at three horizons: the correlation over times τ (steps of h/4) of level-1 order-flow imbalance summed over
  [τ − h, τ) (e_n of Cont–Kukanov–Stoikov between consecutive message-end states,
  :func:`mmsim.signals.cks.order_flow`) with the mid move from τ to τ + h.

Each fact comes with a standard error where one is simple to state (``se``): the mean's for sizes and
markouts (σ/√n), vol/√(2n) for volatilities, 1/√(span/h) for OFI correlations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import pandas as pd

from mmsim import records as R
from mmsim.errors import DataError

__all__ = ["Fact", "FACTS", "FACT_NAMES", "EXTRA_FACTS", "StylisedFacts", "stylised_facts", "message_ends", "aggressive_orders", "trade_lot",
           "within_tolerance", "facts_table", "MARKOUT_HORIZONS", "OFI_HORIZONS", "VOL_HORIZONS", "LEVELS"]

_NS = 1_000_000_000
#: Depth levels measured per side.
LEVELS = 5
#: Markout horizons, s (0 = right after the order's own timestamp).
MARKOUT_HORIZONS = {"markout_0": 0.0, "markout_100ms": 0.1, "markout_1s": 1.0, "markout_10s": 10.0,
                    "markout_60s": 60.0}
#: OFI-predictiveness horizons, s.
OFI_HORIZONS = {"ofi_corr_100ms": 0.1, "ofi_corr_1s": 1.0, "ofi_corr_10s": 10.0}
#: Volatility horizons, s.
VOL_HORIZONS = {"vol_1s": 1.0, "vol_10s": 10.0}


@dataclass(frozen=True)
class Fact:
    """One stylised fact: its unit, what it is, and its tolerance for "the twin matches":
    ``|twin − real| <= max(abs_tol, rel_tol · |real|, 2 · se)``, se the real value's standard error."""

    name: str
    unit: str
    what: str
    rel_tol: float
    abs_tol: float


FACTS: tuple[Fact, ...] = (
    Fact("messages_per_s", "1/s", "exchange messages per second", 0.15, 0.0),
    Fact("rows_per_s", "1/s", "event rows per second", 0.15, 0.0),
    Fact("top_changes_per_s", "1/s", "message ends where the best bid/ask price or size changed, per second", 0.15, 0.0),
    Fact("mid_changes_per_s", "1/s", "message ends where the mid changed, per second", 0.25, 0.0),
    Fact("trades_per_s", "1/s", "aggressive orders per second", 0.10, 0.0),
    Fact("trade_size_mean", "lots", "mean size of an aggressive order", 0.15, 0.0),
    Fact("trade_size_median", "lots", "median size of an aggressive order", 0.25, 1.0),
    Fact("add_size_mean", "lots", "mean size of an added order (L3)", 0.15, 0.0),
    Fact("spread_mean", "ticks", "time-weighted mean spread", 0.10, 0.25),
    *(Fact(f"depth_{k}", "lots", f"time-weighted mean size at the {k}{'st' if k == 1 else 'nd' if k == 2 else 'rd' if k == 3 else 'th'} level (both sides)",
           0.25, 0.0) for k in range(1, LEVELS + 1)),
    Fact("level_gap", "ticks", "time-weighted mean price gap between consecutive visible levels (1-5, both sides)",
         0.15, 0.2),
    Fact("vol_1s", "ticks/√s", "std of the mid's 1 s changes / √1 s", 0.20, 0.0),
    Fact("vol_10s", "ticks/√s", "std of the mid's 10 s changes / √10 s", 0.15, 0.0),
    *(Fact(k, "ticks", f"aggressor's mid markout per order at {'0' if h == 0 else f'{h:g} s'}", 0.30, 0.1)
      for k, h in MARKOUT_HORIZONS.items()),
    *(Fact(k, "corr", f"corr(OFI over [t - {h:g} s, t), mid(t + {h:g} s) - mid(t))", 0.0, 0.08)
      for k, h in OFI_HORIZONS.items()),
)
FACT_NAMES = tuple(f.name for f in FACTS)
#: Facts measured for the fit and recorded in a twin's [calibration] tables but not scored (no tolerance).
EXTRA_FACTS = ("add_new_best_ratio",)
_BY_NAME = {f.name: f for f in FACTS}


@dataclass
class StylisedFacts:
    """``values`` and ``se`` (fact name -> float; nan where undefined, e.g. ``add_size_mean`` on L2 data),
    and ``info``: rows, messages, span_s, mode, whether message ends came from FLAG_MSG_END, first mid."""

    values: dict[str, float]
    se: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return self.values[name]


def within_tolerance(name: str, real: float, twin: float, se: float = math.nan) -> tuple[bool, float]:
    """(passes, tolerance) for one fact: ``|twin − real| <= max(abs_tol, rel_tol · |real|, 2 · se)``."""
    f = _BY_NAME[name]
    tol = max(f.abs_tol, f.rel_tol * abs(real), 2.0 * se if math.isfinite(se) else 0.0)
    if not (math.isfinite(real) and math.isfinite(twin)):
        return False, tol
    return abs(twin - real) <= tol, tol


# --------------------------------------------------------------------------------------------- pieces
def message_ends(events: np.ndarray) -> tuple[np.ndarray, bool]:
    """Boolean per row: the last row of an exchange message. From ``FLAG_MSG_END`` when any row carries it,
    else the last row of each exch_ts group. Returns (mask, flagged). The last row always ends a message."""
    n = len(events)
    flagged = bool(n) and bool((events["flags"] & R.FLAG_MSG_END).any())
    if flagged:
        end = (events["flags"] & R.FLAG_MSG_END) != 0
    else:
        ts = events["exch_ts"]
        end = np.ones(n, bool)
        end[:-1] = ts[1:] != ts[:-1]
    if n:
        end[-1] = True
    return end, flagged


def aggressive_orders(events: np.ndarray) -> dict[str, np.ndarray]:
    """Aggressive orders: ``first`` (row of its first trade row), ``ts``, ``aggr`` (+1 buy, −1 sell), ``qty``."""
    kind = events["kind"]
    is_tr = (kind == R.TRADE) | (kind == R.EXECUTE)
    rows = np.flatnonzero(is_tr)
    if len(rows) == 0:
        e = np.empty(0, np.int64)
        return {"first": e, "ts": e, "aggr": e, "qty": e}
    aggr = np.where(kind[rows] == R.TRADE, events["side"][rows], -events["side"][rows]).astype(np.int64)
    ts = events["exch_ts"][rows]
    new = np.ones(len(rows), bool)
    new[1:] = (rows[1:] != rows[:-1] + 1) | (ts[1:] != ts[:-1]) | (aggr[1:] != aggr[:-1])
    starts = np.flatnonzero(new)
    qty = np.add.reduceat(events["qty"][rows].astype(np.int64), starts)
    return {"first": rows[starts], "ts": ts[starts], "aggr": aggr[starts], "qty": qty}


#: Lot sizes aggressive orders are tested for (largest first) by :func:`trade_lot`, and the share of orders
#: that must be whole multiples of one.
LOT_CANDIDATES = (1000, 500, 200, 100, 50, 25, 10, 5)
LOT_SHARE = 0.3


def trade_lot(sizes: np.ndarray) -> int:
    """The round lot of aggressive-order sizes: the largest of :data:`LOT_CANDIDATES` that divides the median
    size and at least :data:`LOT_SHARE` of the sizes (1 when none does)."""
    q = np.asarray(sizes, np.int64)
    if len(q) == 0:
        return 1
    med = float(np.median(q))
    for lot in LOT_CANDIDATES:
        if med % lot == 0 and (q % lot == 0).mean() >= LOT_SHARE:
            return lot
    return 1


def _odd_lots(sizes: np.ndarray) -> dict[str, float]:
    """With round lots (:func:`trade_lot` > 1): the share of aggressive orders smaller than one lot
    (``odd_share``), their mean size (``odd_mean``) and the mean size of the others (``round_mean``)."""
    q = np.asarray(sizes, np.int64)
    lot = trade_lot(q)
    small = q < lot
    if lot <= 1 or not small.any() or small.all():
        return {"odd_share": 0.0, "odd_mean": math.nan, "round_mean": float(q.mean()) if len(q) else math.nan}
    return {"odd_share": float(small.mean()), "odd_mean": float(q[small].mean()), "round_mean": float(q[~small].mean())}


def _clustering(ts: np.ndarray, span: float) -> dict[str, float]:
    """How clustered aggressive orders are in time: the share of gaps between consecutive orders under 100 ms
    (``quick_share``) and what a Poisson stream of the same rate would give (``quick_poisson``)."""
    if len(ts) < 2 or span <= 0:
        return {"quick_share": math.nan, "quick_poisson": math.nan}
    gap = np.diff(np.asarray(ts, np.int64))
    return {"quick_share": float((gap < _NS // 10).mean()),
            "quick_poisson": float(1.0 - math.exp(-len(ts) / span * 0.1))}


def _new_best_ratio(ev: np.ndarray, obs: Any) -> float:
    """Mean size of real ADDs (``order_id > 0``) opening a new best level of their side (better than the best
    just before the row, or the side empty) over the mean size of all real ADDs; nan without such ADDs. The
    state before row i is the observation of row i − 1 (:func:`mmsim.signals.features.observations_from_events`:
    the book after the message that row ends or belongs after)."""
    i = np.flatnonzero((ev["kind"] == R.ADD) & (ev["order_id"] > 0))
    i = i[i > 0]
    if len(i) == 0:
        return math.nan
    q = ev["qty"][i].astype(np.float64)
    bid = ev["side"][i] == R.BID
    px = ev["price"][i]
    best = np.where(bid, obs.bid_px[i - 1, 0], obs.ask_px[i - 1, 0])
    empty = np.where(bid, obs.bid_qty[i - 1, 0], obs.ask_qty[i - 1, 0]) <= 0
    new = empty | np.where(bid, px > best, px < best)
    if not new.any() or q.mean() <= 0:
        return math.nan
    return float(q[new].mean() / q.mean())


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


# --------------------------------------------------------------------------------------------- facts
def stylised_facts(events: np.ndarray) -> StylisedFacts:
    """The stylised facts of an EVENT_DTYPE array (module docstring). DataError when the window has no
    two-sided book, no aggressive order or less than 10 s of exchange time."""
    from mmsim.analysis.markouts import mid_series
    from mmsim.signals.cks import order_flow
    from mmsim.signals.features import observations_from_events

    ev = np.asarray(events)
    if ev.dtype != R.EVENT_DTYPE:
        raise DataError("stylised facts: events must be an EVENT_DTYPE array")
    if len(ev) == 0:
        raise DataError("stylised facts: no events in the window")
    ts_all = ev["exch_ts"]
    span = (int(ts_all[-1]) - int(ts_all[0])) / _NS
    if span < 10.0:
        raise DataError(f"stylised facts: the window covers {span:.3g} s of exchange time; need at least 10 s")
    end, flagged = message_ends(ev)
    obs = observations_from_events(ev, levels=LEVELS)
    idx = np.flatnonzero(end)
    ts = ts_all[idx]
    bp, bq, ap, aq = (a[idx] for a in (obs.bid_px, obs.bid_qty, obs.ask_px, obs.ask_qty))
    two = (bq[:, 0] > 0) & (aq[:, 0] > 0)
    if not two.any():
        raise DataError("stylised facts: the book is never two-sided in the window")
    dur = np.diff(np.append(ts, ts[-1])).astype(np.float64)  # state k holds until state k + 1
    mid2 = np.where(two, bp[:, 0] + ap[:, 0], 0)
    v: dict[str, float] = {}
    se: dict[str, float] = {}

    # ---- rates
    v["messages_per_s"] = len(idx) / span
    v["rows_per_s"] = len(ev) / span
    top = np.stack([bp[:, 0], bq[:, 0], ap[:, 0], aq[:, 0]], 1)
    v["top_changes_per_s"] = float((top[1:] != top[:-1]).any(1).sum()) / span
    m2 = mid2[two]
    v["mid_changes_per_s"] = float((m2[1:] != m2[:-1]).sum()) / span
    mo = aggressive_orders(ev)
    if len(mo["ts"]) == 0:
        raise DataError("stylised facts: no trades in the window")
    v["trades_per_s"] = len(mo["ts"]) / span
    q = mo["qty"].astype(np.float64)
    v["trade_size_mean"], se["trade_size_mean"] = float(q.mean()), float(q.std() / math.sqrt(len(q)))
    v["trade_size_median"] = float(np.median(q))
    adds = ev["qty"][(ev["kind"] == R.ADD) & (ev["order_id"] > 0)].astype(np.float64)
    v["add_size_mean"] = float(adds.mean()) if len(adds) else math.nan
    if len(adds):
        se["add_size_mean"] = float(adds.std() / math.sqrt(len(adds)))
        v["add_new_best_ratio"] = _new_best_ratio(ev, obs)

    # ---- spread and depth, time-weighted over two-sided states
    w = dur * two
    wsum = w.sum() if w.sum() > 0 else 1.0
    v["spread_mean"] = float(((ap[:, 0] - bp[:, 0]) * w).sum() / wsum)
    for k in range(LEVELS):
        v[f"depth_{k + 1}"] = float((0.5 * (bq[:, k] + aq[:, k]) * w).sum() / wsum)
    gaps = np.concatenate([bp[:, :-1] - bp[:, 1:], ap[:, 1:] - ap[:, :-1]], 1).astype(np.float64)
    seen = np.concatenate([bq[:, 1:] > 0, aq[:, 1:] > 0], 1) * w[:, None]
    v["level_gap"] = float((gaps * seen).sum() / seen.sum()) if seen.sum() > 0 else math.nan

    # ---- mid at message ends (forward-filled over one-sided states)
    fill = np.where(two, np.arange(len(idx)), -1)
    np.maximum.accumulate(fill, out=fill)
    first = int(np.argmax(two))
    fill[fill < 0] = first
    mid = 0.5 * mid2[fill]

    def mid_at(t: np.ndarray) -> np.ndarray:  # the last message-end mid at or before t
        return mid[np.maximum(np.searchsorted(ts, t, "right") - 1, 0)]

    t0, t1 = int(ts[0]), int(ts[-1])
    for name, h in VOL_HORIZONS.items():
        hn = int(h * _NS)
        grid = t0 + hn * np.arange(int((t1 - t0) // hn) + 1)
        d = np.diff(mid_at(grid))
        if len(d) >= 2:
            v[name] = float(d.std() / math.sqrt(h))
            se[name] = v[name] / math.sqrt(2 * len(d))
        else:
            v[name] = math.nan

    # ---- markouts of aggressive orders (mmsim.analysis.markouts' mid convention)
    mids = mid_series(ev)
    before = mids.before_row(mo["first"]) / 2.0
    for name, h in MARKOUT_HORIZONS.items():
        t = mo["ts"] + int(h * _NS)
        ok = t <= mids.end_ts
        mk = mo["aggr"][ok] * (mids.at_time(t[ok]) / 2.0 - before[ok])
        v[name] = float(mk.mean()) if len(mk) else math.nan
        se[name] = float(mk.std() / math.sqrt(len(mk))) if len(mk) > 1 else math.nan

    # ---- OFI predictiveness at message-end states
    book = pd.DataFrame({"bid": bp[:, 0], "bid_qty": bq[:, 0], "ask": ap[:, 0], "ask_qty": aq[:, 0]})
    e = order_flow(book)
    cum = np.concatenate(([0.0], np.cumsum(e)))  # cum[j + 1] = OFI of states 0..j
    for name, h in OFI_HORIZONS.items():
        hn = int(h * _NS)
        room = t1 - t0 - 2 * hn
        v[name], se[name] = math.nan, math.nan
        if room <= 0:
            continue
        step = max(hn / 4, room / 2_000_000)
        tau = t0 + hn + (np.arange(int(room // step) + 1) * step).astype(np.int64)
        i_now = np.searchsorted(ts, tau, "left")
        i_back = np.searchsorted(ts, tau - hn, "left")
        i_next = np.searchsorted(ts, tau + hn, "left")
        x = cum[i_now] - cum[i_back]
        y = mid[i_next - 1] - mid[i_now - 1]
        v[name] = _corr(x, y)
        se[name] = 1.0 / math.sqrt(max((t1 - t0) / hn, 1.0))

    values = {k: float(v.get(k, math.nan)) for k in FACT_NAMES + EXTRA_FACTS}
    ses = {k: float(se.get(k, math.nan)) for k in FACT_NAMES}
    info = {"rows": int(len(ev)), "messages": int(len(idx)), "span_s": float(span), "msg_end_flag": flagged,
            "mode": "l3" if bool(np.isin(ev["kind"], R.L3_KINDS).any()) else "l2",
            "first_ts": int(ts_all[0]), "first_mid": float(mid[first]), "aggressive_orders": int(len(mo["ts"])),
            "two_sided_share": float(w.sum() / max(dur.sum(), 1.0)), "trade_lot": trade_lot(mo["qty"]),
            **_odd_lots(mo["qty"]), **_clustering(mo["ts"], span)}
    return StylisedFacts(values=values, se=ses, info=info)


def facts_table(real: StylisedFacts, twin: Optional[StylisedFacts] = None) -> list[dict[str, Any]]:
    """One row per fact: name, unit, real, se, twin, tolerance, ok (twin columns None without a twin)."""
    rows = []
    for f in FACTS:
        r, s = real.values[f.name], real.se[f.name]
        row: dict[str, Any] = {"fact": f.name, "unit": f.unit, "real": r, "se": s, "twin": None, "tol": None,
                               "ok": None}
        if twin is not None:
            t = twin.values[f.name]
            ok, tol = within_tolerance(f.name, r, t, s)
            row.update(twin=t, tol=tol, ok=ok if math.isfinite(r) else None)
        rows.append(row)
    return rows
