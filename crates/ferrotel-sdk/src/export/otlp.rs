//! The OTLP span exporter over ferrotel-otlp's client (gRPC, HTTP/protobuf, HTTP/JSON; gzip or
//! zstd; headers; TLS), with retries that honour the server's Retry-After / RetryInfo.
//!
//! The client needs a tokio runtime; the application may have none, or be inside one where
//! blocking on a future would panic. So the exporter owns a thread with a small
//! current-thread runtime, and `export` hands it the request and waits for the answer (on the
//! batch processor's thread, never the application's).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ferrotel_otlp::client::{ClientSettings, ClientTls, Compression, OtlpClient, Protocol};
use ferrotel_pdata::proto::resource::v1 as pr;
use ferrotel_pdata::{Payload, Request, Signal};

use crate::SdkError;
use crate::env::{self, Lookup};
use crate::export::{SpanExporter, encode};
use crate::resource::Resource;
use crate::span::SpanData;

/// The exporter's settings. [`OtlpExporterConfig::from_env`] applies the specification's
/// variables and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpExporterConfig {
    pub protocol: Protocol,
    /// HTTP: the full traces URL (`.../v1/traces`). gRPC: `http(s)://host:port` or `host:port`.
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    /// Per attempt (`OTEL_EXPORTER_OTLP_TIMEOUT`, default 10 s).
    pub timeout: Duration,
    pub compression: Compression,
    pub tls: ClientTls,
    /// First retry delay; doubles per attempt up to `max_backoff`, with jitter.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for OtlpExporterConfig {
    fn default() -> Self {
        OtlpExporterConfig::from_lookup(&|_| None)
    }
}

/// Reads a variable, the traces-specific one first.
fn pick(lookup: Lookup<'_>, suffix: &str) -> Option<String> {
    env::get(lookup, &format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}"))
        .or_else(|| env::get(lookup, &format!("OTEL_EXPORTER_OTLP_{suffix}")))
}

fn parse_protocol(s: &str) -> Option<Protocol> {
    match s {
        "grpc" => Some(Protocol::Grpc),
        "http/protobuf" => Some(Protocol::HttpProtobuf),
        "http/json" => Some(Protocol::HttpJson),
        _ => None,
    }
}

