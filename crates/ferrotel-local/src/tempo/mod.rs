//! Tempo's HTTP API under `/tempo`, so Grafana's Tempo data source can point at
//! `http://127.0.0.1:16686/tempo`. Shapes are Tempo's (`tempopb` as JSON: 64-bit numbers as
//! strings, zero values left out); errors are plain text, as Tempo's, `invalid <param>: ...`.

mod traceql;

use bytes::{BufMut, BytesMut};
use http::StatusCode;
use serde_json::{Value, json};

use ferrotel_pdata::Request as OtlpRequest;
use ferrotel_store::{TelemetryStore, TraceQuery};

use crate::params::{self, ParamError, Query, hex, percent_decode_path};
use crate::server::{Request, Response, json, respond};

const DEFAULT_LIMIT: usize = 20;
/// Tempo's intrinsics, offered by the v2 tag listing.
const INTRINSICS: &[&str] = &["duration", "kind", "name", "status"];

fn text(status: StatusCode, body: String) -> Response {
    respond(status, "text/plain; charset=utf-8", body)
}

/// Tempo's wording: "invalid limit: ...".
fn param_error(e: ParamError) -> Response {
    text(
        StatusCode::BAD_REQUEST,
        format!("invalid {}: {}", e.param, e.detail()),
    )
}

/// `rest` is the path after `/tempo`.
pub fn handle(store: &dyn TelemetryStore, rest: &str, req: &Request) -> Response {
    let q = &req.query;
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let result = match segments.as_slice() {
        ["api", "echo"] => Ok(text(StatusCode::OK, "echo".into())),
        ["ready"] => Ok(text(StatusCode::OK, "ready".into())),
        // Grafana reads the version to pick endpoints.
        ["api", "status", "buildinfo"] => Ok(json(
            StatusCode::OK,
            &json!({"version": "2.6.0", "revision": "ferrotel", "branch": "", "buildUser": "", "buildDate": "", "goVersion": ""}),
        )),
        ["api", "traces", id] => trace(store, id, req, false),
        ["api", "v2", "traces", id] => trace(store, id, req, true),
        ["api", "search"] => search(store, q),
        ["api", "search", "tags"] => Ok(json(
            StatusCode::OK,
            &json!({ "tagNames": store.tag_names() }),
        )),
        ["api", "v2", "search", "tags"] => Ok(json(
            StatusCode::OK,
            &json!({ "scopes": [
                {"name": "span", "tags": store.tag_names()},
                {"name": "intrinsic", "tags": INTRINSICS},
            ]}),
        )),
        ["api", "search", "tag", tag, "values"] => tag_values(store, tag, q, false),
        ["api", "v2", "search", "tag", tag, "values"] => tag_values(store, tag, q, true),
        _ => Ok(text(
            StatusCode::NOT_FOUND,
            format!("no API at /tempo{rest}"),
        )),
    };
    result.unwrap_or_else(param_error)
}

/// Tempo writes trace ids without leading zeros.
fn tempo_trace_id(id: &[u8]) -> String {
    let h = hex(id);
    let trimmed = h.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    }
}

fn trace(
    store: &dyn TelemetryStore,
    id: &str,
    req: &Request,
    v2: bool,
) -> Result<Response, ParamError> {
    let id = params::parse_trace_id("traceID", &percent_decode_path(id))?;
    let Some(trace) = store.trace(&id) else {
        return Ok(text(
            StatusCode::NOT_FOUND,
            format!("trace not found: {}", hex(&id)),
        ));
    };
    let request = OtlpRequest::Traces(trace);
    if req.accepts("application/protobuf") || req.accepts("application/x-protobuf") {
        // tempopb.Trace is ExportTraceServiceRequest's wire form (field 1: resource spans);
        // v2 wraps it in TraceByIDResponse's field 1.
        let body = request.encode_proto();
        let body = if v2 {
            let mut b = BytesMut::with_capacity(body.len() + 11);
            b.put_u8(0x0a);
            let mut n = body.len() as u64;
            while n >= 0x80 {
                b.put_u8((n as u8) | 0x80);
                n >>= 7;
            }
            b.put_u8(n as u8);
            b.extend_from_slice(&body);
            b.freeze()
        } else {
            body
        };
        return Ok(respond(StatusCode::OK, "application/protobuf", body));
    }
    let otlp = ferrotel_pdata::json::encode(&request);
    let body = if v2 {
        let mut b = Vec::with_capacity(otlp.len() + 10);
        b.extend_from_slice(b"{\"trace\":");
        b.extend_from_slice(&otlp);
        b.push(b'}');
        b
    } else {
        // Tempo's v1 JSON names the resource spans `batches` (its historical field name).
        const KEY: &[u8] = b"{\"resourceSpans\":";
        match otlp.strip_prefix(KEY) {
            Some(rest) => [b"{\"batches\":".as_slice(), rest].concat(),
            None => otlp,
        }
    };
    Ok(respond(StatusCode::OK, "application/json", body))
}

