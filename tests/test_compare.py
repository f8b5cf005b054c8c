"""Savings with paired block-bootstrap CIs and `mmsim compare` (mmsim.analysis.compare, docs/analytics.md)."""
import json

import numpy as np
import pytest

from mmsim.cli import main
from mmsim.analysis.compare import compare_runs, events_hash, paired_block_bootstrap, run_compare
from mmsim.errors import ConfigError, DataError
from mmsim.data.market import generate_market
from mmsim.records import Instrument
from mmsim.engine.sim import simulate

S = 1_000_000_000
BASE, TREAT = "symmetric:half_spread=1,size=1", "symmetric:half_spread=2,size=1"


# --------------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_ci_covers_true_difference():
    """Paired synthetic blocks: a large common block effect (market) cancels in the differences; the CI of the
    summed difference covers the true total in about 95 % of the replications."""
    rng = np.random.default_rng(7)
    n, mu, reps, cover, widths = 60, 0.3, 300, 0, []
    for k in range(reps):
        market = rng.normal(0, 5.0, n)                        # shared by both runs within a block
        base = market + rng.normal(0, 1.0, n)
        treat = market + mu + rng.normal(0, 1.0, n)
        out = paired_block_bootstrap(treat - base, n_boot=400, seed=k)
        lo, hi = out["low"][0], out["high"][0]
        cover += lo <= n * mu <= hi
        widths.append(hi - lo)
    assert 0.89 <= cover / reps <= 0.99
    # paired: the width reflects only the difference noise (sd sqrt(2) per block), not the market's (5)
    assert np.mean(widths) < 2 * 1.96 * np.sqrt(2 * n) * 1.2


def test_bootstrap_deterministic_and_paired_columns():
    d = np.random.default_rng(1).normal(size=(40, 3))
    a = paired_block_bootstrap(d, 500, seed=3)
    b = paired_block_bootstrap(d, 500, seed=3)
    c = paired_block_bootstrap(d, 500, seed=4)
    for key in ("estimate", "low", "high", "se"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["low"], c["low"])
    np.testing.assert_allclose(a["estimate"], d.sum(axis=0))
    # the same resampled blocks for every column: a column that is the sum of two others stays the sum
    d2 = np.column_stack([d[:, 0], d[:, 1], d[:, 0] + d[:, 1]])
    r = paired_block_bootstrap(d2, 300, seed=5)["replicates"]
    np.testing.assert_allclose(r[:, 2], r[:, 0] + r[:, 1])
    one = paired_block_bootstrap(d[:1], 100, seed=0)
    assert np.isnan(one["low"]).all() and one["estimate"][0] == d[0, 0]


# --------------------------------------------------------------------------------------------- compare_runs
def _pair(seed=1, rows=100_000, treated=TREAT, market_seed=None):
    m = generate_market("toxic_burst", rows, seed)
    kw = dict(maker_fee_bps=1.0, taker_fee_bps=2.0, feed_latency="lognormal:median=1ms,sigma=0.5",
              entry_latency="1ms", cancel_latency="1ms", response_latency="1ms", timer_interval_ns=100_000_000,
              seed=0)
    b = simulate(m.events, Instrument(0.01, 1.0), BASE, **kw)
    ev_t = m.events if market_seed is None else generate_market("toxic_burst", rows, market_seed).events
    t = simulate(ev_t, Instrument(0.01, 1.0), treated, **kw)
    return m, b, t


