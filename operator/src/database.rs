//! The database step: checks an `external` URL, provisions a `shared` role and database, or
//! declares the role and database on a CloudNativePG cluster for `cnpg` (see [`crate::cnpg`]);
//! writes the data plane's URL Secret (`<name>-db`) once; and, from the finalizer, removes what
//! `deletionPolicy: Delete` asks to remove.
//!
//! Passwords are generated once and kept in Secrets; a reconcile reuses them, so the data plane's
//! URL never changes under it.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use madbase_crds::{DatabaseStatus, DeletionPolicy};

use crate::apply::{FIELD_MANAGER, delete_if_managed, is_managed, managed_labels, project_mark};
use crate::cnpg::{self, CnpgError, CnpgState};
use crate::keys::secret_value;
use crate::postgres::{Claim, Login, Postgres, PostgresError, project_url, random_password};
use crate::validate::{API_PASSWORD_KEY, DatabasePlan, ValidatedProject};

/// Key of the database Secret naming the data API's login role.
pub const API_USERNAME_KEY: &str = "api-username";

/// Errors of the database step.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// PostgreSQL refused or could not be reached.
    #[error(transparent)]
    Postgres(#[from] PostgresError),
    /// Reading or writing Kubernetes objects failed.
    #[error("database objects: {0}")]
    Kube(#[from] kube::Error),
    /// Declaring the CloudNativePG role or database failed.
    #[error(transparent)]
    Cnpg(#[from] CnpgError),
    /// A Secret the operator would write exists and is not this project's.
    #[error(
        "Secret {0} exists and was not made by the operator for this project; remove it or choose another databaseName"
    )]
    SecretConflict(String),
}

impl DatabaseError {
    /// Condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            DatabaseError::Postgres(PostgresError::Unreachable(_)) => "DatabaseUnreachable",
            DatabaseError::Postgres(PostgresError::InvalidUrl(_)) => "InvalidConnectionUrl",
            DatabaseError::Postgres(_) => "ProvisioningFailed",
            DatabaseError::Kube(_) | DatabaseError::Cnpg(CnpgError::Kube(_)) => "KubernetesError",
            DatabaseError::Cnpg(CnpgError::RoleConflict(_) | CnpgError::Bootstrap(..)) => {
                "RoleConflict"
            }
            DatabaseError::Cnpg(CnpgError::TooManyConflicts(_)) => "ClusterUpdateConflict",
            DatabaseError::SecretConflict(_) => "SecretConflict",
        }
    }
}

/// Where the database step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseState {
    /// The data plane can connect.
    Ready,
    /// Waiting for someone else (CloudNativePG) to finish: condition reason and message.
    Waiting(&'static str, String),
}

/// What the status reports about the database.
pub fn status(project: &ValidatedProject) -> DatabaseStatus {
    let (name, role) = match &project.database {
        DatabasePlan::External { .. } => (None, None),
        DatabasePlan::Shared { database, role, .. } | DatabasePlan::Cnpg { database, role, .. } => {
            (Some(database.clone()), Some(role.clone()))
        }
    };
    DatabaseStatus {
        mode: project.database.mode().into(),
        name,
        role,
        secret_name: Some(project.database.url_secret().0),
    }
}

