//! The bridge's metadata attributes kept by reference ([`crate::SharedAttributes`]) and its
//! fields kept inline ([`crate::InlineAttributes`]) export
//! exactly what pushing them into every span did: same attributes, same order, same counts,
//! same OTLP bytes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::{KeyValue, Value};
use tracing_subscriber::layer::SubscriberExt;

use crate::export::encode;
use crate::sampler::{SamplingParameters, SamplingResult, ShouldSample};
use crate::{Resource, Sampler, SdkError, SpanData, SpanLimits, SpanProcessor, TracerProvider};

/// Keeps finished spans as the SDK hands them over (shared attributes unresolved).
#[derive(Clone, Default)]
struct Keep(Arc<Mutex<Vec<Box<SpanData>>>>);

impl SpanProcessor for Keep {
    fn on_end(&self, span: Box<SpanData>) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self, _: Duration) -> Result<(), SdkError> {
        Ok(())
    }
    fn shutdown(&self, _: Duration) -> Result<(), SdkError> {
        Ok(())
    }
}

/// Always samples, but as a custom sampler it may read attributes: the bridge then pushes its
/// metadata attributes into each span as before.
#[derive(Debug)]
struct ReadsAttributes;

impl ShouldSample for ReadsAttributes {
    fn should_sample(&self, p: &SamplingParameters<'_>) -> SamplingResult {
        Sampler::AlwaysOn.should_sample(p)
    }
    fn description(&self) -> String {
        "ReadsAttributes".into()
    }
}

/// Runs `f` under a bridge whose provider shares attributes (or, with `share` false, cannot)
/// and returns the spans it ended.
fn spans(share: bool, limits: SpanLimits, f: impl FnOnce()) -> Vec<Box<SpanData>> {
    let keep = Keep::default();
    let sampler = if share {
        Sampler::AlwaysOn
    } else {
        Sampler::Custom(Arc::new(ReadsAttributes))
    };
    let provider = TracerProvider::builder()
        .with_resource(Resource::empty())
        .with_sampler(sampler)
        .with_span_limits(limits)
        .with_span_processor(keep.clone())
        .build();
    let layer = super::layer(provider.tracer("shared")).with_level(true);
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, f);
    let spans = std::mem::take(&mut *keep.0.lock().unwrap());
    assert!(!spans.is_empty());
    spans
}

fn attributes(s: &SpanData) -> Vec<KeyValue> {
    s.all_attributes().collect()
}

/// The same span both ways: equal attribute lists and dropped counts, and the shared side
/// really kept them by reference.
fn same_both_ways(limits: SpanLimits, f: fn()) -> Vec<KeyValue> {
    let shared = spans(true, limits, f);
    let pushed = spans(false, limits, f);
    assert_eq!(shared.len(), pushed.len());
    for (s, p) in shared.iter().zip(&pushed) {
        assert!(p.shared_attributes.is_empty() && p.inline_attributes.is_empty());
        assert_eq!(attributes(s), p.attributes.to_vec());
        assert_eq!(s.dropped_attributes_count, p.dropped_attributes_count);
    }
    attributes(&shared[0])
}

#[test]
fn shared_attributes_are_the_metadata_attributes_in_order() {
    let line = line!() + 2;
    let shared = spans(true, SpanLimits::default(), || {
        tracing::info_span!("s", user = 42i64, route = "/orders").in_scope(|| {});
    });
    let s = &shared[0];
    assert_eq!(s.shared_attributes.len(), 7, "{:?}", s.shared_attributes);
    assert_eq!(s.inline_attributes.len(), 2, "the fields, inline");
    assert!(s.attributes.is_empty());
    let thread_id = super::THREAD.with(|t| t.0);
    assert_eq!(
        attributes(s),
        vec![
            KeyValue::new("code.file.path", file!()),
            KeyValue::new("code.module.name", module_path!()),
            KeyValue::new("code.line.number", i64::from(line)),
            KeyValue::new("thread.id", thread_id),
            KeyValue::new(
                "thread.name",
                std::thread::current().name().unwrap().to_owned()
            ),
            KeyValue::new("level", "INFO"),
            KeyValue::new("target", module_path!()),
            KeyValue::new("user", 42i64),
            KeyValue::new("route", "/orders"),
        ]
    );
    same_both_ways(SpanLimits::default(), || {
        tracing::info_span!("s", user = 42i64, route = "/orders").in_scope(|| {});
    });
}

