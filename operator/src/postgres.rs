//! PostgreSQL administration for `shared` and `external` projects: the connection check, the
//! idempotent `CREATE ROLE` / `CREATE DATABASE`, and the drop under `deletionPolicy: Delete`.
//!
//! Only the operator's admin connection runs this SQL. Schema SQL is never run here: the data
//! plane migrates its own schemas at start. Identifiers are validated (`naming::pg_identifier_problem`)
//! and quoted; passwords are generated from `[A-Za-z0-9]` only, which is what makes splicing them
//! into `PASSWORD '…'` (DDL cannot take bind parameters) safe.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use madbase_crds::naming;
use tokio_postgres::config::Host;

/// A boxed future, so the provisioner can sit behind `dyn` in the reconcile context.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long a connection attempt may take before the database counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors talking to PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostgresError {
    /// The URL cannot be parsed or has no host.
    #[error("invalid connection URL: {0}")]
    InvalidUrl(String),
    /// Could not connect or authenticate.
    #[error("database unreachable: {0}")]
    Unreachable(String),
    /// A statement failed.
    #[error("SQL failed: {0}")]
    Sql(String),
    /// A name that MadBase would have to quote, or a reserved one.
    #[error("invalid identifier: {0}")]
    InvalidIdentifier(String),
}

/// What a project's `spec.database.tls` asks of connections to its database, applied to the
/// operator's own check of an `external` one as the data plane applies it: where the URL says
/// nothing, `ssl_mode`, the CA bundle and the revocation lists decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbTls {
    /// `spec.database.tls.sslMode`.
    pub ssl_mode: Option<madbase_config::DbSslMode>,
    /// The CA bundle's PEM, read from the ConfigMap or Secret the spec names.
    pub ca_pem: Option<Vec<u8>>,
    /// The revocation lists' PEM, read the same way.
    pub crl_pem: Option<Vec<u8>>,
}

/// What the reconciler needs from PostgreSQL; the real implementation is [`PgAdmin`].
pub trait Postgres: Send + Sync {
    /// Connects with `url` (under the project's `tls`) and runs `SELECT 1`.
    fn check<'a>(
        &'a self,
        url: &'a str,
        tls: &'a DbTls,
    ) -> BoxFuture<'a, Result<(), PostgresError>>;
    /// Creates (or updates) the project's roles and `database`, owned by `owner`, idempotently.
    /// Each is marked with `claim`'s marker; one that exists without it is another party's and
    /// is refused ([`Claim`]).
    fn provision<'a>(
        &'a self,
        admin_url: &'a str,
        database: &'a str,
        owner: Login<'a>,
        api: Login<'a>,
        claim: Claim<'a>,
    ) -> BoxFuture<'a, Result<(), PostgresError>>;
    /// Drops `database`, then `roles`, where they exist and bear `claim`'s marker.
    fn drop_database<'a>(
        &'a self,
        admin_url: &'a str,
        database: &'a str,
        roles: &'a [&'a str],
        claim: Claim<'a>,
    ) -> BoxFuture<'a, Result<(), PostgresError>>;
}

/// Whose roles and database these are. The operator comments each role and database it makes
/// with `marker` (`madbase-operator: project <namespace>/<name>`), and touches an existing one
/// only when it bears that comment: a spec naming another project's database, or any other
/// existing role or database, is refused instead of taken over. Nothing a tenant can write (a
/// Secret in its namespace, say) stands in for the mark; objects made before the operator
/// marked them are adopted by a pool admin commenting them so.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The comment on this project's objects.
    pub marker: &'a str,
}

impl Claim<'_> {
    /// Whether an existing object with `comment` is this project's.
    fn owns(&self, comment: Option<&str>) -> bool {
        comment == Some(self.marker)
    }
}

/// A login role and its password.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// Role name.
    pub role: &'a str,
    /// Its password: generated, alphanumeric.
    pub password: &'a str,
}

/// The cluster-wide roles of the Supabase layout, as the data plane's first migration creates
/// them. Creating roles takes `CREATEROLE`, which a project's owner role does not get: the
/// operator creates them first with its admin role, and the migration then finds them there.
pub const LAYOUT_ROLES_SQL: &str = include_str!("../../dataplane/migrations/0001_roles.sql");

/// The roles API requests switch to.
const API_ROLES: &str = "anon, authenticated, service_role";

