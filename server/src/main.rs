//! `fieldwork-server`: the sync server and its admin commands.
//!
//! ```text
//! fieldwork-server [--data DIR] serve [--listen ADDR] [--admin-listen ADDR|none]
//!                  [--tls-cert FILE --tls-key FILE | --tls-self-signed] [--insecure-http]
//!                  [--trusted-proxy IP]... [--max-tcp-connections N] ...
//! fieldwork-server [--data DIR] user add --name N --role R [--territory T]... [--manager M] [--time-zone TZ] --password-stdin
//! fieldwork-server [--data DIR] user list|disable|enable|set ...
//! fieldwork-server [--data DIR] policy set FILE | policy show
//! fieldwork-server [--data DIR] backup FILE
//! fieldwork-server [--data DIR] audit [--limit N]
//! fieldwork-server [--data DIR] device list [--user NAME] [--json]
//! fieldwork-server [--data DIR] device wipe DEVICE_ID [--yes]
//! fieldwork-server [--data DIR] api-key create --name N --user U [--read-write] [--kind K]... [--rate-per-minute N]
//! fieldwork-server [--data DIR] api-key list | api-key revoke ID
//! fieldwork-server [--data DIR] [--json] import KIND FILE [--mapping FILE | --mapping-name NAME] [--dry-run] [--skip-invalid]
//! fieldwork-server [--data DIR] [--json] gdpr erase CONTACT_ID
//! ```
//! Admin commands work on the database directly, before the server first
//! starts and while it runs (a running server notices within a second).
//!
//! `serve` flags for transport security (docs/PROTOCOL.md, "Transport security"):
//! - `--listen ADDR` (default `127.0.0.1:8787`): the public listener (login,
//!   sync). The first line on stdout is `listening on http(s)://ADDR`.
//! - `--tls-cert FILE --tls-key FILE`: serve HTTPS and WSS on both listeners
//!   with this PEM certificate chain (server certificate first) and private
//!   key (PKCS#8, SEC1 or RSA). SIGHUP re-reads both files: new handshakes
//!   use the new certificate, open connections stay; a reload that fails
//!   (unreadable, bad PEM, key not matching) is logged and the old
//!   certificate stays in force.
//! - `--tls-self-signed`: for a first try. Makes once (then reuses) a
//!   self-signed certificate for `localhost`, the listen address and the
//!   host name, kept in `DATA/tls/self-signed.crt` and `.key` (0600), and
//!   prints its SHA-256 fingerprint and the `fieldwork login --pin …` line
//!   that trusts exactly it.
//! - `--insecure-http`: allow plain HTTP on a non-loopback `--listen`
//!   address (only behind a TLS-terminating proxy). Without TLS and without
//!   this flag, a non-loopback address is refused at start; loopback plain
//!   HTTP is the default for a first try.
//! - `--admin-listen ADDR|none` (default `127.0.0.1:8788`): the admin API
//!   (`/v1/admin/*`) is served only there (the public listener answers
//!   404); `none` disables it. A non-loopback admin address requires TLS
//!   (the same certificate). When the default address is taken, the server
//!   starts without the admin API and says so; an address given explicitly
//!   must be free.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fieldwork_core::clock::clock_from_env;
use fieldwork_server::db::users::{self, NewUser};
use fieldwork_server::db::{audit, policy};
use fieldwork_server::tls::Tls;
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
        /// Address of the admin API listener, or `none` (default
        /// 127.0.0.1:8788; a non-loopback address requires TLS).
        #[arg(long, value_name = "ADDR|none")]
        admin_listen: Option<String>,
        /// Certificates and plain HTTP.
        #[command(flatten)]
        tls: ServeTls,
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
    /// Devices: list them, wipe a lost one.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Write every record of KIND that USER sees, with only the fields they
    /// may read, to standard output: CSV, or a JSON array with --json.
    Export(ExportArgs),
    /// Import a CSV or XLSX file of accounts, contacts, deals or activities: every
    /// row is checked first; nothing is written when a row is refused
    /// (unless --skip-invalid). Re-importing a file updates what it made.
    Import(ImportArgs),
    /// API keys for integrations: create (the key is printed once), list, revoke.
    #[command(subcommand)]
    ApiKey(ApiKeyCmd),
    /// Data subjects' rights (GDPR, docs/GDPR.md).
    #[command(subcommand)]
    Gdpr(GdprCmd),
}

