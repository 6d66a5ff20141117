//! `Time` (strptime-style formats) and `Duration` parsing, without a date library.

const MONTHS: [&str; 12] = [
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
];

/// Checks that a format uses only supported directives.
pub fn check_format(format: &str) -> Result<(), String> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some(
                    'Y' | 'y' | 'm' | 'd' | 'H' | 'M' | 'S' | 'L' | 'f' | 'z' | 'b' | 'B' | '%',
                ) => {}
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

/// Parses `s` with a strptime-style `format` into Unix nanoseconds (UTC unless `%z`).
pub fn parse(s: &str, format: &str) -> Result<i64, String> {
    let fail = |m: String| format!("Time: cannot parse {s:?} as {format:?}: {m}");
    let b = s.as_bytes();
    let mut pos = 0;
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec, mut nanos, mut off) =
        (1970i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64, 0i64);
    let mut fmt = format.chars();
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
            'y' => y = 2000 + digits(b, &mut pos, 2).map_err(fail)?,
            'm' => mo = digits(b, &mut pos, 2).map_err(fail)?,
            'd' => d = digits(b, &mut pos, 2).map_err(fail)?,
            'H' => h = digits(b, &mut pos, 2).map_err(fail)?,
            'M' => mi = digits(b, &mut pos, 2).map_err(fail)?,
            'S' => sec = digits(b, &mut pos, 2).map_err(fail)?,
            'L' => nanos = digits(b, &mut pos, 3).map_err(fail)? * 1_000_000,
            'f' => {
                let start = pos;
                let v = digits(b, &mut pos, 9).map_err(fail)?;
                nanos = v * 10i64.pow(9 - (pos - start) as u32);
            }
            'z' => {
                if b.get(pos) == Some(&b'Z') {
                    pos += 1;
                } else {
                    let sign = match b.get(pos) {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(fail("expected a zone offset".into())),
                    };
                    pos += 1;
                    let hh = digits(b, &mut pos, 2).map_err(fail)?;
                    if b.get(pos) == Some(&b':') {
                        pos += 1;
                    }
                    let mm = digits(b, &mut pos, 2).map_err(fail)?;
                    off = sign * (hh * 3600 + mm * 60);
                }
            }
            'b' | 'B' => {
                let rest = s[pos..].to_ascii_lowercase();
                let Some((i, len)) = MONTHS.iter().enumerate().find_map(|(i, m)| {
                    if dir == 'B' && rest.starts_with(m) {
                        Some((i, m.len()))
                    } else if dir == 'b' && rest.starts_with(&m[..3]) {
                        Some((i, 3))
                    } else {
                        None
                    }
                }) else {
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
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(fail("value out of range".into()));
    }
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    Ok(secs * 1_000_000_000 + nanos)
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
