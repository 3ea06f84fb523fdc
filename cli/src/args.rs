//! The command line, as clap derive types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Fieldwork on the command line: an offline-first CRM device.
#[derive(Debug, Parser)]
#[command(name = "fieldwork", version, about, long_about = None)]
pub struct Cli {
    /// Options every command shares.
    #[command(flatten)]
    pub global: Global,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command shares.
#[derive(Debug, Args)]
pub struct Global {
    /// The device's data directory (default: the per-user data directory).
    #[arg(long, global = true, env = "FIELDWORK_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Where the store's key and the session token are kept, one 0600 file
    /// each (default: `keys` in the data directory).
    #[arg(long, global = true, env = "FIELDWORK_KEYS", value_name = "DIR")]
    pub keys: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Customer companies and people.
    #[command(subcommand)]
    Account(AccountCmd),
    /// People at accounts.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Sales opportunities.
    #[command(subcommand)]
    Deal(DealCmd),
    /// Calls, meetings, visits, e-mails and tasks.
    #[command(subcommand)]
    Activity(ActivityCmd),
    /// Long notes edited together.
    #[command(subcommand)]
    Note(NoteCmd),
    /// Typed links between accounts and contacts.
    #[command(subcommand)]
    Relationship(RelationshipCmd),
    /// Targets (success metrics) managers set for people and territories.
    #[command(subcommand)]
    Target(TargetCmd),
    /// Full-text search over names, e-mails, phones and notes.
    Search(SearchArgs),
    /// Who changed which field when.
    History(HistoryArgs),
    /// Attach a photo or file to a record's file field (offline; uploaded
    /// by the next sync).
    Attach(AttachArgs),
    /// Show a file field's attachment; `--out FILE` saves its bytes
    /// (downloading them if needed).
    Attachment(AttachmentArgs),
    /// Show or set the locale used to sort names (e.g. `hu`, `es-ES`).
    Locale(LocaleArgs),
    /// The fields of a kind of record, their types and classes.
    Fields(FieldsArgs),
    /// Check the device store's integrity.
    Verify,
    /// Re-encrypt the device store under a new key (key rotation). Safe to
    /// interrupt: the store opens afterwards with the old key or the new one.
    Rekey,
    /// Sign in to a sync server.
    Login(LoginArgs),
    /// Forget the session token (the data stays on the device).
    Logout,
    /// Exchange changes with the server.
    Sync(SyncArgs),
    /// Who is signed in, what awaits sync, what was refused.
    Status,
    /// Edits the server refused, with what was typed and why.
    #[command(subcommand)]
    Quarantine(QuarantineCmd),
    /// Your open tasks and activities: overdue, today, upcoming.
    Tasks(TasksArgs),
    /// Your activities between two local days.
    Calendar(CalendarArgs),
    /// Complete a task.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Process instances: list, show, start, stop, suspend, resume, monitor.
    #[command(subcommand)]
    Process(ProcessCmd),
    /// Reports over this device's records: pipeline, win-rate, cycle,
    /// funnel, activities, visits, timeline ACCOUNT_ID, targets.
    Report(ReportArgs),
}

/// `fieldwork report`
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Which report: pipeline, win-rate, cycle, funnel, activities, visits,
    /// timeline, targets.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(fieldwork_core::report::REPORT_NAMES))]
    pub name: String,
    /// The account whose timeline to show (`timeline` only).
    pub record: Option<String>,
    /// First local day of the period (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Last local day of the period (YYYY-MM-DD), inclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Only records this user is responsible for (owner; an activity's
    /// assignee).
    #[arg(long)]
    pub owner: Option<String>,
    /// Only records in this territory.
    #[arg(long)]
    pub territory: Option<String>,
    /// IANA time zone for local days, weeks and months (default UTC).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Group the pipeline per owner or territory.
    #[arg(long, value_parser = ["owner", "territory"])]
    pub group_by: Option<String>,
    /// Also convert amounts into this currency (needs `--rate`).
    #[arg(long, value_name = "CURRENCY")]
    pub convert: Option<String>,
    /// An exchange rate into the `--convert` currency, `CUR=RATE` (one unit
    /// of CUR is worth RATE units); repeatable.
    #[arg(long = "rate", value_name = "CUR=RATE")]
    pub rates: Vec<String>,
    /// A deal stage's win probability for the weighted pipeline,
    /// `STAGE=PERCENT` (overrides the default; repeatable).
    #[arg(long = "weight", value_name = "STAGE=PERCENT")]
    pub weights: Vec<String>,
    /// Print CSV (RFC 4180) instead of a table (not with `--json`).
    #[arg(long)]
    pub csv: bool,
}

