"""Hand-computed scenarios pinning each rule of docs/fills.md and docs/event-loop.md on the pure-Python
reference simulator (src/mmsim/reference/simulator.py). Tiny event streams, zero latencies unless a test is about them."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mmsim import records as R
from mmsim.errors import ConfigError, DataError, StrategyError
from mmsim.reference import ReferenceEngine
from mmsim.records import SUMMARY_KEYS
from mmsim.engine.strategy import Quotes, SymmetricQuoter

B, A = R.BID, R.ASK


# ------------------------------------------------------------------------------------------- helpers
def events(*rows):
    """rows: (exch_ts, kind, side, price, qty[, order_id])."""
    ev = np.zeros(len(rows), R.EVENT_DTYPE)
    ev["recv_ts"] = R.NO_TS
    for i, r in enumerate(rows):
        ev["exch_ts"][i], ev["kind"][i], ev["side"][i], ev["price"][i], ev["qty"][i] = r[:5]
        if len(r) > 5:
            ev["order_id"][i] = r[5]
    return ev


def depth(t, side, price, qty):
    return (t, R.DEPTH, side, price, qty)


def trade(t, aggressor, price, qty):
    return (t, R.TRADE, aggressor, price, qty)


BOOK = [depth(1000, B, 100, 5), depth(1000, A, 101, 5)]  # bid 100 x5 / ask 101 x5 at t=1000


class Script:
    """Runs ``steps[k](ctx)`` at the k-th wakeup (None otherwise) and records what each wakeup saw."""

    def __init__(self, steps=None):
        self.steps = dict(steps or {})
        self.seen = []

    def on_wakeup(self, ctx):
        k = len(self.seen)
        self.seen.append(dict(
            now=ctx.now, reason=ctx.reason, best_bid=ctx.best_bid, bid_qty=ctx.bid_qty, best_ask=ctx.best_ask,
            ask_qty=ctx.ask_qty, position=ctx.position, cash=ctx.cash, ewma=ctx.ewma_mid, rows=ctx.data_rows,
            data_exch_ts=ctx.data_exch_ts, data_arrival_ts=ctx.data_arrival_ts, open=ctx.open_orders(),
            depth=[ctx.depth(B, 0), ctx.depth(B, 1), ctx.depth(A, 0), ctx.depth(A, 1)]))
        fn = self.steps.get(k)
        return fn(ctx) if fn else None


def submit_first(*orders):
    """A strategy that submits the given (side, price, qty[, tif]) orders at its first wakeup."""
    return Script({0: lambda ctx: [ctx.submit(*o) for o in orders] and None})


def run(ev, strategy, *, feed=0, arrival=None, entry=0, cancel=0, response=0, compute=0, **cfg):
    if arrival is None:
        arrival = np.maximum.accumulate(ev["exch_ts"] + np.asarray(feed, np.int64))
    lat = {name: np.atleast_1d(np.asarray(v, np.int64))
           for name, v in dict(entry=entry, cancel=cancel, response=response, compute=compute).items()}
    eng = ReferenceEngine(ev, np.asarray(arrival, np.int64), lat, cfg, strategy)
    assert eng.step(10**9) is True
    return eng


def fills_of(eng):
    f = eng.fills()
    return [(int(r["order_id"]), int(r["exch_ts"]), int(r["price"]), int(r["qty"]), int(r["cause"]),
             int(r["data_row"])) for r in f]


# ------------------------------------------------------------------------------------ queue position
def test_risk_averse_queue_trade_reduces_ahead_level_decrease_takes_min():
    ev = events(*BOOK,
                trade(2000, A, 100, 2),   # ahead 5 -> 3, floor(2 - 5) < 0: no fill
                depth(3000, B, 100, 1),   # decrease never fills; ahead = min(3, 1) = 1
                depth(4000, B, 100, 6),   # growth goes behind us: ahead stays 1
                trade(5000, A, 100, 3),   # floor(3 - 1) = 2 lots
                trade(6000, A, 100, 1))   # ahead 0: the last lot
    eng = run(ev, submit_first((B, 100, 3)))
    assert fills_of(eng) == [(1, 5000, 100, 2, R.CAUSE_TRADE, 5), (1, 6000, 100, 1, R.CAUSE_TRADE, 6)]
    o = eng.orders()[0]
    assert (o["status"], o["filled"], o["exch_ts"], o["done_ts"]) == (R.ST_FILLED, 3, 1000, 6000)
    f = eng.fills()
    assert f["maker"].tolist() == [1, 1] and f["side"].tolist() == [1, 1] and f["position"].tolist() == [2, 3]


def _prob_scenario(model, **cfg):
    # our bid joins behind 4 lots; the level grows to 20 (behind us), then drops to 10 with no trades.
    ev = events(depth(1000, B, 100, 4), depth(1000, A, 101, 5),
                depth(2000, B, 100, 20),
                depth(3000, B, 100, 10))
    eng = run(ev, submit_first((B, 100, 10)), queue_model=model, **cfg)
    return eng.orders_[0].ahead


def test_probabilistic_queue_models_hand_computed():
    # front = 4, back = 20 - 4 = 16, chg = 20 - 10 - 0 = 10; ahead = front - (1-p) chg + min(back - p chg, 0)
    p = 16**2 / (16**2 + 4**2)
    assert _prob_scenario("power", queue_power=2.0) == pytest.approx(4 - (1 - p) * 10)        # 3.41176
    p = math.log(17) / (math.log(17) + math.log(5))
    assert _prob_scenario("log") == pytest.approx(4 - (1 - p) * 10)                           # 0.37733
    assert _prob_scenario("risk_averse") == 4.0


def test_probabilistic_queue_trades_counted_once_and_fill_rounded_down():
    ev = events(depth(1000, B, 100, 4), depth(1000, A, 101, 5),
                depth(2000, B, 100, 20),
                trade(2500, A, 100, 2),     # ahead 4 -> 2, traded 2 (no fill: floor(2 - 4) < 0)
                depth(3000, B, 100, 8),     # chg = 20 - 8 - 2 = 10; front 2, back 18
                trade(4000, A, 100, 3))
    eng = run(ev, submit_first((B, 100, 10)), queue_model="log")
    p = math.log(19) / (math.log(19) + math.log(3))
    ahead = max(min(2 - (1 - p) * 10 + min(18 - p * 10, 0), 8), 0)   # = 0 (floored): we are at the front
    assert ahead == 0
    assert fills_of(eng) == [(1, 4000, 100, 3, R.CAUSE_TRADE, 5)]
    # risk-averse on the same data: ahead = min(2, 8) = 2 -> floor(3 - 2) = 1
    eng = run(ev, submit_first((B, 100, 10)))
    assert fills_of(eng) == [(1, 4000, 100, 1, R.CAUSE_TRADE, 5)]


def test_power_queue_fill_is_floor_of_real_estimate():
    ev = events(depth(1000, B, 100, 4), depth(1000, A, 101, 5),
                depth(2000, B, 100, 20),
                depth(3000, B, 100, 10),   # ahead = 3.41176 (power 2)
                trade(4000, A, 100, 5))    # floor(5 - 3.41) = 1
    eng = run(ev, submit_first((B, 100, 10)), queue_model="power")
    assert fills_of(eng) == [(1, 4000, 100, 1, R.CAUSE_TRADE, 4)]


# --------------------------------------------------------------------------------------------- rule T
def test_trade_through_fills_regardless_of_queue_and_volume_is_handed_out_once():
    # own asks: 101 x2 (behind 5 lots) and 102 x5 (behind 1 lot). A buyer prints 4 lots at 102.
    ev = events(*BOOK, depth(1000, A, 102, 1),
                trade(2000, B, 102, 4))
    eng = run(ev, submit_first((A, 101, 2), (A, 102, 5)))
    # 101 is better than the print: trade-through, min(2, 4) = 2; r = 2; at 102: floor(2 - 1) = 1.
    assert fills_of(eng) == [(1, 2000, 101, 2, R.CAUSE_TRADE_THROUGH, 3), (2, 2000, 102, 1, R.CAUSE_TRADE, 3)]
    assert eng.summary()["volume"] == 3 <= 4


def test_same_print_never_fills_twice_over_two_own_orders_fifo():
    ev = events(depth(1000, B, 99, 5), depth(1000, A, 101, 5),
                trade(2000, A, 100, 4))           # a seller prints 4 at 100, where only our bids rest
    eng = run(ev, submit_first((B, 100, 3), (B, 100, 3)))
    assert fills_of(eng) == [(1, 2000, 100, 3, R.CAUSE_TRADE, 2), (2, 2000, 100, 1, R.CAUSE_TRADE, 2)]


def test_trade_on_the_wrong_side_or_worse_price_does_not_fill():
    ev = events(depth(1000, B, 99, 5), depth(1000, A, 101, 5),
                trade(2000, B, 100, 9),   # buyer-initiated: can only fill asks
                trade(3000, A, 99, 9))    # a seller printed at 99: our better bid at 100 was hit first
    eng = run(ev, submit_first((B, 100, 1)))
    assert fills_of(eng) == [(1, 3000, 100, 1, R.CAUSE_TRADE_THROUGH, 3)]


# --------------------------------------------------------------------------------------------- rule C
def test_cross_fills_all_leaves_at_own_price_in_order_id_order():
    ev = events(depth(1000, B, 99, 5), depth(1000, A, 103, 5),
                depth(2000, A, 100, 7))     # best ask drops to 100: through our bids at 100 and 101
    eng = run(ev, submit_first((B, 100, 3), (B, 101, 2), (B, 99, 4)))
    assert fills_of(eng) == [(1, 2000, 100, 3, R.CAUSE_CROSS, 2), (2, 2000, 101, 2, R.CAUSE_CROSS, 2)]
    assert eng.fills()["maker"].tolist() == [1, 1]
    assert eng.orders()["status"].tolist() == [R.ST_FILLED, R.ST_FILLED, R.ST_OPEN]


def test_level_decrease_never_fills():
    ev = events(*BOOK, depth(2000, B, 100, 0), depth(3000, B, 99, 1))
    eng = run(ev, submit_first((B, 100, 1)))
    assert fills_of(eng) == []


# --------------------------------------------------------------------------------------------- rule E
def test_taker_walks_two_levels_then_ioc_expires_messages_in_order():
    ev = events(depth(1000, B, 100, 5), depth(1000, A, 101, 2), depth(1000, A, 102, 3),
                depth(1000, A, 103, 5), depth(5000, B, 99, 1))
    s = submit_first((B, 102, 10, "ioc"))
    eng = run(ev, s, response=[10, 20, 30, 40], taker_fee_bps=10.0)
    # ACK (+10), FILL 2@101 (+20), FILL 3@102 (+30), EXPIRED (+40); the book is not depleted.
    f = eng.fills()
    assert fills_of(eng) == [(1, 1000, 101, 2, R.CAUSE_TAKER, 4), (1, 1000, 102, 3, R.CAUSE_TAKER, 4)]
    assert f["recv_ts"].tolist() == [1020, 1030] and f["maker"].tolist() == [0, 0]
    assert f["fee"].tolist() == [101.0 * 1.0 * 2.0 * 1.0 * 10.0 / 1e4, 102.0 * 1.0 * 3.0 * 1.0 * 10.0 / 1e4]
    o = eng.orders()[0]
    assert (o["status"], o["filled"], o["qty"], o["done_ts"], o["tif"]) == (R.ST_EXPIRED, 5, 10, 1000, R.IOC)
    # the strategy learns of the fills by 1030 and of the expiry at 1040
    assert [d["position"] for d in s.seen] == [0, 0, 2, 5, 5, 5]
    assert [d["now"] for d in s.seen] == [1000, 1010, 1020, 1030, 1040, 5000]
    assert s.seen[-1]["open"] == []


def test_taker_gtc_partial_rests_and_is_crossed_at_next_event():
    ev = events(*BOOK, trade(2000, B, 105, 1))
    eng = run(ev, submit_first((B, 101, 8)))
    # 5 lots taken at 101; the remainder rests at 101 while the ask is still 101 (no market impact), so the
    # next data event, whatever it is (here a print on the other side), crosses it (rule C).
    assert fills_of(eng) == [(1, 1000, 101, 5, R.CAUSE_TAKER, 2), (1, 2000, 101, 3, R.CAUSE_CROSS, 2)]


def test_post_only_that_crosses_is_rejected_and_ioc_without_cross_expires():
    ev = events(*BOOK, depth(2000, B, 99, 1))
    s = submit_first((B, 101, 1, "post_only"), (A, 101, 1, "post_only"), (B, 100, 1, "ioc"))
    eng = run(ev, s)
    o = eng.orders()
    assert o["status"].tolist() == [R.ST_REJECTED, R.ST_OPEN, R.ST_EXPIRED]
    assert o["tif"].tolist() == [R.POST_ONLY, R.POST_ONLY, R.IOC]
    assert o["done_ts"].tolist() == [1000, R.NO_TS, 1000]
    assert fills_of(eng) == []
    assert [x[0] for x in s.seen[-1]["open"]] == [2]


def test_post_only_config_applies_to_target_orders():
    ev = events(*BOOK, depth(2000, B, 99, 1))
    eng = run(ev, Script({0: lambda ctx: Quotes(101, 1, 102, 1)}), post_only=True)
    # bid 101 would take the ask 101: rejected
    assert eng.orders()["status"].tolist() == [R.ST_REJECTED, R.ST_OPEN]
    eng = run(ev, Script({0: lambda ctx: Quotes(101, 1, 102, 1)}))
    assert eng.orders()["status"].tolist() == [R.ST_FILLED, R.ST_OPEN]


# ----------------------------------------------------------------------------------- cancel / modify
def test_cancel_racing_a_fill_is_rejected_and_the_fill_stands():
    ev = events(depth(1000, B, 99, 5), depth(1000, A, 101, 5),
                depth(2000, A, 102, 1),      # wakes the strategy, which cancels
                trade(2200, A, 100, 2),      # fills us while the cancel is in flight (it lands at 2500)
                depth(3000, B, 98, 1))
    s = Script({0: lambda ctx: ctx.submit(B, 100, 2) and None, 2: lambda ctx: ctx.cancel(1)})
    eng = run(ev, s, cancel=500, response=100)
    assert fills_of(eng) == [(1, 2200, 100, 2, R.CAUSE_TRADE, 3)]
    o = eng.orders()[0]
    assert (o["status"], o["done_ts"], o["filled"]) == (R.ST_FILLED, 2200, 2)
    assert eng.summary()["position"] == 2
    d = eng.decisions()
    # 1000 submit, 1100 ack, 2000 cancel, 2200 feed, 2300 fill news, 2600 cancel-reject news, 3000 feed
    assert d["ts"].tolist() == [1000, 1100, 2000, 2200, 2300, 2600, 3000]
    assert d["reason"].tolist() == [1, 4, 1, 1, 4, 4, 1]
    assert d["n_cancel"].tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert d["position"].tolist() == [0, 0, 0, 0, 2, 2, 2]


def test_cancel_of_live_order_and_cancel_twice_is_a_no_op():
    ev = events(*BOOK, depth(2000, A, 102, 1), depth(3000, A, 103, 1))
    s = Script({0: lambda ctx: ctx.submit(B, 99, 2) and None,
                1: lambda ctx: (ctx.cancel(1), ctx.cancel(1), ctx.cancel(77)) and None})
    eng = run(ev, s, wake_on_response=False)
    o = eng.orders()[0]
    assert (o["status"], o["done_ts"]) == (R.ST_CANCELLED, 2000)
    assert eng.decisions()["n_cancel"].tolist() == [0, 1, 0]
    assert s.seen[1]["open"] == [(1, B, 99, 2, 2)] and s.seen[2]["open"] == []


def _modify_scenario(new_qty):
    ev = events(depth(1000, B, 100, 3), depth(1000, A, 101, 5),
                depth(2000, B, 100, 10),    # growth behind us: ahead stays 3
                trade(3000, A, 100, 5))
    s = Script({0: lambda ctx: ctx.submit(B, 100, 5) and None,
                1: lambda ctx: ctx.modify(1, new_qty)})
    return run(ev, s, wake_on_response=False), s


def test_modify_down_keeps_priority():
    eng, s = _modify_scenario(2)
    assert fills_of(eng) == [(1, 3000, 100, 2, R.CAUSE_TRADE, 3)]   # min(2, floor(5 - 3))
    assert s.seen[1]["open"] == [(1, B, 100, 5, 5)]
    o = eng.orders()[0]
    assert (o["qty"], o["filled"], o["status"]) == (5, 2, R.ST_FILLED)


def test_modify_up_loses_priority():
    eng, s = _modify_scenario(8)
    assert fills_of(eng) == []          # re-queued behind the 10 lots: floor(5 - 10) < 0
    assert eng.orders_[0].ahead == 5.0
    assert eng.decisions()["n_modify"].tolist() == [0, 1, 0]


def test_modify_up_moves_behind_other_own_orders():
    ev = events(depth(1000, B, 99, 3), depth(1000, A, 101, 5),
                depth(2000, A, 102, 1),
                trade(3000, A, 100, 2))
    s = Script({0: lambda ctx: (ctx.submit(B, 100, 2), ctx.submit(B, 100, 2)) and None,
                1: lambda ctx: ctx.modify(1, 3)})
    eng = run(ev, s, wake_on_response=False)
    assert fills_of(eng) == [(2, 3000, 100, 2, R.CAUSE_TRADE, 3)]


def test_modify_of_finished_order_is_rejected_and_changes_nothing():
    ev = events(*BOOK, trade(1500, A, 100, 99), depth(2000, A, 102, 1), depth(3000, A, 103, 1))
    # bid 100 x1 behind 5 lots: the print of 99 fills it at 1500; a modify sent at 1500 (the strategy still
    # believes it working because responses take 1000 ns) reaches the exchange after the print: rejected.
    s = Script({0: lambda ctx: ctx.submit(B, 100, 1) and None, 1: lambda ctx: ctx.modify(1, 4)})
    eng = run(ev, s, response=1000, wake_on_response=False)
    o = eng.orders()[0]
    assert (o["status"], o["filled"], o["qty"]) == (R.ST_FILLED, 1, 1)
    assert eng.decisions()["ts"].tolist() == [1000, 1500, 2000, 3000]
    assert eng.decisions()["n_modify"].tolist() == [0, 1, 0, 0]
    # qty is the target as sent; leaves as known; the fill news (at 2500) finally finishes it
    assert s.seen[1]["open"] == [(1, B, 100, 1, 1)] and s.seen[2]["open"] == [(1, B, 100, 4, 1)]
    assert s.seen[3]["open"] == []


# ------------------------------------------------------------------------------------------- targets
def test_targets_to_actions():
    ev = events(*BOOK, depth(2000, B, 90, 1), depth(3000, B, 91, 1), depth(4000, B, 92, 1))
    s = Script({0: lambda ctx: Quotes(99, 1, 102, 1),
                1: lambda ctx: Quotes(99, 3, 103, 1),    # bid: modify; ask: cancel 2, then new 3 at 103
                2: lambda ctx: Quotes(0, 0, 103, 1),     # pull the bid, keep the ask
                3: lambda ctx: None})
    eng = run(ev, s, wake_on_response=False)
    d = eng.decisions()
    assert d["n_new"].tolist() == [2, 1, 0, 0]
    assert d["n_cancel"].tolist() == [0, 1, 1, 0]
    assert d["n_modify"].tolist() == [0, 1, 0, 0]
    assert d[["bid_price", "bid_qty", "ask_price", "ask_qty"]].tolist()[2:] == [(0, 0, 103, 1), (0, -1, 0, -1)]
    o = eng.orders()
    assert o["status"].tolist() == [R.ST_CANCELLED, R.ST_CANCELLED, R.ST_OPEN]
    assert o["decision_id"].tolist() == [0, 0, 1]
    assert s.seen[2]["open"] == [(1, B, 99, 3, 3), (3, A, 103, 1, 1)]


def test_targets_keep_lowest_id_at_price_cancel_others_first():
    ev = events(*BOOK, depth(2000, B, 90, 1), depth(3000, B, 91, 1))
    s = Script({0: lambda ctx: (ctx.submit(B, 98, 1), ctx.submit(B, 99, 1), ctx.submit(B, 99, 2)) and None,
                1: lambda ctx: Quotes(99, 2, 0, 0)})
    eng = run(ev, s, wake_on_response=False, cancel=[10], entry=[7])
    d = eng.decisions()[1]
    assert (d["n_new"], d["n_cancel"], d["n_modify"]) == (0, 2, 1)
    o = eng.orders()
    assert o["status"].tolist() == [R.ST_CANCELLED, R.ST_OPEN, R.ST_CANCELLED]
    # cancels (ids 1, 3) leave first, then the modify of id 2; the modify lands at max(2007, 2010)
    assert eng.orders_[1].leaves == 2
    assert o["done_ts"].tolist() == [2010, R.NO_TS, 2010]


def test_low_level_actions_go_before_targets_and_ids_are_assigned_at_submit():
    ev = events(*BOOK, depth(5000, B, 90, 1))
    s = Script({0: lambda ctx: Quotes(98, 1, 0, 0) if ctx.submit(A, 105, 1) == 1 else None})
    eng = run(ev, s, entry=[10, 20])
    o = eng.orders()
    assert o["order_id"].tolist() == [1, 2] and o["side"].tolist() == [A, B]
    assert o["exch_ts"].tolist() == [1010, 1020] and o["sent_ts"].tolist() == [1000, 1000]


def test_requests_are_never_reordered_and_tables_cycle():
    ev = events(*BOOK, depth(5000, B, 90, 1))
    eng = run(ev, submit_first((B, 95, 1), (B, 96, 1), (B, 97, 1)), entry=[30, 10])
    # 1000+30, max(1000+10, 1030), max(1000+30, 1030)
    assert eng.orders()["exch_ts"].tolist() == [1030, 1030, 1030]
    eng = run(ev, submit_first((B, 95, 1), (B, 96, 1), (B, 97, 1)), entry=[10, 30], compute=5)
    assert eng.orders()["exch_ts"].tolist() == [1015, 1035, 1035]
    assert eng.orders()["sent_ts"].tolist() == [1005] * 3


# ------------------------------------------------------------------------------------------------ L3
def add(t, oid, side, price, qty):
    return (t, R.ADD, side, price, qty, oid)


def cancel(t, oid, side, price, qty):
    return (t, R.CANCEL, side, price, qty, oid)


def delete(t, oid, side, price, qty):
    return (t, R.DELETE, side, price, qty, oid)


def execute(t, oid, side, price, qty):
    return (t, R.EXECUTE, side, price, qty, oid)


def test_l3_fifo_executions_behind_us_fill_us_ahead_do_not():
    ev = events(add(1000, 1, B, 100, 5), add(1000, 2, A, 101, 5),
                # our bid 100 x3 arrives at 1000 with next row 2: seq 3, ahead 5 (order 1)
                add(2000, 3, B, 100, 4),       # behind us: ahead stays 5
                cancel(3000, 3, B, 100, 1),    # behind us: no change
                cancel(4000, 1, B, 100, 2),    # ahead of us: ahead 3
                execute(5000, 1, B, 100, 3),   # X ahead of us: no fill, ahead 0
                execute(6000, 3, B, 100, 2),   # X behind us: the aggressor passed us: floor(2 - 0) = 2
                execute(7000, 3, B, 100, 1))   # last lot
    eng = run(ev, submit_first((B, 100, 3)), mode="l3")
    assert fills_of(eng) == [(1, 6000, 100, 2, R.CAUSE_EXECUTE, 6), (1, 7000, 100, 1, R.CAUSE_EXECUTE, 7)]
    assert eng.ex_book.levels[B] == {} and eng.st_book.levels[B] == {}


def test_l3_removals_behind_us_do_not_advance_queue():
    ev = events(add(1000, 1, B, 100, 5), add(1000, 2, A, 101, 5),
                add(2000, 3, B, 100, 4),       # behind us (seq 4 > our 3)
                cancel(3000, 3, B, 100, 3),    # behind us: ahead stays 5
                delete(3500, 3, B, 100, 1),
                trade(4000, A, 100, 7))        # hidden execution: floor(7 - 5) = 2
    eng = run(ev, submit_first((B, 100, 3)), mode="l3")
    assert fills_of(eng) == [(1, 4000, 100, 2, R.CAUSE_TRADE, 5)]
    assert eng.orders_[0].ahead == 5.0 and eng.orders_[0].seq == 3


def test_l3_delete_ahead_advances_queue_and_trade_changes_no_ahead():
    ev = events(add(1000, 1, B, 100, 5), add(1000, 2, A, 101, 5),
                trade(2000, A, 100, 7),        # hidden execution: floor(7 - 5) = 2; ahead stays 5
                trade(3000, A, 100, 6),        # floor(6 - 5) = 1 -> filled (3 lots)
                delete(4000, 1, B, 100, 5))
    eng = run(ev, submit_first((B, 100, 3)), mode="l3")
    assert fills_of(eng) == [(1, 2000, 100, 2, R.CAUSE_TRADE, 2), (1, 3000, 100, 1, R.CAUSE_TRADE, 3)]
    ev = events(add(1000, 1, B, 100, 5), add(1000, 2, A, 101, 5),
                delete(2000, 1, B, 100, 5),   # ahead 0
                add(2000, 3, B, 100, 9),      # behind us
                execute(3000, 3, B, 100, 4))  # X behind us: floor(4 - 0) -> 3
    eng = run(ev, submit_first((B, 100, 3)), mode="l3")
    assert fills_of(eng) == [(1, 3000, 100, 3, R.CAUSE_EXECUTE, 4)]


def test_l3_add_through_our_price_crosses():
    ev = events(add(1000, 1, B, 99, 5), add(1000, 2, A, 102, 5),
                add(2000, 3, A, 100, 1))      # a new best ask at our bid's price
    eng = run(ev, submit_first((B, 100, 3)), mode="l3")
    assert fills_of(eng) == [(1, 2000, 100, 3, R.CAUSE_CROSS, 2)]


def test_l3_execute_at_worse_price_is_trade_through():
    ev = events(add(1000, 1, B, 99, 5), add(1000, 2, A, 102, 5),
                execute(2000, 1, B, 99, 2))   # a seller reached 99: our bid at 100 first
    eng = run(ev, submit_first((B, 100, 3)), mode="l3")
    assert fills_of(eng) == [(1, 2000, 100, 2, R.CAUSE_TRADE_THROUGH, 2)]


@pytest.mark.parametrize("bad, match", [
    (execute(2000, 9, B, 100, 1), "row 2: .*unknown order id 9"),
    (add(2000, 1, B, 100, 1), "row 2: ADD of order id 1"),
    (cancel(2000, 1, A, 100, 1), "row 2: CANCEL of order id 1 at side -1"),
    (delete(2000, 1, B, 99, 5), "row 2: DELETE of order id 1 .* price 99"),
    (cancel(2000, 1, B, 100, 6), "row 2: CANCEL of 6 lots"),
    (execute(2000, 1, B, 100, 6), "row 2: EXECUTE of 6 lots"),
    (delete(2000, 1, B, 100, 4), "row 2: DELETE of order id 1 with qty 4, but 5 remain"),
    (depth(2000, B, 100, 1), "row 2: event kind DEPTH is not valid in L3 mode"),
])
def test_l3_bad_input_errors(bad, match):
    ev = events(add(1000, 1, B, 100, 5), add(1000, 2, A, 101, 5), bad)
    with pytest.raises(DataError, match=match):
        run(ev, Script(), mode="l3")


def test_l3_order_gone_after_full_cancel():
    ev = events(add(1000, 1, B, 100, 5), add(1000, 2, A, 101, 5), cancel(2000, 1, B, 100, 5),
                delete(3000, 1, B, 100, 0))
    with pytest.raises(DataError, match="row 3: DELETE of unknown order id 1"):
        run(ev, Script(), mode="l3")


# -------------------------------------------------------------------------------------- crossed books
def test_crossed_book_is_an_error_at_the_end_of_the_timestamp_group():
    ev = events(*BOOK,
                depth(2000, B, 101, 1), depth(2000, A, 101, 0), depth(2000, A, 102, 1),  # transient: fine
                depth(3000, B, 102, 1))
    with pytest.raises(DataError, match=r"^row 5: crossed book: best bid 102 >= best ask 102$"):
        run(ev, Script())


def test_crossed_book_repair_removes_stale_side_and_counts_levels():
    ev = events(*BOOK, depth(1000, A, 102, 2), depth(1000, A, 103, 3),
                depth(2000, B, 102, 1),     # the bid moved: asks 101 and 102 are stale
                depth(3000, B, 99, 1))
    s = Script()
    eng = run(ev, s, crossed_policy="repair")
    assert eng.summary()["repaired_crossed_levels"] == 2
    assert s.seen[1]["best_bid"] == 102 and s.seen[1]["best_ask"] == 103   # strategy side repaired too
    assert eng.summary()["final_mid"] == 102.5
    # the last touched side was the ask: the stale bids go
    ev = events(*BOOK, depth(1000, B, 99, 1), depth(2000, A, 98, 1))
    eng = run(ev, Script(), crossed_policy="repair")
    assert eng.summary()["repaired_crossed_levels"] == 2
    assert eng.summary()["final_mid"] == 100.5   # one-sided at the end: the last two-sided mid
    assert list(eng.ex_book.levels[B]) == [] and eng.ex_book.best(A) == 98


def test_repair_happens_before_rule_c():
    # a GTC buy at 101 x8 takes the 5 lots at 101 and rests 3 at 101 while the ask 101 is still displayed;
    # then the bid moves to 102: the book is crossed, the ask 101 is stale and is repaired away before
    # rule C looks, so the resting remainder is not crossed.
    ev = events(*BOOK, depth(1000, A, 103, 1), depth(2000, B, 102, 1))
    eng = run(ev, submit_first((B, 101, 8)), crossed_policy="repair")
    assert fills_of(eng) == [(1, 1000, 101, 5, R.CAUSE_TAKER, 3)]
    assert eng.summary()["repaired_crossed_levels"] == 1
    assert eng.orders()["status"].tolist() == [R.ST_OPEN]


# --------------------------------------------------------------------------------- clocks and latency
def test_feed_latency_books_lag_and_rows_arrive_in_order():
    ev = events(*BOOK, trade(2000, A, 100, 9), depth(2100, B, 100, 1))
    # feed latency: row 2 is slow (5000), row 3 fast (10) but held back behind it (the max rule)
    arrival = np.maximum.accumulate(ev["exch_ts"] + np.array([0, 0, 5000, 10]))
    assert arrival.tolist() == [1000, 1000, 7000, 7000]
    s = submit_first((B, 100, 1))
    eng = run(ev, s, arrival=arrival, wake_on_response=False, timer_interval_ns=3000)
    # the exchange filled us at 2000 (floor(9 - 5) >= 1) long before the strategy saw the print
    assert fills_of(eng) == [(1, 2000, 100, 1, R.CAUSE_TRADE, 2)]
    d = eng.decisions()
    assert d["ts"].tolist() == [1000, 4000, 7000]
    assert d["data_rows"].tolist() == [2, 2, 4]
    assert d["data_exch_ts"].tolist() == [1000, 1000, 2100]
    assert d["data_arrival_ts"].tolist() == [1000, 1000, 7000]
    assert d["reason"].tolist() == [R.WAKE_FEED | R.WAKE_TIMER, R.WAKE_TIMER, R.WAKE_FEED | R.WAKE_TIMER]
    assert s.seen[1]["bid_qty"] == 5 and s.seen[2]["bid_qty"] == 1
    assert (d["data_arrival_ts"] <= d["ts"]).all()


def test_same_timestamp_market_data_before_our_request():
    ev = events(*BOOK,
                depth(2000, B, 100, 8),   # same instant our order arrives: applied first -> ahead 8
                trade(3000, A, 100, 7),   # floor(7 - 8) < 0; ahead 1
                trade(4000, A, 100, 3))   # floor(3 - 1) = 2
    eng = run(ev, submit_first((B, 100, 5)), entry=1000)
    assert fills_of(eng) == [(1, 4000, 100, 2, R.CAUSE_TRADE, 4)]
    assert eng.orders()["exch_ts"].tolist() == [2000]


def test_same_timestamp_wakeup_sees_feed_response_and_timer():
    ev = events(*BOOK, depth(2000, B, 99, 1), depth(3000, B, 98, 1))
    s = submit_first((B, 101, 1))       # takes 1 lot at 101; ACK and FILL reach the strategy at 2000
    eng = run(ev, s, entry=500, response=500, timer_interval_ns=1000)
    d = eng.decisions()
    assert d["ts"].tolist() == [1000, 2000, 3000]
    assert d["reason"].tolist() == [3, 7, 3]
    assert d["position"].tolist() == [0, 1, 1]
    assert eng.fills()["recv_ts"].tolist() == [2000]


def test_timer_and_compute_latency_defer_and_coalesce_wakeups():
    ev = events(depth(1000, B, 100, 1), depth(1000, A, 101, 1), depth(2200, B, 99, 1), depth(5000, B, 98, 1))
    eng = run(ev, Script(), timer_interval_ns=1000, compute=1500)
    d = eng.decisions()
    # 1000: feed+timer, busy until 2500; tick 2000 and row 2200 wait and coalesce at 2500; busy until 4000;
    # ticks 3000 and 4000 coalesce at 4000; busy until 5500 > T_end = 5000: the run ends.
    assert d["ts"].tolist() == [1000, 2500, 4000]
    assert d["wire_ts"].tolist() == [2500, 4000, 5500]
    assert d["reason"].tolist() == [3, 3, 2]
    assert d["data_rows"].tolist() == [2, 3, 3]
    assert d["decision_id"].tolist() == [0, 1, 2]


def test_timer_only_and_tick_at_t_end():
    ev = events(depth(1000, B, 100, 1), depth(1000, A, 101, 1), depth(5000, B, 99, 1))
    eng = run(ev, Script(), timer_interval_ns=1000, wake_on_feed=False)
    d = eng.decisions()
    assert d["ts"].tolist() == [1000, 2000, 3000, 4000, 5000]
    assert set(d["reason"].tolist()) == {R.WAKE_TIMER}


def test_nothing_after_t_end_is_processed():
    ev = events(*BOOK, depth(2000, B, 99, 1))
    eng = run(ev, Script({0: lambda ctx: ctx.submit(B, 95, 1) and None,
                          1: lambda ctx: ctx.submit(B, 96, 1) and None}), entry=500, wake_on_response=False)
    o = eng.orders()
    assert o["status"].tolist() == [R.ST_OPEN, R.ST_PENDING]
    assert o["exch_ts"].tolist() == [1500, R.NO_TS] and o["sent_ts"].tolist() == [1000, 2000]


def test_endless_wakeups_at_one_instant_are_a_strategy_error():
    class Flicker:    # sends an IOC that cannot fill on every wakeup; zero latency: its expiry wakes it again
        def on_wakeup(self, ctx):
            ctx.submit(B, 90, 1, "ioc")

    eng = ReferenceEngine(events(*BOOK), np.array([1000, 1000]),
                          {k: np.array([0]) for k in ("entry", "cancel", "response", "compute")},
                          {"strategy_name": "flicker"}, Flicker())
    with pytest.raises(StrategyError, match=r"^strategy flicker failed at t=1000 ns: woke 1000 times without"):
        eng.step(10)
    assert len(eng.decisions()) == 1000 and eng.summary()["position"] == 0


def test_own_taker_orders_deplete_the_displayed_level_until_the_data_updates_it():
    # Ask 101 shows 5 lots (BOOK). Three IOCs for 2 lots in one instant take 2, 2, then the last 1.
    eng = run(events(*BOOK, depth(5000, A, 101, 5), depth(9000, A, 102, 1)),
              Script({0: lambda ctx: [ctx.submit(B, 101, 2, "ioc") for _ in range(3)] and None,
                      1: lambda ctx: ctx.submit(B, 101, 4, "ioc") and None}), entry=0, response=0,
              wake_on_response=False)  # wakeup 1 is the feed row at 5000
    f = eng.fills()
    assert f["qty"].tolist() == [2, 2, 1, 4]        # the update at 5000 restored the full 5 lots
    assert eng.orders()["status"].tolist() == [R.ST_FILLED, R.ST_FILLED, R.ST_EXPIRED, R.ST_FILLED]


def test_empty_run():
    eng = ReferenceEngine(np.zeros(0, R.EVENT_DTYPE), np.zeros(0, np.int64),
                          {k: np.array([0]) for k in ("entry", "cancel", "response", "compute")}, {}, Script())
    assert eng.step(1) is True
    s = eng.summary()
    assert tuple(s) == SUMMARY_KEYS and s["n_decisions"] == 0 and math.isnan(s["final_mid"]) and s["pnl"] == 0.0
    assert len(eng.fills()) == len(eng.orders()) == len(eng.decisions()) == 0


def test_step_in_chunks_gives_identical_results():
    rng = np.random.default_rng(7)
    rows, t = [], 0
    for i in range(400):
        t += int(rng.integers(0, 3)) * 100
        side = int(rng.choice([B, A]))
        if rng.random() < 0.3:
            rows.append(trade(t, side, 100 + (1 if side == B else -1) * int(rng.integers(0, 2)),
                              int(rng.integers(1, 6))))
        else:
            rows.append(depth(t, side, 100 - side * int(rng.integers(1, 4)), int(rng.integers(0, 8))))
    ev = events(*rows)
    arrival = np.maximum.accumulate(ev["exch_ts"] + rng.integers(0, 300, len(ev)))
    lat = {"entry": np.array([50, 120]), "cancel": np.array([30]), "response": np.array([40, 10, 90]),
           "compute": np.array([20, 0])}
    cfg = dict(crossed_policy="repair", timer_interval_ns=250, queue_model="power", maker_fee_bps=-0.5)
    results = []
    for chunk in (1, 7, 10**9):
        eng = ReferenceEngine(ev, arrival, lat, cfg, SymmetricQuoter(1, 2))
        steps = 0
        while not eng.step(chunk):
            steps += 1
        assert steps >= (len(ev) // chunk) - 1
        results.append((eng.fills(), eng.orders(), eng.decisions(), eng.summary()))
    assert results[0][3]["n_fills"] > 0
    for other in results[1:]:
        for a, b in zip(results[0][:3], other[:3]):
            assert a.tobytes() == b.tobytes()
        assert other[3] == results[0][3]


# -------------------------------------------------------------------------------------- features
def test_ewma_mid_exact_time_decay():
    ev = events(depth(1000, B, 100, 1),                         # one-sided: no update, NaN
                depth(2000, A, 101, 1),                         # first mid 100.5
                depth(3000, A, 103, 1), depth(3000, A, 101, 0),  # 3000: mid 100.5 (held), then 101.5
                depth(4000, B, 99, 1))                          # 4000: mid still 101.5
    s = Script()
    run(ev, s, ewma_tau_ns=1000)
    e = [d["ewma"] for d in s.seen]
    assert math.isnan(e[0]) and e[1] == 100.5
    w = math.exp(-1.0)
    # at 3000: w*100.5 + (1-w)*100.5, then (same time, w = 1) unchanged while 101.5 becomes the held value
    assert e[2] == pytest.approx(100.5)
    assert e[3] == w * 100.5 + (1 - w) * 101.5          # at 4000: 101.5 held for one horizon


# ------------------------------------------------------------------------------------ fees and pnl
def test_fees_rebates_cash_and_pnl():
    ev = events(depth(1000, B, 100, 5), depth(1000, A, 101, 5), depth(1000, A, 104, 5),
                trade(2000, B, 103, 1),    # a buyer prints 1 at 103, where our ask rests with nothing ahead
                depth(3000, B, 100, 6))
    s = Script({0: lambda ctx: ctx.submit(B, 101, 2) and None,        # taker 2 @ 101
                1: lambda ctx: ctx.submit(A, 103, 1) and None})       # rests at 103 (ahead 0)
    cfg = dict(maker_fee_bps=-1.0, taker_fee_bps=5.0, tick_size=0.5, lot_size=2.0)
    eng = run(ev, s, **cfg)
    taker_fee = float(101) * 0.5 * float(2) * 2.0 * 5.0 / 1e4
    maker_fee = float(103) * 0.5 * float(1) * 2.0 * -1.0 / 1e4
    assert eng.fills()["fee"].tolist() == [taker_fee, maker_fee]
    sm = eng.summary()
    assert sm["cash_ticklots"] == -202 + 103 and sm["position"] == 1
    assert sm["fees"] == taker_fee + maker_fee
    assert sm["final_mid"] == 100.5
    assert sm["pnl"] == -99 * 0.5 * 2.0 - (taker_fee + maker_fee) + 1 * 100.5 * 0.5 * 2.0
    # the strategy's cash: known cash in tick*lots times tick*lot, minus known fees
    assert s.seen[-1]["cash"] == -99 * 0.5 * 2.0 - (taker_fee + maker_fee)
    assert s.seen[-1]["position"] == 1


def test_pnl_position_term_only_when_not_flat():
    ev = events(depth(1000, B, 100, 5), trade(2000, A, 100, 9))   # the book is never two-sided
    eng = run(ev, submit_first((B, 100, 1)))   # floor(9 - 5) = 4 -> 1 lot
    sm = eng.summary()
    assert sm["position"] == 1 and math.isnan(sm["final_mid"]) and math.isnan(sm["pnl"])
    eng = run(ev, Script())
    assert math.isnan(eng.summary()["final_mid"]) and eng.summary()["pnl"] == 0.0


# --------------------------------------------------------------------------------- strategy errors
class Boom:
    def on_wakeup(self, ctx):
        return 1 / 0


def test_strategy_exception_becomes_strategy_error():
    with pytest.raises(StrategyError, match=r"^strategy boom failed at t=1000 ns: ZeroDivisionError: "
                                            r"division by zero$") as ei:
        run(events(*BOOK), Boom(), strategy_name="boom")
    assert isinstance(ei.value.__cause__, ZeroDivisionError)


@pytest.mark.parametrize("fn, match", [
    (lambda ctx: (1, 2, 3), r"or None, got tuple"),
    (lambda ctx: [99, 1, 102, 1], r"or None, got list"),
    (lambda ctx: Quotes(99, -1, 102, 1), "negative target quantity"),
    (lambda ctx: Quotes(102, 1, 102, 1), "crossed target quotes: bid 102 >= ask 102"),
    (lambda ctx: Quotes(99.5, 1, 102, 1), "integers"),
    (lambda ctx: ctx.submit(0, 100, 1), "StrategyError: submit: side"),
    (lambda ctx: ctx.submit(B, 100, 0), "StrategyError: submit: qty"),
    (lambda ctx: ctx.submit(B, 100, 1, "fok"), "StrategyError: submit: tif"),
    (lambda ctx: ctx.modify(1, 0), "StrategyError: modify: qty"),
])
def test_invalid_strategy_output_is_strategy_error(fn, match):
    with pytest.raises(StrategyError, match=r"^strategy s failed at t=1000 ns: .*" + match):
        run(events(*BOOK), Script({0: fn}), strategy_name="s")


def test_one_sided_quotes_and_crossing_with_zero_qty_are_fine():
    eng = run(events(*BOOK), Script({0: lambda ctx: Quotes(105, 0, 90, 1)}))
    assert eng.orders()["side"].tolist() == [A]


def test_config_errors():
    ev = events(*BOOK)
    for cfg in (dict(compute_measured=True), dict(queue_model="fifo"), dict(crossed_policy="ignore"),
                dict(mode="l4")):
        with pytest.raises(ConfigError):
            run(ev, Script(), **cfg)


def test_l2_rejects_l3_kinds_and_bad_sides():
    with pytest.raises(DataError, match="row 2: event kind ADD is not valid in L2 mode"):
        run(events(*BOOK, add(2000, 1, B, 100, 1)), Script())
    with pytest.raises(DataError, match="row 2: side must be"):
        run(events(*BOOK, trade(2000, 0, 100, 1)), Script())


def test_context_depth_and_top_of_book():
    ev = events(depth(1000, B, 100, 5), depth(1000, B, 98, 2), depth(1000, A, 103, 4))
    s = Script()
    run(ev, s)
    seen = s.seen[0]
    assert (seen["best_bid"], seen["bid_qty"], seen["best_ask"], seen["ask_qty"]) == (100, 5, 103, 4)
    assert seen["depth"] == [(100, 5), (98, 2), (103, 4), (0, 0)]
