//! Span timestamps.

use std::time::SystemTime;

/// The wall-clock time now.
#[inline]
pub(crate) fn now() -> SystemTime {
    SystemTime::now()
}
