// Interpreted models and the loader of compiled ones (cpp/include/mmsim/models.hpp, docs/models.md).
// No fused multiply-add: the core (CMakeLists.txt) and compiled libraries are both built with -ffp-contract=off,
// and predictions must match bit for bit.

#include "mmsim/models.hpp"

#include <alloca.h>
#include <dlfcn.h>

#include <cmath>
#include <cstring>
#include <utility>

#include "mmsim/records.hpp"

namespace mmsim {

namespace {

bool finite_all(const std::vector<double>& v) {
  for (double d : v)
    if (!std::isfinite(d)) return false;
  return true;
}

void check_width(const char* what, const char* name, size_t n) {
  if (n == 0) throw ConfigError(std::string(what) + ": " + name + " must be > 0");
  if (n > kMaxModelWidth)
    throw ConfigError(std::string(what) + ": " + name + " " + std::to_string(n) + " exceeds " +
                      std::to_string(kMaxModelWidth));
}

void check_finite(const char* what, const char* name, const std::vector<double>& v) {
  if (!finite_all(v)) throw ConfigError(std::string(what) + ": " + name + " has a non-finite value");
}

// Scratch on the stack: predict() never allocates and stays re-entrant. Sizes are capped by kMaxModelWidth.
#define MMSIM_SCRATCH(n) static_cast<double*>(alloca(((n) > 0 ? (n) : 1) * sizeof(double)))

// out[j] = sum over i in order of W[i][j] * x[i] (W is [in][out]). Four inputs per pass over the outputs:
// (((o + w0 x0) + w1 x1) + w2 x2) + w3 x3 is the same sequence of roundings as four passes, with a quarter of
// the loads and stores of o.
void dense_layer(const double* __restrict W, const double* __restrict x, double* __restrict o, size_t in, size_t out) {
  for (size_t j = 0; j < out; ++j) o[j] = 0.0;
  size_t i = 0;
  for (; i + 4 <= in; i += 4) {
    const double* w = W + i * out;
    const double x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
    for (size_t j = 0; j < out; ++j)
      o[j] = (((o[j] + w[j] * x0) + w[out + j] * x1) + w[2 * out + j] * x2) + w[3 * out + j] * x3;
  }
  for (; i < in; ++i) {
    const double* w = W + i * out;
    const double xi = x[i];
    for (size_t j = 0; j < out; ++j) o[j] += w[j] * xi;
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------ BasicModel
BasicModel::BasicModel(const char* what, size_t n_inputs, size_t n_outputs, std::vector<std::string> names,
                       Preprocess pre)
    : n_inputs_(n_inputs), names_(std::move(names)), pre_(std::move(pre)) {
  check_width(what, "n_inputs", n_inputs);
  if (names_.size() != n_outputs)
    throw ConfigError(std::string(what) + ": computes " + std::to_string(n_outputs) + " outputs but " +
                      std::to_string(names_.size()) + " output names were given");
  if (!pre_.empty() || !pre_.scale.empty()) {
    if (pre_.mean.size() != n_inputs || pre_.scale.size() != n_inputs)
      throw ConfigError(std::string(what) + ": preprocess mean and scale need " + std::to_string(n_inputs) +
                        " values each, got " + std::to_string(pre_.mean.size()) + " and " +
                        std::to_string(pre_.scale.size()));
    check_finite(what, "preprocess mean", pre_.mean);
    for (double s : pre_.scale)
      if (!(s > 0.0 && std::isfinite(s)))
        throw ConfigError(std::string(what) + ": preprocess scale must be > 0 and finite");
  }
}

void BasicModel::prepare(const double* x, double* buf, bool nan_to_zero) const {
  const size_t n = n_inputs_;
  if (pre_.empty()) {
    for (size_t i = 0; i < n; ++i) buf[i] = x[i];
  } else {
    const double* m = pre_.mean.data();
    const double* s = pre_.scale.data();
    for (size_t i = 0; i < n; ++i) buf[i] = (x[i] - m[i]) / s[i];
  }
  if (nan_to_zero)
    for (size_t i = 0; i < n; ++i) buf[i] = std::isnan(buf[i]) ? 0.0 : buf[i];
}

// ------------------------------------------------------------------------------------------ linear, logistic
LinearModel::LinearModel(std::vector<double> weights, double bias, Preprocess pre, std::vector<std::string> names)
    : BasicModel("linear model", weights.size(), 1, std::move(names), std::move(pre)), w_(std::move(weights)),
      b_(bias) {
  check_finite("linear model", "weights", w_);
  if (!std::isfinite(b_)) throw ConfigError("linear model: bias is not finite");
}

void LinearModel::predict(const double* x, double* out) const {
  double* xp = MMSIM_SCRATCH(n_inputs_);
  prepare(x, xp, true);
  out[0] = dot(w_.data(), xp, n_inputs_) + b_;
}

LogisticModel::LogisticModel(std::vector<double> weights, double bias, Preprocess pre, std::vector<std::string> names)
    : BasicModel("logistic model", weights.size(), 1, std::move(names), std::move(pre)), w_(std::move(weights)),
      b_(bias) {
  check_finite("logistic model", "weights", w_);
  if (!std::isfinite(b_)) throw ConfigError("logistic model: bias is not finite");
}

void LogisticModel::predict(const double* x, double* out) const {
  double* xp = MMSIM_SCRATCH(n_inputs_);
  prepare(x, xp, true);
  out[0] = sigmoid(dot(w_.data(), xp, n_inputs_) + b_);
}

// ---------------------------------------------------------------------------------------------- multinomial
MultinomialModel::MultinomialModel(std::vector<double> weights, std::vector<double> bias, size_t n_inputs,
                                   Preprocess pre, bool with_move, std::vector<std::string> names)
    : BasicModel("multinomial model", n_inputs, bias.size() + (with_move ? 1 : 0), std::move(names), std::move(pre)),
      w_(std::move(weights)), b_(std::move(bias)), k_(b_.size()), with_move_(with_move) {
  if (k_ < 2) throw ConfigError("multinomial model: needs at least 2 classes");
  if (w_.size() != k_ * n_inputs)
    throw ConfigError("multinomial model: weights need " + std::to_string(k_) + " x " + std::to_string(n_inputs) +
                      " values, got " + std::to_string(w_.size()));
  check_finite("multinomial model", "weights", w_);
  check_finite("multinomial model", "bias", b_);
}

void MultinomialModel::predict(const double* x, double* out) const {
  double* xp = MMSIM_SCRATCH(n_inputs_);
  prepare(x, xp, true);
  for (size_t c = 0; c < k_; ++c) out[c] = dot(w_.data() + c * n_inputs_, xp, n_inputs_) + b_[c];
  softmax(out, k_);
  if (with_move_) out[k_] = out[k_ - 1] - out[0];
}

// ------------------------------------------------------------------------------------------------------ mlp
MlpModel::MlpModel(std::vector<std::vector<double>> weights, std::vector<std::vector<double>> biases, size_t n_inputs,
                   bool softmax, Preprocess pre, bool with_move, std::vector<std::string> names)
    : BasicModel("mlp model", n_inputs,
                 (biases.empty() ? 0 : biases.back().size()) + (softmax && with_move ? 1 : 0), std::move(names),
                 std::move(pre)),
      w_(std::move(weights)), b_(std::move(biases)), softmax_(softmax), with_move_(softmax && with_move) {
  if (w_.empty()) throw ConfigError("mlp model: needs at least one layer");
  if (w_.size() != b_.size())
    throw ConfigError("mlp model: " + std::to_string(w_.size()) + " weight matrices but " +
                      std::to_string(b_.size()) + " bias vectors");
  if (with_move && !softmax) throw ConfigError("mlp model: with_move needs softmax outputs");
  width_.push_back(n_inputs);
  max_width_ = n_inputs;
  for (size_t l = 0; l < w_.size(); ++l) {
    const std::string layer = "layer " + std::to_string(l);
    const size_t out = b_[l].size();
    check_width("mlp model", (layer + " outputs").c_str(), out);
    if (w_[l].size() != out * width_.back())
      throw ConfigError("mlp model: " + layer + " weights need " + std::to_string(out) + " x " +
                        std::to_string(width_.back()) + " values, got " + std::to_string(w_[l].size()));
    check_finite("mlp model", (layer + " weights").c_str(), w_[l]);
    check_finite("mlp model", (layer + " bias").c_str(), b_[l]);
    // stored transposed, [in][out]: predict runs over the outputs in the inner loop (independent sums that
    // vectorise); each output still sums its inputs in order i = 0, 1, ...
    const size_t in = width_.back();
    std::vector<double> t(w_[l].size());
    for (size_t j = 0; j < out; ++j)
      for (size_t i = 0; i < in; ++i) t[i * out + j] = w_[l][j * in + i];
    w_[l] = std::move(t);
    width_.push_back(out);
    if (out > max_width_) max_width_ = out;
  }
  if (softmax_ && width_.back() < 2) throw ConfigError("mlp model: softmax needs at least 2 outputs");
}

void MlpModel::predict(const double* x, double* out) const {
  double* a = MMSIM_SCRATCH(max_width_);
  double* b = MMSIM_SCRATCH(max_width_);
  prepare(x, a, true);
  const size_t n_layers = w_.size();
  for (size_t l = 0; l < n_layers; ++l) {
    const size_t in = width_[l], outw = width_[l + 1];
    const double* B = b_[l].data();
    const bool last = l + 1 == n_layers;
    dense_layer(w_[l].data(), a, b, in, outw);
    for (size_t j = 0; j < outw; ++j) {
      const double v = b[j] + B[j];
      b[j] = last ? v : (v > 0.0 ? v : 0.0);
    }
    std::swap(a, b);
  }
  const size_t k = width_.back();
  for (size_t j = 0; j < k; ++j) out[j] = a[j];
  if (softmax_) {
    softmax(out, k);
    if (with_move_) out[k] = out[k - 1] - out[0];
  }
}

// ----------------------------------------------------------------------------------------------------- gbdt
namespace {

size_t gbdt_outputs(const GbdtArrays& a, bool with_move) {
  if (a.n_classes < 1) throw ConfigError("gbdt model: n_classes must be >= 1");
  return static_cast<size_t>(a.n_classes) + (with_move ? 1 : 0);
}

}  // namespace

GbdtModel::GbdtModel(GbdtArrays a, Preprocess pre, bool with_move, std::vector<std::string> names)
    : BasicModel("gbdt model", a.n_inputs, gbdt_outputs(a, with_move), std::move(names), std::move(pre)),
      tree_nodes_(std::move(a.tree_nodes)), tree_leaves_(std::move(a.tree_leaves)), leaves_(std::move(a.leaf_value)),
      cat_begin_(std::move(a.cat_begin)), cat_end_(std::move(a.cat_end)), cat_words_(std::move(a.cat_words)),
      k_(static_cast<size_t>(a.n_classes)), transform_(a.transform), sigmoid_(a.sigmoid), average_(a.average_output),
      with_move_(with_move) {
  const char* what = "gbdt model";
  if (transform_ < GbdtArrays::Identity || transform_ > GbdtArrays::Softmax)
    throw ConfigError("gbdt model: unknown output transform " + std::to_string(transform_));
  const bool softmax = transform_ == GbdtArrays::Softmax;
  if (softmax ? k_ < 2 : k_ != 1)
    throw ConfigError(softmax ? "gbdt model: softmax needs >= 2 classes"
                              : "gbdt model: identity and sigmoid need 1 class");
  if (with_move_ && !softmax) throw ConfigError("gbdt model: with_move needs a multiclass model");
  if (!std::isfinite(sigmoid_)) throw ConfigError("gbdt model: sigmoid is not finite");
  if (tree_nodes_.size() < 2 || tree_nodes_.size() != tree_leaves_.size())
    throw ConfigError("gbdt model: tree_nodes and tree_leaves need n_trees + 1 offsets each (and n_trees >= 1)");
  n_trees_ = tree_nodes_.size() - 1;
  if (n_trees_ % k_ != 0)
    throw ConfigError("gbdt model: " + std::to_string(n_trees_) + " trees is not a multiple of " +
                      std::to_string(k_) + " classes");
  iterations_ = n_trees_ / k_;
  const size_t n_nodes = a.split_feature.size();
  if (a.left_child.size() != n_nodes || a.right_child.size() != n_nodes || a.decision_type.size() != n_nodes ||
      a.threshold.size() != n_nodes)
    throw ConfigError("gbdt model: split_feature, threshold, decision_type, left_child, right_child differ in length");
  if (tree_nodes_.front() != 0 || static_cast<size_t>(tree_nodes_.back()) != n_nodes || tree_leaves_.front() != 0 ||
      static_cast<size_t>(tree_leaves_.back()) != leaves_.size())
    throw ConfigError("gbdt model: tree offsets must start at 0 and end at the array lengths");
  check_finite(what, "leaf_value", leaves_);
  if (cat_begin_.size() != cat_end_.size()) throw ConfigError("gbdt model: cat_begin and cat_end differ in length");
  for (size_t c = 0; c < cat_begin_.size(); ++c)
    if (cat_begin_[c] < 0 || cat_end_[c] < cat_begin_[c] || static_cast<size_t>(cat_end_[c]) > cat_words_.size())
      throw ConfigError("gbdt model: categorical split " + std::to_string(c) + " has bad bitset bounds");
  nodes_.resize(n_nodes);
  for (size_t t = 0; t < n_trees_; ++t) {
    const int32_t n0 = tree_nodes_[t], n1 = tree_nodes_[t + 1], l0 = tree_leaves_[t], l1 = tree_leaves_[t + 1];
    const std::string tree = "gbdt model: tree " + std::to_string(t) + ": ";
    if (n1 < n0 || l1 - l0 != n1 - n0 + 1) throw ConfigError(tree + "needs one more leaf than internal nodes");
    const int32_t nn = n1 - n0, nl = l1 - l0;
    for (int32_t j = 0; j < nn; ++j) {
      const size_t g = static_cast<size_t>(n0 + j);
      Node& nd = nodes_[g];
      nd.feature = a.split_feature[g];
      nd.left = a.left_child[g];
      nd.right = a.right_child[g];
      const int8_t dt = a.decision_type[g];
      nd.type = dt;
      nd.threshold = a.threshold[g];
      // numerical_left() folded into two bits: where NaN goes, where |x| <= kZero (read as 0.0) goes
      nd.flags = static_cast<uint8_t>((dt & 1) | (numerical_left(std::nan(""), nd.threshold, dt) ? kNanLeft : 0) |
                                      (numerical_left(0.0, nd.threshold, dt) ? kZeroLeft : 0));
      const std::string node = tree + "node " + std::to_string(j) + ": ";
      if (nd.feature < 0 || static_cast<size_t>(nd.feature) >= n_inputs_)
        throw ConfigError(node + "split feature " + std::to_string(nd.feature) + " is not < n_inputs " +
                          std::to_string(n_inputs_));
      for (int32_t ch : {nd.left, nd.right}) {
        // a child node comes after its parent (LightGBM numbers nodes in split order): no cycles
        if (ch >= 0 ? (ch <= j || ch >= nn) : (~ch >= nl))
          throw ConfigError(node + "child " + std::to_string(ch) + " is out of range");
      }
      if (nd.type & 1) {
        if (!(nd.threshold >= 0.0 && nd.threshold < static_cast<double>(cat_begin_.size())) ||
            nd.threshold != std::floor(nd.threshold))
          throw ConfigError(node + "categorical split index is out of range");
      } else if (std::isnan(nd.threshold)) {  // +-inf is fine (LightGBM writes inf to split NaN from the rest)
        throw ConfigError(node + "threshold is NaN");
      }
      if (((nd.type >> 2) & 3) == 3) throw ConfigError(node + "unknown missing type in decision_type");
    }
  }
}

bool GbdtModel::go_left(const Node& nd, double v) const {
  if (nd.flags & 1) {
    const size_t c = static_cast<size_t>(nd.threshold);
    return categorical_left(filter(v), cat_words_.data() + cat_begin_[c], cat_end_[c] - cat_begin_[c]);
  }
  // = numerical_left(filter(v), threshold, decision_type), with the NaN and zero cases precomputed
  const bool nan = std::isnan(v), zero = std::fabs(v) <= kZero;
  const bool le = v <= nd.threshold;
  return nan ? (nd.flags & kNanLeft) != 0 : zero ? (nd.flags & kZeroLeft) != 0 : le;
}

void GbdtModel::predict(const double* x, double* out) const {
  const double* xp = x;
  if (!pre_.empty()) {
    double* buf = MMSIM_SCRATCH(n_inputs_);
    prepare(x, buf, false);  // trees keep NaN: LightGBM's missing-value rules decide
    xp = buf;
  }
  for (size_t c = 0; c < k_; ++c) out[c] = 0.0;
  // kGroup trees walked side by side (independent chains of loads overlap), their leaves added in tree order
  constexpr size_t kGroup = 8;
  const Node* base[kGroup];
  int32_t at[kGroup];
  for (size_t t0 = 0; t0 < n_trees_; t0 += kGroup) {
    const size_t g_n = n_trees_ - t0 < kGroup ? n_trees_ - t0 : kGroup;
    for (size_t g = 0; g < g_n; ++g) {
      const size_t t = t0 + g;
      base[g] = nodes_.data() + tree_nodes_[t];
      at[g] = tree_nodes_[t + 1] == tree_nodes_[t] ? ~0 : 0;  // a single-leaf tree is leaf 0
    }
    for (bool more = true; more;) {
      more = false;
      for (size_t g = 0; g < g_n; ++g) {
        if (at[g] < 0) continue;
        const Node& nd = base[g][at[g]];
        at[g] = go_left(nd, xp[nd.feature]) ? nd.left : nd.right;
        more = true;
      }
    }
    for (size_t g = 0; g < g_n; ++g) out[(t0 + g) % k_] += leaves_[tree_leaves_[t0 + g] + ~at[g]];
  }
  if (average_)
    for (size_t c = 0; c < k_; ++c) out[c] /= static_cast<double>(iterations_);
  if (transform_ == GbdtArrays::Sigmoid) {
    out[0] = sigmoid(sigmoid_ * out[0]);
  } else if (transform_ == GbdtArrays::Softmax) {
    softmax(out, k_);
    if (with_move_) out[k_] = out[k_ - 1] - out[0];
  }
}

// ------------------------------------------------------------------------------------------------- compiled
namespace {

template <class F>
F symbol(void* handle, const std::string& path, const char* name) {
  dlerror();
  void* p = dlsym(handle, name);
  if (!p) throw ConfigError(path + ": not an mmsim model library (no symbol " + name + ")");
  F f;
  std::memcpy(&f, &p, sizeof f);
  return f;
}

}  // namespace

CompiledModel::CompiledModel(const std::string& path, const std::string& expected_hash, size_t n_inputs,
                             size_t n_outputs)
    : path_(path), n_inputs_(n_inputs) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* e = dlerror();
    throw ConfigError(path + ": cannot load the compiled model (" + (e ? e : "dlopen failed") + ")");
  }
  try {
    const int abi = symbol<int (*)()>(handle_, path, "mmsim_model_abi")();
    if (abi != kCompiledModelAbi)
      throw ConfigError(path + ": compiled for model ABI " + std::to_string(abi) + ", this mmsim reads ABI " +
                        std::to_string(kCompiledModelAbi) + " (recompile with mmsim model compile)");
    const std::string hash = symbol<const char* (*)()>(handle_, path, "mmsim_model_hash")();
    if (hash != expected_hash)
      throw ConfigError(path + ": compiled from model " + hash + ", expected model " + expected_hash);
    const int64_t ni = symbol<int64_t (*)()>(handle_, path, "mmsim_model_n_inputs")();
    const int64_t no = symbol<int64_t (*)()>(handle_, path, "mmsim_model_n_outputs")();
    if (ni != static_cast<int64_t>(n_inputs) || no != static_cast<int64_t>(n_outputs))
      throw ConfigError(path + ": the library takes " + std::to_string(ni) + " inputs and gives " +
                        std::to_string(no) + " outputs, expected " + std::to_string(n_inputs) + " and " +
                        std::to_string(n_outputs));
    const std::string joined = symbol<const char* (*)()>(handle_, path, "mmsim_model_output_names")();
    size_t start = 0;
    while (start <= joined.size() && names_.size() < static_cast<size_t>(no)) {
      const size_t end = joined.find('\n', start);
      names_.push_back(joined.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    if (names_.size() != static_cast<size_t>(no))
      throw ConfigError(path + ": the library names " + std::to_string(names_.size()) + " outputs, not " +
                        std::to_string(no));
    fn_ = symbol<void (*)(const double*, double*)>(handle_, path, "mmsim_model_predict");
  } catch (...) {
    dlclose(handle_);
    handle_ = nullptr;
    throw;
  }
}

CompiledModel::~CompiledModel() {
  if (handle_) dlclose(handle_);
}

}  // namespace mmsim
