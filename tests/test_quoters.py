"""Built-in quoters: hand-computed targets, the shared rules, native == Python twin, runs through simulate,
the loader's parameters, and the skew/pull plugin examples in strategies/."""
import math
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from mmsim import ConfigError, Instrument, _core, simulate
from mmsim.engine.loader import BUILTINS, ORACLES, BuiltinSpec, load_strategy
from mmsim.data.market import generate_market
from mmsim.engine.quoters import (AvellanedaStoikovQuoter, GlftQuoter, MarkedPath, SpreadQuoter, engine_strategy,
                                  from_builtin)
from mmsim.engine.strategy import Quotes

NAN, INF = float("nan"), float("inf")
STRATEGIES = Path(__file__).resolve().parents[1] / "strategies"
LAT = dict(feed_latency="1ms", entry_latency="1ms", cancel_latency="1ms", response_latency="1ms")
CTX_KEYS = ("now", "best_bid", "bid_qty", "best_ask", "ask_qty", "position", "pred_move")


def ctx(best_bid=100, best_ask=102, bid_qty=5, ask_qty=5, position=0, pred_move=NAN, now=0):
    return dict(now=now, best_bid=best_bid, bid_qty=bid_qty, best_ask=best_ask, ask_qty=ask_qty, position=position,
                pred_move=pred_move)


def both(twin, c):
    """Targets of the native quoter and of its twin on the same context; asserts they agree."""
    native = _core.quoter_targets(twin.native(), c)
    py = twin.on_wakeup(types.SimpleNamespace(**c))
    assert native == (True, *py), (native, py, c)
    return tuple(py)


# ----------------------------------------------------------------------------------------- hand-computed
def test_symmetric_hand_computed():
    q = SpreadQuoter(1.0)
    assert both(q, ctx(100, 102)) == (100, 1, 102, 1)            # mid 101: 101 -/+ 1
    assert both(q, ctx(100, 101)) == (99, 1, 102, 1)             # mid 100.5: floor(99.5), ceil(101.5)
    assert both(SpreadQuoter(1.5, 2), ctx(100, 102)) == (99, 2, 103, 2)
    assert both(SpreadQuoter(0.0), ctx(100, 102)) == (101, 1, 102, 1)  # 101/101 touch: ask widened a tick
    assert both(SpreadQuoter(0.0), ctx(100, 101)) == (100, 1, 101, 1)
    assert both(SpreadQuoter(1.25), ctx(100, 102)) == (100, 1, 102, 1)  # 2h = 2.5 rounds to 2 (ties to even)
    # microprice: bid size 3, ask size 1 -> I = 0.75, fair 100 + 0.75 * 2 = 101.5
    assert both(SpreadQuoter(1.0, fair="micro"), ctx(100, 102, 3, 1)) == (100, 1, 103, 1)


def test_one_sided_book_pulls_both_sides():
    for q in (SpreadQuoter(1.0), AvellanedaStoikovQuoter(), GlftQuoter()):
        assert both(q, ctx(bid_qty=0)) == (0, 0, 0, 0)
        assert both(q, ctx(ask_qty=0, best_ask=0)) == (0, 0, 0, 0)


def test_skew_hand_computed():
    q = SpreadQuoter(1.0, skew=0.5)
    assert both(q, ctx(pred_move=2.0)) == (101, 1, 103, 1)       # fair 101 + 1 = 102
    assert both(q, ctx(pred_move=-3.0)) == (98, 1, 101, 1)       # fair 99.5: floor(98.5), ceil(100.5)
    assert both(q, ctx(pred_move=10.0)) == (101, 1, 107, 1)      # bid 105 held at best_ask - 1
    assert both(q, ctx(pred_move=-10.0)) == (95, 1, 101, 1)      # ask 97 held at best_bid + 1
    assert both(q, ctx(pred_move=NAN)) == both(SpreadQuoter(1.0), ctx())  # no model: symmetric
    assert both(q, ctx(pred_move=INF)) == both(SpreadQuoter(1.0), ctx())  # a broken output too


