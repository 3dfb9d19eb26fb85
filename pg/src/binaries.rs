//! Where the server binaries live and which OS user runs them: `pg_config --bindir`, `PATH` or
//! `/usr/lib/postgresql/<N>/bin`, and the `postgres` system user when we are root. It builds
//! commands; it does not decide what they do.

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::{PgError, io};

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

    pub(crate) fn tool(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// The OS user the server runs as when we are root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunAs {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// `None` unless we are root; then the `postgres` system user, or an error when there is none.
pub(crate) fn run_as() -> Result<Option<RunAs>, PgError> {
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

/// A command for one of the server binaries, run as `user` when given.
pub(crate) fn command(bin: &Path, user: Option<RunAs>) -> Command {
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
