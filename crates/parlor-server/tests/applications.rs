//! Vonage applications against a real `parlor serve`: `parlor app` on the server's data
//! dir, the Rust SDK with `Parlor::with_application` (REST with `Authorization: Bearer`
//! RS256 JWTs, RS256 client tokens) and native clients joining with those tokens; every
//! refusal of a REST JWT and of a client token with its own reason; key rotation while the
//! server runs.

mod common;

use base64::Engine as _;
use common::{API_KEY, Server, expect_event, publish_connected};
use parlor_client::{PublishOptions, ServerMessage, Session};
use parlor_sdk::{Parlor, Role, TokenOptions};
use serde_json::{Value, json};

/// `parlor app <args>` on the server's data dir; its JSON output.
fn app_cli(server: &Server, args: &[&str]) -> Value {
    server.cli_json(&[&["app"], args].concat())
}

struct App {
    id: String,
    private_pem: String,
    key_id: String,
}

fn create_app(server: &Server) -> App {
    let v = app_cli(server, &["create", "--name", "test", "--json"]);
    App {
        id: v["applicationId"].as_str().unwrap().into(),
        private_pem: v["privateKey"].as_str().unwrap().into(),
        key_id: v["keyId"].as_str().unwrap().into(),
    }
}

fn now() -> i64 {
    parlor_proto::unix_now()
}

/// Signs any claims with any RSA key (PKCS#8 PEM), as a foreign SDK or an attacker would.
fn rs256(claims: Value, private_pem: &str, kid: Option<&str>) -> String {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_pem).unwrap();
    let der = key.to_pkcs1_der().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .unwrap()
}

fn forge(header: Value, claims: Value) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        e.encode(header.to_string()),
        e.encode(claims.to_string()),
        e.encode([7u8; 64])
    )
}

