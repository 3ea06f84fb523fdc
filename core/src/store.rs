//! The device store: every record's class documents, the outbox and the
//! index, in one SQLite file.
//!
//! Guarantees:
//! - **Durable when it says so.** A call that returns `Ok` has committed its
//!   transaction with `synchronous = FULL` in WAL mode: a crash or `kill -9`
//!   afterwards loses nothing of it. A call that returns `Err` changed nothing.
//! - **One writer.** A `Store` owns one connection; writes use IMMEDIATE
//!   transactions, so a second process on the same file waits (up to the
//!   busy timeout) instead of interleaving.
//! - **Index follows documents.** The list and search index of a record is
//!   refreshed in the same transaction as any change to its documents,
//!   whether the change was made here or arrived by sync.
//! - **Deleted means gone.** `secure_delete` is on, so removed pages are
//!   zeroed, and removals end with a WAL checkpoint.
//!
//! Layout: [`docs`] persists documents, [`index`] and [`search`] maintain the
//! index, [`outbox`] tracks unacknowledged changes, [`write`] is the local
//! write path, [`remote`] applies what sync brings, [`quarantine`] keeps
//! refused edits, [`cipher`] encrypts the file at rest (SQLCipher),
//! [`engine_runs`] is when the process engine runs on the device,
//! [`changed`] which records changed since anyone last asked and
//! [`reports`] feeds the report engine from the index.

mod adopt;
mod blob_refs;
mod blobs;
mod card;
mod changed;
pub mod cipher;
mod collation;
mod compact;
mod docs;
mod engine_runs;
mod identity;
mod index;
mod meta;
mod migrations;
mod outbox;
mod processes;
mod quarantine;
mod remote;
mod reports;
mod search;
mod targets;
mod write;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use automerge::ActorId;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

pub use crate::wire::Cursor;
pub use blobs::Attachment;
pub use card::{CardField, RecordCard, display_value};
pub use cipher::{FileState, StoreKey, file_state, remove_files};
pub use collation::NameCollator;
pub use compact::Compaction;
pub use identity::DeviceIdentity;
pub use index::{ListPage, ListQuery, Sort, Summary};
pub use outbox::{PendingChange, TypedWrite};
pub use processes::{ProcessCard, ProcessSummary, StepVisit};
pub use quarantine::{DEPENDENCY_REFUSED, QuarantinedEdit};
pub use remote::{RemoteDoc, RemotePayload};
pub use search::SearchHit;
pub use write::{FieldWrite, TextWrite};

use crate::clock::Clock;
use crate::document::ClassDoc;
use crate::error::{CoreError, Result};
use crate::history::{self, HistoryEntry};
use crate::ids::{DocId, RecordId, RecordKind};
use crate::policy::{Access, Policy, UserContext};
use crate::record::Record;

/// Stable code of the refusal to sign a store in for another user than the
/// one it belongs to ([`Store::set_sign_in`]; rule `store.user`).
pub const STORE_OF_ANOTHER_USER: &str = "store_of_another_user";

/// The page cache of a store's connection, in KiB: room for the hot part
/// of the record index of a large territory (see docs/benchmarks.md, "First
/// sync on the device"), well inside a phone's budget.
const PAGE_CACHE_KIB: i64 = 32 * 1024;

/// Identifies a Fieldwork device store in the SQLite header (`PRAGMA application_id`).
const APPLICATION_ID: i32 = 0x4657_4B31; // "FWK1"

/// How a device is signed in: who, at which server, reached how, under
/// which policy.
///
/// The login token is not part of it: a token is a secret, kept by the
/// app's keystore (the SDK's `SecretStore`), never in the database. Stored
/// as JSON under the `meta` key `session` (the name it always had), field
/// names unchanged, so stores written before the rename read back as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// The server's base URL (`https://host:port`).
    pub server: String,
    /// How to reach it (trusted CAs, pinned certificate, plain HTTP allowed).
    #[serde(default)]
    pub transport: Transport,
    /// The user as the server knows them.
    pub user: UserContext,
    /// The policy in force, as TOML.
    pub policy: String,
    /// The server's revision number of that policy.
    pub policy_revision: u64,
}

