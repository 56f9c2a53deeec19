//! The REST API against a real `parlor serve`: authentication of every kind, session
//! creation with every option, bad input, and the Rust SDK end to end.

mod common;

use common::{API_KEY, API_SECRET, Server};
use parlor_proto::project_auth;
use parlor_sdk::{ArchiveMode, MediaMode, Role, SessionOptions, TokenFormat, TokenOptions};
use reqwest::StatusCode;
use serde_json::Value;

fn now() -> i64 {
    parlor_proto::unix_now()
}

fn auth() -> String {
    project_auth::mint(API_KEY, API_SECRET, now(), 300)
}

/// Sends a request and returns status, exact content type and JSON body.
async fn call(
    method: reqwest::Method,
    url: String,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, String, Value) {
    let mut req = reqwest::Client::new().request(method, url).body(body);
    if let Some(a) = auth {
        req = req.header("X-OPENTOK-AUTH", a);
    }
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, ct, json)
}

async fn create(server: &Server, auth: Option<&str>, form: &str) -> (StatusCode, String, Value) {
    call(
        reqwest::Method::POST,
        format!("{}/session/create", server.url),
        auth,
        Some("application/x-www-form-urlencoded"),
        form.to_owned(),
    )
    .await
}

fn sign(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn every_bad_credential_is_refused_with_its_reason() {
    let server = Server::start();
    let t = now();
    let cases: Vec<(Option<String>, StatusCode, &str)> = vec![
        (None, StatusCode::UNAUTHORIZED, "missing X-OPENTOK-AUTH"),
        (Some("not-a-jwt".into()), StatusCode::FORBIDDEN, "malformed"),
        (
            Some(sign(
                serde_json::json!({"iss": API_KEY, "ist": "project", "iat": t, "exp": t + 60}),
                "wrong-secret",
            )),
            StatusCode::FORBIDDEN,
            "signature",
        ),
        (
            Some(project_auth::mint(API_KEY, API_SECRET, t - 3600, 300)),
            StatusCode::FORBIDDEN,
            "expired",
        ),
        (
            Some(sign(
                serde_json::json!({"iss": API_KEY, "ist": "account", "iat": t, "exp": t + 60}),
                API_SECRET,
            )),
            StatusCode::FORBIDDEN,
            "'ist'",
        ),
        (
            Some(project_auth::mint("999", API_SECRET, t, 300)),
            StatusCode::FORBIDDEN,
            "unknown API key",
        ),
        (
            Some(project_auth::mint(API_KEY, API_SECRET, t + 3600, 300)),
            StatusCode::FORBIDDEN,
            "future",
        ),
    ];
    for (token, status, needle) in cases {
        let (got, ct, body) = create(&server, token.as_deref(), "").await;
        assert_eq!(got, status, "{needle}: {body}");
        assert_eq!(ct, "application/json");
        assert_eq!(body["code"], status.as_u16());
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

#[tokio::test]
async fn sessions_are_created_with_every_option_and_bad_values_refused() {
    let server = Server::start();
    let a = auth();
    let (status, ct, body) = create(
        &server,
        Some(&a),
        "archiveMode=always&p2p.preference=disabled&location=10.0.0.7&e2ee=false\
         &archiveName=Daily+standup&archiveResolution=1280x720",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ct, "application/json");
    let created = &body[0];
    assert_eq!(created["project_id"], API_KEY);
    assert_eq!(created["partner_id"], API_KEY);
    assert!(created["create_dt"].as_str().unwrap().contains("UTC"));
    let sid = created["session_id"].as_str().unwrap();
    assert_eq!(
        parlor_proto::session_id::decode(sid).unwrap().api_key,
        API_KEY
    );

    let out = server
        .parlor_cmd()
        .args(["session", "show", sid])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stored["mediaMode"], "routed");
    assert_eq!(stored["archiveMode"], "always");
    assert_eq!(stored["location"], "10.0.0.7");
    assert_eq!(stored["archiveName"], "Daily standup");
    assert_eq!(stored["archiveResolution"], "1280x720");

    // Python sends application/json with an empty body on some calls: that is `{}`.
    let (status, _, body) = call(
        reqwest::Method::POST,
        format!("{}/session/create", server.url),
        Some(&a),
        Some("application/json"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sid = body[0]["session_id"].as_str().unwrap().to_owned();
    let out = server
        .parlor_cmd()
        .args(["session", "show", &sid])
        .output()
        .unwrap();
    let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        stored["mediaMode"], "relayed",
        "OpenTok's default p2p.preference"
    );
    assert_eq!(stored["e2ee"], false);

    let bad = [
        ("archiveMode=sometimes", "archiveMode"),
        ("p2p.preference=maybe", "p2p.preference"),
        ("location=300.1.1.1", "IPv4"),
        ("location=::1", "IPv4"),
        ("e2ee=yes", "e2ee"),
        ("archiveMode=always", "routed"),
        (
            "p2p.preference=disabled&archiveName=x",
            "archiveMode 'always'",
        ),
        (
            "p2p.preference=disabled&archiveMode=always&archiveResolution=1x1",
            "1280x720",
        ),
        (
            "p2p.preference=disabled&archiveMode=always&archiveName=",
            "1 to 80",
        ),
        ("e2ee=true", "routed"),
        (
            "p2p.preference=disabled&archiveMode=always&e2ee=true",
            "e2ee",
        ),
        ("archiveMode=manual&archiveMode=always", "twice"),
    ];
    for (form, needle) in bad {
        let (status, ct, body) = create(&server, Some(&a), form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert_eq!(ct, "application/json");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{form}: {message:?} lacks {needle:?}"
        );
    }

    let (status, _, body) = call(
        reqwest::Method::POST,
        format!("{}/session/create", server.url),
        Some(&a),
        Some("application/json"),
        "{not json",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let huge = format!("archiveName={}", "x".repeat(100_000));
    let (status, ct, body) = create(&server, Some(&a), &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(ct, "application/json");
}

#[tokio::test]
async fn unknown_paths_methods_other_projects_and_unbuilt_features() {
    let server = Server::start();
    let a = auth();
    let get = |path: &str, auth: Option<String>| {
        let url = format!("{}{path}", server.url);
        async move { call(reqwest::Method::GET, url, auth.as_deref(), None, "").await }
    };
    let (status, _, body) = get("/nope", Some(a.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, body) = get("/session/create", Some(a.clone())).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");

    let (status, _, body) = get("/v2/project/999/archive", Some(a.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap().contains("999"));

    let (status, _, body) = get(&format!("/v2/project/{API_KEY}/archive"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let (status, ct, body) = get(&format!("/v2/project/{API_KEY}/captions"), Some(a.clone())).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
    assert_eq!(ct, "application/json");
    assert!(body["message"].as_str().unwrap().contains("captions"));

    let (status, _, body) = get(&format!("/v2/project/{API_KEY}/nothing"), Some(a)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, _, body) = get("/health", None).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &Value::from("ok"))
    );
}

#[tokio::test]
async fn rust_sdk_creates_sessions_and_its_tokens_verify() {
    let mut server = Server::start();
    let sdk = server.sdk();
    let session = sdk
        .create_session(SessionOptions {
            media_mode: MediaMode::Routed,
            archive_mode: ArchiveMode::Always,
            archive_resolution: Some("640x480".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(session.project_id, API_KEY);

    for format in [TokenFormat::Jwt, TokenFormat::T1] {
        for role in Role::ALL {
            let token = sdk
                .generate_token(
                    &session.session_id,
                    TokenOptions {
                        role,
                        data: Some("name=Ann".into()),
                        initial_layout_class_list: vec!["focus".into()],
                        format,
                        ..Default::default()
                    },
                )
                .unwrap();
            let out = server
                .parlor_cmd()
                .args(["token", "verify", &token, "--session", &session.session_id])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let grant: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(grant["valid"], true);
            assert_eq!(grant["role"], role.as_str());
            assert_eq!(grant["format"], format.as_str());
            assert_eq!(grant["data"], "name=Ann");
            assert_eq!(grant["initialLayoutClassList"][0], "focus");
        }
    }

    let wrong = parlor_sdk::Parlor::new(API_KEY, "ffffffffffffffffffff", &server.url).unwrap();
    match wrong.create_session(SessionOptions::default()).await {
        Err(parlor_sdk::Error::Auth {
            status: 403,
            message,
        }) => {
            assert!(message.contains("signature"), "{message}")
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(server.stop(), "graceful shutdown exits 0");
}

#[tokio::test]
async fn cli_creates_sessions_and_mints_tokens_from_stored_credentials() {
    // No credentials given: the server creates a project and prints it once.
    let server = Server::start_with(&[]);
    let out = server
        .parlor_cmd()
        .args(["session", "create", "--url", &server.url, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sid = created["sessionId"].as_str().unwrap();

    let out = server
        .parlor_cmd()
        .args([
            "token",
            sid,
            "--role",
            "moderator",
            "--ttl",
            "60",
            "--data",
            "x y",
        ])
        .args(["--format", "t1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(token.starts_with("T1=="));
    let out = server
        .parlor_cmd()
        .args(["token", "verify", token.trim()])
        .output()
        .unwrap();
    let grant: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (grant["role"].as_str(), grant["data"].as_str()),
        (Some("moderator"), Some("x y"))
    );
    let ttl = grant["expireTime"].as_i64().unwrap() - now();
    assert!((55..=60).contains(&ttl), "{ttl}");

    // A refused token: exit 1, the reason as JSON and on stderr.
    let other = parlor_proto::session_id::generate(created["projectId"].as_str().unwrap(), None, 1);
    let out = server
        .parlor_cmd()
        .args(["token", "verify", token.trim(), "--session", &other])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let refusal: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(refusal["reason"], "wrong_session");
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong_session"));

    let out = server
        .parlor_cmd()
        .args(["token", "1_garbage"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("session ID"));
}
