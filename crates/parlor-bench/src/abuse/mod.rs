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

mod attacks;
mod bystander;

use attacks::*;
use bystander::*;

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
