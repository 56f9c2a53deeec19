//! `parlor client publish|subscribe` end to end: a real `parlor serve`, the real `parlor`
//! binary as publisher and subscribers, real media files, checked with parlor-media and
//! ffprobe/ffmpeg. Recordings (`<streamId>.webm`) are checked frame for frame: their
//! tracks are copied out with `ffmpeg -c copy` (VP8 to IVF, Opus to Ogg) and compared
//! with the source files byte for byte.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{API_KEY, API_SECRET, Server, fixtures, ivf_frames, ogg_packets};
use parlor_media::fixtures::{AUDIO_PACKET_SAMPLES, VIDEO_FRAMES};
use parlor_proto::token::{MintRequest, TokenFormat, mint};
use parlor_sdk::Role;
use serde_json::Value;

/// `ffprobe -count_frames`: frames ffmpeg decodes in the file's stream `select` (`v:0`,
/// `a:0`).
fn ffprobe_frames(path: &Path, select: &str) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            select,
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe {}: {} {}",
        path.display(),
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe {}: {text:?}", path.display()))
}

/// Decodes a whole file with ffmpeg; fails on any error message. (The null output keeps
/// the file's time base: ffmpeg's default, ticks of a guessed frame rate counted from the
/// file's first packet, would flag a video track starting a fraction of a frame after the
/// audio as non-monotonic, which says nothing about the file.)
fn ffmpeg_decodes(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg could not decode {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A stream's recording, `<dir>/<streamId>.webm`, with its tracks copied out as they are
/// in the file (`ffmpeg -c copy`, no decoding).
struct Recording {
    webm: PathBuf,
    /// VP8 frames with their times in ms.
    video: Vec<(u64, Vec<u8>)>,
    /// Opus packets.
    audio: Vec<Vec<u8>>,
}

fn ffmpeg_copy(input: &Path, map: &str, format: &str, output: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(input)
        .args(["-map", map, "-c", "copy", "-f", format])
        .arg(output)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg -c copy -f {format} {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_recording(dir: &Path, stream_id: &str) -> Recording {
    let webm = dir.join(format!("{stream_id}.webm"));
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{stream_id}.webm")], "one file per stream");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name"])
        .args(["-show_entries", "format=format_name"])
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(&webm)
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["vp8", "opus", "matroska,webm"],
        "{}",
        webm.display()
    );
    let copies = tempfile::tempdir().unwrap();
    let ivf = copies.path().join("video.ivf");
    ffmpeg_copy(&webm, "0:v:0", "ivf", &ivf);
    let file = std::fs::File::open(&ivf).unwrap();
    let reader = parlor_media::ivf::IvfReader::new(std::io::BufReader::new(file)).unwrap();
    let header = reader.header();
    assert_eq!((header.timebase_num, header.timebase_den), (1, 1000));
    let ogg = copies.path().join("audio.ogg");
    ffmpeg_copy(&webm, "0:a:0", "ogg", &ogg);
    Recording {
        video: ivf_frames(&ivf),
        audio: ogg_packets(&ogg),
        webm,
    }
}

/// A line a process printed, and when the test read it.
type Line = (Instant, String);

/// A `parlor client ...` process whose output lines are collected (and time-stamped) as
/// they come.
struct Proc {
    what: String,
    child: Child,
    stdout_rx: mpsc::Receiver<Line>,
    stdout: Arc<Mutex<Vec<Line>>>,
    stderr: Arc<Mutex<Vec<Line>>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(
    stream: impl Read + Send + 'static,
    all: Arc<Mutex<Vec<Line>>>,
    tx: Option<mpsc::Sender<Line>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let stamped = (Instant::now(), line);
            all.lock().unwrap().push(stamped.clone());
            if let Some(tx) = &tx {
                let _ = tx.send(stamped);
            }
        }
    })
}

/// What a finished process printed.
struct Finished {
    status: ExitStatus,
    stdout: Vec<Line>,
    stderr: Vec<Line>,
}

