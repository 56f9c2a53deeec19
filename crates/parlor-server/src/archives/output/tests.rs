//! Outputs written from real recordings (solid colours with a sine, made by Debian's
//! ffmpeg) and checked with the `zip` crate, `unzip`, ffprobe, `sha256sum` and decoded
//! frames.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use parlor_compositor::compose::{CancelToken, ComposeOptions};
use parlor_compositor::ffmpeg::{self, FfmpegInfo};
use parlor_compositor::layout::{LayoutSpec, LayoutStream, Resolution};
use parlor_compositor::timeline::{Event, EventKind};
use serde_json::Value;

use super::*;

fn info() -> FfmpegInfo {
    ffmpeg::detect().expect("ffmpeg installed (apt-get install ffmpeg)")
}

/// One directory of sources for the whole test run (kept until the process exits).
fn sources_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn run_ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A recording of `secs` seconds: solid `colour` (0xRRGGBB) at 320x240 with a sine at
/// `hz` (mono). `.webm` gives VP8 + Opus, `.mkv` H.264 + Opus, like the recorder.
fn make_source(name: &str, colour: u32, secs: u32, hz: u32) -> PathBuf {
    static MADE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap();
    let path = sources_dir().join(name);
    if made.contains(&path) {
        return path;
    }
    let video = format!("color=c=0x{colour:06X}:size=320x240:rate=30:d={secs}");
    let audio = format!("sine=frequency={hz}:sample_rate=48000:d={secs}");
    let vcodec: &[&str] = if name.ends_with(".mkv") {
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ]
    } else {
        &[
            "-c:v",
            "libvpx",
            "-b:v",
            "200k",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
        ]
    };
    run_ok(
        Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
            .args(["-f", "lavfi", "-i", &video, "-f", "lavfi", "-i", &audio])
            .args(["-c:a", "libopus", "-b:a", "48k", "-g", "30"])
            .args(vcodec)
            .arg(&path),
    );
    made.push(path.clone());
    path
}

fn recorded(id: &str, index: u32, path: &Path, start: u64, stop: u64) -> RecordedStream {
    RecordedStream {
        stream_id: id.into(),
        index,
        path: path.into(),
        connection_data: format!("name={id}"),
        video_type: "camera".into(),
        start_offset_ms: start,
        stop_offset_ms: stop,
        has_audio: true,
        has_video: true,
    }
}

fn meta() -> ArchiveMeta {
    ArchiveMeta {
        id: "b40ef09b-3811-4726-b508-e41a0f96c68f".into(),
        name: Some("Board meeting".into()),
        partner_id: "47123456".into(),
        session_id: "2_MX40NzEyMzQ1Nn5-fg".into(),
        created_at_ms: 1_700_000_000_123,
    }
}

/// ffprobe's `codec_type=codec_name` pairs and format duration of a file.
fn probe(path: &Path) -> (Vec<String>, f64, String) {
    let out = run_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_entries"])
            .arg("stream=codec_type,codec_name,width,height,sample_rate:format=duration")
            .args(["-of", "default=nw=1"])
            .arg(path),
    );
    let text = String::from_utf8(out).unwrap();
    let mut codecs = Vec::new();
    let mut name = None;
    for l in text.lines() {
        if let Some(n) = l.strip_prefix("codec_name=") {
            name = Some(n.to_owned());
        }
        if let Some(t) = l.strip_prefix("codec_type=") {
            codecs.push(format!("{t}={}", name.take().unwrap_or_default()));
        }
    }
    let duration = text
        .lines()
        .find_map(|l| l.strip_prefix("duration="))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration in:\n{text}"));
    (codecs, duration, text)
}

