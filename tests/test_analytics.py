"""Markouts, the exact PnL decomposition, toxicity by ground truth (mmsim.analysis.markouts, docs/analytics.md)."""
import math

import numpy as np
import pytest

from helpers import events as make_events
from mmsim import records as R
from mmsim.analysis.markouts import (analyze, fill_log, fill_rates, horizon_label, mid_series, parse_horizon,
                             write_fill_log)
from mmsim.analysis.compare import block_table
from mmsim.errors import ConfigError, DataError
from mmsim.data.market import generate_market
from mmsim.records import Instrument
from mmsim.engine.sim import RunResult, simulate

S = 1_000_000_000
D, T = R.DEPTH, R.TRADE


def hand_events():
    """mid 101 from t=0, 101.5 from 2 s, 102.5 from 5 s, 102 from 20 s (the end)."""
    return make_events([
        (0, D, 1, 100, 5),          # 0
        (0, D, -1, 102, 5),         # 1  mid 101
        (2 * S, D, 1, 101, 5),      # 2  mid 101.5
        (5 * S, D, -1, 104, 5),     # 3
        (5 * S, D, -1, 102, 0),     # 4  mid 102.5
        (20 * S, D, 1, 101, 0),     # 5  mid 102 (bid 100, ask 104)
    ])


def hand_fills():
    f = np.zeros(2, R.FILL_DTYPE)
    f["fill_id"] = [0, 1]
    f["exch_ts"] = [1 * S, 5 * S]
    f["side"] = [1, -1]
    f["price"] = [100, 104]
    f["qty"] = [2, 1]
    f["data_row"] = [1, 3]           # fill B caused by row 3: the mid just before it is 101.5
    f["fee"] = [0.01, 0.02]
    f["cause"] = R.CAUSE_TRADE
    f["maker"] = 1
    return f


def test_mid_series_hand():
    m = mid_series(hand_events())
    assert m.mid2.tolist() == [202, 202, 203, 203, 205, 204]  # row 0 is one-sided: takes the first mid
    assert m.at_time(np.array([0, S, 2 * S - 1, 2 * S, 5 * S, 10 * S, 20 * S])).tolist() == \
        [202, 202, 202, 203, 205, 205, 204]
    assert m.end_ts == 20 * S and m.mid2_end == 204 and m.first_row == 1


def test_markouts_hand_example():
    mids = mid_series(hand_events())
    log, parts, info = fill_log(hand_fills(), mids, horizons=["100ms", "1s", "10s", "19s", "20s", "60s"],
                                horizon="1s", tick_size=0.01, lot_size=10, fill_mid="time")
    a, b = log.iloc[0], log.iloc[1]
    # fill A: buy 2 @ 100 at 1 s; m(1.1 s) = 101, m(2 s) = 101.5, m(11 s) = 102.5, m(20 s) = 102
    assert a["mid_fill"] == 101 and a["spread_capture"] == 2
    assert a["markout_100ms"] == 2 and a["markout_1s"] == 3 and a["markout_10s"] == 5 and a["markout_19s"] == 4
    assert a["adverse_selection_100ms"] == 0 and a["adverse_selection_1s"] == 1 and a["adverse_selection_10s"] == 3
    assert math.isnan(a["markout_20s"]) and a["past_end_20s"] and math.isnan(a["adverse_selection_60s"])
    # fill B: sell 1 @ 104 at 5 s; m(5 s) = 102.5 (after both rows at 5 s)
    assert b["mid_fill"] == 102.5 and b["spread_capture"] == 1.5
    assert b["markout_100ms"] == 1.5 and b["markout_10s"] == 1.5 and math.isnan(b["markout_20s"])
    # markout = spread capture + adverse selection wherever defined
    for lab in ("100ms", "1s", "10s"):
        np.testing.assert_array_equal(log[f"markout_{lab}"], log["spread_capture"] + log[f"adverse_selection_{lab}"])
    assert info["partial"] == {"100ms": 0, "1s": 0, "10s": 0, "19s": 1, "20s": 2, "60s": 2}
    # currency: tick 0.01 x lot 10
    assert a["markout_1s_ccy"] == pytest.approx(0.3) and b["spread_capture_ccy"] == pytest.approx(0.15)
    # decomposition at 1 s against m_end = 102: A: 2 + 1 + 1 = 2*(102-100); B: 1.5 + 0 + 0.5 = -(102-104)
    assert log["as_decomp"].tolist() == [1.0, 0.0] and log["inventory"].tolist() == [1.0, 0.5]
    assert parts["sc2"].tolist() == [4, 3] and parts["as2"].tolist() == [2, 0] and parts["inv2"].tolist() == [2, 1]