/// `fieldwork tasks`
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Whose tasks (default: the signed-in user).
    #[arg(long)]
    pub user: Option<String>,
    /// IANA time zone (default: the user's, else UTC).
    #[arg(long)]
    pub tz: Option<String>,
}

/// `fieldwork calendar`
#[derive(Debug, Args)]
pub struct CalendarArgs {
    /// First local day (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// Last local day (YYYY-MM-DD), inclusive.
    #[arg(long)]
    pub to: String,
    /// Whose calendar (default: the signed-in user).
    #[arg(long)]
    pub user: Option<String>,
    /// IANA time zone (default: the user's, else UTC).
    #[arg(long)]
    pub tz: Option<String>,
}

/// `fieldwork task ...`
#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// Mark a task done; its process moves on.
    Done {
        /// The activity id.
        id: String,
        /// The outcome, when the task's step asks for one (e.g. one of
        /// its listed choices).
        #[arg(long)]
        outcome: Option<String>,
    },
}

/// `fieldwork process ...`
#[derive(Debug, Subcommand)]
pub enum ProcessCmd {
    /// Instances on this device.
    List,
    /// The process card of an instance.
    Show {
        /// The instance id.
        id: String,
    },
    /// Start a model on a record by hand.
    Start {
        /// The model key.
        key: String,
        /// The record id.
        #[arg(long)]
        record: String,
    },
    /// Stop an instance for good (cancels its open tasks).
    Stop {
        /// The instance id.
        id: String,
    },
    /// Suspend an instance.
    Suspend {
        /// The instance id.
        id: String,
    },
    /// Resume a suspended instance.
    Resume {
        /// The instance id.
        id: String,
    },
    /// Tell an instance that something happened ("reply received"): a
    /// step waiting for a message of this name goes on.
    Message {
        /// The instance id.
        id: String,
        /// The message's name (`process show` lists what the instance
        /// waits for).
        name: String,
    },
    /// Change a parameter of an instance.
    Param {
        /// The instance id.
        id: String,
        /// NAME=VALUE.
        assignment: String,
    },
    /// Published models on this device.
    Models,
    /// Run due timers now (every command does this first anyway).
    Run,
    /// Instances per step, time per step, overdue and stuck.
    Monitor,
}

/// `fieldwork login`
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's base URL, e.g. https://crm.example.com:8787 (plain
    /// http:// only to this machine unless --insecure-http).
    #[arg(long)]
    pub server: String,
    /// User name.
    #[arg(long)]
    pub user: String,
    /// Read the password from standard input (required: never on the command line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// Also trust the certificate authorities in this PEM file (e.g. a
    /// company CA), besides the public web roots. Kept for every sync.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
    /// Accept only the server certificate with this SHA-256 fingerprint
    /// (64 hex digits, colons allowed; `fieldwork-server serve` prints it),
    /// whoever signed it and whatever its name. Kept for every sync.
    #[arg(long, value_name = "SHA256")]
    pub pin: Option<String>,
    /// Allow plain http:// to a server that is not this machine (only
    /// behind a TLS-terminating proxy: otherwise the password and the data
    /// travel unencrypted).
    #[arg(long)]
    pub insecure_http: bool,
}

/// `fieldwork sync`
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Stay connected: push and receive changes live, reconnecting with
    /// backoff, until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// Give up a one-shot sync after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// `fieldwork quarantine ...`
#[derive(Debug, Subcommand)]
pub enum QuarantineCmd {
    /// List refused edits.
    List,
    /// Remove a refused edit from the list once seen.
    Dismiss {
        /// The entry's number.
        id: i64,
    },
}

/// Verbs shared by every kind of record.
#[derive(Debug, Subcommand)]
pub enum Common {
    /// Show one record.
    Get {
        /// The record id.
        id: String,
    },
    /// Change fields: `FIELD=VALUE` (an empty value clears the field).
    Set {
        /// The record id.
        id: String,
        /// Assignments.
        #[arg(required = true, value_name = "FIELD=VALUE")]
        assignments: Vec<String>,
    },
}

