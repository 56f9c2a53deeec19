//! Live streaming broadcasts end to end: real publishers (the native client, from
//! ffmpeg-made media) into a live server, the OpenTok broadcast REST API, HLS fetched
//! from Parlor's signed URL and RTMP received by real `ffmpeg -listen` servers started
//! here, everything checked with ffprobe; one receiver killed and brought back; bad input;
//! and a `kill -9` in the middle of a broadcast.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{API_KEY, Server, publish_files as publish, rest_call as call, wait_streams};
use parlor_sdk::Role;
use reqwest::Method;
use serde_json::{Value, json};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An RTMP server: ffmpeg listening on `port` for `/live/<key>`, writing what it receives
/// to `out` (FLV, copied).
fn rtmp_receiver(port: u16, key: &str, out: &Path) -> Child {
    Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-listen", "1", "-i"])
        .arg(format!("rtmp://127.0.0.1:{port}/live/{key}"))
        .args(["-c", "copy", "-f", "flv"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg (the RTMP receiver)")
}

fn ffprobe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_streams"])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `(codec, width, height)` of the video and the audio codec.
fn media_of(probe: &Value) -> (String, u64, u64, String) {
    let streams = probe["streams"].as_array().unwrap();
    let v = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap_or_else(|| panic!("no video in {probe}"));
    let a = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .unwrap_or_else(|| panic!("no audio in {probe}"));
    (
        v["codec_name"].as_str().unwrap().to_owned(),
        v["width"].as_u64().unwrap(),
        v["height"].as_u64().unwrap(),
        a["codec_name"].as_str().unwrap().to_owned(),
    )
}

async fn get_broadcast(server: &Server, id: &str) -> Value {
    let (status, b) = call(server, Method::GET, &format!("/broadcast/{id}"), None).await;
    assert_eq!(status, 200, "GET broadcast {id}: {b}");
    b
}

/// Polls a broadcast until `pred` holds (`secs` at most).
async fn wait_for(
    server: &Server,
    id: &str,
    secs: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let b = get_broadcast(server, id).await;
        if pred(&b) {
            return b;
        }
        assert!(Instant::now() < deadline, "{what}: still {b}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn target_status<'a>(b: &'a Value, id: &str) -> &'a str {
    b["broadcastUrls"]["rtmp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .and_then(|t| t["status"].as_str())
        .unwrap_or("")
}

/// The mean luma of the left and right halves of the frame at `at` seconds.
fn halves_luma(path: &Path, at: f64) -> (u8, u8) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-ss", &at.to_string(), "-i"])
        .arg(path)
        .args([
            "-frames:v",
            "1",
            "-vf",
            "scale=2:1:flags=area",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success() && out.stdout.len() == 2,
        "no frame at {at} s of {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.stdout[0], out.stdout[1])
}

fn file_len(p: &PathBuf) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_hls_and_two_rtmp_targets_and_survives_one_dropping() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let mut a = publish(&server, &tokens[0], 90, "cam-a");
    let mut b = publish(&server, &tokens[1], 90, "cam-b");
    wait_streams(&server, &sid, 2).await;

    let work = tempfile::tempdir().unwrap();
    let (port_1, port_2) = (free_port(), free_port());
    let (out_1, out_2) = (work.path().join("one.flv"), work.path().join("two.flv"));
    let mut rx_1 = rtmp_receiver(port_1, "one", &out_1);
    let mut rx_2 = rtmp_receiver(port_2, "two", &out_2);
    std::thread::sleep(Duration::from_millis(500));

    let (status, started) = call(
        &server,
        Method::POST,
        "/broadcast",
        Some(json!({
            "sessionId": sid,
            "outputs": {
                "hls": {"dvr": false, "lowLatency": true},
                "rtmp": [
                    {"id": "one", "serverUrl": format!("rtmp://127.0.0.1:{port_1}/live"), "streamName": "one"},
                    {"id": "two", "serverUrl": format!("rtmp://127.0.0.1:{port_2}/live/"), "streamName": "two"},
                ],
            },
            "resolution": "640x480",
            "maxDuration": 600,
            "layout": {"type": "bestFit"},
        })),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    assert_eq!(started["status"], "started");
    assert_eq!(started["sessionId"], sid);
    assert_eq!(started["resolution"], "640x480");
    assert_eq!(started["maxDuration"], 600);
    assert_eq!(started["streamMode"], "auto");
    assert_eq!(started["settings"]["hls"]["lowLatency"], true);
    assert_eq!(started["streams"].as_array().unwrap().len(), 2, "{started}");
    let hls = started["broadcastUrls"]["hls"].as_str().unwrap().to_owned();
    assert!(
        hls.starts_with(&server.url) && hls.ends_with("/index.m3u8"),
        "{hls}"
    );

    // A second broadcast of the session without its own tag: 409.
    let (status, body) = call(
        &server,
        Method::POST,
        "/broadcast",
        Some(json!({"sessionId": sid, "outputs": {"hls": {}}})),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Every output goes live.
    let live = wait_for(&server, &id, 30, "outputs live", |b| {
        b["broadcastUrls"]["hlsStatus"] == "live"
            && target_status(b, "one") == "live"
            && target_status(b, "two") == "live"
    })
    .await;
    assert_eq!(live["status"], "started");

    // HLS from the signed URL, with no credentials: a playlist of H.264 + AAC segments.
    let http = reqwest::Client::new();
    let r = http.get(&hls).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-cache")
    );
    let playlist = r.text().await.unwrap();
    assert!(playlist.starts_with("#EXTM3U"), "{playlist}");
    let segment = playlist
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no segment in {playlist}"))
        .to_owned();
    let seg_url = format!("{}/{segment}", hls.rsplit_once('/').unwrap().0);
    let seg = http.get(&seg_url).send().await.unwrap();
    assert_eq!(seg.status(), 200, "{seg_url}");
    let seg_path = work.path().join("segment.ts");
    std::fs::write(&seg_path, seg.bytes().await.unwrap()).unwrap();
    let (vcodec, w, h, acodec) = media_of(&ffprobe(&seg_path));
    assert_eq!(
        (vcodec.as_str(), w, h, acodec.as_str()),
        ("h264", 640, 480, "aac")
    );
    // A wrong signature, or a path outside the broadcast's files: nothing.
    let forged = hls.replacen(&id, "00000000-0000-4000-8000-000000000000", 1);
    assert_eq!(http.get(&forged).send().await.unwrap().status(), 404);
    let mut bad_sig = hls.clone();
    let at = bad_sig.len() - "/index.m3u8".len() - 1;
    bad_sig.replace_range(at..at + 1, if &hls[at..at + 1] == "0" { "1" } else { "0" });
    assert_eq!(http.get(&bad_sig).send().await.unwrap().status(), 404);
    let escape = format!("{}/..%2F..%2Fparlor.db", hls.rsplit_once('/').unwrap().0);
    assert_eq!(http.get(&escape).send().await.unwrap().status(), 404);

    // One receiver goes away: its target says error, the other stays live and keeps
    // receiving, and HLS goes on.
    rx_1.kill().unwrap();
    rx_1.wait().unwrap();
    wait_for(&server, &id, 20, "target one in error", |b| {
        target_status(b, "one") == "error"
    })
    .await;
    let two_before = file_len(&out_2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b_now = get_broadcast(&server, &id).await;
    assert_eq!(target_status(&b_now, "two"), "live", "{b_now}");
    assert_eq!(b_now["broadcastUrls"]["hlsStatus"], "live");
    assert!(
        file_len(&out_2) > two_before,
        "target two stopped receiving"
    );

    // It comes back on the same port: the target reconnects and is live again.
    let out_1b = work.path().join("one-again.flv");
    let mut rx_1b = rtmp_receiver(port_1, "one", &out_1b);
    wait_for(&server, &id, 45, "target one live again", |b| {
        target_status(b, "one") == "live"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Stop: every output ends; the playlist says so.
    let (status, stopped) = call(
        &server,
        Method::POST,
        &format!("/broadcast/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(target_status(&stopped, "one"), "ended");
    assert_eq!(stopped["broadcastUrls"]["hlsStatus"], "ended");
    let (status, again) = call(
        &server,
        Method::POST,
        &format!("/broadcast/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(status, 409, "{again}");
    let playlist = http.get(&hls).send().await.unwrap().text().await.unwrap();
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");

    // What the receivers got: H.264 + AAC at the broadcast's size.
    for (rx, out) in [(&mut rx_1b, &out_1b), (&mut rx_2, &out_2)] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while rx.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = rx.kill();
        let _ = rx.wait();
        let (vcodec, w, h, acodec) = media_of(&ffprobe(out));
        assert_eq!(
            (vcodec.as_str(), w, h, acodec.as_str()),
            ("h264", 640, 480, "aac"),
            "{}",
            out.display()
        );
    }
    // bestFit with two streams: each half shows a publisher's test pattern (black is
    // luma 16; the pattern, letterboxed in its half, averages far above it).
    let (left, right) = halves_luma(&out_2, 3.0);
    assert!(
        left > 40 && right > 40,
        "halves' luma {left}, {right}: a publisher is missing"
    );

    // Listed, by session.
    let (status, list) = call(
        &server,
        Method::GET,
        &format!("/broadcast?sessionId={sid}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["count"], 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    for p in [&mut a, &mut b] {
        p.kill().ok();
        p.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_broadcast_requests_get_specific_errors() {
    let server = Server::start();
    let (sid, _) = server.session_with_tokens(&[Role::Publisher]).await;
    let rtmp = |url: &str| json!([{"id": "x", "serverUrl": url, "streamName": "k"}]);
    let six: Vec<Value> = (0..6)
        .map(|i| json!({"id": format!("t{i}"), "serverUrl": "rtmp://127.0.0.1/live", "streamName": "k"}))
        .collect();
    let cases = [
        (
            json!({"outputs": {"hls": {}}}),
            400,
            "sessionId is required",
        ),
        (
            json!({"sessionId": "nope", "outputs": {"hls": {}}}),
            400,
            "not a valid session ID",
        ),
        (json!({"sessionId": sid}), 400, "outputs is required"),
        (
            json!({"sessionId": sid, "outputs": {}}),
            400,
            "outputs must have hls",
        ),
        (
            json!({"sessionId": sid, "outputs": {"hls": {"dvr": true, "lowLatency": true}}}),
            400,
            "both dvr and lowLatency",
        ),
        (
            json!({"sessionId": sid, "outputs": {"rtmp": six}}),
            400,
            "at most 5",
        ),
        (
            json!({"sessionId": sid, "outputs": {"rtmp": rtmp("file:///etc/passwd")}}),
            400,
            "rtmp:// or rtmps://",
        ),
        (
            json!({"sessionId": sid, "outputs": {"rtmp": rtmp("http://example.com/live")}}),
            400,
            "rtmp:// or rtmps://",
        ),
        (
            json!({"sessionId": sid, "outputs": {"rtmp": rtmp("rtmp://")}}),
            400,
            "rtmp:// or rtmps://",
        ),
        (
            json!({"sessionId": sid, "outputs": {"rtmp": rtmp("rtmp://:1935/live")}}),
            400,
            "rtmp:// or rtmps://",
        ),
        (
            json!({"sessionId": sid, "outputs": {"rtmp": [{"serverUrl": "rtmp://h/live", "streamName": "a b"}]}}),
            400,
            "streamName",
        ),
        (
            json!({"sessionId": sid, "outputs": {"rtmp": [{"id": "a", "serverUrl": "rtmp://h/l", "streamName": "k"}, {"id": "a", "serverUrl": "rtmp://h/l", "streamName": "k"}]}}),
            400,
            "unique",
        ),
        (
            json!({"sessionId": sid, "outputs": {"hls": {}}, "maxDuration": 59}),
            400,
            "maxDuration must be 60 to 36000",
        ),
        (
            json!({"sessionId": sid, "outputs": {"hls": {}}, "maxDuration": "long"}),
            400,
            "maxDuration must be",
        ),
        (
            json!({"sessionId": sid, "outputs": {"hls": {}}, "resolution": "800x600"}),
            400,
            "resolution must be one of",
        ),
        (
            json!({"sessionId": sid, "outputs": {"hls": {}}, "maxBitrate": 5}),
            400,
            "maxBitrate must be",
        ),
        (
            json!({"sessionId": sid, "outputs": {"hls": {}}, "streamMode": "some"}),
            400,
            "streamMode must be",
        ),
        (
            json!({"sessionId": sid, "outputs": {"hls": {}}, "layout": {"type": "nope"}}),
            400,
            "invalid layout",
        ),
        (
            json!({"sessionId": sid, "outputs": {"hls": {}}, "hasAudio": false, "hasVideo": false}),
            400,
            "audio, video or both",
        ),
    ];
    for (body, want, message) in cases {
        let (status, answer) = call(&server, Method::POST, "/broadcast", Some(body.clone())).await;
        assert_eq!(status, want, "{body} → {answer}");
        assert_eq!(answer["code"], want);
        assert!(
            answer["message"].as_str().unwrap().contains(message),
            "{body} → {answer}"
        );
    }
    // A session of another project, or none: 404.
    let other = parlor_proto::session_id::generate("99999999", None, 1_700_000_000_000);
    let (status, answer) = call(
        &server,
        Method::POST,
        "/broadcast",
        Some(json!({"sessionId": other, "outputs": {"hls": {}}})),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    // Unknown broadcasts.
    let unknown = "5a1e0a4c-0000-4000-8000-00000000b001";
    for (method, path) in [
        (Method::GET, format!("/broadcast/{unknown}")),
        (Method::POST, format!("/broadcast/{unknown}/stop")),
        (Method::GET, "/broadcast/not-a-uuid".to_owned()),
    ] {
        let (status, answer) = call(&server, method.clone(), &path, None).await;
        assert_eq!(status, 404, "{method} {path} → {answer}");
    }
    let (status, answer) = call(&server, Method::GET, "/broadcast?count=5000", None).await;
    assert_eq!(status, 400, "{answer}");

    // A running broadcast (HLS only, nobody publishing): manual-mode calls on an auto
    // broadcast are refused, a tagged second one is allowed, layout changes apply.
    let (status, first) = call(
        &server,
        Method::POST,
        "/broadcast",
        Some(json!({"sessionId": sid, "outputs": {"hls": {"dvr": true}}})),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let id = first["id"].as_str().unwrap();
    let (status, answer) = call(
        &server,
        Method::PATCH,
        &format!("/broadcast/{id}/streams"),
        Some(json!({"addStream": "5a1e0a4c-0000-4000-8000-00000000e001"})),
    )
    .await;
    assert_eq!(status, 405, "{answer}");
    let (status, answer) = call(
        &server,
        Method::PUT,
        &format!("/broadcast/{id}/layout"),
        Some(json!({"type": "pip"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["layout"]["type"], "pip");
    let (status, answer) = call(
        &server,
        Method::PUT,
        &format!("/broadcast/{id}/layout"),
        Some(json!({"type": "custom"})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, second) = call(
        &server,
        Method::POST,
        "/broadcast",
        Some(json!({"sessionId": sid, "outputs": {"hls": {}}, "multiBroadcastTag": "second", "streamMode": "manual"})),
    )
    .await;
    assert_eq!(status, 409, "an untagged broadcast runs: {second}");
    let (status, answer) = call(
        &server,
        Method::POST,
        &format!("/broadcast/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = call(
        &server,
        Method::PUT,
        &format!("/broadcast/{id}/layout"),
        Some(json!({"type": "pip"})),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_left_running_by_a_kill_9_is_stopped_at_restart() {
    let server = Server::start();
    let (sid, _) = server.session_with_tokens(&[Role::Publisher]).await;
    let (status, b) = call(
        &server,
        Method::POST,
        "/broadcast",
        Some(json!({"sessionId": sid, "outputs": {"hls": {}}})),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let hls_dir = server
        .data_dir
        .path()
        .join("broadcasts")
        .join(API_KEY)
        .join(&id);
    assert!(hls_dir.exists());
    let status = Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let keep = server.keep_data_dir();
    let server = Server::start_in(
        keep,
        &["--api-key", API_KEY, "--api-secret", common::API_SECRET],
    );
    let b = wait_for(&server, &id, 10, "stopped after the restart", |b| {
        b["status"] == "stopped"
    })
    .await;
    assert_eq!(b["reason"], "the server restarted");
    assert_eq!(b["broadcastUrls"]["hlsStatus"], "ended");
    // No ffmpeg of the killed server's broadcast is left behind with its files.
    let deadline = Instant::now() + Duration::from_secs(5);
    while hls_dir.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !hls_dir.exists(),
        "the dead broadcast's files were not removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtmps_target_must_present_a_trusted_certificate() {
    // A TLS server with a self-signed certificate: a man in the middle. Parlor must refuse
    // it before sending anything (the stream key travels in the RTMP connect).
    let work = tempfile::tempdir().unwrap();
    let (key, cert) = (work.path().join("k.pem"), work.path().join("c.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    // The man in the middle: a TLS server (rustls, with that certificate) counting the
    // bytes it is sent after a completed handshake.
    let tls = parlor_server::tls::ReloadingCert::new(parlor_server::config::TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    })
    .unwrap()
    .server_config()
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handshakes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (r, h) = (received.clone(), handshakes.clone());
    let mitm = tokio::spawn(async move {
        use tokio::io::AsyncReadExt as _;
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, r, h) = (acceptor.clone(), r.clone(), h.clone());
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(tcp).await else {
                    return;
                };
                h.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    r.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });

    let server = Server::start();
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let mut p = publish(&server, &tokens[0], 40, "cam");
    wait_streams(&server, &sid, 1).await;
    let (status, b) = call(
        &server,
        Method::POST,
        "/broadcast",
        Some(json!({"sessionId": sid, "outputs": {"rtmp": [
            {"id": "mitm", "serverUrl": format!("rtmps://127.0.0.1:{port}/live"), "streamName": "secret-key"}
        ]}})),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    wait_for(&server, &id, 20, "the untrusted target in error", |b| {
        target_status(b, "mitm") == "error"
    })
    .await;
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/broadcast/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    mitm.abort();
    p.kill().ok();
    p.wait().ok();
    let (got, done) = (
        received.load(std::sync::atomic::Ordering::Relaxed),
        handshakes.load(std::sync::atomic::Ordering::Relaxed),
    );
    // ffmpeg's GnuTLS checks the certificate once the handshake is done, so the server
    // may see handshakes; what matters is that nothing is sent over them.
    assert_eq!(
        got, 0,
        "the untrusted server received {got} bytes over {done} TLS sessions: the RTMP handshake went through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_starts_lists_describes_and_stops_a_broadcast() {
    let server = Server::start();
    let (sid, _) = server.session_with_tokens(&[Role::Publisher]).await;
    let url = server.url.clone();
    let api = [
        "--url",
        url.as_str(),
        "--api-key",
        API_KEY,
        "--api-secret",
        common::API_SECRET,
    ];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(api.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let args = with(&[
        "broadcast",
        "start",
        &sid,
        "--hls",
        "--low-latency",
        "--max-duration",
        "120",
        "--json",
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let b = server.cli_json(&args);
    let id = b["id"].as_str().unwrap().to_owned();
    assert_eq!(b["status"], "started");
    assert_eq!(b["maxDuration"], 120);
    assert!(
        b["broadcastUrls"]["hls"]
            .as_str()
            .unwrap()
            .ends_with("/index.m3u8")
    );

    // Text output: the ID alone on stdout for `start`; `get` describes the outputs.
    let out = server
        .parlor_cmd()
        .args(with(&["broadcast", "get", &id]))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("id: {id}")) && text.contains("hls: "),
        "{text}"
    );

    let args = with(&["broadcast", "list", "--session", &sid, "--json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let list = server.cli_json(&args);
    assert_eq!(list["count"], 1);
    // A second one without a tag: refused (exit 1, the server's reason on stderr).
    let out = server
        .parlor_cmd()
        .args(with(&[
            "broadcast",
            "start",
            &sid,
            "--rtmp",
            "rtmp://127.0.0.1:1/live/k",
        ]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already being broadcast"));
    // Bad arguments: exit 2 before any request.
    let out = server
        .parlor_cmd()
        .args(with(&["broadcast", "start", &sid]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let args = with(&["broadcast", "stop", &id, "--json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stopped = server.cli_json(&args);
    assert_eq!(stopped["status"], "stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_stop_at_max_duration_and_a_minute_after_the_session_emptied() {
    let server = Server::start();
    // One session with a publisher and the shortest maxDuration; one nobody is in.
    let (busy, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let (empty, _) = server.session_with_tokens(&[Role::Publisher]).await;
    let mut p = publish(&server, &tokens[0], 90, "cam");
    wait_streams(&server, &busy, 1).await;
    let start = |sid: String, max: u64| {
        let server = &server;
        async move {
            let (status, b) = call(
                server,
                Method::POST,
                "/broadcast",
                Some(json!({"sessionId": sid, "outputs": {"hls": {}}, "maxDuration": max})),
            )
            .await;
            assert_eq!(status, 200, "{b}");
            b["id"].as_str().unwrap().to_owned()
        }
    };
    let timed = start(busy, 60).await;
    let abandoned = start(empty, 3600).await;
    let t0 = Instant::now();
    let b = wait_for(&server, &timed, 75, "stopped at maxDuration", |b| {
        b["status"] == "stopped"
    })
    .await;
    assert_eq!(b["reason"], "maximum duration exceeded");
    assert!(
        t0.elapsed() >= Duration::from_secs(58),
        "stopped after {:?}",
        t0.elapsed()
    );
    let b = wait_for(
        &server,
        &abandoned,
        15,
        "stopped for want of clients",
        |b| b["status"] == "stopped",
    )
    .await;
    assert_eq!(b["reason"], "the session has had no client for 60 seconds");
    p.kill().ok();
    p.wait().ok();
}
