//! Simulcast against a real `parlor serve`: a native publisher sends three layers (each its
//! own RTP stream with its own sequence numbers, timestamps and picture IDs, and its own
//! size of a moving test picture, so a received frame tells its layer). A native subscriber gets the
//! layer its preferences allow, switched on a keyframe of the new layer as one stream (no
//! sequence gap, time moving on), and the publisher is told how many layers are needed.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    Events, Server, expect_event, ivf_frames, media, publish_connected, start_archive,
    stop_archive, wait_archive, wait_subscribed,
};
use parlor_client::{
    ClientError, MediaKind, PublishOptions, ServerMessage, SubscribeOptions, Subscriber,
};
use parlor_proto::signaling::{SimulcastLayer, VideoDimensions};
use parlor_sdk::Role;

const SIZES: [(u32, u32); 3] = [(320, 180), (640, 360), (1280, 720)];

fn media_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulcast-media");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Encoded frames, in order.
type Frames = Vec<Vec<u8>>;

/// Each layer's frames (2 s of ffmpeg's moving test picture at the layer's size, VP8, a
/// keyframe every 15), and which layer a frame's bytes belong to.
fn layer_frames() -> (Vec<Frames>, HashMap<Vec<u8>, usize>) {
    let mut owner = HashMap::new();
    let layers: Vec<Frames> = SIZES
        .iter()
        .enumerate()
        .map(|(layer, &(w, h))| {
            let source = format!("testsrc2=size={w}x{h}:rate=30:duration=2");
            #[rustfmt::skip]
            let args = [
                "-f", "lavfi", "-i", &source,
                "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "15",
                "-b:v", "300k", "-auto-alt-ref", "0", "-lag-in-frames", "0", "-f", "ivf",
            ];
            let file = media::make(&media_dir(), &format!("testsrc2-{w}x{h}-g15.ivf"), &args);
            let frames: Frames = ivf_frames(&file).into_iter().map(|(_, f)| f).collect();
            for f in &frames {
                let before = owner.insert(f.clone(), layer);
                assert!(
                    before.is_none_or(|l| l == layer),
                    "two layers share a frame"
                );
            }
            frames
        })
        .collect();
    (layers, owner)
}

fn layers() -> Vec<SimulcastLayer> {
    SIZES
        .iter()
        .map(|&(width, height)| SimulcastLayer {
            width,
            height,
            max_frame_rate: Some(30.0),
        })
        .collect()
}

/// A received frame: its layer, RTP time, and whether it starts a keyframe and follows
/// the previous one without a gap.
#[derive(Debug, Clone, Copy)]
struct Got {
    layer: usize,
    rtp_time: u64,
    keyframe: bool,
    contiguous: bool,
}

async fn next(s: &mut Subscriber, owner: &HashMap<Vec<u8>, usize>) -> Got {
    loop {
        let f = s.next_frame(Duration::from_secs(5)).await.expect("a frame");
        if f.kind != MediaKind::Video {
            continue;
        }
        let layer = *owner
            .get(&f.data[..])
            .expect("the frame is one a layer sent");
        return Got {
            layer,
            rtp_time: f.rtp_time,
            keyframe: f.keyframe,
            contiguous: f.contiguous,
        };
    }
}

/// Reads frames until they come from `layer` (within 8 s); checks the switch: it starts on
/// a keyframe, time moving forward; then `after` more frames all of that layer, each
/// following the last without a gap. Returns how long the switch took.
///
/// The frame just before the switch may not arrive whole: the publisher's pacer
/// interleaves its layers' packets, so the new layer's keyframe can start while the old
/// layer's frame is half sent, and the router switches there (the receiver drops the
/// incomplete frame; the keyframe needs nothing before it).
async fn expect_layer(
    s: &mut Subscriber,
    owner: &HashMap<Vec<u8>, usize>,
    layer: usize,
    after: usize,
) -> Duration {
    let t0 = tokio::time::Instant::now();
    let mut previous: Option<Got> = None;
    loop {
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "no frame of layer {layer} in 8 s; last {previous:?}"
        );
        let got = next(s, owner).await;
        if got.layer == layer {
            if let Some(p) = previous
                && p.layer != layer
            {
                assert!(
                    got.keyframe,
                    "the switch to layer {layer} starts on a keyframe"
                );
                assert!(got.rtp_time > p.rtp_time, "time moves on: {p:?} → {got:?}");
            }
            let took = t0.elapsed();
            let mut last = got;
            for _ in 0..after {
                let g = next(s, owner).await;
                assert_eq!(g.layer, layer, "after the switch, only layer {layer}");
                assert!(
                    g.contiguous && g.rtp_time > last.rtp_time,
                    "{last:?} → {g:?}"
                );
                last = g;
            }
            return took;
        }
        previous = Some(got);
    }
}

