//! Hex parsing for ids without allocating; `lower_only` is W3C's and B3's rule (uppercase is
//! invalid), Jaeger's clients have written both cases.

#[inline]
fn digit(b: u8, lower_only: bool) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' if !lower_only => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses 1 to 32 hex digits.
pub(crate) fn parse_u128(s: &[u8], lower_only: bool) -> Option<u128> {
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    s.iter().try_fold(0u128, |acc, &b| {
        Some((acc << 4) | u128::from(digit(b, lower_only)?))
    })
}

/// Parses 1 to 16 hex digits.
pub(crate) fn parse_u64(s: &[u8], lower_only: bool) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        Some((acc << 4) | u64::from(digit(b, lower_only)?))
    })
}

/// Parses 1 or 2 hex digits.
pub(crate) fn parse_u8(s: &[u8], lower_only: bool) -> Option<u8> {
    if s.is_empty() || s.len() > 2 {
        return None;
    }
    s.iter()
        .try_fold(0u8, |acc, &b| Some((acc << 4) | digit(b, lower_only)?))
}

/// Trims the optional whitespace (`OWS`: spaces and horizontal tabs) of HTTP field values.
#[inline]
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

const UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Percent-encodes every byte of `value` for which `keep` is false (and `%` always).
pub(crate) fn percent_encode(value: &str, keep: impl Fn(u8) -> bool, out: &mut String) {
    for &b in value.as_bytes() {
        if b != b'%' && keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(UPPER[usize::from(b >> 4)]));
            out.push(char::from(UPPER[usize::from(b & 0xf)]));
        }
    }
}

/// Decodes `%XX` sequences; a `%` not followed by two hex digits stays as it is, and bytes that
/// do not form UTF-8 become U+FFFD (the W3C Baggage rule). Borrows when there is nothing to decode.
pub(crate) fn percent_decode(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains('%') {
        return std::borrow::Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hi) = bytes.get(i + 1).and_then(|&b| digit(b, false))
            && let Some(lo) = bytes.get(i + 2).and_then(|&b| digit(b, false))
        {
            out.push((hi << 4) | lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_rules() {
        assert_eq!(
            parse_u64(b"00f067aa0ba902b7", true),
            Some(0x00f0_67aa_0ba9_02b7)
        );
        assert_eq!(parse_u64(b"00F067AA0BA902B7", true), None);
        assert_eq!(
            parse_u64(b"00F067AA0BA902B7", false),
            Some(0x00f0_67aa_0ba9_02b7)
        );
        assert_eq!(parse_u64(b"", false), None);
        assert_eq!(parse_u64(b"00f067aa0ba902b70", false), None);
        assert_eq!(parse_u128(&[b'f'; 32], true), Some(u128::MAX));
        assert_eq!(parse_u8(b"0g", true), None);
    }

    #[test]
    fn percent_round_trip() {
        let mut s = String::new();
        percent_encode("a b,%;é", |b| b.is_ascii_alphanumeric(), &mut s);
        assert_eq!(s, "a%20b%2C%25%3B%C3%A9");
        assert_eq!(percent_decode(&s), "a b,%;é");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }
}
