"""The Rust feature bank against the independent numpy reference, spec parsing, and bad input."""
import hashlib
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmsim import ConfigError, DataError, _core
from mmsim.signals import features as F
from mmsim import records as R
from mmsim.data.synthetic import generate_l2

ROOT = Path(__file__).resolve().parent.parent
LOBSTER = Path(__file__).parent / "data" / "lobster"
RTOL = 1e-9


def assert_matches(rust, ref, cols):
    """Equal NaN patterns; elsewhere |a - b| <= 1e-9 max(|a|, |b|) + atol, atol = 1e-11 x the column's scale
    (max |reference value|): values that cancel to ~0, e.g. a decayed order-flow sum, carry rounding of the
    order of their terms."""
    assert rust.shape == ref.shape
    nan_r, nan_f = np.isnan(rust), np.isnan(ref)
    bad_nan = nan_r != nan_f
    scale = np.nanmax(np.abs(np.where(nan_f, 0.0, ref)), axis=0, initial=0.0) if len(ref) else np.zeros(len(cols))
    # + 1e-15: a log return of prices carries rounding of eps·|log p| ~ 2e-15 whatever the column's scale (a
    # hypothesis stream whose only mid move is tiny gave rust 0 vs reference 2e-21); subnormals count as 0
    atol = 1e-11 * scale + 1e-15
    a, b = np.where(nan_r, 0.0, rust), np.where(nan_f, 0.0, ref)
    bad = bad_nan | (np.abs(a - b) > RTOL * np.maximum(np.abs(a), np.abs(b)) + atol)
    if bad.any():
        msgs = []
        for c in np.flatnonzero(bad.any(axis=0))[:8]:
            r = np.flatnonzero(bad[:, c])[0]
            msgs.append(f"{cols[c]} row {r}: rust {rust[r, c]!r} reference {ref[r, c]!r}")
        pytest.fail("bank != reference:\n" + "\n".join(msgs))


# ------------------------------------------------------------------------------------ random streams
HORIZONS = [1, 1_000, 250_000, 10_000_000, 100_000_000, 1_000_000_000, 30_000_000_000, 10**12]


def random_specs(rng, L):
    """One or more specs of every kind, random parameters (horizons from 1 ns to 1000 s)."""
    specs = set()
    h = lambda: int(rng.choice(HORIZONS))  # noqa: E731
    lv = lambda: int(rng.integers(1, L + 1))  # noqa: E731
    wn = lambda: int(rng.integers(1, 25))  # noqa: E731
    for _ in range(2):
        for k in ("mid", "spread", "queue_imbalance"):
            specs |= {F.FeatureSpec(k, 1), F.FeatureSpec(k, 1, h())}
        for k in ("microprice", "depth_imbalance"):
            specs |= {F.FeatureSpec(k, lv()), F.FeatureSpec(k, lv(), h())}
        specs |= {F.FeatureSpec("ofi", lv(), h()), F.FeatureSpec("ofi", lv(), 0, wn())}
        for k in ("trade_sign_imbalance", "signed_volume", "realized_vol", "mid_return"):
            specs |= {F.FeatureSpec(k, 0, h()), F.FeatureSpec(k, 0, 0, wn())}
        specs |= {F.FeatureSpec("event_intensity", 0, h()), F.FeatureSpec("trade_intensity", 0, h())}
        specs |= {F.FeatureSpec("vpin", 0, 0, int(rng.integers(1, 50))),
                  F.FeatureSpec("vpin", 0, h(), int(rng.integers(1, 50)))}
    specs |= {F.FeatureSpec("time_since_trade"), F.FeatureSpec("time_since_mid_change")}
    return sorted(specs, key=lambda s: s.text)


