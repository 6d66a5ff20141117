//! The resource: who emits the telemetry. [`Resource::default`] is what the specification
//! asks of an SDK: the SDK's own attributes, host and process detection, then
//! `OTEL_RESOURCE_ATTRIBUTES`, then `OTEL_SERVICE_NAME`, each overriding the ones before.

use std::borrow::Cow;

use opentelemetry::{Key, KeyValue, Value};

use crate::env::{self, Lookup};

/// Resource attributes (unique keys, in insertion order) and an optional schema URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    attributes: Vec<KeyValue>,
    schema_url: Option<Cow<'static, str>>,
}

impl Default for Resource {
    /// Detected attributes and the environment (see the module documentation).
    fn default() -> Self {
        Resource::from_lookup(&env::process_env)
    }
}

impl Resource {
    /// No attributes at all (not even `service.name`).
    pub fn empty() -> Self {
        Resource {
            attributes: Vec::new(),
            schema_url: None,
        }
    }

    /// A resource of exactly these attributes (later duplicates win).
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let mut r = Resource::empty();
        for kv in attributes {
            r.set(kv);
        }
        r
    }

    /// [`Resource::default`] reading settings from `lookup` instead of the process environment.
    pub fn from_lookup(lookup: Lookup<'_>) -> Self {
        let mut r = Resource::empty();
        r.set(KeyValue::new(
            "service.name",
            format!("unknown_service:{}", executable_name().unwrap_or_default()),
        ));
        r.set(KeyValue::new("telemetry.sdk.name", "ferrotel"));
        r.set(KeyValue::new("telemetry.sdk.language", "rust"));
        r.set(KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")));
        r.merge_in(detect_host());
        r.merge_in(detect_process());
        if let Some(s) = env::get(lookup, "OTEL_RESOURCE_ATTRIBUTES") {
            match env::parse_key_values(&s) {
                Ok(pairs) => {
                    for (k, v) in pairs {
                        r.set(KeyValue::new(k, v));
                    }
                }
                // The spec: on a parse error the whole variable is discarded.
                Err(e) => tracing::warn!(error = %e, "OTEL_RESOURCE_ATTRIBUTES ignored"),
            }
        }
        if let Some(name) = env::get(lookup, "OTEL_SERVICE_NAME") {
            r.set(KeyValue::new("service.name", name));
        }
        r
    }

    /// Sets one attribute, replacing an existing one with the same key.
    pub fn set(&mut self, kv: KeyValue) {
        match self.attributes.iter_mut().find(|a| a.key == kv.key) {
            Some(a) => a.value = kv.value,
            None => self.attributes.push(kv),
        }
    }

    /// This resource with `other`'s attributes on top (`other` wins on conflicts).
    pub fn merge(mut self, other: &Resource) -> Resource {
        for kv in &other.attributes {
            self.set(kv.clone());
        }
        if other.schema_url.is_some() {
            self.schema_url = other.schema_url.clone();
        }
        self
    }

    fn merge_in(&mut self, kvs: Vec<KeyValue>) {
        for kv in kvs {
            self.set(kv);
        }
    }

    /// With this schema URL.
    pub fn with_schema_url(mut self, url: impl Into<Cow<'static, str>>) -> Resource {
        self.schema_url = Some(url.into());
        self
    }

    pub fn schema_url(&self) -> Option<&str> {
        self.schema_url.as_deref()
    }

    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// One attribute's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let key = Key::from(key.to_owned());
        self.attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| &a.value)
    }
}

fn executable_path() -> Option<std::path::PathBuf> {
    std::env::current_exe().ok()
}

fn executable_name() -> Option<String> {
    executable_path()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// The host's name, from `gethostname(2)`.
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..len]).into_owned();
    (!name.is_empty()).then_some(name)
}

