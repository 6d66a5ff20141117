//! Time parsing as stanza's `timestamp:` blocks and `time_parser` do it: `strptime` layouts
//! (converted to Go layouts with ctimefmt's table, as the Go Collector does), `gotime` layouts
//! (Go's `time.Parse` reference-time chunks), and `epoch` (`s`, `ms`, `us`, `ns`, `s.ms`,
//! `s.us`, `s.ns`). A layout is compiled once into chunks; parsing allocates nothing.

use serde::Deserialize;

use crate::field::Field;
use crate::{Entry, Value};

/// The `timestamp:` block / `time_parser` keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    pub parse_from: Option<Field>,
    #[serde(default)]
    pub layout: String,
    pub layout_type: Option<String>,
    #[serde(default)]
    pub location: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    Lit(usize, usize),
    MonthLong,
    Month,
    NumMonth,
    ZeroMonth,
    WeekdayLong,
    Weekday,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TzAbbrev,
    /// Numeric offset: `Z` accepted when the first flag is set; colons; seconds; hours only.
    Offset {
        iso: bool,
        colon: bool,
        secs: bool,
        hours_only: bool,
    },
    /// Fractional seconds after `.`/`,`: fixed digit count (`.000`) or any (`.999`).
    Frac {
        digits: usize,
        fixed: bool,
    },
}

