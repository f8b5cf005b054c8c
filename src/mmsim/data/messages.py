"""Exchange messages: which rows arrive together (docs/event-loop.md, "Messages").

One exchange message (a Binance depth update of many levels, a LOBSTER message and the level it reveals, a
market order sweeping several levels) is several rows. A row ends its message when it carries
``records.FLAG_MSG_END`` or when the next row has another exchange time (or there is no next row): rows of
one message share ``exch_ts``, so data that marks no messages falls back to one message per exchange-time
group. The C++ loop applies the same rule (``Engine::on_feed_row``, ``feature_batch``).

Everything the strategy sees is drawn per message: one feed latency for all its rows, and the book the
features read is the book after the message's last row.
"""
from __future__ import annotations

import numpy as np

from mmsim import records as R

__all__ = ["message_ends", "message_starts", "complete_prefix"]


def message_ends(events: np.ndarray, *, last_is_end: bool = True) -> np.ndarray:
    """Boolean per row: does the row end its message? The last row ends one unless ``last_is_end`` is
    False (a chunk of a longer stream, whose next row is not known yet: then it ends one only if flagged)."""
    n = len(events)
    ends = (np.asarray(events["flags"]) & R.FLAG_MSG_END) != 0
    if n > 1:
        ts = np.asarray(events["exch_ts"])
        ends[:-1] |= ts[1:] != ts[:-1]
    if n and last_is_end:
        ends[-1] = True
    return ends


def message_starts(events: np.ndarray, prev_flags: int | None = None, prev_ts: int | None = None) -> np.ndarray:
    """Boolean per row: does the row start a message? ``prev_flags``/``prev_ts`` describe the row before
    the first (from an earlier chunk); None means the first row starts the stream."""
    n = len(events)
    starts = np.zeros(n, dtype=bool)
    if n == 0:
        return starts
    ends = message_ends(events, last_is_end=False)
    starts[1:] = ends[:-1]
    if prev_ts is None:
        starts[0] = True
    else:
        starts[0] = bool(int(prev_flags) & R.FLAG_MSG_END) or int(events["exch_ts"][0]) != int(prev_ts)
    return starts


def complete_prefix(events: np.ndarray, next_ts: int | None = None) -> int:
    """Rows of ``events`` up to the end of its last complete message, for cutting a stream at ``n`` rows
    without splitting a message: ``next_ts`` is the exchange time of the row after the cut (None if the data
    ends there, when every row is complete)."""
    n = len(events)
    if n == 0 or next_ts is None:
        return n
    last = events[-1]
    if (int(last["flags"]) & R.FLAG_MSG_END) or int(last["exch_ts"]) != int(next_ts):
        return n
    ends = message_ends(events, last_is_end=False)
    done = np.flatnonzero(ends)
    return int(done[-1]) + 1 if len(done) else 0
