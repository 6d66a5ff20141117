//! Prometheus relabeling (`relabel_configs`, `metric_relabel_configs`), with Prometheus's
//! semantics: regexes anchored at both ends, `$1`/`${name}` expansion as Go's
//! `Regexp.Expand`, an empty result deleting the label, `hashmod` on md5.

use md5::{Digest, Md5};
use regex::Regex;
use serde::Deserialize;

/// One relabel rule as written in the config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    #[serde(default)]
    pub source_labels: Vec<String>,
    pub separator: Option<String>,
    pub target_label: Option<String>,
    pub regex: Option<String>,
    pub modulus: Option<u64>,
    pub replacement: Option<String>,
    pub action: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        // Prometheus lower-cases the action before matching.
        Some(match s.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return None,
        })
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    source_labels: Vec<String>,
    separator: String,
    target_label: String,
    regex: Regex,
    modulus: u64,
    replacement: String,
    action: Action,
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Compiles a Prometheus regex: anchored at both ends, `.` matching newlines.
pub fn compile_regex(re: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?s:{re})$"))
}

impl RelabelConfig {
    /// Compiles and checks the rule as Prometheus's config validation does. Errors are
    /// (field, message).
    pub fn compile(&self) -> Result<Rule, (&'static str, String)> {
        let action = match &self.action {
            None => Action::Replace,
            Some(a) => Action::parse(a).ok_or((
                "action",
                format!(
                    "unknown relabel action {a:?} (replace, keep, drop, keepequal, dropequal, \
                     hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase)"
                ),
            ))?,
        };
        let regex_src = self.regex.as_deref().unwrap_or("(.*)");
        let regex = compile_regex(regex_src)
            .map_err(|e| ("regex", format!("invalid regex {regex_src:?}: {e}")))?;
        let target = self.target_label.clone().unwrap_or_default();
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && target.is_empty() {
            return Err((
                "target_label",
                format!("relabel action {action:?} requires target_label"),
            ));
        }
        // replace may template its target (`${1}`); the others need a plain label name.
        let target_ok = match action {
            Action::Replace => target.contains('$') || is_label_name(&target),
            _ if needs_target => is_label_name(&target),
            _ => true,
        };
        if !target_ok {
            return Err((
                "target_label",
                format!("{target:?} is not a valid label name"),
            ));
        }
        for l in &self.source_labels {
            if !is_label_name(l) {
                return Err(("source_labels", format!("{l:?} is not a valid label name")));
            }
        }
        let modulus = self.modulus.unwrap_or(0);
        if action == Action::HashMod && modulus == 0 {
            return Err(("modulus", "hashmod requires a modulus above 0".into()));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || self.target_label.is_some()
                || self.modulus.is_some()
                || self.separator.is_some()
                || self.replacement.is_some())
        {
            return Err((
                "action",
                format!(
                    "{action:?} takes only regex; source_labels, separator, target_label, \
                     modulus and replacement must be unset"
                ),
            ));
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (self.regex.is_some()
                || self.modulus.is_some()
                || self.separator.is_some()
                || self.replacement.is_some())
        {
            return Err((
                "action",
                format!("{action:?} takes only source_labels and target_label"),
            ));
        }
        Ok(Rule {
            source_labels: self.source_labels.clone(),
            separator: self.separator.clone().unwrap_or_else(|| ";".into()),
            target_label: target,
            regex,
            modulus,
            replacement: self.replacement.clone().unwrap_or_else(|| "$1".into()),
            action,
        })
    }
}

/// A label set: sorted by name, names unique, no empty values (Prometheus's invariant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    pub fn new() -> Self {
        Labels(Vec::new())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut l = Labels::new();
        for (k, v) in pairs {
            l.set(&k.into(), v.into());
        }
        l
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Sets `name`; an empty value deletes it, as in Prometheus.
    pub fn set(&mut self, name: &str, value: String) {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, (name.to_string(), value)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            self.0.remove(i);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn retain(&mut self, mut f: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(k, v)| f(k, v));
    }
}

/// Prometheus's hashmod: the last 8 bytes of md5(value) as a big-endian u64, modulo `m`
/// (Go's `sum64` shifts the first 8 bytes out of a uint64).
pub fn hashmod(value: &str, m: u64) -> u64 {
    let digest = Md5::digest(value.as_bytes());
    let mut last = [0u8; 8];
    last.copy_from_slice(&digest[8..16]);
    u64::from_be_bytes(last) % m
}

