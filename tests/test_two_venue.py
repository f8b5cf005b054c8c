"""The synthetic two-venue market (mmsim.data.two_venue) against its ground truth."""
from __future__ import annotations

import numpy as np
import pytest

from mmsim import records as R
from mmsim.analysis.leadlag import informed_markouts, lead_lag
from mmsim.data.market import MarketParams, generate_market
from mmsim.data.two_venue import TWO_VENUE_PRESETS, TwoVenueParams, generate_two_venue
from mmsim.data.validate import validate_events

ROWS = 200_000


@pytest.fixture(scope="module")
def markets():
    return {lag: generate_two_venue("perp_spot", ROWS, 3, lag=lag) for lag in ("5ms", "50ms", "500ms")}


def _bytes(m):
    return b"".join(a.tobytes() for a in (m.lead.events, m.lead.truth, m.lead.regime, m.lagging.events,
                                          m.lagging.truth, m.lagging.regime, m.lagging_lp_value, m.fair_value))


def test_deterministic_for_a_seed():
    a = generate_two_venue("perp_spot", 30_000, 7, lag=0.02)
    b = generate_two_venue("perp_spot", 30_000, 7, lag="20ms")
    assert _bytes(a) == _bytes(b)
    c = generate_two_venue("perp_spot", 30_000, 8, lag=0.02)
    assert a.lead.events.tobytes() != c.lead.events.tobytes()
    assert a.lagging.events.tobytes() != c.lagging.events.tobytes()


def test_both_venues_are_valid_data_on_one_clock(markets):
    for m in markets.values():
        assert len(m.lead.events) == ROWS
        for ven in (m.lead, m.lagging):
            ev = ven.events
            validate_events(ev, "venue")               # raises DataError on any bad row
            assert (ev["recv_ts"] == R.NO_TS).all()
            assert ev["flags"][-1] & R.FLAG_MSG_END
            assert (np.diff(ev["exch_ts"]) >= 0).all()
            # every row that starts a new timestamp follows a message end
            new_ts = np.flatnonzero(np.diff(ev["exch_ts"]) > 0)
            assert (ev["flags"][new_ts] & R.FLAG_MSG_END).all()
        lead, lag = m.lead.events, m.lagging.events
        assert lead["exch_ts"][0] == lag["exch_ts"][0] == MarketParams().start_ts
        assert lag["exch_ts"][-1] <= lead["exch_ts"][-1]
        assert lead["exch_ts"][-1] - lag["exch_ts"][-1] < 50_000_000   # the same span, to a few rows
        assert len(lag) > ROWS // 2


def test_ground_truth_is_the_shared_fair_value(markets):
    for m in markets.values():
        n_lag = m.info["lag_grid_points"]
        assert n_lag * m.v_dt == pytest.approx(m.lag_s)
        for ven in (m.lead, m.lagging):
            t = (ven.events["exch_ts"] - m.lead.params.start_ts) * 1e-9
            g = (t / m.v_dt).astype(np.int64)
            np.testing.assert_array_equal(ven.truth, m.fair_value[g])
        t = (m.lagging.events["exch_ts"] - m.lead.params.start_ts) * 1e-9
        g = (t / m.v_dt).astype(np.int64)
        np.testing.assert_array_equal(m.lagging_lp_value, m.fair_value[np.maximum(g - n_lag, 0)])
        assert m.lagging.params.informed_horizon == m.lag_s
        for k in TwoVenueParams.SHARED:
            assert getattr(m.lagging.params, k) == getattr(m.lead.params, k)


@pytest.mark.parametrize("lag_ms", [5, 50, 500])
def test_lead_lag_recovers_the_lag(markets, lag_ms):
    """Tolerance: the grid estimate within 2 ms of the generator's lag, its 95 % interval covering it."""
    m = markets[f"{lag_ms}ms"]
    res = lead_lag(m.lead.events, m.lagging.events, grid_ns=1_000_000, max_lag_ns=1_000_000_000, n_boot=200)
    assert abs(res.lag_s - lag_ms / 1e3) <= 0.002, res.summary()
    assert res.lag_lo_s - 0.002 <= lag_ms / 1e3 <= res.lag_hi_s + 0.002
    assert res.peak_corr > 5 * max(abs(res.corr_at_zero), 0.02) or lag_ms == 5
    assert abs(res.hy_lag_s - lag_ms / 1e3) <= 0.005
    # the same measurement the other way round: the lag comes out negative
    back = lead_lag(m.lagging.events, m.lead.events, grid_ns=1_000_000, max_lag_ns=1_000_000_000, n_boot=50,
                    hy=False)
    assert abs(back.lag_s + lag_ms / 1e3) <= 0.002


def test_no_lag_without_a_lag():
    m = generate_two_venue("perp_spot", ROWS, 3, lag=0)
    res = lead_lag(m.lead.events, m.lagging.events, grid_ns=1_000_000, max_lag_ns=200_000_000, n_boot=100,
                   hy=False)
    assert abs(res.lag_s) <= 0.002


@pytest.mark.parametrize("lag_ms", [50, 500])
def test_informed_orders_on_the_lagging_venue_have_worse_markouts(markets, lag_ms):
    m = markets[f"{lag_ms}ms"]
    mo, inf = m.informed_orders("lagging")
    assert 0.05 < inf.mean() < 0.9
    assert (m.lagging.events["flags"][mo[inf]] & R.FLAG_INFORMED).all()
    informed, noise, n, share = informed_markouts(m, 1.0)
    assert n > 300
    # in the aggressor's favour: the liquidity provider loses more to informed orders
    assert informed > noise + 1.0, (informed, noise)
    assert abs(noise) < 0.5


