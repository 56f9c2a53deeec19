//! H.264 from the native client against a real `parlor serve`: x264 access units
//! packetized in mode 1 (FU-A for large NAL units), forwarded by the router (which starts a
//! subscriber on an IDR it detects), received whole by a native subscriber and decoded by
//! ffmpeg without an error.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Server, media, publish_connected, wait_subscribed};
use parlor_client::{MediaKind, PublishOptions, SubscribeOptions, VideoCodec};
use parlor_media::h264;
use parlor_sdk::Role;

fn media_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("h264-media");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 2 s of a moving test picture, H.264 constrained baseline, 320x240, an IDR every 30
/// frames with SPS/PPS before each, an access unit delimiter before each access unit.
fn h264_stream() -> Vec<u8> {
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2",
        "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "30",
        "-bf", "0", "-x264-params", "aud=1:repeat-headers=1", "-f", "h264",
    ];
    std::fs::read(media::make(
        &media_dir(),
        "testsrc2-320x240-g30.h264",
        &args,
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_h264_is_forwarded_received_whole_and_decodes() {
    let stream = h264_stream();
    let units: Vec<Vec<u8>> = h264::access_units(&stream)
        .into_iter()
        .map(|nals| {
            let mut au = Vec::new();
            for nal in nals {
                au.extend_from_slice(&[0, 0, 0, 1]);
                au.extend_from_slice(nal);
            }
            au
        })
        .collect();
    assert_eq!(units.len(), 60, "2 s at 30 fps");

    let server = Server::start();
    let (_, [(pub_session, _), (sub_session, _)]) =
        server.join([Role::Publisher, Role::Subscriber]).await;
    let mut publisher = publish_connected(
        &pub_session,
        PublishOptions {
            has_audio: false,
            video_codec: VideoCodec::H264,
            ..Default::default()
        },
    )
    .await;
    let mut s = sub_session
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut s).await;
    let sent = units.clone();
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for i in 0usize.. {
            tick.tick().await;
            if publisher
                .send_video(&sent[i % sent.len()], (i as u32) * 3000)
                .is_err()
            {
                return;
            }
        }
    });

    // 60 frames, in order, each as sent (NAL units compared, start codes aside), from an
    // IDR on.
    let mut received = Vec::new();
    while received.len() < 60 {
        let f = s.next_frame(Duration::from_secs(5)).await.expect("a frame");
        if f.kind == MediaKind::Video {
            received.push(f);
        }
    }
    sender.abort();
    let nals = |b: &[u8]| -> Vec<Vec<u8>> {
        h264::nal_units(b)
            .into_iter()
            .filter(|n| h264::nal_type(n) != 9)
            .map(<[u8]>::to_vec)
            .collect()
    };
    let first = nals(&received[0].data);
    let types: Vec<u8> = first.iter().map(|n| h264::nal_type(n)).collect();
    assert_eq!(
        (types.first(), types.contains(&5)),
        (Some(&7), true),
        "the subscriber starts on an IDR's access unit, SPS first: {types:?}"
    );
    let start = units
        .iter()
        .position(|u| nals(u) == first)
        .expect("the first frame is one that was sent");
    let mut annex_b = Vec::new();
    for (i, f) in received.iter().enumerate() {
        assert_eq!(
            nals(&f.data),
            nals(&units[(start + i) % units.len()]),
            "frame {i} arrived as sent"
        );
        assert!(i == 0 || f.contiguous, "frame {i} follows without a gap");
        annex_b.extend_from_slice(&f.data);
    }
    // What arrived decodes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("received.h264");
    std::fs::write(&path, &annex_b).unwrap();
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "h264", "-i"])
        .arg(&path)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
    let decoded = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert_eq!(decoded, 60, "every frame decodes");
}