/// Tempo's search parameters: `tags` (logfmt) or `q` (TraceQL), `minDuration`,
/// `maxDuration`, `limit`, `start`/`end` in seconds.
pub fn search_query(q: &Query) -> Result<TraceQuery, ParamError> {
    let mut query = TraceQuery {
        limit: q.limit("limit")?.unwrap_or(DEFAULT_LIMIT),
        min_duration: q.duration("minDuration")?,
        max_duration: q.duration("maxDuration")?,
        start: q.seconds("start")?,
        // `end` in seconds covers that whole second.
        end: q.seconds("end")?.map(|e| e.saturating_add(999_999_999)),
        ..Default::default()
    };
    if let (Some(min), Some(max)) = (query.min_duration, query.max_duration)
        && max < min
    {
        return Err(ParamError::new(
            "maxDuration",
            "a duration not below minDuration",
            q.get("maxDuration").unwrap_or_default(),
        ));
    }
    if let (Some(s), Some(e)) = (q.seconds("start")?, q.seconds("end")?)
        && s > e
    {
        return Err(ParamError::new(
            "end",
            "a time not before start",
            q.get("end").unwrap_or_default(),
        ));
    }
    if let Some(tags) = q.get("tags") {
        if q.get("q").is_some() {
            return Err(ParamError::new("tags", "tags or q, not both", tags));
        }
        for (k, v) in params::parse_logfmt("tags", tags)? {
            match k.as_str() {
                "name" => query.operation = Some(v),
                "service.name" => query.service = Some(v),
                _ => query.tags.push((k, v)),
            }
        }
    }
    if let Some(ql) = q.get("q") {
        traceql::apply(ql, &mut query)?;
    }
    Ok(query)
}

fn search(store: &dyn TelemetryStore, q: &Query) -> Result<Response, ParamError> {
    let query = search_query(q)?;
    let found = store.find_traces(&query);
    let traces: Vec<Value> = found
        .iter()
        .map(|t| {
            let mut m = serde_json::Map::new();
            m.insert("traceID".into(), tempo_trace_id(&t.trace_id).into());
            if !t.root_service.is_empty() {
                m.insert("rootServiceName".into(), t.root_service.clone().into());
            }
            if !t.root_name.is_empty() {
                m.insert("rootTraceName".into(), t.root_name.clone().into());
            }
            m.insert("startTimeUnixNano".into(), t.start.to_string().into());
            let ms = u32::try_from(t.duration.as_millis()).unwrap_or(u32::MAX);
            if ms > 0 {
                m.insert("durationMs".into(), ms.into());
            }
            Value::Object(m)
        })
        .collect();
    let mut body = serde_json::Map::new();
    if !traces.is_empty() {
        body.insert("traces".into(), traces.into());
    }
    let mut metrics = serde_json::Map::new();
    if !found.is_empty() {
        metrics.insert("inspectedTraces".into(), found.len().into());
    }
    metrics.insert("completedJobs".into(), 1.into());
    metrics.insert("totalJobs".into(), 1.into());
    body.insert("metrics".into(), metrics.into());
    Ok(json(StatusCode::OK, &Value::Object(body)))
}

/// The type Tempo's v2 listing gives a value, from its text form.
fn value_type(v: &str) -> &'static str {
    if v == "true" || v == "false" {
        "bool"
    } else if v.parse::<i64>().is_ok() {
        "int"
    } else if v.parse::<f64>().is_ok() {
        "float"
    } else {
        "string"
    }
}

fn tag_values(
    store: &dyn TelemetryStore,
    tag: &str,
    q: &Query,
    v2: bool,
) -> Result<Response, ParamError> {
    let tag = percent_decode_path(tag);
    let limit = q.limit("limit")?.unwrap_or(0);
    if !v2 {
        let values = store.tag_values(&tag, limit);
        return Ok(json(StatusCode::OK, &json!({ "tagValues": values })));
    }
    // v2 names carry a scope: `resource.service.name`, `span.http.route`, `.k`, or an intrinsic.
    let values: Vec<Value> = match tag.as_str() {
        "name" => {
            let mut names: Vec<String> = store
                .services()
                .iter()
                .flat_map(|s| store.operations(s, None))
                .map(|o| o.name)
                .collect();
            names.sort();
            names.dedup();
            names
                .into_iter()
                .map(|v| json!({"type": "string", "value": v}))
                .collect()
        }
        "status" => ["error", "ok", "unset"]
            .iter()
            .map(|v| json!({"type": "keyword", "value": v}))
            .collect(),
        "kind" => [
            "server",
            "client",
            "producer",
            "consumer",
            "internal",
            "unspecified",
        ]
        .iter()
        .map(|v| json!({"type": "keyword", "value": v}))
        .collect(),
        _ => {
            let key = tag
                .strip_prefix("resource.")
                .or_else(|| tag.strip_prefix("span."))
                .or_else(|| tag.strip_prefix('.'))
                .unwrap_or(&tag);
            store
                .tag_values(key, limit)
                .into_iter()
                .map(|v| json!({"type": value_type(&v), "value": v}))
                .collect()
        }
    };
    Ok(json(StatusCode::OK, &json!({ "tagValues": values })))
}

#[cfg(test)]
mod tests;
