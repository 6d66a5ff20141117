//! `Time` (strptime-style formats, IANA locations from the `jiff` crate's bundled database,
//! month and weekday names of a few languages) and `Duration` parsing.

/// The directives `Time` understands (after composites such as `%F` are expanded).
const DIRECTIVES: &str = "YymoqdegHIlpPMSLfszZijkwaAbB%";

/// Replaces the composite directives (`%D %x %F %T %X %r %R %c %h %n %t`) by their parts.
fn expand(format: &str) -> String {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('D' | 'x') => out.push_str("%m/%d/%y"),
            Some('F') => out.push_str("%Y-%m-%d"),
            Some('T' | 'X') => out.push_str("%H:%M:%S"),
            Some('r') => out.push_str("%I:%M:%S %p"),
            Some('R') => out.push_str("%H:%M"),
            Some('c') => out.push_str("%a %b %d %H:%M:%S %Y"),
            Some('h') => out.push_str("%b"),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Checks that a format uses only supported directives.
pub fn check_format(format: &str) -> Result<(), String> {
    let format = expand(format);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some(d) if DIRECTIVES.contains(d) => {}
                Some(o) => return Err(format!("unsupported time format directive %{o}")),
                None => return Err("format ends with %".into()),
            }
        }
    }
    Ok(())
}

/// Days from 1970-01-01 to a civil date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn digits(s: &[u8], pos: &mut usize, max: usize) -> Result<i64, String> {
    let start = *pos;
    while *pos < s.len() && *pos - start < max && s[*pos].is_ascii_digit() {
        *pos += 1;
    }
    if *pos == start {
        return Err("expected digits".into());
    }
    Ok(std::str::from_utf8(&s[start..*pos])
        .unwrap_or("0")
        .parse()
        .unwrap_or(0))
}

/// Names of months, weekdays and the day periods in one language, lower-case.
pub struct Locale {
    months: [&'static str; 12],
    months_abbr: [&'static [&'static str]; 12],
    weekdays: [&'static str; 7],
    weekdays_abbr: [&'static [&'static str]; 7],
    am: &'static [&'static str],
    pm: &'static [&'static str],
}

/// English, the default.
pub static EN: Locale = Locale {
    months: [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ],
    months_abbr: [
        &["jan"],
        &["feb"],
        &["mar"],
        &["apr"],
        &["may"],
        &["jun"],
        &["jul"],
        &["aug"],
        &["sep", "sept"],
        &["oct"],
        &["nov"],
        &["dec"],
    ],
    weekdays: [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ],
    weekdays_abbr: [
        &["sun"],
        &["mon"],
        &["tue"],
        &["wed"],
        &["thu"],
        &["fri"],
        &["sat"],
    ],
    am: &["am", "a.m."],
    pm: &["pm", "p.m."],
};

static DE: Locale = Locale {
    months: [
        "januar",
        "februar",
        "märz",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "dezember",
    ],
    months_abbr: [
        &["jan.", "jan"],
        &["feb.", "feb"],
        &["märz", "mär"],
        &["apr.", "apr"],
        &["mai"],
        &["juni", "jun"],
        &["juli", "jul"],
        &["aug.", "aug"],
        &["sept.", "sep.", "sep"],
        &["okt.", "okt"],
        &["nov.", "nov"],
        &["dez.", "dez"],
    ],
    weekdays: [
        "sonntag",
        "montag",
        "dienstag",
        "mittwoch",
        "donnerstag",
        "freitag",
        "samstag",
    ],
    weekdays_abbr: [
        &["so.", "so"],
        &["mo.", "mo"],
        &["di.", "di"],
        &["mi.", "mi"],
        &["do.", "do"],
        &["fr.", "fr"],
        &["sa.", "sa"],
    ],
    am: &["am", "vorm."],
    pm: &["pm", "nachm."],
};

