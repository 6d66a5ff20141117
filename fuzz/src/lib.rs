//! The checks behind every fuzz target, one function per codec, shared by the per-signal
//! targets in `fuzz_targets/`.

use bytes::Bytes;
use ferrotel_pdata::{Request, Signal, json, wire};

/// The shallow protobuf operations on `signal` requests, against prost: never panic; whatever
/// `validate` accepts prost decodes with the same item count; split/merge preserve items.
pub fn proto(signal: Signal, data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    // Must never panic, whatever the input.
    let validated = wire::validate(signal, data);
    let counted = wire::count(signal, data);
    let Ok(n) = validated else { return };
    // Whatever validate accepts, prost decodes, with the same item count.
    let req =
        Request::decode_proto(signal, bytes.clone()).expect("validate accepted what prost rejects");
    assert_eq!(req.item_count(), n);
    assert_eq!(counted, Ok(n));
    // Splitting preserves the items, and each part is itself valid.
    let parts = wire::split(signal, &bytes, 3).expect("split of a valid request");
    let mut total = 0;
    for p in &parts {
        let c = wire::validate(signal, p).expect("split output validates");
        assert!(c <= 3 || parts.len() == 1);
        total += c;
    }
    assert_eq!(total, n);
    let _ = wire::for_each_resource(signal, data, |r| {
        for (k, v) in r.attributes() {
            std::hint::black_box((k, v));
        }
    });
    if signal == Signal::Traces {
        let mut ids = 0;
        wire::for_each_trace_id(data, |_| ids += 1).expect("trace ids of a valid request");
        assert_eq!(ids, n);
        let groups = wire::split_by_trace_id(&bytes).expect("regroup of a valid request");
        let regrouped: usize = groups
            .iter()
            .map(|(_, g)| wire::count(signal, g).unwrap())
            .sum();
        assert_eq!(regrouped, n);
        // The same cut with shared envelopes: each trace's runs written as a request validate
        // with its span count and the size encoded_len says.
        let pieces = wire::split_trace_runs(data).expect("runs of a valid request");
        assert_eq!(pieces.len(), groups.len());
        let mut runs = Vec::new();
        for p in &pieces {
            let one = wire::encode_runs(&p.runs);
            assert_eq!(one.len(), wire::encoded_len(&p.runs));
            assert_eq!(wire::validate(signal, &one), Ok(p.spans));
            assert_eq!(wire::runs_span_count(&p.runs), p.spans);
            runs.extend(p.runs.iter().cloned());
        }
        assert_eq!(wire::validate(signal, &wire::encode_runs(&runs)), Ok(n));
    }
    if signal != Signal::Profiles {
        attribute_edits(signal, data, n);
        let merged = wire::merge(signal, &[bytes.clone(), bytes]).expect("merge");
        assert_eq!(wire::validate(signal, &merged), Ok(2 * n));
    }
}

/// `wire::edit_attributes` on a valid request: refuses only what it documents, and what it
/// writes is valid with the same items. (Equality with the decoded edit is a property test.)
fn attribute_edits(signal: Signal, data: &[u8], n: usize) {
    use ferrotel_pdata::proto::common::v1::{AnyValue, any_value};
    use ferrotel_pdata::wire::{AttrTarget, KeyFilter, KeySet, Unsupported};
    let int = AnyValue {
        value: Some(any_value::Value::IntValue(7)),
    };
    let text = AnyValue {
        value: Some(any_value::Value::StringValue("fuzz".into())),
    };
    let some_keys = KeyFilter::Keys(KeySet::new(["a", "fuzz.k", "http.method"]));
    for (target, filter) in [
        (AttrTarget::Items, &KeyFilter::All),
        (AttrTarget::Resources, &KeyFilter::All),
        (AttrTarget::Items, &some_keys),
        (AttrTarget::Resources, &some_keys),
    ] {
        let untouched = wire::edit_attributes_of(signal, data, target, filter, |_| {});
        assert!(matches!(
            untouched,
            Ok(None) | Err(Unsupported::RepeatedSingular)
        ));
        let edited = wire::edit_attributes_of(signal, data, target, filter, |a| {
            a.push("fuzz.k", &int);
            if !a.is_empty() {
                a.set(0, &text);
            }
            if let Some(i) = a.find("a") {
                a.remove(i);
            }
            a.retain(|k| k.len() != 1);
            for i in 0..a.len() {
                std::hint::black_box((a.value(i), a.value_owned(i)));
            }
        });
        match edited {
            Ok(Some(out)) => assert_eq!(wire::validate(signal, &out), Ok(n)),
            Ok(None) => {}
            Err(e) => assert_eq!(e, Unsupported::RepeatedSingular),
        }
    }
    if signal == Signal::Metrics {
        return;
    }
    // Keep every other item, rewriting a string field of the kept ones.
    let mut i = 0usize;
    let edited = wire::edit_items(signal, data, |item, out| {
        std::hint::black_box((item.attribute("a"), item.bytes_field(1)));
        i += 1;
        if i % 2 == 0 {
            return wire::ItemDecision::Drop;
        }
        out.set_string_field(3, "fuzz");
        wire::ItemDecision::Keep
    })
    .expect("a valid request is always item-editable");
    match edited {
        Some((out, kept)) => {
            assert_eq!(kept, n.div_ceil(2));
            assert_eq!(wire::validate(signal, &out), Ok(kept));
        }
        None => assert_eq!(n, 0),
    }
}

