"""Start anywhere: a window [T, end) begins with the exact book a full replay holds at T (docs/data.md,
"Windows and start times"), on synthetic and real stores, and a run from T completes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from adapters_helpers import DATA, shared
from mmsim import DataError, Instrument, Quotes, records as R, simulate
from mmsim.data.adapters import convert
from mmsim.data.market import generate_market
from mmsim.data.seek import BookState, window_array
from mmsim.data.store import EventStore, write_store
from mmsim.data.synthetic import generate_l2


# --------------------------------------------------------------------------------------------- the oracle
def replay_book(rows: np.ndarray, mode: str):
    """The book after ``rows``, replayed one row at a time (plain dicts: an implementation independent of
    mmsim.data.seek). L3: [(order_id, side, price, qty)] in queue order; L2: {side: [(price, qty)] best first}."""
    if mode == "l3":
        book: dict[int, list] = {}  # insertion order = queue order (a re-added id goes to the back)
        for r in rows:
            k, oid = int(r["kind"]), int(r["order_id"])
            if k == R.ADD:
                assert oid not in book
                book[oid] = [int(r["side"]), int(r["price"]), int(r["qty"])]
            elif k in (R.CANCEL, R.EXECUTE, R.DELETE):
                o = book[oid]
                o[2] -= int(r["qty"])
                assert o[2] >= 0
                if o[2] == 0 or k == R.DELETE:
                    del book[oid]
        return [(oid, s, p, q) for oid, (s, p, q) in book.items()]
    levels: dict[int, dict[int, int]] = {R.BID: {}, R.ASK: {}}
    for r in rows:
        k, s = int(r["kind"]), int(r["side"])
        if k == R.CLEAR:
            for side in ((R.BID, R.ASK) if s == 0 else (s,)):
                levels[side].clear()
        elif k == R.DEPTH:
            if r["qty"] > 0:
                levels[s][int(r["price"])] = int(r["qty"])
            else:
                levels[s].pop(int(r["price"]), None)
    return {R.BID: sorted(levels[R.BID].items(), reverse=True), R.ASK: sorted(levels[R.ASK].items())}


def snapshot_book(snap: np.ndarray, mode: str):
    """The snapshot message read back in the oracle's terms (and its shape checked)."""
    if len(snap):
        assert (snap["exch_ts"] == snap["exch_ts"][0]).all() and (snap["recv_ts"] == snap["recv_ts"][0]).all()
        assert snap["flags"][-1] & R.FLAG_MSG_END and not (snap["flags"][:-1] & R.FLAG_MSG_END).any()
    if mode == "l3":
        assert (snap["kind"] == R.ADD).all()
        return [(int(r["order_id"]), int(r["side"]), int(r["price"]), int(r["qty"])) for r in snap]
    assert snap["kind"][0] == R.CLEAR and snap["side"][0] == 0 and (snap["kind"][1:] == R.DEPTH).all()
    body = snap[1:]
    out = {s: [(int(r["price"]), int(r["qty"])) for r in body[body["side"] == s]] for s in (R.BID, R.ASK)}
    return out


def check_window(ev: np.ndarray, view_rows: np.ndarray, t: int, mode: str) -> None:
    """``view_rows`` (a window from t) = the snapshot of the book at t, then exactly the rows from t on."""
    lo = int(np.searchsorted(ev["exch_ts"], t, "left"))
    body = ev[lo:]
    n_snap = len(view_rows) - len(body)
    np.testing.assert_array_equal(view_rows[n_snap:], body)
    snap = view_rows[:n_snap]
    if lo == 0:
        assert n_snap == 0
        return
    assert snapshot_book(snap, mode) == replay_book(ev[:lo], mode)
    if len(snap):
        assert (snap["exch_ts"] == t).all()
        recv = ev["recv_ts"][:lo]
        has = recv != R.NO_TS
        assert snap["recv_ts"][0] == (max(int(recv[has].max()), t) if has.any() else R.NO_TS)


# --------------------------------------------------------------------------------------------- synthetic
@pytest.fixture(scope="module")
def l3_store(tmp_path_factory):
    ev = generate_market("quiet", 60_000, 3).events
    path = tmp_path_factory.mktemp("seek") / "l3.mmstore"
    write_store(path, [ev], Instrument(0.01, 1), row_group=7_000)
    return ev, EventStore(path)


