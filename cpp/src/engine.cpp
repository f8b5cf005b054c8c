#include "mmsim/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace mmsim {

namespace {
constexpr int64_t kInf = std::numeric_limits<int64_t>::max();

std::vector<int64_t> non_empty(std::vector<int64_t> v, const char* leg) {
  if (v.empty()) throw ConfigError(std::string("latency table '") + leg + "' is empty");
  for (int64_t x : v)
    if (x < 0) throw ConfigError(std::string("latency table '") + leg + "' has a negative latency");
  return v;
}
}  // namespace

// ----------------------------------------------------------------------------------------- strategies

bool Context::depth(int side, int lvl, int64_t& price, int64_t& qty) const {
  return engine->strategy_book().level(side, lvl, price, qty);
}
int64_t Context::submit(int side, int64_t price, int64_t qty, Tif tif) { return engine->api_submit(side, price, qty, tif); }
void Context::cancel(int64_t order_id) { engine->api_cancel(order_id); }
void Context::modify(int64_t order_id, int64_t qty) { engine->api_modify(order_id, qty); }
std::vector<Context::OpenOrder> Context::open_orders() const { return engine->api_open_orders(); }

int SymmetricQuoter::on_wakeup(Context& ctx, Targets& out) {
  out.has = true;
  if (ctx.bid_qty == 0 || ctx.ask_qty == 0) {
    out.bid_price = out.bid_qty = out.ask_price = out.ask_qty = 0;
    return 0;
  }
  const int64_t mid2 = ctx.best_bid + ctx.best_ask;
  auto floor_div2 = [](int64_t x) { return x >= 0 ? x / 2 : -((-x + 1) / 2); };
  out.bid_price = floor_div2(mid2 - h2_);
  out.ask_price = -floor_div2(-(mid2 + h2_));
  out.bid_qty = out.ask_qty = size_;
  return 0;
}

int CfuncStrategy::on_wakeup(Context& ctx, Targets& out) {
  ci_[CI_NOW] = ctx.now;
  ci_[CI_REASON] = ctx.reason;
  ci_[CI_BEST_BID] = ctx.best_bid;
  ci_[CI_BID_QTY] = ctx.bid_qty;
  ci_[CI_BEST_ASK] = ctx.best_ask;
  ci_[CI_ASK_QTY] = ctx.ask_qty;
  ci_[CI_POSITION] = ctx.position;
  ci_[CI_DATA_EXCH_TS] = ctx.data_exch_ts;
  ci_[CI_DATA_ARRIVAL_TS] = ctx.data_arrival_ts;
  ci_[CI_DATA_ROWS] = ctx.data_rows;
  ci_[CI_N_FEATURES] = ctx.n_features;
  for (int lvl = 0; lvl < CI_LEVELS; ++lvl) {
    int64_t* d = ci_ + CI_DEPTH0 + 4 * lvl;
    if (!ctx.depth(BID, lvl, d[0], d[1])) d[0] = d[1] = 0;
    if (!ctx.depth(ASK, lvl, d[2], d[3])) d[2] = d[3] = 0;
  }
  cf_[CF_EWMA_MID] = ctx.ewma_mid;
  cf_[CF_CASH] = ctx.cash;
  cf_[CF_TICK_SIZE] = ctx.tick_size;
  cf_[CF_LOT_SIZE] = ctx.lot_size;
  cf_[CF_PRED_MOVE] = ctx.pred_move;
  cf_[CF_P_DOWN] = ctx.p_down;
  cf_[CF_P_FLAT] = ctx.p_flat;
  cf_[CF_P_UP] = ctx.p_up;
  out_[0] = 0;
  static const double kNoFeatures[1] = {0.0};
  last_status_ = fn_(ci_, cf_, params_.data(), ctx.n_features ? ctx.features : kNoFeatures, out_);
  if (last_status_ != 0) return last_status_;
  out.has = out_[0] != 0;
  out.bid_price = out_[1];
  out.bid_qty = out_[2];
  out.ask_price = out_[3];
  out.ask_qty = out_[4];
  return 0;
}

