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
