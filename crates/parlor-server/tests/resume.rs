//! Resuming a connection after a network failure, on the wire (docs/protocol.md §2.8):
//! a client that asked (`connect.reconnect`) gets a credential; when its WebSocket is lost
//! it takes the connection back on a new one (`resume`), gets what it missed and says
//! nothing twice; the others see nothing. Refusals of every kind, the grace period, a
//! takeover of a socket the server still thinks alive, and clients that did not ask.

mod common;

use std::time::{Duration, Instant};

use common::{Events, Server, rest_call};
use futures_util::{SinkExt, StreamExt};
use parlor_client::ServerMessage;
use parlor_proto::signaling::ConnectionReason;
use parlor_sdk::Role;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw client: its socket, and how many messages it received on this connection.
struct Raw {
    ws: Ws,
    received: u64,
}

impl Raw {
    async fn open(server: &Server, first: Value) -> Raw {
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url().as_str())
            .await
            .unwrap();
        ws.send(Message::text(first.to_string())).await.unwrap();
        Raw { ws, received: 0 }
    }

    /// The next text message (5 s at most), counted.
    async fn next(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("a message within 5 s")
                .expect("the socket is open")
                .expect("a frame");
            if let Message::Text(t) = m {
                self.received += 1;
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    /// Messages until one of `kind` (returned).
    async fn until(&mut self, kind: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    /// The refusal and close a refused first message gets.
    async fn refused(mut self) -> (Value, Option<u16>) {
        let error = self.next().await;
        let mut code = None;
        while let Ok(Some(Ok(m))) =
            tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await
        {
            if let Message::Close(Some(f)) = m {
                code = Some(u16::from(f.code));
                break;
            }
        }
        (error, code)
    }
}

/// Connects with `reconnect: true` to a server whose grace is `grace_ms`; returns the
/// client, its connection ID and credential.
async fn connect_resumable(
    server: &Server,
    sid: &str,
    token: &str,
    grace_ms: u64,
) -> (Raw, String, String) {
    let mut raw = Raw::open(
        server,
        json!({"type": "connect", "version": 1, "sessionId": sid, "token": token, "reconnect": true}),
    )
    .await;
    let connected = raw.next().await;
    assert_eq!(connected["type"], "connected", "{connected}");
    let resume = &connected["resume"];
    assert_eq!(resume["graceMs"], grace_ms, "{connected}");
    let credential = resume["token"].as_str().expect("a credential").to_owned();
    let id = connected["connection"]["connectionId"]
        .as_str()
        .unwrap()
        .to_owned();
    (raw, id, credential)
}

fn resume_msg(sid: &str, id: &str, credential: &str, received: u64) -> Value {
    json!({"type": "resume", "version": 1, "sessionId": sid, "connectionId": id,
           "resumeToken": credential, "received": received})
}

/// Fails if `events` shows `connection` leaving within `wait`.
async fn never_leaves(events: &mut Events, connection: &str, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(e)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let ServerMessage::ConnectionDestroyed { connection: c, .. } = &e {
            assert_ne!(c.connection_id, connection, "it was seen leaving: {e:?}");
        }
    }
}

async fn left(events: &mut Events, connection: &str, within: Duration) -> ConnectionReason {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ServerMessage::ConnectionDestroyed {
                connection: c,
                reason,
                ..
            })) if c.connection_id == connection => return reason,
            Ok(Some(_)) => continue,
            other => panic!("{connection} did not leave: {other:?}"),
        }
    }
}

