//! `service::telemetry`: the collector's own logs, metrics and resource, in the schema the Go
//! Collector takes from go.opentelemetry.io/contrib/otelconf (v0.3.0): metric `readers` (`pull`
//! Prometheus endpoints, `periodic` OTLP pushes), log `processors` (`batch`, `simple` with an
//! OTLP exporter), zap's log `sampling`, and `resource` attributes. Every error is collected.

use std::net::SocketAddr;
use std::time::Duration;

use super::node::{Node, Value};
use super::{ConfigError, duration, parse_endpoint};

/// The Go Collector's default pull endpoint (`localhost:8888`).
pub const DEFAULT_PULL: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
    8888,
);

/// How an OTLP exporter of the collector's own telemetry sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

/// `exporter: {otlp: {...}}` of a periodic metric reader or a log processor.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpExporterConfig {
    pub protocol: OtlpProtocol,
    /// With its scheme: `http://` (plaintext) or `https://`; an endpoint written without one
    /// gets `https://`, or `http://` when `insecure: true` (as the Go Collector normalizes it).
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    /// `gzip`, or none.
    pub gzip: bool,
    /// One export's limit (`timeout` in ms, default 10 s).
    pub timeout: Duration,
    pub insecure: bool,
    /// `certificate`, `client_certificate`, `client_key`: PEM files.
    pub certificate: Option<String>,
    pub client_certificate: Option<String>,
    pub client_key: Option<String>,
}

/// `metrics::readers[]::periodic`.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodicReader {
    /// `interval` (ms, default 60 s): time between pushes.
    pub interval: Duration,
    /// `timeout` (ms, default 30 s): limit of one push.
    pub timeout: Duration,
    pub exporter: OtlpExporterConfig,
}

/// zap's sampling: per `tick`, the first `initial` records with the same level and message are
/// logged, then every `thereafter`-th (none when 0).
#[derive(Debug, Clone, PartialEq)]
pub struct LogSampling {
    pub tick: Duration,
    pub initial: u64,
    pub thereafter: u64,
}

/// Where console log lines go (`output_paths`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    Stderr,
    Stdout,
    Both,
    /// `output_paths: []`: only the log processors get records.
    Nowhere,
}

/// `logs::processors[]`: `batch` or `simple`, each with one OTLP exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct LogProcessor {
    /// `simple` sends each record at once; `batch` every `schedule_delay` or when
    /// `max_export_batch_size` records wait.
    pub batch: bool,
    pub schedule_delay: Duration,
    pub export_timeout: Duration,
    pub max_queue_size: usize,
    pub max_export_batch_size: usize,
    pub exporter: OtlpExporterConfig,
}

/// Log settings of the collector itself (`service::telemetry::logs`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogsTelemetry {
    /// debug, info, warn, error.
    pub level: String,
    /// console or json.
    pub encoding: String,
    /// On by default, as in the Go Collector (tick 10 s, initial 10, thereafter 100).
    pub sampling: Option<LogSampling>,
    pub output: LogOutput,
    pub processors: Vec<LogProcessor>,
}

/// Metric settings of the collector itself (`service::telemetry::metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsTelemetry {
    /// none, basic, normal, detailed; `none` turns every reader off.
    pub level: String,
    /// Prometheus endpoints (`pull` readers and the deprecated `address`); default
    /// 127.0.0.1:8888 when no reader is configured.
    pub pull: Vec<SocketAddr>,
    pub periodic: Vec<PeriodicReader>,
}

/// `service::telemetry`.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    pub logs: LogsTelemetry,
    pub metrics: MetricsTelemetry,
    /// `resource` over the defaults (service.name, service.version, service.instance.id), in
    /// config order; `None` removes an attribute.
    pub resource: Vec<(String, Option<String>)>,
    pub resource_schema_url: Option<String>,
    /// `traces` was configured: ferrotel records no spans of its own, so it only warns.
    pub traces_configured: bool,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            logs: LogsTelemetry {
                level: "info".into(),
                encoding: "console".into(),
                sampling: Some(LogSampling {
                    tick: Duration::from_secs(10),
                    initial: 10,
                    thereafter: 100,
                }),
                output: LogOutput::Stderr,
                processors: Vec::new(),
            },
            metrics: MetricsTelemetry {
                level: "normal".into(),
                pull: vec![DEFAULT_PULL],
                periodic: Vec::new(),
            },
            resource: Vec::new(),
            resource_schema_url: None,
            traces_configured: false,
        }
    }
}

