//! Rooms (Telnyx Video Rooms) end to end with native participants: joining with join
//! tokens, the room session's life, token refresh on a live connection and expiry,
//! leave reasons as the others see them, and a `kill -9`. The REST API's shapes are
//! driven by the official SDKs in tests/compat (node/rooms.test.mjs, python/test_rooms.py).

mod common;

use std::time::Duration;

use common::{API_KEY, API_SECRET, Server, expect_event};
use parlor_client::{ClientError, ServerMessage, Session};
use serde_json::{Value, json};

/// A Rooms API call: (status, JSON body or Null).
async fn rooms(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}/v2{path}", server.url);
    let mut req = client
        .request(method.parse().unwrap(), &url)
        .bearer_auth(format!("{API_KEY}:{API_SECRET}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create_room(server: &Server, body: Value) -> String {
    let (status, room) = rooms(server, "POST", "/rooms", Some(body)).await;
    assert_eq!(status, 201, "{room}");
    room["data"]["id"].as_str().unwrap().to_owned()
}

/// (token, refresh token) for a room.
async fn tokens(server: &Server, room: &str, ttl: i64) -> (String, String) {
    let (status, t) = rooms(
        server,
        "POST",
        &format!("/rooms/{room}/actions/generate_join_client_token"),
        Some(json!({ "token_ttl_secs": ttl })),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    (
        t["data"]["token"].as_str().unwrap().to_owned(),
        t["data"]["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn join(
    server: &Server,
    room: &str,
    token: &str,
    context: Option<&str>,
) -> (Session, tokio::sync::mpsc::UnboundedReceiver<ServerMessage>) {
    Session::join_room(&server.url, room, token, context)
        .await
        .unwrap()
}

/// Polls a Rooms API GET until `ok` holds (5 s at most); returns the last body.
async fn until(server: &Server, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = rooms(server, "GET", path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        if ok(&body) || tokio::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_make_a_session_that_ends_when_the_last_leaves() {
    let server = Server::start();
    let room = create_room(&server, json!({ "unique_name": "standup" })).await;
    let (token, _) = tokens(&server, &room, 600).await;

    let (ann, _ann_events) = join(&server, &room, &token, Some("{\"name\":\"Ann\"}")).await;
    let (bob, mut bob_events) = join(&server, &room, &token, None).await;
    // One Parlor session for both, and the room names it as its active session.
    assert_eq!(ann.info().session_id, bob.info().session_id);
    assert_eq!(ann.info().connection.data, "{\"name\":\"Ann\"}");
    let (_, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    let active = r["data"]["active_session_id"].as_str().unwrap().to_owned();
    let s = until(
        &server,
        &format!("/room_sessions/{active}?include_participants=true"),
        |s| {
            s["data"]["participants"]
                .as_array()
                .is_some_and(|p| p.len() == 2)
        },
    )
    .await;
    let participants = s["data"]["participants"].as_array().unwrap();
    assert_eq!(
        participants[0]["id"],
        ann.info().connection.connection_id.as_str()
    );
    assert_eq!(participants[0]["context"], "{\"name\":\"Ann\"}");
    assert_eq!(participants[1]["context"], Value::Null);

    // Ann leaves: Bob sees her go; the session goes on.
    ann.disconnect().await;
    expect_event(&mut bob_events, 5, "Ann's connectionDestroyed", |e| {
        matches!(e, ServerMessage::ConnectionDestroyed { .. })
    })
    .await;
    let p = until(
        &server,
        &format!("/room_participants/{}", ann.info().connection.connection_id),
        |p| !p["data"]["left_at"].is_null(),
    )
    .await;
    assert!(p["data"]["left_at"].is_string(), "{p}");
    let (_, s) = rooms(&server, "GET", &format!("/room_sessions/{active}"), None).await;
    assert_eq!(s["data"]["active"], true, "{s}");

    // Bob leaves: the session ends; the next join starts another.
    bob.disconnect().await;
    let s = until(&server, &format!("/room_sessions/{active}"), |s| {
        s["data"]["active"] == false
    })
    .await;
    assert!(s["data"]["ended_at"].is_string(), "{s}");
    let (_, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    assert_eq!(r["data"]["active_session_id"], Value::Null);
    let (carol, _) = join(&server, &room, &token, None).await;
    let (_, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    let second = r["data"]["active_session_id"].as_str().unwrap();
    assert_ne!(second, active);
    assert_ne!(carol.info().session_id, bob.info().session_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_token_keeps_the_connection_and_a_lapsed_one_ends_it() {
    let server = Server::start();
    let room = create_room(&server, json!({})).await;
    let (token, refresh) = tokens(&server, &room, 10).await;
    let (ann, mut ann_events) = join(&server, &room, &token, None).await;
    let (bob, mut bob_events) = join(&server, &room, &token, None).await;

    // Ann's app server refreshes (the refresh token is reusable) and Ann hands the new
    // token to her live connection; Bob does not.
    for _ in 0..2 {
        let (status, t) = rooms(
            &server,
            "POST",
            &format!("/rooms/{room}/actions/refresh_client_token"),
            Some(json!({ "refresh_token": refresh, "token_ttl_secs": 60 })),
        )
        .await;
        assert_eq!(status, 201, "{t}");
        ann.update_token(t["data"]["token"].as_str().unwrap())
            .await
            .unwrap();
    }
    // A refresh token is not a join token, nor is garbage.
    for bad in [refresh.as_str(), "eyJhbGciOiJFZDI1NTE5In0.e30.AAAA"] {
        let e = ann.update_token(bad).await.unwrap_err();
        assert!(
            matches!(&e, ClientError::Server { .. }),
            "updateToken with a bad token: {e:?}"
        );
    }

    // Bob's token lapses (10 s): he is told why and closed; Ann sees him go as
    // token_expired and stays.
    let ev = expect_event(&mut bob_events, 15, "Bob's disconnected", |e| {
        matches!(e, ServerMessage::Disconnected { .. })
    })
    .await;
    let ServerMessage::Disconnected { detail, .. } = ev else {
        unreachable!()
    };
    assert_eq!(detail.as_deref(), Some("token_expired"));
    let ev = expect_event(&mut ann_events, 5, "Bob's connectionDestroyed", |e| {
        matches!(e, ServerMessage::ConnectionDestroyed { .. })
    })
    .await;
    let ServerMessage::ConnectionDestroyed {
        connection, detail, ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(
        connection.connection_id,
        bob.info().connection.connection_id
    );
    assert_eq!(detail.as_deref(), Some("token_expired"));
    let bob_id = &bob.info().connection.connection_id;
    let (_, p) = rooms(
        &server,
        "GET",
        &format!("/room_participants/{bob_id}"),
        None,
    )
    .await;
    assert!(p["data"]["left_at"].is_string(), "{p}");
    // Ann is still in, past her first token's expiry.
    tokio::time::sleep(Duration::from_secs(1)).await;
    ann.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_before_anything_happens() {
    let server = Server::start();
    let room = create_room(&server, json!({ "max_participants": 2 })).await;
    let other = create_room(&server, json!({})).await;
    let (token, refresh) = tokens(&server, &room, 600).await;

    let refused = |r: Result<_, ClientError>, what: &str| match r {
        Err(ClientError::Auth { .. } | ClientError::Server { .. }) => {}
        Err(e) => panic!("{what}: refused, but not as an authentication error: {e:?}"),
        Ok(_) => panic!("{what}: joined"),
    };
    // Another room's ID, a refresh token, a forged signature.
    refused(
        Session::join_room(&server.url, &other, &token, None).await,
        "a token for another room",
    );
    refused(
        Session::join_room(&server.url, &room, &refresh, None).await,
        "a refresh token",
    );
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    refused(
        Session::join_room(&server.url, &room, &forged, None).await,
        "a forged token",
    );
    // None of that started a session.
    let (_, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    assert_eq!(r["data"]["active_session_id"], Value::Null, "{r}");

    // max_participants: the third is refused, naming the limit.
    let _a = join(&server, &room, &token, None).await;
    let _b = join(&server, &room, &token, None).await;
    match Session::join_room(&server.url, &room, &token, None).await {
        Err(e) => assert!(e.to_string().contains("max_participants"), "{e}"),
        Ok(_) => panic!("a third participant joined a room of 2"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_and_end_tell_everyone_why() {
    let server = Server::start();
    let room = create_room(&server, json!({})).await;
    let (token, _) = tokens(&server, &room, 600).await;
    let (ann, mut ann_events) = join(&server, &room, &token, None).await;
    let (bob, mut bob_events) = join(&server, &room, &token, None).await;
    let (_, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    let sid = r["data"]["active_session_id"].as_str().unwrap().to_owned();

    let bob_id = bob.info().connection.connection_id.clone();
    let (status, body) = rooms(
        &server,
        "POST",
        &format!("/room_sessions/{sid}/actions/kick"),
        Some(json!({ "participants": [bob_id] })),
    )
    .await;
    assert_eq!((status, &body["data"]["result"]), (200, &json!("ok")));
    let ev = expect_event(&mut bob_events, 5, "Bob's disconnected", |e| {
        matches!(e, ServerMessage::Disconnected { .. })
    })
    .await;
    assert!(matches!(ev, ServerMessage::Disconnected { detail: Some(ref d), .. } if d == "kicked"));
    let ev = expect_event(&mut ann_events, 5, "Bob's connectionDestroyed", |e| {
        matches!(e, ServerMessage::ConnectionDestroyed { .. })
    })
    .await;
    assert!(
        matches!(ev, ServerMessage::ConnectionDestroyed { detail: Some(ref d), .. } if d == "kicked")
    );

    let (status, _) = rooms(
        &server,
        "POST",
        &format!("/room_sessions/{sid}/actions/end"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let ev = expect_event(&mut ann_events, 5, "Ann's disconnected", |e| {
        matches!(e, ServerMessage::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(ev, ServerMessage::Disconnected { detail: Some(ref d), .. } if d == "session_terminated")
    );
    let ann_id = ann.info().connection.connection_id.clone();
    let s = until(
        &server,
        &format!("/room_sessions/{sid}?include_participants=true"),
        |s| s["data"]["active"] == false,
    )
    .await;
    let reasons: Vec<(String, String)> = s["data"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["left_at"].to_string(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons.iter().all(|(_, left)| left != "null"), "{s}");
    assert!(reasons.iter().any(|(id, _)| id == &ann_id));
    // An ended session takes no more actions.
    let (status, e) = rooms(
        &server,
        "POST",
        &format!("/room_sessions/{sid}/actions/kick"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 422, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_rooms_stay_and_live_sessions_are_ended() {
    let server = Server::start();
    let room = create_room(&server, json!({ "unique_name": "survivor" })).await;
    let (token, _) = tokens(&server, &room, 600).await;
    let (ann, _events) = join(&server, &room, &token, None).await;
    let ann_id = ann.info().connection.connection_id.clone();
    let (_, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    let sid = r["data"]["active_session_id"].as_str().unwrap().to_owned();

    let data_dir = server.keep_data_dir(); // kill -9
    let server = Server::start_in(data_dir, &[]);
    let (status, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["data"]["unique_name"], "survivor");
    assert_eq!(r["data"]["active_session_id"], Value::Null);
    let (_, s) = rooms(
        &server,
        "GET",
        &format!("/room_sessions/{sid}?include_participants=true"),
        None,
    )
    .await;
    assert_eq!(s["data"]["active"], false, "{s}");
    assert_eq!(s["data"]["participants"][0]["id"], ann_id.as_str());
    assert!(s["data"]["participants"][0]["left_at"].is_string(), "{s}");
    // The token signed before the crash still joins (the key is in the data dir).
    let (again, _) = join(&server, &room, &token, None).await;
    assert_ne!(again.info().session_id, ann.info().session_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_extractors_refuse_is_a_telnyx_error_too() {
    let server = Server::start();
    let client = reqwest::Client::new();
    let bearer = format!("{API_KEY}:{API_SECRET}");
    // A body over the REST API's 64 KiB, a path ID that is not UTF-8, a wrong method.
    let big = json!({ "unique_name": "x".repeat(100_000) });
    let cases = [
        client
            .post(format!("{}/v2/rooms", server.url))
            .bearer_auth(&bearer)
            .json(&big),
        client
            .get(format!("{}/v2/rooms/%FF", server.url))
            .bearer_auth(&bearer),
        client
            .put(format!("{}/v2/rooms", server.url))
            .bearer_auth(&bearer),
        client
            .get(format!("{}/v2/rooms/{}/nope", server.url, uuid_like()))
            .bearer_auth(&bearer),
    ];
    for req in cases {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert!((400..500).contains(&status), "{status} {body}");
        let e = &body["errors"][0];
        assert!(e["code"].is_string(), "{status}: {body}");
        assert!(
            e["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }
}

fn uuid_like() -> &'static str {
    "5e80868f-eefa-4e3f-8ace-3aa86d510780"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_censors_until_unmute() {
    let server = Server::start();
    let room = create_room(&server, json!({})).await;
    let (token, _) = tokens(&server, &room, 600).await;
    let (ann, mut ann_events) = join(&server, &room, &token, None).await;
    let (_bob, mut bob_events) = join(&server, &room, &token, None).await;
    let publisher = common::publish_connected(&ann, parlor_client::PublishOptions::default()).await;
    let stream = publisher.stream_id().to_owned();
    expect_event(&mut bob_events, 5, "Ann's streamCreated", |e| {
        matches!(e, ServerMessage::StreamCreated { .. })
    })
    .await;
    let (_, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    let sid = r["data"]["active_session_id"].as_str().unwrap().to_owned();
    let ann_id = ann.info().connection.connection_id.clone();
    let censored = |want: bool| {
        let stream = stream.clone();
        move |e: &ServerMessage| {
            matches!(e, ServerMessage::AudioCensored { stream_id, censored }
                if *stream_id == stream && *censored == want)
        }
    };

    // mute: everyone is told it is a censor, then sees the audio go; Ann is force-muted.
    let (status, _) = rooms(
        &server,
        "POST",
        &format!("/room_sessions/{sid}/actions/mute"),
        Some(json!({ "participants": [ann_id] })),
    )
    .await;
    assert_eq!(status, 200);
    expect_event(&mut bob_events, 5, "audioCensored true", censored(true)).await;
    expect_event(&mut bob_events, 5, "hasAudio false", |e| {
        matches!(e, ServerMessage::StreamPropertyChanged { changed_property, new_value, .. }
            if changed_property == "hasAudio" && *new_value == json!(false))
    })
    .await;
    expect_event(&mut ann_events, 5, "muteForced", |e| {
        matches!(e, ServerMessage::MuteForced { .. })
    })
    .await;
    // Ann cannot turn it back on while censored.
    let e = ann
        .set_stream_property(&stream, Some(true), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Server { reason: Some(r), .. } if r == "censored"),
        "{e:?}"
    );

    // Someone joining now is told which streams are censored, right after connected.
    let (_carol, mut carol_events) = join(&server, &room, &token, None).await;
    expect_event(
        &mut carol_events,
        5,
        "audioCensored true for a late joiner",
        censored(true),
    )
    .await;

    // unmute: everyone is told; Ann may turn it on, and everyone sees it.
    let (status, _) = rooms(
        &server,
        "POST",
        &format!("/room_sessions/{sid}/actions/unmute"),
        Some(json!({ "participants": "all" })),
    )
    .await;
    assert_eq!(status, 200);
    expect_event(&mut bob_events, 5, "audioCensored false", censored(false)).await;
    ann.set_stream_property(&stream, Some(true), None)
        .await
        .unwrap();
    expect_event(&mut bob_events, 5, "hasAudio true", |e| {
        matches!(e, ServerMessage::StreamPropertyChanged { changed_property, new_value, .. }
            if changed_property == "hasAudio" && *new_value == json!(true))
    })
    .await;
}
