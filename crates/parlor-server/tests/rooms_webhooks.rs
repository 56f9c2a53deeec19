//! Rooms webhooks against a real server and real HTTP receivers: a native client joins a
//! room and leaves; the room's `webhook_event_url` gets `video.room.session.started`,
//! `video.room.participant.joined`, `video.room.participant.left` and
//! `video.room.session.ended`, in order, in Telnyx's envelope, each signed with the key
//! `GET /v2/parlor/webhook_public_key` (and `parlor rooms public-key`) shows. The failover
//! URL gets an attempt the primary failed (500, or no answer within
//! `webhook_timeout_secs`); a receiver that was down gets them when it is back, and so it
//! does after a `kill -9` and a restart of the server.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine as _;
use common::{API_KEY, API_SECRET, Server};
use parlor_client::Session;
use parlor_proto::rooms_token::verify_webhook_signature;
use serde_json::{Value, json};

const EVENTS: [&str; 4] = [
    "video.room.session.started",
    "video.room.participant.joined",
    "video.room.participant.left",
    "video.room.session.ended",
];

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Hit {
    headers: HeaderMap,
    body: String,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn event_type(&self) -> String {
        self.json()["data"]["event_type"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
}

/// A webhook receiver that records every request and answers `status` after `delay_ms`.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    fn new() -> Receiver {
        Receiver {
            got: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::default(),
        }
    }

    /// A receiver on a free port; its URL at `path`.
    async fn start(path: &str) -> (Receiver, String) {
        let receiver = Receiver::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        receiver.serve(listener);
        (receiver, url)
    }

    fn answering(self, status: u16) -> Receiver {
        self.status.store(status, Ordering::Relaxed);
        self
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        async fn hook(
            State(r): State<Receiver>,
            _uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            r.got.lock().unwrap().push(Hit {
                headers,
                body: String::from_utf8(body.to_vec()).unwrap(),
            });
            let delay = r.delay_ms.load(Ordering::Relaxed);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            StatusCode::from_u16(r.status.load(Ordering::Relaxed)).unwrap()
        }
        let app = Router::new()
            .fallback(axum::routing::post(hook))
            .with_state(self.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
    }

    fn hits(&self) -> Vec<Hit> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + within;
        while self.got.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.hits()
    }
}

