"""LOBSTER message + orderbook files -> L3 event store (docs/data.md, "LOBSTER").

The message file gives every order event that touched the top ``N`` price levels; the orderbook file gives
the top ``N`` levels after each message. We replay the messages as L3 events (order ids kept), rebuild the
book after every message and compare it with the orderbook row. Orders that rested before the file starts,
and changes at levels outside the top ``N`` (which LOBSTER does not write), are unknown to the messages:
they are represented by *synthetic orders* (negative ids) created from the orderbook file. Every
difference between the rebuilt book and the orderbook row is counted and classified: *explained* when the
level was outside the file's top-N window at the previous row (its changes were not written), else
*unexplained* (an error unless ``repair``). Differences are reconciled with synthetic events, so the converted
store reproduces the orderbook file after every message.

One message line is one exchange *message*: its own event, then the synthetic events reconciling the book
with its orderbook row, all at its time; the last of these rows carries ``FLAG_MSG_END``, and only there does
the store's visible top N equal the row (in between, the book passes through states the file never had).
The synthetic initial book is a message of its own; a line that writes no row ends no message.
"""
from __future__ import annotations

import re
import zipfile
from bisect import bisect_left, bisect_right, insort
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Optional

from mmsim import records as R
from mmsim.errors import ConfigError, DataError
from mmsim.records import Instrument
from mmsim.data.adapters.common import ChunkBuilder, Conversion, input_record, need_file, open_text

__all__ = ["convert_lobster", "eastern_utc_offset_s", "parse_lobster_time"]

_NAME_RE = re.compile(r"^(?P<ticker>[^_/]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
                      r"(?P<what>message|orderbook)_(?P<levels>\d+)\.csv$")
#: LOBSTER prices are dollars x 10000.
PRICE_UNITS_PER_DOLLAR = 10_000
DUMMY_PRICE = 9_999_999_999
_BID, _ASK = R.BID, R.ASK
_ADD, _CANCEL, _DELETE, _EXECUTE, _TRADE = R.ADD, R.CANCEL, R.DELETE, R.EXECUTE, R.TRADE


# --------------------------------------------------------------------------------------------- time
def _nth_sunday(year: int, month: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(6 - d.weekday()) % 7)
    return d + timedelta(weeks=n - 1)


def _last_sunday(year: int, month: int) -> date:
    d = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1))
    return d - timedelta(days=(d.weekday() + 1) % 7)


def eastern_utc_offset_s(day: date) -> int:
    """UTC offset of US Eastern time at noon of ``day`` (-14400 in daylight saving time, else -18000).

    The US rules (Energy Policy Act of 2005 from 2007; 1987-2006 before), built in so that conversion does
    not depend on the machine's tz database. DST starts and ends at 02:00 local, outside trading hours.
    """
    y = day.year
    if y >= 2007:
        start, end = _nth_sunday(y, 3, 2), _nth_sunday(y, 11, 1)
    elif y >= 1987:
        start, end = _nth_sunday(y, 4, 1), _last_sunday(y, 10)
    else:
        raise ConfigError(f"session date {day}: US Eastern DST rules before 1987 are not built in")
    return -14400 if start <= day < end else -18000


def parse_lobster_time(text: str) -> int:
    """``"34200.017459617"`` (seconds after midnight) -> int ns, from the text (no float rounding).

    Digits beyond the 9th decimal (float-printing noise such as ``43002.632812672004`` in the samples)
    are rounded to the nearest ns, half up; :func:`_events` counts such times.
    """
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"time {text!r} is not seconds after midnight")
    ns = int(whole) * 1_000_000_000
    if len(frac) <= 9:
        return ns + (int(frac.ljust(9, "0")) if frac else 0)
    return ns + int(frac[:9]) + (frac[9] >= "5")


