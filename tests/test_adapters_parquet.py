"""Generic Parquet adapter: the documented schema, float or integer units, checks naming file and row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from adapters_helpers import replay, store_bytes

import mmsim.data.adapters.parquet as PQ
from mmsim import records as R
from mmsim.data.adapters import convert, open_conversion
from mmsim.errors import ConfigError, DataError
from mmsim.data.store import EventStore

SIZES = dict(tick_size=0.5, lot_size=0.1)


def frame(n=40, floats=True):
    t = 1_700_000_000_000_000_000 + np.arange(n) * 1_000_000
    rows = []
    for i in range(n):
        if i == 0:
            rows.append(("clear", "both", 0.0, 0.0))
        elif i % 5 == 0:
            rows.append(("trade", "buy" if i % 2 else "sell", 100.5, 0.3))
        else:
            rows.append(("depth", "bid" if i % 2 else "ask", 100.0 if i % 2 else 101.0, 0.1 * (i % 7)))
    df = pd.DataFrame(rows, columns=["kind", "side", "price", "qty"])
    df.insert(0, "exch_ts", t)
    df["recv_ts"] = t + 250_000
    if not floats:
        df["price"] = np.rint(df["price"] / 0.5).astype(np.int64)
        df["qty"] = np.rint(df["qty"] / 0.1).astype(np.int64)
        df["side"] = df["side"].map({"buy": 1, "sell": -1, "bid": 1, "ask": -1, "both": 0}).astype(np.int8)
    return df


def events_of(path, **kw):
    conv = open_conversion("parquet", [str(path)], **{**SIZES, **kw})
    return np.concatenate(list(conv.chunks)), conv.report


@pytest.mark.parametrize("floats", [True, False], ids=["currency_units", "ticks_lots"])
def test_float_and_integer_units_give_the_same_events(tmp_path, floats):
    p = tmp_path / "e.parquet"
    frame(floats=floats).to_parquet(p)
    ev, rep = events_of(p)
    ref, _ = events_of(_write(tmp_path / "f.parquet", frame(floats=True)))
    np.testing.assert_array_equal(ev, ref)
    assert rep["counts"] == {"depth": 32, "trade": 7, "clear": 1} and rep["n_input_rows"] == 40
    assert ev["price"][5] == 201 and ev["qty"][5] == 3 and ev["side"][5] == 1
    assert (ev["recv_ts"] - ev["exch_ts"] == 250_000).all()


def _write(p, df):
    df.to_parquet(p)
    return p


def test_store_byte_identical_and_replays(tmp_path):
    p = _write(tmp_path / "e.parquet", frame(400))
    meta = convert("parquet", [p], tmp_path / "a.mmstore", symbol="X", **SIZES)
    convert("parquet", [p], tmp_path / "b.mmstore", symbol="X", **SIZES)
    assert store_bytes(tmp_path / "a.mmstore") == store_bytes(tmp_path / "b.mmstore")
    store = EventStore(tmp_path / "a.mmstore")
    assert store.instrument.symbol == "X" and meta["n_rows"] == 400
    replay(store.read(), store.instrument, feed_latency="data")


def test_rows_are_numbered_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(PQ, "BATCH_ROWS", 16)
    df = frame(40)
    df.loc[37, "price"] = 100.2                      # off the 0.5 grid, in the third batch
    p = _write(tmp_path / "e.parquet", df)
    with pytest.raises(DataError, match=r"^e\.parquet: row 37: price 100\.2 is not on the tick grid"):
        events_of(p)
    df = frame(40)
    df.loc[32, "exch_ts"] = df.loc[31, "exch_ts"] - 5  # the first row of the third batch goes back
    with pytest.raises(DataError, match=r"^e\.parquet: row 32: exch_ts .* is before the previous row's"):
        events_of(_write(tmp_path / "e.parquet", df))
    df = frame(40)
    df.loc[20, "exch_ts"] = df.loc[19, "exch_ts"] - 5  # inside the second batch
    with pytest.raises(DataError, match=r"^e\.parquet: row 20: exch_ts .* is before the previous row's"):
        events_of(_write(tmp_path / "e.parquet", df))


def test_schema_errors_and_repairs(tmp_path):
    df = frame(20)
    df["venue"] = "x"
    p = _write(tmp_path / "u.parquet", df)
    with pytest.raises(DataError, match=r"u\.parquet: unknown column\(s\) 'venue'"):
        events_of(p)
    ev, rep = events_of(p, repair=True)
    assert rep["repairs"]["unknown_columns_ignored"] == 1 and len(ev) == 20
    p = _write(tmp_path / "m.parquet", frame(20).drop(columns=["kind"]))
    with pytest.raises(DataError, match=r"m\.parquet: missing column\(s\) kind"):
        events_of(p)
    df = frame(20)
    df.loc[5, "qty"] = 0.0                            # a zero-size trade
    p = _write(tmp_path / "z.parquet", df)
    with pytest.raises(DataError, match=r"z\.parquet: row 5: zero size in a TRADE event"):
        events_of(p)
    ev, rep = events_of(p, repair=True)
    assert rep["repairs"]["zero_qty_dropped"] == 1 and len(ev) == 19
    df = frame(20)
    df.loc[3, "kind"] = "quote"
    with pytest.raises(DataError, match=r"k\.parquet: row 3: unknown event kind 'quote'"):
        events_of(_write(tmp_path / "k.parquet", df))
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"bad\.parquet: cannot read Parquet"):
        events_of(tmp_path / "bad.parquet")
    with pytest.raises(ConfigError, match="needs --tick-size and --lot-size"):
        open_conversion("parquet", [str(p)])


def test_l3_events_keep_order_ids(tmp_path):
    t = 1_700_000_000_000_000_000
    df = pd.DataFrame({"exch_ts": [t, t + 1, t + 2], "kind": ["add", "execute", "delete"], "side": [1, 1, 1],
                       "price": [200, 200, 200], "qty": [5, 2, 3], "order_id": [7, 7, 7]})
    ev, rep = events_of(_write(tmp_path / "l3.parquet", df))
    assert ev["order_id"].tolist() == [7, 7, 7] and ev["kind"].tolist() == [R.ADD, R.EXECUTE, R.DELETE]
    assert (ev["recv_ts"] == R.NO_TS).all()
    meta = convert("parquet", [tmp_path / "l3.parquet"], tmp_path / "s.mmstore", **SIZES)
    assert meta["mode"] == "l3"
