//! The parsed configuration tree: YAML values that remember where they came from.
//!
//! serde's YAML crates drop source positions, and a user needs `config.yaml:12` in an error,
//! so configs are parsed with yaml-rust2's event API into this small tree. Typed component
//! configs are deserialized from it afterwards (see `Node::deserialize`).

use std::fmt;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File name or source description (`yaml:` inline value, `env:VAR`).
    pub source: Arc<str>,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// A configuration value with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub location: Option<Location>,
}

/// A configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string; `quoted` strings are never re-typed after environment expansion.
    Str {
        value: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// A mapping, in file order. Keys are scalars' text.
    Map(Vec<(String, Node)>),
}

impl Default for Node {
    fn default() -> Self {
        Node::empty_map()
    }
}

impl Node {
    pub fn new(value: Value) -> Self {
        Node {
            value,
            location: None,
        }
    }

    pub fn empty_map() -> Self {
        Node::new(Value::Map(Vec::new()))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Follows a path of mapping keys and sequence indices (`["receivers", "otlp"]`).
    pub fn at(&self, path: &[PathSegment]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match (seg, &node.value) {
                (PathSegment::Key(k), Value::Map(_)) => node.get(k)?,
                (PathSegment::Index(i), Value::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Merges `other` over `self` as the Go Collector merges config sources: mappings merge
    /// key by key, recursively; anything else (scalars, sequences) is replaced.
    pub fn merge(&mut self, other: Node) {
        match (&mut self.value, other.value) {
            (Value::Map(mine), Value::Map(theirs)) => {
                for (key, value) in theirs {
                    match mine.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, existing)) => existing.merge(value),
                        None => mine.push((key, value)),
                    }
                }
            }
            (_, value) => {
                self.value = value;
                self.location = other.location;
            }
        }
    }

    /// The value as JSON, for deserializing typed configs with serde.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str { value, .. } => J::String(value.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// One step of a config path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// Formats a path as the Go Collector does: `service::pipelines::traces::processors[1]`.
pub fn format_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSegment::Key(k) => {
                if !out.is_empty() {
                    out.push_str("::");
                }
                out.push_str(k);
            }
            PathSegment::Index(i) => {
                out.push_str(&format!("[{i}]"));
            }
        }
    }
    out
}

