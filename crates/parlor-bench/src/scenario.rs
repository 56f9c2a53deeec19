//! Scenarios: who publishes, who subscribes to what; and the measurement of a run.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parlor_client::ReceiveStats;
use serde::Serialize;

use crate::media::{Media, Senders};
use crate::procfs;
use crate::sut::{Client, Subscription, Sut};

/// The shapes of load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// One publisher (audio + video), N subscribers.
    Livestream,
    /// K parties, each publishing audio + video and subscribing to every other.
    Meeting,
    /// Ten audio-only publishers; N listeners subscribed to all ten.
    Audio,
}

/// The size of a run.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub scenario: Scenario,
    /// Subscribers (livestream), parties (meeting) or listeners (audio).
    pub n: usize,
    pub duration: Duration,
    /// Publishers send three simulcast layers; subscriptions take them in turn.
    pub simulcast: bool,
}

/// What one system did in one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub system: String,
    pub scenario: Scenario,
    /// Subscriptions (subscriber-streams) fed.
    pub subscribers: usize,
    pub publishers: usize,
    /// Packets that reached subscribers per second (all subscriptions).
    pub forwarded_pps: f64,
    /// The same per CPU-second of the SFU process.
    pub forwarded_pps_per_cpu_s: f64,
    /// The SFU's CPU use over the window, in % of one core.
    pub sfu_cpu_pct: f64,
    pub loss_pct: f64,
    pub jitter_ms: f64,
    pub join_p50_ms: f64,
    pub join_p95_ms: f64,
    pub first_media_p50_ms: f64,
    pub first_media_p95_ms: f64,
    pub rss_mb: f64,
    /// RSS growth per subscription, over the server with everyone joined (meeting: over
    /// the idle server, parties and subscriptions together).
    pub rss_per_subscription_kb: f64,
    /// RSS growth per joined, idle connection (livestream and audio listeners).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_per_idle_connection_kb: Option<f64>,
    /// What the SFU's own counters say about the window, where it has them (Parlor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router: Option<RouterRates>,
}

/// Rates from the media router's counters over the measurement window, to explain the
/// CPU figure: how much input besides media, how many timer wake-ups, how well sends batch.
#[derive(Debug, Clone, Serialize)]
pub struct RouterRates {
    /// Datagrams received per second (media from publishers, RTCP and STUN from everyone).
    pub datagrams_received_per_s: f64,
    pub rtp_forwarded_per_s: f64,
    /// Transport deadlines run per second (str0m timeouts).
    pub timeouts_per_s: f64,
    pub datagrams_sent_per_s: f64,
    /// Datagrams per `sendmmsg` call.
    pub datagrams_per_send_syscall: f64,
    /// Packets written to a consumer per pass over it (batching of a frame's packets).
    pub packets_per_consumer_pass: f64,
}

impl RouterRates {
    fn between(a: &serde_json::Value, b: &serde_json::Value, secs: f64) -> RouterRates {
        let d = |k: &str| {
            let v = |x: &serde_json::Value| x.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            v(b).saturating_sub(v(a)) as f64
        };
        RouterRates {
            datagrams_received_per_s: d("datagramsReceived") / secs,
            rtp_forwarded_per_s: d("rtpForwarded") / secs,
            timeouts_per_s: d("timeouts") / secs,
            datagrams_sent_per_s: d("datagramsSent") / secs,
            datagrams_per_send_syscall: d("datagramsSent") / d("sendSyscalls").max(1.0),
            packets_per_consumer_pass: d("rtpForwarded") / d("forwardPasses").max(1.0),
        }
    }
}

