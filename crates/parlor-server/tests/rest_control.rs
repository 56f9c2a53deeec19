//! Server-side control through the REST API (with the Rust SDK) and session-monitoring
//! callbacks, against a real server with live native clients.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use common::{API_KEY, API_SECRET, Server, expect_event, publish_connected};
use parlor_client::{PublishOptions, ServerMessage, Session};
use parlor_proto::signaling::{ConnectionReason, StreamReason};
use parlor_sdk::{Error as SdkError, Role, TokenOptions};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

async fn join(
    server: &Server,
    sid: &str,
    role: Role,
) -> (Session, UnboundedReceiver<ServerMessage>) {
    let token = server
        .sdk()
        .generate_token(
            sid,
            TokenOptions {
                role,
                initial_layout_class_list: vec!["focus".into()],
                ..Default::default()
            },
        )
        .unwrap();
    Session::connect(&server.url, sid, &token).await.unwrap()
}

fn status(e: &SdkError) -> u16 {
    match e {
        SdkError::Auth { status, .. } | SdkError::Request { status, .. } => *status,
        SdkError::NotFound { .. } => 404,
        other => panic!("unexpected error {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_signals_force_disconnects_mutes_and_manages_streams() {
    let server = Server::start();
    let sdk = server.sdk();
    let (sid, _) = server.session_with_tokens(&[]).await;
    let (a, mut a_events) = join(&server, &sid, Role::Publisher).await;
    let (b, mut b_events) = join(&server, &sid, Role::Subscriber).await;
    let publisher = publish_connected(
        &a,
        PublishOptions {
            name: "cam".into(),
            ..Default::default()
        },
    )
    .await;
    let stream_id = publisher.stream_id().to_owned();
    expect_event(&mut b_events, 5, "streamCreated", |e| {
        matches!(e, ServerMessage::StreamCreated { .. })
    })
    .await;

    // Signals: to all (no sender), to one.
    sdk.signal(&sid, None, "news", "hello all").await.unwrap();
    for events in [&mut a_events, &mut b_events] {
        let ev = expect_event(events, 5, "signal", |e| {
            matches!(e, ServerMessage::Signal { .. })
        })
        .await;
        let ServerMessage::Signal {
            signal_type,
            data,
            from,
        } = ev
        else {
            unreachable!()
        };
        assert_eq!(
            (signal_type.as_str(), data.as_str(), from),
            ("news", "hello all", None)
        );
    }
    sdk.signal(&sid, Some(b.connection_id()), "dm", "just b")
        .await
        .unwrap();
    expect_event(
        &mut b_events,
        5,
        "dm",
        |e| matches!(e, ServerMessage::Signal { signal_type, .. } if signal_type == "dm"),
    )
    .await;
    assert_eq!(
        status(&sdk.signal(&sid, Some("nobody"), "x", "").await.unwrap_err()),
        404
    );
    assert_eq!(
        status(
            &sdk.signal(&sid, None, "x", &"d".repeat(8193))
                .await
                .unwrap_err()
        ),
        413
    );
    assert_eq!(
        status(&sdk.signal(&sid, None, "bad type", "").await.unwrap_err()),
        400
    );
    let unknown = parlor_proto::session_id::generate(API_KEY, None, 1);
    assert_eq!(
        status(&sdk.signal(&unknown, None, "x", "").await.unwrap_err()),
        404
    );

    // Streams: list, get (initial layout classes from the token), set class lists.
    let streams = sdk.list_streams(&sid).await.unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(
        (streams[0].id.as_str(), streams[0].name.as_str()),
        (stream_id.as_str(), "cam")
    );
    assert_eq!(streams[0].layout_class_list, ["focus"]);
    sdk.set_stream_class_lists(&sid, &[(&stream_id, vec!["full".into(), "wide".into()])])
        .await
        .unwrap();
    let got = sdk.get_stream(&sid, &stream_id).await.unwrap();
    assert_eq!(
        (got.video_type.as_str(), got.layout_class_list.clone()),
        ("camera", vec!["full".to_owned(), "wide".to_owned()])
    );
    assert_eq!(
        status(&sdk.get_stream(&sid, "nope").await.unwrap_err()),
        404
    );
    assert_eq!(
        status(
            &sdk.set_stream_class_lists(&sid, &[(&stream_id, vec![]), ("nope", vec![])])
                .await
                .unwrap_err()
        ),
        404
    );
    assert_eq!(
        sdk.get_stream(&sid, &stream_id)
            .await
            .unwrap()
            .layout_class_list,
        ["full", "wide"],
        "all or none"
    );

    // Mute one stream; then mute all with an exclusion; lift it.
    sdk.mute_stream(&sid, &stream_id).await.unwrap();
    expect_event(&mut a_events, 5, "muteForced", |e| {
        matches!(e, ServerMessage::MuteForced { .. })
    })
    .await;
    let ev = expect_event(&mut b_events, 5, "hasAudio false", |e| {
        matches!(e, ServerMessage::StreamPropertyChanged { .. })
    })
    .await;
    assert!(
        matches!(ev, ServerMessage::StreamPropertyChanged { changed_property, new_value, .. } if changed_property == "hasAudio" && new_value == false)
    );
    publisher.set_publishing(Some(true), None).await.unwrap();
    sdk.mute_all(&sid, std::slice::from_ref(&stream_id))
        .await
        .unwrap();
    sdk.disable_force_mute(&sid).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(ev) = a_events.try_recv() {
        assert!(
            !matches!(ev, ServerMessage::MuteForced { .. }),
            "excluded stream was muted"
        );
    }

    // Force disconnect: the client is told, the others see forceDisconnected.
    sdk.force_disconnect(&sid, a.connection_id()).await.unwrap();
    let ev = expect_event(&mut a_events, 5, "disconnected", |e| {
        matches!(e, ServerMessage::Disconnected { .. })
    })
    .await;
    assert!(matches!(
        ev,
        ServerMessage::Disconnected {
            reason: ConnectionReason::ForceDisconnected,
            detail: None
        }
    ));
    let ev = expect_event(&mut b_events, 5, "streamDestroyed", |e| {
        matches!(e, ServerMessage::StreamDestroyed { .. })
    })
    .await;
    assert!(matches!(
        ev,
        ServerMessage::StreamDestroyed {
            reason: StreamReason::ForceDisconnected,
            ..
        }
    ));
    let ev = expect_event(&mut b_events, 5, "connectionDestroyed", |e| {
        matches!(e, ServerMessage::ConnectionDestroyed { .. })
    })
    .await;
    assert!(matches!(
        ev,
        ServerMessage::ConnectionDestroyed {
            reason: ConnectionReason::ForceDisconnected,
            ..
        }
    ));
    assert_eq!(
        status(
            &sdk.force_disconnect(&sid, a.connection_id())
                .await
                .unwrap_err()
        ),
        404
    );
    assert!(sdk.list_streams(&sid).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_all_also_mutes_streams_published_later() {
    let server = Server::start();
    let sdk = server.sdk();
    let (sid, _) = server.session_with_tokens(&[]).await;
    let (a, mut a_events) = join(&server, &sid, Role::Publisher).await;
    sdk.mute_all(&sid, &[]).await.unwrap();
    let _p = publish_connected(&a, PublishOptions::default()).await;
    expect_event(&mut a_events, 5, "muteForced", |e| {
        matches!(e, ServerMessage::MuteForced { .. })
    })
    .await;
    let ev = expect_event(&mut a_events, 5, "streamCreated", |e| {
        matches!(e, ServerMessage::StreamCreated { .. })
    })
    .await;
    assert!(matches!(ev, ServerMessage::StreamCreated { stream } if !stream.has_audio));
    sdk.disable_force_mute(&sid).await.unwrap();
    let _q = publish_connected(&a, PublishOptions::default()).await;
    let ev = expect_event(&mut a_events, 5, "second streamCreated", |e| {
        matches!(e, ServerMessage::StreamCreated { .. })
    })
    .await;
    assert!(matches!(ev, ServerMessage::StreamCreated { stream } if stream.has_audio));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rest_input_gets_4xx_json_never_5xx() {
    let server = Server::start();
    let (sid, _) = server.session_with_tokens(&[]).await;
    let auth = parlor_proto::project_auth::mint(API_KEY, API_SECRET, parlor_proto::unix_now(), 60);
    let p = format!("{}/v2/project/{API_KEY}", server.url);
    let oversize = "x".repeat(70_000);
    let cases: Vec<(reqwest::Method, String, &str, u16)> = vec![
        (
            reqwest::Method::POST,
            format!("{p}/session/{sid}/signal"),
            "{not json",
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/session/{sid}/signal"),
            r#"{"type":1}"#,
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/session/{sid}/signal"),
            r#"{"type":"a b","extra":1}"#,
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/session/{sid}/mute"),
            "{}",
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/session/{sid}/mute"),
            r#"{"active":"yes"}"#,
            400,
        ),
        (
            reqwest::Method::PUT,
            format!("{p}/session/{sid}/stream"),
            r#"{"items":[]}"#,
            400,
        ),
        (
            reqwest::Method::PUT,
            format!("{p}/session/{sid}/stream"),
            r#"{"items":[{"id":"x","layoutClassList":["a b"]}]}"#,
            400,
        ),
        (
            reqwest::Method::PUT,
            format!("{p}/session/{sid}/stream"),
            "[]",
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/session/1_nope/signal"),
            "",
            404,
        ),
        (
            reqwest::Method::DELETE,
            format!("{p}/session/{sid}/connection/nope"),
            "",
            404,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/session/{sid}/stream/nope/mute"),
            "",
            404,
        ),
        (
            reqwest::Method::POST,
            format!("{}/v2/project/999/session/{sid}/signal", server.url),
            "",
            403,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/callback"),
            r#"{"group":"x","event":"y","url":"http://a"}"#,
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/callback"),
            r#"{"group":"stream","event":"created","url":"ftp://a"}"#,
            400,
        ),
        (
            reqwest::Method::DELETE,
            format!("{p}/callback/nope"),
            "",
            404,
        ),
        (reqwest::Method::POST, format!("{p}/archive"), "{}", 400),
        (reqwest::Method::POST, format!("{p}/broadcast"), "{}", 400),
        (reqwest::Method::POST, format!("{p}/captions"), "{}", 501),
        (
            reqwest::Method::POST,
            format!("{p}/session/{sid}/play-dtmf"),
            "{}",
            501,
        ),
        (
            reqwest::Method::POST,
            format!("{p}/session/{sid}/signal"),
            &oversize,
            413,
        ),
    ];
    for (method, url, body, want) in cases {
        let res = reqwest::Client::new()
            .request(method.clone(), &url)
            .header("X-OPENTOK-AUTH", &auth)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let got = res.status().as_u16();
        assert_eq!(
            res.headers()["content-type"],
            "application/json",
            "{method} {url}"
        );
        let json: Value = res.json().await.unwrap();
        assert_eq!(got, want, "{method} {url} {body:.60}: {json}");
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
    }
}

/// A webhook receiver: records `(signature, body)`; can be stopped and restarted on its port.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    /// A receiver on a free port; its URL at `path` (`/hook` or `/legacy`).
    async fn start(path: &str) -> (Receiver, String) {
        let receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        receiver.serve(listener).await;
        (receiver, url)
    }

    async fn serve(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> &'static str {
            let sig = headers
                .get("x-parlor-signature")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            r.got
                .lock()
                .unwrap()
                .push((sig, String::from_utf8(body.to_vec()).unwrap()));
            "ok"
        }
        let app = Router::new()
            .route("/hook", axum::routing::post(hook))
            .route("/legacy", axum::routing::post(hook))
            .with_state(self.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        })
    }

    fn events(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect()
    }

    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        while self.got.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.events()
    }

    fn check_signatures(&self) {
        for (sig, body) in self.got.lock().unwrap().iter() {
            assert_eq!(
                sig,
                &parlor_server::callbacks::sign(API_SECRET, body.as_bytes()),
                "{body}"
            );
        }
    }
}

/// A free port, left closed: a receiver that is down.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// The callbacks of `n` sessions that one client joined and left, in order.
fn one_client_sessions(n: usize) -> Vec<&'static str> {
    (0..n)
        .flat_map(|_| {
            [
                "sessionCreated",
                "connectionCreated",
                "connectionDestroyed",
                "sessionDestroyed",
            ]
        })
        .collect()
}

fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_arrive_signed_and_in_order_within_a_second() {
    let (receiver, url) = Receiver::start("/hook").await;
    let server = Server::start_configured(&["--callback-url", &url]);

    // A legacy registration for connection/created only.
    let (legacy, legacy_url) = Receiver::start("/legacy").await;
    let auth = parlor_proto::project_auth::mint(API_KEY, API_SECRET, parlor_proto::unix_now(), 60);
    let registered: Value = reqwest::Client::new()
        .post(format!("{}/v2/project/{API_KEY}/callback", server.url))
        .header("X-OPENTOK-AUTH", &auth)
        .json(&serde_json::json!({"group": "connection", "event": "created", "url": legacy_url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(registered["group"], "connection");

    let (sid, _) = server.session_with_tokens(&[]).await;
    let (a, _a_events) = join(&server, &sid, Role::Publisher).await;
    let (b, _b_events) = join(&server, &sid, Role::Subscriber).await;
    let p = publish_connected(
        &a,
        PublishOptions {
            name: "cam".into(),
            ..Default::default()
        },
    )
    .await;
    let published_at = std::time::Instant::now();
    let events = receiver.wait_for(4, Duration::from_secs(1)).await;
    assert_eq!(
        names(&events),
        [
            "sessionCreated",
            "connectionCreated",
            "connectionCreated",
            "streamCreated"
        ]
    );
    eprintln!("streamCreated callback after {:?}", published_at.elapsed());
    p.unpublish().await.unwrap();
    b.disconnect().await;
    a.disconnect().await;
    let events = receiver.wait_for(8, Duration::from_secs(2)).await;
    assert_eq!(
        names(&events),
        [
            "sessionCreated",
            "connectionCreated",
            "connectionCreated",
            "streamCreated",
            "streamDestroyed",
            "connectionDestroyed",
            "connectionDestroyed",
            "sessionDestroyed"
        ]
    );
    receiver.check_signatures();
    for e in &events {
        assert_eq!(
            (e["sessionId"].as_str(), e["projectId"].as_str()),
            (Some(sid.as_str()), Some(API_KEY))
        );
        assert!(e["timestamp"].as_i64().unwrap() > 0);
    }
    assert_eq!(events[1]["connection"]["id"], a.connection_id());
    assert_eq!(events[3]["stream"]["name"], "cam");
    assert_eq!(events[3]["stream"]["videoType"], "camera");
    assert_eq!(events[3]["stream"]["connection"]["id"], a.connection_id());
    assert_eq!(events[4]["reason"], "clientDisconnected");
    assert_eq!(events[5]["connection"]["id"], b.connection_id());
    let legacy_events = legacy.wait_for(2, Duration::from_secs(1)).await;
    assert_eq!(
        names(&legacy_events),
        ["connectionCreated", "connectionCreated"]
    );
    legacy.check_signatures();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_survive_a_receiver_down_for_30_seconds_without_slowing_clients() {
    // The receiver is down.
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let server = Server::start_configured(&["--callback-url", &url]);
    let down_since = std::time::Instant::now();
    let (sid, _) = server.session_with_tokens(&[]).await;

    // Clients go on as usual; their operations are timed against the receiver being down.
    let mut slowest = Duration::ZERO;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let (c, _events) = join(&server, &sid, Role::Publisher).await;
        c.signal(None, "x", "y").await.unwrap();
        ids.push(c.connection_id().to_owned());
        c.disconnect().await;
        slowest = slowest.max(t.elapsed());
    }
    eprintln!("slowest join+signal+leave while the receiver was down: {slowest:?}");
    assert!(
        slowest < Duration::from_secs(2),
        "clients were held up: {slowest:?}"
    );

    tokio::time::sleep(Duration::from_secs(30).saturating_sub(down_since.elapsed())).await;
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    receiver.serve(listener).await;
    let back = std::time::Instant::now();
    // sessionCreated, then per client connectionCreated + connectionDestroyed, then
    // sessionDestroyed (the room empties each time: 5 sessions of one client).
    let events = receiver.wait_for(20, Duration::from_secs(10)).await;
    eprintln!(
        "all callbacks delivered {:?} after the receiver came back",
        back.elapsed()
    );
    assert_eq!(names(&events), one_client_sessions(5));
    let order: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "connectionCreated")
        .map(|e| e["connection"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, ids, "in order");
    receiver.check_signatures();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_callbacks_survive_kill_9_of_the_server() {
    // The receiver is down while the events happen, so they wait in the queue.
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let flags = [
        "--api-key",
        API_KEY,
        "--api-secret",
        API_SECRET,
        "--callback-url",
        &url,
    ];
    let server = Server::start_with(&flags);
    let (sid, _) = server.session_with_tokens(&[]).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (c, _events) = join(&server, &sid, Role::Publisher).await;
        ids.push(c.connection_id().to_owned());
        c.disconnect().await;
    }
    // Let the last events reach the store, then kill -9 the server.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let data_dir = server.keep_data_dir();
    let server = Server::start_in(data_dir, &flags);

    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    receiver.serve(listener).await;
    let events = receiver.wait_for(12, Duration::from_secs(15)).await;
    assert_eq!(
        names(&events),
        one_client_sessions(3),
        "every queued event, in order, once"
    );
    let order: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "connectionCreated")
        .map(|e| e["connection"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, ids, "in order");
    receiver.check_signatures();
    // Nothing more arrives (each was delivered once), and the server works as before.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.events().len(), 12);
    server.stats().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_status_callbacks_arrive_in_order_in_opentok_shape() {
    let (receiver, url) = Receiver::start("/hook").await;
    let server = Server::start_configured(&["--callback-url", &url]);
    // The legacy registration for the archive group.
    let (legacy, legacy_url) = Receiver::start("/legacy").await;
    let auth = parlor_proto::project_auth::mint(API_KEY, API_SECRET, parlor_proto::unix_now(), 60);
    let http = reqwest::Client::new();
    let registered = http
        .post(format!("{}/v2/project/{API_KEY}/callback", server.url))
        .header("X-OPENTOK-AUTH", &auth)
        .json(&serde_json::json!({"group": "archive", "event": "status", "url": legacy_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 200);

    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let mut publisher = common::publish_files(&server, &tokens[0], 20, "cam");
    common::wait_streams(&server, &sid, 1).await;
    let started: Value = http
        .post(format!("{}/v2/project/{API_KEY}/archive", server.url))
        .header("X-OPENTOK-AUTH", &auth)
        .json(&serde_json::json!({"sessionId": sid, "name": "cb", "outputMode": "individual"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = http
        .post(format!(
            "{}/v2/project/{API_KEY}/archive/{id}/stop",
            server.url
        ))
        .header("X-OPENTOK-AUTH", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 200);
    let archive_events = |events: Vec<Value>| -> Vec<Value> {
        events
            .into_iter()
            .filter(|e| e["event"] == "archive")
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    while tokio::time::Instant::now() < deadline {
        events = archive_events(receiver.events());
        if events.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["started", "stopped", "available"], "{events:?}");
    for e in &events {
        assert_eq!(e["id"], id);
        assert_eq!(e["sessionId"], sid);
        assert_eq!(e["name"], "cb");
        assert_eq!(e["outputMode"], "individual");
        assert!(
            e["createdAt"].as_i64().unwrap() < 10_000_000_000,
            "createdAt in seconds: {e}"
        );
    }
    assert_eq!(events[1]["reason"], "user initiated");
    assert!(
        events[2]["url"]
            .as_str()
            .unwrap()
            .contains("/archive-download/")
    );
    assert!(events[2]["size"].as_u64().unwrap() > 0);
    assert!(events[2]["duration"].as_u64().unwrap() >= 1);
    receiver.check_signatures();
    let legacy_events = archive_events(legacy.wait_for(3, Duration::from_secs(10)).await);
    assert_eq!(legacy_events.len(), 3, "{legacy_events:?}");
    publisher.kill().ok();
    publisher.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_status_callbacks_arrive_in_order() {
    let (receiver, url) = Receiver::start("/hook").await;
    let server = Server::start_configured(&["--callback-url", &url]);
    let auth = parlor_proto::project_auth::mint(API_KEY, API_SECRET, parlor_proto::unix_now(), 60);
    let http = reqwest::Client::new();
    let (sid, _) = server.session_with_tokens(&[Role::Publisher]).await;
    let started: Value = http
        .post(format!("{}/v2/project/{API_KEY}/broadcast", server.url))
        .header("X-OPENTOK-AUTH", &auth)
        .json(&serde_json::json!({"sessionId": sid, "outputs": {"hls": {}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    // Until the HLS output is live (its status change is a callback too).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !receiver
        .events()
        .iter()
        .any(|e| e["event"] == "broadcast" && e["broadcastUrls"]["hlsStatus"] == "live")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            receiver.events()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopped = http
        .post(format!(
            "{}/v2/project/{API_KEY}/broadcast/{id}/stop",
            server.url
        ))
        .header("X-OPENTOK-AUTH", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 200);
    let mut events = Vec::new();
    while tokio::time::Instant::now() < deadline {
        events = receiver
            .events()
            .into_iter()
            .filter(|e| e["event"] == "broadcast")
            .collect();
        if events.last().is_some_and(|e| e["status"] == "stopped") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let statuses: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap(),
                e["broadcastUrls"]["hlsStatus"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("started", "connecting"),
            ("started", "live"),
            ("stopped", "ended")
        ],
        "{events:?}"
    );
    for e in &events {
        assert_eq!(e["id"], id);
        assert_eq!(e["sessionId"], sid);
        assert_eq!(e["partnerId"].to_string(), API_KEY);
    }
    assert_eq!(events[2]["reason"], "stopped by the API");
}
