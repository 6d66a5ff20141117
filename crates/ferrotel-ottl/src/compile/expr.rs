//! Expressions in value and condition position, paths, and the dispatch of converter calls.

use std::sync::Arc;

use super::compiler::{CResult, Compiler, err};
use super::names::{converter_name, enum_value};
use crate::getter::{ConvFn, Getter, PathAcc};
use crate::parser::{BinOp, Call, Expr, ExprKind, SyntaxError};
use crate::path::{Field, resolve};
use crate::value::Value;

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
                let f = if call.name == "IsMatch" {
                    self.is_match(call)?
                } else {
                    Getter::Conv(self.converter(call)?)
                };
                if call.keys.is_empty() {
                    f
                } else {
                    let keys = call
                        .keys
                        .iter()
                        .map(|k| self.getter(k))
                        .collect::<CResult<Vec<_>>>()?;
                    Getter::Index(Box::new(f), keys)
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

    pub(super) fn target(&self, e: &Expr, f: &str) -> CResult<PathAcc> {
        match &e.kind {
            ExprKind::Path(_) => self.path(e),
            _ => err(e.col, format!("the target of \"{f}\" must be a path")),
        }
    }

    /// A converter call: each family of converters recognizes its own names.
    pub fn converter(&self, call: &Call) -> CResult<ConvFn> {
        if call.name == "IsMatch" {
            let g = self.is_match(call)?;
            return Ok(Arc::new(move |t| g.eval(t)));
        }
        if let Some(f) = self.string_converter(call)? {
            return Ok(f);
        }
        if let Some(f) = self.type_converter(call)? {
            return Ok(f);
        }
        if let Some(f) = self.bytes_converter(call)? {
            return Ok(f);
        }
        if let Some(f) = self.time_converter(call)? {
            return Ok(f);
        }
        let name = call.name.as_str();
        if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            return err(
                call.col,
                format!("editor \"{name}\" cannot be used as a value"),
            );
        }
        err(call.col, format!("unknown function \"{name}\""))
    }
}
