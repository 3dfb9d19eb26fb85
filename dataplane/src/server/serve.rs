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
    let listener = bind(config.listen, "set MADBASE_LISTEN").await?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        super::shutdown::signal().await;
        let _ = stop_tx.send(true);
    });
    let Some(project) = open_when_reachable(&config, &listener, stop.clone()).await? else {
        tracing::info!("stopped");
        return Ok(());
    };
    tracing::info!(listen = %config.listen, project = %project.project_ref, "serving");
    let mut stop = stop;
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    run_http(listener, Arc::new(Projects::single(project)), stopped).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the project. A database not there yet (a cluster starting, a failover) is waited for
/// as PostgREST waits, retrying with a doubling delay while a copy of `listener` answers 503
/// ([`waiting_app`]), rather than ending the process. `None` when stopped meanwhile.
async fn open_when_reachable(
    config: &DataPlaneConfig,
    listener: &TcpListener,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<Arc<ProjectContext>>> {
    let mut delay = Duration::from_secs(1);
    let mut waiting = None;
    let opened = loop {
        match ProjectContext::open(config).await {
            Ok(project) => break Some(project),
            Err(ProjectError::Connect(e)) => {
                tracing::warn!(error = %e, "the database cannot be reached; retrying, answering 503 until then");
            }
            Err(e) => return Err(e.into()),
        }
        if waiting.is_none() {
            // The same socket, so no connection is refused when the real app takes over.
            let copy = TcpListener::from_std(listener_copy(listener)?)?;
            let (done, finished) = tokio::sync::oneshot::channel::<()>();
            let server = axum::serve(copy, waiting_app())
                .with_graceful_shutdown(async move {
                    let _ = finished.await;
                })
                .into_future();
            waiting = Some((done, tokio::spawn(server)));
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break None,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(32));
    };
    if let Some((done, server)) = waiting {
        let _ = done.send(());
        let _ = server.await;
    }
    Ok(opened)
}

fn listener_copy(listener: &TcpListener) -> std::io::Result<std::net::TcpListener> {
    let fd = std::os::fd::AsFd::as_fd(listener).try_clone_to_owned()?;
    let copy = std::net::TcpListener::from(fd);
    copy.set_nonblocking(true)?;
    Ok(copy)
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
