//! TLS and mTLS for both servers, with certificates made by the test.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use ferrotel_otlp::client::{ClientSettings, ClientTls, OtlpClient, Protocol};
use ferrotel_otlp::server::{ServerHandle, TlsServerSettings};
use ferrotel_pdata::Signal;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    /// A client certificate from a CA the server does not trust.
    rogue_cert: PathBuf,
    rogue_key: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    dir: &std::path::Path,
    stem: &str,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, stem);
    let cert = p.signed_by(&key, issuer).unwrap();
    let (c, k) = (
        dir.join(format!("{stem}.crt")),
        dir.join(format!("{stem}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("ferrotel test CA");
    let rogue_root = ca("rogue CA");
    let ca_path = dir.path().join("ca.crt");
    std::fs::write(&ca_path, root.pem()).unwrap();
    let (server_cert, server_key) = leaf(&root, &["localhost"], dir.path(), "server");
    let (client_cert, client_key) = leaf(&root, &["client"], dir.path(), "client");
    let (rogue_cert, rogue_key) = leaf(&rogue_root, &["client"], dir.path(), "rogue");
    Pki {
        _dir: dir,
        ca: ca_path,
        server_cert,
        server_key,
        client_cert,
        client_key,
        rogue_cert,
        rogue_key,
    }
}

fn server_tls(p: &Pki, mtls: bool) -> TlsServerSettings {
    TlsServerSettings {
        cert_file: p.server_cert.clone(),
        key_file: p.server_key.clone(),
        client_ca_file: mtls.then(|| p.ca.clone()),
        min_version: None,
    }
}

async fn start(
    protocol: Protocol,
    tls: TlsServerSettings,
) -> (ServerHandle, String, std::sync::Arc<Recorder>) {
    let rec = Recorder::new();
    if protocol == Protocol::Grpc {
        let s = grpc_server(rec.clone(), |s| s.tls = Some(tls)).await;
        // No scheme: TLS, as the Go exporter does unless `insecure`.
        let ep = format!("localhost:{}", s.local_addr().port());
        (s, ep, rec)
    } else {
        let s = http_server(rec.clone(), |s| s.tls = Some(tls)).await;
        let ep = format!("https://localhost:{}", s.local_addr().port());
        (s, ep, rec)
    }
}

async fn export(protocol: Protocol, endpoint: &str, tls: ClientTls) -> Result<(), String> {
    let cl = OtlpClient::new(ClientSettings {
        protocol,
        endpoint: endpoint.to_owned(),
        tls,
        timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    cl.export(&payload(Signal::Traces, 2))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn tls_both_protocols() {
    let p = pki();
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let (server, ep, rec) = start(protocol, server_tls(&p, false)).await;
        let trusted = ClientTls {
            ca_file: Some(p.ca.clone()),
            ..Default::default()
        };
        export(protocol, &ep, trusted.clone())
            .await
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}"));
        assert_eq!(rec.count(), 1);
        // Without the CA the server is not trusted.
        assert!(export(protocol, &ep, ClientTls::default()).await.is_err());
        // ... unless verification is skipped.
        export(
            protocol,
            &ep,
            ClientTls {
                insecure_skip_verify: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{protocol:?} skip verify: {e}"));
        // Connecting by IP, verifying the certificate's name through the override.
        let by_ip = ep.replace("localhost", "127.0.0.1");
        export(
            protocol,
            &by_ip,
            ClientTls {
                server_name_override: Some("localhost".into()),
                ..trusted.clone()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{protocol:?} override: {e}"));
        assert!(export(protocol, &by_ip, trusted).await.is_err());
        assert_eq!(rec.count(), 3);
        server.shutdown(Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn mtls_requires_a_client_certificate_from_the_ca() {
    let p = pki();
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let (server, ep, rec) = start(protocol, server_tls(&p, true)).await;
        let base = ClientTls {
            ca_file: Some(p.ca.clone()),
            ..Default::default()
        };
        assert!(export(protocol, &ep, base.clone()).await.is_err());
        assert!(
            export(
                protocol,
                &ep,
                ClientTls {
                    cert_file: Some(p.rogue_cert.clone()),
                    key_file: Some(p.rogue_key.clone()),
                    ..base.clone()
                }
            )
            .await
            .is_err()
        );
        assert_eq!(rec.count(), 0);
        export(
            protocol,
            &ep,
            ClientTls {
                cert_file: Some(p.client_cert.clone()),
                key_file: Some(p.client_key.clone()),
                ..base
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{protocol:?}: {e}"));
        assert_eq!(rec.count(), 1);
        server.shutdown(Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn bad_tls_settings_are_errors() {
    let p = pki();
    let rec = Recorder::new();
    let mut tls = server_tls(&p, false);
    tls.min_version = Some("1.0".into());
    let r = ferrotel_otlp::server::start_http(
        ferrotel_otlp::server::HttpServerSettings {
            endpoint: local(),
            tls: Some(tls),
            ..Default::default()
        },
        rec.clone(),
    )
    .await;
    assert!(r.unwrap_err().to_string().contains("min_version"));
    let mut tls = server_tls(&p, false);
    tls.cert_file = "/nonexistent/cert.pem".into();
    let r = ferrotel_otlp::server::start_grpc(
        ferrotel_otlp::server::GrpcServerSettings {
            endpoint: local(),
            tls: Some(tls),
            ..Default::default()
        },
        rec,
    )
    .await;
    assert!(r.unwrap_err().to_string().contains("/nonexistent/cert.pem"));
}
