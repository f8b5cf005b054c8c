"""The event store: a compact, columnar, chunked file of EVENT_DTYPE rows plus its metadata.

Layout of a store (a directory, conventionally ``NAME.mmstore``)::

    events.parquet   columns exch_ts, recv_ts, price, qty, order_id (int64), kind (uint8), side (int8),
                     flags (uint8); zstd; row groups of ``ROW_GROUP`` rows, so a reader holds one chunk
    meta.json        {"format": "mmsim-events", "version": 2, "instrument": {...}, "n_rows", "mode",
                      "first_ts", "last_ts", "source": {...}, "report": {...}}; the instrument of an inverse
                     contract adds "contract_size" and "inverse" (absent: linear, contract size 1)

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
                source: Optional[dict] = None, report: Optional[dict] = None, row_group: int = ROW_GROUP) -> dict:
    """Write EVENT_DTYPE ``chunks`` (in time order) as a store at ``path``; return its metadata.

    Checks across chunk boundaries that exchange timestamps never go back and the mode (L2/L3) never
    mixes. The store appears atomically: it is written beside ``path`` and renamed into place.
    """
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

    def window(self, start_ts: Optional[int] = None, end_ts: Optional[int] = None,
               limit: Optional[int] = None) -> "EventStore":
        """A view of the rows with ``start_ts <= exch_ts < end_ts`` (then the first ``limit``), counted exactly
        by one pass over the timestamp column (row groups outside the range are skipped by their statistics)."""
        view = object.__new__(EventStore)
        view.path, view._file, view.meta = self.path, self._file, dict(self.meta)
        view._range = (start_ts, end_ts)
        if start_ts is None and end_ts is None:
            n = self.n_rows
        else:
            n = sum(int(self._mask(g, start_ts, end_ts)[1].sum()) for g in range(self._file.num_row_groups)
                    if self._overlaps(g, start_ts, end_ts))
        view.meta["n_rows"] = n if limit is None else min(int(limit), n)
        if view.meta["n_rows"] == 0:
            raise ConfigError(f"{self.path}: no events in the time range [{start_ts}, {end_ts})")
        return view

    _range: tuple = (None, None)

    def _overlaps(self, g: int, start: Optional[int], end: Optional[int]) -> bool:
        st = self._file.metadata.row_group(g).column(0).statistics  # exch_ts is column 0
        if st is None or not st.has_min_max:
            return True
        return not ((start is not None and st.max < start) or (end is not None and st.min >= end))

    def _mask(self, g: int, start: Optional[int], end: Optional[int]):
        ts = self._file.read_row_group(g, columns=["exch_ts"]).column(0).to_numpy()
        keep = np.ones(len(ts), bool)
        if start is not None:
            keep &= ts >= start
        if end is not None:
            keep &= ts < end
        return ts, keep

    def iter_chunks(self, limit: Optional[int] = None) -> Iterator[np.ndarray]:
        """EVENT_DTYPE chunks of one row group each (the first ``limit`` rows when given)."""
        left = self.n_rows if limit is None else min(int(limit), self.n_rows)
        start, end = self._range
        for g in range(self._file.num_row_groups):
            if left <= 0:
                return
            if not self._overlaps(g, start, end):
                continue
            table = self._file.read_row_group(g, use_threads=False)
            out = np.zeros(table.num_rows, R.EVENT_DTYPE)
            for c in COLUMNS:
                col = table.column(c)
                out[c] = (col.chunk(0) if col.num_chunks == 1 else col).to_numpy(zero_copy_only=False)
            del table
            if start is not None or end is not None:
                keep = np.ones(len(out), bool)
                if start is not None:
                    keep &= out["exch_ts"] >= start
                if end is not None:
                    keep &= out["exch_ts"] < end
                out = out[keep]
            out = out[:left]
            left -= len(out)
            if len(out):
                yield out

    def read(self, limit: Optional[int] = None) -> np.ndarray:
        """All rows (or the first ``limit``) as one array — for stores that fit in memory."""
        parts = list(self.iter_chunks(limit))
        return np.concatenate(parts) if parts else np.empty(0, R.EVENT_DTYPE)
