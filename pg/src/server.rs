//! One server's life: `initdb` on first start, `postgres` on loopback (and on a Unix socket in
//! its data directory when the path allows), waiting until it accepts connections, and
//! stopping it. Finding the binaries and the OS user is `binaries`' job.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Child;

use crate::binaries::{PgBinaries, RunAs, command, run_as};
use crate::{PgError, io};

/// How to start the server.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// PGDATA; created by `initdb` when it has no `PG_VERSION`.
    pub data_dir: PathBuf,
    /// Server log file (appended to).
    pub log_file: PathBuf,
    /// Preferred port; a free one is picked when it is taken or absent.
    pub port: Option<u16>,
    /// Password of the `postgres` superuser, set by `initdb` on first start.
    pub password: String,
}

/// How long a starting server may take to accept connections.
pub(crate) const READY_WITHIN: Duration = Duration::from_secs(60);

/// How clients authenticate, fixed by `initdb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The Unix socket is trusted and TCP asks for a SCRAM password: any local user can reach
    /// the loopback port, so it must not be open.
    Password,
    /// Everything is trusted: throw-away servers whose roles have no passwords.
    Trust,
}

/// A running private PostgreSQL server.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bins: PgBinaries,
    user: Option<RunAs>,
    data_dir: PathBuf,
    port: u16,
    password: String,
    /// The directory of the server's Unix socket, when it has one (see [`socket_dir_for`]).
    socket_dir: Option<PathBuf>,
    child: Child,
}

/// Where the server's Unix socket goes: its data directory, when that path is plain (ASCII
/// letters, digits, `/._-+`) and short enough for a socket address (about 100 bytes with the
/// socket's own name); otherwise none and clients use loopback TCP only.
fn socket_dir_for(data_dir: &Path, port: u16) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(data_dir).ok()?;
    let text = dir.to_str()?;
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b));
    let socket_len = text.len() + format!("/.s.PGSQL.{port}.lock").len();
    (plain && socket_len <= 100).then_some(dir)
}

