// The strategies' side of cpp/include/mmsim/strategy.hpp: Context's order API (a thin forward to the
// engine running the wakeup) and the two built-in adapters, the native SymmetricQuoter and CfuncStrategy,
// which hands the Context to a numba cfunc in a flat layout. The engine itself is engine*.cpp.
#include "mmsim/strategy.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "mmsim/engine.hpp"  // Context forwards to the Engine running the wakeup

namespace mmsim {

bool Context::depth(int side, int lvl, int64_t& price, int64_t& qty) const {
  return engine->strategy_book().level(side, lvl, price, qty);
}
bool Context::venue_depth(int venue, int side, int lvl, int64_t& price, int64_t& qty) const {
  if (venue < 0 || venue >= n_venues) return false;
  return engine->venue_book(venue).level(side, lvl, price, qty);
}
int64_t Context::submit(int side, int64_t price, int64_t qty, Tif tif) {
  return engine->api_submit(0, side, price, qty, tif);
}
int64_t Context::submit_to(int venue, int side, int64_t price, int64_t qty, Tif tif) {
  return engine->api_submit(venue, side, price, qty, tif);
}
void Context::cancel(int64_t order_id) { engine->api_cancel(order_id); }
void Context::modify(int64_t order_id, int64_t qty) { engine->api_modify(order_id, qty); }
std::vector<Context::OpenOrder> Context::open_orders(int venue) const { return engine->api_open_orders(venue); }

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
    int64_t* d = ci_.data() + CI_DEPTH0 + 4 * lvl;
    if (!ctx.depth(BID, lvl, d[0], d[1])) d[0] = d[1] = 0;
    if (!ctx.depth(ASK, lvl, d[2], d[3])) d[2] = d[3] = 0;
  }
  ci_[CI_N_VENUES] = ctx.n_venues;
  const double* features = ctx.features;
  int64_t n_features = ctx.n_features;
  if (ctx.n_venues > 1) {  // a block per venue k >= 1; features: venue 0's then each other venue's
    const size_t size = CI_SIZE + CI_VENUE_BLOCK * static_cast<size_t>(ctx.n_venues - 1);
    if (ci_.size() != size) ci_.resize(size, 0);
    features_.assign(ctx.features, ctx.features + ctx.n_features);
    for (int64_t k = 1; k < ctx.n_venues; ++k) {
      const VenueView& w = ctx.venues[k];
      int64_t* b = ci_.data() + CI_SIZE + CI_VENUE_BLOCK * (k - 1);
      b[CV_BEST_BID] = w.best_bid;
      b[CV_BID_QTY] = w.bid_qty;
      b[CV_BEST_ASK] = w.best_ask;
      b[CV_ASK_QTY] = w.ask_qty;
      b[CV_DATA_EXCH_TS] = w.data_exch_ts;
      b[CV_DATA_ARRIVAL_TS] = w.data_arrival_ts;
      b[CV_DATA_ROWS] = w.data_rows;
      b[CV_N_FEATURES] = w.n_features;
      b[CV_POSITION] = w.position;
      b[CV_QUOTED] = w.quoted ? 1 : 0;
      features_.insert(features_.end(), w.features, w.features + w.n_features);
    }
    features = features_.data();
    n_features = static_cast<int64_t>(features_.size());
  }
  cf_[CF_EWMA_MID] = ctx.ewma_mid;
  cf_[CF_CASH] = ctx.cash;
  cf_[CF_TICK_SIZE] = ctx.tick_size;
  cf_[CF_LOT_SIZE] = ctx.lot_size;
  cf_[CF_PRED_MOVE] = ctx.pred_move;
  cf_[CF_P_DOWN] = ctx.p_down;
  cf_[CF_P_FLAT] = ctx.p_flat;
  cf_[CF_P_UP] = ctx.p_up;
  // CO_BLOCK int64 per venue, all zeroed: venue v's targets at out_[CO_BLOCK * v] (venue 0's as always).
  const size_t n_out = CO_BLOCK * static_cast<size_t>(ctx.n_venues);
  if (out_.size() != n_out) out_.resize(n_out);
  std::fill(out_.begin(), out_.end(), 0);
  static const double kNoFeatures[1] = {0.0};
  last_status_ = fn_(ci_.data(), cf_, params_.data(), n_features ? features : kNoFeatures, out_.data());
  if (last_status_ != 0) return last_status_;
  out.has = out_[0] != 0;
  out.bid_price = out_[1];
  out.bid_qty = out_[2];
  out.ask_price = out_[3];
  out.ask_qty = out_[4];
  for (int64_t v = 1; v < ctx.n_venues; ++v) {
    const int64_t* o = out_.data() + CO_BLOCK * v;
    if (o[0] == 0) continue;  // left as is: has = false
    Targets& t = ctx.venue_targets[v];
    t.has = true;
    t.bid_price = o[1];
    t.bid_qty = o[2];
    t.ask_price = o[3];
    t.ask_qty = o[4];
  }
  return 0;
}

std::string CfuncStrategy::error_message() const {
  return "cfunc returned status " + std::to_string(last_status_);
}

}  // namespace mmsim