impl Finished {
    fn stderr_text(&self) -> String {
        self.stderr
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// stdout as JSON values, one per line.
    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .iter()
            .map(|(_, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// When stderr printed a line containing `needle`.
    fn stderr_at(&self, needle: &str) -> Instant {
        self.stderr
            .iter()
            .find(|(_, l)| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} on stderr:\n{}", self.stderr_text()))
            .0
    }
}

impl Proc {
    fn spawn(what: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parlor"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn parlor");
        let (tx, stdout_rx) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone(), Some(tx)),
            collect(child.stderr.take().unwrap(), stderr.clone(), None),
        ];
        Proc {
            what: what.to_owned(),
            child,
            stdout_rx,
            stdout,
            stderr,
            readers,
        }
    }

    /// Waits for a stdout line (JSON) matching `pred`.
    fn wait_json(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> (Instant, Value) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout_rx.recv_timeout(left) {
                Ok((at, line)) => {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.what));
                    if pred(&v) {
                        return (at, v);
                    }
                }
                Err(_) => panic!(
                    "{}: no expected line within {timeout:?}; stderr:\n{}",
                    self.what,
                    self.stderr_text()
                ),
            }
        }
    }

    fn stderr_text(&self) -> String {
        let lines = self.stderr.lock().unwrap();
        lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits for the process to exit (killing it after `timeout`).
    fn finish(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {timeout:?}; stderr:\n{}",
                    self.what,
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        let take = |v: &Arc<Mutex<Vec<Line>>>| std::mem::take(&mut *v.lock().unwrap());
        Finished {
            status,
            stdout: take(&self.stdout),
            stderr: take(&self.stderr),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn subscribe_args<'a>(
    url: &'a str,
    token: &'a str,
    dir: &'a str,
    duration: &'a str,
) -> Vec<&'a str> {
    vec![
        "client",
        "subscribe",
        "--url",
        url,
        "--token",
        token,
        "--record-dir",
        dir,
        "--json",
        "--duration",
        duration,
    ]
}

/// The source frames: content → index (the fixture's frames are all different).
fn source_index(frames: &[(u64, Vec<u8>)]) -> HashMap<&[u8], usize> {
    let index: HashMap<&[u8], usize> = frames
        .iter()
        .enumerate()
        .map(|(i, (_, f))| (f.as_slice(), i))
        .collect();
    assert_eq!(
        index.len(),
        frames.len(),
        "the fixture has duplicate frames"
    );
    index
}

/// Checks a recording against the source: every frame is a source frame, received frames
/// come in runs of consecutive source frames, each run starting at a keyframe (the
/// publisher jumps ahead to a keyframe when asked for one; with `--loop` it also starts
/// over), and the timestamps (ms) follow the source's: inside a run frame k is k source
/// frame intervals (1/30 s) after the run's first, to the millisecond the file keeps;
/// between runs at least one interval passes (the publisher sends a keyframe no sooner).
/// Returns the source indices.
fn check_recorded_video(recorded: &[(u64, Vec<u8>)], source: &[(u64, Vec<u8>)]) -> Vec<usize> {
    let index = source_index(source);
    let indices: Vec<usize> = recorded
        .iter()
        .enumerate()
        .map(|(i, (_, f))| {
            *index
                .get(f.as_slice())
                .unwrap_or_else(|| panic!("recorded frame {i} is not a frame of the source"))
        })
        .collect();
    assert!(!indices.is_empty(), "no video recorded");
    // The run's first frame: (recorded index, time).
    let mut run = (0, recorded[0].0);
    for (i, w) in indices.windows(2).enumerate() {
        let (prev, next) = (w[0], w[1]);
        let (prev_pts, next_pts) = (recorded[i].0, recorded[i + 1].0);
        assert!(
            next_pts >= prev_pts + 33,
            "frame {} at {next_pts} ms is less than 1/30 s after {prev_pts} ms",
            i + 1
        );
        if next == prev + 1 {
            // 3000 ticks of 90 kHz, rounded once to ms: 1 ms at most off.
            let k = (i + 1 - run.0) as f64;
            let elapsed = (next_pts - run.1) as f64;
            assert!(
                (elapsed - k * 1000.0 / 30.0).abs() <= 1.0,
                "frame {} (source {next}) is at {elapsed} ms from its run's start, not {k} \
                 source intervals",
                i + 1
            );
        } else {
            run = (i + 1, next_pts);
            assert!(
                parlor_media::vp8::is_keyframe(&source[next].1),
                "recorded frame {} (source {next}) follows source {prev} but is no keyframe: \
                 frames were lost; sequence {indices:?}",
                i + 1
            );
        }
    }
    assert!(
        parlor_media::vp8::is_keyframe(&source[indices[0]].1),
        "the recording starts with source frame {}, not a keyframe",
        indices[0]
    );
    indices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_two_recording_subscribers() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[
            Role::Publisher,
            Role::Subscriber,
            Role::Subscriber,
            Role::Publisher,
        ])
        .await;
    let fx = fixtures();
    let source = ivf_frames(&fx.video_ivf);
    let source_audio = ogg_packets(&fx.audio_ogg);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let dir_names: Vec<String> = dirs
        .iter()
        .map(|d| d.path().to_str().unwrap().to_owned())
        .collect();

    // Two subscribers first, without --session: the token names it.
    let subs: Vec<Proc> = (0..2)
        .map(|i| {
            Proc::spawn(
                &format!("subscriber {i}"),
                &subscribe_args(&server.url, &tokens[1 + i], &dir_names[i], "6"),
            )
        })
        .collect();
    let mut my_connections = Vec::new();
    for s in &subs {
        let (_, v) = s.wait_json(Duration::from_secs(10), |v| {
            v["event"] == "sessionConnected"
        });
        assert_eq!(v["sessionId"], sid.as_str());
        assert!(
            v["connections"].is_array() && v["streams"].is_array(),
            "{v}"
        );
        my_connections.push(v["connection"]["connectionId"].as_str().unwrap().to_owned());
    }

    // Another client signals the session.
    let (signaler, _events) = parlor_client::Session::connect(&server.url, &sid, &tokens[3])
        .await
        .unwrap();
    signaler.signal(None, "chat", "hi").await.unwrap();
    let signaler_id = signaler.connection_id().to_owned();
    signaler.disconnect().await;

    let publisher = Proc::spawn(
        "publisher",
        &[
            "client",
            "publish",
            "--url",
            &server.url,
            "--token",
            &tokens[0],
            "--session",
            &sid,
            "--video",
            fx.video_ivf.to_str().unwrap(),
            "--audio",
            fx.audio_ogg.to_str().unwrap(),
            "--duration",
            "4",
            "--name",
            "cam",
        ],
    );
    let publisher = publisher.finish(Duration::from_secs(20));
    assert!(
        publisher.status.success(),
        "publish failed: {}",
        publisher.stderr_text()
    );
    let result = publisher.json_lines();
    assert_eq!(result.len(), 1, "publish prints one line on stdout");
    let stream_id = result[0]["streamId"].as_str().unwrap().to_owned();
    let frames_sent = result[0]["framesSent"].as_u64().unwrap();
    let packets_sent = result[0]["packetsSent"].as_u64().unwrap();
    // 4 s at 50 packets/s; video loses what keyframe jumps skipped.
    assert!(
        (195..=202).contains(&packets_sent),
        "{packets_sent} packets"
    );
    assert!((60..=122).contains(&frames_sent), "{frames_sent} frames");
    let sending_from = publisher.stderr_at("media connected");
    let sending_until = publisher.stderr_at("sent ");
    let jumps = publisher
        .stderr
        .iter()
        .filter(|(_, l)| l.starts_with("keyframe requested"))
        .count();
    eprintln!("publisher:\n{}", publisher.stderr_text());

    for (i, sub) in subs.into_iter().enumerate() {
        let sub = sub.finish(Duration::from_secs(15));
        assert!(
            sub.status.success(),
            "subscriber {i} failed: {}",
            sub.stderr_text()
        );
        let lines = sub.json_lines();
        let find = |event: &str| {
            lines
                .iter()
                .find(|v| v["event"] == event)
                .unwrap_or_else(|| panic!("subscriber {i}: no {event} in {lines:#?}"))
        };
        assert_eq!(lines[0]["event"], "sessionConnected");
        let signal = find("signal");
        assert_eq!(signal["type"], "chat");
        assert_eq!(signal["data"], "hi");
        assert_eq!(signal["from"]["connectionId"], signaler_id.as_str());
        let created = find("streamCreated");
        assert_eq!(created["stream"]["streamId"], stream_id.as_str());
        assert_eq!(created["stream"]["name"], "cam");
        assert_eq!(created["stream"]["hasAudio"], true);
        assert_eq!(created["stream"]["hasVideo"], true);
        assert_eq!(created["stream"]["videoType"], "camera");
        assert_eq!(created["stream"]["connection"]["data"], "client-0");
        let publisher_connection = created["stream"]["connection"]["connectionId"]
            .as_str()
            .unwrap();
        assert!(!publisher_connection.is_empty());
        assert!(!my_connections.iter().any(|c| c == publisher_connection));
        assert_eq!(find("subscribed")["streamId"], stream_id.as_str());
        let destroyed = find("streamDestroyed");
        assert_eq!(destroyed["stream"]["streamId"], stream_id.as_str());
        assert_eq!(destroyed["reason"], "clientDisconnected");
        let gone = lines
            .iter()
            .find(|v| {
                v["event"] == "connectionDestroyed"
                    && v["connection"]["connectionId"] == publisher_connection
            })
            .expect("connectionDestroyed of the publisher");
        assert_eq!(gone["reason"], "clientDisconnected");
        assert_eq!(
            lines[lines.len() - 2],
            serde_json::json!({"event": "sessionDisconnected", "reason": "clientDisconnected"})
        );
        let summary = &lines[lines.len() - 1];
        assert_eq!(summary["event"], "summary");
        let counts = &summary["streams"][&stream_id];
        let subscribed_at = sub
            .stdout
            .iter()
            .find(|(_, l)| l.contains("\"subscribed\""))
            .unwrap()
            .0;

        // Video: exactly the source frames, in runs from keyframes.
        let recording = read_recording(dirs[i].path(), &stream_id);
        let recorded = &recording.video;
        let indices = check_recorded_video(recorded, &source);
        let runs = 1 + indices.windows(2).filter(|w| w[1] != w[0] + 1).count();
        eprintln!(
            "subscriber {i}: {} frames from source {}..={} in {runs} runs; {jumps} keyframe jumps",
            recorded.len(),
            indices[0],
            indices[indices.len() - 1]
        );
        assert!(
            runs <= jumps + 1,
            "more runs than keyframe jumps: lost frames"
        );
        assert!(recorded.len() >= 45, "only {} frames", recorded.len());
        assert_eq!(counts["videoFrames"], recorded.len() as u64);
        let bytes: usize = recorded.iter().map(|(_, f)| f.len()).sum();
        assert_eq!(counts["videoBytes"], bytes as u64);
        let keyframes = recorded
            .iter()
            .filter(|(_, f)| parlor_media::vp8::is_keyframe(f))
            .count();
        assert_eq!(counts["keyframes"], keyframes as u64);
        assert_eq!(
            ffprobe_frames(&recording.webm, "v:0"),
            recorded.len() as u64
        );
        ffmpeg_decodes(&recording.webm);

        // Audio: the source packets, in order, most of what was sent meanwhile.
        let packets = &recording.audio;
        assert_eq!(counts["audioFrames"], packets.len() as u64);
        let bytes: usize = packets.iter().map(Vec::len).sum();
        assert_eq!(counts["audioBytes"], bytes as u64);
        let first = source_audio
            .iter()
            .position(|p| *p == packets[0])
            .expect("the first recorded packet is a source packet");
        assert_eq!(
            packets[..],
            source_audio[first..first + packets.len()],
            "audio is a contiguous run of the source"
        );
        assert_eq!(ffprobe_frames(&recording.webm, "a:0"), packets.len() as u64);
        let sending = sending_until - sending_from;
        let overlap = sending_until.saturating_duration_since(subscribed_at.max(sending_from));
        let expected = packets_sent as f64 * overlap.as_secs_f64() / sending.as_secs_f64();
        eprintln!(
            "subscriber {i}: {} audio packets of ~{expected:.0} sent while subscribed",
            packets.len()
        );
        assert!(
            packets.len() as f64 >= 0.8 * expected,
            "{} audio packets, {expected:.0} sent while subscribed",
            packets.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_keeps_sending_past_the_end_of_the_files() {
    let server = Server::start();
    let (_sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let fx = fixtures();
    let source = ivf_frames(&fx.video_ivf);
    assert_eq!(source.len() as u32, VIDEO_FRAMES);
    let dir = tempfile::tempdir().unwrap();
    let dir_name = dir.path().to_str().unwrap();

    // The subscriber stops (--duration) while the stream is still being published.
    let sub = Proc::spawn(
        "subscriber",
        &subscribe_args(&server.url, &tokens[1], dir_name, "8"),
    );
    sub.wait_json(Duration::from_secs(10), |v| {
        v["event"] == "sessionConnected"
    });
    let publisher = Proc::spawn(
        "publisher",
        &[
            "client",
            "publish",
            "--url",
            &server.url,
            "--token",
            &tokens[0],
            "--video",
            fx.video_ivf.to_str().unwrap(),
            "--audio",
            fx.audio_ogg.to_str().unwrap(),
            "--loop",
            "--duration",
            "8",
        ],
    );
    let sub = sub.finish(Duration::from_secs(20));
    let publisher = publisher.finish(Duration::from_secs(20));
    assert!(
        publisher.status.success(),
        "publish failed: {}",
        publisher.stderr_text()
    );
    assert!(
        sub.status.success(),
        "subscribe failed: {}",
        sub.stderr_text()
    );
    eprintln!("publisher:\n{}", publisher.stderr_text());
    let result = &publisher.json_lines()[0];
    let stream_id = result["streamId"].as_str().unwrap();
    // 8 s of 20 ms packets: the 6 s file was played again.
    let packets_sent = result["packetsSent"].as_u64().unwrap();
    assert!(
        (395..=402).contains(&packets_sent),
        "{packets_sent} packets"
    );
    assert!(publisher.stderr_text().contains("video: starting over"));
    assert!(publisher.stderr_text().contains("audio: starting over"));

    let recording = read_recording(dir.path(), stream_id);
    let recorded = &recording.video;
    let indices = check_recorded_video(recorded, &source);
    // The source wrapped around, and timestamps went on increasing across it.
    assert!(
        indices.windows(2).any(|w| w[1] < w[0]),
        "the video never started over: {indices:?}"
    );
    let span = recorded.last().unwrap().0 - recorded[0].0;
    assert!(span > 6500, "the recording spans only {span} ms");
    let summary = sub.json_lines().pop().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(
        summary["streams"][stream_id]["videoFrames"],
        recorded.len() as u64
    );
    assert_eq!(
        ffprobe_frames(&recording.webm, "v:0"),
        recorded.len() as u64
    );

    let packets = &recording.audio;
    let seconds = packets.len() as f64 * f64::from(AUDIO_PACKET_SAMPLES) / 48_000.0;
    assert!(seconds > 6.5, "only {seconds} s of audio recorded");
    assert_eq!(
        summary["streams"][stream_id]["audioFrames"],
        packets.len() as u64
    );
    assert_eq!(ffprobe_frames(&recording.webm, "a:0"), packets.len() as u64);
    ffmpeg_decodes(&recording.webm);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_exit_1_and_bad_arguments_exit_2() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber, Role::PublisherOnly])
        .await;
    let other = server
        .sdk()
        .create_session(parlor_sdk::SessionOptions::default())
        .await
        .unwrap()
        .session_id;
    let now = parlor_proto::unix_now();
    let expired = mint(&MintRequest {
        api_key: API_KEY,
        api_secret: API_SECRET,
        session_id: &sid,
        role: parlor_proto::Role::Publisher,
        create_time: now - 7200,
        expire_time: now - 3600,
        data: None,
        initial_layout_class_list: &[],
        format: TokenFormat::Jwt,
    });
    let fx = fixtures();
    let video = fx.video_ivf.to_str().unwrap();
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-file.ivf");
    let url = server.url.as_str();
    let publish = |token: &str, extra: &[&str]| {
        let mut args = vec!["client", "publish", "--url", url, "--token", token];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let subscribe = |token: &str, extra: &[&str]| {
        let mut args = vec!["client", "subscribe", "--url", url, "--token", token];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    // (what, args, exit code, stderr must contain)
    let cases: Vec<(&str, Vec<String>, i32, &str)> = vec![
        (
            "expired token, publish",
            publish(&expired, &["--video", video]),
            1,
            "token refused (expired): token expired at",
        ),
        (
            "expired token, subscribe",
            subscribe(&expired, &["--duration", "1"]),
            1,
            "expired",
        ),
        (
            "token for another session",
            subscribe(&tokens[1], &["--session", &other, "--duration", "1"]),
            1,
            "wrong_session",
        ),
        (
            "subscriber publishing",
            publish(&tokens[1], &["--video", video, "--duration", "1"]),
            1,
            "a subscriber token does not allow publishing",
        ),
        (
            "publisheronly subscribing",
            subscribe(&tokens[2], &["--duration", "1"]),
            1,
            "does not allow subscribing",
        ),
        (
            "missing video file",
            publish(&tokens[0], &["--video", missing.to_str().unwrap()]),
            2,
            "no-such-file.ivf",
        ),
        (
            "audio file that is not Ogg Opus",
            publish(&tokens[0], &["--video", video, "--audio", video]),
            2,
            "Ogg",
        ),
        (
            "negative duration",
            publish(&tokens[0], &["--video", video, "--duration=-3"]),
            2,
            "--duration",
        ),
        (
            "token naming no readable session",
            subscribe("not-a-token", &[]),
            2,
            "--session",
        ),
    ];
    let procs: Vec<_> = cases
        .iter()
        .map(|(what, args, _, _)| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Proc::spawn(what, &args)
        })
        .collect();
    for ((what, _, code, needle), proc) in cases.iter().zip(procs) {
        let done = proc.finish(Duration::from_secs(20));
        let stderr = done.stderr_text();
        eprintln!("{what}: {:?}: {stderr}", done.status.code());
        assert_eq!(done.status.code(), Some(*code), "{what}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{what}: {stderr:?} lacks {needle:?}"
        );
        assert!(stderr.contains("error: "), "{what}: {stderr}");
    }
}

/// Sends SIGTERM to a process.
fn terminate(proc: &Proc) {
    let status = Command::new("kill")
        .args(["-TERM", &proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Checks that a finished recording is complete: its tracks copy out whole, ffprobe
/// counts what the summary says.
fn check_recording(dir: &Path, stream_id: &str, counts: &Value) {
    let recording = read_recording(dir, stream_id);
    let frames = recording.video.len() as u64;
    assert!(frames > 0);
    assert_eq!(counts["videoFrames"], frames);
    assert_eq!(ffprobe_frames(&recording.webm, "v:0"), frames);
    let packets = recording.audio.len() as u64;
    assert!(packets > 0);
    assert_eq!(counts["audioFrames"], packets);
    assert_eq!(ffprobe_frames(&recording.webm, "a:0"), packets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_endings_and_sigterm_are_orderly() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[
            Role::Moderator,
            Role::Publisher,
            Role::Subscriber,
            Role::Subscriber,
        ])
        .await;
    let (moderator, mut events) = parlor_client::Session::connect(&server.url, &sid, &tokens[0])
        .await
        .unwrap();
    let fx = fixtures();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let dir_names: Vec<&str> = dirs.iter().map(|d| d.path().to_str().unwrap()).collect();
    // Two subscribers without --duration: one is force disconnected, one gets SIGTERM.
    let subs: Vec<Proc> = (0..2)
        .map(|i| {
            Proc::spawn(
                &format!("subscriber {i}"),
                &[
                    "client",
                    "subscribe",
                    "--url",
                    &server.url,
                    "--token",
                    &tokens[2 + i],
                    "--record-dir",
                    dir_names[i],
                    "--json",
                ],
            )
        })
        .collect();
    let sub_connections: Vec<String> = subs
        .iter()
        .map(|s| {
            let (_, v) = s.wait_json(Duration::from_secs(10), |v| {
                v["event"] == "sessionConnected"
            });
            v["connection"]["connectionId"].as_str().unwrap().to_owned()
        })
        .collect();
    // A publisher without --duration, looping: only the server ends it.
    let publisher = Proc::spawn(
        "publisher",
        &[
            "client",
            "publish",
            "--url",
            &server.url,
            "--token",
            &tokens[1],
            "--video",
            fx.video_ivf.to_str().unwrap(),
            "--audio",
            fx.audio_ogg.to_str().unwrap(),
            "--loop",
        ],
    );
    let stream_id = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(parlor_client::ServerMessage::StreamCreated { stream })) => {
                break stream.stream_id;
            }
            Ok(Some(_)) => {}
            other => panic!("no streamCreated: {other:?}"),
        }
    };
    for s in &subs {
        s.wait_json(Duration::from_secs(10), |v| v["event"] == "subscribed");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // SIGTERM while the stream is live: the subscriber unsubscribes and finishes files.
    terminate(&subs[1]);
    moderator.force_unpublish(&stream_id).await.unwrap();
    let publisher = publisher.finish(Duration::from_secs(10));
    assert!(
        publisher.status.success(),
        "publisher: {}",
        publisher.stderr_text()
    );
    assert!(
        publisher
            .stderr_text()
            .contains("the server ended the stream (forceUnpublished)"),
        "{}",
        publisher.stderr_text()
    );
    assert_eq!(publisher.json_lines()[0]["streamId"], stream_id.as_str());

    // The other subscriber saw the stream end, and is then force disconnected.
    subs[0].wait_json(Duration::from_secs(10), |v| {
        v["event"] == "streamDestroyed" && v["reason"] == "forceUnpublished"
    });
    moderator
        .force_disconnect(&sub_connections[0])
        .await
        .unwrap();
    moderator.disconnect().await;

    for (i, sub) in subs.into_iter().enumerate() {
        let done = sub.finish(Duration::from_secs(10));
        assert!(
            done.status.success(),
            "subscriber {i}: {}",
            done.stderr_text()
        );
        let lines = done.json_lines();
        let reason = if i == 0 {
            "forceDisconnected"
        } else {
            "clientDisconnected"
        };
        assert_eq!(
            lines[lines.len() - 2],
            serde_json::json!({"event": "sessionDisconnected", "reason": reason}),
            "subscriber {i}"
        );
        let summary = &lines[lines.len() - 1];
        assert_eq!(summary["event"], "summary");
        check_recording(dirs[i].path(), &stream_id, &summary["streams"][&stream_id]);
    }
}
