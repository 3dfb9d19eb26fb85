//! `madbase dev`: the embedded default. One command gives a developer a Supabase-compatible
//! endpoint: a private PostgreSQL started from the system's binaries (or `--db-url`), MadBase's
//! migrations, a JWT secret generated once and kept in the data dir, the `anon` and
//! `service_role` keys, and the gateway on loopback. It prints what `supabase start` prints and
//! records it for `madbase status`.
//!
//! Data dir layout: `postgres/` (PGDATA), `postgres.log`, `secrets.json` (0600: JWT secret,
//! database password, key issue time), `dev.lock` (held while running), `status.json`
//! (written while running), `storage/`.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use madbase_config::DataPlaneConfig;
use madbase_pg::{EmbeddedPostgres, PgOptions};
use serde::{Deserialize, Serialize};

use super::project::{ProjectContext, Projects};
use crate::http::jwt::{JwtKeys, generate_secret};

/// Options of `madbase dev`.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// State directory.
    pub data_dir: PathBuf,
    /// Gateway address.
    pub listen: SocketAddr,
    /// Use this database instead of starting one.
    pub db_url: Option<String>,
    /// Log filter.
    pub log_level: String,
}

/// Secrets generated on first start and kept.
#[derive(Debug, Serialize, Deserialize)]
struct DevSecrets {
    jwt_secret: String,
    db_password: String,
    keys_issued_at: i64,
    #[serde(default)]
    db_port: Option<u16>,
}

/// What `madbase status` prints, with Supabase CLI's key names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[allow(non_snake_case)]
pub struct DevStatus {
    /// Gateway base URL for supabase-js.
    pub API_URL: String,
    /// `/rest/v1` URL.
    pub REST_URL: String,
    /// Database URL.
    pub DB_URL: String,
    /// HS256 secret.
    pub JWT_SECRET: String,
    /// anon key.
    pub ANON_KEY: String,
    /// service_role key.
    pub SERVICE_ROLE_KEY: String,
    /// Process id of the running `madbase dev`.
    pub PID: u32,
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

fn load_or_create_secrets(dir: &Path) -> anyhow::Result<DevSecrets> {
    let path = dir.join("secrets.json");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let s: DevSecrets = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is corrupt; delete the data dir to start afresh",
                path.display()
            )
        })?;
        if s.jwt_secret.len() < 32 {
            anyhow::bail!(
                "{}: jwt_secret must be at least 32 characters",
                path.display()
            );
        }
        return Ok(s);
    }
    let s = DevSecrets {
        jwt_secret: generate_secret().expose().to_owned(),
        db_password: generate_secret().expose().to_owned(),
        keys_issued_at: unix_now(),
        db_port: None,
    };
    save_secrets(dir, &s)?;
    Ok(s)
}

