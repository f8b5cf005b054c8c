// The model types behind mmsim::Model (model.hpp): linear, logistic, multinomial, gradient-boosted trees from
// LightGBM's text format (flattened node arrays, LightGBM's exact decision rules), a small ReLU network, and an
// ahead-of-time compiled library (`mmsim model compile`) loaded with dlopen. The JSON model file is parsed in
// Python (src/mmsim/signals/models.py); these classes take plain arrays and check them once, at construction (ConfigError).
//
// Numerics (docs/models.md): inputs are standardised x' = (x - mean) / scale when the file has `preprocess`;
// then NaN -> 0 for linear, logistic, multinomial and mlp, while gbdt keeps NaN (LightGBM's missing-value rules
// decide). Linear, logistic and multinomial use four interleaved partial sums (dot() below), the network sums each
// output's inputs in order; the generated code of
// `mmsim model compile` repeats exactly these operations, so compiled and interpreted predictions are identical.
// predict() never allocates and is safe to call from several threads at once (scratch lives on the stack).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mmsim/model.hpp"

namespace mmsim {

// Largest input count and layer width accepted (predict's scratch is on the stack: at most 3 x 8192 doubles).
constexpr size_t kMaxModelWidth = 8192;
// The C ABI of a compiled model library, version 1 (symbols looked up by CompiledModel):
//   int         mmsim_model_abi(void);              -> kCompiledModelAbi
//   const char* mmsim_model_hash(void);             -> the model file's hash (mmsim.signals.models.model_hash)
//   int64_t     mmsim_model_n_inputs(void), mmsim_model_n_outputs(void);
//   const char* mmsim_model_output_names(void);     -> names joined by '\n'
//   void        mmsim_model_predict(const double* x, double* out);
constexpr int kCompiledModelAbi = 1;

// Optional standardisation; empty vectors = none.
struct Preprocess {
  std::vector<double> mean, scale;
  bool empty() const { return mean.empty(); }
};

// Four interleaved partial sums, combined as (a0 + a1) + (a2 + a3): the one summation order of every model.
inline double dot(const double* w, const double* x, size_t n) {
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += w[i] * x[i];
    a1 += w[i + 1] * x[i + 1];
    a2 += w[i + 2] * x[i + 2];
    a3 += w[i + 3] * x[i + 3];
  }
  for (; i < n; ++i) a0 += w[i] * x[i];
  return (a0 + a1) + (a2 + a3);
}

// LightGBM's softmax (max subtracted, exp, divide by the sequential sum), in place over k values.
inline void softmax(double* v, size_t k) {
  double m = v[0];
  for (size_t i = 1; i < k; ++i) m = v[i] > m ? v[i] : m;
  double s = 0.0;
  for (size_t i = 0; i < k; ++i) {
    v[i] = std::exp(v[i] - m);
    s += v[i];
  }
  for (size_t i = 0; i < k; ++i) v[i] /= s;
}

inline double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Base of the interpreted models: input count, output names, standardisation.
class BasicModel : public Model {
 public:
  size_t n_inputs() const override { return n_inputs_; }
  size_t n_outputs() const override { return names_.size(); }
  std::vector<std::string> output_names() const override { return names_; }

 protected:
  // names: the outputs (their count is checked against n_outputs, what the model computes).
  BasicModel(const char* what, size_t n_inputs, size_t n_outputs, std::vector<std::string> names, Preprocess pre);
  // x' into buf (n_inputs doubles): standardised when there is a preprocess; NaN -> 0 when nan_to_zero.
  void prepare(const double* x, double* buf, bool nan_to_zero) const;
  size_t n_inputs_;
  std::vector<std::string> names_;
  Preprocess pre_;
};

// move = w . x' + b
class LinearModel final : public BasicModel {
 public:
  LinearModel(std::vector<double> weights, double bias, Preprocess pre = {}, std::vector<std::string> names = {"move"});
  void predict(const double* x, double* out) const override;

 private:
  std::vector<double> w_;
  double b_;
};

// p_up = sigmoid(w . x' + b)
class LogisticModel final : public BasicModel {
 public:
  LogisticModel(std::vector<double> weights, double bias, Preprocess pre = {},
                std::vector<std::string> names = {"p_up"});
  void predict(const double* x, double* out) const override;

 private:
  std::vector<double> w_;
  double b_;
};

// p = softmax(W x' + b) over k classes (weights row-major k x n); with_move appends p[k-1] - p[0] (up - down).
class MultinomialModel final : public BasicModel {
 public:
  MultinomialModel(std::vector<double> weights, std::vector<double> bias, size_t n_inputs, Preprocess pre = {},
                   bool with_move = true, std::vector<std::string> names = {"p_down", "p_flat", "p_up", "move"});
  void predict(const double* x, double* out) const override;

 private:
  std::vector<double> w_, b_;
  size_t k_;
  bool with_move_;
};

// Dense ReLU network: h_{l+1} = relu(W_l h_l + b_l), no ReLU after the last layer; softmax over the last layer's
// outputs when `softmax` (then with_move appends p[k-1] - p[0]). Weights row-major [out][in]. Each output sums
// W[j][i] * h[i] for i = 0, 1, ... in order, then adds the bias (the outputs are independent, so the loop over them
// vectorises without changing any result).
class MlpModel final : public BasicModel {
 public:
  MlpModel(std::vector<std::vector<double>> weights, std::vector<std::vector<double>> biases, size_t n_inputs,
           bool softmax, Preprocess pre = {}, bool with_move = false, std::vector<std::string> names = {"move"});
  void predict(const double* x, double* out) const override;

