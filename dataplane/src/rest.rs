//! `/rest/v1`: the PostgREST-compatible data API. The `madbase-rest` engine does the work;
//! this module owns what sits around it in the data plane: the bearer token (anon when none),
//! the data API's own pool of pipelining connections, the project's schema cache and its reload
//! on `NOTIFY pgrst, 'reload schema'` (sent by the DDL event trigger of MadBase's migrations),
//! and the data API's settings, which PostgREST also reads from the database (`ALTER ROLE …
//! SET pgrst.<key>`), re-read on `NOTIFY pgrst, 'reload config'`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::server::project::PoolAging;
use axum::body::Bytes;
use axum::extract::Extension;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use http::{HeaderMap, Method, Uri, header};
use madbase_config::DataPlaneConfig;
use madbase_pgconn::DbUrl;
use madbase_rest::{
    Claims, ConnFuture, Connection, DbError, JwtErrorKind, LaneLimits, LaneStats, Lanes, Outcome,
    RestRequest, RestResponse, RestSettings, SchemaCache, Transaction,
};
use serde_json::json;

use crate::http::jwt::{self, JwtError};
use crate::server::gateway::VerifiedKey;
use crate::server::project::ProjectContext;

/// The data API's per-project state.
pub struct RestContext {
    cache: RwLock<Arc<SchemaCache>>,
    /// The settings from the environment and the file, which the database's are laid over.
    base: std::sync::Mutex<DataPlaneConfig>,
    settings: RwLock<Arc<RestSettings>>,
    pool: RestPool,
    /// Short reads batched on shared connections; None when `db_read_lanes` is 0.
    lanes: Option<Lanes>,
    /// Bearer tokens already verified (PostgREST's JWT cache).
    tokens: crate::http::jwt::TokenCache,
    /// `db_api_user` is a superuser: the role guard stays on ([`superuser_login`]).
    superuser_login: bool,
}

/// A data API connection and the schema generation its prepared statements were made for.
pub struct RestConn {
    conn: madbase_rest::PgConn,
    generation: u64,
}

/// Opens and recycles the data API's connections.
pub struct RestManager {
    config: madbase_rest::ConnConfig,
    /// Bumped on every schema reload: connections prepared under an older one start afresh.
    /// Shared with the read lanes.
    generation: Arc<AtomicU64>,
}

impl deadpool::managed::Manager for RestManager {
    type Type = RestConn;
    type Error = madbase_rest::wire::ConnectError;

    async fn create(&self) -> Result<RestConn, Self::Error> {
        Ok(RestConn {
            conn: self.config.connect().await?,
            generation: self.generation.load(Ordering::Acquire),
        })
    }

    async fn recycle(
        &self,
        c: &mut RestConn,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Self::Error> {
        if !c.conn.is_usable() {
            // Broken, or left mid-request by a client that went away.
            return Err(deadpool::managed::RecycleError::message(
                "connection left unusable",
            ));
        }
        if c.conn.closed_by_server() {
            // Ended by the server while idle (a restart, a failover): replaced now, rather
            // than failing the request it would have been given.
            return Err(deadpool::managed::RecycleError::message(
                "connection closed by the server",
            ));
        }
        let current = self.generation.load(Ordering::Acquire);
        if c.generation != current {
            // Statements were planned against the old schema; a table recreated with other
            // column types would make them fail.
            c.conn.clear_statements();
            c.generation = current;
        }
        Ok(())
    }
}

/// The data API's connection pool.
pub type RestPool = deadpool::managed::Pool<RestManager>;

/// The data API's connection settings for `url`.
fn rest_config(url: &DbUrl, prepared_statements: bool) -> madbase_rest::ConnConfig {
    let mut config = url.clone();
    let pg = config.pg_mut();
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(Duration::from_secs(5));
    }
    pg.application_name("madbase rest");
    madbase_rest::ConnConfig {
        url: config,
        prepared_statements,
    }
}