/// Applies `rules` in order; `false` means the set was dropped.
pub fn relabel(rules: &[Rule], labels: &mut Labels) -> bool {
    let mut val = String::new();
    for r in rules {
        val.clear();
        for (i, s) in r.source_labels.iter().enumerate() {
            if i > 0 {
                val.push_str(&r.separator);
            }
            val.push_str(labels.get(s).unwrap_or(""));
        }
        match r.action {
            Action::Drop => {
                if r.regex.is_match(&val) {
                    return false;
                }
            }
            Action::Keep => {
                if !r.regex.is_match(&val) {
                    return false;
                }
            }
            Action::DropEqual => {
                if labels.get(&r.target_label).unwrap_or("") == val {
                    return false;
                }
            }
            Action::KeepEqual => {
                if labels.get(&r.target_label).unwrap_or("") != val {
                    return false;
                }
            }
            Action::Replace => {
                let Some(caps) = r.regex.captures(&val) else {
                    continue;
                };
                let mut target = String::new();
                caps.expand(&r.target_label, &mut target);
                if !is_label_name(&target) {
                    continue;
                }
                let mut res = String::new();
                caps.expand(&r.replacement, &mut res);
                labels.set(&target, res);
            }
            Action::Lowercase => labels.set(&r.target_label, val.to_lowercase()),
            Action::Uppercase => labels.set(&r.target_label, val.to_uppercase()),
            Action::HashMod => {
                let m = hashmod(&val, r.modulus);
                labels.set(&r.target_label, m.to_string());
            }
            Action::LabelMap => {
                let mut add = Vec::new();
                for (k, v) in labels.iter() {
                    if let Some(caps) = r.regex.captures(k) {
                        let mut name = String::new();
                        caps.expand(&r.replacement, &mut name);
                        add.push((name, v.to_string()));
                    }
                }
                for (k, v) in add {
                    labels.set(&k, v);
                }
            }
            Action::LabelDrop => labels.retain(|k, _| !r.regex.is_match(k)),
            Action::LabelKeep => labels.retain(|k, _| r.regex.is_match(k)),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml_json: serde_json::Value) -> Rule {
        serde_json::from_value::<RelabelConfig>(yaml_json)
            .unwrap()
            .compile()
            .unwrap()
    }

    fn labels(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().copied())
    }

    #[test]
    fn replace_expands_groups_and_is_anchored() {
        let r = rule(serde_json::json!({
            "source_labels": ["a", "b"], "regex": "(f.*);(.*)", "target_label": "c",
            "replacement": "${1}-$2"
        }));
        let mut l = labels(&[("a", "foo"), ("b", "bar")]);
        assert!(relabel(std::slice::from_ref(&r), &mut l));
        assert_eq!(l.get("c"), Some("foo-bar"));
        // Anchored: "o" alone does not match "foo".
        let r =
            rule(serde_json::json!({"source_labels": ["a"], "regex": "o", "target_label": "c"}));
        let mut l = labels(&[("a", "foo")]);
        relabel(&[r], &mut l);
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn replace_with_empty_result_deletes() {
        let r = rule(serde_json::json!({"source_labels": ["x"], "target_label": "a"}));
        let mut l = labels(&[("a", "1")]);
        relabel(&[r], &mut l);
        assert_eq!(l.get("a"), None);
    }

    #[test]
    fn keep_drop_equal() {
        let keep =
            rule(serde_json::json!({"source_labels": ["a"], "regex": "x|y", "action": "keep"}));
        assert!(relabel(
            std::slice::from_ref(&keep),
            &mut labels(&[("a", "y")])
        ));
        assert!(!relabel(
            std::slice::from_ref(&keep),
            &mut labels(&[("a", "xy")])
        ));
        let drop =
            rule(serde_json::json!({"source_labels": ["a"], "regex": "x", "action": "Drop"}));
        assert!(!relabel(&[drop], &mut labels(&[("a", "x")])));
        let ke = rule(
            serde_json::json!({"source_labels": ["a"], "target_label": "b", "action": "keepequal"}),
        );
        assert!(relabel(
            std::slice::from_ref(&ke),
            &mut labels(&[("a", "1"), ("b", "1")])
        ));
        assert!(!relabel(&[ke], &mut labels(&[("a", "1"), ("b", "2")])));
        let de = rule(
            serde_json::json!({"source_labels": ["a"], "target_label": "b", "action": "dropequal"}),
        );
        assert!(!relabel(&[de], &mut labels(&[("a", "1"), ("b", "1")])));
    }

    #[test]
    fn labelmap_labeldrop_labelkeep_case() {
        let m = rule(serde_json::json!({"regex": "__meta_(.+)", "action": "labelmap"}));
        let mut l = labels(&[("__meta_zone", "eu"), ("a", "1")]);
        relabel(&[m], &mut l);
        assert_eq!(l.get("zone"), Some("eu"));
        let d = rule(serde_json::json!({"regex": "__meta_.*", "action": "labeldrop"}));
        relabel(&[d], &mut l);
        assert_eq!(l.get("__meta_zone"), None);
        let k = rule(serde_json::json!({"regex": "a|zone", "action": "labelkeep"}));
        l.set("other", "x".into());
        relabel(&[k], &mut l);
        assert_eq!(l.len(), 2);
        let u = rule(
            serde_json::json!({"source_labels": ["zone"], "target_label": "Z", "action": "uppercase"}),
        );
        let lo = rule(
            serde_json::json!({"source_labels": ["Z"], "target_label": "z", "action": "lowercase"}),
        );
        relabel(&[u, lo], &mut l);
        assert_eq!((l.get("Z"), l.get("z")), (Some("EU"), Some("eu")));
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; last 8 bytes 0xedef654fccc4a4d8.
        assert_eq!(hashmod("foo", u64::MAX), 0xedef654fccc4a4d8);
        assert_eq!(hashmod("foo", 1000), 696);
        // Prometheus's relabel_test: source "baz" with modulus 1000 gives 976.
        let r = rule(
            serde_json::json!({"source_labels": ["a"], "modulus": 1000, "target_label": "h", "action": "hashmod"}),
        );
        let mut l = labels(&[("a", "baz")]);
        relabel(&[r], &mut l);
        assert_eq!(l.get("h"), Some("976"));
    }

    #[test]
    fn invalid_rules_name_the_field() {
        let bad = |v: serde_json::Value| {
            serde_json::from_value::<RelabelConfig>(v)
                .unwrap()
                .compile()
                .unwrap_err()
                .0
        };
        assert_eq!(bad(serde_json::json!({"action": "nope"})), "action");
        assert_eq!(bad(serde_json::json!({"regex": "("})), "regex");
        assert_eq!(
            bad(serde_json::json!({"action": "replace"})),
            "target_label"
        );
        assert_eq!(
            bad(serde_json::json!({"action": "hashmod", "target_label": "x"})),
            "modulus"
        );
        assert_eq!(
            bad(serde_json::json!({"action": "labeldrop", "source_labels": ["a"]})),
            "action"
        );
    }
}