/// Real PostgreSQL administration over `tokio-postgres`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PgAdmin;

async fn connect(url: &str) -> Result<tokio_postgres::Client, PostgresError> {
    connect_with(url, None).await
}

/// Connects with `url`; with a project's `tls`, its mode and CA bundle stand in for the
/// operator's own environment where the URL names neither.
async fn connect_with(
    url: &str,
    tls: Option<&DbTls>,
) -> Result<tokio_postgres::Client, PostgresError> {
    let parsed = match tls {
        None => madbase_pgconn::DbUrl::parse(url),
        Some(tls) => {
            let mode = tls.ssl_mode;
            let env = move |name: &str| {
                (name == "PGSSLMODE")
                    .then_some(mode)
                    .flatten()
                    .map(|m| m.as_str().to_owned())
            };
            let memory = madbase_pgconn::InMemoryTls {
                roots: (tls.ca_pem.as_deref()).map(|pem| (pem, "spec.database.tls CA bundle")),
                crls: (tls.crl_pem.as_deref())
                    .map(|pem| (pem, "spec.database.tls revocation lists")),
            };
            madbase_pgconn::DbUrl::parse_with_memory(url, &env, &memory)
        }
    };
    let mut url = parsed.map_err(|e| match e {
        madbase_pgconn::UrlError::Invalid(m) | madbase_pgconn::UrlError::Tls(m) => {
            PostgresError::InvalidUrl(m)
        }
    })?;
    url.pg_mut().connect_timeout(CONNECT_TIMEOUT);
    let connecting = url.connect();
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| PostgresError::Unreachable("timed out".into()))?
        .map_err(|e| PostgresError::Unreachable(madbase_pgconn::error_text(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "admin connection closed");
        }
    });
    Ok(client)
}

fn sql_error(e: tokio_postgres::Error) -> PostgresError {
    match e.as_db_error() {
        Some(db) => PostgresError::Sql(format!("{}: {}", db.code().code(), db.message())),
        None => PostgresError::Unreachable(e.to_string()),
    }
}

/// Quotes a validated identifier.
fn ident(name: &str) -> Result<String, PostgresError> {
    match naming::pg_identifier_problem(name) {
        Some(p) => Err(PostgresError::InvalidIdentifier(format!("{name}: {p}"))),
        None => Ok(format!("\"{name}\"")),
    }
}

/// A password literal; only alphanumeric passwords are accepted.
fn password_literal(password: &str) -> Result<String, PostgresError> {
    if password.len() < 16 || !password.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PostgresError::InvalidIdentifier(
            "generated passwords must be at least 16 alphanumeric characters".into(),
        ));
    }
    Ok(format!("'{password}'"))
}

