//! The feature bank: a list of feature specs (kind × level × horizon × window) updated once per event the
//! strategy sees, behind the C ABI of `cpp/include/mmsim/feature_bank.h`.
//!
//! Design (docs/features.md has the formulas):
//!
//! - Everything is allocated in `mmsim_bank_new` (with `try_reserve`, so an impossible size is
//!   `MMSIM_ERR_ALLOC`, not an abort). `mmsim_bank_update` and `mmsim_bank_values` allocate nothing.
//! - An update first validates the observation (nothing changes on an error), then computes the per-event
//!   *signals* once (mid, spread, microprice and depth imbalance per level, order-flow imbalance per level,
//!   log return, trade sign and volume…), then one `exp` per distinct horizon, then runs flat loops over
//!   typed accumulators: decayed sums, decayed means, step EWMAs, event-window sums, VPIN buckets. Each
//!   accumulator is O(1) per update; signals are O(levels).
//! - Exact exponential decay over irregular gaps: a decayed sum is `S <- S·exp(-Δt/H) + x`; equal
//!   timestamps give Δt = 0 (factor 1). `values(now)` decays to `now`.
//! - Window sums are exact: each term is rounded once to a fixed-point integer (scale 1 for integer
//!   signals such as order flow, 2^-100 for log returns) and summed in wrapping i128, so adding and
//!   removing a term never leaves floating-point residue, however long the run.
//! - No panics: no unchecked indexing (`get`/iterators only, enforced by the lints below), no integer
//!   division, wrapping or saturating integer arithmetic where overflow is conceivable.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]
// The extern "C" entry points take raw pointers by design; each checks them (null, alignment) first.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use crate::{MMSIM_ERR_HORIZON, MMSIM_ERR_NULL, MMSIM_ERR_TIME, MMSIM_ERR_VALUE, MMSIM_OK};

/// Status codes added by the bank (`feature_bank.h`).
pub const MMSIM_ERR_KIND: i32 = 5;
pub const MMSIM_ERR_LEVEL: i32 = 6;
pub const MMSIM_ERR_WINDOW: i32 = 7;
pub const MMSIM_ERR_ALLOC: i32 = 8;

/// Feature kinds (`enum MmsimFeatureKind`).
pub const MMSIM_F_MID: i32 = 1;
pub const MMSIM_F_SPREAD: i32 = 2;
pub const MMSIM_F_MICROPRICE: i32 = 3;
pub const MMSIM_F_QUEUE_IMBALANCE: i32 = 4;
pub const MMSIM_F_DEPTH_IMBALANCE: i32 = 5;
pub const MMSIM_F_OFI: i32 = 6;
pub const MMSIM_F_TRADE_SIGN_IMBALANCE: i32 = 7;
pub const MMSIM_F_SIGNED_VOLUME: i32 = 8;
pub const MMSIM_F_REALIZED_VOL: i32 = 9;
pub const MMSIM_F_EVENT_INTENSITY: i32 = 10;
pub const MMSIM_F_TRADE_INTENSITY: i32 = 11;
pub const MMSIM_F_TIME_SINCE_TRADE: i32 = 12;
pub const MMSIM_F_TIME_SINCE_MID_CHANGE: i32 = 13;
pub const MMSIM_F_VPIN: i32 = 14;
pub const MMSIM_F_MID_RETURN: i32 = 15;

/// Most book levels a bank accepts (`max_levels`).
pub const MMSIM_BANK_MAX_LEVELS: i32 = 1024;
/// Longest event window (observations or trades).
pub const MMSIM_BANK_MAX_WINDOW: i64 = 10_000_000;
/// Number of buckets averaged by an undecayed VPIN (Easley, López de Prado, O'Hara 2012 use 50).
pub const MMSIM_VPIN_BUCKETS: usize = 50;

/// Fixed-point scale of real-valued window terms (log returns and their squares): 2^100.
const REAL_SCALE: f64 = 1_267_650_600_228_229_401_496_703_205_376.0;
const NS_PER_S: f64 = 1e9;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmsimFeatureSpec {
    pub kind: i32,
    pub level: i32,
    pub horizon_ns: i64,
    pub window: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MmsimObservation {
    pub ts: i64,
    pub bid_px: *const i64,
    pub bid_qty: *const i64,
    pub ask_px: *const i64,
    pub ask_qty: *const i64,
    pub levels: i32,
    pub trade_sign: i32,
    pub trade_price: i64,
    pub trade_qty: i64,
}

// ------------------------------------------------------------------------------------------------ specs

/// What parameters a kind takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// A book quantity at one instant; `horizon_ns > 0` turns it into a time-weighted EWMA. No window.
    /// `multi`: level may be 1..=max_levels, otherwise it must be 1.
    Level { multi: bool },
    /// A flow: needs exactly one of `horizon_ns > 0` (decayed sum) or `window > 0` (event window).
    /// `multi`: level 1..=max_levels; otherwise level 0 or 1 (ignored).
    Flow { multi: bool },
    /// Needs `horizon_ns > 0`, no window.
    Intensity,
    /// No horizon, no window.
    Clock,
    /// VPIN: `window` = bucket volume in lots (> 0); `horizon_ns` optional.
    Vpin,
}

fn shape(kind: i32) -> Option<Shape> {
    match kind {
        MMSIM_F_MID | MMSIM_F_SPREAD | MMSIM_F_QUEUE_IMBALANCE => Some(Shape::Level { multi: false }),
        MMSIM_F_MICROPRICE | MMSIM_F_DEPTH_IMBALANCE => Some(Shape::Level { multi: true }),
        MMSIM_F_OFI => Some(Shape::Flow { multi: true }),
        MMSIM_F_TRADE_SIGN_IMBALANCE | MMSIM_F_SIGNED_VOLUME | MMSIM_F_REALIZED_VOL | MMSIM_F_MID_RETURN => {
            Some(Shape::Flow { multi: false })
        }
        MMSIM_F_EVENT_INTENSITY | MMSIM_F_TRADE_INTENSITY => Some(Shape::Intensity),
        MMSIM_F_TIME_SINCE_TRADE | MMSIM_F_TIME_SINCE_MID_CHANGE => Some(Shape::Clock),
        MMSIM_F_VPIN => Some(Shape::Vpin),
        _ => None,
    }
}

/// Validate one spec against the book depth. Order of checks: kind, level, horizon, window.
fn check(spec: &MmsimFeatureSpec, max_levels: i32) -> i32 {
    if !(0..=MMSIM_BANK_MAX_LEVELS).contains(&max_levels) {
        return MMSIM_ERR_LEVEL;
    }
    let Some(sh) = shape(spec.kind) else { return MMSIM_ERR_KIND };
    let (h, w) = (spec.horizon_ns, spec.window);
    let level_ok = match sh {
        Shape::Level { multi: true } | Shape::Flow { multi: true } => spec.level >= 1 && spec.level <= max_levels,
        Shape::Level { multi: false } => spec.level == 1 && max_levels >= 1,
        Shape::Flow { multi: false } | Shape::Intensity | Shape::Clock | Shape::Vpin => {
            spec.level == 0 || spec.level == 1
        }
    };
    if !level_ok {
        return MMSIM_ERR_LEVEL;
    }
    if h < 0 {
        return MMSIM_ERR_HORIZON;
    }
    match sh {
        Shape::Level { .. } => {
            if w != 0 {
                return MMSIM_ERR_WINDOW;
            }
        }
        Shape::Flow { .. } => {
            if h == 0 && w == 0 {
                return MMSIM_ERR_HORIZON;
            }
            if h > 0 && w != 0 {
                return MMSIM_ERR_WINDOW;
            }
            if !(0..=MMSIM_BANK_MAX_WINDOW).contains(&w) {
                return MMSIM_ERR_WINDOW;
            }
        }
        Shape::Intensity => {
            if h == 0 {
                return MMSIM_ERR_HORIZON;
            }
            if w != 0 {
                return MMSIM_ERR_WINDOW;
            }
        }
        Shape::Clock => {
            if h != 0 {
                return MMSIM_ERR_HORIZON;
            }
            if w != 0 {
                return MMSIM_ERR_WINDOW;
            }
        }
        Shape::Vpin => {
            if w <= 0 {
                return MMSIM_ERR_WINDOW;
            }
        }
    }
    MMSIM_OK
}

