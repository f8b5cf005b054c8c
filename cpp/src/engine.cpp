// The engine's frame: construction and validation of the config, step() -- the loop that merges the six
// time-ordered streams (exchange rows, requests, feed rows, responses, timer, wakeups) -- and append() for
// streamed chunks. What each stream does lives beside it: engine_exchange.cpp, engine_strategy.cpp,
// engine_wire.cpp; the rules are docs/event-loop.md. The end-of-group check is here as both books use it.
#include "mmsim/engine.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "engine_internal.hpp"

namespace mmsim {

namespace {
std::vector<int64_t> non_empty(std::vector<int64_t> v, const char* leg) {
  if (v.empty()) throw ConfigError(std::string("latency table '") + leg + "' is empty");
  for (int64_t x : v)
    if (x < 0) throw ConfigError(std::string("latency table '") + leg + "' has a negative latency");
  return v;
}
}  // namespace

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
  if (strategy_->clairvoyant()) decision_flags_ = DECISION_CLAIRVOYANT;
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

void Engine::end_of_group_check(Book& book, int64_t row, bool exchange_side) {
  const int64_t removed = check_crossed(book, row, cfg_.repair_crossed);
  if (exchange_side) repaired_ += removed;
}

}  // namespace mmsim
