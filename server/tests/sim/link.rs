//! A simulated connection between one device and the server: two in-order
//! queues of messages and the server's [`Machine`] for it.

use std::collections::VecDeque;

use fieldwork_core::sync::codec;
use fieldwork_core::sync::protocol::{ClientMessage, ErrorMessage, ServerMessage};
use fieldwork_server::hub::HubEvent;
use fieldwork_server::sync::machine::{Effect, Event, Machine};
use tokio::sync::broadcast::{self, error::TryRecvError};

/// One open connection. Frames are delivered in order per direction; what
/// is in the queues when the link drops is lost.
pub struct Link {
    /// The server side of the connection (`None` once it closed).
    pub machine: Option<Machine>,
    /// The connection's hub subscription (taken when the socket opened).
    pub hub: broadcast::Receiver<HubEvent>,
    /// Device → server, in flight.
    pub up: VecDeque<ClientMessage>,
    /// Server → device, in flight.
    pub down: VecDeque<ServerMessage>,
}

/// What a server step produced that the harness checks.
#[derive(Debug, Default)]
pub struct Stepped {
    /// Refusals seen in push results, with their codes.
    pub refusal_codes: Vec<String>,
    /// Every frame the machine sent (or the error it closed with), encoded.
    pub frames: Vec<Vec<u8>>,
}

impl Link {
    /// Hands one event to the machine and queues its effects for the device;
    /// then, as the host does, steps `Continue` while the machine has more
    /// to send (a download a page per step).
    pub fn step(&mut self, event: Event) -> Stepped {
        let mut out = Stepped::default();
        let mut next = Some(event);
        while let Some(event) = next.take() {
            let Some(machine) = self.machine.as_mut() else {
                break;
            };
            super::trace(|| format!("  server <- {}", describe_event(&event)));
            for effect in machine.step(event) {
                super::trace(|| format!("  server -> {}", describe_effect(&effect)));
                match effect {
                    Effect::Send(m) => {
                        if let ServerMessage::PushResult(r) = &m {
                            out.refusal_codes
                                .extend(r.refused.iter().map(|f| f.code.clone()));
                        }
                        out.frames.push(codec::encode(&m));
                        self.down.push_back(m);
                    }
                    Effect::Close(c) => {
                        let m = ServerMessage::Error(ErrorMessage {
                            code: c.code.to_owned(),
                            message: c.message,
                        });
                        out.frames.push(codec::encode(&m));
                        self.down.push_back(m);
                    }
                }
            }
            if machine.is_closed() {
                self.machine = None;
                self.up.clear();
            } else if machine.has_more() {
                next = Some(Event::Continue);
            }
        }
        out
    }

    /// Delivers the next device message to the server, if any.
    pub fn deliver_up(&mut self) -> Option<Stepped> {
        let m = self.up.pop_front()?;
        Some(self.step(Event::Message(m)))
    }

    /// Delivers one pending hub event to a machine that listens, if any.
    pub fn deliver_hub(&mut self) -> Option<Stepped> {
        let hears = self.machine.as_ref().is_some_and(Machine::hears_hub);
        if !hears {
            return None;
        }
        let event = match self.hub.try_recv() {
            Ok(HubEvent::Changes(c)) => Event::Changes(c),
            Ok(HubEvent::AdminChanged) => Event::AdminChanged,
            Ok(HubEvent::Shutdown) | Err(TryRecvError::Closed) => Event::Shutdown,
            Err(TryRecvError::Lagged(_)) => Event::Lagged,
            Err(TryRecvError::Empty) => return None,
        };
        Some(self.step(event))
    }

    /// Whether nothing is in flight and no hub event waits for the machine.
    pub fn idle(&self) -> bool {
        self.up.is_empty()
            && self.down.is_empty()
            && (self.hub.is_empty() || !self.machine.as_ref().is_some_and(Machine::hears_hub))
    }

    /// Whether the server side closed and the device heard everything.
    pub fn finished(&self) -> bool {
        self.machine.is_none() && self.down.is_empty()
    }
}

/// A compare-mode sync message, decoded: heads, needs and changes carried.
fn describe_sync(doc: &str, message: Option<&[u8]>) -> String {
    let Some(bytes) = message else {
        return format!("sync {doc} None");
    };
    let short = |h: &[fieldwork_core::automerge::ChangeHash]| -> Vec<String> {
        h.iter().map(|h| h.to_string()[..8].to_owned()).collect()
    };
    match fieldwork_core::automerge::sync::Message::decode(bytes) {
        Ok(m) => format!(
            "sync {doc} heads {:?} need {:?} have {} changes {}",
            short(&m.heads),
            short(&m.need),
            m.have.len(),
            m.changes.iter().count()
        ),
        Err(e) => format!("sync {doc} undecodable: {e}"),
    }
}

fn describe_event(e: &Event) -> String {
    match e {
        Event::Message(ClientMessage::SyncDoc(s)) => {
            format!(
                "device {}",
                describe_sync(&s.doc, s.message.as_ref().map(|m| m.as_slice()))
            )
        }
        Event::Message(m) => format!("{m:?}").chars().take(300).collect(),
        Event::Changes(c) => format!(
            "changes {:?}",
            c.iter()
                .map(|e| (e.seq, e.doc.to_string(), e.device.clone(), e.facts_changed))
                .collect::<Vec<_>>()
        ),
        other => format!("{other:?}"),
    }
}

fn describe_effect(e: &Effect) -> String {
    match e {
        Effect::Send(ServerMessage::Batch(b)) => format!(
            "batch {:?} cursor {:?}",
            b.docs
                .iter()
                .map(|d| (d.doc.clone(), d.document.is_some(), d.changes.len()))
                .collect::<Vec<_>>(),
            b.cursor.as_ref().map(|c| c.seq)
        ),
        Effect::Send(ServerMessage::SyncDoc(s)) => {
            describe_sync(&s.doc, s.message.as_ref().map(|m| m.as_slice()))
        }
        Effect::Send(ServerMessage::Welcome(w)) => {
            format!("welcome {:?} {:?}", w.mode, w.user.territories)
        }
        other => format!("{other:?}").chars().take(300).collect(),
    }
}
