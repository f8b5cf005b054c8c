"""The dense book's range (cpp/src/book.cpp): a side may hold resting prices up to 2^25 ticks apart, however the
prices arrive (growth is capped at the limit rather than refused when doubling would pass it), and a range beyond
it is one DataError naming the row. Spot BTCUSDT (0.01 ticks) holds asks from 15,460.80 to 200,000.00."""
import pytest

from mmsim import records as R
from mmsim.engine.sim import simulate
from mmsim.errors import DataError

from helpers import events

LIMIT = 1 << 25
BASE = 5_000_000


def book(far):
    rows = [(1, R.DEPTH, R.BID, BASE - 1, 5), (1, R.DEPTH, R.ASK, BASE + 1, 5)]
    t = 2
    for p in far:  # far asks, one message each; then the touch trades as usual
        rows.append((t, R.DEPTH, R.ASK, p, 1))
        t += 1
    rows += [(t, R.TRADE, R.ASK, BASE + 1, 1), (t + 1, R.DEPTH, R.ASK, BASE + 2, 3)]
    return events(rows)


def test_a_range_that_doubling_would_overshoot_is_accepted_and_both_engines_agree():
    # the first far ask makes the side ~17 M ticks wide: doubling it would pass 2^25, the range itself does not
    ev = book([BASE + 17_000_000, BASE + 17_000_000 - 359, BASE + 30_000_000])
    a = simulate(ev, strategy="symmetric:half_spread=1")
    b = simulate(ev, strategy="symmetric:half_spread=1", engine="reference")
    assert a.summary["n_events"] == len(ev) and a.decisions.equals(b.decisions) and a.fills.equals(b.fills)


def test_a_range_beyond_the_limit_is_one_line_naming_the_row():
    ev = book([BASE + LIMIT + 10])
    with pytest.raises(DataError, match=r"row 2: price \d+ ticks is too far from the book"):
        simulate(ev, strategy="symmetric:half_spread=1")
