//! The receiver end to end in one process: a YAML config → its jobs → one scrape of each target
//! over real HTTP(S), and the OTLP checked field by field. Targets are a recording server (what
//! a target receives: path, query, headers; what it answers, how slowly) and Debian's
//! `prometheus-node-exporter` behind its own TLS (client certificates required) and bcrypt
//! basic auth.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{Metric, NumberDataPoint, metric, number_data_point};
use ferrotel_pdata::{Payload, Request};
use ferrotel_runtime::{BoxFuture, ConsumeError, Consumer, Context};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsAcceptor;

use super::build_jobs;
use super::config::PrometheusReceiverConfig;
use super::convert::SeriesTracker;
use super::scraper::{resource_attrs, scrape_once};
use super::target::build_targets;

pub(super) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub(super) const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `build_jobs` wants the next stage; these tests read the payloads `scrape_once` returns.
struct Nowhere;

impl Consumer for Nowhere {
    fn consume(&self, _: Payload, _: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async { Ok(()) })
    }
}

/// What the recording target answers.
#[derive(Clone)]
pub(super) struct Reply {
    pub content_type: &'static str,
    pub body: Bytes,
    /// Before answering (a stalled target).
    pub delay: Duration,
}

impl Reply {
    pub fn new(content_type: &'static str, body: &str) -> Reply {
        Reply {
            content_type,
            body: Bytes::from(body.to_owned()),
            delay: Duration::ZERO,
        }
    }
}

/// One request the target received.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub uri: String,
    pub headers: http::HeaderMap,
}

/// A target on loopback (hyper's server; TLS when given an acceptor) that records requests.
pub(super) struct Recorder {
    pub addr: std::net::SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Recorder {
    pub async fn start(reply: Reply, tls: Option<TlsAcceptor>) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (reply, log, tls) = (reply.clone(), log.clone(), tls.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: http::Request<_>| {
                        let (reply, log) = (reply.clone(), log.clone());
                        async move {
                            log.lock().unwrap().push(Received {
                                uri: req.uri().to_string(),
                                headers: req.headers().clone(),
                            });
                            tokio::time::sleep(reply.delay).await;
                            let resp = http::Response::builder()
                                .header(http::header::CONTENT_TYPE, reply.content_type)
                                .body(http_body_util::Full::new(reply.body))
                                .unwrap();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    // HTTP/1.1 or h2, as ALPN picks (the scraper's client offers both).
                    let http = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(s), svc).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), svc).await;
                        }
                    }
                });
            }
        });
        Recorder { addr, received }
    }

    pub fn last(&self) -> Received {
        self.received
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the target got a request")
    }
}

/// One scrape's outcome.
pub(super) struct Scraped {
    pub req: ExportMetricsServiceRequest,
    pub error: Option<String>,
    pub took: Duration,
}

impl Scraped {
    pub fn up(&self) -> f64 {
        value(&points(&self.req, "up")[0])
    }

