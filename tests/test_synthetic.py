"""The synthetic L2 generator: exact size, determinism, a valid never-crossed book, informed trades."""
from __future__ import annotations

import time

import numpy as np
import pytest

from mmsim import records as R
from mmsim.data.synthetic import generate_l2

N = 50_000


@pytest.fixture(scope="module")
def rows():
    return generate_l2(N, seed=7)


def _replay(ev):
    """Replay with plain dicts. Returns (mid after each row, best bid/ask at each group end, checks)."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    n = len(ev)
    mid = np.full(n, np.nan)
    kind, side, price, qty, ts = (ev[k].tolist() for k in ("kind", "side", "price", "qty", "exch_ts"))
    crossed_rows = []
    group_end_crossed = []
    trade_errors = []
    for i in range(n):
        k, s, p, q = kind[i], side[i], price[i], qty[i]
        if k == R.DEPTH:
            book = bids if s == R.BID else asks
            if q == 0:
                book.pop(p, None)
            else:
                book[p] = q
        elif k == R.TRADE:
            # a trade prints at the best of the passive side, for no more than that level holds ...
            passive = asks if s == 1 else bids
            best = (min(asks) if asks else None) if s == 1 else (max(bids) if bids else None)
            if p != best or q > passive.get(p, 0):
                trade_errors.append((i, "not at best or larger than level"))
            # ... and the next row, in the same message, is the DEPTH update of that level
            if i + 1 >= n:
                trade_errors.append((i, "trade is the last row"))
            else:
                expect_side = R.ASK if s == 1 else R.BID
                if not (kind[i + 1] == R.DEPTH and side[i + 1] == expect_side and price[i + 1] == p
                        and ts[i + 1] == ts[i] and qty[i + 1] == passive.get(p, 0) - q):
                    trade_errors.append((i, "not followed by the consuming depth update"))
        bb = max(bids) if bids else None
        ba = min(asks) if asks else None
        if bb is not None and ba is not None:
            mid[i] = 0.5 * (bb + ba)
            if bb >= ba:
                crossed_rows.append(i)
                if i == n - 1 or ts[i + 1] != ts[i]:
                    group_end_crossed.append(i)
    return mid, crossed_rows, group_end_crossed, trade_errors, bids, asks


def test_dtype_size_and_constant_fields(rows):
    assert rows.dtype == R.EVENT_DTYPE
    assert len(rows) == N
    assert (rows["recv_ts"] == R.NO_TS).all()
    assert (rows["order_id"] == 0).all()
    assert set(np.unique(rows["flags"]).tolist()) == {0, R.FLAG_MSG_END}
    assert (rows["_pad"] == 0).all()


def test_every_step_is_one_message(rows):
    """Each step (one batch at one timestamp) ends with FLAG_MSG_END; steps that share a timestamp stay
    separate messages, and the last row always ends one."""
    ends = (rows["flags"] & R.FLAG_MSG_END) != 0
    ts = rows["exch_ts"]
    assert ends[-1]
    assert ends[:-1][ts[1:] != ts[:-1]].all()  # a new timestamp always starts a new message
    same_ts_ends = ends[:-1] & (ts[1:] == ts[:-1])
    assert same_ts_ends.any()  # p_same_ts > 0: two messages at one timestamp exist and are kept apart
    # No message ends right after a TRADE: a trade's message carries the DEPTH rows it consumed.
    assert not (ends & (rows["kind"] == R.TRADE)).any()
    assert set(np.unique(rows["kind"]).tolist()) == {R.DEPTH, R.TRADE}
    assert set(np.unique(rows["side"]).tolist()) == {-1, 1}


@pytest.mark.parametrize("n", [0, 1, 9, 10, 11, 17, 1234])
def test_exact_row_count(n):
    ev = generate_l2(n, seed=3)
    assert len(ev) == n and ev.dtype == R.EVENT_DTYPE


def test_deterministic_for_a_seed(rows):
    again = generate_l2(N, seed=7)
    assert again.tobytes() == rows.tobytes()
    other = generate_l2(N, seed=8)
    assert other.tobytes() != rows.tobytes()
    # a shorter run with the same seed is a prefix (one stream, consumed in order) except for the tail,
    # where the generator finishes on single-row messages
    short = generate_l2(N // 2, seed=7)
    head = N // 2 - 20
    assert short[:head].tobytes() == rows[:head].tobytes()


def test_timestamps(rows):
    ts = rows["exch_ts"]
    assert ts.dtype == np.int64
    assert ts[0] == 34_200_000_000_000
    d = np.diff(ts)
    assert (d >= 0).all()
    assert (d == 0).mean() > 0.2          # message batches share a timestamp
    assert (d > 0).sum() > N // 3         # but time does move
    mean_gap = d[d > 0].mean()
    assert 0.5e6 < mean_gap < 2e6         # ~ mean_gap_ns = 1 ms
    ev = generate_l2(1000, seed=1, start_ts=5, mean_gap_ns=10)
    assert ev["exch_ts"][0] == 5 and (np.diff(ev["exch_ts"]) >= 0).all()


def test_quantity_and_price_rules(rows):
    depth = rows["kind"] == R.DEPTH
    trade = rows["kind"] == R.TRADE
    assert (rows["qty"][depth] >= 0).all()
    assert (rows["qty"][trade] > 0).all()
    assert (rows["price"] > 0).all()
    assert trade.mean() > 0.05 and (rows["qty"][depth] == 0).any()


def test_book_never_crossed_and_trades_consistent(rows):
    mid, crossed_rows, group_end_crossed, trade_errors, bids, asks = _replay(rows)
    assert group_end_crossed == []
    assert crossed_rows == []             # stronger: not even inside a message batch
    assert trade_errors == []
    # the book keeps n_levels contiguous levels per side
    assert len(bids) == 5 and len(asks) == 5
    assert max(bids) - min(bids) == 4 and max(asks) - min(asks) == 4
    assert not np.isnan(mid[10:]).any()


def test_never_crossed_with_other_parameters():
    ev = generate_l2(20_000, seed=11, n_levels=2, max_spread=1, jump_prob=0.01, jump_ticks=6.0,
                     sigma=0.2, base_price=30)
    assert (ev["price"] > 0).all()
    _, crossed_rows, _, trade_errors, _, _ = _replay(ev)
    assert crossed_rows == [] and trade_errors == []


def test_trade_sign_predicts_next_mid_move(rows):
    mid, *_ = _replay(rows)
    ts = rows["exch_ts"]
    tr = np.flatnonzero(rows["kind"] == R.TRADE)
    sign = rows["side"][tr].astype(float)
    end = np.searchsorted(ts, ts[tr], side="right") - 1   # last row of the trade's message
    later = np.minimum(end + 50, len(rows) - 1)
    move = mid[later] - mid[end]                           # after the trade's own message
    ok = ~np.isnan(move)
    corr = np.corrcoef(sign[ok], move[ok])[0, 1]
    assert 0.02 < corr < 0.5, corr
    # and the uninformed market has no such edge
    flat = generate_l2(N, seed=7, informed=0.0, impact=0.0)
    mid0, *_ = _replay(flat)
    tr0 = np.flatnonzero(flat["kind"] == R.TRADE)
    end0 = np.searchsorted(flat["exch_ts"], flat["exch_ts"][tr0], side="right") - 1
    move0 = mid0[np.minimum(end0 + 50, N - 1)] - mid0[end0]
    corr0 = np.corrcoef(flat["side"][tr0].astype(float), move0)[0, 1]
    assert corr0 < corr


def test_bad_arguments():
    with pytest.raises(ValueError):
        generate_l2(-1)
    with pytest.raises(ValueError):
        generate_l2(10, n_levels=0)
    with pytest.raises(ValueError):
        generate_l2(10, base_price=5)


def test_fast():
    generate_l2(1000, seed=0)  # compiled (or loaded from numba's cache)
    t0 = time.perf_counter()
    generate_l2(1_000_000, seed=0)
    assert time.perf_counter() - t0 < 2.0  # ~0.06 s on the dev machine; generous for loaded CI
