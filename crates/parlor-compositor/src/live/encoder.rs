//! The encoder: one ffmpeg that encodes the composed stream once (H.264 + AAC) and
//! writes HLS itself and MPEG-TS on its stdout for the RTMP fan-out (`tee` muxer).
//!
//! Inputs: raw yuv420p frames on stdin (`-f rawvideo -s WxH -r fps`), s16le 48 kHz
//! stereo over a loopback TCP connection to a port the engine listens on. Each has its
//! own writer thread, so a stalled input never blocks the other or the mixer. Only the
//! encoder's own connection is accepted: the connecting socket must be one of the
//! child's file descriptors (checked through `/proc/net/tcp` and `/proc/PID/fd`; where
//! there is no `/proc` the check is skipped). Both inputs are timed by position (frame
//! count, sample count), which the mixer keeps in step.
//!
//! If the encoder dies while the broadcast runs it is restarted (at most
//! [`MAX_RESTARTS`] times, 0.5 s apart): HLS appends to the playlist (`append_list`,
//! with a discontinuity) and every RTMP target restarts its ffmpeg (the new stream's
//! timestamps start at 0 again). After that [`LiveEvent::Failed`] is sent; sources,
//! mixer and targets keep running until `stop`, but nothing is encoded.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::mixer::WriterEnd;
use super::proc::{Signal, kill_wait, lock, read_stderr};
use super::rtmp::TargetShared;
use super::ts::Fanout;
use super::{Counters, EventSink, LiveConfig, LiveEvent, hls};
use crate::ffmpeg::FfmpegInfo;

/// Restarts of a dead encoder before the broadcast fails.
pub const MAX_RESTARTS: u32 = 2;
/// How long the encoder may take to finish (write the last segment and `#EXT-X-ENDLIST`)
/// once its inputs are closed.
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the encoder to connect to the audio port.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The GOP (and HLS segment) length in frames.
pub(crate) fn gop_frames(cfg: &LiveConfig) -> u32 {
    let secs = cfg.hls.as_ref().map_or(2, hls::segment_secs);
    cfg.fps * secs
}

/// The encoder's ffmpeg arguments; `audio_port` is the loopback port of the audio input.
pub(crate) fn encoder_args(cfg: &LiveConfig, audio_port: u16, append_hls: bool) -> Vec<String> {
    let mut a: Vec<String> = Vec::with_capacity(64);
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
    push(&["-hide_banner", "-nostats", "-loglevel", "warning"]);
    let (w, h, fps) = (cfg.width, cfg.height, cfg.fps);
    if cfg.has_video {
        push(&["-f", "rawvideo", "-pix_fmt", "yuv420p"]);
        push(&["-s", &format!("{w}x{h}"), "-r", &fps.to_string()]);
        push(&["-probesize", "32", "-analyzeduration", "0"]);
        push(&["-thread_queue_size", "16", "-i", "pipe:0"]);
    }
    if cfg.has_audio {
        push(&["-f", "s16le", "-ar", "48000", "-ac", "2"]);
        // Raw PCM has no layout: without this ffmpeg warns that it guessed stereo.
        push(&["-guess_layout_max", "0"]);
        push(&["-probesize", "32", "-analyzeduration", "0"]);
        let url = format!("tcp://127.0.0.1:{audio_port}");
        push(&["-thread_queue_size", "64", "-i", &url]);
    }
    let audio_input = usize::from(cfg.has_video);
    if cfg.has_video {
        let gop = gop_frames(cfg).to_string();
        let rate = cfg.video_bitrate_bps.to_string();
        push(&["-map", "0:v"]);
        push(&[
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
        ]);
        push(&["-pix_fmt", "yuv420p", "-g", &gop, "-keyint_min", &gop]);
        push(&["-sc_threshold", "0", "-b:v", &rate, "-maxrate", &rate]);
        push(&["-bufsize", &rate]);
    }
    if cfg.has_audio {
        push(&["-map", &format!("{audio_input}:a")]);
        push(&["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"]);
    }
    push(&["-max_muxing_queue_size", "1024", "-f", "tee"]);
    let ts = "[f=mpegts:flush_packets=1]pipe:1".to_owned();
    a.push(match &cfg.hls {
        Some(h) => format!("{}|{ts}", hls::tee_slave(h, append_hls)),
        None => ts,
    });
    a
}

