//! `MadBaseProject` spec and status. Every field is documented because the documentation becomes
//! the CRD's OpenAPI descriptions (`kubectl explain mbp.spec…`). Validation that the API server
//! must enforce is written as CEL rules next to the fields they guard, so the generated CRD, the
//! client-side checks (`validate_cel`) and this file cannot disagree.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::auth::AuthSpec;

/// A MadBase project: one Supabase-compatible backend (auth, REST, realtime, storage) with its
/// own database, bucket, API keys and data-plane Deployment.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "madbase.io",
    version = "v1alpha1",
    kind = "MadBaseProject",
    plural = "madbaseprojects",
    shortname = "mbp",
    category = "madbase",
    namespaced,
    status = "MadBaseProjectStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "A MadBase project: a Supabase-compatible backend (auth, REST, realtime, storage) with its own database, bucket, API keys and data plane.",
    cel,
    validation = Rule::new("size(self.metadata.name) <= 40").message("metadata.name must be at most 40 characters"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase", description = "Lifecycle phase"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status", description = "Whether the project serves requests"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoint", description = "Base URL for supabase-js"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Image", type_ = "string", json_path = ".status.dataPlane.image", priority = "1", description = "Data-plane image"),
    printcolumn(name = "Database", type_ = "string", json_path = ".status.database.name", priority = "1", description = "PostgreSQL database")
)]
#[serde(rename_all = "camelCase")]
pub struct MadBaseProjectSpec {
    /// Stop applying changes to the project's objects while keeping its status up to date
    /// (like Stackable's `reconciliationPaused`). Wins over `stopped`.
    #[serde(default)]
    pub paused: bool,
    /// Scale the data plane to zero and keep everything else (keys, database, bucket, Service).
    #[serde(default)]
    pub stopped: bool,
    /// What happens to the database, its role and the bucket when the project is deleted.
    /// Kubernetes objects are always garbage-collected.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Where the project's PostgreSQL database lives. Exactly one mode must be set.
    pub database: DatabaseSpec,
    /// The S3 bucket that holds the project's stored objects.
    #[serde(default)]
    pub storage: StorageSpec,
    /// API keys, JWT signing and the auth API's settings.
    #[serde(default)]
    pub auth: AuthSpec,
    /// The data-plane Deployment running `madbase serve`.
    #[serde(default)]
    pub data_plane: DataPlaneSpec,
    /// How clients reach the data plane.
    #[serde(default)]
    pub exposure: ExposureSpec,
}

/// What happens to external state (database, role, bucket) when a project is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Keep the database, role and bucket (the default, as CloudNativePG does for databases).
    #[default]
    Retain,
    /// Drop the database and role and delete the bucket with its objects.
    Delete,
}

/// The project's database; exactly one of `external`, `shared` or `cnpg`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(has(self.external) ? 1 : 0) + (has(self.shared) ? 1 : 0) + (has(self.cnpg) ? 1 : 0) == 1").message("exactly one of database.external, database.shared or database.cnpg must be set"),
    validation = Rule::new("has(self.external) == has(oldSelf.external) && has(self.shared) == has(oldSelf.shared) && has(self.cnpg) == has(oldSelf.cnpg)").message("the database mode cannot be changed")
)]
pub struct DatabaseSpec {
    /// An existing database whose connection URL is stored in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalDatabase>,
    /// A database and role the operator creates on one of its configured PostgreSQL pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedDatabase>,
    /// A database and role on an existing CloudNativePG `Cluster` (CloudNativePG 1.25 or newer):
    /// the role is added to the cluster's `spec.managed.roles`, the database is a CloudNativePG
    /// `Database` resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnpg: Option<CnpgDatabase>,
    /// TLS from the data plane to the database, for a URL that does not set it (an `sslmode`
    /// or `sslrootcert` in the URL wins, as with libpq).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<DatabaseTls>,
}

