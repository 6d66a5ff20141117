//! syslog_parser: RFC 3164 (BSD; the year is the current one in `location`) and RFC 5424,
//! octet counting, optional PRI; attributes as the Go parser (go-syslog) names them, the
//! timestamp onto the entry, severity from the PRI.

use serde::Deserialize;

use super::{Ctx, Failure, Operator, Out, ParserCore};
use crate::{BuildError, Entry, Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyslogConfig {
    protocol: Option<String>,
    location: Option<String>,
    #[serde(default)]
    enable_octet_counting: bool,
    #[serde(default)]
    allow_skip_pri_header: bool,
    non_transparent_framing_trailer: Option<String>,
    max_octets: Option<usize>,
}

#[derive(Debug)]
struct Syslog {
    core: ParserCore,
    rfc5424: bool,
    location: Option<jiff::tz::TimeZone>,
    octet_counting: bool,
    skip_pri: bool,
    trailer: Option<u8>,
    max_octets: usize,
}

const SEVERITY: [(i32, &str); 8] = [
    (22, "emerg"),
    (21, "alert"),
    (18, "crit"),
    (17, "err"),
    (13, "warning"),
    (10, "notice"),
    (9, "info"),
    (5, "debug"),
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

struct Cursor<'s> {
    s: &'s str,
    pos: usize,
}

impl<'s> Cursor<'s> {
    fn rest(&self) -> &'s str {
        &self.s[self.pos..]
    }
    /// The text up to the next space (consumed with it).
    fn word(&mut self) -> Result<&'s str, String> {
        let r = self.rest();
        let end = r.find(' ').unwrap_or(r.len());
        if end == 0 {
            return Err(format!("expected a field at offset {}", self.pos));
        }
        self.pos += end;
        if self.rest().starts_with(' ') {
            self.pos += 1;
        }
        Ok(&r[..end])
    }
}

impl Syslog {
    fn pri(&self, c: &mut Cursor, m: &mut Map) -> Result<Option<i64>, String> {
        if !c.rest().starts_with('<') {
            if self.skip_pri {
                return Ok(None);
            }
            return Err("expecting a priority value within angle brackets".into());
        }
        let r = c.rest();
        let close = r.find('>').ok_or("expecting a priority value terminator")?;
        let p: i64 = r[1..close]
            .parse()
            .ok()
            .filter(|p| (0..=191).contains(p) && close <= 4)
            .ok_or("expecting a priority value in the range 1-191 or equal to 0")?;
        c.pos += close + 1;
        m.insert("priority".into(), Value::Int(p));
        // The severity goes onto the entry, not into the attributes (as Go).
        m.insert("facility".into(), Value::Int(p / 8));
        Ok(Some(p))
    }

    fn parse_5424(&self, s: &str) -> Result<(Map, Option<i64>, Option<i64>), String> {
        let mut m = Map::new();
        let mut c = Cursor { s, pos: 0 };
        let pri = self.pri(&mut c, &mut m)?;
        let version = c.word()?;
        let v: i64 = version
            .parse()
            .ok()
            .filter(|v| (1..=999).contains(v))
            .ok_or("expecting a version value in the range 1-999")?;
        m.insert("version".into(), Value::Int(v));
        let ts = c.word()?;
        let time = if ts == "-" {
            None
        } else {
            Some(
                rfc3339(ts)
                    .ok_or_else(|| format!("expecting an RFC 3339 timestamp, got {ts:?}"))?,
            )
        };
        for key in ["hostname", "appname", "proc_id", "msg_id"] {
            let w = c.word()?;
            if w != "-" {
                m.insert(key.into(), Value::Str(w.to_string()));
            }
        }
        // Structured data.
        if c.rest().starts_with('-') {
            c.pos += 1;
        } else if c.rest().starts_with('[') {
            let mut sd = Map::new();
            while c.rest().starts_with('[') {
                c.pos += 1;
                let r = c.rest();
                let id_end = r.find([' ', ']']).ok_or("unterminated structured data")?;
                let id = r[..id_end].to_string();
                c.pos += id_end;
                let mut params = Map::new();
                loop {
                    let r = c.rest();
                    if let Some(rest) = r.strip_prefix(']') {
                        let _ = rest;
                        c.pos += 1;
                        break;
                    }
                    let r = r
                        .strip_prefix(' ')
                        .ok_or("expecting a structured data parameter")?;
                    c.pos += 1;
                    let eq = r
                        .find('=')
                        .ok_or("expecting '=' in a structured data parameter")?;
                    let name = r[..eq].to_string();
                    let r2 = r[eq + 1..]
                        .strip_prefix('"')
                        .ok_or("expecting a quoted parameter value")?;
                    let mut val = String::new();
                    let mut consumed = None;
                    let mut it = r2.char_indices();
                    while let Some((i, ch)) = it.next() {
                        match ch {
                            '\\' => match it.next() {
                                Some((_, e @ ('"' | '\\' | ']'))) => val.push(e),
                                Some((_, e)) => {
                                    val.push('\\');
                                    val.push(e);
                                }
                                None => break,
                            },
                            '"' => {
                                consumed = Some(i + 1);
                                break;
                            }
                            ch => val.push(ch),
                        }
                    }
                    let n = consumed.ok_or("unterminated parameter value")?;
                    c.pos += eq + 2 + n;
                    params.insert(name.into(), Value::Str(val));
                }
                sd.insert(id.into(), Value::Map(params));
            }
            m.insert("structured_data".into(), Value::Map(sd));
        } else {
            return Err("expecting a structured data section or '-'".into());
        }
        if let Some(msg) = c.rest().strip_prefix(' ') {
            let msg = msg.strip_prefix('\u{FEFF}').unwrap_or(msg);
            if !msg.is_empty() {
                m.insert("message".into(), Value::Str(msg.to_string()));
            }
        } else if !c.rest().is_empty() {
            return Err("expecting a space before the message".into());
        }
        Ok((m, time, pri))
    }

