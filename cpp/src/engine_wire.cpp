// The wire between the two sides: the low-level order API a strategy calls during a wakeup (it creates
// order records and queues actions), send() which puts an action on its venue's entry or cancel latency leg
// as a request, and push_response() which puts an exchange response on that venue's response leg. Each
// quoted venue has its own session: its own latency tables and counters, and arrivals never overtake each
// other within it (docs/event-loop.md "Quoted venues").
#include "mmsim/engine.hpp"

#include <string>
#include <vector>

namespace mmsim {

void Engine::send(const Action& a, int64_t wire_ts) {
  ExOrder& o = orders_[a.order_id - 1];
  QuotedVenue& x = *xv_[o.venue];
  int64_t lat;
  // Venue 0's actions are counted on the decision, venue k's on its quote record of this decision.
  int32_t *n_new, *n_cancel, *n_modify;
  if (o.venue == 0) {
    DecisionRecord& d = decisions_.back();
    n_new = &d.n_new; n_cancel = &d.n_cancel; n_modify = &d.n_modify;
  } else {
    QuoteRecord& q = quotes_[quotes_.size() - xq_.size() + x.quote_slot];
    n_new = &q.n_new; n_cancel = &q.n_cancel; n_modify = &q.n_modify;
  }
  if (a.type == REQ_CANCEL) {
    lat = x.lat_cancel[x.k_cancel++ % x.lat_cancel.size()];
    ++*n_cancel;
  } else {
    lat = x.lat_entry[x.k_entry++ % x.lat_entry.size()];
    if (a.type == REQ_NEW) {
      o.sent_ts = wire_ts;
      ++*n_new;
    } else {
      ++*n_modify;
    }
  }
  int64_t arr = wire_ts + lat;
  if (x.last_req_arrival != NO_TS && arr < x.last_req_arrival) arr = x.last_req_arrival;
  x.last_req_arrival = arr;
  x.requests.push_back(Request{arr, a.order_id, a.qty, a.type});
}

int64_t Engine::push_response(QuotedVenue& x, int64_t t, RespType type, int64_t order_id, int64_t qty, int64_t price,
                              double fee) {
  int64_t arr = t + x.lat_response[x.k_resp++ % x.lat_response.size()];
  if (x.last_resp_arrival != NO_TS && arr < x.last_resp_arrival) arr = x.last_resp_arrival;
  x.last_resp_arrival = arr;
  x.responses.push_back(Response{arr, order_id, qty, price, fee, type});
  return arr;
}

int64_t Engine::api_submit(int venue, int side, int64_t price, int64_t qty, Tif tif) {
  if (!in_wakeup_) throw StrategyError("submit called outside on_wakeup");
  if (venue < 0 || venue >= n_venues())
    throw StrategyError("submit: unknown venue " + std::to_string(venue) + " (the run has venues 0.." +
                        std::to_string(n_venues() - 1) + ")");
  if (xv_[venue] == nullptr)
    throw StrategyError("submit: quotes read-only instrument '" + venue_name(venue) + "' (mark it quoted)");
  if (side != BID && side != ASK) throw StrategyError("submit: side must be +1 (bid) or -1 (ask)");
  if (qty <= 0) throw StrategyError("submit: qty must be > 0");
  const int64_t id = create_order(*xv_[venue], side, price, qty, tif);
  api_actions_.push_back(Action{REQ_NEW, id, qty});
  return id;
}

int64_t Engine::create_order(QuotedVenue& x, int side, int64_t price, int64_t qty, Tif tif) {
  const int64_t id = static_cast<int64_t>(orders_.size()) + 1;
  ExOrder o;
  o.id = id;
  o.decision_id = cur_decision_;
  o.price = price;
  o.qty = o.leaves = qty;
  o.side = static_cast<int8_t>(side);
  o.tif = tif;
  o.venue = x.index;
  orders_.push_back(o);
  st_orders_.push_back(StOrder{price, qty, qty, static_cast<int8_t>(side), Known::Sent, false, x.index});
  x.st_active.push_back(id);  // ids only grow: stays ascending
  ++x.n_orders;
  return id;
}

void Engine::api_cancel(int64_t order_id) {
  if (!in_wakeup_) throw StrategyError("cancel called outside on_wakeup");
  if (order_id < 1 || order_id > static_cast<int64_t>(st_orders_.size())) return;
  StOrder& s = st_orders_[order_id - 1];
  if (s.state == Known::Done || s.cancel_sent) return;
  s.cancel_sent = true;
  api_actions_.push_back(Action{REQ_CANCEL, order_id, 0});
}

void Engine::api_modify(int64_t order_id, int64_t qty) {
  if (!in_wakeup_) throw StrategyError("modify called outside on_wakeup");
  if (qty <= 0) throw StrategyError("modify: qty must be > 0 (use cancel)");
  if (order_id < 1 || order_id > static_cast<int64_t>(st_orders_.size())) return;
  StOrder& s = st_orders_[order_id - 1];
  if (s.state == Known::Done || s.cancel_sent) return;
  s.qty = qty;
  api_actions_.push_back(Action{REQ_MODIFY, order_id, qty});
}

std::vector<Context::OpenOrder> Engine::api_open_orders(int venue) const {
  std::vector<Context::OpenOrder> out;
  if (venue < 0 || venue >= n_venues() || xv_[venue] == nullptr) return out;  // a read-only venue has none
  for (int64_t id : xv_[venue]->st_active) {
    const StOrder& s = st_orders_[id - 1];
    if (s.cancel_sent) continue;
    out.push_back(Context::OpenOrder{id, s.side, s.price, s.qty, s.leaves});
  }
  return out;
}

}  // namespace mmsim
