//! The data a statement runs against ([`TCtx`]), its contexts ([`Ctx`]) and data points.

use ferrotel_pdata::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_pdata::proto::logs::v1::LogRecord;
use ferrotel_pdata::proto::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
    metric::Data,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{Span, span::Event};

/// OTTL contexts, from the outermost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ctx {
    Resource,
    Scope,
    Span,
    SpanEvent,
    Metric,
    DataPoint,
    Log,
}

impl Ctx {
    pub fn parse(s: &str) -> Option<Ctx> {
        Some(match s {
            "resource" => Ctx::Resource,
            "scope" | "instrumentation_scope" => Ctx::Scope,
            "span" => Ctx::Span,
            "spanevent" => Ctx::SpanEvent,
            "metric" => Ctx::Metric,
            "datapoint" => Ctx::DataPoint,
            "log" | "log_record" => Ctx::Log,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ctx::Resource => "resource",
            Ctx::Scope => "scope",
            Ctx::Span => "span",
            Ctx::SpanEvent => "spanevent",
            Ctx::Metric => "metric",
            Ctx::DataPoint => "datapoint",
            Ctx::Log => "log",
        }
    }

    /// Whether paths of `other` can be read from a statement of this context.
    pub fn can_see(self, other: Ctx) -> bool {
        other == self
            || match self {
                Ctx::Resource => false,
                Ctx::Scope => other == Ctx::Resource,
                Ctx::Span | Ctx::Metric | Ctx::Log => matches!(other, Ctx::Resource | Ctx::Scope),
                Ctx::SpanEvent => matches!(other, Ctx::Resource | Ctx::Scope | Ctx::Span),
                Ctx::DataPoint => matches!(other, Ctx::Resource | Ctx::Scope | Ctx::Metric),
            }
    }
}

/// A mutable data point of any metric type.
pub enum Point<'a> {
    Number(&'a mut NumberDataPoint),
    Histogram(&'a mut HistogramDataPoint),
    ExpHistogram(&'a mut ExponentialHistogramDataPoint),
    Summary(&'a mut SummaryDataPoint),
}

/// What one statement evaluation sees: the item and its parents.
pub struct TCtx<'a> {
    pub resource: &'a mut Option<Resource>,
    /// The `schema_url` of the resource's and the scope's envelopes (`ResourceSpans`,
    /// `ScopeSpans`...), which the `schema_url` paths read and write.
    pub resource_schema_url: Option<&'a mut String>,
    pub scope: Option<&'a mut Option<InstrumentationScope>>,
    pub scope_schema_url: Option<&'a mut String>,
    pub span: Option<&'a mut Span>,
    pub event: Option<&'a mut Event>,
    pub log: Option<&'a mut LogRecord>,
    pub metric: Option<&'a mut Metric>,
    /// The metric's type (`METRIC_DATA_TYPE_*`), kept while its data points are borrowed.
    pub metric_type: i64,
    pub point: Option<Point<'a>>,
    pub cache: Vec<KeyValue>,
    /// Metrics a metric-context editor created (`extract_sum_metric`); the walk appends them
    /// to the scope.
    pub new_metrics: Vec<Metric>,
}

impl<'a> TCtx<'a> {
    /// A context of only a resource.
    pub fn new(resource: &'a mut Option<Resource>) -> Self {
        TCtx {
            resource,
            resource_schema_url: None,
            scope: None,
            scope_schema_url: None,
            span: None,
            event: None,
            log: None,
            metric: None,
            metric_type: 0,
            point: None,
            cache: Vec::new(),
            new_metrics: Vec::new(),
        }
    }
}

/// The `METRIC_DATA_TYPE_*` of a metric's data.
pub fn metric_type(d: Option<&Data>) -> i64 {
    match d {
        None => 0,
        Some(Data::Gauge(_)) => 1,
        Some(Data::Sum(_)) => 2,
        Some(Data::Histogram(_)) => 3,
        Some(Data::ExponentialHistogram(_)) => 4,
        Some(Data::Summary(_)) => 5,
    }
}
