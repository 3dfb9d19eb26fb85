//! `madbase serve`: one project configured from `MADBASE_*` environment variables (and an
//! optional TOML file), as each pod runs it.

use std::future::Future;
use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use madbase_config::DataPlaneConfig;
use tokio::net::{TcpListener, TcpStream};

use crate::http::target::TargetEncoding;

use std::future::IntoFuture;
use std::time::Duration;

use super::project::{ProjectContext, ProjectError, Projects};

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run_http(
    listener: TcpListener,
    projects: Arc<Projects>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = super::app::app(projects);
    // The peer address reaches handlers (auth keys its rate limits on it).
    axum::serve(
        EncodingListener(listener),
        app.into_make_service_with_connect_info::<PeerAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Accepts TCP connections whose request targets reach the HTTP layer encoded as it wants them
/// ([`TargetEncoding`]).
struct EncodingListener(TcpListener);

impl axum::serve::Listener for EncodingListener {
    type Io = TargetEncoding<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (TargetEncoding::new(io), addr)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// The client's address, in the request's extensions as `ConnectInfo<PeerAddr>`.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, EncodingListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, EncodingListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// The configuration `madbase serve` runs with: the environment over the TOML file at `file`,
/// if any. Read at start and again on `reload config`.
pub fn load_config(file: Option<&std::path::Path>) -> anyhow::Result<DataPlaneConfig> {
    let text = match file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let keys: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    let mut config =
        DataPlaneConfig::from_sources(&|k| std::env::var(k).ok(), &keys, text.as_deref())?;
    config.config_file = file.map(std::path::Path::to_path_buf);
    Ok(config)
}

/// Binds `addr`, with a message naming the flag or setting to change when it is taken.
pub async fn bind(addr: std::net::SocketAddr, hint: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => anyhow::anyhow!("{addr} is already in use ({hint})"),
        _ => anyhow::anyhow!("cannot listen on {addr}: {e}"),
    })
}

/// The whole `serve` command.
pub async fn serve(config: DataPlaneConfig) -> anyhow::Result<()> {
    let mut listener = bind(config.listen, "set MADBASE_LISTEN").await?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        super::shutdown::signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let project = match ProjectContext::open(&config).await {
        Ok(project) => project,
        Err(ProjectError::Connect(e)) => {
            // As PostgREST: a database not there yet (a cluster starting, a failover) is waited
            // for, answering 503 meanwhile, rather than ending the process.
            tracing::warn!(error = %e, "the database cannot be reached; retrying, answering 503 until then");
            let (done_tx, done) = tokio::sync::oneshot::channel::<()>();
            let waiting = tokio::spawn(
                axum::serve(listener, waiting_app())
                    .with_graceful_shutdown(async move {
                        let _ = done.await;
                    })
                    .into_future(),
            );
            let mut delay = Duration::from_secs(1);
            let opened = loop {
                tokio::select! {
                    _ = stopped(stop.clone()) => break None,
                    _ = tokio::time::sleep(delay) => {}
                }
                match ProjectContext::open(&config).await {
                    Ok(project) => break Some(Ok(project)),
                    Err(ProjectError::Connect(e)) => {
                        tracing::warn!(error = %e, "the database cannot be reached; retrying");
                        delay = (delay * 2).min(Duration::from_secs(32));
                    }
                    Err(e) => break Some(Err(e)),
                }
            };
            let _ = done_tx.send(());
            let _ = waiting.await;
            match opened {
                None => {
                    tracing::info!("stopped");
                    return Ok(());
                }
                Some(project) => {
                    let project = project?;
                    listener = bind(config.listen, "set MADBASE_LISTEN").await?;
                    project
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(listen = %config.listen, project = %project.project_ref, "serving");
    run_http(listener, Arc::new(Projects::single(project)), stopped(stop)).await?;
    tracing::info!("stopped");
    Ok(())
}

/// What answers while the database is awaited at start: alive, not ready, and every API
/// request a 503 that says so (PostgREST's while its schema cache cannot load).
fn waiting_app() -> axum::Router {
    use axum::Json;
    use axum::response::IntoResponse;
    use http::StatusCode;
    use serde_json::json;
    axum::Router::new()
        .route(
            "/health",
            axum::routing::get(|| async { Json(json!({"status": "ok"})) }),
        )
        .route(
            "/ready",
            axum::routing::get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"status": "unavailable", "reason": "database unreachable"})),
                )
            }),
        )
        .fallback(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(http::header::RETRY_AFTER, "0")],
                Json(json!({
                    "code": "PGRST002",
                    "details": null,
                    "hint": null,
                    "message": "Could not query the database for the schema cache. Retrying.",
                })),
            )
                .into_response()
        })
}