def test_pull_hand_computed():
    q = SpreadQuoter(1.0, pull_threshold=1.0)
    assert both(q, ctx(pred_move=-1.5)) == (100, 0, 102, 1)      # predicted fall: bid pulled
    assert both(q, ctx(pred_move=1.5)) == (100, 1, 102, 0)       # predicted rise: ask pulled
    assert both(q, ctx(pred_move=1.0)) == (100, 1, 102, 1)       # at the threshold: both (strict)
    assert both(q, ctx(pred_move=0.2)) == (100, 1, 102, 1)       # passed: re-quoted
    assert both(q, ctx(pred_move=NAN)) == (100, 1, 102, 1)
    sp = SpreadQuoter(1.0, skew=0.5, pull_threshold=1.0)
    assert both(sp, ctx(pred_move=2.0)) == (101, 1, 103, 0)      # skewed up and the ask pulled


def test_avellaneda_stoikov_hand_computed():
    # gamma 0.1, sigma 2, k 1.5, T-t 1 s, q 3, mid 101: a = 0.4, r = 99.8, c = 20 ln(16/15) = 1.290770,
    # delta = 0.845385: bid floor(98.9546) = 98, ask ceil(100.6454) = 101
    q = AvellanedaStoikovQuoter(gamma=0.1, sigma=2.0, k=1.5, horizon=1.0)
    assert q.c == pytest.approx(20 * math.log(16 / 15))
    assert both(q, ctx(position=3)) == (98, 1, 101, 1)
    assert both(q, ctx(position=-3)) == (101, 1, 104, 1)         # mirror: r = 102.2
    # session clock, periods of 10 s from t = 0: T-t is what is left of the current period
    s = AvellanedaStoikovQuoter(gamma=0.1, sigma=2.0, k=1.5, horizon=10.0, session=True)
    assert both(s, ctx(now=27_500_000_000)) == (99, 1, 103, 1)   # T-t 2.5 s: a = 1, delta = 1.145385
    assert both(s, ctx(now=29_999_999_999)) == (100, 1, 102, 1)  # T-t 1 ns: delta = c/2 = 0.645385
    assert both(s, ctx(now=30_000_000_000)) == (98, 1, 104, 1)   # a new period, T-t 10 s: delta = 2.645385


def test_glft_hand_computed():
    # A 1, k 1.5, gamma 0.1, sigma 1: c1 = 10 ln(16/15) = 0.645385, c2 = sqrt(0.1/3 (16/15)^16) = 0.305963
    q = GlftQuoter(A=1.0, k=1.5, gamma=0.1, sigma=1.0, max_position=4)
    assert q.c1 == pytest.approx(0.6453852, abs=1e-7) and q.c2 == pytest.approx(0.3059632, abs=1e-7)
    assert both(q, ctx()) == (100, 1, 102, 1)                    # delta 0.798: floor(100.20), ceil(101.80)
    # q = 3: delta_b = c1 + 3.5 c2 = 1.716256, delta_a = c1 - 2.5 c2 = -0.119523: 99.28 -> 99, 100.88 -> 101
    assert both(q, ctx(position=3)) == (99, 1, 101, 1)
    assert both(q, ctx(position=4)) == (98, 0, 101, 1)           # at the limit Q = 4: no bid
    assert both(q, ctx(position=-4)) == (101, 1, 104, 0)         # at -Q: no offer


def test_inventory_limits_cap_and_stop():
    q = SpreadQuoter(1.0, size=2, max_position=3)
    assert both(q, ctx(position=0)) == (100, 2, 102, 2)
    assert both(q, ctx(position=2)) == (100, 1, 102, 2)          # one lot from the limit: bid capped at 1
    assert both(q, ctx(position=3)) == (100, 0, 102, 2)          # at +max: stop bidding
    assert both(q, ctx(position=5)) == (100, 0, 102, 2)          # beyond
    assert both(q, ctx(position=-3)) == (100, 2, 102, 0)         # at -max: stop offering
    assert both(SpreadQuoter(1.0, size=2), ctx(position=10**6)) == (100, 2, 102, 2)  # 0: no limit


