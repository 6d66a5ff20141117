//! The writing side of the two protocols, for Jaeger `Batch`es and `emitBatch` messages: what
//! the tests, the benchmark and the fuzz seeds feed the decoder (real clients' bytes are checked
//! in crates/ferrotel/tests/jaeger.rs). Not used by the receiver.

use super::Protocol;
use crate::model::{Batch, Log, Process, Span, SpanRef, Tag, TagValue};

/// Wire type codes: (binary, compact).
#[derive(Clone, Copy)]
enum T {
    Bool,
    I32,
    I64,
    Double,
    Binary,
    Struct,
    List,
}

impl T {
    fn binary(self) -> u8 {
        match self {
            T::Bool => 2,
            T::Double => 4,
            T::I32 => 8,
            T::I64 => 10,
            T::Binary => 11,
            T::Struct => 12,
            T::List => 15,
        }
    }
    fn compact(self) -> u8 {
        match self {
            T::Bool => 1,
            T::I32 => 5,
            T::I64 => 6,
            T::Double => 7,
            T::Binary => 8,
            T::List => 9,
            T::Struct => 12,
        }
    }
}

pub struct Writer {
    pub out: Vec<u8>,
    protocol: Protocol,
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

    fn field(&mut self, t: T, id: i16, bool_value: Option<bool>) {
        match self.protocol {
            Protocol::Binary => {
                self.out.push(t.binary());
                self.out.extend_from_slice(&id.to_be_bytes());
                if let Some(b) = bool_value {
                    self.out.push(u8::from(b));
                }
            }
            Protocol::Compact => {
                let code = match bool_value {
                    Some(true) => 1,
                    Some(false) => 2,
                    None => t.compact(),
                };
                let last = self.last_field.last().copied().unwrap_or(0);
                let delta = id - last;
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

    fn begin(&mut self) {
        self.last_field.push(0);
    }

    fn end(&mut self) {
        self.out.push(0);
        self.last_field.pop();
    }

    fn i32_value(&mut self, v: i32) {
        match self.protocol {
            Protocol::Binary => self.out.extend_from_slice(&v.to_be_bytes()),
            Protocol::Compact => self.zigzag(i64::from(v)),
        }
    }

    fn i64_value(&mut self, v: i64) {
        match self.protocol {
            Protocol::Binary => self.out.extend_from_slice(&v.to_be_bytes()),
            Protocol::Compact => self.zigzag(v),
        }
    }

    fn bytes_value(&mut self, b: &[u8]) {
        match self.protocol {
            Protocol::Binary => self.out.extend_from_slice(&(b.len() as i32).to_be_bytes()),
            Protocol::Compact => self.varint(b.len() as u64),
        }
        self.out.extend_from_slice(b);
    }

    fn list_header(&mut self, t: T, n: usize) {
        match self.protocol {
            Protocol::Binary => {
                self.out.push(t.binary());
                self.out.extend_from_slice(&(n as i32).to_be_bytes());
            }
            Protocol::Compact => {
                if n < 15 {
                    self.out.push(((n as u8) << 4) | t.compact());
                } else {
                    self.out.push(0xf0 | t.compact());
                    self.varint(n as u64);
                }
            }
        }
    }

    fn i32_field(&mut self, id: i16, v: i32) {
        self.field(T::I32, id, None);
        self.i32_value(v);
    }

    fn i64_field(&mut self, id: i16, v: i64) {
        self.field(T::I64, id, None);
        self.i64_value(v);
    }

    fn bytes_field(&mut self, id: i16, b: &[u8]) {
        self.field(T::Binary, id, None);
        self.bytes_value(b);
    }

    fn list_field<I>(&mut self, id: i16, items: &[I], each: fn(&mut Writer, &I)) {
        self.field(T::List, id, None);
        self.list_header(T::Struct, items.len());
        for i in items {
            each(self, i);
        }
    }

    pub fn batch(&mut self, b: &Batch) {
        self.begin();
        if let Some(p) = &b.process {
            self.field(T::Struct, 1, None);
            self.process(p);
        }
        self.list_field(2, &b.spans, Writer::span);
        self.end();
    }

    fn process(&mut self, p: &Process) {
        self.begin();
        self.bytes_field(1, p.service_name.as_bytes());
        if !p.tags.is_empty() {
            self.list_field(2, &p.tags, Writer::tag);
        }
        self.end();
    }

    fn span(&mut self, s: &Span) {
        self.begin();
        self.i64_field(1, s.trace_id_low as i64);
        self.i64_field(2, s.trace_id_high as i64);
        self.i64_field(3, s.span_id as i64);
        self.i64_field(4, s.parent_span_id as i64);
        self.bytes_field(5, s.operation_name.as_bytes());
        if !s.references.is_empty() {
            self.list_field(6, &s.references, Writer::span_ref);
        }
        self.i32_field(7, s.flags as i32);
        let start = (s.start_unix_nano / 1000) as i64;
        self.i64_field(8, start);
        self.i64_field(9, (s.end_unix_nano / 1000) as i64 - start);
        if !s.tags.is_empty() {
            self.list_field(10, &s.tags, Writer::tag);
        }
        if !s.logs.is_empty() {
            self.list_field(11, &s.logs, Writer::log);
        }
        self.end();
    }

    fn span_ref(&mut self, r: &SpanRef) {
        self.begin();
        self.i32_field(1, r.ref_type);
        self.i64_field(2, r.trace_id_low as i64);
        self.i64_field(3, r.trace_id_high as i64);
        self.i64_field(4, r.span_id as i64);
        self.end();
    }

    fn log(&mut self, l: &Log) {
        self.begin();
        self.i64_field(1, (l.timestamp_unix_nano / 1000) as i64);
        self.list_field(2, &l.fields, Writer::tag);
        self.end();
    }

    fn tag(&mut self, t: &Tag) {
        self.begin();
        self.bytes_field(1, t.key.as_bytes());
        match &t.value {
            TagValue::Str(s) => {
                self.i32_field(2, 0);
                self.bytes_field(3, s.as_bytes());
            }
            TagValue::Double(d) => {
                self.i32_field(2, 1);
                self.field(T::Double, 4, None);
                match self.protocol {
                    Protocol::Binary => self.out.extend_from_slice(&d.to_be_bytes()),
                    Protocol::Compact => self.out.extend_from_slice(&d.to_le_bytes()),
                }
            }
            TagValue::Bool(b) => {
                self.i32_field(2, 2);
                self.field(T::Bool, 5, Some(*b));
            }
            TagValue::Long(v) => {
                self.i32_field(2, 3);
                self.i64_field(6, *v);
            }
            TagValue::Binary(b) => {
                self.i32_field(2, 4);
                self.bytes_field(7, b);
            }
            TagValue::Unknown(_) => self.i32_field(2, 99),
        }
        self.end();
    }

    /// agent.thrift's `emitBatch` as a oneway message with the batch as argument 1.
    pub fn emit_batch(&mut self, b: &Batch) {
        let name = b"emitBatch";
        match self.protocol {
            Protocol::Binary => {
                self.out
                    .extend_from_slice(&(0x8001_0000u32 as i32 | 4).to_be_bytes());
                self.bytes_value(name);
                self.out.extend_from_slice(&1i32.to_be_bytes());
            }
            Protocol::Compact => {
                self.out.push(0x82);
                self.out.push((4 << 5) | 1);
                self.varint(1);
                self.bytes_value(name);
            }
        }
        self.begin();
        self.field(T::Struct, 1, None);
        self.batch(b);
        self.end();
    }
}

/// A batch as a bare struct (thrift_http's body).
pub fn batch(b: &Batch, protocol: Protocol) -> Vec<u8> {
    let mut w = Writer::new(protocol);
    w.batch(b);
    w.out
}

/// A batch as an agent `emitBatch` message (a UDP packet's payload).
pub fn emit_batch(b: &Batch, protocol: Protocol) -> Vec<u8> {
    let mut w = Writer::new(protocol);
    w.emit_batch(b);
    w.out
}
