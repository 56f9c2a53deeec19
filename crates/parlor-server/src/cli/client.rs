//! `parlor client publish|subscribe`: the native client on the command line.
//!
//! # `publish`
//!
//! Publishes VP8 from an IVF file (and Opus from an Ogg file) at the media's own pace:
//! every video frame is due at its IVF timestamp, every audio packet at the sum of the
//! durations of the packets before it, both measured from one start instant (the first
//! send), with timers against that instant so nothing drifts. RTP timestamps follow the
//! same clock (90 kHz video, 48 kHz audio, each from a random base). A keyframe request
//! from the server (a PLI relayed for a new or lossy subscriber) makes the publisher skip
//! ahead to the next keyframe of the file and send it at once, shifting the video clock
//! so pacing and RTP time continue from there (what an encoder answering a PLI does).
//! `--loop` restarts each file at its end, timestamps continuing; `--duration` counts
//! seconds from the first send. Progress goes to stderr; stdout gets one JSON line at
//! the end: `{"streamId":…,"framesSent":…,"packetsSent":…}`.
//!
//! # `subscribe`
//!
//! Subscribes to every stream of the session, present and future (each subscription on
//! its own task), and with `--json` prints one line per event, named and shaped like the
//! web SDK's (`sessionConnected`, `connectionCreated`, `streamCreated`, `signal`, …; the
//! connections and streams already there when joining are also announced with
//! `connectionCreated` and `streamCreated`, as the web SDK does), plus `subscribed` when a
//! subscription's media connects, and a final `summary` with per-stream counts. Without
//! `--json`, events are described on stderr and only the summary goes to stdout.
//! `--duration` counts seconds from joining the session. Events without a web SDK
//! counterpart keep their protocol name (`muteForced`, `subscriptionEnded`).
//!
//! With `--record-dir DIR`, each stream's video goes to `DIR/<streamId>.ivf` and its
//! audio to `DIR/<streamId>.ogg`, each file created on the first frame of its kind:
//!
//! * IVF: VP8, the frames exactly as received, time base 1/90000 and timestamps the
//!   frames' RTP times relative to the first recorded frame (so gaps and the sender's
//!   clock are preserved); the dimensions come from the first keyframe. The header's
//!   "frame count" field holds the duration in time-base units, as ffmpeg writes it and
//!   reads it back (see [`ivf_duration`]).
//! * Ogg Opus: the packets exactly as received, one per page, granule positions counting
//!   their durations (lost packets are not filled in), pre-skip 0, the channel count from
//!   the first packet's stereo flag.
//!
//! Files are finished (IVF header patched, Ogg end-of-stream page written) when the
//! stream is destroyed, and when the command ends by `--duration`, SIGINT or SIGTERM.
//!
//! # Exit codes
//!
//! 0 on an orderly end (also when the server ends the stream or the session on purpose:
//! forceUnpublish, forceDisconnect), 1 when the server refuses the token or the role, or
//! the connection fails or breaks (after the same orderly end: files finished, summary
//! printed), 2 for bad arguments and unreadable files.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use futures_util::FutureExt as _;
use indexmap::IndexMap;
use parlor_client::{
    ClientError, MediaFrame, MediaKind, PublishOptions, Publisher, ServerMessage, Session, Stream,
    SubscribeOptions, SubscriberEvent,
};
use parlor_media::ivf::{FOURCC_VP8, IvfHeader, IvfReader, IvfWriter};
use parlor_media::ogg_opus::{OggOpusReader, OggOpusWriter, OpusHead};
use parlor_proto::signaling::{ErrorCode, VideoDimensions, VideoType};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// `parlor client ...`
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Publish real VP8 (IVF) and Opus (Ogg) at their native pace.
    Publish(PublishArgs),
    /// Subscribe to every stream in the session, present and future.
    Subscribe(SubscribeArgs),
}

/// How a client joins: the same three flags for every `parlor client` command.
#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The server's base URL, e.g. http://127.0.0.1:7600.
    #[arg(long)]
    pub url: String,
    /// A client token.
    #[arg(long)]
    pub token: String,
    /// The session to join [default: the session named in the token].
    #[arg(long)]
    pub session: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub join: JoinArgs,
    /// VP8 video in an IVF file.
    #[arg(long)]
    pub video: PathBuf,
    /// Opus audio in an Ogg file.
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Start over at the end of the files.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// The stream's name.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    #[command(flatten)]
    pub join: JoinArgs,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Write each stream's video to DIR/<streamId>.ivf and audio to DIR/<streamId>.ogg.
    #[arg(long)]
    pub record_dir: Option<PathBuf>,
    /// Print one JSON object per line for every event, and a summary at the end.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `parlor client` command.
pub fn run(command: ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match command {
            ClientCommand::Publish(args) => publish(args).await,
            ClientCommand::Subscribe(args) => subscribe(args).await,
        }
    });
    // Peer tasks may still sit in socket I/O; they hold nothing that needs flushing.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared

/// Why a command failed, with its exit code.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Bad arguments or unreadable files: exit 2.
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// Refused by the server, or failed while running: exit 1.
    fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

/// Maps a client error to a failure; `doing` says what was attempted.
fn client_failure(doing: &str, e: ClientError) -> Failure {
    match e {
        ClientError::Url(_) => Failure::usage(format!("--url: {e}")),
        e @ ClientError::Auth { .. } => Failure::failed(e.to_string()),
        e => Failure::failed(format!("{doing}: {e}")),
    }
}

/// The session to join: `--session`, else the one the token names.
fn session_id(explicit: Option<&str>, token: &str) -> Result<String, Failure> {
    if let Some(s) = explicit {
        if s.trim().is_empty() {
            return Err(Failure::usage("--session is empty"));
        }
        return Ok(s.to_owned());
    }
    let parsed = parlor_proto::token::ParsedToken::parse(token).map_err(|e| {
        Failure::usage(format!(
            "cannot read the session ID from --token ({e}); pass --session"
        ))
    })?;
    parsed
        .claimed_session_id()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Failure::usage("--token names no session; pass --session"))
}

