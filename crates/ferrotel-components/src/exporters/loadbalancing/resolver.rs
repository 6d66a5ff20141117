//! Where the backends come from: a fixed list (`static`) or a DNS name re-resolved
//! periodically (`dns`). Both return sorted `host:port` endpoints, as the ring expects.

use std::time::Duration;

use super::config::{DEFAULT_PORT, ResolverConfig};

pub enum Resolver {
    Static(Vec<String>),
    Dns {
        hostname: String,
        port: u16,
        interval: Duration,
        timeout: Duration,
    },
}

/// `host` → `host:4317`; addresses with a port (or a bracketed IPv6 with one) are kept.
pub fn with_default_port(endpoint: &str) -> String {
    let e = endpoint.trim();
    let has_port = match e.rfind(':') {
        Some(i) => !e.starts_with('[') || e[..i].ends_with(']'),
        None => false,
    };
    if has_port {
        e.to_string()
    } else {
        format!("{e}:{DEFAULT_PORT}")
    }
}

impl Resolver {
    pub fn from_config(c: &ResolverConfig) -> Result<Resolver, String> {
        if let Some(d) = &c.dns {
            return Ok(Resolver::Dns {
                hostname: d.hostname.clone(),
                port: d
                    .port
                    .parse()
                    .map_err(|_| format!("dns::port: invalid port {:?}", d.port))?,
                interval: d.interval,
                timeout: d.timeout,
            });
        }
        if let Some(s) = &c.r#static {
            let mut endpoints: Vec<String> =
                s.hostnames.iter().map(|h| with_default_port(h)).collect();
            endpoints.sort();
            endpoints.dedup();
            return Ok(Resolver::Static(endpoints));
        }
        if c.k8s.is_some() {
            return Err("the k8s resolver is not supported".into());
        }
        if c.aws_cloud_map.is_some() {
            return Err("the aws_cloud_map resolver is not supported".into());
        }
        Err("no resolvers specified for the exporter".into())
    }

    /// How often to resolve again; `None` for a static list.
    pub fn interval(&self) -> Option<Duration> {
        match self {
            Resolver::Static(_) => None,
            Resolver::Dns { interval, .. } => Some(*interval),
        }
    }

    /// The current endpoints, sorted and without duplicates.
    pub async fn resolve(&self) -> Result<Vec<String>, String> {
        match self {
            Resolver::Static(e) => Ok(e.clone()),
            Resolver::Dns {
                hostname,
                port,
                timeout,
                ..
            } => {
                let lookup = tokio::net::lookup_host((hostname.as_str(), *port));
                let addrs = tokio::time::timeout(*timeout, lookup)
                    .await
                    .map_err(|_| format!("resolving {hostname:?} timed out after {timeout:?}"))?
                    .map_err(|e| format!("resolving {hostname:?}: {e}"))?;
                // `[v6]:port` for IPv6, as Go writes them.
                let mut endpoints: Vec<String> = addrs.map(|a| a.to_string()).collect();
                endpoints.sort();
                endpoints.dedup();
                Ok(endpoints)
            }
        }
    }
}
