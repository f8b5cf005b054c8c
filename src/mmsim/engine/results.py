"""Run results as pandas DataFrames and files: fills/orders/decisions Parquet plus summary.json.

``to_frames`` keeps every raw column of the record arrays (minus padding) and adds readable ones:
``side_name`` ("buy"/"sell"), ``liquidity`` ("maker"/"taker"), ``cause_name``, ``status_name``,
``tif_name``, ``reason_name`` ("feed|timer"...). ``write_results`` writes each file to a temporary name in
the output folder and renames it into place, ``summary.json`` last, so a reader never sees half a file
and a complete ``summary.json`` means the run finished.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mmsim import records as R
from mmsim.errors import MmsimError

__all__ = ["to_frames", "signal_frame", "quote_frame", "write_results", "format_venues", "QUOTES_FILE", "format_summary", "inverse_figures", "RESULT_FILES",
           "SIGNAL_DATA_FILE", "INVERSE_KEYS"]

RESULT_FILES = ("fills.parquet", "orders.parquet", "decisions.parquet", "summary.json")
#: Written beside RESULT_FILES only by a run with signal venues (docs/venues.md).
SIGNAL_DATA_FILE = "signal_data.parquet"
#: Written beside RESULT_FILES only by a run quoting several venues (docs/venues.md, "Quoting several venues").
QUOTES_FILE = "quotes.parquet"

#: Summary keys added for an inverse instrument (docs/data.md, "Inverse contracts"); a linear one has none.
INVERSE_KEYS = ("inverse", "contract_size", "cash_coin", "fees_coin", "pnl_coin", "fees_quote", "pnl_quote")


def inverse_figures(fills: np.ndarray, summary: dict, instrument: Any, maker_fee_bps: float,
                    taker_fee_bps: float) -> dict:
    """Money figures of an inverse contract (Binance COIN-M), from the fills and the engine's summary.

    A contract is worth ``contract_size`` quote-currency units (USD) and settles in coin. With N = qty · lot_size
    contracts and P = price · tick_size per fill, side s (+1 bought):

    - ``cash_coin`` = Σ s · N · contract_size / P (buying a contract books its coin value, selling gives it back)
    - ``fees_coin`` = Σ bps/1e4 · N · contract_size / P (maker or taker bps; negative is a rebate)
    - ``pnl_coin`` = cash_coin − position · contract_size / M − fees_coin, M the final mid (the position
      marked there; NaN when the position is open and no mid was ever seen)
    - ``pnl_quote`` = pnl_coin · M and ``fees_quote`` = fees_coin · M: the same in quote currency at M.

    Long N contracts from P0 to P1 earns N · contract_size · (1/P0 − 1/P1) coin. Positions stay in contracts
    (``position``, lots). Both engines' runs go through this one function, so their figures agree whenever
    their fills do. Input ``fills`` is a FILL_DTYPE record array.
    """
    cs = float(instrument.contract_size)
    tick, lot = float(instrument.tick_size), float(instrument.lot_size)
    f = np.asarray(fills)
    price = f["price"].astype(np.float64) * tick
    coin = f["qty"].astype(np.float64) * lot * cs / price          # coin value of each fill's contracts
    bps = np.where(f["maker"].astype(bool), float(maker_fee_bps), float(taker_fee_bps))
    cash = float(np.sum(f["side"].astype(np.float64) * coin))
    fees = float(np.sum(bps * 1e-4 * coin))
    mid = float(summary["final_mid"]) * tick
    pos = int(summary["position"]) * lot
    mark = 0.0 if pos == 0 else (pos * cs / mid if math.isfinite(mid) and mid > 0 else math.nan)
    pnl = cash - mark - fees
    quote = mid if math.isfinite(mid) else math.nan
    return {"inverse": True, "contract_size": cs, "cash_coin": cash, "fees_coin": fees, "pnl_coin": pnl,
            "fees_quote": fees * quote, "pnl_quote": pnl * quote}


_SIDE = {1: "buy", -1: "sell"}
_CAUSE = {R.CAUSE_TRADE: "trade", R.CAUSE_TRADE_THROUGH: "trade_through", R.CAUSE_CROSS: "cross",
          R.CAUSE_TAKER: "taker", R.CAUSE_EXECUTE: "execute"}
_STATUS = {R.ST_PENDING: "pending", R.ST_OPEN: "open", R.ST_FILLED: "filled", R.ST_CANCELLED: "cancelled",
           R.ST_REJECTED: "rejected", R.ST_EXPIRED: "expired"}
_TIF = {R.GTC: "gtc", R.POST_ONLY: "post_only", R.IOC: "ioc"}
_WAKE = ((R.WAKE_FEED, "feed"), (R.WAKE_TIMER, "timer"), (R.WAKE_RESPONSE, "response"))


def _names(codes: np.ndarray, mapping: dict[int, str]):
    """Readable labels of integer codes as a pandas Categorical (unknown codes become their number)."""
    import pandas as pd

    codes = np.asarray(codes)
    cats = list(dict.fromkeys(mapping.values()))
    uniq = np.unique(codes)
    cat_of = np.empty(len(uniq), dtype=np.int64)
    for j, u in enumerate(uniq.tolist()):
        label = mapping.get(int(u), str(int(u)))
        if label not in cats:
            cats.append(label)
        cat_of[j] = cats.index(label)
    idx = cat_of[np.searchsorted(uniq, codes)] if len(codes) else np.zeros(0, dtype=np.int64)
    return pd.Categorical.from_codes(idx, categories=cats)


def _frame(arr: Any, dtype: np.dtype, what: str):
    import pandas as pd

    if arr is None:
        arr = np.zeros(0, dtype=dtype)
    if isinstance(arr, pd.DataFrame):
        return arr.copy()
    arr = np.asarray(arr)
    if arr.dtype.names is None:
        raise TypeError(f"to_frames: {what} must be a record array of {what.upper()}_DTYPE")
    return pd.DataFrame({name: arr[name] for name in arr.dtype.names if name != "_pad"})


def _venue_column(df: Any, names: Any) -> None:
    """With several quoted venues: ``instrument`` (the venue's name) after ``venue``; with one, no venue column
    at all (every row is venue 0), so a single-venue run's files are what they were."""
    import pandas as pd

    if "venue" not in df or "instrument" in df:
        return
    if names is None:
        del df["venue"]
        return
    names = [str(n) for n in names]
    venue = df["venue"].to_numpy().astype(np.int64)
    if len(venue) and int(venue.max()) >= len(names):
        raise ValueError(f"to_frames: venue numbers run 0..{len(names) - 1}, got {int(venue.max())}")
    df.insert(df.columns.get_loc("venue") + 1, "instrument",
              pd.Categorical.from_codes(venue, categories=pd.Index(names, dtype=object)))


def to_frames(fills: Any, orders: Any, decisions: Any, venue_names: Any = None):
    """``(fills_df, orders_df, decisions_df)`` from record arrays (DataFrames pass through, copied).

    ``venue_names`` (every venue's name, venue 0 first) is given when several venues were quoted: fills and
    orders then keep ``venue`` and gain ``instrument``; otherwise the ``venue`` column (all 0) is left out."""
    f = _frame(fills, R.FILL_DTYPE, "fill")
    o = _frame(orders, R.ORDER_DTYPE, "order")
    d = _frame(decisions, R.DECISION_DTYPE, "decision")
    _venue_column(f, venue_names)
    _venue_column(o, venue_names)
    if "side" in f and "side_name" not in f:
        f["side_name"] = _names(f["side"].to_numpy(), _SIDE)
    if "maker" in f and "liquidity" not in f:
        f["liquidity"] = _names(f["maker"].to_numpy(), {1: "maker", 0: "taker"})
    if "cause" in f and "cause_name" not in f:
        f["cause_name"] = _names(f["cause"].to_numpy(), _CAUSE)
    if "side" in o and "side_name" not in o:
        o["side_name"] = _names(o["side"].to_numpy(), _SIDE)
    if "tif" in o and "tif_name" not in o:
        o["tif_name"] = _names(o["tif"].to_numpy(), _TIF)
    if "status" in o and "status_name" not in o:
        o["status_name"] = _names(o["status"].to_numpy(), _STATUS)
    if "reason" in d and "reason_name" not in d:
        reason = d["reason"].to_numpy()
        uniq = {int(r): "|".join(n for bit, n in _WAKE if int(r) & bit) or "none" for r in np.unique(reason)}
        d["reason_name"] = _names(reason, uniq)
    return f, o, d


def signal_frame(records: Any, names: Any):
    """What each decision had seen of each signal venue, as a DataFrame: the SIGNAL_DATA_DTYPE columns with
    ``instrument`` (the venue's name, a Categorical of ``names`` in venue order) after ``venue``. ``records`` is a
    SIGNAL_DATA record array (None: no rows); a DataFrame passes through, copied."""
    import pandas as pd

    if isinstance(records, pd.DataFrame):
        return records.copy()
    names = [str(n) for n in names]
    arr = np.zeros(0, R.SIGNAL_DATA_DTYPE) if records is None else np.asarray(records)
    if arr.dtype != R.SIGNAL_DATA_DTYPE:
        raise TypeError(f"signal_frame: records must be SIGNAL_DATA_DTYPE, got {arr.dtype}")
    df = pd.DataFrame({name: arr[name] for name in arr.dtype.names})
    venue = arr["venue"]
    if len(venue) and (int(venue.min()) < 1 or int(venue.max()) > len(names)):
        raise ValueError(f"signal_frame: venue numbers run 1..{len(names)} ({len(names)} names), got "
                         f"{int(venue.min())}..{int(venue.max())}")
    codes = (venue - 1).astype(np.int64) if len(venue) else np.zeros(0, np.int64)
    df.insert(2, "instrument", pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object)))
    return df


