//! In-memory request counters for GoTrue's per-IP and per-project limits (fixed windows).
//! Per-address email/SMS frequency is checked against the `*_sent_at` columns instead, so it
//! holds across replicas. Counters reset when the process restarts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::AuthError;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// `/token` per IP.
    Token,
    /// `/verify` per IP.
    Verify,
    /// `/signup`, `/otp`, `/recover`, `/resend`, `PUT /user` per IP.
    Otp,
    /// Emails sent, whole project.
    EmailSent,
    /// MFA challenge/verify per IP.
    Mfa,
}

/// The counters.
#[derive(Debug, Default)]
pub struct Limits {
    windows: Mutex<HashMap<(Bucket, String), (Instant, u32)>>,
}

/// One fixed-window step: returns the new count and whether it is within `max`.
pub fn step(state: &mut (Instant, u32), now: Instant, window: Duration, max: u32) -> bool {
    if now.duration_since(state.0) >= window {
        *state = (now, 0);
    }
    if state.1 >= max {
        return false;
    }
    state.1 += 1;
    true
}

impl Limits {
    /// Counts one event; `Err` with GoTrue's 429 when over `max` per `window`.
    pub fn hit(
        &self,
        bucket: Bucket,
        key: &str,
        max: u32,
        window: Duration,
    ) -> Result<(), AuthError> {
        let now = Instant::now();
        let mut map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(3600));
        }
        let state = map.entry((bucket, key.to_owned())).or_insert((now, 0));
        if step(state, now, window, max) {
            return Ok(());
        }
        Err(match bucket {
            Bucket::EmailSent => {
                AuthError::too_many("over_email_send_rate_limit", "email rate limit exceeded")
            }
            _ => AuthError::too_many("over_request_rate_limit", "Request rate limit reached"),
        })
    }
}

/// Five minutes, GoTrue's window for per-IP limits.
pub const FIVE_MINUTES: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_allows_max_then_refuses_until_the_window_passes() {
        let t0 = Instant::now();
        let mut s = (t0, 0);
        let w = Duration::from_secs(10);
        assert!(step(&mut s, t0, w, 2));
        assert!(step(&mut s, t0, w, 2));
        assert!(!step(&mut s, t0, w, 2));
        assert!(step(&mut s, t0 + w, w, 2));
    }

    #[test]
    fn limits_map_to_gotrue_codes() {
        let l = Limits::default();
        assert!(l.hit(Bucket::EmailSent, "p", 1, FIVE_MINUTES).is_ok());
        let e = l
            .hit(Bucket::EmailSent, "p", 1, FIVE_MINUTES)
            .expect_err("over");
        assert_eq!(
            (e.status.as_u16(), e.code),
            (429, "over_email_send_rate_limit")
        );
        assert!(l.hit(Bucket::Token, "a", 1, FIVE_MINUTES).is_ok());
        assert!(l.hit(Bucket::Token, "b", 1, FIVE_MINUTES).is_ok());
        assert_eq!(
            l.hit(Bucket::Token, "a", 1, FIVE_MINUTES)
                .expect_err("over")
                .code,
            "over_request_rate_limit"
        );
    }
}