fn parse_compression(s: &str) -> Option<Compression> {
    match s.to_ascii_lowercase().as_str() {
        "none" | "" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

fn headers_of(lookup: Lookup<'_>, name: &str) -> Vec<(String, String)> {
    match env::get(lookup, name).map(|s| env::parse_key_values(&s)) {
        None => Vec::new(),
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            tracing::warn!(variable = name, error = %e, "headers ignored");
            Vec::new()
        }
    }
}

impl OtlpExporterConfig {
    pub fn from_env() -> Self {
        OtlpExporterConfig::from_lookup(&env::process_env)
    }

    /// The specification's rules: the traces-specific variable wins over the generic one;
    /// HTTP appends `/v1/traces` to the generic endpoint only; the default protocol is
    /// `http/protobuf`, endpoints `http://localhost:4318` (HTTP) and `http://localhost:4317`
    /// (gRPC); headers are `k=v` lists with percent-decoded values, the traces-specific ones
    /// replacing generic ones of the same name; timeouts in milliseconds.
    pub fn from_lookup(lookup: Lookup<'_>) -> Self {
        let protocol = match pick(lookup, "PROTOCOL") {
            None => Protocol::HttpProtobuf,
            Some(p) => parse_protocol(&p).unwrap_or_else(|| {
                tracing::warn!(protocol = %p, "unknown OTLP protocol, using http/protobuf");
                Protocol::HttpProtobuf
            }),
        };
        let grpc = protocol == Protocol::Grpc;
        let endpoint = match env::get(lookup, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(e) => e,
            None => match env::get(lookup, "OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) if grpc => base,
                Some(base) => format!("{}/v1/traces", base.trim_end_matches('/')),
                None if grpc => "http://localhost:4317".into(),
                None => "http://localhost:4318/v1/traces".into(),
            },
        };
        let mut headers = headers_of(lookup, "OTEL_EXPORTER_OTLP_HEADERS");
        for (k, v) in headers_of(lookup, "OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
            headers.retain(|(hk, _)| !hk.eq_ignore_ascii_case(&k));
            headers.push((k, v));
        }
        let timeout = env::get_millis(lookup, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|| env::get_millis(lookup, "OTEL_EXPORTER_OTLP_TIMEOUT"))
            .unwrap_or(Duration::from_secs(10));
        let compression = match pick(lookup, "COMPRESSION") {
            None => Compression::None,
            Some(c) => parse_compression(&c).unwrap_or_else(|| {
                tracing::warn!(compression = %c, "unsupported OTLP compression, sending uncompressed");
                Compression::None
            }),
        };
        let insecure = env::get_bool(lookup, "OTEL_EXPORTER_OTLP_TRACES_INSECURE")
            .or_else(|| env::get_bool(lookup, "OTEL_EXPORTER_OTLP_INSECURE"))
            .unwrap_or(false);
        let tls = ClientTls {
            insecure,
            ca_file: pick(lookup, "CERTIFICATE").map(PathBuf::from),
            cert_file: pick(lookup, "CLIENT_CERTIFICATE").map(PathBuf::from),
            key_file: pick(lookup, "CLIENT_KEY").map(PathBuf::from),
            ..Default::default()
        };
        OtlpExporterConfig {
            protocol,
            endpoint,
            headers,
            timeout,
            compression,
            tls,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
        }
    }

    fn client_settings(&self) -> ClientSettings {
        let mut s = ClientSettings {
            protocol: self.protocol,
            compression: self.compression,
            headers: self.headers.clone(),
            timeout: self.timeout,
            tls: self.tls.clone(),
            ..Default::default()
        };
        if self.protocol == Protocol::Grpc {
            s.endpoint = self.endpoint.clone();
        } else {
            s.signal_endpoints = HashMap::from([(Signal::Traces, self.endpoint.clone())]);
        }
        s
    }
}

struct Job {
    payload: Payload,
    deadline: Instant,
    reply: mpsc::SyncSender<Result<(), SdkError>>,
}

/// See the module documentation.
pub struct OtlpSpanExporter {
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<thread::JoinHandle<()>>,
    /// HTTP/JSON: the client encodes JSON from pdata structs, so the batch is built as those.
    json: bool,
    resource: pr::Resource,
    /// The resource's protobuf encoding (gRPC and HTTP/protobuf encode spans straight to bytes).
    resource_proto: Vec<u8>,
    schema_url: Option<String>,
    /// The size of the last request: the next one's buffer starts at it.
    last_size: usize,
}

impl OtlpSpanExporter {
    /// Starts the exporter's thread and builds the client (nothing connects before the first
    /// export). Fails on unusable settings (bad endpoint, unreadable certificate...).
    pub fn new(config: OtlpExporterConfig) -> Result<Self, SdkError> {
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), SdkError>>(1);
        let settings = config.client_settings();
        let json = config.protocol == Protocol::HttpJson;
        let worker = thread::Builder::new()
            .name("ferrotel-otlp".into())
            .spawn(move || worker(settings, config, jobs_rx, ready_tx))
            .map_err(|e| SdkError::Config(format!("cannot start the exporter thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(OtlpSpanExporter {
                jobs: Some(jobs_tx),
                worker: Some(worker),
                json,
                resource: pr::Resource::default(),
                resource_proto: Vec::new(),
                schema_url: None,
                last_size: 0,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SdkError::Config("the exporter thread stopped".into())),
        }
    }

    /// [`OtlpSpanExporter::new`] with [`OtlpExporterConfig::from_env`].
    pub fn from_env() -> Result<Self, SdkError> {
        OtlpSpanExporter::new(OtlpExporterConfig::from_env())
    }
}

fn worker(
    settings: ClientSettings,
    config: OtlpExporterConfig,
    jobs: mpsc::Receiver<Job>,
    ready: mpsc::SyncSender<Result<(), SdkError>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(SdkError::Config(format!("tokio runtime: {e}"))));
            return;
        }
    };
    let client = match rt.block_on(async { OtlpClient::new(settings) }) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(SdkError::Config(e.to_string())));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    while let Ok(job) = jobs.recv() {
        let r = rt.block_on(send_with_retry(
            &client,
            &config,
            &job.payload,
            job.deadline,
        ));
        let _ = job.reply.send(r);
    }
}

/// Sends until success, a permanent error or the deadline; waits between attempts as the
/// server asked (Retry-After / RetryInfo) or with jittered exponential backoff.
async fn send_with_retry(
    client: &OtlpClient,
    config: &OtlpExporterConfig,
    payload: &Payload,
    deadline: Instant,
) -> Result<(), SdkError> {
    let mut backoff = config.initial_backoff;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SdkError::Timeout(Duration::ZERO));
        }
        let err = match tokio::time::timeout(left, client.export(payload)).await {
            Ok(Ok(partial)) => {
                if partial.rejected > 0 {
                    tracing::warn!(rejected = partial.rejected, message = %partial.message, "the server rejected spans");
                }
                return Ok(());
            }
            Ok(Err(e)) => e,
            Err(_) => return Err(SdkError::Timeout(left)),
        };
        if !err.retryable {
            return Err(SdkError::Export(err.to_string()));
        }
        let wait = match err.retry_after {
            Some(d) => d,
            None => jitter(backoff),
        };
        if Instant::now() + wait >= deadline {
            return Err(SdkError::Export(format!("{err} (no time left to retry)")));
        }
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(config.max_backoff);
    }
}