/// Filters and order shared by list commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Order: name, stage, owner, territory, due, amount, updated.
    #[arg(long, default_value = "name")]
    pub sort: String,
    /// Reverse the order.
    #[arg(long)]
    pub desc: bool,
    /// Only this owner.
    #[arg(long)]
    pub owner: Option<String>,
    /// Only this territory.
    #[arg(long)]
    pub territory: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Skip this many rows.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Archived records: exclude (default), include, only.
    #[arg(long, default_value = "exclude", value_parser = ["exclude", "include", "only"])]
    pub archived: String,
}

/// Extra fields for `add` commands.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Any other field: `--set FIELD=VALUE` (repeatable).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
}

/// `fieldwork account ...`
#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create an account; prints its id.
    Add {
        /// The account's name.
        #[arg(long)]
        name: String,
        /// Other fields.
        #[command(flatten)]
        set: SetArgs,
    },
    /// List accounts.
    List {
        /// Only this lifecycle stage.
        #[arg(long)]
        stage: Option<String>,
        /// Filters and order.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Get or set.
    #[command(flatten)]
    Common(Common),
}

/// `fieldwork contact ...`
#[derive(Debug, Subcommand)]
pub enum ContactCmd {
    /// Create a contact; prints its id.
    Add {
        /// Last (family) name.
        #[arg(long)]
        last_name: String,
        /// First (given) name.
        #[arg(long)]
        first_name: Option<String>,
        /// The account the person works at.
        #[arg(long)]
        account: Option<String>,
        /// Other fields.
        #[command(flatten)]
        set: SetArgs,
    },
    /// List contacts.
    List {
        /// Only contacts of this account.
        #[arg(long)]
        account: Option<String>,
        /// Filters and order.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Get or set.
    #[command(flatten)]
    Common(Common),
}

/// `fieldwork deal ...`
#[derive(Debug, Subcommand)]
pub enum DealCmd {
    /// Create a deal; prints its id.
    Add {
        /// The deal's name.
        #[arg(long)]
        name: String,
        /// The account it is with.
        #[arg(long)]
        account: String,
        /// Amount as a decimal (`1250.50`), in `--currency`.
        #[arg(long, requires = "currency")]
        amount: Option<String>,
        /// ISO 4217 currency code.
        #[arg(long)]
        currency: Option<String>,
        /// Other fields.
        #[command(flatten)]
        set: SetArgs,
    },
    /// List deals.
    List {
        /// Only this pipeline stage.
        #[arg(long)]
        stage: Option<String>,
        /// Only deals of this account.
        #[arg(long)]
        account: Option<String>,
        /// Filters and order.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Get or set.
    #[command(flatten)]
    Common(Common),
}

/// `fieldwork activity ...`
#[derive(Debug, Subcommand)]
pub enum ActivityCmd {
    /// Create an activity; prints its id.
    Add {
        /// call, meeting, visit, email or task.
        #[arg(long = "type")]
        kind: String,
        /// What it is about.
        #[arg(long)]
        subject: String,
        /// Due (tasks) or start (meetings) time, RFC 3339.
        #[arg(long)]
        due: Option<String>,
        /// Who does it.
        #[arg(long)]
        assignee: Option<String>,
        /// The account it concerns.
        #[arg(long)]
        account: Option<String>,
        /// Other fields.
        #[command(flatten)]
        set: SetArgs,
    },
    /// List activities.
    List {
        /// Only this type.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Only this status (planned, done, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only activities assigned to this user.
        #[arg(long)]
        assignee: Option<String>,
        /// Only activities of this account.
        #[arg(long)]
        account: Option<String>,
        /// Filters and order.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Record a visit's check-in with GPS coordinates (works offline).
    CheckIn {
        /// The visit.
        id: String,
        /// Latitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
    },
    /// Record a visit's check-out with GPS coordinates.
    CheckOut {
        /// The visit.
        id: String,
        /// Latitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
    },
    /// Get or set.
    #[command(flatten)]
    Common(Common),
}

/// `fieldwork note ...`
#[derive(Debug, Subcommand)]
pub enum NoteCmd {
    /// Create a note; prints its id.
    Add {
        /// Title.
        #[arg(long)]
        title: String,
        /// Body text.
        #[arg(long)]
        body: Option<String>,
        /// The account it is about.
        #[arg(long)]
        account: Option<String>,
        /// Other fields.
        #[command(flatten)]
        set: SetArgs,
    },
    /// List notes.
    List {
        /// Only notes of this account.
        #[arg(long)]
        account: Option<String>,
        /// Filters and order.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Edit the body in place: delete characters at a position and insert
    /// text there. Concurrent edits elsewhere in the text survive.
    Edit {
        /// The note.
        id: String,
        /// Position, in characters from the start.
        #[arg(long)]
        at: usize,
        /// How many characters to delete.
        #[arg(long, default_value_t = 0)]
        delete: usize,
        /// Text to insert.
        #[arg(long, default_value = "")]
        insert: String,
    },
    /// Get or set.
    #[command(flatten)]
    Common(Common),
}

/// `fieldwork target`
#[derive(Debug, Subcommand)]
pub enum TargetCmd {
    /// Set a target for a person (`--assignee`) or a territory
    /// (`--territory`); prints its id. Needs a role with `targets = true`.
    Add {
        /// visits, calls, meetings, activities_done, deals_won or revenue_won.
        #[arg(long)]
        metric: String,
        /// week, month, quarter or year.
        #[arg(long)]
        period: String,
        /// The goal per period: a count, or an amount (`5000.00`) in
        /// `--currency` for revenue_won.
        #[arg(long)]
        goal: String,
        /// The goal's currency (revenue_won).
        #[arg(long)]
        currency: Option<String>,
        /// Whose target it is.
        #[arg(
            long,
            conflicts_with = "territory",
            required_unless_present = "territory"
        )]
        assignee: Option<String>,
        /// A team target: everyone's work in this territory.
        #[arg(long)]
        territory: Option<String>,
        /// Other fields (`name=...`, `starts_on=2027-01-01`, `ends_on=...`).
        #[command(flatten)]
        set: SetArgs,
    },
    /// List targets.
    List {
        /// Filters and order.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Get or set.
    #[command(flatten)]
    Common(Common),
}

/// `fieldwork relationship ...`
#[derive(Debug, Subcommand)]
pub enum RelationshipCmd {
    /// Link two accounts or contacts; prints the relationship's id.
    Add {
        /// parent_company, partner, referred_by or competitor.
        #[arg(long = "type")]
        kind: String,
        /// From this account or contact.
        #[arg(long)]
        from: String,
        /// To this account or contact.
        #[arg(long)]
        to: String,
        /// Other fields.
        #[command(flatten)]
        set: SetArgs,
    },
    /// List relationships.
    List {
        /// Only relationships of this account.
        #[arg(long)]
        account: Option<String>,
        /// Filters and order.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Get or set.
    #[command(flatten)]
    Common(Common),
}

/// `fieldwork search TEXT`
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find (each is a prefix; accents and case do not matter).
    #[arg(required = true)]
    pub text: Vec<String>,
    /// Only this kind of record.
    #[arg(long)]
    pub kind: Option<String>,
    /// At most this many results.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// `fieldwork history ID`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The record.
    pub id: String,
}

/// `fieldwork attach ID FIELD FILE`
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The record.
    pub id: String,
    /// The file field (`photo`, `document`, `business_card`, `contract`).
    pub field: String,
    /// The file to attach (at most 25 MiB).
    pub file: String,
    /// The name to show (default: the file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The media type (default: from the extension).
    #[arg(long = "type")]
    pub media_type: Option<String>,
}

/// `fieldwork attachment ID FIELD [--out FILE]`
#[derive(Debug, Args)]
pub struct AttachmentArgs {
    /// The record.
    pub id: String,
    /// The file field.
    pub field: String,
    /// Save the bytes here.
    #[arg(long)]
    pub out: Option<String>,
}

/// `fieldwork locale [LOCALE]`
#[derive(Debug, Args)]
pub struct LocaleArgs {
    /// The new locale (BCP 47); omit to show the current one.
    pub locale: Option<String>,
}

/// `fieldwork fields KIND`
#[derive(Debug, Args)]
pub struct FieldsArgs {
    /// account, contact, deal, activity, note, relationship.
    pub kind: String,
}
