/* C ABI of the Rust feature bank (rust/mmsim_features/src/bank.rs). Hand-written; keep in sync.
 *
 * A bank is built once from a list of specs (allocation happens only here), then updated once per event
 * the *strategy* sees, with the strategy-side book's top levels after that event and the trade it carried
 * (if any). Every function returns a status code (MMSIM_OK = 0, see features.h) and never unwinds. */
#ifndef MMSIM_FEATURE_BANK_H
#define MMSIM_FEATURE_BANK_H
#include <stddef.h>
#include <stdint.h>

#include "mmsim/features.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MMSIM_ERR_KIND = 5, MMSIM_ERR_LEVEL = 6, MMSIM_ERR_WINDOW = 7, MMSIM_ERR_ALLOC = 8 };

/* Feature kinds. horizon_ns: exponential-decay horizon (0 = not decayed, when the kind allows it);
 * window: event-count window (0 = none); level: book levels used (1 = top of book). */
enum MmsimFeatureKind {
  MMSIM_F_MID = 1,
  MMSIM_F_SPREAD = 2,
  MMSIM_F_MICROPRICE = 3,
  MMSIM_F_QUEUE_IMBALANCE = 4,
  MMSIM_F_DEPTH_IMBALANCE = 5,
  MMSIM_F_OFI = 6,
  MMSIM_F_TRADE_SIGN_IMBALANCE = 7,
  MMSIM_F_SIGNED_VOLUME = 8,
  MMSIM_F_REALIZED_VOL = 9,
  MMSIM_F_EVENT_INTENSITY = 10,
  MMSIM_F_TRADE_INTENSITY = 11,
  MMSIM_F_TIME_SINCE_TRADE = 12,
  MMSIM_F_TIME_SINCE_MID_CHANGE = 13,
  MMSIM_F_VPIN = 14,
  MMSIM_F_MID_RETURN = 15,
};

typedef struct MmsimFeatureSpec {
  int32_t kind;
  int32_t level;
  int64_t horizon_ns;
  int64_t window;
} MmsimFeatureSpec;

/* One strategy-side observation: the book after the event, top `levels` per side (price in ticks, qty in
 * lots; qty 0 = no level), and the trade the event carried (trade_qty 0 = none; sign +1 buyer-initiated). */
typedef struct MmsimObservation {
  int64_t ts;
  const int64_t* bid_px;
  const int64_t* bid_qty;
  const int64_t* ask_px;
  const int64_t* ask_qty;
  int32_t levels;
  int32_t trade_sign;
  int64_t trade_price;
  int64_t trade_qty;
} MmsimObservation;

typedef struct MmsimBank MmsimBank;

/* Build a bank; `max_levels` is the most book levels any observation will carry. */
int32_t mmsim_bank_new(const MmsimFeatureSpec* specs, size_t n_specs, int32_t max_levels, MmsimBank** out);
int32_t mmsim_bank_free(MmsimBank* bank);
/* Check one spec without building a bank (for clear errors naming the spec). */
int32_t mmsim_bank_check_spec(const MmsimFeatureSpec* spec, int32_t max_levels);
int32_t mmsim_bank_update(MmsimBank* bank, const MmsimObservation* obs);
/* Values of all features as of `now` (>= the last update's ts): decayed quantities decay to `now`. */
int32_t mmsim_bank_values(const MmsimBank* bank, int64_t now, double* out, size_t n_out);
size_t mmsim_bank_len(const MmsimBank* bank);

#ifdef __cplusplus
}
#endif
#endif
