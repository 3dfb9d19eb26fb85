//! The reconcile pipeline for one `MadBaseProject`:
//! dereference → validate (pure) → keys → database → bucket → build (pure) → apply → status,
//! plus cleanup under the finalizer when the project is being deleted.
//!
//! Status is written after every pass, also when a step failed, so users see which step is stuck;
//! transient errors (API server, network) leave the project `Provisioning`/`Degraded` and are
//! retried with per-object capped exponential backoff. Only user-fixable problems (invalid spec,
//! missing Secret, missing bucket) make it `Failed`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::DynamicObject;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use madbase_crds::{DataPlaneStatus, MadBaseProject, StorageStatus, naming};

use crate::apply::{apply, apply_dynamic, delete_if_managed, is_not_found, owner_reference};
use crate::bucket::{BucketError, BucketOutcome, ObjectStoreClient};
use crate::database::{self, CleanupOutcome, DatabaseError, DatabaseState};
use crate::dataplane::{self, http_route_resource};
use crate::dereference::{DerefError, dereference};
use crate::finalizer;
use crate::keys::{self, KeysError, KeysOutcome};
use crate::metrics::Metrics;
use crate::operator_config::OperatorConfig;
use crate::postgres::Postgres;
use crate::status::{self, Observation, StepState};
use crate::validate::{ValidatedProject, ValidationError, validate};

/// Requeue while waiting for a Deployment or a database to become ready.
pub const WAIT_REQUEUE: Duration = Duration::from_secs(10);
/// First retry after an error.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest wait between retries.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Shared state of the controller.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Pools, object stores, defaults.
    pub config: Arc<OperatorConfig>,
    /// PostgreSQL administration.
    pub postgres: Arc<dyn Postgres>,
    /// S3 bucket administration.
    pub buckets: Arc<dyn ObjectStoreClient>,
    /// Kubernetes Events.
    pub recorder: Recorder,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per object (`namespace/name`), for backoff.
    pub failures: Mutex<HashMap<String, u32>>,
}

/// Errors of one reconcile, one variant per step; `metric_label` keeps metric cardinality bounded.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Reading referenced Secrets.
    #[error(transparent)]
    Dereference(#[from] DerefError),
    /// Keys Secret.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// Database step.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// Bucket step.
    #[error(transparent)]
    Bucket(#[from] BucketError),
    /// Applying data-plane objects.
    #[error("applying data-plane objects: {0}")]
    Apply(kube::Error),
    /// Writing status.
    #[error("writing status: {0}")]
    Status(kube::Error),
    /// Adding or removing the finalizer.
    #[error("finalizer: {0}")]
    Finalizer(kube::Error),
    /// The spec cannot be validated while deleting under `Delete`.
    #[error("cannot clean up: {0}")]
    Cleanup(ValidationError),
}

impl ReconcileError {
    /// Bounded label for the failures metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ReconcileError::Dereference(_) => "dereference",
            ReconcileError::Keys(_) => "keys",
            ReconcileError::Database(_) => "database",
            ReconcileError::Bucket(_) => "bucket",
            ReconcileError::Apply(_) => "apply",
            ReconcileError::Status(_) => "status",
            ReconcileError::Finalizer(_) => "finalizer",
            ReconcileError::Cleanup(_) => "cleanup",
        }
    }
}

fn now() -> Time {
    Time(Timestamp::now())
}

fn key(project: &MadBaseProject) -> String {
    format!(
        "{}/{}",
        project.namespace().unwrap_or_default(),
        project.name_any()
    )
}

async fn publish(
    ctx: &Context,
    project: &MadBaseProject,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &project.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "could not publish event");
    }
}

/// Reconciles one project. Entry point for the controller and for tests.
pub async fn reconcile(
    project: Arc<MadBaseProject>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let namespace = project.namespace().unwrap_or_default();
    let api: Api<MadBaseProject> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = if project.meta().deletion_timestamp.is_some() {
        cleanup(&project, &ctx, &api).await
    } else {
        apply_project(&project, &ctx, &api).await
    };
    ctx.metrics.observe(
        started.elapsed(),
        result.as_ref().err().map(ReconcileError::metric_label),
    );
    if result.is_ok()
        && let Ok(mut failures) = ctx.failures.lock()
    {
        failures.remove(&key(&project));
    }
    result
}

