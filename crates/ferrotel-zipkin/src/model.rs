//! The Zipkin v2 span model every wire format decodes into and encodes from: ids already
//! checked (a 64-bit trace id is left-padded to 16 bytes), times in microseconds as Zipkin
//! sends them.

use std::net::{Ipv4Addr, Ipv6Addr};

use ferrotel_pdata::json::scan::HEX_VALUES;

/// Zipkin's span kinds; a span without one (Zipkin's "local" span) has `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Server,
    Producer,
    Consumer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "CLIENT",
            Kind::Server => "SERVER",
            Kind::Producer => "PRODUCER",
            Kind::Consumer => "CONSUMER",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "CLIENT" => Kind::Client,
            "SERVER" => Kind::Server,
            "PRODUCER" => Kind::Producer,
            "CONSUMER" => Kind::Consumer,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub service_name: String,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// 0 for none.
    pub port: u16,
}

impl Endpoint {
    pub fn is_empty(&self) -> bool {
        self.service_name.is_empty() && self.ipv4.is_none() && self.ipv6.is_none() && self.port == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Microseconds since the epoch.
    pub timestamp: u64,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    /// 128 bits; a 64-bit Zipkin trace id is the low half (high bytes zero).
    pub trace_id: [u8; 16],
    pub id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub kind: Option<Kind>,
    pub name: String,
    /// Microseconds since the epoch; `None` when the sender left it out.
    pub timestamp: Option<u64>,
    /// Microseconds; `None` when left out.
    pub duration: Option<u64>,
    pub local_endpoint: Option<Endpoint>,
    pub remote_endpoint: Option<Endpoint>,
    pub annotations: Vec<Annotation>,
    /// In the order received (JSON objects and proto maps have no order Zipkin relies on).
    pub tags: Vec<(String, String)>,
    pub debug: bool,
    pub shared: bool,
}

/// A bad id: what it is and why.
pub fn parse_hex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let b = s.as_bytes();
    if b.len() > 2 * N || b.is_empty() {
        return Err(format!(
            "{what} {s:?} must be 1 to {} hex characters",
            2 * N
        ));
    }
    let mut out = [0u8; N];
    // Right-aligned: a shorter id is left-padded with zeros (64-bit trace ids, and the
    // shortened ids some v1 tracers send).
    let start = 2 * N - b.len();
    // Any non-hex character sets the high bit of `bad`; one check at the end.
    let mut bad = 0u8;
    if start == 0 {
        // The usual full-length id: two digits per byte.
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let (hi, lo) = (HEX_VALUES[pair[0] as usize], HEX_VALUES[pair[1] as usize]);
            bad |= hi | lo;
            *o = hi << 4 | (lo & 0x0F);
        }
    } else {
        for (i, &c) in b.iter().enumerate() {
            let v = HEX_VALUES[c as usize];
            bad |= v;
            let pos = start + i;
            out[pos / 2] |= if pos.is_multiple_of(2) {
                v << 4
            } else {
                v & 0x0F
            };
        }
    }
    if bad & 0x80 != 0 {
        return Err(format!("{what} {s:?} is not hexadecimal"));
    }
    Ok(out)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// A trace id as Zipkin writes it: 16 hex characters when the high half is zero.
pub fn trace_id_hex(id: &[u8; 16]) -> String {
    if id[..8] == [0; 8] {
        hex(&id[8..])
    } else {
        hex(id)
    }
}

/// Span ids and trace ids of all zeros are invalid in both Zipkin and OTLP.
pub fn check_ids(s: &Span) -> Result<(), String> {
    if s.trace_id == [0; 16] {
        return Err("traceId is all zeros".into());
    }
    if s.id == [0; 8] {
        return Err("id is all zeros".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_hex;

    /// Against `u64::from_str_radix`, the obvious reading: full and short ids, both cases, and
    /// every way to be wrong.
    #[test]
    fn parse_hex_reads_ids_as_from_str_radix_does() {
        for s in [
            "0123456789abcdef",
            "0123456789ABCDEF",
            "fFfFfFfFfFfFfFfF",
            "1",
            "abc",
            "00000000000000000",
            "",
            "0123456789abcdeg",
            "12 4",
            "+123",
            "é1",
        ] {
            let want = (!s.is_empty() && s.len() <= 16 && s.bytes().all(|c| c.is_ascii_hexdigit()))
                .then(|| u64::from_str_radix(s, 16).unwrap().to_be_bytes());
            assert_eq!(parse_hex::<8>(s, "id").ok(), want, "{s:?}");
        }
        let t = parse_hex::<16>("5af7183fb1d4cf5f352bff9a74ca9ad2", "").unwrap();
        assert_eq!(u128::from_be_bytes(t), 0x5af7183fb1d4cf5f352bff9a74ca9ad2);
        let short = parse_hex::<16>("352bff9a74ca9ad2", "").unwrap();
        assert_eq!(u128::from_be_bytes(short), 0x352bff9a74ca9ad2);
    }
}
