//! zstd in and out through the binary: an unchanged batch goes on as the received zstd
//! frames, and a branch that edits the same data sends the edit, never the stale frames.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferrotel_otlp::client::{ClientSettings, ClientTls, Compression, OtlpClient, Protocol};

/// (span name, value of the `edge` attribute) of every span in a file exporter's output.
fn spans_with_edge(path: &std::path::Path) -> Vec<(String, Option<String>)> {
    use ferrotel_pdata::proto::common::v1::any_value::Value;
    let mut out: Vec<_> = spans_in(path)
        .into_iter()
        .map(|s| {
            let edge = s.attributes.iter().find(|kv| kv.key == "edge").map(|kv| {
                match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(v)) => v.clone(),
                    other => format!("{other:?}"),
                }
            });
            (s.name, edge)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_batches_pass_through_and_edits_are_sent_edited() {
    let dir = tempfile::tempdir().unwrap();
    let (a_grpc, a_http, b_plain, b_edited) = (free_port(), free_port(), free_port(), free_port());
    // B writes what each of A's exporters sent.
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&b_dir).unwrap();
    let _b = Collector::start(
        &b_dir,
        &format!(
            r#"
receivers:
  otlp/plain: {{protocols: {{grpc: {{endpoint: "127.0.0.1:{b_plain}"}}}}}}
  otlp/edited: {{protocols: {{http: {{endpoint: "127.0.0.1:{b_edited}"}}}}}}
exporters:
  file/plain: {{path: ./plain.jsonl}}
  file/edited: {{path: ./edited.jsonl}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces/plain: {{receivers: [otlp/plain], exporters: [file/plain]}}
    traces/edited: {{receivers: [otlp/edited], exporters: [file/edited]}}
"#
        ),
    );
    // A: one receiver feeding a pass-through pipeline (gRPC out) and an editing one (HTTP
    // out), both compressing with zstd; the batch merges several received requests.
    let a_dir = dir.path().join("a");
    std::fs::create_dir_all(&a_dir).unwrap();
    let _a = Collector::start(
        &a_dir,
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{a_grpc}"}}
      http: {{endpoint: "127.0.0.1:{a_http}"}}
processors:
  batch: {{timeout: 300ms}}
  attributes: {{actions: [{{key: edge, value: a, action: insert}}]}}
exporters:
  otlp: {{endpoint: "127.0.0.1:{b_plain}", tls: {{insecure: true}}, compression: zstd}}
  otlphttp: {{endpoint: "http://127.0.0.1:{b_edited}", compression: zstd}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces/plain: {{receivers: [otlp], processors: [batch], exporters: [otlp]}}
    traces/edited: {{receivers: [otlp], processors: [batch, attributes], exporters: [otlphttp]}}
"#
        ),
    );
    let mut want = Vec::new();
    for (protocol, endpoint) in [
        (Protocol::Grpc, format!("http://127.0.0.1:{a_grpc}")),
        (Protocol::HttpProtobuf, format!("http://127.0.0.1:{a_http}")),
    ] {
        let client = OtlpClient::new(ClientSettings {
            protocol,
            endpoint,
            compression: Compression::Zstd,
            timeout: Duration::from_secs(5),
            tls: ClientTls {
                insecure: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let prefix = format!("{protocol:?}");
        for i in 0..5 {
            client.export(&spans(&prefix, i * 4, 4)).await.unwrap();
            want.extend((i * 4..i * 4 + 4).map(|k| format!("{prefix}-{k}")));
        }
    }
    want.sort();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (plain, edited) = loop {
        let plain = spans_with_edge(&b_dir.join("plain.jsonl"));
        let edited = spans_with_edge(&b_dir.join("edited.jsonl"));
        if (plain.len() >= want.len() && edited.len() >= want.len()) || Instant::now() > deadline {
            break (plain, edited);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let names =
        |v: &[(String, Option<String>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&plain),
        want,
        "the pass-through branch delivers every span once"
    );
    assert_eq!(
        names(&edited),
        want,
        "the editing branch delivers every span once"
    );
    assert!(
        plain.iter().all(|(_, e)| e.is_none()),
        "the edit of the other branch leaked: {plain:?}"
    );
    assert!(
        edited.iter().all(|(_, e)| e.as_deref() == Some("a")),
        "edited spans must arrive edited: {edited:?}"
    );
}
