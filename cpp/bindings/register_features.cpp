// Bindings of the Rust feature bank (cpp/include/mmsim/feature_bank.h): batch mode over arrays of
// observations, and a timing loop. Both drive the bank through its C ABI, exactly as the event loop does.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mmsim/feature_bank.h"
#include "mmsim/records.hpp"

namespace py = pybind11;
using mmsim::ConfigError;
using mmsim::DataError;

namespace {

using I64 = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

const char* kind_name(int32_t k) {
  switch (k) {
    case MMSIM_F_MID: return "mid";
    case MMSIM_F_SPREAD: return "spread";
    case MMSIM_F_MICROPRICE: return "microprice";
    case MMSIM_F_QUEUE_IMBALANCE: return "queue_imbalance";
    case MMSIM_F_DEPTH_IMBALANCE: return "depth_imbalance";
    case MMSIM_F_OFI: return "ofi";
    case MMSIM_F_TRADE_SIGN_IMBALANCE: return "trade_sign_imbalance";
    case MMSIM_F_SIGNED_VOLUME: return "signed_volume";
    case MMSIM_F_REALIZED_VOL: return "realized_vol";
    case MMSIM_F_EVENT_INTENSITY: return "event_intensity";
    case MMSIM_F_TRADE_INTENSITY: return "trade_intensity";
    case MMSIM_F_TIME_SINCE_TRADE: return "time_since_trade";
    case MMSIM_F_TIME_SINCE_MID_CHANGE: return "time_since_mid_change";
    case MMSIM_F_VPIN: return "vpin";
    case MMSIM_F_MID_RETURN: return "mid_return";
    default: return nullptr;
  }
}

// What the bank expects of each kind's parameters (mirrors check() in bank.rs; docs/features.md).
std::string rule(const MmsimFeatureSpec& s, int32_t rc, int32_t max_levels) {
  const int32_t k = s.kind;
  const bool l1 = k == MMSIM_F_MID || k == MMSIM_F_SPREAD || k == MMSIM_F_QUEUE_IMBALANCE;
  const bool multi = k == MMSIM_F_MICROPRICE || k == MMSIM_F_DEPTH_IMBALANCE || k == MMSIM_F_OFI;
  const bool flow = k == MMSIM_F_OFI || k == MMSIM_F_TRADE_SIGN_IMBALANCE || k == MMSIM_F_SIGNED_VOLUME ||
                    k == MMSIM_F_REALIZED_VOL || k == MMSIM_F_MID_RETURN;
  switch (rc) {
    case MMSIM_ERR_KIND: return "unknown feature kind";
    case MMSIM_ERR_LEVEL:
      if (max_levels < 0 || max_levels > 1024) return "max_levels must be 0..1024, got " + std::to_string(max_levels);
      if (l1) return "level must be 1 (top of book)" + std::string(max_levels < 1 ? " and the book has no levels" : "");
      if (multi) return "level must be 1.." + std::to_string(max_levels) + " (the book depth)";
      return "takes no level (0 or 1)";
    case MMSIM_ERR_HORIZON:
      if (s.horizon_ns < 0) return "horizon_ns must be >= 0";
      if (flow) return "needs a horizon (horizon_ns > 0) or an event window (window > 0)";
      if (k == MMSIM_F_EVENT_INTENSITY || k == MMSIM_F_TRADE_INTENSITY) return "needs a horizon (horizon_ns > 0)";
      if (k == MMSIM_F_TIME_SINCE_TRADE || k == MMSIM_F_TIME_SINCE_MID_CHANGE) return "takes no horizon";
      return "horizon_ns must be >= 0";
    case MMSIM_ERR_WINDOW:
      if (s.window < 0) return "window must be >= 0";
      if (flow && s.window > 10000000) return "window must be <= 10000000";
      if (flow) return "takes a horizon or a window, not both";
      if (k == MMSIM_F_VPIN) return "needs window = bucket volume in lots (> 0)";
      return "takes no window";
    default: return "rejected with status " + std::to_string(rc);
  }
}

std::string spec_text(size_t i, const MmsimFeatureSpec& s) {
  const char* name = kind_name(s.kind);
  return "feature spec " + std::to_string(i) + " (kind=" + std::to_string(s.kind) + (name ? std::string(" ") + name : "") +
         ", level=" + std::to_string(s.level) + ", horizon_ns=" + std::to_string(s.horizon_ns) +
         ", window=" + std::to_string(s.window) + ")";
}

// The specs as a contiguous array of MmsimFeatureSpec (numpy: mmsim.signals.features.SPEC_DTYPE).
std::vector<MmsimFeatureSpec> read_specs(const py::array& a) {
  const char* msg = "specs must be a 1-d structured array with fields kind<i4, level<i4, horizon_ns<i8, window<i8 "
                    "(mmsim.signals.features.spec_array)";
  if (a.ndim() != 1 || a.itemsize() != static_cast<py::ssize_t>(sizeof(MmsimFeatureSpec))) throw ConfigError(msg);
  py::object fields = a.dtype().attr("fields");
  if (fields.is_none()) throw ConfigError(msg);
  struct F { const char* name; size_t off; size_t size; };
  const F want[] = {{"kind", offsetof(MmsimFeatureSpec, kind), 4}, {"level", offsetof(MmsimFeatureSpec, level), 4},
                    {"horizon_ns", offsetof(MmsimFeatureSpec, horizon_ns), 8},
                    {"window", offsetof(MmsimFeatureSpec, window), 8}};
  py::dict fd = fields.cast<py::dict>();
  if (py::len(fd) != 4) throw ConfigError(msg);
  for (const F& f : want) {
    if (!fd.contains(f.name)) throw ConfigError(msg);
    py::tuple t = fd[f.name].cast<py::tuple>();
    py::dtype dt = t[0].cast<py::dtype>();
    if (t[1].cast<size_t>() != f.off || dt.kind() != 'i' || static_cast<size_t>(dt.itemsize()) != f.size ||
        dt.attr("isnative").cast<bool>() == false)
      throw ConfigError(msg);
  }
  std::vector<MmsimFeatureSpec> out(static_cast<size_t>(a.size()));
  py::array c = py::array::ensure(a, py::array::c_style);
  if (!out.empty()) std::memcpy(out.data(), c.data(), out.size() * sizeof(MmsimFeatureSpec));
  return out;
}

struct Bank {
  MmsimBank* p = nullptr;
  Bank(const std::vector<MmsimFeatureSpec>& specs, int32_t max_levels) {
    for (size_t i = 0; i < specs.size(); ++i) {
      const int32_t rc = mmsim_bank_check_spec(&specs[i], max_levels);
      if (rc != MMSIM_OK) throw ConfigError(spec_text(i, specs[i]) + ": " + rule(specs[i], rc, max_levels));
    }
    const int32_t rc = mmsim_bank_new(specs.data(), specs.size(), max_levels, &p);
    if (rc == MMSIM_ERR_ALLOC) throw ConfigError("feature bank: not enough memory for the event windows");
    if (rc != MMSIM_OK) throw ConfigError("feature bank: mmsim_bank_new failed with status " + std::to_string(rc));
  }
  ~Bank() { if (p) mmsim_bank_free(p); }
  Bank(const Bank&) = delete;
  Bank& operator=(const Bank&) = delete;
};

// Observation arrays, checked and made contiguous int64.
struct Obs {
  I64 ts, bid_px, bid_qty, ask_px, ask_qty, sign, price, qty;
  py::ssize_t n = 0, levels = 0;