def test_fill_mid_pre_hand_example():
    mids = mid_series(hand_events())
    log, parts, _ = fill_log(hand_fills(), mids, horizon="1s", fill_mid="pre")
    b = log.iloc[1]
    assert b["mid_fill"] == 101.5 and b["spread_capture"] == 2.5 and b["adverse_selection_1s"] == -1.0
    assert b["markout_1s"] == 1.5  # markouts do not depend on the fill mid
    total = parts["sc2"] + parts["as2"] + parts["inv2"]
    assert total.tolist() == [8, 4]  # 2 * s*q*(m_end - p), whichever fill mid


def test_decomposition_hand_totals_and_past_end():
    ev = hand_events()
    f = hand_fills()
    cash = int(-(f["side"] * f["price"] * f["qty"]).sum())
    pos = int((f["side"] * f["qty"]).sum())
    summary = {"cash_ticklots": cash, "position": pos, "final_mid": 102.0, "n_events": len(ev),
               "pnl": (cash + pos * 102.0) * 0.1 - 0.03}
    import pandas as pd
    res = RunResult(fills=pd.DataFrame({n: f[n] for n in f.dtype.names if n != "_pad"}), orders=None,
                    decisions=None, summary=summary)
    an = analyze(res, ev, tick_size=0.01, lot_size=10, horizon="16s", fill_mid="time")
    d = an.totals["decomposition"]
    assert d["exact"] is True
    # H = 16 s: A: 2 + 3 - 1; B reaches 21 s > end: measured to the end (1.5 + 0.5, no inventory term), counted
    assert an.totals["n_past_end_decomp"] == 1
    assert d["ticklots"] == {"spread_capture": 3.5, "adverse_selection": 3.5, "inventory": -1.0, "gross": 6.0}
    assert d["pnl"] == pytest.approx(summary["pnl"], abs=1e-12)
    assert an.totals["partial"] is True  # the 60 s markouts run past the end
    assert an.totals["markouts"]["60s"] == {**an.totals["markouts"]["60s"], "n": 0, "n_past_end": 2}
    assert math.isnan(an.totals["markouts"]["60s"]["per_lot_ticks"])
    assert an.totals["markouts"]["1s"]["per_lot_ticks"] == pytest.approx((3 + 1.5) / 3)
    assert any("past the data's end" in w for w in an.totals["warnings"])


def _run(seed, maker_bps, half_spread=1, rows=100_000):
    m = generate_market("toxic_burst", rows, seed)
    r = simulate(m.events, Instrument(0.01, 1.0), f"symmetric:half_spread={half_spread},size=1",
                 maker_fee_bps=maker_bps, taker_fee_bps=2.0, feed_latency="lognormal:median=1ms,sigma=0.5",
                 entry_latency="1ms", cancel_latency="1ms", response_latency="1ms",
                 timer_interval_ns=100_000_000, seed=seed)
    return m, r


@pytest.mark.parametrize("seed,maker_bps", [(1, 1.0), (2, -0.5), (3, 2.5)])
def test_decomposition_adds_up_exactly_on_runs(seed, maker_bps):
    m, r = _run(seed, maker_bps)
    s = r.summary
    assert s["n_fills"] > 100 and s["fees"] != 0
    for fill_mid in ("time", "pre"):
        for horizon in ("100ms", "1s", "60s"):
            an = analyze(r, m.events, tick_size=0.01, lot_size=1.0, horizon=horizon, fill_mid=fill_mid)
            d = an.totals["decomposition"]
            h2 = d["half_ticklots"]
            # exact, in integers: spread capture + adverse selection + inventory = 2 (cash + position * final mid)
            assert h2["spread_capture"] + h2["adverse_selection"] + h2["inventory"] == h2["gross"]
            assert h2["gross"] == 2 * s["cash_ticklots"] + s["position"] * round(2 * s["final_mid"])
            assert d["exact"] is True
            # and in currency, minus fees, the run's pnl (floating point of the engine's own formula)
            assert d["spread_capture"] + d["adverse_selection"] + d["inventory"] - d["fees"] == \
                pytest.approx(s["pnl"], rel=1e-12, abs=1e-9)
            assert d["fees"] == pytest.approx(s["fees"], rel=1e-12)
            assert an.totals["adverse_selection_cost"] == -d["adverse_selection"]
            # per fill: the three parts add up to s*q*(m_end - p)
            f = an.fills
            per = f["spread_capture"] + f["as_decomp"] + f["inventory"]
            np.testing.assert_array_equal(per, f["side"] * f["qty"] * (s["final_mid"] - f["price"]))
            # time blocks: mark-to-market net PnL per block adds up to the run's, exactly
            for block in (7 * S, 60 * S):
                tab = block_table(an, mid_series(m.events), block_ns=block, value=0.01,
                                  m_end2=round(2 * s["final_mid"]))
                assert int(tab["net_2"].sum()) == h2["gross"]
                assert int(tab["inventory_2"].sum()) == h2["inventory"]
                assert tab["net_pnl"].sum() == pytest.approx(s["pnl"], abs=1e-9)


