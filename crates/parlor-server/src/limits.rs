//! Limits against abuse that are not about sizes: request rates and per-session caps.
//!
//! * [`RestRateLimiter`] — REST requests per credential (a project's API key or a Vonage
//!   application's ID), checked right after authentication: past the rate the answer is
//!   429 with `Retry-After`.
//! * [`SignalRateLimiter`] — `signal` requests per WebSocket connection: past the rate the
//!   request is answered `limitExceeded` (reason `rate_limited`) at once, never queued.
//! * [`SessionCaps`] — connections, streams and subscriptions one session may hold; the
//!   room refuses the one over the cap (`limitExceeded` with reason `session_full`,
//!   `stream_limit` or `subscription_limit`).
//!
//! Rates are GCRA (the `governor` crate): a steady rate with a burst of twice the
//! per-second figure, so a client that sends in bursts but stays under the rate on
//! average is never refused. The other size and time limits live where they are enforced
//! (`api::MAX_BODY_BYTES`, `config::HttpLimits`, `signaling::connection`).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

/// Default REST requests per second per credential (burst: twice as many).
pub const DEFAULT_REST_RATE: u32 = 100;
/// Default `signal` requests per second per connection (burst: twice as many).
pub const DEFAULT_SIGNAL_RATE: u32 = 50;
/// Default most connections in one session.
pub const DEFAULT_MAX_CONNECTIONS_PER_SESSION: usize = 2000;
/// Default most streams published in one session at once.
pub const DEFAULT_MAX_STREAMS_PER_SESSION: usize = 250;
/// Default most subscriptions in one session at once (over all its subscribers).
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION: usize = 10_000;

/// Most connections in one relayed session (`p2p.preference=enabled`): every publisher
/// sends its media once per subscriber, so OpenTok advises relayed sessions for two or three
/// participants; the next connect is refused (`session_full`) and larger calls need a
/// routed session.
pub const MAX_RELAYED_CONNECTIONS: usize = 4;

/// The error `reason` of a `publish` or `subscribe` with an SDP offer in a relayed session
/// (a client that cannot connect peer to peer).
pub const REASON_RELAYED_SESSION: &str = "relayed_session";
/// The error `reason` of a `signal` refused by [`SignalRateLimiter`].
pub const REASON_RATE_LIMITED: &str = "rate_limited";
/// The error `reason` of a `connect` refused by [`SessionCaps::connections`].
pub const REASON_SESSION_FULL: &str = "session_full";
/// The error `reason` of a `publish` refused by [`SessionCaps::streams`].
pub const REASON_STREAM_LIMIT: &str = "stream_limit";
/// The error `reason` of a `subscribe` refused by [`SessionCaps::subscriptions`].
pub const REASON_SUBSCRIPTION_LIMIT: &str = "subscription_limit";

/// What one session may hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCaps {
    pub connections: usize,
    pub streams: usize,
    pub subscriptions: usize,
}

impl Default for SessionCaps {
    fn default() -> Self {
        SessionCaps {
            connections: DEFAULT_MAX_CONNECTIONS_PER_SESSION,
            streams: DEFAULT_MAX_STREAMS_PER_SESSION,
            subscriptions: DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION,
        }
    }
}

/// Request rates, per second (each allows a burst of twice as many).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// REST requests per credential.
    pub rest: NonZeroU32,
    /// `signal` requests per WebSocket connection.
    pub signals: NonZeroU32,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            rest: NonZeroU32::new(DEFAULT_REST_RATE).expect("nonzero"),
            signals: NonZeroU32::new(DEFAULT_SIGNAL_RATE).expect("nonzero"),
        }
    }
}

fn quota(per_second: NonZeroU32) -> Quota {
    let burst = per_second.saturating_mul(NonZeroU32::new(2).expect("nonzero"));
    Quota::per_second(per_second).allow_burst(burst)
}

/// A refusal: how long until the next request would be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for an HTTP `Retry-After` header (at least 1).
    pub fn header_seconds(self) -> u64 {
        let seconds = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        seconds.max(1)
    }

    /// Milliseconds for a message (at least 1).
    pub fn millis(self) -> u128 {
        self.0.as_millis().max(1)
    }
}

/// REST requests per credential.
pub struct RestRateLimiter {
    per_second: NonZeroU32,
    limiter: DefaultKeyedRateLimiter<String>,
}

impl RestRateLimiter {
    pub fn new(per_second: NonZeroU32) -> Self {
        RestRateLimiter {
            per_second,
            limiter: DefaultKeyedRateLimiter::keyed(quota(per_second)),
        }
    }

    /// The configured rate.
    pub fn per_second(&self) -> NonZeroU32 {
        self.per_second
    }

    /// Counts one request of `credential`; `Err` when it is over the rate.
    pub fn check(&self, credential: &str) -> Result<(), RetryAfter> {
        // The key space is the server's credentials (projects and applications): small and
        // bounded, so the keyed state needs no pruning beyond what `retain_recent` offers.
        let key = credential.to_owned();
        self.limiter.check_key(&key).map_err(|not_until| {
            RetryAfter(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }
}

/// `signal` requests of one connection.
pub struct SignalRateLimiter {
    per_second: NonZeroU32,
    limiter: DefaultDirectRateLimiter,
}

impl SignalRateLimiter {
    pub fn new(per_second: NonZeroU32) -> Self {
        SignalRateLimiter {
            per_second,
            limiter: DefaultDirectRateLimiter::direct(quota(per_second)),
        }
    }

    /// The configured rate.
    pub fn per_second(&self) -> NonZeroU32 {
        self.per_second
    }

    /// Counts one signal; `Err` when it is over the rate.
    pub fn check(&self) -> Result<(), RetryAfter> {
        self.limiter.check().map_err(|not_until| {
            RetryAfter(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn a_burst_of_twice_the_rate_passes_then_requests_are_refused_with_a_wait() {
        let limiter = SignalRateLimiter::new(rate(5));
        for i in 0..10 {
            assert!(limiter.check().is_ok(), "request {i} of the burst");
        }
        let wait = limiter.check().unwrap_err();
        assert!(
            wait.0 > Duration::ZERO && wait.0 <= Duration::from_millis(200),
            "{wait:?}"
        );
        assert_eq!(wait.header_seconds(), 1);
    }

    #[test]
    fn credentials_are_limited_apart() {
        let limiter = RestRateLimiter::new(rate(1));
        assert!(limiter.check("1").is_ok());
        assert!(limiter.check("1").is_ok());
        assert!(limiter.check("1").is_err());
        assert!(
            limiter.check("2").is_ok(),
            "another credential is not affected"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::from_millis(1)).header_seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1000)).header_seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1001)).header_seconds(), 2);
        assert_eq!(RetryAfter(Duration::ZERO).header_seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_micros(10)).millis(), 1);
    }
}
