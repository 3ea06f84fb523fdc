//! Fan-out of accepted changes and administrative events to live connections.
//!
//! The writer publishes each committed change here, in feed order, while it
//! still holds the writer lock; every connection subscribes. A connection that
//! falls behind (the channel is bounded) is told it lagged and catches up
//! from the database instead, so nothing is ever skipped.

use std::sync::Arc;

use fieldwork_core::DocId;
use tokio::sync::broadcast;

use crate::db::feed::FeedRow;

/// How many events a slow connection may fall behind before it must catch up
/// from the database.
const CAPACITY: usize = 8192;

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    /// Feed sequence number.
    pub seq: u64,
    /// The document.
    pub doc: DocId,
    /// The change's hash.
    pub hash: Vec<u8>,
    /// The raw change.
    pub bytes: Vec<u8>,
    /// The device that pushed it.
    pub device: Option<String>,
    /// Whether the change altered its record's visibility facts (owner,
    /// territory, account, assignee).
    pub facts_changed: bool,
}

impl FeedEvent {
    /// The feed row this event announces.
    pub fn row(&self) -> FeedRow {
        FeedRow {
            seq: self.seq,
            doc_id: self.doc.to_string(),
            hash: self.hash.clone(),
            bytes: self.bytes.clone(),
            device_id: self.device.clone(),
        }
    }
}

/// What connections hear about.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// Changes were committed.
    Changes(Arc<Vec<FeedEvent>>),
    /// Users or the policy changed: re-check who may see what.
    AdminChanged,
    /// The server is shutting down.
    Shutdown,
}

/// The broadcast hub.
#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<HubEvent>,
}

impl Default for Hub {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Hub { tx }
    }
}

impl Hub {
    /// Publishes an event to every current subscriber.
    pub fn publish(&self, event: HubEvent) {
        // No subscriber is not an error: nobody is connected.
        let _ = self.tx.send(event);
    }

    /// Subscribes to events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.tx.subscribe()
    }
}
