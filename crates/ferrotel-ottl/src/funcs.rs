//! Converters over plain values, as the Go Collector's `ottlfuncs` define them: hashes,
//! encodings, case changes, `URL`, `Format`, and the string-to-value functions the
//! `replace_*` editors accept as their `function` argument.

use std::hash::Hasher;

use base64::Engine;
use regex::Regex;

use crate::value::{R, Value, fmt_double, hex, kv};

/// A converter from one string, usable as the `function` argument of `replace_pattern`,
/// `replace_all_patterns`, `replace_match` and `replace_all_matches`.
pub type StrFn = fn(&str) -> R<Value>;

/// The converters that take a single string, by name.
pub fn string_fn(name: &str) -> Option<StrFn> {
    Some(match name {
        "SHA1" => |s| Ok(Value::Str(digest_hex::<sha1::Sha1>(s))),
        "SHA256" => |s| Ok(Value::Str(digest_hex::<sha2::Sha256>(s))),
        "SHA512" => |s| Ok(Value::Str(digest_hex::<sha2::Sha512>(s))),
        "MD5" => |s| Ok(Value::Str(digest_hex::<md5::Md5>(s))),
        "FNV" => |s| Ok(Value::Int(fnv64a(s) as i64)),
        "Murmur3Hash" => |s| Ok(Value::Str(murmur3_32_hex(s))),
        "Murmur3Hash128" => |s| Ok(Value::Str(murmur3_128_hex(s))),
        "ToLowerCase" => |s| Ok(Value::Str(s.to_lowercase())),
        "ToUpperCase" => |s| Ok(Value::Str(s.to_uppercase())),
        "ToSnakeCase" => |s| Ok(Value::Str(convert_case(s, "snake"))),
        "ToCamelCase" => |s| Ok(Value::Str(convert_case(s, "camel"))),
        "Base64Decode" => |s| decode(s.as_bytes(), "base64"),
        _ => return None,
    })
}

fn digest_hex<D: sha2::Digest>(s: &str) -> String {
    hex(&D::digest(s.as_bytes()))
}

/// 64-bit FNV-1a, as Go's `hash/fnv.New64a` (what OTTL's `FNV` uses).
pub fn fnv64a(s: &str) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(s.as_bytes());
    h.finish()
}

/// The 32-bit Murmur3 (x86, seed 0) as little-endian hex, as OTTL's `Murmur3Hash`.
pub fn murmur3_32_hex(s: &str) -> String {
    let h = murmur3::murmur3_32(&mut s.as_bytes(), 0).unwrap_or(0);
    hex(&h.to_le_bytes())
}

/// The 128-bit Murmur3 (x64, seed 0) as little-endian hex of its two halves, as OTTL's
/// `Murmur3Hash128`.
pub fn murmur3_128_hex(s: &str) -> String {
    // The crate packs the halves as (h2 << 64) | h1, so the little-endian bytes are h1 then h2.
    let h = murmur3::murmur3_x64_128(&mut s.as_bytes(), 0).unwrap_or(0);
    hex(&h.to_le_bytes())
}