// ---------------------------------------------------------------------------------------------- signals

// Per-event signals, computed once per update into `Bank::sig`. Level signals are NaN when undefined.
const S_ONE: usize = 0; // 1 per observation
const S_TRADE: usize = 1; // 1 if the observation carries a trade
const S_SIGN: usize = 2; // trade sign (0 without a trade)
const S_SVOL: usize = 3; // sign × qty
const S_R: usize = 4; // mid log return since the previous usable mid (0 if none)
const S_R2: usize = 5; // its square
const S_MID: usize = 6;
const S_SPREAD: usize = 7;
const S_QI: usize = 8;
const S_BASE: usize = 9; // then ofi[L], micro[L], di[L]

// --------------------------------------------------------------------------------------- accumulators

/// Decayed sum of a signal: `v <- v·d[h] + sig[s]`.
#[derive(Clone, Copy, Debug, Default)]
struct DSum {
    h: usize,
    s: usize,
    v: f64,
}

/// Decayed mean of a signal over trades (or VPIN buckets): `mean = Σ w x / Σ w`, kept as the mean and the
/// decayed weight `den` so that a long quiet spell (den underflowing) loses nothing.
#[derive(Clone, Copy, Debug, Default)]
struct DMean {
    h: usize,
    s: usize,
    mean: f64,
    den: f64,
}

/// Exact time-weighted EWMA of a piecewise-constant (held) signal, like `MmsimEwma`.
#[derive(Clone, Copy, Debug, Default)]
struct Ewma {
    h: usize,
    s: usize,
    e: f64,
}

/// Sum of a signal over the last `w` observations (or trades), exact in fixed point.
#[derive(Clone, Copy, Debug, Default)]
struct Win {
    s: usize,
    trades: bool,
    scale: f64,
    off: usize,
    w: usize,
    pos: usize,
    n: u64,
    sum: i128,
}

/// VPIN over volume buckets of `v` lots.
#[derive(Clone, Copy, Debug, Default)]
struct Vpin {
    v: i64,
    fill: i64,
    buy: i64,
    sell: i64,
    completed: u64,
    /// Decayed mode: horizon index; otherwise `NO_H` and a ring of the last `MMSIM_VPIN_BUCKETS`
    /// imbalances |buy - sell| (lots) at `off`.
    h: usize,
    mean: f64,
    den: f64,
    off: usize,
    pos: usize,
    sum: i128,
}

const NO_H: usize = usize::MAX;

#[derive(Clone, Copy, Debug)]
enum Out {
    /// The signal as of the last update.
    Signal(usize),
    /// EWMA index.
    Ewma(usize),
    /// DSum index × scale (1, or 1e9/H for intensities).
    Sum(usize, f64),
    /// sqrt of a DSum (realised volatility).
    SqrtSum(usize),
    /// Decayed mean (needs at least one trade).
    Mean(usize),
    /// Window sum / its scale.
    WinSum(usize),
    /// sqrt(window sum).
    WinSqrt(usize),
    /// Window sum / number of terms in it (trade-sign mean).
    WinMean(usize),
    TimeSinceTrade,
    TimeSinceMidChange,
    Vpin(usize),
}

/// Outputs sharing one horizon: `values` computes one decay factor per group.
#[derive(Clone, Copy, Debug)]
struct Group {
    h: usize,
    start: usize,
    end: usize,
}

pub struct Bank {
    n_out: usize,
    /// Book levels read from each observation: the deepest level any spec uses.
    levels: usize,
    /// Levels of the order-flow signals, and of the microprice / depth-imbalance signals, computed.
    ofi_levels: usize,
    book_levels: usize,
    /// Whether the mid log return is computed.
    need_ret: bool,
    /// 1/k for level k (depth-imbalance weights).
    inv_level: Vec<f64>,
    // horizons
    horizon: Vec<f64>,
    d: Vec<f64>,
    om: Vec<f64>,
    // signals
    sig: Vec<f64>,
    held: Vec<f64>,
    has_held: Vec<bool>,
    // books: current (scratch until committed) and previous
    cb_px: Vec<i64>,
    cb_q: Vec<i64>,
    ca_px: Vec<i64>,
    ca_q: Vec<i64>,
    pb_px: Vec<i64>,
    pb_q: Vec<i64>,
    pa_px: Vec<i64>,
    pa_q: Vec<i64>,
    // accumulators
    dsums: Vec<DSum>,
    dmeans: Vec<DMean>,
    ewmas: Vec<Ewma>,
    wins: Vec<Win>,
    ring: Vec<i128>,
    vpins: Vec<Vpin>,
    vring: Vec<i128>,
    // outputs: (output index, how), ordered by group
    outs: Vec<(usize, Out)>,
    groups: Vec<Group>,
    // clocks
    started: bool,
    last_ts: i64,
    n_trades: u64,
    last_trade_ts: i64,
    has_mid: bool,
    last_mid: f64,
    mid_change_ts: i64,
    has_ret_mid: bool,
    ret_mid: f64,
}

fn alloc<T: Clone>(n: usize, v: T) -> Result<Vec<T>, i32> {
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| MMSIM_ERR_ALLOC)?;
    out.resize(n, v);
    Ok(out)
}

fn with_capacity<T>(n: usize) -> Result<Vec<T>, i32> {
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| MMSIM_ERR_ALLOC)?;
    Ok(out)
}

#[inline]
fn sig_ofi(level: usize) -> usize {
    S_BASE + level - 1
}

