//! `madbase serve`: one project configured from `MADBASE_*` environment variables (and an
//! optional TOML file), as each pod runs it.

use std::future::Future;
use std::sync::Arc;

use madbase_config::DataPlaneConfig;
use tokio::net::TcpListener;

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
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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
