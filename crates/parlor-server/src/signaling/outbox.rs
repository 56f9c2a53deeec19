//! A member's outgoing queue: bounded in messages and in bytes, never blocking the room.
//!
//! Rooms hand every event to each member's [`Outbox`] under the room's lock, so sending must
//! never wait. A member whose client stops reading (or reads slower than its session talks)
//! would otherwise grow the server's memory without bound: once its queue holds
//! [`MAX_QUEUED_MESSAGES`] messages or [`MAX_QUEUED_BYTES`] bytes, it is **ended** with
//! `networkDisconnected` instead (its connection task sees the end, leaves the room and
//! drops the queue), and nobody else waits for it.
//!
//! The connection task owns the other half, [`OutboxReader`]: its writer drains the queue
//! into the WebSocket and gives back each message's bytes as it is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use parlor_proto::signaling::ConnectionReason;
use tokio::sync::{mpsc, watch};

/// The most messages waiting for one member.
pub const MAX_QUEUED_MESSAGES: usize = 4096;
/// The most bytes waiting for one member (signals are at most 8 KiB; session events are
/// far smaller): 4 MiB is 512 maximal signals, far more than a reading client ever has.
pub const MAX_QUEUED_BYTES: usize = 4 << 20;

/// What a member's writer is asked to send.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Send this text frame.
    Text(Utf8Bytes),
    /// Tell the client its session ended for `reason` (with a Rooms `detail`), then close.
    Close(ConnectionReason, Option<&'static str>),
}

/// The room's side of a member's queue. Cheap to clone; never blocks.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outbound>,
    queued_bytes: Arc<AtomicUsize>,
    end: Arc<watch::Sender<Option<ConnectionReason>>>,
}

/// The connection task's side: the queue, and the signal that the member must go.
#[derive(Debug)]
pub struct OutboxReader {
    rx: mpsc::Receiver<Outbound>,
    queued_bytes: Arc<AtomicUsize>,
    /// Set (once) when the member must be disconnected without a message: its queue
    /// overflowed.
    pub ended: watch::Receiver<Option<ConnectionReason>>,
}

/// A new member queue.
pub fn outbox() -> (Outbox, OutboxReader) {
    let (tx, rx) = mpsc::channel(MAX_QUEUED_MESSAGES);
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let (end, ended) = watch::channel(None);
    (
        Outbox {
            tx,
            queued_bytes: queued_bytes.clone(),
            end: Arc::new(end),
        },
        OutboxReader {
            rx,
            queued_bytes,
            ended,
        },
    )
}

impl Outbox {
    /// Queues a text frame. If the member's queue is full (in messages or bytes), the
    /// message is dropped and the member is ended with `networkDisconnected`.
    pub fn send(&self, text: Utf8Bytes) {
        let len = text.len();
        let before = self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        if before + len > MAX_QUEUED_BYTES {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            return self.overflow();
        }
        match self.tx.try_send(Outbound::Text(text)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                self.overflow();
            }
            // The connection is already gone.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            }
        }
    }

    /// Asks the writer to tell the client why it is leaving and close, after what is
    /// already queued. With a full queue the member is ended at once instead.
    pub fn close(&self, reason: ConnectionReason) {
        self.close_with(reason, None)
    }

    /// [`Outbox::close`] with a Rooms participant's finer reason.
    pub fn close_with(&self, reason: ConnectionReason, detail: Option<&'static str>) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.tx.try_send(Outbound::Close(reason, detail))
        {
            self.end.send_replace(Some(reason));
        }
    }

    fn overflow(&self) {
        if self.end.borrow().is_none() {
            tracing::warn!(
                limit_messages = MAX_QUEUED_MESSAGES,
                limit_bytes = MAX_QUEUED_BYTES,
                "a client is not reading its events: disconnecting it"
            );
            self.end
                .send_replace(Some(ConnectionReason::NetworkDisconnected));
        }
    }
}

impl OutboxReader {
    /// The next message to send; `None` once every [`Outbox`] is dropped.
    pub async fn recv(&mut self) -> Option<Outbound> {
        let item = self.rx.recv().await?;
        if let Outbound::Text(t) = &item {
            self.queued_bytes.fetch_sub(t.len(), Ordering::Relaxed);
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_ends_the_member_and_bounds_the_queue() {
        let (out, mut reader) = outbox();
        let big = Utf8Bytes::from("x".repeat(8 * 1024));
        for _ in 0..(MAX_QUEUED_BYTES / big.len()) {
            out.send(big.clone());
        }
        assert!(
            reader.ended.borrow().is_none(),
            "exactly at the limit is fine"
        );
        out.send(big.clone());
        assert_eq!(
            *reader.ended.borrow(),
            Some(ConnectionReason::NetworkDisconnected)
        );
        assert!(out.queued_bytes.load(Ordering::Relaxed) <= MAX_QUEUED_BYTES);
        // Draining gives the bytes back.
        let mut n = 0;
        while let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(10), reader.recv()).await
        {
            n += 1;
        }
        assert_eq!(n, MAX_QUEUED_BYTES / big.len());
        assert_eq!(out.queued_bytes.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn message_count_is_bounded_too() {
        let (out, reader) = outbox();
        for _ in 0..MAX_QUEUED_MESSAGES {
            out.send(Utf8Bytes::from_static("{}"));
        }
        assert!(reader.ended.borrow().is_none());
        out.send(Utf8Bytes::from_static("{}"));
        assert!(reader.ended.borrow().is_some());
    }

    #[tokio::test]
    async fn close_goes_after_queued_messages() {
        let (out, mut reader) = outbox();
        out.send(Utf8Bytes::from_static("a"));
        out.close(ConnectionReason::ForceDisconnected);
        assert!(matches!(reader.recv().await, Some(Outbound::Text(_))));
        assert!(matches!(
            reader.recv().await,
            Some(Outbound::Close(ConnectionReason::ForceDisconnected, None))
        ));
    }
}
