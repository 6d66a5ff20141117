//! The metric-context editors: type conversions and derived metrics.

use std::sync::Arc;

use ferrotel_pdata::proto::common::v1::KeyValue;

use super::compiler::{Args, CResult, Compiler, err, lit_str};
use crate::getter::EditFn;
use crate::parser::{Call, Expr, ExprKind};

impl Compiler {
    /// The metric-context editors: type conversions and derived metrics.
    pub(super) fn metric_fn(&self, call: &Call) -> CResult<EditFn> {
        use ferrotel_pdata::proto::metrics::v1::{
            Gauge, Metric, NumberDataPoint, Sum, metric::Data, number_data_point,
        };
        let name = call.name.as_str();
        let lit_bool = |e: &Expr, what: &str| match e.kind {
            ExprKind::Bool(b) => Ok(b),
            _ => err(e.col, format!("{what} must be a bool literal")),
        };
        let no_metric = || "no metric in this context".to_string();
        Ok(match name {
            "convert_sum_to_gauge" => {
                Args::bind(call, &[], 0)?;
                Arc::new(move |t| {
                    let m = t.metric.as_mut().ok_or_else(no_metric)?;
                    if let Some(Data::Sum(s)) = &mut m.data {
                        let points = std::mem::take(&mut s.data_points);
                        m.data = Some(Data::Gauge(Gauge {
                            data_points: points,
                        }));
                    }
                    Ok(())
                })
            }
            "convert_gauge_to_sum" => {
                let a = Args::bind(call, &["aggregation_temporality", "is_monotonic"], 2)?;
                let temp = lit_str(a.get(0), "aggregation_temporality")?;
                let temporality = match temp.as_str() {
                    "cumulative" => 2,
                    "delta" => 1,
                    _ => {
                        return err(
                            a.get(0).col,
                            format!("unknown aggregation temporality: {temp}"),
                        );
                    }
                };
                let monotonic = lit_bool(a.get(1), "is_monotonic")?;
                Arc::new(move |t| {
                    let m = t.metric.as_mut().ok_or_else(no_metric)?;
                    if let Some(Data::Gauge(g)) = &mut m.data {
                        let points = std::mem::take(&mut g.data_points);
                        m.data = Some(Data::Sum(Sum {
                            data_points: points,
                            aggregation_temporality: temporality,
                            is_monotonic: monotonic,
                        }));
                    }
                    Ok(())
                })
            }
            _ => {
                let sum = name == "extract_sum_metric";
                let a = Args::bind(call, &["monotonic", "suffix"], 1)?;
                let monotonic = lit_bool(a.get(0), "monotonic")?;
                let suffix = match a.opt(1) {
                    Some(e) => lit_str(e, "suffix")?,
                    None => if sum { "_sum" } else { "_count" }.to_string(),
                };
                Arc::new(move |t| {
                    let m = t.metric.as_ref().ok_or_else(no_metric)?;
                    // Go copies attributes, times and the value, not the flags.
                    let point = |attrs: &[KeyValue], start, time, _flags: u32, v| NumberDataPoint {
                        attributes: attrs.to_vec(),
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        value: Some(v),
                        ..Default::default()
                    };
                    let invalid = || {
                        let kind = match &m.data {
                            None => "Empty",
                            Some(Data::Gauge(_)) => "Gauge",
                            Some(Data::Sum(_)) => "Sum",
                            Some(Data::Histogram(_)) => "Histogram",
                            Some(Data::ExponentialHistogram(_)) => "ExponentialHistogram",
                            Some(Data::Summary(_)) => "Summary",
                        };
                        Err(format!(
                            "{} requires an input metric of type Histogram, ExponentialHistogram or Summary, got {kind}",
                            if sum {
                                "extract_sum_metric"
                            } else {
                                "extract_count_metric"
                            }
                        ))
                    };
                    let (temporality, points): (i32, Vec<NumberDataPoint>) = match &m.data {
                        Some(Data::Histogram(h)) => (
                            h.aggregation_temporality,
                            h.data_points
                                .iter()
                                .filter_map(|p| {
                                    let v = if sum {
                                        number_data_point::Value::AsDouble(p.sum?)
                                    } else {
                                        number_data_point::Value::AsInt(p.count as i64)
                                    };
                                    Some(point(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        v,
                                    ))
                                })
                                .collect(),
                        ),
                        Some(Data::ExponentialHistogram(h)) => (
                            h.aggregation_temporality,
                            h.data_points
                                .iter()
                                .filter_map(|p| {
                                    let v = if sum {
                                        number_data_point::Value::AsDouble(p.sum?)
                                    } else {
                                        number_data_point::Value::AsInt(p.count as i64)
                                    };
                                    Some(point(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        v,
                                    ))
                                })
                                .collect(),
                        ),
                        Some(Data::Summary(s)) => (
                            2,
                            s.data_points
                                .iter()
                                .map(|p| {
                                    let v = if sum {
                                        number_data_point::Value::AsDouble(p.sum)
                                    } else {
                                        number_data_point::Value::AsInt(p.count as i64)
                                    };
                                    point(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        v,
                                    )
                                })
                                .collect(),
                        ),
                        _ => return invalid(),
                    };
                    // As Go: an unspecified temporality is refused like another type.
                    if temporality == 0 {
                        return invalid();
                    }
                    if points.is_empty() {
                        return Ok(());
                    }
                    let new = Metric {
                        name: format!("{}{suffix}", m.name),
                        description: m.description.clone(),
                        unit: if sum { m.unit.clone() } else { "1".into() },
                        data: Some(Data::Sum(Sum {
                            data_points: points,
                            aggregation_temporality: temporality,
                            is_monotonic: monotonic,
                        })),
                        ..Default::default()
                    };
                    t.new_metrics.push(new);
                    Ok(())
                })
            }
        })
    }
}
