//! Span timestamps: the wall-clock time, read cheaply.
//!
//! A span reads the clock at start and at end (and per event), and on this kind of VM
//! `SystemTime::now()` costs about 40 ns, a large part of a span. Where the kernel itself uses
//! the TSC as its clocksource (x86_64 Linux; it does so only when the TSC is invariant and
//! synchronised across CPUs), the time is the TSC (≈ 15 ns to read) scaled from an anchor
//! pair (TSC, wall time): `wall = anchor_wall + (tsc - anchor_tsc) × ns_per_tick`. The rate is
//! measured against the monotonic clock over an ever longer baseline, and the anchor is
//! re-taken about once a second, so the result follows the wall clock (NTP steps included)
//! within microseconds and a span's duration is a monotonic measure, as the OTel spec allows.
//! Elsewhere, and while another thread is re-anchoring, it is `SystemTime::now()`.
//!
//! The anchor is published with a sequence lock that readers never wait on: a reader that
//! sees it being written reads `SystemTime::now()` instead.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering, fence};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Fixed-point shift of `NS_PER_TICK`.
const SHIFT: u32 = 32;

const UNKNOWN: u8 = 0;
const TSC: u8 = 1;
const SYSTEM: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);
/// Odd while the anchor is being written.
static SEQ: AtomicU64 = AtomicU64::new(0);
static ANCHOR_TSC: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds since the Unix epoch at `ANCHOR_TSC`.
static ANCHOR_NS: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per tick << SHIFT.
static NS_PER_TICK: AtomicU64 = AtomicU64::new(0);
/// Ticks after the anchor at which a reader re-anchors (about a second).
static REANCHOR_TICKS: AtomicU64 = AtomicU64::new(u64::MAX);

/// What only the writer (the thread holding the lock) needs: the rate's baseline, the first
/// (TSC, monotonic) pair, and the current anchor's.
struct Baseline {
    tsc0: u64,
    mono0: Instant,
    anchor_tsc: u64,
    anchor_mono: Instant,
}

static BASELINE: Mutex<Option<Baseline>> = Mutex::new(None);

