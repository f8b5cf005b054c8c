"""Bad input never crashes: every check on market data, vectorised, with a message naming the row.

``validate_events`` checks an EVENT_DTYPE array before any engine sees it; ``events_from_frame`` converts a
table with float prices and quantities into one. Messages read ``"{source}: row {i}: {what}"`` (rows are
0-based positions) and are raised as :class:`mmsim.errors.DataError`. docs/bad-input.md lists every check.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import numba

from mmsim import records as R
from mmsim.errors import ConfigError, DataError

__all__ = ["validate_events", "events_from_frame", "KIND_NAMES", "REPAIRABLE"]

KIND_NAMES = {v: k for k, v in R.EVENT_KINDS.items()}
_KNOWN_KINDS = np.array(sorted(KIND_NAMES), dtype=np.uint8)
_POSITIVE_QTY = (R.TRADE, R.ADD, R.CANCEL, R.DELETE, R.EXECUTE)
_L2_ONLY = (R.DEPTH, R.CLEAR)

#: What ``repair=True`` may drop (counted in the report under ``dropped``); everything else always raises.
REPAIRABLE = ("zero_qty",)


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _show(v: Any) -> str:
    """A table cell for a message: strings quoted, numpy scalars as plain numbers."""
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v)


def _kind_name(k: int) -> str:
    return KIND_NAMES.get(int(k), str(int(k))).upper()


@numba.njit(cache=True, nogil=True)
def _scan(ts, kind, side, price, qty, order_id, recv, no_ts):
    """One pass over all rows: is every row clean (no check below would fire, no zero sizes)? Plus the
    report's counts. Any problem sends validate_events down the vectorised path that words the error."""
    n = len(ts)
    counts = np.zeros(256, np.int64)
    clean = True
    recv_missing = 0
    recv_before = 0
    for i in range(n):
        k = kind[i]
        counts[k] += 1
        if ts[i] == no_ts or (i > 0 and ts[i] < ts[i - 1]) or k < 1 or k > 7:
            clean = False
            break
        s = side[i]
        if k == 3:
            if s < -1 or s > 1:
                clean = False
                break
        else:
            if (s != 1 and s != -1) or price[i] <= 0 or qty[i] < 0 or (k != 1 and qty[i] == 0):
                clean = False
                break
            if k >= 4 and order_id[i] == 0:
                clean = False
                break
        if recv[i] == no_ts:
            recv_missing += 1
        elif recv[i] < ts[i]:
            recv_before += 1
    has_l2 = counts[1] + counts[3] > 0
    has_l3 = counts[4] + counts[5] + counts[6] + counts[7] > 0
    if has_l2 and has_l3:
        clean = False
    return clean, counts, recv_missing, recv_before


