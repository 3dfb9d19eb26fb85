//! Status: conditions and phase computed (purely) from what each step observed, merged with the
//! previous status so that `lastTransitionTime` only moves when a condition's status flips, and
//! written with server-side apply to the status subresource only when something changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use madbase_crds::{
    DataPlaneStatus, DatabaseStatus, LocalObjectRef, MadBaseProject, MadBaseProjectStatus, Phase,
    StorageStatus,
};

use crate::apply::FIELD_MANAGER;

/// Condition types, in the order they are reported.
pub const CONDITION_TYPES: [&str; 6] = [
    "Ready",
    "KeysReady",
    "DatabaseReady",
    "StorageReady",
    "DataPlaneAvailable",
    "ReconciliationPaused",
];

/// What one step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    /// Not looked at in this reconcile (an earlier step failed, or paused).
    Unknown,
    /// Done.
    Ready(&'static str, String),
    /// Not done yet, or failed in a way that retrying may fix.
    NotReady(&'static str, String),
    /// Needs a change by the user (invalid spec, missing Secret).
    Failed(&'static str, String),
}

impl StepState {
    fn is_ready(&self) -> bool {
        matches!(self, StepState::Ready(..))
    }
}

/// Everything status is computed from.
#[derive(Debug, Clone)]
pub struct Observation {
    /// `metadata.generation` reconciled.
    pub generation: Option<i64>,
    /// `spec.paused`.
    pub paused: bool,
    /// `spec.stopped`.
    pub stopped: bool,
    /// Validation result (Failed on an invalid spec).
    pub spec: StepState,
    /// Keys step.
    pub keys: StepState,
    /// Database step.
    pub database: StepState,
    /// Bucket step.
    pub storage: StepState,
    /// Deployment availability.
    pub data_plane: StepState,
    /// Public base URL, once known.
    pub endpoint: Option<String>,
    /// Keys Secret name, once it exists.
    pub keys_secret: Option<String>,
    /// Database summary.
    pub database_status: Option<DatabaseStatus>,
    /// Bucket summary.
    pub storage_status: Option<StorageStatus>,
    /// Deployment summary.
    pub data_plane_status: Option<DataPlaneStatus>,
}

impl Observation {
    /// Nothing observed yet for `generation`.
    pub fn new(generation: Option<i64>, paused: bool, stopped: bool) -> Self {
        Self {
            generation,
            paused,
            stopped,
            spec: StepState::Unknown,
            keys: StepState::Unknown,
            database: StepState::Unknown,
            storage: StepState::Unknown,
            data_plane: StepState::Unknown,
            endpoint: None,
            keys_secret: None,
            database_status: None,
            storage_status: None,
            data_plane_status: None,
        }
    }
}

fn condition(type_: &str, state: &StepState, generation: Option<i64>, now: &Time) -> Condition {
    let (status, reason, message) = match state {
        StepState::Unknown => ("Unknown", "NotObserved", String::new()),
        StepState::Ready(r, m) => ("True", *r, m.clone()),
        StepState::NotReady(r, m) | StepState::Failed(r, m) => ("False", *r, m.clone()),
    };
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// Keeps the previous `lastTransitionTime` when the status did not flip.
fn merge(previous: &[Condition], mut next: Condition) -> Condition {
    if let Some(prev) = previous.iter().find(|c| c.type_ == next.type_)
        && prev.status == next.status
    {
        next.last_transition_time = prev.last_transition_time.clone();
    }
    next
}

/// Computes the new status from the previous one and an observation.
pub fn compute(
    previous: Option<&MadBaseProjectStatus>,
    obs: &Observation,
    now: Time,
) -> MadBaseProjectStatus {
    let empty = Vec::new();
    let prev_conditions = previous.map(|s| &s.conditions).unwrap_or(&empty);
    let steps = [&obs.keys, &obs.database, &obs.storage, &obs.data_plane];
    let failed = [&obs.spec, &obs.keys, &obs.database, &obs.storage]
        .into_iter()
        .find(|s| matches!(s, StepState::Failed(..)));
    let all_ready = steps.iter().all(|s| s.is_ready());
    let ready = if obs.paused {
        // Paused projects report what they last were; keep the previous Ready condition's status.
        match prev_conditions.iter().find(|c| c.type_ == "Ready") {
            Some(c) if c.status == "True" => {
                StepState::Ready("Paused", "reconciliation is paused".into())
            }
            _ => StepState::NotReady("Paused", "reconciliation is paused".into()),
        }
    } else if let Some(StepState::Failed(r, m)) = failed {
        StepState::NotReady(r, m.clone())
    } else if obs.stopped && steps[..3].iter().all(|s| s.is_ready()) {
        StepState::NotReady("Stopped", "spec.stopped is true: scaled to zero".into())
    } else if all_ready {
        StepState::Ready("Available", "the project serves requests".into())
    } else {
        let first = steps
            .iter()
            .find(|s| !s.is_ready())
            .map(|s| match s {
                StepState::NotReady(r, m) | StepState::Failed(r, m) => (*r, m.clone()),
                _ => ("Progressing", "waiting for earlier steps".into()),
            })
            .unwrap_or(("Progressing", String::new()));
        StepState::NotReady(first.0, first.1)
    };
    let paused = if obs.paused {
        StepState::Ready(
            "Paused",
            "spec.paused is true: changes are not applied".into(),
        )
    } else {
        StepState::NotReady("Reconciling", String::new())
    };
    let states = [
        &ready,
        &obs.keys,
        &obs.database,
        &obs.storage,
        &obs.data_plane,
        &paused,
    ];
    let conditions = CONDITION_TYPES
        .iter()
        .zip(states)
        .map(|(t, s)| merge(prev_conditions, condition(t, s, obs.generation, &now)))
        .collect();
    let was_ready = previous
        .and_then(|s| s.phase)
        .is_some_and(|p| matches!(p, Phase::Ready | Phase::Degraded));
    let phase = if obs.paused {
        Phase::Paused
    } else if failed.is_some() {
        Phase::Failed
    } else if obs.stopped && steps[..3].iter().all(|s| s.is_ready()) {
        Phase::Stopped
    } else if all_ready {
        Phase::Ready
    } else if was_ready {
        Phase::Degraded
    } else if steps.iter().all(|s| *s == &StepState::Unknown) {
        Phase::Pending
    } else {
        Phase::Provisioning
    };
    let keep = |new: &Option<String>, old: Option<&Option<String>>| {
        new.clone().or_else(|| old.cloned().flatten())
    };
    MadBaseProjectStatus {
        observed_generation: obs.generation,
        phase: Some(phase),
        conditions,
        endpoint: keep(&obs.endpoint, previous.map(|p| &p.endpoint)),
        keys_secret_ref: obs
            .keys_secret
            .clone()
            .map(|name| LocalObjectRef { name })
            .or_else(|| previous.and_then(|p| p.keys_secret_ref.clone())),
        database: obs
            .database_status
            .clone()
            .or_else(|| previous.and_then(|p| p.database.clone())),
        storage: obs
            .storage_status
            .clone()
            .or_else(|| previous.and_then(|p| p.storage.clone())),
        data_plane: obs
            .data_plane_status
            .clone()
            .or_else(|| previous.and_then(|p| p.data_plane.clone())),
    }
}

/// Writes `status` with server-side apply on the status subresource, unless it equals what the
/// project already reports. Returns whether a write happened.
pub async fn write(
    api: &Api<MadBaseProject>,
    project: &MadBaseProject,
    status: MadBaseProjectStatus,
) -> Result<bool, kube::Error> {
    if project.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let patch = serde_json::json!({
        "apiVersion": "madbase.io/v1alpha1",
        "kind": "MadBaseProject",
        "status": status,
    });
    api.patch_status(
        &project.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
