//! The `madbase` command line: `serve`, `dev`, `status`, `migrate`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use madbase::server;
use madbase_config::{CONFIG_FILE_ENV, LogFormat};

/// MadBase: a Supabase-compatible backend in one small process.
#[derive(Debug, Parser)]
#[command(name = "madbase", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve one project configured by MADBASE_* environment variables (what each pod runs).
    Serve {
        /// TOML file with the same settings (lower-case keys without the MADBASE_ prefix);
        /// environment variables override it.
        #[arg(long, env = CONFIG_FILE_ENV)]
        config: Option<PathBuf>,
    },
    /// Run a local development backend: a private PostgreSQL plus the API on loopback.
    Dev {
        /// Directory for the database, keys and state.
        #[arg(long, default_value = ".madbase")]
        data_dir: PathBuf,
        /// Gateway port.
        #[arg(long, default_value_t = 54321)]
        port: u16,
        /// Gateway address.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// Use this PostgreSQL instead of starting one.
        #[arg(long)]
        db_url: Option<String>,
        /// Log filter.
        #[arg(long, default_value = "info")]
        log_level: String,
    },
    /// Print the URLs and keys of a running `madbase dev`.
    Status {
        /// Data dir of the `madbase dev` instance.
        #[arg(long, default_value = ".madbase")]
        data_dir: PathBuf,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Output::Pretty)]
        output: Output,
    },
    /// Apply MadBase's schema migrations to a database and exit.
    Migrate {
        /// Database URL.
        #[arg(long, env = "MADBASE_DATABASE_URL", hide_env_values = true)]
        db_url: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Pretty,
    Json,
    Env,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => {
            let config = server::serve::load_config(config.as_deref())?;
            server::logging::init(&config.log_level, config.log_format);
            server::serve::serve(config).await
        }
        Command::Dev {
            data_dir,
            port,
            host,
            db_url,
            log_level,
        } => {
            server::logging::init(&log_level, LogFormat::Text);
            server::dev::dev(server::dev::DevOptions {
                data_dir,
                listen: SocketAddr::new(host, port),
                db_url,
                log_level,
            })
            .await
        }
        Command::Status { data_dir, output } => {
            let status = server::dev::read_status(&data_dir)?;
            match output {
                Output::Pretty => print!(
                    "{}",
                    server::dev::banner(&status).replacen(
                        "Started madbase dev.",
                        "madbase dev is running.",
                        1
                    )
                ),
                Output::Json => println!("{}", serde_json::to_string_pretty(&status)?),
                Output::Env => print!("{}", server::dev::status_env(&status)),
            }
            Ok(())
        }
        Command::Migrate { db_url } => {
            server::logging::init("info", LogFormat::Text);
            let url = madbase_pgconn::DbUrl::parse(&db_url)?;
            let pool = server::project::pool(&url, 1, std::time::Duration::from_secs(10))?;
            let mut client = pool.get().await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect to the database: {}",
                    server::project::describe_pool_error(&e)
                )
            })?;
            let applied = madbase::migrations::run(&mut client).await?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
    }
}
