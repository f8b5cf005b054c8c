"""Quoting several venues through the public layers (issue 12 stage 2; docs/venues.md "Quoting several venues"):
``simulate(signals={name: Venue(..., quoted=True)})`` in both engines, the results and their files, the audit,
scenario ``[venues.NAME]`` tables, ``mmsim run`` and the clear lines for what cannot be done."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmsim import Instrument, Quotes, Venue, simulate
from mmsim.data.synthetic import generate_l2
from mmsim.engine.results import write_results
from mmsim.errors import ConfigError, StrategyError

ROOT = Path(__file__).resolve().parents[1]


class BothVenues:
    """Symmetric one tick around each quoted venue's delayed mid; every 7th wakeup also a low-level IOC on the
    second venue (a taker fill there), so both target and order paths are exercised."""

    def __init__(self, names=None):
        self.names, self.n = names, 0

    def on_wakeup(self, ctx):
        self.n += 1
        out = {}
        for name in self.names or ctx.venue_names:
            v = ctx.venue(name)
            if not v.quoted:
                continue
            if v.bid_qty == 0 or v.ask_qty == 0:
                out[name] = Quotes(0, 0, 0, 0)
                continue
            out[name] = Quotes(v.best_bid - 1, 1, v.best_ask + 1, 1)
        if self.n % 7 == 0 and len(ctx.venue_names) > 1:
            v = ctx.venue(1)
            if v.quoted and v.ask_qty > 0:
                ctx.submit(1, v.best_ask, 1, "ioc", venue=1)
        return out


def markets(n=20_000):
    a = generate_l2(n, seed=3)
    b = generate_l2(n, seed=4)
    return a, b


def run(engine="cpp", quoted=True, strategy=None, **kw):
    a, b = markets()
    venue = Venue(b, Instrument(tick_size=0.5, lot_size=0.01), feed_latency="300us", quoted=quoted,
                  **({"entry_latency": "2ms", "maker_fee_bps": -1.0} if quoted else {}))
    return simulate(a, Instrument(tick_size=0.01, lot_size=1.0), strategy or BothVenues(), engine=engine,
                    feed_latency="1ms", entry_latency="500us", cancel_latency="500us", response_latency="500us",
                    timer_interval_ns=50_000_000, wake_on_feed=False, taker_fee_bps=2.0, seed=5,
                    instrument_name="spot", signals={"perp": venue}, **kw)


@pytest.fixture(scope="module")
def both():
    return run()


def test_fills_orders_and_quotes_carry_the_venue(both):
    f, o, q = both.fills, both.orders, both.quotes
    assert set(f["instrument"].astype(str)) == {"spot", "perp"}
    assert (f["instrument"].astype(str) == np.where(f["venue"] == 0, "spot", "perp")).all()
    assert set(o["instrument"].astype(str)) == {"spot", "perp"}
    assert (f.loc[f["venue"] == 1, "cause_name"].astype(str) == "taker").any()  # the IOCs on perp
    # one quotes row per decision for the one other quoted venue, its targets as the strategy set them
    assert len(q) == len(both.decisions)
    assert (q["venue"] == 1).all() and (q["instrument"].astype(str) == "perp").all()
    assert (q["decision_id"].to_numpy() == both.decisions["decision_id"].to_numpy()).all()
    assert ((q["bid_qty"] == 1) | (q["bid_qty"] == 0)).all()
    s = both.summary
    assert s["quoted_venues"] == ["spot", "perp"]
    (perp,) = s["quoted"]
    assert perp["name"] == "perp" and perp["venue"] == 1
    assert perp["n_fills"] == int((f["venue"] == 1).sum())
    assert s["n_fills"] == int((f["venue"] == 0).sum())  # the top-level figures are the first venue's
    # each venue's position is the running sum of its own fills
    for v in (0, 1):
        fv = f[f["venue"] == v]
        assert (np.cumsum(fv["side"].to_numpy() * fv["qty"].to_numpy()) == fv["position"].to_numpy()).all()


def test_the_reference_simulator_gives_the_same_run(both):
    ref = run(engine="reference")
    for name in ("fills", "orders", "decisions", "quotes"):
        pd.testing.assert_frame_equal(getattr(ref, name), getattr(both, name), obj=name)
    keep = ("quoted", "n_fills", "pnl", "position", "fees", "n_orders")
    assert {k: ref.summary[k] for k in keep} == {k: both.summary[k] for k in keep}


def test_a_single_venue_run_has_no_venue_columns():
    a, _ = markets()
    r = simulate(a, Instrument(), "symmetric", timer_interval_ns=50_000_000, wake_on_feed=False)
    assert "venue" not in r.fills and "instrument" not in r.fills and "venue" not in r.orders
    assert len(r.quotes) == 0 and "quoted" not in r.summary and "quoted_venues" not in r.summary


def test_a_read_only_venue_makes_no_quotes_and_refuses_targets():
    r = run(quoted=False, strategy=BothVenues(names=["spot"]))
    assert "instrument" not in r.fills and len(r.quotes) == 0
    class QuotesPerp:
        def on_wakeup(self, ctx):
            v = ctx.venue("perp")
            return {"perp": Quotes(v.best_bid - 1, 1, v.best_ask + 1, 1)} if v.bid_qty and v.ask_qty else None

    class SendsToPerp:
        def on_wakeup(self, ctx):
            v = ctx.venue("perp")
            if v.ask_qty:
                ctx.submit(1, v.best_ask, 1, "ioc", venue="perp")

    for engine in ("cpp", "reference"):
        for strategy in (QuotesPerp(), SendsToPerp()):
            with pytest.raises(StrategyError, match="read-only instrument 'perp' \\(mark it quoted\\)"):
                run(engine=engine, quoted=False, strategy=strategy)


def test_order_session_keys_on_a_read_only_venue_are_one_line():
    a, b = markets(2_000)
    with pytest.raises(ConfigError, match="signal 'perp': entry_latency applies to a quoted venue only"):
        simulate(a, Instrument(), "symmetric", signals={"perp": Venue(b, entry_latency="1ms")})
    with pytest.raises(ConfigError, match="venue 'perp': queue_model must be one of"):
        simulate(a, Instrument(), "symmetric", signals={"perp": Venue(b, quoted=True, queue_model="fifo")})
    with pytest.raises(ConfigError, match="venue 'perp': entry_latency"):
        simulate(a, Instrument(), "symmetric", signals={"perp": Venue(b, quoted=True, entry_latency="-3ms")})


def test_a_quoted_venues_latency_draws_are_its_own():
    """Changing the first venue's entry latency spec never moves the other venue's draws (own seeded streams)."""
    from mmsim.engine.sim import _quoted_meta

    run_a = dict(queue_model="risk_averse", queue_power=2.0, maker_fee_bps=0.0, taker_fee_bps=0.0, post_only=False,
                 entry_latency="lognormal:median=1ms,sigma=0.5", cancel_latency="1ms", response_latency="1ms")
    run_b = {**run_a, "entry_latency": "lognormal:median=9ms,sigma=0.5"}
    v = Venue(np.zeros(0), quoted=True, entry_latency="lognormal:median=2ms,sigma=0.5")
    ma = _quoted_meta(v, "perp", "venue 'perp'", 7, run_a)
    mb = _quoted_meta(v, "perp", "venue 'perp'", 7, run_b)
    assert np.array_equal(ma["latencies"]["entry"], mb["latencies"]["entry"])
    other = _quoted_meta(v, "spot2", "venue 'spot2'", 7, run_a)
    assert not np.array_equal(ma["latencies"]["entry"], other["latencies"]["entry"])


def test_written_results_are_audited_quotes_included(both, tmp_path):
    from mmsim.analysis.audit import audit_dir

    out = tmp_path / "run"
    written = write_results(out, both)
    assert "quotes.parquet" in written
    files = pd.read_parquet(out / "fills.parquet")
    assert set(files["instrument"].astype(str)) == {"spot", "perp"}
    rep = audit_dir(out)
    assert rep["ok"], rep
    assert rep["quoted_venues"] == ["spot", "perp"]
    q = pd.read_parquet(out / "quotes.parquet")
    q.loc[3, "bid_price"] += 1  # one edited target
    q.to_parquet(out / "quotes.parquet", index=False)
    rep = audit_dir(out)
    assert not rep["ok"] and rep["quotes_chain_first_broken_row"] == 3
    assert "quotes.parquet: hash chain broken at row 3" in rep["failure"]
    (out / "quotes.parquet").unlink()
    rep = audit_dir(out)
    assert not rep["ok"] and "quotes.parquet: missing" in rep["failure"]


# ----------------------------------------------------------------------------------------- scenarios and CLI
BOTH = ROOT / "scenarios" / "perp_spot_both.toml"


def scenario_text(extra_perp: str, table: str = "venues") -> str:
    text = BOTH.read_text()
    head, _ = text.split("[venues.perp]", 1)
    return (head + f"[{table}.perp]\ntick_size = 0.01\n{extra_perp}\n[{table}.perp.source]\nkind = \"two_venue\"\n"
            "preset = \"perp_spot\"\nvenue = \"lead\"\nlag = \"50ms\"\nn_rows = 2000\n")


@pytest.mark.parametrize("table, extra, message", [
    ("signals", "quoted = true", "a [signals.NAME] venue is read-only; to quote it declare it as [venues.perp]"),
    ("venues", "entry_latency = \"1ms\"", "[venues.perp] entry_latency: applies to a quoted venue only"),
    ("venues", "quoted = true\nqueue_model = \"fifo\"", "[venues.perp] queue_model"),
    ("venues", "quoted = true\nentry_latency = \"soon\"", "[venues.perp] entry_latency"),
    ("venues", "quoted = 1", "[venues.perp] quoted: expected true or false"),
])
def test_bad_venue_tables_are_one_line(tmp_path, table, extra, message):
    from mmsim.data.scenario import load_scenario

    p = tmp_path / "s.toml"
    p.write_text(scenario_text(extra, table))
    with pytest.raises(ConfigError) as e:
        load_scenario(p)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_venue_table_and_a_signal_table_cannot_share_a_name(tmp_path):
    from mmsim.data.scenario import load_scenario

    p = tmp_path / "s.toml"
    text = scenario_text("quoted = true")
    p.write_text(text + text[text.index("[venues.perp]"):].replace("[venues.perp", "[signals.perp")
                 .replace("quoted = true\n", ""))
    with pytest.raises(ConfigError, match="the name is also a \\[signals.perp\\] table"):
        load_scenario(p)


def test_scenario_venue_settings_reach_the_run():
    from mmsim.data.scenario import load_scenario

    sc = load_scenario("perp_spot_both")
    assert sc.signals["perp"].quoted and sc.signals["perp"].table == "venues"
    assert sc.signals["perp"].session == {"entry_latency": "2ms", "cancel_latency": "2ms",
                                          "response_latency": "2ms", "maker_fee_bps": -0.5, "taker_fee_bps": 4.0}


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "mmsim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_mmsim_run_quotes_both_venues_and_prints_each(tmp_path):
    out = tmp_path / "both"
    p = cli("run", "perp_spot_both", "--rows", "40000", "--strategy",
            "strategies/two_venue_quoter.py:TwoVenueQuoter:lead=perp,threshold=1", "--out", str(out))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("venue "))
    assert lines[i + 1].startswith("spot") and lines[i + 2].startswith("perp") and lines[i + 3].startswith("total")
    assert lines[i + 4] == "details of spot (the first venue; the others' are in summary.json):"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["quoted_venues"] == ["spot", "perp"] and summary["quoted"][0]["n_fills"] > 0
    assert summary["n_fills"] > 0
    a = cli("audit", str(out))
    assert a.returncode == 0, a.stdout + a.stderr


def test_compare_refuses_a_scenario_quoting_several_venues(tmp_path):
    p = cli("compare", "perp_spot_both", "--baseline", "symmetric", "--treated", "symmetric:half_spread=2",
            "--out", str(tmp_path / "c"))
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "compare measures adverse selection on one quoted instrument" in p.stderr
