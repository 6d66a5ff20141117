//! AST to evaluable form: [`Getter`] trees (enum-dispatched) and editor closures, built once.

use std::fmt;
use std::sync::Arc;

use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue};
use regex::Regex;

use crate::context::{Ctx, Field, Key, PathAcc, TCtx, resolve};
use crate::funcs;
use crate::parser::{Arg, BinOp, Call, Expr, ExprKind, SyntaxError};
use crate::time;
use crate::value::{Value, from_json, kv, to_json};

type R<T> = Result<T, String>;
type CResult<T> = Result<T, SyntaxError>;

/// A converter compiled into a closure.
pub type ConvFn = Arc<dyn Fn(&TCtx<'_>) -> R<Value> + Send + Sync>;
/// An editor compiled into a closure.
pub type EditFn = Arc<dyn Fn(&mut TCtx<'_>) -> R<()> + Send + Sync>;

/// Produces a value from a context.
#[derive(Clone)]
pub enum Getter {
    Lit(Value),
    Path(Box<PathAcc>),
    Conv(ConvFn),
    Index(Box<Getter>, Vec<Getter>),
    Math(BinOp, Box<Getter>, Box<Getter>),
    Neg(Box<Getter>),
    Cmp(BinOp, Box<Getter>, Box<Getter>),
    And(Box<Getter>, Box<Getter>),
    Or(Box<Getter>, Box<Getter>),
    Not(Box<Getter>),
    List(Vec<Getter>),
    Map(Vec<(String, Getter)>),
}

impl fmt::Debug for Getter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Getter::Lit(v) => write!(f, "Lit({v:?})"),
            Getter::Path(p) => write!(f, "Path({:?}.{:?})", p.ctx, p.field),
            _ => f.write_str("Getter"),
        }
    }
}

impl Getter {
    pub fn eval(&self, t: &TCtx<'_>) -> R<Value> {
        match self {
            Getter::Lit(v) => Ok(v.clone()),
            Getter::Path(p) => p.get(t),
            Getter::Conv(f) => f(t),
            Getter::Index(g, keys) => {
                let v = g.eval(t)?;
                let mut ks = Vec::with_capacity(keys.len());
                for k in keys {
                    ks.push(match k.eval(t)? {
                        Value::Str(s) => Key::Str(s),
                        Value::Int(i) => Key::Int(i),
                        o => {
                            return Err(format!(
                                "index must be a string or an int, got {}",
                                o.type_name()
                            ));
                        }
                    });
                }
                crate::context::index_any(Some(&v.into_any()), &ks)
            }
            Getter::Math(op, a, b) => math(*op, a.eval(t)?, b.eval(t)?),
            Getter::Neg(a) => match a.eval(t)? {
                Value::Int(i) => Ok(Value::Int(-i)),
                Value::Double(d) => Ok(Value::Double(-d)),
                o => Err(format!("cannot negate {}", o.type_name())),
            },
            Getter::Cmp(op, a, b) => Ok(Value::Bool(compare(*op, &a.eval(t)?, &b.eval(t)?))),
            Getter::And(a, b) => Ok(Value::Bool(a.truth(t)? && b.truth(t)?)),
            Getter::Or(a, b) => Ok(Value::Bool(a.truth(t)? || b.truth(t)?)),
            Getter::Not(a) => Ok(Value::Bool(!a.truth(t)?)),
            Getter::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for g in items {
                    out.push(g.eval(t)?.into_any());
                }
                Ok(Value::List(out))
            }
            Getter::Map(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (k, g) in items {
                    out.push(kv(k.clone(), g.eval(t)?));
                }
                Ok(Value::Map(out))
            }
        }
    }

    /// Evaluates as a condition: must be a bool.
    pub fn truth(&self, t: &TCtx<'_>) -> R<bool> {
        match self.eval(t)? {
            Value::Bool(b) => Ok(b),
            o => Err(format!("condition must be a bool, got {}", o.type_name())),
        }
    }

    /// The list items of a getter (evaluated), for list-typed arguments.
    fn eval_list(&self, t: &TCtx<'_>) -> R<Vec<Value>> {
        match self.eval(t)? {
            Value::List(l) => Ok(l.iter().map(|a| Value::from_any(Some(a))).collect()),
            o => Err(format!("expected a list, got {}", o.type_name())),
        }
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        _ => None,
    }
}

/// OTTL comparison rules: mismatched types are unequal and unordered; ints and doubles compare
/// numerically; nil equals only nil.
pub fn compare(op: BinOp, a: &Value, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Value::Nil, Value::Nil) => Some(Ordering::Equal),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::Time(x, _), Value::Time(y, _)) | (Value::Duration(x), Value::Duration(y)) => {
            Some(x.cmp(y))
        }
        (Value::Bool(x), Value::Bool(y)) => {
            return match op {
                BinOp::Eq => x == y,
                BinOp::Ne => x != y,
                _ => false,
            };
        }
        (Value::Map(_), Value::Map(_)) | (Value::List(_), Value::List(_)) => {
            return match op {
                BinOp::Eq => a == b,
                BinOp::Ne => a != b,
                _ => false,
            };
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
    };
    match ord {
        None => op == BinOp::Ne,
        Some(o) => match op {
            BinOp::Eq => o == Ordering::Equal,
            BinOp::Ne => o != Ordering::Equal,
            BinOp::Lt => o == Ordering::Less,
            BinOp::Le => o != Ordering::Greater,
            BinOp::Gt => o == Ordering::Greater,
            BinOp::Ge => o != Ordering::Less,
            _ => false,
        },
    }
}

fn math(op: BinOp, a: Value, b: Value) -> R<Value> {
    let bad = |a: &Value, b: &Value| {
        Err(format!(
            "unsupported math operation {} on {} and {}",
            op.as_str(),
            a.type_name(),
            b.type_name()
        ))
    };
    match (&a, &b) {
        (Value::Int(x), Value::Int(y)) => Ok(Value::Int(match op {
            BinOp::Add => x.wrapping_add(*y),
            BinOp::Sub => x.wrapping_sub(*y),
            BinOp::Mul => x.wrapping_mul(*y),
            _ => {
                if *y == 0 {
                    return Err("attempted to divide by 0".into());
                }
                x.wrapping_div(*y)
            }
        })),
        (Value::Double(_) | Value::Int(_), Value::Double(_) | Value::Int(_)) => {
            let (x, y) = (num(&a).unwrap_or(0.0), num(&b).unwrap_or(0.0));
            Ok(Value::Double(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                _ => {
                    if y == 0.0 {
                        return Err("attempted to divide by 0".into());
                    }
                    x / y
                }
            }))
        }
        (Value::Time(x, _), Value::Time(y, _)) if op == BinOp::Sub => Ok(Value::Duration(x - y)),
        (Value::Time(x, tz), Value::Duration(y)) if op == BinOp::Add => {
            Ok(Value::Time(x + y, tz.clone()))
        }
        (Value::Time(x, tz), Value::Duration(y)) if op == BinOp::Sub => {
            Ok(Value::Time(x - y, tz.clone()))
        }
        (Value::Duration(x), Value::Duration(y)) if matches!(op, BinOp::Add | BinOp::Sub) => {
            Ok(Value::Duration(if op == BinOp::Add {
                x + y
            } else {
                x - y
            }))
        }
        _ => bad(&a, &b),
    }
}

/// Compiles expressions of one statement context.
pub struct Compiler {
    pub ctx: Ctx,
}

fn err<T>(col: usize, m: impl Into<String>) -> CResult<T> {
    Err(SyntaxError::new(col, m))
}

/// The arguments of a call, matched to a signature.
struct Args<'a> {
    vals: Vec<Option<&'a Expr>>,
}

impl<'a> Args<'a> {
    fn bind(call: &'a Call, params: &[&str], required: usize) -> CResult<Args<'a>> {
        let mut vals: Vec<Option<&Expr>> = vec![None; params.len()];
        let positional = call.args.iter().filter(|a| a.name.is_none()).count();
        if positional > params.len() {
            return err(
                call.col,
                format!(
                    "too many arguments to \"{}\": expected at most {}, got {}",
                    call.name,
                    params.len(),
                    call.args.len()
                ),
            );
        }
        for (i, Arg { name, value }) in call.args.iter().enumerate() {
            let idx = match name {
                None => i,
                Some(n) => params.iter().position(|p| p == n).ok_or_else(|| {
                    SyntaxError::new(
                        value.col,
                        format!("unknown argument \"{n}\" of \"{}\"", call.name),
                    )
                })?,
            };
            if vals[idx].is_some() {
                return err(
                    value.col,
                    format!("argument \"{}\" given twice", params[idx]),
                );
            }
            vals[idx] = Some(value);
        }
        for (i, p) in params.iter().enumerate().take(required) {
            if vals[i].is_none() {
                return err(
                    call.col,
                    format!("missing argument \"{p}\" of \"{}\"", call.name),
                );
            }
        }
        Ok(Args { vals })
    }

    fn get(&self, i: usize) -> &'a Expr {
        self.vals[i].expect("required argument")
    }

