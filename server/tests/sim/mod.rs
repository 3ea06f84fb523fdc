//! An in-memory test network for the sync protocol (samod's test network
//! is the model): devices (a real `fieldwork_core` store and `SyncClient`
//! each) and the server's connection machines
//! ([`fieldwork_server::sync::machine::Machine`]) over simulated links, on
//! the real server database in a temporary directory, driven by a seeded
//! RNG.
//!
//! Each step picks one action: a device edits (sometimes fields or
//! territories its user may not write), connects, a link delivers one
//! message up or down or one hub event to a machine (in order per link,
//! interleaved across devices), a link drops (what is in flight is lost), a
//! device is cut off for a while, an administrator changes a user's
//! territories or role, or the server restarts (every machine dropped, the
//! database reopened).
//!
//! Checked after every step: the server never sends a document of a class
//! the user may not read, and a live device that heard everything holds
//! none. Checked at checkpoints and at the end, after healing and
//! quiescence ([`Sim::settle`]): every device holds exactly the documents
//! its user may see, each equal (heads and content) to the server's copy;
//! its cursor is at the feed head; its outbox is empty; the feed stores
//! no change twice; every refusal carried a code and left a quarantine
//! entry on the device.
//!
//! Findings so far: (1) a revocation or a whole document sent on a link
//! that then dropped was recorded as delivered and never sent again (fixed:
//! `sync::machine` `unconfirmed`); (2) a device whose document exchange
//! was cut short by a revocation in compare mode never settled (fixed: the
//! server ends the exchange); (3) seeds 37 and 47 (600 steps, a check every
//! 200 steps): a device that received a document whole while it already
//! held it (an interrupted fresh download, then another) stored only the
//! new heads, not the changes before them, so the document no longer
//! loaded and refused every write (fixed: `fieldwork_core` store
//! `remote::merge_whole`; test `a_whole_document_received_twice_...`);
//! (4) seed 16 (600 steps): in compare mode the server sent a change
//! without its dependency (a Bloom filter false positive); the device store
//! dropped the queued change with the uncached document, asked for the
//! change instead of its dependency, and the server, which sends a change
//! once per exchange, ended it with the device behind (fixed: the store
//! keeps what waits for a dependency; test `a_change_received_...`);
//! (5) seed 67, a harness bug: refusals were counted when the server sent
//! them, so one lost with a dropped link (the change then accepted after
//! an administrator widened the user's territories) was expected in the
//! quarantine (fixed: counted on receipt, `SimDevice::saw`); (6) seeds 238
//! and 279 (1,000 steps): a change pushed while its record's revocation was
//! on the way to the device (a push result lost with the link, or a push
//! and a revocation crossing on one connection) marked the document as
//! held by a device about to drop it, so it was never sent again once the
//! record was visible again (fixed: the connection remembers what it
//! revoked, `sync::machine` `revoked`); a first fix that checked
//! visibility per pushed document broke seed 348 (a new record's
//! `financial` document, pushed before its `general`, was not recorded as
//! held, so never revoked); and seed 386: when the record was also sent
//! again before the push arrived, the device lost its own change (dropped
//! with its copy at the revocation, not in the copy sent again, and a
//! device's own changes are not relayed back; fixed: such a document is
//! sent whole once more after the push); all four are scripted in
//! `sim_network.rs`;
//! (7) seed 278, a harness bug: the check that the server never sends a
//! class the user may not read looked at every message still queued on the
//! link, including a batch sent while Luis was still a manager (fixed:
//! only the messages of the step that heard the change are checked).
//!
//! Determinism: one seed replays byte for byte. The schedule, the edits
//! and the record ids come from the seed's RNG; each device's id and
//! Automerge actor (`Store::open_with_identity`) and the server's epoch
//! and actor (`AppState::open_with_identity`) are derived from the seed;
//! every clock is fixed. [`Sim::trace_hash`] hashes every frame sent.
//!
//! Speed: the databases live in `/dev/shm` when there is one (`SIM_TMP`
//! overrides), where `fsync` costs nothing.

pub mod device;
pub mod link;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, OnceLock};