/// Runs `shape` against `sut` with `media`: everyone joins, then subscribes; once media
/// reaches every subscription (or 10 s passed) and 1 s more, measures for `shape.duration`.
pub async fn run(sut: &Sut, shape: Shape, media: Arc<Media>) -> anyhow::Result<Report> {
    let pid = sut.pid();
    let idle_rss = procfs::rss_bytes(pid)? as f64;
    let room = sut.new_room().await?;
    let senders: Senders = Arc::new(Mutex::new(Vec::new()));
    let mut joins = Vec::new();
    let mut first_media = Vec::new();
    let mut stats: Vec<Arc<ReceiveStats>> = Vec::new();
    let mut clients: Vec<Client> = Vec::new();
    let mut subscriptions: Vec<Subscription> = Vec::new();
    let mut subs = Vec::new();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let pump = tokio::spawn(crate::media::pump(media, senders.clone(), stop_rx));

    // Publishers.
    let (n_pub, audio, video) = match shape.scenario {
        Scenario::Livestream => (1, true, true),
        Scenario::Meeting => (shape.n, true, true),
        Scenario::Audio => (10, true, false),
    };
    let mut streams = Vec::new();
    let mut publishers = Vec::new();
    for _ in 0..n_pub {
        let (client, took) = sut.join(&room).await?;
        joins.push(took.as_secs_f64() * 1e3);
        let (id, sender) = client.publish(audio, video, shape.simulcast).await?;
        senders.lock().expect("not poisoned").push(sender);
        streams.push(id);
        publishers.push(client);
    }
    // Subscribers.
    let listeners = match shape.scenario {
        Scenario::Meeting => 0,
        _ => shape.n,
    };
    // Everyone joins first, so the memory of an idle connection and of a subscription are
    // measured apart.
    let before_joins = procfs::rss_bytes(pid)? as f64;
    for _ in 0..listeners {
        let (client, took) = sut.join(&room).await?;
        joins.push(took.as_secs_f64() * 1e3);
        clients.push(client);
    }
    let after_joins = procfs::rss_bytes(pid)? as f64;
    // With simulcast, subscriptions prefer the lowest, middle and top layers in turn.
    let layer = |i: usize| shape.simulcast.then_some((i % 3) as u8);
    for client in &clients {
        for stream in &streams {
            let t = Instant::now();
            let sub = client
                .subscribe(stream, audio, video, layer(subs.len()))
                .await?;
            subs.push((t, sub.stats()));
            subscriptions.push(sub);
        }
    }
    if shape.scenario == Scenario::Meeting {
        for (i, client) in publishers.iter().enumerate() {
            for (j, stream) in streams.iter().enumerate() {
                if i != j {
                    let t = Instant::now();
                    let sub = client
                        .subscribe(stream, audio, video, layer(subs.len()))
                        .await?;
                    subs.push((t, sub.stats()));
                    subscriptions.push(sub);
                }
            }
        }
    }
    // Wait (bounded) for media on every subscription, then measure.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && subs.iter().any(|(_, s)| s.first_packet.get().is_none()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (t, s) in &subs {
        if let Some(first) = s.first_packet.get() {
            first_media.push(first.saturating_duration_since(*t).as_secs_f64() * 1e3);
        }
        stats.push(s.clone());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let totals = |stats: &[Arc<ReceiveStats>]| {
        stats
            .iter()
            .fold((0u64, 0u64), |(p, l), s| (p + s.packets(), l + s.lost()))
    };
    let (p0, l0) = totals(&stats);
    let r0 = sut.router_counters().await?;
    let c0 = procfs::cpu(pid)?;
    tokio::time::sleep(shape.duration).await;
    let c1 = procfs::cpu(pid)?;
    let r1 = sut.router_counters().await?;
    let (p1, l1) = totals(&stats);
    let rss = procfs::rss_bytes(pid)? as f64;
    let _ = stop_tx.send(true);
    let _ = pump.await;

    let wall = c1.at.duration_since(c0.at).as_secs_f64();
    let cpu = (c1.cpu_s - c0.cpu_s).max(1e-9);
    let packets = (p1 - p0) as f64;
    let lost = (l1 - l0) as f64;
    let jitter = stats
        .iter()
        .map(|s| s.jitter_us.load(std::sync::atomic::Ordering::Relaxed) as f64)
        .sum::<f64>()
        / stats.len().max(1) as f64;
    let n_subs = subs.len();
    drop(subscriptions);
    drop(clients);
    drop(publishers);
    Ok(Report {
        system: sut.name().to_owned(),
        scenario: shape.scenario,
        subscribers: n_subs,
        publishers: n_pub,
        forwarded_pps: packets / wall,
        forwarded_pps_per_cpu_s: packets / cpu,
        sfu_cpu_pct: 100.0 * cpu / wall,
        loss_pct: if packets + lost > 0.0 {
            100.0 * lost / (packets + lost)
        } else {
            0.0
        },
        jitter_ms: jitter / 1e3,
        join_p50_ms: procfs::percentile_ms(&mut joins.clone(), 0.5),
        join_p95_ms: procfs::percentile_ms(&mut joins, 0.95),
        first_media_p50_ms: procfs::percentile_ms(&mut first_media.clone(), 0.5),
        first_media_p95_ms: procfs::percentile_ms(&mut first_media, 0.95),
        rss_mb: rss / (1 << 20) as f64,
        rss_per_subscription_kb: (rss - if listeners > 0 { after_joins } else { idle_rss })
            / 1024.0
            / n_subs.max(1) as f64,
        rss_per_idle_connection_kb: (listeners > 0)
            .then(|| (after_joins - before_joins) / 1024.0 / listeners as f64),
        router: r0.zip(r1).map(|(a, b)| RouterRates::between(&a, &b, wall)),
    })
}
