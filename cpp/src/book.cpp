#include "mmsim/book.hpp"

#include <algorithm>

namespace mmsim {

namespace {
constexpr int64_t kInitialLevels = 4096;
constexpr int64_t kMaxLevels = int64_t(1) << 25;  // 32 Mi ticks per side (256 MiB) before we refuse
}  // namespace

void Book::ensure(Side& s, int64_t price, int64_t row) {
  const int64_t size = static_cast<int64_t>(s.qty.size());
  if (size == 0) {
    s.base = price - kInitialLevels / 2;
    s.qty.assign(kInitialLevels, 0);
    return;
  }
  if (price >= s.base && price < s.base + size) return;
  // Grow to cover the new price with as much room again on that side, capped at the limit: only a range that
  // itself exceeds the limit is refused (a spot book with resting orders from 0.5x to 4x the price fits).
  int64_t lo = std::min(s.base, price), hi = std::max(s.base + size, price + 1);
  const int64_t span = hi - lo;
  if (span > kMaxLevels)
    throw DataError(row, "price " + std::to_string(price) + " ticks is too far from the book (over " +
                             std::to_string(kMaxLevels) + " ticks of range)");
  const int64_t room = std::min(span, kMaxLevels - span);
  if (price < s.base) lo -= room; else hi += room;
  std::vector<int64_t> grown(static_cast<size_t>(hi - lo), 0);
  std::copy(s.qty.begin(), s.qty.end(), grown.begin() + (s.base - lo));
  s.qty.swap(grown);
  s.base = lo;
}

void Book::on_level_emptied(Side& s, bool is_bid) {
  --s.n_levels;
  if (s.n_levels == 0) return;
  int64_t i = s.best - s.base;
  if (is_bid) { do { --i; } while (s.qty[i] == 0); }
  else { do { ++i; } while (s.qty[i] == 0); }
  s.best = s.base + i;
}

int64_t Book::set(int side, int64_t price, int64_t q, int64_t row) {
  Side& s = side_ref(side);
  ensure(s, price, row);
  int64_t& slot = s.qty[price - s.base];
  const int64_t prev = slot;
  slot = q;
  last_changed_side = side;
  const bool is_bid = side > 0;
  if (prev == 0 && q > 0) {
    if (s.n_levels == 0 || (is_bid ? price > s.best : price < s.best)) s.best = price;
    ++s.n_levels;
  } else if (prev > 0 && q == 0) {
    if (price == s.best) on_level_emptied(s, is_bid);
    else --s.n_levels;
  }
  return prev;
}

int64_t Book::add(int side, int64_t price, int64_t dq, int64_t row) {
  const int64_t prev = qty_at(side, price);
  if (prev + dq < 0)
    throw DataError(row, "level " + std::to_string(price) + " would go negative (" + std::to_string(prev) +
                             " lots, change " + std::to_string(dq) + ")");
  set(side, price, prev + dq, row);
  return prev;
}

void Book::clear(int side) {
  for (int sd : {BID, ASK}) {
    if (side != 0 && side != sd) continue;
    Side& s = side_ref(sd);
    std::fill(s.qty.begin(), s.qty.end(), 0);
    s.n_levels = 0;
  }
}

int64_t Book::next_level(int side, int64_t price) const {
  const Side& s = side_ref(side);
  int64_t i = price - s.base;
  if (side > 0) { do { --i; } while (s.qty[i] == 0); }
  else { do { ++i; } while (s.qty[i] == 0); }
  return s.base + i;
}

bool Book::level(int side, int k, int64_t& price, int64_t& q) const {
  const Side& s = side_ref(side);
  if (k >= s.n_levels) return false;
  int64_t p = s.best;
  for (int j = 0; j < k; ++j) p = next_level(side, p);
  price = p;
  q = s.qty[p - s.base];
  return true;
}

void Book::top(int side, int k, int64_t* price, int64_t* q) const {
  const Side& s = side_ref(side);
  const int64_t have = std::min<int64_t>(k, s.n_levels);
  int64_t p = s.best;
  for (int64_t j = 0; j < k; ++j) {
    if (j < have) {
      if (j > 0) p = next_level(side, p);
      price[j] = p;
      q[j] = s.qty[p - s.base];
    } else {
      price[j] = q[j] = 0;
    }
  }
}

void apply_feed_event(Book& book, const EventRecord& e, int64_t row) {
  switch (e.kind) {
    case DEPTH: book.set(e.side, e.price, e.qty, row); break;
    case CLEAR: book.clear(e.side); break;
    case ADD: book.add(e.side, e.price, e.qty, row); break;
    case CANCEL: case DELETE: case EXECUTE: book.add(e.side, e.price, -e.qty, row); break;
    default: break;  // TRADE: a print, no level change
  }
}

int64_t check_crossed(Book& book, int64_t row, bool repair) {
  if (!book.crossed()) return 0;
  if (!repair)
    throw DataError(row, "crossed book: best bid " + std::to_string(book.best(BID)) + " >= best ask " +
                             std::to_string(book.best(ASK)));
  return book.uncross(book.last_changed_side != 0 ? -book.last_changed_side : ASK, row);
}

int64_t Book::uncross(int stale_side, int64_t row) {
  // A repair is not a data event: it leaves last_changed_side as the data set it.
  const int keep = last_changed_side;
  int64_t removed = 0;
  while (crossed()) {
    set(stale_side, best(stale_side), 0, row);
    ++removed;
  }
  last_changed_side = keep;
  return removed;
}

}  // namespace mmsim
