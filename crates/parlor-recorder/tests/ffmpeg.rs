//! End-to-end tests: real media made by ffmpeg, packetized into RTP here, fed to
//! `StreamRecorder` with jitter (reordering), duplicates, loss and sender reports, written
//! with `StreamFile`, then probed and decoded by ffprobe/ffmpeg.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use parlor_media::fixtures::{self, Fixtures};
use parlor_media::ivf::IvfReader;
use parlor_media::ogg_opus::OggOpusReader;
use parlor_media::vp8::Vp8Packetizer;
use parlor_recorder::{
    Codec, FrameIn, RtpIn, SenderReport, StreamFile, StreamRecorder, StreamRecorderConfig,
    TrackKind, repair,
};
use serde_json::Value;

const T0: u64 = 1_700_000_000_000_000; // server wallclock at the start, Unix µs

fn fixtures() -> &'static Fixtures {
    static FX: OnceLock<Fixtures> = OnceLock::new();
    FX.get_or_init(|| {
        let dir = std::env::temp_dir().join("parlor-recorder-test-fixtures");
        fixtures::ensure(&dir).expect("creating fixtures with ffmpeg")
    })
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parlor-recorder-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ffmpeg_make(out: &Path, args: &[&str]) {
    if out.exists() {
        return;
    }
    let tmp = out.with_extension(format!("{}.tmp", std::process::id()));
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .arg(&tmp)
        .status()
        .expect("ffmpeg on PATH (apt-get install ffmpeg)");
    assert!(st.success(), "ffmpeg {args:?}");
    std::fs::rename(&tmp, out).unwrap();
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One RTP packet as sent, with its send time on the server's clock.
#[derive(Clone)]
struct Sent {
    kind: TrackKind,
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Vec<u8>,
    send_us: u64,
}

fn vp8_frames(path: &Path) -> Vec<Vec<u8>> {
    IvfReader::new(BufReader::new(File::open(path).unwrap()))
        .unwrap()
        .map(|f| f.unwrap().data)
        .collect()
}

fn opus_packets() -> Vec<Vec<u8>> {
    OggOpusReader::new(BufReader::new(File::open(&fixtures().audio_ogg).unwrap()))
        .unwrap()
        .map(|p| p.unwrap().data)
        .collect()
}

/// Packetizes video frames at `fps` (one packet list per frame, `payloads(frame)`).
fn video_packets(
    frames: &[Vec<u8>],
    start_us: u64,
    seq0: u16,
    ts0: u32,
    mut payloads: impl FnMut(&[u8]) -> Vec<(Vec<u8>, bool)>,
) -> Vec<Sent> {
    let mut out = Vec::new();
    let mut seq = seq0;
    for (i, f) in frames.iter().enumerate() {
        let ts = ts0.wrapping_add(3000 * i as u32);
        let send_us = start_us + i as u64 * 1_000_000 / 30;
        for (payload, marker) in payloads(f) {
            out.push(Sent {
                kind: TrackKind::Video,
                seq,
                ts,
                marker,
                payload,
                send_us,
            });
            seq = seq.wrapping_add(1);
        }
    }
    out
}

fn vp8_payloads() -> impl FnMut(&[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut p = Vp8Packetizer::new(777);
    move |f| {
        p.packetize(f, 1200)
            .unwrap()
            .map(|pk| {
                let mut v = Vec::new();
                pk.append_to(&mut v);
                (v, pk.last)
            })
            .collect()
    }
}

fn audio_packets(packets: &[Vec<u8>], start_us: u64, seq0: u16, ts0: u32) -> Vec<Sent> {
    packets
        .iter()
        .enumerate()
        .map(|(i, p)| Sent {
            kind: TrackKind::Audio,
            seq: seq0.wrapping_add(i as u16),
            ts: ts0.wrapping_add(960 * i as u32),
            marker: false,
            payload: p.clone(),
            send_us: start_us + i as u64 * 20_000,
        })
        .collect()
}

/// How the network and the sender treat the packets.
#[derive(Clone, Copy)]
struct Net {
    seed: u64,
    /// One-way delay of audio and of video (µs).
    audio_delay: u64,
    video_delay: u64,
    /// Extra random delay up to this (µs): reorders packets.
    jitter: u64,
    /// Duplicate one packet in this many (0: none).
    dup_one_in: u64,
    /// Lose one packet in this many (0: none).
    lose_one_in: u64,
    /// Sender clock minus server clock (µs), as the sender reports carry it.
    sender_skew: i64,
    /// Send sender reports.
    sender_reports: bool,
}

impl Net {
    fn clean(seed: u64) -> Net {
        Net {
            seed,
            audio_delay: 5_000,
            video_delay: 5_000,
            jitter: 15_000,
            dup_one_in: 20,
            lose_one_in: 0,
            sender_skew: 0,
            sender_reports: true,
        }
    }
}

enum Event {
    Rtp(Sent),
    Sr(TrackKind, SenderReport),
}

/// Feeds `video` and `audio` (with their tracks' first send time and RTP time) through
/// `net` into a recorder writing `path`; `stop_after` events, if given, abandons the
/// file without finishing (a killed process). Returns the recorder.
#[allow(clippy::too_many_arguments)]
fn record(
    path: &Path,
    video_codec: Codec,
    video: Vec<Sent>,
    audio: Vec<Sent>,
    starts: [(u64, u32); 2],
    net: Net,
    origin: u64,
    stop_after: Option<usize>,
) -> StreamRecorder {
    let mut rng = Rng(net.seed | 1);
    let mut events: Vec<(u64, Event)> = Vec::new();
    for s in video.into_iter().chain(audio) {
        if net.lose_one_in > 0 && rng.below(net.lose_one_in) == 0 {
            continue;
        }
        let delay = if s.kind == TrackKind::Video {
            net.video_delay
        } else {
            net.audio_delay
        };
        let at = s.send_us + delay + rng.below(net.jitter + 1);
        if net.dup_one_in > 0 && rng.below(net.dup_one_in) == 0 {
            events.push((at + 1000 + rng.below(30_000), Event::Rtp(s.clone())));
        }
        events.push((at, Event::Rtp(s)));
    }
    if net.sender_reports {
        // [video, audio]: a report 0.7 s after the track starts, then every second.
        for (k, (kind, rate)) in [(TrackKind::Video, 90_000u64), (TrackKind::Audio, 48_000)]
            .into_iter()
            .enumerate()
        {
            let (start_us, ts0) = starts[k];
            for n in 0..8u64 {
                let t = start_us + 700_000 + n * 1_000_000;
                let rtp = ts0.wrapping_add(((t - start_us) * rate / 1_000_000) as u32);
                let sr = SenderReport {
                    ntp_unix_micros: (t as i64 + net.sender_skew) as u64,
                    rtp_time: rtp,
                };
                let delay = if kind == TrackKind::Video {
                    net.video_delay
                } else {
                    net.audio_delay
                };
                events.push((t + delay, Event::Sr(kind, sr)));
            }
        }
    }
    events.sort_by_key(|e| e.0);
    let cfg = StreamRecorderConfig::new(Some(Codec::Opus), Some(video_codec), origin);
    let mut rec = StreamRecorder::new(cfg).unwrap();
    let mut file = StreamFile::create(path).unwrap();
    file.set_sync(false);
    for (i, (at, ev)) in events.into_iter().enumerate() {
        if stop_after == Some(i) {
            file.write_ready(&mut rec).unwrap();
            return rec;
        }
        match ev {
            Event::Rtp(s) => {
                let pkt = RtpIn {
                    seq: s.seq,
                    timestamp: s.ts,
                    marker: s.marker,
                    payload: &s.payload,
                };
                rec.push_rtp(s.kind, &pkt, at);
            }
            Event::Sr(kind, sr) => rec.push_sender_report(kind, sr),
        }
        if i % 40 == 0 {
            rec.handle_timeout(at);
            file.write_ready(&mut rec).unwrap();
        }
    }
    file.finish(&mut rec).unwrap();
    rec
}

fn probe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stream<'a>(p: &'a Value, codec_type: &str) -> &'a Value {
    p["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == codec_type)
        .unwrap_or_else(|| panic!("no {codec_type} stream in {p}"))
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.as_f64().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

/// Decodes the whole file; returns ffmpeg's error output (empty when clean).
///
/// The null output keeps the file's millisecond time base (`-enc_time_base -1`): by
/// default ffmpeg converts video timestamps, counted from the file's first packet, to
/// ticks of its guessed frame rate, and a video track starting a non-whole number of
/// frame intervals after the audio then gets two frames rounded onto one tick ("non
/// monotonically increasing dts" from the null muxer), which says nothing about the file.
fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .unwrap();
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        s.push_str(&format!("\nexit status {}", out.status));
    }
    s
}