/// How one encoder run ended.
enum RunEnd {
    /// Stopped on purpose (inputs closed, or killed on drop).
    Done,
    /// Died by itself, with a reason.
    Crashed(String),
}

/// The encoder's supervisor thread and what it owns between runs.
pub(crate) struct Encoder {
    pub info: FfmpegInfo,
    pub cfg: LiveConfig,
    pub video: Option<WriterEnd<Box<[u8]>>>,
    pub audio: Option<WriterEnd<Vec<u8>>>,
    pub listener: Option<TcpListener>,
    pub fanout: Option<Fanout>,
    pub targets: Vec<Arc<TargetShared>>,
    pub counters: Arc<Counters>,
    pub sent_at: Arc<Mutex<VecDeque<Instant>>>,
    pub events: EventSink,
    /// Set once the mixer stopped: the encoder is expected to finish.
    pub finishing: Arc<Signal>,
    /// Set when the compositor is dropped: kill at once.
    pub kill: Arc<Signal>,
    /// The failure reason once the broadcast failed.
    pub failed: Arc<Mutex<Option<String>>>,
}

impl Encoder {
    /// The thread's body: run, restart on a crash, until stopped or failed.
    pub(crate) fn run(mut self) {
        let mut restarts = 0;
        loop {
            match self.run_once(restarts > 0) {
                RunEnd::Done => break,
                RunEnd::Crashed(reason) => {
                    if restarts == MAX_RESTARTS {
                        tracing::error!(%reason, "live encoder failed; giving up");
                        *lock(&self.failed) = Some(reason.clone());
                        (self.events)(LiveEvent::Failed(reason));
                        break;
                    }
                    restarts += 1;
                    self.counters
                        .encoder_restarts
                        .store(u64::from(restarts), Ordering::Relaxed);
                    tracing::warn!(%reason, restarts, "live encoder died; restarting it");
                    for t in &self.targets {
                        t.request_restart();
                    }
                    if self.kill.wait(Duration::from_millis(500)) || self.finishing.is_set() {
                        break;
                    }
                    if let Some(f) = self.fanout.as_mut() {
                        f.reset(self.cfg.has_video);
                    }
                    lock(&self.sent_at).clear();
                }
            }
        }
        // Dropping the feeds ends the targets' input: they finish and end.
        self.fanout.take().map(Fanout::into_feeds);
    }