/// OTLP/JSON decoding of `signal`: never panics, and whatever decodes re-encodes to JSON that
/// decodes to the same request (compared on the protobuf encoding, so NaNs compare by bits).
pub fn json(signal: Signal, data: &[u8]) {
    if let Ok(request) = json::decode(signal, data) {
        let encoded = json::encode(&request);
        let again = json::decode(signal, &encoded)
            .unwrap_or_else(|e| panic!("re-encoded JSON does not decode: {e}"));
        assert_eq!(again.encode_proto(), request.encode_proto());
        assert_eq!(json::encode(&again), encoded);
    }
}

/// `json::transcode` against the reference `json::decode` + prost encode, for every signal:
/// both accept or both refuse; refusals carry the same error; accepted input transcodes to
/// protobuf that decodes to the decoded request and that `wire::validate` (the receiver's
/// `Payload::from_proto`) accepts with the same item count. The fast path alone never
/// accepts what the reference refuses.
pub fn json_transcode(data: &[u8]) {
    for signal in Signal::ALL {
        let reference = json::decode(signal, data);
        let transcoded = json::transcode(signal, data);
        match (&reference, &transcoded) {
            (Ok(request), Ok(bytes)) => {
                let again = Request::decode_proto(signal, bytes.clone())
                    .unwrap_or_else(|e| panic!("prost refuses the transcoded bytes: {e}"));
                // Compared as prost encodings, so NaNs compare by bits.
                assert_eq!(again.encode_proto(), request.encode_proto());
                assert_eq!(wire::validate(signal, bytes), Ok(request.item_count()));
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!(
                "{signal:?}: decode {} but transcode {}",
                if a.is_ok() { "accepts" } else { "refuses" },
                if b.is_ok() { "accepts" } else { "refuses" },
            ),
        }
        if let Some(fast) = json::transcode_fast(signal, data) {
            assert!(reference.is_ok(), "{signal:?}: the fast path accepts invalid input");
            assert_eq!(Some(&fast), transcoded.as_ref().ok());
        }
    }
}

/// OTTL: any text compiles or fails with an error, never a panic, as a statement and as a
/// condition in every context; what compiles runs on a span without panicking.
pub fn ottl(data: &[u8]) {
    use ferrotel_ottl::{Ctx, TCtx};
    use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
    use ferrotel_pdata::proto::trace::v1::Span;
    let src = String::from_utf8_lossy(data);
    for ctx in [
        Ctx::Resource,
        Ctx::Scope,
        Ctx::Span,
        Ctx::SpanEvent,
        Ctx::Metric,
        Ctx::DataPoint,
        Ctx::Log,
    ] {
        let _ = ferrotel_ottl::parse_conditions(&[&*src], ctx);
        let _ = ferrotel_ottl::parse_statements(&[&*src], ctx);
    }
    let Ok(statements) = ferrotel_ottl::parse_statements(&[&*src], Ctx::Span) else {
        return;
    };
    let mut resource = None;
    let mut scope = None;
    let mut span = Span {
        name: "GET /users/{id}".into(),
        trace_id: vec![1; 16].into(),
        span_id: vec![2; 8].into(),
        trace_state: "a=1,b=2".into(),
        kind: 2,
        attributes: vec![KeyValue {
            key: "http.route".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("/users/{id}".into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut t = TCtx::new(&mut resource);
    t.scope = Some(&mut scope);
    t.span = Some(&mut span);
    for st in &statements {
        let _ = st.execute(&mut t);
    }
}

/// The Prometheus text/OpenMetrics parser: never panics; whatever parses renders back to a body
/// that parses to the same samples; conversion to OTLP never panics.
pub fn prometheus_text(data: &[u8]) {
    use ferrotel_prometheus::scrape::{Format, convert, parse, parse::render, relabel::Labels};
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let format = if first & 1 == 1 {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let Ok(exp) = parse(body, format) else { return };
    let rendered = render(&exp, format);
    let again = parse(rendered.as_bytes(), format).expect("a rendered exposition parses");
    assert_eq!(again.samples.len(), exp.samples.len());
    let target = convert::TargetContext {
        labels: Labels::from_pairs([("job", "j"), ("instance", "h:1")]),
        honor_labels: first & 2 == 2,
        honor_timestamps: true,
        trim_metric_suffixes: first & 4 == 4,
        sample_limit: 0,
        metric_relabel: Vec::new(),
    };
    let mut tracker = convert::SeriesTracker::default();
    let _ = convert::convert(&exp, &target, &mut tracker, 1_000);
    let _ = convert::convert(&again, &target, &mut tracker, 2_000);
}
