//! `parlor-bench abuse`: each abuse of the server's limits, and what a bystander session
//! feels while it runs.
//!
//! For every attack a fresh `parlor serve` (with the flags the attack needs) serves a
//! **bystander session**: one publisher sending real VP8 and Opus, one subscriber receiving
//! it (frames counted against what was sent, by RTP time), a signal round trip every
//! 100 ms (the subscriber's client signals the session and times its own signal coming
//! back) and a REST `GET` of the session's streams every 100 ms with the project's
//! credentials. It is measured for `--duration` seconds with no attack (baseline), then
//! for as long again while the attack runs from another session, another credential (a
//! Vonage application) or another source address (127.0.0.2). The attacker runs on its
//! own Tokio runtime, so its load cannot starve the bystander's tasks in this process.
//!
//! What it reports per attack: what the abuser got (each kind of reply or refusal,
//! counted), the bystander's frame loss, frames received, signal and REST round trips
//! (p50/p99/max, and how many got no answer) in both windows, and the server's CPU, RSS
//! and open file descriptors in both.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use parlor_client::{
    MediaKind, PeerSender, PublishOptions, ServerMessage, Session, SubscribeOptions,
    SubscriberEvent,
};
use parlor_proto::signaling::ClientMessage;
use parlor_sdk::{Parlor, Role, SessionOptions, TokenOptions};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::media::Media;
use crate::parlor::ParlorSut;
use crate::procfs;

/// Where the attacks that open their own TCP connections come from, so that a limit per
/// source address meets the attacker and not the bystander (127.0.0.1).
const ATTACKER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Probes of the bystander: one signal and one REST call this often.
const PROBE_EVERY: Duration = Duration::from_millis(100);

/// Video frames (30/s) and audio packets (50/s) the publishers send.
const VIDEO_FRAME: Duration = Duration::from_micros(33_333);
const AUDIO_PACKET: Duration = Duration::from_millis(20);

/// An attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attack {
    /// One connection of another session signals as fast as the server answers.
    SignalFlood,
    /// REST calls as fast as 8 keep-alive connections carry them, with another credential.
    RestFlood,
    /// Subscriptions in another session that drop half of what arrives, retransmissions
    /// too, so they NACK the same packets again and again.
    NackFlood,
    /// 100 connections into one other session (the server capped at 20 a session).
    SessionFill,
    /// TCP connections from one address beyond its cap (50 here).
    ConnectionFlood,
    /// Connections sending their headers a byte a second.
    Slowloris,
    /// A member of another session that never reads while its session signals it.
    NonReader,
    /// WebSocket messages over 1 MiB and over 64 KiB, REST bodies over 64 KiB.
    BigMessages,
}

impl Attack {
    pub const ALL: [Attack; 8] = [
        Attack::SignalFlood,
        Attack::RestFlood,
        Attack::NackFlood,
        Attack::SessionFill,
        Attack::ConnectionFlood,
        Attack::Slowloris,
        Attack::NonReader,
        Attack::BigMessages,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Attack::SignalFlood => "signal-flood",
            Attack::RestFlood => "rest-flood",
            Attack::NackFlood => "nack-flood",
            Attack::SessionFill => "session-fill",
            Attack::ConnectionFlood => "connection-flood",
            Attack::Slowloris => "slowloris",
            Attack::NonReader => "non-reader",
            Attack::BigMessages => "big-messages",
        }
    }

    /// Flags of `parlor serve` for this attack (the bystander is the same in every run).
    fn server_flags(self) -> Vec<&'static str> {
        match self {
            Attack::SessionFill => vec!["--max-connections-per-session", "20"],
            Attack::ConnectionFlood => vec!["--max-connections-per-ip", "50"],
            Attack::Slowloris => vec!["--http-header-timeout", "5"],
            _ => vec![],
        }
    }

    /// The limit the attack meets, as documented.
    fn limit(self) -> &'static str {
        match self {
            Attack::SignalFlood => {
                "--signal-rate-limit (per connection, default 50/s, burst 100): error limitExceeded, reason rate_limited"
            }
            Attack::RestFlood => {
                "--rest-rate-limit (per credential, default 100/s, burst 200): HTTP 429 with Retry-After"
            }
            Attack::NackFlood => {
                "retransmissions to a consumer capped at ~25 % of what is forwarded to it, plus a small burst"
            }
            Attack::SessionFill => {
                "--max-connections-per-session (20 here): error limitExceeded, reason session_full"
            }
            Attack::ConnectionFlood => {
                "--max-connections-per-ip (50 here): connections over the cap closed unread"
            }
            Attack::Slowloris => {
                "--http-header-timeout (5 s here; default 10 s): the connection is closed"
            }
            Attack::NonReader => {
                "a member's queue holds 4096 messages / 4 MiB: then disconnected (networkDisconnected)"
            }
            Attack::BigMessages => {
                "WebSocket frames over 1 MiB end the connection; messages over 64 KiB: limitExceeded; REST bodies over 64 KiB: 413"
            }
        }
    }
}

impl std::fmt::Display for Attack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the bystander saw in one window, and what the server cost.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub duration_s: f64,
    pub video_frames_sent: u64,
    pub video_frames_received: u64,
    pub audio_frames_sent: u64,
    pub audio_frames_received: u64,
    /// Frames (video and audio) sent in the window and never received, in %.
    pub loss_pct: f64,
    pub video_loss_pct: f64,
    pub audio_loss_pct: f64,
    /// How late the publisher's pump sent a video frame at worst (the load generator's own
    /// health: large values mean this process was starved, not the server).
    pub pump_late_max_ms: f64,
    pub signal_probes: u64,
    /// Probes that failed or whose signal did not come back.
    pub signal_unanswered: u64,
    pub signal_rtt_p50_ms: f64,
    pub signal_rtt_p99_ms: f64,
    pub signal_rtt_max_ms: f64,
    pub rest_probes: u64,
    pub rest_failed: u64,
    pub rest_rtt_p50_ms: f64,
    pub rest_rtt_p99_ms: f64,
    pub rest_rtt_max_ms: f64,
    /// The server's CPU over the window, in % of one core.
    pub server_cpu_pct: f64,
    pub server_rss_mib_max: f64,
    pub server_fds_max: usize,
}

/// One attack's results.
#[derive(Debug, Serialize)]
pub struct AttackReport {
    pub attack: Attack,
    pub limit: &'static str,
    /// Flags given to `parlor serve` for this run.
    pub server_flags: Vec<String>,
    /// Flags this attack wanted that the server does not know (left out).
    pub server_flags_unsupported: Vec<String>,
    /// What the abuser got: each kind of reply or refusal, counted.
    pub abuser: BTreeMap<String, u64>,
    /// Rates and ratios about the abuser.
    pub abuser_metrics: BTreeMap<String, f64>,
    pub notes: Vec<String>,
    /// The machine's 1-minute load average as the baseline and the attack ended (other
    /// work on the machine competes with the server and with the bystander).
    pub load_average: (f64, f64),
    pub baseline: Window,
    pub under_attack: Window,
}

