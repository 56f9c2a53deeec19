//! RTMP/RTMPS targets: one ffmpeg per target (`-f mpegts -i pipe:0 -c copy -f flv URL`),
//! fed whole TS packets by the fan-out (`ts`), supervised by one thread that
//! reconnects with backoff.
//!
//! # Status
//!
//! * **Connecting** — the ffmpeg runs: it waits for the TS from a start point, probes
//!   it, then opens the URL (TCP, TLS for `rtmps`, the RTMP handshake, `connect`,
//!   `publish`: ffmpeg's RTMP client returns from opening only once the server answered
//!   the publish) and writes the FLV header.
//! * **Live** — ffmpeg printed `Output #0, flv, to '…'` on stderr, which it does right
//!   after the header was written to the published stream: the connection is up and the
//!   server accepted the stream key. (Parsing `-progress` would only add a periodic
//!   heartbeat; a dead connection shows as the process exiting, which is quicker.)
//! * **Error(reason)** — the process exited (refused, dropped or silent connection —
//!   `-rw_timeout` 10 s —, rejected key, broken pipe…); the reason is the last telling
//!   line of its stderr, with the stream key cut from the URL. The target is retried after 1 s, 2 s, 4 s … capped
//!   at 30 s; the delay starts again at 1 s after a connection that stayed live 30 s.
//! * **Ended** — the broadcast stopped: the ffmpeg got the end of its input, finished
//!   the FLV stream and closed the connection (killed after 5 s if it hangs; `Drop`
//!   kills it at once, which also unblocks a write to a process that stopped reading).
//!
//! A target's failure touches nothing else: the fan-out never blocks on a target (a
//! full queue drops chunks, counted, and the target resumes at the next key frame), and
//! each target has its own process and thread.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::proc::{Signal, kill_wait, lock, read_stderr, wait_timeout};
use super::ts::Chunk;
use super::{EventSink, LiveEvent, TargetReport, TargetStatus};
use crate::ffmpeg::FfmpegInfo;

/// First reconnection delay.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest reconnection delay.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection live this long resets the delay.
const STABLE: Duration = Duration::from_secs(30);
/// How long a target's ffmpeg may take to finish after its input ended.
const FINISH_TIMEOUT: Duration = Duration::from_secs(5);

/// State of one target shared by its thread, the fan-out and `stats`.
#[derive(Debug)]
pub(crate) struct TargetShared {
    pub id: String,
    pub url: String,
    status: std::sync::Mutex<TargetStatus>,
    /// The feed generation the running process accepts (0: none running).
    generation: AtomicU64,
    reconnects: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
    /// Set by the encoder when it restarted: the target restarts its process too (the new
    /// stream's timestamps start again at 0).
    restart: AtomicBool,
    /// The running ffmpeg.
    child: std::sync::Mutex<Option<std::process::Child>>,
}

impl TargetShared {
    pub(crate) fn new(id: String, url: String) -> Self {
        TargetShared {
            id,
            url,
            status: std::sync::Mutex::new(TargetStatus::Connecting),
            generation: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            restart: AtomicBool::new(false),
            child: std::sync::Mutex::new(None),
        }
    }

    /// Kills the running ffmpeg, if any (its thread reaps it): unblocks a write to a
    /// process that stopped reading.
    pub(crate) fn kill_process(&self) {
        if let Some(c) = lock(&self.child).as_mut() {
            let _ = c.kill();
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn set_generation(&self, g: u64) {
        self.generation.store(g, Ordering::Release);
    }

    pub(crate) fn count_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn request_restart(&self) {
        self.restart.store(true, Ordering::Relaxed);
    }

    pub(crate) fn report(&self) -> TargetReport {
        TargetReport {
            id: self.id.clone(),
            status: lock(&self.status).clone(),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            bytes_sent: self.bytes.load(Ordering::Relaxed),
            chunks_dropped: self.dropped(),
        }
    }

    fn set_status(&self, status: TargetStatus, events: &EventSink) {
        let mut s = lock(&self.status);
        if *s == status {
            return;
        }
        *s = status.clone();
        drop(s);
        match &status {
            TargetStatus::Error(reason) => {
                tracing::warn!(target_id = %self.id, %reason, "broadcast target failed");
            }
            other => tracing::info!(target_id = %self.id, status = ?other, "broadcast target"),
        }
        events(LiveEvent::Target {
            id: self.id.clone(),
            status,
        });
    }
}

/// The ffmpeg arguments of one target.
pub(crate) fn target_args(url: &str, has_audio: bool) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "info",
        "-f",
        "mpegts",
        // Enough to see the SPS and a few audio frames from the start point.
        "-probesize",
        "1000000",
        "-analyzeduration",
        "1000000",
        "-i",
        "pipe:0",
        "-map",
        "0",
        "-c",
        "copy",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if has_audio {
        // ADTS (TS) → AudioSpecificConfig (FLV); ffmpeg's flv muxer would insert it too.
        a.extend(["-bsf:a", "aac_adtstoasc"].map(String::from));
    }
    a.extend(["-f", "flv", "-flvflags", "no_duration_filesize"].map(String::from));
    // A connection that neither fails nor moves (a silent peer) errors after 10 s
    // instead of hanging in Connecting or in a blocked write.
    a.extend(["-rw_timeout", "10000000"].map(String::from));
    if url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("rtmps://"))
    {
        // ffmpeg's TLS does not check the server's certificate unless told to: without
        // this a man in the middle would get the stream key. The system's trust store.
        a.extend(["-tls_verify", "1"].map(String::from));
    }
    a.push(url.to_owned());
    a
}

