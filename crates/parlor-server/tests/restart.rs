//! A crash and a restart: `kill -9` of `parlor serve` in the middle of a session. Clients
//! are told (they try to resume, and when the grace period runs out their connection ends
//! and requests fail), the database is intact, and after a restart on the same data
//! directory the project (its stored credentials) and the session are there: the same
//! tokens join again, publish and subscribe.

mod common;

use std::time::Duration;

use common::{API_KEY, API_SECRET, Server, expect_event, publish_connected, wait_subscribed};
use parlor_client::{ClientError, LinkState, PublishOptions, ServerMessage, SubscribeOptions};
use parlor_sdk::Role;

fn integrity(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_clients_are_told_and_everything_is_back_on_restart() {
    // A short grace, so that clients trying to resume give up soon.
    let server = Server::start_configured(&["--reconnect-grace", "2s"]);
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let (alice, mut alice_events) = server.connect(&sid, &tokens[0]).await;
    let (bob, mut bob_events) = server.connect(&sid, &tokens[1]).await;
    let _publisher = publish_connected(&alice, PublishOptions::default()).await;
    expect_event(&mut bob_events, 5, "streamCreated", |e| {
        matches!(e, ServerMessage::StreamCreated { .. })
    })
    .await;

    // kill -9.
    let (mut alice_link, mut bob_link) = (alice.link_state(), bob.link_state());
    let data_dir = server.keep_data_dir();
    // The clients are told: they try to resume at once, and when the grace runs out their
    // event streams end and requests fail.
    for (who, link) in [("alice", &mut alice_link), ("bob", &mut bob_link)] {
        let noticed = tokio::time::timeout(
            Duration::from_secs(5),
            link.wait_for(|s| *s != LinkState::Connected),
        )
        .await;
        assert!(noticed.is_ok(), "{who} did not notice the crash");
    }
    for (who, events) in [("alice", &mut alice_events), ("bob", &mut bob_events)] {
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            while events.recv().await.is_some() {}
        })
        .await;
        assert!(
            ended.is_ok(),
            "{who}'s connection did not end after the crash"
        );
    }
    let ping = tokio::time::timeout(Duration::from_secs(1), bob.ping()).await;
    assert!(
        matches!(ping, Ok(Err(ClientError::Closed))),
        "a request after the crash fails at once: {ping:?}"
    );
    // The database as the crash left it is intact.
    let db = data_dir.path().join("parlor.db");
    assert_eq!(integrity(&db), "ok");

    // Restart with no credentials given: the stored project is used.
    let server = Server::start_in(data_dir, &[]);
    let sdk = parlor_sdk::Parlor::new(API_KEY, API_SECRET, &server.url).unwrap();
    assert!(
        sdk.list_streams(&sid).await.unwrap().is_empty(),
        "the session is known, with nobody in it"
    );
    // The same tokens join the same session again.
    let (alice, _alice_events) = server.connect(&sid, &tokens[0]).await;
    let (bob, mut bob_events) = server.connect(&sid, &tokens[1]).await;
    let publisher = publish_connected(&alice, PublishOptions::default()).await;
    let stream_id = match expect_event(&mut bob_events, 5, "streamCreated", |e| {
        matches!(e, ServerMessage::StreamCreated { .. })
    })
    .await
    {
        ServerMessage::StreamCreated { stream } => stream.stream_id,
        other => unreachable!("{other:?}"),
    };
    assert_eq!(stream_id, publisher.stream_id());
    let mut sub = bob
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    drop(sub);
    drop(publisher);
    alice.disconnect().await;
    bob.disconnect().await;
    let db = server.data_dir.path().join("parlor.db");
    assert_eq!(integrity(&db), "ok");
}