static FR: Locale = Locale {
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    months_abbr: [
        &["janv."],
        &["févr."],
        &["mars"],
        &["avr."],
        &["mai"],
        &["juin"],
        &["juil."],
        &["août"],
        &["sept."],
        &["oct."],
        &["nov."],
        &["déc."],
    ],
    weekdays: [
        "dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
    ],
    weekdays_abbr: [
        &["dim."],
        &["lun."],
        &["mar."],
        &["mer."],
        &["jeu."],
        &["ven."],
        &["sam."],
    ],
    am: &["am"],
    pm: &["pm"],
};

static ES: Locale = Locale {
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    months_abbr: [
        &["ene"],
        &["feb"],
        &["mar"],
        &["abr"],
        &["may"],
        &["jun"],
        &["jul"],
        &["ago"],
        &["sept", "sep"],
        &["oct"],
        &["nov"],
        &["dic"],
    ],
    weekdays: [
        "domingo",
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
    ],
    weekdays_abbr: [
        &["dom"],
        &["lun"],
        &["mar"],
        &["mié"],
        &["jue"],
        &["vie"],
        &["sáb"],
    ],
    am: &["a.m.", "a. m.", "a.\u{a0}m."],
    pm: &["p.m.", "p. m.", "p.\u{a0}m."],
};

