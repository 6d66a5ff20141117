//! Remote write bodies → one series model for both protocol versions. Every failure is an
//! error that says what and where; nothing here panics on input (the fuzz target checks).

use std::collections::HashMap;

use prost::Message;

use crate::remote_write::proto::{self, Histogram, MetricType, Sample, WriteRequest};

/// Which message the body holds (from `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `prometheus.WriteRequest` (Prometheus 2.x).
    V1,
    /// `io.prometheus.write.v2.Request`.
    V2,
}

impl Version {
    /// The version a `Content-Type` names; `None` for a type that is not remote write.
    /// 1.0 senders send bare `application/x-protobuf`.
    pub fn from_content_type(ct: Option<&str>) -> Option<Version> {
        let Some(ct) = ct else {
            return Some(Version::V1);
        };
        let mut parts = ct.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        if !media.eq_ignore_ascii_case("application/x-protobuf") {
            return None;
        }
        for p in parts {
            if let Some(v) = p.strip_prefix("proto=") {
                return match v.trim_matches('"') {
                    "prometheus.WriteRequest" => Some(Version::V1),
                    "io.prometheus.write.v2.Request" => Some(Version::V2),
                    _ => None,
                };
            }
        }
        Some(Version::V1)
    }
}

/// A family's metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    pub kind: Option<MetricType>,
    pub help: String,
    pub unit: String,
}

/// An exemplar: labels, value, timestamp (ms).
pub type Exemplar = (Vec<(String, String)>, f64, i64);

/// One series of either version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// As sent (`__name__` included).
    pub labels: Vec<(String, String)>,
    pub samples: Vec<Sample>,
    pub histograms: Vec<Histogram>,
    pub exemplars: Vec<Exemplar>,
    /// 2.0 carries metadata per series; 1.0 per family, in `Decoded::metadata`.
    pub meta: Option<Meta>,
    /// 2.0 `created_timestamp` (ms), 0 for unknown.
    pub created_ms: i64,
}

#[derive(Debug, Default)]
pub struct Decoded {
    pub series: Vec<Series>,
    /// 1.0 metadata by family name.
    pub metadata: HashMap<String, Meta>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("the body decompresses to {0} bytes, over the limit of {1}")]
    TooLarge(usize, usize),
    #[error("invalid snappy block: {0}")]
    Snappy(String),
    #[error("invalid {0} protobuf: {1}")]
    Protobuf(&'static str, String),
    #[error("{0}")]
    Invalid(String),
}

/// Decompresses a snappy block under `limit` bytes.
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let n = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if n > limit {
        return Err(DecodeError::TooLarge(n, limit));
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::Snappy(e.to_string()))
}

fn kind(t: i32) -> Option<MetricType> {
    MetricType::try_from(t)
        .ok()
        .filter(|k| *k != MetricType::Unknown)
}

/// Decodes an uncompressed message.
pub fn decode(raw: &[u8], version: Version) -> Result<Decoded, DecodeError> {
    match version {
        Version::V1 => {
            let w = WriteRequest::decode(raw)
                .map_err(|e| DecodeError::Protobuf("prometheus.WriteRequest", e.to_string()))?;
            let metadata = w
                .metadata
                .into_iter()
                .map(|m| {
                    (
                        m.metric_family_name,
                        Meta {
                            kind: kind(m.r#type),
                            help: m.help,
                            unit: m.unit,
                        },
                    )
                })
                .collect();
            let series = w
                .timeseries
                .into_iter()
                .map(|ts| Series {
                    labels: ts.labels.into_iter().map(|l| (l.name, l.value)).collect(),
                    samples: ts.samples,
                    histograms: ts.histograms,
                    exemplars: ts
                        .exemplars
                        .into_iter()
                        .map(|e| {
                            (
                                e.labels.into_iter().map(|l| (l.name, l.value)).collect(),
                                e.value,
                                e.timestamp,
                            )
                        })
                        .collect(),
                    meta: None,
                    created_ms: 0,
                })
                .collect();
            Ok(Decoded { series, metadata })
        }
        Version::V2 => {
            let r = proto::v2::Request::decode(raw).map_err(|e| {
                DecodeError::Protobuf("io.prometheus.write.v2.Request", e.to_string())
            })?;
            let symbols = &r.symbols;
            let sym = |i: u32, what: &str, series: usize| -> Result<String, DecodeError> {
                symbols.get(i as usize).cloned().ok_or_else(|| {
                    DecodeError::Invalid(format!(
                        "timeseries[{series}]: {what} refers to symbol {i}, but there are {} symbols",
                        symbols.len()
                    ))
                })
            };
            let pairs = |refs: &[u32],
                         what: &str,
                         series: usize|
             -> Result<Vec<(String, String)>, DecodeError> {
                if !refs.len().is_multiple_of(2) {
                    return Err(DecodeError::Invalid(format!(
                        "timeseries[{series}]: {what} has an odd number ({}) of references",
                        refs.len()
                    )));
                }
                refs.chunks_exact(2)
                    .map(|p| Ok((sym(p[0], what, series)?, sym(p[1], what, series)?)))
                    .collect()
            };
            let mut series = Vec::with_capacity(r.timeseries.len());
            for (i, ts) in r.timeseries.into_iter().enumerate() {
                let labels = pairs(&ts.labels_refs, "labels_refs", i)?;
                let meta = match ts.metadata {
                    Some(m) => Some(Meta {
                        kind: kind(m.r#type),
                        help: sym(m.help_ref, "metadata.help_ref", i)?,
                        unit: sym(m.unit_ref, "metadata.unit_ref", i)?,
                    }),
                    None => None,
                };
                let mut exemplars = Vec::with_capacity(ts.exemplars.len());
                for e in ts.exemplars {
                    exemplars.push((
                        pairs(&e.labels_refs, "exemplar labels_refs", i)?,
                        e.value,
                        e.timestamp,
                    ));
                }
                series.push(Series {
                    labels,
                    samples: ts.samples,
                    histograms: ts.histograms,
                    exemplars,
                    meta,
                    created_ms: ts.created_timestamp,
                });
            }
            Ok(Decoded {
                series,
                metadata: HashMap::new(),
            })
        }
    }
}

/// Decompresses and decodes a body: what the receiver and the fuzz target run.
pub fn decode_body(body: &[u8], version: Version, limit: usize) -> Result<Decoded, DecodeError> {
    decode(&decompress(body, limit)?, version)
}
