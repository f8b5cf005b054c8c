"""``mmsim features``, ``train`` and ``model compile``: what the strategy knows."""
from __future__ import annotations

import argparse
from pathlib import Path

from mmsim.cli.args import EXIT_OK, Parser, add_window_options, apply_window, positive_float, positive_int, seed_int
from mmsim.errors import ConfigError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register features, train and model."""
    feat = sub.add_parser("features", help="compute a feature bank over a whole scenario (batch mode)",
                          description="The features a strategy would see (its delayed view, the scenario's feed "
                          "latency), one row per event, written as Parquet: row, exch_ts, arrival_ts, one "
                          "column per feature.")
    feat.add_argument("scenario", metavar="SCENARIO", help="bundled scenario name or path to a .toml file")
    feat.add_argument("--spec", default="small", metavar="SPEC",
                      help="small (default), full, a comma-separated spec list, or a file with one spec per line")
    feat.add_argument("--feed-latency", metavar="L", help="feed latency (default: the scenario's)")
    feat.add_argument("--seed", type=seed_int, default=0, metavar="N", help="seed of the latency draws (default 0)")
    feat.add_argument("--rows", type=positive_int, metavar="N", help="use only the first N data rows")
    add_window_options(feat)
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
    tr.add_argument("--folds", type=positive_int, default=5, metavar="K", help="walk-forward folds (default 5)")
    tr.add_argument("--scheme", choices=("expanding", "purged"), default="expanding",
                    help="expanding: train on the past only (default); purged: on all other folds, with an embargo")
    tr.add_argument("--embargo", metavar="D", help="purged scheme: gap after each test fold (default: the horizon)")
    tr.add_argument("--feed-latency", metavar="L", help="feed latency (default: the scenario's)")
    tr.add_argument("--seed", type=seed_int, default=0, metavar="N",
                    help="seed of the latency draws and of the model's initialisation (default 0)")
    tr.add_argument("--rows", type=positive_int, metavar="N", help="use only the first N data rows")
    add_window_options(tr)
    tr.add_argument("--start-ts", metavar="T", help="first sample arrival time (exchange clock): int ns, an ISO "
                    "time or a session clock time (12:00)")
    tr.add_argument("--end-ts", metavar="T",
                    help="end of the training window: no label window ends after it (default: the data's end)")
    tr.add_argument("--alpha", type=positive_float, metavar="X",
                    help="L2 penalty (mean loss + alpha/2 |w|^2 on standardised features; default 0.001)")
    tr.add_argument("--hidden", metavar="N[,N...]", help="mlp hidden layer widths (default 64,32)")
    tr.add_argument("--steps", type=positive_int, metavar="N", help="mlp Adam steps (default 300)")
    tr.add_argument("--rounds", type=positive_int, metavar="N", help="gbdt boosting rounds (default 200)")
    tr.set_defaults(func=cmd_train)

    mdl = sub.add_parser("model", help="prediction model tools (compile a model for this CPU)")
    mdl_sub = mdl.add_subparsers(dest="model_command", metavar="{compile}", parser_class=Parser)
    mcomp = mdl_sub.add_parser(
        "compile", help="compile a model file into a native library for this CPU (cached)",
        description="Generate C++ for the model (trees unrolled into if/else, fixed-shape loops with literal "
        "weights), build it with the system compiler ($CXX, c++, g++) for this CPU, check it predicts exactly as "
        "the interpreted model, and cache it by model hash and CPU ($MMSIM_CACHE_DIR, default "
        "~/.cache/mmsim/models). Runs given the model then use it (docs/models.md).")
    mcomp.add_argument("model", metavar="MODEL.json", help="model file")
    mcomp.add_argument("--force", action="store_true", help="compile again even if the cache has the library")
    mcomp.set_defaults(func=cmd_model_compile)


def cmd_features(args: argparse.Namespace) -> int:
    import time

    from mmsim.data.scenario import load_scenario
    from mmsim.data.store import EventStore
    from mmsim.signals.batch import features_frame
    from mmsim.signals.features import parse_specs

    scenario = load_scenario(args.scenario)
    apply_window(args, scenario)
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
    from mmsim.data.latency import parse_latency
    from mmsim.data.scenario import load_scenario
    from mmsim.data.store import EventStore
    from mmsim.signals import train as T
    from mmsim.signals.features import parse_specs

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
    apply_window(args, scenario)
    from mmsim.data.times import check_time_syntax, parse_time

    for opt, v in (("--start-ts", args.start_ts), ("--end-ts", args.end_ts)):
        if v is not None:
            check_time_syntax(v, opt)
    from mmsim.signals.features import venue_columns

    cols = venue_columns(args.spec)  # "perp/ofi:l=1:h=1s": signal venue perp's bank (docs/venues.md)
    specs = parse_specs(args.spec) if all(v is None for v, _ in cols) else args.spec
    for venue in dict.fromkeys(v for v, _ in cols if v is not None):
        if venue not in scenario.signals:
            known = ", ".join(scenario.signals) or "none: add a [signals.NAME] table"
            raise ConfigError(f"--spec {venue}/...: no signal venue {venue!r} in scenario {scenario.name} "
                              f"(signal venues: {known})")
    feed = args.feed_latency if args.feed_latency is not None else scenario.sim_kwargs()["feed_latency"]
    try:
        parse_latency(feed)
    except ConfigError as e:
        raise ConfigError(f"--feed-latency: {e}") from None
    events, _ = scenario.load_events(limit=args.rows)
    signals = {name: {"events": ev, "feed_latency": scenario.signals[name].feed_latency, "instrument": inst}
               for name, (ev, inst) in scenario.signal_events.items()}
    if isinstance(events, EventStore):
        events = events.read()
    start_ts = None if args.start_ts is None else parse_time(args.start_ts, "--start-ts", scenario.session)
    end_ts = None if args.end_ts is None else parse_time(args.end_ts, "--end-ts", scenario.session)
    results = T.train(events, specs, args.model, horizons, target=target, every_ns=every, folds=args.folds,
                      scheme=args.scheme, embargo_ns=embargo, feed_latency=feed, seed=args.seed,
                      crossed_policy=scenario.sim_kwargs()["crossed_policy"], start_ts=start_ts,
                      end_ts=end_ts, scenario=scenario.name, source_name=scenario.source_name, options=options,
                      signals=signals, tick_size=scenario.instrument.tick_size)
    paths = T.model_paths(out, horizons)
    print(T.format_header(results[0], scenario.name, args.model))
    for r in results:
        print(T.format_report(r, scenario.session.zone))
    if len(results) > 1:
        print("out of sample (pooled) by horizon:")
        print(T.format_horizon_table(results, paths))
    for r, p in zip(results, paths):
        T.write_model(r.model, p)
        print(f"wrote {p}")
    return EXIT_OK


def cmd_model_compile(args: argparse.Namespace) -> int:
    from mmsim.signals.compile import compile_loaded
    from mmsim.signals.models import load_model

    model = load_model(args.model)
    res = compile_loaded(model, force=args.force)
    if res.cached:
        print(f"{args.model}: {model.type} model {model.hash[:12]} already compiled for this CPU")
    else:
        print(f"{args.model}: {model.type} model {model.hash[:12]} compiled in {res.seconds:.2f} s ({res.compiler})")
    print(f"wrote {res.path}")
    return EXIT_OK
