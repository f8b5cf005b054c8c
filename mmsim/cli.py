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


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{v} must be > 0")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{v} must be >= 0")
    return v


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
    run.add_argument("--features", metavar="SPEC", help="feature bank the strategy reads as ctx.features: small, "
                     "full, a spec list or a file (docs/features.md)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    run.set_defaults(func=cmd_run)

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
    from .scenario import _MEASURED_RE

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
        if leg == "compute" and isinstance(spec, str) and spec.strip().startswith("measured"):
            if not _MEASURED_RE.match(spec.strip()):
                raise ConfigError(f"--compute-latency '{spec}': expected measured or measured:xF (F a number)")
            continue
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
            which = f"{command} " if command in ("scenarios", "data") else ""
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