/// Requeue policy on errors: per-object capped exponential backoff (5 s, 10 s, 20 s … 5 min).
pub fn error_policy(
    project: Arc<MadBaseProject>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    tracing::warn!(project = %key(&project), error = %error, "reconcile failed");
    let attempts = match ctx.failures.lock() {
        Ok(mut failures) => {
            let n = failures.entry(key(&project)).or_insert(0);
            *n = n.saturating_add(1);
            *n
        }
        Err(_) => 1,
    };
    Action::requeue(backoff(attempts))
}

/// Delay before retry number `attempts` (1-based).
pub fn backoff(attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

async fn apply_project(
    project: &MadBaseProject,
    ctx: &Context,
    api: &Api<MadBaseProject>,
) -> Result<Action, ReconcileError> {
    finalizer::add(api, project)
        .await
        .map_err(ReconcileError::Finalizer)?;
    let spec = &project.spec;
    let mut obs = Observation::new(project.meta().generation, spec.paused, spec.stopped);
    let outcome = if spec.paused {
        observe_paused(project, ctx, &mut obs).await
    } else {
        run_steps(project, ctx, &mut obs).await
    };
    let previous = project.status.as_ref();
    let next = status::compute(previous, &obs, now());
    announce_flips(ctx, project, previous, &next).await;
    if let Some(phase) = next.phase {
        ctx.metrics.set_phase(&key(project), phase);
    }
    status::write(api, project, next)
        .await
        .map_err(ReconcileError::Status)?;
    outcome
}

/// Emits one event per condition that changed status, so `kubectl describe` tells the story.
async fn announce_flips(
    ctx: &Context,
    project: &MadBaseProject,
    previous: Option<&madbase_crds::MadBaseProjectStatus>,
    next: &madbase_crds::MadBaseProjectStatus,
) {
    for condition in &next.conditions {
        let before = previous
            .and_then(|p| p.conditions.iter().find(|c| c.type_ == condition.type_))
            .map(|c| c.status.as_str());
        if before == Some(condition.status.as_str()) || condition.status == "Unknown" {
            continue;
        }
        if condition.type_ == "ReconciliationPaused"
            && condition.status == "False"
            && before.is_none()
        {
            continue;
        }
        let type_ = if condition.status == "True" || condition.type_ == "ReconciliationPaused" {
            EventType::Normal
        } else {
            EventType::Warning
        };
        let note = if condition.message.is_empty() {
            format!("{} is {}", condition.type_, condition.status)
        } else {
            format!(
                "{} is {}: {}",
                condition.type_, condition.status, condition.message
            )
        };
        publish(ctx, project, type_, &condition.reason, note).await;
    }
}

/// Paused: read the Deployment to keep status fresh, change nothing.
async fn observe_paused(
    project: &MadBaseProject,
    ctx: &Context,
    obs: &mut Observation,
) -> Result<Action, ReconcileError> {
    let namespace = project.namespace().unwrap_or_default();
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Some(d) = deployments
        .get_opt(&naming::workload_name(&project.name_any()))
        .await
        .map_err(ReconcileError::Apply)?
    {
        let (state, summary) = deployment_state(&d, project.spec.stopped);
        obs.data_plane = state;
        obs.data_plane_status = summary;
    }
    Ok(Action::await_change())
}

fn deployment_state(d: &Deployment, stopped: bool) -> (StepState, Option<DataPlaneStatus>) {
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let current = status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    let template = d.spec.as_ref().and_then(|s| s.template.metadata.as_ref());
    let summary = DataPlaneStatus {
        image: d
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        replicas,
        ready_replicas: ready,
        config_hash: template
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(dataplane::CONFIG_HASH_ANNOTATION))
            .cloned()
            .unwrap_or_default(),
    };
    let state = if stopped {
        StepState::NotReady("Stopped", "spec.stopped is true: scaled to zero".into())
    } else if available >= 1 && current {
        StepState::Ready(
            "DeploymentAvailable",
            format!("{ready}/{replicas} pods ready"),
        )
    } else {
        StepState::NotReady(
            "DeploymentProgressing",
            format!("{ready}/{replicas} pods ready"),
        )
    };
    (state, Some(summary))
}

