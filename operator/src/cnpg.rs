//! CloudNativePG mode: a `DatabaseRole` and a `Database` (CloudNativePG 1.30+) declared on an
//! existing `Cluster`, applied as dynamic objects (the operator does not depend on CloudNativePG's
//! types), plus the role's basic-auth password Secret that CloudNativePG reads. CloudNativePG does
//! the SQL; the operator waits until both resources report `status.applied: true`.
//!
//! Reclaim policies mirror `deletionPolicy`, so deleting the resources drops the database and role
//! only under `Delete`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::DynamicObject;
use kube::core::{ApiResource, GroupVersionKind};
use madbase_crds::DeletionPolicy;

use crate::apply::managed_labels;
use crate::validate::{DatabasePlan, ValidatedProject};

/// CloudNativePG's `Database` kind.
pub fn database_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Database"),
        "databases",
    )
}

/// CloudNativePG's `DatabaseRole` kind.
pub fn database_role_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "DatabaseRole"),
        "databaseroles",
    )
}

/// Name of the `Database` and `DatabaseRole` resources (unique in the cluster's namespace even
/// when projects from many namespaces share one cluster).
pub fn resource_name(project: &ValidatedProject) -> String {
    format!("mb-{}-{}", project.namespace, project.name)
}

/// `Database` and `DatabaseRole` for a `cnpg` project, or `None` for other modes.
pub fn build(project: &ValidatedProject, owner: &OwnerReference) -> Option<[DynamicObject; 2]> {
    let DatabasePlan::Cnpg {
        cluster,
        cluster_namespace,
        database,
        role,
        password_secret_name,
        ..
    } = &project.database
    else {
        return None;
    };
    let policy = match project.deletion_policy {
        DeletionPolicy::Retain => "retain",
        DeletionPolicy::Delete => "delete",
    };
    // Owner references cannot cross namespaces; across namespaces the finalizer cleans up.
    let owners = (cluster_namespace == &project.namespace).then(|| vec![owner.clone()]);
    let meta = || ObjectMeta {
        name: Some(resource_name(project)),
        namespace: Some(cluster_namespace.clone()),
        labels: Some(managed_labels(&project.name)),
        owner_references: owners.clone(),
        ..ObjectMeta::default()
    };
    let mut role_object = DynamicObject::new(&resource_name(project), &database_role_resource());
    role_object.metadata = meta();
    role_object.data = serde_json::json!({
        "spec": {
            "cluster": {"name": cluster},
            "name": role,
            "ensure": "present",
            "login": true,
            "passwordSecret": {"name": password_secret_name},
            "databaseRoleReclaimPolicy": policy,
        }
    });
    let mut db_object = DynamicObject::new(&resource_name(project), &database_resource());
    db_object.metadata = meta();
    db_object.data = serde_json::json!({
        "spec": {
            "cluster": {"name": cluster},
            "name": database,
            "owner": role,
            "ensure": "present",
            "databaseReclaimPolicy": policy,
        }
    });
    Some([role_object, db_object])
}

/// Whether CloudNativePG reports the object as applied, and its message otherwise.
pub fn applied(object: &DynamicObject) -> Result<(), String> {
    let status = object.data.get("status");
    match status
        .and_then(|s| s.get("applied"))
        .and_then(|a| a.as_bool())
    {
        Some(true) => Ok(()),
        _ => Err(status
            .and_then(|s| s.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| "not applied yet".into())),
    }
}

/// The data plane's URL for a CloudNativePG database: the cluster's read-write Service.
pub fn project_url(
    cluster: &str,
    cluster_namespace: &str,
    database: &str,
    role: &str,
    password: &str,
) -> String {
    format!("postgres://{role}:{password}@{cluster}-rw.{cluster_namespace}.svc:5432/{database}")
}
