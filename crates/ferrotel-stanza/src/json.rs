//! JSON text straight into [`Value`]: a focused parser (RFC 8259, as strict as Go's decoder)
//! that builds the entry's maps directly and interns keys. Numbers become doubles (as Go's
//! `map[string]any`), unless `parse_ints`; `null` is [`Value::Null`]; of duplicate keys the
//! last wins; a lone UTF-16 surrogate in a `\u` escape becomes U+FFFD, as Go decodes it.
//!
//! Hand-written rather than serde_json with a visitor because of the keys: lines of one log
//! format repeat the same keys, and [`Keys`] hands out the shared [`Key`] of an earlier line
//! after a byte comparison, where serde's `next_key::<String>` allocates each one. Measured
//! (callgrind, the `hot_loop` bench, docs/benchmarks.md "Log operators") cheaper per line
//! than the serde_json visitor it replaced.

use std::collections::HashMap;

use crate::{Key, Map, Value};

/// Nesting deeper than this is an error (serde_json's default limit, which this replaced).
const MAX_DEPTH: usize = 128;
/// Distinct keys kept for reuse; past that, new keys are allocated each time (high-cardinality
/// keys must not grow the cache without bound).
const MAX_KEYS: usize = 1024;

/// Keys seen before, in order of first appearance, and an index for the ones out of order.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    seen: Vec<Key>,
    index: HashMap<Key, usize>,
    /// Where the next key of a same-shaped line is expected in `seen`.
    next: usize,
}

impl Keys {
    fn get(&mut self, k: &str) -> Key {
        // Same keys in the same order as the line before: one comparison.
        if let Some(c) = self.seen.get(self.next)
            && **c == *k
        {
            self.next += 1;
            return c.clone();
        }
        if let Some(&i) = self.index.get(k) {
            self.next = i + 1;
            return self.seen[i].clone();
        }
        let key: Key = k.into();
        if self.seen.len() < MAX_KEYS {
            self.index.insert(key.clone(), self.seen.len());
            self.seen.push(key.clone());
            self.next = self.seen.len();
        }
        key
    }
}

/// A JSON parser with its key cache (one per operator: not shared between threads).
#[derive(Debug, Default)]
pub(crate) struct JsonParser {
    pub parse_ints: bool,
    keys: Keys,
    /// Unescaped text of a string with escapes.
    scratch: String,
}

impl JsonParser {
    pub fn new(parse_ints: bool) -> JsonParser {
        JsonParser {
            parse_ints,
            ..JsonParser::default()
        }
    }

    /// Parses one JSON document (surrounding whitespace allowed).
    pub fn parse(&mut self, text: &str) -> Result<Value, String> {
        self.keys.next = 0;
        let mut c = Cursor {
            s: text,
            b: text.as_bytes(),
            pos: 0,
            p: self,
        };
        let v = c.value(0)?;
        c.ws();
        if c.pos < c.b.len() {
            return Err(c.err("trailing characters"));
        }
        Ok(v)
    }
}

/// A string's text: a range of the input when it has no escapes, else the parser's scratch.
enum Text {
    Input(usize, usize),
    Scratch,
}

