//! Client ↔ server round trips: every signal over gRPC, HTTP/protobuf and HTTP/JSON with every
//! compression each supports; the handler sees exactly what was sent.

mod common;

use std::time::Duration;

use common::*;
use ferrotel_otlp::client::{ClientSettings, ClientTls, Compression, OtlpClient, Protocol};
use ferrotel_otlp::server::{PartialSuccess, Transport};
use ferrotel_pdata::{Payload, Signal};

fn client(protocol: Protocol, endpoint: String, compression: Compression) -> OtlpClient {
    OtlpClient::new(ClientSettings {
        protocol,
        endpoint,
        compression,
        timeout: Duration::from_secs(5),
        tls: ClientTls {
            insecure: true,
            ..Default::default()
        },
        headers: vec![("x-test".into(), "yes".into())],
        ..Default::default()
    })
    .unwrap()
}

async fn round_trip(protocol: Protocol, compressions: &[Compression]) {
    let rec = Recorder::new();
    let (server, endpoint) = match protocol {
        Protocol::Grpc => {
            let s = grpc_server(rec.clone(), |s| s.include_metadata = true).await;
            let ep = s.local_addr().to_string();
            (s, ep)
        }
        _ => {
            let s = http_server(rec.clone(), |s| s.include_metadata = true).await;
            let ep = format!("http://{}", s.local_addr());
            (s, ep)
        }
    };
    for &c in compressions {
        let cl = client(protocol, endpoint.clone(), c);
        for signal in Signal::ALL {
            let sent = payload(signal, 3);
            let r = cl.export(&sent).await.unwrap_or_else(|e| {
                panic!("{protocol:?} {c:?} {signal}: {e}");
            });
            assert_eq!(r, PartialSuccess::default());
            let got = rec.take();
            assert_eq!(got.len(), 1, "{protocol:?} {c:?} {signal}");
            let got = &got[0];
            assert_eq!(got.payload.signal(), signal);
            assert_eq!(got.payload.items(), 3, "{protocol:?} {c:?} {signal}");
            assert_eq!(
                got.transport,
                if protocol == Protocol::Grpc {
                    Transport::Grpc
                } else {
                    Transport::Http
                }
            );
            if protocol == Protocol::HttpJson {
                // JSON is transcoded straight to protobuf: no prost structs on the way in.
                assert!(got.payload.is_encoded());
                assert_eq!(
                    got.payload.to_request().unwrap(),
                    request(signal, 3),
                    "{c:?} {signal}"
                );
            } else {
                // Protobuf arrives as the very bytes sent, still encoded.
                assert!(got.payload.is_encoded());
                assert_eq!(got.payload.to_proto(), sent.to_proto(), "{c:?} {signal}");
            }
            assert!(got.client.addr.is_some());
            assert!(
                got.client
                    .metadata
                    .iter()
                    .any(|(k, v)| k == "x-test" && v == "yes"),
                "{:?}",
                got.client.metadata
            );
        }
    }
    // Partial success travels back.
    rec.set(Mode::Partial(2, "two dropped".into()));
    let cl = client(protocol, endpoint.clone(), Compression::None);
    for signal in Signal::ALL {
        let r = cl.export(&payload(signal, 3)).await.unwrap();
        assert_eq!(
            r,
            PartialSuccess {
                rejected: 2,
                message: "two dropped".into()
            },
            "{protocol:?} {signal}"
        );
    }
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn grpc_round_trip() {
    round_trip(
        Protocol::Grpc,
        &[Compression::None, Compression::Gzip, Compression::Zstd],
    )
    .await;
}

#[tokio::test]
async fn http_protobuf_round_trip() {
    round_trip(
        Protocol::HttpProtobuf,
        &[
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Snappy,
            Compression::Deflate,
            Compression::Lz4,
        ],
    )
    .await;
}

#[tokio::test]
async fn http_json_round_trip() {
    round_trip(
        Protocol::HttpJson,
        &[
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Snappy,
            Compression::Deflate,
            Compression::Lz4,
        ],
    )
    .await;
}

#[tokio::test]
async fn grpc_rejects_http_only_compression() {
    for c in [Compression::Snappy, Compression::Deflate, Compression::Lz4] {
        assert!(
            OtlpClient::new(ClientSettings {
                protocol: Protocol::Grpc,
                endpoint: "localhost:4317".into(),
                compression: c,
                ..Default::default()
            })
            .is_err()
        );
    }
}

#[tokio::test]
async fn per_signal_urls_and_many_concurrent_calls() {
    let rec = Recorder::new();
    let server = http_server(rec.clone(), |s| {
        s.paths.insert(Signal::Logs, "/custom/logs".into());
    })
    .await;
    let addr = server.local_addr();
    let cl = std::sync::Arc::new(
        OtlpClient::new(ClientSettings {
            protocol: Protocol::HttpProtobuf,
            endpoint: format!("http://{addr}/"),
            signal_endpoints: [(Signal::Logs, format!("http://{addr}/custom/logs"))].into(),
            ..Default::default()
        })
        .unwrap(),
    );
    let mut tasks = Vec::new();
    for i in 0..50 {
        let cl = cl.clone();
        tasks.push(tokio::spawn(async move {
            let signal = if i % 2 == 0 {
                Signal::Logs
            } else {
                Signal::Traces
            };
            cl.export(&payload(signal, 1)).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(rec.count(), 50);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn graceful_shutdown_answers_in_flight_requests() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let rec = Recorder::new();
        rec.set(Mode::Slow(Duration::from_millis(300)));
        let (server, ep) = if protocol == Protocol::Grpc {
            let s = grpc_server(rec.clone(), |_| {}).await;
            let ep = s.local_addr().to_string();
            (s, ep)
        } else {
            let s = http_server(rec.clone(), |_| {}).await;
            let ep = format!("http://{}", s.local_addr());
            (s, ep)
        };
        let addr = server.local_addr();
        let cl = client(protocol, ep, Compression::None);
        let call = tokio::spawn(async move { cl.export(&payload(Signal::Traces, 1)).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.shutdown(Duration::from_secs(5)).await;
        call.await
            .unwrap()
            .unwrap_or_else(|e| panic!("{protocol:?}: in-flight request failed: {e}"));
        // And nothing listens any more.
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}

#[tokio::test]
async fn port_conflict_names_the_address() {
    let rec = Recorder::new();
    let a = http_server(rec.clone(), |_| {}).await;
    let taken = a.local_addr();
    let err = ferrotel_otlp::server::start_grpc(
        ferrotel_otlp::server::GrpcServerSettings {
            endpoint: taken,
            ..Default::default()
        },
        rec,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains(&taken.to_string()), "{err}");
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // Bind and drop to get a port nobody listens on.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for (protocol, ep) in [
        (Protocol::Grpc, addr.to_string()),
        (Protocol::HttpProtobuf, format!("http://{addr}")),
    ] {
        let e = client(protocol, ep, Compression::None)
            .export(&payload(Signal::Logs, 1))
            .await
            .unwrap_err();
        assert!(e.retryable, "{protocol:?}: {e:?}");
    }
}

/// A server started for `protocol` and the endpoint a client uses for it.
async fn server_for(
    protocol: Protocol,
    rec: std::sync::Arc<Recorder>,
) -> (ferrotel_otlp::server::ServerHandle, String) {
    match protocol {
        Protocol::Grpc => {
            let s = grpc_server(rec, |_| {}).await;
            let ep = s.local_addr().to_string();
            (s, ep)
        }
        _ => {
            let s = http_server(rec, |_| {}).await;
            let ep = format!("http://{}", s.local_addr());
            (s, ep)
        }
    }
}

/// zstd in, zstd out: a payload received as zstd keeps the stream, merged payloads keep the
/// concatenated streams, and a zstd client sends that stream unchanged (no compression
/// again); a modified payload is compressed afresh, so the change is what arrives.
#[tokio::test]
async fn zstd_streams_pass_through_unchanged() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let (rec_a, rec_b) = (Recorder::new(), Recorder::new());
        let (a, ep_a) = server_for(protocol, rec_a.clone()).await;
        let (b, ep_b) = server_for(protocol, rec_b.clone()).await;
        let to_a = client(protocol, ep_a, Compression::Zstd);
        let sent = [payload(Signal::Traces, 3), payload(Signal::Traces, 5)];
        for p in &sent {
            to_a.export(p).await.unwrap();
        }
        let got: Vec<_> = rec_a.take().into_iter().map(|r| r.payload).collect();
        for (g, s) in got.iter().zip(&sent) {
            let stream = g
                .zstd_source()
                .expect("received as zstd: the stream is kept");
            assert_eq!(zstd::decode_all(&stream[..]).unwrap(), s.to_proto());
        }
        let merged = Payload::merge(Signal::Traces, got).unwrap();
        let streams = merged
            .zstd_source()
            .expect("merged zstd payloads keep theirs")
            .clone();
        assert_eq!(zstd::decode_all(&streams[..]).unwrap(), merged.to_proto());

        let to_b = client(protocol, ep_b.clone(), Compression::Zstd);
        to_b.export(&merged).await.unwrap();
        let at_b = rec_b.take().remove(0).payload;
        assert_eq!(
            at_b.zstd_source(),
            Some(&streams),
            "{protocol:?}: sent as received"
        );
        assert_eq!(at_b.to_proto(), merged.to_proto());
        if protocol == Protocol::HttpProtobuf {
            // A configured level (`compression_params`) is honoured: compressed afresh.
            let leveled = OtlpClient::new(ClientSettings {
                protocol,
                endpoint: ep_b.clone(),
                compression: Compression::Zstd,
                compression_level: Some(19),
                timeout: Duration::from_secs(5),
                ..Default::default()
            })
            .unwrap();
            leveled.export(&merged).await.unwrap();
            let at_b = rec_b.take().remove(0).payload;
            let sent = at_b.zstd_source().expect("zstd on the wire");
            assert_ne!(sent, &streams, "a configured level compresses again");
            assert_eq!(at_b.to_proto(), merged.to_proto());
        }

        let mut changed = merged.clone();
        changed
            .modify(|r| {
                let ferrotel_pdata::Request::Traces(t) = r else {
                    unreachable!()
                };
                t.resource_spans.truncate(1);
            })
            .unwrap();
        assert!(changed.zstd_source().is_none());
        to_b.export(&changed).await.unwrap();
        let at_b = rec_b.take().remove(0).payload;
        assert_eq!(at_b.items(), 3, "{protocol:?}: the change arrives");
        assert_eq!(at_b.to_proto(), changed.to_proto());
        a.shutdown(Duration::from_secs(1)).await;
        b.shutdown(Duration::from_secs(1)).await;
    }
}