/// Whether `db_api_user` is a superuser or may become one (a member of a superuser role), which
/// PostgreSQL lets switch to any role: the data
/// API then keeps checking a request's role itself, as without an API login. When the role
/// cannot be looked up the answer is yes, the safe side.
async fn superuser_login(client: &tokio_postgres::Client, config: &DataPlaneConfig) -> bool {
    let Some(user) = &config.db_api_user else {
        return false;
    };
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                            WHERE r.rolsuper AND pg_has_role($1::text, r.oid, 'MEMBER'))",
            &[user],
        )
        .await
        .map_or(true, |row| row.get::<_, bool>(0))
}

/// The data API's login: the database URL as `db_api_user` when one is set (PostgREST's
/// `authenticator`), with `db_api_password` or none. PostgreSQL then lets its requests switch
/// only to the roles that user is a member of.
fn api_url(url: &DbUrl, config: &DataPlaneConfig) -> DbUrl {
    let mut url = url.clone();
    if let Some(user) = &config.db_api_user {
        let pg = url.pg_mut();
        pg.user(user);
        pg.password(config.db_api_password.as_ref().map_or("", |p| p.expose()));
    }
    url
}

/// A pool of `max_size` data API connections to `url`.
pub fn rest_pool(
    url: &DbUrl,
    max_size: usize,
    prepared_statements: bool,
    wait: Duration,
) -> anyhow::Result<RestPool> {
    let manager = RestManager {
        config: rest_config(url, prepared_statements),
        generation: Arc::new(AtomicU64::new(0)),
    };
    deadpool::managed::Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The data API's settings from the data plane's.
fn rest_settings(config: &DataPlaneConfig) -> RestSettings {
    RestSettings {
        schemas: config.db_schemas.clone(),
        max_rows: config.db_max_rows,
        pre_request: config.db_pre_request.clone(),
        plan_enabled: config.db_plan_enabled,
        aggregates_enabled: config.db_aggregates_enabled,
        openapi_mode: config.openapi_mode,
        root_spec: config.db_root_spec.clone(),
        hoisted_tx_settings: config.db_hoisted_tx_settings.clone(),
        tx_end: config.db_tx_end,
        extra_search_path: config.db_extra_search_path.clone(),
        jwt_aud: config.jwt_aud.clone(),
        role_claim_key: config.jwt_role_claim_key.clone(),
        server_timing: config.server_timing_enabled,
        error_verbosity: config.client_error_verbosity,
        openapi_security_active: config.openapi_security_active,
        log_query: config.log_query,
        role_guard: config.db_api_user.is_none(),
        anon_role: config.db_anon_role.clone(),
        app_settings: config
            .app_settings
            .iter()
            .map(|(name, value)| (format!("app.settings.{name}"), value.expose().to_owned()))
            .collect(),
        // Without a public URL (serve's default is its listen address, often 0.0.0.0), the
        // description names no host: clients then use the one that served it.
        openapi_server: Some(
            match (&config.openapi_server_proxy_uri, &config.api_external_url) {
                (Some(uri), _) => uri.clone(),
                (None, Some(external)) => format!("{external}/rest/v1"),
                (None, None) => "/rest/v1".to_owned(),
            },
        ),
    }
}

/// The `pgrst.*` settings of the role `authenticator`, where Supabase keeps them (its
/// PostgREST logs in as that role: `ALTER ROLE authenticator SET pgrst.db_aggregates_enabled`
/// is how Supabase's documentation turns aggregates on), and of the connecting role, as
/// PostgREST reads them; each for every database and for this one. Later rows win: the
/// connecting role over `authenticator`, this database over every database. A database's own
/// settings (`ALTER DATABASE … SET`) do not count, as in PostgREST.
const ROLE_PGRST_SETTINGS_SQL: &str = "\
SELECT substr(kv, 7, strpos(kv, '=') - 7), substr(kv, strpos(kv, '=') + 1)
FROM pg_catalog.pg_db_role_setting s
JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
CROSS JOIN LATERAL unnest(s.setconfig) AS kv
WHERE r.rolname IN ('authenticator', current_user)
  AND s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
  AND kv LIKE 'pgrst.%' AND strpos(kv, '=') > 0
ORDER BY r.rolname = current_user, s.setdatabase <> 0";

/// What `db_pre_config` set, by name, read in the transaction that called it.
const PRE_CONFIG_SETTINGS_SQL: &str = "\
SELECT substr(name, 7), current_setting(name, true) FROM unnest($1::text[]) AS name
WHERE coalesce(current_setting(name, true), '') <> ''";

/// The settings the database holds for the data API (PostgREST's in-database
/// configuration), by key without `pgrst.`, lowest precedence first: what `db_pre_config`
/// sets, then the roles' settings in [`ROLE_PGRST_SETTINGS_SQL`]'s order. None when
/// `db_config` is off.
async fn read_db_settings(
    client: &tokio_postgres::Client,
    config: &DataPlaneConfig,
) -> Result<Vec<(String, String)>, String> {
    if !config.db_config {
        return Ok(Vec::new());
    }
    let read = |e: tokio_postgres::Error| {
        format!(
            "reading the in-database settings: {}",
            madbase_pgconn::error_text(&e)
        )
    };
    let mut db: Vec<(String, String)> = Vec::new();
    // Read-only, and rolled back: what the pre-config function sets ends with it.
    client
        .batch_execute("BEGIN READ ONLY")
        .await
        .map_err(read)?;
    let outcome = async {
        if let Some(f) = &config.db_pre_config {
            // A pre-config function that fails (not created yet, say) leaves the role's
            // settings in force: it is logged and its part left out.
            client.batch_execute("SAVEPOINT pre_config").await?;
            match pre_config(client, f).await {
                Ok(set) => db.extend(set),
                Err(e) => {
                    tracing::warn!(function = %f, error = %madbase_pgconn::error_text(&e), "the pre-config function failed; its settings are left out");
                    client
                        .batch_execute("ROLLBACK TO SAVEPOINT pre_config")
                        .await?;
                }
            }
        }
        for row in client.query_typed(ROLE_PGRST_SETTINGS_SQL, &[]).await? {
            db.push((row.get(0), row.get(1)));
        }
        Ok::<_, tokio_postgres::Error>(())
    }
    .await;
    let _ = client.batch_execute("ROLLBACK").await;
    outcome.map_err(read)?;
    for (key, _) in &db {
        if !madbase_config::DB_SETTINGS.contains(&key.as_str()) {
            // The name only: the value may be a secret (pgrst.jwt_secret).
            tracing::warn!(setting = %format!("pgrst.{key}"), "in-database setting not read by MadBase; ignored");
        }
    }
    Ok(db)
}

/// Calls the pre-config function `f` and reads the `pgrst.*` settings it set.
async fn pre_config(
    client: &tokio_postgres::Client,
    f: &str,
) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    let call = match f.split_once('.') {
        Some((schema, name)) => format!(
            "SELECT {}.{}()",
            madbase_rest::quote_ident(schema),
            madbase_rest::quote_ident(name)
        ),
        None => format!("SELECT {}()", madbase_rest::quote_ident(f)),
    };
    client.batch_execute(&call).await?;
    let names: Vec<String> = madbase_config::DB_SETTINGS
        .iter()
        .map(|k| format!("pgrst.{k}"))
        .collect();
    let rows = client
        .query_typed(
            PRE_CONFIG_SETTINGS_SQL,
            &[(&names, tokio_postgres::types::Type::TEXT_ARRAY)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// `config` with `db` laid over it: they win over the environment and the file.
fn with_db_settings(
    config: &DataPlaneConfig,
    db: &[(String, String)],
) -> Result<DataPlaneConfig, String> {
    if db.is_empty() {
        return Ok(config.clone());
    }
    config
        .with_db_settings(db)
        .map_err(|e| format!("in-database settings: {}", e.to_string().trim_end()))
}

impl RestContext {
    /// Whether the data API can reach its database with its own login (readiness): a pooled
    /// connection answers `SELECT 1`.
    pub async fn check(&self) -> Result<(), String> {
        let mut c = self
            .pool
            .get()
            .await
            .map_err(|e| pool_error(e).details.unwrap_or_default())?;
        match c
            .conn
            .pipeline(&[madbase_rest::wire::Step::plain("SELECT 1")])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{} ({})", e.message, e.code)),
        }
    }

    /// Loads the schema cache for the configured schemas.
    pub async fn load(
        client: &tokio_postgres::Client,
        config: &DataPlaneConfig,
        url: &DbUrl,
    ) -> anyhow::Result<Self> {
        // At start, as in PostgREST: settings the database cannot give are logged and left
        // out, but a bad value stops the data plane as a bad environment variable does. On a
        // reload either keeps the running settings.
        let db = read_db_settings(client, config).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "starting without the in-database settings");
            Vec::new()
        });
        let mut settings =
            rest_settings(&with_db_settings(config, &db).map_err(|e| anyhow::anyhow!("{e}"))?);
        let superuser_login = superuser_login(client, config).await;
        settings.role_guard |= superuser_login;
        let cache = SchemaCache::load(client, &settings.schemas, &settings.extra_search_path)
            .await
            .map_err(|e| anyhow::anyhow!("loading the schema cache: {e}"))?;
        let pool = rest_pool(
            &api_url(url, config),
            config.db_pool_size,
            config.db_prepared_statements,
            Duration::from_secs(config.db_pool_acquisition_timeout),
        )?;
        crate::server::project::spawn_pool_reaper(pool.weak(), PoolAging::of(config));
        let aging = PoolAging::of(config);
        let lanes = (config.db_read_lanes > 0).then(|| {
            Lanes::with_limits(
                config.db_read_lanes,
                pool.manager().config.clone(),
                pool.manager().generation.clone(),
                LaneLimits {
                    max_idle: aging.idle,
                    max_lifetime: aging.lifetime,
                    ..LaneLimits::default()
                },
            )
        });
        Ok(Self {
            cache: RwLock::new(Arc::new(cache)),
            base: std::sync::Mutex::new(config.clone()),
            settings: RwLock::new(Arc::new(settings)),
            pool,
            lanes,
            tokens: crate::http::jwt::TokenCache::new(config.jwt_cache_max_entries),
            superuser_login,
        })
    }

    /// The current schema cache.
    pub fn cache(&self) -> Arc<SchemaCache> {
        // A poisoned lock only means a reload panicked mid-swap; the Arc inside is intact.
        match self.cache.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Arc<RestSettings> {
        match self.settings.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Re-reads the config file `madbase serve` was started with (over the same environment)
    /// and the settings the database holds, and swaps them in; requests in flight keep the old
    /// ones. The data API's settings take effect; others changed in the file are logged by
    /// name, for a restart. On a bad value, in the file or the database, the running settings
    /// stay.
    pub async fn reload_config(&self, client: &tokio_postgres::Client) -> Result<(), String> {
        let base = self.base.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let base = match &base.config_file {
            Some(path) => {
                let newer = crate::server::serve::load_config(Some(path))
                    .map_err(|e| format!("{e:#}").trim_end().to_owned())?;
                let restart = base.restart_needed(&newer);
                if !restart.is_empty() {
                    tracing::warn!(
                        settings = %restart.join(", "),
                        "changed in the config file; they take effect on restart"
                    );
                }
                newer
            }
            None => base,
        };
        let db = read_db_settings(client, &base).await?;
        let mut fresh = rest_settings(&with_db_settings(&base, &db)?);
        fresh.role_guard |= self.superuser_login;
        *self.base.lock().unwrap_or_else(|p| p.into_inner()) = base;
        let mut guard = match self.settings.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *guard = Arc::new(fresh);
        Ok(())
    }

    /// Re-reads the catalog and swaps the cache in; requests in flight keep the old one.
    pub async fn reload(&self, client: &tokio_postgres::Client) -> Result<(), String> {
        let settings = self.settings();
        let fresh = SchemaCache::load(client, &settings.schemas, &settings.extra_search_path)
            .await
            .map_err(|e| e.to_string())?;
        let mut guard = match self.cache.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *guard = Arc::new(fresh);
        Ok(())
    }

    /// Pool gauges of the data API's connections.
    pub fn pool_status(&self) -> deadpool::Status {
        self.pool.status()
    }

    /// Bearer tokens in the JWT cache.
    pub fn cached_tokens(&self) -> usize {
        self.tokens.len()
    }

    /// Counters of the read lanes (zero when there are none).
    pub fn lane_stats(&self) -> LaneStats {
        self.lanes.as_ref().map(Lanes::stats).unwrap_or_default()
    }
}

/// Reloads on signals, as PostgREST: the schema cache on SIGUSR1, the settings and then the
/// schema cache on SIGUSR2. For a database whose notifications do not reach the data plane
/// (behind some poolers), or to reload without a database session.
pub fn spawn_reload_signals(project: Arc<ProjectContext>) {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, config) in [
        (SignalKind::user_defined1(), false),
        (SignalKind::user_defined2(), true),
    ] {
        let Ok(mut signals) = signal(kind) else {
            tracing::warn!(?kind, "cannot listen for a reload signal");
            continue;
        };
        let project = project.clone();
        tokio::spawn(async move {
            while signals.recv().await.is_some() {
                reload(&project, config).await;
            }
        });
    }
}

