//! Whole sequences of client messages into the server's signaling, as connections send
//! them: members join one session's room (any role), send requests (answered by the same
//! `handle` a WebSocket connection runs, with the real media router behind publish and
//! subscribe: real Chromium offers or fuzzed ones), leave for any reason (also while one
//! of their requests is still being answered), and the router reports transports
//! connecting or closing (a close is real: the transport is closed in the router first).
//! IDs in requests are mostly ones the server handed out, so the requests get past
//! "not found".
//!
//! The input is a script, one step a line (the seeds in `fuzz/corpus/signaling_sequence`
//! are real sessions written this way):
//!
//! ```text
//! join <publisher|subscriber|moderator|publisheronly> [connection data]
//! <member> <client message JSON>       a request of the n-th member still connected
//! <member>! <client message JSON>      the same, and the member leaves before the answer
//! leave <member> [client|force|network]
//! connected <ref>                      the router reports the transport connected
//! closed <ref> [timeout|disconnected|producer|failed]
//! ```
//!
//! In JSON and refs, `$stream<i>`, `$sub<i>` and `$conn<i>` are the i-th stream,
//! subscription and connection the server handed out (left ones included), and
//! `$offer_av`, `$offer_video`, `$offer_sub` real Chromium offers (publish audio+video,
//! publish video, subscribe).
//!
//! Checked after every step: nothing panics; every request is answered with its own `id`;
//! no announced stream belongs to a connection that left. After the sequence, with the
//! router idle: the transports signaling knows are exactly the router's (no leaked
//! producer or consumer, no stream without one). Then everyone leaves: no room, no
//! transport remains, in signaling or in the router.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use parlor_proto::Role;
use parlor_proto::signaling::{ClientMessage, ConnectionReason, ServerMessage};
use parlor_router::{CloseReason, RouterEvent};
use parlor_server::fuzzing::{Harness, Member};

const SESSION: &str = "2_MX4xMjM0NTY3OH5-MTcwMDAwMDAwMDAwMH5mdXp6fn4";
const PUBLISH_AV: &str = include_str!("../fixtures/chromium-publish-audio-video.sdp");
const PUBLISH_VIDEO: &str = include_str!("../fixtures/chromium-publish-video.sdp");
const SUBSCRIBE: &str = include_str!("../fixtures/chromium-subscribe.sdp");

/// At most this many steps of a sequence are run.
const MAX_STEPS: usize = 48;

/// ASan reports SQLite's `aiOff` (bundled by `libsqlite3-sys`, linked once) as an ODR
/// violation, a known false positive of globals in C code built with the sanitizer:
/// that one check is off for this binary, every other one stays.
#[unsafe(no_mangle)]
pub extern "C" fn __asan_default_options() -> *const std::ffi::c_char {
    c"detect_odr_violation=0".as_ptr()
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    h: Harness,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = format!("/dev/shm/parlor-fuzz-signaling-{}", std::process::id());
        let h = rt.block_on(Harness::start(std::path::Path::new(&dir)));
        Fixture { rt, h }
    })
}

/// What the sequence has seen.
#[derive(Default)]
struct Seen {
    members: Vec<Member>,
    /// Every connection ID handed out, in order.
    connections: Vec<String>,
    left: Vec<String>,
    streams: Vec<String>,
    subs: Vec<String>,
}

impl Seen {
    /// Replaces the placeholders in `text` (see the module's documentation).
    fn resolve(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            let name_len = rest
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .unwrap_or(rest.len());
            let (name, tail) = rest.split_at(name_len);
            rest = tail;
            let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
            let index: usize = digits.parse().unwrap_or(0);
            let pick = |v: &[String]| {
                if v.is_empty() {
                    String::new()
                } else {
                    v[index % v.len()].clone()
                }
            };
            let value = match name.trim_end_matches(|c: char| c.is_ascii_digit()) {
                "stream" => pick(&self.streams),
                "sub" => pick(&self.subs),
                "conn" => pick(&self.connections),
                "offer_av" => json_text(PUBLISH_AV),
                "offer_video" => json_text(PUBLISH_VIDEO),
                "offer_sub" => json_text(SUBSCRIBE),
                _ => {
                    out.push('$');
                    name.to_owned()
                }
            };
            out.push_str(&value);
        }
        out.push_str(rest);
        out
    }

    fn learn(&mut self, reply: &ServerMessage) {
        match reply {
            ServerMessage::Published { stream_id, .. } => self.streams.push(stream_id.clone()),
            ServerMessage::Subscribed {
                subscription_id, ..
            } => self.subs.push(subscription_id.clone()),
            _ => {}
        }
    }

    /// The member a script line names (members that left are skipped).
    fn member(&self, text: &str) -> Option<usize> {
        let n: usize = text.parse().ok()?;
        (!self.members.is_empty()).then(|| n % self.members.len())
    }
}

