//! The native Rust client for Parlor.
//!
//! ```no_run
//! # async fn run() -> Result<(), parlor_client::ClientError> {
//! use parlor_client::{PublishOptions, Session, SubscribeOptions};
//!
//! let (session, mut events) =
//!     Session::connect("http://127.0.0.1:7600", "1_MX4...", "T1==...").await?;
//! let mut publisher = session.publish(PublishOptions::default()).await?;
//! publisher.wait_connected().await?;
//! // publisher.send_video(&vp8_frame, rtp_time_90khz)?; ...
//! while let Some(event) = events.recv().await {
//!     println!("{event:?}"); // streamCreated, signal, …
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A [`Session`] is one signaling connection (a WebSocket speaking
//! [`parlor_proto::signaling`]). Each published stream ([`Publisher`]) and each
//! subscription ([`Subscriber`]) has its own WebRTC peer connection (a `str0m::Rtc` on its
//! own UDP socket, run by its own task), as in OpenTok.js.
//!
//! Around them: [`media_files`] reads VP8 (IVF) and Opus (Ogg) files, looping, and
//! paces them for a publisher; [`recording`] writes what a subscriber receives to a WebM
//! file with Parlor's recorder. `parlor client publish|subscribe` is built on both.

mod error;
mod link;
pub mod media_files;
pub mod net;
pub mod peer;
mod publisher;
pub mod recording;
mod session;
mod subscriber;

pub use error::ClientError;
pub use link::LinkState;
pub use net::MediaTransport;
pub use peer::{
    MediaFrame, MediaKind, Peer, PeerEvent, PeerOffer, ReceiveStats, VideoCodec, VideoOffer,
};
pub use publisher::{PeerSender, PublishOptions, Publisher};
pub use session::{Connected, Session};
pub use subscriber::{SubscribeOptions, Subscriber, SubscriberEvent};

pub use parlor_proto::signaling::{ServerMessage, Stream, VideoType};
