// The clairvoyant bound (docs/strategies.md): built-in oracles that read the future, and the one explicit
// path through which they read it. A *marked path* is a step function of exchange time computed from the
// data before the loop (the exchange-side mid, or a synthetic market's true regime) and handed to the
// oracle's constructor; nothing else in the engine sees it. An oracle acts through the same feed, compute
// and order latency as any strategy, and says so: clairvoyant() is true, so the engine marks each of its
// decisions DECISION_CLAIRVOYANT and `mmsim audit` labels the run. The Python twins are
// OracleQuoter / RegimeOracleQuoter in src/mmsim/engine/quoters.py (same arithmetic, same lookups).
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "mmsim/book.hpp"
#include "mmsim/quoters.hpp"
#include "mmsim/records.hpp"

namespace mmsim {

// value[j] holds from exchange time ts[j] until ts[j + 1]; `end_ts` is the data's last exchange time (what
// lies beyond it is unknown: a lookup there returns the last value and is counted by the oracles).
class MarkedPath {
 public:
  MarkedPath(std::vector<int64_t> ts, std::vector<int64_t> value, int64_t end_ts);
  // The value in force at exchange time t (that of the last entry with ts <= t); false before the first
  // entry. Times that never decrease (a run's decisions) move a cursor forward: O(1) amortised; an
  // earlier time is found by binary search.
  bool at(int64_t t, int64_t& value);
  int64_t end_ts() const { return end_ts_; }
  size_t size() const { return ts_.size(); }

 private:
  std::vector<int64_t> ts_, value_;
  int64_t end_ts_;
  size_t next_ = 0;  // entries before next_ have ts <= the last query time
  int64_t last_t_ = std::numeric_limits<int64_t>::min();
};

// The exchange-side mid path of a run's rows, fed in order (chunks of a streamed run one after another):
// each row is applied to a book with the exchange side's rules (cpp/src/book.cpp), the crossed-book check
// (or repair) runs at the end of each exchange-timestamp group, and twice the mid (integer ticks) after the
// group is recorded at the group's exch_ts whenever it changes. A one-sided book holds the last two-sided
// mid, as the summary's final_mid does. The reference simulator's twin is marked_mid_path().
class MidPathBuilder {
 public:
  explicit MidPathBuilder(bool repair_crossed) : repair_(repair_crossed) {}
  void feed(const EventRecord* events, int64_t n, bool final);
  bool final() const { return final_; }
  const std::vector<int64_t>& ts() const { return ts_; }
  const std::vector<int64_t>& mid2() const { return mid2_; }
  int64_t rows() const { return rows_; }
  int64_t first_ts() const { return first_ts_; }  // NO_TS before any row
  int64_t end_ts() const { return end_ts_; }      // NO_TS before any row

 private:
  void close_group();
  Book book_;
  bool repair_;
  bool final_ = false;
  int64_t rows_ = 0;
  bool open_ = false;  // a timestamp group whose end is not known yet
  int64_t open_ts_ = 0, open_row_ = 0;
  bool have_mid_ = false;
  int64_t last_mid2_ = 0;
  int64_t first_ts_ = NO_TS, end_ts_ = NO_TS;
  std::vector<int64_t> ts_, mid2_;
};

// `oracle`: the skew_pull rule with the predicted move replaced by the true one,
//   move = mid_exch(t + horizon) − mid_now   (ticks; NaN before the exchange's first two-sided mid)
// mid_exch from the marked mid path (exchange side), mid_now = (best_bid + best_ask)/2 of the strategy-side
// book it quotes around: f' = f + skew·move, the bid pulled when move < −threshold, the ask when
// move > +threshold. t is the decision time ctx.now, or with anchor_data the exchange time of the newest
// data the strategy has seen (ctx.data_exch_ts: foresight of `horizon` beyond its feed, which feed latency
// eats into). Lookups past the data's end use the last mid and are counted (past_end()).
class OracleQuoter final : public SpreadQuoter {
 public:
  OracleQuoter(MarkedPath mids, int64_t horizon_ns, double half_spread, double threshold, double skew,
               int64_t size, int64_t max_position = 0, FairValue fair = FairValue::Mid, bool anchor_data = false);
  bool clairvoyant() const override { return true; }
  int64_t horizon_ns() const { return horizon_ns_; }
  bool anchor_data() const { return anchor_data_; }
  int64_t past_end() const { return past_end_; }

 protected:
  double move(const Context& ctx) const override;

 private:
  mutable MarkedPath mids_;
  int64_t horizon_ns_;
  bool anchor_data_;
  mutable int64_t past_end_ = 0;
};

// `oracle_regime`: quotes f ± h, and while the true regime at exchange time now + horizon is toxic (bit r
// of toxic_mask set for regime r: 1 toxic burst, 2 news window) pulls both sides (widen = 0) or quotes
// f ± (h + widen). h is half_spread rounded to the nearest half tick, as for `symmetric`.
class RegimeOracleQuoter final : public Quoter {
 public:
  RegimeOracleQuoter(MarkedPath regimes, int64_t horizon_ns, double half_spread, double widen, int64_t toxic_mask,
                     int64_t size, int64_t max_position = 0, FairValue fair = FairValue::Mid);
  bool clairvoyant() const override { return true; }
  int64_t horizon_ns() const { return horizon_ns_; }
  int64_t past_end() const { return past_end_; }
  double half_spread() const { return h_; }
  double widen() const { return widen_; }
  int64_t toxic_mask() const { return mask_; }

 protected:
  void prices(const Context& ctx, double fair, double& bid, double& ask, bool& bid_on, bool& ask_on) const override;

 private:
  mutable MarkedPath regimes_;
  int64_t horizon_ns_;
  double h_, widen_, hw_;
  int64_t mask_;
  mutable int64_t past_end_ = 0;
};

}  // namespace mmsim
