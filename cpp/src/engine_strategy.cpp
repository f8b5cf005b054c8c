// Strategy side: what the strategy knows and when. Feed rows arriving after their latency update their
// venue's strategy-side book (the quoted venue's or a read-only signal venue's), EWMA and features;
// responses update its view of its orders (per quoted venue); wakeups build the Context, call the model and
// the strategy, take the compute latency, log the decision (and a quote record per quoted venue k >= 1) and
// turn each venue's targets into actions. Nothing here reads exchange truth (docs/event-loop.md).
#include "mmsim/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace mmsim {

void Engine::on_feed_row(FeedVenue& v, int64_t i) {
  const EventRecord& e = v.row(i);
  const int64_t t = v.arrival_of(i);
  apply_feed_event(v.book, e, i);
  v.fd_i = i + 1;
  v.last_exch_ts = e.exch_ts;
  v.last_arrival = t;
  const bool group_end = i + 1 == v.loaded || v.row(i + 1).exch_ts != e.exch_ts;
  if (group_end) check_crossed(v.book, i, v.repair_crossed);
  if (v.track_ewma && v.book.has(BID) && v.book.has(ASK)) {
    // The mid is a step function: feeding it only when it changes is exact and saves an exp() per row.
    const double mid = static_cast<double>(v.book.best(BID) + v.book.best(ASK)) / 2.0;
    if (!v.ewma.initialized || mid != v.ewma.last_x)
      if (mmsim_ewma_update(&v.ewma, t, mid) != MMSIM_OK) throw DataError(i, "feature update failed (time went back)");
  }
  // The delayed view only, never exchange truth; the book as of the last whole message (docs/event-loop.md).
  if (v.features) v.features->on_event(t, v.book, e, i, group_end || (e.flags & FLAG_MSG_END) != 0);
  if (cfg_.wake_on_feed) request_wake(t, WAKE_FEED);
}

void Engine::on_signal_row() {
  // A signal row reaches only its venue's strategy side (no exchange side, no own orders there).
  FeedVenue& v = sig_[sig_next_];
  try {
    on_feed_row(v, v.fd_i);
  } catch (const DataError& e) {
    throw DataError("signal '" + v.name + "': ", e);
  }
  next_signal();
}