async fn run_steps(
    project: &MadBaseProject,
    ctx: &Context,
    obs: &mut Observation,
) -> Result<Action, ReconcileError> {
    let referenced = match dereference(&ctx.client, project, false).await {
        Ok(r) => r,
        Err(e) => {
            obs.spec = match &e {
                DerefError::Kube(_) => StepState::NotReady("KubernetesError", e.to_string()),
                DerefError::ConfigMapMissing(_) => {
                    StepState::Failed("ConfigMapNotFound", e.to_string())
                }
                _ => StepState::Failed("SecretNotFound", e.to_string()),
            };
            return Err(e.into());
        }
    };
    let validated = match validate(project, &ctx.config, &referenced) {
        Ok(v) => v,
        Err(e) => {
            obs.spec = StepState::Failed("InvalidSpec", e.to_string());
            // Only a spec change can fix this; the watch delivers it.
            return Ok(Action::await_change());
        }
    };
    obs.spec = StepState::Ready("Valid", String::new());
    obs.endpoint = Some(validated.endpoint.clone());
    let owner = owner_reference(project);

    // Keys.
    match keys::ensure(
        &ctx.client,
        &validated,
        &owner,
        Timestamp::now().as_second(),
    )
    .await
    {
        Ok(outcome) => {
            obs.keys = StepState::Ready("KeysAvailable", String::new());
            obs.keys_secret = Some(validated.keys.secret_name.clone());
            match outcome {
                KeysOutcome::Created => {
                    publish(
                        ctx,
                        project,
                        EventType::Normal,
                        "KeysCreated",
                        format!("created Secret {}", validated.keys.secret_name),
                    )
                    .await;
                }
                KeysOutcome::Rotated => {
                    publish(
                        ctx,
                        project,
                        EventType::Normal,
                        "KeysRotated",
                        format!("minted new keys in Secret {}", validated.keys.secret_name),
                    )
                    .await;
                }
                KeysOutcome::Existing => {}
            }
        }
        Err(e) => {
            obs.keys = StepState::NotReady("KubernetesError", e.to_string());
            return Err(e.into());
        }
    }

    // Database.
    obs.database_status = Some(database::status(&validated));
    match database::ensure(&ctx.client, ctx.postgres.as_ref(), &validated, &owner).await {
        Ok(DatabaseState::Ready) => {
            obs.database = StepState::Ready("DatabaseAvailable", String::new());
        }
        Ok(DatabaseState::Waiting(reason, m)) => {
            obs.database = StepState::NotReady(reason, m);
            return Ok(Action::requeue(WAIT_REQUEUE));
        }
        Err(e) => {
            obs.database = StepState::NotReady(e.reason(), e.to_string());
            return Err(e.into());
        }
    }

    // Bucket.
    obs.storage_status = Some(StorageStatus {
        bucket: validated.storage.bucket.clone(),
        endpoint: validated.storage.endpoint.clone(),
    });
    match ctx.buckets.ensure(&validated.storage).await {
        Ok(outcome) => {
            obs.storage = StepState::Ready("BucketAvailable", String::new());
            if outcome == BucketOutcome::Created {
                publish(
                    ctx,
                    project,
                    EventType::Normal,
                    "BucketCreated",
                    format!("created bucket {}", validated.storage.bucket),
                )
                .await;
            }
        }
        Err(e) => {
            obs.storage = match &e {
                BucketError::Missing(_) => StepState::Failed(e.reason(), e.to_string()),
                _ => StepState::NotReady(e.reason(), e.to_string()),
            };
            return Err(e.into());
        }
    }

    // Data plane.
    let deployment = match apply_data_plane(ctx, &validated, &owner).await {
        Ok(d) => d,
        Err(e) => {
            obs.data_plane = StepState::NotReady("ApplyFailed", e.to_string());
            return Err(ReconcileError::Apply(e));
        }
    };
    let (state, summary) = deployment_state(&deployment, project.spec.stopped);
    let ready = state.clone();
    obs.data_plane = state;
    obs.data_plane_status = summary;
    Ok(match ready {
        StepState::Ready(..) => Action::await_change(),
        _ if project.spec.stopped => Action::await_change(),
        _ => Action::requeue(WAIT_REQUEUE),
    })
}

