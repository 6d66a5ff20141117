//! [`Map`]: the entry's attributes, resource and structured bodies, as pairs in insertion
//! order in one `Vec`.
//!
//! Why not a `BTreeMap`: a parsed log line's map has a handful of keys, is built once and read
//! a few times. A B-tree sorted them (bulk build: sort, dedup, node allocation) and freed nodes
//! on drop, about a sixth of the receiver's instructions per line (callgrind, docs/benchmarks.md
//! "The operators path"); a `Vec` is the parser's pair list kept as it is. Lookups scan linearly
//! (a few short string comparisons); bulk merges of larger maps go through a hash index, so no
//! operation is quadratic in the number of keys. Order carries no meaning (Go's maps have none):
//! equality ignores it, and the output's attribute order is the order keys were added.

use std::collections::{HashMap, HashSet};

use crate::{Key, Value};

/// Past this many keys, bulk operations index keys by hash instead of scanning.
const SCAN_LIMIT: usize = 16;

/// A map of values: attributes, resource, a structured body.
#[derive(Clone, Default)]
pub struct Map {
    items: Vec<(Key, Value)>,
}

pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (Key, Value)>,
    fn(&'a (Key, Value)) -> (&'a Key, &'a Value),
>;
pub type IterMut<'a> = std::iter::Map<
    std::slice::IterMut<'a, (Key, Value)>,
    fn(&'a mut (Key, Value)) -> (&'a Key, &'a mut Value),
>;

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with_capacity(n: usize) -> Map {
        Map {
            items: Vec::with_capacity(n),
        }
    }

    /// A map of these pairs, kept in place when their keys are distinct (a parser's output);
    /// of duplicate keys the last value wins, as with Go's decoders.
    pub fn from_pairs(items: Vec<(Key, Value)>) -> Map {
        let distinct = if items.len() <= SCAN_LIMIT {
            (1..items.len()).all(|i| items[..i].iter().all(|(k, _)| *k != items[i].0))
        } else {
            let mut seen = HashSet::with_capacity(items.len());
            items.iter().all(|(k, _)| seen.insert(&**k))
        };
        if distinct {
            return Map { items };
        }
        let mut m = Map::with_capacity(items.len());
        m.extend(items);
        m
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    fn position(&self, k: &str) -> Option<usize> {
        self.items.iter().position(|(key, _)| **key == *k)
    }

    pub fn contains_key<Q: AsRef<str> + ?Sized>(&self, k: &Q) -> bool {
        self.position(k.as_ref()).is_some()
    }

    pub fn get<Q: AsRef<str> + ?Sized>(&self, k: &Q) -> Option<&Value> {
        let k = k.as_ref();
        self.items
            .iter()
            .find_map(|(key, v)| (**key == *k).then_some(v))
    }

    pub fn get_mut<Q: AsRef<str> + ?Sized>(&mut self, k: &Q) -> Option<&mut Value> {
        let k = k.as_ref();
        self.items
            .iter_mut()
            .find_map(|(key, v)| (**key == *k).then_some(v))
    }

    /// Sets `k` (in place if present); returns the old value.
    pub fn insert(&mut self, k: Key, v: Value) -> Option<Value> {
        match self.position(&k) {
            Some(i) => Some(std::mem::replace(&mut self.items[i].1, v)),
            None => {
                self.items.push((k, v));
                None
            }
        }
    }

    /// Removes `k`, keeping the order of the others.
    pub fn remove<Q: AsRef<str> + ?Sized>(&mut self, k: &Q) -> Option<Value> {
        let i = self.position(k.as_ref())?;
        Some(self.items.remove(i).1)
    }

    /// The value at `k`, inserted by `f` when absent.
    pub fn get_or_insert_with(&mut self, k: Key, f: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.position(&k) {
            Some(i) => i,
            None => {
                self.items.push((k, f()));
                self.items.len() - 1
            }
        };
        &mut self.items[i].1
    }

    pub fn retain(&mut self, mut f: impl FnMut(&Key, &mut Value) -> bool) {
        self.items.retain_mut(|(k, v)| f(k, v));
    }

    pub fn iter(&self) -> Iter<'_> {
        self.items.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> IterMut<'_> {
        self.items.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.items.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.items.iter().map(|(_, v)| v)
    }

    /// Adds the pairs whose keys are absent; present keys keep their values.
    pub fn extend_missing(&mut self, pairs: impl IntoIterator<Item = (Key, Value)>) {
        self.merge(pairs, false);
    }

    /// Sets every pair (`overwrite`) or only the absent ones, in one pass over `pairs`; past
    /// `SCAN_LIMIT` keys, through a hash index of the keys.
    fn merge(&mut self, pairs: impl IntoIterator<Item = (Key, Value)>, overwrite: bool) {
        let mut index: Option<HashMap<Key, usize>> = None;
        for (k, v) in pairs {
            if index.is_none() && self.items.len() > SCAN_LIMIT {
                let keys = self.items.iter().enumerate();
                index = Some(keys.map(|(i, (k, _))| (k.clone(), i)).collect());
            }
            let found = match &index {
                Some(ix) => ix.get(&k).copied(),
                None => self.position(&k),
            };
            match found {
                Some(i) if overwrite => self.items[i].1 = v,
                Some(_) => {}
                None => {
                    if let Some(ix) = &mut index {
                        ix.insert(k.clone(), self.items.len());
                    }
                    self.items.push((k, v));
                }
            }
        }
    }
}

impl Extend<(Key, Value)> for Map {
    /// Sets every pair (later pairs win over earlier ones and over present keys).
    fn extend<I: IntoIterator<Item = (Key, Value)>>(&mut self, pairs: I) {
        self.merge(pairs, true);
    }
}

impl FromIterator<(Key, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Key, Value)>>(pairs: I) -> Map {
        Map::from_pairs(pairs.into_iter().collect())
    }
}

