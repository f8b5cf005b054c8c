"""What every adapter shares: the conversion record, chunk building, decimal price grids, input
records (name, size, SHA-256) and text opening (plain, gzip, zip members). See the package docstring."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from mmsim import records as R
from mmsim.errors import ConfigError, DataError
from mmsim.records import Instrument

#: Rows per chunk handed to the store writer.
CHUNK_ROWS = 1 << 16


@dataclass
class Conversion:
    """What an adapter returns: the instrument, the event chunks (a generator) and the live report."""

    instrument: Instrument
    chunks: Iterator[np.ndarray]
    report: dict
    source: dict = field(default_factory=dict)
    #: the venue's time zone (IANA name): what clock times typed for this data mean (mmsim.data.times)
    time_zone: str = "UTC"


#: Field order of the row tuples a ChunkBuilder collects.
ROW_FIELDS = ("exch_ts", "recv_ts", "price", "qty", "order_id", "kind", "side", "flags")
_ROW_DTYPE = np.dtype([(f, R.EVENT_DTYPE[f]) for f in ROW_FIELDS])


class ChunkBuilder:
    """Collect events as tuples ``(exch_ts, recv_ts, price, qty, order_id, kind, side, flags)`` and cut
    EVENT_DTYPE chunks. Hot loops append to ``rows`` directly; ``counts()`` gives the rows per kind name.
    """

    __slots__ = ("rows", "chunk_rows", "counts_arr")

    def __init__(self, chunk_rows: int = CHUNK_ROWS):
        self.chunk_rows = int(chunk_rows)
        self.counts_arr = np.zeros(256, dtype=np.int64)
        self.rows: list = []

    def add(self, ts: int, recv: int, kind: int, side: int, price: int, qty: int, oid: int = 0,
            flags: int = 0) -> None:
        self.rows.append((ts, recv, price, qty, oid, kind, side, flags))

    def __len__(self) -> int:
        return len(self.rows)

    def full(self) -> bool:
        return len(self.rows) >= self.chunk_rows

    def take(self) -> np.ndarray:
        """The rows collected so far as one EVENT_DTYPE array (and start a new chunk)."""
        tmp = np.array(self.rows, dtype=_ROW_DTYPE)
        self.rows.clear()  # in place: hot loops hold a bound rows.append
        out = np.zeros(len(tmp), dtype=R.EVENT_DTYPE)
        for f in ROW_FIELDS:
            out[f] = tmp[f]
        if len(tmp):
            self.counts_arr += np.bincount(tmp["kind"], minlength=256)
        return out

    def counts(self) -> dict[str, int]:
        from mmsim.data.validate import KIND_NAMES

        return {KIND_NAMES.get(k, str(k)): int(c) for k, c in enumerate(self.counts_arr) if c}


class DecimalGrid:
    """Exact decimal text -> integer multiple of a step (tick or lot), with a cache for repeated values.

    ``"61800.20"`` with step ``0.1`` -> ``618002``. Off-grid or malformed text raises ``ValueError`` with a
    message; callers add the file and line. No float rounding: the text is read as an exact decimal.
    """

    def __init__(self, step: float | str, what: str):
        self.what = what
        self.step_text = _num_text(step)
        frac = Fraction(self.step_text)
        if frac <= 0:
            raise ConfigError(f"{what}_size must be > 0, got {step!r}")
        # Work in units of 10^-scale, scale = enough decimals for the step.
        scale = 0
        while (frac * 10 ** scale).denominator != 1:
            scale += 1
            if scale > 18:
                raise ConfigError(f"{what}_size {step!r} is not a decimal number with at most 18 decimals")
        self.scale = scale
        self.step_units = int(frac * 10 ** scale)
        self.cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        v = self.cache.get(text)
        if v is not None:
            return v
        v = self._parse(text)
        if len(self.cache) < 1 << 20:
            self.cache[text] = v
        return v

    def _parse(self, text: str) -> int:
        t = text.strip()
        neg = t.startswith("-")
        body = t[1:] if neg or t.startswith("+") else t
        whole, dot, dec = body.partition(".")
        if "e" in body.lower():  # exponent notation: exact via Fraction
            try:
                fr = Fraction(t)
            except (ValueError, ZeroDivisionError):
                raise ValueError(f"{self.what} {text!r} is not a number") from None
            units = fr * 10 ** self.scale
            if units.denominator != 1 or units.numerator % self.step_units:
                raise ValueError(f"{self.what} {text!r} is not on the {self.what} grid "
                                 f"({self.what}_size {self.step_text})")
            return units.numerator // self.step_units
        if not (whole or dec) or (whole and not whole.isdigit()) or (dec and not dec.isdigit()):
            raise ValueError(f"{self.what} {text!r} is not a number")
        extra = dec[self.scale:]
        if extra.strip("0"):
            raise ValueError(f"{self.what} {text!r} is not on the {self.what} grid ({self.what}_size {self.step_text})")
        units = int((whole or "0") + dec[:self.scale].ljust(self.scale, "0"))
        q, r = divmod(units, self.step_units)
        if r:
            raise ValueError(f"{self.what} {text!r} is not on the {self.what} grid ({self.what}_size {self.step_text})")
        return -q if neg else q


def _num_text(v: Any) -> str:
    """A tick/lot size as decimal text: '0.1' stays '0.1' (not 0.1000000000000000055...)."""
    if isinstance(v, str):
        t = v.strip()
    elif isinstance(v, (int, np.integer)):
        t = str(int(v))
    elif isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            raise ConfigError(f"size {v!r} must be a positive finite number")
        t = repr(float(v))
    else:
        raise ConfigError(f"size {v!r} must be a number")
    try:
        Fraction(t)
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"size {v!r} is not a number") from None
    return t


def check_size(name: str, v: Any) -> float:
    """A --tick-size / --lot-size value: positive and finite, as a float."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"--{name.replace('_', '-')} {v!r}: not a number") from None
    if not (f > 0 and np.isfinite(f)):
        raise ConfigError(f"--{name.replace('_', '-')} {v!r}: must be a positive number")
    return f


# --------------------------------------------------------------------------------------------- inputs
def input_record(path: Path, member: Optional[str] = None) -> dict:
    """Provenance of one input file: name (no directory), bytes, sha256 (of the file as given)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    rec = {"name": path.name, "bytes": path.stat().st_size, "sha256": h.hexdigest()}
    if member:
        rec["member"] = member
    return rec


def open_text(path: Path, member: Optional[str] = None) -> io.TextIOBase:
    """A text stream over a plain, .gz or zip-member file (utf-8, universal newlines)."""
    if member is not None:
        zf = zipfile.ZipFile(path)
        raw = zf.open(member)
        return io.TextIOWrapper(raw, encoding="utf-8", newline=None)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline=None)
    return open(path, "r", encoding="utf-8", newline=None)


def need_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if not p.is_file():
        raise DataError(f"{p}: not a file")
    return p


def quantiles_from_counts(values: np.ndarray, counts: np.ndarray, qs: Sequence[float]) -> list[int]:
    """Quantiles (lower: the smallest value with at least q of the mass at or below it) of a histogram."""
    order = np.argsort(values, kind="stable")
    v, c = values[order], np.cumsum(counts[order])
    total = int(c[-1])
    out = []
    for q in qs:
        k = min(max(int(np.ceil(q * total)), 1), total)
        out.append(int(v[int(np.searchsorted(c, k))]))
    return out
