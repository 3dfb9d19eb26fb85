//! The embedded default database: a private PostgreSQL server started from the binaries
//! installed on the machine, for `madbase dev` and for the test harness.
//!
//! It owns finding the binaries, `initdb` on first start, starting `postgres` on loopback with
//! `wal_level=logical`, waiting until it accepts connections, and stopping it. When run as root
//! (containers, CI) the server runs as the `postgres` system user, because PostgreSQL refuses to
//! run as root. It never touches a data directory it did not create, except to stop a stale
//! server left behind by a crashed run of its own.

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

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

/// Where the server binaries live.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    bindir: PathBuf,
}

impl PgBinaries {
    /// Finds `initdb` and `postgres`: `pg_config --bindir`, then `PATH`, then the newest
    /// `/usr/lib/postgresql/<N>/bin`.
    pub fn locate() -> Result<Self, PgError> {
        let has_server =
            |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
        if let Ok(out) = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            && out.status.success()
        {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_server(&dir) {
                return Ok(Self { bindir: dir });
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if has_server(&dir) {
                    return Ok(Self { bindir: dir });
                }
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| {
                        let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                        Some((v, e.path().join("bin")))
                    })
                    .filter(|(_, dir)| has_server(dir))
                    .collect()
            })
            .unwrap_or_default();
        versions.sort();
        versions
            .pop()
            .map(|(_, bindir)| Self { bindir })
            .ok_or(PgError::BinariesNotFound)
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// The OS user the server runs as when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

fn run_as() -> Result<Option<RunAs>, PgError> {
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(io("reading /proc/self"))?;
    if euid != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(io("reading /etc/passwd"))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"postgres") && f.len() > 3)
        .and_then(|f| {
            Some(RunAs {
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
            })
        })
        .map(Some)
        .ok_or(PgError::NoPostgresUser)
}

fn command(bin: &Path, user: Option<RunAs>) -> Command {
    let mut std_cmd = std::process::Command::new(bin);
    if let Some(u) = user {
        std_cmd.uid(u.uid).gid(u.gid);
    }
    // Own process group: a Ctrl-C in the terminal reaches madbase, which drains requests
    // and then stops the server, instead of the server dying under in-flight requests.
    std_cmd.process_group(0);
    std_cmd.stdin(Stdio::null());
    Command::from(std_cmd)
}

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
        let bins = PgBinaries::locate()?;
        let user = run_as()?;
        if !opts.data_dir.join("PG_VERSION").is_file() {
            init_data_dir(&bins, user, &opts.data_dir, &opts.password).await?;
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
            .args(["-c", "max_wal_senders=10"])
            .stdout(log)
            .stderr(log_err);
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
        pg.wait_ready(&opts.log_file).await?;
        Ok(pg)
    }

    async fn wait_ready(&mut self, log_file: &Path) -> Result<(), PgError> {
        let deadline = Instant::now() + Duration::from_secs(60);
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
            if let Ok((client, conn)) = cfg.connect(tokio_postgres::NoTls).await {
                drop(conn);
                drop(client);
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(PgError::Step {
                    step: "starting PostgreSQL",
                    detail: format!(
                        "not accepting connections after 60 s; its log says:\n{}",
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
) -> Result<(), PgError> {
    std::fs::create_dir_all(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
    let pwfile = data_dir
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!(".pwfile-{}", std::process::id()));
    std::fs::write(&pwfile, password).map_err(io("writing the initdb password file"))?;
    if let Some(u) = user {
        for p in [data_dir, pwfile.as_path()] {
            std::os::unix::fs::chown(p, Some(u.uid), Some(u.gid))
                .map_err(io(format!("handing {} to the postgres user", p.display())))?;
        }
    }
    let out = command(&bins.tool("initdb"), user)
        .arg("-D")
        .arg(data_dir)
        .args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ])
        .args(["-E", "UTF8", "--locale=C"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output()
        .await;
    let _ = std::fs::remove_file(&pwfile);
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
    use super::socket_dir_for;

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
