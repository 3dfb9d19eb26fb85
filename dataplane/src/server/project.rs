//! The project context: everything a request needs (pool, JWT keys, settings, metrics),
//! resolved by the gateway and reached through the request, never through globals — so one
//! process can serve several projects with separate pools and caches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use http::HeaderMap;
use madbase_config::DataPlaneConfig;
use madbase_pgconn::DbUrl;

use crate::http::jwt::JwtKeys;

/// API keys the gateway remembers: only keys that verified as `anon` or `service_role` are
/// stored, and a project has a handful.
const API_KEY_CACHE_SIZE: usize = 64;
use crate::metrics::{Metrics, PoolGauges};

/// One project's settings that handlers read.
#[derive(Debug, Clone)]
pub struct ProjectSettings {
    /// Origins browsers may call from; `None` for any.
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Reject requests without a valid API key.
    pub require_apikey: bool,
    /// Public base URL.
    pub api_external_url: String,
}

/// Everything that belongs to one project.
pub struct ProjectContext {
    /// The project reference.
    pub project_ref: String,
    /// Connections to the project's database.
    pub pool: Pool,
    /// JWT verification and minting.
    pub jwt: JwtKeys,
    /// API keys the gateway has verified.
    pub api_keys: crate::http::jwt::TokenCache,
    /// Settings.
    pub settings: ProjectSettings,
    /// Request metrics.
    pub metrics: Metrics,
    /// `/auth/v1` state.
    pub auth: crate::auth::AuthContext,
    /// `/rest/v1` state.
    pub rest: crate::rest::RestContext,
}

/// Could not open the project's database.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The URL does not parse.
    #[error("{0}")]
    BadUrl(String),
    /// No connection could be made.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// An API could not be set up.
    #[error("{0:#}")]
    Setup(anyhow::Error),
    /// A migration failed.
    #[error(transparent)]
    Migration(#[from] crate::migrations::MigrationError),
}

/// The project's database URL with its TLS: the URL's own options first, then
/// `MADBASE_DB_SSL_MODE` / `MADBASE_DB_SSL_ROOT_CERT`, then libpq's environment variables.
pub fn db_url(config: &DataPlaneConfig) -> Result<DbUrl, ProjectError> {
    let env = |name: &str| {
        match name {
            "PGSSLMODE" => config.db_ssl_mode.map(|m| m.as_str().to_owned()),
            "PGSSLROOTCERT" => config.db_ssl_root_cert.clone(),
            _ => None,
        }
        .or_else(|| std::env::var(name).ok())
    };
    DbUrl::parse_with_env(config.database_url.expose(), &env)
        .map_err(|e| ProjectError::BadUrl(e.to_string()))
}

/// A connection pool for `url`.
pub fn pool(url: &DbUrl, max_size: usize) -> Result<Pool, ProjectError> {
    let tls = url.tls().tokio_postgres();
    let mut pg = url.pg().clone();
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(Duration::from_secs(5));
    }
    pg.application_name("madbase");
    let manager = Manager::from_config(
        pg,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| ProjectError::BadUrl(format!("the database pool cannot be built: {e}")))
}

impl ProjectContext {
    /// Opens the pool, checks the database answers and applies migrations.
    pub async fn open(config: &DataPlaneConfig) -> Result<Arc<Self>, ProjectError> {
        let url = db_url(config)?;
        let pool = pool(&url, config.db_pool_size)?;
        let rest = {
            let mut client = pool
                .get()
                .await
                .map_err(|e| ProjectError::Connect(describe_pool_error(&e)))?;
            crate::migrations::run(&mut client).await?;
            crate::rest::RestContext::load(&client, config, &url)
                .await
                .map_err(ProjectError::Setup)?
        };
        let api_external_url = config.external_url();
        let project = Arc::new(Self {
            project_ref: config.project_ref.clone(),
            pool,
            jwt: JwtKeys::new(&config.jwt_secret)
                .with_jwks(config.auth.jwt_keys.as_ref())
                .map_err(|e| ProjectError::Setup(anyhow::anyhow!(e)))?,
            settings: ProjectSettings {
                cors_allowed_origins: config.cors_allowed_origins.clone(),
                require_apikey: config.require_apikey,
                api_external_url,
            },
            metrics: Metrics::default(),
            api_keys: crate::http::jwt::TokenCache::new(API_KEY_CACHE_SIZE),
            auth: crate::auth::AuthContext::new(config).map_err(ProjectError::Setup)?,
            rest,
        });
        crate::rest::spawn_schema_listener(project.clone(), url);
        Ok(project)
    }

    /// Gauges of the project's pools for `/metrics`: `main` (auth, health, migrations) and
    /// `rest` (the data API's pipelining connections).
    pub fn pool_gauges(&self) -> [(&'static str, PoolGauges); 2] {
        let gauges = |s: deadpool::Status| PoolGauges {
            max: s.max_size,
            size: s.size,
            idle: s.available,
            waiting: s.waiting,
        };
        [
            ("main", gauges(self.pool.status())),
            ("rest", gauges(self.rest.pool_status())),
        ]
    }
}

/// A pool error as a one-line message without secrets (the URL's password is never included).
pub fn describe_pool_error(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(pg) => match pg.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => madbase_pgconn::error_text(pg),
        },
        other => other.to_string(),
    }
}

/// The projects this process serves, resolved per request.
pub struct Projects {
    default: Arc<ProjectContext>,
    by_ref: HashMap<String, Arc<ProjectContext>>,
}

impl Projects {
    /// A process serving one project.
    pub fn single(project: Arc<ProjectContext>) -> Self {
        let mut by_ref = HashMap::new();
        by_ref.insert(project.project_ref.clone(), project.clone());
        Self {
            default: project,
            by_ref,
        }
    }

    /// The project a request addresses: the `x-project-ref` header when present (it must name
    /// a project served here), otherwise the default project.
    pub fn resolve(&self, headers: &HeaderMap) -> Option<Arc<ProjectContext>> {
        match headers.get("x-project-ref") {
            Some(v) => v.to_str().ok().and_then(|r| self.by_ref.get(r)).cloned(),
            None => Some(self.default.clone()),
        }
    }

    /// The default project (health, readiness, metrics).
    pub fn default_project(&self) -> &Arc<ProjectContext> {
        &self.default
    }
}