/// Listens for `NOTIFY <channel>` (`pgrst` unless configured) on a dedicated connection and
/// reloads the schema cache on
/// `reload schema` or an empty payload, and the settings and then the schema cache (the
/// exposed schemas and the roles' settings may have changed) on `reload config`, as PostgREST.
/// Reconnects with backoff, reloading after each reconnect since notifications may have been
/// missed. Ends when the process does.
pub fn spawn_schema_listener(project: Arc<ProjectContext>, database_url: DbUrl, channel: String) {
    // Named in pg_stat_activity like the data plane's other connections.
    let mut url = database_url;
    url.pg_mut().application_name("madbase listener");
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        let mut reconnect = false;
        loop {
            match listen_once(&project, &url, &channel, reconnect).await {
                Ok(()) => backoff = Duration::from_millis(500),
                Err(e) => {
                    tracing::warn!(error = %e, "schema reload listener lost its connection; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
            reconnect = true;
            tokio::time::sleep(backoff).await;
        }
    });
}

/// Listens on `channel` until the connection ends. After a reconnect, the settings and the
/// schema cache are reloaded once `LISTEN` is in place, so no change made while the listener
/// was away goes unseen.
async fn listen_once(
    project: &ProjectContext,
    url: &DbUrl,
    channel: &str,
    reconnect: bool,
) -> Result<(), String> {
    let (client, mut connection) = url
        .connect()
        .await
        .map_err(|e| madbase_pgconn::error_text(&e))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    });
    client
        .batch_execute(&format!("LISTEN {}", madbase_rest::quote_ident(channel)))
        .await
        .map_err(|e| e.to_string())?;
    if reconnect {
        reload(project, true).await;
    }
    while let Some(payload) = rx.recv().await {
        match payload.as_str() {
            "" | "reload schema" => reload(project, false).await,
            "reload config" => reload(project, true).await,
            _ => {}
        }
    }
    drop(client);
    driver.await.map_err(|e| e.to_string())?
}