fn duration_arg(seconds: Option<f64>) -> Result<Option<Duration>, Failure> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && (0.0..1e9).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(Failure::usage(format!(
            "--duration must be a number of seconds, at least 0, not {s}"
        ))),
    }
}

/// Which signal asked the command to stop, once one did.
type StopSignal = watch::Receiver<Option<&'static str>>;

/// Watches for SIGINT and SIGTERM: the first asks for an orderly end, a second one
/// exits at once.
fn watch_signals() -> StopSignal {
    let (tx, rx) = watch::channel(None);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::spawn(async move {
                    let mut first = true;
                    loop {
                        let name = tokio::select! {
                            Some(()) = int.recv() => "SIGINT",
                            Some(()) = term.recv() => "SIGTERM",
                            else => return,
                        };
                        if !first {
                            eprintln!("{name} again: exiting now");
                            std::process::exit(130);
                        }
                        first = false;
                        eprintln!("{name}: finishing (send it again to exit at once)");
                        let _ = tx.send(Some(name));
                    }
                });
            }
            (Err(e), _) | (_, Err(e)) => eprintln!("warning: cannot watch signals: {e}"),
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(Some("Ctrl-C"));
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    rx
}

/// Completes once a stop signal arrived (never, if signals cannot be watched).
async fn stop_requested(stop: &mut StopSignal) -> &'static str {
    match stop.wait_for(Option::is_some).await {
        Ok(name) => name.unwrap_or("signal"),
        Err(_) => std::future::pending().await,
    }
}

async fn connect(
    url: &str,
    session_id: &str,
    token: &str,
    stop: &mut StopSignal,
) -> Result<(Session, mpsc::UnboundedReceiver<ServerMessage>), Failure> {
    tokio::select! {
        r = Session::connect(url, session_id, token) => {
            r.map_err(|e| client_failure(&format!("connecting to {url}"), e))
        }
        name = stop_requested(stop) => Err(Failure::failed(format!("{name} while connecting"))),
    }
}

/// An event object as one line of JSON with `"event"` first (serde_json sorts keys).
fn event_line(value: &Value) -> String {
    let Value::Object(map) = value else {
        return value.to_string();
    };
    let mut fields = Vec::with_capacity(map.len());
    if let Some(name) = map.get("event") {
        fields.push(format!("\"event\":{name}"));
    }
    for (key, v) in map.iter().filter(|(k, _)| *k != "event") {
        fields.push(format!("{}:{v}", Value::String(key.clone())));
    }
    format!("{{{}}}", fields.join(","))
}

/// A serde enum's wire name (`clientDisconnected`, …).
fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Prints one line on stdout; a closed stdout is not an error worth dying for.
fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

const VIDEO_HZ: u64 = 90_000;
const AUDIO_HZ: u64 = 48_000;

fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    Duration::from_nanos((u128::from(ticks) * 1_000_000_000 / u128::from(hz)) as u64)
}

fn duration_to_ticks(d: Duration, hz: u64) -> u64 {
    (d.as_nanos() * u128::from(hz) / 1_000_000_000) as u64
}

// ---------------------------------------------------------------------------------------
// publish: the files

/// A video frame read from the file, placed on the video timeline.
struct VideoFrame {
    /// Position on the timeline (90 kHz ticks from the start of the first pass).
    t: u64,
    data: Vec<u8>,
    keyframe: bool,
    /// Index of the frame in the file.
    index: u64,
}

/// An IVF file read one frame ahead, restarting at its end with `--loop`.
struct VideoFile {
    path: PathBuf,
    looping: bool,
    reader: IvfReader<BufReader<File>>,
    header: IvfHeader,
    next: Option<VideoFrame>,
    /// Timeline position where the current pass starts.
    pass_start: u64,
    /// Timestamp of the current pass's first frame.
    first_pts: Option<u64>,
    frames_in_pass: u64,
    last_t: u64,
    /// Gap between the last two frames: how long the last one lasts.
    last_step: u64,
    /// Restarts so far.
    passes: u64,
}

