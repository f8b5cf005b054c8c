"""Feature bank benchmark: ns per tick of the Rust bank, and the pandas way it replaces.

    python benchmarks/bench_features.py --rows 1000000

1. Data: ``mmsim.data.synthetic.generate_l2(rows, seed, n_levels=10)`` replayed into one observation per row
   (top 10 levels per side and the row's trade) by ``mmsim.signals.features.observations_from_events``.
2. The bank, through its C ABI (``mmsim._core.feature_bench``, a C++ loop, best of ``--repeat``), for the
   bundled ``small`` and ``full`` sets: ns per ``update`` (target for ``full``: <= 500 ns), ns per
   ``update`` + ``values`` (batch mode: values after every row), ns per ``values`` call alone.
3. The pandas way (the motivating post's starting point): at each decision (every ``--decision-ms`` of
   data time) recompute every feature of the ``small`` set from the raw observation history with pandas,
   each over its window: the last W rows for event windows, the whole history where the feature needs it
   (VPIN buckets are aligned from the first trade; time since the last trade / mid change), and for
   decayed features either 10 horizons back (``windowed``: weights below e^-10 dropped, what one would
   write) or the whole history (``exact``: what the bank computes). Timed on ``--pandas-decisions``
   decisions spread evenly over the run, and checked against the bank's values at the same decisions.
   The bank's cost per decision is what the event loop pays: the updates of the rows since the previous
   decision plus one ``values`` call. Ratio = pandas time per decision / bank time per decision
   (target >= 10,000x); the ratio to ``values`` alone is reported too.

Writes ``benchmarks/results/features.json`` and prints a table.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

from mmsim import _core  # noqa: E402
from mmsim import features as F  # noqa: E402
from mmsim.data.synthetic import generate_l2  # noqa: E402

NS = 1_000_000_000
LOOKBACK_HORIZONS = 10  # pandas: decayed features over 10 horizons of history


# ------------------------------------------------------------------------------------ the pandas way
def raw_frame(obs: F.Observations) -> pd.DataFrame:
    """The raw history as a pandas user holds it: one row per observation, one column per book field."""
    cols = {"ts": obs.ts}
    for name, a in (("bp", obs.bid_px), ("bq", obs.bid_qty), ("ap", obs.ask_px), ("aq", obs.ask_qty)):
        for k in range(a.shape[1]):
            cols[f"{name}{k + 1}"] = a[:, k]
    cols.update(sign=obs.trade_sign, qty=obs.trade_qty)
    return pd.DataFrame(cols)


def _mid(w: pd.DataFrame) -> pd.Series:
    ok = (w["bq1"] > 0) & (w["aq1"] > 0)
    return ((w["bp1"] + w["ap1"]) / 2.0).where(ok)


def _weights(ts: pd.Series, now: int, h: int) -> pd.Series:
    return np.exp(-(now - ts).astype(float) / h)


def _ofi(w: pd.DataFrame, level: int) -> pd.Series:
    """CKS e_n summed over levels 1..level, from consecutive rows (empty level: price -/+inf, qty 0)."""
    e = pd.Series(0.0, index=w.index)
    for k in range(1, level + 1):
        bq, aq = w[f"bq{k}"], w[f"aq{k}"]
        bp = w[f"bp{k}"].astype(float).where(bq > 0, -np.inf)
        ap = w[f"ap{k}"].astype(float).where(aq > 0, np.inf)
        pbp, pbq, pap, paq = bp.shift(), bq.shift(), ap.shift(), aq.shift()
        e += ((bp >= pbp) * bq - (bp <= pbp) * pbq - (ap <= pap) * aq + (ap >= pap) * paq).fillna(0.0)
    return e


def _returns(w: pd.DataFrame) -> pd.Series:
    m = _mid(w)
    lm = np.log(m.where(m > 0)).dropna()
    return lm.diff().reindex(w.index).fillna(0.0)


def pandas_features(df: pd.DataFrame, i: int, now: int, specs, lookback: int | None = LOOKBACK_HORIZONS
                    ) -> list[float]:
    """Every spec of ``specs`` at decision time ``now`` (last row ``i``), recomputed from ``df``. Decayed
    features use the rows of the last ``lookback`` horizons (None: the whole history, exact)."""
    ts = df["ts"]
    hist = df.iloc[: i + 1]
    out = []
    for s in specs:
        k, h, w, lvl = s.kind, s.horizon_ns, s.window, s.level
        if h and lookback is None:
            win = hist
        elif h:  # decayed: the rows of the last `lookback` horizons
            win = df.iloc[int(ts.searchsorted(now - lookback * h, side="left")): i + 1]
        elif w:  # event window: the last w rows, and some before for the first diffs
            win = df.iloc[max(i - w - 200, 0): i + 1]
        else:
            win = hist
        if k in ("mid", "spread", "microprice", "queue_imbalance", "depth_imbalance"):
            rows = win if h else win.iloc[-1:]
            if k == "mid":
                x = _mid(rows)
            elif k == "spread":
                x = (rows["ap1"] - rows["bp1"]).where(_mid(rows).notna())
            elif k == "queue_imbalance":
                x = (rows["bq1"] - rows["aq1"]) / (rows["bq1"] + rows["aq1"])
            elif k == "microprice":
                cb = sum(rows[f"bq{j}"] for j in range(1, lvl + 1))
                ca = sum(rows[f"aq{j}"] for j in range(1, lvl + 1))
                imb = cb / (cb + ca)
                x = (imb * rows["ap1"] + (1 - imb) * rows["bp1"]).where(_mid(rows).notna())
            else:
                num = sum((rows[f"bq{j}"] - rows[f"aq{j}"]) / j for j in range(1, lvl + 1))
                den = sum((rows[f"bq{j}"] + rows[f"aq{j}"]) / j for j in range(1, lvl + 1))
                x = (num / den).where(den > 0)
            if not h:
                out.append(float(x.iloc[-1]))
                continue
            # time-weighted EWMA of the held value: segment weights e^-(now-end)/H - e^-(now-start)/H
            x = x.dropna()
            t = rows["ts"].loc[x.index]
            ends = t.shift(-1).fillna(now)
            wgt = _weights(ends, now, h) - _weights(t, now, h)
            wgt.iloc[0] = _weights(ends.iloc[:1], now, h).iloc[0]
            out.append(float((x * wgt).sum()))
        elif k in ("ofi", "realized_vol", "mid_return"):
            x = _ofi(win, lvl) if k == "ofi" else _returns(win)
            if k == "realized_vol":
                x = x ** 2
            v = float((x * _weights(win["ts"], now, h)).sum()) if h else float(x.iloc[-w:].sum())
            out.append(math.sqrt(v) if k == "realized_vol" else v)
        elif k in ("signed_volume", "trade_sign_imbalance", "trade_intensity"):
            tr = (win if h else hist)
            tr = tr[tr["qty"] > 0]
            if k == "trade_intensity":
                out.append(float(_weights(tr["ts"], now, h).sum()) * NS / h)
                continue
            x = tr["sign"] * tr["qty"] if k == "signed_volume" else tr["sign"].astype(float)
            if h:
                wg = _weights(tr["ts"], now, h)
                v = float((x * wg).sum())
                out.append(v if k == "signed_volume" else (v / float(wg.sum()) if len(tr) else math.nan))
            else:  # the last w trades
                out.append(float(x.iloc[-w:].sum()) if k == "signed_volume" else float(x.iloc[-w:].mean()))
        elif k == "event_intensity":
            out.append(float(_weights(win["ts"], now, h).sum()) * NS / h)
        elif k == "time_since_trade":
            t = hist["ts"][hist["qty"] > 0]
            out.append((now - int(t.iloc[-1])) / NS if len(t) else math.nan)
        elif k == "time_since_mid_change":
            m = _mid(hist).dropna()
            ch = m.index[1:][m.values[1:] != m.values[:-1]]
            j = ch[-1] if len(ch) else (m.index[0] if len(m) else None)
            out.append((now - int(hist["ts"].loc[j])) / NS if j is not None else math.nan)
        elif k == "vpin":  # buckets are aligned from the first trade: re-bucket the whole history
            tr = hist[hist["qty"] > 0]
            q = tr["qty"].to_numpy()
            cum = np.r_[0, q.cumsum()]
            nb = int(cum[-1] // w)
            if nb == 0:
                out.append(math.nan)
                continue
            bounds = np.arange(nb + 1) * w
            buy = np.r_[0, np.where(tr["sign"] > 0, q, 0).cumsum()]
            sell = np.r_[0, np.where(tr["sign"] < 0, q, 0).cumsum()]
            b = np.interp(bounds, cum, buy)  # linear within a trade: exact at lot boundaries
            sl = np.interp(bounds, cum, sell)
            imb = pd.Series(np.abs(np.diff(b) - np.diff(sl)) / w)
            out.append(float(imb.iloc[-F.VPIN_BUCKETS:].mean()))
        else:  # pragma: no cover
            raise ValueError(f"no pandas version of {s.text}")
    return out


# ----------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--decision-ms", type=float, default=100.0)
    ap.add_argument("--pandas-decisions", type=int, default=40)
    ap.add_argument("--out", default=str(RESULTS / "features.json"))
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    ev = generate_l2(a.rows, seed=a.seed, n_levels=a.levels)
    t1 = time.perf_counter()
    F.observations_from_events(ev[:1000], levels=a.levels)  # numba compile, not timed
    t2 = time.perf_counter()
    obs = F.observations_from_events(ev, levels=a.levels)
    t3 = time.perf_counter()
    n = len(obs)
    span_s = (int(obs.ts[-1]) - int(obs.ts[0])) / NS
    res: dict = {
        "rows": n, "seed": a.seed, "levels": a.levels, "span_s": span_s,
        "trades": int((obs.trade_qty > 0).sum()),
        "generate_s": t1 - t0, "observations_s": t3 - t2,
        "machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__},
        "banks": {},
    }
    print(f"{n:,} observations over {span_s:.0f} s of data, {res['trades']:,} trades, {a.levels} levels")
    for name in ("small", "full"):
        specs = F.parse_specs(name, max_levels=a.levels)
        r = _core.feature_bench(F.spec_array(specs), *obs, a.levels, a.repeat)
        r["spec_hash"] = F.spec_hash(specs)
        res["banks"][name] = r
        print(f"{name:6s} {len(specs):4d} features: update {r['update_ns']:7.1f} ns/tick   update+values "
              f"{r['update_values_ns']:7.1f} ns/tick   values alone {r['values_ns']:7.1f} ns")

    # ---- the pandas way on the small set
    small = list(F.SMALL)
    dec_ns = int(a.decision_ms * 1e6)
    T = np.arange(int(obs.ts[0]) + dec_ns, int(obs.ts[-1]) + 1, dec_ns, dtype=np.int64)
    last = np.searchsorted(obs.ts, T, side="right") - 1
    rows_per_decision = n / len(T)
    pick = np.unique(np.linspace(len(T) // 20, len(T) - 1, a.pandas_decisions).astype(int))
    pick = pick[np.r_[True, np.diff(last[pick]) > 0]]
    df = raw_frame(obs)
    now = obs.ts.copy()
    now[last[pick]] = T[pick]
    rust = F.batch_features(obs, small, now=now)[last[pick]]
    b = res["banks"]["small"]
    bank_us = (rows_per_decision * b["update_ns"] + b["values_ns"]) / 1e3
    res["pandas"] = {
        "decision_ms": a.decision_ms, "decisions_in_run": int(len(T)), "decisions_timed": int(len(pick)),
        "rows_per_decision": rows_per_decision, "bank_us_per_decision": bank_us, "bank_values_ns": b["values_ns"],
    }
    for mode, lookback in (("windowed", LOOKBACK_HORIZONS), ("exact", None)):
        pandas_features(df, int(last[pick[0]]), int(T[pick[0]]), small, lookback)  # warm up
        times, pvals = [], []
        for d in pick:
            t = time.perf_counter()
            pvals.append(pandas_features(df, int(last[d]), int(T[d]), small, lookback))
            times.append(time.perf_counter() - t)
        pvals = np.array(pvals)
        # |pandas - bank| relative to the column's scale (max |value| over the timed decisions): signed
        # flows that cancel to ~0 would make a plain relative difference meaningless. NaNs must agree.
        both_nan = np.isnan(rust) & np.isnan(pvals)
        scale = np.nanmax(np.abs(np.where(both_nan, 0.0, rust)), axis=0)
        diff = np.where(both_nan, 0.0, np.abs(rust - pvals)) / np.maximum(scale, 1e-300)
        max_diff = {c: float(np.max(diff[:, j])) for j, c in enumerate(F.column_names(small))}
        ms = 1e3 * float(np.mean(times))
        res["pandas"][mode] = {
            "lookback_horizons": lookback, "ms_per_decision": ms, "ms_min": 1e3 * min(times),
            "ms_max": 1e3 * max(times), "ratio_per_decision": ms * 1e3 / bank_us,
            "ratio_to_values_call": ms * 1e6 / b["values_ns"], "worst_diff_vs_bank": max(max_diff.values()),
            "max_diff_vs_bank_over_column_scale": max_diff,
        }
    p = res["pandas"]
    print(f"bank, small set, per decision every {a.decision_ms:g} ms of data ({rows_per_decision:.0f} rows): "
          f"{bank_us:.2f} us (updates + one values call)")
    for mode, label in (("windowed", f"decayed features over {LOOKBACK_HORIZONS} horizons"),
                        ("exact", "decayed features over the whole history")):
        q = p[mode]
        print(f"pandas {mode:8s} ({label}): {q['ms_per_decision']:6.1f} ms per decision -> "
              f"{q['ratio_per_decision']:>9,.0f}x the bank per decision, {q['ratio_to_values_call']:>11,.0f}x a "
              f"values() call; worst |pandas - bank| / column scale {q['worst_diff_vs_bank']:.1e}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
