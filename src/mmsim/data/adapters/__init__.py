"""Real-data adapters: turn a vendor's files into an event store (``mmsim data convert``; docs/data.md).

Each adapter is a function ``convert_<format>(inputs, *, symbol, tick_size, lot_size, repair) -> Conversion``:
an :class:`Instrument`, a generator of EVENT_DTYPE chunks (bounded memory: it never holds the whole input)
and a report dict that the generator fills while it runs (counts per event kind, repairs with counts,
mismatch counts, input lines, clock-skew estimate...). :func:`convert` streams the chunks into
:func:`mmsim.data.store.write_store`, which records the final report in the store's ``meta.json``.

Errors name the file and the line: ``DataError(f"{file}:{line}: {what}")`` (Parquet: ``{file}: row {i}``).
With ``repair=True`` an adapter applies its documented repair policy instead and counts every repair in
``report["repairs"]``; faults without a repair policy always raise.

Converting the same input twice gives byte-identical stores: nothing time- or machine-dependent (wall
time, absolute paths, random ids) is written; inputs are recorded by file name, size and SHA-256.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import replace
from typing import Any, Callable, Optional, Sequence

from mmsim.data.adapters.common import ChunkBuilder, Conversion, DecimalGrid, check_size, input_record
from mmsim.errors import ConfigError

__all__ = ["FORMATS", "Conversion", "convert", "open_conversion", "format_report", "ChunkBuilder", "DecimalGrid",
           "input_record"]


# --------------------------------------------------------------------------------------------- driver
#: format name -> "module:function" of its adapter in this package. A new format is one module here with a
#: ``convert_<format>`` function and one line in this table (CONTRIBUTING.md).
ADAPTERS = {
    "lobster": "lobster:convert_lobster",
    "binance": "binance:convert_binance",
    "tardis": "tardis:convert_tardis",
    "parquet": "parquet:convert_parquet",
}
FORMATS = tuple(ADAPTERS)


def _adapter(fmt: str) -> Callable[..., Conversion]:
    module, _, func = ADAPTERS[fmt].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), func)


def open_conversion(fmt: str, inputs: Sequence[str | os.PathLike], *, symbol: Optional[str] = None,
                    tick_size: Optional[float] = None, lot_size: Optional[float] = None,
                    repair: bool = False, contract_size: Optional[float] = None) -> Conversion:
    """The adapter of ``fmt`` opened on ``inputs`` (nothing converted yet: iterate ``.chunks``).

    ``contract_size`` overrides the contract size the adapter sets for an inverse instrument (Binance COIN-M);
    a linear instrument has none to override."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown data format '{fmt}' (known: {', '.join(FORMATS)})")
    if not inputs:
        raise ConfigError(f"--format {fmt}: no input files")
    if tick_size is not None:
        tick_size = check_size("tick_size", tick_size)
    if lot_size is not None:
        lot_size = check_size("lot_size", lot_size)
    if contract_size is not None:
        contract_size = check_size("contract_size", contract_size)
    conv = _adapter(fmt)(list(inputs), symbol=symbol, tick_size=tick_size, lot_size=lot_size,
                         repair=bool(repair))
    if contract_size is not None:
        if not conv.instrument.inverse:
            raise ConfigError(f"--contract-size {contract_size:g}: the {fmt} input is a linear instrument (a contract "
                              "size applies to inverse contracts such as Binance COIN-M; a linear multiplier is the "
                              "lot size)")
        conv.instrument = replace(conv.instrument, contract_size=contract_size)
        conv.source.setdefault("options", {})["contract_size"] = contract_size
    return conv


def convert(fmt: str, inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *,
            symbol: Optional[str] = None, tick_size: Optional[float] = None, lot_size: Optional[float] = None,
            repair: bool = False, contract_size: Optional[float] = None) -> dict:
    """Convert ``inputs`` of format ``fmt`` into the event store ``out``; return the store's metadata.

    The report (``meta["report"]``) is the adapter's conversion report; docs/data.md lists its keys.
    """
    from mmsim.data.store import write_store

    conv = open_conversion(fmt, inputs, symbol=symbol, tick_size=tick_size, lot_size=lot_size, repair=repair,
                           contract_size=contract_size)
    report = conv.report
    report.setdefault("format", fmt)
    return write_store(out, conv.chunks, conv.instrument, source=conv.source, report=report,
                       time_zone=conv.time_zone)


def format_report(meta: dict) -> str:
    """The conversion report as indented text lines (for the CLI)."""
    lines = []
    inst = meta.get("instrument", {})
    lines.append(f"store      {meta.get('n_rows', 0):,} rows  mode {meta.get('mode')}  symbol {inst.get('symbol')}  "
                 f"tick {inst.get('tick_size')}  lot {inst.get('lot_size')}"
                 + (f"  inverse, contract size {inst.get('contract_size')}" if inst.get("inverse") else ""))

    def walk(prefix: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for k in obj:
                walk(f"{prefix}.{k}" if prefix else str(k), obj[k])
        else:
            if isinstance(obj, int) and not isinstance(obj, bool):
                text = f"{obj:,}" if abs(obj) < 10 ** 15 else str(obj)
            else:
                text = str(obj)
            lines.append(f"  {prefix}: {text}")

    walk("", meta.get("report", {}))
    return "\n".join(lines)
