//! Environment variable expansion in config values, as the Go Collector's confmap does it.
//!
//! `${env:VAR}`, `${VAR}` and `${env:VAR:-default}` (default only when VAR is unset) are
//! expanded; `$$` is a literal `$`. A bare `$VAR` is an error with a hint, as in current Go
//! Collector releases (they stopped expanding it). When the whole value is a single reference,
//! the result is re-read as a YAML scalar, so `port: ${env:PORT}` gives an integer.

use super::node::{Node, PathSegment, Value, format_path, resolve_plain_scalar};

/// Looks up environment variables; a trait object so tests need not mutate the process env.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expands every string in `node` in place. Errors name the config path.
pub fn expand_node(
    node: &mut Node,
    lookup: Lookup<'_>,
    path: &mut Vec<PathSegment>,
) -> Result<(), String> {
    match &mut node.value {
        Value::Str { value, quoted } => {
            if !value.contains('$') {
                return Ok(());
            }
            let whole_reference = is_single_reference(value);
            let expanded = expand_str(value, lookup).map_err(|e| {
                let at = node
                    .location
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                format!("{}: {e}{at}", format_path(path))
            })?;
            node.value = if whole_reference && !*quoted {
                resolve_plain_scalar(&expanded)
            } else {
                Value::Str {
                    value: expanded,
                    quoted: *quoted,
                }
            };
            Ok(())
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(PathSegment::Index(i));
                expand_node(item, lookup, path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                path.push(PathSegment::Key(k.clone()));
                expand_node(v, lookup, path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => Ok(()),
    }
}

fn is_single_reference(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s[2..s.len() - 1].find(['{', '}', '$']).is_none()
}

/// Expands one string.
pub fn expand_str(s: &str, lookup: Lookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body_start) = after.strip_prefix('{') {
            let end = body_start
                .find('}')
                .ok_or_else(|| format!("unterminated ${{...}} reference in {s:?}"))?;
            out.push_str(&resolve_reference(&body_start[..end], lookup)?);
            rest = &body_start[end + 1..];
        } else if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            return Err(format!(
                "bare ${name} is not expanded; write ${{env:{name}}} (or $${name} for a literal $)"
            ));
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve_reference(body: &str, lookup: Lookup<'_>) -> Result<String, String> {
    let (scheme, rest) = match body.split_once(':') {
        Some((scheme, rest))
            if scheme.chars().all(|c| c.is_ascii_alphanumeric()) && !scheme.is_empty() =>
        {
            (scheme, rest)
        }
        _ => ("env", body),
    };
    if scheme != "env" {
        return Err(format!(
            "unsupported config provider {scheme:?} in ${{{body}}} (ferrotel supports env)"
        ));
    }
    let (name, default) = match rest.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (rest, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "invalid environment variable name {name:?} in ${{{body}}}"
        ));
    }
    match (lookup(name), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_string()),
        // The Go Collector expands an unset variable to the empty string.
        (None, None) => Ok(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".into()),
            "PORT" => Some("4317".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn forms() {
        assert_eq!(
            expand_str("${env:HOST}:${PORT}", &env).unwrap(),
            "example.com:4317"
        );
        assert_eq!(expand_str("${env:NOPE:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(
            expand_str("${env:EMPTY:-dflt}", &env).unwrap(),
            "",
            "default only when unset"
        );
        assert_eq!(expand_str("${NOPE}", &env).unwrap(), "");
        assert_eq!(expand_str("cost $$5 and $", &env).unwrap(), "cost $5 and $");
    }

    #[test]
    fn bare_dollar_var_is_an_error_with_hint() {
        let e = expand_str("http://$HOST:1", &env).unwrap_err();
        assert_eq!(
            e,
            "bare $HOST is not expanded; write ${env:HOST} (or $$HOST for a literal $)"
        );
    }

    #[test]
    fn whole_reference_is_retyped() {
        let mut n = super::super::node::parse_yaml(
            "port: ${env:PORT}\nq: \"${env:PORT}\"\ns: x${PORT}\n",
            "t",
        )
        .unwrap();
        expand_node(&mut n, &env, &mut Vec::new()).unwrap();
        assert_eq!(n.get("port").unwrap().value, Value::Int(4317));
        assert_eq!(
            n.get("q").unwrap().value,
            Value::Str {
                value: "4317".into(),
                quoted: true
            }
        );
        assert_eq!(
            n.get("s").unwrap().value,
            Value::Str {
                value: "x4317".into(),
                quoted: false
            }
        );
    }

    #[test]
    fn errors_name_the_path() {
        let mut n =
            super::super::node::parse_yaml("exporters:\n  otlp:\n    endpoint: $HOST\n", "c.yaml")
                .unwrap();
        let e = expand_node(&mut n, &env, &mut Vec::new()).unwrap_err();
        assert!(
            e.starts_with("exporters::otlp::endpoint: bare $HOST"),
            "{e}"
        );
        assert!(e.ends_with("(c.yaml:3)"), "{e}");
    }
}
