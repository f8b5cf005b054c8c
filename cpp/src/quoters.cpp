// Built-in quoters (cpp/include/mmsim/quoters.hpp). Every floating-point step here is mirrored, in the
// same order, by src/mmsim/engine/quoters.py: keep the two in step (tests/test_quoters.py compares them).
#include "mmsim/quoters.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "mmsim/records.hpp"

// A fused multiply-add would round differently from the Python twin: the core is built with -ffp-contract=off
// (CMakeLists.txt), so a*b+c stays two roundings.

namespace mmsim {

namespace {

constexpr double kPriceLimit = 9007199254740992.0;  // 2^53: integer ticks stay exact as doubles

int64_t floor_tick(double x) {
  if (x < -kPriceLimit) return -static_cast<int64_t>(kPriceLimit);
  if (x > kPriceLimit) return static_cast<int64_t>(kPriceLimit);
  return static_cast<int64_t>(std::floor(x));
}

int64_t ceil_tick(double x) {
  if (x < -kPriceLimit) return -static_cast<int64_t>(kPriceLimit);
  if (x > kPriceLimit) return static_cast<int64_t>(kPriceLimit);
  return static_cast<int64_t>(std::ceil(x));
}

void require(bool ok, const std::string& what) {
  if (!ok) throw ConfigError(what);
}

bool finite(double x) { return std::isfinite(x); }

}  // namespace

// ------------------------------------------------------------------------------------------ shared rules

Quoter::Quoter(int64_t size, int64_t max_position, FairValue fair)
    : size_(size), max_position_(max_position), fair_(fair) {
  require(size > 0, "quoter: size must be > 0 lots, not " + std::to_string(size));
  require(max_position >= 0,
          "quoter: max_position must be >= 0 lots (0: no limit), not " + std::to_string(max_position));
  require(fair == FairValue::Mid || fair == FairValue::Micro, "quoter: fair must be mid or micro");
}

int Quoter::on_wakeup(Context& ctx, Targets& out) {
  out.has = true;
  if (ctx.bid_qty <= 0 || ctx.ask_qty <= 0) {  // one-sided book: no fair value, pull both sides
    out.bid_price = out.bid_qty = out.ask_price = out.ask_qty = 0;
    return 0;
  }
  double f;
  if (fair_ == FairValue::Mid) {
    f = static_cast<double>(ctx.best_bid + ctx.best_ask) * 0.5;
  } else {
    const double w = static_cast<double>(ctx.bid_qty) / static_cast<double>(ctx.bid_qty + ctx.ask_qty);
    f = static_cast<double>(ctx.best_bid) + w * static_cast<double>(ctx.best_ask - ctx.best_bid);
  }
  double b = f, a = f;
  bool bid_on = true, ask_on = true;
  prices(ctx, f, b, a, bid_on, ask_on);
  if (std::isnan(b)) { bid_on = false; b = f; }
  if (std::isnan(a)) { ask_on = false; a = f; }
  int64_t bid = floor_tick(b), ask = ceil_tick(a);
  bid = std::min(bid, ctx.best_ask - 1);  // passive: never through the strategy-side book
  ask = std::max(ask, ctx.best_bid + 1);
  if (bid >= ask) ask = bid + 1;  // never crossed, never touching
  int64_t bq = bid_on ? size_ : 0, aq = ask_on ? size_ : 0;
  if (max_position_ > 0) {  // never trade past the limit: stop at it, and cap the size just before it
    bq = std::min(bq, std::max<int64_t>(max_position_ - ctx.position, 0));
    aq = std::min(aq, std::max<int64_t>(max_position_ + ctx.position, 0));
  }
  out.bid_price = bid;
  out.bid_qty = bq;
  out.ask_price = ask;
  out.ask_qty = aq;
  return 0;
}

// ------------------------------------------------------------------------------------------ spread family

SpreadQuoter::SpreadQuoter(double half_spread, int64_t size, int64_t max_position, FairValue fair, double skew,
                           double pull_threshold)
    : Quoter(size, max_position, fair), h2_(0), h_(0.0), skew_(skew), pull_(pull_threshold) {
  require(finite(half_spread) && half_spread >= 0.0 && half_spread <= 1e15,
          "quoter: half_spread must be a finite number of ticks >= 0");
  require(finite(skew), "quoter: skew (k) must be finite");
  require(!std::isnan(pull_threshold) && pull_threshold >= 0.0, "quoter: pull threshold must be >= 0 ticks");
  h2_ = static_cast<int64_t>(std::nearbyint(2.0 * half_spread));  // ties to even, like Python's round()
  h_ = static_cast<double>(h2_) * 0.5;
}

void SpreadQuoter::prices(const Context& ctx, double fair, double& bid, double& ask, bool& bid_on,
                          bool& ask_on) const {
  double fv = fair;
  const double p = move(ctx);
  if (std::isfinite(p)) {  // NaN (no model) or a non-finite output: quote as the symmetric baseline
    if (skew_ != 0.0) fv = fair + skew_ * p;
    if (p < -pull_) bid_on = false;  // a predicted fall threatens the bid
    if (p > pull_) ask_on = false;   // a predicted rise threatens the ask
  }
  bid = fv - h_;
  ask = fv + h_;
}

// ------------------------------------------------------------------------------------------ lead_defence

LeadDefenceQuoter::LeadDefenceQuoter(int64_t lead_index, int64_t window_ns, double half_spread, int64_t size,
                                     int64_t max_position, FairValue fair, double skew, double pull_threshold)
    : SpreadQuoter(half_spread, size, max_position, fair, skew, pull_threshold), lead_(lead_index),
      window_(window_ns) {
  require(lead_index >= 1, "lead_defence: the lead must be a signal venue (index >= 1)");
  require(window_ns > 0, "lead_defence: window must be > 0");
}

double LeadDefenceQuoter::move(const Context& ctx) const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (lead_ >= ctx.n_venues)
    throw StrategyError("lead_defence: venue " + std::to_string(lead_) + " is not in this run (" +
                        std::to_string(ctx.n_venues) + " venues)");
  const VenueView& v = ctx.venues[lead_];
  if (v.bid_qty <= 0 || v.ask_qty <= 0) return nan;
  const int64_t now = ctx.now, m_now = v.best_bid + v.best_ask;
  seen_.emplace_back(now, m_now);
  const int64_t cut = now - window_;
  while (seen_.size() >= 2 && seen_[1].first <= cut) seen_.pop_front();  // newest at or before the cut stays
  if (seen_.front().first > cut || seen_.front().second == 0) return nan;
  const int64_t m_then = seen_.front().second;
  return static_cast<double>(m_now - m_then) / static_cast<double>(m_then) *
         (static_cast<double>(ctx.best_bid + ctx.best_ask) * 0.5);
}

