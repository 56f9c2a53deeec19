//! Parlor as the system under test: a `parlor serve` process pinned to one core.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use parlor_client::{PeerSender, PublishOptions, Session, SubscribeOptions, Subscriber};
use parlor_proto::signaling::{SimulcastLayer, VideoDimensions};
use parlor_sdk::{Parlor, Role, SessionOptions, TokenOptions};

/// The sizes `--simulcast` publishers declare for their three layers, lowest first.
const SIMULCAST_SIZES: [(u32, u32); 3] = [(320, 180), (640, 360), (1280, 720)];

const API_KEY: &str = "47001234";
const API_SECRET: &str = "0bedc8e883002744877652757e86b334d3a49219";

pub struct ParlorSut {
    child: Child,
    pub url: String,
    sdk: Parlor,
    _data: tempdir::Dir,
    /// How the clients' media reaches the router (`--media-transport`).
    media_transport: parlor_client::MediaTransport,
}

mod tempdir {
    /// A temporary directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl ParlorSut {
    /// Starts `parlor serve` from `bin`, on CPU `cpu` (taskset) if given.
    pub fn start(bin: &str, cpu: Option<usize>) -> anyhow::Result<ParlorSut> {
        Self::start_with(bin, cpu, &[])
    }

    /// [`ParlorSut::start`] with more flags for `parlor serve` (limits, timeouts).
    pub fn start_with(
        bin: &str,
        cpu: Option<usize>,
        extra: &[String],
    ) -> anyhow::Result<ParlorSut> {
        let dir = std::env::temp_dir().join(format!("parlor-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut cmd = match cpu {
            Some(c) => {
                let mut t = Command::new("taskset");
                t.args(["-c", &c.to_string(), bin]);
                t
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--media-port",
                "0",
                "--log",
                "warn",
            ])
            .args([
                "--api-key",
                API_KEY,
                "--api-secret",
                API_SECRET,
                "--data-dir",
            ])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {bin}"))?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .context("parlor serve exited before listening")??;
            if let Some(url) = line.strip_prefix("parlor listening on ") {
                break url.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let sdk = Parlor::new(API_KEY, API_SECRET, &url)?;
        Ok(ParlorSut {
            child,
            url,
            sdk,
            _data: tempdir::Dir(dir),
            media_transport: parlor_client::MediaTransport::Udp,
        })
    }

    /// Clients joining from now on send and receive media over `transport`.
    pub fn with_media_transport(mut self, transport: parlor_client::MediaTransport) -> Self {
        self.media_transport = transport;
        self
    }

    /// The server's data directory (its database, recordings).
    pub fn data_dir(&self) -> &std::path::Path {
        &self._data.0
    }

    /// The server SDK, authenticated as the bench's project.
    pub fn sdk(&self) -> &Parlor {
        &self.sdk
    }

    pub fn pid(&self) -> u32 {
        // With taskset, the pid is parlor's own (taskset execs it).
        self.child.id()
    }

    /// The media router's counters (`GET /v1/stats` → `router`).
    pub async fn router_counters(&self) -> anyhow::Result<serde_json::Value> {
        let stats = self.sdk.stats().await?;
        stats
            .get("router")
            .cloned()
            .context("/v1/stats has no router object")
    }

    pub async fn new_room(&self) -> anyhow::Result<String> {
        Ok(self
            .sdk
            .create_session(SessionOptions::default())
            .await?
            .session_id)
    }

    /// Joins a room; returns the client and the join time (connect → sessionConnected).
    pub async fn join(&self, room: &str) -> anyhow::Result<(Session, Duration)> {
        let token = self.sdk.generate_token(
            room,
            TokenOptions {
                role: Role::Publisher,
                ..Default::default()
            },
        )?;
        let t = Instant::now();
        let (session, mut events) = Session::connect(&self.url, room, &token).await?;
        let took = t.elapsed();
        session.set_media_transport(self.media_transport);
        // Events are not needed by the load generator: drain them.
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        Ok((session, took))
    }

    pub async fn publish(
        session: &Session,
        audio: bool,
        video: bool,
        simulcast: bool,
    ) -> anyhow::Result<(String, PeerSender)> {
        let layers = if simulcast {
            SIMULCAST_SIZES
                .iter()
                .map(|&(width, height)| SimulcastLayer {
                    width,
                    height,
                    max_frame_rate: None,
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut p = session
            .publish(PublishOptions {
                has_audio: audio,
                has_video: video,
                simulcast: layers,
                ..Default::default()
            })
            .await?;
        p.wait_connected().await?;
        let id = p.stream_id().to_owned();
        Ok((id, p.into_sender()))
    }

    pub async fn subscribe(
        session: &Session,
        stream: &str,
        audio: bool,
        video: bool,
        layer: Option<u8>,
    ) -> anyhow::Result<Subscriber> {
        let sub = session
            .subscribe(
                stream,
                SubscribeOptions {
                    audio,
                    video,
                    count_only: true,
                    ..Default::default()
                },
            )
            .await?;
        if let Some(l) = layer {
            let (width, height) = SIMULCAST_SIZES[usize::from(l).min(2)];
            sub.set_preferences(Some(VideoDimensions { width, height }), None)
                .await?;
        }
        Ok(sub)
    }
}

impl Drop for ParlorSut {
    fn drop(&mut self) {
        crate::procfs::stop(&mut self.child);
    }
}
