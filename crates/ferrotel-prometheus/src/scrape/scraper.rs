//! Scrape loops: one tokio task per target (jittered start, timeout, bounded body), and the
//! per-job task that owns them and follows file_sd changes.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use ferrotel_otlp::client::ClientTls;
use ferrotel_pdata::payload::metric_point_count;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_pdata::proto::metrics::v1::{
    DataPointFlags, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric,
    number_data_point,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::{Payload, Request};
use ferrotel_runtime::{ConsumerRef, Context};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinHandle;

use super::config::{Authorization, BasicAuth, StaticConfig, TlsConfig};
use super::convert::{Converted, ScopeKey, SeriesTracker, TargetContext, convert, kv};
use super::fast::{FastScrape, encode_scrape};
use super::parse::{ACCEPT, Format, parse, parse_with};
use super::relabel::Rule;
pub(crate) use super::resources::resource_attrs;
use super::resources::split_by_job_instance;
use super::target::{JobDefaults, Target, build_targets, expand_glob, read_file_sd};

/// The scope of every metric the receiver produces. The Go receiver's import path, so
/// pipelines that select on it keep working when switching collectors.
pub const SCOPE_NAME: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver";

pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Everything a job's scrape loops share.
pub struct Job {
    pub defaults: JobDefaults,
    pub static_groups: Vec<StaticConfig>,
    pub file_sd: Vec<(Vec<String>, Duration)>,
    pub client: HttpClient,
    pub auth: Auth,
    pub body_limit: u64,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub trim_metric_suffixes: bool,
    pub sample_limit: u64,
    pub metric_relabel: Vec<Rule>,
    pub next: ConsumerRef,
}

impl Job {
    /// What the conversion needs of one of this job's targets.
    pub(crate) fn target_context(&self, target: &Target) -> TargetContext {
        TargetContext {
            labels: target.labels.clone(),
            honor_labels: self.honor_labels,
            honor_timestamps: self.honor_timestamps,
            trim_metric_suffixes: self.trim_metric_suffixes,
            sample_limit: self.sample_limit,
            metric_relabel: self.metric_relabel.clone(),
        }
    }
}

/// How requests authenticate; files are read per scrape so rotated secrets are picked up.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Basic(BasicAuth),
    Authorization(Authorization),
}

impl Auth {
    fn header(&self) -> Result<Option<String>, String> {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("reading {p}: {e}"))
        };
        Ok(match self {
            Auth::None => None,
            Auth::Basic(b) => {
                let pass = match (&b.password, &b.password_file) {
                    (_, Some(f)) => read(f)?,
                    (Some(p), None) => p.clone(),
                    (None, None) => String::new(),
                };
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{pass}", b.username));
                Some(format!("Basic {token}"))
            }
            Auth::Authorization(a) => {
                let cred = match (&a.credentials, &a.credentials_file) {
                    (_, Some(f)) => read(f)?,
                    (Some(c), None) => c.clone(),
                    (None, None) => String::new(),
                };
                Some(format!("{} {cred}", a.kind))
            }
        })
    }
}

