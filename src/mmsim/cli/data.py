"""``mmsim data convert``: real market data into an event store."""
from __future__ import annotations

import argparse
from pathlib import Path

from mmsim.cli.args import EXIT_OK, Parser, positive_float
from mmsim.data.adapters import FORMATS
from mmsim.errors import ConfigError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register data."""
    data = sub.add_parser("data", help="convert real market data into an event store")
    data_sub = data.add_subparsers(dest="data_command", metavar="{convert}", parser_class=Parser)
    conv = data_sub.add_parser(
        "convert", help="convert LOBSTER, Binance, Tardis or Parquet files into an event store",
        description="Convert vendor files into an event store (docs/data.md) and print the conversion report.")
    conv.add_argument("--format", required=True, choices=FORMATS,
                      help="input format")
    conv.add_argument("inputs", nargs="+", metavar="INPUT", help="input file(s): LOBSTER .zip or message + "
                      "orderbook csv; Binance capture (.gz); Tardis csv(.gz); Parquet")
    conv.add_argument("--out", required=True, metavar="STORE", help="event store folder to write (replaced if it "
                      "is an event store already)")
    conv.add_argument("--symbol", metavar="S", help="instrument symbol (and the one to keep if the input has several)")
    conv.add_argument("--tick-size", type=positive_float, metavar="X", help="price tick (LOBSTER default 0.01)")
    conv.add_argument("--lot-size", type=positive_float, metavar="Y", help="quantity lot (LOBSTER default 1)")
    conv.add_argument("--repair", action="store_true", help="apply the documented repair policy instead of "
                      "stopping at the first fault; every repair is counted in the report")
    conv.add_argument("--contract-size", type=positive_float, metavar="C", help="quote currency per contract of an "
                      "inverse contract (Binance COIN-M: 100 for BTCUSD_*, 10 for the others by default)")
    conv.set_defaults(func=cmd_data_convert)


def cmd_data_convert(args: argparse.Namespace) -> int:
    import time

    from mmsim.data.adapters import convert, format_report

    out = Path(args.out)
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"--out {args.out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / "meta.json").is_file():
            raise ConfigError(f"--out {args.out}: exists and is not an event store (refusing to replace it)")
    t0 = time.perf_counter()
    meta = convert(args.format, args.inputs, out, symbol=args.symbol, tick_size=args.tick_size,
                   lot_size=args.lot_size, repair=args.repair, contract_size=args.contract_size)
    wall = time.perf_counter() - t0
    print(format_report(meta))
    n_in = meta["report"].get("n_input_lines", meta["report"].get("n_input_rows", 0))
    print(f"wrote {out} in {wall:.2f} s ({meta['n_rows'] / wall if wall > 0 else 0:,.0f} rows/s, "
          f"{n_in / wall if wall > 0 else 0:,.0f} input lines/s)")
    return EXIT_OK
