"""Times people type and read: ISO timestamps and session clock times <-> int ns since the Unix epoch (UTC).

Everything inside mmsim is int64 nanoseconds since 1970-01-01T00:00:00Z (``exch_ts``, ``recv_ts``). This module
is the edge where people meet them (docs/data.md, "Windows and start times"):

- **typed** (:func:`parse_time`): an int (ns, as before); digits (``"34200000000000"``, ``_`` allowed); an ISO
  timestamp ``2024-08-08T23:57:30Z``, ``2012-06-21T12:00:00-04:00``, ``2012-06-21 12:00:00.123456789`` (fractional
  seconds up to ns; no offset = the venue's time zone); a date ``2012-06-21`` (its midnight in the venue's zone);
  or a clock time of the session ``12:00``, ``12:00:30.5`` (the session date in the venue's zone). A TOML
  date-time or time (unquoted ``from_ts = 2024-08-08T23:57:30Z`` / ``12:00:00``) is read the same way.
- **read** (:func:`format_clock`, :func:`format_span`, :func:`iso`): clock times in the venue's zone beside ns.

A :class:`Session` carries what a clock time needs: the venue's time zone and the session date. A store records
``time_zone`` in its meta.json (LOBSTER: ``America/New_York``; Binance, Tardis, Parquet: ``UTC``); a store
without one (written before the field existed) and a synthetic source are ``UTC``, which is stated where it
matters. The session date is the venue's date of the first row. US Eastern time uses the DST rules built into
the LOBSTER adapter (:func:`mmsim.data.adapters.lobster.eastern_utc_offset_s`: the offset at noon of the local
day, so a DST switch at 02:00 local is not modelled inside that night); other IANA names use the machine's tz
database (``zoneinfo``) when it has them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta
from typing import Any, Optional

from mmsim.errors import ConfigError

__all__ = ["Session", "parse_time", "check_time_syntax", "utc_offset_s", "format_clock", "format_span", "iso",
           "zone_label", "local_time", "session_of_meta", "session_of_span", "time_fields", "DEFAULT_ZONE", "NS_PER_S"]

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
DEFAULT_ZONE = "UTC"
_EPOCH_ORD = date(1970, 1, 1).toordinal()

_FRAC = r"(?:[.,](?P<frac>\d{1,9}))?"
_CLOCK_RE = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})" + _FRAC + r")?$")
_ISO_RE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})(?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})" + _FRAC
                     + r")?)?\s*(?P<tz>Z|z|UTC|[+-]\d{2}:?\d{2})?$")
_INT_RE = re.compile(r"^[+-]?\d[\d_]*$")


# --------------------------------------------------------------------------------------------- zones
def utc_offset_s(zone: str, day: date) -> int:
    """UTC offset (seconds, local = UTC + offset) of ``zone`` on the local date ``day``."""
    if zone in ("UTC", "Etc/UTC", "Z"):
        return 0
    if zone in ("America/New_York", "US/Eastern"):
        from mmsim.data.adapters.lobster import eastern_utc_offset_s

        try:
            return eastern_utc_offset_s(day)
        except ConfigError:  # before 1987: the machine's tz database if it has one, else standard time
            if day.year >= 1987:
                raise
            zone = "America/New_York"
            try:
                from zoneinfo import ZoneInfo

                off = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(zone)).utcoffset()
                return int(off.total_seconds()) if off is not None else -18_000
            except Exception:
                return -18_000
    try:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(zone)
    except Exception:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise ConfigError(f"time zone {zone!r}: unknown (built in: UTC, America/New_York; others need the "
                          "machine's tz database)") from None
    off = datetime(day.year, day.month, day.day, 12, tzinfo=tz).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def zone_label(zone: str) -> str:
    """``America/New_York`` -> ``New York``; ``UTC`` -> ``UTC``."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def _days(d: date) -> int:
    return d.toordinal() - _EPOCH_ORD