/// `GET /v2/project/{path_id}/session/{sid}/stream` with `Authorization: Bearer jwt`.
async fn bearer_call(server: &Server, path_id: &str, sid: &str, jwt: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!(
            "{}/v2/project/{path_id}/session/{sid}/stream",
            server.url
        ))
        .header("Authorization", format!("Bearer {jwt}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["message"].as_str().unwrap_or("").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_creates_sessions_mints_tokens_and_controls_them() {
    let server = Server::start();
    let app = create_app(&server);
    let sdk = Parlor::with_application(&app.id, &app.private_pem, &server.url).unwrap();
    let session = sdk.create_session(Default::default()).await.unwrap();
    let sid = session.session_id.clone();
    // The session ID carries the application ID in field 1, as OpenTok IDs carry the key.
    assert_eq!(
        parlor_proto::session_id::decode(&sid).unwrap().api_key,
        app.id
    );
    assert_eq!(session.project_id, app.id);

    // Every role joins with an application token.
    let mut clients = Vec::new();
    for role in [
        Role::Publisher,
        Role::Subscriber,
        Role::Moderator,
        Role::PublisherOnly,
    ] {
        let token = sdk
            .generate_token(
                &sid,
                TokenOptions {
                    role,
                    data: Some(format!("role={role}")),
                    ..Default::default()
                },
            )
            .unwrap();
        let (s, events) = Session::connect(&server.url, &sid, &token).await.unwrap();
        clients.push((s, events));
    }
    let (publisher_session, _) = &clients[0];
    let publisher = publish_connected(
        publisher_session,
        PublishOptions {
            name: "cam".into(),
            ..Default::default()
        },
    )
    .await;
    let stream_id = publisher.stream_id().to_owned();
    expect_event(&mut clients[1].1, 10, "streamCreated", |e| {
        matches!(e, ServerMessage::StreamCreated { .. })
    })
    .await;

    // Control calls with application credentials.
    let streams = sdk.list_streams(&sid).await.unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(sdk.get_stream(&sid, &stream_id).await.unwrap().name, "cam");
    sdk.signal(&sid, None, "news", "hello").await.unwrap();
    let ev = expect_event(&mut clients[1].1, 5, "signal", |e| {
        matches!(e, ServerMessage::Signal { .. })
    })
    .await;
    let ServerMessage::Signal { data, .. } = ev else {
        unreachable!()
    };
    assert_eq!(data, "hello");
    sdk.mute_stream(&sid, &stream_id).await.unwrap();
    sdk.mute_all(&sid, &[]).await.unwrap();
    sdk.disable_force_mute(&sid).await.unwrap();
    let victim = clients[1].0.connection_id().to_owned();
    sdk.force_disconnect(&sid, &victim).await.unwrap();
    expect_event(&mut clients[0].1, 5, "connectionDestroyed", |e| {
        matches!(e, ServerMessage::ConnectionDestroyed { .. })
    })
    .await;
    // Archives: the same REST surface for applications.
    let list = sdk.list_archives(Default::default()).await.unwrap();
    assert_eq!(list.count, 0);

    // An OpenTok project's credentials cannot act on the application's session, nor the
    // application's on the project's path.
    let opentok = server.sdk();
    let refused = opentok.list_streams(&sid).await.unwrap_err().to_string();
    assert!(refused.contains("in this project"), "{refused}");
    let jwt = parlor_proto::app_auth::mint(
        &app.id,
        &parlor_proto::app_auth::PrivateKey::from_pem(&app.private_pem).unwrap(),
        now(),
        900,
    );
    let (status, message) = bearer_call(&server, API_KEY, &sid, &jwt).await;
    assert_eq!(status, 403);
    assert!(message.contains("wrong_application"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_rest_jwt_has_its_reason() {
    let server = Server::start();
    let app = create_app(&server);
    let other = create_app(&server);
    let sdk = Parlor::with_application(&app.id, &app.private_pem, &server.url).unwrap();
    let sid = sdk
        .create_session(Default::default())
        .await
        .unwrap()
        .session_id;
    let t = now();
    let claims = |iat: i64, exp: i64| json!({"application_id": app.id, "iat": iat, "exp": exp, "jti": "5b1f0c1e-8a59-4d36-9a38-0b0f0f0f0f0f"});
    let good = rs256(claims(t, t + 900), &app.private_pem, None);
    assert_eq!(bearer_call(&server, &app.id, &sid, &good).await.0, 200);
    let with_kid = rs256(claims(t, t + 900), &app.private_pem, Some(&app.key_id));
    assert_eq!(bearer_call(&server, &app.id, &sid, &with_kid).await.0, 200);

    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims(t, t + 900),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    let cases: Vec<(&str, String)> = vec![
        (
            "alg_none",
            forge(json!({"alg": "none"}), claims(t, t + 900)),
        ),
        ("secret_signed_application", hs256),
        (
            "wrong_key_type",
            forge(json!({"alg": "ES256", "typ": "JWT"}), claims(t, t + 900)),
        ),
        (
            "unknown_application",
            rs256(
                json!({"application_id": "00000000-0000-4000-8000-000000000000", "iat": t, "exp": t + 900}),
                &app.private_pem,
                None,
            ),
        ),
        (
            "unknown_kid",
            rs256(
                claims(t, t + 900),
                &app.private_pem,
                Some("0123456789abcdef"),
            ),
        ),
        (
            "bad_signature",
            rs256(claims(t, t + 900), &other.private_pem, None),
        ),
        (
            "expired",
            rs256(claims(t - 2000, t - 1000), &app.private_pem, None),
        ),
        (
            "issued_in_future",
            rs256(claims(t + 1000, t + 1500), &app.private_pem, None),
        ),
        (
            "lifetime_too_long",
            rs256(claims(t, t + 3 * 86_400), &app.private_pem, None),
        ),
        (
            "missing_application_id",
            rs256(json!({"iat": t, "exp": t + 900}), &app.private_pem, None),
        ),
        (
            "client_token",
            sdk.generate_token(&sid, TokenOptions::default()).unwrap(),
        ),
    ];
    for (reason, jwt) in cases {
        let (status, message) = bearer_call(&server, &app.id, &sid, &jwt).await;
        assert_eq!(status, 403, "{reason}: {message}");
        assert!(
            message.ends_with(&format!("[{reason}]")),
            "{reason}: {message}"
        );
    }
    // Another application's valid JWT on this application's path.
    let theirs = rs256(
        json!({"application_id": other.id, "iat": t, "exp": t + 900}),
        &other.private_pem,
        None,
    );
    let (status, message) = bearer_call(&server, &app.id, &sid, &theirs).await;
    assert_eq!(status, 403);
    assert!(message.contains("[wrong_application]"), "{message}");
    // X-OPENTOK-AUTH (HS256) naming the application ID as its API key.
    let r = reqwest::Client::new()
        .post(format!("{}/session/create", server.url))
        .header(
            "X-OPENTOK-AUTH",
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &json!({"iss": app.id, "ist": "project", "iat": t, "exp": t + 300}),
                &jsonwebtoken::EncodingKey::from_secret(b"guess"),
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("has no API secret"));
    // No credentials: 401; a non-Bearer Authorization: 401.
    let r = reqwest::Client::new()
        .post(format!("{}/session/create", server.url))
        .header("Authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tokens_refused_with_their_reasons_and_keys_rotate_live() {
    let server = Server::start();
    let app = create_app(&server);
    let other = create_app(&server);
    let sdk = Parlor::with_application(&app.id, &app.private_pem, &server.url).unwrap();
    let other_sdk = Parlor::with_application(&other.id, &other.private_pem, &server.url).unwrap();
    let sid = sdk
        .create_session(Default::default())
        .await
        .unwrap()
        .session_id;
    let other_sid = other_sdk
        .create_session(Default::default())
        .await
        .unwrap()
        .session_id;
    let t = now();
    let body = |app_id: &str, session: &str, exp: i64| {
        json!({"application_id": app_id, "iat": t, "jti": "x", "exp": exp,
               "scope": "session.connect", "session_id": session, "role": "publisher",
               "initial_layout_class_list": "", "sub": "video",
               "acl": {"paths": {"/session/**": {}}}})
    };
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &body(&app.id, &sid, t + 60),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    let cases: Vec<(&str, String)> = vec![
        (
            "ok",
            rs256(body(&app.id, &sid, t + 60), &app.private_pem, None),
        ),
        (
            "expired",
            rs256(body(&app.id, &sid, t - 1), &app.private_pem, None),
        ),
        (
            "bad_signature",
            rs256(body(&app.id, &sid, t + 60), &other.private_pem, None),
        ),
        (
            "alg_none",
            forge(json!({"alg": "none"}), body(&app.id, &sid, t + 60)),
        ),
        ("secret_signed_application", hs256),
        (
            "wrong_key_type",
            forge(json!({"alg": "ES256"}), body(&app.id, &sid, t + 60)),
        ),
        (
            "unknown_kid",
            rs256(
                body(&app.id, &sid, t + 60),
                &app.private_pem,
                Some("ffffffffffffffff"),
            ),
        ),
        // Another application's token for this application's session.
        (
            "wrong_project",
            rs256(body(&other.id, &sid, t + 60), &other.private_pem, None),
        ),
        (
            "unknown_application",
            rs256(
                body("00000000-0000-4000-8000-000000000000", &sid, t + 60),
                &app.private_pem,
                None,
            ),
        ),
        (
            "rest_credential",
            rs256(
                json!({"application_id": app.id, "iat": t, "exp": t + 60}),
                &app.private_pem,
                None,
            ),
        ),
    ];
    for (reason, token) in &cases {
        let out = server
            .parlor_cmd()
            .args(["token", "verify", token, "--session", &sid])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let got = if v["valid"] == true {
            "ok"
        } else {
            v["reason"].as_str().unwrap()
        };
        assert_eq!(got, *reason, "{v}");
        // The signaling endpoint gives the same reason to a native client.
        let joined = Session::connect(&server.url, &sid, token).await;
        match (reason, joined) {
            (&"ok", Ok(_)) => {}
            (_, Err(e)) if *reason != "ok" => {
                assert!(e.to_string().contains(reason), "{reason}: {e}")
            }
            (_, other) => panic!("{reason}: {:?}", other.map(|_| ())),
        }
    }
    // `parlor token` mints application tokens offline from the private key file.
    let key_file = server.data_dir.path().join("app.key");
    std::fs::write(&key_file, &app.private_pem).unwrap();
    let out = server
        .parlor_cmd()
        .args([
            "token",
            &sid,
            "--role",
            "moderator",
            "--application-id",
            &app.id,
        ])
        .arg("--private-key")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (joined, _) = Session::connect(&server.url, &sid, &minted).await.unwrap();
    assert_eq!(joined.info().role, Role::Moderator);
    // The other application's own session is fine for its own token.
    let theirs = other_sdk
        .generate_token(&other_sid, TokenOptions::default())
        .unwrap();
    Session::connect(&server.url, &other_sid, &theirs)
        .await
        .unwrap();

    // Rotation while the server runs: add a key, both work; remove the old one.
    let added = app_cli(&server, &["add-key", &app.id, "--json"]);
    let new_pem = added["privateKey"].as_str().unwrap();
    let new_sdk = Parlor::with_application(&app.id, new_pem, &server.url).unwrap();
    new_sdk.list_streams(&sid).await.unwrap();
    sdk.list_streams(&sid).await.unwrap();
    let out = server
        .parlor_cmd()
        .args(["app", "remove-key", &app.id, &app.key_id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refused = sdk.list_streams(&sid).await.unwrap_err().to_string();
    assert!(refused.contains("bad_signature"), "{refused}");
    new_sdk.list_streams(&sid).await.unwrap();
    // The last key cannot be removed; listing shows one key.
    let new_key_id = added["keyId"].as_str().unwrap();
    let out = server
        .parlor_cmd()
        .args(["app", "remove-key", &app.id, new_key_id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only key"));
    let out = server
        .parlor_cmd()
        .args(["app", "list", "--json"])
        .output()
        .unwrap();
    let listed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mine = listed
        .iter()
        .find(|a| a["applicationId"] == app.id.as_str())
        .unwrap();
    assert_eq!(mine["keys"].as_array().unwrap().len(), 1);
    // Deleted: nothing it signs is accepted.
    let out = server
        .parlor_cmd()
        .args(["app", "delete", &app.id])
        .output()
        .unwrap();
    assert!(out.status.success());
    let refused = new_sdk.list_streams(&sid).await.unwrap_err().to_string();
    assert!(refused.contains("deleted_application"), "{refused}");
}

#[test]
fn app_create_registers_a_given_public_key_and_refuses_wrong_keys() {
    let dir = tempfile::tempdir().unwrap();
    let parlor = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_parlor"))
            .arg("app")
            .args(args)
            .env("PARLOR_DATA_DIR", dir.path())
            .output()
            .unwrap()
    };
    let key = dir.path().join("k.pem");
    let public = dir.path().join("k.pub");
    let ec = dir.path().join("ec.pub");
    let run = |cmd: &str| {
        assert!(
            std::process::Command::new("sh")
                .args(["-c", cmd])
                .status()
                .unwrap()
                .success()
        )
    };
    run(&format!(
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out {0} 2>/dev/null && openssl pkey -in {0} -pubout -out {1}",
        key.display(),
        public.display()
    ));
    run(&format!(
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkey -pubout -out {}",
        ec.display()
    ));
    let out = parlor(&["create", "--public-key", public.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v.get("privateKey").is_none(),
        "no private key when one is given"
    );
    let pem = std::fs::read_to_string(&key).unwrap();
    let private = parlor_proto::app_auth::PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(v["keyId"], private.public_key().id());
    for (file, why) in [(&ec, "must be RSA"), (&key, "private key")] {
        let out = parlor(&["create", "--public-key", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{err}");
    }
    // A generated private key written to a file with mode 0600, not printed.
    let out_file = dir.path().join("new.key");
    let out = parlor(&["create", "--private-key-out", out_file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("BEGIN"));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Listed: the two applications, never an OpenTok project.
    let out = parlor(&["list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}
