"""Latency sweeps on Dask over many paths: identical results with 1 or N workers, resume without losing or
repeating work, one shared resample for every point, break-even read off the estimate with its interval."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from mmsim.analysis.sweep import SweepSpec, break_even, crossing, run_sweep, split_specs
from mmsim.cli import main

SPEC = SweepSpec(scenario="toxic_burst", baseline="symmetric:half_spread=1,max_position=5",
                 treated="symmetric:half_spread=2,max_position=5",
                 feed_latencies=("0", "2ms", "lognormal:median=20ms,sigma=0.5"),
                 compute_latencies=("0", "profile:high_clock"), seed=4, n_boot=200, rows=30_000, seeds=(1, 2, 3))


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep1")
    return out, run_sweep(SPEC, out, workers=1, progress=False)


def _files(out):
    return sorted(p.relative_to(out) for p in (out / "points").rglob("*.parquet"))


def test_same_results_with_one_or_two_workers(one_worker, tmp_path):
    out1, s1 = one_worker
    s2 = run_sweep(SPEC, tmp_path, workers=2, progress=False)
    assert s1["n_points"] == s2["n_points"] == 6 and s1["n_paths"] == 3
    pd.testing.assert_frame_equal(pd.read_parquet(out1 / "sweep.parquet"), pd.read_parquet(tmp_path / "sweep.parquet"))
    assert _files(out1) == _files(tmp_path) and len(_files(out1)) == 6 * 3
    for name in _files(out1):
        assert (out1 / name).read_bytes() == (tmp_path / name).read_bytes()
    assert s1["break_even"] == s2["break_even"]


def test_resume_recomputes_only_missing_or_torn_results(one_worker):
    out, _ = one_worker
    files = [out / f for f in _files(out)]
    lost, torn = files[1], files[7]
    kept = [f for i, f in enumerate(files) if i not in (1, 7)]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in kept}
    want_lost, want_torn = lost.read_bytes(), torn.read_bytes()
    lost.unlink()
    torn.write_bytes(want_torn[: len(want_torn) // 2])      # a file cut mid-write by a non-atomic writer
    run_sweep(SPEC, out, workers=1, progress=False)
    assert lost.read_bytes() == want_lost and torn.read_bytes() == want_torn
    for p, (mtime, data) in before.items():                  # finished work was not recomputed
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data


def test_sweep_outputs(one_worker):
    out, summary = one_worker
    frame = pd.read_parquet(out / "sweep.parquet")
    for col in ("as_cost_saving", "as_cost_saving_lo", "as_cost_saving_hi", "spread_capture_given_up",
                "inventory_difference_lo", "net_pnl_difference", "net_pnl_difference_lo", "net_pnl_difference_hi",
                "feed_latency_ns", "n_paths"):
        assert col in frame
    assert (frame["n_paths"] == 3).all()
    assert (out / "sweep.png").stat().st_size > 10_000
    saved = json.loads((out / "sweep.json").read_text())
    assert len(saved["break_even"]) == 2 and saved["n_points"] == 6
    assert saved["horizon_rule"] and saved["block_rule"].startswith("Politis")
    for be in saved["break_even"]:
        assert be["status"] and "significan" in be["significance"] and be["value_of_ms"] is not None
    assert not any(f.name.endswith(".tmp") for f in (out / "points").rglob("*"))


def test_every_point_shares_one_resample(one_worker):
    """The same replicate weights at every point: a point's replicates depend on the paths' structure and the
    seed, so an unchanged figure gives identical replicates at two points."""
    from mmsim.analysis.bootstrap import Resample

    a = Resample.draw([30, 31, 29], 4, 50, 7)
    b = Resample.draw([30, 31, 29], 4, 50, 7)
    x = np.random.default_rng(1).standard_normal((90, 3))
    assert np.array_equal(a.replicates(x), b.replicates(x))
    assert np.allclose(a.replicates(x[:, 1]), a.replicates(x)[:, 1], rtol=1e-12, atol=1e-12)  # one call or several


def test_crossing_is_interpolated_on_log_latency():
    L = np.array([1e6, 1e7, 1e8])
    c, changes = crossing(L, np.array([2.0, 1.0, -1.0]))
    assert c == pytest.approx(10 ** 7.5) and changes == 1
    assert crossing(L, np.array([-1.0, 1.0, 2.0]))[0] == 0.0
    assert math.isinf(crossing(L, np.array([1.0, 1.0, 1.0]))[0])


def _frame(y, lo):
    return pd.DataFrame({"compute_latency": ["0"] * 4, "feed_latency": ["0", "1ms", "10ms", "100ms"],
                         "feed_latency_ns": [0, 1e6, 1e7, 1e8], "net_pnl_difference": y,
                         "net_pnl_difference_lo": lo})


def test_break_even_describes_the_estimate_not_its_significance():
    # significant nowhere, but the estimate pays up to between 10 ms and 100 ms: that is the answer
    (be,) = break_even(_frame([3.0, 2.0, 1.0, -1.0], [-1.0] * 4))
    assert be["status"].startswith("pays up to") and 1e7 < be["break_even_ns"] < 1e8
    assert be["significant_at_fastest"] is False and "not significantly" in be["significance"]
    (be,) = break_even(_frame([3.0, 2.0, 1.0, 0.5], [1.0] * 4))
    assert be["status"].startswith("pays at every latency swept") and be["break_even_ns"] is None
    (be,) = break_even(_frame([-0.5, 1.0, 2.0, 3.0], [1.0] * 4))
    assert be["status"].startswith("never pays") and be["non_monotone"] is False
    (be,) = break_even(_frame([2.0, -1.0, 1.0, -1.0], [0.0] * 4))
    assert be["non_monotone"] and "not monotone" in be["status"]


def test_break_even_interval_and_value_of_a_millisecond_from_replicates():
    y = np.array([3.0, 2.0, 1.0, -1.0])
    reps = y + np.random.default_rng(0).normal(0, 0.2, (400, 4))
    (be,) = break_even(_frame(list(y), [0.5] * 4), reps)
    lo, hi = be["break_even_ci_ns"]
    assert lo < be["break_even_ns"] < hi
    assert be["value_of_ms"] == pytest.approx(-1.0)          # (2 - 3) / 1 ms
    vlo, vhi = be["value_of_ms_ci"]
    assert vlo < -1.0 < vhi


def test_latency_lists_keep_distribution_parameters_together():
    assert split_specs("0,250us,lognormal:median=2ms,sigma=0.6,data+3ms") == (
        "0", "250us", "lognormal:median=2ms,sigma=0.6", "data+3ms")


def test_bad_sweep_input_is_a_one_line_error(tmp_path, capsys):
    assert main(["sweep", "quiet", "--baseline", "symmetric", "--treated", "nosuch", "--feed-latency", "0",
                 "--out", str(tmp_path)]) == 2
    assert main(["sweep", "quiet", "--baseline", "symmetric", "--treated", "symmetric", "--feed-latency", "1parsec",
                 "--out", str(tmp_path)]) == 2
    assert main(["sweep", "quiet", "--baseline", "symmetric:max_position=5", "--treated", "symmetric",
                 "--feed-latency", "0", "--out", str(tmp_path)]) == 2
    assert main(["sweep", "quiet", "--baseline", "symmetric", "--treated", "symmetric", "--feed-latency", "5ms,5ms",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("mmsim: error:") == 4 and "nosuch" in err and "1parsec" in err and "risk limits" in err
    assert "5ms given twice" in err


def test_sweep_on_a_running_scheduler(tmp_path):
    """--scheduler ADDRESS: the same work through an existing Dask cluster gives the same results."""
    from distributed import LocalCluster

    spec = SweepSpec(scenario="quiet", baseline="symmetric:half_spread=1", treated="symmetric:half_spread=2",
                     feed_latencies=("0", "5ms"), block="10s", n_boot=100, rows=20_000, seeds=(1, 2))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        on_cluster = run_sweep(spec, tmp_path / "a", scheduler=cluster.scheduler_address, progress=False)
    local = run_sweep(spec, tmp_path / "b", workers=1, progress=False)
    assert on_cluster["points"] == local["points"]


def test_windows_cut_one_history_into_paths(tmp_path):
    """--windows N: one history's run cut into N paths at gather time; the points on disk are the same as
    without windows (so a sweep can be re-gathered with another N), and synthetic paths refuse it."""
    from dataclasses import replace

    one = replace(SPEC, seeds=(1,), compute_latencies=("0",), feed_latencies=("0", "20ms"), windows=None)
    plain = run_sweep(one, tmp_path, workers=1, progress=False)
    files = {f: (tmp_path / f).read_bytes() for f in _files(tmp_path)}
    cut = run_sweep(replace(one, windows=4), tmp_path, workers=1, progress=False)
    assert plain["n_paths"] == 1 and cut["n_paths"] == 4
    assert {f: (tmp_path / f).read_bytes() for f in _files(tmp_path)} == files  # nothing recomputed
    frame = pd.read_parquet(tmp_path / "sweep.parquet")
    assert (frame["n_paths"] == 4).all() and frame["net_pnl_difference_lo"].notna().all()
    # figures are per path: the same bins cut into 4 paths give a quarter of the one path's figure
    np.testing.assert_allclose(4 * frame["net_pnl_difference"], [p["net_pnl_difference"] for p in plain["points"]],
                               rtol=1e-9)
    assert main(["sweep", "toxic_burst", "--baseline", "symmetric", "--treated", "symmetric:half_spread=2",
                 "--feed-latency", "0,1ms", "--seeds", "1-3", "--windows", "4", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_the_printout_says_where_the_interval_excludes_zero():
    import pandas as pd

    from mmsim.analysis.sweep import significant_latencies

    g = pd.DataFrame({"feed_latency": ["0", "5ms", "50ms", "1s"], "net_pnl_difference_lo": [-0.1, 0.1, -0.2, -0.5],
                      "net_pnl_difference_hi": [0.9, 1.0, 0.3, -0.1]})
    assert significant_latencies(g) == ("the 95% interval excludes zero only for a significant net gain at 5ms; "
                                        "a significant net loss at 1s")
    assert significant_latencies(g.iloc[[0, 2]]) == ("no latency swept shows a net saving significantly different "
                                                     "from zero")
