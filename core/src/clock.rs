//! The source of "now", injectable so that tests and demos control time.
//!
//! Both binaries honour the environment variable [`CLOCK_ENV`]
//! (`FIELDWORK_NOW=2027-01-08T09:00:00Z`): when it is set, the clock is frozen
//! at that instant. Nothing in the core reads the system time except
//! [`SystemClock`].

use std::sync::Arc;

use jiff::Timestamp;

use crate::error::{CoreError, ValidationError};

/// The environment variable that freezes the clock of both binaries.
pub const CLOCK_ENV: &str = "FIELDWORK_NOW";

/// Tells the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock frozen at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// The clock selected by the environment: frozen at `FIELDWORK_NOW` when that
/// variable is set (an RFC 3339 instant), the system clock otherwise.
pub fn clock_from_env() -> Result<Arc<dyn Clock>, CoreError> {
    match std::env::var(CLOCK_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            let ts: Timestamp = value.trim().parse().map_err(|e| {
                CoreError::Invalid(ValidationError::record(format!(
                    "{CLOCK_ENV}=`{value}` is not an RFC 3339 instant: {e}"
                )))
            })?;
            Ok(Arc::new(FixedClock(ts)))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}

/// A clock that stands still until moved: for tests that let days pass.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<std::sync::Mutex<Timestamp>>);

impl ManualClock {
    /// A clock at `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(Arc::new(std::sync::Mutex::new(at)))
    }

    /// Moves the clock to `at` (every holder of a clone sees it).
    pub fn set(&self, at: Timestamp) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.lock().map(|t| *t).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}
