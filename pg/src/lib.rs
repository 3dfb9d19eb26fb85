//! The embedded PostgreSQL: a private server started from the binaries installed on the
//! machine, for `madbase dev` and for the integration tests of the other crates.
//!
//! It owns finding the binaries, `initdb` on first start, starting `postgres` on loopback with
//! `wal_level=logical`, waiting until it accepts connections, and stopping it. When run as root
//! (containers, CI) the server runs as the `postgres` system user, because PostgreSQL refuses to
//! run as root. It never touches a data directory it did not create, except to stop a stale
//! server left behind by a crashed run of its own. What runs inside the server (roles, schemas,
//! migrations, fixtures) belongs to its callers.

mod binaries;
mod scratch;
mod server;

pub use binaries::PgBinaries;
pub use scratch::ScratchTls;
pub use server::{EmbeddedPostgres, PgOptions, free_port};

/// Why the embedded PostgreSQL could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// No server binaries were found.
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found via `pg_config --bindir`, PATH or /usr/lib/postgresql/<N>/bin.\n\
         Install them, e.g. `apt-get install postgresql` (Debian/Ubuntu), `dnf install postgresql-server` (Fedora) or `brew install postgresql@15` (macOS),\n\
         or point madbase at an existing server with --db-url"
    )]
    BinariesNotFound,
    /// Running as root without a `postgres` user to drop to.
    #[error(
        "running as root, but there is no `postgres` system user to run PostgreSQL as (PostgreSQL refuses to run as root)"
    )]
    NoPostgresUser,
    /// A step failed with output worth showing.
    #[error("{step} failed: {detail}")]
    Step {
        /// What was being done.
        step: &'static str,
        /// What went wrong, including the tail of the server log when useful.
        detail: String,
    },
    /// File-system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
    let context = context.into();
    move |source| PgError::Io { context, source }
}