#[cfg(target_arch = "x86_64")]
#[inline]
fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn rdtsc() -> u64 {
    0
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A (TSC, monotonic) pair read close together: the TSC read on both sides of the clock read,
/// best of a few tries, so a preemption between the two reads (common on a loaded VM) cannot
/// skew the rate measured from two such pairs.
fn paired_reading() -> (u64, Instant) {
    let mut best: Option<(u64, u64, Instant)> = None;
    for _ in 0..8 {
        let before = rdtsc();
        let mono = Instant::now();
        let after = rdtsc();
        let spread = after.wrapping_sub(before);
        if best.is_none_or(|(s, _, _)| spread < s) {
            best = Some((spread, before + spread / 2, mono));
        }
    }
    let (_, tsc, mono) = best.expect("eight tries");
    (tsc, mono)
}

/// Whether the kernel's clocksource is the TSC (then it is invariant and synchronised).
fn kernel_uses_tsc() -> bool {
    cfg!(all(target_arch = "x86_64", target_os = "linux"))
        && std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .is_ok_and(|s| s.trim() == "tsc")
}

/// Chooses the clock and, for the TSC, measures its rate over about 2 ms. Called when a
/// provider is built (so no span pays it); later calls return at once.
pub(crate) fn init() {
    if MODE.load(Ordering::Acquire) != UNKNOWN {
        return;
    }
    let mut baseline = BASELINE.lock().unwrap_or_else(|e| e.into_inner());
    if MODE.load(Ordering::Acquire) != UNKNOWN {
        return;
    }
    if !kernel_uses_tsc() {
        MODE.store(SYSTEM, Ordering::Release);
        return;
    }
    let (t0, m0) = paired_reading();
    while m0.elapsed() < Duration::from_millis(2) {
        std::hint::spin_loop();
    }
    let (t1, m1) = paired_reading();
    let ns = m1.duration_since(m0).as_nanos() as u64;
    let ticks = t1.wrapping_sub(t0);
    if ticks == 0 || t1 < t0 {
        MODE.store(SYSTEM, Ordering::Release);
        return;
    }
    let rate = ((u128::from(ns) << SHIFT) / u128::from(ticks)) as u64;
    let (t, m) = paired_reading();
    *baseline = Some(Baseline {
        tsc0: t0,
        mono0: m0,
        anchor_tsc: t,
        anchor_mono: m,
    });
    publish(t, wall_ns(), rate);
    MODE.store(TSC, Ordering::Release);
}

/// Writes a new anchor and rate. Callers hold `BASELINE` (one writer at a time). Readers that
/// see it half-written read `SystemTime::now()` meanwhile; none waits.
fn publish(tsc: u64, ns: u64, rate: u64) {
    let seq = SEQ.load(Ordering::Relaxed);
    SEQ.store(seq | 1, Ordering::Relaxed);
    fence(Ordering::Release);
    ANCHOR_TSC.store(tsc, Ordering::Relaxed);
    ANCHOR_NS.store(ns, Ordering::Relaxed);
    NS_PER_TICK.store(rate, Ordering::Relaxed);
    // About one second of ticks.
    let second = (1_000_000_000u128 << SHIFT) / u128::from(rate.max(1));
    REANCHOR_TICKS.store(second.min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
    SEQ.store((seq | 1).wrapping_add(1), Ordering::Release);
}

/// Re-anchors on the current wall time and refines the rate over the whole baseline. Only
/// one thread does it; the others go on with the old anchor meanwhile.
#[cold]
fn reanchor() {
    let Ok(mut guard) = BASELINE.try_lock() else {
        return;
    };
    let Some(b) = guard.as_mut() else {
        return;
    };
    let (t, m) = paired_reading();
    let wall = wall_ns();
    if t <= b.tsc0 || t <= b.anchor_tsc {
        return;
    }
    // The time the current rate predicts since the anchor, against the monotonic clock: a gap
    // of more than 1 ms means the TSC's rate changed (a VM moved to another host), so the rate
    // is measured anew from the last anchor on.
    let since = m.duration_since(b.anchor_mono).as_nanos();
    let rate_now = NS_PER_TICK.load(Ordering::Relaxed);
    let predicted = (u128::from(t - b.anchor_tsc) * u128::from(rate_now)) >> SHIFT;
    if predicted.abs_diff(since) > 1_000_000 {
        b.tsc0 = b.anchor_tsc;
        b.mono0 = b.anchor_mono;
    }
    let ns = m.duration_since(b.mono0).as_nanos();
    let rate = ((ns << SHIFT) / u128::from(t - b.tsc0)) as u64;
    b.anchor_tsc = t;
    b.anchor_mono = m;
    publish(t, wall, rate);
}

/// The wall-clock time now.
#[inline]
pub(crate) fn now() -> SystemTime {
    if MODE.load(Ordering::Acquire) == TSC
        && let Some(ns) = tsc_now()
    {
        return UNIX_EPOCH + Duration::from_nanos(ns);
    }
    SystemTime::now()
}

#[inline]
fn tsc_now() -> Option<u64> {
    let s1 = SEQ.load(Ordering::Acquire);
    let base_tsc = ANCHOR_TSC.load(Ordering::Relaxed);
    let base_ns = ANCHOR_NS.load(Ordering::Relaxed);
    let rate = NS_PER_TICK.load(Ordering::Relaxed);
    let reanchor_ticks = REANCHOR_TICKS.load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    if s1 & 1 == 1 || SEQ.load(Ordering::Relaxed) != s1 {
        return None;
    }
    let tsc = rdtsc();
    if tsc < base_tsc {
        // Another CPU's anchor a few ticks ahead of this one: no extrapolation needed.
        return Some(base_ns);
    }
    let ticks = tsc - base_tsc;
    if ticks > reanchor_ticks {
        reanchor();
    }
    Some(base_ns + ((u128::from(ticks) * u128::from(rate)) >> SHIFT) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_wall_clock() {
        init();
        for _ in 0..3 {
            let ours = now();
            let sys = SystemTime::now();
            let diff = match sys.duration_since(ours) {
                Ok(d) => d,
                Err(e) => e.duration(),
            };
            assert!(diff < Duration::from_millis(2), "{diff:?} off");
            std::thread::sleep(Duration::from_millis(30));
        }
        let (a, b) = (now(), now());
        assert!(b >= a);
    }

    #[test]
    fn reanchoring_keeps_it_on_the_wall_clock() {
        init();
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(20));
            reanchor();
            let diff = match SystemTime::now().duration_since(now()) {
                Ok(d) => d,
                Err(e) => e.duration(),
            };
            assert!(diff < Duration::from_millis(2), "{diff:?} off");
        }
    }

    #[test]
    fn measures_durations() {
        init();
        let a = now();
        std::thread::sleep(Duration::from_millis(50));
        let d = now().duration_since(a).unwrap();
        assert!(
            d >= Duration::from_millis(49) && d < Duration::from_millis(500),
            "{d:?}"
        );
    }
}