/// What to run.
pub struct AbuseOptions {
    pub attacks: Vec<Attack>,
    pub duration: Duration,
    pub parlor_bin: String,
    pub media: Arc<Media>,
}

/// Runs every attack in `o` (one server each) and reports.
pub async fn run(o: AbuseOptions) -> anyhow::Result<Vec<AttackReport>> {
    let help = std::process::Command::new(&o.parlor_bin)
        .args(["serve", "--help"])
        .output()
        .with_context(|| format!("cannot run {} serve --help", o.parlor_bin))?;
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    // The attacker's own runtime: its load competes with the bystander for the CPU (as a
    // remote attacker's packets would for the server's), not for this process's workers.
    let attacker = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("abuse-attacker")
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    for &attack in &o.attacks {
        eprintln!("{attack}: starting");
        let r = run_one(attack, &o, &help, attacker.handle()).await;
        match r {
            Ok(r) => {
                print_report(&r);
                reports.push(r);
            }
            Err(e) => {
                attacker.shutdown_background();
                return Err(e.context(format!("attack {attack}")));
            }
        }
        // Let the last sockets and the server's ports go before the next run.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    attacker.shutdown_background();
    Ok(reports)
}

/// The server under attack, as the attacks see it.
struct Target {
    url: String,
    addr: SocketAddr,
    sdk: Parlor,
    data_dir: PathBuf,
    bin: String,
    /// What publishers send.
    media: Arc<Media>,
}

impl Target {
    fn token(&self, room: &str) -> anyhow::Result<String> {
        Ok(self.sdk.generate_token(
            room,
            TokenOptions {
                role: Role::Publisher,
                ..Default::default()
            },
        )?)
    }

    async fn new_room(&self) -> anyhow::Result<String> {
        Ok(self
            .sdk
            .create_session(SessionOptions::default())
            .await?
            .session_id)
    }
}

async fn run_one(
    attack: Attack,
    o: &AbuseOptions,
    help: &str,
    attacker: &tokio::runtime::Handle,
) -> anyhow::Result<AttackReport> {
    let mut flags = Vec::new();
    let mut unsupported = Vec::new();
    for pair in attack.server_flags().chunks(2) {
        // `--flag ` with the space: one flag's name may begin another's.
        if help.contains(&format!("{} ", pair[0])) {
            flags.extend(pair.iter().map(|s| s.to_string()));
        } else {
            unsupported.push(pair.join(" "));
        }
    }
    let sut = ParlorSut::start_with(&o.parlor_bin, None, &flags)?;
    let pid = sut.pid();
    let addr: SocketAddr = sut
        .url
        .trim_start_matches("http://")
        .parse()
        .context("the server's URL")?;
    let target = Arc::new(Target {
        url: sut.url.clone(),
        addr,
        sdk: sut.sdk().clone(),
        data_dir: sut.data_dir().to_owned(),
        bin: o.parlor_bin.clone(),
        media: o.media.clone(),
    });
    let server = ServerWatch::start(pid);
    let bystander = Bystander::start(target.clone(), o.media.clone()).await?;
    bystander.wait_media(Duration::from_secs(20)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let b0 = Instant::now();
    let cpu_b0 = procfs::cpu(pid)?;
    tokio::time::sleep(o.duration).await;
    let b1 = Instant::now();
    let cpu_b1 = procfs::cpu(pid)?;
    let load_b = load_average();

    let tally = Arc::new(Tally::default());
    let (go, ready, deadline_tx) = Go::new();
    let handle = attacker.spawn(run_attack(attack, target.clone(), tally.clone(), go));
    let abort = handle.abort_handle();
    if tokio::time::timeout(Duration::from_secs(90), ready)
        .await
        .map(|r| r.is_err())
        .unwrap_or(true)
    {
        abort.abort();
        let why = match handle.await {
            Ok(Err(e)) => format!("{e:#}"),
            Ok(Ok(())) => "it ended before it was ready".into(),
            Err(e) => e.to_string(),
        };
        anyhow::bail!("the attack's setup failed: {why}");
    }
    let a0 = Instant::now();
    let cpu_a0 = procfs::cpu(pid)?;
    let _ = deadline_tx.send(a0 + o.duration);
    tokio::time::sleep_until((a0 + o.duration).into()).await;
    let a1 = Instant::now();
    let cpu_a1 = procfs::cpu(pid)?;
    let load_a = load_average();
    match tokio::time::timeout(Duration::from_secs(15), handle).await {
        Err(_) => {
            abort.abort();
            tally.note("the attack did not stop within 15 s of its deadline: aborted".into());
        }
        Ok(Err(e)) => tally.note(format!("the attack's task failed: {e}")),
        Ok(Ok(Err(e))) => tally.note(format!("the attack ended with an error: {e:#}")),
        Ok(Ok(Ok(()))) => {}
    }
    // The last frames and probe answers of the window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if let Some(status) = sut_exited(pid) {
        tally.note(format!("the server exited: {status}"));
    }
    let baseline = bystander.window(b0, b1, &server, (cpu_b0, cpu_b1));
    let under_attack = bystander.window(a0, a1, &server, (cpu_a0, cpu_a1));
    bystander.stop().await;
    server.stop();
    drop(sut);
    Ok(AttackReport {
        attack,
        limit: attack.limit(),
        server_flags: flags,
        server_flags_unsupported: unsupported,
        abuser: lock(&tally.counts).clone(),
        abuser_metrics: lock(&tally.metrics).clone(),
        notes: lock(&tally.notes).clone(),
        load_average: (load_b, load_a),
        baseline,
        under_attack,
    })
}

/// The 1-minute load average (`/proc/loadavg`).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Whether the server's process is a zombie or gone (it should run until stopped).
fn sut_exited(pid: u32) -> Option<String> {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => Some("no longer in /proc".into()),
        Ok(s) => match s.rsplit_once(") ").and_then(|(_, r)| r.chars().next()) {
            Some('Z') => Some("zombie".into()),
            _ => None,
        },
    }
}

// ---------------------------------------------------------------------------------------
// Measuring: the server's resources and the bystander session.

#[derive(Clone, Copy)]
struct ServerSample {
    at: Instant,
    rss_mib: f64,
    fds: usize,
}

/// Samples the server's RSS and open file descriptors every 250 ms.
struct ServerWatch {
    samples: Arc<Mutex<Vec<ServerSample>>>,
    stop: watch::Sender<bool>,
}

