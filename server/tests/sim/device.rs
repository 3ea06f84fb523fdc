//! A simulated device: a real `fieldwork_core` store in a temporary
//! directory and its `SyncClient`.

use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;

use fieldwork_core::error::CoreError;
use fieldwork_core::store::{DeviceIdentity, SignIn, Store};
use fieldwork_core::sync::client::{Effect, Event, SyncClient};
use fieldwork_core::sync::codec;
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::{FieldWrite, FixedClock, RecordId, RecordKind};
use rand::Rng;
use rand::rngs::StdRng;

use super::link::Link;

/// Territories records are created in.
pub const TERRITORIES: [&str; 2] = ["north", "south"];

/// One device of one user.
pub struct SimDevice {
    /// The user signed in.
    pub user: String,
    /// The store.
    pub store: Store,
    /// The protocol machine.
    pub client: SyncClient,
    /// The connection, when open.
    pub link: Option<Link>,
    /// Until which step the device is cut off.
    pub partitioned_until: u64,
    /// Refusals this device received.
    pub refusals: usize,
    /// Local writes the store accepted / refused.
    pub writes: (usize, usize),
    /// Names the records this device creates (deterministic ids).
    pub name: String,
    created: u64,
    /// A running hash of every frame this device's links carried, both ways
    /// (see [`super::Sim::trace_hash`]).
    pub frames: DefaultHasher,
    _dir: tempfile::TempDir,
}

impl SimDevice {
    /// A device for `user`, signed in with `sign_in`, whose device id and
    /// Automerge actor come from `identity` (so a seed replays byte for byte).
    pub fn new(name: &str, user: &str, sign_in: &SignIn, identity: &DeviceIdentity) -> SimDevice {
        let dir = super::tempdir();
        let clock = Arc::new(FixedClock(
            jiff::Timestamp::from_second(1_780_000_000).expect("time"),
        ));
        let path = dir.path().join("device.db");
        let mut store = Store::open_with_identity(&path, clock, identity).expect("open store");
        store.set_sign_in(sign_in).expect("sign in");
        SimDevice {
            user: user.to_owned(),
            store,
            client: SyncClient::default(),
            link: None,
            partitioned_until: 0,
            refusals: 0,
            writes: (0, 0),
            name: name.to_owned(),
            created: 0,
            frames: DefaultHasher::new(),
            _dir: dir,
        }
    }

    /// Hands an event to the client; its messages go up the link. An error
    /// or a fatal message from the server drops the connection.
    pub fn handle(&mut self, event: Event) {
        let effects = match self.client.handle(&mut self.store, event) {
            Ok(e) => e,
            Err(_) => return self.disconnect(),
        };
        let mut fatal = false;
        for effect in effects {
            match effect {
                Effect::Send(m) => {
                    self.frames.write(&codec::encode(&m));
                    if let Some(link) = self.link.as_mut() {
                        link.up.push_back(m);
                    }
                }
                Effect::Fatal(_) => fatal = true,
                Effect::Status(_) | Effect::Changed(_) => {}
            }
        }
        if fatal {
            self.disconnect();
        }
    }

    /// Drops the connection (what is in flight is lost).
    pub fn disconnect(&mut self) {
        if self.link.take().is_some() {
            self.handle(Event::Disconnected);
        }
    }

    /// Delivers the next server message to the device, if any.
    pub fn deliver_down(&mut self) -> bool {
        let Some(link) = self.link.as_mut() else {
            return false;
        };
        match link.down.pop_front() {
            Some(m) => {
                super::trace(|| {
                    format!(
                        "  {} receives {}",
                        self.name,
                        format!("{m:?}").chars().take(200).collect::<String>()
                    )
                });
                if let ServerMessage::PushResult(r) = &m {
                    let codes: Vec<String> = r.refused.iter().map(|f| f.code.clone()).collect();
                    self.saw(&codes);
                }
                self.handle(Event::Received(m));
                true
            }
            None if link.finished() => {
                // The server closed the socket.
                self.disconnect();
                true
            }
            None => false,
        }
    }

