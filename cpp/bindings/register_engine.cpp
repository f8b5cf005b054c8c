// Bindings of the engine, the strategies and the record layouts. Python strategies are adapted here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>

#include "mmsim/engine.hpp"
#include "mmsim/features.h"

namespace py = pybind11;
using namespace mmsim;

namespace {

// The venue a strategy names by `key` (a name, or an index 0..n_venues-1); -1 when there is none.
int64_t find_venue(const Context& c, const py::handle& key) {
  if (py::isinstance<py::str>(key)) {
    const std::string name = key.cast<std::string>();
    for (int64_t v = 0; v < c.n_venues; ++v)
      if (c.engine->venue_name(v) == name) return v;
    return -1;
  }
  if (PyBool_Check(key.ptr()) || !PyIndex_Check(key.ptr())) return -1;
  const int64_t v = py::reinterpret_borrow<py::object>(key).attr("__index__")().cast<int64_t>();
  return v >= 0 && v < c.n_venues ? v : -1;
}

// "WHAT: unknown venue KEY; known: 'a', 'b' (or an index 0..N-1)", the wording of ctx.venue.
std::string unknown_venue(const Context& c, const char* what, const py::handle& key) {
  std::string known;
  for (int64_t v = 0; v < c.n_venues; ++v) known += (v ? ", '" : "'") + c.engine->venue_name(v) + "'";
  return std::string(what) + ": unknown venue " + std::string(py::repr(key)) + "; known: " + known +
         " (or an index 0.." + std::to_string(c.n_venues - 1) + ")";
}

int64_t venue_or_throw(const Context& c, const char* what, const py::handle& key) {
  const int64_t v = find_venue(c, key);
  if (v < 0) throw StrategyError(unknown_venue(c, what, key));
  return v;
}

// A strategy written as a Python class: on_wakeup(ctx) -> Quotes | None | {venue: Quotes | None}.
class PyStrategy final : public Strategy {
 public:
  explicit PyStrategy(py::object obj)
      : obj_(std::move(obj)), clairvoyant_(py::bool_(py::getattr(obj_, "clairvoyant", py::bool_(false)))) {}
  // A Python object declares itself clairvoyant with a true `clairvoyant` attribute (the oracles' twins do);
  // the reference engine reads the same attribute.
  bool clairvoyant() const override { return clairvoyant_; }
  int on_wakeup(Context& ctx, Targets& out) override {
    py::gil_scoped_acquire gil;
    try {
      if (!ctx_obj_) ctx_obj_ = py::cast(&ctx, py::return_value_policy::reference);
      py::object res = obj_.attr("on_wakeup")(ctx_obj_);
      if (!py::isinstance<py::dict>(res)) return targets(res, out);
      // {venue name or index: Quotes | None}: venue 0's go to `out`, the others' to ctx.venue_targets.
      for (auto item : py::reinterpret_borrow<py::dict>(res)) {
        const int64_t v = find_venue(ctx, item.first);
        if (v < 0) {
          message_ = unknown_venue(ctx, "on_wakeup", item.first);
          return 1;
        }
        const std::string where = v == 0 ? "" : "venue " + std::to_string(v) + " '" + ctx.engine->venue_name(v) + "': ";
        if (targets(py::reinterpret_borrow<py::object>(item.second), v == 0 ? out : ctx.venue_targets[v], where) != 0)
          return 1;
      }
      return 0;
    } catch (py::error_already_set& e) {
      message_ = std::string(py::str(e.type().attr("__name__"))) + ": " + std::string(py::str(e.value()));
      return 1;
    } catch (py::cast_error& e) {
      message_ = std::string("target quotes must be integers (ticks, lots): ") + e.what();
      return 1;
    }
  }
  std::string error_message() const override { return message_; }

 private:
  // One venue's targets from Quotes (a 4-tuple) or None; `where` names a venue k >= 1 in the messages.
  int targets(const py::object& res, Targets& out, const std::string& where = "") {
    if (res.is_none()) {
      out.has = false;
      return 0;
    }
    if (!py::isinstance<py::tuple>(res) || py::len(res) != 4) {
      message_ = where + "on_wakeup must return Quotes(bid_price, bid_qty, ask_price, ask_qty) or None, got " +
                 std::string(py::str(py::type::of(res).attr("__name__")));
      return 1;
    }
    py::tuple q = res.cast<py::tuple>();
    try {
      out.bid_price = q[0].cast<int64_t>();
      out.bid_qty = q[1].cast<int64_t>();
      out.ask_price = q[2].cast<int64_t>();
      out.ask_qty = q[3].cast<int64_t>();
    } catch (py::cast_error& e) {
      message_ = where + "target quotes must be integers (ticks, lots): " + e.what();
      return 1;
    }
    out.has = true;
    return 0;
  }

  py::object obj_;
  bool clairvoyant_;
  py::object ctx_obj_;
  std::string message_;
};

Tif parse_tif(const std::string& s) {
  if (s == "gtc") return GTC;
  if (s == "post_only") return POST_ONLY;
  if (s == "ioc") return IOC;
  throw StrategyError("submit: tif must be 'gtc', 'post_only' or 'ioc', not '" + s + "'");
}

std::vector<int64_t> to_vec(const py::handle& h) {
  auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a) throw ConfigError("latency tables must be int64 arrays");
  return std::vector<int64_t>(a.data(), a.data() + a.size());
}

