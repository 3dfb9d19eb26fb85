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

use super::project::{ProjectContext, Projects};

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
    let project = ProjectContext::open(&config).await?;
    tracing::info!(listen = %config.listen, project = %project.project_ref, "serving");
    run_http(
        listener,
        Arc::new(Projects::single(project)),
        super::shutdown::signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}
