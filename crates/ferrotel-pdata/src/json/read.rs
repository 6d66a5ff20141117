//! A streaming JSON scanner tailored to OTLP/JSON.
//!
//! The decoders in `decode.rs` drive it directly, building the prost structs as they go: no
//! `serde_json::Value` tree, no allocation for keys (unless they contain escapes), and error
//! paths are built only when something fails (each level adds its key or index while the error
//! propagates out), so the success path carries no path bookkeeping at all.
//!
//! Public as [`crate::json::scan`] for the other JSON formats a collector reads straight into
//! OTLP bytes (Zipkin v2): the same SIMD string scan, no allocation for plain strings.

use std::borrow::Cow;

use base64::Engine as _;
use bytes::Bytes;

use crate::DecodeError;

/// Deepest nesting [`Reader::skip`] follows inside values of unknown fields. Recursion is
/// bounded so hostile input can never overflow the stack.
const MAX_SKIP_DEPTH: usize = 128;

/// One step of an error path, innermost first while the error propagates.
enum Seg {
    Key(String),
    Index(usize),
}

/// A decode error on its way out; converted to [`DecodeError`] at the top.
pub struct Error {
    path: Vec<Seg>,
    message: String,
}

/// Boxed so that `Result`s stay one word wide on the hot path.
pub type Res<T> = Result<T, Box<Error>>;

impl Error {
    fn boxed(message: String) -> Box<Error> {
        Box::new(Error {
            path: Vec::new(),
            message,
        })
    }

    /// The public error, with the path spelled as in OTLP/JSON: `a[0].b.c[3].d`.
    pub(crate) fn into_decode_error(self) -> DecodeError {
        let mut path = String::new();
        for seg in self.path.iter().rev() {
            match seg {
                Seg::Key(k) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                }
                Seg::Index(i) => {
                    path.push('[');
                    path.push_str(&i.to_string());
                    path.push(']');
                }
            }
        }
        DecodeError::new(path, self.message)
    }
}

/// Base64 as protobuf JSON accepts it: standard or URL-safe alphabet, padded or not.
const B64_STD: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);
const B64_URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Integer types the reader produces, with their protobuf names for error messages.
pub(crate) trait Int: Sized + TryFrom<i128> {
    const NAME: &'static str;
}
impl Int for i32 {
    const NAME: &'static str = "int32";
}
impl Int for u32 {
    const NAME: &'static str = "uint32";
}
impl Int for i64 {
    const NAME: &'static str = "int64";
}
impl Int for u64 {
    const NAME: &'static str = "uint64";
}

