//! The `system` detector: the host's name (from `hostname_sources`), OS and hardware, as Go's
//! system detector reports them. Name lookups go through the C resolver (`getaddrinfo`,
//! `getnameinfo`: `/etc/hosts`, DNS, nsswitch), on the blocking pool and bounded by the
//! detection deadline.

use std::ffi::{CStr, CString};
use std::net::IpAddr;

use tokio::time::Instant;

use super::config::{Enabled, SystemConfig};
use super::detect::AttrValue;

/// The kernel's host name (`gethostname`).
pub fn os_hostname() -> Result<String, String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
    // unless truncated, which the last byte guards against.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if rc != 0 {
        return Err(format!(
            "failed getting OS hostname: {}",
            std::io::Error::last_os_error()
        ));
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).map_err(|_| "OS hostname is not UTF-8".to_owned())
}

/// Owns a `getaddrinfo` result list.
struct AddrInfo(*mut libc::addrinfo);

impl Drop for AddrInfo {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful getaddrinfo and is freed once.
        unsafe { libc::freeaddrinfo(self.0) }
    }
}

fn getaddrinfo(host: &str, flags: libc::c_int) -> Result<AddrInfo, String> {
    let c_host = CString::new(host).map_err(|_| format!("host name {host:?} contains NUL"))?;
    // SAFETY: zeroed addrinfo is a valid "no hints" value; we set the fields we need.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings and out-pointer; the result is owned by AddrInfo.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static string.
        let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(format!("lookup {host}: {}", msg.to_string_lossy()));
    }
    Ok(AddrInfo(res))
}

/// The canonical name of `host` (`getaddrinfo` with `AI_CANONNAME`), without a trailing dot:
/// the `dns` source (the hosts file, then DNS) and the `cname` source.
pub fn canonical_name(host: &str) -> Result<String, String> {
    let info = getaddrinfo(host, libc::AI_CANONNAME)?;
    // SAFETY: info.0 is a valid list head; ai_canonname is NULL or a C string.
    let name = unsafe {
        let first = &*info.0;
        if first.ai_canonname.is_null() {
            return Err(format!("lookup {host}: no canonical name"));
        }
        CStr::from_ptr(first.ai_canonname)
            .to_string_lossy()
            .into_owned()
    };
    let name = name.trim_end_matches('.');
    if name.is_empty() {
        return Err(format!("lookup {host}: empty canonical name"));
    }
    Ok(name.to_owned())
}

/// The `lookup` source: `host`'s addresses, then the first that has a reverse DNS name.
pub fn reverse_lookup(host: &str) -> Result<String, String> {
    let info = getaddrinfo(host, 0)?;
    let mut last_err = format!("lookup {host}: no addresses");
    let mut p = info.0;
    while !p.is_null() {
        // SAFETY: p walks the list getaddrinfo returned, which `info` keeps alive.
        let ai = unsafe { &*p };
        p = ai.ai_next;
        let mut name = [0 as libc::c_char; 1025];
        // SAFETY: ai_addr/ai_addrlen describe a valid sockaddr; `name` is writable.
        let rc = unsafe {
            libc::getnameinfo(
                ai.ai_addr,
                ai.ai_addrlen,
                name.as_mut_ptr(),
                name.len() as libc::socklen_t,
                std::ptr::null_mut(),
                0,
                libc::NI_NAMEREQD,
            )
        };
        if rc == 0 {
            // SAFETY: getnameinfo NUL-terminated the buffer.
            let n = unsafe { CStr::from_ptr(name.as_ptr()) }.to_string_lossy();
            return Ok(n.trim_end_matches('.').to_owned());
        }
        // SAFETY: gai_strerror returns a static string.
        let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        last_err = format!("reverse lookup of {host}: {}", msg.to_string_lossy());
    }
    Err(last_err)
}

/// `host.id`: the machine id (`/etc/machine-id`, then `/var/lib/dbus/machine-id`), as the Go
/// SDK's host id detector reads it on Linux.
pub fn host_id() -> Result<String, String> {
    let mut errors = Vec::new();
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        match std::fs::read_to_string(path) {
            Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
            Ok(_) => errors.push(format!("{path} is empty")),
            Err(e) => errors.push(format!("{path}: {e}")),
        }
    }
    Err(format!("failed to obtain host id: {}", errors.join("; ")))
}

/// `host.arch` in the semantic conventions' values (Go maps GOARCH the same way).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc" => "ppc32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

/// `os.type` in the semantic conventions' values.
pub fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// Key/values of `/etc/os-release` (or `/usr/lib/os-release`), quotes and escapes removed.
fn os_release() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = match v.as_bytes() {
                [q @ (b'"' | b'\''), .., e] if q == e && v.len() >= 2 => &v[1..v.len() - 1],
                _ => v,
            };
            let v = v
                .replace("\\$", "$")
                .replace("\\\"", "\"")
                .replace("\\'", "'")
                .replace("\\`", "`")
                .replace("\\\\", "\\");
            (k.trim().to_owned(), v)
        })
        .collect()
}

