"""Sweep points are content-addressed (issue 13 item 3; docs/sweeps.md "Resume"): a point's id covers the contents
of the scenario file and every file it reads, the model file, a plugin's source and mmsim's version, so a changed
input is recomputed, never answered from the old points; a damaged, misplaced or edited point file is detected
and recomputed; swept strategy parameters are checked before any worker starts."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from mmsim.analysis.sweep import SweepSpec, run_sweep
from mmsim.data.scenario import scenario_path
from mmsim.errors import ConfigError


def scenario_copy(tmp_path: Path, seed: int = 1) -> Path:
    text = scenario_path("quiet").read_text()
    p = tmp_path / "quiet_copy.toml"
    lines = [line for line in text.splitlines() if not line.strip().startswith("seed")]
    out = []
    for line in lines:
        out.append(line)
        if line.strip() == "[source]":
            out.append(f"seed = {seed}")
    p.write_text("\n".join(out) + "\n")
    return p


def spec_for(scenario: Path, **kw) -> SweepSpec:
    return SweepSpec(scenario=str(scenario), baseline="symmetric:half_spread=1,max_position=5",
                     treated="symmetric:half_spread=2,max_position=5", feed_latencies=("0", "5ms"), n_boot=50,
                     rows=8000, seed=2, **kw)


def point_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "points").rglob("*.parquet"))}


def test_editing_the_scenario_file_recomputes_every_point(tmp_path):
    sc = scenario_copy(tmp_path, seed=1)
    out = tmp_path / "sweep"
    first = run_sweep(spec_for(sc), out, workers=1, progress=False)
    seen = point_files(out)
    sc.write_text(sc.read_text().replace("seed = 1", "seed = 2"))     # the same path, another market
    second = run_sweep(spec_for(sc), out, workers=1, progress=False)
    now = point_files(out)
    assert len(now) == 2 * len(seen) and all(now[k] == v for k, v in seen.items())  # new points beside the old
    fresh = run_sweep(spec_for(sc), tmp_path / "fresh", workers=1, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), pd.read_parquet(tmp_path / "fresh" /
                                                                                            "sweep.parquet"))
    assert second["break_even"] == fresh["break_even"]
    assert first["spec"]["inputs"] != second["spec"]["inputs"]


def test_retraining_a_model_at_the_same_path_recomputes(tmp_path):
    """The model file is an input: the same path with other contents is another point."""
    from mmsim.analysis.sweep import input_digest

    sc = scenario_copy(tmp_path)
    model = tmp_path / "model.json"
    model.write_text('{"a": 1}')
    a = input_digest(spec_for(sc, model=str(model)))
    model.write_text('{"a": 2}')
    b = input_digest(spec_for(sc, model=str(model)))
    assert a != b
    plugin = tmp_path / "p.py"
    plugin.write_text("X = 1\n")
    c = input_digest(replace(spec_for(sc), treated=f"{plugin}:Q"))
    plugin.write_text("X = 2\n")
    assert input_digest(replace(spec_for(sc), treated=f"{plugin}:Q")) != c


def test_a_store_is_hashed_by_content(tmp_path):
    from mmsim.analysis.sweep import input_digest
    from mmsim.data.store import write_store
    from mmsim.data.synthetic import generate_l2
    from mmsim.records import Instrument

    store = tmp_path / "s.mmstore"
    write_store(store, [generate_l2(5000, seed=1)], Instrument())
    sc = tmp_path / "st.toml"
    sc.write_text('[scenario]\nname = "st"\n[instrument]\ntick_size = 1.0\n[source]\nkind = "store"\n'
                  f'path = "{store.name}"\n')
    a = input_digest(spec_for(sc))
    shutil.rmtree(store)
    write_store(store, [generate_l2(5000, seed=2)], Instrument())     # same path, same size class, other rows
    assert input_digest(spec_for(sc)) != a


def test_damaged_or_edited_points_are_recomputed(tmp_path):
    sc = scenario_copy(tmp_path)
    out = tmp_path / "sweep"
    run_sweep(spec_for(sc), out, workers=1, progress=False)
    clean = pd.read_parquet(out / "sweep.parquet")
    files = sorted((out / "points").rglob("*.parquet"))
    good = {p: p.read_bytes() for p in files}
    # 1) the right id but no result: an empty table carrying mmsim metadata
    import pyarrow as pa
    import pyarrow.parquet as pq

    empty = pa.table({"x": pa.array([], pa.int64())}).replace_schema_metadata({b"mmsim": json.dumps({}).encode()})
    pq.write_table(empty, files[0])
    # 2) a hand-edited point: one value changed, metadata kept
    t = pq.read_table(files[1])
    frame = t.to_pandas()
    col = next(c for c in frame.columns if c.startswith("treated_") and frame[c].dtype.kind in "if")
    frame.loc[frame.index[0], col] = frame[col].iloc[0] + 1000
    edited = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(t.schema.metadata)
    pq.write_table(edited, files[1])
    assert files[0].read_bytes() != good[files[0]] and files[1].read_bytes() != good[files[1]]
    run_sweep(spec_for(sc), out, workers=1, progress=False)
    for p in files:
        assert p.read_bytes() == good[p]                               # both recomputed to the clean result
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), clean)


def test_swept_parameters_are_checked_before_any_worker_starts(tmp_path):
    sc = scenario_copy(tmp_path)
    spec = replace(spec_for(sc), treated="skew_pull:k=0.5,max_position=5", treated_params=(("k", ("0.5", "abc")),))

    def never(*a, **k):  # pragma: no cover - reaching it is the failure
        raise AssertionError("a path ran before the parameters were checked")

    with pytest.raises(ConfigError, match="abc"):
        run_sweep(spec, tmp_path / "sw", workers=1, progress=False, path_fn=never)
    assert not (tmp_path / "sw" / "points").exists()