/// The scanner: a cursor over one JSON document.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        // A UTF-8 byte order mark is not JSON, but some tools write one; skipping it costs
        // nothing and spares users a confusing error.
        let pos = if buf.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        Reader { buf, pos }
    }

    // ---- errors -------------------------------------------------------------------------

    /// A semantic error at the current path (the caller's key is added as it propagates).
    pub fn err(&self, message: impl Into<String>) -> Box<Error> {
        Error::boxed(message.into())
    }

    /// A JSON syntax error at byte `at`, with line and column for humans.
    fn syntax_at(&self, at: usize, what: &str) -> Box<Error> {
        let at = at.min(self.buf.len());
        let before = &self.buf[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        // Columns count characters, not bytes, so count UTF-8 lead bytes only.
        let column = before[line_start..]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count()
            + 1;
        Error::boxed(format!(
            "invalid JSON at line {line} column {column} (byte {at}): {what}"
        ))
    }

    fn syntax(&self, what: &str) -> Box<Error> {
        self.syntax_at(self.pos, what)
    }

    /// Syntax error for an unexpected byte (or the end of input) at the current position.
    fn unexpected(&self, expected: &str) -> Box<Error> {
        match self.buf.get(self.pos) {
            None => self.syntax(&format!("unexpected end of input, expected {expected}")),
            Some(&b) if b.is_ascii_graphic() => self.syntax(&format!(
                "unexpected character '{}', expected {expected}",
                b as char
            )),
            Some(&b) => self.syntax(&format!("unexpected byte 0x{b:02x}, expected {expected}")),
        }
    }

    /// `expected {what}, got {the value at the cursor}`; a syntax error if the value is not
    /// even valid JSON.
    pub(crate) fn type_err(&mut self, what: &str) -> Box<Error> {
        let got = match self.peek() {
            Some(b'{') => "an object".to_string(),
            Some(b'[') => "an array".to_string(),
            Some(b't') => "true".to_string(),
            Some(b'f') => "false".to_string(),
            Some(b'n') => "null".to_string(),
            Some(b'"') => match self.string() {
                Ok(s) => quote(&s),
                Err(e) => return e,
            },
            Some(b'-' | b'0'..=b'9') => match self.number_token() {
                Ok(n) => n.to_string(),
                Err(e) => return e,
            },
            _ => return self.unexpected("a value"),
        };
        self.err(format!("expected {what}, got {got}"))
    }

    // ---- low-level scanning ------------------------------------------------------------

    #[inline]
    fn ws(&mut self) {
        // Compact JSON has no whitespace: one test settles the common case.
        if self.buf.get(self.pos).is_some_and(|&b| b > b' ') {
            return;
        }
        while let Some(&b) = self.buf.get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.buf.get(self.pos).copied()
    }

    fn literal(&mut self, lit: &[u8]) -> Res<()> {
        if self.buf[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(self.unexpected("a value"))
        }
    }

    /// After the top-level value only whitespace may follow.
    pub fn end(&mut self) -> Res<()> {
        if self.peek().is_some() {
            return Err(self.syntax("trailing characters after the top-level value"));
        }
        Ok(())
    }

    /// Scans a JSON number and returns its text. Validates the JSON grammar
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number_token(&mut self) -> Res<&'a str> {
        let start = self.pos;
        match number_len(&self.buf[start..]) {
            Some(len) => {
                self.pos += len;
                let token = &self.buf[start..self.pos];
                debug_assert!(token.is_ascii());
                // SAFETY: the number grammar admits ASCII digits, '-', '+', '.', 'e', 'E' only.
                Ok(unsafe { std::str::from_utf8_unchecked(token) })
            }
            None => Err(self.syntax_at(start, "invalid number")),
        }
    }

    /// Reads a JSON string (cursor at the opening quote after whitespace). Borrows from the
    /// input unless the string contains escapes.
    #[inline(always)]
    pub fn string(&mut self) -> Res<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return Err(self.type_err("a string"));
        }
        match self.plain_string() {
            Some(s) => Ok(Cow::Borrowed(s)),
            None => self.string_slow(),
        }
    }

    /// The fast path of [`Reader::string`] (cursor at the opening quote): a string without
    /// escapes or control characters, closed before the end of input and valid UTF-8, which
    /// it consumes and returns. `None`, consuming nothing, for anything else; the slow path
    /// then reads it again from the quote and decides.
    #[inline(always)]
    fn plain_string(&mut self) -> Option<&'a str> {
        let start = self.pos + 1;
        let (i, non_ascii) = scan_plain(self.buf, start)?;
        if self.buf.get(i) != Some(&b'"') {
            return None;
        }
        let raw = &self.buf[start..i];
        let s = if non_ascii {
            std::str::from_utf8(raw).ok()?
        } else {
            debug_assert!(raw.is_ascii());
            // SAFETY: every byte of `raw` is below 0x80, so it is ASCII and valid UTF-8.
            unsafe { std::str::from_utf8_unchecked(raw) }
        };
        self.pos = i + 1;
        Some(s)
    }

    /// [`Reader::string`] for strings with escapes, and every error (cursor at the quote).
    #[cold]
    #[inline(never)]
    fn string_slow(&mut self) -> Res<Cow<'a, str>> {
        let start = self.pos + 1;
        let mut i = start;
        // The escape-free prefix: stop at the first backslash, or fail at the first defect.
        loop {
            match self.buf.get(i) {
                None => return Err(self.syntax_at(i, "unterminated string")),
                Some(b'"') => {
                    let raw = &self.buf[start..i];
                    let s = std::str::from_utf8(raw)
                        .map_err(|e| self.syntax_at(start + e.valid_up_to(), "invalid UTF-8"))?;
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => {
                    return Err(self.syntax_at(i, "control character in string"));
                }
                Some(_) => i += 1,
            }
        }
        // Escapes: unescape into an owned buffer, after the escape-free prefix.
        let mut out = self.buf[start..i].to_vec();
        self.pos = self.unescape(i, &mut out)?;
        String::from_utf8(out).map(Cow::Owned).map_err(|_| {
            // Re-validate the raw bytes to point at the offending byte.
            let raw = &self.buf[start..self.pos - 1];
            let at = std::str::from_utf8(raw)
                .err()
                .map_or(0, |e| e.valid_up_to());
            self.syntax_at(start + at, "invalid UTF-8")
        })
    }

    /// Like [`Reader::string`], but a string with escapes is unescaped into `scratch`
    /// (cleared first) instead of a new allocation, for the transcoder, which copies it out
    /// at once. Accepts exactly what [`Reader::string`] accepts; its errors may differ.
    #[inline]
    pub(crate) fn string_in<'s>(&mut self, scratch: &'s mut Vec<u8>) -> Res<&'s str>
    where
        'a: 's,
    {
        if self.peek() != Some(b'"') {
            return Err(self.type_err("a string"));
        }
        if let Some(s) = self.plain_string() {
            return Ok(s);
        }
        self.string_in_slow(scratch)
    }

    #[cold]
    #[inline(never)]
    fn string_in_slow<'s>(&mut self, scratch: &'s mut Vec<u8>) -> Res<&'s str> {
        scratch.clear();
        self.pos = self.unescape(self.pos + 1, scratch)?;
        std::str::from_utf8(scratch).map_err(|_| self.err("invalid UTF-8"))
    }

    /// Appends the unescaped bytes of the string whose contents start at `start` to `out`
    /// and returns the position after its closing quote. UTF-8 is the caller's to check.
    fn unescape(&self, start: usize, out: &mut Vec<u8>) -> Res<usize> {
        let mut i = start;
        loop {
            // Copy the run up to the next quote, backslash or control character at once.
            let run = self.buf[i..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(self.buf.len() - i);
            out.extend_from_slice(&self.buf[i..i + run]);
            i += run;
            match self.buf.get(i) {
                None => return Err(self.syntax_at(i, "unterminated string")),
                Some(b'"') => return Ok(i + 1),
                Some(b'\\') => {
                    let esc = self.buf.get(i + 1).copied();
                    i += 2;
                    match esc {
                        Some(b'"') => out.push(b'"'),
                        Some(b'\\') => out.push(b'\\'),
                        Some(b'/') => out.push(b'/'),
                        Some(b'b') => out.push(0x08),
                        Some(b'f') => out.push(0x0C),
                        Some(b'n') => out.push(b'\n'),
                        Some(b'r') => out.push(b'\r'),
                        Some(b't') => out.push(b'\t'),
                        Some(b'u') => {
                            let hi = self.hex4(i)?;
                            i += 4;
                            let c = if (0xD800..0xDC00).contains(&hi) {
                                // A high surrogate must be followed by an escaped low one.
                                if self.buf.get(i) != Some(&b'\\')
                                    || self.buf.get(i + 1) != Some(&b'u')
                                {
                                    return Err(self.syntax_at(i, "unpaired surrogate in string"));
                                }
                                let lo = self.hex4(i + 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.syntax_at(i, "unpaired surrogate in string"));
                                }
                                i += 6;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.syntax_at(i - 6, "unpaired surrogate in string"));
                            } else {
                                hi
                            };
                            let c = char::from_u32(c).unwrap_or('\u{FFFD}');
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        _ => return Err(self.syntax_at(i - 1, "invalid escape in string")),
                    }
                }
                Some(_) => return Err(self.syntax_at(i, "control character in string")),
            }
        }
    }

    fn hex4(&self, at: usize) -> Res<u32> {
        let mut v = 0u32;
        for k in 0..4 {
            let d = self
                .buf
                .get(at + k)
                .and_then(|&b| (b as char).to_digit(16))
                .ok_or_else(|| self.syntax_at(at + k, "invalid \\u escape in string"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    // ---- structure -----------------------------------------------------------------------

    /// Reads an object, calling `f` with each key; `f` must consume the value. Members whose
    /// value is `null` are skipped without calling `f`: protobuf JSON treats null as absent.
    pub(crate) fn object(&mut self, mut f: impl FnMut(&mut Self, &str) -> Res<()>) -> Res<()> {
        self.members_inner(true, |r, key| f(r, &key))
    }

    /// Reads an object, calling `f` with each key (borrowed from the input unless it holds
    /// escapes), `null` values included: for formats where a null member is still a member,
    /// e.g. to refuse a key given twice. `f` must consume the value.
    pub fn members(&mut self, f: impl FnMut(&mut Self, Cow<'a, str>) -> Res<()>) -> Res<()> {
        self.members_inner(false, f)
    }

    #[inline]
    fn members_inner(
        &mut self,
        skip_null: bool,
        mut f: impl FnMut(&mut Self, Cow<'a, str>) -> Res<()>,
    ) -> Res<()> {
        if self.peek() != Some(b'{') {
            return Err(self.type_err("an object"));
        }
        self.pos += 1;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a string key"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            if self.peek() != Some(b':') {
                return Err(self.unexpected("':'"));
            }
            self.pos += 1;
            if skip_null && self.peek() == Some(b'n') {
                self.literal(b"null").map_err(|e| push_key(e, &key))?;
            } else {
                // `f` takes the key; an error reads it again to name it (cold).
                f(self, key).map_err(|e| push_key(e, &self.key_at(key_at)))?;
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("',' or '}'")),
            }
        }
    }

    /// The key whose opening quote is at `at`, read again for an error path.
    #[cold]
    fn key_at(&self, at: usize) -> String {
        let mut r = Reader {
            buf: self.buf,
            pos: at,
        };
        r.string().map(Cow::into_owned).unwrap_or_default()
    }

    /// Consumes a `null` if one is next: whether it did.
    pub fn null(&mut self) -> Res<bool> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        self.literal(b"null").map(|()| true)
    }

    /// An integer written as plain JSON digits, `-?(0|[1-9][0-9]*)` of at most 19 digits, as
    /// serde_json reads integer types. Anything else, a fraction, an exponent or a string
    /// included, is an error.
    pub fn plain_integer(&mut self) -> Res<i64> {
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return Err(self.type_err("an integer"));
        }
        match plain_int(&self.buf[self.pos..]) {
            // 19 digits fit i64 but for the top of the range; the rest is refused.
            Some((v, len)) => {
                let v = i64::try_from(v).map_err(|_| self.err("integer out of range"))?;
                self.pos += len;
                Ok(v)
            }
            None => Err(self.err("expected a plain integer")),
        }
    }

    /// A `u64` written as plain JSON digits, `0|[1-9][0-9]*`, up to `u64::MAX`; anything
    /// else (a sign, a fraction, an exponent, a string, overflow) is an error.
    pub fn plain_u64(&mut self) -> Res<u64> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.type_err("an unsigned integer"));
        }
        let b = &self.buf[self.pos..];
        let mut v = 0u64;
        let mut i = 0;
        while let Some(&d) = b.get(i) {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit)))
                .ok_or_else(|| self.err("integer out of range for uint64"))?;
            i += 1;
        }
        let leading_zero = i > 1 && b[0] == b'0';
        if leading_zero || matches!(b.get(i), Some(b'.' | b'e' | b'E' | b'+' | b'-')) {
            return Err(self.err("expected a plain unsigned integer"));
        }
        self.pos += i;
        Ok(v)
    }

    /// Reads an array, calling `f` with each index; `f` must consume the element.
    pub fn array(&mut self, mut f: impl FnMut(&mut Self, usize) -> Res<()>) -> Res<()> {
        if self.peek() != Some(b'[') {
            return Err(self.type_err("an array"));
        }
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        let mut i = 0;
        loop {
            f(self, i).map_err(|mut e| {
                e.path.push(Seg::Index(i));
                e
            })?;
            i += 1;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    /// Reads an array whose elements `f` decodes.
    pub(crate) fn vec<T>(&mut self, mut f: impl FnMut(&mut Self) -> Res<T>) -> Res<Vec<T>> {
        let mut v = Vec::new();
        self.array(|r, _| {
            v.push(f(r)?);
            Ok(())
        })?;
        Ok(v)
    }

    /// Skips any JSON value (the value of an unknown field), validating its syntax.
    pub fn skip(&mut self) -> Res<()> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Res<()> {
        if depth > MAX_SKIP_DEPTH {
            return Err(self.err(format!(
                "nesting deeper than {MAX_SKIP_DEPTH} levels in an unknown field"
            )));
        }
        match self.peek() {
            Some(b'{') => self.object(|r, _| r.skip_at(depth + 1)),
            Some(b'[') => self.array(|r, _| r.skip_at(depth + 1)),
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number_token().map(drop),
            _ => Err(self.unexpected("a value")),
        }
    }

    // ---- scalars -------------------------------------------------------------------------

    pub(crate) fn owned_string(&mut self) -> Res<String> {
        self.string().map(Cow::into_owned)
    }

    pub fn bool(&mut self) -> Res<bool> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|_| true),
            Some(b'f') => self.literal(b"false").map(|_| false),
            _ => Err(self.type_err("true or false")),
        }
    }

    /// An integer of type `T`, as a JSON number or a string holding one (protobuf JSON
    /// accepts both for every integer type; 64-bit ones are usually strings).
    pub(crate) fn int<T: Int>(&mut self) -> Res<T> {
        let v = match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                match parse_int(&s) {
                    Some(v) => v,
                    None => return Err(self.err(format!("expected an integer, got {}", quote(&s)))),
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                if let Some((v, len)) = plain_int(&self.buf[self.pos..]) {
                    self.pos += len;
                    v
                } else {
                    let n = self.number_token()?;
                    match parse_int(n) {
                        Some(v) => v,
                        None => return Err(self.err(format!("expected an integer, got {n}"))),
                    }
                }
            }
            _ => return Err(self.type_err("an integer")),
        };
        T::try_from(v).map_err(|_| self.err(format!("value out of range for {}: {v}", T::NAME)))
    }

    /// An enum value. The OTLP specification requires integers and forbids enum names
    /// ("the enum name strings MUST NOT be used"), so names are rejected with a clear message
    /// rather than accepted as plain protobuf JSON would.
    pub(crate) fn enumeration(&mut self) -> Res<i32> {
        if self.peek() == Some(b'"') {
            let s = self.string()?;
            return Err(self.err(format!(
                "expected an integer enum value, got {} (OTLP/JSON does not allow enum names)",
                quote(&s)
            )));
        }
        self.int::<i32>()
    }

    /// A double: a JSON number, or a string holding a number or `NaN`, `Infinity`,
    /// `-Infinity` (protobuf JSON's spelling of the non-finite values).
    pub(crate) fn f64(&mut self) -> Res<f64> {
        match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                match &*s {
                    "NaN" => Ok(f64::NAN),
                    "Infinity" => Ok(f64::INFINITY),
                    "-Infinity" => Ok(f64::NEG_INFINITY),
                    t if number_len(t.as_bytes()) == Some(t.len()) => Ok(t.parse().unwrap_or(0.0)),
                    _ => Err(self.err(format!("expected a number, got {}", quote(&s)))),
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let n = self.number_token()?;
                // The token passed the JSON grammar, which Rust's parser accepts in full.
                Ok(n.parse().unwrap_or(0.0))
            }
            _ => Err(self.type_err("a number")),
        }
    }

    /// A trace, span or profile id: hex (not base64, unlike plain protobuf JSON), any case,
    /// exactly `bytes` long, or empty for an absent id.
    pub(crate) fn hex_id(&mut self, bytes: usize) -> Res<Bytes> {
        self.hex_id_with(bytes, Bytes::copy_from_slice)
    }

    /// Like [`Reader::hex_id`], but hands the decoded id (empty for an absent one) to `f`
    /// from a stack buffer, so the transcoder writes it without a heap allocation.
    /// `bytes` is at most 16 (every OTLP id is 8 or 16 bytes).
    pub(crate) fn hex_id_with<T>(&mut self, bytes: usize, f: impl FnOnce(&[u8]) -> T) -> Res<T> {
        let s = self.string()?;
        if s.is_empty() {
            return Ok(f(&[]));
        }
        if s.len() != bytes * 2 || bytes > 16 {
            let chars = s.chars().count();
            if chars != bytes * 2 {
                return Err(self.err(format!(
                    "expected {} hex characters, got {chars}",
                    bytes * 2
                )));
            }
            // Right number of characters but some are not ASCII: report the first of them.
            return Err(self.bad_hex(&s));
        }
        let mut id = [0u8; 16];
        // Any non-hex character sets the high bit of `bad`.
        let mut bad = 0u8;
        for (out, pair) in id.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            let (hi, lo) = (HEX_VALUES[pair[0] as usize], HEX_VALUES[pair[1] as usize]);
            bad |= hi | lo;
            *out = hi << 4 | (lo & 0x0F);
        }
        if bad & 0x80 != 0 {
            return Err(self.bad_hex(&s));
        }
        Ok(f(&id[..bytes]))
    }

    /// Names the first non-hex character of `s`, by character position.
    fn bad_hex(&self, s: &str) -> Box<Error> {
        let (at, c) = s
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_hexdigit())
            .unwrap_or((0, '?'));
        self.err(format!(
            "invalid hex character {} at position {at}",
            quote(c.encode_utf8(&mut [0; 4]))
        ))
    }

    /// A bytes field in protobuf JSON's base64 (standard or URL-safe, padding optional).
    pub(crate) fn base64(&mut self) -> Res<Bytes> {
        let mut out = Vec::new();
        self.base64_into(&mut out)?;
        Ok(Bytes::from(out))
    }

    /// Like [`Reader::base64`], but appends the decoded bytes to `out` (the transcoder's
    /// output buffer). On error `out` may hold part of the value.
    pub(crate) fn base64_into(&mut self, out: &mut Vec<u8>) -> Res<()> {
        let s = self.string()?;
        let decoded = if s.contains(['-', '_']) {
            B64_URL.decode_vec(s.as_bytes(), out)
        } else {
            B64_STD.decode_vec(s.as_bytes(), out)
        };
        decoded.map_err(|e| self.err(format!("invalid base64: {e}")))
    }
}

