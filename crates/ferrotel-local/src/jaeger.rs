//! The Jaeger HTTP query API (`/api/...`), as Jaeger UI and Grafana's Jaeger data source call it.

use ferrotel_store::TelemetryStore;
use http::StatusCode;

use crate::server::{Request, Response, respond};

pub fn handle(_store: &dyn TelemetryStore, rest: &str, _req: &Request) -> Response {
    respond(
        StatusCode::NOT_FOUND,
        "application/json",
        format!(
            "{{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[{{\"code\":404,\"msg\":\"no API at /api/{rest}\"}}]}}"
        ),
    )
}
