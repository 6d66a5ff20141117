//! String converters: matching, joining, splitting, case, substrings, prefixes, patterns, URLs and formatting.

use std::sync::Arc;

use super::compiler::{Args, CResult, Compiler, err, lit_str, regex, want_str};
use crate::context::TCtx;
use crate::funcs::{self, convert_case};
use crate::getter::{ConvFn, Getter};
use crate::parser::{Call, ExprKind};
use crate::value::{R, Value, to_str_lenient};

impl Compiler {
    /// `IsMatch(target, pattern)` as a [`Getter::IsMatch`] node.
    pub(super) fn is_match(&self, call: &Call) -> CResult<Getter> {
        let a = Args::bind(call, &["target", "pattern"], 2)?;
        let target = self.getter(a.get(0))?;
        let pattern = regex(a.get(1), "pattern")?;
        Ok(Getter::IsMatch(Box::new(target), pattern))
    }

    pub(super) fn string_converter(&self, call: &Call) -> CResult<Option<ConvFn>> {
        let name = call.name.as_str();
        let f: ConvFn = match name {
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
            _ => return Ok(None),
        };
        Ok(Some(f))
    }
}
