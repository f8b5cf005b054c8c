"""The C++ loop through its public entry point: determinism, the three strategy speeds, errors, features."""
import numpy as np
import pandas as pd
import pytest

from helpers import events
from mmsim import DataError, Instrument, StrategyError, _core, records as R, simulate
from mmsim.engine.numba_strategy import CI_BEST_BID, CI_BID_QTY, cfunc_strategy, symmetric_numba
from mmsim.engine.strategy import Quotes, SymmetricQuoter
from mmsim.data.synthetic import generate_l2

RUN = dict(feed_latency="lognormal:median=1ms,sigma=0.5", entry_latency="gamma:shape=2,scale=300us",
           cancel_latency="500us", response_latency="lognormal:median=800us,sigma=0.3",
           compute_latency="20us", timer_interval_ns=50_000_000, wake_on_feed=False)


@pytest.fixture(scope="module")
def market():
    return generate_l2(60_000, seed=3)


def test_same_seed_identical_results_different_seed_differs(market):
    a = simulate(market, Instrument(0.01, 1), "symmetric:half_spread=1", seed=7, **RUN)
    b = simulate(market, Instrument(0.01, 1), "symmetric:half_spread=1", seed=7, **RUN)
    c = simulate(market, Instrument(0.01, 1), "symmetric:half_spread=1", seed=8, **RUN)
    assert len(a.fills) > 50
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_frame_equal(a.decisions, b.decisions)
    assert not a.fills["exch_ts"].equals(c.fills["exch_ts"]) or len(a.fills) != len(c.fills)


def test_three_speeds_same_rule_same_fills(market):
    native = simulate(market, Instrument(0.01, 1), "symmetric:half_spread=1.5,size=2", seed=1, **RUN)
    numba_ = simulate(market, Instrument(0.01, 1), symmetric_numba.with_params(half_spread=1.5, size=2), seed=1, **RUN)
    python = simulate(market, Instrument(0.01, 1), SymmetricQuoter(1.5, 2), seed=1, **RUN)
    assert len(native.fills) > 50
    pd.testing.assert_frame_equal(native.fills, numba_.fills)
    pd.testing.assert_frame_equal(native.fills, python.fills)
    pd.testing.assert_frame_equal(native.orders, python.orders)


def test_chunked_stepping_equals_one_shot(market):
    one = simulate(market, Instrument(0.01, 1), "symmetric", seed=2, chunk_rows=1 << 30, **RUN)
    many = simulate(market, Instrument(0.01, 1), "symmetric", seed=2, chunk_rows=997, **RUN)
    pd.testing.assert_frame_equal(one.fills, many.fills)
    pd.testing.assert_frame_equal(one.decisions, many.decisions)


def test_decisions_are_causal(market):
    res = simulate(market, Instrument(0.01, 1), "symmetric", seed=4, **RUN)
    d = res.decisions
    seen = d[d["data_rows"] > 0]
    assert (seen["data_arrival_ts"] <= seen["ts"]).all()
    assert (seen["data_exch_ts"] <= seen["data_arrival_ts"]).all()
    assert (d["wire_ts"] - d["ts"] == 20_000).all()
    # the data a decision saw is exactly the rows whose arrival precedes it
    arrival_of_last = seen["data_arrival_ts"].to_numpy()
    assert (np.diff(arrival_of_last) >= 0).all()


def test_feed_latency_delays_what_the_strategy_sees():
    ev = events([(0, R.DEPTH, 1, 100, 5), (0, R.DEPTH, -1, 102, 5), (1_000, R.DEPTH, 1, 101, 5)])
    seen = []

    class Watch:
        def on_wakeup(self, ctx):
            seen.append((ctx.now, ctx.best_bid))

    simulate(ev, Instrument(1, 1), Watch(), feed_latency="5us")
    assert seen == [(5_000, 100), (6_000, 101)]


