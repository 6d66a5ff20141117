//! `health_check` extension: an HTTP endpoint (default localhost:13133, path `/`) answering 200
//! while every pipeline runs and 503 while the collector starts or drains, with the Go
//! Collector's JSON body.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use serde::Deserialize;

use crate::extensions::http_server::ServerTask;
use crate::receivers::otlp::config::ServerTls;
use crate::receivers::otlp::tls_settings;

use ferrotel_runtime::config::{ConfigError, parse_endpoint};
use ferrotel_runtime::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheckConfig {
    pub endpoint: String,
    pub path: String,
    /// Accepted for compatibility (deprecated in the Go Collector).
    pub check_collector_pipeline: Option<serde_json::Value>,
    pub response_body: Option<ResponseBody>,
    /// Serve over TLS (confighttp's server `tls`: cert_file, key_file, client_ca_file...).
    pub tls: Option<ServerTls>,
}

/// Custom bodies for the healthy and unhealthy answers.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseBody {
    pub healthy: String,
    pub unhealthy: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "localhost:13133".into(),
            path: "/".into(),
            check_collector_pipeline: None,
            response_body: None,
            tls: None,
        }
    }
}

impl ComponentConfig for HealthCheckConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        parse_endpoint(&self.endpoint).map_err(|e| ConfigError::field("endpoint", e))?;
        if !self.path.starts_with('/') {
            return Err(ConfigError::field(
                "path",
                format!("must start with '/', got {:?}", self.path),
            ));
        }
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        vec![self.endpoint.clone()]
    }
}

/// Factory of the `health_check` extension.
pub struct HealthCheckFactory;

impl ExtensionFactory for HealthCheckFactory {
    type Config = HealthCheckConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "health_check",
            "HTTP health endpoint: 200 when running, 503 when starting or draining",
        )
        .stability(Stability::Beta)
    }

    fn create(
        &self,
        _ctx: CreateContext,
        config: Self::Config,
    ) -> Result<Arc<dyn Extension>, ComponentError> {
        let tls = tls_settings(&config.tls)
            .map(|t| {
                ferrotel_otlp::server::tls_acceptor(&t)
                    .map_err(|e| ComponentError::new(format!("tls: {e}")))
            })
            .transpose()?;
        Ok(Arc::new(HealthCheck {
            tls,
            config,
            ready: Arc::new(AtomicBool::new(false)),
            server: ServerTask::default(),
        }))
    }
}

struct HealthCheck {
    config: HealthCheckConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    ready: Arc<AtomicBool>,
    server: ServerTask,
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Lifecycle for HealthCheck {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        let ready = self.ready.clone();
        let path = self.config.path.clone();
        let bodies = self.config.response_body.clone();
        let since = rfc3339(SystemTime::now());
        let started = Instant::now();
        Box::pin(self.server.start(&self.config.endpoint, self.tls.clone(), move |req| {
            let ok = ready.load(Ordering::Acquire);
            let resp = if req.uri().path() != path {
                http::Response::builder()
                    .status(404)
                    .body(Full::new(Bytes::from_static(b"404 page not found\n")))
            } else {
                let body = match (&bodies, ok) {
                    (Some(b), true) => b.healthy.clone(),
                    (Some(b), false) => b.unhealthy.clone(),
                    (None, true) => format!(
                        "{{\"status\":\"Server available\",\"upSince\":\"{since}\",\"uptime\":\"{:.3}s\"}}",
                        started.elapsed().as_secs_f64()
                    ),
                    (None, false) => "{\"status\":\"Server not available\",\"upSince\":\"0001-01-01T00:00:00Z\",\"uptime\":\"\"}".into(),
                };
                http::Response::builder()
                    .status(if ok { 200 } else { 503 })
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
            };
            async move { resp.expect("valid response") }
        }))
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        self.ready.store(false, Ordering::Release);
        self.server.stop();
        Box::pin(async { Ok(()) })
    }
}

impl Extension for HealthCheck {
    fn on_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn status(port: u16, path: &str) -> u16 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.unwrap();
        buf[9..12].parse().unwrap()
    }

    #[tokio::test]
    async fn unavailable_until_ready_and_again_while_draining() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = HealthCheckConfig {
            endpoint: format!("127.0.0.1:{port}"),
            ..Default::default()
        };
        let ctx = CreateContext {
            id: "health_check".parse().unwrap(),
            kind: Kind::Extension,
            pipeline: None,
            telemetry: Telemetry::new(),
            extensions: Arc::new(Vec::new()),
        };
        let ext = HealthCheckFactory.create(ctx, config).unwrap();
        ext.start().await.unwrap();
        assert_eq!(status(port, "/").await, 503, "starting");
        ext.on_ready(true);
        assert_eq!(status(port, "/").await, 200, "running");
        assert_eq!(status(port, "/other").await, 404);
        ext.on_ready(false);
        assert_eq!(status(port, "/").await, 503, "draining");
        ext.shutdown().await.unwrap();
    }

    /// `tls`: curl (a real TLS client) trusting the test CA gets the health answer over HTTPS;
    /// a plain-HTTP request to the same port gets no answer; a missing key file fails at create.
    #[tokio::test]
    async fn serves_over_tls() {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        // Distinct subjects: rcgen's default one on both would make the leaf look self-signed.
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ferrotel test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let cert = leaf.signed_by(&key, &ca).unwrap();
        let (ca_file, cert_file, key_file) = (
            dir.path().join("ca.crt"),
            dir.path().join("server.crt"),
            dir.path().join("server.key"),
        );
        std::fs::write(&ca_file, ca.pem()).unwrap();
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ctx = || CreateContext {
            id: "health_check".parse().unwrap(),
            kind: Kind::Extension,
            pipeline: None,
            telemetry: Telemetry::new(),
            extensions: Arc::new(Vec::new()),
        };
        let config: HealthCheckConfig = crate::testing::config(&format!(
            "endpoint: 127.0.0.1:{port}\ntls: {{cert_file: '{}', key_file: '{}'}}\n",
            cert_file.display(),
            key_file.display()
        ));
        let ext = HealthCheckFactory.create(ctx(), config.clone()).unwrap();
        ext.start().await.unwrap();
        ext.on_ready(true);
        let url = format!("https://localhost:{port}/");
        let out = tokio::process::Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&ca_file)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1"), &url])
            .output()
            .await
            .expect("curl runs");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(body.contains("Server available"), "{body}");
        let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            plain.read_to_end(&mut answer),
        )
        .await;
        assert!(
            !answer.starts_with(b"HTTP/1.1 200"),
            "plain HTTP must not be answered as healthy"
        );
        ext.shutdown().await.unwrap();

        let mut bad = config;
        bad.tls.as_mut().unwrap().key_file = Some("/nonexistent/server.key".into());
        let err = HealthCheckFactory
            .create(ctx(), bad)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("tls: ") && err.contains("/nonexistent/server.key"),
            "{err}"
        );
    }
}
