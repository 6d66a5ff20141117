//! The map under each shard of the bridge's [`super::store::Store`]: `tracing` span id →
//! value, open addressing with linear probing.
//!
//! Why not `HashMap`: the bridge looks a span up four times in its life (create, enter, exit,
//! close), and hashbrown's generic probing (control-byte groups, tombstones) costs 45–100
//! instructions per operation there, a tenth of the bridge's own work per span. Span ids are
//! non-zero integers, so a slot is a key (0: empty) and a value; at most half full, a look-up
//! usually reads one slot. Removal shifts the following entries back (no tombstones), so the
//! table never needs cleaning however many spans come and go.

/// One slot; `key == 0` marks it empty (`tracing` ids are never 0).
struct Slot<V> {
    key: u64,
    value: Option<V>,
}

pub(crate) struct Table<V> {
    slots: Box<[Slot<V>]>,
    len: usize,
    /// `64 - log2(slots.len())`: the index is the hash's next bits below the shard's.
    shift: u32,
}

/// Fibonacci hashing: `tracing` ids are small, dense integers; multiplying spreads them over
/// the high bits. The store takes the top [`SHARD_BITS`] for the shard, the table the bits
/// below them.
#[inline]
pub(crate) fn hash(key: u64) -> u64 {
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Bits of [`hash`] that choose the shard.
pub(crate) const SHARD_BITS: u32 = 6;

const MIN_SLOTS: usize = 8;

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            slots: Box::new([]),
            len: 0,
            shift: 64,
        }
    }
}

impl<V> Table<V> {
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot where `key`'s probe starts (the table is not empty).
    #[inline]
    fn home(&self, key: u64) -> usize {
        ((hash(key) << SHARD_BITS) >> self.shift) as usize
    }

    /// The slot holding `key`, if any.
    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].key;
            if k == key {
                return Some(i);
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut V> {
        let i = self.find(key)?;
        self.slots[i].value.as_mut()
    }

    /// Inserts `value` under `key` (non-zero), returning the value it replaces.
    #[inline]
    pub(crate) fn insert(&mut self, key: u64, value: V) -> Option<V> {
        debug_assert_ne!(key, 0);
        // At most half full: probes stay short.
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let slot = &mut self.slots[i];
            if slot.key == 0 {
                slot.key = key;
                slot.value = Some(value);
                self.len += 1;
                return None;
            }
            if slot.key == key {
                return slot.value.replace(value);
            }
            i = (i + 1) & mask;
        }
    }

    /// Takes `key`'s value out.
    #[inline]
    pub(crate) fn remove(&mut self, key: u64) -> Option<V> {
        let mut hole = self.find(key)?;
        let value = self.slots[hole].value.take();
        self.len -= 1;
        // Backward shift: an entry after the hole moves into it when its home slot is not
        // between the hole and itself, so every probe still finds its key before a free slot.
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let k = self.slots[j].key;
            if k == 0 {
                break;
            }
            let home = self.home(k);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                let moved = self.slots[j].value.take();
                self.slots[hole] = Slot {
                    key: k,
                    value: moved,
                };
                hole = j;
            }
        }
        self.slots[hole].key = 0;
        value
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cold]
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(
            &mut self.slots,
            (0..slots)
                .map(|_| Slot {
                    key: 0,
                    value: None,
                })
                .collect(),
        );
        self.shift = 64 - slots.trailing_zeros();
        self.len = 0;
        for slot in old.into_vec() {
            if let Some(v) = slot.value {
                self.insert(slot.key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn matches_a_hash_map_through_random_inserts_and_removes() {
        // Keys from a small range, so removals hit, probes collide and entries shift.
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut table = Table::default();
        let mut model = HashMap::new();
        for round in 0..200_000u64 {
            let key = next() % 512 + 1;
            if next() % 3 == 0 {
                assert_eq!(table.remove(key), model.remove(&key), "remove {key}");
            } else {
                assert_eq!(
                    table.insert(key, round),
                    model.insert(key, round),
                    "insert {key}"
                );
            }
            let probe = next() % 512 + 1;
            assert_eq!(table.get_mut(probe).copied(), model.get(&probe).copied());
            assert_eq!(table.len(), model.len());
        }
        for (k, v) in &model {
            assert_eq!(table.get_mut(*k), Some(&mut v.clone()));
        }
    }

    #[test]
    fn registry_like_ids_and_an_empty_table() {
        let mut table: Table<u64> = Table::default();
        assert_eq!(table.get_mut(1), None);
        assert_eq!(table.remove(1), None);
        // The registry's ids: slab indices with generation bits above them.
        let ids: Vec<u64> = (0..1000u64).map(|i| (i << 40) | ((i % 37) + 1)).collect();
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(table.insert(*id, n as u64), None);
        }
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(table.remove(*id), Some(n as u64));
        }
        assert_eq!(table.len(), 0);
    }
}
