//! Relayed sessions (`p2p.preference=enabled`) against a real `parlor serve`, with raw
//! WebSocket clients: publish and subscribe create nothing in the router; `p2pSignal` is
//! forwarded only between a stream's publisher and its subscriber, and every malformed or
//! misaddressed one is refused with a precise error while nobody else hears anything; the
//! participant cap; the native client's clear refusal; archives and broadcasts refused.

mod common;

use std::time::Duration;

use common::{Server, rest_call};
use futures_util::{SinkExt, StreamExt};
use parlor_client::{ClientError, PublishOptions, Session};
use parlor_sdk::{MediaMode, Role, SessionOptions, TokenOptions};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw signaling client.
struct Raw {
    ws: Ws,
    connection_id: String,
}

impl Raw {
    /// Connects and returns the client with its `connected` message (or the refusal).
    async fn connect(server: &Server, sid: &str, token: &str) -> Result<(Raw, Value), Value> {
        let url = server.url.replace("http://", "ws://") + "/v1/rtc";
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let hello = json!({"type": "connect", "sessionId": sid, "token": token});
        ws.send(Message::text(hello.to_string())).await.unwrap();
        let mut raw = Raw {
            ws,
            connection_id: String::new(),
        };
        let first = raw.next().await;
        if first["type"] != "connected" {
            return Err(first);
        }
        raw.connection_id = first["connection"]["connectionId"]
            .as_str()
            .unwrap()
            .to_owned();
        Ok((raw, first))
    }

    async fn send(&mut self, msg: Value) {
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
    }

