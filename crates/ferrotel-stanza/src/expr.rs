//! The subset of the `expr` language (expr-lang/expr) that stanza operators evaluate in `if`,
//! router routes, filter, recombine and `EXPR(...)` values: the entry's `body`, `attributes`,
//! `resource` and `timestamp`; literals; `== != < <= > >=`; `and or not` (`&& || !`); `in`,
//! `matches`, `contains`, `startsWith`, `endsWith` (also with `not`); `+ - * / %`; `?:`;
//! arrays; a few builtins (`len lower upper trim string int float env`). Regexes with a
//! literal pattern are compiled once, when the expression is.

use std::borrow::Cow;

use regex::Regex;

use crate::{Entry, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Var {
    Body,
    Attributes,
    Resource,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
    StartsWith,
    EndsWith,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Len,
    Lower,
    Upper,
    Trim,
    String,
    Int,
    Float,
    Env,
}

#[derive(Debug, Clone)]
enum Node {
    Lit(Value),
    Var(Var),
    Member(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
    /// `x matches re`, negated with `not matches`.
    Matches(Box<Node>, Pattern, bool),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Array(Vec<Node>),
    Call(Func, Vec<Node>),
}

#[derive(Debug, Clone)]
enum Pattern {
    Fixed(Regex),
    Dynamic(Box<Node>),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    root: Node,
    source: String,
}

type Val<'e> = Cow<'e, Value>;

impl Expr {
    pub fn compile(source: &str) -> Result<Expr, String> {
        let tokens = lex(source)?;
        let mut p = Parser {
            toks: tokens,
            pos: 0,
        };
        let root = p.expr()?;
        if p.pos != p.toks.len() {
            return Err(format!(
                "unexpected {:?} in expression {source:?}",
                p.toks[p.pos]
            ));
        }
        Ok(Expr {
            root,
            source: source.to_string(),
        })
    }

    pub fn eval(&self, e: &Entry) -> Result<Value, String> {
        eval(&self.root, e).map(Cow::into_owned)
    }

    /// Evaluates to a boolean; other results are errors (as expr's `AsBool`).
    pub fn eval_bool(&self, e: &Entry) -> Result<bool, String> {
        match eval(&self.root, e)?.as_ref() {
            Value::Bool(b) => Ok(*b),
            other => Err(format!(
                "expression {:?} returned {} instead of a boolean",
                self.source,
                type_name(other)
            )),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Double(_) => "float",
        Value::Str(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
    }
}

fn eval<'e>(n: &'e Node, e: &'e Entry) -> Result<Val<'e>, String> {
    Ok(match n {
        Node::Lit(v) => Cow::Borrowed(v),
        Node::Var(Var::Body) => Cow::Borrowed(&e.body),
        Node::Var(Var::Attributes) => Cow::Owned(Value::Map(e.attributes.clone())),
        Node::Var(Var::Resource) => Cow::Owned(Value::Map(e.resource.clone())),
        Node::Var(Var::Timestamp) => Cow::Owned(Value::Int(e.time_unix_nano as i64)),
        Node::Member(obj, key) => {
            let key = eval(key, e)?;
            // Attribute and resource lookups borrow from the entry's maps.
            let map: Option<&'e Map> = match obj.as_ref() {
                Node::Var(Var::Attributes) => Some(&e.attributes),
                Node::Var(Var::Resource) => Some(&e.resource),
                _ => None,
            };
            if let Some(m) = map {
                return Ok(match key.as_ref() {
                    Value::Str(k) => m
                        .get(k.as_str())
                        .map(Cow::Borrowed)
                        .unwrap_or(Cow::Owned(Value::Null)),
                    _ => Cow::Owned(Value::Null),
                });
            }
            match eval(obj, e)? {
                Cow::Borrowed(v) => member(v, &key)
                    .map(Cow::Borrowed)
                    .unwrap_or(Cow::Owned(Value::Null)),
                Cow::Owned(v) => Cow::Owned(member(&v, &key).cloned().unwrap_or(Value::Null)),
            }
        }
        Node::Not(x) => match eval(x, e)?.as_ref() {
            Value::Bool(b) => Cow::Owned(Value::Bool(!b)),
            o => return Err(format!("invalid operation: not {}", type_name(o))),
        },
        Node::Neg(x) => match eval(x, e)?.as_ref() {
            Value::Int(i) => Cow::Owned(Value::Int(i.wrapping_neg())),
            Value::Double(d) => Cow::Owned(Value::Double(-d)),
            o => return Err(format!("invalid operation: -{}", type_name(o))),
        },
        Node::Bin(BinOp::And, a, b) => {
            let l = truthy(eval(a, e)?.as_ref(), "and")?;
            Cow::Owned(Value::Bool(l && truthy(eval(b, e)?.as_ref(), "and")?))
        }
        Node::Bin(BinOp::Or, a, b) => {
            let l = truthy(eval(a, e)?.as_ref(), "or")?;
            Cow::Owned(Value::Bool(l || truthy(eval(b, e)?.as_ref(), "or")?))
        }
        Node::Bin(op, a, b) => Cow::Owned(binary(*op, eval(a, e)?.as_ref(), eval(b, e)?.as_ref())?),
        Node::Matches(x, pat, negate) => {
            let v = eval(x, e)?;
            let Value::Str(s) = v.as_ref() else {
                return Err(format!(
                    "invalid operation: {} matches string",
                    type_name(&v)
                ));
            };
            let m = match pat {
                Pattern::Fixed(re) => re.is_match(s),
                Pattern::Dynamic(p) => match eval(p, e)?.as_ref() {
                    Value::Str(p) => Regex::new(p).map_err(|e| e.to_string())?.is_match(s),
                    o => {
                        return Err(format!(
                            "invalid operation: string matches {}",
                            type_name(o)
                        ));
                    }
                },
            };
            Cow::Owned(Value::Bool(m != *negate))
        }
        Node::Cond(c, a, b) => {
            if truthy(eval(c, e)?.as_ref(), "?:")? {
                eval(a, e)?
            } else {
                eval(b, e)?
            }
        }
        Node::Array(items) => Cow::Owned(Value::Array(
            items
                .iter()
                .map(|i| eval(i, e).map(Cow::into_owned))
                .collect::<Result<_, _>>()?,
        )),
        Node::Call(f, args) => {
            let vals: Vec<Val> = args.iter().map(|a| eval(a, e)).collect::<Result<_, _>>()?;
            Cow::Owned(call(*f, &vals)?)
        }
    })
}

fn member<'v>(v: &'v Value, key: &Value) -> Option<&'v Value> {
    match (v, key) {
        (Value::Map(m), Value::Str(k)) => m.get(k.as_str()),
        (Value::Array(a), Value::Int(i)) => {
            let i = if *i < 0 { a.len() as i64 + i } else { *i };
            a.get(usize::try_from(i).ok()?)
        }
        _ => None,
    }
}

fn truthy(v: &Value, op: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        o => Err(format!("invalid operation: {} {op}", type_name(o))),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        _ => None,
    }
}

