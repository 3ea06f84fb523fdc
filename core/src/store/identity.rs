//! A device's identity: its device id and the Automerge actor it writes
//! with, drawn from the OS when a store is created and kept in `meta`.

use automerge::ActorId;
use rusqlite::Connection;

use super::meta;
use crate::error::{CoreError, Result, ValidationError};

/// A fixed device identity, **for simulations and tests** that must replay
/// byte for byte from a seed (see [`Store::open_with_identity`]).
///
/// Production code never needs one: [`Store::open`] draws a fresh identity
/// when it creates a store. Two stores that sync must never share an actor
/// (Automerge would take their changes for one history), so every device
/// of a simulation needs its own seed.
///
/// [`Store::open`]: super::Store::open
/// [`Store::open_with_identity`]: super::Store::open_with_identity
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The device id (a ULID string, as the store would draw).
    pub device_id: String,
    /// The Automerge actor the store writes with.
    pub actor: ActorId,
}

impl DeviceIdentity {
    /// The identity derived from `seed`: distinct seeds give distinct
    /// device ids and actors, and one seed always gives the same ones.
    pub fn from_seed(seed: u64) -> DeviceIdentity {
        let mut actor = *b"fw-seed:\0\0\0\0\0\0\0\0";
        actor[8..].copy_from_slice(&seed.to_be_bytes());
        DeviceIdentity {
            device_id: ulid::Ulid(u128::from(seed) | (1 << 120)).to_string(),
            actor: ActorId::from(actor.to_vec()),
        }
    }
}

/// The store's identity: the stored one, else `fixed`, else a fresh one
/// from the OS (stored for next time). A stored identity that differs from
/// `fixed` is refused: a caller that asked for an identity gets it or an
/// error.
pub(super) fn resolve(
    conn: &Connection,
    fixed: Option<&DeviceIdentity>,
) -> Result<(String, ActorId)> {
    let stored = (
        meta::get(conn, meta::keys::DEVICE_ID)?,
        meta::get(conn, meta::keys::ACTOR)?,
    );
    let (device_id, actor) = match stored {
        (Some(id), Some(hex)) => (id, parse_actor(&hex)?),
        (id, hex) => {
            let fresh = fixed.cloned().unwrap_or_else(|| DeviceIdentity {
                device_id: ulid::Ulid::new().to_string(),
                actor: ActorId::random(),
            });
            let device_id = id.unwrap_or(fresh.device_id);
            let actor = match hex {
                Some(hex) => parse_actor(&hex)?,
                None => fresh.actor,
            };
            meta::set(conn, meta::keys::DEVICE_ID, &device_id)?;
            meta::set(conn, meta::keys::ACTOR, &actor.to_hex_string())?;
            (device_id, actor)
        }
    };
    if let Some(fixed) = fixed
        && (fixed.device_id != device_id || fixed.actor != actor)
    {
        return Err(CoreError::Invalid(ValidationError::record(format!(
            "this store already has the identity {device_id}, not {}",
            fixed.device_id
        ))));
    }
    Ok((device_id, actor))
}

fn parse_actor(hex: &str) -> Result<ActorId> {
    hex::decode(hex)
        .map(ActorId::from)
        .map_err(|_| CoreError::Corrupt("stored actor id is not hex".into()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::Store;
    use crate::clock::FixedClock;

    #[test]
    fn a_fixed_identity_is_used_kept_and_never_silently_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.db");
        let clock = Arc::new(FixedClock("2026-11-24T09:00:00Z".parse().expect("instant")));
        let seven = DeviceIdentity::from_seed(7);
        assert_eq!(seven, DeviceIdentity::from_seed(7));
        assert_ne!(seven.actor, DeviceIdentity::from_seed(8).actor);
        assert_ne!(seven.device_id, DeviceIdentity::from_seed(8).device_id);

        let store = Store::open_with_identity(&path, clock.clone(), &seven).expect("open");
        assert_eq!(
            (store.device_id(), store.actor()),
            (&*seven.device_id, &seven.actor)
        );
        drop(store);
        let store = Store::open(&path, clock.clone()).expect("reopen");
        assert_eq!(
            (store.device_id(), store.actor()),
            (&*seven.device_id, &seven.actor)
        );
        drop(store);
        let other = Store::open_with_identity(&path, clock, &DeviceIdentity::from_seed(8));
        assert!(matches!(other, Err(CoreError::Invalid(_))), "{other:?}");
    }
}
