//! The database step: checks an `external` URL, provisions a `shared` role and database, or
//! declares CloudNativePG resources for `cnpg`; writes the data plane's URL Secret (`<name>-db`)
//! once; and, from the finalizer, removes what `deletionPolicy: Delete` asks to remove.
//!
//! Passwords are generated once and kept in Secrets; a reconcile reuses them, so the data plane's
//! URL never changes under it.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DynamicObject, PostParams};
use kube::{Api, Client};
use madbase_crds::{DatabaseStatus, DeletionPolicy};

use crate::apply::{FIELD_MANAGER, apply_dynamic, delete_if_managed, managed_labels};
use crate::cnpg;
use crate::keys::secret_value;
use crate::postgres::{Postgres, PostgresError, project_url, random_password};
use crate::validate::{DatabasePlan, ValidatedProject};

/// Errors of the database step.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// PostgreSQL refused or could not be reached.
    #[error(transparent)]
    Postgres(#[from] PostgresError),
    /// Reading or writing Kubernetes objects failed.
    #[error("database objects: {0}")]
    Kube(#[from] kube::Error),
}

impl DatabaseError {
    /// Condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            DatabaseError::Postgres(PostgresError::Unreachable(_)) => "DatabaseUnreachable",
            DatabaseError::Postgres(PostgresError::InvalidUrl(_)) => "InvalidConnectionUrl",
            DatabaseError::Postgres(_) => "ProvisioningFailed",
            DatabaseError::Kube(_) => "KubernetesError",
        }
    }
}

/// Where the database step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseState {
    /// The data plane can connect.
    Ready,
    /// Waiting for someone else (CloudNativePG) to finish.
    Waiting(String),
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
async fn create_once(client: &Client, secret: Secret) -> Result<Secret, kube::Error> {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    if let Some(existing) = api.get_opt(&name).await? {
        return Ok(existing);
    }
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api.create(&params, &secret).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(&name).await,
        Err(e) => Err(e),
    }
}

/// The password stored in an existing URL Secret, or a new one.
async fn existing_password(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<String, kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .get_opt(name)
        .await?
        .and_then(|s| secret_value(&s, "password"))
        .unwrap_or_else(random_password))
}

/// Runs the database step.
pub async fn ensure(
    client: &Client,
    postgres: &dyn Postgres,
    project: &ValidatedProject,
    owner: &OwnerReference,
) -> Result<DatabaseState, DatabaseError> {
    match &project.database {
        DatabasePlan::External { url, .. } => {
            postgres.check(url.expose()).await?;
            Ok(DatabaseState::Ready)
        }
        DatabasePlan::Shared {
            admin_url,
            host,
            port,
            database,
            role,
            secret_name,
            ..
        } => {
            let password = existing_password(client, &project.namespace, secret_name).await?;
            postgres
                .provision(admin_url.expose(), database, role, &password)
                .await?;
            let uri = project_url(
                admin_url.expose(),
                host.as_deref(),
                *port,
                database,
                role,
                &password,
            )?;
            create_once(
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
            secret_name,
            password_secret_name,
        } => {
            let same_namespace = cluster_namespace == &project.namespace;
            let password_secret = create_once(
                client,
                secret(
                    password_secret_name,
                    cluster_namespace,
                    &project.name,
                    same_namespace.then_some(owner),
                    "kubernetes.io/basic-auth",
                    BTreeMap::from([
                        ("username".to_owned(), role.clone()),
                        ("password".to_owned(), random_password()),
                    ]),
                ),
            )
            .await?;
            let password = secret_value(&password_secret, "password").unwrap_or_default();
            let Some([role_object, db_object]) = cnpg::build(project, owner) else {
                return Ok(DatabaseState::Waiting("not a cnpg project".into()));
            };
            let role_applied =
                apply_dynamic(client, &cnpg::database_role_resource(), &role_object).await?;
            let db_applied = apply_dynamic(client, &cnpg::database_resource(), &db_object).await?;
            create_once(
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
                    ]),
                ),
            )
            .await?;
            match (cnpg::applied(&role_applied), cnpg::applied(&db_applied)) {
                (Ok(()), Ok(())) => Ok(DatabaseState::Ready),
                (Err(m), _) => Ok(DatabaseState::Waiting(format!("DatabaseRole: {m}"))),
                (_, Err(m)) => Ok(DatabaseState::Waiting(format!("Database: {m}"))),
            }
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
            pool,
            ..
        } => {
            let what = format!("database {database} and role {role} on pool {pool}");
            if delete {
                postgres
                    .drop_database(admin_url.expose(), database, role)
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
            password_secret_name,
            ..
        } => {
            let what = format!(
                "database {database} and role {role} on CloudNativePG cluster {cluster_namespace}/{cluster}"
            );
            if !delete {
                return Ok(CleanupOutcome::Retained(what));
            }
            // The reclaim policy on these resources is `delete`, so CloudNativePG drops the
            // database and role when they go.
            let name = cnpg::resource_name(project);
            for resource in [cnpg::database_resource(), cnpg::database_role_resource()] {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), cluster_namespace, &resource);
                delete_if_managed(&api, &name, &project.name).await?;
            }
            let secrets: Api<Secret> = Api::namespaced(client.clone(), cluster_namespace);
            delete_if_managed(&secrets, password_secret_name, &project.name).await?;
            Ok(CleanupOutcome::Deleted(what))
        }
    }
}
