"""Batch mode of the feature bank: the features a strategy would see, over a whole history, for training.

The rows go through the same strategy-side book and the same Rust bank as in the event loop
(``mmsim._core.feature_batch_events``), so a value here equals ``ctx.features`` in a run with the same
feed latency and seed, timestamp by timestamp (``tests/test_features_loop.py`` checks it).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmsim.errors import DataError


def spec_matrix(specs: Any) -> np.ndarray:
    """Feature specs as the (n, 4) int64 matrix the engine takes: kind, level, horizon_ns, window."""
    from mmsim.signals.features import spec_array

    a = spec_array(specs)
    return np.column_stack([a[f].astype(np.int64) for f in ("kind", "level", "horizon_ns", "window")]).reshape(-1, 4)


def features_frame(events: np.ndarray, specs: Any = "small", *, feed_latency: Any = 0, seed: int = 0,
                   crossed_policy: str = "error", source_name: str = "events") -> pd.DataFrame:
    """One row per event: ``row``, ``exch_ts``, ``arrival_ts`` and one column per feature (canonical spec text),
    each value as of that row's arrival at the strategy."""
    from mmsim.data import latency as L
    from mmsim._core import feature_batch_events
    from mmsim.signals.features import column_names
    from mmsim.data.validate import validate_events

    events, _ = validate_events(events, source_name)
    arrival = L.feed_arrival(feed_latency, events, L.seeded_streams(seed)["feed"], source=source_name)
    try:
        values = feature_batch_events(events, arrival, spec_matrix(specs), crossed_policy == "repair")
    except DataError as e:
        raise DataError(f"{source_name}: {e}") from None
    frame = pd.DataFrame(values, columns=column_names(specs))
    frame.insert(0, "arrival_ts", arrival)
    frame.insert(0, "exch_ts", events["exch_ts"])
    frame.insert(0, "row", np.arange(len(events), dtype=np.int64))
    return frame


def features_at(events: np.ndarray, specs: Any, query_ts: np.ndarray, *, feed_latency: Any = 0, rng: Any = None,
                seed: int = 0, crossed_policy: str = "error", source_name: str = "events") -> np.ndarray:
    """The features of a venue's bank at each of ``query_ts`` (non-decreasing): its rows replayed through its
    own strategy-side book, with feed arrival times drawn from ``rng`` (default: ``seed``'s feed stream), and the
    bank evaluated at each query time after every row arriving at or before it — what a strategy waking then
    reads of this venue (``ctx.venue(name).features``). Returns an ``(len(query_ts), n_features)`` array."""
    from mmsim.data import latency as L
    from mmsim._core import feature_batch_events_at
    from mmsim.data.validate import validate_events

    events, _ = validate_events(events, source_name)
    stream = rng if rng is not None else L.seeded_streams(seed)["feed"]
    arrival = L.feed_arrival(feed_latency, events, stream, source=source_name)
    q = np.ascontiguousarray(query_ts, dtype=np.int64)
    try:
        return feature_batch_events_at(events, arrival, spec_matrix(specs), q, crossed_policy == "repair")
    except DataError as e:
        raise DataError(f"{source_name}: {e}") from None
