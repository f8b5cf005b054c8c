// The interface the event loop calls at each wakeup: features in (the bank's values, spec order), outputs out.
// Implementations (cpp/src/models.cpp): linear, logistic, multinomial, gradient-boosted trees from LightGBM's
// text format, a small ReLU network, and an ahead-of-time compiled library loaded with dlopen.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace mmsim {

class Model {
 public:
  virtual ~Model() = default;
  virtual size_t n_inputs() const = 0;
  virtual size_t n_outputs() const = 0;
  // x: n_inputs() raw feature values (NaN allowed: see docs/models.md); out: n_outputs() values.
  // Never allocates; throws ConfigError only on a broken model (checked at construction).
  virtual void predict(const double* x, double* out) const = 0;
  virtual std::vector<std::string> output_names() const = 0;
};

}  // namespace mmsim