def test_bad_parameters_rejected_by_both():
    bad = [lambda m: m.SpreadQuoter(-1.0), lambda m: m.SpreadQuoter(1.0, 0), lambda m: m.SpreadQuoter(1.0, 1, -1),
           lambda m: m.SpreadQuoter(1.0, fair="vwap"), lambda m: m.SpreadQuoter(1.0, pull_threshold=-1.0),
           lambda m: m.SpreadQuoter(1.0, skew=NAN), lambda m: m.AvellanedaStoikovQuoter(gamma=0.0),
           lambda m: m.AvellanedaStoikovQuoter(horizon=0.0), lambda m: m.AvellanedaStoikovQuoter(sigma=-1.0),
           lambda m: m.GlftQuoter(A=0.0), lambda m: m.GlftQuoter(k=INF)]
    from mmsim.engine import quoters
    for make in bad:
        for mod in (_core, quoters):
            with pytest.raises(ConfigError):
                make(mod)
    with pytest.raises(ConfigError, match="unknown context field 'bestbid'"):
        _core.quoter_targets(_core.SpreadQuoter(), {"bestbid": 1})


# ----------------------------------------------------------------------------------------- random contexts
finite_pred = st.floats(-50, 50, allow_nan=False)
preds = st.one_of(st.just(NAN), finite_pred, st.sampled_from([INF, -INF, 0.0, 1.0, -1.0, 0.5]),
                  st.floats(allow_nan=False, allow_infinity=False))
contexts = st.builds(
    lambda bb, spread, bq, aq, pos, pred, now: ctx(bb, bb + spread, bq, aq, pos, pred, now),
    st.integers(-1000, 10**9), st.integers(-2, 30), st.integers(0, 500), st.integers(0, 500),
    st.integers(-200, 200), preds, st.integers(0, 2**62))
common = dict(size=st.integers(1, 10), max_position=st.integers(0, 30), fair=st.sampled_from(["mid", "micro"]))
quoters = st.one_of(
    st.builds(SpreadQuoter, half_spread=st.floats(0, 100), skew=st.one_of(st.just(0.0), st.floats(-5, 5)),
              pull_threshold=st.one_of(st.just(INF), st.floats(0, 20)), **common),
    st.builds(AvellanedaStoikovQuoter, gamma=st.floats(1e-4, 10), sigma=st.floats(0, 20), k=st.floats(1e-3, 50),
              horizon=st.floats(1e-6, 1e5), session=st.booleans(), **common),
    st.builds(GlftQuoter, A=st.floats(1e-3, 1e3), k=st.floats(1e-3, 50), gamma=st.floats(1e-4, 10),
              sigma=st.floats(0, 20), **common))


@settings(max_examples=3000)
@given(quoters, contexts)
def test_native_equals_twin_and_rules_hold(q, c):
    bid, bq, ask, aq = both(q, c)
    if c["bid_qty"] == 0 or c["ask_qty"] == 0:
        assert (bid, bq, ask, aq) == (0, 0, 0, 0)
        return
    assert bid < ask                                               # never crossed, never touching
    assert bid <= c["best_ask"] - 1 and ask >= c["best_bid"] + 1   # never through the book
    assert 0 <= bq <= q.size and 0 <= aq <= q.size
    if q.max_position:
        assert c["position"] + bq <= max(q.max_position, c["position"])
        assert c["position"] - aq >= min(-q.max_position, c["position"])
        if c["position"] >= q.max_position:
            assert bq == 0
        if c["position"] <= -q.max_position:
            assert aq == 0


@given(contexts)
def test_skew_pull_without_prediction_is_symmetric(c):
    c = dict(c, pred_move=NAN)
    assert both(SpreadQuoter(1.5, skew=0.7, pull_threshold=0.0), c) == both(SpreadQuoter(1.5), c)


