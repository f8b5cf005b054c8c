"""Training (mmsim.signals.train, mmsim train): targets, purge and embargo, metrics, fitting, determinism, no look-ahead."""
from __future__ import annotations

import itertools
import json
import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import events as make_events
from mmsim import records as R
from mmsim.signals import train as T
from mmsim.signals.batch import features_frame
from mmsim.cli import main
from mmsim.errors import ConfigError
from mmsim.data.market import generate_market

MS = 1_000_000
S = 1_000_000_000
FEED = "lognormal:median=1ms,sigma=0.5"

# A hand-made L2 book (times in ms): mids after each row are written beside it.
HAND = [
    (0, R.DEPTH, R.BID, 100, 5),     # row 0  bid 100            (one-sided)
    (0, R.DEPTH, R.ASK, 102, 5),     # row 1  100 / 102  mid 101
    (50, R.DEPTH, R.ASK, 101, 3),    # row 2  100 / 101  mid 100.5
    (150, R.DEPTH, R.BID, 100, 0),   # row 3  -   / 101
    (150, R.DEPTH, R.BID, 99, 2),    # row 4  99  / 101  mid 100
    (260, R.TRADE, R.ASK, 99, 1),    # row 5  a print: no change
    (300, R.DEPTH, R.ASK, 101, 0),   # row 6  99  / 102  mid 100.5
    (420, R.DEPTH, R.BID, 100, 4),   # row 7  100 / 102  mid 101
    (2000, R.DEPTH, R.ASK, 103, 1),  # row 8  deeper level: mid 101 (the data's end)
]


def hand_events():
    return make_events([(t * MS, k, s, p, q) for t, k, s, p, q in HAND])


# ------------------------------------------------------------------------------------------------ targets
def test_targets_and_samples_by_hand_without_latency():
    s = T.build_samples(hand_events(), "mid,spread", 200 * MS, every_ns=100 * MS, feed_latency=0)
    # grid 0, 100, 200, ... ms: first arrival at or after each, last row delivered then
    assert s.rows.tolist() == [1, 4, 5, 6, 7]              # row 8 (a = 2000 ms) runs past the end: dropped
    assert s.arrival.tolist() == [0, 150 * MS, 260 * MS, 300 * MS, 420 * MS]
    assert s.n_dropped_end == 1 and s.n_dropped_no_mid == 0
    # m(a + 200ms) - m(a): 100 - 101, 100.5 - 100, 101 - 100, 101 - 100.5, 101 - 101
    assert s.move.tolist() == [-1.0, 0.5, 1.0, 0.5, 0.0]
    assert s.X[:, 0].tolist() == [101.0, 100.0, 100.0, 100.5, 101.0]
    assert s.X[:, 1].tolist() == [2.0, 2.0, 2.0, 3.0, 2.0]
    assert s.start_ts == 0 and s.end_ts == 420 * MS + 200 * MS
    assert T.make_target(s.move, "up").tolist() == [0, 1, 1, 1, 0]
    assert T.make_target(s.move, "direction").tolist() == [0, 2, 2, 2, 1]   # down, up, up, up, flat


def test_targets_use_the_exchange_side_mid_not_the_delayed_view():
    # feed latency 60 ms: row 2 (ask 101 at 50 ms) is on the exchange at the first sample (a = 60 ms) but
    # reaches the strategy only at 110 ms. The label starts from the exchange's mid (100.5); the feature
    # shows what the strategy saw (101).
    s = T.build_samples(hand_events(), "mid", 200 * MS, every_ns=100 * MS, feed_latency="60ms")
    assert s.rows.tolist() == [1, 2, 4, 5, 7]
    assert s.arrival.tolist() == [60 * MS, 110 * MS, 210 * MS, 320 * MS, 480 * MS]
    assert s.X[:, 0].tolist() == [101.0, 100.5, 100.0, 100.0, 101.0]
    # m(260) - m(60) = 100 - 100.5; m(310) - m(110) = 100.5 - 100.5; m(410) - m(210) = 100.5 - 100;
    # m(520) - m(320) = 101 - 100.5; m(680) - m(480) = 0
    assert s.move.tolist() == [-0.5, 0.0, 0.5, 0.5, 0.0]
    assert s.n_dropped_end == 1


