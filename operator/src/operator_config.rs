//! The operator's own configuration: PostgreSQL pools for `shared` projects, S3 object stores,
//! the default data-plane image and resources. Read once at start from a YAML file (the Helm
//! chart mounts it from a ConfigMap) plus secret files (mounted from Secrets); unknown keys are
//! rejected so a typo is a start-up error, not a silently ignored setting.
//!
//! Tenants never see this: a project names a pool or store, never its credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::ResourceRequirements;
use serde::Deserialize;

/// Image used when a project does not name one.
pub const DEFAULT_IMAGE: &str = "ghcr.io/madbase/madbase:0.1.0";

/// A secret value that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString)
    }
}

/// Everything the operator is configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorConfig {
    /// Data-plane image for projects that do not set `spec.dataPlane.image`.
    #[serde(default = "default_image")]
    pub default_image: String,
    /// Data-plane resources for projects that do not set `spec.dataPlane.resources`.
    #[serde(default)]
    pub default_resources: Option<ResourceRequirements>,
    /// Pools for `database.shared`, by name.
    #[serde(default)]
    pub database_pools: BTreeMap<String, DatabasePool>,
    /// Object stores for `spec.storage.objectStore`, by name (`default` when unnamed).
    #[serde(default)]
    pub object_stores: BTreeMap<String, ObjectStore>,
    /// CloudNativePG Clusters projects may put their databases on, as `namespace/name`; any
    /// when unset (the chart leaves it unset for an empty list). Projects on one Cluster share
    /// its roles, so a platform names here the Clusters that hold MadBase projects only.
    #[serde(default)]
    pub cnpg_clusters: Option<Vec<String>>,
}

fn default_image() -> String {
    DEFAULT_IMAGE.into()
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            default_image: default_image(),
            default_resources: None,
            database_pools: BTreeMap::new(),
            object_stores: BTreeMap::new(),
            cnpg_clusters: None,
        }
    }
}

/// A PostgreSQL server on which the operator creates per-project roles and databases.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabasePool {
    /// File holding the admin connection URL (a role with CREATEROLE and CREATEDB).
    #[serde(default)]
    pub admin_url_file: Option<PathBuf>,
    /// The admin URL itself; filled from `adminUrlFile` at load time. Inline values are accepted
    /// for development only.
    #[serde(default)]
    pub admin_url: Option<SecretString>,
    /// Host the data planes connect to, when it differs from the admin URL's host.
    #[serde(default)]
    pub host: Option<String>,
    /// Port the data planes connect to, when it differs from the admin URL's port.
    #[serde(default)]
    pub port: Option<u16>,
}

/// An S3-compatible object store.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectStore {
    /// Endpoint URL; empty means AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Path-style addressing (MinIO, Garage).
    #[serde(default = "default_true")]
    pub force_path_style: bool,
    /// File holding the access key id.
    #[serde(default)]
    pub access_key_id_file: Option<PathBuf>,
    /// File holding the secret access key.
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    /// Access key id; filled from the file at load time.
    #[serde(default)]
    pub access_key_id: Option<SecretString>,
    /// Secret access key; filled from the file at load time.
    #[serde(default)]
    pub secret_access_key: Option<SecretString>,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_true() -> bool {
    true
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("invalid operator configuration {path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// A pool without an admin URL.
    #[error("database pool `{0}` has neither adminUrlFile nor adminUrl")]
    PoolWithoutUrl(String),
}

fn read_secret(path: &Path) -> Result<SecretString, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| SecretString::new(s.trim()))
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })
}

impl OperatorConfig {
    /// Parses YAML text and reads the secret files it names.
    pub fn from_yaml(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let mut config: OperatorConfig =
            serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
                path: origin.to_owned(),
                message: e.to_string(),
            })?;
        for (name, pool) in &mut config.database_pools {
            if let Some(file) = &pool.admin_url_file {
                pool.admin_url = Some(read_secret(file)?);
            }
            if pool.admin_url.is_none() {
                return Err(ConfigError::PoolWithoutUrl(name.clone()));
            }
        }
        for store in config.object_stores.values_mut() {
            if let Some(file) = &store.access_key_id_file {
                store.access_key_id = Some(read_secret(file)?);
            }
            if let Some(file) = &store.secret_access_key_file {
                store.secret_access_key = Some(read_secret(file)?);
            }
        }
        Ok(config)
    }

    /// Reads the configuration file; a missing path means the defaults (no pools, no stores).
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            None => Ok(Self::default()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::from_yaml(&text, path)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_read_and_never_debug_printed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = dir.path().join("url");
        std::fs::write(&url, "postgres://admin:hunter2@pg:5432/postgres\n").expect("write");
        let yaml = format!(
            "databasePools:\n  default:\n    adminUrlFile: {}\nobjectStores:\n  default:\n    endpoint: http://minio:9000\n",
            url.display()
        );
        let config = OperatorConfig::from_yaml(&yaml, Path::new("config.yaml")).expect("valid");
        let pool = &config.database_pools["default"];
        assert_eq!(
            pool.admin_url.as_ref().map(SecretString::expose),
            Some("postgres://admin:hunter2@pg:5432/postgres")
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.object_stores["default"].region, "us-east-1");
        assert!(config.object_stores["default"].force_path_style);
        assert_eq!(config.default_image, DEFAULT_IMAGE);
    }

    #[test]
    fn unknown_keys_and_pools_without_url_are_errors() {
        let err =
            OperatorConfig::from_yaml("defaultImag: x\n", Path::new("c.yaml")).expect_err("typo");
        assert!(err.to_string().contains("defaultImag"), "{err}");
        let err = OperatorConfig::from_yaml("databasePools:\n  main: {}\n", Path::new("c.yaml"))
            .expect_err("no url");
        assert!(err.to_string().contains("`main`"), "{err}");
    }

    #[test]
    fn cnpg_clusters_are_an_optional_list() {
        let config =
            OperatorConfig::from_yaml("cnpgClusters: [databases/shared-pg]\n", Path::new("c.yaml"))
                .expect("valid");
        assert_eq!(
            config.cnpg_clusters,
            Some(vec!["databases/shared-pg".to_owned()])
        );
        let config =
            OperatorConfig::from_yaml("defaultImage: x\n", Path::new("c.yaml")).expect("valid");
        assert_eq!(config.cnpg_clusters, None, "any Cluster when unset");
    }
}
