//! Signaling and media end to end: a real `parlor serve`, native clients over real UDP.

mod common;

use std::time::Duration;

use common::Server;
use parlor_client::{
    MediaKind, PublishOptions, ServerMessage, Session, SubscribeOptions, SubscriberEvent,
};
use parlor_media::ivf::IvfReader;
use parlor_sdk::Role;
use tokio::sync::mpsc::UnboundedReceiver;

fn fixtures() -> parlor_media::fixtures::Fixtures {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    parlor_media::fixtures::ensure(&dir).expect("ffmpeg fixtures")
}

fn video_frames() -> Vec<Vec<u8>> {
    let file = std::fs::File::open(fixtures().video_ivf).unwrap();
    let mut reader = IvfReader::new(std::io::BufReader::new(file)).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        frames.push(f.data);
    }
    frames
}

/// Waits for the next event matching `pred`, failing after `secs`.
async fn expect_event(
    events: &mut UnboundedReceiver<ServerMessage>,
    secs: u64,
    what: &str,
    pred: impl Fn(&ServerMessage) -> bool,
) -> ServerMessage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return ev,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("events closed while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_publisher_two_subscribers_receive_identical_frames() {
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber, Role::Subscriber])
        .await;
    let frames = video_frames();

    let (publisher_session, _pub_events) = Session::connect(&server.url, &sid, &tokens[0])
        .await
        .unwrap();
    let (sub1, mut sub1_events) = Session::connect(&server.url, &sid, &tokens[1])
        .await
        .unwrap();
    let (sub2, mut sub2_events) = Session::connect(&server.url, &sid, &tokens[2])
        .await
        .unwrap();

    let mut publisher = publisher_session
        .publish(PublishOptions {
            name: "camera".into(),
            has_audio: false,
            ..Default::default()
        })
        .await
        .unwrap();
    publisher.wait_connected().await.unwrap();
    for events in [&mut sub1_events, &mut sub2_events] {
        let ev = expect_event(events, 5, "streamCreated", |e| {
            matches!(e, ServerMessage::StreamCreated { .. })
        })
        .await;
        let ServerMessage::StreamCreated { stream } = ev else {
            unreachable!()
        };
        assert_eq!(stream.stream_id, publisher.stream_id());
        assert_eq!(stream.name, "camera");
        assert_eq!(stream.connection.data, "client-0");
    }
    let mut s1 = sub1
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    let mut s2 = sub2
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    for s in [&mut s1, &mut s2] {
        match tokio::time::timeout(Duration::from_secs(10), s.next_event()).await {
            Ok(Some(SubscriberEvent::Connected)) => {}
            other => panic!("subscriber did not connect: {other:?}"),
        }
    }

    // Send 90 frames (3 s, 3 GOPs) at their pace.
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for (i, frame) in frames.iter().take(90).enumerate() {
            tick.tick().await;
            publisher.send_video(frame, (i as u32) * 3000).unwrap();
        }
        (publisher, frames)
    });
    let mut received: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for (i, s) in [&mut s1, &mut s2].into_iter().enumerate() {
        while let Ok(f) = s.next_frame(Duration::from_secs(2)).await {
            assert_eq!(f.kind, MediaKind::Video);
            received[i].push(f.data.to_vec());
            if received[i].len() == 90 {
                break;
            }
        }
    }
    let (_publisher, frames) = sender.await.unwrap();
    for got in &received {
        eprintln!("received {} frames", got.len());
        assert!(got.len() >= 60, "received only {} frames", got.len());
        // What arrives is a contiguous run of what was sent, starting on a keyframe.
        let start = frames
            .iter()
            .position(|f| f == &got[0])
            .expect("first frame was sent");
        assert!(parlor_media::vp8::is_keyframe(&got[0]));
        assert_eq!(got[..], frames[start..start + got.len()]);
    }
}