def test_native_twin_parameters_agree():
    for name, schema in BUILTINS.items():
        marked = MarkedPath([0, 5], [200, 202], 10) if name in ORACLES else None  # the oracles' marked path
        params = {k: v[1] for k, v in schema.items()}
        if "lead" in params:  # simulate resolves the lead venue's name to its index
            params["lead_index"] = 1
        twin = from_builtin(name, params, marked)
        native = engine_strategy(name, params, "cpp", marked)
        assert isinstance(native, _core.Quoter) and type(native).__name__ == type(twin).__name__
        assert native.clairvoyant == (name in ORACLES) == getattr(twin, "clairvoyant", False)
        for attr in ("half_spread", "skew", "pull_threshold", "gamma", "sigma", "k", "horizon", "session", "A",
                     "c1", "c2", "horizon_ns", "anchor", "widen", "toxic_mask", "lead_index", "window_ns"):
            if hasattr(native, attr):
                assert getattr(native, attr) == getattr(twin, attr), (name, attr)


# ----------------------------------------------------------------------------------------- loader
def test_loader_accepts_builtins_with_params():
    obj, name = load_strategy("skew:k=0.5,half_spread=2")
    assert obj == BuiltinSpec("skew", {"half_spread": 2.0, "k": 0.5, "size": 1, "max_position": 0, "fair": "mid"})
    assert name == "skew:half_spread=2.0,k=0.5,size=1,max_position=0,fair=mid"
    assert load_strategy(name)[0] == obj                           # the display name round-trips
    assert set(BUILTINS) == {"symmetric", "avellaneda_stoikov", "glft", "skew", "pull", "skew_pull", "lead_defence",
                             *ORACLES}
    assert set(ORACLES) == {"oracle", "oracle_regime"}  # the clairvoyant bound: tests/test_oracle.py
    for n in BUILTINS:
        assert {"size", "max_position", "fair"} <= set(BUILTINS[n])
    obj, _ = load_strategy("glft:A=2,k=0.8,gamma=0.05,sigma=1.5,max_position=4,fair=micro")
    assert obj.params == {"A": 2.0, "k": 0.8, "gamma": 0.05, "sigma": 1.5, "size": 1, "max_position": 4,
                          "fair": "micro"}
    obj, _ = load_strategy("avellaneda_stoikov:clock=session,horizon=86400")
    assert obj.params["clock"] == "session" and obj.params["horizon"] == 86400.0


@pytest.mark.parametrize("spec, text", [
    ("skew:kk=1", "unknown parameter 'kk' for skew"),
    ("symmetric:k=1", "unknown parameter 'k' for symmetric"),
    ("pull:k=1", "unknown parameter 'k' for pull"),
    ("pull:threshold=-1", "threshold=-1.0 must be >= 0"),
    ("skew:k=nan", "must be finite"),
    ("skew:k=inf", "must be finite"),
    ("skew_pull:fair=vwap", "fair=vwap must be mid or micro"),
    ("symmetric:max_position=-1", "max_position=-1 must be >= 0"),
    ("symmetric:max_position=1.5", "must be int"),
    ("avellaneda_stoikov:gamma=0", "gamma=0.0 must be > 0"),
    ("avellaneda_stoikov:clock=daily", "clock=daily must be rolling or session"),
    ("avellaneda_stoikov:horizon=0", "horizon=0.0 must be > 0"),
    ("glft:A=0", "A=0.0 must be > 0"),
    ("glft:a=1", "unknown parameter 'a' for glft"),
])
def test_loader_rejects_bad_params(spec, text):
    with pytest.raises(ConfigError) as e:
        load_strategy(spec)
    assert f"strategy '{spec}'" in str(e.value) and text in str(e.value)


# ----------------------------------------------------------------------------------------- through simulate
@pytest.fixture(scope="module")
def market():
    return generate_market("toxic_burst", 50_000)


ALL_SPECS = ["symmetric", "skew:k=0.5,half_spread=2", "pull:threshold=0.5", "skew_pull:max_position=3",
             "avellaneda_stoikov", "avellaneda_stoikov:clock=session,horizon=5,max_position=5,fair=micro",
             "glft", "glft:sigma=2,max_position=3,size=2"]


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_each_builtin_runs_through_simulate(market, spec):
    res = simulate(market.events, Instrument(0.01, 1), spec, **LAT)
    assert res.summary["strategy"].startswith(spec.partition(":")[0] + ":")
    assert res.summary["n_fills"] > 0 and res.summary["n_decisions"] > 1000
    d = res.decisions[(res.decisions["bid_qty"] > 0) & (res.decisions["ask_qty"] > 0)]
    assert len(d) and (d["bid_price"] < d["ask_price"]).all()


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_native_and_reference_engines_agree(market, spec):
    ev = market.events[:8000]
    a = simulate(ev, Instrument(0.01, 1), spec, **LAT)
    b = simulate(ev, Instrument(0.01, 1), spec, engine="reference", **LAT)
    assert len(a.fills) > 0
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_frame_equal(a.decisions, b.decisions)


