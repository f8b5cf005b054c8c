"""Generic Parquet events -> event store (docs/data.md, "Generic Parquet").

Schema (one row per event, sorted by ``exch_ts``; files given in order are concatenated):

| column | type | meaning |
|---|---|---|
| ``exch_ts`` | int64 ns since epoch, or a timestamp type | exchange time (required) |
| ``recv_ts`` | same; null = none | recorded receive time (optional) |
| ``kind`` | string (``depth``, ``trade``, ``clear``, ``add``, ``cancel``, ``delete``, ``execute``) or its int code | required |
| ``side`` | int +1/-1/0 or ``bid``/``ask``/``buy``/``sell``/``both`` | required |
| ``price``, ``qty`` | float: currency / base units (converted with the tick and lot size, grid-checked); integer: ticks / lots as stored | required |
| ``order_id`` | int64 (L3; 0 for L2) | optional |
| ``flags`` | int 0..255 | optional |

The type of ``price`` decides for both ``price`` and ``qty`` (the same rule as scenario files' ``events_parquet``).
Rows are read in batches (bounded memory); each batch goes through :func:`mmsim.data.validate.events_from_frame`
(float) or the integer column checks, then :func:`mmsim.data.validate.validate_events`.
"""
from __future__ import annotations

import re
from typing import Iterator, Optional

import numpy as np

from mmsim import records as R
from mmsim.errors import ConfigError, DataError
from mmsim.records import Instrument
from mmsim.data.adapters.common import Conversion, input_record, need_file

__all__ = ["convert_parquet", "REQUIRED", "OPTIONAL", "BATCH_ROWS"]

REQUIRED = ("exch_ts", "kind", "side", "price", "qty")
OPTIONAL = ("recv_ts", "order_id", "flags")
BATCH_ROWS = 1 << 16
_ROW_RE = re.compile(r"^(?P<src>.*?): row (?P<row>\d+): ")


def _shift_rows(e: DataError, offset: int) -> DataError:
    """Rewrite 'src: row i: …' of a per-batch message into the file's row numbering."""
    msg = str(e)
    m = _ROW_RE.match(msg)
    if not m or not offset:
        return DataError(msg)
    return DataError(f"{m.group('src')}: row {int(m.group('row')) + offset}: {msg[m.end():]}")


def convert_parquet(inputs: list, *, symbol: Optional[str] = None, tick_size: Optional[float] = None,
                    lot_size: Optional[float] = None, repair: bool = False) -> Conversion:
    """Open event Parquet files (the schema above) for conversion."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = [need_file(p) for p in inputs]
    if tick_size is None or lot_size is None:
        raise ConfigError("--format parquet needs --tick-size and --lot-size (the instrument of the events)")
    files = []
    repairs = dict(unknown_columns_ignored=0, zero_qty_dropped=0)
    for p in paths:
        try:
            pf = pq.ParquetFile(p)
        except (OSError, pa.ArrowException) as e:
            raise DataError(f"{p.name}: cannot read Parquet: {e}") from None
        names = list(pf.schema_arrow.names)
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise DataError(f"{p.name}: missing column(s) {', '.join(missing)} (have: {', '.join(names)})")
        extra = [c for c in names if c not in REQUIRED + OPTIONAL]
        if extra:
            if not repair:
                raise DataError(f"{p.name}: unknown column(s) {', '.join(map(repr, extra))} (known: "
                                f"{', '.join(REQUIRED + OPTIONAL)}; --repair ignores them and counts them)")
            repairs["unknown_columns_ignored"] += len(extra)
        ptype = pf.schema_arrow.field("price").type
        floats = pa.types.is_floating(ptype) or pa.types.is_decimal(ptype)
        files.append((p, pf, [c for c in names if c in REQUIRED + OPTIONAL], floats))
    report: dict = {"format": "parquet", "repairs": repairs,
                    "units": {p.name: ("currency/base units (converted)" if fl else "ticks/lots")
                              for p, _, _, fl in files}}
    source = {"format": "parquet", "inputs": [input_record(p) for p in paths], "options": {"repair": bool(repair)}}
    inst = Instrument(tick_size=float(tick_size), lot_size=float(lot_size), symbol=symbol or paths[0].stem)
    return Conversion(inst, _run(files, inst, repair, report, repairs), report, source)


def _run(files, inst: Instrument, repair: bool, report: dict, repairs: dict) -> Iterator[np.ndarray]:
    from mmsim.data.validate import events_from_frame, events_from_int_frame, validate_events

    counts: dict[str, int] = {}
    n_in = recv_missing = recv_before = 0
    last_ts = None
    for path, pf, cols, floats in files:
        src = path.name
        offset = 0
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
            df = batch.to_pandas()
            n = len(df)
            if n == 0:
                continue
            try:
                ev = events_from_frame(df, src, inst.tick_size, inst.lot_size) if floats else events_from_int_frame(df, src)
                ev, rep = validate_events(ev, src, repair=repair)
            except DataError as e:
                raise _shift_rows(e, offset) from None
            if last_ts is not None and int(ev["exch_ts"][0]) < last_ts:
                raise DataError(f"{src}: row {offset}: exch_ts {int(ev['exch_ts'][0])} is before the previous "
                                f"row's {last_ts} (events must be sorted by exchange time)")
            last_ts = int(ev["exch_ts"][-1])
            repairs["zero_qty_dropped"] += rep["dropped"].get("zero_qty", 0)
            for k, v in rep["counts"].items():
                counts[k] = counts.get(k, 0) + v
            recv_missing += rep["recv_ts_missing"]
            recv_before += rep["recv_before_exch"]
            n_in += n
            offset += n
            yield ev
    if n_in == 0:
        raise DataError(f"{files[0][0].name}: no rows")
    report["counts"] = {k: counts[k] for k in sorted(counts, key=lambda k: R.EVENT_KINDS.get(k, 99))}
    report["n_input_rows"] = n_in
    report["recv_ts_missing"] = recv_missing
    report["recv_before_exch"] = recv_before
