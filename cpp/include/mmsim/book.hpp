// L2 price levels of one book (exchange side or strategy side): int64 lots per int64 tick price.
// Dense arrays indexed by price keep every update O(1); the best price is tracked and, when the best
// level empties, found again by scanning away from the spread (short in practice).
#pragma once
#include <cstdint>
#include <vector>

#include "mmsim/records.hpp"

namespace mmsim {

class Book {
 public:
  // One side's levels. `best` is meaningful only while `n_levels > 0`.
  struct Side {
    std::vector<int64_t> qty;  // qty[price - base]
    int64_t base = 0;
    int64_t best = 0;
    int64_t n_levels = 0;
  };

  // Sets level (side, price) to q lots; returns the previous quantity.
  int64_t set(int side, int64_t price, int64_t q, int64_t row);
  // Adds dq (may be negative) to a level; a level going negative is a DataError naming the row.
  int64_t add(int side, int64_t price, int64_t dq, int64_t row);
  void clear(int side);  // +1 bids, -1 asks, 0 both

  int64_t qty_at(int side, int64_t price) const {
    const Side& s = side_ref(side);
    int64_t i = price - s.base;
    return (i >= 0 && i < static_cast<int64_t>(s.qty.size())) ? s.qty[i] : 0;
  }
  bool has(int side) const { return side_ref(side).n_levels > 0; }
  int64_t n_levels(int side) const { return side_ref(side).n_levels; }
  int64_t best(int side) const { return side_ref(side).best; }
  int64_t best_qty(int side) const { return has(side) ? qty_at(side, best(side)) : 0; }
  // Price of the next non-empty level strictly worse than `price` on `side` (requires one to exist).
  int64_t next_level(int side, int64_t price) const;
  // Level k (0 = best) of a side: false past the end.
  bool level(int side, int k, int64_t& price, int64_t& q) const;
  // The best `k` levels of a side in one walk; price and qty 0 past the end.
  void top(int side, int k, int64_t* price, int64_t* q) const;

  bool crossed() const { return has(BID) && has(ASK) && best(BID) >= best(ASK); }
  // Removes the crossed levels of `stale_side`; returns how many were removed.
  int64_t uncross(int stale_side, int64_t row);

  int last_changed_side = 0;  // side of the last level-changing event

 private:
  Side bids_, asks_;
  Side& side_ref(int side) { return side > 0 ? bids_ : asks_; }
  const Side& side_ref(int side) const { return side > 0 ? bids_ : asks_; }
  void ensure(Side& s, int64_t price, int64_t row);
  void on_level_emptied(Side& s, bool is_bid);
};

// How a strategy-side book takes in one data row (the exchange side also matches own orders; see engine).
void apply_feed_event(Book& book, const EventRecord& e, int64_t row);
// End of an exchange-timestamp group: a crossed book is a DataError, or (repair) loses its stale levels;
// returns the number of levels removed.
int64_t check_crossed(Book& book, int64_t row, bool repair);

}  // namespace mmsim
