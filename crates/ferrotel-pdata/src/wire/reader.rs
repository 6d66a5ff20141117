//! A zero-copy reader of protobuf wire-format primitives: keys, varints, fixed-width values and
//! length-delimited slices, plus field skipping. It mirrors prost's acceptance rules exactly
//! (varint overflow, key range, group matching, recursion budget) so that whatever the wire
//! module accepts, prost decodes.

use std::fmt;

/// Wire type 0.
pub(crate) const VARINT: u8 = 0;
/// Wire type 1.
pub(crate) const FIXED64: u8 = 1;
/// Wire type 2.
pub(crate) const LEN: u8 = 2;
/// Wire type 3 (deprecated groups).
pub(crate) const START_GROUP: u8 = 3;
/// Wire type 4.
pub(crate) const END_GROUP: u8 = 4;
/// Wire type 5.
pub(crate) const FIXED32: u8 = 5;

/// prost's default recursion limit: a message nested deeper than this fails to decode there.
pub(crate) const RECURSION_LIMIT: u32 = 100;

/// A wire-level defect. Small and `Copy` so the success path never pays for error data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireErr {
    TruncatedVarint,
    VarintTooLong,
    VarintOverflow,
    InvalidKey,
    FieldZero,
    InvalidWireType(u8),
    LengthPastEnd { len: u64, left: usize },
    TruncatedFixed { need: u8, left: usize },
    UnexpectedEndGroup,
    TooDeep,
    BadIdLength(usize),
}

impl fmt::Display for WireErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WireErr::TruncatedVarint => f.write_str("truncated varint"),
            WireErr::VarintTooLong => f.write_str("varint longer than 10 bytes"),
            WireErr::VarintOverflow => f.write_str("varint overflows 64 bits"),
            WireErr::InvalidKey => f.write_str("field key overflows 32 bits"),
            WireErr::FieldZero => f.write_str("invalid field number 0"),
            WireErr::InvalidWireType(w) => write!(f, "invalid wire type {w}"),
            WireErr::LengthPastEnd { len, left } => {
                write!(f, "length {len} past end of message ({left} bytes left)")
            }
            WireErr::TruncatedFixed { need, left } => {
                write!(
                    f,
                    "truncated fixed-width value ({need} bytes needed, {left} left)"
                )
            }
            WireErr::UnexpectedEndGroup => f.write_str("unexpected end-group tag"),
            WireErr::TooDeep => write!(f, "nesting deeper than {RECURSION_LIMIT} messages"),
            WireErr::BadIdLength(n) => write!(f, "expected 16 bytes, got {n}"),
        }
    }
}

/// Human name of a wire type, for error messages.
pub(crate) fn wire_type_name(wt: u8) -> &'static str {
    match wt {
        VARINT => "varint",
        FIXED64 => "fixed64",
        LEN => "length-delimited",
        START_GROUP => "start-group",
        END_GROUP => "end-group",
        FIXED32 => "fixed32",
        _ => "invalid",
    }
}