#[derive(Debug, Clone)]
enum Kind {
    Go { layout: String, chunks: Vec<Chunk> },
    Epoch(EpochLayout),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum EpochLayout {
    S,
    Ms,
    Us,
    Ns,
    SMs,
    SUs,
    SNs,
}

/// A built time parser.
#[derive(Debug, Clone)]
pub struct TimeParser {
    pub parse_from: Field,
    kind: Kind,
    /// `None` is UTC.
    location: Option<jiff::tz::TimeZone>,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's layout chunks, longest first where prefixes overlap.
const GO_CHUNKS: &[(&str, Chunk)] = &[
    ("January", Chunk::MonthLong),
    ("Jan", Chunk::Month),
    ("Monday", Chunk::WeekdayLong),
    ("Mon", Chunk::Weekday),
    ("MST", Chunk::TzAbbrev),
    ("002", Chunk::ZeroYearDay),
    ("01", Chunk::ZeroMonth),
    ("02", Chunk::ZeroDay),
    ("03", Chunk::ZeroHour12),
    ("04", Chunk::ZeroMinute),
    ("05", Chunk::ZeroSecond),
    ("06", Chunk::Year),
    ("2006", Chunk::LongYear),
    ("15", Chunk::Hour),
    ("1", Chunk::NumMonth),
    ("2", Chunk::Day),
    ("3", Chunk::Hour12),
    ("4", Chunk::Minute),
    ("5", Chunk::Second),
    ("__2", Chunk::UnderYearDay),
    ("_2", Chunk::UnderDay),
    ("PM", Chunk::PM),
    ("pm", Chunk::Pm),
    (
        "-07:00:00",
        Chunk::Offset {
            iso: false,
            colon: true,
            secs: true,
            hours_only: false,
        },
    ),
    (
        "-070000",
        Chunk::Offset {
            iso: false,
            colon: false,
            secs: true,
            hours_only: false,
        },
    ),
    (
        "-07:00",
        Chunk::Offset {
            iso: false,
            colon: true,
            secs: false,
            hours_only: false,
        },
    ),
    (
        "-0700",
        Chunk::Offset {
            iso: false,
            colon: false,
            secs: false,
            hours_only: false,
        },
    ),
    (
        "-07",
        Chunk::Offset {
            iso: false,
            colon: false,
            secs: false,
            hours_only: true,
        },
    ),
    (
        "Z07:00:00",
        Chunk::Offset {
            iso: true,
            colon: true,
            secs: true,
            hours_only: false,
        },
    ),
    (
        "Z070000",
        Chunk::Offset {
            iso: true,
            colon: false,
            secs: true,
            hours_only: false,
        },
    ),
    (
        "Z07:00",
        Chunk::Offset {
            iso: true,
            colon: true,
            secs: false,
            hours_only: false,
        },
    ),
    (
        "Z0700",
        Chunk::Offset {
            iso: true,
            colon: false,
            secs: false,
            hours_only: false,
        },
    ),
    (
        "Z07",
        Chunk::Offset {
            iso: true,
            colon: false,
            secs: false,
            hours_only: true,
        },
    ),
];

fn compile_go(layout: &str) -> Vec<Chunk> {
    let b = layout.as_bytes();
    let mut chunks = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    let push_lit = |chunks: &mut Vec<Chunk>, s: usize, e: usize| {
        if e > s {
            chunks.push(Chunk::Lit(s, e));
        }
    };
    while i < b.len() {
        // Fractional seconds: `.000`/`.999` (or with ','), only when not followed by a digit.
        if (b[i] == b'.' || b[i] == b',')
            && i + 1 < b.len()
            && (b[i + 1] == b'0' || b[i + 1] == b'9')
        {
            let d = b[i + 1];
            let mut j = i + 1;
            while j < b.len() && b[j] == d {
                j += 1;
            }
            if j >= b.len() || !b[j].is_ascii_digit() {
                push_lit(&mut chunks, lit_start, i);
                chunks.push(Chunk::Frac {
                    digits: j - i - 1,
                    fixed: d == b'0',
                });
                i = j;
                lit_start = i;
                continue;
            }
        }
        let rest = &layout[i..];
        let found = GO_CHUNKS.iter().find(|(p, c)| {
            rest.starts_with(p)
                // `Jan`/`Mon` only when not followed by a lower-case letter (`Monday` is handled
                // first; `Month` is literal text in Go).
                && !(matches!(c, Chunk::Month | Chunk::Weekday)
                    && rest[p.len()..].starts_with(|c: char| c.is_ascii_lowercase()))
        });
        if let Some((p, c)) = found {
            push_lit(&mut chunks, lit_start, i);
            chunks.push(*c);
            i += p.len();
            lit_start = i;
        } else {
            i += rest.chars().next().map(char::len_utf8).unwrap_or(1);
        }
    }
    push_lit(&mut chunks, lit_start, b.len());
    chunks
}

/// ctimefmt's strptime → Go layout table (the Go Collector converts strptime layouts so).
fn strptime_to_go(layout: &str) -> Result<String, String> {
    let mut out = String::with_capacity(layout.len() + 8);
    let mut chars = layout.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let d = chars.next().ok_or("layout ends with '%'")?;
        out.push_str(match d {
            'Y' => "2006",
            'y' => "06",
            'm' => "01",
            'o' => "_1",
            'q' => "1",
            'b' | 'h' => "Jan",
            'B' => "January",
            'd' => "02",
            'e' => "_2",
            'g' => "2",
            'a' => "Mon",
            'A' => "Monday",
            'H' => "15",
            'l' => "3",
            'I' => "03",
            'p' => "PM",
            'M' => "04",
            'S' => "05",
            'L' => "999",
            'f' => "999999",
            's' => "99999999",
            'Z' => "MST",
            'z' => "Z0700",
            'w' => "-070000",
            'i' => "-07",
            'j' => "-07:00",
            'k' => "-07:00:00",
            'D' | 'x' => "01/02/2006",
            'F' => "2006-01-02",
            'T' | 'X' => "15:04:05",
            'r' => "03:04:05 pm",
            'R' => "15:04",
            'n' => "\n",
            't' => "\t",
            '%' => "%",
            'c' => "Mon Jan 02 15:04:05 2006",
            o => return Err(format!("unsupported strptime directive %{o}")),
        });
    }
    Ok(out)
}

/// Loads a location as Go's `time.LoadLocation` (`Local` is the host's zone).
pub(crate) fn load_location(name: &str) -> Result<Option<jiff::tz::TimeZone>, String> {
    match name {
        "" | "UTC" => Ok(None),
        "Local" => Ok(Some(local_zone())),
        n => jiff::tz::TimeZone::get(n)
            .map(Some)
            .map_err(|_| format!("failed to load location {n}")),
    }
}

pub(crate) fn local_zone() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC)
}