impl Bank {
    fn new(specs: &[MmsimFeatureSpec], max_levels: i32) -> Result<Bank, i32> {
        for s in specs {
            let rc = check(s, max_levels);
            if rc != MMSIM_OK {
                return Err(rc);
            }
        }
        // Levels actually read: the deepest level any spec uses (at least 1 when a book kind is present).
        // Kinds built on the mid (returns, time since it changed) read level 1 too.
        let mut levels = 0usize;
        for s in specs {
            if matches!(shape(s.kind), Some(Shape::Level { .. }) | Some(Shape::Flow { multi: true })) {
                levels = levels.max(usize::try_from(s.level).unwrap_or(1).max(1));
            }
            if matches!(s.kind, MMSIM_F_REALIZED_VOL | MMSIM_F_MID_RETURN | MMSIM_F_TIME_SINCE_MID_CHANGE) {
                levels = levels.max(1);
            }
        }
        // Which per-event signals some spec reads (the others are not computed).
        let lvl_of = |s: &MmsimFeatureSpec| usize::try_from(s.level).unwrap_or(1).max(1);
        let ofi_levels = specs.iter().filter(|s| s.kind == MMSIM_F_OFI).map(lvl_of).max().unwrap_or(0);
        let book_levels = specs
            .iter()
            .filter(|s| s.kind == MMSIM_F_MICROPRICE || s.kind == MMSIM_F_DEPTH_IMBALANCE)
            .map(lvl_of)
            .max()
            .unwrap_or(0);
        let need_ret = specs.iter().any(|s| s.kind == MMSIM_F_REALIZED_VOL || s.kind == MMSIM_F_MID_RETURN);
        let mut inv_level: Vec<f64> = with_capacity(levels)?;
        inv_level.extend((1..=levels).map(|k| 1.0 / k as f64));
        let n_sig = S_BASE + 3 * levels;
        let sig_micro = |l: usize| S_BASE + levels + l - 1;
        let sig_di = |l: usize| S_BASE + 2 * levels + l - 1;

        // distinct horizons
        let mut horizon: Vec<f64> = with_capacity(specs.len())?;
        let mut h_of = |ns: i64| -> usize {
            let hf = ns as f64;
            match horizon.iter().position(|&x| x == hf) {
                Some(i) => i,
                None => {
                    horizon.push(hf);
                    horizon.len() - 1
                }
            }
        };

        let mut dsums: Vec<DSum> = with_capacity(specs.len())?;
        let mut dmeans: Vec<DMean> = with_capacity(specs.len())?;
        let mut ewmas: Vec<Ewma> = with_capacity(specs.len())?;
        let mut wins: Vec<Win> = with_capacity(specs.len())?;
        let mut vpins: Vec<Vpin> = with_capacity(specs.len())?;
        let mut tagged: Vec<(usize, usize, Out)> = with_capacity(specs.len())?; // (horizon or NO_H, index, out)
        let mut ring_len = 0usize;
        let mut vring_len = 0usize;

        for (i, s) in specs.iter().enumerate() {
            let lvl = usize::try_from(s.level).unwrap_or(1).max(1);
            let win = usize::try_from(s.window).unwrap_or(0);
            let hz = s.horizon_ns > 0;
            let mut add_win = |sig: usize, trades: bool, scale: f64, wins: &mut Vec<Win>| -> usize {
                wins.push(Win { s: sig, trades, scale, off: ring_len, w: win, ..Default::default() });
                ring_len = ring_len.saturating_add(win);
                wins.len() - 1
            };
            let (hidx, out) = match s.kind {
                MMSIM_F_MID
                | MMSIM_F_SPREAD
                | MMSIM_F_QUEUE_IMBALANCE
                | MMSIM_F_MICROPRICE
                | MMSIM_F_DEPTH_IMBALANCE => {
                    let sig = match s.kind {
                        MMSIM_F_MID => S_MID,
                        MMSIM_F_SPREAD => S_SPREAD,
                        MMSIM_F_QUEUE_IMBALANCE => S_QI,
                        MMSIM_F_MICROPRICE => sig_micro(lvl),
                        _ => sig_di(lvl),
                    };
                    if hz {
                        let h = h_of(s.horizon_ns);
                        ewmas.push(Ewma { h, s: sig, e: f64::NAN });
                        (h, Out::Ewma(ewmas.len() - 1))
                    } else {
                        (NO_H, Out::Signal(sig))
                    }
                }
                MMSIM_F_OFI | MMSIM_F_SIGNED_VOLUME | MMSIM_F_REALIZED_VOL | MMSIM_F_MID_RETURN => {
                    let (sig, trades, scale) = match s.kind {
                        MMSIM_F_OFI => (sig_ofi(lvl), false, 1.0),
                        MMSIM_F_SIGNED_VOLUME => (S_SVOL, true, 1.0),
                        MMSIM_F_REALIZED_VOL => (S_R2, false, REAL_SCALE),
                        _ => (S_R, false, REAL_SCALE),
                    };
                    let sqrt = s.kind == MMSIM_F_REALIZED_VOL;
                    if hz {
                        let h = h_of(s.horizon_ns);
                        dsums.push(DSum { h, s: sig, v: 0.0 });
                        let k = dsums.len() - 1;
                        (h, if sqrt { Out::SqrtSum(k) } else { Out::Sum(k, 1.0) })
                    } else {
                        let k = add_win(sig, trades, scale, &mut wins);
                        (NO_H, if sqrt { Out::WinSqrt(k) } else { Out::WinSum(k) })
                    }
                }
                MMSIM_F_TRADE_SIGN_IMBALANCE => {
                    if hz {
                        let h = h_of(s.horizon_ns);
                        dmeans.push(DMean { h, s: S_SIGN, mean: 0.0, den: 0.0 });
                        (NO_H, Out::Mean(dmeans.len() - 1))
                    } else {
                        let k = add_win(S_SIGN, true, 1.0, &mut wins);
                        (NO_H, Out::WinMean(k))
                    }
                }
                MMSIM_F_EVENT_INTENSITY | MMSIM_F_TRADE_INTENSITY => {
                    let sig = if s.kind == MMSIM_F_EVENT_INTENSITY { S_ONE } else { S_TRADE };
                    let h = h_of(s.horizon_ns);
                    dsums.push(DSum { h, s: sig, v: 0.0 });
                    (h, Out::Sum(dsums.len() - 1, NS_PER_S / s.horizon_ns as f64))
                }
                MMSIM_F_TIME_SINCE_TRADE => (NO_H, Out::TimeSinceTrade),
                MMSIM_F_TIME_SINCE_MID_CHANGE => (NO_H, Out::TimeSinceMidChange),
                _ => {
                    // MMSIM_F_VPIN (check() admitted no other kind)
                    let h = if hz { h_of(s.horizon_ns) } else { NO_H };
                    vpins.push(Vpin { v: s.window, h, off: vring_len, ..Default::default() });
                    if !hz {
                        vring_len = vring_len.saturating_add(MMSIM_VPIN_BUCKETS);
                    }
                    (NO_H, Out::Vpin(vpins.len() - 1))
                }
            };
            tagged.push((hidx, i, out));
        }

        // Group outputs by horizon (stable: within a group, spec order).
        tagged.sort_by_key(|&(h, i, _)| (h, i));
        let mut outs: Vec<(usize, Out)> = with_capacity(tagged.len())?;
        let mut groups: Vec<Group> = with_capacity(tagged.len())?;
        for &(h, i, o) in &tagged {
            let start = outs.len();
            outs.push((i, o));
            match groups.last_mut() {
                Some(g) if g.h == h => g.end = outs.len(),
                _ => groups.push(Group { h, start, end: start + 1 }),
            }
        }

        let nh = horizon.len();
        Ok(Bank {
            n_out: specs.len(),
            levels,
            ofi_levels,
            book_levels,
            need_ret,
            inv_level,
            d: alloc(nh, 1.0)?,
            om: alloc(nh, 0.0)?,
            horizon,
            sig: alloc(n_sig, f64::NAN)?,
            held: alloc(n_sig, f64::NAN)?,
            has_held: alloc(n_sig, false)?,
            cb_px: alloc(levels, 0)?,
            cb_q: alloc(levels, 0)?,
            ca_px: alloc(levels, 0)?,
            ca_q: alloc(levels, 0)?,
            pb_px: alloc(levels, 0)?,
            pb_q: alloc(levels, 0)?,
            pa_px: alloc(levels, 0)?,
            pa_q: alloc(levels, 0)?,
            dsums,
            dmeans,
            ewmas,
            wins,
            ring: alloc(ring_len, 0)?,
            vpins,
            vring: alloc(vring_len, 0)?,
            outs,
            groups,
            started: false,
            last_ts: 0,
            n_trades: 0,
            last_trade_ts: 0,
            has_mid: false,
            last_mid: f64::NAN,
            mid_change_ts: 0,
            has_ret_mid: false,
            ret_mid: f64::NAN,
        })
    }