static IT: Locale = Locale {
    months: [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    months_abbr: [
        &["gen"],
        &["feb"],
        &["mar"],
        &["apr"],
        &["mag"],
        &["giu"],
        &["lug"],
        &["ago"],
        &["set"],
        &["ott"],
        &["nov"],
        &["dic"],
    ],
    weekdays: [
        "domenica",
        "lunedì",
        "martedì",
        "mercoledì",
        "giovedì",
        "venerdì",
        "sabato",
    ],
    weekdays_abbr: [
        &["dom"],
        &["lun"],
        &["mar"],
        &["mer"],
        &["gio"],
        &["ven"],
        &["sab"],
    ],
    am: &["am"],
    pm: &["pm"],
};

static PT: Locale = Locale {
    months: [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    months_abbr: [
        &["jan."],
        &["fev."],
        &["mar."],
        &["abr."],
        &["mai."],
        &["jun."],
        &["jul."],
        &["ago."],
        &["set."],
        &["out."],
        &["nov."],
        &["dez."],
    ],
    weekdays: [
        "domingo",
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
    ],
    weekdays_abbr: [
        &["dom."],
        &["seg."],
        &["ter."],
        &["qua."],
        &["qui."],
        &["sex."],
        &["sáb."],
    ],
    am: &["am"],
    pm: &["pm"],
};

static NL: Locale = Locale {
    months: [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
    months_abbr: [
        &["jan"],
        &["feb"],
        &["mrt"],
        &["apr"],
        &["mei"],
        &["jun"],
        &["jul"],
        &["aug"],
        &["sep"],
        &["okt"],
        &["nov"],
        &["dec"],
    ],
    weekdays: [
        "zondag",
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
    ],
    weekdays_abbr: [
        &["zo"],
        &["ma"],
        &["di"],
        &["wo"],
        &["do"],
        &["vr"],
        &["za"],
    ],
    am: &["a.m."],
    pm: &["p.m."],
};

/// The names of a BCP 47 language tag (`it`, `es-ES`, `pt_BR`): English and the languages
/// built in (de, es, fr, it, nl, pt); others are refused.
pub fn locale(tag: &str) -> Result<&'static Locale, String> {
    let lang = tag
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(match lang.as_str() {
        "" | "en" => &EN,
        "de" => &DE,
        "es" => &ES,
        "fr" => &FR,
        "it" => &IT,
        "nl" => &NL,
        "pt" => &PT,
        _ => {
            return Err(format!(
                "unsupported locale {tag:?}: supported are en, de, es, fr, it, nl, pt"
            ));
        }
    })
}

/// The longest name of `names` (lower-case) that `rest` starts with, case-insensitively:
/// its index and byte length in `rest`.
fn match_name<'n>(
    rest: &str,
    names: impl Iterator<Item = (usize, &'n str)>,
) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for (i, name) in names {
        let n = name.chars().count();
        let head: String = rest.chars().take(n).collect();
        if head.to_lowercase() == *name && best.is_none_or(|(_, l)| head.len() > l) {
            best = Some((i, head.len()));
        }
    }
    best
}

/// Parses `s` with a strptime-style `format` into Unix nanoseconds: at the offset the text
/// gives (`%z`, or `%Z` naming UTC or the zone of `tz`), else as a local time of `tz`, else
/// UTC. Also returns the zone the time's calendar fields are read in, as Go's `time.Time`
/// keeps its location: `tz`, or a fixed offset that is not `tz`'s (none for UTC).
pub fn parse_in(
    s: &str,
    format: &str,
    tz: Option<&jiff::tz::TimeZone>,
    names: &Locale,
) -> Result<(i64, Option<jiff::tz::TimeZone>), String> {
    let fail = |m: String| format!("Time: cannot parse {s:?} as {format:?}: {m}");
    let expanded = expand(format);
    let b = s.as_bytes();
    let mut pos = 0;
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec, mut nanos) =
        (1970i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
    let mut off: Option<i64> = None;
    let mut abbrev: Option<String> = None;
    let mut pm: Option<bool> = None;
    let mut fmt = expanded.chars();
    let spaces = |pos: &mut usize| {
        while b.get(*pos) == Some(&b' ') {
            *pos += 1;
        }
    };
    while let Some(c) = fmt.next() {
        if c != '%' {
            let mut buf = [0u8; 4];
            let enc = c.encode_utf8(&mut buf).as_bytes();
            if b.get(pos..pos + enc.len()) != Some(enc) {
                return Err(fail(format!("expected {c:?} at offset {pos}")));
            }
            pos += enc.len();
            continue;
        }
        let dir = fmt.next().unwrap_or('%');
        match dir {
            'Y' => y = digits(b, &mut pos, 4).map_err(fail)?,
            'y' => {
                let v = digits(b, &mut pos, 2).map_err(fail)?;
                y = if v >= 69 { 1900 + v } else { 2000 + v };
            }
            'm' | 'q' => mo = digits(b, &mut pos, 2).map_err(fail)?,
            'o' => {
                spaces(&mut pos);
                mo = digits(b, &mut pos, 2).map_err(fail)?;
            }
            'd' | 'g' => d = digits(b, &mut pos, 2).map_err(fail)?,
            'e' => {
                spaces(&mut pos);
                d = digits(b, &mut pos, 2).map_err(fail)?;
            }
            'H' => h = digits(b, &mut pos, 2).map_err(fail)?,
            'I' | 'l' => {
                h = digits(b, &mut pos, 2).map_err(fail)?;
                if !(1..=12).contains(&h) {
                    return Err(fail("hour out of range".into()));
                }
            }
            'p' | 'P' => {
                let rest = &s[pos..];
                let Some((i, len)) = match_name(
                    rest,
                    names
                        .am
                        .iter()
                        .map(|n| (0, *n))
                        .chain(names.pm.iter().map(|n| (1, *n))),
                ) else {
                    return Err(fail("expected AM or PM".into()));
                };
                pm = Some(i == 1);
                pos += len;
            }
            'M' => mi = digits(b, &mut pos, 2).map_err(fail)?,
            'S' => sec = digits(b, &mut pos, 2).map_err(fail)?,
            'L' => nanos = digits(b, &mut pos, 3).map_err(fail)? * 1_000_000,
            'f' | 's' => {
                let start = pos;
                let v = digits(b, &mut pos, 9).map_err(fail)?;
                nanos = v * 10i64.pow(9 - (pos - start) as u32);
            }
            'z' | 'i' | 'j' | 'k' | 'w' => {
                if dir == 'z' && b.get(pos) == Some(&b'Z') {
                    pos += 1;
                    off = Some(0);
                } else {
                    let sign = match b.get(pos) {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(fail("expected a zone offset".into())),
                    };
                    pos += 1;
                    let hh = digits(b, &mut pos, 2).map_err(fail)?;
                    let mut secs = hh * 3600;
                    // %i: ±hh; %j: ±hh:mm; %k: ±hh:mm:ss; %w: ±hhmmss; %z: ±hh[:]mm.
                    let parts = match dir {
                        'i' => 0,
                        'j' => 1,
                        'k' | 'w' => 2,
                        _ => 1,
                    };
                    for unit in [60, 1].iter().take(parts) {
                        if b.get(pos) == Some(&b':') && dir != 'w' {
                            pos += 1;
                        }
                        secs += digits(b, &mut pos, 2).map_err(fail)? * unit;
                    }
                    off = Some(sign * secs);
                }
            }
            'Z' => {
                let start = pos;
                while pos < b.len() && (b[pos].is_ascii_alphabetic()) {
                    pos += 1;
                }
                if pos == start {
                    return Err(fail("expected a time zone abbreviation".into()));
                }
                let name = &s[start..pos];
                if matches!(name, "UTC" | "GMT" | "Z") {
                    off = Some(0);
                } else {
                    abbrev = Some(name.to_string());
                }
            }
            'a' | 'A' => {
                let rest = &s[pos..];
                let full = names.weekdays.iter().enumerate().map(|(i, n)| (i, *n));
                let abbr = names
                    .weekdays_abbr
                    .iter()
                    .enumerate()
                    .flat_map(|(i, ns)| ns.iter().map(move |n| (i, *n)));
                let Some((_, len)) = match_name(rest, full.chain(abbr)) else {
                    return Err(fail("expected a weekday name".into()));
                };
                pos += len;
            }
            'b' | 'B' => {
                let rest = &s[pos..];
                let full = names.months.iter().enumerate().map(|(i, n)| (i, *n));
                let abbr = names
                    .months_abbr
                    .iter()
                    .enumerate()
                    .flat_map(|(i, ns)| ns.iter().map(move |n| (i, *n)));
                let Some((i, len)) = match_name(rest, full.chain(abbr)) else {
                    return Err(fail("expected a month name".into()));
                };
                mo = i as i64 + 1;
                pos += len;
            }
            _ => {
                if b.get(pos) != Some(&b'%') {
                    return Err(fail("expected '%'".into()));
                }
                pos += 1;
            }
        }
    }
    if pos != b.len() {
        return Err(fail(format!("unexpected trailing text {:?}", &s[pos..])));
    }
    if let Some(pm) = pm {
        h = match (h, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(fail("value out of range".into()));
    }
    let utc = |off: i64| days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    let (secs, zone) = match (off, tz) {
        (Some(off), _) => {
            let secs = utc(off);
            let zone = match tz {
                // The location's own offset at that instant keeps the location.
                Some(tz)
                    if jiff::Timestamp::from_second(secs)
                        .is_ok_and(|ts| i64::from(tz.to_offset(ts).seconds()) == off) =>
                {
                    Some(tz.clone())
                }
                _ if off == 0 => None,
                _ => Some(jiff::tz::TimeZone::fixed(
                    jiff::tz::Offset::from_seconds(off as i32).map_err(|e| fail(e.to_string()))?,
                )),
            };
            (secs, zone)
        }
        (None, Some(tz)) => {
            let dt = jiff::civil::DateTime::new(
                y as i16,
                mo as i8,
                d as i8,
                h as i8,
                mi as i8,
                sec.min(59) as i8,
                0,
            )
            .map_err(|e| fail(e.to_string()))?;
            let zoned = dt.to_zoned(tz.clone()).map_err(|e| fail(e.to_string()))?;
            // An abbreviation that is not the zone's (EST in a CET zone) means offset 0, as
            // in Go.
            let zone_abbrev = tz
                .to_offset_info(zoned.timestamp())
                .abbreviation()
                .to_string();
            match &abbrev {
                Some(a) if *a != zone_abbrev => (utc(0), None),
                _ => (
                    zoned.timestamp().as_second() + (sec - sec.min(59)),
                    Some(tz.clone()),
                ),
            }
        }
        (None, None) => (utc(0), None),
    };
    Ok((secs * 1_000_000_000 + nanos, zone))
}

/// Parses `s` with a strptime-style `format` into Unix nanoseconds (UTC unless `%z`).
pub fn parse(s: &str, format: &str) -> Result<i64, String> {
    parse_in(s, format, None, &EN).map(|(n, _)| n)
}

/// The IANA time zone `name` (`""` and `UTC` are UTC, `Local` the host's zone or UTC, as Go's
/// `time.LoadLocation`), from the database built into the binary, so it does not depend on
/// the host's zoneinfo.
pub fn location(name: &str) -> Result<jiff::tz::TimeZone, String> {
    if name.is_empty() || name == "UTC" {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    if name == "Local" {
        return Ok(jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC));
    }
    jiff::tz::TimeZone::get(name).map_err(|_| format!("unknown time zone {name}"))
}

/// The calendar fields of a Unix-nanosecond time in `tz` (UTC if none).
pub fn civil(nanos: i64, tz: Option<&jiff::tz::TimeZone>) -> Result<jiff::civil::DateTime, String> {
    let ts = jiff::Timestamp::from_nanosecond(nanos as i128).map_err(|e| e.to_string())?;
    Ok(tz.unwrap_or(&jiff::tz::TimeZone::UTC).to_datetime(ts))
}

/// The UTC offset (seconds) and zone name of a time, as Go's `time.Time.Zone()`: the zone's
/// abbreviation, `-0700` for a fixed offset, `UTC` for none.
fn zone_of(nanos: i64, tz: Option<&jiff::tz::TimeZone>) -> (i32, String) {
    let Some(tz) = tz else {
        return (0, "UTC".into());
    };
    let Ok(ts) = jiff::Timestamp::from_nanosecond(nanos as i128) else {
        return (0, "UTC".into());
    };
    let info = tz.to_offset_info(ts);
    let off = info.offset().seconds();
    let name = if tz.iana_name().is_some() {
        info.abbreviation().to_string()
    } else {
        offset_str(off, false, false)
    };
    (off, name)
}

/// `+hhmm` (or `+hh:mm` with `colon`, and `:ss`/`ss` with `secs`).
fn offset_str(off: i32, colon: bool, secs: bool) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let sep = if colon { ":" } else { "" };
    let mut out = format!("{sign}{:02}{sep}{:02}", a / 3600, (a / 60) % 60);
    if secs {
        out.push_str(&format!("{sep}{:02}", a % 60));
    }
    out
}

/// `FormatTime`: `nanos` (in `tz`, UTC if none) written with the strftime-style `format` of `Time`, as the Go
/// Collector's ctime substitutions write it (`%e` space-padded, `%q` unpadded month, `%P`
/// lower-case am/pm, `%r` `03:04:05 pm`, `%c` `Mon Jan 02 15:04:05 2006`).
pub fn format_time(
    nanos: i64,
    tz: Option<&jiff::tz::TimeZone>,
    format: &str,
) -> Result<String, String> {
    use std::fmt::Write;
    let dt = civil(nanos, tz)?;
    let (off, zone) = zone_of(nanos, tz);
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    let month = EN.months[dt.month() as usize - 1];
    let weekday = EN.weekdays[dt.weekday().to_sunday_zero_offset() as usize];
    let h12 = match dt.hour() % 12 {
        0 => 12,
        h => h,
    };
    let pm = dt.hour() >= 12;
    // `%r` writes a lower-case period when formatting; the other composites as when parsing.
    let mut pre = String::with_capacity(format.len());
    let mut it = format.chars();
    while let Some(c) = it.next() {
        match (c, c == '%') {
            (_, true) => match it.next() {
                Some('r') => pre.push_str("%I:%M:%S %P"),
                Some(o) => {
                    pre.push('%');
                    pre.push(o);
                }
                None => pre.push('%'),
            },
            (c, false) => pre.push(c),
        }
    }
    let format = expand(&pre);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = match chars.next() {
            Some('Y') => write!(out, "{:04}", dt.year()),
            Some('y') => write!(out, "{:02}", dt.year().rem_euclid(100)),
            Some('m') => write!(out, "{:02}", dt.month()),
            Some('o') => write!(out, "{:>2}", dt.month()),
            Some('q') => write!(out, "{}", dt.month()),
            Some('b') => write!(out, "{}", cap(&month[..3])),
            Some('B') => write!(out, "{}", cap(month)),
            Some('d') => write!(out, "{:02}", dt.day()),
            Some('e') => write!(out, "{:>2}", dt.day()),
            Some('g') => write!(out, "{}", dt.day()),
            Some('a') => write!(out, "{}", cap(&weekday[..3])),
            Some('A') => write!(out, "{}", cap(weekday)),
            Some('H') => write!(out, "{:02}", dt.hour()),
            Some('I') => write!(out, "{h12:02}"),
            Some('l') => write!(out, "{h12}"),
            Some('p') => out.write_str(if pm { "PM" } else { "AM" }),
            Some('P') => out.write_str(if pm { "pm" } else { "am" }),
            Some('M') => write!(out, "{:02}", dt.minute()),
            Some('S') => write!(out, "{:02}", dt.second()),
            Some('L') => write!(out, "{:03}", dt.subsec_nanosecond() / 1_000_000),
            Some('f') => write!(out, "{:06}", dt.subsec_nanosecond() / 1_000),
            Some('s') => write!(out, "{:09}", dt.subsec_nanosecond()),
            Some('z') => out.write_str(&offset_str(off, false, false)),
            Some('Z') => out.write_str(&zone),
            Some('i') => out.write_str(&offset_str(off, false, false)[..3]),
            Some('j') => out.write_str(&offset_str(off, true, false)),
            Some('k') => out.write_str(&offset_str(off, true, true)),
            Some('w') => out.write_str(&offset_str(off, false, true)),
            Some('%') => out.write_str("%"),
            Some(o) => return Err(format!("unsupported time format directive %{o}")),
            None => return Err("format ends with %".into()),
        };
    }
    Ok(out)
}

