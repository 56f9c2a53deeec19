//! Archives end to end: a real `parlor serve`, a real publisher (`parlor client
//! publish`), an individual archive started and stopped through the SDK, then inspected,
//! listed, downloaded and deleted with the `parlor archive` commands; the ZIP read back
//! and its WebM checked with ffprobe/ffmpeg.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{API_KEY, API_SECRET, Server, fixtures};
use parlor_sdk::{ArchiveOptions, ArchiveStatus, OutputMode, Role};
use serde_json::Value;

/// Runs `parlor archive ARGS` against `server` (credentials from its data dir).
fn archive_cmd(server: &Server, args: &[&str]) -> Output {
    server
        .parlor_cmd()
        .arg("archive")
        .args(args)
        .args(["--url", &server.url])
        .stdin(Stdio::null())
        .output()
        .expect("run parlor archive")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON a successful command printed.
fn json_out(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: exit {:?}: {}",
        out.status.code(),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The entries of a ZIP file, from its central directory: (name, uncompressed size).
fn zip_entries(zip: &[u8]) -> Vec<(String, u64)> {
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
    // The end-of-central-directory record: the last "PK\x05\x06" (a comment may follow).
    let eocd = (0..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| zip[i..i + 4] == *b"PK\x05\x06")
        .expect("a ZIP end-of-central-directory record");
    let entries = u16_at(eocd + 10);
    let mut at = u32_at(eocd + 16);
    let mut out = Vec::new();
    for _ in 0..entries {
        assert_eq!(&zip[at..at + 4], b"PK\x01\x02", "central directory entry");
        let size = u32_at(at + 24) as u64;
        let (name_len, extra_len, comment_len) =
            (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
        out.push((name, size));
        at += 46 + name_len + extra_len + comment_len;
    }
    out
}

/// ffprobe's streams of a media file: (codec_type, codec_name), and its duration.
fn ffprobe(path: &Path) -> (Vec<(String, String)>, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap_or("").to_owned(),
                s["codec_name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let duration = v["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration for {}: {v}", path.display()));
    (streams, duration)
}

/// The archive API as `parlor archive` sees it, whatever the server: bad arguments and
/// missing credentials exit 2 before any request; a server that refuses exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_cli_refusals_and_bad_arguments() {
    let server = Server::start();
    let code = |args: &[&str]| {
        let out = archive_cmd(&server, args);
        (out.status.code(), stderr(&out))
    };
    for (args, expect, needle) in [
        (
            &["start", "S", "--no-audio", "--no-video"][..],
            2,
            "record nothing",
        ),
        (
            &["start", "S", "--resolution", "800x600"][..],
            2,
            "resolution",
        ),
        (&["start", "S", "--layout", "grid"][..], 2, "grid"),
        (
            &["start", "S", "--output", "individual", "--layout", "pip"][..],
            2,
            "composed archives only",
        ),
        (&["get", "../x"][..], 2, "not an ID"),
        (&["download", "x", "--wait=-1"][..], 2, "--wait"),
        (&["download", "x", "--wait", "nan"][..], 2, "--wait"),
        // Refused by the server (no such archive, or no archive API): 1.
        (
            &["get", "0b7a2f0e-0000-4000-8000-000000000000"][..],
            1,
            "archive",
        ),
        (
            &["stop", "0b7a2f0e-0000-4000-8000-000000000000"][..],
            1,
            "archive",
        ),
    ] {
        let (got, err) = code(args);
        assert_eq!(got, Some(expect), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }

    // Credentials: a wrong secret is refused by the server (1); no stored project is a
    // usage error (2).
    let out = archive_cmd(
        &server,
        &["list", "--api-key", API_KEY, "--api-secret", "wrong"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("authentication failed"),
        "{}",
        stderr(&out)
    );
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args(["archive", "list", "--url", &server.url, "--data-dir"])
        .arg(empty.path())
        .env_remove("PARLOR_API_KEY")
        .env_remove("PARLOR_API_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--api-key"), "{}", stderr(&out));
    // An unreachable server: 1.
    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args(["archive", "get", "x", "--url", "http://127.0.0.1:9"])
        .args(["--api-key", API_KEY, "--api-secret", API_SECRET])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn individual_archive_is_recorded_listed_downloaded_and_deleted() {
    let server = Server::start();
    let sdk = server.sdk();
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let fx = fixtures();

    // A real publisher, sending for 8 s.
    let publisher = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args([
            "client",
            "publish",
            "--url",
            &server.url,
            "--token",
            &tokens[0],
        ])
        .arg("--video")
        .arg(&fx.video_ivf)
        .arg("--audio")
        .arg(&fx.audio_ogg)
        .args(["--duration", "8", "--name", "cam"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn parlor client publish");
    let deadline = Instant::now() + Duration::from_secs(15);
    let stream_id = loop {
        let streams = sdk.list_streams(&sid).await.unwrap();
        if let Some(s) = streams.first() {
            break s.id.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the publisher's stream never came up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Start through the SDK.
    let started = sdk
        .start_archive(
            &sid,
            ArchiveOptions {
                name: Some("cli test".into()),
                output_mode: OutputMode::Individual,
                ..Default::default()
            },
        )
        .await
        .expect("start an individual archive");
    assert_eq!(started.status, ArchiveStatus::Started);
    assert_eq!(started.session_id, sid);
    assert_eq!(started.output_mode, OutputMode::Individual);
    assert_eq!(started.name.as_deref(), Some("cli test"));
    assert!(!started.id.is_empty() && started.created_at > 0);
    assert_eq!(started.url, None, "no URL while recording");
    let id = started.id.clone();

    // A second archive of the same session without a tag: 409.
    match sdk.start_archive(&sid, ArchiveOptions::default()).await {
        Err(parlor_sdk::Error::Request { status: 409, .. }) => {}
        other => panic!("a second archive without a tag: {other:?}"),
    }

    // `get` while recording.
    let got = json_out(&archive_cmd(&server, &["get", &id, "--json"]), "get");
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["status"], "started");
    assert_eq!(got["sessionId"], sid.as_str());

    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped = sdk.stop_archive(&id).await.expect("stop");
    assert_eq!(stopped.id, id);
    assert!(
        matches!(
            stopped.status,
            ArchiveStatus::Stopped | ArchiveStatus::Uploaded | ArchiveStatus::Available
        ),
        "{:?}",
        stopped.status
    );
    // Stopping twice: refused (409), exit 1.
    let again = archive_cmd(&server, &["stop", &id]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));

    let publisher = publisher.wait_with_output().unwrap();
    assert!(publisher.status.success(), "{}", stderr(&publisher));

    // Download with the CLI, waiting for the archive to be made.
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("archive.zip");
    let zip_arg = zip_path.to_str().unwrap();
    let downloaded = json_out(
        &archive_cmd(
            &server,
            &["download", &id, "-o", zip_arg, "--wait", "60", "--json"],
        ),
        "download",
    );
    let zip = std::fs::read(&zip_path).unwrap();
    assert_eq!(downloaded["id"], id.as_str());
    assert_eq!(downloaded["status"], "available");
    assert_eq!(downloaded["bytes"].as_u64(), Some(zip.len() as u64));
    assert!(!dir.path().join("archive.zip.part").exists());

    let available = sdk.get_archive(&id).await.unwrap();
    assert_eq!(available.status, ArchiveStatus::Available);
    assert!(available.url.is_some());
    assert!(
        (2..=6).contains(&available.duration),
        "{} s recorded",
        available.duration
    );
    if available.size > 0 {
        assert_eq!(available.size, zip.len() as u64);
    }

    // The ZIP: `<streamId>.webm` and the manifest `<archiveId>.json`, at its root.
    let entries = zip_entries(&zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let webm = names
        .iter()
        .find(|n| n.starts_with(stream_id.as_str()) && n.ends_with(".webm"))
        .unwrap_or_else(|| panic!("no {stream_id}*.webm in {names:?}"))
        .to_string();
    let manifest_name = format!("{id}.json");
    assert!(names.contains(&manifest_name.as_str()), "{names:?}");

    // Unpacked: the manifest describes the file, and the file plays.
    let unpacked = dir.path().join("unpacked");
    let unzip = Command::new("unzip")
        .args(["-q", zip_arg, "-d"])
        .arg(&unpacked)
        .output()
        .expect("unzip (Debian's unzip package) is needed to unpack the archive");
    assert!(unzip.status.success(), "unzip: {}", stderr(&unzip));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(unpacked.join(&manifest_name)).unwrap()).unwrap();
    assert_eq!(manifest["id"], id.as_str());
    assert_eq!(manifest["sessionId"], sid.as_str());
    assert_eq!(manifest["name"], "cli test");
    let files = manifest["files"].as_array().expect("files[]");
    let file = files
        .iter()
        .find(|f| f["filename"] == webm.as_str())
        .unwrap_or_else(|| panic!("{webm} not in the manifest: {manifest}"));
    assert_eq!(file["streamId"], stream_id.as_str());
    let webm_path = unpacked.join(&webm);
    assert_eq!(
        file["size"].as_u64(),
        Some(std::fs::metadata(&webm_path).unwrap().len())
    );
    let (streams, duration) = ffprobe(&webm_path);
    assert!(
        streams.contains(&("video".into(), "vp8".into())),
        "{streams:?}"
    );
    assert!(
        streams.contains(&("audio".into(), "opus".into())),
        "{streams:?}"
    );
    assert!((2.0..=6.0).contains(&duration), "{duration} s of WebM");
    let decode = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&webm_path)
        // The file's own time base: the null muxer's 1/frame-rate default can round two
        // frames into one tick and complain about the check, not the file.
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "ffmpeg decoding {webm}: {}",
        stderr(&decode)
    );

    // Listed, for the session and in the project.
    let listed = json_out(
        &archive_cmd(&server, &["list", "--session", &sid, "--json"]),
        "list",
    );
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let text = archive_cmd(&server, &["list"]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(
        String::from_utf8_lossy(&text.stdout).contains(&id),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // Deleted: gone from `get` (404 → exit 1, or status "deleted") and from the list.
    let deleted = archive_cmd(&server, &["delete", &id]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    match sdk.get_archive(&id).await {
        Err(parlor_sdk::Error::NotFound { .. }) => {}
        Ok(a) => assert_eq!(a.status, ArchiveStatus::Deleted),
        Err(e) => panic!("get after delete: {e}"),
    }
    let download_deleted = archive_cmd(&server, &["download", &id]);
    assert_eq!(download_deleted.status.code(), Some(1));
}
