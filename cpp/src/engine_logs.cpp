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
    r.venue = o.venue;
  }
  return out;
}

// One quoted venue's totals, its PnL marked at its own exchange-side final mid with its tick and lot.
Summary Engine::venue_summary(const QuotedVenue& x) const {
  Summary s;
  s.venue = x.index;
  s.n_events = x.ex_i;
  s.n_fills = x.n_fills;
  s.volume = x.volume;
  s.position = x.position;
  s.cash_ticklots = x.cash;
  s.fees = x.fees;
  s.final_mid = x.have_mid ? static_cast<double>(x.last_mid2) / 2.0 : std::numeric_limits<double>::quiet_NaN();
  s.pnl = static_cast<double>(x.cash) * x.tick_size * x.lot_size - x.fees +
          (x.position != 0 ? static_cast<double>(x.position) * s.final_mid * x.tick_size * x.lot_size : 0.0);
  s.n_orders = x.n_orders;
  s.repaired_crossed_levels = x.repaired;
  return s;
}

Summary Engine::summary() const {
  Summary s = venue_summary(x0_);
  s.n_decisions = static_cast<int64_t>(decisions_.size());
  for (const auto& p : xq_) s.quoted.push_back(venue_summary(*p));
  return s;
}

}  // namespace mmsim