fn sha256sum(path: &Path) -> String {
    let out = run_ok(Command::new("sha256sum").arg(path));
    String::from_utf8(out)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Entries of `dir` (to check no temporary file is left).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn individual_zip_holds_the_files_and_the_manifest() {
    let a = make_source("red.webm", 0xFF0000, 3, 440);
    let b = make_source("green.webm", 0x00FF00, 2, 660);
    let a1 = make_source("blue.mkv", 0x0000FF, 2, 880);
    let mut b_rec = recorded("8f1c2d3e-b", 0, &b, 1000, 3000);
    b_rec.video_type = "screen".into();
    b_rec.connection_data = "{\"role\":\"guest\",\"q\":\"a\\\"b\"}".into();
    let files = vec![
        recorded("0a1b2c3d-a", 0, &a, 0, 3000),
        b_rec,
        recorded("0a1b2c3d-a", 1, &a1, 4000, 6000),
    ];
    let out_dir = tempfile::tempdir().unwrap();
    let out = write_individual(out_dir.path(), &meta(), &files).unwrap();
    assert_eq!(out.path, out_dir.path().join("archive.zip"));
    assert_eq!(
        listing(out_dir.path()),
        ["archive.zip"],
        "no temporary left"
    );
    assert_eq!(out.size, std::fs::metadata(&out.path).unwrap().len());
    assert_eq!(out.sha256, sha256sum(&out.path));
    assert_eq!(out.duration_secs, 6.0);

    let manifest_name = "b40ef09b-3811-4726-b508-e41a0f96c68f.json";
    let want_names = [
        "0a1b2c3d-a.webm",
        "8f1c2d3e-b.webm",
        "0a1b2c3d-a-1.mkv",
        manifest_name,
    ];
    let mut zip = zip::ZipArchive::new(File::open(&out.path).unwrap()).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
        .collect();
    assert_eq!(names, want_names);

    // Each media entry: stored, byte for byte the recording, and it plays.
    let extract = tempfile::tempdir().unwrap();
    for (i, (name, src)) in want_names.iter().zip([&a, &b, &a1]).enumerate() {
        let mut entry = zip.by_index(i).unwrap();
        assert_eq!(entry.compression(), CompressionMethod::Stored, "{name}");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, std::fs::read(src).unwrap(), "{name}");
        let copy = extract.path().join(name);
        std::fs::write(&copy, &bytes).unwrap();
        let (codecs, duration, text) = probe(&copy);
        let want_video = if name.ends_with(".mkv") {
            "h264"
        } else {
            "vp8"
        };
        assert!(
            codecs.contains(&format!("video={want_video}"))
                && codecs.contains(&"audio=opus".into()),
            "{name}: {text}"
        );
        assert!(duration > 1.5, "{name}: {duration}");
    }

    // The manifest.
    let mut json = String::new();
    zip.by_name(manifest_name)
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    let m: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(m["createdAt"], 1_700_000_000_123i64);
    assert_eq!(m["id"], "b40ef09b-3811-4726-b508-e41a0f96c68f");
    assert_eq!(m["name"], "Board meeting");
    assert_eq!(m["partnerId"], "47123456");
    assert_eq!(m["sessionId"], "2_MX40NzEyMzQ1Nn5-fg");
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys.len(),
        6,
        "createdAt id name partnerId sessionId files: {keys:?}"
    );
    let entries = m["files"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for ((e, f), name) in entries.iter().zip(&files).zip(want_names) {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys.len(),
            7,
            "filename size streamId connectionData videoType startTimeOffset stopTimeOffset: {keys:?}"
        );
        assert_eq!(e["filename"], name);
        assert_eq!(e["size"], std::fs::metadata(&f.path).unwrap().len());
        assert_eq!(e["streamId"], f.stream_id.as_str());
        assert_eq!(e["connectionData"], f.connection_data.as_str());
        assert_eq!(e["videoType"], f.video_type.as_str());
        assert_eq!(e["startTimeOffset"], f.start_offset_ms);
        assert_eq!(e["stopTimeOffset"], f.stop_offset_ms);
        // The ZIP's own size agrees.
        assert_eq!(
            zip.by_name(name).unwrap().size(),
            e["size"].as_u64().unwrap()
        );
    }
    assert_eq!(
        entries[1]["connectionData"],
        "{\"role\":\"guest\",\"q\":\"a\\\"b\"}"
    );

    // Another reader: Info-ZIP lists the same entries and checks every CRC.
    let list = String::from_utf8(run_ok(Command::new("unzip").arg("-l").arg(&out.path))).unwrap();
    for name in want_names {
        assert!(list.contains(name), "{name} missing in:\n{list}");
    }
    let test = String::from_utf8(run_ok(Command::new("unzip").arg("-t").arg(&out.path))).unwrap();
    assert!(test.contains("No errors detected"), "{test}");

    // Written again: replaced whole.
    let again = write_individual(out_dir.path(), &meta(), &files[..1]).unwrap();
    assert_eq!(
        zip::ZipArchive::new(File::open(&again.path).unwrap())
            .unwrap()
            .len(),
        2
    );
    assert_eq!(listing(out_dir.path()), ["archive.zip"]);
}

