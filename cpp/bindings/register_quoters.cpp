// Bindings of the built-in quoters (cpp/include/mmsim/quoters.hpp) and a test hook that calls one on a
// hand-made context, so tests can compare it with its Python twin (src/mmsim/engine/quoters.py).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "mmsim/oracle.hpp"
#include "mmsim/quoters.hpp"
#include "mmsim/records.hpp"

namespace py = pybind11;
using namespace mmsim;

namespace {

FairValue parse_fair(const std::string& s) {
  if (s == "mid") return FairValue::Mid;
  if (s == "micro") return FairValue::Micro;
  throw ConfigError("quoter: fair must be 'mid' or 'micro', not '" + s + "'");
}

// The scalar fields of a Context from a dict; a key that is not one of them is an error (catches typos).
Context context_from(const py::dict& d) {
  Context c;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  c.pred_move = c.p_down = c.p_flat = c.p_up = c.ewma_mid = nan;
  for (auto item : d) {
    const std::string k = py::str(item.first);
    const py::handle v = item.second;
    if (k == "now") c.now = v.cast<int64_t>();
    else if (k == "reason") c.reason = v.cast<int32_t>();
    else if (k == "best_bid") c.best_bid = v.cast<int64_t>();
    else if (k == "bid_qty") c.bid_qty = v.cast<int64_t>();
    else if (k == "best_ask") c.best_ask = v.cast<int64_t>();
    else if (k == "ask_qty") c.ask_qty = v.cast<int64_t>();
    else if (k == "position") c.position = v.cast<int64_t>();
    else if (k == "data_exch_ts") c.data_exch_ts = v.cast<int64_t>();
    else if (k == "cash") c.cash = v.cast<double>();
    else if (k == "ewma_mid") c.ewma_mid = v.cast<double>();
    else if (k == "tick_size") c.tick_size = v.cast<double>();
    else if (k == "lot_size") c.lot_size = v.cast<double>();
    else if (k == "pred_move") c.pred_move = v.cast<double>();
    else if (k == "p_down") c.p_down = v.cast<double>();
    else if (k == "p_flat") c.p_flat = v.cast<double>();
    else if (k == "p_up") c.p_up = v.cast<double>();
    else throw ConfigError("quoter_targets: unknown context field '" + k + "'");
  }
  return c;
}

using I64Array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

std::vector<int64_t> vec(const I64Array& a, const char* what) {
  if (a.ndim() != 1) throw ConfigError(std::string("marked path: ") + what + " must be a 1-d int64 array");
  return std::vector<int64_t>(a.data(), a.data() + a.size());
}

I64Array to_array(const std::vector<int64_t>& v) {
  I64Array out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

}  // namespace

void register_quoters(py::module_& m) {
  const double inf = std::numeric_limits<double>::infinity();

  py::class_<Quoter, Strategy, std::shared_ptr<Quoter>>(
      m, "Quoter", "A built-in quoter: shared rules (inventory limits, never crossed, never through the book).");

  py::class_<SpreadQuoter, Quoter, std::shared_ptr<SpreadQuoter>>(
      m, "SpreadQuoter", "symmetric / skew / pull / skew_pull: fixed half spread around mid + skew*pred_move, "
                         "threatened side pulled beyond pull_threshold.")
      .def(py::init([](double half_spread, int64_t size, int64_t max_position, const std::string& fair, double skew,
                       double pull_threshold) {
             return std::make_shared<SpreadQuoter>(half_spread, size, max_position, parse_fair(fair), skew,
                                                   pull_threshold);
           }),
           py::arg("half_spread") = 1.0, py::arg("size") = 1, py::arg("max_position") = 0, py::arg("fair") = "mid",
           py::arg("skew") = 0.0, py::arg("pull_threshold") = inf)
      .def_property_readonly("half_spread",
                             [](const SpreadQuoter& q) { return 0.5 * static_cast<double>(q.half_spread2()); },
                             "Half spread in ticks, as rounded to the nearest half tick")
      .def_property_readonly("skew", &SpreadQuoter::skew)
      .def_property_readonly("pull_threshold", &SpreadQuoter::pull_threshold);

  py::class_<LeadDefenceQuoter, SpreadQuoter, std::shared_ptr<LeadDefenceQuoter>>(
      m, "LeadDefenceQuoter", "lead_defence: skew_pull on the lead venue's mid move over a window, in quoted ticks.")
      .def(py::init([](int64_t lead_index, int64_t window_ns, double half_spread, int64_t size, int64_t max_position,
                       const std::string& fair, double skew, double pull_threshold) {
             return std::make_shared<LeadDefenceQuoter>(lead_index, window_ns, half_spread, size, max_position,
                                                        parse_fair(fair), skew, pull_threshold);
           }),
           py::arg("lead_index"), py::arg("window_ns"), py::arg("half_spread") = 1.0, py::arg("size") = 1,
           py::arg("max_position") = 0, py::arg("fair") = "mid", py::arg("skew") = 0.0,
           py::arg("pull_threshold") = 1.0)
      .def_property_readonly("lead_index", &LeadDefenceQuoter::lead_index)
      .def_property_readonly("window_ns", &LeadDefenceQuoter::window_ns);

  py::class_<AvellanedaStoikovQuoter, Quoter, std::shared_ptr<AvellanedaStoikovQuoter>>(
      m, "AvellanedaStoikovQuoter", "Avellaneda-Stoikov (2008) reservation price and optimal spread.")
      .def(py::init([](double gamma, double sigma, double k, double horizon, bool session, int64_t size,
                       int64_t max_position, const std::string& fair) {
             return std::make_shared<AvellanedaStoikovQuoter>(gamma, sigma, k, horizon, session, size, max_position,
                                                              parse_fair(fair));
           }),
           py::arg("gamma") = 0.1, py::arg("sigma") = 1.0, py::arg("k") = 1.5, py::arg("horizon") = 1.0,
           py::arg("session") = false, py::arg("size") = 1, py::arg("max_position") = 0, py::arg("fair") = "mid")
      .def_property_readonly("gamma", &AvellanedaStoikovQuoter::gamma)
      .def_property_readonly("sigma", &AvellanedaStoikovQuoter::sigma)
      .def_property_readonly("k", &AvellanedaStoikovQuoter::k)
      .def_property_readonly("horizon", &AvellanedaStoikovQuoter::horizon)
      .def_property_readonly("session", &AvellanedaStoikovQuoter::session);

  py::class_<GlftQuoter, Quoter, std::shared_ptr<GlftQuoter>>(
      m, "GlftQuoter", "Gueant-Lehalle-Fernandez-Tapia (2013) closed-form asymptotic quotes.")
      .def(py::init([](double A, double k, double gamma, double sigma, int64_t size, int64_t max_position,
                       const std::string& fair) {
             return std::make_shared<GlftQuoter>(A, k, gamma, sigma, size, max_position, parse_fair(fair));
           }),
           py::arg("A") = 1.0, py::arg("k") = 1.5, py::arg("gamma") = 0.1, py::arg("sigma") = 1.0,
           py::arg("size") = 1, py::arg("max_position") = 10, py::arg("fair") = "mid")
      .def_property_readonly("A", &GlftQuoter::A)
      .def_property_readonly("k", &GlftQuoter::k)
      .def_property_readonly("gamma", &GlftQuoter::gamma)
      .def_property_readonly("sigma", &GlftQuoter::sigma)
      .def_property_readonly("c1", &GlftQuoter::c1, "(1/gamma) ln(1 + gamma/k), ticks")
      .def_property_readonly("c2", &GlftQuoter::c2, "sigma sqrt(gamma/(2Ak) (1+gamma/k)^(1+k/gamma)), ticks per lot");

  // ---- the clairvoyant bound (cpp/include/mmsim/oracle.hpp): the marked paths and the oracles reading them
  py::class_<MidPathBuilder>(
      m, "MidPathBuilder", "The exchange-side mid path of a run's rows (the oracle's marked path), fed in order.")
      .def(py::init<bool>(), py::arg("repair_crossed") = false)
      .def("feed", [](MidPathBuilder& b, py::array events, bool final) {
             if (events.ndim() != 1 || events.itemsize() != sizeof(EventRecord) ||
                 !(events.flags() & py::array::c_style))
               throw ConfigError("events must be a contiguous 1-d EVENT_DTYPE array");
             b.feed(static_cast<const EventRecord*>(events.data()), static_cast<int64_t>(events.size()), final);
           }, py::arg("events"), py::arg("final"), "The next rows (chunks in order); final: no more follow.")
      .def_property_readonly("ts", [](const MidPathBuilder& b) { return to_array(b.ts()); },
                             "Exchange time of each entry (the end of a timestamp group where the mid changed)")
      .def_property_readonly("mid2", [](const MidPathBuilder& b) { return to_array(b.mid2()); },
                             "Twice the exchange-side mid after that group, integer ticks")
      .def_property_readonly("rows", &MidPathBuilder::rows)
      .def_property_readonly("first_ts", &MidPathBuilder::first_ts)
      .def_property_readonly("end_ts", &MidPathBuilder::end_ts)
      .def_property_readonly("final", &MidPathBuilder::final);

  py::class_<OracleQuoter, SpreadQuoter, std::shared_ptr<OracleQuoter>>(
      m, "OracleQuoter", "oracle: skew_pull on the true move mid_exch(now + horizon) - mid_now read from the "
                         "marked mid path (clairvoyant).")
      .def(py::init([](const I64Array& ts, const I64Array& mid2, int64_t end_ts, int64_t horizon_ns,
                       double half_spread, double threshold, double skew, int64_t size, int64_t max_position,
                       const std::string& fair, const std::string& anchor) {
             if (anchor != "decision" && anchor != "data")
               throw ConfigError("oracle: anchor must be 'decision' or 'data', not '" + anchor + "'");
             return std::make_shared<OracleQuoter>(MarkedPath(vec(ts, "ts"), vec(mid2, "mid2"), end_ts), horizon_ns,
                                                   half_spread, threshold, skew, size, max_position,
                                                   parse_fair(fair), anchor == "data");
           }),
           py::arg("ts"), py::arg("mid2"), py::arg("end_ts"), py::arg("horizon_ns"), py::arg("half_spread") = 1.0,
           py::arg("threshold") = 0.5, py::arg("skew") = 0.0, py::arg("size") = 1, py::arg("max_position") = 0,
           py::arg("fair") = "mid", py::arg("anchor") = "decision")
      .def_property_readonly("horizon_ns", &OracleQuoter::horizon_ns)
      .def_property_readonly("anchor", [](const OracleQuoter& q) { return q.anchor_data() ? "data" : "decision"; },
                             "decision: t = the decision time; data: t = the newest data's exchange time")
      .def_property_readonly("past_end", &OracleQuoter::past_end,
                             "Lookups whose exchange time lay past the data's end (the last mid stood in)");

  py::class_<RegimeOracleQuoter, Quoter, std::shared_ptr<RegimeOracleQuoter>>(
      m, "RegimeOracleQuoter", "oracle_regime: symmetric quotes, pulled or widened while the true regime at "
                               "now + horizon is toxic (clairvoyant).")
      .def(py::init([](const I64Array& ts, const I64Array& regime, int64_t end_ts, int64_t horizon_ns,
                       double half_spread, double widen, int64_t toxic_mask, int64_t size, int64_t max_position,
                       const std::string& fair) {
             return std::make_shared<RegimeOracleQuoter>(MarkedPath(vec(ts, "ts"), vec(regime, "regime"), end_ts),
                                                         horizon_ns, half_spread, widen, toxic_mask, size,
                                                         max_position, parse_fair(fair));
           }),
           py::arg("ts"), py::arg("regime"), py::arg("end_ts"), py::arg("horizon_ns"), py::arg("half_spread") = 1.0,
           py::arg("widen") = 0.0, py::arg("toxic_mask") = 6, py::arg("size") = 1, py::arg("max_position") = 0,
           py::arg("fair") = "mid")
      .def_property_readonly("horizon_ns", &RegimeOracleQuoter::horizon_ns)
      .def_property_readonly("half_spread", &RegimeOracleQuoter::half_spread)
      .def_property_readonly("widen", &RegimeOracleQuoter::widen)
      .def_property_readonly("toxic_mask", &RegimeOracleQuoter::toxic_mask)
      .def_property_readonly("past_end", &RegimeOracleQuoter::past_end,
                             "Lookups whose exchange time lay past the data's end (the last regime stood in)");

  m.def("quoter_targets", [](Quoter& q, const py::dict& ctx) {
    Context c = context_from(ctx);
    Targets t;
    if (q.on_wakeup(c, t) != 0) throw StrategyError(q.error_message());
    return py::make_tuple(t.has, t.bid_price, t.bid_qty, t.ask_price, t.ask_qty);
  }, py::arg("strategy"), py::arg("ctx"),
     "Test hook: call a built-in quoter on a context given as a dict of Context fields (prices in ticks); "
     "returns (has, bid_price, bid_qty, ask_price, ask_qty).");
}
