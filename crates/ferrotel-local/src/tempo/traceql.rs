//! The TraceQL that Grafana's Tempo search builder writes, enough to search the store:
//! `{}` or `{ c && c && ... }` where each condition is
//! - `resource.service.name = "a"` (the service),
//! - `name = "GET /"` (the operation), `kind = server`, `status = error|ok|unset`,
//! - `duration > 10ms`, `>=`, `<`, `<=` (bounds; `>` is taken as `>=`, the store's bound),
//! - `span.k = v`, `resource.k = v`, `.k = v` with a string, number or boolean value.
//!
//! Anything else (`||`, pipelines, regex, other comparisons) is refused with what was found,
//! rather than searched wrongly.

use ferrotel_store::TraceQuery;

use crate::params::{ParamError, parse_duration, parse_span_kind};

fn err(q: &str, what: &str) -> ParamError {
    ParamError::new("q", format!("TraceQL this store can search ({what})"), q)
}

/// Adds the conditions of `q` to `query`.
pub fn apply(q: &str, query: &mut TraceQuery) -> Result<(), ParamError> {
    let inner = q
        .trim()
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| err(q, "one spanset in braces"))?
        .trim();
    if inner.is_empty() {
        return Ok(());
    }
    for cond in split_and(inner).ok_or_else(|| err(q, "an unterminated string"))? {
        condition(q, cond.trim(), query)?;
    }
    Ok(())
}

/// Splits on `&&` outside quotes; `None` when a quote is left open.
fn split_and(s: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut in_quote, mut escaped) = (0, false, false);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
        } else if b == b'"' {
            in_quote = true;
        } else if b == b'&' && bytes.get(i + 1) == Some(&b'&') {
            parts.push(&s[start..i]);
            start = i + 2;
            i += 1;
        }
        i += 1;
    }
    if in_quote {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

fn condition(q: &str, cond: &str, query: &mut TraceQuery) -> Result<(), ParamError> {
    let ops = [">=", "<=", "!=", "=~", "!~", "=", ">", "<"];
    let (pos, op) = ops
        .iter()
        .filter_map(|op| cond.find(op).map(|p| (p, *op)))
        .min_by_key(|(p, op)| (*p, std::cmp::Reverse(op.len())))
        .ok_or_else(|| err(q, "conditions like name = \"x\""))?;
    let lhs = cond[..pos].trim();
    let rhs = cond[pos + op.len()..].trim();
    let value =
        literal(rhs).ok_or_else(|| err(q, "a string, number, boolean or duration value"))?;
    match (lhs, op) {
        ("duration", ">" | ">=") => {
            query.min_duration =
                Some(parse_duration("q", &value).map_err(|_| err(q, "a duration like 10ms"))?)
        }
        ("duration", "<" | "<=") => {
            query.max_duration =
                Some(parse_duration("q", &value).map_err(|_| err(q, "a duration like 10ms"))?)
        }
        (_, "=") => match lhs {
            "name" | "span:name" => query.operation = Some(value),
            "kind" | "span:kind" => {
                query.span_kind = Some(
                    parse_span_kind("q", &value)
                        .map_err(|_| err(q, "kind = server|client|producer|consumer|internal"))?,
                )
            }
            "status" | "span:status" => {
                let code = match value.as_str() {
                    "error" => "ERROR",
                    "ok" => "OK",
                    "unset" => "UNSET",
                    _ => return Err(err(q, "status = error|ok|unset")),
                };
                query.tags.push(("otel.status_code".into(), code.into()));
            }
            "resource.service.name" => query.service = Some(value),
            _ => {
                let key = lhs
                    .strip_prefix("resource.")
                    .or_else(|| lhs.strip_prefix("span."))
                    .or_else(|| lhs.strip_prefix('.'))
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| err(q, "attributes as span.k, resource.k or .k"))?;
                query.tags.push((key.to_string(), value));
            }
        },
        _ => {
            return Err(err(
                q,
                "= on attributes, name, kind, status; <, >, <=, >= on duration",
            ));
        }
    }
    Ok(())
}

/// A quoted string (with `\"` and `\\` escapes) or a bare word/number/duration.
fn literal(s: &str) -> Option<String> {
    if let Some(body) = s.strip_prefix('"') {
        let body = body.strip_suffix('"')?;
        let mut out = String::with_capacity(body.len());
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                out.push(chars.next()?);
            } else {
                out.push(c);
            }
        }
        return Some(out);
    }
    (!s.is_empty() && !s.contains(char::is_whitespace)).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grafana_queries_become_store_queries() {
        let mut q = TraceQuery::default();
        apply(
            r#"{resource.service.name="payment" && name = "POST /charge" && status=error && duration>1ms && span.http.route="/a \"b\"" && kind=server}"#,
            &mut q,
        )
        .unwrap();
        assert_eq!(q.service.as_deref(), Some("payment"));
        assert_eq!(q.operation.as_deref(), Some("POST /charge"));
        assert_eq!(q.span_kind, Some(2));
        assert_eq!(q.min_duration, Some(std::time::Duration::from_millis(1)));
        assert_eq!(
            q.tags,
            [
                ("otel.status_code".to_string(), "ERROR".to_string()),
                ("http.route".to_string(), "/a \"b\"".to_string())
            ]
        );
        apply("{}", &mut TraceQuery::default()).unwrap();
    }

    #[test]
    fn what_it_cannot_search_is_refused() {
        for q in [
            "name = \"x\"",
            "{ a || b }",
            "{ name =~ \"x.*\" }",
            "{ name = \"x }",
            "{ duration > soon }",
            "{ status = maybe }",
        ] {
            let e = apply(q, &mut TraceQuery::default()).unwrap_err();
            assert_eq!(e.param, "q", "{q}");
        }
    }
}
