//! A per-chunk Bloom filter over its spans' (attribute key, string value) pairs, so a tag
//! search rejects a whole chunk whose spans cannot hold the value without reading them.
//!
//! A key whose value is not a single string (an int, a bool, no value, a repeated value
//! field) goes in as (key, [`UNKNOWN`]): such a chunk is never rejected for that key, since
//! the exact check compares the value's text form.

use ferrotel_pdata::wire::AnyValueView;

use crate::wire::{self, Malformed};

/// Stands for "some value that is not a plain string" (the byte 0xff never occurs in UTF-8,
/// and the lengths are hashed too).
const UNKNOWN: &[u8] = &[0xff];
/// Bits per distinct pair: three probes give about 1.5 % false positives.
const BITS_PER_PAIR: usize = 10;

/// A word-at-a-time multiply-rotate hash of key, separator, value, then a final mix so the
/// probe bits are independent (FNV's byte loop was a visible share of ingest).
fn pair_hash(key: &[u8], value: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = (key.len() as u64) << 32 | value.len() as u64;
    for part in [key, value] {
        let mut words = part.chunks_exact(8);
        for w in &mut words {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            h = (h ^ u64::from_le_bytes(a)).wrapping_mul(K).rotate_left(29);
        }
        let mut a = [0u8; 8];
        a[..words.remainder().len()].copy_from_slice(words.remainder());
        h = (h ^ u64::from_le_bytes(a) ^ 0xfe)
            .wrapping_mul(K)
            .rotate_left(29);
    }
    // splitmix64's finaliser.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// An encoded span attribute's key and the hash it adds to its chunk's filter.
pub(crate) fn kv_key_hash(kv: &[u8]) -> Result<(&[u8], u64), Malformed> {
    let (key, value) = wire::kv_parts(kv)?;
    let h = match value.map(AnyValueView::parse) {
        Some(AnyValueView::Str(s)) => pair_hash(key, s.as_bytes()),
        _ => pair_hash(key, UNKNOWN),
    };
    Ok((key, h))
}

#[derive(Default)]
pub(crate) struct Bloom {
    bits: Box<[u64]>,
}

impl Bloom {
    /// A filter over `hashes` (sorted and deduplicated in place).
    pub fn build(hashes: &mut Vec<u64>) -> Self {
        hashes.sort_unstable();
        hashes.dedup();
        if hashes.is_empty() {
            return Bloom::default();
        }
        let words = (hashes.len() * BITS_PER_PAIR)
            .div_ceil(64)
            .next_power_of_two();
        let mut bits = vec![0u64; words].into_boxed_slice();
        for &h in hashes.iter() {
            for bit in probes(h, words) {
                bits[bit / 64] |= 1 << (bit % 64);
            }
        }
        Bloom { bits }
    }

    pub fn bytes(&self) -> u64 {
        (self.bits.len() * 8) as u64
    }

    fn has(&self, h: u64) -> bool {
        !self.bits.is_empty()
            && probes(h, self.bits.len()).all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// Whether some span may have attribute `key` equal to `value` (as text): false only when
    /// none has.
    pub fn may_have(&self, key: &str, value: &str) -> bool {
        self.has(pair_hash(key.as_bytes(), value.as_bytes()))
            || self.has(pair_hash(key.as_bytes(), UNKNOWN))
    }
}

/// Three bit positions from one hash (double hashing), within `words * 64` bits.
fn probes(h: u64, words: usize) -> impl Iterator<Item = usize> {
    let mask = (words * 64 - 1) as u64;
    let (a, b) = (h, (h >> 32) | 1);
    (0..3u64).map(move |i| (a.wrapping_add(i.wrapping_mul(b)) & mask) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_went_in_and_rejects_most_else() {
        let mut hashes: Vec<u64> = (0..500)
            .map(|i| pair_hash(b"url.path", format!("/p/{i}").as_bytes()))
            .collect();
        hashes.push(pair_hash(b"n", UNKNOWN));
        let b = Bloom::build(&mut hashes);
        assert!((0..500).all(|i| b.may_have("url.path", &format!("/p/{i}"))));
        assert!(b.may_have("n", "42"), "a non-string key is never rejected");
        let false_pos = (0..10_000)
            .filter(|i| b.may_have("url.path", &format!("/q/{i}")))
            .count();
        assert!(false_pos < 500, "{false_pos} false positives in 10 000");
        assert!(!Bloom::default().may_have("url.path", "/p/1"));
    }
}
