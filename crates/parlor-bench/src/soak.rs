//! `parlor-bench soak`: churn over time. Sessions whose clients (real signaling and WebRTC:
//! publishers sending audio and video, subscribers receiving it) join, signal, toggle
//! video and leave continuously for a while; the server's resources are sampled as it
//! goes, and once the load stops they must return to where they started.
//!
//! What it reports: RSS, open file descriptors and threads of `parlor serve`, the rooms
//! and transports signaling holds, the router's transports, producers and consumers, and
//! the SQLite database and WAL sizes, every `--sample-every` seconds; the spread of RSS
//! and fds after warm-up (the goal is flat: within 5 %); join latency; every unexpected
//! error. It fails (exit 1) on any unexpected error, or if anything the load created is
//! still held 30 s after it stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng as _;
use serde::Serialize;

use crate::media::{Media, Senders};
use crate::parlor::ParlorSut;
use crate::procfs;

/// The load's shape.
#[derive(Debug, Clone, Copy)]
pub struct SoakShape {
    pub sessions: usize,
    /// Clients per session at any time (half publish, half subscribe).
    pub clients: usize,
    pub duration: Duration,
    pub sample_every: Duration,
    /// How long a client stays, drawn uniformly from this range.
    pub stay: (Duration, Duration),
}

/// The server's resources at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub at_s: f64,
    pub rss_mib: f64,
    pub fds: usize,
    pub threads: usize,
    pub rooms: u64,
    pub signaling_transports: u64,
    pub router_transports: u64,
    pub producers: u64,
    pub consumers: u64,
    pub db_kib: u64,
    pub wal_kib: u64,
    /// Tasks alive on the server's tokio runtime.
    pub tokio_tasks: u64,
    /// Callback deliveries queued and not done yet.
    pub callbacks_queued: u64,
    /// Callbacks the soak's receiver got so far.
    pub callbacks_received: u64,
    pub joins: u64,
    pub leaves: u64,
}

#[derive(Debug, Serialize)]
pub struct SoakReport {
    pub sessions: usize,
    pub clients_per_session: usize,
    pub duration_s: f64,
    pub baseline: Sample,
    pub samples: Vec<Sample>,
    /// After the load stopped and everything it created was released.
    pub after: Sample,
    /// `(max - min) / min` over the samples after warm-up (the first quarter), in %.
    pub rss_spread_pct: f64,
    pub fds_spread_pct: f64,
    pub joins: u64,
    pub publishes: u64,
    pub subscriptions: u64,
    pub signals: u64,
    /// Session-monitoring callbacks the local receiver got.
    pub callbacks: u64,
    pub join_p50_ms: f64,
    pub join_p99_ms: f64,
    /// Subscriptions to a stream that ended in the meantime (churn, not an error).
    pub raced: u64,
    pub errors: u64,
    /// The first few unexpected errors.
    pub error_messages: Vec<String>,
    /// Whether rooms, transports, producers and consumers all went back to zero.
    pub released: bool,
}

#[derive(Default)]
pub struct Counters {
    joins: AtomicU64,
    leaves: AtomicU64,
    publishes: AtomicU64,
    subscriptions: AtomicU64,
    signals: AtomicU64,
    raced: AtomicU64,
    errors: AtomicU64,
    /// Callbacks received by [`callback_sink`].
    pub callbacks: AtomicU64,
}

struct Shared {
    counters: Arc<Counters>,
    join_ms: std::sync::Mutex<Vec<f64>>,
    error_messages: std::sync::Mutex<Vec<String>>,
}

impl Shared {
    fn error(&self, what: &str, e: &anyhow::Error) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let mut m = self.error_messages.lock().expect("not poisoned");
        if m.len() < 20 {
            m.push(format!("{what}: {e:#}"));
        }
    }
}

