//! MadBase's own schema migrations: the Supabase layout (roles, `auth`, `storage`, `realtime`,
//! `extensions`) embedded in the binary and applied in order, once each, on start and by
//! `madbase migrate`.
//!
//! Each migration runs in its own transaction and is recorded in `madbase.schema_migrations`
//! with a checksum; a session advisory lock keeps concurrent replicas from racing.

use sha2::{Digest as _, Sha256};
use tokio_postgres::Client;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Arbitrary constant identifying MadBase's migration lock.
const LOCK_KEY: i64 = 0x006d_6164_6261_7365;

/// A migration failed; nothing of it was kept.
#[derive(Debug, thiserror::Error)]
#[error("migration {version} failed: {source}")]
pub struct MigrationError {
    /// The file stem, e.g. `0001_roles`.
    pub version: String,
    /// The database error.
    #[source]
    pub source: tokio_postgres::Error,
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Applies every embedded migration not yet recorded. Returns the versions applied now.
pub async fn run(client: &mut Client) -> Result<Vec<String>, MigrationError> {
    run_set(client, MIGRATIONS).await
}

/// Applies `set` (for tests with their own migrations).
pub async fn run_set(
    client: &mut Client,
    set: &[(&str, &str)],
) -> Result<Vec<String>, MigrationError> {
    let wrap = |version: &str| {
        let version = version.to_owned();
        move |source| MigrationError { version, source }
    };
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(wrap("lock"))?;
    let result = apply(client, set).await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    result
}

async fn apply(client: &mut Client, set: &[(&str, &str)]) -> Result<Vec<String>, MigrationError> {
    let wrap = |version: &str| {
        let version = version.to_owned();
        move |source| MigrationError { version, source }
    };
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS madbase;
             CREATE TABLE IF NOT EXISTS madbase.schema_migrations (
                 version text PRIMARY KEY,
                 checksum text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );
             REVOKE ALL ON SCHEMA madbase FROM PUBLIC;",
        )
        .await
        .map_err(wrap("bookkeeping"))?;
    let rows = client
        .query(
            "SELECT version, checksum FROM madbase.schema_migrations",
            &[],
        )
        .await
        .map_err(wrap("bookkeeping"))?;
    let applied: std::collections::HashMap<String, String> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut done = Vec::new();
    for (version, sql) in set {
        let sum = checksum(sql);
        if let Some(recorded) = applied.get(*version) {
            if *recorded != sum {
                tracing::warn!(
                    version,
                    "an applied migration changed since it ran; not re-applying"
                );
            }
            continue;
        }
        let tx = client.transaction().await.map_err(wrap(version))?;
        tx.batch_execute(sql).await.map_err(wrap(version))?;
        tx.execute(
            "INSERT INTO madbase.schema_migrations (version, checksum) VALUES ($1, $2)",
            &[version, &sum],
        )
        .await
        .map_err(wrap(version))?;
        tx.commit().await.map_err(wrap(version))?;
        tracing::info!(version, "applied migration");
        done.push((*version).to_owned());
    }
    Ok(done)
}