#[test]
fn individual_refuses_bad_input_and_leaves_nothing() {
    let a = make_source("red.webm", 0xFF0000, 3, 440);
    let out_dir = tempfile::tempdir().unwrap();
    let dir = out_dir.path();

    let e = write_individual(dir, &meta(), &[]).unwrap_err();
    assert!(matches!(e, OutputError::NoMedia), "{e}");
    assert_eq!(e.to_string(), "no media was recorded");

    for bad in ["../etc/passwd", "a/b", "", "x.json", "a\u{0}b"] {
        let e = write_individual(dir, &meta(), &[recorded(bad, 0, &a, 0, 1000)]).unwrap_err();
        assert!(matches!(e, OutputError::Invalid(_)), "{bad:?}: {e}");
    }
    let e = write_individual(dir, &meta(), &[recorded(&"x".repeat(129), 0, &a, 0, 1)]);
    assert!(matches!(e, Err(OutputError::Invalid(_))));
    // Two files with one name.
    let e = write_individual(
        dir,
        &meta(),
        &[
            recorded("s", 1, &a, 0, 1000),
            recorded("s", 1, &a, 2000, 3000),
        ],
    )
    .unwrap_err();
    assert!(e.to_string().contains("two recordings"), "{e}");
    // Stops before it starts.
    let e = write_individual(dir, &meta(), &[recorded("s", 0, &a, 2000, 1000)]).unwrap_err();
    assert!(matches!(e, OutputError::Invalid(_)), "{e}");
    // A stream named like the manifest.
    let mut m = meta();
    m.id = "s".into();
    let mut f = recorded("s", 0, &a, 0, 1000);
    f.path = sources_dir().join("s.json");
    assert!(write_individual(dir, &m, &[f]).is_err());
    // A missing recording, after one good entry: the reason names the stream, and
    // neither the final nor the temporary name is left.
    let missing = sources_dir().join("missing.webm");
    let e = write_individual(
        dir,
        &meta(),
        &[
            recorded("good", 0, &a, 0, 1000),
            recorded("lost", 0, &missing, 0, 1000),
        ],
    )
    .unwrap_err();
    assert!(matches!(e, OutputError::Input { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("stream lost (file 0)"), "{msg}");
    assert!(
        !msg.contains(sources_dir().to_str().unwrap()),
        "no server path: {msg}"
    );
    assert!(listing(dir).is_empty(), "{:?}", listing(dir));
}

#[test]
fn digest_matches_sha256sum() {
    let dir = tempfile::tempdir().unwrap();
    for (name, len) in [("empty", 0usize), ("small", 3), ("big", 3 * COPY_BUF + 17)] {
        let p = dir.path().join(name);
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let (size, hex) = digest(&p).unwrap();
        assert_eq!(size, len as u64);
        assert_eq!(hex, sha256sum(&p), "{name}");
    }
    assert!(digest(&dir.path().join("nope")).is_err());
}

fn stream(id: &str, seq: u64) -> LayoutStream {
    LayoutStream {
        id: id.into(),
        added_seq: seq,
        has_video: true,
        size: Some((320, 240)),
        ..Default::default()
    }
}

fn ev(at_ms: u64, kind: EventKind) -> Event {
    Event { at_ms, kind }
}

/// Decodes the frame at `t` seconds; gives the RGB pixel at (x, y).
fn pixel(path: &Path, t: f64, res: Resolution, x: u32, y: u32) -> (i32, i32, i32) {
    let rgb = run_ok(
        Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-ss"])
            .arg(format!("{t:.3}"))
            .arg("-i")
            .arg(path)
            .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]),
    );
    assert_eq!(
        rgb.len(),
        (res.width * res.height * 3) as usize,
        "frame at {t}"
    );
    let i = ((y * res.width + x) * 3) as usize;
    (
        i32::from(rgb[i]),
        i32::from(rgb[i + 1]),
        i32::from(rgb[i + 2]),
    )
}

