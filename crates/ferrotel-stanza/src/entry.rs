//! The entry an operator sees (stanza's `entry.Entry`).

/// A map key: shared text, so that keys repeating on every line (a log format's field names)
/// are handed out again by the parsers (see `json::Keys`) instead of allocated per line.
pub type Key = std::sync::Arc<str>;

pub use crate::map::Map;

/// A dynamic value, as stanza's `any` (JSON numbers become doubles, `null` is [`Value::Null`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Map),
}

/// One log entry moving through the operators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// When the receiver read it (always set).
    pub observed_time_unix_nano: u64,
    /// When it happened, as a time parser found it; 0 when unknown.
    pub time_unix_nano: u64,
    pub body: Value,
    pub attributes: Map,
    pub resource: Map,
    pub severity_number: i32,
    /// Shared text: severity parsers hand out the same few texts line after line.
    pub severity_text: Key,
    /// 16 bytes or empty.
    pub trace_id: Vec<u8>,
    /// 8 bytes or empty.
    pub span_id: Vec<u8>,
    pub trace_flags: u32,
    pub scope_name: String,
}

impl Entry {
    /// An entry whose body is one line of text, observed at `observed_time_unix_nano`.
    pub fn from_line(line: String, observed_time_unix_nano: u64) -> Self {
        Entry {
            observed_time_unix_nano,
            body: Value::Str(line),
            ..Entry::default()
        }
    }
}

/// Text from bytes as Go's decoders make it: each byte of an invalid UTF-8 sequence becomes
/// one U+FFFD (Rust's `from_utf8_lossy` would write one per maximal invalid sequence).
pub fn text_from_bytes(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{FFFD}');
        }
    }
    out
}
