//! The REST API's body, query and path parsers as the server runs them: each input is
//! one authenticated request through the real axum router (extractors: the form/JSON
//! `Params` of `/session/create`, `JsonBody` of archives, layouts, stream class lists,
//! signals, mute-all and callback registration, the archive list and download queries,
//! path IDs) into the real handlers, store and signaling, built as `parlor serve` builds
//! them (`parlor_server::fuzzing::Harness`; SQLite on /dev/shm).
//!
//! The session the requests name has a room: a moderator connected and one announced
//! stream (published with a real Chromium offer), so moderation, stream and archive calls
//! get past "not found"; they are restored when a request removed them.
//!
//! The Rooms API (`/v2/rooms`, `/v2/room_sessions`, `/v2/room_participants`) is reached
//! too: every request also carries the Rooms credential (`Authorization: Bearer
//! key:secret`), and `$room` is a room made at the start.
//!
//! Checked: nothing panics; no answer is a 5xx but 501 (a feature not built); every error is the API's JSON
//! `{"code": <status>, "message": ...}` with the response's own status, or for the Rooms API
//! Telnyx's `{"errors": [{"code": "<string>", "title", "detail"}]}`.
//!
//! The input is a request as text (the seeds in `fuzz/corpus/rest_params` are the SDKs'
//! real requests): the method and target on the first line, the `Content-Type` on the
//! second (empty: none), the body after. In the target, `$key` is the API key, `$session`
//! the session, `$conn` the moderator's connection, `$stream` its stream and `$archive` the
//! last archive started; bytes a URI cannot hold are percent-encoded.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;
use parlor_proto::Role;
use parlor_proto::signaling::{ClientMessage, ServerMessage, VideoType};
use parlor_router::RouterEvent;
use parlor_server::fuzzing::{API_KEY, API_SECRET, Harness, Member};

const PUBLISH_OFFER: &str = include_str!("../fixtures/chromium-publish-audio-video.sdp");

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
    session: String,
    auth: String,
    room: String,
    state: std::sync::Mutex<Live>,
}

/// What the requests may remove, restored before each one.
struct Live {
    member: Option<Member>,
    stream: Option<String>,
    archive: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = format!("/dev/shm/parlor-fuzz-rest-{}", std::process::id());
        let h = rt.block_on(Harness::start(std::path::Path::new(&dir)));
        let auth = parlor_proto::project_auth::mint(
            API_KEY,
            API_SECRET,
            parlor_proto::unix_now(),
            23 * 3600, // REST JWTs live at most 24 h
        );
        let req = Request::post("/session/create")
            .header("X-OPENTOK-AUTH", &auth)
            .body(Body::empty())
            .expect("request");
        let resp = rt.block_on(h.rest(req));
        let status = resp.status();
        let body = rt
            .block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
            .expect("body");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let session = v[0]["session_id"].as_str().expect("session_id").to_owned();
        let req = Request::post("/v2/rooms")
            .header(header::AUTHORIZATION, format!("Bearer {API_KEY}:{API_SECRET}"))
            .body(Body::from(r#"{"unique_name":"fuzz"}"#))
            .expect("request");
        let resp = rt.block_on(h.rest(req));
        assert_eq!(resp.status(), 201);
        let body = rt
            .block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let room = v["data"]["id"].as_str().expect("room id").to_owned();
        Fixture {
            rt,
            h,
            session,
            auth,
            room,
            state: std::sync::Mutex::new(Live {
                member: None,
                stream: None,
                archive: "00000000-0000-4000-8000-000000000000".into(),
            }),
        }
    })
}

/// Makes sure the moderator is in the room and its stream is announced.
async fn restore(f: &Fixture, live: &mut Live) {
    let gone = live.member.as_ref().is_none_or(|m| {
        f.h.state.signaling.existing_room(&f.session).is_none() || m.events.ended.borrow().is_some()
    });
    if gone {
        if let Some(m) = live.member.take() {
            f.h.leave(
                &m,
                parlor_proto::signaling::ConnectionReason::ClientDisconnected,
            );
        }
        live.member = Some(f.h.join(&f.session, Role::Moderator, "fuzz".into(), vec![]));
        live.stream = None;
    }
    let member = live.member.as_mut().expect("member");
    // Read what the room sent (a client that reads keeps its queue short).
    while let Ok(Some(_)) = tokio::time::timeout(Duration::ZERO, member.events.recv()).await {}
    let has_stream = live
        .stream
        .as_ref()
        .is_some_and(|s| member.room.stream(s).is_some());
    if !has_stream {
        let publish = ClientMessage::Publish {
            id: Some("p".into()),
            name: "fuzz".into(),
            has_audio: true,
            has_video: true,
            video_type: VideoType::default(),
            video_dimensions: None,
            simulcast: Vec::new(),
            sdp: PUBLISH_OFFER.into(),
        };
        if let ServerMessage::Published { stream_id, .. } = f.h.request(member, publish).await {
            f.h.router_events(vec![RouterEvent::Connected {
                id: stream_id.as_str().into(),
            }])
            .await;
            live.stream = Some(stream_id);
        }
    }
}

