//! The `Server-Timing` header (PostgREST's `server-timing-enabled`): how long a request spent
//! on its token, on parsing, on planning, in its transaction and on its response.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::execute::{ConnFuture, Connection, Outcome, Transaction};

/// The marks of one request.
pub struct Timing {
    start: Instant,
    jwt: Option<Duration>,
    /// When the query string and the body had been parsed: planning starts.
    parsed: OnceLock<Instant>,
    db: Mutex<DbSpan>,
}

#[derive(Default)]
struct DbSpan {
    first: Option<Instant>,
    last_end: Option<Instant>,
    total: Duration,
}

impl Timing {
    /// Starts timing a request whose token took `jwt` to check.
    pub fn start(jwt: Option<Duration>) -> Self {
        Timing {
            start: Instant::now(),
            jwt,
            parsed: OnceLock::new(),
            db: Mutex::new(DbSpan::default()),
        }
    }

    /// Marks the end of parsing.
    pub fn parsed(&self) {
        let _ = self.parsed.set(Instant::now());
    }

    fn db(&self) -> std::sync::MutexGuard<'_, DbSpan> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The header's value, PostgREST's metrics in its order, in milliseconds: `jwt`, `parse`
    /// (the request up to its query string and body parsed), `plan` (from there to the first
    /// statement sent), `transaction` (waiting for the database) and `response` (from the last
    /// answer on). A request that never reached the database has only the first two.
    pub fn header(&self) -> String {
        let end = Instant::now();
        let db = self.db();
        let parsed = *self.parsed.get().or(db.first.as_ref()).unwrap_or(&end);
        let mut metrics = Vec::with_capacity(5);
        if let Some(jwt) = self.jwt {
            metrics.push(("jwt", jwt));
        }
        metrics.push(("parse", parsed.saturating_duration_since(self.start)));
        if let (Some(first), Some(last_end)) = (db.first, db.last_end) {
            metrics.push(("plan", first.saturating_duration_since(parsed)));
            metrics.push(("transaction", db.total));
            metrics.push(("response", end.saturating_duration_since(last_end)));
        }
        metrics
            .iter()
            .map(|(name, d)| format!("{name};dur={:.1}", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A connection that adds the time spent in it to a request's [`Timing`].
pub struct Timed<'a> {
    /// The connection the statements run on.
    pub inner: &'a dyn Connection,
    /// Where the time goes.
    pub timing: &'a Timing,
}

impl Timed<'_> {
    fn record(&self, began: Instant) {
        let end = Instant::now();
        let mut db = self.timing.db();
        db.first.get_or_insert(began);
        db.last_end = Some(end);
        db.total += end.saturating_duration_since(began);
    }
}

impl Connection for Timed<'_> {
    fn run(&self, tx: Transaction) -> ConnFuture<'_, Outcome> {
        Box::pin(async move {
            let began = Instant::now();
            let outcome = self.inner.run(tx).await;
            self.record(began);
            outcome
        })
    }

    fn finish(&self, commit: bool) -> ConnFuture<'_, ()> {
        Box::pin(async move {
            let began = Instant::now();
            let outcome = self.inner.finish(commit).await;
            self.record(began);
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_the_database_has_jwt_and_parse_only() {
        let t = Timing::start(Some(Duration::from_micros(1500)));
        t.parsed();
        let h = t.header();
        assert!(h.starts_with("jwt;dur=1.5, parse;dur="), "{h}");
        assert!(!h.contains("plan"), "{h}");
        let t = Timing::start(None);
        assert!(t.header().starts_with("parse;dur="));
    }
}