@pytest.fixture(scope="module")
def l2_store(tmp_path_factory):
    ev = generate_l2(60_000, seed=4)
    path = tmp_path_factory.mktemp("seek") / "l2.mmstore"
    write_store(path, [ev], Instrument(0.01, 1), row_group=7_000)
    return ev, EventStore(path)


@settings(max_examples=25, deadline=None)
@given(frac=st.floats(0.0, 0.999))
def test_l3_window_starts_with_the_exact_book_at_any_time(l3_store, frac):
    ev, store = l3_store
    t = int(ev["exch_ts"][0] + frac * (ev["exch_ts"][-1] - ev["exch_ts"][0]))
    check_window(ev, store.window(t).read(), t, "l3")
    arr, rep = window_array(ev, t, None)
    np.testing.assert_array_equal(arr, store.window(t).read())  # in-memory and streamed seek agree


@settings(max_examples=25, deadline=None)
@given(frac=st.floats(0.0, 0.999))
def test_l2_window_starts_with_the_exact_book_at_any_time(l2_store, frac):
    ev, store = l2_store
    t = int(ev["exch_ts"][0] + frac * (ev["exch_ts"][-1] - ev["exch_ts"][0]))
    check_window(ev, store.window(t).read(), t, "l2")


def test_fold_does_not_depend_on_chunking(l3_store, l2_store):
    for ev, mode in ((l3_store[0], "l3"), (l2_store[0], "l2")):
        one, many = BookState(mode), BookState(mode)
        one.fold(ev[:45_000])
        for a in range(0, 45_000, 3_001):
            many.fold(ev[a:min(a + 3_001, 45_000)])
        np.testing.assert_array_equal(one.snapshot(10**15), many.snapshot(10**15))


def test_an_id_added_again_after_it_left_rests_once_at_the_back():
    rows = np.zeros(5, R.EVENT_DTYPE)
    rows["exch_ts"] = [1, 2, 3, 4, 5]
    rows["side"] = R.BID
    rows["price"] = [100, 100, 100, 101, 100]
    rows["qty"] = [5, 3, 5, 2, 4]
    rows["order_id"] = [7, 8, 7, 9, 7]
    rows["kind"] = [R.ADD, R.ADD, R.DELETE, R.ADD, R.ADD]
    state = BookState("l3")
    state.fold(rows)
    snap = state.snapshot(10)
    assert snapshot_book(snap, "l3") == replay_book(rows, "l3") == [(8, 1, 100, 3), (9, 1, 101, 2), (7, 1, 100, 4)]
    bad = rows.copy()
    bad["kind"][2] = R.CANCEL
    bad["qty"][2] = 1
    with pytest.raises(DataError, match="row 4: order id 7 is already in the book"):
        BookState("l3").fold(bad)
    orphan = rows[2:3].copy()
    with pytest.raises(DataError, match="x.mmstore: row 0: delete of unknown order id 7"):
        BookState("l3", "x.mmstore").fold(orphan)
    moved = rows.copy()
    moved["price"][2] = 99
    with pytest.raises(DataError, match="row 2: order id 7 rests on side 1 at 100, not side 1 at 99"):
        BookState("l3").fold(moved)
    over = rows.copy()
    over["kind"][2], over["qty"][2] = R.EXECUTE, 6
    with pytest.raises(DataError, match="row 2: removes 6 lots from order id 7 which has 5"):
        BookState("l3").fold(over)


