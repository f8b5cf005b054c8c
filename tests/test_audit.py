"""mmsim audit: causal decisions, an intact hash chain, and decisions that never depend on later data."""
import json

import pandas as pd
import pytest

from mmsim import Instrument, simulate
from mmsim.analysis.audit import audit_dir
from mmsim.engine.chain import chain_hashes
from mmsim.cli import main
from mmsim.data.market import generate_market
from mmsim.engine.results import write_results

RUN = dict(feed_latency="lognormal:median=1ms,sigma=0.5", entry_latency="500us", cancel_latency="500us",
           response_latency="500us", compute_latency="profile:high_clock", timer_interval_ns=50_000_000, seed=3)


@pytest.fixture(scope="module")
def market():
    return generate_market("toxic_burst", 40_000, seed=1).events


@pytest.fixture()
def run_dir(tmp_path, market):
    res = simulate(market, Instrument(0.01, 1), "symmetric:half_spread=1", **RUN)
    write_results(tmp_path / "run", res)
    return tmp_path / "run"


def test_a_fresh_run_passes(run_dir, capsys):
    report = audit_dir(run_dir)
    assert report["ok"] and report["decisions"] > 1000
    assert main(["audit", str(run_dir)]) == 0
    assert "audit passed" in capsys.readouterr().out


@pytest.mark.parametrize("tamper", ["edit", "drop", "swap", "summary"])
def test_any_later_edit_is_evident(run_dir, tamper, capsys):
    d = pd.read_parquet(run_dir / "decisions.parquet")
    if tamper == "edit":
        d.loc[500, "bid_price"] += 1
    elif tamper == "drop":
        d = d.drop(index=700).reset_index(drop=True)
    elif tamper == "swap":
        d = d.iloc[[*range(10), 11, 10, *range(12, len(d))]].reset_index(drop=True)
    if tamper == "summary":
        s = json.loads((run_dir / "summary.json").read_text())
        s["decision_chain"] = "0" * 64
        (run_dir / "summary.json").write_text(json.dumps(s))
    else:
        d.to_parquet(run_dir / "decisions.parquet", index=False)
    report = audit_dir(run_dir)
    assert not report["ok"]
    assert main(["audit", str(run_dir)]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_a_non_causal_row_fails_even_with_a_recomputed_chain(run_dir):
    d = pd.read_parquet(run_dir / "decisions.parquet")
    d.loc[100, "data_arrival_ts"] = d.loc[100, "ts"] + 1     # "used" data that had not arrived yet
    d["chain"] = chain_hashes(d)
    d.to_parquet(run_dir / "decisions.parquet", index=False)
    s = json.loads((run_dir / "summary.json").read_text())
    s["decision_chain"] = d["chain"].iloc[-1]
    (run_dir / "summary.json").write_text(json.dumps(s))
    report = audit_dir(run_dir)
    assert not report["ok"] and report["arrival_after_decision"] == 1


def test_truncating_the_data_after_t_leaves_every_decision_before_t_unchanged(market):
    full = simulate(market, Instrument(0.01, 1), "symmetric:half_spread=1", **RUN)
    cut_at = 25_000
    t_cut = int(market["exch_ts"][cut_at])
    part = simulate(market[:cut_at], Instrument(0.01, 1), "symmetric:half_spread=1", **RUN)
    # decisions strictly before the first truncated row could have arrived are identical
    before = lambda d: d[d["ts"] < t_cut].reset_index(drop=True)
    a, b = before(full.decisions), before(part.decisions)
    assert len(a) > 500
    pd.testing.assert_frame_equal(a, b)
    fa, fb = full.fills[full.fills.exch_ts < t_cut], part.fills[part.fills.exch_ts < t_cut]
    pd.testing.assert_frame_equal(fa.reset_index(drop=True), fb.reset_index(drop=True))


def test_audit_passes_on_every_bundled_scenario(tmp_path):
    from mmsim.data.scenario import list_scenarios

    for name in list_scenarios():
        assert main(["run", name, "--rows", "20000", "--no-progress", "--out", str(tmp_path / name)]) == 0
        assert audit_dir(tmp_path / name)["ok"], name