    /// Copy the observation's book into the scratch book, validating it. Nothing else changes.
    fn read_book(&mut self, o: &MmsimObservation) -> i32 {
        if o.levels < 0 {
            return MMSIM_ERR_VALUE;
        }
        let n = usize::try_from(o.levels).unwrap_or(0).min(self.levels);
        let ptrs = [o.bid_px, o.bid_qty, o.ask_px, o.ask_qty];
        if n > 0 && ptrs.iter().any(|p| p.is_null() || !p.is_aligned()) {
            return MMSIM_ERR_NULL;
        }
        let dst = [&mut self.cb_px, &mut self.cb_q, &mut self.ca_px, &mut self.ca_q];
        for (p, d) in ptrs.iter().zip(dst) {
            if n > 0 {
                // SAFETY: non-null, aligned; the caller guarantees `levels` readable values per array.
                let src = unsafe { std::slice::from_raw_parts(*p, n) };
                for (x, y) in d.iter_mut().zip(src) {
                    *x = *y;
                }
            }
            // levels the observation does not carry are empty (element loop: see `zero_tail`)
            zero_tail(d, n);
        }
        if self.cb_q.iter().chain(self.ca_q.iter()).any(|&q| q < 0) {
            return MMSIM_ERR_VALUE;
        }
        MMSIM_OK
    }

    fn update(&mut self, o: &MmsimObservation) -> i32 {
        if self.started && o.ts < self.last_ts {
            return MMSIM_ERR_TIME;
        }
        if o.trade_qty < 0 || (o.trade_qty > 0 && !(-1..=1).contains(&o.trade_sign)) {
            return MMSIM_ERR_VALUE;
        }
        let rc = self.read_book(o);
        if rc != MMSIM_OK {
            return rc;
        }
        // ---- validated: from here on the update cannot fail.
        let ts = o.ts;
        let dt = if self.started { ts.saturating_sub(self.last_ts) } else { 0 };
        decay_factors(dt, &self.horizon, &mut self.d, &mut self.om);
        self.signals(o);

        let (sig, d, om) = (&self.sig, &self.d, &self.om);
        let is_trade = o.trade_qty > 0;
        for a in self.dsums.iter_mut() {
            a.v = a.v * d.get(a.h).copied().unwrap_or(1.0) + sig.get(a.s).copied().unwrap_or(0.0);
        }
        for a in self.dmeans.iter_mut() {
            let dd = a.den * d.get(a.h).copied().unwrap_or(1.0);
            if is_trade {
                let x = sig.get(a.s).copied().unwrap_or(0.0);
                a.mean = (a.mean * dd + x) / (dd + 1.0);
                a.den = dd + 1.0;
            } else {
                a.den = dd;
            }
        }
        for a in self.ewmas.iter_mut() {
            if self.has_held.get(a.s).copied().unwrap_or(false) {
                let held = self.held.get(a.s).copied().unwrap_or(f64::NAN);
                a.e += om.get(a.h).copied().unwrap_or(0.0) * (held - a.e);
            } else {
                // first usable value (NaN while the signal has never been defined)
                a.e = sig.get(a.s).copied().unwrap_or(f64::NAN);
            }
        }
        for a in self.wins.iter_mut() {
            if a.trades && !is_trade {
                continue;
            }
            let q = quantize(sig.get(a.s).copied().unwrap_or(0.0), a.scale);
            if let Some(slot) = self.ring.get_mut(a.off.saturating_add(a.pos)) {
                a.sum = a.sum.wrapping_add(q).wrapping_sub(*slot);
                *slot = q;
            }
            a.pos += 1;
            if a.pos >= a.w {
                a.pos = 0;
            }
            a.n = a.n.saturating_add(1);
        }
        if is_trade {
            let (qty, sign) = (o.trade_qty, o.trade_sign);
            for v in self.vpins.iter_mut() {
                vpin_trade(v, qty, sign, d, &mut self.vring);
            }
        } else {
            for v in self.vpins.iter_mut() {
                if v.h != NO_H {
                    v.den *= d.get(v.h).copied().unwrap_or(1.0);
                }
            }
        }

        // ---- commit: held level signals, clocks, previous book.
        for ((h, has), &x) in self.held.iter_mut().zip(self.has_held.iter_mut()).zip(self.sig.iter()) {
            if !x.is_nan() {
                *h = x;
                *has = true;
            }
        }
        let mid = self.sig.get(S_MID).copied().unwrap_or(f64::NAN);
        if !mid.is_nan() {
            if !self.has_mid || mid != self.last_mid {
                self.mid_change_ts = ts;
            }
            self.has_mid = true;
            self.last_mid = mid;
        }
        if is_trade {
            self.n_trades = self.n_trades.saturating_add(1);
            self.last_trade_ts = ts;
        }
        std::mem::swap(&mut self.cb_px, &mut self.pb_px);
        std::mem::swap(&mut self.cb_q, &mut self.pb_q);
        std::mem::swap(&mut self.ca_px, &mut self.pa_px);
        std::mem::swap(&mut self.ca_q, &mut self.pa_q);
        self.started = true;
        self.last_ts = ts;
        MMSIM_OK
    }

    /// Compute every per-event signal from the scratch book (cb/ca) and the previous book (pb/pa).
    fn signals(&mut self, o: &MmsimObservation) {
        let l = self.levels;
        let is_trade = o.trade_qty > 0;
        let sign = if is_trade { o.trade_sign as f64 } else { 0.0 };
        set(&mut self.sig, S_ONE, 1.0);
        set(&mut self.sig, S_TRADE, if is_trade { 1.0 } else { 0.0 });
        set(&mut self.sig, S_SIGN, sign);
        set(&mut self.sig, S_SVOL, sign * o.trade_qty as f64);

        let (b1, bq1) = (first(&self.cb_px), first(&self.cb_q));
        let (a1, aq1) = (first(&self.ca_px), first(&self.ca_q));
        let two_sided = bq1 > 0 && aq1 > 0;
        let (bf, af) = (b1 as f64, a1 as f64);
        let mid = if two_sided { 0.5 * (bf + af) } else { f64::NAN };
        set(&mut self.sig, S_MID, mid);
        set(&mut self.sig, S_SPREAD, if two_sided { af - bf } else { f64::NAN });
        let qsum = (bq1 as f64) + (aq1 as f64);
        set(&mut self.sig, S_QI, if qsum > 0.0 { ((bq1 as f64) - (aq1 as f64)) / qsum } else { f64::NAN });

        // log return of the mid (usable mids: defined and > 0)
        let mut r = 0.0;
        if self.need_ret && two_sided && mid > 0.0 {
            if self.has_ret_mid && mid != self.ret_mid {
                r = (mid / self.ret_mid).ln();
            }
            self.has_ret_mid = true;
            self.ret_mid = mid;
        }
        set(&mut self.sig, S_R, r);
        set(&mut self.sig, S_R2, r * r);

        // per level: OFI (cumulative), microprice and depth imbalance over levels 1..=k
        let first_obs = !self.started;
        let mut ofi = 0.0f64;
        let prev = self.pb_px.iter().zip(&self.pb_q).zip(self.pa_px.iter().zip(&self.pa_q));
        let cur = self.cb_px.iter().zip(&self.cb_q).zip(self.ca_px.iter().zip(&self.ca_q));
        for (k, (((&bp, &bq), (&ap, &aq)), ((&pbp, &pbq), (&pap, &paq)))) in
            cur.zip(prev).take(self.ofi_levels).enumerate()
        {
            if !first_obs {
                ofi += ofi_level(bp, bq, ap, aq, pbp, pbq, pap, paq);
            }
            set(&mut self.sig, S_BASE + k, ofi);
        }
        let (mut cb, mut ca, mut wd, mut ws) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let qty = self.cb_q.iter().zip(&self.ca_q).zip(&self.inv_level);
        for (k, ((&bq, &aq), &wk)) in qty.take(self.book_levels).enumerate() {
            let (bqf, aqf) = (bq as f64, aq as f64);
            cb += bqf;
            ca += aqf;
            wd += wk * (bqf - aqf);
            ws += wk * (bqf + aqf);
            let imb = cb / (cb + ca);
            let micro = if two_sided { imb * af + (1.0 - imb) * bf } else { f64::NAN };
            set(&mut self.sig, S_BASE + l + k, micro);
            set(&mut self.sig, S_BASE + 2 * l + k, if ws > 0.0 { wd / ws } else { f64::NAN });
        }
    }

