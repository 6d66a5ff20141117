//! OTLP/gRPC status mapping as seen by the client.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferrotel_otlp::client::{
    ClientAuth, ClientSettings, ClientTls, Compression, OtlpClient, Protocol, SendError,
};
use ferrotel_otlp::server::{AuthData, ErrorKind, ServerAuth};
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::{Payload, Request, Signal};

fn client(addr: std::net::SocketAddr, compression: Compression) -> OtlpClient {
    OtlpClient::new(ClientSettings {
        protocol: Protocol::Grpc,
        endpoint: format!("http://{addr}"),
        compression,
        timeout: Duration::from_secs(5),
        tls: ClientTls {
            insecure: true,
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}

async fn send(cl: &OtlpClient, p: &Payload) -> SendError {
    cl.export(p).await.expect_err("export should fail")
}

#[tokio::test]
async fn oversized_message_is_resource_exhausted() {
    let rec = Recorder::new();
    let server = grpc_server(rec.clone(), |s| s.max_recv_msg_size = 2048).await;
    let a = server.local_addr();
    let big = payload(Signal::Logs, 200);
    assert!(big.to_proto().len() > 2048);
    let e = send(&client(a, Compression::None), &big).await;
    assert_eq!(e.status, "gRPC ResourceExhausted", "{e:?}");
    assert!(e.message.contains("larger than max"), "{}", e.message);
    // Without RetryInfo, ResourceExhausted is permanent.
    assert!(!e.retryable);
    // Small on the wire, too big once decompressed.
    for c in [Compression::Gzip, Compression::Zstd] {
        let e = send(&client(a, c), &big).await;
        assert_eq!(e.status, "gRPC ResourceExhausted", "{c:?} {e:?}");
        assert!(e.message.contains("decompression"), "{}", e.message);
    }
    assert_eq!(rec.count(), 0);
    client(a, Compression::Gzip)
        .export(&payload(Signal::Logs, 2))
        .await
        .unwrap();
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn unavailable_carries_retry_info() {
    let rec = Recorder::new();
    let server = grpc_server(rec.clone(), |_| {}).await;
    let cl = client(server.local_addr(), Compression::None);
    rec.set(Mode::Fail(ferrotel_otlp::server::ExportError::unavailable(
        "pipeline is full",
        Some(Duration::from_millis(2500)),
    )));
    let e = send(&cl, &payload(Signal::Traces, 1)).await;
    assert_eq!(e.status, "gRPC Unavailable");
    assert!(e.retryable);
    assert_eq!(e.retry_after, Some(Duration::from_millis(2500)));
    assert_eq!(e.message, "pipeline is full");

    // ResourceExhausted becomes retryable with RetryInfo.
    rec.set(Mode::Fail(ferrotel_otlp::server::ExportError {
        kind: ErrorKind::ResourceExhausted,
        message: "slow down".into(),
        retry_after: Some(Duration::from_secs(1)),
    }));
    let e = send(&cl, &payload(Signal::Traces, 1)).await;
    assert!(e.retryable, "{e:?}");
    assert_eq!(e.retry_after, Some(Duration::from_secs(1)));

    // admit() refusal never reads the body.
    rec.set(Mode::Accept);
    *rec.refuse_admission.lock().unwrap() = Some(unavailable(4));
    let before = rec.count();
    let e = send(&cl, &payload(Signal::Traces, 1)).await;
    assert_eq!(e.retry_after, Some(Duration::from_secs(4)));
    assert_eq!(rec.count(), before);
    *rec.refuse_admission.lock().unwrap() = None;

    for (kind, status, retryable) in [
        (ErrorKind::InvalidArgument, "gRPC InvalidArgument", false),
        (ErrorKind::Internal, "gRPC Internal", false),
        (ErrorKind::PermissionDenied, "gRPC PermissionDenied", false),
    ] {
        rec.set(Mode::Fail(error(kind, "msg with ünïcode and %")));
        let e = send(&cl, &payload(Signal::Traces, 1)).await;
        assert_eq!(e.status, status);
        assert_eq!(e.retryable, retryable);
        assert_eq!(e.message, "msg with ünïcode and %");
    }
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn malformed_data_is_invalid_argument() {
    let rec = Recorder::new();
    let server = grpc_server(rec.clone(), |_| {}).await;
    let cl = client(server.local_addr(), Compression::None);
    // Encodes fine but a 3-byte trace id is invalid OTLP.
    let bad = Payload::from_request(Request::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1, 2, 3].into(),
                    span_id: vec![1; 8].into(),
                    name: "x".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }));
    let e = send(&cl, &bad).await;
    assert_eq!(e.status, "gRPC InvalidArgument", "{e:?}");
    assert!(!e.retryable);
    assert!(!e.message.is_empty());
    assert_eq!(rec.count(), 0);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn unserved_signal_is_unimplemented() {
    let rec = Recorder::new();
    let server = grpc_server(rec.clone(), |s| s.signals = vec![Signal::Traces]).await;
    let cl = client(server.local_addr(), Compression::None);
    let e = send(&cl, &payload(Signal::Logs, 1)).await;
    assert_eq!(e.status, "gRPC Unimplemented", "{e:?}");
    assert!(!e.retryable);
    cl.export(&payload(Signal::Traces, 1)).await.unwrap();
    server.shutdown(Duration::from_secs(1)).await;
}

struct KeyAuth;
impl ServerAuth for KeyAuth {
    fn authenticate(&self, h: &http::HeaderMap) -> Result<AuthData, String> {
        match h.get("x-api-key").and_then(|v| v.to_str().ok()) {
            Some("k") => Ok(AuthData {
                subject: "svc".into(),
                ..Default::default()
            }),
            _ => Err("bad api key".into()),
        }
    }
}

struct KeyClient;
impl ClientAuth for KeyClient {
    fn apply(&self, h: &mut http::HeaderMap) -> Result<(), String> {
        h.insert("x-api-key", "k".parse().unwrap());
        Ok(())
    }
}

#[tokio::test]
async fn unauthenticated_never_reaches_handler() {
    let rec = Recorder::new();
    let server = grpc_server(rec.clone(), |s| s.auth = Some(Arc::new(KeyAuth))).await;
    let a = server.local_addr();
    let e = send(&client(a, Compression::None), &payload(Signal::Metrics, 1)).await;
    assert_eq!(e.status, "gRPC Unauthenticated");
    assert_eq!(e.message, "bad api key");
    assert!(!e.retryable);
    assert_eq!(rec.count(), 0);
    let cl = OtlpClient::new(ClientSettings {
        protocol: Protocol::Grpc,
        endpoint: a.to_string(),
        tls: ClientTls {
            insecure: true,
            ..Default::default()
        },
        auth: Some(Arc::new(KeyClient)),
        ..Default::default()
    })
    .unwrap();
    cl.export(&payload(Signal::Metrics, 1)).await.unwrap();
    assert_eq!(rec.take()[0].client.auth.as_ref().unwrap().subject, "svc");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn client_timeout_is_retryable() {
    let rec = Recorder::new();
    rec.set(Mode::Slow(Duration::from_secs(3)));
    let server = grpc_server(rec.clone(), |_| {}).await;
    let cl = OtlpClient::new(ClientSettings {
        protocol: Protocol::Grpc,
        endpoint: format!("http://{}", server.local_addr()),
        timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .unwrap();
    let e = send(&cl, &payload(Signal::Traces, 1)).await;
    assert!(e.retryable, "{e:?}");
    // The client's own deadline: reported as DeadlineExceeded, or as Cancelled when the
    // deadline fires while the stream is being torn down (seen on a loaded 2-core machine).
    assert!(
        ["gRPC DeadlineExceeded", "gRPC Cancelled"].contains(&e.status.as_str()),
        "{e:?}"
    );
    server.shutdown(Duration::ZERO).await;
}

#[tokio::test]
async fn max_connection_age_closes_gracefully() {
    let rec = Recorder::new();
    let server = grpc_server(rec.clone(), |s| {
        s.keepalive.max_connection_age = Some(Duration::from_millis(200));
        s.keepalive.max_connection_age_grace = Some(Duration::from_secs(1));
    })
    .await;
    let cl = client(server.local_addr(), Compression::None);
    // Calls keep succeeding across the server-initiated reconnects. A call racing the GOAWAY
    // may be refused; that must be retryable, and the retry must go through.
    for _ in 0..5 {
        if let Err(e) = cl.export(&payload(Signal::Traces, 1)).await {
            assert!(e.retryable, "{e:?}");
            cl.export(&payload(Signal::Traces, 1)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(rec.count(), 5);
    server.shutdown(Duration::from_secs(1)).await;
}

/// A peer that takes the connection and the request, then closes the socket without an answer
/// (a server killed mid-request, a proxy resetting): a transport failure, not a verdict on the
/// data, so the export must be retryable. It was once reported as a permanent
/// `Unknown: transport error`, and the exporter dropped the request.
#[tokio::test]
async fn connection_closed_mid_request_is_retryable() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        // The preface, SETTINGS and the request's HEADERS and DATA arrive in the first reads.
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < 200 {
            match tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => got += n,
                _ => break,
            }
        }
        drop(sock);
        got
    });
    let e = send(
        &client(addr, Compression::None),
        &payload(Signal::Traces, 10),
    )
    .await;
    assert!(
        peer.await.unwrap() >= 200,
        "the request never reached the peer"
    );
    assert!(e.retryable, "{e:?}");
    assert_eq!(e.status, "gRPC Unavailable", "{e:?}");
}

/// One unary call with a hand-made message (flag byte, length, bytes): (grpc-status, message).
async fn raw_grpc_call(
    addr: std::net::SocketAddr,
    encoding: &str,
    message: &[u8],
) -> (String, String) {
    use http_body_util::{BodyExt, Full};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut framed = vec![1u8];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    let req = http::Request::post(format!(
        "http://{addr}/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .header("grpc-encoding", encoding)
    .body(Full::new(bytes::Bytes::from(framed)))
    .unwrap();
    let resp = tx.send_request(req).await.unwrap();
    let headers = resp.headers().clone();
    let collected = resp.into_body().collect().await.unwrap();
    let h = collected.trailers().cloned().unwrap_or(headers);
    let get = |k: &str| {
        h.get(k)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (get("grpc-status"), get("grpc-message"))
}

#[tokio::test]
async fn truncated_gzip_and_zstd_are_invalid_argument() {
    let rec = Recorder::new();
    let server = grpc_server(rec.clone(), |_| {}).await;
    let a = server.local_addr();
    for (enc, c) in gzip_and_zstd(&proto(Signal::Traces, 50)) {
        for cut in [c.len() / 3, c.len() - 1] {
            let (status, message) = raw_grpc_call(a, enc, &c[..cut]).await;
            assert_eq!(status, "3", "{enc} cut at {cut}: {message}");
            assert!(message.contains("decompress"), "{enc}: {message}");
        }
        assert_eq!(raw_grpc_call(a, enc, &c).await.0, "0", "{enc}");
    }
    assert_eq!(rec.count(), 2);
    client(a, Compression::Gzip)
        .export(&payload(Signal::Traces, 2))
        .await
        .unwrap();
    server.shutdown(Duration::from_secs(1)).await;
}