use fieldwork_core::FixedClock;
use fieldwork_core::automerge::{ActorId, ChangeHash};
use fieldwork_core::document::ClassDoc;
use fieldwork_core::store::{DeviceIdentity, SignIn};
use fieldwork_core::sync::client::Event as ClientEvent;
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::{Access, DocId, Policy};
use fieldwork_server::db::users::{self, NewUser};
use fieldwork_server::db::{documents, feed, policy};
use fieldwork_server::hub::HubEvent;
use fieldwork_server::state::ServerIdentity;
use fieldwork_server::sync::machine::Machine;
use fieldwork_server::{AppState, ServerConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use device::SimDevice;
use link::{Link, Stepped};

/// The users: (name, role, territories).
const USERS: [(&str, &str, &[&str]); 4] = [
    ("ana", "rep", &["north"]),
    ("luis", "rep", &["south"]),
    ("marta", "manager", &["north", "south"]),
    ("root", "admin", &[]),
];
/// The devices: (device name, user). Ana has two.
const DEVICES: [(&str, &str); 5] = [
    ("ana-phone", "ana"),
    ("ana-tablet", "ana"),
    ("luis-phone", "luis"),
    ("marta-phone", "marta"),
    ("root-laptop", "root"),
];

/// What a run did, for the report.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Steps taken.
    pub steps: u64,
    /// Messages delivered (both ways) and hub events handed to machines.
    pub delivered: u64,
    /// Links dropped, partitions, server restarts, admin changes.
    pub drops: u64,
    /// Partitions begun.
    pub partitions: u64,
    /// Server restarts.
    pub restarts: u64,
    /// Administrative changes.
    pub admin_changes: u64,
    /// Refusals sent to devices (some lost with a dropped link).
    pub refusals: u64,
    /// Full convergence checks passed.
    pub checkpoints: u64,
}

/// The network.
pub struct Sim {
    rng: StdRng,
    seed: u64,
    config: ServerConfig,
    state: Arc<AppState>,
    /// The devices.
    pub devices: Vec<SimDevice>,
    step: u64,
    /// Administrative changes made so far, and how many each link heard.
    admin_epoch: u64,
    heard: Vec<u64>,
    /// What the run did.
    pub stats: Stats,
    /// The classes each user may read now (refreshed on admin changes).
    readable: BTreeMap<String, BTreeSet<String>>,
    _dir: tempfile::TempDir,
}

impl Sim {
    /// A network for `seed`.
    pub fn new(seed: u64) -> Sim {
        let dir = tempdir();
        let config = ServerConfig::new(dir.path().to_owned());
        let state = open_server(&config, seed);
        let now = state.now_ms();
        state
            .db
            .write_blocking(|w| {
                for (name, role, territories) in USERS {
                    let new = NewUser {
                        name: name.into(),
                        role: role.into(),
                        territories: territories.iter().map(|t| t.to_string()).collect(),
                        manager: None,
                        time_zone: Some("Europe/Madrid".into()),
                    };
                    users::add(&w.conn, &new, "not-a-password-hash", now)?;
                }
                Ok(())
            })
            .expect("add users");
        let devices = DEVICES
            .iter()
            .zip(0..)
            .map(|((name, user), d)| {
                let identity = DeviceIdentity::from_seed(seed << 8 | d);
                SimDevice::new(name, user, &sign_in(&state, user), &identity)
            })
            .collect();
        Sim {
            rng: StdRng::seed_from_u64(seed),
            seed,
            config,
            state,
            devices,
            step: 0,
            admin_epoch: 0,
            heard: vec![0; DEVICES.len()],
            stats: Stats::default(),
            readable: BTreeMap::new(),
            _dir: dir,
        }
        .with_readable()
    }

    /// Refreshes the cached readable classes of every user.
    fn with_readable(mut self) -> Self {
        self.refresh_readable();
        self
    }

    fn refresh_readable(&mut self) {
        self.readable = USERS
            .iter()
            .map(|(name, _, _)| (name.to_string(), readable(&self.state, name)))
            .collect();
    }

