//! The Jaeger HTTP query API (`/api/...`) that Jaeger UI and Grafana's Jaeger data source
//! call: every response is Jaeger's envelope `{data, total, limit, offset, errors}`, errors
//! `errors: [{code, msg}]` with the HTTP status of the code.

pub mod model;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use ferrotel_store::{TelemetryStore, TraceId, TraceQuery};

use crate::params::{self, ParamError, Query, percent_decode_path, span_kind_name};
use crate::server::{Request, Response, json};

/// Jaeger's default and the most a search returns.
const DEFAULT_LIMIT: usize = 100;
/// Jaeger's default search window when neither `start` nor `lookback` is given.
const DEFAULT_LOOKBACK: Duration = Duration::from_secs(2 * 86_400);

#[derive(Serialize)]
struct Envelope<T: Serialize> {
    data: T,
    total: usize,
    limit: usize,
    offset: usize,
    errors: Option<Vec<Value>>,
}

fn ok<T: Serialize>(data: T, total: usize) -> Response {
    json(
        StatusCode::OK,
        &Envelope {
            data,
            total,
            limit: 0,
            offset: 0,
            errors: None,
        },
    )
}

fn error(status: StatusCode, msg: String) -> Response {
    json(
        status,
        &Envelope {
            data: Value::Null,
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![json!({ "code": status.as_u16(), "msg": msg })]),
        },
    )
}

/// Jaeger's wording: "unable to parse param 'limit': ...".
fn param_error(e: ParamError) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        format!("unable to parse param '{}': {}", e.param, e.detail()),
    )
}

pub fn handle(store: &dyn TelemetryStore, rest: &str, req: &Request) -> Response {
    let q = &req.query;
    let segments: Vec<&str> = rest.split('/').collect();
    let result = match segments.as_slice() {
        ["services"] => Ok(services(store)),
        ["services", service, "operations"] => {
            let service = percent_decode_path(service);
            let mut names: Vec<String> = store
                .operations(&service, None)
                .into_iter()
                .map(|o| o.name)
                .collect();
            names.dedup();
            let total = names.len();
            Ok(ok(names, total))
        }
        ["operations"] => operations(store, q),
        ["traces"] => search(store, q),
        ["traces", id] => trace(store, &percent_decode_path(id)),
        // Jaeger UI's dependency graph page: no dependency links are computed here.
        ["dependencies"] => Ok(ok(Vec::<Value>::new(), 0)),
        _ => Ok(error(
            StatusCode::NOT_FOUND,
            format!("no API at /api/{rest}"),
        )),
    };
    result.unwrap_or_else(param_error)
}

fn services(store: &dyn TelemetryStore) -> Response {
    let services = store.services();
    let total = services.len();
    ok(services, total)
}

fn operations(store: &dyn TelemetryStore, q: &Query) -> Result<Response, ParamError> {
    let Some(service) = q.get("service") else {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "parameter 'service' is required".into(),
        ));
    };
    let kind = q
        .get("spanKind")
        .map(|k| params::parse_span_kind("spanKind", k))
        .transpose()?;
    let ops: Vec<Value> = store
        .operations(service, kind)
        .into_iter()
        .map(|o| json!({ "name": o.name, "spanKind": span_kind_name(o.kind) }))
        .collect();
    let total = ops.len();
    Ok(ok(ops, total))
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The search as Jaeger parses it: `service` (required unless `traceID` is given),
/// `operation`, `tags` (a JSON object) and repeated `tag=key:value`, `minDuration`,
/// `maxDuration`, `start`/`end` (µs), `lookback` (used when `start` is absent), `limit`.
pub fn search_query(q: &Query, now: u64) -> Result<TraceQuery, ParamError> {
    let mut tags = q
        .get("tags")
        .map(|t| params::parse_tags_json("tags", t))
        .transpose()?
        .unwrap_or_default();
    for t in q.all("tag") {
        let (k, v) = t
            .split_once(':')
            .ok_or_else(|| ParamError::new("tag", "key:value", t))?;
        tags.push((k.to_string(), v.to_string()));
    }
    let min_duration = q.duration("minDuration")?;
    let max_duration = q.duration("maxDuration")?;
    if let (Some(min), Some(max)) = (min_duration, max_duration)
        && max < min
    {
        return Err(ParamError::new(
            "maxDuration",
            "a duration not below minDuration",
            q.get("maxDuration").unwrap_or_default(),
        ));
    }
    let end = q.micros("end")?;
    let lookback = q
        .get("lookback")
        .map(|l| params::parse_lookback("lookback", l))
        .transpose()?
        .flatten();
    let start = match q.micros("start")? {
        Some(s) => Some(s),
        None => {
            let back = lookback.unwrap_or(DEFAULT_LOOKBACK);
            let back = u64::try_from(back.as_nanos()).unwrap_or(u64::MAX);
            Some(end.unwrap_or(now).saturating_sub(back))
        }
    };
    Ok(TraceQuery {
        service: q.get("service").map(str::to_string),
        operation: q.get("operation").map(str::to_string),
        span_kind: q
            .get("spanKind")
            .map(|k| params::parse_span_kind("spanKind", k))
            .transpose()?,
        tags,
        min_duration,
        max_duration,
        start,
        end,
        limit: q.limit("limit")?.unwrap_or(DEFAULT_LIMIT),
    })
}

fn search(store: &dyn TelemetryStore, q: &Query) -> Result<Response, ParamError> {
    // Jaeger UI's "lookup by trace id" searches with repeated traceID.
    let ids: Vec<TraceId> = q
        .all("traceID")
        .map(|v| params::parse_trace_id("traceID", v))
        .collect::<Result<_, _>>()?;
    let query = search_query(q, now_nanos())?;
    if ids.is_empty() && query.service.is_none() {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "parameter 'service' is required".into(),
        ));
    }
    let ids = if ids.is_empty() {
        store
            .find_traces(&query)
            .into_iter()
            .map(|t| t.trace_id)
            .collect()
    } else {
        ids
    };
    // Search results are whole traces, as Jaeger returns them.
    let traces: Vec<model::JaegerTrace> = ids
        .iter()
        .filter_map(|id| store.trace(id))
        .filter_map(|t| model::to_jaeger(&t))
        .collect();
    let total = traces.len();
    Ok(ok(traces, total))
}

fn trace(store: &dyn TelemetryStore, id: &str) -> Result<Response, ParamError> {
    let id = params::parse_trace_id("traceID", id)?;
    match store.trace(&id).as_ref().and_then(model::to_jaeger) {
        Some(t) => Ok(ok(vec![t], 1)),
        None => Ok(error(StatusCode::NOT_FOUND, "trace not found".into())),
    }
}