impl ServerWatch {
    fn start(pid: u32) -> ServerWatch {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = watch::channel(false);
        let s = samples.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => return,
                }
                let Ok(rss) = procfs::rss_bytes(pid) else {
                    return;
                };
                let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
                    .map(|d| d.count())
                    .unwrap_or(0);
                lock(&s).push(ServerSample {
                    at: Instant::now(),
                    rss_mib: rss as f64 / (1024.0 * 1024.0),
                    fds,
                });
            }
        });
        ServerWatch { samples, stop }
    }

    fn max_in(&self, w0: Instant, w1: Instant) -> (f64, usize) {
        lock(&self.samples)
            .iter()
            .filter(|s| s.at >= w0 && s.at <= w1)
            .fold((0.0, 0), |(r, f), s| (s.rss_mib.max(r), s.fds.max(f)))
    }

    fn stop(self) {
        let _ = self.stop.send(true);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One probe: when it was sent and, if it came back, how long it took.
#[derive(Debug, Clone, Copy)]
struct Probe {
    sent: Instant,
    rtt_ms: Option<f64>,
}

/// Media sent by a pump: when frame 0 was due and how far it got.
#[derive(Default)]
struct Sent {
    video: AtomicU64,
    audio: AtomicU64,
    /// (video frame index, ms late) for frames sent more than 5 ms after they were due.
    late: Mutex<Vec<(u64, f64)>>,
}

/// Feeds `sender` 30 video frames and 50 audio packets a second from `start` on, with RTP
/// times that name each frame's index (video: index × 3000, audio: index × 960), until
/// `stop` turns true or the sender closes.
async fn pump(
    media: Arc<Media>,
    mut sender: PeerSender,
    start: Instant,
    sent: Arc<Sent>,
    mut stop: watch::Receiver<bool>,
) {
    let (mut v, mut a) = (0u64, 0u64);
    loop {
        let due_v = start + VIDEO_FRAME * v as u32;
        let due_a = start + AUDIO_PACKET * a as u32;
        let due = due_v.min(due_a);
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() || sender.is_closed() {
            return;
        }
        if due == due_v {
            let frame = &media.video[(v as usize) % media.video.len()];
            let _ = sender.send_video(frame, (v * 3000) as u32);
            let late = Instant::now().saturating_duration_since(due_v);
            if late > Duration::from_millis(5) {
                lock(&sent.late).push((v, late.as_secs_f64() * 1000.0));
            }
            v += 1;
            sent.video.store(v, Ordering::Relaxed);
        } else {
            let packet = &media.audio[(a as usize) % media.audio.len()];
            let _ = sender.send_audio(packet, (a * 960) as u32);
            a += 1;
            sent.audio.store(a, Ordering::Relaxed);
        }
    }
}

/// The bystander session: a publisher, a subscriber, and their probes.
struct Bystander {
    pump_start: Instant,
    sent: Arc<Sent>,
    video: Arc<Mutex<HashSet<u64>>>,
    audio: Arc<Mutex<HashSet<u64>>>,
    signals: Arc<Mutex<Vec<Probe>>>,
    rests: Arc<Mutex<Vec<Probe>>>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    sessions: Vec<Session>,
}

impl Bystander {
    async fn start(t: Arc<Target>, media: Arc<Media>) -> anyhow::Result<Bystander> {
        let room = t.new_room().await?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let (publisher, mut pub_events) = Session::connect(&t.url, &room, &t.token(&room)?).await?;
        tasks.spawn(async move { while pub_events.recv().await.is_some() {} });
        let mut p = publisher
            .publish(PublishOptions {
                has_audio: true,
                has_video: true,
                ..Default::default()
            })
            .await?;
        p.wait_connected().await?;
        let stream_id = p.stream_id().to_owned();
        let sent = Arc::new(Sent::default());
        let pump_start = Instant::now() + Duration::from_millis(20);
        tasks.spawn(pump(
            media,
            p.into_sender(),
            pump_start,
            sent.clone(),
            stopped.clone(),
        ));

        let (subscriber, mut sub_events) =
            Session::connect(&t.url, &room, &t.token(&room)?).await?;
        let mut sub = subscriber
            .subscribe(
                &stream_id,
                SubscribeOptions {
                    audio: true,
                    video: true,
                    ..Default::default()
                },
            )
            .await?;
        let video = Arc::new(Mutex::new(HashSet::new()));
        let audio = Arc::new(Mutex::new(HashSet::new()));
        let (v, a) = (video.clone(), audio.clone());
        tasks.spawn(async move {
            while let Some(e) = sub.next_event().await {
                match e {
                    SubscriberEvent::Frame(f) => {
                        let ts = f.rtp_time as u32;
                        match f.kind {
                            MediaKind::Video => lock(&v).insert(u64::from(ts / 3000)),
                            MediaKind::Audio => lock(&a).insert(u64::from(ts / 960)),
                        };
                    }
                    SubscriberEvent::Closed(_) => break,
                    SubscriberEvent::Connected => {}
                }
            }
        });

        // Signal probes: the subscriber's client signals the session; its own signal
        // coming back (the data is the probe's number) ends the round trip.
        let signals: Arc<Mutex<Vec<Probe>>> = Arc::new(Mutex::new(Vec::new()));
        let s = signals.clone();
        tasks.spawn(async move {
            while let Some(e) = sub_events.recv().await {
                if let ServerMessage::Signal {
                    signal_type, data, ..
                } = e
                    && signal_type == "probe"
                    && let Ok(i) = data.parse::<usize>()
                {
                    let mut probes = lock(&s);
                    if let Some(p) = probes.get_mut(i)
                        && p.rtt_ms.is_none()
                    {
                        p.rtt_ms = Some(p.sent.elapsed().as_secs_f64() * 1000.0);
                    }
                }
            }
        });
        let (s, session, mut stop_rx) = (signals.clone(), subscriber.clone(), stopped.clone());
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => return,
                }
                let i = {
                    let mut probes = lock(&s);
                    probes.push(Probe {
                        sent: Instant::now(),
                        rtt_ms: None,
                    });
                    probes.len() - 1
                };
                let session = session.clone();
                // Not awaited here: a slow answer must not slow the probing.
                tokio::spawn(async move {
                    let _ = session.signal(None, "probe", &i.to_string()).await;
                });
            }
        });

        // REST probes: the project's own credentials, a GET of the session's streams.
        let rests: Arc<Mutex<Vec<Probe>>> = Arc::new(Mutex::new(Vec::new()));
        let (r, sdk, room2, mut stop_rx) = (rests.clone(), t.sdk.clone(), room, stopped);
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => return,
                }
                let i = {
                    let mut probes = lock(&r);
                    probes.push(Probe {
                        sent: Instant::now(),
                        rtt_ms: None,
                    });
                    probes.len() - 1
                };
                let (r, sdk, room) = (r.clone(), sdk.clone(), room2.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    if sdk.list_streams(&room).await.is_ok() {
                        lock(&r)[i].rtt_ms = Some(t.elapsed().as_secs_f64() * 1000.0);
                    }
                });
            }
        });

        Ok(Bystander {
            pump_start,
            sent,
            video,
            audio,
            signals,
            rests,
            stop,
            tasks,
            sessions: vec![publisher, subscriber],
        })
    }

    /// Waits until video frames arrive.
    async fn wait_media(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while lock(&self.video).len() < 10 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the bystander's subscriber received no video within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Indices of frames due in `[w0, w1)` (every `every` from the pump's start).
    fn due(&self, w0: Instant, w1: Instant, every: Duration) -> std::ops::Range<u64> {
        let idx = |t: Instant| {
            let d = t.saturating_duration_since(self.pump_start).as_nanos();
            d.div_ceil(every.as_nanos()) as u64
        };
        idx(w0)..idx(w1)
    }

    fn window(
        &self,
        w0: Instant,
        w1: Instant,
        server: &ServerWatch,
        (cpu0, cpu1): (procfs::CpuSample, procfs::CpuSample),
    ) -> Window {
        let count = |set: &Mutex<HashSet<u64>>, range: &std::ops::Range<u64>, sent: u64| {
            let end = range.end.min(sent);
            let sent_n = end.saturating_sub(range.start);
            let set = lock(set);
            let got = (range.start..end).filter(|i| set.contains(i)).count() as u64;
            (sent_n, got)
        };
        let vr = self.due(w0, w1, VIDEO_FRAME);
        let ar = self.due(w0, w1, AUDIO_PACKET);
        let (vs, vg) = count(&self.video, &vr, self.sent.video.load(Ordering::Relaxed));
        let (as_, ag) = count(&self.audio, &ar, self.sent.audio.load(Ordering::Relaxed));
        let pct = |sent: u64, got: u64| {
            if sent == 0 {
                f64::NAN
            } else {
                (sent - got) as f64 / sent as f64 * 100.0
            }
        };
        let pump_late_max_ms = lock(&self.sent.late)
            .iter()
            .filter(|(i, _)| vr.contains(i))
            .map(|(_, ms)| *ms)
            .fold(0.0, f64::max);
        let probes = |v: &Mutex<Vec<Probe>>| {
            let v = lock(v);
            let inside: Vec<Probe> = v
                .iter()
                .filter(|p| p.sent >= w0 && p.sent < w1)
                .copied()
                .collect();
            let mut rtts: Vec<f64> = inside.iter().filter_map(|p| p.rtt_ms).collect();
            let n = inside.len() as u64;
            let missing = n - rtts.len() as u64;
            let p50 = procfs::percentile_ms(&mut rtts, 0.5);
            let p99 = procfs::percentile_ms(&mut rtts, 0.99);
            let max = rtts.last().copied().unwrap_or(f64::NAN);
            (n, missing, p50, p99, max)
        };
        let (sn, smiss, s50, s99, smax) = probes(&self.signals);
        let (rn, rmiss, r50, r99, rmax) = probes(&self.rests);
        let (rss, fds) = server.max_in(w0, w1);
        let wall = cpu1.at.duration_since(cpu0.at).as_secs_f64();
        Window {
            duration_s: w1.duration_since(w0).as_secs_f64(),
            video_frames_sent: vs,
            video_frames_received: vg,
            audio_frames_sent: as_,
            audio_frames_received: ag,
            loss_pct: pct(vs + as_, vg + ag),
            video_loss_pct: pct(vs, vg),
            audio_loss_pct: pct(as_, ag),
            pump_late_max_ms,
            signal_probes: sn,
            signal_unanswered: smiss,
            signal_rtt_p50_ms: s50,
            signal_rtt_p99_ms: s99,
            signal_rtt_max_ms: smax,
            rest_probes: rn,
            rest_failed: rmiss,
            rest_rtt_p50_ms: r50,
            rest_rtt_p99_ms: r99,
            rest_rtt_max_ms: rmax,
            server_cpu_pct: if wall > 0.0 {
                (cpu1.cpu_s - cpu0.cpu_s) / wall * 100.0
            } else {
                f64::NAN
            },
            server_rss_mib_max: rss,
            server_fds_max: fds,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.send(true);
        for s in &self.sessions {
            s.disconnect().await;
        }
        self.tasks.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------
// The attacks.

/// What the abuser got.
#[derive(Default)]
struct Tally {
    counts: Mutex<BTreeMap<String, u64>>,
    metrics: Mutex<BTreeMap<String, f64>>,
    notes: Mutex<Vec<String>>,
}

impl Tally {
    fn add(&self, what: impl Into<String>, n: u64) {
        *lock(&self.counts).entry(what.into()).or_default() += n;
    }

    fn metric(&self, what: &str, v: f64) {
        lock(&self.metrics).insert(what.to_owned(), v);
    }

    /// A note (the first 12 distinct ones are kept).
    fn note(&self, s: String) {
        let mut notes = lock(&self.notes);
        if notes.len() < 12 && !notes.contains(&s) {
            notes.push(s);
        }
    }

    fn count(&self, what: &str) -> u64 {
        lock(&self.counts).get(what).copied().unwrap_or(0)
    }
}

/// The attack's side of starting: it prepares, says it is ready, and learns its deadline.
struct Go {
    ready: oneshot::Sender<()>,
    deadline: oneshot::Receiver<Instant>,
}

impl Go {
    fn new() -> (Go, oneshot::Receiver<()>, oneshot::Sender<Instant>) {
        let (ready, ready_rx) = oneshot::channel();
        let (deadline_tx, deadline) = oneshot::channel();
        (Go { ready, deadline }, ready_rx, deadline_tx)
    }

    /// Ready: waits for the go and returns the deadline.
    async fn ready(self) -> anyhow::Result<Instant> {
        let _ = self.ready.send(());
        self.deadline.await.context("no deadline given")
    }
}

async fn run_attack(
    attack: Attack,
    t: Arc<Target>,
    tally: Arc<Tally>,
    go: Go,
) -> anyhow::Result<()> {
    match attack {
        Attack::SignalFlood => signal_flood(t, tally, go).await,
        Attack::RestFlood => rest_flood(t, tally, go).await,
        Attack::NackFlood => nack_flood(t, tally, go).await,
        Attack::SessionFill => session_fill(t, tally, go).await,
        Attack::ConnectionFlood => connection_flood(t, tally, go).await,
        Attack::Slowloris => slowloris(t, tally, go).await,
        Attack::NonReader => non_reader(t, tally, go).await,
        Attack::BigMessages => big_messages(t, tally, go).await,
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A TCP connection to `to` from the attacker's address.
async fn tcp_from_attacker(to: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let s = tokio::net::TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(IpAddr::V4(ATTACKER_IP), 0))?;
    s.connect(to).await
}

/// A signaling WebSocket from the attacker's address, not joined yet.
async fn ws_open(t: &Target) -> anyhow::Result<Ws> {
    let tcp = tcp_from_attacker(t.addr).await?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{}/v1/rtc", t.addr), tcp).await?;
    Ok(ws)
}

/// Opens a WebSocket and sends `connect` for `room`; returns the socket and the first
/// reply (`None` if the server closed instead).
async fn ws_join(t: &Target, room: &str) -> anyhow::Result<(Ws, Option<Value>)> {
    let token = t.token(room)?;
    let mut ws = ws_open(t).await?;
    let hello = json!({
        "type": "connect",
        "version": parlor_proto::signaling::VERSION,
        "sessionId": room,
        "token": token,
    });
    ws.send(Message::text(hello.to_string())).await?;
    let first = tokio::time::timeout(Duration::from_secs(15), next_json(&mut ws))
        .await
        .context("no reply to connect within 15 s")?;
    Ok((ws, first))
}

/// The next text message as JSON; `None` once the socket closed or broke.
async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// `code/reason` of an `error` message.
fn refusal(v: &Value) -> String {
    format!(
        "{}/{}",
        v["code"].as_str().unwrap_or("?"),
        v["reason"].as_str().unwrap_or("-")
    )
}

fn signal_message(id: u64, to: Option<&str>, data: &str) -> Message {
    let msg = ClientMessage::Signal {
        id: Some(id.to_string()),
        to: to.map(str::to_owned),
        signal_type: "flood".into(),
        data: data.to_owned(),
    };
    Message::text(serde_json::to_string(&msg).expect("client messages serialize"))
}

/// A stream of signals from one connection.
struct Flood<'a> {
    /// One connection, or the whole session.
    to: Option<&'a str>,
    data: &'a str,
    /// Signals sent and not answered yet, at most (the server refuses past 64).
    window: usize,
    deadline: Instant,
    tally: &'a Tally,
    /// What the replies are tallied under.
    label: &'a str,
}

/// Signals on `ws` as fast as the server answers until the deadline; tallies each reply.
/// Other messages go to `on_event`. Returns how many were sent.
async fn flood_signals(
    ws: Ws,
    f: Flood<'_>,
    mut on_event: impl FnMut(&Value),
) -> anyhow::Result<u64> {
    let Flood {
        to,
        data,
        window,
        deadline,
        tally,
        label,
    } = f;
    let (mut sink, mut stream) = ws.split();
    let (mut in_flight, mut sent) = (0usize, 0u64);
    let end = tokio::time::Instant::from_std(deadline);
    loop {
        while in_flight < window && Instant::now() < deadline {
            sent += 1;
            sink.feed(signal_message(sent, to, data)).await?;
            in_flight += 1;
        }
        sink.flush().await?;
        tokio::select! {
            m = stream.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                    match v["type"].as_str() {
                        Some("ok") => {
                            in_flight = in_flight.saturating_sub(1);
                            tally.add(format!("{label}: accepted"), 1);
                        }
                        Some("error") => {
                            in_flight = in_flight.saturating_sub(1);
                            let key = format!("{label}: refused {}", refusal(&v));
                            tally.add(&key, 1);
                            if tally.count(&key) == 1 {
                                tally.note(format!("{label}: first refusal: {v}"));
                            }
                        }
                        _ => on_event(&v),
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    tally.add(format!("{label}: connection closed by the server"), 1);
                    break;
                }
                Some(Ok(_)) => {}
            },
            _ = tokio::time::sleep_until(end) => break,
        }
    }
    let _ = sink.close().await;
    Ok(sent)
}

async fn signal_flood(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    let room = t.new_room().await?;
    let (ws, first) = ws_join(&t, &room).await?;
    anyhow::ensure!(
        first.as_ref().is_some_and(|v| v["type"] == "connected"),
        "the flooder could not join: {first:?}"
    );
    let deadline = go.ready().await?;
    let start = Instant::now();
    let mut echoes = 0u64;
    let flood = Flood {
        to: None,
        data: "x",
        window: 32,
        deadline,
        tally: &tally,
        label: "signal",
    };
    let sent = flood_signals(ws, flood, |v| {
        if v["type"] == "signal" {
            echoes += 1;
        }
    })
    .await?;
    let secs = start.elapsed().as_secs_f64();
    tally.add("signals sent", sent);
    tally.add("own signals delivered back", echoes);
    tally.metric("signals sent per s", sent as f64 / secs);
    tally.metric(
        "signals accepted per s",
        tally.count("signal: accepted") as f64 / secs,
    );
    Ok(())
}

/// A Vonage application made with `parlor app create` on the server's data dir.
async fn create_application(t: &Target) -> anyhow::Result<(String, String)> {
    let (bin, dir) = (t.bin.clone(), t.data_dir.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(["app", "create", "--name", "abuse", "--json"])
            .env("PARLOR_DATA_DIR", dir)
            .output()
    })
    .await??;
    anyhow::ensure!(
        out.status.success(),
        "parlor app create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let id = v["applicationId"]
        .as_str()
        .context("no applicationId")?
        .to_owned();
    let pem = v["privateKey"]
        .as_str()
        .context("no privateKey")?
        .to_owned();
    Ok((id, pem))
}

/// An application with one session of its own: its ID, the session, a REST JWT.
async fn attacker_application(t: &Target) -> anyhow::Result<(String, String, String)> {
    let (app, pem) = create_application(t).await?;
    let sdk = Parlor::with_application(&app, &pem, &t.url)?;
    let sid = sdk
        .create_session(SessionOptions::default())
        .await?
        .session_id;
    let key = parlor_proto::app_auth::PrivateKey::from_pem(&pem)
        .map_err(|e| anyhow::anyhow!("the application's key: {e}"))?;
    let jwt = parlor_proto::app_auth::mint(&app, &key, parlor_proto::unix_now(), 900);
    Ok((app, sid, jwt))
}

fn attacker_http() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(IpAddr::V4(ATTACKER_IP))
        .timeout(Duration::from_secs(15))
        .build()?)
}

