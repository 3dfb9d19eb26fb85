//! `/rest/v1`: the PostgREST-compatible data API. The `madbase-rest` engine does the work;
//! this module owns what sits around it in the data plane: the bearer token (anon when none),
//! the data API's own pool of pipelining connections, the project's schema cache and its reload
//! on `NOTIFY pgrst, 'reload schema'` (sent by the DDL event trigger of MadBase's migrations).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Extension;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use http::{HeaderMap, Method, Uri, header};
use madbase_config::DataPlaneConfig;
use madbase_pgconn::DbUrl;
use madbase_rest::{
    Claims, ConnFuture, Connection, DbError, JwtErrorKind, LaneStats, Lanes, Outcome, RestRequest,
    RestResponse, RestSettings, SchemaCache, Transaction,
};
use serde_json::{Value, json};

use crate::http::jwt::JwtError;
use crate::server::gateway::VerifiedKey;
use crate::server::project::ProjectContext;

/// The data API's per-project state.
pub struct RestContext {
    cache: RwLock<Arc<SchemaCache>>,
    settings: RestSettings,
    pool: RestPool,
    /// Short reads batched on shared connections; None when `db_read_lanes` is 0.
    lanes: Option<Lanes>,
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

/// A pool of `max_size` data API connections to `url`.
pub fn rest_pool(
    url: &DbUrl,
    max_size: usize,
    prepared_statements: bool,
) -> anyhow::Result<RestPool> {
    let manager = RestManager {
        config: rest_config(url, prepared_statements),
        generation: Arc::new(AtomicU64::new(0)),
    };
    deadpool::managed::Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

impl RestContext {
    /// Loads the schema cache for the configured schemas.
    pub async fn load(
        client: &tokio_postgres::Client,
        config: &DataPlaneConfig,
        url: &DbUrl,
    ) -> anyhow::Result<Self> {
        let settings = RestSettings {
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
            ..RestSettings::default()
        };
        let cache = SchemaCache::load(client, &settings.schemas)
            .await
            .map_err(|e| anyhow::anyhow!("loading the schema cache: {e}"))?;
        let pool = rest_pool(url, config.db_pool_size, config.db_prepared_statements)?;
        let lanes = (config.db_read_lanes > 0).then(|| {
            Lanes::start(
                config.db_read_lanes,
                pool.manager().config.clone(),
                pool.manager().generation.clone(),
            )
        });
        Ok(Self {
            cache: RwLock::new(Arc::new(cache)),
            settings,
            pool,
            lanes,
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

    /// Re-reads the catalog and swaps the cache in; requests in flight keep the old one.
    pub async fn reload(&self, client: &tokio_postgres::Client) -> Result<(), String> {
        let fresh = SchemaCache::load(client, &self.settings.schemas)
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

    /// Counters of the read lanes (zero when there are none).
    pub fn lane_stats(&self) -> LaneStats {
        self.lanes.as_ref().map(Lanes::stats).unwrap_or_default()
    }
}

/// Listens for `NOTIFY pgrst` on a dedicated connection and reloads the schema cache on
/// `reload schema`, `reload config` (role settings) or an empty payload, as PostgREST.
/// Reconnects with backoff, reloading after each reconnect since notifications may have been
/// missed. Ends when the process does.
pub fn spawn_schema_listener(project: Arc<ProjectContext>, database_url: DbUrl) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            match listen_once(&project, &database_url).await {
                Ok(()) => backoff = Duration::from_millis(500),
                Err(e) => {
                    tracing::warn!(error = %e, "schema reload listener lost its connection; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
            tokio::time::sleep(backoff).await;
            reload(&project).await;
        }
    });
}

async fn listen_once(project: &ProjectContext, url: &DbUrl) -> Result<(), String> {
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
        .batch_execute("LISTEN pgrst")
        .await
        .map_err(|e| e.to_string())?;
    while let Some(payload) = rx.recv().await {
        // `reload config` re-reads the role settings, which live in the same cache.
        if payload.is_empty() || payload == "reload schema" || payload == "reload config" {
            reload(project).await;
        }
    }
    drop(client);
    driver.await.map_err(|e| e.to_string())?
}

async fn reload(project: &ProjectContext) {
    let result = match project.pool.get().await {
        Ok(client) => project.rest.reload(&client).await,
        Err(e) => Err(crate::server::project::describe_pool_error(&e)),
    };
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

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn into_response(r: RestResponse) -> Response {
    let mut resp = Response::new(axum::body::Body::from(r.body));
    *resp.status_mut() = r.status;
    *resp.headers_mut() = r.headers;
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
    let rest = &project.rest;
    let (role, claims) = match bearer(&headers) {
        None => (
            rest.settings.anon_role.clone(),
            Arc::new(Claims::new(json!({"role": rest.settings.anon_role}))),
        ),
        Some(token) => match verified.filter(|v| v.token == token).map_or_else(
            || project.jwt.verify(token).map(|c| Arc::new(Claims::new(c))),
            |v| Ok(v.0.claims),
        ) {
            Ok(claims) => {
                let role = claims
                    .value()
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or(&rest.settings.anon_role)
                    .to_owned();
                (role, claims)
            }
            Err(e) => {
                let kind = match e {
                    JwtError::Expired => JwtErrorKind::Claims("JWT expired".into()),
                    JwtError::BadSignature => {
                        JwtErrorKind::Invalid("JWSError JWSInvalidSignature".into())
                    }
                    JwtError::Malformed(reason) => JwtErrorKind::Invalid(reason),
                };
                return into_response(madbase_rest::jwt_error(kind));
            }
        },
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
    };
    let cache = rest.cache();
    let conn = Routed {
        rest,
        own: tokio::sync::Mutex::new(None),
    };
    into_response(madbase_rest::handle(&cache, &rest.settings, &conn, req).await)
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
    let (code, message) = match e {
        deadpool::managed::PoolError::Timeout(deadpool::managed::TimeoutType::Wait) => (
            "PGRST003",
            "Timed out acquiring connection from connection pool.",
        ),
        _ => ("PGRST000", "Could not connect with the database"),
    };
    DbError {
        code: code.into(),
        message: message.into(),
        details: None,
        hint: None,
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use deadpool::managed::{PoolError, TimeoutType};
    use madbase_rest::wire::ConnectError;

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
        assert_eq!(down.message, "Could not connect with the database");
        assert_eq!(down.details, None, "the cause goes to the log only");
        let create = pool_error(PoolError::Timeout(TimeoutType::Create));
        assert_eq!(create.code, "PGRST000");
    }
}