def test_python_strategy_error_names_strategy_time_and_cause():
    ev = events([(0, R.DEPTH, 1, 100, 5), (10, R.DEPTH, -1, 102, 5)])

    class Broken:
        def on_wakeup(self, ctx):
            if ctx.now >= 10:
                raise ZeroDivisionError("boom")

    with pytest.raises(StrategyError, match=r"strategy Broken failed at t=10 ns: ZeroDivisionError: boom"):
        simulate(ev, Instrument(1, 1), Broken())


def test_bad_targets_are_strategy_errors():
    ev = events([(0, R.DEPTH, 1, 100, 5), (10, R.DEPTH, -1, 102, 5)])

    class Crossed:
        def on_wakeup(self, ctx):
            return Quotes(101, 1, 101, 1)

    class Floats:
        def on_wakeup(self, ctx):
            return "nope"

    with pytest.raises(StrategyError, match="crossed target quotes"):
        simulate(ev, Instrument(1, 1), Crossed())
    with pytest.raises(StrategyError, match="must return Quotes"):
        simulate(ev, Instrument(1, 1), Floats())


def test_cfunc_status_and_silent_exception_are_errors():
    ev = events([(0, R.DEPTH, 1, 100, 5), (10, R.DEPTH, -1, 102, 5)])

    @cfunc_strategy(params={"x": 1.0})
    def fails(ci, cf, p, out):
        out[0] = 0
        return 7

    @cfunc_strategy()
    def forgets(ci, cf, p, out):
        return 0

    with pytest.raises(StrategyError, match="status 7"):
        simulate(ev, Instrument(1, 1), fails)
    with pytest.raises(StrategyError, match="status 1000001"):
        simulate(ev, Instrument(1, 1), forgets)


def test_cfunc_reads_the_context():
    ev = events([(0, R.DEPTH, 1, 100, 5), (0, R.DEPTH, -1, 104, 5)])

    @cfunc_strategy(params={"size": 3.0})
    def join_bid(ci, cf, p, out):
        out[0] = 1
        out[1] = ci[CI_BEST_BID] if ci[CI_BID_QTY] > 0 else 0
        out[2] = np.int64(p[0])
        out[3] = 0
        out[4] = 0
        return 0

    res = simulate(ev, Instrument(1, 1), join_bid)
    assert res.orders[["price", "qty", "side"]].values.tolist() == [[100, 3, 1]]


def test_crossed_book_in_data_is_an_error_naming_the_row():
    ev = events([(0, R.DEPTH, 1, 100, 5), (0, R.DEPTH, -1, 102, 5), (5, R.DEPTH, 1, 103, 1)])
    with pytest.raises(DataError, match=r"mydata: row 2: crossed book: best bid 103 >= best ask 102"):
        simulate(ev, Instrument(1, 1), "symmetric", source_name="mydata")
    res = simulate(ev, Instrument(1, 1), "symmetric", crossed_policy="repair")
    assert res.summary["repaired_crossed_levels"] == 1


def test_zero_latency_self_loop_is_stopped():
    # A strategy that sends an order on every wakeup, woken by the answer to it, with zero latency everywhere.
    ev = events([(0, R.DEPTH, 1, 100, 5), (0, R.DEPTH, -1, 101, 5), (10, R.DEPTH, 1, 99, 1)])

    class Flicker:
        def on_wakeup(self, ctx):
            ctx.submit(1, 90, 1, "ioc")

    with pytest.raises(StrategyError, match="without time advancing"):
        simulate(ev, Instrument(1, 1), Flicker())


def test_own_taker_orders_cannot_take_the_same_displayed_size_twice():
    ev = events([(0, R.DEPTH, 1, 100, 5), (0, R.DEPTH, -1, 101, 3), (10, R.DEPTH, 1, 99, 1)])

    class Lifter:  # tries to lift 1 lot of the offer 8 times in one instant (zero latency)
        tries = 0

        def on_wakeup(self, ctx):
            if self.tries < 8 and not ctx.open_orders():
                self.tries += 1
                ctx.submit(1, 101, 1, "ioc")

    res = simulate(ev, Instrument(1, 1), Lifter(), wake_on_feed=True)
    assert res.summary["position"] == 3  # only the 3 displayed lots, however often it tries


