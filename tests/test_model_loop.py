"""Issue 5's 'done when', end to end: mmsim train writes a model, mmsim run uses it in the loop with measured
or profiled compute latency, predictions reach the strategy, and the run passes the audit."""

import numpy as np
import pandas as pd

from mmsim import simulate
from mmsim.analysis.audit import audit_dir
from mmsim.cli import main
from mmsim.signals.models import load_model


def test_train_then_run_with_the_model(tmp_path, capsys):
    model = tmp_path / "m.json"
    assert main(["train", "toxic_burst", "--model", "linear", "--horizon", "1s", "--rows", "120000",
                 "--out", str(model)]) == 0
    for compute in ("model:x50", "profile:high_clock"):
        out = tmp_path / compute.replace(":", "_")
        assert main(["run", "toxic_burst", "--rows", "60000", "--model", str(model), "--strategy",
                     "skew_pull:k=1,threshold=0.5", "--compute-latency", compute, "--no-progress",
                     "--out", str(out)]) == 0, capsys.readouterr().err
        d = pd.read_parquet(out / "decisions.parquet")
        charged = (d["wire_ts"] - d["ts"]).to_numpy()
        assert (charged > 0).all()
        assert audit_dir(out)["ok"]
    # the predictions the strategy saw are the model's on the features it saw (batch mode)
    loaded = load_model(model)
    seen = []

    class Peek:
        def on_wakeup(self, ctx):
            seen.append((ctx.data_rows, ctx.pred_move, ctx.features))

    from mmsim.data.scenario import load_scenario

    ev, inst = load_scenario("toxic_burst").load_events(limit=20_000)
    simulate(ev, inst, Peek(), model=str(model), feed_latency="1ms", wake_on_response=False)
    rows = seen[5_000:5_050]
    native = loaded.native()
    for _, pred, feats in rows:
        assert pred == native.predict(np.asarray(feats))[0]
        assert abs(pred - loaded.predict_python(np.asarray(feats)[None, :])[0, 0]) < 1e-9
