"""Argument types and helpers shared by every command group: integer bounds, positive numbers, the
queue-model flag and the latency/engine keyword arguments built from a scenario plus the command line."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn, Optional

from mmsim.errors import ConfigError
from mmsim.records import QUEUE_MODELS

EXIT_OK = 0
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as one line (no usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        fail(message)


class Fail(Exception):
    pass


def fail(message: str) -> NoReturn:
    raise Fail(message)


def int_at_least(lo: int, what: str):
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


positive_int = int_at_least(1, "> 0")
seed_int = int_at_least(0, ">= 0")


def positive_float(text: str) -> str:
    """A positive finite number, kept as its text (tick and lot sizes are read as exact decimals)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not (v > 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return text


def queue_model(text: str) -> tuple[str, Optional[float]]:
    name, _, power = text.partition(":")
    name = name.strip()
    if name not in QUEUE_MODELS:
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


def add_window_options(parser: argparse.ArgumentParser) -> None:
    """``--from T`` / ``--until T``: the data window (overrides the scenario's ``[source] from_ts/until_ts``)."""
    parser.add_argument("--from", dest="from_time", metavar="T",
                        help="start of the data window, with the exact book at T: an ISO time "
                        "(2024-08-08T23:57:30Z), a session clock time (12:00, venue's zone) or int ns")
    parser.add_argument("--until", dest="until_time", metavar="T", help="end of the data window (exclusive)")


def apply_window(args: argparse.Namespace, scenario: Any) -> None:
    """Put ``--from``/``--until`` into the scenario (checked now, resolved when the data loads)."""
    scenario.set_window(getattr(args, "from_time", None), getattr(args, "until_time", None))


def run_kwargs(args: argparse.Namespace, scenario: Any) -> dict[str, Any]:
    """simulate() keyword arguments: the scenario's settings overridden by the command line.

    Latency precedence: --entry/--cancel/--response-latency > --order-latency > the scenario.
    """
    from mmsim.data.latency import parse_leg

    kw = scenario.sim_kwargs()
    feed = getattr(args, "feed_latency", None)
    if isinstance(feed, str):  # --feed-latency NAME=SPEC sets signal venue NAME's (docs/venues.md)
        from mmsim.data.scenario import split_venue_spec

        venue, spec = split_venue_spec(feed)
        if venue is not None:
            scenario.set_signal_latency(venue, spec)
            args.feed_latency = None
    if args.order_latency is not None:
        for leg in ("entry", "cancel", "response"):
            kw[f"{leg}_latency"] = args.order_latency
    for leg in ("feed", "entry", "cancel", "response", "compute"):
        v = getattr(args, f"{leg}_latency")
        if v is not None:
            kw[f"{leg}_latency"] = v
    # Check every spec now so that a typo fails before the data is loaded, naming the option.
    for leg in ("feed", "entry", "cancel", "response", "compute"):
        try:
            parse_leg(leg, kw[f"{leg}_latency"])
        except ConfigError as e:  # "--entry-latency 'data': …" (the spec quoted first) or "--x-latency: latency …"
            sep = " " if str(e).startswith("'") else ": "
            raise ConfigError(f"--{leg}-latency{sep}{e}") from None
    if args.queue_model is not None:
        kw["queue_model"], power = queue_model(args.queue_model)
        if power is not None:
            kw["queue_power"] = power
    kw["seed"] = args.seed
    kw["engine"] = args.engine
    kw["progress"] = not args.no_progress
    kw["source_name"] = scenario.source_name
    if getattr(args, "features", None):
        from mmsim.signals.features import parse_specs

        kw["features"] = parse_specs(args.features)
    if getattr(args, "model", None):
        if not Path(args.model).is_file():
            raise ConfigError(f"--model {args.model}: file not found")
        kw["model"] = args.model
    return kw