/// `Decode(value, encoding)`: the base64 variants, then the encodings the Go Collector's
/// `textutils.LookupEncoding` knows: its overrides (`utf-8`, `ascii` and `nop` read as UTF-8,
/// `utf-16` as little-endian without a byte-order mark), ISO-8859-1 as itself, and the other
/// character sets by name (`windows-1252`, `Shift_JIS`, `EUC-KR`, `GBK`, `UTF-16BE`, …)
/// through encoding_rs. Its names are the WHATWG Encoding Standard's labels, which match the
/// IANA names Go looks up except where WHATWG decodes a superset (`iso-8859-9` as
/// windows-1254, `gb2312` as GBK): those differ from Go only in bytes the narrower set
/// leaves undefined or maps to C1 controls. Malformed input decodes to U+FFFD, as in Go.
pub fn decode(b: &[u8], encoding: &str) -> R<Value> {
    use base64::engine::general_purpose as b64;
    let name = encoding.to_ascii_lowercase();
    let engine = match name.as_str() {
        "base64" => Some(&b64::STANDARD),
        "base64-raw" => Some(&b64::STANDARD_NO_PAD),
        "base64-url" => Some(&b64::URL_SAFE),
        "base64-raw-url" => Some(&b64::URL_SAFE_NO_PAD),
        _ => None,
    };
    if let Some(engine) = engine {
        let out = engine
            .decode(b)
            .map_err(|e| format!("failed to decode base64: {e}"))?;
        return Ok(Value::Str(String::from_utf8_lossy(&out).into_owned()));
    }
    let text = match name.as_str() {
        // Go's overrides; a Go string may hold any bytes, ours must be UTF-8.
        "" | "utf-8" | "utf8" | "utf-8-raw" | "utf8-raw" | "ascii" | "us-ascii" | "nop" => {
            String::from_utf8_lossy(b).into_owned()
        }
        "utf-16" | "utf16" => encoding_rs::UTF_16LE
            .decode_without_bom_handling(b)
            .0
            .into_owned(),
        // IANA's ISO-8859-1 and its aliases (WHATWG reads these labels as windows-1252).
        "iso-8859-1" | "iso_8859-1" | "iso_8859-1:1987" | "latin1" | "l1" | "iso-ir-100"
        | "ibm819" | "cp819" | "csisolatin1" => b.iter().map(|&c| char::from(c)).collect(),
        _ => match encoding_rs::Encoding::for_label_no_replacement(name.as_bytes()) {
            Some(enc) => enc.decode_without_bom_handling(b).0.into_owned(),
            None => return Err(format!("unsupported encoding '{encoding}'")),
        },
    };
    Ok(Value::Str(text))
}

/// The bytes `Hex` encodes: strings as UTF-8, bytes as they are, ints, doubles and bools as
/// Go's `binary.Write` in big-endian writes them. Nil is no bytes.
pub fn byte_slice_like(v: &Value) -> R<Vec<u8>> {
    Ok(match v {
        Value::Nil => Vec::new(),
        Value::Str(s) => s.as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::Int(i) => i.to_be_bytes().to_vec(),
        Value::Double(d) => d.to_bits().to_be_bytes().to_vec(),
        Value::Bool(b) => vec![*b as u8],
        o => return Err(format!("unsupported type: {}", o.type_name())),
    })
}

/// `Bool(value)`: Go's `strconv.ParseBool` for strings; nil for anything else.
pub fn to_bool(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(*b),
        Value::Int(i) => Value::Bool(*i != 0),
        Value::Double(d) => Value::Bool(*d != 0.0),
        Value::Str(s) => match s.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Value::Bool(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Value::Bool(false),
            _ => Value::Nil,
        },
        _ => Value::Nil,
    }
}

/// `Log(value)`: the natural logarithm of a number-like value.
pub fn ln(v: &Value) -> R<Value> {
    let x = match v {
        Value::Double(d) => *d,
        Value::Int(i) => *i as f64,
        Value::Bool(b) => *b as i64 as f64,
        Value::Str(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("invalid float: {s:?}"))?,
        Value::Nil => return Err("expected a number but got nil".into()),
        o => return Err(format!("unsupported type: {}", o.type_name())),
    };
    if x <= 0.0 {
        return Err(format!(
            "value must be greater than zero, got {}",
            fmt_double(x)
        ));
    }
    Ok(Value::Double(x.ln()))
}

/// `ExtractPatterns(target, pattern)`: the named groups of the first match (an empty map if
/// none matches); a named group that took no part in the match is the empty string, as in Go.
pub fn extract_patterns(re: &Regex, s: &str) -> Value {
    let mut out: Vec<ferrotel_pdata::proto::common::v1::KeyValue> = Vec::new();
    if let Some(caps) = re.captures(s) {
        for (i, name) in re.capture_names().enumerate() {
            let Some(name) = name else { continue };
            let v = caps.get(i).map_or("", |m| m.as_str());
            // A name seen twice keeps its last value (Go's map write).
            out.retain(|k| k.key != name);
            out.push(kv(name, Value::Str(v.to_string())));
        }
    }
    Value::Map(out)
}

