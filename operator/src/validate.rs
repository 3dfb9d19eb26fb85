//! Validate (pure): turns a `MadBaseProject`, the operator's configuration and the values read
//! from referenced Secrets into a [`ValidatedProject`] with every default resolved and every name
//! derived. No client, no clock, no randomness: everything here is a function of its inputs, so
//! it is tested with plain values.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use kube::ResourceExt;
use madbase_crds::naming;
use madbase_crds::{DatabaseTls, DeletionPolicy, ExposureSpec, MadBaseProject};

use crate::auth_settings::{self, FileMount, MountSource};
use crate::operator_config::{OperatorConfig, SecretString};

/// Annotation on a project that asks for new keys; its value is an opaque token (a timestamp).
pub const ROTATE_KEYS_ANNOTATION: &str = "madbase.io/rotate-keys";

/// Port the data plane listens on inside the pod.
pub const DATA_PLANE_PORT: i32 = 8000;

/// Values the dereference step read from Secrets the project references.
#[derive(Debug, Clone, Default)]
pub struct Referenced {
    /// `spec.auth.jwtSecretRef`'s value.
    pub jwt_secret: Option<SecretString>,
    /// `spec.database.external.connectionSecretRef`'s value.
    pub external_url: Option<SecretString>,
    /// `spec.storage.credentialsSecretRef`'s values (access key id, secret access key).
    pub s3_credentials: Option<(SecretString, SecretString)>,
    /// The PEM of `spec.database.tls`'s CA bundle, read for the operator's own check of an
    /// `external` database.
    pub db_ca: Option<Vec<u8>>,
    /// The PEM revocation lists `spec.database.tls` names, for the same check.
    pub db_crl: Option<Vec<u8>>,
    /// `resourceVersion` of each Secret and ConfigMap `spec.auth` points the pods at, keyed
    /// `secret/<name>` or `configmap/<name>`: a change rolls the pods, which read them at start.
    pub auth_versions: BTreeMap<String, String>,
}

/// One problem with a spec, named by its field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// JSON path of the field, e.g. `spec.database.shared.pool`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid spec: {}", .0.iter().map(|p| format!("{}: {}", p.path, p.message)).collect::<Vec<_>>().join("; "))]
pub struct ValidationError(pub Vec<FieldProblem>);

/// A project with all defaults resolved, ready for the build and provisioning steps.
#[derive(Debug, Clone)]
pub struct ValidatedProject {
    /// `metadata.name`, also the project ref.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.uid`, for owner references.
    pub uid: String,
    /// What happens to external state on deletion.
    pub deletion_policy: DeletionPolicy,
    /// Keys Secret plan.
    pub keys: KeysPlan,
    /// Database plan.
    pub database: DatabasePlan,
    /// Bucket plan.
    pub storage: StoragePlan,
    /// Data-plane plan.
    pub data_plane: DataPlanePlan,
    /// Exposure as specified.
    pub exposure: ExposureSpec,
    /// Public base URL reported in status and given to the data plane.
    pub endpoint: String,
}

/// What the keys Secret must contain.
#[derive(Debug, Clone)]
pub struct KeysPlan {
    /// Secret name.
    pub secret_name: String,
    /// Bring-your-own JWT secret, when set.
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of minted keys.
    pub expiry_days: i64,
    /// Value of the rotation annotation, when present.
    pub rotation_token: Option<String>,
}

