//! Log records with a range of severities and bodies.

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use rand::Rng;
use rand::rngs::StdRng;

use super::template::{seq_placeholder, ts};
use super::{Shape, extra_attributes, i, random_id, resource, s, scope};
use crate::ids::SEQ_KEY;

const LEVELS: [(SeverityNumber, &str, u32); 4] = [
    (SeverityNumber::Info, "INFO", 70),
    (SeverityNumber::Debug, "DEBUG", 15),
    (SeverityNumber::Warn, "WARN", 10),
    (SeverityNumber::Error, "ERROR", 5),
];

/// A request of `items` log records.
pub fn request(
    shape: &Shape,
    service: usize,
    items: usize,
    rng: &mut StdRng,
) -> ExportLogsServiceRequest {
    let log_records = (0..items).map(|k| record(shape, rng, k)).collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(service)),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn record(shape: &Shape, rng: &mut StdRng, k: usize) -> LogRecord {
    let mut roll = rng.random_range(0..100);
    let &(severity, text, _) = LEVELS
        .iter()
        .find(|(_, _, w)| {
            let hit = roll < *w;
            roll = roll.saturating_sub(*w);
            hit
        })
        .unwrap_or(&LEVELS[0]);
    let latency = rng.random_range(1..900);
    let body = match severity {
        SeverityNumber::Error => format!("request failed: upstream timeout after {latency} ms"),
        SeverityNumber::Warn => format!("slow request: GET /api/v1/items took {latency} ms"),
        SeverityNumber::Debug => format!("cache lookup key=item:{latency} hit=false"),
        _ => format!("GET /api/v1/items/{latency} 200 {latency}ms"),
    };
    let mut attributes = vec![s(SEQ_KEY, seq_placeholder(k))];
    attributes.extend(extra_attributes(shape, rng));
    attributes.push(s("code.function.name", "handle_request"));
    attributes.push(i("thread.id", rng.random_range(1..64)));
    let correlated = k.is_multiple_of(2);
    LogRecord {
        time_unix_nano: ts(1_000 * k as u64),
        observed_time_unix_nano: ts(1_000 * k as u64 + 500),
        severity_number: severity as i32,
        severity_text: text.into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body)),
        }),
        attributes,
        flags: u32::from(correlated),
        trace_id: if correlated {
            random_id(rng, 16).into()
        } else {
            Default::default()
        },
        span_id: if correlated {
            random_id(rng, 8).into()
        } else {
            Default::default()
        },
        ..Default::default()
    }
}