    fn opt(&self, i: usize) -> Option<&'a Expr> {
        self.vals[i]
    }
}

fn lit_str(e: &Expr, what: &str) -> CResult<String> {
    match &e.kind {
        ExprKind::Str(s) => Ok(s.clone()),
        _ => err(e.col, format!("{what} must be a string literal")),
    }
}

fn lit_int(e: &Expr, what: &str) -> CResult<i64> {
    match &e.kind {
        ExprKind::Int(i) => Ok(*i),
        _ => err(e.col, format!("{what} must be an integer literal")),
    }
}

fn regex(e: &Expr, what: &str) -> CResult<Regex> {
    let s = lit_str(e, what)?;
    Regex::new(&s).map_err(|x| {
        SyntaxError::new(
            e.col,
            format!(
                "invalid regex \"{s}\": {}",
                x.to_string().lines().last().unwrap_or("")
            ),
        )
    })
}

/// A glob (`*`, `?`, `[..]`, `{a,b}`) as an anchored regex.
fn glob(e: &Expr) -> CResult<Regex> {
    let s = lit_str(e, "pattern")?;
    // gobwas/glob's `*` and `?` match any character, line breaks included.
    let mut r = String::from("(?s)^");
    let mut in_alt = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => r.push_str(".*"),
            '?' => r.push('.'),
            '[' => {
                r.push('[');
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '!' && r.ends_with('[') {
                        r.push('^');
                    } else {
                        r.push(c);
                    }
                }
                r.push(']');
            }
            '{' => {
                in_alt = true;
                r.push_str("(?:");
            }
            '}' if in_alt => {
                in_alt = false;
                r.push(')');
            }
            ',' if in_alt => r.push('|'),
            '\\' => {
                if let Some(n) = chars.next() {
                    r.push_str(&regex::escape(&n.to_string()));
                }
            }
            c => r.push_str(&regex::escape(&c.to_string())),
        }
    }
    r.push('$');
    Regex::new(&r).map_err(|x| SyntaxError::new(e.col, format!("invalid glob \"{s}\": {x}")))
}

/// A value as Go's `StringLikeGetter` reads it (`IsMatch`, `Concat`): nil stays nil, strings
/// as they are, bytes as lower-case hex, maps and lists as JSON, other scalars as `%v` writes them.
fn to_str_lenient(v: &Value) -> Option<String> {
    match v {
        Value::Nil => None,
        Value::Str(s) => Some(s.clone()),
        o => Some(o.to_display()),
    }
}

/// Parameters of `replace_match` and `replace_all_matches` (the first three
/// required).
const REPLACE_PARAMS: &[&str] = &[
    "target",
    "pattern",
    "replacement",
    "function",
    "replacementFormat",
];

/// A string argument: as OTTL's `StringGetter`, anything else — nil included — is an error.
fn want_str(v: Value, f: &str) -> R<String> {
    match v {
        Value::Str(s) => Ok(s),
        o => Err(format!("{f}: expected a string but got {}", o.type_name())),
    }
}

fn replace_with(re: &Regex, s: &str, rep: &str) -> String {
    re.replace_all(s, rep).into_owned()
}