/// Where the database comes from.
#[derive(Debug, Clone)]
pub enum DatabasePlan {
    /// The user's Secret holds the URL.
    External {
        /// Secret with the URL.
        secret_name: String,
        /// Key in that Secret.
        key: String,
        /// The URL, for the connection check.
        url: SecretString,
        /// `spec.database.tls`, for the same check.
        tls: crate::postgres::DbTls,
        /// `apiLogin`: the data API's role, and the Secret and key of its password if any.
        api_login: Option<(String, Option<(String, String)>)>,
    },
    /// The operator creates a role and database on a pool.
    Shared {
        /// Pool name.
        pool: String,
        /// Admin URL of the pool.
        admin_url: SecretString,
        /// Host data planes connect to (`None`: the admin URL's).
        host: Option<String>,
        /// Port data planes connect to (`None`: the admin URL's).
        port: Option<u16>,
        /// Database name.
        database: String,
        /// Login role name; owns the database.
        role: String,
        /// The data API's login role, which may only switch to the API roles.
        api_role: String,
        /// Secret (project namespace) receiving the data plane's URL and the API login's password.
        secret_name: String,
    },
    /// A role in a CloudNativePG `Cluster`'s `spec.managed.roles` and a `Database` resource.
    Cnpg {
        /// Cluster name.
        cluster: String,
        /// Namespace of the cluster and the CNPG resources.
        cluster_namespace: String,
        /// Database name.
        database: String,
        /// Login role name; owns the database.
        role: String,
        /// The data API's login role, which may only switch to the API roles.
        api_role: String,
        /// Secret (project namespace) receiving the data plane's URL and the API login's password.
        secret_name: String,
        /// Basic-auth Secret (cluster namespace) with the role's password, read by CloudNativePG.
        password_secret_name: String,
        /// The same for the data API's login role.
        api_password_secret_name: String,
    },
}

impl DatabasePlan {
    /// `external`, `shared` or `cnpg`.
    pub fn mode(&self) -> &'static str {
        match self {
            DatabasePlan::External { .. } => "external",
            DatabasePlan::Shared { .. } => "shared",
            DatabasePlan::Cnpg { .. } => "cnpg",
        }
    }

    /// The data API's own login: the one the operator creates (`shared`, `cnpg`) or the one an
    /// `external` spec names. The role, and the Secret and key holding its password if any.
    pub fn api_login(&self) -> Option<(&str, Option<(String, String)>)> {
        match self {
            DatabasePlan::Shared {
                api_role,
                secret_name,
                ..
            }
            | DatabasePlan::Cnpg {
                api_role,
                secret_name,
                ..
            } => Some((
                api_role,
                Some((secret_name.clone(), API_PASSWORD_KEY.into())),
            )),
            DatabasePlan::External { api_login, .. } => api_login
                .as_ref()
                .map(|(user, password)| (user.as_str(), password.clone())),
        }
    }

    /// Secret and key the data plane reads `MADBASE_DATABASE_URL` from.
    pub fn url_secret(&self) -> (String, String) {
        match self {
            DatabasePlan::External {
                secret_name, key, ..
            } => (secret_name.clone(), key.clone()),
            DatabasePlan::Shared { secret_name, .. } | DatabasePlan::Cnpg { secret_name, .. } => {
                (secret_name.clone(), "uri".into())
            }
        }
    }
}

/// Where S3 credentials for the data plane come from.
#[derive(Debug, Clone)]
pub enum CredentialsSource {
    /// A Secret the user created in the project's namespace.
    Project {
        /// Secret name.
        secret_name: String,
        /// Key of the access key id.
        access_key_id_key: String,
        /// Key of the secret access key.
        secret_access_key_key: String,
    },
    /// The operator's object store; copied into `<name>-storage`.
    Operator {
        /// Secret name the operator writes.
        secret_name: String,
    },
}

/// The bucket and how to reach it.
#[derive(Debug, Clone)]
pub struct StoragePlan {
    /// Bucket name.
    pub bucket: String,
    /// Create when missing.
    pub create_bucket: bool,
    /// Endpoint URL (`None`: AWS).
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Path-style addressing.
    pub force_path_style: bool,
    /// Credentials the operator uses for its own S3 calls.
    pub access_key_id: SecretString,
    /// Credentials the operator uses for its own S3 calls.
    pub secret_access_key: SecretString,
    /// Where the data plane's credentials come from.
    pub credentials: CredentialsSource,
}