def _local(ns: int, zone: str) -> tuple[date, int]:
    """(local date, ns since local midnight) of the instant ``ns`` in ``zone``."""
    day = date.fromordinal(_EPOCH_ORD + ns // NS_PER_DAY)
    for _ in range(2):  # the offset depends on the local date: settle it
        off = utc_offset_s(zone, day)
        local = ns + off * NS_PER_S
        new_day = date.fromordinal(_EPOCH_ORD + local // NS_PER_DAY)
        if new_day == day:
            break
        day = new_day
    return day, local - _days(day) * NS_PER_DAY


def local_time(ns: int, zone: str = DEFAULT_ZONE) -> tuple[date, int]:
    """(the venue's date, ns since its local midnight) of the instant ``ns``."""
    return _local(int(ns), zone)


def _instant(day: date, tod_ns: int, zone: str) -> int:
    """ns since the epoch of local date ``day`` at ``tod_ns`` after local midnight in ``zone``."""
    return (_days(day) * 86_400 - utc_offset_s(zone, day)) * NS_PER_S + tod_ns


# --------------------------------------------------------------------------------------------- sessions
@dataclass(frozen=True)
class Session:
    """What a typed clock time is resolved against: the venue's zone, the session date and the data's span."""

    zone: str = DEFAULT_ZONE
    day: Optional[date] = None        #: the session date (the venue's date of the first row)
    first_ts: Optional[int] = None    #: the data's first / last exch_ts, when known
    last_ts: Optional[int] = None
    zone_recorded: bool = True        #: False: the store predates the time_zone field (UTC assumed)


def session_of_span(first_ts: Optional[int], last_ts: Optional[int], zone: str = DEFAULT_ZONE, *,
                    day: Optional[date] = None, zone_recorded: bool = True) -> Session:
    """The session of data spanning [first_ts, last_ts] in ``zone`` (session date: the first row's local date)."""
    if day is None and first_ts is not None:
        day = _local(int(first_ts), zone)[0]
    return Session(zone, day, first_ts, last_ts, zone_recorded)


def session_of_meta(meta: dict) -> Session:
    """The session of a store from its meta.json (``time_zone`` absent: UTC, ``zone_recorded`` False)."""
    zone = meta.get("time_zone")
    day = meta.get("session_date")
    try:
        d = date.fromisoformat(day) if isinstance(day, str) else None
    except ValueError:
        d = None
    return session_of_span(meta.get("first_ts"), meta.get("last_ts"), zone or DEFAULT_ZONE, day=d,
                           zone_recorded=zone is not None)


# --------------------------------------------------------------------------------------------- typed
def _frac_ns(frac: Optional[str]) -> int:
    return int(frac.ljust(9, "0")) if frac else 0


def _hms(h: str, m: str, s: Optional[str], frac: Optional[str], text: str) -> int:
    hh, mm, ss = int(h), int(m), int(s or 0)
    if hh > 24 or mm > 59 or ss > 60 or (hh == 24 and (mm or ss or frac and int(frac))):
        raise ValueError("not a time of day")
    return ((hh * 60 + mm) * 60 + ss) * NS_PER_S + _frac_ns(frac)


def _offset_s(tz: str) -> int:
    if tz in ("Z", "z", "UTC"):
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    h, m = int(digits[:2]), int(digits[2:])
    if h > 23 or m > 59:
        raise ValueError(f"UTC offset {tz!r} is out of range")
    return sign * (h * 3600 + m * 60)


def _kind(text: str) -> str:
    """'int' | 'clock' | 'iso' for a syntactically valid time string; ValueError otherwise."""
    if _INT_RE.match(text):
        return "int"
    if _CLOCK_RE.match(text):
        return "clock"
    if _ISO_RE.match(text):
        return "iso"
    raise ValueError("not a time: give int ns, an ISO timestamp (2024-08-08T23:57:30Z, "
                     "2012-06-21T12:00:00-04:00) or a clock time of the session (12:00, 12:00:30.5)")


def check_time_syntax(value: Any, what: str) -> Any:
    """Check that ``value`` can be read as a time (before the session is known); return it unchanged.
    Raises ConfigError ``"{what} {value!r}: …"``."""
    if isinstance(value, bool):
        raise ConfigError(f"{what} {value!r}: not a time")
    if isinstance(value, (int, date, dtime)):  # date includes datetime (TOML date-times)
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{what} {value!r}: not a time (int ns or a string)")
    try:
        kind = _kind(value.strip())
        m = (_CLOCK_RE if kind == "clock" else _ISO_RE).match(value.strip()) if kind != "int" else None
        if kind == "clock":
            _hms(m["h"], m["m"], m["s"], m["frac"], value)
        elif kind == "iso":
            date.fromisoformat(m["date"])
            if m["h"] is not None:
                _hms(m["h"], m["m"], m["s"], m["frac"], value)
            if m["tz"]:
                _offset_s(m["tz"])
    except ValueError as e:
        raise ConfigError(f"{what} {value!r}: {e}") from None
    return value


def parse_time(value: Any, what: str = "time", session: Optional[Session] = None) -> int:
    """A typed time -> int ns since the epoch (UTC); see the module docs for the forms.

    ``session`` resolves clock times and ISO timestamps without an offset (default: UTC, and no session date,
    so a clock time is refused). A clock time is taken on the session date; when that instant is before the
    data's first row and the same clock time one day later is inside the data (a capture across midnight), the
    later one is meant. Raises ConfigError ``"{what} {value!r}: …"`` naming the option or key.
    """
    check_time_syntax(value, what)
    sess = session or Session()
    if isinstance(value, datetime):
        ns = _days(value.date()) * NS_PER_DAY + _tod(value.time())
        if value.tzinfo is not None:
            off = value.utcoffset()
            return ns - int(off.total_seconds()) * NS_PER_S if off is not None else ns
        return _instant(value.date(), _tod(value.time()), sess.zone)
    if isinstance(value, dtime):
        return _clock(_tod(value), value, what, sess)
    if isinstance(value, date):
        return _instant(value, 0, sess.zone)
    if isinstance(value, int):
        return int(value)
    text = value.strip()
    kind = _kind(text)
    if kind == "int":
        return int(text.replace("_", ""))
    if kind == "clock":
        m = _CLOCK_RE.match(text)
        return _clock(_hms(m["h"], m["m"], m["s"], m["frac"], text), value, what, sess)
    m = _ISO_RE.match(text)
    day = date.fromisoformat(m["date"])
    tod = _hms(m["h"], m["m"], m["s"], m["frac"], text) if m["h"] is not None else 0
    if m["tz"]:
        return _days(day) * NS_PER_DAY + tod - _offset_s(m["tz"]) * NS_PER_S
    return _instant(day, tod, sess.zone)


def _tod(t: dtime) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * NS_PER_S + t.microsecond * 1000


def _clock(tod: int, value: Any, what: str, sess: Session) -> int:
    if sess.day is None:
        raise ConfigError(f"{what} {value!r}: a clock time needs the session's date (give an ISO timestamp "
                          "or int ns)")
    ns = _instant(sess.day, tod, sess.zone)
    if sess.first_ts is not None and sess.last_ts is not None and ns < sess.first_ts:
        nxt = _instant(sess.day + timedelta(days=1), tod, sess.zone)
        if nxt <= sess.last_ts:
            return nxt
    return ns


# --------------------------------------------------------------------------------------------- read
def format_clock(ns: int, zone: str = DEFAULT_ZONE, digits: int = 3, *, with_date: bool = False) -> str:
    """``12:00:00.000`` (the venue's clock time of ``ns``; ``digits`` decimals of the second, 0-9)."""
    day, tod = _local(int(ns), zone)
    s, sub = divmod(tod, NS_PER_S)
    h, rem = divmod(s, 3600)
    text = f"{h:02d}:{rem // 60:02d}:{rem % 60:02d}"
    if digits > 0:
        text += "." + f"{sub:09d}"[:digits]
    return f"{day.isoformat()} {text}" if with_date else text


def format_span(first_ts: int, last_ts: int, zone: str = DEFAULT_ZONE, digits: int = 3) -> str:
    """``09:30:00.000–16:00:00.000 New York (2012-06-21)``; dates on both ends when the span crosses one."""
    d0, d1 = _local(int(first_ts), zone)[0], _local(int(last_ts), zone)[0]
    a, b = format_clock(first_ts, zone, digits), format_clock(last_ts, zone, digits)
    if d0 == d1:
        return f"{a}–{b} {zone_label(zone)} ({d0.isoformat()})"
    return f"{d0.isoformat()} {a} – {d1.isoformat()} {b} {zone_label(zone)}"


def iso(ns: int, zone: str = DEFAULT_ZONE) -> str:
    """``2012-06-21T12:00:00.000000000-04:00`` (ns precision, the venue's offset; ``Z`` for UTC)."""
    day, tod = _local(int(ns), zone)
    s, sub = divmod(tod, NS_PER_S)
    h, rem = divmod(s, 3600)
    off = utc_offset_s(zone, day)
    tz = "Z" if off == 0 else f"{'-' if off < 0 else '+'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return f"{day.isoformat()}T{h:02d}:{rem // 60:02d}:{rem % 60:02d}.{sub:09d}{tz}"


def time_fields(first_ts: Optional[int], last_ts: Optional[int], zone: str = DEFAULT_ZONE) -> dict:
    """Summary keys beside the int ns: ``first_time``/``last_time`` (ISO) and ``time_zone``."""
    out: dict = {"time_zone": zone}
    if first_ts is not None:
        out["first_time"] = iso(first_ts, zone)
    if last_ts is not None:
        out["last_time"] = iso(last_ts, zone)
    return out