template <class T>
T get(const py::dict& d, const char* key, T fallback) {
  return d.contains(key) ? d[key].cast<T>() : fallback;
}

// Feature specs as an (n, 4) int64 array: kind, level, horizon_ns, window (mmsim.signals.features.spec_matrix).
std::vector<MmsimFeatureSpec> feature_specs(const py::handle& h) {
  auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a || a.ndim() != 2 || a.shape(1) != 4) throw ConfigError("features must be an (n, 4) int64 spec matrix");
  std::vector<MmsimFeatureSpec> out(static_cast<size_t>(a.shape(0)));
  for (py::ssize_t i = 0; i < a.shape(0); ++i)
    out[i] = MmsimFeatureSpec{static_cast<int32_t>(a.at(i, 0)), static_cast<int32_t>(a.at(i, 1)), a.at(i, 2), a.at(i, 3)};
  return out;
}

EngineConfig parse_config(const py::dict& d) {
  EngineConfig c;
  const std::string mode = get<std::string>(d, "mode", "l2");
  if (mode != "l2" && mode != "l3") throw ConfigError("mode must be 'l2' or 'l3', not '" + mode + "'");
  c.l3 = mode == "l3";
  const std::string qm = get<std::string>(d, "queue_model", "risk_averse");
  if (qm == "risk_averse") c.queue_model = QueueModel::RiskAverse;
  else if (qm == "power") c.queue_model = QueueModel::Power;
  else if (qm == "log") c.queue_model = QueueModel::Log;
  else throw ConfigError("queue_model must be risk_averse, power or log, not '" + qm + "'");
  c.queue_power = get<double>(d, "queue_power", 2.0);
  c.maker_fee_bps = get<double>(d, "maker_fee_bps", 0.0);
  c.taker_fee_bps = get<double>(d, "taker_fee_bps", 0.0);
  c.tick_size = get<double>(d, "tick_size", 1.0);
  c.lot_size = get<double>(d, "lot_size", 1.0);
  c.wake_on_feed = get<bool>(d, "wake_on_feed", true);
  c.wake_on_response = get<bool>(d, "wake_on_response", true);
  c.timer_interval_ns = get<int64_t>(d, "timer_interval_ns", 0);
  c.post_only = get<bool>(d, "post_only", false);
  const std::string cp = get<std::string>(d, "crossed_policy", "error");
  if (cp != "error" && cp != "repair") throw ConfigError("crossed_policy must be 'error' or 'repair', not '" + cp + "'");
  c.repair_crossed = cp == "repair";
  c.ewma_tau_ns = get<int64_t>(d, "ewma_tau_ns", 1'000'000'000);
  const std::string cs = get<std::string>(d, "compute_source", get<bool>(d, "compute_measured", false) ? "strategy" : "table");
  if (cs == "table") c.compute_source = ComputeSource::Table;
  else if (cs == "strategy") c.compute_source = ComputeSource::MeasuredStrategy;
  else if (cs == "model") c.compute_source = ComputeSource::MeasuredModel;
  else throw ConfigError("compute_source must be table, strategy or model, not '" + cs + "'");
  c.compute_factor = get<double>(d, "compute_factor", 1.0);
  if (d.contains("model") && !d["model"].is_none()) {
    try {
      c.model = d["model"].cast<std::shared_ptr<Model>>();
    } catch (const py::cast_error&) {
      throw ConfigError("model must be a mmsim._core.Model (see mmsim.signals.models.load_model)");
    }
  }
  c.strategy_name = get<std::string>(d, "strategy_name", "strategy");
  if (d.contains("features") && !d["features"].is_none()) c.features = feature_specs(d["features"]);
  if (d.contains("model_inputs") && !d["model_inputs"].is_none())
    for (const py::handle& pair : d["model_inputs"]) {
      const py::tuple t = py::reinterpret_borrow<py::object>(pair).cast<py::tuple>();
      if (t.size() != 2) throw ConfigError("model_inputs must be (venue, feature index) pairs");
      c.model_inputs.emplace_back(t[0].cast<int32_t>(), t[1].cast<int32_t>());
    }
  if (d.contains("name") && !d["name"].is_none()) c.name = d["name"].cast<std::string>();
  if (d.contains("signals") && !d["signals"].is_none()) {
    if (!py::isinstance<py::sequence>(d["signals"]) || py::isinstance<py::str>(d["signals"]))
      throw ConfigError("config['signals'] must be a list of dicts, one per signal venue");
    size_t k = 0;
    for (py::handle h : d["signals"]) {
      const std::string where = "config['signals'][" + std::to_string(k++) + "]";  // k: now the venue index
      if (!py::isinstance<py::dict>(h)) throw ConfigError(where + " must be a dict");
      py::dict sd = py::reinterpret_borrow<py::dict>(h);
      static const char* const kQuotedOnly[] = {"queue_model", "queue_power", "maker_fee_bps", "taker_fee_bps",
                                                "post_only", "latencies"};
      for (auto item : sd) {
        const std::string key = py::str(item.first);
        bool known = key == "name" || key == "mode" || key == "tick_size" || key == "lot_size" ||
                     key == "crossed_policy" || key == "features" || key == "quoted";
        for (const char* q : kQuotedOnly) known = known || key == q;
        if (!known)
          throw ConfigError(where + ": unknown key '" + key + "' (known: name, mode, tick_size, lot_size, "
                            "crossed_policy, features, quoted, queue_model, queue_power, maker_fee_bps, "
                            "taker_fee_bps, post_only, latencies)");
      }
      if (!sd.contains("name")) throw ConfigError(where + " needs a 'name'");
      SignalConfig sc;
      sc.name = sd["name"].cast<std::string>();
      const std::string where_n = "signal '" + sc.name + "'";
      // A quoted venue's own settings (docs/event-loop.md "Quoted venues"); given on a read-only venue: an error.
      const std::string where_k = "signal " + std::to_string(k) + " '" + sc.name + "'";
      auto given = [&](const char* key) { return sd.contains(key) && !sd[key].is_none(); };
      sc.quoted = given("quoted") && get<bool>(sd, "quoted", false);
      if (!sc.quoted)
        for (const char* q : kQuotedOnly)
          if (given(q)) throw ConfigError(where_k + ": " + q + " applies to a quoted venue only");
      if (given("queue_model")) {
        const std::string vqm = py::str(sd["queue_model"]);
        if (vqm == "risk_averse") sc.queue_model = QueueModel::RiskAverse;
        else if (vqm == "power") sc.queue_model = QueueModel::Power;
        else if (vqm == "log") sc.queue_model = QueueModel::Log;
        else throw ConfigError(where_k + ": queue_model must be risk_averse, power or log, not '" + vqm + "'");
      }
      auto number = [&](const char* key) {
        double x;
        try {
          x = sd[key].cast<double>();
        } catch (const py::cast_error&) {
          throw ConfigError(where_k + ": " + key + " must be a number, not " + std::string(py::repr(sd[key])));
        }
        if (!std::isfinite(x)) throw ConfigError(where_k + ": " + key + " must be finite");
        return x;
      };
      if (given("queue_power")) sc.queue_power = number("queue_power");
      if (given("maker_fee_bps")) sc.maker_fee_bps = number("maker_fee_bps");
      if (given("taker_fee_bps")) sc.taker_fee_bps = number("taker_fee_bps");
      if (given("post_only")) sc.post_only = get<bool>(sd, "post_only", false);
      if (given("latencies")) {
        if (!py::isinstance<py::dict>(sd["latencies"]))
          throw ConfigError(where_k + ": latencies must be a dict of int64 arrays (entry, cancel, response)");
        py::dict ld = sd["latencies"].cast<py::dict>();
        for (auto item : ld) {
          const std::string leg = py::str(item.first);
          if (leg != "entry" && leg != "cancel" && leg != "response")
            throw ConfigError(where_k + ": latencies: unknown leg '" + leg + "' (known: entry, cancel, response)");
          std::vector<int64_t> table;
          try {
            table = to_vec(item.second);
          } catch (const ConfigError&) {
            throw ConfigError(where_k + ": latency table '" + leg + "' must be an int64 array");
          }
          if (table.empty()) throw ConfigError(where_k + ": latency table '" + leg + "' is empty");
          for (int64_t x : table)
            if (x < 0) throw ConfigError(where_k + ": latency table '" + leg + "' has a negative latency");
          (leg == "entry" ? sc.entry : leg == "cancel" ? sc.cancel : sc.response) = std::move(table);
        }
      }
      const std::string smode = get<std::string>(sd, "mode", "l2");
      if (smode != "l2" && smode != "l3") throw ConfigError(where_n + ": mode must be 'l2' or 'l3', not '" + smode + "'");
      sc.l3 = smode == "l3";
      sc.tick_size = get<double>(sd, "tick_size", 1.0);
      sc.lot_size = get<double>(sd, "lot_size", 1.0);
      const std::string scp = get<std::string>(sd, "crossed_policy", "error");
      if (scp != "error" && scp != "repair")
        throw ConfigError(where_n + ": crossed_policy must be 'error' or 'repair', not '" + scp + "'");
      sc.repair_crossed = scp == "repair";
      if (sd.contains("features") && !sd["features"].is_none()) {
        try {
          sc.features = feature_specs(sd["features"]);
        } catch (const ConfigError& e) {
          throw ConfigError(where_n + ": " + e.what());
        }
      }
      c.signals.push_back(std::move(sc));
    }
  }
  return c;
}

// ctx.venue(key): one venue as the strategy sees it at this wakeup (a live view of the Context).
struct PyVenue {
  const Context* ctx;
  int64_t index;
  const VenueView& view() const { return ctx->venues[index]; }
};

// Owns everything the C++ engine points at: the numpy arrays and the strategy.
class PyEngine {
 public:
  PyEngine(py::array events, py::array arrival, py::dict latencies, py::dict config, py::object strategy,
           bool final, py::object signals) {
    check_rows(events, arrival);
    std::vector<SignalRows> rows;
    if (!signals.is_none()) {
      size_t k = 0;
      for (py::handle h : signals) {
        const std::string where = "signals[" + std::to_string(k++) + "]";
        if (!py::isinstance<py::sequence>(h) || py::len(h) != 2)
          throw ConfigError(where + " must be an (events, arrival) pair");
        py::sequence pair = py::reinterpret_borrow<py::sequence>(h);
        py::object ev_obj = pair[0], arr_obj = pair[1];
        if (!py::isinstance<py::array>(ev_obj))
          throw ConfigError(where + ": events must be a contiguous 1-d EVENT_DTYPE array");
        py::array ev = ev_obj.cast<py::array>();
        auto arr = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(arr_obj);
        if (!arr) throw ConfigError(where + ": arrival must be an int64 array with one entry per event");
        try {
          check_rows(ev, arr);
        } catch (const ConfigError& e) {
          throw ConfigError(where + ": " + e.what());
        }
        rows.push_back(SignalRows{static_cast<const EventRecord*>(ev.data()), arr.data(),
                                  static_cast<int64_t>(ev.size())});
        signal_arrays_.push_back(ev);
        signal_arrays_.push_back(arr);
      }
    }
    events_ = events;
    arrival_ = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(arrival);
    LatencyTables lat;
    for (const char* leg : {"entry", "cancel", "response", "compute"})
      if (!latencies.contains(leg)) throw ConfigError(std::string("latencies needs '") + leg + "'");
    lat.entry = to_vec(latencies["entry"]);
    lat.cancel = to_vec(latencies["cancel"]);
    lat.response = to_vec(latencies["response"]);
    lat.compute = to_vec(latencies["compute"]);
    strategy_obj_ = strategy;
    Strategy* s;
    if (py::isinstance<Strategy>(strategy)) {
      s = strategy.cast<Strategy*>();
    } else {
      if (!py::hasattr(strategy, "on_wakeup")) throw ConfigError("strategy has no on_wakeup(ctx) method");
      py_strategy_ = std::make_unique<PyStrategy>(strategy);
      s = py_strategy_.get();
    }
    engine_ = std::make_unique<Engine>(static_cast<const EventRecord*>(events_.data()), arrival_.data(),
                                       static_cast<int64_t>(events_.size()), std::move(lat), parse_config(config), s,
                                       final, std::move(rows));
  }

  static void check_rows(const py::array& events, const py::array& arrival) {
    if (events.ndim() != 1 || events.itemsize() != sizeof(EventRecord) || !(events.flags() & py::array::c_style))
      throw ConfigError("events must be a contiguous 1-d EVENT_DTYPE array");
    if (arrival.ndim() != 1 || arrival.size() != events.size())
      throw ConfigError("arrival must be an int64 array with one entry per event");
  }

  void append(py::array events, py::array arrival, bool final) {
    check_rows(events, arrival);
    auto arr = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(arrival);
    engine_->append(static_cast<const EventRecord*>(events.data()), arr.data(), static_cast<int64_t>(events.size()),
                    final);  // copies what it keeps
  }

  bool step(int64_t n_rows) {
    py::gil_scoped_release release;  // a Python strategy takes the GIL back for its own call
    return engine_->step(n_rows);
  }

  template <class Rec>
  static py::array records(const std::vector<Rec>& v, const char* dtype_name) {
    auto dtype = py::reinterpret_borrow<py::dtype>(py::module_::import("mmsim.records").attr(dtype_name));
    py::array out(dtype, std::vector<py::ssize_t>{static_cast<py::ssize_t>(v.size())});
    if (!v.empty()) std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(Rec));
    return out;
  }

  Engine& engine() { return *engine_; }

 private:
  py::array events_;
  py::array_t<int64_t> arrival_;
  std::vector<py::array> signal_arrays_;  // the signal venues' rows and arrivals, held whole
  py::object strategy_obj_;
  std::unique_ptr<PyStrategy> py_strategy_;
  std::unique_ptr<Engine> engine_;
};