impl Postgres for PgAdmin {
    fn check<'a>(
        &'a self,
        url: &'a str,
        tls: &'a DbTls,
    ) -> BoxFuture<'a, Result<(), PostgresError>> {
        Box::pin(async move {
            let client = connect_with(url, Some(tls)).await?;
            client.simple_query("SELECT 1").await.map_err(sql_error)?;
            Ok(())
        })
    }

    fn provision<'a>(
        &'a self,
        admin_url: &'a str,
        database: &'a str,
        owner: Login<'a>,
        api: Login<'a>,
        claim: Claim<'a>,
    ) -> BoxFuture<'a, Result<(), PostgresError>> {
        Box::pin(async move {
            let db_ident = ident(database)?;
            let (owner_ident, api_ident) = (ident(owner.role)?, ident(api.role)?);
            let client = connect(admin_url).await?;
            lock_name(&client, database).await?;
            // Roles an earlier operator made carry no mark; knowing their passwords adopts them.
            for login in [owner, api] {
                adopt_if_proven(&client, admin_url, database, login, &claim).await?;
            }
            // Before anything is written: every existing object must be this project's.
            let db_exists = check_owned(&client, &claim, database, &[owner.role, api.role]).await?;
            let is_superuser: bool = client
                .query_one(
                    "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
                    &[],
                )
                .await
                .map_err(sql_error)?
                .get(0);
            client
                .batch_execute(LAYOUT_ROLES_SQL)
                .await
                .map_err(sql_error)?;
            // The owner inherits its privileges; the API login does not: it acts only through
            // SET ROLE to the API roles, as `authenticator` does.
            upsert_login(&client, owner, "INHERIT", claim.marker).await?;
            upsert_login(&client, api, "NOINHERIT", claim.marker).await?;
            if !is_superuser {
                // CREATE DATABASE … OWNER takes membership in the owner for a non-superuser.
                client
                    .batch_execute(&format!("GRANT {owner_ident} TO CURRENT_USER"))
                    .await
                    .map_err(sql_error)?;
            }
            if !db_exists {
                // CREATE DATABASE cannot run inside a transaction block; batch_execute of a single
                // statement runs it on its own.
                client
                    .batch_execute(&format!("CREATE DATABASE {db_ident} OWNER {owner_ident}"))
                    .await
                    .map_err(sql_error)?;
            }
            // The owner switches to the API roles for auth and storage work, the API login for
            // every data API request; granting a membership held already only draws a notice.
            client
                .batch_execute(&format!(
                    "ALTER DATABASE {db_ident} OWNER TO {owner_ident};
                     REVOKE ALL ON DATABASE {db_ident} FROM PUBLIC;
                     GRANT ALL ON DATABASE {db_ident} TO {owner_ident};
                     GRANT CONNECT ON DATABASE {db_ident} TO {api_ident};
                     GRANT {API_ROLES} TO {owner_ident};
                     GRANT {API_ROLES} TO {api_ident};"
                ))
                .await
                .map_err(sql_error)?;
            let comment = comment_statement(&client, "DATABASE", database, claim.marker).await?;
            client.batch_execute(&comment).await.map_err(sql_error)
        })
    }

    fn drop_database<'a>(
        &'a self,
        admin_url: &'a str,
        database: &'a str,
        roles: &'a [&'a str],
        claim: Claim<'a>,
    ) -> BoxFuture<'a, Result<(), PostgresError>> {
        Box::pin(async move {
            let db_ident = ident(database)?;
            let idents = roles
                .iter()
                .map(|r| ident(r))
                .collect::<Result<Vec<_>, _>>()?;
            let client = connect(admin_url).await?;
            lock_name(&client, database).await?;
            // Only what bears this project's mark goes; anything else is refused, not skipped,
            // so the finalizer says so.
            check_owned(&client, &claim, database, roles).await?;
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db_ident} WITH (FORCE)"))
                .await
                .map_err(sql_error)?;
            for role in idents {
                client
                    .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
                    .await
                    .map_err(sql_error)?;
            }
            Ok(())
        })
    }
}

/// Creates `login`'s role with its password and the project's `marker`, or sets the password of
/// the role a previous reconcile made (the caller has checked the mark, see [`Claim`]). A role
/// with more power than a project role gets (superuser, `CREATEROLE`, replication, `BYPASSRLS`,
/// or the operator's own login) is refused even then.
async fn upsert_login(
    client: &tokio_postgres::Client,
    login: Login<'_>,
    inherit: &str,
    marker: &str,
) -> Result<(), PostgresError> {
    if naming::LAYOUT_ROLES.contains(&login.role) {
        return Err(PostgresError::InvalidIdentifier(format!(
            "{}: a role every project on the cluster shares",
            login.role
        )));
    }
    let role_ident = ident(login.role)?;
    let password = password_literal(login.password)?;
    let existing = client
        .query_opt(
            "SELECT rolsuper OR rolcreaterole OR rolreplication OR rolbypassrls
                    OR rolname = current_user
             FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&login.role],
        )
        .await
        .map_err(sql_error)?;
    // ALTER names only what a role with CREATEROLE may change: naming SUPERUSER, REPLICATION or
    // BYPASSRLS at all takes a superuser, and the check above already rules them out.
    let statement = match existing {
        None => format!(
            "CREATE ROLE {role_ident} WITH LOGIN {inherit} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {password}"
        ),
        Some(row) if row.get::<_, bool>(0) => {
            return Err(PostgresError::Sql(format!(
                "role {} exists with privileges a project role never has; choose another databaseName",
                login.role
            )));
        }
        Some(_) => {
            format!("ALTER ROLE {role_ident} WITH LOGIN {inherit} NOCREATEDB PASSWORD {password}")
        }
    };
    // One implicit transaction, so a role never exists without its mark; the caller holds the
    // database name's lock ([`lock_name`]), so no one else checks and writes it meanwhile.
    let comment = comment_statement(client, "ROLE", login.role, marker).await?;
    client
        .batch_execute(&format!("{statement}; {comment}"))
        .await
        .map_err(sql_error)
}

