//! The record card of a stored record (built by [`crate::card`]).

use super::{Store, index};
use crate::error::Result;
use crate::ids::{RecordId, RecordKind};

pub use crate::card::{CardField, RecordCard, display_value};

impl Store {
    /// The card of record `id`: its readable fields with their values and
    /// whether the user may write each. Fields of classes the user may not
    /// read are left out (the device does not have them).
    pub fn card(&mut self, id: &RecordId) -> Result<RecordCard> {
        let record = self.get(id)?;
        let inherited = match record.account() {
            Some(acc) => index::account_territory(&self.conn, &acc)?,
            None => None,
        };
        let facts = record.facts(inherited);
        Ok(crate::card::card_of(
            self.access(),
            self.policy(),
            &record,
            &facts,
        ))
    }

    /// The fields a user may fill in when creating a record of `kind`, in
    /// schema order (what a "new record" form shows).
    pub fn creatable_fields(&self, kind: RecordKind) -> Vec<String> {
        crate::card::creatable_fields(self.access(), self.policy(), kind)
    }
}
