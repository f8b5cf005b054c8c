"""Start anywhere: the exchange book at a time T, built from the rows before T, as one snapshot message.

A window ``[T, end)`` of a store or an event array starts with the book a full replay holds at T
(docs/data.md, "Windows and start times"):

- **L3**: one ``ADD`` per resting order, in queue order (the order of the original ADD rows: a partial cancel
  or execution keeps an order's priority), with its original id, side, price and remaining size;
- **L2**: one ``CLEAR`` of both sides, then one ``DEPTH`` per level (bids best first, then asks best first).

The snapshot's rows form one exchange message: all at ``exch_ts = T`` and one ``recv_ts`` (the latest
recorded receive time of the rows before T, at least T; ``NO_TS`` when they have none), ``FLAG_MSG_END`` on
its last row. The state is built by replaying the rows before T (no checkpoints), folded one chunk at a time
by vectorised numpy (the state is the resting orders / levels, never the rows), so memory is bounded by the
book and the time by reading the skipped rows (docs/data.md measures it).

The fold also checks the L3 rows it skips as the engine would (an execution of an unknown order id, removal
of more than rests, a side or price that differs from the order's, an id added while it rests): a store that
would fail a full replay fails a seek past the same row, naming it.
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from mmsim import records as R
from mmsim.errors import DataError

__all__ = ["BookState", "mode_of", "window_array"]

assert (R.ADD, R.CANCEL, R.DELETE, R.EXECUTE) == (4, 5, 6, 7) and max(R.L2_KINDS) < R.ADD  # kind >= ADD: L3 book
_NAMES = {R.ADD: "add", R.CANCEL: "cancel", R.DELETE: "delete", R.EXECUTE: "execute"}


def mode_of(kinds: Iterable[int]) -> str:
    """"l3" if any L3 kind is among ``kinds``, else "l2"."""
    return "l3" if set(int(k) for k in kinds) & set(R.L3_KINDS) else "l2"


class BookState:
    """The exchange book of a stream's first rows, folded chunk by chunk (``fold``), then ``snapshot(T)``.

    ``source`` prefixes error messages; rows are numbered from the start of the stream (0-based).
    """

    def __init__(self, mode: str, source: str = "events"):
        if mode not in ("l2", "l3"):
            raise ValueError(f"mode must be 'l2' or 'l3', not {mode!r}")
        self.mode = mode
        self.source = source
        self.rows = np.empty(0, R.EVENT_DTYPE)      # L3: the resting orders as ADD rows, queue order; L2: levels
        self._rowno = np.empty(0, np.int64)          # L3: stream row of each resting order's ADD
        self.n_folded = 0                            # rows folded so far
        self.last_ts: Optional[int] = None           # exch_ts of the last folded row
        self.max_recv: Optional[int] = None          # latest recorded recv_ts of the folded rows

    # ----------------------------------------------------------------------------------------- fold
    def fold(self, chunk: np.ndarray) -> None:
        """Apply the next rows of the stream (EVENT_DTYPE, in order) to the state."""
        if len(chunk) == 0:
            return
        recv = chunk["recv_ts"]
        has = recv != R.NO_TS
        if has.any():
            m = int(recv[has].max())
            self.max_recv = m if self.max_recv is None else max(self.max_recv, m)
        self.last_ts = int(chunk["exch_ts"][-1])
        offset = self.n_folded
        self.n_folded += len(chunk)
        if self.mode == "l3":
            self._fold_l3(chunk, offset)
        else:
            self._fold_l2(chunk)

    def _fail(self, row: int, what: str) -> None:
        raise DataError(f"{self.source}: row {row}: {what} (a row before the window start, replayed to build the "
                        "book at the start)")

    def _fold_l3(self, chunk: np.ndarray, offset: int) -> None:
        # Column arrays (contiguous) of the resting orders followed by the chunk's add/cancel/delete/execute rows;
        # structured rows are built only for the orders left resting.
        ck = chunk["kind"]
        pos = np.flatnonzero(ck >= R.ADD)                # ADD, CANCEL, DELETE, EXECUTE (records.py: 4..7)
        if len(pos) == 0:
            return
        ns = len(self.rows)

        def col(name: str) -> np.ndarray:
            return np.concatenate([self.rows[name], chunk[name][pos]])

        ids, kind, side, price, qty = col("order_id"), col("kind"), col("side"), col("price"), col("qty")
        rowno = np.concatenate([self._rowno, pos.astype(np.int64) + offset])
        n = len(ids)
        order = np.argsort(ids, kind="stable")           # by id, then by position in the stream
        sid, sk = ids[order], kind[order]
        is_add = sk == R.ADD
        new_group = np.empty(n, bool)
        new_group[0] = True
        new_group[1:] = sid[1:] != sid[:-1]
        inc = np.cumsum(is_add)                          # key of the ADD a row belongs to: the latest one of its id
        starts = np.flatnonzero(new_group)
        base = (inc - is_add)[starts][np.cumsum(new_group) - 1]
        orphan = inc == base                             # no ADD of that id before the row
        if orphan.any():
            j = order[orphan].min()
            self._fail(int(rowno[j]), f"{_NAMES.get(int(kind[j]), 'row')} of unknown order id {int(ids[j])}")
        n_add = int(inc[-1])
        add_sorted = np.flatnonzero(is_add)              # the k-th ADD (key k) is at add_sorted[k - 1]
        add_row = order[add_sorted]                      # stream positions of the ADDs
        red = ~is_add
        red_key = inc[red]
        red_row = order[red]
        of_add = add_row[red_key - 1]
        bad = (side[red_row] != side[of_add]) | (price[red_row] != price[of_add])   # the engine checks both
        if bad.any():
            k = int(np.argmin(np.where(bad, red_row, n)))
            j, a = int(red_row[k]), int(of_add[k])
            self._fail(int(rowno[j]), f"order id {int(ids[j])} rests on side {int(side[a])} at {int(price[a])}, "
                       f"not side {int(side[j])} at {int(price[j])}")
        removed = np.bincount(red_key, weights=qty[red_row], minlength=n_add + 1) if len(red_key) else \
            np.zeros(n_add + 1)
        removed = np.rint(removed).astype(np.int64)      # sums of int lots (exact below 2**53)
        deleted = np.zeros(n_add + 1, bool)
        deleted[red_key[sk[red] == R.DELETE]] = True
        left = qty[add_row] - removed[1:]
        if (left < 0).any():  # name the first row that removes more than rests, as the engine would
            sq = np.where(is_add, 0, qty[order])
            cum = np.cumsum(sq)
            so_far = cum - cum[add_sorted][inc - 1]      # lots removed from the key's order up to this row
            over = red & (so_far > qty[add_row][inc - 1])
            j = int(order[over].min())
            k = int(inc[np.flatnonzero(order == j)[0]]) - 1
            self._fail(int(rowno[j]), f"removes {int(qty[j])} lots from order id {int(ids[j])} which has "
                       f"{int(qty[add_row[k]] - (so_far[np.flatnonzero(order == j)[0]] - qty[j]))}")
        alive = (left > 0) & ~deleted[1:]
        # an id added again while its earlier order still rests
        again = np.zeros(n_add, bool)
        again[:-1] = (sid[add_sorted[1:]] == sid[add_sorted[:-1]]) & alive[:-1]
        if again.any():
            j = add_row[int(np.flatnonzero(again)[0]) + 1]
            self._fail(int(rowno[j]), f"order id {int(ids[j])} is already in the book")
        live = add_row[alive]
        by_pos = np.argsort(live, kind="stable")
        keep = live[by_pos]                              # queue order = order of the ADD rows
        old, new = keep[keep < ns], keep[keep >= ns] - ns
        out = np.concatenate([self.rows[old], chunk[pos[new]]])
        out["qty"] = left[alive][by_pos]
        self.rows, self._rowno = out, rowno[keep]

    def _fold_l2(self, chunk: np.ndarray) -> None:
        sel = (chunk["kind"] == R.DEPTH) | (chunk["kind"] == R.CLEAR)
        if not sel.any():
            return
        rows = np.concatenate([self.rows, chunk[sel]])
        kind, side = rows["kind"], rows["side"]
        parts = []
        for s in (R.BID, R.ASK):
            clears = np.flatnonzero((kind == R.CLEAR) & ((side == s) | (side == 0)))
            first = int(clears[-1]) + 1 if len(clears) else 0
            d = first + np.flatnonzero((kind[first:] == R.DEPTH) & (side[first:] == s))
            if len(d) == 0:
                continue
            rev = d[::-1]
            _, idx = np.unique(rows["price"][rev], return_index=True)   # last update of each price
            last = rev[idx]
            last = last[rows["qty"][last] > 0]
            lv = rows[last]
            lv = lv[np.argsort(-lv["price"] if s == R.BID else lv["price"], kind="stable")]
            parts.append(lv)
        self.rows = np.concatenate(parts) if parts else np.empty(0, R.EVENT_DTYPE)

    # ----------------------------------------------------------------------------------------- snapshot
    def snapshot(self, ts: int) -> np.ndarray:
        """The book as one message at ``max(ts, last folded exch_ts)``: EVENT_DTYPE rows (none for an empty
        L3 book, nothing at all before any row was folded)."""
        if self.n_folded == 0:
            return np.empty(0, R.EVENT_DTYPE)
        t = int(ts) if self.last_ts is None else max(int(ts), self.last_ts)
        recv = R.NO_TS if self.max_recv is None else max(self.max_recv, t)
        if self.mode == "l3":
            out = self.rows.copy()
        else:
            out = np.zeros(len(self.rows) + 1, R.EVENT_DTYPE)
            out[0]["kind"] = R.CLEAR
            out[0]["side"] = 0
            out[1:] = self.rows
            out["order_id"] = 0
        if len(out) == 0:
            return out
        out["exch_ts"] = t
        out["recv_ts"] = recv
        out["flags"] = (out["flags"] & ~np.uint8(R.FLAG_MSG_END)).astype(np.uint8)
        out["flags"][-1] |= R.FLAG_MSG_END
        return out


def window_array(events: np.ndarray, start_ts: Optional[int], end_ts: Optional[int], *,
                 source: str = "events") -> tuple[np.ndarray, dict]:
    """The rows of ``events`` with ``start_ts <= exch_ts < end_ts``, preceded by the snapshot of the book at
    ``start_ts`` when rows come before it; and a report (``rows_replayed``, ``snapshot_rows``, ``start_row``).
    A cut at a time never splits a message: the rows of one share exch_ts (mmsim.data.messages)."""
    ts = events["exch_ts"]
    lo = 0 if start_ts is None else int(np.searchsorted(ts, int(start_ts), "left"))
    hi = len(events) if end_ts is None else int(np.searchsorted(ts, int(end_ts), "left"))
    snap = np.empty(0, R.EVENT_DTYPE)
    if lo > 0 and start_ts is not None:
        state = BookState(mode_of(np.unique(events["kind"])), source)
        for a in range(0, lo, 1 << 20):
            state.fold(events[a:min(lo, a + (1 << 20))])
        snap = state.snapshot(int(start_ts))
    body = events[lo:max(lo, hi)]
    out = np.concatenate([snap, body]) if len(snap) else body
    return out, {"start_row": lo, "rows_replayed": lo if start_ts is not None else 0, "snapshot_rows": len(snap)}