    /// Takes one random step and checks the per-step invariants.
    pub fn step(&mut self) {
        self.step += 1;
        self.stats.steps += 1;
        let d = self.rng.random_range(0..self.devices.len());
        let action = self.rng.random_range(0..1000);
        trace(|| format!("step {} device {} action {action}", self.step, DEVICES[d].0));
        match action {
            0..250 => self.devices[d].write(&mut self.rng),
            250..350 => self.connect(d),
            350..550 => self.deliver_up(d),
            550..800 => self.deliver_down(d),
            800..950 => self.deliver_hub(d),
            950..975 => {
                self.stats.drops += 1;
                self.devices[d].disconnect();
            }
            975..985 => {
                self.stats.partitions += 1;
                let until = self.step + self.rng.random_range(20..150);
                self.devices[d].partitioned_until = until;
                self.devices[d].disconnect();
            }
            985..995 => self.admin_change(),
            _ => self.restart(),
        }
        self.check_no_leak();
    }

    /// Opens a connection for device `d` unless it has one or is cut off.
    pub fn connect(&mut self, d: usize) {
        let step = self.step;
        let device = &mut self.devices[d];
        if device.link.is_some() || device.partitioned_until > step {
            return;
        }
        let user = self
            .state
            .db
            .read_blocking(|c| users::by_name(c, &device.user))
            .expect("read user")
            .expect("user exists");
        let hub = self.state.hub.subscribe();
        let machine = Machine::new(self.state.clone(), user, None, tokio::time::Instant::now());
        device.link = Some(Link {
            machine: Some(machine),
            hub,
            up: Default::default(),
            down: Default::default(),
        });
        self.heard[d] = self.admin_epoch;
        device.handle(ClientEvent::Connected);
    }

    /// Delivers device `d`'s next message to its server machine, if any.
    pub fn deliver_up(&mut self, d: usize) {
        let Some(link) = self.devices[d].link.as_mut() else {
            return;
        };
        if let Some(stepped) = link.deliver_up() {
            self.after_server_step(d, stepped);
        }
    }

    /// Hands device `d`'s server machine its next hub event, if any.
    pub fn deliver_hub(&mut self, d: usize) {
        let Some(link) = self.devices[d].link.as_mut() else {
            return;
        };
        let pending_admin = self.heard[d] < self.admin_epoch;
        if let Some(stepped) = link.deliver_hub() {
            // Hub events reach a link in publication order: once its queue
            // is empty it heard every administrative change.
            if pending_admin && link.hub.is_empty() {
                self.heard[d] = self.admin_epoch;
            }
            self.after_server_step(d, stepped);
        }
    }

    /// Delivers the server's next message to device `d`, if any.
    pub fn deliver_down(&mut self, d: usize) {
        if self.devices[d].deliver_down() {
            self.stats.delivered += 1;
        }
    }

    /// Checks what a machine sent and counts refusals.
    fn after_server_step(&mut self, d: usize, stepped: Stepped) {
        self.stats.delivered += 1;
        self.stats.refusals += stepped.refusal_codes.len() as u64;
        for frame in &stepped.frames {
            self.devices[d].frames.write(frame);
        }
        self.check_sent(d, stepped.frames.len());
    }

    /// An administrator moves Ana between territories or Luis between
    /// roles; connections hear of it through the hub.
    fn admin_change(&mut self) {
        let which = self.rng.random_range(0..4);
        match which {
            0 => self.change_user("ana", None, Some(&["north"])),
            1 => self.change_user("ana", None, Some(&["north", "south"])),
            2 => self.change_user("luis", Some("manager"), None),
            _ => self.change_user("luis", Some("rep"), None),
        }
    }

    /// An administrator changes `name`'s role or territories; connections
    /// hear of it through the hub.
    pub fn change_user(&mut self, name: &str, role: Option<&str>, territories: Option<&[&str]>) {
        self.stats.admin_changes += 1;
        self.admin_epoch += 1;
        let territories: Option<Vec<String>> =
            territories.map(|t| t.iter().map(|s| s.to_string()).collect());
        trace(|| format!("admin: {name} {role:?} {territories:?}"));
        self.state
            .db
            .write_blocking(|w| {
                users::update(&w.conn, name, role, territories.as_deref())?;
                Ok(())
            })
            .expect("update user");
        self.state.hub.publish(HubEvent::AdminChanged);
        self.refresh_readable();
    }

