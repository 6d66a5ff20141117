//! Item ids: how the generator makes every item unique and how the sink reads them back.
//!
//! An id is a `u64`: the run's 24-bit nonce in the top bits and the item's sequence number
//! (from 1) below. Spans carry it as their span id (big-endian); metric data points and log
//! records carry it as the `loadgen.seq` string attribute (16 lower-case hex digits).
//!
//! The sink extracts ids with a minimal protobuf walker over the encoded request, so counting
//! costs one pass over the bytes and no allocation per item.

use ferrotel_pdata::Signal;

/// The attribute key that carries the id of a metric data point or log record.
pub const SEQ_KEY: &str = "loadgen.seq";

/// Bits of an id taken by the sequence number.
pub const SEQ_BITS: u32 = 40;

/// The id of item `seq` (from 1) of the run with `nonce` (24 bits).
pub fn make_id(nonce: u32, seq: u64) -> u64 {
    (u64::from(nonce & 0xff_ffff) << SEQ_BITS) | (seq & ((1 << SEQ_BITS) - 1))
}

/// Writes `id` as 16 lower-case hex digits.
pub fn write_hex(id: u64, out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in out.iter_mut().take(16).enumerate() {
        *b = HEX[((id >> (60 - 4 * i)) & 0xf) as usize];
    }
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.len() != 16 {
        return None;
    }
    let mut v = 0u64;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

/// A protobuf field: number and payload.
enum Field<'a> {
    Varint,
    Fixed,
    Bytes(&'a [u8]),
}

/// Iterates over the top-level fields of one message; stops at malformed input.
struct Fields<'a> {
    buf: &'a [u8],
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u32, Field<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let key = varint(&mut self.buf)?;
        let num = (key >> 3) as u32;
        let field = match key & 7 {
            0 => {
                varint(&mut self.buf)?;
                Field::Varint
            }
            1 => {
                self.buf = self.buf.get(8..)?;
                Field::Fixed
            }
            5 => {
                self.buf = self.buf.get(4..)?;
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(varint(&mut self.buf)?).ok()?;
                let (data, rest) = (self.buf.get(..len)?, self.buf.get(len..)?);
                self.buf = rest;
                Field::Bytes(data)
            }
            _ => return None,
        };
        Some((num, field))
    }
}

fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf }
}

/// The sub-messages of field `num`.
fn children(buf: &[u8], num: u32) -> impl Iterator<Item = &[u8]> {
    fields(buf).filter_map(move |(n, f)| match f {
        Field::Bytes(b) if n == num => Some(b),
        _ => None,
    })
}

/// The `loadgen.seq` attribute among the KeyValues in field `attr_field` of `msg`.
fn seq_attribute(msg: &[u8], attr_field: u32) -> Option<u64> {
    for kv in children(msg, attr_field) {
        let mut key = None;
        let mut value = None;
        for (n, f) in fields(kv) {
            match (n, f) {
                (1, Field::Bytes(b)) => key = Some(b),
                (2, Field::Bytes(b)) => value = Some(b),
                _ => {}
            }
        }
        if key == Some(SEQ_KEY.as_bytes()) {
            // AnyValue.string_value = 1
            return children(value?, 1).next().and_then(parse_hex);
        }
    }
    None
}

/// Calls `f` with the id of every item in an encoded export request (`None` for an item
/// without one). Returns the number of items seen.
pub fn for_each_id(signal: Signal, request: &[u8], mut f: impl FnMut(Option<u64>)) -> usize {
    let mut n = 0;
    match signal {
        Signal::Traces => {
            for rs in children(request, 1) {
                for ss in children(rs, 2) {
                    for span in children(ss, 2) {
                        let id = children(span, 2)
                            .next()
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                            .map(u64::from_be_bytes);
                        f(id);
                        n += 1;
                    }
                }
            }
        }
        Signal::Logs => {
            for rl in children(request, 1) {
                for sl in children(rl, 2) {
                    for rec in children(sl, 2) {
                        f(seq_attribute(rec, 6));
                        n += 1;
                    }
                }
            }
        }
        Signal::Metrics => {
            for rm in children(request, 1) {
                for sm in children(rm, 2) {
                    for metric in children(sm, 2) {
                        for (num, data) in fields(metric) {
                            // gauge 5, sum 7, summary 11: NumberDataPoint/SummaryDataPoint
                            // attributes = 7; histogram 9: 9; exponential histogram 10: 1.
                            let attr = match num {
                                5 | 7 | 11 => 7,
                                9 => 9,
                                10 => 1,
                                _ => continue,
                            };
                            let Field::Bytes(data) = data else { continue };
                            for dp in children(data, 1) {
                                f(seq_attribute(dp, attr));
                                n += 1;
                            }
                        }
                    }
                }
            }
        }
        Signal::Profiles => {}
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = make_id(0xabcdef, 12345);
        let mut buf = [0u8; 16];
        write_hex(id, &mut buf);
        assert_eq!(parse_hex(&buf), Some(id));
        assert_eq!(id >> SEQ_BITS, 0xabcdef);
    }
}
