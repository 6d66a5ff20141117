//! The writing side of the two protocols: what tests, benchmarks and fuzz seeds feed the
//! decoders (real clients' bytes are checked in the end-to-end tests). No receiver uses it.

use super::{Protocol, Type};

impl Type {
    fn binary_code(self) -> u8 {
        match self {
            Type::Bool => 2,
            Type::Byte => 3,
            Type::Double => 4,
            Type::I16 => 6,
            Type::I32 => 8,
            Type::I64 => 10,
            Type::Binary => 11,
            Type::Struct => 12,
            Type::Map => 13,
            Type::Set => 14,
            Type::List => 15,
        }
    }

    /// Compact's code (a boolean field's header carries its value instead: 1 true, 2 false).
    fn compact_code(self) -> u8 {
        match self {
            Type::Bool => 1,
            Type::Byte => 3,
            Type::I16 => 4,
            Type::I32 => 5,
            Type::I64 => 6,
            Type::Double => 7,
            Type::Binary => 8,
            Type::List => 9,
            Type::Set => 10,
            Type::Map => 11,
            Type::Struct => 12,
        }
    }
}

/// A writer of one protocol into a byte vector.
pub struct Writer {
    pub out: Vec<u8>,
    protocol: Protocol,
    /// Compact only: the last field id of each open struct.
    last_field: Vec<i16>,
}

impl Writer {
    pub fn new(protocol: Protocol) -> Self {
        Writer {
            out: Vec::new(),
            protocol,
            last_field: Vec::new(),
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn header(&mut self, t: Type, id: i16, bool_value: Option<bool>) {
        match self.protocol {
            Protocol::Binary => {
                self.out.push(t.binary_code());
                self.out.extend_from_slice(&id.to_be_bytes());
                if let Some(b) = bool_value {
                    self.out.push(u8::from(b));
                }
            }
            Protocol::Compact => {
                let code = match bool_value {
                    Some(true) => 1,
                    Some(false) => 2,
                    None => t.compact_code(),
                };
                let last = self.last_field.last().copied().unwrap_or(0);
                let delta = i32::from(id) - i32::from(last);
                if (1..=15).contains(&delta) {
                    self.out.push(((delta as u8) << 4) | code);
                } else {
                    self.out.push(code);
                    self.zigzag(i64::from(id));
                }
                if let Some(l) = self.last_field.last_mut() {
                    *l = id;
                }
            }
        }
    }

    /// A field header; its value follows (for booleans use [`Writer::bool_field`]).
    pub fn field(&mut self, t: Type, id: i16) {
        self.header(t, id, None);
    }

    pub fn struct_begin(&mut self) {
        self.last_field.push(0);
    }

    /// The stop byte.
    pub fn struct_end(&mut self) {
        self.out.push(0);
        self.last_field.pop();
    }

    pub fn i16(&mut self, v: i16) {
        match self.protocol {
            Protocol::Binary => self.out.extend_from_slice(&v.to_be_bytes()),
            Protocol::Compact => self.zigzag(i64::from(v)),
        }
    }

    pub fn i32(&mut self, v: i32) {
        match self.protocol {
            Protocol::Binary => self.out.extend_from_slice(&v.to_be_bytes()),
            Protocol::Compact => self.zigzag(i64::from(v)),
        }
    }

    pub fn i64(&mut self, v: i64) {
        match self.protocol {
            Protocol::Binary => self.out.extend_from_slice(&v.to_be_bytes()),
            Protocol::Compact => self.zigzag(v),
        }
    }

    pub fn double(&mut self, v: f64) {
        match self.protocol {
            Protocol::Binary => self.out.extend_from_slice(&v.to_be_bytes()),
            Protocol::Compact => self.out.extend_from_slice(&v.to_le_bytes()),
        }
    }

    pub fn bytes(&mut self, b: &[u8]) {
        match self.protocol {
            Protocol::Binary => self.out.extend_from_slice(&(b.len() as i32).to_be_bytes()),
            Protocol::Compact => self.varint(b.len() as u64),
        }
        self.out.extend_from_slice(b);
    }

    /// A list header; `n` elements of type `t` follow.
    pub fn list_begin(&mut self, t: Type, n: usize) {
        match self.protocol {
            Protocol::Binary => {
                self.out.push(t.binary_code());
                self.out.extend_from_slice(&(n as i32).to_be_bytes());
            }
            Protocol::Compact => {
                if n < 15 {
                    self.out.push(((n as u8) << 4) | t.compact_code());
                } else {
                    self.out.push(0xf0 | t.compact_code());
                    self.varint(n as u64);
                }
            }
        }
    }

    /// A message header (the strict binary form; `kind` 1 call, 4 oneway).
    pub fn message_begin(&mut self, name: &str, kind: u8, seq_id: i32) {
        match self.protocol {
            Protocol::Binary => {
                self.out
                    .extend_from_slice(&(0x8001_0000u32 as i32 | i32::from(kind)).to_be_bytes());
                self.bytes(name.as_bytes());
                self.out.extend_from_slice(&seq_id.to_be_bytes());
            }
            Protocol::Compact => {
                self.out.push(0x82);
                self.out.push((kind << 5) | 1);
                self.varint(u64::from(seq_id as u32));
                self.bytes(name.as_bytes());
            }
        }
    }

    pub fn bool_field(&mut self, id: i16, v: bool) {
        self.header(Type::Bool, id, Some(v));
    }

    pub fn i16_field(&mut self, id: i16, v: i16) {
        self.field(Type::I16, id);
        self.i16(v);
    }

    pub fn i32_field(&mut self, id: i16, v: i32) {
        self.field(Type::I32, id);
        self.i32(v);
    }

    pub fn i64_field(&mut self, id: i16, v: i64) {
        self.field(Type::I64, id);
        self.i64(v);
    }

    pub fn double_field(&mut self, id: i16, v: f64) {
        self.field(Type::Double, id);
        self.double(v);
    }

    pub fn bytes_field(&mut self, id: i16, b: &[u8]) {
        self.field(Type::Binary, id);
        self.bytes(b);
    }

    /// A list field of structs, each written by `each` (which writes the struct's fields).
    pub fn struct_list_field<I>(&mut self, id: i16, items: &[I], each: fn(&mut Writer, &I)) {
        self.field(Type::List, id);
        self.list_begin(Type::Struct, items.len());
        for i in items {
            self.struct_begin();
            each(self, i);
            self.struct_end();
        }
    }
}