def validate_events(events: Any, source: str, *, repair: bool = False, row_offset: int = 0) -> tuple[np.ndarray, dict]:
    """Check an EVENT_DTYPE array; return it (repaired if allowed) and a report.

    Raises DataError ``"{source}: row {i}: {what}"`` for the first bad row over all checks. With
    ``repair=True`` rows whose size must be positive but is zero (TRADE, ADD, CANCEL, DELETE, EXECUTE with
    qty 0) are dropped and counted instead; unsorted timestamps, off-grid prices, negative sizes and all
    other faults are never repaired.

    The report holds ``source``, ``mode`` ("l2"/"l3"), ``n_input``, ``n_rows``, ``dropped`` (dict),
    ``n_dropped``, ``counts`` (rows per kind name), ``recv_ts_missing``, ``recv_before_exch``,
    ``first_exch_ts``, ``last_exch_ts``. ``row_offset`` numbers rows globally when checking one chunk
    of a longer stream (messages that mention a second row keep it chunk-relative).
    """
    if not isinstance(events, np.ndarray):
        raise DataError(f"{source}: events must be a numpy array of EVENT_DTYPE, got {type(events).__name__}")
    if events.dtype != R.EVENT_DTYPE:
        raise DataError(f"{source}: events have dtype {events.dtype}, expected mmsim.records.EVENT_DTYPE "
                        "(convert tables with mmsim.data.validate.events_from_frame)")
    if events.ndim != 1:
        raise DataError(f"{source}: events must be one-dimensional, got shape {events.shape}")
    n_input = len(events)
    if n_input == 0:
        raise DataError(f"{source}: no events")

    kind = events["kind"]
    side = events["side"]
    qty = events["qty"]
    price = events["price"]
    ts = events["exch_ts"]

    clean, counts, recv_missing, recv_before = _scan(ts, kind, side, price, qty, events["order_id"],
                                                      events["recv_ts"], R.NO_TS)
    if clean:  # the common case, in one compiled pass
        return events, {
            "source": source,
            "mode": "l3" if counts[list(R.L3_KINDS)].sum() else "l2",
            "n_input": n_input, "n_rows": n_input, "dropped": {}, "n_dropped": 0,
            "counts": {KIND_NAMES[k]: int(counts[k]) for k in sorted(KIND_NAMES) if counts[k]},
            "recv_ts_missing": int(recv_missing), "recv_before_exch": int(recv_before),
            "first_exch_ts": int(ts[0]), "last_exch_ts": int(ts[-1]),
        }

    problems: list[tuple[int, str]] = []  # (first bad row, message) per failed check

    def check(bad: np.ndarray, describe) -> None:
        if bad.any():
            i = _first(bad)
            problems.append((i, describe(i)))

    known = np.isin(kind, _KNOWN_KINDS)
    check(~known, lambda i: f"unknown event kind {int(kind[i])} (known: "
          + ", ".join(f"{v}={k}" for k, v in R.EVENT_KINDS.items()) + ")")
    check(ts == R.NO_TS, lambda i: "exch_ts is missing (NO_TS)")
    if n_input > 1:
        back = np.zeros(n_input, dtype=bool)
        back[1:] = ts[1:] < ts[:-1]
        check(back, lambda i: f"exch_ts {int(ts[i])} is before the previous row's {int(ts[i - 1])} "
              "(events must be sorted by exchange time)")

    is_clear = kind == R.CLEAR
    two_sided = known & ~is_clear
    check(two_sided & (side != 1) & (side != -1),
          lambda i: f"side {int(side[i])} of a {_kind_name(kind[i])} event must be +1 (bid/buy) or -1 (ask/sell)")
    check(is_clear & (side != 1) & (side != -1) & (side != 0),
          lambda i: f"side {int(side[i])} of a CLEAR event must be +1 (bids), -1 (asks) or 0 (both)")

    needs_pos = np.isin(kind, _POSITIVE_QTY)
    check(needs_pos & (qty < 0), lambda i: f"negative size {int(qty[i])} in a {_kind_name(kind[i])} event")
    check((kind == R.DEPTH) & (qty < 0), lambda i: f"negative size {int(qty[i])} in a DEPTH event")
    zero = needs_pos & (qty == 0)
    if not repair:
        check(zero, lambda i: f"zero size in a {_kind_name(kind[i])} event (repair=True drops such rows)")
    check(two_sided & (price <= 0),
          lambda i: f"price {int(price[i])} ticks of a {_kind_name(kind[i])} event must be > 0")
    is_l3 = np.isin(kind, R.L3_KINDS)
    check(is_l3 & (events["order_id"] == 0),
          lambda i: f"{_kind_name(kind[i])} event without an order_id (0 is reserved for L2 events)")

    l2_only = np.isin(kind, _L2_ONLY)
    has_l2, has_l3 = bool(l2_only.any()), bool(is_l3.any())
    if has_l2 and has_l3:
        i2, i3 = _first(l2_only), _first(is_l3)
        i, j = max(i2, i3), min(i2, i3)
        problems.append((i, f"{_kind_name(kind[i])} event mixed with {_kind_name(kind[j])} at row {j}: "
                         "L2 (DEPTH/CLEAR) and L3 (ADD/CANCEL/DELETE/EXECUTE) events cannot be mixed"))

    if problems:
        i, what = min(problems, key=lambda p: p[0])
        raise DataError(f"{source}: row {i + row_offset}: {what}")

    dropped: dict[str, int] = {}
    out = events
    if repair and zero.any():
        dropped["zero_qty"] = int(zero.sum())
        out = events[~zero]
        if len(out) == 0:
            raise DataError(f"{source}: no events left after dropping {dropped['zero_qty']} zero-size rows")

    recv = out["recv_ts"]
    has_recv = recv != R.NO_TS
    kinds_out, counts = np.unique(out["kind"], return_counts=True)
    report = {
        "source": source,
        "mode": "l3" if has_l3 else "l2",
        "n_input": n_input,
        "n_rows": len(out),
        "dropped": dropped,
        "n_dropped": n_input - len(out),
        "counts": {KIND_NAMES[int(k)]: int(c) for k, c in zip(kinds_out, counts)},
        "recv_ts_missing": int((~has_recv).sum()),
        "recv_before_exch": int((has_recv & (recv < out["exch_ts"])).sum()),
        "first_exch_ts": int(out["exch_ts"][0]),
        "last_exch_ts": int(out["exch_ts"][-1]),
    }
    return out, report


