"""Binance capture adapter: snapshot + diff depth continuity, trades, bookTicker check, clock skew, replay."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from adapters_helpers import DATA, assert_store_sane, replay, shared, store_bytes

from mmsim import records as R
from mmsim.data.adapters import convert, open_conversion
from mmsim.data.adapters.binance import SKEW_QUANTILE
from mmsim.errors import ConfigError, DataError
from mmsim.data.store import EventStore

SLICE = DATA / "binance" / "usdm_btcusdt_20240808_lines1-3000.gz"
SIZES = dict(tick_size=0.1, lot_size=0.001)
SKEW = -1_270_000_000  # the capture clock of the hand-made lines is 1.27 s behind
T0 = 1_723_161_256_000  # ms


# --------------------------------------------------------------------------------------------- hand-made
def snapshot(last_id, t, bids, asks, **extra):
    return {"lastUpdateId": last_id, "E": t + 8, "T": t, "bids": bids, "asks": asks, **extra}


def depth(U, u, pu, t, b=(), a=(), **extra):
    return {"stream": "btcusdt@depth@0ms", "data": {"e": "depthUpdate", "E": t, "T": t - 1, "s": "BTCUSDT",
                                                     "U": U, "u": u, "pu": pu, "b": list(b), "a": list(a),
                                                     **extra}}


def trade(t, p, q, buyer_maker, tid=1, sym="BTCUSDT"):
    return {"stream": "btcusdt@trade", "data": {"e": "trade", "E": t, "T": t, "s": sym, "t": tid, "p": p,
                                                 "q": q, "X": "MARKET", "m": buyer_maker}}


def ticker(u, t, b, B, a, A):
    return {"stream": "btcusdt@bookTicker", "data": {"e": "bookTicker", "u": u, "s": "BTCUSDT", "b": b, "B": B,
                                                      "a": a, "A": A, "T": t, "E": t}}


def capture(tmp_path: Path, msgs: list, latency_ms: float = 2.0, name="cap.gz") -> Path:
    """Lines '<local ns> <json>'; local = exchange E + latency + SKEW (raw strings are written as they are)."""
    lines = []
    for m in msgs:
        if isinstance(m, str):
            lines.append(m)
            continue
        e = m["E"] if "E" in m else m["data"]["E"]
        local = e * 1_000_000 + int(latency_ms * 1e6) + SKEW
        lines.append(f"{local} {json.dumps(m, separators=(',', ':'))}")
    p = tmp_path / name
    with gzip.open(p, "wt") as f:
        f.write("\n".join(lines) + "\n")
    return p


BOOK = snapshot(100, T0, [["61800.2", "1.000"], ["61800.0", "2.000"]], [["61800.3", "0.500"], ["61801.0", "3.000"]])


def events_of(path, **kw):
    conv = open_conversion("binance", [str(path)], **{**SIZES, **kw})
    return np.concatenate(list(conv.chunks)), conv.report


# --------------------------------------------------------------------------------------------- mapping
def test_mapping_snapshot_updates_trades_and_skew(tmp_path):
    p = capture(tmp_path, [
        depth(90, 95, 80, T0 - 5, b=[["61800.1", "9.000"]]),          # u < lastUpdateId: dropped
        trade(T0 - 3, "61800.3", "0.010", False),                     # before the book: dropped
        BOOK,
        depth(96, 104, 95, T0 + 10, b=[["61800.2", "0.000"], ["61800.1", "0.004"]], a=[["61800.4", "1.5"]]),
        trade(T0 + 12, "61800.3", "0.010", False),                    # buyer is the taker: +1
        trade(T0 + 12, "61800.1", "0.004", True, tid=2),              # seller is the taker: -1
        ticker(104, T0 + 10, "61800.1", "0.004", "61800.3", "0.500"),
        depth(105, 110, 104, T0 + 12, a=[["61800.3", "0.000"]]),
        ticker(110, T0 + 12, "61800.1", "0.004", "61800.4", "1.500"),
        ticker(111, T0 + 13, "61800.1", "0.005", "61800.4", "1.500"),   # confirms update 110 (not emitted)
    ])
    ev, rep = events_of(p)
    rows = [(int(t), int(k), int(s), int(pr), int(q)) for t, k, s, pr, q in
            zip(ev["exch_ts"], ev["kind"], ev["side"], ev["price"], ev["qty"])]
    ms = 1_000_000
    assert rows == [
        (T0 * ms, R.CLEAR, 0, 0, 0),
        (T0 * ms, R.DEPTH, 1, 618002, 1000), (T0 * ms, R.DEPTH, 1, 618000, 2000),
        (T0 * ms, R.DEPTH, -1, 618003, 500), (T0 * ms, R.DEPTH, -1, 618010, 3000),
        ((T0 + 10) * ms, R.DEPTH, 1, 618002, 0), ((T0 + 10) * ms, R.DEPTH, 1, 618001, 4),
        ((T0 + 10) * ms, R.DEPTH, -1, 618004, 1500),
        ((T0 + 12) * ms, R.TRADE, 1, 618003, 10), ((T0 + 12) * ms, R.TRADE, -1, 618001, 4),
        ((T0 + 12) * ms, R.DEPTH, -1, 618003, 0),
    ]
    assert rep["counts_messages"]["depth_dropped_before_snapshot"] == 1
    assert rep["counts_messages"]["trades_dropped_before_book"] == 1
    # skew: every line is 2 ms late on a clock 1.27 s behind (the snapshot 2 ms after its E = T + 8)
    assert rep["clock_skew"]["skew_ns"] == SKEW + 2_000_000
    lat = ev["recv_ts"] - ev["exch_ts"]
    assert lat[0] == 8_000_000 and (lat[5:8] == 0).all() and lat[8] == 0
    assert rep["book_ticker_check"]["updates_checked"] == 2 and rep["book_ticker_check"]["mismatches"] == 0
    assert rep["counts"] == {"depth": 8, "trade": 2, "clear": 1}
    # one message per snapshot, depth update and trade: the last row of each carries FLAG_MSG_END
    ends = [i for i, f in enumerate(ev["flags"].tolist()) if f & R.FLAG_MSG_END]
    assert ends == [4, 7, 8, 9, 10]
    assert rep["market"] == "usdm" and rep["trade_stream"] == "trade"


def test_the_buffered_update_that_covers_the_snapshot_starts_the_book(tmp_path):
    # The capture often holds the first usable update before the snapshot's line (REST is slower).
    p = capture(tmp_path, [
        depth(95, 99, 94, T0 - 2, b=[["61800.1", "1.000"]]),
        depth(100, 102, 99, T0 + 1, b=[["61800.1", "2.000"]]),   # U <= 100 <= u: the first applied
        BOOK,
        depth(103, 104, 102, T0 + 20, a=[["61800.5", "0.100"]]),
    ])
    ev, rep = events_of(p)
    assert ev["kind"][0] == R.CLEAR and ev["exch_ts"][0] == T0 * 1_000_000  # the snapshot's T
    assert rep["counts_messages"]["depth_dropped_before_snapshot"] == 1
    assert rep["counts_messages"]["depth_applied"] == 2


def test_book_ticker_disagreement_is_counted_and_named(tmp_path):
    p = capture(tmp_path, [BOOK, depth(100, 103, 99, T0 + 5, b=[["61800.2", "0.700"]]),
                           ticker(102, T0 + 5, "61800.2", "0.900", "61800.3", "0.500"),
                           ticker(104, T0 + 6, "61800.2", "0.700", "61800.3", "0.500")])
    _, rep = events_of(p)
    bt = rep["book_ticker_check"]
    assert bt["updates_checked"] == 1 and bt["mismatches"] == 1
    assert "cap.gz:2: after update u 103" in rep["book_ticker_mismatch_examples"][0]


# --------------------------------------------------------------------------------------------- faults
GAP = [BOOK, depth(100, 103, 99, T0 + 5, b=[["61800.2", "0.700"]]),
       depth(105, 108, 104, T0 + 9, b=[["61800.2", "0.600"]]),          # pu 104 != 103: a gap
       trade(T0 + 10, "61800.3", "0.010", False),
       depth(109, 110, 108, T0 + 11, b=[["61800.2", "0.500"]])]


def test_gap_is_an_error_naming_the_line(tmp_path):
    with pytest.raises(DataError, match=r"cap\.gz:3: diff depth gap: pu 104 is not the previous update's u 103"):
        events_of(capture(tmp_path, GAP))


def test_gap_repair_clears_and_resyncs_at_the_next_snapshot(tmp_path):
    later = snapshot(120, T0 + 30, [["61799.0", "1.000"]], [["61800.3", "0.250"]])
    p = capture(tmp_path, GAP + [depth(111, 119, 110, T0 + 29, b=[["61799.5", "1.000"]]),
                                 depth(119, 125, 119, T0 + 31, a=[["61800.9", "0.100"]]), later,
                                 depth(126, 127, 125, T0 + 40, a=[["61800.8", "0.100"]])])
    ev, rep = events_of(p, repair=True)
    assert rep["repairs"]["gaps_resynced"] == 1
    kinds = ev["kind"].tolist()
    # snapshot, first update, CLEAR at the gap, the trade, then the resync snapshot (CLEAR + levels) ...
    assert kinds.count(R.CLEAR) == 3
    clear_ts = ev["exch_ts"][ev["kind"] == R.CLEAR].tolist()
    assert clear_ts[1] == (T0 + 9) * 1_000_000 and clear_ts[2] == (T0 + 30) * 1_000_000
    assert rep["counts_messages"]["depth_dropped_stale"] == 2   # 109-110 and 111-119 (u < 120)
    assert rep["counts_messages"]["depth_applied"] == 3         # 100-103, 119-125 (covers 120), 126-127
    assert_store_sane(ev)


def test_gap_repair_without_a_later_snapshot_leaves_the_book_empty(tmp_path):
    ev, rep = events_of(capture(tmp_path, GAP), repair=True)
    assert rep["repairs"]["depth_dropped_awaiting_resync"] == 1
    assert ev["kind"][-1] == R.TRADE and ev["kind"][-2] == R.CLEAR


def test_first_update_must_cover_the_snapshot(tmp_path):
    p = capture(tmp_path, [BOOK, depth(101, 104, 99, T0 + 5, b=[["61800.2", "0.700"]])])
    with pytest.raises(DataError, match=r"cap\.gz:2: the first update after the snapshot \(U 101, u 104\) does "
                                        r"not cover its lastUpdateId 100"):
        events_of(p)


@pytest.mark.parametrize("bad, text", [
    ("not-a-number {}", "cap.gz:2: malformed line: the receive time is not an integer"),
    ("1723161255000000000 {\"stream\": ", "cap.gz:2: malformed line: Expecting value"),
    (json.dumps(depth(100, 103, 99, T0 + 5, b=[["61800.25", "1.0"]])),
     "cap.gz:2: tick '61800.25' is not on the tick grid (tick_size 0.1)"),
    (json.dumps(depth(100, 103, 99, T0 + 5, b=[["61800.2", "0.0005"]])),
     "cap.gz:2: lot '0.0005' is not on the lot grid"),
    (json.dumps(depth(100, 103, 99, T0 + 5, zz=1)), "cap.gz:2: unknown field(s) 'zz' in a depthUpdate message"),
    (json.dumps({"stream": "btcusdt@kline", "data": {"e": "kline", "s": "BTCUSDT", "E": T0}}),
     "cap.gz:2: unknown event type 'kline'"),
    (json.dumps({"id": 1, "result": None}), "cap.gz:2: neither a combined-stream message nor a REST depth snapshot"),
    # the first symbol of the capture is ETHUSDT (this spaced line: any JSON spacing is read), then BTCUSDT
    (json.dumps(trade(T0 + 5, "61800.3", "0.010", False, sym="ETHUSDT")), "cap.gz:3: symbol BTCUSDT after ETHUSDT"),
])
def test_bad_lines_name_file_and_line(tmp_path, bad, text):
    if bad.startswith("{"):
        bad = f"{(T0 + 5) * 1_000_000 + SKEW} {bad}"
    p = capture(tmp_path, [BOOK, bad, depth(100, 103, 99, T0 + 6)])
    with pytest.raises(DataError) as e:
        events_of(p)
    assert text in str(e.value)


def test_repair_drops_malformed_lines_and_ignores_unknown_fields(tmp_path):
    p = capture(tmp_path, [BOOK, "garbage", f"{T0 * 1_000_000} {{oops", depth(100, 103, 99, T0 + 5, zz=1),
                           json.dumps({"id": 1, "result": None}).join([f"{(T0 + 6) * 1_000_000} ", ""])])
    ev, rep = events_of(p, repair=True)
    assert rep["repairs"]["malformed_lines_dropped"] == 2
    assert rep["repairs"]["unknown_fields_ignored"] == 1
    assert rep["repairs"]["unknown_messages_dropped"] == 1


def test_crossed_update_is_an_error_or_repaired(tmp_path):
    p = capture(tmp_path, [BOOK, depth(100, 103, 99, T0 + 5, b=[["61800.5", "0.100"]])])  # bid above the ask
    with pytest.raises(DataError, match=r"cap\.gz:2: crossed book after this update: best bid 618005 >= best "
                                        r"ask 618003"):
        events_of(p)
    ev, rep = events_of(p, repair=True)
    assert rep["repairs"]["crossed_levels_removed"] == 1   # the stale ask 61800.3 goes
    assert (int(ev["price"][-1]), int(ev["qty"][-1]), int(ev["side"][-1])) == (618003, 0, -1)
    replay(ev, open_conversion("binance", [str(p)], **SIZES, repair=True).instrument)


def test_exchange_time_going_back_within_a_stream(tmp_path):
    p = capture(tmp_path, [BOOK, depth(100, 103, 99, T0 + 3), trade(T0 + 5, "61800.3", "0.010", False),
                           trade(T0 + 4, "61800.3", "0.010", False, tid=2)])
    with pytest.raises(DataError, match=r"cap\.gz:4: exchange time goes back in the trade stream"):
        events_of(p)
    _, rep = events_of(p, repair=True)
    assert rep["repairs"]["exch_ts_clamped"] == 1


def test_setup_errors(tmp_path):
    with pytest.raises(DataError, match="no REST depth snapshot"):
        events_of(capture(tmp_path, [depth(100, 103, 99, T0 + 5)]))
    with pytest.raises(ConfigError, match="needs --tick-size and --lot-size"):
        open_conversion("binance", [str(SLICE)])
    p = capture(tmp_path, [BOOK, trade(T0 + 5, "61800.3", "0.010", False, sym="ETHUSDT"),
                           depth(100, 103, 99, T0 + 6)])
    ev, rep = events_of(p, symbol="btcusdt")
    assert rep["counts_messages"]["other_symbol_skipped"] == 1 and R.TRADE not in ev["kind"]


# --------------------------------------------------------------------------------------------- real data
def test_slice_converts_byte_identically_and_replays(tmp_path):
    a = convert("binance", [SLICE], tmp_path / "a.mmstore", **SIZES)
    convert("binance", [SLICE], tmp_path / "b.mmstore", **SIZES)
    assert store_bytes(tmp_path / "a.mmstore") == store_bytes(tmp_path / "b.mmstore")
    rep = a["report"]
    assert a["mode"] == "l2" and a["instrument"]["symbol"] == "BTCUSDT"
    assert rep["counts_messages"]["snapshots"] == 1 and rep["book_ticker_check"]["mismatches"] == 0
    assert rep["book_ticker_check"]["updates_checked"] > 200
    assert -1.275e9 < rep["clock_skew"]["skew_ns"] < -1.265e9
    store = EventStore(tmp_path / "a.mmstore")
    ev = store.read()
    assert_store_sane(ev)
    assert ev["kind"][0] == R.CLEAR
    for feed in ("1ms", "data"):
        assert replay(ev, store.instrument, feed_latency=feed).summary["n_events"] == len(ev)


def test_full_sample_skew_latency_book_ticker_and_replay(tmp_path):
    path = shared("binance", "usdm_btcusdt_20240808.gz")
    meta = convert("binance", [path], tmp_path / "full.mmstore", **SIZES)
    rep = meta["report"]
    c = rep["counts_messages"]
    assert (c["depth_updates"], c["trades"], rep["book_ticker_check"]["book_tickers"], c["snapshots"]) == \
        (6551, 21313, 66089, 1)
    assert c["depth_applied"] + c["depth_dropped_before_snapshot"] == 6551
    assert rep["repairs"] == {k: 0 for k in rep["repairs"]}
    bt = rep["book_ticker_check"]
    assert bt["mismatches"] == 0 and bt["updates_checked"] >= 6500
    sk = rep["clock_skew"]
    assert -1.2725e9 < sk["skew_ns"] < -1.2700e9       # the capture clock was ~1.27 s behind
    assert sk["method"].startswith(f"skew = quantile {SKEW_QUANTILE}")
    lat = rep["latency_ns"]
    assert 0 <= lat["p1"] < lat["p50"] < lat["p99"] < 100_000_000
    assert c["recv_clamped"] < 0.001 * meta["n_rows"]
    store = EventStore(tmp_path / "full.mmstore")
    ev = store.read()
    assert_store_sane(ev)
    res = replay(ev, store.instrument, feed_latency="data")
    assert res.summary["n_events"] == len(ev) == meta["n_rows"]


# --------------------------------------------------------------------------------------------- any spacing, bad bytes
def test_any_valid_json_spacing_converts_to_the_same_store(tmp_path):
    """The capture re-written with json.dumps' default spacing (", ", ": ") is the same capture."""
    spaced = tmp_path / "spaced.gz"
    with gzip.open(SLICE, "rt", encoding="utf-8") as src, gzip.open(spaced, "wt", encoding="utf-8") as dst:
        for line in src:
            head, _, rest = line.rstrip("\n").partition(" ")
            dst.write(f"{head} {json.dumps(json.loads(rest))}\n")
    a = convert("binance", [SLICE], tmp_path / "a.mmstore", **SIZES)
    b = convert("binance", [spaced], tmp_path / "b.mmstore", **SIZES)
    assert a["n_rows"] == b["n_rows"] > 0
    assert np.array_equal(EventStore(tmp_path / "a.mmstore").read(), EventStore(tmp_path / "b.mmstore").read())


