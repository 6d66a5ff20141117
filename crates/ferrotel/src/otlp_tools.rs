//! `ferrotel otlp`: tools for OTLP payload files (debugging what a client sends or an exporter
//! wrote). Inputs are one OTLP/JSON request, OTLP/JSON lines (as the `file` exporter writes
//! them), or one protobuf request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::ExitCode;

use bytes::Bytes;
use clap::{Subcommand, ValueEnum};
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::{DecodeError, Payload, Request, Signal};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Format {
    Json,
    Proto,
}

#[derive(Clone, Copy, ValueEnum, Debug)]
pub enum SignalArg {
    Traces,
    Metrics,
    Logs,
    Profiles,
}

impl From<SignalArg> for Signal {
    fn from(s: SignalArg) -> Signal {
        match s {
            SignalArg::Traces => Signal::Traces,
            SignalArg::Metrics => Signal::Metrics,
            SignalArg::Logs => Signal::Logs,
            SignalArg::Profiles => Signal::Profiles,
        }
    }
}

#[derive(Subcommand)]
pub enum OtlpTool {
    /// Converts between OTLP/JSON and protobuf (stdin/stdout by default).
    Convert {
        #[arg(long, value_enum)]
        from: Format,
        #[arg(long, value_enum)]
        to: Format,
        /// The signal; detected from the payload when omitted.
        #[arg(long, value_enum)]
        signal: Option<SignalArg>,
        /// Input file ("-" or omitted: stdin).
        input: Option<String>,
        /// Output file ("-" or omitted: stdout).
        output: Option<String>,
    },
    /// Prints a readable summary: resources, scopes, counts, time range, span trees.
    Inspect {
        file: String,
        #[arg(long, value_enum)]
        signal: Option<SignalArg>,
        /// The file's format; detected when omitted.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Checks a payload file; exit 1 with the list of errors.
    Validate {
        file: String,
        #[arg(long, value_enum)]
        signal: Option<SignalArg>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

fn read_input(path: Option<&str>) -> Result<Vec<u8>, String> {
    match path {
        None | Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(buf)
        }
        Some(p) => std::fs::read(p).map_err(|e| format!("cannot read {p:?}: {e}")),
    }
}

/// The signal of a JSON request, from its top-level key.
fn detect_json_signal(buf: &[u8]) -> Option<Signal> {
    let text = std::str::from_utf8(buf).ok()?;
    let first_key = text.find("\"resource")?;
    let rest = &text[first_key + 1..];
    [
        ("resourceSpans", Signal::Traces),
        ("resourceMetrics", Signal::Metrics),
        ("resourceLogs", Signal::Logs),
        ("resourceProfiles", Signal::Profiles),
        ("resource_spans", Signal::Traces),
        ("resource_metrics", Signal::Metrics),
        ("resource_logs", Signal::Logs),
        ("resource_profiles", Signal::Profiles),
    ]
    .into_iter()
    .find(|(k, _)| rest.starts_with(k))
    .map(|(_, s)| s)
}

/// The signal of a protobuf request: the one signal whose schema it validates against with
/// items in it.
fn detect_proto_signal(buf: &[u8]) -> Result<Signal, String> {
    let fits: Vec<Signal> = Signal::ALL
        .into_iter()
        .filter(|s| ferrotel_pdata::wire::validate(*s, buf).is_ok_and(|n| n > 0))
        .collect();
    match fits.as_slice() {
        [one] => Ok(*one),
        [] => Err("cannot tell the signal of this protobuf payload (it is not a valid non-empty request of any signal); pass --signal".into()),
        _ => Err(format!(
            "this protobuf payload is valid as {}; pass --signal",
            fits.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" and ")
        )),
    }
}

fn detect_format(buf: &[u8]) -> Format {
    match buf.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Format::Json,
        _ => Format::Proto,
    }
}

/// One request of a file, labelled (`line 3`), decoded or not.
type Decoded = (String, Result<Request, DecodeError>);

