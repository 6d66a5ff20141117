//! The OpenTelemetry Transformation Language (OTTL), as the Go Collector's `pkg/ottl` defines
//! it: a hand-written lexer and recursive-descent parser ([`parser`]), a compiler from the AST
//! to enum-dispatched getters and editor closures ([`compile`]), and the contexts statements run
//! against ([`context`]). Statements are compiled once; per item only the compiled form runs.
//! Common span conditions also compile to a form evaluated on encoded spans ([`wire`]).
//!
//! Errors while parsing name the statement (1-based) and column:
//! `statement 2, col 17: unknown function "SETT"`. Errors while evaluating are values
//! (`Err(String)`) the caller handles per its `error_mode`.

pub mod access;
pub mod compile;
pub mod context;
pub mod funcs;
pub mod getter;
pub mod key;
pub mod parser;
pub mod path;
pub mod sha256;
pub mod time;
pub mod value;
pub mod walk;
pub mod wire;

use std::collections::BTreeSet;

pub use compile::EditShape;
pub use context::{Ctx, Point, TCtx};
pub use getter::{EditFn, Getter};
pub use parser::{Expr, ExprKind, SyntaxError};
pub use value::Value;
pub use walk::walk;

use compile::Compiler;

/// A compiled statement: an editor and an optional `where` condition.
pub struct Statement {
    ctx: Ctx,
    edit: EditFn,
    /// What the editor does, for edits that also run on the wire.
    shape: EditShape,
    condition: Option<Getter>,
    text: String,
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Statement({:?}, {:?})", self.ctx, self.text)
    }
}

impl Statement {
    /// The context the statement runs in.
    pub fn context(&self) -> Ctx {
        self.ctx
    }

    /// The source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What the editor does (`set` and `delete_key` with their arguments), for callers that
    /// run common edits without decoding.
    pub fn shape(&self) -> &EditShape {
        &self.shape
    }

    /// The `where` condition, if any.
    pub fn condition(&self) -> Option<&Getter> {
        self.condition.as_ref()
    }

    /// Runs the statement on one item: the editor runs if the condition holds.
    pub fn execute(&self, t: &mut TCtx<'_>) -> Result<(), String> {
        if let Some(c) = &self.condition
            && !c.truth(t)?
        {
            return Ok(());
        }
        (self.edit)(t)
    }
}

/// A compiled boolean condition.
#[derive(Debug, Clone)]
pub struct Condition {
    ctx: Ctx,
    getter: Getter,
    text: String,
}

impl Condition {
    pub fn context(&self) -> Ctx {
        self.ctx
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The compiled condition.
    pub fn getter(&self) -> &Getter {
        &self.getter
    }

    /// Evaluates the condition on one item.
    pub fn eval(&self, t: &TCtx<'_>) -> Result<bool, String> {
        self.getter.truth(t)
    }
}

fn located(what: &str, i: usize, e: SyntaxError) -> String {
    format!("{what} {}, col {}: {}", i + 1, e.col, e.message)
}

/// Compiles one statement in context `ctx`.
pub fn compile_statement(src: &str, ctx: Ctx) -> Result<Statement, SyntaxError> {
    let ast = parser::parse_statement(src)?;
    let c = Compiler { ctx };
    let edit = c.editor(&ast.editor)?;
    let shape = c.edit_shape(&ast.editor)?;
    let condition = ast.condition.as_ref().map(|e| c.condition(e)).transpose()?;
    Ok(Statement {
        ctx,
        edit,
        shape,
        condition,
        text: src.to_string(),
    })
}

/// Compiles one condition in context `ctx`.
pub fn compile_condition(src: &str, ctx: Ctx) -> Result<Condition, SyntaxError> {
    let ast = parser::parse_condition(src)?;
    let getter = Compiler { ctx }.condition(&ast)?;
    Ok(Condition {
        ctx,
        getter,
        text: src.to_string(),
    })
}

/// Compiles statements of one context; errors name the statement and column.
pub fn parse_statements<S: AsRef<str>>(srcs: &[S], ctx: Ctx) -> Result<Vec<Statement>, String> {
    srcs.iter()
        .enumerate()
        .map(|(i, s)| compile_statement(s.as_ref(), ctx).map_err(|e| located("statement", i, e)))
        .collect()
}

/// Compiles conditions of one context; errors name the condition and column.
pub fn parse_conditions<S: AsRef<str>>(srcs: &[S], ctx: Ctx) -> Result<Vec<Condition>, String> {
    srcs.iter()
        .enumerate()
        .map(|(i, s)| compile_condition(s.as_ref(), ctx).map_err(|e| located("condition", i, e)))
        .collect()
}

fn collect_contexts(e: &Expr, out: &mut BTreeSet<Ctx>) {
    match &e.kind {
        ExprKind::Path(p) => {
            if p.parts.len() > 1
                && let Some(c) = Ctx::parse(&p.parts[0])
            {
                out.insert(c);
            }
            p.keys.iter().for_each(|k| collect_contexts(k, out));
        }
        ExprKind::Call(c) => {
            c.args.iter().for_each(|a| collect_contexts(&a.value, out));
            c.keys.iter().for_each(|k| collect_contexts(k, out));
        }
        ExprKind::List(l) => l.iter().for_each(|x| collect_contexts(x, out)),
        ExprKind::Map(m) => m.iter().for_each(|(_, x)| collect_contexts(x, out)),
        ExprKind::Binary(_, a, b) => {
            collect_contexts(a, out);
            collect_contexts(b, out);
        }
        ExprKind::Not(a) | ExprKind::Neg(a) => collect_contexts(a, out),
        _ => {}
    }
}

/// The context of a statement written with context-prefixed paths (`span.name`): the
/// innermost context its paths use, which must be one of `allowed`.
pub fn infer_context(src: &str, allowed: &[Ctx]) -> Result<Ctx, SyntaxError> {
    let ast = parser::parse_statement(src)?;
    let mut set = BTreeSet::new();
    ast.editor
        .args
        .iter()
        .for_each(|a| collect_contexts(&a.value, &mut set));
    if let Some(c) = &ast.condition {
        collect_contexts(c, &mut set);
    }
    innermost(set, allowed)
}

/// The context of a condition written with context-prefixed paths (`span.name == "x"`), as
/// [`infer_context`] for statements.
pub fn infer_condition_context(src: &str, allowed: &[Ctx]) -> Result<Ctx, SyntaxError> {
    let ast = parser::parse_condition(src)?;
    let mut set = BTreeSet::new();
    collect_contexts(&ast, &mut set);
    innermost(set, allowed)
}

/// The innermost of the contexts a statement or condition names, all of which must be allowed.
fn innermost(set: BTreeSet<Ctx>, allowed: &[Ctx]) -> Result<Ctx, SyntaxError> {
    if let Some(bad) = set.iter().find(|c| !allowed.contains(c)) {
        return Err(SyntaxError::new(
            1,
            format!("context \"{}\" is not valid here", bad.as_str()),
        ));
    }
    set.into_iter().next_back().ok_or_else(|| {
        SyntaxError::new(
            1,
            "cannot infer the context: prefix paths with a context (span.name, resource.attributes[...])",
        )
    })
}

/// Compiles statements whose contexts are inferred from their paths.
pub fn parse_statements_inferred<S: AsRef<str>>(
    srcs: &[S],
    allowed: &[Ctx],
) -> Result<Vec<Statement>, String> {
    srcs.iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.as_ref();
            infer_context(s, allowed)
                .and_then(|ctx| compile_statement(s, ctx))
                .map_err(|e| located("statement", i, e))
        })
        .collect()
}

#[cfg(test)]
mod tests;