def test_one_sided_book_holds_the_last_mid_and_no_mid_yet_is_dropped():
    ev = make_events([(0, R.DEPTH, R.BID, 100, 5), (100 * MS, R.DEPTH, R.ASK, 102, 5),
                      (200 * MS, R.DEPTH, R.ASK, 102, 0), (300 * MS, R.DEPTH, R.ASK, 104, 1),
                      (900 * MS, R.DEPTH, R.BID, 90, 1)])
    ts, mid = T.exchange_mid(ev)
    assert np.isnan(mid[0]) and mid[1:].tolist() == [101.0, 101.0, 102.0, 102.0]
    s = T.build_samples(ev, "mid", 100 * MS, every_ns=100 * MS)
    # a = 0: no two-sided book yet -> dropped; a = 200 ms: one-sided, the mid held is 101
    assert s.n_dropped_no_mid == 1
    assert s.arrival.tolist() == [100 * MS, 200 * MS, 300 * MS]
    assert s.move.tolist() == [0.0, 1.0, 0.0]


def test_sample_rows_every_interval():
    a = np.array([5, 5, 7, 12, 13, 31, 31, 31, 60]) * MS
    assert T.sample_rows(a, 10 * MS).tolist() == [1, 3, 7, 8]
    assert T.sample_rows(a, 1 * MS).tolist() == [1, 2, 3, 4, 7, 8]


# ------------------------------------------------------------------------------------------ purge/embargo
@settings(max_examples=60)
@given(gaps=st.lists(st.integers(1, 300), min_size=150, max_size=400), h=st.integers(1, 2000),
       k=st.integers(2, 5), emb=st.one_of(st.none(), st.integers(0, 3000)), seed=st.integers(0, 10))
def test_purge_and_embargo_properties(gaps, h, k, emb, seed):
    a = np.cumsum(np.asarray(gaps, np.int64))
    for scheme in ("expanding", "purged"):
        try:
            folds = T.walk_forward(a, h, k, scheme, emb)
        except ConfigError as e:
            assert "training samples after the purge" in str(e) or "too few samples" in str(e)
            continue
        assert [f.k for f in folds] == list(range(1, k + 1))
        e = h if emb is None else emb
        tested = np.concatenate([f.test for f in folds])
        for f in folds:
            t0, t1 = int(a[f.test[0]]), int(a[f.test[-1]]) + h
            assert (f.test_start_ts, f.test_end_ts) == (t0, t1)
            assert np.all(np.diff(f.test) == 1)                     # a contiguous block in time
            tr = f.train
            assert not np.isin(tr, f.test).any()
            # no training label window [a, a + H] overlaps the test period [t0, t1]
            assert not np.any((a[tr] <= t1) & (a[tr] + h >= t0))
            idx = np.arange(len(a))
            if scheme == "expanding":
                # only the past, and everything of the past whose label ends before the fold starts
                assert np.array_equal(tr, idx[a + h < t0])
            else:
                assert not np.any((a[tr] > t1) & (a[tr] <= t1 + e))   # embargo
                keep = ~((a <= t1) & (a + h >= t0)) & ~((a > t1) & (a <= t1 + e))
                keep[f.test] = False
                assert np.array_equal(tr, idx[keep])
        if scheme == "purged":
            assert np.array_equal(np.sort(tested), np.arange(len(a)))  # every sample tested once
        else:
            assert len(np.unique(tested)) == len(tested)


def test_purge_and_embargo_by_example():
    a = np.arange(0, 200) * 10           # samples every 10, H = 35
    f = T.walk_forward(a, 35, 4, "expanding")[0]     # blocks of 40: test = samples 40..79 (a = 400..790)
    assert f.test.tolist() == list(range(40, 80))
    assert f.train.tolist() == list(range(0, 37))    # a + 35 < 400  <=>  a <= 360
    assert f.n_purged == 3 and f.n_embargoed == 0
    g = T.walk_forward(a, 35, 4, "purged", embargo_ns=50)[1]   # blocks of 50: test 50..99 (a = 500..990)
    # purge: a <= 990 + 35 and a + 35 >= 500 -> a in [465, 1025]; embargo: a in (1025, 1075]
    assert (g.test_start_ts, g.test_end_ts) == (500, 1025)
    assert g.train.tolist() == list(range(0, 47)) + list(range(108, 200))
    assert (g.n_purged, g.n_embargoed) == (3 + 3, 5)
    d = T.walk_forward(a, 35, 4, "purged")[1]                   # default embargo = H: a in (1025, 1060]
    assert d.train.tolist() == list(range(0, 47)) + list(range(107, 200)) and d.n_embargoed == 4


