//! `madbase-operator`: `run` reconciles MadBaseProject resources and serves the control-plane
//! API; `crd` prints the CRD YAML.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgAction, Parser, Subcommand};
use madbase_operator::controller::{self, RunOptions};
use madbase_operator::leader::{DEFAULT_LEASE_NAME, LeaseSettings, parse_duration};
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
        #[arg(long, env = "MADBASE_OPERATOR_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
        log_format: String,
        #[command(flatten)]
        election: Box<ElectionArgs>,
    },
    /// Print the MadBaseProject CRD as YAML.
    Crd,
}

/// Leader election among operator replicas.
#[derive(clap::Args)]
struct ElectionArgs {
    /// Elect one leader through a coordination.k8s.io Lease; only the leader reconciles. Turn
    /// off only when exactly one replica runs.
    #[arg(long, env = "MADBASE_OPERATOR_LEADER_ELECTION", default_value_t = true, action = ArgAction::Set)]
    leader_election: bool,
    /// Name of the Lease.
    #[arg(long, env = "MADBASE_OPERATOR_LEASE_NAME", default_value = DEFAULT_LEASE_NAME)]
    lease_name: String,
    /// Namespace of the Lease; defaults to the client's namespace (the pod's, in a cluster).
    #[arg(long, env = "MADBASE_OPERATOR_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// This replica's identity in the Lease; defaults to POD_NAME, else the host name.
    #[arg(long, env = "MADBASE_OPERATOR_LEASE_IDENTITY")]
    lease_identity: Option<String>,
    /// How long a Lease that stopped being renewed blocks the other replicas (whole seconds).
    #[arg(long, env = "MADBASE_OPERATOR_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    lease_duration: Duration,
    /// How long the leader keeps reconciling without a successful renewal; below the lease
    /// duration.
    #[arg(long, env = "MADBASE_OPERATOR_LEASE_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    lease_renew_deadline: Duration,
    /// How often the leader renews and standbys retry; below the renew deadline.
    #[arg(long, env = "MADBASE_OPERATOR_LEASE_RETRY_PERIOD", default_value = "2s", value_parser = parse_duration)]
    lease_retry_period: Duration,
}

impl ElectionArgs {
    /// Checked settings, with the namespace given by the client when none was set.
    fn settings(&self, default_namespace: &str) -> anyhow::Result<Option<LeaseSettings>> {
        if !self.leader_election {
            return Ok(None);
        }
        let identity = self
            .lease_identity
            .clone()
            .or_else(|| std::env::var("POD_NAME").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| {
                let host = std::env::var("HOSTNAME")
                    .ok()
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "madbase-operator".into());
                format!("{host}-{:08x}", rand::random::<u32>())
            });
        Ok(Some(LeaseSettings::new(
            self.lease_name.clone(),
            self.lease_namespace
                .clone()
                .unwrap_or_else(|| default_namespace.to_owned()),
            identity,
            self.lease_duration,
            self.lease_renew_deadline,
            self.lease_retry_period,
        )?))
    }
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
            election,
        } => {
            init_logging(&log_format);
            // Check the election settings before anything else, with a placeholder namespace
            // when none was given (the real one comes from the client).
            election.settings("default")?;
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
            let leader_election = election.settings(client.default_namespace())?;
            controller::run(
                client,
                RunOptions {
                    config,
                    probe_addr,
                    api_addr,
                    admin_token,
                    api_namespace,
                    watch_namespace,
                    leader_election,
                },
            )
            .await?;
            Ok(())
        }
    }
}
