// Exchange side: the exchange-side book at exchange time and the matching of our own orders against it.
// Data rows update the book and our queue positions (L2 or L3), trades and crosses fill resting orders,
// and arriving requests (new, cancel, modify) are matched here. These are the rules of docs/fills.md,
// mirrored by mmsim/reference.py; tests/test_differential.py holds the two to identical fills.
#include "mmsim/engine.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine_internal.hpp"

namespace mmsim {

void Engine::on_exchange_row(int64_t i) {
  const EventRecord& e = row(i);
  if (cfg_.l3) exchange_l3(e, i); else exchange_l2(e, i);
  // A data update of a level restores its full displayed size to our taker orders (rule E).
  if (e.kind == CLEAR) {
    if (e.side >= 0) taken_[0].clear();
    if (e.side <= 0) taken_[1].clear();
  } else if (e.kind != TRADE && !taken_[e.side > 0 ? 0 : 1].empty()) {
    taken_[e.side > 0 ? 0 : 1].erase(e.price);
  }
  ex_i_ = i + 1;
  if (i + 1 == q_.loaded || row(i + 1).exch_ts != e.exch_ts) end_of_group_check(ex_book_, i, true);
  if (e.kind != CLEAR) check_crosses(i);
  if (ex_book_.has(BID) && ex_book_.has(ASK)) {
    last_mid2_ = ex_book_.best(BID) + ex_book_.best(ASK);
    have_mid_ = true;
  }
}

void Engine::exchange_l2(const EventRecord& e, int64_t i) {
  switch (e.kind) {
    case DEPTH: {
      const int64_t prev = ex_book_.set(e.side, e.price, e.qty, i);
      for (int64_t id : live_) {
        ExOrder& o = orders_[id - 1];
        if (o.side != e.side || o.price != e.price) continue;
        const double now_q = static_cast<double>(e.qty);
        if (cfg_.queue_model == QueueModel::RiskAverse) {
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
        const bool power = cfg_.queue_model == QueueModel::Power;
        const double fb = power ? std::pow(back, cfg_.queue_power) : std::log1p(back);
        const double ff = power ? std::pow(front, cfg_.queue_power) : std::log1p(front);
        double p = fb / (fb + ff);
        if (!std::isfinite(p)) p = 1.0;
        const double est = front - (1.0 - p) * chg + std::min(back - p * chg, 0.0);
        o.ahead = std::max(std::min(est, now_q), 0.0);
      }
      break;
    }
    case TRADE: {
      const int passive = -e.side;
      allocate_trade(passive, e.price, e.qty, i, CAUSE_TRADE, kInf);
      const double q = static_cast<double>(e.qty);
      for (int64_t id : live_) {
        ExOrder& o = orders_[id - 1];
        if (o.side != passive || o.price != e.price) continue;
        o.ahead = std::max(o.ahead - q, 0.0);
        o.traded += q;
      }
      break;
    }
    case CLEAR: ex_book_.clear(e.side); break;
    default:
      throw DataError(i, "event kind " + std::to_string(int(e.kind)) + " is not an L2 kind (depth, trade, clear)");
  }
}

void Engine::exchange_l3(const EventRecord& e, int64_t i) {
  switch (e.kind) {
    case ADD: {
      if (mkt_orders_.count(e.order_id))
        throw DataError(i, "order id " + std::to_string(e.order_id) + " is already in the book");
      ex_book_.add(e.side, e.price, e.qty, i);
      mkt_orders_.emplace(e.order_id, MktOrder{2 * i, e.price, e.qty, e.side});
      break;
    }
    case CANCEL: case DELETE: case EXECUTE: {
      auto it = mkt_orders_.find(e.order_id);
      if (it == mkt_orders_.end()) throw DataError(i, "unknown order id " + std::to_string(e.order_id));
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
      if (e.kind == EXECUTE) allocate_trade(m.side, m.price, e.qty, i, CAUSE_EXECUTE, m.seq);
      ex_book_.add(m.side, m.price, -e.qty, i);
      const double q = static_cast<double>(e.qty);
      for (int64_t id : live_) {
        ExOrder& o = orders_[id - 1];
        if (o.side == m.side && o.price == m.price && o.l3_seq > m.seq) o.ahead = std::max(o.ahead - q, 0.0);
      }
      m.qty -= e.qty;
      if (m.qty == 0) mkt_orders_.erase(it);
      break;
    }
    case TRADE: allocate_trade(-e.side, e.price, e.qty, i, CAUSE_TRADE, kInf); break;
    default:
      throw DataError(i, "event kind " + std::to_string(int(e.kind)) +
                             " is not an L3 kind (add, cancel, delete, execute, trade)");
  }
}

void Engine::allocate_trade(int passive, int64_t p, int64_t q, int64_t row, FillCause at_price, int64_t before_seq) {
  if (live_.empty()) return;
  std::vector<int64_t>& c = scratch_;  // reused: no allocation per event
  c.clear();
  for (int64_t id : live_) {
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
  const int64_t t = this->row(row).exch_ts;
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
      fill(o, f, o.price, true, cause, row, t);
      r -= f;
    }
  }
}

void Engine::check_crosses(int64_t row) {
  if (live_.empty()) return;
  const bool hb = ex_book_.has(BID), ha = ex_book_.has(ASK);
  const int64_t bb = ex_book_.best(BID), ba = ex_book_.best(ASK);
  const int64_t t = this->row(row).exch_ts;
  for (size_t j = 0; j < live_.size();) {
    ExOrder& o = orders_[live_[j] - 1];
    const bool crossed = o.side == BID ? (ha && ba <= o.price) : (hb && bb >= o.price);
    if (crossed) fill(o, o.leaves, o.price, true, CAUSE_CROSS, row, t);  // removes live_[j]
    else ++j;
  }
}

double Engine::fee_of(int64_t price, int64_t qty, bool maker) const {
  const double bps = maker ? cfg_.maker_fee_bps : cfg_.taker_fee_bps;
  return static_cast<double>(price) * cfg_.tick_size * static_cast<double>(qty) * cfg_.lot_size * bps / 1e4;
}

void Engine::fill(ExOrder& o, int64_t qty, int64_t price, bool maker, FillCause cause, int64_t row, int64_t t) {
  o.leaves -= qty;
  o.filled += qty;
  position_ += o.side * qty;
  cash_ -= o.side * price * qty;
  const double fee = fee_of(price, qty, maker);
  fees_ += fee;
  volume_ += qty;
  const int64_t recv = push_response(t, R_FILL, o.id, qty, price, fee);
  FillRecord f{};
  f.fill_id = static_cast<int64_t>(fills_.size());
  f.order_id = o.id;
  f.exch_ts = t;
  f.recv_ts = recv;
  f.price = price;
  f.qty = qty;
  f.position = position_;
  f.data_row = row;
  f.fee = fee;
  f.side = o.side;
  f.maker = maker ? 1 : 0;
  f.cause = cause;
  fills_.push_back(f);
  if (o.leaves == 0) finish(o, ST_FILLED, t);
}

void Engine::finish(ExOrder& o, uint8_t status, int64_t t) {
  o.status = status;
  o.done_ts = t;
  auto it = std::lower_bound(live_.begin(), live_.end(), o.id);
  if (it != live_.end() && *it == o.id) live_.erase(it);
}

void Engine::rest(ExOrder& o) {
  o.ahead = static_cast<double>(ex_book_.qty_at(o.side, o.price));
  o.traded = 0.0;
  o.own_seq = own_seq_counter_++;
  o.l3_seq = 2 * ex_i_ - 1;
  auto it = std::lower_bound(live_.begin(), live_.end(), o.id);
  if (it == live_.end() || *it != o.id) live_.insert(it, o.id);
}

void Engine::on_request(const Request& r) {
  ExOrder& o = orders_[r.order_id - 1];
  const int64_t t = r.t;
  switch (r.type) {
    case REQ_NEW: {
      o.exch_ts = t;
      const int opp = -o.side;
      const bool crosses = ex_book_.has(opp) && (o.side == BID ? o.price >= ex_book_.best(ASK)
                                                                : o.price <= ex_book_.best(BID));
      if (crosses && o.tif == POST_ONLY) {
        push_response(t, R_REJECTED, o.id, o.leaves, o.price, 0.0);
        finish(o, ST_REJECTED, t);
        return;
      }
      push_response(t, R_ACK, o.id, o.leaves, o.price, 0.0);
      o.status = ST_OPEN;
      if (crosses) {
        int64_t lvl = ex_book_.best(opp);
        int64_t walked = 0;
        const int64_t n_lv = ex_book_.n_levels(opp);
        auto& taken = taken_[opp > 0 ? 0 : 1];
        for (;;) {
          // what the displayed level still offers after our earlier taker orders since its last update
          auto it = taken.find(lvl);
          const int64_t f = std::min(o.leaves, ex_book_.qty_at(opp, lvl) - (it == taken.end() ? 0 : it->second));
          if (f > 0) {
            taken[lvl] += f;
            fill(o, f, lvl, false, CAUSE_TAKER, ex_i_, t);
          }
          if (o.leaves == 0 || ++walked == n_lv) break;
          lvl = ex_book_.next_level(opp, lvl);
          if (o.side == BID ? lvl > o.price : lvl < o.price) break;
        }
      }
      if (o.leaves > 0) {
        if (o.tif == IOC) {
          push_response(t, R_EXPIRED, o.id, o.leaves, o.price, 0.0);
          finish(o, ST_EXPIRED, t);
        } else {
          rest(o);
        }
      }
      return;
    }
    case REQ_CANCEL:
      if (o.status == ST_OPEN) {
        push_response(t, R_CANCELLED, o.id, o.leaves, o.price, 0.0);
        finish(o, ST_CANCELLED, t);
      } else {
        push_response(t, R_CANCEL_REJECT, o.id, 0, o.price, 0.0);
      }
      return;
    case REQ_MODIFY:
      if (o.status == ST_OPEN) {
        if (r.qty <= o.leaves) {
          o.leaves = r.qty;  // a decrease keeps queue priority
        } else {
          o.leaves = r.qty;  // an increase goes to the back of the queue
          rest(o);
        }
        push_response(t, R_MODIFIED, o.id, o.leaves, o.price, 0.0);
      } else {
        push_response(t, R_MODIFY_REJECT, o.id, 0, o.price, 0.0);
      }
      return;
  }
}

}  // namespace mmsim
