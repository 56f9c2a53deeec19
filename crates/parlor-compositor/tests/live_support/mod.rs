//! Helpers of `live_ffmpeg.rs`: test media made with ffmpeg, real-time feeders, RTMP
//! servers (`ffmpeg -listen 1`), ffprobe and frame-colour checks, playlists, and the
//! `/proc` readings (children, CPU).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parlor_compositor::ffmpeg::{self, FfmpegInfo};
use parlor_compositor::layout::{
    LayoutSpec, LayoutStream, LayoutType, Placement, Resolution, layout,
};
use parlor_compositor::live::{
    HlsConfig, LiveConfig, LiveEvent, RtmpTarget, SourceInput, TargetStatus,
};
use parlor_media::ivf::IvfReader;
use parlor_media::ogg_opus::OggOpusReader;
use parlor_recorder::{FrameIn, TrackKind};

pub const W: u32 = 640;
pub const H: u32 = 360;

pub fn info() -> FfmpegInfo {
    ffmpeg::detect().expect("ffmpeg installed (apt-get install ffmpeg)")
}

/// A fresh directory for one test.
pub fn test_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("parlor-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Shared media (made once per machine, like the fixtures).
pub fn media_dir() -> PathBuf {
    std::env::temp_dir().join("parlor-live-media")
}

pub fn run_ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates `name` in the media directory with ffmpeg (`args` then the output), once.
pub fn media(name: &str, args: &[&str]) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = media_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    if !path.exists() {
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut a = args.to_vec();
        a.push(tmp.to_str().unwrap());
        run_ffmpeg(&a);
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// A solid-colour VP8 IVF (320×240, 30 fps, 2 s, a key frame every 30 frames).
pub fn colour_ivf(colour: &str) -> PathBuf {
    let src = format!("color=c={colour}:size=320x240:rate=30:d=2");
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", &src, "-c:v", "libvpx", "-b:v", "200k", "-g", "30",
        "-keyint_min", "30", "-deadline", "realtime", "-cpu-used", "8",
        "-auto-alt-ref", "0", "-lag-in-frames", "0", "-f", "ivf",
    ];
    media(&format!("{colour}.ivf"), &args)
}

/// A sine at `hz` in Opus/Ogg (20 ms packets, 6 s).
pub fn sine_ogg(hz: u32) -> PathBuf {
    let src = format!("sine=frequency={hz}:sample_rate=48000:duration=6");
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", &src, "-c:a", "libopus", "-b:a", "48k",
        "-frame_duration", "20", "-f", "ogg",
    ];
    media(&format!("sine-{hz}.ogg"), &args)
}

pub fn fixtures() -> parlor_media::fixtures::Fixtures {
    parlor_media::fixtures::ensure(&media_dir()).unwrap()
}

pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// Feeds a source in real time from looped files on its own thread.
pub struct Feeder {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<SourceInput>,
}

