"""Fill-by-fill comparison of mmsim and hftbacktest on the benchmark's rule (a diagnostic, not a timing).

    python benchmarks/compare_fills.py --rows 1000000 [--engine reference|mmsim] [--hbt-requote-all]

Runs the same rows (``generate_l2``, seeded) and the same rule as bench_engine.py through mmsim (the pure
Python reference engine by default: slow but independent of the C++ build; ``--engine mmsim`` uses
``mmsim.engine.sim.simulate``) and through hftbacktest with a fill log, then matches fills on (exchange time,
side, price, lots) and prints the counts, the unmatched fills of each side and mmsim's fill causes.
See benchmarks/README.md for the rule differences that can produce unmatched fills.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
for p in (str(HERE.parent), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench_engine import INTERVAL_NS, LATENCY_NS, LOT_SIZE, TICK_SIZE, load_rows, make_strategy  # noqa: E402
from hbt_adapter import FILL_LOG, run_hbt  # noqa: E402
from mmsim import records as R  # noqa: E402

CAUSES = {R.CAUSE_TRADE: "trade", R.CAUSE_TRADE_THROUGH: "trade_through", R.CAUSE_CROSS: "cross",
          R.CAUSE_TAKER: "taker", R.CAUSE_EXECUTE: "execute"}


def mmsim_fills_reference(ev: np.ndarray, half_spread: float, size: int) -> tuple[np.ndarray, dict]:
    from mmsim.reference import ReferenceEngine
    from mmsim.engine.strategy import SymmetricQuoter
    lat = {k: np.array([LATENCY_NS], np.int64) for k in ("entry", "cancel", "response")}
    lat["compute"] = np.array([0], np.int64)
    cfg = dict(tick_size=TICK_SIZE, lot_size=LOT_SIZE, timer_interval_ns=INTERVAL_NS, wake_on_feed=False,
               wake_on_response=False, queue_model="risk_averse")
    eng = ReferenceEngine(ev, ev["exch_ts"] + LATENCY_NS, lat, cfg, SymmetricQuoter(half_spread, size))
    while not eng.step(1_000_000):
        pass
    return eng.fills(), eng.summary()


def mmsim_fills_engine(ev: np.ndarray, half_spread: float, size: int) -> tuple[np.ndarray, dict]:
    from mmsim.records import Instrument
    from mmsim.engine.sim import simulate
    res = simulate(ev, Instrument(tick_size=TICK_SIZE, lot_size=LOT_SIZE), make_strategy("native", half_spread, size),
                   feed_latency="1ms", entry_latency="1ms", cancel_latency="1ms", response_latency="1ms",
                   compute_latency="0", timer_interval_ns=INTERVAL_NS, wake_on_feed=False,
                   wake_on_response=False, queue_model="risk_averse", seed=0)
    f = res.fills
    out = np.zeros(len(f), R.FILL_DTYPE)
    for name in ("exch_ts", "side", "price", "qty", "cause", "maker"):
        out[name] = np.asarray(f[name])
    return out, dict(res.summary)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--half-spread", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=1)
    ap.add_argument("--engine", choices=("reference", "mmsim"), default="reference")
    ap.add_argument("--hbt-requote-all", action="store_true")
    ap.add_argument("--show", type=int, default=10, help="unmatched fills to print per side")
    a = ap.parse_args(argv)

    ev = load_rows(a.rows, a.seed)
    t0 = time.perf_counter()
    run = mmsim_fills_reference if a.engine == "reference" else mmsim_fills_engine
    mf, msum = run(ev, a.half_spread, a.size)
    t1 = time.perf_counter()
    h = run_hbt(ev, tick_size=TICK_SIZE, lot_size=LOT_SIZE, feed_latency_ns=LATENCY_NS,
                entry_latency_ns=LATENCY_NS, response_latency_ns=LATENCY_NS, interval_ns=INTERVAL_NS,
                half_spread=a.half_spread, size=a.size, requote_all=a.hbt_requote_all,
                fill_log_rows=4 * len(ev) // 100 + 1000)
    hl = h["fill_log"]
    print(f"{a.rows:,} rows; mmsim ({a.engine}, {t1 - t0:.1f} s): {msum['n_fills']} fills "
          f"({int(mf['qty'].sum())} lots), "
          f"{msum['n_orders']} orders, {msum['n_decisions']} wakeups, position {msum['position']}")
    print(f"hftbacktest: {h['n_fills']} fills (num_trades; {len(hl)} in the fill log, "
          f"{int(hl[:, FILL_LOG.index('qty')].sum())} lots), {h['submitted']} orders, "
          f"{h['wakeups']} wakeups, position {h['position_lots']}, pending-new skips {h['pending_skips']}")
    print("mmsim fill causes:", dict(collections.Counter(CAUSES[int(c)] for c in mf["cause"])))

    key_m = collections.Counter(zip(mf["exch_ts"].tolist(), mf["side"].tolist(), mf["price"].tolist(),
                                    mf["qty"].tolist()))
    ix = {n: i for i, n in enumerate(FILL_LOG)}
    key_h = collections.Counter(zip(hl[:, ix["exch_ts"]].tolist(), hl[:, ix["side"]].tolist(),
                                    hl[:, ix["price"]].tolist(), hl[:, ix["qty"]].tolist()))
    only_m = key_m - key_h
    only_h = key_h - key_m
    matched = sum((key_m & key_h).values())
    print(f"matched fills: {matched}; only in mmsim: {sum(only_m.values())}; "
          f"only in hftbacktest: {sum(only_h.values())}")
    cause_of = {(int(t), int(s), int(p), int(q)): CAUSES[int(c)]
                for t, s, p, q, c in zip(mf["exch_ts"], mf["side"], mf["price"], mf["qty"], mf["cause"])}
    for name, only in (("mmsim", only_m), ("hftbacktest", only_h)):
        for k in sorted(only)[: a.show]:
            extra = f" cause={cause_of.get(k, '?')}" if name == "mmsim" else ""
            print(f"  only {name}: exch_ts={k[0]} side={k[1]:+d} price={k[2]} qty={k[3]}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
