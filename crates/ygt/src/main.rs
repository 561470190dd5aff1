//! `ygt`: one binary runs everything.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod import_clinical;

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
        /// Synthetic residents registered on the first run.
        #[arg(long, default_value_t = 5_000)]
        residents: usize,
        #[command(flatten)]
        web: WebArgs,
    },
    /// Serve the web UI and APIs.
    Serve {
        /// sqlite://PATH or postgres://USER@HOST/DB
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Also receive HL7 v2 messages over MLLP on this address (such as 0.0.0.0:2575).
        #[arg(long, requires = "mllp_token_file")]
        mllp: Option<String>,
        /// File holding the integration token the MLLP listener acts with (it needs
        /// patient.write at its institution); create one under 管理 → API 令牌.
        #[arg(long, env = "YGT_MLLP_TOKEN_FILE")]
        mllp_token_file: Option<PathBuf>,
        /// Close an MLLP connection that sends nothing for this many seconds.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        mllp_idle_secs: u64,
        /// At most this many MLLP connections at once (more are closed when accepted).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        mllp_max_connections: u64,
        #[command(flatten)]
        web: WebArgs,
    },
    /// Bring the database schema up to date.
    Migrate {
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
    },
    /// Link a CSV file of registrations: which records are the same person (uses all cores).
    Link {
        /// Input: record_id,institution,name,sex,birth_date,id_number,phone,address
        #[arg(long)]
        input: PathBuf,
        /// Output: record_id,person_id
        #[arg(long)]
        output: PathBuf,
        /// Turn off the household guard (for data without households, such as FEBRL, where a
        /// changed given name is a typo rather than a sibling).
        #[arg(long)]
        no_household_guard: bool,
    },
    /// Bulk loading.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// API tokens of integrations.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
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
        /// Synthetic residents to register (default: 5,000 for small, none for county).
        #[arg(long)]
        residents: Option<usize>,
        /// Instead of writing a database: write this many synthetic residents' registrations as
        /// a `ygt link` input file (and FILE.truth.csv with the truth), for benchmarks.
        #[arg(long, value_name = "FILE")]
        residents_csv: Option<PathBuf>,
        /// Do not add the residents' five years of clinical history.
        #[arg(long)]
        no_history: bool,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Register the residents of a CSV file (the `ygt link` input format) through the master
    /// patient index; the institution column holds an institution's id or name.
    Residents {
        file: PathBuf,
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
    },
    /// Record historical clinical data from a CSV file (see `ygt_interop::clinical_csv` for
    /// the columns); the institution column holds an institution's id or name.
    Clinical {
        file: PathBuf,
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain and print its head; exit status 0 only when it is intact
    /// (and reaches the expected head, when one is given).
    Verify {
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
        /// A head hash printed by an earlier run: fail unless the chain still holds that event
        /// (catches the deletion of the newest events).
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token as the operator and print it (once) on standard output.
    Create {
        #[arg(long, env = "YGT_DATABASE_URL")]
        database: Option<String>,
        /// The institution the token acts for: its unified social credit code (统一社会信用代码),
        /// its division code when no other institution has it, or its ygt id.
        #[arg(long, value_name = "CODE")]
        institution: String,
        /// A name for the token (such as the system that uses it).
        #[arg(long)]
        name: String,
        /// Permission codes separated by commas; `integration` stands for the integration set
        /// (patient.write, record.read_own).
        #[arg(long, value_name = "LIST")]
        permissions: String,
        /// Days until the token expires (1 to 365; 90 when not given).
        #[arg(long, value_name = "N")]
        valid_days: Option<i64>,
    },
}

/// Settings of the web door shared by `serve` and `demo`.
#[derive(clap::Args)]
struct WebArgs {
    /// The URL clients reach ygt under, such as https://ygt.example.cn (absolute links are
    /// made from it, never from the Host header); default: http:// and the listen address.
    #[arg(long, env = "YGT_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// File holding the bearer token /metrics requires (without one, /metrics is off).
    #[arg(long, env = "YGT_METRICS_TOKEN_FILE", value_name = "FILE")]
    metrics_token_file: Option<PathBuf>,
    /// A proxy (address or range such as 10.0.0.0/8) whose X-Forwarded-For and
    /// X-Forwarded-Proto are believed; repeat for several (environment: comma-separated).
    /// Without one, the connection's peer is the client and no forwarding header counts.
    #[arg(
        long = "trusted-proxy",
        env = "YGT_TRUSTED_PROXIES",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<String>,
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
    /// The URL clients reach ygt under (default: http:// and the listen address).
    public_url: Option<String>,
    /// The bearer token /metrics requires (without one, /metrics is off).
    metrics_token: Option<String>,
    /// Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (addresses or
    /// ranges).
    trusted_proxies: Option<Vec<String>>,
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

/// The shortest metrics token accepted.
const METRICS_TOKEN_MIN: usize = 16;

/// The web door's settings from the flags, the environment and the file.
struct Web {
    /// None when nothing gives one (then the listen address decides).
    public_url: Option<String>,
    metrics_token: Option<String>,
    trusted_proxies: ygt_server::proxy::TrustedProxies,
}

/// The web door's settings: a flag (or its environment variable) wins over the file.
fn web_config(args: &WebArgs, cfg: &Config) -> Result<Web> {
    let public_url = match args.public_url.as_ref().or(cfg.public_url.as_ref()) {
        Some(u) => Some(
            ygt_server::ServerConfig::parse_public_url(u).map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        None => None,
    };
    let metrics_token = match &args.metrics_token_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading the metrics token file {}", f.display()))?
                .trim()
                .to_owned(),
        ),
        None => cfg.metrics_token.as_ref().map(|t| t.trim().to_owned()),
    };
    if let Some(t) = &metrics_token
        && (t.chars().count() < METRICS_TOKEN_MIN || !t.chars().all(|c| c.is_ascii_graphic()))
    {
        bail!(
            "the metrics token must be at least {METRICS_TOKEN_MIN} visible ASCII characters (no spaces)"
        );
    }
    let proxies = if args.trusted_proxies.is_empty() {
        cfg.trusted_proxies.clone().unwrap_or_default()
    } else {
        args.trusted_proxies.clone()
    };
    let trusted_proxies =
        ygt_server::proxy::TrustedProxies::parse(&proxies).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Web {
        public_url,
        metrics_token,
        trusted_proxies,
    })
}

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
        Command::Demo {
            data,
            listen,
            seed,
            residents,
            web,
        } => {
            let web = web_config(&web, &cfg)?;
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
                if residents > 0 {
                    eprintln!(
                        "Registering {residents} synthetic residents through the master patient index ..."
                    );
                    let (persons, regs) = generate_residents(&app, seed, residents).await?;
                    eprintln!("{regs} registrations, {persons} persons in the index.");
                    eprintln!("Recording five years of clinical history ...");
                    let items = generate_history(&app, seed).await?;
                    eprintln!("{items} clinical items in the shared health record.");
                }
                eprintln!("Writing calendars and two-way referrals ...");
                let r = generate_referrals(&app, seed, Scale::Small).await?;
                report_referrals(&r);
            } else {
                eprintln!("Using the existing demo database {}", path.display());
            }
            let listen = listen
                .or(cfg.listen.clone())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
            serve(app, &listen, true, web, shutdown_on_signal()).await
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    database,
                    expect_head,
                },
        } => {
            let url = database_url(database, &cfg)?;
            let store = Store::connect(&url)
                .await
                .context("connecting to the database")?;
            let app = App::with_settings(store, cfg.settings()?);
            let report = app
                .verify_audit_chain_expecting(expect_head.as_deref())
                .await?;
            if let Some(p) = report.problem {
                bail!("audit chain broken: {p}");
            }
            if let Some(at) = report.inbox_modified {
                bail!(
                    "audit inbox broken: waiting event {at} was modified: its stored hash does \
                     not match its content"
                );
            }
            println!("audit chain intact: {} events verified", report.verified);
            println!(
                "audit inbox intact: {} events waiting to be sealed",
                report.pending
            );
            match &report.head {
                Some((seq, hash)) => println!("head: event {seq}, hash {hash}"),
                None => println!("head: none (the log is empty)"),
            }
            if let Some(h) = expect_head {
                match report.expected_at {
                    Some(seq) => println!("expected head {} found: event {seq}", h.trim()),
                    None => bail!(
                        "the audit chain no longer reaches the expected head {}: no event has \
                         that hash, so events were deleted from the end (or the hash was \
                         recorded from another database)",
                        h.trim()
                    ),
                }
            }
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    database,
                    institution,
                    name,
                    permissions,
                    valid_days,
                },
        } => {
            let url = database_url(database, &cfg)?;
            let store = Store::connect(&url)
                .await
                .context("connecting to the database")?;
            let app = App::with_settings(store, cfg.settings()?);
            let r = create_token(&app, &institution, &name, &permissions, valid_days).await;
            close(&app).await;
            r
        }
        Command::Serve {
            database,
            listen,
            mllp,
            mllp_token_file,
            mllp_idle_secs,
            mllp_max_connections,
            web,
        } => {
            let web = web_config(&web, &cfg)?;
            let url = database_url(database, &cfg)?;
            let store = Store::open(&url).await.context("opening the database")?;
            let listen = listen
                .or(cfg.listen.clone())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
            let app = App::with_settings(store, cfg.settings()?);
            let stop = shutdown_on_signal();
            if let (Some(addr), Some(file)) = (mllp, mllp_token_file) {
                let limits = ygt_server::hl7::MllpLimits {
                    idle: std::time::Duration::from_secs(mllp_idle_secs),
                    max_connections: usize::try_from(mllp_max_connections).unwrap_or(64),
                };
                start_mllp(&app, &addr, &file, limits, stop.clone()).await?;
            }
            serve(app, &listen, false, web, stop).await
        }
        Command::Migrate { database } => {
            let url = database_url(database, &cfg)?;
            let store = Store::connect(&url)
                .await
                .context("connecting to the database")?;
            store.migrate().await.context("migrating")?;
            reindex(&App::with_settings(store.clone(), cfg.settings()?)).await?;
            eprintln!("The {} database is up to date.", store.backend().name());
            Ok(())
        }
        Command::Generate {
            database,
            seed,
            scale,
            residents,
            residents_csv,
            no_history,
        } => {
            let Some(scale) = Scale::parse(&scale) else {
                bail!("--scale must be small or county, not {scale:?}");
            };
            let people = residents.unwrap_or(match scale {
                Scale::Small => 5_000,
                Scale::County => 0,
            });
            if let Some(path) = residents_csv {
                return write_residents_csv(seed, scale, people, &path).await;
            }
            let url = database_url(database, &cfg)?;
            let store = Store::open(&url).await.context("opening the database")?;
            let app = App::with_settings(store, cfg.settings()?);
            let s = generate(&app, seed, scale).await?;
            eprintln!(
                "Made {} institutions, {} departments and {} staff in {} community.",
                s.institutions, s.departments, s.staff, s.communities
            );
            if people > 0 {
                let (persons, regs) = generate_residents(&app, seed, people).await?;
                eprintln!(
                    "Registered {regs} registrations of {people} residents: {persons} persons in the index."
                );
                if !no_history {
                    let items = generate_history(&app, seed).await?;
                    eprintln!("Recorded {items} clinical items: five years of history.");
                }
            }
            let r = generate_referrals(&app, seed, scale).await?;
            report_referrals(&r);
            close(&app).await;
            Ok(())
        }
        Command::Link {
            input,
            output,
            no_household_guard,
        } => link(&input, &output, !no_household_guard),
        Command::Import {
            what: ImportCommand::Clinical { file, database },
        } => {
            let url = database_url(database, &cfg)?;
            let store = Store::open(&url).await.context("opening the database")?;
            let app = App::with_settings(store, cfg.settings()?);
            let r = import_clinical::import(&app, &file).await;
            close(&app).await;
            r
        }
        Command::Import {
            what: ImportCommand::Residents { file, database },
        } => {
            let url = database_url(database, &cfg)?;
            let store = Store::open(&url).await.context("opening the database")?;
            let app = App::with_settings(store, cfg.settings()?);
            let r = import_residents(&app, &file).await;
            close(&app).await;
            r
        }
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

