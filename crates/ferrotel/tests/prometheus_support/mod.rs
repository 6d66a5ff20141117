//! Shared by the tests that run a real Prometheus (Debian's `prometheus`, on loopback with a
//! generated config and a temporary TSDB) beside ferrotel: starting it, querying its HTTP API,
//! plain HTTP GETs, a test CA.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::*;
use ferrotel_pdata::proto::resource::v1::Resource;
use serde_json::Value;

use crate::interop_support::wait_for;

/// The password [`WEB_USER`] has on a [`Prometheus::start_secured`] server.
pub const WEB_PASSWORD: &str = "ferrotel-pw";
pub const WEB_USER: &str = "writer";
/// bcrypt (cost 4, the least Prometheus takes) of [`WEB_PASSWORD`]: Prometheus's web config
/// holds hashes only.
const WEB_PASSWORD_BCRYPT: &str = "$2b$04$pzzsPBtC60YXsajFyYvMi.gXV3IwHtPhBw5LpRU5Gvjs89O1.jG9y";

/// A Prometheus server; killed when dropped.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    /// Set for a server behind TLS and basic auth: its API is read with curl.
    ca: Option<PathBuf>,
}

impl Prometheus {
    pub fn start(dir: &Path, config: &str, port: u16) -> Prometheus {
        Self::start_with(dir, config, port, &[])
    }

    /// Serving https with `cert`/`key` and requiring basic auth ([`WEB_USER`],
    /// [`WEB_PASSWORD`]) on every endpoint, remote write included (`--web.config.file`).
    pub fn start_secured(
        dir: &Path,
        config: &str,
        port: u16,
        (ca, cert, key): (&Path, &Path, &Path),
    ) -> Prometheus {
        let web = dir.join("web.yml");
        std::fs::write(
            &web,
            format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {WEB_USER}: {WEB_PASSWORD_BCRYPT}\n",
                cert.display(),
                key.display()
            ),
        )
        .unwrap();
        let flag = format!("--web.config.file={}", web.display());
        Self::spawn(dir, config, port, &[&flag], Some(ca.to_owned()))
    }

    pub fn start_with(dir: &Path, config: &str, port: u16, flags: &[&str]) -> Prometheus {
        Self::spawn(dir, config, port, flags, None)
    }

    fn spawn(
        dir: &Path,
        config: &str,
        port: u16,
        flags: &[&str],
        ca: Option<PathBuf>,
    ) -> Prometheus {
        let bin = std::env::var_os("PROMETHEUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
        assert!(
            bin.exists(),
            "{} is missing: apt-get install -y prometheus (or set PROMETHEUS)",
            bin.display()
        );
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        let p = Prometheus { child, addr, ca };
        wait_for(Duration::from_secs(30), "Prometheus ready", || {
            p.api("/-/ready").is_some_and(|(s, _)| s == 200)
        });
        p
    }

    /// A GET of its API: plain, or with curl over https with the credentials.
    pub fn api(&self, path: &str) -> Option<(u16, String)> {
        let Some(ca) = &self.ca else {
            return get(self.addr, path);
        };
        let out = Command::new("curl")
            .args(["-s", "--max-time", "10", "--cacert"])
            .arg(ca)
            .args(["-u", &format!("{WEB_USER}:{WEB_PASSWORD}")])
            .args(["-w", "\n%{http_code}"])
            .arg(format!("https://{}{path}", self.addr))
            .output()
            .expect("curl (apt-get install -y curl)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n')?;
        Some((status.trim().parse().ok()?, body.to_owned()))
    }

    /// `/api/v1/query` → (labels, value) per series.
    pub fn query(&self, expr: &str, time: Option<f64>) -> Vec<(BTreeMap<String, String>, f64)> {
        let mut path = format!("/api/v1/query?query={}", urlencode(expr));
        if let Some(t) = time {
            path.push_str(&format!("&time={t:.3}"));
        }
        let (status, body) = self.api(&path).expect("query Prometheus");
        assert_eq!(status, 200, "{expr}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let labels = r["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                (labels, r["value"][1].as_str().unwrap().parse().unwrap())
            })
            .collect()
    }

    /// The single value of `expr`, waiting up to 30 s for it to exist.
    pub fn value(&self, expr: &str) -> f64 {
        let mut got = Vec::new();
        wait_for(
            Duration::from_secs(30),
            &format!("Prometheus to have {expr}"),
            || {
                got = self.query(expr, None);
                !got.is_empty()
            },
        );
        assert_eq!(got.len(), 1, "{expr}: {got:?}");
        got[0].1
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain HTTP/1.0 GET: (status, body).
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    get_accept(addr, path, "*/*").map(|(status, _, body)| (status, body))
}

/// A plain HTTP/1.0 GET with an `Accept` header: (status, content type, body).
pub fn get_accept(addr: SocketAddr, path: &str, accept: &str) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    Some((status, content_type, body.to_owned()))
}

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A counter, a gauge and a histogram of service `svc`, instance `inst1`, at `t`.
pub fn otlp_metrics(t: u64) -> ExportMetricsServiceRequest {
    let start = t - 60_000_000_000;
    let number = |v: f64, attrs: Vec<KeyValue>| NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let metric = |name: &str, unit: &str, data| Metric {
        name: name.into(),
        description: format!("{name} for the test"),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "svc"),
                    kv("service.instance.id", "inst1"),
                    kv("host.name", "h1"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "prom-test".into(),
                    ..Default::default()
                }),
                metrics: vec![
                    metric(
                        "test.requests",
                        "",
                        metric::Data::Sum(Sum {
                            data_points: vec![number(42.0, vec![kv("method", "GET")])],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        }),
                    ),
                    metric(
                        "test.temperature",
                        "Cel",
                        metric::Data::Gauge(Gauge {
                            data_points: vec![number(21.5, vec![])],
                        }),
                    ),
                    metric(
                        "test.latency",
                        "s",
                        metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                start_time_unix_nano: start,
                                time_unix_nano: t,
                                count: 6,
                                sum: Some(7.5),
                                bucket_counts: vec![1, 2, 3],
                                explicit_bounds: vec![0.1, 1.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// An HTTP endpoint that answers every request 204 and keeps each request's head (request
/// line and headers, names lower-cased): what a client sent, for headers no real peer checks.
pub fn header_recorder() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut r = BufReader::new(conn);
            let (mut head, mut len) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let line = match line.split_once(':') {
                    Some((k, v)) => format!("{}:{v}", k.to_ascii_lowercase()),
                    None => line,
                };
                if let Some(v) = line.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            seen.lock().unwrap().push(head);
            let _ = r
                .get_mut()
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    (port, heads)
}
