//! Trace and span ids from a per-thread wyrand generator: no lock, no shared state, no
//! allocation. Seeded once per thread from std's per-process random hash keys mixed with the
//! thread's address and the clock, so threads and processes draw different sequences.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use opentelemetry::trace::{SpanId, TraceId};

thread_local! {
    /// 0 until the thread's first id (a const initialiser: no lazy-init check per access).
    static STATE: Cell<u64> = const { Cell::new(0) };
}

fn seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    let local = 0u8;
    h.write_usize(&local as *const u8 as usize);
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.write_u32(std::process::id());
    // Never 0, which marks an unseeded thread.
    h.finish() | 1
}

/// wyrand: 64 bits per step; passes BigCrush; plenty for ids (not for secrets).
#[inline(always)]
fn step(x: &mut u64) -> u64 {
    // The state after a step is never 0 again but once in 2^64 steps, when the thread would
    // merely draw a new seed.
    *x = x.wrapping_add(0xa076_1d64_78bd_642f);
    let t = u128::from(*x).wrapping_mul(u128::from(*x ^ 0xe703_7ed1_a0b4_28db));
    ((t >> 64) as u64) ^ (t as u64)
}

/// Runs `f` on this thread's generator state (one thread-local access for several ids).
#[inline(always)]
fn with_state<T>(f: impl FnOnce(&mut u64) -> T) -> T {
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = seed();
        }
        let out = f(&mut x);
        s.set(x);
        out
    })
}

#[inline(always)]
fn new_trace_id_from(x: &mut u64) -> TraceId {
    loop {
        let v = (u128::from(step(x)) << 64) | u128::from(step(x));
        if v != 0 {
            return TraceId::from(v);
        }
    }
}

#[inline(always)]
fn span_id(x: &mut u64) -> SpanId {
    loop {
        let v = step(x);
        if v != 0 {
            return SpanId::from(v);
        }
    }
}

/// A random, valid (non-zero) span id.
#[inline]
pub fn new_span_id() -> SpanId {
    with_state(span_id)
}

/// A new span's ids: `trace`, or for a root span a random, valid (non-zero) trace id, and a
/// random span id, drawn together. All 128 bits of a new trace id are random, so the W3C
/// "random" flag holds for it and consistent probability sampling may use its low 56 bits.
#[inline]
pub fn new_ids(trace: Option<TraceId>) -> (TraceId, SpanId) {
    with_state(|x| (trace.unwrap_or_else(|| new_trace_id_from(x)), span_id(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(new_span_id()));
            assert_ne!(new_ids(None).0, TraceId::INVALID);
        }
    }

    #[test]
    fn ids_drawn_together_are_valid_and_distinct() {
        let parent = new_ids(None).0;
        let (t, a) = new_ids(Some(parent));
        let (u, b) = new_ids(None);
        assert_eq!(t, parent);
        assert!(u != parent && u != TraceId::INVALID);
        assert!(a != b && a != SpanId::INVALID && b != SpanId::INVALID);
    }

    #[test]
    fn threads_draw_different_ids() {
        let a = std::thread::spawn(|| new_ids(None).0).join().unwrap();
        let b = std::thread::spawn(|| new_ids(None).0).join().unwrap();
        assert_ne!(a, b);
    }
}
