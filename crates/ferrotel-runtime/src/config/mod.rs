//! The collector configuration, compatible with the OpenTelemetry Collector's YAML.
//!
//! Loading goes: `--config` sources → YAML trees ([`node`]) merged in order → environment
//! expansion ([`expand`]) → the top-level model ([`Config`]) → each component's typed config,
//! deserialized by its factory ([`decode`]). Every error names the config path, and the file
//! and line where the value was written.

pub mod client;
pub mod duration;
pub mod expand;
pub mod id;
pub mod node;
pub mod service;
pub mod telemetry;
pub mod testdata;

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;

pub use id::{ComponentId, PipelineId};
pub use node::{Location, Node, PathSegment, Value, format_path};
pub use service::{PipelineConfig, ServiceConfig};
pub use telemetry::TelemetryConfig;

/// A config problem: where, what, and (when known) the file and line.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// `service::pipelines::traces::processors[1]`; empty for the whole config.
    pub path: String,
    pub message: String,
    pub location: Option<Location>,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
            location: None,
        }
    }

    /// An error at a path relative to a component's config (used by `validate()`).
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ConfigError::new(field, message)
    }

    pub fn with_location(mut self, location: Option<Location>) -> Self {
        if self.location.is_none() {
            self.location = location;
        }
        self
    }

    /// Prefixes the path with `prefix` (`receivers::otlp`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = match (prefix.is_empty(), self.path.is_empty()) {
            (true, _) => self.path,
            (false, true) => prefix.to_string(),
            (false, false) if self.path.starts_with('[') => format!("{prefix}{}", self.path),
            (false, false) => format!("{prefix}::{}", self.path),
        };
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(l) = &self.location {
            write!(f, " ({l})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A list of config errors (validation reports all of them, not just the first).
#[derive(Debug, Clone, Default)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Reads one `--config` value: a path, `file:PATH`, `env:VAR` (YAML in a variable) or
/// `yaml:a::b: value` (an inline value whose `::` separate nested keys).
pub fn load_source(spec: &str, lookup: expand::Lookup<'_>) -> Result<Node, ConfigError> {
    if let Some(inline) = spec.strip_prefix("yaml:") {
        // `service::telemetry::logs::level: debug` → nested maps.
        let (keys, value) = inline
            .split_once(": ")
            .or_else(|| inline.split_once(':').filter(|(k, _)| !k.ends_with(':')))
            .ok_or_else(|| {
                ConfigError::new(
                    "",
                    format!("--config {spec:?}: expected yaml:key::path: value"),
                )
            })?;
        let mut text = String::new();
        let parts: Vec<&str> = keys.split("::").collect();
        for (depth, key) in parts.iter().enumerate() {
            text.push_str(&"  ".repeat(depth));
            text.push_str(key.trim());
            text.push(':');
            text.push(if depth + 1 == parts.len() { ' ' } else { '\n' });
        }
        text.push_str(value.trim());
        text.push('\n');
        return node::parse_yaml(&text, spec).map_err(|e| ConfigError::new("", e.to_string()));
    }
    if let Some(var) = spec.strip_prefix("env:") {
        let text = lookup(var).ok_or_else(|| {
            ConfigError::new(
                "",
                format!("--config {spec:?}: environment variable {var} is not set"),
            )
        })?;
        return node::parse_yaml(&text, spec).map_err(|e| ConfigError::new("", e.to_string()));
    }
    let path = spec.strip_prefix("file:").unwrap_or(spec);
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("", format!("cannot read config file {path:?}: {e}")))?;
    node::parse_yaml(&text, path).map_err(|e| ConfigError::new("", e.to_string()))
}

/// Loads and merges `--config` sources in order (later ones win), then expands environment
/// references.
pub fn load_sources(specs: &[String], lookup: expand::Lookup<'_>) -> Result<Node, ConfigError> {
    let mut root = Node::empty_map();
    for spec in specs {
        root.merge(load_source(spec, lookup)?);
    }
    expand::expand_node(&mut root, lookup, &mut Vec::new()).map_err(|e| ConfigError::new("", e))?;
    Ok(root)
}

/// The process environment, for [`load_sources`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The top-level sections of a collector config, with component configs still untyped (each
/// factory decodes its own).
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub receivers: Vec<(ComponentId, Node)>,
    pub processors: Vec<(ComponentId, Node)>,
    pub exporters: Vec<(ComponentId, Node)>,
    pub connectors: Vec<(ComponentId, Node)>,
    pub extensions: Vec<(ComponentId, Node)>,
    pub service: ServiceConfig,
    /// The merged, expanded tree, for locations in later errors.
    pub root: Node,
}

/// The component sections, in the order errors and listings use.
pub const SECTIONS: [&str; 5] = [
    "receivers",
    "processors",
    "exporters",
    "connectors",
    "extensions",
];