/// Reloads the schema cache, after the settings when `config` says so.
async fn reload(project: &ProjectContext, config: bool) {
    let client = match project.pool.get().await {
        Ok(client) => client,
        Err(e) => {
            let e = crate::server::project::describe_pool_error(&e);
            tracing::warn!(error = %e, "reload failed; keeping the previous settings and schema cache");
            return;
        }
    };
    if config {
        match project.rest.reload_config(&client).await {
            Ok(()) => tracing::info!("data API settings reloaded"),
            Err(e) => {
                tracing::warn!(error = %e, "settings reload failed; keeping the previous settings")
            }
        }
    }
    let result = project.rest.reload(&client).await;
    // Prepared statements were planned against the old schema; a table recreated with other
    // column types would make them fail, so every connection prepares afresh.
    project
        .rest
        .pool
        .manager()
        .generation
        .fetch_add(1, Ordering::AcqRel);
    if let Some(lanes) = &project.rest.lanes {
        lanes.forget_slow();
    }
    match result {
        Ok(()) => tracing::info!("schema cache reloaded"),
        Err(e) => {
            tracing::warn!(error = %e, "schema cache reload failed; keeping the previous cache")
        }
    }
}

/// The token of `Authorization: Bearer <token>`; `Some("")` for a bearer without one, which
/// PostgREST refuses rather than taking for anonymous.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    // The scheme ends at any whitespace (`Bearer<TAB>token` too), as PostgREST reads it.
    let (scheme, token) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The response; one to `HEAD` (`head`) has no body, and no `Content-Length` either, as