/// 50–100 % of `d`, so clients that failed together do not retry together.
fn jitter(d: Duration) -> Duration {
    let r = crate::ids::new_span_id().to_bytes()[0];
    d / 2 + d.mul_f64(f64::from(r) / 510.0)
}

impl SpanExporter for OtlpSpanExporter {
    // The encoder writes the held attributes straight from where they are.
    fn reads_held_attributes(&self) -> bool {
        true
    }

    fn export(&mut self, batch: Vec<Box<SpanData>>, deadline: Instant) -> Result<(), SdkError> {
        if batch.is_empty() {
            return Ok(());
        }
        let Some(jobs) = &self.jobs else {
            return Err(SdkError::AlreadyShutdown);
        };
        let payload = if self.json {
            // HTTP/JSON encodes from these types.
            let request = encode::request(&self.resource, self.schema_url.as_deref(), batch);
            Payload::from_request(Request::Traces(request))
        } else {
            // Straight to protobuf: no owned copy of every string and attribute first.
            let mut out = Vec::with_capacity(self.last_size + self.last_size / 8);
            encode::proto::request(
                &mut out,
                &self.resource_proto,
                self.schema_url.as_deref(),
                &batch,
            );
            self.last_size = out.len();
            let spans = batch.len();
            // The spans' memory goes back before the request is sent.
            batch.into_iter().for_each(SpanData::free);
            // Bytes of our own encoder: no validation pass over them in release builds.
            Payload::from_encoded(Signal::Traces, out.into(), spans)
        };
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        jobs.send(Job {
            payload,
            deadline,
            reply: reply_tx,
        })
        .map_err(|_| SdkError::Export("the exporter thread stopped".into()))?;
        // The worker honours the deadline itself; the grace covers its last steps.
        let wait = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100);
        match reply_rx.recv_timeout(wait) {
            Ok(r) => r,
            Err(_) => Err(SdkError::Timeout(wait)),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = encode::resource(resource);
        self.resource_proto = encode::proto::resource(resource);
        self.schema_url = resource.schema_url().map(str::to_owned);
    }

    fn shutdown(&mut self) {
        // Closing the job channel ends the worker once its current export is done; not joined,
        // so a stalled server cannot hold shutdown past its timeout.
        self.jobs = None;
        self.worker = None;
    }
}

impl Drop for OtlpSpanExporter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::lookup_from;

    #[test]
    fn defaults_per_spec() {
        let c = OtlpExporterConfig::from_lookup(&lookup_from(&[]));
        assert_eq!(c.protocol, Protocol::HttpProtobuf);
        assert_eq!(c.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.compression, Compression::None);
        let c = OtlpExporterConfig::from_lookup(&lookup_from(&[(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "grpc",
        )]));
        assert_eq!(c.endpoint, "http://localhost:4317");
    }

    #[test]
    fn http_appends_the_signal_path_to_the_generic_endpoint_only() {
        let c = OtlpExporterConfig::from_lookup(&lookup_from(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://collector:4318/",
        )]));
        assert_eq!(c.endpoint, "http://collector:4318/v1/traces");
        let c = OtlpExporterConfig::from_lookup(&lookup_from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://other:9999/custom",
            ),
        ]));
        assert_eq!(c.endpoint, "http://other:9999/custom");
        let c = OtlpExporterConfig::from_lookup(&lookup_from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]));
        assert_eq!(c.endpoint, "http://collector:4317");
    }

    #[test]
    fn signal_specific_settings_win() {
        let c = OtlpExporterConfig::from_lookup(&lookup_from(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "3000"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,Authorization=Basic%20x"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "authorization=Bearer%20t%3D",
            ),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
        ]));
        assert_eq!(c.protocol, Protocol::HttpJson);
        assert_eq!(c.timeout, Duration::from_millis(3000));
        assert_eq!(c.compression, Compression::Zstd);
        assert_eq!(
            c.headers,
            vec![
                ("a".into(), "1".into()),
                ("authorization".into(), "Bearer t=".into())
            ]
        );
        assert!(c.tls.insecure);
        assert_eq!(c.tls.ca_file, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn invalid_values_fall_back_to_defaults() {
        let c = OtlpExporterConfig::from_lookup(&lookup_from(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
        ]));
        assert_eq!(c.protocol, Protocol::HttpProtobuf);
        assert_eq!(c.compression, Compression::None);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert!(c.headers.is_empty());
    }

    #[test]
    fn a_bad_endpoint_is_an_error_not_a_panic() {
        let c = OtlpExporterConfig {
            endpoint: "not a url".into(),
            ..Default::default()
        };
        assert!(OtlpSpanExporter::new(c).is_err());
    }
}
