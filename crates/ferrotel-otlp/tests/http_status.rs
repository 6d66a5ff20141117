//! OTLP/HTTP status mapping with raw requests: every bad input gets the status and message the
//! spec (and the Go collector) give it, and a well-behaved client still succeeds afterwards.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ferrotel_otlp::client::{ClientSettings, OtlpClient, Protocol};
use ferrotel_otlp::server::{AuthData, CorsSettings, ErrorKind, ServerAuth};
use ferrotel_pdata::Signal;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PB: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

struct TokenAuth;

impl ServerAuth for TokenAuth {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<AuthData, String> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("Bearer good") => Ok(AuthData {
                subject: "tester".into(),
                ..Default::default()
            }),
            Some(_) => Err("invalid token".into()),
            None => Err("missing authorization header".into()),
        }
    }
}

struct Good;

impl ferrotel_otlp::client::ClientAuth for Good {
    fn apply(&self, headers: &mut http::HeaderMap) -> Result<(), String> {
        headers.insert("authorization", "Bearer good".parse().unwrap());
        Ok(())
    }
}

/// A well-behaved client still gets through.
async fn healthy(addr: SocketAddr, rec: &Recorder, auth: bool) {
    rec.set(Mode::Accept);
    let before = rec.count();
    let cl = OtlpClient::new(ClientSettings {
        protocol: Protocol::HttpProtobuf,
        endpoint: format!("http://{addr}"),
        auth: if auth { Some(Arc::new(Good)) } else { None },
        ..Default::default()
    })
    .unwrap();
    cl.export(&payload(Signal::Traces, 2))
        .await
        .expect("good client");
    assert_eq!(rec.count(), before + 1);
}