    /// The first metric named `name`.
    pub fn metric(&self, name: &str) -> &Metric {
        self.req
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no metric {name} in {:#?}", self.req))
    }
}

/// Scrapes each target of the config's first job `scrapes` times (one tracker per target, as
/// its scrape loop keeps); returns the last scrape of each.
pub(super) async fn scrape_n(yaml: &str, scrapes: usize) -> Vec<Scraped> {
    let cfg: PrometheusReceiverConfig =
        ferrotel_runtime::config::testdata::load(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let jobs = build_jobs(&cfg, Arc::new(Nowhere)).unwrap();
    let job = &jobs[0];
    let groups: Vec<_> = job
        .static_groups
        .iter()
        .map(|g| (g.clone(), None))
        .collect();
    let (targets, errors) = build_targets(&job.defaults, &groups);
    assert!(errors.is_empty(), "{errors:?}");
    let mut out = Vec::new();
    for t in targets {
        let (ctx, resource) = (job.target_context(&t), resource_attrs(&t));
        let mut tracker = SeriesTracker::default();
        let mut last = None;
        for _ in 0..scrapes {
            let started = Instant::now();
            let (payload, _, error) = scrape_once(job, &t, &ctx, &resource, &mut tracker).await;
            let Ok(Request::Metrics(req)) = payload.into_request() else {
                panic!("not a metrics request")
            };
            last = Some(Scraped {
                req,
                error,
                took: started.elapsed(),
            });
        }
        out.extend(last);
    }
    out
}

pub(super) async fn scrape(yaml: &str) -> Vec<Scraped> {
    scrape_n(yaml, 1).await
}

/// The number points of every metric named `name`, in order.
pub(super) fn points(req: &ExportMetricsServiceRequest, name: &str) -> Vec<NumberDataPoint> {
    req.resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .filter(|m| m.name == name)
        .flat_map(|m| match &m.data {
            Some(metric::Data::Gauge(g)) => g.data_points.clone(),
            Some(metric::Data::Sum(s)) => s.data_points.clone(),
            _ => Vec::new(),
        })
        .collect()
}

pub(super) fn value(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => f64::NAN,
    }
}

pub(super) fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|k| k.key == key)
        .and_then(|k| match k.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

pub(super) fn keys(attrs: &[KeyValue]) -> Vec<&str> {
    attrs.iter().map(|k| k.key.as_str()).collect()
}

/// A test CA, a server certificate for `server_names` and a client certificate, written to
/// `dir`.
pub(super) struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    pub fn new(dir: &Path, server_names: &[&str]) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "promrx test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: Vec<String>, cert: &str, key: &str| {
            let k = KeyPair::generate().unwrap();
            let c = CertificateParams::new(names)
                .unwrap()
                .signed_by(&k, &ca)
                .unwrap();
            std::fs::write(dir.join(cert), c.pem()).unwrap();
            std::fs::write(dir.join(key), k.serialize_pem()).unwrap();
        };
        leaf(
            server_names.iter().map(|s| s.to_string()).collect(),
            "server.crt",
            "server.key",
        );
        leaf(vec!["scraper".into()], "client.crt", "client.key");
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        Pki {
            ca: dir.join("ca.crt"),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        }
    }

    /// A TLS acceptor with the server certificate; clients must present one signed by the CA.
    pub fn acceptor(&self) -> TlsAcceptor {
        let tls = crate::server_tls::ServerTls {
            cert_file: Some(self.cert.display().to_string()),
            key_file: Some(self.key.display().to_string()),
            client_ca_file: Some(self.ca.display().to_string()),
            ..Default::default()
        };
        tls.acceptor().unwrap()
    }
}

/// Whether a Debian binary the test needs is there: with `CI` set its absence fails the test
/// (`.ci/run` installs it); otherwise the test says loudly that it skips.
pub(super) fn have_binary(path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{path} is missing and CI is set: install Debian's package (.ci/run does)"
    );
    eprintln!(
        "\n*** SKIPPED: {path} is not installed (Debian's package; .ci/run installs it) ***\n"
    );
    false
}

/// A child process killed when dropped.
pub(super) struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---- what the target receives: auth, path, params, scheme, TLS ----

#[tokio::test]
async fn authorization_headers_reach_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let t = Recorder::start(Reply::new(TEXT, "m 1\n"), None).await;
    let job = |auth: &str| {
        format!(
            "config:\n  scrape_configs:\n    - job_name: a\n      static_configs: [{{targets: [\"{}\"]}}]\n      {auth}\n",
            t.addr
        )
    };
    let header = |s: &Scraped| {
        assert_eq!(s.up(), 1.0, "{:?}", s.error);
        t.last()
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let s = scrape(&job("authorization: {credentials: tok3n}")).await;
    assert_eq!(header(&s[0]).as_deref(), Some("Bearer tok3n"));
    // credentials_file: read per scrape, trailing newline trimmed, a custom type.
    let cred = dir.path().join("cred");
    std::fs::write(&cred, "from-file\n").unwrap();
    let s = scrape(&job(&format!(
        "authorization: {{type: Token, credentials_file: {}}}",
        cred.display()
    )))
    .await;
    assert_eq!(header(&s[0]).as_deref(), Some("Token from-file"));
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "s3cret\n").unwrap();
    let s = scrape(&job(&format!(
        "basic_auth: {{username: alice, password_file: {}}}",
        pass.display()
    )))
    .await;
    // base64("alice:s3cret")
    assert_eq!(header(&s[0]).as_deref(), Some("Basic YWxpY2U6czNjcmV0"));
    let s = scrape(&job("basic_auth: {username: bob, password: \"p:w\"}")).await;
    assert_eq!(header(&s[0]).as_deref(), Some("Basic Ym9iOnA6dw=="));
    let s = scrape(&job("")).await;
    assert_eq!(header(&s[0]), None);
    // A credentials file that cannot be read fails the scrape, naming the file.
    let s = scrape(&job(
        "authorization: {credentials_file: /nonexistent/promrx-cred}",
    ))
    .await;
    assert_eq!(s[0].up(), 0.0);
    let e = s[0].error.as_deref().unwrap();
    assert!(e.contains("/nonexistent/promrx-cred"), "{e}");
}