/// The data-plane Deployment's shape.
#[derive(Debug, Clone)]
pub struct DataPlanePlan {
    /// Image.
    pub image: String,
    /// Replicas after `stopped`.
    pub replicas: i32,
    /// Replicas as specified (for the PodDisruptionBudget decision when stopped).
    pub stopped: bool,
    /// Resources.
    pub resources: Option<ResourceRequirements>,
    /// Node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Extra pod annotations.
    pub pod_annotations: BTreeMap<String, String>,
    /// Non-secret settings by environment variable name (the ConfigMap's data).
    pub settings: BTreeMap<String, String>,
    /// Secret settings from Secrets the user references (`spec.auth`,
    /// `spec.dataPlane.appSettingsSecretRefs`), by environment variable name: (Secret, key).
    pub secret_settings: BTreeMap<String, (String, String)>,
    /// ConfigMaps mounted as files (`spec.auth` templates and CA bundle, the database CA).
    pub mounts: Vec<FileMount>,
    /// What the pods read at start from those Secrets and ConfigMaps (see
    /// [`Referenced::auth_versions`]).
    pub input_versions: BTreeMap<String, String>,
}

/// Key of the database Secret (`<name>-db`) holding the data API login's password.
pub const API_PASSWORD_KEY: &str = "api-password";

/// Where `spec.database.tls.caConfigMapRef` is mounted in the pods.
pub const DB_CA_DIR: &str = "/etc/madbase/db-ca";
/// The file name of that CA bundle, and its default key.
const DB_CA_FILE: &str = "ca.crt";
/// Where `spec.database.tls.crlConfigMapRef` is mounted in the pods.
pub const DB_CRL_DIR: &str = "/etc/madbase/db-crl";
/// The file name of those revocation lists, and their default key.
const DB_CRL_FILE: &str = "root.crl";

/// The settings `spec.database.tls` becomes, and the mounts it needs: the CA bundle first, then
/// the revocation lists.
pub fn database_tls(tls: Option<&DatabaseTls>) -> (BTreeMap<String, String>, Vec<FileMount>) {
    let mut settings = BTreeMap::new();
    let mut mounts = Vec::new();
    let Some(tls) = tls else {
        return (settings, mounts);
    };
    if let Some(mode) = tls.ssl_mode {
        settings.insert("MADBASE_DB_SSL_MODE".to_owned(), mode.as_str().to_owned());
    }
    let files = [
        (
            &tls.ca_config_map_ref,
            &tls.ca_secret_ref,
            "MADBASE_DB_SSL_ROOT_CERT",
            "db-ca",
            DB_CA_DIR,
            DB_CA_FILE,
        ),
        (
            &tls.crl_config_map_ref,
            &tls.crl_secret_ref,
            "MADBASE_DB_SSL_CRL",
            "db-crl",
            DB_CRL_DIR,
            DB_CRL_FILE,
        ),
    ];
    for (config_map, secret, variable, volume, dir, file) in files {
        let source = match (config_map, secret) {
            (Some(cm), _) => (MountSource::ConfigMap(cm.name.clone()), cm.key.clone()),
            (None, Some(s)) => (MountSource::Secret(s.name.clone()), s.key.clone()),
            (None, None) => continue,
        };
        settings.insert(variable.to_owned(), format!("{dir}/{file}"));
        mounts.push(FileMount {
            volume,
            source: source.0,
            items: vec![(source.1.unwrap_or_else(|| file.to_owned()), file.to_owned())],
            path: dir,
        });
    }
    (settings, mounts)
}

fn problem(out: &mut Vec<FieldProblem>, path: &str, message: impl Into<String>) {
    out.push(FieldProblem {
        path: path.into(),
        message: message.into(),
    });
}

/// Public base URL: `exposure.externalUrl`, else what the Ingress or HTTPRoute implies, else the
/// in-cluster Service URL.
pub fn endpoint(name: &str, namespace: &str, exposure: &ExposureSpec) -> String {
    if let Some(url) = &exposure.external_url {
        return url.trim_end_matches('/').to_owned();
    }
    if let Some(ingress) = &exposure.ingress {
        let scheme = if ingress.tls_secret_name.is_some() {
            "https"
        } else {
            "http"
        };
        return format!("{scheme}://{}", ingress.host);
    }
    if let Some(host) = exposure
        .http_route
        .as_ref()
        .and_then(|r| r.hostnames.first())
    {
        return format!("https://{host}");
    }
    format!(
        "http://{}.{namespace}.svc:{DATA_PLANE_PORT}",
        naming::workload_name(name)
    )
}

