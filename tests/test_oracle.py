"""The clairvoyant bound: the built-in oracles, their marked paths, both engines, the decision marks and the audit.

An oracle reads the future only through the marked path ``simulate`` computes before the loop; its decisions
are marked clairvoyant, ``mmsim audit`` labels its runs and fails marked decisions of any other strategy.
"""
import json
import math
import random
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import events
from mmsim import ConfigError, DataError, Instrument, StrategyError, _core, records as R, simulate
from mmsim.analysis.audit import LABEL_CAUSAL, LABEL_CLAIRVOYANT, audit_dir
from mmsim.analysis.markouts import analyze
from mmsim.cli import main
from mmsim.data.market import generate_market
from mmsim.engine.chain import chain_hashes
from mmsim.engine.loader import BUILTINS, BuiltinSpec, load_strategy
from mmsim.engine.oracle import regime_path
from mmsim.engine.quoters import MarkedPath, OracleQuoter, RegimeOracleQuoter, from_builtin
from mmsim.engine.results import write_results
from mmsim.reference.simulator import marked_mid_path
from test_differential import LATENCY_SETS, assert_identical, l2_streams, l3_streams, to_events

INST = Instrument(0.01, 1)
NAN = float("nan")
LAT = dict(feed_latency="1ms", entry_latency="1ms", cancel_latency="1ms", response_latency="1ms")
ORACLE = "oracle:horizon=1s,threshold=0.5,half_spread=1"


@pytest.fixture(scope="module")
def market():
    return generate_market("toxic_burst", 200_000, seed=1)


def as_per_lot(res, market):
    """Adverse-selection cost per lot filled (ticks, 1 s horizon), docs/analytics.md."""
    t = analyze(res, market.events, tick_size=0.01, lot_size=1, horizon="1s").totals
    return t["adverse_selection_cost_ticklots"] / t["volume"]


def run(market, spec, feed="1ms", order="1ms", **kw):
    return simulate(market.events, INST, spec, truth=market, feed_latency=feed, entry_latency=order,
                    cancel_latency=order, response_latency=order, **kw)


# ----------------------------------------------------------------------------------------- the marked path
# L2 rows: the exchange-side mid after each timestamp group, where it changes: (0, 200), (2000, 201), (5000, 207)
PATH_ROWS = [
    (0, R.DEPTH, 1, 99, 5), (0, R.DEPTH, -1, 101, 5),           # mid 100
    (1000, R.DEPTH, -1, 101, 0),                                  # one-sided: the last mid holds
    (2000, R.DEPTH, -1, 102, 3), (2000, R.DEPTH, -1, 104, 1),    # mid 100.5
    (3000, R.DEPTH, 1, 100, 1), (3000, R.DEPTH, 1, 100, 0),      # a transient inside one group: not recorded
    (4000, R.TRADE, 1, 102, 1),
    (5000, R.DEPTH, 1, 103, 2),                                   # crosses 102: repair drops the stale ask
]


def native_path(ev, repair, splits=()):
    b = _core.MidPathBuilder(repair)
    cuts = [0, *splits, len(ev)]
    for k in range(len(cuts) - 1):
        b.feed(ev[cuts[k]:cuts[k + 1]], k == len(cuts) - 2)
    return b


def test_mid_path_hand_computed_in_both_implementations():
    ev = events(PATH_ROWS)
    ts, mid2 = marked_mid_path(ev, "l2", "repair")
    assert ts.tolist() == [0, 2000, 5000] and mid2.tolist() == [200, 201, 207]
    for splits in ((), (1,), (5,), (6,), (2, 6, 8)):   # chunk ends inside a timestamp group too
        b = native_path(ev, True, splits)
        assert b.ts.tolist() == [0, 2000, 5000] and b.mid2.tolist() == [200, 201, 207], splits
        assert (b.first_ts, b.end_ts, b.rows, b.final) == (0, 5000, len(ev), True)
    with pytest.raises(DataError, match="row 8: crossed book: best bid 103 >= best ask 102"):
        native_path(ev, False)
    with pytest.raises(DataError, match="row 8: crossed book: best bid 103 >= best ask 102"):
        marked_mid_path(ev, "l2", "error")
    with pytest.raises(ConfigError, match="after the final chunk"):
        native_path(ev, True).feed(ev, True)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.one_of(l2_streams().map(lambda r: ("l2", r)), l3_streams().map(lambda r: ("l3", r))),
       policy=st.sampled_from(("repair", "error")), cut=st.floats(0, 1))