def test_skew_and_pull_without_a_model_behave_like_symmetric(market):
    base = simulate(market.events, Instrument(0.01, 1), "symmetric:half_spread=1.5", **LAT)
    for spec in ("skew:half_spread=1.5,k=2", "pull:half_spread=1.5,threshold=0", "skew_pull:half_spread=1.5"):
        res = simulate(market.events, Instrument(0.01, 1), spec, **LAT)
        pd.testing.assert_frame_equal(res.fills, base.fills)
        pd.testing.assert_frame_equal(res.decisions, base.decisions)


def test_inventory_limit_holds_in_the_loop(market):
    res = simulate(market.events, Instrument(0.01, 1), "symmetric:half_spread=0.5,size=2,max_position=3")
    free = simulate(market.events, Instrument(0.01, 1), "symmetric:half_spread=0.5,size=2")
    assert res.fills["position"].abs().max() <= 3 < free.fills["position"].abs().max()


class Oracle:
    """A stand-in for a model: the predicted move is the market's latent fair value minus the seen mid.

    ``native=True`` calls the native quoter through the test hook, otherwise its Python twin."""

    def __init__(self, truth, spec, native):
        b, _ = load_strategy(spec)
        self.twin, self.truth, self.native = from_builtin(b.name, b.params), truth, native
        self.handle = self.twin.native()

    def on_wakeup(self, ctx):
        c = {k: getattr(ctx, k) for k in CTX_KEYS[:-1]}
        two_sided = ctx.bid_qty > 0 and ctx.ask_qty > 0 and ctx.data_rows > 0
        c["pred_move"] = (float(self.truth[ctx.data_rows - 1]) - (ctx.best_bid + ctx.best_ask) / 2 if two_sided
                          else NAN)
        if self.native:
            return Quotes(*_core.quoter_targets(self.handle, c)[1:])
        return self.twin.on_wakeup(types.SimpleNamespace(**c))


def _markout_1s(market, fills):
    ts = market.events["exch_ts"]
    j = np.minimum(np.searchsorted(ts, fills["exch_ts"].to_numpy() + 1_000_000_000), len(ts) - 1)
    return float(np.mean(fills["side"].to_numpy() * (market.truth[j] - fills["price"].to_numpy())))


def test_prediction_drives_skew_and_pull_in_the_loop(market):
    base = simulate(market.events, Instrument(0.01, 1), "symmetric", **LAT)
    for spec in ("skew:k=0.5", "pull:threshold=0.5", "skew_pull:k=0.5,threshold=0.5"):
        nat = simulate(market.events, Instrument(0.01, 1), Oracle(market.truth, spec, True), **LAT)
        twin = simulate(market.events, Instrument(0.01, 1), Oracle(market.truth, spec, False), **LAT)
        pd.testing.assert_frame_equal(nat.fills, twin.fills)          # native rule == twin, in the loop
        pd.testing.assert_frame_equal(nat.decisions, twin.decisions)
        assert not nat.decisions[["bid_qty", "ask_qty", "bid_price"]].equals(
            base.decisions[["bid_qty", "ask_qty", "bid_price"]])
    pulled = simulate(market.events, Instrument(0.01, 1), Oracle(market.truth, "pull:threshold=0.5", True), **LAT)
    # pulling the side a move threatens avoids fills, and the ones it keeps are less toxic
    assert len(pulled.fills) < len(base.fills)
    assert _markout_1s(market, pulled.fills) > _markout_1s(market, base.fills)
    d = pulled.decisions
    assert ((d["bid_qty"] == 0) & (d["ask_qty"] > 0)).any() and ((d["ask_qty"] == 0) & (d["bid_qty"] > 0)).any()


