//! A real `parlor serve` process for integration tests: fresh data dir, free port, known
//! credentials; stopped with SIGTERM (and checked to exit cleanly) when dropped.

#![allow(dead_code)]

pub mod media;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use parlor_client::{
    PublishOptions, Publisher, ServerMessage, Session, Subscriber, SubscriberEvent,
};
use tokio::sync::mpsc::UnboundedReceiver;

/// A client's session events.
pub type Events = UnboundedReceiver<ServerMessage>;

pub const API_KEY: &str = "47001234";
pub const API_SECRET: &str = "00112233445566778899aabbccddeeff00112233";

pub struct Server {
    pub url: String,
    media: std::net::SocketAddr,
    media_tcp: Option<std::net::SocketAddr>,
    pub data_dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Server {
    pub fn start() -> Server {
        Self::start_configured(&[])
    }

    /// The test project's credentials ([`API_KEY`], [`API_SECRET`]) and `extra` flags.
    pub fn start_configured(extra: &[&str]) -> Server {
        let mut args = vec!["--api-key", API_KEY, "--api-secret", API_SECRET];
        args.extend_from_slice(extra);
        Self::start_with(&args)
    }

    pub fn start_with(extra: &[&str]) -> Server {
        Self::start_logging(extra, Stdio::inherit())
    }

    /// Like [`Server::start_with`], with the server's log (stderr) going to `log`.
    pub fn start_logging(extra: &[&str], log: impl Into<Stdio>) -> Server {
        Self::start_with_dir(tempfile::tempdir().unwrap(), extra, log.into())
    }

    /// Starts a server on an existing data dir (a restart).
    pub fn start_in(data_dir: tempfile::TempDir, extra: &[&str]) -> Server {
        Self::start_with_dir(data_dir, extra, Stdio::inherit())
    }

    /// Stops following the process (after a `kill -9`) and keeps its data dir.
    pub fn keep_data_dir(mut self) -> tempfile::TempDir {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let placeholder = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.data_dir, placeholder)
    }

