//! `parlor-bench broadcast`: what a live streaming broadcast costs and how late it is,
//! through a real `parlor serve` and the OpenTok broadcast REST API (the server SDK).
//!
//! - **CPU** ([`run_cpu`]): `streams` publishers (VP8 + Opus, the bench media) broadcast
//!   at a resolution to HLS and one RTMP target (an ffmpeg RTMP server started here,
//!   copying to /dev/null). Over a window after every output is live, the CPU seconds per
//!   second of the server process and, apart, of its ffmpeg children (decoders, encoder,
//!   RTMP muxer), read from `/proc`.
//! - **Forwarding** ([`run_forwarding`]): publishers and subscribers to all of them;
//!   10 s windows alternate between nothing and a broadcast of every stream (HLS,
//!   640x480), the order flipped every round, as `archive` does for recording; per
//!   window the packets forwarded per CPU-second of the router's media thread.
//! - **Latency** ([`run_latency`]): one publisher whose video is black with three white
//!   frames every [`FLASH_PERIOD`]; the time each flash was handed to the publisher's
//!   WebRTC stack is known from the pump's clock. An RTMP receiver (ffmpeg, decoding to
//!   16×12 grey frames read here) timestamps each flash as it arrives: glass-to-glass to
//!   an RTMP viewer's decoder (less its own buffering). For HLS the playlist is polled
//!   every 50 ms; each new segment is fetched and decoded, and a flash in it is timed at
//!   the moment the segment appeared in the playlist: the earliest a player can have it
//!   (a frame early in a segment waits for the whole segment, a late one hardly).
//!   A player adds its own hold-back (hls.js starts 3 target durations behind the live
//!   edge by default), which is not part of this figure.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use parlor_sdk::{BroadcastOptions, HlsOptions, RtmpTarget};
use serde::Serialize;

use crate::archive::{Pump, Window, median, print_window, publishers, window};
use crate::media::{Media, Senders};
use crate::parlor::ParlorSut;
use crate::procfs;

/// A flash (three white frames) every this long: not a multiple of the HLS segment
/// length (1 or 2 s), so successive flashes fall at different places in their segments
/// and the median is a frame's typical wait, not one phase's.
pub const FLASH_PERIOD: Duration = Duration::from_millis(10_500);
/// Frames per second of the bench media (the pump's clock).
const FPS: u64 = 30;
/// The longest the outputs may take to go live.
const LIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The CPU of one broadcast.
#[derive(Debug, Clone, Serialize)]
pub struct CpuReport {
    pub streams: usize,
    pub resolution: String,
    pub window_s: f64,
    /// CPU seconds per second of the `parlor serve` process (media router, feeders, mixer).
    pub server_cpu: f64,
    /// CPU seconds per second of its ffmpeg children (decoders, encoder, RTMP muxer).
    pub ffmpeg_cpu: f64,
    pub total_cpu: f64,
    /// ffmpeg children running during the window.
    pub ffmpeg_processes: usize,
}

/// Latencies of one broadcast, in ms.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    pub hls_mode: &'static str,
    pub rtmp_ms: Vec<f64>,
    pub hls_segment_available_ms: Vec<f64>,
    pub hls_target_duration_s: Option<f64>,
}

/// Forwarding with and without a broadcast of every stream, windows alternating in one
/// server (the column `recorded` of each window says *broadcast*).
#[derive(Debug, Clone, Serialize)]
pub struct ForwardingReport {
    pub streams: usize,
    pub subscriptions: usize,
    pub windows: Vec<Window>,
    /// Per round: broadcast ÷ none, packets per CPU-second of the media thread.
    pub media_ratio_per_round: Vec<f64>,
    pub media_ratio: f64,
    pub none_pkt_per_media_cpu_s: f64,
    pub broadcast_pkt_per_media_cpu_s: f64,
}