    /// The next text message (5 s at most).
    async fn next(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("a message within 5 s")
                .expect("the socket is open")
                .unwrap();
            if let Message::Text(t) = frame {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    /// The next message of type `ty`, skipping others.
    async fn next_of(&mut self, ty: &str) -> Value {
        loop {
            let m = self.next().await;
            if m["type"] == ty {
                return m;
            }
        }
    }

    /// The reply to request `id`, skipping events.
    async fn reply(&mut self, id: &str) -> Value {
        loop {
            let m = self.next().await;
            if m["id"] == id {
                return m;
            }
        }
    }

    /// Asserts that nothing but pings (and ignorable events) arrives for `ms`, then that
    /// the connection still answers.
    async fn expect_no_p2p(&mut self, ms: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(frame) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if let Some(Ok(Message::Text(t))) = frame {
                let m: Value = serde_json::from_str(&t).unwrap();
                assert_ne!(m["type"], "p2pSignal", "a bystander got {m}");
                assert_ne!(m["type"], "error", "a bystander got {m}");
            }
        }
        self.send(json!({"type": "ping", "id": "alive"})).await;
        assert_eq!(self.reply("alive").await["type"], "pong");
    }
}

async fn relayed_session(server: &Server, n: usize) -> (String, Vec<String>) {
    let sdk = server.sdk();
    let session = sdk
        .create_session(SessionOptions {
            media_mode: MediaMode::Relayed,
            ..Default::default()
        })
        .await
        .unwrap();
    let tokens = (0..n)
        .map(|i| {
            sdk.generate_token(
                &session.session_id,
                TokenOptions {
                    role: Role::Publisher,
                    data: Some(format!("client-{i}")),
                    ..Default::default()
                },
            )
            .unwrap()
        })
        .collect();
    (session.session_id, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_signals_reach_only_the_other_party_and_bad_ones_are_refused() {
    let server = Server::start();
    let (sid, tokens) = relayed_session(&server, 3).await;
    let (other_sid, other_tokens) = relayed_session(&server, 1).await;
    let (mut ann, connected) = Raw::connect(&server, &sid, &tokens[0]).await.unwrap();
    assert_eq!(connected["relayed"], true, "{connected}");
    let (mut bob, _) = Raw::connect(&server, &sid, &tokens[1]).await.unwrap();
    let (mut carol, _) = Raw::connect(&server, &sid, &tokens[2]).await.unwrap();
    let (mut xavier, _) = Raw::connect(&server, &other_sid, &other_tokens[0])
        .await
        .unwrap();
    let (a, b, c, x) = (
        ann.connection_id.clone(),
        bob.connection_id.clone(),
        carol.connection_id.clone(),
        xavier.connection_id.clone(),
    );

    // A relayed publish takes no SDP: the reply, then streamCreated at once.
    ann.send(json!({"type": "publish", "id": "p", "name": "cam", "sdp": ""}))
        .await;
    let published = ann.reply("p").await;
    assert_eq!(published["type"], "published", "{published}");
    assert_eq!(published["sdp"], "");
    let stream = published["streamId"].as_str().unwrap().to_owned();
    // Announced after the reply.
    assert_eq!(
        ann.next_of("streamCreated").await["stream"]["streamId"],
        stream
    );
    assert_eq!(
        bob.next_of("streamCreated").await["stream"]["streamId"],
        stream
    );
    // An SDP offer in a relayed session: a client that cannot go peer to peer.
    carol
        .send(json!({"type": "publish", "id": "p2", "sdp": "v=0\r\n"}))
        .await;
    let refused = carol.reply("p2").await;
    assert_eq!(refused["code"], "mediaError", "{refused}");
    assert_eq!(refused["reason"], "relayed_session", "{refused}");

    bob.send(json!({"type": "subscribe", "id": "s", "streamId": stream, "sdp": ""}))
        .await;
    let subscribed = bob.reply("s").await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    let sub = subscribed["subscriptionId"].as_str().unwrap().to_owned();

    // The router holds nothing of this session.
    let stats = server.stats().await;
    assert_eq!(stats["router"]["producers"], 0, "{stats}");
    assert_eq!(stats["router"]["consumers"], 0, "{stats}");
    assert_eq!(stats["signaling"]["transports"], 0, "{stats}");

    // Offer, answer and candidates go through, to the other party only.
    bob.send(
        json!({"type": "p2pSignal", "id": "o", "to": a, "streamId": stream,
                    "subscriptionId": sub, "kind": "offer", "sdp": "v=0 offer"}),
    )
    .await;
    assert_eq!(bob.reply("o").await["type"], "ok");
    let offer = ann.next_of("p2pSignal").await;
    assert_eq!(
        offer,
        json!({"type": "p2pSignal", "from": b, "streamId": stream, "subscriptionId": sub,
               "kind": "offer", "sdp": "v=0 offer"})
    );
    ann.send(
        json!({"type": "p2pSignal", "id": "a", "to": b, "streamId": stream,
                    "subscriptionId": sub, "kind": "answer", "sdp": "v=0 answer"}),
    )
    .await;
    assert_eq!(ann.reply("a").await["type"], "ok");
    assert_eq!(bob.next_of("p2pSignal").await["sdp"], "v=0 answer");
    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
                           "sdpMid": "0", "sdpMLineIndex": 0});
    // Without an id: not answered.
    ann.send(json!({"type": "p2pSignal", "to": b, "streamId": stream,
                    "subscriptionId": sub, "kind": "candidate", "candidate": candidate}))
        .await;
    assert_eq!(bob.next_of("p2pSignal").await["candidate"], candidate);

    // Every bad one is refused with its own error.
    let big_sdp = "x".repeat(40 * 1024);
    let long_candidate = json!({"candidate": "c".repeat(2000)});
    let p2p = |to: &str, stream: &str, sub: &str, kind: &str| {
        json!({"type": "p2pSignal", "to": to, "streamId": stream, "subscriptionId": sub,
               "kind": kind, "sdp": "v=0"})
    };
    let with = |mut v: Value, k: &str, val: Value| {
        v[k] = val;
        v
    };
    let without = |mut v: Value, k: &str| {
        v.as_object_mut().unwrap().remove(k);
        v
    };
    let bob_cases = [
        (p2p("nobody", &stream, &sub, "offer"), "notFound"),
        (p2p(&x, &stream, &sub, "offer"), "notFound"), // another session's connection
        (p2p(&b, &stream, &sub, "offer"), "badRequest"), // oneself
        (p2p(&c, &stream, &sub, "offer"), "permissionDenied"), // not the publisher
        (p2p(&a, "nope", &sub, "offer"), "notFound"),
        (p2p(&a, &stream, "nope", "offer"), "notFound"),
        (p2p(&a, &stream, &sub, "answer"), "badRequest"), // the subscriber offers
        (p2p(&a, &stream, &sub, "bogus"), "badRequest"),
        (
            without(p2p(&a, &stream, &sub, "offer"), "sdp"),
            "badRequest",
        ),
        (
            with(p2p(&a, &stream, &sub, "offer"), "sdp", json!(big_sdp)),
            "limitExceeded",
        ),
        (
            with(
                without(p2p(&a, &stream, &sub, "candidate"), "sdp"),
                "candidate",
                long_candidate,
            ),
            "limitExceeded",
        ),
        (p2p(&a, &stream, &sub, "candidate"), "badRequest"), // a candidate with an sdp
        (
            with(p2p(&a, &stream, &sub, "offer"), "extra", json!(1)),
            "badRequest",
        ),
        (
            with(
                p2p(&a, &stream, &sub, "offer"),
                "sdp",
                json!("x".repeat(70_000)),
            ),
            "limitExceeded",
        ),
    ];
    for (i, (mut msg, code)) in bob_cases.into_iter().enumerate() {
        let id = format!("bad{i}");
        msg["id"] = json!(id);
        bob.send(msg.clone()).await;
        let reply = bob.reply(&id).await;
        assert_eq!(reply["type"], "error", "{msg}: {reply}");
        assert_eq!(reply["code"], code, "{msg}: {reply}");
    }
    // Carol is no party to Bob's subscription, though she is in the session.
    carol
        .send(with(p2p(&a, &stream, &sub, "offer"), "id", json!("c1")))
        .await;
    assert_eq!(carol.reply("c1").await["code"], "permissionDenied");
    // Xavier, in another session, cannot reach into this one.
    xavier
        .send(with(p2p(&a, &stream, &sub, "offer"), "id", json!("x1")))
        .await;
    assert_eq!(xavier.reply("x1").await["code"], "notFound");
    // Nobody heard any of it, and everyone's connection is fine.
    ann.expect_no_p2p(300).await;
    xavier.expect_no_p2p(0).await;
    bob.send(
        json!({"type": "p2pSignal", "id": "o2", "to": a, "streamId": stream,
                    "subscriptionId": sub, "kind": "offer", "sdp": "v=0 again"}),
    )
    .await;
    assert_eq!(bob.reply("o2").await["type"], "ok");
    assert_eq!(ann.next_of("p2pSignal").await["sdp"], "v=0 again");

    // p2pSignal floods are rate-limited like signals; the others are unaffected.
    for i in 0..300 {
        bob.send(
            json!({"type": "p2pSignal", "id": format!("f{i}"), "to": a, "streamId": stream,
                        "subscriptionId": sub, "kind": "candidate", "candidate": candidate}),
        )
        .await;
    }
    // Refusals are answered at once, before the queued requests' replies: count by id.
    let mut answered = std::collections::HashSet::new();
    let mut limited = 0;
    while answered.len() < 300 {
        let r = bob.next().await;
        if let Some(id) = r["id"].as_str().filter(|id| id.starts_with('f')) {
            assert!(answered.insert(id.to_owned()), "one answer per request");
            if r["reason"] == "rate_limited" {
                limited += 1;
            }
        }
    }
    assert!(limited > 0, "the flood was rate limited");
    carol.expect_no_p2p(100).await;

    // Bob leaves: Ann's publisher hears that the subscription ended.
    drop(bob);
    let ended = ann.next_of("subscriptionEnded").await;
    assert_eq!(ended["subscriptionId"], sub.as_str());
    assert_eq!(ended["streamId"], stream.as_str());
    let stats = server.stats().await;
    assert_eq!(stats["router"]["rtpForwarded"], 0, "{stats}");
    drop((ann, carol, xavier));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_signal_in_a_routed_session_is_refused() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let (mut ann, connected) = Raw::connect(&server, &sid, &tokens[0]).await.unwrap();
    assert!(connected.get("relayed").is_none(), "{connected}");
    let (bob, _) = Raw::connect(&server, &sid, &tokens[1]).await.unwrap();
    ann.send(
        json!({"type": "p2pSignal", "id": "1", "to": bob.connection_id, "streamId": "s",
                    "subscriptionId": "u", "kind": "offer", "sdp": "v=0"}),
    )
    .await;
    let reply = ann.reply("1").await;
    assert_eq!(reply["code"], "badRequest", "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("routed"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_session_takes_four_connections() {
    let server = Server::start();
    let (sid, tokens) = relayed_session(&server, 6).await;
    let mut joined = Vec::new();
    for token in &tokens[..4] {
        joined.push(Raw::connect(&server, &sid, token).await.unwrap());
    }
    let refused = Raw::connect(&server, &sid, &tokens[4]).await.err().unwrap();
    assert_eq!(refused["code"], "limitExceeded", "{refused}");
    assert_eq!(refused["reason"], "session_full", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("relayed"),
        "{refused}"
    );
    // One leaves: the next one gets in.
    joined.pop();
    let mut ok = None;
    for _ in 0..50 {
        if let Ok(c) = Raw::connect(&server, &sid, &tokens[5]).await {
            ok = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok.is_some(), "a place was freed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_client_refuses_relayed_media_clearly() {
    let server = Server::start();
    let (sid, tokens) = relayed_session(&server, 1).await;
    let (session, _events) = Session::connect(&server.url, &sid, &tokens[0])
        .await
        .unwrap();
    assert!(session.info().relayed);
    let err = session.publish(PublishOptions::default()).await.err();
    assert!(matches!(err, Some(ClientError::RelayedSession)), "{err:?}");
    let err = session
        .subscribe("any", parlor_client::SubscribeOptions::default())
        .await
        .err();
    assert!(matches!(err, Some(ClientError::RelayedSession)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_and_broadcasts_of_a_relayed_session_are_refused() {
    let server = Server::start();
    let (sid, tokens) = relayed_session(&server, 1).await;
    let (_ann, _) = Raw::connect(&server, &sid, &tokens[0]).await.unwrap();
    let (status, body) = rest_call(
        &server,
        reqwest::Method::POST,
        "/archive",
        Some(json!({"sessionId": sid})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("relayed"), "{body}");
    let (status, body) = rest_call(
        &server,
        reqwest::Method::POST,
        "/broadcast",
        Some(json!({"sessionId": sid, "outputs": {"hls": {}}})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("relayed"), "{body}");
}