/// What ends one run of a target's process.
enum RunEnd {
    /// The input ended: the broadcast stopped.
    Finished,
    /// The process failed, with a reason; `live_for` how long it had been live.
    Failed {
        reason: String,
        live_for: Option<Duration>,
    },
    /// The encoder restarted: start again at once.
    Restart,
    /// Killed (the compositor was dropped).
    Killed,
}

/// Everything a target's thread needs.
pub(crate) struct TargetRunner {
    pub shared: Arc<TargetShared>,
    pub rx: Receiver<Chunk>,
    pub info: FfmpegInfo,
    pub has_audio: bool,
    pub events: EventSink,
    /// Set when the compositor is dropped: kill at once.
    pub kill: Arc<Signal>,
}

impl TargetRunner {
    /// The thread's body: run, reconnect, until the input ends or a kill.
    pub(crate) fn run(self) {
        let mut backoff = BACKOFF_MIN;
        let mut next_generation = 1u64;
        // The initial status is Connecting already; say it once.
        (self.events)(LiveEvent::Target {
            id: self.shared.id.clone(),
            status: TargetStatus::Connecting,
        });
        loop {
            self.shared
                .set_status(TargetStatus::Connecting, &self.events);
            let generation = next_generation;
            next_generation += 1;
            let end = self.run_once(generation);
            self.shared.set_generation(0);
            match end {
                RunEnd::Finished => {
                    self.shared.set_status(TargetStatus::Ended, &self.events);
                    return;
                }
                RunEnd::Killed => {
                    self.shared.set_status(TargetStatus::Ended, &self.events);
                    return;
                }
                RunEnd::Restart => {
                    self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                RunEnd::Failed { reason, live_for } => {
                    self.shared
                        .set_status(TargetStatus::Error(reason), &self.events);
                    if live_for.is_some_and(|d| d >= STABLE) {
                        backoff = BACKOFF_MIN;
                    }
                    // Wait, discarding input; stop early if the input ends.
                    let until = Instant::now() + backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    loop {
                        if self.kill.is_set() {
                            self.shared.set_status(TargetStatus::Ended, &self.events);
                            return;
                        }
                        let left = until.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => {
                                self.shared.set_status(TargetStatus::Ended, &self.events);
                                return;
                            }
                        }
                    }
                    self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                    self.shared.restart.store(false, Ordering::Relaxed);
                }
            }
        }
    }