/// PostgREST answers: its length would be that of the body axum drops, not that of the GET's
/// (RFC 9110 allows no other). A body of unknown length keeps axum from writing one.
fn into_response(r: RestResponse, head: bool) -> Response {
    let body = if head {
        axum::body::Body::from_stream(futures_util::stream::empty::<
            Result<Bytes, std::convert::Infallible>,
        >())
    } else {
        axum::body::Body::from(r.body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = r.status;
    *resp.headers_mut() = r.headers;
    // A reason phrase of the response's own (`PT402` "Payment Required", a RAISE's
    // `status_text`), as PostgREST writes it on the status line; supabase-js shows it as
    // `statusText`.
    if let Some(reason) = r
        .reason
        .and_then(|text| hyper::ext::ReasonPhrase::try_from(text.into_bytes()).ok())
    {
        resp.extensions_mut().insert(reason);
    } else if resp.status().canonical_reason().is_none() {
        // A status HTTP names no phrase for (`response.status` 332) goes without one, as
        // PostgREST's server sends it, not with hyper's `<none>`.
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(b""));
    }
    resp
}

pub async fn handle(
    Extension(project): Extension<Arc<ProjectContext>>,
    verified: Option<Extension<VerifiedKey>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // A body that cannot be read (over the size limit, or cut off) still gets PostgREST's error
    // shape, with the status axum chose (413 for the limit).
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            return (
                rejection.status(),
                axum::Json(json!({
                    "code": "PGRST102",
                    "details": rejection.body_text(),
                    "hint": null,
                    "message": "The request body could not be read",
                })),
            )
                .into_response();
        }
    };
    let head = method == Method::HEAD;
    let rest = &project.rest;
    let settings = rest.settings();
    let began = settings.server_timing.then(std::time::Instant::now);
    let (role, claims) = match (bearer(&headers), &settings.anon_role) {
        (None, Some(anon)) => (anon.clone(), Arc::new(Claims::new(json!({ "role": anon })))),
        (None, None) => {
            return into_response(
                madbase_rest::jwt_error(JwtErrorKind::AnonymousDisabled, &settings),
                head,
            );
        }
        (Some(""), _) => {
            let kind = JwtErrorKind::Invalid("Empty JWT is sent in Authorization header".into());
            return into_response(madbase_rest::jwt_error(kind, &settings), head);
        }
        // PostgREST 13's answer to a token that is not three dot-separated parts.
        (Some(token), _) if token.split('.').count() != 3 => {
            let parts = token.split('.').count();
            let kind = JwtErrorKind::Invalid(format!("Expected 3 parts in JWT; got {parts}"));
            return into_response(madbase_rest::jwt_error(kind, &settings), head);
        }
        (Some(token), _) => {
            // The gateway has verified the API key, and the cache holds tokens verified
            // before; anything else is verified here. Its signature only: the claims are
            // checked as PostgREST checks them, on every request.
            let known = verified
                .filter(|v| v.token == token)
                .map(|v| v.0.claims)
                .or_else(|| rest.tokens.get(token));
            let fresh = known.is_none();
            let verified = match known {
                Some(claims) => Ok(claims),
                None => project
                    .jwt
                    .verify_signature(token)
                    .map(|c| Arc::new(Claims::new(c))),
            };
            let checked = match verified {
                Ok(claims) => {
                    madbase_rest::authorize(claims.value(), &settings, madbase_rest::now_secs())
                        .map(|role| {
                            if fresh {
                                rest.tokens.put(token, &claims);
                            }
                            (role, claims)
                        })
                }
                Err(JwtError::Expired) => Err(JwtErrorKind::Claims("JWT expired".into())),
                Err(JwtError::BadSignature) => Err(JwtErrorKind::NoKey),
                // In PostgREST's words (its JWT library's errors).
                Err(JwtError::Malformed(reason)) => Err(match reason.as_str() {
                    jwt::UNSUPPORTED_ALGORITHM => JwtErrorKind::NoKey,
                    jwt::NOT_AN_OBJECT => JwtErrorKind::Claims("Parsing claims failed".into()),
                    _ if jwt::is_unsecured(token) => {
                        JwtErrorKind::Invalid("Wrong or unsupported encoding algorithm".into())
                    }
                    _ => JwtErrorKind::Invalid("JWT cryptographic operation failed".into()),
                }),
            };
            match checked {
                Ok(checked) => checked,
                Err(kind) => return into_response(madbase_rest::jwt_error(kind, &settings), head),
            }
        }
    };
    let path = match uri.path().strip_prefix("/rest/v1").unwrap_or(uri.path()) {
        "" => "/".to_owned(),
        p => p.to_owned(),
    };
    let req = RestRequest {
        method,
        path,
        query: uri.query().map(str::to_owned),
        headers,
        body,
        role,
        claims,
        jwt_time: began.map(|t| t.elapsed()),
    };
    let cache = rest.cache();
    let conn = Routed {
        rest,
        own: tokio::sync::Mutex::new(None),
    };
    let resp = madbase_rest::handle(&cache, &settings, &conn, req).await;
    if let Some(query) = &resp.query {
        // The statement's text only: the values travel as parameters and are not logged.
        tracing::info!(%query, "rest query");
    }
    into_response(resp, head)
}