/// TLS to the database (libpq's `sslmode` and `sslrootcert`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.sslMode) || !(self.sslMode in ['verify-ca', 'verify-full']) || has(self.caConfigMapRef) || has(self.caSecretRef)").message("database.tls.sslMode verify-ca and verify-full need database.tls.caConfigMapRef or caSecretRef"),
    validation = Rule::new("!(has(self.caConfigMapRef) && has(self.caSecretRef))").message("database.tls takes caConfigMapRef or caSecretRef, not both"),
    validation = Rule::new("!(has(self.crlConfigMapRef) && has(self.crlSecretRef))").message("database.tls takes crlConfigMapRef or crlSecretRef, not both")
)]
pub struct DatabaseTls {
    /// libpq's `sslmode`: `disable`, `allow`, `prefer` (the default: TLS when the server
    /// offers it, certificate not checked), `require`, `verify-ca` or `verify-full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<madbase_config::DbSslMode>,
    /// ConfigMap key (default `ca.crt`) with the PEM CA certificates that sign the database's
    /// certificate; mounted into the pods (`MADBASE_DB_SSL_ROOT_CERT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_config_map_ref: Option<crate::ConfigMapKeyRef>,
    /// The same from a Secret key (default `ca.crt`), e.g. CloudNativePG's `<cluster>-ca`
    /// when the project lives in the cluster's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,
    /// ConfigMap key (default `root.crl`) with PEM certificate revocation lists for the
    /// database's certificate chain (libpq's `sslcrl`); mounted into the pods
    /// (`MADBASE_DB_SSL_CRL`). As in libpq, every certificate of the chain then needs its
    /// issuer's list, and an expired list fails the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_config_map_ref: Option<crate::ConfigMapKeyRef>,
    /// The same from a Secret key (default `root.crl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_secret_ref: Option<SecretKeyRef>,
}

/// An existing database reached through a connection URL kept in a Secret.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalDatabase {
    /// Secret in the project's namespace holding a `postgres://` URL.
    pub connection_secret_ref: SecretKeyRef,
    /// The role the data API logs in as instead of the URL's (PostgREST's `authenticator`):
    /// requests, and the SQL they run, can then switch only to the roles it is a member of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_login: Option<ApiLogin>,
}

/// A login role of its own for the data API, on a database the operator does not manage.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiLogin {
    /// The role, e.g. `authenticator` (`LOGIN NOINHERIT`, member of `anon`, `authenticated` and
    /// `service_role`).
    #[schemars(length(min = 1, max = 63))]
    pub user: String,
    /// Its password (key defaults to `password`); none for certificate or trust
    /// authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
}

/// A reference to one key of a Secret in the project's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret; defaults to `uri` for connection URLs, `jwt-secret` for JWT
    /// secrets, `ca.crt` for CA bundles and `password` for passwords.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub key: Option<String>,
}

/// A database on a PostgreSQL pool configured in the operator (admin credentials never leave the
/// operator's namespace).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.pool == oldSelf.pool").message("database.shared.pool is immutable"),
    validation = Rule::new("has(self.databaseName) == has(oldSelf.databaseName) && (!has(self.databaseName) || self.databaseName == oldSelf.databaseName)").message("database.shared.databaseName is immutable")
)]
pub struct SharedDatabase {
    /// Name of the pool in the operator's configuration.
    #[serde(default = "default_pool")]
    #[schemars(length(min = 1, max = 63))]
    pub pool: String,
    /// Database and role name; defaults to `mb_<namespace>_<name>` (dashes become underscores,
    /// shortened with a hash past 63 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z][a-z0-9_]{0,62}$') && !self.startsWith('pg_') && !(self in ['postgres', 'template0', 'template1', 'streaming_replica'])").message("databaseName must be a lower-case PostgreSQL identifier of at most 63 characters and not reserved"))]
    pub database_name: Option<String>,
}

fn default_pool() -> String {
    "default".into()
}

/// A database declared on an existing CloudNativePG cluster.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.clusterRef == oldSelf.clusterRef").message("database.cnpg.clusterRef is immutable"),
    validation = Rule::new("has(self.databaseName) == has(oldSelf.databaseName) && (!has(self.databaseName) || self.databaseName == oldSelf.databaseName)").message("database.cnpg.databaseName is immutable")
)]
pub struct CnpgDatabase {
    /// The CloudNativePG `Cluster` that hosts the database.
    pub cluster_ref: ClusterRef,
    /// Database and role name; defaults to `mb_<namespace>_<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z][a-z0-9_]{0,62}$') && !self.startsWith('pg_') && !(self in ['postgres', 'template0', 'template1', 'streaming_replica'])").message("databaseName must be a lower-case PostgreSQL identifier of at most 63 characters and not reserved"))]
    pub database_name: Option<String>,
}

