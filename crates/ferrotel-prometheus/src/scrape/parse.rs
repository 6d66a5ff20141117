//! The Prometheus text format 0.0.4 and OpenMetrics 1.0 text parser.
//!
//! One pass over the body, borrowing names and (unescaped) label values from it: an exposition
//! is three flat vectors (families, samples, labels), so a scrape allocates per vector growth,
//! not per sample. Errors carry the 1-based line number.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// What Prometheus 2.x sends: OpenMetrics preferred, text 0.0.4 accepted.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4 (timestamps in milliseconds).
    Text,
    /// OpenMetrics 1.0 (timestamps in seconds, `# EOF`, exemplars, units).
    OpenMetrics,
}

impl Format {
    /// The answer's Content-Type decides, as in Prometheus: OpenMetrics only when it says so.
    pub fn from_content_type(ct: Option<&str>) -> Format {
        match ct {
            Some(ct)
                if ct.split(';').next().is_some_and(|m| {
                    m.trim()
                        .eq_ignore_ascii_case("application/openmetrics-text")
                }) =>
            {
                Format::OpenMetrics
            }
            _ => Format::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// `untyped` (text) or `unknown` (OpenMetrics), and samples without a TYPE line.
    Unknown,
}

impl MetricType {
    fn parse(s: &str, format: Format) -> Option<MetricType> {
        Some(match (s, format) {
            ("counter", _) => MetricType::Counter,
            ("gauge", _) => MetricType::Gauge,
            ("histogram", _) => MetricType::Histogram,
            ("summary", _) => MetricType::Summary,
            ("untyped", Format::Text) | ("unknown", Format::OpenMetrics) => MetricType::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => MetricType::GaugeHistogram,
            ("info", Format::OpenMetrics) => MetricType::Info,
            ("stateset", Format::OpenMetrics) => MetricType::StateSet,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    /// Sample name suffixes that belong to a family of this type.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Histogram => &["_bucket", "_sum", "_count", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
            MetricType::Summary => &["_sum", "_count", "_created"],
            MetricType::Info => &["_info"],
            MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[],
        }
    }

    /// Whether a sample may carry the family's bare name.
    fn bare_name_ok(self) -> bool {
        !matches!(
            self,
            MetricType::Histogram | MetricType::GaugeHistogram | MetricType::Info
        )
    }
}

/// One metric family: its metadata and its samples' index range.
#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    pub name: &'a str,
    pub kind: MetricType,
    pub help: Option<Cow<'a, str>>,
    pub unit: Option<&'a str>,
    pub samples: Range<usize>,
    /// A counter whose samples carry `_total` (OpenMetrics' always do): its OTLP metric is
    /// named with the suffix, the name Prometheus stores and the Go receiver keeps.
    pub total: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label<'a> {
    pub name: &'a str,
    pub value: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    /// The series as written: the name and the label set text up to its `}` (the scrape
    /// receiver's series cache key: the same text is the same series, without hashing labels).
    pub series: &'a str,
    /// Index range into [`Exposition::labels`].
    pub labels: Range<usize>,
    pub value: f64,
    /// Milliseconds since the epoch (OpenMetrics seconds are converted).
    pub timestamp_ms: Option<i64>,
    pub exemplar: Option<Exemplar>,
    /// 1-based line in the body.
    pub line: u32,
    /// What [`parse_with`]'s lookup answered for the series text: a series it knows (and
    /// validated in an earlier body), whose labels were not parsed again (`labels` is empty).
    pub known: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub labels: Range<usize>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// A parsed body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition<'a> {
    pub families: Vec<Family<'a>>,
    pub samples: Vec<Sample<'a>>,
    pub labels: Vec<Label<'a>>,
}

impl<'a> Exposition<'a> {
    pub fn labels_of(&self, r: &Range<usize>) -> &[Label<'a>] {
        &self.labels[r.clone()]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// Parses a whole body. Invalid UTF-8, a malformed line, a missing `# EOF` (OpenMetrics) are
/// errors naming the line.
pub fn parse(body: &[u8], format: Format) -> Result<Exposition<'_>, ParseError> {
    parse_with(body, format, None)
}

/// A lookup of series texts (`name{labels}` as written) already validated by an earlier parse.
pub type KnownSeries<'k> = &'k mut dyn FnMut(&str) -> Option<u32>;

/// [`parse`], asking `known` about each series text first: a known series' label set is only
/// scanned for its end, not parsed (the scrape receiver's steady state, where nearly every
/// series was in the last body), and its sample carries the lookup's answer.
pub fn parse_with<'a>(
    body: &'a [u8],
    format: Format,
    known: Option<KnownSeries<'_>>,
) -> Result<Exposition<'a>, ParseError> {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            let line = 1 + body[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            return Err(ParseError {
                line,
                message: "invalid UTF-8".into(),
            });
        }
    };
    // Sized once from the line count (a vectorised byte count) instead of grown by doubling,
    // which copied the vectors' contents several times per scrape. Capped: a body of empty
    // lines must not reserve a sample per byte.
    let lines = (body.iter().filter(|b| **b == b'\n').count() + 1).min(1 << 18);
    let mut p = Parser {
        format,
        exp: Exposition {
            families: Vec::new(),
            samples: Vec::with_capacity(lines),
            labels: Vec::with_capacity(lines * 2),
        },
        cur: None,
        known,
    };
    let mut eof = false;
    let mut line = 0usize;
    let mut rest = text;
    while !rest.is_empty() {
        line += 1;
        let (raw, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        rest = next;
        let l = raw.strip_suffix('\r').unwrap_or(raw);
        if l.is_empty() {
            continue;
        }
        let res = if let Some(c) = l.strip_prefix('#') {
            p.comment(c, line).map(|is_eof| eof = is_eof)
        } else {
            p.sample(l, line)
        };
        res.map_err(|message| ParseError { line, message })?;
        if eof {
            // Only the final newline may follow `# EOF`.
            if !rest.is_empty() {
                return Err(err(line + 1, "content after # EOF"));
            }
            break;
        }
    }
    if format == Format::OpenMetrics && !eof {
        return Err(err(line, "missing # EOF (truncated OpenMetrics body?)"));
    }
    if let Some(f) = p.cur {
        p.exp.families[f].samples.end = p.exp.samples.len();
    }
    Ok(p.exp)
}

