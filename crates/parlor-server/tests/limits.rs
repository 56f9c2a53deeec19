//! Rate limits and per-session caps against a real `parlor serve`: each abuser is refused
//! with its specific error, and nobody else is (another credential, another connection,
//! another session). What the abuse costs a bystander is measured by `parlor-bench abuse`
//! (RELIABILITY.md), not timed here.

mod common;

use std::time::Duration;

use common::{API_KEY, API_SECRET, Server, expect_event, publish_connected, wait_subscribed};
use parlor_client::{ClientError, PublishOptions, ServerMessage, Session, SubscribeOptions};
use parlor_proto::signaling::ErrorCode;
use parlor_sdk::Role;

/// `GET /v2/project/{key}/session/{sid}/stream` with a fresh project JWT: (status,
/// Retry-After, body).
async fn list_streams(server: &Server, sid: &str) -> (u16, Option<String>, serde_json::Value) {
    let jwt = parlor_proto::project_auth::mint(API_KEY, API_SECRET, parlor_proto::unix_now(), 300);
    let r = reqwest::Client::new()
        .get(format!(
            "{}/v2/project/{API_KEY}/session/{sid}/stream",
            server.url
        ))
        .header("X-OPENTOK-AUTH", jwt)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry_after, body)
}

fn limit_reason(e: &ClientError) -> Option<&str> {
    match e {
        ClientError::Server {
            code: ErrorCode::LimitExceeded,
            reason,
            ..
        } => reason.as_deref(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_requests_over_a_credentials_rate_get_429_and_other_credentials_are_served() {
    let server = Server::start_configured(&["--rest-rate-limit", "2"]);
    let (sid, _) = server.session_with_tokens(&[]).await;
    // 2 a second with bursts of 4: of 30 requests sent at once, 4 pass, and about 2 more
    // for every second the 30 take (a busy machine may stretch them).
    let started = std::time::Instant::now();
    let answers =
        futures_util::future::join_all((0..30).map(|_| list_streams(&server, &sid))).await;
    let allowed = 4 + (started.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    let mut passed = 0;
    let mut refused = Vec::new();
    for answer in answers {
        match answer {
            (200, _, _) => passed += 1,
            (429, retry_after, body) => refused.push((retry_after, body)),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(
        (4..=allowed).contains(&passed),
        "{passed} passed, {allowed} allowed"
    );
    assert!(!refused.is_empty());
    let (retry_after, body) = &refused[0];
    assert_eq!(
        retry_after.as_deref(),
        Some("1"),
        "Retry-After in whole seconds"
    );
    assert_eq!(body["code"], 429);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("rate limit exceeded for project {API_KEY}"))
            && message.contains("at most 2 requests per second"),
        "{message}"
    );

    // The Rust SDK's error carries the message (it meets the limit within a few calls).
    let sdk = server.sdk();
    let mut sdk_error = None;
    for _ in 0..20 {
        if let Err(e) = sdk.list_streams(&sid).await {
            sdk_error = Some(e.to_string());
            break;
        }
    }
    let e = sdk_error.expect("the SDK met the limit");
    assert!(e.contains("rate limit exceeded"), "{e}");

    // Another credential (a Vonage application on the same server) has its own allowance.
    let app = server.cli_json(&["app", "create", "--name", "other", "--json"]);
    let other = parlor_sdk::Parlor::with_application(
        app["applicationId"].as_str().unwrap(),
        app["privateKey"].as_str().unwrap(),
        &server.url,
    )
    .unwrap();
    let other_session = other
        .create_session(parlor_sdk::SessionOptions::default())
        .await
        .expect("another credential is served");
    other
        .list_streams(&other_session.session_id)
        .await
        .expect("and again");

    // Once the wait is over, the project is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(list_streams(&server, &sid).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_over_a_connections_rate_are_refused_and_the_rest_is_unaffected() {
    let server = Server::start_configured(&["--signal-rate-limit", "2"]);
    let (_, [(flooder, _), (calm, _), (_watcher_session, mut watcher)]) = server
        .join([Role::Publisher, Role::Publisher, Role::Subscriber])
        .await;
    // 2 a second with bursts of 4: of 30 signals, 4 go through, and about 2 more for every
    // second the 30 take.
    let started = std::time::Instant::now();
    let mut sent = 0;
    let mut refused = Vec::new();
    for i in 0..30 {
        match flooder.signal(None, "flood", &sent.to_string()).await {
            Ok(()) => sent += 1,
            Err(e) => refused.push((i, e)),
        }
    }
    let allowed = 4 + (started.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    assert!(
        (4..=allowed).contains(&sent),
        "{sent} went through, {allowed} allowed"
    );
    assert_eq!(refused.len(), 30 - sent);
    for (_, e) in &refused {
        assert_eq!(limit_reason(e), Some("rate_limited"), "{e}");
    }
    let message = refused[0].1.to_string();
    assert!(
        message.contains("at most 2 signals per second per connection")
            && message.contains("retry after"),
        "{message}"
    );
    // Exactly the accepted signals reached the others, in order.
    for i in 0..sent {
        let got = expect_event(
            &mut watcher,
            5,
            "an accepted signal",
            |m| matches!(m, ServerMessage::Signal { signal_type, .. } if signal_type == "flood"),
        )
        .await;
        let ServerMessage::Signal { data, .. } = got else {
            unreachable!()
        };
        assert_eq!(data, i.to_string());
    }
    // Another connection of the same session has its own allowance, and the flooder's
    // connection stays usable: its other requests pass, and signals again after a while.
    calm.signal(None, "calm", "1").await.unwrap();
    flooder.ping().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    flooder.signal(None, "later", "").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_refuses_the_next_connection_and_other_sessions_are_served() {
    let server = Server::start_configured(&["--max-connections-per-session", "2"]);
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher, Role::Publisher])
        .await;
    let (first, _) = server.connect(&sid, &tokens[0]).await;
    let (_second, _) = server.connect(&sid, &tokens[1]).await;
    let Err(e) = Session::connect(&server.url, &sid, &tokens[2]).await else {
        panic!("the third connection is refused");
    };
    assert_eq!(limit_reason(&e), Some("session_full"), "{e}");
    assert!(e.to_string().contains("the session is full"), "{e}");

    // Another session is not affected.
    let (_, [(_other, _)]) = server.join([Role::Publisher]).await;

    // A place that frees up is taken again.
    first.disconnect().await;
    let mut joined = None;
    for _ in 0..50 {
        if let Ok(s) = Session::connect(&server.url, &sid, &tokens[2]).await {
            joined = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(joined.is_some(), "no place after a client left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_subscriptions_over_a_sessions_caps_are_refused() {
    let server = Server::start_configured(&[
        "--max-streams-per-session",
        "1",
        "--max-subscriptions-per-session",
        "1",
    ]);
    let (_, [(a, _), (b, _), (c, _), (d, _)]) = server
        .join([
            Role::Publisher,
            Role::Publisher,
            Role::Subscriber,
            Role::Subscriber,
        ])
        .await;
    let publisher = publish_connected(&a, PublishOptions::default()).await;
    let Err(e) = b.publish(PublishOptions::default()).await else {
        panic!("a second stream is refused");
    };
    assert_eq!(limit_reason(&e), Some("stream_limit"), "{e}");

    let mut first = c
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut first).await;
    let Err(e) = d
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
    else {
        panic!("a second subscription is refused");
    };
    assert_eq!(limit_reason(&e), Some("subscription_limit"), "{e}");
    assert!(e.to_string().contains("1 subscriptions"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_nacks_everything_is_resent_at_most_its_budget() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let mut publisher = common::publish_files(&server, &tokens[0], 8, "nacked");
    common::wait_streams(&server, &sid, 1).await;
    let (b, _) = server.connect(&sid, &tokens[1]).await;
    let streams = server.sdk().list_streams(&sid).await.unwrap();
    // Half of every packet is lost, retransmissions included: the subscriber NACKs the
    // same packets over and over.
    let options = SubscribeOptions {
        drop_rate: 0.5,
        drop_retransmissions: true,
        count_only: true,
        ..Default::default()
    };
    let mut sub = b.subscribe(&streams[0].id, options).await.unwrap();
    wait_subscribed(&mut sub).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stats = server.stats().await;
    let router = &stats["router"];
    let forwarded = router["rtpForwardedDirect"].as_u64().unwrap();
    let resent = router["retransmissions"].as_u64().unwrap();
    let refused = router["retransmissionsRefused"].as_u64().unwrap();
    eprintln!("forwarded {forwarded}, resent {resent}, refused {refused}");
    assert!(forwarded > 200, "{stats}");
    assert!(refused > 0, "the budget was never reached: {stats}");
    // A quarter of what it is sent (audio counted too, so this is generous), plus the
    // starting burst.
    assert!(
        resent as f64 <= forwarded as f64 * 0.25 + 100.0,
        "resent {resent} for {forwarded} forwarded"
    );
    let _ = publisher.kill();
    let _ = publisher.wait();
}

#[test]
fn the_server_refuses_to_start_with_a_weak_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args(["serve", "--listen", "127.0.0.1:0", "--media-port", "0"])
        .args(["--api-key", API_KEY, "--api-secret", "secretsecretsecret"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing a weak API secret: it has fewer than 8 different characters")
            && stderr.contains("openssl rand -hex 20"),
        "{stderr}"
    );
    // Nothing was created: no project was stored with it.
    assert!(
        !dir.path().join("parlor.db").exists() || {
            let db = rusqlite::Connection::open(dir.path().join("parlor.db")).unwrap();
            db.query_row("SELECT count(*) FROM projects", [], |r| r.get::<_, i64>(0))
                .unwrap_or(0)
                == 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_never_sends_connect_is_closed() {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::start();
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url().as_str())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut error = None;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => error = Some(t.to_string()),
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 4008);
    assert_eq!(close.reason.as_str(), "connect timeout");
    let error = error.expect("an error message before the close");
    assert!(
        error.contains("notConnected") && error.contains("within 10 s"),
        "{error}"
    );
    assert!(started.elapsed() >= Duration::from_secs(9), "closed early");
}