def test_mid_path_builders_agree(rows, policy, cut):
    mode, rows = rows
    ev = to_events(rows)
    out = []
    for build in (lambda: marked_mid_path(ev, mode, policy),
                  lambda: (lambda b: (b.ts, b.mid2))(native_path(ev, policy == "repair", (int(cut * len(ev)),)))):
        try:
            ts, mid2 = build()
            out.append((ts.tolist(), mid2.tolist()))
        except DataError as e:
            out.append(str(e))
    assert out[0] == out[1]


def test_marked_path_lookup_moves_forward_and_searches_back():
    p = MarkedPath([10, 20, 20, 40], [1, 2, 3, 4], 50)
    assert [p.at(t) for t in (0, 10, 19, 20, 39, 40, 99)] == [None, 1, 1, 3, 3, 4, 4]
    assert [p.at(t) for t in (15, 5, 45, 20)] == [1, None, 4, 3]           # earlier times: a search
    with pytest.raises(ConfigError, match="go back at entry 2"):
        MarkedPath([10, 20, 15], [1, 2, 3], 50)
    with pytest.raises(ConfigError, match="differ in length"):
        MarkedPath([10], [1, 2], 50)


# ----------------------------------------------------------------------------------------- hand-computed rules
def ctx(best_bid=99, best_ask=101, now=0, position=0, data_exch_ts=R.NO_TS, bid_qty=5, ask_qty=5):
    return dict(now=now, best_bid=best_bid, bid_qty=bid_qty, best_ask=best_ask, ask_qty=ask_qty, position=position,
                data_exch_ts=data_exch_ts)


def both(twin, native, c):
    n = _core.quoter_targets(native, c)
    py = twin.on_wakeup(types.SimpleNamespace(**c))
    assert n == (True, *py), (n, py, c)
    assert native.past_end == twin.past_end
    return tuple(py)


def oracle_pair(horizon_ns=1000, **kw):
    twin = OracleQuoter(MarkedPath([0, 2000, 5000], [200, 201, 207], 5000), horizon_ns, **kw)
    return twin, twin.native()


def test_oracle_hand_computed():
    q, n = oracle_pair()
    assert n.clairvoyant and q.clairvoyant and (n.horizon_ns, n.anchor, n.pull_threshold) == (1000, "decision", 0.5)
    assert both(q, n, ctx(now=0)) == (99, 1, 101, 1)            # mid(1000) = 100 = mid_now: no move
    assert both(q, n, ctx(now=1500)) == (99, 1, 101, 1)         # mid(2500) = 100.5: +0.5, not beyond 0.5
    assert both(q, n, ctx(now=4500)) == (99, 1, 101, 0)         # mid(5500) = 103.5: +3.5, the ask is pulled
    assert n.past_end == 1                                      # 5500 lies past the data's end (5000)
    assert both(q, n, ctx(104, 106, now=4500)) == (104, 0, 106, 1)  # mid_now 105: -1.5, the bid is pulled
    assert both(q, n, ctx(now=100)) == (99, 1, 101, 1)          # back in time: searched, not stuck
    q, n = oracle_pair(skew=1.0, threshold=10.0)                # skew: f' = 100 + 1 * 0.5
    assert both(q, n, ctx(now=1500)) == (99, 1, 102, 1)
    q, n = oracle_pair(anchor="data")                           # t = the newest data's exchange time
    assert both(q, n, ctx(now=4500, data_exch_ts=500)) == (99, 1, 101, 1)    # mid(1500) = 100
    assert both(q, n, ctx(now=4500, data_exch_ts=4000)) == (99, 1, 101, 0)   # mid(5000) = 103.5
    assert both(q, n, ctx(now=4500)) == (99, 1, 101, 1)         # no data seen: no move
    late = OracleQuoter(MarkedPath([10], [300], 50), 5)         # before the first two-sided mid: no move
    assert both(late, late.native(), ctx(now=0)) == (99, 1, 101, 1)
    q, n = oracle_pair()
    assert both(q, n, ctx(bid_qty=0, now=4500)) == (0, 0, 0, 0)  # one-sided book: the shared rule, no lookup
    assert n.past_end == 0


