//! `processors::memory_limiter` configuration (same keys, defaults and checks as the Go
//! Collector's).

use std::time::Duration;

use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{ConfigError, duration};
use serde::Deserialize;

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryLimiterConfig {
    /// How often memory usage is measured (required, > 0).
    #[serde(deserialize_with = "duration::deserialize")]
    pub check_interval: Duration,
    /// The hard limit in MiB; takes precedence over `limit_percentage`.
    pub limit_mib: u32,
    /// Headroom below the hard limit where refusing starts; default 20 % of the limit.
    pub spike_limit_mib: u32,
    /// The hard limit as a percentage of the memory available (cgroup limit, else the
    /// machine's total).
    pub limit_percentage: u32,
    /// The spike headroom as a percentage of the memory available; default 20 % of the limit.
    pub spike_limit_percentage: u32,
    /// Least time between two requests to the allocator to return memory while above the soft
    /// limit (the Go Collector forces a GC at this pace).
    #[serde(deserialize_with = "duration::deserialize")]
    pub min_gc_interval_when_soft_limited: Duration,
    /// The same above the hard limit.
    #[serde(deserialize_with = "duration::deserialize")]
    pub min_gc_interval_when_hard_limited: Duration,
}

impl Default for MemoryLimiterConfig {
    fn default() -> Self {
        MemoryLimiterConfig {
            check_interval: Duration::ZERO,
            limit_mib: 0,
            spike_limit_mib: 0,
            limit_percentage: 0,
            spike_limit_percentage: 0,
            min_gc_interval_when_soft_limited: Duration::from_secs(10),
            min_gc_interval_when_hard_limited: Duration::ZERO,
        }
    }
}

/// The two thresholds, in bytes of resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Above this, data is refused.
    pub soft: u64,
    /// Above this, the allocator is also asked to return memory at once.
    pub hard: u64,
}

impl MemoryLimiterConfig {
    /// The limits in bytes. `available` gives the memory the percentages refer to; it is only
    /// called in percentage mode.
    pub fn limits(&self, available: impl FnOnce() -> Option<u64>) -> Result<Limits, String> {
        let (hard, spike) = if self.limit_mib > 0 {
            (
                u64::from(self.limit_mib) * MIB,
                u64::from(self.spike_limit_mib) * MIB,
            )
        } else {
            let total = available().ok_or(
                "limit_percentage is set but the available memory is unknown (no cgroup limit, no /proc/meminfo)",
            )?;
            (
                total / 100 * u64::from(self.limit_percentage),
                total / 100 * u64::from(self.spike_limit_percentage),
            )
        };
        // As in the Go Collector: no spike limit means 20 % of the limit.
        let spike = if spike == 0 { hard / 5 } else { spike };
        Ok(Limits {
            soft: hard.saturating_sub(spike),
            hard,
        })
    }
}

impl ComponentConfig for MemoryLimiterConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        // Same checks, order and wording as the Go Collector.
        if self.check_interval.is_zero() {
            return Err(ConfigError::field(
                "check_interval",
                "'check_interval' must be greater than zero",
            ));
        }
        if self.min_gc_interval_when_soft_limited < self.min_gc_interval_when_hard_limited {
            return Err(ConfigError::field(
                "min_gc_interval_when_soft_limited",
                "'min_gc_interval_when_soft_limited' should be larger than 'min_gc_interval_when_hard_limited'",
            ));
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            return Err(ConfigError::field(
                "limit_mib",
                "'limit_mib' or 'limit_percentage' must be greater than zero",
            ));
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            return Err(ConfigError::field(
                "limit_percentage",
                "'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred",
            ));
        }
        if self.limit_mib > 0 && self.limit_mib <= self.spike_limit_mib {
            return Err(ConfigError::field(
                "spike_limit_mib",
                "'spike_limit_mib' must be smaller than 'limit_mib'",
            ));
        }
        if self.limit_percentage > 0 && self.limit_percentage <= self.spike_limit_percentage {
            return Err(ConfigError::field(
                "spike_limit_percentage",
                "'spike_limit_percentage' must be smaller than 'limit_percentage'",
            ));
        }
        Ok(())
    }
}
