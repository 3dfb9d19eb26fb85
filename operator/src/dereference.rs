//! Dereference: reads the Secrets a project references (bring-your-own JWT secret, external
//! database URL, S3 credentials) so that validation and build can stay pure.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};
use madbase_crds::MadBaseProject;

use crate::keys::secret_value;
use crate::operator_config::SecretString;
use crate::validate::Referenced;

/// Errors of the dereference step.
#[derive(Debug, thiserror::Error)]
pub enum DerefError {
    /// A referenced Secret does not exist.
    #[error("Secret {0} not found")]
    SecretMissing(String),
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

async fn read(api: &Api<Secret>, name: &str, key: &str) -> Result<SecretString, DerefError> {
    let secret = api
        .get_opt(name)
        .await?
        .ok_or_else(|| DerefError::SecretMissing(name.to_owned()))?;
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
    Ok(referenced)
}