/// A CloudNativePG `Cluster`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRef {
    /// Name of the `Cluster`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the `Cluster`; defaults to the project's namespace. The `Database` and the
    /// role's password Secret are created there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// The project's S3 bucket.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.bucket) == has(oldSelf.bucket) && (!has(self.bucket) || self.bucket == oldSelf.bucket)").message("storage.bucket is immutable")
)]
pub struct StorageSpec {
    /// Bucket name; defaults to `mb-<namespace>-<name>` (shortened with a hash past 63
    /// characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$')").message("bucket must be 3 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit"))]
    pub bucket: Option<String>,
    /// Create the bucket when it does not exist; when false the bucket must already exist and is
    /// only checked.
    #[serde(default = "default_true")]
    pub create_bucket: bool,
    /// Name of an object store in the operator's configuration that supplies the endpoint,
    /// region, addressing style and credentials; defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub object_store: Option<String>,
    /// S3 endpoint URL, overriding the object store's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("endpoint must be an http(s) URL"))]
    pub endpoint: Option<String>,
    /// S3 region, overriding the object store's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Path-style addressing (MinIO, Garage), overriding the object store's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    /// Secret in the project's namespace with the S3 credentials, overriding the object store's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<S3CredentialsRef>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            bucket: None,
            create_bucket: true,
            object_store: None,
            endpoint: None,
            region: None,
            force_path_style: None,
            credentials_secret_ref: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// A Secret holding S3 credentials.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S3CredentialsRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding the access key id; defaults to `access-key-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_key: Option<String>,
    /// Key holding the secret access key; defaults to `secret-access-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_key: Option<String>,
}

