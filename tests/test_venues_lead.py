"""Signal venues in scenario files, on the command line and in training (docs/venues.md): parsing, errors,
quoted window, seeds that follow the quoted path's, and the lead_defence built-in's rule (its Python twin)."""
from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

from mmsim.data.scenario import load_scenario, split_venue_spec
from mmsim.errors import ConfigError

QUOTED = """
[scenario]
name = "two"
[instrument]
tick_size = 1.0
[source]
kind = "synthetic_market"
preset = "quiet"
n_rows = 3000
seed = 7
"""

PERP = """
[signals.perp]
tick_size = 0.5
feed_latency = "2ms"
[signals.perp.source]
kind = "synthetic_market"
preset = "fast_perp"
n_rows = 4000
"""


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_signal_venue_loads_with_its_own_instrument_and_the_quoted_seed(tmp_path):
    sc = load_scenario(write(tmp_path, QUOTED + PERP))
    assert list(sc.signals) == ["perp"]
    ev, inst = sc.load_events()
    sev, sinst = sc.signal_events["perp"]
    assert sinst.tick_size == 0.5 and len(sev) == 4000
    kw = sc.sim_kwargs()
    assert kw["signals"]["perp"]["feed_latency"] == "2ms" and kw["signals"]["perp"]["events"] is sev
    # a synthetic signal source without its own seed follows the quoted path's seed (compare --seeds)
    other = dataclasses.replace(sc, source={**sc.source, "seed": 8})
    other.load_events()
    assert not np.array_equal(other.signal_events["perp"][0], sev)
    again = dataclasses.replace(sc, source={**sc.source, "seed": 7})
    again.load_events()
    assert np.array_equal(again.signal_events["perp"][0], sev)


def test_signal_venue_with_its_own_seed_keeps_it(tmp_path):
    sc = load_scenario(write(tmp_path, QUOTED + PERP + "seed = 3\n"))
    sc.load_events()
    a = sc.signal_events["perp"][0]
    other = dataclasses.replace(sc, source={**sc.source, "seed": 8})
    other.load_events()
    assert np.array_equal(other.signal_events["perp"][0], a)


def test_no_signals_keeps_sim_kwargs_unchanged(tmp_path):
    sc = load_scenario(write(tmp_path, QUOTED))
    sc.load_events()
    assert "signals" not in sc.sim_kwargs() and sc.signal_kwargs() == {}


@pytest.mark.parametrize("extra, needle", [
    ('[signals.perp]\ntick_size = 1.0\n', "missing table [signals.perp.source]"),
    ('[signals.perp]\nfeed_latency = "1ms"\n[signals.perp.source]\nkind = "synthetic_market"\npreset = "quiet"\n'
     'n_rows = 10\n', "[signals.perp] tick_size: missing"),
    (PERP.replace('n_rows = 4000', 'n_rows = 4000\nbogus = 1'), "[signals.perp.source] bogus: unknown key"),
    (PERP.replace('"fast_perp"', '"nope"'), "[signals.perp.source] preset: 'nope' must be one of"),
    (PERP.replace('"2ms"', '"abc"'), "[signals.perp] feed_latency: latency 'abc'"),
    (PERP.replace('feed_latency', 'feed_lag'), "[signals.perp] feed_lag: unknown key"),
    (PERP.replace('signals.perp', 'signals.quoted'), "[signals.quoted]: the name 'quoted' is the quoted"),
    (PERP.replace('signals.perp', 'signals.9x'), "a venue name is a letter then"),
    ('[signals]\n', "[signals] must hold one table per venue"),
])
def test_bad_signal_tables_are_one_line_naming_the_key(tmp_path, extra, needle):
    with pytest.raises(ConfigError) as e:
        load_scenario(write(tmp_path, QUOTED + extra))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_venue_latency_specs():
    assert split_venue_spec("perp=0,1ms,5ms") == ("perp", "0,1ms,5ms")
    assert split_venue_spec("lognormal:median=2ms,sigma=0.6") == (None, "lognormal:median=2ms,sigma=0.6")
    assert split_venue_spec("5ms") == (None, "5ms")
    assert split_venue_spec("perp=lognormal:median=2ms") == ("perp", "lognormal:median=2ms")


