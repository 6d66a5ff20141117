//! The filter on the wire against the decoded filter, the reference: for generated traces
//! requests and conditions, what the wire path leaves decodes equal to what the decoded path
//! leaves, item counts included.

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::*;
use proptest::prelude::*;

use super::*;
use crate::testing::{Recorder, arb_logs, arb_traces, config, ctx, traces};

/// Span conditions that run on the wire: every path and comparison it reads.
const WIRE_CONDITIONS: &[&str] = &[
    r#"attributes["span.attr.3"] == "drop-me""#,
    r#"name == "app_3""#,
    r#"name != "a""#,
    r#"name < "b""#,
    r#""b" >= name"#,
    r#"kind == SPAN_KIND_SERVER"#,
    r#"kind > 3"#,
    r#"status.code == STATUS_CODE_ERROR"#,
    r#"status.code != 0"#,
    r#"resource.attributes["host.name"] == "localhost""#,
    r#"resource.attributes["k"] != nil"#,
    r#"instrumentation_scope.name == "lib""#,
    r#"instrumentation_scope.version == "1.0""#,
    r#"attributes["k"] == 1"#,
    r#"attributes["k"] >= 0.5"#,
    r#"attributes["x"] == true"#,
    r#"attributes["env"] == nil"#,
    r#"attributes["env"] == "prod" and name == "a""#,
    r#"not (name == "a") or kind == 1"#,
    r#"attributes["x"] < "b""#,
    r#"1 < attributes["k"]"#,
    r#"start_time_unix_nano > 100"#,
    r#"end_time_unix_nano <= 200"#,
    r#"attributes["host.name"] == "a" or resource.attributes["env"] == "b""#,
    r#"true"#,
    r#"1 == 2"#,
    r#"IsMatch(name, "^a")"#,
    r#"IsMatch(attributes["env"], "pro.*")"#,
    r#"IsMatch(attributes["k"], "^-?1$")"#,
    r#"not IsMatch(resource.attributes["host.name"], "local")"#,
    r#"IsMatch(instrumentation_scope.name, "li")"#,
];

fn processor(signal: Signal, section: &str) -> FilterProcessor {
    FilterProcessor::build(
        &ctx("filter", Kind::Processor),
        config(&format!("error_mode: ignore\n{section}")),
        signal,
        Recorder::new(),
    )
    .unwrap()
}

/// Log record conditions that run on the wire.
const WIRE_LOG_CONDITIONS: &[&str] = &[
    r#"severity_number < SEVERITY_NUMBER_INFO"#,
    r#"severity_number >= 17"#,
    r#"severity_text == "debug""#,
    r#"body == "boom""#,
    r#"body == nil"#,
    r#"body != "a""#,
    r#"event_name == "ev""#,
    r#"time_unix_nano > 100"#,
    r#"observed_time_unix_nano == 0"#,
    r#"attributes["env"] == "prod""#,
    r#"attributes["k"] != nil and resource.attributes["host.name"] == "a""#,
    r#"instrumentation_scope.name == "lib""#,
    r#"IsMatch(body, "bo+m")"#,
    r#"IsMatch(attributes["x"], "^(true|1)$")"#,
];

fn log_conditions(conditions: &[&str]) -> FilterProcessor {
    let mut section = String::from("logs:\n  log_record:\n");
    for c in conditions {
        section.push_str(&format!("    - '{c}'\n"));
    }
    processor(Signal::Logs, &section)
}

