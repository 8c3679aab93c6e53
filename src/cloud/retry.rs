//! Retries as Google's API guidance asks: 429, 500, 502, 503, 504 (and errors whose status is
//! `UNAVAILABLE`) and connection failures are retried for every call, with
//! exponential backoff and full jitter, honouring `Retry-After`. A 429 (quota) slows every
//! call of the client down for a while, not just the one that got it. A call that keeps
//! failing to connect marks the endpoint unreachable, so an apply stops starting actions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How a client retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The first backoff's upper bound; each retry doubles it, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// The longest a call keeps retrying (the provider's default operation timeout).
    pub budget: Duration,
    /// Attempts at a call that cannot connect before the endpoint counts as down.
    pub connect_attempts: u32,
}

impl RetryPolicy {
    /// Google: 1 s doubling to 32 s, for up to 20 minutes.
    pub const GOOGLE: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(32),
        budget: Duration::from_secs(20 * 60),
        connect_attempts: 5,
    };
    /// An emulator or the local runtime on this machine: the same shape, quicker.
    pub const LOCAL: RetryPolicy = RetryPolicy {
        base: Duration::from_millis(20),
        cap: Duration::from_secs(1),
        budget: Duration::from_secs(20 * 60),
        connect_attempts: 4,
    };

    /// The wait before retry number `attempt` (0-based): uniform in [0, min(cap, base·2^n)].
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cap);
        ceiling.mul_f64(rand::random::<f64>())
    }
}

/// Is an answer worth retrying as it is: the status, or the error body's gRPC status name?
pub fn retryable(status: u16, body: &[u8]) -> bool {
    if matches!(status, 429 | 500 | 502 | 503 | 504) {
        return true;
    }
    if status < 400 {
        return false;
    }
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["status"].as_str().map(str::to_string))
        .unwrap_or_default();
    // `ABORTED` (a concurrent change: an IAM policy's etag moved on) is retried by whoever
    // built the request, after reading again: the same request would fail the same way.
    code == "UNAVAILABLE"
}

/// A `Retry-After` header's wait (seconds; an HTTP date is read as "soon").
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let v = value?.trim();
    match v.parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs.min(3600))),
        Err(_) if !v.is_empty() => Some(Duration::from_secs(1)),
        Err(_) => None,
    }
}

/// State shared by a client and its clones: the quota cool-down and whether the endpoint is
/// reachable.
#[derive(Debug, Default)]
pub struct Pressure {
    /// No call starts before this instant (set by a 429).
    cool_down_until: Mutex<Option<Instant>>,
    unreachable: AtomicBool,
}

impl Pressure {
    /// Waits out a cool-down in force.
    pub async fn wait_turn(&self) {
        let until = *self
            .cool_down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(t) = until {
            tokio::time::sleep_until(t).await;
        }
    }

    /// A 429: every call of this client waits `wait` before starting.
    pub fn slow_down(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut g = self
            .cool_down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if g.is_none_or(|t| t < until) {
            *g = Some(until);
        }
    }

    pub fn mark_unreachable(&self) {
        self.unreachable.store(true, Ordering::Relaxed);
    }

    pub fn mark_reachable(&self) {
        self.unreachable.store(false, Ordering::Relaxed);
    }

    pub fn unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Relaxed)
    }
}

/// Calls that must not be sent twice once they may have taken effect: a second `jobs:run`
/// would start a second execution (the API has no request id to deduplicate it).
pub fn unsafe_to_repeat(method: &reqwest::Method, url: &str) -> bool {
    *method == reqwest::Method::POST && url.split('?').next().unwrap_or("").ends_with(":run")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_retried() {
        for s in [429, 500, 502, 503, 504] {
            assert!(retryable(s, b""), "{s}");
        }
        assert!(!retryable(400, b"{}"));
        assert!(!retryable(404, b""));
        assert!(!retryable(409, br#"{"error": {"status": "ABORTED"}}"#));
        assert!(!retryable(
            409,
            br#"{"error": {"status": "ALREADY_EXISTS"}}"#
        ));
        assert!(retryable(400, br#"{"error": {"status": "UNAVAILABLE"}}"#));
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let p = RetryPolicy::GOOGLE;
        for attempt in 0..30 {
            let d = p.backoff(attempt);
            assert!(d <= p.cap);
            assert!(d <= p.base.saturating_mul(1 << attempt.min(20)));
        }
        let waits: std::collections::BTreeSet<u128> =
            (0..20).map(|_| p.backoff(5).as_nanos()).collect();
        assert!(waits.len() > 1, "full jitter: the waits differ");
        assert_eq!(retry_after(Some("7")), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")),
            Some(Duration::from_secs(1))
        );
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn runs_are_not_repeated() {
        assert!(unsafe_to_repeat(
            &reqwest::Method::POST,
            "http://x/v2/projects/p/locations/l/jobs/j:run"
        ));
        assert!(!unsafe_to_repeat(
            &reqwest::Method::POST,
            "http://x/v2/projects/p/locations/l/jobs?jobId=j"
        ));
    }
}