  Obs(const py::handle& ts_, const py::handle& bp, const py::handle& bq, const py::handle& ap, const py::handle& aq,
      const py::handle& sg, const py::handle& pr, const py::handle& qt) {
    ts = I64::ensure(ts_);
    bid_px = I64::ensure(bp);
    bid_qty = I64::ensure(bq);
    ask_px = I64::ensure(ap);
    ask_qty = I64::ensure(aq);
    sign = I64::ensure(sg);
    price = I64::ensure(pr);
    qty = I64::ensure(qt);
    if (!ts || !bid_px || !bid_qty || !ask_px || !ask_qty || !sign || !price || !qty)
      throw ConfigError("observations: every array must convert to int64");
    if (ts.ndim() != 1) throw ConfigError("observations: ts must be 1-d");
    n = ts.shape(0);
    for (const I64* a : {&bid_px, &bid_qty, &ask_px, &ask_qty}) {
      if (a->ndim() != 2 || a->shape(0) != n) throw ConfigError("observations: book arrays must be (n, levels)");
      if (a->shape(1) != bid_px.shape(1)) throw ConfigError("observations: book arrays differ in levels");
    }
    levels = bid_px.shape(1);
    if (levels > std::numeric_limits<int32_t>::max()) throw ConfigError("observations: too many levels");
    for (const I64* a : {&sign, &price, &qty})
      if (a->ndim() != 1 || a->shape(0) != n) throw ConfigError("observations: trade arrays must be (n,)");
  }

