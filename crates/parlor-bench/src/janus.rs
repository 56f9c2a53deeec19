//! Janus (Debian's `janus` package, videoroom plugin) as the system under test, driven
//! through its HTTP API with the same WebRTC clients (str0m) as Parlor.
//!
//! The bench writes a minimal configuration (HTTP transport on loopback, the videoroom
//! plugin only, ICE on the loopback interface), starts `janus` pinned to one core, and
//! stops it at the end. One Janus session per client, as a browser would have; events are
//! read with the HTTP long poll.

use std::collections::HashMap;
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use parlor_client::peer::Direction;
use parlor_client::peer::{self, Peer, PeerOffer};
use parlor_client::{PeerSender, ReceiveStats};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const PLUGINS: &str = "/usr/lib/x86_64-linux-gnu/janus/plugins";
const TRANSPORTS: &str = "/usr/lib/x86_64-linux-gnu/janus/transports";

pub struct JanusSut {
    child: Child,
    base: String,
    http: reqwest::Client,
    dir: std::path::PathBuf,
    next_room: std::sync::atomic::AtomicU64,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn transaction() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl JanusSut {
    /// Starts `janus` with a generated configuration, on CPU `cpu` if given.
    pub async fn start(cpu: Option<usize>) -> anyhow::Result<JanusSut> {
        if !std::path::Path::new("/usr/bin/janus").exists() {
            bail!("janus is not installed (apt-get install janus)");
        }
        let dir = std::env::temp_dir().join(format!("parlor-bench-janus-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let disabled_plugins = std::fs::read_dir(PLUGINS)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".so") && !n.contains("videoroom"))
            .collect::<Vec<_>>()
            .join(",");
        let disabled_transports = std::fs::read_dir(TRANSPORTS)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".so") && !n.contains("http"))
            .collect::<Vec<_>>()
            .join(",");
        std::fs::write(
            dir.join("janus.jcfg"),
            format!(
                r#"general: {{
    configs_folder = "{d}"
    plugins_folder = "{PLUGINS}"
    transports_folder = "{TRANSPORTS}"
    debug_level = 2
    session_timeout = 120
}}
media: {{
    rtp_port_range = "30000-60000"
}}
nat: {{
    ice_enforce_list = "lo"
    nice_debug = false
}}
plugins: {{
    disable = "{disabled_plugins}"
}}
transports: {{
    disable = "{disabled_transports}"
}}
events: {{
    broadcast = false
}}
"#,
                d = dir.display()
            ),
        )?;
        std::fs::write(
            dir.join("janus.transport.http.jcfg"),
            format!(
                "general: {{\n    json = \"compact\"\n    base_path = \"/janus\"\n    http = true\n    port = {port}\n    ip = \"127.0.0.1\"\n    https = false\n}}\nadmin: {{\n    admin_http = false\n}}\n"
            ),
        )?;
        std::fs::write(
            dir.join("janus.plugin.videoroom.jcfg"),
            "general: {\n    string_ids = false\n}\n",
        )?;
        let mut cmd = match cpu {
            Some(c) => {
                let mut t = Command::new("taskset");
                t.args(["-c", &c.to_string(), "janus"]);
                t
            }
            None => Command::new("janus"),
        };
        let child = cmd
            .arg(format!("--config={}", dir.join("janus.jcfg").display()))
            .arg(format!("--configs-folder={}", dir.display()))
            .args(["--disable-colors", "--debug-level=2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start janus")?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()?;
        let base = format!("http://127.0.0.1:{port}/janus");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = http.get(format!("{base}/info")).send().await
                && r.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("janus did not start its HTTP API on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(JanusSut {
            child,
            base,
            http,
            dir,
            next_room: std::sync::atomic::AtomicU64::new(1000),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn client(&self) -> anyhow::Result<JanusClient> {
        JanusClient::new(self.http.clone(), self.base.clone()).await
    }

    pub async fn new_room(&self) -> anyhow::Result<String> {
        let room = self
            .next_room
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let c = self.client().await?;
        let h = c.attach().await?;
        let r = c
            .message(
                h,
                json!({"request": "create", "room": room, "publishers": 1000, "bitrate": 0,
                               "audiocodec": "opus", "videocodec": "vp8"}),
                None,
            )
            .await?;
        let created = r
            .pointer("/plugindata/data/videoroom")
            .and_then(Value::as_str);
        if created != Some("created") {
            bail!("janus did not create the room: {r}");
        }
        Ok(room.to_string())
    }

    /// A client: a Janus session (joining proper happens when it publishes).
    pub async fn join(&self, room: &str) -> anyhow::Result<(JanusClient, Duration)> {
        let t = Instant::now();
        let mut c = self.client().await?;
        c.room = room.parse()?;
        // Joining a videoroom needs a role; a "join" is the session plus its first handle.
        let h = c.attach().await?;
        c.spare = Some(h);
        Ok((c, t.elapsed()))
    }
}

impl Drop for JanusSut {
    fn drop(&mut self) {
        crate::procfs::stop(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Handlers = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Value>>>>;

/// One Janus session: its handles' asynchronous events arrive through the long poll.
pub struct JanusClient {
    http: reqwest::Client,
    base: String,
    session: u64,
    room: u64,
    spare: Option<u64>,
    handlers: Handlers,
    events: Mutex<HashMap<u64, mpsc::UnboundedReceiver<Value>>>,
    poller: tokio::task::JoinHandle<()>,
}

impl Drop for JanusClient {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

impl JanusClient {
    async fn new(http: reqwest::Client, base: String) -> anyhow::Result<JanusClient> {
        let r: Value = http
            .post(&base)
            .json(&json!({"janus": "create", "transaction": transaction()}))
            .send()
            .await?
            .json()
            .await?;
        let session = r
            .pointer("/data/id")
            .and_then(Value::as_u64)
            .context("no session id")?;
        let handlers: Handlers = Arc::new(Mutex::new(HashMap::new()));
        let poller = tokio::spawn(poll(
            http.clone(),
            format!("{base}/{session}"),
            handlers.clone(),
        ));
        Ok(JanusClient {
            http,
            base,
            session,
            room: 0,
            spare: None,
            handlers,
            events: Mutex::new(HashMap::new()),
            poller,
        })
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let r: Value = self
            .http
            .post(format!("{}/{}{path}", self.base, self.session))
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        if r["janus"] == "error" {
            bail!("janus error: {r}");
        }
        Ok(r)
    }

    async fn attach(&self) -> anyhow::Result<u64> {
        let r = self
            .post("", json!({"janus": "attach", "plugin": "janus.plugin.videoroom", "transaction": transaction()}))
            .await?;
        let handle = r
            .pointer("/data/id")
            .and_then(Value::as_u64)
            .context("no handle id")?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.handlers
            .lock()
            .expect("not poisoned")
            .insert(handle, tx);
        self.events.lock().expect("not poisoned").insert(handle, rx);
        Ok(handle)
    }

    async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut m = json!({"janus": "message", "body": body, "transaction": transaction()});
        if let Some(j) = jsep {
            m["jsep"] = j;
        }
        self.post(&format!("/{handle}"), m).await
    }

    /// Waits for an event on `handle` whose videoroom field is one of `kinds`.
    async fn event(&self, handle: u64, kinds: &[&str]) -> anyhow::Result<Value> {
        let mut rx = self
            .events
            .lock()
            .expect("not poisoned")
            .remove(&handle)
            .context("unknown handle")?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let found = loop {
            let ev = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .context("timed out waiting for a janus event")?
                .context("janus session closed")?;
            let kind = ev
                .pointer("/plugindata/data/videoroom")
                .and_then(Value::as_str);
            if let Some(err) = ev.pointer("/plugindata/data/error") {
                bail!("janus videoroom error: {err}");
            }
            if kind.is_some_and(|k| kinds.contains(&k)) {
                break ev;
            }
        };
        self.events.lock().expect("not poisoned").insert(handle, rx);
        Ok(found)
    }

    /// The address our peers use: Janus gathers no candidates on a loopback interface,
    /// so the bench runs Janus in a network namespace of its own where a veth interface
    /// holds a loopback-range address (see `netns`).
    fn media_ip(&self) -> IpAddr {
        crate::netns::MEDIA_IP
    }

    /// Publishes into the room; returns the feed ID and the media writer.
    pub async fn publish(&self, audio: bool, video: bool) -> anyhow::Result<(String, PeerSender)> {
        let handle = match self.spare {
            Some(h) => h,
            None => self.attach().await?,
        };
        let mut kinds = Vec::new();
        if audio {
            kinds.push(parlor_client::MediaKind::Audio);
        }
        if video {
            kinds.push(parlor_client::MediaKind::Video);
        }
        let offer = PeerOffer::new(self.media_ip(), true, &kinds, Direction::SendOnly).await?;
        let sdp = offer.offer.clone();
        self.message(
            handle,
            json!({"request": "joinandconfigure", "room": self.room, "ptype": "publisher",
                   "display": "bench", "audio": audio, "video": video}),
            Some(json!({"type": "offer", "sdp": sdp})),
        )
        .await?;
        let joined = self.event(handle, &["joined"]).await?;
        let answer = joined
            .pointer("/jsep/sdp")
            .and_then(Value::as_str)
            .context("janus answered without SDP")?;
        let feed = joined
            .pointer("/plugindata/data/id")
            .and_then(Value::as_u64)
            .context("no feed id")?;
        tracing::debug!(%answer, "janus publisher answer");
        let mut peer = offer.start(answer, 0.0, None)?;
        peer.wait_connected(Duration::from_secs(15)).await?;
        let sender = PeerSender::new(&peer, None);
        keep_alive(peer);
        Ok((feed.to_string(), sender))
    }

    /// Subscribes to a feed: Janus offers, the client answers.
    pub async fn subscribe(&self, feed: &str) -> anyhow::Result<JanusSubscription> {
        let handle = self.attach().await?;
        let feed: u64 = feed.parse()?;
        self.message(
            handle,
            json!({"request": "join", "room": self.room, "ptype": "subscriber", "streams": [{"feed": feed}]}),
            None,
        )
        .await?;
        let attached = self.event(handle, &["attached"]).await?;
        let offer = attached
            .pointer("/jsep/sdp")
            .and_then(Value::as_str)
            .context("janus offered without SDP")?;
        let (peer, answer) = peer::answer(self.media_ip(), true, offer, 0.0).await?;
        self.message(
            handle,
            json!({"request": "start"}),
            Some(json!({"type": "answer", "sdp": answer})),
        )
        .await?;
        let stats = peer.stats();
        keep_alive(peer);
        Ok(JanusSubscription { stats })
    }
}

/// Keeps a peer's task running, consuming its events.
fn keep_alive(mut peer: Peer) {
    tokio::spawn(async move { while peer.next_event().await.is_some() {} });
}

/// The long poll of one session: routes events to their handles.
async fn poll(http: reqwest::Client, url: String, handlers: Handlers) {
    loop {
        let Ok(r) = http.get(format!("{url}?maxev=20")).send().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(v) = r.json::<Value>().await else {
            continue;
        };
        let events = match v {
            Value::Array(a) => a,
            other => vec![other],
        };
        for ev in events {
            if let Some(sender) = ev.get("sender").and_then(Value::as_u64)
                && let Some(tx) = handlers.lock().expect("not poisoned").get(&sender)
            {
                let _ = tx.send(ev);
            }
        }
    }
}

/// A subscription to a Janus feed.
pub struct JanusSubscription {
    stats: Arc<ReceiveStats>,
}

impl JanusSubscription {
    pub fn stats(&self) -> Arc<ReceiveStats> {
        self.stats.clone()
    }
}
