//! `parlor-bench archive`: what recording costs, through a real `parlor serve`.
//!
//! Two measurements, both driven through the OpenTok archive REST API (the server SDK):
//!
//! - **Recording** ([`run_record`]): `streams` publishers and `subscribers` clients
//!   subscribed to every stream, in one session of one server. Measurement windows
//!   alternate, in the same run, between *none* (nothing recorded) and *recorded* (an
//!   individual archive of every stream running); the order flips every round so drift
//!   of the machine falls on both. Each window gives the forwarding figure (packets that
//!   reached subscribers per CPU-second of the router's `parlor-media` thread, and of the
//!   whole process), and a recorded window also the CPU of the `parlor-recorder` threads
//!   (one per stream, from `/proc/PID/task/*/schedstat`). After each recorded window the
//!   archive is stopped and the time from the stop call to `available` is taken.
//! - **Composition** ([`run_compose`]): `N` publishers recorded for some seconds into a
//!   composed archive at a resolution; the time from stop to `available` is divided into
//!   the output's duration (ffprobe of the downloaded MP4): the speed as a multiple of
//!   real time that a user of the server sees. The server is pinned to the SFU's CPU while
//!   recording and, unless told otherwise, let onto every CPU just before the stop, so
//!   the ffmpeg it starts has the whole machine, as in a deployment.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use parlor_client::ReceiveStats;
use parlor_sdk::{Archive, ArchiveOptions, ArchiveStatus, OutputMode, Parlor};
use serde::Serialize;

use crate::media::{Media, Senders};
use crate::parlor::ParlorSut;
use crate::procfs;

/// The router worker thread's name.
const MEDIA_THREAD: &str = "parlor-media";
/// The name of each stream recording's thread.
const RECORDER_THREAD: &str = "parlor-recorder";
/// How often an archive's status is polled after the stop.
const POLL: Duration = Duration::from_millis(20);
/// The longest an archive may take from stop to a final status.
const FINISH_TIMEOUT: Duration = Duration::from_secs(600);

/// A composition to measure: `N` streams into a `W`x`H` archive (`4x640x480`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ComposeSpec {
    pub streams: usize,
    pub width: u32,
    pub height: u32,
}

impl ComposeSpec {
    /// The resolution as the archive API spells it.
    pub fn resolution(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

impl std::str::FromStr for ComposeSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected STREAMSxWIDTHxHEIGHT such as 4x640x480, not '{s}'");
        let mut parts = s.split('x');
        let (Some(n), Some(w), Some(h), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let streams: usize = n.parse().map_err(|_| bad())?;
        let width: u32 = w.parse().map_err(|_| bad())?;
        let height: u32 = h.parse().map_err(|_| bad())?;
        if !(1..=16).contains(&streams) {
            return Err(format!(
                "a composed archive lays out 1 to 16 streams, not {streams}"
            ));
        }
        let spec = ComposeSpec {
            streams,
            width,
            height,
        };
        if !parlor_proto::limits::ARCHIVE_RESOLUTIONS.contains(&spec.resolution().as_str()) {
            return Err(format!(
                "resolution must be one of {:?}, not '{}'",
                parlor_proto::limits::ARCHIVE_RESOLUTIONS,
                spec.resolution()
            ));
        }
        Ok(spec)
    }
}

/// The shape of a recording run.
#[derive(Debug, Clone, Copy)]
pub struct RecordShape {
    /// Publishers (audio + video), all recorded in the recorded windows.
    pub streams: usize,
    /// Clients subscribed to every stream.
    pub subscribers: usize,
    /// Length of each measurement window.
    pub window: Duration,
    /// Rounds; each has one window of each kind.
    pub rounds: usize,
    /// Move the recorder threads onto this CPU (a diagnostic: by default they share the
    /// server's CPU with the media thread).
    pub recorder_cpu: Option<usize>,
}

/// One measurement window.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub round: usize,
    /// Whether an archive recorded every stream during the window.
    pub recorded: bool,
    pub seconds: f64,
    /// Packets that reached subscribers per second.
    pub forwarded_pps: f64,
    /// Those packets per CPU-second of the router's media thread.
    pub pkt_per_media_cpu_s: f64,
    /// Those packets per CPU-second of the whole `parlor serve` process.
    pub pkt_per_process_cpu_s: f64,
    /// The media thread's CPU, % of one core.
    pub media_cpu_pct: f64,
    /// Times per second the media thread was switched out without asking (another of the
    /// server's threads, or another process, took its CPU).
    pub media_preempted_per_s: f64,
    /// The process's CPU, % of one core.
    pub process_cpu_pct: f64,
    /// Recorder threads alive through the window.
    pub recorder_threads: usize,
    /// All recorder threads' CPU, % of one core.
    pub recorder_cpu_pct: f64,
    pub loss_pct: f64,
    /// Packets handed to taps per second (router counter).
    pub tap_packets_per_s: f64,
    /// Packets taps dropped in the window because a recorder fell behind.
    pub tap_dropped: u64,
}