/// Decodes a file into requests: one per JSON line for JSONL, else one.
fn decode_all(buf: &[u8], format: Format, signal: Option<Signal>) -> Result<Vec<Decoded>, String> {
    match format {
        Format::Json => {
            let lines: Vec<&[u8]> = buf
                .split(|b| *b == b'\n')
                .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
                .collect();
            // A pretty-printed single request spans lines; JSON lines each start with '{'.
            let jsonl = lines.len() > 1
                && lines.iter().all(|l| {
                    l.trim_ascii_start().first() == Some(&b'{')
                        && l.trim_ascii_end().last() == Some(&b'}')
                });
            let docs: Vec<&[u8]> = if jsonl { lines } else { vec![buf] };
            let mut out = Vec::new();
            for (i, doc) in docs.iter().enumerate() {
                let label = if jsonl {
                    format!("line {}", i + 1)
                } else {
                    "request".to_string()
                };
                let sig = match signal.or_else(|| detect_json_signal(doc)) {
                    Some(s) => s,
                    None => {
                        out.push((label, Err(DecodeError::new("", "cannot tell the signal (no resourceSpans/resourceMetrics/resourceLogs/resourceProfiles key); pass --signal"))));
                        continue;
                    }
                };
                out.push((label, ferrotel_pdata::json::decode(sig, doc)));
            }
            Ok(out)
        }
        Format::Proto => {
            let sig = match signal {
                Some(s) => s,
                None => detect_proto_signal(buf)?,
            };
            let bytes = Bytes::copy_from_slice(buf);
            let result = Payload::from_proto(sig, bytes).and_then(Payload::into_request);
            Ok(vec![("request".to_string(), result)])
        }
    }
}