    /// Drops every connection and reopens the server's database.
    pub fn restart(&mut self) {
        self.stats.restarts += 1;
        for device in &mut self.devices {
            device.disconnect();
        }
        self.state = open_server(&self.config, self.seed);
    }

    /// Heals every partition and runs every link until nothing moves and
    /// every device is settled; then checks convergence.
    pub fn settle(&mut self) {
        for device in &mut self.devices {
            device.partitioned_until = 0;
        }
        for round in 0.. {
            if round >= 50 {
                let states: Vec<String> = self
                    .devices
                    .iter()
                    .map(|d| {
                        format!(
                            "{}: link {} status {:?} outbox {:?}",
                            d.name,
                            d.link.is_some(),
                            d.client.status(),
                            d.store.outbox_len()
                        )
                    })
                    .collect();
                panic!("no quiescence after {round} rounds: {states:#?}");
            }
            for d in 0..self.devices.len() {
                self.connect(d);
            }
            self.drain();
            let settled = self.devices.iter().all(|device| {
                device.link.is_some() && device.client.settled(&device.store).unwrap_or(false)
            });
            if settled {
                break;
            }
        }
        self.check_converged();
        self.stats.checkpoints += 1;
    }

    /// Delivers everything in flight, round-robin, until nothing moves.
    fn drain(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            for d in 0..self.devices.len() {
                let before = self.stats.delivered;
                self.deliver_up(d);
                self.deliver_hub(d);
                self.deliver_down(d);
                self.check_no_leak();
                moved |= self.stats.delivered != before;
            }
            if !moved {
                return;
            }
        }
        panic!("links never went quiet");
    }

    /// Takes `steps` random steps with a checkpoint every `every` steps.
    pub fn run(&mut self, steps: u64, every: u64) {
        for i in 1..=steps {
            self.step();
            if every > 0 && i % every == 0 {
                self.settle();
            }
        }
        self.settle();
    }

    /// A hash of every frame sent so far, both ways, on every link: two runs
    /// of one seed give the same hash (device ids, actors, the server epoch
    /// and every clock come from the seed).
    pub fn trace_hash(&self) -> u64 {
        let mut all = DefaultHasher::new();
        for device in &self.devices {
            all.write_u64(device.frames.finish());
        }
        all.finish()
    }

    // ---- invariants ----

    /// The classes `user` may read now.
    fn readable(&self, user: &str) -> &BTreeSet<String> {
        &self.readable[user]
    }

    /// The server never sends a document of a class the user may not read
    /// (unless the link has not heard the administrative change yet):
    /// checked on the `sent` messages the step just queued, the newest in
    /// the link (older ones may predate the change; the server follows them
    /// with the policy update and the revocation).
    fn check_sent(&self, d: usize, sent: usize) {
        if self.heard[d] < self.admin_epoch {
            return;
        }
        let device = &self.devices[d];
        let Some(link) = device.link.as_ref() else {
            return;
        };
        let readable = self.readable(&device.user);
        let queued = link.down.len();
        for m in link.down.iter().skip(queued.saturating_sub(sent)) {
            if let ServerMessage::Batch(b) = m {
                for doc in &b.docs {
                    let id: DocId = doc.doc.parse().expect("a document id");
                    assert!(
                        readable.contains(id.class().as_str()),
                        "{}: the server sent {} ({}) the user may not read",
                        device.user,
                        doc.doc,
                        id.class()
                    );
                }
            }
        }
    }

    /// A live device that heard everything holds no document of a class
    /// its user may not read.
    fn check_no_leak(&self) {
        for (d, device) in self.devices.iter().enumerate() {
            let Some(link) = device.link.as_ref() else {
                continue;
            };
            let live = link.machine.as_ref().is_some_and(Machine::hears_hub);
            if !live || !link.idle() || self.heard[d] < self.admin_epoch {
                continue;
            }
            let readable = self.readable(&device.user);
            for id in device.store.doc_ids().expect("doc ids") {
                assert!(
                    readable.contains(id.class().as_str()),
                    "{}: holds {id} of a class it may not read",
                    device.user
                );
            }
        }
    }

    /// Every device holds exactly what its user may see, as the server has
    /// it; cursors at the head; no change stored twice; refusals quarantined.
    fn check_converged(&mut self) {
        let (head, distinct, epoch) = self
            .state
            .db
            .read_blocking(|c| {
                let distinct: i64 = c.query_row(
                    "SELECT count(*) FROM (SELECT DISTINCT doc_id, hash FROM changes)",
                    [],
                    |r| r.get(0),
                )?;
                let rows: i64 = c.query_row("SELECT count(*) FROM changes", [], |r| r.get(0))?;
                assert_eq!(rows, distinct, "a change stored twice in the feed");
                Ok((feed::head(c)?, distinct, fieldwork_server::db::epoch(c)?))
            })
            .expect("read feed");
        let _ = distinct;

        let all = server_docs(&self.state);
        for device in &mut self.devices {
            let access = access_of(&self.state, &device.user);
            let expected = visible_docs(&self.state, &access, &all);
            let held = device_docs(device);
            let missing: Vec<_> = expected.keys().filter(|k| !held.contains_key(*k)).collect();
            let extra: Vec<_> = held.keys().filter(|k| !expected.contains_key(*k)).collect();
            // A revocation or a whole document lost with a dropped link must
            // be sent again (the server once recorded them as delivered when
            // sent; see `fieldwork_server::sync::machine` `unconfirmed`).
            if !(missing.is_empty() && extra.is_empty()) {
                let device_id = device.store.device_id().to_owned();
                let believed: Vec<String> = self
                    .state
                    .db
                    .read_blocking(|c| fieldwork_server::db::devices::held(c, &device_id))
                    .expect("held");
                panic!(
                    "{}: lacks {missing:?}, holds beyond its rights {extra:?}; the server believes it holds {} of the missing; quarantine: {:?}",
                    device.name,
                    missing.iter().filter(|d| believed.contains(d)).count(),
                    device.store.quarantine().expect("quarantine"),
                );
            }
            for (doc, state) in expected.iter() {
                assert_eq!(
                    held.get(doc),
                    Some(state),
                    "{}: {doc} differs from the server's copy",
                    device.name
                );
            }
            let cursor = device.store.cursor().expect("cursor").expect("a cursor");
            assert_eq!(
                (cursor.epoch.as_str(), cursor.seq),
                (epoch.as_str(), head),
                "{}: cursor not at the feed head",
                device.name
            );
            assert_eq!(device.store.outbox_len().expect("outbox"), 0);
            if device.refusals > 0 {
                assert!(
                    !device.store.quarantine().expect("quarantine").is_empty(),
                    "{}: {} refusals and nothing quarantined",
                    device.name,
                    device.refusals
                );
            }
        }
    }
}