/// Medians over the windows of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub windows: usize,
    pub forwarded_pps: f64,
    pub pkt_per_media_cpu_s: f64,
    pub pkt_per_process_cpu_s: f64,
    pub media_cpu_pct: f64,
    pub media_preempted_per_s: f64,
    pub process_cpu_pct: f64,
    pub recorder_cpu_pct: f64,
    pub loss_pct: f64,
}

/// The result of [`run_record`].
#[derive(Debug, Clone, Serialize)]
pub struct RecordReport {
    pub streams: usize,
    pub subscriptions: usize,
    pub window_s: f64,
    pub rounds: usize,
    pub windows: Vec<Window>,
    pub none: Summary,
    pub recorded: Summary,
    /// Per round, recorded ÷ none of packets per media-thread CPU-second.
    pub media_ratio_per_round: Vec<f64>,
    /// Their median.
    pub media_ratio: f64,
    /// Per round, recorded ÷ none of packets per process CPU-second.
    pub process_ratio_per_round: Vec<f64>,
    pub process_ratio: f64,
    /// Median CPU of one recorder thread, % of one core.
    pub recorder_cpu_pct_per_stream: f64,
    /// Median over rounds of (process CPU recorded − none) ÷ streams, % of one core.
    pub process_cpu_pct_per_stream: f64,
    /// Stop call → `available`, individual archive of every stream, per round.
    pub individual_stop_to_available_ms: Vec<f64>,
    pub individual_stop_to_available_p50_ms: f64,
    /// Sizes of those archives (ZIP), bytes.
    pub individual_bytes: Vec<u64>,
}

/// The result of one composition run.
#[derive(Debug, Clone, Serialize)]
pub struct ComposeRun {
    pub streams: usize,
    pub resolution: String,
    /// Start call → stop call.
    pub recorded_s: f64,
    /// Duration of the output MP4 (ffprobe).
    pub output_s: f64,
    /// Width and height of the output's video (ffprobe).
    pub output_video: (u32, u32),
    pub output_bytes: u64,
    /// Stop call → `available`.
    pub stop_to_available_s: f64,
    /// `output_s / stop_to_available_s`.
    pub speed_x_realtime: f64,
    /// CPU-seconds the server and its children (ffmpeg, ffprobe) used from stop to
    /// `available`.
    pub cpu_s: f64,
    /// Whether the server could use every CPU while composing (else only the SFU's).
    pub all_cpus: bool,
}

/// The results of [`run_compose`] for one spec.
#[derive(Debug, Clone, Serialize)]
pub struct ComposeReport {
    pub spec: ComposeSpec,
    pub runs: Vec<ComposeRun>,
    pub speed_x_realtime_p50: f64,
    pub stop_to_available_p50_s: f64,
    pub cpu_s_per_output_s_p50: f64,
}