def test_windows_and_row_limits_never_split_a_message(l2_store):
    """generate_l2 sweeps several levels in one message (rows sharing exch_ts): a window's snapshot is one whole
    message, a cut at a time falls between messages, and a row limit stops at the last whole message."""
    from mmsim.data.messages import message_ends

    ev, store = l2_store
    ends = message_ends(ev)
    multi = np.flatnonzero(~ends[:-1])               # rows whose message goes on to the next row
    assert len(multi) > 100
    m = int(multi[len(multi) // 2])                  # row m's message goes on past it
    t = int(ev["exch_ts"][m])                        # a cut at the time of a message
    view = store.window(t)
    rows = view.read()
    n = view.seek["snapshot_rows"]
    assert list(message_ends(rows[:n], last_is_end=False)).count(True) == 1 and rows["flags"][n - 1] & R.FLAG_MSG_END
    lo = view.seek["start_row"]
    assert ev["exch_ts"][lo - 1] < t <= ev["exch_ts"][lo] and ends[lo - 1]
    assert lo == int(np.searchsorted(ev["exch_ts"], t)) and lo <= m
    t2 = int(ev["exch_ts"][m - 50])
    view2 = store.window(t2)
    lo2, n2 = view2.seek["start_row"], view2.seek["snapshot_rows"]
    cut = m + 1 - lo2 + n2                           # a limit that would end inside row m's message
    k = len(store.window(t2, limit=cut).read())
    assert n2 < k < cut and ends[lo2 + k - n2 - 1]  # stopped at the last whole message before it


class StartAt:
    """Quotes around the strategy-side mid from ``start`` on; nothing before (own orders change nothing)."""

    def __init__(self, start: int):
        self.start = int(start)

    def on_wakeup(self, ctx):
        if ctx.now < self.start:
            return None
        if ctx.bid_qty == 0 or ctx.ask_qty == 0:
            return Quotes(0, 0, 0, 0)
        return Quotes(ctx.best_bid, 1, ctx.best_ask, 1)


@pytest.mark.parametrize("which", ["l3", "l2"])
def test_a_strategy_started_at_t_fills_the_same_in_the_window_as_in_the_full_replay(l3_store, l2_store, which):
    ev, store = l3_store if which == "l3" else l2_store
    lat = 1_000_000
    t = int(ev["exch_ts"][30_000])   # a row's time: the full replay wakes at t + lat too
    kw = dict(feed_latency=lat, entry_latency="300us", cancel_latency="300us", response_latency="300us",
              wake_on_feed=True, timer_interval_ns=0, seed=1)
    full = simulate(ev, Instrument(0.01, 1), StartAt(t + lat), **kw)
    win = simulate(store.window(t), None, StartAt(t + lat), **kw)
    cols = ["exch_ts", "price", "qty", "side", "cause", "position", "maker"]
    assert len(full.fills) > 20
    pd.testing.assert_frame_equal(full.fills[cols].reset_index(drop=True), win.fills[cols].reset_index(drop=True))
    assert full.summary["pnl"] == win.summary["pnl"]


# --------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    out = {}
    convert("lobster", [DATA / "lobster" / "AMZN_2012-06-21_5_lines61001-64000.zip"], d / "amzn.mmstore")
    out["lobster"] = EventStore(d / "amzn.mmstore")
    convert("binance", [DATA / "binance" / "usdm_btcusdt_20240808_lines1-3000.gz"], d / "btc.mmstore",
            tick_size=0.1, lot_size=0.001)
    out["binance"] = EventStore(d / "btc.mmstore")
    return out


@pytest.mark.parametrize("name", ["lobster", "binance"])
@pytest.mark.parametrize("frac", [0.1, 0.5, 0.93])
def test_real_store_windows_start_with_the_exact_book(real_stores, name, frac):
    store = real_stores[name]
    ev = store.read()
    t = int(ev["exch_ts"][0] + frac * (ev["exch_ts"][-1] - ev["exch_ts"][0]))
    view = store.window(t)
    check_window(ev, view.read(), t, store.meta["mode"])
    assert view.seek["rows_replayed"] > 0 and view.seek["snapshot_rows"] > 0


@pytest.mark.parametrize("sample", ["LOBSTER_SampleFile_AMZN_2012-06-21_5.zip", "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"])
def test_lobster_afternoon_runs_from_noon(tmp_path, sample):
    """Today's failure (`row 5: unknown order id`): a run on [12:00, close) of the full LOBSTER day."""
    from mmsim.data.times import parse_time, session_of_meta

    convert("lobster", [shared("lobster", sample)], tmp_path / "d.mmstore")
    store = EventStore(tmp_path / "d.mmstore")
    t = parse_time("12:00", "from", session_of_meta(store.meta))
    view = store.window(t)
    ev = store.read()
    check_window(ev, view.read(), t, "l3")
    res = simulate(view, None, "symmetric:half_spread=1,size=10", feed_latency="1ms", entry_latency="1ms",
                   cancel_latency="1ms", response_latency="1ms", timer_interval_ns=100_000_000, wake_on_feed=False)
    assert res.summary["n_events"] == view.n_rows and res.summary["n_fills"] > 0


def test_binance_full_capture_windows(tmp_path):
    convert("binance", [shared("binance", "usdm_btcusdt_20240808.gz")], tmp_path / "b.mmstore",
            tick_size=0.1, lot_size=0.001)
    store = EventStore(tmp_path / "b.mmstore")
    ev = store.read()
    for frac in (0.3, 0.8):
        t = int(ev["exch_ts"][0] + frac * (ev["exch_ts"][-1] - ev["exch_ts"][0]))
        check_window(ev, store.window(t).read(), t, "l2")
