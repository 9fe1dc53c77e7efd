//! When to retry a Stripe request, as Stripe's official SDKs decide: connection
//! errors, 409 and 5xx are retried (at most `max_retries` times), `Stripe-Should-Retry`
//! overrides that either way, 429 is not retried unless Stripe says so. The delay is
//! `min(0.5 s · 2^(n-1), 5 s)`, scaled by a jitter factor in [0.5, 1], never below
//! 0.5 s. A pure function, so the policy is tested as a table.

use std::time::Duration;

const INITIAL_DELAY: f64 = 0.5;
const MAX_DELAY: f64 = 5.0;

/// What came back from one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No reply: connection refused or reset, or the request timed out.
    NoReply,
    /// An HTTP reply, with its `Stripe-Should-Retry` header if present.
    Reply { status: u16, should_retry: Option<bool> },
}

/// The wait before retry number `retries_done + 1`, or `None` to stop. `jitter` is a
/// random number in [0, 1).
pub fn next_delay(outcome: Outcome, retries_done: u32, max_retries: u32, jitter: f64) -> Option<Duration> {
    if retries_done >= max_retries {
        return None;
    }
    let retry = match outcome {
        Outcome::NoReply => true,
        Outcome::Reply { should_retry: Some(told), .. } => told,
        Outcome::Reply { status, should_retry: None } => status == 409 || status >= 500,
    };
    if !retry {
        return None;
    }
    let jittered = longest_delay(retries_done).as_secs_f64() * (0.5 * (1.0 + jitter.clamp(0.0, 1.0)));
    Some(Duration::from_secs_f64(jittered.max(INITIAL_DELAY)))
}

/// The longest wait before retry number `retries_done + 1` (jitter at its most).
pub fn longest_delay(retries_done: u32) -> Duration {
    Duration::from_secs_f64((INITIAL_DELAY * 2f64.powi(retries_done as i32)).min(MAX_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, should_retry: Option<bool>) -> Outcome {
        Outcome::Reply { status, should_retry }
    }

    #[test]
    fn the_retry_table() {
        let cases: &[(Outcome, u32, Option<f64>)] = &[
            (Outcome::NoReply, 0, Some(0.5)),
            (Outcome::NoReply, 1, Some(1.0)),
            (Outcome::NoReply, 2, None), // two retries by default
            (reply(500, None), 0, Some(0.5)),
            (reply(503, None), 1, Some(1.0)),
            (reply(409, None), 0, Some(0.5)),
            (reply(429, None), 0, None),
            (reply(429, Some(true)), 0, Some(0.5)),
            (reply(503, Some(false)), 0, None),
            (reply(400, None), 0, None),
            (reply(402, None), 0, None),
            (reply(400, Some(true)), 0, Some(0.5)),
            (reply(200, None), 0, None),
        ];
        for &(outcome, done, expected) in cases {
            let got = next_delay(outcome, done, 2, 1.0).map(|d| d.as_secs_f64());
            assert_eq!(got, expected, "{outcome:?} after {done} retries");
        }
    }

    #[test]
    fn delays_grow_to_five_seconds_and_jitter_halves_at_most() {
        assert_eq!(next_delay(Outcome::NoReply, 6, 10, 1.0), Some(Duration::from_secs(5)));
        assert_eq!(next_delay(Outcome::NoReply, 3, 10, 0.0), Some(Duration::from_secs(2)));
        // Never below the initial delay, whatever the jitter.
        assert_eq!(next_delay(Outcome::NoReply, 0, 10, 0.0), Some(Duration::from_millis(500)));
    }
}
