//! Cutting a file's bytes into records: newline, multiline (`line_start_pattern` /
//! `line_end_pattern`) or no split (`nop` encoding), each capped at `max_log_size`; trimming;
//! decoding to text. Mirrors the Go stanza split functions' contract: a function looks at the
//! unread bytes and either returns the next record and how far to advance, or asks for more.

use std::borrow::Cow;
use std::ops::Range;

use memchr::memmem;
use regex::bytes::Regex;

use crate::config::MultilineConfig;

/// The `encoding:` setting.
#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    /// UTF-8 (also `ascii`): invalid bytes become U+FFFD as in Go (see [`decode_utf8`]).
    Utf8,
    /// Bytes as they are: the body is a bytes value and records are not split on newlines.
    Nop,
    /// Any other WHATWG/IANA label (utf-16le, utf-16be, latin1, shift_jis...).
    Other(&'static encoding_rs::Encoding),
}

impl Encoding {
    pub fn lookup(name: &str) -> Result<Encoding, String> {
        match name.to_ascii_lowercase().as_str() {
            "" | "utf-8" | "utf8" | "ascii" | "us-ascii" => Ok(Encoding::Utf8),
            "nop" => Ok(Encoding::Nop),
            // Go's `utf-16`/`utf16` is little-endian without BOM handling.
            "utf-16" | "utf16" => Ok(Encoding::Other(encoding_rs::UTF_16LE)),
            other => encoding_rs::Encoding::for_label(other.as_bytes())
                .map(Encoding::Other)
                .ok_or_else(|| format!("unsupported encoding {name:?}")),
        }
    }

    /// Newline and carriage return are single bytes (multiline regexes can run on the raw bytes).
    pub fn is_ascii_compatible(self) -> bool {
        match self {
            Encoding::Utf8 | Encoding::Nop => true,
            Encoding::Other(e) => e.is_ascii_compatible(),
        }
    }

    /// `\n` and `\r` in this encoding.
    fn newline(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Encoding::Other(e) if e == encoding_rs::UTF_16LE => (b"\n\0", b"\r\0"),
            Encoding::Other(e) if e == encoding_rs::UTF_16BE => (b"\0\n", b"\0\r"),
            _ => (b"\n", b"\r"),
        }
    }
}

/// How records are delimited.
pub enum Multiline {
    Start { re: Regex, omit: bool },
    End { re: Regex, omit: bool },
}

impl Multiline {
    pub fn build(c: &MultilineConfig) -> Result<Option<Multiline>, String> {
        // Go compiles the patterns with `(?m)`: `^`/`$` match at line boundaries.
        let compile = |what: &str, p: &str| {
            Regex::new(&format!("(?m){p}")).map_err(|e| format!("{what}: invalid regex: {e}"))
        };
        match (
            c.line_start_pattern.is_empty(),
            c.line_end_pattern.is_empty(),
        ) {
            (true, true) => Ok(None),
            (false, true) => Ok(Some(Multiline::Start {
                re: compile("line_start_pattern", &c.line_start_pattern)?,
                omit: c.omit_pattern,
            })),
            (true, false) => Ok(Some(Multiline::End {
                re: compile("line_end_pattern", &c.line_end_pattern)?,
                omit: c.omit_pattern,
            })),
            (false, false) => {
                Err("only one of line_start_pattern or line_end_pattern can be set".into())
            }
        }
    }
}

/// One record found in the unread bytes: advance past `advance` bytes, the record is `token`.
#[derive(Debug, PartialEq)]
pub struct Token {
    pub advance: usize,
    pub token: Range<usize>,
}

/// The split function of one file.
pub struct Splitter {
    encoding: Encoding,
    multiline: Option<Multiline>,
    newline: memmem::Finder<'static>,
    newline_len: usize,
    carriage_return: &'static [u8],
    max_log_size: usize,
    trim_leading: bool,
    trim_trailing: bool,
}

