//! External TURN (`--turn-url`, `--turn-secret`): every client is handed the servers in its
//! `connected` reply, TURN credentials minted for its connection as coturn's
//! `use-auth-secret` checks them; none when no TURN is configured; bad settings stop the
//! start with a clear error. (tests/browser/turn.test.mjs runs calls through a real coturn.)

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{API_KEY, API_SECRET, Server};
use futures_util::{SinkExt as _, StreamExt as _};
use parlor_sdk::Role;
use tokio_tungstenite::tungstenite::Message;

const TURN_SECRET: &str = "c0turn-shared-7d41e9a05b3f2c68";

/// Connects with a raw WebSocket; the `connected` reply as JSON.
async fn connected(server: &Server, sid: &str, token: &str) -> serde_json::Value {
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url().as_str())
        .await
        .unwrap();
    let connect =
        serde_json::json!({"type": "connect", "version": 1, "sessionId": sid, "token": token});
    ws.send(Message::text(connect.to_string())).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["type"], "connected", "{v}");
                return v;
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no connected reply: {other:?}"),
        }
    }
}

/// `base64(HMAC-SHA1(secret, username))`, computed here on its own.
fn hmac_sha1_b64(secret: &str, username: &str) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, username.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_carries_turn_servers_with_credentials_for_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let server = Server::start_logging(
        &[
            "--api-key",
            API_KEY,
            "--api-secret",
            API_SECRET,
            "--log",
            "trace",
            "--turn-url",
            "turn:192.0.2.7:3478?transport=udp,turn:192.0.2.7:3478?transport=tcp",
            "--turn-url",
            "stun:192.0.2.7:3478",
            "--turn-secret",
            TURN_SECRET,
            "--turn-credential-ttl",
            "2h",
        ],
        std::fs::File::create(&log_path).unwrap(),
    );
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let mut credentials = Vec::new();
    for token in &tokens {
        let before = parlor_proto::unix_now();
        let msg = connected(&server, &sid, token).await;
        let connection_id = msg["connection"]["connectionId"].as_str().unwrap();
        let servers = msg["iceServers"].as_array().expect("iceServers");
        assert_eq!(servers.len(), 2, "{servers:?}");
        let turn = &servers[0];
        assert_eq!(
            turn["urls"],
            serde_json::json!([
                "turn:192.0.2.7:3478?transport=udp",
                "turn:192.0.2.7:3478?transport=tcp"
            ])
        );
        let username = turn["username"].as_str().unwrap();
        let (expiry, user) = username.split_once(':').unwrap();
        assert_eq!(user, connection_id, "the username names the connection");
        let expiry: i64 = expiry.parse().unwrap();
        assert!(
            (before + 7200..=parlor_proto::unix_now() + 7200).contains(&expiry),
            "expires in 2 h: {expiry} (now {before})"
        );
        let credential = turn["credential"].as_str().unwrap();
        assert_eq!(credential, hmac_sha1_b64(TURN_SECRET, username));
        assert_ne!(
            credential,
            hmac_sha1_b64("another-secret-0123456789", username)
        );
        // STUN: an entry of its own, without credentials.
        assert_eq!(
            servers[1],
            serde_json::json!({"urls": ["stun:192.0.2.7:3478"]})
        );
        credentials.push(credential.to_owned());
    }
    assert_ne!(credentials[0], credentials[1], "each connection its own");

    // Neither the secret nor a minted password reaches the log, even at trace.
    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("turn:192.0.2.7:3478"),
        "the URLs are logged at start"
    );
    for secret in std::iter::once(TURN_SECRET.to_owned()).chain(credentials) {
        assert!(!log.contains(&secret), "a secret in the log: {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_turn_the_handshake_has_no_ice_servers() {
    let server = Server::start();
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let msg = connected(&server, &sid, &tokens[0]).await;
    assert!(msg.get("iceServers").is_none(), "{msg}");
    // The native client still parses the reply.
    let (_session, _events) = server.connect(&sid, &tokens[0]).await;

    // A STUN URL alone needs no secret, and has no credentials.
    let stun = Server::start_configured(&["--turn-url", "stun:192.0.2.7"]);
    let (sid, tokens) = stun.session_with_tokens(&[Role::Publisher]).await;
    let msg = connected(&stun, &sid, &tokens[0]).await;
    assert_eq!(
        msg["iceServers"],
        serde_json::json!([{"urls": ["stun:192.0.2.7"]}])
    );
}

#[test]
fn bad_turn_settings_stop_the_start_with_the_reason() {
    let data = tempfile::tempdir().unwrap();
    for (args, env, why) in [
        (
            &["--turn-url", "turn:192.0.2.7:3478"][..],
            None,
            "needs --turn-secret",
        ),
        (
            &["--turn-secret", TURN_SECRET][..],
            None,
            "no --turn-url is a turn: or turns: URL",
        ),
        (
            &[
                "--turn-url",
                "http://192.0.2.7",
                "--turn-secret",
                TURN_SECRET,
            ][..],
            None,
            "invalid --turn-url 'http://192.0.2.7': it must start with turn:, turns: or stun:",
        ),
        (
            &[
                "--turn-url",
                "turn:192.0.2.7:99999",
                "--turn-secret",
                TURN_SECRET,
            ][..],
            None,
            "the port must be 1 to 65535",
        ),
        (
            &[
                "--turn-url",
                "turn:192.0.2.7?transport=sctp",
                "--turn-secret",
                TURN_SECRET,
            ][..],
            None,
            "?transport=udp or ?transport=tcp",
        ),
        (
            &["--turn-url", "turn:192.0.2.7", "--turn-secret", "short"][..],
            None,
            "invalid --turn-secret",
        ),
        (
            &[
                "--turn-url",
                "turn:192.0.2.7",
                "--turn-credential-ttl",
                "30s",
            ][..],
            Some(("PARLOR_TURN_SECRET", TURN_SECRET)),
            "invalid --turn-credential-ttl '30s'",
        ),
        (
            &[][..],
            Some(("PARLOR_TURN_URL", "turn:192.0.2.7,turn:bad_host")),
            "invalid --turn-url 'turn:bad_host'",
        ),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_parlor"));
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--media-port",
            "0",
            "--data-dir",
        ])
        .arg(data.path())
        .args(args)
        .env_remove("PARLOR_TURN_SECRET")
        .env_remove("PARLOR_TURN_URL");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert!(
            !stderr.contains(TURN_SECRET),
            "the secret in an error: {stderr}"
        );
    }
}
