//! Compiled expressions: [`Getter`] trees (enum-dispatched) and compiled paths ([`PathAcc`]),
//! with OTTL's comparison and arithmetic rules. A path's keys are getters themselves, so the
//! two types live together; reading and writing a field is [`crate::access`]'s.

use std::fmt;
use std::sync::Arc;

use ferrotel_pdata::proto::common::v1::KeyValue;
use regex::Regex;

use crate::access::FieldRef;
use crate::context::{Ctx, TCtx};
use crate::key::{Key, index_any};
use crate::parser::BinOp;
use crate::path::Field;
use crate::value::{R, Value, kv, to_str_lenient};

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
    /// `IsMatch(target, pattern)`: a node rather than a converter closure, so conditions
    /// using it can also run on encoded items ([`crate::wire`]).
    IsMatch(Box<Getter>, Regex),
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
                index_any(Some(&v.into_any()), &ks)
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
            Getter::IsMatch(target, pattern) => {
                let v = target.eval(t)?;
                Ok(Value::Bool(
                    to_str_lenient(&v).is_some_and(|s| pattern.is_match(&s)),
                ))
            }
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
    pub(crate) fn eval_list(&self, t: &TCtx<'_>) -> R<Vec<Value>> {
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
    ordering_holds(op, ord)
}

/// Whether comparison `op` holds between values ordered `ord` (`None`: unordered, which only
/// `!=` accepts).
pub(crate) fn ordering_holds(op: BinOp, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering;
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

/// A compiled path: a context, a field and the keys that index into it.
#[derive(Debug, Clone)]
pub struct PathAcc {
    pub ctx: Ctx,
    pub field: Field,
    pub keys: Vec<Getter>,
}

impl PathAcc {
    /// The field the path names, before its keys.
    fn at(&self) -> FieldRef {
        FieldRef {
            ctx: self.ctx,
            field: self.field,
        }
    }

    /// The attribute list the path names (created for a resource or scope without one).
    pub fn attrs_mut<'b>(&self, t: &'b mut TCtx<'_>) -> R<&'b mut Vec<KeyValue>> {
        self.at().attrs_mut(t)
    }

    /// Reads the path: missing keys are nil.
    pub fn get(&self, t: &TCtx<'_>) -> R<Value> {
        if self.keys.is_empty() {
            return self.at().get(t, &[]);
        }
        let keys = self.eval_keys(t)?;
        self.at().get(t, &keys)
    }

    fn eval_keys(&self, t: &TCtx<'_>) -> R<Vec<Key>> {
        self.keys
            .iter()
            .map(|g| match g.eval(t)? {
                Value::Str(s) => Ok(Key::Str(s)),
                Value::Int(i) => Ok(Key::Int(i)),
                other => Err(format!(
                    "index must be a string or an int, got {}",
                    other.type_name()
                )),
            })
            .collect()
    }

    /// Writes the path. Setting a field to nil is a no-op, as in OTTL's `set`; the keys are
    /// not evaluated then.
    pub fn set(&self, t: &mut TCtx<'_>, v: Value) -> R<()> {
        if matches!(v, Value::Nil) {
            return Ok(());
        }
        if self.keys.is_empty() {
            return self.at().set(t, &[], v);
        }
        let keys = self.eval_keys(t)?;
        self.at().set(t, &keys, v)
    }
}