impl Feeder {
    pub fn start(mut input: SourceInput, video: Option<&Path>, audio: Option<&Path>) -> Self {
        let frames: Vec<Vec<u8>> = video
            .map(|p| {
                let mut r = IvfReader::new(std::fs::File::open(p).unwrap()).unwrap();
                std::iter::from_fn(|| r.next_frame().unwrap().map(|f| f.data)).collect()
            })
            .unwrap_or_default();
        let packets: Vec<Vec<u8>> = audio
            .map(|p| {
                let mut r = OggOpusReader::new(std::fs::File::open(p).unwrap()).unwrap();
                std::iter::from_fn(|| r.next_packet().unwrap().map(|p| p.data)).collect()
            })
            .unwrap_or_default();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            let (mut vi, mut ai, mut ticks) = (0u64, 0u64, 0u64);
            let video_at = |i: u64| Duration::from_micros(i * 1_000_000 / 30);
            let audio_at = |i: u64| Duration::from_millis(i * 20);
            let timeout_at = |i: u64| Duration::from_millis(i * 100);
            while !stopped.load(Ordering::Relaxed) {
                let t = start.elapsed();
                if !frames.is_empty() && video_at(vi) <= t {
                    let data = &frames[(vi % frames.len() as u64) as usize];
                    let f = FrameIn {
                        rtp_time: (vi * 3000) as u32,
                        data,
                        contiguous: true,
                    };
                    input.push_frame(TrackKind::Video, &f, unix_micros());
                    vi += 1;
                }
                if !packets.is_empty() && audio_at(ai) <= t {
                    let data = &packets[(ai % packets.len() as u64) as usize];
                    let f = FrameIn {
                        rtp_time: (ai * 960) as u32,
                        data,
                        contiguous: true,
                    };
                    input.push_frame(TrackKind::Audio, &f, unix_micros());
                    ai += 1;
                }
                if timeout_at(ticks) <= t {
                    input.handle_timeout(unix_micros());
                    ticks += 1;
                }
                let mut next = timeout_at(ticks);
                if !frames.is_empty() {
                    next = next.min(video_at(vi));
                }
                if !packets.is_empty() {
                    next = next.min(audio_at(ai));
                }
                std::thread::sleep(next.saturating_sub(start.elapsed()));
            }
            input
        });
        Feeder { stop, handle }
    }

    pub fn finish(self) -> SourceInput {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// Events into a channel.
pub fn events() -> (Box<dyn Fn(LiveEvent) + Send + Sync>, Receiver<LiveEvent>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    (
        Box::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }),
        rx,
    )
}

/// Waits for an event matching `pred`; panics after `secs` (listing what came).
pub fn wait_event(rx: &Receiver<LiveEvent>, secs: u64, mut pred: impl FnMut(&LiveEvent) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return,
            Ok(e) => seen.push(e),
            Err(_) => break,
        }
    }
    panic!("event not seen in {secs} s; saw {seen:?}");
}