// ------------------------------------------------------------------------------------------ Avellaneda–Stoikov

AvellanedaStoikovQuoter::AvellanedaStoikovQuoter(double gamma, double sigma, double k, double horizon, bool session,
                                                 int64_t size, int64_t max_position, FairValue fair)
    : Quoter(size, max_position, fair), gamma_(gamma), sigma_(sigma), k_(k), horizon_(horizon), session_(session) {
  require(finite(gamma) && gamma > 0.0, "avellaneda_stoikov: gamma must be > 0");
  require(finite(sigma) && sigma >= 0.0, "avellaneda_stoikov: sigma must be >= 0 ticks per sqrt(s)");
  require(finite(k) && k > 0.0, "avellaneda_stoikov: k must be > 0 per tick");
  require(finite(horizon) && horizon > 0.0 && horizon <= 4e9, "avellaneda_stoikov: horizon must be > 0 s");
  horizon_ns_ = static_cast<int64_t>(std::nearbyint(horizon * 1e9));
  require(horizon_ns_ >= 1, "avellaneda_stoikov: horizon must be at least 1 ns");
  gs2_ = gamma * sigma * sigma;
  c_ = 2.0 / gamma * std::log1p(gamma / k);
  require(finite(gs2_) && finite(c_), "avellaneda_stoikov: gamma, sigma, k overflow");
}

void AvellanedaStoikovQuoter::prices(const Context& ctx, double fair, double& bid, double& ask, bool&, bool&) const {
  double tau = horizon_;  // T − t, seconds
  if (session_) {
    int64_t m = ctx.now % horizon_ns_;
    if (m < 0) m += horizon_ns_;
    tau = static_cast<double>(horizon_ns_ - m) / 1e9;
  }
  const double a = gs2_ * tau;                                    // γσ²(T−t)
  const double r = fair - static_cast<double>(ctx.position) * a;  // reservation price
  const double d = (a + c_) * 0.5;                                // half the optimal spread
  bid = r - d;
  ask = r + d;
}

// ------------------------------------------------------------------------------------------ GLFT

GlftQuoter::GlftQuoter(double A, double k, double gamma, double sigma, int64_t size, int64_t max_position,
                       FairValue fair)
    : Quoter(size, max_position, fair), A_(A), k_(k), gamma_(gamma), sigma_(sigma) {
  require(finite(A) && A > 0.0, "glft: A must be > 0 fills per second");
  require(finite(k) && k > 0.0, "glft: k must be > 0 per tick");
  require(finite(gamma) && gamma > 0.0, "glft: gamma must be > 0");
  require(finite(sigma) && sigma >= 0.0, "glft: sigma must be >= 0 ticks per sqrt(s)");
  c1_ = std::log1p(gamma / k) / gamma;
  c2_ = sigma * std::sqrt(gamma / (2.0 * A * k) * std::pow(1.0 + gamma / k, 1.0 + k / gamma));
  require(finite(c1_) && finite(c2_), "glft: A, k, gamma, sigma overflow");
}

void GlftQuoter::prices(const Context& ctx, double fair, double& bid, double& ask, bool&, bool&) const {
  const double q = static_cast<double>(ctx.position);
  bid = fair - (c1_ + (2.0 * q + 1.0) * 0.5 * c2_);  // δ_b
  ask = fair + (c1_ - (2.0 * q - 1.0) * 0.5 * c2_);  // δ_a
}

}  // namespace mmsim
