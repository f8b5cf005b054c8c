/* C ABI of the Rust crate rust/mmsim_features (hand-written; keep in sync with src/lib.rs).
 * Every function returns a status code (MMSIM_OK = 0) and never unwinds. */
#ifndef MMSIM_FEATURES_H
#define MMSIM_FEATURES_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

enum { MMSIM_OK = 0, MMSIM_ERR_NULL = 1, MMSIM_ERR_HORIZON = 2, MMSIM_ERR_TIME = 3, MMSIM_ERR_VALUE = 4 };

/* Exact time-decayed EWMA of a piecewise-constant signal. Caller-owned state; no allocation. */
typedef struct MmsimEwma {
  double tau_ns;
  int64_t last_ts;
  double last_x;
  double value;
  int32_t initialized;
  int32_t _pad;
} MmsimEwma;

int32_t mmsim_ewma_init(MmsimEwma* state, int64_t tau_ns);
int32_t mmsim_ewma_update(MmsimEwma* state, int64_t ts, double x);
int32_t mmsim_ewma_value_at(const MmsimEwma* state, int64_t ts, double* out);
int32_t mmsim_ewma_batch(const int64_t* ts, const double* x, size_t n, int64_t tau_ns, double* out);

#ifdef __cplusplus
}
#endif
#endif
