"""Latency sweeps on Dask: identical results with 1 or N workers, resume without losing or repeating points."""
import json

import pandas as pd
import pytest

from mmsim.cli import main
from mmsim.analysis.sweep import SweepSpec, break_even, run_sweep, split_specs

SPEC = SweepSpec(scenario="toxic_burst", baseline="symmetric:half_spread=1", treated="symmetric:half_spread=2",
                 feed_latencies=("0", "2ms", "lognormal:median=20ms,sigma=0.5"), compute_latencies=("0", "profile:high_clock"),
                 seed=4, horizon="1s", block="10s", n_boot=200, rows=40_000)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep1")
    return out, run_sweep(SPEC, out, workers=1, progress=False)


def test_same_results_with_one_or_two_workers(one_worker, tmp_path):
    out1, s1 = one_worker
    s2 = run_sweep(SPEC, tmp_path, workers=2, progress=False)
    assert s1["n_points"] == s2["n_points"] == 6
    pd.testing.assert_frame_equal(pd.read_parquet(out1 / "sweep.parquet"), pd.read_parquet(tmp_path / "sweep.parquet"))
    for p in SPEC.points():
        name = f"points/{p['id']}.json"
        assert (out1 / name).read_bytes() == (tmp_path / name).read_bytes()
    assert s1["break_even"] == s2["break_even"]


def test_resume_recomputes_only_missing_or_torn_points(one_worker):
    out, _ = one_worker
    points = SPEC.points()
    lost, torn = out / "points" / f"{points[1]['id']}.json", out / "points" / f"{points[4]['id']}.json"
    kept = [out / "points" / f"{p['id']}.json" for i, p in enumerate(points) if i not in (1, 4)]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in kept}
    want_lost, want_torn = lost.read_bytes(), torn.read_bytes()
    lost.unlink()
    torn.write_text('{"id": "trunc')                        # a point killed mid-write by a non-atomic writer
    run_sweep(SPEC, out, workers=1, progress=False)
    assert lost.read_bytes() == want_lost and torn.read_bytes() == want_torn
    for p, (mtime, data) in before.items():                  # finished points were not recomputed
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data


def test_sweep_outputs(one_worker):
    out, summary = one_worker
    frame = pd.read_parquet(out / "sweep.parquet")
    for col in ("as_cost_saving", "as_cost_saving_lo", "as_cost_saving_hi", "spread_capture_given_up",
                "net_pnl_difference", "net_pnl_difference_lo", "net_pnl_difference_hi", "feed_latency_ns"):
        assert col in frame
    assert (out / "sweep.png").stat().st_size > 10_000
    saved = json.loads((out / "sweep.json").read_text())
    assert len(saved["break_even"]) == 2 and saved["n_points"] == 6
    assert not any(f.name.endswith(".tmp") for f in (out / "points").iterdir())


def test_break_even_is_the_first_latency_whose_interval_includes_zero():
    frame = pd.DataFrame({"compute_latency": ["0"] * 4, "feed_latency": ["0", "1ms", "5ms", "20ms"],
                          "feed_latency_ns": [0, 1e6, 5e6, 2e7], "net_pnl_difference": [3.0, 2.0, 0.5, -1.0],
                          "net_pnl_difference_lo": [1.0, 0.2, -0.4, -2.0]})
    (be,) = break_even(frame)
    assert be["break_even_feed_latency"] == "5ms" and be["status"] == "break-even found"
    frame["net_pnl_difference_lo"] = 0.1
    (be,) = break_even(frame)
    assert be["break_even_feed_latency"] is None and be["status"] == "net saving significant at every latency swept"
    frame["net_pnl_difference_lo"] = [-1.0, 0.5, 0.5, 0.5]
    (be,) = break_even(frame)
    assert be["break_even_feed_latency"] is None and be["status"].startswith("no significant net saving")


def test_latency_lists_keep_distribution_parameters_together():
    assert split_specs("0,250us,lognormal:median=2ms,sigma=0.6,data+3ms") == (
        "0", "250us", "lognormal:median=2ms,sigma=0.6", "data+3ms")


def test_bad_sweep_input_is_a_one_line_error(tmp_path, capsys):
    assert main(["sweep", "quiet", "--baseline", "symmetric", "--treated", "nosuch", "--feed-latency", "0",
                 "--out", str(tmp_path)]) == 2
    assert main(["sweep", "quiet", "--baseline", "symmetric", "--treated", "symmetric", "--feed-latency", "1parsec",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("mmsim: error:") == 2 and "nosuch" in err and "1parsec" in err


def test_sweep_on_a_running_scheduler(tmp_path):
    """--scheduler ADDRESS: the same points through an existing Dask cluster give the same files."""
    from distributed import LocalCluster

    spec = SweepSpec(scenario="quiet", baseline="symmetric:half_spread=1", treated="symmetric:half_spread=2",
                     feed_latencies=("0", "5ms"), block="10s", n_boot=100, rows=20_000)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_cluster = run_sweep(spec, tmp_path / "a", scheduler=cluster.scheduler_address, progress=False)
    local = run_sweep(spec, tmp_path / "b", workers=1, progress=False)
    assert on_cluster["points"] == local["points"]
