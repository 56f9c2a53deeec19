//! Resuming a connection after a network failure (OpenTok's `sessionReconnecting` /
//! `sessionReconnected`).
//!
//! A client that asks for it (`connect.reconnect`) gets a resume credential in
//! `connected.resume`, a secret of that connection alone. When its WebSocket fails (an
//! error, or silence past the heartbeat: not a clean close, not a forced disconnect), the
//! connection is **suspended** instead of ended. It stays in its room with its streams and
//! subscriptions, its events queue in its outbox, and the router keeps its media
//! transports (their disconnect grace is at least as long). A new WebSocket whose first
//! message is `resume` (connection ID, credential, and how many messages the client had)
//! takes it back. If the old WebSocket still looks alive to the server (the client noticed
//! first), it is taken over. Then:
//!
//! * The server sends again what the client missed. The writer keeps the last messages it
//!   sent ([`Replay`]), so a message lost with the old socket is not lost.
//! * The server says how many client messages it had (`resumed.heard`), and the client
//!   sends the rest again.
//! * The client restarts ICE on its peer connections (`restartIce`).
//!
//! Nobody else sees anything. After the grace period without a resume, the connection ends
//! as it always did (`networkDisconnected`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use base64::Engine as _;
use parlor_proto::signaling::ResumeGrant;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;
use tokio::sync::{mpsc, oneshot};

use super::connection::Member;
use super::lock;
use super::outbox::OutboxReader;

/// The most messages kept for resending.
const REPLAY_MESSAGES: usize = 512;
/// The most bytes kept for resending.
const REPLAY_BYTES: usize = 1 << 20;
/// How long a `resume` waits for a live connection's task to hand it over.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// What a member's writer sent: how many messages, and the last ones.
#[derive(Debug, Default)]
pub struct Replay {
    sent: u64,
    kept: VecDeque<Utf8Bytes>,
    bytes: usize,
}

impl Replay {
    /// Records a message about to be sent.
    pub fn record(&mut self, text: &Utf8Bytes) {
        self.sent += 1;
        self.bytes += text.len();
        self.kept.push_back(text.clone());
        while self.kept.len() > REPLAY_MESSAGES || self.bytes > REPLAY_BYTES {
            let Some(old) = self.kept.pop_front() else {
                break;
            };
            self.bytes -= old.len();
        }
    }

    /// The messages after the client's first `received`, or `None` if some of them are no
    /// longer kept (or the client claims more than was sent).
    pub fn after(&self, received: u64) -> Option<Vec<Utf8Bytes>> {
        let missing = usize::try_from(self.sent.checked_sub(received)?).ok()?;
        let skip = self.kept.len().checked_sub(missing)?;
        Some(self.kept.iter().skip(skip).cloned().collect())
    }
}

/// A connection without a WebSocket, waiting to be resumed.
pub struct Suspended {
    pub(super) member: Member,
    pub(super) outbox: OutboxReader,
    pub(super) replay: Replay,
    /// Client messages the server had on this connection.
    pub(super) heard: u64,
    pub(super) token: String,
    /// When its socket was lost.
    pub(super) lost_at: std::time::Instant,
}

/// A live connection's task is asked to suspend and hand its connection over.
pub type Takeover = oneshot::Sender<Box<Suspended>>;

enum Slot {
    /// Served by a connection task, which hands the connection over when asked.
    Live {
        token: String,
        takeover: mpsc::Sender<Takeover>,
    },
    /// Waiting; `generation` tells this suspension from a later one.
    Suspended {
        suspended: Box<Suspended>,
        generation: u64,
    },
}

impl Slot {
    fn token(&self) -> &str {
        match self {
            Slot::Live { token, .. } => token,
            Slot::Suspended { suspended, .. } => &suspended.token,
        }
    }
}

/// Why a `resume` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such connection waits (never was, ended, or its grace ran out), or the credential
    /// or session does not match: the client must connect anew.
    Unknown,
    /// The messages the client missed are no longer kept.
    TooFarBehind,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unknown => "resume_refused",
            Refusal::TooFarBehind => "resume_too_late",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unknown => {
                "this connection cannot be resumed (it ended, its grace period ran out, or \
                 the credential does not match): connect again"
            }
            Refusal::TooFarBehind => {
                "this connection missed more messages than the server keeps: connect again"
            }
        }
    }
}

/// The connections that can be resumed, by connection ID.
#[derive(Default)]
pub struct Resumable {
    grace: OnceLock<Option<Duration>>,
    slots: Mutex<HashMap<String, Slot>>,
    generations: std::sync::atomic::AtomicU64,
}

impl Resumable {
    /// Sets the grace period (once, at start; `None`: no connection is ever resumed).
    pub fn set_grace(&self, grace: Option<Duration>) {
        let _ = self.grace.set(grace);
    }

    pub fn grace(&self) -> Option<Duration> {
        self.grace.get().copied().flatten()
    }

