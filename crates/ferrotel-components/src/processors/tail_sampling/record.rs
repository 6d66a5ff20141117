//! `record_policy` (Go's `processor.tailsamplingprocessor.recordpolicy` feature gate): the
//! attributes naming why a trace was kept, set on each of its spans. Only with the key on is a
//! sampled trace re-encoded; otherwise it goes on as the bytes received.

use bytes::Bytes;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::{Request, Signal};

/// The decoded trace with `tailsampling.policy` (and `tailsampling.composite_policy` when a
/// composite sub-policy sampled it), encoded.
pub fn sampled(mut request: Request, policy: &str, composite: Option<&str>) -> Bytes {
    let mut set = vec![(
        "tailsampling.policy",
        any_value::Value::StringValue(policy.into()),
    )];
    if let Some(sub) = composite {
        set.push((
            "tailsampling.composite_policy",
            any_value::Value::StringValue(sub.into()),
        ));
    }
    annotate(&mut request, &set);
    request.encode_proto()
}

/// A piece released by the sampled decision cache, with `tailsampling.cached_decision: true`
/// (ferrotel's caches keep ids only, so the policy name is not repeated). A piece that does not
/// decode (cannot happen: it was cut by `split_by_trace_id`) goes on unchanged.
pub fn cached(chunk: &Bytes) -> Bytes {
    match Request::decode_proto(Signal::Traces, chunk.clone()) {
        Ok(mut request) => {
            annotate(
                &mut request,
                &[(
                    "tailsampling.cached_decision",
                    any_value::Value::BoolValue(true),
                )],
            );
            request.encode_proto()
        }
        Err(_) => chunk.clone(),
    }
}

/// Sets (replacing an attribute of the same key) each of `set` on every span.
fn annotate(request: &mut Request, set: &[(&str, any_value::Value)]) {
    let Request::Traces(r) = request else {
        return;
    };
    let spans = r
        .resource_spans
        .iter_mut()
        .flat_map(|rs| rs.scope_spans.iter_mut())
        .flat_map(|ss| ss.spans.iter_mut());
    for span in spans {
        for (key, value) in set {
            let value = Some(AnyValue {
                value: Some(value.clone()),
            });
            match span.attributes.iter_mut().find(|a| a.key == *key) {
                Some(a) => a.value = value,
                None => span.attributes.push(KeyValue {
                    key: (*key).into(),
                    value,
                    ..Default::default()
                }),
            }
        }
    }
}
