//! Archives end to end: real publishers (the native client, from ffmpeg-made media) into
//! a live server, the OpenTok archive REST API, the outputs checked with ffprobe/ffmpeg,
//! signed downloads with ranges, the clients' archive events, bad input, and a `kill -9`
//! in the middle of a recording.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    API_KEY, API_SECRET, Server, expect_event, publish_files as publish, rest_call as call,
    wait_archive as wait_done, wait_streams,
};
use parlor_client::ServerMessage;
use parlor_sdk::Role;
use serde_json::{Value, json};

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

fn decodes_cleanly(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        // The null muxer's own time base would flag a track starting a fraction of a
        // frame after the other as non-monotonic; the file's timestamps are what count.
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{} does not decode cleanly: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn codecs(probe: &Value) -> Vec<String> {
    let mut c: Vec<String> = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_owned())
        .collect();
    c.sort();
    c
}

fn duration(probe: &Value) -> f64 {
    probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn download(url: &str, to: &Path) {
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    std::fs::write(to, r.bytes().await.unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_individual_archive_records_each_stream_and_downloads_as_a_zip() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let (_watcher, mut events) = server.connect(&sid, &tokens[1]).await;
    let mut publisher = publish(&server, &tokens[0], 30, "cam");
    wait_streams(&server, &sid, 1).await;

    let (status, started) = call(
        &server,
        reqwest::Method::POST,
        "/archive",
        Some(
            json!({"sessionId": sid, "name": "individual", "outputMode": "individual",
                    "hasAudio": true, "hasVideo": true, "resolution": null, "layout": null,
                    "streamMode": null, "multiArchiveTag": null}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let t0 = Instant::now();
    let id = started["id"].as_str().unwrap().to_owned();
    assert_eq!(started["status"], "started");
    assert_eq!(started["outputMode"], "individual");
    assert_eq!(started["sessionId"], sid);
    assert_eq!(started["url"], Value::Null);
    let ev = expect_event(&mut events, 5, "archiveStarted", |e| {
        matches!(e, ServerMessage::ArchiveStarted { .. })
    })
    .await;
    assert!(
        matches!(ev, ServerMessage::ArchiveStarted { id: ref i, name: Some(ref n) } if *i == id && n == "individual")
    );
    // A client joining now is told an archive runs.
    let (_late, mut late_events) = server.connect(&sid, &tokens[1]).await;
    expect_event(
        &mut late_events,
        5,
        "archiveStarted for a late joiner",
        |e| matches!(e, ServerMessage::ArchiveStarted { id: i, .. } if *i == id),
    )
    .await;
    // A second archive of the same session is refused.
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/archive",
        Some(json!({"sessionId": sid})),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, stopped) = call(
        &server,
        reqwest::Method::POST,
        &format!("/archive/{id}/stop"),
        None,
    )
    .await;
    let wall = t0.elapsed().as_secs_f64();
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    expect_event(
        &mut events,
        5,
        "archiveStopped",
        |e| matches!(e, ServerMessage::ArchiveStopped { id: i, .. } if *i == id),
    )
    .await;
    let (status, again) = call(
        &server,
        reqwest::Method::POST,
        &format!("/archive/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(status, 409, "stopping twice: {again}");

    let done = wait_done(&server, &id).await;
    assert_eq!(done["status"], "available", "{done}");
    assert!(done["size"].as_u64().unwrap() > 10_000, "{done}");
    let url = done["url"].as_str().expect("a download URL");
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("archive.zip");
    download(url, &zip_path).await;
    let bytes = std::fs::read(&zip_path).unwrap();
    assert_eq!(bytes.len() as u64, done["size"].as_u64().unwrap());
    {
        use sha2::Digest as _;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            done["sha256sum"].as_str().unwrap()
        );
    }
    // A range request.
    let r = reqwest::Client::new()
        .get(url)
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await.unwrap()[..], b"PK\x03\x04");
    // A tampered or expired URL is refused.
    let tampered = url.replace("sig=", "sig=0");
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);
    let expired = {
        let (base, query) = url.split_once('?').unwrap();
        let _ = query;
        format!("{base}?exp=1&sig=00")
    };
    assert_eq!(reqwest::get(&expired).await.unwrap().status(), 403);

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut manifest = String::new();
    zip.by_name(&format!("{id}.json"))
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["id"], id);
    assert_eq!(manifest["sessionId"], sid);
    assert_eq!(manifest["name"], "individual");
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{manifest}");
    let file = &files[0];
    let name = file["filename"].as_str().unwrap();
    assert!(name.ends_with(".webm"), "{name}");
    let webm = dir.path().join(name);
    std::io::copy(
        &mut zip.by_name(name).unwrap(),
        &mut std::fs::File::create(&webm).unwrap(),
    )
    .unwrap();
    let probe = ffprobe(&webm);
    assert_eq!(codecs(&probe), ["opus", "vp8"], "{probe}");
    decodes_cleanly(&webm);
    let d = duration(&probe);
    println!("individual: wall {wall:.2} s, file {d:.2} s");
    assert!((d - wall).abs() < 0.5, "file {d} s vs wall {wall} s");
    publisher.kill().ok();
    publisher.wait().ok();

    // Delete: gone from list and get; the URL no longer serves.
    let (status, _) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_ne!(reqwest::get(url).await.unwrap().status(), 200);
    assert!(
        !server
            .data_dir
            .path()
            .join("archives")
            .join(API_KEY)
            .join(&id)
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composed_archive_is_one_mp4_at_the_requested_resolution() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let mut a = publish(&server, &tokens[0], 30, "a");
    wait_streams(&server, &sid, 1).await;
    let (status, started) = call(
        &server,
        reqwest::Method::POST,
        "/archive",
        Some(json!({"sessionId": sid, "resolution": "1280x720", "layout": {"type": "bestFit"}})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let t0 = Instant::now();
    let id = started["id"].as_str().unwrap().to_owned();
    assert_eq!(started["outputMode"], "composed");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut b = publish(&server, &tokens[1], 30, "b");
    wait_streams(&server, &sid, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = call(
        &server,
        reqwest::Method::PUT,
        &format!("/archive/{id}/layout"),
        Some(json!({"type": "pip"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _) = call(
        &server,
        reqwest::Method::POST,
        &format!("/archive/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let wall = t0.elapsed().as_secs_f64();
    let done = wait_done(&server, &id).await;
    assert_eq!(done["status"], "available", "{done}");
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("archive.mp4");
    download(done["url"].as_str().unwrap(), &mp4).await;
    let probe = ffprobe(&mp4);
    assert_eq!(codecs(&probe), ["aac", "h264"], "{probe}");
    let video = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap();
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(1280), Some(720))
    );
    let audio = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .unwrap();
    assert_eq!(audio["sample_rate"], "48000");
    let d = duration(&probe);
    println!("composed: wall {wall:.2} s, file {d:.2} s");
    assert!((d - wall).abs() < 0.5, "file {d} s vs wall {wall} s");
    decodes_cleanly(&mp4);
    for p in [&mut a, &mut b] {
        p.kill().ok();
        p.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_archive_requests_get_specific_errors() {
    let server = Server::start();
    let (sid, _) = server.session_with_tokens(&[]).await;
    let post = |body: Value| call(&server, reqwest::Method::POST, "/archive", Some(body));
    let unknown = parlor_proto::session_id::generate(API_KEY, None, 0);
    for (body, want, says) in [
        (json!({}), 400, "sessionId is required"),
        (
            json!({"sessionId": "not-a-session"}),
            400,
            "not a valid session ID",
        ),
        (json!({"sessionId": unknown}), 404, "does not exist"),
        (
            json!({"sessionId": sid, "resolution": "800x600"}),
            400,
            "resolution must be one of",
        ),
        (
            json!({"sessionId": sid, "outputMode": "individual", "resolution": "640x480"}),
            400,
            "only to composed",
        ),
        (
            json!({"sessionId": sid, "outputMode": "zip"}),
            400,
            "outputMode must be",
        ),
        (
            json!({"sessionId": sid, "layout": {"type": "mosaic"}}),
            400,
            "invalid layout",
        ),
        (
            json!({"sessionId": sid, "layout": {"type": "custom"}}),
            400,
            "invalid layout",
        ),
        (
            json!({"sessionId": sid, "layout": {"type": "pip", "stylesheet": "stream {}"}}),
            400,
            "invalid layout",
        ),
        (
            json!({"sessionId": sid, "hasAudio": "yes"}),
            400,
            "hasAudio must be true or false",
        ),
        (
            json!({"sessionId": sid, "hasAudio": false, "hasVideo": false}),
            400,
            "audio, video or both",
        ),
        (
            json!({"sessionId": sid, "maxBitrate": 5}),
            400,
            "maxBitrate",
        ),
        (
            json!({"sessionId": sid, "streamMode": "sometimes"}),
            400,
            "streamMode must be",
        ),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, want, "{body} -> {answer}");
        assert_eq!(answer["code"], want, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{body} -> {answer}"
        );
    }
    for path in [
        "/archive/..%2F..%2Fetc",
        "/archive/not-a-uuid",
        "/archive/00000000-0000-0000-0000-000000000000",
    ] {
        let (status, answer) = call(&server, reqwest::Method::GET, path, None).await;
        assert_eq!(status, 404, "{path}: {answer}");
        let (status, _) = call(
            &server,
            reqwest::Method::POST,
            &format!("{path}/stop"),
            None,
        )
        .await;
        assert_eq!(status, 404, "{path}/stop");
    }
    let (status, answer) = call(&server, reqwest::Method::GET, "/archive?count=abc", None).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = call(&server, reqwest::Method::GET, "/archive?count=2000", None).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = call(&server, reqwest::Method::GET, "/archive", None).await;
    assert_eq!(
        (status, answer["count"].as_u64()),
        (200, Some(0)),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_survives_kill_9_of_the_server() {
    let server = Server::start();
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let mut publisher = publish(&server, &tokens[0], 30, "cam");
    wait_streams(&server, &sid, 1).await;
    let (status, started) = call(
        &server,
        reqwest::Method::POST,
        "/archive",
        Some(json!({"sessionId": sid, "outputMode": "individual"})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(4)).await;
    // kill -9, then start again on the same data dir.
    let status = Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    publisher.kill().ok();
    publisher.wait().ok();
    let keep = server.keep_data_dir();
    let restarted = Server::start_in(keep, &["--api-key", API_KEY, "--api-secret", API_SECRET]);
    let done = wait_done(&restarted, &id).await;
    assert_eq!(done["status"], "available", "{done}");
    assert!(done["duration"].as_u64().unwrap() >= 3, "{done}");
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("a.zip");
    download(done["url"].as_str().unwrap(), &zip_path).await;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let name = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .find(|n| n.ends_with(".webm"))
        .expect("a stream file");
    let webm = dir.path().join(&name);
    std::io::copy(
        &mut zip.by_name(&name).unwrap(),
        &mut std::fs::File::create(&webm).unwrap(),
    )
    .unwrap();
    let probe = ffprobe(&webm);
    assert_eq!(codecs(&probe), ["opus", "vp8"]);
    let d = duration(&probe);
    println!("after kill -9: {d:.2} s of media kept");
    assert!(d > 2.5, "only {d} s survived");
    decodes_cleanly(&webm);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_stops_60_s_after_the_last_client_left() {
    let server = Server::start();
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let mut publisher = publish(&server, &tokens[0], 3, "cam");
    wait_streams(&server, &sid, 1).await;
    let (status, started) = call(
        &server,
        reqwest::Method::POST,
        "/archive",
        Some(json!({"sessionId": sid, "outputMode": "individual"})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    // The publisher leaves after 3 s; nobody else is connected.
    publisher.wait().unwrap();
    let left = Instant::now();
    let (_, a) = call(
        &server,
        reqwest::Method::GET,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(a["status"], "started", "{a}");
    tokio::time::sleep(Duration::from_secs(50)).await;
    let (_, a) = call(
        &server,
        reqwest::Method::GET,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(a["status"], "started", "stopped before 60 s: {a}");
    let done = wait_done(&server, &id).await;
    let after = left.elapsed().as_secs_f64();
    println!("stopped {after:.1} s after the last client left");
    assert!((58.0..75.0).contains(&after), "{after} s");
    assert_eq!(done["status"], "available", "{done}");
    assert_eq!(done["reason"], "session ended");
}