# --------------------------------------------------------------------------------------------- inputs
class _Pair:
    """The message and orderbook files of one session (plain files or zip members)."""

    def __init__(self, inputs: list):
        paths = [need_file(p) for p in inputs]
        self.zip: Optional[Path] = None
        msg = book = None
        if len(paths) == 1 and paths[0].suffix.lower() == ".zip":
            self.zip = paths[0]
            try:
                with zipfile.ZipFile(self.zip) as zf:
                    names = zf.namelist()
            except zipfile.BadZipFile as e:
                raise DataError(f"{self.zip}: not a readable zip file: {e}") from None
            msgs = [n for n in names if _match(n, "message")]
            books = [n for n in names if _match(n, "orderbook")]
            if len(msgs) != 1:
                raise DataError(f"{self.zip}: expected exactly one LOBSTER message file "
                                f"(TICKER_DATE_START_END_message_N.csv), found {len(msgs)}"
                                + (f": {', '.join(msgs[:4])}" if msgs else "") + " (convert one session at a time)")
            msg = msgs[0]
            want = _sibling(msg)
            if want not in books:
                raise DataError(f"{self.zip}: has {msg} but not its orderbook file {want}")
            book = want
            self.inputs = [input_record(self.zip)]
        else:
            for p in paths:
                m = _match(p.name, None)
                if m is None:
                    raise DataError(f"{p}: not a LOBSTER file name (TICKER_DATE_START_END_message_N.csv or "
                                    "..._orderbook_N.csv, or the sample .zip)")
                if m.group("what") == "message":
                    if msg is not None:
                        raise DataError(f"{p}: a second message file (convert one session at a time)")
                    msg = p
                else:
                    if book is not None:
                        raise DataError(f"{p}: a second orderbook file (convert one session at a time)")
                    book = p
            if msg is None:
                raise DataError(f"{paths[0]}: no LOBSTER message file among the inputs")
            if book is None:
                guess = msg.with_name(_sibling(msg.name))
                if not guess.is_file():
                    raise DataError(f"{msg}: needs its orderbook file {guess.name} (give it as a second INPUT)")
                book = guess
            if _sibling(Path(msg).name) != Path(book).name:
                raise DataError(f"{book}: does not belong to {Path(msg).name} (expected {_sibling(Path(msg).name)})")
            self.inputs = [input_record(Path(msg)), input_record(Path(book))]
        self.msg, self.book = msg, book
        m = _match(Path(str(msg)).name, "message")
        assert m is not None
        self.ticker = m.group("ticker")
        try:
            self.day = date.fromisoformat(m.group("date"))
        except ValueError:
            raise DataError(f"{self.msg_name}: bad session date {m.group('date')!r} in the file name") from None
        self.levels = int(m.group("levels"))
        if self.levels < 1:
            raise DataError(f"{self.msg_name}: number of levels must be >= 1")

    @property
    def msg_name(self) -> str:
        return f"{self.zip.name}:{self.msg}" if self.zip else Path(self.msg).name

    @property
    def book_name(self) -> str:
        return f"{self.zip.name}:{self.book}" if self.zip else Path(self.book).name

    def open(self, which: str):
        if self.zip is not None:
            return open_text(self.zip, self.msg if which == "msg" else self.book)
        return open_text(Path(self.msg if which == "msg" else self.book))


def _match(name: str, what: Optional[str]):
    m = _NAME_RE.match(Path(name).name)
    if m is None or (what is not None and m.group("what") != what):
        return None
    return m


def _sibling(msg_name: str) -> str:
    p = Path(msg_name)
    return str(p.with_name(p.name.replace("_message_", "_orderbook_")))


# --------------------------------------------------------------------------------------------- book
class _Book:
    """The rebuilt visible book: per side, price -> {order id: qty} in arrival (FIFO) order."""

    def __init__(self):
        self.lv = {_BID: {}, _ASK: {}}     # side -> price -> dict(oid -> qty)
        self.tot = {_BID: {}, _ASK: {}}    # side -> price -> total qty
        self.px = {_BID: [], _ASK: []}     # side -> sorted prices (ascending)
        self.orders: dict[int, tuple[int, int]] = {}  # oid -> (side, price)

    def add(self, side: int, price: int, oid: int, qty: int) -> None:
        lv = self.lv[side].get(price)
        if lv is None:
            lv = self.lv[side][price] = {}
            self.tot[side][price] = 0
            insort(self.px[side], price)
        lv[oid] = qty
        self.tot[side][price] += qty
        self.orders[oid] = (side, price)

    def take(self, oid: int, qty: int) -> int:
        """Remove ``qty`` from order ``oid``; return what it has left."""
        side, price = self.orders[oid]
        lv = self.lv[side][price]
        left = lv[oid] - qty
        if left:
            lv[oid] = left
        else:
            del lv[oid]
            del self.orders[oid]
        t = self.tot[side][price] - qty
        if t:
            self.tot[side][price] = t
        else:
            del self.tot[side][price]
            del self.lv[side][price]
            px = self.px[side]
            del px[bisect_left(px, price)]
        return left

    def window(self, side: int, bound: Optional[int]) -> list:
        """[(price, qty)] best first of the levels at least as good as ``bound`` (None: all levels)."""
        px, tot = self.px[side], self.tot[side]
        if side == _BID:
            lo = 0 if bound is None else bisect_left(px, bound)
            return [(p, tot[p]) for p in reversed(px[lo:])]
        hi = len(px) if bound is None else bisect_right(px, bound)
        return [(p, tot[p]) for p in px[:hi]]


