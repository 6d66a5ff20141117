//! `processors::attributes` configuration (same keys as the Go Collector's).

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

use super::actions::{ActionKeyValue, AttrActions};
use super::matcher::{MatchProperties, Matcher};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributesConfig {
    /// The actions, applied in order to each selected item's attributes (required).
    pub actions: Vec<ActionKeyValue>,
    /// Only items matching this are processed.
    pub include: Option<MatchProperties>,
    /// Items matching this are not processed.
    pub exclude: Option<MatchProperties>,
}

impl ComponentConfig for AttributesConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.actions.is_empty() {
            return Err(ConfigError::field(
                "actions",
                "missing required field \"actions\"",
            ));
        }
        AttrActions::new(&self.actions).map_err(|e| ConfigError::field("actions", e))?;
        // Signal-specific rules (no `log_bodies` for spans, ...) are checked when the processor
        // is built for a pipeline; the match type and regexes can be checked now.
        for (name, p) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(p) = p {
                Matcher::new(p).map_err(|e| ConfigError::field(name, e))?;
            }
        }
        Ok(())
    }
}