/// Serialises work on database `name` (and its roles) across projects and operators: two
/// projects naming the same database reconcile concurrently, and between one's check of the
/// marks and its writes the other could create what the first then takes for its own. A
/// session lock, released when the admin connection closes at the end of the step.
async fn lock_name(client: &tokio_postgres::Client, name: &str) -> Result<(), PostgresError> {
    client
        .execute(
            "SELECT pg_advisory_lock(hashtext('madbase-operator database ' || $1::text))",
            &[&name],
        )
        .await
        .map_err(sql_error)?;
    Ok(())
}

/// Marks `login`'s role as this project's when the role exists without any comment and the
/// project proves it knows the role's password: the server accepts a login with it and refuses
/// one with a wrong password (so it does ask for one; under `trust` nothing is proven). Roles
/// made by an operator from before the marks carry none, and their projects' Secrets hold
/// their passwords, so upgrading needs no pool admin. Knowing a role's password is already
/// the power to act as it; a tenant who does not know it cannot forge this. A database without
/// a comment then follows its marked owner ([`check_owned`]).
async fn adopt_if_proven(
    client: &tokio_postgres::Client,
    admin_url: &str,
    database: &str,
    login: Login<'_>,
    claim: &Claim<'_>,
) -> Result<(), PostgresError> {
    // Never a role every project shares, nor one with more power than a project role gets:
    // those are refused later, and must not be marked first.
    if naming::LAYOUT_ROLES.contains(&login.role) {
        return Ok(());
    }
    let row = client
        .query_opt(
            "SELECT shobj_description(oid, 'pg_authid'),
                    rolsuper OR rolcreaterole OR rolreplication OR rolbypassrls
                    OR rolname = current_user
             FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&login.role],
        )
        .await
        .map_err(sql_error)?;
    // No role, or one with a comment: there is nothing to adopt, and check_owned decides.
    let Some(row) = row else { return Ok(()) };
    if row.get::<_, Option<&str>>(0).is_some() || row.get::<_, bool>(1) {
        return Ok(());
    }
    let refused = try_login(admin_url, database, login.role, &random_password()).await;
    let asks_for_password = matches!(&refused, Err(Some(code)) if code == "28P01");
    if !asks_for_password
        || try_login(admin_url, database, login.role, login.password)
            .await
            .is_err()
    {
        return Ok(());
    }
    let comment = comment_statement(client, "ROLE", login.role, claim.marker).await?;
    client.batch_execute(&comment).await.map_err(sql_error)?;
    tracing::info!(
        role = login.role,
        "adopted a role made before roles were marked: the project's Secret holds its password"
    );
    Ok(())
}

/// Logs in as `role` with `password` where the admin connection goes (same host, port and TLS),
/// to `database`. The two refusals PostgreSQL makes only after authentication (no such
/// database, no `CONNECT`) still prove the password; `Err` carries the SQLSTATE of any other
/// (a full server refuses before asking, so that proves nothing).
async fn try_login(
    admin_url: &str,
    database: &str,
    role: &str,
    password: &str,
) -> Result<(), Option<String>> {
    let mut url = madbase_pgconn::DbUrl::parse(admin_url).map_err(|_| None)?;
    url.pg_mut()
        .user(role)
        .password(password)
        .dbname(database)
        .connect_timeout(CONNECT_TIMEOUT);
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT, url.connect()).await;
    match connecting {
        Ok(Ok((client, connection))) => {
            drop(client);
            let _ = connection.await;
            Ok(())
        }
        Ok(Err(e)) => match e.code().map(|c| c.code().to_owned()) {
            Some(code) if code == "3D000" || code == "42501" => Ok(()),
            code => Err(code),
        },
        Err(_) => Err(None),
    }
}

/// A role's comment, by name.
const ROLE_COMMENT_SQL: &str =
    "SELECT shobj_description(oid, 'pg_authid') FROM pg_catalog.pg_roles WHERE rolname = $1";
/// A database's comment and its owner's, by name.
const DATABASE_MARKS_SQL: &str = "SELECT shobj_description(oid, 'pg_database'),
        shobj_description(datdba, 'pg_authid')
 FROM pg_catalog.pg_database WHERE datname = $1";

