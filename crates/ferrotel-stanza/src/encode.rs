//! Entries straight to the protobuf bytes of an `ExportLogsServiceRequest`: no prost structs
//! (a `Vec<KeyValue>` and an `AnyValue` per attribute, built, length-walked once per nesting
//! level by prost, then dropped) between the entry and the wire. The bytes are exactly what
//! prost makes of [`crate::into_resource_logs`]'s output (fields in tag order, defaults left
//! out, oneof values and present messages written even when empty); a unit test holds that.

use bytes::Bytes;

use ferrotel_pdata::wire::{put_varint as varint, varint_len};

use crate::{Entry, Map, Value};

/// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// Records of one (resource, scope name) group, encoded.
struct Group {
    resource: Map,
    scope_name: String,
    records: Vec<u8>,
}

/// Collects entries as encoded log records, grouped by resource and scope name as the Go
/// stanza adapter groups them, and hands out one encoded export request per batch.
#[derive(Default)]
pub struct LogsEncoder {
    groups: Vec<Group>,
    /// The group the last entry went to: consecutive entries nearly always share it.
    last: usize,
    items: usize,
}

/// A value of a record written without an [`Entry`] ([`LogsEncoder::push_line`]).
#[derive(Debug, Clone, Copy)]
pub enum LineValue<'a> {
    Str(&'a str),
    Int(i64),
    Bytes(&'a [u8]),
}

impl LogsEncoder {
    /// Encodes the entry's record into its group (and drops the entry).
    pub fn push(&mut self, mut e: Entry) {
        self.encode(&mut e);
    }

    /// Encodes the entry's record into its group; the entry may lose its resource and scope
    /// name (taken for a new group), the rest is left for reuse (its body's buffer).
    pub fn encode(&mut self, e: &mut Entry) {
        let records = self.group(&mut e.resource, &mut e.scope_name);
        // ScopeLogs.log_records = 2; records of log lines mostly take 128 B to 16 KiB.
        nested_sized(records, 2, 2, |b| log_record(b, e));
        self.items += 1;
    }

    /// Encodes the record of a line read without operators, from borrowed parts (no entry,
    /// nothing allocated): the body, then the attributes in the order given; scope name empty.
    pub fn push_line<'a>(
        &mut self,
        resource: &Map,
        observed_time_unix_nano: u64,
        body: LineValue<'_>,
        attributes: impl IntoIterator<Item = (&'a str, LineValue<'a>)>,
    ) {
        let records = self.group_of(resource, "");
        nested_sized(records, 2, 2, |b| {
            nested_sized(b, 5, varint_len(line_len(body) as u64 + 3), |b| {
                line_value(b, body)
            });
            for (k, v) in attributes {
                // LogRecord.attributes = 6
                nested(b, 6, |b| {
                    string(b, 1, k);
                    nested(b, 2, |b| line_value(b, v));
                });
            }
            fixed64(b, 11, observed_time_unix_nano);
        });
        self.items += 1;
    }

    /// The records of the (resource, scope name) group, taking them for a new group.
    fn group(&mut self, resource: &mut Map, scope_name: &mut String) -> &mut Vec<u8> {
        if !self.is_last(resource, scope_name) {
            self.last = match self.find(resource, scope_name) {
                Some(i) => i,
                None => self.add(std::mem::take(resource), std::mem::take(scope_name)),
            };
        }
        &mut self.groups[self.last].records
    }

    /// As [`LogsEncoder::group`], copying the resource for a new group.
    fn group_of(&mut self, resource: &Map, scope_name: &str) -> &mut Vec<u8> {
        if !self.is_last(resource, scope_name) {
            self.last = match self.find(resource, scope_name) {
                Some(i) => i,
                None => self.add(resource.clone(), scope_name.into()),
            };
        }
        &mut self.groups[self.last].records
    }

    /// Consecutive entries nearly always go to the group of the one before.
    fn is_last(&self, resource: &Map, scope_name: &str) -> bool {
        self.groups
            .get(self.last)
            .is_some_and(|g| g.resource == *resource && g.scope_name == scope_name)
    }

    fn find(&self, resource: &Map, scope_name: &str) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.resource == *resource && g.scope_name == scope_name)
    }

    fn add(&mut self, resource: Map, scope_name: String) -> usize {
        self.groups.push(Group {
            resource,
            scope_name,
            records: Vec::with_capacity(64 * 1024),
        });
        self.groups.len() - 1
    }

    /// Records pushed since the last [`LogsEncoder::finish`].
    pub fn len(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The encoded request of everything pushed, and its record count; starts a new batch.
    pub fn finish(&mut self) -> (Bytes, usize) {
        let size: usize = self.groups.iter().map(|g| g.records.len() + 64).sum();
        let mut out = Vec::with_capacity(size);
        // One ResourceLogs per distinct resource, its scopes in order of first appearance.
        let mut done = vec![false; self.groups.len()];
        for i in 0..self.groups.len() {
            if done[i] {
                continue;
            }
            let groups = &self.groups;
            // ExportLogsServiceRequest.resource_logs = 1
            nested(&mut out, 1, |b| {
                // ResourceLogs.resource = 1; Resource.attributes = 1
                nested(b, 1, |b| key_values(b, 1, &groups[i].resource));
                for (j, g) in groups.iter().enumerate().skip(i) {
                    if done[j] || g.resource != groups[i].resource {
                        continue;
                    }
                    done[j] = true;
                    // ResourceLogs.scope_logs = 2
                    nested(b, 2, |b| {
                        // ScopeLogs.scope = 1; InstrumentationScope.name = 1
                        nested(b, 1, |b| string(b, 1, &g.scope_name));
                        b.extend_from_slice(&g.records);
                    });
                }
            });
        }
        self.groups.clear();
        self.last = 0;
        let items = std::mem::take(&mut self.items);
        (out.into(), items)
    }
}