    fn values(&self, now: i64, out: &mut [f64]) -> i32 {
        if out.len() < self.n_out {
            return MMSIM_ERR_VALUE;
        }
        if !self.started {
            for x in out.iter_mut().take(self.n_out) {
                *x = f64::NAN;
            }
            return MMSIM_OK;
        }
        if now < self.last_ts {
            return MMSIM_ERR_TIME;
        }
        let dt = now.saturating_sub(self.last_ts);
        for g in &self.groups {
            let (mut d, mut om) = (1.0, 0.0);
            if dt > 0 {
                if let Some(&hz) = self.horizon.get(g.h) {
                    let x = dt as f64 / hz;
                    (d, om) = decay(x);
                }
            }
            for &(i, how) in self.outs.get(g.start..g.end).unwrap_or(&[]) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = self.value(how, now, d, om);
                }
            }
        }
        MMSIM_OK
    }

    fn value(&self, how: Out, now: i64, d: f64, om: f64) -> f64 {
        match how {
            Out::Signal(s) => self.sig.get(s).copied().unwrap_or(f64::NAN),
            Out::Ewma(k) => match self.ewmas.get(k) {
                Some(a) if self.has_held.get(a.s).copied().unwrap_or(false) => {
                    let held = self.held.get(a.s).copied().unwrap_or(f64::NAN);
                    a.e + om * (held - a.e)
                }
                _ => f64::NAN,
            },
            Out::Sum(k, scale) => self.dsums.get(k).map_or(f64::NAN, |a| a.v * d * scale),
            Out::SqrtSum(k) => self.dsums.get(k).map_or(f64::NAN, |a| (a.v * d).max(0.0).sqrt()),
            Out::Mean(k) => match self.dmeans.get(k) {
                Some(a) if self.n_trades > 0 => a.mean,
                _ => f64::NAN,
            },
            Out::WinSum(k) => self.wins.get(k).map_or(f64::NAN, |a| a.sum as f64 / a.scale),
            Out::WinSqrt(k) => self.wins.get(k).map_or(f64::NAN, |a| (a.sum as f64 / a.scale).max(0.0).sqrt()),
            Out::WinMean(k) => match self.wins.get(k) {
                Some(a) if a.n > 0 => a.sum as f64 / (a.n.min(a.w as u64) as f64),
                _ => f64::NAN,
            },
            Out::TimeSinceTrade => {
                if self.n_trades > 0 {
                    now.saturating_sub(self.last_trade_ts) as f64 / NS_PER_S
                } else {
                    f64::NAN
                }
            }
            Out::TimeSinceMidChange => {
                if self.has_mid {
                    now.saturating_sub(self.mid_change_ts) as f64 / NS_PER_S
                } else {
                    f64::NAN
                }
            }
            Out::Vpin(k) => match self.vpins.get(k) {
                Some(v) if v.completed > 0 => {
                    if v.h != NO_H {
                        v.mean
                    } else {
                        let n = v.completed.min(MMSIM_VPIN_BUCKETS as u64) as f64;
                        v.sum as f64 / (n * v.v as f64)
                    }
                }
                _ => f64::NAN,
            },
        }
    }
}

#[inline]
fn set(v: &mut [f64], i: usize, x: f64) {
    if let Some(s) = v.get_mut(i) {
        *s = x;
    }
}

/// Zero `v[n..]` element by element. Not `fill`: on an empty Vec that becomes memset(dangling, 0, 0), and
/// glibc's AVX-512 memset issues a masked store to that unmapped address, which costs ~100 ns per call on
/// AMD EPYC (measured: a bank without book features took 400 ns per update instead of 30).
#[inline]
fn zero_tail(v: &mut [i64], n: usize) {
    for x in v.iter_mut().skip(n) {
        *x = 0;
    }
}

#[inline]
fn first(v: &[i64]) -> i64 {
    v.first().copied().unwrap_or(0)
}

/// exp(-dt/H) and 1 - exp(-dt/H) per horizon (1 and 0 when dt = 0, no exp).
fn decay_factors(dt: i64, horizon: &[f64], d: &mut [f64], om: &mut [f64]) {
    if dt == 0 {
        for (dd, o) in d.iter_mut().zip(om.iter_mut()) {
            *dd = 1.0;
            *o = 0.0;
        }
        return;
    }
    let dtf = dt as f64;
    for ((&hz, dd), o) in horizon.iter().zip(d.iter_mut()).zip(om.iter_mut()) {
        (*dd, *o) = decay(dtf / hz);
    }
}

/// (exp(-x), 1 - exp(-x)) for x >= 0 with one transcendental, each to a few ulps: below x = 1/2 from
/// expm1 (1 - d would cancel), above from exp (1 + expm1 would lose d's relative precision).
#[inline]
fn decay(x: f64) -> (f64, f64) {
    if x < 0.5 {
        let m = (-x).exp_m1();
        (1.0 + m, -m)
    } else {
        let d = (-x).exp();
        (d, 1.0 - d)
    }
}

/// Cont–Kukanov–Stoikov order-flow contribution of one level between two books. An empty level has
/// quantity 0 and price -inf (bid) / +inf (ask).
#[allow(clippy::too_many_arguments)]
#[inline]
fn ofi_level(bp: i64, bq: i64, ap: i64, aq: i64, pbp: i64, pbq: i64, pap: i64, paq: i64) -> f64 {
    let (b_now, b_prev, a_now, a_prev) = (bq > 0, pbq > 0, aq > 0, paq > 0);
    // bid: P_n >= P_{n-1} and P_n <= P_{n-1}
    let b_ge = !b_prev || (b_now && bp >= pbp);
    let b_le = !b_now || (b_prev && bp <= pbp);
    // ask: empty = +inf
    let a_le = !a_prev || (a_now && ap <= pap);
    let a_ge = !a_now || (a_prev && ap >= pap);
    let mut e = 0.0;
    if b_ge {
        e += bq as f64;
    }
    if b_le {
        e -= pbq as f64;
    }
    if a_le {
        e -= aq as f64;
    }
    if a_ge {
        e += paq as f64;
    }
    e
}

/// Round x·scale (scale: a power of two) to the nearest integer, ties away from zero, saturating at
/// ±2^126, NaN -> 0. Deterministic, so a term removed from a window is exactly the term once added. Done on
/// the bits: `f64::round` and `as i128` are library calls (libm `round`, `__fixdfti`) that cost a sixth of
/// the full bank's update.
#[inline]
fn quantize(x: f64, scale: f64) -> i128 {
    const LIM: i128 = 1 << 126;
    let y = x * scale;
    let bits = y.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let mag: i128 = if exp == 0x7ff {
        if y.is_nan() {
            0
        } else {
            LIM
        }
    } else if exp == 0 {
        0 // zero or subnormal: |y| < 1/2
    } else {
        let mant = (bits & ((1u64 << 52) - 1)) | (1u64 << 52); // |y| = mant · 2^(exp - 1075)
        let shift = exp - 1075;
        if shift >= 0 {
            if shift > 73 {
                LIM
            } else {
                i128::from(mant) << shift
            }
        } else if -shift > 54 {
            0
        } else {
            i128::from(((mant >> (-shift - 1)) + 1) >> 1)
        }
    };
    if bits >> 63 == 1 {
        -mag
    } else {
        mag
    }
}

