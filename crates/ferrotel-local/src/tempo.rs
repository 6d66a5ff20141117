//! Tempo's HTTP API under `/tempo`, as Grafana's Tempo data source calls it.

use ferrotel_store::TelemetryStore;
use http::StatusCode;

use crate::server::{Request, Response, respond};

pub fn handle(_store: &dyn TelemetryStore, rest: &str, _req: &Request) -> Response {
    respond(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        format!("no API at /tempo{rest}"),
    )
}
