//! Wiring to a real cluster: the CRD check at start, the probe/metrics and control-plane HTTP
//! servers (on every replica), and the `kube-runtime` controller with its owned-object watches
//! (only on the elected leader when leader election is on), all stopped together on SIGTERM or
//! Ctrl-C.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::ListParams;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{Controller, watcher};
use kube::{Api, Client};
use madbase_crds::MadBaseProject;

use crate::api::{self, ApiState};
use crate::bucket::S3Buckets;
use crate::leader::{LeaderElector, LeaseSettings, run_elected};
use crate::metrics::{self, Metrics};
use crate::operator_config::OperatorConfig;
use crate::postgres::PgAdmin;
use crate::reconcile::{Context, error_policy, reconcile};

/// What `run` needs.
pub struct RunOptions {
    /// Operator configuration.
    pub config: OperatorConfig,
    /// Address of `/metrics`, `/healthz`, `/readyz`.
    pub probe_addr: SocketAddr,
    /// Address of the control-plane API, when enabled.
    pub api_addr: Option<SocketAddr>,
    /// Admin token of the control-plane API.
    pub admin_token: Option<String>,
    /// Namespace the control-plane API creates projects in.
    pub api_namespace: String,
    /// Watch only this namespace (namespace-scoped install); all when `None`.
    pub watch_namespace: Option<String>,
    /// Leader election; `None` runs the controller unconditionally (one replica only).
    pub leader_election: Option<LeaseSettings>,
}

/// Why the operator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The CRD is not installed (or not readable with the operator's RBAC).
    #[error(
        "the MadBaseProject CRD (madbaseprojects.madbase.io) is not installed or not readable: {0}\n\
         install it with `madbase-operator crd | kubectl apply -f -` or the Helm chart (crds.create=true)"
    )]
    CrdMissing(kube::Error),
    /// Binding a listener failed.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// The control-plane API is enabled without a token.
    #[error(
        "the control-plane API needs an admin token (--admin-token-file or MADBASE_OPERATOR_ADMIN_TOKEN)"
    )]
    NoAdminToken,
}

/// Checks that the CRD is served, as controller-rs does: a one-item list.
pub async fn check_crd(client: &Client, namespace: Option<&str>) -> Result<(), StartError> {
    // A namespace-scoped install may only list in its namespace.
    let api: Api<MadBaseProject> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    api.list(&ListParams::default().limit(1))
        .await
        .map(|_| ())
        .map_err(StartError::CrdMissing)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Runs the operator until SIGTERM.
pub async fn run(client: Client, options: RunOptions) -> Result<(), StartError> {
    check_crd(&client, options.watch_namespace.as_deref()).await?;
    let metrics = Arc::new(Metrics::new());
    let probe = tokio::net::TcpListener::bind(options.probe_addr)
        .await
        .map_err(|e| StartError::Listen(options.probe_addr, e))?;
    let api_listener = match options.api_addr {
        Some(addr) => {
            let token = options
                .admin_token
                .clone()
                .ok_or(StartError::NoAdminToken)?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| StartError::Listen(addr, e))?;
            Some((listener, token))
        }
        None => None,
    };

    // One stop signal for everything: set on SIGTERM/Ctrl-C (or when the controller ends).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let signal_tx = stop_tx.clone();
    let signal = tokio::spawn(async move {
        shutdown_signal().await;
        signal_tx.send_replace(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let probe_server = tokio::spawn(
        axum::serve(probe, metrics::router(metrics.clone()))
            .with_graceful_shutdown(stopped(stop_rx.clone()))
            .into_future(),
    );
    let api_server = api_listener.map(|(listener, token)| {
        let state = ApiState::new(client.clone(), options.api_namespace.clone(), &token);
        tokio::spawn(
            axum::serve(listener, api::router(state))
                .with_graceful_shutdown(stopped(stop_rx.clone()))
                .into_future(),
        )
    });

    let ctx = Arc::new(Context {
        client: client.clone(),
        config: Arc::new(options.config),
        postgres: Arc::new(PgAdmin),
        buckets: Arc::new(S3Buckets),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "madbase-operator".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        metrics: metrics.clone(),
        failures: Mutex::new(HashMap::new()),
    });
    let watch_namespace = options.watch_namespace.clone();
    let controller = {
        let client = client.clone();
        let stop_rx = stop_rx.clone();
        move || {
            run_controller(
                client.clone(),
                watch_namespace.clone(),
                ctx.clone(),
                stopped(stop_rx.clone()),
            )
        }
    };
    // Every replica is ready once it serves HTTP; leadership only decides who reconciles.
    metrics.set_ready(true);
    tracing::info!("madbase-operator started");
    match options.leader_election {
        Some(settings) => {
            tracing::info!(
                lease = %format!("{}/{}", settings.namespace, settings.name),
                identity = %settings.identity,
                "campaigning for leadership"
            );
            let elector = LeaderElector::new(client.clone(), settings);
            let leader_metrics = metrics.clone();
            run_elected(
                elector,
                stopped(stop_rx.clone()),
                move |leading| leader_metrics.set_leader(leading),
                controller,
            )
            .await;
        }
        None => {
            metrics.set_leader(true);
            controller().await;
            metrics.set_leader(false);
        }
    }
    metrics.set_ready(false);
    tracing::info!("shutting down");
    stop_tx.send_replace(true);
    signal.abort();
    let _ = probe_server.await;
    if let Some(server) = api_server {
        let _ = server.await;
    }
    Ok(())
}

/// The controller: runs until `shutdown` resolves, or until its future is dropped (leadership
/// lost).
async fn run_controller(
    client: Client,
    watch_namespace: Option<String>,
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (projects, deployments, services, config_maps, secrets) = match &watch_namespace {
        Some(ns) => (
            Api::<MadBaseProject>::namespaced(client.clone(), ns),
            Api::<Deployment>::namespaced(client.clone(), ns),
            Api::<Service>::namespaced(client.clone(), ns),
            Api::<ConfigMap>::namespaced(client.clone(), ns),
            Api::<Secret>::namespaced(client.clone(), ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
    };
    // Owned watches only see objects labelled as ours, which bounds the operator's memory.
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=madbase-operator");
    Controller::new(projects, watcher::Config::default().any_semantic())
        .owns(deployments, owned.clone())
        .owns(services, owned.clone())
        .owns(config_maps, owned.clone())
        .owns(secrets, owned)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
}