impl VideoFile {
    fn open(path: &Path, looping: bool) -> Result<VideoFile, Failure> {
        let reader = open_ivf(path).map_err(Failure::usage)?;
        let header = *reader.header();
        if header.fourcc != FOURCC_VP8 {
            return Err(Failure::usage(format!(
                "{}: the codec is {:?}, not VP8 (VP80)",
                path.display(),
                String::from_utf8_lossy(&header.fourcc)
            )));
        }
        if header.timebase_num == 0 || header.timebase_den == 0 {
            return Err(Failure::usage(format!(
                "{}: invalid time base {}/{}",
                path.display(),
                header.timebase_num,
                header.timebase_den
            )));
        }
        let mut file = VideoFile {
            path: path.to_owned(),
            looping: false,
            reader,
            header,
            next: None,
            pass_start: 0,
            first_pts: None,
            frames_in_pass: 0,
            last_t: 0,
            last_step: VIDEO_HZ / 30,
            passes: 0,
        };
        match file.reader.next_frame() {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Failure::usage(format!("{} has no frames", path.display())));
            }
            Err(e) => return Err(Failure::usage(format!("{}: {e}", path.display()))),
        }
        // Start over from the first frame, now that the file is known to be readable.
        file.reader = open_ivf(path).map_err(Failure::usage)?;
        file.looping = looping;
        file.next = file.read_next();
        Ok(file)
    }

    fn dimensions(&self) -> Option<VideoDimensions> {
        (self.header.width > 0 && self.header.height > 0).then(|| VideoDimensions {
            width: self.header.width.into(),
            height: self.header.height.into(),
        })
    }

    /// Timestamp units → 90 kHz ticks, rounded.
    fn ticks(&self, pts: u64) -> u64 {
        let (num, den) = (
            u128::from(self.header.timebase_num),
            u128::from(self.header.timebase_den),
        );
        ((u128::from(pts) * u128::from(VIDEO_HZ) * num + den / 2) / den) as u64
    }

    fn read_next(&mut self) -> Option<VideoFrame> {
        loop {
            match self.reader.next_frame() {
                Ok(Some(f)) => {
                    let first = *self.first_pts.get_or_insert(f.pts);
                    let t = self.pass_start + self.ticks(f.pts.saturating_sub(first));
                    if self.frames_in_pass > 0 && t > self.last_t {
                        self.last_step = t - self.last_t;
                    }
                    self.last_t = t;
                    let index = self.frames_in_pass;
                    self.frames_in_pass += 1;
                    return Some(VideoFrame {
                        t,
                        keyframe: parlor_media::vp8::is_keyframe(&f.data),
                        data: f.data,
                        index,
                    });
                }
                Ok(None) => {
                    if !self.looping || self.frames_in_pass == 0 {
                        return None;
                    }
                    match open_ivf(&self.path) {
                        Ok(reader) => self.reader = reader,
                        Err(e) => {
                            eprintln!("warning: cannot restart the video: {e}");
                            return None;
                        }
                    }
                    self.pass_start = self.last_t + self.last_step;
                    self.first_pts = None;
                    self.frames_in_pass = 0;
                    self.passes += 1;
                    eprintln!("video: starting over ({} pass)", ordinal(self.passes + 1));
                }
                // The reader stops after an error: the next call takes the end-of-file
                // path above.
                Err(e) => eprintln!(
                    "warning: {}: {e}; treating it as the end of the file",
                    self.path.display()
                ),
            }
        }
    }

    fn peek(&self) -> Option<&VideoFrame> {
        self.next.as_ref()
    }

    fn advance(&mut self) -> Option<VideoFrame> {
        let frame = self.next.take()?;
        self.next = self.read_next();
        Some(frame)
    }

    /// Drops frames until the next one is a keyframe; returns how many were dropped, or
    /// `None` if no keyframe is left (or none exists in a looped file).
    fn skip_to_keyframe(&mut self) -> Option<u64> {
        let passes = self.passes;
        let mut skipped = 0;
        loop {
            let frame = self.next.as_ref()?;
            if frame.keyframe {
                return Some(skipped);
            }
            if self.passes > passes + 1 {
                return None;
            }
            self.next = self.read_next();
            skipped += 1;
        }
    }
}

fn open_ivf(path: &Path) -> Result<IvfReader<BufReader<File>>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    IvfReader::new(BufReader::new(file)).map_err(|e| format!("{}: {e}", path.display()))
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// An Ogg Opus file read one packet ahead, restarting at its end with `--loop`.
struct AudioFile {
    path: PathBuf,
    looping: bool,
    reader: OggOpusReader<BufReader<File>>,
    /// The next packet and its duration (48 kHz samples).
    next: Option<(Vec<u8>, u32)>,
    packets_in_pass: u64,
    passes: u64,
}

impl AudioFile {
    fn open(path: &Path, looping: bool) -> Result<AudioFile, Failure> {
        let mut file = AudioFile {
            path: path.to_owned(),
            looping: false,
            reader: open_ogg(path).map_err(Failure::usage)?,
            next: None,
            packets_in_pass: 0,
            passes: 0,
        };
        match file.reader.next_packet() {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Failure::usage(format!(
                    "{} has no audio packets",
                    path.display()
                )));
            }
            Err(e) => return Err(Failure::usage(format!("{}: {e}", path.display()))),
        }
        file.reader = open_ogg(path).map_err(Failure::usage)?;
        file.looping = looping;
        file.next = file.read_next();
        Ok(file)
    }

    fn read_next(&mut self) -> Option<(Vec<u8>, u32)> {
        loop {
            match self.reader.next_packet() {
                Ok(Some(p)) => {
                    self.packets_in_pass += 1;
                    return Some((p.data, p.duration_48k));
                }
                Ok(None) => {
                    if !self.looping || self.packets_in_pass == 0 {
                        return None;
                    }
                    match open_ogg(&self.path) {
                        Ok(reader) => self.reader = reader,
                        Err(e) => {
                            eprintln!("warning: cannot restart the audio: {e}");
                            return None;
                        }
                    }
                    self.packets_in_pass = 0;
                    self.passes += 1;
                    eprintln!("audio: starting over ({} pass)", ordinal(self.passes + 1));
                }
                Err(e) => {
                    eprintln!(
                        "warning: {}: {e}; treating it as the end of the file",
                        self.path.display()
                    );
                    // The Ogg reader's position is unspecified after an error: end this
                    // pass by reopening (or stopping).
                    if !self.looping || self.packets_in_pass == 0 {
                        return None;
                    }
                    match open_ogg(&self.path) {
                        Ok(reader) => self.reader = reader,
                        Err(_) => return None,
                    }
                    self.packets_in_pass = 0;
                    self.passes += 1;
                }
            }
        }
    }

    fn advance(&mut self) -> Option<(Vec<u8>, u32)> {
        let packet = self.next.take()?;
        self.next = self.read_next();
        Some(packet)
    }
}

fn open_ogg(path: &Path) -> Result<OggOpusReader<BufReader<File>>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    OggOpusReader::new(BufReader::new(file)).map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// publish

/// How sending ended.
enum SendEnd {
    /// The files ended, `--duration` passed, or a signal arrived.
    Done,
    /// The server ended the stream or the session; nothing left to unpublish.
    ByServer(String),
    /// The media or signaling connection failed.
    Failed(String),
}

/// The line `publish` prints on stdout at the end.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublishSummary<'a> {
    stream_id: &'a str,
    frames_sent: u64,
    packets_sent: u64,
}

#[derive(Default)]
struct SendCounts {
    frames: u64,
    packets: u64,
}