/// The index of the first byte at or after `pos` that ends a run of plain string text (`"`,
/// `\\` or a control character), or `b.len()`. Eight bytes per step (SWAR): string text is
/// most of a JSON log line, and a byte-at-a-time loop was the parser's largest cost.
pub(crate) fn plain_run(b: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit set in each byte equal to zero (exact for the lowest such byte, which is all
    // that is used: borrows only propagate upward).
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    while let Some(chunk) = b.get(pos..pos + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let hits = zero(w ^ (ONES * b'"' as u64))
            | zero(w ^ (ONES * b'\\' as u64))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if hits != 0 {
            return pos + (hits.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&c) = b.get(pos) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    p: &'a mut JsonParser,
}

impl Cursor<'_> {
    fn err(&self, what: &str) -> String {
        format!("json: {what} at offset {}", self.pos)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn lit(&mut self, word: &[u8], v: Value) -> Result<Value, String> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.ws();
        match self.b.get(self.pos) {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                self.pos += 1;
                let t = self.string()?;
                Ok(Value::Str(match t {
                    Text::Input(a, z) => self.s[a..z].to_owned(),
                    Text::Scratch => self.p.scratch.clone(),
                }))
            }
            Some(b't') => self.lit(b"true", Value::Bool(true)),
            Some(b'f') => self.lit(b"false", Value::Bool(false)),
            Some(b'n') => self.lit(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.pos += 1;
        let mut pairs: Vec<(Key, Value)> = Vec::with_capacity(8);
        self.ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Map(Map::new()));
        }
        loop {
            self.ws();
            if self.b.get(self.pos) != Some(&b'"') {
                return Err(self.err("expected a string key"));
            }
            self.pos += 1;
            let key = match self.string()? {
                Text::Input(a, z) => self.p.keys.get(&self.s[a..z]),
                Text::Scratch => {
                    let p = &mut *self.p;
                    p.keys.get(&p.scratch)
                }
            };
            self.ws();
            if self.b.get(self.pos) != Some(&b':') {
                return Err(self.err("expected ':'"));
            }
            self.pos += 1;
            let v = self.value(depth)?;
            pairs.push((key, v));
            self.ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    // The pair list is the map (the last of duplicate keys wins, as Go's).
                    return Ok(Value::Map(Map::from_pairs(pairs)));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.pos += 1;
        let mut out = Vec::new();
        self.ws();
        if self.b.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Array(out));
        }
        loop {
            out.push(self.value(depth)?);
            self.ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(out));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    /// Reads a string whose opening quote was consumed: a range of the input when it has no
    /// escapes, else unescaped into the parser's scratch buffer. Ranges end at ASCII bytes,
    /// so slicing the input `&str` with them cannot split a character.
    fn string(&mut self) -> Result<Text, String> {
        let start = self.pos;
        self.pos = plain_run(self.b, self.pos);
        match self.b.get(self.pos) {
            None => return Err(self.err("unterminated string")),
            Some(b'"') => {
                self.pos += 1;
                return Ok(Text::Input(start, self.pos - 1));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.err("control character in string")),
        }
        let mut out = std::mem::take(&mut self.p.scratch);
        out.clear();
        out.push_str(&self.s[start..self.pos]);
        let r = self.unescape_rest(&mut out);
        self.p.scratch = out;
        r.map(|()| Text::Scratch)
    }

    fn unescape_rest(&mut self, out: &mut String) -> Result<(), String> {
        loop {
            let run = self.pos;
            self.pos = plain_run(self.b, self.pos);
            out.push_str(&self.s[run..self.pos]);
            match self.b.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {}
                Some(_) => return Err(self.err("control character in string")),
            }
            self.pos += 1;
            let Some(&e) = self.b.get(self.pos) else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match e {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let c = if (0xD800..0xDC00).contains(&hi)
                        && self.b[self.pos..].starts_with(b"\\u")
                    {
                        // A pair only if the next escape is a low surrogate; else, as Go, the
                        // lone one becomes U+FFFD and the next escape is read on its own.
                        let save = self.pos;
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        } else {
                            self.pos = save;
                            None
                        }
                    } else {
                        char::from_u32(hi)
                    };
                    out.push(c.unwrap_or('\u{FFFD}'));
                }
                _ => return Err(self.err("invalid escape")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(h) = self.b.get(self.pos..self.pos + 4) else {
            return Err(self.err("invalid \\u escape"));
        };
        let mut v = 0u32;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.b.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if self.b[self.pos] == b'-' {
            self.pos += 1;
        }
        let int_start = self.pos;
        let n = self.digits();
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return Err(self.err("invalid number"));
        }
        let mut integer = true;
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
            integer = false;
        }
        if let Some(b'e' | b'E') = self.b.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.b.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
            integer = false;
        }
        let text = &self.s[start..self.pos];
        if integer
            && self.p.parse_ints
            && let Ok(i) = text.parse::<i64>()
        {
            return Ok(Value::Int(i));
        }
        // Rust's float parsing rounds correctly, as Go's strconv.ParseFloat does.
        match text.parse::<f64>() {
            Ok(d) if d.is_finite() => Ok(Value::Double(d)),
            _ => Err(self.err("number out of range")),
        }
    }
}

/// A config value (YAML through serde_json) as a [`Value`]: integers stay integers.
pub(crate) fn from_config(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Double(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(from_config).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.as_str().into(), from_config(v)))
                .collect(),
        ),
    }
}

/// A value written as JSON (for `EXPR` string conversions and nested values kept as text).
pub(crate) fn to_json(v: &Value) -> String {
    fn conv(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Double(d) => serde_json::Number::from_f64(*d)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => s.clone().into(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned().into(),
            Value::Array(a) => a.iter().map(conv).collect(),
            Value::Map(m) => m.iter().map(|(k, v)| (k.to_string(), conv(v))).collect(),
        }
    }
    conv(v).to_string()
}
