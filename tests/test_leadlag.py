"""mmsim.analysis.leadlag and `mmsim leadlag` on L2 data built with a known lag."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmsim import records as R
from mmsim.analysis.leadlag import BOOK_WINDOW, format_lead_lag, lead_lag, price_series
from mmsim.cli import main
from mmsim.data.store import write_store
from mmsim.errors import ConfigError, DataError
from mmsim.records import Instrument

from helpers import events

T0 = 1_700_000_000_000_000_000


def l2_walk(times_ns, mids, *, shift_ns=0, trades=False, far=False):
    """An L2 book whose best bid/ask are mid ∓ 1 at each time (+ shift): a snapshot, then per move one message
    (the new inner levels, then the old ones removed); trades at the new bid when ``trades``."""
    rows = [(T0, R.CLEAR, 0, 0, 0)]
    b, a = mids[0] - 1, mids[0] + 1
    rows += [(T0, R.DEPTH, 1, b, 5), (T0, R.DEPTH, -1, a, 5)]
    if far:
        rows += [(T0, R.DEPTH, -1, mids[0] + 4 * BOOK_WINDOW, 1)]   # a far level outside the window
    msg_ends = [len(rows) - 1]
    for t, m in zip(times_ns, mids):
        t = int(t) + shift_ns
        nb, na = m - 1, m + 1
        if (nb, na) == (b, a):
            continue
        if nb < b:   # down: new bid, then remove the old asks above the new ask, add the new ask
            rows += [(t, R.DEPTH, 1, nb, 5), (t, R.DEPTH, 1, b, 0), (t, R.DEPTH, -1, na, 5), (t, R.DEPTH, -1, a, 0)]
        else:
            rows += [(t, R.DEPTH, -1, na, 5), (t, R.DEPTH, -1, a, 0), (t, R.DEPTH, 1, nb, 5), (t, R.DEPTH, 1, b, 0)]
        if trades:
            rows += [(t, R.TRADE, -1, nb, 1)]
        b, a = nb, na
        msg_ends.append(len(rows) - 1)
    ev = events(rows)
    ev["flags"][msg_ends] |= R.FLAG_MSG_END
    ev["recv_ts"] = ev["exch_ts"] + 1_000_000
    return ev


def walk(seed, n=3000, span_s=120.0):
    rng = np.random.default_rng(seed)
    times = T0 + np.sort(rng.choice(int(span_s * 1e3), n, replace=False)).astype(np.int64) * 1_000_000 + 10**9
    mids = 10_000 + np.cumsum(rng.choice([-1, 1], n))
    return times, mids


@pytest.fixture(scope="module")
def pair():
    times, mids = walk(1)
    return l2_walk(times, mids), l2_walk(times, mids, shift_ns=37_000_000)


def test_price_series_mid_and_trade():
    times, mids = walk(2, n=50, span_s=10)
    ev = l2_walk(times, mids, trades=True, far=True)
    t, p = price_series(ev, "mid")
    assert t[0] == T0 and p[0] == mids[0]
    # every step of the walk moves the mid (±1); the first one is the snapshot's: one change per message,
    # the mid after the whole message (never a half-applied book), the far level ignored
    np.testing.assert_array_equal(p, mids)
    np.testing.assert_array_equal(t[1:], times[1:])
    tt, pt = price_series(ev, "trade")
    assert len(tt) >= 2 and (np.diff(pt) != 0).all()
    tr, _ = price_series(ev, "mid", clock="recv")
    np.testing.assert_array_equal(tr, t + 1_000_000)


def test_mid_follows_the_book_exactly():
    """Hand-made: bid 99/ask 101 -> ask 100 (mid 99.5) -> bid removed (no mid) -> bid 98 (mid 99)."""
    ev = events([(T0, R.DEPTH, 1, 99, 5), (T0, R.DEPTH, -1, 101, 5),
                 (T0 + 1, R.DEPTH, -1, 100, 2),
                 (T0 + 2, R.DEPTH, 1, 99, 0),
                 (T0 + 3, R.DEPTH, 1, 98, 1), (T0 + 3, R.TRADE, 1, 100, 1)])
    t, p = price_series(ev, "mid")
    np.testing.assert_array_equal(t, [T0, T0 + 1, T0 + 3])
    np.testing.assert_array_equal(p, [100.0, 99.5, 99.0])


def test_recovers_a_known_shift(pair):
    lead, lagging = pair
    res = lead_lag(lead, lagging, grid_ns=1_000_000, max_lag_ns=200_000_000, n_boot=200)
    assert res.lag_s == pytest.approx(0.037)
    assert res.lag_lo_s == pytest.approx(0.037) and res.lag_hi_s == pytest.approx(0.037)
    assert res.peak_corr > 0.99
    assert res.hy_lag_s == pytest.approx(0.037, abs=0.001)
    back = lead_lag(lagging, lead, grid_ns=1_000_000, max_lag_ns=200_000_000, n_boot=50)
    assert back.lag_s == pytest.approx(-0.037)
    text = format_lead_lag(res)
    assert "lag +37 ms" in text and "← peak" in text


def test_unrelated_walks_have_no_lag_and_a_wide_interval():
    t1, m1 = walk(3)
    t2, m2 = walk(4)
    res = lead_lag(l2_walk(t1, m1), l2_walk(t2, m2), grid_ns=1_000_000, max_lag_ns=200_000_000, n_boot=200)
    assert res.peak_corr < 0.1
    assert res.lag_hi_s - res.lag_lo_s > 0.05


def test_deterministic(pair):
    a = lead_lag(*pair, max_lag_ns=100_000_000, n_boot=100, seed=3)
    b = lead_lag(*pair, max_lag_ns=100_000_000, n_boot=100, seed=3)
    assert a.summary() == b.summary() and a.corr.tobytes() == b.corr.tobytes()


def test_errors(pair):
    lead, lagging = pair
    later = lagging.copy()
    later["exch_ts"] += 10**12
    with pytest.raises(DataError, match="do not overlap in time"):
        lead_lag(lead, later)
    with pytest.raises(DataError, match="shorter than 4 x max-lag"):
        lead_lag(lead, lagging, max_lag_ns=60 * 10**9)
    with pytest.raises(ConfigError, match="max-lag"):
        lead_lag(lead, lagging, grid_ns=10**9, max_lag_ns=10**6)
    with pytest.raises(ConfigError, match="price"):
        lead_lag(lead, lagging, price="vwap")
    no_trades = lead
    with pytest.raises(DataError, match="fewer than 2 trade prices"):
        lead_lag(no_trades, lagging, price="trade")
    synthetic = lead.copy()
    synthetic["recv_ts"] = R.NO_TS
    with pytest.raises(DataError, match="recv_ts"):
        lead_lag(synthetic, lagging, clock="recv")


def _store(path, ev):
    write_store(path, [ev], Instrument(tick_size=0.01, lot_size=1.0, symbol="X"))
    return str(path)


def test_cli(pair, tmp_path, capsys):
    a = _store(tmp_path / "a.mmstore", pair[0])
    b = _store(tmp_path / "b.mmstore", pair[1])
    code = main(["leadlag", a, b, "--max-lag", "200ms", "--n-boot", "100", "--out", str(tmp_path / "ll")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "lag +37 ms (95 % interval +37 ms .. +37 ms" in out
    js = json.loads((tmp_path / "ll" / "leadlag.json").read_text())
    assert js["lag_s"] == pytest.approx(0.037) and js["lead"] == a
    curve = (tmp_path / "ll" / "leadlag_curve.csv").read_text().splitlines()
    assert curve[0] == "lag_s,corr,hy_corr" and len(curve) == 1 + 401


@pytest.mark.parametrize("extra, text", [
    (["--grid", "0"], "--grid 0: must be > 0"),
    (["--grid", "fast"], "--grid: not a duration"),
    (["--max-lag", "1ms", "--grid", "2ms"], "--max-lag"),
    (["--block", "1h"], "--block"),
])
def test_cli_bad_input_is_one_line(pair, tmp_path, capsys, extra, text):
    a = _store(tmp_path / "a.mmstore", pair[0])
    b = _store(tmp_path / "b.mmstore", pair[1])
    code = main(["leadlag", a, b, "--max-lag", "200ms", *extra])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("mmsim: error: ") and err.count("\n") == 1, err
    assert text in err and "Traceback" not in err


def test_cli_missing_store(tmp_path, capsys):
    code = main(["leadlag", str(tmp_path / "nope"), str(tmp_path / "nope2")])
    _, err = capsys.readouterr()
    assert code == 2 and "not an event store" in err and err.count("\n") == 1