fn pb_status(r: &RawResponse) -> RpcStatus {
    assert_eq!(r.header("content-type"), Some(PB), "{r:?}");
    RpcStatus::decode(r.body.as_slice()).expect("google.rpc.Status body")
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn bad_inputs_map_to_spec_statuses() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |_| {}).await;
    let a = server.local_addr();
    let good = proto(Signal::Traces, 2);

    // 1. Truncated protobuf → 400 with a google.rpc.Status saying what is wrong.
    let r = post(a, "/v1/traces", PB, "", &good[..good.len() - 3]).await;
    assert_eq!(r.status, 400, "{r:?}");
    let st = pb_status(&r);
    assert_eq!(st.code, 3);
    assert!(!st.message.is_empty());
    healthy(a, &rec, false).await;

    // 2. Invalid UTF-8 in a string field → 400.
    let mut bad = good.to_vec();
    let at = bad.windows(6).position(|w| w == b"span-0").unwrap();
    bad[at..at + 3].copy_from_slice(b"\xff\xfe\xfd");
    let r = post(a, "/v1/traces", PB, "", &bad).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(!pb_status(&r).message.is_empty());
    healthy(a, &rec, false).await;

    // 3. Wrong content type → 415 naming the supported ones.
    let r = post(a, "/v1/traces", "text/plain", "", &good).await;
    assert_eq!(r.status, 415);
    assert!(r.text().contains("application/x-protobuf"), "{}", r.text());
    healthy(a, &rec, false).await;

    // 4. No content type → 415.
    let r = raw(
        a,
        &format!(
            "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: {}",
            good.len()
        ),
        &good,
    )
    .await;
    assert_eq!(r.status, 415);
    healthy(a, &rec, false).await;

    // 5. Empty protobuf body: a valid, empty request → 200, handler sees 0 items.
    rec.take();
    let r = post(a, "/v1/logs", PB, "", b"").await;
    assert_eq!(r.status, 200, "{r:?}");
    let got = rec.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload.items(), 0);
    healthy(a, &rec, false).await;

    // 6. Malformed JSON → 400 with a JSON google.rpc.Status.
    let r = post(a, "/v1/metrics", JSON, "", b"{\"resourceMetrics\": [").await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.header("content-type"), Some(JSON));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["code"], 3);
    assert!(!v["message"].as_str().unwrap().is_empty());
    healthy(a, &rec, false).await;

    // 7. Empty JSON body → 400 (not a JSON document).
    let r = post(a, "/v1/metrics", JSON, "", b"").await;
    assert_eq!(r.status, 400, "{r:?}");
    healthy(a, &rec, false).await;

    // 8. Corrupt gzip → 400.
    let r = post(
        a,
        "/v1/traces",
        PB,
        "Content-Encoding: gzip",
        b"definitely not gzip",
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(pb_status(&r).message.contains("decompress"));
    healthy(a, &rec, false).await;

    // 9. Unsupported Content-Encoding → 415.
    let r = post(a, "/v1/traces", PB, "Content-Encoding: br", &good).await;
    assert_eq!(r.status, 415);
    assert!(r.text().contains("br"));
    healthy(a, &rec, false).await;

    // 10. Wrong method → 405 with Allow: POST.
    let r = raw(a, "GET /v1/traces HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    healthy(a, &rec, false).await;

    // 11. Unknown path → 404.
    let r = post(a, "/v1/nothing", PB, "", &good).await;
    assert_eq!(r.status, 404);
    healthy(a, &rec, false).await;

    // 12. Declared Content-Length over the limit → 413 before the body is sent.
    let r = raw(
        a,
        &format!(
            "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: {}",
            64 * 1024 * 1024
        ),
        b"",
    )
    .await;
    assert_eq!(r.status, 413, "{r:?}");
    healthy(a, &rec, false).await;

    // 13. Handler Unavailable → 503 + Retry-After; ResourceExhausted → 429.
    rec.set(Mode::Fail(unavailable(7)));
    let r = post(a, "/v1/traces", PB, "", &good).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(pb_status(&r).message, "pipeline is full");
    rec.set(Mode::Fail(ferrotel_otlp::server::ExportError {
        kind: ErrorKind::ResourceExhausted,
        message: "quota".into(),
        retry_after: Some(Duration::from_millis(1500)),
    }));
    let r = post(a, "/v1/traces", JSON, "", b"{}").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    healthy(a, &rec, false).await;

    // 14. Handler InvalidArgument → 400, Internal → 500, PermissionDenied → 403.
    for (kind, status) in [
        (ErrorKind::InvalidArgument, 400),
        (ErrorKind::Internal, 500),
        (ErrorKind::PermissionDenied, 403),
    ] {
        rec.set(Mode::Fail(error(kind, "nope")));
        let r = post(a, "/v1/traces", PB, "", &good).await;
        assert_eq!(r.status, status, "{kind:?}");
        assert_eq!(pb_status(&r).message, "nope");
    }
    healthy(a, &rec, false).await;

    // 15. admit() refuses → 503 and the handler is not called.
    *rec.refuse_admission.lock().unwrap() = Some(unavailable(1));
    let before = rec.count();
    let r = post(a, "/v1/traces", PB, "", &good).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(rec.count(), before);
    *rec.refuse_admission.lock().unwrap() = None;
    healthy(a, &rec, false).await;

    // 16. A client-side JSON client against the same server (JSON success body).
    let r = post(a, "/v1/logs", JSON, "", b"{\"resourceLogs\":[]}").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some(JSON));
    healthy(a, &rec, false).await;

    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn oversized_streamed_body_is_413() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |s| s.max_request_body_size = 64 * 1024).await;
    let a = server.local_addr();
    // Chunked, so no Content-Length to refuse up front: the limit bites while streaming.
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    s.write_all(
        format!("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nTransfer-Encoding: chunked\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let chunk = vec![0u8; 16 * 1024];
    for _ in 0..5 {
        let _ = s
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await;
        let _ = s.write_all(&chunk).await;
        let _ = s.write_all(b"\r\n").await;
    }
    let r = read_response(&mut s).await;
    assert_eq!(r.status, 413, "{r:?}");
    healthy(a, &rec, false).await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn gzip_bomb_is_refused_fast_without_expanding() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |_| {}).await; // 20 MiB limit
    let a = server.local_addr();
    // 1 GiB of zeros: a 64 MiB gzip member repeated 16 times (a valid multi-member gzip stream).
    let bomb = tokio::task::spawn_blocking(|| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; 64 * 1024 * 1024]).unwrap();
        e.finish().unwrap().repeat(16)
    })
    .await
    .unwrap();
    assert!(bomb.len() < 2 * 1024 * 1024, "bomb is {} bytes", bomb.len());
    let rss_before = peak_rss_kib();
    let t = Instant::now();
    let r = post(a, "/v1/traces", PB, "Content-Encoding: gzip", &bomb).await;
    assert_eq!(r.status, 413, "{r:?}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    let grown_mib = (peak_rss_kib().saturating_sub(rss_before)) / 1024;
    assert!(grown_mib < 200, "peak RSS grew by {grown_mib} MiB");
    assert_eq!(rec.count(), 0);
    healthy(a, &rec, false).await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn unauthenticated_is_401_and_never_reaches_handler() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |s| s.auth = Some(Arc::new(TokenAuth))).await;
    let a = server.local_addr();
    let good = proto(Signal::Traces, 1);
    let r = post(a, "/v1/traces", PB, "", &good).await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("missing authorization"), "{}", r.text());
    let r = post(a, "/v1/traces", PB, "Authorization: Bearer bad", &good).await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("invalid token"));
    assert_eq!(rec.count(), 0);
    healthy(a, &rec, true).await;
    let got = rec.take();
    assert_eq!(got[0].client.auth.as_ref().unwrap().subject, "tester");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn slow_loris_headers_and_body_are_cut_off() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |s| {
        s.read_header_timeout = Duration::from_millis(300);
        s.read_timeout = Duration::from_millis(300);
    })
    .await;
    let a = server.local_addr();

    // Headers that never finish: the connection is closed.
    let t = Instant::now();
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    s.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("server must close a slow-loris connection");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    // A body that never finishes: 408.
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    s.write_all(
        format!("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: 100\r\n\r\n0123456789")
            .as_bytes(),
    )
    .await
    .unwrap();
    let r = read_response(&mut s).await;
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(rec.count(), 0);
    healthy(a, &rec, false).await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn cors_preflight_and_simple_requests() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |s| {
        s.cors = Some(CorsSettings {
            allowed_origins: vec!["https://*.example.com".into()],
            allowed_headers: vec!["X-Custom".into()],
            max_age: Some(Duration::from_secs(600)),
        })
    })
    .await;
    let a = server.local_addr();
    let pre = |origin: &'static str, headers: &'static str| {
        format!(
            "OPTIONS /v1/traces HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: {headers}"
        )
    };
    let r = raw(
        a,
        &pre("https://app.example.com", "content-type, x-custom"),
        b"",
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .contains("x-custom")
    );
    // Origin not allowed, or a header not allowed: no CORS grant.
    let r = raw(a, &pre("https://evil.test", "content-type"), b"").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = raw(a, &pre("https://app.example.com", "x-other"), b"").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    // The actual request carries Access-Control-Allow-Origin.
    let r = post(
        a,
        "/v1/traces",
        PB,
        "Origin: https://app.example.com",
        &proto(Signal::Traces, 1),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    healthy(a, &rec, false).await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn client_classifies_http_failures() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |_| {}).await;
    let cl = OtlpClient::new(ClientSettings {
        protocol: Protocol::HttpProtobuf,
        endpoint: format!("http://{}", server.local_addr()),
        ..Default::default()
    })
    .unwrap();
    rec.set(Mode::Fail(unavailable(3)));
    let e = cl.export(&payload(Signal::Logs, 1)).await.unwrap_err();
    assert!(e.retryable);
    assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
    assert_eq!(e.status, "HTTP 503");
    assert_eq!(e.message, "pipeline is full");
    rec.set(Mode::Fail(error(ErrorKind::InvalidArgument, "bad data")));
    let e = cl.export(&payload(Signal::Logs, 1)).await.unwrap_err();
    assert!(!e.retryable);
    assert_eq!(e.status, "HTTP 400");
    assert_eq!(e.message, "bad data");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn truncated_gzip_and_zstd_are_400_and_the_next_request_is_served() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |_| {}).await;
    let a = server.local_addr();
    for (enc, c) in gzip_and_zstd(&proto(Signal::Traces, 50)) {
        for cut in [c.len() / 3, c.len() - 1] {
            let r = post(
                a,
                "/v1/traces",
                PB,
                &format!("Content-Encoding: {enc}"),
                &c[..cut],
            )
            .await;
            assert_eq!(r.status, 400, "{enc} cut at {cut}: {r:?}");
            let st = pb_status(&r);
            assert_eq!(st.code, 3, "{enc}: {st:?}");
            assert!(st.message.contains("decompressing"), "{enc}: {st:?}");
            healthy(a, &rec, false).await;
        }
        // The whole stream is accepted.
        let r = post(a, "/v1/traces", PB, &format!("Content-Encoding: {enc}"), &c).await;
        assert_eq!(r.status, 200, "{enc}: {r:?}");
    }
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn zstd_bomb_is_refused_without_expanding() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |_| {}).await; // 20 MiB limit
    let a = server.local_addr();
    // 1 GiB of zeros, streamed (no content size in the frame header) and in one bulk frame
    // (which states its size).
    let (streamed, sized) = tokio::task::spawn_blocking(|| {
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let bomb = |pledge: bool| {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
            if pledge {
                e.include_contentsize(true).unwrap();
                e.set_pledged_src_size(Some(16 * zeros.len() as u64))
                    .unwrap();
            }
            for _ in 0..16 {
                e.write_all(&zeros).unwrap();
            }
            e.finish().unwrap()
        };
        (bomb(false), bomb(true))
    })
    .await
    .unwrap();
    for bomb in [streamed, sized] {
        assert!(bomb.len() < 1024 * 1024, "bomb is {} bytes", bomb.len());
        let rss_before = peak_rss_kib();
        let r = post(a, "/v1/traces", PB, "Content-Encoding: zstd", &bomb).await;
        assert_eq!(r.status, 413, "{r:?}");
        let grown_mib = (peak_rss_kib().saturating_sub(rss_before)) / 1024;
        assert!(grown_mib < 200, "peak RSS grew by {grown_mib} MiB");
        healthy(a, &rec, false).await;
    }
    assert_eq!(rec.count(), 2);
    server.shutdown(Duration::from_secs(1)).await;
}
