//! The only I/O of the crate: runs one request's transaction on a connection.
//!
//! BEGIN, the bound `set_config` settings, the optional pre-request call, an optional count
//! estimate, the main statement and (for reads) COMMIT are issued together so tokio-postgres
//! pipelines them: a read costs one network round trip. Statements are unnamed (`query_typed`
//! with parameters of type `unknown`), so nothing accumulates in a per-connection statement
//! cache however varied the generated SQL is. Writes decide COMMIT or ROLLBACK after seeing the
//! result (singular, max-affected, `tx=rollback`), which costs a second round trip.

use std::future::Future;
use std::pin::Pin;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use crate::error::DbError;
use crate::sql::{Sql, TextParam};

/// The statements of one request.
pub struct Transaction {
    /// `BEGIN …` (simple protocol).
    pub begin: &'static str,
    /// The settings statement.
    pub settings: Sql,
    /// `SELECT pre_request()`.
    pub pre_request: Option<Sql>,
    /// `EXPLAIN (FORMAT JSON) …` for planned counts.
    pub estimate: Option<Sql>,
    /// The main statement.
    pub main: Sql,
    /// Whether COMMIT can be pipelined (the outcome cannot change it).
    pub commit_now: bool,
}

/// What the transaction produced.
pub struct Outcome {
    /// Rows of the main statement.
    pub rows: Vec<Row>,
    /// The planner's row estimate, when asked.
    pub estimate: Option<i64>,
}

type RowsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a>>;

fn typed(params: &[TextParam]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|p| (p as &(dyn ToSql + Sync), Type::UNKNOWN))
        .collect()
}

/// Converts a driver error into the wire-level database error.
pub fn db_error(e: &tokio_postgres::Error) -> DbError {
    match e.as_db_error() {
        Some(d) => DbError {
            code: d.code().code().to_string(),
            message: d.message().to_string(),
            details: d.detail().map(str::to_string),
            hint: d.hint().map(str::to_string),
        },
        None => DbError {
            code: "08000".into(),
            message: "Database connection error".into(),
            details: Some(e.to_string()),
            hint: None,
        },
    }
}

/// Runs the pipelined part; on error the transaction is already rolled back.
pub async fn run(client: &Client, tx: &Transaction) -> Result<Outcome, DbError> {
    let settings_p = tx.settings.driver_params();
    let pre_p = tx.pre_request.as_ref().map(Sql::driver_params);
    let est_p = tx.estimate.as_ref().map(Sql::driver_params);
    let main_p = tx.main.driver_params();
    let settings_t = typed(&settings_p);
    let pre_t = pre_p.as_deref().map(typed);
    let est_t = est_p.as_deref().map(typed);
    let main_t = typed(&main_p);

    let mut futures: Vec<RowsFuture> = Vec::with_capacity(6);
    futures.push(Box::pin(async move {
        client.batch_execute(tx.begin).await.map(|_| Vec::new())
    }));
    futures.push(Box::pin(client.query_typed(&tx.settings.text, &settings_t)));
    if let (Some(sql), Some(p)) = (&tx.pre_request, &pre_t) {
        futures.push(Box::pin(client.query_typed(&sql.text, p)));
    }
    let est_index = futures.len();
    if let (Some(sql), Some(p)) = (&tx.estimate, &est_t) {
        futures.push(Box::pin(client.query_typed(&sql.text, p)));
    }
    let main_index = futures.len();
    futures.push(Box::pin(client.query_typed(&tx.main.text, &main_t)));
    if tx.commit_now {
        futures.push(Box::pin(async move {
            client.batch_execute("COMMIT").await.map(|_| Vec::new())
        }));
    }
    let mut results = futures_util::future::join_all(futures).await;
    if let Some(err) = results.iter().find_map(|r| r.as_ref().err()) {
        let e = db_error(err);
        if !tx.commit_now {
            let _ = client.batch_execute("ROLLBACK").await;
        }
        return Err(e);
    }
    let estimate = if tx.estimate.is_some() {
        results
            .get(est_index)
            .and_then(|r| r.as_ref().ok())
            .and_then(|rows| rows.first())
            .and_then(|row| row.try_get::<_, serde_json::Value>(0).ok())
            .and_then(|v| {
                v.pointer("/0/Plan/Plan Rows")
                    .and_then(serde_json::Value::as_f64)
            })
            .map(|f| f as i64)
    } else {
        None
    };
    let rows = results.swap_remove(main_index).unwrap_or_default();
    Ok(Outcome { rows, estimate })
}

/// Ends a transaction left open by [`run`] (when `commit_now` was false).
pub async fn finish(client: &Client, commit: bool) -> Result<(), DbError> {
    client
        .batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
        .await
        .map_err(|e| db_error(&e))
}
