"""Tardis.dev downloadable CSV (``incremental_book_L2`` + ``trades``) -> L2 event store (docs/data.md).

Columns (https://docs.tardis.dev/downloadable-csv-files; times are µs since epoch, UTC):

- incremental_book_L2: ``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount``
- trades: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``

``timestamp`` (exchange time) -> ``exch_ts``, ``local_timestamp`` (arrival at Tardis) -> ``recv_ts``. A snapshot
block (``is_snapshot`` true after a row that was not) starts with ``CLEAR`` (both sides); ``amount`` is the new
level size (0 removes). Book rows before the first snapshot are skipped (Tardis: buffered updates received
before the exchange sent its snapshot). Trades: ``side`` is the taker's (buy +1, sell -1). Both streams are
merged by exchange time (stable: equal times keep input-file order, then line order).
"""
from __future__ import annotations

import heapq
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from mmsim import records as R
from mmsim.errors import ConfigError, DataError
from mmsim.records import Instrument
from mmsim.data.adapters.common import ChunkBuilder, Conversion, DecimalGrid, input_record, need_file, open_text, quantiles_from_counts
from mmsim.data.adapters.binance import _Side

__all__ = ["convert_tardis", "BOOK_COLUMNS", "TRADE_COLUMNS"]

BOOK_COLUMNS = ("exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount")
TRADE_COLUMNS = ("exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount")
_DEPTH, _TRADE, _CLEAR = R.DEPTH, R.TRADE, R.CLEAR
_BID, _ASK = R.BID, R.ASK


class _File:
    def __init__(self, path: Path, idx: int, repair: bool, counters: dict):
        self.path, self.idx, self.name = path, idx, path.name
        with open_text(path) as f:
            header = f.readline().rstrip("\n").rstrip("\r")
        if not header:
            raise DataError(f"{self.name}:1: empty file (expected a Tardis CSV header)")
        cols = [c.strip() for c in header.split(",")]
        if "is_snapshot" in cols:
            self.kind, want = "book", BOOK_COLUMNS
        elif "id" in cols:
            self.kind, want = "trades", TRADE_COLUMNS
        else:
            raise DataError(f"{self.name}:1: header {header!r} is neither incremental_book_L2 "
                            f"({','.join(BOOK_COLUMNS)}) nor trades ({','.join(TRADE_COLUMNS)})")
        missing = [c for c in want if c not in cols]
        if missing:
            raise DataError(f"{self.name}:1: missing column(s) {', '.join(missing)} in a Tardis "
                            f"{'incremental_book_L2' if self.kind == 'book' else 'trades'} file")
        extra = [c for c in cols if c not in want]
        if len(set(cols)) != len(cols):
            raise DataError(f"{self.name}:1: repeated column names in the header")
        if extra:
            if not repair:
                raise DataError(f"{self.name}:1: unknown field(s) {', '.join(map(repr, extra))} (a Tardis "
                                f"{'incremental_book_L2' if self.kind == 'book' else 'trades'} file has "
                                f"{','.join(want)}; --repair ignores extra columns and counts them)")
            counters["unknown_columns_ignored"] += len(extra)
        self.ncols = len(cols)
        self.pos = {c: cols.index(c) for c in want}


def convert_tardis(inputs: list, *, symbol: Optional[str] = None, tick_size: Optional[float] = None,
                   lot_size: Optional[float] = None, repair: bool = False) -> Conversion:
    """Open Tardis CSV files (any number of incremental_book_L2 and trades files, plain or .gz)."""
    paths = [need_file(p) for p in inputs]
    if tick_size is None or lot_size is None:
        raise ConfigError("--format tardis needs --tick-size and --lot-size (the CSV files do not carry them)")
    repairs = dict(malformed_lines_dropped=0, unknown_columns_ignored=0, unknown_side_trades_dropped=0,
                   exch_ts_clamped=0, crossed_groups=0, crossed_levels_removed=0)
    files = [_File(p, i, repair, repairs) for i, p in enumerate(paths)]
    books = [f for f in files if f.kind == "book"]
    trades = [f for f in files if f.kind == "trades"]
    if not books:
        raise DataError(f"{paths[0].name}: no incremental_book_L2 file among the inputs (the book needs one)")
    sym = symbol.upper() if symbol else _first_symbol(books[0])
    report: dict = {"format": "tardis", "repairs": repairs,
                    "files": {f.name: f.kind for f in files}}
    source = {"format": "tardis", "inputs": [input_record(p) for p in paths],
              "options": {"repair": bool(repair), "symbol": sym}}
    tick = DecimalGrid(repr(float(tick_size)), "tick")
    lot = DecimalGrid(repr(float(lot_size)), "lot")
    gen = _run(books, trades, sym, bool(symbol), tick, lot, repair, report, repairs)
    return Conversion(Instrument(tick_size=float(tick_size), lot_size=float(lot_size), symbol=sym), gen,
                      report, source)