/// `URL(url_string)`: RFC 3986 components as Go's `net/url.Parse` splits them, with the
/// semantic-convention keys OTTL uses (`url.original`, `url.scheme`, `url.domain`,
/// `url.path` always; `url.port`, `url.fragment`, `url.user_info`, `url.username`,
/// `url.password`, `url.query`, `url.extension` when set).
pub fn parse_url(s: &str) -> R<Value> {
    use std::sync::OnceLock;
    static RFC3986: OnceLock<Regex> = OnceLock::new();
    let re = RFC3986.get_or_init(|| {
        Regex::new(
            r"^(?:([A-Za-z][A-Za-z0-9+.\-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$",
        )
        .expect("valid regex")
    });
    let fail = |m: &str| format!("parse {s:?}: {m}");
    if s.chars().any(|c| c.is_ascii_control()) {
        return Err(fail("net/url: invalid control character in URL"));
    }
    let caps = re.captures(s).ok_or_else(|| fail("invalid URL"))?;
    let part = |i: usize| caps.get(i).map(|m| m.as_str());
    let scheme = part(1).unwrap_or("").to_ascii_lowercase();
    let path_raw = part(3).unwrap_or("");
    if scheme.is_empty() && s.starts_with(':') {
        return Err(fail("missing protocol scheme"));
    }
    if scheme.is_empty()
        && part(2).is_none()
        && path_raw
            .split('/')
            .next()
            .is_some_and(|seg| seg.contains(':'))
    {
        return Err(fail("first path segment in URL cannot contain colon"));
    }
    let path = unescape(path_raw).map_err(|e| fail(&e))?;
    // Go writes the URL back (`URL.String()`), with its scheme in lower case.
    let original = format!("{scheme}{}", &s[part(1).map_or(0, str::len)..]);
    let mut out = vec![
        kv("url.original", Value::Str(original)),
        kv("url.scheme", Value::Str(scheme)),
    ];
    let (mut domain, mut port, mut user) = (String::new(), None, None);
    if let Some(auth) = part(2) {
        let (userinfo, hostport) = match auth.rfind('@') {
            Some(i) => (Some(&auth[..i]), &auth[i + 1..]),
            None => (None, auth),
        };
        user = userinfo;
        let (host, p) = if let Some(rest) = hostport.strip_prefix('[') {
            let end = rest.find(']').ok_or_else(|| fail("missing ']' in host"))?;
            let after = &rest[end + 1..];
            let p = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(fail("invalid port after host")),
            };
            (&rest[..end], p)
        } else {
            match hostport.rfind(':') {
                Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
                None => (hostport, None),
            }
        };
        if let Some(p) = p {
            if !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail(&format!(
                    "invalid port {:?} after host",
                    format!(":{p}")
                )));
            }
            if !p.is_empty() {
                port = Some(p.parse::<i64>().map_err(|e| fail(&e.to_string()))?);
            }
        }
        domain = unescape(host).map_err(|e| fail(&e))?;
    }
    out.push(kv("url.domain", Value::Str(domain)));
    out.push(kv("url.path", Value::Str(path.clone())));
    if let Some(p) = port {
        out.push(kv("url.port", Value::Int(p)));
    }
    if let Some(f) = part(5).filter(|f| !f.is_empty()) {
        out.push(kv(
            "url.fragment",
            Value::Str(unescape(f).map_err(|e| fail(&e))?),
        ));
    }
    if let Some(u) = user {
        let (name, password) = match u.find(':') {
            Some(i) => (&u[..i], Some(&u[i + 1..])),
            None => (u, None),
        };
        let name = unescape(name).map_err(|e| fail(&e))?;
        out.push(kv("url.user_info", Value::Str(u.to_string())));
        if !name.is_empty() {
            out.push(kv("url.username", Value::Str(name)));
        }
        if let Some(p) = password {
            out.push(kv(
                "url.password",
                Value::Str(unescape(p).map_err(|e| fail(&e))?),
            ));
        }
    }
    if let Some(q) = part(4).filter(|q| !q.is_empty()) {
        out.push(kv("url.query", Value::Str(q.to_string())));
    }
    if let Some(i) = path.rfind('.')
        && i < path.len() - 1
    {
        out.push(kv("url.extension", Value::Str(path[i + 1..].to_string())));
    }
    Ok(Value::Map(out))
}

/// Percent-decoding that refuses malformed escapes, as Go's `url.PathUnescape` does.
fn unescape(s: &str) -> R<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok =
                b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
            if !ok {
                let end = (i + 3).min(b.len());
                return Err(format!("invalid URL escape {:?}", &s[i..end]));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned())
}