def test_regime_oracle_hand_computed():
    path = lambda: MarkedPath([0, 100, 200], [0, 1, 0], 300)  # noqa: E731  calm, burst 100..200, calm
    cases = [  # (kw, now, expected)
        ({}, 50, (99, 1, 101, 1)),
        ({}, 150, (99, 0, 101, 0)),                     # toxic: both sides pulled
        ({"widen": 2.0}, 150, (97, 1, 103, 1)),         # or widened: h = 1 + 2
        ({"toxic_mask": 4}, 150, (99, 1, 101, 1)),      # news only: a burst is not toxic
        ({"horizon_ns": 60}, 50, (99, 0, 101, 0)),      # foresight: the burst 60 ns ahead
        ({}, 400, (99, 1, 101, 1)),                     # past the end: the last regime, counted
    ]
    for kw, now, want in cases:
        kw = dict(kw)
        twin = RegimeOracleQuoter(path(), kw.pop("horizon_ns", 0), **kw)
        assert both(twin, twin.native(), ctx(now=now)) == want, (kw, now)
    twin = RegimeOracleQuoter(path(), 0)
    native = twin.native()
    both(twin, native, ctx(now=400))
    assert native.past_end == 1 and native.clairvoyant and native.toxic_mask == 6


@settings(max_examples=300, deadline=None)
@given(bb=st.integers(90, 110), spread=st.integers(1, 4), now=st.integers(-50, 700), data=st.integers(-50, 700),
       h=st.sampled_from((0, 1, 37, 250)), k=st.sampled_from((0.0, 0.5, -1.25)), thr=st.sampled_from((0.0, 0.5, 2.0)),
       hs=st.sampled_from((0.0, 1.0, 1.5)), pos=st.integers(-3, 3), anchor=st.sampled_from(("decision", "data")),
       fair=st.sampled_from(("mid", "micro")), widen=st.sampled_from((0.0, 0.5, 3.0)), mask=st.integers(0, 7))
def test_native_oracles_equal_their_twins(bb, spread, now, data, h, k, thr, hs, pos, anchor, fair, widen, mask):
    rng = random.Random(bb * 1000 + now)
    ts = sorted(rng.randint(0, 600) for _ in range(8))
    mids = [2 * bb + rng.randint(-6, 6) for _ in ts]
    c = ctx(bb, bb + spread, now, pos, data, rng.randint(1, 5), rng.randint(1, 5))
    o = OracleQuoter(MarkedPath(ts, mids, 500), h, hs, thr, k, 2, 2, fair, anchor)
    r = RegimeOracleQuoter(MarkedPath(ts, [x % 3 for x in mids], 500), h, hs, widen, mask, 2, 2, fair)
    for twin in (o, r):
        native = twin.native()
        for _ in range(2):  # the cursor state too
            both(twin, native, c)


# ----------------------------------------------------------------------------------------- the loader
def test_oracle_specs_load_and_round_trip():
    obj, name = load_strategy("oracle:horizon=250ms,threshold=1,k=0.5")
    assert obj == BuiltinSpec("oracle", {"horizon": "250ms", "threshold": 1.0, "k": 0.5, "anchor": "decision",
                                         "half_spread": 1.0, "size": 1, "max_position": 0, "fair": "mid"})
    assert load_strategy(name)[0] == obj
    assert load_strategy("oracle:horizon=1500ms")[0].params["horizon"] == "1500ms"
    assert load_strategy("oracle:horizon=0")[0].params["horizon"] == "0"
    assert load_strategy("oracle:horizon=2000ms")[0].params["horizon"] == "2s"
    obj, _ = load_strategy("oracle_regime:widen=2,toxic=burst")
    assert obj.params == {"horizon": "0", "toxic": "burst", "widen": 2.0, "half_spread": 1.0, "size": 1,
                          "max_position": 0, "fair": "mid"}
    assert {"size", "max_position", "fair", "half_spread"} <= set(BUILTINS["oracle"]) & set(BUILTINS["oracle_regime"])


