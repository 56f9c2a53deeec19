//! `parlor client publish|subscribe`: the native client on the command line.
//!
//! # `publish`
//!
//! Publishes VP8 from an IVF file (and Opus from an Ogg file; both read and paced by
//! [`parlor_client::media_files`]) at the media's own pace:
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
//! With `--record-dir DIR`, each stream goes to `DIR/<streamId>.webm` (VP8 and Opus in
//! one file, created on the first frame), written by the recorder the server's archives
//! use (`parlor-recorder`, fed whole frames: see [`parlor_client::recording`]): the
//! frames and packets exactly as received, each track placed by its RTP time (so gaps
//! and the sender's clock are preserved, to the millisecond), video from a keyframe on,
//! written cluster by cluster so the file stays playable if the process is killed. The
//! file is finished (held frames written, Cues, Duration) when the stream is destroyed,
//! and when the command ends by `--duration`, SIGINT or SIGTERM.
//!
//! # Exit codes
//!
//! 0 on an orderly end (also when the server ends the stream or the session on purpose:
//! forceUnpublish, forceDisconnect), 1 when the server refuses the token or the role, or
//! the connection fails or breaks (after the same orderly end: files finished, summary
//! printed), 2 for bad arguments and unreadable files.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use futures_util::FutureExt as _;
use indexmap::IndexMap;
use parlor_client::media_files::{AudioFile, FileNotice, MediaFileError, Pacer, Track, VideoFile};
use parlor_client::recording::StreamRecording;
use parlor_client::{
    ClientError, MediaFrame, MediaKind, PublishOptions, Publisher, ServerMessage, Session, Stream,
    SubscribeOptions, SubscriberEvent,
};
use parlor_proto::signaling::{ErrorCode, VideoType};
use parlor_recorder::RecorderError;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::wire_name;

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
    /// A client token: an OpenTok token, or a Rooms join token (with --session <room id>).
    #[arg(long)]
    pub token: String,
    /// The session to join [default: the session named in the token]; with a Rooms join
    /// token, the room's ID.
    #[arg(long)]
    pub session: Option<String>,
    /// With a Rooms join token: the participant's context (its connection data).
    #[arg(long)]
    pub context: Option<String>,
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
    /// Record each stream (VP8 + Opus) to DIR/<streamId>.webm.
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
    if parlor_proto::rooms_token::is_join_token(token) {
        return Err(Failure::usage(
            "--token is a Rooms join token: pass --session <room id>",
        ));
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
    join: &JoinArgs,
    session_id: &str,
    stop: &mut StopSignal,
) -> Result<(Session, mpsc::UnboundedReceiver<ServerMessage>), Failure> {
    let (url, token) = (&join.url, &join.token);
    if join.context.is_some() && !parlor_proto::rooms_token::is_join_token(token) {
        return Err(Failure::usage(
            "--context is for Rooms join tokens; an OpenTok token carries its connection data",
        ));
    }
    tokio::select! {
        r = Session::join_room(url, session_id, token, join.context.as_deref()) => {
            r.map_err(|e| client_failure(&format!("connecting to {url}"), e))
        }
        name = stop_requested(stop) => Err(Failure::failed(format!("{name} while connecting"))),
    }
}

