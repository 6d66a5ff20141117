//! The few protobuf primitives the direct path needs: the OTLP field writers (shared with the
//! Jaeger receiver, in `ferrotel_pdata::wire::write`), and reading Zipkin's `ListOfSpans`
//! strictly (anything prost would merge, skip or coerce is refused: the caller falls back to
//! the reference decoder, which then decides).

pub(super) use ferrotel_pdata::wire::write::{
    FIXED64, LEN, VARINT, Val, field_len, put_bytes, put_fixed64, put_kv, put_len, put_nonempty,
    put_uint,
};

/// A strict protobuf reader: `None` for anything the direct path leaves to prost.
pub(super) struct Rd<'a>(pub(super) &'a [u8]);

impl<'a> Rd<'a> {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            // The tenth byte holds bit 63 only; prost refuses more.
            if i == 9 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// A field key: (number, wire type). Field numbers the direct path reads are small.
    pub(super) fn key(&mut self) -> Option<(u64, u8)> {
        let k = self.varint()?;
        Some((k >> 3, (k & 7) as u8))
    }

    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        if n > self.0.len() {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }

    pub(super) fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    pub(super) fn fixed64(&mut self) -> Option<u64> {
        let (b, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*b))
    }
}
