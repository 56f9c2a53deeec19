//! The Parlor server.
//!
//! * [`config`] — `parlor serve` settings (flags, `PARLOR_*` env, TOML file, defaults).
//! * [`store`] — SQLite: projects and sessions, migrated at start.
//! * [`project`] — the project credentials: created on first start, printed once.
//! * [`applications`] — Vonage applications (an ID and RSA public keys): creation, key
//!   rotation, the keys verification reads.
//! * [`verify`] — client token verification against the store (signature, expiry, role,
//!   data, session existence and match), for the signaling layer and the CLI.
//! * [`broadcasts`] — live streaming broadcasts: a session composed live and sent to HLS
//!   (served here) and RTMP targets.
//! * [`broadcasts`] — live streaming broadcasts: a session composed live and sent to HLS
//!   (served here) and RTMP targets.
//! * [`api`] — the REST API (OpenTok wire format) on axum.
//! * [`limits`] — request rates (REST per credential, signals per connection) and
//!   per-session caps on connections, streams and subscriptions.
//! * [`callbacks`] — session-monitoring callbacks (signed webhooks, ordered, retried).
//! * [`histograms`] — distributions for `/metrics`: join time, media quality windows.
//! * [`inspector`] — the session history the Inspector shows: meetings, connections,
//!   streams, subscriptions and a timeline of events, written in the background, pruned
//!   after the retention.
//! * [`signaling`] — the WebSocket signaling endpoint and live session state (rooms),
//!   bridged to the media router (`parlor-router`).
//! * [`server`] — binding, serving and graceful shutdown.
//! * [`tls`] — HTTPS/WSS: the certificate, reloaded on SIGHUP or file change.
//! * [`turn`] — the STUN/TURN servers clients are given when they connect, with TURN
//!   credentials minted per connection (coturn's `use-auth-secret` scheme).
//! * [`web`] — the browser SDK bundle, the demo app and its dev-only endpoint.
//! * [`cli`] — the `parlor` command line.

pub mod api;
pub mod applications;
pub mod archives;
pub mod broadcasts;
pub mod callbacks;
pub mod cli;
pub mod config;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod histograms;
pub mod http;
pub mod inspector;
pub mod limits;
pub mod logsafe;
pub mod project;
pub mod rooms;
pub mod server;
pub mod signaling;
pub mod store;
pub mod tls;
pub mod turn;
pub mod verify;
pub mod web;

use std::sync::Arc;

pub use config::Config;
pub use store::Store;

/// State shared by every request handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    pub signaling: Arc<signaling::Signaling>,
    pub archives: Arc<archives::Archives>,
    pub broadcasts: Arc<broadcasts::Broadcasts>,
    /// REST requests per credential.
    pub rest_rate: Arc<limits::RestRateLimiter>,
    /// The embedded TURN server, when `--turn-port` runs one.
    pub turn: Option<Arc<turn::embedded::EmbeddedTurn>>,
    /// The Rooms (Telnyx Video Rooms) domain.
    pub rooms: Arc<rooms::Rooms>,
    /// Room recordings and compositions.
    pub room_media: Arc<rooms::recordings::RoomMedia>,
}

impl AppState {
    /// Runs a store call on tokio's blocking pool, so SQLite never stalls an async worker.
    pub async fn db<T, F>(&self, f: F) -> Result<T, store::StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, store::StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
}

/// A wire value's name as the protocol spells it (`clientDisconnected`, `camera`,
/// `mediaError`): its JSON string, or its JSON text when it is not a string.
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
