//! `ferrotel query`: the local store of a running instance, from the terminal, through
//! ferrotel's `/api/v1` query API.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use ferrotel_local::client::{self, Reply};
use ferrotel_pdata::{Request, Signal};

#[derive(Subcommand)]
pub enum QueryCommand {
    /// Lists the services that sent spans.
    Services,
    /// Finds traces: one line each with its id, root, services, duration, spans and errors.
    Traces {
        #[arg(long)]
        service: String,
        #[arg(long)]
        operation: Option<String>,
        /// An attribute the matching span has, key=value (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Only traces with a span at least this long (Go duration: 10ms, 1.5s).
        #[arg(long = "min-duration")]
        min_duration: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Prints one trace as a span tree.
    Trace { id: String },
    /// Finds log records, most recent first.
    Logs {
        #[arg(long)]
        service: Option<String>,
        /// A case-insensitive substring of the body.
        #[arg(long)]
        body: Option<String>,
        #[arg(long = "trace-id")]
        trace_id: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", client::encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// The reply's body when it is a 200, else the API's error message.
fn ok(reply: Reply) -> Result<Reply, String> {
    if reply.status == 200 {
        return Ok(reply);
    }
    let message = reply
        .json()
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| reply.text());
    Err(format!("HTTP {}: {message}", reply.status))
}

pub fn run(endpoint: &str, command: QueryCommand) -> ExitCode {
    match execute(endpoint, command) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn execute(endpoint: &str, command: QueryCommand) -> Result<String, String> {
    let get = |path: &str, accept: &str| client::get(endpoint, path, accept).and_then(ok);
    let mut out = String::new();
    match command {
        QueryCommand::Services => {
            let v = get("/api/v1/services", "application/json")?.json()?;
            for s in v["services"].as_array().into_iter().flatten() {
                let _ = writeln!(out, "{}", s.as_str().unwrap_or_default());
            }
        }
        QueryCommand::Traces {
            service,
            operation,
            tags,
            min_duration,
            limit,
        } => {
            let mut tag_map = serde_json::Map::new();
            for t in &tags {
                let (k, v) = t
                    .split_once('=')
                    .ok_or_else(|| format!("--tag {t:?}: expected key=value"))?;
                tag_map.insert(k.to_string(), v.into());
            }
            let q = query_string(&[
                ("service", Some(service)),
                ("operation", operation),
                (
                    "tags",
                    (!tag_map.is_empty()).then(|| serde_json::Value::Object(tag_map).to_string()),
                ),
                ("minDuration", min_duration),
                ("limit", Some(limit.to_string())),
            ]);
            let v = get(&format!("/api/v1/traces{q}"), "application/json")?.json()?;
            out = traces_table(&v);
        }
        QueryCommand::Trace { id } => {
            let reply = get(
                &format!("/api/v1/traces/{}", client::encode(&id)),
                "application/json",
            )?;
            let request = ferrotel_pdata::json::decode(Signal::Traces, &reply.body)
                .map_err(|e| format!("the trace is not OTLP/JSON: {e}"))?;
            out = span_tree(&request);
        }
        QueryCommand::Logs {
            service,
            body,
            trace_id,
            limit,
        } => {
            let q = query_string(&[
                ("service", service),
                ("body", body),
                ("traceId", trace_id),
                ("limit", Some(limit.to_string())),
            ]);
            let reply = get(&format!("/api/v1/logs{q}"), "application/json")?;
            let request = ferrotel_pdata::json::decode(Signal::Logs, &reply.body)
                .map_err(|e| format!("the logs are not OTLP/JSON: {e}"))?;
            out = logs_lines(&request);
        }
    }
    Ok(out)
}

fn duration_text(micros: u64) -> String {
    match micros {
        m if m >= 1_000_000 => format!("{:.2}s", m as f64 / 1e6),
        m if m >= 1_000 => format!("{:.2}ms", m as f64 / 1e3),
        m => format!("{m}us"),
    }
}

fn traces_table(v: &serde_json::Value) -> String {
    let mut rows = vec![[
        "TRACE ID".to_string(),
        "ROOT".into(),
        "SERVICES".into(),
        "DURATION".into(),
        "SPANS".into(),
        "ERRORS".into(),
    ]];
    for t in v["traces"].as_array().into_iter().flatten() {
        let services: Vec<&str> = t["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str())
            .collect();
        rows.push([
            t["traceId"].as_str().unwrap_or_default().to_string(),
            format!(
                "{}: {}",
                t["rootService"].as_str().unwrap_or_default(),
                t["rootName"].as_str().unwrap_or_default()
            ),
            services.join(","),
            duration_text(t["duration"].as_u64().unwrap_or(0)),
            t["spanCount"].to_string(),
            t["errorCount"].to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The spans of every resource as one tree by parent id; spans whose parent is missing are
/// roots, in start order.
fn span_tree(request: &Request) -> String {
    let Request::Traces(t) = request else {
        return String::new();
    };
    struct Row<'a> {
        service: String,
        span: &'a ferrotel_pdata::proto::trace::v1::Span,
    }
    let mut rows = Vec::new();
    for rs in &t.resource_spans {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(ferrotel_pdata::proto::common::v1::any_value::Value::StringValue(s)) => {
                    Some(s.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| "unknown_service".into());
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                rows.push(Row {
                    service: service.clone(),
                    span,
                });
            }
        }
    }
    rows.sort_by_key(|r| r.span.start_time_unix_nano);
    let index: HashMap<&[u8], usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.span.span_id.as_ref(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut roots = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        match index.get(r.span.parent_span_id.as_ref()) {
            Some(&p) if p != i && !r.span.parent_span_id.is_empty() => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let start = rows
        .iter()
        .map(|r| r.span.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    // Iterative, so a deep or cyclic parent chain cannot overflow the stack; each span once.
    let mut seen = vec![false; rows.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let s = rows[i].span;
        let error = if s.status.as_ref().is_some_and(|st| st.code == 2) {
            "  ERROR"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{}{} {}  +{} {}  span {}{error}",
            "  ".repeat(depth),
            rows[i].service,
            s.name,
            duration_text(s.start_time_unix_nano.saturating_sub(start) / 1000),
            duration_text(s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano) / 1000),
            hex(&s.span_id),
        );
        for &c in children[i].iter().rev() {
            stack.push((c, depth + 1));
        }
    }
    out
}

fn logs_lines(request: &Request) -> String {
    let Request::Logs(l) = request else {
        return String::new();
    };
    let mut out = String::new();
    for rl in &l.resource_logs {
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                let body = match r.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(ferrotel_pdata::proto::common::v1::any_value::Value::StringValue(s)) => {
                        s.clone()
                    }
                    Some(_) => "<structured body>".into(),
                    None => String::new(),
                };
                let time = if r.time_unix_nano != 0 {
                    r.time_unix_nano
                } else {
                    r.observed_time_unix_nano
                };
                let trace = if r.trace_id.is_empty() {
                    String::new()
                } else {
                    format!("  trace {} span {}", hex(&r.trace_id), hex(&r.span_id))
                };
                let _ = writeln!(
                    out,
                    "{} {:<5} {body}{trace}",
                    crate::otlp_tools::time(time),
                    if r.severity_text.is_empty() {
                        r.severity_number.to_string()
                    } else {
                        r.severity_text.clone()
                    }
                );
            }
        }
    }
    out
}