def test_set_signal_latency_names_the_known_venues(tmp_path):
    sc = load_scenario(write(tmp_path, QUOTED + PERP))
    with pytest.raises(ConfigError, match=r"no signal venue 'spot'.*signal venues: perp"):
        sc.set_signal_latency("spot", "1ms")
    with pytest.raises(ConfigError, match=r"--feed-latency perp=xyz"):
        sc.set_signal_latency("perp", "xyz")
    with pytest.raises(ConfigError, match=r"'quoted' is the scenario's first instrument; give its feed latency "
                                          r"without a name \(--feed-latency 2ms\)"):
        sc.set_signal_latency("quoted", "2ms")
    sc.set_signal_latency("perp", "7ms")
    sc.load_events()
    assert sc.sim_kwargs()["signals"]["perp"]["feed_latency"] == "7ms"


# ------------------------------------------------------------------------------------------ lead_defence twin
def ctx(now, lead, quoted=(100, 5, 102, 5)):
    bb, bq, ba, aq = quoted
    lb, lbq, la, laq = lead
    venue = SimpleNamespace(best_bid=lb, bid_qty=lbq, best_ask=la, ask_qty=laq)
    return SimpleNamespace(now=now, best_bid=bb, bid_qty=bq, best_ask=ba, ask_qty=aq, position=0,
                           pred_move=math.nan, venue=lambda k: venue)


def test_lead_defence_reads_the_lead_move_over_its_window():
    from mmsim.engine.quoters import LeadDefenceQuoter

    q = LeadDefenceQuoter(1, 10, half_spread=1.0, pull_threshold=0.5)
    assert math.isnan(q.move(ctx(0, (1000, 1, 1002, 1))))     # less than a window seen: no signal
    assert math.isnan(q.move(ctx(5, (1000, 1, 1002, 1))))
    # at t=10 the observation at t=0 is exactly a window old: lead mid 1001 -> 1011 (+1 %), quoted mid 101
    assert q.move(ctx(10, (1010, 1, 1012, 1))) == pytest.approx(20 / 2002 * 101)
    out = q.on_wakeup(ctx(10, (1010, 1, 1012, 1)))
    assert out.ask_qty == 0 and out.bid_qty == 1              # a rise on the lead pulls the ask
    # the t=0 and t=5 observations are older than the window at t=16: the newest at or before t=6 is t=5
    assert q.move(ctx(16, (1000, 1, 1002, 1))) == pytest.approx(0.0)
    assert math.isnan(q.move(ctx(17, (1000, 0, 1002, 1))))     # a one-sided lead: no signal


def test_lead_defence_needs_a_signal_venue():
    from mmsim.engine.loader import load_strategy
    from mmsim.engine.quoters import from_builtin

    spec, name = load_strategy("lead_defence:window=50ms,threshold=2")
    with pytest.raises(ConfigError, match="needs a signal venue"):
        from_builtin(spec.name, spec.params)
    with pytest.raises(ConfigError, match="window"):
        load_strategy("lead_defence:window=0")


# ------------------------------------------------------------------------------------------ training across venues
def test_venue_columns_and_model_inputs():
    from mmsim.signals.features import column_names, venue_columns

    cols = venue_columns("ofi:l=1:h=1s, perp/mid_return:h=100ms perp/ofi:l=1:h=100ms")
    assert cols == [(None, "ofi:l=1:h=1s"), ("perp", "mid_return:h=100ms"), ("perp", "ofi:l=1:h=100ms")]
    assert column_names(["mid", "perp/mid"]) == ["mid", "perp/mid"]
    assert column_names("mid,spread") == ["mid", "spread"]
    with pytest.raises(ConfigError, match="given twice"):
        venue_columns("perp/mid,perp/mid")
    with pytest.raises(ConfigError, match="unknown kind 'nope'"):
        venue_columns("mid,perp/nope:h=1s")


