//! Exact sets of seen item ids, cheap for the dense ids the generator produces.

use std::collections::{HashMap, HashSet};

/// Ids whose low 32 bits stay below this go into bitmaps (8 MiB per nonce at most).
const DENSE_LIMIT: u32 = 1 << 26;

/// Seen ids: a bitmap per high 32 bits for dense sequence numbers, a hash set for the rest.
#[derive(Debug, Default)]
pub struct IdSet {
    dense: HashMap<u32, Vec<u64>>,
    sparse: HashSet<u64>,
    unique: u64,
    duplicates: u64,
}

impl IdSet {
    /// Records `id`; returns false if it was seen before (a duplicate).
    pub fn insert(&mut self, id: u64) -> bool {
        let (hi, lo) = ((id >> 32) as u32, id as u32);
        let fresh = if lo < DENSE_LIMIT {
            let bits = self.dense.entry(hi).or_default();
            let word = (lo / 64) as usize;
            if bits.len() <= word {
                bits.resize((word + 1).next_power_of_two(), 0);
            }
            let mask = 1u64 << (lo % 64);
            let fresh = bits[word] & mask == 0;
            bits[word] |= mask;
            fresh
        } else {
            self.sparse.insert(id)
        };
        if fresh {
            self.unique += 1;
        } else {
            self.duplicates += 1;
        }
        fresh
    }

    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// Arrivals of an id already seen.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_unique_and_duplicates() {
        let mut s = IdSet::default();
        for id in [1u64, 2, 3, 2, 1 << 40, 1 << 40, u64::MAX, (7 << 40) | 5] {
            s.insert(id);
        }
        assert_eq!((s.unique(), s.duplicates()), (6, 2));
    }
}