impl Config {
    /// Splits a merged tree into sections. Collects every error it finds.
    pub fn from_node(root: Node) -> Result<Config, ConfigErrors> {
        let (config, errors) = Self::parse(root);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// What could be read, and every error found, so that the graph checks can still run on
    /// the rest and one `validate` lists everything wrong with a config.
    pub fn parse(root: Node) -> (Config, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let mut config = Config::default();
        let Some(entries) = root.as_map() else {
            let e = ConfigError::new("", "the config must be a mapping")
                .with_location(root.location.clone());
            return (config, vec![e]);
        };
        for (key, value) in entries {
            let section = match key.as_str() {
                "receivers" => &mut config.receivers,
                "processors" => &mut config.processors,
                "exporters" => &mut config.exporters,
                "connectors" => &mut config.connectors,
                "extensions" => &mut config.extensions,
                "service" => continue,
                other => {
                    errors.push(
                        ConfigError::new(
                            other,
                            "unknown top-level key (expected receivers, processors, exporters, connectors, extensions, service)",
                        )
                        .with_location(value.location.clone()),
                    );
                    continue;
                }
            };
            match &value.value {
                Value::Null => {}
                Value::Map(components) => {
                    for (id, cfg) in components {
                        match id.parse::<ComponentId>() {
                            Ok(cid) => section.push((cid, cfg.clone())),
                            Err(e) => errors.push(
                                ConfigError::new(format!("{key}::{id}"), e)
                                    .with_location(cfg.location.clone()),
                            ),
                        }
                    }
                }
                _ => errors.push(
                    ConfigError::new(
                        key.clone(),
                        "must be a mapping of component ids to their configs",
                    )
                    .with_location(value.location.clone()),
                ),
            }
        }
        match root.get("service") {
            Some(service) => {
                let (s, es) = service::ServiceConfig::parse(service);
                config.service = s;
                errors.extend(es);
            }
            None => errors.push(ConfigError::new(
                "service",
                "missing: a config needs service::pipelines",
            )),
        }
        config.root = root;
        (config, errors)
    }

    /// The location of a config path, for error messages.
    pub fn location_of(&self, path: &[PathSegment]) -> Option<Location> {
        self.root.at(path).and_then(|n| n.location.clone())
    }
}

/// Deserializes a typed component config from its node. A missing or null node gives the
/// defaults (`otlp:` alone means "otlp with defaults", as in the Go Collector). Errors carry the
/// path below the component and its location.
pub fn decode<T: DeserializeOwned>(node: &Node) -> Result<T, ConfigError> {
    let json = if node.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        node.to_json()
    };
    serde_path_to_error::deserialize::<_, T>(json).map_err(|e| {
        let segments: Vec<PathSegment> = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Map { key } => Some(PathSegment::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
                serde_path_to_error::Segment::Enum { variant } => {
                    Some(PathSegment::Key(variant.clone()))
                }
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        // Point at the deepest part of the path that exists in the file.
        let location = (0..=segments.len())
            .rev()
            .find_map(|n| node.at(&segments[..n]).and_then(|n| n.location.clone()));
        let message = e.inner().to_string();
        // serde_json appends " at line L column C" of the JSON we built: meaningless to a user.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        ConfigError {
            path: format_path(&segments),
            message,
            location,
        }
    })
}

/// `#[serde(deserialize_with = "null_as_default")]` for `Option<T>` sections whose presence
/// enables a feature: `grpc:` with no value means "enabled with defaults", absence means off.
pub fn null_as_default<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    let v: Option<T> = serde::Deserialize::deserialize(d)?;
    Ok(Some(v.unwrap_or_default()))
}

/// Parses `host:port` into a socket address; `localhost` means 127.0.0.1 and an empty host all
/// interfaces, as Go's net package does.
pub fn parse_endpoint(endpoint: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| format!("invalid endpoint {endpoint:?}: expected host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("invalid endpoint {endpoint:?}: bad port {port:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = match host {
        "" => "0.0.0.0",
        "localhost" => "127.0.0.1",
        h => h,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("invalid endpoint {endpoint:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("invalid endpoint {endpoint:?}: host does not resolve"))
}

/// Default for configs that take durations, for `#[serde(default = ...)]`.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        endpoint: String,
        #[serde(deserialize_with = "duration::deserialize")]
        timeout: Duration,
        nested: Inner,
    }
    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        size: u32,
    }

    #[test]
    fn decode_reports_path_and_line() {
        let root =
            node::parse_yaml("c:\n  endpoint: x\n  nested:\n    size: big\n", "f.yaml").unwrap();
        let e = decode::<Sample>(root.get("c").unwrap()).unwrap_err();
        assert_eq!(e.path, "nested::size");
        assert_eq!(e.location.unwrap().to_string(), "f.yaml:4");
        assert!(
            e.message.contains("invalid type: string \"big\""),
            "{}",
            e.message
        );
        let root = node::parse_yaml("c:\n  endpont: x\n", "f.yaml").unwrap();
        let e = decode::<Sample>(root.get("c").unwrap()).unwrap_err();
        assert!(
            e.message
                .starts_with("unknown field `endpont`, expected one of"),
            "{}",
            e.message
        );
    }

    #[test]
    fn null_node_is_defaults() {
        let root = node::parse_yaml("c:\n", "f.yaml").unwrap();
        assert_eq!(
            decode::<Sample>(root.get("c").unwrap()).unwrap(),
            Sample::default()
        );
    }

    #[test]
    fn inline_yaml_source() {
        let n = load_source("yaml:service::telemetry::logs::level: debug", &|_| None).unwrap();
        let level = n.at(&[
            PathSegment::Key("service".into()),
            PathSegment::Key("telemetry".into()),
            PathSegment::Key("logs".into()),
            PathSegment::Key("level".into()),
        ]);
        assert_eq!(level.unwrap().as_str(), Some("debug"));
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("localhost:4317").unwrap().to_string(),
            "127.0.0.1:4317"
        );
        assert_eq!(parse_endpoint(":4318").unwrap().to_string(), "0.0.0.0:4318");
        assert_eq!(parse_endpoint("[::1]:1").unwrap().to_string(), "[::1]:1");
        assert!(parse_endpoint("nope").is_err());
    }
}
