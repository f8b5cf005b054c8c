"""``mmsim`` command line (docs/cli.md). Every user mistake: one line ``mmsim: error: ...`` and exit code 2."""
from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional, Sequence

from .errors import ConfigError, MmsimError

EXIT_OK = 0
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as one line (no usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        _fail(message)


class _Fail(Exception):
    pass


def _fail(message: str) -> NoReturn:
    raise _Fail(message)


def _int_at_least(lo: int, what: str):
    """An argparse type: an integer >= ``lo``; ``what`` words the bound in the error."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"{v} must be {what}")
        return v
    return parse


_positive_int = _int_at_least(1, "> 0")
_seed = _int_at_least(0, ">= 0")


def _positive_float(text: str) -> str:
    """A positive finite number, kept as its text (tick and lot sizes are read as exact decimals)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not (v > 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return text


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mmsim", description="Market-making adverse-selection backtests with injectable "
                "feed, order and compute latency.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a strategy over a scenario and write its results",
                         description="Run a strategy over a scenario; write fills/orders/decisions Parquet "
                         "and summary.json to --out.")
    run.add_argument("scenario", metavar="SCENARIO", help="bundled scenario name or path to a .toml file")
    run.add_argument("--strategy", metavar="S", help="built-in (symmetric:half_spread=2,size=1), "
                     "file.py:ClassName[:k=v,...] or an entry-point name; default: the scenario's")
    lat = run.add_argument_group("latency (specs: 0, 250us, 2ms, data, data+3ms, "
                                 "lognormal:median=2ms,sigma=0.6, empirical:FILE, regime:...)")
    lat.add_argument("--feed-latency", metavar="L", help="market data feed latency")
    lat.add_argument("--order-latency", metavar="L", help="sets entry, cancel and response latency at once")
    lat.add_argument("--entry-latency", metavar="L", help="new/modify order entry latency")
    lat.add_argument("--cancel-latency", metavar="L", help="cancel latency")
    lat.add_argument("--response-latency", metavar="L", help="exchange response latency")
    lat.add_argument("--compute-latency", metavar="L", help="strategy compute time (or measured[:xF])")
    run.add_argument("--queue-model", metavar="M",
                     help="risk_averse, log, power or power:N (N = queue power); default: the scenario's")
    run.add_argument("--seed", type=_seed, default=0, metavar="N", help="seed of the latency draws (default 0)")
    run.add_argument("--rows", type=_positive_int, metavar="N", help="use only the first N data rows")
    run.add_argument("--engine", choices=("cpp", "reference"), default="cpp",
                     help="C++ loop (default) or the pure-Python reference")
    run.add_argument("--model", metavar="MODEL.json", help="a model file (mmsim train); the loop calls it at each "
                     "wakeup on its own feature bank: ctx.pred_move, ctx.p_up, … (docs/models.md)")
    run.add_argument("--features", metavar="SPEC", help="feature bank the strategy reads as ctx.features: small, "
                     "full, a spec list or a file (docs/features.md)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    run.set_defaults(func=cmd_run)

    sw = sub.add_parser("sweep", help="savings of a treated quoter over a baseline across feed/compute latency",
                        description="Run baseline and treated at every feed latency x compute-latency point on Dask "
                        "(a local cluster by default), write sweep.parquet, sweep.json (with the break-even "
                        "latency) and sweep.png. Points are written as they finish: rerun to resume.")
    sw.add_argument("scenario", metavar="SCENARIO")
    sw.add_argument("--baseline", required=True, metavar="S")
    sw.add_argument("--treated", required=True, metavar="S")
    sw.add_argument("--model", metavar="MODEL.json")
    sw.add_argument("--feed-latency", required=True, metavar="L1,L2,...", help="feed latencies to sweep")
    sw.add_argument("--compute-latency", default="0", metavar="C1,C2,...",
                    help="compute latencies (e.g. profile:cheap_cloud_vcpu,profile:high_clock); default 0")
    sw.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2",
                    help="also sweep a parameter of the treated built-in strategy (repeatable)")
    sw.add_argument("--horizon", default="1s", help="adverse-selection horizon (default 1s)")
    sw.add_argument("--block", default="60s", help="bootstrap block (default 60s)")
    sw.add_argument("--n-boot", type=_positive_int, default=1000, metavar="N")
    sw.add_argument("--seed", type=_seed, default=0, metavar="N")
    sw.add_argument("--rows", type=_positive_int, metavar="N")
    sw.add_argument("--workers", type=_positive_int, default=2, metavar="N", help="local Dask workers (default 2)")
    sw.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler instead of a local cluster")
    sw.add_argument("--no-progress", action="store_true")
    sw.add_argument("--out", required=True, metavar="DIR")
    sw.set_defaults(func=cmd_sweep)

    bench = sub.add_parser("bench", help="print the benchmark figures recorded in benchmarks/results",
                           description="The figures of benchmarks/results/*.json (produced by the scripts in "
                           "benchmarks/, see docs/performance.md); --json prints them all as one JSON object.")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--dir", metavar="DIR", help="results folder (default: ./benchmarks/results, then the "
                       "checkout the package was installed from)")
    bench.set_defaults(func=cmd_bench)

    aud = sub.add_parser("audit", help="check a run folder: every decision causal, the decision log intact",
                         description="Exit 0 when every decision used only data that had arrived, its signal came "
                         "after its data, and the decision log's hash chain is intact (docs/audit.md); 1 otherwise.")
    aud.add_argument("run_dir", metavar="DIR", help="a folder written by mmsim run")
    aud.set_defaults(func=cmd_audit)

    feat = sub.add_parser("features", help="compute a feature bank over a whole scenario (batch mode)",
                          description="The features a strategy would see (its delayed view, the scenario's feed "
                          "latency), one row per event, written as Parquet: row, exch_ts, arrival_ts, one "
                          "column per feature.")
    feat.add_argument("scenario", metavar="SCENARIO", help="bundled scenario name or path to a .toml file")
    feat.add_argument("--spec", default="small", metavar="SPEC",
                      help="small (default), full, a comma-separated spec list, or a file with one spec per line")
    feat.add_argument("--feed-latency", metavar="L", help="feed latency (default: the scenario's)")
    feat.add_argument("--seed", type=_seed, default=0, metavar="N", help="seed of the latency draws (default 0)")
    feat.add_argument("--rows", type=_positive_int, metavar="N", help="use only the first N data rows")
    feat.add_argument("--out", required=True, metavar="FILE.parquet", help="output Parquet file")
    feat.set_defaults(func=cmd_features)

    tr = sub.add_parser("train", help="train a prediction model, walk-forward, and write the model file",
                        description="Sample the strategy's features every --every of feed arrival time, label each "
                        "sample with the exchange-side mid move over the horizon, evaluate out of sample by "
                        "walk-forward (purged: no training label window overlaps a test fold), print the metrics, "
                        "refit on all samples and write the model file (docs/training.md, docs/models.md).")
    tr.add_argument("scenario", metavar="SCENARIO", help="bundled scenario name or path to a .toml file")
    tr.add_argument("--model", required=True, choices=("linear", "logistic", "multinomial", "gbdt", "mlp"),
                    help="linear (ridge, move), logistic (up), multinomial (direction), gbdt (LightGBM), mlp")
    tr.add_argument("--horizon", required=True, metavar="H[,H...]",
                    help="prediction horizon(s), e.g. 1s or 100ms,1s,10s (one model file each)")
    tr.add_argument("--out", required=True, metavar="MODEL.json", help="model file; with several horizons the "
                    "first goes here, the others beside it as MODEL.h<H>.json")
    tr.add_argument("--target", choices=("move", "up", "direction"),
                    help="what gbdt/mlp learn (default move); linear: move, logistic: up, multinomial: direction")
    tr.add_argument("--spec", default="small", metavar="SPEC",
                    help="feature bank: small (default), full, a comma-separated spec list or a file")
    tr.add_argument("--every", default="100ms", metavar="D", help="sampling interval of arrival time (default 100ms)")
    tr.add_argument("--folds", type=_positive_int, default=5, metavar="K", help="walk-forward folds (default 5)")
    tr.add_argument("--scheme", choices=("expanding", "purged"), default="expanding",
                    help="expanding: train on the past only (default); purged: on all other folds, with an embargo")
    tr.add_argument("--embargo", metavar="D", help="purged scheme: gap after each test fold (default: the horizon)")
    tr.add_argument("--feed-latency", metavar="L", help="feed latency (default: the scenario's)")
    tr.add_argument("--seed", type=_seed, default=0, metavar="N",
                    help="seed of the latency draws and of the model's initialisation (default 0)")
    tr.add_argument("--rows", type=_positive_int, metavar="N", help="use only the first N data rows")
    tr.add_argument("--start-ts", type=int, metavar="NS", help="first sample arrival time (exchange clock, ns)")
    tr.add_argument("--end-ts", type=int, metavar="NS",
                    help="end of the training window: no label window ends after it (default: the data's end)")
    tr.add_argument("--alpha", type=_positive_float, metavar="X",
                    help="L2 penalty (mean loss + alpha/2 |w|^2 on standardised features; default 0.001)")
    tr.add_argument("--hidden", metavar="N[,N...]", help="mlp hidden layer widths (default 64,32)")
    tr.add_argument("--steps", type=_positive_int, metavar="N", help="mlp Adam steps (default 300)")
    tr.add_argument("--rounds", type=_positive_int, metavar="N", help="gbdt boosting rounds (default 200)")
    tr.set_defaults(func=cmd_train)

    sc = sub.add_parser("scenarios", help="list or show bundled scenarios")
    sc_sub = sc.add_subparsers(dest="scenarios_command", metavar="{list,show}", parser_class=_Parser)
    ls = sc_sub.add_parser("list", help="list bundled scenarios")
    ls.set_defaults(func=cmd_scenarios_list)
    show = sc_sub.add_parser("show", help="print a scenario file")
    show.add_argument("name", metavar="NAME", help="bundled scenario name or path to a .toml file")
    show.set_defaults(func=cmd_scenarios_show)

    data = sub.add_parser("data", help="convert real market data into an event store")
    data_sub = data.add_subparsers(dest="data_command", metavar="{convert}", parser_class=_Parser)
    conv = data_sub.add_parser(
        "convert", help="convert LOBSTER, Binance, Tardis or Parquet files into an event store",
        description="Convert vendor files into an event store (docs/data.md) and print the conversion report.")
    conv.add_argument("--format", required=True, choices=("lobster", "binance", "tardis", "parquet"),
                      help="input format")
    conv.add_argument("inputs", nargs="+", metavar="INPUT", help="input file(s): LOBSTER .zip or message + "
                      "orderbook csv; Binance capture (.gz); Tardis csv(.gz); Parquet")
    conv.add_argument("--out", required=True, metavar="STORE", help="event store folder to write (replaced if it "
                      "is an event store already)")
    conv.add_argument("--symbol", metavar="S", help="instrument symbol (and the one to keep if the input has several)")
    conv.add_argument("--tick-size", type=_positive_float, metavar="X", help="price tick (LOBSTER default 0.01)")
    conv.add_argument("--lot-size", type=_positive_float, metavar="Y", help="quantity lot (LOBSTER default 1)")
    conv.add_argument("--repair", action="store_true", help="apply the documented repair policy instead of "
                      "stopping at the first fault; every repair is counted in the report")
    conv.set_defaults(func=cmd_data_convert)

    mdl = sub.add_parser("model", help="prediction model tools (compile a model for this CPU)")
    mdl_sub = mdl.add_subparsers(dest="model_command", metavar="{compile}", parser_class=_Parser)
    mcomp = mdl_sub.add_parser(
        "compile", help="compile a model file into a native library for this CPU (cached)",
        description="Generate C++ for the model (trees unrolled into if/else, fixed-shape loops with literal "
        "weights), build it with the system compiler ($CXX, c++, g++) for this CPU, check it predicts exactly as "
        "the interpreted model, and cache it by model hash and CPU ($MMSIM_CACHE_DIR, default "
        "~/.cache/mmsim/models). Runs given the model then use it (docs/models.md).")
    mcomp.add_argument("model", metavar="MODEL.json", help="model file")
    mcomp.add_argument("--force", action="store_true", help="compile again even if the cache has the library")
    mcomp.set_defaults(func=cmd_model_compile)

    cmp_ = sub.add_parser("compare", help="savings of a treated strategy over a baseline, with confidence intervals",
                          description="Run baseline and treated on the same market path and latency draws; write "
                          "DIR/compare.json (AS-cost saving, spread capture given up, net PnL difference, paired "
                          "block-bootstrap CIs), DIR/blocks.parquet and both runs' results (docs/analytics.md).")
    cmp_.add_argument("scenario", metavar="SCENARIO", help="bundled scenario name or path to a .toml file")
    cmp_.add_argument("--baseline", required=True, metavar="S", help="baseline strategy spec")
    cmp_.add_argument("--treated", required=True, metavar="S", help="treated strategy spec")
    cmp_.add_argument("--model", metavar="MODEL.json", help="model file passed to both runs")
    cmp_.add_argument("--horizon", default="1s", metavar="H", help="adverse-selection horizon (default 1s)")
    cmp_.add_argument("--block", default="60s", metavar="B", help="bootstrap block of exchange time (default 60s)")
    cmp_.add_argument("--n-boot", type=_positive_int, default=2000, metavar="N",
                      help="bootstrap replicates (default 2000)")
    cmp_.add_argument("--fill-mid", choices=("time", "pre"), default="pre",
                      help="mid a fill is measured against: m(t) (default) or the mid before its data row")
    cmp_.add_argument("--seed", type=_seed, default=0, metavar="N",
                      help="seed of the latency draws (both runs) and of the bootstrap (default 0)")
    cmp_.add_argument("--feed-latency", metavar="L", help="market data feed latency (default: the scenario's)")
    cmp_.add_argument("--order-latency", metavar="L", help="entry, cancel and response latency at once")
    cmp_.add_argument("--compute-latency", metavar="L", help="strategy compute time")
    cmp_.add_argument("--rows", type=_positive_int, metavar="N", help="use only the first N data rows")
    cmp_.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    cmp_.set_defaults(func=cmd_compare, entry_latency=None, cancel_latency=None, response_latency=None,
                      queue_model=None, engine="cpp", no_progress=True, features=None)

    rep = sub.add_parser("report", help="write DIR/report.html: one self-contained HTML page (docs/report.md)",
                         description="Write DIR/report.html for a compare folder (or a single run folder: a reduced "
                         "report): PnL decomposition over time, inventory, markouts, fills on the price path, "
                         "savings vs latency (from --sweep or DIR/sweep), settings. Opens offline.")
    rep.add_argument("dir", metavar="DIR", help="compare folder (mmsim compare --out) or run folder")
    rep.add_argument("--sweep", metavar="SWEEP_DIR", help="sweep folder (mmsim sweep --out); default DIR/sweep")
    rep.set_defaults(func=cmd_report)
    return p


# --------------------------------------------------------------------------------------------- commands
def cmd_scenarios_list(args: argparse.Namespace) -> int:
    from .scenario import list_scenarios, load_scenario

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
    from .scenario import load_scenario

    sc = load_scenario(args.name)  # validates: a broken file is reported, not shown
    print(f"# {sc.path}")
    print(sc.path.read_text(encoding="utf-8").rstrip("\n"))
    return EXIT_OK


def _queue_model(text: str) -> tuple[str, Optional[float]]:
    name, _, power = text.partition(":")
    name = name.strip()
    if name not in ("risk_averse", "power", "log"):
        raise ConfigError(f"--queue-model '{text}': unknown (use risk_averse, log, power or power:N)")
    if not power:
        return name, None
    if name != "power":
        raise ConfigError(f"--queue-model '{text}': only power takes a parameter (power:N)")
    try:
        n = float(power)
    except ValueError:
        raise ConfigError(f"--queue-model '{text}': '{power}' is not a number") from None
    if not n > 0 or n == float("inf"):
        raise ConfigError(f"--queue-model '{text}': the power must be a positive number")
    return name, n


def run_kwargs(args: argparse.Namespace, scenario: Any) -> dict[str, Any]:
    """simulate() keyword arguments: the scenario's settings overridden by the command line.

    Latency precedence: --entry/--cancel/--response-latency > --order-latency > the scenario.
    """
    from .latency import parse_latency

    kw = scenario.sim_kwargs()
    if args.order_latency is not None:
        for leg in ("entry", "cancel", "response"):
            kw[f"{leg}_latency"] = args.order_latency
    for leg in ("feed", "entry", "cancel", "response", "compute"):
        v = getattr(args, f"{leg}_latency")
        if v is not None:
            kw[f"{leg}_latency"] = v
    # Check every spec now so that a typo fails before the data is loaded, naming the option.
    for leg in ("feed", "entry", "cancel", "response", "compute"):
        spec = kw[f"{leg}_latency"]
        if leg == "compute":  # also measured[:xF], model[:xF], profile:NAME
            from .sim import _compute_spec

            try:
                _, _, spec = _compute_spec(spec)
            except ConfigError as e:
                raise ConfigError(f"--compute-latency: {e}") from None
        try:
            model = parse_latency(spec)
        except ConfigError as e:
            raise ConfigError(f"--{leg}-latency: {e}") from None
        if leg != "feed" and model.uses_data:
            raise ConfigError(f"--{leg}-latency '{spec}': 'data' is only valid for the feed latency")
    if args.queue_model is not None:
        kw["queue_model"], power = _queue_model(args.queue_model)
        if power is not None:
            kw["queue_power"] = power
    kw["seed"] = args.seed
    kw["engine"] = args.engine
    kw["progress"] = not args.no_progress
    kw["source_name"] = scenario.source_name
    if getattr(args, "features", None):
        from .features import parse_specs

        kw["features"] = parse_specs(args.features)
    if getattr(args, "model", None):
        if not Path(args.model).is_file():
            raise ConfigError(f"--model {args.model}: file not found")
        kw["model"] = args.model
    return kw


def cmd_run(args: argparse.Namespace) -> int:
    from .loader import load_strategy
    from .results import format_summary, write_results
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    kw = run_kwargs(args, scenario)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {args.out}: exists and is not a directory")
    strategy, strategy_name = load_strategy(args.strategy if args.strategy is not None else scenario.strategy)
    events, instrument = scenario.load_events(limit=args.rows)
    from .sim import simulate

    if "strategy_name" in inspect.signature(simulate).parameters:
        kw["strategy_name"] = strategy_name
    result = simulate(events, instrument, strategy, **kw)
    dropped = int((scenario.report or {}).get("n_dropped", 0))  # rows the scenario's repair=true dropped
    if dropped:
        result.summary["repaired_rows"] = int(result.summary.get("repaired_rows", 0)) + dropped
    written = write_results(args.out, result)
    print(f"scenario  {scenario.name}   strategy  {strategy_name}")
    print(format_summary(result.summary))
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import format_compare, run_compare
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    kw = run_kwargs(args, scenario)
    res = run_compare(scenario, args.baseline, args.treated, args.out, sim_kwargs=kw, model=args.model,
                      rows=args.rows, horizon=args.horizon, block=args.block, n_boot=args.n_boot, seed=args.seed,
                      fill_mid=args.fill_mid)
    print(f"scenario  {scenario.name}")
    print(format_compare(res.report))
    print(f"wrote {Path(args.out) / 'compare.json'}")
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from .analytics import parse_horizon
    from .loader import load_strategy
    from .scenario import load_scenario
    from .sweep import SweepSpec, run_sweep, split_specs

    load_scenario(args.scenario)  # fail early, before any worker starts
    for spec in (args.baseline, args.treated):
        load_strategy(spec)
    parse_horizon(args.horizon, "--horizon")
    parse_horizon(args.block, "--block")
    params = []
    for text in args.param:
        name, eq, values = text.partition("=")
        if not eq or not name or not values:
            raise ConfigError(f"--param {text}: expected NAME=V1,V2,...")
        params.append((name.strip(), tuple(v.strip() for v in values.split(","))))
    feeds, computes = split_specs(args.feed_latency), split_specs(args.compute_latency)
    from .latency import parse_latency
    from .sim import _compute_spec

    for f in feeds:
        parse_latency(f)
    for c in computes:
        _compute_spec(c)
    spec = SweepSpec(scenario=args.scenario, baseline=args.baseline, treated=args.treated, feed_latencies=feeds,
                     compute_latencies=computes, treated_params=tuple(params), model=args.model, seed=args.seed,
                     horizon=args.horizon, block=args.block, n_boot=args.n_boot, rows=args.rows)
    summary = run_sweep(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.no_progress)
    for be in summary["break_even"]:
        where = be["break_even_feed_latency"] or f"none ({be['status']})"
        print(f"compute {be['compute_latency']}: net saving at the lowest latency "
              f"{be['net_saving_at_lowest_latency']:+.4g}; break-even feed latency: {where}")
    print(f"wrote {Path(args.out) / 'sweep.parquet'}, sweep.json, sweep.png ({summary['n_points']} points)")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    path = write_report(args.dir, sweep=args.sweep)
    print(f"wrote {path}")
    return EXIT_OK


#: (file, label, path into its JSON, unit) of the headline figure of each benchmark
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
    import mmsim

    for d in ([Path(arg)] if arg else [Path.cwd() / "benchmarks" / "results",
                                       Path(mmsim.__file__).resolve().parents[1] / "benchmarks" / "results"]):
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


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit import audit_dir

    report = audit_dir(args.run_dir)
    for k, v in report.items():
        print(f"{k:<30} {v}")
    if report["ok"]:
        print(f"audit passed: {report['decisions']:,} decisions causal, log intact")
        return EXIT_OK
    print("audit FAILED", file=sys.stderr)
    return 1


def cmd_features(args: argparse.Namespace) -> int:
    import time

    from .batch import features_frame
    from .features import parse_specs
    from .scenario import load_scenario
    from .store import EventStore

    scenario = load_scenario(args.scenario)
    specs = parse_specs(args.spec)
    events, _ = scenario.load_events(limit=args.rows)
    if isinstance(events, EventStore):
        events = events.read()
    feed = args.feed_latency if args.feed_latency is not None else scenario.sim_kwargs()["feed_latency"]
    t0 = time.perf_counter()
    frame = features_frame(events, specs, feed_latency=feed, seed=args.seed,
                           crossed_policy=scenario.sim_kwargs()["crossed_policy"], source_name=scenario.source_name)
    wall = time.perf_counter() - t0
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    tmp = out.with_name(out.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(out)
    print(f"scenario  {scenario.name}   features  {len(specs)}   rows  {len(frame):,}   "
          f"{len(frame) / wall:,.0f} rows/s")
    print(f"wrote {out}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from . import train as T
    from .features import parse_specs
    from .latency import parse_latency
    from .scenario import load_scenario
    from .store import EventStore

    horizons = T.parse_horizons(args.horizon)
    every = T.parse_positive_duration(args.every, "--every")
    if args.embargo is not None and args.scheme != "purged":
        raise ConfigError("--embargo: only the purged scheme trains after a test fold (add --scheme purged)")
    embargo = None if args.embargo is None else T.parse_duration_option(args.embargo, "--embargo")
    options = T.cli_options(alpha=args.alpha, hidden=args.hidden, steps=args.steps, rounds=args.rounds)
    target = T.resolve_target(args.model, args.target)
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {args.out}: is a directory (give a file name, e.g. model.json)")
    if args.model == "gbdt":
        T.require_lightgbm()
    scenario = load_scenario(args.scenario)
    specs = parse_specs(args.spec)
    feed = args.feed_latency if args.feed_latency is not None else scenario.sim_kwargs()["feed_latency"]
    try:
        parse_latency(feed)
    except ConfigError as e:
        raise ConfigError(f"--feed-latency: {e}") from None
    events, _ = scenario.load_events(limit=args.rows)
    if isinstance(events, EventStore):
        events = events.read()
    results = T.train(events, specs, args.model, horizons, target=target, every_ns=every, folds=args.folds,
                      scheme=args.scheme, embargo_ns=embargo, feed_latency=feed, seed=args.seed,
                      crossed_policy=scenario.sim_kwargs()["crossed_policy"], start_ts=args.start_ts,
                      end_ts=args.end_ts, scenario=scenario.name, source_name=scenario.source_name, options=options)
    paths = T.model_paths(out, horizons)
    print(T.format_header(results[0], scenario.name, args.model))
    for r in results:
        print(T.format_report(r))
    if len(results) > 1:
        print("out of sample (pooled) by horizon:")
        print(T.format_horizon_table(results, paths))
    for r, p in zip(results, paths):
        T.write_model(r.model, p)
        print(f"wrote {p}")
    return EXIT_OK


def cmd_model_compile(args: argparse.Namespace) -> int:
    from .compile import compile_loaded
    from .models import load_model

    model = load_model(args.model)
    res = compile_loaded(model, force=args.force)
    if res.cached:
        print(f"{args.model}: {model.type} model {model.hash[:12]} already compiled for this CPU")
    else:
        print(f"{args.model}: {model.type} model {model.hash[:12]} compiled in {res.seconds:.2f} s ({res.compiler})")
    print(f"wrote {res.path}")
    return EXIT_OK


def cmd_data_convert(args: argparse.Namespace) -> int:
    import time

    from .adapters import convert, format_report

    out = Path(args.out)
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"--out {args.out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / "meta.json").is_file():
            raise ConfigError(f"--out {args.out}: exists and is not an event store (refusing to replace it)")
    t0 = time.perf_counter()
    meta = convert(args.format, args.inputs, out, symbol=args.symbol, tick_size=args.tick_size,
                   lot_size=args.lot_size, repair=args.repair)
    wall = time.perf_counter() - t0
    print(format_report(meta))
    n_in = meta["report"].get("n_input_lines", meta["report"].get("n_input_rows", 0))
    print(f"wrote {out} in {wall:.2f} s ({meta['n_rows'] / wall if wall > 0 else 0:,.0f} rows/s, "
          f"{n_in / wall if wall > 0 else 0:,.0f} input lines/s)")
    return EXIT_OK


# --------------------------------------------------------------------------------------------- main
def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``mmsim`` script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        func = getattr(args, "func", None)
        if func is None:  # "mmsim" or "mmsim scenarios" without a subcommand
            command = getattr(args, "command", None)
            which = f"{command} " if command in ("scenarios", "data", "model") else ""
            _fail(f"missing command (see mmsim {which}--help)")
        return func(args)
    except _Fail as e:
        print(f"mmsim: error: {_one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except MmsimError as e:
        print(f"mmsim: error: {_one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `mmsim scenarios show quiet | head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # a missing or unreadable file named by the user
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"mmsim: error: {where}{_one_line(e.strerror or str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else EXIT_OK
    except KeyboardInterrupt:
        print("mmsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
