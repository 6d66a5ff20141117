//! The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 (`# UNIT`, `info`,
//! exemplars, `# EOF`). Families are written in name order so scrapes are stable.

use std::fmt::Write;

use super::accumulator::{
    Accumulator, Ex, Family, FamilyKind, Series, Value, escape_into, label_parts, unescape_into,
};
use crate::naming::{
    TranslationStrategy, is_valid_label_name, is_valid_metric_name, push_underscore_escaped,
};

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The text formats with quoted UTF-8 names (text 1.0.0 and OpenMetrics, `allow-utf-8`).
pub const TEXT_UTF8_CONTENT_TYPE: &str =
    "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8";
pub const OPENMETRICS_UTF8_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8";

/// How metric and label names are written for one scrape (Prometheus's escaping schemes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// As they are: the escaping strategies made them valid legacy names already.
    AsIs,
    /// The scraper did not ask for UTF-8 names: characters outside the legacy set become `_`
    /// (`underscores`, the scheme to assume when the scraper names none — what Prometheus
    /// before 3.0 gets).
    Underscores,
    /// The scraper sent `escaping=allow-utf-8`: names the legacy syntax cannot hold are
    /// quoted (`{"http.server.duration_seconds","http.method"="GET"} 1`).
    Quoted,
}

impl Names {
    /// The scheme for a scrape with this `Accept` of an exporter with this strategy.
    pub fn for_scrape(strategy: TranslationStrategy, accept: &str) -> Names {
        if strategy.escapes() {
            Names::AsIs
        } else if accept
            .split([',', ';'])
            .any(|p| p.trim() == "escaping=allow-utf-8")
        {
            Names::Quoted
        } else {
            Names::Underscores
        }
    }
}

/// Writes a float as Go's exposition does: `+Inf`, `-Inf`, `NaN`, else the shortest form.
pub fn write_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

fn escape_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

struct Ctx {
    open_metrics: bool,
    timestamps: bool,
    names: Names,
    /// A name being escaped (reused: no allocation per series).
    scratch: String,
}

impl Ctx {
    /// A metric name outside label braces (`# HELP`, `# TYPE`, `# UNIT`, or a sample's name).
    fn name(&mut self, out: &mut String, name: &str) {
        if self.names == Names::AsIs || is_valid_metric_name(name) {
            out.push_str(name);
        } else if self.names == Names::Underscores {
            push_underscore_escaped(out, name, false);
        } else {
            out.push('"');
            escape_into(out, name);
            out.push('"');
        }
    }

    /// A label text (`a="b",c="d"`, names escaped as values are) under the scrape's scheme.
    fn labels(&mut self, out: &mut String, labels: &str) {
        if self.names == Names::AsIs {
            out.push_str(labels);
            return;
        }
        for (i, (name, value)) in label_parts(labels).enumerate() {
            if i > 0 {
                out.push(',');
            }
            // A valid name has nothing escaped in it.
            if is_valid_label_name(name) {
                out.push_str(name);
            } else if self.names == Names::Underscores {
                self.scratch.clear();
                unescape_into(&mut self.scratch, name);
                push_underscore_escaped(out, &self.scratch, true);
            } else {
                out.push('"');
                out.push_str(name);
                out.push('"');
            }
            out.push_str("=\"");
            out.push_str(value);
            out.push('"');
        }
    }

    /// ` <timestamp>`: milliseconds in text 0.0.4, seconds in OpenMetrics.
    fn time(&self, out: &mut String, s: &Series) {
        if !self.timestamps || s.time_ms == 0 {
            return;
        }
        if self.open_metrics {
            let _ = write!(
                out,
                " {}.{:03}",
                s.time_ms.div_euclid(1000),
                s.time_ms.rem_euclid(1000)
            );
        } else {
            let _ = write!(out, " {}", s.time_ms);
        }
    }

    fn exemplar(&mut self, out: &mut String, e: &Option<Ex>) {
        let Some(e) = e.as_ref().filter(|_| self.open_metrics) else {
            return;
        };
        out.push_str(" # {");
        self.labels(out, &e.labels);
        out.push_str("} ");
        write_float(out, e.value);
        if let Some(t) = e.time {
            let _ = write!(out, " {t:.3}");
        }
    }

    /// `name{labels[,extra]} value`, or `{"name",labels[,extra]} value` for a quoted name.
    fn sample(
        &mut self,
        out: &mut String,
        name: &str,
        suffix: &str,
        labels: &str,
        extra: Option<(&str, &str)>,
        value: f64,
    ) {
        let quoted = self.names == Names::Quoted && !is_valid_metric_name(name);
        if quoted {
            out.push_str("{\"");
            escape_into(out, name);
            out.push_str(suffix);
            out.push('"');
        } else {
            self.name(out, name);
            out.push_str(suffix);
        }
        if !labels.is_empty() || extra.is_some() {
            out.push(if quoted { ',' } else { '{' });
            self.labels(out, labels);
            if let Some((k, v)) = extra {
                if !labels.is_empty() {
                    out.push(',');
                }
                out.push_str(k);
                out.push_str("=\"");
                out.push_str(v);
                out.push('"');
            }
            out.push('}');
        } else if quoted {
            out.push('}');
        }
        out.push(' ');
        write_float(out, value);
    }
}

