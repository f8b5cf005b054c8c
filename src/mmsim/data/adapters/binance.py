"""Binance raw websocket capture (USD-M futures, COIN-M futures, spot) -> L2 event store (docs/data.md,
"Binance").

Input lines are ``<local receive time, ns> <raw JSON>``: the combined-stream messages of
``<symbol>@depth@…`` (diff depth), ``<symbol>@trade`` or ``<symbol>@aggTrade`` and ``<symbol>@bookTicker``,
and REST depth snapshots (``{"lastUpdateId": …, "bids": …, "asks": …}``) that start (and after a gap,
restart) the book. The market is read off the first depth message or snapshot (COIN-M: ``ps``/``pair``;
USD-M: ``pu``/``T``; spot: neither) and a capture cannot mix markets.

- Snapshot -> ``CLEAR`` (both sides) + one ``DEPTH`` per level; diff depth -> ``DEPTH`` per level (qty 0
  removes); trade / aggTrade -> ``TRADE`` (side +1 when the buyer is the taker, ``m`` false). bookTicker is
  not emitted: it is a validation stream, compared with the rebuilt book at the same update id.
- One websocket message (or snapshot) is one exchange message: its rows share one exchange time and the last
  carries ``FLAG_MSG_END``.
- COIN-M contracts are inverse: quantities are contracts, and the instrument says ``inverse`` with its
  contract size (100 USD for ``BTCUSD_*``, 10 USD for the others; ``--contract-size`` overrides it).
- Exchange time: ``E`` (depth), ``T`` (trades, snapshots), ms -> ns. Output is sorted by exchange time
  (a streaming merge of the depth and trade streams, each in line order; equal times keep line order).
- Receive time: the capture clock was not synchronised. Its offset from the exchange clock (the *skew*) is
  estimated in a first pass as a low quantile of ``local_ns - E_ns`` over all messages and removed:
  ``recv_ts = local_ns - skew``; rows still before their exchange time are clamped to it and counted.
"""
from __future__ import annotations

import heapq
import json
import re
from collections import deque
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from mmsim import records as R
from mmsim.errors import ConfigError, DataError
from mmsim.records import Instrument
from mmsim.data.adapters.common import ChunkBuilder, Conversion, DecimalGrid, input_record, need_file, open_text, quantiles_from_counts

__all__ = ["convert_binance", "SKEW_QUANTILE", "MARKETS", "coinm_contract_size"]

#: The skew is this quantile of (local receive time - exchange event time E) over all messages.
SKEW_QUANTILE = 0.001

#: The three markets (report["market"]) and their names in messages.
MARKETS = {"usdm": "USD-M", "coinm": "COIN-M", "spot": "spot"}


def _f(text: str) -> frozenset:
    return frozenset(text.split())


#: The fields of each message per market (Binance's websocket and REST docs; docs/data.md lists them).
#: USD-M: diff depth with T and pu; trade with X; bookTicker with e/E/T; snapshot with E/T.
#: COIN-M: as USD-M plus the pair ``ps`` (snapshot: ``symbol`` and ``pair``); trades only as aggTrade.
#: Spot: diff depth without T/pu (continuity: U = previous u + 1), trades with the ignored flag M and
#: without X, bookTicker without e/E/T, REST snapshots without E/T.
_FIELDS = {
    "usdm": {"depthUpdate": _f("e E T s U u pu b a"), "trade": _f("e E T s t p q X m"),
             "aggTrade": _f("e E a s p q f l T m"), "bookTicker": _f("e u s b B a A T E"),
             "snapshot": _f("lastUpdateId E T bids asks")},
    "coinm": {"depthUpdate": _f("e E T s ps U u pu b a"), "aggTrade": _f("e E a s p q f l T m st"),
              "bookTicker": _f("e u s ps b B a A T E st"), "snapshot": _f("lastUpdateId symbol pair E T bids asks")},
    "spot": {"depthUpdate": _f("e E s U u b a"), "trade": _f("e E T s t p q m M"),
             "aggTrade": _f("e E s a p q f l T m M"), "bookTicker": _f("u s b B a A"),
             "snapshot": _f("lastUpdateId bids asks")},
}
#: Fields a message may lack: X (USD-M trade), M (spot trades), st (COIN-M symbol type, documented as added
#: "after CM migration").
_OPTIONAL = frozenset(("X", "M", "st"))
#: A partial book depth stream (``@depth5``, ``@depth10@100ms`` …) pushes the top N levels, not changes.
_PARTIAL_DEPTH_RE = re.compile(r"@depth\d")