/// How a device reaches its server, chosen at sign-in and used by every
/// sync: data only; the SDK turns it into a TLS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transport {
    /// Extra trusted certificate authorities (PEM), e.g. a company CA, in
    /// addition to the public web roots.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// A pinned server certificate: the SHA-256 of its DER encoding, as 64
    /// lowercase hex digits. When set, only that certificate is accepted.
    #[serde(default)]
    pub pin_sha256: Option<String>,
    /// Whether the user explicitly allowed plain `http://` to a host that
    /// is not this machine (`--insecure-http`).
    #[serde(default)]
    pub insecure_http: bool,
}

/// The device store.
///
/// # Example
///
/// Open a store, create a record, read it back and find it in a list; the
/// write also waits in the outbox until a sync pushes it.
///
/// ```
/// use std::sync::Arc;
///
/// use fieldwork_core::{FieldWrite, ListQuery, RecordKind, Store, SystemClock};
///
/// let dir = tempfile::tempdir()?;
/// let mut store = Store::open(&dir.path().join("device.db"), Arc::new(SystemClock))?;
/// let id = store.create(
///     RecordKind::Account,
///     vec![FieldWrite::set("name", "Acme"), FieldWrite::set("stage", "lead")],
/// )?;
///
/// let record = store.get(&id)?;
/// assert_eq!(record.text("name"), Some("Acme"));
/// assert_eq!(record.text("stage"), Some("lead"));
///
/// let accounts = store.list(&ListQuery {
///     kind: Some(RecordKind::Account),
///     ..ListQuery::default()
/// })?;
/// assert_eq!(accounts.len(), 1);
/// assert_eq!(accounts[0].id, id);
/// assert_eq!(accounts[0].title, "Acme");
/// assert!(store.outbox_len()? > 0, "the new record waits to be pushed");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Store {
    conn: Connection,
    path: PathBuf,
    cache: docs::DocCache,
    device_id: String,
    actor: ActorId,
    clock: Arc<dyn Clock>,
    access: Access,
    policy: Policy,
    collator: NameCollator,
    /// Parsed process models, with the index fingerprint they were read at.
    models: Option<(String, Vec<crate::process::Model>)>,
    /// Problems the process engine met while running after a write.
    engine_problems: Vec<String>,
    /// Records whose content changed since [`Store::take_changed`] last
    /// drained them (see [`changed`]).
    changed: BTreeSet<RecordId>,
    /// Change chunks received in compare mode before their dependencies,
    /// per document, fed again with every later sync message for it (see
    /// [`Store::receive_sync_message`]).
    sync_waiting: std::collections::BTreeMap<DocId, Vec<Vec<u8>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the plain (unencrypted) store at `path`
    /// and migrates it to the current schema. A file that is not a Fieldwork
    /// store, or is corrupt, is refused with [`CoreError::Corrupt`] and an
    /// encrypted store with [`CoreError::KeyRequired`]; either is left
    /// untouched.
    ///
    /// Due process timers run once the store is open (see [`engine_runs`]).
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Store> {
        Store::open_inner(path, clock, None, None).map(Store::opened)
    }

    /// Opens (creating if needed) the plain store at `path` as
    /// [`Store::open`] does, but with the device id and Automerge actor of
    /// `identity` instead of fresh ones from the OS. **For simulations and
    /// tests** that replay byte for byte from a seed; never use one identity
    /// for two stores. A store that already has another identity is refused
    /// with [`CoreError::Invalid`] and left as it was.
    pub fn open_with_identity(
        path: &Path,
        clock: Arc<dyn Clock>,
        identity: &DeviceIdentity,
    ) -> Result<Store> {
        Store::open_inner(path, clock, None, Some(identity)).map(Store::opened)
    }

    /// Opens (creating if needed) the store at `path` encrypted under `key`
    /// (SQLCipher; see [`cipher`] for what is protected):
    /// - a missing or empty file becomes a new encrypted store;
    /// - an encrypted store opens with its key; any other key is refused with
    ///   [`CoreError::WrongKey`] and nothing changes on disk;
    /// - a plain store is first encrypted in place, crash-safely (its
    ///   plaintext is gone from the directory afterwards), then opened.
    ///
    /// Scratch files left by a crash during an earlier encryption or
    /// [`Store::rekey`] are deleted. Due process timers run once the store
    /// is open (see [`engine_runs`]).
    pub fn open_encrypted(path: &Path, clock: Arc<dyn Clock>, key: &StoreKey) -> Result<Store> {
        create_parent_dir(path)?;
        cipher::remove_scratch(path)?;
        if cipher::file_state(path)? == FileState::Plain {
            cipher::encrypt_plain_file(path, key, |conn| {
                check_ours(conn, path, false).map(|_| ())
            })?;
        }
        Store::open_inner(path, clock, Some(key), None).map(Store::opened)
    }

    /// Re-encrypts the store under `new` (a plain store opened with
    /// [`Store::open`] becomes encrypted), then carries on under it.
    ///
    /// Crash-safe: the store is exported into a sibling scratch file under
    /// the new key, synced, and renamed over the store; after a crash at any
    /// instant the file is complete under the old key or under the new one.
    /// The store must not be open elsewhere (that fails with
    /// [`CoreError::Storage`], changing nothing). Cost: one full copy of the
    /// store. On success the store is reopened from the file (sign-in,
    /// policy, locale and caches are read back as on [`Store::open`]).
    ///
    /// Keep the old key until this returns `Ok`: after a crash during the
    /// call the store is under the old key or the new one (try both).
    pub fn rekey(&mut self, new: &StoreKey) -> Result<()> {
        let synced = cipher::rekey_file(&self.conn, &self.path, new)?;
        match Store::open_inner(&self.path, self.clock.clone(), Some(new), None) {
            Ok(mut fresh) => {
                fresh.engine_problems = std::mem::take(&mut self.engine_problems);
                fresh.changed = std::mem::take(&mut self.changed);
                *self = fresh;
                synced
            }
            Err(e) => {
                // The file is under the new key, but this connection still
                // reads the old, now unlinked, one: write nothing more there.
                let _ = self.conn.pragma_update(None, "query_only", "ON");
                Err(e)
            }
        }
    }

    /// The one open path: plain when `key` is `None`.
    fn open_inner(
        path: &Path,
        clock: Arc<dyn Clock>,
        key: Option<&StoreKey>,
        identity: Option<&DeviceIdentity>,
    ) -> Result<Store> {
        create_parent_dir(path)?;
        cipher::remove_scratch(path)?;
        if cipher::file_state(path)? == FileState::Encrypted {
            if !cipher::has_page_shape(path)? {
                return Err(CoreError::Corrupt(format!(
                    "{} is not a Fieldwork store or is damaged",
                    path.display()
                )));
            }
            if key.is_none() {
                return Err(CoreError::KeyRequired);
            }
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        cipher::quiet(&conn)?;
        if let Some(key) = key {
            key.apply(&conn)?;
            // This SQLCipher is built with TEMP_STORE=2 (see `PRAGMA
            // compile_options`): temporary tables, indices and sort spills
            // default to memory, but `PRAGMA temp_store = FILE` could still
            // send them to (unencrypted) temporary files. Pinning MEMORY
            // keeps that true whatever the platform build's default.
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            // Until the key is known to be right, closing must not
            // checkpoint a leftover `-wal`: a wrong key changes nothing.
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        }
        conn.busy_timeout(Duration::from_secs(10))?;
        // Room for every statement a write or a sync batch runs per
        // document (rusqlite keeps 16 by default; past that they would be
        // prepared again each time).
        conn.set_prepared_statement_cache_capacity(64);
        let (user_version, tables) = check_ours(&conn, path, key.is_some())?;
        if key.is_some() {
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
        }
        let not_ours = not_ours(path, false);
        if user_version == 0 && tables == 0 {
            // Only possible before the first table exists: lets the store
            // give space back after a sync empties the outbox.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(&not_ours)?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&not_ours)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // SQLite's default page cache (2 MiB) holds a fraction of the
        // index's B-trees once a territory has tens of thousands of
        // records: every miss reads and (keyed) decrypts a page again.
        conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
        migrations::migrate(&mut conn).map_err(|e| match e {
            CoreError::Storage(inner) => not_ours(inner),
            other => other,
        })?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        // Search rows written with an older folding are folded again, so
        // that `lodz` finds `Łódź` in a store indexed before it did.
        search::refold_if_needed(&mut conn)?;

        let (device_id, actor) = identity::resolve(&conn, identity)?;
        let stored = meta::get(&conn, meta::keys::LOCALE)?;
        let locale = stored.clone().unwrap_or_else(default_locale);
        let collator = NameCollator::new(&locale).or_else(|_| NameCollator::new("en"))?;
        if stored.as_deref() != Some(collator.locale()) {
            // From now on the store sorts in this locale whatever the
            // environment says at the next open (only `set_locale` changes
            // it): keys made under another one are made again with it.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            index::rekey(&tx, &collator)?;
            meta::set(&tx, meta::keys::LOCALE, collator.locale())?;
            tx.commit()?;
        }
        let mut store = Store {
            conn,
            path: path.to_owned(),
            cache: docs::DocCache::new(),
            device_id,
            actor,
            clock,
            access: Access::Local,
            policy: Policy::shipped_default(),
            collator,
            models: None,
            engine_problems: Vec::new(),
            changed: BTreeSet::new(),
            sync_waiting: Default::default(),
        };
        if let Some(sign_in) = store.sign_in()? {
            store.install_sign_in(&sign_in)?;
        }
        Ok(store)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This device's stable id.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The Automerge actor id this device writes with.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    /// The clock the store stamps changes with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The access regime in force (local until the device is signed in).
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The policy in force: the sign-in's, or the shipped default.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How the device is signed in, if it is.
    pub fn sign_in(&self) -> Result<Option<SignIn>> {
        match meta::get(&self.conn, meta::keys::SIGN_IN)? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| CoreError::Corrupt(format!("stored sign-in: {e}"))),
        }
    }

    /// Signs the device in (or refreshes the sign-in's policy). A store that
    /// belongs to another user is refused, changing nothing: one store, one
    /// user ([`CoreError::Denied`], code [`STORE_OF_ANOTHER_USER`]).
    ///
    /// At the first sign-in, every record typed before it is made again
    /// under the user, in the same transaction (nothing typed is lost: a
    /// value the user's policy refuses goes to the quarantine with the
    /// reason), so that the first sync pushes it as theirs.
    pub fn set_sign_in(&mut self, sign_in: &SignIn) -> Result<()> {
        let existing = self.sign_in()?;
        if let Some(existing) = &existing
            && existing.user.name != sign_in.user.name
        {
            return Err(CoreError::Denied(crate::Denial {
                code: STORE_OF_ANOTHER_USER.to_owned(),
                doc: None,
                field: None,
                rule: "store.user".to_owned(),
                message: format!(
                    "this device store belongs to `{}`; use another data directory for `{}`",
                    existing.user.name, sign_in.user.name
                ),
            }));
        }
        let json = serde_json::to_string(sign_in).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        if existing.is_some() {
            let before = (self.access.clone(), self.policy.clone());
            self.install_sign_in(sign_in)?;
            // New or removed custom fields change every record's index row
            // (lists, search): refreshed in the sign-in's transaction.
            let reindex = !before.1.same_fields(&self.policy);
            let stored = self.in_write_tx(|ctx| {
                meta::set(ctx.conn, meta::keys::SIGN_IN, &json)?;
                if reindex {
                    write::refresh_all(ctx, &index::all_records(ctx.conn)?)?;
                }
                Ok(())
            });
            if stored.is_err() {
                (self.access, self.policy) = before;
            }
            return stored;
        }
        // The first sign-in: what was typed before it becomes the user's,
        // in the transaction that stores the sign-in (see `store/adopt.rs`).
        let before = (self.access.clone(), self.policy.clone());
        self.install_sign_in(sign_in)?;
        let adopted = self.in_write_tx(|ctx| {
            let adopted = adopt::adopt_local_records(ctx)?;
            meta::set(ctx.conn, meta::keys::SIGN_IN, &json)?;
            Ok(adopted)
        });
        if adopted.is_err() {
            (self.access, self.policy) = before;
        }
        adopted.map(drop)
    }

    fn install_sign_in(&mut self, sign_in: &SignIn) -> Result<()> {
        let policy = Policy::from_toml(&sign_in.policy)?;
        self.policy = policy.clone();
        self.access = Access::User {
            user: sign_in.user.clone(),
            policy,
        };
        Ok(())
    }

    /// Installs the user profile and policy the server sent (on connect or
    /// when they change). Keeps the server address. Returns whether
    /// anything changed.
    pub fn update_policy(
        &mut self,
        user: &UserContext,
        policy: &str,
        revision: u64,
    ) -> Result<bool> {
        let mut sign_in = self.sign_in()?.unwrap_or_else(|| SignIn {
            server: String::new(),
            transport: Transport::default(),
            user: user.clone(),
            policy: String::new(),
            policy_revision: 0,
        });
        if sign_in.user == *user && sign_in.policy == policy && sign_in.policy_revision == revision
        {
            return Ok(false);
        }
        sign_in.user = user.clone();
        sign_in.policy = policy.to_owned();
        sign_in.policy_revision = revision;
        self.set_sign_in(&sign_in)?;
        Ok(true)
    }

    /// Stores the organisation's user directory sent by the server.
    pub fn set_directory(&mut self, directory: &[crate::wire::DirectoryEntry]) -> Result<()> {
        let json =
            serde_json::to_string(directory).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        meta::set(&self.conn, meta::keys::DIRECTORY, &json)
    }

    /// The organisation's user directory as last sent by the server.
    pub fn directory(&self) -> Result<Vec<crate::wire::DirectoryEntry>> {
        match meta::get(&self.conn, meta::keys::DIRECTORY)? {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| CoreError::Corrupt(format!("stored directory: {e}"))),
        }
    }

    /// Takes the session token a store written before tokens moved to the
    /// keystore may still hold, and removes it from the database (one
    /// transaction). `None` for a store that holds none.
    pub fn take_legacy_token(&mut self) -> Result<Option<String>> {
        let Some(json) = meta::get(&self.conn, meta::keys::SIGN_IN)? else {
            return Ok(None);
        };
        let mut value: serde_json::Value = serde_json::from_str(&json)
            .map_err(|e| CoreError::Corrupt(format!("stored sign-in: {e}")))?;
        let token = value
            .as_object_mut()
            .and_then(|o| o.remove("token"))
            .and_then(|t| t.as_str().map(str::to_owned));
        if token.is_some() {
            meta::set(&self.conn, meta::keys::SIGN_IN, &value.to_string())?;
        }
        Ok(token.filter(|t| !t.is_empty()))
    }

    /// The name stamped on changes made here: the signed-in user's, `local`
    /// before the first sign-in (which then makes those records the
    /// user's, see [`Store::set_sign_in`]).
    pub fn author(&self) -> String {
        self.access
            .user()
            .map(|u| u.name.clone())
            .unwrap_or_else(|| adopt::LOCAL_AUTHOR.to_owned())
    }

    /// The locale used to sort names (BCP 47, canonical): the one last set
    /// with [`Store::set_locale`], kept in the store; until then the
    /// environment's (`LC_ALL`, `LC_COLLATE`, `LANG`) at the store's first
    /// open, or `en`.
    pub fn locale(&self) -> &str {
        self.collator.locale()
    }

    /// Changes the locale used to sort names (a BCP 47 tag such as `es`,
    /// `es-ES` or `hu`; a malformed one is refused with
    /// [`CoreError::Invalid`] on field `locale`, changing nothing), keeps it
    /// in the store, and re-computes every sort key, in one transaction.
    pub fn set_locale(&mut self, locale: &str) -> Result<()> {
        let collator = NameCollator::new(locale)?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        index::rekey(&tx, &collator)?;
        meta::set(&tx, meta::keys::LOCALE, collator.locale())?;
        tx.commit()?;
        self.collator = collator;
        Ok(())
    }

    /// Reads a record: the merged fields of every class document present.
    pub fn get(&mut self, id: &RecordId) -> Result<Record> {
        self.assemble(id)?
            .map(|(record, _)| record)
            .ok_or_else(|| CoreError::NotFound(id.to_string()))
    }

    /// Lists records from the index.
    pub fn list(&self, query: &ListQuery) -> Result<Vec<Summary>> {
        index::list(&self.conn, query)
    }

    /// Lists one page of records from the index, with the cursor of the
    /// next page: pass [`ListPage::next`] as [`ListQuery::after`] (same
    /// sort and direction) until it is `None`. Offsets still work; a cursor
    /// with a non-zero offset, a cursor of another order or a malformed one
    /// is `Invalid` naming `after`.
    ///
    /// Guarantees: a record never appears twice nor is skipped across pages
    /// when no record changes; when records are added or removed between
    /// pages, a record that stays in the list and does not change its sort
    /// key is returned exactly once; a page costs one index query however
    /// deep it is (offsets make SQLite step over every skipped row).
    pub fn list_page(&self, query: &ListQuery) -> Result<ListPage> {
        index::list_page(&self.conn, query)
    }

    /// Full-text search, best matches first.
    pub fn search(
        &self,
        text: &str,
        kind: Option<RecordKind>,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        search::search(&self.conn, text, kind, limit)
    }

    /// Who changed which field when, oldest first, from the Automerge history
    /// of the record's documents present on this device.
    pub fn history(&mut self, id: &RecordId) -> Result<Vec<HistoryEntry>> {
        let doc_ids = docs::doc_ids_of(&self.conn, id)?;
        if doc_ids.is_empty() {
            return Err(CoreError::NotFound(id.to_string()));
        }
        let mut entries = Vec::new();
        for doc_id in doc_ids {
            let found = docs::with_doc(&self.conn, &mut self.cache, &doc_id, &self.actor, |doc| {
                history::of_doc(doc)
            })?;
            entries.extend(found.unwrap_or_default());
        }
        // Stable: changes of one document keep their causal order within a second.
        entries.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(entries)
    }

    /// Number of records of `kind` on this device.
    pub fn count(&self, kind: RecordKind) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM records WHERE kind = ?1",
            [kind.as_str()],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Loads every class document of a record present here and merges them.
    /// Returns the record and the newest change time (seconds), or `None`.
    fn assemble(&mut self, id: &RecordId) -> Result<Option<(Record, i64)>> {
        assemble(&self.conn, &mut self.cache, &self.actor, id)
    }

    /// Checks the whole store file (`PRAGMA integrity_check`) and that every
    /// document loads. Returns the problems found (empty when healthy).
    pub fn verify(&mut self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        problems.extend(rows.into_iter().filter(|r| r != "ok"));
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare("SELECT doc_id FROM documents")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for id in ids {
            let doc_id: DocId = match id.parse() {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!("{id}: {e}"));
                    continue;
                }
            };
            self.cache.forget(&doc_id);
            if let Err(e) = docs::take(&self.conn, &mut self.cache, &doc_id, &self.actor) {
                problems.push(e.to_string());
            }
        }
        Ok(problems)
    }
}

