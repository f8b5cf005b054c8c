// The engine's frame: construction and validation of the config, step() -- the loop that merges the seven
// time-ordered streams (exchange rows, requests, feed rows, signal venues' feed rows, responses, timer, wakeups) -- and append() for
// streamed chunks. What each stream does lives beside it: engine_exchange.cpp, engine_strategy.cpp,
// engine_wire.cpp; the rules are docs/event-loop.md. Quoted venues k >= 1 join the merge through one cached
// "next item" (next_quoted), so a run without them pays one comparison per step.
#include "mmsim/engine.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "engine_internal.hpp"

namespace mmsim {

namespace {
std::vector<int64_t> non_empty(std::vector<int64_t> v, const char* leg, const std::string& where = "") {
  if (v.empty()) throw ConfigError(where + "latency table '" + leg + "' is empty");
  for (int64_t x : v)
    if (x < 0) throw ConfigError(where + "latency table '" + leg + "' has a negative latency");
  return v;
}

// Stream priorities at equal times (docs/event-loop.md): the merge's `which` is the priority itself.
enum Prio : int { P_EXCHANGE = 0, P_REQUEST, P_FEED, P_SIGNAL, P_RESPONSE, P_TIMER, P_WAKEUP, P_NONE };
}  // namespace

Engine::Engine(const EventRecord* events, const int64_t* arrival, int64_t n, LatencyTables lat, EngineConfig cfg,
               Strategy* strategy, bool final, std::vector<SignalRows> signals)
    : final_(final), cfg_(std::move(cfg)), strategy_(strategy) {
  q_.name = cfg_.name;
  q_.ev = events;
  q_.arrival = arrival;
  q_.loaded = n;
  q_.repair_crossed = cfg_.repair_crossed;
  q_.track_ewma = true;
  lat_.entry = non_empty(std::move(lat.entry), "entry");
  lat_.cancel = non_empty(std::move(lat.cancel), "cancel");
  lat_.response = non_empty(std::move(lat.response), "response");
  lat_.compute = non_empty(std::move(lat.compute), "compute");
  setup_quoted(x0_, nullptr);
  if (mmsim_ewma_init(&q_.ewma, cfg_.ewma_tau_ns) != MMSIM_OK) throw ConfigError("ewma_tau_ns must be > 0");
  if (cfg_.timer_interval_ns < 0) throw ConfigError("timer_interval_ns must be >= 0");
  if (strategy_ == nullptr) throw ConfigError("no strategy");
  if (strategy_->clairvoyant()) decision_flags_ = DECISION_CLAIRVOYANT;
  t_end_ = !final_ ? kInf : (n > 0 ? arrival[n - 1] : NO_TS);
  next_timer_ = (cfg_.timer_interval_ns > 0 && n > 0) ? arrival[0] : kInf;
  done_ = final_ && n == 0;
  if (!final_ && n == 0) throw ConfigError("a streamed run needs rows in its first chunk");
  if (!cfg_.features.empty()) {
    q_.features = std::make_unique<FeatureRunner>(cfg_.features);
    q_.feature_values.assign(q_.features->size(), std::numeric_limits<double>::quiet_NaN());
  }
  ctx_.features = q_.feature_values.data();
  ctx_.n_features = static_cast<int64_t>(q_.feature_values.size());
  setup_signals(std::move(signals));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ctx_.pred_move = ctx_.p_down = ctx_.p_flat = ctx_.p_up = nan;
  if (cfg_.model && !cfg_.model_inputs.empty()) {  // inputs from several venues' banks
    if (cfg_.model->n_inputs() != cfg_.model_inputs.size())
      throw ConfigError("the model takes " + std::to_string(cfg_.model->n_inputs()) + " features but model_inputs "
                        "maps " + std::to_string(cfg_.model_inputs.size()));
    for (const auto& [venue, j] : cfg_.model_inputs) {
      const FeedVenue* v = venue == 0 ? &q_ : (venue >= 1 && static_cast<size_t>(venue) <= sig_.size()
                                                   ? &sig_[static_cast<size_t>(venue) - 1] : nullptr);
      if (v == nullptr) throw ConfigError("model_inputs: venue " + std::to_string(venue) + " is not in this run");
      if (j == -1 && venue >= 1) continue;  // a cross-venue basis: computed from both books, no bank needed
      if (!v->features || j < 0 || static_cast<size_t>(j) >= v->features->size())
        throw ConfigError("model_inputs: venue " + std::to_string(venue) + " has no feature " + std::to_string(j));
    }
    model_in_.assign(cfg_.model_inputs.size(), std::numeric_limits<double>::quiet_NaN());
  }
  if (cfg_.model) {
    if (cfg_.model_inputs.empty() && (!q_.features || cfg_.model->n_inputs() != q_.features->size()))
      throw ConfigError("the model takes " + std::to_string(cfg_.model->n_inputs()) + " features but the bank has " +
                        std::to_string(q_.features ? q_.features->size() : 0));
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

void Engine::setup_signals(std::vector<SignalRows> rows) {
  if (rows.size() != cfg_.signals.size())
    throw ConfigError("config has " + std::to_string(cfg_.signals.size()) + " signal venue(s) but " +
                      std::to_string(rows.size()) + " signal stream(s) were given");
  if (q_.name.empty()) throw ConfigError("the quoted instrument's name must not be empty");
  sig_.resize(rows.size());
  for (size_t k = 0; k < rows.size(); ++k) {
    const SignalConfig& c = cfg_.signals[k];
    FeedVenue& v = sig_[k];
    const std::string where = "signal " + std::to_string(k + 1) + (c.name.empty() ? "" : " '" + c.name + "'");
    if (c.name.empty()) throw ConfigError(where + ": the name must not be empty");
    if (c.name == q_.name)
      throw ConfigError(where + ": the name is the quoted instrument's name; venue names must be unique");
    for (size_t j = 0; j < k; ++j)
      if (sig_[j].name == c.name) throw ConfigError(where + ": the name is used twice; venue names must be unique");
    if (!(c.tick_size > 0) || !(c.lot_size > 0)) throw ConfigError(where + ": tick_size and lot_size must be > 0");
    if (rows[k].n < 0 || (rows[k].n > 0 && (rows[k].events == nullptr || rows[k].arrival == nullptr)))
      throw ConfigError(where + ": no rows");
    for (int64_t i = 1; i < rows[k].n; ++i)
      if (rows[k].arrival[i] < rows[k].arrival[i - 1])
        throw ConfigError(where + ": feed arrival times go back in time at row " + std::to_string(i));
    v.name = c.name;
    v.ev = rows[k].events;
    v.arrival = rows[k].arrival;
    v.loaded = rows[k].n;
    v.repair_crossed = c.repair_crossed;
    if (!c.features.empty()) {
      try {
        v.features = std::make_unique<FeatureRunner>(c.features);
      } catch (const ConfigError& e) {
        throw ConfigError(where + ": " + e.what());
      }
      v.feature_values.assign(v.features->size(), std::numeric_limits<double>::quiet_NaN());
    }
  }
  // Quoted venues k >= 1: an exchange side and a session each, over the venue's rows.
  xv_.assign(1 + sig_.size(), nullptr);
  xv_[0] = &x0_;
  for (size_t k = 0; k < sig_.size(); ++k) {
    const SignalConfig& c = cfg_.signals[k];
    if (!c.quoted) continue;
    const std::string where = "signal " + std::to_string(k + 1) + " '" + c.name + "': ";
    if (k + 1 > 255) throw ConfigError(where + "a quoted venue's index must be <= 255");
    for (int64_t i = 1; i < rows[k].n; ++i)
      if (rows[k].events[i].exch_ts < rows[k].events[i - 1].exch_ts)
        throw DataError("venue '" + c.name + "': ", DataError(i, "exch_ts goes back in time"));
    auto x = std::make_unique<QuotedVenue>();
    x->index = static_cast<uint8_t>(k + 1);
    x->feed = &sig_[k];
    x->quote_slot = xq_.size();
    setup_quoted(*x, &c);
    xv_[k + 1] = x.get();
    xq_.push_back(std::move(x));
  }
  venue_targets_.assign(1 + sig_.size(), Targets{});
  ctx_.venue_targets = venue_targets_.data();
  views_.assign(1 + sig_.size(), VenueView{});
  views_[0].tick_size = cfg_.tick_size;
  views_[0].lot_size = cfg_.lot_size;
  views_[0].features = q_.feature_values.data();
  views_[0].n_features = static_cast<int64_t>(q_.feature_values.size());
  for (size_t k = 0; k < sig_.size(); ++k) {
    VenueView& w = views_[k + 1];
    w.tick_size = cfg_.signals[k].tick_size;
    w.lot_size = cfg_.signals[k].lot_size;
    w.features = sig_[k].feature_values.data();
    w.n_features = static_cast<int64_t>(sig_[k].feature_values.size());
  }
  for (size_t v = 0; v < views_.size(); ++v) views_[v].quoted = xv_[v] != nullptr;
  ctx_.n_venues = static_cast<int64_t>(views_.size());
  ctx_.venues = views_.data();
  next_signal();
  next_quoted();
}

// A quoted venue's settings: venue 0's are the run's; venue k's its own, each defaulting to the run's.
void Engine::setup_quoted(QuotedVenue& x, const SignalConfig* c) {
  x.l3 = c ? c->l3 : cfg_.l3;
  x.queue_model = c && c->queue_model ? *c->queue_model : cfg_.queue_model;
  x.queue_power = c && c->queue_power ? *c->queue_power : cfg_.queue_power;
  x.maker_fee_bps = c && c->maker_fee_bps ? *c->maker_fee_bps : cfg_.maker_fee_bps;
  x.taker_fee_bps = c && c->taker_fee_bps ? *c->taker_fee_bps : cfg_.taker_fee_bps;
  x.post_only = c && c->post_only ? *c->post_only : cfg_.post_only;
  x.repair_crossed = c ? c->repair_crossed : cfg_.repair_crossed;
  x.tick_size = c ? c->tick_size : cfg_.tick_size;
  x.lot_size = c ? c->lot_size : cfg_.lot_size;
  if (c == nullptr) {
    x.index = 0;
    x.name = cfg_.name;
    x.feed = &q_;
    x.lat_entry = lat_.entry;
    x.lat_cancel = lat_.cancel;
    x.lat_response = lat_.response;
    return;
  }
  x.name = c->name;
  const std::string where = "signal " + std::to_string(x.index) + " '" + c->name + "': ";
  x.lat_entry = c->entry.empty() ? lat_.entry : non_empty(c->entry, "entry", where);
  x.lat_cancel = c->cancel.empty() ? lat_.cancel : non_empty(c->cancel, "cancel", where);
  x.lat_response = c->response.empty() ? lat_.response : non_empty(c->response, "response", where);
}

// The smallest (time, priority, venue) among the quoted venues k >= 1's exchange rows, requests and responses.
void Engine::next_quoted() {
  xq_next_t_ = kInf;
  xq_next_prio_ = P_NONE;
  xq_next_ = nullptr;
  for (auto& p : xq_) {
    QuotedVenue& x = *p;
    auto consider = [&](int64_t t, int prio) {
      if (t < xq_next_t_ || (t == xq_next_t_ && prio < xq_next_prio_)) {  // strict: the lower venue at a tie
        xq_next_t_ = t;
        xq_next_prio_ = prio;
        xq_next_ = &x;
      }
    };
    if (x.ex_i < x.feed->loaded) consider(x.row(x.ex_i).exch_ts, P_EXCHANGE);
    if (!x.requests.empty()) consider(x.requests.front().t, P_REQUEST);
    if (!x.responses.empty()) consider(x.responses.front().t, P_RESPONSE);
  }
}

// One item of a quoted venue k >= 1 (the one next_quoted chose).
void Engine::on_quoted_item() {
  QuotedVenue& x = *xq_next_;
  switch (xq_next_prio_) {
    case P_EXCHANGE:
      try {
        on_exchange_row(x, x.ex_i);
      } catch (const DataError& e) {
        throw DataError("venue '" + x.name + "': ", e);
      }
      break;
    case P_REQUEST: { Request r = x.requests.front(); x.requests.pop_front(); on_request(x, r); break; }
    default: { Response r = x.responses.front(); x.responses.pop_front(); on_response(r); break; }
  }
  next_quoted();
}

void Engine::next_signal() {
  sig_next_t_ = kInf;
  for (size_t k = 0; k < sig_.size(); ++k) {
    const FeedVenue& v = sig_[k];
    if (v.fd_i < v.loaded && v.arrival_of(v.fd_i) < sig_next_t_) {  // strict: the lower venue first at a tie
      sig_next_t_ = v.arrival_of(v.fd_i);
      sig_next_ = k;
    }
  }
}

bool Engine::step(int64_t n_rows) {
  if (done_) return true;
  const int64_t target = q_.fd_i + std::max<int64_t>(n_rows, 1);
  for (;;) {
    if (q_.fd_i >= target && q_.fd_i < q_.loaded) return false;
    if (needs_data()) return false;  // the next row's successor decides group ends: wait for it
    // The smallest (time, stream priority); strict '<' keeps the lower priority at equal times.
    int64_t t = kInf;
    int which = P_NONE;
    if (x0_.ex_i < q_.loaded) { t = row(x0_.ex_i).exch_ts; which = P_EXCHANGE; }
    if (!x0_.requests.empty() && x0_.requests.front().t < t) { t = x0_.requests.front().t; which = P_REQUEST; }
    if (q_.fd_i < q_.loaded && arrival_of(q_.fd_i) < t) { t = arrival_of(q_.fd_i); which = P_FEED; }
    if (sig_next_t_ < t) { t = sig_next_t_; which = P_SIGNAL; }  // other feeds: after venue 0's at a tie
    if (!x0_.responses.empty() && x0_.responses.front().t < t) { t = x0_.responses.front().t; which = P_RESPONSE; }
    if (next_timer_ < t) { t = next_timer_; which = P_TIMER; }
    if (wake_pending_ && wake_time_ < t) { t = wake_time_; which = P_WAKEUP; }
    // Quoted venues k >= 1 (their rows, requests, responses): after venue 0's item of the same priority.
    if (xq_next_t_ <= t && (xq_next_t_ < t || xq_next_prio_ < which)) {
      if (xq_next_t_ > t_end_) {
        done_ = true;
        return true;
      }
      on_quoted_item();
      continue;
    }
    if (which == P_NONE || t > t_end_) {
      done_ = true;
      return true;
    }
    switch (which) {
      case P_EXCHANGE: on_exchange_row(x0_, x0_.ex_i); break;
      case P_REQUEST: { Request r = x0_.requests.front(); x0_.requests.pop_front(); on_request(x0_, r); break; }
      case P_FEED: on_feed_row(q_, q_.fd_i); break;
      case P_SIGNAL: on_signal_row(); break;
      case P_RESPONSE: { Response r = x0_.responses.front(); x0_.responses.pop_front(); on_response(r); break; }
      case P_TIMER: request_wake(next_timer_, WAKE_TIMER); next_timer_ += cfg_.timer_interval_ns; break;
      default: wakeup(wake_time_); if (!xq_.empty()) next_quoted(); break;
    }
  }
}

void Engine::append(const EventRecord* events, const int64_t* arrival, int64_t n, bool final) {
  if (final_) throw ConfigError("append after the final chunk");
  if (n > 0 && q_.loaded > 0) {
    if (events[0].exch_ts < row(q_.loaded - 1).exch_ts)
      throw DataError(q_.loaded, "exch_ts goes back in time across chunks");
    if (arrival[0] < arrival_of(q_.loaded - 1))
      throw ConfigError("feed arrival times go back in time across chunks");
  }
  // Keep only the rows not yet consumed by both the exchange and the feed (the feed lags behind).
  const int64_t keep = std::min(x0_.ex_i, q_.fd_i);
  std::vector<EventRecord> ev(static_cast<size_t>(q_.loaded - keep + n));
  std::vector<int64_t> arr(ev.size());
  std::copy(q_.ev + (keep - q_.base), q_.ev + (q_.loaded - q_.base), ev.begin());
  std::copy(q_.arrival + (keep - q_.base), q_.arrival + (q_.loaded - q_.base), arr.begin());
  std::copy(events, events + n, ev.begin() + (q_.loaded - keep));
  std::copy(arrival, arrival + n, arr.begin() + (q_.loaded - keep));
  ev_buf_.swap(ev);
  arr_buf_.swap(arr);
  q_.ev = ev_buf_.data();
  q_.arrival = arr_buf_.data();
  q_.base = keep;
  q_.loaded += n;
  final_ = final;
  if (final_) t_end_ = q_.loaded > 0 ? arrival_of(q_.loaded - 1) : NO_TS;
}

}  // namespace mmsim