impl Compiler {
    /// An expression in value position.
    pub fn getter(&self, e: &Expr) -> CResult<Getter> {
        Ok(match &e.kind {
            ExprKind::Nil => Getter::Lit(Value::Nil),
            ExprKind::Bool(b) => Getter::Lit(Value::Bool(*b)),
            ExprKind::Int(i) => Getter::Lit(Value::Int(*i)),
            ExprKind::Float(f) => Getter::Lit(Value::Double(*f)),
            ExprKind::Str(s) => Getter::Lit(Value::Str(s.clone())),
            ExprKind::Bytes(b) => Getter::Lit(Value::Bytes(b.clone())),
            ExprKind::Enum(name) => match enum_value(name) {
                Some(i) => Getter::Lit(Value::Int(i)),
                None if converter_name(name)
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
                {
                    return err(
                        e.col,
                        format!("converter \"{name}\" must be called with ()"),
                    );
                }
                None => return err(e.col, format!("unknown enum \"{name}\"")),
            },
            ExprKind::Path(_) => Getter::Path(Box::new(self.path(e)?)),
            ExprKind::Call(call) => {
                let f = self.converter(call)?;
                if call.keys.is_empty() {
                    Getter::Conv(f)
                } else {
                    let keys = call
                        .keys
                        .iter()
                        .map(|k| self.getter(k))
                        .collect::<CResult<Vec<_>>>()?;
                    Getter::Index(Box::new(Getter::Conv(f)), keys)
                }
            }
            ExprKind::List(items) => Getter::List(
                items
                    .iter()
                    .map(|i| self.getter(i))
                    .collect::<CResult<_>>()?,
            ),
            ExprKind::Map(items) => Getter::Map(
                items
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.getter(v)?)))
                    .collect::<CResult<_>>()?,
            ),
            ExprKind::Neg(inner) => Getter::Neg(Box::new(self.getter(inner)?)),
            ExprKind::Not(inner) => Getter::Not(Box::new(self.getter(inner)?)),
            ExprKind::Binary(op, a, b) => {
                let (ga, gb) = (Box::new(self.getter(a)?), Box::new(self.getter(b)?));
                match op {
                    BinOp::And => Getter::And(ga, gb),
                    BinOp::Or => Getter::Or(ga, gb),
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => Getter::Math(*op, ga, gb),
                    _ => Getter::Cmp(*op, ga, gb),
                }
            }
        })
    }

    /// A condition: like a getter, but literals other than bools are rejected up front.
    pub fn condition(&self, e: &Expr) -> CResult<Getter> {
        match &e.kind {
            ExprKind::Nil
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Bytes(_)
            | ExprKind::List(_)
            | ExprKind::Map(_)
            | ExprKind::Enum(_) => err(e.col, "condition must be a boolean expression"),
            ExprKind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, ..) => {
                err(e.col, "condition must be a boolean expression")
            }
            ExprKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                let (ga, gb) = (Box::new(self.condition(a)?), Box::new(self.condition(b)?));
                Ok(if *op == BinOp::And {
                    Getter::And(ga, gb)
                } else {
                    Getter::Or(ga, gb)
                })
            }
            ExprKind::Not(inner) => Ok(Getter::Not(Box::new(self.condition(inner)?))),
            _ => self.getter(e),
        }
    }

    /// A path expression.
    pub fn path(&self, e: &Expr) -> CResult<PathAcc> {
        let ExprKind::Path(p) = &e.kind else {
            return err(e.col, "expected a path");
        };
        let (ctx, field) = resolve(self.ctx, &p.parts).map_err(|m| SyntaxError::new(e.col, m))?;
        let keys = p
            .keys
            .iter()
            .map(|k| self.getter(k))
            .collect::<CResult<Vec<_>>>()?;
        let indexable = match field {
            Field::Attributes | Field::Cache | Field::Body => true,
            // `trace_state["key"]`: one member of the W3C trace state.
            Field::TraceState => keys.len() == 1,
            _ => false,
        };
        if !keys.is_empty() && !indexable {
            return err(
                e.col,
                format!("path \"{}\" cannot be indexed", p.parts.join(".")),
            );
        }
        Ok(PathAcc { ctx, field, keys })
    }

    fn target(&self, e: &Expr, f: &str) -> CResult<PathAcc> {
        match &e.kind {
            ExprKind::Path(_) => self.path(e),
            _ => err(e.col, format!("the target of \"{f}\" must be a path")),
        }
    }

    /// An editor call.
    pub fn editor(&self, call: &Call) -> CResult<EditFn> {
        let name = call.name.as_str();
        let f: EditFn = match name {
            "set" => {
                let a = Args::bind(call, &["target", "value"], 2)?;
                let target = self.target(a.get(0), name)?;
                let value = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let v = value.eval(t)?;
                    target.set(t, v)
                })
            }
            "delete_key" => {
                let a = Args::bind(call, &["target", "key"], 2)?;
                let target = self.target(a.get(0), name)?;
                let key = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let k = key.eval(t)?;
                    let Value::Str(k) = k else {
                        return Err(format!(
                            "delete_key: key must be a string, got {}",
                            k.type_name()
                        ));
                    };
                    edit_map(&target, t, "delete_key", |m| {
                        m.retain(|kv| kv.key != k);
                        Ok(())
                    })
                })
            }
            "delete_matching_keys" | "keep_matching_keys" => {
                let a = Args::bind(call, &["target", "pattern"], 2)?;
                let target = self.target(a.get(0), name)?;
                let re = regex(a.get(1), "pattern")?;
                let keep = name == "keep_matching_keys";
                let fname = call.name.clone();
                Arc::new(move |t| {
                    edit_map(&target, t, &fname, |m| {
                        m.retain(|kv| re.is_match(&kv.key) == keep);
                        Ok(())
                    })
                })
            }
            "keep_keys" => {
                let a = Args::bind(call, &["target", "keys"], 2)?;
                let target = self.target(a.get(0), name)?;
                let keys = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let keys: Vec<String> = keys
                        .eval_list(t)?
                        .into_iter()
                        .filter_map(|k| match k {
                            Value::Str(s) => Some(s),
                            _ => None,
                        })
                        .collect();
                    edit_map(&target, t, "keep_keys", |m| {
                        m.retain(|kv| keys.contains(&kv.key));
                        Ok(())
                    })
                })
            }
            "limit" => {
                let a = Args::bind(call, &["target", "limit", "priority_keys"], 2)?;
                let target = self.target(a.get(0), name)?;
                let limit = lit_int(a.get(1), "limit")?;
                if limit < 0 {
                    return err(
                        a.get(1).col,
                        format!("invalid limit for limit function, {limit} cannot be negative"),
                    );
                }
                let mut prio = Vec::new();
                if let Some(p) = a.opt(2) {
                    let ExprKind::List(items) = &p.kind else {
                        return err(p.col, "priority_keys must be a list of strings");
                    };
                    for i in items {
                        prio.push(lit_str(i, "priority key")?);
                    }
                    if prio.len() as i64 > limit {
                        return err(
                            p.col,
                            format!(
                                "invalid limit for limit function, {limit} cannot be less than number of priority attributes {}",
                                prio.len()
                            ),
                        );
                    }
                }
                let limit = limit as usize;
                Arc::new(move |t| {
                    edit_map(&target, t, "limit", |m| {
                        if m.len() <= limit {
                            return Ok(());
                        }
                        let mut kept = 0;
                        let mut keep = vec![false; m.len()];
                        for (i, kv) in m.iter().enumerate() {
                            if prio.contains(&kv.key) && kept < limit {
                                keep[i] = true;
                                kept += 1;
                            }
                        }
                        for k in keep.iter_mut() {
                            if kept >= limit {
                                break;
                            }
                            if !*k {
                                *k = true;
                                kept += 1;
                            }
                        }
                        let mut it = keep.into_iter();
                        m.retain(|_| it.next().unwrap_or(false));
                        Ok(())
                    })
                })
            }
            "truncate_all" => {
                let a = Args::bind(call, &["target", "limit"], 2)?;
                let target = self.target(a.get(0), name)?;
                let limit = lit_int(a.get(1), "limit")?;
                if limit < 0 {
                    return err(
                        a.get(1).col,
                        format!(
                            "invalid limit for truncate_all function, {limit} cannot be negative"
                        ),
                    );
                }
                let limit = limit as usize;
                Arc::new(move |t| {
                    edit_map(&target, t, "truncate_all", |m| {
                        for kv in m.iter_mut() {
                            if let Some(AnyValue {
                                value: Some(ferrotel_pdata::proto::common::v1::any_value::Value::StringValue(s)),
                            }) = &mut kv.value
                                && s.len() > limit
                            {
                                let mut end = limit;
                                while !s.is_char_boundary(end) {
                                    end -= 1;
                                }
                                s.truncate(end);
                            }
                        }
                        Ok(())
                    })
                })
            }
            "merge_maps" => {
                let a = Args::bind(call, &["target", "source", "strategy"], 3)?;
                let target = self.target(a.get(0), name)?;
                let source = self.getter(a.get(1))?;
                let strategy = lit_str(a.get(2), "strategy")?;
                if !matches!(strategy.as_str(), "insert" | "update" | "upsert") {
                    return err(
                        a.get(2).col,
                        format!(
                            "invalid value for strategy, {strategy:?}, must be 'insert', 'update' or 'upsert'"
                        ),
                    );
                }
                Arc::new(move |t| {
                    let src = match source.eval(t)? {
                        Value::Map(m) => m,
                        Value::Nil => return Ok(()),
                        o => {
                            return Err(format!(
                                "merge_maps: source must be a map, got {}",
                                o.type_name()
                            ));
                        }
                    };
                    edit_map(&target, t, "merge_maps", |m| {
                        for kv in src {
                            match m.iter_mut().find(|x| x.key == kv.key) {
                                Some(x) if strategy != "insert" => *x = kv,
                                Some(_) => {}
                                None if strategy != "update" => m.push(kv),
                                None => {}
                            }
                        }
                        Ok(())
                    })
                })
            }
            "replace_pattern" => {
                let a = Args::bind(
                    call,
                    &[
                        "target",
                        "regex",
                        "replacement",
                        "function",
                        "replacementFormat",
                    ],
                    3,
                )?;
                let target = self.target(a.get(0), name)?;
                let re = regex(a.get(1), "regex")?;
                let rep = self.getter(a.get(2))?;
                let func = self.replace_fn(&a)?;
                Arc::new(move |t| {
                    let Value::Str(s) = target.get(t)? else {
                        return Ok(());
                    };
                    let r = want_str(rep.eval(t)?, "replace_pattern")?;
                    if re.is_match(&s) {
                        let new = match &func {
                            None => replace_with(&re, &s, &r),
                            Some(f) => f.per_match(t, &re, &s, &r)?,
                        };
                        target.set(t, Value::Str(new))?;
                    }
                    Ok(())
                })
            }
            "replace_match" => {
                let a = Args::bind(call, REPLACE_PARAMS, 3)?;
                let target = self.target(a.get(0), name)?;
                let g = glob(a.get(1))?;
                let rep = self.getter(a.get(2))?;
                let func = self.replace_fn(&a)?;
                Arc::new(move |t| {
                    let Value::Str(s) = target.get(t)? else {
                        return Ok(());
                    };
                    if g.is_match(&s) {
                        let r = want_str(rep.eval(t)?, "replace_match")?;
                        let r = match &func {
                            None => r,
                            Some(f) => f.whole(t, &r)?,
                        };
                        target.set(t, Value::Str(r))?;
                    }
                    Ok(())
                })
            }
            "replace_all_matches" => {
                let a = Args::bind(call, REPLACE_PARAMS, 3)?;
                let target = self.target(a.get(0), name)?;
                let g = glob(a.get(1))?;
                let rep = self.getter(a.get(2))?;
                let func = self.replace_fn(&a)?;
                Arc::new(move |t| {
                    let r = want_str(rep.eval(t)?, "replace_all_matches")?;
                    let r = match &func {
                        None => r,
                        Some(f) => f.whole(t, &r)?,
                    };
                    edit_map(&target, t, "replace_all_matches", |m| {
                        for kv in m.iter_mut() {
                            if let Value::Str(s) = Value::from_any(kv.value.as_ref())
                                && g.is_match(&s)
                            {
                                kv.value = Some(Value::Str(r.clone()).into_any());
                            }
                        }
                        Ok(())
                    })
                })
            }
            "replace_all_patterns" => {
                let a = Args::bind(
                    call,
                    &[
                        "target",
                        "mode",
                        "regex",
                        "replacement",
                        "function",
                        "replacementFormat",
                    ],
                    4,
                )?;
                let target = self.target(a.get(0), name)?;
                let mode = lit_str(a.get(1), "mode")?;
                if mode != "key" && mode != "value" {
                    return err(
                        a.get(1).col,
                        format!("invalid mode {mode:?}, must be \"key\" or \"value\""),
                    );
                }
                let by_key = mode == "key";
                let re = regex(a.get(2), "regex")?;
                let rep = self.getter(a.get(3))?;
                let func = self.replace_fn_at(&a, 4)?;
                if func.is_none() {
                    return Ok(Arc::new(move |t| {
                        let r = want_str(rep.eval(t)?, "replace_all_patterns")?;
                        edit_map(&target, t, "replace_all_patterns", |m| {
                            for kv in m.iter_mut() {
                                if by_key {
                                    if re.is_match(&kv.key) {
                                        kv.key = replace_with(&re, &kv.key, &r);
                                    }
                                } else if let Value::Str(s) = Value::from_any(kv.value.as_ref())
                                    && re.is_match(&s)
                                {
                                    kv.value =
                                        Some(Value::Str(replace_with(&re, &s, &r)).into_any());
                                }
                            }
                            if by_key {
                                dedupe_keys(m);
                            }
                            Ok(())
                        })
                    }));
                }
                Arc::new(move |t| {
                    let r = want_str(rep.eval(t)?, "replace_all_patterns")?;
                    // The function and format getters need the context, so replacements are
                    // computed before the map is borrowed for editing.
                    let f = func.as_ref().expect("a function");
                    let replace = |t: &TCtx<'_>, s: &str| f.per_match(t, &re, s, &r);
                    let Some(map) = (match target.get(t)? {
                        Value::Nil => None,
                        Value::Map(m) => Some(m),
                        o => {
                            return Err(format!(
                                "replace_all_patterns: expected a map but got {}",
                                o.type_name()
                            ));
                        }
                    }) else {
                        return Ok(());
                    };
                    let mut changes: Vec<(usize, String)> = Vec::new();
                    for (i, kv) in map.iter().enumerate() {
                        let subject = if by_key {
                            Some(kv.key.clone())
                        } else {
                            match Value::from_any(kv.value.as_ref()) {
                                Value::Str(s) => Some(s),
                                _ => None,
                            }
                        };
                        // As in Go, an entry whose function fails is left as it is.
                        if let Some(x) = subject
                            && re.is_match(&x)
                            && let Ok(new) = replace(t, &x)
                        {
                            changes.push((i, new));
                        }
                    }
                    if changes.is_empty() {
                        return Ok(());
                    }
                    edit_map(&target, t, "replace_all_patterns", |m| {
                        for (i, new) in changes {
                            if let Some(kv) = m.get_mut(i) {
                                if by_key {
                                    kv.key = new;
                                } else {
                                    kv.value = Some(Value::Str(new).into_any());
                                }
                            }
                        }
                        if by_key {
                            dedupe_keys(m);
                        }
                        Ok(())
                    })
                })
            }
            "flatten" => {
                let a = Args::bind(call, &["target", "prefix", "depth", "resolveConflicts"], 1)?;
                let target = self.target(a.get(0), name)?;
                let prefix = a.opt(1).map(|e| lit_str(e, "prefix")).transpose()?;
                let depth = a.opt(2).map(|e| lit_int(e, "depth")).transpose()?;
                if let Some(d) = depth
                    && d < 1
                {
                    return err(
                        a.get(2).col,
                        format!("invalid depth '{d}' for flatten function, must be greater than 0"),
                    );
                }
                let resolve = match a.opt(3).map(|e| (e, &e.kind)) {
                    None => false,
                    Some((_, ExprKind::Bool(b))) => *b,
                    Some((e, _)) => return err(e.col, "resolveConflicts must be true or false"),
                };
                let depth = depth.map_or(usize::MAX, |d| d as usize);
                Arc::new(move |t| {
                    edit_map(&target, t, "flatten", |m| {
                        let mut out = Flattened {
                            out: Vec::with_capacity(m.len()),
                            index: std::collections::HashMap::new(),
                            resolve,
                            seen: std::collections::HashMap::new(),
                        };
                        out.map(std::mem::take(m), prefix.as_deref().unwrap_or(""), 0, depth);
                        *m = out.out;
                        Ok(())
                    })
                })
            }
            _ if metric_editor(name) && self.ctx == Ctx::Metric => self.metric_fn(call)?,
            _ if metric_editor(name) => {
                return err(
                    call.col,
                    format!(
                        "function \"{name}\" is not supported in the {} context",
                        self.ctx.as_str()
                    ),
                );
            }
            _ if converter_name(name) => {
                return err(
                    call.col,
                    format!("converter \"{name}\" cannot be used as an editor"),
                );
            }
            _ => return err(call.col, format!("unknown function \"{name}\"")),
        };
        Ok(f)
    }

    /// The metric-context editors: type conversions and derived metrics.
    fn metric_fn(&self, call: &Call) -> CResult<EditFn> {
        use ferrotel_pdata::proto::metrics::v1::{
            Gauge, Metric, NumberDataPoint, Sum, metric::Data, number_data_point,
        };
        let name = call.name.as_str();
        let lit_bool = |e: &Expr, what: &str| match e.kind {
            ExprKind::Bool(b) => Ok(b),
            _ => err(e.col, format!("{what} must be a bool literal")),
        };
        let no_metric = || "no metric in this context".to_string();
        Ok(match name {
            "convert_sum_to_gauge" => {
                Args::bind(call, &[], 0)?;
                Arc::new(move |t| {
                    let m = t.metric.as_mut().ok_or_else(no_metric)?;
                    if let Some(Data::Sum(s)) = &mut m.data {
                        let points = std::mem::take(&mut s.data_points);
                        m.data = Some(Data::Gauge(Gauge {
                            data_points: points,
                        }));
                    }
                    Ok(())
                })
            }
            "convert_gauge_to_sum" => {
                let a = Args::bind(call, &["aggregation_temporality", "is_monotonic"], 2)?;
                let temp = lit_str(a.get(0), "aggregation_temporality")?;
                let temporality = match temp.as_str() {
                    "cumulative" => 2,
                    "delta" => 1,
                    _ => {
                        return err(
                            a.get(0).col,
                            format!("unknown aggregation temporality: {temp}"),
                        );
                    }
                };
                let monotonic = lit_bool(a.get(1), "is_monotonic")?;
                Arc::new(move |t| {
                    let m = t.metric.as_mut().ok_or_else(no_metric)?;
                    if let Some(Data::Gauge(g)) = &mut m.data {
                        let points = std::mem::take(&mut g.data_points);
                        m.data = Some(Data::Sum(Sum {
                            data_points: points,
                            aggregation_temporality: temporality,
                            is_monotonic: monotonic,
                        }));
                    }
                    Ok(())
                })
            }
            _ => {
                let sum = name == "extract_sum_metric";
                let a = Args::bind(call, &["monotonic", "suffix"], 1)?;
                let monotonic = lit_bool(a.get(0), "monotonic")?;
                let suffix = match a.opt(1) {
                    Some(e) => lit_str(e, "suffix")?,
                    None => if sum { "_sum" } else { "_count" }.to_string(),
                };
                Arc::new(move |t| {
                    let m = t.metric.as_ref().ok_or_else(no_metric)?;
                    // Go copies attributes, times and the value, not the flags.
                    let point = |attrs: &[KeyValue], start, time, _flags: u32, v| NumberDataPoint {
                        attributes: attrs.to_vec(),
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        value: Some(v),
                        ..Default::default()
                    };
                    let invalid = || {
                        let kind = match &m.data {
                            None => "Empty",
                            Some(Data::Gauge(_)) => "Gauge",
                            Some(Data::Sum(_)) => "Sum",
                            Some(Data::Histogram(_)) => "Histogram",
                            Some(Data::ExponentialHistogram(_)) => "ExponentialHistogram",
                            Some(Data::Summary(_)) => "Summary",
                        };
                        Err(format!(
                            "{} requires an input metric of type Histogram, ExponentialHistogram or Summary, got {kind}",
                            if sum {
                                "extract_sum_metric"
                            } else {
                                "extract_count_metric"
                            }
                        ))
                    };
                    let (temporality, points): (i32, Vec<NumberDataPoint>) = match &m.data {
                        Some(Data::Histogram(h)) => (
                            h.aggregation_temporality,
                            h.data_points
                                .iter()
                                .filter_map(|p| {
                                    let v = if sum {
                                        number_data_point::Value::AsDouble(p.sum?)
                                    } else {
                                        number_data_point::Value::AsInt(p.count as i64)
                                    };
                                    Some(point(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        v,
                                    ))
                                })
                                .collect(),
                        ),
                        Some(Data::ExponentialHistogram(h)) => (
                            h.aggregation_temporality,
                            h.data_points
                                .iter()
                                .filter_map(|p| {
                                    let v = if sum {
                                        number_data_point::Value::AsDouble(p.sum?)
                                    } else {
                                        number_data_point::Value::AsInt(p.count as i64)
                                    };
                                    Some(point(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        v,
                                    ))
                                })
                                .collect(),
                        ),
                        Some(Data::Summary(s)) => (
                            2,
                            s.data_points
                                .iter()
                                .map(|p| {
                                    let v = if sum {
                                        number_data_point::Value::AsDouble(p.sum)
                                    } else {
                                        number_data_point::Value::AsInt(p.count as i64)
                                    };
                                    point(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        v,
                                    )
                                })
                                .collect(),
                        ),
                        _ => return invalid(),
                    };
                    // As Go: an unspecified temporality is refused like another type.
                    if temporality == 0 {
                        return invalid();
                    }
                    if points.is_empty() {
                        return Ok(());
                    }
                    let new = Metric {
                        name: format!("{}{suffix}", m.name),
                        description: m.description.clone(),
                        unit: if sum { m.unit.clone() } else { "1".into() },
                        data: Some(Data::Sum(Sum {
                            data_points: points,
                            aggregation_temporality: temporality,
                            is_monotonic: monotonic,
                        })),
                        ..Default::default()
                    };
                    t.new_metrics.push(new);
                    Ok(())
                })
            }
        })
    }

    /// A converter call.
    pub fn converter(&self, call: &Call) -> CResult<ConvFn> {
        let name = call.name.as_str();
        let one = |c: &Compiler| -> CResult<Getter> {
            let a = Args::bind(call, &["target"], 1)?;
            c.getter(a.get(0))
        };
        let f: ConvFn = match name {
            "IsMatch" => {
                let a = Args::bind(call, &["target", "pattern"], 2)?;
                let target = self.getter(a.get(0))?;
                let re = regex(a.get(1), "pattern")?;
                Arc::new(move |t| {
                    let v = target.eval(t)?;
                    Ok(Value::Bool(match to_str_lenient(&v) {
                        None => false,
                        Some(s) => re.is_match(&s),
                    }))
                })
            }
            "Concat" => {
                let a = Args::bind(call, &["vals", "delimiter"], 2)?;
                let vals = self.getter(a.get(0))?;
                let delim = lit_str(a.get(1), "delimiter")?;
                Arc::new(move |t| {
                    let items = vals.eval_list(t)?;
                    let mut out = String::new();
                    for (i, v) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(&delim);
                        }
                        match to_str_lenient(v) {
                            None => out.push_str("<nil>"),
                            Some(s) => out.push_str(&s),
                        }
                    }
                    Ok(Value::Str(out))
                })
            }
            "Split" => {
                let a = Args::bind(call, &["target", "delimiter"], 2)?;
                let target = self.getter(a.get(0))?;
                let delim = lit_str(a.get(1), "delimiter")?;
                Arc::new(move |t| {
                    let s = want_str(target.eval(t)?, "Split")?;
                    let part = |p: &str| Value::Str(p.into()).into_any();
                    // Go's strings.Split with an empty separator splits into characters.
                    Ok(Value::List(if delim.is_empty() {
                        s.chars()
                            .map(|c| part(c.encode_utf8(&mut [0; 4])))
                            .collect()
                    } else {
                        s.split(delim.as_str()).map(part).collect()
                    }))
                })
            }
            "ConvertCase" => {
                let a = Args::bind(call, &["target", "toCase"], 2)?;
                let target = self.getter(a.get(0))?;
                let case = lit_str(a.get(1), "toCase")?;
                if !matches!(case.as_str(), "lower" | "upper" | "snake" | "camel") {
                    return err(
                        a.get(1).col,
                        format!(
                            "invalid case: {case}, allowed cases are: lower, upper, snake, camel"
                        ),
                    );
                }
                Arc::new(move |t| {
                    let s = want_str(target.eval(t)?, "ConvertCase")?;
                    Ok(Value::Str(convert_case(&s, &case)))
                })
            }
            "Int" => {
                let g = one(self)?;
                Arc::new(move |t| {
                    Ok(match g.eval(t)? {
                        Value::Int(i) => Value::Int(i),
                        Value::Double(d) => Value::Int(d as i64),
                        Value::Bool(b) => Value::Int(b as i64),
                        // Go's IntLikeGetter: a string that is not an integer is nil, other
                        // types are an error.
                        Value::Str(s) => s.parse::<i64>().map_or(Value::Nil, Value::Int),
                        Value::Nil => Value::Nil,
                        o => {
                            return Err(format!("Int: unsupported type: {}", o.type_name()));
                        }
                    })
                })
            }
            "Double" => {
                let g = one(self)?;
                Arc::new(move |t| {
                    Ok(match g.eval(t)? {
                        Value::Int(i) => Value::Double(i as f64),
                        Value::Double(d) => Value::Double(d),
                        Value::Bool(b) => Value::Double(if b { 1.0 } else { 0.0 }),
                        // Go's FloatLikeGetter: a string that is not a number is an error
                        // (strconv.ParseFloat's), as are other types.
                        Value::Str(s) => Value::Double(s.parse::<f64>().map_err(|_| {
                            format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")
                        })?),
                        Value::Nil => Value::Nil,
                        o => {
                            return Err(format!("Double: unsupported type: {}", o.type_name()));
                        }
                    })
                })
            }
            "String" => {
                let g = one(self)?;
                Arc::new(move |t| {
                    Ok(match g.eval(t)? {
                        Value::Nil => Value::Nil,
                        v => Value::Str(v.to_display()),
                    })
                })
            }
            "IsString" | "IsInt" | "IsDouble" | "IsBool" | "IsMap" | "IsList" => {
                let g = one(self)?;
                let which = call.name.clone();
                Arc::new(move |t| {
                    let v = g.eval(t)?;
                    Ok(Value::Bool(matches!(
                        (which.as_str(), &v),
                        ("IsString", Value::Str(_))
                            | ("IsInt", Value::Int(_))
                            | ("IsDouble", Value::Double(_))
                            | ("IsBool", Value::Bool(_))
                            | ("IsMap", Value::Map(_))
                            | ("IsList", Value::List(_))
                    )))
                })
            }
            "Len" => {
                let g = one(self)?;
                Arc::new(move |t| {
                    Ok(Value::Int(match g.eval(t)? {
                        Value::Str(s) => s.len() as i64,
                        Value::Bytes(b) => b.len() as i64,
                        Value::Map(m) => m.len() as i64,
                        Value::List(l) => l.len() as i64,
                        o => return Err(format!("Len: unsupported type {}", o.type_name())),
                    }))
                })
            }
            "ParseJSON" => {
                let g = one(self)?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Str(s) => match serde_json::from_str::<serde_json::Value>(&s) {
                        // Go's ParseJSON returns a map or a slice; a bare scalar is an error.
                        Ok(j @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                            Ok(from_json(j))
                        }
                        Ok(j) => Err(format!(
                            "ParseJSON: could not convert parsed value of type {} to JSON object",
                            from_json(j).type_name()
                        )),
                        Err(e) => Err(format!("ParseJSON: {e}")),
                    },
                    o => Err(format!(
                        "ParseJSON: expected a string but got {}",
                        o.type_name()
                    )),
                })
            }
            "SHA256" => {
                let g = one(self)?;
                Arc::new(move |t| {
                    let s = want_str(g.eval(t)?, "SHA256")?;
                    let mut out = String::new();
                    crate::sha256::hex_digest_into(s.as_bytes(), &mut out);
                    Ok(Value::Str(out))
                })
            }
            "SpanID" | "TraceID" => {
                let a = Args::bind(call, &["bytes"], 1)?;
                let want = if name == "SpanID" { 8 } else { 16 };
                let e = a.get(0);
                let ExprKind::Bytes(b) = &e.kind else {
                    return err(e.col, format!("{name} expects a bytes literal (0x...)"));
                };
                if b.len() != want {
                    return err(
                        e.col,
                        format!("{name}: expected {want} bytes, got {}", b.len()),
                    );
                }
                let v = Value::Bytes(b.clone());
                Arc::new(move |_| Ok(v.clone()))
            }
            "Substring" => {
                let a = Args::bind(call, &["target", "start", "length"], 3)?;
                let target = self.getter(a.get(0))?;
                // `start` and `length` are int getters in Go (`Len(x) - 1` is allowed); literals
                // are checked here, at startup, and other expressions per item.
                if let ExprKind::Int(start) = a.get(1).kind
                    && start < 0
                {
                    return err(
                        a.get(1).col,
                        format!("invalid start for Substring function, {start} cannot be negative"),
                    );
                }
                if let ExprKind::Int(length) = a.get(2).kind
                    && length <= 0
                {
                    return err(
                        a.get(2).col,
                        format!(
                            "invalid length for Substring function, {length} cannot be negative or zero"
                        ),
                    );
                }
                let start = self.getter(a.get(1))?;
                let length = self.getter(a.get(2))?;
                let int = |g: &Getter, t: &TCtx<'_>| match g.eval(t)? {
                    Value::Int(i) => Ok(i),
                    o => Err(format!(
                        "Substring: expected int64 but got {}",
                        o.type_name()
                    )),
                };
                Arc::new(move |t| {
                    let start = int(&start, t)?;
                    if start < 0 {
                        return Err(format!(
                            "invalid start for substring function, {start} cannot be negative"
                        ));
                    }
                    let length = int(&length, t)?;
                    if length <= 0 {
                        return Err(format!(
                            "invalid length for substring function, {length} cannot be negative or zero"
                        ));
                    }
                    let s = want_str(target.eval(t)?, "Substring")?;
                    let end = start.saturating_add(length);
                    if end > s.len() as i64 {
                        return Err(format!(
                            "invalid range for substring function, {end} cannot be greater than the length of target string({})",
                            s.len()
                        ));
                    }
                    let (start, end) = (start as usize, end as usize);
                    s.get(start..end)
                        .map(|x| Value::Str(x.to_string()))
                        .ok_or_else(|| "Substring: range splits a character".to_string())
                })
            }
            "Time" => {
                let a = Args::bind(call, &["time", "format", "location", "locale"], 2)?;
                let target = self.getter(a.get(0))?;
                let format = lit_str(a.get(1), "format")?;
                if format.is_empty() {
                    return err(a.get(1).col, "format cannot be nil");
                }
                time::check_format(&format).map_err(|m| SyntaxError::new(a.get(1).col, m))?;
                let names = match a.opt(3) {
                    Some(e) => time::locale(&lit_str(e, "locale")?)
                        .map_err(|m| SyntaxError::new(e.col, m))?,
                    None => &time::EN,
                };
                // A literal location is loaded once; another expression per item, as in Go.
                enum Loc {
                    None,
                    Fixed(jiff::tz::TimeZone),
                    Dynamic(Getter),
                }
                let loc = match a.opt(2) {
                    None => Loc::None,
                    Some(e) => match &e.kind {
                        ExprKind::Str(name) => Loc::Fixed(
                            time::location(name).map_err(|m| SyntaxError::new(e.col, m))?,
                        ),
                        _ => Loc::Dynamic(self.getter(e)?),
                    },
                };
                Arc::new(move |t| {
                    let s = match target.eval(t)? {
                        Value::Str(s) => s,
                        o => {
                            return Err(format!(
                                "Time: expected a string but got {}",
                                o.type_name()
                            ));
                        }
                    };
                    if s.is_empty() {
                        return Err("time cannot be nil".into());
                    }
                    let dynamic;
                    let tz = match &loc {
                        Loc::None => None,
                        Loc::Fixed(tz) => Some(tz),
                        Loc::Dynamic(g) => match g.eval(t)? {
                            Value::Str(name) => {
                                dynamic = time::location(&name)?;
                                Some(&dynamic)
                            }
                            o => {
                                return Err(format!(
                                    "Time: location: expected a string but got {}",
                                    o.type_name()
                                ));
                            }
                        },
                    };
                    time::parse_in(&s, &format, tz, names).map(|(n, tz)| Value::Time(n, tz))
                })
            }
            "Duration" => {
                let g = one(self)?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Str(s) => time::parse_duration(&s).map(Value::Duration),
                    o => Err(format!(
                        "Duration: expected a string but got {}",
                        o.type_name()
                    )),
                })
            }
            "FormatTime" => {
                let a = Args::bind(call, &["time", "format"], 2)?;
                let target = self.getter(a.get(0))?;
                let format = lit_str(a.get(1), "format")?;
                if format.is_empty() {
                    return err(a.get(1).col, "format cannot be nil");
                }
                time::check_format(&format).map_err(|m| SyntaxError::new(a.get(1).col, m))?;
                Arc::new(move |t| match target.eval(t)? {
                    Value::Time(n, tz) => {
                        time::format_time(n, tz.as_ref(), &format).map(Value::Str)
                    }
                    o => Err(format!(
                        "FormatTime: expected a time but got {}",
                        o.type_name()
                    )),
                })
            }
            "UnixNano" => {
                let g = one(self)?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Time(n, _) => Ok(Value::Int(n)),
                    o => Err(format!(
                        "UnixNano: expected a time but got {}",
                        o.type_name()
                    )),
                })
            }
            "Now" => {
                Args::bind(call, &[], 0)?;
                Arc::new(|_| {
                    let d = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    Ok(Value::Time(d.as_nanos() as i64, None))
                })
            }
            "TruncateTime" => {
                let a = Args::bind(call, &["time", "duration"], 2)?;
                let target = self.getter(a.get(0))?;
                let dur = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let Value::Time(n, tz) = target.eval(t)? else {
                        return Err("TruncateTime: expected a time".into());
                    };
                    let Value::Duration(d) = dur.eval(t)? else {
                        return Err("TruncateTime: expected a duration".into());
                    };
                    if d <= 0 {
                        return Ok(Value::Time(n, tz));
                    }
                    // Go's `time.Truncate` rounds down to a multiple of `d` since the zero time
                    // (0001-01-01 UTC), not since the Unix epoch: weeks start on a Monday.
                    const ZERO_TIME_TO_EPOCH_NS: i128 = 62_135_596_800 * 1_000_000_000;
                    let rem = (i128::from(n) + ZERO_TIME_TO_EPOCH_NS).rem_euclid(i128::from(d));
                    Ok(Value::Time(n - rem as i64, tz))
                })
            }
            "SHA1" | "SHA512" | "MD5" | "FNV" | "Murmur3Hash" | "Murmur3Hash128"
            | "ToLowerCase" | "ToUpperCase" | "ToSnakeCase" | "ToCamelCase" | "Base64Decode" => {
                let g = one(self)?;
                let f = funcs::string_fn(name).expect("a string function");
                let fname = call.name.clone();
                Arc::new(move |t| {
                    let s = want_str(g.eval(t)?, &fname)?;
                    f(&s).map_err(|e| format!("{fname}: {e}"))
                })
            }
            "Decode" => {
                let a = Args::bind(call, &["value", "encoding"], 2)?;
                let g = self.getter(a.get(0))?;
                let encoding = lit_str(a.get(1), "encoding")?;
                // Unknown encodings fail at startup, as in Go.
                funcs::decode(b"", &encoding).map_err(|m| SyntaxError::new(a.get(1).col, m))?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Nil => Ok(Value::Nil),
                    Value::Str(s) => funcs::decode(s.as_bytes(), &encoding),
                    Value::Bytes(b) => funcs::decode(&b, &encoding),
                    o => Err(format!(
                        "Decode: unsupported type provided to Decode function: {}",
                        o.type_name()
                    )),
                })
            }
            "Hex" => {
                let g = one(self)?;
                Arc::new(move |t| {
                    let b = funcs::byte_slice_like(&g.eval(t)?).map_err(|e| format!("Hex: {e}"))?;
                    Ok(Value::Str(crate::value::hex(&b)))
                })
            }
            "Bool" => {
                let g = one(self)?;
                Arc::new(move |t| Ok(funcs::to_bool(&g.eval(t)?)))
            }
            "Log" => {
                let g = one(self)?;
                Arc::new(move |t| funcs::ln(&g.eval(t)?).map_err(|e| format!("Log: {e}")))
            }
            "HasPrefix" | "HasSuffix" | "TrimPrefix" | "TrimSuffix" => {
                let which = call.name.clone();
                let part = if name.ends_with("Prefix") {
                    "prefix"
                } else {
                    "suffix"
                };
                let a = Args::bind(call, &["value", part], 2)?;
                let g = self.getter(a.get(0))?;
                let affix = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let s = match g.eval(t)? {
                        Value::Str(s) => s,
                        o => {
                            return Err(format!(
                                "{which}: expected a string but got {}",
                                o.type_name()
                            ));
                        }
                    };
                    let x = match affix.eval(t)? {
                        Value::Str(x) => x,
                        o => {
                            return Err(format!(
                                "{which}: expected a string but got {}",
                                o.type_name()
                            ));
                        }
                    };
                    Ok(match which.as_str() {
                        "HasPrefix" => Value::Bool(s.starts_with(&x)),
                        "HasSuffix" => Value::Bool(s.ends_with(&x)),
                        "TrimPrefix" => {
                            Value::Str(s.strip_prefix(x.as_str()).unwrap_or(&s).to_string())
                        }
                        _ => Value::Str(s.strip_suffix(x.as_str()).unwrap_or(&s).to_string()),
                    })
                })
            }
            "ExtractPatterns" => {
                let a = Args::bind(call, &["target", "pattern"], 2)?;
                let target = self.getter(a.get(0))?;
                let re = regex(a.get(1), "pattern")?;
                if re.capture_names().flatten().next().is_none() {
                    return err(
                        a.get(1).col,
                        "at least 1 named capture group must be supplied in the given regex",
                    );
                }
                Arc::new(move |t| match target.eval(t)? {
                    Value::Str(s) => Ok(funcs::extract_patterns(&re, &s)),
                    o => Err(format!(
                        "ExtractPatterns: expected a string but got {}",
                        o.type_name()
                    )),
                })
            }
            "URL" => {
                let a = Args::bind(call, &["url_string"], 1)?;
                let g = self.getter(a.get(0))?;
                Arc::new(move |t| {
                    let s = want_str(g.eval(t)?, "URL")?;
                    if s.is_empty() {
                        return Err("URL: url cannot be empty".into());
                    }
                    funcs::parse_url(&s).map_err(|e| format!("URL: {e}"))
                })
            }
            "Keys" | "Values" => {
                let g = one(self)?;
                let keys = name == "Keys";
                let fname = call.name.clone();
                Arc::new(move |t| match g.eval(t)? {
                    Value::Nil => Ok(Value::Nil),
                    Value::Map(m) => Ok(Value::List(
                        m.into_iter()
                            .map(|kv| {
                                if keys {
                                    Value::Str(kv.key).into_any()
                                } else {
                                    kv.value.unwrap_or_default()
                                }
                            })
                            .collect(),
                    )),
                    o => Err(format!("{fname}: expected a map but got {}", o.type_name())),
                })
            }
            "Format" => {
                let a = Args::bind(call, &["format", "vals"], 2)?;
                let format = self.getter(a.get(0))?;
                let vals = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let f = match format.eval(t)? {
                        Value::Str(f) => f,
                        o => {
                            return Err(format!(
                                "Format: expected a string but got {}",
                                o.type_name()
                            ));
                        }
                    };
                    let args = match &vals {
                        // A list literal keeps its items' own types (times, durations).
                        Getter::List(items) => {
                            items.iter().map(|g| g.eval(t)).collect::<R<Vec<_>>>()?
                        }
                        g => g.eval_list(t)?,
                    };
                    Ok(Value::Str(funcs::sprintf(&f, &args)))
                })
            }
            "Year" | "Month" | "Day" | "Hour" | "Minute" | "Second" | "Nanosecond" | "Weekday"
            | "UnixSeconds" | "UnixMilli" | "UnixMicro" => {
                let g = one(self)?;
                let fname = call.name.clone();
                Arc::new(move |t| {
                    let Value::Time(n, tz) = g.eval(t)? else {
                        return Err(format!("{fname}: expected a time"));
                    };
                    // Calendar fields in the time's zone, as Go's time.Time methods.
                    let field = |f: fn(&jiff::civil::DateTime) -> i64| {
                        time::civil(n, tz.as_ref()).map(|dt| Value::Int(f(&dt)))
                    };
                    match fname.as_str() {
                        "Year" => field(|d| d.year() as i64),
                        "Month" => field(|d| d.month() as i64),
                        "Day" => field(|d| d.day() as i64),
                        "Hour" => field(|d| d.hour() as i64),
                        "Minute" => field(|d| d.minute() as i64),
                        "Second" => field(|d| d.second() as i64),
                        "Nanosecond" => field(|d| d.subsec_nanosecond() as i64),
                        "Weekday" => field(|d| d.weekday().to_sunday_zero_offset() as i64),
                        "UnixSeconds" => Ok(Value::Int(n.div_euclid(1_000_000_000))),
                        "UnixMilli" => Ok(Value::Int(n.div_euclid(1_000_000))),
                        _ => Ok(Value::Int(n.div_euclid(1_000))),
                    }
                })
            }
            "Hours" | "Minutes" | "Seconds" | "Milliseconds" | "Microseconds" | "Nanoseconds" => {
                let g = one(self)?;
                let fname = call.name.clone();
                Arc::new(move |t| {
                    let Value::Duration(d) = g.eval(t)? else {
                        return Err(format!("{fname}: expected a duration"));
                    };
                    // As Go: whole units for the sub-second ones, fractions for the others.
                    Ok(match fname.as_str() {
                        "Hours" => Value::Double(
                            (d / 3_600_000_000_000) as f64
                                + (d % 3_600_000_000_000) as f64 / 3.6e12,
                        ),
                        "Minutes" => Value::Double(
                            (d / 60_000_000_000) as f64 + (d % 60_000_000_000) as f64 / 6e10,
                        ),
                        "Seconds" => Value::Double(
                            (d / 1_000_000_000) as f64 + (d % 1_000_000_000) as f64 / 1e9,
                        ),
                        "Milliseconds" => Value::Int(d / 1_000_000),
                        "Microseconds" => Value::Int(d / 1_000),
                        _ => Value::Int(d),
                    })
                })
            }
            "Unix" => {
                let a = Args::bind(call, &["seconds", "nanoseconds"], 1)?;
                let secs = self.getter(a.get(0))?;
                let ns = a.opt(1).map(|e| self.getter(e)).transpose()?;
                Arc::new(move |t| {
                    let Value::Int(s) = secs.eval(t)? else {
                        return Err("Unix: seconds must be an int".into());
                    };
                    let n = match &ns {
                        None => 0,
                        Some(g) => match g.eval(t)? {
                            Value::Int(n) => n,
                            _ => return Err("Unix: nanoseconds must be an int".into()),
                        },
                    };
                    s.checked_mul(1_000_000_000)
                        .and_then(|x| x.checked_add(n))
                        .map(|n| Value::Time(n, None))
                        .ok_or_else(|| "Unix: time out of range".to_string())
                })
            }
            _ if !name.starts_with(|c: char| c.is_ascii_uppercase()) => {
                return err(
                    call.col,
                    format!("editor \"{name}\" cannot be used as a value"),
                );
            }
            _ => return err(call.col, format!("unknown function \"{name}\"")),
        };
        Ok(f)
    }
}

