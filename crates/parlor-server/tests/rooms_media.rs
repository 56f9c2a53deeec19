//! Room recordings and compositions end to end: native participants of a room with
//! `enable_recording` publish solid colours (and a tone), the session ends, and the
//! recordings (one file per participant per track) are listed, probed with ffprobe,
//! downloaded through their signed URLs (bad signatures refused), deleted by filter; a
//! two-region composition is rendered and its decoded frames show each region's sources;
//! bad compositions are refused; and a `kill -9` while recording leaves recordings that
//! are completed and playable after the restart.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{API_KEY, API_SECRET, Server, ivf_frames, media, ogg_packets};
use parlor_client::{PublishOptions, Publisher, Session};
use serde_json::{Value, json};

const RED: u32 = 0xE01010;
const GREEN: u32 = 0x10C010;
const BLUE: u32 = 0x1010E0;
/// A channel of a decoded colour may differ this much from the colour published.
const TOLERANCE: i32 = 60;
/// The composition's size.
const W: usize = 320;
const H: usize = 240;

/// A Rooms API call: (status, JSON body or Null).
async fn rooms(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client
        .request(method.parse().unwrap(), format!("{}/v2{path}", server.url))
        .bearer_auth(format!("{API_KEY}:{API_SECRET}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn recording_room(server: &Server) -> (String, String) {
    let (status, room) = rooms(
        server,
        "POST",
        "/rooms",
        Some(json!({ "enable_recording": true })),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    let room = room["data"]["id"].as_str().unwrap().to_owned();
    let (status, t) = rooms(
        server,
        "POST",
        &format!("/rooms/{room}/actions/generate_join_client_token"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    (room, t["data"]["token"].as_str().unwrap().to_owned())
}

/// Polls a GET until `ok` holds (`secs` at most); returns the last body.
async fn until(server: &Server, path: &str, secs: u64, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (status, body) = rooms(server, "GET", path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        if ok(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- media ------------------------------------------------------------------------------------

fn media_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rooms-media");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 2 s of one solid colour, VP8 320x240 at 30 fps, a keyframe every 15 frames.
fn colour_ivf(rgb: u32) -> PathBuf {
    media::colour_ivf(&media_dir(), rgb, 15, 200)
}

/// A publisher and what it sends.
struct Sender {
    publisher: Publisher,
    frames: Vec<(u64, Vec<u8>)>,
    audio: Option<Vec<Vec<u8>>>,
}

/// Sends every sender's media in real time for `secs`: video at 30 fps, audio in 20 ms
/// packets, the files looped.
async fn send_for(senders: &mut [Sender], secs: f64) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut audio_n = 0u32;
    let mut video_n = 0u32;
    while start.elapsed().as_secs_f64() < secs {
        tick.tick().await;
        for s in senders.iter_mut() {
            if let Some(packets) = &s.audio {
                let p = &packets[audio_n as usize % packets.len()];
                let _ = s.publisher.send_audio(p, audio_n.wrapping_mul(960));
            }
        }
        audio_n += 1;
        while f64::from(video_n) / 30.0 <= start.elapsed().as_secs_f64() {
            for s in senders.iter_mut() {
                let (_, f) = &s.frames[video_n as usize % s.frames.len()];
                let _ = s.publisher.send_video(f, video_n.wrapping_mul(3000));
            }
            video_n += 1;
        }
    }
}

async fn publisher(session: &Session, audio: bool) -> Publisher {
    let mut p = session
        .publish(PublishOptions {
            has_audio: audio,
            ..Default::default()
        })
        .await
        .unwrap();
    p.wait_connected().await.unwrap();
    p
}

fn ffprobe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
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

/// Decodes a file fully (errors fail): its duration in seconds.
fn decoded_duration(path: &Path) -> f64 {
    let probe = ffprobe(path);
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-xerror", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "decoding {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    probe["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration: {probe}"))
}

/// One decoded RGB24 frame at `t` seconds.
fn frame_at(path: &Path, t: f64) -> Vec<u8> {
    media::frame_at(path, t, W, H)
}

fn colour_at(frame: &[u8], x: usize, y: usize) -> [i32; 3] {
    media::colour_at(frame, W, (x, y), 2)
}

fn assert_colour(frame: &[u8], (x, y): (usize, usize), rgb: u32, what: &str) {
    let want = [
        (rgb >> 16) as i32 & 255,
        (rgb >> 8) as i32 & 255,
        rgb as i32 & 255,
    ];
    let got = colour_at(frame, x, y);
    assert!(
        (0..3).all(|c| (got[c] - want[c]).abs() <= TOLERANCE),
        "{what} at ({x}, {y}): got {got:?}, want {want:?}"
    );
}

/// GETs a download URL: (status, content type, body).
async fn download(url: &str) -> (u16, String, Vec<u8>) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A signed URL with its `exp` and `sig` replaced.
fn with_query(url: &str, exp: i64, sig: &str) -> String {
    let base = url.split('?').next().unwrap();
    format!("{base}?exp={exp}&sig={sig}")
}

/// The signature the server would make (the test knows the project's secret).
fn sign(path_in_url: &str, exp: i64) -> String {
    use hmac::Mac as _;
    // /room-media/<key>/<id>/<file>
    let parts: Vec<&str> = path_in_url.trim_start_matches('/').split('/').collect();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(API_SECRET.as_bytes()).unwrap();
    mac.update(
        format!(
            "room-media\n{}\n{}\n{}\n{exp}",
            parts[1], parts[2], parts[3]
        )
        .as_bytes(),
    );
    hex::encode(mac.finalize().into_bytes())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_per_track_and_a_two_region_composition() {
    let server = Server::start();
    let (room, token) = recording_room(&server).await;
    let (red, green, blue) = (colour_ivf(RED), colour_ivf(GREEN), colour_ivf(BLUE));
    let tone = ogg_packets(&common::fixtures().audio_ogg);

    // Three participants: red and green with audio, blue video only.
    let mut sessions = Vec::new();
    let mut senders = Vec::new();
    for (video, audio) in [(&red, true), (&green, true), (&blue, false)] {
        let (session, events) = Session::join_room(&server.url, &room, &token, None)
            .await
            .unwrap();
        let publisher = publisher(&session, audio).await;
        senders.push(Sender {
            publisher,
            frames: ivf_frames(video),
            audio: audio.then(|| tone.clone()),
        });
        sessions.push((session, events));
    }
    let ids: Vec<String> = sessions
        .iter()
        .map(|(s, _)| s.info().connection.connection_id.clone())
        .collect();
    let (_, r) = rooms(&server, "GET", &format!("/rooms/{room}"), None).await;
    let room_session = r["data"]["active_session_id"].as_str().unwrap().to_owned();

    send_for(&mut senders, 1.0).await;
    // While live: the recordings are processing, and the session cannot be composed.
    let live = until(
        &server,
        &format!("/room_recordings?filter[session_id]={room_session}"),
        5,
        |b| b["meta"]["total_results"] == 5,
    )
    .await;
    assert!(
        live["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "processing" && r["download_url"].is_null()),
        "{live}"
    );
    let (status, e) = rooms(
        &server,
        "POST",
        "/room_compositions",
        Some(json!({ "session_id": room_session, "resolution": "320x240" })),
    )
    .await;
    assert_eq!(status, 422, "composing a live session: {e}");
    assert_eq!(e["errors"][0]["source"]["pointer"], "/session_id", "{e}");
    send_for(&mut senders, 2.5).await;

    let (status, _) = rooms(
        &server,
        "POST",
        &format!("/room_sessions/{room_session}/actions/end"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    drop(senders);

    // One audio and one video recording per publisher that sent them, all completed.
    let list = until(
        &server,
        &format!("/room_recordings?filter[session_id]={room_session}&page[size]=50"),
        15,
        |b| {
            b["data"]
                .as_array()
                .is_some_and(|d| d.len() == 5 && d.iter().all(|r| r["status"] == "completed"))
        },
    )
    .await;
    let recs = list["data"].as_array().unwrap().clone();
    let of = |pid: &str, kind: &str| -> Value {
        let found: Vec<&Value> = recs
            .iter()
            .filter(|r| r["participant_id"] == pid && r["type"] == kind)
            .collect();
        assert!(found.len() <= 1, "{pid} {kind}: {found:?}");
        found.first().map_or(Value::Null, |v| (*v).clone())
    };
    assert!(of(&ids[2], "audio").is_null(), "blue sent no audio");
    let tmp = tempfile::tempdir().unwrap();
    let mut video_ids = Vec::new();
    for (i, pid) in ids.iter().enumerate() {
        for kind in ["audio", "video"] {
            let r = of(pid, kind);
            if kind == "audio" && i == 2 {
                continue;
            }
            assert_eq!(r["record_type"], "room_recording", "{r}");
            assert_eq!(r["room_id"], room.as_str());
            assert_eq!(r["session_id"], room_session.as_str());
            assert_eq!(
                r["codec"],
                if kind == "audio" { "opus" } else { "vp8" },
                "{r}"
            );
            let secs = r["duration_secs"].as_i64().unwrap();
            assert!((2..=6).contains(&secs), "{r}");
            assert!(
                r["size_mb"].as_f64().is_some() && r["ended_at"].is_string(),
                "{r}"
            );
            assert!(r["completed_at"].is_string(), "{r}");
            // The download: the right type, one stream of the right kind, a plausible
            // length.
            let url = r["download_url"].as_str().unwrap();
            let (status, ct, bytes) = download(url).await;
            assert_eq!(status, 200, "{url}");
            assert_eq!(ct, format!("{kind}/webm"));
            let path = save(tmp.path(), &format!("{pid}-{kind}.webm"), &bytes);
            let probe = ffprobe(&path);
            let streams = probe["streams"].as_array().unwrap();
            assert_eq!(streams.len(), 1, "{probe}");
            assert_eq!(streams[0]["codec_type"], kind, "{probe}");
            let d = decoded_duration(&path);
            assert!((2.0..=6.0).contains(&d), "{pid} {kind}: {d} s");
            if kind == "video" {
                video_ids.push(r["id"].as_str().unwrap().to_owned());
            }
        }
    }
    // The filters.
    for (query, n) in [
        ("filter[type]=audio".to_owned(), 2),
        ("filter[type]=video&filter[status]=completed".to_owned(), 3),
        (format!("filter[participant_id]={}", ids[2]), 1),
        ("filter[date_started_at][gte]=2000-01-01".to_owned(), 5),
        ("filter[date_ended_at][lte]=2000-01-01".to_owned(), 0),
    ] {
        let path = format!("/room_recordings?filter[session_id]={room_session}&{query}");
        let (status, b) = rooms(&server, "GET", &path, None).await;
        assert_eq!(
            (status, b["meta"]["total_results"].as_u64()),
            (200, Some(n)),
            "{path}: {b}"
        );
    }
    for bad in [
        "filter[type]=screen",
        "filter[status]=done",
        "filter[duration_secs]=x",
    ] {
        let (status, e) = rooms(&server, "GET", &format!("/room_recordings?{bad}"), None).await;
        assert_eq!(status, 422, "{bad}: {e}");
    }
    println!("recordings: {recs:?}");

    // Bad signatures: forged, expired (though correctly signed), missing.
    let url = recs[0]["download_url"].as_str().unwrap();
    let path = reqwest::Url::parse(url).unwrap().path().to_owned();
    let good_exp = unix_now() + 300;
    let past = unix_now() - 5;
    for bad in [
        with_query(url, good_exp, &"0".repeat(64)),
        with_query(url, past, &sign(&path, past)),
        url.split('?').next().unwrap().to_owned(),
    ] {
        let (status, _, body) = download(&bad).await;
        assert_eq!(status, 403, "{bad}: {}", String::from_utf8_lossy(&body));
    }
    let (status, _, _) = download(&with_query(url, good_exp, &sign(&path, good_exp))).await;
    assert_eq!(status, 200, "a URL the test signed itself with the secret");

    // Bad compositions: 422 naming the field; unknown ids 404.
    let audio_id = of(&ids[0], "audio")["id"].as_str().unwrap().to_owned();
    let region = |extra: Value| {
        let mut r = json!({ "x_pos": 0, "y_pos": 0, "width": 160, "height": 120,
                            "video_sources": ["*"] });
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    let cases = [
        (json!({ "resolution": "8x240" }), "/resolution"),
        (json!({ "resolution": "1300x100" }), "/resolution"),
        (json!({ "resolution": "1280x800" }), "/resolution"),
        (json!({ "resolution": "big" }), "/resolution"),
        (
            json!({ "video_layout": { "a": region(json!({})), "b": region(json!({})),
                                      "c": region(json!({})) } }),
            "/video_layout",
        ),
        (
            json!({ "video_layout": { "a": region(json!({ "z_pos": 100 })) } }),
            "/video_layout/a/z_pos",
        ),
        (
            json!({ "video_layout": { "a": region(json!({ "width": 8 })) } }),
            "/video_layout/a/width",
        ),
        (
            json!({ "video_layout": { "a": region(json!({ "x_pos": 200, "width": 160 })) } }),
            "/video_layout/a/width",
        ),
        (
            json!({ "video_layout": { "a": region(json!({ "height": 300 })) } }),
            "/video_layout/a/height",
        ),
        (
            json!({ "video_layout": { "a": region(json!({ "video_sources": [audio_id] })) } }),
            "/video_layout/a/video_sources",
        ),
        (
            json!({ "video_layout": { "a": region(json!({
                "video_sources": ["00000000-0000-4000-8000-000000000000"] })) } }),
            "/video_layout/a/video_sources",
        ),
        (json!({ "format": "webm" }), "/format"),
        (
            json!({ "session_id": "00000000-0000-4000-8000-000000000000" }),
            "/session_id",
        ),
    ];
    for (fields, pointer) in cases {
        let mut body = json!({ "session_id": room_session, "resolution": "320x240" });
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let (status, e) = rooms(&server, "POST", "/room_compositions", Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {e}");
        assert_eq!(e["errors"][0]["source"]["pointer"], pointer, "{body}: {e}");
        assert!(e["errors"][0]["code"].is_string(), "{e}");
    }
    let unknown = "00000000-0000-4000-8000-000000000000";
    for path in [
        format!("/room_compositions/{unknown}"),
        format!("/room_recordings/{unknown}"),
    ] {
        for method in ["GET", "DELETE"] {
            let (status, e) = rooms(&server, method, &path, None).await;
            assert_eq!(status, 404, "{method} {path}: {e}");
            assert_eq!(e["errors"][0]["code"], "10005");
        }
    }

    // A composition: every video tiled in a row, the green one again in a corner above.
    let green_video = of(&ids[1], "video")["id"].as_str().unwrap().to_owned();
    let (status, c) = rooms(
        &server,
        "POST",
        "/room_compositions",
        Some(json!({
            "session_id": room_session,
            "format": "mp4",
            "resolution": "320x240",
            "video_layout": {
                "all": { "x_pos": 0, "y_pos": 0, "z_pos": 0, "width": 320, "height": 240,
                         "max_columns": 3, "max_rows": 1, "video_sources": ["*"] },
                "corner": { "x_pos": 220, "y_pos": 10, "z_pos": 10, "width": 80, "height": 60,
                            "max_columns": 1, "max_rows": 1, "video_sources": [green_video] },
            },
        })),
    )
    .await;
    assert_eq!(status, 202, "{c}");
    assert_eq!(c["data"]["status"], "enqueued");
    let cid = c["data"]["id"].as_str().unwrap().to_owned();
    let done = until(&server, &format!("/room_compositions/{cid}"), 40, |b| {
        b["data"]["status"] != "enqueued" && b["data"]["status"] != "processing"
    })
    .await;
    assert_eq!(done["data"]["status"], "completed", "{done}");
    let listed = until(
        &server,
        &format!("/room_compositions?filter[session_id]={room_session}&filter[status]=completed"),
        1,
        |b| b["meta"]["total_results"] == 1,
    )
    .await;
    assert_eq!(listed["data"][0]["id"], cid.as_str());
    let (status, ct, bytes) = download(done["data"]["download_url"].as_str().unwrap()).await;
    assert_eq!((status, ct.as_str()), (200, "video/mp4"));
    let mp4 = save(tmp.path(), "composition.mp4", &bytes);
    let probe = ffprobe(&mp4);
    let video = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap_or_else(|| panic!("{probe}"));
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(
        probe["streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["codec_type"] == "audio"),
        "the audio recordings are mixed: {probe}"
    );
    let secs = done["data"]["duration_secs"].as_i64().unwrap();
    assert!((2..=6).contains(&secs), "{done}");
    // Mid-way every publisher is on: three tiles of 106x240 (pictures letterboxed around
    // y = 120) in the order they started, the green one again in the corner.
    let frame = frame_at(&mp4, 2.0);
    assert_colour(&frame, (53, 120), RED, "tile 1");
    assert_colour(&frame, (160, 120), GREEN, "tile 2");
    assert_colour(&frame, (266, 120), BLUE, "tile 3");
    assert_colour(&frame, (260, 40), GREEN, "the corner region");
    assert_colour(&frame, (160, 20), 0x000000, "the letterbox");

    // Bulk delete by participant: exactly red's two.
    let (status, d) = rooms(
        &server,
        "DELETE",
        &format!("/room_recordings?filter[participant_id]={}", ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d, json!({ "data": { "room_recordings": 2 } }));
    let (_, left) = rooms(
        &server,
        "GET",
        &format!("/room_recordings?filter[session_id]={room_session}"),
        None,
    )
    .await;
    assert_eq!(left["meta"]["total_results"], 3, "{left}");
    assert!(
        left["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["participant_id"] != ids[0].as_str()),
        "{left}"
    );
    // One by id; its file is gone.
    let gone = &video_ids[2];
    let (status, _) = rooms(&server, "DELETE", &format!("/room_recordings/{gone}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = rooms(&server, "GET", &format!("/room_recordings/{gone}"), None).await;
    assert_eq!(status, 404);
    let files = server
        .data_dir
        .path()
        .join("rooms/recordings")
        .join(API_KEY);
    assert_eq!(std::fs::read_dir(&files).unwrap().count(), 2);
    let (status, _) = rooms(
        &server,
        "DELETE",
        &format!("/room_compositions/{cid}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_recordings_are_completed_from_their_files() {
    let server = Server::start();
    let (room, token) = recording_room(&server).await;
    let (session, _events) = Session::join_room(&server.url, &room, &token, None)
        .await
        .unwrap();
    let mut senders = vec![Sender {
        publisher: publisher(&session, true).await,
        frames: ivf_frames(&colour_ivf(RED)),
        audio: Some(ogg_packets(&common::fixtures().audio_ogg)),
    }];
    send_for(&mut senders, 4.0).await;
    let (_, list) = rooms(&server, "GET", "/room_recordings", None).await;
    assert_eq!(list["meta"]["total_results"], 2, "{list}");
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "processing"),
        "{list}"
    );
    let data_dir = server.keep_data_dir(); // kill -9, mid-recording
    drop(senders);
    drop(session);

    let server = Server::start_in(data_dir, &[]);
    let list = until(&server, "/room_recordings", 10, |b| {
        b["data"]
            .as_array()
            .is_some_and(|d| d.len() == 2 && d.iter().all(|r| r["status"] == "completed"))
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    for r in list["data"].as_array().unwrap() {
        let kind = r["type"].as_str().unwrap();
        let (status, _, bytes) = download(r["download_url"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{r}");
        let path = save(tmp.path(), &format!("{kind}.webm"), &bytes);
        let probe = ffprobe(&path);
        assert_eq!(probe["streams"][0]["codec_type"], kind, "{probe}");
        // 4 s were sent; what the recorder had not written at the kill (its queue, the
        // last partial cluster) is lost, more of it on a loaded machine. The file's time
        // starts with the recording, so a first keyframe that came late (a loaded machine
        // again: CI once saw 6.4 s of video) adds its wait before the 4 s.
        let d = decoded_duration(&path);
        assert!((1.0..=8.0).contains(&d), "{kind}: {d} s after the crash");
        let secs = r["duration_secs"].as_i64().unwrap();
        assert!((1..=8).contains(&secs), "{r}");
    }

    // A composition of the session (it ended with the restart) killed with the server
    // before it is done is rendered at the next start.
    let room_session = list["data"][0]["session_id"].as_str().unwrap().to_owned();
    let (status, c) = rooms(
        &server,
        "POST",
        "/room_compositions",
        Some(json!({ "session_id": room_session, "resolution": "160x120" })),
    )
    .await;
    assert_eq!(status, 202, "{c}");
    let cid = c["data"]["id"].as_str().unwrap().to_owned();
    let data_dir = server.keep_data_dir(); // kill -9
    let server = Server::start_in(data_dir, &[]);
    let done = until(&server, &format!("/room_compositions/{cid}"), 30, |b| {
        b["data"]["status"] == "completed"
    })
    .await;
    let (status, ct, bytes) = download(done["data"]["download_url"].as_str().unwrap()).await;
    assert_eq!((status, ct.as_str()), (200, "video/mp4"));
    let mp4 = save(tmp.path(), "composition.mp4", &bytes);
    let probe = ffprobe(&mp4);
    assert_eq!(probe["streams"][0]["width"], 160, "{probe}");
    assert!(decoded_duration(&mp4) >= 1.5, "{probe}");
    // Only the output is left in the compositions directory (no filter script of the
    // render the kill interrupted).
    let dir = server
        .data_dir
        .path()
        .join("rooms/compositions")
        .join(API_KEY);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{cid}.mp4")]);
}
