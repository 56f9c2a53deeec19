//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, off by default;
//! nothing here is part of the server).
//!
//! [`Harness`] is a whole server without its sockets to clients: the store (SQLite in a
//! directory of its own), the project, the real media router (UDP on loopback), the
//! callback dispatcher, signaling and archives, built as `parlor serve` builds them. The
//! REST API is called in-process through the real axum router ([`Harness::rest`]); client
//! messages go through the same `handle` a WebSocket connection runs
//! ([`Harness::request`]), for members joined with [`Harness::join`].

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response};
use parlor_proto::Role;
use parlor_proto::signaling::{ClientMessage, ConnectionReason, ServerMessage};
use parlor_router::{RouterEvent, RouterHandle, RouterStats};
use tokio::sync::mpsc;
use tower::ServiceExt as _;

use crate::config::ServeArgs;
use crate::signaling::Room;
use crate::signaling::outbox::{self, OutboxReader};
use crate::{AppState, Config, Store, api};

/// The fuzzing project's credentials. The secret passes the checks `parlor serve` makes
/// (16+ letters and digits, not weak): the harness resolves its config as the server does.
pub const API_KEY: &str = "12345678";
pub const API_SECRET: &str = "fuzzHarness9f4c2e71b8d3a605d1e0";

/// A server in-process, for fuzzing.
pub struct Harness {
    pub state: AppState,
    pub router: RouterHandle,
    app: axum::Router,
}

/// A member of a room joined by the harness, as a connection task holds it.
pub struct Member {
    pub room: Arc<Room>,
    pub connection_id: String,
    /// The member's queue of events (the writer's side).
    pub events: OutboxReader,
}

impl Harness {
    /// Builds the server's state over a store in `data_dir` (created). Call inside a tokio
    /// runtime.
    pub async fn start(data_dir: &Path) -> Harness {
        let config = Config::resolve(ServeArgs {
            data_dir: Some(data_dir.to_owned()),
            listen: Some("127.0.0.1:0".parse().expect("address")),
            media_port: Some(0),
            api_key: Some(API_KEY.into()),
            api_secret: Some(API_SECRET.into()),
            no_demo: true,
            // Rates out of the way: a fuzzer's thousands of requests a second are not abuse
            // to refuse but inputs to run (the limits have their own tests).
            rest_rate_limit: Some(u32::MAX),
            signal_rate_limit: Some(u32::MAX),
            ..ServeArgs::default()
        })
        .expect("fuzzing config");
        std::fs::create_dir_all(&config.data_dir).expect("data dir");
        let store = Arc::new(Store::open(&config.db_path()).expect("store"));
        crate::project::ensure(&store, &config).expect("project");
        let (router, events) = RouterHandle::start(parlor_router::RouterConfig {
            bind: "127.0.0.1:0".parse().expect("address"),
            advertise_ip: None,
            quality_interval: None,
            tcp_port: None,
            audio_level_interval: None,
            disconnect_grace: parlor_router::DEFAULT_DISCONNECT_GRACE,
        })
        .expect("router");
        // The router's own events (transports that time out) are applied as the server
        // applies them.
        let notifier =
            crate::callbacks::Notifier::start(store.clone(), None).expect("callback dispatcher");
        let history = crate::inspector::History::start(
            store.clone(),
            config.history_retention,
            config.quality_retention,
        );
        let signaling = crate::signaling::Signaling::new(
            router.clone(),
            notifier.clone(),
            history,
            config.session_caps,
            config.rates.signals,
            None,
            config.meeting_gap,
        );
        tokio::spawn(signaling.clone().run_router_events(events));
        let archives = crate::archives::Archives::start(
            store.clone(),
            &config.data_dir,
            signaling.clone(),
            notifier.clone(),
            "http://127.0.0.1:1".into(),
            config.archives,
        );
        let broadcasts = crate::broadcasts::Broadcasts::start(
            store.clone(),
            &config.data_dir,
            signaling.clone(),
            notifier,
            "http://127.0.0.1:1".into(),
        );
        let rooms = Arc::new(
            crate::rooms::Rooms::new(
                store.clone(),
                signaling.clone(),
                parlor_proto::rooms_token::SigningKey::from_seed(&[7; 32]).expect("a seed"),
            )
            .expect("the rooms of a fresh store"),
        );
        let room_media = crate::rooms::recordings::RoomMedia::start(
            store.clone(),
            &config.data_dir,
            signaling.clone(),
            rooms.clone(),
            "http://127.0.0.1:1".into(),
        );
        let state = AppState {
            rooms,
            room_media,
            store,
            rest_rate: Arc::new(crate::limits::RestRateLimiter::new(config.rates.rest)),
            config: Arc::new(config),
            signaling,
            archives,
            broadcasts,
            turn: None,
        };
        let app = api::router(state.clone());
        Harness { state, router, app }
    }

    /// One REST request through the API's router (authentication, extractors, handlers).
    pub async fn rest(&self, request: Request<Body>) -> Response<Body> {
        match self.app.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Joins a session's room as a connection that passed its token would.
    pub fn join(&self, session_id: &str, role: Role, data: String, classes: Vec<String>) -> Member {
        let (tx, events) = outbox::outbox();
        let (room, connection) = self
            .state
            .signaling
            .join(
                session_id,
                API_KEY,
                crate::signaling::Joining {
                    data,
                    role,
                    layout_classes: classes,
                    client: Default::default(),
                    relayed: false,
                    resume: None,
                },
                tx,
            )
            .expect("a fuzz script joins far fewer than a session's connection cap");
        Member {
            room,
            connection_id: connection.connection_id,
            events,
        }
    }

    /// One client request of a member, answered as its connection answers it (the reply
    /// is also queued to the member, as the connection does).
    pub async fn request(&self, member: &Member, msg: ClientMessage) -> ServerMessage {
        let id = msg.id().map(str::to_owned);
        let reply = match crate::signaling::requests::handle(
            &self.state,
            &member.room,
            &member.connection_id,
            msg,
        )
        .await
        {
            Ok(reply) => reply,
            Err(e) => e.to_message(id.as_deref()),
        };
        member.room.send_to(&member.connection_id, &reply);
        reply
    }

    /// The member leaves (its connection ended for `reason`).
    pub fn leave(&self, member: &Member, reason: ConnectionReason) {
        member.room.leave(&member.connection_id, reason);
    }

    /// Applies router events (as if the router had reported them) to signaling.
    pub async fn router_events(&self, events: Vec<RouterEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        for e in events {
            let _ = tx.send(e);
        }
        drop(tx);
        self.state.signaling.clone().run_router_events(rx).await;
    }

    /// The router's counters once every command sent before this call has run.
    pub async fn router_stats(&self) -> RouterStats {
        self.router.stats().await.unwrap_or_default()
    }
}