fn span_conditions(conditions: &[&str]) -> FilterProcessor {
    let mut section = String::from("traces:\n  span:\n");
    for c in conditions {
        section.push_str(&format!("    - '{c}'\n"));
    }
    processor(Signal::Traces, &section)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn wire_filter_leaves_what_the_decoded_filter_leaves(
        req in arb_traces(),
        conditions in prop::sample::subsequence(WIRE_CONDITIONS.to_vec(), 1..4),
    ) {
        let p = span_conditions(&conditions);
        let wire = p.wire.as_ref().expect("conditions run on the wire");
        let mut expected = req.clone();
        p.apply(&mut expected).unwrap();
        let mut payload = Payload::from_proto(Signal::Traces, req.encode_proto()).unwrap();
        prop_assert!(wire.apply(&mut payload));
        prop_assert!(payload.is_encoded());
        prop_assert_eq!(payload.items(), expected.item_count());
        prop_assert_eq!(payload.into_request().unwrap(), expected);
    }

    #[test]
    fn wire_log_filter_leaves_what_the_decoded_filter_leaves(
        req in arb_logs(),
        conditions in prop::sample::subsequence(WIRE_LOG_CONDITIONS.to_vec(), 1..4),
    ) {
        let p = log_conditions(&conditions);
        let wire = p.wire.as_ref().expect("conditions run on the wire");
        let mut expected = req.clone();
        p.apply(&mut expected).unwrap();
        let mut payload = Payload::from_proto(Signal::Logs, req.encode_proto()).unwrap();
        prop_assert!(wire.apply(&mut payload));
        prop_assert!(payload.is_encoded());
        prop_assert_eq!(payload.items(), expected.item_count());
        prop_assert_eq!(payload.into_request().unwrap(), expected);
    }
}

#[test]
fn conditions_outside_the_wire_subset_run_decoded() {
    for c in WIRE_CONDITIONS {
        assert!(span_conditions(&[c]).wire.is_some(), "{c}");
    }
    for c in WIRE_LOG_CONDITIONS {
        assert!(log_conditions(&[c]).wire.is_some(), "{c}");
    }
    for c in [
        r#"body["k"] == "a""#,
        r#"body.string == "a""#,
        r#"flags == 1"#,
    ] {
        assert!(log_conditions(&[c]).wire.is_none(), "{c}");
    }
    for c in [
        r#"IsMatch(Concat([name, "x"], ""), "a.*")"#,
        r#"IsMatch(attributes["k"], "a") == true"#,
        r#"attributes["k"]"#,
        r#"attributes["k"] + 1 == 2"#,
        r#"attributes["k"]["nested"] == 1"#,
        r#"attributes[name] == "a""#,
        r#"trace_id.string == "01""#,
        r#"name == attributes["k"]"#,
        r#"status.message == "x""#,
    ] {
        assert!(span_conditions(&[c]).wire.is_none(), "{c}");
    }
    // Other contexts, signals and the legacy form.
    let other_contexts = [
        "traces:\n  spanevent:\n    - 'name == \"a\"'\n",
        "traces:\n  span:\n    - 'name == \"a\"'\n  spanevent:\n    - 'name == \"a\"'\n",
        "trace_conditions:\n  - 'resource.attributes[\"k\"] == \"a\"'\n",
        "logs:\n  log_record:\n    - 'IsMatch(String(body), \"a.*\")'\n",
    ];
    for (i, section) in other_contexts.iter().enumerate() {
        let signal = if i == 3 { Signal::Logs } else { Signal::Traces };
        assert!(processor(signal, section).wire.is_none(), "{section}");
    }
    let inferred =
        "trace_conditions:\n  - 'span.name == \"a\" or resource.attributes[\"k\"] == 1'\n";
    assert!(processor(Signal::Traces, inferred).wire.is_some());
    let legacy = "spans:\n  exclude:\n    match_type: strict\n    span_names: [a]\n";
    assert!(processor(Signal::Traces, legacy).wire.is_none());
}

#[tokio::test]
async fn an_encoded_payload_is_filtered_without_a_decode() {
    let rec = Recorder::new();
    let c = ctx("filter", Kind::Processor);
    let yaml = "traces:\n  span:\n    - 'name == \"drop\"'\n";
    let p = FilterProcessor::build(&c, config(yaml), Signal::Traces, rec.clone()).unwrap();
    let encoded =
        |payload: Payload| Payload::from_proto(Signal::Traces, payload.to_proto()).unwrap();
    p.consume(
        encoded(traces("svc", &["keep", "drop", "keep2"])),
        Context::default(),
    )
    .await
    .unwrap();
    // A payload left empty is not passed on.
    p.consume(encoded(traces("svc", &["drop"])), Context::default())
        .await
        .unwrap();
    let got = rec.got.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].is_encoded());
    assert_eq!(got[0].items(), 2);
    drop(got);
    assert_eq!(rec.span_names(), ["keep", "keep2"]);
    assert_eq!(
        c.telemetry.sum(
            "otelcol_processor_dropped_items",
            &[("processor", "filter")]
        ),
        2
    );
}
