"""The real-data worked example's scenario files (examples/real, docs/worked-example-real.md) run as the page
says: convert the samples, train on the first part, compare on the second (its book rebuilt at the window's
start) cut into windows, on LOBSTER AMZN and Binance USD-M."""
import json
import shutil
from pathlib import Path

from adapters_helpers import shared
from mmsim.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "real"


def _setup(tmp_path: Path, *names: str) -> None:
    for name in names:
        shutil.copy(EXAMPLES / name, tmp_path / name)


def test_amzn_morning_trains_and_afternoon_compares_in_windows(tmp_path, monkeypatch, capsys):
    zip_ = shared("lobster", "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")
    _setup(tmp_path, "amzn_am.toml", "amzn_pm.toml")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "convert", "--format", "lobster", str(zip_), "--out", "amzn5.mmstore"]) == 0
    assert main(["train", "amzn_am.toml", "--model", "linear", "--horizon", "1s", "--out", "m.json"]) == 0
    out = capsys.readouterr().out
    assert "09:30:00" in out and "New York (2012-06-21)" in out  # the training window in clock time
    model = json.loads(Path("m.json").read_text())
    assert model["training"]["end_ts"] <= 1340294400000000000  # 12:00 New York: nothing from the afternoon
    b, t = "symmetric:half_spread=3,size=100,max_position=500", "skew_pull:half_spread=3,k=1,threshold=0.5,size=100,max_position=500"
    assert main(["compare", "amzn_pm.toml", "--baseline", b, "--treated", t, "--model", "m.json", "--windows", "2",
                 "--rows", "30000", "--out", "cmp"]) == 0
    cmp_ = json.loads(Path("cmp/compare.json").read_text())
    assert cmp_["n_paths"] == 2
    summary = json.loads(Path("cmp/baseline/summary.json").read_text())
    assert summary["first_time"].startswith("2012-06-21T12:00:00")  # the afternoon starts at noon, New York


def test_usdm_scenarios_load_and_split_the_capture(tmp_path, monkeypatch):
    gz = shared("binance", "usdm_btcusdt_20240808.gz")
    _setup(tmp_path, "usdm_first.toml", "usdm_second.toml")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "convert", "--format", "binance", str(gz), "--tick-size", "0.1", "--lot-size", "0.001",
                 "--out", "usdm.mmstore"]) == 0
    from mmsim.data.scenario import load_scenario

    first, _ = load_scenario("usdm_first.toml").load_events()
    second, _ = load_scenario("usdm_second.toml").load_events()
    split = 1723161430000000000  # 2024-08-08T23:57:10Z
    assert first.meta["n_rows"] > 100_000 and second.meta["n_rows"] > 100_000
    assert next(first.iter_chunks())["exch_ts"][0] < split <= next(second.iter_chunks())["exch_ts"][0]


def test_spot_quoted_with_the_perp_as_a_signal_venue(tmp_path, monkeypatch, capsys):
    """Both Binance captures convert, the scenario loads the perp as a signal venue over the spot's window, the
    whole spot capture replays (its far resting orders fit the book), and compare runs the defence in windows."""
    _setup(tmp_path, "spot_perp.toml")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "convert", "--format", "binance", str(shared("binance", "usdm_btcusdt_20240808.gz")),
                 "--tick-size", "0.1", "--lot-size", "0.001", "--out", "usdm.mmstore"]) == 0
    assert main(["data", "convert", "--format", "binance", str(shared("binance", "spot_btcusdt_20240808.gz")),
                 "--tick-size", "0.01", "--lot-size", "0.00000001", "--out", "spot.mmstore"]) == 0
    assert main(["run", "spot_perp.toml", "--out", "run"]) == 0
    s = json.loads(Path("run/summary.json").read_text())
    assert s["signal_venues"] == ["perp"] and s["n_events"] > 120_000 and s["signal_rows"][0] > 400_000
    assert main(["audit", "run"]) == 0
    capsys.readouterr()
    b = "symmetric:half_spread=1,size=100000,max_position=500000"
    t = "lead_defence:window=20ms,threshold=1,half_spread=1,size=100000,max_position=500000"
    assert main(["compare", "spot_perp.toml", "--baseline", b, "--treated", t, "--windows", "2",
                 "--feed-latency", "perp=2ms", "--n-boot", "200", "--out", "cmp"]) == 0
    out = capsys.readouterr().out
    assert "perp feed latency 2ms" in out
    report = json.loads(Path("cmp/compare.json").read_text())
    assert report["n_paths"] == 2
    # the signal venue's settings, not its 448k rows
    assert report["settings"]["signals"]["perp"] == {"feed_latency": "2ms", "features": None, "tick_size": 0.1,
                                                     "lot_size": 0.001, "n_rows": s["signal_rows"][0]}
    assert Path("cmp/compare.json").stat().st_size < 2_000_000