def _market_of(kind: str, d: dict) -> Optional[str]:
    """The market a depth message, snapshot or bookTicker belongs to (None for a trade: it does not say)."""
    if kind == "depthUpdate":
        return "coinm" if "ps" in d else "usdm" if "pu" in d else "spot"
    if kind == "snapshot":
        return "coinm" if ("pair" in d or "symbol" in d) else "usdm" if "T" in d else "spot"
    if kind == "bookTicker":
        return "coinm" if "ps" in d else "usdm" if "e" in d else "spot"
    return None


def coinm_contract_size(symbol: str) -> float:
    """Binance's COIN-M contract size in USD: 100 for BTC (``BTCUSD_PERP``, ``BTCUSD_240927`` …), 10 for the
    others (Binance, "COIN-Margined Futures Contract Specifications"; ``--contract-size`` overrides it)."""
    return 100.0 if symbol.upper().startswith("BTCUSD_") else 10.0


_E_RE = re.compile(r'"E"\s*:\s*(\d+)')   # any valid JSON spacing
_DEPTH, _TRADE_K, _CLEAR = R.DEPTH, R.TRADE, R.CLEAR
_BID, _ASK = R.BID, R.ASK
_MSG_END = R.FLAG_MSG_END
#: Cap on diff-depth updates buffered while waiting for a snapshot (the oldest are dropped and counted).
MAX_BUFFERED_UPDATES = 100_000


def _lines(paths: list[Path]) -> Iterator[tuple[str, int, str]]:
    for p in paths:
        with open_text(p) as f:
            i = 0
            try:
                for i, line in enumerate(f, 1):
                    yield p.name, i, line
            except UnicodeDecodeError:  # text is decoded in blocks: the bad byte is at or after this line
                raise DataError(f"{p.name}:{i + 1}: not UTF-8 text (binary data in the capture?), at or after "
                                "this line") from None


def convert_binance(inputs: list, *, symbol: Optional[str] = None, tick_size: Optional[float] = None,
                    lot_size: Optional[float] = None, repair: bool = False) -> Conversion:
    """Open a Binance capture (one or more files, read in the order given) for conversion."""
    paths = [need_file(p) for p in inputs]
    if tick_size is None or lot_size is None:
        raise ConfigError("--format binance needs --tick-size and --lot-size (the capture does not carry them; "
                          "BTCUSDT USD-M futures: --tick-size 0.1 --lot-size 0.001; BTCUSD_PERP COIN-M: "
                          "--tick-size 0.1 --lot-size 1; BTCUSDT spot: --tick-size 0.01 --lot-size 0.00000001)")
    skew, pass1 = _estimate_skew(paths, repair)
    first_sym, market = _peek(paths)
    report: dict = {"format": "binance", "clock_skew": pass1}
    if market is not None:
        report["market"] = market
    explicit = bool(symbol)
    sym = symbol.upper() if symbol else first_sym
    if sym is None:
        raise DataError(f"{paths[0].name}: no stream message with a symbol 's'")
    source = {"format": "binance", "inputs": [input_record(p) for p in paths],
              "options": {"repair": bool(repair), "symbol": sym, "skew_quantile": SKEW_QUANTILE}}
    gen = _Converter(paths, skew, DecimalGrid(_text(tick_size), "tick"), DecimalGrid(_text(lot_size), "lot"),
                     sym, explicit, repair, report, market).run()
    inst = Instrument(tick_size=float(tick_size), lot_size=float(lot_size), symbol=sym)
    if market == "coinm":  # inverse: quantities are contracts of contract_size USD each
        inst = Instrument(tick_size=inst.tick_size, lot_size=inst.lot_size, symbol=sym,
                          contract_size=coinm_contract_size(sym), inverse=True)
        report["contract"] = {"inverse": True, "contract_size": inst.contract_size, "quote": "USD",
                              "quantity": "contracts"}
    return Conversion(inst, gen, report, source)


def _text(v: float) -> str:
    return repr(float(v))


def _peek(paths: list[Path]) -> tuple[Optional[str], Optional[str]]:
    """The capture's first symbol ``s`` and its market (from the first depth message or snapshot that parses),
    read before the conversion so the instrument is known up front; the second pass checks every message."""
    pat = re.compile(r'"s"\s*:\s*"([A-Za-z0-9_]+)"')
    sym = market = None
    for _, _, line in _lines(paths):
        if sym is None:
            m = pat.search(line)
            if m:
                sym = m.group(1).upper()
        if market is None and ("depthUpdate" in line or "lastUpdateId" in line):
            try:
                msg = json.loads(line.partition(" ")[2])
            except ValueError:
                msg = None
            if isinstance(msg, dict):
                data = msg.get("data")
                if isinstance(data, dict) and data.get("e") == "depthUpdate":
                    market = _market_of("depthUpdate", data)
                elif "lastUpdateId" in msg:
                    market = _market_of("snapshot", msg)
        if sym is not None and market is not None:
            break
    return sym, market