/// What a broadcast costs the forwarding figure: `streams` publishers, `subscribers`
/// clients subscribed to all of them, `rounds` pairs of windows (none / a broadcast of
/// every stream at 640x480 to HLS), the order flipped every round.
pub async fn run_forwarding(
    bin: &str,
    media: Arc<Media>,
    streams: usize,
    subscribers: usize,
    length: Duration,
    rounds: usize,
) -> anyhow::Result<ForwardingReport> {
    let sut = ParlorSut::start(bin, None)?;
    let room = sut.new_room().await?;
    let senders: Senders = Arc::new(Mutex::new(Vec::new()));
    let pump = Pump::start(media, senders.clone());
    let pubs = publishers(&sut, &room, streams, &senders).await?;
    let mut keep = Vec::new();
    let mut listeners = Vec::new();
    let mut stats = Vec::new();
    for _ in 0..subscribers {
        let (session, _) = sut.join(&room).await?;
        for (_, stream) in &pubs {
            let sub = ParlorSut::subscribe(&session, stream, true, true, None).await?;
            stats.push(sub.stats());
            keep.push(sub);
        }
        listeners.push(session);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut windows = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for broadcast in order {
            if broadcast {
                let b = sut
                    .sdk()
                    .start_broadcast(
                        &room,
                        BroadcastOptions {
                            hls: Some(HlsOptions::default()),
                            ..Default::default()
                        },
                    )
                    .await?;
                wait_live(&sut, &b.id).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
                let w = window(&sut, &stats, length, round, true).await?;
                print_window(&w);
                windows.push(w);
                sut.sdk().stop_broadcast(&b.id).await?;
            } else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let w = window(&sut, &stats, length, round, false).await?;
                print_window(&w);
                windows.push(w);
            }
        }
    }
    pump.stop().await;
    drop(keep);
    drop(listeners);
    let per_round: Vec<f64> = (0..rounds)
        .map(|r| {
            let f = |b: bool| {
                windows
                    .iter()
                    .find(|w| w.round == r && w.recorded == b)
                    .map_or(f64::NAN, |w| w.pkt_per_media_cpu_s)
            };
            f(true) / f(false)
        })
        .collect();
    let of = |b: bool| -> Vec<f64> {
        windows
            .iter()
            .filter(|w| w.recorded == b)
            .map(|w| w.pkt_per_media_cpu_s)
            .collect()
    };
    Ok(ForwardingReport {
        streams,
        subscriptions: stats.len(),
        media_ratio: median(&per_round),
        media_ratio_per_round: per_round,
        none_pkt_per_media_cpu_s: median(&of(false)),
        broadcast_pkt_per_media_cpu_s: median(&of(true)),
        windows,
    })
}

/// `(pid, CPU seconds)` of the live children of `pid`.
fn children_cpu(pid: u32) -> Vec<(u32, f64)> {
    let ticks = 100.0; // USER_HZ on Linux
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if f.len() < 13 || f[1].parse::<u32>().ok() != Some(pid) {
            continue;
        }
        let (u, s): (f64, f64) = (f[11].parse().unwrap_or(0.0), f[12].parse().unwrap_or(0.0));
        out.push((child, (u + s) / ticks));
    }
    out
}

