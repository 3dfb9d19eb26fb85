//! Throw-away servers for integration tests: a fresh directory under the system temp dir,
//! every connection trusted, `fsync=off`, and the server stopped and its directory removed when
//! the test process exits. Never for data anyone wants to keep.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::binaries::run_as;
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
        Self::start_scratch_in(dir, settings).await
    }

    /// [`EmbeddedPostgres::start_scratch`] with TLS: the server presents `tls.cert_pem`,
    /// trusts `tls.client_ca_pem` for client certificates and authenticates by `tls.hba`
    /// (a whole `pg_hba.conf`), so a test can demand TLS or a client certificate. For the
    /// tests of TLS clients.
    pub async fn start_scratch_tls(
        settings: &[(&str, &str)],
        tls: &ScratchTls,
    ) -> Result<Self, PgError> {
        let dir = scratch_dir()?;
        let files = dir.join("tls");
        let written = write_tls_files(&files, tls);
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        let path = |name: &str| files.join(name).display().to_string();
        let (cert, key, ca, hba) = (
            path("server.crt"),
            path("server.key"),
            path("ca.crt"),
            path("pg_hba.conf"),
        );
        let mut all = vec![
            ("ssl", "on"),
            ("ssl_cert_file", cert.as_str()),
            ("ssl_key_file", key.as_str()),
            ("hba_file", hba.as_str()),
        ];
        if tls.client_ca_pem.is_some() {
            all.push(("ssl_ca_file", ca.as_str()));
        }
        all.extend_from_slice(settings);
        Self::start_scratch_in(dir, &all).await
    }

    /// [`EmbeddedPostgres::start_scratch`] authenticating by `hba`, a whole `pg_hba.conf`
    /// (without TLS), so a test can make some logins ask for a password and trust others.
    /// The `postgres` superuser's password is the one [`EmbeddedPostgres::url`] carries.
    pub async fn start_scratch_hba(settings: &[(&str, &str)], hba: &str) -> Result<Self, PgError> {
        let dir = scratch_dir()?;
        let files = dir.join("auth");
        if let Err(e) = write_private_files(&files, &[("pg_hba.conf", Some(hba))]) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        let hba_file = files.join("pg_hba.conf").display().to_string();
        let mut all = vec![("hba_file", hba_file.as_str())];
        all.extend_from_slice(settings);
        Self::start_scratch_in(dir, &all).await
    }

    async fn start_scratch_in(dir: PathBuf, settings: &[(&str, &str)]) -> Result<Self, PgError> {
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

/// What a scratch server needs for TLS; see [`EmbeddedPostgres::start_scratch_tls`].
#[derive(Debug, Clone)]
pub struct ScratchTls {
    /// The server's certificate chain, PEM.
    pub cert_pem: String,
    /// The server's private key, PEM.
    pub key_pem: String,
    /// CAs whose client certificates the server accepts, PEM.
    pub client_ca_pem: Option<String>,
    /// The whole `pg_hba.conf`.
    pub hba: String,
}

/// Writes the server's TLS files into `dir`, readable by the user the server runs as only
/// (PostgreSQL refuses a private key others can read).
fn write_tls_files(dir: &Path, tls: &ScratchTls) -> Result<(), PgError> {
    write_private_files(
        dir,
        &[
            ("server.crt", Some(tls.cert_pem.as_str())),
            ("server.key", Some(tls.key_pem.as_str())),
            ("ca.crt", tls.client_ca_pem.as_deref()),
            ("pg_hba.conf", Some(tls.hba.as_str())),
        ],
    )
}

/// Creates `dir` and writes `files` into it, readable by the user the server runs as only.
fn write_private_files(dir: &Path, files: &[(&str, Option<&str>)]) -> Result<(), PgError> {
    std::fs::create_dir(dir).map_err(io(format!("creating {}", dir.display())))?;
    let owner = run_as()?;
    for &(name, text) in files {
        let Some(text) = text else { continue };
        let path = dir.join(name);
        let context = || format!("writing {}", path.display());
        std::fs::write(&path, text).map_err(io(context()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(io(context()))?;
        if let Some(u) = owner {
            std::os::unix::fs::chown(&path, Some(u.uid), Some(u.gid)).map_err(io(context()))?;
        }
    }
    Ok(())
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
