//! CloudNativePG mode. The project's login role is declared in the referenced `Cluster`'s
//! `spec.managed.roles` (reported back in `status.managedRolesStatus`), its database as a
//! `postgresql.cnpg.io/v1` `Database` resource (reported back in `status.applied`), and the role's
//! password lives in a `kubernetes.io/basic-auth` Secret next to the cluster that CloudNativePG
//! reads. CloudNativePG runs the SQL; this module declares, waits and cleans up, and never
//! touches a role entry it did not write.
//!
//! Roles go into the `Cluster` rather than a `DatabaseRole` resource so that the mode works on
//! every CloudNativePG release that has the `Database` resource (1.25 and later), not only on
//! those that also ship `DatabaseRole` (1.30 and later).
//!
//! The `Cluster` CRD declares `spec.managed.roles` as a plain array (no
//! `x-kubernetes-list-type: map`), so for server-side apply it is atomic: applying our entry
//! would replace every entry written by other managers. The list is therefore changed with a
//! read-modify-write — a JSON merge patch of the whole list carrying the `resourceVersion` that
//! was read — and retried from a fresh read when the API server answers 409 Conflict.
//!
//! The operator does not depend on CloudNativePG's Rust types: everything is a dynamic object.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client, ResourceExt};
use madbase_crds::{DeletionPolicy, naming};
use serde_json::{Value, json};

use crate::apply::{
    FIELD_MANAGER, apply_dynamic, is_managed, is_not_found, managed_labels, project_mark,
};
use crate::validate::{DatabasePlan, ValidatedProject};

/// Keys of the operator's own role entry that survive its rewrite when someone set them.
const KEPT_ROLE_KEYS: [&str; 3] = ["connectionLimit", "validUntil", "inherit"];

/// How often a role-list write is retried after a 409 Conflict before the reconcile gives up
/// (and is retried with backoff).
pub const ROLE_WRITE_ATTEMPTS: usize = 5;

/// Keys of a `spec.managed.roles` entry the operator may set; when it rewrites its own entry
/// only [`KEPT_ROLE_KEYS`] of the others stay. `inherit`, which the API server defaults, is
/// compared only where the operator sets it.
const ROLE_KEYS: [&str; 8] = [
    "name",
    "ensure",
    "login",
    "passwordSecret",
    "comment",
    "inRoles",
    "bypassrls",
    "disablePassword",
];

/// The comment on the entries of the Supabase layout's roles, which every MadBase project on a
/// cluster shares: the operator writes them when missing and never removes them.
pub const LAYOUT_COMMENT: &str = "madbase-operator: Supabase layout, shared by MadBase projects";

/// The roles API requests switch to; the owner and the data API's login are members.
const API_ROLES: [&str; 3] = ["anon", "authenticated", "service_role"];

/// The layout's roles as the data plane's first migration creates them, which it cannot do as
/// a project's owner (that takes CREATEROLE). CloudNativePG cannot set their per-role
/// `statement_timeout`s, and it brings a role of these names that exists already to these
/// attributes (a restored `supabase_admin` loses SUPERUSER, as the migration never grants it).
pub fn layout_entries() -> Vec<Value> {
    naming::LAYOUT_ROLES
        .iter()
        .map(|name| {
            let mut entry = json!({
                "name": name,
                "ensure": "present",
                "login": false,
                "inherit": false,
                "comment": LAYOUT_COMMENT,
            });
            match *name {
                "service_role" => entry["bypassrls"] = json!(true),
                // No password Secret: CloudNativePG then leaves the password as it finds it (a
                // new role gets none).
                "authenticator" => {
                    entry["login"] = json!(true);
                    entry["inRoles"] = json!(API_ROLES);
                }
                "supabase_admin" | "dashboard_user" => entry["inherit"] = json!(true),
                _ => {}
            }
            entry
        })
        .collect()
}

/// CloudNativePG's `Cluster` kind.
pub fn cluster_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Cluster"),
        "clusters",
    )
}

