//! The transform on the wire against the decoded transform, the reference: for generated
//! traces requests and statements, what the wire path writes decodes equal to what the
//! decoded path writes.

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::*;
use proptest::prelude::*;

use super::*;
use crate::testing::{Recorder, arb_traces, config, ctx, traces, with_resources};

/// Resource statements that run on the wire.
const WIRE_RESOURCE_STATEMENTS: &[&str] = &[
    r#"set(attributes["env"], "prod")"#,
    r#"set(attributes["host.name"], 3)"#,
    r#"set(attributes["k"], nil)"#,
    r#"delete_key(attributes, "k")"#,
    r#"delete_key(attributes, "host.name")"#,
];

/// Span statements that run on the wire.
const WIRE_STATEMENTS: &[&str] = &[
    r#"set(attributes["env"], "prod")"#,
    r#"set(attributes["k"], 1)"#,
    r#"set(attributes["x"], true)"#,
    r#"set(attributes["new"], 2.5)"#,
    r#"set(attributes["k"], nil)"#,
    r#"set(span.attributes["span.attr.3"], "b")"#,
    r#"delete_key(attributes, "k")"#,
    r#"delete_key(attributes, "span.attr.3")"#,
    r#"delete_key(attributes, "absent")"#,
];

fn processor(section: &str) -> TransformProcessor {
    let cfg: TransformConfig = config(section);
    TransformProcessor::build(
        &ctx("transform", Kind::Processor),
        cfg,
        Signal::Traces,
        Recorder::new(),
    )
    .unwrap()
}

fn span_statements(statements: &[&str]) -> TransformProcessor {
    let mut section = String::from("trace_statements:\n  - context: span\n    statements:\n");
    for s in statements {
        section.push_str(&format!("      - '{s}'\n"));
    }
    processor(&section)
}

fn resource_and_span_statements(resource: &[&str], span: &[&str]) -> TransformProcessor {
    let mut section = String::from("trace_statements:\n  - context: resource\n    statements:\n");
    for s in resource {
        section.push_str(&format!("      - '{s}'\n"));
    }
    section.push_str("  - context: span\n    statements:\n");
    for s in span {
        section.push_str(&format!("      - '{s}'\n"));
    }
    processor(&section)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn wire_resource_and_span_edits_write_what_the_decoded_transform_writes(
        req in arb_traces(),
        resource in prop::collection::vec(prop::sample::select(WIRE_RESOURCE_STATEMENTS.to_vec()), 1..3),
        span in prop::collection::vec(prop::sample::select(WIRE_STATEMENTS.to_vec()), 1..3),
    ) {
        let p = resource_and_span_statements(&resource, &span);
        let wire = p.wire.as_ref().expect("statements run on the wire");
        let mut expected = req.clone();
        p.apply(&mut expected).unwrap();
        let mut payload = Payload::from_proto(Signal::Traces, req.encode_proto()).unwrap();
        prop_assert!(wire.apply(&mut payload));
        prop_assert!(payload.is_encoded());
        // An absent resource and an empty one encode apart but mean the same (pdata).
        prop_assert_eq!(
            with_resources(payload.into_request().unwrap()),
            with_resources(expected)
        );
    }

    #[test]
    fn wire_transform_writes_what_the_decoded_transform_writes(
        req in arb_traces(),
        statements in prop::collection::vec(prop::sample::select(WIRE_STATEMENTS.to_vec()), 1..4),
    ) {
        let p = span_statements(&statements);
        let wire = p.wire.as_ref().expect("statements run on the wire");
        let mut expected = req.clone();
        p.apply(&mut expected).unwrap();
        let mut payload = Payload::from_proto(Signal::Traces, req.encode_proto()).unwrap();
        prop_assert!(wire.apply(&mut payload));
        prop_assert!(payload.is_encoded());
        prop_assert_eq!(payload.into_request().unwrap(), expected);
    }
}

#[test]
fn statements_outside_the_wire_subset_run_decoded() {
    for s in WIRE_STATEMENTS {
        assert!(span_statements(&[s]).wire.is_some(), "{s}");
    }
    for s in [
        r#"set(attributes["env"], "prod") where name == "a""#,
        r#"set(attributes["env"], name)"#,
        r#"set(attributes["env"], Concat(["a", "b"], "-"))"#,
        r#"set(attributes["m"], {"a": 1})"#,
        r#"set(attributes["env"]["nested"], "x")"#,
        r#"set(name, "x")"#,
        r#"set(resource.attributes["env"], "prod")"#,
        r#"delete_key(resource.attributes, "k")"#,
        r#"set(attributes["k"], true) where resource.attributes["k"] == 1"#,
        r#"delete_matching_keys(attributes, "k.*")"#,
    ] {
        assert!(span_statements(&[s]).wire.is_none(), "{s}");
    }
    // Group conditions, other contexts and other signals.
    let grouped = "trace_statements:\n  - context: span\n    conditions: ['name == \"a\"']\n    statements: ['set(attributes[\"k\"], 1)']\n";
    assert!(processor(grouped).wire.is_none());
    let scope =
        "trace_statements:\n  - context: scope\n    statements: ['set(attributes[\"k\"], 1)']\n";
    assert!(processor(scope).wire.is_none());
    let resource_and_span = "trace_statements:\n  - context: resource\n    statements: ['set(attributes[\"k\"], 1)']\n  - 'set(span.attributes[\"k\"], 2)'\n";
    assert!(processor(resource_and_span).wire.is_some());
    let logs: TransformConfig = config(
        "log_statements:\n  - context: log\n    statements: ['set(attributes[\"k\"], 1)']\n",
    );
    let p = TransformProcessor::build(
        &ctx("transform", Kind::Processor),
        logs,
        Signal::Logs,
        Recorder::new(),
    )
    .unwrap();
    assert!(p.wire.is_none());
}

#[tokio::test]
async fn an_encoded_payload_is_transformed_without_a_decode() {
    let rec = Recorder::new();
    let cfg: TransformConfig =
        config("trace_statements:\n  - 'set(span.attributes[\"env\"], \"prod\")'\n");
    let p = TransformProcessor::build(
        &ctx("transform", Kind::Processor),
        cfg,
        Signal::Traces,
        rec.clone(),
    )
    .unwrap();
    let payload =
        Payload::from_proto(Signal::Traces, traces("svc", &["a", "b"]).to_proto()).unwrap();
    p.consume(payload, Context::default()).await.unwrap();
    let got = rec.got.lock().unwrap();
    assert!(got[0].is_encoded());
    let ferrotel_pdata::Request::Traces(r) = got[0].to_request().unwrap() else {
        panic!()
    };
    for span in &r.resource_spans[0].scope_spans[0].spans {
        assert_eq!(span.attributes, [crate::testing::kv_str("env", "prod")]);
    }
}
