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
    start_archive, stop_archive, wait_archive as wait_done, wait_streams,
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
    stop_archive(&server, &id).await;
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
    let id = start_individual(&server, &sid).await;
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
    let id = start_individual(&server, &sid).await;
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
    assert_eq!(a["status"], "paused", "nobody publishes: {a}");
    tokio::time::sleep(Duration::from_secs(50)).await;
    let (_, a) = call(
        &server,
        reqwest::Method::GET,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(a["status"], "paused", "stopped before 60 s: {a}");
    let done = wait_done(&server, &id).await;
    let after = left.elapsed().as_secs_f64();
    println!("stopped {after:.1} s after the last client left");
    assert!((58.0..75.0).contains(&after), "{after} s");
    assert_eq!(done["status"], "available", "{done}");
    assert_eq!(done["reason"], "session ended");
    // The 60 s without anybody are not recording time.
    let d = done["duration"].as_u64().unwrap();
    assert!(
        (1..=6).contains(&d),
        "duration {d} s for ~3 s of publishing: {done}"
    );
}

/// Starts an individual archive of `sid`; its ID.
async fn start_individual(server: &Server, sid: &str) -> String {
    let a = start_archive(
        server,
        json!({"sessionId": sid, "outputMode": "individual"}),
    )
    .await;
    a["id"].as_str().unwrap().to_owned()
}

