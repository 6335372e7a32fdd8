//! When to try a failed delivery again.

use std::time::{Duration, SystemTime};

/// Exponential backoff with full jitter: a random delay in `[0, min(max, initial * 2^attempts)]`.
/// The jitter spreads a backlog's retries out, so a control plane coming back up is not hit by
/// every pending result at the same instant.
pub(crate) fn backoff_delay(initial: Duration, max: Duration, attempts: u32) -> Duration {
    let ceiling = initial.saturating_mul(1u32.checked_shl(attempts.min(31)).unwrap_or(u32::MAX)).min(max);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(0..=ceiling_ms))
}

/// A `Retry-After` header: delay-seconds or an HTTP date. A date in the past means now.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for _ in 0..200 {
            assert!(backoff_delay(initial, max, 0) <= initial);
            assert!(backoff_delay(initial, max, 3) <= Duration::from_millis(800));
            assert!(backoff_delay(initial, max, 40) <= max);
        }
        // Full jitter still reaches beyond the initial delay once attempts add up.
        assert!((0..200).any(|_| backoff_delay(initial, max, 5) > initial));
    }

    #[test]
    fn retry_after_seconds_or_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