/// Equality as expr has it: numbers compare by value across int/float, else same type and value.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    let bad = || {
        Err(format!(
            "invalid operation: {} {op:?} {}",
            type_name(a),
            type_name(b)
        ))
    };
    Ok(Value::Bool(match op {
        BinOp::Eq => equal(a, b),
        BinOp::Ne => !equal(a, b),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ord = match (a, b) {
                (Value::Int(x), Value::Int(y)) => x.partial_cmp(y),
                (Value::Str(x), Value::Str(y)) => x.partial_cmp(y),
                _ => match (num(a), num(b)) {
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => return bad(),
                },
            };
            let Some(ord) = ord else {
                return Ok(Value::Bool(false));
            };
            match op {
                BinOp::Lt => ord.is_lt(),
                BinOp::Le => ord.is_le(),
                BinOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }
        }
        BinOp::In => match b {
            Value::Array(items) => items.iter().any(|i| equal(i, a)),
            Value::Map(m) => matches!(a, Value::Str(k) if m.contains_key(k.as_str())),
            Value::Null => false,
            _ => return bad(),
        },
        BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith => {
            let (Value::Str(x), Value::Str(y)) = (a, b) else {
                return bad();
            };
            match op {
                BinOp::Contains => x.contains(y.as_str()),
                BinOp::StartsWith => x.starts_with(y.as_str()),
                _ => x.ends_with(y.as_str()),
            }
        }
        BinOp::Add => {
            return match (a, b) {
                (Value::Str(x), Value::Str(y)) => Ok(Value::Str(format!("{x}{y}"))),
                (Value::Int(x), Value::Int(y)) => Ok(Value::Int(x.wrapping_add(*y))),
                _ => match (num(a), num(b)) {
                    (Some(x), Some(y)) => Ok(Value::Double(x + y)),
                    _ => bad(),
                },
            };
        }
        BinOp::Sub | BinOp::Mul | BinOp::Rem => {
            return match (a, b) {
                (Value::Int(x), Value::Int(y)) => match op {
                    BinOp::Sub => Ok(Value::Int(x.wrapping_sub(*y))),
                    BinOp::Mul => Ok(Value::Int(x.wrapping_mul(*y))),
                    _ if *y == 0 => Err("integer divide by zero".into()),
                    _ => Ok(Value::Int(x.wrapping_rem(*y))),
                },
                _ => match (num(a), num(b), op) {
                    (Some(x), Some(y), BinOp::Sub) => Ok(Value::Double(x - y)),
                    (Some(x), Some(y), BinOp::Mul) => Ok(Value::Double(x * y)),
                    _ => bad(),
                },
            };
        }
        BinOp::Div => {
            return match (num(a), num(b)) {
                (Some(x), Some(y)) => Ok(Value::Double(x / y)),
                _ => bad(),
            };
        }
        BinOp::And | BinOp::Or => unreachable!("short-circuited"),
    }))
}

