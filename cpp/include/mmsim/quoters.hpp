// The built-in quoting strategies (docs/strategies.md): symmetric, skew, pull, skew_pull (one SpreadQuoter),
// Avellaneda–Stoikov and GLFT. Each computes a real-valued bid and ask around a fair value in ticks; the
// shared rules turn them into integer targets: pull both sides on a one-sided book, floor the bid and ceil
// the ask, never quote through the strategy-side book, never cross, stop buying at +max_position and
// selling at −max_position. The Python twins (src/mmsim/engine/quoters.py) do the same arithmetic, operation for
// operation, so both give identical targets.
#pragma once
#include <cstdint>
#include <deque>
#include <limits>
#include <utility>

#include "mmsim/strategy.hpp"

namespace mmsim {

// The fair value the quotes centre on: the strategy-side mid, or the size-weighted mid (microprice).
enum class FairValue : int { Mid = 0, Micro = 1 };

// Shared rules of every built-in; subclasses give the real-valued prices around the fair value.
class Quoter : public Strategy {
 public:
  int on_wakeup(Context& ctx, Targets& out) final;
  int64_t size() const { return size_; }
  int64_t max_position() const { return max_position_; }
  FairValue fair() const { return fair_; }

 protected:
  // size > 0 lots per side; max_position >= 0 lots (0: no limit). Throws ConfigError otherwise.
  Quoter(int64_t size, int64_t max_position, FairValue fair);
  // Real-valued bid and ask (ticks) around `fair`; clear bid_on / ask_on to pull that side.
  virtual void prices(const Context& ctx, double fair, double& bid, double& ask, bool& bid_on,
                      bool& ask_on) const = 0;

 private:
  int64_t size_, max_position_;
  FairValue fair_;
};

// symmetric / skew / pull / skew_pull: fair value f' = f + skew·pred_move (when the prediction is finite),
// bid f' − h and ask f' + h, h = half_spread rounded to the nearest half tick (ties to even); the bid is
// pulled when pred_move < −pull_threshold and the ask when pred_move > +pull_threshold. skew = 0 and
// pull_threshold = +inf give the fixed-spread symmetric quoter. The oracle (mmsim/oracle.hpp) is the same
// rule with the predicted move replaced by the true one: it overrides move().
class SpreadQuoter : public Quoter {
 public:
  SpreadQuoter(double half_spread, int64_t size, int64_t max_position = 0, FairValue fair = FairValue::Mid,
               double skew = 0.0, double pull_threshold = kNoPull);
  static constexpr double kNoPull = std::numeric_limits<double>::infinity();
  int64_t half_spread2() const { return h2_; }
  double skew() const { return skew_; }
  double pull_threshold() const { return pull_; }

 protected:
  void prices(const Context& ctx, double fair, double& bid, double& ask, bool& bid_on, bool& ask_on) const override;
  // The move (ticks) the rule acts on: the model's prediction ctx.pred_move (NaN: none).
  virtual double move(const Context& ctx) const { return ctx.pred_move; }

 private:
  int64_t h2_;
  double h_, skew_, pull_;
};

// lead_defence (docs/venues.md): SpreadQuoter on the lead venue's recent move instead of a prediction. The move
// (quoted ticks) = (m_now − m_then) / m_then · quoted mid, m the lead's doubled mid in its own ticks: m_now at
// this wakeup, m_then at the latest earlier wakeup at or before now − window (recorded at every wakeup where
// both venues are two-sided). NaN (quote symmetric) while the lead is one-sided or less than a window was seen.
// The lead is ctx.venues[lead_index] (1 = the first signal venue). Python twin: quoters.LeadDefenceQuoter.
class LeadDefenceQuoter final : public SpreadQuoter {
 public:
  LeadDefenceQuoter(int64_t lead_index, int64_t window_ns, double half_spread, int64_t size, int64_t max_position,
                    FairValue fair, double skew, double pull_threshold);
  int64_t lead_index() const { return lead_; }
  int64_t window_ns() const { return window_; }

 protected:
  double move(const Context& ctx) const override;

 private:
  int64_t lead_, window_;
  mutable std::deque<std::pair<int64_t, int64_t>> seen_;  // (wakeup time, lead doubled mid), oldest first
};

// Avellaneda–Stoikov (2008): r = f − q·γσ²(T−t), bid r − δ, ask r + δ,
// δ = (γσ²(T−t) + (2/γ)ln(1+γ/k))/2, q = position (lots), γ per tick·lot, σ ticks per √s, k per tick.
// T−t is `horizon` seconds at every wakeup (rolling: the stationary variant) or, with session = true, the
// time left to the end of the current period of `horizon` seconds on the data clock (periods start at
// t = 0 ns, e.g. 86400 s: UTC days).
class AvellanedaStoikovQuoter final : public Quoter {
 public:
  AvellanedaStoikovQuoter(double gamma, double sigma, double k, double horizon, bool session, int64_t size,
                          int64_t max_position = 0, FairValue fair = FairValue::Mid);
  double gamma() const { return gamma_; }
  double sigma() const { return sigma_; }
  double k() const { return k_; }
  double horizon() const { return horizon_; }
  bool session() const { return session_; }

 protected:
  void prices(const Context& ctx, double fair, double& bid, double& ask, bool& bid_on, bool& ask_on) const override;

 private:
  double gamma_, sigma_, k_, horizon_;
  bool session_;
  int64_t horizon_ns_;
  double gs2_;  // γσ²
  double c_;    // (2/γ) ln(1 + γ/k)
};

// Guéant–Lehalle–Fernandez-Tapia (2013), closed-form asymptotic approximation (unit order size, ξ = γ):
// δ_b = c1 + (2q+1)/2·c2, δ_a = c1 − (2q−1)/2·c2, c1 = (1/γ)ln(1+γ/k),
// c2 = σ·sqrt(γ/(2Ak)·(1+γ/k)^(1+k/γ)); bid f − δ_b, ask f + δ_a. A fills per second at distance 0.
class GlftQuoter final : public Quoter {
 public:
  GlftQuoter(double A, double k, double gamma, double sigma, int64_t size, int64_t max_position = 0,
             FairValue fair = FairValue::Mid);
  double A() const { return A_; }
  double k() const { return k_; }
  double gamma() const { return gamma_; }
  double sigma() const { return sigma_; }
  double c1() const { return c1_; }
  double c2() const { return c2_; }

 protected:
  void prices(const Context& ctx, double fair, double& bid, double& ask, bool& bid_on, bool& ask_on) const override;

 private:
  double A_, k_, gamma_, sigma_, c1_, c2_;
};

}  // namespace mmsim