/// CloudNativePG's `Database` kind.
pub fn database_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Database"),
        "databases",
    )
}

/// Name of the `Database` resource (unique in the cluster's namespace even when projects from
/// many namespaces share one cluster).
pub fn resource_name(project: &ValidatedProject) -> String {
    format!("mb-{}-{}", project.namespace, project.name)
}

/// Whether the role should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensure {
    /// `ensure: present`, with login and the password Secret.
    Present,
    /// `ensure: absent`: CloudNativePG drops the role.
    Absent,
}

/// The project's entries in `spec.managed.roles`: its owner role and the data API's login,
/// both members of the API roles; with `Present`, after the layout's entries they need. An
/// absent role carries no password Secret, so CloudNativePG does not look for a Secret that is
/// about to go.
pub fn role_entries(project: &ValidatedProject, ensure: Ensure) -> Vec<Value> {
    let DatabasePlan::Cnpg {
        role,
        api_role,
        password_secret_name,
        api_password_secret_name,
        ..
    } = &project.database
    else {
        return Vec::new();
    };
    let comment = project_mark(project);
    match ensure {
        Ensure::Present => {
            let mut entries = layout_entries();
            entries.push(json!({
                "name": role,
                "ensure": "present",
                "login": true,
                "passwordSecret": {"name": password_secret_name},
                "inRoles": API_ROLES,
                "comment": comment,
            }));
            entries.push(json!({
                "name": api_role,
                "ensure": "present",
                "login": true,
                "inherit": false,
                "passwordSecret": {"name": api_password_secret_name},
                "inRoles": API_ROLES,
                "comment": comment,
            }));
            entries
        }
        Ensure::Absent => [api_role, role]
            .into_iter()
            .map(|name| json!({"name": name, "ensure": "absent", "comment": comment}))
            .collect(),
    }
}

/// Why a role entry cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "role {role} is already declared in spec.managed.roles of Cluster {cluster} by someone else; \
     choose another spec.database.cnpg.databaseName or remove that entry"
)]
pub struct RoleConflict {
    /// Role name.
    pub role: String,
    /// `namespace/name` of the cluster.
    pub cluster: String,
}

/// Pure: the role list with `entries` merged in, or `None` when the list already says what they
/// say. Entries of other roles are kept as they are, in order; new ones are appended. An entry of
/// the same name that lacks the project's comment belongs to someone else and is a conflict,
/// except for the layout's roles: any entry of theirs is left as it is.
pub fn merge_roles(
    roles: &[Value],
    entries: &[Value],
    cluster: &str,
) -> Result<Option<Vec<Value>>, RoleConflict> {
    let mut out = roles.to_vec();
    let mut changed = false;
    for entry in entries {
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let position = out
            .iter()
            .position(|r| r.get("name").and_then(Value::as_str) == Some(name));
        let Some(i) = position else {
            out.push(entry.clone());
            changed = true;
            continue;
        };
        let existing = &out[i];
        if existing.get("comment") != entry.get("comment") {
            if entry.get("comment") == Some(&json!(LAYOUT_COMMENT)) {
                continue;
            }
            return Err(RoleConflict {
                role: name.to_owned(),
                cluster: cluster.to_owned(),
            });
        }
        let same = ROLE_KEYS.iter().all(|k| existing.get(*k) == entry.get(*k))
            && (entry.get("inherit").is_none() || existing.get("inherit") == entry.get("inherit"));
        if !same {
            // A limit someone set on the role (`connectionLimit`, `validUntil`, a defaulted
            // `inherit`) stays; privileges (`superuser`, `createrole`, …) never carry over.
            let mut merged = entry.clone();
            if let (Some(to), Some(from)) = (merged.as_object_mut(), existing.as_object()) {
                for key in KEPT_ROLE_KEYS {
                    if let (Some(value), false) = (from.get(key), to.contains_key(key)) {
                        to.insert(key.to_owned(), value.clone());
                    }
                }
            }
            out[i] = merged;
            changed = true;
        }
    }
    Ok(changed.then_some(out))
}

