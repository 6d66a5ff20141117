//! Targets: static and file_sd groups → labeled targets through `relabel_configs`, as
//! Prometheus's `PopulateLabels` does.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::{StaticConfig, check_target};
use super::relabel::{Labels, Rule, relabel};

/// What a job contributes to every target's labels.
#[derive(Debug, Clone)]
pub struct JobDefaults {
    pub job_name: String,
    pub scheme: String,
    pub metrics_path: String,
    pub params: Vec<(String, Vec<String>)>,
    pub interval: Duration,
    pub timeout: Duration,
    pub relabel: Vec<Rule>,
}

/// A target to scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Public labels (no `__` labels), `job` and `instance` included.
    pub labels: Labels,
    pub scheme: String,
    /// host:port
    pub address: String,
    pub url: String,
}

impl Target {
    /// Identity for starting/stopping scrape loops when discovery changes.
    pub fn key(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

fn format_duration(d: Duration) -> String {
    // Prometheus writes its model.Duration (e.g. "15s", "1m"); millisecond precision is enough.
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Builds the targets of `groups`. Targets dropped by relabeling are left out; invalid ones are
/// returned as errors (target, message) to log.
pub fn build_targets(
    job: &JobDefaults,
    groups: &[(StaticConfig, Option<String>)],
) -> (Vec<Target>, Vec<(String, String)>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (group, source) in groups {
        for addr in &group.targets {
            let mut l = Labels::new();
            l.set("__address__", addr.clone());
            for (k, v) in &group.labels {
                l.set(k, v.clone());
            }
            if let Some(path) = source {
                l.set("__meta_filepath", path.clone());
            }
            let defaults = [
                ("job", job.job_name.clone()),
                ("__scheme__", job.scheme.clone()),
                ("__metrics_path__", job.metrics_path.clone()),
                ("__scrape_interval__", format_duration(job.interval)),
                ("__scrape_timeout__", format_duration(job.timeout)),
            ];
            for (k, v) in defaults {
                if l.get(k).is_none() {
                    l.set(k, v);
                }
            }
            for (k, vs) in &job.params {
                let name = format!("__param_{k}");
                if l.get(&name).is_none()
                    && let Some(first) = vs.first()
                {
                    l.set(&name, first.clone());
                }
            }
            if !relabel(&job.relabel, &mut l) {
                continue;
            }
            let Some(address) = l.get("__address__").map(str::to_string) else {
                errors.push((addr.clone(), "no __address__ label after relabeling".into()));
                continue;
            };
            if let Err(e) = check_target(&address) {
                errors.push((addr.clone(), e));
                continue;
            }
            if l.get("instance").is_none() {
                l.set("instance", address.clone());
            }
            let scheme = l.get("__scheme__").unwrap_or("http").to_string();
            if scheme != "http" && scheme != "https" {
                errors.push((addr.clone(), format!("unsupported scheme {scheme:?}")));
                continue;
            }
            let path = l.get("__metrics_path__").unwrap_or("/metrics").to_string();
            let url = target_url(&scheme, &address, &path, job, &l);
            l.retain(|k, _| !k.starts_with("__"));
            out.push(Target {
                labels: l,
                scheme,
                address,
                url,
            });
        }
    }
    (out, errors)
}

fn target_url(scheme: &str, address: &str, path: &str, job: &JobDefaults, l: &Labels) -> String {
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, vs) in &job.params {
        for (i, v) in vs.iter().enumerate() {
            // __param_<k> (possibly relabeled) replaces the first value.
            let v = match (i, l.get(&format!("__param_{k}"))) {
                (0, Some(p)) => p.to_string(),
                _ => v.clone(),
            };
            query.push((k.clone(), v));
        }
    }
    for (k, v) in l.iter() {
        if let Some(name) = k.strip_prefix("__param_")
            && !job.params.iter().any(|(p, _)| p == name)
        {
            query.push((name.to_string(), v.to_string()));
        }
    }
    let mut url = format!("{scheme}://{address}{path}");
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 && !path.contains('?') {
            '?'
        } else {
            '&'
        });
        url.push_str(&percent_encode(k));
        url.push('=');
        url.push_str(&percent_encode(v));
    }
    url
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `*` in a file name, as Prometheus's file_sd globs (`targets/*.json`).
pub fn expand_glob(pattern: &str) -> Vec<PathBuf> {
    let p = Path::new(pattern);
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains('*') {
        return vec![p.to_path_buf()];
    }
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_str().is_some_and(|n| wildcard(name, n)))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn wildcard(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            let Some(rest) = s.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| wildcard(tail, &rest[i..]))
        }
    }
}

/// Reads one file_sd file (JSON or YAML: a list of `{targets, labels}`).
pub fn read_file_sd(path: &Path) -> Result<Vec<StaticConfig>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let node = ferrotel_runtime::config::node::parse_yaml(&text, &path.display().to_string())
        .map_err(|e| e.to_string())?;
    if node.is_null() || node.as_map().is_some_and(|m| m.is_empty()) {
        return Ok(Vec::new());
    }
    let groups: Vec<StaticConfig> = serde_json::from_value(node.to_json()).map_err(|e| {
        format!(
            "{}: expected a list of {{targets, labels}} groups: {e}",
            path.display()
        )
    })?;
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::relabel::RelabelConfig;

    fn job(relabel: Vec<RelabelConfig>) -> JobDefaults {
        JobDefaults {
            job_name: "node".into(),
            scheme: "http".into(),
            metrics_path: "/metrics".into(),
            params: vec![("module".into(), vec!["a".into(), "b".into()])],
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            relabel: relabel.iter().map(|r| r.compile().unwrap()).collect(),
        }
    }

    #[test]
    fn targets_get_instance_url_and_lose_hidden_labels() {
        let g = StaticConfig {
            targets: vec!["127.0.0.1:9100".into()],
            labels: [("env".to_string(), "prod".to_string())].into(),
        };
        let (t, errs) = build_targets(&job(vec![]), &[(g, None)]);
        assert!(errs.is_empty());
        assert_eq!(t[0].url, "http://127.0.0.1:9100/metrics?module=a&module=b");
        assert_eq!(t[0].labels.get("instance"), Some("127.0.0.1:9100"));
        assert_eq!(t[0].labels.get("job"), Some("node"));
        assert_eq!(t[0].labels.get("env"), Some("prod"));
        assert_eq!(t[0].labels.len(), 3);
    }

    #[test]
    fn relabeling_rewrites_address_and_params_and_drops() {
        let rules: Vec<RelabelConfig> = serde_json::from_value(serde_json::json!([
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"target_label": "__address__", "replacement": "exporter:9115"},
            {"source_labels": ["__param_target"], "regex": "drop.*", "action": "drop"}
        ]))
        .unwrap();
        let g = StaticConfig {
            targets: vec!["example.org".into(), "drop.me".into()],
            labels: Default::default(),
        };
        let (t, _) = build_targets(&job(rules), &[(g, None)]);
        assert_eq!(t.len(), 1);
        assert_eq!(
            t[0].url,
            "http://exporter:9115/metrics?module=a&module=b&target=example.org"
        );
    }

    #[test]
    fn globs() {
        assert!(wildcard("*.json", "a.json"));
        assert!(wildcard("t-*.y*ml", "t-1.yaml"));
        assert!(!wildcard("*.json", "a.yaml"));
    }
}
