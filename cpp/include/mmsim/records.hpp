// Fixed-layout records mirrored by numpy dtypes in src/mmsim/records.py (tests/test_records.py checks).
#pragma once
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace mmsim {

constexpr int64_t NO_TS = std::numeric_limits<int64_t>::min();

enum EventKind : uint8_t { DEPTH = 1, TRADE = 2, CLEAR = 3, ADD = 4, CANCEL = 5, DELETE = 6, EXECUTE = 7 };
constexpr int8_t BID = 1;
constexpr int8_t ASK = -1;

struct EventRecord {
  int64_t exch_ts;
  int64_t recv_ts;
  int64_t price;
  int64_t qty;
  int64_t order_id;
  uint8_t kind;
  int8_t side;
  uint8_t flags;
  uint8_t _pad[5];
};
static_assert(sizeof(EventRecord) == 48, "EventRecord must match EVENT_DTYPE");
// EventRecord::flags. MSG_END: the last row of its exchange message (records.py FLAG_MSG_END).
enum EventFlag : uint8_t { FLAG_INFORMED = 1, FLAG_MSG_END = 2 };

enum Tif : uint8_t { GTC = 0, POST_ONLY = 1, IOC = 2 };
enum OrderStatus : uint8_t { ST_PENDING = 0, ST_OPEN = 1, ST_FILLED = 2, ST_CANCELLED = 3, ST_REJECTED = 4, ST_EXPIRED = 5 };
enum FillCause : uint8_t { CAUSE_TRADE = 0, CAUSE_TRADE_THROUGH = 1, CAUSE_CROSS = 2, CAUSE_TAKER = 3, CAUSE_EXECUTE = 4 };
enum WakeReason : int32_t { WAKE_FEED = 1, WAKE_TIMER = 2, WAKE_RESPONSE = 4 };
// DecisionRecord::flags. CLAIRVOYANT: the decision read the future through the marked path (a built-in oracle).
enum DecisionFlag : uint16_t { DECISION_CLAIRVOYANT = 1 };

struct FillRecord {
  int64_t fill_id, order_id, exch_ts, recv_ts, price, qty, position, data_row;
  double fee;
  int8_t side;
  uint8_t maker, cause;
  uint8_t venue;    // the venue it happened on (0 = the primary quoted venue)
  uint8_t _pad[4];
};
static_assert(sizeof(FillRecord) == 80, "FillRecord must match FILL_DTYPE");

struct OrderRecord {
  int64_t order_id, decision_id, price, qty, filled, sent_ts, exch_ts, done_ts;
  int8_t side;
  uint8_t tif, status;
  uint8_t venue;    // the venue it was sent to (0 = the primary quoted venue)
  uint8_t _pad[4];
};
static_assert(sizeof(OrderRecord) == 72, "OrderRecord must match ORDER_DTYPE");

struct DecisionRecord {
  int64_t decision_id, ts, wire_ts, data_exch_ts, data_arrival_ts, data_rows, position;
  int64_t bid_price, bid_qty, ask_price, ask_qty;
  int32_t n_new, n_cancel, n_modify;
  int16_t reason;   // WakeReason bits
  uint16_t flags;   // DecisionFlag bits
};
static_assert(sizeof(DecisionRecord) == 104, "DecisionRecord must match DECISION_DTYPE");

// What a decision had seen of one signal venue (one per decision per signal venue, decision then venue order).
struct SignalDataRecord {
  int64_t decision_id;
  int64_t venue;            // 1..K
  int64_t data_exch_ts;     // the last delivered row's exch_ts (NO_TS before any)
  int64_t data_arrival_ts;  // its arrival at the strategy (NO_TS before any)
  int64_t data_rows;        // rows of that venue delivered so far
};
static_assert(sizeof(SignalDataRecord) == 40, "SignalDataRecord must match SIGNAL_DATA_DTYPE");

// One per decision per quoted venue k >= 1 (decision then venue order): that venue's targets (qty -1 when
// none), the strategy's known position there at the decision, and the actions sent to it.
struct QuoteRecord {
  int64_t decision_id, venue, position;
  int64_t bid_price, bid_qty, ask_price, ask_qty;
  int32_t n_new, n_cancel, n_modify;
  uint8_t _pad[4];
};
static_assert(sizeof(QuoteRecord) == 72, "QuoteRecord must match QUOTE_DTYPE");

// Errors a user can cause; the bindings translate them to mmsim.errors classes.
struct DataError : std::runtime_error {
  int64_t row;
  DataError(int64_t row_, const std::string& what)
      : std::runtime_error("row " + std::to_string(row_) + ": " + what), row(row_) {}
  // The same error with a prefix naming where the rows came from (a signal venue: "signal 'perp': row 12: ...").
  DataError(const std::string& prefix, const DataError& e) : std::runtime_error(prefix + e.what()), row(e.row) {}
};
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct StrategyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace mmsim