fn save_secrets(dir: &Path, s: &DevSecrets) -> anyhow::Result<()> {
    let path = dir.join("secrets.json");
    write_private(&path, &serde_json::to_vec_pretty(s)?)
        .with_context(|| format!("writing {}", path.display()))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Holds the data dir's lock: one `madbase dev` per data dir.
fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join("dev.lock");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            anyhow::bail!(
                "{} is in use by another madbase dev (pid {}); stop it or pass a different --data-dir",
                dir.display(),
                pid.trim()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    f.set_len(0)?;
    write!(f, "{}", std::process::id())?;
    Ok(f)
}

/// Whether a `madbase dev` holds the data dir's lock.
pub fn is_running(dir: &Path) -> bool {
    match File::open(dir.join("dev.lock")) {
        Ok(f) => matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// Reads the status a running `madbase dev` recorded.
pub fn read_status(dir: &Path) -> anyhow::Result<DevStatus> {
    if !is_running(dir) {
        anyhow::bail!("no madbase dev is running with data dir {}", dir.display());
    }
    let path = dir.join("status.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "madbase dev is starting but has not written {} yet",
            path.display()
        )
    })?;
    Ok(serde_json::from_str(&text)?)
}

/// The whole `dev` command.
pub async fn dev(opts: DevOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating {}", opts.data_dir.display()))?;
    // The server may run as the `postgres` user (when we are root): it must traverse this dir.
    std::fs::set_permissions(&opts.data_dir, std::fs::Permissions::from_mode(0o755))?;
    let _lock = lock_data_dir(&opts.data_dir)?;
    let _ = std::fs::remove_file(opts.data_dir.join("status.json"));
    let listener = super::serve::bind(opts.listen, "pass --port to choose another port").await?;
    let mut secrets = load_or_create_secrets(&opts.data_dir)?;

    // `db_url` is what `madbase status` hands out (loopback TCP); `plane_url` is what the data
    // plane itself uses (the embedded server's Unix socket when it has one).
    let (pg, db_url, plane_url) = match &opts.db_url {
        Some(url) => (None, url.clone(), url.clone()),
        None => {
            let pg = EmbeddedPostgres::start(&PgOptions {
                data_dir: opts.data_dir.join("postgres"),
                log_file: opts.data_dir.join("postgres.log"),
                port: secrets.db_port,
                password: secrets.db_password.clone(),
            })
            .await?;
            if secrets.db_port != Some(pg.port()) {
                secrets.db_port = Some(pg.port());
                save_secrets(&opts.data_dir, &secrets)?;
            }
            let (url, plane_url) = (pg.url("postgres"), pg.local_url("postgres"));
            (Some(pg), url, plane_url)
        }
    };
    let result = run(&opts, &secrets, listener, &db_url, &plane_url).await;
    if let Some(pg) = pg {
        tracing::info!("stopping PostgreSQL");
        if let Err(e) = pg.stop().await {
            tracing::warn!(error = %e, "PostgreSQL did not stop cleanly");
        }
    }
    let _ = std::fs::remove_file(opts.data_dir.join("status.json"));
    result
}

async fn run(
    opts: &DevOptions,
    secrets: &DevSecrets,
    listener: tokio::net::TcpListener,
    db_url: &str,
    plane_url: &str,
) -> anyhow::Result<()> {
    let listen = listener.local_addr()?;
    let api_url = format!("http://{listen}");
    let config = dev_config(opts, secrets, listen, plane_url)?;
    let project = ProjectContext::open(&config).await.with_context(|| {
        if opts.db_url.is_some() {
            "--db-url".to_owned()
        } else {
            "the embedded PostgreSQL".to_owned()
        }
    })?;
    let keys = JwtKeys::new(&config.jwt_secret);
    let status = DevStatus {
        API_URL: api_url.clone(),
        REST_URL: format!("{api_url}/rest/v1"),
        DB_URL: db_url.to_owned(),
        JWT_SECRET: secrets.jwt_secret.clone(),
        ANON_KEY: keys.mint_api_key("anon", "default", secrets.keys_issued_at),
        SERVICE_ROLE_KEY: keys.mint_api_key("service_role", "default", secrets.keys_issued_at),
        PID: std::process::id(),
    };
    write_private(
        &opts.data_dir.join("status.json"),
        &serde_json::to_vec_pretty(&status)?,
    )?;
    println!("{}", banner(&status));
    run_http_until_signal(listener, project).await
}

async fn run_http_until_signal(
    listener: tokio::net::TcpListener,
    project: Arc<ProjectContext>,
) -> anyhow::Result<()> {
    super::serve::run_http(
        listener,
        Arc::new(Projects::single(project)),
        super::shutdown::signal(),
    )
    .await?;
    Ok(())
}

/// What `madbase dev` decides itself, whatever the environment says: its database, keys,
/// address, project, logging (`--log-level`), storage and mailbox.
const DEV_OWN: [&str; 10] = [
    "MADBASE_DATABASE_URL",
    "MADBASE_JWT_SECRET",
    "MADBASE_LISTEN",
    "MADBASE_API_EXTERNAL_URL",
    "MADBASE_PROJECT_REF",
    "MADBASE_LOG_LEVEL",
    "MADBASE_LOG_FORMAT",
    "MADBASE_STORAGE_BACKEND",
    "MADBASE_STORAGE_FILE_DIR",
    "MADBASE_AUTH_DEV_MAILBOX",
];

/// The data plane's configuration in dev: the same contract `serve` reads, with dev defaults.
/// Settings not named here take their contract defaults.
fn dev_config(
    opts: &DevOptions,
    secrets: &DevSecrets,
    listen: SocketAddr,
    db_url: &str,
) -> anyhow::Result<DataPlaneConfig> {
    let storage_dir = opts.data_dir.join("storage").display().to_string();
    let mut values: Vec<(&str, String)> = vec![
        ("MADBASE_DATABASE_URL", db_url.to_owned()),
        ("MADBASE_JWT_SECRET", secrets.jwt_secret.clone()),
        ("MADBASE_LISTEN", listen.to_string()),
        ("MADBASE_API_EXTERNAL_URL", format!("http://{listen}")),
        ("MADBASE_LOG_LEVEL", opts.log_level.clone()),
        ("MADBASE_LOG_FORMAT", "text".into()),
        ("MADBASE_STORAGE_BACKEND", "file".into()),
        ("MADBASE_STORAGE_FILE_DIR", storage_dir),
        // Auth as `supabase start` sets it up with `supabase init`'s config: no confirmation
        // emails, messages kept in the dev mailbox, limits raised for local testing; anonymous
        // sign-ins and phone sign-ups off until turned on
        // (`MADBASE_AUTH_EXTERNAL_ANONYMOUS_USERS_ENABLED`, `MADBASE_AUTH_EXTERNAL_PHONE_ENABLED`).
        ("MADBASE_SITE_URL", format!("http://{listen}")),
        ("MADBASE_AUTH_MAILER_AUTOCONFIRM", "true".into()),
        ("MADBASE_AUTH_SMS_AUTOCONFIRM", "true".into()),
        ("MADBASE_AUTH_DEV_MAILBOX", "true".into()),
        (
            "MADBASE_AUTH_URI_ALLOW_LIST",
            "http://localhost:*/**,http://127.0.0.1:*/**".into(),
        ),
        ("MADBASE_AUTH_EMAIL_MAX_FREQUENCY", "1s".into()),
        ("MADBASE_AUTH_SMS_MAX_FREQUENCY", "1s".into()),
        ("MADBASE_AUTH_RATE_LIMIT_EMAIL_SENT", "1000".into()),
        ("MADBASE_AUTH_RATE_LIMIT_OTP", "1000".into()),
        ("MADBASE_AUTH_RATE_LIMIT_TOKEN", "100000".into()),
        ("MADBASE_AUTH_RATE_LIMIT_VERIFY", "1000".into()),
        // The data API's row cap as on a Supabase project (`max_rows = 1000`).
        ("MADBASE_DB_MAX_ROWS", "1000".into()),
    ];
    // The embedded server trusts its Unix socket, so the data API logs in as `authenticator`
    // without a password, as PostgREST does in Supabase: requests, and the SQL they run, can
    // switch only to the roles it is a member of, never to the superuser.
    if opts.db_url.is_none() {
        values.push(("MADBASE_DB_API_USER", "authenticator".into()));
    }
    // Every other setting may come from the environment, as for `madbase serve`, over the
    // defaults above; so may `app.settings.*`.
    for s in madbase_config::SETTINGS
        .iter()
        .filter(|s| !DEV_OWN.contains(&s.env))
    {
        if let Ok(v) = std::env::var(s.env) {
            values.retain(|(k, _)| *k != s.env);
            values.push((s.env, v));
        }
    }
    let mut values: Vec<(String, String)> =
        values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    values.extend(
        std::env::vars().filter(|(k, _)| k.starts_with(madbase_config::APP_SETTINGS_PREFIX)),
    );
    let keys: Vec<String> = values.iter().map(|(k, _)| k.clone()).collect();
    let lookup = |k: &str| {
        values
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    };
    Ok(DataPlaneConfig::from_sources(&lookup, &keys, None)?)
}

/// The `supabase start`-style summary.
pub fn banner(s: &DevStatus) -> String {
    format!(
        "Started madbase dev.\n\n\
         {:>16}: {}\n{:>16}: {}\n{:>16}: {}\n{:>16}: {}\n{:>16}: {}\n{:>16}: {}\n",
        "API URL",
        s.API_URL,
        "REST URL",
        s.REST_URL,
        "DB URL",
        s.DB_URL,
        "JWT secret",
        s.JWT_SECRET,
        "anon key",
        s.ANON_KEY,
        "service_role key",
        s.SERVICE_ROLE_KEY,
    )
}

/// `madbase status --output env` lines.
pub fn status_env(s: &DevStatus) -> String {
    let v = serde_json::to_value(s).unwrap_or_default();
    let mut out = String::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            let text = match val {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("{k}=\"{text}\"\n"));
        }
    }
    out
}
