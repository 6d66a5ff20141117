//! Field paths (stanza's `entry.Field`): `body`, `body.a.b`, `body["a.b"]`, `attributes.k`,
//! `attributes["k"]`, `resource["k"]`; reading, setting (maps merge into attributes and
//! resource, as Go's `Set` does), deleting.

use std::borrow::Cow;
use std::fmt;

use crate::{Entry, Key, Map, Value};

/// Which part of the entry a field lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Body,
    Attributes,
    Resource,
}

/// A parsed field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub root: Root,
    pub keys: Vec<Key>,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.root {
            Root::Body => "body",
            Root::Attributes => "attributes",
            Root::Resource => "resource",
        })?;
        for k in &self.keys {
            if k.contains(['.', '[', ']', '"', '\'']) || k.is_empty() {
                write!(f, "[{k:?}]")?;
            } else {
                write!(f, ".{k}")?;
            }
        }
        Ok(())
    }
}

impl Field {
    pub fn body() -> Field {
        Field {
            root: Root::Body,
            keys: Vec::new(),
        }
    }
    pub fn attributes() -> Field {
        Field {
            root: Root::Attributes,
            keys: Vec::new(),
        }
    }
    pub fn attribute(key: &str) -> Field {
        Field {
            root: Root::Attributes,
            keys: vec![key.into()],
        }
    }

    pub fn is_root(&self) -> bool {
        self.keys.is_empty()
    }