@pytest.mark.parametrize("spec, text", [
    ("oracle:horizon=5", "horizon=5 must be a duration"),
    ("oracle:horizon=-1s", "must be a duration"),
    ("oracle:horizon=fast", "must be a duration"),
    ("oracle:threshold=-1", "threshold=-1.0 must be >= 0"),
    ("oracle:anchor=now", "anchor=now must be decision"),
    ("oracle:kk=1", "unknown parameter 'kk' for oracle"),
    ("oracle_regime:toxic=calm", "toxic=calm must be burst, news or burst+news"),
    ("oracle_regime:widen=-1", "widen=-1.0 must be >= 0"),
])
def test_bad_oracle_specs_rejected(spec, text):
    with pytest.raises(ConfigError) as e:
        load_strategy(spec)
    assert f"strategy '{spec}'" in str(e.value) and text in str(e.value)


def test_an_oracle_needs_its_marked_path():
    with pytest.raises(ConfigError, match="needs its marked path"):
        from_builtin("oracle", load_strategy("oracle")[0].params)


# ----------------------------------------------------------------------------------------- in the loop
def test_oracle_has_a_lower_adverse_selection_cost_than_symmetric(market):
    base = run(market, "symmetric:half_spread=1")
    orc = run(market, ORACLE)
    assert orc.summary["clairvoyant"] is True and 0 < orc.summary["oracle_past_end"] < 1000
    assert len(orc.fills) > 300
    assert as_per_lot(orc, market) < as_per_lot(base, market) - 0.1   # ~0.0 against ~0.19 ticks per lot
    regime = run(market, "oracle_regime:half_spread=1")
    assert regime.summary["clairvoyant"] is True
    assert as_per_lot(regime, market) < as_per_lot(base, market) - 0.05


def test_horizon_zero_without_feed_latency_never_pulls(market):
    """H = 0: move = mid_exch(now) - mid_now. With no feed latency the strategy side is the exchange side at
    every wakeup, so the move is 0: the oracle quotes exactly as symmetric. With feed latency the move is the
    part of the present the feed has not delivered yet: it pulls when that exceeds the threshold."""
    quotes = ["ts", "bid_price", "bid_qty", "ask_price", "ask_qty", "n_new", "n_cancel", "n_modify", "reason"]
    base = run(market, "symmetric:half_spread=1", feed="0")
    orc = run(market, "oracle:horizon=0,half_spread=1,k=2", feed="0")
    pd.testing.assert_frame_equal(orc.fills, base.fills)
    pd.testing.assert_frame_equal(orc.decisions[quotes], base.decisions[quotes])
    assert (orc.decisions["flags"] == R.DECISION_CLAIRVOYANT).all() and (base.decisions["flags"] == 0).all()
    late_base = run(market, "symmetric:half_spread=1", feed="200ms")
    late = run(market, "oracle:horizon=0,half_spread=1", feed="200ms")
    d = late.decisions
    pulled = ((d["bid_qty"] == 0) | (d["ask_qty"] == 0)) & (d["bid_price"] > 0)
    assert pulled.sum() > 100 and len(late.fills) != len(late_base.fills)


def saving(market, spec, **kw):
    return as_per_lot(run(market, "symmetric:half_spread=1", **kw), market) - as_per_lot(run(market, spec, **kw), market)


def test_order_latency_eats_the_oracle_saving(market):
    """The oracle acts through the same compute and order latency as any strategy: the later its pulls reach
    the exchange, the less they save."""
    s = [saving(market, ORACLE, order=lat) for lat in ("1ms", "30ms", "300ms")]
    assert s[0] > s[1] > s[2] > 0, s


