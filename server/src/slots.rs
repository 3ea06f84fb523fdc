//! Slots for long-running reads (exports): at most one per user and
//! [`MAX_RUNNING`] in all, so one user's exports cannot hold up everyone
//! else's.
//!
//! Guarantees: a slot is held by its [`Slot`] guard and freed when the
//! guard is dropped (the export finished, failed, or its client went away);
//! taking one never waits: a busy user or server is told at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Exports running at once on one server.
pub const MAX_RUNNING: usize = 4;

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// This user already runs one.
    User,
    /// [`MAX_RUNNING`] are running.
    Server,
}

/// The users with a running export.
#[derive(Debug, Default, Clone)]
pub struct Slots {
    running: Arc<Mutex<HashSet<String>>>,
}

/// A held slot; dropping it frees it.
#[derive(Debug)]
pub struct Slot {
    running: Arc<Mutex<HashSet<String>>>,
    user: String,
}

impl Slots {
    /// Takes `user`'s slot, or says why not.
    pub fn take(&self, user: &str) -> Result<Slot, Busy> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains(user) {
            return Err(Busy::User);
        }
        if running.len() >= MAX_RUNNING {
            return Err(Busy::Server);
        }
        running.insert(user.to_owned());
        Ok(Slot {
            running: self.running.clone(),
            user: user.to_owned(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_user_and_a_cap_in_all_freed_on_drop() {
        let slots = Slots::default();
        let ana = slots.take("ana").expect("free");
        assert_eq!(slots.take("ana").err(), Some(Busy::User));
        let others: Vec<Slot> = (1..MAX_RUNNING)
            .map(|i| slots.take(&format!("u{i}")).expect("free"))
            .collect();
        assert_eq!(slots.take("mia").err(), Some(Busy::Server));
        drop(ana);
        let mia = slots.take("mia").expect("freed by the drop");
        drop((mia, others));
        assert!(slots.take("ana").is_ok());
    }
}
