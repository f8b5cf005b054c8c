"""LOBSTER adapter: exact times, L3 mapping, synthetic initial book, the row-by-row book check, replay."""
from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sortedcontainers import SortedDict

from adapters_helpers import DATA, assert_store_sane, replay, shared, store_bytes

from mmsim import records as R
from mmsim.data.adapters import convert, open_conversion
from mmsim.data.adapters.lobster import eastern_utc_offset_s, parse_lobster_time
from mmsim.errors import ConfigError, DataError
from mmsim.data.store import EventStore
from mmsim.signals.features import observations_from_events

SLICE_1 = DATA / "lobster" / "AMZN_2012-06-21_1_lines1-3000.zip"
SLICE_5 = DATA / "lobster" / "AMZN_2012-06-21_5_lines61001-64000.zip"
MSG = "AMZN_2012-06-21_34200000_57600000_message_{}.csv"
BOOK = "AMZN_2012-06-21_34200000_57600000_orderbook_{}.csv"


# --------------------------------------------------------------------------------------------- helpers
def read_zip(path: Path):
    """(levels, message lines, orderbook rows as int lists) of a LOBSTER zip."""
    with zipfile.ZipFile(path) as zf:
        msg = next(n for n in zf.namelist() if "_message_" in n)
        levels = int(msg.rsplit("_", 1)[1].split(".")[0])
        msgs = io.TextIOWrapper(zf.open(msg)).read().splitlines()
        rows = [list(map(int, r.split(","))) for r in
                io.TextIOWrapper(zf.open(msg.replace("_message_", "_orderbook_"))).read().splitlines()]
    return levels, msgs, rows



def _apply_l3_row(orders: dict, lv: dict, row: list) -> None:
    """Apply one L3 row (kind, side, price, qty, order_id) to an order-id book and its price levels, asserting
    the L3 contract (new ids, removals of what rests, DELETE of the whole remainder)."""
    kind, side, price, qty, oid = row
    if kind == R.ADD:
        assert oid not in orders
        orders[oid] = [side, price, qty]
        lv[side][price] = lv[side].get(price, 0) + qty
    elif kind in (R.CANCEL, R.DELETE, R.EXECUTE):
        o = orders[oid]
        assert (o[0], o[1]) == (side, price) and 0 < qty <= o[2]
        o[2] -= qty
        assert kind != R.DELETE or o[2] == 0
        if o[2] == 0:
            del orders[oid]
        left = lv[side][price] - qty
        if left:
            lv[side][price] = left
        else:
            del lv[side][price]


