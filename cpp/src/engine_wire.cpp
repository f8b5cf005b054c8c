// The wire between the two sides: the low-level order API a strategy calls during a wakeup (it creates
// order records and queues actions), send() which puts an action on the entry or cancel latency leg as a
// request, and push_response() which puts an exchange response on the response leg. Each leg draws the
// next element of its latency table and never lets arrivals overtake each other.
#include "mmsim/engine.hpp"

#include <vector>

namespace mmsim {

void Engine::send(const Action& a, int64_t wire_ts) {
  int64_t lat;
  DecisionRecord& d = decisions_.back();
  if (a.type == REQ_CANCEL) {
    lat = lat_.cancel[k_cancel_++ % lat_.cancel.size()];
    ++d.n_cancel;
  } else {
    lat = lat_.entry[k_entry_++ % lat_.entry.size()];
    if (a.type == REQ_NEW) {
      orders_[a.order_id - 1].sent_ts = wire_ts;
      ++d.n_new;
    } else {
      ++d.n_modify;
    }
  }
  int64_t arr = wire_ts + lat;
  if (last_req_arrival_ != NO_TS && arr < last_req_arrival_) arr = last_req_arrival_;
  last_req_arrival_ = arr;
  requests_.push_back(Request{arr, a.order_id, a.qty, a.type});
}

int64_t Engine::push_response(int64_t t, RespType type, int64_t order_id, int64_t qty, int64_t price, double fee) {
  int64_t arr = t + lat_.response[k_resp_++ % lat_.response.size()];
  if (last_resp_arrival_ != NO_TS && arr < last_resp_arrival_) arr = last_resp_arrival_;
  last_resp_arrival_ = arr;
  responses_.push_back(Response{arr, order_id, qty, price, fee, type});
  return arr;
}

int64_t Engine::api_submit(int side, int64_t price, int64_t qty, Tif tif) {
  if (!in_wakeup_) throw StrategyError("submit called outside on_wakeup");
  if (side != BID && side != ASK) throw StrategyError("submit: side must be +1 (bid) or -1 (ask)");
  if (qty <= 0) throw StrategyError("submit: qty must be > 0");
  const int64_t id = create_order(side, price, qty, tif);
  api_actions_.push_back(Action{REQ_NEW, id, qty});
  return id;
}

int64_t Engine::create_order(int side, int64_t price, int64_t qty, Tif tif) {
  const int64_t id = static_cast<int64_t>(orders_.size()) + 1;
  ExOrder o;
  o.id = id;
  o.decision_id = cur_decision_;
  o.price = price;
  o.qty = o.leaves = qty;
  o.side = static_cast<int8_t>(side);
  o.tif = tif;
  orders_.push_back(o);
  st_orders_.push_back(StOrder{price, qty, qty, static_cast<int8_t>(side), Known::Sent, false});
  st_active_.push_back(id);
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

std::vector<Context::OpenOrder> Engine::api_open_orders() const {
  std::vector<Context::OpenOrder> out;
  for (int64_t id : st_active_) {
    const StOrder& s = st_orders_[id - 1];
    if (s.cancel_sent) continue;
    out.push_back(Context::OpenOrder{id, s.side, s.price, s.qty, s.leaves});
  }
  return out;
}

}  // namespace mmsim
