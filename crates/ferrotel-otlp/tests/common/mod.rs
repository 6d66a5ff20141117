//! Shared test helpers: a recording handler, sample payloads, servers on ephemeral ports, and a
//! raw HTTP/1.1 client for requests no well-behaved client would send.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrotel_otlp::server::{
    ErrorKind, ExportError, ExportHandler, ExportRequest, GrpcServerSettings, HttpServerSettings,
    PartialSuccess, ServerHandle, start_grpc, start_http,
};
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::{common, logs, metrics, profiles, resource, trace};
use ferrotel_pdata::{Payload, Request, Signal};
use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the recording handler answers.
#[derive(Clone, Default)]
pub enum Mode {
    #[default]
    Accept,
    Partial(i64, String),
    Fail(ExportError),
    /// Sleeps before accepting (graceful shutdown tests).
    Slow(Duration),
}

#[derive(Default)]
pub struct Recorder {
    pub got: Mutex<Vec<ExportRequest>>,
    pub mode: Mutex<Mode>,
    pub refuse_admission: Mutex<Option<ExportError>>,
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Recorder::default())
    }
    pub fn set(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }
    pub fn take(&self) -> Vec<ExportRequest> {
        std::mem::take(&mut *self.got.lock().unwrap())
    }
    pub fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

impl ExportHandler for Recorder {
    fn export(
        &self,
        req: ExportRequest,
    ) -> BoxFuture<'static, Result<PartialSuccess, ExportError>> {
        self.got.lock().unwrap().push(req);
        let mode = self.mode.lock().unwrap().clone();
        Box::pin(async move {
            match mode {
                Mode::Accept => Ok(PartialSuccess::default()),
                Mode::Partial(n, m) => Ok(PartialSuccess {
                    rejected: n,
                    message: m,
                }),
                Mode::Fail(e) => Err(e),
                Mode::Slow(d) => {
                    tokio::time::sleep(d).await;
                    Ok(PartialSuccess::default())
                }
            }
        })
    }

    fn admit(&self, _signal: Signal) -> Result<(), ExportError> {
        match &*self.refuse_admission.lock().unwrap() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

fn kv(k: &str, v: &str) -> common::v1::KeyValue {
    common::v1::KeyValue {
        key: k.into(),
        value: Some(common::v1::AnyValue {
            value: Some(common::v1::any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn res() -> Option<resource::v1::Resource> {
    Some(resource::v1::Resource {
        attributes: vec![kv("service.name", "test")],
        ..Default::default()
    })
}

/// A request of `signal` with `n` items.
pub fn request(signal: Signal, n: usize) -> Request {
    match signal {
        Signal::Traces => Request::Traces(ExportTraceServiceRequest {
            resource_spans: vec![trace::v1::ResourceSpans {
                resource: res(),
                scope_spans: vec![trace::v1::ScopeSpans {
                    spans: (0..n)
                        .map(|i| trace::v1::Span {
                            trace_id: vec![1; 16].into(),
                            span_id: (i as u64 + 1).to_be_bytes().to_vec().into(),
                            name: format!("span-{i}"),
                            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                            end_time_unix_nano: 1_700_000_000_000_000_100 + i as u64,
                            attributes: vec![kv("k", "v")],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
        Signal::Metrics => Request::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![metrics::v1::ResourceMetrics {
                resource: res(),
                scope_metrics: vec![metrics::v1::ScopeMetrics {
                    metrics: vec![metrics::v1::Metric {
                        name: "m".into(),
                        data: Some(metrics::v1::metric::Data::Gauge(metrics::v1::Gauge {
                            data_points: (0..n)
                                .map(|i| metrics::v1::NumberDataPoint {
                                    time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                                    value: Some(metrics::v1::number_data_point::Value::AsInt(
                                        i as i64,
                                    )),
                                    ..Default::default()
                                })
                                .collect(),
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
        Signal::Logs => Request::Logs(ExportLogsServiceRequest {
            resource_logs: vec![logs::v1::ResourceLogs {
                resource: res(),
                scope_logs: vec![logs::v1::ScopeLogs {
                    log_records: (0..n)
                        .map(|i| logs::v1::LogRecord {
                            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                            body: Some(common::v1::AnyValue {
                                value: Some(common::v1::any_value::Value::StringValue(format!(
                                    "log line {i}"
                                ))),
                            }),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
        Signal::Profiles => Request::Profiles(ExportProfilesServiceRequest {
            resource_profiles: vec![profiles::v1development::ResourceProfiles {
                resource: res(),
                scope_profiles: vec![profiles::v1development::ScopeProfiles {
                    profiles: (0..n)
                        .map(|i| profiles::v1development::Profile {
                            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

/// Protobuf bytes of a request of `signal` with `n` items.
pub fn proto(signal: Signal, n: usize) -> Bytes {
    request(signal, n).encode_proto()
}

/// An encoded payload, as a receiver would produce it.
pub fn payload(signal: Signal, n: usize) -> Payload {
    Payload::from_proto(signal, proto(signal, n)).expect("valid sample")
}

pub fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub async fn http_server(
    h: Arc<Recorder>,
    f: impl FnOnce(&mut HttpServerSettings),
) -> ServerHandle {
    let mut s = HttpServerSettings {
        endpoint: local(),
        ..Default::default()
    };
    f(&mut s);
    start_http(s, h).await.expect("start http")
}

pub async fn grpc_server(
    h: Arc<Recorder>,
    f: impl FnOnce(&mut GrpcServerSettings),
) -> ServerHandle {
    let mut s = GrpcServerSettings {
        endpoint: local(),
        ..Default::default()
    };
    f(&mut s);
    start_grpc(s, h).await.expect("start grpc")
}

pub fn unavailable(secs: u64) -> ExportError {
    ExportError::unavailable("pipeline is full", Some(Duration::from_secs(secs)))
}

pub fn error(kind: ErrorKind, msg: &str) -> ExportError {
    ExportError::new(kind, msg)
}

/// A raw HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `head` (request line and headers, without the blank line; `Connection: close` is
/// added) and `body` over a fresh connection and reads the whole response.
pub async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> RawResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("{head}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    // The server may answer (413, 401, ...) and close before taking the whole body.
    let _ = s.write_all(body).await;
    read_response(&mut s).await
}

pub async fn read_response(s: &mut tokio::net::TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> RawResponse {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(p) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..p]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[p + 2..p + 2 + n]);
        b = &b[p + 2 + n + 2..];
    }
}

/// A raw POST of `body` to `path`.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    extra_headers: &str,
    body: &[u8],
) -> RawResponse {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}",
        body.len()
    );
    if !extra_headers.is_empty() {
        head.push_str("\r\n");
        head.push_str(extra_headers);
    }
    raw(addr, &head, body).await
}

/// `data` compressed with the standard gzip (fastest level) and zstd (level 1) encoders.
pub fn gzip_and_zstd(data: &[u8]) -> [(&'static str, Vec<u8>); 2] {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    [
        ("gzip", e.finish().unwrap()),
        ("zstd", zstd::bulk::compress(data, 1).unwrap()),
    ]
}
