//! Lazy read-only views into encoded requests: resource attributes and trace ids.

use prost::Message;

use super::reader::{FIXED64, LEN, RECURSION_LIMIT, Reader, VARINT, WireErr};
use super::split::span_trace_id;
use super::validate::next_len_field;
use crate::proto::common::v1::AnyValue;

/// A resource-level message (`ResourceSpans`, `ResourceMetrics`, `ResourceLogs` or
/// `ResourceProfiles`) of an encoded request, read lazily.
#[derive(Clone, Copy, Debug)]
pub struct ResourceView<'a> {
    raw: &'a [u8],
}

impl<'a> ResourceView<'a> {
    /// A view of the resource-level message body `raw`.
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        ResourceView { raw }
    }

    /// The encoded resource-level message without its key and length: write it as field 1
    /// (key `0x0a` and a varint length) of an empty request to route it on its own.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The resource attributes in encoding order. Attributes whose key is not UTF-8 are skipped
    /// (validated input has none); reading stops at the first malformed byte.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            outer: Reader::new(self.raw),
            inner: Reader::new(&[]),
            field: 1,
        }
    }

    /// The first string attribute named `key`.
    pub fn attribute_str(&self, key: &str) -> Option<&'a str> {
        self.attributes()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.as_str())
    }

    /// The first attribute named `key`.
    pub fn attribute(&self, key: &str) -> Option<AnyValueView<'a>> {
        self.attributes().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// Iterator over the attributes of one resource, see [`ResourceView::attributes`].
#[derive(Clone)]
pub struct Attributes<'a> {
    /// Over the resource-level message: finds each `resource` field (prost merges repeats).
    outer: Reader<'a>,
    /// Over the current Resource: finds each `attributes` field.
    inner: Reader<'a>,
    /// The attributes' field number in the message `inner` reads.
    field: u32,
}