async fn publish(args: PublishArgs) -> Result<(), Failure> {
    let limit = duration_arg(args.duration)?;
    let session_id = session_id(args.join.session.as_deref(), &args.join.token)?;
    let mut video = VideoFile::open(&args.video, args.looping)?;
    let mut audio = match &args.audio {
        Some(path) => Some(AudioFile::open(path, args.looping)?),
        None => None,
    };
    let mut stop = watch_signals();
    let (session, mut events) =
        connect(&args.join.url, &session_id, &args.join.token, &mut stop).await?;
    let info = session.info();
    eprintln!(
        "connected to session {} as connection {} ({})",
        info.session_id, info.connection.connection_id, info.role
    );
    let options = PublishOptions {
        name: args.name.clone().unwrap_or_default(),
        has_audio: audio.is_some(),
        has_video: true,
        video_type: VideoType::Camera,
        video_dimensions: video.dimensions(),
        initial_video_seq: None,
    };
    let mut publisher = match session.publish(options).await {
        Ok(p) => p,
        Err(e) => {
            session.disconnect().await;
            let doing = match e {
                ClientError::Server { .. } => "publishing refused",
                _ => "publishing failed",
            };
            return Err(client_failure(doing, e));
        }
    };
    let stream_id = publisher.stream_id().to_owned();
    eprintln!("published stream {stream_id}");

    let mut counts = SendCounts::default();
    let connected = tokio::select! {
        r = publisher.wait_connected() => r.map_err(|e| format!("the media connection failed: {e}")),
        name = stop_requested(&mut stop) => Err(format!("{name} before the media connected")),
    };
    let end = match connected {
        Ok(()) => {
            eprintln!("media connected; sending");
            send_media(
                &mut publisher,
                &mut events,
                &mut video,
                audio.as_mut(),
                limit,
                &mut stop,
                &mut counts,
            )
            .await
        }
        Err(e) => SendEnd::Failed(e),
    };
    eprintln!(
        "sent {} video frames and {} audio packets",
        counts.frames, counts.packets
    );
    let result = match end {
        SendEnd::Done => {
            if let Err(e) = publisher.unpublish().await {
                eprintln!("warning: unpublishing failed: {e}");
            }
            Ok(())
        }
        SendEnd::ByServer(why) => {
            eprintln!("{why}");
            Ok(())
        }
        SendEnd::Failed(why) => Err(Failure::failed(why)),
    };
    session.disconnect().await;
    print_line(
        &serde_json::to_string(&PublishSummary {
            stream_id: &stream_id,
            frames_sent: counts.frames,
            packets_sent: counts.packets,
        })
        .expect("serializes"),
    );
    result
}

/// What a session event means to a publisher.
fn publisher_event(
    ev: Option<ServerMessage>,
    stream_id: &str,
    audio_muted: &mut bool,
) -> Option<SendEnd> {
    match ev {
        None => Some(SendEnd::Failed(
            "the signaling connection to the server closed".into(),
        )),
        Some(ServerMessage::Disconnected { reason }) => Some(SendEnd::ByServer(format!(
            "the server ended the session ({})",
            wire_name(&reason)
        ))),
        Some(ServerMessage::StreamDestroyed { stream, reason })
            if stream.stream_id == stream_id =>
        {
            Some(SendEnd::ByServer(format!(
                "the server ended the stream ({})",
                wire_name(&reason)
            )))
        }
        Some(ServerMessage::MuteForced { stream_id: id }) if id == stream_id => {
            if !*audio_muted {
                eprintln!("a moderator muted the stream: no more audio is sent");
            }
            *audio_muted = true;
            None
        }
        Some(ServerMessage::Error { code, message, .. }) => {
            eprintln!("warning: the server said: {message} ({})", wire_name(&code));
            None
        }
        Some(_) => None,
    }
}

/// After the publisher's peer failed: the server may have ended the stream, and its
/// message say so a moment later.
async fn explain_media_end(
    events: &mut mpsc::UnboundedReceiver<ServerMessage>,
    stream_id: &str,
    error: String,
) -> SendEnd {
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut muted = false;
    while let Ok(ev) = tokio::time::timeout_at(deadline, events.recv()).await {
        match publisher_event(ev, stream_id, &mut muted) {
            Some(SendEnd::ByServer(why)) => return SendEnd::ByServer(why),
            Some(_) => break,
            None => {}
        }
    }
    SendEnd::Failed(format!("the media connection ended: {error}"))
}