/// `event` with a Rooms participant's leave `detail` (`kicked`, ...), when there is one:
/// OpenTok connections' events keep their shape.
fn with_detail(mut event: Value, detail: &Option<String>) -> Value {
    if let Some(d) = detail {
        event["detail"] = Value::String(d.clone());
    }
    event
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

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Prints one line on stdout; a closed stdout is not an error worth dying for.
fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

// ---------------------------------------------------------------------------------------
// publish: the files

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

/// Prints what happened to a media file (`what`: "video" or "audio") on the way.
fn print_notices(what: &str, path: &Path, notices: Vec<FileNotice>) {
    for notice in notices {
        match notice {
            FileNotice::StartingOver { pass } => {
                eprintln!("{what}: starting over ({} pass)", ordinal(pass));
            }
            FileNotice::ReadError(e) => eprintln!(
                "warning: {}: {e}; treating it as the end of the file",
                path.display()
            ),
            FileNotice::RestartFailed(e) => eprintln!("warning: cannot restart the {what}: {e}"),
        }
    }
}

/// Prints the notices of both files of a pacer.
fn print_pacer_notices(pacer: &mut Pacer, video: &Path, audio: Option<&Path>) {
    print_notices("video", video, pacer.video_mut().take_notices());
    if let (Some(file), Some(path)) = (pacer.audio_mut(), audio) {
        print_notices("audio", path, file.take_notices());
    }
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
    let usage = |e: MediaFileError| Failure::usage(e.to_string());
    let video = VideoFile::open(&args.video, args.looping).map_err(usage)?;
    let audio = match &args.audio {
        Some(path) => Some(AudioFile::open(path, args.looping).map_err(usage)?),
        None => None,
    };
    let video_dimensions = video.dimensions();
    let has_audio = audio.is_some();
    let mut pacer = Pacer::new(video, audio, rand::random(), rand::random());
    let mut stop = watch_signals();
    let (session, mut events) = connect(&args.join, &session_id, &mut stop).await?;
    let info = session.info();
    eprintln!(
        "connected to session {} as connection {} ({})",
        info.session_id, info.connection.connection_id, info.role
    );
    let options = PublishOptions {
        name: args.name.clone().unwrap_or_default(),
        has_audio,
        has_video: true,
        video_type: VideoType::Camera,
        video_dimensions,
        initial_video_seq: None,
        simulcast: Vec::new(),
        video_codec: parlor_client::VideoCodec::Vp8,
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
            let files = (args.video.as_path(), args.audio.as_deref());
            send_media(
                &mut publisher,
                &mut events,
                &mut pacer,
                files,
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
        Some(ServerMessage::Disconnected { reason, detail }) => Some(SendEnd::ByServer(format!(
            "the server ended the session ({})",
            detail.unwrap_or_else(|| wire_name(&reason))
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

/// Sends the files at their pace (see [`Pacer`]) until they end, the time is up, a
/// signal arrives, or the server ends the stream. `files`: the video and audio paths,
/// for messages.
async fn send_media(
    publisher: &mut Publisher,
    events: &mut mpsc::UnboundedReceiver<ServerMessage>,
    pacer: &mut Pacer,
    files: (&Path, Option<&Path>),
    limit: Option<Duration>,
    stop: &mut StopSignal,
    counts: &mut SendCounts,
) -> SendEnd {
    let stream_id = publisher.stream_id().to_owned();
    let start = Instant::now();
    let deadline = limit.map(|d| start + d);
    let mut requests_seen = 0;
    let mut audio_muted = false;

    loop {
        // Keyframe requests, checked between frames.
        let requests = match publisher.poll_keyframe_requests() {
            Ok(n) => n,
            Err(e) => return explain_media_end(events, &stream_id, e.to_string()).await,
        };
        if requests > requests_seen {
            requests_seen = requests;
            let elapsed = start.elapsed();
            match pacer.keyframe_requested(elapsed) {
                Some(jump) => eprintln!(
                    "keyframe requested at {:.3} s: skipped {} frames to the keyframe at frame {} of {}",
                    elapsed.as_secs_f64(),
                    jump.skipped,
                    jump.index,
                    files.0.display()
                ),
                None => eprintln!(
                    "keyframe requested, but {} has no keyframe left",
                    files.0.display()
                ),
            }
            print_pacer_notices(pacer, files.0, files.1);
        }

        // The next item due: video or audio.
        let Some((track, due)) = pacer.next_due() else {
            return SendEnd::Done;
        };
        let due = start + due;
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

        let sent = match track {
            Track::Video => {
                let f = pacer.next_video().expect("video is due");
                counts.frames += 1;
                publisher.send_video(&f.frame.data, f.rtp_time)
            }
            Track::Audio => {
                // A muted stream's clock goes on: the packet is taken, not sent.
                let p = pacer.next_audio().expect("audio is due");
                if audio_muted {
                    Ok(())
                } else {
                    counts.packets += 1;
                    publisher.send_audio(&p.data, p.rtp_time)
                }
            }
        };
        print_pacer_notices(pacer, files.0, files.1);
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
    let (session, mut events) = connect(&args.join, &session_id, &mut stop).await?;
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
                Report::Refused { stream_id, error: ClientError::Server { code: ErrorCode::PermissionDenied, message, .. } } => {
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
                    ServerMessage::ConnectionDestroyed { connection, reason, detail } => out.event(
                        with_detail(json!({"event": "connectionDestroyed", "connection": to_json(&connection), "reason": to_json(&reason)}), &detail),
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
                    ServerMessage::AudioCensored { stream_id, censored } => out.event(
                        json!({"event": "audioCensored", "streamId": stream_id, "censored": censored}),
                        || format!("the room's moderator {} the audio of stream {stream_id}", if censored { "censored" } else { "uncensored" }),
                    ),
                    ServerMessage::Speakers { speaking, dominant } => out.event(
                        json!({"event": "speakers", "speaking": speaking, "dominant": dominant}),
                        || format!(
                            "speaking: {}; dominant speaker: {}",
                            if speaking.is_empty() { "nobody".to_owned() } else { speaking.join(", ") },
                            dominant.as_deref().unwrap_or("none")
                        ),
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
                    ServerMessage::QualityScore { subscription_id, media, score } => out.event(
                        json!({"event": "qualityScore", "subscriptionId": subscription_id, "media": media, "score": score}),
                        || format!("quality score of subscription {subscription_id} ({media}): {score} of 5"),
                    ),
                    ServerMessage::VideoQuality { subscription_id, state } => out.event(
                        json!({"event": "videoQuality", "subscriptionId": subscription_id, "state": to_json(&state)}),
                        || format!("video of subscription {subscription_id}: {}", wire_name(&state)),
                    ),
                    ServerMessage::Disconnected { reason, detail } => {
                        out.event(
                            with_detail(json!({"event": "sessionDisconnected", "reason": to_json(&reason)}), &detail),
                            || format!("disconnected by the server ({})", detail.clone().unwrap_or_else(|| wire_name(&reason))),
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
                    | ServerMessage::P2pSignal { .. }
                    | ServerMessage::LayersNeeded { .. }
                    | ServerMessage::Resumed { .. }
                    | ServerMessage::IceRestarted { .. }
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
/// ends, then unsubscribe if asked and finish the file.
async fn run_subscription(
    session: Session,
    stream: Stream,
    record_dir: Option<PathBuf>,
    mut stop: oneshot::Receiver<bool>,
    reports: mpsc::UnboundedSender<Report>,
) -> Tally {
    let stream_id = stream.stream_id.clone();
    let subscribed = tokio::select! {
        r = session.subscribe(&stream_id, SubscribeOptions::default()) => r,
        _ = &mut stop => return Tally::default(),
    };
    let mut sub = match subscribed {
        Ok(sub) => sub,
        Err(error) => {
            let _ = reports.send(Report::Refused { stream_id, error });
            return Tally::default();
        }
    };
    let mut rx = Received {
        tally: Tally::default(),
        recording: record_dir.map(|dir| StreamRecording::new(&dir, &stream, unix_micros())),
        stream_id: stream_id.clone(),
        reports: reports.clone(),
    };
    // The recorder writes clusters on time even while no frame comes.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let unsubscribe = loop {
        tokio::select! {
            ev = sub.next_event() => match ev {
                Some(SubscriberEvent::Connected) => {
                    let _ = reports.send(Report::Subscribed {
                        stream_id: stream_id.clone(),
                        subscription_id: sub.subscription_id().to_owned(),
                    });
                }
                Some(SubscriberEvent::Frame(f)) => rx.frame(&f),
                Some(SubscriberEvent::Closed(reason)) => {
                    let _ = reports.send(Report::MediaEnded { stream_id: stream_id.clone(), reason });
                    break true;
                }
                None => {
                    let _ = reports.send(Report::MediaEnded { stream_id: stream_id.clone(), reason: "the peer is gone".into() });
                    break true;
                }
            },
            _ = tick.tick(), if rx.recording.is_some() => rx.tick(),
            unsubscribe = &mut stop => {
                // Keep what already arrived.
                while let Some(Some(SubscriberEvent::Frame(f))) = sub.next_event().now_or_never() {
                    rx.frame(&f);
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
    rx.finish()
}

fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// What one subscription received, and its recording.
struct Received {
    tally: Tally,
    /// After an error the recording is abandoned (and reported).
    recording: Option<StreamRecording>,
    stream_id: String,
    reports: mpsc::UnboundedSender<Report>,
}

impl Received {
    fn frame(&mut self, f: &MediaFrame) {
        self.tally.count(f);
        if let Some(r) = self.recording.as_mut() {
            let result = r.push(f, unix_micros());
            self.check(result);
        }
    }

    fn tick(&mut self) {
        if let Some(r) = self.recording.as_mut() {
            let result = r.handle_timeout(unix_micros());
            self.check(result);
        }
    }

    fn check(&mut self, result: Result<(), RecorderError>) {
        if let Err(e) = result
            && let Some(r) = self.recording.take()
        {
            self.record_error(format!("{}: {e}", r.path().display()));
        }
    }

    fn record_error(&self, message: String) {
        let _ = self.reports.send(Report::RecordError {
            stream_id: self.stream_id.clone(),
            message,
        });
    }

    fn finish(mut self) -> Tally {
        if let Some(r) = self.recording.take() {
            let path = r.path().to_owned();
            match r.finish() {
                Ok(stats) => {
                    if stats.audio.frames_dropped > 0 {
                        eprintln!(
                            "warning: {}: skipped {} invalid Opus packets",
                            path.display(),
                            stats.audio.frames_dropped
                        );
                    }
                    if stats.video.frames_dropped > 0 {
                        eprintln!(
                            "warning: {}: left out {} video frames (invalid, or waiting for a keyframe after a loss)",
                            path.display(),
                            stats.video.frames_dropped
                        );
                    }
                }
                Err(e) => self.record_error(format!("{}: {e}", path.display())),
            }
        }
        self.tally
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
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
}
