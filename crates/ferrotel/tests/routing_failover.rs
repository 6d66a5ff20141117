//! The `routing` and `failover` connectors in the real `ferrotel` binary, where the graph gives
//! them their downstream pipelines by id: OTLP/HTTP in, routed by `service.name` to one of two
//! file exporters; and a failover whose first level is an OTLP exporter to a closed port
//! (no queue, no retry, so it refuses at once) with a file exporter as the second level.

mod interop_support;

use std::time::Duration;

use interop_support::*;

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

#[test]
fn routing_by_service_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let http = free_port();
    let config = format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
connectors:
  routing:
    default_pipelines: [traces/rest]
    table:
      - condition: resource.attributes["service.name"] == "alpha"
        pipelines: [traces/alpha]
exporters:
  file/alpha:
    path: {d}/alpha.bin
    format: proto
    flush_interval: 50ms
  file/rest:
    path: {d}/rest.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces/in:
      receivers: [otlp]
      exporters: [routing]
    traces/alpha:
      receivers: [routing]
      exporters: [file/alpha]
    traces/rest:
      receivers: [routing]
      exporters: [file/rest]
"#
    );
    let mut c = Collector::start("routing", dir.path(), &config, None);
    let send = |svc: &str, n: &[&str]| {
        assert_eq!(
            post_otlp(http, "/v1/traces", &spans_request(svc, &names(n))).unwrap(),
            200
        );
    };
    send("alpha", &["a1", "a2"]);
    send("beta", &["b1"]);
    send("alpha", &["a3"]);
    let (alpha, rest) = (dir.path().join("alpha.bin"), dir.path().join("rest.bin"));
    wait_for(
        Duration::from_secs(10),
        "routed spans in both files",
        || span_names(&alpha).len() == 3 && span_names(&rest).len() == 1,
    );
    c.terminate();
    assert_eq!(span_names(&alpha), names(&["a1", "a2", "a3"]));
    assert_eq!(span_names(&rest), names(&["b1"]));
}

#[test]
fn failover_to_the_second_level() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let http = free_port();
    let closed = free_port();
    let config = format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
connectors:
  failover:
    priority_levels: [[traces/primary], [traces/backup]]
exporters:
  otlp_http/primary:
    endpoint: http://127.0.0.1:{closed}
    timeout: 2s
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
  file/backup:
    path: {d}/backup.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces/in:
      receivers: [otlp]
      exporters: [failover]
    traces/primary:
      receivers: [failover]
      exporters: [otlp_http/primary]
    traces/backup:
      receivers: [failover]
      exporters: [file/backup]
"#
    );
    let mut c = Collector::start("failover", dir.path(), &config, None);
    for i in 0..3 {
        let n = format!("s{i}");
        assert_eq!(
            post_otlp(http, "/v1/traces", &spans_request("svc", &names(&[&n]))).unwrap(),
            200,
            "the backup level takes what the primary refuses"
        );
    }
    let backup = dir.path().join("backup.bin");
    wait_for(Duration::from_secs(10), "spans in the backup file", || {
        span_names(&backup).len() == 3
    });
    c.terminate();
    assert_eq!(span_names(&backup), names(&["s0", "s1", "s2"]));
}
