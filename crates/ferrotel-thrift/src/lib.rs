//! Thrift, our own: the binary and compact protocols as far as Jaeger (jaeger.thrift,
//! agent.thrift) and Zipkin v1 (zipkincore.thrift) need them: structs, lists, the scalar types,
//! messages, read straight from a byte slice, and the writing side for tests, benchmarks and
//! fuzz seeds ([`write`]). The schemas live with their crates (`ferrotel-jaeger`,
//! `ferrotel-zipkin`); this crate knows only the protocols.
//!
//! Malformed input is an error naming where it went wrong, never a panic; a declared length
//! or element count is checked against the bytes that remain before anything is allocated,
//! and nesting is bounded, so a small packet cannot make the decoder allocate or recurse much.

#[cfg(test)]
mod tests;
pub mod write;

use std::fmt;

/// Deepest nesting of structs and containers accepted (Jaeger's own is 4, Zipkin's 3).
const MAX_DEPTH: u32 = 64;

/// How many elements to reserve for a list that declares `n`: `n` is checked only against the
/// bytes left (an element takes at least one), while a decoded element takes far more memory
/// than that, so a 20 MiB body declaring 20 M elements must not reserve gigabytes up front.
/// Beyond this the vector grows as elements actually decode.
pub fn reserve_for(n: usize) -> usize {
    n.min(1024)
}

/// Why a Thrift payload could not be decoded, with the path of the field that failed.
///
/// Boxed: every read returns a `Result`, and a one-pointer error keeps those in registers
/// (measured: the Jaeger direct path's decode, 2026-12-07).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(Box<ErrorInner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct ErrorInner {
    path: Vec<String>,
    message: String,
}

impl DecodeError {
    #[cold]
    pub fn new(message: impl Into<String>) -> Self {
        DecodeError(Box::new(ErrorInner {
            path: Vec::new(),
            message: message.into(),
        }))
    }

    /// Adds the enclosing field's name (errors bubble up from the innermost field).
    #[cold]
    pub fn at(mut self, segment: impl Into<String>) -> Self {
        self.0.path.push(segment.into());
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.path.is_empty() {
            return f.write_str(&self.0.message);
        }
        let mut path = String::new();
        for seg in self.0.path.iter().rev() {
            if !path.is_empty() && !seg.starts_with('[') {
                path.push('.');
            }
            path.push_str(seg);
        }
        write!(f, "{path}: {}", self.0.message)
    }
}

impl std::error::Error for DecodeError {}

pub type Result<T> = std::result::Result<T, DecodeError>;

/// Which Thrift protocol a payload is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Binary,
    Compact,
}

/// The wire types, protocol independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Bool,
    Byte,
    I16,
    I32,
    I64,
    Double,
    Binary,
    Struct,
    Map,
    Set,
    List,
}

/// A message header (`emitBatch`, a call or a oneway call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeader {
    pub name: String,
    /// 1 call, 2 reply, 3 exception, 4 oneway.
    pub kind: u8,
    pub seq_id: i32,
}