impl TimeParser {
    /// Builds from a config; `default_from` is used when `parse_from` is absent (standalone
    /// `time_parser` reads the body; embedded blocks require it).
    pub fn build(
        c: &TimeConfig,
        default_from: Option<&Field>,
    ) -> Result<TimeParser, (String, String)> {
        let parse_from = match (&c.parse_from, default_from) {
            (Some(f), _) => f.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => {
                return Err((
                    "parse_from".into(),
                    "missing required parameter 'parse_from'".into(),
                ));
            }
        };
        let layout_type = c.layout_type.as_deref().unwrap_or("strptime");
        if c.layout.is_empty() {
            return Err((
                "layout".into(),
                "missing required configuration parameter `layout`".into(),
            ));
        }
        let go_layout = match layout_type {
            "strptime" => strptime_to_go(&c.layout)
                .map_err(|m| ("layout".to_string(), format!("parse strptime layout: {m}")))?,
            "gotime" => c.layout.clone(),
            "epoch" => {
                let l = match c.layout.as_str() {
                    "s" => EpochLayout::S,
                    "ms" => EpochLayout::Ms,
                    "us" => EpochLayout::Us,
                    "ns" => EpochLayout::Ns,
                    "s.ms" => EpochLayout::SMs,
                    "s.us" => EpochLayout::SUs,
                    "s.ns" => EpochLayout::SNs,
                    _ => {
                        return Err((
                            "layout".into(),
                            "invalid `layout` for `epoch` type: specify 's', 'ms', 'us', 'ns', 's.ms', 's.us', or 's.ns'".into(),
                        ));
                    }
                };
                return Ok(TimeParser {
                    parse_from,
                    kind: Kind::Epoch(l),
                    location: None,
                });
            }
            other => {
                return Err((
                    "layout_type".into(),
                    format!(
                        "unsupported layout_type {other}: valid values are 'strptime', 'gotime', and 'epoch'"
                    ),
                ));
            }
        };
        let location = if !c.location.is_empty() {
            load_location(&c.location)
                .map_err(|m| ("location".to_string(), format!("invalid 'location': {m}")))?
        } else if go_layout.ends_with('Z') {
            None
        } else {
            Some(local_zone())
        };
        let chunks = compile_go(&go_layout);
        Ok(TimeParser {
            parse_from,
            kind: Kind::Go {
                layout: go_layout,
                chunks,
            },
            location,
        })
    }

    /// Parses the `parse_from` value onto the entry's timestamp.
    pub fn parse(&self, e: &mut Entry) -> Result<(), String> {
        let Some(v) = self.parse_from.get_ref(e) else {
            return Err(format!(
                "log entry does not have the expected parse_from field {}",
                self.parse_from
            ));
        };
        let ns = self.parse_value(v)?;
        e.time_unix_nano = u64::try_from(ns).unwrap_or(0);
        Ok(())
    }

    pub fn parse_value(&self, v: &Value) -> Result<i64, String> {
        match &self.kind {
            Kind::Epoch(l) => parse_epoch(*l, v),
            Kind::Go { layout, chunks } => {
                let s = match v {
                    Value::Str(s) => s.as_str(),
                    Value::Bytes(b) => std::str::from_utf8(b).map_err(|e| e.to_string())?,
                    o => {
                        return Err(format!(
                            "type {} cannot be parsed as a time",
                            crate::value_type(o)
                        ));
                    }
                };
                parse_go(layout, chunks, s, self.location.as_ref())
            }
        }
    }
}

fn parse_epoch(l: EpochLayout, v: &Value) -> Result<i64, String> {
    use EpochLayout::*;
    let stamp = match v {
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => match l {
            S | Ms | Us | Ns => i.to_string(),
            _ => format!("{i}.0"),
        },
        Value::Double(d) => match l {
            S | Ms | Us | Ns => (*d as i64).to_string(),
            SMs => format!("{d:.3}"),
            SUs => format!("{d:.6}"),
            SNs => format!("{d:.9}"),
        },
        o => {
            return Err(format!(
                "type {} cannot be parsed as a time",
                crate::value_type(o)
            ));
        }
    };
    let name = match l {
        S => "s",
        Ms => "ms",
        Us => "us",
        Ns => "ns",
        SMs => "s.ms",
        SUs => "s.us",
        SNs => "s.ns",
    };
    let invalid = || format!("invalid value '{stamp}' for layout '{name}'");
    let t = stamp.trim();
    match l {
        S | Ms | Us | Ns => {
            let i: i64 = t.parse().map_err(|_| invalid())?;
            Ok(match l {
                S => i.saturating_mul(1_000_000_000),
                Ms => i.saturating_mul(1_000_000),
                Us => i.saturating_mul(1_000),
                _ => i,
            })
        }
        _ => {
            let (sec, sub) = t.split_once('.').ok_or_else(invalid)?;
            if sub.contains('.') {
                return Err(invalid());
            }
            let sec: i64 = sec.parse().map_err(|_| invalid())?;
            let sub: i64 = sub.parse().map_err(|_| invalid())?;
            // As Go: the digits after the point are a count of the layout's unit, not a fraction.
            let unit = match l {
                SMs => 1_000_000,
                SUs => 1_000,
                _ => 1,
            };
            Ok(sec
                .saturating_mul(1_000_000_000)
                .saturating_add(sub.saturating_mul(unit)))
        }
    }
}