/// Pure: the application database and its owner CloudNativePG made when `cluster` was
/// bootstrapped (`spec.bootstrap.initdb`, `recovery` or `pg_basebackup`; `app` by default).
pub fn bootstrap_names(cluster: &DynamicObject) -> (String, String) {
    let bootstrap = cluster.data.pointer("/spec/bootstrap");
    let method = ["initdb", "recovery", "pg_basebackup"]
        .iter()
        .find_map(|m| bootstrap.and_then(|b| b.get(*m)));
    let field = |name: &str| {
        method
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let database = field("database").unwrap_or_else(|| "app".to_owned());
    let owner = field("owner").unwrap_or_else(|| database.clone());
    (database, owner)
}

/// Pure: the roles declared in a `Cluster` object.
pub fn declared_roles(cluster: &DynamicObject) -> Vec<Value> {
    cluster
        .data
        .pointer("/spec/managed/roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// What CloudNativePG reports about one managed role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleState {
    /// Listed as `reconciled`: the database matches the entry.
    Reconciled,
    /// Listed under `cannotReconcile`, with CloudNativePG's reasons.
    CannotReconcile(String),
    /// Not reconciled yet (pending, or not reported).
    Pending,
}

/// Pure: the role's state from the `Cluster`'s `status.managedRolesStatus`.
pub fn role_state(cluster: &DynamicObject, role: &str) -> RoleState {
    let status = cluster.data.pointer("/status/managedRolesStatus");
    if let Some(errors) = status
        .and_then(|s| s.pointer("/cannotReconcile"))
        .and_then(|c| c.get(role))
        .and_then(Value::as_array)
    {
        let text: Vec<&str> = errors.iter().filter_map(Value::as_str).collect();
        return RoleState::CannotReconcile(text.join("; "));
    }
    let reconciled = status
        .and_then(|s| s.pointer("/byStatus/reconciled"))
        .and_then(Value::as_array)
        .is_some_and(|names| names.iter().any(|n| n.as_str() == Some(role)));
    if reconciled {
        RoleState::Reconciled
    } else {
        RoleState::Pending
    }
}

/// The `Database` for a `cnpg` project, or `None` for other modes. Its reclaim policy mirrors
/// `deletionPolicy`, so deleting it drops the database only under `Delete`.
pub fn database(project: &ValidatedProject, owner: &OwnerReference) -> Option<DynamicObject> {
    let DatabasePlan::Cnpg {
        cluster,
        cluster_namespace,
        database,
        role,
        ..
    } = &project.database
    else {
        return None;
    };
    let policy = match project.deletion_policy {
        DeletionPolicy::Retain => "retain",
        DeletionPolicy::Delete => "delete",
    };
    let mut object = DynamicObject::new(&resource_name(project), &database_resource());
    object.metadata = ObjectMeta {
        name: Some(resource_name(project)),
        namespace: Some(cluster_namespace.clone()),
        labels: Some(managed_labels(&project.name)),
        // Owner references cannot cross namespaces; across namespaces the finalizer cleans up.
        owner_references: (cluster_namespace == &project.namespace).then(|| vec![owner.clone()]),
        ..ObjectMeta::default()
    };
    object.data = json!({
        "spec": {
            "cluster": {"name": cluster},
            "name": database,
            "owner": role,
            "ensure": "present",
            "databaseReclaimPolicy": policy,
        }
    });
    Some(object)
}

/// Pure: whether CloudNativePG applied the current generation of a `Database`, and its message
/// otherwise.
pub fn database_applied(object: &DynamicObject) -> Result<(), String> {
    let status = object.data.get("status");
    let applied = status
        .and_then(|s| s.get("applied"))
        .and_then(Value::as_bool);
    let observed = status
        .and_then(|s| s.get("observedGeneration"))
        .and_then(Value::as_i64);
    let current = match (observed, object.metadata.generation) {
        (Some(o), Some(g)) => o >= g,
        // Without generations (older servers, fakes) `applied` alone decides.
        _ => true,
    };
    match applied {
        Some(true) if current => Ok(()),
        _ => Err(status
            .and_then(|s| s.get("message"))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
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

/// What a pass over the CloudNativePG resources found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CnpgState {
    /// Role and database are applied.
    Ready,
    /// Waiting on CloudNativePG or on the cluster; a condition reason and a message for status.
    Waiting(&'static str, String),
}

/// Errors of the CloudNativePG step.
#[derive(Debug, thiserror::Error)]
pub enum CnpgError {
    /// Someone else declared the role.
    #[error(transparent)]
    RoleConflict(#[from] RoleConflict),
    /// The project names the database or owner CloudNativePG made at the Cluster's bootstrap.
    #[error(
        "{0} is the one CloudNativePG made when Cluster {1} was bootstrapped; choose another spec.database.cnpg.databaseName"
    )]
    Bootstrap(String, String),
    /// Every attempt to write the role list met a concurrent change.
    #[error(
        "spec.managed.roles of Cluster {0} kept changing under the operator ({ROLE_WRITE_ATTEMPTS} conflicts); retrying later"
    )]
    TooManyConflicts(String),
    /// The API server failed.
    #[error("CloudNativePG resources: {0}")]
    Kube(#[from] kube::Error),
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(e) if e.code == 409)
}

/// Puts `entries` into the cluster's role list unless they are there already, re-reading and
/// retrying on 409 Conflict. Returns the `Cluster` as last read or written, or `None` when the
/// cluster does not exist.
pub async fn ensure_role_entries(
    api: &Api<DynamicObject>,
    cluster: &str,
    entries: &[Value],
) -> Result<Option<DynamicObject>, CnpgError> {
    let label = format!("{}/{cluster}", api_namespace(api));
    for _ in 0..ROLE_WRITE_ATTEMPTS {
        let current = match api.get_opt(cluster).await {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            // The Cluster kind itself is unknown: CloudNativePG is not installed.
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(roles) = merge_roles(&declared_roles(&current), entries, &label)? else {
            return Ok(Some(current));
        };
        // A merge patch replaces the whole list; the resourceVersion makes the API server refuse
        // it if anyone changed the Cluster since the read above.
        let patch = json!({
            "metadata": {"resourceVersion": current.resource_version()},
            "spec": {"managed": {"roles": roles}},
        });
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        match api.patch(cluster, &params, &Patch::Merge(&patch)).await {
            Ok(written) => return Ok(Some(written)),
            Err(e) if is_conflict(&e) => {
                tracing::debug!(cluster = %label, "role list changed concurrently; re-reading");
            }
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Err(CnpgError::TooManyConflicts(label))
}

fn api_namespace(api: &Api<DynamicObject>) -> String {
    api.namespace().unwrap_or_default().to_owned()
}

/// Declares the role and the database and reports whether CloudNativePG applied both. The
/// password Secret must exist already (the caller creates it once).
pub async fn ensure(
    client: &Client,
    project: &ValidatedProject,
    owner: &OwnerReference,
) -> Result<CnpgState, CnpgError> {
    let (
        Some(db_object),
        DatabasePlan::Cnpg {
            cluster,
            cluster_namespace,
            ..
        },
    ) = (database(project, owner), &project.database)
    else {
        return Ok(CnpgState::Ready);
    };
    let entries = role_entries(project, Ensure::Present);
    let clusters: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), cluster_namespace, &cluster_resource());
    // The Cluster's own application database and owner are not the operator's to adopt: a
    // role entry would reset the owner's password, the Database would take over the database.
    let current = match clusters.get_opt(cluster).await {
        Ok(c) => c,
        // The Cluster kind itself is unknown: handled with a missing Cluster below.
        Err(e) if is_not_found(&e) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(current) = current {
        let (app_database, app_owner) = bootstrap_names(&current);
        let label = format!("{cluster_namespace}/{cluster}");
        if let DatabasePlan::Cnpg { database, role, .. } = &project.database {
            if database == &app_database {
                return Err(CnpgError::Bootstrap(format!("database {database}"), label));
            }
            if role == &app_owner {
                return Err(CnpgError::Bootstrap(format!("role {role}"), label));
            }
        }
    }
    let Some(cluster_object) = ensure_role_entries(&clusters, cluster, &entries).await? else {
        return Ok(CnpgState::Waiting(
            "ClusterNotFound",
            format!(
                "CloudNativePG Cluster {cluster_namespace}/{cluster} does not exist (or CloudNativePG is not installed)"
            ),
        ));
    };
    let db_applied = apply_dynamic(client, &database_resource(), &db_object).await?;
    // Every role the data plane needs, the layout's included: its migrations run as the owner.
    for role in entries.iter().filter_map(|e| e.get("name")?.as_str()) {
        match role_state(&cluster_object, role) {
            RoleState::Reconciled => {}
            RoleState::CannotReconcile(why) => {
                return Ok(CnpgState::Waiting(
                    "RoleNotReconciled",
                    format!("CloudNativePG cannot reconcile role {role}: {why}"),
                ));
            }
            RoleState::Pending => {
                return Ok(CnpgState::Waiting(
                    "WaitingForRole",
                    format!(
                        "waiting for CloudNativePG to create role {role} in Cluster {cluster_namespace}/{cluster}"
                    ),
                ));
            }
        }
    }
    match database_applied(&db_applied) {
        Ok(()) => Ok(CnpgState::Ready),
        Err(message) => Ok(CnpgState::Waiting(
            "WaitingForDatabase",
            format!(
                "waiting for CloudNativePG to apply Database {cluster_namespace}/{}: {message}",
                resource_name(project)
            ),
        )),
    }
}

/// Under `Delete`: removes the `Database` (its reclaim policy `delete` makes CloudNativePG drop
/// the database), and once it is gone sets the role to `ensure: absent`, because PostgreSQL
/// refuses to drop a role that still owns a database. Returns `Waiting` while CloudNativePG is
/// still dropping the database.
pub async fn cleanup_delete(
    client: &Client,
    project: &ValidatedProject,
) -> Result<CnpgState, CnpgError> {
    let DatabasePlan::Cnpg {
        cluster,
        cluster_namespace,
        database,
        ..
    } = &project.database
    else {
        return Ok(CnpgState::Ready);
    };
    let entries = role_entries(project, Ensure::Absent);
    let databases: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), cluster_namespace, &database_resource());
    let name = resource_name(project);
    let existing = match databases.get_opt(&name).await {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(object) = existing.filter(|o| is_managed(o.labels(), &project.name)) {
        // Make sure the policy says delete even if the last apply predates the policy change.
        if object.data.pointer("/spec/databaseReclaimPolicy") != Some(&json!("delete")) {
            let patch = json!({"spec": {"databaseReclaimPolicy": "delete"}});
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            };
            databases
                .patch(&name, &params, &Patch::Merge(&patch))
                .await?;
        }
        if object.metadata.deletion_timestamp.is_none() {
            match databases.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // CloudNativePG's finalizer keeps the object until the database is dropped.
        if databases.get_opt(&name).await?.is_some() {
            return Ok(CnpgState::Waiting(
                "DroppingDatabase",
                format!("waiting for CloudNativePG to drop database {database}"),
            ));
        }
    }
    let clusters: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), cluster_namespace, &cluster_resource());
    match ensure_role_entries(&clusters, cluster, &entries).await {
        Ok(_) => Ok(CnpgState::Ready),
        // Someone else owns an entry of that name now: it is not the operator's to drop.
        Err(CnpgError::RoleConflict(_)) => Ok(CnpgState::Ready),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[path = "cnpg_tests.rs"]
mod tests;
