//! One Jaeger span model that Thrift (jaeger.thrift) and protobuf (model.proto) decode into,
//! and that the translation reads.

/// A tag's (or log field's) value, by its declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    Str(String),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(Vec<u8>),
    /// A type neither Thrift nor protobuf defines: the Go translator turns it into a string
    /// naming the type (`<Unknown Jaeger TagType "…">`); this holds what goes in the quotes.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub key: String,
    pub value: TagValue,
}

impl Tag {
    pub fn str(key: impl Into<String>, v: impl Into<String>) -> Tag {
        Tag {
            key: key.into(),
            value: TagValue::Str(v.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub timestamp_unix_nano: u64,
    pub fields: Vec<Tag>,
}

pub const CHILD_OF: i32 = 0;
pub const FOLLOWS_FROM: i32 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct SpanRef {
    /// [`CHILD_OF`], [`FOLLOWS_FROM`], or another value a sender made up.
    pub ref_type: i32,
    pub trace_id_high: u64,
    pub trace_id_low: u64,
    pub span_id: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Process {
    pub service_name: String,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Span {
    pub trace_id_high: u64,
    pub trace_id_low: u64,
    pub span_id: u64,
    /// Thrift's `parentSpanId` (0: none; protobuf has only references).
    pub parent_span_id: u64,
    pub operation_name: String,
    pub references: Vec<SpanRef>,
    pub flags: u32,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub tags: Vec<Tag>,
    pub logs: Vec<Log>,
    /// Protobuf only: a span may carry its own process.
    pub process: Option<Process>,
}

impl Span {
    /// A span with nothing set, which the Go translator skips.
    pub fn is_blank(&self) -> bool {
        *self == Span::default()
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    pub process: Option<Process>,
    pub spans: Vec<Span>,
}

/// Epoch microseconds (Thrift's unit) as nanoseconds, as Go does (`uint64(µs) * 1000`).
pub fn micros_to_nanos(us: i64) -> u64 {
    (us as u64).wrapping_mul(1000)
}
