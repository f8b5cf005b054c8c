"""What a signal venue costs (docs/venues.md, docs/performance.md): a run quoting one venue of a two-venue market
(``mmsim.data.two_venue``, preset perp_spot) alone, the other venue run alone as if quoted, and the two together
(the lead as a signal venue), each in the same process, best of ``--repeat``. The ratio
``together / (alone + alone)`` says whether a two-venue run costs the sum of its rows. Timed twice: with a
100 ms timer and feed wakeups off (the loop's own cost per row), and with a wakeup on every message of every venue.
Then the same with **both venues quoted** (issue 12 stage 2): a numba cfunc quoting one lot a tick outside the
touch on every quoted venue (the engine's own cost: a call costs nanoseconds), each venue alone and the two quoted
together; ``both_quoted_over_sum`` is the same ratio.

    python benchmarks/bench_venues.py [--rows 1000000] [--repeat 3]

Writes benchmarks/results/venues.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def quote_every():
    """A cfunc: one lot a tick outside the delayed touch on every quoted venue, through the ``out`` blocks."""
    from mmsim.engine.numba_strategy import (CI_ASK_QTY, CI_BEST_ASK, CI_BEST_BID, CI_BID_QTY, CI_N_VENUES,
                                             CV_ASK_QTY, CV_BEST_ASK, CV_BEST_BID, CV_BID_QTY, CV_QUOTED,
                                             cfunc_strategy, venue_block, venue_out)

    @cfunc_strategy(name="quote_every")
    def rule(ci, cf, p, out):
        for v in range(ci[CI_N_VENUES]):
            if v == 0:
                bb, bq, ba, aq = ci[CI_BEST_BID], ci[CI_BID_QTY], ci[CI_BEST_ASK], ci[CI_ASK_QTY]
            else:
                b = venue_block(v)
                if ci[b + CV_QUOTED] == 0:
                    continue
                bb, bq, ba, aq = ci[b + CV_BEST_BID], ci[b + CV_BID_QTY], ci[b + CV_BEST_ASK], ci[b + CV_ASK_QTY]
            o = venue_out(v)
            out[o] = 1
            on = 1 if bq > 0 and aq > 0 else 0
            out[o + 1] = bb - 1
            out[o + 2] = on
            out[o + 3] = ba + 1
            out[o + 4] = on
        return 0

    return rule


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from mmsim.data.two_venue import generate_two_venue
    from mmsim.engine.sim import simulate
    from _common import cpu_name

    m = generate_two_venue("perp_spot", args.rows, seed=1, lag="50ms")
    spot, perp = m.lagging.events, m.lead.events
    rows = {"quoted (spot)": len(spot), "signal (perp)": len(perp)}
    out = {"cpu": cpu_name(), "rows": rows, "modes": {}}
    for mode, kw in (("timer 100ms, no feed wakeups", dict(wake_on_feed=False, timer_interval_ns=100_000_000)),
                     ("a wakeup per message", dict(wake_on_feed=True))):
        base = dict(strategy="symmetric:half_spread=1,max_position=5", feed_latency="1ms", entry_latency="1ms", **kw)
        t_spot = best(lambda: simulate(spot, **base), args.repeat)
        t_perp = best(lambda: simulate(perp, **base), args.repeat)
        t_both = best(lambda: simulate(spot, signals={"perp": {"events": perp, "feed_latency": "1ms"}}, **base),
                      args.repeat)
        out["modes"][mode] = {"spot_alone_s": t_spot, "perp_alone_s": t_perp, "together_s": t_both,
                              "together_over_sum": t_both / (t_spot + t_perp)}
        print(f"{mode}: spot alone {t_spot:.3f} s, perp alone {t_perp:.3f} s, together {t_both:.3f} s "
              f"= {t_both / (t_spot + t_perp):.2f} x the sum ({len(spot):,} + {len(perp):,} rows)")
        py = {**base, "strategy": quote_every()}
        q_spot = best(lambda: simulate(spot, **py), args.repeat)
        q_perp = best(lambda: simulate(perp, **py), args.repeat)
        q_both = best(lambda: simulate(spot, signals={"perp": {"events": perp, "feed_latency": "1ms", "quoted": True}},
                                       **py), args.repeat)
        out["modes"][mode].update(py_spot_alone_s=q_spot, py_perp_alone_s=q_perp, both_quoted_s=q_both,
                                  both_quoted_over_sum=q_both / (q_spot + q_perp))
        print(f"{mode}, both quoted (numba cfunc): spot alone {q_spot:.3f} s, perp alone {q_perp:.3f} s, "
              f"both quoted {q_both:.3f} s = {q_both / (q_spot + q_perp):.2f} x the sum")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "venues.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