def _first_symbol(f: _File) -> str:
    with open_text(f.path) as fh:
        fh.readline()
        for i, line in enumerate(fh, 2):
            parts = line.rstrip("\n").split(",")
            if len(parts) == f.ncols:
                return parts[f.pos["symbol"]].strip().upper()
    raise DataError(f"{f.name}: no data rows")


def _us(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"timestamp {text!r} is not an integer number of µs")
    return int(text) * 1000


def _run(books, trades, sym, explicit, tick, lot, repair, report, repairs) -> Iterator[np.ndarray]:
    c = dict(book_rows=0, trade_rows=0, book_rows_before_first_snapshot=0, snapshots=0,
             other_symbol_skipped=0, zero_updates_for_absent_levels=0, recv_clamped=0)
    report["counts_rows"] = c
    exchanges: set = set()
    ctx = dict(sym=sym, explicit=explicit)

    def malformed(where: str, what: str) -> bool:
        if not repair:
            raise DataError(f"{where}: {what} (--repair drops malformed lines and counts them)")
        repairs["malformed_lines_dropped"] += 1
        return True

    def symbol_ok(s: str, where: str) -> bool:
        s = s.strip().upper()
        if s == ctx["sym"]:
            return True
        if not ctx["explicit"]:
            raise DataError(f"{where}: symbol {s} after {ctx['sym']}: the files hold several symbols "
                            "(choose one with --symbol)")
        c["other_symbol_skipped"] += 1
        return False

    last = {"book": None, "trades": None}

    def key_check(stream: str, ts: int, where: str) -> int:
        prev = last[stream]
        if prev is not None and ts < prev:
            if not repair:
                raise DataError(f"{where}: timestamp goes back ({ts // 1000} µs after {prev // 1000} µs; "
                                "--repair raises it to the previous one and counts it)")
            repairs["exch_ts_clamped"] += 1
            ts = prev
        last[stream] = ts
        return ts

    def csv_rows(f, counter: str, i_sym: int) -> Iterator[tuple[int, str, list[str]]]:
        """``(line number, file:line, fields)`` of each well-formed data line of ``f`` for our symbol; malformed lines are
        reported (or counted under --repair), every other line counted under ``counter``."""
        with open_text(f.path) as fh:
            fh.readline()  # header
            for line_no, line in enumerate(fh, 2):
                where = f"{f.name}:{line_no}"
                parts = line.rstrip("\n").rstrip("\r").split(",")
                if len(parts) != f.ncols:
                    malformed(where, f"expected {f.ncols} fields, got {len(parts)}")
                    continue
                c[counter] += 1
                if symbol_ok(parts[i_sym], where):
                    yield line_no, where, parts

    def book_stream() -> Iterator[tuple]:
        bids, asks = _Side(_BID), _Side(_ASK)
        started = False
        prev_snap = False
        group: list = []          # rows of the current message (same local_timestamp)
        group_local = None
        touched = [False, False]  # bid/ask best touched in this group

        def close_group() -> list:
            rows = group[:]
            group.clear()
            bb, ba = bids.best(), asks.best()
            if bb is not None and ba is not None and bb >= ba and rows:
                ts, fidx, line, recv, where = rows[-1][0], rows[-1][1], rows[-1][2], rows[-1][3], rows[-1][8]
                if not repair:
                    raise DataError(f"{where}: crossed book after the update ending here: best bid {bb} >= "
                                    f"best ask {ba} ticks (--repair removes the stale side's crossed levels "
                                    "and counts them)")
                repairs["crossed_groups"] += 1
                stale = _ASK if touched[0] and not touched[1] else _BID if touched[1] and not touched[0] else _ASK
                book = asks if stale == _ASK else bids
                while True:
                    bb, ba = bids.best(), asks.best()
                    if bb is None or ba is None or bb < ba:
                        break
                    p = ba if stale == _ASK else bb
                    book.set(p, 0)
                    rows.append((ts, fidx, line, recv, _DEPTH, stale, p, 0, where))
                    repairs["crossed_levels_removed"] += 1
            touched[0] = touched[1] = False
            # One local_timestamp group is one exchange message: its last row ends it (FLAG_MSG_END).
            return [r + (0,) for r in rows[:-1]] + [rows[-1] + (R.FLAG_MSG_END,)] if rows else rows

        for f in books:
            P = f.pos
            i_ex, i_sym, i_ts, i_loc, i_snap, i_side, i_px, i_amt = (P[k] for k in BOOK_COLUMNS)
            for line_no, where, parts in csv_rows(f, "book_rows", i_sym):
                try:
                    ts = _us(parts[i_ts])
                    loc = _us(parts[i_loc])
                    snap_txt = parts[i_snap].strip().lower()
                    if snap_txt not in ("true", "false"):
                        raise ValueError(f"is_snapshot {parts[i_snap]!r} is not true/false")
                    side_txt = parts[i_side].strip().lower()
                    if side_txt not in ("bid", "ask"):
                        raise ValueError(f"side {parts[i_side]!r} is not bid/ask")
                    p = tick(parts[i_px])
                    q = lot(parts[i_amt])
                    if p <= 0 or q < 0:
                        raise ValueError(f"price {parts[i_px]!r} must be > 0 and amount {parts[i_amt]!r} >= 0")
                except ValueError as e:
                    malformed(where, str(e))
                    continue
                exchanges.add(parts[i_ex])
                is_snap = snap_txt == "true"
                if not started and not is_snap:
                    c["book_rows_before_first_snapshot"] += 1
                    continue
                if group and loc != group_local:
                    yield from close_group()
                group_local = loc
                ts = key_check("book", ts, where)
                side = _BID if side_txt == "bid" else _ASK
                if is_snap and not prev_snap:
                    if group:
                        yield from close_group()
                    c["snapshots"] += 1
                    bids.clear()
                    asks.clear()
                    group.append((ts, f.idx, line_no, loc, _CLEAR, 0, 0, 0, where))
                    started = True
                prev_snap = is_snap
                book = bids if side == _BID else asks
                best = book.best()
                if best is None or (p >= best if side == _BID else p <= best):
                    touched[0 if side == _BID else 1] = True
                if book.set(p, q):
                    group.append((ts, f.idx, line_no, loc, _DEPTH, side, p, q, where))
                else:
                    c["zero_updates_for_absent_levels"] += 1
        if group:
            yield from close_group()

    def trade_stream() -> Iterator[tuple]:
        for f in trades:
            P = f.pos
            i_ex, i_sym, i_ts, i_loc, _, i_side, i_px, i_amt = (P[k] for k in TRADE_COLUMNS)
            for line_no, where, parts in csv_rows(f, "trade_rows", i_sym):
                try:
                    ts = _us(parts[i_ts])
                    loc = _us(parts[i_loc])
                    side_txt = parts[i_side].strip().lower()
                    if side_txt not in ("buy", "sell", "unknown"):
                        raise ValueError(f"side {parts[i_side]!r} is not buy/sell/unknown")
                    p = tick(parts[i_px])
                    q = lot(parts[i_amt])
                    if p <= 0 or q <= 0:
                        raise ValueError(f"price {parts[i_px]!r} and amount {parts[i_amt]!r} must be > 0")
                except ValueError as e:
                    malformed(where, str(e))
                    continue
                if side_txt == "unknown":
                    if not repair:
                        raise DataError(f"{where}: trade side 'unknown' (the aggressor is needed; --repair "
                                        "drops such trades and counts them)")
                    repairs["unknown_side_trades_dropped"] += 1
                    continue
                exchanges.add(parts[i_ex])
                ts = key_check("trades", ts, where)
                yield (ts, f.idx, line_no, loc, _TRADE, 1 if side_txt == "buy" else -1, p, q, where, R.FLAG_MSG_END)

    out = ChunkBuilder()
    lat: dict[int, int] = {}
    book_start = None
    dropped_before = 0
    for ts, _, _, loc, kind, side, p, q, where, flags in heapq.merge(book_stream(), trade_stream(),
                                                             key=lambda r: (r[0], r[1], r[2])):
        if book_start is None:
            if kind != _CLEAR:
                dropped_before += 1  # a trade before the book's first snapshot
                continue
            book_start = ts
        if loc < ts:
            c["recv_clamped"] += 1
            loc = ts
        d = (loc - ts) // 1000
        lat[d] = lat.get(d, 0) + 1
        out.rows.append((ts, loc, p, q, 0, kind, side, flags))
        if out.full():
            yield out.take()
    if book_start is None:
        raise DataError(f"{books[0].name}: no snapshot rows (is_snapshot true): the book cannot be started")
    if len(out):
        yield out.take()
    c["trades_before_first_snapshot"] = dropped_before
    report["exchanges"] = sorted(exchanges)
    report["counts"] = out.counts()
    report["n_input_lines"] = c["book_rows"] + c["trade_rows"]
    if lat:
        v = np.array(list(lat.keys()), dtype=np.int64)
        n = np.array(list(lat.values()), dtype=np.int64)
        p1, p50, p99 = quantiles_from_counts(v, n, [0.01, 0.5, 0.99])
        report["latency_ns"] = {"what": "local_timestamp - timestamp per row (after clamping)",
                                "p1": p1 * 1000, "p50": p50 * 1000, "p99": p99 * 1000}
