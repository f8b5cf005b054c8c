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

**Signal venues** (docs/venues.md). A run with read-only signal venues (its summary lists ``signal_venues``) also
wrote ``signal_data.parquet``: per decision, per venue, what of that venue it had seen. The audit checks that the
file has exactly one row per decision per venue in decision then venue order, with the venue's name; for every
row, ``data_arrival_ts <= ts`` of its decision and ``data_exch_ts <= data_arrival_ts`` (rows seen), no times
before any row was seen; per venue, ``data_rows``, ``data_arrival_ts`` and ``data_exch_ts`` never go back from
one decision to the next (a feed delivers in order) and ``data_rows`` never exceeds the rows the summary says
were delivered (``signal_rows``); and its own hash chain (``signal_data_chain``). The arrival times themselves
cannot be recomputed from the outputs (they depend on the data and the seed); the rows' own fields and the
summary are what the audit can hold them to. Each venue gets a label (``signal_labels``). A failed audit states
its first failure in one line (``failure``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mmsim import records as R
from mmsim.engine.chain import (GENESIS, QUOTES_GENESIS, SIGNAL_GENESIS, chain_hashes, quote_chain_hashes,
                                signal_chain_hashes)
from mmsim.engine.loader import ORACLES
from mmsim.engine.results import QUOTES_FILE, SIGNAL_DATA_FILE
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
    failure = None
    if not ok:
        failure = (f"{dec_file.name}: hash chain broken at row {broken}" if broken is not None else
                   next(f"{dec_file.name}: {k} ({v} rows)" for k, v in checks.items()
                        if k != "chain_first_broken_row" and v))
    extra: dict = {}
    sig_file = path / SIGNAL_DATA_FILE
    if summary.get("signal_venues") or sig_file.is_file():
        sig = audit_signal_data(sig_file, d, summary)
        extra = {k: v for k, v in sig.items() if k not in ("ok", "failure")}
        if not sig["ok"]:
            failure = failure or sig["failure"]
            ok = False
    q_file = path / QUOTES_FILE
    if summary.get("quoted_venues") or q_file.is_file():
        q = audit_quotes(q_file, d, summary)
        extra.update({k: v for k, v in q.items() if k not in ("ok", "failure")})
        if not q["ok"]:
            failure = failure or q["failure"]
            ok = False
    clairvoyant = oracle or said or bool(marked.any())
    report = {"ok": ok, "decisions": len(d), "label": LABEL_CLAIRVOYANT if clairvoyant else LABEL_CAUSAL,
              "strategy": summary.get("strategy", ""), "decision_chain": final, **checks, **extra}
    if failure is not None:
        report["failure"] = failure
    return report


def audit_quotes(q_file: Path, decisions: pd.DataFrame, summary: dict) -> dict:
    """A run quoting several venues (docs/venues.md, "Quoting several venues"): ``quotes.parquet`` holds one row
    per decision per quoted venue after the first, decision order then venue order, under its own hash chain
    whose last value the summary records (``quotes_chain``)."""
    quoted = summary.get("quoted_venues") or []
    if not q_file.is_file():
        return {"ok": False, "failure": f"{q_file}: missing (the summary lists quoted venues {quoted})"}
    q = pd.read_parquet(q_file)
    missing = [c for c in R.QUOTE_DTYPE.names if c != "_pad" and c not in q.columns] + (
        [] if "chain" in q.columns else ["chain"])
    if missing:
        return {"ok": False, "failure": f"{q_file}: missing columns {missing}"}
    names = [quoted[0]] + list(summary.get("signal_venues") or [])
    venues = sorted(names.index(n) for n in quoted[1:] if n in names)
    ids = decisions["decision_id"].to_numpy()
    want_id = np.repeat(ids, len(venues))
    want_venue = np.tile(np.asarray(venues, dtype=np.int64), len(ids))
    got_id, got_venue = q["decision_id"].to_numpy(), q["venue"].to_numpy()
    layout_bad = (len(q) != len(want_id) or not np.array_equal(got_id, want_id)
                  or not np.array_equal(got_venue, want_venue))
    want = quote_chain_hashes(q)
    stored = q["chain"].tolist()
    broken = next((i for i, (a, b) in enumerate(zip(want, stored)) if a != b), None)
    if broken is None and len(want) != len(stored):
        broken = min(len(want), len(stored))
    final = want[-1] if want else QUOTES_GENESIS.hex()
    checks = {"quotes_layout_mismatch": int(layout_bad),
              "quotes_chain_first_broken_row": -1 if broken is None else int(broken),
              "quotes_summary_hash_mismatch": int(summary.get("quotes_chain") != final)}
    ok = not layout_bad and broken is None and not checks["quotes_summary_hash_mismatch"]
    out = {"ok": ok, "quoted_venues": list(quoted), "quotes_chain": final, **checks}
    if not ok:
        out["failure"] = (f"{q_file.name}: hash chain broken at row {broken}" if broken is not None else
                          f"{q_file.name}: not one row per decision per quoted venue {quoted[1:]}" if layout_bad else
                          f"{q_file.name}: its last chain value differs from the summary's quotes_chain")
    return out


def audit_signal_data(sig_file: Path, decisions: pd.DataFrame, summary: dict) -> dict:
    """The signal venues' part of the audit (module docstring, "Signal venues"): check counts, one label per
    venue, ``ok`` and the first failure as one line."""
    names = list(summary.get("signal_venues") or [])
    if not sig_file.is_file():
        raise ConfigError(f"{sig_file}: missing (the summary lists signal venues {names})")
    if not names:
        return {"ok": False, "signal_labels": {},
                "failure": f"{sig_file.name}: present, but the summary lists no signal venues"}
    s = pd.read_parquet(sig_file)
    missing = [c for c in (*R.SIGNAL_DATA_DTYPE.names, "instrument", "chain") if c not in s.columns]
    if missing:
        raise ConfigError(f"{sig_file}: missing columns {missing}")
    k = len(names)
    n = len(s)
    dec_id, venue = s["decision_id"].to_numpy(np.int64), s["venue"].to_numpy(np.int64)
    ex, arr, rows = (s[c].to_numpy(np.int64) for c in ("data_exch_ts", "data_arrival_ts", "data_rows"))
    # layout: row j is decision j // K, venue j % K + 1, named after that venue
    want_dec, want_venue = np.arange(n) // k, np.arange(n) % k + 1
    placed = (dec_id == want_dec) & (venue == want_venue)
    name_of = np.array(names + ["?"], dtype=object)[np.clip(venue - 1, 0, k) if n else np.zeros(0, np.int64)]
    named = s["instrument"].astype(str).to_numpy(object) == name_of
    ts_of = dict(zip(decisions["decision_id"].tolist(), decisions["ts"].tolist()))
    ts = np.array([ts_of.get(int(i), R.NO_TS) for i in dec_id], dtype=np.int64)
    seen = rows > 0
    fails: dict[str, np.ndarray] = {
        "signal_rows_misplaced": ~placed | (ts == R.NO_TS),
        "signal_name_mismatch": ~named,
        "signal_arrival_after_decision": seen & (arr > ts),
        "signal_data_arrived_before_exchange": seen & (ex > arr),
        "signal_times_without_rows": (~seen & ((ex != R.NO_TS) | (arr != R.NO_TS) | (rows != 0)))
                                     | (seen & ((ex == R.NO_TS) | (arr == R.NO_TS))),
    }
    back = np.zeros(n, dtype=bool)
    beyond = np.zeros(n, dtype=bool)
    delivered = summary.get("signal_rows")
    for v in range(1, k + 1):  # per venue, in decision order: a feed delivers in order
        idx = np.flatnonzero(venue == v)
        if len(idx) > 1:
            r_, a_, e_ = rows[idx], arr[idx], ex[idx]  # compared, not subtracted: NO_TS - t overflows
            went_back = (r_[1:] < r_[:-1]) | (a_[1:] < a_[:-1]) | (e_[1:] < e_[:-1])
            back[idx[1:]] |= went_back
        if isinstance(delivered, list) and len(delivered) == k:
            beyond[idx] |= rows[idx] > int(delivered[v - 1])
    fails["signal_rows_went_back"] = back
    fails["signal_rows_beyond_delivered"] = beyond
    checks = {name: int(mask.sum()) for name, mask in fails.items()}
    checks["signal_rows_missing"] = int(n != len(decisions) * k)
    want = signal_chain_hashes(s)
    stored = s["chain"].tolist()
    broken = next((i for i, (a, b) in enumerate(zip(want, stored)) if a != b), None)
    final = want[-1] if want else SIGNAL_GENESIS.hex()
    checks["signal_chain_first_broken_row"] = -1 if broken is None else int(broken)
    checks["signal_summary_hash_mismatch"] = int(summary.get("signal_data_chain") != final)
    ok = all(v == 0 for c, v in checks.items() if c != "signal_chain_first_broken_row") and broken is None

    labels = {}
    for v, name in enumerate(names, 1):
        bad = [c for c in ("signal_arrival_after_decision", "signal_data_arrived_before_exchange",
                           "signal_times_without_rows", "signal_rows_went_back", "signal_rows_beyond_delivered")
               if (fails[c] & (venue == v)).any()]
        labels[name] = LABEL_CAUSAL if not bad else "NOT causal: " + ", ".join(bad)
    failure = None
    if not ok:
        failure = _first_signal_failure(sig_file.name, fails, checks, broken, s, ts, names, n, len(decisions) * k)
    return {"ok": ok, "signal_venues": names, "signal_labels": labels, "signal_data_chain": final, **checks,
            "failure": failure}


def _first_signal_failure(file: str, fails: dict, checks: dict, broken, s: pd.DataFrame, ts: np.ndarray,
                          names: list, n: int, want_n: int) -> str:
    """The first failed signal check as one line naming the file, the row, the decision and the venue."""
    what = {
        "signal_arrival_after_decision": lambda r: f"data_arrival_ts {r.data_arrival_ts} is after the decision's "
                                                   f"ts {r.ts}: it saw data that had not arrived",
        "signal_data_arrived_before_exchange": lambda r: f"data_exch_ts {r.data_exch_ts} is after its data_arrival_ts "
                                                         f"{r.data_arrival_ts}",
        "signal_times_without_rows": lambda r: f"data_rows {r.data_rows} does not match its times "
                                               f"(data_exch_ts {r.data_exch_ts}, data_arrival_ts {r.data_arrival_ts})",
        "signal_rows_went_back": lambda r: "data_rows, data_arrival_ts or data_exch_ts went back from the venue's "
                                           "previous decision (a feed delivers in order)",
        "signal_rows_beyond_delivered": lambda r: f"data_rows {r.data_rows} is more than the venue's rows delivered "
                                                  "in the whole run (summary signal_rows)",
        "signal_rows_misplaced": lambda r: f"decision {r.decision_id} venue {r.venue} is not where the log has it "
                                           "(one row per decision per venue, decision then venue order)",
        "signal_name_mismatch": lambda r: f"instrument {r.instrument!r} is not venue {r.venue}'s name",
    }
    first = None
    for check, mask in fails.items():
        hit = np.flatnonzero(mask)
        if len(hit) and (first is None or hit[0] < first[1]):
            first = (check, int(hit[0]))
    if first is not None:
        check, j = first
        r = next(s.iloc[[j]].assign(ts=ts[j]).itertuples())
        v = int(r.venue)
        name = names[v - 1] if 1 <= v <= len(names) else f"venue {v}"
        return f"{file}: row {j} (decision {r.decision_id}, signal '{name}'): {what[check](r)}"
    if checks["signal_rows_missing"]:
        return f"{file}: {n} rows, the decisions and signal venues need {want_n}"
    if broken is not None:
        return f"{file}: hash chain broken at row {broken}"
    return f"{file}: its last chain value differs from the summary's signal_data_chain"
