"""Tardis.dev CSV adapter (incremental_book_L2 + trades): mapping, merge, checks and repairs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from adapters_helpers import DATA, assert_store_sane, replay, store_bytes

from mmsim import records as R
from mmsim.data.adapters import convert, open_conversion
from mmsim.errors import ConfigError, DataError
from mmsim.data.store import EventStore

D = DATA / "tardis"
BOOK = D / "binance-futures_incremental_book_L2_2024-08-08_BTCUSDT.csv"
TRADES = D / "binance-futures_trades_2024-08-08_BTCUSDT.csv"
SIZES = dict(tick_size=0.1, lot_size=0.001)
HEAD_B = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
HEAD_T = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"


def events_of(paths, **kw):
    conv = open_conversion("tardis", [str(p) for p in paths], **{**SIZES, **kw})
    return np.concatenate(list(conv.chunks)), conv.report


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def test_fixture_mapping_snapshots_merge_and_latency(tmp_path):
    ev, rep = events_of([BOOK, TRADES])
    c = rep["counts_rows"]
    assert c["book_rows_before_first_snapshot"] == 2 and c["snapshots"] == 2
    assert c["trades_before_first_snapshot"] == 1      # 1723161256322000 is before the first snapshot
    assert rep["counts"] == {"depth": 31, "trade": 8, "clear": 2}
    assert ev["kind"][0] == R.CLEAR and ev["exch_ts"][0] == 1_723_161_256_493_000_000
    assert ev["recv_ts"][0] == 1_723_161_256_501_230_000
    # the second snapshot block starts with a CLEAR of both sides
    clears = np.flatnonzero(ev["kind"] == R.CLEAR)
    assert ev["exch_ts"][clears[1]] == 1_723_161_257_802_000_000 and ev["side"][clears[1]] == 0
    # a trade at the same exchange time as a book update comes after it (book file given first)
    same = np.flatnonzero(ev["exch_ts"] == 1_723_161_256_552_000_000)
    assert ev["kind"][same].tolist() == [R.DEPTH, R.DEPTH, R.DEPTH, R.TRADE]
    assert ev["side"][same[-1]] == 1 and ev["price"][same[-1]] == 618003 and ev["qty"][same[-1]] == 199
    # local_timestamp 2 µs before timestamp in one message: clamped and counted
    assert c["recv_clamped"] == 2
    assert_store_sane(ev)
    # trades file first: equal times put the trade first
    ev2, _ = events_of([TRADES, BOOK])
    same2 = np.flatnonzero(ev2["exch_ts"] == 1_723_161_256_552_000_000)
    assert ev2["kind"][same2].tolist() == [R.TRADE, R.DEPTH, R.DEPTH, R.DEPTH]


def test_fixture_store_is_byte_identical_and_replays(tmp_path):
    meta = convert("tardis", [BOOK, TRADES], tmp_path / "a.mmstore", **SIZES)
    convert("tardis", [BOOK, TRADES], tmp_path / "b.mmstore", **SIZES)
    assert store_bytes(tmp_path / "a.mmstore") == store_bytes(tmp_path / "b.mmstore")
    assert meta["instrument"]["symbol"] == "BTCUSDT" and meta["report"]["exchanges"] == ["binance-futures"]
    store = EventStore(tmp_path / "a.mmstore")
    for feed in ("1ms", "data"):
        assert replay(store.read(), store.instrument, feed_latency=feed).summary["n_events"] == meta["n_rows"]


def test_malformed_line_is_an_error_naming_file_and_line_or_dropped():
    bad = D / "bad_malformed_line_incremental_book_L2.csv"
    with pytest.raises(DataError, match=r"bad_malformed_line_incremental_book_L2\.csv:9: expected 8 fields, got 7"):
        events_of([bad, TRADES])
    ev, rep = events_of([bad, TRADES], repair=True)
    assert rep["repairs"]["malformed_lines_dropped"] == 1
    assert rep["counts"]["depth"] == 30


def test_unknown_field_is_an_error_naming_file_and_line_or_ignored():
    bad = D / "bad_unknown_field_trades.csv"
    with pytest.raises(DataError, match=r"bad_unknown_field_trades\.csv:1: unknown field\(s\) 'trade_type'"):
        events_of([BOOK, bad])
    ev, rep = events_of([BOOK, bad], repair=True)
    assert rep["repairs"]["unknown_columns_ignored"] == 1 and rep["counts"]["trade"] == 8


@pytest.mark.parametrize("row, text", [
    ("binance-futures,BTCUSDT,1723161256600000,1723161256600100,maybe,bid,61800.1,1", "is_snapshot 'maybe'"),
    ("binance-futures,BTCUSDT,1723161256600000,1723161256600100,false,buy,61800.1,1", "side 'buy' is not bid/ask"),
    ("binance-futures,BTCUSDT,1723161256600000,1723161256600100,false,bid,61800.15,1", "tick '61800.15' is not on"),
    ("binance-futures,BTCUSDT,1723161256600000,1723161256600100,false,bid,61800.1,-1", "must be > 0 and amount"),
    ("binance-futures,BTCUSDT,2024-08-08T00:00,1723161256600100,false,bid,61800.1,1", "is not an integer number of µs"),
    ("binance-futures,BTCUSDT,1723161256400000,1723161256600100,false,bid,61800.1,1", "timestamp goes back"),
    ("binance-futures,ETHUSDT,1723161256600000,1723161256600100,false,bid,2600.1,1", "symbol ETHUSDT after BTCUSDT"),
    ("binance-futures,BTCUSDT,1723161256600000,1723161256600100,false,bid,61800.4,1", "crossed book"),
])
def test_bad_book_rows(tmp_path, row, text):
    p = write(tmp_path, "b.csv", [HEAD_B,
                                  "binance-futures,BTCUSDT,1723161256500000,1723161256500100,true,bid,61800.0,1",
                                  "binance-futures,BTCUSDT,1723161256500000,1723161256500100,true,ask,61800.3,1",
                                  row])
    with pytest.raises(DataError) as e:
        events_of([p])
    assert str(e.value).startswith("b.csv:4: ") and text in str(e.value)


def test_repairs_of_time_crossing_and_unknown_side(tmp_path):
    b = write(tmp_path, "b.csv", [HEAD_B,
                                  "x,BTCUSDT,1723161256500000,1723161256500100,true,bid,61800.0,1",
                                  "x,BTCUSDT,1723161256500000,1723161256500100,true,ask,61800.3,1",
                                  "x,BTCUSDT,1723161256400000,1723161256600100,false,bid,61800.1,1",
                                  "x,BTCUSDT,1723161256700000,1723161256700100,false,bid,61800.4,1"])
    t = write(tmp_path, "t.csv", [HEAD_T, "x,BTCUSDT,1723161256650000,1723161256650100,7,unknown,61800.3,0.5"])
    with pytest.raises(DataError, match=r"t\.csv:2: trade side 'unknown'"):
        events_of([b, t], tick_size=0.1, lot_size=0.1)
    ev, rep = events_of([b, t], lot_size=0.1, repair=True)
    r = rep["repairs"]
    assert (r["exch_ts_clamped"], r["crossed_groups"], r["crossed_levels_removed"],
            r["unknown_side_trades_dropped"]) == (1, 1, 1, 1)
    assert ev["exch_ts"][3] == 1_723_161_256_500_000_000  # raised to the previous time
    assert (int(ev["side"][-1]), int(ev["price"][-1]), int(ev["qty"][-1])) == (-1, 618003, 0)  # stale ask
    replay(ev, open_conversion("tardis", [str(b), str(t)], tick_size=0.1, lot_size=0.1, repair=True).instrument)


def test_setup_errors(tmp_path):
    with pytest.raises(ConfigError, match="needs --tick-size and --lot-size"):
        open_conversion("tardis", [str(BOOK)])
    with pytest.raises(DataError, match="no incremental_book_L2 file among the inputs"):
        open_conversion("tardis", [str(TRADES)], **SIZES)
    p = write(tmp_path, "x.csv", ["a,b,c", "1,2,3"])
    with pytest.raises(DataError, match=r"x\.csv:1: header 'a,b,c' is neither incremental_book_L2"):
        open_conversion("tardis", [str(p)], **SIZES)
    p = write(tmp_path, "m.csv", ["exchange,symbol,timestamp,is_snapshot,side,price,amount"])
    with pytest.raises(DataError, match=r"m\.csv:1: missing column\(s\) local_timestamp"):
        open_conversion("tardis", [str(p)], **SIZES)
    p = write(tmp_path, "n.csv", [HEAD_B, "x,BTCUSDT,1723161256400000,1723161256600100,false,bid,61800.1,1"])
    with pytest.raises(DataError, match="no snapshot rows"):
        events_of([p])
    p = write(tmp_path, "s.csv", [HEAD_B, "x,ETHUSDT,1723161256500000,1723161256500100,true,bid,2600.0,1",
                                  "x,BTCUSDT,1723161256500000,1723161256500100,true,bid,61800.0,1"])
    ev, rep = events_of([p], symbol="btcusdt")
    assert rep["counts_rows"]["other_symbol_skipped"] == 1 and len(ev) == 2


def test_gzip_input(tmp_path):
    import gzip

    gz = tmp_path / BOOK.name.replace(".csv", ".csv.gz")
    gz.write_bytes(gzip.compress(BOOK.read_bytes(), mtime=0))
    a, _ = events_of([BOOK, TRADES])
    b, _ = events_of([gz, TRADES])
    np.testing.assert_array_equal(a, b)
