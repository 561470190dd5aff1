//! `ygt`: one binary runs everything.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use ygt_app::App;
use ygt_app::ygt_store::Store;
use ygt_server::AppState;
use ygt_synth::Scale;

#[derive(Parser)]
#[command(
    name = "ygt",
    version,
    about = "ygt: the information platform of a county medical community (医共体平台)"
)]
struct Cli {
    /// A TOML configuration file (keys: database, listen, log).
    #[arg(long, global = true, env = "YGT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run ygt on an embedded SQLite database with a synthetic demo county.
    Demo {
        /// Directory of the demo database.
        #[arg(long, default_value = "ygt-data")]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
        /// Seed of the synthetic county (the same seed makes the same county).
        #[arg(long, default_value_t = 20261124)]
        seed: u64,
    },
    /// Serve the web UI and APIs.
    Serve {
        /// sqlite://PATH or postgres://USER@HOST/DB
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Bring the database schema up to date.
    Migrate {
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a synthetic county into an empty database.
    Generate {
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
        #[arg(long, default_value_t = 20261124)]
        seed: u64,
        /// small (the demo) or county (for benchmarks)
        #[arg(long, default_value = "small")]
        scale: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain; exit status 0 only when it is intact.
    Verify {
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
    },
}

/// The configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    database: Option<String>,
    listen: Option<String>,
    log: Option<String>,
    /// Hash of the audit chain for new events: "sha256" (default) or "sm3".
    audit_hash: Option<String>,
    /// Minutes of inactivity that end a session (default 30).
    session_idle_minutes: Option<i64>,
    /// Hours after sign-in that end a session (default 12).
    session_hours: Option<i64>,
}

impl Config {
    fn settings(&self) -> Result<ygt_app::Settings> {
        let mut s = ygt_app::Settings::default();
        if let Some(h) = &self.audit_hash {
            s.audit_alg = ygt_domain::audit::HashAlg::parse("audit_hash", h)
                .map_err(|e| anyhow::anyhow!("config: {e}"))?;
        }
        if let Some(m) = self.session_idle_minutes {
            if !(1..=24 * 60).contains(&m) {
                bail!("config: session_idle_minutes must be between 1 and 1440");
            }
            s.idle_timeout = time::Duration::minutes(m);
        }
        if let Some(h) = self.session_hours {
            if !(1..=24 * 7).contains(&h) {
                bail!("config: session_hours must be between 1 and 168");
            }
            s.absolute_timeout = time::Duration::hours(h);
        }
        Ok(s)
    }
}

impl Config {
    fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
    }
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

fn database_url(flag: Option<String>, cfg: &Config) -> Result<String> {
    match flag.or_else(|| cfg.database.clone()) {
        Some(u) => Ok(u),
        None => bail!(
            "no database given: use --database URL, the environment variable YGT_DATABASE_URL, \
             or `database = \"...\"` in the --config file"
        ),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(cfg.log.as_deref());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command, cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(level: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.unwrap_or("info,sqlx=warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cmd: Command, cfg: Config) -> Result<()> {
    match cmd {
        Command::Demo { data, listen, seed } => {
            std::fs::create_dir_all(&data)
                .with_context(|| format!("creating the data directory {}", data.display()))?;
            let path = data.join("ygt.db");
            let url = format!("sqlite://{}", path.display());
            let store = Store::open(&url)
                .await
                .context("opening the demo database")?;
            let app = App::with_settings(store, cfg.settings()?);
            let o = app.store().overview().await?;
            if o.county + o.township + o.village == 0 {
                eprintln!("Generating the demo county (seed {seed}) ...");
                let summary = generate(&app, seed, Scale::Small).await?;
                eprintln!(
                    "Made {} institutions, {} departments and {} staff in {} community.",
                    summary.institutions, summary.departments, summary.staff, summary.communities
                );
            } else {
                eprintln!("Using the existing demo database {}", path.display());
            }
            let listen = listen
                .or(cfg.listen.clone())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
            serve(app, &listen, true).await
        }
        Command::Audit {
            command: AuditCommand::Verify { database },
        } => {
            let url = database_url(database, &cfg)?;
            let store = Store::connect(&url)
                .await
                .context("connecting to the database")?;
            let app = App::with_settings(store, cfg.settings()?);
            let report = app.verify_audit_chain().await?;
            match report.problem {
                None => {
                    println!("audit chain intact: {} events verified", report.verified);
                    Ok(())
                }
                Some(p) => bail!("audit chain broken: {p}"),
            }
        }
        Command::Serve { database, listen } => {
            let url = database_url(database, &cfg)?;
            let store = Store::open(&url).await.context("opening the database")?;
            let listen = listen
                .or(cfg.listen.clone())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
            serve(App::with_settings(store, cfg.settings()?), &listen, false).await
        }
        Command::Migrate { database } => {
            let url = database_url(database, &cfg)?;
            let store = Store::connect(&url)
                .await
                .context("connecting to the database")?;
            store.migrate().await.context("migrating")?;
            eprintln!("The {} database is up to date.", store.backend().name());
            Ok(())
        }
        Command::Generate {
            database,
            seed,
            scale,
        } => {
            let url = database_url(database, &cfg)?;
            let Some(scale) = Scale::parse(&scale) else {
                bail!("--scale must be small or county, not {scale:?}");
            };
            let store = Store::open(&url).await.context("opening the database")?;
            let app = App::with_settings(store, cfg.settings()?);
            let s = generate(&app, seed, scale).await?;
            eprintln!(
                "Made {} institutions, {} departments and {} staff in {} community.",
                s.institutions, s.departments, s.staff, s.communities
            );
            Ok(())
        }
    }
}

fn print_demo_accounts() {
    println!("Demo accounts (password {}):", ygt_synth::DEMO_PASSWORD);
    for (name, role) in ygt_synth::DEMO_ACCOUNTS {
        println!("  {name:<16} {} / {}", role.label_zh(), role.label_en());
    }
}

async fn generate(app: &App, seed: u64, scale: Scale) -> Result<ygt_synth::Summary> {
    let bar = ProgressBar::new(1);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta}")
    {
        bar.set_style(style);
    }
    let bar = Mutex::new(bar);
    let progress = |done: u64, total: u64| {
        if let Ok(b) = bar.lock() {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let result = ygt_synth::generate(app, seed, scale, &progress).await;
    if let Ok(b) = bar.lock() {
        b.finish_and_clear();
    }
    Ok(result?)
}

async fn serve(app: App, listen: &str, demo: bool) -> Result<()> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address such as 127.0.0.1:8080"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    let backend = app.store().backend().name();
    println!("ygt is running on {backend}: http://{local}/");
    println!("  API documentation: http://{local}/api/docs");
    if demo {
        print_demo_accounts();
    }
    println!("Press Ctrl-C to stop.");
    let store = app.store().clone();
    ygt_server::serve(listener, AppState::new(app), shutdown_signal()).await?;
    store.close().await;
    eprintln!("ygt stopped.");
    Ok(())
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
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