/// Lay a trade into VPIN volume buckets. O(1) however large the trade: after the current bucket, the
/// trade fills k whole buckets of one sign (each |imbalance| = V, or 0 for an unsigned trade).
fn vpin_trade(v: &mut Vpin, qty: i64, sign: i32, d: &[f64], vring: &mut [i128]) {
    if v.h != NO_H {
        v.den *= d.get(v.h).copied().unwrap_or(1.0);
    }
    let cap = v.v;
    if cap <= 0 {
        return;
    }
    let mut rest = qty;
    // 1) top up the current bucket
    let take = rest.min(cap - v.fill);
    add_volume(v, take, sign);
    rest -= take;
    if v.fill >= cap {
        let imb = (v.buy - v.sell).abs();
        complete(v, imb, 1, vring);
        v.fill = 0;
        v.buy = 0;
        v.sell = 0;
    } else {
        return;
    }
    // 2) whole buckets of this trade alone
    let k = rest / cap; // cap > 0
    if k > 0 {
        let imb = if sign == 0 { 0 } else { cap };
        complete(v, imb, k, vring);
        rest -= k.saturating_mul(cap);
    }
    // 3) the remainder opens a new bucket
    add_volume(v, rest, sign);
}

#[inline]
fn add_volume(v: &mut Vpin, q: i64, sign: i32) {
    v.fill = v.fill.saturating_add(q);
    if sign > 0 {
        v.buy = v.buy.saturating_add(q);
    } else if sign < 0 {
        v.sell = v.sell.saturating_add(q);
    }
}

