//! Finding a known file again: by its (device, inode) first, which is exact while the file is
//! neither copied nor rewritten, else by its fingerprint, as the Go receiver does (a file is
//! the one whose known fingerprint the new fingerprint starts with).
//!
//! The fingerprint lookup must stay cheap with many files sharing long prefixes (log lines of
//! one format): fingerprints are indexed by (length, hash), and a candidate is hashed
//! incrementally, probing once at each length some known fingerprint has. That costs one pass
//! over the candidate's bytes plus one probe per distinct known length, whatever the number of
//! files.

use std::collections::{BTreeMap, HashMap};

/// A streaming hash of bytes, extendable one byte at a time (the prefix hashes of a candidate).
#[derive(Clone, Copy)]
pub struct PrefixHash(u64);

impl PrefixHash {
    pub const START: PrefixHash = PrefixHash(0xcbf2_9ce4_8422_2325);

    pub fn extend(mut self, bytes: &[u8]) -> PrefixHash {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        self
    }

    pub fn of(bytes: &[u8]) -> u64 {
        PrefixHash::START.extend(bytes).0
    }
}

#[derive(Default)]
pub struct KnownIndex {
    by_inode: HashMap<(u64, u64), usize>,
    by_fingerprint: HashMap<(usize, u64), Vec<usize>>,
    /// How many known fingerprints have each length.
    lengths: BTreeMap<usize, usize>,
}

impl KnownIndex {
    pub fn clear(&mut self) {
        self.by_inode.clear();
        self.by_fingerprint.clear();
        self.lengths.clear();
    }

    pub fn by_inode(&self, dev_ino: (u64, u64)) -> Option<usize> {
        self.by_inode.get(&dev_ino).copied()
    }

    pub fn set_inode(&mut self, dev_ino: (u64, u64), i: usize) {
        self.by_inode.insert(dev_ino, i);
    }

    pub fn insert_fingerprint(&mut self, fingerprint: &[u8], hash: u64, i: usize) {
        if fingerprint.is_empty() {
            return;
        }
        self.by_fingerprint
            .entry((fingerprint.len(), hash))
            .or_default()
            .push(i);
        *self.lengths.entry(fingerprint.len()).or_default() += 1;
    }

    pub fn remove_fingerprint(&mut self, fingerprint: &[u8], hash: u64, i: usize) {
        let key = (fingerprint.len(), hash);
        let Some(v) = self.by_fingerprint.get_mut(&key) else {
            return;
        };
        let Some(pos) = v.iter().position(|&x| x == i) else {
            return;
        };
        v.swap_remove(pos);
        if v.is_empty() {
            self.by_fingerprint.remove(&key);
        }
        if let Some(n) = self.lengths.get_mut(&fingerprint.len()) {
            *n -= 1;
            if *n == 0 {
                self.lengths.remove(&fingerprint.len());
            }
        }
    }

    /// The known file, among those `fits` accepts, with the longest fingerprint that
    /// `candidate` starts with. `fits` gets the index and checks the bytes (hashes can
    /// collide).
    pub fn find_by_fingerprint(
        &self,
        candidate: &[u8],
        mut fits: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let mut hash = PrefixHash::START;
        let mut hashed = 0;
        let mut best = None;
        for &len in self.lengths.range(1..=candidate.len()).map(|(l, _)| l) {
            hash = hash.extend(&candidate[hashed..len]);
            hashed = len;
            if let Some(v) = self.by_fingerprint.get(&(len, hash.0))
                && let Some(&i) = v.iter().rev().find(|&&i| fits(i))
            {
                best = Some(i);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_longest_known_prefix_among_shared_prefixes() {
        let mut ix = KnownIndex::default();
        let fps: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("{{\"time\":\"2026\",\"n\":{i:05}}}").into_bytes())
            .collect();
        for (i, f) in fps.iter().enumerate() {
            ix.insert_fingerprint(f, PrefixHash::of(f), i);
        }
        let short = b"{\"time\"".to_vec();
        ix.insert_fingerprint(&short, PrefixHash::of(&short), 1000);
        let all = |i: usize| i <= 1000;
        let mut grown = fps[417].clone();
        grown.extend_from_slice(b"\nmore");
        assert_eq!(ix.find_by_fingerprint(&grown, all), Some(417));
        assert_eq!(ix.find_by_fingerprint(b"{\"time\":\"1999", all), Some(1000));
        assert_eq!(ix.find_by_fingerprint(b"other", all), None);
        // A rejected match (already taken this poll) falls back to a shorter one.
        assert_eq!(ix.find_by_fingerprint(&grown, |i| i != 417), Some(1000));
        ix.remove_fingerprint(&short, PrefixHash::of(&short), 1000);
        assert_eq!(ix.find_by_fingerprint(&grown, |i| i != 417), None);
        ix.remove_fingerprint(&fps[417], PrefixHash::of(&fps[417]), 417);
        assert_eq!(ix.find_by_fingerprint(&grown, all), None);
    }
}