/// The client for one job (its TLS settings).
pub fn http_client(tls: &TlsConfig, scheme: &str, timeout: Duration) -> Result<HttpClient, String> {
    let t = ClientTls {
        insecure: false,
        insecure_skip_verify: tls.insecure_skip_verify,
        ca_file: tls.ca_file.as_ref().map(PathBuf::from),
        cert_file: tls.cert_file.as_ref().map(PathBuf::from),
        key_file: tls.key_file.as_ref().map(PathBuf::from),
        server_name_override: tls.server_name.clone(),
        min_version: tls.min_version.as_deref().map(|v| match v {
            "TLS13" => "1.3".to_string(),
            _ => "1.2".to_string(),
        }),
    };
    let connector = ferrotel_otlp::client::connector(&t, scheme == "https", timeout, false)
        .map_err(|e| e.to_string())?;
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs a job until aborted: (re)builds its targets from static and file_sd groups, one scrape
/// task per target, started and stopped as discovery changes.
pub async fn run_job(job: Arc<Job>) {
    let mut running: HashMap<u64, TargetTask> = HashMap::new();
    let mut last_files: Option<Vec<(PathBuf, Option<SystemTime>, u64)>> = None;
    let mut last_full = Instant::now();
    let refresh = job
        .file_sd
        .iter()
        .map(|(_, r)| *r)
        .min()
        .unwrap_or(Duration::MAX);
    loop {
        // file_sd: re-read when a file's mtime or size changes, and every refresh_interval.
        let files: Vec<PathBuf> = job
            .file_sd
            .iter()
            .flat_map(|(patterns, _)| patterns.iter().flat_map(|p| expand_glob(p)))
            .collect();
        let stamp: Vec<_> = files
            .iter()
            .map(|f| {
                let md = std::fs::metadata(f).ok();
                (
                    f.clone(),
                    md.as_ref().and_then(|m| m.modified().ok()),
                    md.map_or(0, |m| m.len()),
                )
            })
            .collect();
        let changed = last_files.as_ref() != Some(&stamp) || last_full.elapsed() >= refresh;
        if changed {
            last_full = Instant::now();
            last_files = Some(stamp);
            let mut groups: Vec<(StaticConfig, Option<String>)> = job
                .static_groups
                .iter()
                .map(|g| (g.clone(), None))
                .collect();
            for f in &files {
                match read_file_sd(f) {
                    Ok(gs) => {
                        groups.extend(gs.into_iter().map(|g| (g, Some(f.display().to_string()))))
                    }
                    Err(e) => tracing::warn!(job = %job.defaults.job_name, "file_sd: {e}"),
                }
            }
            let (targets, errors) = build_targets(&job.defaults, &groups);
            for (t, e) in errors {
                tracing::warn!(job = %job.defaults.job_name, target = %t, "invalid target: {e}");
            }
            let mut wanted: HashMap<u64, Target> =
                targets.into_iter().map(|t| (t.key(), t)).collect();
            running.retain(|k, task| {
                let keep = wanted.remove(k).is_some();
                if !keep {
                    // Gone from discovery: the loop marks its series stale and ends, as
                    // Prometheus does for a target that disappears.
                    task.retire();
                }
                keep
            });
            for (k, t) in wanted {
                tracing::debug!(job = %job.defaults.job_name, target = %t.url, "scraping");
                let (stop, stopped) = tokio::sync::oneshot::channel();
                running.insert(
                    k,
                    TargetTask {
                        stop: Some(stop),
                        handle: tokio::spawn(scrape_loop(job.clone(), t, stopped)),
                    },
                );
            }
        }
        if job.file_sd.is_empty() {
            // Static targets only: nothing will change; park until aborted (dropping
            // `running` then aborts the target tasks).
            let _running = running;
            std::future::pending::<()>().await;
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A target's scrape task: aborted when dropped (the receiver shuts down), unless retired.
struct TargetTask {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: JoinHandle<()>,
}

impl TargetTask {
    /// Asks the loop to send staleness markers for its series and end.
    fn retire(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TargetTask {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.handle.abort();
        }
    }
}

/// Prometheus's jitter: a stable offset within the interval derived from the target, so
/// targets spread over the interval and keep their phase across restarts.
fn offset(t: &Target, interval: Duration) -> Duration {
    let mut h = DefaultHasher::new();
    t.url.hash(&mut h);
    let ms = interval.as_millis().max(1) as u64;
    let now = now_ms() as u64;
    let phase = h.finish() % ms;
    Duration::from_millis((phase + ms - now % ms) % ms)
}

async fn scrape_loop(
    job: Arc<Job>,
    target: Target,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let interval = job.defaults.interval;
    let ctx = job.target_context(&target);
    let resource = resource_attrs(&target);
    let mut tracker = SeriesTracker::default();
    // The last scrape's resource (with target_info), for the staleness markers at the end.
    let mut last_resource: Option<Resource> = None;
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + offset(&target, interval),
        interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            retired = &mut stopped => {
                if retired.is_ok() && last_resource.is_some() {
                    let now_ns = (now_ms().max(0) as u64).saturating_mul(1_000_000);
                    let (mut metrics, scoped) = tracker.all_stale(now_ns);
                    metrics.extend(report_metrics(&target, None, now_ns));
                    let resource = last_resource.take().unwrap_or_default();
                    let mut req = request(resource, metrics, scoped);
                    split_by_job_instance(&mut req, &target);
                    send(&job, &target, req).await;
                }
                return;
            }
        }
        let (payload, res, _) = scrape_once(&job, &target, &ctx, &resource, &mut tracker).await;
        last_resource = Some(res);
        send_payload(&job, &target, payload).await;
    }
}

async fn send(job: &Job, target: &Target, req: ExportMetricsServiceRequest) {
    send_payload(job, target, Payload::from_request(Request::Metrics(req))).await;
}

async fn send_payload(job: &Job, target: &Target, payload: Payload) {
    if let Err(e) = job.next.consume(payload, Context::default()).await {
        tracing::warn!(job = %job.defaults.job_name, target = %target.url,
            "pipeline refused scraped metrics: {e}");
    }
}

/// `up` and the `scrape_*` metrics of one scrape; `None`: staleness markers for them.
fn report_metrics(target: &Target, values: Option<[f64; 5]>, now_ns: u64) -> Vec<Metric> {
    let attrs: Vec<KeyValue> = target
        .labels
        .iter()
        .filter(|(k, _)| *k != "job" && *k != "instance")
        .map(|(k, v)| kv(k, v))
        .collect();
    let names = [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ];
    names
        .iter()
        .enumerate()
        .map(|(i, name)| Metric {
            name: (*name).into(),
            description: String::new(),
            unit: if *name == "scrape_duration_seconds" {
                "s".into()
            } else {
                String::new()
            },
            metadata: vec![kv("prometheus.type", "gauge")],
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint {
                    attributes: attrs.clone(),
                    time_unix_nano: now_ns,
                    value: values.map(|v| number_data_point::Value::AsDouble(v[i])),
                    flags: if values.is_none() {
                        DataPointFlags::NoRecordedValueMask as u32
                    } else {
                        0
                    },
                    ..Default::default()
                }],
            })),
        })
        .collect()
}