fn push_key(mut e: Box<Error>, key: &str) -> Box<Error> {
    e.path.push(Seg::Key(key.to_owned()));
    e
}

/// A string as it appears in error messages: quoted, escaped, and cut short if long.
fn quote(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut:?}...")
    } else {
        format!("{s:?}")
    }
}

/// From `i`, finds the first quote, backslash or control character of `buf`: its position
/// and whether any byte before it is not ASCII. `None` if there is none before the end.
/// Sixteen bytes at a time with SSE2 (part of the x86_64 baseline), then eight with SWAR.
#[inline]
fn scan_plain(buf: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut non_ascii = false;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = buf.get(i..i + 16) {
        let (special, high) = sse2_special_bytes(chunk);
        if special != 0 {
            let n = special.trailing_zeros();
            non_ascii |= high & ((1u32 << n) - 1) != 0;
            return Some((i + n as usize, non_ascii));
        }
        non_ascii |= high != 0;
        i += 16;
    }
    let mut seen: u64 = 0;
    while let Some(chunk) = buf.get(i..i + 8) {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let special = special_bytes(v);
        if special != 0 {
            // The lowest flag is always a true one; only the bytes before it count.
            let n = (special.trailing_zeros() / 8) as usize;
            seen |= v & ((1u64 << (8 * n)) - 1);
            return Some((i + n, non_ascii || seen & 0x8080_8080_8080_8080 != 0));
        }
        seen |= v;
        i += 8;
    }
    // Fewer than eight bytes left in the input: byte by byte.
    let rest = buf.get(i..)?;
    let n = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    let non_ascii = non_ascii || seen & 0x8080_8080_8080_8080 != 0 || !rest[..n].is_ascii();
    Some((i + n, non_ascii))
}