/// `Format(formatString, args)`: Go's `fmt.Sprintf` for the verbs OTTL values can meet
/// (`%v %s %d %f %F %e %E %g %G %x %X %o %b %t %q %c %%`), with flags (`-+ 0#`), width and
/// precision, and Go's inline error forms (`%!d(string=x)`, `%!s(MISSING)`,
/// `%!(EXTRA string=x)`).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = num(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(num(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        out.push_str(&spec.apply(verb, arg));
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", go_type(a), go_v(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Double(_) => "float64",
        Value::Str(_) => "string",
        Value::Bytes(_) => "[]uint8",
        Value::Map(_) => "map[string]interface {}",
        Value::List(_) => "[]interface {}",
        Value::Time(..) => "time.Time",
        Value::Duration(_) => "time.Duration",
    }
}

/// `%v` of a value.
fn go_v(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".into(),
        Value::Double(d) => go_g(*d, None),
        Value::Bytes(b) => format!(
            "[{}]",
            b.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Value::Duration(d) => crate::time::format_duration(*d),
        Value::Time(n, tz) => crate::time::format_go_time(*n, tz.as_ref()),
        o => o.to_display(),
    }
}

fn num(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0) * 10 + d as usize);
        chars.next();
    }
    n
}

/// Go's `%g`: shortest representation, exponent when it is < -4 or >= the precision.
fn go_g(d: f64, prec: Option<usize>) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = match prec {
        Some(p) => format!("{:.*e}", p.saturating_sub(1), d),
        None => format!("{d:e}"),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let limit = prec.map_or(21, |p| p.max(1) as i32);
    let mant = if mant.contains('.') && prec.is_some() {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    if exp < -4 || exp >= limit {
        format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        match prec {
            None => format!("{d}"),
            Some(_) => {
                let decimals = (mant.replace(['-', '.'], "").len() as i32 - 1 - exp).max(0);
                format!("{:.*}", decimals as usize, d)
            }
        }
    }
}

impl Spec {
    fn pad(&self, body: String, numeric: bool) -> String {
        let Some(w) = self.width else {
            return body;
        };
        let len = body.chars().count();
        if len >= w {
            return body;
        }
        let fill = w - len;
        if self.minus {
            body + &" ".repeat(fill)
        } else if self.zero && numeric {
            let (sign, digits) = match body.chars().next() {
                Some(c @ ('-' | '+' | ' ')) => (c.to_string(), body[1..].to_string()),
                _ => (String::new(), body),
            };
            sign + &"0".repeat(fill) + &digits
        } else {
            " ".repeat(fill) + &body
        }
    }

    fn sign(&self, negative: bool, digits: String) -> String {
        if negative {
            format!("-{digits}")
        } else if self.plus {
            format!("+{digits}")
        } else if self.space {
            format!(" {digits}")
        } else {
            digits
        }
    }

    fn apply(&self, verb: char, arg: &Value) -> String {
        let bad = || format!("%!{verb}({}={})", go_type(arg), go_v(arg));
        match (verb, arg) {
            ('v', Value::Double(d)) => self.pad(self.sign(*d < 0.0, go_g(d.abs(), None)), true),
            ('v', Value::Int(i)) => self.pad(self.sign(*i < 0, i.unsigned_abs().to_string()), true),
            ('v', v) => self.pad(go_v(v), false),
            ('d', Value::Int(i)) => {
                let mut digits = i.unsigned_abs().to_string();
                if let Some(p) = self.prec {
                    while digits.len() < p {
                        digits.insert(0, '0');
                    }
                }
                self.pad(self.sign(*i < 0, digits), self.prec.is_none())
            }
            ('b' | 'o' | 'x' | 'X', Value::Int(i)) => {
                let u = i.unsigned_abs();
                let (digits, prefix) = match verb {
                    'b' => (format!("{u:b}"), "0b"),
                    'o' => (format!("{u:o}"), "0"),
                    'x' => (format!("{u:x}"), "0x"),
                    _ => (format!("{u:X}"), "0X"),
                };
                let digits = if self.sharp {
                    format!("{prefix}{digits}")
                } else {
                    digits
                };
                self.pad(self.sign(*i < 0, digits), true)
            }
            ('c', Value::Int(i)) => self.pad(
                char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string(),
                false,
            ),
            ('f' | 'F', Value::Double(d)) => {
                let p = self.prec.unwrap_or(6);
                self.pad(self.sign(*d < 0.0, format!("{:.*}", p, d.abs())), true)
            }
            ('e' | 'E', Value::Double(d)) => {
                let p = self.prec.unwrap_or(6);
                let s = format!("{:.*e}", p, d.abs());
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let e: i32 = e.parse().unwrap_or(0);
                let s = format!(
                    "{m}{}{}{:02}",
                    if verb == 'e' { 'e' } else { 'E' },
                    if e < 0 { '-' } else { '+' },
                    e.abs()
                );
                self.pad(self.sign(*d < 0.0, s), true)
            }
            ('g' | 'G', Value::Double(d)) => {
                let s = go_g(d.abs(), self.prec);
                let s = if verb == 'G' { s.to_uppercase() } else { s };
                self.pad(self.sign(*d < 0.0, s), true)
            }
            ('s', Value::Str(s)) => {
                let s = match self.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                };
                self.pad(s, false)
            }
            ('s', Value::Bytes(b)) => self.pad(String::from_utf8_lossy(b).into_owned(), false),
            ('x' | 'X', Value::Str(s)) => {
                let h = hex(s.as_bytes());
                self.pad(if verb == 'X' { h.to_uppercase() } else { h }, false)
            }
            ('x' | 'X', Value::Bytes(b)) => {
                let h = hex(b);
                self.pad(if verb == 'X' { h.to_uppercase() } else { h }, false)
            }
            ('q', Value::Str(s)) => {
                self.pad(serde_json::Value::String(s.clone()).to_string(), false)
            }
            ('t', Value::Bool(b)) => self.pad(b.to_string(), false),
            ('d', Value::Duration(n)) => {
                self.pad(self.sign(*n < 0, n.unsigned_abs().to_string()), true)
            }
            ('s', Value::Map(_) | Value::List(_) | Value::Duration(_) | Value::Time(..)) => {
                self.pad(go_v(arg), false)
            }
            _ => bad(),
        }
    }
}

