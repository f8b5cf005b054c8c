"""The feature bank inside the event loop: the strategy's delayed view only, the same numbers as batch mode,
timestamp by timestamp, and read-only access from all three strategy speeds."""
import numpy as np
import pandas as pd
import pytest

from mmsim import ConfigError, Instrument, simulate
from mmsim.signals.batch import features_frame
from mmsim.signals.features import column_names, parse_specs
from mmsim.data.market import generate_market
from mmsim.engine.numba_strategy import CI_N_FEATURES, cfunc_strategy

FEED = "lognormal:median=1ms,sigma=0.5"


@pytest.fixture(scope="module")
def market():
    return generate_market("toxic_burst", 25_000, seed=2).events


class Recorder:
    def __init__(self):
        self.seen = {}

    def on_wakeup(self, ctx):
        self.seen[ctx.data_rows] = (ctx.now, ctx.features)


@pytest.mark.parametrize("bank", ["small", "full"])
def test_in_loop_values_equal_batch_values_timestamp_by_timestamp(market, bank):
    rec = Recorder()
    simulate(market, Instrument(0.01, 1), rec, feed_latency=FEED, seed=5, features=bank, wake_on_response=False)
    batch = features_frame(market, bank, feed_latency=FEED, seed=5)
    assert len(rec.seen) > 10_000 and batch.shape[1] == 3 + len(parse_specs(bank))
    values = batch[column_names(bank)].to_numpy()
    arrival = batch["arrival_ts"].to_numpy()
    for rows, (now, feats) in rec.seen.items():
        # a wakeup after rows [0, rows) have arrived sees the batch values of row rows-1, at its arrival time
        assert now == arrival[rows - 1]
        np.testing.assert_array_equal(feats, values[rows - 1])


def test_features_see_only_the_delayed_feed(market):
    """Truncating the data after a point changes no feature value a strategy saw before it."""
    full, cut = Recorder(), Recorder()
    simulate(market, Instrument(0.01, 1), full, feed_latency=FEED, seed=1, features="small", wake_on_response=False)
    simulate(market[:15_000], Instrument(0.01, 1), cut, feed_latency=FEED, seed=1, features="small",
             wake_on_response=False)
    common = [r for r in cut.seen if r < 14_000]
    assert len(common) > 5_000
    for r in common:
        np.testing.assert_array_equal(full.seen[r][1], cut.seen[r][1])


def test_python_view_is_read_only(market):
    class Writer:
        def on_wakeup(self, ctx):
            ctx.features[0] = 1.0

    from mmsim import StrategyError

    with pytest.raises(StrategyError, match="read-only"):
        simulate(market[:2_000], Instrument(0.01, 1), Writer(), features="small")


def test_cfunc_reads_features(market):
    specs = parse_specs("mid,spread")

    @cfunc_strategy()
    def quote_on_features(ci, cf, p, feat, out):  # the 5-argument form receives the bank
        out[0] = 0
        if ci[CI_N_FEATURES] != 2 or feat[1] != feat[1]:  # NaN spread: no two-sided book yet
            return 0
        half = np.int64(feat[1] // 2 + 1)
        mid = np.int64(feat[0])
        out[0] = 1
        out[1] = mid - half
        out[2] = 1
        out[3] = mid + half + 1
        out[4] = 1
        return 0

    class Same:
        def on_wakeup(self, ctx):
            mid, spread = ctx.features
            if spread != spread:
                return None
            half = int(spread // 2 + 1)
            from mmsim import Quotes
            return Quotes(int(mid) - half, 1, int(mid) + half + 1, 1)

    a = simulate(market, Instrument(0.01, 1), quote_on_features, feed_latency=FEED, features=specs)
    b = simulate(market, Instrument(0.01, 1), Same(), feed_latency=FEED, features=specs)
    assert len(a.orders) > 100
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_frame_equal(a.orders, b.orders)


def test_bad_spec_is_a_clear_error(market):
    with pytest.raises(ConfigError, match="nosuch"):
        simulate(market[:100], Instrument(0.01, 1), "symmetric", features="nosuch:h=1s")
    with pytest.raises(ConfigError):
        simulate(market[:100], Instrument(0.01, 1), "symmetric", features="ofi:h=0s")


def test_reference_engine_refuses_features(market):
    with pytest.raises(ConfigError, match="C\\+\\+ engine"):
        simulate(market[:100], Instrument(0.01, 1), "symmetric", features="small", engine="reference")


def test_mmsim_features_cli_writes_the_full_bank(tmp_path, capsys):
    from mmsim.cli import main

    out = tmp_path / "f.parquet"
    assert main(["features", "quiet", "--spec", "full", "--rows", "20000", "--out", str(out)]) == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 20_000 and frame.shape[1] == 3 + len(parse_specs("full")) >= 203
    assert main(["features", "quiet", "--spec", "bogus", "--out", str(out)]) == 2
    assert "bogus" in capsys.readouterr().err


def test_mmsim_features_on_the_lobster_sample(tmp_path, capsys):
    """Convert the committed LOBSTER slice to a store, then write the full bank over it from a scenario."""
    from pathlib import Path

    from mmsim.cli import main

    sample = Path(__file__).parent / "data" / "lobster" / "AMZN_2012-06-21_5_lines61001-64000.zip"
    assert main(["data", "convert", "--format", "lobster", str(sample), "--out", str(tmp_path / "a.mmstore")]) == 0
    (tmp_path / "a.toml").write_text('[scenario]\nname = "amzn"\n[instrument]\ntick_size = 0.01\n'
                                     '[source]\nkind = "store"\npath = "a.mmstore"\n[latency]\nfeed = "1ms"\n')
    out = tmp_path / "f.parquet"
    capsys.readouterr()
    assert main(["features", str(tmp_path / "a.toml"), "--spec", "full", "--out", str(out)]) == 0, capsys.readouterr().err
    frame = pd.read_parquet(out)
    assert frame.shape[1] == 3 + len(parse_specs("full")) and len(frame) > 3000
    assert frame["mid"].notna().mean() > 0.99 and frame["spread"].min() >= 1
