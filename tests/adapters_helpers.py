"""Shared helpers of the tests/test_adapters_*.py files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mmsim import records as R

DATA = Path(__file__).parent / "data"
#: The real samples of the project (../shared/data from the project root); MMSIM_SHARED_DATA overrides.
SHARED = Path(os.environ.get("MMSIM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared(*parts: str) -> Path:
    """A file of ../shared/data, or skip the test saying why."""
    p = SHARED.joinpath(*parts)
    if not p.is_file():
        pytest.skip(f"../shared/data not present: {p} is missing (the full-sample tests need the real samples)")
    return p


def store_bytes(path: Path) -> tuple[bytes, bytes]:
    return (path / "events.parquet").read_bytes(), (path / "meta.json").read_bytes()


def assert_store_sane(events: np.ndarray) -> None:
    """Sorted exchange times, receive times either absent or not before the exchange time."""
    assert len(events)
    assert (np.diff(events["exch_ts"]) >= 0).all()
    recv = events["recv_ts"]
    has = recv != R.NO_TS
    assert (recv[has] >= events["exch_ts"][has]).all()


def replay(events: np.ndarray, instrument, **kw):
    """The engine replay every converted store must survive."""
    import mmsim

    kw.setdefault("feed_latency", "1ms")
    kw.setdefault("entry_latency", "1ms")
    kw.setdefault("cancel_latency", "1ms")
    kw.setdefault("response_latency", "1ms")
    return mmsim.simulate(events, instrument, "symmetric:half_spread=1", **kw)