impl IntoIterator for Map {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Map {
    type Item = (&'a Key, &'a mut Value);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl<Q: AsRef<str> + ?Sized> std::ops::Index<&Q> for Map {
    type Output = Value;
    /// The value at `k`; panics when absent, as `BTreeMap`'s (for tests and known keys).
    fn index(&self, k: &Q) -> &Value {
        self.get(k).expect("key present in Map")
    }
}

impl PartialEq for Map {
    /// Same keys with equal values, in any order.
    fn eq(&self, other: &Map) -> bool {
        if self.items.len() != other.items.len() {
            return false;
        }
        // Usually built the same way, so in the same order: one pass.
        if self.items == other.items {
            return true;
        }
        if self.items.len() > SCAN_LIMIT {
            let theirs: HashMap<&str, &Value> =
                other.items.iter().map(|(k, v)| (&**k, v)).collect();
            return theirs.len() == other.items.len()
                && self.items.iter().all(|(k, v)| theirs.get(&**k) == Some(&v));
        }
        self.items.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl std::fmt::Debug for Map {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn last_duplicate_wins_small_and_large() {
        for n in [3usize, 40] {
            let mut pairs: Vec<(Key, Value)> = (0..n)
                .map(|i| (i.to_string().into(), Value::Int(i as i64)))
                .collect();
            pairs.push(("1".into(), s("again")));
            let m = Map::from_pairs(pairs);
            assert_eq!(m.len(), n);
            assert_eq!(m.get("1"), Some(&s("again")));
            assert_eq!(m.get("0"), Some(&Value::Int(0)));
        }
    }

    #[test]
    fn equality_ignores_order() {
        let a: Map = [("a".into(), s("1")), ("b".into(), s("2"))]
            .into_iter()
            .collect();
        let b: Map = [("b".into(), s("2")), ("a".into(), s("1"))]
            .into_iter()
            .collect();
        assert_eq!(a, b);
        let c: Map = [("b".into(), s("2")), ("a".into(), s("x"))]
            .into_iter()
            .collect();
        assert_ne!(a, c);
        let big = |rev: bool| -> Map {
            let mut v: Vec<(Key, Value)> = (0..50)
                .map(|i| (i.to_string().into(), Value::Int(i)))
                .collect();
            if rev {
                v.reverse();
            }
            Map::from_pairs(v)
        };
        assert_eq!(big(false), big(true));
    }

    #[test]
    fn merges_overwrite_or_keep() {
        for n in [2i64, 30] {
            let mut m: Map = (0..n)
                .map(|i| (i.to_string().into(), Value::Int(i)))
                .collect();
            m.extend_missing([("0".into(), s("no")), ("new".into(), s("yes"))]);
            assert_eq!(m.get("0"), Some(&Value::Int(0)));
            assert_eq!(m.get("new"), Some(&s("yes")));
            m.extend([("0".into(), s("over"))]);
            assert_eq!(m.get("0"), Some(&s("over")));
            assert_eq!(m.len(), n as usize + 1);
            assert_eq!(m.remove("0"), Some(s("over")));
            assert_eq!(m.insert("1".into(), s("x")), Some(Value::Int(1)));
            assert_eq!(m.len(), n as usize);
        }
    }
}