 private:
  std::vector<std::vector<double>> w_, b_;  // w_ transposed: [in][out]
  std::vector<size_t> width_;  // width_[0] = n_inputs, width_[l + 1] = outputs of layer l
  size_t max_width_;
  bool softmax_, with_move_;
};

// A LightGBM ensemble as flat arrays (mmsim.signals.models.parse_lightgbm builds them from the text model).
struct GbdtArrays {
  enum Transform { Identity = 0, Sigmoid = 1, Softmax = 2 };
  size_t n_inputs = 0;
  int32_t n_classes = 1;            // trees per iteration: tree t adds to class t % n_classes
  int32_t transform = Identity;     // the objective's output transform
  double sigmoid = 1.0;             // binary: p = 1 / (1 + exp(-sigmoid * raw))
  bool average_output = false;      // random forest mode: raw /= number of iterations
  std::vector<int32_t> tree_nodes;  // n_trees + 1 offsets into the node arrays
  std::vector<int32_t> tree_leaves; // n_trees + 1 offsets into leaf_value (a tree has nodes + 1 leaves)
  // per internal node; children >= 0: a node of the same tree (always after its parent), < 0: leaf ~child
  std::vector<int32_t> split_feature, left_child, right_child;
  std::vector<int8_t> decision_type;  // LightGBM's bits: 1 categorical, 2 default left, (>> 2) & 3 missing type
  std::vector<double> threshold;      // numerical: x <= threshold goes left (+-inf allowed); categorical: cat index
  std::vector<double> leaf_value;
  std::vector<int32_t> cat_begin, cat_end;  // categorical split c: bitset words cat_words[cat_begin[c]..cat_end[c])
  std::vector<uint32_t> cat_words;
};

class GbdtModel final : public BasicModel {
 public:
  GbdtModel(GbdtArrays a, Preprocess pre = {}, bool with_move = false, std::vector<std::string> names = {"move"});
  void predict(const double* x, double* out) const override;

  // LightGBM's rules, shared with the generated code (docs/models.md "LightGBM semantics").
  static constexpr double kZero = static_cast<double>(1e-35f);  // LightGBM's kZeroThreshold
  // Its predictor drops inputs with |v| <= kZero (they read as 0.0); NaN is kept.
  static double filter(double v) { return std::fabs(v) <= kZero ? 0.0 : v; }
  static bool numerical_left(double v, double threshold, int8_t decision_type) {
    const int missing = (decision_type >> 2) & 3;  // 0 none, 1 zero, 2 NaN
    if (std::isnan(v) && missing != 2) v = 0.0;
    if ((missing == 1 && v >= -kZero && v <= kZero) || (missing == 2 && std::isnan(v))) return (decision_type & 2) != 0;
    return v <= threshold;
  }
  // NaN, negative (int) or out-of-int-range values go right; otherwise left iff bit int(v) is set.
  static bool categorical_left(double v, const uint32_t* words, int32_t n_words) {
    if (!(v > -1.0 && v < 2147483648.0)) return false;
    const int32_t c = static_cast<int32_t>(v);
    if (c / 32 >= n_words) return false;
    return ((words[c / 32] >> (c % 32)) & 1u) != 0;
  }

 private:
  static constexpr uint8_t kNanLeft = 2, kZeroLeft = 4;
  struct Node {
    double threshold;
    int32_t feature, left, right;
    int8_t type;    // LightGBM's decision_type
    uint8_t flags;  // 1 categorical; kNanLeft: NaN goes left; kZeroLeft: |x| <= kZero goes left
  };
  bool go_left(const Node& nd, double v) const;
  std::vector<Node> nodes_;
  std::vector<int32_t> tree_nodes_, tree_leaves_;
  std::vector<double> leaves_;
  std::vector<int32_t> cat_begin_, cat_end_;
  std::vector<uint32_t> cat_words_;
  size_t n_trees_, k_;
  int32_t transform_;
  double sigmoid_;
  bool average_;      // random forest mode: raw /= iterations_
  size_t iterations_;
  bool with_move_;
};

// A library built by `mmsim model compile`, loaded with dlopen. Checks the ABI version, the model hash and the
// input/output counts against what the caller expects (ConfigError naming the library otherwise).
class CompiledModel final : public Model {
 public:
  CompiledModel(const std::string& path, const std::string& expected_hash, size_t n_inputs, size_t n_outputs);
  ~CompiledModel() override;
  CompiledModel(const CompiledModel&) = delete;
  CompiledModel& operator=(const CompiledModel&) = delete;
  size_t n_inputs() const override { return n_inputs_; }
  size_t n_outputs() const override { return names_.size(); }
  std::vector<std::string> output_names() const override { return names_; }
  void predict(const double* x, double* out) const override { fn_(x, out); }
  const std::string& path() const { return path_; }

 private:
  void* handle_ = nullptr;
  void (*fn_)(const double*, double*) = nullptr;
  std::string path_;
  size_t n_inputs_;
  std::vector<std::string> names_;
};

}  // namespace mmsim