#[test]
fn vp8_opus_reordered_duplicated_is_complete_and_clean() {
    let dir = scratch("vp8");
    let path = dir.join("stream.webm");
    let frames = vp8_frames(&fixtures().video_ivf);
    let packets = opus_packets();
    // Audio starts at T0, video 300 ms later; sequence numbers and timestamps wrap.
    let (a_start, v_start) = (T0, T0 + 300_000);
    let (v_ts0, a_ts0) = (u32::MAX - 45_000, u32::MAX - 24_000);
    let video = video_packets(&frames, v_start, 65_500, v_ts0, vp8_payloads());
    let audio = audio_packets(&packets, a_start, 65_530, a_ts0);
    let rec = record(
        &path,
        Codec::Vp8,
        video,
        audio,
        [(v_start, v_ts0), (a_start, a_ts0)],
        Net::clean(7),
        T0,
        None,
    );
    let stats = rec.stats();
    assert!(
        stats.video.packets.duplicates > 0 && stats.audio.packets.duplicates > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.video.packets.lost + stats.audio.packets.lost,
        0,
        "{stats:?}"
    );
    assert_eq!(stats.video.frames, frames.len() as u64);
    assert_eq!(stats.audio.frames, packets.len() as u64);
    assert!(stats.video.synced_by_sender_report && stats.audio.synced_by_sender_report);

    let p = probe(&path);
    assert_eq!(p["format"]["format_name"], "matroska,webm");
    let v = stream(&p, "video");
    let a = stream(&p, "audio");
    assert_eq!(v["codec_name"], "vp8");
    assert_eq!(a["codec_name"], "opus");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(num(&v["nb_read_frames"]) as usize, frames.len());
    assert_eq!(num(&a["nb_read_frames"]) as usize, packets.len());
    // Fed: audio 0–6.0 s, video 0.3–6.3 s, placed ~5 ms late (the least network delay).
    let duration = num(&p["format"]["duration"]);
    assert!((duration - 6.305).abs() < 0.1, "duration {duration}");
    let (vs, as_) = (num(&v["start_time"]), num(&a["start_time"]));
    assert!((vs - as_ - 0.3).abs() < 0.005, "video {vs} audio {as_}");
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    // Seeking metadata: the Cues made it.
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-read_intervals",
            "4%+0.5",
            "-show_entries",
            "packet=pts_time",
            "-select_streams",
            "v",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.parse::<f64>().unwrap());
    assert!(
        first.is_some_and(|t| (3.0..=4.5).contains(&t)),
        "seek landed at {first:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sender_reports_set_sync_not_arrival() {
    let dir = scratch("sync");
    let path = dir.join("sync.webm");
    let frames = vp8_frames(&fixtures().video_ivf);
    let packets = opus_packets();
    // The sender captured video 500 ms after audio; video travels 200 ms longer (so by
    // arrival they would look 700 ms apart), and the sender's clock is an hour ahead.
    let (a_start, v_start) = (T0 + 100_000, T0 + 600_000);
    let video = video_packets(&frames[..90], v_start, 1, 1000, vp8_payloads());
    let audio = audio_packets(&packets[..150], a_start, 1, 5000);
    let net = Net {
        video_delay: 205_000,
        sender_skew: 3_600_000_000,
        ..Net::clean(11)
    };
    let rec = record(
        &path,
        Codec::Vp8,
        video,
        audio,
        [(v_start, 1000), (a_start, 5000)],
        net,
        T0,
        None,
    );
    let p = probe(&path);
    let (vs, as_) = (
        num(&stream(&p, "video")["start_time"]),
        num(&stream(&p, "audio")["start_time"]),
    );
    assert!(
        (vs - as_ - 0.5).abs() <= 0.003,
        "video starts at {vs}, audio at {as_}: {:?}",
        rec.stats()
    );
    // Placed on the server clock despite the skewed sender clock: audio arrived
    // 105 ms after the origin, video 805 ms; the shared offset uses the least delay seen.
    assert!((0.09..0.35).contains(&as_), "audio start {as_}");
    assert!(decode_errors(&path).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_sender_reports_tracks_are_placed_by_arrival() {
    let dir = scratch("nosr");
    let path = dir.join("nosr.webm");
    let frames = vp8_frames(&fixtures().video_ivf);
    let packets = opus_packets();
    let (a_start, v_start) = (T0 + 1_000_000, T0 + 1_250_000);
    let video = video_packets(&frames[..60], v_start, 100, 0, vp8_payloads());
    let audio = audio_packets(&packets[..100], a_start, 100, 0);
    let net = Net {
        sender_reports: false,
        ..Net::clean(3)
    };
    let rec = record(
        &path,
        Codec::Vp8,
        video,
        audio,
        [(v_start, 0), (a_start, 0)],
        net,
        T0,
        None,
    );
    let s = rec.stats();
    assert!(!s.video.synced_by_sender_report && !s.audio.synced_by_sender_report);
    let p = probe(&path);
    let (vs, as_) = (
        num(&stream(&p, "video")["start_time"]),
        num(&stream(&p, "audio")["start_time"]),
    );
    assert!((as_ - 1.005).abs() < 0.01, "audio start {as_}");
    assert!((vs - 1.255).abs() < 0.01, "video start {vs}: {s:?}");
    assert_eq!(num(&stream(&p, "video")["nb_read_frames"]), 60.0);
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn loss_never_writes_a_broken_frame() {
    let dir = scratch("loss");
    let path = dir.join("loss.webm");
    let frames = vp8_frames(&fixtures().video_ivf);
    let packets = opus_packets();
    let video = video_packets(&frames, T0, 9, 0, vp8_payloads());
    let audio = audio_packets(&packets, T0, 9, 0);
    let net = Net {
        lose_one_in: 60,
        ..Net::clean(5)
    };
    let rec = record(
        &path,
        Codec::Vp8,
        video,
        audio,
        [(T0, 0), (T0, 0)],
        net,
        T0,
        None,
    );
    let s = rec.stats();
    assert!(
        s.video.packets.lost > 0 && s.audio.packets.lost > 0,
        "{s:?}"
    );
    assert!(
        s.video.frames < frames.len() as u64 && s.video.frames > 30,
        "{s:?}"
    );
    let p = probe(&path);
    assert_eq!(
        num(&stream(&p, "video")["nb_read_frames"]) as u64,
        s.video.frames
    );
    assert_eq!(
        num(&stream(&p, "audio")["nb_read_frames"]) as u64,
        s.audio.frames
    );
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killed_writer_leaves_a_playable_file_and_repair_finishes_it() {
    let dir = scratch("kill");
    let path = dir.join("killed.webm");
    let frames = vp8_frames(&fixtures().video_ivf);
    let packets = opus_packets();
    let video = video_packets(&frames, T0, 9, 0, vp8_payloads());
    let audio = audio_packets(&packets, T0, 9, 0);
    let n = video.len() + audio.len();
    // Stop after about 3/4 of the events (~4.5 s sent), never finishing the file.
    let rec = record(
        &path,
        Codec::Vp8,
        video,
        audio,
        [(T0, 0), (T0, 0)],
        Net::clean(9),
        T0,
        Some(n * 3 / 4),
    );
    drop(rec);
    // And cut the last cluster in the middle, as a kill during a write would.
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 777).unwrap();
    drop(f);

    // Before repair: players read every complete cluster.
    let before = probe(&path);
    let v_before = num(&stream(&before, "video")["nb_read_frames"]) as u64;
    assert!(v_before >= 30, "{v_before} frames readable before repair");

    // ffmpeg decodes it to the end; its only complaint is the cut last element.
    let before_errors = decode_errors(&path);
    assert!(
        before_errors
            .lines()
            .all(|l| l.ends_with("File ended prematurely")),
        "{before_errors}"
    );

    let report = repair(&path).unwrap();
    assert!(report.len < len - 777 && report.clusters >= 2, "{report:?}");
    let p = probe(&path);
    let v = num(&stream(&p, "video")["nb_read_frames"]) as u64;
    let a = num(&stream(&p, "audio")["nb_read_frames"]) as u64;
    assert_eq!(report.blocks_per_track, vec![v, a]);
    assert!(v_before >= v);
    let duration = num(&p["format"]["duration"]);
    assert!(
        (duration * 1000.0 - report.duration_ms).abs() < 2.0,
        "{duration} vs {report:?}"
    );
    // About 4.5 s were sent; the last open cluster and the cut one are gone.
    assert!((1.5..4.5).contains(&duration), "{duration}");
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    // Repair is idempotent.
    let again = repair(&path).unwrap();
    assert_eq!((again.len, again.clusters), (report.len, report.clusters));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vp8_resolution_change_mid_stream_plays() {
    let dir = scratch("res");
    let big = dir.join("640x360.ivf");
    #[rustfmt::skip]
    ffmpeg_make(&big, &[
        "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30:duration=2",
        "-c:v", "libvpx", "-b:v", "800k", "-pix_fmt", "yuv420p", "-g", "30",
        "-deadline", "realtime", "-cpu-used", "8", "-auto-alt-ref", "0", "-lag-in-frames", "0",
        "-f", "ivf",
    ]);
    let mut frames = vp8_frames(&fixtures().video_ivf)[..60].to_vec();
    frames.extend(vp8_frames(&big));
    let n = frames.len();
    let path = dir.join("res.webm");
    let video = video_packets(&frames, T0, 1, 0, vp8_payloads());
    let audio = audio_packets(&opus_packets()[..200], T0, 1, 0);
    let rec = record(
        &path,
        Codec::Vp8,
        video,
        audio,
        [(T0, 0), (T0, 0)],
        Net::clean(21),
        T0,
        None,
    );
    assert_eq!(rec.stats().video.dimensions, vec![(320, 240), (640, 360)]);
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "frame=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let sizes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(sizes.len(), n);
    assert_eq!(sizes.iter().filter(|s| *s == "320,240").count(), 60);
    assert_eq!(sizes.iter().filter(|s| *s == "640,360").count(), n - 60);
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Splits an Annex-B stream into NAL units.
fn annex_b_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
            while end > s && data[end - 1] == 0 {
                end -= 1;
            }
            &data[s..end]
        })
        .collect()
}

/// An RFC 6184 packetizer: SPS and PPS in one STAP-A, FU-A for NAL units over 1200
/// bytes, single NAL unit packets otherwise; access unit delimiters dropped.
fn h264_payloads(au: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let nals: Vec<&[u8]> = au.chunks(usize::MAX).flat_map(annex_b_nals).collect();
    let mut out = Vec::new();
    let params: Vec<&&[u8]> = nals
        .iter()
        .filter(|n| matches!(n[0] & 0x1f, 7 | 8))
        .collect();
    if !params.is_empty() {
        let mut stap = vec![24 | params.iter().map(|n| n[0] & 0x60).max().unwrap()];
        for n in &params {
            stap.extend_from_slice(&(n.len() as u16).to_be_bytes());
            stap.extend_from_slice(n);
        }
        out.push(stap);
    }
    for n in nals.iter().filter(|n| !matches!(n[0] & 0x1f, 7..=9)) {
        if n.len() <= 1200 {
            out.push(n.to_vec());
            continue;
        }
        let chunks: Vec<&[u8]> = n[1..].chunks(1198).collect();
        for (k, c) in chunks.iter().enumerate() {
            let mut fu = vec![(n[0] & 0xe0) | 28, n[0] & 0x1f];
            if k == 0 {
                fu[1] |= 0x80;
            }
            if k + 1 == chunks.len() {
                fu[1] |= 0x40;
            }
            fu.extend_from_slice(c);
            out.push(fu);
        }
    }
    let last = out.len() - 1;
    out.into_iter()
        .enumerate()
        .map(|(i, p)| (p, i == last))
        .collect()
}

#[test]
fn h264_opus_mkv_decodes() {
    let dir = scratch("h264");
    let src = dir.join("src.h264");
    #[rustfmt::skip]
    ffmpeg_make(&src, &[
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30:duration=6", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "30",
        "-x264-params", "aud=1", "-f", "h264",
    ]);
    let data = std::fs::read(&src).unwrap();
    // Access units: split at each access unit delimiter (NAL type 9).
    let mut aus: Vec<Vec<u8>> = Vec::new();
    for nal in annex_b_nals(&data) {
        if nal[0] & 0x1f == 9 || aus.is_empty() {
            aus.push(Vec::new());
        }
        let au = aus.last_mut().unwrap();
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(nal);
    }
    assert_eq!(aus.len(), 180);
    assert!(
        aus.iter()
            .flat_map(|a| h264_payloads(a))
            .any(|(p, _)| p[0] & 0x1f == 28),
        "FU-A used"
    );
    let path = dir.join("stream.mkv");
    let packets = opus_packets();
    let video = video_packets(&aus, T0, 40_000, 0, h264_payloads);
    let audio = audio_packets(&packets, T0, 1, 0);
    let rec = record(
        &path,
        Codec::H264,
        video,
        audio,
        [(T0, 0), (T0, 0)],
        Net::clean(13),
        T0,
        None,
    );
    assert_eq!(rec.stats().video.dimensions, vec![(320, 240)]);
    let p = probe(&path);
    assert_eq!(p["format"]["format_name"], "matroska,webm");
    let v = stream(&p, "video");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["profile"], "Constrained Baseline");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(num(&v["nb_read_frames"]), 180.0);
    assert_eq!(
        num(&stream(&p, "audio")["nb_read_frames"]) as usize,
        packets.len()
    );
    let duration = num(&p["format"]["duration"]);
    assert!((duration - 6.005).abs() < 0.1, "duration {duration}");
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Copies one track out of a recording without decoding (`ffmpeg -c copy`), into `format`.
fn copy_track(path: &Path, map: &str, format: &str, out: &Path) {
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(path)
        .args(["-map", map, "-c", "copy", "-f", format])
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg -c copy -f {format}");
}

/// Whole frames in (`push_frame`, as the native client receives them from str0m): VP8 and
/// Opus, with sender reports from a skewed clock, video delayed on the way, and a loss
/// in the video. The file is clean, in sync by the reports, and holds the very frames and
/// packets: copied out with ffmpeg, byte for byte, at their RTP times.
#[test]
fn frames_vp8_opus_are_recorded_exactly() {
    let dir = scratch("frames");
    let path = dir.join("frames.webm");
    let frames = vp8_frames(&fixtures().video_ivf);
    let packets = opus_packets();
    // The sender captured video 300 ms after audio; video arrives 120 ms later than audio.
    let (a_start, v_start) = (T0 + 50_000, T0 + 350_000);
    let (a_delay, v_delay) = (4_000, 124_000);
    let (a_ts0, v_ts0) = (u32::MAX - 30_000, 77_777u32);
    let skew: u64 = 3_600_000_000;
    // Frames 70..80 are lost: 80 comes marked not contiguous, and is a delta frame.
    let lost = 70..80;
    let mut rng = Rng(99);
    enum Ev {
        Frame(TrackKind, u32, Vec<u8>, bool),
        Sr(TrackKind, SenderReport),
    }
    let mut events: Vec<(u64, Ev)> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if lost.contains(&i) {
            continue;
        }
        let at = v_start + i as u64 * 1_000_000 / 30 + v_delay + rng.below(3000);
        let rtp = v_ts0.wrapping_add(3000 * i as u32);
        events.push((
            at,
            Ev::Frame(TrackKind::Video, rtp, f.clone(), i != lost.end),
        ));
    }
    for (i, p) in packets.iter().enumerate() {
        let at = a_start + i as u64 * 20_000 + a_delay + rng.below(3000);
        let rtp = a_ts0.wrapping_add(960 * i as u32);
        events.push((at, Ev::Frame(TrackKind::Audio, rtp, p.clone(), true)));
    }
    for n in 0..6u64 {
        for (kind, start, ts0, rate, delay) in [
            (TrackKind::Video, v_start, v_ts0, 90_000, v_delay),
            (TrackKind::Audio, a_start, a_ts0, 48_000, a_delay),
        ] {
            let t = start + 500_000 + n * 1_000_000;
            let sr = SenderReport {
                ntp_unix_micros: t + skew,
                rtp_time: ts0.wrapping_add(((t - start) * rate / 1_000_000) as u32),
            };
            events.push((t + delay, Ev::Sr(kind, sr)));
        }
    }
    // A receiving stack hands frames over in order per track.
    events.sort_by_key(|e| e.0);
    let mut rec = StreamRecorder::new(StreamRecorderConfig::new(
        Some(Codec::Opus),
        Some(Codec::Vp8),
        T0,
    ))
    .unwrap();
    let mut file = StreamFile::create(&path).unwrap();
    file.set_sync(false);
    for (at, ev) in &events {
        match ev {
            Ev::Frame(kind, rtp, data, contiguous) => {
                let frame = FrameIn {
                    rtp_time: *rtp,
                    data,
                    contiguous: *contiguous,
                };
                rec.push_frame(*kind, &frame, *at);
            }
            Ev::Sr(kind, sr) => rec.push_sender_report(*kind, *sr),
        }
        file.write_ready(&mut rec).unwrap();
    }
    file.finish(&mut rec).unwrap();

    // What should be there: every frame but the lost ones and the deltas after them,
    // up to the next key frame (90).
    let resumed = lost.end.next_multiple_of(30);
    let expected: Vec<usize> = (0..frames.len())
        .filter(|i| !(lost.start..resumed).contains(i))
        .collect();
    let s = rec.stats();
    assert_eq!(s.video.frames, expected.len() as u64, "{s:?}");
    assert_eq!(s.video.frames_dropped, (resumed - lost.end) as u64);
    assert_eq!(s.audio.frames, packets.len() as u64);
    assert!(s.video.synced_by_sender_report && s.audio.synced_by_sender_report);
    assert!(rec.take_keyframe_request(), "the loss asks for a key frame");

    let p = probe(&path);
    assert_eq!(p["format"]["format_name"], "matroska,webm");
    let (v, a) = (stream(&p, "video"), stream(&p, "audio"));
    assert_eq!(v["codec_name"], "vp8");
    assert_eq!(a["codec_name"], "opus");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(num(&v["nb_read_frames"]) as usize, expected.len());
    assert_eq!(num(&a["nb_read_frames"]) as usize, packets.len());
    // In sync as captured (300 ms apart), not as arrived (420 ms).
    let (vs, as_) = (num(&v["start_time"]), num(&a["start_time"]));
    assert!((vs - as_ - 0.3).abs() <= 0.003, "video {vs} audio {as_}");
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");

    // The frames themselves, copied out: identical, at their RTP times (ms).
    let ivf = dir.join("video.ivf");
    copy_track(&path, "0:v", "ivf", &ivf);
    let mut reader = IvfReader::new(BufReader::new(File::open(&ivf).unwrap())).unwrap();
    assert_eq!(
        (reader.header().timebase_num, reader.header().timebase_den),
        (1, 1000)
    );
    let mut copied = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        copied.push((f.pts, f.data));
    }
    assert_eq!(copied.len(), expected.len());
    let first = copied[0].0 as i64;
    for ((pts, data), &i) in copied.iter().zip(&expected) {
        assert!(*data == frames[i], "copied frame of source {i} differs");
        // Source frame i is 1/30 s after frame 0: i × 33.33 ms, rounded once.
        let want = i as f64 * 1000.0 / 30.0;
        let got = (*pts as i64 - first) as f64;
        assert!(
            (got - want).abs() <= 1.0,
            "frame {i} at {got} ms, not {want:.1}"
        );
    }
    let ogg = dir.join("audio.ogg");
    copy_track(&path, "0:a", "ogg", &ogg);
    let copied: Vec<Vec<u8>> = OggOpusReader::new(BufReader::new(File::open(&ogg).unwrap()))
        .unwrap()
        .map(|p| p.unwrap().data)
        .collect();
    assert!(copied == packets, "the Opus packets differ");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whole H.264 access units in Annex B form (str0m's frame mode) make a clean Matroska
/// file with every frame.
#[test]
fn frames_h264_annex_b_make_a_clean_mkv() {
    let dir = scratch("frames-h264");
    let src = dir.join("src.h264");
    #[rustfmt::skip]
    ffmpeg_make(&src, &[
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30:duration=3", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "30",
        "-x264-params", "aud=1", "-f", "h264",
    ]);
    let data = std::fs::read(&src).unwrap();
    // Access units: split before each access unit delimiter (NAL type 9), start codes kept.
    let mut aus: Vec<Vec<u8>> = Vec::new();
    for nal in annex_b_nals(&data) {
        if nal[0] & 0x1f == 9 || aus.is_empty() {
            aus.push(Vec::new());
        }
        let au = aus.last_mut().unwrap();
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(nal);
    }
    assert_eq!(aus.len(), 90);
    let path = dir.join("stream.mkv");
    let mut rec =
        StreamRecorder::new(StreamRecorderConfig::new(None, Some(Codec::H264), T0)).unwrap();
    let mut file = StreamFile::create(&path).unwrap();
    file.set_sync(false);
    for (i, au) in aus.iter().enumerate() {
        let frame = FrameIn {
            rtp_time: 3000 * i as u32,
            data: au,
            contiguous: true,
        };
        rec.push_frame(TrackKind::Video, &frame, T0 + i as u64 * 33_333);
        file.write_ready(&mut rec).unwrap();
    }
    file.finish(&mut rec).unwrap();
    let s = rec.stats();
    assert_eq!((s.video.frames, s.video.keyframes), (90, 3), "{s:?}");
    assert_eq!(s.video.dimensions, vec![(320, 240)]);
    let p = probe(&path);
    let v = stream(&p, "video");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(num(&v["nb_read_frames"]), 90.0);
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    let _ = std::fs::remove_dir_all(&dir);
}
