//! What an archive's media really holds, measured from the decoded outputs: the composed
//! layout's geometry as the session changes live (solid-colour publishers, decoded
//! frames, the colour at the centre of every rectangle the layout prescribes), audio/video
//! sync (a flash and a beep every 2 s, their times measured in each output), every frame
//! sent being in an individual file, output durations against the wall time, and a full
//! disk (a small tmpfs as the data dir) failing an archive without disturbing anything else.
//!
//! The media is made with ffmpeg and published by `parlor client publish`; outputs are
//! downloaded through the signed URL and decoded with ffmpeg/ffprobe. Each test prints what
//! it measured. The heavy tests run one at a time ([`SERIAL`]) so their timing does not
//! depend on each other on a 2-core machine.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    API_KEY, API_SECRET, Server, expect_event, fixtures, media, rest_call as call, start_archive,
    stop_archive, wait_archive as wait_done,
};
use parlor_client::ServerMessage;
use parlor_sdk::Role;
use serde_json::{Value, json};

/// One heavy test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Composed resolution of the layout test.
const W: usize = 640;
const H: usize = 480;
/// A channel of a decoded colour may differ this much from the colour published (VP8,
/// then H.264, each with 4:2:0 chroma).
const COLOUR_TOLERANCE: i32 = 60;
/// The largest A/V offset accepted.
const MAX_AV_OFFSET_MS: f64 = 80.0;
/// The largest difference accepted between an output's duration and the wall time.
const MAX_DURATION_ERROR_S: f64 = 0.5;

// ---- REST ---------------------------------------------------------------------------------

async fn get_archive(server: &Server, id: &str) -> Value {
    let (status, a) = call(
        server,
        reqwest::Method::GET,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "GET archive {id}: {a}");
    a
}

/// Waits for an archive to be available and downloads its output into `dir`.
async fn download_output(server: &Server, id: &str, dir: &Path) -> (Value, PathBuf) {
    let done = wait_done(server, id).await;
    assert_eq!(done["status"], "available", "{done}");
    let url = done["url"]
        .as_str()
        .expect("an available archive has a url");
    let name = if done["outputMode"] == "composed" {
        "archive.mp4"
    } else {
        "archive.zip"
    };
    let path = dir.join(format!("{id}-{name}"));
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    std::fs::write(&path, r.bytes().await.unwrap()).unwrap();
    (done, path)
}

/// Extracts the one stream file of an individual archive's ZIP; returns it and the
/// manifest's entry for it.
fn only_stream_file(zip_path: &Path, id: &str, dir: &Path) -> (PathBuf, Value) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(zip_path).unwrap()).unwrap();
    let mut manifest = String::new();
    zip.by_name(&format!("{id}.json"))
        .expect("the manifest")
        .read_to_string(&mut manifest)
        .unwrap();
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "one stream file: {manifest}");
    let entry = files[0].clone();
    let name = entry["filename"].as_str().unwrap().to_owned();
    let out = dir.join(format!("{id}-{name}"));
    std::io::copy(
        &mut zip.by_name(&name).unwrap(),
        &mut std::fs::File::create(&out).unwrap(),
    )
    .unwrap();
    (out, entry)
}

/// Waits until the session has exactly `n` streams; returns their IDs in the server's order.
async fn wait_streams(server: &Server, sid: &str, n: usize) -> Vec<(String, String)> {
    for _ in 0..200 {
        let streams = server.sdk().list_streams(sid).await.unwrap();
        if streams.len() == n {
            return streams.into_iter().map(|s| (s.id, s.name)).collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the session never had exactly {n} streams");
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

// ---- media made with ffmpeg -----------------------------------------------------------------

fn media_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("archive-media");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `ffmpeg <args> FILE` into the media dir unless `name` exists ([`media::make`]).
fn make(name: &str, args: &[&str]) -> PathBuf {
    media::make(&media_dir(), name, args)
}

/// 2 s of one solid colour (`0xRRGGBB`), VP8 320x240 at 30 fps, a keyframe every 30 frames.
fn colour_ivf(rgb: u32) -> PathBuf {
    media::colour_ivf(&media_dir(), rgb, 30, 300)
}

/// The sync test's length of media, in seconds.
const SYNC_SECS: u32 = 16;

/// Black video with a white flash of 3 frames (0.1 s) at 0, 2, 4, … s; VP8 320x240 at 30
/// fps, every frame a keyframe (so a keyframe request never makes the publisher skip
/// frames, which would move the video against the audio).
fn sync_ivf() -> PathBuf {
    let source = format!(
        "color=c=black:size=320x240:rate=30:duration={SYNC_SECS},\
         drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,2)\\,0.1)'"
    );
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", &source,
        "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "1",
        "-keyint_min", "1", "-b:v", "300k", "-auto-alt-ref", "0", "-lag-in-frames", "0",
        "-f", "ivf",
    ];
    make(&format!("sync-flash-{SYNC_SECS}s.ivf"), &args)
}

/// Silence with a 0.1 s 1 kHz beep at 0, 2, 4, … s; Opus 48 kHz mono, 20 ms packets.
fn sync_ogg() -> PathBuf {
    let source = format!(
        "aevalsrc='if(lt(mod(t\\,2)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:d={SYNC_SECS}"
    );
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", &source,
        "-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg",
    ];
    make(&format!("sync-beep-{SYNC_SECS}s.ogg"), &args)
}

/// 2 s of noisy 640x480 video at ~4 Mbps (fills a small disk fast).
fn heavy_ivf() -> PathBuf {
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30:duration=2,noise=alls=80:allf=t",
        "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "30",
        "-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-auto-alt-ref", "0",
        "-lag-in-frames", "0", "-f", "ivf",
    ];
    make("noise-640x480-4mbps-2s.ivf", &args)
}

