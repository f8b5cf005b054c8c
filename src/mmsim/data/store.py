"""The event store: a compact, columnar, chunked file of EVENT_DTYPE rows plus its metadata.

Layout of a store (a directory, conventionally ``NAME.mmstore``)::

    events.parquet   columns exch_ts, recv_ts, price, qty, order_id (int64), kind (uint8), side (int8),
                     flags (uint8); zstd; row groups of ``ROW_GROUP`` rows, so a reader holds one chunk
    meta.json        {"format": "mmsim-events", "version": 2, "instrument": {...}, "n_rows", "mode",
                      "first_ts", "last_ts", "time_zone", "session_date", "source": {...}, "report": {...}};
                     the instrument of an inverse contract adds "contract_size" and "inverse" (absent: linear,
                     contract size 1)

``time_zone`` is the venue's (LOBSTER ``America/New_York``, others ``UTC``) and ``session_date`` its date of the
first row: what a typed clock time (``12:00``) is resolved against (mmsim.data.times). A store without them
(written before they existed) is read as UTC. ``EventStore.window`` starts a view at any time with the exact book
(mmsim.data.seek).

Writers stream chunks (a 100 M-row day never sits in memory) and the result is byte-identical for the
same input: no timestamps or random ids are written. Readers yield EVENT_DTYPE chunks in order.

Version 2 marks every exchange message: the last row of each carries ``FLAG_MSG_END`` (the writer sets it
where the input's flags or exchange times end a message, :mod:`mmsim.data.messages`). Version 1 stores,
written before messages were marked, are refused with a line saying to convert the data again.
"""
from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from mmsim import records as R
from mmsim.errors import ConfigError, DataError
from mmsim.records import Instrument

FORMAT = "mmsim-events"
VERSION = 2
ROW_GROUP = 1 << 18  # 262,144 rows = 12 MiB decoded: the unit a reader holds
COLUMNS = ("exch_ts", "recv_ts", "price", "qty", "order_id", "kind", "side", "flags")


def _schema():
    import pyarrow as pa

    return pa.schema([(c, pa.from_numpy_dtype(R.EVENT_DTYPE[c])) for c in COLUMNS])


def _table(chunk: np.ndarray):
    import pyarrow as pa

    return pa.Table.from_arrays([pa.array(np.ascontiguousarray(chunk[c])) for c in COLUMNS], schema=_schema())