fn release_value<'a>(release: &'a [(String, String)], key: &str) -> &'a str {
    release
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

fn uname() -> Result<[String; 5], String> {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(format!("uname: {}", std::io::Error::last_os_error()));
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field within its array.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Ok([
        field(&u.sysname),
        field(&u.nodename),
        field(&u.release),
        field(&u.version),
        field(&u.machine),
    ])
}

/// `os.description` as the Go SDK composes it on Linux: the release (`NAME VERSION`, or
/// `PRETTY_NAME`) and, in parentheses, uname's five fields.
pub fn os_description() -> Result<String, String> {
    let uname = uname()?.join(" ");
    let release = os_release();
    let (name, mut version) = (
        release_value(&release, "NAME"),
        release_value(&release, "VERSION"),
    );
    if version.is_empty() {
        version = release_value(&release, "VERSION_ID");
    }
    let rel = if !name.is_empty() && !version.is_empty() {
        format!("{name} {version}")
    } else {
        release_value(&release, "PRETTY_NAME").to_owned()
    };
    Ok(if rel.is_empty() {
        uname
    } else {
        format!("{rel} ({uname})")
    })
}

/// `os.version`: the release's `VERSION_ID`, else the kernel release.
pub fn os_version() -> Result<String, String> {
    let release = os_release();
    let v = release_value(&release, "VERSION_ID");
    if !v.is_empty() {
        return Ok(v.to_owned());
    }
    Ok(uname()?[2].clone())
}

/// One interface address or hardware address, with the interface's index for ordering.
struct IfEntry {
    index: u32,
    ip: Option<IpAddr>,
    mac: Option<String>,
}

/// The addresses of the interfaces that are up and not loopback (`getifaddrs`), grouped by
/// interface in index order, as Go lists them.
fn interfaces() -> Result<Vec<IfEntry>, String> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: valid out-pointer; freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(format!("getifaddrs: {}", std::io::Error::last_os_error()));
    }
    let mut out = Vec::new();
    let mut p = head;
    while !p.is_null() {
        // SAFETY: p walks the list getifaddrs returned, freed only after the loop.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        let flags = ifa.ifa_flags;
        if ifa.ifa_addr.is_null() || flags & libc::IFF_LOOPBACK as libc::c_uint != 0 {
            continue;
        }
        // SAFETY: ifa_name is a C string.
        let index = unsafe { libc::if_nametoindex(ifa.ifa_name) };
        // SAFETY: ifa_addr is non-null; its family says which sockaddr it is.
        let family = unsafe { (*ifa.ifa_addr).sa_family } as libc::c_int;
        let up = flags & libc::IFF_UP as libc::c_uint != 0;
        match family {
            libc::AF_INET if up => {
                // SAFETY: AF_INET addresses are sockaddr_in.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let ip = IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes());
                out.push(IfEntry {
                    index,
                    ip: Some(ip),
                    mac: None,
                });
            }
            libc::AF_INET6 if up => {
                // SAFETY: AF_INET6 addresses are sockaddr_in6.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IfEntry {
                    index,
                    ip: Some(IpAddr::from(a.sin6_addr.s6_addr)),
                    mac: None,
                });
            }
            #[cfg(target_os = "linux")]
            libc::AF_PACKET => {
                // SAFETY: AF_PACKET addresses are sockaddr_ll.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_ll) };
                let len = (a.sll_halen as usize).min(a.sll_addr.len());
                if len > 0 {
                    let mac = a.sll_addr[..len]
                        .iter()
                        .map(|b| format!("{b:02X}"))
                        .collect::<Vec<_>>()
                        .join("-");
                    out.push(IfEntry {
                        index,
                        ip: None,
                        mac: Some(mac),
                    });
                }
            }
            _ => {}
        }
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out.sort_by_key(|e| e.index);
    Ok(out)
}

/// The first processor's `/proc/cpuinfo` fields.
fn cpuinfo() -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string("/proc/cpuinfo")
        .map_err(|e| format!("failed getting host cpuinfo: /proc/cpuinfo: {e}"))?;
    Ok(text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// The hostname from the first source that answers before `deadline`.
async fn hostname(sources: &[String], deadline: Instant) -> Result<String, String> {
    let default = ["dns".to_owned(), "os".to_owned()];
    let sources = if sources.is_empty() {
        &default[..]
    } else {
        sources
    };
    for source in sources {
        let source = source.clone();
        let result = if source == "os" {
            os_hostname()
        } else {
            // The resolver may wait on DNS: run it on the blocking pool, stop waiting at the
            // deadline (the lookup thread ends on its own).
            let task = tokio::task::spawn_blocking(move || {
                let host = os_hostname()?;
                match source.as_str() {
                    "dns" => canonical_name(&host)
                        .map_err(|e| format!("getFQDN failed getting FQDN: {e}")),
                    "cname" => canonical_name(&host)
                        .map_err(|e| format!("lookupCNAME failed to get CNAME: {e}")),
                    _ => reverse_lookup(&host)
                        .map_err(|e| format!("reverseLookupHost failed to lookup host: {e}")),
                }
            });
            match tokio::time::timeout_at(deadline, task).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => Err(format!("hostname lookup task failed: {e}")),
                Err(_) => Err("hostname lookup did not finish within the timeout".to_owned()),
            }
        };
        match result {
            Ok(h) => return Ok(h),
            Err(e) => {
                tracing::debug!(error = %e, "resource_detection: system: hostname source failed")
            }
        }
    }
    Err("all hostname sources failed to get hostname".to_owned())
}

