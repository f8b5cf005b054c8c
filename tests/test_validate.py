"""Bad input never crashes: each check raises DataError naming the source and the first bad row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmsim import records as R
from mmsim.errors import ConfigError, DataError, MmsimError
from mmsim.data.validate import events_from_frame, validate_events


def l2(n=6):
    ev = np.zeros(n, dtype=R.EVENT_DTYPE)
    ev["exch_ts"] = np.arange(n) * 10
    ev["recv_ts"] = R.NO_TS
    ev["kind"] = R.DEPTH
    ev["side"] = np.where(np.arange(n) % 2 == 0, 1, -1)
    ev["price"] = np.where(ev["side"] == 1, 99, 101)
    ev["qty"] = 5
    return ev


def l3(n=4):
    ev = l2(n)
    ev["kind"] = R.ADD
    ev["order_id"] = np.arange(1, n + 1)
    return ev


def raises_row(events, row, text, **kw):
    with pytest.raises(DataError) as e:
        validate_events(events, "feed.bin", **kw)
    msg = str(e.value)
    assert msg.startswith(f"feed.bin: row {row}: "), msg
    assert text in msg, msg
    assert "\n" not in msg
    return msg


def test_good_l2_and_report():
    ev = l2()
    ev["kind"][3] = R.TRADE
    ev["kind"][5] = R.CLEAR
    ev["side"][5] = 0
    ev["price"][5] = 0
    ev["qty"][5] = 0
    ev["recv_ts"][:2] = [5, 5]  # row 1 received before its exchange time: counted, not an error
    out, rep = validate_events(ev, "x")
    assert out is ev
    assert rep["mode"] == "l2" and rep["n_rows"] == rep["n_input"] == 6 and rep["n_dropped"] == 0
    assert rep["counts"] == {"depth": 4, "trade": 1, "clear": 1}
    assert rep["recv_ts_missing"] == 4 and rep["recv_before_exch"] == 1
    assert (rep["first_exch_ts"], rep["last_exch_ts"]) == (0, 50)


def test_good_l3_mode():
    ev = l3()
    ev["kind"][1:] = [R.CANCEL, R.EXECUTE, R.DELETE]
    ev["order_id"][1:] = 1
    assert validate_events(ev, "x")[1]["mode"] == "l3"
    trades = l2(3)
    trades["kind"] = R.TRADE
    assert validate_events(trades, "x")[1]["mode"] == "l2"  # trades alone: L2
    ev = l3()
    ev["kind"][2] = R.TRADE  # L3 data may carry TRADE (hidden executions)
    assert validate_events(ev, "x")[1]["mode"] == "l3"


def test_not_an_event_array():
    with pytest.raises(DataError, match="feed.bin: events have dtype"):
        validate_events(np.zeros(3, dtype=np.int64), "feed.bin")
    with pytest.raises(DataError, match="numpy array"):
        validate_events([1, 2, 3], "feed.bin")
    with pytest.raises(DataError, match="no events"):
        validate_events(np.zeros(0, dtype=R.EVENT_DTYPE), "feed.bin")
    with pytest.raises(DataError, match="one-dimensional"):
        validate_events(np.zeros((2, 2), dtype=R.EVENT_DTYPE), "feed.bin")


def test_unsorted_timestamps_name_the_first_bad_row():
    ev = l2()
    ev["exch_ts"] = [0, 10, 30, 20, 10, 40]
    raises_row(ev, 3, "exch_ts 20 is before the previous row's 30")
    raises_row(ev, 3, "before the previous row", repair=True)  # never repaired


def test_missing_exch_ts():
    ev = l2()
    ev["exch_ts"][0] = R.NO_TS
    raises_row(ev, 0, "exch_ts is missing")


def test_unknown_kind():
    ev = l2()
    ev["kind"][2] = 9
    raises_row(ev, 2, "unknown event kind 9")
    ev["kind"][2] = 0
    raises_row(ev, 2, "unknown event kind 0")


@pytest.mark.parametrize("kind", [R.DEPTH, R.TRADE, R.ADD, R.CANCEL, R.DELETE, R.EXECUTE])
@pytest.mark.parametrize("side", [0, 2, -2])
def test_side_must_be_plus_minus_one(kind, side):
    ev = l3() if kind in R.L3_KINDS else l2()
    ev["kind"][1] = kind
    ev["side"][1] = side
    raises_row(ev, 1, f"side {side} of a")


def test_clear_side():
    ev = l2()
    ev["kind"][2] = R.CLEAR
    for side in (-1, 0, 1):
        ev["side"][2] = side
        validate_events(ev, "x")
    ev["side"][2] = 3
    raises_row(ev, 2, "side 3 of a CLEAR event")


@pytest.mark.parametrize("kind", [R.TRADE, R.ADD, R.CANCEL, R.DELETE, R.EXECUTE])
def test_sizes_must_be_positive(kind):
    ev = l3() if kind in R.L3_KINDS else l2()
    ev["kind"][2] = kind
    ev["qty"][2] = -3
    raises_row(ev, 2, "negative size -3")
    raises_row(ev, 2, "negative size -3", repair=True)  # negative sizes are never repaired
    ev["qty"][2] = 0
    raises_row(ev, 2, "zero size")


def test_depth_size_zero_ok_negative_not():
    ev = l2()
    ev["qty"][1] = 0  # removes the level
    validate_events(ev, "x")
    ev["qty"][1] = -1
    raises_row(ev, 1, "negative size -1 in a DEPTH event")


def test_prices_positive_except_clear():
    ev = l2()
    ev["price"][4] = 0
    raises_row(ev, 4, "price 0 ticks of a DEPTH event must be > 0")
    ev["price"][4] = -7
    raises_row(ev, 4, "price -7")
    ev["kind"][4] = R.CLEAR
    ev["side"][4] = 0
    validate_events(ev, "x")


def test_l3_needs_order_id():
    ev = l3()
    ev["order_id"][1] = 0
    raises_row(ev, 1, "ADD event without an order_id")


def test_l2_l3_mix():
    ev = l2()
    ev["kind"][3] = R.ADD
    ev["order_id"][3] = 1
    raises_row(ev, 3, "ADD event mixed with DEPTH at row 0")
    ev = l3(6)
    ev["kind"][4] = R.CLEAR
    ev["side"][4] = 0
    raises_row(ev, 4, "CLEAR event mixed with ADD at row 0")


def test_first_bad_row_over_all_checks():
    ev = l2()
    ev["price"][4] = 0
    ev["side"][2] = 5
    ev["exch_ts"][5] = 0
    raises_row(ev, 2, "side 5")


def test_repair_drops_zero_sizes_and_counts_them():
    ev = l2(8)
    ev["kind"][[1, 4]] = R.TRADE
    ev["qty"][[1, 4]] = 0
    ev["qty"][6] = 0  # DEPTH 0: a level removal, kept
    raises_row(ev, 1, "zero size in a TRADE event (repair=True drops such rows)")
    out, rep = validate_events(ev, "x", repair=True)
    assert len(out) == 6 and rep["dropped"] == {"zero_qty": 2} and rep["n_dropped"] == 2
    assert rep["n_input"] == 8 and rep["n_rows"] == 6
    assert out["exch_ts"].tolist() == [0, 20, 30, 50, 60, 70]
    all_zero = l2(2)
    all_zero["kind"] = R.TRADE
    all_zero["qty"] = 0
    with pytest.raises(DataError, match="no events left"):
        validate_events(all_zero, "x", repair=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 100), st.integers(0, 9), st.integers(-3, 3),
                          st.integers(-5, 200), st.integers(-5, 50), st.integers(0, 3)),
                min_size=1, max_size=30),
       st.booleans())
def test_garbage_never_crashes(rows, repair):
    ev = np.zeros(len(rows), dtype=R.EVENT_DTYPE)
    for i, (ts, kind, side, price, qty, oid) in enumerate(rows):
        ev[i] = (ts, R.NO_TS, price, qty, oid, kind, side, 0, (0,) * 5)
    try:
        out, rep = validate_events(ev, "fuzz", repair=repair)
    except DataError as e:
        assert str(e).startswith("fuzz: ") and "\n" not in str(e)
    else:
        assert out.dtype == R.EVENT_DTYPE and rep["mode"] in ("l2", "l3") and len(out) >= 1


# --------------------------------------------------------------------------------------------- frames
def frame(**over):
    df = pd.DataFrame({
        "exch_ts": [100, 200, 300, 300],
        "kind": ["depth", "DEPTH", "trade", "clear"],
        "side": ["bid", "ask", "buy", 0],
        "price": [99.99, 100.01, 100.01, np.nan],
        "qty": [1.5, 2.0, 0.5, np.nan],
    })
    for k, v in over.items():
        df[k] = v
    return df


def test_events_from_frame_converts():
    ev = events_from_frame(frame(), "t.csv", tick_size=0.01, lot_size=0.5)
    assert ev.dtype == R.EVENT_DTYPE
    assert ev["exch_ts"].tolist() == [100, 200, 300, 300]
    assert (ev["recv_ts"] == R.NO_TS).all()
    assert ev["kind"].tolist() == [R.DEPTH, R.DEPTH, R.TRADE, R.CLEAR]
    assert ev["side"].tolist() == [1, -1, 1, 0]
    assert ev["price"].tolist() == [9999, 10001, 10001, 0]
    assert ev["qty"].tolist() == [3, 4, 1, 0]
    out, rep = validate_events(ev, "t.csv")
    assert rep["mode"] == "l2"


def test_events_from_frame_optional_columns_and_types():
    df = frame(kind=[1, 1, 2, 3], side=[1, -1, 1, 0],
               recv_ts=pd.array([150, None, 350, 360], dtype="Int64"), order_id=[0, 0, 0, 0], flags=[0, 1, 0, 0])
    ev = events_from_frame(df, "t", 0.01, 0.5)
    assert ev["recv_ts"].tolist() == [150, R.NO_TS, 350, 360]
    assert ev["flags"].tolist() == [0, 1, 0, 0]
    big = 1_700_000_000_123_456_789  # exact int64 nanoseconds survive (no float round trip)
    df = frame(exch_ts=[big, big + 1, big + 2, big + 3], recv_ts=[big + 5, np.nan, big + 9, big + 9])
    ev = events_from_frame(df, "t", 0.01, 0.5)
    assert ev["exch_ts"][0] == big
    assert ev["recv_ts"][1] == R.NO_TS
    df = frame(exch_ts=pd.to_datetime([big, big + 1, big + 2, big + 3], utc=True))
    assert events_from_frame(df, "t", 0.01, 0.5)["exch_ts"].tolist() == [big, big + 1, big + 2, big + 3]


@pytest.mark.parametrize("over, row, text", [
    (dict(price=[99.99, 100.015, 100.01, np.nan]), 1, "price 100.015 is not on the tick grid"),
    (dict(qty=[1.5, 2.0, 0.7, np.nan]), 2, "qty 0.7 is not on the lot grid"),
    (dict(price=[99.99, np.nan, 100.01, np.nan]), 1, "price is NaN"),
    (dict(qty=[np.nan, 2.0, 0.5, np.nan]), 0, "qty is NaN"),
    (dict(price=[99.99, np.inf, 100.01, 1.0]), 1, "price is infinite"),
    (dict(exch_ts=[100.0, np.nan, 300.0, 300.0]), 1, "exch_ts is NaN"),
    (dict(exch_ts=[100.0, 200.5, 300.0, 300.0]), 1, "not a whole number of ns"),
    (dict(exch_ts=pd.to_datetime([1, None, 3, 4])), 1, "exch_ts is missing (NaT)"),
    (dict(kind=["depth", "depht", "trade", "clear"]), 1, "unknown event kind 'depht'"),
    (dict(kind=[1, 1, 8, 3]), 2, "unknown event kind 8"),
    (dict(kind=[1.0, np.nan, 2.0, 3.0]), 1, "unknown event kind"),
    (dict(side=["bid", "up", "buy", 0]), 1, "side 'up'"),
    (dict(side=[1, 2, 1, 0]), 1, "side 2"),
    (dict(price=["99.99", "x", "100.01", None]), 1, "price 'x' is not a number"),
    (dict(order_id=[0, 1.5, 0, 0]), 1, "order_id 1.5 is not an integer"),
    (dict(flags=[0, 0, 300, 0]), 2, "flags 300 is out of range"),
])
def test_events_from_frame_errors(over, row, text):
    with pytest.raises(DataError) as e:
        events_from_frame(frame(**over), "t.csv", 0.01, 0.5)
    msg = str(e.value)
    assert msg.startswith(f"t.csv: row {row}: "), msg
    assert text in msg, msg


def test_events_from_frame_bad_setup():
    with pytest.raises(DataError, match="missing column"):
        events_from_frame(frame().drop(columns="qty"), "t", 0.01, 1)
    with pytest.raises(ConfigError, match="tick_size"):
        events_from_frame(frame(), "t", 0, 1)
    with pytest.raises(ConfigError, match="lot_size"):
        events_from_frame(frame(), "t", 0.01, float("nan"))
    with pytest.raises(DataError, match="DataFrame"):
        events_from_frame({"a": 1}, "t", 0.01, 1)
    assert len(events_from_frame(frame().iloc[:0], "t", 0.01, 1)) == 0


def test_grid_tolerance():
    # 0.1 + 0.2 style float noise is within 1e-6 of a tick; a real off-grid price is not
    ev = events_from_frame(frame(price=[0.1 + 0.2, 100.01, 100.01, np.nan]), "t", 0.01, 0.5)
    assert ev["price"][0] == 30
    with pytest.raises(MmsimError):
        events_from_frame(frame(price=[0.3 + 1e-5, 100.01, 100.01, np.nan]), "t", 0.01, 0.5)
