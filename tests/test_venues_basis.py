"""The cross-venue basis column (docs/venues.md, "Features and models across venues"): ``perp/basis`` is perp's
delayed mid minus the quoted venue's, in quoted ticks, computed from both delayed books; training's column at the
sample times equals what the loop computes at a wakeup then (batch = loop), and a model reading it predicts in
the loop what it predicts on the batch rows."""
from __future__ import annotations

import numpy as np
import pytest

from mmsim import Instrument
from mmsim.errors import ConfigError


def test_basis_spec_parsing_and_model_inputs():
    from mmsim.signals.features import column_names, venue_columns

    assert venue_columns("mid, perp/basis") == [(None, "mid"), ("perp", "basis")]
    assert column_names(["perp/BASIS"]) == ["perp/basis"]
    with pytest.raises(ConfigError, match="a cross-venue feature names its venue, e.g. perp/basis"):
        venue_columns("basis")
    with pytest.raises(ConfigError, match="given twice"):
        venue_columns("perp/basis,perp/basis")


def test_basis_batch_equals_loop_and_a_model_reads_it(tmp_path):
    from mmsim.data.market import generate_market
    from mmsim.engine.sim import simulate
    from mmsim.signals.models import load_model
    from mmsim.signals.train import predict, train, write_model

    q = generate_market("quiet", 12000, 2).events
    p = generate_market("fast_perp", 24000, 2).events
    quoted_tick, perp_tick = 0.01, 0.005
    sig = {"perp": {"events": p, "feed_latency": "lognormal:median=1ms,sigma=0.5",
                    "instrument": Instrument(tick_size=perp_tick)}}
    specs = "mid_return:h=1s,perp/basis,perp/mid_return:h=100ms"
    (res,) = train(q, specs, "linear", [10**9], feed_latency="2ms", seed=3, signals=sig, folds=3,
                   tick_size=quoted_tick)
    s = res.samples
    assert s.columns == ["mid_return:h=1s", "perp/basis", "perp/mid_return:h=100ms"]
    assert np.isfinite(s.X[:, 1]).mean() > 0.9 and np.nanstd(s.X[:, 1]) > 0
    path = write_model(res.model, tmp_path / "m.json")
    m = load_model(path)
    assert m.venue_specs == {"perp": ["mid_return:h=100ms"]}
    assert m.input_map(["perp"]) == [(0, 0), (1, -1), (1, 0)]

    seen = []

    class Recorder:
        def on_wakeup(self, ctx):
            a, b = ctx.venue("perp"), ctx.venue(0)
            basis = ((a.best_bid + a.best_ask) / 2 * perp_tick - (b.best_bid + b.best_ask) / 2 * quoted_tick) / quoted_tick \
                if min(a.bid_qty, a.ask_qty, b.bid_qty, b.ask_qty) > 0 else float("nan")
            seen.append((int(ctx.now), basis, float(ctx.pred_move)))

    simulate(q, Instrument(tick_size=quoted_tick), strategy=Recorder(), model=str(path), signals=sig,
             feed_latency="2ms", seed=3)
    at = {t: k for k, (t, _, _) in enumerate(seen)}
    rows = [i for i, a in enumerate(s.arrival) if int(a) in at]
    assert len(rows) > 100
    loop_basis = np.array([seen[at[int(s.arrival[i])]][1] for i in rows])
    assert np.array_equal(loop_basis, s.X[rows, 1], equal_nan=True)  # batch = loop, bit for bit
    pred_loop = np.array([seen[at[int(s.arrival[i])]][2] for i in rows])
    pred_batch = np.asarray(predict(m.doc, s.X[rows])).reshape(len(rows), -1)[:, 0]
    assert np.allclose(pred_loop, pred_batch, rtol=1e-9, atol=1e-12)
