"""mmsim calibrate: stylised facts (one function for a store and its twin), the fit recovers a known synthetic
market, the twin file is byte-identical when fitted twice and runs as a scenario, and bad input is one line."""
from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest

from mmsim import records as R
from mmsim.analysis.calibrate import calibrate_store, twin_toml
from mmsim.analysis.stylised import EXTRA_FACTS, FACT_NAMES, aggressive_orders, message_ends, stylised_facts
from mmsim.cli import main
from mmsim.data.market import generate_market
from mmsim.data.scenario import load_scenario
from mmsim.data.store import write_store
from mmsim.records import Instrument

#: The known market: slow_equity's clock without bursts, a 3-tick spread, on a 0.05 tick.
TRUTH = dict(v_dt=0.005, lp_lag=0.2, informed_horizon=0.2, sigma=1.35, lp_rate=400.0, noise_rate=4.0,
             informed_rate=3.0, half_spread=1.0, level_qty=20.0, order_qty=5.0, noise_qty=5.0, informed_qty=5.0,
             informed_threshold=1.5, lp_impact=0.05, jump_rate=0.0, burst_rate=0.0)
ROWS = 150_000


@pytest.fixture(scope="module")
def known_store(tmp_path_factory):
    m = generate_market("quiet", ROWS, 7, **TRUTH)
    path = tmp_path_factory.mktemp("cal") / "known.mmstore"
    write_store(path, [m.events], Instrument(tick_size=0.05, lot_size=1.0, symbol="KNOWN"))
    return path, m


@pytest.fixture(scope="module")
def fitted(known_store):
    path, _ = known_store
    return calibrate_store(path, seed=3)


def test_message_ends_use_the_flag_when_present_else_timestamp_groups():
    ev = np.zeros(5, R.EVENT_DTYPE)
    ev["exch_ts"] = [1, 1, 2, 2, 3]
    end, flagged = message_ends(ev)
    assert not flagged and end.tolist() == [False, True, False, True, True]
    ev["flags"] = [R.FLAG_MSG_END, 0, 0, R.FLAG_MSG_END, 0]   # two messages at ts 1; the last row always ends one
    end, flagged = message_ends(ev)
    assert flagged and end.tolist() == [True, False, False, True, True]


def test_aggressive_orders_group_one_sweep_and_split_by_side_and_time():
    ev = np.zeros(6, R.EVENT_DTYPE)
    ev["exch_ts"] = [1, 5, 5, 5, 6, 6]
    ev["kind"] = [R.ADD, R.EXECUTE, R.EXECUTE, R.TRADE, R.TRADE, R.TRADE]
    ev["side"] = [R.BID, R.ASK, R.ASK, -1, 1, 1]      # EXECUTE of asks: a buyer; TRADE side = aggressor
    ev["qty"] = [9, 2, 3, 4, 1, 1]
    mo = aggressive_orders(ev)
    assert mo["aggr"].tolist() == [1, -1, 1] and mo["qty"].tolist() == [5, 4, 2]
    assert mo["first"].tolist() == [1, 3, 4]


def test_facts_of_a_synthetic_market_match_its_parameters(known_store):
    _, m = known_store
    f = stylised_facts(m.events)
    assert set(f.values) == set(FACT_NAMES) | set(EXTRA_FACTS)
    v = f.values
    # a market order per noise look, and some of the informed looks
    assert TRUTH["noise_rate"] < v["trades_per_s"] < TRUTH["noise_rate"] + TRUTH["informed_rate"]
    assert 2.5 < v["spread_mean"] < 3.5                    # anchors 2 h + 1 = 3 ticks apart on average
    assert abs(v["vol_10s"] - TRUTH["sigma"]) < 0.2 * TRUTH["sigma"]
    assert v["markout_1s"] > v["markout_0"] > 0            # informed flow: the markout curve rises
    assert abs(v["add_size_mean"] - TRUTH["order_qty"]) < 1.0
    assert abs(v["add_new_best_ratio"] - 1.0) < 0.1          # touch_qty 1: new best levels opened by ordinary orders