/// Where a request's statements run: a short read on a read lane when one takes it, anything
/// else on a connection of the request's own, taken from the pool when first needed (so a
/// request refused before reaching the database never waits for one).
struct Routed<'a> {
    rest: &'a RestContext,
    own: tokio::sync::Mutex<Option<deadpool::managed::Object<RestManager>>>,
}

impl Connection for Routed<'_> {
    fn run(&self, tx: Transaction) -> ConnFuture<'_, Outcome> {
        Box::pin(async move {
            let tx = match &self.rest.lanes {
                Some(lanes) => match lanes.run(tx).await {
                    Ok(result) => return result,
                    Err(tx) => tx,
                },
                None => tx,
            };
            let mut own = self.own.lock().await;
            let conn = match &mut *own {
                Some(conn) => conn,
                slot => slot.insert(self.rest.pool.get().await.map_err(pool_error)?),
            };
            let outcome = match &self.rest.lanes {
                Some(lanes) => lanes.run_alone(&mut conn.conn, &tx).await,
                None => madbase_rest::run_on(&mut conn.conn, &tx).await,
            };
            if tx.is_implicit() {
                // Its transaction ended with the pipeline: nothing is left to finish.
                *own = None;
            }
            outcome
        })
    }

    fn finish(&self, commit: bool) -> ConnFuture<'_, ()> {
        Box::pin(async move {
            match &mut *self.own.lock().await {
                Some(conn) => conn.conn.finish(commit).await,
                // Nothing was left open: a lane's reads end with their pipeline.
                None => Ok(()),
            }
        })
    }
}

