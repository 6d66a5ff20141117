//! json_parser, regex_parser, key_value_parser, csv_parser, json_array_parser and the
//! standalone time_parser, severity_parser, trace_parser, scope_name_parser.

use serde::Deserialize;

use super::{
    Ctx, Failure, FromKey, Operator, Out, ParserCore, TraceConfig, TraceParser, parse_scope_name,
};
use crate::field::Field;
use crate::severity::{SeverityConfig, SeverityParser};
use crate::time::{TimeConfig, TimeParser};
use crate::{BuildError, Entry, Key, Map, Value};

/// A parser: the shared keys plus how to turn the `parse_from` value into the parsed value.
#[derive(Debug)]
struct Parser<P> {
    core: ParserCore,
    parse: P,
}

trait Parse: std::fmt::Debug + Send {
    fn parse(&mut self, v: &Value) -> Result<Value, String>;
}

impl<P: Parse> Operator for Parser<P> {
    fn process(&mut self, e: Entry, out: &mut Out) -> Result<(), Failure> {
        let parse = &mut self.parse;
        let e = self.core.run(e, |v| parse.parse(v))?;
        out.push((0, e));
        Ok(())
    }
}

fn text<'v>(v: &'v Value, what: &str) -> Result<&'v str, String> {
    match v {
        Value::Str(s) => Ok(s),
        Value::Bytes(b) => std::str::from_utf8(b).map_err(|e| e.to_string()),
        o => Err(format!(
            "type {} cannot be parsed as {what}",
            crate::value_type(o)
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonConfig {
    #[serde(default)]
    parse_ints: bool,
}

#[derive(Debug)]
struct Json {
    parser: crate::json::JsonParser,
}

impl Parse for Json {
    fn parse(&mut self, v: &Value) -> Result<Value, String> {
        let s = text(v, "JSON")?;
        match self.parser.parse(s)? {
            m @ Value::Map(_) => Ok(m),
            other => Err(format!(
                "json: cannot unmarshal {} into a map",
                crate::value_type(&other)
            )),
        }
    }
}

pub(super) fn json(ctx: &mut Ctx, core: ParserCore) -> Result<Box<dyn Operator>, BuildError> {
    let c: JsonConfig = ctx.config()?;
    Ok(Box::new(Parser {
        core,
        parse: Json {
            parser: crate::json::JsonParser::new(c.parse_ints),
        },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexConfig {
    regex: String,
    /// Go caches parse results per input; accepted, not needed here (matching is cheap).
    #[serde(default)]
    #[allow(dead_code)]
    cache: Option<serde_json::Value>,
}

#[derive(Debug)]
pub(super) struct RegexParse {
    re: regex::Regex,
    names: Vec<(usize, Key)>,
}

impl RegexParse {
    pub(super) fn new(pattern: &str) -> Result<RegexParse, String> {
        let re = regex::Regex::new(pattern).map_err(|e| format!("compiling regex: {e}"))?;
        let names: Vec<(usize, Key)> = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (i, n.into())))
            .collect();
        if names.is_empty() {
            return Err("no named capture groups in regex pattern".into());
        }
        Ok(RegexParse { re, names })
    }

    pub(super) fn matches(&self, s: &str) -> Result<Map, String> {
        let caps = self.re.captures(s).ok_or("regex pattern does not match")?;
        Ok(self
            .names
            .iter()
            .map(|(i, n)| {
                (
                    n.clone(),
                    Value::Str(caps.get(*i).map(|m| m.as_str()).unwrap_or("").to_string()),
                )
            })
            .collect())
    }
}

impl Parse for RegexParse {
    fn parse(&mut self, v: &Value) -> Result<Value, String> {
        self.matches(text(v, "regex")?).map(Value::Map)
    }
}

pub(super) fn regex(ctx: &mut Ctx, core: ParserCore) -> Result<Box<dyn Operator>, BuildError> {
    let c: RegexConfig = ctx.config()?;
    let parse = RegexParse::new(&c.regex).map_err(|m| ctx.err("regex", m))?;
    Ok(Box::new(Parser { core, parse }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KvConfig {
    #[serde(default = "eq")]
    delimiter: String,
    #[serde(default)]
    pair_delimiter: String,
}

fn eq() -> String {
    "=".into()
}

#[derive(Debug)]
struct KeyValue {
    delimiter: String,
    pair_delimiter: String,
}

/// Splits on `delim` outside quotes, dropping the quote characters and empty pieces, as Go's
/// `parseutils.SplitString`; an unclosed quote is an error.
fn split_pairs(s: &str, delim: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if quote.is_none() && rest.starts_with(delim) {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            rest = &rest[delim.len()..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match quote {
            None if c == '"' || c == '\'' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ => current.push(c),
        }
    }
    if quote.is_some() {
        return Err(
            "failed to parse pairs from input: never reached the end of a quoted value".into(),
        );
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

impl Parse for KeyValue {
    fn parse(&mut self, v: &Value) -> Result<Value, String> {
        let s = text(v, "key value pairs")?;
        if s.is_empty() {
            return Err("parse from field is empty".into());
        }
        let mut m = Map::new();
        let mut errors = Vec::new();
        for raw in split_pairs(s, &self.pair_delimiter)? {
            match raw.split_once(self.delimiter.as_str()) {
                Some((k, v)) => {
                    m.insert(k.trim().into(), Value::Str(v.trim().to_string()));
                }
                None => errors.push(format!("cannot split {raw:?} into 2 items, got 1 item(s)")),
            }
        }
        if errors.is_empty() {
            Ok(Value::Map(m))
        } else {
            Err(errors.join("; "))
        }
    }
}

pub(super) fn key_value(ctx: &mut Ctx, core: ParserCore) -> Result<Box<dyn Operator>, BuildError> {
    let c: KvConfig = ctx.config()?;
    if c.delimiter.is_empty() {
        return Err(ctx.err("delimiter", "delimiter is a required parameter"));
    }
    // Go's default pair delimiter is one space.
    let pair_delimiter = if c.pair_delimiter.is_empty() {
        " ".to_string()
    } else {
        c.pair_delimiter
    };
    if c.delimiter == pair_delimiter {
        return Err(ctx.err(
            "pair_delimiter",
            "delimiter and pair_delimiter cannot be the same value",
        ));
    }
    Ok(Box::new(Parser {
        core,
        parse: KeyValue {
            delimiter: c.delimiter,
            pair_delimiter,
        },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvConfig {
    header: Option<String>,
    header_delimiter: Option<String>,
    header_attribute: Option<String>,
    delimiter: Option<String>,
    #[serde(default)]
    lazy_quotes: bool,
    #[serde(default)]
    ignore_quotes: bool,
}

#[derive(Debug)]
struct Csv {
    header: Option<Vec<String>>,
    header_attribute: Option<String>,
    header_delimiter: char,
    delimiter: char,
    lazy_quotes: bool,
    ignore_quotes: bool,
}

/// One CSV record as Go's `encoding/csv` reads it (quoted fields, `""` escapes, lazy quotes).
fn csv_fields(s: &str, delim: char, lazy: bool) -> Result<Vec<String>, String> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let s = s.strip_suffix('\r').unwrap_or(s);
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut f = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None if lazy => break,
                    None => return Err("extraneous or missing \" in quoted-field".into()),
                    Some('"') => match chars.peek() {
                        Some('"') => {
                            chars.next();
                            f.push('"');
                        }
                        Some(c) if *c == delim => break,
                        None => break,
                        Some(_) if lazy => f.push('"'),
                        Some(_) => return Err("extraneous or missing \" in quoted-field".into()),
                    },
                    Some(c) => f.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == delim {
                    break;
                }
                if c == '"' && !lazy {
                    return Err("bare \" in non-quoted-field".into());
                }
                f.push(c);
                chars.next();
            }
        }
        fields.push(f);
        match chars.next() {
            Some(c) if c == delim => continue,
            _ => break,
        }
    }
    Ok(fields)
}

impl Csv {
    fn parse_with(&self, v: &Value, dynamic: Option<&Value>) -> Result<Value, String> {
        let s = text(v, "csv")?;
        let dyn_header;
        let header: &[String] = match (&self.header, dynamic) {
            (Some(h), _) => h,
            (None, Some(Value::Str(h))) => {
                dyn_header = h
                    .split(self.header_delimiter)
                    .map(str::to_string)
                    .collect::<Vec<_>>();
                &dyn_header
            }
            (None, _) => {
                return Err(format!(
                    "failed to read dynamic header attribute {}",
                    self.header_attribute.as_deref().unwrap_or("")
                ));
            }
        };
        let fields: Vec<String> = if self.ignore_quotes {
            s.split(self.delimiter).map(str::to_string).collect()
        } else {
            csv_fields(s, self.delimiter, self.lazy_quotes)?
        };
        if fields.len() != header.len() {
            return Err(format!(
                "wrong number of fields: expected {}, found {}",
                header.len(),
                fields.len()
            ));
        }
        Ok(Value::Map(
            header
                .iter()
                .map(|h| Key::from(h.as_str()))
                .zip(fields.into_iter().map(Value::Str))
                .collect(),
        ))
    }
}

#[derive(Debug)]
struct CsvOp {
    core: ParserCore,
    csv: Csv,
}

impl Operator for CsvOp {
    fn process(&mut self, e: Entry, out: &mut Out) -> Result<(), Failure> {
        let dynamic = self
            .csv
            .header_attribute
            .as_ref()
            .map(|a| e.attributes.get(a.as_str()).cloned().unwrap_or_default());
        let e = self
            .core
            .run(e, |v| self.csv.parse_with(v, dynamic.as_ref()))?;
        out.push((0, e));
        Ok(())
    }
}

fn one_char(ctx: &Ctx, key: &str, s: &str) -> Result<char, BuildError> {
    let mut c = s.chars();
    match (c.next(), c.next()) {
        (Some(ch), None) => Ok(ch),
        _ => Err(ctx.err(key, "must be a single character")),
    }
}

pub(super) fn csv(ctx: &mut Ctx, core: ParserCore) -> Result<Box<dyn Operator>, BuildError> {
    let c: CsvConfig = ctx.config()?;
    let delimiter = one_char(ctx, "delimiter", c.delimiter.as_deref().unwrap_or(","))?;
    let header_delimiter = match &c.header_delimiter {
        Some(h) => one_char(ctx, "header_delimiter", h)?,
        None => delimiter,
    };
    if c.lazy_quotes && c.ignore_quotes {
        return Err(ctx.err(
            "ignore_quotes",
            "only one of 'ignore_quotes' or 'lazy_quotes' can be true",
        ));
    }
    let header = match (&c.header, &c.header_attribute) {
        (Some(_), Some(_)) => {
            return Err(ctx.err(
                "header",
                "only one header parameter can be set: 'header' or 'header_attribute'",
            ));
        }
        (None, None) => return Err(ctx.err("header", "missing header field")),
        (Some(h), None) => {
            if !h.contains(header_delimiter) && h.is_empty() {
                return Err(ctx.err("header", "missing header field"));
            }
            Some(h.split(header_delimiter).map(str::to_string).collect())
        }
        (None, Some(_)) => None,
    };
    let csv = Csv {
        header,
        header_attribute: c.header_attribute,
        header_delimiter,
        delimiter,
        lazy_quotes: c.lazy_quotes,
        ignore_quotes: c.ignore_quotes,
    };
    Ok(Box::new(CsvOp { core, csv }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonArrayConfig {
    header: Option<String>,
}

#[derive(Debug)]
struct JsonArray {
    header: Option<Vec<String>>,
}

/// As Go's fastjson-based parser: integers (0 for other numbers), nested objects as JSON text,
/// nested arrays are errors.
fn array_item(v: serde_json::Value) -> Result<Value, String> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Int(n.as_i64().unwrap_or(0)),
        serde_json::Value::String(s) => Value::Str(s),
        o @ serde_json::Value::Object(_) => Value::Str(o.to_string()),
        serde_json::Value::Array(_) => return Err("failed to parse entry".into()),
    })
}

impl Parse for JsonArray {
    fn parse(&mut self, v: &Value) -> Result<Value, String> {
        let s = text(v, "json array")?;
        let parsed: serde_json::Value =
            serde_json::from_str(s).map_err(|_| "failed to parse entry".to_string())?;
        let items = match parsed {
            serde_json::Value::Array(a) => a,
            _ => Vec::new(),
        };
        match &self.header {
            None => Ok(Value::Array(
                items
                    .into_iter()
                    .map(array_item)
                    .collect::<Result<_, _>>()?,
            )),
            Some(h) => {
                if h.len() != items.len() {
                    return Err(format!(
                        "wrong number of fields: expected {}, found {}",
                        h.len(),
                        items.len()
                    ));
                }
                let mut m = Map::new();
                for (k, v) in h.iter().zip(items) {
                    m.insert(k.as_str().into(), array_item(v)?);
                }
                Ok(Value::Map(m))
            }
        }
    }
}

pub(super) fn json_array(
    ctx: &mut Ctx,
    mut core: ParserCore,
) -> Result<Box<dyn Operator>, BuildError> {
    let c: JsonArrayConfig = ctx.config()?;
    let header = c
        .header
        .map(|h| h.split(',').map(str::to_string).collect::<Vec<_>>());
    // Without a header the result is an array, which only the body can hold.
    if header.is_none() && core.parse_to == Field::attributes() {
        core.parse_to = Field::body();
    }
    Ok(Box::new(Parser {
        core,
        parse: JsonArray { header },
    }))
}

#[derive(Debug)]
struct TimeOp(TimeParser);
impl Operator for TimeOp {
    fn process(&mut self, mut e: Entry, out: &mut Out) -> Result<(), Failure> {
        if let Err(m) = self.0.parse(&mut e) {
            return Err((e, m));
        }
        out.push((0, e));
        Ok(())
    }
}

pub(super) fn time(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: TimeConfig = ctx.config()?;
    let p = TimeParser::build(&c, Some(&Field::body())).map_err(|(k, m)| ctx.err(&k, m))?;
    Ok(Box::new(TimeOp(p)))
}

#[derive(Debug)]
struct SeverityOp(SeverityParser);
impl Operator for SeverityOp {
    fn process(&mut self, mut e: Entry, out: &mut Out) -> Result<(), Failure> {
        if let Err(m) = self.0.parse(&mut e) {
            return Err((e, m));
        }
        out.push((0, e));
        Ok(())
    }
}

pub(super) fn severity(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: SeverityConfig = ctx.config()?;
    let p = SeverityParser::build(&c, Some(&Field::body())).map_err(|(k, m)| ctx.err(&k, m))?;
    Ok(Box::new(SeverityOp(p)))
}

#[derive(Debug)]
struct TraceOp(TraceParser);
impl Operator for TraceOp {
    fn process(&mut self, mut e: Entry, out: &mut Out) -> Result<(), Failure> {
        if let Err(m) = self.0.parse(&mut e) {
            return Err((e, m));
        }
        out.push((0, e));
        Ok(())
    }
}

pub(super) fn trace(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: TraceConfig = ctx.config()?;
    Ok(Box::new(TraceOp(TraceParser::new(&c))))
}

#[derive(Debug)]
struct ScopeOp(Field);
impl Operator for ScopeOp {
    fn process(&mut self, mut e: Entry, out: &mut Out) -> Result<(), Failure> {
        if let Err(m) = parse_scope_name(&self.0, &mut e) {
            return Err((e, m));
        }
        out.push((0, e));
        Ok(())
    }
}

pub(super) fn scope_name(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: FromKey = ctx.config()?;
    Ok(Box::new(ScopeOp(c.parse_from.unwrap_or_else(Field::body))))
}