/// Loads and merges a record's documents (free function so that write paths
/// can call it while holding a transaction on the same connection).
pub(crate) fn assemble(
    conn: &Connection,
    cache: &mut docs::DocCache,
    actor: &ActorId,
    id: &RecordId,
) -> Result<Option<(Record, i64)>> {
    assemble_with(conn, cache, actor, id, &mut [])
}

/// [`assemble`], taking the documents in `in_hand` from there instead of
/// loading them (a batch being applied holds what it just wrote).
pub(crate) fn assemble_with(
    conn: &Connection,
    cache: &mut docs::DocCache,
    actor: &ActorId,
    id: &RecordId,
    in_hand: &mut [&mut ClassDoc],
) -> Result<Option<(Record, i64)>> {
    let doc_ids = docs::doc_ids_of(conn, id)?;
    if doc_ids.is_empty() {
        return Ok(None);
    }
    let mut record = crate::edit::empty_record(id);
    let mut updated = 0i64;
    for doc_id in doc_ids {
        if let Some(doc) = in_hand.iter_mut().find(|d| *d.id() == doc_id) {
            updated = updated.max(crate::edit::absorb(&mut record, doc)?);
            continue;
        }
        docs::with_doc(conn, cache, &doc_id, actor, |doc: &mut ClassDoc| {
            updated = updated.max(crate::edit::absorb(&mut record, doc)?);
            Ok(())
        })?;
    }
    Ok(Some((record, updated)))
}

