"""``mmsim`` command line (docs/cli.md). Every user mistake: one line ``mmsim: error: ...`` and exit code 2.

One module per command group, each with ``add_commands(sub)``: ``run`` (run, scenarios, bench), ``analysis``
(compare, sweep, report, audit), ``signals`` (features, train, model), ``data`` (data convert); shared argument
types in ``args``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from mmsim.cli import analysis, data, run, signals
from mmsim.cli.args import EXIT_OK, EXIT_USAGE, Fail, Parser, fail
from mmsim.errors import MmsimError


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="mmsim", description="Market-making adverse-selection backtests with injectable "
               "feed, order and compute latency.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in (run, analysis, signals, data):
        group.add_commands(sub)
    return p


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
            fail(f"missing command (see mmsim {which}--help)")
        return func(args)
    except Fail as e:
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