def _tops(lv: dict, row: list, tick_units: int, levels: int) -> tuple[list, list, list, list]:
    """(want_bid, got_bid, want_ask, got_ask): an orderbook-file row's visible levels (dummy prices dropped) and
    the rebuilt book's top ``levels`` per side, as (ticks, lots) lists."""
    want_a = [(p // tick_units, q) for p, q in zip(row[0::4], row[1::4]) if p != 9999999999]
    want_b = [(p // tick_units, q) for p, q in zip(row[2::4], row[3::4]) if p != -9999999999]
    got_a = [lv[-1].peekitem(j) for j in range(min(levels, len(lv[-1])))]
    got_b = [lv[1].peekitem(-1 - j) for j in range(min(levels, len(lv[1])))]
    return want_b, got_b, want_a, got_a

def independent_book_check(store: EventStore, zip_path: Path, tick_units: int = 100) -> tuple[int, list]:
    """Replay the store's L3 events with a plain order-id book (not the adapter's code) and compare the
    top N levels with the orderbook file after the last message of every timestamp. Returns
    (timestamps checked, mismatches)."""
    levels, msgs, rows = read_zip(zip_path)
    midnight = store.meta["report"]["midnight_utc_ns"]
    last_of = {}
    for k, m in enumerate(msgs):
        last_of[parse_lobster_time(m.split(",", 1)[0]) + midnight] = k
    ev = store.read()
    orders: dict = {}
    lv = {1: SortedDict(), -1: SortedDict()}
    ts = ev["exch_ts"]
    ends = np.append(np.flatnonzero(np.diff(ts)), len(ev) - 1)
    start, checked, bad = 0, 0, []
    cols = [ev[c].tolist() for c in ("kind", "side", "price", "qty", "order_id")]
    for end in ends.tolist():
        for i in range(start, end + 1):
            _apply_l3_row(orders, lv, [c[i] for c in cols])
        start = end + 1
        row = rows[last_of[int(ts[end])]]
        want_b, got_b, want_a, got_a = _tops(lv, row, tick_units, levels)
        checked += 1
        if got_a != want_a or got_b != want_b:
            bad.append((int(ts[end]), want_b, got_b, want_a, got_a))
    return checked, bad


def message_end_book_check(events: np.ndarray, zip_path: Path, tick_units: int = 100) -> tuple[int, list]:
    """Exact states: replay ``events`` with a plain order-id book (not the adapter's code) and, after every
    ``FLAG_MSG_END`` row, compare the visible top N with that message line's orderbook row (every row of
    the file). The first message is the synthetic initial book; every later one is one message line (the
    files checked have no halts or dropped lines, so message k+1 is line k). Also checks that the rows of
    one message share their exchange time and that the last row ends a message. Returns (messages checked,
    mismatches as (line, want bids, got bids, want asks, got asks))."""
    levels, _msgs, rows = read_zip(zip_path)
    flags = events["flags"]
    ends = np.flatnonzero(flags & R.FLAG_MSG_END)
    assert len(ends) == len(rows) + 1, "one message for the initial book, then one per message line"
    assert ends[-1] == len(events) - 1
    ts = events["exch_ts"]
    starts = np.append(0, ends[:-1] + 1)
    assert (ts[starts] == ts[ends]).all(), "the rows of one message share exch_ts"
    orders: dict = {}
    lv = {1: SortedDict(), -1: SortedDict()}
    cols = [events[c].tolist() for c in ("kind", "side", "price", "qty", "order_id")]
    checked, bad, start = 0, [], 0
    for k, end in enumerate(ends.tolist()):
        for i in range(start, end + 1):
            _apply_l3_row(orders, lv, [c[i] for c in cols])
        start = end + 1
        if k == 0:
            continue  # the initial book: orderbook row 1 with message 1 undone, not a row of the file
        row = rows[k - 1]
        want_b, got_b, want_a, got_a = _tops(lv, row, tick_units, levels)
        checked += 1
        if got_a != want_a or got_b != want_b:
            bad.append((k, want_b, got_b, want_a, got_a))
    return checked, bad


def write_pair(tmp_path: Path, messages: list[str], rows: list[str], levels: int = 1) -> Path:
    """A hand-made LOBSTER csv pair with the official names; returns the message file."""
    m = tmp_path / MSG.format(levels)
    m.write_text("\n".join(messages) + "\n")
    (tmp_path / BOOK.format(levels)).write_text("\n".join(rows) + "\n")
    return m


def events_of(inputs, **kw) -> tuple[np.ndarray, dict]:
    conv = open_conversion("lobster", [str(p) for p in inputs], **kw)
    chunks = list(conv.chunks)
    return np.concatenate(chunks), conv.report


# --------------------------------------------------------------------------------------------- units
def test_time_text_is_parsed_exactly():
    assert parse_lobster_time("34200.017459617") == 34_200_017_459_617
    assert parse_lobster_time("34200.18960767") == 34_200_189_607_670   # trailing zero dropped by LOBSTER
    assert parse_lobster_time("34200") == 34_200_000_000_000
    assert parse_lobster_time("43002.632812672004") == 43_002_632_812_672  # float-printing noise rounded
    assert parse_lobster_time("1.9999999996") == 2_000_000_000
    # a float would not survive this: 57599.999999999 s is not representable exactly
    assert parse_lobster_time("57599.999999999") == 57_599_999_999_999
    for bad in ("3a.1", "-1.5", "", "1.2.3", "1e3"):
        with pytest.raises(ValueError):
            parse_lobster_time(bad)


def test_eastern_offset_follows_us_dst_rules():
    assert eastern_utc_offset_s(date(2012, 6, 21)) == -14400
    assert eastern_utc_offset_s(date(2012, 1, 3)) == -18000
    assert eastern_utc_offset_s(date(2012, 3, 11)) == -14400   # DST starts that morning
    assert eastern_utc_offset_s(date(2012, 11, 4)) == -18000   # and ends
    assert eastern_utc_offset_s(date(2006, 4, 2)) == -14400    # the 1987-2006 rule
    assert eastern_utc_offset_s(date(2006, 10, 29)) == -18000
    try:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("America/New_York")
    except Exception:  # pragma: no cover - no tz database on this machine
        return
    d = date(1990, 1, 1)
    while d < date(2031, 1, 1):
        noon = datetime(d.year, d.month, d.day, 12, tzinfo=tz)
        assert eastern_utc_offset_s(d) == int(noon.utcoffset().total_seconds()), d
        d += timedelta(days=3)


def test_mapping_synthetic_initial_book_and_unknown_ids(tmp_path):
    # 2 levels. Before message 1 the book held 100 @ 100.00 bid (orders unknown to the file), 50 @ 100.05 ask.
    msgs = ["34200.000000001,1,11,10,1000100,1",      # add bid 10 @ 100.01
            "34200.000000002,3,999,40,1000000,1",     # delete of an order resting before the file
            "34200.000000002,4,11,4,1000100,1",       # execution of a visible bid: a seller hit it
            "34200.5,5,0,7,1000300,-1",               # hidden sell order executed: buyer-initiated
            "34200.5,5,0,3,1000250,1",                # hidden bid at half a cent: seller-initiated
            "34201,2,11,6,1000100,1"]                 # cancel the rest of 11
    e = "9999999999,0"
    rows = [f"1000500,50,1000100,10,{e},1000000,100", f"1000500,50,1000100,10,{e},1000000,60",
            f"1000500,50,1000100,6,{e},1000000,60", f"1000500,50,1000100,6,{e},1000000,60",
            f"1000500,50,1000100,6,{e},1000000,60", f"1000500,50,1000000,60,{e},-{e}"]
    ev, rep = events_of([write_pair(tmp_path, msgs, rows, levels=2)])
    midnight = rep["midnight_utc_ns"]
    assert midnight == 1_340_251_200 * 10**9  # 2012-06-21 00:00 New York (EDT) = 04:00 UTC
    got = [(int(t - midnight), int(k), int(s), int(p), int(q), int(o))
           for t, k, s, p, q, o in zip(ev["exch_ts"], ev["kind"], ev["side"], ev["price"], ev["qty"], ev["order_id"])]
    t1 = 34_200_000_000_001
    assert got == [
        (t1, R.ADD, 1, 10000, 100, -1),          # the synthetic initial book (message 1 undone: no bid 100.01)
        (t1, R.ADD, -1, 10005, 50, -2),
        (t1, R.ADD, 1, 10001, 10, 11),
        (t1 + 1, R.CANCEL, 1, 10000, 40, -1),    # unknown id 999 -> taken from the synthetic order
        (t1 + 1, R.EXECUTE, 1, 10001, 4, 11),
        (34_200_500_000_000, R.TRADE, 1, 10003, 7, 0),
        (34_200_500_000_000, R.TRADE, -1, 10003, 3, 0),  # 100.025 rounded up for a seller-initiated print
        (34_201_000_000_000, R.DELETE, 1, 10001, 6, 11),  # a cancel of all that is left is a DELETE
    ]
    # one message for the initial book, then one per message line (its last row carries FLAG_MSG_END)
    assert ev["flags"].tolist() == [0, 2, 2, 2, 2, 2, 2, 2]
    assert rep["book_check"]["rows_mismatched"] == 0
    assert rep["counts_messages"]["subtick_hidden_executions_rounded"] == 1
    assert rep["counts_messages"]["unknown_id_messages"] == 1
    assert rep["counts"] == {"trade": 2, "add": 3, "cancel": 1, "delete": 1, "execute": 1}


def test_deeper_level_entering_the_window_is_explained_and_reconciled(tmp_path):
    # 1-level file: when the best bid goes, the next bid (never seen) appears in the orderbook row.
    msgs = ["34200.1,1,5,5,1000500,-1",    # add 5 to the best ask
            "34200.2,4,7,100,1000000,1",   # execute 100 of unknown order 7 @ 100.00 (the whole best bid)
            "34200.3,1,8,5,999900,1"]      # add 5 @ 99.99, the new best bid
    rows = ["1000500,55,1000000,100", "1000500,55,999900,30", "1000500,55,999900,35"]
    ev, rep = events_of([write_pair(tmp_path, msgs, rows)])
    bc = rep["book_check"]
    assert bc["rows_mismatched"] == 1 and bc["rows_explained"] == 1 and bc["rows_unexplained"] == 0
    assert bc["levels_revealed"] == 1 and bc["qty_revealed"] == 30
    assert ev["kind"].tolist() == [R.ADD, R.ADD, R.ADD, R.EXECUTE, R.ADD, R.ADD]
    # initial bid and ask, add 5, the execution (from the synthetic bid), the revealed level, add 8
    assert ev["order_id"].tolist() == [-1, -2, 5, -1, -3, 8]
    assert ev["qty"][4] == 30 and ev["price"][4] == 9999 and ev["side"][4] == 1
    # the execution and the level it reveals are one message: the state between them (no bid at all, which
    # the file never shows) is inside it, and only the reveal ends it
    assert (ev["flags"] & R.FLAG_MSG_END).tolist() == [0, 2, 2, 0, 2, 2]
    assert (ev["exch_ts"][3] == ev["exch_ts"][4])


def test_message_ends_inside_one_timestamp_and_around_halts(tmp_path):
    # Two message lines at one time stamp are two messages (two orderbook rows); an execution of an unknown
    # id taken from two orders and the level it reveals are one message of three rows; a halt writes no
    # row and so ends no message; nor does a line dropped under --repair.
    msgs = ["34200.1,1,1,4,1000100,1",      # add 4 to the best bid (6 were there before: synthetic)
            "34200.2,1,2,10,1000600,-1",    # add an ask outside the 1-level window
            "34200.2,4,99,10,1000100,1",    # execute all 10 at the best bid (id unknown): reveals 100.00
            "34200.3,7,0,0,-1,-1",          # halt
            "34200.35,1,3,5,1000650,-1",    # off the tick grid: dropped under --repair
            "34200.4,1,4,5,1000600,-1"]
    rows = ["1000500,50,1000100,10", "1000500,50,1000100,10", "1000500,50,1000000,30",
            "1000500,50,1000000,30", "1000500,50,1000000,30", "1000500,50,1000000,30"]
    ev, rep = events_of([write_pair(tmp_path, msgs, rows)], repair=True)
    assert rep["counts_messages"]["halts"] == 1 and rep["counts_messages"]["malformed_lines_dropped"] == 1
    assert rep["book_check"]["rows_unexplained"] == 0 and rep["book_check"]["levels_revealed"] == 1
    t = (ev["exch_ts"] - rep["midnight_utc_ns"]).tolist()
    assert ev["kind"].tolist() == [R.ADD, R.ADD, R.ADD, R.ADD, R.EXECUTE, R.EXECUTE, R.ADD, R.ADD]
    assert ev["order_id"].tolist() == [-1, -2, 1, 2, -1, 1, -3, 4]
    assert (ev["flags"] & R.FLAG_MSG_END).tolist() == [0, 2, 2, 2, 0, 0, 2, 2]
    assert t[3] == t[4] == t[5] == t[6] == 34_200_200_000_000 and t[7] == 34_200_400_000_000

def test_unexplained_mismatch_is_an_error_naming_the_line_unless_repair(tmp_path):
    msgs = ["34200.1,1,1,10,1000100,1", "34200.2,1,2,10,1000600,-1"]
    rows = ["1000500,50,1000100,10", "1000500,50,1000100,99"]  # the bid grew without a message
    m = write_pair(tmp_path, msgs, rows)
    with pytest.raises(DataError, match=r"orderbook_1\.csv:2: bid 10001 has 99, rebuilt 10 .*--repair"):
        events_of([m])
    ev, rep = events_of([m], repair=True)
    assert rep["book_check"]["rows_unexplained"] == 1 and rep["book_check"]["qty_revealed"] == 89


@pytest.mark.parametrize("line, text", [
    ("34200.2,6,2,10,1000600,-1", "message_1.csv:2: unknown message type 6"),
    ("34200.2,1,2,10,1000650,-1", "message_1.csv:2: price 1000650 is not on the tick grid"),
    ("34200.2,1,2,0,1000600,-1", "message_1.csv:2: size 0 must be > 0"),
    ("34200.2,1,2,10,1000600,0", "message_1.csv:2: direction 0 is not 1 or -1"),
    ("34200.2,1,2,10,1000600", "message_1.csv:2: expected 6 fields, got 5"),
    ("34200.x,1,2,10,1000600,-1", "message_1.csv:2: time '34200.x' is not seconds after midnight"),
    ("34200.2,1,x,10,1000600,-1", "message_1.csv:2: malformed line: type, id, size, price and direction"),
    ("34100,1,2,10,1000600,-1", "message_1.csv:2: time goes back"),
    ("34200.2,1,1,10,1000600,-1", "message_1.csv:2: order id 1 is added twice"),
])
def test_bad_message_lines_name_file_and_line(tmp_path, line, text):
    m = write_pair(tmp_path, ["34200.1,1,1,10,1000100,1", line], ["1000500,50,1000100,10"] * 2)
    with pytest.raises(DataError, match=text.replace(".", r"\.").replace("(", r"\(")):
        events_of([m])


def test_malformed_lines_and_halts_under_repair(tmp_path):
    msgs = ["34200.1,1,1,10,1000100,1", "34200.2,1,2,10,1000650,-1",   # off grid: dropped with its row
            "34200.3,7,0,0,-1,-1", "34200.4,7,0,0,1,-1",             # halt, resume: skipped, counted
            "34200.5,1,3,5,1000600,-1"]
    rows = ["1000500,50,1000100,10", "1000500,50,1000100,10", "1000500,50,1000100,10",
            "1000500,50,1000100,10", "1000500,50,1000100,10"]
    m = write_pair(tmp_path, msgs, rows)
    ev, rep = events_of([m], repair=True)
    assert rep["counts_messages"]["malformed_lines_dropped"] == 1
    assert rep["counts_messages"]["halts"] == 2
    assert rep["book_check"]["rows_unexplained"] == 0


@pytest.mark.parametrize("rows, text", [
    (["1000500,50,1000100,10"], "orderbook_1.csv:2: orderbook file ends before the message file"),
    (["1000500,50,1000100,10", "1000500,50,1000100"], "orderbook_1.csv:2: expected 4 fields, got 3"),
    (["1000500,50,1000100,10", "1000500,50,1000150,10"], "orderbook_1.csv:2: level (1000150, 10)"),
    (["1000500,50,1000100,10"] * 3, "orderbook_1.csv:3: orderbook file has more rows"),
])
def test_bad_orderbook_rows_name_file_and_line(tmp_path, rows, text):
    m = write_pair(tmp_path, ["34200.1,1,1,10,1000100,1", "34200.2,1,2,10,1000600,-1"], rows)
    with pytest.raises(DataError, match=text.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
        events_of([m])


def test_inputs_zip_pair_or_message_alone_give_the_same_events(tmp_path):
    with zipfile.ZipFile(SLICE_1) as zf:
        zf.extractall(tmp_path / "x")
    m, b = tmp_path / "x" / MSG.format(1), tmp_path / "x" / BOOK.format(1)
    convert("lobster", [SLICE_1], tmp_path / "z.mmstore")
    convert("lobster", [m, b], tmp_path / "p.mmstore")
    convert("lobster", [m], tmp_path / "m.mmstore")  # finds its orderbook file beside it
    ref = (tmp_path / "z.mmstore" / "events.parquet").read_bytes()
    assert (tmp_path / "p.mmstore" / "events.parquet").read_bytes() == ref
    assert (tmp_path / "m.mmstore" / "events.parquet").read_bytes() == ref
    b.unlink()
    with pytest.raises(DataError, match="needs its orderbook file"):
        convert("lobster", [m], tmp_path / "q.mmstore")
    with pytest.raises(DataError, match="not a LOBSTER file name"):
        convert("lobster", [tmp_path / "z.mmstore" / "meta.json"], tmp_path / "q.mmstore")
    with pytest.raises(ConfigError, match="multiple of 0.0001"):
        convert("lobster", [SLICE_1], tmp_path / "q.mmstore", tick_size=0.00005)


def test_conversion_is_byte_identical(tmp_path):
    convert("lobster", [SLICE_5], tmp_path / "a.mmstore")
    convert("lobster", [SLICE_5], tmp_path / "b.mmstore")
    assert store_bytes(tmp_path / "a.mmstore") == store_bytes(tmp_path / "b.mmstore")


@pytest.mark.parametrize("path", [SLICE_1, SLICE_5], ids=["level1", "level5"])
def test_slice_rebuilds_the_orderbook_file_and_replays(tmp_path, path):
    meta = convert("lobster", [path], tmp_path / "s.mmstore")
    rep = meta["report"]
    assert meta["mode"] == "l3" and meta["instrument"] == {"symbol": "AMZN", "tick_size": 0.01, "lot_size": 1.0}
    assert rep["counts_messages"]["messages"] == 3000 and rep["n_input_lines"] == 3000
    assert rep["book_check"]["rows_compared"] == 3000 and rep["book_check"]["rows_unexplained"] == 0
    assert rep["book_check"]["rows_mismatched"] == rep["book_check"]["rows_explained"]
    store = EventStore(tmp_path / "s.mmstore")
    ev = store.read()
    assert_store_sane(ev)
    checked, bad = independent_book_check(store, path)
    assert checked > 1000 and bad == []
    checked, bad = message_end_book_check(ev, path)
    assert checked == 3000 and bad == []
    res = replay(ev, store.instrument)
    assert res.summary["n_events"] == len(ev)


# --------------------------------------------------------------------------------------------- full samples
@pytest.mark.parametrize("levels", [1, 5])
def test_full_sample_zero_unexplained_mismatches_and_replay(tmp_path, levels):
    path = shared("lobster", f"LOBSTER_SampleFile_AMZN_2012-06-21_{levels}.zip")
    meta = convert("lobster", [path], tmp_path / "full.mmstore")
    rep = meta["report"]
    c, bc = rep["counts_messages"], rep["book_check"]
    if levels == 5:  # the counts of ../shared/data/README.md
        assert (c["adds"], c["cancels"], c["deletes"], c["executions"], c["hidden_executions"]) == \
            (77_381, 450, 66_685, 8_974, 2_445)
        assert rep["n_input_lines"] == 155_935
    else:
        assert rep["n_input_lines"] == 57_515
    assert c["halts"] == 0 and c["unattributed_qty"] == 0
    assert bc["rows_unexplained"] == 0 and bc["unexplained_levels"] == 0
    assert bc["rows_mismatched"] == bc["rows_explained"] > 0
    store = EventStore(tmp_path / "full.mmstore")
    ev = store.read()
    checked, bad = independent_book_check(store, path)
    assert bad == [] and checked > 40_000
    # exact states: after every message, the visible top N is that line's orderbook row (every line)
    checked, bad = message_end_book_check(ev, path)
    assert checked == rep["n_input_lines"] and bad[:3] == []
    # the file never shows an empty side, and neither does the store at a message end; inside messages
    # the rebuilt book can (a 1-level execution emptying the best level, before the row revealing the next
    # one): read row by row (every row made a message of its own), 221 rows on the level-1 file, 5 on the
    # level-5 file. Read as the feature path reads it, no row shows an intermediate state.
    end = (ev["flags"] & R.FLAG_MSG_END) != 0
    every_row = ev.copy()
    every_row["flags"] |= R.FLAG_MSG_END
    raw = observations_from_events(every_row, levels=1)
    empty = (raw.bid_qty[:, 0] == 0) | (raw.ask_qty[:, 0] == 0)
    assert not empty[end].any()
    assert empty[~end].sum() == (221 if levels == 1 else 5)
    obs = observations_from_events(ev, levels=1)
    held = np.flatnonzero(~end)[1:]                      # rows inside a message (the first row has no past)
    assert (obs.bid_qty[held, 0] == obs.bid_qty[held - 1, 0]).all()
    assert (obs.ask_px[held, 0] == obs.ask_px[held - 1, 0]).all()
    assert (obs.bid_qty[end, 0] > 0).all() and (obs.ask_qty[end, 0] > 0).all()
    res = replay(ev, store.instrument)
    assert res.summary["n_events"] == meta["n_rows"]