def write_store(path: str | os.PathLike, chunks: Iterable[np.ndarray], instrument: Instrument, *,
                source: Optional[dict] = None, report: Optional[dict] = None, row_group: int = ROW_GROUP,
                time_zone: str = "UTC") -> dict:
    """Write EVENT_DTYPE ``chunks`` (in time order) as a store at ``path``; return its metadata.

    Checks across chunk boundaries that exchange timestamps never go back and the mode (L2/L3) never
    mixes. The store appears atomically: it is written beside ``path`` and renamed into place.
    ``time_zone`` is the venue's (an IANA name, mmsim.data.times), recorded with the session date.
    """
    from mmsim.data.times import session_of_span, utc_offset_s

    utc_offset_s(time_zone, date(2000, 1, 3))  # an unknown zone fails before writing
    import pyarrow.parquet as pq

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    n, first, last, kinds = 0, None, None, set()
    pending: list[np.ndarray] = []
    held = 0
    writer = pq.ParquetWriter(tmp / "events.parquet", _schema(), compression="zstd", use_dictionary=False,
                              write_statistics=True)
    try:
        for chunk in chunks:
            if chunk.dtype != R.EVENT_DTYPE:
                raise ConfigError(f"write_store: chunks must be EVENT_DTYPE arrays, got {chunk.dtype}")
            if len(chunk) == 0:
                continue
            ts = chunk["exch_ts"]
            if last is not None and ts[0] < last:
                raise DataError(f"{path}: row {n}: exch_ts {int(ts[0])} is before the previous row's {last}")
            bad = np.flatnonzero(np.diff(ts) < 0)
            if len(bad):
                raise DataError(f"{path}: row {n + int(bad[0]) + 1}: exch_ts goes back in time")
            first = int(ts[0]) if first is None else first
            last = int(ts[-1])
            kinds.update(np.unique(chunk["kind"]).tolist())
            chunk = _mark_message_ends(chunk)
            if pending and int(pending[-1]["exch_ts"][-1]) != int(ts[0]):
                pending[-1]["flags"][-1] |= R.FLAG_MSG_END  # the row held back (below) ends its message
            # Re-block into exact row groups: the file must not depend on how the input was chunked.
            pending.append(chunk)
            held += len(chunk)
            while held > row_group:  # keep >= 1 row back: its message end depends on the next row
                block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                writer.write_table(_table(block[:row_group]), row_group_size=row_group)
                pending, held = ([block[row_group:]] if len(block) > row_group else []), len(block) - row_group
            n += len(chunk)
        if held:
            block = np.concatenate(pending) if len(pending) > 1 else pending[0]
            block["flags"][-1] |= R.FLAG_MSG_END  # the data ends here: so does its last message
            while len(block):
                writer.write_table(_table(block[:row_group]), row_group_size=row_group)
                block = block[row_group:]
    except BaseException:
        writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    writer.close()
    has_l3 = bool(kinds & set(R.L3_KINDS))
    if has_l3 and kinds & {R.DEPTH, R.CLEAR}:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{path}: mixes L2 (depth/clear) and L3 (add/cancel/delete/execute) events")
    meta = {
        "format": FORMAT, "version": VERSION,
        "instrument": {"symbol": instrument.symbol, "tick_size": instrument.tick_size,
                       "lot_size": instrument.lot_size,
                       # only an inverse contract carries its terms: a linear store's meta is unchanged
                       **({"contract_size": instrument.contract_size, "inverse": True} if instrument.inverse else {})},
        "n_rows": n, "mode": "l3" if has_l3 else "l2", "first_ts": first, "last_ts": last,
        "time_zone": time_zone,
        "session_date": None if first is None else session_of_span(first, last, time_zone).day.isoformat(),
        "source": source or {}, "report": report or {},
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return meta


def _mark_message_ends(chunk: np.ndarray) -> np.ndarray:
    """A copy of ``chunk`` with FLAG_MSG_END on every row that ends a message inside it. Its last row is
    decided by the writer, once the next row is known."""
    from mmsim.data.messages import message_ends

    out = chunk.copy()
    out["flags"][message_ends(chunk, last_is_end=False)] |= R.FLAG_MSG_END
    return out


class EventStore:
    """Read side of a store: metadata, and EVENT_DTYPE chunks in time order."""

    def __init__(self, path: str | os.PathLike):
        import pyarrow.parquet as pq

        self.path = Path(path)
        meta_file = self.path / "meta.json"
        if not meta_file.is_file() or not (self.path / "events.parquet").is_file():
            raise ConfigError(f"{self.path}: not an event store (needs meta.json and events.parquet)")
        try:
            self.meta: dict[str, Any] = json.loads(meta_file.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"{meta_file}: unreadable: {e}") from None
        if self.meta.get("format") == FORMAT and self.meta.get("version") == 1:
            raise ConfigError(f"{self.path}: a version 1 store, written before exchange messages were marked "
                              "(one feed latency per message needs them): convert the data again with "
                              "`mmsim data convert`")
        if self.meta.get("format") != FORMAT or self.meta.get("version") != VERSION:
            raise ConfigError(f"{meta_file}: not a version {VERSION} {FORMAT} store")
        self._file = pq.ParquetFile(self.path / "events.parquet")
        names = tuple(self._file.schema_arrow.names)
        if names != COLUMNS:
            raise ConfigError(f"{self.path}: events.parquet has columns {names}, expected {COLUMNS}")

    @property
    def n_rows(self) -> int:
        return int(self.meta["n_rows"])

    @property
    def instrument(self) -> Instrument:
        i = self.meta["instrument"]
        return Instrument(tick_size=float(i["tick_size"]), lot_size=float(i["lot_size"]), symbol=i.get("symbol", ""),
                          contract_size=float(i.get("contract_size", 1.0)), inverse=bool(i.get("inverse", False)))

    # ------------------------------------------------------------------------------------ windows and seek
    def _offsets(self) -> np.ndarray:
        """Row number of the first row of each row group, and the total at the end."""
        md = self._file.metadata
        return np.concatenate([[0], np.cumsum([md.row_group(g).num_rows for g in range(md.num_row_groups)])])

    def _group(self, g: int, columns: Optional[list] = None) -> np.ndarray:
        """Row group ``g`` as EVENT_DTYPE (only ``columns`` filled when given)."""
        table = self._file.read_row_group(g, columns=columns, use_threads=False)
        out = np.zeros(table.num_rows, R.EVENT_DTYPE)
        for c in (columns or COLUMNS):
            col = table.column(c)
            out[c] = (col.chunk(0) if col.num_chunks == 1 else col).to_numpy(zero_copy_only=False)
        return out

    def _column(self, g: int, name: str) -> np.ndarray:
        return self._file.read_row_group(g, columns=[name], use_threads=False).column(0).to_numpy()

    def _row_at(self, t: int, offs: np.ndarray) -> int:
        """The number of rows with exch_ts < t (exch_ts never goes back): row groups whose statistics rule
        them in or out are not read."""
        md = self._file.metadata
        for g in range(md.num_row_groups):
            st = md.row_group(g).column(0).statistics  # exch_ts is column 0
            if st is not None and st.has_min_max and st.max < t:
                continue
            if st is not None and st.has_min_max and st.min >= t:
                return int(offs[g])
            return int(offs[g]) + int(np.searchsorted(self._column(g, "exch_ts"), t, "left"))
        return int(offs[-1])

    def _at(self, i: int, name: str, offs: np.ndarray) -> int:
        g = int(np.searchsorted(offs, i, "right")) - 1
        return int(self._column(g, name)[i - offs[g]])

    def _whole_prefix(self, lo: int, hi: int, offs: np.ndarray) -> int:
        """The largest ``h <= hi`` such that rows [lo, h) are whole messages (a row ends its message when it
        carries FLAG_MSG_END or the next row has another exch_ts: mmsim.data.messages); ``lo`` if none."""
        if hi >= int(offs[-1]) or hi <= lo:
            return hi
        nxt = self._at(hi, "exch_ts", offs)
        g = int(np.searchsorted(offs, hi - 1, "right")) - 1
        while g >= 0 and offs[g + 1] > lo:
            a, b = max(lo, int(offs[g])), min(hi, int(offs[g + 1]))
            ts, fl = self._column(g, "exch_ts")[a - offs[g]:b - offs[g]], self._column(g, "flags")[a - offs[g]:b - offs[g]]
            ends = (fl & R.FLAG_MSG_END) != 0
            ends[:-1] |= ts[1:] != ts[:-1]
            ends[-1] |= int(ts[-1]) != nxt
            done = np.flatnonzero(ends)
            if len(done):
                return a + int(done[-1]) + 1
            nxt, hi, g = int(ts[0]), a, g - 1
        return lo

    def window(self, start_ts: Optional[int] = None, end_ts: Optional[int] = None,
               limit: Optional[int] = None) -> "EventStore":
        """A view of the rows with ``start_ts <= exch_ts < end_ts`` (then the first ``limit``), which starts
        with the exact book at ``start_ts``.

        When rows come before ``start_ts``, the view's first rows are one snapshot message at ``start_ts``
        (mmsim.data.seek: L3 one ADD per resting order in queue order with its id; L2 a CLEAR and one DEPTH per
        level), built by replaying those rows (``view.seek`` reports how many and how long it took). Rows of
        one message are never split: they share exch_ts, so a cut at a time never splits one, and ``limit``
        stops at the last whole message (as simulate's row limit does). A window is taken of the whole store.
        """
        import time

        from mmsim.data.seek import BookState

        offs = self._offsets()
        n_all = int(offs[-1])
        lo = 0 if start_ts is None else self._row_at(int(start_ts), offs)
        hi = n_all if end_ts is None else self._row_at(int(end_ts), offs)
        hi = max(hi, lo)
        if hi == lo:
            raise ConfigError(f"{self.path}: no events in the time range [{start_ts}, {end_ts})")
        t0 = time.perf_counter()
        snap = np.empty(0, R.EVENT_DTYPE)
        if lo > 0 and start_ts is not None:
            state = BookState(self.meta["mode"], str(self.path))
            for g in range(len(offs) - 1):
                if offs[g] >= lo:
                    break
                rows = self._group(g)
                state.fold(rows[:lo - int(offs[g])])
                del rows
            snap = state.snapshot(int(start_ts))
        seconds = time.perf_counter() - t0
        if limit is not None and len(snap) + hi - lo > int(limit):
            hi = self._whole_prefix(lo, lo + max(int(limit) - len(snap), 0), offs)
            if hi == lo:
                raise ConfigError(f"{self.path}: the first {int(limit)} rows of the window hold no whole exchange "
                                  f"message after the {len(snap)}-row snapshot of the book at its start: give "
                                  f"more rows than the snapshot (--rows > {len(snap)})")
        view = object.__new__(EventStore)
        view.path, view._file, view.meta = self.path, self._file, dict(self.meta)
        view._rows, view._snapshot = (lo, hi), snap
        view.meta.update(n_rows=len(snap) + hi - lo,
                         first_ts=int(snap["exch_ts"][0]) if len(snap) else self._at(lo, "exch_ts", offs),
                         last_ts=self._at(hi - 1, "exch_ts", offs))
        view.seek = {"from_ts": None if start_ts is None else int(start_ts), "rows_replayed": lo if len(snap) else 0,
                     "snapshot_rows": len(snap), "seconds": seconds, "start_row": lo, "end_row": hi}
        return view

    _rows: Optional[tuple] = None
    _snapshot: Optional[np.ndarray] = None
    #: after window(): what the seek did (rows_replayed, snapshot_rows, seconds, start_row, end_row)
    seek: Optional[dict] = None

    def iter_chunks(self, limit: Optional[int] = None) -> Iterator[np.ndarray]:
        """EVENT_DTYPE chunks in order, of at most one row group each (the first ``limit`` rows when given);
        a window's snapshot message comes first, as one chunk."""
        left = self.n_rows if limit is None else min(int(limit), self.n_rows)
        if self._snapshot is not None and len(self._snapshot) and left > 0:
            yield self._snapshot[:left]
            left -= min(left, len(self._snapshot))
        offs = self._offsets()
        lo, hi = self._rows if self._rows is not None else (0, int(offs[-1]))
        for g in range(len(offs) - 1):
            if left <= 0:
                return
            a, b = max(lo, int(offs[g])), min(hi, int(offs[g + 1]))
            if a >= b:
                continue
            out = self._group(g)[a - int(offs[g]):b - int(offs[g])][:left]
            left -= len(out)
            if len(out):
                yield out

    def read(self, limit: Optional[int] = None) -> np.ndarray:
        """All rows (or the first ``limit``) as one array — for stores that fit in memory."""
        parts = list(self.iter_chunks(limit))
        return np.concatenate(parts) if parts else np.empty(0, R.EVENT_DTYPE)