fn receiver_scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

/// The request of one target's metrics: the receiver's scope, then scopes named by
/// `otel_scope_name`/`otel_scope_version` labels.
fn request(
    resource: Resource,
    metrics: Vec<Metric>,
    scoped: Vec<(ScopeKey, Vec<Metric>)>,
) -> ExportMetricsServiceRequest {
    let mut scope_metrics = vec![ScopeMetrics {
        scope: Some(receiver_scope()),
        metrics,
        schema_url: String::new(),
    }];
    scope_metrics.extend(
        scoped
            .into_iter()
            .map(|((name, version), metrics)| ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name,
                    version,
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }),
    );
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource),
            scope_metrics,
            schema_url: String::new(),
        }],
    }
}

/// What a fetch returned.
struct Fetched {
    body: Bytes,
    format: Format,
}

async fn fetch(job: &Job, target: &Target) -> Result<Fetched, String> {
    let mut req = http::Request::get(&target.url)
        .header(http::header::ACCEPT, ACCEPT)
        // As Prometheus: a 12 MB exposition is ~1 MB gzipped, and exporters gzip when asked.
        .header(http::header::ACCEPT_ENCODING, "gzip")
        .header(http::header::USER_AGENT, "ferrotel")
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", job.defaults.timeout.as_secs_f64()),
        );
    if let Some(h) = job.auth.header()? {
        req = req.header(http::header::AUTHORIZATION, h);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("building the request: {e}"))?;
    let resp = job.client.request(req).await.map_err(|e| {
        // hyper-util's error hides the cause in its source chain.
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg = format!("{msg}: {s}");
            src = s.source();
        }
        msg
    })?;
    if resp.status() != http::StatusCode::OK {
        return Err(format!("server returned HTTP status {}", resp.status()));
    }
    let format = Format::from_content_type(
        resp.headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let gzip = match resp.headers().get(http::header::CONTENT_ENCODING) {
        None => false,
        Some(enc) if enc.as_bytes().eq_ignore_ascii_case(b"gzip") => true,
        Some(enc) if enc.as_bytes().eq_ignore_ascii_case(b"identity") => false,
        Some(enc) => {
            return Err(format!(
                "unsupported Content-Encoding {:?} (gzip was asked for)",
                String::from_utf8_lossy(enc.as_bytes())
            ));
        }
    };
    let limit = job.body_limit;
    if let Some(len) = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return Err(format!(
            "body of {len} bytes exceeds body_size_limit {limit}"
        ));
    }
    let body = Limited::new(
        resp.into_body(),
        usize::try_from(limit).unwrap_or(usize::MAX),
    )
    .collect()
    .await
    .map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() {
            format!("body exceeds body_size_limit {limit} bytes")
        } else {
            format!("reading the body: {e}")
        }
    })?
    .to_bytes();
    let body = if gzip { gunzip(&body, limit)? } else { body };
    Ok(Fetched { body, format })
}

/// Decompresses a gzip body, bounded by `body_size_limit` as Prometheus bounds the decoded
/// size (a small body can inflate a thousandfold).
fn gunzip(body: &[u8], limit: u64) -> Result<Bytes, String> {
    use std::io::Read;
    let mut out = Vec::with_capacity(body.len().saturating_mul(8).min(limit as usize));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("decompressing the gzip body: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "decompressed body exceeds body_size_limit {limit} bytes"
        ));
    }
    Ok(Bytes::from(out))
}

/// Bodies the fast path takes: its arenas index with `u32`, and hold at most about two
/// bodies' series texts and attributes.
const FAST_BODY_MAX: usize = 1 << 30;

/// What a scrape's samples became: encoded request bytes (the fast path) or pdata metrics
/// (metric relabeling, or a failed scrape's staleness points).
pub enum Scraped {
    Encoded(FastScrape),
    Decoded(Converted),
}