void Engine::on_response(const Response& r) {
  StOrder& s = st_orders_[r.order_id - 1];
  QuotedVenue& x = *xv_[s.venue];
  auto mark_done = [&]() {
    if (s.state == Known::Done) return;
    s.state = Known::Done;
    auto it = std::lower_bound(x.st_active.begin(), x.st_active.end(), r.order_id);
    if (it != x.st_active.end() && *it == r.order_id) x.st_active.erase(it);
  };
  switch (r.type) {
    case R_ACK: if (s.state != Known::Done) s.state = Known::Live; break;
    case R_FILL:
      s.leaves -= r.qty;
      x.st_position += s.side * r.qty;
      x.st_cash -= s.side * r.price * r.qty;
      x.st_fees += r.fee;
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
  ctx_.bid_qty = q_.book.best_qty(BID);
  ctx_.best_bid = ctx_.bid_qty ? q_.book.best(BID) : 0;
  ctx_.ask_qty = q_.book.best_qty(ASK);
  ctx_.best_ask = ctx_.ask_qty ? q_.book.best(ASK) : 0;
  ctx_.position = x0_.st_position;
  ctx_.cash = static_cast<double>(x0_.st_cash) * cfg_.tick_size * cfg_.lot_size - x0_.st_fees;
  ctx_.ewma_mid = std::numeric_limits<double>::quiet_NaN();
  if (q_.ewma.initialized) mmsim_ewma_value_at(&q_.ewma, ts, &ctx_.ewma_mid);  // decayed to the wakeup time
  ctx_.data_rows = q_.fd_i;
  if (q_.features) q_.features->values(ts, q_.feature_values.data());
  ctx_.data_exch_ts = q_.last_exch_ts;
  ctx_.data_arrival_ts = q_.last_arrival;
  {
    VenueView& w = views_[0];
    w.best_bid = ctx_.best_bid; w.bid_qty = ctx_.bid_qty; w.best_ask = ctx_.best_ask; w.ask_qty = ctx_.ask_qty;
    w.data_exch_ts = ctx_.data_exch_ts; w.data_arrival_ts = ctx_.data_arrival_ts; w.data_rows = ctx_.data_rows;
    w.position = ctx_.position; w.cash = ctx_.cash;
  }
  for (size_t k = 0; k < sig_.size(); ++k) {  // the signal venues' delayed views (none without signals)
    FeedVenue& v = sig_[k];
    VenueView& w = views_[k + 1];
    w.bid_qty = v.book.best_qty(BID);
    w.best_bid = w.bid_qty ? v.book.best(BID) : 0;
    w.ask_qty = v.book.best_qty(ASK);
    w.best_ask = w.ask_qty ? v.book.best(ASK) : 0;
    w.data_exch_ts = v.last_exch_ts;
    w.data_arrival_ts = v.last_arrival;
    w.data_rows = v.fd_i;
    if (v.features) v.features->values(ts, v.feature_values.data());
    if (const QuotedVenue* x = xv_[k + 1]) {
      w.position = x->st_position;
      w.cash = static_cast<double>(x->st_cash) * x->tick_size * x->lot_size - x->st_fees;
    }
  }

  cur_decision_ = static_cast<int64_t>(decisions_.size());
  for (size_t k = 0; k < sig_.size(); ++k) {
    const FeedVenue& v = sig_[k];
    signal_data_.push_back(SignalDataRecord{cur_decision_, static_cast<int64_t>(k + 1), v.last_exch_ts,
                                            v.last_arrival, v.fd_i});
  }
  api_actions_.clear();
  Targets tg;
  const auto t0 = std::chrono::steady_clock::now();
  double model_ns = 0.0;
  if (cfg_.model) {
    if (cfg_.model_inputs.empty()) {
      cfg_.model->predict(q_.feature_values.data(), prediction_.data());
    } else {  // gathered from the venues' banks, all evaluated at this wakeup above
      for (size_t k = 0; k < model_in_.size(); ++k) {
        const auto& [venue, j] = cfg_.model_inputs[k];
        model_in_[k] = j < 0 ? basis(static_cast<size_t>(venue))  // a cross-venue column (docs/venues.md)
                             : (venue == 0 ? q_ : sig_[static_cast<size_t>(venue) - 1]).feature_values[static_cast<size_t>(j)];
      }
      cfg_.model->predict(model_in_.data(), prediction_.data());
    }
    model_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    double* slots[4] = {&ctx_.pred_move, &ctx_.p_down, &ctx_.p_flat, &ctx_.p_up};
    for (int k = 0; k < 4; ++k)
      if (pred_slot_[k] >= 0) *slots[k] = prediction_[pred_slot_[k]];
  }
  for (Targets& vt : venue_targets_) vt.has = false;
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
  check_targets(ts, tg, 0);
  if (venue_targets_[0].has) strategy_failed(ts, "set venue 0's targets through out, not venue_targets[0]");
  for (size_t v = 1; v < venue_targets_.size(); ++v) check_targets(ts, venue_targets_[v], static_cast<int64_t>(v));
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
  d.data_rows = q_.fd_i;
  d.position = x0_.st_position;
  if (tg.has) {
    d.bid_price = tg.bid_price; d.bid_qty = tg.bid_qty; d.ask_price = tg.ask_price; d.ask_qty = tg.ask_qty;
  } else {
    d.bid_qty = d.ask_qty = -1;
  }
  d.reason = static_cast<int16_t>(reason);
  d.flags = decision_flags_;
  decisions_.push_back(d);
  for (const auto& p : xq_) {  // a quote record per quoted venue k >= 1
    const Targets& vt = venue_targets_[p->index];
    QuoteRecord q{};
    q.decision_id = cur_decision_;
    q.venue = p->index;
    q.position = p->st_position;
    if (vt.has) {
      q.bid_price = vt.bid_price; q.bid_qty = vt.bid_qty; q.ask_price = vt.ask_price; q.ask_qty = vt.ask_qty;
    } else {
      q.bid_qty = q.ask_qty = -1;
    }
    quotes_.push_back(q);
  }
  // Counts are kept on the records as actions go out: low-level calls in call order, then venue 0's targets,
  // then each quoted venue's in venue order.
  for (const Action& a : api_actions_) send(a, wire);
  api_actions_.clear();
  if (tg.has) targets_to_actions(x0_, tg);
  for (const auto& p : xq_)
    if (venue_targets_[p->index].has) targets_to_actions(*p, venue_targets_[p->index]);
}

double Engine::basis(size_t v) const {
  // Venue v's delayed mid minus the quoted venue's, in quoted ticks: (mid_v * tick_v - mid_0 * tick_0) / tick_0,
  // NaN when either book has an empty side. The same operations, in the same order, as training's column
  // (mmsim.signals.train), so batch and loop agree bit for bit (-ffp-contract=off).
  const VenueView& a = views_[v];
  const VenueView& q = views_[0];
  if (a.bid_qty == 0 || a.ask_qty == 0 || q.bid_qty == 0 || q.ask_qty == 0)
    return std::numeric_limits<double>::quiet_NaN();
  const double mid_v = (static_cast<double>(a.best_bid) + static_cast<double>(a.best_ask)) / 2.0;
  const double mid_q = (static_cast<double>(q.best_bid) + static_cast<double>(q.best_ask)) / 2.0;
  return (mid_v * a.tick_size - mid_q * q.tick_size) / q.tick_size;
}

// The checks every venue's targets pass (venue 0's messages as they always were; venue k's name the venue).
void Engine::check_targets(int64_t ts, const Targets& tg, int64_t venue) const {
  if (!tg.has) return;
  const std::string where = venue == 0 ? "" : "venue " + std::to_string(venue) + " '" + venue_name(venue) + "': ";
  if (venue > 0 && xv_[venue] == nullptr)
    strategy_failed(ts, where + "quotes read-only instrument '" + venue_name(venue) + "' (mark it quoted)");
  if (tg.bid_qty < 0 || tg.ask_qty < 0) strategy_failed(ts, where + "negative target quantity");
  if (tg.bid_qty > 0 && tg.ask_qty > 0 && tg.bid_price >= tg.ask_price)
    strategy_failed(ts, where + "crossed target quotes: bid " + std::to_string(tg.bid_price) + " >= ask " +
                            std::to_string(tg.ask_price));
}

void Engine::targets_to_actions(QuotedVenue& x, const Targets& tg) {
  const int64_t wire = decisions_.back().wire_ts;
  for (int side : {BID, ASK}) {
    const int64_t tp = side == BID ? tg.bid_price : tg.ask_price;
    const int64_t tq = side == BID ? tg.bid_qty : tg.ask_qty;
    int64_t keep = 0;
    // Snapshot: create_order appends to x.st_active while this loop runs.
    const std::vector<int64_t> active = x.st_active;
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
      const int64_t id = create_order(x, side, tp, tq, x.post_only ? POST_ONLY : GTC);
      send(Action{REQ_NEW, id, tq}, wire);
    }
  }
}

}  // namespace mmsim