def test_compare_runs_estimates_are_run_differences():
    m, b, t = _pair()
    res = compare_runs(b, t, m.events, tick_size=0.01, horizon="1s", block="20s", n_boot=500, seed=1)
    rep = res.report
    ab, at = res.baseline.totals, res.treated.totals
    e = rep["estimates"]
    assert e["net_pnl_difference"]["estimate"] == pytest.approx(t.summary["pnl"] - b.summary["pnl"], abs=1e-9)
    assert e["as_cost_saving"]["estimate"] == pytest.approx(
        ab["adverse_selection_cost"] - at["adverse_selection_cost"], abs=1e-9)
    assert e["spread_capture_given_up"]["estimate"] == pytest.approx(
        ab["decomposition"]["spread_capture"] - at["decomposition"]["spread_capture"], abs=1e-9)
    for x in e.values():
        assert x["ci_low"] <= x["ci_high"] and x["se"] > 0
    # a wider quote gives up spread capture, for sure on this path
    assert e["spread_capture_given_up"]["ci_low"] > 0
    idn = rep["identity"]
    assert idn["net_pnl_difference"] == pytest.approx(idn["as_cost_saving"] - idn["spread_capture_given_up"]
                                                      + idn["inventory_difference"] - idn["fees_difference"])
    assert rep["n_blocks"] == len(res.blocks) == (int(m.events["exch_ts"][-1] - m.events["exch_ts"][0]) // (20 * S)) + 1
    # blocks add up to the runs exactly
    assert int(res.blocks["baseline_net_2"].sum()) == ab["decomposition"]["half_ticklots"]["gross"]
    assert res.blocks["treated_net_pnl"].sum() == pytest.approx(t.summary["pnl"], abs=1e-9)
    # deterministic for a seed
    again = compare_runs(b, t, m.events, tick_size=0.01, horizon="1s", block="20s", n_boot=500, seed=1)
    assert again.report["estimates"] == rep["estimates"]


def test_different_market_paths_are_an_error():
    m, b, t = _pair(rows=40_000, market_seed=2)
    with pytest.raises(DataError, match="market path"):
        compare_runs(b, t, m.events, tick_size=0.01)
    # an events hash recorded in the summaries is checked too
    _, b2, t2 = _pair(rows=40_000)
    b2.summary["events_hash"] = events_hash(m.events)
    t2.summary["events_hash"] = "0" * 64
    with pytest.raises(DataError, match="different market paths"):
        compare_runs(b2, t2, m.events, tick_size=0.01)
    with pytest.raises(DataError, match="market path"):
        compare_runs(b, b, m.events[:-1], tick_size=0.01)


def test_horizon_beyond_data_end_is_an_error():
    m, b, t = _pair(rows=20_000)
    with pytest.raises(ConfigError, match="beyond the data's end"):
        compare_runs(b, t, m.events, horizon="3600s")


def test_empty_fills_give_partial_result(tmp_path):
    rep = run_compare("toxic_burst", BASE, "symmetric:half_spread=60,size=1", tmp_path / "one", rows=40_000,
                      seeds=[1, 2], block="10s", n_boot=200)
    saved = json.loads((tmp_path / "one" / "compare.json").read_text())
    assert saved["status"] == "partial" and any("treated run has no fills" in w for w in saved["warnings"])
    assert saved["treated"]["n_fills"] == 0 and saved["n_fills"]["treated"] == 0
    per_path = [p["as_cost_saving"] for p in saved["paths"]]
    assert rep["estimates"]["as_cost_saving"]["estimate"] == pytest.approx(np.mean(per_path))
    run_compare("toxic_burst", "symmetric:half_spread=60,size=1", "symmetric:half_spread=70,size=1",
                tmp_path / "none", rows=20_000, seeds=[1], n_boot=100)
    saved = json.loads((tmp_path / "none" / "compare.json").read_text())
    assert saved["status"] == "partial" and any("neither run has fills" in w for w in saved["warnings"])
    assert all(x["estimate"] is None and x["ci_low"] is None for x in saved["estimates"].values())


# --------------------------------------------------------------------------------------------- CLI
def test_cli_compare_writes_compare_json(tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(["compare", "toxic_burst", "--baseline", BASE, "--treated", TREAT, "--rows", "40000", "--seeds", "1-3",
               "--block", "10s", "--n-boot", "300", "--seed", "3", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "adverse-selection cost" in text and "spread capture" in text and "95% CI" in text
    assert "net saving" in text and "3 paths" in text and "horizon" in text
    rep = json.loads((out / "compare.json").read_text())
    for key in ("estimates", "n_blocks", "horizon", "horizon_rule", "block", "block_rule", "baseline", "treated",
                "settings", "status", "n_boot", "seed", "identity", "paths", "markout_curves", "verdict",
                "as_saving_split", "as_saving_vs_horizon"):
        assert key in rep
    assert set(rep["estimates"]) == {"as_cost_saving", "spread_capture_given_up", "inventory_difference",
                                     "fees_difference", "net_pnl_difference"}
    for x in rep["estimates"].values():
        assert set(x) == {"estimate", "ci_low", "ci_high", "se"}
    assert rep["block"] == "10s" and rep["n_paths"] == 3 and rep["seed"] == 3
    assert [p["seed"] for p in rep["paths"]] == [1, 2, 3] and len({p["events_hash"] for p in rep["paths"]}) == 3
    e = rep["estimates"]          # the identity holds for the pooled estimates too
    assert e["net_pnl_difference"]["estimate"] == pytest.approx(
        e["as_cost_saving"]["estimate"] - e["spread_capture_given_up"]["estimate"]
        + e["inventory_difference"]["estimate"] - e["fees_difference"]["estimate"], abs=1e-9)
    sp = rep["as_saving_split"]
    assert sp["fewer_fills"]["estimate"] + sp["better_fills"]["estimate"] == pytest.approx(
        e["as_cost_saving"]["estimate"], abs=1e-9)
    for run in ("baseline", "treated"):
        s = rep[run]["summary"]
        assert s["seed"] == 3 and s["n_events"] == 40_000
        assert rep[run]["decomposition_exact"] is True
        for f in ("fills.parquet", "orders.parquet", "decisions.parquet", "summary.json", "markouts.parquet"):
            assert (out / run / f).is_file()
    for f in ("blocks.parquet", "paths.parquet", "bins.parquet"):
        assert (out / f).is_file()
    assert rep["settings"]["maker_fee_bps"] == 0.0 and rep["settings"]["timer_interval_ns"] == 100_000_000


def test_unmatched_arms_stop_unless_asked(tmp_path, capsys):
    args = ["compare", "toxic_burst", "--baseline", "symmetric:half_spread=1", "--treated",
            "symmetric:half_spread=1,max_position=5", "--rows", "20000", "--seeds", "1", "--n-boot", "50"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 2
    assert "different risk limits" in capsys.readouterr().err
    assert main(args + ["--unmatched", "--out", str(tmp_path / "b")]) == 0
    assert "UNMATCHED ARMS" in capsys.readouterr().out
    rep = json.loads((tmp_path / "b" / "compare.json").read_text())
    assert rep["unmatched"] is True and any("UNMATCHED" in w for w in rep["warnings"])
    assert rep["verdict"].startswith("UNMATCHED ARMS: ")


def test_seeds_are_for_synthetic_scenarios_only(tmp_path):
    from mmsim.analysis.compare import scenario_paths
    from mmsim.data.scenario import load_scenario

    sc = load_scenario("toxic_burst")
    assert [info["seed"] for _, _, info in scenario_paths(sc, None)][:2] == [sc.source["seed"], sc.source["seed"] + 1]
    assert len(scenario_paths(sc, None)) == 20


def test_cli_compare_bad_input(tmp_path, capsys):
    base = ["compare", "toxic_burst", "--baseline", BASE, "--treated", TREAT, "--out", str(tmp_path / "x")]
    assert main(base + ["--horizon", "1 week"]) == 2
    assert main(base + ["--rows", "20000", "--seeds", "1", "--horizon", "300s"]) == 2
    assert main(base + ["--treated", "nope"]) == 2
    assert main(base + ["--model", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("mmsim: error: ") for line in err)
    assert "beyond the data's end" in err[1] and "missing.json" in err[3]
    assert not (tmp_path / "x" / "compare.json").exists()


# --------------------------------------------------------------------------------------------- model quality
def test_model_verdict_from_out_of_sample_metrics():
    from mmsim.signals.train import model_verdict

    good = {"r2": 0.2, "auc": 0.65}
    assert model_verdict({"out_of_sample": good, "folds": [good, good]})["verdict"] == "useful"
    assert model_verdict({"out_of_sample": good, "folds": [good, {"r2": -0.1, "auc": 0.6}]})["verdict"] == "weak"
    v = model_verdict({"out_of_sample": {"r2": -0.02, "auc": 0.55}, "folds": [{"r2": -0.01}]})
    assert v["verdict"] == "weak" and "R² -0.020" in v["reason"]
    v = model_verdict({"out_of_sample": {"r2": -0.02, "auc": 0.51}, "folds": [{"r2": -0.01}]})
    assert v["verdict"] == "no better than chance" and "R² -0.020" in v["reason"]
    assert model_verdict({"out_of_sample": {"r2": None, "auc": 0.51}})["verdict"] == "no better than chance"


def test_a_useless_model_is_named_beside_the_answer(tmp_path):
    from mmsim.analysis.compare import format_compare, model_quality

    f = tmp_path / "model.json"
    f.write_text(json.dumps({"horizon_ns": 10**9, "training": {"scenario": "x", "metrics": {
        "out_of_sample": {"n": 100, "r2": -0.05, "auc": 0.5, "hit_rate": 0.49},
        "folds": [{"r2": -0.04, "auc": 0.5}]}}}))
    q = model_quality(f)
    assert q["verdict"] == "no better than chance" and q["out_of_sample"]["r2"] == -0.05
    assert model_quality(None) is None


def test_overlapping_paths_are_refused():
    from mmsim.analysis.paths import parse_seeds

    assert parse_seeds("1-3,7") == [1, 2, 3, 7]
    with pytest.raises(ConfigError, match="given twice"):
        parse_seeds("1-5,3")
    with pytest.raises(ConfigError, match="not a range"):
        parse_seeds("5-1")


def test_bound_arm_gives_the_treated_share_of_the_clairvoyant_saving(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["compare", "toxic_burst", "--baseline", "symmetric:half_spread=1,max_position=5", "--treated",
                 "symmetric:half_spread=2,max_position=5", "--bound", "oracle:horizon=1s,half_spread=1,max_position=5",
                 "--rows", "40000", "--seeds", "1-3", "--horizon", "1s", "--n-boot", "200", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "bound oracle:" in text and "share of the bound" in text
    rep = json.loads((out / "compare.json").read_text())
    b = rep["bound"]
    assert b["strategy"].startswith("oracle:") and b["estimates"]["as_cost_saving"]["estimate"] > 0
    s = b["share_of_bound"]["as_cost_saving"]
    want = rep["estimates"]["as_cost_saving"]["estimate"] / b["estimates"]["as_cost_saving"]["estimate"]
    assert s["estimate"] == pytest.approx(want) and s["ci_low"] <= s["ci_high"]
    assert main(["compare", "toxic_burst", "--baseline", "symmetric:half_spread=1,max_position=5", "--treated",
                 "symmetric:half_spread=2,max_position=5", "--bound", "oracle:horizon=1s,nosuch=1", "--rows", "20000",
                 "--seeds", "1", "--out", str(tmp_path / "c")]) == 2


def test_windows_cut_one_history_into_paths(tmp_path):
    """Real data is one history: --windows N pools N stretches of one run (no restart at the cuts)."""
    rep = run_compare("toxic_burst", "symmetric:half_spread=1,max_position=5", "symmetric:half_spread=2,max_position=5",
                      tmp_path / "w", rows=60_000, seeds=[1], windows=3, block="5s", n_boot=200)
    assert rep["n_paths"] == 3 and [p["window"] for p in rep["paths"]] == [1, 2, 3]
    one = run_compare("toxic_burst", "symmetric:half_spread=1,max_position=5", "symmetric:half_spread=2,max_position=5",
                      tmp_path / "one", rows=60_000, seeds=[1], block="5s", horizon=rep["horizon"], n_boot=200)
    # the windows partition the run: their net differences add up to the whole run's
    assert sum(p["net_pnl_difference"] for p in rep["paths"]) == pytest.approx(one["paths"][0]["net_pnl_difference"])
    with pytest.raises(ConfigError, match="--windows"):
        run_compare("toxic_burst", BASE, TREAT, tmp_path / "x", rows=20_000, seeds=[1, 2], windows=2)


def test_a_prediction_rule_without_a_model_is_named(tmp_path):
    rep = run_compare("toxic_burst", "symmetric:half_spread=1,max_position=5",
                      "pull:half_spread=1,threshold=0.5,max_position=5", tmp_path / "p", rows=20_000, seeds=[1],
                      n_boot=50)
    assert any("no --model was given" in w for w in rep["warnings"])
    assert rep["estimates"]["net_pnl_difference"]["estimate"] == 0.0
