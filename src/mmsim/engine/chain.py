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


def _rows(decisions: Any) -> np.ndarray:
    """Decisions as DECISION_DTYPE records (the exact bytes the engine wrote)."""
    if isinstance(decisions, np.ndarray) and decisions.dtype == R.DECISION_DTYPE:
        return decisions
    out = np.zeros(len(decisions), R.DECISION_DTYPE)
    for name in R.DECISION_DTYPE.names:
        try:
            column = decisions[name]
        except (KeyError, ValueError):
            if name == "flags":
                continue  # a log written before decisions had flags: the same bytes, with flags = 0
            raise
        out[name] = np.asarray(column)
    return out


def chain_hashes(decisions: Any) -> list[str]:
    """The hash chain over the decision rows, one hex digest per row."""
    rows = _rows(decisions)
    raw = rows.view(np.uint8).reshape(len(rows), R.DECISION_DTYPE.itemsize) if len(rows) else rows
    h, out = GENESIS, []
    for i in range(len(rows)):
        h = hashlib.sha256(h + raw[i].tobytes()).digest()
        out.append(h.hex())
    return out