/// The optional `function` and `replacementFormat` of the `replace_*` editors: a converter of
/// one string (`SHA256`, `ToLowerCase`, ...) applied to the replacement, and a format with one
/// `%s` around its result (the format is used only with a function, as in Go).
struct ReplaceFn {
    name: String,
    f: funcs::StrFn,
    format: Option<Getter>,
}

impl ReplaceFn {
    /// `function(replacement)`, formatted.
    fn whole(&self, t: &TCtx<'_>, replacement: &str) -> R<String> {
        let v = (self.f)(replacement).map_err(|e| format!("{}: {e}", self.name))?;
        let Value::Str(s) = v else {
            return Err("replacement value is not a string".into());
        };
        match &self.format {
            None => Ok(s),
            Some(g) => match g.eval(t)? {
                Value::Str(f) => apply_replace_format(&f, &s),
                o => Err(format!(
                    "replacementFormat: expected a string but got {}",
                    o.type_name()
                )),
            },
        }
    }

    /// Go's `applyOptReplaceFunction`: for each match, the replacement expanded with the
    /// match's groups goes through the function and format, and every occurrence of the
    /// matched text is replaced by the result.
    fn per_match(&self, t: &TCtx<'_>, re: &Regex, s: &str, replacement: &str) -> R<String> {
        let mut updated = s.to_string();
        for caps in re.captures_iter(s) {
            let full = caps.get(0).map_or("", |m| m.as_str());
            let mut expanded = String::new();
            caps.expand(replacement, &mut expanded);
            let new = self.whole(t, &expanded)?;
            updated = updated.replace(full, &new);
        }
        Ok(updated)
    }
}