/// Detects the enabled attributes, in Go's order.
pub async fn detect(
    cfg: &SystemConfig,
    on: &Enabled,
    deadline: Instant,
) -> Result<Vec<(String, AttrValue)>, String> {
    let mut out: Vec<(String, AttrValue)> = Vec::new();
    let mut put = |k: &str, v: AttrValue| out.push((k.to_owned(), v));
    let host = hostname(&cfg.hostname_sources, deadline).await?;
    if on.has("host.name") {
        put("host.name", AttrValue::Str(host));
    }
    if on.has("os.type") {
        put("os.type", AttrValue::Str(os_type().to_owned()));
    }
    if on.has("os.version") {
        put(
            "os.version",
            AttrValue::Str(os_version().map_err(|e| format!("failed getting OS version: {e}"))?),
        );
    }
    if on.has("host.id") {
        // Go logs and leaves host.id out when the machine id cannot be read.
        match host_id() {
            Ok(id) => put("host.id", AttrValue::Str(id)),
            Err(e) => {
                tracing::warn!(error = %e, "resource_detection: system: failed to get host ID")
            }
        }
    }
    if on.has("host.arch") {
        put("host.arch", AttrValue::Str(host_arch().to_owned()));
    }
    if on.has("host.ip") || on.has("host.mac") {
        let ifs = interfaces().map_err(|e| format!("failed getting host IP addresses: {e}"))?;
        if on.has("host.ip") {
            let ips = ifs
                .iter()
                .filter_map(|e| e.ip)
                .filter(|ip| !ip.is_loopback())
                .map(|ip| ip.to_string())
                .collect();
            put("host.ip", AttrValue::StrList(ips));
        }
        if on.has("host.mac") {
            let mut macs: Vec<String> = Vec::new();
            for m in ifs.iter().filter_map(|e| e.mac.clone()) {
                if !macs.contains(&m) {
                    macs.push(m);
                }
            }
            put("host.mac", AttrValue::StrList(macs));
        }
    }
    if on.has("os.description") {
        put(
            "os.description",
            AttrValue::Str(
                os_description().map_err(|e| format!("failed getting OS description: {e}"))?,
            ),
        );
    }
    let cpu_keys = [
        "host.cpu.vendor.id",
        "host.cpu.family",
        "host.cpu.model.id",
        "host.cpu.model.name",
        "host.cpu.stepping",
        "host.cpu.cache.l2.size",
    ];
    if cpu_keys.iter().any(|k| on.has(k)) {
        let info = cpuinfo()?;
        let get = |k: &str| {
            info.iter()
                .find(|(key, _)| key == k)
                .map_or(String::new(), |(_, v)| v.clone())
        };
        if on.has("host.cpu.vendor.id") {
            put("host.cpu.vendor.id", AttrValue::Str(get("vendor_id")));
        }
        if on.has("host.cpu.family") {
            put("host.cpu.family", AttrValue::Str(get("cpu family")));
        }
        // Go leaves the model id out when the platform does not report it.
        let model = get("model");
        if on.has("host.cpu.model.id") && !model.is_empty() {
            put("host.cpu.model.id", AttrValue::Str(model));
        }
        if on.has("host.cpu.model.name") {
            put("host.cpu.model.name", AttrValue::Str(get("model name")));
        }
        if on.has("host.cpu.stepping") {
            let stepping = get("stepping").parse::<i64>().unwrap_or(0);
            put("host.cpu.stepping", AttrValue::Str(stepping.to_string()));
        }
        if on.has("host.cpu.cache.l2.size") {
            // "512 KB" → 512, the unit Go reports.
            let size = get("cache size")
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<i64>().ok())
                .unwrap_or(0);
            put("host.cpu.cache.l2.size", AttrValue::Int(size));
        }
    }
    for k in ["os.name", "os.build.id", "host.interface"] {
        if on.has(k) {
            tracing::warn!(
                attribute = k,
                "resource_detection: system: ferrotel does not detect this attribute yet; it is left out"
            );
        }
    }
    Ok(out)
}