async fn expect_needed(events: &mut Events, layers: u8) {
    expect_event(
        events,
        10,
        &format!("layersNeeded {layers}"),
        |e| matches!(e, ServerMessage::LayersNeeded { layers: l, .. } if *l == layers),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_gets_the_layer_its_preferences_allow_as_one_stream() {
    let server = Server::start();
    let (_, [(pub_session, mut pub_events), (sub_session, _sub_events)]) =
        server.join([Role::Publisher, Role::Subscriber]).await;
    let (_, owner) = layer_frames();
    // Every 33 ms a frame on each layer, each layer with a timestamp base of its own.
    let (stream_id, sender) = publish_layers(&pub_session).await;

    let mut s = sub_session
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut s).await;
    // No preference: the top layer, and every layer is needed.
    expect_layer(&mut s, &owner, 2, 20).await;
    expect_needed(&mut pub_events, 3).await;

    let size = |(width, height): (u32, u32)| Some(VideoDimensions { width, height });
    s.set_preferences(size((320, 180)), None).await.unwrap();
    let down = expect_layer(&mut s, &owner, 0, 20).await;
    expect_needed(&mut pub_events, 1).await;
    s.set_preferences(size((600, 300)), None).await.unwrap();
    let middle = expect_layer(&mut s, &owner, 1, 20).await;
    expect_needed(&mut pub_events, 2).await;
    s.set_preferences(None, None).await.unwrap();
    let up = expect_layer(&mut s, &owner, 2, 20).await;
    expect_needed(&mut pub_events, 3).await;
    eprintln!("switches: down {down:?}, to the middle {middle:?}, up {up:?}");

    // A preferred frame rate below every layer's: the lowest.
    s.set_preferences(None, Some(10.0)).await.unwrap();
    expect_layer(&mut s, &owner, 0, 10).await;
    s.set_preferences(None, None).await.unwrap();
    expect_layer(&mut s, &owner, 2, 10).await;

    // Video off: no layer is needed; back on: the top layer again.
    s.set_media(None, Some(false)).await.unwrap();
    expect_needed(&mut pub_events, 0).await;
    s.set_media(None, Some(true)).await.unwrap();
    expect_needed(&mut pub_events, 3).await;
    expect_layer(&mut s, &owner, 2, 10).await;

    // Bad preferences are refused with the reason, and change nothing.
    for (resolution, rate, says) in [
        (
            size((0, 180)),
            None,
            "preferredResolution must be 1 to 8192",
        ),
        (
            size((320, 9000)),
            None,
            "preferredResolution must be 1 to 8192",
        ),
        (None, Some(0.0), "preferredFrameRate must be above 0"),
        (None, Some(1000.0), "at most 240"),
    ] {
        match s.set_preferences(resolution, rate).await {
            Err(ClientError::Server { message, .. }) => {
                assert!(message.contains(says), "{message}")
            }
            other => panic!("bad preference accepted: {other:?}"),
        }
    }
    expect_layer(&mut s, &owner, 2, 10).await;
    sender.abort();
}

/// Publishes the three layers of `layer_frames` from `session` until the task is aborted.
async fn publish_layers(session: &parlor_client::Session) -> (String, tokio::task::JoinHandle<()>) {
    let (frames, _) = layer_frames();
    let mut publisher = publish_connected(
        session,
        PublishOptions {
            has_audio: false,
            simulcast: layers(),
            ..Default::default()
        },
    )
    .await;
    let stream_id = publisher.stream_id().to_owned();
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for i in 0usize.. {
            tick.tick().await;
            for (layer, frames) in frames.iter().enumerate() {
                let time = (layer as u32)
                    .wrapping_mul(1_500_000_000)
                    .wrapping_add(i as u32 * 3000);
                if publisher
                    .send_video_layer(layer, &frames[i % frames.len()], time)
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    (stream_id, sender)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulcast_stream_is_recorded_from_its_top_layer() {
    let server = Server::start();
    let (sid, [(session, _events)]) = server.join([Role::Publisher]).await;
    let (_stream, sender) = publish_layers(&session).await;
    // Started as the media begins: the recording waits for the top layer.
    let archive = start_archive(
        &server,
        serde_json::json!({"sessionId": sid, "outputMode": "individual", "hasAudio": false}),
    )
    .await;
    let id = archive["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_archive(&server, &id).await;
    let done = wait_archive(&server, &id).await;
    assert_eq!(done["status"], "available", "{done}");
    sender.abort();
    let zip_bytes = reqwest::get(done["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let name = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
        .find(|n| n.ends_with(".webm"))
        .expect("a stream file");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(&name);
    std::io::copy(
        &mut zip.by_name(&name).unwrap(),
        &mut std::fs::File::create(&path).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height:format=duration", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let size = lines.next().unwrap_or_default().to_owned();
    assert_eq!(size, "1280,720", "the recording is the top layer");
    // Its time is the top layer's alone (each layer's RTP clock and sender reports have a
    // base of their own): about the 3 s it ran.
    let duration: f64 = lines.next().unwrap_or_default().trim().parse().unwrap();
    assert!((1.5..4.5).contains(&duration), "{duration} s recorded of 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_simulcast_layers_are_refused_at_publish() {
    let server = Server::start();
    let (_, [(session, _events)]) = server.join([Role::Publisher]).await;
    let layer = |width, height| SimulcastLayer {
        width,
        height,
        max_frame_rate: None,
    };
    for (layers, says) in [
        (vec![layer(640, 360), layer(320, 180)], "lowest first"),
        (vec![layer(0, 180), layer(640, 360)], "1 to 8192 pixels"),
    ] {
        let err = session
            .publish(PublishOptions {
                simulcast: layers,
                ..Default::default()
            })
            .await
            .expect_err("refused");
        assert!(err.to_string().contains(says), "{err}");
    }
}