impl Scraped {
    /// Samples scraped, after relabeling, series added; resource attributes from target_info.
    fn counts(&self) -> ([u64; 3], &[KeyValue]) {
        match self {
            Scraped::Encoded(f) => (
                [f.samples_scraped, f.samples_post_relabel, f.series_added],
                &f.resource_attrs,
            ),
            Scraped::Decoded(c) => (
                [c.samples_scraped, c.samples_post_relabel, c.series_added],
                &c.resource_attrs,
            ),
        }
    }

    /// The payload of these metrics plus `extra` (the receiver's own) under `resource`.
    /// `own_pairs`: the target whose series may carry a job/instance of their own
    /// (`honor_labels`, metric relabeling); those go to resources of their own.
    pub fn into_payload(
        self,
        extra: Vec<Metric>,
        resource: Resource,
        own_pairs: Option<&Target>,
    ) -> Payload {
        let mut req = match self {
            Scraped::Encoded(f) => {
                let items = f.points + extra.iter().map(metric_point_count).sum::<usize>();
                let bytes = f.finish(&extra, &resource, &receiver_scope());
                let payload = Payload::from_encoded(ferrotel_pdata::Signal::Metrics, bytes, items);
                if own_pairs.is_none() {
                    return payload;
                }
                // Splitting needs the structs: decoded only for such targets. The fast path's
                // own bytes decode; were they not to, they go on as they are.
                match payload.to_request() {
                    Ok(Request::Metrics(req)) => req,
                    _ => return payload,
                }
            }
            Scraped::Decoded(mut c) => {
                c.metrics.extend(extra);
                request(resource, c.metrics, c.scoped)
            }
        };
        if let Some(t) = own_pairs {
            split_by_job_instance(&mut req, t);
        }
        Payload::from_request(Request::Metrics(req))
    }
}

/// Parses and converts one body: the encoding fast path without metric relabeling, the pdata
/// conversion with it.
pub fn convert_body(
    body: &[u8],
    format: Format,
    ctx: &TargetContext,
    tracker: &mut SeriesTracker,
    scrape_ms: i64,
) -> Result<Scraped, String> {
    let parsed = |e| format!("parsing the exposition: {e}");
    if ctx.metric_relabel.is_empty() && body.len() < FAST_BODY_MAX {
        let cache = tracker.fast();
        let exp = parse_with(body, format, Some(&mut |s| cache.lookup(s))).map_err(parsed)?;
        encode_scrape(&exp, ctx, cache, scrape_ms)
            .map(Scraped::Encoded)
            .map_err(|e| e.to_string())
    } else {
        let exp = parse(body, format).map_err(parsed)?;
        convert(&exp, ctx, tracker, scrape_ms)
            .map(Scraped::Decoded)
            .map_err(|e| e.to_string())
    }
}

/// One scrape: fetch, parse, convert, plus `up` and the `scrape_*` metrics. A failure gives
/// `up` 0, staleness points for everything the target exposed before, and a log line naming
/// the target (and the line, for a parse error). Returns the payload, its resource and the
/// error of a failed scrape.
pub(crate) async fn scrape_once(
    job: &Job,
    target: &Target,
    ctx: &TargetContext,
    resource: &[KeyValue],
    tracker: &mut SeriesTracker,
) -> (Payload, Resource, Option<String>) {
    let started = Instant::now();
    let scrape_ms = now_ms();
    let fetched = tokio::time::timeout(job.defaults.timeout, fetch(job, target))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "scrape timed out after {:?} (scrape_timeout)",
                job.defaults.timeout
            ))
        });
    let result = fetched.and_then(|f| convert_body(&f.body, f.format, ctx, tracker, scrape_ms));
    let now_ns = (scrape_ms.max(0) as u64).saturating_mul(1_000_000);
    let (scraped, up, error) = match result {
        Ok(s) => (s, 1.0, None),
        Err(e) => {
            tracing::warn!(job = %job.defaults.job_name, target = %target.url, "scrape failed: {e}");
            let (metrics, scoped) = tracker.all_stale(now_ns);
            let c = Converted {
                metrics,
                scoped,
                ..Default::default()
            };
            (Scraped::Decoded(c), 0.0, Some(e))
        }
    };
    let ([scraped_n, post, added], res_attrs) = scraped.counts();
    let duration = started.elapsed().as_secs_f64();
    let report = report_metrics(
        target,
        Some([up, duration, scraped_n as f64, post as f64, added as f64]),
        now_ns,
    );
    let mut attributes = resource.to_vec();
    for a in res_attrs {
        if !attributes.iter().any(|r| r.key == a.key) {
            attributes.push(a.clone());
        }
    }
    let resource = Resource {
        attributes,
        ..Default::default()
    };
    let own_pairs = (ctx.honor_labels || !ctx.metric_relabel.is_empty()).then_some(target);
    let payload = scraped.into_payload(report, resource.clone(), own_pairs);
    (payload, resource, error)
}