    fn run_once(&mut self, append: bool) -> RunEnd {
        let port = self
            .listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or(0, |a| a.port());
        let spawned = Command::new(&self.info.ffmpeg)
            .args(encoder_args(&self.cfg, port, append))
            .stdin(if self.cfg.has_video {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                // Not worth retrying: the executable cannot be run.
                let reason = format!("cannot run ffmpeg: {e}");
                *lock(&self.failed) = Some(reason.clone());
                (self.events)(LiveEvent::Failed(reason));
                return RunEnd::Done;
            }
        };
        let pid = child.id();
        let abort = Arc::new(AtomicBool::new(false));
        // Set by the audio writer if the encoder never connects: the run is a crash.
        let unconnected = Arc::new(AtomicBool::new(false));
        let mut threads = Threads::default();
        let started = (|| -> std::io::Result<()> {
            if let (Some(stdin), Some(end)) = (child.stdin.take(), self.video.take()) {
                let abort = abort.clone();
                threads.video = Some(
                    std::thread::Builder::new()
                        .name("live-enc-video".into())
                        .spawn(move || write_input(stdin, end, &abort))?,
                );
            }
            if let (Some(listener), Some(end)) = (self.listener.as_ref(), self.audio.take()) {
                let listener = listener.try_clone()?;
                let (abort, unconnected) = (abort.clone(), unconnected.clone());
                threads.audio = Some(
                    std::thread::Builder::new()
                        .name("live-enc-audio".into())
                        .spawn(move || write_audio(listener, end, pid, &abort, &unconnected))?,
                );
            }
            let stdout = child.stdout.take().expect("piped");
            let fanout = self.fanout.take().expect("fan-out kept between runs");
            let (counters, sent_at) = (self.counters.clone(), self.sent_at.clone());
            threads.ts = Some(
                std::thread::Builder::new()
                    .name("live-enc-ts".into())
                    .spawn(move || read_ts(stdout, fanout, &counters, &sent_at))?,
            );
            let stderr = child.stderr.take().expect("piped");
            // The first lines of a run are warnings; more are likely a repeating one.
            let mut lines = 0;
            let (tail, handle) = read_stderr(stderr, "live-enc-err".into(), None, move |line| {
                lines += 1;
                if lines <= 20 {
                    tracing::warn!(process = "live encoder", "{line}");
                }
            })?;
            threads.stderr = Some((tail, handle));
            Ok(())
        })();
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the live encoder's threads");
            kill_wait(&mut child);
        }
        let mut finish_by = None;
        let status = loop {
            if self.kill.is_set() {
                break kill_wait(&mut child);
            }
            if unconnected.load(Ordering::Relaxed) {
                tracing::warn!("live encoder did not connect to its audio input; killed");
                break kill_wait(&mut child);
            }
            if self.finishing.is_set() {
                let by = *finish_by.get_or_insert_with(|| Instant::now() + FINISH_TIMEOUT);
                if Instant::now() >= by {
                    tracing::warn!("live encoder did not finish in time; killed");
                    break kill_wait(&mut child);
                }
            }
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => break kill_wait(&mut child),
            }
        };
        abort.store(true, Ordering::Relaxed);
        if let Some(t) = threads.video.take() {
            self.video = t.join().ok();
        }
        if let Some(t) = threads.audio.take() {
            self.audio = t.join().ok();
        }
        if let Some(t) = threads.ts.take() {
            self.fanout = t.join().ok();
        }
        let mut reason = status.map_or("ffmpeg could not be waited for".to_owned(), |s| {
            format!("ffmpeg exited ({s})")
        });
        if let Some((tail, handle)) = threads.stderr.take() {
            let _ = handle.join();
            if let Some(last) = tail.reason() {
                reason = format!("{reason}: {last}");
            }
        }
        if self.fanout.is_none() || (self.cfg.has_video && self.video.is_none()) {
            // A writer thread panicked: nothing to restart with.
            return RunEnd::Crashed(format!("{reason} (pipeline lost)"));
        }
        if self.kill.is_set() || self.finishing.is_set() {
            RunEnd::Done
        } else {
            RunEnd::Crashed(reason)
        }
    }
}

/// The threads of one encoder run.
#[derive(Default)]
struct Threads {
    video: Option<std::thread::JoinHandle<WriterEnd<Box<[u8]>>>>,
    audio: Option<std::thread::JoinHandle<WriterEnd<Vec<u8>>>>,
    ts: Option<std::thread::JoinHandle<Fanout>>,
    stderr: Option<(super::proc::StderrTail, std::thread::JoinHandle<()>)>,
}

/// Writes buffers from the mixer to `w` until the mixer stops (then closes `w`), `w`
/// fails, or `abort`; hands the pool end back for the next run.
fn write_input<W: Write, B: AsRef<[u8]>>(
    mut w: W,
    end: WriterEnd<B>,
    abort: &AtomicBool,
) -> WriterEnd<B> {
    loop {
        match end.full.recv_timeout(Duration::from_millis(100)) {
            Ok(buf) => {
                let r = w.write_all(buf.as_ref());
                let _ = end.free.send(buf);
                if r.is_err() {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) if !abort.load(Ordering::Relaxed) => {}
            Err(_) => break,
        }
    }
    end
}

/// Accepts the encoder's connection to the audio port, then writes audio to it. Sets
/// `unconnected` if the encoder does not connect within [`CONNECT_TIMEOUT`].
fn write_audio(
    listener: TcpListener,
    end: WriterEnd<Vec<u8>>,
    pid: u32,
    abort: &AtomicBool,
    unconnected: &AtomicBool,
) -> WriterEnd<Vec<u8>> {
    let port = listener.local_addr().map_or(0, |a| a.port());
    if listener.set_nonblocking(true).is_err() {
        return end;
    }
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let sock: TcpStream = loop {
        match listener.accept() {
            Ok((s, peer)) if peer_is_child(peer, port, pid) => break s,
            Ok((_, peer)) => {
                tracing::warn!(%peer, "refused a connection to the live encoder's audio port");
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if abort.load(Ordering::Relaxed) {
                    return end;
                }
                if Instant::now() > deadline {
                    unconnected.store(true, Ordering::Relaxed);
                    return end;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return end,
        }
    };
    if sock.set_nonblocking(false).is_err() {
        return end;
    }
    let _ = sock.set_nodelay(true);
    let end = write_input(&sock, end, abort);
    let _ = sock.shutdown(std::net::Shutdown::Write);
    end
}

/// Whether the loopback connection from `peer` to `port` belongs to process `pid`: the
/// socket's inode (`/proc/net/tcp`) is one of the process's descriptors. `true` where
/// `/proc` cannot be read (the check is a defence in depth on Linux only).
fn peer_is_child(peer: SocketAddr, port: u16, pid: u32) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return true;
    };
    let local = format!(":{:04X}", peer.port());
    let remote = format!(":{port:04X}");
    let inode = table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && f[1].ends_with(&local) && f[2].ends_with(&remote)).then(|| f[9])
    });
    let Some(inode) = inode else { return false };
    let want = format!("socket:[{inode}]");
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
}

