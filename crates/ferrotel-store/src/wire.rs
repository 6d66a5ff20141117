//! A minimal protobuf wire reader for the store's shallow walks over encoded OTLP.
//!
//! The store indexes requests without decoding them: it walks down to each item (span, log
//! record, metric) and reads the handful of fields an index needs. Input is validated by
//! `ferrotel_pdata::wire::validate` before it gets here, but every read is still checked so a
//! corrupt byte can only produce an error, never a panic. Field semantics follow prost: the
//! last occurrence of a singular scalar wins, repeated occurrences of a message merge.

/// A malformed protobuf encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const START_GROUP: u8 = 3;
pub const END_GROUP: u8 = 4;
pub const FIXED32: u8 = 5;

/// Deepest group nesting skipped (prost's recursion limit).
const MAX_GROUP_DEPTH: u32 = 100;

#[derive(Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[inline]
    pub fn varint(&mut self) -> Result<u64, Malformed> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(Malformed)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Malformed)
    }

    #[inline]
    pub fn key(&mut self) -> Result<(u32, u8), Malformed> {
        let k = self.varint()?;
        let field = u32::try_from(k >> 3).map_err(|_| Malformed)?;
        if field == 0 {
            return Err(Malformed);
        }
        Ok((field, (k & 7) as u8))
    }

    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let n = usize::try_from(self.varint()?).map_err(|_| Malformed)?;
        let end = self.pos.checked_add(n).ok_or(Malformed)?;
        let out = self.buf.get(self.pos..end).ok_or(Malformed)?;
        self.pos = end;
        Ok(out)
    }

    /// Like [`Reader::bytes`], but returns the range within the reader's buffer.
    #[inline]
    pub fn bytes_range(&mut self) -> Result<(usize, usize), Malformed> {
        let b = self.bytes()?;
        Ok((self.pos - b.len(), self.pos))
    }

    #[inline]
    pub fn fixed64(&mut self) -> Result<u64, Malformed> {
        let end = self.pos + 8;
        let b = self.buf.get(self.pos..end).ok_or(Malformed)?;
        self.pos = end;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn skip(&mut self, field: u32, wt: u8) -> Result<(), Malformed> {
        match wt {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed64().map(drop),
            FIXED32 => {
                let end = self.pos + 4;
                self.buf.get(self.pos..end).ok_or(Malformed)?;
                self.pos = end;
                Ok(())
            }
            LEN => self.bytes().map(drop),
            START_GROUP => self.skip_group(field),
            _ => Err(Malformed),
        }
    }

    fn skip_group(&mut self, field: u32) -> Result<(), Malformed> {
        let mut stack = vec![field];
        while let Some(&top) = stack.last() {
            let (f, wt) = self.key()?;
            match wt {
                END_GROUP if f == top => {
                    stack.pop();
                }
                END_GROUP => return Err(Malformed),
                START_GROUP => {
                    if stack.len() as u32 >= MAX_GROUP_DEPTH {
                        return Err(Malformed);
                    }
                    stack.push(f);
                }
                _ => self.skip(f, wt)?,
            }
        }
        Ok(())
    }

    /// The next field, with its value as [`Value`]; `None` at the end.
    #[inline]
    pub fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, Malformed> {
        if self.is_empty() {
            return Ok(None);
        }
        let (field, wt) = self.key()?;
        let v = match wt {
            VARINT => Value::Varint(self.varint()?),
            FIXED64 => Value::Fixed64(self.fixed64()?),
            LEN => {
                let (s, e) = self.bytes_range()?;
                Value::Len(&self.buf[s..e], s)
            }
            _ => {
                self.skip(field, wt)?;
                Value::Other
            }
        };
        Ok(Some((field, v)))
    }
}

/// A field's value as [`Reader::next_field`] reads it.
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    /// The bytes and their offset in the reader's buffer.
    Len(&'a [u8], usize),
    Other,
}

/// The three-level shape shared by the traces, logs and metrics requests: request field 1 is
/// the resource-level message (`resource` 1, scope list 2, `schema_url` 3), whose scope-level
/// messages have `scope` 1, the items 2 and `schema_url` 3.
pub struct Group<'a> {
    /// The resource-level message, walked again by [`resource_parts`].
    pub resource_msg: &'a [u8],
    /// The scope-level message.
    pub scope_msg: &'a [u8],
    /// Offset of `scope_msg` in the request.
    pub scope_offset: usize,
}

