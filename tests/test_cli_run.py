"""`mmsim run` end to end: the output contract, determinism, plugins, and bad input as exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmsim import records as R
from mmsim.cli import main
from mmsim.data.synthetic import generate_l2

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """
[scenario]
name = "small"
description = "small synthetic market for tests"
[instrument]
tick_size = 0.01
lot_size = 1.0
[source]
kind = "synthetic_l2"
n_rows = 20_000
seed = 5
[latency]
feed = "lognormal:median=1ms,sigma=0.5"
entry = "gamma:shape=2,scale=500us"
cancel = "1ms"
response = "1ms"
[fees]
maker_bps = -0.5
taker_bps = 2.0
[engine]
timer_interval = "50ms"
[strategy]
default = "symmetric:half_spread=1,size=1"
"""


@pytest.fixture()
def scenario(tmp_path):
    p = tmp_path / "small.toml"
    p.write_text(SCENARIO)
    return p


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *texts):
    assert code == 2, err
    assert err.startswith("mmsim: error: ") and err.count("\n") == 1, err
    for t in texts:
        assert t in err, err
    assert "Traceback" not in err


def test_run_writes_the_contract_files(capsys, scenario, tmp_path):
    out = tmp_path / "out"
    code, text, err = run(capsys, "run", scenario, "--out", out, "--no-progress")
    assert code == 0, err
    for name in ("fills.parquet", "orders.parquet", "decisions.parquet", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    for key in ("pnl", "position", "n_fills", "volume", "fees", "n_events", "wall_s", "events_per_s"):
        assert key in summary
    fills = pd.read_parquet(out / "fills.parquet")
    assert len(fills) == summary["n_fills"] > 0
    assert fills["qty"].sum() == summary["volume"]
    assert summary["n_events"] == 20_000
    assert "PnL" in text or "pnl" in text.lower()
    decisions = pd.read_parquet(out / "decisions.parquet")
    assert {"data_exch_ts", "data_arrival_ts", "ts"} <= set(decisions.columns)


def test_same_seed_identical_fills_parquet(capsys, scenario, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, seed in ((a, 3), (b, 3), (c, 4)):
        code, _, err = run(capsys, "run", scenario, "--seed", seed, "--out", d, "--no-progress")
        assert code == 0, err
    assert (a / "fills.parquet").read_bytes() == (b / "fills.parquet").read_bytes()
    assert (a / "decisions.parquet").read_bytes() == (b / "decisions.parquet").read_bytes()
    assert (a / "fills.parquet").read_bytes() != (c / "fills.parquet").read_bytes()


@pytest.mark.parametrize("spec", ["strategies/join_best.py:JoinBest:size=2,max_position=3",
                                  "strategies/join_best_numba.py:join_best:size=2,max_position=3"])
def test_plugins_from_files_give_the_same_result(capsys, scenario, tmp_path, spec):
    out = tmp_path / "o"
    code, _, err = run(capsys, "run", scenario, "--strategy", str(ROOT / spec), "--out", out, "--no-progress")
    assert code == 0, err
    fills = pd.read_parquet(out / "fills.parquet")
    assert len(fills) > 0 and fills["position"].abs().max() <= 3 + 2  # limit plus one in-flight order


def test_python_and_numba_plugins_agree(capsys, scenario, tmp_path):
    results = []
    for spec in ("strategies/join_best.py:JoinBest:size=2", "strategies/join_best_numba.py:join_best:size=2"):
        out = tmp_path / spec.split(":")[1]
        code, _, err = run(capsys, "run", scenario, "--strategy", str(ROOT / spec), "--out", out, "--no-progress")
        assert code == 0, err
        results.append(pd.read_parquet(out / "fills.parquet"))
    pd.testing.assert_frame_equal(results[0], results[1])


def test_reference_engine_from_the_cli_matches(capsys, scenario, tmp_path):
    for engine in ("cpp", "reference"):
        code, _, err = run(capsys, "run", scenario, "--rows", 4000, "--engine", engine, "--out", tmp_path / engine,
                           "--no-progress")
        assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cpp" / "fills.parquet"),
                                  pd.read_parquet(tmp_path / "reference" / "fills.parquet"))


def write_events_scenario(tmp_path, events):
    data = tmp_path / "events.parquet"
    pd.DataFrame({name: events[name] for name in events.dtype.names if name != "_pad"}).to_parquet(data)
    p = tmp_path / "data.toml"
    p.write_text(SCENARIO.replace('kind = "synthetic_l2"\nn_rows = 20_000\nseed = 5',
                                  f'kind = "events_parquet"\npath = "{data}"'))
    return p


def test_unsorted_timestamps_exit_2_naming_file_and_row(capsys, tmp_path):
    ev = generate_l2(2_000, seed=1)
    ev["exch_ts"][1500] = ev["exch_ts"][1499] - 1
    p = write_events_scenario(tmp_path, ev)
    code, _, err = run(capsys, "run", p, "--out", tmp_path / "o")
    one_line_error(code, err, "events.parquet", "row 1500")


def test_crossed_book_in_data_exit_2_naming_row(capsys, tmp_path):
    ev = generate_l2(2_000, seed=1)
    i = int(np.flatnonzero(ev["kind"] == R.DEPTH)[700])
    ev["side"][i], ev["price"][i], ev["qty"][i] = 1, 20_000, 5   # a bid far through the offer
    p = write_events_scenario(tmp_path, ev)
    code, _, err = run(capsys, "run", p, "--out", tmp_path / "o", "--no-progress")
    one_line_error(code, err, "crossed book")
    assert "row " in err


@pytest.mark.parametrize("argv,text", [
    (["--feed-latency", "lognormal:median=oops"], "lognormal:median=oops"),
    (["--strategy", "nosuch:half_spread=1"], "nosuch"),
    (["--strategy", "symmetric:half_spread=-1"], "half_spread"),
    (["--compute-latency", "measured:2"], "measured:2"),
])
def test_bad_options_exit_2(capsys, scenario, tmp_path, argv, text):
    code, _, err = run(capsys, "run", scenario, *argv, "--out", tmp_path / "o")
    one_line_error(code, err, text)


def test_strategy_error_is_one_line_exit_2(capsys, scenario, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("class Bad:\n    def on_wakeup(self, ctx):\n        return {}['missing']\n")
    code, _, err = run(capsys, "run", scenario, "--strategy", f"{bad}:Bad", "--out", tmp_path / "o", "--no-progress")
    one_line_error(code, err, "strategy", "Bad", "KeyError", "failed at t=")


def test_bundled_scenario_in_a_real_process(tmp_path):
    out = tmp_path / "quiet"
    proc = subprocess.run([sys.executable, "-m", "mmsim", "run", "quiet", "--rows", "20000", "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["n_events"] == 20_000


@pytest.mark.parametrize("compute", ["profile:high_clock", "measured:x2", "0"])
def test_compute_latency_forms_from_the_cli_and_the_scenario(capsys, scenario, tmp_path, compute):
    code, _, err = run(capsys, "run", scenario, "--compute-latency", compute, "--rows", 5000, "--out",
                       tmp_path / "a", "--no-progress")
    assert code == 0, err
    text = scenario.read_text().replace('response = "1ms"', f'response = "1ms"\ncompute = "{compute}"')
    (tmp_path / "s.toml").write_text(text)
    code, _, err = run(capsys, "run", tmp_path / "s.toml", "--rows", 5000, "--out", tmp_path / "b", "--no-progress")
    assert code == 0, err


def test_model_compute_latency_needs_a_model(capsys, scenario, tmp_path):
    code, _, err = run(capsys, "run", scenario, "--compute-latency", "model:x3", "--out", tmp_path / "o")
    one_line_error(code, err, "needs a model")
