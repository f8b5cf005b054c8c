"""Cont–Kukanov–Stoikov: level-1 OFI explains mid changes, on a hand example, synthetic data, and LOBSTER.

The book is read at exchange-message ends only (``FLAG_MSG_END``), so the LOBSTER AMZN files of 1 and 5
levels, whose level-1 states after every message are the same (docs/ofi.md), give identical figures.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmsim import records as R
from mmsim.data.messages import message_ends
from mmsim.signals.cks import cks_regressions, intervals, level1, level1_messages, order_flow

LOBSTER = Path(__file__).resolve().parents[2] / "shared" / "data" / "lobster"
SAMPLE = "LOBSTER_SampleFile_AMZN_2012-06-21_{}.zip"


def test_order_flow_matches_the_definition():
    book = pd.DataFrame({"bid": [100, 100, 101, 101, 100], "bid_qty": [5, 7, 2, 2, 9],
                         "ask": [102, 102, 102, 101, 101], "ask_qty": [4, 4, 6, 3, 3]})
    # row1: bid size +2 -> +2; row2: bid up to 101 (new 2) -> +2, ask same price size 4->6 -> -6+4 = -2, total 0
    # row3: ask down to 101 (new 3) -> -3; row4: bid down to 100 -> -2 (old size 2), ask same 3->3 -> 0
    assert order_flow(book).tolist() == [0.0, 2.0, 0.0, -3.0, -2.0]


def _rows(*rows):
    ev = np.zeros(len(rows), R.EVENT_DTYPE)
    for c, v in zip(("exch_ts", "kind", "side", "price", "qty", "order_id", "flags"), zip(*rows)):
        ev[c] = v
    ev["recv_ts"] = R.NO_TS
    return ev


def test_the_book_is_read_at_message_ends_only():
    E = R.FLAG_MSG_END
    ev = _rows((1, R.ADD, 1, 100, 5, 1, 0), (1, R.ADD, -1, 102, 4, 2, E),     # the opening book: one message
               # one message: a seller takes the whole best bid, and the row revealing the next bid level
               (2, R.EXECUTE, 1, 100, 5, 1, 0), (2, R.ADD, 1, 99, 3, 3, E),
               # two messages at one time: the ask grows, then shrinks
               (3, R.ADD, -1, 102, 2, 4, E), (3, R.DELETE, -1, 102, 4, 2, E))
    assert message_ends(ev).tolist() == [False, True, False, True, True, True]
    msgs = level1_messages(ev)
    assert msgs[["bid", "bid_qty", "ask", "ask_qty"]].values.tolist() == \
        [[100, 5, 102, 4], [99, 3, 102, 4], [99, 3, 102, 6], [99, 3, 102, 2]]
    # the bid moved down: e = -5 (the old best's size); the empty bid inside the message is never seen (read
    # after every row, its one-sided state would zero both contributions and lose the -5)
    assert msgs["e"].tolist() == [0.0, -5.0, -2.0, 4.0]
    assert msgs["ti"].tolist() == [0.0, -5.0, 0.0, 0.0]       # executed resting bid: seller-initiated
    # per row: the state after the last complete message (inside a message, the book before it)
    book = level1(ev)
    assert book[["bid", "bid_qty"]].values.tolist() == [[0, 0], [100, 5], [100, 5], [99, 3], [99, 3], [99, 3]]
    assert book["ask_qty"].tolist() == [0, 4, 4, 4, 6, 2]


def test_unmarked_data_falls_back_to_one_message_per_time_stamp():
    ev = _rows((1, R.ADD, 1, 100, 5, 1, 0), (1, R.ADD, -1, 102, 4, 2, 0), (2, R.EXECUTE, 1, 100, 5, 1, 0),
               (2, R.ADD, 1, 99, 3, 3, 0), (3, R.ADD, -1, 102, 2, 4, 0))
    assert message_ends(ev).tolist() == [False, True, False, True, True]
    assert level1_messages(ev)["e"].tolist() == [0.0, -5.0, -2.0]


def test_ofi_explains_mid_changes_in_the_synthetic_market():
    from mmsim.data.market import generate_market

    res = cks_regressions(generate_market("quiet", 400_000, seed=3).events, window_ns=300_000_000_000)
    assert len(res) >= 3 and res.r2_ofi.mean() > 0.3 and (res.beta_ofi > 0).all()


@pytest.fixture(scope="module")
def amzn():
    """The AMZN sample's events, converted from the 1-level and the 5-level file."""
    from mmsim.data.adapters import open_conversion

    paths = {n: LOBSTER / SAMPLE.format(n) for n in (1, 5)}
    if not all(p.exists() for p in paths.values()):
        pytest.skip("../shared/data not present: the LOBSTER samples are needed")
    return {n: np.concatenate(list(open_conversion("lobster", [p]).chunks)) for n, p in paths.items()}


def test_cks_on_lobster_amzn(amzn):
    res = cks_regressions(amzn[1])
    assert len(res) == 13 and (res.n >= 179).all()                 # 09:30-16:00 in 30-minute windows
    assert (res.beta_ofi > 0).all()
    assert round(res.r2_ofi.mean(), 3) == 0.527                     # measured (paper: 0.65)
    assert round(res.r2_ti.mean(), 3) == 0.355                      # trade imbalance alone (paper: 0.32)
    assert 0.22 < res.r2_ofi.min() < 0.23 and 0.65 < res.r2_ofi.max() < 0.66


def test_level1_and_level5_files_give_identical_ofi_series_and_figures(amzn):
    m1, m5 = level1_messages(amzn[1]), level1_messages(amzn[5])
    # the 5-level file has more messages (those at levels 2-5), but the same level-1 states in the same order
    # at the same times: dropping the messages that leave the top of book unchanged, the two are equal
    cols = ["ts", "bid", "bid_qty", "ask", "ask_qty"]

    def changes(m):
        v = m[cols].to_numpy()
        keep = np.append(True, (v[1:, 1:] != v[:-1, 1:]).any(axis=1))
        return m[keep].reset_index(drop=True)

    assert len(m5) > 2 * len(m1)
    pd.testing.assert_frame_equal(changes(m1)[cols], changes(m5)[cols])
    assert len(changes(m1)) == 55_071
    # no empty side after any message (the file has none); the old per-row reading showed 221 on _1
    assert ((m1.bid_qty > 0) & (m1.ask_qty > 0)).all() and ((m5.bid_qty > 0) & (m5.ask_qty > 0)).all()
    pd.testing.assert_frame_equal(intervals(amzn[1]), intervals(amzn[5]))
    pd.testing.assert_frame_equal(cks_regressions(amzn[1]), cks_regressions(amzn[5]))
