//! For components' tests: reads a component's `testdata/{valid,invalid}` configs the way the
//! collector does (YAML → decode → validate).

use std::path::Path;

use super::node::parse_yaml;
use super::{ConfigError, decode};
use crate::ComponentConfig;

/// Decodes and validates one component config.
pub fn load<T: ComponentConfig + serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, ConfigError> {
    let node =
        parse_yaml(text, "test.yaml").map_err(|e| ConfigError::field("yaml", e.to_string()))?;
    let cfg: T = decode(&node)?;
    cfg.validate()?;
    Ok(cfg)
}

/// Every config in `dir/valid` loads and validates; every one in `dir/invalid` fails.
pub fn check<T: ComponentConfig + serde::de::DeserializeOwned>(dir: &Path) {
    for (kind, ok) in [("valid", true), ("invalid", false)] {
        let entries = std::fs::read_dir(dir.join(kind))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(kind).display()));
        for e in entries {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            let r = load::<T>(&text);
            assert_eq!(r.is_ok(), ok, "{}: {:?}", p.display(), r.err());
        }
    }
}

/// The files of a testdata folder, sorted: (path, contents).
pub fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            (p.display().to_string(), text)
        })
        .collect();
    out.sort();
    out
}
