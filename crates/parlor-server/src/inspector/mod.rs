//! The Inspector's data: what happened in each session, kept after it ends.
//!
//! * [`record`] — the vocabulary: a [`Record`] is one thing that happened (a meeting
//!   started, a connection joined or failed to, a stream was published or refused, a
//!   subscription ended, a moderator acted), stamped with its time and meeting.
//! * [`writer`] — [`History`], the handle the signaling layer records through: a bounded
//!   queue and one task that writes batches to the store, so recording never waits for
//!   SQLite (a full queue drops and counts); and the pruning of what is older than the
//!   retention.
//! * [`score`] — the quality score of a window of media (an E-model MOS).
//! * [`store`] — the tables (`history_*` in the server's SQLite) and their writes: batches
//!   of records, closing what a crash left open, pruning.
//! * [`queries`] — reading it back: the rows the Inspector API answers with.
//! * [`page`] — the Inspector web page at `/inspector` (login, the page, its data).
//!
//! A **meeting** is one period of use of a session: it starts when the first client joins
//! and ends when the last one leaves (the life of the session's room), so a session used
//! on Monday and again on Tuesday has two meetings. Signals are counted per connection, not
//! stored. Only clients whose token verified are recorded: an unauthenticated client
//! cannot write to the history.

pub mod page;
pub mod queries;
pub mod record;
pub mod score;
pub mod store;
pub mod writer;

pub use record::{ClientInfo, Quality, Record, What};
pub use writer::History;
