// The strategy interface: at each wakeup a strategy reads the strategy-side Context and writes Targets.
// Three kinds implement it: native C++ (here), a numba cfunc through a function pointer (here), and a
// Python object (cpp/bindings, the only place that knows Python).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mmsim/records.hpp"

namespace mmsim {

class Engine;

struct Targets {
  bool has = false;  // false: leave orders as they are
  int64_t bid_price = 0, bid_qty = 0, ask_price = 0, ask_qty = 0;
};

// What the strategy sees of one venue (Context::venues): its delayed book's top, the newest data it has
// seen, its features, and for a quoted venue its known position and cash. Index 0 is the primary quoted
// venue (fields equal the Context's own), 1..K the other venues, quoted or read-only.
struct VenueView {
  int64_t best_bid = 0, bid_qty = 0, best_ask = 0, ask_qty = 0;  // 0 with qty 0 on an empty side
  int64_t data_exch_ts = NO_TS, data_arrival_ts = NO_TS, data_rows = 0;
  const double* features = nullptr;  // the venue's feature bank values as of now
  int64_t n_features = 0;
  double tick_size = 1.0, lot_size = 1.0;
  int64_t position = 0;  // known from this venue's responses (lots); 0 for a read-only venue
  double cash = 0.0;     // as Context::cash, with this venue's tick and lot; 0 for a read-only venue
  bool quoted = false;   // true for venue 0 and every venue marked quoted
};

// Read-only strategy-side view plus the low-level order API, valid during one on_wakeup call.
struct Context {
  int64_t now = 0;
  int32_t reason = 0;
  int64_t best_bid = 0, bid_qty = 0, best_ask = 0, ask_qty = 0;
  int64_t position = 0;
  double cash = 0.0;
  double ewma_mid = 0.0;
  int64_t data_exch_ts = NO_TS, data_arrival_ts = NO_TS, data_rows = 0;
  double tick_size = 1.0, lot_size = 1.0;
  const double* features = nullptr;  // feature bank values as of `now`, in spec order
  int64_t n_features = 0;
  // The model's prediction at this wakeup (NaN without a model or when it has no such output).
  double pred_move = 0.0, p_down = 0.0, p_flat = 0.0, p_up = 0.0;
  const double* prediction = nullptr;  // all model outputs, in the model's order
  int64_t n_prediction = 0;
  // Every venue: [0] the primary quoted one, [1..n_venues-1] the others, quoted or read-only
  // (docs/event-loop.md "Signal venues", "Quoted venues").
  int64_t n_venues = 1;
  const VenueView* venues = nullptr;
  // Targets for quoted venues v >= 1 (n_venues entries, each reset to has=false before on_wakeup); venue 0's
  // go through on_wakeup's `out` (setting venue_targets[0].has fails the run).
  Targets* venue_targets = nullptr;
  Engine* engine = nullptr;

  bool depth(int side, int level, int64_t& price, int64_t& qty) const;
  // Level `level` of a side of venue `venue`'s strategy-side book; false past the end or for a bad venue.
  bool venue_depth(int venue, int side, int level, int64_t& price, int64_t& qty) const;
  int64_t submit(int side, int64_t price, int64_t qty, Tif tif);  // to venue 0
  // To quoted venue `venue` (a read-only or unknown venue fails the run).
  int64_t submit_to(int venue, int side, int64_t price, int64_t qty, Tif tif);
  void cancel(int64_t order_id);                 // ids are global: any venue's order
  void modify(int64_t order_id, int64_t qty);
  struct OpenOrder { int64_t order_id; int side; int64_t price, qty, leaves; };
  std::vector<OpenOrder> open_orders(int venue = 0) const;  // that venue's working orders (none: read-only)
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Returns 0 on success; otherwise the run stops and error_message() says why.
  virtual int on_wakeup(Context& ctx, Targets& out) = 0;
  virtual std::string error_message() const { return "strategy returned an error status"; }
  // True for a strategy that reads the future (a built-in oracle, docs/strategies.md "The clairvoyant
  // bound"): the engine marks each of its decisions DECISION_CLAIRVOYANT and `mmsim audit` labels the run.
  virtual bool clairvoyant() const { return false; }
};

// Fixed-spread symmetric quoter: bid floor(mid - h), ask ceil(mid + h); pulls both sides when one-sided.
// Works in twice-the-mid integer ticks so it is exact (the Python twin is mmsim.engine.strategy.SymmetricQuoter).
class SymmetricQuoter final : public Strategy {
 public:
  SymmetricQuoter(int64_t half_spread2, int64_t size) : h2_(half_spread2), size_(size) {}
  int on_wakeup(Context& ctx, Targets& out) override;

 private:
  int64_t h2_, size_;
};

// Flat layout handed to a numba cfunc: int64 context, float64 context, user params, int64 output.
// Indices are mirrored in src/mmsim/engine/numba_strategy.py.
enum CtxIndex : int {
  CI_NOW = 0, CI_REASON, CI_BEST_BID, CI_BID_QTY, CI_BEST_ASK, CI_ASK_QTY, CI_POSITION,
  CI_DATA_EXCH_TS, CI_DATA_ARRIVAL_TS, CI_DATA_ROWS, CI_N_FEATURES,
  CI_DEPTH0,  // then per level L (0..CI_LEVELS-1): bid price, bid qty, ask price, ask qty at CI_DEPTH0 + 4L
  CI_LEVELS = 5,
  CI_N_VENUES = CI_DEPTH0 + 4 * CI_LEVELS,  // 1 + K
  CI_SIZE,  // venue k (1..K) has a block of CI_VENUE_BLOCK at CI_SIZE + CI_VENUE_BLOCK * (k - 1):
  CI_VENUE_BLOCK = 10,
};
// Offsets inside venue k's block of the int64 context.
enum CtxVenueIndex : int {
  CV_BEST_BID = 0, CV_BID_QTY, CV_BEST_ASK, CV_ASK_QTY, CV_DATA_EXCH_TS, CV_DATA_ARRIVAL_TS, CV_DATA_ROWS,
  CV_N_FEATURES, CV_POSITION, CV_QUOTED };
// The cfunc's int64 output: CO_BLOCK per venue v at CO_BLOCK * v: has, bid_price, bid_qty, ask_price, ask_qty.
constexpr int CO_BLOCK = 5;
enum CtxFIndex : int {
  CF_EWMA_MID = 0, CF_CASH, CF_TICK_SIZE, CF_LOT_SIZE, CF_PRED_MOVE, CF_P_DOWN, CF_P_FLAT, CF_P_UP, CF_SIZE };
using CfuncRule = int32_t (*)(const int64_t* ctx_i, const double* ctx_f, const double* params,
                              const double* features, int64_t* out);

class CfuncStrategy final : public Strategy {
 public:
  CfuncStrategy(uintptr_t address, std::vector<double> params)
      : fn_(reinterpret_cast<CfuncRule>(address)), params_(std::move(params)) {}
  int on_wakeup(Context& ctx, Targets& out) override;
  std::string error_message() const override;

 private:
  CfuncRule fn_;
  std::vector<double> params_;
  std::vector<int64_t> ci_ = std::vector<int64_t>(CI_SIZE, 0);  // grows by a block per signal venue
  std::vector<double> features_;  // with signal venues: every venue's features, in venue order
  double cf_[CF_SIZE] = {};
  std::vector<int64_t> out_ = std::vector<int64_t>(CO_BLOCK, 0);  // CO_BLOCK per venue
  int32_t last_status_ = 0;
};

}  // namespace mmsim
