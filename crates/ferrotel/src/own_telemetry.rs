//! Sends the collector's own telemetry (`service::telemetry` periodic metric readers and log
//! processors) with ferrotel-otlp's clients: the runtime builds the payloads and keeps the
//! schedule behind its `TelemetrySender` hook, the transport lives here.

use std::sync::Arc;

use ferrotel_otlp::client::{ClientSettings, ClientTls, Compression, OtlpClient, Protocol};
use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::config::telemetry::{OtlpExporterConfig, OtlpProtocol};
use ferrotel_runtime::telemetry::export::{SenderFactory, TelemetrySender};
use futures::future::BoxFuture;

struct Sender(Arc<OtlpClient>);

impl TelemetrySender for Sender {
    fn send(&self, payload: Payload) -> BoxFuture<'static, Result<(), String>> {
        let client = self.0.clone();
        Box::pin(async move {
            client
                .export(&payload)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Client settings for one exporter: an HTTP endpoint with a path is the full URL of the
/// signal (as the Go SDK's `WithURLPath`); without one, `/v1/metrics` or `/v1/logs` is added.
pub fn client_settings(cfg: &OtlpExporterConfig, signal: Signal) -> ClientSettings {
    let mut s = ClientSettings {
        protocol: match cfg.protocol {
            OtlpProtocol::Grpc => Protocol::Grpc,
            OtlpProtocol::HttpProtobuf => Protocol::HttpProtobuf,
            OtlpProtocol::HttpJson => Protocol::HttpJson,
        },
        endpoint: cfg.endpoint.clone(),
        compression: if cfg.gzip {
            Compression::Gzip
        } else {
            Compression::None
        },
        headers: cfg.headers.clone(),
        timeout: cfg.timeout,
        tls: ClientTls {
            insecure: cfg.insecure,
            ca_file: cfg.certificate.as_ref().map(Into::into),
            cert_file: cfg.client_certificate.as_ref().map(Into::into),
            key_file: cfg.client_key.as_ref().map(Into::into),
            ..Default::default()
        },
        ..Default::default()
    };
    if s.protocol != Protocol::Grpc {
        let after_scheme = cfg.endpoint.split_once("://").map_or("", |(_, r)| r);
        if after_scheme
            .find('/')
            .is_some_and(|i| i + 1 < after_scheme.len())
        {
            s.signal_endpoints.insert(signal, cfg.endpoint.clone());
        }
    }
    s
}

/// The factory handed to the runtime.
pub fn sender_factory() -> SenderFactory {
    Arc::new(|cfg: &OtlpExporterConfig, signal: Signal| {
        let client = OtlpClient::new(client_settings(cfg, signal))
            .map_err(|e| format!("exporter {}: {e}", cfg.endpoint))?;
        Ok(Arc::new(Sender(Arc::new(client))) as Arc<dyn TelemetrySender>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg(protocol: OtlpProtocol, endpoint: &str) -> OtlpExporterConfig {
        OtlpExporterConfig {
            protocol,
            endpoint: endpoint.into(),
            headers: vec![("x-k".into(), "v".into())],
            gzip: true,
            timeout: Duration::from_secs(3),
            insecure: false,
            certificate: None,
            client_certificate: None,
            client_key: None,
        }
    }

    #[test]
    fn http_path_is_the_full_url_and_a_bare_host_gets_the_signal_path() {
        let s = client_settings(
            &cfg(OtlpProtocol::HttpProtobuf, "http://h:4318"),
            Signal::Metrics,
        );
        assert!(s.signal_endpoints.is_empty());
        assert_eq!(s.endpoint, "http://h:4318");
        let s = client_settings(
            &cfg(OtlpProtocol::HttpProtobuf, "http://h:4318/"),
            Signal::Logs,
        );
        assert!(s.signal_endpoints.is_empty());
        let s = client_settings(
            &cfg(OtlpProtocol::HttpJson, "https://h/custom/logs"),
            Signal::Logs,
        );
        assert_eq!(s.signal_endpoints[&Signal::Logs], "https://h/custom/logs");
        let s = client_settings(&cfg(OtlpProtocol::Grpc, "http://h:4317/x"), Signal::Metrics);
        assert!(s.signal_endpoints.is_empty());
        assert_eq!(s.compression, Compression::Gzip);
        assert_eq!(s.timeout, Duration::from_secs(3));
        assert_eq!(s.headers, [("x-k".to_string(), "v".to_string())]);
    }
}
