//! Operator metrics and probes: reconcile count, failures by bounded error label, reconcile
//! duration histogram, projects by phase, leadership; served on `/metrics` next to `/healthz`
//! and `/readyz`.
//!
//! `/healthz` answers while the process serves HTTP. `/readyz` answers 200 once the CRD was found
//! and the probe and control-plane listeners are up, on every replica, leader or standby: the
//! control-plane API works on all of them, and a standby is ready to take over. Which replica
//! reconciles is `madbase_operator_leader` (1 on the leader).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use madbase_crds::Phase;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of the failures counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabel {
    /// Pipeline step that failed (bounded set, see `ReconcileError::metric_label`).
    pub error: String,
}

/// Label of the phase gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    /// Phase name.
    pub phase: String,
}

/// All operator metrics.
pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    failures: Family<ErrorLabel, Counter>,
    duration: Histogram,
    phases: Family<PhaseLabel, Gauge>,
    phase_of: Mutex<HashMap<String, Phase>>,
    ready: AtomicBool,
    leader: Gauge,
}

fn phase_name(p: Phase) -> String {
    format!("{p:?}")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `madbase_operator` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("madbase_operator");
        let reconciles = Counter::default();
        let failures = Family::<ErrorLabel, Counter>::default();
        let duration =
            Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]);
        let phases = Family::<PhaseLabel, Gauge>::default();
        registry.register("reconcile_runs", "Reconciles started", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Reconciles that failed, by step",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            duration.clone(),
        );
        registry.register("projects", "Projects by phase", phases.clone());
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 on the replica that holds the leader Lease and runs the controller",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            failures,
            duration,
            phases,
            phase_of: Mutex::new(HashMap::new()),
            ready: AtomicBool::new(false),
            leader,
        }
    }

    /// Records one reconcile.
    pub fn observe(&self, took: Duration, error: Option<&'static str>) {
        self.reconciles.inc();
        self.duration.observe(took.as_secs_f64());
        if let Some(error) = error {
            self.failures
                .get_or_create(&ErrorLabel {
                    error: error.into(),
                })
                .inc();
        }
    }

    /// Records a project's current phase.
    pub fn set_phase(&self, project: &str, phase: Phase) {
        let Ok(mut map) = self.phase_of.lock() else {
            return;
        };
        if let Some(old) = map.insert(project.to_owned(), phase) {
            self.phases
                .get_or_create(&PhaseLabel {
                    phase: phase_name(old),
                })
                .dec();
        }
        self.phases
            .get_or_create(&PhaseLabel {
                phase: phase_name(phase),
            })
            .inc();
    }

    /// Forgets a deleted project.
    pub fn forget(&self, project: &str) {
        let Ok(mut map) = self.phase_of.lock() else {
            return;
        };
        if let Some(old) = map.remove(project) {
            self.phases
                .get_or_create(&PhaseLabel {
                    phase: phase_name(old),
                })
                .dec();
        }
    }

    /// Marks the replica ready (CRD found, listeners up) or not; independent of leadership.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Records whether this replica runs the controller.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// `/metrics`, `/healthz` and `/readyz`.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(m): State<Arc<Metrics>>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.encode(),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(m): State<Arc<Metrics>>| async move {
                if m.ready.load(Ordering::SeqCst) {
                    (StatusCode::OK, "ready").into_response()
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
                }
            }),
        )
        .with_state(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_move_between_buckets_and_failures_are_labelled() {
        let m = Metrics::new();
        m.set_phase("a/x", Phase::Provisioning);
        m.set_phase("a/x", Phase::Ready);
        m.set_phase("a/y", Phase::Ready);
        m.observe(Duration::from_millis(20), Some("database"));
        m.observe(Duration::from_millis(20), None);
        let text = m.encode();
        assert!(
            text.contains("madbase_operator_projects{phase=\"Ready\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("madbase_operator_projects{phase=\"Provisioning\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("madbase_operator_reconcile_failures_total{error=\"database\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("madbase_operator_reconcile_runs_total 2"),
            "{text}"
        );
        m.forget("a/y");
        assert!(
            m.encode()
                .contains("madbase_operator_projects{phase=\"Ready\"} 1")
        );
    }
}