def test_trained_folds_never_train_on_labels_that_reach_the_test_fold():
    ev = generate_market("toxic_burst", 40_000, 2).events
    (r,) = T.train(ev, "small", "linear", [2 * S], feed_latency=FEED)
    a = r.samples.arrival
    for f in r.folds:
        assert np.all(a[f.train] + 2 * S < a[f.test[0]])
        assert f.n_purged > 0


# ------------------------------------------------------------------------------------------------ metrics
def brute_auc(y, s):
    pos, neg = s[y], s[~y]
    wins = sum((p > q) + 0.5 * (p == q) for p, q in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(6))
def test_auc_equals_the_pairwise_count(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    y = rng.random(n) < 0.4
    s = rng.integers(0, 6, n).astype(float) if seed % 2 else rng.standard_normal(n)   # with and without ties
    if y.all() or not y.any():
        y[0] = not y[0]
    assert T.auc(y, s) == pytest.approx(brute_auc(y, s), abs=1e-12)


def test_auc_edge_cases():
    assert T.auc([True, False], [1.0, 0.0]) == 1.0
    assert T.auc([True, False], [0.0, 1.0]) == 0.0
    assert T.auc([True, False, True, False], [3, 3, 3, 3]) == 0.5
    assert math.isnan(T.auc([True, True], [1.0, 2.0]))


def test_metrics_by_hand():
    move = np.array([1.0, -0.5, 0.0, 2.0, -1.0])
    pred = np.array([0.5, 0.5, 0.1, 1.0, -0.2])
    m = T.metrics(move, pred.reshape(-1, 1), "move")
    assert m["n"] == 5 and m["n_nonzero"] == 4
    assert m["hit_rate"] == 0.75                      # signs right on 1, 2.0, -1; wrong on -0.5
    assert m["auc"] == pytest.approx(brute_auc(move > 0, pred))
    sst = np.sum((move - move.mean()) ** 2)
    assert m["r2"] == pytest.approx(1 - np.sum((move - pred) ** 2) / sst)
    p_up = np.array([0.6, 0.2, 0.4, 0.9, 0.1])
    u = T.metrics(move, p_up.reshape(-1, 1), "up", prior_up=0.3)
    assert u["hit_rate"] == 1.0 and u["r2"] is None   # p_up above / below the training up rate
    probs = np.array([[0.1, 0.3, 0.6], [0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6]])
    d = T.metrics(move, probs, "direction")
    assert d["hit_rate"] == 0.75                      # p_up - p_down: +, -, (flat move not counted), +, + (wrong)
    assert d["logloss"] == pytest.approx(-np.mean(np.log([0.6, 0.5, 0.6, 0.4, 0.2])))


# ------------------------------------------------------------------------------------------------ fitting
def test_ridge_matches_the_normal_equations_and_logistic_is_stationary():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 5)) * [1, 2, 3, 4, 5] + 7
    X[rng.random(X.shape) < 0.05] = np.nan
    y = np.nan_to_num(X) @ [0.3, -0.2, 0.1, 0.0, 0.05] + rng.standard_normal(400)
    pre, p = T.fit("linear", "move", X, y, options={"alpha": 0.01})
    Z = T._apply(X, pre["mean"], pre["scale"])
    assert np.allclose(Z.mean(axis=0), 0, atol=1e-12)           # NaN -> 0 = the training mean
    Zc = Z - Z.mean(axis=0)
    w = np.linalg.solve(Zc.T @ Zc / 400 + 0.01 * np.eye(5), Zc.T @ (y - y.mean()) / 400)
    assert np.allclose(p["weights"], w) and p["bias"] == pytest.approx(y.mean() - Z.mean(axis=0) @ w)
    yb = (y > 0).astype(float)
    pre, p = T.fit("logistic", "up", X, yb, options={"alpha": 0.01})
    w, b = np.asarray(p["weights"]), p["bias"]
    q = 1 / (1 + np.exp(-(Z @ w + b)))
    assert np.allclose(Z.T @ (q - yb) / 400 + 0.01 * w, 0, atol=1e-9) and abs(np.mean(q - yb) + 1e-8 * b) < 1e-9
    yc = T.make_target(y, "direction")
    pre, p = T.fit("multinomial", "direction", X, yc, options={"alpha": 0.01})
    W, b = np.asarray(p["weights"]), np.asarray(p["bias"])
    P = T._softmax(Z @ W.T + b)
    Y = np.eye(3)[yc]
    assert np.allclose((P - Y).T @ Z / 400 + 0.01 * W, 0, atol=1e-8)
    assert np.allclose(W.sum(axis=0), 0, atol=1e-9) and abs(b.sum()) < 1e-9


