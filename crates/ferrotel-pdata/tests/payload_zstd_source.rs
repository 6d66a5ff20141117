//! A payload's zstd source (what an exporter compressing with zstd may send instead of
//! compressing again) exists only while the bytes are exactly what it decompresses to.

use bytes::Bytes;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, any_value};
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::wire::{AttrTarget, KeyFilter};
use ferrotel_pdata::{Payload, Request, Signal};

fn traces(n: usize, name: &str) -> Payload {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: vec![1; 16].into(),
            span_id: vec![i as u8 + 1; 8].into(),
            name: format!("{name}-{i}"),
            ..Default::default()
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let bytes = Request::Traces(req).encode_proto();
    // Any bytes stand for the stream here: the payload never reads its source.
    let stream = Bytes::from(format!("zstd-of-{name}"));
    Payload::from_proto(Signal::Traces, bytes)
        .unwrap()
        .with_zstd_source(stream)
}

fn source(p: &Payload) -> Option<&[u8]> {
    p.zstd_source().map(|b| &b[..])
}

#[test]
fn kept_as_received_and_concatenated_by_merge() {
    let (a, b) = (traces(2, "a"), traces(3, "b"));
    assert_eq!(source(&a), Some(&b"zstd-of-a"[..]));
    let merged = Payload::merge(Signal::Traces, vec![a.clone(), b.clone()]).unwrap();
    assert_eq!(merged.items(), 5);
    assert_eq!(source(&merged), Some(&b"zstd-of-azstd-of-b"[..]));
    // A part without a source (not received as zstd) leaves the merge without one.
    let plain = Payload::from_proto(Signal::Traces, a.to_proto()).unwrap();
    assert_eq!(source(&plain), None);
    let mixed = Payload::merge(Signal::Traces, vec![a, plain, b]).unwrap();
    assert_eq!(source(&mixed), None);
    // One part: the payload itself.
    let one = Payload::merge(Signal::Traces, vec![traces(1, "c")]).unwrap();
    assert_eq!(source(&one), Some(&b"zstd-of-c"[..]));
}

#[test]
fn dropped_by_anything_that_changes_or_decodes_the_bytes() {
    let mut decoded = traces(2, "a");
    decoded.request().unwrap();
    assert_eq!(source(&decoded), None, "decoded for reading");

    let mut modified = traces(2, "a");
    modified
        .modify(|r| {
            let Request::Traces(t) = r else {
                unreachable!()
            };
            t.resource_spans[0].scope_spans[0].spans[0].name = "changed".into();
        })
        .unwrap();
    assert_eq!(source(&modified), None, "modified");

    let mut edited = traces(2, "a");
    let value = AnyValue {
        value: Some(any_value::Value::StringValue("v".into())),
    };
    assert!(
        edited.edit_attributes_encoded(AttrTarget::Items, &KeyFilter::All, |a| {
            a.push("k", &value)
        })
    );
    assert_eq!(source(&edited), None, "attributes edited on the wire");

    let mut untouched = traces(2, "a");
    assert!(untouched.edit_attributes_encoded(AttrTarget::Items, &KeyFilter::All, |_| {}));
    assert_eq!(
        source(&untouched),
        Some(&b"zstd-of-a"[..]),
        "an edit that changed nothing"
    );

    let mut filtered = traces(2, "a");
    assert!(filtered.edit_items_encoded(|_, _| ferrotel_pdata::wire::ItemDecision::Drop));
    assert_eq!(filtered.items(), 0);
    assert_eq!(source(&filtered), None, "items dropped on the wire");

    let parts = traces(4, "a").split(2).unwrap();
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|p| source(p).is_none()), "split");
    let whole = traces(2, "a").split(2).unwrap();
    assert_eq!(
        source(&whole[0]),
        Some(&b"zstd-of-a"[..]),
        "a split that cut nothing"
    );

    let decoded_first = Payload::from_request(traces(1, "a").to_request().unwrap())
        .with_zstd_source(Bytes::from_static(b"x"));
    assert_eq!(source(&decoded_first), None, "a decoded payload takes none");
}
