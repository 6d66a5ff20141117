//! `processors::resource` configuration (same keys as the Go Collector's).

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::ConfigError;
use serde::Deserialize;

use crate::processors::attributes::{ActionKeyValue, AttrActions};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceConfig {
    /// The actions on resource attributes, applied in order (required). The key is
    /// `attributes`, as in the Go Collector, not `actions`.
    pub attributes: Vec<ActionKeyValue>,
}

impl ComponentConfig for ResourceConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.attributes.is_empty() {
            return Err(ConfigError::field(
                "attributes",
                "missing required field \"attributes\"",
            ));
        }
        AttrActions::new(&self.attributes).map_err(|e| ConfigError::field("attributes", e))?;
        Ok(())
    }
}