/// Builds and applies the data plane; removes objects the spec no longer asks for.
async fn apply_data_plane(
    ctx: &Context,
    project: &ValidatedProject,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Result<Deployment, kube::Error> {
    let objects = dataplane::build(project, owner);
    let client = &ctx.client;
    let name = naming::workload_name(&project.name);
    apply(client, &objects.config_map).await?;
    if let Some(secret) = &objects.storage_secret {
        apply(client, secret).await?;
    }
    let deployment = apply(client, &objects.deployment).await?;
    apply(client, &objects.service).await?;
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &project.namespace);
    match &objects.ingress {
        Some(ingress) => {
            apply(client, ingress).await?;
        }
        None => {
            delete_if_managed(&ingresses, &name, &project.name).await?;
        }
    }
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &project.namespace, &http_route_resource());
    match &objects.http_route {
        Some(route) => {
            apply_dynamic(client, &http_route_resource(), route).await?;
        }
        None => match delete_if_managed(&routes, &name, &project.name).await {
            // Gateway API not installed: nothing to remove.
            Err(e) if is_not_found(&e) => {}
            other => {
                other?;
            }
        },
    }
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &project.namespace);
    match &objects.pdb {
        Some(pdb) => {
            apply(client, pdb).await?;
        }
        None => {
            delete_if_managed(&pdbs, &name, &project.name).await?;
        }
    }
    Ok(deployment)
}

/// Deletion: drop or keep external state per `deletionPolicy`, then release the finalizer.
async fn cleanup(
    project: &MadBaseProject,
    ctx: &Context,
    api: &Api<MadBaseProject>,
) -> Result<Action, ReconcileError> {
    if !finalizer::has(project) {
        return Ok(Action::await_change());
    }
    let referenced = dereference(&ctx.client, project, true).await?;
    match validate(project, &ctx.config, &referenced) {
        Ok(validated) => {
            let outcome = database::cleanup(&ctx.client, ctx.postgres.as_ref(), &validated).await?;
            if let CleanupOutcome::Waiting(message) = &outcome {
                // Keep the finalizer until CloudNativePG has dropped the database.
                tracing::info!(project = %key(project), %message, "cleanup waiting");
                return Ok(Action::requeue(WAIT_REQUEUE));
            }
            let bucket = &validated.storage.bucket;
            match validated.deletion_policy {
                madbase_crds::DeletionPolicy::Delete => {
                    ctx.buckets.delete(&validated.storage).await?;
                    let db = match &outcome {
                        CleanupOutcome::Deleted(what) => format!("{what} and "),
                        _ => String::new(),
                    };
                    publish(
                        ctx,
                        project,
                        EventType::Normal,
                        "Deleted",
                        format!("deleted {db}bucket {bucket}"),
                    )
                    .await;
                }
                madbase_crds::DeletionPolicy::Retain => {
                    let db = match &outcome {
                        CleanupOutcome::Retained(what) => format!("{what} and "),
                        _ => String::new(),
                    };
                    publish(
                        ctx,
                        project,
                        EventType::Normal,
                        "Retained",
                        format!("kept {db}bucket {bucket} (deletionPolicy: Retain)"),
                    )
                    .await;
                }
            }
        }
        Err(e) if project.spec.deletion_policy == madbase_crds::DeletionPolicy::Delete => {
            publish(
                ctx,
                project,
                EventType::Warning,
                "CleanupBlocked",
                format!("{e}; fix the spec or set deletionPolicy: Retain to release the project"),
            )
            .await;
            return Err(ReconcileError::Cleanup(e));
        }
        Err(e) => {
            publish(
                ctx,
                project,
                EventType::Normal,
                "Retained",
                format!(
                    "kept external state (deletionPolicy: Retain); spec could not be resolved: {e}"
                ),
            )
            .await;
        }
    }
    finalizer::remove(api, project)
        .await
        .map_err(ReconcileError::Finalizer)?;
    ctx.metrics.forget(&key(project));
    Ok(Action::await_change())
}
