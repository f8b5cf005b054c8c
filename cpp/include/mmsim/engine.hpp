// The event loop: exchange-side book and matching of own orders at exchange time, a feed that delivers
// each row to the strategy-side book after its latency, order/response/compute latency, wakeups; read-only
// signal venues with their own feeds and strategy-side books (docs/event-loop.md "Signal venues"), any of
// which may also be quoted: an exchange side and an order session of its own ("Quoted venues").
// The rules are docs/event-loop.md and docs/fills.md; src/mmsim/reference/simulator.py implements the same in Python.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mmsim/book.hpp"
#include "mmsim/feature_runner.hpp"
#include "mmsim/model.hpp"
#include "mmsim/features.h"
#include "mmsim/records.hpp"
#include "mmsim/strategy.hpp"

namespace mmsim {

enum class QueueModel { RiskAverse, Power, Log };

// Where a decision's compute latency comes from.
enum class ComputeSource { Table, MeasuredStrategy, MeasuredModel };

// Latency streams: the k-th use of a leg takes element k % size (size >= 1).
struct LatencyTables {
  std::vector<int64_t> entry, cancel, response, compute;
};

// Venue k >= 1 (docs/event-loop.md "Signal venues"). Read-only (quoted = false): its rows reach only its own
// strategy-side book, features and VenueView, never an exchange side. Quoted: its rows also drive an exchange
// side of its own (book, own orders, fills) with its own order session ("Quoted venues"); the optional
// settings below apply to a quoted venue only and default to the run's own (EngineConfig, LatencyTables).
struct SignalConfig {
  std::string name;
  bool l3 = false;  // a read-only venue: informational (its strategy-side book takes L2 and L3 rows alike);
                    // a quoted venue: its exchange side's mode
  double tick_size = 1.0, lot_size = 1.0;
  bool repair_crossed = false;
  std::vector<MmsimFeatureSpec> features;
  bool quoted = false;
  std::optional<QueueModel> queue_model;
  std::optional<double> queue_power, maker_fee_bps, taker_fee_bps;
  std::optional<bool> post_only;
  std::vector<int64_t> entry, cancel, response;  // empty: the run's own table (the venue keeps its own counters)
};

// The rows of one signal venue, held whole (signal venues are not streamed); they must outlive the engine.
struct SignalRows {
  const EventRecord* events = nullptr;
  const int64_t* arrival = nullptr;
  int64_t n = 0;
};

struct EngineConfig {
  bool l3 = false;
  QueueModel queue_model = QueueModel::RiskAverse;
  double queue_power = 2.0;
  double maker_fee_bps = 0.0, taker_fee_bps = 0.0;
  double tick_size = 1.0, lot_size = 1.0;
  bool wake_on_feed = true, wake_on_response = true;
  int64_t timer_interval_ns = 0;
  bool post_only = false;
  bool repair_crossed = false;
  int64_t ewma_tau_ns = 1'000'000'000;
  ComputeSource compute_source = ComputeSource::Table;
  double compute_factor = 1.0;  // hardware factor on measured time
  std::string strategy_name = "strategy";
  std::vector<MmsimFeatureSpec> features;  // the feature bank the strategy sees (empty: none)
  std::shared_ptr<const Model> model;       // called on the features at each wakeup (null: none)
  // The model's inputs across venues: (venue, feature index in that venue's bank), venue 0 the quoted one and
  // 1..K the signal venues; (v, -1) is venue v's basis against venue 0 (Engine::basis). Empty: the quoted
  // venue's bank is the model's input, as it is.
  std::vector<std::pair<int32_t, int32_t>> model_inputs;
  std::string name = "quoted";              // the quoted instrument's name (venue 0)
  std::vector<SignalConfig> signals;        // venues 1..K (read-only or quoted), in the order of their rows
};

// One quoted venue's totals (Summary's top level: venue 0's; Summary::quoted: each quoted venue k >= 1).
struct Summary {
  int64_t venue = 0;
  int64_t n_events = 0, n_fills = 0, volume = 0, position = 0, cash_ticklots = 0;
  double fees = 0.0, final_mid = 0.0, pnl = 0.0;
  int64_t n_orders = 0, n_decisions = 0, repaired_crossed_levels = 0;
  std::vector<Summary> quoted;  // quoted venues k >= 1 in venue order (n_decisions unused there)
};

class Engine {
 public:
  // `events` and `arrival` must outlive the engine (the bindings keep the numpy arrays alive) unless
  // more rows are appended later (append() copies the rows it still needs). `final` = no more rows follow.
  // `signals` (one per cfg.signals entry, same order) are the signal venues' rows, held whole.
  Engine(const EventRecord* events, const int64_t* arrival, int64_t n, LatencyTables lat, EngineConfig cfg,
         Strategy* strategy, bool final = true, std::vector<SignalRows> signals = {});

