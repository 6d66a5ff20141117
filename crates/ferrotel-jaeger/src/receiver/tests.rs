use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::{Payload, Request};
use ferrotel_runtime::telemetry::Telemetry;
use ferrotel_runtime::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::thrift::tests::sample_batch;
use crate::thrift::{Protocol, encode};

#[test]
fn config_testdata() {
    ferrotel_runtime::config::testdata::check::<JaegerReceiverConfig>(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/receiver/testdata"),
    );
}

#[test]
fn config_defaults_and_messages() {
    let load = ferrotel_runtime::config::testdata::load::<JaegerReceiverConfig>;
    let c = load("protocols:\n  thrift_compact:\n  grpc:\n").unwrap();
    let p = c.protocols.unwrap();
    let u = p.thrift_compact.unwrap();
    assert_eq!(
        u.endpoint_or(super::config::DEFAULT_THRIFT_COMPACT),
        "localhost:6831"
    );
    assert_eq!(
        (
            u.queue_size,
            u.max_packet_size,
            u.workers,
            u.socket_buffer_size
        ),
        (1000, 65000, 10, 0)
    );
    assert_eq!(p.grpc.unwrap().endpoint, "localhost:14250");
    assert!(p.thrift_http.is_none() && p.thrift_binary.is_none());
    let err = |y: &str| load(y).unwrap_err().to_string();
    assert_eq!(
        err("{}"),
        "protocols: empty \"protocols\" config for Jaeger receiver"
    );
    assert_eq!(
        err("protocols:\n"),
        "protocols: must specify at least one protocol when using the Jaeger receiver"
    );
    assert!(err("protocols:\n  thrift_binary:\n    endpoint: x\n")
        .starts_with("protocols::thrift_binary::endpoint: invalid port number for the Thrift UDP Binary endpoint"));
}

/// Records what reaches the pipeline.
#[derive(Default)]
struct Sink(Mutex<Vec<ExportTraceServiceRequest>>);

impl Consumer for Sink {
    fn consume(&self, payload: Payload, _: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if let Ok(Request::Traces(t)) = payload.to_request() {
                self.0.lock().unwrap().push(t);
            }
            Ok(())
        })
    }
}

impl Sink {
    fn spans(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }

    async fn wait_for(&self, n: usize) {
        for _ in 0..200 {
            if self.spans() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} spans arrived, not {n}", self.spans());
    }
}

fn receiver(yaml: &str) -> (JaegerReceiver, Arc<Sink>) {
    let cfg = ferrotel_runtime::config::testdata::load::<JaegerReceiverConfig>(yaml).unwrap();
    let sink = Arc::new(Sink::default());
    let ctx = CreateContext {
        id: "jaeger".parse().unwrap(),
        kind: Kind::Receiver,
        pipeline: None,
        telemetry: Telemetry::new(),
        extensions: Arc::new(Vec::new()),
    };
    (JaegerReceiver::new(&ctx, cfg, sink.clone()), sink)
}

/// Over-size, undecodable and valid packets from different senders: the bad ones are counted
/// drops, the good ones all arrive.
#[tokio::test]
async fn udp_drops_bad_packets_and_serves_the_rest() {
    let (r, sink) = receiver(
        "protocols:\n  thrift_compact:\n    endpoint: 127.0.0.1:0\n    max_packet_size: 1000\n  thrift_binary:\n    endpoint: 127.0.0.1:0\n",
    );
    r.start().await.unwrap();
    let a = r.addresses();
    let sender = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let compact = a.thrift_compact.unwrap();
    let binary = a.thrift_binary.unwrap();
    // Over max_packet_size (a valid packet, padded with a long tag).
    let mut big = sample_batch();
    big.spans[0]
        .tags
        .push(crate::model::Tag::str("pad", "x".repeat(2000)));
    sender
        .send_to(&encode::emit_batch(&big, Protocol::Compact), compact)
        .await
        .unwrap();
    // Garbage, and a truncated packet.
    sender
        .send_to(b"\x82\x81\x01garbage", compact)
        .await
        .unwrap();
    let good = encode::emit_batch(&sample_batch(), Protocol::Compact);
    sender
        .send_to(&good[..good.len() / 2], compact)
        .await
        .unwrap();
    // A binary packet to the compact port.
    sender
        .send_to(
            &encode::emit_batch(&sample_batch(), Protocol::Binary),
            compact,
        )
        .await
        .unwrap();
    // The good ones, on both ports.
    other.send_to(&good, compact).await.unwrap();
    other
        .send_to(
            &encode::emit_batch(&sample_batch(), Protocol::Binary),
            binary,
        )
        .await
        .unwrap();
    sink.wait_for(2).await;
    for _ in 0..100 {
        if r.udp_drops().snapshot().2 == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(r.udp_drops().snapshot(), (1, 0, 3, 0));
    let name = sink.0.lock().unwrap()[0].resource_spans[0].scope_spans[0].spans[0]
        .name
        .clone();
    assert_eq!(name, "GET /x");
    r.shutdown().await.unwrap();
}

async fn http_post(
    addr: std::net::SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn thrift_http_accepts_batches_and_names_bad_input() {
    let (r, sink) = receiver("protocols:\n  thrift_http:\n    endpoint: 127.0.0.1:0\n");
    r.start().await.unwrap();
    let addr = r.addresses().thrift_http.unwrap();
    let body = encode::batch(&sample_batch(), Protocol::Binary);
    for ct in [
        "application/x-thrift",
        "application/vnd.apache.thrift.binary",
    ] {
        let resp = http_post(addr, "/api/traces", ct, &body).await;
        assert!(resp.starts_with("HTTP/1.1 202"), "{resp}");
    }
    assert_eq!(sink.spans(), 2);
    let resp = http_post(addr, "/api/traces", "application/json", &body).await;
    assert!(
        resp.starts_with("HTTP/1.1 400")
            && resp.contains("Unsupported content type: application/json"),
        "{resp}"
    );
    let resp = http_post(addr, "/api/traces", "application/x-thrift", &body[..10]).await;
    assert!(
        resp.starts_with("HTTP/1.1 400") && resp.contains("Unable to process request body: batch"),
        "{resp}"
    );
    let resp = http_post(addr, "/api/v2/spans", "application/x-thrift", &body).await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    r.shutdown().await.unwrap();
}