std::string CfuncStrategy::error_message() const {
  return "cfunc returned status " + std::to_string(last_status_);
}

// ----------------------------------------------------------------------------------------- engine

Engine::Engine(const EventRecord* events, const int64_t* arrival, int64_t n, LatencyTables lat, EngineConfig cfg,
               Strategy* strategy, bool final)
    : ev_(events), arrival_(arrival), loaded_(n), final_(final), cfg_(std::move(cfg)), strategy_(strategy) {
  lat_.entry = non_empty(std::move(lat.entry), "entry");
  lat_.cancel = non_empty(std::move(lat.cancel), "cancel");
  lat_.response = non_empty(std::move(lat.response), "response");
  lat_.compute = non_empty(std::move(lat.compute), "compute");
  if (mmsim_ewma_init(&ewma_, cfg_.ewma_tau_ns) != MMSIM_OK) throw ConfigError("ewma_tau_ns must be > 0");
  if (cfg_.timer_interval_ns < 0) throw ConfigError("timer_interval_ns must be >= 0");
  if (strategy_ == nullptr) throw ConfigError("no strategy");
  t_end_ = !final_ ? kInf : (n > 0 ? arrival_[n - 1] : NO_TS);
  next_timer_ = (cfg_.timer_interval_ns > 0 && n > 0) ? arrival_[0] : kInf;
  done_ = final_ && n == 0;
  if (!final_ && n == 0) throw ConfigError("a streamed run needs rows in its first chunk");
  if (!cfg_.features.empty()) {
    features_ = std::make_unique<FeatureRunner>(cfg_.features);
    feature_values_.assign(features_->size(), std::numeric_limits<double>::quiet_NaN());
  }
  ctx_.features = feature_values_.data();
  ctx_.n_features = static_cast<int64_t>(feature_values_.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ctx_.pred_move = ctx_.p_down = ctx_.p_flat = ctx_.p_up = nan;
  if (cfg_.model) {
    if (!features_ || cfg_.model->n_inputs() != features_->size())
      throw ConfigError("the model takes " + std::to_string(cfg_.model->n_inputs()) + " features but the bank has " +
                        std::to_string(features_ ? features_->size() : 0));
    prediction_.assign(cfg_.model->n_outputs(), nan);
    const std::vector<std::string> names = cfg_.model->output_names();
    const char* canonical[4] = {"move", "p_down", "p_flat", "p_up"};
    for (int k = 0; k < 4; ++k)
      for (size_t j = 0; j < names.size(); ++j)
        if (names[j] == canonical[k]) pred_slot_[k] = static_cast<int>(j);
  } else if (cfg_.compute_source == ComputeSource::MeasuredModel) {
    throw ConfigError("compute latency 'model' needs a model");
  }
  ctx_.prediction = prediction_.data();
  ctx_.n_prediction = static_cast<int64_t>(prediction_.size());
  ctx_.engine = this;
  ctx_.tick_size = cfg_.tick_size;
  ctx_.lot_size = cfg_.lot_size;
}

bool Engine::step(int64_t n_rows) {
  if (done_) return true;
  const int64_t target = fd_i_ + std::max<int64_t>(n_rows, 1);
  for (;;) {
    if (fd_i_ >= target && fd_i_ < loaded_) return false;
    if (needs_data()) return false;  // the next row's successor decides group ends: wait for it
    // The smallest (time, stream priority); strict '<' keeps the lower priority at equal times.
    int64_t t = kInf;
    int which = -1;
    if (ex_i_ < loaded_) { t = row(ex_i_).exch_ts; which = 0; }
    if (!requests_.empty() && requests_.front().t < t) { t = requests_.front().t; which = 1; }
    if (fd_i_ < loaded_ && arrival_of(fd_i_) < t) { t = arrival_of(fd_i_); which = 2; }
    if (!responses_.empty() && responses_.front().t < t) { t = responses_.front().t; which = 3; }
    if (next_timer_ < t) { t = next_timer_; which = 4; }
    if (wake_pending_ && wake_time_ < t) { t = wake_time_; which = 5; }
    if (which < 0 || t > t_end_) {
      done_ = true;
      return true;
    }
    switch (which) {
      case 0: on_exchange_row(ex_i_); break;
      case 1: { Request r = requests_.front(); requests_.pop_front(); on_request(r); break; }
      case 2: on_feed_row(fd_i_); break;
      case 3: { Response r = responses_.front(); responses_.pop_front(); on_response(r); break; }
      case 4: request_wake(next_timer_, WAKE_TIMER); next_timer_ += cfg_.timer_interval_ns; break;
      default: wakeup(wake_time_); break;
    }
  }
}

void Engine::append(const EventRecord* events, const int64_t* arrival, int64_t n, bool final) {
  if (final_) throw ConfigError("append after the final chunk");
  if (n > 0 && loaded_ > 0) {
    if (events[0].exch_ts < row(loaded_ - 1).exch_ts)
      throw DataError(loaded_, "exch_ts goes back in time across chunks");
    if (arrival[0] < arrival_of(loaded_ - 1))
      throw ConfigError("feed arrival times go back in time across chunks");
  }
  // Keep only the rows not yet consumed by both the exchange and the feed (the feed lags behind).
  const int64_t keep = std::min(ex_i_, fd_i_);
  std::vector<EventRecord> ev(static_cast<size_t>(loaded_ - keep + n));
  std::vector<int64_t> arr(ev.size());
  std::copy(ev_ + (keep - base_), ev_ + (loaded_ - base_), ev.begin());
  std::copy(arrival_ + (keep - base_), arrival_ + (loaded_ - base_), arr.begin());
  std::copy(events, events + n, ev.begin() + (loaded_ - keep));
  std::copy(arrival, arrival + n, arr.begin() + (loaded_ - keep));
  ev_buf_.swap(ev);
  arr_buf_.swap(arr);
  ev_ = ev_buf_.data();
  arrival_ = arr_buf_.data();
  base_ = keep;
  loaded_ += n;
  final_ = final;
  if (final_) t_end_ = loaded_ > 0 ? arrival_of(loaded_ - 1) : NO_TS;
}

// ---- exchange side

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
  if (i + 1 == loaded_ || row(i + 1).exch_ts != e.exch_ts) end_of_group_check(ex_book_, i, true);
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

void Engine::end_of_group_check(Book& book, int64_t row, bool exchange_side) {
  const int64_t removed = check_crossed(book, row, cfg_.repair_crossed);
  if (exchange_side) repaired_ += removed;
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

int64_t Engine::push_response(int64_t t, RespType type, int64_t order_id, int64_t qty, int64_t price, double fee) {
  int64_t arr = t + lat_.response[k_resp_++ % lat_.response.size()];
  if (last_resp_arrival_ != NO_TS && arr < last_resp_arrival_) arr = last_resp_arrival_;
  last_resp_arrival_ = arr;
  responses_.push_back(Response{arr, order_id, qty, price, fee, type});
  return arr;
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

// ---- strategy side

void Engine::on_feed_row(int64_t i) {
  const EventRecord& e = row(i);
  const int64_t t = arrival_of(i);
  apply_feed_event(st_book_, e, i);
  fd_i_ = i + 1;
  last_fd_exch_ts_ = e.exch_ts;
  last_fd_arrival_ = t;
  if (i + 1 == loaded_ || row(i + 1).exch_ts != e.exch_ts) end_of_group_check(st_book_, i, false);
  if (st_book_.has(BID) && st_book_.has(ASK)) {
    // The mid is a step function: feeding it only when it changes is exact and saves an exp() per row.
    const double mid = static_cast<double>(st_book_.best(BID) + st_book_.best(ASK)) / 2.0;
    if (!ewma_.initialized || mid != ewma_.last_x)
      if (mmsim_ewma_update(&ewma_, t, mid) != MMSIM_OK) throw DataError(i, "feature update failed (time went back)");
  }
  if (features_) features_->on_event(t, st_book_, e, i);  // the delayed view only, never exchange truth
  if (cfg_.wake_on_feed) request_wake(t, WAKE_FEED);
}

void Engine::on_response(const Response& r) {
  StOrder& s = st_orders_[r.order_id - 1];
  auto mark_done = [&]() {
    if (s.state == Known::Done) return;
    s.state = Known::Done;
    auto it = std::lower_bound(st_active_.begin(), st_active_.end(), r.order_id);
    if (it != st_active_.end() && *it == r.order_id) st_active_.erase(it);
  };
  switch (r.type) {
    case R_ACK: if (s.state != Known::Done) s.state = Known::Live; break;
    case R_FILL:
      s.leaves -= r.qty;
      st_position_ += s.side * r.qty;
      st_cash_ -= s.side * r.price * r.qty;
      st_fees_ += r.fee;
      if (s.leaves == 0) mark_done();
      break;
    case R_CANCELLED: case R_EXPIRED: case R_REJECTED: mark_done(); break;
    case R_MODIFIED: s.leaves = r.qty; break;
    case R_CANCEL_REJECT: case R_MODIFY_REJECT: break;
  }
  if (cfg_.wake_on_response) request_wake(r.t, WAKE_RESPONSE);
}

void Engine::request_wake(int64_t t, int32_t reason) {
  if (!wake_pending_) {
    wake_pending_ = true;
    wake_time_ = (busy_until_ != NO_TS && busy_until_ > t) ? busy_until_ : t;
    wake_reason_ = reason;
  } else {
    wake_reason_ |= reason;
  }
}

void Engine::strategy_failed(int64_t ts, const std::string& why) const {
  throw StrategyError("strategy " + cfg_.strategy_name + " failed at t=" + std::to_string(ts) + " ns: " + why);
}

void Engine::wakeup(int64_t ts) {
  // Zero order and response latency let a strategy act, hear back and act again at one instant; cap it.
  if (ts == last_wake_ts_) {
    if (++wakes_at_ts_ > kMaxWakesPerInstant)
      strategy_failed(ts, "woke " + std::to_string(kMaxWakesPerInstant) +
                              " times without time advancing (zero order and response latency with a strategy that"
                              " keeps acting on its own fills?)");
  } else {
    last_wake_ts_ = ts;
    wakes_at_ts_ = 1;
  }
  wake_pending_ = false;
  const int32_t reason = wake_reason_;
  wake_reason_ = 0;

  ctx_.now = ts;
  ctx_.reason = reason;
  ctx_.bid_qty = st_book_.best_qty(BID);
  ctx_.best_bid = ctx_.bid_qty ? st_book_.best(BID) : 0;
  ctx_.ask_qty = st_book_.best_qty(ASK);
  ctx_.best_ask = ctx_.ask_qty ? st_book_.best(ASK) : 0;
  ctx_.position = st_position_;
  ctx_.cash = static_cast<double>(st_cash_) * cfg_.tick_size * cfg_.lot_size - st_fees_;
  ctx_.ewma_mid = std::numeric_limits<double>::quiet_NaN();
  if (ewma_.initialized) mmsim_ewma_value_at(&ewma_, ts, &ctx_.ewma_mid);  // decayed to the wakeup time
  ctx_.data_rows = fd_i_;
  if (features_) features_->values(ts, feature_values_.data());
  ctx_.data_exch_ts = last_fd_exch_ts_;
  ctx_.data_arrival_ts = last_fd_arrival_;

  cur_decision_ = static_cast<int64_t>(decisions_.size());
  api_actions_.clear();
  Targets tg;
  const auto t0 = std::chrono::steady_clock::now();
  double model_ns = 0.0;
  if (cfg_.model) {
    cfg_.model->predict(feature_values_.data(), prediction_.data());
    model_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    double* slots[4] = {&ctx_.pred_move, &ctx_.p_down, &ctx_.p_flat, &ctx_.p_up};
    for (int k = 0; k < 4; ++k)
      if (pred_slot_[k] >= 0) *slots[k] = prediction_[pred_slot_[k]];
  }
  in_wakeup_ = true;
  int rc;
  try {
    rc = strategy_->on_wakeup(ctx_, tg);
  } catch (...) {
    in_wakeup_ = false;
    throw;
  }
  const auto t1 = std::chrono::steady_clock::now();
  in_wakeup_ = false;
  if (rc != 0) strategy_failed(ts, strategy_->error_message());
  if (tg.has) {
    if (tg.bid_qty < 0 || tg.ask_qty < 0) strategy_failed(ts, "negative target quantity");
    if (tg.bid_qty > 0 && tg.ask_qty > 0 && tg.bid_price >= tg.ask_price)
      strategy_failed(ts, "crossed target quotes: bid " + std::to_string(tg.bid_price) + " >= ask " +
                              std::to_string(tg.ask_price));
  }
  int64_t compute;
  switch (cfg_.compute_source) {
    case ComputeSource::MeasuredStrategy:  // model inference plus the strategy call, on this machine
      compute = std::llround(std::chrono::duration<double, std::nano>(t1 - t0).count() * cfg_.compute_factor);
      break;
    case ComputeSource::MeasuredModel:
      compute = std::llround(model_ns * cfg_.compute_factor);
      break;
    default:
      compute = lat_.compute[static_cast<uint64_t>(cur_decision_) % lat_.compute.size()];
  }
  const int64_t wire = ts + compute;
  busy_until_ = wire;

  DecisionRecord d{};
  d.decision_id = cur_decision_;
  d.ts = ts;
  d.wire_ts = wire;
  d.data_exch_ts = ctx_.data_exch_ts;
  d.data_arrival_ts = ctx_.data_arrival_ts;
  d.data_rows = fd_i_;
  d.position = st_position_;
  if (tg.has) {
    d.bid_price = tg.bid_price; d.bid_qty = tg.bid_qty; d.ask_price = tg.ask_price; d.ask_qty = tg.ask_qty;
  } else {
    d.bid_qty = d.ask_qty = -1;
  }
  d.reason = reason;
  decisions_.push_back(d);
  // Counts are kept on the record as actions go out.
  for (const Action& a : api_actions_) send(a, wire);
  api_actions_.clear();
  if (tg.has) targets_to_actions(tg);
}

void Engine::send(const Action& a, int64_t wire_ts) {
  int64_t lat;
  DecisionRecord& d = decisions_.back();
  if (a.type == REQ_CANCEL) {
    lat = lat_.cancel[k_cancel_++ % lat_.cancel.size()];
    ++d.n_cancel;
  } else {
    lat = lat_.entry[k_entry_++ % lat_.entry.size()];
    if (a.type == REQ_NEW) {
      orders_[a.order_id - 1].sent_ts = wire_ts;
      ++d.n_new;
    } else {
      ++d.n_modify;
    }
  }
  int64_t arr = wire_ts + lat;
  if (last_req_arrival_ != NO_TS && arr < last_req_arrival_) arr = last_req_arrival_;
  last_req_arrival_ = arr;
  requests_.push_back(Request{arr, a.order_id, a.qty, a.type});
}

void Engine::targets_to_actions(const Targets& tg) {
  const int64_t wire = decisions_.back().wire_ts;
  for (int side : {BID, ASK}) {
    const int64_t tp = side == BID ? tg.bid_price : tg.ask_price;
    const int64_t tq = side == BID ? tg.bid_qty : tg.ask_qty;
    int64_t keep = 0;
    // Snapshot: sending never changes st_active_, but keep the iteration obviously safe.
    const std::vector<int64_t> active = st_active_;
    for (int64_t id : active) {
      StOrder& s = st_orders_[id - 1];
      if (s.side != side || s.cancel_sent) continue;
      if (tq > 0 && keep == 0 && s.price == tp) { keep = id; continue; }
      s.cancel_sent = true;
      send(Action{REQ_CANCEL, id, 0}, wire);
    }
    if (tq == 0) continue;
    if (keep != 0) {
      StOrder& s = st_orders_[keep - 1];
      if (s.qty != tq) {
        s.qty = tq;
        send(Action{REQ_MODIFY, keep, tq}, wire);
      }
    } else {
      const int64_t id = create_order(side, tp, tq, cfg_.post_only ? POST_ONLY : GTC);
      send(Action{REQ_NEW, id, tq}, wire);
    }
  }
}

int64_t Engine::api_submit(int side, int64_t price, int64_t qty, Tif tif) {
  if (!in_wakeup_) throw StrategyError("submit called outside on_wakeup");
  if (side != BID && side != ASK) throw StrategyError("submit: side must be +1 (bid) or -1 (ask)");
  if (qty <= 0) throw StrategyError("submit: qty must be > 0");
  const int64_t id = create_order(side, price, qty, tif);
  api_actions_.push_back(Action{REQ_NEW, id, qty});
  return id;
}

int64_t Engine::create_order(int side, int64_t price, int64_t qty, Tif tif) {
  const int64_t id = static_cast<int64_t>(orders_.size()) + 1;
  ExOrder o;
  o.id = id;
  o.decision_id = cur_decision_;
  o.price = price;
  o.qty = o.leaves = qty;
  o.side = static_cast<int8_t>(side);
  o.tif = tif;
  orders_.push_back(o);
  st_orders_.push_back(StOrder{price, qty, qty, static_cast<int8_t>(side), Known::Sent, false});
  st_active_.push_back(id);
  return id;
}

void Engine::api_cancel(int64_t order_id) {
  if (!in_wakeup_) throw StrategyError("cancel called outside on_wakeup");
  if (order_id < 1 || order_id > static_cast<int64_t>(st_orders_.size())) return;
  StOrder& s = st_orders_[order_id - 1];
  if (s.state == Known::Done || s.cancel_sent) return;
  s.cancel_sent = true;
  api_actions_.push_back(Action{REQ_CANCEL, order_id, 0});
}

void Engine::api_modify(int64_t order_id, int64_t qty) {
  if (!in_wakeup_) throw StrategyError("modify called outside on_wakeup");
  if (qty <= 0) throw StrategyError("modify: qty must be > 0 (use cancel)");
  if (order_id < 1 || order_id > static_cast<int64_t>(st_orders_.size())) return;
  StOrder& s = st_orders_[order_id - 1];
  if (s.state == Known::Done || s.cancel_sent) return;
  s.qty = qty;
  api_actions_.push_back(Action{REQ_MODIFY, order_id, qty});
}

std::vector<Context::OpenOrder> Engine::api_open_orders() const {
  std::vector<Context::OpenOrder> out;
  for (int64_t id : st_active_) {
    const StOrder& s = st_orders_[id - 1];
    if (s.cancel_sent) continue;
    out.push_back(Context::OpenOrder{id, s.side, s.price, s.qty, s.leaves});
  }
  return out;
}

std::vector<OrderRecord> Engine::orders() const {
  std::vector<OrderRecord> out(orders_.size());
  for (size_t j = 0; j < orders_.size(); ++j) {
    const ExOrder& o = orders_[j];
    OrderRecord& r = out[j];
    r.order_id = o.id;
    r.decision_id = o.decision_id;
    r.price = o.price;
    r.qty = o.qty;
    r.filled = o.filled;
    r.sent_ts = o.sent_ts;
    r.exch_ts = o.exch_ts;
    r.done_ts = o.done_ts;
    r.side = o.side;
    r.tif = o.tif;
    r.status = o.exch_ts == NO_TS ? ST_PENDING : o.status;
  }
  return out;
}

Summary Engine::summary() const {
  Summary s;
  s.n_events = ex_i_;
  s.n_fills = static_cast<int64_t>(fills_.size());
  s.volume = volume_;
  s.position = position_;
  s.cash_ticklots = cash_;
  s.fees = fees_;
  s.final_mid = have_mid_ ? static_cast<double>(last_mid2_) / 2.0 : std::numeric_limits<double>::quiet_NaN();
  s.pnl = static_cast<double>(cash_) * cfg_.tick_size * cfg_.lot_size - fees_ +
          (position_ != 0 ? static_cast<double>(position_) * s.final_mid * cfg_.tick_size * cfg_.lot_size : 0.0);
  s.n_orders = static_cast<int64_t>(orders_.size());
  s.n_decisions = static_cast<int64_t>(decisions_.size());
  s.repaired_crossed_levels = repaired_;
  return s;
}

}  // namespace mmsim
