//! Where processes run: the [`ProcessHost`] the runner reads and writes
//! through (the device store, the server), and the [`HostError`] its
//! operations return.
//!
//! Guarantees:
//! - A host returns its own error type: the device store (part of this
//!   crate) returns [`CoreError`]; the server returns its own error, so its
//!   database failures are never dressed up as core errors.
//! - Every core error converts into the host's error, and the runner can
//!   still tell a step the rule book or the policy refused (the instance's
//!   fault, see [`super::runner::run_contained`]) from the host's failure.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::model::Model;
use crate::error::{CoreError, Result};
use crate::ids::{RecordId, RecordKind};
use crate::policy::Access;
use crate::record::Record;
use crate::value::FieldValue;
use crate::wire::DirectoryEntry;

/// The error of a [`ProcessHost`]: core errors convert into it, and it says
/// which core error it is, if it is one.
pub trait HostError: From<CoreError> + std::fmt::Display {
    /// The core error this is, or `None` for a failure of the host itself
    /// (storage, its own checks).
    fn as_core(&self) -> Option<&CoreError>;

    /// Whether this is a step the rule book or the policy refused
    /// ([`CoreError::Invalid`] or [`CoreError::Denied`]): the fault of the
    /// instance that took it, not of the host.
    fn is_refusal(&self) -> bool {
        matches!(
            self.as_core(),
            Some(CoreError::Invalid(_) | CoreError::Denied(_))
        )
    }
}

impl HostError for CoreError {
    fn as_core(&self) -> Option<&CoreError> {
        Some(self)
    }
}

/// Where processes run: reads and writes records, keeps wake-up times.
pub trait ProcessHost {
    /// The host's error: every core error converts into it (a refused
    /// step, a bad model), and its own failures (storage) stay its own.
    type Error: HostError;
    /// Now.
    fn now(&self) -> Timestamp;
    /// Who acts here (a user name; `engine` on the server).
    fn acting_user(&self) -> String;
    /// The acting user's rights.
    fn access(&self) -> &Access;
    /// Whether this host runs every instance whatever its acting user reads:
    /// the server, which holds every record. A device (the default) runs an
    /// instance only when its user reads at least what the instance's owner
    /// reads, so that no replica computes a step from fewer fields.
    fn runs_every_instance(&self) -> bool {
        false
    }
    /// The policy in force, which instances run under (`None`: a device
    /// that never signed in).
    fn policy(&self) -> Option<&crate::policy::Policy> {
        self.access().policy()
    }
    /// Every published model version here.
    fn models(&mut self) -> Result<Vec<Model>, Self::Error>;
    /// A record, if it exists here.
    fn record(&mut self, id: &RecordId) -> Result<Option<Record>, Self::Error>;
    /// Ids of every record of `kind` here (scheduled triggers).
    fn records_of(&mut self, kind: RecordKind) -> Result<Vec<RecordId>, Self::Error>;
    /// Users, roles, managers, time zones.
    fn directory(&mut self) -> Result<Vec<DirectoryEntry>, Self::Error>;
    /// Creates record `id` as the engine, as of `at`, with exactly `fields`:
    /// the same inputs give the same bytes on every replica. Returns `false`
    /// (writing nothing) when the record exists here or may not be written
    /// by the acting user (another replica will create it).
    fn create(
        &mut self,
        id: &RecordId,
        fields: &BTreeMap<String, FieldValue>,
        at: Timestamp,
    ) -> Result<bool, Self::Error>;
    /// Sets entry `key` of the entries field `field` of `id`.
    fn put_entry(
        &mut self,
        id: &RecordId,
        field: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), Self::Error>;
    /// Sets a field of a record (as the acting user).
    fn write(&mut self, id: &RecordId, field: &str, value: FieldValue) -> Result<(), Self::Error>;
    /// Records when to run `instance` next (`None`: only when something
    /// changes), whether it is still active (not completed or stopped), and
    /// the record whose changes it waits for (a `wait` step on a condition;
    /// see [`ProcessHost::watching`]).
    fn set_wakeup(
        &mut self,
        instance: &RecordId,
        at: Option<Timestamp>,
        active: bool,
        watch: Option<&RecordId>,
    ) -> Result<(), Self::Error>;
    /// Active instances waiting for `record` to change: the host runs them
    /// after a write (device) or an accepted push (server) of it.
    fn watching(&mut self, record: &RecordId) -> Result<Vec<RecordId>, Self::Error>;
    /// Active instances due at `now`, earliest first.
    fn due(&mut self, now: Timestamp) -> Result<Vec<RecordId>, Self::Error>;
    /// Every active instance.
    fn active(&mut self) -> Result<Vec<RecordId>, Self::Error>;
    /// The last occurrence of scheduled model `key` that was handled.
    fn schedule_mark(&mut self, key: &str) -> Result<Option<Timestamp>, Self::Error>;
    /// Marks occurrence `at` of scheduled model `key` handled.
    fn set_schedule_mark(&mut self, key: &str, at: Timestamp) -> Result<(), Self::Error>;
    /// Marks `instance` failed with `reason`: it is no longer run here and
    /// shows as failed in monitoring until an administrator acts.
    fn mark_failed(&mut self, instance: &RecordId, reason: &str) -> Result<(), Self::Error>;
    /// Why `instance` was marked failed here, if it was.
    fn failure(&mut self, instance: &RecordId) -> Result<Option<String>, Self::Error>;
}