#[derive(Debug, Subcommand)]
enum GdprCmd {
    /// Erase a contact's personal fields from its current state and its
    /// history, on the server now and on every device at its next sync;
    /// logged (who, when, how much), never the values.
    Erase {
        /// The contact's id (`ULID` or `contact:ULID`).
        contact_id: String,
    },
}

/// `export` arguments (docs/API.md, "Export").
#[derive(Debug, Args)]
struct ExportArgs {
    /// account, contact, relationship, deal, activity or note.
    kind: String,
    /// The user whose view is exported (their policy, territories, team).
    #[arg(
        long = "as",
        value_name = "USER",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    user: Option<String>,
    /// Every record and every field (the organisation's export).
    #[arg(long)]
    all: bool,
    /// FIELD:OP:VALUE as in the office API's list (repeatable).
    #[arg(long)]
    filter: Vec<String>,
    /// A field, `-field` for descending (default: creation order).
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
    /// `exclude` (default), `include` or `only` archived records.
    #[arg(long)]
    archived: Option<String>,
}

/// `import` arguments (docs/API.md, "Import").
#[derive(Debug, Args)]
struct ImportArgs {
    /// account, contact, deal or activity.
    kind: String,
    /// The CSV file (UTF-8 or Windows-1252; `,`, `;` or tab) or XLSX file
    /// (told by its first bytes; the first worksheet, row 1 the header).
    file: PathBuf,
    /// A JSON mapping: {"columns": {"Header": "field"}, "defaults": {...}, "currency": "EUR"}.
    #[arg(long, value_name = "FILE", conflicts_with = "mapping_name")]
    mapping: Option<PathBuf>,
    /// A saved mapping (PUT /v1/admin/import-mappings/NAME) for this kind.
    #[arg(long, value_name = "NAME")]
    mapping_name: Option<String>,
    /// Check everything and report what would happen; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import the valid rows even when some are refused (they are listed).
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCmd {
    /// Create a key for a service user; the key is printed this once.
    Create {
        /// A name for people ("ERP export").
        #[arg(long)]
        name: String,
        /// The user the key acts as.
        #[arg(long)]
        user: String,
        /// Let the key write (default: read-only).
        #[arg(long)]
        read_write: bool,
        /// Limit the key to a record kind (repeatable; default: every kind).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Requests per minute (default: the server's).
        #[arg(long)]
        rate_per_minute: Option<u32>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key at once.
    Revoke {
        /// The key's id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCmd {
    /// List devices: user, last seen, app version, unsent local changes
    /// reported at last contact, wipe state.
    List {
        /// Only this user's devices.
        #[arg(long)]
        user: Option<String>,
    },
    /// Mark a device for remote wipe: at its next contact it deletes its
    /// store and keys. Its unsent local changes are lost (shown first).
    Wipe {
        /// The device id (see `device list`).
        device_id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// `serve` flags for transport security (docs/PROTOCOL.md, "Transport
/// security").
#[derive(Debug, Args)]
struct ServeTls {
    /// PEM certificate chain (server certificate first); SIGHUP reloads it.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, SEC1 or RSA) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Make (once) and use a self-signed certificate kept in the data
    /// directory; prints its fingerprint and the login line that pins it.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: bool,
    /// Allow plain HTTP on a non-loopback address (behind a TLS-terminating
    /// proxy only).
    #[arg(long)]
    insecure_http: bool,
}

/// The default admin API address.
const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8788";

/// Who the audit log says acted, for changes made with the admin CLI.
const CLI: &str = "admin-cli";

/// What `serve` was asked to listen on, checked before anything starts.
#[derive(Debug)]
struct ServePlan {
    listen: SocketAddr,
    /// `None`: no admin listener. The flag: whether it was given explicitly.
    admin: Option<(SocketAddr, bool)>,
    tls: bool,
}

impl ServePlan {
    /// Refuses plain HTTP off loopback (unless `--insecure-http`) and an
    /// admin listener off loopback without TLS.
    fn check(
        listen: SocketAddr,
        admin_listen: Option<&str>,
        tls: &ServeTls,
    ) -> anyhow::Result<ServePlan> {
        let with_tls = tls.tls_cert.is_some() || tls.tls_self_signed;
        if !with_tls && !listen.ip().is_loopback() && !tls.insecure_http {
            anyhow::bail!(
                "refusing to serve plain HTTP on {listen}, which is not a loopback address: passwords, \
                 tokens and data would cross the network unencrypted. Pass --tls-cert FILE --tls-key FILE \
                 (or --tls-self-signed for a first try), or --insecure-http if a TLS-terminating proxy is in front"
            );
        }
        let admin = match admin_listen {
            Some(a) if a.eq_ignore_ascii_case("none") => None,
            Some(a) => Some((
                a.parse::<SocketAddr>()
                    .with_context(|| format!("--admin-listen `{a}` is not ADDR:PORT or `none`"))?,
                true,
            )),
            None => Some((DEFAULT_ADMIN_LISTEN.parse()?, false)),
        };
        if let Some((a, _)) = admin
            && !with_tls
            && !a.ip().is_loopback()
        {
            anyhow::bail!(
                "the admin API on {a}, which is not a loopback address, requires TLS: pass --tls-cert FILE \
                 --tls-key FILE (or --tls-self-signed), or keep --admin-listen on 127.0.0.1"
            );
        }
        Ok(ServePlan {
            listen,
            admin,
            tls: with_tls,
        })
    }
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
    /// A browser origin allowed to call the office API (CORS; repeatable,
    /// exact match, e.g. `https://crm.example.com`; default: none).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Office API requests per minute per caller (default 600).
    #[arg(long, value_name = "N")]
    api_rate_per_minute: Option<u32>,
}

impl ServeLimits {
    fn apply(&self, c: &mut ServerConfig) {
        c.trusted_proxies
            .extend(self.trusted_proxies.iter().copied());
        c.cors_origins.extend(self.cors_origins.iter().cloned());
        if let Some(n) = self.api_rate_per_minute {
            c.api_rate_per_minute = n;
        }
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
    /// Disable a user: revokes their login tokens and marks every device of
    /// theirs for remote wipe (printing each one's unsent changes at last
    /// contact, which the wipe loses).
    Disable {
        /// User name.
        name: String,
    },
    /// Re-enable a user.
    Enable {
        /// User name.
        name: String,
    },
    /// Change a user's role, territories, manager or time zone (checked
    /// and audited as the admin API's `PATCH /v1/admin/users/{name}`).
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
        /// New manager (an existing user).
        #[arg(long)]
        manager: Option<String>,
        /// Remove the manager.
        #[arg(long, conflicts_with = "manager")]
        no_manager: bool,
        /// New IANA time zone, e.g. Europe/Madrid.
        #[arg(long)]
        time_zone: Option<String>,
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
    /// Move every instance of one version of a model to another version;
    /// lists which cannot move and why. Try it with --dry-run first.
    MigrateAll {
        /// The model's key.
        key: String,
        /// The version the instances are on.
        #[arg(long)]
        from: i64,
        /// The version to move them to.
        #[arg(long)]
        to: i64,
        /// Only list what would move and what cannot; change nothing.
        #[arg(long)]
        dry_run: bool,
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
    let mut plan = None;
    if let Command::Serve {
        limits,
        listen,
        admin_listen,
        tls,
    } = &cli.command
    {
        limits.apply(&mut config);
        plan = Some(ServePlan::check(*listen, admin_listen.as_deref(), tls)?);
    }
    let state = AppState::open(config, Some(clock_from_env()?))?;
    match cli.command {
        Command::Serve { tls, .. } => {
            let plan = plan.context("serve plan")?;
            serve(state, plan, tls, &dir)
        }
        Command::User(cmd) => user(&state, cmd, cli.json),
        Command::Device(cmd) => device(&state, cmd, cli.json),
        Command::ApiKey(cmd) => api_key(&state, cmd, cli.json),
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
        Command::Export(args) => export(&state, args, cli.json),
        Command::Import(args) => import(&state, args, cli.json),
        Command::Gdpr(GdprCmd::Erase { contact_id }) => gdpr_erase(&state, &contact_id, cli.json),
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

/// `export`: the office API's export, written to standard output; a closed
/// pipe (`| head`) ends it quietly.
fn export(state: &AppState, args: ExportArgs, json: bool) -> anyhow::Result<()> {
    use fieldwork_core::Access;
    use fieldwork_server::api::export::{Export, ExportFormat};
    use fieldwork_server::api::problem::Problem;
    use fieldwork_server::api::{query, write};
    use fieldwork_server::db::access;
    use std::io::Write;
    let problem = |p: Problem| anyhow::anyhow!(p.detail);
    let kind = query::kind(&args.kind).map_err(problem)?;
    let mut raw = form_urlencoded::Serializer::new(String::new());
    for f in &args.filter {
        raw.append_pair("filter", f);
    }
    if let Some(sort) = &args.sort {
        raw.append_pair("sort", sort);
    }
    if let Some(archived) = &args.archived {
        raw.append_pair("archived", archived);
    }
    let q = query::list_query(kind, &raw.finish()).map_err(problem)?;
    let format = if json {
        ExportFormat::Json
    } else {
        ExportFormat::Csv
    };
    let (who, mut export) = state.db.read_blocking(|c| {
        let Some(name) = &args.user else {
            let (_, policy) = policy::current(c)?;
            let export = Export::new(Access::Local, policy, q, state.actor.clone(), format);
            return Ok(("the organisation".to_owned(), export));
        };
        let user = users::by_name(c, name).and_then(|u| {
            u.ok_or_else(|| fieldwork_server::error::ServerError::NotFound(format!("user {name}")))
        })?;
        let (_, access) = access::access_for(c, &user)?;
        let policy = access.policy().cloned().ok_or_else(|| {
            fieldwork_server::error::ServerError::Internal("a user without a policy".into())
        })?;
        let actor = write::actor_for(&state.actor, &user);
        Ok((user.name, Export::new(access, policy, q, actor, format)))
    })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = (|| -> anyhow::Result<()> {
        while let Some(chunk) = state.db.read_blocking(|c| export.next_chunk(c))? {
            out.write_all(chunk.as_bytes())?;
        }
        Ok(out.flush()?)
    })();
    match written {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
        Ok(()) => {
            eprintln!(
                "{} {} records exported, as {who} sees them",
                export.records(),
                kind.as_str(),
            );
            Ok(())
        }
    }
}

/// `import`: checks the whole file, then writes it (docs/API.md,
/// "Import"); the report goes to standard output, progress to standard
/// error. Fails (exit code 1) when rows were refused and nothing was
/// imported.
fn import(state: &AppState, args: ImportArgs, json: bool) -> anyhow::Result<()> {
    use fieldwork_core::import::{MAX_BYTES, Mapping};
    use fieldwork_server::api::import::{self, Options};
    let kind: fieldwork_core::RecordKind = args
        .kind
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown kind `{}`", args.kind))?;
    let mapping = match &args.mapping {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Mapping::from_json(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => match &args.mapping_name {
            Some(name) => state
                .db
                .read_blocking(|c| import::saved_mapping(c, name, kind))?,
            None => Mapping::default(),
        },
    };
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut bytes = Vec::new();
    // One byte more than the limit, so that a larger file is refused whole.
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let options = Options {
        dry_run: args.dry_run,
        skip_invalid: args.skip_invalid,
    };
    let mut progress = |done: usize, total: usize| eprintln!("imported {done} / {total}");
    let report = import::run(state, kind, &bytes, &mapping, options, &mut progress)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = match (report.refused_whole, report.dry_run) {
            (true, _) => "refused: nothing imported",
            (false, true) => "dry run: nothing written; it would be",
            (false, false) => "imported",
        };
        let read_as = if report.format == "xlsx" {
            "XLSX".to_owned()
        } else {
            format!("{}, delimiter {:?}", report.encoding, report.delimiter)
        };
        println!(
            "{} {}s ({read_as}): {verb}",
            args.file.display(),
            report.kind,
        );
        if !report.refused_whole {
            println!(
                "{} created, {} updated, {} unchanged, {} refused",
                report.created, report.updated, report.unchanged, report.refused
            );
        } else {
            println!("refused rows: {}", report.refused);
        }
        for e in &report.errors {
            println!("error: {e}");
        }
        for w in &report.warnings {
            println!("warning: {w}");
        }
    }
    if report.refused_whole {
        anyhow::bail!(
            "refused rows: {}; nothing imported (fix them, or pass --skip-invalid)",
            report.refused
        );
    }
    Ok(())
}

fn api_key(state: &AppState, cmd: ApiKeyCmd, json: bool) -> anyhow::Result<()> {
    use fieldwork_server::db::api_keys::{self, ApiKeyInfo, NewKey};
    let show = |k: &ApiKeyInfo| -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(k)?);
        } else {
            let kinds = k.kinds.as_ref().map_or("all kinds".to_owned(), |ks| {
                ks.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")
            });
            println!(
                "{:<5} {:<20} user: {:<12} {} {kinds}{}",
                k.id,
                k.name,
                k.user,
                if k.read_only {
                    "read-only "
                } else {
                    "read-write"
                },
                if k.revoked_at.is_some() {
                    "  (revoked)"
                } else {
                    ""
                }
            );
        }
        Ok(())
    };
    let now = state.now_ms();
    match cmd {
        ApiKeyCmd::Create {
            name,
            user,
            read_write,
            kinds,
            rate_per_minute,
        } => {
            let kinds = if kinds.is_empty() {
                None
            } else {
                Some(
                    kinds
                        .iter()
                        .map(|k| {
                            k.parse()
                                .map_err(|_| anyhow::anyhow!("`{k}` is not a record kind"))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?,
                )
            };
            let new = NewKey {
                name,
                user,
                read_only: !read_write,
                kinds,
                rate_per_minute,
            };
            let (info, key) = state.db.write_blocking(|w| {
                api_keys::create_audited(&mut w.conn, &new, "admin-cli", now)
            })?;
            show(&info)?;
            if json {
                println!("{}", serde_json::json!({ "key": key }));
            } else {
                println!("key (shown only now): {key}");
            }
            Ok(())
        }
        ApiKeyCmd::List => {
            for k in &state.db.read_blocking(api_keys::list)? {
                show(k)?;
            }
            Ok(())
        }
        ApiKeyCmd::Revoke { id } => {
            let info = state
                .db
                .write_blocking(|w| api_keys::revoke_audited(&mut w.conn, id, "admin-cli", now))?
                .with_context(|| format!("no API key {id}"))?;
            show(&info)
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
        UserCmd::Disable { name } => {
            // Also marks every device of the user for remote wipe.
            let (user, devices) = fieldwork_server::wipe::disable_user(state, &name, "admin-cli")?;
            show(&user)?;
            for d in &devices {
                let line = format!(
                    "marked for wipe: {}",
                    fieldwork_server::wipe::what_is_lost(d)
                );
                if json {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
            }
            Ok(())
        }
        UserCmd::Enable { name } => show(&admin::enable_user(state, &name, CLI)?),
        UserCmd::Set {
            name,
            role,
            territories,
            no_territories,
            manager,
            no_manager,
            time_zone,
        } => {
            let change = users::UserChange {
                role,
                territories: (no_territories || !territories.is_empty()).then_some(territories),
                manager: if no_manager {
                    Some(None)
                } else {
                    manager.map(Some)
                },
                time_zone: time_zone.map(Some),
            };
            show(&admin::set_user(state, &name, &change, CLI)?)
        }
    }
}

fn serve(
    state: std::sync::Arc<AppState>,
    plan: ServePlan,
    tls_flags: ServeTls,
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
        let listen = plan.listen;
        let (tls, self_signed) = if let (Some(cert), Some(key)) = (&tls_flags.tls_cert, &tls_flags.tls_key) {
            (Some(Tls::from_files(cert, key)?), false)
        } else if tls_flags.tls_self_signed {
            let made = fieldwork_server::tls::self_signed(dir, &self_signed_names(listen))?;
            if made.created {
                tracing::info!(cert = %made.cert.display(), "made a self-signed certificate");
            }
            (Some(Tls::from_files(&made.cert, &made.key)?), true)
        } else {
            (None, false)
        };
        debug_assert_eq!(tls.is_some(), plan.tls);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let admin = match plan.admin {
            None => None,
            Some((a, explicit)) => match tokio::net::TcpListener::bind(a).await {
                Ok(l) => Some(l),
                Err(e) if !explicit => {
                    tracing::warn!(address = %a, error = %e, "the admin API is disabled: its default address is not free (pass --admin-listen ADDR)");
                    None
                }
                Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot listen on {a} (--admin-listen)"))),
            },
        };
        let admin_addr = admin.as_ref().map(|l| l.local_addr()).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, admin = ?admin_addr, tls = tls.is_some(), data = %dir.display(), "fieldwork-server listening");
        // Scripts and tests read this line to learn the port.
        // Install the signal handlers before announcing the port, so a
        // SIGTERM sent right after this line already means "shut down".
        let shutdown = shutdown_signal()?;
        #[cfg(unix)]
        if let Some(tls) = &tls {
            fieldwork_server::tls::reload_on_sighup(tls.clone())?;
        }
        let mut banner = format!("listening on {scheme}://{addr}\n");
        match admin_addr {
            Some(a) => banner.push_str(&format!("admin API on {scheme}://{a}\n")),
            None => banner.push_str("admin API disabled\n"),
        }
        if let Some(tls) = &tls {
            let fingerprint = tls.fingerprint();
            banner.push_str(&format!("TLS certificate SHA-256 fingerprint: {fingerprint}\n"));
            if self_signed {
                banner.push_str(&format!(
                    "sign in with: fieldwork login --server https://{} --user NAME --pin {fingerprint} --password-stdin\n",
                    login_host(addr)
                ));
            }
        }
        // One write: a reader that stops after the first line and closes
        // the pipe cannot make a later line fail.
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(banner.as_bytes());
            let _ = out.flush();
        }
        let listeners = fieldwork_server::Listeners {
            public: listener,
            admin,
            tls,
        };
        fieldwork_server::run(listeners, state, shutdown).await?;
        Ok(())
    })
}

/// The names a self-signed certificate is made for: `localhost`, the listen
/// address (or 127.0.0.1 when listening on all addresses) and the host name.
fn self_signed_names(listen: SocketAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_owned()];
    if listen.ip().is_unspecified() {
        names.push("127.0.0.1".into());
    } else {
        names.push(listen.ip().to_string());
    }
    if let Some(host) = host_name()
        && !names.contains(&host)
    {
        names.push(host);
    }
    names
}

/// This machine's host name, when it has one.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h != "localhost")
}

/// `host:port` for the login line: the listen address, or the host name
/// when listening on all addresses.
fn login_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let host = host_name().unwrap_or_else(|| "127.0.0.1".into());
        return format!("{host}:{}", addr.port());
    }
    addr.to_string()
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
        ProcessCmd::MigrateAll {
            key,
            from,
            to,
            dry_run,
        } => {
            let plan = pa::migrate_all(state, &key, from, to, dry_run, "admin")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
                return Ok(());
            }
            let verb = if dry_run { "would move" } else { "moved" };
            println!(
                "{key} v{from} → v{to}: {verb} {} instance(s), {} cannot move",
                plan.migrated.len(),
                plan.refused.len()
            );
            for id in &plan.migrated {
                println!("  {verb}: {id}");
            }
            for r in &plan.refused {
                println!("  cannot move: {}: {}", r.instance, r.reason);
            }
            Ok(())
        }
        ProcessCmd::Monitor => {
            let report = pa::report(state)?;
            if json {
                let failed: Vec<_> = pa::failures(state)?
                    .iter()
                    .map(|(i, why)| serde_json::json!({ "instance": i, "reason": why }))
                    .collect();
                let out = serde_json::json!({ "versions": report, "failed": failed });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", fieldwork_core::process::monitor::table(&report));
            }
            Ok(())
        }
    }
}