/// An ffmpeg RTMP server on a free port, for `/live/bench`; its stdout is what `args`
/// make of the stream.
fn rtmp_receiver(args: &[&str]) -> anyhow::Result<(std::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-listen", "1", "-i"])
        .arg(format!("rtmp://127.0.0.1:{port}/live/bench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("ffmpeg (the RTMP receiver)")?;
    std::thread::sleep(Duration::from_millis(300));
    Ok((child, format!("rtmp://127.0.0.1:{port}/live")))
}

async fn wait_live(sut: &ParlorSut, id: &str) -> anyhow::Result<parlor_sdk::Broadcast> {
    let deadline = Instant::now() + LIVE_TIMEOUT;
    loop {
        let b = sut.sdk().get_broadcast(id).await?;
        let hls_live = b.broadcast_urls.hls.is_none()
            || b.broadcast_urls.hls_status.as_deref() == Some("live");
        let rtmp_live = b
            .broadcast_urls
            .rtmp
            .iter()
            .all(|t| t.status.as_deref() == Some("live"));
        if hls_live && rtmp_live {
            return Ok(b);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the broadcast's outputs did not go live: {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The CPU of broadcasting `streams` publishers at `resolution` for `window`.
pub async fn run_cpu(
    bin: &str,
    media: Arc<Media>,
    streams: usize,
    resolution: &str,
    window: Duration,
) -> anyhow::Result<CpuReport> {
    let sut = ParlorSut::start(bin, None)?;
    let room = sut.new_room().await?;
    let senders: Senders = Arc::new(Mutex::new(Vec::new()));
    let _clients = publishers(&sut, &room, streams, &senders).await?;
    let pump = Pump::start(media, senders);
    let (mut receiver, server_url) = rtmp_receiver(&["-c", "copy", "-f", "null", "-"])?;
    let b = sut
        .sdk()
        .start_broadcast(
            &room,
            BroadcastOptions {
                hls: Some(HlsOptions::default()),
                rtmp: vec![RtmpTarget::new("bench", &server_url, "bench")],
                resolution: Some(resolution.to_owned()),
                ..Default::default()
            },
        )
        .await?;
    wait_live(&sut, &b.id).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = sut.pid();
    let (s0, c0) = (procfs::cpu(pid)?, children_cpu(pid));
    tokio::time::sleep(window).await;
    let (s1, c1) = (procfs::cpu(pid)?, children_cpu(pid));
    let secs = s1.at.duration_since(s0.at).as_secs_f64();
    let server_cpu = (s1.cpu_s - s0.cpu_s) / secs;
    let ffmpeg_cpu = c1
        .iter()
        .map(|(p, t)| t - c0.iter().find(|(q, _)| q == p).map_or(0.0, |(_, t0)| *t0))
        .sum::<f64>()
        / secs;
    sut.sdk().stop_broadcast(&b.id).await?;
    pump.stop().await;
    let _ = receiver.kill();
    let _ = receiver.wait();
    Ok(CpuReport {
        streams,
        resolution: resolution.to_owned(),
        window_s: secs,
        server_cpu,
        ffmpeg_cpu,
        total_cpu: server_cpu + ffmpeg_cpu,
        ffmpeg_processes: c1.len(),
    })
}

/// Makes the flash video: black 320×240 at 30 fps, white for frames 0–2 of every
/// [`FLASH_PERIOD`], VP8 with a key frame every second.
fn flash_frames(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let path = dir.join("parlor-bench-flash-10.5s.ivf");
    if !path.exists() {
        let tmp = dir.join(format!("flash-{}.ivf", std::process::id()));
        let period = FLASH_PERIOD.as_millis() as u64 * FPS / 1000;
        let status = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("color=black:s=320x240:r={FPS}"))
            .arg("-vf")
            .arg(format!(
                "drawbox=c=white:t=fill:enable='lt(mod(n\\,{period})\\,3)'"
            ))
            .args(["-frames:v", &period.to_string()])
            .args(["-c:v", "libvpx", "-g", "30", "-b:v", "300k", "-f", "ivf"])
            .arg(&tmp)
            .status()
            .context("ffmpeg (making the flash video)")?;
        anyhow::ensure!(status.success(), "ffmpeg could not make the flash video");
        std::fs::rename(&tmp, &path)?;
    }
    let mut r =
        parlor_media::ivf::IvfReader::new(std::io::BufReader::new(std::fs::File::open(&path)?))?;
    let mut frames = Vec::new();
    while let Some(f) = r.next_frame()? {
        frames.push(f.data);
    }
    Ok(frames)
}

/// Rising edges of the mean luma of `frames` (16×12 grey each).
fn is_flash(frame: &[u8]) -> bool {
    let mean = frame.iter().map(|&b| b as u32).sum::<u32>() / frame.len().max(1) as u32;
    mean > 128
}

/// The latency of RTMP and of HLS (`low_latency` or normal) for one broadcast lasting
/// `duration`.
pub async fn run_latency(
    bin: &str,
    audio: &Media,
    media_dir: &Path,
    low_latency: bool,
    duration: Duration,
) -> anyhow::Result<LatencyReport> {
    let media = Arc::new(Media {
        video: flash_frames(media_dir)?,
        audio: audio.audio.clone(),
    });
    let sut = ParlorSut::start(bin, None)?;
    let room = sut.new_room().await?;
    let senders: Senders = Arc::new(Mutex::new(Vec::new()));
    let _clients = publishers(&sut, &room, 1, &senders).await?;
    let (mut receiver, server_url) = rtmp_receiver(&[
        "-an",
        "-vf",
        "scale=16:12,format=gray",
        "-f",
        "rawvideo",
        "pipe:1",
    ])?;
    let b = sut
        .sdk()
        .start_broadcast(
            &room,
            BroadcastOptions {
                hls: Some(HlsOptions {
                    dvr: false,
                    low_latency,
                }),
                rtmp: vec![RtmpTarget::new("bench", &server_url, "bench")],
                resolution: Some("640x480".into()),
                ..Default::default()
            },
        )
        .await?;
    let pump_start = Instant::now();
    let pump = Pump::start(media.clone(), senders);
    let flash_at = move |t: Instant| -> Instant {
        // The flash sent last before `t`.
        let since = t.duration_since(pump_start).as_secs_f64();
        let k = (since / FLASH_PERIOD.as_secs_f64()).floor();
        pump_start + Duration::from_secs_f64(k * FLASH_PERIOD.as_secs_f64())
    };
    let b = wait_live(&sut, &b.id).await?;
    let hls_url = b.broadcast_urls.hls.clone().context("no HLS URL")?;

    // RTMP: frames as they arrive.
    let mut stdout = receiver.stdout.take().context("receiver stdout")?;
    let rtmp = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut frame = [0u8; 16 * 12];
        let mut was = false;
        while stdout.read_exact(&mut frame).is_ok() {
            let now = Instant::now();
            let flash = is_flash(&frame);
            if flash && !was {
                out.push(now.duration_since(flash_at(now)).as_secs_f64() * 1000.0);
            }
            was = flash;
        }
        out
    });

    // HLS: new segments as they appear in the playlist.
    let http = reqwest::Client::new();
    let base = hls_url
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    let mut hls = Vec::new();
    let mut target = None;
    let scratch = std::env::temp_dir().join(format!("parlor-bench-hls-{}.ts", std::process::id()));
    let end = Instant::now() + duration;
    let mut was = false;
    let mut first = true;
    while Instant::now() < end {
        let playlist = http.get(&hls_url).send().await?.text().await?;
        let appeared = Instant::now();
        for line in playlist.lines() {
            if let Some(t) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
                target = t.trim().parse::<f64>().ok();
            }
            if line.starts_with('#') || line.trim().is_empty() || !seen.insert(line.to_owned()) {
                continue;
            }
            if first {
                // Listed before the bench looked: when they appeared is unknown.
                continue;
            }
            let bytes = http
                .get(format!("{base}/{line}"))
                .send()
                .await?
                .bytes()
                .await?;
            std::fs::write(&scratch, &bytes)?;
            let frames = Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-i"])
                .arg(&scratch)
                .args([
                    "-an",
                    "-vf",
                    "scale=16:12,format=gray",
                    "-f",
                    "rawvideo",
                    "pipe:1",
                ])
                .output()?;
            for frame in frames.stdout.chunks_exact(16 * 12) {
                let flash = is_flash(frame);
                if flash && !was {
                    hls.push(appeared.duration_since(flash_at(appeared)).as_secs_f64() * 1000.0);
                }
                was = flash;
            }
        }
        first = false;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(&scratch);
    sut.sdk().stop_broadcast(&b.id).await?;
    pump.stop().await;
    let _ = receiver.kill();
    let _ = receiver.wait();
    let rtmp_ms = rtmp.join().unwrap_or_default();
    Ok(LatencyReport {
        hls_mode: if low_latency { "lowLatency" } else { "normal" },
        rtmp_ms,
        hls_segment_available_ms: hls,
        hls_target_duration_s: target,
    })
}
