//! Secrets never reach the log. A whole session runs against a server logging at `trace`,
//! its most verbose level — REST calls with project and Vonage application JWTs (accepted and refused),
//! client tokens (accepted and refused), media, a signal, an archive and its signed
//! download URL — then every line of the server's log is searched for each secret.

mod common;

use std::time::Duration;

use common::{
    API_KEY, API_SECRET, Server, publish_connected, start_archive, stop_archive, wait_archive,
    wait_subscribed,
};
use parlor_client::{PublishOptions, Session, SubscribeOptions};
use parlor_sdk::Role;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Server::start_logging(
        &[
            "--api-key",
            API_KEY,
            "--api-secret",
            API_SECRET,
            "--log",
            "trace",
        ],
        log,
    );
    let mut secrets: Vec<(&str, String)> = vec![("the API secret", API_SECRET.to_owned())];

    // Client tokens: accepted, and one refused (its signature altered).
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber, Role::Moderator])
        .await;
    for t in &tokens {
        secrets.push(("a client token", t.clone()));
    }
    let (alice, _alice_events) = server.connect(&sid, &tokens[0]).await;
    let (bob, _bob_events) = server.connect(&sid, &tokens[1]).await;
    let publisher = publish_connected(&alice, PublishOptions::default()).await;
    let mut sub = bob
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    alice.signal(None, "chat", "hello").await.unwrap();
    let tampered = format!("{}A", tokens[2]);
    assert!(
        Session::connect(&server.url, &sid, &tampered)
            .await
            .is_err()
    );
    secrets.push(("a refused client token", tampered));

    // REST JWTs: accepted, and one signed with a wrong secret.
    let now = parlor_proto::unix_now();
    let jwt = parlor_proto::project_auth::mint(API_KEY, API_SECRET, now, 300);
    let wrong = parlor_proto::project_auth::mint(API_KEY, "wrongsecretwrongsecret00", now, 300);
    for (token, want) in [(&jwt, 200), (&wrong, 403)] {
        let r = reqwest::Client::new()
            .get(format!(
                "{}/v2/project/{API_KEY}/session/{sid}/stream",
                server.url
            ))
            .header("X-OPENTOK-AUTH", token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
    }
    secrets.push(("a REST JWT", jwt));
    secrets.push(("a refused REST JWT", wrong));

    // An archive and its signed download URL.
    let a = start_archive(
        &server,
        json!({"sessionId": sid, "outputMode": "individual"}),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_archive(&server, &id).await;
    let done = wait_archive(&server, &id).await;
    let url = done["url"].as_str().expect("a download URL").to_owned();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    let sig = url.split("sig=").nth(1).unwrap().split('&').next().unwrap();
    secrets.push(("a download URL's signature", sig.to_owned()));

    // A Vonage application: its private key and its Bearer JWTs.
    let app = server.cli_json(&["app", "create", "--name", "logs", "--json"]);
    let app_id = app["applicationId"].as_str().unwrap();
    let pem = app["privateKey"].as_str().unwrap();
    let key = parlor_proto::app_auth::PrivateKey::from_pem(pem).unwrap();
    let bearer = parlor_proto::app_auth::mint(app_id, &key, now, 300);
    let r = reqwest::Client::new()
        .post(format!("{}/session/create", server.url))
        .header("Authorization", format!("Bearer {bearer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    secrets.push(("a Vonage application JWT", bearer));
    for line in pem.lines().filter(|l| l.len() >= 40) {
        secrets.push(("a line of the application's private key", line.to_owned()));
    }

    // Rooms: the key:secret credential, join and refresh tokens (accepted, refreshed, sent
    // on a live connection, and a tampered one refused).
    let rooms = reqwest::Client::new();
    let bearer = format!("{API_KEY}:{API_SECRET}");
    let room: serde_json::Value = rooms
        .post(format!("{}/v2/rooms", server.url))
        .bearer_auth(&bearer)
        .json(&json!({"unique_name": "logs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room_id = room["data"]["id"].as_str().unwrap().to_owned();
    let t: serde_json::Value = rooms
        .post(format!(
            "{}/v2/rooms/{room_id}/actions/generate_join_client_token",
            server.url
        ))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let join = t["data"]["token"].as_str().unwrap().to_owned();
    let refresh = t["data"]["refresh_token"].as_str().unwrap().to_owned();
    let r: serde_json::Value = rooms
        .post(format!(
            "{}/v2/rooms/{room_id}/actions/refresh_client_token",
            server.url
        ))
        .bearer_auth(&bearer)
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed = r["data"]["token"].as_str().unwrap().to_owned();
    let (carol, _carol_events) = Session::join_room(&server.url, &room_id, &join, None)
        .await
        .unwrap();
    carol.update_token(&refreshed).await.unwrap();
    let tampered_join = format!("{join}A");
    assert!(
        Session::join_room(&server.url, &room_id, &tampered_join, None)
            .await
            .is_err()
    );
    carol.disconnect().await;
    secrets.push(("a Rooms join token", join));
    secrets.push(("a Rooms refresh token", refresh));
    secrets.push(("a refreshed Rooms join token", refreshed));
    secrets.push(("a refused Rooms join token", tampered_join));

    drop(sub);
    drop(publisher);
    alice.disconnect().await;
    bob.disconnect().await;
    assert!(server.stop(), "parlor serve did not stop cleanly");

    let text = std::fs::read_to_string(&log_path).unwrap();
    // The log is a real one: the session's events are in it.
    let lines = text.lines().count();
    assert!(lines > 20, "only {lines} log lines at trace level");
    assert!(text.contains("archive started"), "{text}");
    for (what, secret) in &secrets {
        let mut needles = vec![secret.as_str()];
        // A JWT's signature alone is a secret too.
        if secret.matches('.').count() == 2 {
            needles.push(secret.rsplit('.').next().unwrap());
        }
        for needle in needles {
            if let Some(line) = text.lines().find(|l| l.contains(needle)) {
                panic!("{what} appears in the log: {line}");
            }
        }
    }
    println!(
        "{lines} log lines at trace level, {} secrets searched",
        secrets.len()
    );
}