/// Validates a project against the operator's configuration and the referenced values.
pub fn validate(
    project: &MadBaseProject,
    config: &OperatorConfig,
    referenced: &Referenced,
) -> Result<ValidatedProject, ValidationError> {
    let mut problems = Vec::new();
    let name = project.name_any();
    let namespace = project.namespace().unwrap_or_default();
    let spec = &project.spec;
    if let Some(p) = naming::project_name_problem(&name) {
        problem(&mut problems, "metadata.name", p);
    }

    let keys = KeysPlan {
        secret_name: naming::keys_secret_name(&name),
        jwt_secret: referenced.jwt_secret.clone(),
        expiry_days: spec.auth.api_key_expiry_days,
        rotation_token: project.annotations().get(ROTATE_KEYS_ANNOTATION).cloned(),
    };
    if let Some(secret) = &referenced.jwt_secret
        && secret.expose().len() < 32
    {
        problem(
            &mut problems,
            "spec.auth.jwtSecretRef",
            "the JWT secret must be at least 32 characters",
        );
    }
    if !(1..=36500).contains(&keys.expiry_days) {
        problem(
            &mut problems,
            "spec.auth.apiKeyExpiryDays",
            "must be between 1 and 36500",
        );
    }

    let default_db = naming::default_database_name(&namespace, &name);
    let database = match (
        &spec.database.external,
        &spec.database.shared,
        &spec.database.cnpg,
    ) {
        (Some(ext), None, None) => {
            let url = referenced.external_url.clone().unwrap_or_default();
            if !(url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://"))
            {
                problem(
                    &mut problems,
                    "spec.database.external.connectionSecretRef",
                    "the referenced value must be a postgres:// or postgresql:// URL",
                );
            }
            Some(DatabasePlan::External {
                secret_name: ext.connection_secret_ref.name.clone(),
                key: ext
                    .connection_secret_ref
                    .key
                    .clone()
                    .unwrap_or_else(|| "uri".into()),
                url,
                tls: crate::postgres::DbTls {
                    ssl_mode: spec.database.tls.as_ref().and_then(|t| t.ssl_mode),
                    ca_pem: referenced.db_ca.clone(),
                    crl_pem: referenced.db_crl.clone(),
                },
                api_login: ext.api_login.as_ref().map(|login| {
                    if !madbase_config::valid_role_name(&login.user) {
                        problem(
                            &mut problems,
                            "spec.database.external.apiLogin.user",
                            "must be a role name of 1 to 63 bytes",
                        );
                    }
                    (login.user.clone(), api_password_secret(login))
                }),
            })
        }
        (None, Some(shared), None) => {
            let database = shared.database_name.clone().unwrap_or(default_db);
            if let Some(p) = naming::project_role_problem(&database) {
                problem(&mut problems, "spec.database.shared.databaseName", p);
            }
            match config.database_pools.get(&shared.pool) {
                None => {
                    problem(
                        &mut problems,
                        "spec.database.shared.pool",
                        format!(
                            "pool `{}` is not configured in the operator (known: {})",
                            shared.pool,
                            known(config.database_pools.keys())
                        ),
                    );
                    None
                }
                Some(pool) => Some(DatabasePlan::Shared {
                    pool: shared.pool.clone(),
                    admin_url: pool.admin_url.clone().unwrap_or_default(),
                    host: pool.host.clone(),
                    port: pool.port,
                    role: database.clone(),
                    api_role: naming::api_role_name(&database),
                    database,
                    secret_name: naming::database_secret_name(&name),
                }),
            }
        }
        (None, None, Some(cnpg)) => {
            let database = cnpg.database_name.clone().unwrap_or(default_db);
            if let Some(p) = naming::project_role_problem(&database) {
                problem(&mut problems, "spec.database.cnpg.databaseName", p);
            }
            let cluster_namespace = (cnpg.cluster_ref.namespace.as_deref()).unwrap_or(&namespace);
            let cluster = format!("{cluster_namespace}/{}", cnpg.cluster_ref.name);
            if let Some(allowed) = &config.cnpg_clusters
                && !allowed.contains(&cluster)
            {
                problem(
                    &mut problems,
                    "spec.database.cnpg.clusterRef",
                    format!(
                        "CloudNativePG Cluster {cluster} is not one the operator offers (offered: {})",
                        known(allowed.iter())
                    ),
                );
            }
            Some(DatabasePlan::Cnpg {
                cluster: cnpg.cluster_ref.name.clone(),
                cluster_namespace: cnpg
                    .cluster_ref
                    .namespace
                    .clone()
                    .unwrap_or_else(|| namespace.clone()),
                role: database.clone(),
                api_role: naming::api_role_name(&database),
                password_secret_name: format!("{namespace}-{name}-db-password"),
                api_password_secret_name: format!("{namespace}-{name}-db-api-password"),
                database,
                secret_name: naming::database_secret_name(&name),
            })
        }
        _ => {
            problem(
                &mut problems,
                "spec.database",
                "exactly one of external, shared or cnpg must be set",
            );
            None
        }
    };

    let storage = validate_storage(
        project,
        &name,
        &namespace,
        config,
        referenced,
        &mut problems,
    );

    let dp = &spec.data_plane;
    if !(0..=20).contains(&dp.replicas) {
        problem(
            &mut problems,
            "spec.dataPlane.replicas",
            "must be between 0 and 20",
        );
    }
    let endpoint = endpoint(&name, &namespace, &spec.exposure);
    let mut settings = BTreeMap::new();
    settings.insert("MADBASE_PROJECT_REF".to_owned(), name.clone());
    settings.insert(
        "MADBASE_LISTEN".to_owned(),
        format!("0.0.0.0:{DATA_PLANE_PORT}"),
    );
    settings.insert("MADBASE_API_EXTERNAL_URL".to_owned(), endpoint.clone());
    settings.insert("MADBASE_LOG_FORMAT".to_owned(), "json".into());
    let auth = auth_settings::render(&spec.auth);
    settings.extend(auth.settings);
    let (db_tls, db_ca) = database_tls(spec.database.tls.as_ref());
    settings.extend(db_tls);
    if let Some((user, _)) = database.as_ref().and_then(DatabasePlan::api_login) {
        settings.insert("MADBASE_DB_API_USER".to_owned(), user.to_owned());
    }
    // Databases on a cluster other projects share are closed to their roles.
    if matches!(
        database,
        Some(DatabasePlan::Shared { .. } | DatabasePlan::Cnpg { .. })
    ) {
        settings.insert("MADBASE_DB_PRIVATE".to_owned(), "true".to_owned());
    }
    let mut mounts = auth.mounts;
    mounts.extend(db_ca);
    if let Some(level) = &dp.log_level {
        settings.insert("MADBASE_LOG_LEVEL".to_owned(), level.clone());
    }
    if !dp.db_schemas.is_empty() {
        settings.insert("MADBASE_DB_SCHEMAS".to_owned(), dp.db_schemas.join(","));
    }
    if let Some(n) = dp.db_pool_size {
        settings.insert("MADBASE_DB_POOL_SIZE".to_owned(), n.to_string());
    }
    let counts = [
        (dp.db_read_lanes, "MADBASE_DB_READ_LANES"),
        (
            dp.db_pool_acquisition_timeout,
            "MADBASE_DB_POOL_ACQUISITION_TIMEOUT",
        ),
        (dp.db_pool_max_idletime, "MADBASE_DB_POOL_MAX_IDLETIME"),
        (dp.db_pool_max_lifetime, "MADBASE_DB_POOL_MAX_LIFETIME"),
    ];
    for (n, variable) in counts {
        if let Some(n) = n {
            settings.insert(variable.to_owned(), n.to_string());
        }
    }
    if let Some(n) = dp.db_max_rows {
        settings.insert("MADBASE_DB_MAX_ROWS".to_owned(), n.to_string());
    }
    if let Some(on) = dp.db_prepared_statements {
        settings.insert("MADBASE_DB_PREPARED_STATEMENTS".to_owned(), on.to_string());
    }
    if let Some(mode) = dp.openapi_mode {
        settings.insert("MADBASE_OPENAPI_MODE".to_owned(), mode.as_str().into());
    }
    if let Some(on) = dp.db_aggregates_enabled {
        settings.insert("MADBASE_DB_AGGREGATES_ENABLED".to_owned(), on.to_string());
    }
    let switches = [
        (dp.db_plan_enabled, "MADBASE_DB_PLAN_ENABLED"),
        (dp.db_config, "MADBASE_DB_CONFIG"),
        (dp.db_channel_enabled, "MADBASE_DB_CHANNEL_ENABLED"),
        (dp.server_timing_enabled, "MADBASE_SERVER_TIMING_ENABLED"),
        (
            dp.openapi_security_active,
            "MADBASE_OPENAPI_SECURITY_ACTIVE",
        ),
    ];
    for (on, variable) in switches {
        if let Some(on) = on {
            settings.insert(variable.to_owned(), on.to_string());
        }
    }
    for (name, value) in &dp.app_settings {
        if madbase_config::valid_app_setting_name(name) {
            settings.insert(app_setting_env(name), value.clone());
        } else {
            problem(
                &mut problems,
                "spec.dataPlane.appSettings",
                format!("`{name}` is not an app setting name (lower-case letters, digits and _)"),
            );
        }
    }
    for name in dp.app_settings_secret_refs.keys() {
        if !madbase_config::valid_app_setting_name(name) {
            problem(
                &mut problems,
                "spec.dataPlane.appSettingsSecretRefs",
                format!("`{name}` is not an app setting name (lower-case letters, digits and _)"),
            );
        } else if dp.app_settings.contains_key(name) {
            problem(
                &mut problems,
                "spec.dataPlane.appSettingsSecretRefs",
                format!("`{name}` is also in appSettings: give it one source"),
            );
        }
    }
    if let Some(n) = dp.jwt_cache_max_entries {
        settings.insert("MADBASE_JWT_CACHE_MAX_ENTRIES".to_owned(), n.to_string());
    }
    if let Some(on) = dp.log_query {
        let v = if on { "main-query" } else { "disabled" };
        settings.insert("MADBASE_LOG_QUERY".to_owned(), v.into());
    }
    if let Some(v) = dp.client_error_verbosity {
        settings.insert(
            "MADBASE_CLIENT_ERROR_VERBOSITY".to_owned(),
            v.as_str().into(),
        );
    }
    // The data plane's own rules, so a spec it would refuse at start fails here instead.
    let texts = [
        (
            &dp.jwt_aud,
            "MADBASE_JWT_AUD",
            "spec.dataPlane.jwtAud",
            (|a: &str| !a.chars().any(char::is_control)) as fn(&str) -> bool,
            "must not contain control characters",
        ),
        (
            &dp.jwt_role_claim_key,
            "MADBASE_JWT_ROLE_CLAIM_KEY",
            "spec.dataPlane.jwtRoleClaimKey",
            |k| madbase_config::RoleClaimKey::parse(k).is_some(),
            "must be a claim path like .role, .app_metadata.role or .roles[0]",
        ),
        (
            &dp.openapi_server_proxy_uri,
            "MADBASE_OPENAPI_SERVER_PROXY_URI",
            "spec.dataPlane.openapiServerProxyUri",
            madbase_config::valid_proxy_uri,
            "must be an http(s) URL like https://api.example.com/rest/v1",
        ),
        (
            &dp.db_channel,
            "MADBASE_DB_CHANNEL",
            "spec.dataPlane.dbChannel",
            madbase_config::valid_unqualified_function_name,
            "must be a channel name (letters, digits and _)",
        ),
        (
            &dp.db_anon_role,
            "MADBASE_DB_ANON_ROLE",
            "spec.dataPlane.dbAnonRole",
            madbase_config::valid_role_name,
            "must be a role name (1 to 63 characters) or none",
        ),
        (
            &dp.db_pre_request,
            "MADBASE_DB_PRE_REQUEST",
            "spec.dataPlane.dbPreRequest",
            madbase_config::valid_function_name,
            "must be a function name like fn or schema.fn (letters, digits, _)",
        ),
        (
            &dp.db_pre_config,
            "MADBASE_DB_PRE_CONFIG",
            "spec.dataPlane.dbPreConfig",
            madbase_config::valid_function_name,
            "must be a function name like fn or schema.fn (letters, digits, _)",
        ),
        (
            &dp.db_root_spec,
            "MADBASE_DB_ROOT_SPEC",
            "spec.dataPlane.dbRootSpec",
            madbase_config::valid_unqualified_function_name,
            "must be a function name without schema (letters, digits, _)",
        ),
    ];
    for (value, variable, path, valid, rule) in texts {
        match value {
            Some(v) if valid(v) => {
                settings.insert(variable.to_owned(), v.clone());
            }
            Some(_) => problem(&mut problems, path, rule),
            None => {}
        }
    }
    if let Some(end) = dp.db_tx_end {
        settings.insert("MADBASE_DB_TX_END".to_owned(), end.as_str().into());
    }
    let lists = [
        (
            &dp.cors_allowed_origins,
            "MADBASE_CORS_ALLOWED_ORIGINS",
            "spec.dataPlane.corsAllowedOrigins",
            madbase_config::valid_origin as fn(&str) -> bool,
            "an origin like https://app.example.com",
        ),
        (
            &dp.db_extra_search_path,
            "MADBASE_DB_EXTRA_SEARCH_PATH",
            "spec.dataPlane.dbExtraSearchPath",
            madbase_config::valid_schema_name,
            "a schema name (1 to 63 characters, no comma)",
        ),
        (
            &dp.db_hoisted_tx_settings,
            "MADBASE_DB_HOISTED_TX_SETTINGS",
            "spec.dataPlane.dbHoistedTxSettings",
            madbase_config::valid_setting_name,
            "a setting name (lower-case letters, digits, _ and .)",
        ),
    ];
    for (list, variable, path, valid, what) in lists {
        let Some(list) = list else { continue };
        match list.iter().find(|s| !valid(s)) {
            Some(bad) => problem(&mut problems, path, format!("`{bad}` is not {what}")),
            None => {
                settings.insert(variable.to_owned(), madbase_config::list_or_none(list));
            }
        }
    }
    if let Some(storage) = &storage {
        settings.insert("MADBASE_STORAGE_BACKEND".to_owned(), "s3".into());
        settings.insert("MADBASE_S3_BUCKET".to_owned(), storage.bucket.clone());
        if let Some(e) = &storage.endpoint {
            settings.insert("MADBASE_S3_ENDPOINT".to_owned(), e.clone());
        }
        settings.insert("MADBASE_S3_REGION".to_owned(), storage.region.clone());
        settings.insert(
            "MADBASE_S3_FORCE_PATH_STYLE".to_owned(),
            storage.force_path_style.to_string(),
        );
    }

    match (database, storage) {
        (Some(database), Some(storage)) if problems.is_empty() => Ok(ValidatedProject {
            uid: project.uid().unwrap_or_default(),
            deletion_policy: spec.deletion_policy,
            keys,
            database,
            storage,
            data_plane: DataPlanePlan {
                image: dp
                    .image
                    .clone()
                    .unwrap_or_else(|| config.default_image.clone()),
                replicas: if spec.stopped { 0 } else { dp.replicas },
                stopped: spec.stopped,
                resources: dp
                    .resources
                    .clone()
                    .or_else(|| config.default_resources.clone()),
                node_selector: dp.node_selector.clone(),
                tolerations: dp.tolerations.clone(),
                pod_annotations: dp.pod_annotations.clone(),
                settings,
                secret_settings: auth
                    .secrets
                    .into_iter()
                    .chain(app_setting_secrets(dp))
                    .collect(),
                mounts,
                input_versions: referenced.auth_versions.clone(),
            },
            exposure: spec.exposure.clone(),
            endpoint,
            name,
            namespace,
        }),
        _ => Err(ValidationError(problems)),
    }
}

/// Where an `external` project's API login password is read from: (Secret, key).
pub fn api_password_secret(login: &madbase_crds::ApiLogin) -> Option<(String, String)> {
    login.password_secret_ref.as_ref().map(|r| {
        let key = r.key.clone().unwrap_or_else(|| "password".into());
        (r.name.clone(), key)
    })
}

/// The environment variable of app setting `name`.
fn app_setting_env(name: &str) -> String {
    format!(
        "{}{}",
        madbase_config::APP_SETTINGS_PREFIX,
        name.to_ascii_uppercase()
    )
}

/// The app settings the pods read from Secrets: environment variable → (Secret, key), the key
/// defaulting to the setting's name. Names that are not app setting names are left out (the
/// validation refuses them).
pub fn app_setting_secrets(dp: &madbase_crds::DataPlaneSpec) -> BTreeMap<String, (String, String)> {
    dp.app_settings_secret_refs
        .iter()
        .filter(|(name, _)| madbase_config::valid_app_setting_name(name))
        .map(|(name, r)| {
            let key = r.key.clone().unwrap_or_else(|| name.clone());
            (app_setting_env(name), (r.name.clone(), key))
        })
        .collect()
}

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<&str> = names.map(String::as_str).collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

fn validate_storage(
    project: &MadBaseProject,
    name: &str,
    namespace: &str,
    config: &OperatorConfig,
    referenced: &Referenced,
    problems: &mut Vec<FieldProblem>,
) -> Option<StoragePlan> {
    let spec = &project.spec.storage;
    let bucket = spec
        .bucket
        .clone()
        .unwrap_or_else(|| naming::default_bucket(namespace, name));
    if let Some(p) = naming::bucket_name_problem(&bucket) {
        problem(problems, "spec.storage.bucket", p);
    }
    let store_name = spec.object_store.as_deref().unwrap_or("default");
    let store = config.object_stores.get(store_name);
    if store.is_none() && (spec.object_store.is_some() || spec.credentials_secret_ref.is_none()) {
        problem(
            problems,
            "spec.storage.objectStore",
            format!(
                "object store `{store_name}` is not configured in the operator (known: {}); configure it or set storage.credentialsSecretRef",
                known(config.object_stores.keys())
            ),
        );
        return None;
    }
    let endpoint = spec
        .endpoint
        .clone()
        .or_else(|| store.and_then(|s| s.endpoint.clone()))
        .filter(|e| !e.is_empty());
    let region = spec
        .region
        .clone()
        .or_else(|| store.map(|s| s.region.clone()))
        .unwrap_or_else(|| "us-east-1".into());
    let force_path_style = spec
        .force_path_style
        .or_else(|| store.map(|s| s.force_path_style))
        .unwrap_or(true);
    let (access_key_id, secret_access_key, credentials) = match &spec.credentials_secret_ref {
        Some(r) => {
            let (id, secret) = referenced.s3_credentials.clone().unwrap_or_default();
            (
                id,
                secret,
                CredentialsSource::Project {
                    secret_name: r.name.clone(),
                    access_key_id_key: r
                        .access_key_id_key
                        .clone()
                        .unwrap_or_else(|| "access-key-id".into()),
                    secret_access_key_key: r
                        .secret_access_key_key
                        .clone()
                        .unwrap_or_else(|| "secret-access-key".into()),
                },
            )
        }
        None => {
            let store = store?;
            match (&store.access_key_id, &store.secret_access_key) {
                (Some(id), Some(secret)) => (
                    id.clone(),
                    secret.clone(),
                    CredentialsSource::Operator {
                        secret_name: naming::storage_secret_name(name),
                    },
                ),
                _ => {
                    problem(
                        problems,
                        "spec.storage.objectStore",
                        format!("object store `{store_name}` has no credentials configured"),
                    );
                    return None;
                }
            }
        }
    };
    Some(StoragePlan {
        bucket,
        create_bucket: spec.create_bucket,
        endpoint,
        region,
        force_path_style,
        access_key_id,
        secret_access_key,
        credentials,
    })
}

#[cfg(test)]
#[path = "validate_tests.rs"]
pub(crate) mod tests;