pub fn run(tool: OtlpTool) -> ExitCode {
    let result = match tool {
        OtlpTool::Convert {
            from,
            to,
            signal,
            input,
            output,
        } => convert(
            from,
            to,
            signal.map(Into::into),
            input.as_deref(),
            output.as_deref(),
        ),
        OtlpTool::Inspect {
            file,
            signal,
            format,
        } => inspect(&file, signal.map(Into::into), format),
        OtlpTool::Validate {
            file,
            signal,
            format,
        } => return validate(&file, signal.map(Into::into), format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn convert(
    from: Format,
    to: Format,
    signal: Option<Signal>,
    input: Option<&str>,
    output: Option<&str>,
) -> Result<(), String> {
    let buf = read_input(input)?;
    let requests = decode_all(&buf, from, signal)?;
    let mut out = Vec::new();
    if to == Format::Proto && requests.len() > 1 {
        return Err(format!(
            "the input holds {} JSON lines; protobuf output holds one request (convert one line at a time)",
            requests.len()
        ));
    }
    for (label, r) in requests {
        let r = r.map_err(|e| {
            if label == "request" {
                e.to_string()
            } else {
                format!("{label}: {e}")
            }
        })?;
        match to {
            Format::Json => {
                out.extend_from_slice(&ferrotel_pdata::json::encode(&r));
                out.push(b'\n');
            }
            Format::Proto => out.extend_from_slice(&r.encode_proto()),
        }
    }
    match output {
        None | Some("-") => std::io::stdout()
            .write_all(&out)
            .map_err(|e| format!("cannot write stdout: {e}")),
        Some(p) => std::fs::write(p, &out).map_err(|e| format!("cannot write {p:?}: {e}")),
    }
}

fn validate(file: &str, signal: Option<Signal>, format: Option<Format>) -> ExitCode {
    let buf = match read_input(Some(file)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let format = format.unwrap_or_else(|| detect_format(&buf));
    let requests = match decode_all(&buf, format, signal) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut bad = 0;
    let mut items = 0;
    for (label, r) in &requests {
        match r {
            Ok(r) => items += r.item_count(),
            Err(e) => {
                bad += 1;
                eprintln!("{file}: {label}: {e}");
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} of {} request(s) invalid", requests.len());
        ExitCode::FAILURE
    } else {
        println!(
            "{file}: valid ({} request(s), {items} item(s))",
            requests.len()
        );
        ExitCode::SUCCESS
    }
}

fn any_to_string(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        None => "null".into(),
        Some(any_value::Value::StringValue(s)) => format!("{s:?}"),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => format!("<{} bytes>", b.len()),
        Some(any_value::Value::ArrayValue(a)) => format!(
            "[{}]",
            a.values
                .iter()
                .map(|v| any_to_string(&Some(v.clone())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(any_value::Value::KvlistValue(kv)) => format!("{{{}}}", attrs(&kv.values)),
        Some(any_value::Value::StringValueStrindex(i)) => format!("<string table #{i}>"),
    }
}

fn attrs(kvs: &[KeyValue]) -> String {
    kvs.iter()
        .map(|kv| format!("{}={}", kv.key, any_to_string(&kv.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn time(nanos: u64) -> String {
    if nanos == 0 {
        return "-".into();
    }
    let secs = nanos / 1_000_000_000;
    let (days, rem) = (secs / 86400, secs % 86400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        nanos % 1_000_000_000
    )
}

#[derive(Default)]
struct Range(u64, u64);

impl Range {
    fn add(&mut self, t: u64) {
        if t == 0 {
            return;
        }
        self.0 = if self.0 == 0 { t } else { self.0.min(t) };
        self.1 = self.1.max(t);
    }
}

fn inspect(file: &str, signal: Option<Signal>, format: Option<Format>) -> Result<(), String> {
    let buf = read_input(Some(file))?;
    let format = format.unwrap_or_else(|| detect_format(&buf));
    let mut out = String::new();
    for (label, r) in decode_all(&buf, format, signal)? {
        let r = r.map_err(|e| format!("{label}: {e}"))?;
        let _ = writeln!(
            out,
            "== {label}: {} {}",
            r.item_count(),
            r.signal().item_metric_noun()
        );
        inspect_request(&r, &mut out);
    }
    print!("{out}");
    Ok(())
}

fn inspect_request(r: &Request, out: &mut String) {
    let mut range = Range::default();
    match r {
        Request::Traces(t) => {
            for (ri, rs) in t.resource_spans.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "resource[{ri}] {}",
                    rs.resource
                        .as_ref()
                        .map(|r| attrs(&r.attributes))
                        .unwrap_or_default()
                );
                for (si, ss) in rs.scope_spans.iter().enumerate() {
                    let scope = ss
                        .scope
                        .as_ref()
                        .map(|s| format!("{} {}", s.name, s.version))
                        .unwrap_or_default();
                    let _ = writeln!(out, "  scope[{si}] {scope}: {} spans", ss.spans.len());
                    // A tree by parent span id; spans whose parent is absent are roots.
                    let ids: std::collections::HashSet<&[u8]> =
                        ss.spans.iter().map(|s| s.span_id.as_ref()).collect();
                    let mut children: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
                    let mut roots = Vec::new();
                    for (i, s) in ss.spans.iter().enumerate() {
                        range.add(s.start_time_unix_nano);
                        range.add(s.end_time_unix_nano);
                        if s.parent_span_id.is_empty() || !ids.contains(s.parent_span_id.as_ref()) {
                            roots.push(i);
                        } else {
                            children
                                .entry(s.parent_span_id.as_ref())
                                .or_default()
                                .push(i);
                        }
                    }
                    fn walk(
                        i: usize,
                        depth: usize,
                        spans: &[ferrotel_pdata::proto::trace::v1::Span],
                        children: &BTreeMap<&[u8], Vec<usize>>,
                        out: &mut String,
                    ) {
                        let s = &spans[i];
                        let dur = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano)
                            as f64
                            / 1e6;
                        let _ = writeln!(
                            out,
                            "{}- {} [{}] trace={} span={} {dur:.3}ms {}",
                            "    ".repeat(depth + 1),
                            s.name,
                            s.kind,
                            hex(&s.trace_id),
                            hex(&s.span_id),
                            attrs(&s.attributes)
                        );
                        if depth < 64 {
                            for c in children
                                .get(s.span_id.as_ref())
                                .map(Vec::as_slice)
                                .unwrap_or_default()
                            {
                                walk(*c, depth + 1, spans, children, out);
                            }
                        }
                    }
                    for r in roots {
                        walk(r, 0, &ss.spans, &children, out);
                    }
                }
            }
        }
        Request::Metrics(m) => {
            for (ri, rm) in m.resource_metrics.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "resource[{ri}] {}",
                    rm.resource
                        .as_ref()
                        .map(|r| attrs(&r.attributes))
                        .unwrap_or_default()
                );
                for (si, sm) in rm.scope_metrics.iter().enumerate() {
                    let scope = sm
                        .scope
                        .as_ref()
                        .map(|s| format!("{} {}", s.name, s.version))
                        .unwrap_or_default();
                    let _ = writeln!(out, "  scope[{si}] {scope}: {} metrics", sm.metrics.len());
                    for metric in &sm.metrics {
                        use ferrotel_pdata::proto::metrics::v1::metric::Data;
                        let kind = match &metric.data {
                            Some(Data::Gauge(g)) => {
                                g.data_points
                                    .iter()
                                    .for_each(|p| range.add(p.time_unix_nano));
                                "gauge"
                            }
                            Some(Data::Sum(s)) => {
                                s.data_points
                                    .iter()
                                    .for_each(|p| range.add(p.time_unix_nano));
                                "sum"
                            }
                            Some(Data::Histogram(h)) => {
                                h.data_points
                                    .iter()
                                    .for_each(|p| range.add(p.time_unix_nano));
                                "histogram"
                            }
                            Some(Data::ExponentialHistogram(h)) => {
                                h.data_points
                                    .iter()
                                    .for_each(|p| range.add(p.time_unix_nano));
                                "exponential_histogram"
                            }
                            Some(Data::Summary(s)) => {
                                s.data_points
                                    .iter()
                                    .for_each(|p| range.add(p.time_unix_nano));
                                "summary"
                            }
                            None => "empty",
                        };
                        let _ = writeln!(
                            out,
                            "    - {} ({kind}, unit {:?}): {} points",
                            metric.name,
                            metric.unit,
                            ferrotel_pdata::payload::metric_point_count(metric)
                        );
                    }
                }
            }
        }
        Request::Logs(l) => {
            for (ri, rl) in l.resource_logs.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "resource[{ri}] {}",
                    rl.resource
                        .as_ref()
                        .map(|r| attrs(&r.attributes))
                        .unwrap_or_default()
                );
                for (si, sl) in rl.scope_logs.iter().enumerate() {
                    let scope = sl
                        .scope
                        .as_ref()
                        .map(|s| format!("{} {}", s.name, s.version))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  scope[{si}] {scope}: {} log records",
                        sl.log_records.len()
                    );
                    for rec in &sl.log_records {
                        range.add(rec.time_unix_nano);
                        range.add(rec.observed_time_unix_nano);
                        let event = if rec.event_name.is_empty() {
                            String::new()
                        } else {
                            format!(" event={}", rec.event_name)
                        };
                        let _ = writeln!(
                            out,
                            "    - {} {}{event} {}",
                            time(rec.time_unix_nano),
                            rec.severity_text,
                            any_to_string(&rec.body)
                        );
                    }
                }
            }
        }
        Request::Profiles(p) => {
            for (ri, rp) in p.resource_profiles.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "resource[{ri}] {}",
                    rp.resource
                        .as_ref()
                        .map(|r| attrs(&r.attributes))
                        .unwrap_or_default()
                );
                for (si, sp) in rp.scope_profiles.iter().enumerate() {
                    let _ = writeln!(out, "  scope[{si}]: {} profiles", sp.profiles.len());
                    for prof in &sp.profiles {
                        range.add(prof.time_unix_nano);
                        let _ = writeln!(
                            out,
                            "    - profile {} {} samples",
                            hex(&prof.profile_id),
                            prof.samples.len()
                        );
                    }
                }
            }
        }
    }
    let _ = writeln!(out, "time range: {} .. {}", time(range.0), time(range.1));
}
