//! Per-token rate limiting (GCRA, from `governor`): over the limit a request gets 429
//! with `Retry-After`; every response says what is left in `RateLimit-*` headers.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

use crate::auth::Identity;
use crate::error::ApiError;

#[derive(Clone)]
pub struct Limiter {
    limiter: Arc<Keyed>,
    burst: u32,
}

impl Limiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst_nz = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(
                RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst_nz))
                    .with_middleware::<StateInformationMiddleware>(),
            ),
            burst: burst_nz.get(),
        }
    }
}

impl Limiter {
    /// Forgets callers whose budget is full again, so memory follows the active ones.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Failed authentication, limited per client address (IPv6 by /64, what one host
/// usually has): guessing keys, or flooding the key lookup, is slowed down to
/// [`FAILURES_PER_MINUTE`], without touching authenticated clients' budgets.
#[derive(Clone)]
pub struct FailureLimiter {
    limiter: Arc<RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>>,
}

/// Failed attempts an address may make per minute, after a burst of as many.
pub const FAILURES_PER_MINUTE: u32 = 30;

impl Default for FailureLimiter {
    fn default() -> Self {
        let n = NonZeroU32::new(FAILURES_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(n))),
        }
    }
}

impl FailureLimiter {
    /// Counts a failed attempt from `peer`; over the limit, the 429 to send instead.
    pub fn check(&self, peer: Option<IpAddr>) -> Result<(), ApiError> {
        let key = match peer {
            Some(IpAddr::V6(v6)) => {
                let mut o = v6.octets();
                o[8..].fill(0);
                IpAddr::from(o)
            }
            Some(v4) => v4,
            None => IpAddr::from([0, 0, 0, 0]),
        };
        self.limiter.check_key(&key).map_err(|not_until| {
            let secs = seconds(not_until.wait_time_from(DefaultClock::default().now()));
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed authentications from this address; retry in {secs} s"),
            )
            .retry_after(secs)
        })
    }

    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

fn seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

pub async fn limit(State(l): State<Limiter>, req: Request, next: Next) -> Response {
    // Authentication ran first: the budget is the credential's, however the header
    // that carried it was written.
    let key = req
        .extensions()
        .get::<Identity>()
        .map_or_else(|| "anonymous".to_owned(), Identity::limit_key);
    match l.limiter.check_key(&key) {
        Ok(snapshot) => {
            let mut res = next.run(req).await;
            let h = res.headers_mut();
            h.insert("ratelimit-limit", HeaderValue::from(l.burst));
            h.insert(
                "ratelimit-remaining",
                HeaderValue::from(snapshot.remaining_burst_capacity()),
            );
            res
        }
        Err(not_until) => {
            let secs = seconds(not_until.wait_time_from(DefaultClock::default().now()));
            let mut res = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "rate limit of {} requests exceeded; retry in {secs} s",
                    l.burst
                ),
            )
            .into_response();
            let h = res.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            h.insert("ratelimit-limit", HeaderValue::from(l.burst));
            h.insert("ratelimit-remaining", HeaderValue::from(0));
            h.insert("ratelimit-reset", HeaderValue::from(secs));
            res
        }
    }
}