/// Creates the directory the store lives in.
fn create_parent_dir(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| CoreError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Maps SQLite's "not a database" / "corrupt" to [`CoreError::Corrupt`], or
/// to [`CoreError::WrongKey`] for the first read of a keyed connection
/// (SQLCipher reports a wrong key as "file is not a database").
fn not_ours(path: &Path, keyed_first_read: bool) -> impl Fn(rusqlite::Error) -> CoreError + '_ {
    move |e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if keyed_first_read && f.code == rusqlite::ErrorCode::NotADatabase =>
        {
            CoreError::WrongKey
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            CoreError::Corrupt(format!(
                "{} is not a Fieldwork store or is damaged ({f})",
                path.display()
            ))
        }
        other => CoreError::Storage(other),
    }
}

/// The first reads of a freshly opened connection: refuses a database that
/// is not a Fieldwork store (or, keyed, a wrong key) before anything is
/// written. Returns `(user_version, number of schema objects)`.
fn check_ours(conn: &Connection, path: &Path, keyed: bool) -> Result<(i32, i64)> {
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(not_ours(path, keyed))?;
    let not_ours = not_ours(path, false);
    let user_version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(&not_ours)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(&not_ours)?;
    if app_id != APPLICATION_ID && (app_id != 0 || user_version != 0 || tables != 0) {
        return Err(CoreError::Corrupt(format!(
            "{} is a SQLite database but not a Fieldwork store",
            path.display()
        )));
    }
    Ok((user_version, tables))
}

/// The locale from the environment (`LC_ALL`, `LC_COLLATE`, `LANG`), as BCP 47.
fn default_locale() -> String {
    for var in ["LC_ALL", "LC_COLLATE", "LANG"] {
        if let Ok(value) = std::env::var(var) {
            let tag = value
                .split(['.', '@'])
                .next()
                .unwrap_or("")
                .replace('_', "-");
            if !tag.is_empty() && tag != "C" && tag != "POSIX" {
                return tag;
            }
        }
    }
    "en".to_owned()
}