    fn start_with_dir(data_dir: tempfile::TempDir, extra: &[&str], log: Stdio) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parlor"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--media-port",
                "0",
                "--data-dir",
            ])
            .arg(data_dir.path())
            .args(if extra.contains(&"--log") {
                &[][..]
            } else {
                &["--log", "warn"][..]
            })
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn parlor serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let mut media = None;
        let mut media_tcp = None;
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("server did not start; printed {seen:?}"));
            if let Some(addr) = line.strip_prefix("parlor media on udp://") {
                media = addr.parse().ok();
            }
            if let Some(addr) = line.strip_prefix("parlor media on tcp://") {
                media_tcp = addr.parse().ok();
            }
            if let Some(url) = line.strip_prefix("parlor listening on ") {
                break url.to_owned();
            }
            seen.push(line);
        };
        Server {
            url,
            media: media.expect("the server printed its media address"),
            media_tcp,
            data_dir,
            child: Some(child),
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The server's resident memory, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// The WebSocket signaling URL.
    pub fn ws_url(&self) -> String {
        self.url.replace("http://", "ws://") + "/v1/rtc"
    }

    /// The UDP media address.
    pub fn media_addr(&self) -> std::net::SocketAddr {
        self.media
    }

    /// The ICE-TCP media address, when the server offers one.
    pub fn media_tcp_addr(&self) -> Option<std::net::SocketAddr> {
        self.media_tcp
    }

    pub fn sdk(&self) -> parlor_sdk::Parlor {
        parlor_sdk::Parlor::new(API_KEY, API_SECRET, &self.url).unwrap()
    }

    pub fn parlor_cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_parlor"));
        cmd.env("PARLOR_DATA_DIR", self.data_dir.path());
        cmd
    }

    /// Runs `parlor <args>` on this server's data dir, expects success; its JSON output.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.parlor_cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "parlor {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Creates a session and mints a token per role (JWT).
    pub async fn session_with_tokens(&self, roles: &[parlor_sdk::Role]) -> (String, Vec<String>) {
        let sdk = self.sdk();
        let session = sdk
            .create_session(parlor_sdk::SessionOptions::default())
            .await
            .unwrap();
        let tokens = roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                sdk.generate_token(
                    &session.session_id,
                    parlor_sdk::TokenOptions {
                        role: *role,
                        data: Some(format!("client-{i}")),
                        ..Default::default()
                    },
                )
                .unwrap()
            })
            .collect();
        (session.session_id, tokens)
    }

    /// Connects a native client with `token`; its session and its events.
    pub async fn connect(&self, sid: &str, token: &str) -> (Session, Events) {
        Session::connect(&self.url, sid, token).await.unwrap()
    }

    /// Creates a session and connects a client per role, in order (tokens as
    /// [`Server::session_with_tokens`] mints them).
    pub async fn join<const N: usize>(
        &self,
        roles: [parlor_sdk::Role; N],
    ) -> (String, [(Session, Events); N]) {
        let (sid, tokens) = self.session_with_tokens(&roles).await;
        let mut clients = Vec::with_capacity(N);
        for token in &tokens {
            clients.push(self.connect(&sid, token).await);
        }
        let Ok(clients) = clients.try_into() else {
            unreachable!("one client per role")
        };
        (sid, clients)
    }

    /// `GET /v1/stats`.
    pub async fn stats(&self) -> serde_json::Value {
        self.sdk().stats().await.expect("GET /v1/stats")
    }

    /// Waits until the server holds no room, transport or route (everything released).
    pub async fn assert_released(&self) {
        let mut last = serde_json::Value::Null;
        for _ in 0..100 {
            last = self.stats().await;
            let zero = |p: &str| last.pointer(p).and_then(|v| v.as_u64()) == Some(0);
            if zero("/signaling/rooms")
                && zero("/signaling/transports")
                && zero("/router/transports")
                && zero("/router/routes")
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("server still holds state: {last}");
    }

    /// Sends SIGTERM and waits; returns whether the server exited with status 0.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits up to `secs` for the next event matching `pred` (earlier ones are skipped).
pub async fn expect_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<parlor_client::ServerMessage>,
    secs: u64,
    what: &str,
    pred: impl Fn(&parlor_client::ServerMessage) -> bool,
) -> parlor_client::ServerMessage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return ev,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("events closed while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Publishes with `options` and waits until the publisher's media is connected.
pub async fn publish_connected(session: &Session, options: PublishOptions) -> Publisher {
    let mut p = session.publish(options).await.unwrap();
    p.wait_connected().await.unwrap();
    p
}

/// Waits (10 s at most) for a subscriber's media to connect.
pub async fn wait_subscribed(s: &mut Subscriber) {
    match tokio::time::timeout(Duration::from_secs(10), s.next_event()).await {
        Ok(Some(SubscriberEvent::Connected)) => {}
        other => panic!("subscriber did not connect: {other:?}"),
    }
}

/// A REST call under `/v2/project/{key}` with a fresh project JWT: (status, JSON or Null).
pub async fn rest_call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let jwt = parlor_proto::project_auth::mint(API_KEY, API_SECRET, parlor_proto::unix_now(), 300);
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/v2/project/{API_KEY}{path}", server.url))
        .header("X-OPENTOK-AUTH", jwt);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// `POST /archive` with `body` (expects 200, and `started`: the answer to a start always
/// says so, even when the archive is paused right after); the archive.
pub async fn start_archive(server: &Server, body: serde_json::Value) -> serde_json::Value {
    let (status, a) = rest_call(server, reqwest::Method::POST, "/archive", Some(body)).await;
    assert_eq!(status, 200, "starting an archive: {a}");
    assert_eq!(a["status"], "started", "{a}");
    a
}

/// `POST /archive/{id}/stop` (expects 200); the archive.
pub async fn stop_archive(server: &Server, id: &str) -> serde_json::Value {
    let (status, a) = rest_call(
        server,
        reqwest::Method::POST,
        &format!("/archive/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(status, 200, "stopping archive {id}: {a}");
    a
}

/// Polls an archive until it leaves `started`/`paused`/`stopped` (2 minutes at most).
pub async fn wait_archive(server: &Server, id: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        let (status, a) = rest_call(
            server,
            reqwest::Method::GET,
            &format!("/archive/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "GET archive {id}: {a}");
        if !["started", "paused", "stopped"].contains(&a["status"].as_str().unwrap_or("")) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("archive {id} was still not finished after 2 minutes");
}

/// `parlor client publish` of the looping fixtures for `secs` seconds, as stream `name`.
pub fn publish_files(server: &Server, token: &str, secs: u32, name: &str) -> Child {
    let f = fixtures();
    Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args([
            "client",
            "publish",
            "--url",
            &server.url,
            "--token",
            token,
            "--loop",
        ])
        .arg("--video")
        .arg(&f.video_ivf)
        .arg("--audio")
        .arg(&f.audio_ogg)
        .args(["--duration", &secs.to_string(), "--name", name])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn parlor client publish")
}

/// Waits (10 s at most) until a session has `n` announced streams.
pub async fn wait_streams(server: &Server, sid: &str, n: usize) {
    for _ in 0..100 {
        if server.sdk().list_streams(sid).await.unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the session never had {n} streams");
}

/// The ffmpeg-made test media (made once per target directory).
pub fn fixtures() -> parlor_media::fixtures::Fixtures {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    parlor_media::fixtures::ensure(&dir).expect("ffmpeg fixtures")
}

/// The frames of an IVF file with their timestamps.
pub fn ivf_frames(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = parlor_media::ivf::IvfReader::new(std::io::BufReader::new(file)).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        frames.push((f.pts, f.data));
    }
    frames
}

/// The packets of an Ogg Opus file.
pub fn ogg_packets(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader =
        parlor_media::ogg_opus::OggOpusReader::new(std::io::BufReader::new(file)).unwrap();
    let mut packets = Vec::new();
    while let Some(p) = reader.next_packet().unwrap() {
        packets.push(p.data);
    }
    packets
}
