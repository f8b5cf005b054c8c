// Bindings of the prediction models (cpp/include/mmsim/models.hpp). The JSON model file is read in Python
// (src/mmsim/signals/models.py), which calls these constructors with numpy arrays; the engine takes any _core.Model.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mmsim/models.hpp"
#include "mmsim/records.hpp"

namespace py = pybind11;
using namespace mmsim;

namespace {

using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;

template <class T>
std::vector<T> vec(const py::handle& h, const char* name, int ndim = 1) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a) throw ConfigError(std::string(name) + ": expected a numeric array");
  if (a.ndim() != ndim) throw ConfigError(std::string(name) + ": expected " + std::to_string(ndim) + "-d, got " +
                                          std::to_string(a.ndim()) + "-d");
  return std::vector<T>(a.data(), a.data() + a.size());
}

Preprocess preprocess(const py::object& mean, const py::object& scale) {
  if (mean.is_none() != scale.is_none()) throw ConfigError("preprocess: give both mean and scale, or neither");
  Preprocess p;
  if (!mean.is_none()) {
    p.mean = vec<double>(mean, "mean");
    p.scale = vec<double>(scale, "scale");
  }
  return p;
}

std::vector<std::string> class_names(size_t k, bool with_move) {
  std::vector<std::string> n;
  if (k == 3) n = {"p_down", "p_flat", "p_up"};
  else
    for (size_t i = 0; i < k; ++i) n.push_back("p_" + std::to_string(i));
  if (with_move) n.push_back("move");
  return n;
}

std::vector<std::string> names_or(const py::object& names, std::vector<std::string> fallback) {
  return names.is_none() ? std::move(fallback) : names.cast<std::vector<std::string>>();
}

// Rows of X as a contiguous float64 (m, n) view; a 1-d x is one row.
F64 rows(const Model& model, const py::handle& x, bool& one) {
  F64 a = F64::ensure(x);
  if (!a) throw ConfigError("predict: inputs must be a float64 array");
  if (a.ndim() != 1 && a.ndim() != 2) throw ConfigError("predict: inputs must be (n_inputs,) or (rows, n_inputs)");
  one = a.ndim() == 1;
  const py::ssize_t n = a.shape(a.ndim() - 1);
  if (static_cast<size_t>(n) != model.n_inputs())
    throw ConfigError("predict: the model takes " + std::to_string(model.n_inputs()) + " inputs, got " +
                      std::to_string(n));
  return a;
}

}  // namespace