/// A free TCP port on loopback.
pub fn free_port() -> Result<u16, PgError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io("finding a free port"))
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl EmbeddedPostgres {
    /// Initialises the data directory if needed, starts the server and waits until it accepts
    /// connections.
    pub async fn start(opts: &PgOptions) -> Result<Self, PgError> {
        Self::start_with(opts, Auth::Password, &[], READY_WITHIN).await
    }

    /// [`EmbeddedPostgres::start`] with the authentication `initdb` sets up, `settings` passed
    /// as `-c name=value` after (and so over) the defaults, and the time the server has to
    /// accept connections.
    pub(crate) async fn start_with(
        opts: &PgOptions,
        auth: Auth,
        settings: &[(&str, &str)],
        ready_within: Duration,
    ) -> Result<Self, PgError> {
        let bins = PgBinaries::locate()?;
        let user = run_as()?;
        if !opts.data_dir.join("PG_VERSION").is_file() {
            init_data_dir(&bins, user, &opts.data_dir, &opts.password, auth).await?;
        }
        stop_stale_server(&bins, user, &opts.data_dir).await;
        let port = match opts.port {
            Some(p) if port_is_free(p) => p,
            _ => free_port()?,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&opts.log_file)
            .map_err(io(format!("opening {}", opts.log_file.display())))?;
        let log_err = log.try_clone().map_err(io("duplicating the log handle"))?;
        let socket_dir = socket_dir_for(&opts.data_dir, port);
        let sockets = match &socket_dir {
            Some(dir) => format!("unix_socket_directories={}", dir.display()),
            None => "unix_socket_directories=".to_owned(),
        };
        let mut cmd = command(&bins.tool("postgres"), user);
        cmd.arg("-D")
            .arg(&opts.data_dir)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", &sockets])
            .args(["-c", "wal_level=logical"])
            .args(["-c", "max_replication_slots=10"])
            .args(["-c", "max_wal_senders=10"]);
        for (name, value) in settings {
            cmd.arg("-c").arg(format!("{name}={value}"));
        }
        cmd.stdout(log).stderr(log_err);
        let child = cmd.spawn().map_err(io("starting postgres"))?;
        let mut pg = Self {
            bins,
            user,
            data_dir: opts.data_dir.clone(),
            port,
            password: opts.password.clone(),
            socket_dir,
            child,
        };
        if let Err(e) = pg.wait_ready(&opts.log_file, ready_within).await {
            // A server that never became ready is not left running behind the error.
            let _ = pg.child.kill().await;
            return Err(e);
        }
        Ok(pg)
    }

    async fn wait_ready(&mut self, log_file: &Path, within: Duration) -> Result<(), PgError> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(PgError::Step {
                    step: "starting PostgreSQL",
                    detail: format!(
                        "the server exited ({status}); its log says:\n{}",
                        log_tail(log_file)
                    ),
                });
            }
            let cfg = self.config("postgres");
            match cfg.connect(tokio_postgres::NoTls).await {
                Ok(_) => return Ok(()),
                // It answered: up, though this client is refused (a server demanding TLS).
                Err(e)
                    if e.as_db_error().is_some_and(|db| {
                        *db.code() != tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW
                    }) =>
                {
                    return Ok(());
                }
                Err(_) => {}
            }
            if Instant::now() > deadline {
                return Err(PgError::Step {
                    step: "starting PostgreSQL",
                    detail: format!(
                        "not accepting connections after {} s; its log says:\n{}",
                        within.as_secs(),
                        log_tail(log_file)
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` as the `postgres` superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://postgres:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// The URL this machine's own clients should use: the Unix socket when the server has
    /// one (a loopback TCP round trip costs both sides noticeably more kernel time per
    /// statement), else [`EmbeddedPostgres::url`].
    pub fn local_url(&self, database: &str) -> String {
        match &self.socket_dir {
            Some(dir) => format!(
                "postgresql://postgres:{}@/{database}?host={}&port={}",
                self.password,
                dir.display(),
                self.port
            ),
            None => self.url(database),
        }
    }

    /// A tokio-postgres config for `database` as the `postgres` superuser.
    pub fn config(&self, database: &str) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password(&self.password)
            .dbname(database)
            .connect_timeout(Duration::from_secs(2));
        cfg
    }

    /// Makes sure the server stops when this process exits, however it exits: a watchdog
    /// shell waits on a pipe from this process and stops the server when the pipe closes.
    /// For test harnesses, whose shared server lives in a static that is never dropped.
    /// `also_remove` is deleted after the server stops.
    pub fn stop_when_process_exits(&self, also_remove: Option<&Path>) -> Result<(), PgError> {
        let pid = self.child.id().ok_or_else(|| PgError::Step {
            step: "arming the PostgreSQL watchdog",
            detail: "the server has already exited".into(),
        })?;
        let mut cmd = std::process::Command::new("sh");
        // SIGQUIT is PostgreSQL's immediate shutdown; the data is throw-away test data.
        cmd.arg("-c")
            .arg("read _ignored; kill -QUIT \"$0\" 2>/dev/null; while kill -0 \"$0\" 2>/dev/null; do sleep 0.1; done; if [ -n \"$1\" ]; then rm -rf \"$1\"; fi")
            .arg(pid.to_string())
            .arg(also_remove.map(|p| p.as_os_str().to_owned()).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(io("starting the PostgreSQL watchdog"))?;
        // The pipe's write end must stay open for the life of the process: leak it on purpose.
        if let Some(stdin) = child.stdin.take() {
            std::mem::forget(stdin);
        }
        std::mem::forget(child);
        Ok(())
    }

    /// Stops the server (fast shutdown: open transactions roll back) and waits for it.
    pub async fn stop(mut self) -> Result<(), PgError> {
        let out = command(&self.bins.tool("pg_ctl"), self.user)
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "-t", "30"])
            .output()
            .await
            .map_err(io("running pg_ctl stop"))?;
        if !out.status.success() {
            let _ = self.child.kill().await;
        }
        self.child
            .wait()
            .await
            .map_err(io("waiting for postgres"))?;
        Ok(())
    }
}

async fn init_data_dir(
    bins: &PgBinaries,
    user: Option<RunAs>,
    data_dir: &Path,
    password: &str,
    auth: Auth,
) -> Result<(), PgError> {
    std::fs::create_dir_all(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
    let pwfile = data_dir
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!(".pwfile-{}", std::process::id()));
    std::fs::write(&pwfile, password).map_err(io("writing the initdb password file"))?;
    let auth_args: &[&str] = match auth {
        Auth::Password => &["--auth-local=trust", "--auth-host=scram-sha-256"],
        Auth::Trust => &["--auth=trust"],
    };
    // C.UTF-8, as Supabase's databases: byte-order sorting, with case mapping and character
    // classes for all of Unicode (`ilike`, `upper`, full-text search on accented text). Where
    // the system has no such locale, plain C.
    let locales = ["--locale=C.UTF-8", "--locale=C"];
    let mut result = Ok(());
    for (i, locale) in locales.iter().enumerate() {
        result = initdb_once(bins, user, data_dir, &pwfile, auth_args, locale).await;
        match &result {
            Err(PgError::Step { detail, .. })
                if i + 1 < locales.len() && detail.contains("invalid locale name") => {}
            _ => break,
        }
    }
    let _ = std::fs::remove_file(&pwfile);
    result
}

async fn initdb_once(
    bins: &PgBinaries,
    user: Option<RunAs>,
    data_dir: &Path,
    pwfile: &Path,
    auth_args: &[&str],
    locale: &str,
) -> Result<(), PgError> {
    std::fs::create_dir_all(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
    if let Some(u) = user {
        for p in [data_dir, pwfile] {
            std::os::unix::fs::chown(p, Some(u.uid), Some(u.gid))
                .map_err(io(format!("handing {} to the postgres user", p.display())))?;
        }
    }
    let out = command(&bins.tool("initdb"), user)
        .arg("-D")
        .arg(data_dir)
        .args(["-U", "postgres"])
        .args(auth_args)
        .args(["-E", "UTF8", locale])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output()
        .await;
    let out = out.map_err(io("running initdb"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(data_dir);
        return Err(PgError::Step {
            step: "initdb",
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    Ok(())
}

/// A server left running by a run of ours that died without stopping it still holds the data
/// directory; stop it so this run can start. Our caller holds the data dir's lock, so no live
/// madbase owns that server.
async fn stop_stale_server(bins: &PgBinaries, user: Option<RunAs>, data_dir: &Path) {
    let Ok(text) = std::fs::read_to_string(data_dir.join("postmaster.pid")) else {
        return;
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
    else {
        return;
    };
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return;
    }
    tracing::warn!(
        pid,
        "stopping a PostgreSQL server left running by an earlier run"
    );
    let _ = command(&bins.tool("pg_ctl"), user)
        .arg("stop")
        .arg("-D")
        .arg(data_dir)
        .args(["-m", "fast", "-w", "-t", "30"])
        .output()
        .await;
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Duration;

    use super::{Auth, EmbeddedPostgres, PgOptions, socket_dir_for};

    #[tokio::test]
    async fn a_server_that_never_becomes_ready_is_stopped_and_reported() {
        let base = tempfile::tempdir().expect("tempdir");
        // When run as root the server runs as `postgres`, which must reach the directory.
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let data_dir = base.path().join("data");
        let opts = PgOptions {
            data_dir: data_dir.clone(),
            log_file: base.path().join("log"),
            port: None,
            password: "pw".into(),
        };
        // Listening on no TCP address: it starts, but the readiness check never connects.
        let err = match EmbeddedPostgres::start_with(
            &opts,
            Auth::Trust,
            &[("listen_addresses", "")],
            Duration::from_secs(3),
        )
        .await
        {
            Ok(_) => panic!("a server without a TCP address became ready"),
            Err(e) => e,
        };
        assert!(
            err.to_string()
                .contains("not accepting connections after 3 s"),
            "{err}"
        );
        // No postgres left running on that data directory.
        let pattern = format!("postgres.*{}", data_dir.display());
        let left = std::process::Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .expect("pgrep");
        assert!(
            left.stdout.is_empty(),
            "left running: {}",
            String::from_utf8_lossy(&left.stdout)
        );
    }

    #[test]
    fn a_short_plain_data_dir_gets_the_socket_and_others_fall_back_to_tcp() {
        let base = tempfile::tempdir().expect("tempdir");
        let plain = base.path().join("pg-data_1.x");
        std::fs::create_dir(&plain).expect("dir");
        assert_eq!(
            socket_dir_for(&plain, 54321),
            Some(std::fs::canonicalize(&plain).expect("canonical"))
        );
        let odd = base.path().join("with space,comma");
        std::fs::create_dir(&odd).expect("dir");
        assert_eq!(socket_dir_for(&odd, 54321), None);
        let long = base.path().join("d".repeat(100));
        std::fs::create_dir(&long).expect("dir");
        assert_eq!(socket_dir_for(&long, 54321), None);
        assert_eq!(socket_dir_for(&base.path().join("missing"), 54321), None);
    }
}
