//! The web UI's files, embedded in the binary: no build step, nothing to install.

/// One embedded file.
pub struct Asset {
    /// The name under `/static/`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// Every file the UI ships. Adding one is one line here.
macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../assets/", $name)),
        }
    };
}

pub static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("util.js", "text/javascript; charset=utf-8"),
    asset!("search.js", "text/javascript; charset=utf-8"),
    asset!("trace.js", "text/javascript; charset=utf-8"),
    asset!("logs.js", "text/javascript; charset=utf-8"),
    asset!("metrics.js", "text/javascript; charset=utf-8"),
];

/// The page every UI route serves; its script routes on the path.
pub fn index() -> &'static Asset {
    find("index.html").expect("index.html is in ASSETS")
}

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// A strong validator per build: files change only with the binary.
pub fn etag(asset: &Asset) -> String {
    // FNV-1a: stable across runs and platforms, cheap, and collisions only cost a re-download.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in asset.body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}
