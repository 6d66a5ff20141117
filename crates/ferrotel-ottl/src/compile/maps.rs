//! Editing map-valued targets, and the key rules of maps Go rebuilds (renames, `flatten`).

use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue};

use crate::context::TCtx;
use crate::getter::PathAcc;
use crate::path::Field;
use crate::value::{R, Value};

/// Edits a map-valued target in place (attributes directly; other maps by read-modify-write).
/// A nil target is left alone; a non-map target is an error.
pub(super) fn edit_map(
    target: &PathAcc,
    t: &mut TCtx<'_>,
    f: &str,
    edit: impl FnOnce(&mut Vec<KeyValue>) -> R<()>,
) -> R<()> {
    if target.keys.is_empty() && matches!(target.field, Field::Attributes | Field::Cache) {
        // An item's own attribute list: edited in place, no copy.
        return edit(target.attrs_mut(t)?);
    }
    match target.get(t)? {
        Value::Nil => Ok(()),
        Value::Map(mut m) => {
            edit(&mut m)?;
            target.set(t, Value::Map(m))
        }
        o => Err(format!("{f}: expected a map but got {}", o.type_name())),
    }
}

/// A map whose renamed keys may repeat, as Go's `PutEmpty` rebuilds it: each key keeps its
/// first place and its last value.
pub(super) fn dedupe_keys(m: &mut Vec<KeyValue>) {
    let mut first: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<KeyValue> = Vec::with_capacity(m.len());
    for kv in m.drain(..) {
        match first.get(&kv.key) {
            Some(&i) => out[i].value = kv.value,
            None => {
                first.insert(kv.key.clone(), out.len());
                out.push(kv);
            }
        }
    }
    *m = out;
}

/// `flatten`'s result as Go builds it: a key written twice keeps its first place and its
/// last value (`PutEmpty`), or with `resolveConflicts` the later values go to `key.0`,
/// `key.1`... (Go's `handleConflict`).
pub(super) struct Flattened {
    pub(super) out: Vec<KeyValue>,
    pub(super) index: std::collections::HashMap<String, usize>,
    pub(super) resolve: bool,
    /// Per conflicting key, the suffix its next value takes.
    pub(super) seen: std::collections::HashMap<String, usize>,
}

impl Flattened {
    pub(super) fn put(&mut self, key: String, value: Option<AnyValue>) {
        match self.index.get(&key) {
            Some(&i) => self.out[i].value = value,
            None => {
                self.index.insert(key.clone(), self.out.len());
                self.out.push(KeyValue {
                    key,
                    value,
                    ..Default::default()
                });
            }
        }
    }

    pub(super) fn leaf(&mut self, key: String, value: Option<AnyValue>) {
        if !self.resolve {
            return self.put(key, value);
        }
        if self.index.contains_key(&key) {
            let n = self.seen.entry(key.clone()).or_insert(0);
            let new = format!("{key}.{n}");
            *n += 1;
            self.put(new, value);
        } else {
            self.seen.insert(key.clone(), 0);
            self.put(key, value);
        }
    }

    pub(super) fn map(&mut self, m: Vec<KeyValue>, prefix: &str, level: usize, depth: usize) {
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}.")
        };
        for kv in m {
            self.value(&prefix, kv.key, kv.value, level, depth);
        }
    }

    /// Go's `flattenValue`: maps and lists below `depth` are opened, a list's items one level
    /// further down (`key.i`); the rest is written under `prefix` + `k`.
    pub(super) fn value(
        &mut self,
        prefix: &str,
        k: String,
        v: Option<AnyValue>,
        level: usize,
        depth: usize,
    ) {
        use ferrotel_pdata::proto::common::v1::any_value::Value as V;
        let key = format!("{prefix}{k}");
        match v.and_then(|v| v.value) {
            Some(V::KvlistValue(inner)) if level < depth => {
                self.map(inner.values, &key, level + 1, depth)
            }
            Some(V::ArrayValue(a)) if level < depth => {
                for (i, item) in a.values.into_iter().enumerate() {
                    let at = format!("{key}.{i}");
                    match item.value {
                        Some(V::KvlistValue(inner)) if level + 1 < depth => {
                            self.map(inner.values, &at, level + 2, depth)
                        }
                        Some(V::ArrayValue(inner)) if level + 1 < depth => {
                            // Go writes these keys without the dot before the index (`a.00`);
                            // this writes `a.0.0`.
                            for (j, item) in inner.values.into_iter().enumerate() {
                                self.value(
                                    &format!("{at}."),
                                    j.to_string(),
                                    Some(item),
                                    level + 2,
                                    depth,
                                );
                            }
                        }
                        value => {
                            let value = Some(AnyValue { value });
                            if self.resolve {
                                self.leaf(key.clone(), value);
                            } else {
                                self.put(at, value);
                            }
                        }
                    }
                }
            }
            value => self.leaf(key, Some(AnyValue { value })),
        }
    }
}
