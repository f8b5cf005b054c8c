// Exchange side: the exchange-side book at exchange time and the matching of our own orders against it.
// Data rows update the book and our queue positions (L2 or L3), trades and crosses fill resting orders,
// and arriving requests (new, cancel, modify) are matched here. These are the rules of docs/fills.md,
// mirrored by mmsim/reference.py; tests/test_differential.py holds the two to identical fills. Every function
// works on one quoted venue's state (venue 0's or a quoted venue k's: the same code, docs/event-loop.md).
#include "mmsim/engine.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine_internal.hpp"

namespace mmsim {

void Engine::on_exchange_row(QuotedVenue& x, int64_t i) {
  const EventRecord& e = x.row(i);
  if (x.l3) exchange_l3(x, e, i); else exchange_l2(x, e, i);
  // A data update of a level restores its full displayed size to our taker orders (rule E).
  if (e.kind == CLEAR) {
    if (e.side >= 0) x.taken[0].clear();
    if (e.side <= 0) x.taken[1].clear();
  } else if (e.kind != TRADE && !x.taken[e.side > 0 ? 0 : 1].empty()) {
    x.taken[e.side > 0 ? 0 : 1].erase(e.price);
  }
  x.ex_i = i + 1;
  if (i + 1 == x.feed->loaded || x.row(i + 1).exch_ts != e.exch_ts)
    x.repaired += check_crossed(x.book, i, x.repair_crossed);  // end of an exchange-time group
  if (e.kind != CLEAR) check_crosses(x, i);
  if (x.book.has(BID) && x.book.has(ASK)) {
    x.last_mid2 = x.book.best(BID) + x.book.best(ASK);
    x.have_mid = true;
  }
}

void Engine::exchange_l2(QuotedVenue& x, const EventRecord& e, int64_t i) {
  switch (e.kind) {
    case DEPTH: {
      const int64_t prev = x.book.set(e.side, e.price, e.qty, i);
      for (int64_t id : x.live) {
        ExOrder& o = orders_[id - 1];
        if (o.side != e.side || o.price != e.price) continue;
        const double now_q = static_cast<double>(e.qty);
        if (x.queue_model == QueueModel::RiskAverse) {
          o.ahead = std::min(o.ahead, now_q);
          continue;
        }
        const double chg = static_cast<double>(prev) - now_q - o.traded;
        o.traded = 0.0;
        if (chg < 0.0) {
          o.ahead = std::min(o.ahead, now_q);
          continue;
        }
        const double front = o.ahead, back = std::max(static_cast<double>(prev) - front, 0.0);
        const bool power = x.queue_model == QueueModel::Power;
        const double fb = power ? std::pow(back, x.queue_power) : std::log1p(back);
        const double ff = power ? std::pow(front, x.queue_power) : std::log1p(front);
        double p = fb / (fb + ff);
        if (!std::isfinite(p)) p = 1.0;
        const double est = front - (1.0 - p) * chg + std::min(back - p * chg, 0.0);
        o.ahead = std::max(std::min(est, now_q), 0.0);
      }
      break;
    }
    case TRADE: {
      const int passive = -e.side;
      allocate_trade(x, passive, e.price, e.qty, i, CAUSE_TRADE, kInf);
      const double q = static_cast<double>(e.qty);
      for (int64_t id : x.live) {
        ExOrder& o = orders_[id - 1];
        if (o.side != passive || o.price != e.price) continue;
        o.ahead = std::max(o.ahead - q, 0.0);
        o.traded += q;
      }
      break;
    }
    case CLEAR: x.book.clear(e.side); break;
    default:
      throw DataError(i, "event kind " + std::to_string(int(e.kind)) + " is not an L2 kind (depth, trade, clear)");
  }
}

void Engine::exchange_l3(QuotedVenue& x, const EventRecord& e, int64_t i) {
  switch (e.kind) {
    case ADD: {
      if (x.mkt_orders.count(e.order_id))
        throw DataError(i, "order id " + std::to_string(e.order_id) + " is already in the book");
      x.book.add(e.side, e.price, e.qty, i);
      x.mkt_orders.emplace(e.order_id, MktOrder{2 * i, e.price, e.qty, e.side});
      break;
    }
    case CANCEL: case DELETE: case EXECUTE: {
      auto it = x.mkt_orders.find(e.order_id);
      if (it == x.mkt_orders.end()) throw DataError(i, "unknown order id " + std::to_string(e.order_id));
      MktOrder& m = it->second;
      if (m.side != e.side || m.price != e.price)
        throw DataError(i, "order id " + std::to_string(e.order_id) + " rests on side " + std::to_string(m.side) +
                               " at " + std::to_string(m.price) + ", not side " + std::to_string(e.side) + " at " +
                               std::to_string(e.price));
      if (e.qty > m.qty)
        throw DataError(i, "removes " + std::to_string(e.qty) + " lots from order id " + std::to_string(e.order_id) +
                               " which has " + std::to_string(m.qty));
      if (e.kind == DELETE && e.qty != m.qty)
        throw DataError(i, "delete of " + std::to_string(e.qty) + " lots but order id " +
                               std::to_string(e.order_id) + " has " + std::to_string(m.qty));
      if (e.kind == EXECUTE) allocate_trade(x, m.side, m.price, e.qty, i, CAUSE_EXECUTE, m.seq);
      x.book.add(m.side, m.price, -e.qty, i);
      const double q = static_cast<double>(e.qty);
      for (int64_t id : x.live) {
        ExOrder& o = orders_[id - 1];
        if (o.side == m.side && o.price == m.price && o.l3_seq > m.seq) o.ahead = std::max(o.ahead - q, 0.0);
      }
      m.qty -= e.qty;
      if (m.qty == 0) x.mkt_orders.erase(it);
      break;
    }
    case TRADE: allocate_trade(x, -e.side, e.price, e.qty, i, CAUSE_TRADE, kInf); break;
    default:
      throw DataError(i, "event kind " + std::to_string(int(e.kind)) +
                             " is not an L3 kind (add, cancel, delete, execute, trade)");
  }
}

void Engine::allocate_trade(QuotedVenue& x, int passive, int64_t p, int64_t q, int64_t row, FillCause at_price,
                            int64_t before_seq) {
  if (x.live.empty()) return;
  std::vector<int64_t>& c = scratch_;  // reused: no allocation per event
  c.clear();
  for (int64_t id : x.live) {
    const ExOrder& o = orders_[id - 1];
    if (o.side != passive) continue;
    if (passive == ASK ? o.price > p : o.price < p) continue;
    if (o.price == p && o.l3_seq >= before_seq) continue;  // L3: behind the executed order
    c.push_back(id);
  }
  if (c.empty()) return;
  std::sort(c.begin(), c.end(), [&](int64_t a, int64_t b) {
    const ExOrder& x = orders_[a - 1];
    const ExOrder& y = orders_[b - 1];
    if (x.price != y.price) return passive == ASK ? x.price < y.price : x.price > y.price;
    return x.own_seq < y.own_seq;
  });
  const int64_t t = x.row(row).exch_ts;
  int64_t r = q;
  for (size_t j = 0; j < c.size() && r > 0; ++j) {
    ExOrder& o = orders_[c[j] - 1];
    int64_t f;
    FillCause cause;
    if (o.price != p) {
      f = std::min(o.leaves, r);
      cause = CAUSE_TRADE_THROUGH;
    } else {
      const double room = std::floor(static_cast<double>(r) - o.ahead);
      f = room > 0.0 ? std::min(o.leaves, static_cast<int64_t>(room)) : 0;
      cause = at_price;
    }
    if (f > 0) {
      fill(x, o, f, o.price, true, cause, row, t);
      r -= f;
    }
  }
}

void Engine::check_crosses(QuotedVenue& x, int64_t row) {
  if (x.live.empty()) return;
  const bool hb = x.book.has(BID), ha = x.book.has(ASK);
  const int64_t bb = x.book.best(BID), ba = x.book.best(ASK);
  const int64_t t = x.row(row).exch_ts;
  for (size_t j = 0; j < x.live.size();) {
    ExOrder& o = orders_[x.live[j] - 1];
    const bool crossed = o.side == BID ? (ha && ba <= o.price) : (hb && bb >= o.price);
    if (crossed) fill(x, o, o.leaves, o.price, true, CAUSE_CROSS, row, t);  // removes x.live[j]
    else ++j;
  }
}

double Engine::fee_of(const QuotedVenue& x, int64_t price, int64_t qty, bool maker) {
  const double bps = maker ? x.maker_fee_bps : x.taker_fee_bps;
  return static_cast<double>(price) * x.tick_size * static_cast<double>(qty) * x.lot_size * bps / 1e4;
}

void Engine::fill(QuotedVenue& x, ExOrder& o, int64_t qty, int64_t price, bool maker, FillCause cause, int64_t row,
                  int64_t t) {
  o.leaves -= qty;
  o.filled += qty;
  x.position += o.side * qty;
  x.cash -= o.side * price * qty;
  const double fee = fee_of(x, price, qty, maker);
  x.fees += fee;
  x.volume += qty;
  ++x.n_fills;
  const int64_t recv = push_response(x, t, R_FILL, o.id, qty, price, fee);
  FillRecord f{};
  f.fill_id = static_cast<int64_t>(fills_.size());
  f.order_id = o.id;
  f.exch_ts = t;
  f.recv_ts = recv;
  f.price = price;
  f.qty = qty;
  f.position = x.position;
  f.data_row = row;
  f.fee = fee;
  f.side = o.side;
  f.maker = maker ? 1 : 0;
  f.cause = cause;
  f.venue = x.index;
  fills_.push_back(f);
  if (o.leaves == 0) finish(x, o, ST_FILLED, t);
}

void Engine::finish(QuotedVenue& x, ExOrder& o, uint8_t status, int64_t t) {
  o.status = status;
  o.done_ts = t;
  auto it = std::lower_bound(x.live.begin(), x.live.end(), o.id);
  if (it != x.live.end() && *it == o.id) x.live.erase(it);
}

void Engine::rest(QuotedVenue& x, ExOrder& o) {
  o.ahead = static_cast<double>(x.book.qty_at(o.side, o.price));
  o.traded = 0.0;
  o.own_seq = own_seq_counter_++;
  o.l3_seq = 2 * x.ex_i - 1;
  auto it = std::lower_bound(x.live.begin(), x.live.end(), o.id);
  if (it == x.live.end() || *it != o.id) x.live.insert(it, o.id);
}

void Engine::on_request(QuotedVenue& x, const Request& r) {
  ExOrder& o = orders_[r.order_id - 1];
  const int64_t t = r.t;
  switch (r.type) {
    case REQ_NEW: {
      o.exch_ts = t;
      const int opp = -o.side;
      const bool crosses = x.book.has(opp) && (o.side == BID ? o.price >= x.book.best(ASK)
                                                                : o.price <= x.book.best(BID));
      if (crosses && o.tif == POST_ONLY) {
        push_response(x, t, R_REJECTED, o.id, o.leaves, o.price, 0.0);
        finish(x, o, ST_REJECTED, t);
        return;
      }
      push_response(x, t, R_ACK, o.id, o.leaves, o.price, 0.0);
      o.status = ST_OPEN;
      if (crosses) {
        int64_t lvl = x.book.best(opp);
        int64_t walked = 0;
        const int64_t n_lv = x.book.n_levels(opp);
        auto& taken = x.taken[opp > 0 ? 0 : 1];
        for (;;) {
          // what the displayed level still offers after our earlier taker orders since its last update
          auto it = taken.find(lvl);
          const int64_t f = std::min(o.leaves, x.book.qty_at(opp, lvl) - (it == taken.end() ? 0 : it->second));
          if (f > 0) {
            taken[lvl] += f;
            fill(x, o, f, lvl, false, CAUSE_TAKER, x.ex_i, t);
          }
          if (o.leaves == 0 || ++walked == n_lv) break;
          lvl = x.book.next_level(opp, lvl);
          if (o.side == BID ? lvl > o.price : lvl < o.price) break;
        }
      }
      if (o.leaves > 0) {
        if (o.tif == IOC) {
          push_response(x, t, R_EXPIRED, o.id, o.leaves, o.price, 0.0);
          finish(x, o, ST_EXPIRED, t);
        } else {
          rest(x, o);
        }
      }
      return;
    }
    case REQ_CANCEL:
      if (o.status == ST_OPEN) {
        push_response(x, t, R_CANCELLED, o.id, o.leaves, o.price, 0.0);
        finish(x, o, ST_CANCELLED, t);
      } else {
        push_response(x, t, R_CANCEL_REJECT, o.id, 0, o.price, 0.0);
      }
      return;
    case REQ_MODIFY:
      if (o.status == ST_OPEN) {
        if (r.qty <= o.leaves) {
          o.leaves = r.qty;  // a decrease keeps queue priority
        } else {
          o.leaves = r.qty;  // an increase goes to the back of the queue
          rest(x, o);
        }
        push_response(x, t, R_MODIFIED, o.id, o.leaves, o.price, 0.0);
      } else {
        push_response(x, t, R_MODIFY_REJECT, o.id, 0, o.price, 0.0);
      }
      return;
  }
}

}  // namespace mmsim
