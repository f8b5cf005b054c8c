#include "mmsim/feature_runner.hpp"

#include <algorithm>
#include <string>

namespace mmsim {

namespace {
const char* status_text(int32_t rc) {
  switch (rc) {
    case MMSIM_ERR_KIND: return "unknown feature kind";
    case MMSIM_ERR_HORIZON: return "horizon must be > 0 ns (or absent where the kind allows it)";
    case MMSIM_ERR_LEVEL: return "level out of range";
    case MMSIM_ERR_WINDOW: return "window out of range";
    case MMSIM_ERR_ALLOC: return "not enough memory for the bank";
    case MMSIM_ERR_TIME: return "observation time went back";
    case MMSIM_ERR_VALUE: return "observation has a bad value";
    case MMSIM_ERR_NULL: return "null pointer";
    default: return "feature bank error";
  }
}
}  // namespace

FeatureRunner::FeatureRunner(const std::vector<MmsimFeatureSpec>& specs) : n_(specs.size()) {
  for (const MmsimFeatureSpec& s : specs) levels_ = std::max<int>(levels_, s.level);
  for (size_t j = 0; j < specs.size(); ++j) {
    const int32_t rc = mmsim_bank_check_spec(&specs[j], levels_);
    if (rc != MMSIM_OK)
      throw ConfigError("feature spec " + std::to_string(j) + " (kind " + std::to_string(specs[j].kind) +
                        ", level " + std::to_string(specs[j].level) + ", horizon " +
                        std::to_string(specs[j].horizon_ns) + " ns, window " + std::to_string(specs[j].window) +
                        "): " + status_text(rc));
  }
  const int32_t rc = mmsim_bank_new(specs.data(), specs.size(), levels_, &bank_);
  if (rc != MMSIM_OK) throw ConfigError(std::string("feature bank: ") + status_text(rc));
  bid_px_.assign(levels_, 0);
  bid_qty_.assign(levels_, 0);
  ask_px_.assign(levels_, 0);
  ask_qty_.assign(levels_, 0);
}

FeatureRunner::~FeatureRunner() {
  if (bank_ != nullptr) mmsim_bank_free(bank_);
}

void FeatureRunner::on_event(int64_t ts, const Book& book, const EventRecord& e, int64_t row, bool message_end) {
  if (message_end) {  // else keep the top of the book after the previous message (the arrays persist)
    book.top(BID, levels_, bid_px_.data(), bid_qty_.data());
    book.top(ASK, levels_, ask_px_.data(), ask_qty_.data());
  }
  MmsimObservation obs{};
  obs.ts = ts;
  obs.bid_px = bid_px_.data();
  obs.bid_qty = bid_qty_.data();
  obs.ask_px = ask_px_.data();
  obs.ask_qty = ask_qty_.data();
  obs.levels = levels_;
  if (e.kind == TRADE || e.kind == EXECUTE) {
    obs.trade_sign = e.kind == TRADE ? e.side : -e.side;  // an execution's aggressor is opposite the resting side
    obs.trade_price = e.price;
    obs.trade_qty = e.qty;
  }
  const int32_t rc = mmsim_bank_update(bank_, &obs);
  if (rc != MMSIM_OK) throw DataError(row, std::string("feature update: ") + status_text(rc));
}

void FeatureRunner::values(int64_t now, double* out) const {
  const int32_t rc = mmsim_bank_values(bank_, now, out, n_);
  if (rc != MMSIM_OK) throw ConfigError(std::string("feature values: ") + status_text(rc));
}

namespace {
// One row the strategy sees in batch mode: the strategy-side book, the crossed check at group ends, the bank.
void batch_row(FeatureRunner& runner, Book& book, const EventRecord* events, const int64_t* arrival, int64_t n,
               int64_t i, bool repair_crossed) {
  const EventRecord& e = events[i];
  apply_feed_event(book, e, i);
  const bool group_end = i + 1 == n || events[i + 1].exch_ts != e.exch_ts;
  if (group_end) check_crossed(book, i, repair_crossed);
  runner.on_event(arrival[i], book, e, i, group_end || (e.flags & FLAG_MSG_END) != 0);
}
}  // namespace

void feature_batch(const EventRecord* events, const int64_t* arrival, int64_t n,
                   const std::vector<MmsimFeatureSpec>& specs, bool repair_crossed, std::vector<double>& out) {
  FeatureRunner runner(specs);
  Book book;
  out.assign(static_cast<size_t>(n) * runner.size(), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    batch_row(runner, book, events, arrival, n, i, repair_crossed);
    runner.values(arrival[i], out.data() + static_cast<size_t>(i) * runner.size());
  }
}

void feature_batch_at(const EventRecord* events, const int64_t* arrival, int64_t n,
                      const std::vector<MmsimFeatureSpec>& specs, bool repair_crossed, const int64_t* query,
                      int64_t n_query, std::vector<double>& out) {
  FeatureRunner runner(specs);
  Book book;
  out.assign(static_cast<size_t>(n_query) * runner.size(), 0.0);
  int64_t i = 0;
  for (int64_t k = 0; k < n_query; ++k) {
    if (k > 0 && query[k] < query[k - 1]) throw ConfigError("feature_batch_at: query times must not decrease");
    for (; i < n && arrival[i] <= query[k]; ++i) batch_row(runner, book, events, arrival, n, i, repair_crossed);
    runner.values(query[k], out.data() + static_cast<size_t>(k) * runner.size());
  }
}

}  // namespace mmsim