  // Runs until `n_rows` more feed rows were delivered, the run ended (returns true), or it needs the next
  // chunk of rows (returns false with needs_data() true).
  bool step(int64_t n_rows);
  // Streams the next chunk (exchange times continuing the previous ones). Rows already consumed by both
  // the exchange and the feed are released, so memory stays bounded by the chunk size plus the feed lag.
  void append(const EventRecord* events, const int64_t* arrival, int64_t n, bool final);
  bool needs_data() const { return !final_ && x0_.ex_i + 1 >= q_.loaded; }
  bool done() const { return done_; }
  int64_t rows_delivered() const { return q_.fd_i; }
  int64_t rows_held() const { return q_.loaded - q_.base; }

  const std::vector<FillRecord>& fills() const { return fills_; }
  std::vector<OrderRecord> orders() const;
  const std::vector<DecisionRecord>& decisions() const { return decisions_; }
  // One per decision per signal venue (empty without signal venues).
  const std::vector<SignalDataRecord>& signal_data() const { return signal_data_; }
  // One per decision per quoted venue k >= 1 (empty without them).
  const std::vector<QuoteRecord>& quotes() const { return quotes_; }
  Summary summary() const;
  // 1 + K; names in venue order (the quoted venue first); rows delivered of signal venue k (1..K).
  int64_t n_venues() const { return 1 + static_cast<int64_t>(sig_.size()); }
  const std::string& venue_name(int64_t v) const { return v == 0 ? q_.name : sig_[v - 1].name; }
  int64_t signal_rows(int64_t k) const { return sig_[k - 1].fd_i; }
  bool venue_quoted(int64_t v) const { return v >= 0 && v < n_venues() && xv_[v] != nullptr; }

  // Strategy-side order API (called through Context during a wakeup).
  int64_t api_submit(int venue, int side, int64_t price, int64_t qty, Tif tif);
  void api_cancel(int64_t order_id);
  void api_modify(int64_t order_id, int64_t qty);
  std::vector<Context::OpenOrder> api_open_orders(int venue) const;
  const Book& strategy_book() const { return q_.book; }
  const Book& venue_book(int64_t v) const { return v == 0 ? q_.book : sig_[v - 1].book; }

 private:
  // ---- exchange side
  struct ExOrder {  // one own order as the exchange sees it, plus its log fields
    int64_t id = 0, decision_id = 0, price = 0, qty = 0, leaves = 0, filled = 0;
    int64_t sent_ts = NO_TS, exch_ts = NO_TS, done_ts = NO_TS;
    int64_t own_seq = 0;   // FIFO among own orders
    int64_t l3_seq = 0;    // priority against market orders (L3)
    double ahead = 0.0, traded = 0.0;
    int8_t side = 0;
    uint8_t tif = GTC, status = ST_PENDING;
    uint8_t venue = 0;
  };
  struct MktOrder { int64_t seq, price, qty; int8_t side; };
  enum ReqType : uint8_t { REQ_NEW, REQ_CANCEL, REQ_MODIFY };
  struct Request { int64_t t, order_id, qty; ReqType type; };
  enum RespType : uint8_t { R_ACK, R_FILL, R_CANCELLED, R_EXPIRED, R_REJECTED, R_MODIFIED, R_CANCEL_REJECT, R_MODIFY_REJECT };
  struct Response { int64_t t, order_id, qty, price; double fee; RespType type; };

  // ---- strategy side
  enum class Known : uint8_t { Sent, Live, Done };
  struct StOrder { int64_t price, qty, leaves; int8_t side; Known state; bool cancel_sent; uint8_t venue; };
  struct Action { ReqType type; int64_t order_id, qty; };