# --------------------------------------------------------------------------------------------- tables
_SIDE_WORDS = {"1": 1, "+1": 1, "b": 1, "bid": 1, "buy": 1, "-1": -1, "a": -1, "s": -1, "ask": -1,
               "sell": -1, "offer": -1, "0": 0, "both": 0}


def events_from_frame(df: Any, source: str, tick_size: float, lot_size: float) -> np.ndarray:
    """Convert a DataFrame of float prices/quantities to EVENT_DTYPE (prices in ticks, sizes in lots).

    Columns: ``exch_ts`` (int ns or datetime64), optional ``recv_ts`` (missing or NaN/NaT -> NO_TS),
    ``kind`` (a name such as ``"depth"`` or its int code), ``side`` (+1/-1/0 or bid/ask/buy/sell),
    ``price`` and ``qty`` (floats in currency and instrument units), optional ``order_id`` and ``flags``.
    Other columns are ignored. ``price / tick_size`` and ``qty / lot_size`` must be within 1e-6 of an
    integer (else DataError naming the row). NaN is an error except in the price/qty of a CLEAR row.
    The result is not validated; pass it to :func:`validate_events`.
    """
    import pandas as pd

    for name, v in (("tick_size", tick_size), ("lot_size", lot_size)):
        try:
            ok = float(v) > 0 and np.isfinite(float(v))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"{source}: {name} must be a positive number, got {v!r}")
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in ("exch_ts", "kind", "side", "price", "qty") if c not in df.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} "
                        f"(have: {', '.join(map(str, df.columns))})")
    n = len(df)
    out = np.zeros(n, dtype=R.EVENT_DTYPE)
    if n == 0:
        return out

    out["exch_ts"] = _ts_column(df["exch_ts"], source, "exch_ts", allow_missing=False)
    out["recv_ts"] = (_ts_column(df["recv_ts"], source, "recv_ts", allow_missing=True)
                      if "recv_ts" in df.columns else R.NO_TS)
    kind = _kind_column(df["kind"], source)
    out["kind"] = kind
    out["side"] = _side_column(df["side"], source)
    is_clear = kind == R.CLEAR
    out["price"] = _grid_column(df["price"], source, "price", float(tick_size), "tick", is_clear)
    out["qty"] = _grid_column(df["qty"], source, "qty", float(lot_size), "lot", is_clear)
    for col in ("order_id", "flags"):
        if col in df.columns:
            out[col] = _int_column(df[col], source, col, lo=0 if col == "flags" else None,
                                   hi=255 if col == "flags" else None)
    return out