/// `k` buckets completed now, each with |buy - sell| = `imb` lots.
fn complete(v: &mut Vpin, imb: i64, k: i64, vring: &mut [i128]) {
    let ku = u64::try_from(k).unwrap_or(0);
    v.completed = v.completed.saturating_add(ku);
    if v.h != NO_H {
        let kf = k as f64;
        let x = imb as f64 / v.v as f64;
        let den = v.den + kf;
        v.mean = (v.mean * v.den + kf * x) / den;
        v.den = den;
    } else {
        // at most MMSIM_VPIN_BUCKETS pushes matter
        let n = ku.min(MMSIM_VPIN_BUCKETS as u64);
        for _ in 0..n {
            if let Some(slot) = vring.get_mut(v.off.saturating_add(v.pos)) {
                v.sum = v.sum.wrapping_add(imb as i128).wrapping_sub(*slot);
                *slot = imb as i128;
            }
            v.pos += 1;
            if v.pos >= MMSIM_VPIN_BUCKETS {
                v.pos = 0;
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------ C ABI

/// Check one spec without building a bank.
#[no_mangle]
pub extern "C" fn mmsim_bank_check_spec(spec: *const MmsimFeatureSpec, max_levels: i32) -> i32 {
    if spec.is_null() {
        return MMSIM_ERR_NULL;
    }
    // SAFETY: non-null; the caller passes a valid spec.
    check(unsafe { &*spec }, max_levels)
}

/// Build a bank from `n_specs` specs (`specs` may be null when `n_specs` is 0).
#[no_mangle]
pub extern "C" fn mmsim_bank_new(
    specs: *const MmsimFeatureSpec,
    n_specs: usize,
    max_levels: i32,
    out: *mut *mut Bank,
) -> i32 {
    if out.is_null() || (n_specs > 0 && (specs.is_null() || !specs.is_aligned())) {
        return MMSIM_ERR_NULL;
    }
    let list: &[MmsimFeatureSpec] = if n_specs == 0 {
        &[]
    } else {
        // SAFETY: non-null, aligned, the caller guarantees n_specs readable specs.
        unsafe { std::slice::from_raw_parts(specs, n_specs) }
    };
    match Bank::new(list, max_levels) {
        Ok(b) => {
            // SAFETY: out is non-null.
            unsafe { *out = Box::into_raw(Box::new(b)) };
            MMSIM_OK
        }
        Err(rc) => rc,
    }
}

/// Free a bank built by `mmsim_bank_new` (null is a no-op returning MMSIM_ERR_NULL).
#[no_mangle]
pub extern "C" fn mmsim_bank_free(bank: *mut Bank) -> i32 {
    if bank.is_null() {
        return MMSIM_ERR_NULL;
    }
    // SAFETY: built by Box::into_raw in mmsim_bank_new and not freed before (caller's contract).
    drop(unsafe { Box::from_raw(bank) });
    MMSIM_OK
}

/// Feed one observation (ts non-decreasing). On an error status the bank is unchanged.
#[no_mangle]
pub extern "C" fn mmsim_bank_update(bank: *mut Bank, obs: *const MmsimObservation) -> i32 {
    if bank.is_null() || obs.is_null() {
        return MMSIM_ERR_NULL;
    }
    // SAFETY: valid bank from mmsim_bank_new; obs points to a valid observation.
    let (b, o) = unsafe { (&mut *bank, &*obs) };
    b.update(o)
}

/// Values of all features as of `now` (>= the last update's ts) into `out[0..len)`; `n_out` >= len.
#[no_mangle]
pub extern "C" fn mmsim_bank_values(bank: *const Bank, now: i64, out: *mut f64, n_out: usize) -> i32 {
    if bank.is_null() || (n_out > 0 && (out.is_null() || !out.is_aligned())) {
        return MMSIM_ERR_NULL;
    }
    // SAFETY: valid bank; out holds n_out writable doubles.
    let b = unsafe { &*bank };
    if n_out == 0 {
        return if b.n_out == 0 { MMSIM_OK } else { MMSIM_ERR_VALUE };
    }
    let o = unsafe { std::slice::from_raw_parts_mut(out, n_out) };
    b.values(now, o)
}

/// Number of features (0 for a null bank).
#[no_mangle]
pub extern "C" fn mmsim_bank_len(bank: *const Bank) -> usize {
    if bank.is_null() {
        return 0;
    }
    // SAFETY: valid bank.
    unsafe { &*bank }.n_out
}

// ------------------------------------------------------------------------------------------------ tests

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn spec(kind: i32, level: i32, h: i64, w: i64) -> MmsimFeatureSpec {
        MmsimFeatureSpec { kind, level, horizon_ns: h, window: w }
    }

    struct B(*mut Bank);
    impl B {
        fn new(specs: &[MmsimFeatureSpec], levels: i32) -> B {
            let mut p = std::ptr::null_mut();
            assert_eq!(mmsim_bank_new(specs.as_ptr(), specs.len(), levels, &mut p), MMSIM_OK);
            B(p)
        }
        fn upd(&self, ts: i64, bid: &[(i64, i64)], ask: &[(i64, i64)], trade: (i32, i64)) -> i32 {
            let l = bid.len().max(ask.len());
            let mut bp = vec![0i64; l];
            let mut bq = vec![0i64; l];
            let mut ap = vec![0i64; l];
            let mut aq = vec![0i64; l];
            for (k, &(p, q)) in bid.iter().enumerate() {
                bp[k] = p;
                bq[k] = q;
            }
            for (k, &(p, q)) in ask.iter().enumerate() {
                ap[k] = p;
                aq[k] = q;
            }
            let o = MmsimObservation {
                ts,
                bid_px: bp.as_ptr(),
                bid_qty: bq.as_ptr(),
                ask_px: ap.as_ptr(),
                ask_qty: aq.as_ptr(),
                levels: l as i32,
                trade_sign: trade.0,
                trade_price: 0,
                trade_qty: trade.1,
            };
            mmsim_bank_update(self.0, &o)
        }
        fn vals(&self, now: i64) -> Vec<f64> {
            let n = mmsim_bank_len(self.0);
            let mut v = vec![0.0; n];
            assert_eq!(mmsim_bank_values(self.0, now, v.as_mut_ptr(), n), MMSIM_OK);
            v
        }
    }
    impl Drop for B {
        fn drop(&mut self) {
            assert_eq!(mmsim_bank_free(self.0), MMSIM_OK);
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn spec_errors() {
        let c = |s: MmsimFeatureSpec, l| mmsim_bank_check_spec(&s, l);
        assert_eq!(c(spec(99, 1, 0, 0), 5), MMSIM_ERR_KIND);
        assert_eq!(c(spec(0, 1, 0, 0), 5), MMSIM_ERR_KIND);
        assert_eq!(c(spec(MMSIM_F_MID, 1, 0, 0), 5), MMSIM_OK);
        assert_eq!(c(spec(MMSIM_F_MID, 2, 0, 0), 5), MMSIM_ERR_LEVEL);
        assert_eq!(c(spec(MMSIM_F_MID, 1, 0, 0), 0), MMSIM_ERR_LEVEL);
        assert_eq!(c(spec(MMSIM_F_MID, 1, -5, 0), 5), MMSIM_ERR_HORIZON);
        assert_eq!(c(spec(MMSIM_F_MID, 1, 5, 3), 5), MMSIM_ERR_WINDOW);
        assert_eq!(c(spec(MMSIM_F_OFI, 6, 5, 0), 5), MMSIM_ERR_LEVEL);
        assert_eq!(c(spec(MMSIM_F_OFI, 0, 5, 0), 5), MMSIM_ERR_LEVEL);
        assert_eq!(c(spec(MMSIM_F_OFI, 5, 0, 0), 5), MMSIM_ERR_HORIZON);
        assert_eq!(c(spec(MMSIM_F_OFI, 5, 7, 7), 5), MMSIM_ERR_WINDOW);
        assert_eq!(c(spec(MMSIM_F_OFI, 5, 0, -1), 5), MMSIM_ERR_WINDOW);
        assert_eq!(c(spec(MMSIM_F_OFI, 5, 0, MMSIM_BANK_MAX_WINDOW + 1), 5), MMSIM_ERR_WINDOW);
        assert_eq!(c(spec(MMSIM_F_SIGNED_VOLUME, 3, 7, 0), 5), MMSIM_ERR_LEVEL);
        assert_eq!(c(spec(MMSIM_F_EVENT_INTENSITY, 0, 0, 0), 5), MMSIM_ERR_HORIZON);
        assert_eq!(c(spec(MMSIM_F_EVENT_INTENSITY, 0, 1, 4), 5), MMSIM_ERR_WINDOW);
        assert_eq!(c(spec(MMSIM_F_TIME_SINCE_TRADE, 0, 1, 0), 5), MMSIM_ERR_HORIZON);
        assert_eq!(c(spec(MMSIM_F_TIME_SINCE_TRADE, 0, 0, 0), 0), MMSIM_OK);
        assert_eq!(c(spec(MMSIM_F_VPIN, 0, 0, 0), 5), MMSIM_ERR_WINDOW);
        assert_eq!(c(spec(MMSIM_F_VPIN, 0, 10, 100), 5), MMSIM_OK);
        assert_eq!(c(spec(MMSIM_F_MID, 1, 0, 0), -1), MMSIM_ERR_LEVEL);
        assert_eq!(mmsim_bank_check_spec(std::ptr::null(), 1), MMSIM_ERR_NULL);
        // new reports the first bad spec's status and builds nothing
        let specs = [spec(MMSIM_F_MID, 1, 0, 0), spec(MMSIM_F_OFI, 9, 10, 0)];
        let mut p = std::ptr::null_mut();
        assert_eq!(mmsim_bank_new(specs.as_ptr(), 2, 5, &mut p), MMSIM_ERR_LEVEL);
        assert!(p.is_null());
        assert_eq!(mmsim_bank_new(std::ptr::null(), 2, 5, &mut p), MMSIM_ERR_NULL);
        assert_eq!(mmsim_bank_new(specs.as_ptr(), 1, 5, std::ptr::null_mut()), MMSIM_ERR_NULL);
        // a window too large to allocate is a status, not an abort
        let big: Vec<_> = (0..4000).map(|_| spec(MMSIM_F_OFI, 1, 0, MMSIM_BANK_MAX_WINDOW)).collect();
        let rc = mmsim_bank_new(big.as_ptr(), big.len(), 5, &mut p);
        assert!(rc == MMSIM_ERR_ALLOC || rc == MMSIM_OK);
        if rc == MMSIM_OK {
            mmsim_bank_free(p);
        }
    }

    #[test]
    fn null_and_bad_observations_change_nothing() {
        let b = B::new(&[spec(MMSIM_F_MID, 1, 0, 0), spec(MMSIM_F_EVENT_INTENSITY, 0, 1000, 0)], 2);
        assert_eq!(mmsim_bank_update(b.0, std::ptr::null()), MMSIM_ERR_NULL);
        assert_eq!(mmsim_bank_update(std::ptr::null_mut(), std::ptr::null()), MMSIM_ERR_NULL);
        assert!(b.vals(0).iter().all(|x| x.is_nan()));
        assert_eq!(b.upd(100, &[(99, 5)], &[(101, 5)], (0, 0)), MMSIM_OK);
        assert_eq!(b.upd(99, &[(99, 5)], &[(101, 5)], (0, 0)), MMSIM_ERR_TIME);
        assert_eq!(b.upd(200, &[(99, -5)], &[(101, 5)], (0, 0)), MMSIM_ERR_VALUE);
        assert_eq!(b.upd(200, &[(99, 5)], &[(101, 5)], (2, 3)), MMSIM_ERR_VALUE);
        assert_eq!(b.upd(200, &[(99, 5)], &[(101, 5)], (1, -3)), MMSIM_ERR_VALUE);
        let v = b.vals(100);
        assert_eq!(v[0], 100.0);
        assert!(close(v[1], 1e9 / 1000.0));
        let mut x = [0.0; 2];
        assert_eq!(mmsim_bank_values(b.0, 99, x.as_mut_ptr(), 2), MMSIM_ERR_TIME);
        assert_eq!(mmsim_bank_values(b.0, 100, x.as_mut_ptr(), 1), MMSIM_ERR_VALUE);
        assert_eq!(mmsim_bank_values(b.0, 100, std::ptr::null_mut(), 2), MMSIM_ERR_NULL);
        // levels > 0 with null arrays
        let o = MmsimObservation {
            ts: 300,
            bid_px: std::ptr::null(),
            bid_qty: std::ptr::null(),
            ask_px: std::ptr::null(),
            ask_qty: std::ptr::null(),
            levels: 1,
            trade_sign: 0,
            trade_price: 0,
            trade_qty: 0,
        };
        assert_eq!(mmsim_bank_update(b.0, &o), MMSIM_ERR_NULL);
        // levels 0 with null arrays: an empty book
        let o0 = MmsimObservation { levels: 0, ..o };
        assert_eq!(mmsim_bank_update(b.0, &o0), MMSIM_OK);
        assert!(b.vals(300)[0].is_nan());
        assert_eq!(mmsim_bank_len(std::ptr::null()), 0);
        assert_eq!(mmsim_bank_free(std::ptr::null_mut()), MMSIM_ERR_NULL);
    }

    #[test]
    fn book_signals() {
        let b = B::new(
            &[
                spec(MMSIM_F_MID, 1, 0, 0),
                spec(MMSIM_F_SPREAD, 1, 0, 0),
                spec(MMSIM_F_MICROPRICE, 1, 0, 0),
                spec(MMSIM_F_QUEUE_IMBALANCE, 1, 0, 0),
                spec(MMSIM_F_DEPTH_IMBALANCE, 2, 0, 0),
                spec(MMSIM_F_MICROPRICE, 2, 0, 0),
            ],
            3,
        );
        b.upd(0, &[(100, 30), (99, 10)], &[(102, 10), (103, 50)], (0, 0));
        let v = b.vals(0);
        assert_eq!(v[0], 101.0);
        assert_eq!(v[1], 2.0);
        assert!(close(v[2], 0.75 * 102.0 + 0.25 * 100.0));
        assert!(close(v[3], 0.5));
        assert!(close(v[4], (20.0 + (10.0 - 50.0) / 2.0) / (40.0 + 60.0 / 2.0)));
        assert!(close(v[5], 0.4 * 102.0 + 0.6 * 100.0));
        // one-sided book: prices undefined, queue imbalance +1
        b.upd(1, &[(100, 30)], &[], (0, 0));
        let v = b.vals(1);
        assert!(v[0].is_nan() && v[1].is_nan() && v[2].is_nan());
        assert_eq!(v[3], 1.0);
        assert_eq!(v[4], 1.0);
    }

    #[test]
    fn ofi_matches_cks_cases() {
        let b = B::new(&[spec(MMSIM_F_OFI, 1, 0, 1), spec(MMSIM_F_OFI, 2, 0, 1000)], 2);
        b.upd(0, &[(100, 10), (99, 5)], &[(101, 10), (102, 5)], (0, 0));
        assert_eq!(b.vals(0)[0], 0.0); // first observation: no flow
        b.upd(1, &[(100, 12), (99, 5)], &[(101, 10), (102, 5)], (0, 0));
        assert_eq!(b.vals(1)[0], 2.0); // bid size up
        b.upd(2, &[(101, 3), (100, 12)], &[(102, 5), (103, 1)], (0, 0));
        // bid improves: +3; ask 101 -> 102 (retreat): +10; level 2: bid 99 -> 100: +12, ask 102 -> 103: +5
        assert_eq!(b.vals(2)[0], 13.0);
        b.upd(3, &[], &[(102, 5), (103, 1)], (0, 0));
        assert_eq!(b.vals(3)[0], -3.0); // bid side emptied
        b.upd(4, &[(100, 4)], &[], (0, 0));
        assert_eq!(b.vals(4)[0], 4.0 + 5.0); // bid appears, ask side emptied
        assert_eq!(b.vals(4)[1], 2.0 + (13.0 + 17.0) + (-3.0 - 12.0) + (4.0 + 5.0 + 1.0));
    }

    #[test]
    fn decay_is_exact_over_irregular_gaps() {
        let h = 1_000_000;
        let b = B::new(&[spec(MMSIM_F_SIGNED_VOLUME, 0, h, 0), spec(MMSIM_F_TRADE_INTENSITY, 0, h, 0)], 1);
        let trades = [(0i64, 1, 5i64), (10, -1, 2), (10, 1, 1), (2_500_000, 1, 7), (2_500_001, 0, 4)];
        for &(t, s, q) in &trades {
            b.upd(t, &[(100, 1)], &[(101, 1)], (s, q));
        }
        let now = 4_000_000;
        let v = b.vals(now);
        let (mut sv, mut n) = (0.0, 0.0);
        for &(t, s, q) in &trades {
            let w = (-((now - t) as f64) / h as f64).exp();
            sv += (s as f64) * (q as f64) * w;
            n += w;
        }
        assert!(close(v[0], sv));
        assert!(close(v[1], n * 1e9 / h as f64));
    }

    #[test]
    fn ewma_of_held_mid_and_windows_and_vpin() {
        let b = B::new(
            &[
                spec(MMSIM_F_MID, 1, 1000, 0),
                spec(MMSIM_F_TRADE_SIGN_IMBALANCE, 0, 0, 2),
                spec(MMSIM_F_VPIN, 0, 0, 4),
                spec(MMSIM_F_TIME_SINCE_MID_CHANGE, 0, 0, 0),
                spec(MMSIM_F_TIME_SINCE_TRADE, 0, 0, 0),
            ],
            1,
        );
        b.upd(0, &[(10, 1)], &[(12, 1)], (1, 3)); // mid 11
        b.upd(1000, &[(12, 1)], &[(14, 1)], (1, 3)); // mid 13; bucket 1 completes (4 buy)
        let v = b.vals(1000);
        assert!(close(v[0], 11.0)); // the held 11 over one horizon
        assert_eq!(v[1], 1.0);
        assert_eq!(v[2], 1.0);
        b.upd(1000, &[], &[(14, 1)], (-1, 9)); // one-sided: mid held at 13
        let v = b.vals(3000);
        let w = (-2.0f64).exp();
        assert!(close(v[0], w * 11.0 + (1.0 - w) * 13.0));
        assert_eq!(v[1], 0.0); // last two trades +1, -1
                               // buckets: [4 buy], [2 buy + 2 sell], [4 sell]; partial [3 sell]
        assert!(close(v[2], (4.0 + 0.0 + 4.0) / 12.0));
        assert!(close(v[3], 2e-6));
        assert!(close(v[4], 2e-6));
    }

    #[test]
    fn mid_based_kinds_read_the_book_on_their_own() {
        let b = B::new(
            &[
                spec(MMSIM_F_MID_RETURN, 0, 0, 5),
                spec(MMSIM_F_REALIZED_VOL, 0, 0, 5),
                spec(MMSIM_F_TIME_SINCE_MID_CHANGE, 0, 0, 0),
            ],
            1,
        );
        b.upd(0, &[(100, 1)], &[(102, 1)], (0, 0));
        b.upd(5, &[(102, 1)], &[(104, 1)], (0, 0));
        let v = b.vals(8);
        assert!(close(v[0], (103.0f64 / 101.0).ln()));
        assert!(close(v[1], (103.0f64 / 101.0).ln()));
        assert!(close(v[2], 3e-9));
    }

    #[test]
    fn vpin_huge_trade_is_constant_time() {
        let b = B::new(&[spec(MMSIM_F_VPIN, 0, 0, 1), spec(MMSIM_F_VPIN, 0, 1_000, 3)], 1);
        assert_eq!(b.upd(0, &[], &[], (1, i64::MAX / 2)), MMSIM_OK);
        let v = b.vals(0);
        assert_eq!(v[0], 1.0);
        assert_eq!(v[1], 1.0);
    }

    #[test]
    fn quantize_rounds_like_round() {
        for &x in &[0.0, 0.49, 0.5, 0.51, 1.5, 2.5, -0.5, -2.5, 3.0, 1e15 + 0.5, 7.25e-20, -1.0e-30, 1e300, -1e300] {
            for &scale in &[1.0, REAL_SCALE] {
                let want = (x * scale).round().clamp(-(2f64.powi(126)), 2f64.powi(126)) as i128;
                assert_eq!(quantize(x, scale), want, "{x} {scale}");
            }
        }
        assert_eq!(quantize(f64::NAN, 1.0), 0);
        assert_eq!(quantize(f64::INFINITY, 1.0), 1 << 126);
        assert_eq!(quantize(f64::NEG_INFINITY, 1.0), -(1 << 126));
    }

    #[test]
    fn windows_are_exact_over_long_runs() {
        let b = B::new(&[spec(MMSIM_F_REALIZED_VOL, 0, 0, 3), spec(MMSIM_F_MID_RETURN, 0, 0, 3)], 1);
        let mut t = 0;
        for i in 0..10_000 {
            let m = 1000 + (i * 7919 % 13) as i64;
            b.upd(t, &[(m, 1)], &[(m + 2, 1)], (0, 0));
            t += 1;
        }
        for _ in 0..4 {
            b.upd(t, &[(500, 1)], &[(502, 1)], (0, 0));
        }
        let v = b.vals(t);
        assert_eq!(v[0], 0.0);
        assert_eq!(v[1], 0.0);
    }
}