def test_binary_junk_is_one_line_naming_the_file(tmp_path, capsys):
    from mmsim.cli import main

    junk = tmp_path / "junk.txt"
    good = gzip.decompress(capture(tmp_path, [BOOK]).read_bytes())
    junk.write_bytes(good + b"\xff\xfe\x00binary\x89PNG\n")
    with pytest.raises(DataError, match=r"junk.txt:\d+: not UTF-8 text"):
        events_of(junk)
    assert main(["data", "convert", "--format", "binance", str(junk), "--tick-size", "0.1", "--lot-size", "0.001",
                 "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mmsim: error: junk.txt:") and "not UTF-8" in err[0]


# --------------------------------------------------------------------------------------------- spot
SPOT_SIZES = dict(tick_size=0.01, lot_size=0.00000001)


def test_spot_sample_converts_with_its_own_rules(tmp_path):
    """Spot: depth without T/pu (continuity U = previous u + 1), snapshots without E/T (the book starts at the
    first update applied on it), trades with M, bookTicker without e/E/T; the bookTicker check passes."""
    path = shared("binance", "spot_btcusdt_20240808.gz")
    meta = convert("binance", [path], tmp_path / "spot.mmstore", **SPOT_SIZES)
    rep = meta["report"]
    c = rep["counts_messages"]
    assert rep["market"] == "spot" and c["snapshots"] == 1
    assert (c["depth_updates"], c["trades"], rep["book_ticker_check"]["book_tickers"]) == (3451, 9757, 28040)
    assert c["depth_applied"] + c["depth_dropped_before_snapshot"] == 3451
    assert rep["book_ticker_check"]["mismatches"] == 0 and rep["book_ticker_check"]["updates_checked"] > 3400
    assert rep["repairs"] == {k: 0 for k in rep["repairs"]}
    ev = EventStore(tmp_path / "spot.mmstore").read()
    assert_store_sane(ev)
    # (replaying it is another matter: the spot book holds asks up to 200,000.00 and bids down to 15,460.80,
    # 18.5 M ticks of 0.01 apart, more than the engine's dense book spans; noted in docs/data.md)


def test_spot_gap_names_the_line_and_mixing_markets_is_refused(tmp_path):
    path = shared("binance", "spot_btcusdt_20240808.gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)[:3000]
    depth = [i for i, line in enumerate(lines) if "@depth@" in line]
    cut = tmp_path / "gap.gz"                      # drop one diff-depth update well after the snapshot
    cut.write_bytes(gzip.compress("".join(lines[:depth[-5]] + lines[depth[-5] + 1:]).encode()))
    with pytest.raises(DataError, match=r"gap\.gz:\d+: diff depth gap: pu \d+ is not the previous update's u"):
        events_of(cut, **SPOT_SIZES)
    mixed = tmp_path / "mixed.gz"                  # a futures depthUpdate (with pu) inside a spot capture
    fut = json.loads(lines[depth[-1]].split(" ", 1)[1])
    fut["data"].update(pu=fut["data"]["U"] - 1, T=fut["data"]["E"])
    lines2 = lines[:depth[-1]] + [lines[depth[-1]].split(" ", 1)[0] + " " + json.dumps(fut) + "\n"]
    mixed.write_bytes(gzip.compress("".join(lines2).encode()))
    with pytest.raises(DataError, match="a USD-M depthUpdate in a spot capture"):
        events_of(mixed, **SPOT_SIZES)


# --------------------------------------------------------------------------------------------- message ends
def message_spans(ev: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) row of each message: the rows up to and including each FLAG_MSG_END row."""
    ends = np.flatnonzero(ev["flags"] & R.FLAG_MSG_END)
    return list(zip(np.r_[0, ends[:-1] + 1].tolist(), ends.tolist()))


def assert_messages_atomic(ev: np.ndarray) -> list[tuple[int, int]]:
    """Every row belongs to a message ending in FLAG_MSG_END; a message's rows share both times; a CLEAR
    starts a message and a trade is a message of its own."""
    assert ev["flags"][-1] & R.FLAG_MSG_END
    spans = message_spans(ev)
    for a, b in spans:
        assert (ev["exch_ts"][a:b + 1] == ev["exch_ts"][b]).all() and (ev["recv_ts"][a:b + 1] == ev["recv_ts"][b]).all()
    starts = {a for a, _ in spans}
    assert set(np.flatnonzero(ev["kind"] == R.CLEAR).tolist()) <= starts
    trades = np.flatnonzero(ev["kind"] == R.TRADE)
    assert (ev["flags"][trades] & R.FLAG_MSG_END).all() and set(trades.tolist()) <= starts
    return spans


@pytest.mark.parametrize("name, sizes, n_messages", [
    # 1 snapshot + 6,547 applied depth updates + 21,309 trades
    ("usdm_btcusdt_20240808.gz", SIZES, 1 + 6547 + 21309),
    # 1 snapshot + 3,448 of the 3,449 applied updates (one only zeroes levels the book does not hold, so it
    # makes no row) + 9,756 trades
    ("spot_btcusdt_20240808.gz", dict(tick_size=0.01, lot_size=0.00000001), 1 + 3448 + 9756),
])
def test_real_captures_mark_the_end_of_every_message(name, sizes, n_messages):
    ev, rep = events_of(shared("binance", name), **sizes)
    spans = assert_messages_atomic(ev)
    assert len(spans) == n_messages
    c = rep["counts_messages"]
    depth_msgs = sum(1 for a, b in spans if ev["kind"][b] == R.DEPTH and ev["kind"][a] != R.CLEAR)
    assert depth_msgs <= c["depth_applied"] and rep["counts"]["trade"] + depth_msgs + 1 == len(spans)
    big = max(b - a + 1 for a, b in spans)
    assert big > 100   # the snapshot (CLEAR + its levels) and the largest updates are single messages


# --------------------------------------------------------------------------------------------- COIN-M
COINM = DATA / "binance" / "coinm_btcusd_perp_derived.gz"
COINM_SIZES = dict(tick_size=0.1, lot_size=1)


def test_coinm_capture_converts_strictly_as_an_inverse_contract(tmp_path):
    """COIN-M BTCUSD_PERP (ps, pu, aggTrade, snapshot with symbol/pair, contract quantities) without --repair."""
    meta = convert("binance", [COINM], tmp_path / "cm.mmstore", **COINM_SIZES)
    rep = meta["report"]
    c = rep["counts_messages"]
    assert rep["market"] == "coinm" and rep["trade_stream"] == "aggTrade"
    assert rep["repairs"] == {k: 0 for k in rep["repairs"]}
    assert (c["depth_updates"], c["trades"], c["snapshots"]) == (123, 236, 1)
    assert c["depth_applied"] + c["depth_dropped_before_snapshot"] == 123
    assert rep["book_ticker_check"]["mismatches"] == 0 and rep["book_ticker_check"]["updates_checked"] == 120
    assert meta["instrument"] == {"symbol": "BTCUSD_PERP", "tick_size": 0.1, "lot_size": 1.0,
                                  "contract_size": 100.0, "inverse": True}
    store = EventStore(tmp_path / "cm.mmstore")
    assert store.instrument == R.Instrument(0.1, 1.0, "BTCUSD_PERP", contract_size=100.0, inverse=True)
    ev = store.read()
    assert_store_sane(ev)
    assert len(assert_messages_atomic(ev)) == 1 + c["depth_applied"] + rep["counts"]["trade"]
    # quantities are whole contracts: the largest trade of the fixture is 1,549 contracts of 100 USD
    assert ev["qty"][ev["kind"] == R.TRADE].max() > 100


def test_coinm_end_to_end_replay_gives_coin_and_quote_figures(tmp_path):
    convert("binance", [COINM], tmp_path / "cm.mmstore", **COINM_SIZES)
    store = EventStore(tmp_path / "cm.mmstore")
    res = replay(store.read(), store.instrument, maker_fee_bps=-0.5, taker_fee_bps=5.0)
    s = res.summary
    assert s["inverse"] is True and s["contract_size"] == 100.0 and s["n_fills"] > 0
    # the same figures recomputed row by row from the fills log
    mid = s["final_mid"] * 0.1
    cash = fees = 0.0
    for side, price, qty, maker in zip(res.fills["side"], res.fills["price"], res.fills["qty"], res.fills["maker"]):
        coin = qty * 100.0 / (price * 0.1)
        cash += side * coin
        fees += (-0.5 if maker else 5.0) * 1e-4 * coin
    pnl = cash - s["position"] * 100.0 / mid - fees
    assert s["pnl_coin"] == pytest.approx(pnl, rel=1e-12, abs=1e-15)
    assert s["fees_coin"] == pytest.approx(fees, rel=1e-12, abs=1e-15)
    assert s["pnl_quote"] == pytest.approx(pnl * mid, rel=1e-12) and s["fees_quote"] == pytest.approx(fees * mid)


def test_contract_size_defaults_and_override(tmp_path):
    eth = tmp_path / "eth.gz"   # the fixture renamed to another COIN-M symbol: 10 USD contracts
    eth.write_bytes(gzip.compress(gzip.decompress(COINM.read_bytes()).replace(b"BTCUSD", b"ETHUSD")))
    assert open_conversion("binance", [str(eth)], **COINM_SIZES).instrument.contract_size == 10.0
    conv = open_conversion("binance", [str(COINM)], **COINM_SIZES, contract_size=50)
    assert conv.instrument.contract_size == 50.0 and conv.source["options"]["contract_size"] == 50.0
    with pytest.raises(ConfigError, match="--contract-size 100: the binance input is a linear instrument"):
        open_conversion("binance", [str(SLICE)], **SIZES, contract_size=100)


def coinm_depth(U, u, pu, t, b=(), a=(), **extra):
    m = depth(U, u, pu, t, b, a, **extra)
    m["stream"] = "btcusd_perp@depth@100ms"
    m["data"].update(s="BTCUSD_PERP", ps="BTCUSD")
    return m


COINM_BOOK = {"lastUpdateId": 100, "symbol": "BTCUSD_PERP", "pair": "BTCUSD", "E": T0 + 8, "T": T0,
              "bids": [["61800.2", "40"]], "asks": [["61800.3", "25"]]}


def agg(t, p, q, buyer_maker, aid=1):
    return {"stream": "btcusd_perp@aggTrade", "data": {"e": "aggTrade", "E": t, "a": aid, "s": "BTCUSD_PERP", "p": p,
                                                       "q": q, "f": 7, "l": 9, "T": t, "m": buyer_maker}}


def test_coinm_hand_made_messages(tmp_path):
    p = capture(tmp_path, [COINM_BOOK, coinm_depth(99, 101, 98, T0 + 5, b=[["61800.1", "3"]]),
                           agg(T0 + 6, "61800.3", "12", False), agg(T0 + 7, "61800.2", "4", True, aid=2)])
    ev, rep = events_of(p, **COINM_SIZES)
    assert [(int(k), int(sd), int(pr), int(q)) for k, sd, pr, q in zip(ev["kind"], ev["side"], ev["price"], ev["qty"])] \
        == [(R.CLEAR, 0, 0, 0), (R.DEPTH, 1, 618002, 40), (R.DEPTH, -1, 618003, 25), (R.DEPTH, 1, 618001, 3),
            (R.TRADE, 1, 618003, 12), (R.TRADE, -1, 618002, 4)]
    assert ev["flags"].tolist() == [0, 0, R.FLAG_MSG_END, R.FLAG_MSG_END, R.FLAG_MSG_END, R.FLAG_MSG_END]
    assert rep["counts_messages"]["trade_id_gaps"] == 0


@pytest.mark.parametrize("msgs, text", [
    # a USD-M depth update (no ps) in a COIN-M capture
    ([COINM_BOOK, coinm_depth(99, 101, 98, T0 + 5, b=[["61800.1", "3"]]),
      {**depth(102, 103, 101, T0 + 6), "data": {**depth(102, 103, 101, T0 + 6)["data"], "s": "BTCUSD_PERP"}}],
     "cap.gz:3: a USD-M depthUpdate in a COIN-M capture"),
    # a partial book depth stream looks like a diff (same event type) but holds the top levels
    ([COINM_BOOK, {**coinm_depth(99, 101, 98, T0 + 5), "stream": "btcusd_perp@depth5@100ms"}],
     "cap.gz:2: partial book depth stream 'btcusd_perp@depth5@100ms'"),
    # COIN-M publishes its trades as aggTrade; and trade + aggTrade streams would carry the same trades twice
    ([COINM_BOOK, coinm_depth(99, 101, 98, T0 + 5), agg(T0 + 6, "61800.3", "1", False),
      {"stream": "btcusd_perp@trade", "data": {**trade(T0 + 7, "61800.3", "1", False)["data"], "s": "BTCUSD_PERP"}}],
     "cap.gz:4: a trade message in a COIN-M capture"),
    ([BOOK, depth(100, 103, 99, T0 + 5), trade(T0 + 6, "61800.3", "0.010", False),
      {**agg(T0 + 7, "61800.3", "0.010", False), "data": {**agg(T0 + 7, "61800.3", "0.010", False)["data"],
                                                          "s": "BTCUSDT"}}],
     "cap.gz:4: an aggTrade message in a capture of trade messages"),
    # COIN-M snapshots name their symbol
    ([{**COINM_BOOK, "symbol": "BTCUSD_240927"}, coinm_depth(99, 101, 98, T0 + 5)],
     "cap.gz:1: snapshot of symbol BTCUSD_240927 in a capture of BTCUSD_PERP"),
    ([COINM_BOOK, coinm_depth(99, 101, 98, T0 + 5, zz=1)], "cap.gz:2: unknown field(s) 'zz' in a depthUpdate"),
])
def test_coinm_faults_name_the_line(tmp_path, msgs, text):
    sizes = COINM_SIZES if msgs[0] is not BOOK else SIZES
    with pytest.raises(DataError) as e:
        events_of(capture(tmp_path, msgs), **sizes)
    assert text in str(e.value)


def test_second_trade_stream_is_dropped_and_counted_with_repair(tmp_path):
    p = capture(tmp_path, [BOOK, depth(100, 103, 99, T0 + 5), trade(T0 + 6, "61800.3", "0.010", False),
                           {**agg(T0 + 7, "61800.3", "0.010", False),
                            "data": {**agg(T0 + 7, "61800.3", "0.010", False)["data"], "s": "BTCUSDT"}}])
    ev, rep = events_of(p, repair=True)
    assert rep["repairs"]["second_trade_stream_dropped"] == 1 and rep["counts"]["trade"] == 1