/// The data-plane Deployment.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataPlaneSpec {
    /// Container image running `madbase serve`; defaults to the operator's configured image.
    /// Changing it upgrades the project (the data plane runs its own migrations at start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
    /// Number of data-plane pods; a PodDisruptionBudget is created from 2 upwards.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 20))]
    pub replicas: i32,
    /// CPU and memory requests and limits; defaults to the operator's configured resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Node labels the pods must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Extra annotations on the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Schemas exposed by `/rest/v1`, first is the default (`MADBASE_DB_SCHEMAS`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub db_schemas: Vec<String>,
    /// Maximum database connections per pod (`MADBASE_DB_POOL_SIZE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub db_pool_size: Option<i32>,
    /// Connections per pod, besides the pool, on which short `/rest/v1` reads of many requests
    /// go out in batches; 0 turns batching off (`MADBASE_DB_READ_LANES`, default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 16))]
    pub db_read_lanes: Option<i32>,
    /// Seconds a request waits for a free database connection before 504 PGRST003
    /// (`MADBASE_DB_POOL_ACQUISITION_TIMEOUT`, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub db_pool_acquisition_timeout: Option<i32>,
    /// Seconds after which an idle database connection is closed; 0 keeps them
    /// (`MADBASE_DB_POOL_MAX_IDLETIME`, default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 604800))]
    pub db_pool_max_idletime: Option<i32>,
    /// Seconds after which a database connection is replaced once idle; 0 keeps them
    /// (`MADBASE_DB_POOL_MAX_LIFETIME`, default 1800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 604800))]
    pub db_pool_max_lifetime: Option<i32>,
    /// Upper bound on rows returned by one `/rest/v1` read (`MADBASE_DB_MAX_ROWS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub db_max_rows: Option<i64>,
    /// What `GET /rest/v1/` describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openapi_mode: Option<madbase_config::OpenApiMode>,
    /// Keep `/rest/v1` statements prepared on each connection (`MADBASE_DB_PREPARED_STATEMENTS`,
    /// default true); false when the database is reached through a pooler in transaction mode
    /// that cannot keep them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_prepared_statements: Option<bool>,
    /// Allow aggregate functions (`count()`, `col.sum()`…) in `/rest/v1` `select`
    /// (`MADBASE_DB_AGGREGATES_ENABLED`, default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_aggregates_enabled: Option<bool>,
    /// Allow `Accept: application/vnd.pgrst.plan` EXPLAIN answers (`MADBASE_DB_PLAN_ENABLED`,
    /// default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_plan_enabled: Option<bool>,
    /// Role of `/rest/v1` requests without a token (`MADBASE_DB_ANON_ROLE`, default `anon`);
    /// `none` turns anonymous access off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub db_anon_role: Option<String>,
    /// Function called before every `/rest/v1` query, `fn` or `schema.fn`
    /// (`MADBASE_DB_PRE_REQUEST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 127))]
    pub db_pre_request: Option<String>,
    /// Function in the exposed schema that answers `GET /rest/v1/` instead of the OpenAPI
    /// description (`MADBASE_DB_ROOT_SPEC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub db_root_spec: Option<String>,
    /// Settings of a called function's own `SET` clause applied to the whole call
    /// (`MADBASE_DB_HOISTED_TX_SETTINGS`; default `statement_timeout`,
    /// `plan_filter.statement_cost_limit`, `default_transaction_isolation`; empty for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub db_hoisted_tx_settings: Option<Vec<String>>,
    /// How a `/rest/v1` transaction ends (`MADBASE_DB_TX_END`, default `commit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_tx_end: Option<madbase_config::DbTxEnd>,
    /// Schemas added to each `/rest/v1` request's `search_path` after the exposed one
    /// (`MADBASE_DB_EXTRA_SEARCH_PATH`, default `public`, `extensions`; empty for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub db_extra_search_path: Option<Vec<String>>,
    /// The channel the data plane listens on for reload notifications (`MADBASE_DB_CHANNEL`,
    /// default `pgrst`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub db_channel: Option<String>,
    /// Listen for reload notifications at all (`MADBASE_DB_CHANNEL_ENABLED`, default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_channel_enabled: Option<bool>,
    /// Read the data API's settings from the database too, as `ALTER ROLE … SET pgrst.<key>`
    /// (`MADBASE_DB_CONFIG`, default true), re-read on `NOTIFY pgrst, 'reload config'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_config: Option<bool>,
    /// Function (`fn` or `schema.fn`) whose `set_config('pgrst.<key>', …)` calls set in-database
    /// settings with the lowest precedence (`MADBASE_DB_PRE_CONFIG`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 127))]
    pub db_pre_config: Option<String>,
    /// The audience a token's `aud` claim must name for `/rest/v1` (`MADBASE_JWT_AUD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub jwt_aud: Option<String>,
    /// Where a token's claims name the database role, e.g. `.app_metadata.role`
    /// (`MADBASE_JWT_ROLE_CLAIM_KEY`, default `.role`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 512))]
    pub jwt_role_claim_key: Option<String>,
    /// Declare the bearer token and the API key in `GET /rest/v1/`'s OpenAPI description
    /// (`MADBASE_OPENAPI_SECURITY_ACTIVE`, default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openapi_security_active: Option<bool>,
    /// The data API's public URL as the OpenAPI description gives it
    /// (`MADBASE_OPENAPI_SERVER_PROXY_URI`); defaults to the project's endpoint + `/rest/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 8, max = 2048))]
    pub openapi_server_proxy_uri: Option<String>,
    /// `app.settings.<name>` set in every `/rest/v1` transaction, by name (lower-case letters,
    /// digits, `_`), as PostgREST's `app.settings.*` (`MADBASE_APP_SETTINGS_<NAME>`). Plain
    /// values, kept in the project's ConfigMap: put secrets in `appSettingsSecretRefs`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub app_settings: BTreeMap<String, String>,
    /// `app.settings.<name>` whose values the pods read from a Secret (the key defaults to the
    /// setting's name), e.g. `jwt_secret` for functions that sign tokens; never copied by the
    /// operator. A name may not be in `appSettings` too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub app_settings_secret_refs: BTreeMap<String, SecretKeyRef>,
    /// Origins browsers may call the API from, e.g. `https://app.example.com`
    /// (`MADBASE_CORS_ALLOWED_ORIGINS`); unset, any origin, as Supabase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Bearer tokens whose verified claims each pod keeps, so a token is verified once
    /// (`MADBASE_JWT_CACHE_MAX_ENTRIES`, default 1000; 0 turns the cache off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000000))]
    pub jwt_cache_max_entries: Option<i32>,
    /// Answer `/rest/v1` requests with a `Server-Timing` header
    /// (`MADBASE_SERVER_TIMING_ENABLED`, default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_timing_enabled: Option<bool>,
    /// Whether `/rest/v1` errors carry `details` and `hint` (`verbose`, the default) or only
    /// `code` and `message` (`minimal`) (`MADBASE_CLIENT_ERROR_VERBOSITY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_error_verbosity: Option<madbase_config::ClientErrorVerbosity>,
    /// Log each `/rest/v1` request's main SQL statement, without its values
    /// (`MADBASE_LOG_QUERY=main-query`; default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_query: Option<bool>,
    /// Log filter (`MADBASE_LOG_LEVEL`): error, warn, info, debug, trace or a directive list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub log_level: Option<String>,
}

impl Default for DataPlaneSpec {
    fn default() -> Self {
        Self {
            image: None,
            replicas: default_replicas(),
            resources: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            pod_annotations: BTreeMap::new(),
            db_schemas: Vec::new(),
            db_pool_size: None,
            db_read_lanes: None,
            db_pool_acquisition_timeout: None,
            db_pool_max_idletime: None,
            db_pool_max_lifetime: None,
            db_max_rows: None,
            openapi_mode: None,
            db_prepared_statements: None,
            db_aggregates_enabled: None,
            db_plan_enabled: None,
            db_anon_role: None,
            db_pre_request: None,
            db_root_spec: None,
            db_hoisted_tx_settings: None,
            db_tx_end: None,
            db_extra_search_path: None,
            db_channel: None,
            db_channel_enabled: None,
            db_config: None,
            db_pre_config: None,
            jwt_aud: None,
            jwt_role_claim_key: None,
            openapi_security_active: None,
            openapi_server_proxy_uri: None,
            app_settings: BTreeMap::new(),
            app_settings_secret_refs: BTreeMap::new(),
            cors_allowed_origins: None,
            jwt_cache_max_entries: None,
            server_timing_enabled: None,
            client_error_verbosity: None,
            log_query: None,
            log_level: None,
        }
    }
}