async fn rest_flood(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    let (app, sid, jwt) = attacker_application(&t).await?;
    let url = format!("{}/v2/project/{app}/session/{sid}/stream", t.url);
    let http = attacker_http()?;
    // One call first: the credential works.
    let first = http
        .get(&url)
        .header("Authorization", format!("Bearer {jwt}"))
        .send()
        .await?;
    anyhow::ensure!(
        first.status().is_success(),
        "the attacker's credential was refused: {}",
        first.status()
    );
    let deadline = go.ready().await?;
    let start = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..8 {
        let (http, url, jwt, tally) = (http.clone(), url.clone(), jwt.clone(), tally.clone());
        set.spawn(async move {
            while Instant::now() < deadline {
                let r = http
                    .get(&url)
                    .header("Authorization", format!("Bearer {jwt}"))
                    .send()
                    .await;
                match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let retry_after = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = r.text().await.unwrap_or_default();
                        match (status, &retry_after) {
                            (429, Some(ra)) => {
                                tally.add("HTTP 429 with Retry-After", 1);
                                if tally.count("HTTP 429 with Retry-After") > 1 {
                                    continue;
                                }
                                tally.note(format!(
                                    "429: Retry-After {ra}, body {}",
                                    body.chars().take(200).collect::<String>()
                                ));
                            }
                            _ => tally.add(format!("HTTP {status}"), 1),
                        }
                    }
                    Err(e) => {
                        tally.add("request failed", 1);
                        tally.note(format!("request failed: {e}"));
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let secs = start.elapsed().as_secs_f64();
    let total: u64 = lock(&tally.counts).values().sum();
    tally.metric("requests per s", total as f64 / secs);
    tally.metric("HTTP 200 per s", tally.count("HTTP 200") as f64 / secs);
    Ok(())
}

/// The router's counter `name` (`GET /v1/stats` → `router`), if it has one.
async fn router_counter(t: &Target, name: &str) -> anyhow::Result<Option<u64>> {
    let stats = t.sdk.stats().await?;
    Ok(stats["router"][name].as_u64())
}

async fn nack_flood(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    const SUBSCRIPTIONS: usize = 4;
    let room = t.new_room().await?;
    let (publisher, mut e1) = Session::connect(&t.url, &room, &t.token(&room)?).await?;
    let mut set = JoinSet::new();
    set.spawn(async move { while e1.recv().await.is_some() {} });
    let mut p = publisher.publish(PublishOptions::default()).await?;
    p.wait_connected().await?;
    let stream_id = p.stream_id().to_owned();
    let (stop, stopped) = watch::channel(false);
    set.spawn(pump(
        t.media.clone(),
        p.into_sender(),
        Instant::now(),
        Arc::new(Sent::default()),
        stopped,
    ));
    let (nacker, mut e2) = Session::connect(&t.url, &room, &t.token(&room)?).await?;
    set.spawn(async move { while e2.recv().await.is_some() {} });
    let mut subs = Vec::new();
    for _ in 0..SUBSCRIPTIONS {
        let sub = nacker
            .subscribe(
                &stream_id,
                SubscribeOptions {
                    audio: true,
                    video: true,
                    count_only: true,
                    // Half of what arrives is lost, retransmissions too: the same
                    // packets are NACKed again and again.
                    drop_rate: 0.5,
                    drop_retransmissions: true,
                },
            )
            .await?;
        subs.push(sub);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let arrived = |subs: &[parlor_client::Subscriber]| -> u64 {
        subs.iter()
            .map(|s| {
                let st = s.stats();
                st.packets() + st.dropped.load(Ordering::Relaxed)
            })
            .sum()
    };
    let deadline = go.ready().await?;
    let r0 = router_counter(&t, "retransmissions").await?.unwrap_or(0);
    let refused0 = router_counter(&t, "retransmissionsRefused").await?;
    let d0 = arrived(&subs);
    let dropped0: u64 = subs
        .iter()
        .map(|s| s.stats().dropped.load(Ordering::Relaxed))
        .sum();
    tokio::time::sleep_until(deadline.into()).await;
    let r1 = router_counter(&t, "retransmissions").await?.unwrap_or(0);
    let refused1 = router_counter(&t, "retransmissionsRefused").await?;
    let d1 = arrived(&subs);
    let dropped1: u64 = subs
        .iter()
        .map(|s| s.stats().dropped.load(Ordering::Relaxed))
        .sum();
    let retrans = r1 - r0;
    let datagrams = d1 - d0;
    tally.add(
        "datagrams that reached the NACKing subscriptions",
        datagrams,
    );
    tally.add(
        "of them dropped on purpose (so NACKed)",
        dropped1 - dropped0,
    );
    tally.add(
        "retransmissions sent by the router (all consumers)",
        retrans,
    );
    match (refused0, refused1) {
        (Some(a), Some(b)) => tally.add("retransmissions refused by the router", b - a),
        _ => tally.note("the router reports no retransmissionsRefused counter".into()),
    }
    // What the attacker's consumers were forwarded besides retransmissions.
    let forwarded = datagrams.saturating_sub(retrans).max(1);
    tally.metric(
        "retransmissions per packet forwarded to the attacker",
        retrans as f64 / forwarded as f64,
    );
    let _ = stop.send(true);
    publisher.disconnect().await;
    nacker.disconnect().await;
    drop(subs);
    set.shutdown().await;
    Ok(())
}

/// Holds a joined WebSocket until `deadline`, answering pings (by reading).
fn hold(set: &mut JoinSet<()>, mut ws: Ws, deadline: Instant, tally: Arc<Tally>, label: String) {
    set.spawn(async move {
        let end = tokio::time::Instant::from_std(deadline);
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        tally.add(format!("{label}: closed by the server"), 1);
                        return;
                    }
                    Some(Ok(_)) => {}
                },
                _ = tokio::time::sleep_until(end) => {
                    let _ = ws.close(None).await;
                    return;
                }
            }
        }
    });
}

async fn session_fill(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    let room = t.new_room().await?;
    let deadline = go.ready().await?;
    let mut set = JoinSet::new();
    let attempt = |t: Arc<Target>, room: String, tally: Arc<Tally>| async move {
        match ws_join(&t, &room).await {
            Ok((ws, Some(v))) if v["type"] == "connected" => {
                tally.add("connect: joined", 1);
                Some(ws)
            }
            Ok((_, Some(v))) if v["type"] == "error" => {
                tally.add(format!("connect: refused {}", refusal(&v)), 1);
                tally.note(format!("first refusal: {v}"));
                None
            }
            Ok((_, other)) => {
                tally.add("connect: closed without an answer", 1);
                if let Some(v) = other {
                    tally.note(format!("unexpected answer: {v}"));
                }
                None
            }
            Err(e) => {
                tally.add("connect: failed", 1);
                tally.note(format!("connect failed: {e:#}"));
                None
            }
        }
    };
    // 100 at once (10 at a time), then 5 more every 500 ms until the deadline.
    let mut tried = 0;
    while tried < 100 && Instant::now() < deadline {
        let batch: Vec<_> = (0..10)
            .map(|_| tokio::spawn(attempt(t.clone(), room.clone(), tally.clone())))
            .collect();
        for b in batch {
            if let Ok(Some(ws)) = b.await {
                hold(&mut set, ws, deadline, tally.clone(), "joined".into());
            }
        }
        tried += 10;
    }
    while Instant::now() + Duration::from_millis(500) < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for _ in 0..5 {
            if let Some(ws) = attempt(t.clone(), room.clone(), tally.clone()).await {
                hold(&mut set, ws, deadline, tally.clone(), "joined".into());
            }
        }
    }
    while set.join_next().await.is_some() {}
    Ok(())
}

