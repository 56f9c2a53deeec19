//! What operators read: `--log-format json` gives one JSON object a line.
//! (`/metrics` is checked with Prometheus's own parser in tests/compat/python/test_metrics.py.)

mod common;

use common::{API_KEY, API_SECRET, Server};
use parlor_sdk::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line() {
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
            "debug",
            "--log-format",
            "json",
        ],
        log,
    );
    // Something to log: a session, a client joining and leaving, a refused token.
    let (_, [(client, _)]) = server.join([Role::Publisher]).await;
    client.disconnect().await;
    let (sid, _) = server.session_with_tokens(&[]).await;
    let _ = parlor_client::Session::connect(&server.url, &sid, "not-a-token").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(server.stop(), "parlor serve exits cleanly");

    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 4, "{text}");
    let mut messages = Vec::new();
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["timestamp", "level", "target", "fields"] {
            assert!(v.get(key).is_some(), "no {key}: {line}");
        }
        messages.push(v["fields"]["message"].as_str().unwrap_or("").to_owned());
    }
    assert!(
        messages.iter().any(|m| m == "connection joined"),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m == "client token refused"),
        "{messages:?}"
    );
}
