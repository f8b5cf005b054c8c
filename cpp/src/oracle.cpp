// The clairvoyant bound (cpp/include/mmsim/oracle.hpp). Every floating-point step is mirrored by the Python
// twins in src/mmsim/engine/quoters.py; tests/test_oracle.py compares them and runs both engines.
#include "mmsim/oracle.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

// (no fused multiply-add: the whole core is built with -ffp-contract=off, CMakeLists.txt)

namespace mmsim {

namespace {

constexpr int64_t kMaxTs = std::numeric_limits<int64_t>::max();

// now + horizon, saturating (a decision near the int64 end of time reads the path's last entry).
int64_t ahead(int64_t now, int64_t horizon_ns) { return now > kMaxTs - horizon_ns ? kMaxTs : now + horizon_ns; }

void check_horizon(int64_t horizon_ns, const char* who) {
  if (horizon_ns < 0) throw ConfigError(std::string(who) + ": horizon must be >= 0 ns");
}

}  // namespace

// ------------------------------------------------------------------------------------------ marked path

MarkedPath::MarkedPath(std::vector<int64_t> ts, std::vector<int64_t> value, int64_t end_ts)
    : ts_(std::move(ts)), value_(std::move(value)), end_ts_(end_ts) {
  if (ts_.size() != value_.size()) throw ConfigError("marked path: ts and values differ in length");
  for (size_t j = 1; j < ts_.size(); ++j)
    if (ts_[j] < ts_[j - 1]) throw ConfigError("marked path: exchange times go back at entry " + std::to_string(j));
}

bool MarkedPath::at(int64_t t, int64_t& value) {
  if (t < last_t_) {
    next_ = static_cast<size_t>(std::upper_bound(ts_.begin(), ts_.end(), t) - ts_.begin());
  } else {
    while (next_ < ts_.size() && ts_[next_] <= t) ++next_;
  }
  last_t_ = t;
  if (next_ == 0) return false;
  value = value_[next_ - 1];
  return true;
}

// ------------------------------------------------------------------------------------------ mid path

void MidPathBuilder::feed(const EventRecord* events, int64_t n, bool final) {
  if (final_) throw ConfigError("mid path: rows fed after the final chunk");
  for (int64_t i = 0; i < n; ++i) {
    const EventRecord& e = events[i];
    if (open_ && e.exch_ts != open_ts_) close_group();
    if (rows_ == 0) first_ts_ = e.exch_ts;
    apply_feed_event(book_, e, rows_);
    open_ = true;
    open_ts_ = end_ts_ = e.exch_ts;
    open_row_ = rows_++;
  }
  if (final) {
    if (open_) close_group();
    final_ = true;
  }
}

void MidPathBuilder::close_group() {
  open_ = false;
  check_crossed(book_, open_row_, repair_);
  if (!book_.has(BID) || !book_.has(ASK)) return;  // one-sided: the last two-sided mid holds
  const int64_t m2 = book_.best(BID) + book_.best(ASK);
  if (have_mid_ && m2 == last_mid2_) return;
  ts_.push_back(open_ts_);
  mid2_.push_back(m2);
  last_mid2_ = m2;
  have_mid_ = true;
}

// ------------------------------------------------------------------------------------------ oracle

OracleQuoter::OracleQuoter(MarkedPath mids, int64_t horizon_ns, double half_spread, double threshold, double skew,
                           int64_t size, int64_t max_position, FairValue fair, bool anchor_data)
    : SpreadQuoter(half_spread, size, max_position, fair, skew, threshold), mids_(std::move(mids)),
      horizon_ns_(horizon_ns), anchor_data_(anchor_data) {
  check_horizon(horizon_ns, "oracle");
}

double OracleQuoter::move(const Context& ctx) const {
  const int64_t from = anchor_data_ ? ctx.data_exch_ts : ctx.now;
  if (from == NO_TS) return std::numeric_limits<double>::quiet_NaN();  // no data seen yet
  const int64_t t = ahead(from, horizon_ns_);
  if (t > mids_.end_ts()) ++past_end_;  // beyond the data: the last mid stands in
  int64_t mid2 = 0;
  if (!mids_.at(t, mid2)) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(mid2 - (ctx.best_bid + ctx.best_ask)) * 0.5;
}

// ------------------------------------------------------------------------------------------ regime oracle

RegimeOracleQuoter::RegimeOracleQuoter(MarkedPath regimes, int64_t horizon_ns, double half_spread, double widen,
                                       int64_t toxic_mask, int64_t size, int64_t max_position, FairValue fair)
    : Quoter(size, max_position, fair), regimes_(std::move(regimes)), horizon_ns_(horizon_ns), widen_(widen),
      mask_(toxic_mask) {
  check_horizon(horizon_ns, "oracle_regime");
  if (!(std::isfinite(half_spread) && half_spread >= 0.0 && half_spread <= 1e15))
    throw ConfigError("quoter: half_spread must be a finite number of ticks >= 0");
  if (!(std::isfinite(widen) && widen >= 0.0 && widen <= 1e15))
    throw ConfigError("oracle_regime: widen must be a finite number of ticks >= 0");
  if (toxic_mask < 0) throw ConfigError("oracle_regime: toxic_mask must be >= 0");
  h_ = static_cast<double>(static_cast<int64_t>(std::nearbyint(2.0 * half_spread))) * 0.5;
  hw_ = h_ + widen_;
}

void RegimeOracleQuoter::prices(const Context& ctx, double fair, double& bid, double& ask, bool& bid_on,
                                bool& ask_on) const {
  const int64_t t = ahead(ctx.now, horizon_ns_);
  if (t > regimes_.end_ts()) ++past_end_;
  int64_t r = 0;
  const bool toxic = regimes_.at(t, r) && r >= 0 && r < 63 && ((mask_ >> r) & 1) != 0;
  double h = h_;
  if (toxic) {
    if (widen_ == 0.0) bid_on = ask_on = false;  // stand aside while informed flow is about
    h = hw_;
  }
  bid = fair - h;
  ask = fair + h;
}

}  // namespace mmsim