def test_the_edge_grows_with_the_lag(markets):
    shares = [markets[k].informed_orders("lagging")[1].mean() for k in ("5ms", "50ms", "500ms")]
    assert shares[0] < shares[1] < shares[2]


def test_shorter_run_is_a_prefix():
    a = generate_two_venue("perp_spot", 20_000, 5, lag="30ms")
    b = generate_two_venue("perp_spot", 40_000, 5, lag="30ms")
    assert a.lead.events.tobytes() == b.lead.events[:20_000].tobytes()
    k = len(a.lagging.events)
    assert a.lagging.events.tobytes() == b.lagging.events[:k].tobytes()


def test_external_grid_leaves_single_venue_presets_alone():
    """The kernel's new argument is empty for generate_market: a preset's rows do not depend on two_venue."""
    before = generate_market("fast_perp", 5_000, 2).events.tobytes()
    generate_two_venue("perp_spot", 5_000, 2)
    assert generate_market("fast_perp", 5_000, 2).events.tobytes() == before


@pytest.mark.parametrize("kwargs, text", [
    (dict(lag="1.5ms"), "not a multiple of the grid step"),
    (dict(lag=-0.01), "lag must be in"),
    (dict(lag=11.0), "lag must be in"),
    (dict(lag="soon"), "not a duration"),
    (dict(lagging={"sigma": 2.0}), "lagging.sigma is the shared fair value's"),
    (dict(lagging={"nope": 1}), "unknown parameter lagging.nope"),
    (dict(lagging={"informed_horizon": 0.1}), "lagging.informed_horizon is the lag"),
    (dict(lead={"lp_rate": -1.0}), "lp_rate must be > 0"),
])
def test_bad_parameters_name_themselves(kwargs, text):
    from mmsim.errors import ConfigError

    with pytest.raises((ValueError, ConfigError), match=text):
        generate_two_venue("perp_spot", 1_000, 0, **kwargs)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown two-venue preset 'x'.*perp_spot"):
        generate_two_venue("x", 10, 0)
    assert "perp_spot" in TWO_VENUE_PRESETS


SCENARIO = """
[scenario]
name = "spot_behind_perp"
[instrument]
tick_size = 0.01
[source]
kind = "two_venue"
preset = "perp_spot"
n_rows = 20_000
seed = 4
lag = "{lag}"
venue = "{venue}"
"""


def test_scenario_source_gives_either_venue(tmp_path):
    from mmsim.data.scenario import load_scenario

    m = generate_two_venue("perp_spot", 20_000, 4, lag="40ms")
    for venue, want in (("lead", m.lead), ("lagging", m.lagging)):
        f = tmp_path / f"{venue}.toml"
        f.write_text(SCENARIO.format(lag="40ms", venue=venue))
        sc = load_scenario(str(f))
        ev, _ = sc.load_events()
        assert ev.tobytes() == want.events.tobytes()
        assert sc.truth.truth.tobytes() == want.truth.tobytes()


@pytest.mark.parametrize("lag, venue, text", [
    ("1500us", "lead", "[source] lag: 1500000 ns must be a multiple"),
    ("20s", "lead", "at most 10 s"),
    ("5ms", "both", "[source] venue"),
])
def test_scenario_source_bad_input_is_one_line(tmp_path, lag, venue, text):
    from mmsim.data.scenario import load_scenario
    from mmsim.errors import ConfigError

    f = tmp_path / "s.toml"
    f.write_text(SCENARIO.format(lag=lag, venue=venue))
    with pytest.raises(ConfigError) as e:
        load_scenario(str(f))
    assert text in str(e.value) and str(f) in str(e.value) and "\n" not in str(e.value)


def test_scenario_source_unknown_preset(tmp_path):
    from mmsim.data.scenario import load_scenario
    from mmsim.errors import ConfigError

    f = tmp_path / "s.toml"
    f.write_text(SCENARIO.format(lag="5ms", venue="lead").replace('"perp_spot"', '"nope"'))
    with pytest.raises(ConfigError, match=r"\[source\] preset: unknown two-venue preset 'nope'"):
        load_scenario(str(f))


def test_leadlag_cli_on_the_two_venue_scenarios(tmp_path, capsys):
    """`mmsim leadlag lead.toml lagging.toml`: the lag of the scenario's market comes back."""
    from mmsim.cli import main

    for venue in ("lead", "lagging"):
        (tmp_path / f"{venue}.toml").write_text(SCENARIO.format(lag="40ms", venue=venue).replace("20_000", "100_000"))
    code = main(["leadlag", str(tmp_path / "lead.toml"), str(tmp_path / "lagging.toml"), "--max-lag", "200ms",
                 "--n-boot", "100", "--out", str(tmp_path / "ll")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "\nlag +40 ms (95 % interval" in out
    import json
    js = json.loads((tmp_path / "ll" / "leadlag.json").read_text())
    lo, hi = js["lag_interval_s"]
    assert js["lag_s"] == pytest.approx(0.040) and 0.038 <= lo <= 0.040 <= hi <= 0.042
