"""Audit of a run's decision log: every decision causal, and the log unedited since it was written.

Each decision row records when the strategy woke (``ts``), when its signal existed and its orders reached
the wire (``wire_ts`` = ts + compute latency: the signal time), and the newest data it had seen
(``data_exch_ts``, ``data_arrival_ts``). ``mmsim audit DIR`` checks, for every row:

- ``data_arrival_ts <= ts``: the data had arrived through the feed before the decision;
- ``data_exch_ts <= data_arrival_ts``: no data arrived before it happened on the exchange;
- ``wire_ts >= ts`` and ``wire_ts > data_exch_ts`` wherever the feed had a latency (arrival > exchange time);
  with zero feed latency the signal can only coincide with the data, so there ``>=`` is required;

and a hash chain: ``chain[i] = sha256(chain[i-1] || row i's fixed-layout bytes)``, starting from
``sha256("mmsim-decisions-v1")``. The chain is written as a column of ``decisions.parquet`` and its last
value as ``decision_chain`` in ``summary.json`` (also printed by ``mmsim run``): editing, inserting,
dropping or reordering any row breaks it. Keep the printed hash elsewhere to detect a rewrite of both files.

**Clairvoyant runs.** The built-in oracles (the clairvoyant bound, docs/strategies.md) read the future through
a marked path, and every decision they take carries ``DECISION_CLAIRVOYANT`` in ``flags`` (covered by the
chain). Such a run is labelled ``clairvoyant (oracle bound): reads the future through the marked path`` and
passes only when the summary names a built-in oracle as its strategy (with ``clairvoyant: true``) and all its
decisions carry the mark; a marked decision in a run of any other strategy fails the audit. The causality
checks above hold for an oracle too: it reads the future only through the marked path, never through its data.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mmsim import records as R
from mmsim.engine.chain import GENESIS, chain_hashes
from mmsim.engine.loader import ORACLES
from mmsim.errors import ConfigError

#: The audit's label of a run, by what its decisions read.
LABEL_CAUSAL = "causal"
LABEL_CLAIRVOYANT = "clairvoyant (oracle bound): reads the future through the marked path"


def is_oracle_name(strategy: object) -> bool:
    """A summary's ``strategy`` names a built-in oracle (``oracle:horizon=1s,...``). Built-in names come first
    when a spec is loaded, so no file or entry point can take one."""
    return isinstance(strategy, str) and strategy.partition(":")[0].strip() in ORACLES


def audit_dir(path: str | Path) -> dict:
    """Check a run folder; returns a report with ``ok`` and the count of each failed check."""
    path = Path(path)
    dec_file, sum_file = path / "decisions.parquet", path / "summary.json"
    if not dec_file.is_file() or not sum_file.is_file():
        raise ConfigError(f"{path}: not a run folder (needs decisions.parquet and summary.json)")
    d = pd.read_parquet(dec_file)
    summary = json.loads(sum_file.read_text())
    # flags may be absent from a log written before decisions had them (its bytes are those of flags = 0)
    missing = [c for c in R.DECISION_DTYPE.names if c not in ("_pad", "flags") and c not in d.columns]
    if missing or "chain" not in d.columns:
        raise ConfigError(f"{dec_file}: missing columns {missing + ([] if 'chain' in d.columns else ['chain'])}")
    seen = d["data_rows"] > 0
    ts, wire, ex, arr = (d[c].to_numpy() for c in ("ts", "wire_ts", "data_exch_ts", "data_arrival_ts"))
    delayed = arr > ex
    checks = {
        "arrival_after_decision": int((seen & (arr > ts)).sum()),
        "data_arrived_before_exchange": int((seen & (ex > arr)).sum()),
        "signal_before_decision": int((wire < ts).sum()),
        "signal_not_after_data": int((seen & ((delayed & (wire <= ex)) | (~delayed & (wire < ex)))).sum()),
    }
    # Clairvoyance: marked decisions only in a run of a built-in oracle, and all of an oracle's decisions marked.
    flags = d["flags"].to_numpy().astype("int64") if "flags" in d.columns else 0 * ts
    marked = (flags & R.DECISION_CLAIRVOYANT) != 0
    oracle = is_oracle_name(summary.get("strategy"))
    said = bool(summary.get("clairvoyant", False))
    checks["clairvoyant_not_oracle"] = 0 if oracle else int(marked.sum())
    checks["oracle_unmarked"] = int((~marked).sum()) if oracle else 0
    checks["clairvoyant_summary_mismatch"] = int(said != oracle)
    want = chain_hashes(d)
    stored = d["chain"].tolist()
    broken = next((i for i, (a, b) in enumerate(zip(want, stored)) if a != b), None)
    if broken is None and len(want) != len(stored):
        broken = min(len(want), len(stored))
    final = want[-1] if want else GENESIS.hex()
    checks["chain_first_broken_row"] = -1 if broken is None else int(broken)
    checks["summary_hash_mismatch"] = int(summary.get("decision_chain") != final)
    ok = all(v == 0 for k, v in checks.items() if k != "chain_first_broken_row") and broken is None
    clairvoyant = oracle or said or bool(marked.any())
    return {"ok": ok, "decisions": len(d), "label": LABEL_CLAIRVOYANT if clairvoyant else LABEL_CAUSAL,
            "strategy": summary.get("strategy", ""), "decision_chain": final, **checks}