    fn parse_3164(&self, s: &str) -> Result<(Map, Option<i64>, Option<i64>), String> {
        let mut m = Map::new();
        let mut c = Cursor { s, pos: 0 };
        let pri = self.pri(&mut c, &mut m)?;
        let r = c.rest();
        // `Mmm dd hh:mm:ss` (day space-padded) or an RFC 3339 timestamp.
        let time = if r.len() >= 15
            && r.is_char_boundary(15)
            && r[..15].is_ascii()
            && MONTHS.iter().any(|mo| r.starts_with(mo))
            && r.as_bytes().get(3) == Some(&b' ')
        {
            let t = &r[..15];
            c.pos += 15;
            if c.rest().starts_with(' ') {
                c.pos += 1;
            }
            Some(
                self.bsd_time(t)
                    .ok_or_else(|| format!("expecting a timestamp, got {t:?}"))?,
            )
        } else {
            let w = r.split(' ').next().unwrap_or("");
            match rfc3339(w) {
                Some(t) => {
                    c.word()?;
                    Some(t)
                }
                None => return Err("expecting a timestamp (Mmm dd hh:mm:ss)".into()),
            }
        };
        if c.rest().is_empty() {
            return Ok((m, time, pri));
        }
        let host = c.word()?;
        m.insert("hostname".into(), Value::Str(host.to_string()));
        let r = c.rest();
        // TAG[PID]: message
        let tag_end = r.find(['[', ':', ' ']).unwrap_or(r.len());
        let mut msg = r;
        if tag_end > 0 && tag_end <= 48 {
            let after = &r[tag_end..];
            let (pid, after) = match after.strip_prefix('[').and_then(|a| a.split_once(']')) {
                Some((p, a)) => (Some(p), a),
                None => (None, after),
            };
            if let Some(m2) = after.strip_prefix(':') {
                m.insert("appname".into(), Value::Str(r[..tag_end].to_string()));
                if let Some(p) = pid {
                    m.insert("proc_id".into(), Value::Str(p.to_string()));
                }
                msg = m2.strip_prefix(' ').unwrap_or(m2);
            }
        }
        if !msg.is_empty() {
            m.insert("message".into(), Value::Str(msg.to_string()));
        }
        Ok((m, time, pri))
    }