  // One venue's strategy side: its rows (a window of them), the delayed book built from the rows delivered,
  // its features, and what the strategy has seen of it. The quoted venue (q_) and each signal venue are one.
  struct FeedVenue {
    std::string name;
    const EventRecord* ev = nullptr;  // global row i lives at ev[i - base] for base <= i < loaded
    const int64_t* arrival = nullptr;
    int64_t base = 0, loaded = 0;
    int64_t fd_i = 0;                                   // rows delivered
    int64_t last_exch_ts = NO_TS, last_arrival = NO_TS;  // newest row delivered
    bool repair_crossed = false;
    bool track_ewma = false;  // the quoted venue's EWMA mid (Context::ewma_mid)
    Book book;
    MmsimEwma ewma{};
    std::unique_ptr<FeatureRunner> features;
    std::vector<double> feature_values;
    const EventRecord& row(int64_t i) const { return ev[i - base]; }
    int64_t arrival_of(int64_t i) const { return arrival[i - base]; }
  };

  // One quoted venue: its exchange side (book, market orders, own live orders, totals), its order session
  // (request and response legs with their latency tables and counters) and the strategy's own view of its
  // orders, position and cash (updated only by its responses). Venue 0 is the member x0_; quoted venues
  // k >= 1 are xq_. Its rows are its feed's (`feed`): venue 0's window, or venue k's rows held whole.
  struct QuotedVenue {
    uint8_t index = 0;
    std::string name;
    const FeedVenue* feed = nullptr;
    // settings
    bool l3 = false;
    QueueModel queue_model = QueueModel::RiskAverse;
    double queue_power = 2.0, maker_fee_bps = 0.0, taker_fee_bps = 0.0;
    bool post_only = false, repair_crossed = false;
    double tick_size = 1.0, lot_size = 1.0;
    std::vector<int64_t> lat_entry, lat_cancel, lat_response;
    // exchange side
    int64_t ex_i = 0;  // next row to apply
    Book book;
    std::unordered_map<int64_t, MktOrder> mkt_orders;
    std::unordered_map<int64_t, int64_t> taken[2];  // [bids, asks]: price -> lots our taker orders took (rule E)
    std::vector<int64_t> live;                      // ids resting at the exchange, ascending
    int64_t position = 0, cash = 0, volume = 0, n_fills = 0, n_orders = 0;
    double fees = 0.0;
    int64_t last_mid2 = 0;
    bool have_mid = false;
    int64_t repaired = 0;
    // the session
    std::deque<Request> requests;
    std::deque<Response> responses;
    int64_t last_req_arrival = NO_TS, last_resp_arrival = NO_TS;
    uint64_t k_entry = 0, k_cancel = 0, k_resp = 0;
    // the strategy's view
    std::vector<int64_t> st_active;  // ids not known done, ascending
    int64_t st_position = 0, st_cash = 0;
    double st_fees = 0.0;
    size_t quote_slot = 0;  // k >= 1: its place among the quote records of one decision
    const EventRecord& row(int64_t i) const { return feed->row(i); }
  };

  void on_exchange_row(QuotedVenue& x, int64_t i);
  void on_request(QuotedVenue& x, const Request& r);
  void on_feed_row(FeedVenue& v, int64_t i);
  void on_signal_row();
  void next_signal();
  void next_quoted();
  void on_quoted_item();
  void setup_signals(std::vector<SignalRows> rows);
  void setup_quoted(QuotedVenue& x, const SignalConfig* c);
  void on_response(const Response& r);
  void request_wake(int64_t t, int32_t reason);
  void wakeup(int64_t ts);

