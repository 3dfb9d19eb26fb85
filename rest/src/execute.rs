//! The only I/O of the crate: runs one request's transaction on a connection.
//!
//! The bound `set_config` settings, the optional pre-request call, an optional count estimate
//! and the main statement go out as one pipeline with a single `Sync` on the crate's own
//! connection ([`crate::wire::PgConn`]): a read costs one network round trip and one flush on
//! each side. A read at read committed needs no `BEGIN`/`COMMIT`: the statements before a
//! `Sync` share the implicit transaction PostgreSQL ends at it. Writes, and reads at another
//! isolation level, open one with `BEGIN`. Parameters are text of type `unknown`, as PostgREST
//! sends them; statements are prepared once per connection. Writes decide COMMIT or ROLLBACK
//! after seeing the result (singular, max-affected, `tx=rollback`), which costs a second round
//! trip.

use std::borrow::BorrowMut;
use std::future::Future;
use std::pin::Pin;

use crate::error::DbError;
use crate::sql::Sql;
use crate::wire::{PgConn, Row, Step};

/// A boxed future of the connection interface.
pub type ConnFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + Send + 'a>>;

/// The connection a request runs on. Implemented by a [`PgConn`] behind an async mutex (owned,
/// or borrowed from a pool for the length of the request).
pub trait Connection: Sync {
    /// Runs the pipelined part of `tx`; on error the transaction is already rolled back.
    fn run(&self, tx: Transaction) -> ConnFuture<'_, Outcome>;
    /// Ends a transaction left open by [`Connection::run`] (when `commit_now` was false).
    fn finish(&self, commit: bool) -> ConnFuture<'_, ()>;
}

/// Covers `Mutex<PgConn>` (an owned connection) and `Mutex<&mut PgConn>` (one borrowed from a
/// pool for the length of a request).
impl<C: BorrowMut<PgConn> + Send> Connection for tokio::sync::Mutex<C> {
    fn run(&self, tx: Transaction) -> ConnFuture<'_, Outcome> {
        Box::pin(async move { run_on((*self.lock().await).borrow_mut(), &tx).await })
    }

    fn finish(&self, commit: bool) -> ConnFuture<'_, ()> {
        Box::pin(async move { (*self.lock().await).borrow_mut().finish(commit).await })
    }
}

/// The statements of one request.
pub struct Transaction {
    /// `BEGIN …` with the request's access mode and isolation level; None runs the pipeline as
    /// its own implicit transaction (committed at its `Sync`).
    pub begin: Option<&'static str>,
    /// The settings statement.
    pub settings: Sql,
    /// `SELECT pre_request()`.
    pub pre_request: Option<Sql>,
    /// `EXPLAIN (FORMAT JSON) …` for planned counts.
    pub estimate: Option<Sql>,
    /// The main statement.
    pub main: Sql,
    /// Whether COMMIT can be pipelined (the outcome cannot change it). Without `begin` the
    /// transaction always ends with the pipeline.
    pub commit_now: bool,
}

/// What the transaction produced.
pub struct Outcome {
    /// Rows of the main statement.
    pub rows: Vec<Row>,
    /// The planner's row estimate, when asked.
    pub estimate: Option<i64>,
}

/// A transaction's statements as pipeline steps, with where the estimate's and the main
/// statement's rows will be.
pub(crate) struct Plan<'a> {
    pub steps: Vec<Step<'a>>,
    estimate: Option<usize>,
    main: usize,
}

impl Transaction {
    pub(crate) fn plan(&self) -> Plan<'_> {
        let mut steps = Vec::with_capacity(6);
        if let Some(begin) = self.begin {
            steps.push(Step::plain(begin));
        }
        steps.push(Step::sql(&self.settings));
        if let Some(pre) = &self.pre_request {
            steps.push(Step::sql(pre));
        }
        let estimate = self.estimate.as_ref().map(|est| {
            steps.push(Step::sql(est));
            steps.len() - 1
        });
        let main = steps.len();
        steps.push(Step::sql(&self.main));
        if self.commit_now && self.begin.is_some() {
            steps.push(Step::plain("COMMIT"));
        }
        Plan {
            steps,
            estimate,
            main,
        }
    }

    /// Whether the whole transaction is one pipeline's implicit transaction (a read at read
    /// committed): nothing is left open after its `Sync`.
    pub fn is_implicit(&self) -> bool {
        self.begin.is_none()
    }
}

impl Plan<'_> {
    /// The outcome from the rows of every step.
    pub(crate) fn outcome(&self, mut results: Vec<Vec<Row>>) -> Outcome {
        let estimate = self.estimate.and_then(|i| {
            let text = results.get(i)?.first()?.text(0)?;
            let plan = serde_json::from_str::<serde_json::Value>(text).ok()?;
            plan.pointer("/0/Plan/Plan Rows")
                .and_then(serde_json::Value::as_f64)
                .map(|f| f as i64)
        });
        let rows = if self.main < results.len() {
            results.swap_remove(self.main)
        } else {
            Vec::new()
        };
        Outcome { rows, estimate }
    }
}

/// Runs `tx`'s pipeline on a connection of its own.
pub async fn run_on(conn: &mut PgConn, tx: &Transaction) -> Result<Outcome, DbError> {
    let plan = tx.plan();
    let results = conn.pipeline(&plan.steps).await?;
    Ok(plan.outcome(results))
}

/// Runs the pipelined part; on error the transaction is already rolled back.
pub async fn run(conn: &dyn Connection, tx: Transaction) -> Result<Outcome, DbError> {
    conn.run(tx).await
}

/// Ends a transaction left open by [`run`] (when `commit_now` was false).
pub async fn finish(conn: &dyn Connection, commit: bool) -> Result<(), DbError> {
    conn.finish(commit).await
}
