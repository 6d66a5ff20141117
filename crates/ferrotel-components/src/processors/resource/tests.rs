//! The Go Collector's resource processor README example, every signal, and config errors.

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value::Value};
use ferrotel_pdata::proto::logs::v1::ResourceLogs;
use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_pdata::proto::profiles::v1development::ResourceProfiles;
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::{Request, Signal};
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv_str};

const README: &str = r#"
attributes:
- key: cloud.availability_zone
  value: "zone-1"
  action: upsert
- key: k8s.cluster.name
  from_attribute: k8s-cluster
  action: insert
- key: redundant-attribute
  action: delete
"#;

fn processor(yaml: &str, signal: Signal) -> ResourceProcessor {
    let cfg: ResourceConfig = config(yaml);
    cfg.validate().unwrap();
    ResourceProcessor::build(
        &ctx("resource", Kind::Processor),
        cfg,
        signal,
        Recorder::new(),
    )
    .unwrap()
}

/// The processor applied decoded and on the wire, which must agree.
fn apply_both(p: &ResourceProcessor, req: &mut Request, ctx: &Context) {
    crate::testing::apply_both(req, |r| p.apply(r, ctx), |w| p.apply_encoded(w, ctx));
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv_str("cloud.availability_zone", "zone-0"),
            kv_str("k8s-cluster", "prod-1"),
            kv_str("redundant-attribute", "x"),
        ],
        ..Default::default()
    })
}

fn expected() -> Vec<KeyValue> {
    vec![
        kv_str("cloud.availability_zone", "zone-1"),
        kv_str("k8s-cluster", "prod-1"),
        kv_str("k8s.cluster.name", "prod-1"),
    ]
}

#[test]
fn readme_example_on_every_signal() {
    let requests = [
        Request::Traces(
            ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest {
                resource_spans: vec![ferrotel_pdata::proto::trace::v1::ResourceSpans {
                    resource: resource(),
                    ..Default::default()
                }],
            },
        ),
        Request::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(),
                ..Default::default()
            }],
        }),
        Request::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                ..Default::default()
            }],
        }),
        Request::Profiles(ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: resource(),
                ..Default::default()
            }],
            ..Default::default()
        }),
    ];
    for mut req in requests {
        let signal = req.signal();
        apply_both(&processor(README, signal), &mut req, &Context::default());
        let attrs = match &req {
            Request::Traces(r) => &r.resource_spans[0].resource,
            Request::Metrics(r) => &r.resource_metrics[0].resource,
            Request::Logs(r) => &r.resource_logs[0].resource,
            Request::Profiles(r) => &r.resource_profiles[0].resource,
        };
        assert_eq!(attrs.as_ref().unwrap().attributes, expected(), "{signal}");
    }
}

#[test]
fn inserts_into_a_missing_resource() {
    let mut req = Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs::default()],
    });
    let p = processor(
        "attributes:\n  - {key: env, value: prod, action: insert}\n  - {key: n, value: 3, action: upsert}\n",
        Signal::Logs,
    );
    apply_both(&p, &mut req, &Context::default());
    let Request::Logs(l) = &req else { panic!() };
    let attrs = &l.resource_logs[0].resource.as_ref().unwrap().attributes;
    assert_eq!(attrs[0], kv_str("env", "prod"));
    assert_eq!(
        attrs[1].value.as_ref().unwrap().value,
        Some(Value::IntValue(3))
    );
}

#[tokio::test]
async fn consume_through_the_factory() {
    let rec = Recorder::new();
    let p = ResourceProcessorFactory
        .create(
            ctx("resource", Kind::Processor),
            config("attributes:\n  - {key: service.name, action: hash}\n"),
            Signal::Traces,
            rec.clone(),
        )
        .unwrap();
    p.consume(crate::testing::traces("svc", &["a"]), Context::default())
        .await
        .unwrap();
    let got = rec.got.lock().unwrap()[0].to_request().unwrap();
    let Request::Traces(t) = got else { panic!() };
    let v = &t.resource_spans[0].resource.as_ref().unwrap().attributes[0];
    // sha256("svc"), from coreutils sha256sum.
    assert_eq!(
        v.value.as_ref().unwrap().value,
        Some(Value::StringValue(
            "348c658682ae8701d3e9d21f191872491cf15e6acbb1681770b1cb787c1cf7ff".into()
        ))
    );
}

#[test]
fn config_errors() {
    assert_eq!(
        config_error::<ResourceConfig>("{}"),
        "attributes: missing required field \"attributes\""
    );
    assert_eq!(
        config_error::<ResourceConfig>("attributes:\n  - {key: a, action: move}\n"),
        "attributes: error creating AttrProc due to unsupported action \"move\" at the 0-th actions"
    );
    assert!(
        config_error::<ResourceConfig>("actions:\n  - {key: a, action: delete}\n")
            .contains("unknown field `actions`")
    );
}
