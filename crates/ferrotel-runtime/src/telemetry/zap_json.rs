//! `service::telemetry::logs::encoding: json` in the shape the Go Collector's zap logger writes
//! (its production encoder with ISO 8601 times), so log pipelines built for the Go Collector's
//! JSON read ferrotel's: one object per line, `level` (lowercase), `ts`, `caller`, `msg`, then
//! the event's fields at the top level.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct ZapJson;

/// zap's levels: it has no trace, so trace is written as debug.
fn level(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        _ => "debug",
    }
}

/// zap's ISO8601TimeEncoder for a UTC time: `2006-01-02T15:04:05.000Z`.
pub fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// zap's ShortCallerEncoder: the file's parent folder and name, and the line.
fn caller(file: &str, line: u32) -> String {
    let mut parts = file.rsplit(['/', '\\']);
    let name = parts.next().unwrap_or(file);
    match parts.next() {
        Some(dir) => format!("{dir}/{name}:{line}"),
        None => format!("{name}:{line}"),
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(&'static str, Value)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(s) => s,
                v => v.to_string(),
            };
        } else {
            self.others.push((field.name(), value));
        }
    }
}

impl<S, N> FormatEvent<S, N> for ZapJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let text = |s: &str| Value::from(s).to_string();
        let mut line = format!(
            "{{\"level\":\"{}\",\"ts\":\"{}\"",
            level(meta.level()),
            iso8601(SystemTime::now())
        );
        if let (Some(file), Some(n)) = (meta.file(), meta.line()) {
            let _ = write!(line, ",\"caller\":{}", text(&caller(file, n)));
        }
        let _ = write!(line, ",\"msg\":{}", text(&fields.message));
        for (k, v) in &fields.others {
            let _ = write!(line, ",{}:{v}", text(k));
        }
        writeln!(writer, "{line}}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso8601_is_zaps_utc_form() {
        let t = |s: u64, ms: u64| {
            iso8601(SystemTime::UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(t(0, 0), "1970-01-01T00:00:00.000Z");
        // date -u -d @951782400 → 2000-02-29 (a leap day of a century leap year).
        assert_eq!(t(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(t(1_796_618_872, 245), "2026-12-07T04:47:52.245Z");
        assert_eq!(t(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn caller_is_folder_file_and_line() {
        assert_eq!(caller("crates/x/src/service.rs", 12), "src/service.rs:12");
        assert_eq!(caller("main.rs", 3), "main.rs:3");
    }
}
