//! `fieldwork-server`: the sync server and its admin commands.
//!
//! ```text
//! fieldwork-server [--data DIR] serve [--listen ADDR] [--trusted-proxy IP]... [--max-tcp-connections N] ...
//! fieldwork-server [--data DIR] user add --name N --role R [--territory T]... [--manager M] [--time-zone TZ] --password-stdin
//! fieldwork-server [--data DIR] user list|disable|enable|set ...
//! fieldwork-server [--data DIR] policy set FILE | policy show
//! fieldwork-server [--data DIR] backup FILE
//! fieldwork-server [--data DIR] audit [--limit N]
//! ```
//! Admin commands work on the database directly, before the server first
//! starts and while it runs (a running server notices within a second).

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fieldwork_core::clock::clock_from_env;
use fieldwork_server::db::users::{self, NewUser};
use fieldwork_server::db::{audit, policy};
use fieldwork_server::{AppState, ServerConfig, admin};

/// The Fieldwork sync server.
#[derive(Debug, Parser)]
#[command(name = "fieldwork-server", version, about)]
struct Cli {
    /// Data directory (default: the per-user data directory).
    #[arg(long, global = true, env = "FIELDWORK_SERVER_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server until SIGINT or SIGTERM.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Connection and login limits.
        #[command(flatten)]
        limits: ServeLimits,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage the privacy policy.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Write a consistent copy of the database to FILE (safe while serving).
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
    },
    /// Process models: import, publish, migrate, monitor.
    #[command(subcommand)]
    Process(ProcessCmd),
    /// Show recent refused changes.
    Audit {
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// `serve` flags for the limits of docs/PROTOCOL.md ("Limits"); each
/// defaults to the value of [`ServerConfig::new`].
#[derive(Debug, Args)]
struct ServeLimits {
    /// A reverse proxy whose X-Forwarded-For header is believed (repeatable;
    /// default: none, the TCP peer is the client).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Most open TCP connections (default 4096).
    #[arg(long, value_name = "N")]
    max_tcp_connections: Option<usize>,
    /// Most open TCP connections from one address (default 256).
    #[arg(long, value_name = "N")]
    max_connections_per_address: Option<usize>,
    /// Seconds a client may take to send request headers (default 10).
    #[arg(long, value_name = "SECS")]
    header_timeout: Option<u64>,
    /// Seconds a client may take to send a login or admin body (default 10).
    #[arg(long, value_name = "SECS")]
    body_timeout: Option<u64>,
    /// Most password verifications running at once (default 4).
    #[arg(long, value_name = "N")]
    login_concurrency: Option<usize>,
    /// Most logins waiting for a verification (default 32).
    #[arg(long, value_name = "N")]
    login_queue: Option<usize>,
}

impl ServeLimits {
    fn apply(&self, c: &mut ServerConfig) {
        c.trusted_proxies
            .extend(self.trusted_proxies.iter().copied());
        if let Some(n) = self.max_tcp_connections {
            c.max_tcp_connections = n;
        }
        if let Some(n) = self.max_connections_per_address {
            c.max_connections_per_address = n;
        }
        if let Some(s) = self.header_timeout {
            c.header_read_timeout = std::time::Duration::from_secs(s.max(1));
        }
        if let Some(s) = self.body_timeout {
            c.body_timeout = std::time::Duration::from_secs(s.max(1));
        }
        if let Some(n) = self.login_concurrency {
            c.login_concurrency = n.max(1);
        }
        if let Some(n) = self.login_queue {
            c.login_queue = n;
        }
    }
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create a user; the password is read from standard input.
    Add(AddUser),
    /// List users.
    List,
    /// Disable a user (ends their sessions).
    Disable {
        /// User name.
        name: String,
    },
    /// Re-enable a user.
    Enable {
        /// User name.
        name: String,
    },
    /// Change a user's role or territories.
    Set {
        /// User name.
        name: String,
        /// New role.
        #[arg(long)]
        role: Option<String>,
        /// New territories (replace the old ones; repeatable).
        #[arg(long = "territory")]
        territories: Vec<String>,
        /// Remove every territory.
        #[arg(long, conflicts_with = "territories")]
        no_territories: bool,
    },
}

#[derive(Debug, Args)]
struct AddUser {
    /// Unique user name.
    #[arg(long)]
    name: String,
    /// Role (a role of the policy: rep, manager, admin, ...).
    #[arg(long)]
    role: String,
    /// Territory (repeatable).
    #[arg(long = "territory")]
    territories: Vec<String>,
    /// The user's manager.
    #[arg(long)]
    manager: Option<String>,
    /// IANA time zone, e.g. Europe/Madrid.
    #[arg(long)]
    time_zone: Option<String>,
    /// Read the password from standard input (required: never on the command line).
    #[arg(long, required = true)]
    password_stdin: bool,
}

#[derive(Debug, Subcommand)]
enum ProcessCmd {
    /// Import a BPMN 2.0 file from a modeler and publish it as the next version.
    Import {
        /// The .bpmn file.
        file: PathBuf,
        /// Only check and print the model; publish nothing.
        #[arg(long)]
        dry_run: bool,
        /// Who publishes it: instances its schedule starts run with this
        /// user's rights (an active user).
        #[arg(long = "as", default_value = "admin")]
        publisher: String,
    },
    /// Publish a model (TOML, JSON or BPMN) as the next version of its key.
    Publish {
        /// The model file.
        file: PathBuf,
        /// Who publishes it: instances its schedule starts run with this
        /// user's rights (an active user).
        #[arg(long = "as", default_value = "admin")]
        publisher: String,
    },
    /// List published model versions.
    List,
    /// Move a running instance to another version of its model.
    Migrate {
        /// The instance id.
        instance: String,
        /// The target version.
        #[arg(long)]
        to: i64,
    },
    /// Instances per step, time per step, overdue and stuck, per model version.
    Monitor,
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Validate and install a policy file; an invalid one is refused and the old one stays.
    Set {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print the policy in force.
    Show,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn data_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(d) = &cli.data {
        return Ok(d.clone());
    }
    directories::ProjectDirs::from("", "", "fieldwork-server")
        .map(|d| d.data_dir().to_owned())
        .context("no home directory; pass --data DIR")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = data_dir(&cli)?;
    let mut config = ServerConfig::new(dir.clone());
    if let Command::Serve { limits, .. } = &cli.command {
        limits.apply(&mut config);
    }
    let state = AppState::open(config, Some(clock_from_env()?))?;
    match cli.command {
        Command::Serve { listen, .. } => serve(state, listen, &dir),
        Command::User(cmd) => user(&state, cmd, cli.json),
        Command::Policy(PolicyCmd::Set { file }) => {
            let source = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let revision = admin::install_policy(&state, &source, "admin-cli")?;
            println!("policy revision {revision} is in force");
            Ok(())
        }
        Command::Policy(PolicyCmd::Show) => {
            let (revision, policy) = state.db.read_blocking(policy::current)?;
            println!("# revision {revision}\n{}", policy.source());
            Ok(())
        }
        Command::Process(cmd) => process(&state, cmd, cli.json),
        Command::Backup { file } => {
            state.db.backup(&file)?;
            println!("backed up to {}", file.display());
            Ok(())
        }
        Command::Audit { limit } => {
            let entries = state.db.read_blocking(|c| audit::recent(c, limit))?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in entries {
                    let at = jiff::Timestamp::from_millisecond(e.at)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    println!(
                        "{at}  {:<10} {:<22} {} {}",
                        e.user,
                        e.code,
                        e.doc.unwrap_or_default(),
                        e.message
                    );
                }
            }
            Ok(())
        }
    }
}

fn user(state: &AppState, cmd: UserCmd, json: bool) -> anyhow::Result<()> {
    let show = |u: &users::User| -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(u)?);
        } else {
            println!(
                "{:<16} {:<10} territories: [{}]  manager: {}{}",
                u.name,
                u.role,
                u.territories.join(", "),
                u.manager.as_deref().unwrap_or("-"),
                if u.disabled { "  (disabled)" } else { "" }
            );
        }
        Ok(())
    };
    match cmd {
        UserCmd::Add(a) => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let new = NewUser {
                name: a.name,
                role: a.role,
                territories: a.territories,
                manager: a.manager,
                time_zone: a.time_zone,
            };
            let user = admin::add_user(state, &new, password)?;
            show(&user)
        }
        UserCmd::List => {
            let all = state.db.read_blocking(users::list)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(());
            }
            for u in &all {
                show(u)?;
            }
            Ok(())
        }
        UserCmd::Disable { name } => show(
            &state
                .db
                .write_blocking(|w| users::set_disabled(&w.conn, &name, true))?,
        ),
        UserCmd::Enable { name } => show(
            &state
                .db
                .write_blocking(|w| users::set_disabled(&w.conn, &name, false))?,
        ),
        UserCmd::Set {
            name,
            role,
            territories,
            no_territories,
        } => {
            let t = if no_territories || !territories.is_empty() {
                Some(territories)
            } else {
                None
            };
            show(
                &state.db.write_blocking(|w| {
                    users::update(&w.conn, &name, role.as_deref(), t.as_deref())
                })?,
            )
        }
    }
}