def test_feed_latency_eats_the_data_anchored_oracle_saving(market):
    """anchor=data: foresight of H beyond the newest data seen. Once the feed is late by much more than H,
    what it foresees is the past: its saving vanishes (anchor=decision sees through the feed and keeps it)."""
    spec = "oracle:horizon=1s,threshold=0.5,half_spread=1,anchor=data"
    fresh, late = saving(market, spec, feed="0"), saving(market, spec, feed="3s")
    assert fresh > 0.1 and abs(late) < 0.05, (fresh, late)
    assert saving(market, ORACLE, feed="3s") > fresh  # the decision-anchored oracle reads the present too


def test_horizon_past_the_data_end(market):
    ev = market.events[:3000]
    span = int(ev["exch_ts"][-1] - ev["exch_ts"][0])
    res = simulate(ev, INST, f"oracle:horizon={span // 2}ns", **LAT)
    assert res.summary["oracle_past_end"] > res.summary["n_decisions"] // 3
    ref = simulate(ev, INST, f"oracle:horizon={span // 2}ns", engine="reference", **LAT)
    assert ref.summary["oracle_past_end"] == res.summary["oracle_past_end"]
    for spec in (f"oracle:horizon={span + 1}ns", f"oracle_regime:horizon={span + 1}ns"):
        with pytest.raises(ConfigError, match=r"runs past the data's end for every decision \(the data span"):
            simulate(ev, INST, spec, truth=market, **LAT)


def test_oracle_regime_needs_the_truth(market):
    with pytest.raises(ConfigError, match="oracle_regime.*needs the true regime"):
        simulate(market.events[:2000], INST, "oracle_regime", **LAT)
    with pytest.raises(ConfigError, match="truth: 3 exchange times but 2 regimes"):
        regime_path({"exch_ts": [1, 2, 3], "regime": [0, 1]}, 10)
    p = regime_path({"exch_ts": [1, 2, 2, 5, 7], "regime": [0, 1, 0, 0, 2]}, 10)  # group ends, where it changes
    assert p.ts.tolist() == [1, 7] and p.values.tolist() == [0, 2]


# ----------------------------------------------------------------------------------------- both engines
SPECS = ["oracle:horizon=1s", "oracle:horizon=200ms,k=0.5,threshold=0,fair=micro,max_position=3",
         "oracle:horizon=50ms,anchor=data,half_spread=0.5", "oracle_regime:horizon=100ms",
         "oracle_regime:widen=0.5,toxic=burst"]


@pytest.mark.parametrize("spec", SPECS)
def test_engines_agree_bit_for_bit(market, spec):
    lat = dict(feed_latency="lognormal:median=2ms,sigma=0.8", entry_latency="1ms", cancel_latency="500us",
               response_latency="1ms", compute_latency="lognormal:median=100us,sigma=1", timer_interval_ns=50_000_000)
    ev = market.events[:30_000]  # enough for the micro-price oracle (k=0.5, max_position=3) to fill
    a = simulate(ev, INST, spec, truth=market, seed=4, **lat)
    b = simulate(ev, INST, spec, truth=market, seed=4, engine="reference", **lat)
    assert len(a.fills) > 0 and (a.decisions["flags"] == R.DECISION_CLAIRVOYANT).all()
    assert_identical(a, b)
    for k in ("clairvoyant", "oracle_past_end"):
        assert a.summary[k] == b.summary[k], k


def run_both_oracle(ev, **kw):
    out = []
    for engine in ("cpp", "reference"):
        try:
            out.append(simulate(ev, INST, engine=engine, **kw))
        except (DataError, StrategyError, ConfigError) as e:
            out.append((type(e).__name__, str(e)))
    return out


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.one_of(l2_streams(), l3_streams()), lat=st.sampled_from(range(len(LATENCY_SETS))),
       seed=st.integers(0, 2**16), h=st.sampled_from(("0", "1us", "3us", "20us")), k=st.sampled_from((0, 1)),
       anchor=st.sampled_from(("decision", "data")), policy=st.sampled_from(("repair", "repair", "error")),
       timer=st.sampled_from((0, 2_000)))
