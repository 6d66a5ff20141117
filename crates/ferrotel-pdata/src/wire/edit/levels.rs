//! The part of each signal's schema the rewriting walk follows down to the items.

/// The part of the message schema the walk follows/// The part of the message schema the walk follows: which length-delimited fields lead to the
/// attribute lists, and at the bottom which field holds them.
pub(super) struct Level {
    pub(super) children: &'static [(u32, &'static Level)],
    /// The children are singular fields (or one oneof): more than one occurrence in total means
    /// prost would merge them, which the walk does not reproduce.
    pub(super) at_most_one: bool,
    /// When no child occurs, edit an empty one (written only if the edit adds something), as
    /// pdata always has a resource where prost has `None`.
    pub(super) create_missing: bool,
    /// Field number of the `repeated KeyValue attributes` list edited here (0: none).
    pub(super) attributes: u32,
}

pub(super) const fn walk(children: &'static [(u32, &'static Level)]) -> Level {
    Level {
        children,
        at_most_one: false,
        create_missing: false,
        attributes: 0,
    }
}

pub(super) const fn attrs(field: u32) -> Level {
    Level {
        children: &[],
        at_most_one: false,
        create_missing: false,
        attributes: field,
    }
}

// Export*ServiceRequest.resource_* = 1 → Resource* .scope_* = 2 → Scope* .items = 2.
pub(super) static SPAN: Level = attrs(9);

pub(super) static SCOPE_SPANS: Level = walk(&[(2, &SPAN)]);

pub(super) static RESOURCE_SPANS: Level = walk(&[(2, &SCOPE_SPANS)]);

pub(super) static TRACES_ITEMS: Level = walk(&[(1, &RESOURCE_SPANS)]);

pub(super) static LOG_RECORD: Level = attrs(6);

pub(super) static SCOPE_LOGS: Level = walk(&[(2, &LOG_RECORD)]);

pub(super) static RESOURCE_LOGS: Level = walk(&[(2, &SCOPE_LOGS)]);

pub(super) static LOGS_ITEMS: Level = walk(&[(1, &RESOURCE_LOGS)]);

pub(super) static NUMBER_POINT: Level = attrs(7);

pub(super) static HISTOGRAM_POINT: Level = attrs(9);

pub(super) static EXP_HISTOGRAM_POINT: Level = attrs(1);

pub(super) static SUMMARY_POINT: Level = attrs(7);

pub(super) static GAUGE_OR_SUM: Level = walk(&[(1, &NUMBER_POINT)]);

pub(super) static HISTOGRAM: Level = walk(&[(1, &HISTOGRAM_POINT)]);

pub(super) static EXP_HISTOGRAM: Level = walk(&[(1, &EXP_HISTOGRAM_POINT)]);

pub(super) static SUMMARY: Level = walk(&[(1, &SUMMARY_POINT)]);

// Metric.data oneof: gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11.
pub(super) static METRIC: Level = Level {
    children: &[
        (5, &GAUGE_OR_SUM),
        (7, &GAUGE_OR_SUM),
        (9, &HISTOGRAM),
        (10, &EXP_HISTOGRAM),
        (11, &SUMMARY),
    ],
    at_most_one: true,
    create_missing: false,
    attributes: 0,
};

pub(super) static SCOPE_METRICS: Level = walk(&[(2, &METRIC)]);

pub(super) static RESOURCE_METRICS: Level = walk(&[(2, &SCOPE_METRICS)]);

pub(super) static METRICS_ITEMS: Level = walk(&[(1, &RESOURCE_METRICS)]);

// Resource*.resource = 1 → Resource.attributes = 1 (the same for every signal).
pub(super) static RESOURCE: Level = attrs(1);

pub(super) static RESOURCE_HOLDER: Level = Level {
    children: &[(1, &RESOURCE)],
    at_most_one: true,
    create_missing: true,
    attributes: 0,
};

pub(super) static RESOURCE_LEVEL: Level = walk(&[(1, &RESOURCE_HOLDER)]);