/// A free port, left closed: a receiver that is down.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// A Rooms API call; its status and JSON body.
async fn rooms_api(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}/v2{path}", server.url))
        .header("Authorization", format!("Bearer {API_KEY}:{API_SECRET}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates a room with `settings` (its webhook URLs); its ID.
async fn create_room(server: &Server, settings: Value) -> String {
    let (status, room) = rooms_api(server, "POST", "/rooms", Some(settings)).await;
    assert_eq!(status, 201, "{room}");
    room["data"]["id"].as_str().unwrap().to_owned()
}

/// A native client joins the room with a fresh join token.
async fn join(server: &Server, room_id: &str) -> Session {
    join_as(server, room_id, None).await
}

/// A native client joins the room with a fresh join token and `context`.
async fn join_as(server: &Server, room_id: &str, context: Option<&str>) -> Session {
    let (status, token) = rooms_api(
        server,
        "POST",
        &format!("/rooms/{room_id}/actions/generate_join_client_token"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{token}");
    let token = token["data"]["token"].as_str().unwrap();
    let (session, _events) = Session::join_room(&server.url, room_id, token, context)
        .await
        .unwrap();
    session
}

/// Joins, leaves, and returns the participant's ID.
async fn join_and_leave(server: &Server, room_id: &str) -> String {
    let session = join(server, room_id).await;
    let participant = session.connection_id().to_owned();
    session.disconnect().await;
    participant
}

/// The key from `GET /v2/parlor/webhook_public_key`, base64 and raw.
async fn public_key(server: &Server) -> (String, [u8; 32]) {
    let (status, body) = rooms_api(server, "GET", "/parlor/webhook_public_key", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["algorithm"], "ed25519", "{body}");
    let b64 = body["data"]["public_key"].as_str().unwrap().to_owned();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .unwrap();
    (b64, raw.try_into().expect("a raw 32-byte Ed25519 key"))
}

/// Every hit is signed with `key` over its exact body, with a current timestamp, and has
/// the other headers.
fn check_signed(hits: &[Hit], key: &[u8; 32]) {
    let now = parlor_proto::unix_now();
    for hit in hits {
        let timestamp: i64 = hit.header("telnyx-timestamp").parse().unwrap();
        assert!(
            (timestamp - now).abs() <= 300,
            "timestamp {timestamp}, now {now}"
        );
        assert!(
            verify_webhook_signature(
                key,
                timestamp,
                hit.body.as_bytes(),
                hit.header("telnyx-signature-ed25519")
            ),
            "bad signature on {}",
            hit.body
        );
        assert_eq!(hit.header("content-type"), "application/json");
        assert!(
            hit.header("user-agent").contains("Parlor"),
            "{}",
            hit.header("user-agent")
        );
    }
}

fn event_types(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(Hit::event_type).collect()
}

fn is_iso_millis(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_arrive_in_order_in_telnyx_s_envelope_signed_with_the_public_key() {
    let (receiver, url) = Receiver::start("/hook").await;
    let server = Server::start();
    let room_id = create_room(&server, json!({ "webhook_event_url": url })).await;
    let context = r#"{"name":"Ann"}"#;
    let session = join_as(&server, &room_id, Some(context)).await;
    let participant = session.connection_id().to_owned();
    let first = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(event_types(&first), EVENTS[..2]);
    session.disconnect().await;
    let hits = receiver.wait_for(4, Duration::from_secs(5)).await;
    assert_eq!(event_types(&hits), EVENTS);

    let (status, sessions) =
        rooms_api(&server, "GET", &format!("/rooms/{room_id}/sessions"), None).await;
    assert_eq!(status, 200);
    let room_session_id = sessions["data"][0]["id"].as_str().unwrap().to_owned();

    let mut ids = BTreeSet::new();
    for hit in &hits {
        let body = hit.json();
        assert_eq!(keys(&body), BTreeSet::from(["data", "meta"]), "{body}");
        let data = &body["data"];
        assert_eq!(
            keys(data),
            BTreeSet::from(["record_type", "event_type", "id", "occurred_at", "payload"]),
            "{body}"
        );
        assert_eq!(data["record_type"], "event");
        let id = uuid::Uuid::parse_str(data["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 4);
        ids.insert(id);
        assert!(
            is_iso_millis(data["occurred_at"].as_str().unwrap()),
            "{body}"
        );
        assert_eq!(body["meta"], json!({"attempt": 1, "delivered_to": url}));
        assert_eq!(data["payload"]["session_id"], room_session_id.as_str());
        assert_eq!(data["payload"]["room_id"], room_id.as_str());
    }
    assert_eq!(ids.len(), 4, "each event has its own id");
    let payload = |i: usize| hits[i].json()["data"]["payload"].clone();
    assert_eq!(keys(&payload(0)), BTreeSet::from(["session_id", "room_id"]));
    assert_eq!(
        keys(&payload(1)),
        BTreeSet::from(["session_id", "room_id", "participant_id", "context"])
    );
    assert_eq!(payload(1)["participant_id"], participant.as_str());
    assert_eq!(payload(1)["context"], context);
    assert_eq!(
        keys(&payload(2)),
        BTreeSet::from([
            "session_id",
            "room_id",
            "participant_id",
            "context",
            "duration_secs",
            "left_reason"
        ])
    );
    assert_eq!(payload(2)["participant_id"], participant.as_str());
    assert_eq!(payload(2)["context"], context);
    assert_eq!(payload(2)["left_reason"], "user_initiated");
    assert!(payload(2)["duration_secs"].as_i64().unwrap() >= 0);
    assert_eq!(
        keys(&payload(3)),
        BTreeSet::from(["session_id", "room_id", "duration_secs", "ended_reason"])
    );
    assert_eq!(payload(3)["ended_reason"], "all_participants_left");

    // Signed with the key the API shows, which the CLI prints too.
    let (b64, key) = public_key(&server).await;
    check_signed(&hits, &key);
    let out = server
        .parlor_cmd()
        .args(["rooms", "public-key", "--data-dir"])
        .arg(server.data_dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), b64);

    // The key needs the Rooms API's credentials.
    let anonymous = reqwest::get(format!("{}/v2/parlor/webhook_public_key", server.url))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // A data dir no server has run in has no key yet.
    let empty = tempfile::tempdir().unwrap();
    let out = server
        .parlor_cmd()
        .args(["rooms", "public-key", "--data-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("start `parlor serve` once to make it"),
        "{stderr}"
    );

    // A room without a webhook URL sends nothing; nothing more arrives.
    let quiet = create_room(&server, json!({})).await;
    join_and_leave(&server, &quiet).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.hits().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failover_url_gets_the_attempt_the_primary_answered_500() {
    let (primary, primary_url) = Receiver::start("/primary").await;
    let primary = primary.answering(500);
    let (failover, failover_url) = Receiver::start("/failover").await;
    let server = Server::start();
    let room_id = create_room(
        &server,
        json!({ "webhook_event_url": primary_url, "webhook_event_failover_url": failover_url }),
    )
    .await;
    join_and_leave(&server, &room_id).await;
    let hits = failover.wait_for(4, Duration::from_secs(5)).await;
    assert_eq!(event_types(&hits), EVENTS);
    for hit in &hits {
        assert_eq!(
            hit.json()["meta"],
            json!({"attempt": 1, "delivered_to": failover_url})
        );
    }
    // The primary was tried first, each time, with its own URL in `meta`.
    let tried = primary.hits();
    assert_eq!(event_types(&tried), EVENTS);
    for (p, f) in tried.iter().zip(&hits) {
        assert_eq!(
            p.json()["meta"],
            json!({"attempt": 1, "delivered_to": primary_url})
        );
        assert_eq!(p.json()["data"], f.json()["data"], "the same event");
    }
    let (_, key) = public_key(&server).await;
    check_signed(&tried, &key);
    check_signed(&hits, &key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_slower_than_webhook_timeout_secs_fails_over() {
    let (primary, primary_url) = Receiver::start("/primary").await;
    primary.delay_ms.store(20_000, Ordering::Relaxed);
    let (failover, failover_url) = Receiver::start("/failover").await;
    let server = Server::start();
    let room_id = create_room(
        &server,
        json!({
            "webhook_event_url": primary_url,
            "webhook_event_failover_url": failover_url,
            "webhook_timeout_secs": 1,
        }),
    )
    .await;
    let t = Instant::now();
    let session = join(&server, &room_id).await;
    // Two events, each waiting 1 s for the primary (the default would be 5 s each).
    let hits = failover.wait_for(2, Duration::from_secs(8)).await;
    let elapsed = t.elapsed();
    assert_eq!(event_types(&hits), EVENTS[..2]);
    assert!(
        elapsed < Duration::from_millis(4500),
        "failed over after {elapsed:?}"
    );
    eprintln!("two webhooks failed over after {elapsed:?}");
    session.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_the_webhooks_when_it_is_back() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let server = Server::start();
    let room_id = create_room(&server, json!({ "webhook_event_url": url })).await;
    // Two participants in one room session: six events, all owed to a receiver that is down.
    let alice = join(&server, &room_id).await;
    let bob = join(&server, &room_id).await;
    let ids = [
        alice.connection_id().to_owned(),
        bob.connection_id().to_owned(),
    ];
    alice.disconnect().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    bob.disconnect().await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let receiver = Receiver::new();
    receiver.serve(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
    );
    let hits = receiver.wait_for(6, Duration::from_secs(15)).await;
    assert_eq!(
        event_types(&hits),
        [
            EVENTS[0], EVENTS[1], EVENTS[1], EVENTS[2], EVENTS[2], EVENTS[3]
        ],
        "in order"
    );
    let participants: Vec<String> = hits[1..5]
        .iter()
        .map(|h| {
            h.json()["data"]["payload"]["participant_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        participants,
        [&ids[0], &ids[1], &ids[0], &ids[1]].map(String::as_str)
    );
    assert!(
        hits[0].json()["meta"]["attempt"].as_i64().unwrap() > 1,
        "retried: {}",
        hits[0].body
    );
    let (_, key) = public_key(&server).await;
    check_signed(&hits, &key);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.hits().len(), 6, "each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_webhooks_survive_kill_9_of_the_server() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let flags = ["--api-key", API_KEY, "--api-secret", API_SECRET];
    let server = Server::start_with(&flags);
    let (key_before, _) = public_key(&server).await;
    let room_id = create_room(&server, json!({ "webhook_event_url": url })).await;
    let participant = join_and_leave(&server, &room_id).await;
    // Let the events reach the store, then kill -9 the server.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let data_dir = server.keep_data_dir();
    let server = Server::start_in(data_dir, &flags);

    let receiver = Receiver::new();
    receiver.serve(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
    );
    let hits = receiver.wait_for(4, Duration::from_secs(15)).await;
    assert_eq!(
        event_types(&hits),
        EVENTS,
        "every pending webhook, in order"
    );
    assert_eq!(
        hits[1].json()["data"]["payload"]["participant_id"],
        participant.as_str()
    );
    let (key_after, key) = public_key(&server).await;
    assert_eq!(key_after, key_before, "the key survives the restart");
    check_signed(&hits, &key);
    // Once each: nothing more arrives.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.hits().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_a_crash_left_open_ends_with_its_webhooks_at_the_next_start() {
    let receiver = Receiver::new();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    receiver.serve(listener);
    let flags = ["--api-key", API_KEY, "--api-secret", API_SECRET];
    let server = Server::start_with(&flags);
    let room_id = create_room(&server, json!({ "webhook_event_url": url })).await;
    let session = join(&server, &room_id).await;
    let participant = session.connection_id().to_owned();
    receiver.wait_for(2, Duration::from_secs(10)).await;
    // kill -9 while the participant is in; restart.
    let data_dir = server.keep_data_dir();
    let server = Server::start_in(data_dir, &flags);
    let hits = receiver.wait_for(4, Duration::from_secs(15)).await;
    assert_eq!(event_types(&hits), EVENTS, "in order");
    let left = hits[2].json();
    assert_eq!(
        left["data"]["payload"]["participant_id"],
        participant.as_str()
    );
    assert_eq!(left["data"]["payload"]["left_reason"], "network_error");
    assert_eq!(
        hits[3].json()["data"]["payload"]["ended_reason"],
        "server_restarted"
    );
    let (_, key) = public_key(&server).await;
    check_signed(&hits, &key);
}
