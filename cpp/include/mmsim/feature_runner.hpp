// Feeds the Rust feature bank from a strategy-side book. The event loop and batch mode both use this class,
// so in-loop and batch feature values are the same computation, row by row.
#pragma once
#include <cstdint>
#include <vector>

#include "mmsim/book.hpp"
#include "mmsim/feature_bank.h"
#include "mmsim/records.hpp"

namespace mmsim {

class FeatureRunner {
 public:
  // Throws ConfigError naming the first bad spec (by index).
  explicit FeatureRunner(const std::vector<MmsimFeatureSpec>& specs);
  ~FeatureRunner();
  FeatureRunner(const FeatureRunner&) = delete;
  FeatureRunner& operator=(const FeatureRunner&) = delete;

  size_t size() const { return n_; }
  int levels() const { return levels_; }
  // One event the strategy saw: `book` is the book after it; trades (TRADE, EXECUTE) carry their sign.
  // The book is read only where `message_end` (the row ends its exchange message, docs/event-loop.md):
  // rows inside a message are observed with the book after the previous message, a state that existed.
  void on_event(int64_t ts, const Book& book, const EventRecord& e, int64_t row, bool message_end);
  // All values as of `now` (decayed quantities decay to `now`).
  void values(int64_t now, double* out) const;

 private:
  MmsimBank* bank_ = nullptr;
  size_t n_ = 0;
  int levels_ = 1;
  std::vector<int64_t> bid_px_, bid_qty_, ask_px_, ask_qty_;
};

// Batch mode: replay `events` through a strategy-side book (arrival times `arrival`) and record every
// feature after every row, evaluated at that row's arrival time: out[row * n_features + j].
void feature_batch(const EventRecord* events, const int64_t* arrival, int64_t n,
                   const std::vector<MmsimFeatureSpec>& specs, bool repair_crossed, std::vector<double>& out);

// Batch mode at given times: the same replay, and every feature at each `query` time (non-decreasing) after
// all rows arriving at or before it — what a strategy waking at that time reads of this venue's bank (a
// feed row arriving at a wakeup's instant is applied before it, docs/event-loop.md): out[k * n_features + j].
void feature_batch_at(const EventRecord* events, const int64_t* arrival, int64_t n,
                      const std::vector<MmsimFeatureSpec>& specs, bool repair_crossed, const int64_t* query,
                      int64_t n_query, std::vector<double>& out);

}  // namespace mmsim