/// For 16 bytes: a bit per byte that is `"`, `\\` or below 0x20, and a bit per byte that is
/// not ASCII.
#[cfg(target_arch = "x86_64")]
#[inline]
fn sse2_special_bytes(chunk: &[u8]) -> (u32, u32) {
    use std::arch::x86_64::*;
    assert!(chunk.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads 16 bytes of `chunk`,
    // which has at least that many (checked above; the check folds into the caller's).
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `v <= 0x1F` as `max(v, 0x1F) == 0x1F`.
        let low = _mm_set1_epi8(0x1F);
        let ctrl = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
        let special = _mm_or_si128(_mm_or_si128(quote, backslash), ctrl);
        (
            _mm_movemask_epi8(special) as u32,
            _mm_movemask_epi8(v) as u32,
        )
    }
}

/// The high bit of each byte of `v` that is `"`, `\\` or below 0x20, by the classic SWAR tests
/// (a zero byte of `x` shows as a set high bit in `(x - 0x01..) & !x & 0x80..`). A borrow can
/// flag a byte above a true match, never below one, so the lowest flag is exact.
#[inline]
fn special_bytes(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let ctrl = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
    zero(v ^ (ONES * b'"' as u64)) | zero(v ^ (ONES * b'\\' as u64)) | ctrl
}