/// Resolves a plain (unquoted) YAML scalar by the YAML 1.2 core schema.
pub fn resolve_plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(Ok(i)) = text.strip_prefix("0x").map(|h| i64::from_str_radix(h, 16)) {
        return Value::Int(i);
    }
    if let Some(Ok(i)) = text.strip_prefix("0o").map(|o| i64::from_str_radix(o, 8)) {
        return Value::Int(i);
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE_".contains(&b));
    if numeric && text.bytes().any(|b| b.is_ascii_digit()) {
        // Go's YAML decoder (yaml.v3) drops underscores in numbers, as YAML 1.1 did:
        // `65_536` is an integer in the Collector's configs.
        let digits = text.replace('_', "");
        if let Ok(i) = digits.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(f) = digits.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str {
        value: text.to_string(),
        quoted: false,
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{source_name}:{line}:{col}: invalid YAML: {message}")]
pub struct YamlError {
    pub source_name: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parses one YAML document into a [`Node`]. An empty document is an empty mapping.
pub fn parse_yaml(text: &str, source_name: &str) -> Result<Node, YamlError> {
    let source: Arc<str> = Arc::from(source_name);
    let mut builder = TreeBuilder {
        source: source.clone(),
        stack: Vec::new(),
        root: None,
        anchors: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| YamlError {
        source_name: source_name.to_string(),
        line: e.marker().line(),
        col: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    if let Some(message) = builder.error {
        return Err(YamlError {
            source_name: source_name.to_string(),
            line: 0,
            col: 0,
            message,
        });
    }
    Ok(builder.root.unwrap_or_else(Node::empty_map))
}

enum Frame {
    Seq {
        node_start: Location,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        node_start: Location,
        anchor: usize,
        entries: Vec<(String, Node)>,
        key: Option<String>,
    },
}

struct TreeBuilder {
    source: Arc<str>,
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: Vec<(usize, Node)>,
    error: Option<String>,
}

impl TreeBuilder {
    fn location(&self, mark: Marker) -> Location {
        Location {
            source: self.source.clone(),
            line: mark.line(),
        }
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    // A key: keys are scalars in collector configs.
                    let text = match node.value {
                        Value::Str { value, .. } => value,
                        Value::Null => String::new(),
                        Value::Bool(b) => b.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            self.error
                                .get_or_insert_with(|| "mapping keys must be scalars".into());
                            String::new()
                        }
                    };
                    *key = Some(text);
                }
                Some(k) => {
                    if entries.iter().any(|(existing, _)| *existing == k) {
                        let at = node
                            .location
                            .as_ref()
                            .map(|l| format!(" at {l}"))
                            .unwrap_or_default();
                        self.error
                            .get_or_insert_with(|| format!("duplicate key {k:?}{at}"));
                    }
                    entries.push((k, node));
                }
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let value = if style == TScalarStyle::Plain {
                    resolve_plain_scalar(&text)
                } else {
                    Value::Str {
                        value: text,
                        quoted: true,
                    }
                };
                let location = Some(self.location(mark));
                self.push_value(Node { value, location }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let node_start = self.location(mark);
                self.stack.push(Frame::Seq {
                    node_start,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _) => {
                let node_start = self.location(mark);
                self.stack.push(Frame::Map {
                    node_start,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    node_start,
                    anchor,
                    items,
                }) = self.stack.pop()
                {
                    self.push_value(
                        Node {
                            value: Value::Seq(items),
                            location: Some(node_start),
                        },
                        anchor,
                    );
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    node_start,
                    anchor,
                    entries,
                    ..
                }) = self.stack.pop()
                {
                    self.push_value(
                        Node {
                            value: Value::Map(entries),
                            location: Some(node_start),
                        },
                        anchor,
                    );
                }
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone());
                match node {
                    Some(n) => self.push_value(n, 0),
                    None => {
                        self.error
                            .get_or_insert_with(|| "alias to an unknown anchor".into());
                    }
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_underscores_are_numbers_as_in_go() {
        assert_eq!(resolve_plain_scalar("65_536"), Value::Int(65536));
        assert_eq!(resolve_plain_scalar("1_000.5"), Value::Float(1000.5));
        assert_eq!(resolve_plain_scalar("-1_0"), Value::Int(-10));
        assert!(matches!(resolve_plain_scalar("_"), Value::Str { .. }));
        assert!(matches!(resolve_plain_scalar("a_1"), Value::Str { .. }));
    }

    #[test]
    fn parses_with_locations() {
        let n = parse_yaml("a:\n  b: 1\n  c: \"2\"\n  d: [x, 3.5, true, ~]\n", "t.yaml").unwrap();
        let b = n.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.value, Value::Int(1));
        assert_eq!(b.location.as_ref().unwrap().to_string(), "t.yaml:2");
        assert_eq!(
            n.get("a").unwrap().get("c").unwrap().value,
            Value::Str {
                value: "2".into(),
                quoted: true
            }
        );
        let Value::Seq(d) = &n.get("a").unwrap().get("d").unwrap().value else {
            panic!()
        };
        assert_eq!(d[1].value, Value::Float(3.5));
        assert_eq!(d[2].value, Value::Bool(true));
        assert_eq!(d[3].value, Value::Null);
    }

    #[test]
    fn empty_document_is_empty_map() {
        assert_eq!(parse_yaml("", "x").unwrap(), Node::empty_map());
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse_yaml("a: [1, 2\nb: 3\n", "bad.yaml").unwrap_err();
        assert!(e.to_string().starts_with("bad.yaml:"), "{e}");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let e = parse_yaml("a: 1\na: 2\n", "d.yaml").unwrap_err();
        assert!(e.to_string().contains("duplicate key \"a\""), "{e}");
    }

    #[test]
    fn merge_maps_recursively_and_replaces_lists() {
        let mut a = parse_yaml("x: {y: 1, z: [1, 2]}\nk: v\n", "a").unwrap();
        let b = parse_yaml("x: {y: 2, z: [3]}\nn: 1\n", "b").unwrap();
        a.merge(b);
        assert_eq!(
            a.at(&[PathSegment::Key("x".into()), PathSegment::Key("y".into())])
                .unwrap()
                .value,
            Value::Int(2)
        );
        let Value::Seq(z) = &a.get("x").unwrap().get("z").unwrap().value else {
            panic!()
        };
        assert_eq!(z.len(), 1);
        assert!(a.get("k").is_some() && a.get("n").is_some());
    }

    #[test]
    fn anchors_and_aliases() {
        let n = parse_yaml("a: &x {b: 1}\nc: *x\n", "t").unwrap();
        assert_eq!(n.get("c").unwrap().get("b").unwrap().value, Value::Int(1));
    }
}
