//! The `service` section: pipelines, enabled extensions, the collector's own telemetry.

use std::net::SocketAddr;
use std::time::Duration;

use super::node::{Location, Node, Value};
use super::{ComponentId, ConfigError, ConfigErrors, PipelineId, duration, parse_endpoint};

/// A component referenced from the service section, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentRef {
    pub id: ComponentId,
    pub location: Option<Location>,
}

/// One pipeline: receivers → processors (in order) → exporters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineConfig {
    pub receivers: Vec<ComponentRef>,
    pub processors: Vec<ComponentRef>,
    pub exporters: Vec<ComponentRef>,
    pub location: Option<Location>,
}

/// Log settings of the collector itself (`service::telemetry::logs`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogsTelemetry {
    /// debug, info, warn, error.
    pub level: String,
    /// console or json.
    pub encoding: String,
}

/// Metric settings of the collector itself (`service::telemetry::metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsTelemetry {
    /// none, basic, normal, detailed; `none` turns the endpoint off.
    pub level: String,
    /// Where the Prometheus endpoint listens (default 127.0.0.1:8888).
    pub address: Option<SocketAddr>,
}

/// `service::telemetry`.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    pub logs: LogsTelemetry,
    pub metrics: MetricsTelemetry,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            logs: LogsTelemetry {
                level: "info".into(),
                encoding: "console".into(),
            },
            metrics: MetricsTelemetry {
                level: "normal".into(),
                address: Some(SocketAddr::from(([127, 0, 0, 1], 8888))),
            },
        }
    }
}

/// The `service` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub extensions: Vec<ComponentRef>,
    pub pipelines: Vec<(PipelineId, PipelineConfig)>,
    pub telemetry: TelemetryConfig,
    /// How long SIGTERM may take to drain (`service::shutdown_timeout`, default 30 s; a
    /// ferrotel addition: the Go Collector has no bound).
    pub shutdown_timeout: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            extensions: Vec::new(),
            pipelines: Vec::new(),
            telemetry: TelemetryConfig::default(),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

fn err(path: &str, message: impl Into<String>, node: &Node) -> ConfigError {
    ConfigError::new(path, message).with_location(node.location.clone())
}

fn id_list(node: &Node, path: &str, errors: &mut Vec<ConfigError>) -> Vec<ComponentRef> {
    match &node.value {
        Value::Null => Vec::new(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let p = format!("{path}[{i}]");
                match item.as_str().map(str::parse::<ComponentId>) {
                    Some(Ok(id)) => Some(ComponentRef {
                        id,
                        location: item.location.clone(),
                    }),
                    Some(Err(e)) => {
                        errors.push(err(&p, e, item));
                        None
                    }
                    None => {
                        errors.push(err(&p, "expected a component id string", item));
                        None
                    }
                }
            })
            .collect(),
        _ => {
            errors.push(err(path, "expected a list of component ids", node));
            Vec::new()
        }
    }
}