pub fn is_status(e: &LiveEvent, id: &str, want: fn(&TargetStatus) -> bool) -> bool {
    matches!(e, LiveEvent::Target { id: i, status } if i == id && want(status))
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An RTMP server: `ffmpeg -listen 1` copying what it receives to an MPEG-TS file.
pub struct RtmpServer {
    child: Child,
    /// Where it writes what it receives.
    pub out: PathBuf,
}

pub fn receive_rtmp(port: u16, out: &Path) -> RtmpServer {
    let url = format!("rtmp://127.0.0.1:{port}/live/key");
    // Its errors (the stream ending is one) go to a file beside its output.
    let log = std::fs::File::create(out.with_extension("log")).unwrap();
    let child = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-listen", "1", "-i", &url, "-c", "copy", "-f", "mpegts"])
        .arg(out)
        .stdin(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // Let it bind before a target connects (probing the port would use up its one
    // accept); a target that is early is refused and retries.
    std::thread::sleep(Duration::from_millis(400));
    RtmpServer {
        child,
        out: out.to_owned(),
    }
}

impl RtmpServer {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (up to 10 s) for it to end by itself after the stream ended.
    pub fn finish(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}

impl Drop for RtmpServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// ffprobe's streams of `path`: `codec,width,height` per stream.
pub fn probe(path: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let mut s: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(',').to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    s.sort();
    s.dedup();
    s
}

/// The last video frame of `path`, scaled to 64×36 RGB.
pub fn last_frame(path: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-vf", "scale=64:36:flags=area"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
        .output()
        .unwrap();
    let frame = 64 * 36 * 3;
    assert!(
        out.stdout.len() >= frame,
        "no frame decoded from {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout[out.stdout.len() - frame..].to_vec()
}

/// The average colour of a region of a 64×36 frame given in 640×360 coordinates.
pub fn avg(frame: &[u8], x0: u32, y0: u32, x1: u32, y1: u32) -> [f64; 3] {
    let (x0, y0, x1, y1) = (x0 / 10, y0 / 10, x1 / 10, y1 / 10);
    let mut sum = [0f64; 3];
    let mut n = 0.0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * 64 + x) * 3) as usize;
            for c in 0..3 {
                sum[c] += f64::from(frame[i + c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

pub fn is_red(c: [f64; 3]) -> bool {
    c[0] > 180.0 && c[1] < 60.0 && c[2] < 60.0
}

pub fn is_blue(c: [f64; 3]) -> bool {
    c[2] > 180.0 && c[0] < 60.0 && c[1] < 60.0
}

pub fn is_black(c: [f64; 3]) -> bool {
    c.iter().all(|v| *v < 30.0)
}

pub fn stream(id: &str, seq: u64) -> LayoutStream {
    LayoutStream {
        id: id.into(),
        added_seq: seq,
        has_video: true,
        size: Some((320, 240)),
        ..LayoutStream::default()
    }
}

pub fn placements(kind: LayoutType, ids: &[&str]) -> Vec<Placement> {
    let streams: Vec<LayoutStream> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| stream(id, i as u64))
        .collect();
    layout(
        &streams,
        &LayoutSpec::predefined(kind),
        Resolution {
            width: W,
            height: H,
        },
    )
}

pub fn config(hls: Option<HlsConfig>, rtmp: Vec<RtmpTarget>) -> LiveConfig {
    LiveConfig {
        width: W,
        height: H,
        fps: 15,
        video_bitrate_bps: 800_000,
        has_audio: true,
        has_video: true,
        hls,
        rtmp,
    }
}

pub fn hls(dir: &Path, dvr: bool, low_latency: bool) -> HlsConfig {
    HlsConfig {
        dir: dir.join("hls"),
        dvr,
        low_latency,
    }
}

pub fn playlist(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("hls/index.m3u8")).unwrap_or_default()
}

/// The segments a playlist lists.
pub fn segments(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| l.ends_with(".ts"))
        .map(str::to_owned)
        .collect()
}

/// Waits until the playlist lists `n` more segments than `after`; returns the last.
pub fn wait_segments(dir: &Path, after: usize, n: usize) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = playlist(dir);
        let s = segments(&p);
        let total = s.len() + media_sequence(&p);
        if total >= after + n {
            return dir.join("hls").join(s.last().unwrap());
        }
        assert!(Instant::now() < deadline, "segments did not come: {p}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn media_sequence(playlist: &str) -> usize {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub fn segment_count(dir: &Path) -> usize {
    let p = playlist(dir);
    segments(&p).len() + media_sequence(&p)
}

pub fn no_keyframe_requests() -> Box<dyn Fn() + Send + Sync> {
    Box::new(|| {})
}

/// Children of this process whose command line contains `needle`.
pub fn children_with(needle: &str) -> Vec<i32> {
    children_with_all(&[needle])
}

/// Children of this process whose command line contains every one of `needles`.
pub fn children_with_all(needles: &[&str]) -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat[stat.rfind(')').unwrap() + 2..]
            .split_whitespace()
            .nth(1);
        if ppid != Some(me.as_str()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if needles.iter().all(|n| cmdline.contains(n)) {
            found.push(pid);
        }
    }
    found
}

/// A `Failed` event among those received so far, if any.
pub fn rx_failed(ev: &Receiver<LiveEvent>) -> Option<String> {
    ev.try_iter().find_map(|e| match e {
        LiveEvent::Failed(r) => Some(r),
        _ => None,
    })
}

pub fn wall_secs(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

/// utime + stime of the running children whose command line contains `needle`.
pub fn children_ticks(needle: &str) -> u64 {
    children_with(needle)
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            let f: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..]
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0))
                .collect();
            f[11] + f[12]
        })
        .sum()
}

/// utime + stime of this process and its reaped children, in clock ticks.
pub fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // Fields 14–17 (utime, stime, cutime, cstime) are 11–14 after the state field.
    f[11] + f[12] + f[13] + f[14]
}

pub fn sysconf_clk_tck() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100.0)
}
