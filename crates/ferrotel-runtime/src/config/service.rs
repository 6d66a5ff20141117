//! The `service` section: pipelines, enabled extensions, the collector's own telemetry.

use std::time::Duration;

use super::node::{Location, Node, Value};
use super::telemetry::{TelemetryConfig, parse_telemetry};
use super::{ComponentId, ConfigError, ConfigErrors, PipelineId, duration};

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
