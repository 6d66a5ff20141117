//! Test helpers: a consumer that records what it gets, and payload builders.

use std::sync::{Arc, Mutex};

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::{Payload, Request};
use ferrotel_runtime::*;

/// Records every payload it consumes; can be told to fail.
#[derive(Default)]
pub struct Recorder {
    pub got: Mutex<Vec<Payload>>,
    pub fail: Mutex<Option<ConsumeError>>,
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Recorder::default())
    }

    pub fn items(&self) -> usize {
        self.got.lock().unwrap().iter().map(Payload::items).sum()
    }

    pub fn span_names(&self) -> Vec<String> {
        let got = self.got.lock().unwrap();
        let mut names = Vec::new();
        for p in got.iter() {
            if let Request::Traces(r) = p.to_request().unwrap() {
                for rs in r.resource_spans {
                    for ss in rs.scope_spans {
                        names.extend(ss.spans.into_iter().map(|s| s.name));
                    }
                }
            }
        }
        names
    }
}

impl Consumer for Recorder {
    fn consume(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if let Some(e) = self.fail.lock().unwrap().clone() {
                return Err(e);
            }
            self.got.lock().unwrap().push(payload);
            Ok(())
        })
    }
}

/// A traces request with one resource (`service.name` = `service`) and spans named by `names`.
pub fn traces(service: &str, names: &[&str]) -> Payload {
    let spans = names
        .iter()
        .enumerate()
        .map(|(i, n)| Span {
            trace_id: vec![1u8; 16].into(),
            span_id: vec![(i % 250) as u8 + 1; 8].into(),
            name: (*n).to_string(),
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 2_000,
            ..Default::default()
        })
        .collect();
    let resource = Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(service.into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    // Through the wire form, as a receiver would produce it.
    Payload::from_proto(
        ferrotel_pdata::Signal::Traces,
        Request::Traces(req).encode_proto(),
    )
    .unwrap()
}

/// A create context for tests.
pub fn ctx(id: &str, kind: Kind) -> CreateContext {
    CreateContext {
        id: id.parse().unwrap(),
        kind,
        pipeline: Some("traces".parse().unwrap()),
        telemetry: Telemetry::new(),
        extensions: Arc::new(Vec::new()),
    }
}

/// A string attribute.
pub fn kv_str(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

/// An attribute of any value.
pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A component config decoded from YAML as the collector decodes it (no validation).
pub fn config<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
    let node = ferrotel_runtime::config::node::parse_yaml(yaml, "test.yaml").unwrap();
    ferrotel_runtime::config::decode(&node).unwrap()
}

/// The error `ferrotel validate` reports for a component config written in YAML.
pub fn config_error<T: ComponentConfig>(yaml: &str) -> String {
    let node = ferrotel_runtime::config::node::parse_yaml(yaml, "test.yaml").unwrap();
    match ferrotel_runtime::config::decode::<T>(&node) {
        Err(e) => e.to_string(),
        Ok(c) => c
            .validate()
            .expect_err("config should be invalid")
            .to_string(),
    }
}

/// Applies an edit both ways — `decoded` to the decoded request, `on_wire` to its protobuf
/// encoding as a receiver hands it over — checks that they agree (when the wire path applied),
/// and leaves the decoded result in `req`. For processors with a wire path (`attributes`,
/// `resource`).
pub fn apply_both(
    req: &mut Request,
    decoded: impl FnOnce(&mut Request),
    on_wire: impl FnOnce(&mut Payload) -> bool,
) {
    let mut expected = req.clone();
    decoded(&mut expected);
    let mut payload = Payload::from_proto(req.signal(), req.encode_proto()).unwrap();
    if on_wire(&mut payload) {
        assert!(payload.is_encoded());
        let got = payload.into_request().unwrap();
        assert_eq!(
            with_resources(got),
            with_resources(expected.clone()),
            "wire edit differs from decoded edit"
        );
    }
    *req = expected;
}

/// The request with every absent resource made an empty one: OTLP and pdata do not tell them
/// apart, prost does (`None` and `Some(default)`); for comparing edits done different ways.
pub fn with_resources(mut req: Request) -> Request {
    match &mut req {
        Request::Traces(r) => r.resource_spans.iter_mut().for_each(|x| {
            x.resource.get_or_insert_with(Default::default);
        }),
        Request::Metrics(r) => r.resource_metrics.iter_mut().for_each(|x| {
            x.resource.get_or_insert_with(Default::default);
        }),
        Request::Logs(r) => r.resource_logs.iter_mut().for_each(|x| {
            x.resource.get_or_insert_with(Default::default);
        }),
        Request::Profiles(r) => r.resource_profiles.iter_mut().for_each(|x| {
            x.resource.get_or_insert_with(Default::default);
        }),
    }
    req
}

/// Traces requests for comparing OTTL on the wire with OTTL on decoded requests: names, keys
/// and values come from small sets so that conditions and statements hit, with repeated
/// keys, values of every type, absent resources and scopes, and empty scopes and resources.
pub fn arb_traces() -> proptest::strategy::BoxedStrategy<Request> {
    use ferrotel_pdata::proto::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
    use ferrotel_pdata::proto::trace::v1::Status;
    use proptest::prelude::*;

    let value = prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "prod", "drop-me", "localhost", ""])
            .prop_map(|s| any_value::Value::StringValue(s.into())),
        2 => (-2i64..3).prop_map(any_value::Value::IntValue),
        1 => prop::sample::select(vec![0.5, 1.0, -3.25]).prop_map(any_value::Value::DoubleValue),
        1 => any::<bool>().prop_map(any_value::Value::BoolValue),
        1 => Just(any_value::Value::BytesValue(vec![1u8, 2].into())),
        1 => Just(any_value::Value::ArrayValue(ArrayValue {
            values: vec![AnyValue { value: Some(any_value::Value::IntValue(1)) }],
        })),
        1 => Just(any_value::Value::KvlistValue(KeyValueList { values: vec![kv_str("a", "b")] })),
    ];
    let attr = (
        prop::sample::select(vec!["k", "env", "span.attr.3", "host.name", "x"]),
        prop::option::weighted(0.9, value),
    )
        .prop_map(|(k, v)| KeyValue {
            key: k.into(),
            value: v.map(|v| AnyValue { value: Some(v) }),
            ..Default::default()
        });
    let attrs = prop::collection::vec(attr, 0..5);
    let span = (
        prop::sample::select(vec!["", "a", "app_3", "b", "zz"]),
        0i32..6,
        prop::option::of(0i32..3),
        prop::sample::select(vec![0u64, 100, 150, 200]),
        prop::sample::select(vec![0u64, 150, 200, 300]),
        attrs.clone(),
    )
        .prop_map(|(name, kind, code, start, end, attributes)| Span {
            trace_id: vec![1; 16].into(),
            span_id: vec![2; 8].into(),
            name: name.into(),
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            status: code.map(|code| Status {
                code,
                ..Default::default()
            }),
            attributes,
            ..Default::default()
        });
    let scope = (
        prop::option::of((
            prop::sample::select(vec!["", "lib", "other"]),
            prop::sample::select(vec!["", "1.0"]),
        )),
        prop::collection::vec(span, 0..4),
    )
        .prop_map(|(scope, spans)| ScopeSpans {
            scope: scope.map(|(name, version)| InstrumentationScope {
                name: name.into(),
                version: version.into(),
                ..Default::default()
            }),
            spans,
            ..Default::default()
        });
    let resource = (prop::option::of(attrs), prop::collection::vec(scope, 0..3)).prop_map(
        |(attributes, scope_spans)| ResourceSpans {
            resource: attributes.map(|attributes| Resource {
                attributes,
                ..Default::default()
            }),
            scope_spans,
            ..Default::default()
        },
    );
    prop::collection::vec(resource, 0..4)
        .prop_map(|resource_spans| Request::Traces(ExportTraceServiceRequest { resource_spans }))
        .boxed()
}