/// `parlor client publish`; stdout piped (its summary line), stderr piped too when `quiet`.
fn publish(
    server: &Server,
    token: &str,
    video: &Path,
    audio: Option<&Path>,
    looping: bool,
    name: &str,
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parlor"));
    cmd.args([
        "client",
        "publish",
        "--url",
        &server.url,
        "--token",
        token,
        "--name",
        name,
    ])
    .arg("--video")
    .arg(video);
    if let Some(a) = audio {
        cmd.arg("--audio").arg(a);
    }
    if looping {
        cmd.args(["--loop", "--duration", "120"]);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn parlor client publish")
}

/// Ends a publisher the way Ctrl-C would (it unpublishes), and reaps it.
fn terminate(mut p: Child) -> std::process::Output {
    let _ = Command::new("kill")
        .args(["-TERM", &p.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = p.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = p.kill();
    p.wait_with_output().unwrap()
}

/// Keeps a copy of an output for a look after the test (in the media dir).
fn keep(path: &Path, name: &str) {
    let to = media_dir().join(name);
    if std::fs::copy(path, &to).is_ok() {
        println!("kept a copy of the output: {}", to.display());
    }
}

// ---- decoding -----------------------------------------------------------------------------------

fn ffprobe(path: &Path, args: &[&str]) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The container's duration, in seconds.
fn duration_s(path: &Path) -> f64 {
    let p = ffprobe(path, &["-show_format"]);
    p["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {p}"))
}

/// One decoded frame at `t` seconds, RGB24.
fn frame_at(path: &Path, t: f64) -> Vec<u8> {
    media::frame_at(path, t, W, H)
}

/// The mean colour of the 9x9 pixels around (x, y).
fn colour_at(frame: &[u8], x: usize, y: usize) -> [i32; 3] {
    media::colour_at(frame, W, (x, y), 4)
}

fn rgb(c: u32) -> [i32; 3] {
    media::rgb(c)
}

/// Per video frame: (presentation time in s, mean luma), timestamps as in the file.
fn luma_series(path: &Path) -> Vec<(f64, f64)> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-copyts", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-vf",
            "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut series = Vec::new();
    let mut t = None;
    for line in text.lines() {
        if let Some(pos) = line.find("pts_time:") {
            t = line[pos + 9..]
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok());
        } else if let Some(v) = line.strip_prefix("lavfi.signalstats.YAVG=") {
            series.push((t.take().expect("a frame line first"), v.parse().unwrap()));
        }
    }
    series
}

/// The audio as 48 kHz mono samples placed at their timestamps from time 0 of the file:
/// silence before the first sample and in any gap of 2 ms or more (ffmpeg's default fills
/// only gaps of 100 ms or more, so a shorter hole would move all later audio earlier).
fn pcm(path: &Path) -> Vec<i16> {
    pcm_with(path, "aresample=async=1:min_hard_comp=0.002:first_pts=0")
}

/// The audio decoded as a player that plays samples back to back would (gaps under
/// 100 ms ignored).
fn pcm_continuous(path: &Path) -> Vec<i16> {
    pcm_with(path, "aresample=async=1:first_pts=0")
}