# --------------------------------------------------------------------------------------------- convert
def convert_lobster(inputs: list, *, symbol: Optional[str] = None, tick_size: Optional[float] = None,
                    lot_size: Optional[float] = None, repair: bool = False) -> Conversion:
    """Open a LOBSTER session (the sample .zip, or the message + orderbook csv pair) for conversion."""
    pair = _Pair(inputs)
    tick = 0.01 if tick_size is None else float(tick_size)
    lot = 1.0 if lot_size is None else float(lot_size)
    units = tick * PRICE_UNITS_PER_DOLLAR
    if abs(units - round(units)) > 1e-9 or round(units) < 1:
        raise ConfigError(f"--tick-size {tick!r}: LOBSTER prices are in 1/10000 dollar, the tick must be a "
                          "multiple of 0.0001")
    if abs(lot - round(lot)) > 1e-12 or round(lot) < 1:
        raise ConfigError(f"--lot-size {lot!r}: LOBSTER sizes are whole shares, the lot must be a whole number")
    inst = Instrument(tick_size=tick, lot_size=lot, symbol=symbol or pair.ticker)
    offset = eastern_utc_offset_s(pair.day)
    midnight_ns = int((datetime(pair.day.year, pair.day.month, pair.day.day, tzinfo=timezone.utc)
                       - timedelta(seconds=offset)).timestamp()) * 1_000_000_000
    report: dict = {
        "format": "lobster", "session_date": pair.day.isoformat(), "levels": pair.levels,
        "utc_offset_s": offset, "midnight_utc_ns": midnight_ns,
    }
    source = {"format": "lobster", "inputs": pair.inputs, "message_file": Path(str(pair.msg)).name,
              "orderbook_file": Path(str(pair.book)).name, "options": {"repair": bool(repair)}}
    gen = _events(pair, int(round(units)), int(round(lot)), midnight_ns, repair, report)
    return Conversion(inst, gen, report, source, time_zone="America/New_York")