void register_models(py::module_& m) {
  py::class_<Model, std::shared_ptr<Model>>(m, "Model", "A prediction model the event loop calls at each wakeup.")
      .def_property_readonly("n_inputs", &Model::n_inputs, "Number of inputs (the feature bank's size).")
      .def_property_readonly("n_outputs", &Model::n_outputs, "Number of outputs.")
      .def_property_readonly("output_names", &Model::output_names, "Output names, in order.")
      .def(
          "predict",
          [](const Model& model, const py::handle& x) {
            bool one = false;
            F64 a = rows(model, x, one);
            const py::ssize_t r = one ? 1 : a.shape(0), n = static_cast<py::ssize_t>(model.n_inputs()),
                              k = static_cast<py::ssize_t>(model.n_outputs());
            py::array_t<double> out = one ? py::array_t<double>(k) : py::array_t<double>({r, k});
            const double* src = a.data();
            double* dst = out.mutable_data();
            {
              py::gil_scoped_release release;
              for (py::ssize_t i = 0; i < r; ++i) model.predict(src + i * n, dst + i * k);
            }
            return out;
          },
          py::arg("x"),
          "Predict from raw feature values: x (n_inputs,) -> (n_outputs,), or (rows, n_inputs) -> (rows, n_outputs).");

  py::class_<LinearModel, Model, std::shared_ptr<LinearModel>>(m, "LinearModel", "move = w . x' + b")
      .def(py::init([](const py::handle& w, double b, const py::object& mean, const py::object& scale,
                       const py::object& names) {
             return std::make_shared<LinearModel>(vec<double>(w, "weights"), b, preprocess(mean, scale),
                                                  names_or(names, {"move"}));
           }),
           py::arg("weights"), py::arg("bias"), py::arg("mean") = py::none(), py::arg("scale") = py::none(),
           py::arg("output_names") = py::none());

  py::class_<LogisticModel, Model, std::shared_ptr<LogisticModel>>(m, "LogisticModel", "p_up = sigmoid(w . x' + b)")
      .def(py::init([](const py::handle& w, double b, const py::object& mean, const py::object& scale,
                       const py::object& names) {
             return std::make_shared<LogisticModel>(vec<double>(w, "weights"), b, preprocess(mean, scale),
                                                    names_or(names, {"p_up"}));
           }),
           py::arg("weights"), py::arg("bias"), py::arg("mean") = py::none(), py::arg("scale") = py::none(),
           py::arg("output_names") = py::none());

  py::class_<MultinomialModel, Model, std::shared_ptr<MultinomialModel>>(
      m, "MultinomialModel", "Class probabilities softmax(W x' + b); with_move appends p_up - p_down.")
      .def(py::init([](const py::handle& w, const py::handle& b, const py::object& mean, const py::object& scale,
                       bool with_move, const py::object& names) {
             auto W = F64::ensure(w);
             if (!W || W.ndim() != 2) throw ConfigError("weights: expected a 2-d (classes, n_inputs) array");
             const size_t n = static_cast<size_t>(W.shape(1));
             std::vector<double> bias = vec<double>(b, "bias");
             const size_t k = bias.size();
             return std::make_shared<MultinomialModel>(std::vector<double>(W.data(), W.data() + W.size()),
                                                       std::move(bias), n, preprocess(mean, scale), with_move,
                                                       names_or(names, class_names(k, with_move)));
           }),
           py::arg("weights"), py::arg("bias"), py::arg("mean") = py::none(), py::arg("scale") = py::none(),
           py::arg("with_move") = true, py::arg("output_names") = py::none());

  py::class_<MlpModel, Model, std::shared_ptr<MlpModel>>(
      m, "MlpModel", "Dense ReLU network (weights [out][in] per layer); optional softmax over the last layer.")
      .def(py::init([](const py::sequence& weights, const py::sequence& biases, bool softmax, const py::object& mean,
                       const py::object& scale, bool with_move, const py::object& names) {
             std::vector<std::vector<double>> W, B;
             size_t n_inputs = 0;
             for (size_t l = 0; l < weights.size(); ++l) {
               auto a = F64::ensure(weights[l]);
               if (!a || a.ndim() != 2) throw ConfigError("weights[" + std::to_string(l) + "]: expected a 2-d array");
               if (l == 0) n_inputs = static_cast<size_t>(a.shape(1));
               W.emplace_back(a.data(), a.data() + a.size());
             }
             for (size_t l = 0; l < biases.size(); ++l)
               B.push_back(vec<double>(biases[l], ("biases[" + std::to_string(l) + "]").c_str()));
             const size_t k = B.empty() ? 0 : B.back().size();
             std::vector<std::string> fallback = softmax ? class_names(k, with_move) : std::vector<std::string>{};
             if (!softmax) {
               if (k == 1) fallback = {"move"};
               else
                 for (size_t i = 0; i < k; ++i) fallback.push_back("y_" + std::to_string(i));
             }
             return std::make_shared<MlpModel>(std::move(W), std::move(B), n_inputs, softmax, preprocess(mean, scale),
                                               with_move, names_or(names, fallback));
           }),
           py::arg("weights"), py::arg("biases"), py::arg("softmax") = false, py::arg("mean") = py::none(),
           py::arg("scale") = py::none(), py::arg("with_move") = false, py::arg("output_names") = py::none());

  py::class_<GbdtModel, Model, std::shared_ptr<GbdtModel>>(
      m, "GbdtModel", "A LightGBM ensemble as flat node arrays (mmsim.signals.models.parse_lightgbm); LightGBM's rules.")
      .def(py::init([](size_t n_inputs, int32_t n_classes, const std::string& transform, double sigmoid,
                       bool average_output, const py::handle& tree_nodes, const py::handle& tree_leaves,
                       const py::handle& split_feature, const py::handle& threshold, const py::handle& decision_type,
                       const py::handle& left_child, const py::handle& right_child, const py::handle& leaf_value,
                       const py::handle& cat_begin, const py::handle& cat_end, const py::handle& cat_words,
                       const py::object& mean, const py::object& scale, bool with_move, const py::object& names) {
             GbdtArrays a;
             a.n_inputs = n_inputs;
             a.n_classes = n_classes;
             if (transform == "identity") a.transform = GbdtArrays::Identity;
             else if (transform == "sigmoid") a.transform = GbdtArrays::Sigmoid;
             else if (transform == "softmax") a.transform = GbdtArrays::Softmax;
             else
               throw ConfigError("gbdt model: transform must be identity, sigmoid or softmax, not '" + transform + "'");
             a.sigmoid = sigmoid;
             a.average_output = average_output;
             a.tree_nodes = vec<int32_t>(tree_nodes, "tree_nodes");
             a.tree_leaves = vec<int32_t>(tree_leaves, "tree_leaves");
             a.split_feature = vec<int32_t>(split_feature, "split_feature");
             a.threshold = vec<double>(threshold, "threshold");
             a.decision_type = vec<int8_t>(decision_type, "decision_type");
             a.left_child = vec<int32_t>(left_child, "left_child");
             a.right_child = vec<int32_t>(right_child, "right_child");
             a.leaf_value = vec<double>(leaf_value, "leaf_value");
             a.cat_begin = vec<int32_t>(cat_begin, "cat_begin");
             a.cat_end = vec<int32_t>(cat_end, "cat_end");
             a.cat_words = vec<uint32_t>(cat_words, "cat_words");
             std::vector<std::string> fallback;
             if (a.transform == GbdtArrays::Softmax) fallback = class_names(static_cast<size_t>(n_classes), with_move);
             else fallback = {a.transform == GbdtArrays::Sigmoid ? "p_up" : "move"};
             return std::make_shared<GbdtModel>(std::move(a), preprocess(mean, scale), with_move,
                                                names_or(names, fallback));
           }),
           py::arg("n_inputs"), py::arg("n_classes"), py::arg("transform"), py::arg("sigmoid"),
           py::arg("average_output"), py::arg("tree_nodes"), py::arg("tree_leaves"), py::arg("split_feature"),
           py::arg("threshold"), py::arg("decision_type"), py::arg("left_child"), py::arg("right_child"),
           py::arg("leaf_value"), py::arg("cat_begin"), py::arg("cat_end"), py::arg("cat_words"),
           py::arg("mean") = py::none(), py::arg("scale") = py::none(), py::arg("with_move") = false,
           py::arg("output_names") = py::none());

  py::class_<CompiledModel, Model, std::shared_ptr<CompiledModel>>(
      m, "CompiledModel", "A library built by `mmsim model compile`, loaded with dlopen (see load_compiled).")
      .def_property_readonly("path", &CompiledModel::path, "The shared library.");

  m.def(
      "load_compiled",
      [](const std::string& path, const std::string& expected_hash, size_t n_inputs, size_t n_outputs) {
        return std::make_shared<CompiledModel>(path, expected_hash, n_inputs, n_outputs);
      },
      py::arg("path"), py::arg("expected_hash"), py::arg("n_inputs"), py::arg("n_outputs"),
      "Load a compiled model library; ConfigError unless its ABI, model hash and input/output counts match.");

  m.def(
      "model_bench",
      [](const Model& model, const py::handle& x, int repeats) {
        bool one = false;
        F64 a = rows(model, x, one);
        const size_t r = one ? 1 : static_cast<size_t>(a.shape(0)), n = model.n_inputs();
        std::vector<double> out(model.n_outputs());
        double best = 1e300, checksum = 0.0;
        const double* src = a.data();
        {
          py::gil_scoped_release release;
          using clock = std::chrono::steady_clock;
          for (int rep = 0; rep < (repeats > 0 ? repeats : 1); ++rep) {
            const auto t0 = clock::now();
            for (size_t i = 0; i < r; ++i) {
              model.predict(src + i * n, out.data());
              checksum += out[0];
            }
            const auto t1 = clock::now();
            best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
          }
        }
        volatile double sink = checksum;  // keep the predictions observable
        (void)sink;
        return best / static_cast<double>(r > 0 ? r : 1);
      },
      py::arg("model"), py::arg("x"), py::arg("repeats") = 5,
      "ns per prediction: predict each row of x in a C++ loop, best of `repeats` passes.");
}
