//! Retries as Google's API guidance asks: 429, 500, 502, 503, 504 (and errors whose status is
//! `UNAVAILABLE`) and connection failures are retried for every call, with
//! exponential backoff and full jitter, honouring `Retry-After`, until the deadline of the
//! action the call serves (its resource's `timeouts`, see [`within`]). A 429 (quota) slows
//! the whole client down: every call waits out a cool-down, and fewer calls are let in flight
//! at once (halved on each 429, grown back by one per window of successes). A call that keeps
//! failing to connect marks the endpoint unreachable, so an apply stops starting actions.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

tokio::task_local! {
    /// When the action the current task serves must be done by (its `timeouts`).
    static DEADLINE: Instant;
    /// The current call must not be sent twice once it may have taken effect.
    static ONCE_ONLY: bool;
}

/// Runs `f` with its calls' retries bounded by `deadline` (an action's `timeouts`).
pub async fn within<F: Future>(deadline: Instant, f: F) -> F::Output {
    DEADLINE.scope(deadline, f).await
}

/// Runs `f`, whose call must not be repeated once it may have taken effect: a second
/// `jobs:run` would start a second execution (the API has no request id to deduplicate it).
/// It is still retried when it never reached the server (could not connect).
pub async fn once_only<F: Future>(f: F) -> F::Output {
    ONCE_ONLY.scope(true, f).await
}

/// The deadline [`within`] set for this task, if any.
pub fn deadline() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

pub fn is_once_only() -> bool {
    ONCE_ONLY.try_with(|o| *o).unwrap_or(false)
}

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

/// The most calls a client has in flight at once, before any 429 and when grown back.
pub const MAX_IN_FLIGHT: usize = 64;

/// How many calls may be in flight: halved by a 429, grown back by one after as many
/// successes as the limit (additive increase, multiplicative decrease).
#[derive(Debug)]
struct Window {
    limit: usize,
    in_flight: usize,
    successes: usize,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            limit: MAX_IN_FLIGHT,
            in_flight: 0,
            successes: 0,
        }
    }
}

/// State shared by a client and its clones: the quota cool-down, the calls in flight and
/// whether the endpoint is reachable.
#[derive(Debug, Default)]
pub struct Pressure {
    /// No call starts before this instant (set by a 429).
    cool_down_until: Mutex<Option<Instant>>,
    window: Mutex<Window>,
    /// Wakes calls waiting for room in the window.
    room: tokio::sync::Notify,
    unreachable: AtomicBool,
}

/// A call's place in the window; gives it back when dropped.
pub struct InFlight<'a>(&'a Pressure);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.window().in_flight -= 1;
        self.0.room.notify_waiters();
    }
}

impl Pressure {
    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for room in the window of calls in flight, and takes it.
    pub async fn enter(&self) -> InFlight<'_> {
        loop {
            // Registered before checking, so a place freed in between is not missed.
            let freed = self.room.notified();
            {
                let mut w = self.window();
                if w.in_flight < w.limit {
                    w.in_flight += 1;
                    return InFlight(self);
                }
            }
            freed.await;
        }
    }

    /// The calls allowed in flight now.
    pub fn limit(&self) -> usize {
        self.window().limit
    }

    /// A 429: half as many calls in flight (at least one).
    pub fn quota_exceeded(&self) {
        let mut w = self.window();
        w.limit = (w.limit.min(w.in_flight.max(1)) / 2).max(1);
        w.successes = 0;
    }

    /// A call that got an answer (not a 429): after `limit` of them, one more in flight.
    pub fn answered(&self) {
        let mut w = self.window();
        w.successes += 1;
        if w.successes >= w.limit && w.limit < MAX_IN_FLIGHT {
            w.limit += 1;
            w.successes = 0;
            drop(w);
            self.room.notify_waiters();
        }
    }

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

    #[tokio::test]
    async fn a_429_halves_the_calls_in_flight_and_successes_grow_them_back() {
        let p = std::sync::Arc::new(Pressure::default());
        let held: Vec<InFlight> = {
            let mut v = Vec::new();
            for _ in 0..10 {
                v.push(p.enter().await);
            }
            v
        };
        p.quota_exceeded();
        assert_eq!(p.limit(), 5);
        p.quota_exceeded();
        assert_eq!(p.limit(), 2);
        // With 10 still in flight, an eleventh waits until only one is left.
        let waiter = {
            let p = p.clone();
            tokio::spawn(async move {
                let _g = p.enter().await;
            })
        };
        let mut held = held;
        while held.len() > 2 {
            held.pop();
            tokio::task::yield_now().await;
            assert!(!waiter.is_finished(), "{} in flight", held.len());
        }
        held.pop();
        waiter.await.unwrap();
        for _ in 0..2 {
            p.answered();
        }
        assert_eq!(p.limit(), 3);
    }

    #[tokio::test]
    async fn deadlines_and_once_only_are_per_task() {
        assert_eq!(deadline(), None);
        let at = Instant::now() + Duration::from_secs(5);
        assert_eq!(within(at, async { deadline() }).await, Some(at));
        assert!(once_only(async { is_once_only() }).await);
        assert!(!is_once_only());
    }
}