/// Polls an archive until `done(status)` holds (`secs` at most); the archive then.
async fn wait_status(server: &Server, id: &str, secs: u64, done: impl Fn(&str) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (status, a) = call(
            server,
            reqwest::Method::GET,
            &format!("/archive/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{a}");
        if done(a["status"].as_str().unwrap()) {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "archive {id} still {} after {secs} s",
            a["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_pauses_while_nobody_publishes_and_its_output_leaves_the_pauses_out() {
    let server = Server::start_configured(&["--archive-paused-timeout", "8"]);
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    // A subscriber keeps the session from being empty (which would stop it after 60 s).
    let (_watcher, _events) = server.connect(&sid, &tokens[1]).await;
    let t0 = Instant::now();
    let a = start_archive(&server, json!({"sessionId": sid, "outputMode": "composed"})).await;
    let id = a["id"].as_str().unwrap().to_owned();
    // The answer says started (as OpenTok's: the Node SDK accepts nothing else), and the
    // archive is paused at once: nobody publishes.
    assert_eq!(a["status"], "started", "{a}");
    wait_status(&server, &id, 2, |s| s == "paused").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut publisher = publish(&server, &tokens[0], 4, "cam");
    let resumed = wait_status(&server, &id, 10, |s| s == "started").await;
    assert_eq!(resumed["url"], Value::Null);
    // Stopping or deleting is refused/allowed as for a started archive.
    let (status, body) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    publisher.wait().unwrap();
    let paused = wait_status(&server, &id, 10, |s| s != "started").await;
    assert_eq!(paused["status"], "paused", "{paused}");
    let paused_at = Instant::now();
    let (status, body) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 409, "deleting a paused archive: {body}");
    // It stops by itself 8 s into the pause.
    let stopped = wait_status(&server, &id, 20, |s| s != "paused").await;
    let after = paused_at.elapsed().as_secs_f64();
    let wall = t0.elapsed().as_secs_f64();
    println!("stopped {after:.1} s into the pause, {wall:.1} s after the start");
    assert!((6.5..12.0).contains(&after), "{after} s");
    assert_eq!(
        stopped["reason"], "no client published while paused",
        "{stopped}"
    );
    let done = wait_done(&server, &id).await;
    assert_eq!(done["status"], "available", "{done}");
    let d = done["duration"].as_u64().unwrap();
    assert!(
        (3..=6).contains(&d),
        "duration {d} s for ~4 s of publishing in {wall:.0} s: {done}"
    );
    // The MP4 holds the publishing time only: neither the 3 s before nor the 8 s after.
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("archive.mp4");
    download(done["url"].as_str().unwrap(), &mp4).await;
    let probe = ffprobe(&mp4);
    assert_eq!(codecs(&probe), ["aac", "h264"], "{probe}");
    decodes_cleanly(&mp4);
    let file = duration(&probe);
    println!("composed: {file:.2} s of {wall:.1} s wall, duration field {d} s");
    assert!(
        (2.5..7.0).contains(&file),
        "the MP4 is {file} s long for ~4 s of publishing"
    );
    assert!(
        (file - d as f64).abs() <= 1.5,
        "file {file} s vs duration {d} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maximum_duration_counts_publishing_time_and_caps_paused_time() {
    let server = Server::start_configured(&["--archive-max-duration", "5"]);
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let (_watcher, _events) = server.connect(&sid, &tokens[1]).await;
    // A second session, where nobody ever publishes: stopped after 3 x 5 s in all.
    let (idle_sid, idle_tokens) = server.session_with_tokens(&[Role::Subscriber]).await;
    let (_idle_watcher, _idle_events) = server.connect(&idle_sid, &idle_tokens[0]).await;
    let idle = start_archive(
        &server,
        json!({"sessionId": idle_sid, "outputMode": "individual"}),
    )
    .await;
    let idle_id = idle["id"].as_str().unwrap().to_owned();
    let idle_t0 = Instant::now();

    let t0 = Instant::now();
    let id = start_individual(&server, &sid).await;
    wait_status(&server, &id, 2, |s| s == "paused").await;
    // 4 s paused: not counted.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut publisher = publish(&server, &tokens[0], 30, "cam");
    wait_status(&server, &id, 10, |s| s == "started").await;
    let published = Instant::now();
    let stopped = wait_status(&server, &id, 20, |s| s != "started").await;
    let (since_publish, wall) = (
        published.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64(),
    );
    println!("stopped {since_publish:.1} s after publishing began, {wall:.1} s after the start");
    assert_eq!(stopped["reason"], "maximum duration exceeded", "{stopped}");
    assert!((4.0..8.0).contains(&since_publish), "{since_publish} s");
    assert!(
        wall >= 8.5,
        "the paused 4 s counted: stopped {wall} s after the start"
    );
    let done = wait_done(&server, &id).await;
    assert_eq!(done["status"], "available", "{done}");
    assert!(
        (4..=6).contains(&done["duration"].as_u64().unwrap()),
        "{done}"
    );
    publisher.kill().ok();
    publisher.wait().ok();

    let idle_stopped = wait_status(&server, &idle_id, 30, |s| s != "paused").await;
    let idle_wall = idle_t0.elapsed().as_secs_f64();
    println!("the idle archive left 'paused' after {idle_wall:.1} s");
    assert!((14.0..20.0).contains(&idle_wall), "{idle_wall} s");
    let idle_done = wait_done(&server, &idle_id).await;
    assert_eq!(
        idle_done["status"], "failed",
        "{idle_done} (after {idle_stopped})"
    );
    assert!(
        idle_done["reason"]
            .as_str()
            .unwrap()
            .contains("nobody published"),
        "{idle_done}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_expire_at_the_end_of_the_retention_period() {
    let server = Server::start_configured(&["--archive-retention", "4"]);
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let mut publisher = publish(&server, &tokens[0], 30, "cam");
    wait_streams(&server, &sid, 1).await;
    let id = start_individual(&server, &sid).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_archive(&server, &id).await;
    publisher.kill().ok();
    publisher.wait().ok();
    let done = wait_done(&server, &id).await;
    let available_at = Instant::now();
    assert_eq!(done["status"], "available", "{done}");
    let url = done["url"].as_str().unwrap().to_owned();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    let dir = server
        .data_dir
        .path()
        .join("archives")
        .join(API_KEY)
        .join(&id);
    assert!(dir.exists());

    let expired = wait_status(&server, &id, 15, |s| s != "available").await;
    println!(
        "expired {:.1} s after it was available",
        available_at.elapsed().as_secs_f64()
    );
    assert_eq!(expired["status"], "expired", "{expired}");
    assert_eq!(expired["url"], Value::Null);
    assert_eq!(
        expired["size"], done["size"],
        "the archive's facts are kept"
    );
    assert!(!dir.exists(), "its files are removed");
    assert_eq!(
        reqwest::get(&url).await.unwrap().status(),
        404,
        "the old URL serves nothing"
    );
    let (status, list) = call(
        &server,
        reqwest::Method::GET,
        &format!("/archive?sessionId={sid}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["status"], "expired", "{list}");
    let (status, _) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/archive/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204, "an expired archive can be deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composed_archive_composed_live_is_the_remuxed_live_recording() {
    // `--archive-composition live`: the broadcasts' live compositor records the archive
    // while it runs (a DVR HLS recording in `live/`), and the stop remuxes it.
    let server = Server::start_configured(&["--archive-composition", "live"]);
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Publisher])
        .await;
    let mut a = publish(&server, &tokens[0], 60, "cam-a");
    let mut b = publish(&server, &tokens[1], 60, "cam-b");
    wait_streams(&server, &sid, 2).await;
    let started = start_archive(
        &server,
        json!({"sessionId": sid, "outputMode": "composed", "resolution": "640x480"}),
    )
    .await;
    let id = started["id"].as_str().unwrap().to_owned();
    let live = server
        .data_dir
        .path()
        .join("archives")
        .join(common::API_KEY)
        .join(&id)
        .join("live");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(live.join("index.m3u8")).is_ok_and(|p| p.contains(".ts")) {
        assert!(
            Instant::now() < deadline,
            "no live recording in {}",
            live.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop_archive(&server, &id).await;
    let done = wait_done(&server, &id).await;
    assert_eq!(done["status"], "available", "{done}");
    // The live recording was what became the archive (its directory goes once remuxed;
    // had it been unusable, it would stay, and the archive be composed afterwards).
    assert!(!live.exists(), "the live recording was not used");
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
        (Some(640), Some(480))
    );
    assert!(duration(&probe) > 4.0, "{probe}");
    decodes_cleanly(&mp4);
    for p in [&mut a, &mut b] {
        p.kill().ok();
        p.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_pauses_again_when_a_stream_ends_before_its_media_connected() {
    // A publisher whose media never connects (a raw signaling client that offers and
    // never does ICE), then leaves: the archive, which knew the stream from the moment
    // it was being published, must pause again (CI once saw it stay `started`).
    use futures_util::{SinkExt as _, StreamExt as _};
    use str0m::media::{Direction, MediaKind};
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Subscriber, Role::Publisher])
        .await;
    let (_watcher, _events) = server.connect(&sid, &tokens[0]).await;
    let a = start_archive(
        &server,
        json!({"sessionId": sid, "outputMode": "individual"}),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_owned();
    let status_is = |want: &'static str| {
        let (server, id) = (&server, id.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (_, a) = call(
                    server,
                    reqwest::Method::GET,
                    &format!("/archive/{id}"),
                    None,
                )
                .await;
                if a["status"] == want {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "archive still {}, not {want}",
                    a["status"]
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    status_is("paused").await;

    let url = server.url.replace("http://", "ws://") + "/v1/rtc";
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let text = |v: serde_json::Value| tokio_tungstenite::tungstenite::Message::text(v.to_string());
    ws.send(text(
        json!({"type": "connect", "sessionId": sid, "token": tokens[1]}),
    ))
    .await
    .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(
        first.to_text().unwrap().contains("\"connected\""),
        "{first:?}"
    );
    let mut rtc = str0m::Rtc::builder().build(std::time::Instant::now());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, _pending) = api.apply().unwrap();
    ws.send(text(
        json!({"type": "publish", "id": "p1", "name": "never", "sdp": offer.to_sdp_string()}),
    ))
    .await
    .unwrap();
    // The archive resumes as the stream is being published (its media never connects).
    status_is("started").await;
    drop(ws);
    status_is("paused").await;
}
