"""mmsim L2 rows -> hftbacktest 2.x, and the benchmark's quoting rule as an hftbacktest numba strategy.

Needs the benchmarks' optional extra: ``pip install -e .[bench]`` (``hftbacktest==2.4.4``; note that it
pins ``numpy<2.3``).

- :func:`to_hbt_events` converts an ``mmsim.records.EVENT_DTYPE`` array (L2 kinds) into hftbacktest's
  ``event_dtype``: ``exch_ts`` kept, ``local_ts = exch_ts + feed latency``, ``px = price * tick_size``,
  ``qty = qty * lot_size``, flags ``EXCH_EVENT | LOCAL_EVENT | {DEPTH,TRADE,DEPTH_CLEAR}_EVENT |
  {BUY,SELL}_EVENT``. For DEPTH the side flag is the book side (+1 bid -> BUY_EVENT); for TRADE it is the
  aggressor (+1 buyer-initiated -> BUY_EVENT), the same convention in both libraries.
- :func:`build_backtest` makes a ``HashMapMarketDepthBacktest`` with constant order latencies, the
  risk-averse queue model and the no-partial-fill exchange (what the benchmark compares against).
- :func:`quote_loop` is the quoting rule of mmsim's ``symmetric`` strategy (bid = floor(mid - h),
  ask = ceil(mid + h) in ticks; pull both sides when the book is one-sided), woken every ``interval_ns``
  on hftbacktest's local (feed-delayed) clock, turning targets into orders the way mmsim's engine does
  (docs/event-loop.md "From targets to orders"): a working order already at the target price is kept
  (it keeps its queue position), other working orders on that side are cancelled, and a new order is
  sent when none is left at the target. ``requote_all=True`` instead cancels and re-sends every order at
  every wakeup (the naive loop; it loses queue position every 100 ms).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from numba import njit

import hftbacktest as hbt_mod
from hftbacktest import (
    BacktestAsset,
    BUY,
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    EXCH_EVENT,
    FILLED,
    GTC,
    HashMapMarketDepthBacktest,
    LIMIT,
    LOCAL_EVENT,
    NEW,
    NONE,
    SELL_EVENT,
    TRADE_EVENT,
)
from hftbacktest.binding import event_dtype as HBT_EVENT_DTYPE

from mmsim import records as R

HBT_VERSION = hbt_mod.__version__

_PARTIALLY_FILLED = 5   # hftbacktest.order.PARTIALLY_FILLED (not exported at the top level)
_INVALID_MIN = np.iinfo(np.int64).min   # hftbacktest's "no best bid" tick
_INVALID_MAX = np.iinfo(np.int64).max   # hftbacktest's "no best ask" tick


def to_hbt_events(events: np.ndarray, tick_size: float, lot_size: float,
                  feed_latency_ns: int = 1_000_000) -> np.ndarray:
    """Convert L2 ``EVENT_DTYPE`` rows into an hftbacktest event array (a new array, 64 bytes per row).

    ``feed_latency_ns`` is added to ``exch_ts`` to make ``local_ts`` (a constant feed latency; hftbacktest
    takes feed latency only from the data). A CLEAR of one side is converted to a side clear "up to" the
    farthest price of that side seen so far (hftbacktest clears from the best to ``px``); a CLEAR of both
    sides to hftbacktest's full clear. L3 kinds are refused.
    """
    if events.dtype != R.EVENT_DTYPE:
        raise TypeError("to_hbt_events: expected mmsim.records.EVENT_DTYPE rows")
    kind = events["kind"]
    if not np.isin(kind, R.L2_KINDS).all():
        raise ValueError("to_hbt_events: only L2 rows (DEPTH, TRADE, CLEAR) can be converted")
    side = events["side"]
    # flags by lookup: kind -> event type, side (+1/-1/0 shifted to 2/0/1) -> BUY/SELL/none
    kind_flags = np.zeros(256, np.uint64)
    kind_flags[R.DEPTH] = DEPTH_EVENT
    kind_flags[R.TRADE] = TRADE_EVENT
    kind_flags[R.CLEAR] = DEPTH_CLEAR_EVENT
    side_flags = np.array([SELL_EVENT, 0, BUY_EVENT], np.uint64)
    out = np.empty(len(events), dtype=HBT_EVENT_DTYPE)
    out["ev"] = (np.uint64(EXCH_EVENT | LOCAL_EVENT) | kind_flags[kind]) | side_flags[side.astype(np.intp) + 1]
    out["exch_ts"] = events["exch_ts"]
    out["local_ts"] = events["exch_ts"] + np.int64(feed_latency_ns)
    out["px"] = events["price"] * float(tick_size)
    out["qty"] = events["qty"] * float(lot_size)
    out["order_id"] = 0
    out["ival"] = 0
    out["fval"] = 0.0
    is_depth = kind == R.DEPTH
    is_clear = kind == R.CLEAR
    if is_clear.any():
        px = events["price"]
        bid_rows = is_depth & (side == R.BID)
        ask_rows = is_depth & (side == R.ASK)
        # farthest bid/ask seen up to each row (running min of bids, max of asks)
        low_bid = np.minimum.accumulate(np.where(bid_rows, px, np.iinfo(np.int64).max))
        high_ask = np.maximum.accumulate(np.where(ask_rows, px, 0))
        cb = is_clear & (side == R.BID)
        ca = is_clear & (side == R.ASK)
        out["px"][cb] = np.where(low_bid[cb] == np.iinfo(np.int64).max, 0, low_bid[cb]) * float(tick_size)
        out["px"][ca] = high_ask[ca] * float(tick_size)
    return out


def build_backtest(hbt_events: np.ndarray, tick_size: float, lot_size: float, *,
                   entry_latency_ns: int = 1_000_000, response_latency_ns: int = 1_000_000,
                   queue: str = "risk_averse", exchange: str = "no_partial",
                   maker_fee: float = 0.0, taker_fee: float = 0.0):
    """One-asset ``HashMapMarketDepthBacktest``. Keep ``hbt_events`` alive while the backtest runs."""
    asset = (
        BacktestAsset()
        .data([hbt_events])
        .linear_asset(1.0)
        .constant_order_latency(int(entry_latency_ns), int(response_latency_ns))
        .tick_size(float(tick_size))
        .lot_size(float(lot_size))
        .trading_value_fee_model(float(maker_fee), float(taker_fee))
    )
    if queue == "risk_averse":
        asset = asset.risk_adverse_queue_model()
    elif queue.startswith("power"):
        asset = asset.power_prob_queue_model(float(queue.split(":")[1]) if ":" in queue else 2.0)
    elif queue == "log":
        asset = asset.log_prob_queue_model()
    else:
        raise ValueError(f"unknown queue model {queue!r}")
    if exchange == "no_partial":
        asset = asset.no_partial_fill_exchange()
    elif exchange == "partial":
        asset = asset.partial_fill_exchange()
    else:
        raise ValueError(f"unknown exchange model {exchange!r}")
    return HashMapMarketDepthBacktest([asset])


#: Layout of quote_loop's int64 stats output.
STATS = ("wakeups", "submitted", "cancels", "num_trades", "position_lots", "last_ts", "first_wake_ts",
         "pending_skips", "fills_logged")
#: Columns of quote_loop's fill log (int64): exchange time, side (+1 bought), price (ticks), lots, maker.
FILL_LOG = ("exch_ts", "side", "price", "qty", "maker")


@njit
def _log_fill(o, lot, fill_log, stats):
    k = stats[8]
    if k < fill_log.shape[0]:
        fill_log[k, 0] = o.exch_timestamp
        fill_log[k, 1] = 1 if o.side == BUY else -1
        fill_log[k, 2] = o.price_tick
        fill_log[k, 3] = np.int64(round(o.exec_qty / lot))
        fill_log[k, 4] = 1 if o.arr[0].maker else 0   # no `maker` property on the jitclass
    stats[8] = k + 1


@njit
def quote_loop(hbt, half_spread2, size_lots, interval_ns, first_delay_ns, requote_all, stats, fill_log):
    """The ``symmetric`` quoting rule on hftbacktest; returns 0 at the end of data, else an error code.

    ``half_spread2`` is 2h in ticks (integers throughout, as mmsim's ``SymmetricQuoter``). The first wakeup
    is ``first_delay_ns`` after the first event (hftbacktest's clock starts at the first row's ``exch_ts``),
    then every ``interval_ns``. Fills are counted from hftbacktest's local state values (``num_trades``);
    orders the strategy learned were filled are also written to ``fill_log`` (rows beyond its length are
    counted, not written; pass a 0-row array to skip the log). With 1-lot orders and the no-partial-fill
    exchange, one filled order is one fill.
    """
    asset = 0
    next_id = 1
    depth = hbt.depth(asset)
    tick = depth.tick_size
    lot = depth.lot_size
    qty = size_lots * lot
    r = hbt.elapse(first_delay_ns)
    if r == 0:
        stats[6] = hbt.current_timestamp
    while r == 0:
        stats[0] += 1
        depth = hbt.depth(asset)
        bb = depth.best_bid_tick
        ba = depth.best_ask_tick
        one_sided = bb == _INVALID_MIN or ba == _INVALID_MAX
        bid = 0
        ask = 0
        if not one_sided:
            mid2 = bb + ba
            bid = (mid2 - half_spread2) // 2
            ask = -((-(mid2 + half_spread2)) // 2)
        have_bid = False
        have_ask = False
        values = hbt.orders(asset).values()
        while values.has_next():
            o = values.get()
            st = o.status
            rq = o.req
            if st == FILLED:
                _log_fill(o, lot, fill_log, stats)
                continue
            live = (st == NEW or st == _PARTIALLY_FILLED) and rq == NONE   # acked, no request in flight
            pending_new = st == NONE and rq == NEW                          # sent, not yet acked
            if not (live or pending_new):
                continue
            target = bid if o.side == BUY else ask
            keep = (not requote_all) and (not one_sided) and o.price_tick == target
            if o.side == BUY:
                if keep and not have_bid:
                    have_bid = True
                    continue
            else:
                if keep and not have_ask:
                    have_ask = True
                    continue
            if live:
                hbt.cancel(asset, o.order_id, False)
                stats[2] += 1
            else:
                stats[7] += 1   # a pending new order cannot be cancelled in hftbacktest yet
        hbt.clear_inactive_orders(asset)   # drops filled/cancelled/expired orders (logged above)
        if not one_sided:
            if not have_bid:
                hbt.submit_buy_order(asset, next_id, bid * tick, qty, GTC, LIMIT, False)
                next_id += 1
                stats[1] += 1
            if not have_ask:
                hbt.submit_sell_order(asset, next_id, ask * tick, qty, GTC, LIMIT, False)
                next_id += 1
                stats[1] += 1
        r = hbt.elapse(interval_ns)
    values = hbt.orders(asset).values()   # fills learned after the last wakeup
    while values.has_next():
        o = values.get()
        if o.status == FILLED:
            _log_fill(o, lot, fill_log, stats)
    sv = hbt.state_values(asset)
    stats[3] = sv.num_trades
    stats[4] = np.int64(round(sv.position / lot))
    stats[5] = hbt.current_timestamp
    return 0 if r == 1 else r


def run_hbt(events: np.ndarray, *, tick_size: float = 0.01, lot_size: float = 1.0,
            feed_latency_ns: int = 1_000_000, entry_latency_ns: int = 1_000_000,
            response_latency_ns: int = 1_000_000, interval_ns: int = 100_000_000,
            half_spread: float = 1.0, size: int = 1, queue: str = "risk_averse",
            exchange: str = "no_partial", requote_all: bool = False, warmup: bool = True,
            fill_log_rows: int = 0) -> dict[str, Any]:
    """Convert, build and run the quoting rule through hftbacktest; timings and fill counts as a dict.

    The first wakeup is aligned with mmsim's timer (first row's arrival = ``exch_ts[0] + feed latency``).
    ``warmup`` compiles ``quote_loop`` on a small slice first so ``run_s`` excludes numba compilation.
    With ``fill_log_rows > 0`` the result has ``fill_log``: an int64 array with columns ``FILL_LOG``.
    """
    h2 = int(round(2 * float(half_spread)))
    if warmup:
        small = to_hbt_events(events[: min(len(events), 20_000)], tick_size, lot_size, feed_latency_ns)
        bt = build_backtest(small, tick_size, lot_size, entry_latency_ns=entry_latency_ns,
                            response_latency_ns=response_latency_ns, queue=queue, exchange=exchange)
        quote_loop(bt, h2, int(size), int(interval_ns), int(feed_latency_ns), bool(requote_all),
                   np.zeros(len(STATS), np.int64), np.zeros((0, len(FILL_LOG)), np.int64))
        bt.close()
        del small

    t0 = time.perf_counter()
    hev = to_hbt_events(events, tick_size, lot_size, feed_latency_ns)
    t1 = time.perf_counter()
    bt = build_backtest(hev, tick_size, lot_size, entry_latency_ns=entry_latency_ns,
                        response_latency_ns=response_latency_ns, queue=queue, exchange=exchange)
    t2 = time.perf_counter()
    stats = np.zeros(len(STATS), np.int64)
    fill_log = np.zeros((int(fill_log_rows), len(FILL_LOG)), np.int64)
    rc = quote_loop(bt, h2, int(size), int(interval_ns), int(feed_latency_ns), bool(requote_all), stats,
                    fill_log)
    t3 = time.perf_counter()
    bt.close()
    if rc != 0:
        raise RuntimeError(f"hftbacktest quote loop failed with code {rc}")
    out = dict(zip(STATS, (int(x) for x in stats)))
    n = len(events)
    out.update(
        engine=f"hftbacktest {HBT_VERSION}",
        rows=n,
        n_fills=out["num_trades"],
        convert_s=t1 - t0,
        build_s=t2 - t1,
        run_s=t3 - t2,
        rows_per_s=n / (t3 - t2) if t3 > t2 else float("nan"),
        rows_per_s_incl_build=n / (t3 - t1) if t3 > t1 else float("nan"),
        # from mmsim rows to a result, like mmsim's simulate(): conversion + build + run
        rows_per_s_end_to_end=n / (t3 - t0) if t3 > t0 else float("nan"),
        hbt_array_bytes=int(hev.nbytes),
        queue=queue, exchange=exchange, requote_all=bool(requote_all),
    )
    if fill_log_rows > 0:
        out["fill_log"] = fill_log[: min(int(stats[8]), len(fill_log))]
    return out