fn err(line: usize, m: &str) -> ParseError {
    ParseError {
        line,
        message: m.into(),
    }
}

struct Parser<'a, 'k> {
    format: Format,
    exp: Exposition<'a>,
    /// The family samples are appended to.
    cur: Option<usize>,
    known: Option<KnownSeries<'k>>,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

// Byte scans rather than `str` methods with a char-array pattern, which decode char by char
// (a third of the parser's instructions before).
fn skip_blanks(s: &str) -> &str {
    let n = s.bytes().take_while(|b| is_blank(*b)).count();
    &s[n..]
}

fn trim_blanks_end(s: &str) -> &str {
    let n = s.bytes().rev().take_while(|b| is_blank(*b)).count();
    &s[..s.len() - n]
}

fn trim_blanks(s: &str) -> &str {
    trim_blanks_end(skip_blanks(s))
}

/// Splits off the next token separated by spaces or tabs.
fn token(s: &str) -> (&str, &str) {
    let s = skip_blanks(s);
    match s.bytes().position(is_blank) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

impl<'a> Parser<'a, '_> {
    fn close_current(&mut self) {
        if let Some(f) = self.cur {
            self.exp.families[f].samples.end = self.exp.samples.len();
        }
    }

    /// The family for metadata about `name`: the current one if it has that name and no
    /// samples yet (HELP, TYPE and UNIT may come in any order), else a new one.
    fn family_for_metadata(&mut self, name: &'a str) -> usize {
        if let Some(f) = self.cur {
            let fam = &self.exp.families[f];
            if fam.name == name && fam.samples.start == self.exp.samples.len() {
                return f;
            }
        }
        self.new_family(name, MetricType::Unknown)
    }

    fn new_family(&mut self, name: &'a str, kind: MetricType) -> usize {
        self.close_current();
        let n = self.exp.samples.len();
        self.exp.families.push(Family {
            name,
            kind,
            help: None,
            unit: None,
            samples: n..n,
            total: false,
        });
        let f = self.exp.families.len() - 1;
        self.cur = Some(f);
        f
    }

    /// A `#` line; returns whether it was `# EOF`.
    fn comment(&mut self, rest: &'a str, _line: usize) -> Result<bool, String> {
        let om = self.format == Format::OpenMetrics;
        if om && rest == " EOF" {
            return Ok(true);
        }
        let (kw, after) = token(rest);
        if !rest.starts_with([' ', '\t']) || !matches!(kw, "HELP" | "TYPE" | "UNIT") {
            if om {
                return Err(format!("unexpected comment {:?}", truncate(rest)));
            }
            return Ok(false); // text format: a free comment
        }
        if kw == "UNIT" && !om {
            return Ok(false);
        }
        let (name, after) = token(after);
        if !is_metric_name(name) {
            return Err(format!(
                "invalid metric name {:?} in # {kw}",
                truncate(name)
            ));
        }
        let after = after.strip_prefix([' ', '\t']).unwrap_or(after);
        match kw {
            "TYPE" => {
                let t = trim_blanks(after);
                let kind = MetricType::parse(t, self.format)
                    .ok_or_else(|| format!("unknown metric type {:?} for {name}", truncate(t)))?;
                let f = self.family_for_metadata(name);
                self.exp.families[f].kind = kind;
            }
            "HELP" => {
                let help = unescape(after, om).map_err(|e| format!("HELP of {name}: {e}"))?;
                let f = self.family_for_metadata(name);
                self.exp.families[f].help = Some(help);
            }
            _ => {
                let unit = trim_blanks(after);
                if !unit.is_empty() && !name.ends_with(unit) {
                    // OpenMetrics: the unit must be a suffix of the family name.
                    return Err(format!("unit {unit:?} is not a suffix of {name}"));
                }
                let f = self.family_for_metadata(name);
                self.exp.families[f].unit = (!unit.is_empty()).then_some(unit);
            }
        }
        Ok(false)
    }

    fn belongs(&self, name: &str) -> bool {
        let Some(f) = self.cur else { return false };
        let fam = &self.exp.families[f];
        match name.strip_prefix(fam.name) {
            Some("") => fam.kind.bare_name_ok(),
            Some(suffix) => fam.kind.suffixes().contains(&suffix),
            None => false,
        }
    }

    fn sample(&mut self, l: &'a str, line: usize) -> Result<(), String> {
        let om = self.format == Format::OpenMetrics;
        let name_end = l
            .bytes()
            .position(|b| b == b'{' || is_blank(b))
            .unwrap_or(l.len());
        let name = &l[..name_end];
        let mut rest = &l[name_end..];
        let start = self.exp.labels.len();
        let mut known = None;
        if let Some(lookup) = self.known.as_mut() {
            let end = match rest.strip_prefix('{') {
                Some(r) => label_block_end(r).map(|e| name_end + 1 + e),
                None => Some(name_end),
            };
            known = end.and_then(|e| lookup(&l[..e]).map(|id| (id, e)));
        }
        // A known series text begins with a name validated when it was new.
        if known.is_none() && !is_metric_name(name) {
            return Err(format!("invalid metric name {:?}", truncate(name)));
        }
        if let Some((_, end)) = known {
            rest = &l[end..];
        } else if rest.starts_with('{') {
            rest = self.labels(&rest[1..])?;
        }
        let labels = start..self.exp.labels.len();
        let series = &l[..l.len() - rest.len()];
        if !rest.starts_with([' ', '\t']) {
            return Err(format!("expected a value after {name}"));
        }
        let (v, r) = token(rest);
        let value = parse_value(v).ok_or_else(|| format!("invalid value {:?}", truncate(v)))?;
        rest = r;
        let mut timestamp_ms = None;
        let (t, r) = token(rest);
        if !t.is_empty() && t != "#" {
            timestamp_ms = Some(parse_timestamp(t, om)?);
            rest = r;
        }
        let mut exemplar = None;
        let rest_t = skip_blanks(rest);
        if let Some(ex) = rest_t.strip_prefix('#') {
            if !om {
                return Err("exemplars need the OpenMetrics format".into());
            }
            exemplar = Some(self.exemplar(ex)?);
        } else if !rest_t.is_empty() {
            return Err(format!("unexpected {:?} after the value", truncate(rest_t)));
        }
        if !self.belongs(name) {
            // A sample without metadata: its own untyped/unknown family.
            self.new_family(name, MetricType::Unknown);
        } else if let Some(f) = self.cur {
            let fam = &mut self.exp.families[f];
            if fam.kind == MetricType::Counter
                && name.len() > fam.name.len()
                && name.ends_with("_total")
            {
                fam.total = true;
            }
        }
        self.exp.samples.push(Sample {
            name,
            series,
            labels,
            value,
            timestamp_ms,
            exemplar,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            known: known.map(|(id, _)| id),
        });
        Ok(())
    }

    fn exemplar(&mut self, ex: &'a str) -> Result<Exemplar, String> {
        let ex = skip_blanks(ex);
        let Some(ex) = ex.strip_prefix('{') else {
            return Err("exemplar must start with {".into());
        };
        let start = self.exp.labels.len();
        let rest = self.labels(ex)?;
        let labels = start..self.exp.labels.len();
        let runes: usize = self.exp.labels[labels.clone()]
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if runes > 128 {
            return Err("exemplar labels longer than 128 characters".into());
        }
        let (v, rest) = token(rest);
        let value = parse_value(v).ok_or_else(|| format!("invalid exemplar value {v:?}"))?;
        let (t, rest) = token(rest);
        let timestamp_ms = if t.is_empty() {
            None
        } else {
            Some(parse_timestamp(t, true)?)
        };
        if !trim_blanks(rest).is_empty() {
            return Err("unexpected text after the exemplar".into());
        }
        Ok(Exemplar {
            labels,
            value,
            timestamp_ms,
        })
    }

    /// Parses `name="value",...}` (after the `{`); returns what follows the `}`.
    fn labels(&mut self, mut s: &'a str) -> Result<&'a str, String> {
        let start = self.exp.labels.len();
        loop {
            s = skip_blanks(s);
            if let Some(r) = s.strip_prefix('}') {
                return Ok(r);
            }
            let eq = s
                .find('=')
                .ok_or_else(|| "unterminated label set (truncated line?)".to_string())?;
            let name = trim_blanks_end(&s[..eq]);
            if !super::relabel::is_label_name(name) {
                return Err(format!("invalid label name {:?}", truncate(name)));
            }
            let r = skip_blanks(&s[eq + 1..]);
            let Some(r) = r.strip_prefix('"') else {
                return Err(format!("label {name}: value must be quoted"));
            };
            let (value, after) = quoted(r).map_err(|e| format!("label {name}: {e}"))?;
            if self.exp.labels[start..].iter().any(|l| l.name == name) {
                return Err(format!("duplicate label {name}"));
            }
            self.exp.labels.push(Label { name, value });
            s = skip_blanks(after);
            if let Some(r) = s.strip_prefix(',') {
                s = r;
            } else if !s.starts_with('}') {
                return Err("expected , or } in label set".into());
            }
        }
    }
}

/// The byte offset just past the `}` closing a label set (`s` starts after its `{`), quoted
/// values skipped; `None` if unterminated. Only finds the end: what it spans is either known
/// to be valid or parsed after.
fn label_block_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quoted = false;
    while i < b.len() {
        match (b[i], quoted) {
            (b'\\', true) => i += 1,
            (b'"', q) => quoted = !q,
            (b'}', false) => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The labels of a series text (`name{labels}`) that parsed before, for a converter that
/// skipped them ([`parse_with`]'s known series).
pub fn series_labels(series: &str) -> Result<Vec<Label<'_>>, String> {
    let Some(i) = series.find('{') else {
        return Ok(Vec::new());
    };
    let mut p = Parser {
        format: Format::Text,
        exp: Exposition::default(),
        cur: None,
        known: None,
    };
    p.labels(&series[i + 1..])?;
    Ok(p.exp.labels)
}

/// A quoted value's content (after the opening quote) and what follows its closing quote.
fn quoted(s: &str) -> Result<(Cow<'_, str>, &str), String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut escaped = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                escaped = true;
                i += 2;
            }
            b'"' => {
                let raw = &s[..i];
                let v = if escaped {
                    Cow::Owned(unescape(raw, true)?.into_owned())
                } else {
                    Cow::Borrowed(raw)
                };
                return Ok((v, &s[i + 1..]));
            }
            _ => i += 1,
        }
    }
    Err("unterminated quoted value (truncated line?)".into())
}