def test_engines_agree_on_random_streams(rows, lat, seed, h, k, anchor, policy, timer):
    spec = f"oracle:horizon={h},k={k},threshold=0,anchor={anchor},half_spread=0.5,max_position=4"
    a, b = run_both_oracle(to_events(rows), strategy=spec, seed=seed, crossed_policy=policy,
                           timer_interval_ns=timer, **LATENCY_SETS[lat])
    assert_identical(a, b)
    if not isinstance(a, tuple):
        assert a.summary["oracle_past_end"] == b.summary["oracle_past_end"]


def test_a_streamed_store_gives_the_same_oracle_run(market, tmp_path):
    from mmsim.data.store import EventStore, write_store

    ev = market.events[:60_000]
    write_store(tmp_path / "s.mmstore", [ev[i:i + 7_000] for i in range(0, len(ev), 7_000)], INST, row_group=9_000)
    store = EventStore(tmp_path / "s.mmstore")
    for spec in ("oracle:horizon=500ms,k=0.5", "oracle_regime:horizon=50ms"):
        a = simulate(ev, INST, spec, truth=market, **LAT)
        b = simulate(store, INST, spec, truth=market, chunk_rows=5_000, **LAT)
        pd.testing.assert_frame_equal(a.fills, b.fills)
        pd.testing.assert_frame_equal(a.decisions, b.decisions)
        assert a.summary["oracle_past_end"] == b.summary["oracle_past_end"]


# ----------------------------------------------------------------------------------------- no leak, and the audit
def test_no_look_ahead_reaches_other_strategies(market):
    """Only an oracle gets a marked path: every other strategy runs the same with or without the truth, its
    decisions carry no clairvoyant mark and its summary no clairvoyant key; an oracle, in contrast, decides
    differently before a cut in the data when the data after the cut changes (it reads the future)."""
    ev = market.events[:40_000]
    for spec in ("symmetric:half_spread=1", "skew_pull:k=1,threshold=0.5", "glft"):
        a = simulate(ev, INST, spec, **LAT)
        b = simulate(ev, INST, spec, truth=market, **LAT)
        pd.testing.assert_frame_equal(a.decisions, b.decisions)
        assert (a.decisions["flags"] == 0).all() and "clairvoyant" not in a.summary
    cut = 25_000
    t_cut = int(ev["exch_ts"][cut])
    full = simulate(ev, INST, "oracle:horizon=2s", **LAT)
    part = simulate(ev[:cut], INST, "oracle:horizon=2s", **LAT)
    before = lambda d: d[d["ts"] < t_cut - 2_000_000_000].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(before(full.decisions), before(part.decisions))  # the future it can see is H
    window = lambda d: d[(d["ts"] >= t_cut - 2_000_000_000) & (d["ts"] < t_cut)].reset_index(drop=True)  # noqa: E731
    assert not window(full.decisions).equals(window(part.decisions))


@pytest.fixture()
def oracle_dir(tmp_path, market):
    res = simulate(market.events[:40_000], INST, ORACLE, **LAT)
    write_results(tmp_path / "orc", res)
    return tmp_path / "orc"


def test_audit_labels_an_oracle_run_and_passes_it(oracle_dir, capsys):
    report = audit_dir(oracle_dir)
    assert report["ok"] and report["label"] == LABEL_CLAIRVOYANT
    assert report["clairvoyant_not_oracle"] == report["oracle_unmarked"] == report["clairvoyant_summary_mismatch"] == 0
    assert main(["audit", str(oracle_dir)]) == 0
    out = capsys.readouterr().out
    assert "clairvoyant (oracle bound): reads the future through the marked path" in out and "audit passed" in out


def _rewrite(run_dir, d=None, summary=None):
    if d is not None:
        d["chain"] = chain_hashes(d)
        d.to_parquet(run_dir / "decisions.parquet", index=False)
    s = json.loads((run_dir / "summary.json").read_text())
    s.update(summary or {})
    if d is not None:
        s["decision_chain"] = d["chain"].iloc[-1]
    for k in [k for k, v in s.items() if v is None]:
        del s[k]
    (run_dir / "summary.json").write_text(json.dumps(s))


