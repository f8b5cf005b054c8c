"""``mmsim compare``, ``sweep``, ``report``, ``audit``, ``calibrate`` and ``leadlag``: reading the answer."""
from __future__ import annotations

import argparse
import sys
from typing import Any
from pathlib import Path

from mmsim.cli.args import EXIT_OK, positive_int, run_kwargs, seed_int
from mmsim.errors import ConfigError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register compare, sweep, report, audit, calibrate and leadlag."""
    cmp_ = sub.add_parser("compare", help="savings of a treated strategy over a baseline, with confidence intervals",
                          description="Run baseline and treated on many market paths (the same events and latency "
                          "draws for both arms on each), and pool them: AS-cost saving, spread capture given up, "
                          "inventory and net PnL differences per path with two-level (paths, then time blocks) "
                          "paired bootstrap intervals, at a horizon read off the baseline's markout curve. Writes "
                          "DIR/compare.json, DIR/paths.parquet, DIR/bins.parquet and the first path's runs "
                          "(docs/analytics.md).")
    cmp_.add_argument("scenario", metavar="SCENARIO", help="bundled scenario name or path to a .toml file")
    cmp_.add_argument("--baseline", required=True, metavar="S", help="baseline strategy spec")
    cmp_.add_argument("--treated", required=True, metavar="S", help="treated strategy spec")
    cmp_.add_argument("--model", metavar="MODEL.json", help="model file passed to both runs")
    cmp_.add_argument("--seeds", metavar="A-B", help="market seeds of a synthetic scenario, one path each, e.g. 1-40 "
                      "(default: the scenario's seed and the next 19)")
    cmp_.add_argument("--windows", type=positive_int, metavar="N", help="cut one history (real data) into N paths of "
                      "equal exchange time")
    cmp_.add_argument("--unmatched", action="store_true", help="allow arms with different risk limits (every "
                      "output says so)")
    cmp_.add_argument("--bound", metavar="S", help="a clairvoyant strategy run as a third arm (e.g. oracle:horizon=5s,"
                      "half_spread=1,max_position=5): the treated saving as a share of what perfect prediction "
                      "achieves (docs/strategies.md)")
    cmp_.add_argument("--horizon", metavar="H", help="adverse-selection horizon, one of the markout grid (default: "
                      "read off the baseline's markout curve, the rule printed)")
    cmp_.add_argument("--block", metavar="B", help="bootstrap block of exchange time, whole seconds (default: "
                      "Politis–White from the data)")
    cmp_.add_argument("--n-boot", type=positive_int, default=2000, metavar="N",
                      help="bootstrap replicates (default 2000)")
    cmp_.add_argument("--fill-mid", choices=("time", "pre"), default="pre",
                      help="mid a fill is measured against: m(t) (default) or the mid before its data row")
    cmp_.add_argument("--seed", type=seed_int, default=0, metavar="N",
                      help="seed of the latency draws (both runs) and of the bootstrap (default 0)")
    cmp_.add_argument("--feed-latency", metavar="[VENUE=]L", help="market data feed latency (default: the "
                      "scenario's); VENUE=L sets that signal venue's (docs/venues.md)")
    cmp_.add_argument("--order-latency", metavar="L", help="entry, cancel and response latency at once")
    cmp_.add_argument("--compute-latency", metavar="L", help="strategy compute time")
    cmp_.add_argument("--rows", type=positive_int, metavar="N", help="use only the first N data rows")
    cmp_.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    cmp_.set_defaults(func=cmd_compare, entry_latency=None, cancel_latency=None, response_latency=None,
                      queue_model=None, engine="cpp", no_progress=True, features=None)

    sw = sub.add_parser("sweep", help="savings of a treated quoter over a baseline across feed/compute latency",
                        description="Run baseline and treated at every feed latency x compute-latency point on many "
                        "market paths on Dask (a local cluster by default; one task per path), pool the paths with "
                        "one shared bootstrap, and write sweep.parquet, sweep.json (break-even latency with its "
                        "interval, the value of a millisecond) and sweep.png. Results are written as they finish: "
                        "rerun to resume.")
    sw.add_argument("scenario", metavar="SCENARIO")
    sw.add_argument("--baseline", required=True, metavar="S")
    sw.add_argument("--treated", required=True, metavar="S")
    sw.add_argument("--model", metavar="MODEL.json")
    sw.add_argument("--feed-latency", required=True, metavar="[VENUE=]L1,L2,...",
                    help="feed latencies to sweep; VENUE=... sweeps that signal venue's (docs/venues.md)")
    sw.add_argument("--compute-latency", default="0", metavar="C1,C2,...",
                    help="compute latencies (e.g. profile:cheap_cloud_vcpu,profile:high_clock); default 0")
    sw.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2",
                    help="also sweep a parameter of the treated built-in strategy (repeatable)")
    sw.add_argument("--seeds", metavar="A-B", help="market seeds of a synthetic scenario, one path each (default: "
                    "the scenario's seed and the next 19)")
    sw.add_argument("--windows", type=positive_int, metavar="N", help="cut one history (real data) into N paths of "
                    "equal exchange time")
    sw.add_argument("--unmatched", action="store_true", help="allow arms with different risk limits")
    sw.add_argument("--bound", metavar="S", help="a clairvoyant third arm (oracle:...): the treated saving as a "
                    "share of it at every latency")
    sw.add_argument("--horizon", metavar="H", help="adverse-selection horizon (default: read off the baseline's "
                    "markout curve at the fastest point)")
    sw.add_argument("--block", metavar="B", help="bootstrap block, whole seconds (default: Politis–White)")
    sw.add_argument("--n-boot", type=positive_int, default=1000, metavar="N")
    sw.add_argument("--seed", type=seed_int, default=0, metavar="N")
    sw.add_argument("--rows", type=positive_int, metavar="N")
    sw.add_argument("--workers", type=positive_int, default=2, metavar="N", help="local Dask workers (default 2)")
    sw.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler instead of a local cluster")
    sw.add_argument("--no-progress", action="store_true")
    sw.add_argument("--out", required=True, metavar="DIR")
    sw.set_defaults(func=cmd_sweep)

    rep = sub.add_parser("report", help="write DIR/report.html: one self-contained HTML page (docs/report.md)",
                         description="Write DIR/report.html for a compare folder (or a single run folder: a reduced "
                         "report). It opens with the verdict (net saving per path with its interval, where it stops "
                         "paying, the share of the clairvoyant bound, model quality), then savings vs latency on a "
                         "log axis (from --sweep or DIR/sweep), the pooled estimates with their rules, markout "
                         "curves, the AS saving vs horizon, the per-path table and the first path's time panels. "
                         "Opens offline.")
    rep.add_argument("dir", metavar="DIR", help="compare folder (mmsim compare --out) or run folder")
    rep.add_argument("--sweep", metavar="SWEEP_DIR", help="sweep folder (mmsim sweep --out); default DIR/sweep")
    rep.set_defaults(func=cmd_report)

    aud = sub.add_parser("audit", help="check a run folder: every decision causal, the decision log intact",
                         description="Exit 0 when every decision used only data that had arrived, its signal came "
                         "after its data, and the decision log's hash chain is intact (docs/audit.md); 1 otherwise. "
                         "A built-in oracle's run is labelled clairvoyant (oracle bound); decisions marked "
                         "clairvoyant in a run of any other strategy fail.")
    aud.add_argument("run_dir", metavar="DIR", help="a folder written by mmsim run")
    aud.set_defaults(func=cmd_audit)

    cal = sub.add_parser("calibrate", help="fit the synthetic market to an event store: a twin scenario of a real day",
                         description="Measure the store's stylised facts (spread, depth, rates, trade sizes, "
                         "volatility, markouts of aggressive orders, OFI predictiveness), fit the synthetic L3 "
                         "market to them (direct moments, then a small seeded search), and write the twin as a "
                         "scenario file recording the store (name, SHA-256 of events.parquet) and the facts of "
                         "both. Prints the real-vs-twin table with each fact's tolerance (docs/calibrate.md).")
    cal.add_argument("store", metavar="STORE", help="event store folder (mmsim data convert --out)")
    cal.add_argument("--out", required=True, metavar="TWIN.toml", help="scenario file to write")
    cal.add_argument("--seed", type=seed_int, default=0, metavar="N", help="the twin's market seed (the fit "
                     "simulates at N + 1000; default 0)")
    cal.add_argument("--rows", type=positive_int, metavar="N", help="fit to the store's first N rows only")
    cal.set_defaults(func=cmd_calibrate)

    ll = sub.add_parser("leadlag", help="how far one venue's price follows another's: the lag, its interval, the curve",
                        description="Cross-correlation of the two venues' price changes (mid or last trade) on a "
                        "common time grid over lags in [-max-lag, max-lag], the lag that maximises it with a "
                        "moving-block bootstrap interval, and the Hayashi-Yoshida curve on the irregular change "
                        "times. A positive lag: LAGGING follows LEAD (docs/lead-lag.md).")
    ll.add_argument("lead", metavar="LEAD", help="event store (or scenario .toml) of the venue expected to move first")
    ll.add_argument("lagging", metavar="LAGGING", help="event store (or scenario .toml) of the venue expected to follow")
    ll.add_argument("--grid", default="1ms", metavar="D", help="time grid of the cross-correlation (default 1ms)")
    ll.add_argument("--max-lag", default="1s", metavar="D", help="largest lag either way (default 1s)")
    ll.add_argument("--price", choices=("mid", "trade"), default="mid",
                    help="the price series: mid after each message (default) or the last trade's price")
    ll.add_argument("--clock", choices=("exch", "recv"), default="exch",
                    help="exchange time (default) or the recorded receive time")
    ll.add_argument("--block", metavar="D", help="bootstrap block of time (default: max(5 x max-lag, span / 40))")
    ll.add_argument("--n-boot", type=positive_int, default=1000, metavar="N", help="bootstrap replicates (default 1000)")
    ll.add_argument("--seed", type=seed_int, default=0, metavar="N", help="bootstrap seed (default 0)")
    ll.add_argument("--out", metavar="DIR", help="also write DIR/leadlag.json and DIR/leadlag_curve.csv")
    ll.set_defaults(func=cmd_leadlag)


def check_venues(scenario: Any, specs: list, model: Any, command: str = "compare") -> None:
    """Strategies and a model that need signal venues, checked against the scenario's before any path runs (a
    sweep's Dask workers would report them with their own tracebacks)."""
    from mmsim.engine.loader import load_strategy
    from mmsim.engine.sim import resolve_lead

    from mmsim.analysis.paths import check_one_quoted

    check_one_quoted(scenario, command)
    venues = list(scenario.signals)
    for spec in specs:
        if spec:
            resolve_lead(load_strategy(spec)[0], venues)
    if model:
        from mmsim.signals.models import load_model

        load_model(model).input_map(venues)