/// Refuses when any of `roles` or `database` exists without `claim`'s mark; returns whether the
/// database exists. A database without a comment is also this project's when its owner bears
/// the mark: the database was created and the reconcile stopped before it was commented.
async fn check_owned(
    client: &tokio_postgres::Client,
    claim: &Claim<'_>,
    database: &str,
    roles: &[&str],
) -> Result<bool, PostgresError> {
    for role in roles {
        let row = client
            .query_opt(ROLE_COMMENT_SQL, &[role])
            .await
            .map_err(sql_error)?;
        if let Some(row) = row {
            check_claim(claim, "role", role, row.get::<_, Option<&str>>(0))?;
        }
    }
    let row = client
        .query_opt(DATABASE_MARKS_SQL, &[&database])
        .await
        .map_err(sql_error)?;
    let Some(row) = row else {
        return Ok(false);
    };
    let (comment, owner_comment): (Option<&str>, Option<&str>) = (row.get(0), row.get(1));
    if comment.is_none() && owner_comment == Some(claim.marker) {
        return Ok(true);
    }
    check_claim(claim, "database", database, comment)?;
    Ok(true)
}

/// Refuses an existing `kind` `name` that is not `claim`'s project's.
fn check_claim(
    claim: &Claim<'_>,
    kind: &str,
    name: &str,
    comment: Option<&str>,
) -> Result<(), PostgresError> {
    if claim.owns(comment) {
        return Ok(());
    }
    Err(PostgresError::Sql(format!(
        "{kind} {name} exists and was not made by MadBase for this project; choose another databaseName"
    )))
}

/// `COMMENT ON <kind> <name> IS <marker>`, quoted by the server (`format`'s `%I` and `%L`).
async fn comment_statement(
    client: &tokio_postgres::Client,
    kind: &'static str,
    name: &str,
    marker: &str,
) -> Result<String, PostgresError> {
    Ok(client
        .query_one(
            &format!("SELECT format('COMMENT ON {kind} %I IS %L', $1::text, $2::text)"),
            &[&name, &marker],
        )
        .await
        .map_err(sql_error)?
        .get(0))
}

/// The data plane's connection URL for a project database: the admin URL's host and port (or the
/// pool's overrides), the project's role, password and database.
pub fn project_url(
    admin_url: &str,
    host: Option<&str>,
    port: Option<u16>,
    database: &str,
    role: &str,
    password: &str,
) -> Result<String, PostgresError> {
    let config = tokio_postgres::Config::from_str(admin_url)
        .map_err(|e| PostgresError::InvalidUrl(e.to_string()))?;
    let admin_host = config.get_hosts().iter().find_map(|h| match h {
        Host::Tcp(h) => Some(h.clone()),
        #[allow(unreachable_patterns)]
        _ => None,
    });
    let host = host
        .map(str::to_owned)
        .or(admin_host)
        .ok_or_else(|| PostgresError::InvalidUrl("the admin URL has no TCP host".into()))?;
    let port = port
        .or_else(|| config.get_ports().first().copied())
        .unwrap_or(5432);
    Ok(format!(
        "postgres://{role}:{password}@{host}:{port}/{database}"
    ))
}

/// A new role password: 32 alphanumeric characters.
pub fn random_password() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_urls_take_host_and_port_from_the_pool() {
        let admin = "postgres://admin:secret@pg.db.svc:5433/postgres";
        assert_eq!(
            project_url(admin, None, None, "mb_a_shop", "mb_a_shop", "pw").expect("url"),
            "postgres://mb_a_shop:pw@pg.db.svc:5433/mb_a_shop"
        );
        assert_eq!(
            project_url(admin, Some("pg-rw"), Some(5432), "d", "r", "pw").expect("url"),
            "postgres://r:pw@pg-rw:5432/d"
        );
        assert!(project_url("not a url", None, None, "d", "r", "pw").is_err());
    }

    #[test]
    fn identifiers_and_passwords_are_checked_before_splicing() {
        assert_eq!(ident("mb_shop").expect("ok"), "\"mb_shop\"");
        assert!(ident("shop\"; DROP ROLE x; --").is_err());
        assert!(ident("postgres").is_err());
        assert!(password_literal("abc'def0123456789").is_err());
        assert!(password_literal("short").is_err());
        let pw = random_password();
        assert_eq!(pw.len(), 32);
        assert!(password_literal(&pw).is_ok());
    }
}
