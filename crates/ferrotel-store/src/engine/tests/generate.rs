//! Random requests and queries over small value pools, so queries hit and miss alike.

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum, metric, number_data_point,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_pdata::{Payload, Request, Signal};

use crate::{LogQuery, MetricQuery, TraceQuery};

/// xorshift64*: deterministic from a proptest-chosen seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

pub const SERVICES: [&str; 3] = ["front", "back", "db"];
pub const OPS: [&str; 3] = ["GET /", "query", "render"];
pub const SCOPES: [&str; 3] = ["lib-a", "lib-b", ""];
pub const TAGS: [(&str, &str); 14] = [
    ("user", "a"),
    // Values no span or resource has: the chunk filters reject them.
    ("user", "nobody"),
    ("n", "7"),
    ("user", "b"),
    ("n", "1"),
    ("flag", "true"),
    ("ratio", "1.5"),
    ("host", "h1"),
    ("error", "true"),
    ("error", "false"),
    ("span.kind", "server"),
    ("otel.status_code", "ERROR"),
    ("otel.scope.name", "lib-a"),
    ("service.name", "db"),
];

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn attrs(rng: &mut Rng) -> Vec<KeyValue> {
    use any_value::Value as V;
    let mut out = Vec::new();
    for _ in 0..rng.below(4) {
        out.push(match rng.below(7) {
            0 => kv(
                "user",
                V::StringValue(rng.pick(&["a", "b", "c"]).to_string()),
            ),
            1 => kv("n", V::IntValue(rng.below(3) as i64)),
            2 => kv("flag", V::BoolValue(rng.chance(2))),
            3 => kv("ratio", V::DoubleValue(*rng.pick(&[1.5, 2.0]))),
            // A span attribute that shadows a derived tag.
            4 => kv("error", V::StringValue("maybe".into())),
            5 => KeyValue {
                key: "user".into(),
                value: None,
                ..Default::default()
            },
            _ => kv("host", V::StringValue("h2".into())),
        });
    }
    out
}

fn resource(rng: &mut Rng) -> Option<Resource> {
    use any_value::Value as V;
    if rng.chance(8) {
        return None;
    }
    let mut attributes = Vec::new();
    if !rng.chance(6) {
        attributes.push(kv(
            "service.name",
            V::StringValue(rng.pick(&SERVICES).to_string()),
        ));
    }
    if rng.chance(2) {
        attributes.push(kv(
            "host",
            V::StringValue(rng.pick(&["h1", "h2"]).to_string()),
        ));
    }
    if rng.chance(4) {
        attributes.push(kv("user", V::StringValue("a".into())));
    }
    Some(Resource {
        attributes,
        ..Default::default()
    })
}

fn scope(rng: &mut Rng) -> Option<InstrumentationScope> {
    (!rng.chance(6)).then(|| InstrumentationScope {
        name: rng.pick(&SCOPES).to_string(),
        ..Default::default()
    })
}

pub fn trace_id(rng: &mut Rng) -> [u8; 16] {
    [1 + rng.below(6) as u8; 16]
}

fn traces(rng: &mut Rng) -> ExportTraceServiceRequest {
    let mut req = ExportTraceServiceRequest::default();
    for _ in 0..1 + rng.below(3) {
        let mut rs = ResourceSpans {
            resource: resource(rng),
            schema_url: rng.pick(&["", "s1"]).to_string(),
            ..Default::default()
        };
        for _ in 0..1 + rng.below(2) {
            let mut ss = ScopeSpans {
                scope: scope(rng),
                ..Default::default()
            };
            for _ in 0..rng.below(5) {
                let start = rng.below(1000);
                ss.spans.push(Span {
                    trace_id: if rng.chance(12) {
                        Default::default()
                    } else {
                        trace_id(rng).to_vec().into()
                    },
                    span_id: vec![rng.below(200) as u8 + 1; 8].into(),
                    parent_span_id: if rng.chance(3) {
                        Default::default()
                    } else {
                        vec![7; 8].into()
                    },
                    name: rng.pick(&OPS).to_string(),
                    kind: rng.below(4) as i32,
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + rng.below(500),
                    attributes: attrs(rng),
                    status: match rng.below(4) {
                        0 => None,
                        c => Some(Status {
                            code: c as i32 - 1,
                            message: String::new(),
                        }),
                    },
                    ..Default::default()
                });
            }
            rs.scope_spans.push(ss);
        }
        req.resource_spans.push(rs);
    }
    req
}

fn logs(rng: &mut Rng) -> ExportLogsServiceRequest {
    use any_value::Value as V;
    let mut req = ExportLogsServiceRequest::default();
    for _ in 0..1 + rng.below(2) {
        let mut rl = ResourceLogs {
            resource: resource(rng),
            ..Default::default()
        };
        for _ in 0..1 + rng.below(2) {
            let mut sl = ScopeLogs {
                scope: scope(rng),
                ..Default::default()
            };
            for _ in 0..rng.below(5) {
                let time = rng.below(50);
                sl.log_records.push(LogRecord {
                    time_unix_nano: if rng.chance(4) { 0 } else { time },
                    observed_time_unix_nano: time + 1,
                    severity_number: rng.below(25) as i32,
                    body: (!rng.chance(5)).then(|| AnyValue {
                        value: Some(V::StringValue(
                            rng.pick(&["Hello World", "disk ERROR", "ok"]).to_string(),
                        )),
                    }),
                    attributes: attrs(rng),
                    trace_id: if rng.chance(3) {
                        Default::default()
                    } else {
                        trace_id(rng).to_vec().into()
                    },
                    span_id: if rng.chance(2) {
                        Default::default()
                    } else {
                        vec![rng.below(3) as u8 + 1; 8].into()
                    },
                    ..Default::default()
                });
            }
            rl.scope_logs.push(sl);
        }
        req.resource_logs.push(rl);
    }
    req
}