/// Go's `time.Time.String()`: `2023-05-26 12:34:56.25 +0000 UTC`.
pub fn format_go_time(nanos: i64, tz: Option<&jiff::tz::TimeZone>) -> String {
    let (off, zone) = zone_of(nanos, tz);
    let Ok(dt) = civil(nanos, tz) else {
        return nanos.to_string();
    };
    let frac = dt.subsec_nanosecond();
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:09}").trim_end_matches('0').to_string()
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{frac} {} {zone}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        offset_str(off, false, false)
    )
}

/// Go's `time.Duration.String()`: `1h30m0s`, `1.5s`, `250ms`, `0s`.
pub fn format_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let trim = |x: String| {
        if x.contains('.') {
            x.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            x
        }
    };
    let body = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", trim(format!("{}.{:03}", u / 1_000, u % 1_000)))
    } else if u < 1_000_000_000 {
        format!(
            "{}ms",
            trim(format!("{}.{:06}", u / 1_000_000, u % 1_000_000))
        )
    } else {
        let secs = u / 1_000_000_000;
        let frac = u % 1_000_000_000;
        let s = trim(format!("{}.{:09}", secs % 60, frac));
        let (m, h) = ((secs / 60) % 60, secs / 3600);
        if h > 0 {
            format!("{h}h{m}m{s}s")
        } else if m > 0 {
            format!("{m}m{s}s")
        } else {
            format!("{s}s")
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// A Go duration string (`1h30m`, `500ms`, `-1.5s`) in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let v: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += v * mult;
        rest = &rest[u..];
    }
    Ok(if neg { -(total as i64) } else { total as i64 })
}