/// Go's `fmt.Sprint`-like text of a value, for `string()`, `EXPR` and string conversions.
pub(crate) fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => format_float(*d),
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Array(_) | Value::Map(_) => crate::json::to_json(v),
    }
}

/// A float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it for ordinary magnitudes.
pub(crate) fn format_float(d: f64) -> String {
    if d.is_finite() && d == d.trunc() && d.abs() < 1e21 {
        format!("{d:.0}")
    } else {
        d.to_string()
    }
}

fn call(f: Func, args: &[Val]) -> Result<Value, String> {
    let one = || -> Result<&Value, String> {
        match args {
            [a] => Ok(a.as_ref()),
            _ => Err(format!("{f:?} takes one argument, got {}", args.len())),
        }
    };
    let s = |v: &Value| match v {
        Value::Str(s) => Ok(s.clone()),
        o => Err(format!("{f:?} needs a string, got {}", type_name(o))),
    };
    Ok(match f {
        Func::Len => Value::Int(match one()? {
            Value::Str(s) => s.chars().count() as i64,
            Value::Array(a) => a.len() as i64,
            Value::Map(m) => m.len() as i64,
            o => return Err(format!("invalid argument for len (type {})", type_name(o))),
        }),
        Func::Lower => Value::Str(s(one()?)?.to_lowercase()),
        Func::Upper => Value::Str(s(one()?)?.to_uppercase()),
        Func::Trim => Value::Str(s(one()?)?.trim().to_string()),
        Func::String => Value::Str(to_text(one()?)),
        Func::Int => match one()? {
            Value::Int(i) => Value::Int(*i),
            Value::Double(d) => Value::Int(*d as i64),
            Value::Str(t) => {
                Value::Int(t.trim().parse().map_err(|_| format!("invalid int {t:?}"))?)
            }
            o => return Err(format!("invalid argument for int (type {})", type_name(o))),
        },
        Func::Float => match one()? {
            Value::Int(i) => Value::Double(*i as f64),
            Value::Double(d) => Value::Double(*d),
            Value::Str(t) => Value::Double(
                t.trim()
                    .parse()
                    .map_err(|_| format!("invalid float {t:?}"))?,
            ),
            o => {
                return Err(format!(
                    "invalid argument for float (type {})",
                    type_name(o)
                ));
            }
        },
        Func::Env => Value::Str(std::env::var(s(one()?)?).unwrap_or_default()),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(&'static str),
}

const OPS: [&str; 22] = [
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%", "(", ")", "[", "]",
    ".", ",", "?", ":",
];

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            out.push(Tok::Ident(src[s..i].to_string()));
        } else if c.is_ascii_digit() {
            let s = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            let is_float = i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit();
            if is_float {
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'e' | b'E')) {
                    i += 1;
                }
                let t = src[s..i].replace('_', "");
                out.push(Tok::Float(
                    t.parse().map_err(|_| format!("bad number {t:?}"))?,
                ));
            } else {
                let t = src[s..i].replace('_', "");
                out.push(Tok::Int(
                    t.parse().map_err(|_| format!("bad number {t:?}"))?,
                ));
            }
        } else if c == b'"' || c == b'\'' || c == b'`' {
            let (s, len) = lex_string(&src[i..])?;
            out.push(Tok::Str(s));
            i += len;
        } else if let Some(op) = OPS.iter().find(|op| src[i..].starts_with(**op)) {
            out.push(Tok::Op(op));
            i += op.len();
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected character {ch:?} in expression {src:?}"));
        }
    }
    Ok(out)
}