/// `\\`, `\n` and (label values, OpenMetrics HELP) `\"`.
fn unescape(s: &str, quote: bool) -> Result<Cow<'_, str>, String> {
    if !s.contains('\\') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            // The text format's HELP keeps unknown escapes as written (Go's expfmt does).
            Some(c) if !quote => {
                out.push('\\');
                out.push(c);
            }
            Some(c) => return Err(format!("invalid escape sequence \\{c}")),
            None if !quote => out.push('\\'),
            None => return Err("trailing backslash".into()),
        }
    }
    Ok(Cow::Owned(out))
}

fn parse_value(v: &str) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    // Rust accepts "inf"/"infinity"/"nan" in any case, as Go's ParseFloat does.
    v.parse::<f64>().ok()
}

fn parse_timestamp(t: &str, om: bool) -> Result<i64, String> {
    if om {
        let secs: f64 = t
            .parse()
            .map_err(|_| format!("invalid timestamp {:?}", truncate(t)))?;
        let ms = (secs * 1000.0).round();
        if !ms.is_finite() || ms.abs() > 9.0e15 {
            return Err(format!("timestamp {t:?} out of range"));
        }
        Ok(ms as i64)
    } else {
        t.parse::<i64>()
            .map_err(|_| format!("invalid timestamp {:?} (milliseconds)", truncate(t)))
    }
}