/// `s` as the inside of a JSON string.
fn json_text(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

fn connection_reason(word: &str) -> ConnectionReason {
    match word {
        "force" => ConnectionReason::ForceDisconnected,
        "network" => ConnectionReason::NetworkDisconnected,
        _ => ConnectionReason::ClientDisconnected,
    }
}

fn close_reason(word: &str) -> CloseReason {
    match word {
        "timeout" => CloseReason::ConnectTimeout,
        "producer" => CloseReason::ProducerClosed,
        "failed" => CloseReason::Failed,
        _ => CloseReason::Disconnected,
    }
}

fn reply_id(reply: &ServerMessage) -> Option<&str> {
    match reply {
        ServerMessage::Ok { id }
        | ServerMessage::Pong { id }
        | ServerMessage::Published { id, .. }
        | ServerMessage::Subscribed { id, .. }
        | ServerMessage::IceRestarted { id, .. }
        | ServerMessage::Error { id, .. } => id.as_deref(),
        other => panic!("a request was answered with {other:?}"),
    }
}

/// Waits until the router ran every command sent so far and signaling applied its events.
async fn settle(h: &Harness) -> parlor_router::RouterStats {
    let stats = h.router_stats().await;
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    stats
}

/// Signaling's own invariants, after every step.
fn check(h: &Harness, seen: &Seen) {
    if let Some(room) = h.state.signaling.existing_room(SESSION) {
        for (stream, _) in room.streams_with_classes() {
            assert!(
                !seen.left.contains(&stream.connection.connection_id),
                "stream {} of a connection that left",
                stream.stream_id
            );
        }
    }
}

/// The router holds exactly the transports signaling knows (after the sequence, before
/// everyone leaves: a round trip to the router's thread per step would cost most of the
/// run's time).
async fn check_router(h: &Harness) {
    let stats = settle(h).await;
    let (_, transports) = h.state.signaling.counts();
    assert_eq!(
        stats.transports, transports,
        "router transports {stats:?} and signaling's {transports} differ"
    );
}

/// Reads the members' queued events (a client that reads keeps its queue short; the
/// events themselves are the room's business).
async fn drain(seen: &mut Seen) {
    for m in &mut seen.members {
        while let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::ZERO, m.events.recv()).await
        {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let h = &f.h;
    f.rt.block_on(async {
        let mut seen = Seen::default();
        for line in script.lines().take(MAX_STEPS) {
            let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
            let mut words = rest.split_whitespace();
            match head {
                "join" => {
                    if seen.members.len() >= 6 {
                        continue;
                    }
                    let role = match words.next() {
                        Some("subscriber") => Role::Subscriber,
                        Some("moderator") => Role::Moderator,
                        Some("publisheronly") => Role::PublisherOnly,
                        _ => Role::Publisher,
                    };
                    let data = rest.split_once(' ').map_or("", |(_, d)| d);
                    let classes = vec!["fuzz".to_owned()];
                    let m = h.join(SESSION, role, data.to_owned(), classes);
                    seen.connections.push(m.connection_id.clone());
                    seen.members.push(m);
                }
                "leave" => {
                    let Some(i) = words.next().and_then(|w| seen.member(w)) else {
                        continue;
                    };
                    let m = seen.members.remove(i);
                    h.leave(&m, connection_reason(words.next().unwrap_or("")));
                    seen.left.push(m.connection_id.clone());
                }
                "connected" => {
                    let id = seen.resolve(words.next().unwrap_or(""));
                    h.router_events(vec![RouterEvent::Connected {
                        id: id.as_str().into(),
                    }])
                    .await;
                }
                "closed" => {
                    let id = seen.resolve(words.next().unwrap_or(""));
                    let reason = close_reason(words.next().unwrap_or(""));
                    // The router closes a transport before it reports it closed.
                    h.router.close(id.as_str().into());
                    h.router_events(vec![RouterEvent::Closed {
                        id: id.as_str().into(),
                        reason,
                    }])
                    .await;
                }
                _ => {
                    let (who, then_leave) = match head.strip_suffix('!') {
                        Some(who) => (who, true),
                        None => (head, false),
                    };
                    let Some(i) = seen.member(who) else {
                        continue;
                    };
                    let msg = match ClientMessage::parse(&seen.resolve(rest)) {
                        // The connection loop answers these itself; never handed to `handle`.
                        Ok(ClientMessage::Connect { .. } | ClientMessage::Resume { .. }) | Err(_) => continue,
                        Ok(msg) => msg,
                    };
                    let id = msg.id().map(str::to_owned);
                    let reply = if then_leave {
                        let m = &seen.members[i];
                        let (reply, ()) = tokio::join!(h.request(m, msg), async {
                            tokio::task::yield_now().await;
                            h.leave(m, ConnectionReason::NetworkDisconnected);
                        });
                        let m = seen.members.remove(i);
                        seen.left.push(m.connection_id.clone());
                        reply
                    } else {
                        h.request(&seen.members[i], msg).await
                    };
                    assert_eq!(reply_id(&reply), id.as_deref(), "{reply:?}");
                    seen.learn(&reply);
                }
            }
            drain(&mut seen).await;
            check(h, &seen);
        }
        check_router(h).await;
        for m in std::mem::take(&mut seen.members) {
            h.leave(&m, ConnectionReason::ClientDisconnected);
        }
        let stats = settle(h).await;
        assert_eq!(
            h.state.signaling.counts(),
            (0, 0),
            "signaling holds something"
        );
        assert_eq!(
            (stats.transports, stats.routes),
            (0, 0),
            "the router holds something: {stats:?}"
        );
    });
});
