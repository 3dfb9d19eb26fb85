//! Throw-away servers for integration tests: a fresh directory under the system temp dir,
//! every connection trusted, `fsync=off`, and the server stopped and its directory removed when
//! the test process exits. Never for data anyone wants to keep.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::server::{Auth, EmbeddedPostgres, PgOptions, READY_WITHIN};
use crate::{PgError, io};

/// The `postgres` superuser's password on a scratch server; trust authentication ignores it,
/// but `initdb` wants one and [`EmbeddedPostgres::url`] carries it.
const SCRATCH_PASSWORD: &str = "postgres";

impl EmbeddedPostgres {
    /// Starts a throw-away server for tests: initialised in a new temporary directory, with
    /// every connection trusted (test roles need no passwords), `fsync=off`, and `settings`
    /// passed as `-c name=value` on top. It is stopped and its directory removed when this
    /// process exits, so a shared server may live in a static that is never dropped.
    pub async fn start_scratch(settings: &[(&str, &str)]) -> Result<Self, PgError> {
        let dir = scratch_dir()?;
        let opts = PgOptions {
            data_dir: dir.join("data"),
            log_file: dir.join("log"),
            port: None,
            password: SCRATCH_PASSWORD.to_owned(),
        };
        let mut all = vec![("fsync", "off")];
        all.extend_from_slice(settings);
        let started = match Self::start_with(&opts, Auth::Trust, &all, READY_WITHIN).await {
            Ok(pg) => pg.stop_when_process_exits(Some(&dir)).map(|()| pg),
            Err(e) => Err(e),
        };
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }
}

/// A new, empty directory of our own under the system temp dir.
fn scratch_dir() -> Result<PathBuf, PgError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    loop {
        let dir = base.join(format!(
            "madbase-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&dir) {
            // Left behind by a crashed process that had our pid: take the next name.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(format!("creating {}", dir.display()))(e)),
            Ok(()) => {}
        }
        // When we are root the server runs as `postgres`, which must reach the data dir inside.
        let context = format!("opening {} to the postgres user", dir.display());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .map_err(io(context))?;
        return Ok(dir);
    }
}