/// The exposition of everything held.
pub fn render(acc: &Accumulator, open_metrics: bool, timestamps: bool, names: Names) -> String {
    let mut ctx = Ctx {
        open_metrics,
        timestamps,
        names,
        scratch: String::new(),
    };
    let mut out = String::with_capacity(acc.len() * 96 + 256);
    let mut names: Vec<&String> = acc.families.keys().collect();
    names.sort_unstable();
    for name in names {
        family(&mut ctx, &mut out, name, &acc.families[name]);
    }
    if open_metrics {
        out.push_str("# EOF\n");
    }
    out
}

fn family(ctx: &mut Ctx, out: &mut String, name: &str, f: &Family) {
    if f.series.is_empty() {
        return;
    }
    // OpenMetrics names a counter family without `_total` and an info family without `_info`;
    // their samples carry the suffix.
    let (family_name, sample_name, sample_suffix) = match f.kind {
        FamilyKind::Counter if ctx.open_metrics => {
            let base = name.strip_suffix("_total").unwrap_or(name);
            (base, base, "_total")
        }
        FamilyKind::Info if ctx.open_metrics => {
            let base = name.strip_suffix("_info").unwrap_or(name);
            (base, base, "_info")
        }
        _ => (name, name, ""),
    };
    if !f.help.is_empty() {
        out.push_str("# HELP ");
        ctx.name(out, family_name);
        out.push(' ');
        escape_help(out, &f.help);
        out.push('\n');
    }
    let type_word = match (f.kind, ctx.open_metrics) {
        (FamilyKind::Gauge, _) => "gauge",
        (FamilyKind::Counter, _) => "counter",
        (FamilyKind::Histogram, _) => "histogram",
        (FamilyKind::Summary, _) => "summary",
        (FamilyKind::Info, true) => "info",
        (FamilyKind::Info, false) => "gauge",
    };
    out.push_str("# TYPE ");
    ctx.name(out, family_name);
    let _ = writeln!(out, " {type_word}");
    if ctx.open_metrics && !f.unit.is_empty() && family_name.ends_with(&format!("_{}", f.unit)) {
        out.push_str("# UNIT ");
        ctx.name(out, family_name);
        let _ = writeln!(out, " {}", f.unit);
    }
    let mut series: Vec<&Series> = f.series.values().collect();
    series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
    let mut bound = String::new();
    for s in series {
        match &s.value {
            Value::Number(v) => {
                ctx.sample(out, sample_name, sample_suffix, &s.labels, None, *v);
                ctx.time(out, s);
                ctx.exemplar(out, &s.exemplar);
                out.push('\n');
            }
            Value::Histogram {
                bounds,
                counts,
                sum,
                count,
                exemplars,
                ..
            } => {
                let mut cumulative = 0u64;
                for (i, c) in counts.iter().enumerate() {
                    cumulative = cumulative.saturating_add(*c);
                    bound.clear();
                    match bounds.get(i) {
                        Some(b) => write_float(&mut bound, *b),
                        None => bound.push_str("+Inf"),
                    }
                    // The +Inf bucket is the count, whatever the buckets add up to.
                    let v = if i == bounds.len() {
                        *count
                    } else {
                        cumulative
                    };
                    ctx.sample(
                        out,
                        name,
                        "_bucket",
                        &s.labels,
                        Some(("le", &bound)),
                        v as f64,
                    );
                    ctx.time(out, s);
                    ctx.exemplar(out, exemplars.get(i).unwrap_or(&None));
                    out.push('\n');
                }
                ctx.sample(out, name, "_sum", &s.labels, None, *sum);
                ctx.time(out, s);
                out.push('\n');
                ctx.sample(out, name, "_count", &s.labels, None, *count as f64);
                ctx.time(out, s);
                out.push('\n');
            }
            Value::Summary {
                count,
                sum,
                quantiles,
            } => {
                for (q, v) in quantiles {
                    bound.clear();
                    write_float(&mut bound, *q);
                    ctx.sample(out, name, "", &s.labels, Some(("quantile", &bound)), *v);
                    ctx.time(out, s);
                    out.push('\n');
                }
                ctx.sample(out, name, "_sum", &s.labels, None, *sum);
                ctx.time(out, s);
                out.push('\n');
                ctx.sample(out, name, "_count", &s.labels, None, *count as f64);
                ctx.time(out, s);
                out.push('\n');
            }
        }
    }
}