fn err(path: &str, message: impl Into<String>, node: &Node) -> ConfigError {
    ConfigError::new(path, message).with_location(node.location.clone())
}

fn scalar_string(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str { value, .. } => Some(value.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The entries of a mapping; an error (and nothing) for anything else but null.
fn entries<'a>(node: &'a Node, path: &str, errors: &mut Vec<ConfigError>) -> &'a [(String, Node)] {
    match &node.value {
        Value::Map(m) => m,
        Value::Null => &[],
        _ => {
            errors.push(err(path, "expected a mapping", node));
            &[]
        }
    }
}

fn string(node: &Node, path: &str, errors: &mut Vec<ConfigError>) -> Option<String> {
    match &node.value {
        Value::Str { value, .. } => Some(value.clone()),
        _ => {
            errors.push(err(path, "expected a string", node));
            None
        }
    }
}

fn boolean(node: &Node, path: &str, errors: &mut Vec<ConfigError>) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        _ => {
            errors.push(err(path, "expected true or false", node));
            None
        }
    }
}

/// A non-negative integer (a count, or milliseconds).
fn count(node: &Node, path: &str, errors: &mut Vec<ConfigError>) -> Option<u64> {
    match &node.value {
        Value::Int(i) if *i >= 0 => Some(*i as u64),
        Value::Int(i) => {
            errors.push(err(path, format!("must not be negative, got {i}"), node));
            None
        }
        _ => {
            errors.push(err(path, "expected a non-negative integer", node));
            None
        }
    }
}

/// Milliseconds as the SDK reads them (an integer; 0 means the default).
fn millis(node: &Node, path: &str, default: Duration, errors: &mut Vec<ConfigError>) -> Duration {
    match &node.value {
        Value::Int(0) => default,
        Value::Int(ms) if *ms > 0 => Duration::from_millis(*ms as u64),
        _ => {
            let got = scalar_string(node).unwrap_or_else(|| "a non-scalar".into());
            errors.push(err(
                path,
                format!("expected milliseconds as a non-negative integer, got {got}"),
                node,
            ));
            default
        }
    }
}

pub(super) fn parse_telemetry(
    node: &Node,
    out: &mut TelemetryConfig,
    errors: &mut Vec<ConfigError>,
) {
    for (key, value) in entries(node, "service::telemetry", errors) {
        let path = format!("service::telemetry::{key}");
        match key.as_str() {
            "logs" => parse_logs(value, &path, &mut out.logs, errors),
            "metrics" => parse_metrics(value, &path, &mut out.metrics, errors),
            "resource" => parse_resource(value, &path, out, errors),
            "traces" => {
                for (k, v) in entries(value, &path, errors) {
                    match k.as_str() {
                        // ferrotel records no spans of its own: accepted, nothing to export.
                        "level" | "propagators" | "processors" | "sampler" | "limits" => {
                            out.traces_configured |= !v.is_null()
                        }
                        _ => errors.push(err(
                            &format!("{path}::{k}"),
                            "unknown key (expected level, propagators, processors, sampler, limits)",
                            v,
                        )),
                    }
                }
            }
            _ => errors.push(err(
                &path,
                "unknown key (expected logs, metrics, resource, traces)",
                value,
            )),
        }
    }
}