#[tokio::test]
async fn metrics_path_params_and_scrape_headers_reach_the_target() {
    let t = Recorder::start(Reply::new(TEXT, "m 1\n"), None).await;
    let s = scrape(&format!(
        r#"
config:
  scrape_configs:
    - job_name: probe
      scrape_interval: 30s
      scrape_timeout: 7s
      metrics_path: /probe/v2
      params:
        module: [http_2xx, tcp]
        target: ["example.org/a b&c"]
      static_configs: [{{targets: ["{}"]}}]
"#,
        t.addr
    ))
    .await;
    assert_eq!(s[0].up(), 1.0, "{:?}", s[0].error);
    let r = t.last();
    let (path, query) = r.uri.split_once('?').unwrap();
    assert_eq!(path, "/probe/v2");
    assert_eq!(
        query,
        "module=http_2xx&module=tcp&target=example.org%2Fa%20b%26c"
    );
    let h = |k: &str| r.headers.get(k).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        h("x-prometheus-scrape-timeout-seconds").as_deref(),
        Some("7")
    );
    assert!(
        h("accept")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert_eq!(h("accept-encoding").as_deref(), Some("gzip"));
}

/// `scheme: https` with the job's `tls_config`: the CA, a client certificate (the target
/// requires one), `server_name` for a certificate not issued to the address scraped, and
/// `insecure_skip_verify`; each missing piece is a failed scrape (`up` 0) saying why.
#[tokio::test]
async fn https_scrapes_with_tls_config() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), &["target.test"]);
    let t = Recorder::start(Reply::new(TEXT, "over_tls 1\n"), Some(pki.acceptor())).await;
    let (ca, cert, key) = (
        pki.ca.display(),
        pki.client_cert.display(),
        pki.client_key.display(),
    );
    let job = |scheme: &str, tls: &str| {
        format!(
            "config:\n  scrape_configs:\n    - job_name: tls\n      scheme: {scheme}\n      metrics_path: /secure\n      tls_config: {{{tls}}}\n      static_configs: [{{targets: [\"{}\"]}}]\n",
            t.addr
        )
    };
    let full =
        format!("ca_file: {ca}, cert_file: {cert}, key_file: {key}, server_name: target.test");
    let s = scrape(&job("https", &full)).await;
    assert_eq!(s[0].up(), 1.0, "{:?}", s[0].error);
    assert_eq!(value(&points(&s[0].req, "over_tls")[0]), 1.0);
    // Over TLS the client may pick h2 by ALPN (an absolute URI then).
    assert!(t.last().uri.ends_with("/secure"), "{}", t.last().uri);
    let res = &s[0].req.resource_metrics[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes;
    assert_eq!(attr(res, "url.scheme"), Some("https"));
    let seen = t.received.lock().unwrap().len();

    let insecure = format!("insecure_skip_verify: true, cert_file: {cert}, key_file: {key}");
    let s = scrape(&job("https", &insecure)).await;
    assert_eq!(s[0].up(), 1.0, "{:?}", s[0].error);

    let fails = [
        // The certificate is for target.test, not 127.0.0.1.
        (
            job(
                "https",
                &format!("ca_file: {ca}, cert_file: {cert}, key_file: {key}"),
            ),
            "certificate",
        ),
        // Not signed by a CA the scraper trusts.
        (
            job(
                "https",
                &format!("cert_file: {cert}, key_file: {key}, server_name: target.test"),
            ),
            "certificate",
        ),
        // No client certificate: the target refuses the handshake.
        (
            job("https", &format!("ca_file: {ca}, server_name: target.test")),
            "",
        ),
        // Plain HTTP to a TLS port.
        (job("http", ""), ""),
    ];
    for (yaml, why) in fails {
        let s = scrape(&yaml).await;
        assert_eq!(s[0].up(), 0.0, "{yaml}");
        let e = s[0].error.as_deref().unwrap_or_else(|| panic!("{yaml}"));
        assert!(e.to_lowercase().contains(why), "{e}");
    }
    // None of the failed handshakes reached the HTTP layer (the plain one is not HTTP to it).
    assert_eq!(t.received.lock().unwrap().len(), seen + 1);
}