/// `raw` with the placeholders replaced.
fn resolve(f: &Fixture, live: &Live, raw: &str) -> String {
    let member = live.member.as_ref().expect("member");
    raw.replace("$key", API_KEY)
        .replace("$session", &f.session)
        .replace("$conn", &member.connection_id)
        .replace("$stream", live.stream.as_deref().unwrap_or(""))
        .replace("$archive", &live.archive)
        .replace("$room", &f.room)
}

/// The request's target with the placeholders replaced and what a URI cannot hold
/// percent-encoded.
fn target(f: &Fixture, live: &Live, raw: &str) -> String {
    let resolved = resolve(f, live, raw);
    let mut out = String::with_capacity(resolved.len());
    for b in resolved.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/?&=%+:@!$'()*,;".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let (Some(first), content_type, body) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let Ok(first) = std::str::from_utf8(first) else {
        return;
    };
    let Some((method, raw_target)) = first.split_once(' ') else {
        return;
    };
    let content_type = content_type
        .and_then(|c| std::str::from_utf8(c).ok())
        .unwrap_or("");
    let body = body.unwrap_or(&[]);
    let f = fixture();
    let mut live = f.state.lock().unwrap_or_else(|e| e.into_inner());
    f.rt.block_on(async {
        restore(f, &mut live).await;
        let uri = target(f, &live, raw_target);
        let body = match std::str::from_utf8(body) {
            Ok(text) => resolve(f, &live, text).into_bytes(),
            Err(_) => body.to_vec(),
        };
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .header("X-OPENTOK-AUTH", &f.auth)
            .header(header::AUTHORIZATION, format!("Bearer {API_KEY}:{API_SECRET}"));
        if !content_type.is_empty() {
            req = req.header(header::CONTENT_TYPE, content_type);
        }
        let Ok(req) = req.body(Body::from(body)) else {
            return;
        };
        let resp = f.h.rest(req).await;
        let status = resp.status();
        let json = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/json");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .expect("a whole answer");
        // 501 is the API's answer for features not built (broadcasts, SIP...).
        assert!(
            !status.is_server_error() || status == 501,
            "{method} {uri} -> {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let path = uri.split('?').next().unwrap_or("");
        let rooms_api = ["/v2/rooms", "/v2/room_sessions", "/v2/room_participants"]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")));
        if status.is_client_error() || status.is_server_error() {
            assert!(json, "{method} {uri} -> {status} not JSON");
            let v: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error");
            if rooms_api && v.get("errors").is_some() {
                let e = &v["errors"][0];
                assert!(e["code"].is_string(), "{v}");
                assert!(e["title"].is_string() && e["detail"].is_string(), "{v}");
            } else {
                assert_eq!(v["code"].as_u64(), Some(u64::from(status.as_u16())), "{v}");
                assert!(v["message"].is_string(), "{v}");
            }
        }
        let archives = format!("/v2/project/{API_KEY}/archive");
        let callbacks = format!("/v2/project/{API_KEY}/callback");
        // An archive the request started: remembered (so later inputs reach it) and
        // stopped, so archives do not pile up.
        if method == "POST" && path == archives && status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&body).expect("archive JSON");
            if let Some(a) = v["id"].as_str() {
                live.archive = a.to_owned();
                let stop = Request::post(format!("{archives}/{a}/stop"))
                    .header("X-OPENTOK-AUTH", &f.auth)
                    .body(Body::empty())
                    .expect("request");
                let _ = f.h.rest(stop).await;
            }
        }
        // A registered callback is removed again (the list would grow without end).
        if method == "POST" && path == callbacks && status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&body).expect("callback JSON");
            if let Some(c) = v["id"].as_str() {
                let delete = Request::delete(format!("{callbacks}/{c}"))
                    .header("X-OPENTOK-AUTH", &f.auth)
                    .body(Body::empty())
                    .expect("request");
                let _ = f.h.rest(delete).await;
            }
        }
    });
});