/// Go's check of `replacementFormat` (one `%s`, no other verb), then `fmt.Sprintf`.
fn apply_replace_format(format: &str, s: &str) -> R<String> {
    let mut verbs = format
        .match_indices('%')
        .map(|(i, _)| format[i + 1..].chars().next());
    let valid = format.contains("%s") && verbs.all(|v| v == Some('s'));
    if !valid {
        return Err(
            "replacementFormat must be format string containing a single %s and no other format specifiers"
                .into(),
        );
    }
    Ok(funcs::sprintf(format, &[Value::Str(s.to_string())]))
}

impl Compiler {
    fn replace_fn(&self, a: &Args<'_>) -> CResult<Option<ReplaceFn>> {
        self.replace_fn_at(a, 3)
    }

    /// The `function` argument at `i` and `replacementFormat` at `i + 1`.
    fn replace_fn_at(&self, a: &Args<'_>, i: usize) -> CResult<Option<ReplaceFn>> {
        let format = a.opt(i + 1).map(|e| self.getter(e)).transpose()?;
        // Without a function the format is ignored, as in Go.
        let Some(e) = a.opt(i) else {
            return Ok(None);
        };
        let ExprKind::Enum(name) = &e.kind else {
            return err(
                e.col,
                "function must be the name of a converter, e.g. SHA256",
            );
        };
        let Some(f) = funcs::string_fn(name) else {
            return err(
                e.col,
                format!(
                    "function \"{name}\" is not a converter of one string (SHA1, SHA256, SHA512, MD5, FNV, Murmur3Hash, Murmur3Hash128, ToLowerCase, ToUpperCase, ToSnakeCase, ToCamelCase, Base64Decode)"
                ),
            );
        };
        Ok(Some(ReplaceFn {
            name: name.clone(),
            f,
            format,
        }))
    }
}