    fn bsd_time(&self, t: &str) -> Option<i64> {
        let b = t.as_bytes();
        let month = MONTHS.iter().position(|m| t.starts_with(m))? as i64 + 1;
        let day: i64 = t[4..6].trim().parse().ok()?;
        if b[6] != b' ' || b[9] != b':' || b[12] != b':' {
            return None;
        }
        let h: i64 = t[7..9].parse().ok()?;
        let mi: i64 = t[10..12].parse().ok()?;
        let s: i64 = t[13..15].parse().ok()?;
        if !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let tz = self.location.clone().unwrap_or(jiff::tz::TimeZone::UTC);
        let year = crate::time::current_year(Some(&tz));
        let at = |y: i64| -> Option<i64> {
            let dt = jiff::civil::DateTime::new(
                y as i16,
                month as i8,
                day as i8,
                h as i8,
                mi as i8,
                s.min(59) as i8,
                0,
            )
            .ok()?;
            Some(
                tz.to_ambiguous_timestamp(dt)
                    .compatible()
                    .ok()?
                    .as_nanosecond() as i64,
            )
        };
        let mut ns = at(year)?;
        // A date more than a week ahead is from last year (as Go's setTimestampYear).
        let now = jiff::Timestamp::now().as_nanosecond() as i64;
        if ns > now + 7 * 86_400_000_000_000 {
            ns = at(year - 1)?;
        }
        Some(ns)
    }
}

/// An RFC 3339 timestamp in Unix nanoseconds.
fn rfc3339(s: &str) -> Option<i64> {
    let ts: jiff::Timestamp = s.parse().ok()?;
    i64::try_from(ts.as_nanosecond()).ok()
}

impl Operator for Syslog {
    fn process(&mut self, e: Entry, out: &mut Out) -> Result<(), Failure> {
        let mut time = None;
        let mut pri = None;
        let this = &*self;
        let e = this.core.apply(e, |v| {
            let Value::Str(s) = v else {
                return Err(format!(
                    "type {} cannot be parsed as syslog",
                    crate::value_type(v)
                ));
            };
            let mut s = s.as_str();
            if this.octet_counting {
                let (len, rest) = s.split_once(' ').ok_or("expecting a message length")?;
                let n: usize = len
                    .parse()
                    .map_err(|_| "expecting a message length".to_string())?;
                if n > this.max_octets {
                    return Err(format!(
                        "message length {n} exceeds max_octets {}",
                        this.max_octets
                    ));
                }
                s = rest.get(..n).unwrap_or(rest);
            } else if let Some(t) = this.trailer {
                s = s.strip_suffix(t as char).unwrap_or(s);
            }
            let (m, t, p) = if this.rfc5424 {
                this.parse_5424(s)?
            } else {
                this.parse_3164(s)?
            };
            time = t;
            pri = p;
            Ok(Value::Map(m))
        });
        let mut e = self.core.after(e?)?;
        if let Some(t) = time {
            e.time_unix_nano = u64::try_from(t).unwrap_or(0);
        }
        if let Some((n, t)) = pri.and_then(|p| SEVERITY.get((p % 8) as usize)) {
            e.severity_number = *n;
            e.severity_text = (*t).into();
        }
        out.push((0, e));
        Ok(())
    }
}

pub(super) fn build(ctx: &mut Ctx, core: ParserCore) -> Result<Box<dyn Operator>, BuildError> {
    let c: SyslogConfig = ctx.config()?;
    let rfc5424 = match c.protocol.as_deref() {
        Some("rfc5424") => true,
        Some("rfc3164") => false,
        None => return Err(ctx.err("protocol", "missing field 'protocol'")),
        Some(o) => return Err(ctx.err("protocol", format!("unsupported protocol version: {o}"))),
    };
    let location = crate::time::load_location(c.location.as_deref().unwrap_or("UTC"))
        .map_err(|m| ctx.err("location", m))?;
    if !rfc5424 && c.enable_octet_counting {
        return Err(ctx.err(
            "enable_octet_counting",
            "octet counting is only compatible with rfc5424",
        ));
    }
    let trailer = match c.non_transparent_framing_trailer.as_deref() {
        None => None,
        Some("LF") => Some(b'\n'),
        Some("NUL") => Some(0),
        Some(o) => {
            return Err(ctx.err(
                "non_transparent_framing_trailer",
                format!("invalid trailer {o:?}: must be LF or NUL"),
            ));
        }
    };
    if c.enable_octet_counting && trailer.is_some() {
        return Err(ctx.err(
            "non_transparent_framing_trailer",
            "only one of octet counting or non transparent framing can be enabled",
        ));
    }
    Ok(Box::new(Syslog {
        core,
        rfc5424,
        location,
        octet_counting: c.enable_octet_counting,
        skip_pri: c.allow_skip_pri_header,
        trailer,
        max_octets: c.max_octets.unwrap_or(8192),
    }))
}
