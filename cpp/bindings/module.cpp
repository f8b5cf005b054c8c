// mmsim._core: one module, one register_<area> function per area (add an area = one line here).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_engine(py::module_& m);
void register_features(py::module_& m);
void register_models(py::module_& m);
void register_quoters(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "mmsim's compiled core: the C++ event loop and exchange simulator, with the Rust features linked in";
  register_engine(m);
  register_features(m);
  register_models(m);
  register_quoters(m);
}