def cmd_compare(args: argparse.Namespace) -> int:
    from mmsim.analysis.compare import format_compare, run_compare
    from mmsim.data.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    kw = run_kwargs(args, scenario)
    check_venues(scenario, [args.baseline, args.treated, args.bound], args.model)
    from mmsim.analysis.paths import parse_seeds

    seeds = parse_seeds(args.seeds) if args.seeds else None
    report = run_compare(scenario, args.baseline, args.treated, args.out, sim_kwargs=kw, model=args.model,
                         rows=args.rows, horizon=args.horizon, block=args.block, n_boot=args.n_boot, seed=args.seed,
                         seeds=seeds, windows=args.windows, unmatched=args.unmatched, bound=args.bound,
                         fill_mid=args.fill_mid, progress=True)
    print(f"scenario  {scenario.name}")
    print(format_compare(report))
    print(f"wrote {Path(args.out) / 'compare.json'}")
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from mmsim.analysis.markouts import parse_horizon
    from mmsim.analysis.sweep import SweepSpec, format_sweep, run_sweep, split_specs
    from mmsim.data.scenario import load_scenario
    from mmsim.engine.loader import load_strategy

    from mmsim.analysis.compare import scenario_paths
    from mmsim.analysis.paths import check_matched, parse_seeds

    sc = load_scenario(args.scenario)  # fail early, before any worker starts
    for spec in (args.baseline, args.treated):
        load_strategy(spec)
    check_matched(args.baseline, args.treated, unmatched=args.unmatched)
    check_venues(sc, [args.baseline, args.treated, args.bound], args.model, "sweep")
    if args.bound:
        check_matched(args.baseline, args.bound, unmatched=args.unmatched)
    for flag in ("horizon", "block"):
        if getattr(args, flag) is not None:
            parse_horizon(getattr(args, flag), f"--{flag}")
    paths = scenario_paths(sc, parse_seeds(args.seeds) if args.seeds else None)
    seeds = tuple(info["seed"] for _, _, info in paths) if "seed" in paths[0][2] else None
    if args.windows is not None and seeds is not None and len(seeds) > 1:
        raise ConfigError("--windows cuts one history (real data) into paths; a synthetic scenario has a path per "
                          "market seed: give --seeds with one seed to cut it into windows")
    params = []
    for text in args.param:
        name, eq, values = text.partition("=")
        if not eq or not name or not values:
            raise ConfigError(f"--param {text}: expected NAME=V1,V2,...")
        params.append((name.strip(), tuple(v.strip() for v in values.split(","))))
    from mmsim.data.scenario import split_venue_spec

    venue, feed_text = split_venue_spec(args.feed_latency)
    if venue is not None:  # --feed-latency perp=0,1ms,...: the signal venue's latency is swept
        sc.set_signal_latency(venue, split_specs(feed_text)[0])
    feeds, computes = split_specs(feed_text), split_specs(args.compute_latency)
    for name, specs in (("--feed-latency", feeds), ("--compute-latency", computes)):
        twice = sorted({s for s in specs if specs.count(s) > 1})
        if twice:
            raise ConfigError(f"{name}: {twice[0]} given twice (a point would be counted twice)")
    from mmsim.data.latency import parse_leg

    for f in feeds:
        parse_leg("feed", f)
    for c in computes:
        parse_leg("compute", c)
    spec = SweepSpec(scenario=args.scenario, baseline=args.baseline, treated=args.treated, feed_latencies=feeds,
                     compute_latencies=computes, treated_params=tuple(params), model=args.model, seed=args.seed,
                     horizon=args.horizon, block=args.block, n_boot=args.n_boot, rows=args.rows, seeds=seeds,
                     unmatched=args.unmatched, bound=args.bound, windows=args.windows, feed_venue=venue)
    summary = run_sweep(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.no_progress)
    print(format_sweep(summary))
    print(f"wrote {Path(args.out) / 'sweep.parquet'}, sweep.json, sweep.png ({summary['n_points']} points)")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from mmsim.analysis.report import write_report

    path = write_report(args.dir, sweep=args.sweep)
    print(f"wrote {path}")
    return EXIT_OK