fn grace() -> Server {
    Server::start_configured(&["--reconnect-grace", "10s"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_socket_is_resumed_with_what_it_missed() {
    let server = grace();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let (mut ann, ann_id, credential) = connect_resumable(&server, &sid, &tokens[0], 10_000).await;
    let (bob, mut bob_events) = server.connect(&sid, &tokens[1]).await;
    ann.until("connectionCreated").await;
    // Ann says something (one message after connect) and hears its reply.
    ann.send(json!({"type": "signal", "id": "s1", "signalType": "hi", "data": "1"}))
        .await;
    ann.until("ok").await;

    // The socket is lost without a close (as a dropped network leaves it); Bob signals
    // Ann while she is away, twice.
    let received = ann.received;
    drop(ann);
    for data in ["a", "b"] {
        bob.signal(Some(&ann_id), "while-away", data).await.unwrap();
    }

    // She takes the connection back and gets both signals, once each.
    let mut again = Raw::open(&server, resume_msg(&sid, &ann_id, &credential, received)).await;
    let resumed = again.next().await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(resumed["connectionId"], ann_id.as_str());
    assert_eq!(
        resumed["heard"], 1,
        "the server had her one signal: {resumed}"
    );
    let mut got = Vec::new();
    while got.len() < 2 {
        let v = again.next().await;
        if v["type"] == "signal" && v["signalType"] == "while-away" {
            got.push(v["data"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(got, ["a", "b"]);
    // The connection works as before, and Bob never saw her leave.
    again.send(json!({"type": "ping", "id": "p"})).await;
    assert_eq!(again.until("pong").await["id"], "p");
    never_leaves(&mut bob_events, &ann_id, Duration::from_secs(2)).await;
    // The Inspector's timeline shows both: lost (a socket error), and resumed with how
    // many messages were sent again from the replay and how many the server had.
    let mut events = Vec::new();
    for _ in 0..50 {
        let (status, body) = rest_call(
            &server,
            reqwest::Method::GET,
            &format!("/inspector/sessions/{sid}/events?count=1000"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        events = body["items"].as_array().cloned().unwrap_or_default();
        events.retain(|e| e["kind"] == "connectionLost" || e["kind"] == "connectionResumed");
        if events.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0]["kind"], "connectionLost");
    assert_eq!(events[0]["connectionId"], ann_id.as_str());
    assert_eq!(events[0]["reason"], "socketError");
    assert_eq!(events[1]["kind"], "connectionResumed");
    // Bob's signals were either still queued or written to the lost socket before the
    // server noticed it (then resent from the replay): at most both were resent, and the
    // client got each exactly once either way (above).
    let resent = events[1]["detail"]["resent"].as_u64().expect("a count");
    assert!(resent <= 2, "{:?}", events[1]);
    assert_eq!(events[1]["detail"]["heard"], 1);
    assert!(events[1]["detail"]["awayMs"].as_u64().is_some());
    // Leaving now is a clean leave.
    again.ws.close(None).await.unwrap();
    assert_eq!(
        left(&mut bob_events, &ann_id, Duration::from_secs(5)).await,
        ConnectionReason::ClientDisconnected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_the_server_still_thinks_alive_is_taken_over() {
    let server = grace();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let (mut old, ann_id, credential) = connect_resumable(&server, &sid, &tokens[0], 10_000).await;
    let (bob, mut bob_events) = server.connect(&sid, &tokens[1]).await;
    old.until("connectionCreated").await;
    // The client gave up on its socket first (its own watchdog): it resumes on a new one
    // while the old one is open.
    let mut new = Raw::open(
        &server,
        resume_msg(&sid, &ann_id, &credential, old.received),
    )
    .await;
    assert_eq!(new.next().await["type"], "resumed");
    bob.signal(Some(&ann_id), "after", "x").await.unwrap();
    assert_eq!(new.until("signal").await["signalType"], "after");
    never_leaves(&mut bob_events, &ann_id, Duration::from_secs(1)).await;
    // The old socket is closed by the server and hears nothing more.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = old.ws.next().await {
            if let Message::Text(t) = m {
                assert!(!t.contains("after"), "the old socket got {t}");
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the old socket was not closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_are_refused_without_the_credential_and_after_the_grace() {
    let server = Server::start_configured(&["--reconnect-grace", "2s"]);
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher, Role::Publisher])
        .await;
    let (_bob, mut bob_events) = server.connect(&sid, &tokens[1]).await;
    let (ann, ann_id, credential) = connect_resumable(&server, &sid, &tokens[0], 2000).await;
    let received = ann.received;
    drop(ann);

    // A wrong credential, an unknown connection, a version this server does not speak,
    // a malformed resume: refused, and the connection still waits.
    let server = &server;
    let refused = |v: Value| async move { Raw::open(server, v).await.refused().await };
    let (e, code) = refused(resume_msg(&sid, &ann_id, "forged", received)).await;
    assert_eq!(
        (e["code"].as_str(), e["reason"].as_str(), code),
        (Some("authFailed"), Some("resume_refused"), Some(4001)),
        "{e}"
    );
    let (e, _) = refused(resume_msg(&sid, "no-such-connection", &credential, 0)).await;
    assert_eq!(e["reason"], "resume_refused", "{e}");
    let mut v2 = resume_msg(&sid, &ann_id, &credential, received);
    v2["version"] = json!(2);
    let (e, code) = refused(v2).await;
    assert_eq!(
        (e["code"].as_str(), code),
        (Some("badRequest"), Some(4000)),
        "{e}"
    );
    let (e, _) = refused(json!({"type": "resume", "version": 1, "sessionId": sid})).await;
    assert_eq!(e["code"], "badRequest", "{e}");

    // Claiming more messages than were sent: refused, and the connection ends.
    let (e, _) = refused(resume_msg(&sid, &ann_id, &credential, received + 100)).await;
    assert_eq!(e["reason"], "resume_too_late", "{e}");
    assert_eq!(
        left(&mut bob_events, &ann_id, Duration::from_secs(5)).await,
        ConnectionReason::NetworkDisconnected
    );

    // A connection that is not resumed within the grace ends as a lost one did.
    let (carl, carl_id, _) = connect_resumable(server, &sid, &tokens[2], 2000).await;
    let lost_at = Instant::now();
    drop(carl);
    assert_eq!(
        left(&mut bob_events, &carl_id, Duration::from_secs(10)).await,
        ConnectionReason::NetworkDisconnected
    );
    assert!(
        lost_at.elapsed() >= Duration::from_millis(1900),
        "it waited its grace: {:?}",
        lost_at.elapsed()
    );
    // ...and cannot be resumed after.
    let (e, _) = refused(resume_msg(&sid, &carl_id, "x", 1)).await;
    assert_eq!(e["reason"], "resume_refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_did_not_ask_and_servers_that_do_not_resume_end_at_once() {
    // A client without `reconnect` (the native client today): no credential, and a lost
    // socket ends its connection at once.
    let server = grace();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let (_bob, mut bob_events) = server.connect(&sid, &tokens[1]).await;
    let mut ann = Raw::open(
        &server,
        json!({"type": "connect", "version": 1, "sessionId": sid, "token": tokens[0]}),
    )
    .await;
    let connected = ann.next().await;
    assert!(connected.get("resume").is_none(), "{connected}");
    let ann_id = connected["connection"]["connectionId"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(ann);
    assert_eq!(
        left(&mut bob_events, &ann_id, Duration::from_secs(3)).await,
        ConnectionReason::NetworkDisconnected
    );

    // `--reconnect-grace off`: nobody gets a credential.
    let off = Server::start_configured(&["--reconnect-grace", "off"]);
    let (sid, tokens) = off.session_with_tokens(&[Role::Publisher]).await;
    let mut ann = Raw::open(
        &off,
        json!({"type": "connect", "version": 1, "sessionId": sid, "token": tokens[0], "reconnect": true}),
    )
    .await;
    let connected = ann.next().await;
    assert_eq!(connected["type"], "connected");
    assert!(connected.get("resume").is_none(), "{connected}");
}

/// A TCP proxy for the signaling connection that can go silent (forwarding nothing either
/// way, connections left open), as a network that drops everything does.
struct Blackhole {
    addr: std::net::SocketAddr,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Blackhole {
    async fn start(to: std::net::SocketAddr) -> Blackhole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = silent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(to).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pipe(cr, sw, flag.clone()));
                tokio::spawn(pipe(sr, cw, flag.clone()));
            }
        });
        Blackhole { addr, silent }
    }

    /// Stops (or resumes) forwarding, both ways, on every connection.
    fn set_silent(&self, yes: bool) {
        self.silent.store(yes, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Copies `from` to `to` until either ends, dropping what comes while `silent`.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if silent.load(std::sync::atomic::Ordering::Relaxed) {
            continue; // lost in the network
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_client_resumes_after_its_network_went_silent() {
    use parlor_client::{LinkState, PublishOptions, Session};
    let server = grace();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let proxy = Blackhole::start(
        server
            .ws_url()
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap(),
    )
    .await;
    let (ann, mut ann_events) =
        Session::connect(&format!("http://{}", proxy.addr), &sid, &tokens[0])
            .await
            .unwrap();
    let (bob, mut bob_events) = server.connect(&sid, &tokens[1]).await;
    let ann_id = ann.connection_id().to_owned();
    let publisher = common::publish_connected(
        &ann,
        PublishOptions {
            has_audio: false,
            ..Default::default()
        },
    )
    .await;
    let mut link = ann.link_state();
    assert_eq!(*link.borrow(), LinkState::Connected);

    // The network goes silent: the client notices (no frame for 5 s) and tries to resume.
    proxy.set_silent(true);
    let t0 = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(10),
        link.wait_for(|s| *s == LinkState::Reconnecting),
    )
    .await
    .expect("the client notices the silence")
    .unwrap();
    eprintln!("noticed after {:?}", t0.elapsed());
    // Meanwhile Bob signals Ann, and Ann signals Bob (it waits for the link).
    bob.signal(Some(&ann_id), "chat", "while you were away")
        .await
        .unwrap();
    let ann2 = ann.clone();
    let sending = tokio::spawn(async move { ann2.signal(None, "chat", "back").await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.set_silent(false);
    tokio::time::timeout(
        Duration::from_secs(10),
        link.wait_for(|s| *s == LinkState::Connected),
    )
    .await
    .expect("the client resumes")
    .unwrap();
    eprintln!("resumed after {:?}", t0.elapsed());
    sending
        .await
        .unwrap()
        .expect("the signal sent while away is delivered");
    // Ann gets what she missed; Bob gets what she said; nobody saw her leave, and her
    // stream is still there.
    common::expect_event(
        &mut ann_events,
        5,
        "the missed signal",
        |e| matches!(e, ServerMessage::Signal { data, .. } if data == "while you were away"),
    )
    .await;
    common::expect_event(
        &mut bob_events,
        5,
        "the signal sent while away",
        |e| matches!(e, ServerMessage::Signal { data, .. } if data == "back"),
    )
    .await;
    never_leaves(&mut bob_events, &ann_id, Duration::from_secs(1)).await;
    let streams = server.sdk().list_streams(&sid).await.unwrap();
    assert_eq!(streams.len(), 1, "the stream was kept");
    assert_eq!(streams[0].id, publisher.stream_id());
    assert_eq!(*link.borrow(), LinkState::Connected);
}
