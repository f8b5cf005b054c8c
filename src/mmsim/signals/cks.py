"""The Cont–Kukanov–Stoikov (2014) check: does level-1 order-flow imbalance explain mid-price changes?

For each interval of ``interval_ns`` (10 s in the paper): OFI_k = Σ e_n over the book updates in the
interval, e_n as in design.md section 4, and ΔP_k = change of the mid over the interval in ticks. In each
window of ``window_ns`` (30 min) regress ΔP_k = α + β·OFI_k + ε by ordinary least squares and keep β and R².
The paper found an average R² of 65 % over 50 US stocks (TAQ, April 2010).

A book update is one exchange *message* (``records.FLAG_MSG_END``, docs/ofi.md): the book is read only after
a message's last row, never between the rows of one message (a LOBSTER execution and the synthetic row that
reveals the next level are one message; the state between them never existed).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mmsim import records as R
from mmsim.data.messages import message_ends
from mmsim.errors import DataError


def level1(events: np.ndarray) -> pd.DataFrame:
    """Top of book as visible after every row (ts = the row's exch_ts, bid, bid_qty, ask, ask_qty), from
    mmsim's own book code path: the state after the last *complete* message. A row that ends its message
    shows the book after it; a row inside a message shows the book before that message (its intermediate
    states never existed at the exchange: docs/ofi.md); rows before the first message end show an empty
    book (0). One row per event, so callers index it by data row (analysis.markouts, signals.train)."""
    from mmsim.signals.features import observations_from_events

    obs = observations_from_events(events, levels=1)   # holds the book inside messages (message_ends)
    return pd.DataFrame({"ts": obs.ts, "bid": obs.bid_px[:, 0], "bid_qty": obs.bid_qty[:, 0],
                         "ask": obs.ask_px[:, 0], "ask_qty": obs.ask_qty[:, 0]})


def level1_messages(events: np.ndarray) -> pd.DataFrame:
    """One row per exchange message: ts, the top of book after it (bid, bid_qty, ask, ask_qty), ``ti`` its
    signed traded quantity (TRADE: + for a buyer-initiated print; L3 EXECUTE: the opposite of the resting
    side) and ``e`` its order-flow contribution e_n against the previous message's book."""
    book = level1(events)
    end = np.flatnonzero(message_ends(events))  # the book is read after each message's last row only
    side = events["side"].astype(np.int64)
    sign = np.where(events["kind"] == R.TRADE, side, np.where(events["kind"] == R.EXECUTE, -side, 0))
    ti = np.cumsum(sign * events["qty"].astype(np.int64))[end]   # int64: exact
    out = book.iloc[end].reset_index(drop=True)
    out["ti"] = np.diff(ti, prepend=0).astype(np.float64)
    out["e"] = order_flow(out)
    return out


def order_flow(book: pd.DataFrame) -> np.ndarray:
    """e_n for each row against the previous row (0 for the first, and where either side is empty)."""
    b, bq, a, aq = (book[c].to_numpy(np.float64) for c in ("bid", "bid_qty", "ask", "ask_qty"))
    e = np.zeros(len(book))
    pb, pbq, pa, paq = b[:-1], bq[:-1], a[:-1], aq[:-1]
    nb, nbq, na, naq = b[1:], bq[1:], a[1:], aq[1:]
    e[1:] = (np.where(nb >= pb, nbq, 0) - np.where(nb <= pb, pbq, 0)
             - np.where(na <= pa, naq, 0) + np.where(na >= pa, paq, 0))
    two_sided = (bq > 0) & (aq > 0)
    e[1:][~(two_sided[1:] & two_sided[:-1])] = 0.0
    return e


def intervals(events: np.ndarray, interval_ns: int = 10_000_000_000) -> pd.DataFrame:
    """The level-1 OFI series: per interval k of ``interval_ns`` from the first message (index k), OFI_k =
    Σ e_n over its messages, ti = Σ signed traded quantity, mid_end = mid after its last message (ticks;
    the last two-sided mid is held, intervals without messages hold the previous one) and dp = mid_end −
    previous mid_end. Intervals before the first defined dp are dropped."""
    book = level1_messages(events)
    if len(book) < 2:
        raise DataError("cks: need at least two exchange messages")
    book["mid"] = np.where((book.bid_qty > 0) & (book.ask_qty > 0), (book.bid + book.ask) / 2.0, np.nan)
    book["mid"] = book["mid"].ffill()
    t0 = int(book.ts.iloc[0]) // interval_ns * interval_ns
    book["k"] = (book.ts - t0) // interval_ns
    per = book.groupby("k").agg(ofi=("e", "sum"), ti=("ti", "sum"), mid_end=("mid", "last"))
    per = per.reindex(range(int(per.index.max()) + 1))
    per["ofi"] = per["ofi"].fillna(0.0)
    per["ti"] = per["ti"].fillna(0.0)
    per["mid_end"] = per["mid_end"].ffill()
    per["dp"] = per["mid_end"].diff()
    per = per.dropna(subset=["dp"])
    per.attrs["t0"] = t0
    return per


def cks_regressions(events: np.ndarray, *, interval_ns: int = 10_000_000_000,
                    window_ns: int = 1_800_000_000_000) -> pd.DataFrame:
    """One row per window: start, n intervals, β, α, R² (and the same with trade imbalance alone)."""
    per = intervals(events, interval_ns)
    t0 = per.attrs["t0"]
    per["w"] = (per.index.to_numpy() * interval_ns) // window_ns
    rows = []
    for w, g in per.groupby("w"):
        if len(g) < 10:
            continue
        row = {"window_start_ts": t0 + int(w) * window_ns, "n": len(g)}
        for name, x in (("ofi", g["ofi"].to_numpy()), ("ti", g["ti"].to_numpy())):
            y = g["dp"].to_numpy()
            X = np.column_stack([np.ones_like(x), x])
            coef, *_ = np.linalg.lstsq(X, y, rcond=None)
            resid = y - X @ coef
            ss_tot = float(((y - y.mean()) ** 2).sum())
            row[f"alpha_{name}"], row[f"beta_{name}"] = float(coef[0]), float(coef[1])
            row[f"r2_{name}"] = 1.0 - float((resid ** 2).sum()) / ss_tot if ss_tot > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None) -> None:  # python -m mmsim.signals.cks LOBSTER.zip
    import argparse

    from mmsim.data.adapters import open_conversion

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lobster", help="LOBSTER sample (.zip or message csv)")
    args = ap.parse_args(argv)
    conv = open_conversion("lobster", [args.lobster])
    events = np.concatenate(list(conv.chunks))
    res = cks_regressions(events)
    pd.set_option("display.width", 160)
    print(res.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"mean R² (OFI) {res.r2_ofi.mean():.3f}   mean β {res.beta_ofi.mean():.4g} ticks/lot   "
          f"mean R² (trade imbalance) {res.r2_ti.mean():.3f}   windows {len(res)}")


if __name__ == "__main__":
    main()
