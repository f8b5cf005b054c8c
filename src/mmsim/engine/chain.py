"""The decision log's hash chain: written with every run's results, verified by ``mmsim audit``.

``chain[i] = sha256(chain[i-1] || row i's fixed-layout DECISION_DTYPE bytes)``, starting from
``sha256("mmsim-decisions-v1")`` (docs/audit.md). It lives beside the results writer because the engine
writes it; ``mmsim.analysis.audit`` only recomputes and compares.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from mmsim import records as R

GENESIS = hashlib.sha256(b"mmsim-decisions-v1").digest()
#: The start of the signal-data chain (``signal_data.parquet``, runs with signal venues: docs/venues.md).
SIGNAL_GENESIS = hashlib.sha256(b"mmsim-signal-data-v1").digest()
#: The start of the quotes chain (``quotes.parquet``, runs quoting several venues: docs/venues.md).
QUOTES_GENESIS = hashlib.sha256(b"mmsim-quotes-v1").digest()


def _rows(decisions: Any, dtype: np.dtype = R.DECISION_DTYPE) -> np.ndarray:
    """Decisions (or other records) as ``dtype`` records (the exact bytes the engine wrote)."""
    if isinstance(decisions, np.ndarray) and decisions.dtype == dtype:
        return decisions
    out = np.zeros(len(decisions), dtype)
    for name in dtype.names:
        if name == "_pad":
            continue  # padding stays zero, as the engines write it
        try:
            column = decisions[name]
        except (KeyError, ValueError):
            if name == "flags":
                continue  # a log written before decisions had flags: the same bytes, with flags = 0
            raise
        out[name] = np.asarray(column)
    return out


def chain_hashes(decisions: Any, dtype: np.dtype = R.DECISION_DTYPE, genesis: bytes = GENESIS) -> list[str]:
    """The hash chain over the decision rows (or another log's rows of ``dtype``), one hex digest per row."""
    rows = _rows(decisions, dtype)
    raw = rows.view(np.uint8).reshape(len(rows), dtype.itemsize) if len(rows) else rows
    h, out = genesis, []
    for i in range(len(rows)):
        h = hashlib.sha256(h + raw[i].tobytes()).digest()
        out.append(h.hex())
    return out


def signal_chain_hashes(signal_data: Any) -> list[str]:
    """The hash chain over the SIGNAL_DATA rows: ``chain[i] = sha256(chain[i-1] || row i's 40 bytes)`` from
    ``sha256("mmsim-signal-data-v1")``."""
    return chain_hashes(signal_data, R.SIGNAL_DATA_DTYPE, SIGNAL_GENESIS)


def quote_chain_hashes(quotes: Any) -> list[str]:
    """The hash chain over the QUOTE rows (targets and actions on quoted venues 1..K): ``chain[i] =
    sha256(chain[i-1] || row i's 72 bytes)`` from ``sha256("mmsim-quotes-v1")`` (padding bytes zero)."""
    return chain_hashes(quotes, R.QUOTE_DTYPE, QUOTES_GENESIS)
