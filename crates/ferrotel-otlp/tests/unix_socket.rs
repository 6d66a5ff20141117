//! `transport: unix`: both servers on Unix domain sockets, reached by real clients (curl for
//! OTLP/HTTP, hyper's HTTP/2 client for gRPC), stale socket files replaced, live ones refused.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use ferrotel_pdata::Signal;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::test]
async fn http_over_a_unix_socket_with_curl() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("http.sock");
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |s| s.unix_socket = Some(sock.clone())).await;
    let body = dir.path().join("body.pb");
    std::fs::write(&body, proto(Signal::Traces, 3)).unwrap();
    let out = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--unix-socket",
        ])
        .arg(&sock)
        .args([
            "-H",
            "content-type: application/x-protobuf",
            "--data-binary",
        ])
        .arg(format!("@{}", body.display()))
        .arg("http://localhost/v1/traces")
        .output()
        .await
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200",
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = rec.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload.items(), 3);
    assert_eq!(got[0].client.addr, None, "a Unix peer has no IP address");
    server.shutdown(Duration::from_secs(1)).await;
    assert!(!sock.exists(), "the socket file is removed at shutdown");
}

#[tokio::test]
async fn grpc_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("grpc.sock");
    let rec = Recorder::new();
    let server = grpc_server(rec.clone(), |s| s.unix_socket = Some(sock.clone())).await;

    let stream = tokio::net::UnixStream::connect(&sock).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let msg = proto(Signal::Traces, 2);
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    framed.extend_from_slice(&msg);
    let req = http::Request::post(
        "http://localhost/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    )
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(Full::new(Bytes::from(framed)))
    .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.to_str().unwrap()),
        Some("0"),
        "{trailers:?}"
    );
    assert_eq!(rec.take()[0].payload.items(), 2);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn stale_socket_files_are_replaced_live_ones_and_files_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("otlp.sock");
    // A socket file nobody accepts on (its process died without removing it).
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let server = http_server(Recorder::new(), |s| s.unix_socket = Some(sock.clone())).await;

    // While it serves, a second server on the same path is refused with the path named.
    let mut s = ferrotel_otlp::server::HttpServerSettings {
        unix_socket: Some(sock.clone()),
        ..Default::default()
    };
    s.endpoint = local();
    let err = ferrotel_otlp::server::start_http(s, Recorder::new())
        .await
        .expect_err("a live socket is not taken over")
        .to_string();
    assert!(
        err.contains(&sock.display().to_string()) && err.contains("in use"),
        "{err}"
    );
    server.shutdown(Duration::from_secs(1)).await;

    // A regular file is never removed.
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, "keep me").unwrap();
    let err = ferrotel_otlp::server::start_grpc(
        ferrotel_otlp::server::GrpcServerSettings {
            unix_socket: Some(file.clone()),
            ..Default::default()
        },
        Recorder::new(),
    )
    .await
    .expect_err("a regular file is refused")
    .to_string();
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}
