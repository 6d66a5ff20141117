//! ferrotel's own query API for the web UI, under `/api/v1/` (documented in docs/local.md).
//! Errors are `{"error": "..."}`: 400 naming the malformed parameter, 404 for what is unknown.

use http::StatusCode;
use serde_json::json;

use ferrotel_pdata::Request as OtlpRequest;
use ferrotel_store::{LogQuery, MetricQuery, TelemetryStore, TraceQuery, TraceSummary};

use crate::params::{self, ParamError, Query, hex, percent_decode_path, span_kind_name};
use crate::server::{Request, Response, json, respond};

pub fn handle(store: &dyn TelemetryStore, rest: &str, req: &Request) -> Response {
    let result = match rest {
        "services" => Ok(json(
            StatusCode::OK,
            &json!({ "services": store.services() }),
        )),
        "operations" => operations(store, &req.query),
        "traces" => traces(store, &req.query),
        "logs" => logs(store, &req.query),
        "metrics" => metrics(store, &req.query),
        "stats" => Ok(stats(store)),
        _ => {
            if let Some(id) = rest.strip_prefix("traces/") {
                trace(store, id, req)
            } else if let Some(name) = rest.strip_prefix("metrics/") {
                metric_points(store, &percent_decode_path(name), &req.query)
            } else {
                return error(StatusCode::NOT_FOUND, format!("no API at /api/v1/{rest}"));
            }
        }
    };
    result.unwrap_or_else(|e| error(StatusCode::BAD_REQUEST, e.to_string()))
}

fn error(status: StatusCode, message: String) -> Response {
    json(status, &json!({ "error": message }))
}

fn operations(store: &dyn TelemetryStore, q: &Query) -> Result<Response, ParamError> {
    let service = q
        .get("service")
        .ok_or_else(|| ParamError::new("service", "a service name", ""))?;
    let kind = q
        .get("kind")
        .map(|k| params::parse_span_kind("kind", k))
        .transpose()?;
    let ops: Vec<_> = store
        .operations(service, kind)
        .into_iter()
        .map(|o| json!({ "name": o.name, "kind": span_kind_name(o.kind) }))
        .collect();
    Ok(json(StatusCode::OK, &json!({ "operations": ops })))
}

/// The trace query the UI's search form and `ferrotel query traces` send.
pub fn trace_query(q: &Query) -> Result<TraceQuery, ParamError> {
    Ok(TraceQuery {
        service: q.get("service").map(str::to_string),
        operation: q.get("operation").map(str::to_string),
        span_kind: q
            .get("kind")
            .map(|k| params::parse_span_kind("kind", k))
            .transpose()?,
        tags: q
            .get("tags")
            .map(|t| params::parse_tags_json("tags", t))
            .transpose()?
            .unwrap_or_default(),
        min_duration: q.duration("minDuration")?,
        max_duration: q.duration("maxDuration")?,
        start: q.micros("start")?,
        end: q.micros("end")?,
        limit: q.limit("limit")?.unwrap_or(20),
    })
}

pub fn summary_json(t: &TraceSummary) -> serde_json::Value {
    json!({
        "traceId": hex(&t.trace_id),
        "rootService": t.root_service,
        "rootName": t.root_name,
        "start": t.start / 1000,
        "duration": u64::try_from(t.duration.as_micros()).unwrap_or(u64::MAX),
        "spanCount": t.span_count,
        "errorCount": t.error_count,
        "services": t.services.iter().map(|(name, spans)| json!({"name": name, "spans": spans})).collect::<Vec<_>>(),
    })
}

fn traces(store: &dyn TelemetryStore, q: &Query) -> Result<Response, ParamError> {
    let query = trace_query(q)?;
    let traces: Vec<_> = store.find_traces(&query).iter().map(summary_json).collect();
    Ok(json(StatusCode::OK, &json!({ "traces": traces })))
}

