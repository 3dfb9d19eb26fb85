//! The one finalizer, `madbase.io/cleanup`: added before anything outside Kubernetes is created,
//! removed only after the database, role and bucket were dropped (`Delete`) or deliberately kept
//! (`Retain`). Everything inside Kubernetes goes through owner references and garbage collection.
//!
//! The finalizer list is written with a JSON merge patch carrying `resourceVersion`, so a
//! concurrent change makes the write fail with 409 instead of clobbering someone else's finalizer.

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use madbase_crds::MadBaseProject;

/// The operator's finalizer.
pub const FINALIZER: &str = "madbase.io/cleanup";

/// Whether the project carries the finalizer.
pub fn has(project: &MadBaseProject) -> bool {
    project.finalizers().iter().any(|f| f == FINALIZER)
}

fn patch(project: &MadBaseProject, finalizers: Vec<String>) -> serde_json::Value {
    serde_json::json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": project.resource_version(),
        }
    })
}

/// Adds the finalizer if missing; returns whether a write happened.
pub async fn add(api: &Api<MadBaseProject>, project: &MadBaseProject) -> Result<bool, kube::Error> {
    if has(project) {
        return Ok(false);
    }
    let mut finalizers = project.finalizers().to_vec();
    finalizers.push(FINALIZER.into());
    api.patch(
        &project.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch(project, finalizers)),
    )
    .await?;
    Ok(true)
}

/// Removes the finalizer, leaving any others in place.
pub async fn remove(
    api: &Api<MadBaseProject>,
    project: &MadBaseProject,
) -> Result<(), kube::Error> {
    let finalizers: Vec<String> = project
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    match api
        .patch(
            &project.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch(project, finalizers)),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Already gone: the last finalizer was ours.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