/// Prints a monitoring report as a table.
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

fn gdpr_erase(state: &AppState, contact_id: &str, json: bool) -> anyhow::Result<()> {
    use fieldwork_core::{RecordId, RecordKind};
    let full = if contact_id.contains(':') {
        contact_id.to_owned()
    } else {
        format!("contact:{contact_id}")
    };
    let id: RecordId = full
        .parse()
        .ok()
        .filter(|r: &RecordId| r.kind() == RecordKind::Contact)
        .with_context(|| format!("not a contact id: {contact_id}"))?;
    let erased = fieldwork_server::erasure::erase_contact(state, &id, CLI)?
        .with_context(|| format!("no contact {id}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&erased)?);
    } else if erased.already_erased {
        println!("{id} was erased before: nothing left to erase");
    } else {
        println!(
            "erased {id}: {} documents rewritten, {} changes and {} other rows removed; devices replace their copies at their next sync",
            erased.documents_rewritten,
            erased.changes_deleted,
            erased.purged.total()
        );
    }
    Ok(())
}

fn device(state: &AppState, cmd: DeviceCmd, json: bool) -> anyhow::Result<()> {
    use fieldwork_server::db::devices;
    use fieldwork_server::wipe;
    let when = |ms: Option<i64>| {
        ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".to_owned())
    };
    match cmd {
        DeviceCmd::List { user } => {
            let all = state
                .db
                .read_blocking(|c| devices::list(c, user.as_deref()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(());
            }
            println!(
                "{:<28} {:<14} {:<19} {:<24} {:>7} {:<10}",
                "device", "user", "last seen (UTC)", "app version", "unsent", "wipe"
            );
            for d in &all {
                println!(
                    "{:<28} {:<14} {:<19} {:<24} {:>7} {:<10}",
                    d.device_id,
                    d.user,
                    when(d.last_seen),
                    d.app_version.as_deref().unwrap_or("-"),
                    d.pending_changes
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "-".to_owned()),
                    d.wipe.as_str()
                );
            }
            Ok(())
        }
        DeviceCmd::Wipe { device_id, yes } => {
            let d = wipe::preview(state, &device_id)?;
            if d.wipe == devices::WipeState::Confirmed {
                anyhow::bail!("device {device_id} was already wiped");
            }
            eprintln!("{}.", wipe::what_is_lost(&d));
            if !yes {
                eprint!("Wipe device {device_id}? [y/N] ");
                let mut answer = String::new();
                std::io::stdin()
                    .read_line(&mut answer)
                    .context("reading the answer")?;
                if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
                    anyhow::bail!("not wiped: confirm with y, or pass --yes");
                }
            }
            let d = wipe::wipe_device(state, &device_id, "admin-cli")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!(
                    "device {} marked for wipe: it deletes its data and keys at its next contact",
                    d.device_id
                );
            }
            Ok(())
        }
    }
}
