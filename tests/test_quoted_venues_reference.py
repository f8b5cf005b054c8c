"""Several QUOTED venues (issue 12 stage 2, the contract in docs/event-loop.md "Quoted venues") on the pure-Python
reference simulator: tiny hand-made streams whose expected outputs are worked out in the comments, one per rule —
the same-instant order across venues, per-venue order sessions and latency counters, the wire order of one
decision's actions across venues, ids one counter across venues, the end of the run, errors — then two properties
over random streams: the mirror property and "never quoted == read-only"."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mmsim import records as R
from mmsim.engine.strategy import Quotes
from mmsim.errors import ConfigError, DataError, StrategyError
from mmsim.reference import ReferenceEngine
from test_differential import l2_streams, l3_streams, to_events

B, A = R.BID, R.ASK
NO = R.NO_TS


def events(*rows):
    """rows: (exch_ts, kind, side, price, qty[, order_id]); every exchange-time group is one message."""
    ev = np.zeros(len(rows), R.EVENT_DTYPE)
    ev["recv_ts"] = R.NO_TS
    for i, r in enumerate(rows):
        if isinstance(r, np.void):  # a row of another events array
            r = (r["exch_ts"], r["kind"], r["side"], r["price"], r["qty"], r["order_id"])
        ev["exch_ts"][i], ev["kind"][i], ev["side"][i], ev["price"][i], ev["qty"][i] = r[:5]
        if len(r) > 5:
            ev["order_id"][i] = r[5]
    return ev


def depth(t, side, price, qty):
    return (t, R.DEPTH, side, price, qty)


def trade(t, aggressor, price, qty):
    return (t, R.TRADE, aggressor, price, qty)


QUOTED = events(depth(1000, B, 100, 5), depth(1000, A, 101, 5), depth(5000, B, 100, 6))  # arrives as stamped
SPOT = events(depth(1000, B, 50, 4), depth(1000, A, 51, 4))


def table(*xs):
    return np.array(xs, np.int64)


def lats(entry=0, cancel=0, response=0, compute=0):
    one = lambda x: table(*x) if isinstance(x, (tuple, list)) else table(x)  # noqa: E731
    return dict(entry=one(entry), cancel=one(cancel), response=one(response), compute=one(compute))


def meta(name, quoted=True, **kw):
    m = dict(name=name, mode="l2", tick_size=0.5, lot_size=0.001, crossed_policy="error")
    m.update(kw)
    if quoted:
        m["quoted"] = True
    return m


def run(strategy, venues=(), *, quoted=QUOTED, arrival=None, metas=None, latencies=None, steps=None, **cfg):
    """A reference run: ``venues`` are ``(events, arrival)`` pairs described by ``metas`` (default: quoted venues
    named spot, perp)."""
    arrival = quoted["exch_ts"].copy() if arrival is None else table(*arrival)
    metas = [meta(n) for n in ("spot", "perp")[:len(venues)]] if metas is None else metas
    config = dict(signals=metas, **cfg)
    eng = ReferenceEngine(quoted, arrival, latencies or lats(), config, strategy,
                          signals=[(ev, table(*arr)) for ev, arr in venues])
    assert eng.step(10**9) is True
    return eng


class Script:
    """Runs ``steps[i](ctx)`` at its i-th wakeup (returning its result) and records what it saw."""

    def __init__(self, *steps):
        self.steps, self.seen = list(steps), []

    def on_wakeup(self, ctx):
        views = {n: ctx.venue(n) for n in ctx.venue_names}
        self.seen.append(dict(now=ctx.now, reason=ctx.reason, position=ctx.position, cash=ctx.cash,
                              venues={n: (v.position, v.cash, v.quoted, v.data_rows) for n, v in views.items()},
                              open={n: ctx.open_orders(n) for n in ctx.venue_names}))
        k = len(self.seen) - 1
        return self.steps[k](ctx) if k < len(self.steps) else None


# ------------------------------------------------------------------------------------------- same instant
def test_same_instant_venue_0s_exchange_rows_come_before_venue_1s():
    # Both exchange books cross at 2000 (policy error): venue 0's rows go first, so its error (no prefix) is the
    # one raised; stamp venue 0's crossing row 2001 and spot's (prefixed `venue 'spot': `) comes first.
    spot = events(*SPOT, depth(2000, A, 50, 1))
    for t0, msg in [(2000, r"^row 2: crossed book: best bid 101 >= best ask 101$"),
                    (2001, r"^venue 'spot': row 2: crossed book: best bid 50 >= best ask 50$")]:
        quoted = events(*QUOTED[:2], depth(t0, B, 101, 1), depth(5000, B, 100, 6))
        with pytest.raises(DataError, match=msg):
            run(Script(), [(spot, [1500, 1500, 2500])], quoted=quoted)
    # Read-only, spot's rows reach only its delayed book, at arrival 2500: venue 0's crossing at 2001 goes first.
    quoted = events(*QUOTED[:2], depth(2001, B, 101, 1), depth(5000, B, 100, 6))
    with pytest.raises(DataError, match=r"^row 2: crossed book"):
        run(Script(), [(spot, [1500, 1500, 2500])], quoted=quoted, metas=[meta("spot", quoted=False)])


@pytest.mark.parametrize("row_t, filled", [(2000, False), (2001, True)])
def test_a_venues_exchange_rows_at_an_instant_come_before_requests_reaching_it(row_t, filled):
    # At 1000 the strategy sends an IOC buy at the best ask to each venue; entry latency 1000: both reach their
    # exchange at 2000. Each ask is pulled (and a worse one shown) by a row at `row_t`: at 2000 the row is applied
    # first (priority 0 < 1) and both orders expire unfilled; at 2001 both take 1 lot at the old ask.
    quoted = events(*QUOTED[:2], depth(row_t, A, 101, 0), depth(row_t, A, 102, 5), depth(5000, B, 100, 6))
    spot = events(*SPOT, depth(row_t, A, 51, 0), depth(row_t, A, 52, 4))
    s = Script(lambda ctx: (ctx.submit(B, 51, 1, "ioc", venue="spot"), ctx.submit(B, 101, 1, "ioc"), None)[-1])
    eng = run(s, [(spot, [1000, 1000, row_t, row_t])], quoted=quoted, latencies=lats(entry=1000))
    orders = eng.orders()
    assert orders[["order_id", "venue", "exch_ts"]].tolist() == [(1, 1, 2000), (2, 0, 2000)]
    assert orders["status"].tolist() == [R.ST_FILLED if filled else R.ST_EXPIRED] * 2
    f = eng.fills()
    if filled:  # spot's order was sent first; its request reached spot's exchange after venue 0's reached venue 0's
        assert f[["fill_id", "order_id", "venue", "price", "position", "cause"]].tolist() == [
            (0, 2, 0, 101, 1, R.CAUSE_TAKER), (1, 1, 1, 51, 1, R.CAUSE_TAKER)]
    else:
        assert len(f) == 0


def test_one_wakeup_sees_both_venues_responses_and_a_quoted_venues_feed_row_at_one_instant():
    # Two IOC buys that fill at 2000 (entry 1000); response latency 500: both venues' acks and fills reach the
    # strategy at 2500, the instant spot's row stamped 2400 arrives. One wakeup at 2500, reason FEED|RESPONSE,
    # knows both positions and cashes (spot's fee from its own taker_fee_bps, tick and lot).
    spot = events(*SPOT, depth(2400, B, 50, 7))
    s = Script(lambda ctx: (ctx.submit(B, 51, 1, "ioc", venue=1), ctx.submit(B, 101, 2, "ioc", venue=0), None)[-1])
    eng = run(s, [(spot, [1000, 1000, 2500])], latencies=lats(entry=1000, response=500), tick_size=0.01,
              metas=[meta("spot", taker_fee_bps=10.0)])
    assert [(x["now"], x["reason"]) for x in s.seen] == [(1000, R.WAKE_FEED), (2500, R.WAKE_FEED | R.WAKE_RESPONSE),
                                                         (5000, R.WAKE_FEED)]
    fee = 51 * 0.5 * 1 * 0.001 * 10.0 / 1e4
    assert s.seen[1]["position"] == 2 and s.seen[1]["cash"] == -202 * 0.01 * 1.0
    assert s.seen[1]["venues"] == {"quoted": (2, -202 * 0.01, True, 2), "spot": (1, -51 * 0.5 * 0.001 - fee, True, 3)}
    assert s.seen[0]["venues"]["spot"] == (0, 0.0, True, 2)
    q = eng.summary()["quoted"]
    assert q == [dict(venue=1, name="spot", n_events=3, n_fills=1, volume=1, position=1, cash_ticklots=-51, fees=fee,
                      final_mid=50.5, pnl=-51 * 0.5 * 0.001 - fee + 1 * 50.5 * 0.5 * 0.001, n_orders=1,
                      repaired_crossed_levels=0)]
    assert eng.summary()["position"] == 2 and eng.summary()["n_fills"] == 1 and eng.summary()["n_orders"] == 1


# ------------------------------------------------------------------------------------------- sessions
def test_each_venue_has_its_own_session_and_latency_counters():
    # Decision 0 at 1000 (compute 0): two bids to spot, one to venue 0. Spot's entry table [3000, 1000]: its 1st
    # order reaches spot at 4000, its 2nd at max(2000, 4000) = 4000 (one session, never reordered). Venue 0's
    # order (the run's table [500]) reaches venue 0 at 1500: nothing holds it behind spot's session.
    # Acks: venue 0's at 1500 + 0; spot's at 4000 + 200 (spot's response table). Decision 1 at 1500 (the ack)
    # sends one more to each: spot's 3rd entry draw is table[2 % 2] = 3000 -> 4500; venue 0's -> 2000.
    def first(ctx):
        ctx.submit(B, 49, 1, venue="spot")
        ctx.submit(B, 48, 1, venue="spot")
        ctx.submit(B, 99, 1)

    def second(ctx):
        ctx.submit(B, 47, 1, venue="spot")
        ctx.submit(B, 98, 1)

    s = Script(first, second)
    eng = run(s, [(SPOT, [1000, 1000])], metas=[meta("spot", latencies=dict(entry=table(3000, 1000), response=table(200)))],
              latencies=lats(entry=500))
    o = eng.orders()
    assert o[["order_id", "venue", "decision_id", "sent_ts", "exch_ts"]].tolist() == [
        (1, 1, 0, 1000, 4000), (2, 1, 0, 1000, 4000), (3, 0, 0, 1000, 1500), (4, 1, 1, 1500, 4500), (5, 0, 1, 1500, 2000)]
    assert [x["now"] for x in s.seen] == [1000, 1500, 2000, 4200, 4700, 5000]
    assert [len(x["open"]["spot"]) for x in s.seen] == [0, 2, 3, 3, 3, 3]
    assert s.seen[1]["open"]["quoted"] == [(3, B, 99, 1, 1)] and s.seen[1]["open"]["spot"][0] == (1, B, 49, 1, 1)
    # the decision log counts venue 0's actions (low-level calls included), quotes() spot's
    assert eng.decisions()[["n_new", "bid_qty"]].tolist()[:2] == [(1, -1), (1, -1)]
    assert eng.quotes()[["decision_id", "venue", "bid_qty", "n_new"]].tolist()[:3] == [(0, 1, -1, 2), (1, 1, -1, 1),
                                                                                     (2, 1, -1, 0)]


def test_wire_order_low_level_calls_then_venue_0s_targets_then_venue_1s():
    # One decision: low-level calls (spot, then venue 0), then dict targets for both venues. On the wire: spot's
    # new 1, venue 0's new 2, venue 0's bid (new 3), venue 0's ask (cancel 2, which the target replaces; new 4),
    # spot's bid (cancel 1; new 5), spot's ask (new 6). Ids are one counter in that order. Each new order draws
    # its own venue's next entry latency (spot [100, 200, 300], venue 0 [10, 20, 30]); cancels draw the run's
    # cancel table (0) and queue behind their venue's earlier requests.
    def decide(ctx):
        ctx.submit(B, 48, 2, venue="spot")
        ctx.submit(A, 103, 2)
        return {"spot": Quotes(49, 1, 52, 1), 0: Quotes(99, 1, 102, 1)}

    eng = run(Script(decide), [(SPOT, [1000, 1000])], latencies=lats(entry=(10, 20, 30)),
              metas=[meta("spot", latencies=dict(entry=table(100, 200, 300)))])
    o = eng.orders()
    assert o[["order_id", "venue", "side", "price", "qty", "exch_ts"]].tolist() == [
        (1, 1, B, 48, 2, 1100), (2, 0, A, 103, 2, 1010), (3, 0, B, 99, 1, 1020), (4, 0, A, 102, 1, 1030),
        (5, 1, B, 49, 1, 1200), (6, 1, A, 52, 1, 1300)]
    assert o["status"].tolist() == [R.ST_CANCELLED, R.ST_CANCELLED] + [R.ST_OPEN] * 4
    d = eng.decisions()[["bid_price", "bid_qty", "ask_price", "ask_qty", "n_new", "n_cancel", "position"]]
    assert d[0].tolist() == (99, 1, 102, 1, 3, 1, 0)
    q = eng.quotes()[["decision_id", "venue", "position", "bid_price", "bid_qty", "ask_price", "ask_qty", "n_new",
                      "n_cancel", "n_modify"]]
    assert q[0].tolist() == (0, 1, 0, 49, 1, 52, 1, 3, 1, 0)
    # the next decisions keep both venues' quotes: nothing to do; a quoted venue without targets logs qty -1
    assert eng.quotes()["n_new"].tolist()[1:] == [0] * (len(eng.quotes()) - 1)
    assert eng.quotes()["bid_qty"].tolist()[1:] == [-1] * (len(eng.quotes()) - 1)


def test_targets_per_venue_use_only_that_venues_orders_and_post_only():
    # Decision 0 (1000): venue 0 bids 100, spot bids 50. Decision 1 (1010, the acks): venue 0 the same (nothing to
    # do: only venue 0's orders count), spot moves its bid to 51 (cancel 50, new 51): spot alone is post_only (the
    # run is not), and 51 crosses spot's ask 51, so the new order is rejected.
    steps = [lambda ctx: {0: Quotes(100, 1, 0, 0), 1: Quotes(50, 1, 0, 0)},
             lambda ctx: {0: Quotes(100, 1, 0, 0), 1: Quotes(51, 1, 0, 0)}]
    eng = run(Script(*steps), [(SPOT, [1000, 1000])], latencies=lats(response=10),
              metas=[meta("spot", post_only=True)], timer_interval_ns=0)
    o = eng.orders()
    assert o[["order_id", "venue", "price", "tif", "status"]].tolist() == [
        (1, 0, 100, R.GTC, R.ST_OPEN), (2, 1, 50, R.POST_ONLY, R.ST_CANCELLED), (3, 1, 51, R.POST_ONLY, R.ST_REJECTED)]
    assert eng.quotes()[["n_new", "n_cancel"]].tolist()[:2] == [(1, 0), (1, 1)]
    assert eng.decisions()[["n_new", "n_cancel", "n_modify"]].tolist()[:2] == [(1, 0, 0), (0, 0, 0)]


def test_cancel_and_modify_take_global_ids_and_fill_ids_are_one_counter():
    # Zero latencies. At 1000 venue 0 bids 100 (id 1: venue 0 comes first on the wire) behind 5 lots, spot bids
    # 50 x 2 (id 2) behind 4. Sells print at spot 5 @ 50 at 2000 (1 lot for us), venue 0 6 @ 100 at 3000 (1 lot),
    # spot 9 @ 50 at 4000. The decision at 2000 (spot's fill) modifies id 2 up to 3 lots: more than its 1 left,
    # so it goes to the back (4 ahead) and takes 3 of the 9 at 4000. Fill ids 0, 1, 2 across venues; each fill's
    # position is its venue's.
    spot = events(*SPOT, trade(2000, A, 50, 5), trade(4000, A, 50, 9))
    quoted = events(*QUOTED[:2], trade(3000, A, 100, 6), depth(5000, B, 100, 6))

    class S:
        seen, modified = [], False

        def on_wakeup(self, ctx):
            self.seen.append((ctx.now, ctx.position, ctx.venue("spot").position))
            if ctx.now == 1000:
                return {"spot": Quotes(50, 2, 0, 0), "quoted": Quotes(100, 1, 0, 0)}
            if ctx.now == 2000 and not self.modified:
                self.modified = True
                ctx.modify(2, 3)
            return None

    s = S()
    eng = run(s, [(spot, [1000, 1000, 2000, 4000])], quoted=quoted)
    assert (2000, 0, 1) in s.seen
    f = eng.fills()
    assert f[["fill_id", "order_id", "venue", "exch_ts", "qty", "position"]].tolist() == [
        (0, 2, 1, 2000, 1, 1), (1, 1, 0, 3000, 1, 1), (2, 2, 1, 4000, 3, 4)]
    assert eng.orders()[["order_id", "venue", "qty", "filled", "status"]].tolist() == [
        (1, 0, 1, 1, R.ST_FILLED), (2, 1, 2, 4, R.ST_FILLED)]


# ------------------------------------------------------------------------------------------- end of run
def test_the_run_ends_at_venue_0s_last_arrival_for_every_venue():
    # T_end = 5000. Spot's order sent at 1000 with entry latency 4500 would reach spot at 5500: it stays pending.
    # Spot's exchange rows after 5000 are never applied (n_events 2 of 3); its feed row arriving at 6000 neither.
    spot = events(*SPOT, depth(5200, B, 50, 1))
    eng = run(Script(lambda ctx: {"spot": Quotes(49, 1, 0, 0)}), [(spot, [1000, 1000, 6000])],
              metas=[meta("spot", latencies=dict(entry=table(4500)))])
    assert eng.orders()[["venue", "status", "exch_ts", "sent_ts"]].tolist() == [(1, R.ST_PENDING, NO, 1000)]
    s = eng.summary()
    assert s["quoted"][0]["n_events"] == 2 and s["signal_rows"] == [2] and s["n_events"] == 3
    assert s["quoted"][0]["n_orders"] == 1 and s["n_orders"] == 0


# ------------------------------------------------------------------------------------------- errors
def test_quoting_a_read_only_or_unknown_venue_fails_the_run_in_one_line():
    ro = [meta("spot"), meta("perp", quoted=False)]
    venues = [(SPOT, [1000, 1000]), (SPOT, [1000, 1000])]
    pre = r"^strategy s failed at t=1000 ns: "
    cases = [
        (lambda ctx: {"perp": Quotes(10, 1, 0, 0)},
         pre + r"venue 2 'perp': quotes read-only instrument 'perp' \(mark it quoted\)$"),
        (lambda ctx: ctx.submit(B, 10, 1, venue=2),
         pre + r"StrategyError: submit: quotes read-only instrument 'perp' \(mark it quoted\)$"),
        (lambda ctx: {"nope": None}, pre + r"on_wakeup: unknown venue 'nope'; known: 'quoted', 'spot', 'perp' "
                                           r"\(or an index 0\.\.2\)$"),
        (lambda ctx: {3: Quotes(1, 1, 2, 1)}, pre + r"on_wakeup: unknown venue 3; known"),
        (lambda ctx: {True: None}, pre + r"on_wakeup: unknown venue True; known"),
        (lambda ctx: ctx.submit(B, 10, 1, venue="nope"), pre + r"StrategyError: submit: unknown venue 'nope'; known"),
        (lambda ctx: ctx.open_orders("nope"), pre + r"StrategyError: open_orders: unknown venue 'nope'; known"),
        (lambda ctx: {"spot": Quotes(10, -1, 0, 0)}, pre + r"venue 1 'spot': negative target quantity$"),
        (lambda ctx: {1: Quotes(10, 1, 10, 1)}, pre + r"venue 1 'spot': crossed target quotes: bid 10 >= ask 10$"),
        (lambda ctx: {1: (10.5, 1, 12, 1)}, pre + r"venue 1 'spot': target quotes must be integers"),
        (lambda ctx: {1: [10, 1, 12, 1]}, pre + r"venue 1 'spot': on_wakeup must return Quotes\(.*got list$"),
    ]
    for decide, msg in cases:
        with pytest.raises(StrategyError, match=msg):
            run(Script(decide), venues, metas=ro, strategy_name="s")
    # a venue given twice (name and index) keeps the later entry (docs/event-loop.md "Quoted venues")
    eng = run(Script(lambda ctx: {1: Quotes(10, 1, 0, 0), "spot": Quotes(11, 2, 0, 0)}), venues, metas=ro)
    assert eng.orders()[["venue", "price", "qty"]].tolist() == [(1, 11, 2)]
    # a None for a read-only venue is no targets; reading a read-only venue's (empty) orders is fine
    eng = run(Script(lambda ctx: {"perp": None, "quoted": None} if ctx.open_orders("perp") == [] else 1), venues, metas=ro)
    assert len(eng.decisions()) == 2 and eng.quotes()["venue"].tolist() == [1, 1]


def test_bad_quoted_venue_settings_are_one_config_error_naming_the_venue():
    venues = [(SPOT, [1000, 1000]), (SPOT, [1000, 1000])]
    good = meta("spot")
    for bad, msg in [
        (meta("perp", quoted=False, queue_model="log"), r"^signal 2 'perp': queue_model applies to a quoted venue only$"),
        (meta("perp", quoted=False, latencies={}), r"^signal 2 'perp': latencies applies to a quoted venue only$"),
        (dict(meta("perp"), quoted="yes"), r"^signal 2 'perp': quoted must be true or false, got 'yes'$"),
        (meta("perp", queue_model="fifo"), r"^signal 2 'perp': queue_model must be risk_averse, power or log, got 'fifo'$"),
        (meta("perp", maker_fee_bps="x"), r"^signal 2 'perp': maker_fee_bps must be a number, got 'x'$"),
        (meta("perp", taker_fee_bps=math.inf), r"^signal 2 'perp': taker_fee_bps must be finite"),
        (meta("perp", post_only=1), r"^signal 2 'perp': post_only must be true or false, got 1$"),
        (meta("perp", latencies=dict(entry=table())), r"^signal 2 'perp': latency table 'entry' is missing or empty$"),
        (meta("perp", latencies=dict(cancel=table(5, -1))), r"^signal 2 'perp': latency table 'cancel' has a negative"),
        (meta("perp", latencies=dict(response=np.array([1.5]))), r"^signal 2 'perp': latency table 'response' must hold integers"),
        (meta("perp", latencies=dict(compute=table(1))), r"^signal 2 'perp': latencies: unknown leg 'compute'"),
        (meta("perp", latencies=[1]), r"^signal 2 'perp': latencies must be a dict"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            run(Script(), venues, metas=[good, bad])


def test_a_quoted_venues_bad_rows_are_one_data_error_naming_it():
    # L3 on spot's exchange side: a DELETE of an unknown order, and a CANCEL of more than the order has.
    for rows, msg in [(((1000, R.ADD, B, 50, 2, 1), (1100, R.DELETE, B, 50, 2, 7)), r"^venue 'spot': row 1: DELETE of unknown order id 7$"),
                      (((1000, R.ADD, B, 50, 2, 1), (1100, R.CANCEL, B, 50, 3, 1)),
                       r"^venue 'spot': row 1: CANCEL of 3 lots from order id 1, which has 2$")]:
        with pytest.raises(DataError, match=msg):
            run(Script(), [(events(*rows), [1000, 1100])], metas=[meta("spot", mode="l3")])
    # rows checked whole when the run starts: kinds of the venue's mode, exchange times in order
    for rows, msg in [((depth(1000, B, 50, 1), (1100, R.ADD, B, 50, 2, 1)), r"^venue 'spot': row 1: event kind ADD is not valid in L2 mode$"),
                      ((depth(1000, B, 50, 1), depth(900, B, 51, 1)), r"^venue 'spot': row 1: exch_ts goes back in time$")]:
        with pytest.raises(DataError, match=msg):
            run(Script(), [(events(*rows), [1000, 1100])])
    # a crossed book repaired on the exchange side is counted for that venue
    spot = events(*SPOT, depth(1500, B, 52, 1))
    eng = run(Script(), [(spot, [1000, 1000, 1500])], metas=[meta("spot", crossed_policy="repair")])
    assert eng.summary()["quoted"][0]["repaired_crossed_levels"] == 1 and eng.summary()["repaired_crossed_levels"] == 0


def test_without_quoted_venues_nothing_changes_and_quotes_is_empty():
    eng = run(Script(lambda ctx: Quotes(99, 1, 102, 1)), [(SPOT, [1000, 1000])], metas=[meta("spot", quoted=False)])
    assert "quoted" not in eng.summary() and len(eng.quotes()) == 0 and eng.quotes().dtype == R.QUOTE_DTYPE
    assert R.QUOTE_DTYPE.itemsize == 72 and R.FILL_DTYPE.itemsize == 80 and R.ORDER_DTYPE.itemsize == 72
    assert (eng.orders()["venue"] == 0).all()


# ------------------------------------------------------------------------------------------- properties
class Mirror:
    """A random quoter (a pure function of what it sees of venue 0) that does everything twice: the same targets on
    venue 0 and on venue 1, and each low-level call on both (venue 0's first), pairing orders by their place in
    ``open_orders``."""

    def __init__(self, seed: int, aggressive: bool):
        self.seed, self.aggressive, self.seen = seed, aggressive, []

    def on_wakeup(self, ctx):
        o0, o1 = ctx.open_orders(0), ctx.open_orders(1)
        me, twin = ctx.venue(0), ctx.venue(1)
        self.seen.append(((me.position, me.cash, o0), (twin.position, twin.cash, [x[1:] for x in o1])))
        rnd = random.Random(repr((self.seed, ctx.now, ctx.reason, ctx.best_bid, ctx.bid_qty, ctx.best_ask, ctx.ask_qty,
                                  ctx.position, ctx.data_rows, [x[1:] for x in o0])))
        mid = (ctx.best_bid + ctx.best_ask) // 2 if ctx.bid_qty and ctx.ask_qty else 100
        u = rnd.random()
        if u < 0.15 and o0:
            i = rnd.randrange(len(o0))
            ctx.cancel(o0[i][0])
            ctx.cancel(o1[i][0])
        elif u < 0.25 and o0:
            i, q = rnd.randrange(len(o0)), rnd.randint(1, 4)
            ctx.modify(o0[i][0], q)
            ctx.modify(o1[i][0], q)
        elif u < 0.35:
            args = (rnd.choice((1, -1)), mid + rnd.randint(-3, 3), rnd.randint(1, 3), rnd.choice(("gtc", "post_only", "ioc")))
            ctx.submit(*args)
            ctx.submit(*args, venue=1)
        if rnd.random() < 0.2:
            return None if rnd.random() < 0.5 else {0: None, 1: None}
        reach = 2 if self.aggressive else 0
        bid = mid - rnd.randint(-reach, 3)
        ask = max(bid + 1, mid + rnd.randint(-reach, 3))
        q = Quotes(bid, rnd.choice((0, 1, 2, 3)), ask, rnd.choice((0, 1, 2, 3)))
        return {0: q, "twin": q}


LATS = [lats(), lats(entry=1000, cancel=2000, response=1000), lats(entry=(4000, 0, 1000), cancel=500, response=(2000, 0),
                                                                  compute=(1500, 0))]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPS
@given(l3=st.booleans(), data=st.data(), lat=st.sampled_from(range(len(LATS))), seed=st.integers(0, 2**16),
       aggressive=st.booleans(), queue=st.sampled_from(R.QUEUE_MODELS), timer=st.sampled_from((0, 3_000)),
       post_only=st.booleans(), ends=st.lists(st.booleans(), min_size=1, max_size=8), feed=st.sampled_from((0, 1000)))
def test_mirror_a_venue_quoted_like_venue_0_on_venue_0s_own_rows_fills_like_it(l3, data, lat, seed, aggressive, queue,
                                                                              timer, post_only, ends, feed):
    rows = data.draw(l3_streams() if l3 else l2_streams())
    ev = to_events(rows, ends)
    arr = (ev["exch_ts"] + feed).tolist()
    cfg = dict(mode="l3" if l3 else "l2", queue_model=queue, queue_power=1.5, crossed_policy="repair",
               timer_interval_ns=timer, maker_fee_bps=-0.2, taker_fee_bps=1.0, post_only=post_only, tick_size=0.01,
               lot_size=1.0, wake_on_feed=timer == 0)
    twin = dict(name="twin", mode=cfg["mode"], tick_size=0.01, lot_size=1.0, crossed_policy="repair", quoted=True)
    s = Mirror(seed, aggressive)
    try:
        eng = run(s, [(ev, arr)], quoted=ev, arrival=arr, metas=[twin], latencies=LATS[lat], **cfg)
    except StrategyError as e:  # zero latencies: a strategy acting on its own fills can loop at one instant
        assert "without time advancing" in str(e)
        return
    except DataError as e:  # an L3 book the crossed-book repair broke: venue 0 meets it first (same rows, venue order)
        assert not str(e).startswith("venue")
        return
    f, o, d, q = eng.fills(), eng.orders(), eng.decisions(), eng.quotes()
    f0, f1 = f[f["venue"] == 0], f[f["venue"] == 1]
    o0, o1 = o[o["venue"] == 0], o[o["venue"] == 1]
    same_f = [n for n in R.FILL_DTYPE.names if n not in ("fill_id", "order_id", "venue", "_pad")]
    same_o = [n for n in R.ORDER_DTYPE.names if n not in ("order_id", "venue", "_pad")]
    assert f0[same_f].tolist() == f1[same_f].tolist()
    assert o0[same_o].tolist() == o1[same_o].tolist()
    assert len(q) == len(d) and (q["decision_id"] == d["decision_id"]).all() and (q["venue"] == 1).all()
    for k in ("position", "bid_price", "bid_qty", "ask_price", "ask_qty", "n_new", "n_cancel", "n_modify"):
        assert (q[k] == d[k]).all(), k
    for mine, theirs in s.seen:  # the strategy knew the same of both venues
        assert mine[0] == theirs[0] and mine[1] == theirs[1] and [x[1:] for x in mine[2]] == theirs[2]
    summ = eng.summary()
    twin_s = summ["quoted"][0]
    for k in ("n_events", "n_fills", "volume", "position", "cash_ticklots", "fees", "n_orders",
              "repaired_crossed_levels"):
        assert twin_s[k] == summ[k], k
    for k in ("pnl", "final_mid"):
        assert twin_s[k] == summ[k] or (math.isnan(twin_s[k]) and math.isnan(summ[k])), k


class Blind:
    """Quotes venue 0 at random from what it reads of every venue's book — but never anything it could only read
    of a quoted venue (``quoted``, ``position``, ``cash``), and never quotes venue 1."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_wakeup(self, ctx):
        v = ctx.venue(1)
        rnd = random.Random(repr((self.seed, ctx.now, ctx.reason, ctx.best_bid, ctx.best_ask, ctx.position,
                                  v.best_bid, v.bid_qty, v.best_ask, v.data_rows, len(ctx.open_orders()))))
        mid = (ctx.best_bid + ctx.best_ask) // 2 if ctx.bid_qty and ctx.ask_qty else 100
        if rnd.random() < 0.2 and ctx.open_orders():
            ctx.cancel(ctx.open_orders()[0][0])
        if rnd.random() < 0.2:
            return None if rnd.random() < 0.5 else {"perp": None}
        bid = mid - rnd.randint(-1, 3)
        q = Quotes(bid, rnd.choice((0, 1, 2)), max(bid + 1, mid + rnd.randint(-1, 3)), rnd.choice((0, 1, 2)))
        return q if rnd.random() < 0.5 else {"quoted": q, "perp": None}


@PROPS
@given(l3=st.booleans(), perp_l3=st.booleans(), data=st.data(), lat=st.sampled_from(range(len(LATS))),
       seed=st.integers(0, 2**16), ends=st.lists(st.booleans(), min_size=1, max_size=8),
       shift=st.sampled_from((0, 500, 1000)))
def test_a_quoted_venue_never_quoted_changes_nothing_against_the_same_venue_read_only(l3, perp_l3, data, lat, seed,
                                                                                     ends, shift):
    ev = to_events(data.draw(l3_streams() if l3 else l2_streams()), ends)
    perp = to_events(data.draw(l3_streams() if perp_l3 else l2_streams()), ends[::-1])
    perp_arr = (perp["exch_ts"] + shift).tolist()
    base = dict(name="perp", mode="l3" if perp_l3 else "l2", tick_size=0.5, lot_size=0.01, crossed_policy="repair")
    out = []
    for m in (base, dict(base, quoted=True, queue_model="log", maker_fee_bps=3.0, post_only=True,
                         latencies=dict(entry=table(0, 7000), response=table(1)))):
        try:
            out.append(run(Blind(seed), [(perp, perp_arr)], quoted=ev, metas=[m], latencies=LATS[lat],
                           mode="l3" if l3 else "l2", crossed_policy="repair", timer_interval_ns=2_000))
        except (DataError, StrategyError) as e:
            out.append(e)
    a, b = out
    if isinstance(a, StrategyError) or isinstance(b, StrategyError):
        assert str(a) == str(b)  # the same loop at one instant
        return
    if isinstance(a, DataError) or isinstance(b, DataError):
        # an L3 book the repair broke: the quoted venue's exchange side may meet it first (at exch_ts, or a row
        # arriving after the end), read-only only at arrival
        assert isinstance(b, DataError) and ("perp" in str(b)) == ("perp" in str(a) or not isinstance(a, DataError))
        return
    for what in ("fills", "orders", "decisions", "signal_data"):
        assert getattr(a, what)().tobytes() == getattr(b, what)().tobytes(), what
    q = b.quotes()
    assert len(a.quotes()) == 0 and len(q) == len(b.decisions())
    assert q[["venue", "position", "bid_qty", "ask_qty", "n_new", "n_cancel", "n_modify"]].tolist() == [(1, 0, -1, -1, 0, 0, 0)] * len(q)
    sa, sb = a.summary(), b.summary()
    assert sb.pop("quoted")[0]["n_fills"] == 0
    assert repr(sa) == repr(sb)
