//! O(1) incremental microstructure features for mmsim, behind a C ABI.
//!
//! Every exported function returns a status code and never panics: a panic across `extern "C"`
//! would abort the host process. State lives in caller-owned `#[repr(C)]` structs so an update
//! allocates nothing.

/// Status codes shared with `cpp/include/mmsim/features.h`.
pub const MMSIM_OK: i32 = 0;
pub const MMSIM_ERR_NULL: i32 = 1;
pub const MMSIM_ERR_HORIZON: i32 = 2;
pub const MMSIM_ERR_TIME: i32 = 3;
pub const MMSIM_ERR_VALUE: i32 = 4;

/// The feature bank (kinds × levels × horizons × windows) behind `cpp/include/mmsim/feature_bank.h`.
mod bank;
pub use bank::*;

/// Exact time-decayed EWMA of a piecewise-constant signal (e.g. the mid).
///
/// Between updates the signal holds its last value, so over a gap `dt` the average moves towards
/// that held value by `1 - exp(-dt / tau)`: the exact continuous-time EWMA of a step function,
/// correct for irregular gaps, O(1) per update.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MmsimEwma {
    pub tau_ns: f64,
    pub last_ts: i64,
    pub last_x: f64,
    pub value: f64,
    pub initialized: i32,
    pub _pad: i32,
}

impl MmsimEwma {
    fn decayed(&self, ts: i64) -> f64 {
        let dt = (ts - self.last_ts) as f64;
        let w = (-dt / self.tau_ns).exp();
        w * self.value + (1.0 - w) * self.last_x
    }
}

/// Initialise `state` with horizon `tau_ns` (> 0).
#[no_mangle]
pub extern "C" fn mmsim_ewma_init(state: *mut MmsimEwma, tau_ns: i64) -> i32 {
    if state.is_null() {
        return MMSIM_ERR_NULL;
    }
    if tau_ns <= 0 {
        return MMSIM_ERR_HORIZON;
    }
    // SAFETY: non-null, caller-owned, properly aligned (repr(C) struct allocated by the caller).
    unsafe {
        *state = MmsimEwma { tau_ns: tau_ns as f64, ..Default::default() };
    }
    MMSIM_OK
}

/// Feed the signal's new value `x` observed at `ts` (non-decreasing).
#[no_mangle]
pub extern "C" fn mmsim_ewma_update(state: *mut MmsimEwma, ts: i64, x: f64) -> i32 {
    if state.is_null() {
        return MMSIM_ERR_NULL;
    }
    if !x.is_finite() {
        return MMSIM_ERR_VALUE;
    }
    // SAFETY: see mmsim_ewma_init.
    let s = unsafe { &mut *state };
    if s.tau_ns <= 0.0 {
        return MMSIM_ERR_HORIZON;
    }
    if s.initialized == 0 {
        s.value = x;
        s.initialized = 1;
    } else {
        if ts < s.last_ts {
            return MMSIM_ERR_TIME;
        }
        s.value = s.decayed(ts);
    }
    s.last_x = x;
    s.last_ts = ts;
    MMSIM_OK
}

/// The average as of `ts` (>= the last update), without changing the state.
#[no_mangle]
pub extern "C" fn mmsim_ewma_value_at(state: *const MmsimEwma, ts: i64, out: *mut f64) -> i32 {
    if state.is_null() || out.is_null() {
        return MMSIM_ERR_NULL;
    }
    // SAFETY: see mmsim_ewma_init.
    let s = unsafe { &*state };
    if s.initialized == 0 {
        unsafe { *out = f64::NAN };
        return MMSIM_OK;
    }
    if ts < s.last_ts {
        return MMSIM_ERR_TIME;
    }
    unsafe { *out = s.decayed(ts) };
    MMSIM_OK
}

/// Batch mode: the same updates over arrays; `out[i]` is the value after update `i`.
#[no_mangle]
pub extern "C" fn mmsim_ewma_batch(
    ts: *const i64,
    x: *const f64,
    n: usize,
    tau_ns: i64,
    out: *mut f64,
) -> i32 {
    if n > 0 && (ts.is_null() || x.is_null() || out.is_null()) {
        return MMSIM_ERR_NULL;
    }
    let mut state = MmsimEwma::default();
    let rc = mmsim_ewma_init(&mut state, tau_ns);
    if rc != MMSIM_OK {
        return rc;
    }
    for i in 0..n {
        // SAFETY: the caller guarantees n readable/writable elements.
        let (t, v) = unsafe { (*ts.add(i), *x.add(i)) };
        let rc = mmsim_ewma_update(&mut state, t, v);
        if rc != MMSIM_OK {
            return rc;
        }
        unsafe { *out.add(i) = state.value };
    }
    MMSIM_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_function_decays_exactly() {
        let mut s = MmsimEwma::default();
        assert_eq!(mmsim_ewma_init(&mut s, 1_000), MMSIM_OK);
        assert_eq!(mmsim_ewma_update(&mut s, 0, 10.0), MMSIM_OK);
        assert_eq!(mmsim_ewma_update(&mut s, 1_000, 20.0), MMSIM_OK);
        // held 10 over one horizon: still 10
        assert!((s.value - 10.0).abs() < 1e-12);
        let mut v = 0.0;
        assert_eq!(mmsim_ewma_value_at(&s, 2_000, &mut v), MMSIM_OK);
        let w = (-1.0f64).exp();
        assert!((v - (w * 10.0 + (1.0 - w) * 20.0)).abs() < 1e-12);
    }

    #[test]
    fn errors_are_codes() {
        let mut s = MmsimEwma::default();
        assert_eq!(mmsim_ewma_init(std::ptr::null_mut(), 5), MMSIM_ERR_NULL);
        assert_eq!(mmsim_ewma_init(&mut s, 0), MMSIM_ERR_HORIZON);
        assert_eq!(mmsim_ewma_init(&mut s, 5), MMSIM_OK);
        assert_eq!(mmsim_ewma_update(&mut s, 10, 1.0), MMSIM_OK);
        assert_eq!(mmsim_ewma_update(&mut s, 9, 1.0), MMSIM_ERR_TIME);
        assert_eq!(mmsim_ewma_update(&mut s, 11, f64::NAN), MMSIM_ERR_VALUE);
    }
}