/// A local receiver for the server's session-monitoring callbacks (`--callback-url`), so
/// the callback queue works under the churn: answers every POST with 204 and counts it.
/// Returns its URL.
pub async fn callback_sink(counters: Arc<Counters>) -> anyhow::Result<String> {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/callbacks", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counters = counters.clone();
            tokio::spawn(async move {
                let mut conn = tokio::io::BufReader::new(socket);
                // Requests one after another on a kept-alive connection.
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match conn.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if conn.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    counters.callbacks.fetch_add(1, Ordering::Relaxed);
                    let answer = b"HTTP/1.1 204 No Content\r\n\r\n";
                    if conn.get_mut().write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(url)
}

/// Runs the soak against `sut` and reports; `counters` counts what the receiver of
/// [`callback_sink`] got.
pub async fn run(
    sut: Arc<ParlorSut>,
    shape: SoakShape,
    media: Arc<Media>,
    counters: Arc<Counters>,
) -> anyhow::Result<SoakReport> {
    let start = Instant::now();
    let baseline = sample(&sut, start, &counters).await?;
    let shared = Arc::new(Shared {
        counters,
        join_ms: std::sync::Mutex::new(Vec::new()),
        error_messages: std::sync::Mutex::new(Vec::new()),
    });
    let senders: Senders = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (stop_pump, pump_rx) = tokio::sync::watch::channel(false);
    let pump = tokio::spawn(crate::media::pump(media, senders.clone(), pump_rx));
    let deadline = Instant::now() + shape.duration;

    let mut clients = Vec::new();
    for _ in 0..shape.sessions {
        let room = sut.new_room().await?;
        for slot in 0..shape.clients {
            let (sut, shared, senders, room) =
                (sut.clone(), shared.clone(), senders.clone(), room.clone());
            // Publishers first in each session, so subscribers find streams.
            let publisher = slot % 2 == 0;
            clients.push(tokio::spawn(async move {
                // Stagger the first joins over the first seconds.
                let first = Duration::from_millis(rand::rng().random_range(0..3000));
                tokio::time::sleep(first).await;
                while Instant::now() < deadline {
                    if let Err(e) =
                        one_visit(&sut, &room, publisher, &shared, &senders, shape, deadline).await
                    {
                        shared.error(if publisher { "publisher" } else { "subscriber" }, &e);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }));
        }
    }

    let mut samples = Vec::new();
    let mut next = Instant::now() + shape.sample_every;
    while Instant::now() < deadline {
        tokio::time::sleep_until(next.min(deadline).into()).await;
        next += shape.sample_every;
        if Instant::now() >= deadline {
            break; // the clients are leaving: not a sample of the load
        }
        // A server too busy to answer is a finding, not the end of the run.
        match sample(&sut, start, &shared.counters).await {
            Ok(s) => {
                print_sample(&s);
                samples.push(s);
            }
            Err(e) => shared.error("sampling the server", &e),
        }
    }
    for c in clients {
        let _ = c.await;
    }
    let _ = stop_pump.send(true);
    let _ = pump.await;

    // Everything the load made must be released.
    let released_by = Instant::now() + Duration::from_secs(30);
    let mut after = sample(&sut, start, &shared.counters).await?;
    // Idle kept-alive HTTP connections (the load's REST calls) close by themselves within
    // the server's idle timeout (10 s): wait for them too, so what is left is a leak.
    let settled = |a: &Sample| {
        is_released(a) && a.fds <= baseline.fds + 4 && a.tokio_tasks <= baseline.tokio_tasks + 8
    };
    while !settled(&after) && Instant::now() < released_by {
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = sample(&sut, start, &shared.counters).await?;
    }
    eprintln!("after the load:");
    print_sample(&after);

    let warm: Vec<&Sample> = samples.iter().skip(samples.len() / 4).collect();
    let spread = |f: &dyn Fn(&Sample) -> f64| {
        let (lo, hi) = warm
            .iter()
            .map(|s| f(s))
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if warm.is_empty() || lo <= 0.0 {
            0.0
        } else {
            (hi - lo) / lo * 100.0
        }
    };
    let mut join_ms = shared.join_ms.lock().expect("not poisoned").clone();
    let c = &shared.counters;
    Ok(SoakReport {
        sessions: shape.sessions,
        clients_per_session: shape.clients,
        duration_s: shape.duration.as_secs_f64(),
        rss_spread_pct: spread(&|s| s.rss_mib),
        fds_spread_pct: spread(&|s| s.fds as f64),
        released: is_released(&after),
        baseline,
        samples,
        after,
        joins: c.joins.load(Ordering::Relaxed),
        publishes: c.publishes.load(Ordering::Relaxed),
        subscriptions: c.subscriptions.load(Ordering::Relaxed),
        signals: c.signals.load(Ordering::Relaxed),
        callbacks: c.callbacks.load(Ordering::Relaxed),
        join_p50_ms: procfs::percentile_ms(&mut join_ms, 0.5),
        join_p99_ms: procfs::percentile_ms(&mut join_ms, 0.99),
        raced: c.raced.load(Ordering::Relaxed),
        errors: c.errors.load(Ordering::Relaxed),
        error_messages: shared.error_messages.lock().expect("not poisoned").clone(),
    })
}

/// One client's visit: join, publish (or subscribe to up to three streams), signal and
/// toggle video now and then, stay a while, leave.
async fn one_visit(
    sut: &ParlorSut,
    room: &str,
    publisher: bool,
    shared: &Shared,
    senders: &Senders,
    shape: SoakShape,
    deadline: Instant,
) -> anyhow::Result<()> {
    let c = &shared.counters;
    let (session, took) = sut.join(room).await?;
    c.joins.fetch_add(1, Ordering::Relaxed);
    shared
        .join_ms
        .lock()
        .expect("not poisoned")
        .push(took.as_secs_f64() * 1000.0);
    let stay = {
        let mut rng = rand::rng();
        Duration::from_millis(
            rng.random_range(shape.stay.0.as_millis() as u64..=shape.stay.1.as_millis() as u64),
        )
    };
    let leave_at = (Instant::now() + stay).min(deadline);
    let mut subscriptions = Vec::new();
    let mut own_stream = None;
    let result = async {
        if publisher {
            let (stream_id, sender) = ParlorSut::publish(&session, true, true, false).await?;
            c.publishes.fetch_add(1, Ordering::Relaxed);
            senders.lock().expect("not poisoned").push(sender);
            own_stream = Some(stream_id);
        } else {
            let streams = sut.sdk().list_streams(room).await?;
            for s in streams.iter().take(3) {
                match ParlorSut::subscribe(&session, &s.id, true, true, None).await {
                    Ok(sub) => {
                        c.subscriptions.fetch_add(1, Ordering::Relaxed);
                        subscriptions.push(sub);
                    }
                    Err(e) => {
                        // The stream may have ended since it was listed: churn.
                        let still = sut.sdk().list_streams(room).await?;
                        if still.iter().any(|x| x.id == s.id) {
                            return Err(e.context(format!("subscribing to {}", s.id)));
                        }
                        c.raced.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        let mut video_on = true;
        while Instant::now() + Duration::from_secs(2) < leave_at {
            tokio::time::sleep(Duration::from_secs(2)).await;
            session.signal(None, "soak", "hello").await?;
            c.signals.fetch_add(1, Ordering::Relaxed);
            if let Some(id) = &own_stream {
                video_on = !video_on;
                session
                    .set_stream_property(id, None, Some(video_on))
                    .await?;
            }
        }
        tokio::time::sleep_until(leave_at.into()).await;
        anyhow::Ok(())
    }
    .await;
    drop(subscriptions);
    session.disconnect().await;
    c.leaves.fetch_add(1, Ordering::Relaxed);
    result
}

fn is_released(s: &Sample) -> bool {
    s.callbacks_queued == 0
        && s.rooms == 0
        && s.signaling_transports == 0
        && s.router_transports == 0
        && s.producers == 0
        && s.consumers == 0
}

async fn sample(sut: &ParlorSut, start: Instant, c: &Counters) -> anyhow::Result<Sample> {
    let pid = sut.pid();
    let count = |dir: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{dir}"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let stats = sut.sdk().stats().await?;
    let n = |p: &str| stats.pointer(p).and_then(|v| v.as_u64()).unwrap_or(0);
    let kib = |name: &str| {
        std::fs::metadata(sut.data_dir().join(name))
            .map(|m| m.len() / 1024)
            .unwrap_or(0)
    };
    Ok(Sample {
        at_s: start.elapsed().as_secs_f64(),
        rss_mib: procfs::rss_bytes(pid)? as f64 / (1024.0 * 1024.0),
        fds: count("fd"),
        threads: count("task"),
        rooms: n("/signaling/rooms"),
        signaling_transports: n("/signaling/transports"),
        router_transports: n("/router/transports"),
        producers: n("/router/producers"),
        consumers: n("/router/consumers"),
        db_kib: kib("parlor.db"),
        wal_kib: kib("parlor.db-wal"),
        tokio_tasks: n("/runtime/tasks"),
        callbacks_queued: n("/callbacks/queued"),
        callbacks_received: c.callbacks.load(Ordering::Relaxed),
        joins: c.joins.load(Ordering::Relaxed),
        leaves: c.leaves.load(Ordering::Relaxed),
    })
}

fn print_sample(s: &Sample) {
    eprintln!(
        "{:>6.0} s  rss {:>6.1} MiB  fds {:>4}  threads {:>3}  tasks {:>5}  rooms {:>3}  transports {:>4}/{:>4}  producers {:>4}  consumers {:>4}  db {:>5} KiB  wal {:>5} KiB  callbacks {:>4} queued {:>7} got  joins {:>6}  leaves {:>6}",
        s.at_s,
        s.rss_mib,
        s.fds,
        s.threads,
        s.tokio_tasks,
        s.rooms,
        s.signaling_transports,
        s.router_transports,
        s.producers,
        s.consumers,
        s.db_kib,
        s.wal_kib,
        s.callbacks_queued,
        s.callbacks_received,
        s.joins,
        s.leaves
    );
}