fn serve(
    state: std::sync::Arc<AppState>,
    listen: SocketAddr,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if state.db.read(users::count).await? == 0 {
            eprintln!(
                "No users yet. Create the first administrator with:\n  fieldwork-server --data {} user add --name admin --role admin --password-stdin",
                dir.display()
            );
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data = %dir.display(), "fieldwork-server listening");
        // Scripts and tests read this line to learn the port.
        // Install the signal handlers before announcing the port, so a
        // SIGTERM sent right after this line already means "shut down".
        let shutdown = shutdown_signal()?;
        println!("listening on http://{addr}");
        fieldwork_server::run(listener, state, shutdown).await?;
        Ok(())
    })
}

/// Registers SIGINT and SIGTERM handlers now and returns a future that
/// resolves when either arrives.
fn process(state: &AppState, cmd: ProcessCmd, json: bool) -> anyhow::Result<()> {
    use fieldwork_server::process_admin as pa;
    match cmd {
        ProcessCmd::Import {
            file,
            dry_run: true,
            ..
        } => {
            let model = pa::read_model(&file)?;
            println!("{}", toml::to_string_pretty(&model)?);
            Ok(())
        }
        ProcessCmd::Import {
            file, publisher, ..
        }
        | ProcessCmd::Publish { file, publisher } => {
            let model = pa::read_model(&file)?;
            let (id, version) = pa::publish(state, model.clone(), &publisher)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "id": id.to_string(), "key": model.key, "version": version })
                );
            } else {
                println!("published {} version {version} ({id})", model.key);
            }
            Ok(())
        }
        ProcessCmd::List => {
            let models = pa::list(state)?;
            if json {
                let rows: Vec<_> = models
                    .iter()
                    .map(|(k, v, n)| serde_json::json!({ "key": k, "version": v, "name": n }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for (k, v, n) in models {
                    println!("{k}\tv{v}\t{n}");
                }
            }
            Ok(())
        }
        ProcessCmd::Migrate { instance, to } => {
            let id = instance.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            pa::migrate(state, &id, to, "admin")?;
            println!("{instance} now runs on version {to}");
            Ok(())
        }
        ProcessCmd::Monitor => {
            let report = pa::report(state)?;
            let failed = pa::failures(state)?;
            if json {
                let failed: Vec<_> = failed
                    .iter()
                    .map(|(i, why)| serde_json::json!({ "instance": i, "reason": why }))
                    .collect();
                let out = serde_json::json!({ "versions": report, "failed": failed });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_report(&report);
                for (instance, why) in &failed {
                    println!("failed: {instance}: {why}");
                }
            }
            Ok(())
        }
    }
}

/// Prints a monitoring report as a table.
fn print_report(report: &[fieldwork_core::process::monitor::VersionReport]) {
    let hours = |s: Option<i64>| s.map_or("-".to_owned(), |s| format!("{:.1}h", s as f64 / 3600.0));
    for r in report {
        println!(
            "{} v{}: {} running, {} suspended, {} stopped, {} completed, {} overdue tasks",
            r.key, r.version, r.running, r.suspended, r.stopped, r.completed, r.overdue
        );
        println!(
            "  {:<24} {:>7} {:>9} {:>8} {:>8} {:>6}",
            "step", "current", "completed", "median", "p90", "stuck"
        );
        for (step, s) in &r.steps {
            println!(
                "  {:<24} {:>7} {:>9} {:>8} {:>8} {:>6}",
                step,
                s.current,
                s.completed,
                hours(s.median_secs),
                hours(s.p90_secs),
                s.stuck
            );
        }
    }
}

fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