/// Prints a line when `SIM_TRACE` is set.
pub fn trace(line: impl FnOnce() -> String) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("SIM_TRACE").is_some()) {
        eprintln!("{}", line());
    }
}

/// A temporary directory for a database: under `SIM_TMP` if set, else in
/// memory (`/dev/shm`) when there is one, else the system's. The sim never
/// crashes a process, so `fsync` buys nothing; on tmpfs it costs nothing.
pub fn tempdir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let base = match std::env::var_os("SIM_TMP") {
        Some(dir) => Some(std::path::PathBuf::from(dir)),
        None => shm.is_dir().then(|| shm.to_owned()),
    };
    match base {
        Some(base) => tempfile::tempdir_in(base),
        None => tempfile::tempdir(),
    }
    .expect("a temporary directory")
}

/// The server for `seed`: its epoch, actor and clock come from the seed
/// (a database that exists keeps its epoch and actor: a restart).
fn open_server(config: &ServerConfig, seed: u64) -> Arc<AppState> {
    let mut actor = *b"fw-srv:\0\0\0\0\0\0\0\0\0";
    actor[8..].copy_from_slice(&seed.to_be_bytes());
    let identity = ServerIdentity {
        epoch: ulid::Ulid(u128::from(seed) | (1 << 121)).to_string(),
        actor: ActorId::from(actor.to_vec()),
    };
    let clock = Arc::new(FixedClock(
        jiff::Timestamp::from_second(1_780_000_000).expect("time"),
    ));
    AppState::open_with_identity(config.clone(), Some(clock), &identity).expect("open server")
}

