//! `madbase-operator`: `run` reconciles MadBaseProject resources and serves the control-plane
//! API; `crd` prints the CRD YAML.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use madbase_operator::controller::{self, RunOptions};
use madbase_operator::operator_config::OperatorConfig;

#[derive(Parser)]
#[command(
    name = "madbase-operator",
    version,
    about = "Kubernetes operator for MadBase projects"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reconcile MadBaseProject resources and serve the control-plane API.
    Run {
        /// Operator configuration (pools, object stores, default image).
        #[arg(long, env = "MADBASE_OPERATOR_CONFIG")]
        config: Option<PathBuf>,
        /// Address of /metrics, /healthz and /readyz.
        #[arg(
            long,
            env = "MADBASE_OPERATOR_PROBE_ADDR",
            default_value = "0.0.0.0:8080"
        )]
        probe_addr: SocketAddr,
        /// Address of the control-plane API; disabled when absent.
        #[arg(long, env = "MADBASE_OPERATOR_API_ADDR")]
        api_addr: Option<SocketAddr>,
        /// File holding the control-plane admin token (mounted from a Secret).
        #[arg(long, env = "MADBASE_OPERATOR_ADMIN_TOKEN_FILE")]
        admin_token_file: Option<PathBuf>,
        /// Namespace the control-plane API creates projects in.
        #[arg(
            long,
            env = "MADBASE_OPERATOR_API_NAMESPACE",
            default_value = "default"
        )]
        api_namespace: String,
        /// Watch only this namespace (namespace-scoped installs).
        #[arg(long, env = "MADBASE_OPERATOR_WATCH_NAMESPACE")]
        watch_namespace: Option<String>,
        /// Log format: json or text.
        #[arg(long, env = "MADBASE_OPERATOR_LOG_FORMAT", default_value = "json")]
        log_format: String,
    },
    /// Print the MadBaseProject CRD as YAML.
    Crd,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "text" {
        builder.init();
    } else {
        builder.json().init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd => {
            print!("{}", madbase_crds::crd_yaml());
            Ok(())
        }
        Command::Run {
            config,
            probe_addr,
            api_addr,
            admin_token_file,
            api_namespace,
            watch_namespace,
            log_format,
        } => {
            init_logging(&log_format);
            let config = OperatorConfig::load(config.as_deref())?;
            let admin_token = match admin_token_file {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading admin token {}", path.display()))?
                        .trim()
                        .to_owned(),
                ),
                None => std::env::var("MADBASE_OPERATOR_ADMIN_TOKEN").ok(),
            };
            let client = kube::Client::try_default()
                .await
                .context("connecting to the Kubernetes API (in-cluster config or KUBECONFIG)")?;
            controller::run(
                client,
                RunOptions {
                    config,
                    probe_addr,
                    api_addr,
                    admin_token,
                    api_namespace,
                    watch_namespace,
                },
            )
            .await?;
            Ok(())
        }
    }
}