/// `ConvertCase` (and `ToSnakeCase`/`ToCamelCase`): lower and upper as Go's `strings`, snake
/// and camel as iancoleman/strcase (v0.3), which Go's OTTL uses. strcase works on ASCII bytes:
/// snake inserts `_` where the case changes (`myHTTPServer` → `my_http_server`, `v2beta` →
/// `v_2_beta`) and turns ` `, `-`, `.` into `_`; camel upper-cases the start of each word and
/// what follows a digit, and drops separators and every other byte.
pub fn convert_case(s: &str, case: &str) -> String {
    match case {
        "lower" => s.to_lowercase(),
        "upper" => s.to_uppercase(),
        "snake" => strcase_snake(s),
        _ => strcase_camel(s),
    }
}

fn strcase_snake(s: &str) -> String {
    let b = s.trim().as_bytes();
    let mut out = Vec::with_capacity(b.len() + 2);
    for (i, &c) in b.iter().enumerate() {
        let (is_cap, is_low) = (c.is_ascii_uppercase(), c.is_ascii_lowercase());
        let v = c.to_ascii_lowercase();
        if let Some(&next) = b.get(i + 1) {
            let is_num = v.is_ascii_digit();
            let (next_cap, next_low, next_num) = (
                next.is_ascii_uppercase(),
                next.is_ascii_lowercase(),
                next.is_ascii_digit(),
            );
            if (is_cap && (next_low || next_num))
                || (is_low && (next_cap || next_num))
                || (is_num && (next_cap || next_low))
            {
                // An acronym ends before its last capital: `HTTPServer` → `http_server`.
                if is_cap && next_low && i > 0 && b[i - 1].is_ascii_uppercase() {
                    out.push(b'_');
                }
                out.push(v);
                if is_low || is_num || next_num {
                    out.push(b'_');
                }
                continue;
            }
        }
        out.push(if matches!(v, b' ' | b'_' | b'-' | b'.') {
            b'_'
        } else {
            v
        });
    }
    // Only ASCII bytes were changed or inserted, so the UTF-8 of the rest is intact.
    String::from_utf8(out).unwrap_or_default()
}

fn strcase_camel(s: &str) -> String {
    let b = s.trim().as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut cap_next = true;
    for (i, &c) in b.iter().enumerate() {
        let v = if cap_next {
            c.to_ascii_uppercase()
        } else if i == 0 {
            c.to_ascii_lowercase()
        } else {
            c
        };
        if c.is_ascii_alphabetic() {
            out.push(v);
            cap_next = false;
        } else if c.is_ascii_digit() {
            out.push(v);
            cap_next = true;
        } else {
            cap_next = matches!(c, b'_' | b' ' | b'-' | b'.');
        }
    }
    String::from_utf8(out).unwrap_or_default()
}