  MmsimObservation at(py::ssize_t i) const {
    MmsimObservation o;
    o.ts = ts.data()[i];
    o.bid_px = bid_px.data() + i * levels;
    o.bid_qty = bid_qty.data() + i * levels;
    o.ask_px = ask_px.data() + i * levels;
    o.ask_qty = ask_qty.data() + i * levels;
    o.levels = static_cast<int32_t>(levels);
    const int64_t s = sign.data()[i];
    o.trade_sign = (s < -1 || s > 1) ? 2 : static_cast<int32_t>(s);  // out of range: the bank rejects it
    o.trade_price = price.data()[i];
    o.trade_qty = qty.data()[i];
    return o;
  }
};

[[noreturn]] void observation_error(int32_t rc, py::ssize_t row) {
  if (rc == MMSIM_ERR_TIME) throw DataError(row, "observation timestamps must not decrease");
  if (rc == MMSIM_ERR_VALUE)
    throw DataError(row, "observation has a negative book quantity, a negative trade_qty or a trade_sign not in "
                         "{-1, 0, 1}");
  throw DataError(row, "feature bank update failed with status " + std::to_string(rc));
}

}  // namespace

void register_features(py::module_& m) {
  m.def(
      "feature_batch",
      [](const py::array& specs, const py::handle& ts, const py::handle& bid_px, const py::handle& bid_qty,
         const py::handle& ask_px, const py::handle& ask_qty, const py::handle& trade_sign,
         const py::handle& trade_price, const py::handle& trade_qty, int32_t max_levels, const py::object& now) {
        const auto sp = read_specs(specs);
        const Obs obs(ts, bid_px, bid_qty, ask_px, ask_qty, trade_sign, trade_price, trade_qty);
        I64 now_arr;
        if (!now.is_none()) {
          now_arr = I64::ensure(now);
          if (!now_arr || now_arr.ndim() != 1 || now_arr.shape(0) != obs.n)
            throw ConfigError("feature_batch: now must be an int64 array with one time per observation");
        }
        Bank bank(sp, max_levels);
        const size_t nf = sp.size();
        py::array_t<double> out({obs.n, static_cast<py::ssize_t>(nf)});
        double* dst = out.mutable_data();
        const int64_t* nowp = now.is_none() ? nullptr : now_arr.data();
        int32_t rc = MMSIM_OK;
        bool in_values = false;
        py::ssize_t row = 0;
        {
          py::gil_scoped_release release;
          for (; row < obs.n; ++row) {
            const MmsimObservation o = obs.at(row);
            rc = mmsim_bank_update(bank.p, &o);
            if (rc != MMSIM_OK) break;
            rc = mmsim_bank_values(bank.p, nowp ? nowp[row] : o.ts, dst + row * nf, nf);
            if (rc != MMSIM_OK) { in_values = true; break; }
          }
        }
        if (rc != MMSIM_OK) {
          if (in_values && rc == MMSIM_ERR_TIME) throw DataError(row, "now must be >= the observation's ts");
          observation_error(rc, row);
        }
        return out;
      },
      py::arg("specs"), py::arg("ts"), py::arg("bid_px"), py::arg("bid_qty"), py::arg("ask_px"), py::arg("ask_qty"),
      py::arg("trade_sign"), py::arg("trade_price"), py::arg("trade_qty"), py::arg("max_levels"),
      py::arg("now") = py::none(),
      "Run the Rust feature bank over observations: update with row i, then values(now[i], default ts[i]) into "
      "row i of an (n, n_features) float64 array. Bad specs raise ConfigError naming the spec; bad observations "
      "DataError naming the row.");

  m.def(
      "feature_bench",
      [](const py::array& specs, const py::handle& ts, const py::handle& bid_px, const py::handle& bid_qty,
         const py::handle& ask_px, const py::handle& ask_qty, const py::handle& trade_sign,
         const py::handle& trade_price, const py::handle& trade_qty, int32_t max_levels, int repeat) {
        const auto sp = read_specs(specs);
        const Obs obs(ts, bid_px, bid_qty, ask_px, ask_qty, trade_sign, trade_price, trade_qty);
        const size_t nf = sp.size();
        using clock = std::chrono::steady_clock;
        double best_update = 1e300, best_both = 1e300, best_values = 1e300, checksum = 0.0;
        std::vector<double> vals(nf > 0 ? nf : 1);
        const py::ssize_t n_values = obs.n < 100000 ? obs.n : 100000;
        int32_t rc = MMSIM_OK;
        py::ssize_t bad_row = 0;
        for (int r = 0; r < (repeat > 0 ? repeat : 1) && rc == MMSIM_OK; ++r) {
          Bank a(sp, max_levels), b(sp, max_levels);
          py::gil_scoped_release release;
          // updates only
          auto t0 = clock::now();
          for (py::ssize_t i = 0; i < obs.n; ++i) {
            const MmsimObservation o = obs.at(i);
            rc = mmsim_bank_update(a.p, &o);
            if (rc != MMSIM_OK) { bad_row = i; break; }
          }
          auto t1 = clock::now();
          if (rc != MMSIM_OK) break;
          // values alone, on the bank after the last update, at later and later times (one exp per horizon)
          const int64_t last = obs.n > 0 ? obs.ts.data()[obs.n - 1] : 0;
          for (py::ssize_t i = 0; i < n_values; ++i) {
            mmsim_bank_values(a.p, last + 1000 * (i + 1), vals.data(), nf);
            checksum += vals[0];
          }
          auto t2 = clock::now();
          // update + values(ts) per observation (batch mode)
          for (py::ssize_t i = 0; i < obs.n; ++i) {
            const MmsimObservation o = obs.at(i);
            rc = mmsim_bank_update(b.p, &o);
            if (rc != MMSIM_OK) { bad_row = i; break; }
            mmsim_bank_values(b.p, o.ts, vals.data(), nf);
          }
          auto t3 = clock::now();
          checksum += vals[0];
          best_update = std::min(best_update, std::chrono::duration<double, std::nano>(t1 - t0).count());
          best_values = std::min(best_values, std::chrono::duration<double, std::nano>(t2 - t1).count());
          best_both = std::min(best_both, std::chrono::duration<double, std::nano>(t3 - t2).count());
        }
        if (rc != MMSIM_OK) observation_error(rc, bad_row);
        const double n = obs.n > 0 ? static_cast<double>(obs.n) : 1.0;
        py::dict d;
        d["n_obs"] = obs.n;
        d["n_features"] = nf;
        d["update_ns"] = best_update / n;
        d["update_values_ns"] = best_both / n;
        d["values_ns"] = n_values > 0 ? best_values / static_cast<double>(n_values) : 0.0;
        d["checksum"] = checksum;
        return d;
      },
      py::arg("specs"), py::arg("ts"), py::arg("bid_px"), py::arg("bid_qty"), py::arg("ask_px"), py::arg("ask_qty"),
      py::arg("trade_sign"), py::arg("trade_price"), py::arg("trade_qty"), py::arg("max_levels"),
      py::arg("repeat") = 3,
      "Time the bank through its C ABI (best of `repeat`): ns per update, per update + values(ts), and per "
      "values() call alone.");
}