impl<'a> Attributes<'a> {
    /// The attributes (field `field`) of one encoded message: an item's.
    pub(crate) fn of_message(raw: &'a [u8], field: u32) -> Self {
        Attributes {
            outer: Reader::new(&[]),
            inner: Reader::new(raw),
            field,
        }
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a str, AnyValueView<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match next_len_field(&mut self.inner, self.field, RECURSION_LIMIT) {
                Ok(Some(kv)) => {
                    if let Some(attr) = parse_key_value(kv) {
                        return Some(attr);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(_) => self.inner = Reader::new(&[]),
            }
            match next_len_field(&mut self.outer, 1, RECURSION_LIMIT) {
                Ok(Some(res)) => self.inner = Reader::new(res),
                Ok(None) | Err(_) => {
                    self.outer = Reader::new(&[]);
                    return None;
                }
            }
        }
    }
}

/// A KeyValue: last key and last value win, as in prost.
fn parse_key_value(kv: &[u8]) -> Option<(&str, AnyValueView<'_>)> {
    let mut r = Reader::new(kv);
    let mut key: &[u8] = &[];
    let mut value = AnyValueView::Empty;
    while !r.is_empty() {
        let (field, wt) = r.key().ok()?;
        match (field, wt) {
            (1, LEN) => key = r.bytes().ok()?,
            (2, LEN) => value = AnyValueView::parse(r.bytes().ok()?),
            _ => r.skip(field, wt, RECURSION_LIMIT).ok()?,
        }
    }
    Some((std::str::from_utf8(key).ok()?, value))
}

/// A borrowed AnyValue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AnyValueView<'a> {
    /// No value set.
    Empty,
    /// `stringValue`.
    Str(&'a str),
    /// `boolValue`.
    Bool(bool),
    /// `intValue`.
    Int(i64),
    /// `doubleValue`.
    Double(f64),
    /// `bytesValue`.
    Bytes(&'a [u8]),
    /// Arrays, kvlists, string-table references and malformed values: the encoded AnyValue.
    Other(&'a [u8]),
}

impl<'a> AnyValueView<'a> {
    /// Reads an encoded AnyValue; the last oneof field wins, as in prost.
    pub fn parse(raw: &'a [u8]) -> Self {
        let mut r = Reader::new(raw);
        let mut v = AnyValueView::Empty;
        while !r.is_empty() {
            let Ok((field, wt)) = r.key() else {
                return AnyValueView::Other(raw);
            };
            let read: Result<AnyValueView<'a>, WireErr> = match (field, wt) {
                (1, LEN) => r.bytes().map(|b| match std::str::from_utf8(b) {
                    Ok(s) => AnyValueView::Str(s),
                    Err(_) => AnyValueView::Other(raw),
                }),
                (2, VARINT) => r.varint().map(|x| AnyValueView::Bool(x != 0)),
                (3, VARINT) => r.varint().map(|x| AnyValueView::Int(x as i64)),
                (4, FIXED64) => r
                    .fixed::<8>()
                    .map(|b| AnyValueView::Double(f64::from_le_bytes(b))),
                (7, LEN) => r.bytes().map(AnyValueView::Bytes),
                (5 | 6 | 8, _) => r
                    .skip(field, wt, RECURSION_LIMIT)
                    .map(|()| AnyValueView::Other(raw)),
                _ => r.skip(field, wt, RECURSION_LIMIT).map(|()| v),
            };
            match read {
                Ok(next) => v = next,
                Err(_) => return AnyValueView::Other(raw),
            }
        }
        v
    }

    /// The value decoded (for arrays and kvlists, which have no borrowed form).
    pub fn to_any_value(&self) -> AnyValue {
        use crate::proto::common::v1::any_value::Value;
        let value = match *self {
            AnyValueView::Empty => None,
            AnyValueView::Str(s) => Some(Value::StringValue(s.to_string())),
            AnyValueView::Bool(b) => Some(Value::BoolValue(b)),
            AnyValueView::Int(i) => Some(Value::IntValue(i)),
            AnyValueView::Double(d) => Some(Value::DoubleValue(d)),
            AnyValueView::Bytes(b) => Some(Value::BytesValue(b.to_vec().into())),
            AnyValueView::Other(raw) => return AnyValue::decode(raw).unwrap_or_default(),
        };
        AnyValue { value }
    }

    /// The string, if this is a `stringValue`.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            AnyValueView::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Calls `f` with each resource-level message of a request.
pub(crate) fn for_each_resource<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(ResourceView<'a>),
) -> Result<(), WireErr> {
    let mut req = Reader::new(buf);
    while let Some(raw) = next_len_field(&mut req, 1, RECURSION_LIMIT)? {
        f(ResourceView { raw });
    }
    Ok(())
}

/// Calls `f` with the encoded body of each span of a traces request; stops when it returns
/// `false`.
fn for_each_span(
    buf: &[u8],
    mut f: impl FnMut(&[u8]) -> Result<bool, WireErr>,
) -> Result<(), WireErr> {
    let ctx = RECURSION_LIMIT;
    let mut req = Reader::new(buf);
    while let Some(rs) = next_len_field(&mut req, 1, ctx)? {
        let mut rs = Reader::new(rs);
        while let Some(ss) = next_len_field(&mut rs, 2, ctx - 1)? {
            let mut ss = Reader::new(ss);
            while let Some(span) = next_len_field(&mut ss, 2, ctx - 2)? {
                if !f(span)? {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Calls `f` with the trace id of each span of a traces request.
pub(crate) fn for_each_trace_id(buf: &[u8], mut f: impl FnMut([u8; 16])) -> Result<(), WireErr> {
    for_each_span(buf, |span| {
        f(span_trace_id(span)?);
        Ok(true)
    })
}

/// Whether a traces request holds a span without a parent span id (field 4, absent or empty).
pub(crate) fn has_root_span(buf: &[u8]) -> Result<bool, WireErr> {
    let mut found = false;
    for_each_span(buf, |span| {
        let mut r = Reader::new(span);
        let mut root = true;
        while !r.is_empty() {
            let (field, wt) = r.key()?;
            if field == 4 && wt == LEN {
                // The last occurrence wins, as in prost.
                root = r.bytes()?.is_empty();
            } else {
                r.skip(field, wt, RECURSION_LIMIT)?;
            }
        }
        found = root;
        Ok(!root)
    })?;
    Ok(found)
}