#[track_caller]
fn assert_colour(got: (i32, i32, i32), colour: u32, what: &str) {
    let want = (
        (colour >> 16) as i32 & 0xff,
        (colour >> 8) as i32 & 0xff,
        colour as i32 & 0xff,
    );
    let dist = (got.0 - want.0).abs() + (got.1 - want.1).abs() + (got.2 - want.2).abs();
    assert!(dist <= 60, "{what}: {got:?}, want {want:?}");
}

#[test]
fn composed_best_fit_with_a_late_joiner() {
    let res = Resolution::SD_LANDSCAPE;
    let red6 = make_source("red6.webm", 0xFF0000, 6, 440);
    let green = make_source("green4.webm", 0x00FF00, 4, 660);
    let files = vec![
        recorded("a", 0, &red6, 0, 6000),
        recorded("b", 0, &green, 2000, 6000),
    ];
    let events = vec![
        ev(0, EventKind::Added(stream("a", 0))),
        ev(2000, EventKind::Added(stream("b", 1))),
        // A stream that was never recorded takes no tile.
        ev(2000, EventKind::Added(stream("ghost", 2))),
    ];
    let layout = LayoutSpec::default();
    let spec = ComposedSpec {
        files: &files,
        events: &events,
        layout: &layout,
        resolution: res,
        duration_ms: 6000,
        has_audio: true,
        has_video: true,
    };
    let out_dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    let out = write_composed_with(
        &info(),
        out_dir.path(),
        &spec,
        &ComposeOptions::default(),
        &CancelToken::new(),
        &mut |f| seen.push(f),
    )
    .unwrap();
    assert_eq!(out.path, out_dir.path().join("archive.mp4"));
    assert_eq!(
        listing(out_dir.path()),
        ["archive.mp4"],
        "no temporary left"
    );
    assert_eq!(out.sha256, sha256sum(&out.path));
    assert_eq!(out.size, std::fs::metadata(&out.path).unwrap().len());
    assert!(
        (out.duration_secs - 6.0).abs() <= 0.5,
        "{}",
        out.duration_secs
    );
    assert_eq!(seen.last(), Some(&1.0));
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");

    let (codecs, duration, text) = probe(&out.path);
    assert_eq!(codecs, ["video=h264", "audio=aac"], "{text}");
    for want in ["width=640", "height=480", "sample_rate=48000"] {
        assert!(text.lines().any(|l| l == want), "{want} in {text}");
    }
    assert!((duration - 6.0).abs() <= 0.5, "{duration}");

    // 1 s: a alone, full frame. 3 s: a left half, b right half (ghost takes no tile).
    assert_colour(
        pixel(&out.path, 1.0, res, 320, 240),
        0xFF0000,
        "a alone at 1 s",
    );
    assert_colour(
        pixel(&out.path, 3.0, res, 160, 240),
        0xFF0000,
        "left half at 3 s",
    );
    assert_colour(
        pixel(&out.path, 3.0, res, 480, 240),
        0x00FF00,
        "right half at 3 s",
    );
}