fn digits(b: &[u8], pos: &mut usize, min: usize, max: usize) -> Option<i64> {
    let start = *pos;
    let mut v = 0i64;
    while *pos < b.len() && *pos - start < max && b[*pos].is_ascii_digit() {
        v = v * 10 + (b[*pos] - b'0') as i64;
        *pos += 1;
    }
    (*pos - start >= min).then_some(v)
}

fn name_index(b: &[u8], pos: &mut usize, names: &[&str], short: bool) -> Option<usize> {
    for (i, n) in names.iter().enumerate() {
        let n = if short { &n[..3] } else { n };
        if b.len() >= *pos + n.len() && b[*pos..*pos + n.len()].eq_ignore_ascii_case(n.as_bytes()) {
            *pos += n.len();
            return Some(i);
        }
    }
    None
}

/// Days from 1970-01-01 to a civil date.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn parse_go(
    layout: &str,
    chunks: &[Chunk],
    s: &str,
    loc: Option<&jiff::tz::TimeZone>,
) -> Result<i64, String> {
    let fail = |what: &str| format!("parsing time {s:?} as {layout:?}: {what}");
    let b = s.as_bytes();
    let mut pos = 0usize;
    let (mut year, mut month, mut day, mut yday) = (0i64, 1i64, 1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i64> = None;
    let mut abbrev: Option<&str> = None;
    for (ci, c) in chunks.iter().enumerate() {
        let num = |pos: &mut usize, min_d: usize, max_d: usize, what: &str| {
            digits(b, pos, min_d, max_d).ok_or_else(|| fail(&format!("cannot parse {what}")))
        };
        match *c {
            Chunk::Lit(a, z) => {
                let lit = &layout.as_bytes()[a..z];
                if !b[pos..].starts_with(lit) {
                    return Err(fail(&format!(
                        "cannot parse {:?} as {:?}",
                        &s[pos..],
                        &layout[a..z]
                    )));
                }
                pos += lit.len();
            }
            Chunk::LongYear => year = num(&mut pos, 4, 4, "year")?,
            Chunk::Year => {
                let y = num(&mut pos, 2, 2, "year")?;
                year = if y >= 69 { 1900 + y } else { 2000 + y };
            }
            Chunk::MonthLong => {
                month = name_index(b, &mut pos, &MONTHS, false)
                    .ok_or_else(|| fail("cannot parse month"))? as i64
                    + 1
            }
            Chunk::Month => {
                month = name_index(b, &mut pos, &MONTHS, true)
                    .ok_or_else(|| fail("cannot parse month"))? as i64
                    + 1
            }
            Chunk::NumMonth => month = num(&mut pos, 1, 2, "month")?,
            Chunk::ZeroMonth => month = num(&mut pos, 2, 2, "month")?,
            Chunk::WeekdayLong => {
                name_index(b, &mut pos, &DAYS, false)
                    .ok_or_else(|| fail("cannot parse weekday"))?;
            }
            Chunk::Weekday => {
                name_index(b, &mut pos, &DAYS, true).ok_or_else(|| fail("cannot parse weekday"))?;
            }
            Chunk::Day => day = num(&mut pos, 1, 2, "day")?,
            Chunk::UnderDay => {
                if b.get(pos) == Some(&b' ') {
                    pos += 1;
                }
                day = num(&mut pos, 1, 2, "day")?;
            }
            Chunk::ZeroDay => day = num(&mut pos, 2, 2, "day")?,
            Chunk::UnderYearDay => {
                while b.get(pos) == Some(&b' ') {
                    pos += 1;
                }
                yday = num(&mut pos, 1, 3, "day of year")?;
            }
            Chunk::ZeroYearDay => yday = num(&mut pos, 3, 3, "day of year")?,
            Chunk::Hour => hour = num(&mut pos, 1, 2, "hour")?,
            Chunk::Hour12 => hour = num(&mut pos, 1, 2, "hour")?,
            Chunk::ZeroHour12 => hour = num(&mut pos, 2, 2, "hour")?,
            Chunk::Minute => min = num(&mut pos, 1, 2, "minute")?,
            Chunk::ZeroMinute => min = num(&mut pos, 2, 2, "minute")?,
            Chunk::Second | Chunk::ZeroSecond => {
                sec = if *c == Chunk::Second {
                    num(&mut pos, 1, 2, "second")?
                } else {
                    num(&mut pos, 2, 2, "second")?
                };
                // Go reads a fraction the layout does not mention.
                let next_is_frac = matches!(chunks.get(ci + 1), Some(Chunk::Frac { .. }));
                if !next_is_frac
                    && pos + 1 < b.len()
                    && (b[pos] == b'.' || b[pos] == b',')
                    && b[pos + 1].is_ascii_digit()
                {
                    pos += 1;
                    nanos = frac(b, &mut pos, usize::MAX);
                }
            }
            Chunk::Frac { digits: n, fixed } => {
                if fixed {
                    if pos + 1 + n > b.len()
                        || !(b[pos] == b'.' || b[pos] == b',')
                        || !b[pos + 1..pos + 1 + n].iter().all(u8::is_ascii_digit)
                    {
                        return Err(fail("cannot parse fractional second"));
                    }
                    pos += 1;
                    nanos = frac(b, &mut pos, n);
                } else if pos + 1 < b.len()
                    && (b[pos] == b'.' || b[pos] == b',')
                    && b[pos + 1].is_ascii_digit()
                {
                    pos += 1;
                    nanos = frac(b, &mut pos, usize::MAX);
                }
            }
            Chunk::PM | Chunk::Pm => {
                let t = b
                    .get(pos..pos + 2)
                    .ok_or_else(|| fail("cannot parse AM/PM"))?;
                pm = Some(match (t, *c) {
                    (b"PM", Chunk::PM) | (b"pm", Chunk::Pm) => true,
                    (b"AM", Chunk::PM) | (b"am", Chunk::Pm) => false,
                    _ => return Err(fail("cannot parse AM/PM")),
                });
                pos += 2;
            }
            Chunk::TzAbbrev => {
                let start = pos;
                if b[pos..].starts_with(b"UTC") {
                    pos += 3;
                } else if b[pos..].starts_with(b"GMT") {
                    pos += 3;
                    if pos < b.len() && (b[pos] == b'+' || b[pos] == b'-') {
                        let neg = b[pos] == b'-';
                        pos += 1;
                        let h = num(&mut pos, 1, 2, "time zone")?;
                        offset = Some(if neg { -h * 3600 } else { h * 3600 });
                    }
                } else {
                    while pos < b.len() && b[pos].is_ascii_uppercase() && pos - start < 5 {
                        pos += 1;
                    }
                    if pos - start < 3 {
                        return Err(fail("cannot parse time zone abbreviation"));
                    }
                }
                if offset.is_none() {
                    abbrev = Some(&s[start..pos]);
                }
            }
            Chunk::Offset {
                iso,
                colon,
                secs,
                hours_only,
            } => {
                if iso && b.get(pos) == Some(&b'Z') {
                    pos += 1;
                    offset = Some(0);
                    continue;
                }
                let sign = match b.get(pos) {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(fail("cannot parse time zone offset")),
                };
                pos += 1;
                let h = num(&mut pos, 2, 2, "time zone offset")?;
                let mut total = h * 3600;
                if !hours_only {
                    if colon {
                        if b.get(pos) != Some(&b':') {
                            return Err(fail("cannot parse time zone offset"));
                        }
                        pos += 1;
                    }
                    total += num(&mut pos, 2, 2, "time zone offset")? * 60;
                    if secs {
                        if colon {
                            if b.get(pos) != Some(&b':') {
                                return Err(fail("cannot parse time zone offset"));
                            }
                            pos += 1;
                        }
                        total += num(&mut pos, 2, 2, "time zone offset")?;
                    }
                }
                offset = Some(sign * total);
            }
        }
    }
    if pos != b.len() {
        return Err(fail(&format!("extra text: {:?}", &s[pos..])));
    }
    if let Some(is_pm) = pm {
        if hour > 12 {
            return Err(fail("hour out of range"));
        }
        if is_pm && hour < 12 {
            hour += 12;
        } else if !is_pm && hour == 12 {
            hour = 0;
        }
    }
    if hour > 23 || min > 59 || sec > 59 || !(1..=12).contains(&month) {
        return Err(fail("value out of range"));
    }
    let yearless = year == 0;
    if yday >= 0 {
        let y = if yearless { 2000 } else { year };
        let leap = days_in_month(y, 2) == 29;
        if yday < 1 || yday > if leap { 366 } else { 365 } {
            return Err(fail("day-of-year out of range"));
        }
        let mut d = yday;
        month = 1;
        while d > days_in_month(y, month) {
            d -= days_in_month(y, month);
            month += 1;
        }
        day = d;
    }
    if day < 1 || day > days_in_month(if yearless { 2000 } else { year }, month) {
        return Err(fail("day out of range"));
    }
    // Zone: an explicit offset; else a named zone; else the location.
    let zone: Option<jiff::tz::TimeZone> = match (offset, abbrev) {
        (Some(_), _) => None,
        (None, Some("UTC" | "GMT" | "Z")) => {
            offset = Some(0);
            None
        }
        (None, Some(a)) => {
            let loc_abbrev_matches = loc.is_some_and(|tz| {
                let guess = jiff::Timestamp::from_second(
                    days_from_civil(year.max(1970), month, day) * 86400
                        + hour * 3600
                        + min * 60
                        + sec,
                )
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                tz.to_offset_info(guess).abbreviation() == a
            });
            if loc_abbrev_matches {
                loc.cloned()
            } else {
                Some(
                    jiff::tz::TimeZone::get(a)
                        .map_err(|_| fail(&format!("failed to load location {a}")))?,
                )
            }
        }
        (None, None) => loc.cloned(),
    };
    if yearless {
        year = current_year(zone.as_ref().or(loc));
    }
    let secs_of_day = hour * 3600 + min * 60 + sec;
    let mut unix = match (offset, &zone) {
        (Some(off), _) => days_from_civil(year, month, day) * 86400 + secs_of_day - off,
        (None, None) => days_from_civil(year, month, day) * 86400 + secs_of_day,
        (None, Some(tz)) => {
            to_unix_in(tz, year, month, day, hour, min, sec).map_err(|m| fail(&m))?
        }
    };
    if yearless {
        // As Go's setTimestampYear: more than 7 days ahead means last year.
        let now = jiff::Timestamp::now().as_second();
        if unix > now + 7 * 86400 {
            year -= 1;
            unix = match (offset, &zone) {
                (Some(off), _) => days_from_civil(year, month, day) * 86400 + secs_of_day - off,
                (None, None) => days_from_civil(year, month, day) * 86400 + secs_of_day,
                (None, Some(tz)) => {
                    to_unix_in(tz, year, month, day, hour, min, sec).map_err(|m| fail(&m))?
                }
            };
        }
    }
    Ok(unix.saturating_mul(1_000_000_000).saturating_add(nanos))
}

fn frac(b: &[u8], pos: &mut usize, max: usize) -> i64 {
    let mut v = 0i64;
    let mut n = 0;
    while *pos < b.len() && b[*pos].is_ascii_digit() && n < max {
        if n < 9 {
            v = v * 10 + (b[*pos] - b'0') as i64;
        }
        n += 1;
        *pos += 1;
    }
    for _ in n..9 {
        v *= 10;
    }
    v
}

fn to_unix_in(
    tz: &jiff::tz::TimeZone,
    y: i64,
    mo: i64,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
) -> Result<i64, String> {
    let dt = jiff::civil::DateTime::new(y as i16, mo as i8, d as i8, h as i8, mi as i8, s as i8, 0)
        .map_err(|e| e.to_string())?;
    let ts = tz
        .to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|e| e.to_string())?;
    Ok(ts.as_second())
}

pub(crate) fn current_year(tz: Option<&jiff::tz::TimeZone>) -> i64 {
    let now = jiff::Timestamp::now();
    match tz {
        Some(tz) => tz.to_datetime(now).year() as i64,
        None => jiff::tz::TimeZone::UTC.to_datetime(now).year() as i64,
    }
}