    /// A new resume credential for a connection whose client asked for one, if resuming
    /// is on.
    pub fn grant(&self) -> Option<ResumeGrant> {
        let grace = self.grace()?;
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Some(ResumeGrant {
            token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
            grace_ms: u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Registers a connection served by a task; returns where that task hears takeovers.
    pub fn live(&self, connection_id: &str, token: &str) -> mpsc::Receiver<Takeover> {
        let (takeover, rx) = mpsc::channel(1);
        lock(&self.slots).insert(
            connection_id.to_owned(),
            Slot::Live {
                token: token.to_owned(),
                takeover,
            },
        );
        rx
    }

    /// The connection ended for good: it can no longer be resumed.
    pub fn forget(&self, connection_id: &str) {
        lock(&self.slots).remove(connection_id);
    }

    /// Parks a suspended connection; returns its generation, for [`Resumable::expire`].
    pub fn suspend(&self, suspended: Box<Suspended>) -> u64 {
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = suspended.member.me.clone();
        lock(&self.slots).insert(
            id,
            Slot::Suspended {
                suspended,
                generation,
            },
        );
        generation
    }

    /// The grace period ran out: takes the connection if it is still that suspension.
    pub fn expire(&self, connection_id: &str, generation: u64) -> Option<Box<Suspended>> {
        let mut slots = lock(&self.slots);
        match slots.get(connection_id) {
            Some(Slot::Suspended { generation: g, .. }) if *g == generation => {}
            _ => return None,
        }
        match slots.remove(connection_id) {
            Some(Slot::Suspended { suspended, .. }) => Some(suspended),
            _ => None,
        }
    }

    /// Takes a connection back for a `resume` of `session_id` presenting `token`: a
    /// suspended one at once, a live one from its task.
    pub async fn take(
        &self,
        session_id: &str,
        connection_id: &str,
        token: &str,
    ) -> Result<Box<Suspended>, Refusal> {
        let takeover = {
            let mut slots = lock(&self.slots);
            let Some(slot) = slots.get(connection_id) else {
                return Err(Refusal::Unknown);
            };
            let matches: bool = slot.token().as_bytes().ct_eq(token.as_bytes()).into();
            if !matches {
                return Err(Refusal::Unknown);
            }
            match slots.remove(connection_id) {
                Some(Slot::Suspended { suspended, .. }) => {
                    return check_session(suspended, session_id);
                }
                Some(Slot::Live { takeover, .. }) => takeover,
                None => return Err(Refusal::Unknown),
            }
        };
        let (tx, rx) = oneshot::channel();
        if takeover.send(tx).await.is_err() {
            return Err(Refusal::Unknown);
        }
        match tokio::time::timeout(TAKEOVER_TIMEOUT, rx).await {
            Ok(Ok(suspended)) => check_session(suspended, session_id),
            _ => Err(Refusal::Unknown),
        }
    }
}

/// A connection resumed with another session's ID is not resumed (and, having been taken,
/// is parked again by the caller's refusal path: see `connection::resume`).
fn check_session(suspended: Box<Suspended>, session_id: &str) -> Result<Box<Suspended>, Refusal> {
    if suspended.member.room.session_id() == session_id {
        Ok(suspended)
    } else {
        // The credential is the connection's own secret, so this is a client bug or a
        // forgery; the connection ends rather than stay in limbo.
        suspended.member.room.leave(
            &suspended.member.me,
            parlor_proto::signaling::ConnectionReason::NetworkDisconnected,
        );
        Err(Refusal::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Utf8Bytes {
        Utf8Bytes::from(s.to_owned())
    }

    #[test]
    fn replay_gives_what_the_client_missed() {
        let mut r = Replay::default();
        for i in 0..5 {
            r.record(&text(&format!("m{i}")));
        }
        let after = |n| {
            r.after(n)
                .map(|v| v.iter().map(|t| t.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(after(5), Some(vec![]));
        assert_eq!(after(3), Some(vec!["m3".to_owned(), "m4".to_owned()]));
        assert_eq!(after(0).unwrap().len(), 5);
        assert_eq!(after(6), None, "the client cannot have more than was sent");
    }

    #[test]
    fn replay_keeps_a_bounded_tail() {
        let mut r = Replay::default();
        for i in 0..(REPLAY_MESSAGES + 10) {
            r.record(&text(&i.to_string()));
        }
        assert_eq!(r.kept.len(), REPLAY_MESSAGES);
        assert_eq!(r.after(5), None, "too far behind");
        let sent = r.sent;
        assert_eq!(r.after(sent - 2).unwrap().len(), 2);
        let mut big = Replay::default();
        let chunk = "x".repeat(64 << 10);
        for _ in 0..40 {
            big.record(&text(&chunk));
        }
        assert!(big.bytes <= REPLAY_BYTES);
        assert_eq!(big.kept.len(), REPLAY_BYTES / chunk.len());
    }

    #[test]
    fn grants_are_secret_and_distinct() {
        let r = Resumable::default();
        assert!(r.grant().is_none(), "no grace set: no resuming");
        let r = Resumable::default();
        r.set_grace(Some(Duration::from_secs(20)));
        let (a, b) = (r.grant().unwrap(), r.grant().unwrap());
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 43);
        assert_eq!(a.grace_ms, 20_000);
        assert!(
            !format!("{a:?}").contains(&a.token),
            "Debug hides the credential"
        );
    }

    #[tokio::test]
    async fn a_live_connection_is_taken_over_only_with_its_credential() {
        let r = Resumable::default();
        r.set_grace(Some(Duration::from_secs(20)));
        let mut takeovers = r.live("c1", "secret");
        assert_eq!(
            r.take("s", "c1", "wrong").await.err(),
            Some(Refusal::Unknown)
        );
        assert_eq!(
            r.take("s", "c2", "secret").await.err(),
            Some(Refusal::Unknown)
        );
        // The right credential asks the task; a task that has gone refuses.
        let asked = tokio::spawn(async move { takeovers.recv().await.is_some() });
        assert_eq!(
            r.take("s", "c1", "secret").await.err(),
            Some(Refusal::Unknown)
        );
        assert!(asked.await.unwrap(), "the task was asked to hand over");
        // Asked once: the slot is gone.
        assert_eq!(
            r.take("s", "c1", "secret").await.err(),
            Some(Refusal::Unknown)
        );
    }
}
