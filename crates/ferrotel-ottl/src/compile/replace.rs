//! The `function` and `replacementFormat` arguments of the `replace_*` editors.

use regex::Regex;

use super::compiler::{Args, CResult, Compiler, err};
use crate::context::TCtx;
use crate::funcs::{self};
use crate::getter::Getter;
use crate::parser::ExprKind;
use crate::value::{R, Value};

/// Parameters of `replace_match` and `replace_all_matches` (the first three
/// required).
pub(super) const REPLACE_PARAMS: &[&str] = &[
    "target",
    "pattern",
    "replacement",
    "function",
    "replacementFormat",
];

pub(super) fn replace_with(re: &Regex, s: &str, rep: &str) -> String {
    re.replace_all(s, rep).into_owned()
}
/// The optional `function` and `replacementFormat` of the `replace_*` editors: a converter of
/// one string (`SHA256`, `ToLowerCase`, ...) applied to the replacement, and a format with one
/// `%s` around its result (the format is used only with a function, as in Go).
pub(super) struct ReplaceFn {
    pub(super) name: String,
    pub(super) f: funcs::StrFn,
    pub(super) format: Option<Getter>,
}

impl ReplaceFn {
    /// `function(replacement)`, formatted.
    pub(super) fn whole(&self, t: &TCtx<'_>, replacement: &str) -> R<String> {
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
    pub(super) fn per_match(
        &self,
        t: &TCtx<'_>,
        re: &Regex,
        s: &str,
        replacement: &str,
    ) -> R<String> {
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
pub(super) fn apply_replace_format(format: &str, s: &str) -> R<String> {
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
    pub(super) fn replace_fn(&self, a: &Args<'_>) -> CResult<Option<ReplaceFn>> {
        self.replace_fn_at(a, 3)
    }

    /// The `function` argument at `i` and `replacementFormat` at `i + 1`.
    pub(super) fn replace_fn_at(&self, a: &Args<'_>, i: usize) -> CResult<Option<ReplaceFn>> {
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