# --------------------------------------------------------------------------------------------- pass 1
def _estimate_skew(paths: list[Path], repair: bool) -> tuple[int, dict]:
    """Skew (ns) = SKEW_QUANTILE of local_ns - E*1e6 over all messages, from a µs histogram."""
    counts: dict[int, int] = {}
    buf: list[int] = []
    n = 0

    def flush() -> None:
        if buf:
            v, c = np.unique(np.floor_divide(np.array(buf, dtype=np.int64), 1000), return_counts=True)
            for a, b in zip(v.tolist(), c.tolist()):
                counts[a] = counts.get(a, 0) + b
            buf.clear()

    for name, i, line in _lines(paths):
        if not line.strip():
            continue
        head, _, rest = line.partition(" ")
        m = _E_RE.search(rest)
        if not head.isdigit() or m is None:
            continue  # the second pass reports (or, with repair, counts) what this line is
        buf.append(int(head) - int(m.group(1)) * 1_000_000)
        n += 1
        if len(buf) >= 1 << 20:
            flush()
    flush()
    if not n:
        raise DataError(f"{paths[0].name}: no messages")
    vals = np.array(list(counts.keys()), dtype=np.int64)
    cnts = np.array(list(counts.values()), dtype=np.int64)
    q = quantiles_from_counts(vals, cnts, [SKEW_QUANTILE, 0.5])
    skew_ns = q[0] * 1000
    raw_lat = (vals * 1000 - skew_ns)
    corr = quantiles_from_counts(raw_lat, cnts, [0.01, 0.5, 0.99])
    return skew_ns, {
        "method": f"skew = quantile {SKEW_QUANTILE} of (local receive ns - E ms * 1e6) over all messages "
                  "(µs bins); recv_ts = local - skew",
        "messages": n,
        "skew_ns": int(skew_ns),
        "raw_offset_median_ns": int(q[1] * 1000),
        "raw_offset_min_ns": int(vals.min() * 1000),
        "raw_offset_max_ns": int(vals.max() * 1000),
        "corrected_latency_vs_E_ns": {"p1": int(corr[0]), "p50": int(corr[1]), "p99": int(corr[2])},
        "messages_negative_after_correction": int(cnts[raw_lat < 0].sum()),
    }


# --------------------------------------------------------------------------------------------- pass 2
class _Side:
    """One side of the rebuilt book: price (ticks) -> qty (lots), with a lazy heap for the best price."""

    __slots__ = ("lv", "heap", "sign")

    def __init__(self, sign: int):
        self.lv: dict[int, int] = {}
        self.heap: list[int] = []
        self.sign = sign  # heap holds -price for bids (max-heap), price for asks

    def set(self, price: int, qty: int) -> bool:
        """Set a level; return False for a removal of a level that is not there (a no-op)."""
        if qty:
            if price not in self.lv:
                heapq.heappush(self.heap, -price if self.sign > 0 else price)
            self.lv[price] = qty
            return True
        if price in self.lv:
            del self.lv[price]
            if len(self.heap) > 4 * len(self.lv) + 1024:
                self.heap = [-p if self.sign > 0 else p for p in self.lv]
                heapq.heapify(self.heap)
            return True
        return False

    def best(self) -> Optional[int]:
        h, lv = self.heap, self.lv
        while h:
            p = -h[0] if self.sign > 0 else h[0]
            if p in lv:
                return p
            heapq.heappop(h)
        return None

    def clear(self) -> None:
        self.lv.clear()
        self.heap.clear()