    fn run_once(&self, generation: u64) -> RunEnd {
        if self.kill.is_set() {
            return RunEnd::Killed;
        }
        let spawned = Command::new(&self.info.ffmpeg)
            .args(target_args(&self.shared.url, self.has_audio))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                return RunEnd::Failed {
                    reason: format!("cannot run ffmpeg: {e}"),
                    live_for: None,
                };
            }
        };
        let live = Arc::new(AtomicBool::new(false));
        let seen = live.clone();
        let stderr = child.stderr.take().expect("piped");
        let (tail, stderr_thread) = match read_stderr(
            stderr,
            format!("live-rtmp-{}-err", self.shared.id),
            Some((self.shared.url.clone(), redact(&self.shared.url))),
            move |line| {
                if line.starts_with("Output #0") {
                    seen.store(true, Ordering::Release);
                }
            },
        ) {
            Ok(t) => t,
            Err(e) => {
                kill_wait(&mut child);
                return RunEnd::Failed {
                    reason: format!("cannot start a thread: {e}"),
                    live_for: None,
                };
            }
        };
        let mut stdin = child.stdin.take();
        // The child is shared so that `kill_process` can unblock a write stuck on it.
        *lock(&self.shared.child) = Some(child);
        // Stale chunks of the previous run are dropped; the fan-out then starts this run
        // at the next start point.
        while self.rx.try_recv().is_ok() {}
        self.shared.restart.store(false, Ordering::Relaxed);
        self.shared.set_generation(generation);
        let mut live_since: Option<Instant> = None;
        let exited = |shared: &TargetShared| {
            lock(&shared.child)
                .as_mut()
                .is_none_or(|c| !matches!(c.try_wait(), Ok(None)))
        };
        let end = loop {
            if self.kill.is_set() {
                break Loop::Killed;
            }
            if self.shared.restart.swap(false, Ordering::Relaxed) {
                break Loop::Restart;
            }
            if live_since.is_none() && live.load(Ordering::Acquire) {
                live_since = Some(Instant::now());
                self.shared.set_status(TargetStatus::Live, &self.events);
            }
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok((g, chunk)) if g == generation => {
                    let Some(w) = stdin.as_mut() else { continue };
                    if w.write_all(&chunk).is_err() {
                        break Loop::Broken;
                    }
                    self.shared
                        .bytes
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break Loop::Finished,
            }
            if exited(&self.shared) {
                break Loop::Broken;
            }
        };
        drop(stdin);
        let Some(mut child) = lock(&self.shared.child).take() else {
            return RunEnd::Killed;
        };
        let status = match end {
            Loop::Finished => {
                let status = wait_timeout(&mut child, FINISH_TIMEOUT);
                if status.is_none() {
                    let id = &self.shared.id;
                    tracing::warn!(target_id = %id, "target ffmpeg did not finish; killed");
                }
                status
            }
            Loop::Broken => wait_timeout(&mut child, Duration::from_millis(500)),
            Loop::Restart | Loop::Killed => None,
        };
        let status = status.or_else(|| kill_wait(&mut child));
        let _ = stderr_thread.join();
        match end {
            Loop::Finished => RunEnd::Finished,
            Loop::Restart => RunEnd::Restart,
            Loop::Killed => RunEnd::Killed,
            // The reason may only have arrived once stderr was read to its end.
            Loop::Broken => RunEnd::Failed {
                reason: reason(&tail.reason(), status),
                live_for: live_since.map(|t| t.elapsed()),
            },
        }
    }
}

/// Why the feeding loop of a run stopped.
enum Loop {
    Finished,
    Broken,
    Restart,
    Killed,
}

/// The URL without its last path segment (the stream key), for logs and reasons:
/// `rtmp://host/app/…`.
pub(crate) fn redact(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].rfind('/') {
        Some(i) => format!("{}/…", &url[..after_scheme + i]),
        None => url.to_owned(),
    }
}

/// A readable reason from ffmpeg's last stderr line and its exit status.
fn reason(last: &Option<String>, status: Option<std::process::ExitStatus>) -> String {
    match (last, status) {
        (Some(line), _) => line.clone(),
        (None, Some(s)) => format!("ffmpeg exited ({s})"),
        (None, None) => "ffmpeg stopped".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_args_copy_ts_to_flv() {
        let a = target_args("rtmps://example.com/live/key", true).join(" ");
        assert!(a.contains("-f mpegts"), "{a}");
        assert!(
            a.contains("-i pipe:0 -map 0 -c copy -bsf:a aac_adtstoasc"),
            "{a}"
        );
        assert!(
            a.ends_with(
                "-f flv -flvflags no_duration_filesize -rw_timeout 10000000 -tls_verify 1 \
                 rtmps://example.com/live/key"
            ),
            "{a}"
        );
        let a = target_args("rtmp://h/app/key", false).join(" ");
        assert!(!a.contains("aac_adtstoasc"), "{a}");
        assert!(!a.contains("tls_verify"), "{a}");
    }

    #[test]
    fn stream_keys_are_redacted() {
        assert_eq!(redact("rtmp://h:1935/live/secret"), "rtmp://h:1935/live/…");
        assert_eq!(redact("rtmps://h/secret"), "rtmps://h/…");
        assert_eq!(redact("rtmp://h"), "rtmp://h");
    }

    #[test]
    fn reasons_prefer_stderr() {
        assert_eq!(
            reason(&Some("Connection refused".into()), None),
            "Connection refused"
        );
        assert!(reason(&None, None).contains("stopped"));
    }
}