def test_round_lot_and_level_gap_are_read_from_the_data():
    from mmsim.analysis.calibrate import level_spacing, lot_qty
    from mmsim.analysis.stylised import trade_lot

    assert trade_lot(np.array([100, 100, 200, 7, 13, 100, 300])) == 100
    assert trade_lot(np.array([100, 100, 200, 7, 13, 100, 250, 250, 350, 500])) == 50   # 250 is not 100s
    assert trade_lot(np.array([3, 4, 5, 6, 7])) == 1 and trade_lot(np.array([], np.int64)) == 1
    # lot_qty inverts the mean of a geometric draw rounded up to the lot, as the generator draws it
    m = generate_market("quiet", 60_000, 2, round_lot=10, noise_qty=lot_qty(25.0, 10), informed_rate=0.0,
                        level_qty=200.0, order_qty=40.0)
    assert abs(aggressive_orders(m.events)["qty"].mean() - 25.0) < 2.0   # ~500 orders: se 0.7; unrounded draws give 29.8
    assert lot_qty(80.0, 100) == 1.0 and lot_qty(7.0, 1) == 7.0
    # the level gap is the store's, unless it is wider than the spread (a uniform gap could not give both)
    f = stylised_facts(generate_market("quiet", 60_000, 2, level_gap=3, half_spread=3.0).events)
    assert level_spacing(f) == 3
    f.values["spread_mean"] = 2.0
    assert level_spacing(f) == 1


def test_add_new_best_ratio_is_measured_and_inverted_to_touch_qty():
    """Ground truth: in the generator the orders opening a new best level are the LPs' first-level orders (mean
    order_qty x touch_qty), a third of its ADDs; the fact measures their size over the mean ADD and
    touch_qty_from_ratio inverts it back to the touch_qty the market was generated with."""
    from mmsim.analysis.calibrate import touch_qty_from_ratio

    kw = dict(half_spread=2.0, level_qty=40.0, order_qty=8.0, level_growth=0.0, noise_rate=6.0, noise_qty=15.0,
              informed_rate=0.0, lp_rate=60.0, jump_rate=0.0, sigma=0.5)
    for k in (1.0, 2.0):
        f = stylised_facts(generate_market("quiet", 60_000, 5, touch_qty=k, **kw).events)
        r = f.values["add_new_best_ratio"]
        assert abs(r - k / (1 + (k - 1) / 3)) < 0.08, (k, r)
        assert abs(touch_qty_from_ratio(r) - k) < 0.2, (k, r, touch_qty_from_ratio(r))
    assert touch_qty_from_ratio(math.nan) == 1.0 and touch_qty_from_ratio(0.9) == 1.0
    assert touch_qty_from_ratio(3.5) == 3.0 and abs(touch_qty_from_ratio(1.419) - 1.795) < 0.01
    # recorded, not scored
    assert "add_new_best_ratio" not in FACT_NAMES


def test_calibration_recovers_a_known_market(known_store, fitted):
    """Ground truth: the stated tolerances (docs/calibrate.md) on the parameters and on the facts."""
    p = fitted.params
    assert abs(p["sigma"] - TRUTH["sigma"]) <= 0.15 * TRUTH["sigma"]
    assert abs(p["half_spread"] - TRUTH["half_spread"]) <= 0.5
    assert abs(p["lp_rate"] - TRUTH["lp_rate"]) <= 0.25 * TRUTH["lp_rate"]
    assert abs(p["noise_qty"] - TRUTH["noise_qty"]) <= 0.3 * TRUTH["noise_qty"]
    assert 0.1 <= p["informed_horizon"] <= 1.0                       # the truth is 0.2 s; grid 0.1, 0.3, 1
    total = p["noise_rate"] + p["informed_rate"]
    assert 0.5 * (TRUTH["noise_rate"] + TRUTH["informed_rate"]) <= total <= 2 * (TRUTH["noise_rate"] + TRUTH["informed_rate"])
    rows = {r["fact"]: r for r in fitted.table()}
    must = ("messages_per_s", "trades_per_s", "trade_size_mean", "add_size_mean", "spread_mean", "depth_1",
            "vol_1s", "vol_10s", "markout_1s", "markout_10s", "ofi_corr_1s", "ofi_corr_10s")
    bad = [(k, rows[k]["real"], rows[k]["twin"], rows[k]["tol"]) for k in must if not rows[k]["ok"]]
    assert not bad, bad


