//! Parlor's embedded TURN server (RFC 8656), sans-IO.
//!
//! Clients that cannot reach the media router directly (a network that lets out only TCP to
//! port 443, a symmetric NAT that drops the router's checks) relay their media through a
//! TURN server. Parlor's own is this crate's [`server::TurnServer`]: a state machine fed
//! datagrams and the time by an I/O edge (parlor-server's `turn::embedded`, UDP, TCP and
//! TLS listeners), answering through the [`server::Io`] it is given.
//!
//! - [`stun`]: the STUN message format and TURN's ChannelData, framing on streams.
//! - [`auth`]: the TURN REST API's credentials (checked from a shared secret, refused once
//!   expired) and stateless nonces.
//! - [`client`]: a TURN client over UDP (the native client's relayed candidate).
//! - [`server`]: allocations, permissions, channels, refreshes, the data path, quotas, and
//!   the peer policy (relay only to the media router and to this server's own relays).
//!
//! Why our own and not a crate: the mature Rust TURN servers leave open exactly what an
//! embedded server needs — turn-server-proto keeps static users (no stateless REST
//! credentials, no expiry) and has no allocation quota or peer policy; webrtc-rs's `turn`
//! is bound to its own async I/O stack and has no peer policy either. The protocol core
//! is small; the codec is tested against RFC 5769's vectors.

pub mod auth;
pub mod client;
pub mod server;
pub mod stun;

pub use server::{ClientId, Config, Io, Stats, Transport, TurnServer};