fn pcm_with(path: &Path, filter: &str) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-copyts", "-i"])
        .arg(path)
        .args([
            "-map", "0:a:0", "-af", filter, "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Times (s) where the picture turns bright: a frame above the midpoint of the darkest and
/// brightest luma after a frame below it.
fn flash_onsets(series: &[(f64, f64)]) -> Vec<f64> {
    let lo = series.iter().map(|s| s.1).fold(f64::MAX, f64::min);
    let hi = series.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    assert!(hi - lo > 100.0, "no flashes: luma {lo}..{hi}");
    let mid = (lo + hi) / 2.0;
    series
        .windows(2)
        .filter(|w| w[0].1 < mid && w[1].1 >= mid)
        .map(|w| w[1].0)
        .collect()
}

/// Times (s) where a beep starts: the first 5 ms window whose RMS passes a tenth of the
/// loudest window's, after at least 100 ms below it (or at the start).
fn beep_onsets(samples: &[i16]) -> Vec<f64> {
    const WIN: usize = 240;
    let rms: Vec<f64> = samples
        .chunks_exact(WIN)
        .map(|w| (w.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / WIN as f64).sqrt())
        .collect();
    let max = rms.iter().copied().fold(0.0, f64::max);
    assert!(max > 1000.0, "no beeps: loudest 5 ms RMS {max}");
    let threshold = max / 10.0;
    let mut onsets = Vec::new();
    // The start counts as quiet.
    let mut quiet = 20;
    for (i, &r) in rms.iter().enumerate() {
        if r >= threshold {
            if quiet >= 20 {
                onsets.push((i * WIN) as f64 / 48000.0);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    onsets
}

/// Pairs flashes and beeps: every event at least 0.5 s inside both tracks must have a
/// partner of the other kind within 0.5 s. Returns the offsets (beep − flash, ms) and the
/// unpaired events.
fn pair(flashes: &[f64], beeps: &[f64], span: (f64, f64)) -> (Vec<f64>, Vec<String>) {
    let inside = |t: f64| t >= span.0 + 0.5 && t <= span.1 - 0.5;
    let nearest = |t: f64, others: &[f64]| {
        others
            .iter()
            .copied()
            .min_by(|a, b| (a - t).abs().total_cmp(&(b - t).abs()))
            .filter(|o| (o - t).abs() < 0.5)
    };
    let mut offsets = Vec::new();
    let mut unpaired = Vec::new();
    for &f in flashes.iter().filter(|&&f| inside(f)) {
        match nearest(f, beeps) {
            Some(b) => offsets.push((b - f) * 1000.0),
            None => unpaired.push(format!("flash at {f:.3} s has no beep")),
        }
    }
    for &b in beeps.iter().filter(|&&b| inside(b)) {
        if nearest(b, flashes).is_none() {
            unpaired.push(format!("beep at {b:.3} s has no flash"));
        }
    }
    (offsets, unpaired)
}

/// Measures the flash/beep offsets of a file with both tracks.
fn av_offsets(path: &Path, what: &str) -> Vec<f64> {
    let series = luma_series(path);
    let samples = pcm(path);
    let flashes = flash_onsets(&series);
    let beeps = beep_onsets(&samples);
    let video_span = (series[0].0, series.last().unwrap().0);
    let audio_end = samples.len() as f64 / 48000.0;
    let audio_start: f64 = ffprobe(
        path,
        &[
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=start_time",
        ],
    )["streams"][0]["start_time"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("the audio's start time");
    let span = (video_span.0.max(audio_start), video_span.1.min(audio_end));
    let (offsets, unpaired) = pair(&flashes, &beeps, span);
    println!(
        "{what}: video {:.3}..{:.3} s ({} frames), audio {audio_start:.3}..{audio_end:.3} s; flashes {flashes:.3?}; beeps {beeps:.3?}; offsets (beep - flash) {offsets:.1?} ms",
        video_span.0,
        video_span.1,
        series.len()
    );
    assert!(unpaired.is_empty(), "{what}: {unpaired:?}");
    // For the record: the offsets a player that ignores short audio gaps would show.
    let (continuous, _) = pair(&flashes, &beep_onsets(&pcm_continuous(path)), span);
    println!("{what}: offsets with the audio played back to back: {continuous:.1?} ms");
    offsets
}

// ---- 1. layout geometry --------------------------------------------------------------------------

const RED: u32 = 0xFF0000;
const GREEN: u32 = 0x00FF00;
const BLUE: u32 = 0x0000FF;
const BLACK: u32 = 0x000000;

/// A period of the composed archive and what its frames must show.
struct Period {
    what: &'static str,
    /// Unix ms: the change that began it was made no earlier than `from.0` and was seen
    /// done at `from.1`.
    from: (i64, i64),
    /// Points of the 640x480 frame and the colour each must have.
    expect: Vec<((usize, usize), u32)>,
}

/// Three solid-colour publishers come and go in a composed 640x480 archive, then the
/// layout changes live (pip, then verticalPresentation with a `focus` class): a frame
/// decoded from the middle of each period (at least 1 s from both of its ends, the ends
/// taken from the wall clock against the archive's `createdAt`) must show each colour where
/// the layout puts it, and black in empty cells and letterbox bars.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composed_archive_shows_the_layout_of_each_moment() {
    let _serial = SERIAL.lock().await;
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher, Role::Publisher])
        .await;
    let tone = fixtures().audio_ogg;
    let (red, green, blue) = (colour_ivf(RED), colour_ivf(GREEN), colour_ivf(BLUE));
    const HOLD: Duration = Duration::from_millis(3000);

    let a = publish(&server, &tokens[0], &red, Some(&tone), true, "a-red");
    let streams = wait_streams(&server, &sid, 1).await;
    let before = unix_ms();
    let (t_start, archive) = timed(start_archive(
        &server,
        json!({"sessionId": sid, "name": "layout", "resolution": "640x480",
               "layout": {"type": "bestFit"}}),
    ))
    .await;
    let id = archive["id"].as_str().unwrap().to_owned();
    let created = archive["createdAt"].as_i64().unwrap();
    assert!(
        created >= before - 5 && created <= unix_ms() + 5,
        "{archive}"
    );
    let mut periods = vec![Period {
        what: "A alone (bestFit, 1 stream: the whole frame)",
        from: (created, created),
        expect: vec![((320, 240), RED), ((40, 40), RED), ((600, 440), RED)],
    }];
    tokio::time::sleep(HOLD).await;

    let b0 = unix_ms();
    let b = publish(&server, &tokens[1], &green, Some(&tone), true, "b-green");
    wait_streams(&server, &sid, 2).await;
    periods.push(Period {
        what: "A, B (bestFit: two halves side by side, letterboxed)",
        from: (b0, unix_ms()),
        expect: vec![
            ((160, 240), RED),
            ((480, 240), GREEN),
            ((160, 60), BLACK),
            ((480, 420), BLACK),
        ],
    });
    tokio::time::sleep(HOLD).await;

    let c0 = unix_ms();
    let c = publish(&server, &tokens[2], &blue, Some(&tone), true, "c-blue");
    let three = wait_streams(&server, &sid, 3).await;
    periods.push(Period {
        what: "A, B, C (bestFit: 2x2, the fourth cell empty)",
        from: (c0, unix_ms()),
        expect: vec![
            ((160, 120), RED),
            ((480, 120), GREEN),
            ((160, 360), BLUE),
            ((480, 360), BLACK),
        ],
    });
    tokio::time::sleep(HOLD).await;

    let l0 = unix_ms();
    let b_out = terminate(b);
    wait_streams(&server, &sid, 2).await;
    periods.push(Period {
        what: "A, C after B left (bestFit: two halves)",
        from: (l0, unix_ms()),
        expect: vec![((160, 240), RED), ((480, 240), BLUE), ((480, 60), BLACK)],
    });
    tokio::time::sleep(HOLD).await;

    let p0 = unix_ms();
    let (status, body) = call(
        &server,
        reqwest::Method::PUT,
        &format!("/archive/{id}/layout"),
        Some(json!({"type": "pip"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // pip at 640x480: A fills the frame; C in 128x96 at x 448..576, y 48..144.
    periods.push(Period {
        what: "pip: A full, C 20%x20% 10% from the top-right",
        from: (p0, unix_ms()),
        expect: vec![
            ((512, 96), BLUE),
            ((320, 240), RED),
            ((100, 400), RED),
            ((600, 200), RED),
            ((512, 20), RED),
        ],
    });
    tokio::time::sleep(HOLD).await;

    let c_id = three
        .iter()
        .find(|(_, name)| name == "c-blue")
        .map(|(id, _)| id.clone())
        .expect("C's stream");
    let v0 = unix_ms();
    let (status, body) = call(
        &server,
        reqwest::Method::PUT,
        &format!("/session/{sid}/stream"),
        Some(json!({"items": [{"id": c_id, "layoutClassList": ["focus"]}]})),
    )
    .await;
    assert_eq!(status, 200, "setting C's class: {body}");
    let (status, body) = call(
        &server,
        reqwest::Method::PUT,
        &format!("/archive/{id}/layout"),
        Some(json!({"type": "verticalPresentation"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // verticalPresentation: focus (C) in x 128..640 (512x480, the 4:3 picture at y 48..432);
    // A a 128x96 tile at the top left; the rest of the left column empty.
    periods.push(Period {
        what: "verticalPresentation: C (focus) on the right 80%, A a tile top left",
        from: (v0, unix_ms()),
        expect: vec![
            ((384, 240), BLUE),
            ((600, 400), BLUE),
            ((64, 48), RED),
            ((64, 300), BLACK),
            ((384, 20), BLACK),
        ],
    });
    tokio::time::sleep(HOLD).await;

    let stop0 = unix_ms();
    let (t_stop, _) = timed(stop_archive(&server, &id)).await;
    let wall = (t_stop - t_start).as_secs_f64();
    let stopped = unix_ms();
    let _ = (terminate(a), terminate(c), b_out, streams);

    let dir = tempfile::tempdir().unwrap();
    let t_compose = Instant::now();
    let (done, mp4) = download_output(&server, &id, dir.path()).await;
    println!(
        "composed output ready {:.1} s after the stop, {} bytes",
        t_compose.elapsed().as_secs_f64(),
        done["size"]
    );
    keep(&mp4, "last-layout.mp4");
    let d = duration_s(&mp4);
    println!("composed (layout): wall {wall:.2} s, file {d:.2} s");

    let mut failures = Vec::new();
    let ends: Vec<i64> = periods
        .iter()
        .skip(1)
        .map(|p| p.from.0)
        .chain([stop0])
        .collect();
    for (p, end) in periods.iter().zip(ends) {
        // At least 1 s away from both boundaries.
        let (lo, hi) = (p.from.1 + 1000, end - 1000);
        assert!(lo <= hi, "{}: the period is too short to sample", p.what);
        let t = ((lo + hi) / 2 - created) as f64 / 1000.0;
        let frame = frame_at(&mp4, t);
        for &((x, y), want) in &p.expect {
            let got = colour_at(&frame, x, y);
            let ok = got
                .iter()
                .zip(rgb(want))
                .all(|(g, w)| (g - w).abs() <= COLOUR_TOLERANCE);
            println!(
                "{:>6.2} s {}: ({x},{y}) = {got:?}, want {:?} {}",
                t,
                p.what,
                rgb(want),
                if ok { "ok" } else { "WRONG" }
            );
            if !ok {
                failures.push(format!(
                    "at {t:.2} s ({}): pixel ({x},{y}) is {got:?}, not {:?}",
                    p.what,
                    rgb(want)
                ));
            }
        }
    }
    assert!(
        (d - wall).abs() < MAX_DURATION_ERROR_S,
        "composed file {d:.2} s vs wall {wall:.2} s (stopped at +{} ms)",
        stopped - created
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---- 2 + 4. A/V sync and durations ---------------------------------------------------------------

/// A flash and a beep every 2 s (checked together in the source first), published into an
/// individual and a composed archive at once (two `multiArchiveTag`s): in each output every
/// flash and beep are less than 80 ms apart, and each output lasts the wall time between
/// its start and stop calls within 0.5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_and_video_stay_in_sync_and_outputs_last_the_wall_time() {
    let _serial = SERIAL.lock().await;
    let (video, audio) = (sync_ivf(), sync_ogg());
    // The source itself: flashes and beeps together (so what is measured below is the
    // server's doing).
    let source = av_offsets_split(&video, &audio);
    println!("source offsets (beep - flash): {source:.1?} ms");
    assert!(source.len() as u32 >= SYNC_SECS / 2 - 1, "{source:?}");
    assert!(
        source.iter().all(|o| o.abs() < 10.0),
        "the source is out of sync: {source:?}"
    );

    let server = Server::start();
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let publisher = publish(&server, &tokens[0], &video, Some(&audio), false, "sync");
    wait_streams(&server, &sid, 1).await;
    // Both archives at once (each with its own tag): an individual one and a composed one.
    // Each call's time is taken as the middle of its request.
    let (i0, individual) = timed(start_archive(
        &server,
        json!({"sessionId": sid, "outputMode": "individual", "multiArchiveTag": "individual"}),
    ))
    .await;
    let (c0, composed) = timed(start_archive(
        &server,
        json!({"sessionId": sid, "outputMode": "composed", "multiArchiveTag": "composed"}),
    ))
    .await;
    let (ind_id, comp_id) = (
        individual["id"].as_str().unwrap().to_owned(),
        composed["id"].as_str().unwrap().to_owned(),
    );
    tokio::time::sleep(Duration::from_secs(9)).await;
    let (i1, _) = timed(stop_archive(&server, &ind_id)).await;
    let (c1, _) = timed(stop_archive(&server, &comp_id)).await;
    let (ind_wall, comp_wall) = ((i1 - i0).as_secs_f64(), (c1 - c0).as_secs_f64());
    let out = terminate(publisher);
    println!("publisher: {}", String::from_utf8_lossy(&out.stdout).trim());

    let dir = tempfile::tempdir().unwrap();
    let (_, zip) = download_output(&server, &ind_id, dir.path()).await;
    let (webm, entry) = only_stream_file(&zip, &ind_id, dir.path());
    let (_, mp4) = download_output(&server, &comp_id, dir.path()).await;

    keep(&webm, "last-sync-individual.webm");
    keep(&mp4, "last-sync-composed.mp4");
    let ind_d = duration_s(&webm);
    let comp_d = duration_s(&mp4);
    println!(
        "durations: individual file {ind_d:.3} s vs wall {ind_wall:.3} s (manifest {}..{} ms); composed {comp_d:.3} s vs wall {comp_wall:.3} s",
        entry["startTimeOffset"], entry["stopTimeOffset"]
    );
    let ind_offsets = av_offsets(&webm, "individual");
    let comp_offsets = av_offsets(&mp4, "composed");

    assert!(
        (ind_d - ind_wall).abs() < MAX_DURATION_ERROR_S,
        "individual file {ind_d:.3} s vs wall {ind_wall:.3} s"
    );
    assert!(
        (comp_d - comp_wall).abs() < MAX_DURATION_ERROR_S,
        "composed file {comp_d:.3} s vs wall {comp_wall:.3} s"
    );
    for (what, offsets) in [("individual", &ind_offsets), ("composed", &comp_offsets)] {
        assert!(
            offsets.len() >= 3,
            "{what}: only {} flash/beep pairs",
            offsets.len()
        );
        assert!(
            offsets.iter().all(|o| o.abs() < MAX_AV_OFFSET_MS),
            "{what}: A/V offsets {offsets:.1?} ms (limit {MAX_AV_OFFSET_MS} ms)"
        );
    }
}

/// Runs `f`; returns the middle of its run and its result.
async fn timed<T>(f: impl std::future::Future<Output = T>) -> (Instant, T) {
    let t0 = Instant::now();
    let r = f.await;
    (t0 + (Instant::now() - t0) / 2, r)
}

/// Offsets between a video file's flashes and an audio file's beeps.
fn av_offsets_split(video: &Path, audio: &Path) -> Vec<f64> {
    let series = luma_series(video);
    let flashes = flash_onsets(&series);
    let mut with_first = flashes.clone();
    // The source starts on a flash: there is no dark frame before it.
    if series[0].1 > 128.0 {
        with_first.insert(0, series[0].0);
    }
    let beeps = beep_onsets(&pcm(audio));
    let (offsets, unpaired) = pair(
        &with_first,
        &beeps,
        (-1.0, series.last().unwrap().0.min(SYNC_SECS as f64)),
    );
    assert!(unpaired.is_empty(), "source: {unpaired:?}");
    offsets
}

// ---- 3. every frame sent --------------------------------------------------------------------------

/// The archive starts first, then a publisher sends the 180-frame fixture once: every frame
/// it sent is in the file (frames identified by their decoded MD5 in the source), and the
/// frames it did not send are exactly those it skipped to answer keyframe requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_individual_file_holds_every_frame_the_publisher_sent() {
    let _serial = SERIAL.lock().await;
    let fx = fixtures();
    let n = parlor_media::fixtures::VIDEO_FRAMES as u64;
    let server = Server::start();
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let archive = start_archive(
        &server,
        json!({"sessionId": sid, "outputMode": "individual", "name": "frames"}),
    )
    .await;
    let id = archive["id"].as_str().unwrap().to_owned();
    // The whole file, once (no --loop): it ends, unpublishes and exits by itself.
    let publisher = publish(
        &server,
        &tokens[0],
        &fx.video_ivf,
        Some(&fx.audio_ogg),
        false,
        "frames",
    );
    let out = tokio::task::spawn_blocking(move || publisher.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "the publisher failed");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("the publisher's summary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let skips: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("keyframe requested"))
        .collect();
    let sent = summary["framesSent"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop_archive(&server, &id).await;

    let dir = tempfile::tempdir().unwrap();
    let (_, zip) = download_output(&server, &id, dir.path()).await;
    let (webm, entry) = only_stream_file(&zip, &id, dir.path());
    let probe = ffprobe(
        &webm,
        &[
            "-count_frames",
            "-count_packets",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,nb_read_packets,codec_name",
        ],
    );
    let stream = &probe["streams"][0];
    let frames: u64 = stream["nb_read_frames"].as_str().unwrap().parse().unwrap();
    let packets: u64 = stream["nb_read_packets"].as_str().unwrap().parse().unwrap();
    // Which of the source's frames the file holds: decoded frames are compared by MD5 (a
    // VP8 frame decodes identically wherever its references are the same).
    let source: Vec<String> = frame_md5s(&fx.video_ivf);
    assert_eq!(source.len() as u64, n);
    let mut recorded = Vec::new();
    let mut undecodable = 0;
    for md5 in frame_md5s(&webm) {
        let from = recorded.last().map_or(0, |&i| i + 1);
        match source[from..].iter().position(|m| *m == md5) {
            Some(k) => recorded.push(from + k),
            None => undecodable += 1,
        }
    }
    // The frames the publisher sent: all but those it skipped to answer keyframe requests
    // (it jumps to the file's next keyframe; its log says "skipped S frames to the keyframe
    // at frame F").
    let mut sent_frames: Vec<usize> = (0..n as usize).collect();
    for line in &skips {
        let num = |after: &str| -> usize {
            line.split(after)
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("cannot read {line:?}"))
        };
        let (skipped, keyframe) = (num("skipped "), num("at frame "));
        sent_frames.retain(|&f| f < keyframe - skipped || f >= keyframe);
    }
    let missing: Vec<usize> = sent_frames
        .iter()
        .copied()
        .filter(|f| !recorded.contains(f))
        .collect();
    println!(
        "file of {n} frames: the publisher sent {sent} (keyframe requests it answered: {skips:?}); the recorded {} has {frames} decoded frames in {packets} packets, source frames {}; {undecodable} match no source frame; sent but not recorded: {missing:?}; manifest {entry}",
        stream["codec_name"],
        ranges(&recorded)
    );
    assert_eq!(
        sent_frames.len() as u64,
        sent,
        "the publisher's count vs its log"
    );
    assert_eq!(
        (frames, packets, undecodable),
        (recorded.len() as u64, recorded.len() as u64, 0),
        "the file has frames that are not the source's"
    );
    assert!(
        missing.is_empty(),
        "frames {missing:?} were sent but are not in the individual file"
    );
    if sent < n {
        println!(
            "NOTE: {} of the {n} frames were never sent: the publisher skipped them to answer keyframe requests (the archive's tap asks for one when it attaches)",
            n - sent
        );
    }
}

/// The MD5 of each decoded video frame.
fn frame_md5s(path: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args([
            "-map", "0:v:0", "-pix_fmt", "yuv420p", "-f", "framemd5", "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|m| m.trim().to_owned()))
        .collect()
}

/// `[0, 1, 2, 5, 6]` as `0-2, 5-6`.
fn ranges(v: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

// ---- 5. a full disk -----------------------------------------------------------------------------------

/// A tmpfs mounted on a directory; on drop, unmounted and `cleanup` (the directory or
/// one holding it) removed.
struct TmpfsMount {
    dir: PathBuf,
    cleanup: PathBuf,
}

impl TmpfsMount {
    fn new(dir: &Path, size: &str, cleanup: &Path) -> TmpfsMount {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount");
        assert!(status.success(), "mount -t tmpfs on {}", dir.display());
        TmpfsMount {
            dir: dir.to_owned(),
            cleanup: cleanup.to_owned(),
        }
    }

    /// Bytes free.
    fn available(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&self.dir)
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df's output")
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        let _ = std::fs::remove_dir_all(&self.cleanup);
    }
}

/// Whether this process may mount a tmpfs (it runs as root); says so when not.
fn may_mount() -> bool {
    let uid = Command::new("id").arg("-u").output().unwrap();
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    if !root {
        println!("skipped: mounting a tmpfs needs root (id -u is not 0)");
    }
    root
}

/// The whole data dir (the database included) on a 3 MB disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_archive_with_a_reason_and_disturbs_nothing_else() {
    if may_mount() {
        full_disk(true).await;
    }
}

/// Only `<data dir>/archives` on a 3 MB disk (archives on their own volume).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_archive_volume_fails_the_archive_with_a_reason_and_disturbs_nothing_else() {
    if may_mount() {
        full_disk(false).await;
    }
}

/// Records a ~4 Mbps stream onto a 3 MB tmpfs (the whole data dir, or only its archives)
/// until it is full: the archive must fail by itself with a reason naming the disk, its
/// clients be told, and another session's signaling go on meanwhile.
async fn full_disk(whole_data_dir: bool) {
    let _serial = SERIAL.lock().await;
    let heavy = heavy_ivf();
    let data = tempfile::tempdir().unwrap();
    let mount_point = if whole_data_dir {
        data.path().to_owned()
    } else {
        data.path().join("archives")
    };
    std::fs::create_dir_all(&mount_point).unwrap();
    let disk = TmpfsMount::new(&mount_point, "3m", data.path());
    // Declared after the mount: stopped before it is unmounted, also on a panic.
    let server = Server::start_in(data, &["--api-key", API_KEY, "--api-secret", API_SECRET]);
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    // A client of the recorded session, to see the archive's events.
    let (_watcher, mut watcher_events) = server.connect(&sid, &tokens[1]).await;
    let (other_sid, other_tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher, Role::Subscriber])
        .await;
    let (sender, _sender_events) = server.connect(&other_sid, &other_tokens[0]).await;
    let (_receiver, mut receiver_events) = server.connect(&other_sid, &other_tokens[1]).await;
    println!("free on the data dir's disk: {} bytes", disk.available());

    let publisher = publish(
        &server,
        &tokens[0],
        &heavy,
        Some(&fixtures().audio_ogg),
        true,
        "heavy",
    );
    wait_streams(&server, &sid, 1).await;
    let archive = start_archive(
        &server,
        json!({"sessionId": sid, "outputMode": "individual", "name": "fills the disk"}),
    )
    .await;
    let id = archive["id"].as_str().unwrap().to_owned();

    // Until the disk is full.
    let t0 = Instant::now();
    while disk.available() > 16 * 1024 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the disk did not fill in 60 s ({} bytes free)",
            disk.available()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let full_after = t0.elapsed().as_secs_f64();
    println!("the disk is full {full_after:.1} s after the start");

    // Meanwhile, another session's signaling works: a signal, and a client joining.
    sender
        .signal(None, "ping", "while the disk is full")
        .await
        .unwrap();
    expect_event(
        &mut receiver_events,
        5,
        "a signal in the other session",
        |e| matches!(e, ServerMessage::Signal { data, .. } if data == "while the disk is full"),
    )
    .await;
    let (late, _late_events) = server.connect(&other_sid, &other_tokens[2]).await;
    drop(late);
    let health = reqwest::get(format!("{}/health", server.url))
        .await
        .unwrap();
    println!("/health with the disk full: {}", health.status());

    // The archive should end by itself: nothing can be recorded any more.
    let mut observed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut ended_by_itself = None;
    while Instant::now() < deadline {
        let a = get_archive(&server, &id).await;
        let status = a["status"].as_str().unwrap_or("?").to_owned();
        if observed.last() != Some(&status) {
            observed.push(status.clone());
        }
        if status != "started" && status != "paused" {
            ended_by_itself = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut stop_answer = None;
    if ended_by_itself.is_none() {
        // It did not: stop it, and see how it ends.
        let (status, body) = call(
            &server,
            reqwest::Method::POST,
            &format!("/archive/{id}/stop"),
            None,
        )
        .await;
        println!("stop after the disk filled: {status} {body}");
        stop_answer = Some((status, body));
    }
    // Its final status (15 s at most).
    let deadline = Instant::now() + Duration::from_secs(15);
    let final_record = loop {
        let a = get_archive(&server, &id).await;
        let status = a["status"].as_str().unwrap_or("?").to_owned();
        if observed.last() != Some(&status) {
            observed.push(status.clone());
        }
        if !["started", "paused", "stopped"].contains(&status.as_str()) || Instant::now() > deadline
        {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut stopped_event = false;
    while let Ok(ev) = watcher_events.try_recv() {
        stopped_event |= matches!(ev, ServerMessage::ArchiveStopped { id: ref i, .. } if *i == id);
    }
    println!("the recorded session's client got archiveStopped: {stopped_event}");
    let out = terminate(publisher);
    println!(
        "archive statuses seen: {observed:?}; last: status {} reason {:?} size {}",
        final_record["status"], final_record["reason"], final_record["size"]
    );
    println!("publisher: {}", String::from_utf8_lossy(&out.stdout).trim());

    // The other session still works after all this.
    sender.signal(None, "ping", "after").await.unwrap();
    expect_event(
        &mut receiver_events,
        5,
        "a signal after the failure",
        |e| matches!(e, ServerMessage::Signal { data, .. } if data == "after"),
    )
    .await;
    assert_eq!(
        reqwest::get(format!("{}/health", server.url))
            .await
            .unwrap()
            .status(),
        200
    );

    assert!(
        ended_by_itself.is_some(),
        "the archive stayed 'started' for 15 s after the disk filled; then the stop answered {stop_answer:?}, and then it was {} with reason {:?} (statuses seen {observed:?})",
        final_record["status"],
        final_record["reason"]
    );
    assert!(
        stopped_event,
        "the recorded session's clients were not told the archive stopped"
    );
    let reason = final_record["reason"].as_str().unwrap_or("").to_lowercase();
    match final_record["status"].as_str() {
        Some("failed") => assert!(
            ["space", "disk", "full"].iter().any(|w| reason.contains(w)),
            "failed, but the reason does not say the disk is full: {reason:?}"
        ),
        Some("available") => println!("the server kept what fit: {final_record}"),
        other => panic!("the archive ended {other:?}: {final_record}"),
    }
    let mut server = server;
    assert!(server.stop(), "the server did not exit cleanly");
    drop(disk);
}