fn secret(
    name: &str,
    namespace: &str,
    project: &str,
    owner: Option<&OwnerReference>,
    type_: &str,
    data: BTreeMap<String, String>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(managed_labels(project)),
            owner_references: owner.map(|o| vec![o.clone()]),
            ..ObjectMeta::default()
        },
        type_: Some(type_.into()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// Creates `secret` unless a Secret of that name exists; returns the stored Secret.
async fn create_once(client: &Client, secret: Secret) -> Result<Secret, DatabaseError> {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let existing = match api.get_opt(&name).await? {
        Some(existing) => existing,
        None => {
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PostParams::default()
            };
            match api.create(&params, &secret).await {
                Ok(created) => return Ok(created),
                Err(kube::Error::Api(e)) if e.code == 409 => api.get(&name).await?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    // Names in a CloudNativePG cluster's namespace are `<namespace>-<name>-…`, which two
    // projects can share (`a-b`/`c` and `a`/`b-c`): a Secret another project made, or anyone
    // else, is never read as this project's.
    let project = secret.labels().get("madbase.io/project").cloned();
    match project {
        Some(p) if is_managed(existing.labels(), &p) => Ok(existing),
        _ => Err(DatabaseError::SecretConflict(format!("{namespace}/{name}"))),
    }
}

/// Adds `data` to the existing Secret `name` where its keys are missing (a Secret written
/// before those keys existed); creates the Secret when there is none.
async fn create_or_complete(client: &Client, secret: Secret) -> Result<(), DatabaseError> {
    let existing = create_once(client, secret.clone()).await?;
    let have = existing.data.unwrap_or_default();
    let missing: BTreeMap<String, ByteString> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !have.contains_key(k))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let namespace = secret.metadata.namespace.unwrap_or_default();
    let name = secret.metadata.name.unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": existing.metadata.resource_version },
        "data": missing,
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    api.patch(&name, &params, &Patch::Merge(&patch)).await?;
    Ok(())
}

/// Runs the database step.
pub async fn ensure(
    client: &Client,
    postgres: &dyn Postgres,
    project: &ValidatedProject,
    owner: &OwnerReference,
) -> Result<DatabaseState, DatabaseError> {
    match &project.database {
        DatabasePlan::External { url, tls, .. } => {
            postgres.check(url.expose(), tls).await?;
            Ok(DatabaseState::Ready)
        }
        DatabasePlan::Shared {
            admin_url,
            host,
            port,
            database,
            role,
            api_role,
            secret_name,
            ..
        } => {
            // Passwords are kept: the role's must match what the pods read.
            let api: Api<Secret> = Api::namespaced(client.clone(), &project.namespace);
            let stored = api.get_opt(secret_name).await?;
            let kept = |key: &str| {
                (stored.as_ref())
                    .and_then(|s| secret_value(s, key))
                    .unwrap_or_else(random_password)
            };
            let (password, api_password) = (kept("password"), kept(API_PASSWORD_KEY));
            let marker = project_mark(project);
            let claim = Claim { marker: &marker };
            let owner_login = Login {
                role,
                password: &password,
            };
            let api_login = Login {
                role: api_role,
                password: &api_password,
            };
            postgres
                .provision(admin_url.expose(), database, owner_login, api_login, claim)
                .await?;
            let uri = project_url(
                admin_url.expose(),
                host.as_deref(),
                *port,
                database,
                role,
                &password,
            )?;
            create_or_complete(
                client,
                secret(
                    secret_name,
                    &project.namespace,
                    &project.name,
                    Some(owner),
                    "Opaque",
                    BTreeMap::from([
                        ("uri".to_owned(), uri),
                        ("username".to_owned(), role.clone()),
                        ("password".to_owned(), password),
                        ("database".to_owned(), database.clone()),
                        (API_USERNAME_KEY.to_owned(), api_role.clone()),
                        (API_PASSWORD_KEY.to_owned(), api_password),
                    ]),
                ),
            )
            .await?;
            Ok(DatabaseState::Ready)
        }
        DatabasePlan::Cnpg {
            cluster,
            cluster_namespace,
            database,
            role,
            api_role,
            secret_name,
            password_secret_name,
            api_password_secret_name,
        } => {
            // The roles' passwords, read by CloudNativePG from the cluster's namespace. Owned by
            // the project when it lives in the project's namespace (owner references cannot
            // cross namespaces; the finalizer handles the other case).
            let same_namespace = cluster_namespace == &project.namespace;
            let password_of = |name: &str, role: &str| {
                let wanted = secret(
                    name,
                    cluster_namespace,
                    &project.name,
                    same_namespace.then_some(owner),
                    "kubernetes.io/basic-auth",
                    BTreeMap::from([
                        ("username".to_owned(), role.to_owned()),
                        ("password".to_owned(), random_password()),
                    ]),
                );
                async move {
                    let stored = create_once(client, wanted).await?;
                    Ok::<_, DatabaseError>(secret_value(&stored, "password").unwrap_or_default())
                }
            };
            let password = password_of(password_secret_name, role).await?;
            let api_password = password_of(api_password_secret_name, api_role).await?;
            let state = cnpg::ensure(client, project, owner).await?;
            if let CnpgState::Waiting(reason, message) = state {
                return Ok(DatabaseState::Waiting(reason, message));
            }
            create_or_complete(
                client,
                secret(
                    secret_name,
                    &project.namespace,
                    &project.name,
                    Some(owner),
                    "Opaque",
                    BTreeMap::from([
                        (
                            "uri".to_owned(),
                            cnpg::project_url(
                                cluster,
                                cluster_namespace,
                                database,
                                role,
                                &password,
                            ),
                        ),
                        ("username".to_owned(), role.clone()),
                        ("password".to_owned(), password),
                        ("database".to_owned(), database.clone()),
                        (API_USERNAME_KEY.to_owned(), api_role.clone()),
                        (API_PASSWORD_KEY.to_owned(), api_password),
                    ]),
                ),
            )
            .await?;
            Ok(DatabaseState::Ready)
        }
    }
}

/// What the finalizer did with the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupOutcome {
    /// Nothing the operator owns outside Kubernetes (external mode).
    Nothing,
    /// Kept under `Retain`; the text names what was kept.
    Retained(String),
    /// Dropped under `Delete`; the text names what was dropped.
    Deleted(String),
    /// Still being dropped by someone else (CloudNativePG); the finalizer stays.
    Waiting(String),
}

/// Removes the database and role under `Delete`, keeps them under `Retain`.
pub async fn cleanup(
    client: &Client,
    postgres: &dyn Postgres,
    project: &ValidatedProject,
) -> Result<CleanupOutcome, DatabaseError> {
    let delete = project.deletion_policy == DeletionPolicy::Delete;
    match &project.database {
        DatabasePlan::External { .. } => Ok(CleanupOutcome::Nothing),
        DatabasePlan::Shared {
            admin_url,
            database,
            role,
            api_role,
            pool,
            ..
        } => {
            let what = format!("database {database} and roles {role}, {api_role} on pool {pool}");
            if delete {
                let marker = project_mark(project);
                let claim = Claim { marker: &marker };
                let roles = [api_role.as_str(), role.as_str()];
                postgres
                    .drop_database(admin_url.expose(), database, &roles, claim)
                    .await?;
                Ok(CleanupOutcome::Deleted(what))
            } else {
                Ok(CleanupOutcome::Retained(what))
            }
        }
        DatabasePlan::Cnpg {
            cluster,
            cluster_namespace,
            database,
            role,
            api_role,
            password_secret_name,
            api_password_secret_name,
            ..
        } => {
            let what = format!(
                "database {database} and roles {role}, {api_role} on CloudNativePG cluster {cluster_namespace}/{cluster}"
            );
            let secrets: Api<Secret> = Api::namespaced(client.clone(), cluster_namespace);
            let password_secrets = [password_secret_name, api_password_secret_name];
            if !delete {
                // The role entries stay in the Cluster and keep pointing at their password
                // Secrets, so those must outlive the project: drop the owner references that
                // would let garbage collection remove them.
                for name in password_secrets {
                    orphan_if_managed(&secrets, name, &project.name).await?;
                }
                return Ok(CleanupOutcome::Retained(what));
            }
            if let CnpgState::Waiting(_, message) = cnpg::cleanup_delete(client, project).await? {
                return Ok(CleanupOutcome::Waiting(message));
            }
            for name in password_secrets {
                delete_if_managed(&secrets, name, &project.name).await?;
            }
            Ok(CleanupOutcome::Deleted(what))
        }
    }
}

/// Removes owner references from a Secret the operator created for `project`, so garbage
/// collection keeps it after the project is gone.
async fn orphan_if_managed(
    api: &Api<Secret>,
    name: &str,
    project: &str,
) -> Result<(), kube::Error> {
    let Some(existing) = api.get_opt(name).await? else {
        return Ok(());
    };
    if !is_managed(existing.labels(), project) || existing.metadata.owner_references.is_none() {
        return Ok(());
    }
    let patch = serde_json::json!({
        "metadata": {
            "ownerReferences": null,
            "resourceVersion": existing.metadata.resource_version,
        }
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    Ok(())
}