/// The converters this build knows.
pub const CONVERTERS: &[&str] = &[
    "IsMatch",
    "Concat",
    "Split",
    "ConvertCase",
    "Int",
    "Double",
    "String",
    "IsString",
    "IsInt",
    "IsDouble",
    "IsBool",
    "IsMap",
    "IsList",
    "Len",
    "ParseJSON",
    "SHA256",
    "SpanID",
    "TraceID",
    "Substring",
    "Time",
    "Duration",
    "UnixNano",
    "Now",
    "TruncateTime",
    "SHA1",
    "SHA512",
    "MD5",
    "FNV",
    "Murmur3Hash",
    "Murmur3Hash128",
    "ToLowerCase",
    "ToUpperCase",
    "ToSnakeCase",
    "ToCamelCase",
    "Base64Decode",
    "Decode",
    "Hex",
    "Bool",
    "Log",
    "HasPrefix",
    "HasSuffix",
    "TrimPrefix",
    "TrimSuffix",
    "ExtractPatterns",
    "URL",
    "Keys",
    "Values",
    "Format",
    "Year",
    "Month",
    "Day",
    "Hour",
    "Minute",
    "Second",
    "Nanosecond",
    "Weekday",
    "UnixSeconds",
    "UnixMilli",
    "UnixMicro",
    "Hours",
    "Minutes",
    "Seconds",
    "Milliseconds",
    "Microseconds",
    "Nanoseconds",
    "Unix",
    "FormatTime",
];