fn parse_logs(node: &Node, path: &str, out: &mut LogsTelemetry, errors: &mut Vec<ConfigError>) {
    for (k, v) in entries(node, path, errors) {
        let p = format!("{path}::{k}");
        match k.as_str() {
            "level" => {
                let s = scalar_string(v).unwrap_or_default().to_ascii_lowercase();
                if ["debug", "info", "warn", "error"].contains(&s.as_str()) {
                    out.level = s;
                } else {
                    errors.push(err(
                        &p,
                        format!("invalid level {s:?} (debug, info, warn, error)"),
                        v,
                    ));
                }
            }
            "encoding" => {
                let s = scalar_string(v).unwrap_or_default().to_ascii_lowercase();
                if ["console", "json"].contains(&s.as_str()) {
                    out.encoding = s;
                } else {
                    errors.push(err(
                        &p,
                        format!("invalid encoding {s:?} (console, json)"),
                        v,
                    ));
                }
            }
            "sampling" => parse_sampling(v, &p, &mut out.sampling, errors),
            "output_paths" => {
                if let Some(o) = output_paths(v, &p, errors) {
                    out.output = o;
                }
            }
            // zap's own write errors: ferrotel has none to report; only the standard streams
            // are accepted so a file path is not silently ignored.
            "error_output_paths" => {
                output_paths(v, &p, errors);
            }
            "processors" => match &v.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(lp) = parse_log_processor(item, &format!("{p}[{i}]"), errors) {
                            out.processors.push(lp);
                        }
                    }
                }
                Value::Null => {}
                _ => errors.push(err(&p, "expected a list of processors", v)),
            },
            // Accepted for compatibility, no effect: Go runtime and zap caller/stack details,
            // fields of the zap console logger, and zap's resource switch.
            "development"
            | "disable_caller"
            | "disable_stacktrace"
            | "initial_fields"
            | "disable_zap_resource" => {}
            _ => errors.push(err(&p, "unknown key", v)),
        }
    }
}

/// Merges over the current (default) sampling, as the Go Collector's config decoding does.
fn parse_sampling(
    node: &Node,
    path: &str,
    out: &mut Option<LogSampling>,
    errors: &mut Vec<ConfigError>,
) {
    let mut enabled = out.is_some();
    let mut s = out.clone().unwrap_or(LogSampling {
        tick: Duration::from_secs(10),
        initial: 10,
        thereafter: 100,
    });
    if node.is_null() {
        // `sampling:` with no value: Go reads a nil config, i.e. no sampling.
        *out = None;
        return;
    }
    for (k, v) in entries(node, path, errors) {
        let p = format!("{path}::{k}");
        match k.as_str() {
            "enabled" => enabled = boolean(v, &p, errors).unwrap_or(enabled),
            "tick" => match scalar_string(v).map(|t| duration::parse_duration(&t)) {
                Some(Ok(d)) => s.tick = d,
                Some(Err(e)) => errors.push(err(&p, e, v)),
                None => errors.push(err(&p, "expected a duration such as 10s", v)),
            },
            "initial" => s.initial = count(v, &p, errors).unwrap_or(s.initial),
            "thereafter" => s.thereafter = count(v, &p, errors).unwrap_or(s.thereafter),
            _ => errors.push(err(
                &p,
                "unknown key (expected enabled, tick, initial, thereafter)",
                v,
            )),
        }
    }
    *out = enabled.then_some(s);
}

fn output_paths(node: &Node, path: &str, errors: &mut Vec<ConfigError>) -> Option<LogOutput> {
    let Value::Seq(items) = &node.value else {
        errors.push(err(path, "expected a list such as [stderr]", node));
        return None;
    };
    let (mut stderr, mut stdout, mut ok) = (false, false, true);
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some("stderr") => stderr = true,
            Some("stdout") => stdout = true,
            _ => {
                ok = false;
                errors.push(err(
                    &format!("{path}[{i}]"),
                    "ferrotel writes its logs only to stderr or stdout (files are not supported)",
                    item,
                ));
            }
        }
    }
    ok.then_some(match (stderr, stdout) {
        (true, true) => LogOutput::Both,
        (true, false) => LogOutput::Stderr,
        (false, true) => LogOutput::Stdout,
        (false, false) => LogOutput::Nowhere,
    })
}

/// The single key of a one-of mapping (`{pull: ...}`, `{otlp: ...}`); an error naming what was
/// found otherwise.
fn one_of<'a>(
    node: &'a Node,
    path: &str,
    what: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<(&'a str, &'a Node)> {
    let map = match &node.value {
        Value::Map(m) => m.as_slice(),
        Value::Null => &[],
        _ => {
            errors.push(err(path, "expected a mapping", node));
            return None;
        }
    };
    if map.len() != 1 {
        let names: Vec<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
        let found = if names.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({})", names.len(), names.join(", "))
        };
        errors.push(err(
            path,
            format!("exactly one {what} expected, found {found}"),
            node,
        ));
        return None;
    }
    Some((map[0].0.as_str(), &map[0].1))
}