fn number_points(rng: &mut Rng) -> Vec<NumberDataPoint> {
    (0..rng.below(4))
        .map(|_| NumberDataPoint {
            time_unix_nano: rng.below(50),
            value: Some(number_data_point::Value::AsInt(rng.below(9) as i64)),
            ..Default::default()
        })
        .collect()
}

fn metrics(rng: &mut Rng) -> ExportMetricsServiceRequest {
    let mut req = ExportMetricsServiceRequest::default();
    for _ in 0..1 + rng.below(2) {
        let mut rm = ResourceMetrics {
            resource: resource(rng),
            ..Default::default()
        };
        for _ in 0..1 + rng.below(2) {
            let mut sm = ScopeMetrics {
                scope: scope(rng),
                ..Default::default()
            };
            for _ in 0..rng.below(4) {
                let data = match rng.below(3) {
                    0 => metric::Data::Gauge(Gauge {
                        data_points: number_points(rng),
                    }),
                    1 => metric::Data::Sum(Sum {
                        data_points: number_points(rng),
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    }),
                    _ => metric::Data::Histogram(Histogram {
                        data_points: (0..rng.below(3))
                            .map(|_| HistogramDataPoint {
                                time_unix_nano: rng.below(50),
                                count: 3,
                                ..Default::default()
                            })
                            .collect(),
                        aggregation_temporality: 1,
                    }),
                };
                sm.metrics.push(Metric {
                    name: rng.pick(&["m1", "m2", "m3"]).to_string(),
                    unit: rng.pick(&["s", "By"]).to_string(),
                    description: rng.pick(&["", "desc"]).to_string(),
                    data: Some(data),
                    ..Default::default()
                });
            }
            rm.scope_metrics.push(sm);
        }
        req.resource_metrics.push(rm);
    }
    req
}

/// A request of a random signal, encoded or (sometimes) decoded as the pipeline may hand it.
pub fn payload(seed: u64) -> Payload {
    let mut rng = Rng::new(seed);
    let req = match rng.below(4) {
        0 | 1 => Request::Traces(traces(&mut rng)),
        2 => Request::Logs(logs(&mut rng)),
        _ => Request::Metrics(metrics(&mut rng)),
    };
    if rng.chance(5) {
        return Payload::from_request(req);
    }
    let signal: Signal = req.signal();
    match Payload::from_proto(signal, req.encode_proto()) {
        Ok(p) => p,
        Err(e) => panic!("generated request must validate: {e}"),
    }
}

fn opt<T>(rng: &mut Rng, v: impl FnOnce(&mut Rng) -> T) -> Option<T> {
    rng.chance(2).then(|| v(rng))
}

pub fn trace_query(seed: u64) -> TraceQuery {
    let mut r = Rng::new(seed);
    TraceQuery {
        service: opt(&mut r, |r| r.pick(&SERVICES).to_string()),
        operation: opt(&mut r, |r| r.pick(&OPS).to_string()),
        span_kind: r.chance(4).then(|| r.below(4) as i32),
        tags: (0..r.below(3))
            .map(|_| {
                let (k, v) = r.pick(&TAGS);
                (k.to_string(), v.to_string())
            })
            .collect(),
        min_duration: r
            .chance(3)
            .then(|| std::time::Duration::from_nanos(r.below(300))),
        max_duration: r
            .chance(4)
            .then(|| std::time::Duration::from_nanos(r.below(500))),
        start: r.chance(4).then(|| r.below(500)),
        end: r.chance(4).then(|| 300 + r.below(700)),
        limit: r.below(6) as usize,
    }
}

pub fn log_query(seed: u64) -> LogQuery {
    let mut r = Rng::new(seed);
    LogQuery {
        service: opt(&mut r, |r| r.pick(&SERVICES).to_string()),
        min_severity: r.chance(3).then(|| r.below(25) as i32),
        body_contains: r
            .chance(3)
            .then(|| r.pick(&["hello", "ERROR", "o"]).to_string()),
        attributes: (0..r.below(2))
            .map(|_| {
                let (k, v) = r.pick(&TAGS[..6]);
                (k.to_string(), v.to_string())
            })
            .collect(),
        trace_id: r.chance(3).then(|| trace_id(&mut r)),
        span_id: r.chance(4).then(|| [r.below(3) as u8 + 1; 8]),
        start: r.chance(4).then(|| r.below(30)),
        end: r.chance(4).then(|| 20 + r.below(40)),
        limit: r.below(8) as usize,
    }
}

pub fn metric_query(seed: u64) -> MetricQuery {
    let mut r = Rng::new(seed);
    MetricQuery {
        name: r.pick(&["m1", "m2", "m3", "nope"]).to_string(),
        service: opt(&mut r, |r| r.pick(&SERVICES).to_string()),
        start: r.chance(3).then(|| r.below(30)),
        end: r.chance(3).then(|| 20 + r.below(40)),
    }
}