/// `host.*` and `os.type` (semantic conventions' names for the architecture).
fn detect_host() -> Vec<KeyValue> {
    let mut out = Vec::new();
    if let Some(h) = hostname() {
        out.push(KeyValue::new("host.name", h));
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    };
    out.push(KeyValue::new("host.arch", arch));
    out.push(KeyValue::new("os.type", std::env::consts::OS));
    out
}

/// `process.*`. The command line is left out on purpose: it is opt-in in the semantic
/// conventions because arguments often carry secrets.
fn detect_process() -> Vec<KeyValue> {
    let mut out = vec![KeyValue::new("process.pid", i64::from(std::process::id()))];
    if let Some(p) = executable_path() {
        if let Some(n) = p.file_name() {
            out.push(KeyValue::new(
                "process.executable.name",
                n.to_string_lossy().into_owned(),
            ));
        }
        out.push(KeyValue::new(
            "process.executable.path",
            p.to_string_lossy().into_owned(),
        ));
    }
    out.push(KeyValue::new("process.runtime.name", "rustc"));
    out.push(KeyValue::new(
        "process.runtime.version",
        env!("FERROTEL_RUSTC_VERSION"),
    ));
    out.push(KeyValue::new(
        "process.runtime.description",
        env!("FERROTEL_RUSTC_DESCRIPTION"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::lookup_from;

    fn s(r: &Resource, k: &str) -> Option<String> {
        r.get(k).map(|v| v.as_str().into_owned())
    }

    #[test]
    fn defaults() {
        let r = Resource::from_lookup(&lookup_from(&[]));
        assert!(s(&r, "service.name").unwrap().starts_with("unknown_service:"));
        assert_eq!(s(&r, "telemetry.sdk.name").as_deref(), Some("ferrotel"));
        assert_eq!(s(&r, "telemetry.sdk.language").as_deref(), Some("rust"));
        assert!(s(&r, "telemetry.sdk.version").is_some());
        assert!(s(&r, "host.name").is_some());
        assert_eq!(
            r.get("process.pid"),
            Some(&Value::I64(i64::from(std::process::id())))
        );
        assert!(s(&r, "process.executable.name").is_some());
        assert_eq!(s(&r, "process.runtime.name").as_deref(), Some("rustc"));
        assert!(s(&r, "process.runtime.version").unwrap().contains('.'));
    }

    #[test]
    fn env_attributes_and_service_name() {
        let env = lookup_from(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,deployment.environment=prod%20eu,k=a%2Cb",
        )]);
        let r = Resource::from_lookup(&env);
        assert_eq!(s(&r, "service.name").as_deref(), Some("from-attrs"));
        assert_eq!(s(&r, "deployment.environment").as_deref(), Some("prod eu"));
        assert_eq!(s(&r, "k").as_deref(), Some("a,b"));

        let env = lookup_from(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
            ("OTEL_SERVICE_NAME", "svc"),
        ]);
        assert_eq!(
            s(&Resource::from_lookup(&env), "service.name").as_deref(),
            Some("svc")
        );
    }

    #[test]
    fn invalid_env_attributes_are_discarded_whole() {
        let env = lookup_from(&[("OTEL_RESOURCE_ATTRIBUTES", "a=1,broken,b=2")]);
        let r = Resource::from_lookup(&env);
        assert_eq!(r.get("a"), None);
        assert_eq!(r.get("b"), None);
        let env = lookup_from(&[("OTEL_RESOURCE_ATTRIBUTES", "a=%G1")]);
        assert_eq!(Resource::from_lookup(&env).get("a"), None);
    }

    #[test]
    fn set_and_merge_replace_by_key() {
        let a = Resource::new([KeyValue::new("x", 1), KeyValue::new("y", 2)]);
        let b = Resource::new([KeyValue::new("y", 3)]).with_schema_url("s");
        let m = a.merge(&b);
        assert_eq!(m.attributes().len(), 2);
        assert_eq!(m.get("y"), Some(&Value::I64(3)));
        assert_eq!(m.schema_url(), Some("s"));
    }
}