fn parse_metrics(
    node: &Node,
    path: &str,
    out: &mut MetricsTelemetry,
    errors: &mut Vec<ConfigError>,
) {
    let mut readers: Option<(Vec<SocketAddr>, Vec<PeriodicReader>)> = None;
    let mut address = None;
    let mut readers_node = node;
    for (k, v) in entries(node, path, errors) {
        let p = format!("{path}::{k}");
        match k.as_str() {
            "level" => {
                let s = scalar_string(v).unwrap_or_default().to_ascii_lowercase();
                if ["none", "basic", "normal", "detailed"].contains(&s.as_str()) {
                    out.level = s;
                } else {
                    errors.push(err(
                        &p,
                        format!("invalid level {s:?} (none, basic, normal, detailed)"),
                        v,
                    ));
                }
            }
            // Deprecated in Go for `readers`; still one more Prometheus endpoint here.
            "address" => match scalar_string(v).map(|s| parse_endpoint(&s)) {
                Some(Ok(a)) => address = Some(a),
                Some(Err(e)) => errors.push(err(&p, e, v)),
                None => errors.push(err(&p, "expected host:port", v)),
            },
            "readers" => {
                readers_node = v;
                readers = Some(parse_readers(v, &p, errors));
            }
            // Only honoured at level detailed in Go; ferrotel's series have no views to apply.
            "views" => {}
            _ => errors.push(err(
                &p,
                "unknown key (expected level, readers, address, views)",
                v,
            )),
        }
    }
    // Configured readers replace the default Prometheus endpoint, as in Go.
    if let Some((pull, periodic)) = readers {
        out.pull = pull;
        out.periodic = periodic;
        if let Some(a) = address {
            if !out.pull.contains(&a) {
                out.pull.push(a);
            }
        } else if out.pull.is_empty() && out.periodic.is_empty() && out.level != "none" {
            errors.push(err(
                &format!("{path}::readers"),
                "collector telemetry metrics reader should exist when metric level is not none",
                readers_node,
            ));
        }
    } else if let Some(a) = address {
        out.pull = vec![a];
    }
    if out.level == "none" {
        out.pull.clear();
        out.periodic.clear();
    }
}

