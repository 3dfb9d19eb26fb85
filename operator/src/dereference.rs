//! Dereference: reads the Secrets a project references (bring-your-own JWT secret, external
//! database URL, S3 credentials) so that validation and build can stay pure, and checks that the
//! Secrets and ConfigMaps `spec.auth` hands to the pods exist — without reading their values —
//! recording their `resourceVersion`s so a change rolls the pods. The one value read besides the
//! Secrets is the database CA bundle of an `external` database, which the operator's own
//! connection check verifies the server with.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use std::collections::BTreeMap;

use kube::{Api, Client, ResourceExt};
use madbase_crds::MadBaseProject;

use crate::auth_settings::{self, FileMount, MountSource};
use crate::keys::secret_value;
use crate::operator_config::SecretString;
use crate::validate::Referenced;

/// Errors of the dereference step.
#[derive(Debug, thiserror::Error)]
pub enum DerefError {
    /// A referenced Secret does not exist.
    #[error("Secret {0} not found")]
    SecretMissing(String),
    /// A referenced ConfigMap (or its key) does not exist.
    #[error("ConfigMap {0} not found")]
    ConfigMapMissing(String),
    /// A referenced Secret lacks the key.
    #[error("Secret {name} has no key {key}")]
    KeyMissing {
        /// Secret.
        name: String,
        /// Key.
        key: String,
    },
    /// The API server failed.
    #[error("reading referenced Secrets: {0}")]
    Kube(#[from] kube::Error),
}

/// Secret `name`, which must exist.
async fn get_secret(api: &Api<Secret>, name: &str) -> Result<Secret, DerefError> {
    api.get_opt(name)
        .await?
        .ok_or_else(|| DerefError::SecretMissing(name.to_owned()))
}

/// ConfigMap `name`, which must exist.
async fn get_config_map(api: &Api<ConfigMap>, name: &str) -> Result<ConfigMap, DerefError> {
    api.get_opt(name)
        .await?
        .ok_or_else(|| DerefError::ConfigMapMissing(name.to_owned()))
}

async fn read(api: &Api<Secret>, name: &str, key: &str) -> Result<SecretString, DerefError> {
    let secret = get_secret(api, name).await?;
    secret_value(&secret, key)
        .map(SecretString::new)
        .ok_or_else(|| DerefError::KeyMissing {
            name: name.to_owned(),
            key: key.to_owned(),
        })
}

/// Reads every referenced value. With `lenient` (used while deleting), missing Secrets are
/// skipped instead of failing: the project is going away and may have outlived them.
pub async fn dereference(
    client: &Client,
    project: &MadBaseProject,
    lenient: bool,
) -> Result<Referenced, DerefError> {
    let namespace = project.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let spec = &project.spec;
    let tolerate = |r: Result<SecretString, DerefError>| match r {
        Ok(v) => Ok(Some(v)),
        Err(DerefError::Kube(e)) => Err(DerefError::Kube(e)),
        Err(_) if lenient => Ok(None),
        Err(e) => Err(e),
    };
    let mut referenced = Referenced::default();
    if let Some(r) = &spec.auth.jwt_secret_ref
        && !lenient
    {
        let key = r.key.as_deref().unwrap_or("jwt-secret");
        referenced.jwt_secret = tolerate(read(&api, &r.name, key).await)?;
    }
    if let Some(ext) = &spec.database.external {
        if lenient {
            // Cleanup never connects to an external database (MadBase does not own it); a
            // placeholder keeps validation of the rest of the spec possible.
            referenced.external_url = Some(SecretString::new("postgres://unused"));
        } else {
            let r = &ext.connection_secret_ref;
            let key = r.key.as_deref().unwrap_or("uri");
            referenced.external_url = tolerate(read(&api, &r.name, key).await)?;
        }
    }
    if let Some(r) = &spec.storage.credentials_secret_ref {
        let id_key = r.access_key_id_key.as_deref().unwrap_or("access-key-id");
        let secret_key = r
            .secret_access_key_key
            .as_deref()
            .unwrap_or("secret-access-key");
        let id = tolerate(read(&api, &r.name, id_key).await)?;
        let secret = tolerate(read(&api, &r.name, secret_key).await)?;
        referenced.s3_credentials = id.zip(secret);
    }
    if !lenient {
        referenced.auth_versions = auth_inputs(client, project, &api).await?;
        if spec.database.external.is_some() {
            let (_, mounts) = crate::validate::database_tls(spec.database.tls.as_ref());
            for mount in mounts {
                let pem = mounted_file(client, project, &api, &mount).await?;
                match mount.volume {
                    "db-crl" => referenced.db_crl = pem,
                    _ => referenced.db_ca = pem,
                }
            }
        }
    }
    Ok(referenced)
}

/// Checks the Secrets (and keys) and ConfigMaps `spec.auth`, `spec.database.tls`, an external
/// database's API login and the app settings hand to the pods; returns their `resourceVersion`s. Values are never read into the operator.
async fn auth_inputs(
    client: &Client,
    project: &MadBaseProject,
    secrets: &Api<Secret>,
) -> Result<BTreeMap<String, String>, DerefError> {
    let mut versions = BTreeMap::new();
    let app_settings = crate::validate::app_setting_secrets(&project.spec.data_plane);
    let api_password = (project.spec.database.external.as_ref())
        .and_then(|e| e.api_login.as_ref())
        .and_then(crate::validate::api_password_secret);
    for (name, key) in auth_settings::referenced_secrets(&project.spec.auth)
        .into_iter()
        .chain(app_settings.into_values())
        .chain(api_password)
    {
        let version = secret_version(secrets, &name, [key.as_str()]).await?;
        versions.insert(format!("secret/{name}"), version);
    }
    let namespace = project.namespace().unwrap_or_default();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let (_, db_ca) = crate::validate::database_tls(project.spec.database.tls.as_ref());
    for mount in auth_settings::render(&project.spec.auth)
        .mounts
        .into_iter()
        .chain(db_ca)
    {
        let keys = mount.items.iter().map(|(key, _)| key.as_str());
        let name = match mount.source {
            MountSource::Secret(name) => {
                let version = secret_version(secrets, &name, keys).await?;
                versions.insert(format!("secret/{name}"), version);
                continue;
            }
            MountSource::ConfigMap(name) => name,
        };
        let cm = get_config_map(&config_maps, &name).await?;
        for key in keys {
            let present = cm.data.as_ref().is_some_and(|d| d.contains_key(key))
                || cm.binary_data.as_ref().is_some_and(|d| d.contains_key(key));
            if !present {
                return Err(DerefError::ConfigMapMissing(format!("{name} (key {key})")));
            }
        }
        versions.insert(
            format!("configmap/{name}"),
            cm.resource_version().unwrap_or_default(),
        );
    }
    Ok(versions)
}

/// The content of a file `spec.database.tls` mounts (its CA bundle or revocation lists), from
/// its ConfigMap (`data` or `binaryData`) or Secret.
async fn mounted_file(
    client: &Client,
    project: &MadBaseProject,
    secrets: &Api<Secret>,
    mount: &FileMount,
) -> Result<Option<Vec<u8>>, DerefError> {
    let Some((key, _)) = mount.items.first() else {
        return Ok(None);
    };
    match &mount.source {
        MountSource::Secret(name) => {
            let name = name.clone();
            let secret = get_secret(secrets, &name).await?;
            let value = secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|b| b.0.clone())
                .or_else(|| secret_value(&secret, key).map(String::into_bytes));
            value.map(Some).ok_or_else(|| DerefError::KeyMissing {
                name,
                key: key.clone(),
            })
        }
        MountSource::ConfigMap(name) => {
            let name = name.clone();
            let config_maps: Api<ConfigMap> =
                Api::namespaced(client.clone(), &project.namespace().unwrap_or_default());
            let cm = get_config_map(&config_maps, &name).await?;
            let value = cm
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.clone().into_bytes())
                .or_else(|| {
                    cm.binary_data
                        .as_ref()
                        .and_then(|d| d.get(key))
                        .map(|b| b.0.clone())
                });
            value
                .map(Some)
                .ok_or_else(|| DerefError::ConfigMapMissing(format!("{name} (key {key})")))
        }
    }
}

/// The `resourceVersion` of Secret `name`, which must hold every one of `keys`.
async fn secret_version<'k>(
    secrets: &Api<Secret>,
    name: &str,
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<String, DerefError> {
    let secret = get_secret(secrets, name).await?;
    for key in keys {
        let present = secret.data.as_ref().is_some_and(|d| d.contains_key(key))
            || secret
                .string_data
                .as_ref()
                .is_some_and(|d| d.contains_key(key));
        if !present {
            return Err(DerefError::KeyMissing {
                name: name.to_owned(),
                key: key.to_owned(),
            });
        }
    }
    Ok(secret.resource_version().unwrap_or_default())
}