impl Drop for Routed<'_> {
    /// A request dropped mid-statement (its client went away) cancels that statement on the
    /// server; the pool then discards the connection, left busy.
    fn drop(&mut self) {
        if let Some(conn) = self.own.get_mut() {
            conn.conn.cancel_token().cancel_if_busy();
        }
    }
}

/// PostgREST's errors for a connection the pool could not give: 504 PGRST003 when none came
/// free in time, 503 PGRST000 when the database could not be reached.
fn pool_error(e: deadpool::managed::PoolError<madbase_rest::wire::ConnectError>) -> DbError {
    tracing::error!(error = %e, "no database connection");
    use deadpool::managed::{PoolError, TimeoutType};
    let (code, message, details) = match e {
        PoolError::Timeout(TimeoutType::Wait) => (
            "PGRST003",
            "Timed out acquiring connection from connection pool.",
            None,
        ),
        // PostgREST 13's words, with why as its details (the connection error, never the URL).
        PoolError::Backend(e) => (
            "PGRST000",
            "Database connection error. Retrying the connection.",
            Some(e.to_string()),
        ),
        PoolError::Timeout(_) => (
            "PGRST000",
            "Database connection error. Retrying the connection.",
            Some("timed out connecting to the database".to_string()),
        ),
        _ => (
            "PGRST000",
            "Database connection error. Retrying the connection.",
            None,
        ),
    };
    DbError {
        code: code.into(),
        message: message.into(),
        details,
        hint: None,
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use deadpool::managed::{PoolError, TimeoutType};
    use madbase_rest::wire::ConnectError;

    #[test]
    fn database_settings_reach_the_data_api_and_a_bad_one_is_refused_by_name() {
        let keys = [
            "MADBASE_DATABASE_URL".to_owned(),
            "MADBASE_JWT_SECRET".to_owned(),
        ];
        let config = DataPlaneConfig::from_sources(
            &|k| match k {
                "MADBASE_DATABASE_URL" => Some("postgres://u:p@localhost/db".into()),
                "MADBASE_JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
                _ => None,
            },
            &keys,
            None,
        )
        .expect("valid");
        let db = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        let settings =
            rest_settings(&with_db_settings(&config, &db("db_anon_role", "web")).expect("valid"));
        assert_eq!(settings.anon_role.as_deref(), Some("web"));
        // Empty is none, as PostgREST reads it: anonymous access off.
        let settings =
            rest_settings(&with_db_settings(&config, &db("db_anon_role", "")).expect("valid"));
        assert_eq!(settings.anon_role, None);
        assert_eq!(
            rest_settings(&with_db_settings(&config, &[]).expect("valid")),
            rest_settings(&config)
        );
        let err = with_db_settings(&config, &db("db_tx_end", "sometimes")).expect_err("refused");
        assert!(
            err.starts_with("in-database settings: invalid configuration:")
                && err.contains("pgrst.db_tx_end must be"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_head_response_has_no_content_length() {
        use tower::ServiceExt as _;
        let app = axum::Router::new().route(
            "/t",
            axum::routing::any(|method: Method| async move {
                let mut r = RestResponse::new(http::StatusCode::OK, "application/json", "");
                // The data API answers HEAD without a body, GET with one.
                if method != Method::HEAD {
                    r.body = Bytes::from_static(b"[1]");
                }
                into_response(r, method == Method::HEAD)
            }),
        );
        let call = |method: Method| {
            let request = http::Request::builder()
                .method(method)
                .uri("/t")
                .body(axum::body::Body::empty())
                .expect("request");
            app.clone().oneshot(request)
        };
        let head = call(Method::HEAD).await.expect("HEAD");
        assert_eq!(head.headers().get(header::CONTENT_LENGTH), None);
        assert_eq!(
            head.headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let get = call(Method::GET).await.expect("GET");
        assert_eq!(
            get.headers()
                .get(header::CONTENT_LENGTH)
                .map(|v| v.as_bytes()),
            Some(&b"3"[..])
        );
    }

    #[test]
    fn the_bearer_token_follows_any_whitespace() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                http::HeaderValue::from_str(v).expect("header"),
            );
            h
        };
        assert_eq!(bearer(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&with("bearer\tabc")), Some("abc"));
        assert_eq!(bearer(&with("Bearer")), Some(""));
        assert_eq!(bearer(&with("Basic abc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn pool_failures_are_postgrest_errors() {
        let timeout = pool_error(PoolError::Timeout(TimeoutType::Wait));
        assert_eq!(timeout.code, "PGRST003");
        assert_eq!(
            timeout.message,
            "Timed out acquiring connection from connection pool."
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let down = pool_error(PoolError::Backend(ConnectError::Io(refused)));
        assert_eq!(down.code, "PGRST000");
        assert_eq!(
            down.message,
            "Database connection error. Retrying the connection."
        );
        let details = down.details.expect("why, as PostgREST gives it");
        assert!(details.contains("refused"), "{details}");
        let create = pool_error(PoolError::Timeout(TimeoutType::Create));
        assert_eq!(create.code, "PGRST000");
        assert_eq!(
            create.details.as_deref(),
            Some("timed out connecting to the database")
        );
    }
}