  void exchange_l2(QuotedVenue& x, const EventRecord& e, int64_t i);
  void exchange_l3(QuotedVenue& x, const EventRecord& e, int64_t i);
  void allocate_trade(QuotedVenue& x, int passive_side, int64_t p, int64_t q, int64_t row, FillCause at_price,
                      int64_t before_seq);
  void check_crosses(QuotedVenue& x, int64_t row);
  void fill(QuotedVenue& x, ExOrder& o, int64_t qty, int64_t price, bool maker, FillCause cause, int64_t row,
            int64_t t);
  void finish(QuotedVenue& x, ExOrder& o, uint8_t status, int64_t t);
  void rest(QuotedVenue& x, ExOrder& o);
  int64_t push_response(QuotedVenue& x, int64_t t, RespType type, int64_t order_id, int64_t qty, int64_t price,
                        double fee);
  void send(const Action& a, int64_t wire_ts);
  void check_targets(int64_t ts, const Targets& tg, int64_t venue) const;
  void targets_to_actions(QuotedVenue& x, const Targets& tg);
  double basis(size_t v) const;  // a cross-venue model input (model_inputs (v, -1)): docs/venues.md
  int64_t create_order(QuotedVenue& x, int side, int64_t price, int64_t qty, Tif tif);
  static double fee_of(const QuotedVenue& x, int64_t price, int64_t qty, bool maker);
  Summary venue_summary(const QuotedVenue& x) const;
  [[noreturn]] void strategy_failed(int64_t ts, const std::string& why) const;

  // Venue 0's row window (shared by the exchange side and the feed).
  const EventRecord& row(int64_t i) const { return q_.row(i); }
  int64_t arrival_of(int64_t i) const { return q_.arrival_of(i); }
  bool final_ = true;
  std::vector<EventRecord> ev_buf_;  // owned rows once append() was used
  std::vector<int64_t> arr_buf_;
  LatencyTables lat_;
  EngineConfig cfg_;
  Strategy* strategy_;
  uint16_t decision_flags_ = 0;  // DECISION_CLAIRVOYANT for a clairvoyant strategy, on every decision

  // exchange side: per quoted venue, plus what all venues share (ids are one counter across venues)
  QuotedVenue x0_;                                 // venue 0, the primary quoted venue
  std::vector<std::unique_ptr<QuotedVenue>> xq_;   // quoted venues k >= 1, in venue order
  std::vector<QuotedVenue*> xv_;                   // by venue index: x0_, xq_'s, nullptr for a read-only venue
  // The next item of the quoted venues k >= 1 over all of them: smallest (time, priority, venue).
  int64_t xq_next_t_ = 0;
  int xq_next_prio_ = 0;                           // 0 exchange row, 1 request, 4 response
  QuotedVenue* xq_next_ = nullptr;
  std::vector<ExOrder> orders_;      // index = id - 1
  int64_t own_seq_counter_ = 0;      // FIFO among own orders (compared within a venue only)
  std::vector<FillRecord> fills_;
  std::vector<int64_t> scratch_;     // candidates of one trade allocation

  // strategy side
  FeedVenue q_;                      // the quoted venue's feed side
  std::vector<FeedVenue> sig_;       // signal venues 1..K
  std::vector<VenueView> views_;     // Context::venues: [0] the quoted venue, [k] signal k
  std::vector<SignalDataRecord> signal_data_;
  int64_t sig_next_t_;               // arrival of the next signal row over all venues (kInf: none)
  size_t sig_next_ = 0;              // its venue (index into sig_; the lowest at equal times)
  std::vector<double> prediction_;
  std::vector<double> model_in_;  // the model's inputs gathered across venues (cfg_.model_inputs)
  int pred_slot_[4] = {-1, -1, -1, -1};  // model outputs named move, p_down, p_flat, p_up
  std::vector<StOrder> st_orders_;   // index = id - 1
  std::vector<Targets> venue_targets_;  // Context::venue_targets
  std::vector<QuoteRecord> quotes_;
  std::vector<Action> api_actions_;  // low-level calls queued during a wakeup
  bool in_wakeup_ = false;
  int64_t cur_decision_ = 0;
  std::vector<DecisionRecord> decisions_;
  Context ctx_;

  // streams
  int64_t next_timer_;
  bool wake_pending_ = false;
  int64_t wake_time_ = 0;
  int32_t wake_reason_ = 0;
  int64_t busy_until_ = NO_TS;
  int64_t last_wake_ts_ = NO_TS, wakes_at_ts_ = 0;
  static constexpr int64_t kMaxWakesPerInstant = 1000;
  int64_t t_end_ = 0;
  bool done_ = false;
};

}  // namespace mmsim