fn log_record(b: &mut Vec<u8>, e: &Entry) {
    fixed64(b, 1, e.time_unix_nano);
    if e.severity_number != 0 {
        varint_field(b, 2, e.severity_number as i64 as u64);
    }
    string(b, 3, &e.severity_text);
    let body_len = match &e.body {
        Value::Str(s) => s.len(),
        Value::Bytes(x) => x.len(),
        _ => 0,
    };
    nested_sized(b, 5, varint_len(body_len as u64 + 3), |b| {
        any_value(b, &e.body)
    });
    key_values(b, 6, &e.attributes);
    if e.trace_flags != 0 {
        tag(b, 8, FIXED32);
        b.extend_from_slice(&e.trace_flags.to_le_bytes());
    }
    bytes_field(b, 9, &e.trace_id);
    bytes_field(b, 10, &e.span_id);
    fixed64(b, 11, e.observed_time_unix_nano);
}

fn line_len(v: LineValue<'_>) -> usize {
    match v {
        LineValue::Str(s) => s.len(),
        LineValue::Bytes(x) => x.len(),
        LineValue::Int(_) => 0,
    }
}

/// The contents of an `AnyValue` holding a [`LineValue`] (as [`any_value`] writes the same).
fn line_value(b: &mut Vec<u8>, v: LineValue<'_>) {
    match v {
        LineValue::Str(s) => len_field(b, 1, s.as_bytes()),
        LineValue::Int(i) => varint_field(b, 3, i as u64),
        LineValue::Bytes(x) => len_field(b, 7, x),
    }
}

/// A repeated `KeyValue` field.
fn key_values(b: &mut Vec<u8>, field: u32, m: &Map) {
    for (k, v) in m {
        nested(b, field, |b| {
            string(b, 1, k);
            nested(b, 2, |b| any_value(b, v));
        });
    }
}

/// The contents of an `AnyValue` (its oneof is written even for default values).
fn any_value(b: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => {}
        Value::Str(s) => len_field(b, 1, s.as_bytes()),
        Value::Bool(x) => varint_field(b, 2, *x as u64),
        Value::Int(i) => varint_field(b, 3, *i as u64),
        Value::Double(d) => {
            tag(b, 4, FIXED64);
            b.extend_from_slice(&d.to_le_bytes());
        }
        Value::Array(a) => nested(b, 5, |b| {
            for v in a {
                // ArrayValue.values = 1
                nested(b, 1, |b| any_value(b, v));
            }
        }),
        // KeyValueList.values = 1
        Value::Map(m) => nested(b, 6, |b| key_values(b, 1, m)),
        Value::Bytes(x) => len_field(b, 7, x),
    }
}

fn tag(b: &mut Vec<u8>, field: u32, wire: u32) {
    if field < 16 {
        b.push((field << 3 | wire) as u8);
    } else {
        varint(b, u64::from(field << 3 | wire));
    }
}

fn varint_field(b: &mut Vec<u8>, field: u32, v: u64) {
    tag(b, field, VARINT);
    varint(b, v);
}

/// A fixed64 scalar, left out when 0 (proto3 default).
fn fixed64(b: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(b, field, FIXED64);
        b.extend_from_slice(&v.to_le_bytes());
    }
}

/// A proto3 string scalar, left out when empty.
fn string(b: &mut Vec<u8>, field: u32, s: &str) {
    bytes_field(b, field, s.as_bytes());
}

/// A proto3 bytes scalar, left out when empty.
fn bytes_field(b: &mut Vec<u8>, field: u32, x: &[u8]) {
    if !x.is_empty() {
        len_field(b, field, x);
    }
}

fn len_field(b: &mut Vec<u8>, field: u32, x: &[u8]) {
    tag(b, field, LEN);
    varint(b, x.len() as u64);
    b.extend_from_slice(x);
}

/// A length-delimited submessage written by `f`, its length in one byte (most submessages).
fn nested(b: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    nested_sized(b, field, 1, f)
}

/// A length-delimited submessage written by `f`: `guess` bytes are reserved for its length,
/// and the body moved only when the length takes another number of bytes (cheaper than sizing
/// everything first, as prost does once per nesting level).
fn nested_sized(b: &mut Vec<u8>, field: u32, guess: usize, f: impl FnOnce(&mut Vec<u8>)) {
    tag(b, field, LEN);
    b.extend_from_slice(&[0; 10][..guess]);
    let start = b.len();
    f(b);
    let len = b.len() - start;
    let n = varint_len(len as u64);
    if n != guess {
        if n > guess {
            b.resize(b.len() + n - guess, 0);
        }
        b.copy_within(start..start + len, start - guess + n);
        b.truncate(start - guess + n + len);
    }
    let at = start - guess;
    let mut v = len as u64;
    for byte in &mut b[at..at + n] {
        *byte = v as u8 | 0x80;
        v >>= 7;
    }
    b[at + n - 1] &= 0x7f;
}