def quote_frame(records: Any, names: Any):
    """Each decision's targets and actions on each quoted venue after the first, as a DataFrame: the QUOTE_DTYPE
    columns with ``instrument`` (the venue's name; ``names`` is every venue's, venue 0 first) after ``venue``.
    ``records`` is a QUOTE record array (None: no rows); a DataFrame passes through, copied."""
    import pandas as pd

    if isinstance(records, pd.DataFrame):
        return records.copy()
    names = [str(n) for n in names]
    arr = np.zeros(0, R.QUOTE_DTYPE) if records is None else np.asarray(records)
    if arr.dtype != R.QUOTE_DTYPE:
        raise TypeError(f"quote_frame: records must be QUOTE_DTYPE, got {arr.dtype}")
    df = pd.DataFrame({name: arr[name] for name in arr.dtype.names if name != "_pad"})
    venue = arr["venue"].astype(np.int64)
    if len(venue) and (int(venue.min()) < 1 or int(venue.max()) >= len(names)):
        raise ValueError(f"quote_frame: venue numbers run 1..{len(names) - 1}, got {int(venue.min())}..{int(venue.max())}")
    df.insert(2, "instrument", pd.Categorical.from_codes(venue, categories=pd.Index(names, dtype=object)))
    return df


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None  # JSON has no NaN/inf
    if isinstance(v, Path):
        return str(v)
    if v is None or isinstance(v, str):
        return v
    return str(v)


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_results(out_dir: str | os.PathLike, result: Any) -> dict[str, Path]:
    """Write ``fills.parquet``, ``orders.parquet``, ``decisions.parquet`` and ``summary.json`` to ``out_dir``,
    ``signal_data.parquet`` (with its own hash chain, ``signal_data_chain`` in the summary) when the run had
    signal venues (its summary has ``signal_venues``), and ``quotes.parquet`` (chain ``quotes_chain``) when it
    quoted several (``quoted_venues``).

    ``result`` has ``.fills``, ``.orders``, ``.decisions`` (DataFrames or record arrays), ``.summary`` and
    optionally ``.signal_data`` and ``.quotes``. Returns the written paths by file name. An unusable ``out_dir`` raises
    MmsimError naming it.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MmsimError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MmsimError(f"--out {out}: cannot create: {e.strerror or e}") from None
    quoted = result.summary.get("quoted_venues")
    names = ([quoted[0]] + list(result.summary.get("signal_venues", ()))) if quoted else None
    frames = dict(zip(("fills", "orders", "decisions"),
                      to_frames(result.fills, result.orders, result.decisions, venue_names=names)))
    from mmsim.engine.chain import (GENESIS, QUOTES_GENESIS, SIGNAL_GENESIS, chain_hashes, quote_chain_hashes,
                                    signal_chain_hashes)

    chain = chain_hashes(frames["decisions"])  # tamper evidence: mmsim audit DIR
    frames["decisions"]["chain"] = chain
    result.summary["decision_chain"] = chain[-1] if chain else GENESIS.hex()  # printed by mmsim run: keep it
    if result.summary.get("signal_venues"):  # a run with signal venues: what each decision saw of each
        sd = signal_frame(getattr(result, "signal_data", None), result.summary["signal_venues"])
        sd_chain = signal_chain_hashes(sd)
        sd["chain"] = sd_chain
        frames["signal_data"] = sd
        result.summary["signal_data_chain"] = sd_chain[-1] if sd_chain else SIGNAL_GENESIS.hex()
    if quoted:  # several quoted venues: each decision's targets and actions on venues 1..K
        qf = quote_frame(getattr(result, "quotes", None), names)
        q_chain = quote_chain_hashes(qf)
        qf["chain"] = q_chain
        frames["quotes"] = qf
        result.summary["quotes_chain"] = q_chain[-1] if q_chain else QUOTES_GENESIS.hex()
    summary = dict(result.summary)
    written: dict[str, Path] = {}
    try:
        for name, df in frames.items():
            p = out / f"{name}.parquet"
            _atomic_write(p, lambda tmp, df=df: df.to_parquet(tmp, index=False))
            written[p.name] = p
        p = out / "summary.json"
        text = json.dumps(_jsonable(summary), indent=2, sort_keys=False) + "\n"

        def write_json(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)

        _atomic_write(p, write_json)
        written[p.name] = p
    except OSError as e:
        raise MmsimError(f"--out {out}: cannot write: {e.strerror or e}") from None
    return written


# --------------------------------------------------------------------------------------------- text
_ORDER = ("pnl", "pnl_coin", "pnl_quote", "position", "n_fills", "volume", "fees", "fees_coin", "fees_quote",
          "n_events", "wall_s", "events_per_s")
_LABELS = {
    "pnl": "PnL", "position": "position (lots)", "n_fills": "fills", "volume": "volume (lots)",
    "fees": "fees", "n_events": "events", "wall_s": "wall time", "events_per_s": "speed",
    "pnl_coin": "PnL (coin)", "pnl_quote": "PnL (quote, at final mid)", "fees_coin": "fees (coin)",
    "fees_quote": "fees (quote, at final mid)", "cash_coin": "cash (coin)", "final_mid": "final mid (ticks)",
    "cash_ticklots": "cash (tick·lots)",
}


def _fmt(key: str, v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v)) if key.endswith("_ts") else f"{int(v):,}"  # ns since the epoch: copyable as typed
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            return str(f)
        if key == "wall_s":
            return f"{f:.3f} s"
        if key == "events_per_s":
            return f"{f:,.0f} events/s"
        if key in ("pnl", "fees", "pnl_quote", "fees_quote"):
            return f"{f:,.4f}"
        if key in ("pnl_coin", "fees_coin", "cash_coin"):
            return f"{f:.8f}"
        return f"{f:.6g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(k, x)}" for k, x in v.items()) or "-"
    return str(v)


def format_venues(summary: dict) -> str:
    """A run quoting several venues: one line per quoted venue (fills, volume, position, fees, PnL) and the total
    PnL; empty text otherwise. The total adds each venue's PnL in its own price × size units: meaningful when the
    venues share a quote currency (spot and perpetual BTCUSDT both in USDT), which the user's scenario states."""
    quoted = summary.get("quoted")
    if not quoted:
        return ""
    first = {"name": (summary.get("quoted_venues") or ["quoted"])[0], **{k: summary.get(k) for k in
             ("n_fills", "volume", "position", "fees", "pnl")}}
    rows = [first] + list(quoted)
    width = max(8, *(len(str(r["name"])) for r in rows))
    lines = [f"{'venue':<{width}}  {'fills':>9}  {'volume':>11}  {'position':>9}  {'fees':>12}  {'PnL':>14}"]
    total = 0.0
    for r in rows:
        pnl = float(r.get("pnl") or 0.0)
        total += pnl
        lines.append(f"{str(r['name']):<{width}}  {int(r['n_fills']):>9,}  {int(r['volume']):>11,}  "
                     f"{int(r['position']):>9,}  {float(r['fees']):>12,.4f}  {pnl:>14,.4f}")
    lines.append(f"{'total':<{width}}  {sum(int(r['n_fills']) for r in rows):>9,}  "
                 f"{sum(int(r['volume']) for r in rows):>11,}  {'':>9}  "
                 f"{sum(float(r['fees']) for r in rows):>12,.4f}  {total:>14,.4f}")
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    """Readable multi-line text: the headline numbers first, then every other key (a multi-venue run's per-venue
    figures are :func:`format_venues`'s)."""
    summary = {k: v for k, v in summary.items() if k != "quoted"}
    order = _ORDER
    if summary.get("inverse"):  # the coin figures first: pnl and fees are price x contracts, not money
        order = ("pnl_coin", "pnl_quote", "fees_coin", "fees_quote", "position", "n_fills", "volume", "pnl", "fees",
                 "n_events", "wall_s", "events_per_s")
    keys = [k for k in order if k in summary] + [k for k in summary if k not in order]
    if not keys:
        return "(empty summary)"
    labels = {k: _LABELS.get(k, k.replace("_", " ")) for k in keys}
    if summary.get("inverse"):
        labels.update(pnl="PnL (price x contracts)", fees="fees (price x contracts)")
    width = max(len(s) for s in labels.values())
    return "\n".join(f"{labels[k]:<{width}}  {_fmt(k, summary[k])}" for k in keys)