/// Keeps error messages short whatever a target sends.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Writes an exposition back as text (used by tests and benchmarks to build bodies).
pub fn render(exp: &Exposition<'_>, format: Format) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let om = format == Format::OpenMetrics;
    for f in &exp.families {
        if let Some(h) = &f.help {
            let h = h.replace('\\', "\\\\").replace('\n', "\\n");
            let h = if om { h.replace('"', "\\\"") } else { h };
            let _ = writeln!(out, "# HELP {} {h}", f.name);
        }
        let kind = match (f.kind, format) {
            (MetricType::Unknown, Format::Text) => "untyped",
            (k, _) => k.as_str(),
        };
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        if om && let Some(u) = f.unit {
            let _ = writeln!(out, "# UNIT {} {u}", f.name);
        }
        for s in &exp.samples[f.samples.clone()] {
            out.push_str(s.name);
            write_labels(&mut out, exp.labels_of(&s.labels));
            let _ = write!(out, " {}", fmt_value(s.value));
            if let Some(t) = s.timestamp_ms {
                if om {
                    let _ = write!(out, " {}", t as f64 / 1000.0);
                } else {
                    let _ = write!(out, " {t}");
                }
            }
            if let Some(e) = &s.exemplar {
                out.push_str(" # ");
                if e.labels.is_empty() {
                    out.push_str("{}");
                } else {
                    write_labels(&mut out, exp.labels_of(&e.labels));
                }
                let _ = write!(out, " {}", fmt_value(e.value));
                if let Some(t) = e.timestamp_ms {
                    let _ = write!(out, " {}", t as f64 / 1000.0);
                }
            }
            out.push('\n');
        }
    }
    if om {
        out.push_str("# EOF\n");
    }
    out
}

fn write_labels(out: &mut String, labels: &[Label<'_>]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(l.name);
        out.push_str("=\"");
        for c in l.value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:?}")
    }
}