#[test]
fn composed_stream_with_two_files_switches_file() {
    let res = Resolution::SD_LANDSCAPE;
    let red = make_source("red2.webm", 0xFF0000, 2, 440);
    let blue = make_source("blue.mkv", 0x0000FF, 2, 880);
    // Stream s: file 0 from 0 to 2 s, reconnects, file 1 (H.264) from 3 to 5 s. The
    // caller forgot the Removed/Added pair: the file switch alone moves the picture.
    let files = vec![
        recorded("s", 0, &red, 0, 2000),
        recorded("s", 1, &blue, 3000, 5000),
    ];
    let events = vec![ev(0, EventKind::Added(stream("s", 0)))];
    let layout = LayoutSpec::default();
    let spec = ComposedSpec {
        files: &files,
        events: &events,
        layout: &layout,
        resolution: res,
        duration_ms: 5000,
        has_audio: true,
        has_video: true,
    };
    let c = composition(&spec).unwrap();
    let ids: Vec<&str> = c.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s#0", "s#1"]);
    let spans: Vec<(u64, u64, &str)> = c
        .timeline
        .iter()
        .map(|s| (s.start_ms, s.end_ms, s.placements[0].stream_id.as_str()))
        .collect();
    assert_eq!(spans, [(0, 3000, "s#0"), (3000, 5000, "s#1")]);

    let out_dir = tempfile::tempdir().unwrap();
    // The positional form (default options).
    let out = write_composed(
        &info(),
        out_dir.path(),
        &files,
        &events,
        &layout,
        res,
        5000,
        true,
        true,
        &CancelToken::new(),
        &mut |_| {},
    )
    .unwrap();
    assert_colour(
        pixel(&out.path, 1.0, res, 320, 240),
        0xFF0000,
        "file 0 at 1 s",
    );
    assert_colour(
        pixel(&out.path, 2.5, res, 320, 240),
        0x000000,
        "gap at 2.5 s",
    );
    assert_colour(
        pixel(&out.path, 4.0, res, 320, 240),
        0x0000FF,
        "file 1 at 4 s",
    );
}

