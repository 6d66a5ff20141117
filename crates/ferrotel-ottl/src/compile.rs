//! AST to evaluable form: [`Getter`] trees (enum-dispatched) and editor closures, built once.

use std::fmt;
use std::sync::Arc;

use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue};
use regex::Regex;

use crate::context::{Ctx, Field, Key, PathAcc, TCtx, resolve};
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
        (Value::Time(x), Value::Time(y)) | (Value::Duration(x), Value::Duration(y)) => {
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
        (Value::Time(x), Value::Time(y)) if op == BinOp::Sub => Ok(Value::Duration(x - y)),
        (Value::Time(x), Value::Duration(y)) if op == BinOp::Add => Ok(Value::Time(x + y)),
        (Value::Time(x), Value::Duration(y)) if op == BinOp::Sub => Ok(Value::Time(x - y)),
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
    let mut r = String::from("^");
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

fn to_str_lenient(v: &Value) -> R<Option<String>> {
    Ok(match v {
        Value::Nil => None,
        Value::Str(s) => Some(s.clone()),
        Value::Int(_) | Value::Double(_) | Value::Bool(_) => Some(v.to_display()),
        o => return Err(format!("unsupported type {}", o.type_name())),
    })
}

fn want_str(v: Value, f: &str) -> R<Option<String>> {
    match v {
        Value::Nil => Ok(None),
        Value::Str(s) => Ok(Some(s)),
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
        if !keys.is_empty() && !matches!(field, Field::Attributes | Field::Cache | Field::Body) {
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
                let a = Args::bind(call, &["target", "regex", "replacement"], 3)?;
                let target = self.target(a.get(0), name)?;
                let re = regex(a.get(1), "regex")?;
                let rep = self.getter(a.get(2))?;
                Arc::new(move |t| {
                    let Value::Str(s) = target.get(t)? else {
                        return Ok(());
                    };
                    let Some(r) = want_str(rep.eval(t)?, "replace_pattern")? else {
                        return Ok(());
                    };
                    if re.is_match(&s) {
                        target.set(t, Value::Str(replace_with(&re, &s, &r)))?;
                    }
                    Ok(())
                })
            }
            "replace_match" => {
                let a = Args::bind(call, &["target", "pattern", "replacement"], 3)?;
                let target = self.target(a.get(0), name)?;
                let g = glob(a.get(1))?;
                let rep = self.getter(a.get(2))?;
                Arc::new(move |t| {
                    let Value::Str(s) = target.get(t)? else {
                        return Ok(());
                    };
                    if g.is_match(&s)
                        && let Some(r) = want_str(rep.eval(t)?, "replace_match")?
                    {
                        target.set(t, Value::Str(r))?;
                    }
                    Ok(())
                })
            }
            "replace_all_matches" => {
                let a = Args::bind(call, &["target", "pattern", "replacement"], 3)?;
                let target = self.target(a.get(0), name)?;
                let g = glob(a.get(1))?;
                let rep = self.getter(a.get(2))?;
                Arc::new(move |t| {
                    let Some(r) = want_str(rep.eval(t)?, "replace_all_matches")? else {
                        return Ok(());
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
                let a = Args::bind(call, &["target", "mode", "regex", "replacement"], 4)?;
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
                Arc::new(move |t| {
                    let Some(r) = want_str(rep.eval(t)?, "replace_all_patterns")? else {
                        return Ok(());
                    };
                    edit_map(&target, t, "replace_all_patterns", |m| {
                        for kv in m.iter_mut() {
                            if by_key {
                                if re.is_match(&kv.key) {
                                    kv.key = replace_with(&re, &kv.key, &r);
                                }
                            } else if let Value::Str(s) = Value::from_any(kv.value.as_ref())
                                && re.is_match(&s)
                            {
                                kv.value = Some(Value::Str(replace_with(&re, &s, &r)).into_any());
                            }
                        }
                        Ok(())
                    })
                })
            }
            "flatten" => {
                let a = Args::bind(call, &["target", "prefix", "depth"], 1)?;
                let target = self.target(a.get(0), name)?;
                let prefix = a.opt(1).map(|e| lit_str(e, "prefix")).transpose()?;
                let depth = a.opt(2).map(|e| lit_int(e, "depth")).transpose()?;
                if let Some(d) = depth
                    && d < 0
                {
                    return err(
                        a.get(2).col,
                        "invalid depth for flatten function, cannot be negative",
                    );
                }
                let depth = depth.map_or(usize::MAX, |d| d as usize);
                Arc::new(move |t| {
                    edit_map(&target, t, "flatten", |m| {
                        let mut out = Vec::with_capacity(m.len());
                        flatten(
                            std::mem::take(m),
                            prefix.as_deref().unwrap_or(""),
                            0,
                            depth,
                            &mut out,
                        );
                        *m = out;
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
                    let point = |attrs: &[KeyValue], start, time, flags, v| NumberDataPoint {
                        attributes: attrs.to_vec(),
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        flags,
                        value: Some(v),
                        ..Default::default()
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
                        _ => return Ok(()),
                    };
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
                    Ok(Value::Bool(
                        match to_str_lenient(&v).map_err(|e| format!("IsMatch: {e}"))? {
                            None => false,
                            Some(s) => re.is_match(&s),
                        },
                    ))
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
                        match v {
                            Value::Nil => out.push_str("<nil>"),
                            Value::Map(_) | Value::List(_) => {
                                return Err(format!("Concat: unsupported type {}", v.type_name()));
                            }
                            v => out.push_str(&v.to_display()),
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
                    Ok(match want_str(target.eval(t)?, "Split")? {
                        None => Value::Nil,
                        Some(s) => Value::List(
                            s.split(delim.as_str())
                                .map(|p| Value::Str(p.into()).into_any())
                                .collect(),
                        ),
                    })
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
                    Ok(match want_str(target.eval(t)?, "ConvertCase")? {
                        None => Value::Nil,
                        Some(s) => Value::Str(convert_case(&s, &case)),
                    })
                })
            }
            "Int" => {
                let g = one(self)?;
                Arc::new(move |t| {
                    Ok(match g.eval(t)? {
                        Value::Int(i) => Value::Int(i),
                        Value::Double(d) => Value::Int(d as i64),
                        Value::Bool(b) => Value::Int(b as i64),
                        Value::Str(s) => s.trim().parse::<i64>().map_or(Value::Nil, Value::Int),
                        _ => Value::Nil,
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
                        Value::Str(s) => s.trim().parse::<f64>().map_or(Value::Nil, Value::Double),
                        _ => Value::Nil,
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
                    Value::Str(s) => serde_json::from_str::<serde_json::Value>(&s)
                        .map(from_json)
                        .map_err(|e| format!("ParseJSON: {e}")),
                    o => Err(format!(
                        "ParseJSON: expected a string but got {}",
                        o.type_name()
                    )),
                })
            }
            "SHA256" => {
                let g = one(self)?;
                Arc::new(move |t| {
                    Ok(match want_str(g.eval(t)?, "SHA256")? {
                        None => Value::Nil,
                        Some(s) => {
                            let mut out = String::new();
                            crate::sha256::hex_digest_into(s.as_bytes(), &mut out);
                            Value::Str(out)
                        }
                    })
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
                let start = lit_int(a.get(1), "start")?;
                let length = lit_int(a.get(2), "length")?;
                if start < 0 {
                    return err(
                        a.get(1).col,
                        format!("invalid start for Substring function, {start} cannot be negative"),
                    );
                }
                if length <= 0 {
                    return err(
                        a.get(2).col,
                        format!(
                            "invalid length for Substring function, {length} cannot be negative or zero"
                        ),
                    );
                }
                let (start, length) = (start as usize, length as usize);
                Arc::new(move |t| {
                    let Some(s) = want_str(target.eval(t)?, "Substring")? else {
                        return Ok(Value::Nil);
                    };
                    if start + length > s.len() {
                        return Err(format!(
                            "invalid range for substring function, {} cannot be greater than the length of target string({})",
                            start + length,
                            s.len()
                        ));
                    }
                    s.get(start..start + length)
                        .map(|x| Value::Str(x.to_string()))
                        .ok_or_else(|| "Substring: range splits a character".to_string())
                })
            }
            "Time" => {
                let a = Args::bind(call, &["time", "format"], 2)?;
                let target = self.getter(a.get(0))?;
                let format = lit_str(a.get(1), "format")?;
                if format.is_empty() {
                    return err(a.get(1).col, "format cannot be nil");
                }
                time::check_format(&format).map_err(|m| SyntaxError::new(a.get(1).col, m))?;
                Arc::new(move |t| match target.eval(t)? {
                    Value::Str(s) => time::parse(&s, &format).map(Value::Time),
                    o => Err(format!("Time: expected a string but got {}", o.type_name())),
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
            "UnixNano" => {
                let g = one(self)?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Time(n) => Ok(Value::Int(n)),
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
                    Ok(Value::Time(d.as_nanos() as i64))
                })
            }
            "TruncateTime" => {
                let a = Args::bind(call, &["time", "duration"], 2)?;
                let target = self.getter(a.get(0))?;
                let dur = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let Value::Time(n) = target.eval(t)? else {
                        return Err("TruncateTime: expected a time".into());
                    };
                    let Value::Duration(d) = dur.eval(t)? else {
                        return Err("TruncateTime: expected a duration".into());
                    };
                    if d <= 0 {
                        return Ok(Value::Time(n));
                    }
                    Ok(Value::Time(n - n.rem_euclid(d)))
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

fn flatten(m: Vec<KeyValue>, prefix: &str, level: usize, depth: usize, out: &mut Vec<KeyValue>) {
    use ferrotel_pdata::proto::common::v1::any_value::Value as V;
    for kv in m {
        let key = if prefix.is_empty() {
            kv.key
        } else {
            format!("{prefix}.{}", kv.key)
        };
        match kv.value.and_then(|v| v.value) {
            Some(V::KvlistValue(inner)) if level < depth => {
                flatten(inner.values, &key, level + 1, depth, out)
            }
            Some(V::ArrayValue(a)) if level < depth => {
                let items = a
                    .values
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| KeyValue {
                        key: i.to_string(),
                        value: Some(v),
                        ..Default::default()
                    })
                    .collect();
                flatten(items, &key, level + 1, depth, out)
            }
            v => out.push(KeyValue {
                key,
                value: Some(AnyValue { value: v }),
                ..Default::default()
            }),
        }
    }
}

fn convert_case(s: &str, case: &str) -> String {
    match case {
        "lower" => s.to_lowercase(),
        "upper" => s.to_uppercase(),
        "snake" => {
            let mut out = String::new();
            let mut prev_lower = false;
            for c in s.chars() {
                if c == ' ' || c == '-' || c == '_' || c == '.' {
                    if !out.ends_with('_') && !out.is_empty() {
                        out.push('_');
                    }
                    prev_lower = false;
                } else if c.is_uppercase() {
                    if prev_lower && !out.ends_with('_') {
                        out.push('_');
                    }
                    out.extend(c.to_lowercase());
                    prev_lower = false;
                } else {
                    out.push(c);
                    prev_lower = c.is_lowercase() || c.is_ascii_digit();
                }
            }
            out
        }
        _ => {
            let mut out = String::new();
            let mut upper = true;
            for c in s.chars() {
                if c == ' ' || c == '-' || c == '_' || c == '.' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
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
