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
/// `MADBASE_DB_SSL_MODE` / `MADBASE_DB_SSL_ROOT_CERT` / `MADBASE_DB_SSL_CRL`, then libpq's
/// environment variables.
pub fn db_url(config: &DataPlaneConfig) -> Result<DbUrl, ProjectError> {
    let env = |name: &str| {
        match name {
            "PGSSLMODE" => config.db_ssl_mode.map(|m| m.as_str().to_owned()),
            "PGSSLROOTCERT" => config.db_ssl_root_cert.clone(),
            "PGSSLCRL" => config.db_ssl_crl.clone(),
            _ => None,
        }
        .or_else(|| std::env::var(name).ok())
    };
    DbUrl::parse_with_env(config.database_url.expose(), &env)
        .map_err(|e| ProjectError::BadUrl(e.to_string()))
}

/// Closes the current database to every role but its owner and `api_user`: on a cluster other
/// projects share, their roles are members of the same API roles (`service_role` among them),
/// and PostgreSQL lets every role connect to a new database. Run as the owner at every start,
/// before the migrations (the statements are idempotent; the names are quoted by the server).
/// Revoking does not end sessions opened before: one of a role that can switch to the API
/// roles, other than this project's, stops the start with its role named.
pub async fn make_private(
    client: &tokio_postgres::Client,
    api_user: Option<&str>,
) -> Result<(), anyhow::Error> {
    client
        .batch_execute(
            "DO $private$ BEGIN
                 EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
             END $private$",
        )
        .await?;
    if let Some(user) = api_user {
        let grant: String = client
            .query_one(
                "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1::text)",
                &[&user],
            )
            .await?
            .get(0);
        client.batch_execute(&grant).await?;
    }
    let intruders: Option<String> = client
        .query_one(
            "SELECT string_agg(DISTINCT a.usename::text, ', ')
             FROM pg_catalog.pg_stat_activity a
             JOIN pg_catalog.pg_roles r ON r.rolname = a.usename
             WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
               AND a.usename <> current_user AND a.usename IS DISTINCT FROM $1::text
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles api
                           WHERE api.rolname IN ('anon', 'authenticated', 'service_role')
                             AND pg_has_role(r.oid, api.oid, 'MEMBER'))",
            &[&api_user],
        )
        .await?
        .get(0);
    match intruders {
        None => Ok(()),
        Some(roles) => Err(anyhow::anyhow!(
            "sessions of other roles that can switch to the API roles are connected to this database ({roles}); they connected before it was made private: end them (pg_terminate_backend) and restart"
        )),
    }
}

/// A connection pool for `url`: at most `max_size` connections, a caller waiting at most `wait`
/// for one.
pub fn pool(url: &DbUrl, max_size: usize, wait: Duration) -> Result<Pool, ProjectError> {
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
        .wait_timeout(Some(wait))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| ProjectError::BadUrl(format!("the database pool cannot be built: {e}")))
}

impl ProjectContext {
    /// Opens the pool, checks the database answers and applies migrations.
    pub async fn open(config: &DataPlaneConfig) -> Result<Arc<Self>, ProjectError> {
        let url = db_url(config)?;
        let pool = pool(
            &url,
            config.db_pool_size,
            Duration::from_secs(config.db_pool_acquisition_timeout),
        )?;
        let rest = {
            let mut client = pool
                .get()
                .await
                .map_err(|e| ProjectError::Connect(describe_pool_error(&e)))?;
            // Private before anything is created in it.
            if config.db_private {
                make_private(&client, config.db_api_user.as_deref())
                    .await
                    .map_err(|e| ProjectError::Setup(anyhow::anyhow!("MADBASE_DB_PRIVATE: {e}")))?;
            }
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
        spawn_pool_reaper(project.pool.weak(), PoolAging::of(config));
        if config.db_channel_enabled {
            crate::rest::spawn_schema_listener(project.clone(), url, config.db_channel.clone());
        }
        crate::rest::spawn_reload_signals(project.clone());
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

/// How long a database connection may stay idle, and live (PostgREST's
/// `db-pool-max-idletime` and `db-pool-max-lifetime`); `None` for ever.
#[derive(Debug, Clone, Copy)]
pub struct PoolAging {
    /// Idle longer than this, a connection is closed.
    pub idle: Option<Duration>,
    /// Older than this, a connection is replaced once idle.
    pub lifetime: Option<Duration>,
}

impl PoolAging {
    /// The configured limits.
    pub fn of(config: &DataPlaneConfig) -> Self {
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        PoolAging {
            idle: secs(config.db_pool_max_idletime),
            lifetime: secs(config.db_pool_max_lifetime),
        }
    }

    /// How often the pool is swept: a third of the shorter limit, between 1 and 10 s.
    fn period(self) -> Option<Duration> {
        let shortest = match (self.idle, self.lifetime) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some((shortest / 3).clamp(Duration::from_secs(1), Duration::from_secs(10)))
    }

    /// Whether a connection with these metrics may stay.
    fn keeps(self, m: &deadpool::managed::Metrics) -> bool {
        self.idle.is_none_or(|max| m.last_used() < max)
            && self.lifetime.is_none_or(|max| m.age() < max)
    }
}

/// Closes the idle connections of `pool` that [`PoolAging`] says have had their time, every
/// few seconds, until the pool is gone. Connections in use are left alone; an old one goes
/// the next time it is found idle.
pub fn spawn_pool_reaper<M>(pool: deadpool::managed::WeakPool<M>, aging: PoolAging)
where
    M: deadpool::managed::Manager + 'static,
{
    let Some(period) = aging.period() else { return };
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(period).await;
            let Some(pool) = pool.upgrade() else { return };
            let _ = pool.retain(|_, m| aging.keeps(&m));
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn aging_sweeps_often_enough_and_keeps_what_is_in_time() {
        let aging = |idle: u64, lifetime: u64| PoolAging {
            idle: (idle > 0).then(|| Duration::from_secs(idle)),
            lifetime: (lifetime > 0).then(|| Duration::from_secs(lifetime)),
        };
        assert_eq!(aging(30, 1800).period(), Some(Duration::from_secs(10)));
        assert_eq!(aging(6, 0).period(), Some(Duration::from_secs(2)));
        assert_eq!(aging(1, 0).period(), Some(Duration::from_secs(1)));
        assert_eq!(aging(0, 600).period(), Some(Duration::from_secs(10)));
        assert_eq!(aging(0, 0).period(), None, "nothing to sweep");
        let ago = |secs: u64| Instant::now() - Duration::from_secs(secs);
        let metrics = |created: u64, used: Option<u64>| deadpool::managed::Metrics {
            created: ago(created),
            recycled: used.map(ago),
            recycle_count: 0,
        };
        let limits = aging(30, 1800);
        assert!(limits.keeps(&metrics(100, Some(5))));
        assert!(!limits.keeps(&metrics(100, Some(40))), "idle too long");
        assert!(!limits.keeps(&metrics(40, None)), "never used since made");
        assert!(!limits.keeps(&metrics(2000, Some(1))), "too old");
        assert!(aging(0, 0).keeps(&metrics(99_999, None)));
    }
}
