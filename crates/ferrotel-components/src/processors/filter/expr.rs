//! The legacy metrics filter's `match_type: expr`: expressions in the expr language (the Go
//! Collector compiles them with expr-lang/expr), evaluated once per data point with
//! `MetricName`, `MetricType` (`Gauge`, `Sum`, `Histogram`, `ExponentialHistogram`,
//! `Summary`), `HasLabel(key)` and `Label(key)` (the point's attribute as a string, "" when
//! missing or not a string). A metric matches when any expression is true for any point.
//!
//! The subset of the language these filters use is implemented here (no expr crate for Rust
//! reads expr-lang): literals (strings in either quote, ints, floats, booleans, `nil`,
//! arrays), `not`/`!`, `and`/`&&`, `or`/`||`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`,
//! `not in`, `matches`, `contains`, `startsWith`, `endsWith`, `+ - * / %` and parentheses.
//! Anything else is a compile error naming the column. Expressions are compiled once, at
//! startup; regular expressions given as literals too.

use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{Metric, metric::Data};
use regex::Regex;

/// A value of the expr language.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<V>),
}

impl V {
    fn type_name(&self) -> &'static str {
        match self {
            V::Nil => "nil",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Float(_) => "float64",
            V::Str(_) => "string",
            V::List(_) => "array",
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            V::Int(i) => Some(*i as f64),
            V::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// expr's `==`: numbers compare by value across int and float, other types by value;
    /// different types are unequal.
    fn equals(&self, other: &V) -> bool {
        match (self.num(), other.num()) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Matches,
    Contains,
    StartsWith,
    EndsWith,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone)]
enum Node {
    Lit(V),
    MetricName,
    MetricType,
    HasLabel(Box<Node>),
    Label(Box<Node>),
    List(Vec<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    /// `x matches "literal"`, compiled once.
    MatchesLit(Box<Node>, Regex),
    Bin(Op, Box<Node>, Box<Node>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(V),
    Str(String),
    Ident(String),
    Sym(&'static str),
    End,
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '_') {
                j += 1;
            }
            let float =
                chars.get(j) == Some(&'.') && chars.get(j + 1).is_some_and(char::is_ascii_digit);
            if float {
                j += 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
            }
            let text: String = chars[i..j].iter().filter(|c| **c != '_').collect();
            let v = if float {
                V::Float(
                    text.parse()
                        .map_err(|_| format!("col {col}: invalid number {text}"))?,
                )
            } else {
                V::Int(
                    text.parse()
                        .map_err(|_| format!("col {col}: invalid number {text}"))?,
                )
            };
            out.push((Tok::Num(v), col));
            i = j;
            continue;
        }
        if c == '"' || c == '\'' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(format!("col {col}: literal not terminated")),
                    Some(q) if *q == c => break,
                    Some('\\') => {
                        let e = chars.get(j + 1).copied();
                        j += 2;
                        match e {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some('u') => {
                                let hex: String =
                                    chars.get(j..j + 4).unwrap_or(&[]).iter().collect();
                                let ch = u32::from_str_radix(&hex, 16)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .filter(|_| hex.len() == 4)
                                    .ok_or_else(|| {
                                        format!("col {}: invalid escape \\u{hex}", j - 1)
                                    })?;
                                s.push(ch);
                                j += 4;
                            }
                            Some(o @ ('\\' | '"' | '\'')) => s.push(o),
                            Some(o) => return Err(format!("col {}: invalid escape \\{o}", j - 1)),
                            None => return Err(format!("col {col}: literal not terminated")),
                        }
                    }
                    Some(ch) => {
                        s.push(*ch);
                        j += 1;
                    }
                }
            }
            out.push((Tok::Str(s), col));
            i = j + 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '$')
            {
                j += 1;
            }
            out.push((Tok::Ident(chars[i..j].iter().collect()), col));
            i = j;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let sym = ["==", "!=", "<=", ">=", "&&", "||"]
            .into_iter()
            .find(|s| *s == two)
            .or_else(|| {
                [
                    "<", ">", "!", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",",
                ]
                .into_iter()
                .find(|s| s.starts_with(c))
            })
            .ok_or_else(|| format!("col {col}: unexpected character '{c}'"))?;
        out.push((Tok::Sym(sym), col));
        i += sym.len();
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    /// Nesting so far; past 100 levels an expression is refused (no stack overflow).
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    fn col(&self) -> usize {
        self.toks[self.at].1
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.at].0.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn describe(t: &Tok) -> String {
        match t {
            Tok::Num(v) => format!("number {v:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Ident(s) => format!("\"{s}\""),
            Tok::Sym(s) => format!("\"{s}\""),
            Tok::End => "end of expression".into(),
        }
    }

    fn expect(&mut self, sym: &'static str) -> Result<(), String> {
        if *self.peek() == Tok::Sym(sym) {
            self.bump();
            return Ok(());
        }
        Err(format!(
            "col {}: expected \"{sym}\" but found {}",
            self.col(),
            Self::describe(self.peek())
        ))
    }

    /// The binary operator at the cursor with its precedence (expr-lang's: `or` 10, `and`
    /// 15, comparisons and string operators 20, `+ -` 30, `* / %` 60), and how many tokens
    /// it takes (`not in` takes two).
    fn binary_op(&self) -> Option<(Op, u8, usize)> {
        Some(match self.peek() {
            Tok::Sym("||") => (Op::Or, 10, 1),
            Tok::Sym("&&") => (Op::And, 15, 1),
            Tok::Sym("==") => (Op::Eq, 20, 1),
            Tok::Sym("!=") => (Op::Ne, 20, 1),
            Tok::Sym("<") => (Op::Lt, 20, 1),
            Tok::Sym("<=") => (Op::Le, 20, 1),
            Tok::Sym(">") => (Op::Gt, 20, 1),
            Tok::Sym(">=") => (Op::Ge, 20, 1),
            Tok::Sym("+") => (Op::Add, 30, 1),
            Tok::Sym("-") => (Op::Sub, 30, 1),
            Tok::Sym("*") => (Op::Mul, 60, 1),
            Tok::Sym("/") => (Op::Div, 60, 1),
            Tok::Sym("%") => (Op::Mod, 60, 1),
            Tok::Ident(w) => match w.as_str() {
                "or" => (Op::Or, 10, 1),
                "and" => (Op::And, 15, 1),
                "in" => (Op::In, 20, 1),
                "matches" => (Op::Matches, 20, 1),
                "contains" => (Op::Contains, 20, 1),
                "startsWith" => (Op::StartsWith, 20, 1),
                "endsWith" => (Op::EndsWith, 20, 1),
                "not"
                    if self.toks.get(self.at + 1).map(|t| &t.0)
                        == Some(&Tok::Ident("in".into())) =>
                {
                    (Op::NotIn, 20, 2)
                }
                _ => return None,
            },
            _ => return None,
        })
    }

    fn expr(&mut self, min: u8) -> Result<Node, String> {
        if self.depth >= 100 {
            return Err(format!(
                "col {}: expression nested too deeply (more than 100 levels)",
                self.col()
            ));
        }
        self.depth += 1;
        let r = self.expr_inner(min);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min: u8) -> Result<Node, String> {
        let mut lhs = self.unary()?;
        while let Some((op, prec, len)) = self.binary_op() {
            if prec < min {
                break;
            }
            for _ in 0..len {
                self.bump();
            }
            let rhs_col = self.col();
            let rhs = self.expr(prec + 1)?;
            lhs = match (op, rhs) {
                (Op::Matches, Node::Lit(V::Str(p))) => {
                    let re = Regex::new(&p)
                        .map_err(|e| format!("col {rhs_col}: invalid regexp {p:?}: {e}"))?;
                    Node::MatchesLit(Box::new(lhs), re)
                }
                (op, rhs) => Node::Bin(op, Box::new(lhs), Box::new(rhs)),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node, String> {
        match self.peek() {
            Tok::Sym("!") => {
                self.bump();
                Ok(Node::Not(Box::new(self.expr(50)?)))
            }
            Tok::Ident(w) if w == "not" => {
                self.bump();
                Ok(Node::Not(Box::new(self.expr(50)?)))
            }
            Tok::Sym("-") => {
                self.bump();
                Ok(Node::Neg(Box::new(self.expr(50)?)))
            }
            Tok::Sym("+") => {
                self.bump();
                self.expr(50)
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Node, String> {
        let col = self.col();
        match self.bump() {
            Tok::Num(v) => Ok(Node::Lit(v)),
            Tok::Str(s) => Ok(Node::Lit(V::Str(s))),
            Tok::Sym("(") => {
                let e = self.expr(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Sym("[") => {
                let mut items = Vec::new();
                while *self.peek() != Tok::Sym("]") {
                    items.push(self.expr(0)?);
                    if *self.peek() != Tok::Sym(",") {
                        break;
                    }
                    self.bump();
                }
                self.expect("]")?;
                Ok(Node::List(items))
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Ok(Node::Lit(V::Bool(true))),
                "false" => Ok(Node::Lit(V::Bool(false))),
                "nil" => Ok(Node::Lit(V::Nil)),
                "MetricName" => Ok(Node::MetricName),
                "MetricType" => Ok(Node::MetricType),
                "HasLabel" | "Label" => {
                    self.expect("(")?;
                    let arg = self.expr(0)?;
                    self.expect(")")?;
                    Ok(if name == "HasLabel" {
                        Node::HasLabel(Box::new(arg))
                    } else {
                        Node::Label(Box::new(arg))
                    })
                }
                other => Err(format!(
                    "col {col}: unknown name {other} (the environment has MetricName, MetricType, HasLabel(key), Label(key))"
                )),
            },
            t => Err(format!("col {col}: unexpected {}", Self::describe(&t))),
        }
    }
}

/// What an expression sees: one data point of a metric.
struct Env<'a> {
    name: &'a str,
    kind: &'static str,
    attributes: &'a [KeyValue],
}

impl Node {
    fn eval(&self, env: &Env<'_>) -> Result<V, String> {
        Ok(match self {
            Node::Lit(v) => v.clone(),
            Node::MetricName => V::Str(env.name.to_string()),
            Node::MetricType => V::Str(env.kind.to_string()),
            Node::HasLabel(k) | Node::Label(k) => {
                let V::Str(key) = k.eval(env)? else {
                    return Err("HasLabel and Label take a string".into());
                };
                let attr = env.attributes.iter().find(|a| a.key == key);
                if matches!(self, Node::HasLabel(_)) {
                    V::Bool(attr.is_some())
                } else {
                    // Go's `Value.Str()`: "" for a value that is not a string.
                    V::Str(match attr.and_then(|a| a.value.as_ref()?.value.as_ref()) {
                        Some(any_value::Value::StringValue(s)) => s.clone(),
                        _ => String::new(),
                    })
                }
            }
            Node::List(items) => V::List(
                items
                    .iter()
                    .map(|n| n.eval(env))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Not(n) => match n.eval(env)? {
                V::Bool(b) => V::Bool(!b),
                o => return Err(format!("invalid operation: not {}", o.type_name())),
            },
            Node::Neg(n) => match n.eval(env)? {
                V::Int(i) => V::Int(-i),
                V::Float(f) => V::Float(-f),
                o => return Err(format!("invalid operation: -{}", o.type_name())),
            },
            Node::MatchesLit(n, re) => match n.eval(env)? {
                V::Str(s) => V::Bool(re.is_match(&s)),
                o => {
                    return Err(format!(
                        "invalid operation: {} matches string",
                        o.type_name()
                    ));
                }
            },
            Node::Bin(Op::Or, a, b) | Node::Bin(Op::And, a, b) => {
                let is_or = matches!(self, Node::Bin(Op::Or, ..));
                let side = |n: &Node| match n.eval(env)? {
                    V::Bool(b) => Ok(b),
                    o => Err(format!(
                        "invalid operation: {} {} bool",
                        o.type_name(),
                        if is_or { "or" } else { "and" }
                    )),
                };
                let first = side(a)?;
                V::Bool(if is_or {
                    first || side(b)?
                } else {
                    first && side(b)?
                })
            }
            Node::Bin(op, a, b) => binary(*op, a.eval(env)?, b.eval(env)?)?,
        })
    }
}

fn binary(op: Op, a: V, b: V) -> Result<V, String> {
    let mismatch = |a: &V, b: &V| {
        Err(format!(
            "invalid operation: {} {op:?} {}",
            a.type_name(),
            b.type_name()
        ))
    };
    Ok(match op {
        Op::Eq => V::Bool(a.equals(&b)),
        Op::Ne => V::Bool(!a.equals(&b)),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ord = match (&a, &b) {
                (V::Str(x), V::Str(y)) => x.partial_cmp(y),
                _ => match (a.num(), b.num()) {
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => return mismatch(&a, &b),
                },
            };
            let Some(ord) = ord else {
                return Ok(V::Bool(false));
            };
            V::Bool(match op {
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        Op::In | Op::NotIn => match &b {
            V::List(items) => V::Bool(items.iter().any(|i| i.equals(&a)) == (op == Op::In)),
            _ => return mismatch(&a, &b),
        },
        Op::Matches => match (&a, &b) {
            (V::Str(s), V::Str(p)) => V::Bool(
                Regex::new(p)
                    .map_err(|e| format!("invalid regexp {p:?}: {e}"))?
                    .is_match(s),
            ),
            _ => return mismatch(&a, &b),
        },
        Op::Contains | Op::StartsWith | Op::EndsWith => match (&a, &b) {
            (V::Str(s), V::Str(t)) => V::Bool(match op {
                Op::Contains => s.contains(t.as_str()),
                Op::StartsWith => s.starts_with(t.as_str()),
                _ => s.ends_with(t.as_str()),
            }),
            _ => return mismatch(&a, &b),
        },
        Op::Add => match (a, b) {
            (V::Str(x), V::Str(y)) => V::Str(x + &y),
            (V::Int(x), V::Int(y)) => V::Int(x.wrapping_add(y)),
            (a, b) => match (a.num(), b.num()) {
                (Some(x), Some(y)) => V::Float(x + y),
                _ => return mismatch(&a, &b),
            },
        },
        Op::Sub | Op::Mul | Op::Mod => match (&a, &b) {
            (V::Int(x), V::Int(y)) => match op {
                Op::Sub => V::Int(x.wrapping_sub(*y)),
                Op::Mul => V::Int(x.wrapping_mul(*y)),
                _ => V::Int(x.checked_rem(*y).ok_or("integer divide by zero")?),
            },
            _ => match (a.num(), b.num(), op) {
                (Some(x), Some(y), Op::Sub) => V::Float(x - y),
                (Some(x), Some(y), Op::Mul) => V::Float(x * y),
                _ => return mismatch(&a, &b),
            },
        },
        // expr-lang's `/` always divides as floats.
        Op::Div => match (a.num(), b.num()) {
            (Some(x), Some(y)) => V::Float(x / y),
            _ => return mismatch(&a, &b),
        },
        Op::Or | Op::And => unreachable!("short-circuited in eval"),
    })
}

/// The compiled `expressions` of one `include` or `exclude`.
#[derive(Debug, Clone)]
pub struct MetricExprs {
    exprs: Vec<(String, Node)>,
}

impl MetricExprs {
    /// Compiles every expression; an error names the expression and the column.
    pub fn compile(sources: &[String]) -> Result<Self, String> {
        let exprs = sources
            .iter()
            .enumerate()
            .map(|(i, src)| {
                let mut p = Parser {
                    toks: lex(src).map_err(|e| format!("expressions[{i}]: {e}"))?,
                    at: 0,
                    depth: 0,
                };
                let node = p.expr(0).map_err(|e| format!("expressions[{i}]: {e}"))?;
                if *p.peek() != Tok::End {
                    return Err(format!(
                        "expressions[{i}]: col {}: unexpected {}",
                        p.col(),
                        Parser::describe(p.peek())
                    ));
                }
                Ok((src.clone(), node))
            })
            .collect::<Result<_, String>>()?;
        Ok(MetricExprs { exprs })
    }

    /// Whether any expression is true for any data point of `metric` (none without points).
    pub fn matches(&self, metric: &Metric) -> Result<bool, String> {
        fn attrs<P>(points: &[P], of: fn(&P) -> &[KeyValue]) -> impl Iterator<Item = &[KeyValue]> {
            points.iter().map(of)
        }
        match &metric.data {
            Some(Data::Gauge(g)) => {
                self.any_point(metric, "Gauge", attrs(&g.data_points, |p| &p.attributes))
            }
            Some(Data::Sum(s)) => {
                self.any_point(metric, "Sum", attrs(&s.data_points, |p| &p.attributes))
            }
            Some(Data::Histogram(h)) => self.any_point(
                metric,
                "Histogram",
                attrs(&h.data_points, |p| &p.attributes),
            ),
            Some(Data::ExponentialHistogram(h)) => self.any_point(
                metric,
                "ExponentialHistogram",
                attrs(&h.data_points, |p| &p.attributes),
            ),
            Some(Data::Summary(s)) => {
                self.any_point(metric, "Summary", attrs(&s.data_points, |p| &p.attributes))
            }
            None => Ok(false),
        }
    }

    /// Whether any expression is true for any of the points (given by their attributes).
    fn any_point<'a>(
        &self,
        metric: &Metric,
        kind: &'static str,
        points: impl Iterator<Item = &'a [KeyValue]>,
    ) -> Result<bool, String> {
        for attributes in points {
            let env = Env {
                name: &metric.name,
                kind,
                attributes,
            };
            for (src, node) in &self.exprs {
                match node.eval(&env).map_err(|e| format!("{src}: {e}"))? {
                    V::Bool(true) => return Ok(true),
                    V::Bool(false) => {}
                    other => {
                        return Err(format!(
                            "filter returned non-boolean value type={} result={other:?} metric={}",
                            other.type_name(),
                            metric.name
                        ));
                    }
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_pdata::proto::common::v1::AnyValue;
    use ferrotel_pdata::proto::metrics::v1::{Gauge, NumberDataPoint};
    use proptest::prelude::*;

    fn metric(attrs: &[(&str, &str)]) -> Metric {
        Metric {
            name: "http.server.duration".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint {
                    attributes: attrs
                        .iter()
                        .map(|(k, v)| KeyValue {
                            key: (*k).into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue((*v).into())),
                            }),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
            })),
            ..Default::default()
        }
    }

    fn eval(src: &str) -> Result<bool, String> {
        MetricExprs::compile(&[src.to_string()])?.matches(&metric(&[("env", "prod")]))
    }

    #[test]
    fn operators_and_precedence() {
        for (src, want) in [
            (r#"MetricName == "http.server.duration""#, true),
            (r#"MetricType == 'Gauge' && Label("env") == "prod""#, true),
            (r#"Label("missing") == """#, true),
            (r#"HasLabel("missing") or HasLabel("env")"#, true),
            (r#"not HasLabel("env")"#, false),
            (r#"!(1 > 2)"#, true),
            ("1 + 2 * 3 == 7", true),
            ("7 / 2 == 3.5", true),
            ("7 % 4 == 3", true),
            ("-2 < -1.5", true),
            ("1 == 1.0", true),
            (r#""a" < "b""#, true),
            (r#"Label("env") in ['dev', 'prod']"#, true),
            (r#"Label("env") not in ['dev', 'prod']"#, false),
            (
                r#"MetricName startsWith "http." and MetricName endsWith ".duration""#,
                true,
            ),
            (
                r#"MetricName contains "server" && MetricName matches "^http\\.""#,
                true,
            ),
            ("true || 1 < \"x\"", true),
            (r#"MetricName + "!" == "http.server.duration!""#, true),
            ("nil == nil", true),
            (r#"'\u0041' == "A""#, true),
        ] {
            assert_eq!(eval(src), Ok(want), "{src}");
        }
        assert_eq!(
            eval("1 < \"x\""),
            Err("1 < \"x\": invalid operation: int Lt string".into())
        );
        assert!(
            eval("MetricName")
                .unwrap_err()
                .contains("non-boolean value type=string")
        );
        assert_eq!(
            eval("(true"),
            Err("expressions[0]: col 6: expected \")\" but found end of expression".into())
        );
        let deep = format!("{}true{}", "(".repeat(5000), ")".repeat(5000));
        assert!(eval(&deep).unwrap_err().contains("nested too deeply"));
        assert!(
            eval(&format!("{}true", "!".repeat(5000)))
                .unwrap_err()
                .contains("nested too deeply")
        );
        assert_eq!(
            eval("true true"),
            Err("expressions[0]: col 6: unexpected \"true\"".into())
        );
    }

    proptest! {
        /// Any text from the language's alphabet compiles or fails with an error, and what
        /// compiles evaluates or fails with an error: never a panic.
        #[test]
        fn any_text_compiles_or_errs(src in r#"[A-Za-z"'()\[\]!=<>&|+*/%,. 0-9\\_-]{0,40}"#) {
            if let Ok(e) = MetricExprs::compile(&[src]) {
                let _ = e.matches(&metric(&[("env", "prod")]));
            }
        }

        /// `not (E)` is the negation of E for comparisons of generated operands.
        #[test]
        fn not_negates(a in -3i64..3, b in -3i64..3, op in prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="])) {
            let e = format!("{a} {op} {b}");
            prop_assert_eq!(eval(&format!("not ({e})")).unwrap(), !eval(&e).unwrap());
        }
    }
}
