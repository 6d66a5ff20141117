//! Reads a component's `testdata/{valid,invalid}` configs the way the collector does.

use std::path::Path;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, decode, node::parse_yaml};

pub fn load<T: ComponentConfig + serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, ConfigError> {
    let node =
        parse_yaml(text, "test.yaml").map_err(|e| ConfigError::field("yaml", e.to_string()))?;
    let cfg: T = decode(&node)?;
    cfg.validate()?;
    Ok(cfg)
}

/// Every valid config loads and validates; every invalid one fails.
pub fn check<T: ComponentConfig + serde::de::DeserializeOwned>(component: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(component)
        .join("testdata");
    for (kind, ok) in [("valid", true), ("invalid", false)] {
        for e in std::fs::read_dir(dir.join(kind)).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            let r = load::<T>(&text);
            assert_eq!(r.is_ok(), ok, "{}: {:?}", p.display(), r.err());
        }
    }
}
