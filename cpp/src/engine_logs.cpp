// The run's outputs besides the fill and decision logs (built as they happen, returned as they are): the
// order log, converted from the exchange's order records, and the summary totals. Both are read-only and
// may be called between steps.
#include "mmsim/engine.hpp"

#include <limits>
#include <vector>

namespace mmsim {

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
    r.status = o.exch_ts == NO_TS ? static_cast<uint8_t>(ST_PENDING) : o.status;
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