    /// Parses `body.a["b.c"]`-style text.
    pub fn parse(text: &str) -> Result<Field, String> {
        let bad = |why: &str| format!("invalid field {text:?}: {why}");
        let t = text.trim();
        let (root, mut rest) = if let Some(r) = t.strip_prefix("body") {
            (Root::Body, r)
        } else if let Some(r) = t.strip_prefix("attributes") {
            (Root::Attributes, r)
        } else if let Some(r) = t.strip_prefix("resource") {
            (Root::Resource, r)
        } else {
            return Err(bad("it must start with body, attributes or resource"));
        };
        let mut keys = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                if end == 0 {
                    return Err(bad("empty key after '.'"));
                }
                keys.push(r[..end].into());
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let q = r.chars().next().ok_or_else(|| bad("unterminated '['"))?;
                if q != '"' && q != '\'' {
                    return Err(bad("a key in brackets must be quoted"));
                }
                let r = &r[1..];
                let end = r.find(q).ok_or_else(|| bad("unterminated quoted key"))?;
                keys.push(r[..end].into());
                rest = r[end + 1..]
                    .strip_prefix(']')
                    .ok_or_else(|| bad("expected ']' after a quoted key"))?;
            } else {
                return Err(bad("unexpected text after the root"));
            }
        }
        Ok(Field { root, keys })
    }

    /// The value at this field, if present (roots of attributes/resource are copied as maps).
    pub fn get<'e>(&self, e: &'e Entry) -> Option<Cow<'e, Value>> {
        match self.root {
            Root::Body => walk(&e.body, &self.keys).map(Cow::Borrowed),
            Root::Attributes => get_in_map(&e.attributes, &self.keys),
            Root::Resource => get_in_map(&e.resource, &self.keys),
        }
    }

    /// A borrowed value at this field; `None` for absent fields and the map roots.
    pub fn get_ref<'e>(&self, e: &'e Entry) -> Option<&'e Value> {
        match self.root {
            Root::Body => walk(&e.body, &self.keys),
            Root::Attributes => lookup(&e.attributes, &self.keys),
            Root::Resource => lookup(&e.resource, &self.keys),
        }
    }

    /// A mutable value at this field (not the map roots).
    pub fn get_mut<'e>(&self, e: &'e mut Entry) -> Option<&'e mut Value> {
        let (first, rest, map) = match self.root {
            Root::Body => {
                let mut v = &mut e.body;
                for k in &self.keys {
                    v = match v {
                        Value::Map(m) => m.get_mut(k)?,
                        _ => return None,
                    };
                }
                return Some(v);
            }
            Root::Attributes => (self.keys.first()?, &self.keys[1..], &mut e.attributes),
            Root::Resource => (self.keys.first()?, &self.keys[1..], &mut e.resource),
        };
        let mut v = map.get_mut(first)?;
        for k in rest {
            v = match v {
                Value::Map(m) => m.get_mut(k)?,
                _ => return None,
            };
        }
        Some(v)
    }

    /// Sets the value: the body root is replaced; a map set on attributes/resource (root or
    /// nested) is merged key by key; missing or non-map parents become maps.
    pub fn set(&self, e: &mut Entry, value: Value) -> Result<(), String> {
        match self.root {
            Root::Body => {
                if self.keys.is_empty() {
                    e.body = value;
                    return Ok(());
                }
                if !matches!(e.body, Value::Map(_)) {
                    e.body = Value::Map(Map::new());
                }
                let Value::Map(m) = &mut e.body else {
                    unreachable!()
                };
                let (last, parents) = self.keys.split_last().expect("non-root");
                nested_map(m, parents).insert(last.clone(), value);
                Ok(())
            }
            Root::Attributes | Root::Resource => {
                let root = if self.root == Root::Attributes {
                    &mut e.attributes
                } else {
                    &mut e.resource
                };
                match value {
                    Value::Map(m) => {
                        let target = nested_map(root, &self.keys);
                        // Parsers usually write many keys into few (none, or the receiver's
                        // file name): take the parsed map whole and add the few old keys it
                        // does not have, rather than inserting each parsed key.
                        if target.len() < m.len() {
                            let old = std::mem::replace(target, m);
                            target.extend_missing(old);
                            return Ok(());
                        }
                        target.extend(m);
                        Ok(())
                    }
                    v => {
                        let Some((last, parents)) = self.keys.split_last() else {
                            return Err(format!("cannot set {self} to a value that is not a map"));
                        };
                        nested_map(root, parents).insert(last.clone(), v);
                        Ok(())
                    }
                }
            }
        }
    }

    /// Removes and returns the value.
    pub fn delete(&self, e: &mut Entry) -> Option<Value> {
        let map = match self.root {
            Root::Body => {
                let Some((last, parents)) = self.keys.split_last() else {
                    return Some(std::mem::take(&mut e.body));
                };
                let mut v = &mut e.body;
                for k in parents {
                    v = match v {
                        Value::Map(m) => m.get_mut(k)?,
                        _ => return None,
                    };
                }
                return match v {
                    Value::Map(m) => m.remove(last),
                    _ => None,
                };
            }
            Root::Attributes => &mut e.attributes,
            Root::Resource => &mut e.resource,
        };
        let Some((last, parents)) = self.keys.split_last() else {
            return Some(Value::Map(std::mem::take(map)));
        };
        let mut m = map;
        for k in parents {
            m = match m.get_mut(k)? {
                Value::Map(n) => n,
                _ => return None,
            };
        }
        m.remove(last)
    }
}

fn walk<'v>(mut v: &'v Value, keys: &[Key]) -> Option<&'v Value> {
    for k in keys {
        v = match v {
            Value::Map(m) => m.get(k)?,
            _ => return None,
        };
    }
    Some(v)
}

fn lookup<'m>(m: &'m Map, keys: &[Key]) -> Option<&'m Value> {
    let (first, rest) = keys.split_first()?;
    walk(m.get(first)?, rest)
}

fn get_in_map<'m>(m: &'m Map, keys: &[Key]) -> Option<Cow<'m, Value>> {
    if keys.is_empty() {
        return Some(Cow::Owned(Value::Map(m.clone())));
    }
    lookup(m, keys).map(Cow::Borrowed)
}

/// The map at `keys` under `m`, created (replacing non-map values) as needed.
fn nested_map<'m>(mut m: &'m mut Map, keys: &[Key]) -> &'m mut Map {
    for k in keys {
        let slot = m.get_or_insert_with(k.clone(), || Value::Map(Map::new()));
        if !matches!(slot, Value::Map(_)) {
            *slot = Value::Map(Map::new());
        }
        let Value::Map(n) = slot else { unreachable!() };
        m = n;
    }
    m
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Field::parse(&s).map_err(serde::de::Error::custom)
    }
}
