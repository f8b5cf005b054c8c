"""The C++ structs and the numpy dtypes describe the same bytes."""
import numpy as np
import pytest

from mmsim import _core, records as R


@pytest.mark.parametrize("name", ["EVENT_DTYPE", "FILL_DTYPE", "ORDER_DTYPE", "DECISION_DTYPE", "SIGNAL_DATA_DTYPE",
                                  "QUOTE_DTYPE"])
def test_layouts_agree(name):
    compiled = _core.record_layouts()[name]
    dtype = getattr(R, name)
    assert compiled["itemsize"] == dtype.itemsize
    fields = {k: v for k, v in compiled.items() if k != "itemsize"}
    assert set(fields) == {f for f in dtype.names if f != "_pad"}
    for field, offset in fields.items():
        assert dtype.fields[field][1] == offset, field


def test_event_roundtrip_through_engine_bytes():
    # A record written by numpy is read field by field by C++: the engine applies this one depth row.
    ev = np.zeros(1, R.EVENT_DTYPE)
    ev[0] = (1234, R.NO_TS, 101, 7, 0, R.DEPTH, R.BID, 0, (0,) * 5)
    seen = {}

    class Peek:
        def on_wakeup(self, ctx):
            seen.update(bid=ctx.best_bid, qty=ctx.bid_qty, ts=ctx.data_exch_ts)

    lat = {k: np.zeros(1, np.int64) for k in ("entry", "cancel", "response", "compute")}
    eng = _core.Engine(ev, ev["exch_ts"].copy(), lat, {}, Peek())
    assert eng.step(10)
    assert seen == {"bid": 101, "qty": 7, "ts": 1234}