/// The value of each hex digit (either case); 0xFF for every other byte (the high bit marks
/// a non-digit, so OR-ing the values of a run tells whether any was one).
pub static HEX_VALUES: [u8; 256] = {
    let mut t = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Length of the JSON number at the start of `b`, if it is one (and not followed directly
/// by more number characters, which would make it malformed).
fn number_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let digits = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == digits {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let digits = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == digits {
            return None;
        }
    }
    if matches!(
        b.get(i),
        Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
    ) {
        return None;
    }
    Some(i)
}

/// The common integer form at the start of `b`, `-?(0|[1-9][0-9]*)` with at most 19 digits
/// (that many fit a u64 without overflow checks; nanosecond timestamps have 19), as its value
/// and length. `None` for anything else, including a number that goes on with a fraction,
/// an exponent or more digits: the general path then decides, so this never accepts what it
/// would refuse.
#[inline]
fn plain_int(b: &[u8]) -> Option<(i128, usize)> {
    let negative = b.first() == Some(&b'-');
    let start = usize::from(negative);
    let mut v = 0u64;
    let mut i = start;
    while let Some(&d) = b.get(i) {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if i - start == 19 {
            return None; // a 20th digit
        }
        v = v * 10 + u64::from(digit);
        i += 1;
    }
    let digits = i - start;
    let leading_zero = digits > 1 && b[start] == b'0';
    let continues = matches!(b.get(i), Some(b'.' | b'e' | b'E' | b'+' | b'-'));
    if digits == 0 || leading_zero || continues {
        return None;
    }
    Some((
        if negative {
            -i128::from(v)
        } else {
            i128::from(v)
        },
        i,
    ))
}

/// Parses an integer written as a JSON number: plain digits exactly, or with a fraction or
/// exponent when the value is integral and exactly representable (`1e3`, `5.0`).
fn parse_int(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if let Some((v, len)) = plain_int(b)
        && len == b.len()
    {
        return Some(v);
    }
    if number_len(b) != Some(b.len()) {
        return None;
    }
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.iter().all(u8::is_ascii_digit) {
        // At most 39 digits fit i128; anything longer is out of range for every type we
        // produce, so saturate and let the caller's range check report it.
        return Some(
            s.parse::<i128>()
                .unwrap_or(if b[0] == b'-' { i128::MIN } else { i128::MAX }),
        );
    }
    let f: f64 = s.parse().ok()?;
    // Only integral values within f64's exact integer range convert without loss.
    if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
        Some(f as i128)
    } else {
        None
    }
}