#[test]
fn fields_kept_inline_or_not_stay_in_order() {
    let long = "a string longer than what is kept inline";
    let attrs = same_both_ways(SpanLimits::default(), || {
        let long = "a string longer than what is kept inline";
        let span = tracing::info_span!(
            "s",
            a = 1i64,
            b = "short",
            dbg = ?[1, 2],
            c = true,
            big = u64::MAX,
            long,
            later = tracing::field::Empty,
        );
        span.record("later", 2.5);
        span.record("a", 3i64);
        span.in_scope(|| {});
    });
    let fields: Vec<_> = attrs[7..].iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(fields, ["a", "b", "dbg", "c", "big", "long", "later"]);
    assert_eq!(attrs[7].value, Value::I64(3), "replaced in place");
    assert_eq!(attrs[12].value, Value::from(long));
}

#[test]
fn small_fields_past_the_inline_array_follow_in_order() {
    assert_eq!(
        crate::inline::INLINE_ATTRIBUTES,
        4,
        "the spans below have 2 more"
    );
    let shared = spans(true, SpanLimits::default(), || {
        tracing::info_span!("s", a = 1i64, b = "b", c = true, d = 0.5, e = 5i64, f = "f")
            .in_scope(|| {});
    });
    assert_eq!(shared[0].inline_attributes.len(), 4);
    assert_eq!(shared[0].attributes.len(), 2);
    let attrs = same_both_ways(SpanLimits::default(), || {
        tracing::info_span!("s", a = 1i64, b = "b", c = true, d = 0.5, e = 5i64, f = "f")
            .in_scope(|| {});
    });
    let fields: Vec<_> = attrs[7..].iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(fields, ["a", "b", "c", "d", "e", "f"]);
    assert_eq!(attrs[12].value, Value::from("f"));
}

#[test]
fn a_field_with_a_metadata_key_replaces_it_in_place() {
    let attrs = same_both_ways(SpanLimits::default(), || {
        let span = tracing::info_span!("s", a = 1i64, target = "mine", b = tracing::field::Empty);
        span.record("b", 2i64);
        span.record("target", "again");
        span.in_scope(|| {});
    });
    let target = attrs.iter().position(|kv| kv.key.as_str() == "target");
    assert_eq!(target, Some(6), "{attrs:?}");
    assert_eq!(attrs[6].value, Value::from("again"));
}

#[test]
fn the_count_limit_counts_the_shared_attributes() {
    let limits = SpanLimits {
        max_attributes_per_span: 8,
        ..SpanLimits::default()
    };
    let attrs = same_both_ways(limits, || {
        tracing::info_span!("s", a = 1i64, b = 2i64, c = 3i64).in_scope(|| {});
    });
    assert_eq!(attrs.len(), 8);
    assert_eq!(attrs[7], KeyValue::new("a", 1i64));
}

#[test]
fn shared_attributes_encode_as_resolved_ones() {
    let shared = spans(true, SpanLimits::default(), || {
        tracing::info_span!("s", user = 42i64, route = "/orders", ok = true, r = 0.5)
            .in_scope(|| {});
    });
    assert_eq!(shared[0].inline_attributes.len(), 4);
    let mut resolved = shared.clone();
    resolved.iter_mut().for_each(|s| s.resolve_attributes());
    assert!(resolved[0].shared_attributes.is_empty() && resolved[0].inline_attributes.is_empty());
    assert_eq!(resolved[0].attributes.len(), 11);
    let resource = Resource::empty();
    // Protobuf straight from the spans (gRPC, HTTP/protobuf).
    let bytes = |spans: &[Box<SpanData>]| {
        let mut out = Vec::new();
        let r = encode::proto::resource(&resource);
        encode::proto::request(&mut out, &r, None, spans);
        out
    };
    assert_eq!(bytes(&shared), bytes(&resolved));
    // Through ferrotel-pdata's structs (HTTP/JSON).
    let r = encode::resource(&resource);
    assert_eq!(
        encode::request(&r, None, shared),
        encode::request(&r, None, resolved)
    );
}

/// glibc serves allocations up to 1032 bytes from its per-thread cache: a span's data must stay
/// within (see `span::Attributes`).
#[cfg(target_pointer_width = "64")]
#[test]
fn span_data_fits_the_allocator_cache() {
    assert!(
        std::mem::size_of::<SpanData>() <= 1032,
        "{}",
        std::mem::size_of::<SpanData>()
    );
}
