//! Apply: server-side apply of built objects with the operator's field manager (forcing conflicts,
//! as controllers should), the labels every managed object carries, owner references, and the
//! removal of objects a project no longer wants (an Ingress after switching to HTTPRoute, a
//! PodDisruptionBudget after scaling below two).

use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use kube::{Api, Client, Resource, ResourceExt};
use madbase_crds::MadBaseProject;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Field manager of everything the operator writes.
pub const FIELD_MANAGER: &str = "madbase-operator";

/// `app.kubernetes.io/managed-by` value on every object the operator creates.
pub const MANAGED_BY: &str = "madbase-operator";

/// The comment on what the operator makes for a project outside Kubernetes: CloudNativePG role
/// entries and, on a pool, roles and databases. It marks them as the project's, so an object of
/// the same name made by anyone else is never taken over.
pub fn project_mark(project: &crate::validate::ValidatedProject) -> String {
    format!(
        "{MANAGED_BY}: project {}/{}",
        project.namespace, project.name
    )
}

/// Labels on every object the operator manages for a project.
pub fn managed_labels(project: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "madbase".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), project.to_owned()),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGED_BY.to_owned(),
        ),
        ("madbase.io/project".to_owned(), project.to_owned()),
    ])
}

/// Labels selecting a project's data-plane pods (stable: never add to them, selectors are
/// immutable).
pub fn selector_labels(project: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "madbase".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), project.to_owned()),
    ])
}

/// Whether an object's labels say the operator created it for `project`.
pub fn is_managed(labels: &BTreeMap<String, String>, project: &str) -> bool {
    labels
        .get("app.kubernetes.io/managed-by")
        .map(String::as_str)
        == Some(MANAGED_BY)
        && labels.get("madbase.io/project").map(String::as_str) == Some(project)
}

/// Owner reference making the project the controller of a derived object, so Kubernetes garbage
/// collection removes the object with the project.
pub fn owner_reference(project: &MadBaseProject) -> OwnerReference {
    OwnerReference {
        api_version: MadBaseProject::api_version(&()).into_owned(),
        kind: MadBaseProject::kind(&()).into_owned(),
        name: project.name_any(),
        uid: project.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Server-side applies a typed object in its namespace and returns what the API server stored.
pub async fn apply<K>(client: &Client, object: &K) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug,
{
    let namespace = object.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), &namespace);
    api.patch(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
}

/// Server-side applies an object of a kind the operator has no Rust type for (CloudNativePG,
/// Gateway API).
pub async fn apply_dynamic(
    client: &Client,
    resource: &ApiResource,
    object: &DynamicObject,
) -> Result<DynamicObject, kube::Error> {
    let namespace = object.namespace().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, resource);
    api.patch(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
}

/// Whether an error means "no such object" or "no such kind" (e.g. Gateway API not installed).
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(e) if e.code == 404)
}

/// Deletes `name` if it exists and carries the project's managed-by labels (never someone else's
/// object that happens to share the name). Returns whether something was deleted.
pub async fn delete_if_managed<K>(
    api: &Api<K>,
    name: &str,
    project: &str,
) -> Result<bool, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let existing = match api.get_opt(name).await {
        Ok(Some(o)) => o,
        Ok(None) => return Ok(false),
        Err(e) if is_not_found(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    if !is_managed(existing.labels(), project) {
        return Ok(false);
    }
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}
