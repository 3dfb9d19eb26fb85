//! The `madbase` command line as a user meets it: `dev` lifecycle (start, status, restart with
//! data and keys kept, clean stop), and every bad input giving a clear message, not a panic.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use madbase_pgconn::DbUrl;
use madbase_pgconn::testing::TlsServer;

const BIN: &str = env!("CARGO_BIN_EXE_madbase");

fn madbase(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("MADBASE_DATABASE_URL")
        .output()
        .expect("run madbase")
}

/// Runs `cmd` to completion, killing it after `limit`: a command that should fail at start
/// must not hang the suite when it does not.
fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if waited.recv_timeout(limit).is_err() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().expect("wait");
    let _ = done.send(());
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A `madbase dev` child, stopped with SIGTERM on drop.
struct Dev {
    child: Child,
    data_dir: String,
}

impl Dev {
    fn start(data_dir: &Path, port: u16) -> Dev {
        Dev::start_with(data_dir, port, &[], &[])
    }

    /// `madbase dev` with `extra` arguments and `env` set.
    fn start_with(data_dir: &Path, port: u16, extra: &[&str], env: &[(&str, &str)]) -> Dev {
        let child = Command::new(BIN)
            .args([
                "dev",
                "--data-dir",
                &data_dir.display().to_string(),
                "--port",
                &port.to_string(),
            ])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn madbase dev");
        let dev = Dev {
            child,
            data_dir: data_dir.display().to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while dev.status().is_none() {
            assert!(Instant::now() < deadline, "madbase dev did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        dev
    }

    fn status(&self) -> Option<serde_json::Value> {
        let out = madbase(&["status", "--data-dir", &self.data_dir, "--output", "json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("status json"))
    }

    fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait for madbase dev")
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

async fn query_one(url: &str, sql: &str) -> Result<String, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let rows = client.simple_query(sql).await?;
    Ok(rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_default())
}

#[tokio::test]
async fn dev_restart_keeps_data_and_keys_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let dev = Dev::start(dir.path(), port);
    let first = dev.status().expect("status");
    assert_eq!(first["API_URL"], format!("http://127.0.0.1:{port}"));
    let db_url = first["DB_URL"].as_str().expect("db url").to_owned();
    query_one(
        &db_url,
        "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')",
    )
    .await
    .expect("write");
    // The keys work against the gateway.
    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://127.0.0.1:{port}/rest/v1/"))
        .header("apikey", first["ANON_KEY"].as_str().expect("anon"))
        .send()
        .await
        .expect("request");
    assert_eq!(health.status(), 200);
    // Auth as `supabase init` configures it: sign-ups confirmed at once, anonymous sign-ins
    // and phone sign-ups off until turned on.
    let settings: serde_json::Value = client
        .get(format!("http://127.0.0.1:{port}/auth/v1/settings"))
        .header("apikey", first["ANON_KEY"].as_str().expect("anon"))
        .send()
        .await
        .expect("settings")
        .json()
        .await
        .expect("settings json");
    assert_eq!(settings["mailer_autoconfirm"], true, "{settings}");
    assert_eq!(settings["external"]["anonymous_users"], false, "{settings}");
    assert_eq!(settings["external"]["phone"], false, "{settings}");
    // The data plane reaches the embedded server over its Unix socket; DB_URL stays TCP.
    let transports = query_one(
        &db_url,
        "SELECT string_agg(DISTINCT coalesce(client_addr::text, 'unix'), ',') \
         FROM pg_stat_activity WHERE application_name IN ('madbase', 'madbase rest')",
    )
    .await
    .expect("activity");
    assert_eq!(transports, "unix");
    assert!(db_url.contains("@127.0.0.1:"), "{db_url}");

    let exit = dev.stop();
    assert!(exit.success(), "madbase dev exited with {exit}");
    let pid_file = dir.path().join("postgres").join("postmaster.pid");
    assert!(!pid_file.exists(), "PostgreSQL was not stopped");
    let gone = madbase(&["status", "--data-dir", &dir.path().display().to_string()]);
    assert!(!gone.status.success());
    assert!(
        stderr(&gone).contains("no madbase dev is running"),
        "{}",
        stderr(&gone)
    );

    let dev = Dev::start(dir.path(), port);
    let second = dev.status().expect("status");
    for key in ["JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY"] {
        assert_eq!(first[key], second[key], "{key} changed across restarts");
    }
    let db_url = second["DB_URL"].as_str().expect("db url");
    assert_eq!(
        query_one(db_url, "SELECT v FROM kept").await.expect("read"),
        "still here"
    );
    let applied = query_one(db_url, "SELECT count(*) FROM madbase.schema_migrations")
        .await
        .expect("migrations");
    assert!(applied.parse::<u32>().expect("count") >= 1);
    // The same data dir cannot be used twice at once.
    let other_port = free_port();
    let clash = madbase(&[
        "dev",
        "--data-dir",
        &dir.path().display().to_string(),
        "--port",
        &other_port.to_string(),
    ]);
    assert_eq!(clash.status.code(), Some(1));
    assert!(
        stderr(&clash).contains("in use by another madbase dev"),
        "{}",
        stderr(&clash)
    );
    // env output is shell-sourceable.
    let env = madbase(&[
        "status",
        "--data-dir",
        &dir.path().display().to_string(),
        "-o",
        "env",
    ]);
    let text = String::from_utf8_lossy(&env.stdout);
    assert!(
        text.contains(&format!("API_URL=\"http://127.0.0.1:{port}\"")),
        "{text}"
    );
    assert!(dev.stop().success());
}

#[tokio::test]
async fn dev_runs_on_a_database_that_demands_tls() {
    let server = TlsServer::start().await.expect("TLS server");
    let verified = |ca: &str| {
        server.url(
            "postgres",
            "localhost",
            "postgres",
            &format!("sslmode=verify-full&sslrootcert={}", server.file(ca)),
        )
    };
    // TLS from the settings, for a URL that says nothing of it; and statements left
    // unprepared, as behind a pooler in transaction mode.
    let url = server.url("postgres", "localhost", "postgres", "");
    let ca = server.file("ca.pem");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let dev = Dev::start_with(
        dir.path(),
        port,
        &["--db-url", &url],
        &[
            ("MADBASE_DB_SSL_MODE", "verify-full"),
            ("MADBASE_DB_SSL_ROOT_CERT", &ca),
            // A revocation list that does not name the server's certificate.
            ("MADBASE_DB_SSL_CRL", &server.file("clean.crl")),
            ("MADBASE_DB_PREPARED_STATEMENTS", "false"),
            // A data API option, passed through like the rest.
            ("MADBASE_DB_AGGREGATES_ENABLED", "true"),
        ],
    );
    let anon = dev.status().expect("status")["ANON_KEY"]
        .as_str()
        .expect("anon")
        .to_owned();
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("http://127.0.0.1:{port}/rest/v1/{path}"))
            .header("apikey", &anon)
            .send()
    };
    assert_eq!(get(String::new()).await.expect("root").status(), 200);
    // DDL reaches the schema listener, itself over TLS: a new table is served without a
    // restart.
    let (admin, conn) = DbUrl::parse(&verified("ca.pem"))
        .expect("url")
        .connect()
        .await
        .expect("admin over TLS");
    tokio::spawn(conn);
    admin
        .batch_execute(
            "CREATE TABLE tls_notes (id int PRIMARY KEY); GRANT SELECT ON tls_notes TO anon; \
             INSERT INTO tls_notes VALUES (7)",
        )
        .await
        .expect("create");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = get("tls_notes?select=id".into()).await.expect("read");
        if r.status() == 200 {
            assert_eq!(r.text().await.expect("body"), r#"[{"id":7}]"#);
            break;
        }
        assert!(Instant::now() < deadline, "the new table was never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = get("tls_notes?select=count()".into())
        .await
        .expect("aggregate");
    assert_eq!(r.text().await.expect("body"), r#"[{"count":1}]"#);
    // Every connection the data plane holds is encrypted (the server refuses others anyway).
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.application_name LIKE 'madbase%'",
            &[],
        )
        .await
        .expect("activity");
    let (encrypted, all): (i64, i64) = (row.get(0), row.get(1));
    assert!(
        all >= 2 && encrypted == all,
        "{encrypted} of {all} encrypted"
    );
    assert!(dev.stop().success());

    // A server whose certificate another CA signed, or that its CA revoked, is refused,
    // saying why: whether the URL or the settings ask for verification.
    for (url, root, crl, why) in [
        (verified("other-ca.pem"), None, None, "UnknownIssuer"),
        (
            url.clone(),
            Some(server.file("other-ca.pem")),
            None,
            "UnknownIssuer",
        ),
        (
            url.clone(),
            Some(ca.clone()),
            Some(server.file("revoked.crl")),
            "Revoked",
        ),
    ] {
        let other = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(BIN);
        cmd.args(["dev", "--data-dir"]).arg(other.path()).args([
            "--port",
            &free_port().to_string(),
            "--db-url",
            &url,
        ]);
        if let Some(root) = &root {
            cmd.env("MADBASE_DB_SSL_MODE", "verify-full")
                .env("MADBASE_DB_SSL_ROOT_CERT", root);
        }
        if let Some(crl) = &crl {
            cmd.env("MADBASE_DB_SSL_CRL", crl);
        }
        let out = output_within(cmd, Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(1), "{root:?}");
        let err = stderr(&out);
        assert!(err.contains(why), "{root:?} {crl:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn unknown_flags_are_refused_by_name() {
    let out = madbase(&["dev", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--no-such-flag"), "{}", stderr(&out));
    let out = madbase(&["status", "--output", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("yaml"));
}

#[test]
fn unreachable_db_url_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = free_port();
    let out = madbase(&[
        "dev",
        "--data-dir",
        &dir.path().display().to_string(),
        "--port",
        &free_port().to_string(),
        "--db-url",
        &format!("postgres://someone:hunter2@127.0.0.1:{dead}/db"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--db-url") && err.contains("cannot connect"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "password leaked: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let bad = madbase(&["migrate", "--db-url", "not a url"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("invalid"), "{}", stderr(&bad));
}

#[test]
fn a_port_in_use_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let out = madbase(&[
        "dev",
        "--data-dir",
        &dir.path().display().to_string(),
        "--port",
        &port.to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("already in use") && err.contains("--port"),
        "{err}"
    );
    // Nothing was started: no database was created.
    assert!(!dir.path().join("postgres").exists());
}

#[test]
fn serve_without_settings_lists_what_is_missing() {
    let out = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("MADBASE_JWT_SECRET", "short")
        .env("MADBASE_DB_POOL_SIZE", "many")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("MADBASE_DATABASE_URL is required"), "{err}");
    assert!(
        err.contains("MADBASE_JWT_SECRET must be at least 32"),
        "{err}"
    );
    assert!(err.contains("MADBASE_DB_POOL_SIZE"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let missing_file = Command::new(BIN)
        .args(["serve", "--config", "/nonexistent/madbase.toml"])
        .env_clear()
        .output()
        .expect("run");
    assert_eq!(missing_file.status.code(), Some(1));
    assert!(stderr(&missing_file).contains("cannot read config file"));
}

#[test]
fn dev_tuning_from_the_environment_is_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["dev", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--port", &free_port().to_string(), "--log-level", "warn"])
        .env("MADBASE_DB_READ_LANES", "many")
        .env("MADBASE_AUTH_PASSWORD_MIN_LENGTH", "3")
        // Dev's own: ignored, whatever it says.
        .env("MADBASE_LISTEN", "nowhere")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("MADBASE_DB_READ_LANES must be an integer between 0 and 16 (got `many`)"),
        "{err}"
    );
    assert!(err.contains("MADBASE_AUTH_PASSWORD_MIN_LENGTH"), "{err}");
    assert!(!err.contains("MADBASE_LISTEN"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A `madbase serve` child, killed on drop.
struct Serve(Child);

impl Serve {
    /// `madbase serve` in `dir` with an empty environment but for its database, secret and
    /// address (and `config`, a settings file), logging to `log`.
    fn start(
        dir: &Path,
        config: Option<&Path>,
        db_url: &str,
        secret: &str,
        port: u16,
        log: &Path,
    ) -> Serve {
        let out = std::fs::File::create(log).expect("log file");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve");
        if let Some(file) = config {
            cmd.arg("--config").arg(file);
        }
        Serve(
            cmd.current_dir(dir)
                .env_clear()
                .env("MADBASE_DATABASE_URL", db_url)
                .env("MADBASE_JWT_SECRET", secret)
                .env("MADBASE_LISTEN", format!("127.0.0.1:{port}"))
                .stdout(out.try_clone().expect("log"))
                .stderr(out)
                .spawn()
                .expect("spawn madbase serve"),
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `madbase serve --config`: `reload config` (SIGUSR2 here; `NOTIFY pgrst, 'reload config'`
/// takes the same path) reads the file again, as PostgREST re-reads its own. The data API's
/// settings change at once, the others are named for a restart, and a file with a bad value
/// keeps the running settings.
#[tokio::test]
async fn serve_rereads_its_config_file_on_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("dev"), free_port());
    let status = dev.status().expect("status");
    let text = |key: &str| status[key].as_str().expect(key).to_owned();
    let (db_url, anon) = (text("DB_URL"), text("ANON_KEY"));
    query_one(
        &db_url,
        "CREATE TABLE reload_items (id int PRIMARY KEY); \
         INSERT INTO reload_items SELECT generate_series(1, 10); \
         GRANT SELECT ON reload_items TO anon",
    )
    .await
    .expect("fixture");
    let file = dir.path().join("madbase.toml");
    let write = |text: &str| std::fs::write(&file, text).expect("write config file");
    write("db_max_rows = 2\ndb_pool_size = 4\n");
    let port = free_port();
    let log = dir.path().join("serve.log");
    let serve = Serve::start(
        dir.path(),
        Some(&file),
        &db_url,
        &text("JWT_SECRET"),
        port,
        &log,
    );
    let client = reqwest::Client::new();
    let rows = || async {
        let resp = client
            .get(format!(
                "http://127.0.0.1:{port}/rest/v1/reload_items?select=id"
            ))
            .header("apikey", &anon)
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = resp.json().await.ok()?;
        body.as_array().map(Vec::len)
    };
    let wait_for = |want: usize, what: &'static str| {
        let rows = &rows;
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if rows().await == Some(want) {
                    return;
                }
                assert!(Instant::now() < deadline, "{what}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait_for(2, "serve did not start with db_max_rows = 2").await;
    let usr2 = || {
        Command::new("kill")
            .args(["-USR2", &serve.0.id().to_string()])
            .status()
            .expect("kill -USR2")
    };

    write("db_max_rows = 3\ndb_pool_size = 6\n");
    assert!(usr2().success());
    wait_for(3, "the reloaded file's db_max_rows did not apply").await;
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(
        logged.contains("MADBASE_DB_POOL_SIZE") && logged.contains("take effect on restart"),
        "{logged}"
    );

    write("db_max_rows = \"many\"\n");
    assert!(usr2().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .expect("log")
        .contains("settings reload failed")
    {
        assert!(Instant::now() < deadline, "the bad file was not reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows().await, Some(3), "the running settings stay");
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("MADBASE_DB_MAX_ROWS"), "{logged}");
    drop(serve);
    drop(dev);
}

/// `madbase serve` whose database is not there yet (a cluster starting with its pods, a
/// failover) waits for it as PostgREST does: alive and answering 503 meanwhile, serving once
/// the database answers, instead of exiting.
#[tokio::test]
async fn serve_waits_for_a_database_that_is_not_there_yet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(&dir.path().join("dev"), free_port());
    let status = dev.status().expect("status");
    let text = |key: &str| status[key].as_str().expect(key).to_owned();
    let db_url = text("DB_URL");
    // The URL names a port where nothing listens until the relay below forwards it to dev's.
    let (head, tail) = db_url.rsplit_once(':').expect("a port in the URL");
    let (db_port, path) = tail.split_once('/').expect("a database in the URL");
    let db_port: u16 = db_port.parse().expect("port");
    let relay_port = free_port();
    let port = free_port();
    let log = dir.path().join("serve.log");
    let _serve = Serve::start(
        dir.path(),
        None,
        &format!("{head}:{relay_port}/{path}"),
        &text("JWT_SECRET"),
        port,
        &log,
    );
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        let client = &client;
        async move {
            client
                .get(format!("http://127.0.0.1:{port}{path}"))
                .header("apikey", text("ANON_KEY"))
                .send()
                .await
                .ok()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        if let Some(r) = get("/health").await {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not answer while waiting: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(health.status(), 200);
    assert_eq!(get("/ready").await.expect("ready").status(), 503);
    let api = get("/rest/v1/").await.expect("rest");
    assert_eq!(api.status(), 503);
    assert_eq!(
        api.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("0")
    );
    let body: serde_json::Value = api.json().await.expect("json");
    assert_eq!(body["code"], "PGRST002");

    let relay = tokio::net::TcpListener::bind(("127.0.0.1", relay_port))
        .await
        .expect("relay port");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = relay.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) =
                    tokio::net::TcpStream::connect(("127.0.0.1", db_port)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while get("/ready").await.map(|r| r.status()) != Some(reqwest::StatusCode::OK) {
        assert!(
            Instant::now() < deadline,
            "serve did not take the database once it answered: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get("/rest/v1/").await.expect("rest").status(), 200);
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("cannot be reached"), "{logged}");
    assert!(!logged.contains("panicked"), "{logged}");
}