@st.composite
def streams(draw):
    n = draw(st.integers(1, 60))
    L = draw(st.integers(1, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # gaps: equal timestamps, ns, ms, seconds
    kind = rng.integers(0, 4, n)
    gap = np.choose(kind, [np.zeros(n, np.int64), rng.integers(1, 1_000, n), rng.integers(1, 10**8, n),
                           rng.integers(10**8, 3 * 10**10, n)])
    gap[0] = 0
    ts = draw(st.integers(-10**12, 10**15)) + np.cumsum(gap)
    # books: 0..L levels per side (empty sides included), garbage prices on empty levels
    best_bid = 5_000 + np.cumsum(rng.integers(-2, 3, n))
    spread = rng.integers(1, 5, n)
    bid_px = rng.integers(-10**6, 10**6, (n, L))
    ask_px = rng.integers(-10**6, 10**6, (n, L))
    bid_qty = np.zeros((n, L), np.int64)
    ask_qty = np.zeros((n, L), np.int64)
    p_empty = draw(st.sampled_from([0.0, 0.1, 0.4]))
    for i in range(n):
        nb = 0 if rng.random() < p_empty else int(rng.integers(1, L + 1))
        na = 0 if rng.random() < p_empty else int(rng.integers(1, L + 1))
        bid_px[i, :nb] = best_bid[i] - np.cumsum(np.r_[0, rng.integers(1, 3, nb - 1)]) if nb else 0
        ask_px[i, :na] = best_bid[i] + spread[i] + np.cumsum(np.r_[0, rng.integers(1, 3, na - 1)]) if na else 0
        bid_qty[i, :nb] = rng.integers(1, 60, nb)
        ask_qty[i, :na] = rng.integers(1, 60, na)
    p_trade = draw(st.sampled_from([0.0, 0.3, 0.8]))
    is_trade = rng.random(n) < p_trade
    trade_qty = np.where(is_trade, rng.integers(1, 40, n), 0)
    trade_sign = np.where(rng.random(n) < 0.1, 0, rng.choice([-1, 1], n))  # some trades of unknown side
    trade_price = rng.integers(4_000, 6_000, n)
    obs = F.Observations(ts, bid_px, bid_qty, ask_px, ask_qty, trade_sign, trade_price, trade_qty)
    specs = random_specs(rng, L)
    now = None
    if draw(st.booleans()):
        now = ts + np.choose(rng.integers(0, 3, n), [np.zeros(n, np.int64), rng.integers(1, 10**6, n),
                                                      rng.integers(1, 10**11, n)])
    return obs, specs, now


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_bank_equals_reference_on_random_streams(case):
    obs, specs, now = case
    rust = F.batch_features(obs, specs, now=now)
    ref = F.reference_features(obs, specs, now=now)
    assert_matches(rust, ref, F.column_names(specs))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_each_feature_alone_equals_the_same_feature_in_a_bank(case):
    """No feature depends on which other features share its bank (signals, levels read, horizons)."""
    obs, specs, now = case
    together = F.batch_features(obs, specs, now=now)
    for j, s in enumerate(specs):
        alone = F.batch_features(obs, [s], now=now)[:, 0]
        np.testing.assert_array_equal(alone, together[:, j], err_msg=s.text)


def test_every_kind_is_exercised_by_the_random_streams():
    specs = random_specs(np.random.default_rng(0), 3)
    assert {s.kind for s in specs} == set(F.KINDS)
    assert all(s == s.validate(max_levels=3) for s in specs)


# ------------------------------------------------------------------------------------------ LOBSTER
def lobster_observations(name):
    with zipfile.ZipFile(LOBSTER / name) as z:
        msg_name = next(n for n in z.namelist() if "_message_" in n)
        book_name = next(n for n in z.namelist() if "_orderbook_" in n)
        msgs = [line.split(",") for line in z.read(msg_name).decode().splitlines() if line]
        book = np.array([[int(x) for x in line.split(",")] for line in z.read(book_name).decode().splitlines()
                         if line], np.int64)
    ts = np.array([int(Decimal(m[0]) * 1_000_000_000) for m in msgs], np.int64)
    typ = np.array([int(m[1]) for m in msgs])
    size = np.array([int(m[3]) for m in msgs], np.int64)
    price = np.array([int(m[4]) for m in msgs], np.int64) // 100  # $ x 10000 -> cents (ticks)
    direction = np.array([int(m[5]) for m in msgs], np.int64)
    trade = (typ == 4) | (typ == 5)  # executions of visible / hidden limit orders
    # orderbook row: ask px, ask size, bid px, bid size per level; empty levels have size 0 (dummy price)
    ask_px, ask_qty, bid_px, bid_qty = (book[:, k::4] for k in range(4))
    return F.Observations(ts, bid_px // 100, bid_qty, ask_px // 100, ask_qty,
                          np.where(trade, -direction, 0), np.where(trade, price, 0), np.where(trade, size, 0))


@pytest.mark.parametrize("name", ["AMZN_2012-06-21_1_lines1-3000.zip", "AMZN_2012-06-21_5_lines61001-64000.zip"])
def test_bank_equals_reference_on_lobster_sample(name):
    obs = lobster_observations(name)
    assert len(obs) == 3000 and obs.trade_qty.astype(bool).sum() > 20
    depth = obs.levels
    specs = [s for s in F.FULL if s.level <= depth]
    specs += F.parse_specs("vpin:w=300,vpin:w=50:h=5s,trade_sign_imbalance:w=7,ofi:l=1:w=1", max_levels=depth)
    rust = F.batch_features(obs, specs)
    assert rust.shape == (3000, len(specs))
    rows = np.unique(np.r_[np.arange(0, 3000, 23), np.arange(2990, 3000)])
    ref = F.reference_features(obs, specs, rows=rows)
    assert_matches(rust[rows], ref, F.column_names(specs))
    col = F.column_names(specs)
    assert np.isfinite(rust[:, col.index("mid")]).mean() > 0.99


# ----------------------------------------------------------------------------------- bank properties
def _book(n, L, seed):
    ev = generate_l2(n, seed=seed, n_levels=L)
    return F.observations_from_events(ev, levels=L)


def test_several_hundred_features_in_one_bank():
    obs = _book(3000, 10, 5)
    extra = [f"ofi:l={lvl}:h={h}ms" for lvl in range(1, 11) for h in (50, 200, 2000, 20000)]
    extra += [f"signed_volume:w={w}" for w in range(2, 90) if w not in F.WINDOWS]
    extra += [f"microprice:l={lvl}:h={h}s" for lvl in (4, 6, 7, 8, 9) for h in (2, 20)]
    specs = F.parse_specs(["full"] + extra, max_levels=10)
    assert len(specs) >= 300
    rust = F.batch_features(obs, specs)
    assert rust.shape == (3000, len(specs))
    rows = [0, 1, 1500, 2999]
    assert_matches(rust[rows], F.reference_features(obs, specs, rows=rows), F.column_names(specs))


def test_values_later_than_the_last_update_decay_and_batch_is_deterministic():
    obs = _book(500, 5, 9)
    specs = F.parse_specs("small", max_levels=5)
    a = F.batch_features(obs, specs)
    b = F.batch_features(obs, specs, now=obs.ts)
    np.testing.assert_array_equal(a, b)
    later = obs.ts + 7_000_000_000
    c = F.batch_features(obs, specs, now=later)
    cols = F.column_names(specs)
    k = cols.index("event_intensity:h=1s")
    np.testing.assert_allclose(c[:, k], a[:, k] * np.exp(-7.0), rtol=1e-12)
    k = cols.index("time_since_trade")
    np.testing.assert_allclose(c[:, k][~np.isnan(a[:, k])], a[:, k][~np.isnan(a[:, k])] + 7.0, rtol=1e-12)


def test_observations_from_events_match_a_dict_book():
    """The book of each observation is the book after the row's whole exchange message: a row inside a
    message shows the book after the previous message (empty before the first)."""
    ev = generate_l2(3000, seed=2, n_levels=4)
    obs = F.observations_from_events(ev, levels=3)
    ends = (ev["flags"] & R.FLAG_MSG_END) != 0
    assert 0 < ends.sum() < len(ev)  # multi-row messages are exercised
    bids, asks = {}, {}
    top_b, top_a = [], []
    for i, e in enumerate(ev):
        if e["kind"] == R.DEPTH:
            book = bids if e["side"] == R.BID else asks
            if e["qty"]:
                book[int(e["price"])] = int(e["qty"])
            else:
                book.pop(int(e["price"]), None)
        if ends[i]:
            top_b = sorted(bids.items(), reverse=True)[:3]
            top_a = sorted(asks.items())[:3]
        assert [(int(p), int(q)) for p, q in zip(obs.bid_px[i], obs.bid_qty[i]) if q] == top_b
        assert [(int(p), int(q)) for p, q in zip(obs.ask_px[i], obs.ask_qty[i]) if q] == top_a
        is_trade = e["kind"] == R.TRADE
        assert obs.trade_qty[i] == (e["qty"] if is_trade else 0)
        assert obs.trade_sign[i] == (e["side"] if is_trade else 0)
    arrival = ev["exch_ts"] + 5
    np.testing.assert_array_equal(F.observations_from_events(ev, arrival, levels=3).ts, arrival)


# ---------------------------------------------------------------------------------------- spec text
def test_bundled_sets():
    assert 18 <= len(F.SMALL) <= 25
    assert len(F.FULL) >= 200
    assert F.parse_specs("small") == list(F.SMALL)
    assert F.parse_specs("full", max_levels=10) == list(F.FULL)
    assert len(set(F.column_names(F.FULL))) == len(F.FULL)
    with pytest.raises(ConfigError, match=r"beyond the book depth \(5 levels\)"):
        F.parse_specs("full", max_levels=5)


def test_canonical_text_round_trips_and_aliases():
    s = F.parse_spec("OFI:h=1500ms:level=3")
    assert s == F.FeatureSpec("ofi", 3, 1_500_000_000, 0)
    assert s.text == "ofi:l=3:h=1500ms"
    assert F.parse_spec("mid:l=1:horizon=0.5s").text == "mid:h=500ms"
    assert F.parse_spec("microprice").text == "microprice:l=1"
    assert F.parse_spec("vpin:window=200:h=60000ms").text == "vpin:h=60s:w=200"
    assert F.parse_spec("signed_volume:h=250us").horizon_ns == 250_000
    assert F.FeatureSpec("mid") == F.parse_spec("mid")
    for spec in F.FULL:
        assert F.parse_spec(spec.text) == spec


def test_spec_hash_and_arrays():
    texts = "\n".join(F.column_names(F.SMALL))
    assert F.spec_hash(F.SMALL) == hashlib.sha256(texts.encode()).hexdigest()
    assert F.spec_hash("small") == F.spec_hash(list(F.SMALL))
    assert F.spec_hash(list(F.SMALL)[::-1]) != F.spec_hash(F.SMALL)
    a = F.spec_array("ofi:l=2:w=5, time_since_trade, mid:h=1s")
    assert a.dtype == F.SPEC_DTYPE and a.dtype.itemsize == 24
    assert a.tolist() == [(6, 2, 0, 5), (12, 0, 0, 0), (1, 1, 1_000_000_000, 0)]


def test_kind_codes_match_the_c_header():
    header = (ROOT / "cpp/include/mmsim/feature_bank.h").read_text()
    codes = {m.group(1).lower(): int(m.group(2)) for m in re.finditer(r"MMSIM_F_(\w+) = (\d+)", header)}
    assert codes == {k: v for k, v in F.KINDS.items()}


@pytest.mark.parametrize("text, msg", [
    ("ofx:h=1s", r"feature spec 'ofx:h=1s': unknown kind 'ofx'"),
    ("ofi:h=0", r"feature spec 'ofi:h=0': horizon must be > 0"),
    ("ofi:h=-1s", r"feature spec 'ofi:h=-1s': horizon must be > 0"),
    ("ofi:h=5", r"'ofi:h=5': horizon '5': a non-zero duration needs a unit"),
    ("ofi:h=1.5ns", r"not a whole number of nanoseconds"),
    ("ofi:l=11:h=1s", r"feature spec 'ofi:l=11:h=1s': level 11 is beyond the book depth \(10 levels\)"),
    ("ofi:l=0:h=1s", r"level must be >= 1"),
    ("ofi", r"feature spec 'ofi': ofi needs a horizon \(h=\) or an event window \(w=\)"),
    ("ofi:h=1s:w=10", r"takes a horizon \(h=\) or a window \(w=\), not both"),
    ("signed_volume:w=0", r"'signed_volume:w=0': window must be > 0"),
    ("signed_volume:w=-3", r"window must be > 0"),
    ("signed_volume:w=2.5", r"window '2.5' is not an integer"),
    ("realized_vol:w=20000000", r"longer than the maximum"),
    ("mid:l=2", r"'mid:l=2': mid is top of book only"),
    ("mid:w=5", r"mid takes no window"),
    ("event_intensity", r"event_intensity needs a horizon"),
    ("trade_intensity:h=1s:w=4", r"takes no window"),
    ("time_since_trade:h=1s", r"takes no horizon or window"),
    ("time_since_trade:l=2", r"time_since_trade takes no level"),
    ("vpin", r"vpin needs w= \(the bucket volume, lots\)"),
    ("vpin:x=3", r"'x=3' is not l=N, h=DURATION or w=N"),
    ("mid:h=1s:h=2s", r"h given twice"),
    ("mid,spread,mid", r"feature spec 'mid': given twice"),
    ("", r"none given"),
])
def test_spec_errors_name_the_spec(text, msg):
    with pytest.raises(ConfigError, match=msg):
        F.parse_specs(text, max_levels=10)


def test_spec_files(tmp_path):
    f = tmp_path / "set.txt"
    f.write_text("# my features\nofi:l=2:h=1s, vpin:w=10   # flows\n\nmid:h=1s\n")
    assert F.column_names(F.parse_specs(str(f), max_levels=5)) == ["ofi:l=2:h=1s", "vpin:w=10", "mid:h=1s"]
    f.write_text("small\nofi:l=2:h=5s\n")
    assert F.parse_specs(f) == list(F.SMALL) + [F.parse_spec("ofi:l=2:h=5s")]
    f.write_text("mid\nspread\nofi:l=2\n")
    with pytest.raises(ConfigError, match=r"feature spec 'ofi:l=2' \(.*set.txt line 3\): ofi needs a horizon"):
        F.parse_specs(f)
    f.write_text("mid\nmid\n")
    with pytest.raises(ConfigError, match=r"feature spec 'mid' \(.*set.txt line 2\): given twice"):
        F.parse_specs(str(f))
    with pytest.raises(ConfigError, match=r"feature spec file '.*nope.txt' not found"):
        F.parse_specs(str(tmp_path / "nope.txt"))


# ----------------------------------------------------------------------------------- the C ABI's errors
def _obs(n=3, L=2):
    return dict(ts=np.arange(n) * 10, bid_px=np.full((n, L), 100), bid_qty=np.ones((n, L), np.int64),
                ask_px=np.full((n, L), 101), ask_qty=np.ones((n, L), np.int64), trade_sign=np.zeros(n, np.int64),
                trade_price=np.zeros(n, np.int64), trade_qty=np.zeros(n, np.int64))


def _raw(specs, obs, max_levels=2, now=None):
    o = F.as_observations(obs)
    return _core.feature_batch(np.array(specs, F.SPEC_DTYPE), *o, max_levels, now)


@pytest.mark.parametrize("spec, msg", [
    ((99, 0, 0, 0), r"feature spec 1 \(kind=99, level=0, horizon_ns=0, window=0\): unknown feature kind"),
    ((6, 3, 5, 0), r"feature spec 1 \(kind=6 ofi, level=3, horizon_ns=5, window=0\): level must be 1..2"),
    ((6, 1, -5, 0), r"spec 1 .*horizon_ns must be >= 0"),
    ((8, 0, 0, -5), r"spec 1 .*window must be >= 0"),
    ((8, 0, 0, 10_000_001), r"spec 1 .*window must be <= 10000000"),
    ((8, 0, 5, 5), r"spec 1 .*takes a horizon or a window, not both"),
    ((6, 1, 0, 0), r"needs a horizon \(horizon_ns > 0\) or an event window"),
    ((1, 1, 0, 4), r"feature spec 1 \(kind=1 mid.*takes no window"),
    ((14, 0, 0, 0), r"vpin.*needs window = bucket volume"),
    ((12, 0, 7, 0), r"time_since_trade.*takes no horizon"),
])
def test_binding_names_the_bad_spec(spec, msg):
    with pytest.raises(ConfigError, match=msg):
        _raw([(1, 1, 0, 0), spec], _obs())


def test_binding_rejects_bad_observations():
    o = _obs()
    o["ts"] = np.array([0, 10, 5])
    with pytest.raises(DataError, match=r"row 2: observation timestamps must not decrease"):
        _raw([(1, 1, 0, 0)], o)
    o = _obs()
    o["ask_qty"] = np.array([[1, 1], [1, -1], [1, 1]])
    _raw([(1, 1, 0, 0)], o)  # level 2 is not read by a top-of-book bank
    with pytest.raises(DataError, match=r"row 1: .*negative book quantity"):
        _raw([(1, 1, 0, 0), (6, 2, 0, 3)], o)
    o = _obs()
    o["trade_qty"], o["trade_sign"] = np.array([0, 0, 4]), np.array([0, 0, 3])
    with pytest.raises(DataError, match=r"row 2: .*trade_sign not in"):
        _raw([(1, 1, 0, 0)], o)
    with pytest.raises(DataError, match=r"row 0: now must be >= the observation's ts"):
        _raw([(1, 1, 0, 0)], _obs(), now=np.array([-1, 10, 20]))
    with pytest.raises(ConfigError, match=r"specs must be a 1-d structured array"):
        _core.feature_batch(np.zeros(2, np.int64), *F.as_observations(_obs()), 2, None)
    with pytest.raises(ConfigError, match=r"book arrays must be \(n, levels\)"):
        o = _obs()
        o["bid_px"] = np.zeros((2, 2), np.int64)
        _core.feature_batch(F.spec_array("mid"), *[o[k] for k in F.Observations._fields], 2, None)


def test_observations_before_any_trade_or_two_sided_book_are_nan_not_errors():
    o = _obs(4, 1)
    o["bid_qty"][:] = 0
    out = F.batch_features(o, "mid,mid:h=1s,spread,microprice,queue_imbalance,time_since_trade,"
                              "trade_sign_imbalance:h=1s,vpin:w=5,signed_volume:w=3,ofi:l=1:h=1s")
    assert np.isnan(out[:, :4]).all()  # no two-sided book yet: mid, its EWMA, spread, microprice
    assert (out[:, 4] == -1).all()  # ask-only book: queue imbalance -1
    assert np.isnan(out[:, 5:8]).all()
    assert (out[:, 8:] == 0).all()