#[test]
fn composed_audio_only_and_video_only() {
    let red = make_source("red.webm", 0xFF0000, 3, 440);
    let files = vec![recorded("a", 0, &red, 0, 3000)];
    let events = vec![ev(0, EventKind::Added(stream("a", 0)))];
    let layout = LayoutSpec::default();
    let mut results: HashMap<bool, Vec<String>> = HashMap::new();
    for video in [false, true] {
        let spec = ComposedSpec {
            files: &files,
            events: &events,
            layout: &layout,
            resolution: Resolution::SD_LANDSCAPE,
            duration_ms: 3000,
            has_audio: !video,
            has_video: video,
        };
        let out_dir = tempfile::tempdir().unwrap();
        let out = write_composed_with(
            &info(),
            out_dir.path(),
            &spec,
            &ComposeOptions::default(),
            &CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(listing(out_dir.path()), ["archive.mp4"], "video={video}");
        assert_eq!(out.sha256, sha256sum(&out.path));
        assert!(
            (out.duration_secs - 3.0).abs() <= 0.5,
            "video={video}: {}",
            out.duration_secs
        );
        let (codecs, _, text) = probe(&out.path);
        if !video {
            assert!(text.contains("sample_rate=48000"), "{text}");
        }
        results.insert(video, codecs);
    }
    assert_eq!(results[&false], ["audio=aac"]);
    assert_eq!(results[&true], ["video=h264"]);
}

#[test]
fn composed_errors_and_cancellation() {
    let red = make_source("red.webm", 0xFF0000, 3, 440);
    let files = vec![recorded("a", 0, &red, 0, 3000)];
    let events = vec![ev(0, EventKind::Added(stream("a", 0)))];
    let layout = LayoutSpec::default();
    let spec = ComposedSpec {
        files: &files,
        events: &events,
        layout: &layout,
        resolution: Resolution::SD_LANDSCAPE,
        duration_ms: 3000,
        has_audio: true,
        has_video: true,
    };
    let out_dir = tempfile::tempdir().unwrap();
    let dir = out_dir.path();
    let go = |spec: &ComposedSpec<'_>, cancel: &CancelToken| {
        write_composed_with(
            &info(),
            dir,
            spec,
            &ComposeOptions::default(),
            cancel,
            &mut |_| {},
        )
    };

    // Nobody published.
    let e = go(&ComposedSpec { files: &[], ..spec }, &CancelToken::new()).unwrap_err();
    assert!(matches!(e, OutputError::NoMedia), "{e}");
    assert_eq!(e.to_string(), "no media was recorded");
    let e = go(
        &ComposedSpec {
            duration_ms: 0,
            ..spec
        },
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(matches!(e, OutputError::NoMedia), "{e}");
    // Neither audio nor video.
    let e = go(
        &ComposedSpec {
            has_audio: false,
            has_video: false,
            ..spec
        },
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(matches!(e, OutputError::Invalid(_)), "{e}");
    // An unreadable recording.
    let junk = dir.join("junk.webm");
    std::fs::write(&junk, b"not a webm file at all").unwrap();
    let bad = [recorded("a", 0, &junk, 0, 3000)];
    let e = go(
        &ComposedSpec {
            files: &bad,
            ..spec
        },
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(matches!(e, OutputError::Compose(_)), "{e}");
    std::fs::remove_file(&junk).unwrap();
    // Cancelled: ffmpeg is stopped and nothing is left.
    let cancel = CancelToken::new();
    cancel.cancel();
    let e = go(&spec, &cancel).unwrap_err();
    assert!(matches!(e, OutputError::Cancelled), "{e}");
    assert!(listing(dir).is_empty(), "{:?}", listing(dir));
}

#[test]
fn a_missing_ffmpeg_is_a_tool_error() {
    let red = make_source("red.webm", 0xFF0000, 3, 440);
    let files = vec![recorded("a", 0, &red, 0, 3000)];
    let layout = LayoutSpec::default();
    let spec = ComposedSpec {
        files: &files,
        events: &[],
        layout: &layout,
        resolution: Resolution::SD_LANDSCAPE,
        duration_ms: 3000,
        has_audio: true,
        has_video: true,
    };
    let missing = FfmpegInfo {
        ffmpeg: "/nonexistent/ffmpeg".into(),
        ffprobe: "/nonexistent/ffprobe".into(),
        ..info()
    };
    let dir = tempfile::tempdir().unwrap();
    let e = write_composed_with(
        &missing,
        dir.path(),
        &spec,
        &ComposeOptions::default(),
        &CancelToken::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, OutputError::Tool(_)), "{e}");
    assert!(e.to_string().contains("apt-get install ffmpeg"), "{e}");
    assert!(matches!(
        media_duration(&missing, &red),
        Err(OutputError::Tool(_))
    ));
    assert!((media_duration(&info(), &red).unwrap() - 3.0).abs() < 0.2);
}

#[test]
fn entry_names_keep_the_extension() {
    let r = |id: &str, index, path: &str| recorded(id, index, Path::new(path), 0, 1);
    assert_eq!(r("s1", 0, "/r/x.webm").entry_name().unwrap(), "s1.webm");
    assert_eq!(r("s1", 2, "/r/x.MKV").entry_name().unwrap(), "s1-2.mkv");
    assert!(r("s1", 0, "/r/noext").entry_name().is_err());
    assert!(r("s1", 0, "/r/x.we/bm").entry_name().is_err());
    assert!(r("s 1", 0, "/r/x.webm").entry_name().is_err());
}

#[test]
fn zip_times_are_the_archive_start() {
    let t = zip_time(1_700_000_000_123); // 2023-11-14 22:13:20 UTC
    assert_eq!(
        (
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        (2023, 11, 14, 22, 13, 20)
    );
    assert_eq!(zip_time(0), zip::DateTime::default());
    assert_eq!(zip_time(i64::MIN), zip::DateTime::default());
}