/// A quoted string at the start of `s`: its value and the length it spans.
fn lex_string(s: &str) -> Result<(String, usize), String> {
    let q = s.as_bytes()[0] as char;
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Ok((out, i + 1));
        }
        if c == '\\' && q != '`' {
            let (_, e) = chars.next().ok_or("unterminated string")?;
            out.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                o => o,
            });
        } else {
            out.push(c);
        }
    }
    Err(format!("unterminated string in expression {s:?}"))
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_is(&self, word: &str) -> bool {
        match self.peek() {
            Some(Tok::Op(o)) => *o == word,
            Some(Tok::Ident(i)) => i == word,
            _ => false,
        }
    }
    fn eat(&mut self, word: &str) -> bool {
        if self.peek_is(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, word: &str) -> Result<(), String> {
        if self.eat(word) {
            Ok(())
        } else {
            Err(format!("expected {word:?}, found {:?}", self.peek()))
        }
    }

    fn expr(&mut self) -> Result<Node, String> {
        let c = self.or()?;
        if self.eat("?") {
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            return Ok(Node::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }
    fn or(&mut self) -> Result<Node, String> {
        let mut l = self.and()?;
        while self.eat("or") || self.eat("||") {
            l = Node::Bin(BinOp::Or, Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Node, String> {
        let mut l = self.cmp()?;
        while self.eat("and") || self.eat("&&") {
            l = Node::Bin(BinOp::And, Box::new(l), Box::new(self.cmp()?));
        }
        Ok(l)
    }
    fn cmp(&mut self) -> Result<Node, String> {
        let mut l = self.add()?;
        loop {
            // `not in`, `not matches`, ... negate the operator after them.
            let negate = self.peek_is("not")
                && matches!(self.toks.get(self.pos + 1), Some(Tok::Ident(w)) if
                    ["in", "matches", "contains", "startsWith", "endsWith"].contains(&w.as_str()));
            if negate {
                self.pos += 1;
            }
            let op = match self.peek() {
                Some(Tok::Op(o)) => match *o {
                    "==" => BinOp::Eq,
                    "!=" => BinOp::Ne,
                    "<" => BinOp::Lt,
                    "<=" => BinOp::Le,
                    ">" => BinOp::Gt,
                    ">=" => BinOp::Ge,
                    _ => break,
                },
                Some(Tok::Ident(w)) => match w.as_str() {
                    "in" => BinOp::In,
                    "contains" => BinOp::Contains,
                    "startsWith" => BinOp::StartsWith,
                    "endsWith" => BinOp::EndsWith,
                    "matches" => {
                        self.pos += 1;
                        let r = self.add()?;
                        let pat = match r {
                            Node::Lit(Value::Str(p)) => Pattern::Fixed(
                                Regex::new(&p).map_err(|e| format!("invalid regex {p:?}: {e}"))?,
                            ),
                            other => Pattern::Dynamic(Box::new(other)),
                        };
                        l = Node::Matches(Box::new(l), pat, negate);
                        continue;
                    }
                    _ => break,
                },
                _ => break,
            };
            self.pos += 1;
            let r = self.add()?;
            l = Node::Bin(op, Box::new(l), Box::new(r));
            if negate {
                l = Node::Not(Box::new(l));
            }
        }
        Ok(l)
    }
    fn add(&mut self) -> Result<Node, String> {
        let mut l = self.mul()?;
        loop {
            let op = if self.eat("+") {
                BinOp::Add
            } else if self.eat("-") {
                BinOp::Sub
            } else {
                return Ok(l);
            };
            l = Node::Bin(op, Box::new(l), Box::new(self.mul()?));
        }
    }
    fn mul(&mut self) -> Result<Node, String> {
        let mut l = self.unary()?;
        loop {
            let op = if self.eat("*") {
                BinOp::Mul
            } else if self.eat("/") {
                BinOp::Div
            } else if self.eat("%") {
                BinOp::Rem
            } else {
                return Ok(l);
            };
            l = Node::Bin(op, Box::new(l), Box::new(self.unary()?));
        }
    }
    fn unary(&mut self) -> Result<Node, String> {
        if self.eat("not") || self.eat("!") {
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(Node::Neg(Box::new(self.unary()?)));
        }
        self.postfix()
    }
    fn postfix(&mut self) -> Result<Node, String> {
        let mut n = self.primary()?;
        loop {
            if self.eat(".") {
                match self.toks.get(self.pos).cloned() {
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        n = Node::Member(Box::new(n), Box::new(Node::Lit(Value::Str(name))));
                    }
                    other => return Err(format!("expected a name after '.', found {other:?}")),
                }
            } else if self.eat("[") {
                let k = self.expr()?;
                self.expect("]")?;
                n = Node::Member(Box::new(n), Box::new(k));
            } else {
                return Ok(n);
            }
        }
    }
    fn primary(&mut self) -> Result<Node, String> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or("unexpected end of expression")?;
        self.pos += 1;
        Ok(match t {
            Tok::Str(s) => Node::Lit(Value::Str(s)),
            Tok::Int(i) => Node::Lit(Value::Int(i)),
            Tok::Float(f) => Node::Lit(Value::Double(f)),
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                e
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Node::Array(items)
            }
            Tok::Ident(w) => match w.as_str() {
                "true" => Node::Lit(Value::Bool(true)),
                "false" => Node::Lit(Value::Bool(false)),
                "nil" => Node::Lit(Value::Null),
                "body" | "$body" | "$record" => Node::Var(Var::Body),
                "attributes" | "$attributes" => Node::Var(Var::Attributes),
                "resource" | "$resource" => Node::Var(Var::Resource),
                "timestamp" | "$timestamp" => Node::Var(Var::Timestamp),
                name => {
                    let f = match name {
                        "len" => Func::Len,
                        "lower" => Func::Lower,
                        "upper" => Func::Upper,
                        "trim" => Func::Trim,
                        "string" => Func::String,
                        "int" => Func::Int,
                        "float" => Func::Float,
                        "env" => Func::Env,
                        _ => return Err(format!("unknown name {name:?}")),
                    };
                    self.expect("(")?;
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.expr()?);
                            if self.eat(")") {
                                break;
                            }
                            self.expect(",")?;
                        }
                    }
                    Node::Call(f, args)
                }
            },
            Tok::Op(o) => return Err(format!("unexpected {o:?}")),
        })
    }
}
