"""Command line: `scenarios list/show` and argument errors (the `run` tests come with the engine)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmsim.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, out, err, text):
    assert code == 2
    assert err.startswith("mmsim: error: ") and err.count("\n") == 1, err  # exactly one line
    assert text in err, err
    assert "Traceback" not in out + err


def test_scenarios_list(capsys):
    code, out, err = run_cli(capsys, "scenarios", "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert any(line.split()[0] == "quiet" and len(line.split()) > 1 for line in lines)


def test_scenarios_show(capsys):
    code, out, err = run_cli(capsys, "scenarios", "show", "quiet")
    assert code == 0 and err == ""
    assert out.startswith("# ") and "quiet.toml" in out.splitlines()[0]
    assert "[source]" in out and 'kind = "synthetic_market"' in out and 'preset = "quiet"' in out


def test_scenarios_show_by_path(capsys, tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text("[scenario]\n[instrument]\ntick_size = 1\n[source]\nkind = 'synthetic_l2'\nn_rows = 10\n")
    code, out, _ = run_cli(capsys, "scenarios", "show", str(p))
    assert code == 0 and "n_rows = 10" in out


@pytest.mark.parametrize("argv, text", [
    ([], "missing command"),
    (["scenarios"], "missing command"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["scenarios", "show"], "required: NAME"),
    (["scenarios", "show", "nope"], "unknown scenario 'nope'"),
    (["scenarios", "show", "missing/file.toml"], "scenario file missing/file.toml not found"),
    (["run"], "required: SCENARIO, --out"),
    (["run", "quiet"], "required: --out"),
    (["run", "quiet", "--out", "o", "--rows", "0"], "argument --rows: 0 must be > 0"),
    (["run", "quiet", "--out", "o", "--rows", "ten"], "argument --rows: 'ten' is not an integer"),
    (["run", "quiet", "--out", "o", "--seed", "-1"], "argument --seed: -1 must be >= 0"),
    (["run", "quiet", "--out", "o", "--engine", "gpu"], "argument --engine: invalid choice: 'gpu'"),
    (["run", "quiet", "--out", "o", "--frob"], "unrecognized arguments: --frob"),
    (["run", "nope", "--out", "o"], "unknown scenario 'nope'"),
    (["run", "quiet", "--out", "o", "--feed-latency", "2 parsecs"], "--feed-latency: latency '2 parsecs'"),
    (["run", "quiet", "--out", "o", "--order-latency", "data"], "--entry-latency 'data'"),
    (["run", "quiet", "--out", "o", "--cancel-latency=-1ms"], "--cancel-latency: latency '-1ms': must be >= 0"),
    (["run", "quiet", "--out", "o", "--compute-latency", "measured:fast"], "--compute-latency: latency 'measured:fast'"),
    (["run", "quiet", "--out", "o", "--queue-model", "fifo"], "--queue-model 'fifo': unknown"),
    (["run", "quiet", "--out", "o", "--queue-model", "power:x"], "--queue-model 'power:x'"),
    (["run", "quiet", "--out", "o", "--queue-model", "log:2"], "only power takes a parameter"),
])
def test_argument_errors(capsys, argv, text):
    assert_usage_error(*run_cli(capsys, *argv), text)


def test_bad_scenario_file_is_one_line(capsys, tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[scenario]\n[instrument]\ntick_size = 1\n[source]\nkind = 'synthetic_l2'\nn_rows = 10\n"
                 "[engine]\nqueue_modle = 'log'\n")
    assert_usage_error(*run_cli(capsys, "run", str(p), "--out", str(tmp_path / "o")),
                       "[engine] queue_modle: unknown key")
    assert_usage_error(*run_cli(capsys, "scenarios", "show", str(p)), "queue_modle")


def test_bad_strategy_is_one_line(capsys, tmp_path):
    assert_usage_error(*run_cli(capsys, "run", "quiet", "--out", str(tmp_path / "o"),
                                "--strategy", "nowhere.py:Q"), "strategy 'nowhere.py:Q': file nowhere.py not found")
    assert_usage_error(*run_cli(capsys, "run", "quiet", "--out", str(tmp_path / "o"),
                                "--strategy", "symmetric:size=0"), "size=0 must be > 0")


def test_out_is_a_file(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    assert_usage_error(*run_cli(capsys, "run", "quiet", "--out", str(f)), "exists and is not a directory")


def test_help_exits_zero(capsys):
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and "--feed-latency" in out and "--order-latency" in out


def test_python_dash_m(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mmsim", "scenarios", "list"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "quiet" in r.stdout
    r = subprocess.run([sys.executable, "-m", "mmsim", "run", "nope", "--out", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("mmsim: error: unknown scenario 'nope'") and r.stderr.count("\n") == 1


def test_bench_prints_the_recorded_figures(capsys):
    code, out, err = run_cli(capsys, "bench", "--dir", str(ROOT / "benchmarks" / "results"))
    assert code == 0 and "mmsim / hftbacktest" in out and "full feature bank update" in out
    code, out, _ = run_cli(capsys, "bench", "--json", "--dir", str(ROOT / "benchmarks" / "results"))
    import json

    assert code == 0 and "engine" in json.loads(out)
    code, _, err = run_cli(capsys, "bench", "--dir", "/nonexistent")
    assert code == 2 and "no benchmark results" in err
