//! Time and duration converters.

use std::sync::Arc;

use super::compiler::{Args, CResult, Compiler, err, lit_str};
use crate::getter::{ConvFn, Getter};
use crate::parser::{Call, ExprKind, SyntaxError};
use crate::time;
use crate::value::Value;

impl Compiler {
    pub(super) fn time_converter(&self, call: &Call) -> CResult<Option<ConvFn>> {
        let name = call.name.as_str();
        let f: ConvFn = match name {
            "Time" => {
                let a = Args::bind(call, &["time", "format", "location", "locale"], 2)?;
                let target = self.getter(a.get(0))?;
                let format = lit_str(a.get(1), "format")?;
                if format.is_empty() {
                    return err(a.get(1).col, "format cannot be nil");
                }
                time::check_format(&format).map_err(|m| SyntaxError::new(a.get(1).col, m))?;
                let names = match a.opt(3) {
                    Some(e) => time::locale(&lit_str(e, "locale")?)
                        .map_err(|m| SyntaxError::new(e.col, m))?,
                    None => &time::EN,
                };
                // A literal location is loaded once; another expression per item, as in Go.
                enum Loc {
                    None,
                    Fixed(jiff::tz::TimeZone),
                    Dynamic(Getter),
                }
                let loc = match a.opt(2) {
                    None => Loc::None,
                    Some(e) => match &e.kind {
                        ExprKind::Str(name) => Loc::Fixed(
                            time::location(name).map_err(|m| SyntaxError::new(e.col, m))?,
                        ),
                        _ => Loc::Dynamic(self.getter(e)?),
                    },
                };
                Arc::new(move |t| {
                    let s = match target.eval(t)? {
                        Value::Str(s) => s,
                        o => {
                            return Err(format!(
                                "Time: expected a string but got {}",
                                o.type_name()
                            ));
                        }
                    };
                    if s.is_empty() {
                        return Err("time cannot be nil".into());
                    }
                    let dynamic;
                    let tz = match &loc {
                        Loc::None => None,
                        Loc::Fixed(tz) => Some(tz),
                        Loc::Dynamic(g) => match g.eval(t)? {
                            Value::Str(name) => {
                                dynamic = time::location(&name)?;
                                Some(&dynamic)
                            }
                            o => {
                                return Err(format!(
                                    "Time: location: expected a string but got {}",
                                    o.type_name()
                                ));
                            }
                        },
                    };
                    time::parse_in(&s, &format, tz, names).map(|(n, tz)| Value::Time(n, tz))
                })
            }
            "Duration" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Str(s) => time::parse_duration(&s).map(Value::Duration),
                    o => Err(format!(
                        "Duration: expected a string but got {}",
                        o.type_name()
                    )),
                })
            }
            "FormatTime" => {
                let a = Args::bind(call, &["time", "format"], 2)?;
                let target = self.getter(a.get(0))?;
                let format = lit_str(a.get(1), "format")?;
                if format.is_empty() {
                    return err(a.get(1).col, "format cannot be nil");
                }
                time::check_format(&format).map_err(|m| SyntaxError::new(a.get(1).col, m))?;
                Arc::new(move |t| match target.eval(t)? {
                    Value::Time(n, tz) => {
                        time::format_time(n, tz.as_ref(), &format).map(Value::Str)
                    }
                    o => Err(format!(
                        "FormatTime: expected a time but got {}",
                        o.type_name()
                    )),
                })
            }
            "UnixNano" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Time(n, _) => Ok(Value::Int(n)),
                    o => Err(format!(
                        "UnixNano: expected a time but got {}",
                        o.type_name()
                    )),
                })
            }
            "Now" => {
                Args::bind(call, &[], 0)?;
                Arc::new(|_| {
                    let d = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    Ok(Value::Time(d.as_nanos() as i64, None))
                })
            }
            "TruncateTime" => {
                let a = Args::bind(call, &["time", "duration"], 2)?;
                let target = self.getter(a.get(0))?;
                let dur = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let Value::Time(n, tz) = target.eval(t)? else {
                        return Err("TruncateTime: expected a time".into());
                    };
                    let Value::Duration(d) = dur.eval(t)? else {
                        return Err("TruncateTime: expected a duration".into());
                    };
                    if d <= 0 {
                        return Ok(Value::Time(n, tz));
                    }
                    // Go's `time.Truncate` rounds down to a multiple of `d` since the zero time
                    // (0001-01-01 UTC), not since the Unix epoch: weeks start on a Monday.
                    const ZERO_TIME_TO_EPOCH_NS: i128 = 62_135_596_800 * 1_000_000_000;
                    let rem = (i128::from(n) + ZERO_TIME_TO_EPOCH_NS).rem_euclid(i128::from(d));
                    Ok(Value::Time(n - rem as i64, tz))
                })
            }
            "Year" | "Month" | "Day" | "Hour" | "Minute" | "Second" | "Nanosecond" | "Weekday"
            | "UnixSeconds" | "UnixMilli" | "UnixMicro" => {
                let g = self.one_arg(call)?;
                let fname = call.name.clone();
                Arc::new(move |t| {
                    let Value::Time(n, tz) = g.eval(t)? else {
                        return Err(format!("{fname}: expected a time"));
                    };
                    // Calendar fields in the time's zone, as Go's time.Time methods.
                    let field = |f: fn(&jiff::civil::DateTime) -> i64| {
                        time::civil(n, tz.as_ref()).map(|dt| Value::Int(f(&dt)))
                    };
                    match fname.as_str() {
                        "Year" => field(|d| d.year() as i64),
                        "Month" => field(|d| d.month() as i64),
                        "Day" => field(|d| d.day() as i64),
                        "Hour" => field(|d| d.hour() as i64),
                        "Minute" => field(|d| d.minute() as i64),
                        "Second" => field(|d| d.second() as i64),
                        "Nanosecond" => field(|d| d.subsec_nanosecond() as i64),
                        "Weekday" => field(|d| d.weekday().to_sunday_zero_offset() as i64),
                        "UnixSeconds" => Ok(Value::Int(n.div_euclid(1_000_000_000))),
                        "UnixMilli" => Ok(Value::Int(n.div_euclid(1_000_000))),
                        _ => Ok(Value::Int(n.div_euclid(1_000))),
                    }
                })
            }
            "Hours" | "Minutes" | "Seconds" | "Milliseconds" | "Microseconds" | "Nanoseconds" => {
                let g = self.one_arg(call)?;
                let fname = call.name.clone();
                Arc::new(move |t| {
                    let Value::Duration(d) = g.eval(t)? else {
                        return Err(format!("{fname}: expected a duration"));
                    };
                    // As Go: whole units for the sub-second ones, fractions for the others.
                    Ok(match fname.as_str() {
                        "Hours" => Value::Double(
                            (d / 3_600_000_000_000) as f64
                                + (d % 3_600_000_000_000) as f64 / 3.6e12,
                        ),
                        "Minutes" => Value::Double(
                            (d / 60_000_000_000) as f64 + (d % 60_000_000_000) as f64 / 6e10,
                        ),
                        "Seconds" => Value::Double(
                            (d / 1_000_000_000) as f64 + (d % 1_000_000_000) as f64 / 1e9,
                        ),
                        "Milliseconds" => Value::Int(d / 1_000_000),
                        "Microseconds" => Value::Int(d / 1_000),
                        _ => Value::Int(d),
                    })
                })
            }
            "Unix" => {
                let a = Args::bind(call, &["seconds", "nanoseconds"], 1)?;
                let secs = self.getter(a.get(0))?;
                let ns = a.opt(1).map(|e| self.getter(e)).transpose()?;
                Arc::new(move |t| {
                    let Value::Int(s) = secs.eval(t)? else {
                        return Err("Unix: seconds must be an int".into());
                    };
                    let n = match &ns {
                        None => 0,
                        Some(g) => match g.eval(t)? {
                            Value::Int(n) => n,
                            _ => return Err("Unix: nanoseconds must be an int".into()),
                        },
                    };
                    s.checked_mul(1_000_000_000)
                        .and_then(|x| x.checked_add(n))
                        .map(|n| Value::Time(n, None))
                        .ok_or_else(|| "Unix: time out of range".to_string())
                })
            }
            _ => return Ok(None),
        };
        Ok(Some(f))
    }
}
