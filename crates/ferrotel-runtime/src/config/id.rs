//! Component and pipeline identifiers: `type` or `type/name`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use ferrotel_pdata::Signal;

/// A component id as written in the config: `otlp`, `otlp/2`, `batch/traces`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    type_name: Arc<str>,
    name: Option<Arc<str>>,
}

impl ComponentId {
    /// The component type (`otlp` in `otlp/2`).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The name after the slash, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// An id of a type without a name; `type_name` must be valid.
    pub fn of_type(type_name: &str) -> Self {
        ComponentId {
            type_name: type_name.into(),
            name: None,
        }
    }
}

/// Checks a component type against the Go Collector's rule `^[a-zA-Z][0-9a-zA-Z_]{0,62}$`.
pub fn validate_type(t: &str) -> Result<(), String> {
    let mut chars = t.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || t.len() > 63 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "invalid component type {t:?}: must start with a letter and contain only letters, digits and '_' (at most 63 characters)"
        ));
    }
    Ok(())
}

impl FromStr for ComponentId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (type_name, name) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        validate_type(type_name).map_err(|e| format!("invalid component id {s:?}: {e}"))?;
        if let Some(n) = name {
            if n.is_empty() {
                return Err(format!(
                    "invalid component id {s:?}: the name after '/' must not be empty"
                ));
            }
            if n.len() > 1024
                || n.chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '/')
            {
                return Err(format!(
                    "invalid component id {s:?}: the name must not contain spaces, control characters or '/'"
                ));
            }
        }
        Ok(ComponentId {
            type_name: type_name.into(),
            name: name.map(Into::into),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.type_name, n),
            None => f.write_str(&self.type_name),
        }
    }
}

/// A pipeline id: `traces`, `metrics/internal`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    pub signal: Signal,
    pub name: Option<Arc<str>>,
}

impl FromStr for PipelineId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (signal, name) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let signal = signal.parse::<Signal>().map_err(|_| {
            format!("invalid pipeline id {s:?}: the type must be traces, metrics, logs or profiles")
        })?;
        if name.is_some_and(str::is_empty) {
            return Err(format!(
                "invalid pipeline id {s:?}: the name after '/' must not be empty"
            ));
        }
        Ok(PipelineId {
            signal,
            name: name.map(Into::into),
        })
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.signal, n),
            None => write!(f, "{}", self.signal),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ComponentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids() {
        let id: ComponentId = "otlp/2".parse().unwrap();
        assert_eq!((id.type_name(), id.name()), ("otlp", Some("2")));
        assert_eq!(id.to_string(), "otlp/2");
        assert!("2otlp".parse::<ComponentId>().is_err());
        assert!("otlp/".parse::<ComponentId>().is_err());
        assert!("ot-lp".parse::<ComponentId>().is_err());
        assert!("otlp/a b".parse::<ComponentId>().is_err());
        assert!("a".repeat(64).parse::<ComponentId>().is_err());
        assert!("a".repeat(63).parse::<ComponentId>().is_ok());
        let p: PipelineId = "traces/x".parse().unwrap();
        assert_eq!(p.signal, Signal::Traces);
        assert!("spans".parse::<PipelineId>().is_err());
    }
}