/// Sends the files at their pace until they end, the time is up, a signal arrives, or
/// the server ends the stream.
async fn send_media(
    publisher: &mut Publisher,
    events: &mut mpsc::UnboundedReceiver<ServerMessage>,
    video: &mut VideoFile,
    mut audio: Option<&mut AudioFile>,
    limit: Option<Duration>,
    stop: &mut StopSignal,
    counts: &mut SendCounts,
) -> SendEnd {
    let stream_id = publisher.stream_id().to_owned();
    let start = Instant::now();
    let deadline = limit.map(|d| start + d);
    let (video_rtp_base, audio_rtp_base): (u32, u32) = (rand::random(), rand::random());
    // Video timeline minus video clock, in 90 kHz ticks: grows with each keyframe jump.
    let mut video_shift: i64 = 0;
    let mut last_video_clock: Option<u64> = None;
    // Audio clock: 48 kHz samples sent so far.
    let mut samples: u64 = 0;
    let mut requests_seen = 0;
    let mut audio_muted = false;
    let video_clock = |t: u64, shift: i64| (t as i64 - shift).max(0) as u64;

    loop {
        // Keyframe requests, checked between frames.
        let requests = match publisher.poll_keyframe_requests() {
            Ok(n) => n,
            Err(e) => return explain_media_end(events, &stream_id, e.to_string()).await,
        };
        if requests > requests_seen {
            requests_seen = requests;
            match video.skip_to_keyframe() {
                Some(skipped) => {
                    let frame = video.peek().expect("a keyframe is next");
                    let elapsed = duration_to_ticks(start.elapsed(), VIDEO_HZ);
                    // Not sooner than a frame interval after the last frame sent: a
                    // keyframe right behind it would give the stream (and recordings of
                    // it) two frames within one frame time.
                    let target =
                        elapsed.max(last_video_clock.map_or(0, |c| c + video.last_step.max(1)));
                    video_shift = frame.t as i64 - target as i64;
                    eprintln!(
                        "keyframe requested at {:.3} s: skipped {skipped} frames to the keyframe at frame {} of {}",
                        start.elapsed().as_secs_f64(),
                        frame.index,
                        video.path.display()
                    );
                }
                None => eprintln!(
                    "keyframe requested, but {} has no keyframe left",
                    video.path.display()
                ),
            }
        }

        // The next item due: video or audio.
        let video_due = video
            .peek()
            .map(|f| start + ticks_to_duration(video_clock(f.t, video_shift), VIDEO_HZ));
        let audio_due = audio
            .as_ref()
            .and_then(|a| a.next.as_ref())
            .map(|_| start + ticks_to_duration(samples, AUDIO_HZ));
        let (due, is_video) = match (video_due, audio_due) {
            (None, None) => return SendEnd::Done,
            (Some(v), None) => (v, true),
            (None, Some(a)) => (a, false),
            (Some(v), Some(a)) => {
                if v <= a {
                    (v, true)
                } else {
                    (a, false)
                }
            }
        };
        if deadline.is_some_and(|d| due >= d && Instant::now() >= d) {
            return SendEnd::Done;
        }
        if due > Instant::now() {
            let wake = deadline.map_or(due, |d| d.min(due));
            tokio::select! {
                biased;
                name = stop_requested(stop) => {
                    eprintln!("stopping on {name}");
                    return SendEnd::Done;
                }
                ev = events.recv() => {
                    if let Some(end) = publisher_event(ev, &stream_id, &mut audio_muted) {
                        return end;
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            // Look at keyframe requests again before sending: one that arrived meanwhile
            // replaces the frame that was due.
            continue;
        }

        let sent = if is_video {
            let frame = video.advance().expect("peeked");
            let clock = video_clock(frame.t, video_shift);
            last_video_clock = Some(clock);
            let rtp = video_rtp_base.wrapping_add(clock as u32);
            counts.frames += 1;
            publisher.send_video(&frame.data, rtp)
        } else {
            let audio = audio.as_deref_mut().expect("audio is due");
            let (packet, duration) = audio.advance().expect("peeked");
            let rtp = audio_rtp_base.wrapping_add(samples as u32);
            samples += u64::from(duration);
            if audio_muted {
                Ok(())
            } else {
                counts.packets += 1;
                publisher.send_audio(&packet, rtp)
            }
        };
        if let Err(e) = sent {
            return explain_media_end(events, &stream_id, e.to_string()).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// subscribe

/// What one subscription received.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Tally {
    video_frames: u64,
    video_bytes: u64,
    audio_frames: u64,
    audio_bytes: u64,
    keyframes: u64,
}

/// What subscription tasks tell the main loop.
enum Report {
    Subscribed {
        stream_id: String,
        subscription_id: String,
    },
    /// The subscribe request failed.
    Refused {
        stream_id: String,
        error: ClientError,
    },
    /// The media connection ended without being asked to.
    MediaEnded { stream_id: String, reason: String },
    /// Recording failed (the subscription goes on without it).
    RecordError { stream_id: String, message: String },
}

struct Subscription {
    /// `true`: unsubscribe; `false`: the server already ended it.
    stop: Option<oneshot::Sender<bool>>,
    task: JoinHandle<Tally>,
}

impl Subscription {
    fn stop(&mut self, unsubscribe: bool) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(unsubscribe);
        }
    }
}

/// Where events go: JSON lines on stdout, or descriptions on stderr.
#[derive(Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn event(&self, value: Value, human: impl FnOnce() -> String) {
        if self.json {
            print_line(&event_line(&value));
        } else {
            eprintln!("{}", human());
        }
    }

    fn connection_created(&self, c: &parlor_proto::signaling::Connection) {
        self.event(
            json!({"event": "connectionCreated", "connection": to_json(c)}),
            || {
                format!(
                    "connection created: {} (data {:?})",
                    c.connection_id, c.data
                )
            },
        );
    }

    fn stream_created(&self, s: &Stream) {
        self.event(
            json!({"event": "streamCreated", "stream": to_json(s)}),
            || {
                format!(
                    "stream created: {} {:?} from connection {} (audio: {}, video: {})",
                    s.stream_id,
                    s.name,
                    s.connection.connection_id,
                    yes_no(s.has_audio),
                    yes_no(s.has_video)
                )
            },
        );
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// How the subscribe loop ended.
enum SubscribeEnd {
    /// `--duration` or a signal: leave in order.
    ByClient,
    /// The server ended the session (already reported as `sessionDisconnected`).
    ByServer,
    /// The signaling connection broke (reported as `sessionDisconnected`).
    Lost,
    /// A subscription was refused for the role.
    Refused(String),
}

async fn subscribe(args: SubscribeArgs) -> Result<(), Failure> {
    let limit = duration_arg(args.duration)?;
    let session_id = session_id(args.join.session.as_deref(), &args.join.token)?;
    if let Some(dir) = &args.record_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::usage(format!(
                "--record-dir: cannot create {}: {e}",
                dir.display()
            ))
        })?;
    }
    let out = Output { json: args.json };
    let mut stop = watch_signals();
    let (session, mut events) =
        connect(&args.join.url, &session_id, &args.join.token, &mut stop).await?;
    let deadline = limit.map(|d| Instant::now() + d);
    let info = session.info().clone();
    let me = info.connection.connection_id.clone();
    out.event(
        json!({
            "event": "sessionConnected",
            "sessionId": info.session_id,
            "connection": to_json(&info.connection),
            "connections": to_json(&info.connections),
            "streams": to_json(&info.streams),
        }),
        || {
            format!(
                "connected to session {} as connection {} ({}); {} other connection(s), {} stream(s)",
                info.session_id,
                me,
                info.role,
                info.connections.len(),
                info.streams.len()
            )
        },
    );
    if !info.capabilities.subscribe {
        session.disconnect().await;
        return Err(Failure::failed(format!(
            "a {} token does not allow subscribing",
            info.role
        )));
    }
    // As the web SDK does on joining: announce who and what is already there.
    for c in &info.connections {
        out.connection_created(c);
    }
    for s in &info.streams {
        out.stream_created(s);
    }

    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let mut subscriptions: IndexMap<String, Subscription> = IndexMap::new();
    let start_subscription = |subscriptions: &mut IndexMap<String, Subscription>, s: &Stream| {
        if s.connection.connection_id == me || subscriptions.contains_key(&s.stream_id) {
            return;
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run_subscription(
            session.clone(),
            s.clone(),
            args.record_dir.clone(),
            stop_rx,
            report_tx.clone(),
        ));
        subscriptions.insert(
            s.stream_id.clone(),
            Subscription {
                stop: Some(stop_tx),
                task,
            },
        );
    };
    for s in &info.streams {
        start_subscription(&mut subscriptions, s);
    }

    let mut record_failed = false;
    let end = loop {
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            name = stop_requested(&mut stop) => {
                eprintln!("stopping on {name}");
                break SubscribeEnd::ByClient;
            }
            () = sleep => break SubscribeEnd::ByClient,
            report = reports.recv() => match report.expect("the loop holds a sender") {
                Report::Subscribed { stream_id, subscription_id } => out.event(
                    json!({"event": "subscribed", "streamId": stream_id, "subscriptionId": subscription_id}),
                    || format!("subscribed to stream {stream_id} (media connected)"),
                ),
                Report::Refused { stream_id, error: ClientError::Server { code: ErrorCode::PermissionDenied, message } } => {
                    break SubscribeEnd::Refused(format!("subscribing to stream {stream_id} refused: {message}"));
                }
                Report::Refused { stream_id, error } => {
                    eprintln!("warning: cannot subscribe to stream {stream_id}: {error}");
                }
                Report::MediaEnded { stream_id, reason } => {
                    eprintln!("warning: the media connection of stream {stream_id} ended: {reason}");
                }
                Report::RecordError { stream_id, message } => {
                    record_failed = true;
                    eprintln!("error: recording stream {stream_id}: {message}");
                }
            },
            ev = events.recv() => {
                let Some(ev) = ev else {
                    out.event(
                        json!({"event": "sessionDisconnected", "reason": "networkDisconnected"}),
                        || "disconnected: the signaling connection closed (networkDisconnected)".into(),
                    );
                    break SubscribeEnd::Lost;
                };
                match ev {
                    ServerMessage::ConnectionCreated { connection } => out.connection_created(&connection),
                    ServerMessage::ConnectionDestroyed { connection, reason } => out.event(
                        json!({"event": "connectionDestroyed", "connection": to_json(&connection), "reason": to_json(&reason)}),
                        || format!("connection destroyed: {} ({})", connection.connection_id, wire_name(&reason)),
                    ),
                    ServerMessage::StreamCreated { stream } => {
                        out.stream_created(&stream);
                        start_subscription(&mut subscriptions, &stream);
                    }
                    ServerMessage::StreamDestroyed { stream, reason } => {
                        out.event(
                            json!({"event": "streamDestroyed", "stream": to_json(&stream), "reason": to_json(&reason)}),
                            || format!("stream destroyed: {} ({})", stream.stream_id, wire_name(&reason)),
                        );
                        if let Some(sub) = subscriptions.get_mut(&stream.stream_id) {
                            sub.stop(false);
                        }
                    }
                    ServerMessage::StreamPropertyChanged { stream, changed_property, old_value, new_value } => out.event(
                        json!({
                            "event": "streamPropertyChanged",
                            "stream": to_json(&stream),
                            "changedProperty": changed_property,
                            "oldValue": old_value,
                            "newValue": new_value,
                        }),
                        || format!("stream {}: {changed_property} changed from {old_value} to {new_value}", stream.stream_id),
                    ),
                    ServerMessage::Signal { signal_type, data, from } => out.event(
                        json!({"event": "signal", "type": signal_type, "data": data, "from": to_json(&from)}),
                        || format!(
                            "signal {signal_type:?} from {}: {data}",
                            from.as_ref().map_or("the server", |c| c.connection_id.as_str())
                        ),
                    ),
                    ServerMessage::MuteForced { stream_id } => out.event(
                        json!({"event": "muteForced", "streamId": stream_id}),
                        || format!("a moderator muted stream {stream_id}"),
                    ),
                    ServerMessage::ArchiveStarted { id, name } => out.event(
                        json!({"event": "archiveStarted", "id": id, "name": name}),
                        || format!("archive started: {id}"),
                    ),
                    ServerMessage::ArchiveStopped { id, name } => out.event(
                        json!({"event": "archiveStopped", "id": id, "name": name}),
                        || format!("archive stopped: {id}"),
                    ),
                    ServerMessage::SubscriptionEnded { subscription_id, stream_id } => {
                        out.event(
                            json!({"event": "subscriptionEnded", "streamId": stream_id, "subscriptionId": subscription_id}),
                            || format!("the server ended the subscription to stream {stream_id}"),
                        );
                        if let Some(sub) = subscriptions.get_mut(&stream_id) {
                            sub.stop(false);
                        }
                    }
                    ServerMessage::Disconnected { reason } => {
                        out.event(
                            json!({"event": "sessionDisconnected", "reason": to_json(&reason)}),
                            || format!("disconnected by the server ({})", wire_name(&reason)),
                        );
                        break SubscribeEnd::ByServer;
                    }
                    ServerMessage::Error { code, message, .. } => {
                        eprintln!("warning: the server said: {message} ({})", wire_name(&code));
                    }
                    // Reported by the subscription itself ("subscribed"), or replies.
                    ServerMessage::SubscriptionConnected { .. }
                    | ServerMessage::Connected { .. }
                    | ServerMessage::Published { .. }
                    | ServerMessage::Subscribed { .. }
                    | ServerMessage::Ok { .. }
                    | ServerMessage::Pong { .. } => {}
                }
            }
        }
    };

    // Orderly end: stop every subscription (unsubscribing if the session is still up),
    // let them finish their files, then leave.
    let session_up = !matches!(end, SubscribeEnd::ByServer | SubscribeEnd::Lost);
    for sub in subscriptions.values_mut() {
        sub.stop(session_up);
    }
    let mut summary = serde_json::Map::new();
    for (stream_id, sub) in subscriptions {
        let tally = sub.task.await.unwrap_or_else(|e| {
            eprintln!("error: the subscription to stream {stream_id} failed: {e}");
            Tally::default()
        });
        summary.insert(stream_id, to_json(&tally));
    }
    while let Ok(report) = reports.try_recv() {
        if let Report::RecordError { stream_id, message } = report {
            record_failed = true;
            eprintln!("error: recording stream {stream_id}: {message}");
        }
    }
    session.disconnect().await;
    if session_up {
        out.event(
            json!({"event": "sessionDisconnected", "reason": "clientDisconnected"}),
            || "disconnected (clientDisconnected)".into(),
        );
    }
    print_line(&event_line(
        &json!({"event": "summary", "streams": summary}),
    ));
    match end {
        SubscribeEnd::Refused(why) => Err(Failure::failed(why)),
        SubscribeEnd::Lost => Err(Failure::failed(
            "the signaling connection to the server was lost",
        )),
        _ if record_failed => Err(Failure::failed("recording failed (see above)")),
        _ => Ok(()),
    }
}