/// Logs requests for comparing OTTL on the wire with OTTL on decoded requests, as
/// [`arb_traces`] for traces.
pub fn arb_logs() -> proptest::strategy::BoxedStrategy<Request> {
    use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
    use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use proptest::prelude::*;

    arb_traces()
        .prop_flat_map(|traces| {
            let Request::Traces(t) = traces else {
                unreachable!()
            };
            // The same resources, scopes and attributes, spans turned into log records.
            let records: usize = t
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum();
            let record = (
                0i32..25,
                prop::sample::select(vec!["", "INFO", "debug"]),
                prop::option::of(prop::sample::select(vec!["", "a", "boom"])),
                prop::sample::select(vec![0u64, 100, 200]),
                prop::sample::select(vec!["", "ev"]),
            );
            (Just(t), prop::collection::vec(record, records))
        })
        .prop_map(|(t, records)| {
            let mut records = records.into_iter();
            let resource_logs = t
                .resource_spans
                .into_iter()
                .map(|rs| ResourceLogs {
                    resource: rs.resource,
                    scope_logs: rs
                        .scope_spans
                        .into_iter()
                        .map(|ss| ScopeLogs {
                            scope: ss.scope,
                            log_records: ss
                                .spans
                                .into_iter()
                                .zip(records.by_ref())
                                .map(|(span, (severity, text, body, time, event))| LogRecord {
                                    time_unix_nano: time,
                                    observed_time_unix_nano: span.end_time_unix_nano,
                                    severity_number: severity,
                                    severity_text: text.into(),
                                    body: body.map(|b| AnyValue {
                                        value: Some(any_value::Value::StringValue(b.into())),
                                    }),
                                    event_name: event.into(),
                                    attributes: span.attributes,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            Request::Logs(ExportLogsServiceRequest { resource_logs })
        })
        .boxed()
}