fn default_replicas() -> i32 {
    1
}

/// How clients reach the data plane: always a Service, plus at most one of Ingress or HTTPRoute.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(has(self.ingress) && has(self.httpRoute))").message("set at most one of exposure.ingress and exposure.httpRoute")
)]
pub struct ExposureSpec {
    /// Public base URL clients use, when it differs from what the Ingress or HTTPRoute implies
    /// (for example behind a CDN). Reported as `status.endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("externalUrl must be an http(s) URL"))]
    pub external_url: Option<String>,
    /// The Service in front of the pods.
    #[serde(default)]
    pub service: ServiceExposure,
    /// Expose through an Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressExposure>,
    /// Expose through a Gateway API HTTPRoute (the Gateway API CRDs must be installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<HttpRouteExposure>,
}

/// The Service in front of the data-plane pods.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExposure {
    /// Service type.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Annotations on the Service (for example for a cloud load balancer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Kubernetes Service type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    #[default]
    ClusterIP,
    /// Also reachable on a port of every node.
    NodePort,
    /// Also reachable through a cloud load balancer.
    LoadBalancer,
}

/// An Ingress for the data plane.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressExposure {
    /// Host name, e.g. `shop.api.example.com`.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')").message("host must be a lower-case DNS name"))]
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// IngressClass; defaults to the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Secret holding the TLS certificate for `host` (e.g. issued by cert-manager); the endpoint
    /// is `https://` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,
    /// Annotations on the Ingress (cert-manager, external-dns, controller settings).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A Gateway API HTTPRoute for the data plane.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteExposure {
    /// Host names the route matches; the first one is the endpoint (`https://`).
    #[schemars(length(min = 1, max = 16))]
    pub hostnames: Vec<String>,
    /// Gateways the route attaches to.
    #[schemars(length(min = 1, max = 32))]
    pub parent_refs: Vec<GatewayRef>,
}

/// A Gateway (or one of its listeners).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRef {
    /// Name of the Gateway.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the Gateway; defaults to the project's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Listener of the Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// Observed state of a project, written only by the operator.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MadBaseProjectStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Summary of the project's state, for humans; automation should read `conditions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// `Ready`, `KeysReady`, `DatabaseReady`, `StorageReady`, `DataPlaneAvailable` and
    /// `ReconciliationPaused`; `lastTransitionTime` changes only when a status flips.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Base URL for supabase-js (`createClient(endpoint, anonKey)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Secret with `jwt-secret`, `anon-key` and `service-role-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_secret_ref: Option<LocalObjectRef>,
    /// The database the data plane uses (never a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseStatus>,
    /// The bucket the data plane uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageStatus>,
    /// The data-plane Deployment as last applied and observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_plane: Option<DataPlaneStatus>,
}

/// Lifecycle phase of a project.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Seen, nothing provisioned yet.
    Pending,
    /// Keys, database, bucket or data plane are being set up.
    Provisioning,
    /// Serving requests.
    Ready,
    /// Was ready, now something is wrong (see conditions); the operator keeps retrying.
    Degraded,
    /// `spec.stopped`: scaled to zero.
    Stopped,
    /// `spec.paused`: changes are not applied.
    Paused,
    /// Being deleted.
    Deleting,
    /// Needs a change by the user (invalid spec or a missing Secret).
    Failed,
}

/// A reference to an object in the project's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectRef {
    /// Name of the object.
    pub name: String,
}

/// The database as provisioned.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// `external`, `shared` or `cnpg`.
    pub mode: String,
    /// Database name, when the operator manages it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Login role, when the operator manages it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Secret with the data plane's connection URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

/// The bucket as provisioned.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageStatus {
    /// Bucket name.
    pub bucket: String,
    /// S3 endpoint, when not AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// The data-plane Deployment as applied and observed.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataPlaneStatus {
    /// Image running.
    pub image: String,
    /// Desired pods.
    pub replicas: i32,
    /// Pods passing their readiness probe.
    pub ready_replicas: i32,
    /// Hash of the settings the pods were started with (`madbase.io/config-hash`).
    pub config_hash: String,
}