/// One subscription: subscribe, count (and record) frames until stopped or the media
/// ends, then unsubscribe if asked and finish the files.
async fn run_subscription(
    session: Session,
    stream: Stream,
    record_dir: Option<PathBuf>,
    mut stop: oneshot::Receiver<bool>,
    reports: mpsc::UnboundedSender<Report>,
) -> Tally {
    let stream_id = stream.stream_id.clone();
    let mut tally = Tally::default();
    let subscribed = tokio::select! {
        r = session.subscribe(&stream_id, SubscribeOptions::default()) => r,
        _ = &mut stop => return tally,
    };
    let mut sub = match subscribed {
        Ok(sub) => sub,
        Err(error) => {
            let _ = reports.send(Report::Refused { stream_id, error });
            return tally;
        }
    };
    let mut recorder = record_dir.map(|dir| Recorder::new(&dir, &stream));
    let mut on_frame = |f: MediaFrame, tally: &mut Tally| {
        tally.count(&f);
        if let Some(r) = recorder.as_mut()
            && let Err(message) = r.write(&f)
        {
            let _ = reports.send(Report::RecordError {
                stream_id: stream_id.clone(),
                message,
            });
        }
    };
    let unsubscribe = loop {
        tokio::select! {
            ev = sub.next_event() => match ev {
                Some(SubscriberEvent::Connected) => {
                    let _ = reports.send(Report::Subscribed {
                        stream_id: stream_id.clone(),
                        subscription_id: sub.subscription_id().to_owned(),
                    });
                }
                Some(SubscriberEvent::Frame(f)) => on_frame(f, &mut tally),
                Some(SubscriberEvent::Closed(reason)) => {
                    let _ = reports.send(Report::MediaEnded { stream_id: stream_id.clone(), reason });
                    break true;
                }
                None => {
                    let _ = reports.send(Report::MediaEnded { stream_id: stream_id.clone(), reason: "the peer is gone".into() });
                    break true;
                }
            },
            unsubscribe = &mut stop => {
                // Keep what already arrived.
                while let Some(Some(SubscriberEvent::Frame(f))) = sub.next_event().now_or_never() {
                    on_frame(f, &mut tally);
                }
                break unsubscribe.unwrap_or(true);
            }
        }
    };
    if unsubscribe {
        match tokio::time::timeout(Duration::from_secs(3), sub.unsubscribe()).await {
            Ok(Ok(())) | Ok(Err(ClientError::Closed)) => {}
            Ok(Err(e)) => eprintln!("warning: unsubscribing from stream {stream_id}: {e}"),
            Err(_) => eprintln!("warning: unsubscribing from stream {stream_id} timed out"),
        }
    }
    if let Some(r) = recorder
        && let Err(message) = r.finish()
    {
        let _ = reports.send(Report::RecordError { stream_id, message });
    }
    tally
}