def test_audit_fails_clairvoyant_decisions_of_another_strategy(oracle_dir, capsys):
    # the oracle's log presented as a symmetric run: the marks (covered by the chain) give it away
    _rewrite(oracle_dir, summary={"strategy": "symmetric:half_spread=1.0,size=1,max_position=0,fair=mid",
                                  "clairvoyant": None})
    report = audit_dir(oracle_dir)
    assert not report["ok"] and report["clairvoyant_not_oracle"] == report["decisions"] > 1000
    assert report["label"] == LABEL_CLAIRVOYANT
    assert main(["audit", str(oracle_dir)]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_audit_fails_unmarked_oracle_decisions_and_stray_marks(oracle_dir, tmp_path, market):
    d = pd.read_parquet(oracle_dir / "decisions.parquet")
    d.loc[10:20, "flags"] = 0   # an oracle's decision passed off as causal (chain recomputed)
    _rewrite(oracle_dir, d)
    report = audit_dir(oracle_dir)
    assert not report["ok"] and report["oracle_unmarked"] == 11 and report["chain_first_broken_row"] == -1
    res = simulate(market.events[:20_000], INST, "symmetric:half_spread=1", **LAT)
    write_results(tmp_path / "sym", res)
    report = audit_dir(tmp_path / "sym")
    assert report["ok"] and report["label"] == LABEL_CAUSAL
    d = pd.read_parquet(tmp_path / "sym" / "decisions.parquet")
    d.loc[5, "flags"] = R.DECISION_CLAIRVOYANT
    _rewrite(tmp_path / "sym", d)
    report = audit_dir(tmp_path / "sym")
    assert not report["ok"] and report["clairvoyant_not_oracle"] == 1
    _rewrite(tmp_path / "sym", summary={"clairvoyant": True})   # a summary claiming it for a causal strategy
    assert audit_dir(tmp_path / "sym")["clairvoyant_summary_mismatch"] == 1


def test_a_log_written_before_flags_existed_still_verifies(tmp_path, market):
    res = simulate(market.events[:20_000], INST, "symmetric:half_spread=1", **LAT)
    write_results(tmp_path / "old", res)
    d = pd.read_parquet(tmp_path / "old" / "decisions.parquet").drop(columns=["flags"])
    d["reason"] = d["reason"].astype("int32")  # the old layout: int32 reason, no flags: the same bytes
    d.to_parquet(tmp_path / "old" / "decisions.parquet", index=False)
    report = audit_dir(tmp_path / "old")
    assert report["ok"] and report["label"] == LABEL_CAUSAL


def test_cli_run_compare_and_audit_with_oracles(tmp_path, capsys):
    assert main(["run", "toxic_burst", "--rows", "20000", "--no-progress", "--strategy",
                 "oracle:horizon=1s,threshold=0.5,half_spread=1", "--out", str(tmp_path / "o")]) == 0
    assert "clairvoyant" in capsys.readouterr().out
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["clairvoyant"] is True and s["strategy"].startswith("oracle:horizon=1s,") and "oracle_past_end" in s
    assert main(["audit", str(tmp_path / "o")]) == 0
    assert main(["run", "toxic_burst", "--rows", "20000", "--no-progress", "--strategy", "oracle_regime:widen=1",
                 "--out", str(tmp_path / "r")]) == 0   # the scenario's synthetic market brings its true regime
    assert main(["audit", str(tmp_path / "r")]) == 0
    assert main(["run", "bursty_feed", "--rows", "5000", "--no-progress", "--strategy", "oracle_regime",
                 "--out", str(tmp_path / "x")]) == 2
    assert "needs the true regime" in capsys.readouterr().err
    assert main(["compare", "toxic_burst", "--rows", "20000", "--n-boot", "50", "--baseline",
                 "symmetric:half_spread=1", "--treated", "oracle:horizon=1s,half_spread=1",
                 "--out", str(tmp_path / "c")]) == 0
    assert audit_dir(tmp_path / "c" / "treated")["label"] == LABEL_CLAIRVOYANT
    assert audit_dir(tmp_path / "c" / "baseline")["label"] == LABEL_CAUSAL