fn scalar_string(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str { value, .. } => Some(value.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl ServiceConfig {
    pub fn from_node(node: &Node) -> Result<ServiceConfig, ConfigErrors> {
        let (cfg, errors) = Self::parse(node);
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// What could be read, and every error found (a bad telemetry key does not hide the
    /// pipelines from the checks that follow).
    pub fn parse(node: &Node) -> (ServiceConfig, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let mut cfg = ServiceConfig::default();
        let Some(entries) = node.as_map() else {
            return (cfg, vec![err("service", "must be a mapping", node)]);
        };
        for (key, value) in entries {
            let path = format!("service::{key}");
            match key.as_str() {
                "extensions" => cfg.extensions = id_list(value, &path, &mut errors),
                "pipelines" => {
                    match value.as_map() {
                        Some(pipelines) => {
                            for (pid, pnode) in pipelines {
                                let ppath = format!("service::pipelines::{pid}");
                                let id = match pid.parse::<PipelineId>() {
                                    Ok(id) => id,
                                    Err(e) => {
                                        errors.push(err(&ppath, e, pnode));
                                        continue;
                                    }
                                };
                                let mut p = PipelineConfig {
                                    location: pnode.location.clone(),
                                    ..Default::default()
                                };
                                for (k, v) in pnode.as_map().unwrap_or_default() {
                                    let kpath = format!("{ppath}::{k}");
                                    match k.as_str() {
                                    "receivers" => p.receivers = id_list(v, &kpath, &mut errors),
                                    "processors" => p.processors = id_list(v, &kpath, &mut errors),
                                    "exporters" => p.exporters = id_list(v, &kpath, &mut errors),
                                    _ => errors.push(err(&kpath, "unknown key (expected receivers, processors, exporters)", v)),
                                }
                                }
                                cfg.pipelines.push((id, p));
                            }
                        }
                        None => errors.push(err(&path, "must be a mapping of pipeline ids", value)),
                    }
                }
                "telemetry" => parse_telemetry(value, &mut cfg.telemetry, &mut errors),
                "shutdown_timeout" => {
                    match scalar_string(value).map(|s| duration::parse_duration(&s)) {
                        Some(Ok(d)) => cfg.shutdown_timeout = d,
                        Some(Err(e)) => errors.push(err(&path, e, value)),
                        None => errors.push(err(&path, "expected a duration such as 30s", value)),
                    }
                }
                _ => errors.push(err(
                    &path,
                    "unknown key (expected extensions, pipelines, telemetry, shutdown_timeout)",
                    value,
                )),
            }
        }
        if cfg.pipelines.is_empty() && errors.is_empty() {
            errors.push(err("service::pipelines", "no pipelines are defined", node));
        }
        (cfg, errors)
    }
}

fn parse_telemetry(node: &Node, out: &mut TelemetryConfig, errors: &mut Vec<ConfigError>) {
    for (key, value) in node.as_map().unwrap_or_default() {
        let path = format!("service::telemetry::{key}");
        match key.as_str() {
            "logs" => {
                for (k, v) in value.as_map().unwrap_or_default() {
                    let p = format!("{path}::{k}");
                    let s = scalar_string(v).unwrap_or_default().to_ascii_lowercase();
                    match k.as_str() {
                        "level" if ["debug", "info", "warn", "error"].contains(&s.as_str()) => {
                            out.logs.level = s
                        }
                        "level" => errors.push(err(
                            &p,
                            format!("invalid level {s:?} (debug, info, warn, error)"),
                            v,
                        )),
                        "encoding" if ["console", "json"].contains(&s.as_str()) => {
                            out.logs.encoding = s
                        }
                        "encoding" => errors.push(err(
                            &p,
                            format!("invalid encoding {s:?} (console, json)"),
                            v,
                        )),
                        // Accepted for compatibility; ferrotel logs to stderr.
                        "development" | "disable_caller" | "disable_stacktrace"
                        | "output_paths" | "error_output_paths" | "initial_fields" | "sampling"
                        | "processors" => {}
                        _ => errors.push(err(&p, "unknown key", v)),
                    }
                }
            }
            "metrics" => {
                for (k, v) in value.as_map().unwrap_or_default() {
                    let p = format!("{path}::{k}");
                    match k.as_str() {
                        "level" => {
                            let s = scalar_string(v).unwrap_or_default().to_ascii_lowercase();
                            if ["none", "basic", "normal", "detailed"].contains(&s.as_str()) {
                                if s == "none" {
                                    out.metrics.address = None;
                                }
                                out.metrics.level = s;
                            } else {
                                errors.push(err(
                                    &p,
                                    format!("invalid level {s:?} (none, basic, normal, detailed)"),
                                    v,
                                ));
                            }
                        }
                        "address" => match scalar_string(v).map(|s| parse_endpoint(&s)) {
                            Some(Ok(a)) => out.metrics.address = Some(a),
                            Some(Err(e)) => errors.push(err(&p, e, v)),
                            None => errors.push(err(&p, "expected host:port", v)),
                        },
                        // The current Go form: readers: [{pull: {exporter: {prometheus: {host, port}}}}].
                        "readers" => {
                            let Value::Seq(readers) = &v.value else {
                                errors.push(err(&p, "expected a list of readers", v));
                                continue;
                            };
                            for (i, r) in readers.iter().enumerate() {
                                let prom = r
                                    .get("pull")
                                    .and_then(|n| n.get("exporter"))
                                    .and_then(|n| n.get("prometheus"));
                                match prom {
                                    Some(prom) => {
                                        let host = prom.get("host").and_then(scalar_string).unwrap_or_else(|| "127.0.0.1".into());
                                        let port = prom.get("port").and_then(scalar_string).unwrap_or_else(|| "8888".into());
                                        match parse_endpoint(&format!("{host}:{port}")) {
                                            Ok(a) => out.metrics.address = Some(a),
                                            Err(e) => errors.push(err(&format!("{p}[{i}]"), e, r)),
                                        }
                                    }
                                    None => errors.push(err(
                                        &format!("{p}[{i}]"),
                                        "ferrotel supports only pull readers with a prometheus exporter",
                                        r,
                                    )),
                                }
                            }
                        }
                        "views" => {}
                        _ => errors.push(err(&p, "unknown key", v)),
                    }
                }
            }
            "resource" | "traces" => {}
            _ => errors.push(err(
                &path,
                "unknown key (expected logs, metrics, resource, traces)",
                value,
            )),
        }
    }
}