/// The median of `v` (NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn summarize(windows: &[&Window]) -> Summary {
    let m = |f: fn(&Window) -> f64| median(&windows.iter().map(|w| f(w)).collect::<Vec<_>>());
    Summary {
        windows: windows.len(),
        forwarded_pps: m(|w| w.forwarded_pps),
        pkt_per_media_cpu_s: m(|w| w.pkt_per_media_cpu_s),
        pkt_per_process_cpu_s: m(|w| w.pkt_per_process_cpu_s),
        media_cpu_pct: m(|w| w.media_cpu_pct),
        media_preempted_per_s: m(|w| w.media_preempted_per_s),
        process_cpu_pct: m(|w| w.process_cpu_pct),
        recorder_cpu_pct: m(|w| w.recorder_cpu_pct),
        loss_pct: m(|w| w.loss_pct),
    }
}

/// Runs the media pump for a set of publishers until dropped.
pub(crate) struct Pump {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Pump {
    pub(crate) fn start(media: Arc<Media>, senders: Senders) -> Pump {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(crate::media::pump(media, senders, rx));
        Pump {
            stop,
            task: Some(task),
        }
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Joins `n` publishers (audio + video) to `room`; their senders go to `senders`.
pub(crate) async fn publishers(
    sut: &ParlorSut,
    room: &str,
    n: usize,
    senders: &Senders,
) -> anyhow::Result<Vec<(parlor_client::Session, String)>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (session, _) = sut.join(room).await?;
        let (id, sender) = ParlorSut::publish(&session, true, true, false).await?;
        senders.lock().expect("not poisoned").push(sender);
        out.push((session, id));
    }
    Ok(out)
}

/// Polls `archive_id` until it is final; fails unless it became `available`.
async fn wait_available(sdk: &Parlor, archive_id: &str) -> anyhow::Result<Archive> {
    let deadline = Instant::now() + FINISH_TIMEOUT;
    loop {
        let a = sdk.get_archive(archive_id).await?;
        if a.status.is_final() {
            anyhow::ensure!(
                a.status == ArchiveStatus::Available,
                "archive {archive_id} ended {} ({})",
                a.status,
                a.reason.as_deref().unwrap_or("no reason given")
            );
            return Ok(a);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "archive {archive_id} still {} after {} s",
            a.status,
            FINISH_TIMEOUT.as_secs()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits (up to 10 s) until `pid` has `n` recorder threads.
async fn wait_recorders(pid: u32, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let have = procfs::threads(pid)?
            .iter()
            .filter(|t| t.name == RECORDER_THREAD)
            .count();
        if have >= n {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the archive started {have} recorder threads, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn u64_of(v: &serde_json::Value, k: &str) -> u64 {
    v.get(k).and_then(|v| v.as_u64()).unwrap_or(0)
}

/// One measurement window over the running load.
pub(crate) async fn window(
    sut: &ParlorSut,
    stats: &[Arc<ReceiveStats>],
    length: Duration,
    round: usize,
    recorded: bool,
) -> anyhow::Result<Window> {
    let pid = sut.pid();
    let totals = || {
        stats
            .iter()
            .fold((0u64, 0u64), |(p, l), s| (p + s.packets(), l + s.lost()))
    };
    let (p0, l0) = totals();
    let r0 = sut.router_counters().await?;
    let c0 = procfs::cpu(pid)?;
    let t0 = procfs::threads(pid)?;
    tokio::time::sleep(length).await;
    let t1 = procfs::threads(pid)?;
    let c1 = procfs::cpu(pid)?;
    let r1 = sut.router_counters().await?;
    let (p1, l1) = totals();

    let wall = c1.at.duration_since(c0.at).as_secs_f64();
    let process_cpu = (c1.cpu_s - c0.cpu_s).max(1e-9);
    let (media_cpu, media_threads) = procfs::threads_cpu_between(&t0, &t1, MEDIA_THREAD);
    anyhow::ensure!(
        media_threads == 1,
        "expected one '{MEDIA_THREAD}' thread in parlor, found {media_threads}"
    );
    let media_preempted = procfs::threads_preempted_between(&t0, &t1, MEDIA_THREAD);
    let (recorder_cpu, recorder_threads) = procfs::threads_cpu_between(&t0, &t1, RECORDER_THREAD);
    let packets = (p1 - p0) as f64;
    let lost = (l1 - l0) as f64;
    let d = |k: &str| u64_of(&r1, k).saturating_sub(u64_of(&r0, k));
    Ok(Window {
        round,
        recorded,
        seconds: wall,
        forwarded_pps: packets / wall,
        pkt_per_media_cpu_s: packets / media_cpu.max(1e-9),
        pkt_per_process_cpu_s: packets / process_cpu,
        media_cpu_pct: 100.0 * media_cpu / wall,
        media_preempted_per_s: media_preempted as f64 / wall,
        process_cpu_pct: 100.0 * process_cpu / wall,
        recorder_threads,
        recorder_cpu_pct: 100.0 * recorder_cpu / wall,
        loss_pct: if packets + lost > 0.0 {
            100.0 * lost / (packets + lost)
        } else {
            0.0
        },
        tap_packets_per_s: d("tapPackets") as f64 / wall,
        tap_dropped: d("tapDropped"),
    })
}

/// Forwarding with and without recording, in one server, windows alternating.
pub async fn run_record(
    sut: &ParlorSut,
    shape: RecordShape,
    media: Arc<Media>,
) -> anyhow::Result<RecordReport> {
    let pid = sut.pid();
    let room = sut.new_room().await?;
    let senders: Senders = Arc::new(Mutex::new(Vec::new()));
    let pump = Pump::start(media, senders.clone());
    let pubs = publishers(sut, &room, shape.streams, &senders).await?;
    let mut listeners = Vec::new();
    let mut subscriptions = Vec::new();
    let mut stats = Vec::new();
    for _ in 0..shape.subscribers {
        let (session, _) = sut.join(&room).await?;
        for (_, stream) in &pubs {
            let sub = ParlorSut::subscribe(&session, stream, true, true, None).await?;
            stats.push(sub.stats());
            subscriptions.push(sub);
        }
        listeners.push(session);
    }
    // Media on every subscription (bounded wait), then one more second.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && stats.iter().any(|s| s.first_packet.get().is_none()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let silent = stats
        .iter()
        .filter(|s| s.first_packet.get().is_none())
        .count();
    anyhow::ensure!(
        silent == 0,
        "{silent} of {} subscriptions got no media",
        stats.len()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let sdk = sut.sdk();
    let mut windows = Vec::new();
    let mut stop_ms = Vec::new();
    let mut bytes = Vec::new();
    for round in 0..shape.rounds {
        // Flip the order every round, so a trend in the machine's speed hits both kinds.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for recorded in order {
            if recorded {
                let archive = sdk
                    .start_archive(
                        &room,
                        ArchiveOptions {
                            name: Some(format!("bench round {round}")),
                            output_mode: OutputMode::Individual,
                            ..Default::default()
                        },
                    )
                    .await
                    .context("starting the archive")?;
                wait_recorders(pid, shape.streams).await?;
                if let Some(cpu) = shape.recorder_cpu {
                    procfs::pin_threads(pid, RECORDER_THREAD, cpu)?;
                }
                // Let the keyframe requests and the recorders' first clusters pass.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let w = window(sut, &stats, shape.window, round, true).await?;
                anyhow::ensure!(
                    w.recorder_threads == shape.streams,
                    "{} recorder threads ran through the window, not {}",
                    w.recorder_threads,
                    shape.streams
                );
                print_window(&w);
                windows.push(w);
                let t = Instant::now();
                sdk.stop_archive(&archive.id).await?;
                let done = wait_available(sdk, &archive.id).await?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                eprintln!(
                    "  individual archive of {} streams: stop -> available {ms:.0} ms, {} bytes",
                    shape.streams, done.size
                );
                stop_ms.push(ms);
                bytes.push(done.size);
            } else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let w = window(sut, &stats, shape.window, round, false).await?;
                print_window(&w);
                windows.push(w);
            }
        }
    }
    pump.stop().await;
    drop(subscriptions);
    drop(listeners);
    drop(pubs);

    let of = |recorded: bool| -> Vec<&Window> {
        windows.iter().filter(|w| w.recorded == recorded).collect()
    };
    let per_round = |f: fn(&Window) -> f64, g: fn(f64, f64) -> f64| -> Vec<f64> {
        (0..shape.rounds)
            .filter_map(|r| {
                let none = windows.iter().find(|w| w.round == r && !w.recorded)?;
                let rec = windows.iter().find(|w| w.round == r && w.recorded)?;
                Some(g(f(rec), f(none)))
            })
            .collect()
    };
    let media_ratio_per_round = per_round(|w| w.pkt_per_media_cpu_s, |a, b| a / b);
    let process_ratio_per_round = per_round(|w| w.pkt_per_process_cpu_s, |a, b| a / b);
    let streams = shape.streams as f64;
    let extra_per_stream: Vec<f64> = per_round(|w| w.process_cpu_pct, |a, b| a - b)
        .into_iter()
        .map(|d| d / streams)
        .collect();
    let recorder_per_stream: Vec<f64> = of(true)
        .iter()
        .map(|w| w.recorder_cpu_pct / streams)
        .collect();
    Ok(RecordReport {
        streams: shape.streams,
        subscriptions: stats.len(),
        window_s: shape.window.as_secs_f64(),
        rounds: shape.rounds,
        none: summarize(&of(false)),
        recorded: summarize(&of(true)),
        media_ratio: median(&media_ratio_per_round),
        media_ratio_per_round,
        process_ratio: median(&process_ratio_per_round),
        process_ratio_per_round,
        recorder_cpu_pct_per_stream: median(&recorder_per_stream),
        process_cpu_pct_per_stream: median(&extra_per_stream),
        individual_stop_to_available_p50_ms: median(&stop_ms),
        individual_stop_to_available_ms: stop_ms,
        individual_bytes: bytes,
        windows,
    })
}

pub(crate) fn print_window(w: &Window) {
    eprintln!(
        "round {} {:>8}: {:>7.0} pkt/s  {:>7.0} pkt/media-CPU-s ({:>4.1}%, preempted {:>4.0}/s)  {:>7.0} pkt/process-CPU-s ({:>5.1}%)  recorders {} at {:>5.1}%  loss {:.2}%  taps {:.0} pkt/s, {} dropped",
        w.round,
        if w.recorded { "recorded" } else { "none" },
        w.forwarded_pps,
        w.pkt_per_media_cpu_s,
        w.media_cpu_pct,
        w.media_preempted_per_s,
        w.pkt_per_process_cpu_s,
        w.process_cpu_pct,
        w.recorder_threads,
        w.recorder_cpu_pct,
        w.loss_pct,
        w.tap_packets_per_s,
        w.tap_dropped,
    );
}

/// What ffprobe says about an MP4: duration (s) and the first video stream's size.
fn probe(path: &Path) -> anyhow::Result<(f64, (u32, u32))> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=width,height:format=duration"])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .context("cannot run ffprobe (Debian's ffmpeg package)")?;
    anyhow::ensure!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let duration: f64 = v["format"]["duration"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .context("ffprobe gave no duration")?;
    let dim = |k: &str| v["streams"][0][k].as_u64().map(|x| x as u32);
    let size = dim("width")
        .zip(dim("height"))
        .context("the output has no video stream")?;
    Ok((duration, size))
}

/// How a composition run is set up.
#[derive(Debug, Clone)]
pub struct ComposeSetup {
    pub parlor_bin: String,
    pub sfu_cpu: usize,
    /// Seconds recorded before the stop.
    pub record: Duration,
    /// Keep the server (and so ffmpeg) on the SFU's CPU while composing.
    pub pinned: bool,
    /// Where downloaded outputs go (removed after probing).
    pub scratch: PathBuf,
}

/// One composition run: a fresh server, `spec.streams` publishers recorded for
/// `setup.record` into a composed archive, stop, wait for `available`, download, probe.
pub async fn run_compose(
    spec: ComposeSpec,
    setup: &ComposeSetup,
    media: Arc<Media>,
) -> anyhow::Result<ComposeRun> {
    let sut = ParlorSut::start(&setup.parlor_bin, Some(setup.sfu_cpu))?;
    let pid = sut.pid();
    let sdk = sut.sdk();
    let room = sut.new_room().await?;
    let senders: Senders = Arc::new(Mutex::new(Vec::new()));
    let pump = Pump::start(media, senders.clone());
    let pubs = publishers(&sut, &room, spec.streams, &senders).await?;
    // Let every stream be announced before the archive starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let archive = sdk
        .start_archive(
            &room,
            ArchiveOptions {
                name: Some(format!("bench compose {}", spec.resolution())),
                output_mode: OutputMode::Composed,
                resolution: Some(spec.resolution()),
                ..Default::default()
            },
        )
        .await
        .context("starting the composed archive")?;
    let started = Instant::now();
    wait_recorders(pid, spec.streams).await?;
    tokio::time::sleep(setup.record.saturating_sub(started.elapsed())).await;
    if !setup.pinned {
        procfs::unpin_all(pid)?;
    }
    let cpu0 = procfs::cpu(pid)?.cpu_s + procfs::children_cpu_s(pid)?;
    let t = Instant::now();
    let recorded_s = started.elapsed().as_secs_f64();
    sdk.stop_archive(&archive.id).await?;
    // Publishers go quiet: the machine is the composition's.
    pump.stop().await;
    let done = wait_available(sdk, &archive.id).await?;
    let stop_to_available_s = t.elapsed().as_secs_f64();
    let cpu1 = procfs::cpu(pid)?.cpu_s + procfs::children_cpu_s(pid)?;
    drop(pubs);

    std::fs::create_dir_all(&setup.scratch)?;
    let file = setup.scratch.join(done.file_name());
    let output_bytes = sdk.download_archive(&done, &file).await?;
    let probed = probe(&file);
    let _ = std::fs::remove_file(&file);
    let (output_s, output_video) = probed?;
    anyhow::ensure!(
        output_video == (spec.width, spec.height),
        "the output is {}x{}, not {}",
        output_video.0,
        output_video.1,
        spec.resolution()
    );
    drop(sut);
    Ok(ComposeRun {
        streams: spec.streams,
        resolution: spec.resolution(),
        recorded_s,
        output_s,
        output_video,
        output_bytes,
        stop_to_available_s,
        speed_x_realtime: output_s / stop_to_available_s,
        cpu_s: cpu1 - cpu0,
        all_cpus: !setup.pinned,
    })
}

/// Medians over `runs` of one spec.
pub fn compose_report(spec: ComposeSpec, runs: Vec<ComposeRun>) -> ComposeReport {
    let m = |f: fn(&ComposeRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    ComposeReport {
        spec,
        speed_x_realtime_p50: m(|r| r.speed_x_realtime),
        stop_to_available_p50_s: m(|r| r.stop_to_available_s),
        cpu_s_per_output_s_p50: m(|r| r.cpu_s / r.output_s),
        runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compose_specs() {
        let s: ComposeSpec = "4x640x480".parse().unwrap();
        assert_eq!(
            s,
            ComposeSpec {
                streams: 4,
                width: 640,
                height: 480
            }
        );
        assert_eq!(s.resolution(), "640x480");
        assert!("9x1280x720".parse::<ComposeSpec>().is_ok());
        for bad in [
            "",
            "4",
            "4x640",
            "4x640x480x1",
            "0x640x480",
            "17x640x480",
            "4x641x480",
            "ax640x480",
        ] {
            assert!(bad.parse::<ComposeSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn medians() {
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 1.0]), 1.0);
    }
}
