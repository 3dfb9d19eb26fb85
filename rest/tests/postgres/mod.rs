//! A private PostgreSQL 15 for integration tests: initdb into a fresh temp dir, start on a free
//! loopback port (as the `postgres` OS user when running as root), load the fixture once, and
//! stop the server by pid when the test process exits (a small watchdog process waits for it).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Connection facts of the running server.
pub struct Server {
    pub port: u16,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn bindir() -> PathBuf {
    let out = Command::new("pg_config").arg("--bindir").output();
    match out {
        Ok(o) if o.status.success() => {
            let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if p.join("initdb").exists() {
                return p;
            }
            PathBuf::from("/usr/lib/postgresql/15/bin")
        }
        _ => PathBuf::from("/usr/lib/postgresql/15/bin"),
    }
}

fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == "postgres" {
            return Some((f[2].parse().ok()?, f[3].parse().ok()?));
        }
    }
    None
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_user(cmd: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

// The server outlives this function on purpose; the watchdog below stops it by pid.
#[allow(clippy::zombie_processes)]
fn start() -> Server {
    let bin = bindir();
    let user = if is_root() {
        Some(postgres_user().expect("a postgres OS user is needed when running as root"))
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!(
        "madbase-rest-pg-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    if let Some((uid, gid)) = user {
        Command::new("chown")
            .arg(format!("{uid}:{gid}"))
            .arg(&dir)
            .status()
            .expect("chown");
    }
    let data = dir.join("data");
    let status = as_user(
        Command::new(bin.join("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        user,
    )
    .status()
    .expect("initdb");
    assert!(status.success(), "initdb failed");
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let log = std::fs::File::create(dir.join("log")).expect("log");
    if let Some((uid, gid)) = user {
        let _ = Command::new("chown")
            .arg(format!("{uid}:{gid}"))
            .arg(dir.join("log"))
            .status();
    }
    let child = as_user(
        Command::new(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-p",
                &port.to_string(),
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ])
            .stdout(Stdio::null())
            .stderr(log),
        user,
    )
    .spawn()
    .expect("postgres");
    // Watchdog: stop the server by pid (and remove its files) once this test process is gone.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; kill -INT {pg} 2>/dev/null; sleep 2; rm -rf '{dir}'",
            parent = std::process::id(),
            pg = child.id(),
            dir = dir.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let ok = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                break;
            }
        }
        assert!(Instant::now() < deadline, "postgres did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let server = Server { port };
    // Load the fixture on a throwaway runtime in its own thread (callers may be async).
    std::thread::spawn(move || load_fixture(port))
        .join()
        .expect("fixture thread");
    server
}

fn load_fixture(port: u16) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect as postgres");
        let handle = tokio::spawn(conn);
        client
            .batch_execute(include_str!("fixture.sql"))
            .await
            .expect("fixture loads");
        drop(client);
        let _ = handle.await;
    });
}

/// The shared server, started on first use.
pub fn server() -> &'static Server {
    SERVER.get_or_init(start)
}

/// Connection settings of the data plane's login role.
#[allow(dead_code)]
pub fn url() -> String {
    format!(
        "host=127.0.0.1 port={} user=authenticator dbname=postgres",
        server().port
    )
}

/// A new connection as the data plane's login role.
pub async fn connect() -> tokio_postgres::Client {
    let port = server().port;
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=authenticator dbname=postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect as authenticator");
    tokio::spawn(conn);
    client
}