/// Cursor over one message's bytes.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { rest: buf }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Bytes not yet read.
    #[cfg(test)]
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Bytes left; callers subtract from the message length to get offsets.
    #[inline]
    pub(crate) fn left(&self) -> usize {
        self.rest.len()
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, WireErr> {
        // One- and two-byte varints (keys, short lengths) dominate OTLP; take them first.
        match *self.rest {
            [b0, ..] if b0 < 0x80 => {
                self.rest = &self.rest[1..];
                Ok(u64::from(b0))
            }
            [b0, b1, ..] if b1 < 0x80 => {
                self.rest = &self.rest[2..];
                Ok(u64::from(b0 & 0x7f) | (u64::from(b1) << 7))
            }
            _ => self.varint_slow(),
        }
    }

    #[cold]
    fn varint_slow(&mut self) -> Result<u64, WireErr> {
        let mut value = 0u64;
        for (i, &b) in self.rest.iter().take(10).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                // The tenth byte holds only bit 63: anything above 1 overflows (as prost checks).
                if i == 9 && b > 1 {
                    return Err(WireErr::VarintOverflow);
                }
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        if self.rest.len() >= 10 {
            Err(WireErr::VarintTooLong)
        } else {
            Err(WireErr::TruncatedVarint)
        }
    }

    /// Reads a field key: (field number, wire type). Rejects what prost rejects.
    #[inline]
    pub(crate) fn key(&mut self) -> Result<(u32, u8), WireErr> {
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err(WireErr::InvalidKey);
        }
        let wt = (key & 7) as u8;
        if wt > 5 {
            return Err(WireErr::InvalidWireType(wt));
        }
        let field = (key >> 3) as u32;
        if field == 0 {
            return Err(WireErr::FieldZero);
        }
        Ok((field, wt))
    }

    /// Reads a length prefix and the slice it delimits.
    #[inline]
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], WireErr> {
        let len = self.varint()?;
        if len > self.rest.len() as u64 {
            return Err(WireErr::LengthPastEnd {
                len,
                left: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(len as usize);
        self.rest = tail;
        Ok(head)
    }

    #[inline]
    pub(crate) fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireErr> {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(*head)
            }
            None => Err(WireErr::TruncatedFixed {
                need: N as u8,
                left: self.rest.len(),
            }),
        }
    }

    /// Skips the value of a field whose key was just read. `ctx` is prost's remaining recursion
    /// budget at this message: prost refuses to skip anything once it is exhausted, and each
    /// nested group spends one level. Groups are skipped iteratively with a fixed-size stack.
    pub(crate) fn skip(&mut self, field: u32, wt: u8, ctx: u32) -> Result<(), WireErr> {
        if ctx == 0 {
            return Err(WireErr::TooDeep);
        }
        match wt {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed::<8>().map(drop),
            FIXED32 => self.fixed::<4>().map(drop),
            LEN => self.bytes().map(drop),
            START_GROUP => self.skip_group(field, ctx),
            _ => Err(WireErr::UnexpectedEndGroup),
        }
    }

    #[cold]
    fn skip_group(&mut self, field: u32, ctx: u32) -> Result<(), WireErr> {
        let mut stack = [0u32; RECURSION_LIMIT as usize + 1];
        let mut depth = 0usize;
        stack[0] = field;
        loop {
            let (f, wt) = self.key()?;
            match wt {
                END_GROUP => {
                    if f != stack[depth] {
                        return Err(WireErr::UnexpectedEndGroup);
                    }
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                START_GROUP => {
                    // prost skips the inner field with one level less of budget.
                    if ctx as usize <= depth + 1 {
                        return Err(WireErr::TooDeep);
                    }
                    depth += 1;
                    stack[depth] = f;
                }
                _ => {
                    if ctx as usize <= depth + 1 {
                        return Err(WireErr::TooDeep);
                    }
                    self.skip(f, wt, 1)?;
                }
            }
        }
    }
}

/// Appends `v` as a varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encoded size of `v` as a varint.
#[inline]
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// The full encoding of one length-delimited field's key.
#[inline]
pub(crate) fn len_key(field: u32) -> u64 {
    (u64::from(field) << 3) | u64::from(LEN)
}

/// Writes `v` as a varint at `dst`, returning the byte after it.
///
/// # Safety
/// `dst` must be valid for writing 10 bytes.
#[inline(always)]
pub(crate) unsafe fn put_varint_raw(mut dst: *mut u8, mut v: u64) -> *mut u8 {
    // SAFETY: a u64 takes at most 10 varint bytes, which the caller made room for.
    unsafe {
        while v >= 0x80 {
            *dst = v as u8 | 0x80;
            dst = dst.add(1);
            v >>= 7;
        }
        *dst = v as u8;
        dst.add(1)
    }
}

/// Writes `v` as a varint into `out` (at least 10 bytes), returning its length.
#[inline(always)]
pub(crate) fn put_varint_into(out: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        let mut out = Vec::new();
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16383,
            16384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            out.clear();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v));
            assert_eq!(Reader::new(&out).varint(), Ok(v));
        }
        assert_eq!(
            Reader::new(&[0xff; 10]).varint(),
            Err(WireErr::VarintTooLong)
        );
        assert_eq!(
            Reader::new(&[0xff, 0xff]).varint(),
            Err(WireErr::TruncatedVarint)
        );
        let mut over = [0xffu8; 10];
        over[9] = 2;
        assert_eq!(Reader::new(&over).varint(), Err(WireErr::VarintOverflow));
    }

    #[test]
    fn groups() {
        // field 5 start-group, field 1 varint 7, nested field 2 group { }, end 5
        let buf = [0x2b, 0x08, 0x07, 0x13, 0x14, 0x2c, 0x08];
        let mut r = Reader::new(&buf);
        let (f, wt) = r.key().unwrap();
        r.skip(f, wt, 100).unwrap();
        assert_eq!(r.remaining(), &[0x08]);
        let mut r = Reader::new(&[0x2b, 0x34]);
        let (f, wt) = r.key().unwrap();
        assert_eq!(r.skip(f, wt, 100), Err(WireErr::UnexpectedEndGroup));
    }
}