fn parse_readers(
    node: &Node,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> (Vec<SocketAddr>, Vec<PeriodicReader>) {
    let (mut pull, mut periodic) = (Vec::new(), Vec::new());
    let items = match &node.value {
        Value::Seq(items) => items.as_slice(),
        Value::Null => &[],
        _ => {
            errors.push(err(path, "expected a list of readers", node));
            return (pull, periodic);
        }
    };
    for (i, r) in items.iter().enumerate() {
        let rp = format!("{path}[{i}]");
        // A reader is one of pull/periodic, next to its optional SDK settings.
        let mut kind = None;
        for (k, v) in entries(r, &rp, errors) {
            match k.as_str() {
                "pull" | "periodic" if kind.is_some() => errors.push(err(
                    &format!("{rp}::{k}"),
                    "a reader is either pull or periodic, not both",
                    v,
                )),
                "pull" | "periodic" => kind = Some((k.as_str(), v)),
                // SDK options with no counterpart here (ferrotel's series are fixed).
                "producers" | "cardinality_limits" => {}
                _ => errors.push(err(
                    &format!("{rp}::{k}"),
                    format!("unknown reader kind {k:?} (expected pull or periodic)"),
                    v,
                )),
            }
        }
        match kind {
            Some(("pull", v)) => {
                if let Some(a) = parse_pull(v, &format!("{rp}::pull"), errors) {
                    if pull.contains(&a) {
                        errors.push(err(
                            &rp,
                            format!("{a} is already a pull reader's endpoint"),
                            r,
                        ));
                    } else {
                        pull.push(a);
                    }
                }
            }
            Some((_, v)) => {
                if let Some(p) = parse_periodic(v, &format!("{rp}::periodic"), errors) {
                    periodic.push(p);
                }
            }
            None if matches!(r.value, Value::Map(_) | Value::Null) => {
                errors.push(err(&rp, "a reader needs pull or periodic", r))
            }
            None => {}
        }
    }
    (pull, periodic)
}

fn parse_pull(node: &Node, path: &str, errors: &mut Vec<ConfigError>) -> Option<SocketAddr> {
    let mut prom = None;
    for (k, v) in entries(node, path, errors) {
        let p = format!("{path}::{k}");
        match k.as_str() {
            "exporter" => {
                let (name, e) = one_of(v, &p, "exporter", errors)?;
                if name == "prometheus" {
                    prom = Some(e);
                } else {
                    errors.push(err(
                        &format!("{p}::{name}"),
                        format!("unknown pull exporter {name:?} (ferrotel serves prometheus)"),
                        e,
                    ));
                }
            }
            "producers" | "cardinality_limits" => {}
            _ => errors.push(err(&p, "unknown key (expected exporter)", v)),
        }
    }
    let Some(prom) = prom else {
        errors.push(err(path, "exporter is required", node));
        return None;
    };
    let ppath = format!("{path}::exporter::prometheus");
    let (mut host, mut port) = ("127.0.0.1".to_string(), "8888".to_string());
    for (k, v) in entries(prom, &ppath, errors) {
        let p = format!("{ppath}::{k}");
        match k.as_str() {
            "host" => host = string(v, &p, errors).unwrap_or(host),
            "port" => port = count(v, &p, errors).map(|n| n.to_string()).unwrap_or(port),
            // Name shaping of Go's Prometheus exporter: ferrotel's names are fixed (as with
            // the Collector's defaults, all true).
            "without_units"
            | "without_type_suffix"
            | "without_scope_info"
            | "with_resource_constant_labels"
            | "translation_strategy" => {}
            _ => errors.push(err(&p, "unknown key (expected host, port)", v)),
        }
    }
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    match parse_endpoint(&format!("{host}:{port}")) {
        Ok(a) => Some(a),
        Err(e) => {
            errors.push(err(&ppath, e, prom));
            None
        }
    }
}

fn parse_periodic(
    node: &Node,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<PeriodicReader> {
    let mut interval = Duration::from_secs(60);
    let mut timeout = Duration::from_secs(30);
    let mut exporter = None;
    let mut seen_exporter = false;
    for (k, v) in entries(node, path, errors) {
        let p = format!("{path}::{k}");
        match k.as_str() {
            "interval" => interval = millis(v, &p, interval, errors),
            "timeout" => timeout = millis(v, &p, timeout, errors),
            "exporter" => {
                seen_exporter = true;
                exporter = push_exporter(v, &p, errors);
            }
            "producers" | "cardinality_limits" => {}
            _ => errors.push(err(
                &p,
                "unknown key (expected interval, timeout, exporter)",
                v,
            )),
        }
    }
    if !seen_exporter {
        errors.push(err(
            &format!("{path}::exporter"),
            "exactly one exporter expected, found none",
            node,
        ));
    }
    Some(PeriodicReader {
        interval,
        timeout,
        exporter: exporter?,
    })
}

/// `exporter: {otlp: {...}}`; `console` is part of the schema but not implemented here.
fn push_exporter(
    node: &Node,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<OtlpExporterConfig> {
    let (name, e) = one_of(node, path, "exporter", errors)?;
    let p = format!("{path}::{name}");
    match name {
        "otlp" => parse_otlp(e, &p, errors),
        "console" => {
            errors.push(err(
                &p,
                "the console exporter is not supported by ferrotel (use otlp)",
                e,
            ));
            None
        }
        _ => {
            errors.push(err(
                &p,
                format!("unknown exporter {name:?} (expected otlp)"),
                e,
            ));
            None
        }
    }
}

fn parse_log_processor(
    node: &Node,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<LogProcessor> {
    let (kind, body) = one_of(node, path, "processor", errors)?;
    let path = format!("{path}::{kind}");
    let batch = match kind {
        "batch" => true,
        "simple" => false,
        _ => {
            errors.push(err(
                &path,
                format!("unknown processor {kind:?} (expected batch or simple)"),
                body,
            ));
            return None;
        }
    };
    // The SDK's batch defaults.
    let mut lp = LogProcessor {
        batch,
        schedule_delay: Duration::from_millis(1000),
        export_timeout: Duration::from_millis(30_000),
        max_queue_size: 2048,
        max_export_batch_size: 512,
        exporter: OtlpExporterConfig {
            protocol: OtlpProtocol::Grpc,
            endpoint: String::new(),
            headers: Vec::new(),
            gzip: false,
            timeout: Duration::from_secs(10),
            insecure: false,
            certificate: None,
            client_certificate: None,
            client_key: None,
        },
    };
    let mut exporter = None;
    let mut seen_exporter = false;
    for (k, v) in entries(body, &path, errors) {
        let p = format!("{path}::{k}");
        match (k.as_str(), batch) {
            ("exporter", _) => {
                seen_exporter = true;
                exporter = push_exporter(v, &p, errors);
            }
            ("schedule_delay", true) => lp.schedule_delay = millis(v, &p, lp.schedule_delay, errors),
            ("export_timeout", true) => lp.export_timeout = millis(v, &p, lp.export_timeout, errors),
            ("max_queue_size", true) => {
                lp.max_queue_size = count(v, &p, errors).filter(|n| *n > 0).map_or(lp.max_queue_size, |n| n as usize)
            }
            ("max_export_batch_size", true) => {
                lp.max_export_batch_size = count(v, &p, errors)
                    .filter(|n| *n > 0)
                    .map_or(lp.max_export_batch_size, |n| n as usize)
            }
            (_, true) => errors.push(err(
                &p,
                "unknown key (expected exporter, schedule_delay, export_timeout, max_queue_size, max_export_batch_size)",
                v,
            )),
            (_, false) => errors.push(err(&p, "unknown key (expected exporter)", v)),
        }
    }
    if !seen_exporter {
        errors.push(err(
            &format!("{path}::exporter"),
            "exactly one exporter expected, found none",
            body,
        ));
    }
    if lp.max_export_batch_size > lp.max_queue_size {
        errors.push(err(
            &path,
            "max_export_batch_size must not exceed max_queue_size",
            body,
        ));
    }
    lp.exporter = exporter?;
    Some(lp)
}

fn parse_otlp(
    node: &Node,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<OtlpExporterConfig> {
    let mut protocol = None;
    let mut endpoint = None;
    let mut cfg = OtlpExporterConfig {
        protocol: OtlpProtocol::Grpc,
        endpoint: String::new(),
        headers: Vec::new(),
        gzip: false,
        timeout: Duration::from_secs(10),
        insecure: false,
        certificate: None,
        client_certificate: None,
        client_key: None,
    };
    let before = errors.len();
    for (k, v) in entries(node, path, errors) {
        let p = format!("{path}::{k}");
        match k.as_str() {
            "protocol" => match v.as_str() {
                Some("grpc") => protocol = Some(OtlpProtocol::Grpc),
                Some("http/protobuf") => protocol = Some(OtlpProtocol::HttpProtobuf),
                Some("http/json") => protocol = Some(OtlpProtocol::HttpJson),
                _ => errors.push(err(
                    &p,
                    format!(
                        "invalid protocol {:?} (grpc, http/protobuf, http/json)",
                        scalar_string(v).unwrap_or_default()
                    ),
                    v,
                )),
            },
            "endpoint" => endpoint = string(v, &p, errors).filter(|s| !s.trim().is_empty()),
            "headers" => parse_headers(v, &p, &mut cfg.headers, errors),
            // `k=v,k2=v2`, after `headers` (which win on a duplicate name).
            "headers_list" => {
                if let Some(list) = string(v, &p, errors) {
                    for pair in list.split(',').filter(|s| !s.trim().is_empty()) {
                        match pair.split_once('=') {
                            Some((n, val)) if !n.trim().is_empty() => cfg
                                .headers
                                .push((n.trim().to_string(), val.trim().to_string())),
                            _ => errors.push(err(&p, format!("{pair:?} is not name=value"), v)),
                        }
                    }
                }
            }
            "compression" => match v.as_str() {
                Some("gzip") => cfg.gzip = true,
                Some("none") | Some("") => cfg.gzip = false,
                _ => errors.push(err(&p, "invalid compression (gzip, none)", v)),
            },
            "timeout" => cfg.timeout = millis(v, &p, cfg.timeout, errors),
            "insecure" => cfg.insecure = boolean(v, &p, errors).unwrap_or(false),
            "certificate" | "certificate_file" => cfg.certificate = string(v, &p, errors),
            "client_certificate" | "client_certificate_file" => {
                cfg.client_certificate = string(v, &p, errors)
            }
            "client_key" | "client_key_file" => cfg.client_key = string(v, &p, errors),
            // Cumulative counters and plain gauges are all ferrotel exports.
            "temporality_preference" | "default_histogram_aggregation" => {}
            _ => errors.push(err(&p, "unknown key", v)),
        }
    }
    let Some(protocol) = protocol else {
        if errors.len() == before {
            errors.push(err(
                path,
                "protocol is required (grpc, http/protobuf, http/json)",
                node,
            ));
        }
        return None;
    };
    let Some(endpoint) = endpoint else {
        errors.push(err(path, "endpoint is required", node));
        return None;
    };
    cfg.protocol = protocol;
    let endpoint = endpoint.trim();
    cfg.endpoint = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.to_string()
    } else if cfg.insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    };
    (errors.len() == before).then_some(cfg)
}

/// `headers`: the schema's list of `{name, value}`, or a plain map.
fn parse_headers(
    node: &Node,
    path: &str,
    out: &mut Vec<(String, String)>,
    errors: &mut Vec<ConfigError>,
) {
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let name = item.get("name").and_then(scalar_string);
                let value = item.get("value").and_then(scalar_string);
                let extra = item
                    .as_map()
                    .unwrap_or_default()
                    .iter()
                    .find(|(k, _)| k != "name" && k != "value");
                match (name, value, extra) {
                    (_, _, Some((k, v))) => errors.push(err(
                        &format!("{p}::{k}"),
                        "unknown key (expected name, value)",
                        v,
                    )),
                    (Some(n), Some(v), None) if !n.is_empty() => out.push((n, v)),
                    _ => errors.push(err(&p, "expected {name, value}", item)),
                }
            }
        }
        Value::Map(m) => {
            for (k, v) in m {
                match scalar_string(v) {
                    Some(s) => out.push((k.clone(), s)),
                    None => errors.push(err(&format!("{path}::{k}"), "expected a string", v)),
                }
            }
        }
        Value::Null => {}
        _ => errors.push(err(
            path,
            "expected a list of {name, value} or a mapping",
            node,
        )),
    }
}

