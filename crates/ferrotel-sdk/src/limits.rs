//! Span limits, with the specification's defaults and environment variables.

use opentelemetry::{KeyValue, StringValue, Value, Array};

use crate::env::{self, Lookup};

/// Limits on what one span keeps; what goes past them is dropped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimits {
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` (else `OTEL_ATTRIBUTE_COUNT_LIMIT`), default 128.
    pub max_attributes_per_span: u32,
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` (else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`),
    /// in characters, applied to strings and string arrays; default unlimited.
    pub max_attribute_value_length: Option<u32>,
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`, default 128.
    pub max_events_per_span: u32,
    /// `OTEL_SPAN_LINK_COUNT_LIMIT`, default 128.
    pub max_links_per_span: u32,
    /// `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, default 128.
    pub max_attributes_per_event: u32,
    /// `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`, default 128.
    pub max_attributes_per_link: u32,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes_per_span: 128,
            max_attribute_value_length: None,
            max_events_per_span: 128,
            max_links_per_span: 128,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
        }
    }
}

fn u32_of(lookup: Lookup<'_>, name: &str) -> Option<u32> {
    env::get_u64(lookup, name).map(|n| n.min(u64::from(u32::MAX)) as u32)
}

impl SpanLimits {
    /// The defaults overridden by the environment.
    pub fn from_env() -> Self {
        SpanLimits::from_lookup(&env::process_env)
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Self {
        let d = SpanLimits::default();
        SpanLimits {
            max_attributes_per_span: u32_of(lookup, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")
                .or_else(|| u32_of(lookup, "OTEL_ATTRIBUTE_COUNT_LIMIT"))
                .unwrap_or(d.max_attributes_per_span),
            max_attribute_value_length: u32_of(lookup, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT")
                .or_else(|| u32_of(lookup, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")),
            max_events_per_span: u32_of(lookup, "OTEL_SPAN_EVENT_COUNT_LIMIT")
                .unwrap_or(d.max_events_per_span),
            max_links_per_span: u32_of(lookup, "OTEL_SPAN_LINK_COUNT_LIMIT")
                .unwrap_or(d.max_links_per_span),
            max_attributes_per_event: u32_of(lookup, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT")
                .unwrap_or(d.max_attributes_per_event),
            max_attributes_per_link: u32_of(lookup, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT")
                .unwrap_or(d.max_attributes_per_link),
        }
    }

    /// Truncates string values past the length limit, in place.
    #[inline]
    pub(crate) fn truncate(&self, kv: &mut KeyValue) {
        if let Some(max) = self.max_attribute_value_length {
            truncate_value(&mut kv.value, max as usize);
        }
    }

    /// Applies count and length limits to a list given at once (events, links): returns how
    /// many were dropped.
    pub(crate) fn limit_list(&self, attrs: &mut Vec<KeyValue>, max: u32) -> u32 {
        let max = max as usize;
        let dropped = attrs.len().saturating_sub(max);
        attrs.truncate(max);
        for kv in attrs.iter_mut() {
            self.truncate(kv);
        }
        dropped as u32
    }
}

fn truncate_str(s: &str, max: usize) -> Option<String> {
    // Characters, not bytes: cut on a char boundary.
    let (idx, _) = s.char_indices().nth(max)?;
    Some(s[..idx].to_owned())
}

fn truncate_value(v: &mut Value, max: usize) {
    match v {
        Value::String(s) => {
            if let Some(t) = truncate_str(s.as_str(), max) {
                *s = StringValue::from(t);
            }
        }
        Value::Array(Array::String(items)) => {
            for s in items.iter_mut() {
                if let Some(t) = truncate_str(s.as_str(), max) {
                    *s = StringValue::from(t);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::lookup_from;

    #[test]
    fn env_overrides_and_generic_fallback() {
        let l = SpanLimits::from_lookup(&lookup_from(&[
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5"),
            ("OTEL_SPAN_VALUE_LENGTH_LIMIT_TYPO", "1"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "2"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "4"),
            ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "x"),
        ]));
        assert_eq!(l.max_attributes_per_span, 10);
        assert_eq!(l.max_attribute_value_length, Some(5));
        assert_eq!(l.max_events_per_span, 3);
        assert_eq!(l.max_links_per_span, 2);
        assert_eq!(l.max_attributes_per_event, 4);
        assert_eq!(l.max_attributes_per_link, 128);
        let l = SpanLimits::from_lookup(&lookup_from(&[
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "20"),
        ]));
        assert_eq!(l.max_attributes_per_span, 20);
        assert_eq!(SpanLimits::from_lookup(&lookup_from(&[])), SpanLimits::default());
    }

    #[test]
    fn truncation_counts_characters() {
        let l = SpanLimits {
            max_attribute_value_length: Some(3),
            ..Default::default()
        };
        let mut kv = KeyValue::new("k", "héllo");
        l.truncate(&mut kv);
        assert_eq!(kv.value, Value::from("hél"));
        let mut kv = KeyValue::new(
            "k",
            Value::Array(Array::String(vec!["abcd".into(), "ab".into()])),
        );
        l.truncate(&mut kv);
        assert_eq!(
            kv.value,
            Value::Array(Array::String(vec!["abc".into(), "ab".into()]))
        );
        let mut kv = KeyValue::new("k", 123456);
        l.truncate(&mut kv);
        assert_eq!(kv.value, Value::I64(123456));
    }
}