def _events(pair: _Pair, tick_units: int, lot_units: int, midnight_ns: int, repair: bool,
            report: dict) -> Iterator:
    N = pair.levels
    mname, bname = pair.msg_name, pair.book_name
    out = ChunkBuilder()
    emit = out.rows.append
    NO_TS = R.NO_TS
    book = _Book()
    orders = book.orders
    lv = book.lv
    syn_next = [-1]
    syn_of_level: dict = {_BID: {}, _ASK: {}}  # side -> price -> [synthetic oids] (FIFO)

    c = dict(messages=0, halts=0, adds=0, cancels=0, deletes=0, executions=0, hidden_executions=0,
             initial_synthetic_orders=0, unknown_id_messages=0, unknown_id_qty=0,
             unattributed_qty=0, delete_size_mismatch=0, qty_exceeds_order=0, order_moved=0,
             subtick_hidden_executions_rounded=0, times_rounded_to_ns=0,
             malformed_lines_dropped=0, ts_clamped=0)
    mm = dict(rows_compared=0, rows_matched_as_replayed=0, rows_mismatched=0, rows_explained=0,
              rows_unexplained=0, levels_revealed=0, levels_removed=0, qty_revealed=0, qty_removed=0,
              unexplained_levels=0, file_crossed_rows=0)
    report["counts_messages"] = c
    report["book_check"] = mm
    unexplained_examples: list = []
    report["unexplained_examples"] = unexplained_examples

    def new_syn(side: int, price: int, qty: int, ts: int) -> None:
        oid = syn_next[0]
        syn_next[0] -= 1
        book.add(side, price, oid, qty)
        syn_of_level[side].setdefault(price, []).append(oid)
        emit((ts, NO_TS, price, qty, oid, _ADD, side, 0))

    def drop_syn(side: int, price: int, oid: int) -> None:
        lst = syn_of_level[side].get(price)
        if lst is not None:
            lst.remove(oid)
            if not lst:
                del syn_of_level[side][price]

    def remove(oid: int, qty: int, kind: int, ts: int) -> None:
        """Emit and apply ``kind`` (CANCEL/DELETE/EXECUTE) of ``qty`` on ``oid`` (qty <= what it has)."""
        side, price = orders[oid]
        have = lv[side][price][oid]
        if kind == _EXECUTE:
            emit((ts, NO_TS, price, qty, oid, _EXECUTE, side, 0))
        elif qty == have:
            emit((ts, NO_TS, price, qty, oid, _DELETE, side, 0))
        else:
            emit((ts, NO_TS, price, qty, oid, _CANCEL, side, 0))
        if book.take(oid, qty) == 0 and oid < 0:
            drop_syn(side, price, oid)

    def from_level(side: int, price: int, qty: int, kind: int, ts: int) -> int:
        """Take ``qty`` from the level's synthetic orders (FIFO), then its other orders; return what is left."""
        lst = syn_of_level[side].get(price)
        if lst:
            for oid in list(lst):
                if qty == 0:
                    break
                take = min(qty, lv[side][price][oid])
                remove(oid, take, kind, ts)
                qty -= take
        if qty and price in lv[side]:
            for oid in list(lv[side][price]):
                if qty == 0:
                    break
                take = min(qty, lv[side][price][oid])
                remove(oid, take, kind, ts)
                qty -= take
        return qty

    def parse_row(text: str, line: int) -> tuple[list, list]:
        try:
            v = list(map(int, text.split(",")))
        except ValueError:
            raise DataError(f"{bname}:{line}: a price or size is not an integer") from None
        if len(v) != 4 * N:
            raise DataError(f"{bname}:{line}: expected {4 * N} fields, got {len(v)}")
        asks = [(p, q) for p, q in zip(v[0::4], v[1::4]) if p != DUMMY_PRICE]
        bids = [(p, q) for p, q in zip(v[2::4], v[3::4]) if p != -DUMMY_PRICE]
        for p, q in asks + bids:
            if q <= 0 or p <= 0 or p % tick_units or q % lot_units:
                raise DataError(f"{bname}:{line}: level ({p}, {q}): the price must be > 0 and on the tick grid "
                                f"({tick_units} units), the size > 0 and whole lots ({lot_units})")
        if tick_units != 1 or lot_units != 1:
            return ([(p // tick_units, q // lot_units) for p, q in bids],
                    [(p // tick_units, q // lot_units) for p, q in asks])
        return bids, asks

    rows = out.rows
    MSG_END = R.FLAG_MSG_END

    def end_message(start: int) -> None:
        """Mark the last row written since ``start`` (if any) as the end of one exchange message."""
        if len(rows) > start:
            r = rows[-1]
            rows[-1] = r[:7] + (r[7] | MSG_END,)

    def bound_of(levels: list) -> Optional[int]:
        return levels[-1][0] if len(levels) == N else None

    def in_window(side: int, price: int, bound: Optional[int]) -> bool:
        if bound is None:
            return True
        return price >= bound if side == _BID else price <= bound

    with pair.open("msg") as mf, pair.open("book") as bf:
        first = True
        prev_bound = {_BID: None, _ASK: None}
        last_ts = None
        line = 0
        prev_bline = None
        bids_f = asks_f = None
        for mline in mf:
            bline = bf.readline()
            line += 1
            if not bline:
                raise DataError(f"{bname}:{line}: orderbook file ends before the message file "
                                f"({mname} has a line {line})")
            f = mline.rstrip("\n").split(",")
            try:
                if len(f) != 6:
                    raise ValueError(f"expected 6 fields, got {len(f)}")
                ts = parse_lobster_time(f[0])
                try:
                    typ, oid, size, price, direction = int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5])
                except ValueError:
                    raise ValueError("malformed line: type, id, size, price and direction must be integers") \
                        from None
                if typ == 7:
                    pass
                elif typ not in (1, 2, 3, 4, 5):
                    raise ValueError(f"unknown message type {typ} (known: 1-5, 7)")
                elif direction not in (1, -1):
                    raise ValueError(f"direction {direction} is not 1 or -1")
                elif size <= 0:
                    raise ValueError(f"size {size} must be > 0")
                elif price <= 0:
                    raise ValueError(f"price {price} must be > 0")
                elif price % tick_units and typ != 5:
                    raise ValueError(f"price {price} is not on the tick grid ({tick_units} units of $0.0001)")
                elif size % lot_units:
                    raise ValueError(f"size {size} is not a whole number of lots ({lot_units} shares)")
            except ValueError as e:
                if repair and not first:
                    c["malformed_lines_dropped"] += 1
                    continue
                raise DataError(f"{mname}:{line}: {e} (--repair drops such messages with their orderbook "
                                "rows and counts them)") from None
            bline = bline.rstrip("\n")
            if bline != prev_bline:  # hidden executions and halts repeat the row: parse it once
                bids_f, asks_f = parse_row(bline, line)
                prev_bline = bline
            ts += midnight_ns
            if last_ts is not None and ts < last_ts:
                if not repair:
                    raise DataError(f"{mname}:{line}: time goes back ({f[0]} after a later message)")
                c["ts_clamped"] += 1
                ts = last_ts
            last_ts = ts
            c["messages"] += 1
            if len(f[0]) - f[0].find(".") > 10 and "." in f[0]:
                c["times_rounded_to_ns"] += 1
            if typ == 7:
                p = 0
            elif price % tick_units:
                # A hidden (e.g. midpoint) execution between ticks: rounded to the grid towards the
                # aggressor's own limit side (a buy down, a sell up), which fills no more own orders than
                # the exact price would.
                c["subtick_hidden_executions_rounded"] += 1
                p = price // tick_units if direction == -1 else -(-price // tick_units)
            else:
                p = price // tick_units
            q = size // lot_units if typ != 7 else 0

            if first:
                first = False
                # The book before message 1: orderbook row 1 with message 1 undone, one synthetic order
                # per level (ids -1, -2, ... bids best first, then asks best first).
                init = {_BID: dict(bids_f), _ASK: dict(asks_f)}
                if typ == 1:
                    left = init[direction].get(p, 0) - q
                    if left < 0:
                        raise DataError(f"{mname}:{line}: first message adds {q} at {p} but the orderbook "
                                        "row shows less there")
                    if left:
                        init[direction][p] = left
                    else:
                        init[direction].pop(p, None)
                elif typ in (2, 3, 4):
                    init[direction][p] = init[direction].get(p, 0) + q
                start = len(rows)
                for s, rev in ((_BID, True), (_ASK, False)):
                    for pp in sorted(init[s], reverse=rev):
                        new_syn(s, pp, init[s][pp], ts)
                        c["initial_synthetic_orders"] += 1
                end_message(start)  # the initial book is a message of its own
                prev_bound = {_BID: bound_of(bids_f), _ASK: bound_of(asks_f)}
                prev_bids, prev_asks = None, None  # compare both sides after message 1

            # ---- the message: its own event, then the reconciliation with its orderbook row; the last of
            # these rows carries FLAG_MSG_END (one message: one state, seen only once it is complete)
            start = len(rows)
            if typ == 1:
                c["adds"] += 1
                if oid in orders:
                    raise DataError(f"{mname}:{line}: order id {oid} is added twice")
                if oid <= 0:
                    raise DataError(f"{mname}:{line}: order id {oid} must be > 0")
                book.add(direction, p, oid, q)
                emit((ts, NO_TS, p, q, oid, _ADD, direction, 0))
            elif typ == 5:
                c["hidden_executions"] += 1
                emit((ts, NO_TS, p, q, 0, _TRADE, -direction, 0))
            elif typ == 7:
                c["halts"] += 1
            else:
                kind = _CANCEL if typ == 2 else _DELETE if typ == 3 else _EXECUTE
                c["cancels" if typ == 2 else "deletes" if typ == 3 else "executions"] += 1
                known = orders.get(oid)
                if known is not None and known != (direction, p):
                    c["order_moved"] += 1
                    known = None
                if known is None:
                    c["unknown_id_messages"] += 1
                    c["unknown_id_qty"] += q
                    c["unattributed_qty"] += from_level(direction, p, q, kind, ts)
                else:
                    have = lv[direction][p][oid]
                    if q > have:
                        # Part of this order was taken by a reconciliation (which cannot know which
                        # orders changed out of view): the excess comes from the level's other orders.
                        c["qty_exceeds_order"] += 1
                        remove(oid, have, kind, ts)
                        c["unattributed_qty"] += from_level(direction, p, q - have, kind, ts)
                    elif typ == 3 and q < have:
                        # The order lost have - q while its level was out of view, and a reconciliation
                        # gave that quantity to the wrong order: delete it whole and hand the difference
                        # back to the level as a synthetic order, so the level total stays verified.
                        c["delete_size_mismatch"] += 1
                        remove(oid, have, kind, ts)
                        new_syn(direction, p, have - q, ts)
                    else:
                        remove(oid, q, kind, ts)

            # ---- compare with the orderbook row, classify and reconcile differences
            mm["rows_compared"] += 1
            if bids_f and asks_f and bids_f[0][0] >= asks_f[0][0]:
                mm["file_crossed_rows"] += 1
            bad = unexplained = False
            touched = direction if typ in (1, 2, 3, 4) else 0  # the side this message changed, if any
            for side, fl, was in ((_BID, bids_f, prev_bids), (_ASK, asks_f, prev_asks)):
                if side != touched and fl == was:
                    continue  # neither the book nor the file changed on this side: it still matches
                bound = bound_of(fl)
                ours = book.window(side, bound)
                if ours == fl:
                    continue
                bad = True
                fd = dict(fl)
                od = dict(ours)
                for pp in sorted(set(fd) | set(od)):
                    want, have = fd.get(pp, 0), od.get(pp, 0)
                    if want == have:
                        continue
                    if in_window(side, pp, prev_bound[side]):
                        unexplained = True
                        mm["unexplained_levels"] += 1
                        if len(unexplained_examples) < 10:
                            unexplained_examples.append(
                                f"{bname}:{line}: {'bid' if side > 0 else 'ask'} {pp} has {want}, "
                                f"rebuilt {have}")
                    if want > have:
                        mm["qty_revealed"] += want - have
                        if have == 0:
                            mm["levels_revealed"] += 1
                        new_syn(side, pp, want - have, ts)
                    else:
                        mm["qty_removed"] += have - want
                        if want == 0:
                            mm["levels_removed"] += 1
                        _reduce(book, syn_of_level, side, pp, have - want, ts, remove)
            end_message(start)
            prev_bound = {_BID: bound_of(bids_f), _ASK: bound_of(asks_f)}
            prev_bids, prev_asks = bids_f, asks_f
            if not bad:
                mm["rows_matched_as_replayed"] += 1
            else:
                mm["rows_mismatched"] += 1
                if unexplained:
                    mm["rows_unexplained"] += 1
                    if not repair:
                        raise DataError(f"{unexplained_examples[-1]} after message {line} "
                                        "(a level inside the top-N window changed without a message; "
                                        "--repair reconciles it and counts it)")
                else:
                    mm["rows_explained"] += 1
            if out.full():
                yield out.take()
        if bf.readline().strip():
            raise DataError(f"{bname}:{line + 1}: orderbook file has more rows than {mname} has messages")
    if c["messages"] == 0:
        raise DataError(f"{mname}: no messages")
    if len(out):
        yield out.take()
    report["counts"] = out.counts()
    report["n_input_lines"] = line
    report["synthetic_orders"] = -syn_next[0] - 1


def _reduce(book: _Book, syn_of_level: dict, side: int, price: int, qty: int, ts: int, remove) -> None:
    """Remove ``qty`` from a level that the orderbook file shows smaller: synthetic orders first (newest
    first), then real orders, newest first (the most recent orders are the likeliest to have been
    cancelled while the level was out of view; which ones did is not in the data)."""
    lst = syn_of_level[side].get(price)
    if lst:
        for oid in reversed(list(lst)):
            if qty == 0:
                return
            take = min(qty, book.lv[side][price][oid])
            remove(oid, take, _CANCEL, ts)
            qty -= take
    if qty:
        for oid in reversed(list(book.lv[side][price])):
            if qty == 0:
                return
            take = min(qty, book.lv[side][price][oid])
            remove(oid, take, _CANCEL, ts)
            qty -= take