/// The classes `user` may read under the server's current state.
fn readable(state: &AppState, user: &str) -> BTreeSet<String> {
    let access = access_of(state, user);
    let policy = access.policy().expect("a user's access has a policy");
    policy
        .classes()
        .keys()
        .filter(|c| access.can_read_class(c))
        .map(|c| c.to_string())
        .collect()
}

/// What a device signs in with.
fn sign_in(state: &AppState, user: &str) -> SignIn {
    let Access::User { user, policy } = access_of(state, user) else {
        panic!("a user's access");
    };
    let revision = state
        .db
        .read_blocking(policy::revision)
        .expect("policy revision");
    SignIn {
        server: "sim://server".into(),
        transport: Default::default(),
        user,
        policy: policy.source().to_owned(),
        policy_revision: revision,
    }
}

/// A user's access under the server's current policy.
fn access_of(state: &AppState, name: &str) -> Access {
    state
        .db
        .read_blocking(|c| {
            let user = users::by_name(c, name)?.expect("user exists");
            let (_, policy): (u64, Policy) = policy::current(c)?;
            Ok(Access::User {
                user: users::context(c, &user)?,
                policy,
            })
        })
        .expect("read access")
}

/// One document's comparable state: sorted heads and every field's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocState {
    heads: Vec<ChangeHash>,
    content: String,
}

fn state_of(doc: &mut ClassDoc) -> DocState {
    let mut heads = doc.heads();
    heads.sort();
    let mut content = BTreeMap::new();
    for field in doc.field_names() {
        let all = doc.get_all(&field).unwrap_or_default();
        content.insert(field, serde_json::to_value(all).unwrap_or_default());
    }
    DocState {
        heads,
        content: serde_json::to_string(&content).unwrap_or_default(),
    }
}

/// Every document the server holds, by id (loaded once per checkpoint).
fn server_docs(state: &AppState) -> BTreeMap<String, DocState> {
    state
        .db
        .read_blocking(|c| {
            let mut out = BTreeMap::new();
            for (id, _) in documents::docs_after(c, "", usize::MAX >> 1)? {
                let Some((snapshot, changes)) = documents::whole(c, &id)? else {
                    continue;
                };
                let doc_id: DocId = id.parse()?;
                let mut doc = ClassDoc::load(
                    doc_id,
                    snapshot.as_deref(),
                    changes.iter().map(Vec::as_slice),
                    ActorId::from(b"fw-sim-check".to_vec()),
                )?;
                out.insert(id, state_of(&mut doc));
            }
            Ok(out)
        })
        .expect("read server documents")
}

/// The documents of `all` that `access` may see.
fn visible_docs(
    state: &AppState,
    access: &Access,
    all: &BTreeMap<String, DocState>,
) -> BTreeMap<String, DocState> {
    let ids: Vec<String> = all.keys().cloned().collect();
    let visible = state
        .db
        .read_blocking(|c| fieldwork_server::visibility::visible_among(c, access, &ids))
        .expect("visibility");
    all.iter()
        .filter(|(id, _)| visible.contains(*id))
        .map(|(id, doc)| (id.clone(), doc.clone()))
        .collect()
}

/// Every document a device holds.
fn device_docs(device: &mut SimDevice) -> BTreeMap<String, DocState> {
    let mut out = BTreeMap::new();
    for id in device.store.doc_ids().expect("doc ids") {
        if let Some(state) = device
            .store
            .inspect_doc(&id, |d| Ok(state_of(d)))
            .expect("inspect")
        {
            out.insert(id.to_string(), state);
        }
    }
    out
}