def test_predictions_agree_with_the_model_file_reader():
    models = pytest.importorskip("mmsim.signals.models")
    ev = generate_market("quiet", 30_000, 4).events
    assert np.isnan(T.build_samples(ev, "small", S, feed_latency=FEED).X).any()   # NaN inputs are covered
    for kind, target, opts in [("linear", None, {}), ("logistic", None, {}), ("multinomial", None, {}),
                               ("mlp", "move", {"steps": 30}), ("mlp", "direction", {"steps": 30}),
                               ("gbdt", "up", {"rounds": 10})]:
        (r,) = T.train(ev, "small", kind, [S], target=target, folds=2, feed_latency=FEED, options=opts)
        loaded = models.validate_model(json.loads(json.dumps(r.model)))
        assert np.allclose(loaded.predict_python(r.samples.X), T.predict(r.model, r.samples.X), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------- determinism, look-ahead
def model_bytes(r, path):
    T.write_model(r.model, path)
    return path.read_bytes()


@pytest.mark.parametrize("kind,target,opts", [("linear", None, {}), ("mlp", "move", {"steps": 40, "hidden": (16, 8)}),
                                              ("gbdt", "direction", {"rounds": 15})])
def test_same_inputs_byte_identical_model_file(tmp_path, kind, target, opts):
    ev = generate_market("toxic_burst", 30_000, 5).events
    a, b = (model_bytes(T.train(ev, "small", kind, [S], target=target, folds=3, feed_latency=FEED, seed=7,
                                scenario="x", options=opts)[0], tmp_path / f"{i}.json") for i in range(2))
    assert a == b
    c = model_bytes(T.train(ev, "small", kind, [S], target=target, folds=3, feed_latency=FEED, seed=8,
                            scenario="x", options=opts)[0], tmp_path / "c.json")
    assert c != a                                    # the seed matters (latency draws, initialisation)


def _shuffle_after(ev, t, rng):
    """Every field of the rows after t shuffled among them (exch_ts kept sorted), prices and sizes jittered,
    receive times scrambled: garbage, but only after t."""
    out = ev.copy()
    idx = np.flatnonzero(ev["exch_ts"] > t)
    perm = rng.permutation(idx)
    for f in ("price", "qty", "order_id", "kind", "side", "flags", "recv_ts"):
        out[f][idx] = ev[f][perm]
    out["price"][idx] += rng.integers(-3, 4, len(idx))
    out["qty"][idx] = np.maximum(1, out["qty"][idx] + rng.integers(-2, 3, len(idx)))
    return out


def _delay_after(ev, t, rng):
    """Valid data: the same rows after t, each delayed by a random non-decreasing amount (the book stays
    consistent), so every label window and arrival after t changes."""
    out = ev.copy()
    idx = np.flatnonzero(ev["exch_ts"] > t)
    out["exch_ts"][idx] += np.sort(rng.integers(0, 5 * S, len(idx)))
    return out


@pytest.mark.parametrize("kind,opts", [("linear", {}), ("gbdt", {"rounds": 15})])
def test_no_look_ahead(tmp_path, kind, opts):
    ev = generate_market("toxic_burst", 60_000, 3).events
    t0 = int(ev["exch_ts"][0])
    end = t0 + 100 * S                 # training window end: no label window ends after it
    H = S
    rng = np.random.default_rng(0)

    def run(events, name):
        (r,) = T.train(events, "small", kind, [H], folds=4, feed_latency=FEED, seed=1, end_ts=end, scenario="s",
                       options=opts)
        return r, model_bytes(r, tmp_path / f"{name}.json")

    base, base_bytes = run(ev, "base")
    assert base.samples.end_ts <= end and base.model["training"]["end_ts"] == base.samples.end_ts
    assert base.samples.end_ts > end - 200 * MS            # the window is used up to its end
    # the in-sample features are the batch bank's values over ALL the data (nothing special about the cut)
    full = features_frame(ev, "small", feed_latency=FEED, seed=1)
    assert np.array_equal(full[base.samples.columns].to_numpy()[base.samples.rows], base.samples.X, equal_nan=True)
    for cut in (end, end + H):
        for name, perturb in (("shuffle", _shuffle_after), ("delay", _delay_after)):
            ev2 = perturb(ev, cut, rng)
            assert (ev2 != ev).sum() > 1000
            r, b = run(ev2, f"{name}{cut}")
            assert b == base_bytes, (name, cut)
            assert np.array_equal(r.samples.X, base.samples.X, equal_nan=True)
            assert np.array_equal(r.samples.move, base.samples.move)
    # the valid perturbation gives the same features even when the bank reads everything
    ev3 = _delay_after(ev, end, rng)
    full3 = features_frame(ev3, "small", feed_latency=FEED, seed=1)
    assert np.array_equal(full3[base.samples.columns].to_numpy()[base.samples.rows], base.samples.X, equal_nan=True)
    # control: delaying the rows of the window's last second to its end (only label windows see them) does
    # change the labels and the model
    inside = ev.copy()
    last = (ev["exch_ts"] > end - H) & (ev["exch_ts"] <= end)
    inside["exch_ts"][last] = end
    r, b = run(inside, "inside")
    assert np.array_equal(r.samples.X, base.samples.X, equal_nan=True)
    assert not np.array_equal(r.samples.move, base.samples.move) and b != base_bytes


# ------------------------------------------------------------------------------------------------ training
def test_toxic_burst_linear_1s_is_predictive_out_of_sample():
    # Order flow predicts the next second's move in the synthetic market (docs/synthetic.md); on 500k rows
    # (23 minutes) a ridge on the small bank shows it out of sample in every fold (docs/training.md).
    ev = generate_market("toxic_burst", 500_000, 1).events
    (r,) = T.train(ev, "small", "linear", [S], feed_latency=FEED)
    assert r.pooled["r2"] > 0.1 and r.pooled["hit_rate"] > 0.55 and r.pooled["auc"] > 0.55
    assert all(f["r2"] > 0 for f in r.fold_metrics)


def test_model_dict_contract():
    ev = generate_market("quiet", 30_000, 1).events
    (r,) = T.train(ev, "small", "multinomial", [500 * MS], folds=3, feed_latency=FEED, seed=2, scenario="q")
    m = r.model
    assert list(m) == ["format", "version", "type", "features", "horizon_ns", "target", "outputs", "training",
                       "preprocess", "params"]
    assert (m["format"], m["version"], m["type"], m["target"]) == ("mmsim-model", 1, "multinomial", "direction")
    assert m["outputs"] == ["p_down", "p_flat", "p_up"] and m["horizon_ns"] == 500 * MS
    from mmsim.signals.features import column_names, spec_hash
    assert m["features"] == {"specs": column_names("small"), "hash": spec_hash("small")}
    t = m["training"]
    assert (t["scenario"], t["seed"], t["n_rows"]) == ("q", 2, len(r.samples))
    assert (t["start_ts"], t["end_ts"]) == (int(r.samples.arrival[0]), int(r.samples.arrival[-1]) + 500 * MS)
    assert len(t["metrics"]["folds"]) == 3 and t["metrics"]["out_of_sample"]["n"] == sum(len(f.test) for f in r.folds)
    n = len(m["features"]["specs"])
    assert len(m["preprocess"]["mean"]) == n and all(s > 0 for s in m["preprocess"]["scale"])
    assert np.asarray(m["params"]["weights"]).shape == (3, n) and len(m["params"]["bias"]) == 3
    json.dumps(m, allow_nan=False)


def test_model_paths_for_several_horizons(tmp_path):
    assert T.model_paths(tmp_path / "m.json", [S, 10 * S, 100 * MS]) == [
        tmp_path / "m.json", tmp_path / "m.h10s.json", tmp_path / "m.h100ms.json"]


# ------------------------------------------------------------------------------------------------ CLI
SCENARIO = """
[scenario]
name = "tiny_toxic"
description = "toxic_burst, 40k rows"
[instrument]
tick_size = 0.01
lot_size = 1.0
[source]
kind = "synthetic_market"
preset = "toxic_burst"
n_rows = 40_000
seed = 3
[latency]
feed = "lognormal:median=1ms,sigma=0.5"
"""


@pytest.fixture()
def scenario(tmp_path):
    p = tmp_path / "tiny.toml"
    p.write_text(SCENARIO)
    return p


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_a_valid_model_and_prints_metrics(capsys, scenario, tmp_path):
    out = tmp_path / "m" / "model.json"
    code, text, err = cli(capsys, "train", scenario, "--model", "linear", "--horizon", "1s,100ms", "--out", out)
    assert code == 0, err
    assert "pooled" in text and "hit" in text and "auc" in text and "r2" in text
    assert "out of sample (pooled) by horizon" in text
    second = tmp_path / "m" / "model.h100ms.json"
    assert f"wrote {out}" in text and f"wrote {second}" in text
    m1, m2 = json.loads(out.read_text()), json.loads(second.read_text())
    assert (m1["horizon_ns"], m2["horizon_ns"]) == (S, 100 * MS)
    assert m1["training"]["scenario"] == "tiny_toxic" and m1["type"] == "linear"
    try:
        from mmsim.signals.models import load_model
    except ImportError:
        return
    load_model(out, "small")
    load_model(second, "small")


def test_cli_same_seed_same_file(capsys, scenario, tmp_path):
    files = []
    for i in range(2):
        p = tmp_path / f"{i}.json"
        code, _, err = cli(capsys, "train", scenario, "--model", "logistic", "--horizon", "1s", "--out", p,
                           "--seed", "3", "--folds", "3", "--scheme", "purged")
        assert code == 0, err
        files.append(p.read_bytes())
    assert files[0] == files[1]


@pytest.mark.parametrize("argv,text", [
    (["--model", "forest", "--horizon", "1s"], "--model"),
    (["--model", "linear", "--horizon", "0"], "--horizon '0': must be > 0"),
    (["--model", "linear", "--horizon=-1s"], "--horizon '-1s': must be > 0"),
    (["--model", "linear", "--horizon", "1sec"], "--horizon '1sec'"),
    (["--model", "linear", "--horizon", "1s", "--rows", "3000"], "too few samples"),
    (["--model", "linear", "--horizon", "1s", "--end-ts", "34205000000000"], "too few samples"),
    (["--model", "linear", "--horizon", "1s", "--target", "up"], "target 'up': model linear learns move"),
    (["--model", "linear", "--horizon", "1s", "--every", "0"], "--every '0': must be > 0"),
    (["--model", "linear", "--horizon", "1s,1s"], "given twice"),
    (["--model", "linear", "--horizon", "1s", "--spec", "nope"], "nope"),
    (["--model", "linear", "--horizon", "1s", "--feed-latency", "fast"], "--feed-latency"),
    (["--model", "linear", "--horizon", "1s", "--hidden", "64,x"], "--hidden"),
    (["--model", "linear", "--horizon", "1s", "--embargo", "2s"], "--embargo: only the purged scheme"),
    (["--model", "linear", "--horizon", "1s", "--scheme", "purged", "--embargo", "soon"], "--embargo 'soon'"),
    (["--model", "linear", "--horizon", "1s", "--folds", "0"], "--folds"),
    (["--model", "linear", "--horizon", "1s", "--alpha", "-1"], "--alpha"),
])
def test_cli_bad_input_one_line_exit_2(capsys, scenario, tmp_path, argv, text):
    code, _, err = cli(capsys, "train", scenario, *argv, "--out", tmp_path / "m.json")
    assert code == 2, err
    assert err.startswith("mmsim: error: ") and err.count("\n") == 1, err
    assert text in err
    assert not (tmp_path / "m.json").exists()


def test_cli_gbdt_without_lightgbm(capsys, scenario, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)      # import lightgbm -> ImportError
    code, _, err = cli(capsys, "train", scenario, "--model", "gbdt", "--horizon", "1s", "--out", tmp_path / "m.json")
    assert code == 2 and 'pip install "mmsim[models]"' in err and err.count("\n") == 1
