//! The bridge's own span store: the state of every recorded `tracing` span, keyed by its id.
//!
//! Rather than `tracing_subscriber`'s per-span extensions (a registry look-up, a lock and a
//! type-map per access, and a boxed value per span), the layer keeps its spans in a table split
//! into shards by id. A shard is a plain map ([`Table`]) under its own mutex: spans on different
//! threads almost always fall in different shards, so there is no lock that every thread takes,
//! and a freed entry's room is reused by the next span (no allocation per span once warm).
//!
//! A state is boxed once and stays in its box until the span closes (the map moves a pointer,
//! not the ~180-byte state); a closed span's box is kept for the next span on the closing
//! thread ([`Boxed`]), so a warm thread allocates nothing per span for it.
//!
//! A shard's lock is never held while code outside the bridge runs, except the SDK's own
//! (sampler, processors), which runs under [`super::Inside`], where the layer ignores what
//! `tracing` calls it for (see [`Store::close`] for the one exception it must not ignore).

use std::cell::{Cell, RefCell};
use std::mem::{ManuallyDrop, MaybeUninit};

use parking_lot::{Mutex, MutexGuard};

use tracing::span::Id;

use super::SpanState;
use super::table::{SHARD_BITS, Table, hash};

/// Shards: enough that threads rarely meet in one.
const SHARDS: usize = 1 << SHARD_BITS;

type Map = Table<Boxed>;

/// Spare boxes a thread keeps (spans closed on it, for spans it creates next): enough for the
/// spans one thread nests, bounded for threads that close more spans than they create.
const SPARE_BOXES: usize = 32;

thread_local! {
    static SPARE: RefCell<Vec<Box<MaybeUninit<SpanState>>>> = const { RefCell::new(Vec::new()) };
}

/// A span's state in its box. Dropping it drops the state and keeps the box for the thread's
/// next span.
pub(crate) struct Boxed(ManuallyDrop<Box<SpanState>>);

impl Boxed {
    /// The state `make` returns, boxed, in a spare box of this thread when it has one. A
    /// closure, called once the box is there, so the state is written straight into it (not
    /// built on the stack and copied, a `memcpy` call for its ~180 bytes).
    #[inline(always)]
    pub(crate) fn new(make: impl FnOnce() -> SpanState) -> Boxed {
        let spare = SPARE
            .try_with(|s| s.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten();
        let b = spare.unwrap_or_else(Box::new_uninit);
        Boxed(ManuallyDrop::new(Box::write(b, make())))
    }
}

impl std::ops::Deref for Boxed {
    type Target = SpanState;
    #[inline]
    fn deref(&self) -> &SpanState {
        &self.0
    }
}

impl std::ops::DerefMut for Boxed {
    #[inline]
    fn deref_mut(&mut self) -> &mut SpanState {
        &mut self.0
    }
}

impl Drop for Boxed {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self.0` is not used again (this is its drop).
        let b = unsafe { ManuallyDrop::take(&mut self.0) };
        let raw = Box::into_raw(b);
        // SAFETY: `raw` holds an initialised state, dropped exactly once here; the allocation,
        // now uninitialised, is re-owned as a `MaybeUninit` box of the same layout (which
        // frees it if it is not kept).
        let spare = unsafe {
            std::ptr::drop_in_place(raw);
            Box::from_raw(raw.cast::<MaybeUninit<SpanState>>())
        };
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut()
                && s.len() < SPARE_BOXES
            {
                s.push(spare);
            }
        });
    }
}

#[repr(align(64))]
struct Shard(Mutex<Map>);

pub(crate) struct Store {
    shards: Box<[Shard]>,
}

thread_local! {
    /// Spans closed while this thread held a shard (a `Debug` impl or a processor dropping
    /// the last handle of another span): removed once the lock is released.
    static DEFERRED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    /// Whether `DEFERRED` may hold keys: what every exit and close tests, a plain flag (the
    /// list's thread-local has a destructor, so each access checks its registration).
    static HAS_DEFERRED: Cell<bool> = const { Cell::new(false) };
}

impl Default for Store {
    fn default() -> Self {
        Store {
            shards: (0..SHARDS).map(|_| Shard(Mutex::default())).collect(),
        }
    }
}

impl Store {
    #[inline]
    fn shard(&self, id: u64) -> &Mutex<Map> {
        // The hash's top bits; the shard's table indexes by the bits below them.
        &self.shards[(hash(id) >> (64 - SHARD_BITS)) as usize].0
    }

    #[inline]
    fn lock(&self, id: u64) -> MutexGuard<'_, Map> {
        // No poisoning: a panic while a shard was held (there is no user code under it) leaves
        // the map consistent, every mutation being a single map call.
        self.shard(id).lock()
    }

    #[inline]
    pub(crate) fn insert(&self, id: &Id, state: Boxed) {
        let old = self.lock(id.into_u64()).insert(id.into_u64(), state);
        // An id is reused only after its span closed (and left the store): nothing to drop
        // but, should a layer miss a close, the stale state, outside the lock.
        drop(old);
    }

    /// Runs `f` on span `id`'s state, if the layer records it.
    #[inline]
    pub(crate) fn with<T>(&self, id: &Id, f: impl FnOnce(&mut SpanState) -> T) -> Option<T> {
        let mut map = self.lock(id.into_u64());
        let state = map.get_mut(id.into_u64())?;
        let _inside = super::Inside::enter();
        Some(f(state))
    }

    /// Takes span `id`'s state out. Called where the bridge itself may hold a shard (a span
    /// closed from inside the SDK or a `Debug` impl on this thread), it never waits: when the
    /// shard is taken the removal is deferred until this thread releases it.
    #[inline]
    pub(crate) fn remove(&self, id: &Id) -> Option<Boxed> {
        let key = id.into_u64();
        let shard = self.shard(key);
        if !super::Inside::is_set() {
            return shard.lock().remove(key);
        }
        match shard.try_lock() {
            Some(mut map) => map.remove(key),
            None => {
                // Held by this thread (it is inside the bridge) or, for a moment, by another:
                // either way removed later by this thread, once it is out of the bridge.
                let _ = DEFERRED.try_with(|d| d.borrow_mut().push(key));
                let _ = HAS_DEFERRED.try_with(|f| f.set(true));
                None
            }
        }
    }

    /// Removes the spans whose close was deferred (see [`Store::remove`]); their states are
    /// returned to be ended outside any lock.
    pub(crate) fn take_deferred(&self) -> Vec<Boxed> {
        let _ = HAS_DEFERRED.try_with(|f| f.set(false));
        let keys = DEFERRED
            .try_with(|d| std::mem::take(&mut *d.borrow_mut()))
            .unwrap_or_default();
        keys.into_iter()
            .filter_map(|k| self.lock(k).remove(k))
            .collect()
    }

    /// Whether this thread has closes to finish.
    #[inline]
    pub(crate) fn has_deferred() -> bool {
        HAS_DEFERRED.try_with(Cell::get).unwrap_or(false)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().len()).sum()
    }
}