async fn generate_history(app: &App, seed: u64) -> Result<usize> {
    let bar = Mutex::new(progress_bar(1));
    let progress = |done: u64, total: u64| {
        if let Ok(b) = bar.lock() {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let r = ygt_synth::generate_history(app, seed, &progress).await;
    if let Ok(b) = bar.lock() {
        b.finish_and_clear();
    }
    Ok(r?)
}

async fn generate_referrals(
    app: &App,
    seed: u64,
    scale: Scale,
) -> Result<ygt_synth::referrals::ReferralSummary> {
    let bar = Mutex::new(progress_bar(1));
    let progress = |done: u64, total: u64| {
        if let Ok(b) = bar.lock() {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let r = ygt_synth::referrals::generate_referrals(app, seed, scale, &progress).await;
    if let Ok(b) = bar.lock() {
        b.finish_and_clear();
    }
    Ok(r?)
}

fn report_referrals(r: &ygt_synth::referrals::ReferralSummary) {
    eprintln!(
        "{} calendars with {} slots at the county hospital (about 40 % reserved for referrals).",
        r.calendars, r.slots
    );
    if r.referrals == 0 {
        return;
    }
    let per = |dir: &str| -> String {
        r.by_state
            .iter()
            .filter(|((d, _), _)| d == dir)
            .map(|((_, s), n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    eprintln!(
        "{} two-way referrals ({} overdue now); up: {}; down: {}.",
        r.referrals,
        r.overdue,
        per("up"),
        per("down")
    );
}

async fn generate_residents(app: &App, seed: u64, people: usize) -> Result<(i64, usize)> {
    let bar = Mutex::new(progress_bar(1));
    let progress = |done: u64, total: u64| {
        if let Ok(b) = bar.lock() {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let r = ygt_synth::generate_residents(app, seed, people, &progress).await;
    if let Ok(b) = bar.lock() {
        b.finish_and_clear();
    }
    Ok(r?)
}

/// Writes a benchmark file: the registrations of `people` synthetic residents of a county of
/// the given scale, and the truth beside it.
async fn write_residents_csv(seed: u64, scale: Scale, people: usize, path: &Path) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("ygt-sites-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("sites.db").display());
    let result = async {
        let app = App::new(Store::open(&url).await?);
        ygt_synth::generate(&app, seed, scale, &|_, _| {}).await?;
        // Institutions are named in the file (the same names for the same seed), so that the
        // file can be imported into a county generated with that seed.
        let sites: Vec<_> = ygt_synth::sites(&app)
            .await?
            .into_iter()
            .map(|mut site| {
                site.id = site.name.clone();
                site
            })
            .collect();
        app.store().close().await;
        let mut rng = ygt_synth::rng::Rng::new(seed).fork(5);
        let (_, regs) = ygt_synth::residents::generate(&mut rng, people, &sites);
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        ygt_synth::residents::write_link_csv(&regs, &sites, &mut out)?;
        let truth_path = path.with_extension("truth.csv");
        let mut truth = std::io::BufWriter::new(std::fs::File::create(&truth_path)?);
        ygt_synth::residents::write_truth_csv(&regs, &mut truth)?;
        eprintln!(
            "Wrote {} registrations of {people} residents to {} (truth: {}).",
            regs.len(),
            path.display(),
            truth_path.display()
        );
        anyhow::Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn link(input: &Path, output: &Path, household_guard: bool) -> Result<()> {
    let start = std::time::Instant::now();
    let file =
        std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let read = ygt_interop::link_csv::read(std::io::BufReader::new(file))?;
    for p in &read.problems {
        eprintln!("{}: {p}", input.display());
    }
    let bar = progress_bar(read.records.len() as u64);
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let cfg = ygt_empi::Config {
        household_guard,
        ..ygt_empi::Config::default()
    };
    let clusters = ygt_empi::link_batch(&read.records, &cfg, &progress);
    bar.finish_and_clear();
    let rows: Vec<(String, String)> = read
        .records
        .iter()
        .zip(clusters.iter())
        .map(|(r, c)| (r.record_id.clone(), format!("P{:08}", c + 1)))
        .collect();
    let persons = clusters
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let out =
        std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    ygt_interop::link_csv::write(std::io::BufWriter::new(out), &rows)?;
    eprintln!(
        "Linked {} records into {persons} persons in {:.1} s; {} problem lines reported.",
        rows.len(),
        start.elapsed().as_secs_f64(),
        read.problems.len()
    );
    Ok(())
}

fn resident_draft(
    r: &ygt_empi::Registration,
    institution: uuid::Uuid,
) -> ygt_app::mpi::ResidentDraft {
    ygt_app::mpi::ResidentDraft {
        institution_id: institution.to_string(),
        record_id: Some(r.record_id.clone()),
        name: r.name.clone(),
        sex: r.sex.map(|s| s.code().to_owned()),
        birth_date: r.birth_date.map(|b| b.to_string()),
        id_number: r.id_number.clone(),
        phone: r.phone.clone(),
        address: r.address.clone(),
        ..Default::default()
    }
}

async fn import_residents(app: &App, file: &Path) -> Result<()> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let read = ygt_interop::link_csv::read(std::io::BufReader::new(f))?;
    for p in &read.problems {
        eprintln!("{}: {p}", file.display());
    }
    let ctx = ygt_app::Ctx::system();
    let (institutions, _) = app.list_institutions(&ctx, &Default::default()).await?;
    let find = |name: &str| {
        institutions.iter().find(|i| {
            i.id.to_string() == name || i.name == name || i.aliases.iter().any(|a| a == name)
        })
    };
    if app.store().count_persons().await? == 0 {
        // An empty index: load everything at once through the batch engine.
        let mut drafts = Vec::with_capacity(read.records.len());
        let mut lines = Vec::with_capacity(read.records.len());
        for (r, line) in read.records.iter().zip(read.lines.iter()) {
            let Some(inst) = find(&r.institution) else {
                eprintln!(
                    "{}: line {line}: institution {:?} is not in the registry (record skipped)",
                    file.display(),
                    r.institution
                );
                continue;
            };
            drafts.push(resident_draft(r, inst.id));
            lines.push(*line);
        }
        let bar = progress_bar(drafts.len() as u64);
        let progress = |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
        };
        let report = app.bulk_load_residents(&ctx, &drafts, &progress).await?;
        bar.finish_and_clear();
        for (i, reason) in &report.skipped {
            eprintln!(
                "{}: line {}: {reason} (record skipped)",
                file.display(),
                lines.get(*i).copied().unwrap_or(0)
            );
        }
        eprintln!(
            "Loaded {} registrations into an empty index: {} persons; {} skipped.",
            report.registrations,
            report.persons,
            report.skipped.len()
        );
        return Ok(());
    }
    let bar = progress_bar(read.records.len() as u64);
    let (mut ok, mut failed) = (0usize, 0usize);
    for (r, line) in read.records.iter().zip(read.lines.iter()) {
        bar.inc(1);
        let inst = find(&r.institution);
        let Some(inst) = inst else {
            bar.suspend(|| {
                eprintln!(
                    "{}: line {line}: institution {:?} is not in the registry (record skipped)",
                    file.display(),
                    r.institution
                )
            });
            failed += 1;
            continue;
        };
        let d = resident_draft(r, inst.id);
        match app.register_resident(&ctx, &d).await {
            Ok(_) => ok += 1,
            Err(e) => {
                bar.suspend(|| eprintln!("{}: line {line}: {e} (record skipped)", file.display()));
                failed += 1;
            }
        }
    }
    bar.finish_and_clear();
    eprintln!(
        "Imported {ok} registrations; {failed} skipped; {} persons in the index.",
        app.store().count_persons().await?
    );
    Ok(())
}

fn print_demo_accounts() {
    println!("Demo accounts (password {}):", ygt_synth::DEMO_PASSWORD);
    for (name, role) in ygt_synth::DEMO_ACCOUNTS {
        println!("  {name:<16} {} / {}", role.label_zh(), role.label_en());
    }
    println!("Two-way referral (双向转诊) walk-through, same password:");
    for (name, what) in ygt_synth::REFERRAL_WALKTHROUGH {
        println!("  {name:<16} {what}");
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

/// Rebuilds derived indexes a migration left empty.
async fn reindex(app: &App) -> Result<()> {
    let n = app
        .ensure_blocking_index()
        .await
        .context("rebuilding the blocking index of the master patient index")?;
    if n > 0 {
        eprintln!("Rebuilt the blocking index of {n} registrations.");
    }
    let n = app
        .ensure_search_initials()
        .await
        .context("filling in the pinyin initials of registrations")?;
    if n > 0 {
        eprintln!("Filled in the pinyin initials of {n} registrations.");
    }
    Ok(())
}

/// Starts the HL7 v2 listener beside the web server (it stops with the process).
async fn start_mllp(
    app: &App,
    addr: &str,
    token_file: &std::path::Path,
    limits: ygt_server::hl7::MllpLimits,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let secret = std::fs::read_to_string(token_file)
        .with_context(|| format!("reading the MLLP token file {}", token_file.display()))?
        .trim()
        .to_owned();
    let door =
        std::sync::Arc::new(ygt_server::hl7::Hl7Door::new(app.clone(), secret).with_limits(limits));
    let principal = door.check().await.map_err(|e| match e {
        ygt_app::AppError::Unauthenticated => anyhow::anyhow!(
            "the MLLP token in {} is unknown, revoked or expired",
            token_file.display()
        ),
        e => anyhow::anyhow!(
            "the MLLP token in {} does not work: {e}",
            token_file.display()
        ),
    })?;
    let sock: SocketAddr = addr
        .parse()
        .with_context(|| format!("--mllp {addr:?} is not an address such as 0.0.0.0:2575"))?;
    let listener = tokio::net::TcpListener::bind(sock)
        .await
        .with_context(|| format!("listening for MLLP on {sock}"))?;
    println!(
        "HL7 v2 (MLLP) on {} as {}",
        listener.local_addr()?,
        principal.display_name
    );
    tokio::spawn(async move {
        if let Err(e) = door.serve(listener, stopped(stop)).await {
            tracing::error!(error = %e, "MLLP listener stopped");
        }
    });
    Ok(())
}

/// `ygt token create`: the operator (system actor) creates an API token for an institution
/// found by its code; the secret goes to standard output, once; the creation is audited.
async fn create_token(
    app: &App,
    code: &str,
    name: &str,
    permissions: &str,
    valid_days: Option<i64>,
) -> Result<()> {
    let ctx = ygt_app::Ctx::system();
    let (institutions, _) = app
        .list_institutions(
            &ctx,
            &ygt_app::ygt_store::org::InstitutionFilter {
                limit: Some(100_000),
                ..Default::default()
            },
        )
        .await?;
    let code = code.trim();
    let by_uscc: Vec<_> = institutions
        .iter()
        .filter(|i| {
            i.uscc
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(code))
                || i.id.to_string() == code.to_ascii_lowercase()
        })
        .collect();
    let found: Vec<_> = if by_uscc.is_empty() {
        institutions
            .iter()
            .filter(|i| i.division_code == code)
            .collect()
    } else {
        by_uscc
    };
    let inst = match found.as_slice() {
        [one] => *one,
        [] => bail!(
            "--institution {code:?}: no active institution has this unified social credit code, \
             division code or id"
        ),
        many => bail!(
            "--institution {code:?}: {} institutions share this division code; give the unified \
             social credit code or the id instead",
            many.len()
        ),
    };
    let perms: Vec<String> = permissions
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let created = app
        .create_token(&ctx, name, inst.id, &perms, valid_days)
        .await
        .map_err(|e| match e {
            ygt_app::AppError::Invalid(v) => {
                let lines: Vec<String> =
                    v.0.iter()
                        .map(|x| {
                            let flag = match x.field.split('[').next().unwrap_or("") {
                                "valid_days" => "--valid-days",
                                "permissions" => "--permissions",
                                "name" => "--name",
                                "institution_id" => "--institution",
                                f => f,
                            };
                            format!(
                                "{flag} ({}): {}",
                                x.field,
                                ygt_server::i18n::Lang::En.reason(&x.reason)
                            )
                        })
                        .collect();
                anyhow::anyhow!("{}", lines.join("; "))
            }
            e => anyhow::anyhow!("{e}"),
        })?;
    let expires = created
        .token
        .expires_at
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    eprintln!(
        "Created the token {:?} for {} with {}, valid until {expires}. It is shown only \
         once (below, on standard output) and stored only as a hash.",
        created.token.name, inst.name, created.token.permissions
    );
    println!("{}", created.secret);
    Ok(())
}

async fn serve(
    app: App,
    listen: &str,
    demo: bool,
    web: Web,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let Web {
        public_url,
        metrics_token,
        trusted_proxies,
    } = web;
    reindex(&app).await?;
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address such as 127.0.0.1:8080"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    if public_url.is_none() && addr.ip().is_unspecified() {
        tracing::warn!(
            "listening on {addr} without public_url: absolute links name {}; set public_url",
            ygt_server::ServerConfig::public_url_for(local)
        );
    }
    if !trusted_proxies.is_empty() {
        tracing::info!(proxies = %trusted_proxies.describe(), "trusting X-Forwarded-For and X-Forwarded-Proto of these proxies");
    }
    let config = ygt_server::ServerConfig {
        public_url: public_url.unwrap_or_else(|| ygt_server::ServerConfig::public_url_for(local)),
        metrics_token,
        trusted_proxies,
        ..Default::default()
    };
    let backend = app.store().backend().name();
    println!("ygt is running on {backend}: http://{local}/");
    println!("  API documentation: http://{local}/api/docs");
    if demo {
        print_demo_accounts();
    }
    println!("Press Ctrl-C to stop.");
    let store = app.store().clone();
    let sealer = app
        .start_audit_sealer()
        .await
        .context("sealing the audit inbox")?;
    ygt_server::serve(listener, AppState::with_config(app, config), stopped(stop)).await?;
    let sealed = sealer.stop().await.context("sealing the audit inbox")?;
    tracing::info!(events = sealed.sealed, "sealed the audit inbox");
    store.close().await;
    eprintln!("ygt stopped.");
    Ok(())
}

/// Seals the audit events this command left in the inbox, then closes the database.
async fn close(app: &App) {
    if let Err(e) = app.seal_audit_inbox().await {
        tracing::warn!(error = %e, "sealing the audit inbox failed; the next start seals it");
    }
    app.store().close().await;
}

/// The process's one shutdown, for every listener: SIGINT or SIGTERM, registered here, before
/// any listener starts, and kept, so that a listener that starts waiting after the signal came
/// (the web server starts after the MLLP listener and the start-up reindex) still stops.
fn shutdown_on_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        tokio::spawn(async move {
            match (term, int) {
                (Ok(mut t), Ok(mut i)) => {
                    tokio::select! {
                        _ = t.recv() => {},
                        _ = i.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::info!("shutting down");
            let _ = tx.send(true);
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}

/// Resolves once the process is shutting down (at once if it already is).
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener that starts waiting after the signal came (the web server starts after the
    /// MLLP listener and the start-up reindex) still stops.
    #[cfg(unix)]
    #[tokio::test]
    #[allow(clippy::expect_used)]
    async fn a_late_listener_still_hears_the_shutdown() {
        let stop = shutdown_on_signal();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        tokio::time::timeout(std::time::Duration::from_secs(5), stopped(stop.clone()))
            .await
            .expect("the late listener stops");
    }
}