/// Calls `f` with each (resource-level, scope-level) pair of a request, in order.
pub fn for_each_group<'a>(
    request: &'a [u8],
    mut f: impl FnMut(Group<'a>) -> Result<(), Malformed>,
) -> Result<(), Malformed> {
    let mut req = Reader::new(request);
    while let Some((field, v)) = req.next_field()? {
        let (1, Value::Len(rs, rs_off)) = (field, v) else {
            continue;
        };
        let mut r = Reader::new(rs);
        while let Some((field, v)) = r.next_field()? {
            if let (2, Value::Len(ss, ss_off)) = (field, v) {
                f(Group {
                    resource_msg: rs,
                    scope_msg: ss,
                    scope_offset: rs_off + ss_off,
                })?;
            }
        }
    }
    Ok(())
}

/// The encoded parts of a resource- or scope-level message: every occurrence of field 1 (the
/// resource or scope, which prost merges) and the last `schema_url` (field 3).
pub fn head_parts(msg: &[u8]) -> Result<(Vec<&[u8]>, &[u8]), Malformed> {
    let mut parts = Vec::new();
    let mut schema: &[u8] = &[];
    let mut r = Reader::new(msg);
    while let Some((field, v)) = r.next_field()? {
        match (field, v) {
            (1, Value::Len(b, _)) => parts.push(b),
            (3, Value::Len(b, _)) => schema = b,
            _ => {}
        }
    }
    Ok((parts, schema))
}

/// Calls `f` with each item (field 2) of a scope-level message and its offset in the message.
pub fn for_each_item<'a>(
    scope_msg: &'a [u8],
    mut f: impl FnMut(&'a [u8], usize) -> Result<(), Malformed>,
) -> Result<(), Malformed> {
    let mut r = Reader::new(scope_msg);
    while let Some((field, v)) = r.next_field()? {
        if let (2, Value::Len(item, off)) = (field, v) {
            f(item, off)?;
        }
    }
    Ok(())
}

/// The key of an encoded KeyValue (the last occurrence, as prost).
pub fn kv_key(kv: &[u8]) -> Result<&[u8], Malformed> {
    let mut key: &[u8] = &[];
    let mut r = Reader::new(kv);
    while let Some((field, v)) = r.next_field()? {
        if let (1, Value::Len(b, _)) = (field, v) {
            key = b;
        }
    }
    Ok(key)
}

/// An encoded KeyValue's key and, when it occurs exactly once, its encoded value, in one
/// pass (see [`kv_key`] and [`kv_single_value`]).
pub fn kv_parts(kv: &[u8]) -> Result<(&[u8], Option<&[u8]>), Malformed> {
    let (mut key, mut value): (&[u8], Option<&[u8]>) = (&[], None);
    let mut n = 0;
    let mut r = Reader::new(kv);
    while let Some((field, v)) = r.next_field()? {
        match (field, v) {
            (1, Value::Len(b, _)) => key = b,
            (2, Value::Len(b, _)) => {
                value = Some(b);
                n += 1;
            }
            _ => {}
        }
    }
    Ok((key, if n == 1 { value } else { None }))
}

/// The value of an encoded KeyValue when it occurs exactly once (prost merges repeats, which
/// callers leave to prost): `Ok(None)` otherwise.
pub fn kv_single_value(kv: &[u8]) -> Result<Option<&[u8]>, Malformed> {
    let mut value = None;
    let mut n = 0;
    let mut r = Reader::new(kv);
    while let Some((field, v)) = r.next_field()? {
        if let (2, Value::Len(b, _)) = (field, v) {
            value = Some(b);
            n += 1;
        }
    }
    Ok(if n == 1 { value } else { None })
}

/// The first KeyValue of field `attr_field` in `msg` whose key is `key`, encoded.
pub fn find_kv<'a>(
    msg: &'a [u8],
    attr_field: u32,
    key: &[u8],
) -> Result<Option<&'a [u8]>, Malformed> {
    let mut r = Reader::new(msg);
    while let Some((field, v)) = r.next_field()? {
        if let Value::Len(kv, _) = v
            && field == attr_field
            && kv_key(kv)? == key
        {
            return Ok(Some(kv));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_panics_on_truncated_input() {
        for bytes in [&[0x0a, 0x05, 1][..], &[0xff; 12], &[0x0b, 0x0c], &[0x08]] {
            let _ = for_each_group(bytes, |g| for_each_item(g.scope_msg, |_, _| Ok(())));
            let _ = find_kv(bytes, 9, b"k");
        }
    }
}