#: (file, label, path into its JSON, unit) of the headline figure of each benchmark


def cmd_audit(args: argparse.Namespace) -> int:
    from mmsim.analysis.audit import LABEL_CLAIRVOYANT, audit_dir

    report = audit_dir(args.run_dir)
    for k, v in report.items():
        print(f"{k:<30} {v}")
    if report["ok"]:
        if report["label"] == LABEL_CLAIRVOYANT:
            print(f"audit passed: {LABEL_CLAIRVOYANT} ({report['strategy'].partition(':')[0]}); "
                  f"{report['decisions']:,} decisions marked, their data causal, log intact")
        else:
            print(f"audit passed: {report['decisions']:,} decisions causal, log intact")
        return EXIT_OK
    print("audit FAILED", file=sys.stderr)
    return 1


def cmd_calibrate(args: argparse.Namespace) -> int:
    import time

    from mmsim.analysis.calibrate import calibrate_store, format_calibration, write_twin

    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {args.out}: is a directory")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {args.out}: folder {out.parent} does not exist")
    probe = out.with_name(out.name + ".tmp")
    try:  # fail before the fit, not after it
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"--out {args.out}: cannot write: {e.strerror or e}") from None
    t0 = time.perf_counter()
    cal = calibrate_store(args.store, seed=args.seed, rows=args.rows,
                          progress=lambda line: print(line, file=sys.stderr))
    write_twin(cal, out)
    print(format_calibration(cal))
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return EXIT_OK