impl Splitter {
    pub fn new(
        encoding: Encoding,
        multiline: Option<Multiline>,
        max_log_size: usize,
        preserve_leading: bool,
        preserve_trailing: bool,
    ) -> Splitter {
        let (nl, cr) = encoding.newline();
        Splitter {
            encoding,
            multiline,
            newline: memmem::Finder::new(nl),
            newline_len: nl.len(),
            carriage_return: cr,
            max_log_size: max_log_size.max(1),
            trim_leading: !preserve_leading,
            trim_trailing: !preserve_trailing,
        }
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The next record in `data`, or `None` when more bytes are needed. `flush` means no more
    /// bytes are coming for now (force flush period passed): what is left is a record.
    pub fn next(&self, data: &[u8], flush: bool) -> Option<Token> {
        if data.is_empty() {
            return None;
        }
        let found = match (&self.multiline, self.encoding) {
            (_, Encoding::Nop) => None,
            (None, _) => self.newline_token(data),
            (Some(Multiline::Start { re, omit }), _) => line_start(re, *omit, data, flush),
            (Some(Multiline::End { re, omit }), _) => line_end(re, *omit, data, flush),
        };
        match found {
            // A record longer than max_log_size is cut (as Go's scanner does when its buffer is full).
            Some(t) if t.token.end - t.token.start <= self.max_log_size => Some(t),
            _ if data.len() >= self.max_log_size => Some(Token {
                advance: self.max_log_size,
                token: 0..self.max_log_size,
            }),
            None if flush => Some(Token {
                advance: data.len(),
                token: 0..data.len(),
            }),
            None => None,
            Some(t) => Some(t),
        }
    }

    fn newline_token(&self, data: &[u8]) -> Option<Token> {
        // Only look as far as a record may be long: a huge unterminated line is cut, not scanned.
        let window = &data[..data.len().min(self.max_log_size + self.newline_len)];
        let i = self.newline.find(window)?;
        let mut end = i;
        if data[..i].ends_with(self.carriage_return) {
            end -= self.carriage_return.len();
        }
        Some(Token {
            advance: i + self.newline_len,
            token: 0..end,
        })
    }

    /// Trims whitespace as Go's `trim` settings do (for ASCII-compatible encodings; other
    /// encodings are trimmed after decoding).
    pub fn trim<'a>(&self, mut t: &'a [u8]) -> &'a [u8] {
        if !self.encoding.is_ascii_compatible() {
            return t;
        }
        if self.trim_leading {
            let n = t.iter().take_while(|b| is_space(**b)).count();
            t = &t[n..];
        }
        if self.trim_trailing {
            let n = t.iter().rev().take_while(|b| is_space(**b)).count();
            t = &t[..t.len() - n];
        }
        t
    }

    /// Text of a non-ASCII-compatible record, decoded then trimmed.
    pub fn decode_other(&self, t: &[u8]) -> String {
        let Encoding::Other(enc) = self.encoding else {
            return decode_utf8(t).into_owned();
        };
        let (text, _) = enc.decode_without_bom_handling(t);
        let mut s: &str = &text;
        if self.trim_leading {
            s = s.trim_start();
        }
        if self.trim_trailing {
            s = s.trim_end();
        }
        s.to_owned()
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn line_start(re: &Regex, omit: bool, data: &[u8], flush: bool) -> Option<Token> {
    let Some(first) = re.find(data) else {
        return flush.then_some(Token {
            advance: data.len(),
            token: 0..data.len(),
        });
    };
    if first.start() != 0 {
        // Text before the first start match is a record of its own (not lost).
        return Some(Token {
            advance: first.start(),
            token: 0..first.start(),
        });
    }
    if first.end() == data.len() {
        return None;
    }
    if flush {
        let from = if omit { first.end() } else { 0 };
        return Some(Token {
            advance: data.len(),
            token: from..data.len(),
        });
    }
    let offset = first.end() + 1;
    let second = re.find(&data[offset.min(data.len())..])?;
    let start = second.start() + offset;
    let from = if omit { first.end() } else { 0 };
    Some(Token {
        advance: start,
        token: from..start,
    })
}

fn line_end(re: &Regex, omit: bool, data: &[u8], flush: bool) -> Option<Token> {
    let Some(m) = re.find(data) else {
        return flush.then_some(Token {
            advance: data.len(),
            token: 0..data.len(),
        });
    };
    // A match reaching the end of what was read may grow with more bytes.
    if m.end() + 1 == data.len() && !flush {
        return None;
    }
    let end = if omit { m.start() } else { m.end() };
    Some(Token {
        advance: m.end(),
        token: 0..end,
    })
}

/// UTF-8 text with each invalid byte replaced by U+FFFD, except that an incomplete multi-byte
/// sequence (`e2 82` then not a continuation) is one U+FFFD: exactly what the Go Collector's
/// decoder does (checked by the equivalence test), and what `from_utf8_lossy` does.
pub fn decode_utf8(bytes: &[u8]) -> Cow<'_, str> {
    // Valid text is the common case, and `from_utf8` validates it word by word; the lossy
    // path (chunk by chunk) only for lines with invalid bytes.
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(String::from_utf8_lossy(bytes).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &Splitter, mut data: &[u8], flush: bool) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(t) = s.next(data, flush) {
            out.push(decode_utf8(s.trim(&data[t.token.clone()])).into_owned());
            data = &data[t.advance..];
        }
        out
    }

    #[test]
    fn newline_split_trims_cuts_and_waits_for_partial_lines() {
        let s = Splitter::new(Encoding::Utf8, None, 8, false, false);
        let got = all(&s, b"a\r\n  b  \n\n0123456789ab\npart", false);
        assert_eq!(got, ["a", "b", "", "01234567", "89ab"]);
        assert_eq!(all(&s, b"part", true), ["part"]);
    }

    #[test]
    fn line_start_keeps_text_before_the_first_match() {
        let m = Multiline::build(&MultilineConfig {
            line_start_pattern: r"^\d".into(),
            ..Default::default()
        })
        .unwrap();
        let s = Splitter::new(Encoding::Utf8, m, 1 << 20, false, false);
        let got = all(&s, b"pre\n1 a\n  cont\n2 b\n3 c", false);
        assert_eq!(got, ["pre", "1 a\n  cont", "2 b"]);
    }

    #[test]
    fn invalid_utf8_becomes_replacements_as_in_go() {
        assert_eq!(decode_utf8(b"a\xff\xfeb"), "a\u{FFFD}\u{FFFD}b");
        assert_eq!(decode_utf8(b"\xe2\x82"), "\u{FFFD}");
        assert_eq!(decode_utf8(b"\xe2\x82a\x80"), "\u{FFFD}a\u{FFFD}");
    }

    #[test]
    fn utf16_newlines() {
        let s = Splitter::new(
            Encoding::lookup("utf-16le").unwrap(),
            None,
            1024,
            false,
            false,
        );
        let data: Vec<u8> = "hé\nyo\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let t = s.next(&data, false).unwrap();
        assert_eq!(s.decode_other(&data[t.token]), "hé");
    }
}