def test_rust_ewma_matches_numpy_reference():
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.integers(0, 5_000_000, 2_000))
    x = 100 + np.cumsum(rng.normal(size=2_000))
    tau = 3_000_000
    got = _core.ewma_batch(ts, x, tau)
    want = np.empty_like(x)
    want[0] = x[0]
    for i in range(1, len(x)):  # exact EWMA of the step function held at x[i-1] over (ts[i-1], ts[i]]
        w = np.exp(-(ts[i] - ts[i - 1]) / tau)
        want[i] = w * want[i - 1] + (1 - w) * x[i - 1]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(Exception, match="horizon"):
        _core.ewma_batch(ts, x, 0)


def test_ctx_ewma_is_the_rust_feature_on_the_delayed_mid_as_of_now():
    ev = events([(0, R.DEPTH, 1, 100, 5), (0, R.DEPTH, -1, 102, 5), (1_000_000, R.DEPTH, -1, 104, 5),
                 (1_000_000, R.DEPTH, -1, 102, 0), (1_500_000, R.DEPTH, 1, 99, 1)])
    got = {}

    class Watch:
        def on_wakeup(self, ctx):
            got[ctx.now] = ctx.ewma_mid

    tau = 1_000_000
    simulate(ev, Instrument(1, 1), Watch(), feed_latency="1ms", ewma_tau_ns=tau, timer_interval_ns=250_000)
    # delayed mid: 101 from t=1ms, 102 from t=2ms (rows 2-3 arrive then; row 4 changes no best price)
    assert got[1_000_000] == 101.0
    assert got[2_000_000] == 101.0           # the new mid only starts counting from now on
    w = np.exp(-0.5)
    assert got[2_500_000] == pytest.approx(w * 101.0 + (1 - w) * 102.0, rel=1e-12)


def test_measured_compute_latency_charges_the_strategy_wall_time():
    ev = events([(0, R.DEPTH, 1, 100, 5), (0, R.DEPTH, -1, 102, 5), (10_000_000, R.DEPTH, 1, 101, 5)])

    class Slow:
        def on_wakeup(self, ctx):
            import time

            t = time.perf_counter()
            while time.perf_counter() - t < 0.002:  # ~2 ms of "model inference"
                pass
            return Quotes(ctx.best_bid, 1, ctx.best_ask, 1)

    res = simulate(ev, Instrument(1, 1), Slow(), compute_latency="measured:x2")
    charged = (res.decisions["wire_ts"] - res.decisions["ts"]).to_numpy()
    assert (charged >= 4_000_000).all() and (charged < 400_000_000).all()  # 2 x >= 2 ms, and sane
    assert (res.orders["sent_ts"].to_numpy() >= res.decisions["wire_ts"].iloc[0]).all()


@pytest.mark.parametrize("profile,lo,hi", [("cheap_cloud_vcpu", 1_000_000, 5_000_000), ("high_clock", 4_000, 40_000)])
def test_compute_latency_profiles_follow_the_posts_table(market, profile, lo, hi):
    res = simulate(market, Instrument(0.01, 1), "symmetric", compute_latency=f"profile:{profile}",
                   timer_interval_ns=10_000_000, wake_on_feed=False)
    charged = (res.decisions["wire_ts"] - res.decisions["ts"]).to_numpy()
    inside = ((charged >= lo) & (charged <= hi)).mean()
    assert len(charged) > 1000 and 0.85 < inside < 0.95          # 90 % of decisions inside the quoted range
    assert lo < np.median(charged) < hi


def test_unknown_profile_and_model_latency_without_model_are_errors(market):
    from mmsim import ConfigError

    with pytest.raises(ConfigError, match="unknown profile"):
        simulate(market[:100], Instrument(0.01, 1), "symmetric", compute_latency="profile:laptop")
    with pytest.raises(ConfigError, match="needs a model"):
        simulate(market[:100], Instrument(0.01, 1), "symmetric", compute_latency="model:x2")