/// `resource`: the legacy map of attributes (a null value removes a default one), or the
/// schema's `attributes: [{name, value}]` and `schema_url`.
fn parse_resource(
    node: &Node,
    path: &str,
    out: &mut TelemetryConfig,
    errors: &mut Vec<ConfigError>,
) {
    let (mut list, mut legacy) = (false, false);
    for (k, v) in entries(node, path, errors) {
        let p = format!("{path}::{k}");
        match k.as_str() {
            "schema_url" => out.resource_schema_url = string(v, &p, errors),
            "attributes" => {
                list = true;
                let Value::Seq(items) = &v.value else {
                    errors.push(err(&p, "expected a list of {name, value}", v));
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    let ip = format!("{p}[{i}]");
                    let name = item.get("name").and_then(|n| n.as_str());
                    let value = item.get("value").and_then(scalar_string);
                    match (name, value) {
                        (Some(n), Some(v)) if !n.is_empty() => out.resource.push((n.to_string(), Some(v))),
                        _ => errors.push(err(&ip, "expected {name, value} with a scalar value", item)),
                    }
                }
            }
            "attributes_list" => errors.push(err(
                &p,
                "resource::attributes_list is not currently supported, please use resource::attributes",
                v,
            )),
            "detection/development" | "detectors" => {
                errors.push(err(&p, "resource detection is not supported by ferrotel", v))
            }
            _ => {
                legacy = true;
                match &v.value {
                    Value::Str { value, .. } => out.resource.push((k.clone(), Some(value.clone()))),
                    Value::Null => out.resource.push((k.clone(), None)),
                    _ => errors.push(err(&p, format!("legacy resource attribute {k:?} must be string or null"), v)),
                }
            }
        }
    }
    if list && legacy {
        errors.push(err(
            path,
            "resource::attributes cannot be used together with legacy inline resource attributes",
            node,
        ));
    }
}

#[cfg(test)]
mod tests;