fn trace(store: &dyn TelemetryStore, id: &str, req: &Request) -> Result<Response, ParamError> {
    let id = params::parse_trace_id("traceId", id)?;
    let Some(trace) = store.trace(&id) else {
        return Ok(error(
            StatusCode::NOT_FOUND,
            format!("trace {} not found", hex(&id)),
        ));
    };
    Ok(otlp(OtlpRequest::Traces(trace), req))
}

/// OTLP/JSON, or protobuf when the client asks for it.
fn otlp(request: OtlpRequest, req: &Request) -> Response {
    if req.accepts("application/x-protobuf") || req.accepts("application/protobuf") {
        respond(
            StatusCode::OK,
            "application/x-protobuf",
            request.encode_proto(),
        )
    } else {
        respond(
            StatusCode::OK,
            "application/json",
            ferrotel_pdata::json::encode(&request),
        )
    }
}

/// A severity number (1..=24) or its text (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`,
/// with an optional digit 2..4).
fn parse_severity(v: &str) -> Result<i32, ParamError> {
    let err = || {
        ParamError::new(
            "minSeverity",
            "a severity number 1..24 or a name like INFO or ERROR",
            v,
        )
    };
    if let Ok(n) = v.parse::<i32>() {
        return if (1..=24).contains(&n) {
            Ok(n)
        } else {
            Err(err())
        };
    }
    let upper = v.to_ascii_uppercase();
    let (name, step) = match upper.as_bytes().last() {
        Some(d @ b'2'..=b'4') => (&upper[..upper.len() - 1], i32::from(d - b'1')),
        _ => (upper.as_str(), 0),
    };
    let base = match name {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" | "WARNING" => 13,
        "ERROR" => 17,
        "FATAL" => 21,
        _ => return Err(err()),
    };
    Ok(base + step)
}

fn logs(store: &dyn TelemetryStore, q: &Query) -> Result<Response, ParamError> {
    let query = LogQuery {
        service: q.get("service").map(str::to_string),
        min_severity: q.get("minSeverity").map(parse_severity).transpose()?,
        body_contains: q.get("body").map(str::to_string),
        attributes: q
            .get("attributes")
            .map(|t| params::parse_tags_json("attributes", t))
            .transpose()?
            .unwrap_or_default(),
        trace_id: q
            .get("traceId")
            .map(|v| params::parse_trace_id("traceId", v))
            .transpose()?,
        span_id: q
            .get("spanId")
            .map(|v| params::parse_span_id("spanId", v))
            .transpose()?,
        start: q.micros("start")?,
        end: q.micros("end")?,
        limit: q.limit("limit")?.unwrap_or(100),
    };
    let logs = store.find_logs(&query);
    Ok(respond(
        StatusCode::OK,
        "application/json",
        ferrotel_pdata::json::encode(&OtlpRequest::Logs(logs)),
    ))
}

fn metrics(store: &dyn TelemetryStore, q: &Query) -> Result<Response, ParamError> {
    let list: Vec<_> = store
        .metrics(q.get("service"))
        .into_iter()
        .map(|m| {
            json!({
                "name": m.name,
                "kind": m.kind,
                "unit": m.unit,
                "description": m.description,
                "services": m.services,
            })
        })
        .collect();
    Ok(json(StatusCode::OK, &json!({ "metrics": list })))
}

fn metric_points(
    store: &dyn TelemetryStore,
    name: &str,
    q: &Query,
) -> Result<Response, ParamError> {
    let points = store.metric_points(&MetricQuery {
        name: name.to_string(),
        service: q.get("service").map(str::to_string),
        start: q.micros("start")?,
        end: q.micros("end")?,
    });
    Ok(respond(
        StatusCode::OK,
        "application/json",
        ferrotel_pdata::json::encode(&OtlpRequest::Metrics(points)),
    ))
}

fn stats(store: &dyn TelemetryStore) -> Response {
    let s = store.stats();
    json(
        StatusCode::OK,
        &json!({
            "bytes": s.bytes,
            "spans": s.spans,
            "logRecords": s.log_records,
            "dataPoints": s.data_points,
            "prunedSpans": s.pruned_spans,
            "prunedLogRecords": s.pruned_log_records,
            "prunedDataPoints": s.pruned_data_points,
        }),
    )
}
