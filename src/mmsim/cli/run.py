"""``mmsim run``, ``mmsim scenarios list|show`` and ``mmsim bench``: one run and what the project ships."""
from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any, Optional

from mmsim.cli.args import EXIT_OK, Parser, add_window_options, apply_window, positive_int, run_kwargs, seed_int
from mmsim.errors import ConfigError, MmsimError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register run, scenarios and bench."""
    run = sub.add_parser("run", help="run a strategy over a scenario and write its results",
                         description="Run a strategy over a scenario; write fills/orders/decisions Parquet "
                         "and summary.json to --out.")
    run.add_argument("scenario", metavar="SCENARIO", help="bundled scenario name or path to a .toml file")
    run.add_argument("--strategy", metavar="S", help="built-in (symmetric:half_spread=2,size=1), "
                     "file.py:ClassName[:k=v,...] or an entry-point name; default: the scenario's")
    lat = run.add_argument_group("latency (specs: 0, 250us, 2ms, data, data+3ms, "
                                 "lognormal:median=2ms,sigma=0.6, empirical:FILE, regime:...)")
    lat.add_argument("--feed-latency", metavar="[VENUE=]L", help="market data feed latency; VENUE=L sets that "
                     "signal venue's (docs/venues.md)")
    lat.add_argument("--order-latency", metavar="L", help="sets entry, cancel and response latency at once")
    lat.add_argument("--entry-latency", metavar="L", help="new/modify order entry latency")
    lat.add_argument("--cancel-latency", metavar="L", help="cancel latency")
    lat.add_argument("--response-latency", metavar="L", help="exchange response latency")
    lat.add_argument("--compute-latency", metavar="L", help="strategy compute time (or measured[:xF])")
    run.add_argument("--queue-model", metavar="M",
                     help="risk_averse, log, power or power:N (N = queue power); default: the scenario's")
    run.add_argument("--seed", type=seed_int, default=0, metavar="N", help="seed of the latency draws (default 0)")
    run.add_argument("--rows", type=positive_int, metavar="N", help="use only the first N data rows")
    add_window_options(run)
    run.add_argument("--engine", choices=("cpp", "reference"), default="cpp",
                     help="C++ loop (default) or the pure-Python reference")
    run.add_argument("--model", metavar="MODEL.json", help="a model file (mmsim train); the loop calls it at each "
                     "wakeup on its own feature bank: ctx.pred_move, ctx.p_up, … (docs/models.md)")
    run.add_argument("--features", metavar="SPEC", help="feature bank the strategy reads as ctx.features: small, "
                     "full, a spec list or a file (docs/features.md)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    run.set_defaults(func=cmd_run)

    sc = sub.add_parser("scenarios", help="list or show bundled scenarios")
    sc_sub = sc.add_subparsers(dest="scenarios_command", metavar="{list,show}", parser_class=Parser)
    ls = sc_sub.add_parser("list", help="list bundled scenarios")
    ls.set_defaults(func=cmd_scenarios_list)
    show = sc_sub.add_parser("show", help="print a scenario file")
    show.add_argument("name", metavar="NAME", help="bundled scenario name or path to a .toml file")
    show.set_defaults(func=cmd_scenarios_show)

    bench = sub.add_parser("bench", help="print the benchmark figures recorded in benchmarks/results",
                           description="The figures of benchmarks/results/*.json (produced by the scripts in "
                           "benchmarks/, see docs/performance.md); --json prints them all as one JSON object.")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--dir", metavar="DIR", help="results folder (default: ./benchmarks/results, then the "
                       "checkout the package was installed from)")
    bench.set_defaults(func=cmd_bench)


def cmd_run(args: argparse.Namespace) -> int:
    from mmsim.data.scenario import load_scenario
    from mmsim.engine.loader import load_strategy
    from mmsim.engine.results import format_summary, format_venues, write_results

    scenario = load_scenario(args.scenario)
    apply_window(args, scenario)
    kw = run_kwargs(args, scenario)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {args.out}: exists and is not a directory")
    strategy, strategy_name = load_strategy(args.strategy if args.strategy is not None else scenario.strategy)
    events, instrument = scenario.load_events(limit=args.rows)
    kw.update(scenario.signal_kwargs())  # the signal venues, read with the events (docs/venues.md)
    from mmsim.engine.sim import simulate

    if "strategy_name" in inspect.signature(simulate).parameters:
        kw["strategy_name"] = strategy_name
    if scenario.truth is not None:  # a synthetic market's true regime: read by the oracle_regime built-in only
        kw["truth"] = scenario.truth
    result = simulate(events, instrument, strategy, **kw)
    dropped = int((scenario.report or {}).get("n_dropped", 0))  # rows the scenario's repair=true dropped
    if dropped:
        result.summary["repaired_rows"] = int(result.summary.get("repaired_rows", 0)) + dropped
    written = write_results(args.out, result)
    print(f"scenario  {scenario.name}   strategy  {strategy_name}")
    print(data_line(result.summary, scenario))
    venues = format_venues(result.summary)
    if venues:  # several quoted venues: every venue's figures first; the detail below is the first venue's
        print(venues)
        print(f"details of {result.summary['quoted_venues'][0]} (the first venue; the others' are in summary.json):")
    print(format_summary(result.summary))
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return EXIT_OK


def data_line(summary: dict, scenario: Any) -> str:
    """``data      09:30:00.000–16:00:00.000 New York (2012-06-21)  [from 12:00:00.000: …]`` — the span
    replayed in the venue's clock time, and what a window's start cost (mmsim.data.seek)."""
    from mmsim.data.times import format_clock, format_span

    if "first_ts" not in summary:
        return "data      (no rows)"
    zone = summary.get("time_zone", "UTC")
    text = f"data      {format_span(summary['first_ts'], summary['last_ts'], zone)}"
    sess = getattr(scenario, "session", None)
    if sess is not None and not sess.zone_recorded:
        text += " (the store records no time zone: UTC assumed)"
    seek = (getattr(scenario, "report", None) or {}).get("seek")
    if seek and seek.get("from_ts") is not None:
        text += (f"\nwindow    from {format_clock(seek['from_ts'], zone)}: book rebuilt from "
                 f"{seek['rows_replayed']:,} earlier rows in {seek['seconds']:.2f} s, one snapshot message of "
                 f"{seek['snapshot_rows']:,} rows")
    return text


def cmd_scenarios_list(args: argparse.Namespace) -> int:
    from mmsim.data.scenario import list_scenarios, load_scenario

    names = list_scenarios()
    if not names:
        print("(no bundled scenarios found)")
        return EXIT_OK
    width = max(len(n) for n in names)
    for name in names:
        try:
            desc = load_scenario(name).description
        except MmsimError as e:
            desc = f"(invalid: {e})"
        print(f"{name:<{width}}  {desc}".rstrip())
    return EXIT_OK


def cmd_scenarios_show(args: argparse.Namespace) -> int:
    from mmsim.data.scenario import load_scenario

    sc = load_scenario(args.name)  # validates: a broken file is reported, not shown
    print(f"# {sc.path}")
    print(sc.path.read_text(encoding="utf-8").rstrip("\n"))
    return EXIT_OK


_BENCH_FIGURES = (
    ("engine.json", "engine loop, mmsim / hftbacktest rows/s", ("comparison", "rows_per_s_ratio_mmsim_over_hbt"), "x"),
    ("engine.json", "engine end to end, mmsim / hftbacktest", ("comparison", "rows_per_s_ratio_end_to_end"), "x"),
    ("engine.json", "fills mmsim vs hftbacktest (difference)", ("comparison", "fills_diff"), ""),
    ("engine.json", "numba cfunc time / native time", ("comparison", "cfunc_over_native_time"), "x"),
    ("engine.json", "mmsim native loop rows/s", ("results", "mmsim_native", "rows_per_s"), "rows/s"),
    ("features.json", "full feature bank update", ("banks", "full", "update_ns"), "ns"),
    ("features.json", "small feature bank update", ("banks", "small", "update_ns"), "ns"),
    ("features.json", "pandas recompute / bank, per decision", ("pandas", "exact", "ratio_per_decision"), "x"),
    ("store.json", "replay from a 50 M-row store", ("results", "50000000", "replay", "rows_per_s"), "rows/s"),
    ("store.json", "peak RSS, 50 M-row store", ("results", "50000000", "replay", "peak_rss_bytes"), "bytes"),
    ("markouts.json", "markouts for 1 M fills (4 horizons)", ("results", "fill_log_s"), "s"),
    ("report.json", "report generation", ("write_s",), "s"),
)


def _bench_dir(arg: Optional[str]) -> Path:
    from mmsim._paths import checkout_root

    root = checkout_root()
    for d in ([Path(arg)] if arg else [Path.cwd() / "benchmarks" / "results",
                                       *([root / "benchmarks" / "results"] if root else [])]):
        if d.is_dir() and any(d.glob("*.json")):
            return d
    raise ConfigError(f"no benchmark results found ({arg or './benchmarks/results'}); run the scripts in "
                      "benchmarks/ from a checkout (docs/performance.md)")


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    d = _bench_dir(args.dir)
    data = {p.stem: json.loads(p.read_text()) for p in sorted(d.glob("*.json"))}
    if args.json:
        print(json.dumps(data, indent=1, default=str))
        return EXIT_OK
    print(f"benchmark figures from {d} (details: docs/performance.md)")
    for file, label, path, unit in _BENCH_FIGURES:
        v: Any = data.get(Path(file).stem)
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if v is None or isinstance(v, dict):
            continue
        text = f"{v:,.3g}" if isinstance(v, float) else f"{v:,}"
        print(f"  {label:<44} {text} {unit}")
    print(f"  files: {', '.join(p.name for p in sorted(d.glob('*.json')))}")
    return EXIT_OK