impl Tally {
    fn count(&mut self, f: &MediaFrame) {
        match f.kind {
            MediaKind::Video => {
                self.video_frames += 1;
                self.video_bytes += f.data.len() as u64;
                if parlor_media::vp8::is_keyframe(&f.data) {
                    self.keyframes += 1;
                }
            }
            MediaKind::Audio => {
                self.audio_frames += 1;
                self.audio_bytes += f.data.len() as u64;
            }
        }
    }
}

/// Writes one stream's frames to `<dir>/<streamId>.ivf` and `.ogg`.
struct Recorder {
    video_path: PathBuf,
    audio_path: PathBuf,
    dimensions: Option<VideoDimensions>,
    video: Option<IvfWriter<BufWriter<File>>>,
    first_video_rtp: u64,
    video_frames: u64,
    last_video_pts: u64,
    audio: Option<OggOpusWriter<BufWriter<File>>>,
    /// After a write error the file is abandoned.
    video_failed: bool,
    audio_failed: bool,
    invalid_audio: u64,
}

impl Recorder {
    fn new(dir: &Path, stream: &Stream) -> Recorder {
        // Stream IDs are UUIDs; keep a hostile one from naming a path elsewhere.
        let name: String = stream
            .stream_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Recorder {
            video_path: dir.join(format!("{name}.ivf")),
            audio_path: dir.join(format!("{name}.ogg")),
            dimensions: stream.video_dimensions,
            video: None,
            first_video_rtp: 0,
            video_frames: 0,
            last_video_pts: 0,
            audio: None,
            video_failed: false,
            audio_failed: false,
            invalid_audio: 0,
        }
    }