def test_train_reads_a_signal_venues_bank_at_the_sample_times(tmp_path):
    from mmsim.data import latency as L
    from mmsim.signals.batch import features_at
    from mmsim.signals.models import load_model
    from mmsim.signals.train import train, write_model

    sc = load_scenario(write(tmp_path, QUOTED.replace("3000", "20000") + PERP.replace("4000", "30000")))
    ev, _ = sc.load_events()
    perp = sc.signal_events["perp"][0]
    signals = {"perp": {"events": perp, "feed_latency": "2ms"}}
    specs = "mid_return:h=1s,perp/mid_return:h=100ms,perp/ofi:l=1:h=100ms"
    (res,) = train(ev, specs, "linear", [10**9], feed_latency="1ms", seed=4, signals=signals, folds=3)
    assert res.samples.columns == ["mid_return:h=1s", "perp/mid_return:h=100ms", "perp/ofi:l=1:h=100ms"]
    # the perp columns are its bank at the quoted samples' arrivals, through its own feed clock
    want = features_at(perp, ["mid_return:h=100ms", "ofi:l=1:h=100ms"], res.samples.arrival, feed_latency="2ms",
                       rng=L.signal_feed_stream(4, "perp"))
    assert np.array_equal(res.samples.X[:, 1:], want, equal_nan=True)
    path = write_model(res.model, tmp_path / "m.json")
    m = load_model(path)
    assert m.quoted_specs == ["mid_return:h=1s"]
    assert m.venue_specs == {"perp": ["mid_return:h=100ms", "ofi:l=1:h=100ms"]}
    assert m.input_map(["perp"]) == [(0, 0), (1, 0), (1, 1)]
    with pytest.raises(ConfigError, match="reads signal venue 'perp'"):
        m.input_map([])
    with pytest.raises(ConfigError, match="no signal venue 'spot'"):
        train(ev, "mid,spot/mid", "linear", [10**9], signals=signals)


@pytest.mark.parametrize("seed", [1, 2])
def test_lead_defence_native_equals_its_twin_on_two_venues(seed):
    """The native lead_defence and its Python twin (run by the reference engine) take identical decisions."""
    from mmsim.data.market import generate_market
    from mmsim.engine.sim import simulate

    q = generate_market("quiet", 8000, seed).events
    p = generate_market("fast_perp", 16000, seed).events
    spec = "lead_defence:window=50ms,threshold=0.3,k=0.5,half_spread=1,max_position=5"
    perp = {"perp": {"events": p, "feed_latency": "lognormal:median=1ms,sigma=0.5"}}
    runs = [simulate(q, strategy=spec, engine=eng, signals=perp,
                     feed_latency="2ms", entry_latency="1ms", seed=seed) for eng in ("cpp", "reference")]
    a, b = runs
    assert a.decisions.equals(b.decisions) and a.fills.equals(b.fills) and a.signal_data.equals(b.signal_data)
    assert (a.decisions.bid_qty == 0).any() and (a.decisions.ask_qty == 0).any()   # it does pull


def test_lead_defence_names_an_unknown_lead():
    from mmsim.data.market import generate_market
    from mmsim.engine.sim import simulate

    q = generate_market("quiet", 500, 1).events
    with pytest.raises(ConfigError, match=r"lead='spot' is not a signal venue of this run \(signal venues: perp\)"):
        simulate(q, strategy="lead_defence:lead=spot", signals={"perp": {"events": q}})
    with pytest.raises(ConfigError, match="needs a signal venue"):
        simulate(q, strategy="lead_defence")