class _Converter:
    def __init__(self, paths, skew, tick: DecimalGrid, lot: DecimalGrid, symbol: str, explicit_symbol: bool,
                 repair: bool, report: dict, market: Optional[str] = None):
        self.paths, self.skew, self.tick, self.lot = paths, skew, tick, lot
        self.symbol, self.explicit_symbol, self.repair, self.report = symbol, explicit_symbol, repair, report
        self.bids, self.asks = _Side(_BID), _Side(_ASK)
        self.c = dict(
            lines=0, blank_lines=0, snapshots=0, depth_updates=0, depth_applied=0, trades=0,
            depth_dropped_before_snapshot=0, depth_dropped_stale=0, trades_dropped_before_book=0,
            other_symbol_skipped=0, non_market_trades_skipped=0, zero_updates_for_absent_levels=0,
            trade_id_gaps=0, recv_clamped=0, snapshots_ignored_while_live=0, buffer_overflow_dropped=0)
        self.repairs = dict(malformed_lines_dropped=0, unknown_fields_ignored=0, unknown_messages_dropped=0,
                            gaps_resynced=0, depth_dropped_awaiting_resync=0,
                            crossed_levels_removed=0, crossed_updates=0, exch_ts_clamped=0,
                            second_trade_stream_dropped=0)
        self.bt = dict(book_tickers=0, updates_checked=0, mismatches=0, updates_without_ticker=0,
                       updates_unconfirmed_at_end=0, tickers_out_of_order=0)
        self.bt_pend: deque = deque()   # applied updates awaiting their bookTicker: (u, best, where)
        self.bt_hist: deque = deque()   # recent bookTickers: (u, best, where), u ascending
        self.mismatch_examples: list[str] = []
        report["counts_messages"] = self.c
        report["repairs"] = self.repairs
        report["book_ticker_check"] = self.bt
        report["book_ticker_mismatch_examples"] = self.mismatch_examples
        # The rebuilt book's state: "wait" (no snapshot yet / after a gap), "sync" (snapshot taken, first
        # update not yet found), "live".
        self.market: Optional[str] = market  # "usdm", "coinm" or "spot" (MARKETS), from the first depth/snapshot
        self.trade_stream: Optional[str] = None  # "trade" or "aggTrade": the first seen; the other is refused
        self.state = "wait"
        self.snap = None          # pending snapshot: (lastUpdateId, T ns, recv ns, bids, asks, where)
        self.pending: deque = deque()  # buffered diff-depth updates while not live
        self.prev_u: Optional[int] = None
        self.book_started = False
        self.last_trade_id: Optional[int] = None
        self.last_key = {"depth": None, "trade": None}
        # merge queues: items (key_ns, order, recv_ns, rows[(kind, side, price, qty)])
        self.dq: deque = deque()
        self.tq: deque = deque()
        self.emitted_ts: Optional[int] = None
        self.out = ChunkBuilder()
        self.lat_hist: dict[int, int] = {}
        self.book_start_ts: Optional[int] = None

    # ------------------------------------------------------------------ helpers
    def fail(self, where, what: str):
        if isinstance(where, tuple):  # (file name, line)
            where = f"{where[0]}:{where[1]}"
        raise DataError(f"{where}: {what}")

    def num(self, grid: DecimalGrid, text, where: str) -> int:
        if not isinstance(text, str):
            self.fail(where, f"{grid.what} {text!r} is not a decimal string")
        try:
            return grid(text)
        except ValueError as e:
            self.fail(where, str(e))

    def levels(self, arr, where: str, key: str) -> list[tuple[int, int]]:
        if not isinstance(arr, list):
            self.fail(where, f"'{key}' is not a list of [price, qty]")
        out = []
        tc, lc = self.tick.cache, self.lot.cache  # the grids' caches: most prices and sizes repeat
        for lv in arr:
            try:
                pt, qt = lv
                p = tc.get(pt)
                q = lc.get(qt)
            except (TypeError, ValueError):
                self.fail(where, f"'{key}' entry {lv!r} is not [price, qty]")
            if p is None:
                p = self.num(self.tick, pt, where)
            if q is None:
                q = self.num(self.lot, qt, where)
            if p <= 0 or q < 0:
                self.fail(where, f"'{key}' level {lv!r}: price must be > 0 and qty >= 0")
            out.append((p, q))
        return out

    def check_fields(self, d: dict, known: frozenset, where: str, what: str) -> None:
        extra = [k for k in d if k not in known]
        if extra:
            if not self.repair:
                self.fail(where, f"unknown field(s) {', '.join(map(repr, sorted(extra)))} in a {what} message "
                                 "(--repair ignores them and counts them)")
            self.repairs["unknown_fields_ignored"] += 1
        missing = sorted(k for k in known if k not in d and k not in _OPTIONAL)
        if missing:
            self.fail(where, f"{what} message without field(s) {', '.join(sorted(missing))}")

    def fields(self, kind: str, d: dict, loc: str) -> bool:
        """Check a message's fields against its market's set; the first depth message or snapshot decides the
        market (COIN-M: ``ps``/``pair``; USD-M: ``pu``/``T``; spot: neither), and a capture cannot mix
        markets. False: a message its market does not publish, dropped with ``--repair``."""
        got = _market_of(kind, d)
        if self.market is None and kind in ("depthUpdate", "snapshot"):
            self.market = got
            self.report["market"] = got
        if self.market is not None and got is not None and got != self.market:
            self.fail(loc, f"a {MARKETS[got]} {kind} in a {MARKETS[self.market]} capture")
        market = self.market or got or "usdm"
        known = _FIELDS[market].get(kind)
        if known is None:
            self.unknown(loc, f"a {kind} message in a {MARKETS[market]} capture (its trades come as "
                              f"{', '.join(k for k in _FIELDS[market] if 'rade' in k)})")
            return False
        self.check_fields(d, known, loc, kind)
        return True

    def ms(self, v, where: str, name: str) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            self.fail(where, f"'{name}' {v!r} is not a positive integer (ms since epoch)")
        return v * 1_000_000

    def key_check(self, stream: str, key: int, where: str) -> int:
        last = self.last_key[stream]
        if last is not None and key < last:
            if not self.repair:
                self.fail(where, f"exchange time goes back in the {stream} stream ({key} ns after {last} ns; "
                                 "--repair raises it to the previous time and counts it)")
            self.repairs["exch_ts_clamped"] += 1
            key = last
        self.last_key[stream] = key
        return key

    # ------------------------------------------------------------------ book
    def best(self) -> tuple:
        bb, ba = self.bids.best(), self.asks.best()
        return (bb, self.bids.lv.get(bb), ba, self.asks.lv.get(ba))

    def apply_levels(self, rows: list, side: int, levels: list) -> None:
        book = self.bids if side == _BID else self.asks
        for p, q in levels:
            if book.set(p, q):
                rows.append((_DEPTH, side, p, q))
            else:
                self.c["zero_updates_for_absent_levels"] += 1

    def uncross(self, rows: list, touched_bid_best: bool, touched_ask_best: bool, where: str) -> None:
        bb, ba = self.bids.best(), self.asks.best()
        if bb is None or ba is None or bb < ba:
            return
        if not self.repair:
            self.fail(where, f"crossed book after this update: best bid {bb} >= best ask {ba} ticks "
                             "(--repair removes the stale side's crossed levels and counts them)")
        self.repairs["crossed_updates"] += 1
        # the stale side is the one whose top this message did not touch (asks when both or neither were)
        stale = _BID if (touched_ask_best and not touched_bid_best) else _ASK
        book = self.asks if stale == _ASK else self.bids
        while True:
            bb, ba = self.bids.best(), self.asks.best()
            if bb is None or ba is None or bb < ba:
                break
            p = ba if stale == _ASK else bb
            book.set(p, 0)
            rows.append((_DEPTH, stale, p, 0))
            self.repairs["crossed_levels_removed"] += 1

    def take_snapshot(self, snap) -> list:
        last_id, ts, recv, bids, asks, where = snap
        self.bids.clear()
        self.asks.clear()
        rows = [(_CLEAR, 0, 0, 0)]
        self.apply_levels(rows, _BID, bids)
        self.apply_levels(rows, _ASK, asks)
        self.uncross(rows, True, True, where)
        return rows

    def process_update(self, upd) -> None:
        """A diff-depth update in line order (possibly replayed from the buffer)."""
        U, u, pu, key, recv, bids, asks, where = upd
        if self.state == "wait":
            self.pending.append(upd)
            if len(self.pending) > MAX_BUFFERED_UPDATES:
                self.pending.popleft()
                self.c["buffer_overflow_dropped"] += 1
            return
        if self.state == "sync":
            last_id = self.snap[0]
            # futures: the first update has U <= lastUpdateId <= u; spot: U <= lastUpdateId + 1 <= u
            first = last_id + 1 if self.market == "spot" else last_id
            if u < first:
                self.c["depth_dropped_stale" if self.book_started else "depth_dropped_before_snapshot"] += 1
                return
            if U > first:
                rule = "U <= lastUpdateId + 1 <= u" if self.market == "spot" else "U <= lastUpdateId <= u"
                self.gap(where, f"the first update after the snapshot (U {U}, u {u}) does not cover its "
                                f"lastUpdateId {last_id} ({rule} is required)", key, recv)
                return
            # Start (or restart) the book: the snapshot's time is its T, but not later than this update.
            s_last, s_ts, s_recv, _, _, s_where = self.snap
            rows = self.take_snapshot(self.snap)
            ts = key if s_ts is None else min(s_ts, key)
            if self.emitted_ts is not None and ts < self.emitted_ts:
                ts = self.emitted_ts
            if self.last_key["depth"] is not None and ts < self.last_key["depth"]:
                ts = self.last_key["depth"]
            self.last_key["depth"] = ts
            self.dq.append((ts, 0 if not self.book_started else s_where[1], s_recv, rows))
            if not self.book_started:
                self.book_start_ts = ts
                kept = deque(t for t in self.tq if t[0] >= ts)
                self.c["trades_dropped_before_book"] += len(self.tq) - len(kept)
                self.tq = kept
            self.book_started = True
            self.state = "live"
            self.snap = None
        elif pu != self.prev_u:
            self.gap(where, f"diff depth gap: pu {pu} is not the previous update's u {self.prev_u}", key, recv)
            return
        self.prev_u = u
        key = self.key_check("depth", key, where)
        rows: list = []
        old = (self.bids.best(), self.asks.best())
        self.apply_levels(rows, _BID, bids)
        self.apply_levels(rows, _ASK, asks)
        self.c["depth_applied"] += 1
        touched_b = any(p >= (old[0] or 0) for p, _ in bids) if old[0] is not None else bool(bids)
        touched_a = any(p <= old[1] for p, _ in asks) if old[1] is not None else bool(asks)
        self.uncross(rows, touched_b, touched_a, where)
        if rows:
            self.dq.append((key, where[1], recv, rows))
        # the bookTicker check: this update's best bid/ask, to compare with the last bookTicker at or before u
        self.bt_pend.append((u, self.best(), where))
        self.resolve_tickers()

    def gap(self, where, what: str, key: int, recv: int) -> None:
        if not self.repair:
            self.fail(where, what + " (--repair clears the book here and waits for the next snapshot in the "
                                    "capture, counting the updates dropped meanwhile)")
        self.repairs["gaps_resynced"] += 1
        if self.book_started:
            self.bids.clear()
            self.asks.clear()
            k = self.key_check("depth", key, where)
            self.dq.append((k, where[1], recv, [(_CLEAR, 0, 0, 0)]))
        self.state = "wait"
        self.snap = None
        self.prev_u = None
        self.bt_pend.clear()

    def resolve_tickers(self) -> None:
        """Compare each applied update's best bid/ask with the last bookTicker whose u is <= its u.

        bookTicker pushes every change of the best prices or sizes, in update-id order, so the last one at or
        before an update's final id u is the book's top after that update. An update is checked once a
        bookTicker beyond its u has arrived (the two streams interleave in the capture).
        """
        pend, hist, bt = self.bt_pend, self.bt_hist, self.bt
        while pend and hist and hist[-1][0] > pend[0][0]:
            u, ref, where = pend.popleft()
            while len(hist) >= 2 and hist[1][0] <= u:
                hist.popleft()
            if hist[0][0] > u:
                bt["updates_without_ticker"] += 1
                continue
            bt["updates_checked"] += 1
            t_u, best, t_where = hist[0]
            if best != ref:
                bt["mismatches"] += 1
                if len(self.mismatch_examples) < 10:
                    self.mismatch_examples.append(
                        f"{where[0]}:{where[1]}: after update u {u} the rebuilt top is {ref} (bid, qty, ask, qty "
                        f"in ticks/lots) but the bookTicker of line {t_where[1]} (u {t_u}) says {best}")

    # ------------------------------------------------------------------ merge and output
    def drain(self, final: bool = False) -> Iterator[np.ndarray]:
        dq, tq, out = self.dq, self.tq, self.out
        if not self.book_started and not final:
            return
        while dq or tq:
            if dq and tq:
                a, b = dq[0], tq[0]
                item = dq.popleft() if (a[0], a[1]) <= (b[0], b[1]) else tq.popleft()
            elif final:
                item = (dq or tq).popleft()
            else:
                break
            ts, _, recv, rows = item
            if not self.book_started:  # trades of a capture without any usable snapshot
                self.c["trades_dropped_before_book"] += 1
                continue
            if recv < ts:
                self.c["recv_clamped"] += 1
                recv = ts
            lat_us = (recv - ts) // 1000
            self.lat_hist[lat_us] = self.lat_hist.get(lat_us, 0) + 1
            self.emitted_ts = ts
            out.rows.extend([(ts, recv, p, q, 0, kind, side, 0) for kind, side, p, q in rows[:-1]])
            kind, side, p, q = rows[-1]  # one websocket message (or snapshot) is one exchange message
            out.rows.append((ts, recv, p, q, 0, kind, side, _MSG_END))
            if out.full():
                yield out.take()

    def run(self) -> Iterator[np.ndarray]:
        skew = self.skew
        c = self.c
        for name, i, line in _lines(self.paths):
            c["lines"] += 1
            where = (name, i)
            loc = f"{name}:{i}"
            if not line.strip():
                c["blank_lines"] += 1
                continue
            head, _, rest = line.partition(" ")
            try:
                if not head.isdigit():
                    raise ValueError("the receive time is not an integer")
                local = int(head)
                msg = json.loads(rest)
                if not isinstance(msg, dict):
                    raise ValueError("the JSON is not an object")
            except ValueError as e:
                if self.repair:
                    self.repairs["malformed_lines_dropped"] += 1
                    continue
                self.fail(loc, f"malformed line: {e} (--repair drops such lines and counts them)")
            recv = local - skew
            if "stream" in msg:
                data = msg.get("data")
                if not isinstance(data, dict) or set(msg) != {"stream", "data"}:
                    self.unknown(loc, "combined-stream message without an object 'data' (or with other keys)")
                    continue
                if _PARTIAL_DEPTH_RE.search(str(msg["stream"])):
                    self.unknown(loc, f"partial book depth stream {msg['stream']!r}: it pushes the top levels, not "
                                      "their changes, so it cannot keep a book (capture <symbol>@depth@… instead)")
                    continue
                ev = data.get("e")
                if ev is None and str(msg.get("stream", "")).endswith("@bookTicker"):
                    ev = "bookTicker"   # spot bookTicker messages carry no event type
                sym = data.get("s")
                if not isinstance(sym, str):
                    self.fail(loc, f"{ev or 'stream'} message without a symbol 's'")
                sym = sym.upper()
                if sym != self.symbol:
                    if not self.explicit_symbol:
                        self.fail(loc, f"symbol {sym} after {self.symbol}: the capture holds several symbols "
                                       "(choose one with --symbol)")
                    c["other_symbol_skipped"] += 1
                    continue
                if ev == "depthUpdate":
                    self.on_depth(data, recv, where, loc)
                elif ev in ("trade", "aggTrade"):
                    self.on_trade(ev, data, recv, where, loc)
                elif ev == "bookTicker":
                    self.on_ticker(data, where, loc)
                else:
                    self.unknown(loc, f"unknown event type {ev!r} (known: depthUpdate, trade, aggTrade, bookTicker)")
                    continue
            elif "lastUpdateId" in msg:
                self.on_snapshot(msg, recv, where, loc)
            else:
                self.unknown(loc, "neither a combined-stream message nor a REST depth snapshot")
                continue
            yield from self.drain()
        if self.state != "live" and not self.book_started:
            if c["snapshots"] == 0:
                raise DataError(f"{self.paths[0].name}: no REST depth snapshot (a line with 'lastUpdateId'): "
                                "the book cannot be started")
            raise DataError(f"{self.paths[0].name}: no diff-depth update continues the snapshot "
                            "(U <= lastUpdateId <= u never held)")
        if self.state == "wait" and self.pending:
            self.repairs["depth_dropped_awaiting_resync"] += len(self.pending)
        yield from self.drain(final=True)
        # updates after the last bookTicker cannot be confirmed (its next push may be missing)
        self.bt["updates_unconfirmed_at_end"] += len(self.bt_pend)
        self.bt_pend.clear()
        if len(self.out):
            yield self.out.take()
        self.finish()

    def unknown(self, loc: str, what: str) -> None:
        if not self.repair:
            self.fail(loc, what + " (--repair drops such messages and counts them)")
        self.repairs["unknown_messages_dropped"] += 1

    def finish(self) -> None:
        r = self.report
        r["counts"] = self.out.counts()
        r["n_input_lines"] = self.c["lines"]
        r["symbol"] = self.symbol
        r["book_start_ts"] = self.book_start_ts
        if self.lat_hist:
            v = np.array(list(self.lat_hist.keys()), dtype=np.int64)
            n = np.array(list(self.lat_hist.values()), dtype=np.int64)
            p = quantiles_from_counts(v, n, [0.01, 0.5, 0.99])
            r["latency_ns"] = {"what": "recv_ts - exch_ts per emitted message after removing the skew and "
                                       "clamping (µs resolution)", "p1": p[0] * 1000, "p50": p[1] * 1000,
                               "p99": p[2] * 1000, "max": int(v.max()) * 1000}

    # ------------------------------------------------------------------ messages
    def on_snapshot(self, msg: dict, recv: int, where, loc: str) -> None:
        self.fields("snapshot", msg, loc)
        sym = msg.get("symbol")  # COIN-M snapshots name their symbol (USD-M and spot ones do not)
        if sym is not None and str(sym).upper() != self.symbol:
            if not self.explicit_symbol:
                self.fail(loc, f"snapshot of symbol {sym} in a capture of {self.symbol} (choose one with --symbol)")
            self.c["other_symbol_skipped"] += 1
            return
        self.c["snapshots"] += 1
        last_id = msg["lastUpdateId"]
        if not isinstance(last_id, int) or isinstance(last_id, bool):
            self.fail(loc, f"lastUpdateId {last_id!r} is not an integer")
        spot = "T" not in msg   # a spot snapshot has no time: it takes the first update applied on it
        ts = None if spot else self.ms(msg["T"], loc, "T")
        if not spot:
            self.ms(msg["E"], loc, "E")
        bids = self.levels(msg["bids"], loc, "bids")
        asks = self.levels(msg["asks"], loc, "asks")
        if self.state == "live":
            # A snapshot while the book is live (e.g. a periodic one): it is only a check of the book.
            self.c["snapshots_ignored_while_live"] += 1
            return
        self.snap = (last_id, ts, recv, bids, asks, where)
        self.state = "sync"
        buffered, self.pending = self.pending, deque()
        for upd in buffered:
            self.process_update(upd)

    def on_depth(self, d: dict, recv: int, where, loc: str) -> None:
        self.fields("depthUpdate", d, loc)
        if "ps" in d and not isinstance(d["ps"], str):
            self.fail(loc, f"'ps' {d['ps']!r} is not a pair name")
        self.c["depth_updates"] += 1
        U, u = d["U"], d["u"]
        # spot has no pu: continuity is U = previous u + 1, the same check with pu = U - 1
        pu = d["pu"] if "pu" in d else (U - 1 if isinstance(U, int) and not isinstance(U, bool) else U)
        for name, v in (("U", U), ("u", u), ("pu", pu)):
            if not isinstance(v, int) or isinstance(v, bool):
                self.fail(loc, f"'{name}' {v!r} is not an integer")
        if u < U:
            self.fail(loc, f"update ids go back within the message (U {U} > u {u})")
        key = self.ms(d["E"], loc, "E")
        if "T" in d:
            self.ms(d["T"], loc, "T")
        upd = (U, u, pu, key, recv, self.levels(d["b"], loc, "b"), self.levels(d["a"], loc, "a"), where)
        self.process_update(upd)

    def on_trade(self, ev: str, d: dict, recv: int, where, loc: str) -> None:
        """A trade (one fill) or an aggTrade (the fills of one taker order at one price): one TRADE row."""
        if not self.fields(ev, d, loc):
            return
        if self.trade_stream is None:
            self.trade_stream = ev
            self.report["trade_stream"] = ev
        elif ev != self.trade_stream:
            if not self.repair:
                self.fail(loc, f"an {ev} message in a capture of {self.trade_stream} messages: the two streams "
                               "carry the same trades, which would be counted twice (--repair keeps the first "
                               "stream and drops the other's messages, counting them)")
            self.repairs["second_trade_stream_dropped"] += 1
            return
        if d.get("X", "MARKET") != "MARKET":
            self.c["non_market_trades_skipped"] += 1  # insurance-fund / ADL fills: not order-book trades
            return
        self.c["trades"] += 1
        m = d["m"]
        if not isinstance(m, bool):
            self.fail(loc, f"'m' {m!r} is not true/false")
        p = self.num(self.tick, d["p"], loc)
        q = self.num(self.lot, d["q"], loc)
        if p <= 0 or q <= 0:
            self.fail(loc, f"trade price {d['p']!r} and quantity {d['q']!r} must be > 0")
        t = d["t"] if ev == "trade" else d["a"]  # trade id, or aggregate trade id (consecutive too)
        if isinstance(t, int) and self.last_trade_id is not None and t != self.last_trade_id + 1:
            self.c["trade_id_gaps"] += 1
        self.last_trade_id = t if isinstance(t, int) else self.last_trade_id
        key = self.key_check("trade", self.ms(d["T"], loc, "T"), loc)
        self.ms(d["E"], loc, "E")
        if self.book_started and key < (self.book_start_ts or 0):
            self.c["trades_dropped_before_book"] += 1
            return
        if self.book_started and self.emitted_ts is not None and key < self.emitted_ts:
            # The merge already went past this time (only possible right after a resync snapshot).
            if not self.repair:
                self.fail(loc, "trade older than data already merged")
            self.repairs["exch_ts_clamped"] += 1
            key = self.emitted_ts
        self.tq.append((key, where[1], recv, [(_TRADE_K, -1 if m else 1, p, q)]))

    def on_ticker(self, d: dict, where, loc: str) -> None:
        if not self.fields("bookTicker", d, loc):
            return
        self.bt["book_tickers"] += 1
        u = d["u"]
        if not isinstance(u, int) or isinstance(u, bool):
            self.fail(loc, f"'u' {u!r} is not an integer")
        best = (self.num(self.tick, d["b"], loc), self.num(self.lot, d["B"], loc),
                self.num(self.tick, d["a"], loc), self.num(self.lot, d["A"], loc))
        hist = self.bt_hist
        if hist and u < hist[-1][0]:
            self.bt["tickers_out_of_order"] += 1
            return
        hist.append((u, best, where))
        self.resolve_tickers()
        # Keep only the tickers a later update can still need: the last one at or below every pending or
        # future update's u, and the newer ones.
        floor = self.bt_pend[0][0] if self.bt_pend else self.prev_u
        while len(hist) >= 2 and ((floor is not None and hist[1][0] <= floor) or len(hist) > MAX_BUFFERED_UPDATES):
            hist.popleft()
