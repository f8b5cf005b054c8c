"""Read-only signal venues in the C++ engine (issue 12 stage 1), through direct ``_core.Engine(..., signals=...)``
calls: signal rows reach only the strategy side, the same-instant merge order, message atomicity per venue,
the signal_data log, the three strategy speeds' views of a venue, errors naming the venue."""
import numpy as np
import pytest

from helpers import events
from mmsim import ConfigError, DataError, StrategyError, _core, records as R
from mmsim.data.messages import message_starts
from mmsim.data.synthetic import generate_l2
from mmsim.engine.numba_strategy import (CI_BEST_ASK, CI_BEST_BID, CI_BID_QTY, CI_ASK_QTY, CI_N_FEATURES,
                                         CI_N_VENUES, CV_BEST_ASK, CV_BEST_BID, CV_DATA_ROWS, CV_N_FEATURES,
                                         cfunc_strategy, symmetric_numba, venue_block, venue_features_start)
from mmsim.engine.strategy import Quotes, SymmetricQuoter
from mmsim.signals.batch import spec_matrix

TIMER = 20_000_000


def arrivals(ev, seed, median_ns=1_000_000):
    """One random feed latency per message (all its rows arrive together), never reordered."""
    starts = message_starts(ev)
    msg = np.cumsum(starts) - 1
    lat = np.random.default_rng(seed).lognormal(np.log(median_ns), 0.7, int(starts.sum())).astype(np.int64)
    return np.maximum.accumulate(ev["exch_ts"] + lat[msg])


def latencies(seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.integers(100_000, 2_000_000, 64).astype(np.int64) for k in ("entry", "cancel", "response")} | {
        "compute": np.full(1, 20_000, np.int64)}


def config(**kw):
    c = {"tick_size": 0.01, "lot_size": 1.0, "timer_interval_ns": TIMER, "wake_on_feed": False, "name": "spot"}
    c.update(kw)
    return c


def signal_cfg(name="perp", **kw):
    c = {"name": name, "mode": "l2", "tick_size": 0.5, "lot_size": 0.001, "crossed_policy": "error"}
    c.update(kw)
    return c


@pytest.fixture(scope="module")
def quoted():
    ev = generate_l2(30_000, seed=11)
    return ev, arrivals(ev, 1)


@pytest.fixture(scope="module")
def perp():
    ev = generate_l2(40_000, seed=12)
    return ev, arrivals(ev, 2, median_ns=300_000)


def run(quoted, strategy, signals=(), cfg=None, **kw):
    ev, arr = quoted
    c = config(**kw) if cfg is None else cfg
    if signals:
        c["signals"] = [s[2] for s in signals]
    eng = _core.Engine(ev, arr, latencies(), c, strategy, True, [(s[0], s[1]) for s in signals] or None)
    assert eng.step(1 << 40)
    return eng


def outputs(eng):
    return eng.fills().tobytes(), eng.orders().tobytes(), eng.decisions().tobytes()


def test_a_signal_venue_the_strategy_ignores_changes_nothing(quoted, perp):
    """Fills, orders and decisions byte-identical with and without a signal venue (timer wakeups only)."""
    alone = run(quoted, _core.SymmetricQuoter(2, 1))
    with_perp = run(quoted, _core.SymmetricQuoter(2, 1), [(*perp, signal_cfg())])
    assert len(alone.fills()) > 20
    assert outputs(alone) == outputs(with_perp)
    assert alone.signal_data().dtype == R.SIGNAL_DATA_DTYPE and len(alone.signal_data()) == 0
    assert "signal_rows" not in alone.summary()
    s = with_perp.summary()
    assert {k: v for k, v in s.items() if k != "signal_rows"} == alone.summary()
    sd = with_perp.signal_data()
    assert len(sd) == len(with_perp.decisions())
    assert (sd["venue"] == 1).all() and (sd["decision_id"] == np.arange(len(sd))).all()
    # the run ends at the quoted venue's last arrival: perp rows after it are never delivered
    t_end = quoted[1][-1]
    assert s["signal_rows"] == [int(np.searchsorted(perp[1], t_end, side="right"))]