    fn write(&mut self, f: &MediaFrame) -> Result<(), String> {
        match f.kind {
            MediaKind::Video if !self.video_failed => {
                let r = self.write_video(f);
                self.video_failed = r.is_err();
                r.map_err(|e| format!("{}: {e}", self.video_path.display()))
            }
            MediaKind::Audio if !self.audio_failed => {
                let r = self.write_audio(f);
                self.audio_failed = r.is_err();
                r.map_err(|e| format!("{}: {e}", self.audio_path.display()))
            }
            _ => Ok(()),
        }
    }

    fn write_video(&mut self, f: &MediaFrame) -> Result<(), String> {
        if self.video.is_none() {
            let (width, height) = vp8_dimensions(&f.data)
                .or(self
                    .dimensions
                    .map(|d| (d.width.min(0xffff) as u16, d.height.min(0xffff) as u16)))
                .unwrap_or((0, 0));
            let header = IvfHeader {
                fourcc: FOURCC_VP8,
                width,
                height,
                timebase_num: 1,
                timebase_den: VIDEO_HZ as u32,
                frame_count: 0,
            };
            let file = File::create(&self.video_path).map_err(|e| e.to_string())?;
            self.video =
                Some(IvfWriter::new(BufWriter::new(file), header).map_err(|e| e.to_string())?);
            self.first_video_rtp = f.rtp_time;
        }
        let writer = self.video.as_mut().expect("created above");
        let pts = f.rtp_time.saturating_sub(self.first_video_rtp);
        writer
            .write_frame(pts, &f.data)
            .map_err(|e| e.to_string())?;
        self.video_frames += 1;
        self.last_video_pts = pts;
        Ok(())
    }

    fn write_audio(&mut self, f: &MediaFrame) -> Result<(), String> {
        if parlor_media::ogg_opus::opus_packet_duration_48k(&f.data).is_none() {
            // Not a valid Opus packet (nothing a decoder could use): skip it.
            self.invalid_audio += 1;
            return Ok(());
        }
        if self.audio.is_none() {
            // The TOC byte's `s` bit: a stereo packet.
            let channels = if f.data[0] & 0x04 != 0 { 2 } else { 1 };
            let file = File::create(&self.audio_path).map_err(|e| e.to_string())?;
            let head = OpusHead::new(channels, 0);
            self.audio = Some(
                OggOpusWriter::new(BufWriter::new(file), rand::random(), &head)
                    .map_err(|e| e.to_string())?,
            );
        }
        let writer = self.audio.as_mut().expect("created above");
        writer.write_packet(&f.data).map_err(|e| e.to_string())
    }

    fn finish(self) -> Result<(), String> {
        let mut errors = Vec::new();
        if self.invalid_audio > 0 {
            eprintln!(
                "warning: {}: skipped {} invalid Opus packets",
                self.audio_path.display(),
                self.invalid_audio
            );
        }
        if let Some(w) = self.video {
            let duration = ivf_duration(self.video_frames, self.last_video_pts);
            if let Err(e) = finish_ivf(w, duration) {
                errors.push(format!("{}: {e}", self.video_path.display()));
            }
        }
        if let Some(w) = self.audio
            && let Err(e) = w.finish()
        {
            errors.push(format!("{}: {e}", self.audio_path.display()));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// The value of the IVF header's 32-bit field at offset 24 for a recording: like
/// ffmpeg's IVF muxer, the stream's duration in time-base units estimated as frames ×
/// mean frame interval, which ffmpeg's demuxer reads back as the duration. (libvpx puts
/// the frame count there, which is the same number only for a 1/fps time base; the
/// recordings' time base is 1/90000.)
fn ivf_duration(frames: u64, last_pts: u64) -> u32 {
    if frames < 2 {
        return 0;
    }
    (u128::from(last_pts) * u128::from(frames) / u128::from(frames - 1)).min(u32::MAX.into()) as u32
}

/// Writes the header's duration field and flushes.
fn finish_ivf(writer: IvfWriter<BufWriter<File>>, duration: u32) -> std::io::Result<()> {
    use std::io::{Seek as _, SeekFrom};
    let mut w = writer.into_inner();
    let end = w.stream_position()?;
    w.seek(SeekFrom::Start(24))?;
    w.write_all(&duration.to_le_bytes())?;
    w.seek(SeekFrom::Start(end))?;
    w.flush()?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Width and height of a VP8 keyframe (14 bits each after the start code).
fn vp8_dimensions(frame: &[u8]) -> Option<(u16, u16)> {
    if !parlor_media::vp8::is_keyframe(frame) || frame.len() < 10 {
        return None;
    }
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    (width > 0 && height > 0).then_some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_conversions() {
        assert_eq!(ticks_to_duration(90_000, VIDEO_HZ), Duration::from_secs(1));
        assert_eq!(ticks_to_duration(960, AUDIO_HZ), Duration::from_millis(20));
        assert_eq!(duration_to_ticks(Duration::from_millis(20), AUDIO_HZ), 960);
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(23), "23rd");
    }

    #[test]
    fn duration_argument() {
        assert_eq!(duration_arg(None).unwrap(), None);
        assert_eq!(
            duration_arg(Some(1.5)).unwrap(),
            Some(Duration::from_millis(1500))
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(duration_arg(Some(bad)).unwrap_err().code, 2);
        }
    }

    #[test]
    fn keyframe_dimensions() {
        let mut frame = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        frame.extend_from_slice(&320u16.to_le_bytes());
        frame.extend_from_slice(&(240u16 | 0x4000).to_le_bytes());
        assert_eq!(vp8_dimensions(&frame), Some((320, 240)));
        frame[0] |= 1; // interframe
        assert_eq!(vp8_dimensions(&frame), None);
    }
}