def test_twin_file_is_byte_identical_when_fitted_twice_and_runs(known_store, fitted, tmp_path, capsys):
    path, _ = known_store
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    assert main([ "calibrate", str(path), "--out", str(a), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "within tolerance" in out and "spread_mean" in out
    assert main(["calibrate", str(path), "--out", str(b), "--seed", "3"]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text() == twin_toml(fitted)          # the CLI and the API write the same file
    doc = tomllib.loads(a.read_text())
    cal = doc["calibration"]
    import hashlib

    assert cal["store"] == "known.mmstore"
    assert cal["store_events_sha256"] == hashlib.sha256((path / "events.parquet").read_bytes()).hexdigest()
    assert set(cal["real"]) == set(cal["twin"]) == set(FACT_NAMES) | set(EXTRA_FACTS)   # extras: recorded, not scored
    assert set(cal["tolerance"]) == set(FACT_NAMES)
    sc = load_scenario(a)
    ev, inst = sc.load_events(limit=20_000)
    assert inst.tick_size == 0.05 and len(ev) == 20_000
    # the twin at its own seed is the table's twin
    full, _ = load_scenario(a).load_events()
    tw = stylised_facts(full)
    assert tw.values["spread_mean"] == pytest.approx(cal["twin"]["spread_mean"], rel=1e-5)


def test_a_different_seed_gives_another_path_of_the_same_twin(known_store, fitted):
    other = twin_toml(calibrate_store(known_store[0], seed=4))
    assert other != twin_toml(fitted)


@pytest.mark.parametrize("argv, text", [
    (["calibrate", "{tmp}/missing.mmstore", "--out", "{tmp}/t.toml"], "not an event store"),
    (["calibrate", "{store}", "--out", "{tmp}"], "is a directory"),
    (["calibrate", "{store}", "--out", "{tmp}/no/such/t.toml"], "does not exist"),
    (["calibrate", "{store}", "--out", "{tmp}/t.toml", "--rows", "3"], "need at least 10 s"),
    (["calibrate", "{store}", "--out", "{tmp}/t.toml", "--rows", "0"], "must be > 0"),
])
def test_bad_input_is_one_line_and_exit_2(known_store, tmp_path, capsys, argv, text):
    argv = [a.format(tmp=tmp_path, store=known_store[0]) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mmsim: error:") and "\n" not in err and text in err


def test_an_old_or_broken_store_is_one_line(known_store, tmp_path, capsys):
    import json
    import shutil

    old = tmp_path / "old.mmstore"
    shutil.copytree(known_store[0], old)
    meta = json.loads((old / "meta.json").read_text())
    meta["version"] = 0
    (old / "meta.json").write_text(json.dumps(meta))
    assert main(["calibrate", str(old), "--out", str(tmp_path / "t.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a version" in err and "\n" not in err
    assert not (tmp_path / "t.toml").exists()


def test_no_trades_is_one_line(tmp_path, capsys):
    m = generate_market("quiet", 20_000, 1, noise_rate=0.0, informed_rate=0.0)
    path = tmp_path / "quiet.mmstore"
    write_store(path, [m.events], Instrument())
    assert main(["calibrate", str(path), "--out", str(tmp_path / "t.toml")]) == 2
    assert "no trades" in capsys.readouterr().err