def test_native_quoters_read_a_real_model_prediction(market, tmp_path):
    """With a model in the loop the native quoters read ctx.pred_move; the twin, run as a Python strategy
    against the same model, makes the same decisions."""
    import json

    from mmsim.signals.features import column_names, parse_specs, spec_hash

    names = column_names(parse_specs(["ofi:l=1:h=1s"]))
    doc = {"format": "mmsim-model", "version": 1, "type": "linear",
           "features": {"specs": names, "hash": spec_hash(names)}, "horizon_ns": 1_000_000_000,
           "target": "move", "outputs": ["move"],
           "training": {"scenario": "test", "seed": 0, "start_ts": 0, "end_ts": 0, "n_rows": 0, "metrics": {}},
           "params": {"weights": [0.1], "bias": 0.0}}  # predicted move = 0.1 x one-second OFI, ticks
    path = tmp_path / "ofi.json"
    path.write_text(json.dumps(doc))
    base = simulate(market.events, Instrument(0.01, 1), "symmetric", **LAT)
    for spec in ("skew:k=0.5", "pull:threshold=1", "skew_pull:k=0.5,threshold=1"):
        b, _ = load_strategy(spec)
        nat = simulate(market.events, Instrument(0.01, 1), spec, model=path, **LAT)
        twin = simulate(market.events, Instrument(0.01, 1), from_builtin(b.name, b.params), model=path, **LAT)
        pd.testing.assert_frame_equal(nat.fills, twin.fills)
        pd.testing.assert_frame_equal(nat.decisions, twin.decisions)
        assert not nat.decisions["bid_price"].equals(base.decisions["bid_price"]) or len(nat.fills) != len(base.fills)


# ----------------------------------------------------------------------------------------- plugin examples
class FakeCtx(types.SimpleNamespace):
    """Everything a numba rule's Python call reads, besides the fields given."""

    def depth(self, side, level):
        return (0, 0)


def _fake(c):
    return FakeCtx(reason=1, data_exch_ts=0, data_arrival_ts=0, data_rows=1, ewma_mid=NAN, cash=0.0, tick_size=0.01,
                   lot_size=1.0, p_down=NAN, p_flat=NAN, p_up=NAN, **c)


@pytest.fixture(scope="module")
def plugins():
    py_cls, _ = load_strategy(f"{STRATEGIES / 'skew_pull.py'}:SkewPull")
    nb, _ = load_strategy(f"{STRATEGIES / 'skew_pull_numba.py'}:skew_pull")
    return type(py_cls), nb


@settings(max_examples=500)
@given(st.builds(lambda bb, spread, bq, aq, pos, pred: ctx(bb, bb + spread, bq, aq, pos, pred),
                 st.integers(1, 10**7), st.integers(1, 30), st.integers(0, 50), st.integers(0, 50),
                 st.integers(-20, 20), st.one_of(st.just(NAN), finite_pred)),
       st.integers(0, 8), st.floats(-3, 3), st.floats(0, 5), st.integers(1, 5), st.integers(0, 10))
def test_plugin_examples_equal_the_builtin(plugins, c, h2, k, threshold, size, max_position):
    py_cls, nb = plugins
    p = dict(half_spread=h2 / 2, k=k, threshold=threshold, size=size, max_position=max_position)
    want = both(from_builtin("skew_pull", dict(p, fair="mid")), c)
    assert tuple(py_cls(**p).on_wakeup(types.SimpleNamespace(**c))) == want
    assert tuple(nb.with_params(**p).on_wakeup(_fake(c))) == want


def test_plugin_examples_run_in_the_loop(market):
    want = simulate(market.events, Instrument(0.01, 1), "skew_pull:half_spread=1.5,max_position=3", **LAT)
    for spec in (f"{STRATEGIES / 'skew_pull.py'}:SkewPull:half_spread=1.5,max_position=3",
                 f"{STRATEGIES / 'skew_pull_numba.py'}:skew_pull:half_spread=1.5,max_position=3"):
        res = simulate(market.events, Instrument(0.01, 1), spec, **LAT)
        pd.testing.assert_frame_equal(res.fills, want.fills)