def cmd_leadlag(args: argparse.Namespace) -> int:
    from mmsim.analysis.leadlag import format_lead_lag, lead_lag, write_lead_lag
    from mmsim.data.latency import parse_duration

    grid = parse_duration(args.grid, "--grid")
    max_lag = parse_duration(args.max_lag, "--max-lag")
    block = parse_duration(args.block, "--block") if args.block is not None else None
    for opt, v in (("--grid", grid), ("--max-lag", max_lag), ("--block", block)):
        if v is not None and v <= 0:
            raise ConfigError(f"{opt} {getattr(args, opt[2:].replace('-', '_'))}: must be > 0")
    if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ConfigError(f"--out {args.out}: exists and is not a directory")
    try:
        res = lead_lag(args.lead, args.lagging, grid_ns=grid, max_lag_ns=max_lag, price=args.price,
                       clock=args.clock, block_ns=block, n_boot=args.n_boot, seed=args.seed)
    except ConfigError as e:  # the estimator names its settings without the dashes
        msg = str(e)
        for name in ("grid", "max-lag", "block", "n-boot"):
            if msg.startswith(name + ":") or msg.startswith(name + " "):
                msg = "--" + msg
                break
        raise ConfigError(msg) from None
    print(format_lead_lag(res))
    if args.out is not None:
        paths = write_lead_lag(res, args.out)
        print(f"wrote {paths['json']} and {paths['curve']}")
    return EXIT_OK