    /// A random local edit: create an account or change one the device
    /// holds, sometimes in fields or territories the user may not write.
    pub fn write(&mut self, rng: &mut StdRng) {
        let ids: Vec<RecordId> = self.store.record_ids().unwrap_or_default();
        let accounts: Vec<&RecordId> = ids
            .iter()
            .filter(|id| id.kind() == RecordKind::Account)
            .collect();
        let value = format!("v{}", rng.random_range(0..1000));
        let territory = TERRITORIES[rng.random_range(0..TERRITORIES.len())];
        let result = if accounts.is_empty() || rng.random_bool(0.25) {
            let mut writes = vec![
                text("name", &format!("Cuenta {value}")),
                text("territory", territory),
            ];
            if rng.random_bool(0.3) {
                writes.push(text("credit_limit", "1000"));
                writes.push(text("credit_currency", "EUR"));
            }
            self.create(writes).map(|_| ())
        } else {
            let id = accounts[rng.random_range(0..accounts.len())].clone();
            let write = match rng.random_range(0..6) {
                0 => text("territory", territory),
                1 => text("credit_limit", &rng.random_range(1..100_000).to_string()),
                2 => text("city", &value),
                _ => text("industry", &value),
            };
            self.store.update(&id, vec![write])
        };
        self.wrote(result);
    }

    /// Creates an account named `name` in `territory` (announced to the
    /// client when connected); returns its id.
    pub fn create_account(&mut self, name: &str, territory: &str) -> RecordId {
        self.create_account_with(&[("name", name), ("territory", territory)])
    }

    /// Creates an account with these fields (announced to the client when
    /// connected); returns its id.
    pub fn create_account_with(&mut self, fields: &[(&str, &str)]) -> RecordId {
        let result = self.create(fields.iter().map(|(f, v)| text(f, v)).collect());
        let id = result.as_ref().expect("create an account").clone();
        self.wrote(result.map(|_| ()));
        id
    }

    /// Sets one text field of account `id` (announced to the client when
    /// connected).
    pub fn update_account(&mut self, id: &RecordId, field: &str, value: &str) {
        let result = self.store.update(id, vec![text(field, value)]);
        assert!(result.is_ok(), "{}: {result:?}", self.name);
        self.wrote(result);
    }

    /// Whether the store holds record `id`.
    pub fn holds(&self, id: &RecordId) -> bool {
        self.store.record_ids().expect("record ids").contains(id)
    }

    /// Creates an account with the next id of this device.
    fn create(&mut self, writes: Vec<FieldWrite>) -> Result<RecordId, CoreError> {
        self.created += 1;
        let id = RecordId::derived(
            RecordKind::Account,
            &[&self.name, &self.created.to_string()],
        );
        self.store.create_with_id(&id, writes).map(|()| id)
    }

    /// Counts and traces a write, and tells the client when connected.
    fn wrote(&mut self, result: Result<(), CoreError>) {
        super::trace(|| format!("  {} writes: {result:?}", self.name));
        match result {
            Ok(()) => self.writes.0 += 1,
            Err(_) => self.writes.1 += 1,
        }
        if self.link.is_some() {
            self.handle(Event::LocalChanges);
        }
    }

    /// Refusal codes the device received in push results (counted on
    /// receipt: a refusal lost with a dropped link is not the device's to
    /// quarantine, and the change may be accepted when pushed again, e.g.
    /// after an administrator widened the user's territories).
    pub fn saw(&mut self, message_codes: &[String]) {
        assert!(
            message_codes.iter().all(|c| !c.is_empty()),
            "a refusal without a code"
        );
        self.refusals += message_codes.len();
    }
}

fn text(field: &str, value: &str) -> FieldWrite {
    FieldWrite::text(RecordKind::Account, field, Some(value)).expect("a field of accounts")
}