fn converter_name(n: &str) -> bool {
    CONVERTERS.contains(&n)
}

/// Metric-only editors (the metric context only).
fn metric_editor(n: &str) -> bool {
    matches!(
        n,
        "convert_sum_to_gauge"
            | "convert_gauge_to_sum"
            | "extract_sum_metric"
            | "extract_count_metric"
    )
}

/// Edits a map-valued target in place (attributes directly; other maps by read-modify-write).
/// A nil target is left alone; a non-map target is an error.
fn edit_map(
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
fn dedupe_keys(m: &mut Vec<KeyValue>) {
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
struct Flattened {
    out: Vec<KeyValue>,
    index: std::collections::HashMap<String, usize>,
    resolve: bool,
    /// Per conflicting key, the suffix its next value takes.
    seen: std::collections::HashMap<String, usize>,
}

impl Flattened {
    fn put(&mut self, key: String, value: Option<AnyValue>) {
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

    fn leaf(&mut self, key: String, value: Option<AnyValue>) {
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

    fn map(&mut self, m: Vec<KeyValue>, prefix: &str, level: usize, depth: usize) {
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
    fn value(&mut self, prefix: &str, k: String, v: Option<AnyValue>, level: usize, depth: usize) {
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

/// `ConvertCase` (and `ToSnakeCase`/`ToCamelCase`): lower and upper as Go's `strings`, snake
/// and camel as iancoleman/strcase (v0.3), which Go's OTTL uses. strcase works on ASCII bytes:
/// snake inserts `_` where the case changes (`myHTTPServer` → `my_http_server`, `v2beta` →
/// `v_2_beta`) and turns ` `, `-`, `.` into `_`; camel upper-cases the start of each word and
/// what follows a digit, and drops separators and every other byte.
pub(crate) fn convert_case(s: &str, case: &str) -> String {
    match case {
        "lower" => s.to_lowercase(),
        "upper" => s.to_uppercase(),
        "snake" => strcase_snake(s),
        _ => strcase_camel(s),
    }
}

fn strcase_snake(s: &str) -> String {
    let b = s.trim().as_bytes();
    let mut out = Vec::with_capacity(b.len() + 2);
    for (i, &c) in b.iter().enumerate() {
        let (is_cap, is_low) = (c.is_ascii_uppercase(), c.is_ascii_lowercase());
        let v = c.to_ascii_lowercase();
        if let Some(&next) = b.get(i + 1) {
            let is_num = v.is_ascii_digit();
            let (next_cap, next_low, next_num) = (
                next.is_ascii_uppercase(),
                next.is_ascii_lowercase(),
                next.is_ascii_digit(),
            );
            if (is_cap && (next_low || next_num))
                || (is_low && (next_cap || next_num))
                || (is_num && (next_cap || next_low))
            {
                // An acronym ends before its last capital: `HTTPServer` → `http_server`.
                if is_cap && next_low && i > 0 && b[i - 1].is_ascii_uppercase() {
                    out.push(b'_');
                }
                out.push(v);
                if is_low || is_num || next_num {
                    out.push(b'_');
                }
                continue;
            }
        }
        out.push(if matches!(v, b' ' | b'_' | b'-' | b'.') {
            b'_'
        } else {
            v
        });
    }
    // Only ASCII bytes were changed or inserted, so the UTF-8 of the rest is intact.
    String::from_utf8(out).unwrap_or_default()
}

fn strcase_camel(s: &str) -> String {
    let b = s.trim().as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut cap_next = true;
    for (i, &c) in b.iter().enumerate() {
        let v = if cap_next {
            c.to_ascii_uppercase()
        } else if i == 0 {
            c.to_ascii_lowercase()
        } else {
            c
        };
        if c.is_ascii_alphabetic() {
            out.push(v);
            cap_next = false;
        } else if c.is_ascii_digit() {
            out.push(v);
            cap_next = true;
        } else {
            cap_next = matches!(c, b'_' | b' ' | b'-' | b'.');
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Enum names OTTL knows.
pub fn enum_value(name: &str) -> Option<i64> {
    Some(match name {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        "METRIC_DATA_TYPE_NONE" => 0,
        "METRIC_DATA_TYPE_GAUGE" => 1,
        "METRIC_DATA_TYPE_SUM" => 2,
        "METRIC_DATA_TYPE_HISTOGRAM" => 3,
        "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM" => 4,
        "METRIC_DATA_TYPE_SUMMARY" => 5,
        "AGGREGATION_TEMPORALITY_UNSPECIFIED" => 0,
        "AGGREGATION_TEMPORALITY_DELTA" => 1,
        "AGGREGATION_TEMPORALITY_CUMULATIVE" => 2,
        "FLAG_NONE" => 0,
        "FLAG_NO_RECORDED_VALUE" => 1,
        _ => {
            let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
            let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
            if rest == "UNSPECIFIED" {
                return Some(0);
            }
            let (base, n) = match rest.find(|c: char| c.is_ascii_digit()) {
                Some(i) => (&rest[..i], rest[i..].parse::<i64>().ok()?),
                None => (rest, 1),
            };
            let idx = levels.iter().position(|l| *l == base)? as i64;
            if !(1..=4).contains(&n) {
                return None;
            }
            idx * 4 + n
        }
    })
}

/// Re-exported for the JSON helper's users.
pub fn json_of(v: &Value) -> serde_json::Value {
    to_json(v)
}
