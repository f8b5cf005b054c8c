"""Latency specs: every form parses, bad specs fail with the spec in the message, draws are seeded."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmsim import records as R
from mmsim.errors import ConfigError, DataError
from mmsim.data.latency import (
    Constant, Empirical, FeedClock, FromData, Gamma, LogNormal, Regime, UserArray, UserCallable, feed_arrival,
    latency_table, parse_duration, parse_latency, seeded_streams,
)


def events(exch_ts, recv_ts=None):
    ev = np.zeros(len(exch_ts), dtype=R.EVENT_DTYPE)
    ev["exch_ts"] = exch_ts
    ev["recv_ts"] = R.NO_TS if recv_ts is None else recv_ts
    ev["kind"] = R.DEPTH
    ev["side"] = 1
    ev["price"] = 100
    ev["qty"] = 1
    return ev


def rng(seed=0, stream="feed"):
    return seeded_streams(seed)[stream]


# --------------------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("spec, ns", [
    ("0", 0), ("100ns", 100), ("250us", 250_000), ("250µs", 250_000), ("2ms", 2_000_000),
    ("1.5s", 1_500_000_000), (" 3 ms ", 3_000_000), ("0.5ms", 500_000), ("1e3ns", 1000), ("0ms", 0),
    (0, 0), (7, 7), (np.int64(9), 9), (1_000.0, 1000),
])
def test_constants(spec, ns):
    m = parse_latency(spec)
    assert isinstance(m, Constant) and m.ns == ns
    assert m.constant and not m.uses_data
    assert np.array_equal(latency_table(m, rng()), [ns])


def test_data_forms():
    m = parse_latency("data")
    assert isinstance(m, FromData) and m.offset == 0 and m.uses_data
    m = parse_latency("data+3ms")
    assert isinstance(m, FromData) and m.offset == 3_000_000 and m.spec == "data+3ms"
    assert parse_latency("data + 250us").offset == 250_000


def test_distribution_forms():
    m = parse_latency("lognormal:median=2ms,sigma=0.6")
    assert isinstance(m, LogNormal) and m.median == 2e6 and m.sigma == 0.6 and m.shift == 0
    m = parse_latency("lognormal:mean=2ms,sigma=0.6,shift=100us")
    assert m.median == pytest.approx(2e6 / np.exp(0.18)) and m.shift == 100_000
    m = parse_latency("gamma:shape=2,scale=1ms")
    assert isinstance(m, Gamma) and (m.shape, m.scale) == (2.0, 1e6)
    m = parse_latency("gamma:shape=4,mean=2ms")
    assert m.scale == pytest.approx(5e5)
    m = parse_latency("regime:base=1ms,spike=50ms,p_enter=0.001,p_exit=0.05")
    assert isinstance(m, Regime) and (m.base, m.spike, m.p_enter, m.p_exit) == (1e6, 5e7, 0.001, 0.05)
    assert m.sigma == 0 and m.spike_sigma == 0
    m = parse_latency("regime:base=1ms,spike=50ms,p_enter=0.01,p_exit=0.1,sigma=0.3")
    assert m.spike_sigma == 0.3  # defaults to sigma


def test_model_passes_through():
    m = parse_latency("2ms")
    assert parse_latency(m) is m


@pytest.mark.parametrize("spec", [
    "", "abc", "5", "-1ms", "2 parsecs", "1.5ns", "nan", "NaNms", "infms", "data-1ms", "data+", "datax",
    "lognormal:median=2ms", "lognormal:sigma=0.5", "lognormal:median=2ms,mean=2ms,sigma=0.5",
    "lognormal:median=2ms,sigma=-0.1", "lognormal:median=2ms,sigma=nan", "lognormal:median=-2ms,sigma=1",
    "lognormal:median=2ms,sigma=0.5,foo=1", "lognormal:median=2ms,sigma", "lognormal:median=2ms,,sigma=1",
    "lognormal:median=2ms,sigma=1,sigma=2", "gamma:shape=0,scale=1ms", "gamma:shape=2",
    "gamma:shape=-1,scale=1ms", "gamma:shape=2,scale=1ms,mean=2ms", "regime:base=1ms,spike=5ms,p_enter=0.1",
    "regime:base=1ms,spike=5ms,p_enter=1.5,p_exit=0.1", "regime:base=1ms,spike=5ms,p_enter=0.1,p_exit=0",
    "weibull:k=1", "empirical:", "empirical:/no/such/file.txt", "1ms,",
])
def test_bad_specs_name_the_spec(spec):
    with pytest.raises(ConfigError) as e:
        parse_latency(spec)
    msg = str(e.value)
    assert f"'{spec}'" in msg and "\n" not in msg


@pytest.mark.parametrize("spec", [-1, 2**63, 1e30, float("nan"), float("inf"), -0.5, 1.5, True, None, object(),
                                  np.array([1, -2]), np.array([1.0, np.nan]), np.array([1.5]),
                                  np.array(["a"])])
def test_bad_python_values(spec):
    with pytest.raises(ConfigError):
        parse_latency(spec)


def test_parse_duration():
    assert parse_duration("1.25ms") == 1_250_000
    with pytest.raises(ConfigError, match="timer"):
        parse_duration("1x", "timer")


# --------------------------------------------------------------------------------------------- seeding
def test_seeded_streams_are_independent_and_deterministic():
    a, b = seeded_streams(42), seeded_streams(42)
    assert list(a) == ["feed", "entry", "cancel", "response", "compute"]
    draws = {k: g.integers(0, 1 << 62, 8) for k, g in a.items()}
    for k, g in b.items():
        assert np.array_equal(draws[k], g.integers(0, 1 << 62, 8))
    assert len({tuple(v) for v in draws.values()}) == 5
    c = seeded_streams(43)["feed"].integers(0, 1 << 62, 8)
    assert not np.array_equal(c, draws["feed"])
    for bad in (-1, 1.5, "x", None):
        with pytest.raises(ConfigError):
            seeded_streams(bad)


@pytest.mark.parametrize("spec", [
    "lognormal:median=2ms,sigma=0.6", "gamma:shape=2,scale=1ms",
    "regime:base=1ms,spike=50ms,p_enter=0.01,p_exit=0.1,sigma=0.2",
])
def test_random_specs_are_deterministic(spec):
    ev = events(np.arange(10_000) * 1000)
    a = feed_arrival(spec, ev, rng(7))
    b = feed_arrival(spec, ev, rng(7))
    assert a.dtype == np.int64 and np.array_equal(a, b)
    assert not np.array_equal(a, feed_arrival(spec, ev, rng(8)))
    t1, t2 = latency_table(spec, rng(7, "entry"), n=1000), latency_table(spec, rng(7, "entry"), n=1000)
    assert len(t1) == 1000 and t1.dtype == np.int64 and np.array_equal(t1, t2) and (t1 >= 0).all()


# --------------------------------------------------------------------------------------------- feed
@settings(max_examples=50, deadline=None)
@given(gaps=st.lists(st.integers(0, 5_000_000), min_size=1, max_size=300), seed=st.integers(0, 2**32))
def test_arrivals_are_monotone_and_never_early(gaps, seed):
    ts = np.cumsum(np.array(gaps, dtype=np.int64))
    ev = events(ts)
    for spec in ("lognormal:median=2ms,sigma=1.5", "gamma:shape=0.5,scale=3ms",
                 "regime:base=100us,spike=20ms,p_enter=0.05,p_exit=0.2"):
        arr = feed_arrival(spec, ev, rng(seed))
        assert arr.dtype == np.int64 and len(arr) == len(ts)
        assert (np.diff(arr) >= 0).all()  # a feed never reorders
        assert (arr >= ts).all()


def test_slow_message_holds_back_the_ones_behind():
    ev = events([0, 10, 20])
    arr = feed_arrival(np.array([100, 0, 0]), ev, rng())
    assert arr.tolist() == [100, 100, 100]


def test_constant_feed():
    ev = events([0, 5, 5, 9])
    assert feed_arrival("2ms", ev, rng()).tolist() == [2_000_000, 2_000_005, 2_000_005, 2_000_009]
    assert feed_arrival(0, ev, rng()).tolist() == [0, 5, 5, 9]


def test_data_and_data_plus():
    ev = events([0, 10, 20, 30], recv_ts=[5, 40, 25, 31])
    assert feed_arrival("data", ev, rng()).tolist() == [5, 40, 40, 40]
    assert feed_arrival("data+3ms", ev, rng()).tolist() == [3_000_005, 3_000_040, 3_000_040, 3_000_040]


def test_data_needs_recv_ts():
    ev = events([0, 10, 20], recv_ts=[1, R.NO_TS, 25])
    with pytest.raises(DataError, match=r"feed: row 1: no recorded recv_ts"):
        feed_arrival("data", ev, rng(), source="feed")
    ev = events([0, 10, 20], recv_ts=[1, 12, 19])
    with pytest.raises(DataError, match=r"row 2: recv_ts 19 is before exch_ts 20"):
        feed_arrival("data+1ms", ev, rng())


def test_data_invalid_for_order_legs():
    for spec in ("data", "data+3ms"):
        with pytest.raises(ConfigError, match="only valid for the feed"):
            latency_table(spec, rng())


def test_empty_events():
    assert feed_arrival("lognormal:median=1ms,sigma=1", events([]), rng()).shape == (0,)


# --------------------------------------------------------------------------------------------- distributions
def test_lognormal_median_and_spread():
    x = latency_table("lognormal:median=2ms,sigma=0.6", rng(1), n=200_000)
    assert np.median(x) == pytest.approx(2e6, rel=0.01)
    assert np.std(np.log(x)) == pytest.approx(0.6, rel=0.02)
    y = latency_table("lognormal:median=2ms,sigma=0.6,shift=1ms", rng(1), n=200_000)
    assert np.array_equal(y - x, np.full_like(x, 1_000_000))  # same stream, shifted
    z = latency_table("lognormal:mean=2ms,sigma=0.6", rng(2), n=400_000)
    assert z.mean() == pytest.approx(2e6, rel=0.01)


def test_gamma_mean():
    x = latency_table("gamma:shape=2,scale=1ms", rng(3), n=200_000)
    assert x.mean() == pytest.approx(2e6, rel=0.01)
    assert x.var() == pytest.approx(2 * 1e12, rel=0.03)


def test_regime_chain_statistics():
    m = parse_latency("regime:base=1ms,spike=50ms,p_enter=0.01,p_exit=0.1")
    x = m.draw(1_000_000, rng(4))
    assert set(np.unique(x).tolist()) == {1_000_000, 50_000_000}
    spiking = x == 50_000_000
    assert not spiking[0]  # the chain starts calm
    assert spiking.mean() == pytest.approx(0.01 / 0.11, rel=0.05)  # stationary share of the spike state
    starts = np.flatnonzero(np.diff(spiking.astype(np.int8)) == 1)
    ends = np.flatnonzero(np.diff(spiking.astype(np.int8)) == -1)
    k = min(len(starts), len(ends))
    runs = ends[:k] - starts[:k] if ends[0] > starts[0] else ends[1:k] - starts[:k - 1]
    assert runs.mean() == pytest.approx(10.0, rel=0.05)  # mean spike run 1 / p_exit
    # transition probabilities, per event
    prev, nxt = spiking[:-1], spiking[1:]
    assert (nxt & ~prev).sum() / (~prev).sum() == pytest.approx(0.01, rel=0.05)
    assert (~nxt & prev).sum() / prev.sum() == pytest.approx(0.1, rel=0.05)


def test_regime_edge_cases():
    never = parse_latency("regime:base=1ms,spike=50ms,p_enter=0,p_exit=0.5").draw(1000, rng())
    assert (never == 1_000_000).all()
    flip = parse_latency("regime:base=1ms,spike=50ms,p_enter=1,p_exit=1").draw(6, rng())
    assert flip.tolist() == [1_000_000, 50_000_000] * 3
    noisy = parse_latency("regime:base=1ms,spike=50ms,p_enter=0.01,p_exit=0.1,sigma=0.5").draw(50_000, rng())
    assert len(np.unique(noisy)) > 1000 and (noisy > 0).all()
    assert len(parse_latency("regime:base=1ms,spike=5ms,p_enter=0.5,p_exit=0.5").draw(0, rng())) == 0


# --------------------------------------------------------------------------------------------- empirical
def test_empirical_text_csv_npy(tmp_path):
    txt = tmp_path / "lat.txt"
    txt.write_text("# one-way latency, ns\n1000\n2000\n\n3000\n")
    m = parse_latency(f"empirical:{txt}")
    assert isinstance(m, Empirical) and m.values.tolist() == [1000, 2000, 3000]
    x = latency_table(m, rng(), n=30_000)
    assert set(np.unique(x).tolist()) == {1000, 2000, 3000}
    assert np.bincount(x // 1000)[1:] / len(x) == pytest.approx([1 / 3] * 3, abs=0.02)

    csv = tmp_path / "lat.csv"
    csv.write_text("latency_ns,venue\n500,x\n1500.0,y\n")
    assert parse_latency(f"empirical:{csv}").values.tolist() == [500, 1500]

    npy = tmp_path / "lat.npy"
    np.save(npy, np.array([7, 8, 9], dtype=np.int64))
    assert parse_latency(f"empirical:{npy}").values.tolist() == [7, 8, 9]

    ev = events(np.arange(100) * 10)
    arr = feed_arrival(f"empirical:{txt}", ev, rng(5))
    assert np.array_equal(arr, feed_arrival(f"empirical:{txt}", ev, rng(5)))
    assert (np.diff(arr) >= 0).all()


@pytest.mark.parametrize("content, why", [
    ("", "no latencies"), ("# nothing\n", "no latencies"), ("1000\n-5\n", "negative"),
    ("1000\nabc\n", "not a number"), ("1000\nnan\n", "NaN"),
])
def test_empirical_bad_files(tmp_path, content, why):
    p = tmp_path / "bad.txt"
    p.write_text(content)
    with pytest.raises(ConfigError, match=why) as e:
        parse_latency(f"empirical:{p}")
    assert f"empirical:{p}" in str(e.value)


# --------------------------------------------------------------------------------------------- user forms
def test_array_form():
    ev = events([0, 10, 20])
    m = parse_latency(np.array([5, 1, 1]))
    assert isinstance(m, UserArray)
    assert feed_arrival(m, ev, rng()).tolist() == [5, 11, 21]
    assert feed_arrival(np.array([5.0, 0.0, 0.0]), ev, rng()).tolist() == [5, 10, 20]
    with pytest.raises(ConfigError, match="need one per event"):
        feed_arrival(np.array([1, 2]), ev, rng())
    assert latency_table(np.array([3, 4]), rng()).tolist() == [3, 4]
    with pytest.raises(ConfigError, match="empty"):
        latency_table(np.array([], dtype=np.int64), rng())


def test_callable_form():
    ev = events([0, 10, 20, 30])

    def by_parity(evs, g):
        return np.where(np.arange(len(evs)) % 2 == 0, 100, 0) + g.integers(0, 2, len(evs))

    m = parse_latency(by_parity)
    assert isinstance(m, UserCallable) and "by_parity" in m.spec
    a = feed_arrival(by_parity, ev, rng(9))
    assert np.array_equal(a, feed_arrival(by_parity, ev, rng(9)))
    assert (np.diff(a) >= 0).all() and a[0] >= 100
    assert len(latency_table(by_parity, rng(), n=64)) == 64

    with pytest.raises(ConfigError, match="returned 1 values for 4 events"):
        feed_arrival(lambda e, g: np.array([1]), ev, rng())
    with pytest.raises(ConfigError, match="negative"):
        feed_arrival(lambda e, g: np.full(len(e), -1), ev, rng())
    with pytest.raises(ConfigError, match="raised ZeroDivisionError"):
        feed_arrival(lambda e, g: 1 // 0, ev, rng())


def test_overflow_is_reported():
    ev = events([np.iinfo(np.int64).max - 10])
    with pytest.raises(ConfigError, match="overflows"):
        feed_arrival("1ms", ev, rng())


# --------------------------------------------------------------------------------------------- prefix stability
# A draw depends on the seed and the row's position only, never on the number of rows: the first k rows of a
# run over n rows get the same latencies (and arrival times) as a run over k rows. Every kind, every leg.

PREFIX_KINDS = ["zero", "constant", "data", "data+X", "lognormal", "gamma", "empirical", "regime",
                "regime-flicker", "regime-rare", "array", "callable-rng", "callable-rows"]
RANDOM_KINDS = ["lognormal", "gamma", "empirical", "regime", "regime-flicker", "regime-rare"]


def _draws(evs, g):
    return g.integers(0, 5_000_000, len(evs))  # one sequential draw per row


def _by_row(evs, g):
    return (evs["exch_ts"] % 997) * 1000  # a function of the row itself


def prefix_spec(kind, n, tmp_path):
    """The spec of ``kind`` for a run over ``n`` rows (a user array has one entry per row)."""
    if kind == "empirical":
        path = tmp_path / "lat.txt"
        if not path.exists():
            path.write_text("\n".join(str(v) for v in (1000, 2500, 7000, 40_000, 123_456)) + "\n")
        return f"empirical:{path}"
    if kind == "array":
        return np.random.default_rng(99).integers(0, 3_000_000, 100_000)[:n]
    return {"zero": 0, "constant": "3ms", "data": "data", "data+X": "data+2ms",
            "lognormal": "lognormal:median=2ms,sigma=0.6,shift=100us", "gamma": "gamma:shape=0.7,mean=1ms",
            "regime": "regime:base=1ms,spike=50ms,p_enter=0.01,p_exit=0.1,sigma=0.3",
            "regime-flicker": "regime:base=1ms,spike=5ms,p_enter=0.5,p_exit=0.7",
            "regime-rare": "regime:base=1ms,spike=80ms,p_enter=0.0005,p_exit=0.005,spike_sigma=0.2",
            "callable-rng": _draws, "callable-rows": _by_row}[kind]


def prefix_events(n, spacing=None):
    """``n`` rows, the first k of them the same for every n (1 ms apart on average, recv_ts after exch_ts)."""
    g = np.random.default_rng(17)
    gaps = g.integers(0, 2_000_000, 100_000) if spacing is None else np.full(100_000, spacing)
    ts = 1_000_000_000 + np.cumsum(gaps)[:n]
    return events(ts, ts + g.integers(0, 5_000_000, 100_000)[:n])


SIZES = {  # (FeedClock.BLOCK, Regime.CHUNK, n, k values): small sizes cross many block and chunk boundaries
    "small-blocks": (1000, 384, 5000, (1, 383, 384, 385, 999, 1000, 1001, 2345, 4999)),
    "default-blocks": (None, None, 70_000, (1, 12_345, 65_536, 65_537)),
}


def _sizes(monkeypatch, which):
    block, chunk, n, ks = SIZES[which]
    if block is not None:
        monkeypatch.setattr(FeedClock, "BLOCK", block)
        monkeypatch.setattr(Regime, "CHUNK", chunk)
    assert n > FeedClock.BLOCK  # several blocks
    return n, ks


@pytest.mark.parametrize("sizes", list(SIZES))
@pytest.mark.parametrize("kind", PREFIX_KINDS)
def test_feed_arrivals_are_prefix_stable(kind, sizes, monkeypatch, tmp_path):
    n, ks = _sizes(monkeypatch, sizes)
    ev = prefix_events(n)
    full = feed_arrival(prefix_spec(kind, n, tmp_path), ev, rng(5))
    for k in ks:
        spec = prefix_spec(kind, k, tmp_path)
        np.testing.assert_array_equal(feed_arrival(spec, ev[:k], rng(5)), full[:k], err_msg=f"{kind}, k={k}")
        # the truncated run streamed in chunks (as simulate() does from an event store) is the same prefix
        clock = FeedClock(spec, rng(5), k)
        streamed = np.concatenate([clock.arrivals(ev[i:min(i + 777, k)]) for i in range(0, k, 777)])
        np.testing.assert_array_equal(streamed, full[:k], err_msg=f"{kind}, k={k}, streamed")
    if kind in RANDOM_KINDS:
        assert not np.array_equal(full, feed_arrival(prefix_spec(kind, n, tmp_path), ev, rng(6)))


@pytest.mark.parametrize("kind", PREFIX_KINDS)
def test_order_leg_latencies_are_prefix_stable(kind, monkeypatch, tmp_path):
    """The order legs cycle through a table drawn up front, its size fixed (2**20), never the row count; and
    even the table size does not change a draw: the k-th use gets the same latency from any table of >= k."""
    monkeypatch.setattr(Regime, "CHUNK", 384)
    spec = prefix_spec(kind, 3, tmp_path)
    if kind.startswith("data"):
        with pytest.raises(ConfigError, match="only valid for the feed leg"):
            latency_table(spec, rng(5, "entry"))
        return

    def uses(table, m):  # the latencies of the first m uses of a leg: entry k % len
        return table[np.arange(m) % len(table)]

    big = latency_table(spec, rng(5, "entry"), n=5000)
    for k in (1, 383, 385, 1000, 4999):
        np.testing.assert_array_equal(uses(latency_table(spec, rng(5, "entry"), n=k), k), uses(big, k),
                                      err_msg=f"{kind}, k={k}")
    default = latency_table(spec, rng(5, "entry"))
    assert len(default) in (1, 3, 1 << 20)
    np.testing.assert_array_equal(uses(default, 5000), uses(big, 5000))


@pytest.mark.parametrize("start", [None, False, True])
def test_regime_chain_is_prefix_stable_from_any_state(start, monkeypatch):
    monkeypatch.setattr(Regime, "CHUNK", 256)
    m = parse_latency("regime:base=1ms,spike=20ms,p_enter=0.02,p_exit=0.1,sigma=0.4,spike_sigma=0.1")
    spiking, lat, last = m.chain(3000, rng(8), start)
    assert last == spiking[-1] and spiking.any() and not spiking.all()
    for k in (1, 255, 256, 257, 1000, 2999):
        s, x, end = m.chain(k, rng(8), start)
        np.testing.assert_array_equal(s, spiking[:k])
        np.testing.assert_array_equal(x, lat[:k])
        assert end == spiking[k - 1]
    np.testing.assert_array_equal(m.states(1000, rng(8), start), spiking[:1000])
    np.testing.assert_array_equal(m.draw(1000, rng(8), start=start), lat[:1000])
    # a chain continued from its last state at a chunk boundary is the same chain (FeedClock's blocks)
    g = rng(8)
    s1, x1, end = m.chain(512, g, start)
    s2, x2, _ = m.chain(3000 - 512, g, end)
    np.testing.assert_array_equal(np.concatenate([s1, s2]), spiking)
    np.testing.assert_array_equal(np.concatenate([x1, x2]), lat)


@settings(max_examples=40, deadline=None)
@given(p_enter=st.sampled_from([0.0, 0.001, 0.05, 0.5, 1.0]), p_exit=st.sampled_from([0.002, 0.3, 1.0]),
       chunk=st.integers(1, 300), n=st.integers(1, 1500), data=st.data())
def test_regime_draws_are_prefix_stable(p_enter, p_exit, chunk, n, data):
    k = data.draw(st.integers(1, n))
    m = Regime(1e6, 5e7, p_enter, p_exit, sigma=0.2)
    old = Regime.CHUNK
    Regime.CHUNK = chunk  # (not monkeypatch: hypothesis runs many examples in one test call)
    try:
        np.testing.assert_array_equal(m.draw(k, rng(2)), m.draw(n, rng(2))[:k])
    finally:
        Regime.CHUNK = old


@pytest.mark.parametrize("kind, block", [(k, b) for k in RANDOM_KINDS for b in (1000, 3 * 384)
                                         if b % 384 == 0 or not k.startswith("regime")])
def test_feed_blocks_do_not_change_the_draws(kind, block, monkeypatch, tmp_path):
    """Feed latencies are the model's own draws for the whole run, whatever the block size (for a regime, a
    block a multiple of its chunk): lognormal, gamma and empirical feeds draw exactly what they drew when the
    block size depended on the row count."""
    monkeypatch.setattr(FeedClock, "BLOCK", block)
    monkeypatch.setattr(Regime, "CHUNK", 384)  # (a regime block not a multiple of the chunk: other draws)
    n = 4321
    ev = prefix_events(n, spacing=10**10)  # 10 s apart: in-order delivery holds nothing back
    spec = prefix_spec(kind, n, tmp_path)
    lat = feed_arrival(spec, ev, rng(5)) - ev["exch_ts"]
    np.testing.assert_array_equal(lat, parse_latency(spec).draw(n, rng(5)))


def test_truncated_scenario_run_is_a_prefix_of_the_full_run():
    """`mmsim run latency_spike --rows 100000` makes the full run's decisions up to the last row's exch_ts:
    the rows after it cannot act before then, and the feed latency (a regime chain) of a row does not depend
    on how many rows follow."""
    from mmsim.data.scenario import load_scenario
    from mmsim.engine.loader import load_strategy
    from mmsim.engine.sim import simulate

    sc = load_scenario("latency_spike")
    assert sc.latency["feed"].startswith("regime:")
    full, inst = sc.load_events()
    k = 100_000
    part, _ = sc.load_events(limit=k)
    assert len(full) > k and np.array_equal(part, full[:k])
    feed = sc.latency["feed"]
    np.testing.assert_array_equal(feed_arrival(feed, part, seeded_streams(1)["feed"]),
                                  feed_arrival(feed, full, seeded_streams(1)["feed"])[:k])

    def run(ev):
        return simulate(ev, inst, load_strategy(sc.strategy)[0], **sc.sim_kwargs())

    a, b = run(full), run(part)
    cut = int(part["exch_ts"][-1])
    da = a.decisions[a.decisions["ts"] < cut].reset_index(drop=True)
    db = b.decisions[b.decisions["ts"] < cut].reset_index(drop=True)
    assert len(da) > 10_000 and len(b.decisions) - len(db) < 10  # the cut-off leaves little out
    pd.testing.assert_frame_equal(da, db)
    fa = a.fills[a.fills["exch_ts"] < cut].reset_index(drop=True)
    fb = b.fills[b.fills["exch_ts"] < cut].reset_index(drop=True)
    assert len(fa) > 20
    pd.testing.assert_frame_equal(fa, fb)


def test_durations_in_minutes_and_hours():
    from mmsim.data.latency import parse_duration

    assert parse_duration("5min") == 300 * 10**9 and parse_duration("1.5h") == 5400 * 10**9
    assert parse_duration("90s") == parse_duration("1.5min") and parse_duration("2ms") == 2_000_000
    with pytest.raises(ConfigError, match="not a duration"):
        parse_duration("5m")                       # ambiguous (minutes or metres): min is spelt out


# --------------------------------------------------------------------------------------------- messages
def message_events(n_msgs=3000, seed=3):
    """Messages of 1-5 rows; several messages may share one exchange time (told apart by FLAG_MSG_END);
    recv_ts is one per message (a packet)."""
    g = np.random.default_rng(seed)
    sizes = g.integers(1, 6, n_msgs)
    gaps = g.integers(0, 3, n_msgs) * 1_000_000  # a third of the messages share the previous one's time
    ts_msg = 1_000_000_000 + np.cumsum(gaps)
    recv_msg = ts_msg + g.integers(0, 5_000_000, n_msgs)
    idx = np.repeat(np.arange(n_msgs), sizes)
    ev = events(ts_msg[idx], recv_msg[idx])
    last = np.r_[idx[1:] != idx[:-1], True]
    ev["flags"][last] = R.FLAG_MSG_END
    return ev, idx


@pytest.mark.parametrize("spec", ["lognormal:median=2ms,sigma=1", "gamma:shape=2,scale=1ms",
                                  "regime:base=1ms,spike=40ms,p_enter=0.01,p_exit=0.2", "data", "data+1ms",
                                  "3ms"])
def test_one_feed_latency_per_message(spec):
    """All rows of a message arrive together; messages at one exchange time still get their own draws; the
    arrivals are the same however the rows are chunked, chunk edges inside messages included."""
    ev, idx = message_events()
    full = feed_arrival(spec, ev, rng(9))
    per_msg = pd.Series(full).groupby(idx).nunique()
    assert (per_msg == 1).all()
    if spec.startswith(("lognormal", "gamma")):
        # one draw per message, not per exchange time: messages sharing an exchange time can differ (a draw
        # per exchange time would make them all equal; the in-order max hides most differences)
        first = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        same_ts = ev["exch_ts"][first][1:] == ev["exch_ts"][first][:-1]
        assert same_ts.sum() > 500 and (full[first][1:][same_ts] != full[first][:-1][same_ts]).mean() > 0.1
    if spec.startswith("data"):
        first = np.r_[True, idx[1:] != idx[:-1]]
        np.testing.assert_array_equal(full[first], np.maximum.accumulate(
            ev["recv_ts"][first] + (1_000_000 if spec == "data+1ms" else 0)))
    for step in (1, 2, 7, 333):
        clock = FeedClock(spec, rng(9), len(ev))
        streamed = np.concatenate([clock.arrivals(ev[i:i + step]) for i in range(0, len(ev), step)])
        np.testing.assert_array_equal(streamed, full, err_msg=f"chunks of {step}")


def test_unmarked_data_falls_back_to_exchange_time_groups():
    """Data that marks no messages: each exchange-time group is one message (one draw, one arrival)."""
    ev, idx = message_events()
    ev["flags"] = 0
    full = feed_arrival("lognormal:median=2ms,sigma=1", ev, rng(9))
    assert (pd.Series(full).groupby(ev["exch_ts"]).nunique() == 1).all()
