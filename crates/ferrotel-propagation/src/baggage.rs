//! W3C Baggage (<https://www.w3.org/TR/baggage/>): the `baggage` header.

use crate::hex::{percent_decode, percent_encode, trim_ows};
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use std::sync::OnceLock;

const BAGGAGE: &str = "baggage";
/// The spec's limits: a platform must propagate up to 64 list-members and 8192 bytes, and may
/// drop members beyond either. The API's `Baggage` enforces the same two numbers.
pub(crate) const MAX_MEMBERS: usize = 64;
pub(crate) const MAX_BYTES: usize = 8192;

/// Propagates `baggage` per W3C Baggage: values percent-encoded, properties (`;k=v;flag`) kept
/// as the entry's metadata, invalid list-members skipped (the others kept), and members beyond
/// 64 or 8192 bytes dropped.
#[derive(Clone, Debug, Default)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// A new W3C Baggage propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

fn fields() -> &'static [String; 1] {
    static FIELDS: OnceLock<[String; 1]> = OnceLock::new();
    FIELDS.get_or_init(|| [BAGGAGE.to_owned()])
}

/// RFC 9110 `token`: the grammar of baggage keys and property keys.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`: printable ASCII except
/// space, `"`, `,`, `;` and `\`.
pub(crate) fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// `property = key OWS "=" OWS value / key OWS`.
fn valid_property(p: &str) -> bool {
    match p.split_once('=') {
        Some((k, v)) => is_token(trim_ows(k)) && trim_ows(v).bytes().all(is_baggage_octet),
        None => is_token(trim_ows(p)),
    }
}

/// Parses one list-member into key, decoded value and metadata (its properties, normalised to
/// `p1;p2=v`), or `None` when it is invalid.
fn parse_member(member: &str) -> Option<(&str, std::borrow::Cow<'_, str>, String)> {
    let (kv, props) = match member.split_once(';') {
        Some((kv, props)) => (kv, Some(props)),
        None => (member, None),
    };
    let (key, value) = kv.split_once('=')?;
    let (key, value) = (trim_ows(key), trim_ows(value));
    if !is_token(key) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    let mut metadata = String::new();
    if let Some(props) = props {
        for p in props.split(';') {
            if !valid_property(p) {
                return None;
            }
            if !metadata.is_empty() {
                metadata.push(';');
            }
            metadata.push_str(trim_ows(p));
        }
    }
    Some((key, percent_decode(value), metadata))
}

/// Parses `baggage` field values into a `Baggage`, skipping invalid members.
pub fn parse_baggage<'a>(values: impl IntoIterator<Item = &'a str>) -> Baggage {
    let mut baggage = Baggage::new();
    for value in values {
        for member in value.split(',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            if baggage.len() == MAX_MEMBERS {
                return baggage;
            }
            if let Some((key, value, metadata)) = parse_member(member) {
                // `insert_with_metadata` itself refuses what would pass 64 members or 8192 bytes.
                baggage.insert_with_metadata(key.to_owned(), value.into_owned(), metadata);
            }
        }
    }
    baggage
}

/// Formats a `Baggage` as a `baggage` value (empty when there is nothing to send). Entries whose
/// key is not a token are skipped; members stop before the header would pass 8192 bytes.
pub fn format_baggage(baggage: &Baggage) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut entry = String::new();
    for (key, (value, metadata)) in baggage {
        if !is_token(key.as_str()) || count == MAX_MEMBERS {
            continue;
        }
        entry.clear();
        entry.push_str(key.as_str());
        entry.push('=');
        percent_encode(value.as_str(), is_baggage_octet, &mut entry);
        let metadata = metadata.as_str();
        // Metadata set through the API is not checked there: send only what parses again.
        if !metadata.is_empty() && metadata.split(';').all(valid_property) {
            entry.push(';');
            entry.push_str(metadata);
        }
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + entry.len() > MAX_BYTES {
            continue;
        }
        if sep == 1 {
            out.push(',');
        }
        out.push_str(&entry);
        count += 1;
    }
    out
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let header = format_baggage(baggage);
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        if extractor.get(BAGGAGE).is_none() {
            return cx.clone();
        }
        let baggage = parse_baggage(extractor.get_all(BAGGAGE).unwrap_or_default());
        if baggage.is_empty() {
            return cx.clone();
        }
        cx.with_baggage(baggage)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}