def test_batch_equals_loop_for_signal_venue_features_and_a_two_venue_model(tmp_path):
    """What a strategy reads of a signal venue's bank at each wakeup equals batch mode at that time, and a model
    trained on features of both venues predicts in the loop what it predicts on the batch features."""
    from mmsim.data import latency as L
    from mmsim.data.market import generate_market
    from mmsim.engine.sim import simulate
    from mmsim.signals.batch import features_at
    from mmsim.signals.models import load_model
    from mmsim.signals.train import predict, train, write_model

    q = generate_market("quiet", 12000, 2).events
    p = generate_market("fast_perp", 24000, 2).events
    sig = {"perp": {"events": p, "feed_latency": "lognormal:median=1ms,sigma=0.5"}}
    specs = "mid_return:h=1s,perp/mid_return:h=100ms,perp/ofi:l=1:h=100ms"
    (res,) = train(q, specs, "linear", [10**9], feed_latency="2ms", seed=3, signals=sig, folds=3)
    path = write_model(res.model, tmp_path / "m.json")

    seen = []

    class Recorder:
        def on_wakeup(self, ctx):
            seen.append((int(ctx.now), np.array(ctx.venue("perp").features), float(ctx.pred_move)))
            return None

    simulate(q, strategy=Recorder(), model=str(path), signals=sig, feed_latency="2ms", seed=3)
    ts = np.array([t for t, _, _ in seen], np.int64)
    loop = np.array([f for _, f, _ in seen])
    batch = features_at(p, ["mid_return:h=100ms", "ofi:l=1:h=100ms"], ts, feed_latency=sig["perp"]["feed_latency"],
                        rng=L.signal_feed_stream(3, "perp"))
    assert len(ts) > 1000 and np.array_equal(loop, batch, equal_nan=True)
    # the model's prediction in the loop, from the inputs of both venues at the sampled times
    m = load_model(path)
    s = res.samples
    at = {t: k for k, t in enumerate(ts)}
    rows = [at[int(a)] for a in s.arrival if int(a) in at]
    assert len(rows) > 100
    pred_loop = np.array([seen[k][2] for k in rows])
    pred_batch = predict(m.doc, s.X[[i for i, a in enumerate(s.arrival) if int(a) in at]])
    assert np.allclose(pred_loop, np.asarray(pred_batch).reshape(len(rows), -1)[:, 0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("engine", ["cpp", "reference"])
def test_truncating_the_quoted_data_keeps_every_earlier_decision_and_what_it_saw(engine):
    """No decision depends on quoted or signal data after it: a run on a prefix of the quoted rows takes exactly
    the full run's decisions up to its end, with the same signal_data rows (issue 12, item 6)."""
    from mmsim.data.two_venue import generate_two_venue
    from mmsim.engine.sim import simulate

    m = generate_two_venue("perp_spot", 6000, seed=3, lag="20ms")
    q, p = m.lagging.events, m.lead.events
    kw = dict(strategy="lead_defence:window=10ms,threshold=0.5,half_spread=1,max_position=3", engine=engine,
              signals={"perp": {"events": p, "feed_latency": "lognormal:median=1ms,sigma=0.7"}},
              feed_latency="lognormal:median=2ms,sigma=0.5", entry_latency="1ms", seed=5)
    full = simulate(q, **kw)
    for limit in (1500, 4000):
        part = simulate(q, limit=limit, **kw)
        n = len(part.decisions)
        assert 0 < n < len(full.decisions)
        # every decision of the shorter run but possibly the last instant's (which may wait for rows the cut removed)
        last_ts = int(part.decisions["ts"].iloc[-1])
        keep = part.decisions["ts"] < last_ts
        k = int(keep.sum())
        assert part.decisions[keep].reset_index(drop=True).equals(full.decisions.iloc[:k].reset_index(drop=True))
        sd_part = part.signal_data[part.signal_data["decision_id"] < k].reset_index(drop=True)
        sd_full = full.signal_data[full.signal_data["decision_id"] < k].reset_index(drop=True)
        assert sd_part.equals(sd_full)


@pytest.mark.parametrize("engine", ["cpp", "reference"])
def test_truncating_a_signal_venue_leaves_every_decision_before_its_cut(engine):
    from mmsim.data.messages import complete_prefix
    from mmsim.data.two_venue import generate_two_venue
    from mmsim.engine.sim import simulate

    m = generate_two_venue("perp_spot", 6000, seed=4, lag="20ms")
    q, p = m.lagging.events, m.lead.events
    cut = complete_prefix(p[:3000], int(p["exch_ts"][3000]))
    kw = dict(strategy="lead_defence:window=10ms,threshold=0.5,half_spread=1,max_position=3", engine=engine,
              feed_latency="1ms", entry_latency="1ms", seed=5)
    full = simulate(q, signals={"perp": {"events": p, "feed_latency": "2ms"}}, **kw)
    part = simulate(q, signals={"perp": {"events": p[:cut], "feed_latency": "2ms"}}, **kw)
    t_cut = int(p["exch_ts"][cut])  # the first row removed cannot arrive before its exchange time
    k = int((full.decisions["ts"] < t_cut).sum())
    assert 0 < k < len(full.decisions)
    assert part.decisions.iloc[:k].equals(full.decisions.iloc[:k])
    assert not part.decisions.equals(full.decisions)  # later decisions did read the rows the cut removed


def test_a_signal_venue_on_another_clock_is_one_line(tmp_path):
    late = PERP + "start_ts = 50_000_000_000_000\n"   # 13:53 instead of the quoted 09:30
    sc = load_scenario(write(tmp_path, QUOTED + late))
    with pytest.raises(ConfigError, match=r"\[signals.perp\]: its data .* do not overlap the quoted venue's"):
        sc.load_events()