/// Debian's node exporter with `--web.config.file`: TLS that requires a client certificate
/// and bcrypt basic auth, as a hardened exporter runs. The right credentials scrape its real
/// metrics; a wrong password is `up` 0 with the target's 401 in the error.
#[tokio::test]
async fn node_exporter_behind_tls_and_basic_auth() {
    const NODE: &str = "/usr/bin/prometheus-node-exporter";
    if !have_binary(NODE) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), &["node.test"]);
    // Cost 4 (bcrypt's minimum): the exporter checks it on every scrape.
    let hash = bcrypt::hash("n0de-pass", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\nbasic_auth_users:\n  scraper: {hash}\n",
            pki.cert.display(),
            pki.key.display(),
            pki.ca.display()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _node = Proc(
        std::process::Command::new(NODE)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.config.file={}", web.display()))
            .args([
                "--collector.disable-defaults",
                "--collector.time",
                "--collector.uname",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "node exporter did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let job = |auth: &str| {
        format!(
            "config:\n  scrape_configs:\n    - job_name: node\n      scheme: https\n      tls_config: {{ca_file: {}, cert_file: {}, key_file: {}, server_name: node.test}}\n      {auth}\n      static_configs: [{{targets: [\"127.0.0.1:{port}\"]}}]\n",
            pki.ca.display(),
            pki.client_cert.display(),
            pki.client_key.display()
        )
    };
    let s = scrape(&job("basic_auth: {username: scraper, password: n0de-pass}")).await;
    assert_eq!(s[0].up(), 1.0, "{:?}", s[0].error);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let node_time = value(&points(&s[0].req, "node_time_seconds")[0]);
    assert!((node_time - now).abs() < 60.0, "{node_time} vs {now}");
    let uname = &points(&s[0].req, "node_uname_info")[0];
    assert!(attr(&uname.attributes, "sysname").is_some());

    for auth in [
        "basic_auth: {username: scraper, password: wrong}",
        "authorization: {credentials: n0de-pass}",
        "",
    ] {
        let s = scrape(&job(auth)).await;
        assert_eq!(s[0].up(), 0.0, "{auth}");
        let e = s[0].error.as_deref().unwrap();
        assert!(e.contains("401"), "{auth}: {e}");
        assert!(points(&s[0].req, "node_time_seconds").is_empty());
    }
}

// ---- honor_timestamps, honor_labels, scrape_timeout ----

#[tokio::test]
async fn honor_timestamps_false_uses_the_scrape_time() {
    // 2001-09-09T01:46:40Z, far from now.
    let t = Recorder::start(Reply::new(TEXT, "g 1 1000000000000\n"), None).await;
    let job = |honor: bool| {
        format!(
            "config:\n  scrape_configs:\n    - job_name: a\n      honor_timestamps: {honor}\n      static_configs: [{{targets: [\"{}\"]}}]\n",
            t.addr
        )
    };
    let s = scrape(&job(true)).await;
    assert_eq!(
        points(&s[0].req, "g")[0].time_unix_nano,
        1_000_000_000 * 1_000_000_000
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let s = scrape(&job(false)).await;
    let time = points(&s[0].req, "g")[0].time_unix_nano;
    assert!(
        time + 1_000_000 >= before && time < before + 5_000_000_000,
        "{time} vs {before}"
    );
    // The same time as up's: the scrape's.
    assert_eq!(time, points(&s[0].req, "up")[0].time_unix_nano);
}

/// A target exposing its own `job`/`instance` (a Pushgateway, a federation endpoint):
/// `honor_labels: false` keeps them as `exported_job`/`exported_instance` point attributes
/// under the target's resource; `true` keeps them as the series' own, and as everywhere else
/// job/instance become the resource (`service.name`, `service.instance.id`): the Go receiver
/// groups such series into a resource per job/instance pair. Series without them and `up`
/// stay with the target's resource.
#[tokio::test]
async fn honor_labels_decides_whose_job_and_instance() {
    let body = "# TYPE pushed_total counter\n\
        pushed_total{job=\"batch\",instance=\"worker-7:9091\",k=\"v\"} 5\n\
        pushed_total{job=\"batch\",k=\"w\"} 6\n\
        own 1\n";
    let t = Recorder::start(Reply::new(TEXT, body), None).await;
    for relabel in [
        "",
        "metric_relabel_configs: [{action: labeldrop, regex: nothing}]",
    ] {
        let job = |honor: bool| {
            format!(
                "config:\n  scrape_configs:\n    - job_name: pushgw\n      honor_labels: {honor}\n      {relabel}\n      static_configs: [{{targets: [\"{}\"], labels: {{env: prod}}}}]\n",
                t.addr
            )
        };
        let target_inst = t.addr.to_string();
        let s = scrape(&job(false)).await;
        assert_eq!(s[0].req.resource_metrics.len(), 1, "{relabel}");
        let ps = points(&s[0].req, "pushed_total");
        assert_eq!(
            attr(&ps[0].attributes, "exported_job"),
            Some("batch"),
            "{relabel}"
        );
        assert_eq!(
            attr(&ps[0].attributes, "exported_instance"),
            Some("worker-7:9091")
        );
        assert_eq!(attr(&ps[0].attributes, "job"), None);

        let s = scrape_n(&job(true), 2).await;
        let by_resource: Vec<(String, String, Vec<String>)> = s[0]
            .req
            .resource_metrics
            .iter()
            .map(|rm| {
                let res = &rm.resource.as_ref().unwrap().attributes;
                let mut names: Vec<String> = rm
                    .scope_metrics
                    .iter()
                    .flat_map(|sm| &sm.metrics)
                    .map(|m| m.name.clone())
                    .collect();
                names.sort();
                names.dedup();
                (
                    attr(res, "service.name").unwrap().to_owned(),
                    attr(res, "service.instance.id").unwrap().to_owned(),
                    names,
                )
            })
            .collect();
        assert!(
            by_resource.contains(&(
                "batch".into(),
                "worker-7:9091".into(),
                vec!["pushed_total".into()]
            )),
            "{relabel}: {by_resource:?}"
        );
        // job honored, instance the target's.
        assert!(
            by_resource.contains(&(
                "batch".into(),
                target_inst.clone(),
                vec!["pushed_total".into()]
            )),
            "{by_resource:?}"
        );
        let own = by_resource
            .iter()
            .find(|r| r.0 == "pushgw")
            .unwrap_or_else(|| panic!("{by_resource:?}"));
        assert_eq!(own.1, target_inst);
        assert!(own.2.contains(&"own".to_string()) && own.2.contains(&"up".to_string()));
        for rm in &s[0].req.resource_metrics {
            let res = &rm.resource.as_ref().unwrap().attributes;
            if attr(res, "service.instance.id") == Some("worker-7:9091") {
                assert_eq!(attr(res, "server.address"), Some("worker-7"));
                assert_eq!(attr(res, "server.port"), Some("9091"));
            }
            for m in rm.scope_metrics.iter().flat_map(|sm| &sm.metrics) {
                if let Some(metric::Data::Sum(sum)) = &m.data {
                    for p in &sum.data_points {
                        // Neither job nor instance as attributes; the target's other labels stay.
                        let mut k = keys(&p.attributes);
                        k.sort();
                        assert_eq!(k, ["env", "k"], "{relabel}");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn a_stalled_target_times_out_at_scrape_timeout() {
    let mut reply = Reply::new(TEXT, "late 1\n");
    reply.delay = Duration::from_secs(30);
    let t = Recorder::start(reply, None).await;
    let s = scrape(&format!(
        "config:\n  scrape_configs:\n    - job_name: slow\n      scrape_interval: 5s\n      scrape_timeout: 400ms\n      static_configs: [{{targets: [\"{}\"]}}]\n",
        t.addr
    ))
    .await;
    assert_eq!(s[0].up(), 0.0);
    let e = s[0].error.as_deref().unwrap();
    assert!(e.contains("timed out after 400ms"), "{e}");
    assert!(
        s[0].took >= Duration::from_millis(400) && s[0].took < Duration::from_millis(1500),
        "{:?}",
        s[0].took
    );
    let duration = value(&points(&s[0].req, "scrape_duration_seconds")[0]);
    assert!((0.4..1.5).contains(&duration), "{duration}");
    assert!(points(&s[0].req, "late").is_empty());
}

// ---- OpenMetrics through the receiver ----

/// What the spec's "Prometheus metric points to OTLP" says of OpenMetrics, checked on the
/// receiver's output: exemplars (trace/span id bytes, value, time, the other labels as
/// filtered attributes), `# UNIT` → the UCUM unit, `_created` → the start time (kept on the
/// next scrape), info and stateset → non-monotonic cumulative sums with `prometheus.type`,
/// `target` info → resource attributes. Both conversion paths (the fast one, and the reference
/// one metric relabeling takes) give the same.
#[tokio::test]
async fn openmetrics_conversions() {
    let body = "# TYPE rpc_seconds counter\n\
# UNIT rpc_seconds seconds\n\
# HELP rpc_seconds Time spent serving.\n\
rpc_seconds_total{code=\"200\"} 17.5 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",span_id=\"b7ad6b7169203331\",user=\"u1\"} 0.25 1700000000.5\n\
rpc_seconds_created{code=\"200\"} 1600000000.25\n\
# TYPE lat_seconds histogram\n\
# UNIT lat_seconds seconds\n\
lat_seconds_bucket{le=\"0.1\"} 1 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.05\n\
lat_seconds_bucket{le=\"+Inf\"} 3\n\
lat_seconds_sum 1.5\n\
lat_seconds_count 3\n\
lat_seconds_created 1650000000\n\
# TYPE mem_bytes gauge\n\
# UNIT mem_bytes bytes\n\
mem_bytes 42\n\
# TYPE build info\n\
build_info{version=\"1.2.3\"} 1\n\
# TYPE door stateset\n\
door{door=\"open\"} 1\n\
door{door=\"closed\"} 0\n\
# TYPE target info\n\
target_info{region=\"eu\"} 1\n\
# EOF\n";
    let t = Recorder::start(Reply::new(OPENMETRICS, body), None).await;
    let s_ = 1_000_000_000u64;
    for relabel in [
        "",
        "metric_relabel_configs: [{action: labeldrop, regex: nothing}]",
    ] {
        let s = scrape_n(
            &format!(
                "config:\n  scrape_configs:\n    - job_name: om\n      {relabel}\n      static_configs: [{{targets: [\"{}\"]}}]\n",
                t.addr
            ),
            2,
        )
        .await;
        let s = &s[0];
        assert_eq!(s.up(), 1.0, "{:?}", s.error);
        let meta = |m: &Metric| attr(&m.metadata, "prometheus.type").map(str::to_owned);

        let rpc = s.metric("rpc_seconds_total");
        assert_eq!(
            (rpc.unit.as_str(), rpc.description.as_str()),
            ("s", "Time spent serving.")
        );
        assert_eq!(meta(rpc).as_deref(), Some("counter"));
        let Some(metric::Data::Sum(sum)) = &rpc.data else {
            panic!("{rpc:?}")
        };
        assert!(sum.is_monotonic && sum.aggregation_temporality == 2);
        let p = &sum.data_points[0];
        assert_eq!(value(p), 17.5);
        // _created, also on the second scrape.
        assert_eq!(p.start_time_unix_nano, 1_600_000_000 * s_ + 250_000_000);
        let e = &p.exemplars[0];
        assert_eq!(
            e.trace_id.as_ref(),
            [
                0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80,
                0x31, 0x9c
            ]
        );
        assert_eq!(
            e.span_id.as_ref(),
            [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]
        );
        assert_eq!(
            e.value,
            Some(ferrotel_pdata::proto::metrics::v1::exemplar::Value::AsDouble(0.25))
        );
        assert_eq!(e.time_unix_nano, 1_700_000_000 * s_ + 500_000_000);
        assert_eq!(keys(&e.filtered_attributes), ["user"]);
        assert_eq!(attr(&e.filtered_attributes, "user"), Some("u1"));

        let lat = s.metric("lat_seconds");
        assert_eq!(lat.unit, "s");
        let Some(metric::Data::Histogram(h)) = &lat.data else {
            panic!("{lat:?}")
        };
        let p = &h.data_points[0];
        assert_eq!(p.start_time_unix_nano, 1_650_000_000 * s_);
        assert_eq!(
            (p.count, p.sum, &p.bucket_counts[..]),
            (3, Some(1.5), &[1, 2][..])
        );
        assert_eq!(p.exemplars.len(), 1);
        assert_eq!(p.exemplars[0].trace_id.len(), 16);
        assert!(p.exemplars[0].span_id.is_empty());
        // No exemplar timestamp: none made up.
        assert_eq!(p.exemplars[0].time_unix_nano, 0);

        assert_eq!(s.metric("mem_bytes").unit, "By");

        // The info family `build` (sample `build_info`) is named `build`, as the Go receiver
        // names it (its metadata lookup trims `_info`).
        for (name, kind, want) in [
            ("build", "info", vec![("version", "1.2.3", 1.0)]),
            (
                "door",
                "stateset",
                vec![("door", "open", 1.0), ("door", "closed", 0.0)],
            ),
        ] {
            let m = s.metric(name);
            assert_eq!(meta(m).as_deref(), Some(kind));
            let Some(metric::Data::Sum(sum)) = &m.data else {
                panic!("{m:?}")
            };
            assert!(
                !sum.is_monotonic && sum.aggregation_temporality == 2,
                "{name}"
            );
            let got: Vec<_> = sum
                .data_points
                .iter()
                .map(|p| {
                    (
                        p.attributes[0].key.as_str(),
                        attr(&p.attributes, &p.attributes[0].key).unwrap(),
                        value(p),
                    )
                })
                .collect();
            assert_eq!(got, want, "{name}");
        }
        let res = &s.req.resource_metrics[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert_eq!(attr(res, "region"), Some("eu"), "{relabel}");
        assert!(points(&s.req, "target_info").is_empty());
        assert!(points(&s.req, "target").is_empty());
    }
}

// ---- a runaway target ----

/// A target streaming 100 MB without a Content-Length: the scrape stops reading at
/// `body_size_limit` (64 MiB by default, 1 MiB here), fails with `up` 0 saying so, and the
/// target sees the connection dropped long before its end — memory stays bounded by the limit.
#[tokio::test]
async fn a_100_mb_exposition_stops_at_body_size_limit() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const TOTAL: u64 = 100 << 20;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let w = w.clone();
            tokio::spawn(async move {
                let mut req = [0u8; 4096];
                let _ = s.read(&mut req).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // ~1.2 M series of 88 bytes.
                let mut chunk = String::new();
                for i in 0..744 {
                    chunk.push_str(&format!(
                        "node_some_long_metric_name_seconds_total{{cpu=\"{i:05}\",mode=\"user\",extra=\"abcdefgh\"}} 12\n"
                    ));
                }
                let mut sent = 0u64;
                while sent < TOTAL {
                    if s.write_all(chunk.as_bytes()).await.is_err() {
                        break;
                    }
                    sent += chunk.len() as u64;
                    w.store(sent, Ordering::SeqCst);
                }
            });
        }
    });
    for (limit, want) in [("", 64u64 << 20), ("body_size_limit: 1MiB", 1 << 20)] {
        written.store(0, Ordering::SeqCst);
        let s = scrape(&format!(
            "config:\n  scrape_configs:\n    - job_name: big\n      scrape_interval: 30s\n      scrape_timeout: 20s\n      {limit}\n      static_configs: [{{targets: [\"{addr}\"]}}]\n"
        ))
        .await;
        assert_eq!(s[0].up(), 0.0);
        let e = s[0].error.as_deref().unwrap();
        assert!(e.contains(&format!("body_size_limit {want}")), "{e}");
        // Give the writer a moment to notice the closed connection.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = written.load(Ordering::SeqCst);
        assert!(
            sent < want + (16 << 20),
            "{limit}: the target wrote {sent} bytes"
        );
        assert!(s[0].took < Duration::from_secs(10), "{:?}", s[0].took);
    }
}
