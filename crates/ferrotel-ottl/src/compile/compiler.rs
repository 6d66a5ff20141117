//! The compiler of one statement context and what its parts share: argument binding and
//! literal arguments (strings, integers, regexes, globs).

use regex::Regex;

use crate::context::Ctx;
use crate::getter::Getter;
use crate::parser::{Arg, Call, Expr, ExprKind, SyntaxError};
use crate::value::{R, Value};

pub(super) type CResult<T> = Result<T, SyntaxError>;

/// Compiles expressions of one statement context.
pub struct Compiler {
    pub ctx: Ctx,
}
pub(super) fn err<T>(col: usize, m: impl Into<String>) -> CResult<T> {
    Err(SyntaxError::new(col, m))
}

/// The arguments of a call, matched to a signature.
pub(super) struct Args<'a> {
    vals: Vec<Option<&'a Expr>>,
}

impl<'a> Args<'a> {
    pub(super) fn bind(call: &'a Call, params: &[&str], required: usize) -> CResult<Args<'a>> {
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

    pub(super) fn get(&self, i: usize) -> &'a Expr {
        self.vals[i].expect("required argument")
    }

    pub(super) fn opt(&self, i: usize) -> Option<&'a Expr> {
        self.vals[i]
    }
}

pub(super) fn lit_str(e: &Expr, what: &str) -> CResult<String> {
    match &e.kind {
        ExprKind::Str(s) => Ok(s.clone()),
        _ => err(e.col, format!("{what} must be a string literal")),
    }
}

pub(super) fn lit_int(e: &Expr, what: &str) -> CResult<i64> {
    match &e.kind {
        ExprKind::Int(i) => Ok(*i),
        _ => err(e.col, format!("{what} must be an integer literal")),
    }
}

pub(super) fn regex(e: &Expr, what: &str) -> CResult<Regex> {
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
pub(super) fn glob(e: &Expr) -> CResult<Regex> {
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

/// A string argument: as OTTL's `StringGetter`, anything else — nil included — is an error.
pub(super) fn want_str(v: Value, f: &str) -> R<String> {
    match v {
        Value::Str(s) => Ok(s),
        o => Err(format!("{f}: expected a string but got {}", o.type_name())),
    }
}

impl Compiler {
    /// The one argument (`target`) of a converter of one value.
    pub(super) fn one_arg(&self, call: &Call) -> CResult<Getter> {
        let a = Args::bind(call, &["target"], 1)?;
        self.getter(a.get(0))
    }
}