/// A reader of one protocol over a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    protocol: Protocol,
    depth: u32,
    /// Compact only: how many structs are open, and the last field id of each (ids are sent
    /// as deltas), at `last_field[1..=structs]`.
    structs: usize,
    last_field: [i16; MAX_DEPTH as usize + 1],
    /// Compact only: a boolean field's value travels in its header.
    pending_bool: Option<bool>,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], protocol: Protocol) -> Self {
        Reader {
            buf,
            pos: 0,
            protocol,
            depth: 0,
            structs: 0,
            last_field: [0; MAX_DEPTH as usize + 1],
            pending_bool: None,
        }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.buf.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.truncated(n)),
        }
    }

    #[cold]
    fn truncated(&self, n: usize) -> DecodeError {
        DecodeError::new(format!(
            "truncated: {n} bytes needed at offset {}, {} left",
            self.pos,
            self.remaining()
        ))
    }

    #[inline]
    fn byte(&mut self) -> Result<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(1)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    #[inline]
    fn varint(&mut self) -> Result<u64> {
        // One byte: field deltas aside, most lengths and small numbers.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_long()
    }

    fn varint_long(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(DecodeError::new("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::new("varint longer than 10 bytes"))
    }

    fn zigzag(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn compact_type(nibble: u8) -> Result<Type> {
        // A table rather than a match: the match compiles to a jump table whose indirect
        // branch mispredicts on every field (perf, the Jaeger direct path, 2026-12-07).
        const TYPES: [Option<Type>; 16] = {
            use Type::*;
            [
                None,
                Some(Bool),
                Some(Bool),
                Some(Byte),
                Some(I16),
                Some(I32),
                Some(I64),
                Some(Double),
                Some(Binary),
                Some(List),
                Some(Set),
                Some(Map),
                Some(Struct),
                None,
                None,
                None,
            ]
        };
        match TYPES[usize::from(nibble & 0x0f)] {
            Some(t) => Ok(t),
            None => Err(DecodeError::new(format!("unknown compact type {nibble}"))),
        }
    }

    fn binary_type(b: u8) -> Result<Type> {
        Ok(match b {
            2 => Type::Bool,
            3 => Type::Byte,
            4 => Type::Double,
            6 => Type::I16,
            8 => Type::I32,
            10 => Type::I64,
            11 => Type::Binary,
            12 => Type::Struct,
            13 => Type::Map,
            14 => Type::Set,
            15 => Type::List,
            t => return Err(DecodeError::new(format!("unknown binary type {t}"))),
        })
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(DecodeError::new(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    pub fn struct_begin(&mut self) -> Result<()> {
        self.enter()?;
        if self.protocol == Protocol::Compact {
            // structs <= depth <= MAX_DEPTH: in bounds.
            self.structs += 1;
            self.last_field[self.structs] = 0;
        }
        Ok(())
    }

    pub fn struct_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.protocol == Protocol::Compact {
            self.structs = self.structs.saturating_sub(1);
        }
    }

    /// The next field's type and id, or `None` at the struct's end.
    pub fn field_begin(&mut self) -> Result<Option<(Type, i16)>> {
        match self.protocol {
            Protocol::Binary => {
                let t = self.byte()?;
                if t == 0 {
                    return Ok(None);
                }
                let t = Self::binary_type(t)?;
                let id = i16::from_be_bytes(self.array()?);
                Ok(Some((t, id)))
            }
            Protocol::Compact => {
                let h = self.byte()?;
                if h == 0 {
                    return Ok(None);
                }
                let nibble = h & 0x0f;
                let t = Self::compact_type(nibble)?;
                let delta = h >> 4;
                // Outside any struct the previous id reads as 0 and is not kept.
                let last = self.last_field[self.structs];
                let id = if delta == 0 {
                    i16::try_from(self.zigzag()?)
                        .map_err(|_| DecodeError::new("field id out of range"))?
                } else {
                    last.wrapping_add(i16::from(delta))
                };
                if self.structs > 0 {
                    self.last_field[self.structs] = id;
                }
                if t == Type::Bool {
                    self.pending_bool = Some(nibble == 1);
                }
                Ok(Some((t, id)))
            }
        }
    }

    pub fn bool(&mut self) -> Result<bool> {
        if let Some(b) = self.pending_bool.take() {
            return Ok(b);
        }
        // Binary: 1 is true; compact list elements: 1 is true, 2 (or 0) false.
        Ok(self.byte()? == 1)
    }

    pub fn i8(&mut self) -> Result<i8> {
        Ok(self.byte()? as i8)
    }

    pub fn i16(&mut self) -> Result<i16> {
        match self.protocol {
            Protocol::Binary => Ok(i16::from_be_bytes(self.array()?)),
            Protocol::Compact => {
                i16::try_from(self.zigzag()?).map_err(|_| DecodeError::new("i16 out of range"))
            }
        }
    }

    pub fn i32(&mut self) -> Result<i32> {
        match self.protocol {
            Protocol::Binary => Ok(i32::from_be_bytes(self.array()?)),
            Protocol::Compact => {
                i32::try_from(self.zigzag()?).map_err(|_| DecodeError::new("i32 out of range"))
            }
        }
    }

    pub fn i64(&mut self) -> Result<i64> {
        match self.protocol {
            Protocol::Binary => Ok(i64::from_be_bytes(self.array()?)),
            Protocol::Compact => self.zigzag(),
        }
    }

    pub fn double(&mut self) -> Result<f64> {
        Ok(match self.protocol {
            Protocol::Binary => f64::from_be_bytes(self.array()?),
            Protocol::Compact => f64::from_le_bytes(self.array()?),
        })
    }

    fn length(&mut self) -> Result<usize> {
        let n = match self.protocol {
            Protocol::Binary => {
                let n = i32::from_be_bytes(self.array()?);
                usize::try_from(n).map_err(|_| DecodeError::new(format!("negative length {n}")))?
            }
            Protocol::Compact => {
                let n = self.varint()?;
                usize::try_from(n).map_err(|_| DecodeError::new(format!("length {n} too large")))?
            }
        };
        if n > self.remaining() {
            return Err(DecodeError::new(format!(
                "declared length {n} is past the end of the input ({} bytes left)",
                self.remaining()
            )));
        }
        Ok(n)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.length()?;
        self.take(n)
    }

    /// A string; invalid UTF-8 is replaced (Go's Thrift does not check it, and OTLP needs it).
    pub fn string(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    /// A list or set header: element type and count. The count is checked against the bytes
    /// left (every element takes at least one byte), so it is safe to reserve.
    pub fn list_begin(&mut self) -> Result<(Type, usize)> {
        self.enter()?;
        let (t, n) = match self.protocol {
            Protocol::Binary => {
                let t = Self::binary_type(self.byte()?)?;
                let n = i32::from_be_bytes(self.array()?);
                let n = usize::try_from(n)
                    .map_err(|_| DecodeError::new(format!("negative list size {n}")))?;
                (t, n)
            }
            Protocol::Compact => {
                let h = self.byte()?;
                let t = Self::compact_type(h & 0x0f)?;
                let n = match h >> 4 {
                    15 => usize::try_from(self.varint()?)
                        .map_err(|_| DecodeError::new("list size too large"))?,
                    n => usize::from(n),
                };
                (t, n)
            }
        };
        if n > self.remaining() {
            return Err(DecodeError::new(format!(
                "declared list size {n} is past the end of the input ({} bytes left)",
                self.remaining()
            )));
        }
        Ok((t, n))
    }

    pub fn list_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn map_begin(&mut self) -> Result<(Type, Type, usize)> {
        self.enter()?;
        let (k, v, n) = match self.protocol {
            Protocol::Binary => {
                let k = Self::binary_type(self.byte()?)?;
                let v = Self::binary_type(self.byte()?)?;
                let n = i32::from_be_bytes(self.array()?);
                let n = usize::try_from(n)
                    .map_err(|_| DecodeError::new(format!("negative map size {n}")))?;
                (k, v, n)
            }
            Protocol::Compact => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| DecodeError::new("map size too large"))?;
                if n == 0 {
                    (Type::Byte, Type::Byte, 0)
                } else {
                    let h = self.byte()?;
                    (
                        Self::compact_type(h >> 4)?,
                        Self::compact_type(h & 0x0f)?,
                        n,
                    )
                }
            }
        };
        if n > self.remaining() {
            return Err(DecodeError::new(format!(
                "declared map size {n} is past the end of the input ({} bytes left)",
                self.remaining()
            )));
        }
        Ok((k, v, n))
    }

    /// Skips a value of type `t` (an unknown field, or a known one of an unexpected type).
    pub fn skip(&mut self, t: Type) -> Result<()> {
        match t {
            Type::Bool => {
                self.bool()?;
            }
            Type::Byte => {
                self.byte()?;
            }
            Type::I16 => {
                self.i16()?;
            }
            Type::I32 => {
                self.i32()?;
            }
            Type::I64 => {
                self.i64()?;
            }
            Type::Double => {
                self.double()?;
            }
            Type::Binary => {
                self.bytes()?;
            }
            Type::Struct => {
                self.struct_begin()?;
                while let Some((ft, _)) = self.field_begin()? {
                    self.skip(ft)?;
                }
                self.struct_end();
            }
            Type::List | Type::Set => {
                let (et, n) = self.list_begin()?;
                for _ in 0..n {
                    self.skip(et)?;
                }
                self.list_end();
            }
            Type::Map => {
                let (kt, vt, n) = self.map_begin()?;
                for _ in 0..n {
                    self.skip(kt)?;
                    self.skip(vt)?;
                }
                self.depth = self.depth.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// Reads a message header (both the strict and the old binary form, and compact's).
    pub fn message_begin(&mut self) -> Result<MessageHeader> {
        match self.protocol {
            Protocol::Binary => {
                let first = i32::from_be_bytes(self.array()?);
                if first < 0 {
                    let version = (first as u32) & 0xffff_0000;
                    if version != 0x8001_0000 {
                        return Err(DecodeError::new(format!(
                            "bad binary protocol version {version:#x}"
                        )));
                    }
                    let kind = (first & 0xff) as u8;
                    let name = self.string()?;
                    let seq_id = self.i32()?;
                    Ok(MessageHeader { name, kind, seq_id })
                } else {
                    // Old, non-strict form: the name's length comes first.
                    let n = first as usize;
                    if n > self.remaining() {
                        return Err(DecodeError::new(format!(
                            "declared length {n} is past the end of the input ({} bytes left)",
                            self.remaining()
                        )));
                    }
                    let name = String::from_utf8_lossy(self.take(n)?).into_owned();
                    let kind = self.byte()?;
                    let seq_id = self.i32()?;
                    Ok(MessageHeader { name, kind, seq_id })
                }
            }
            Protocol::Compact => {
                let id = self.byte()?;
                if id != 0x82 {
                    return Err(DecodeError::new(format!(
                        "not a compact protocol message (first byte {id:#04x}, not 0x82)"
                    )));
                }
                let vt = self.byte()?;
                if vt & 0x1f != 1 {
                    return Err(DecodeError::new(format!(
                        "compact protocol version {} is not 1",
                        vt & 0x1f
                    )));
                }
                let kind = vt >> 5;
                // Sent as the varint of the unsigned value.
                let seq_id = self.varint()? as u32 as i32;
                let name = self.string()?;
                Ok(MessageHeader { name, kind, seq_id })
            }
        }
    }
}