async fn connection_flood(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    const CONNECTIONS: usize = 200;
    let deadline = go.ready().await?;
    let start = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (addr, tally) = (t.addr, tally.clone());
        set.spawn(async move {
            let end = tokio::time::Instant::from_std(deadline);
            while Instant::now() < deadline {
                let mut s = match tcp_from_attacker(addr).await {
                    Ok(s) => s,
                    Err(e) => {
                        tally.add(format!("connect failed ({:?})", e.kind()), 1);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                tally.add("TCP connections opened", 1);
                let _ = s
                    .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await;
                let mut buf = [0u8; 1024];
                let first = tokio::select! {
                    r = s.read(&mut buf) => r,
                    _ = tokio::time::sleep_until(end) => break,
                };
                match first {
                    Ok(n) if n > 0 && buf.starts_with(b"HTTP/1.1 200") => {
                        tally.add("served (200), then held idle", 1);
                        // Held open, idle, until the server lets go or the attack ends.
                        loop {
                            let r = tokio::select! {
                                r = s.read(&mut buf) => r,
                                _ = tokio::time::sleep_until(end) => return,
                            };
                            match r {
                                Ok(0) | Err(_) => {
                                    tally.add("held connection closed by the server", 1);
                                    break;
                                }
                                Ok(_) => {}
                            }
                        }
                    }
                    Ok(0) | Err(_) => {
                        tally.add("closed unread", 1);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(n) => {
                        tally.add("other answer", 1);
                        tally.note(format!(
                            "other answer: {}",
                            String::from_utf8_lossy(&buf[..n.min(40)])
                        ));
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    tally.metric(
        "connections opened per s",
        tally.count("TCP connections opened") as f64 / start.elapsed().as_secs_f64(),
    );
    Ok(())
}

async fn slowloris(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    const CONNECTIONS: usize = 400;
    let deadline = go.ready().await?;
    let lifetimes = Arc::new(Mutex::new(Vec::new()));
    let mut set = JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (addr, tally, lifetimes) = (t.addr, tally.clone(), lifetimes.clone());
        set.spawn(async move {
            let end = tokio::time::Instant::from_std(deadline);
            while Instant::now() < deadline {
                let mut s = match tcp_from_attacker(addr).await {
                    Ok(s) => s,
                    Err(e) => {
                        tally.add(format!("connect failed ({:?})", e.kind()), 1);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                tally.add("connections opened", 1);
                let opened = Instant::now();
                if s.write_all(b"GET /health HTTP/1.1\r\nX-Slow: ")
                    .await
                    .is_err()
                {
                    continue;
                }
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                let mut buf = [0u8; 256];
                let mut got = Vec::new();
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            if s.write_all(b"a").await.is_err() {
                                tally.add("cut (write failed)", 1);
                                break;
                            }
                            tally.add("header bytes sent", 1);
                        }
                        r = s.read(&mut buf) => match r {
                            Ok(0) | Err(_) => {
                                let answer = String::from_utf8_lossy(&got);
                                let what = if answer.starts_with("HTTP/1.1 408") {
                                    "cut: 408 then closed"
                                } else if got.is_empty() {
                                    "cut: closed without an answer"
                                } else {
                                    "cut: other answer"
                                };
                                tally.add(what, 1);
                                lock(&lifetimes).push(opened.elapsed().as_secs_f64() * 1000.0);
                                break;
                            }
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        },
                        _ = tokio::time::sleep_until(end) => return,
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let mut l = lock(&lifetimes).clone();
    if !l.is_empty() {
        tally.metric(
            "cut after p50 s",
            procfs::percentile_ms(&mut l, 0.5) / 1000.0,
        );
        tally.metric(
            "cut after max s",
            procfs::percentile_ms(&mut l, 1.0) / 1000.0,
        );
    }
    Ok(())
}

async fn non_reader(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    const FLOODERS: usize = 4;
    let room = t.new_room().await?;
    let mut flooders = Vec::new();
    for _ in 0..FLOODERS {
        let (ws, first) = ws_join(&t, &room).await?;
        anyhow::ensure!(
            first.as_ref().is_some_and(|v| v["type"] == "connected"),
            "a flooder could not join: {first:?}"
        );
        flooders.push(ws);
    }
    // Someone who watches the room's events: connectionDestroyed names the non-reader.
    let (mut watcher, first) = ws_join(&t, &room).await?;
    anyhow::ensure!(
        first.as_ref().is_some_and(|v| v["type"] == "connected"),
        "the watcher could not join: {first:?}"
    );
    let deadline = go.ready().await?;
    let data = "x".repeat(parlor_proto::limits::MAX_SIGNAL_DATA_BYTES);
    let end = tokio::time::Instant::from_std(deadline);
    let mut times = Vec::new();
    while Instant::now() + Duration::from_millis(200) < deadline {
        // A member that joins, then never reads again.
        let (stalled, first) = ws_join(&t, &room).await?;
        let Some(id) = first
            .as_ref()
            .and_then(|v| v["connection"]["connectionId"].as_str())
            .map(str::to_owned)
        else {
            anyhow::bail!("the non-reader could not join: {first:?}");
        };
        tally.add("non-readers joined", 1);
        let joined = Instant::now();
        let mut set = JoinSet::new();
        let stop = Arc::new(AtomicBool::new(false));
        for ws in std::mem::take(&mut flooders) {
            let (id, data, tally, stop) = (id.clone(), data.clone(), tally.clone(), stop.clone());
            set.spawn(async move {
                // Each flooder signals the non-reader only, until told to stop.
                let (ws_back, sent) = flood_until(ws, &id, &data, (deadline, &stop), &tally).await;
                tally.add("8 KiB signals sent to the non-reader", sent);
                ws_back
            });
        }
        // Wait for the watcher to see the non-reader go.
        let gone = loop {
            tokio::select! {
                m = next_json(&mut watcher) => match m {
                    Some(v) if v["type"] == "connectionDestroyed"
                        && v["connection"]["connectionId"] == id.as_str() => {
                        break Some(v["reason"].as_str().unwrap_or("?").to_owned());
                    }
                    Some(_) => {}
                    None => anyhow::bail!("the watcher was disconnected"),
                },
                _ = tokio::time::sleep_until(end) => break None,
            }
        };
        let took = joined.elapsed().as_secs_f64();
        // The flooders stop (their task ends at the deadline or when the target is gone).
        stop.store(true, Ordering::Relaxed);
        while let Some(r) = set.join_next().await {
            if let Ok(Some(ws)) = r {
                flooders.push(ws);
            }
        }
        drop(stalled);
        match gone {
            Some(reason) => {
                tally.add(format!("non-reader disconnected ({reason})"), 1);
                times.push(took * 1000.0);
            }
            None => tally.add("non-reader still connected at the deadline", 1),
        }
        if flooders.len() < FLOODERS {
            tally.note(format!(
                "{} flooder connection(s) were closed by the server",
                FLOODERS - flooders.len()
            ));
            break;
        }
    }
    if !times.is_empty() {
        tally.metric(
            "non-reader disconnected after p50 s",
            procfs::percentile_ms(&mut times, 0.5) / 1000.0,
        );
    }
    Ok(())
}

/// Signals `to` with `data` as fast as the server answers (32 unanswered at most) until
/// `deadline` or until `stop`; gives the socket back if it is still open.
async fn flood_until(
    ws: Ws,
    to: &str,
    data: &str,
    (deadline, stop): (Instant, &AtomicBool),
    tally: &Tally,
) -> (Option<Ws>, u64) {
    let mut ws = ws;
    let (mut in_flight, mut sent) = (0usize, 0u64);
    let end = tokio::time::Instant::from_std(deadline);
    let mut check = tokio::time::interval(Duration::from_millis(20));
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        while in_flight < 32 && Instant::now() < deadline {
            sent += 1;
            if ws.feed(signal_message(sent, Some(to), data)).await.is_err() {
                return (None, sent);
            }
            in_flight += 1;
        }
        if ws.flush().await.is_err() {
            return (None, sent);
        }
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                    match v["type"].as_str() {
                        Some("ok") => {
                            in_flight = in_flight.saturating_sub(1);
                            tally.add("flood signal: accepted", 1);
                        }
                        Some("error") => {
                            in_flight = in_flight.saturating_sub(1);
                            tally.add(format!("flood signal: refused {}", refusal(&v)), 1);
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return (None, sent),
                Some(Ok(_)) => {}
            },
            _ = check.tick() => {}
            _ = tokio::time::sleep_until(end) => break,
        }
    }
    // Collect the answers still due, briefly, so the next round starts clean.
    let settle = tokio::time::Instant::now() + Duration::from_millis(500);
    while in_flight > 0 {
        match tokio::time::timeout_at(settle, ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => in_flight -= 1,
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    (Some(ws), sent)
}

async fn big_messages(t: Arc<Target>, tally: Arc<Tally>, go: Go) -> anyhow::Result<()> {
    let room = t.new_room().await?;
    let (app, sid, jwt) = attacker_application(&t).await?;
    let http = attacker_http()?;
    let deadline = go.ready().await?;
    let mut set = JoinSet::new();

    // 2 MiB WebSocket messages: each one should end its connection.
    let (t1, room1, tally1) = (t.clone(), room.clone(), tally.clone());
    set.spawn(async move {
        let huge = format!(
            "{{\"type\":\"signal\",\"id\":\"1\",\"data\":\"{}\"}}",
            "x".repeat(2 << 20)
        );
        while Instant::now() < deadline {
            let Ok((mut ws, Some(v))) = ws_join(&t1, &room1).await else {
                tally1.add("ws 2 MiB: could not join", 1);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            if v["type"] != "connected" {
                tally1.add("ws 2 MiB: could not join", 1);
                continue;
            }
            tally1.add("ws 2 MiB: messages sent", 1);
            if ws.send(Message::text(huge.clone())).await.is_err() {
                tally1.add(
                    "ws 2 MiB: connection closed by the server (while sending)",
                    1,
                );
                continue;
            }
            // The session's own events (another member joining) are not the answer.
            let answer = async {
                loop {
                    match next_json(&mut ws).await {
                        Some(v) if v["type"] == "connectionCreated" => continue,
                        Some(v) if v["type"] == "connectionDestroyed" => continue,
                        other => return other,
                    }
                }
            };
            let outcome = match tokio::time::timeout(Duration::from_secs(5), answer).await {
                Ok(None) => "ws 2 MiB: connection closed by the server",
                Ok(Some(v)) if v["type"] == "error" => {
                    tally1.note(format!("2 MiB message answered: {v}"));
                    "ws 2 MiB: answered with an error"
                }
                Ok(Some(v)) => {
                    tally1.note(format!("2 MiB message answered: {v}"));
                    "ws 2 MiB: answered otherwise"
                }
                Err(_) => "ws 2 MiB: no answer within 5 s",
            };
            tally1.add(outcome, 1);
        }
    });

    // 100 KiB messages (over the protocol's 64 KiB, under the 1 MiB frame limit), pipelined
    // on one connection.
    let (t2, room2, tally2) = (t.clone(), room.clone(), tally.clone());
    set.spawn(async move {
        let big = "y".repeat(100 << 10);
        while Instant::now() < deadline {
            let Ok((ws, Some(v))) = ws_join(&t2, &room2).await else {
                tally2.add("ws 100 KiB: could not join", 1);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            if v["type"] != "connected" {
                tally2.add("ws 100 KiB: could not join", 1);
                continue;
            }
            let flood = Flood {
                to: None,
                data: &big,
                window: 16,
                deadline,
                tally: &tally2,
                label: "ws 100 KiB",
            };
            let _ = flood_signals(ws, flood, |_| {}).await;
        }
    });

    // REST bodies of 100 KiB: a signal through the API, with the application's credential.
    let url = format!("{}/v2/project/{app}/session/{sid}/signal", t.url);
    let body = json!({"type": "big", "data": "z".repeat(100 << 10)}).to_string();
    for _ in 0..2 {
        let (http, url, jwt, body, tally) = (
            http.clone(),
            url.clone(),
            jwt.clone(),
            body.clone(),
            tally.clone(),
        );
        set.spawn(async move {
            while Instant::now() < deadline {
                let r = http
                    .post(&url)
                    .header("Authorization", format!("Bearer {jwt}"))
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let text = r.text().await.unwrap_or_default();
                        let key = format!("REST 100 KiB body: HTTP {status}");
                        tally.add(&key, 1);
                        if status != 413 && tally.count(&key) == 1 {
                            tally.note(format!(
                                "REST 100 KiB body: HTTP {status}: {}",
                                text.chars().take(200).collect::<String>()
                            ));
                        }
                    }
                    Err(e) => {
                        tally.add("REST 100 KiB body: request failed", 1);
                        tally.note(format!("REST request failed: {e}"));
                    }
                }
            }
        });
    }
    // The tasks end by the deadline; anything still running a moment later is cut.
    let _ = tokio::time::timeout_at(
        tokio::time::Instant::from_std(deadline + Duration::from_secs(6)),
        async { while set.join_next().await.is_some() {} },
    )
    .await;
    set.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Output.

/// 1234567 → "1,234,567".
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_report(r: &AttackReport) {
    eprintln!("== {} ({})", r.attack, r.limit);
    if !r.server_flags.is_empty() {
        eprintln!("   server flags: {}", r.server_flags.join(" "));
    }
    for f in &r.server_flags_unsupported {
        eprintln!("   NOT SUPPORTED by this server (left out): {f}");
    }
    eprintln!("   abuser got:");
    for (what, n) in &r.abuser {
        if what.starts_with("notes:") {
            continue;
        }
        eprintln!("     {:>12}  {what}", thousands(*n));
    }
    for (what, v) in &r.abuser_metrics {
        eprintln!("     {v:>12.2}  {what}");
    }
    for n in &r.notes {
        eprintln!("     note: {n}");
    }
    eprintln!(
        "   machine load average: {:.1} (baseline end), {:.1} (attack end)",
        r.load_average.0, r.load_average.1
    );
    eprintln!(
        "   bystander     loss %  video frames  audio frames   signal RTT p50/p99/max ms (unanswered)   REST RTT p50/p99/max ms (failed)   server CPU %  RSS MiB  fds  pump late ms"
    );
    for (name, w) in [("baseline", &r.baseline), ("under attack", &r.under_attack)] {
        eprintln!(
            "   {name:<12} {:>6.2}  {:>5}/{:<6}  {:>5}/{:<6}   {:>6.1}/{:>6.1}/{:>6.1} ({}/{})            {:>6.1}/{:>6.1}/{:>6.1} ({}/{})       {:>6.1}  {:>7.1}  {:>4}  {:>6.1}",
            w.loss_pct,
            w.video_frames_received,
            w.video_frames_sent,
            w.audio_frames_received,
            w.audio_frames_sent,
            w.signal_rtt_p50_ms,
            w.signal_rtt_p99_ms,
            w.signal_rtt_max_ms,
            w.signal_unanswered,
            w.signal_probes,
            w.rest_rtt_p50_ms,
            w.rest_rtt_p99_ms,
            w.rest_rtt_max_ms,
            w.rest_failed,
            w.rest_probes,
            w.server_cpu_pct,
            w.server_rss_mib_max,
            w.server_fds_max,
            w.pump_late_max_ms,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn every_attack_has_a_name_and_a_limit() {
        for a in Attack::ALL {
            assert!(!a.name().is_empty());
            assert!(!a.limit().is_empty());
            assert_eq!(a.server_flags().len() % 2, 0, "{a}: flags come in pairs");
        }
    }
}