def test_toxicity_split_by_ground_truth():
    m, r = _run(2, 0.0, rows=200_000)
    an = analyze(r, m.events, tick_size=0.01, lot_size=1.0)
    tox = an.totals["toxicity"]
    assert tox["labelled"] is True
    g = tox["groups"]
    assert g["informed"]["n_fills"] > 20 and g["noise"]["n_fills"] > 20
    assert 0 < tox["informed_share_fills"] < 1
    # informed fills are toxic: their markout after 1 s and 10 s is below the noise fills'
    for lab in ("1s", "10s"):
        assert g["informed"]["markout_per_lot"][lab] < g["noise"]["markout_per_lot"][lab]
    # the label is the ground truth of the data row that filled us
    f = an.fills
    rows = f["data_row"].to_numpy()
    flagged = (m.events["flags"][rows] & R.FLAG_INFORMED) != 0
    np.testing.assert_array_equal(f["counterparty"].to_numpy() == "informed", flagged)
    # the same events without labels: unlabelled, no split
    ev = m.events.copy()
    ev["flags"] = 0
    an2 = analyze(r, ev, tick_size=0.01, lot_size=1.0)
    assert an2.totals["toxicity"]["labelled"] is False
    assert set(an2.fills["counterparty"].unique()) <= {"unlabelled", "other"}


def test_fill_rates():
    m, r = _run(1, 0.0, rows=50_000)
    fr = analyze(r, m.events, tick_size=0.01).totals["fill_rate"]
    assert fr["n_fills"] == r.summary["n_fills"] and fr["filled_lots"] == r.summary["volume"]
    assert 0 < fr["lots"] <= 1 and 0 < fr["orders"] <= 1
    assert fr["per_decision"] == pytest.approx(r.summary["n_fills"] / r.summary["n_decisions"])
    assert fill_rates(r.fills.iloc[:0])["n_fills"] == 0


def test_empty_fill_log_is_partial_not_a_crash(tmp_path):
    m, r = _run(1, 1.0, half_spread=60, rows=20_000)
    assert r.summary["n_fills"] == 0
    an = analyze(r, m.events, tick_size=0.01)
    t = an.totals
    assert t["n_fills"] == 0 and t["partial"] is True and any("no fills" in w for w in t["warnings"])
    assert t["decomposition"]["pnl"] == 0 and t["decomposition"]["exact"] is True
    assert math.isnan(t["markouts"]["1s"]["per_lot_ticks"])
    p = write_fill_log(tmp_path / "markouts.parquet", an.fills)
    assert p.is_file()


def test_fill_log_parquet_roundtrip(tmp_path):
    import pandas as pd
    m, r = _run(1, 1.0, rows=30_000)
    an = analyze(r, m.events, tick_size=0.01)
    back = pd.read_parquet(write_fill_log(tmp_path / "f.parquet", an.fills))
    assert len(back) == len(an.fills) and "markout_10s" in back and "counterparty" in back


def test_bad_input():
    with pytest.raises(ConfigError, match="horizon"):
        parse_horizon("0")
    with pytest.raises(ConfigError, match="horizon"):
        parse_horizon("1 fortnight")
    assert parse_horizon("100ms") == 100_000_000 and parse_horizon(5) == 5
    assert [horizon_label(x) for x in (100_000_000, S, 60 * S, 1500, 7)] == ["100ms", "1s", "60s", "1500ns", "7ns"]
    one_sided = make_events([(0, D, 1, 100, 5), (S, D, 1, 99, 5)])
    with pytest.raises(DataError, match="never two-sided"):
        mid_series(one_sided)
    m, r = _run(1, 0.0, rows=20_000)
    with pytest.raises(DataError, match="market path"):
        analyze(r, m.events[:-5], tick_size=0.01)
    with pytest.raises(ConfigError, match="fill_mid"):
        analyze(r, m.events, fill_mid="mid")