def events_from_int_frame(df: Any, source: str) -> np.ndarray:
    """EVENT_DTYPE rows from a table already in integer ticks and lots (columns exch_ts, kind, side, price, qty
    and optionally recv_ts, order_id, flags); every column checked, errors name ``source`` and the row."""
    missing = [c for c in ("exch_ts", "kind", "side", "price", "qty") if c not in df.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (have: {', '.join(map(str, df.columns))})")
    out = np.zeros(len(df), dtype=R.EVENT_DTYPE)
    if len(df) == 0:
        return out
    out["exch_ts"] = _ts_column(df["exch_ts"], source, "exch_ts", allow_missing=False)
    out["recv_ts"] = _ts_column(df["recv_ts"], source, "recv_ts", allow_missing=True) \
        if "recv_ts" in df.columns else R.NO_TS
    out["kind"] = _kind_column(df["kind"], source)
    out["side"] = _side_column(df["side"], source)
    out["price"] = _int_column(df["price"], source, "price")
    out["qty"] = _int_column(df["qty"], source, "qty")
    if "order_id" in df.columns:
        out["order_id"] = _int_column(df["order_id"], source, "order_id")
    if "flags" in df.columns:
        out["flags"] = _int_column(df["flags"], source, "flags", lo=0, hi=255)
    return out


def _numeric(series, source: str, col: str) -> np.ndarray:
    """int64 for an integer column without missing values, else float64 with NaN where missing."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"{source}: column {col} holds booleans, expected numbers")
    if pd.api.types.is_integer_dtype(series):
        if not series.isna().any():
            return series.to_numpy(dtype=np.int64)
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_float_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    coerced = pd.to_numeric(series, errors="coerce")
    bad = coerced.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        i = _first(bad)
        raise DataError(f"{source}: row {i}: {col} {_show(series.iloc[i])} is not a number")
    return _numeric(coerced, source, col)


def _ts_column(series, source: str, col: str, *, allow_missing: bool) -> np.ndarray:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
        s = series.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(series.dtype, pd.DatetimeTZDtype) \
            else series
        nat = s.isna().to_numpy()
        vals = s.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
        if nat.any():
            if not allow_missing:
                raise DataError(f"{source}: row {_first(nat)}: {col} is missing (NaT)")
            vals[nat] = R.NO_TS
        return vals
    if pd.api.types.is_integer_dtype(series):  # exact, also for nullable integers with missing values
        nat = series.isna().to_numpy()
        if nat.any() and not allow_missing:
            raise DataError(f"{source}: row {_first(nat)}: {col} is missing")
        return series.to_numpy(dtype=np.int64, na_value=R.NO_TS)
    vals = _numeric(series, source, col)
    if vals.dtype.kind in "iu":
        return vals.astype(np.int64)
    nan = np.isnan(vals)
    if nan.any() and not allow_missing:
        raise DataError(f"{source}: row {_first(nan)}: {col} is NaN")
    frac = ~nan & ((vals != np.rint(vals)) | ~np.isfinite(vals))
    if frac.any():
        i = _first(frac)
        raise DataError(f"{source}: row {i}: {col} {float(vals[i])!r} is not a whole number of ns")
    res = np.where(nan, 0.0, vals).astype(np.int64)
    res[nan] = R.NO_TS
    return res


def _kind_column(series, source: str) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(vals) | ~np.isin(vals, _KNOWN_KINDS.astype(np.float64))
        if bad.any():
            i = _first(bad)
            raise DataError(f"{source}: row {i}: unknown event kind {_show(series.iloc[i])} "
                            f"(known: {', '.join(f'{v}={k}' for k, v in R.EVENT_KINDS.items())})")
        return vals.astype(np.uint8)
    names = series.astype("string").str.strip().str.lower()
    mapping = {**R.EVENT_KINDS, **{str(v): v for v in R.EVENT_KINDS.values()}}
    codes = names.map(mapping)
    bad = codes.isna().to_numpy()
    if bad.any():
        i = _first(bad)
        raise DataError(f"{source}: row {i}: unknown event kind {_show(series.iloc[i])} "
                        f"(known: {', '.join(R.EVENT_KINDS)})")
    return codes.to_numpy(dtype=np.int64).astype(np.uint8)


def _side_column(series, source: str) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isin(vals, (-1.0, 0.0, 1.0))
    else:
        mapped = series.astype("string").str.strip().str.lower().map(_SIDE_WORDS)
        vals = mapped.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(vals)
    if bad.any():
        i = _first(bad)
        raise DataError(f"{source}: row {i}: side {_show(series.iloc[i])} is not +1/-1/0 (or bid/ask/buy/sell)")
    return vals.astype(np.int8)


def _grid_column(series, source: str, col: str, unit: float, unit_name: str,
                 nan_ok: np.ndarray) -> np.ndarray:
    vals = np.asarray(_numeric(series, source, col), dtype=np.float64)
    nan = np.isnan(vals)
    bad_nan = nan & ~nan_ok
    if bad_nan.any():
        raise DataError(f"{source}: row {_first(bad_nan)}: {col} is NaN")
    inf = np.isinf(vals)
    if inf.any():
        raise DataError(f"{source}: row {_first(inf)}: {col} is infinite")
    scaled = np.where(nan, 0.0, vals) / unit
    rounded = np.rint(scaled)
    off = np.abs(scaled - rounded) > 1e-6
    if off.any():
        i = _first(off)
        raise DataError(f"{source}: row {i}: {col} {float(vals[i])!r} is not on the {unit_name} grid "
                        f"({unit_name}_size {unit!r})")
    if np.any(np.abs(rounded) >= 2.0 ** 62):
        i = _first(np.abs(rounded) >= 2.0 ** 62)
        raise DataError(f"{source}: row {i}: {col} {float(vals[i])!r} is out of range")
    return rounded.astype(np.int64)


def _int_column(series, source: str, col: str, *, lo=None, hi=None) -> np.ndarray:
    vals = _numeric(series, source, col)
    if vals.dtype.kind in "iu":
        arr = vals.astype(np.int64)
    else:
        f = np.asarray(vals, dtype=np.float64)
        bad = ~np.isfinite(f) | (f != np.rint(f))
        if bad.any():
            i = _first(bad)
            raise DataError(f"{source}: row {i}: {col} {_show(series.iloc[i])} is not an integer")
        arr = f.astype(np.int64)
    if lo is not None or hi is not None:
        bad = np.zeros(len(arr), dtype=bool)
        if lo is not None:
            bad |= arr < lo
        if hi is not None:
            bad |= arr > hi
        if bad.any():
            i = _first(bad)
            raise DataError(f"{source}: row {i}: {col} {int(arr[i])} is out of range [{lo}, {hi}]")
    return arr