/// Reads the encoder's MPEG-TS, counts frames (and their latency) and fans it out.
fn read_ts(
    mut out: impl Read,
    mut fanout: Fanout,
    counters: &Counters,
    sent_at: &Mutex<VecDeque<Instant>>,
) -> Fanout {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        counters
            .bytes_encoded
            .fetch_add(n as u64, Ordering::Relaxed);
        let frames = fanout.push(&buf[..n]);
        if frames > 0 {
            let now = Instant::now();
            let mut q = lock(sent_at);
            for _ in 0..frames {
                if let Some(t) = q.pop_front() {
                    counters.encoder_latency.add(now - t);
                }
            }
            drop(q);
            counters
                .frames_encoded
                .fetch_add(u64::from(frames), Ordering::Relaxed);
        }
    }
    fanout
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{HlsConfig, RtmpTarget};

    fn cfg() -> LiveConfig {
        LiveConfig {
            width: 1280,
            height: 720,
            fps: 30,
            video_bitrate_bps: 2_500_000,
            has_audio: true,
            has_video: true,
            hls: Some(HlsConfig {
                dir: "/srv/b".into(),
                dvr: false,
                low_latency: false,
            }),
            rtmp: vec![RtmpTarget {
                id: "yt".into(),
                url: "rtmp://a/b/c".into(),
            }],
        }
    }

    #[test]
    fn encoder_arguments() {
        let a = encoder_args(&cfg(), 4321, false).join(" ");
        assert!(
            a.contains("-f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30"),
            "{a}"
        );
        assert!(a.contains("-i tcp://127.0.0.1:4321"), "{a}");
        assert!(a.contains("-map 0:v"), "{a}");
        assert!(a.contains("-map 1:a"), "{a}");
        assert!(a.contains("-g 60 -keyint_min 60 -sc_threshold 0"), "{a}");
        assert!(
            a.contains("-b:v 2500000 -maxrate 2500000 -bufsize 2500000"),
            "{a}"
        );
        assert!(a.contains("-c:a aac -b:a 128k -ar 48000"), "{a}");
        assert!(
            a.ends_with("/srv/b/index.m3u8|[f=mpegts:flush_packets=1]pipe:1"),
            "{a}"
        );

        let mut c = cfg();
        c.has_video = false;
        c.hls = None;
        let a = encoder_args(&c, 1, false).join(" ");
        assert!(!a.contains("rawvideo") && !a.contains("libx264"), "{a}");
        assert!(a.contains("-map 0:a"), "{a}");
        assert!(
            a.ends_with("-f tee [f=mpegts:flush_packets=1]pipe:1"),
            "{a}"
        );

        let mut c = cfg();
        c.has_audio = false;
        c.hls.as_mut().unwrap().low_latency = true;
        let a = encoder_args(&c, 1, true).join(" ");
        assert!(!a.contains("tcp://") && !a.contains("aac"), "{a}");
        assert!(a.contains("-g 30 "), "{a}");
        assert!(a.contains("append_list"), "{a}");
    }

    #[test]
    fn only_the_childs_connection_is_accepted() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let _c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_s, peer) = l.accept().unwrap();
        // The connecting socket is this process's, not another one's.
        assert!(peer_is_child(peer, port, std::process::id()));
        let other = std::process::Command::new("sleep").arg("5").spawn();
        if let Ok(mut other) = other {
            assert!(!peer_is_child(peer, port, other.id()));
            kill_wait(&mut other);
        }
    }
}