template <class Rec>
py::dict layout_of(std::initializer_list<std::pair<const char*, size_t>> fields) {
  py::dict d;
  d["itemsize"] = sizeof(Rec);
  for (auto& f : fields) d[f.first] = f.second;
  return d;
}

}  // namespace

void register_engine(py::module_& m) {
  // C++ errors become the Python classes users catch (mmsim.errors), imported lazily.
  py::register_exception_translator([](std::exception_ptr p) {
    auto raise = [](const char* cls, const char* what) {
      py::object c = py::module_::import("mmsim.errors").attr(cls);
      PyErr_SetString(c.ptr(), what);
    };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const DataError& e) { raise("DataError", e.what());
    } catch (const ConfigError& e) { raise("ConfigError", e.what());
    } catch (const StrategyError& e) { raise("StrategyError", e.what()); }
  });

  py::class_<Strategy, std::shared_ptr<Strategy>>(m, "Strategy", "A native strategy handle.")
      .def_property_readonly("clairvoyant", &Strategy::clairvoyant,
                             "True for a built-in oracle: it reads the future through a marked path");
  py::class_<SymmetricQuoter, Strategy, std::shared_ptr<SymmetricQuoter>>(
      m, "SymmetricQuoter", "Native fixed-spread symmetric quoter (half_spread2 = 2*h in ticks).")
      .def(py::init<int64_t, int64_t>(), py::arg("half_spread2"), py::arg("size"));
  py::class_<CfuncStrategy, Strategy, std::shared_ptr<CfuncStrategy>>(
      m, "CfuncStrategy", "A numba cfunc rule called through its address (see mmsim.engine.numba_strategy).")
      .def(py::init<uintptr_t, std::vector<double>>(), py::arg("address"), py::arg("params"));

  py::class_<Context>(m, "Context", "Strategy-side view at a wakeup (read-only) and the low-level order API.")
      .def_readonly("now", &Context::now)
      .def_readonly("reason", &Context::reason)
      .def_readonly("best_bid", &Context::best_bid)
      .def_readonly("bid_qty", &Context::bid_qty)
      .def_readonly("best_ask", &Context::best_ask)
      .def_readonly("ask_qty", &Context::ask_qty)
      .def_readonly("position", &Context::position)
      .def_readonly("cash", &Context::cash)
      .def_readonly("ewma_mid", &Context::ewma_mid)
      .def_readonly("data_exch_ts", &Context::data_exch_ts)
      .def_readonly("data_arrival_ts", &Context::data_arrival_ts)
      .def_readonly("data_rows", &Context::data_rows)
      .def_readonly("tick_size", &Context::tick_size)
      .def_readonly("lot_size", &Context::lot_size)
      .def_readonly("pred_move", &Context::pred_move, "Predicted mid move over the model's horizon (ticks)")
      .def_readonly("p_down", &Context::p_down)
      .def_readonly("p_flat", &Context::p_flat)
      .def_readonly("p_up", &Context::p_up)
      .def_property_readonly("prediction", [](const Context& c) {
        py::array_t<double> out(c.n_prediction);
        std::copy(c.prediction, c.prediction + c.n_prediction, out.mutable_data());
        out.attr("setflags")(py::arg("write") = false);
        return out;
      }, "All model outputs at this wakeup, in the model's order (empty without a model).")
      .def_property_readonly("features", [](const Context& c) {
        // a copy: the engine overwrites its buffer at the next wakeup
        py::array_t<double> out(c.n_features);
        std::copy(c.features, c.features + c.n_features, out.mutable_data());
        out.attr("setflags")(py::arg("write") = false);  // a view to read, not to change
        return out;
      }, "Feature bank values as of now (spec order), a float64 array; empty without a bank.")
      .def("depth", [](const Context& c, int side, int level) {
        int64_t p = 0, q = 0;
        if (!c.depth(side, level, p, q)) p = q = 0;
        return py::make_tuple(p, q);
      }, py::arg("side"), py::arg("level"))
      .def_readonly("n_venues", &Context::n_venues, "1 + the number of signal venues")
      .def_property_readonly("venue_names", [](const Context& c) {
        py::tuple out(c.n_venues);
        for (int64_t v = 0; v < c.n_venues; ++v) out[v] = py::str(c.engine->venue_name(v));
        return out;
      }, "Every venue's name, the quoted instrument first, then the signal venues in order.")
      .def("venue", [](const Context& c, py::object key) {
        int64_t index = -1;
        if (py::isinstance<py::str>(key)) {
          const std::string name = key.cast<std::string>();
          for (int64_t v = 0; v < c.n_venues; ++v)
            if (c.engine->venue_name(v) == name) index = v;
        } else if (py::isinstance<py::int_>(key)) {
          const int64_t v = key.cast<int64_t>();
          if (v >= 0 && v < c.n_venues) index = v;
        }
        if (index < 0) {
          std::string known;
          for (int64_t v = 0; v < c.n_venues; ++v)
            known += (v ? ", '" : "'") + c.engine->venue_name(v) + "'";
          throw StrategyError("ctx.venue: unknown venue " + std::string(py::repr(key)) + "; known: " + known +
                              " (or an index 0.." + std::to_string(c.n_venues - 1) + ")");
        }
        return PyVenue{&c, index};
      }, py::arg("key"), py::keep_alive<0, 1>(),
         "One venue by name or index (0 = the quoted instrument): its delayed book top, data seen, features.")
      .def("open_orders", [](const Context& c, py::object venue) {
        py::list out;
        const int v = static_cast<int>(venue_or_throw(c, "open_orders", venue));
        for (auto& o : c.open_orders(v)) out.append(py::make_tuple(o.order_id, o.side, o.price, o.qty, o.leaves));
        return out;
      }, py::arg("venue") = 0,
         "Working orders of one venue (name or index; 0 = the primary): (order_id, side, price, qty, leaves).")
      .def("submit", [](Context& c, int side, int64_t price, int64_t qty, const std::string& tif, py::object venue) {
        const int v = static_cast<int>(venue_or_throw(c, "submit", venue));
        return c.submit_to(v, side, price, qty, parse_tif(tif));
      }, py::arg("side"), py::arg("price"), py::arg("qty"), py::arg("tif") = "gtc", py::arg("venue") = 0,
         "A new order to a quoted venue (name or index; 0 = the primary); returns its id (ids are global).")
      .def("cancel", &Context::cancel, py::arg("order_id"))
      .def("modify", &Context::modify, py::arg("order_id"), py::arg("qty"));

  py::class_<PyVenue>(m, "Venue", "One venue as the strategy sees it at this wakeup (ctx.venue(key)).")
      .def_property_readonly("name", [](const PyVenue& v) { return v.ctx->engine->venue_name(v.index); })
      .def_property_readonly("index", [](const PyVenue& v) { return v.index; }, "0 = the quoted instrument")
      .def_property_readonly("best_bid", [](const PyVenue& v) { return v.view().best_bid; })
      .def_property_readonly("bid_qty", [](const PyVenue& v) { return v.view().bid_qty; })
      .def_property_readonly("best_ask", [](const PyVenue& v) { return v.view().best_ask; })
      .def_property_readonly("ask_qty", [](const PyVenue& v) { return v.view().ask_qty; })
      .def_property_readonly("mid", [](const PyVenue& v) -> py::object {
        const VenueView& w = v.view();
        if (w.bid_qty == 0 || w.ask_qty == 0) return py::none();
        return py::float_(static_cast<double>(w.best_bid + w.best_ask) / 2.0);
      }, "(best_bid + best_ask) / 2 in ticks; None when a side is empty")
      .def_property_readonly("data_exch_ts", [](const PyVenue& v) { return v.view().data_exch_ts; })
      .def_property_readonly("data_arrival_ts", [](const PyVenue& v) { return v.view().data_arrival_ts; })
      .def_property_readonly("data_rows", [](const PyVenue& v) { return v.view().data_rows; })
      .def_property_readonly("tick_size", [](const PyVenue& v) { return v.view().tick_size; })
      .def_property_readonly("lot_size", [](const PyVenue& v) { return v.view().lot_size; })
      .def_property_readonly("position", [](const PyVenue& v) { return v.view().position; },
                             "Known position at this venue (lots, from its responses); 0 for a read-only venue")
      .def_property_readonly("cash", [](const PyVenue& v) { return v.view().cash; },
                             "Known cash at this venue (quote currency, fees deducted); 0 for a read-only venue")
      .def_property_readonly("quoted", [](const PyVenue& v) { return v.view().quoted; },
                             "True for venue 0 and every venue marked quoted")
      .def_property_readonly("features", [](const PyVenue& v) {
        const VenueView& w = v.view();
        py::array_t<double> out(w.n_features);
        std::copy(w.features, w.features + w.n_features, out.mutable_data());
        out.attr("setflags")(py::arg("write") = false);
        return out;
      }, "This venue's feature bank values as of now (spec order); empty without a bank.")
      .def("depth", [](const PyVenue& v, int side, int level) {
        int64_t p = 0, q = 0;
        if (!v.ctx->venue_depth(static_cast<int>(v.index), side, level, p, q)) p = q = 0;
        return py::make_tuple(p, q);
      }, py::arg("side"), py::arg("level"));

  py::class_<PyEngine>(m, "Engine", "The C++ event loop (see mmsim.engine.sim for the arguments).")
      .def(py::init<py::array, py::array, py::dict, py::dict, py::object, bool, py::object>(), py::arg("events"),
           py::arg("arrival"), py::arg("latencies"), py::arg("config"), py::arg("strategy"), py::arg("final") = true,
           py::arg("signals") = py::none())
      .def("step", &PyEngine::step, py::arg("n_rows"))
      .def("append", &PyEngine::append, py::arg("events"), py::arg("arrival"), py::arg("final"),
           "Stream the next chunk of rows (copied); `final` when no more follow.")
      .def("needs_data", [](PyEngine& e) { return e.engine().needs_data(); })
      .def("rows_held", [](PyEngine& e) { return e.engine().rows_held(); })
      .def("rows_delivered", [](PyEngine& e) { return e.engine().rows_delivered(); })
      .def("fills", [](PyEngine& e) { return PyEngine::records(e.engine().fills(), "FILL_DTYPE"); })
      .def("orders", [](PyEngine& e) { return PyEngine::records(e.engine().orders(), "ORDER_DTYPE"); })
      .def("decisions", [](PyEngine& e) { return PyEngine::records(e.engine().decisions(), "DECISION_DTYPE"); })
      .def("signal_data", [](PyEngine& e) { return PyEngine::records(e.engine().signal_data(), "SIGNAL_DATA_DTYPE"); },
           "What each decision had seen of each signal venue (decision then venue order); empty without signals.")
      .def("quotes", [](PyEngine& e) { return PyEngine::records(e.engine().quotes(), "QUOTE_DTYPE"); },
           "Each decision's targets and actions per quoted venue k >= 1 (decision then venue order); empty without.")
      .def("summary", [](PyEngine& e) {
        const Summary s = e.engine().summary();
        py::dict d;
        d["n_events"] = s.n_events; d["n_fills"] = s.n_fills; d["volume"] = s.volume;
        d["position"] = s.position; d["cash_ticklots"] = s.cash_ticklots; d["fees"] = s.fees;
        d["final_mid"] = s.final_mid; d["pnl"] = s.pnl; d["n_orders"] = s.n_orders;
        d["n_decisions"] = s.n_decisions; d["repaired_crossed_levels"] = s.repaired_crossed_levels;
        if (e.engine().n_venues() > 1) {  // absent without signals: single-venue summaries stay as they were
          py::list rows;
          for (int64_t k = 1; k < e.engine().n_venues(); ++k) rows.append(e.engine().signal_rows(k));
          d["signal_rows"] = rows;
        }
        if (!s.quoted.empty()) {  // absent without quoted venues k >= 1
          py::list rows;
          for (const Summary& q : s.quoted) {
            py::dict r;
            r["venue"] = q.venue; r["name"] = e.engine().venue_name(q.venue);
            r["n_events"] = q.n_events; r["n_fills"] = q.n_fills; r["volume"] = q.volume;
            r["position"] = q.position; r["cash_ticklots"] = q.cash_ticklots; r["fees"] = q.fees;
            r["final_mid"] = q.final_mid; r["pnl"] = q.pnl; r["n_orders"] = q.n_orders;
            r["repaired_crossed_levels"] = q.repaired_crossed_levels;
            rows.append(r);
          }
          d["quoted"] = rows;
        }
        return d;
      });

  m.def("record_layouts", []() {
    py::dict d;
    d["EVENT_DTYPE"] = layout_of<EventRecord>({{"exch_ts", offsetof(EventRecord, exch_ts)},
        {"recv_ts", offsetof(EventRecord, recv_ts)}, {"price", offsetof(EventRecord, price)},
        {"qty", offsetof(EventRecord, qty)}, {"order_id", offsetof(EventRecord, order_id)},
        {"kind", offsetof(EventRecord, kind)}, {"side", offsetof(EventRecord, side)},
        {"flags", offsetof(EventRecord, flags)}});
    d["FILL_DTYPE"] = layout_of<FillRecord>({{"fill_id", offsetof(FillRecord, fill_id)},
        {"order_id", offsetof(FillRecord, order_id)}, {"exch_ts", offsetof(FillRecord, exch_ts)},
        {"recv_ts", offsetof(FillRecord, recv_ts)}, {"price", offsetof(FillRecord, price)},
        {"qty", offsetof(FillRecord, qty)}, {"position", offsetof(FillRecord, position)},
        {"data_row", offsetof(FillRecord, data_row)}, {"fee", offsetof(FillRecord, fee)},
        {"side", offsetof(FillRecord, side)}, {"maker", offsetof(FillRecord, maker)},
        {"cause", offsetof(FillRecord, cause)}, {"venue", offsetof(FillRecord, venue)}});
    d["ORDER_DTYPE"] = layout_of<OrderRecord>({{"order_id", offsetof(OrderRecord, order_id)},
        {"decision_id", offsetof(OrderRecord, decision_id)}, {"price", offsetof(OrderRecord, price)},
        {"qty", offsetof(OrderRecord, qty)}, {"filled", offsetof(OrderRecord, filled)},
        {"sent_ts", offsetof(OrderRecord, sent_ts)}, {"exch_ts", offsetof(OrderRecord, exch_ts)},
        {"done_ts", offsetof(OrderRecord, done_ts)}, {"side", offsetof(OrderRecord, side)},
        {"tif", offsetof(OrderRecord, tif)}, {"status", offsetof(OrderRecord, status)},
        {"venue", offsetof(OrderRecord, venue)}});
    d["DECISION_DTYPE"] = layout_of<DecisionRecord>({{"decision_id", offsetof(DecisionRecord, decision_id)},
        {"ts", offsetof(DecisionRecord, ts)}, {"wire_ts", offsetof(DecisionRecord, wire_ts)},
        {"data_exch_ts", offsetof(DecisionRecord, data_exch_ts)},
        {"data_arrival_ts", offsetof(DecisionRecord, data_arrival_ts)},
        {"data_rows", offsetof(DecisionRecord, data_rows)}, {"position", offsetof(DecisionRecord, position)},
        {"bid_price", offsetof(DecisionRecord, bid_price)}, {"bid_qty", offsetof(DecisionRecord, bid_qty)},
        {"ask_price", offsetof(DecisionRecord, ask_price)}, {"ask_qty", offsetof(DecisionRecord, ask_qty)},
        {"n_new", offsetof(DecisionRecord, n_new)}, {"n_cancel", offsetof(DecisionRecord, n_cancel)},
        {"n_modify", offsetof(DecisionRecord, n_modify)}, {"reason", offsetof(DecisionRecord, reason)},
        {"flags", offsetof(DecisionRecord, flags)}});
    d["SIGNAL_DATA_DTYPE"] = layout_of<SignalDataRecord>({{"decision_id", offsetof(SignalDataRecord, decision_id)},
        {"venue", offsetof(SignalDataRecord, venue)}, {"data_exch_ts", offsetof(SignalDataRecord, data_exch_ts)},
        {"data_arrival_ts", offsetof(SignalDataRecord, data_arrival_ts)},
        {"data_rows", offsetof(SignalDataRecord, data_rows)}});
    d["QUOTE_DTYPE"] = layout_of<QuoteRecord>({{"decision_id", offsetof(QuoteRecord, decision_id)},
        {"venue", offsetof(QuoteRecord, venue)}, {"position", offsetof(QuoteRecord, position)},
        {"bid_price", offsetof(QuoteRecord, bid_price)}, {"bid_qty", offsetof(QuoteRecord, bid_qty)},
        {"ask_price", offsetof(QuoteRecord, ask_price)}, {"ask_qty", offsetof(QuoteRecord, ask_qty)},
        {"n_new", offsetof(QuoteRecord, n_new)}, {"n_cancel", offsetof(QuoteRecord, n_cancel)},
        {"n_modify", offsetof(QuoteRecord, n_modify)}});
    return d;
  }, "Byte offsets of every record field as compiled, to check against the numpy dtypes.");

  m.def("context_layout", []() {
    py::dict d;
    d["CI_NOW"] = int(CI_NOW); d["CI_REASON"] = int(CI_REASON); d["CI_BEST_BID"] = int(CI_BEST_BID);
    d["CI_BID_QTY"] = int(CI_BID_QTY); d["CI_BEST_ASK"] = int(CI_BEST_ASK); d["CI_ASK_QTY"] = int(CI_ASK_QTY);
    d["CI_POSITION"] = int(CI_POSITION); d["CI_DATA_EXCH_TS"] = int(CI_DATA_EXCH_TS);
    d["CI_DATA_ARRIVAL_TS"] = int(CI_DATA_ARRIVAL_TS); d["CI_DATA_ROWS"] = int(CI_DATA_ROWS);
    d["CI_N_FEATURES"] = int(CI_N_FEATURES);
    d["CI_DEPTH0"] = int(CI_DEPTH0); d["CI_LEVELS"] = int(CI_LEVELS); d["CI_SIZE"] = int(CI_SIZE);
    d["CI_N_VENUES"] = int(CI_N_VENUES); d["CI_VENUE_BLOCK"] = int(CI_VENUE_BLOCK);
    d["CV_BEST_BID"] = int(CV_BEST_BID); d["CV_BID_QTY"] = int(CV_BID_QTY); d["CV_BEST_ASK"] = int(CV_BEST_ASK);
    d["CV_ASK_QTY"] = int(CV_ASK_QTY); d["CV_DATA_EXCH_TS"] = int(CV_DATA_EXCH_TS);
    d["CV_DATA_ARRIVAL_TS"] = int(CV_DATA_ARRIVAL_TS); d["CV_DATA_ROWS"] = int(CV_DATA_ROWS);
    d["CV_N_FEATURES"] = int(CV_N_FEATURES); d["CV_POSITION"] = int(CV_POSITION); d["CV_QUOTED"] = int(CV_QUOTED);
    d["CO_BLOCK"] = int(CO_BLOCK);
    d["CF_EWMA_MID"] = int(CF_EWMA_MID); d["CF_CASH"] = int(CF_CASH); d["CF_TICK_SIZE"] = int(CF_TICK_SIZE);
    d["CF_LOT_SIZE"] = int(CF_LOT_SIZE); d["CF_SIZE"] = int(CF_SIZE);
    d["CF_PRED_MOVE"] = int(CF_PRED_MOVE); d["CF_P_DOWN"] = int(CF_P_DOWN); d["CF_P_FLAT"] = int(CF_P_FLAT);
    d["CF_P_UP"] = int(CF_P_UP);
    return d;
  }, "Indices of the flat context arrays handed to numba cfunc strategies.");

  using I64In = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
  auto check_batch = [](const py::array& events, const I64In& arrival) {
    if (events.ndim() != 1 || events.itemsize() != sizeof(EventRecord) || !(events.flags() & py::array::c_style))
      throw ConfigError("events must be a contiguous 1-d EVENT_DTYPE array");
    if (arrival.ndim() != 1 || arrival.size() != events.size())
      throw ConfigError("arrival must be an int64 array with one entry per event");
  };
  m.def("feature_batch_events", [check_batch](py::array events, I64In arrival, py::handle specs, bool repair_crossed) {
    check_batch(events, arrival);
    const std::vector<MmsimFeatureSpec> s = feature_specs(specs);
    std::vector<double> values;
    {
      py::gil_scoped_release release;
      feature_batch(static_cast<const EventRecord*>(events.data()), arrival.data(), events.size(), s,
                    repair_crossed, values);
    }
    py::array_t<double> out({static_cast<py::ssize_t>(events.size()), static_cast<py::ssize_t>(s.size())});
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
  }, py::arg("events"), py::arg("arrival"), py::arg("specs"), py::arg("repair_crossed") = false,
     "Batch mode: the strategy-side book over `events` (arriving at `arrival`) and every feature after every "
     "row, at that row's arrival time — the same code the event loop runs.");

  m.def("feature_batch_events_at", [check_batch](py::array events, I64In arrival, py::handle specs, I64In query,
                                                 bool repair_crossed) {
    check_batch(events, arrival);
    if (query.ndim() != 1) throw ConfigError("query must be a 1-d int64 array of times");
    const std::vector<MmsimFeatureSpec> s = feature_specs(specs);
    std::vector<double> values;
    {
      py::gil_scoped_release release;
      feature_batch_at(static_cast<const EventRecord*>(events.data()), arrival.data(), events.size(), s,
                       repair_crossed, query.data(), query.size(), values);
    }
    py::array_t<double> out({static_cast<py::ssize_t>(query.size()), static_cast<py::ssize_t>(s.size())});
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
  }, py::arg("events"), py::arg("arrival"), py::arg("specs"), py::arg("query"), py::arg("repair_crossed") = false,
     "Batch mode at given times: the strategy-side book over `events` (arriving at `arrival`) and every feature "
     "at each `query` time after all rows arriving at or before it (a signal venue's bank as a wakeup reads it).");

  m.def("ewma_batch", [](py::array_t<int64_t, py::array::c_style | py::array::forcecast> ts,
                         py::array_t<double, py::array::c_style | py::array::forcecast> x, int64_t tau_ns) {
    if (ts.size() != x.size()) throw ConfigError("ewma_batch: ts and x differ in length");
    py::array_t<double> out(ts.size());
    const int32_t rc = mmsim_ewma_batch(ts.data(), x.data(), static_cast<size_t>(ts.size()), tau_ns, out.mutable_data());
    if (rc == MMSIM_ERR_HORIZON) throw ConfigError("ewma_batch: horizon must be > 0 ns");
    if (rc == MMSIM_ERR_TIME) throw ConfigError("ewma_batch: timestamps must not decrease");
    if (rc == MMSIM_ERR_VALUE) throw ConfigError("ewma_batch: values must be finite");
    if (rc != MMSIM_OK) throw ConfigError("ewma_batch failed with status " + std::to_string(rc));
    return out;
  }, py::arg("ts"), py::arg("x"), py::arg("tau_ns"),
     "Rust EWMA over arrays (batch mode): value after each update, the same code the loop runs.");
}
