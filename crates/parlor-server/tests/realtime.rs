//! Signaling and media end to end: a real `parlor serve`, native clients over real UDP.

mod common;

use std::time::Duration;

use common::{
    Server, expect_event, fixtures, ivf_frames, ogg_packets, publish_connected, wait_subscribed,
};
use parlor_client::{
    MediaKind, PublishOptions, ServerMessage, Session, SubscribeOptions, SubscriberEvent,
};
use parlor_sdk::Role;
use tokio::sync::mpsc::UnboundedReceiver;

fn video_frames() -> Vec<Vec<u8>> {
    ivf_frames(&fixtures().video_ivf)
        .into_iter()
        .map(|(_, data)| data)
        .collect()
}

fn audio_packets() -> Vec<Vec<u8>> {
    ogg_packets(&fixtures().audio_ogg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_publisher_two_subscribers_receive_identical_frames() {
    let server = Server::start();
    let (
        _,
        [
            (publisher_session, _pub_events),
            (sub1, mut sub1_events),
            (sub2, mut sub2_events),
        ],
    ) = server
        .join([Role::Publisher, Role::Subscriber, Role::Subscriber])
        .await;
    let frames = video_frames();

    let mut publisher = publish_connected(
        &publisher_session,
        PublishOptions {
            name: "camera".into(),
            has_audio: false,
            ..Default::default()
        },
    )
    .await;
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

/// Publishes video only and waits until its media is connected.
async fn publish_video(session: &Session) -> parlor_client::Publisher {
    let options = PublishOptions {
        has_audio: false,
        ..Default::default()
    };
    publish_connected(session, options).await
}

/// Asserts that no event matching `pred` arrives within `ms`.
async fn expect_none(
    events: &mut UnboundedReceiver<ServerMessage>,
    ms: u64,
    pred: impl Fn(&ServerMessage) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.recv()).await {
        assert!(!pred(&ev), "unexpected event {ev:?}");
    }
}

fn kind(ev: &ServerMessage) -> &'static str {
    match ev {
        ServerMessage::ConnectionCreated { .. } => "connectionCreated",
        ServerMessage::ConnectionDestroyed { .. } => "connectionDestroyed",
        ServerMessage::StreamCreated { .. } => "streamCreated",
        ServerMessage::StreamDestroyed { .. } => "streamDestroyed",
        ServerMessage::StreamPropertyChanged { .. } => "streamPropertyChanged",
        ServerMessage::Signal { .. } => "signal",
        ServerMessage::MuteForced { .. } => "muteForced",
        ServerMessage::SubscriptionConnected { .. } => "subscriptionConnected",
        ServerMessage::SubscriptionEnded { .. } => "subscriptionEnded",
        ServerMessage::Disconnected { .. } => "disconnected",
        _ => "other",
    }
}

/// Sends `n` video frames (and the matching audio) at their pace. If `answer_pli`, a
/// keyframe request makes it jump to the next keyframe of the file, as an encoder would
/// produce one. Returns the indices of the frames sent.
async fn send_media(
    publisher: &mut parlor_client::Publisher,
    n: usize,
    audio: bool,
    answer_pli: bool,
) -> Vec<usize> {
    let frames = video_frames();
    let packets = audio_packets();
    let mut sent = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(33));
    let mut requests = 0;
    let mut i = 0;
    let mut k = 0;
    while sent.len() < n {
        tick.tick().await;
        let now = publisher.poll_keyframe_requests().unwrap();
        if answer_pli && now > requests {
            while !parlor_media::vp8::is_keyframe(&frames[i % frames.len()]) {
                i += 1;
            }
        }
        requests = now;
        publisher
            .send_video(&frames[i % frames.len()], (sent.len() as u32) * 3000)
            .unwrap();
        sent.push(i % frames.len());
        i += 1;
        // 20 ms audio packets: about 1.65 per frame.
        while audio && (k * 20) < sent.len() * 33 {
            publisher
                .send_audio(&packets[k % packets.len()], (k as u32) * 960)
                .unwrap();
            k += 1;
        }
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_events_arrive_in_order_and_everything_is_released() {
    let server = Server::start();
    let (_, [(a, mut a_events), (b, mut b_events)]) =
        server.join([Role::Publisher, Role::Subscriber]).await;
    assert_eq!(b.info().connections.len(), 1);
    assert_eq!(b.info().connections[0].connection_id, a.connection_id());
    assert_eq!(b.info().connections[0].data, "client-0");
    assert!(!b.info().capabilities.publish && b.info().capabilities.subscribe);
    let ev = expect_event(&mut a_events, 5, "connectionCreated", |e| {
        kind(e) == "connectionCreated"
    })
    .await;
    let ServerMessage::ConnectionCreated { connection } = ev else {
        unreachable!()
    };
    assert_eq!(
        (connection.connection_id.as_str(), connection.data.as_str()),
        (b.connection_id(), "client-1")
    );

    let publisher = publish_connected(
        &a,
        PublishOptions {
            name: "cam".into(),
            ..Default::default()
        },
    )
    .await;
    let stream_id = publisher.stream_id().to_owned();
    expect_event(&mut a_events, 5, "own streamCreated", |e| {
        kind(e) == "streamCreated"
    })
    .await;
    let mut sub = b
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    publisher.set_publishing(None, Some(false)).await.unwrap();
    publisher.unpublish().await.unwrap();
    a.disconnect().await;

    let mut order = Vec::new();
    while order.last() != Some(&"connectionDestroyed") {
        let ev = expect_event(&mut b_events, 5, "the rest of the events", |_| true).await;
        match &ev {
            ServerMessage::StreamPropertyChanged {
                changed_property,
                old_value,
                new_value,
                ..
            } => {
                assert_eq!(
                    (changed_property.as_str(), old_value, new_value),
                    ("hasVideo", &true.into(), &false.into())
                );
            }
            ServerMessage::StreamDestroyed { stream, reason } => {
                assert_eq!(stream.stream_id, stream_id);
                assert_eq!(
                    *reason,
                    parlor_proto::signaling::StreamReason::ClientDisconnected
                );
            }
            ServerMessage::ConnectionDestroyed {
                connection, reason, ..
            } => {
                assert_eq!(connection.connection_id, a.connection_id());
                assert_eq!(
                    *reason,
                    parlor_proto::signaling::ConnectionReason::ClientDisconnected
                );
            }
            _ => {}
        }
        order.push(kind(&ev));
    }
    assert_eq!(
        order,
        [
            "streamCreated",
            "subscriptionConnected",
            "streamPropertyChanged",
            "subscriptionEnded",
            "streamDestroyed",
            "connectionDestroyed"
        ]
    );
    b.disconnect().await;
    server.assert_released().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_and_video_arrive_byte_identical_and_unsubscribe_releases() {
    let server = Server::start();
    let (_, [(a, _a_events), (b, _b_events)]) =
        server.join([Role::Publisher, Role::Subscriber]).await;
    let mut publisher = publish_connected(&a, PublishOptions::default()).await;
    let mut sub = b
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    let sender = tokio::spawn(async move {
        let sent = send_media(&mut publisher, 60, true, false).await;
        (publisher, sent)
    });
    let (mut video, mut audio) = (Vec::new(), Vec::new());
    while let Ok(f) = sub.next_frame(Duration::from_secs(1)).await {
        match f.kind {
            MediaKind::Video => video.push(f.data.to_vec()),
            MediaKind::Audio => audio.push(f.data.to_vec()),
        }
    }
    let (publisher, sent) = sender.await.unwrap();
    let frames = video_frames();
    let packets = audio_packets();
    assert!(
        video.len() >= 50 && audio.len() >= 80,
        "video {} audio {}",
        video.len(),
        audio.len()
    );
    let start = sent.iter().position(|&i| frames[i] == video[0]).unwrap();
    for (got, &i) in video.iter().zip(&sent[start..]) {
        assert!(got == &frames[i], "video frame differs");
    }
    let a0 = packets.iter().position(|p| p == &audio[0]).unwrap();
    assert_eq!(
        audio[..],
        packets[a0..a0 + audio.len()],
        "audio packets differ"
    );

    let stats = server.stats().await;
    assert_eq!(stats["router"]["consumers"], 1);
    sub.unsubscribe().await.unwrap();
    publisher.unpublish().await.unwrap();
    let stats = server.stats().await;
    assert_eq!(stats["router"]["transports"], 0, "{stats}");
    a.disconnect().await;
    b.disconnect().await;
    server.assert_released().await;
}

/// A burst (a second of audio and video written at once) reaches the router as a queue of
/// datagrams, which it forwards in groups per consumer: nothing lost, nothing reordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_arrives_whole_and_in_order() {
    let server = Server::start();
    let (_, [(a, _a_events), (b, _b_events), (c, _c_events)]) = server
        .join([Role::Publisher, Role::Subscriber, Role::Subscriber])
        .await;
    let mut publisher = publish_connected(&a, PublishOptions::default()).await;
    let mut subs = Vec::new();
    for session in [&b, &c] {
        let mut sub = session
            .subscribe(publisher.stream_id(), SubscribeOptions::default())
            .await
            .unwrap();
        wait_subscribed(&mut sub).await;
        subs.push(sub);
    }
    let frames = video_frames();
    let packets = audio_packets();
    assert!(parlor_media::vp8::is_keyframe(&frames[0]));
    // 30 frames and 50 audio packets, interleaved as captured, with no pause between them.
    for (i, frame) in frames.iter().take(30).enumerate() {
        publisher.send_video(frame, (i as u32) * 3000).unwrap();
        let (from, to) = (i * 5 / 3, (i + 1) * 5 / 3);
        for (k, packet) in packets.iter().enumerate().take(to).skip(from) {
            publisher.send_audio(packet, (k as u32) * 960).unwrap();
        }
    }
    for sub in &mut subs {
        let (mut video, mut audio) = (Vec::new(), Vec::new());
        while video.len() < 30 || audio.len() < 50 {
            let Ok(f) = sub.next_frame(Duration::from_secs(3)).await else {
                break;
            };
            match f.kind {
                MediaKind::Video => video.push(f.data.to_vec()),
                MediaKind::Audio => audio.push(f.data.to_vec()),
            }
        }
        assert_eq!(video.len(), 30, "video frames received");
        assert!(
            video[..] == frames[..30],
            "video differs or is out of order"
        );
        assert_eq!(audio.len(), 50, "audio packets received");
        assert!(
            audio[..] == packets[..50],
            "audio differs or is out of order"
        );
    }
    let stats = server.stats().await;
    let router = &stats["router"];
    eprintln!(
        "forwarded {} packets in {} consumer passes",
        router["rtpForwarded"], router["forwardPasses"]
    );
    // 170 packets written at once: the router read several before forwarding, and gave
    // each consumer a group in one pass (fewer passes than packets).
    let (passes, forwarded) = (
        router["forwardPasses"].as_u64().unwrap(),
        router["rtpForwarded"].as_u64().unwrap(),
    );
    assert!(passes > 0 && passes < forwarded, "{router}");
    a.disconnect().await;
    b.disconnect().await;
    c.disconnect().await;
    server.assert_released().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_round_trip_in_order_with_limits_enforced() {
    let server = Server::start();
    let (_, [(a, mut a_events), (b, mut b_events), (c, mut c_events)]) = server
        .join([Role::Publisher, Role::Subscriber, Role::PublisherOnly])
        .await;
    for i in 0..50 {
        a.signal(None, "chat", &format!("message {i}"))
            .await
            .unwrap();
    }
    for events in [&mut a_events, &mut b_events, &mut c_events] {
        for i in 0..50 {
            let ev = expect_event(events, 5, "signal", |e| kind(e) == "signal").await;
            let ServerMessage::Signal {
                signal_type,
                data,
                from,
            } = ev
            else {
                unreachable!()
            };
            assert_eq!(
                (signal_type.as_str(), data),
                ("chat", format!("message {i}"))
            );
            assert_eq!(from.unwrap().connection_id, a.connection_id());
        }
    }
    // To one connection only.
    b.signal(Some(a.connection_id()), "private", "for a")
        .await
        .unwrap();
    let ev = expect_event(&mut a_events, 5, "private signal", |e| kind(e) == "signal").await;
    assert!(matches!(ev, ServerMessage::Signal { ref data, .. } if data == "for a"));
    expect_none(&mut c_events, 300, |e| kind(e) == "signal").await;

    // Over the limits: an error to the sender, nothing delivered.
    let over = [
        ("t".repeat(129), "x".to_owned()),
        ("bad type!".to_owned(), "x".to_owned()),
        ("ok".to_owned(), "x".repeat(8 * 1024 + 1)),
    ];
    for (t, d) in &over {
        let err = a.signal(None, t, d).await.unwrap_err();
        assert!(
            matches!(err, parlor_client::ClientError::Server { .. }),
            "{err}"
        );
    }
    a.signal(None, "ok", &"y".repeat(8 * 1024)).await.unwrap();
    let ev = expect_event(&mut b_events, 5, "the valid signal", |e| {
        kind(e) == "signal"
    })
    .await;
    assert!(
        matches!(ev, ServerMessage::Signal { ref signal_type, .. } if signal_type == "ok"),
        "{ev:?}"
    );
    let err = b
        .signal(Some("no-such-connection"), "x", "")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no connection"), "{err}");
    // publisheronly cannot signal.
    let err = c.signal(None, "x", "").await.unwrap_err();
    assert!(err.to_string().contains("publisheronly"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_and_moderators_moderate() {
    let server = Server::start();
    let (
        _,
        [
            (publisher_s, mut p_events),
            (subscriber_s, mut s_events),
            (only, _o_events),
            (moderator, mut m_events),
        ],
    ) = server
        .join([
            Role::Publisher,
            Role::Subscriber,
            Role::PublisherOnly,
            Role::Moderator,
        ])
        .await;

    let err = subscriber_s
        .publish(PublishOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("subscriber token does not allow publishing"),
        "{err}"
    );
    let publisher = publish_connected(&publisher_s, PublishOptions::default()).await;
    let stream_id = publisher.stream_id().to_owned();
    expect_event(&mut s_events, 5, "streamCreated", |e| {
        kind(e) == "streamCreated"
    })
    .await;
    let err = only
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("publisheronly token does not allow subscribing"),
        "{err}"
    );
    let err = publisher_s
        .force_disconnect(subscriber_s.connection_id())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("forceDisconnect"), "{err}");
    let err = publisher_s.force_mute_all(&[]).await.unwrap_err();
    assert!(err.to_string().contains("forceMute"), "{err}");
    let err = subscriber_s
        .subscribe("no-such-stream", SubscribeOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no stream"), "{err}");

    // forceMuteStream: the publisher is told, the others see hasAudio=false.
    moderator.force_mute_stream(&stream_id).await.unwrap();
    expect_event(&mut p_events, 5, "muteForced", |e| kind(e) == "muteForced").await;
    let ev = expect_event(&mut s_events, 5, "hasAudio false", |e| {
        kind(e) == "streamPropertyChanged"
    })
    .await;
    assert!(
        matches!(ev, ServerMessage::StreamPropertyChanged { ref changed_property, ref new_value, .. }
        if changed_property == "hasAudio" && *new_value == false)
    );

    // forceUnpublish, then forceDisconnect.
    moderator.force_unpublish(&stream_id).await.unwrap();
    let ev = expect_event(&mut s_events, 5, "streamDestroyed", |e| {
        kind(e) == "streamDestroyed"
    })
    .await;
    assert!(matches!(
        ev,
        ServerMessage::StreamDestroyed {
            reason: parlor_proto::signaling::StreamReason::ForceUnpublished,
            ..
        }
    ));
    moderator
        .force_disconnect(subscriber_s.connection_id())
        .await
        .unwrap();
    let ev = expect_event(&mut s_events, 5, "disconnected", |e| {
        kind(e) == "disconnected"
    })
    .await;
    assert!(matches!(
        ev,
        ServerMessage::Disconnected {
            reason: parlor_proto::signaling::ConnectionReason::ForceDisconnected,
            detail: None
        }
    ));
    let ev = expect_event(&mut m_events, 5, "connectionDestroyed", |e| {
        kind(e) == "connectionDestroyed"
    })
    .await;
    assert!(
        matches!(ev, ServerMessage::ConnectionDestroyed { reason: parlor_proto::signaling::ConnectionReason::ForceDisconnected, ref connection, .. }
        if connection.connection_id == subscriber_s.connection_id())
    );
    assert!(
        subscriber_s.ping().await.is_err(),
        "the forced-out client is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_stream_subscriber_gets_a_keyframe_fast() {
    let server = Server::start();
    let (_, [(a, _a_events), (b, _b_events)]) =
        server.join([Role::Publisher, Role::Subscriber]).await;
    let mut publisher = publish_video(&a).await;
    let stream_id = publisher.stream_id().to_owned();
    // The publisher answers keyframe requests the way an encoder does (next keyframe now).
    let sender = tokio::spawn(async move {
        let sent = send_media(&mut publisher, 120, false, true).await;
        (publisher.poll_keyframe_requests().unwrap(), sent)
    });
    // Join mid-GOP: 1.4 s in, the file's next natural keyframe is 0.6 s away.
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let mut sub = b
        .subscribe(
            &stream_id,
            SubscribeOptions {
                audio: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    let connected = std::time::Instant::now();
    let first = sub.next_frame(Duration::from_secs(3)).await.unwrap();
    let waited = connected.elapsed();
    assert!(
        first.keyframe && parlor_media::vp8::is_keyframe(&first.data),
        "the first frame is a keyframe"
    );
    let (requests, sent) = sender.await.unwrap();
    assert!(
        requests >= 1,
        "the subscriber's keyframe request reached the publisher"
    );
    // The first frame is the keyframe the publisher jumped to in answer to the relayed
    // request (ahead of the file's order), not one it would have reached by itself.
    let frames = video_frames();
    let pos = sent
        .iter()
        .position(|&i| frames[i] == *first.data)
        .expect("the first frame was sent");
    assert!(
        pos > 0 && sent[pos] != sent[pos - 1] + 1,
        "the first frame came from a keyframe request (frame {} after {})",
        sent[pos],
        sent[pos - 1]
    );
    eprintln!("subscription connected → first keyframe: {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_sequence_wrap_and_a_subscriber_joining_after_it() {
    let server = Server::start();
    let (_, [(a, _a), (b, _b), (c, _c)]) = server
        .join([Role::Publisher, Role::Subscriber, Role::Subscriber])
        .await;
    let mut publisher = publish_connected(
        &a,
        PublishOptions {
            has_audio: false,
            initial_video_seq: Some(65_300),
            ..Default::default()
        },
    )
    .await;
    let stream_id = publisher.stream_id().to_owned();
    let mut early = b
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut early).await;
    let sender = tokio::spawn(async move { send_media(&mut publisher, 150, false, true).await });
    // ~3 packets a frame: the publisher's numbers pass 65,535 after ~80 frames (2.6 s).
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let mut late = c
        .subscribe(&stream_id, SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut late).await;
    let mut got = [Vec::new(), Vec::new()];
    for (i, s) in [&mut early, &mut late].into_iter().enumerate() {
        while let Ok(f) = s.next_frame(Duration::from_millis(1500)).await {
            got[i].push(f.data.to_vec());
        }
    }
    let sent = sender.await.unwrap();
    let frames = video_frames();
    for (name, g) in ["early", "late"].iter().zip(&got) {
        eprintln!("{name} subscriber got {} frames", g.len());
        let start = sent.iter().position(|&i| frames[i] == g[0]).unwrap();
        // Every frame from its first keyframe, in order (a loss of the very last packet is
        // only noticed when nothing follows, so the last frame may be missing).
        assert!(
            g.len() + 1 >= sent.len() - start,
            "{name}: {} of {}",
            g.len(),
            sent.len() - start
        );
        for (f, &i) in g.iter().zip(&sent[start..]) {
            assert!(f == &frames[i], "{name}: frame differs");
        }
    }
    assert!(
        got[0].len() > 140 && got[1].len() > 20,
        "{} / {}",
        got[0].len(),
        got[1].len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_packets_are_repaired_by_nack_and_rtx() {
    let server = Server::start();
    let (_, [(a, _a), (b, _b)]) = server.join([Role::Publisher, Role::Subscriber]).await;
    let mut publisher = publish_video(&a).await;
    // One in ten RTP packets is dropped before the subscriber's WebRTC stack sees it.
    let options = SubscribeOptions {
        drop_rate: 0.1,
        ..Default::default()
    };
    let mut sub = b.subscribe(publisher.stream_id(), options).await.unwrap();
    wait_subscribed(&mut sub).await;
    // 100 frames are sent; the first 90 are checked. Losses among the last few packets
    // are only noticed (and repaired) when later packets reveal the gap.
    let sender = tokio::spawn(async move { send_media(&mut publisher, 100, false, true).await });
    let mut got = Vec::new();
    while let Ok(f) = sub.next_frame(Duration::from_millis(1500)).await {
        got.push(f.data.to_vec());
    }
    let sent = sender.await.unwrap();
    let frames = video_frames();
    let start = sent.iter().position(|&i| frames[i] == got[0]).unwrap();
    let checked = 90 - start;
    eprintln!("with 10% loss: {} frames, {checked} checked", got.len());
    // Every frame, in order, with no hole: a lost packet that was not retransmitted would
    // drop its frame.
    assert!(got.len() >= checked, "{} of {checked}", got.len());
    for (f, &i) in got.iter().zip(&sent[start..90]) {
        assert!(f == &frames[i], "frame differs or is missing");
    }
    // The loss was real: packets were thrown away, and the frames above are whole anyway.
    let dropped = sub
        .stats()
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        dropped > 0,
        "no packet was dropped: the test exercised no repair"
    );
    let stats = server.stats().await;
    let router = &stats["router"];
    assert!(router["rtpForwarded"].as_u64().unwrap() > 80, "{stats}");
    // The subscriber negotiated AES-GCM SRTP: the router sent its media itself and
    // answered the NACKs from the publisher's history.
    assert!(
        router["rtpForwardedDirect"].as_u64().unwrap() > 60,
        "direct path unused: {stats}"
    );
    assert!(
        router["retransmissions"].as_u64().unwrap() > 0,
        "no retransmission: {stats}"
    );
    // The subscriber's transport-wide congestion control feedback on what it was sent was
    // read (its downlink estimate).
    assert!(
        router["transportFeedback"].as_u64().unwrap() > 10,
        "no feedback read: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_client_is_removed_as_network_disconnected() {
    use futures_util::{SinkExt, StreamExt};
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let (_a, mut a_events) = server.connect(&sid, &tokens[0]).await;
    // A raw client that joins, then stops reading (so never answers a ping) without closing.
    let url = server.url.replace("http://", "ws://") + "/v1/rtc";
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let hello = serde_json::json!({"type": "connect", "sessionId": sid, "token": tokens[1]});
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        hello.to_string(),
    ))
    .await
    .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(
        first.to_text().unwrap().contains("\"connected\""),
        "{first:?}"
    );
    let joined = expect_event(&mut a_events, 5, "connectionCreated", |e| {
        kind(e) == "connectionCreated"
    })
    .await;
    let ServerMessage::ConnectionCreated { connection } = joined else {
        unreachable!()
    };
    let started = std::time::Instant::now();
    let ev = expect_event(&mut a_events, 15, "connectionDestroyed", |e| {
        kind(e) == "connectionDestroyed"
    })
    .await;
    let ServerMessage::ConnectionDestroyed {
        connection: gone,
        reason,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(gone.connection_id, connection.connection_id);
    assert_eq!(
        reason,
        parlor_proto::signaling::ConnectionReason::NetworkDisconnected
    );
    let after = started.elapsed();
    assert!(after < Duration::from_secs(12), "removed after {after:?}");
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_websocket_and_the_media_port_leaves_sessions_untouched() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber, Role::Publisher])
        .await;
    let (a, _a) = server.connect(&sid, &tokens[0]).await;
    let (b, _b) = server.connect(&sid, &tokens[1]).await;
    let mut publisher = publish_video(&a).await;
    let mut sub = b
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    let sender = tokio::spawn(async move { send_media(&mut publisher, 120, false, true).await });

    // WebSocket garbage: before connect, then after.
    let url = server.url.replace("http://", "ws://") + "/v1/rtc";
    for junk in [
        "not json",
        "{\"type\":\"publish\",\"sdp\":\"x\"}",
        "[1,2,3]",
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        ws.send(Message::text(junk)).await.unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert!(reply.to_text().unwrap().contains("\"error\""), "{reply:?}");
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let hello = serde_json::json!({"type": "connect", "sessionId": sid, "token": tokens[2]});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    let _connected = ws.next().await.unwrap().unwrap();
    for junk in [
        Message::text("{{{{"),
        Message::binary(vec![0u8; 100]),
        Message::text(r#"{"type":"subscribe","streamId":"x","sdp":"v=0 garbage"}"#),
        Message::text(r#"{"type":"publish","sdp":"v=0\r\nnonsense"}"#),
        Message::text(format!(
            r#"{{"type":"signal","data":"{}"}}"#,
            "x".repeat(70_000)
        )),
    ] {
        let _ = ws.send(junk).await;
    }
    // UDP garbage at the media port: random bytes, fake STUN, fake DTLS, fake RTP.
    let media: std::net::SocketAddr = server.media_addr();
    let junk_socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42];
    stun.extend_from_slice(&[9; 12]);
    stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x04, b'a', b'b', b':', b'c']);
    for i in 0..3000u32 {
        let mut datagram: Vec<u8> = (0..(i % 1200 + 1)).map(|j| (j * 31 + i) as u8).collect();
        match i % 4 {
            0 => datagram[0] = 0x80,      // RTP-looking
            1 => datagram[0] = 22,        // DTLS-looking
            2 => datagram = stun.clone(), // STUN with an unknown ufrag
            _ => {}
        }
        let _ = junk_socket.send_to(&datagram, media).await;
    }

    let mut got = 0;
    while sub.next_frame(Duration::from_millis(1500)).await.is_ok() {
        got += 1;
    }
    let sent = sender.await.unwrap();
    assert!(
        got >= sent.len() - 35,
        "the session kept flowing: {got} of {}",
        sent.len()
    );
    let stats = server.stats().await;
    assert!(
        stats["router"]["datagramsDropped"].as_u64().unwrap() >= 2000,
        "{stats}"
    );
    assert_eq!(stats["router"]["transportsFailed"], 0, "{stats}");
    // The server still accepts new clients.
    let (c, _) = server.connect(&sid, &tokens[1]).await;
    c.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_are_answered_precisely() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::start();
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let (_b, mut b_events) = server.connect(&sid, &tokens[1]).await;
    let url = server.url.replace("http://", "ws://") + "/v1/rtc";
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    // A ping before connect is fine; connect still works.
    ws.send(Message::Ping(vec![1].into())).await.unwrap();
    let hello = serde_json::json!({"type": "connect", "sessionId": sid, "token": tokens[0]});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;
    async fn next(ws: &mut Ws) -> serde_json::Value {
        loop {
            if let Message::Text(t) = ws.next().await.unwrap().unwrap() {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }
    assert_eq!(next(&mut ws).await["type"], "connected");
    let cases = [
        (
            r#"{"type":"subscribe","id":"r1","streamId":"x"}"#.to_owned(),
            "r1",
            "badRequest",
        ),
        (
            r#"{"type":"nope","id":"r2"}"#.to_owned(),
            "r2",
            "badRequest",
        ),
        (
            format!(
                r#"{{"type":"signal","id":"r3","data":"{}"}}"#,
                "x".repeat(70_000)
            ),
            "r3",
            "limitExceeded",
        ),
        (
            r#"{"type":"publish","id":"r4","sdp":"v=0\r\nnot sdp"}"#.to_owned(),
            "r4",
            "mediaError",
        ),
        (
            r#"{"type":"connect","sessionId":"s","token":"t"}"#.to_owned(),
            "",
            "badRequest",
        ),
    ];
    for (request, ..) in &cases {
        ws.send(Message::text(request.clone())).await.unwrap();
    }
    for (_, id, code) in &cases {
        let reply = next(&mut ws).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], *code, "{reply}");
        if !id.is_empty() {
            assert_eq!(
                reply["id"], *id,
                "replies keep their order and ids: {reply}"
            );
        }
    }
    // The failed publish told nobody anything.
    expect_none(&mut b_events, 300, |e| {
        matches!(
            e,
            ServerMessage::StreamDestroyed { .. } | ServerMessage::StreamCreated { .. }
        )
    })
    .await;
    ws.send(Message::text(r#"{"type":"ping","id":"p"}"#))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["type"], "pong");
}

/// Join and first-frame latency of the native client, p50/p95 over 25 runs. A measurement,
/// not a check: `cargo test --release -p parlor-server --test realtime -- --ignored
/// --nocapture latency`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn latency() {
    let server = Server::start();
    let roles = vec![Role::Publisher; 26];
    let (sid, tokens) = server.session_with_tokens(&roles).await;
    let (a, _a) = server.connect(&sid, &tokens[0]).await;
    let mut publisher = publish_video(&a).await;
    let stream_id = publisher.stream_id().to_owned();
    let sender =
        tokio::spawn(async move { send_media(&mut publisher, 30 * 40, false, true).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut join, mut first) = (Vec::new(), Vec::new());
    for token in &tokens[1..] {
        let t0 = std::time::Instant::now();
        let (s, _events) = server.connect(&sid, token).await;
        join.push(t0.elapsed());
        let t1 = std::time::Instant::now();
        let mut sub = s
            .subscribe(&stream_id, SubscribeOptions::default())
            .await
            .unwrap();
        sub.next_frame(Duration::from_secs(5)).await.unwrap();
        first.push(t1.elapsed());
        sub.unsubscribe().await.unwrap();
        s.disconnect().await;
        // Let the publisher's file reach a point where no keyframe is near.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    sender.abort();
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    };
    println!(
        "join (connect → sessionConnected): p50 {:?} p95 {:?}; subscribe → first frame: p50 {:?} p95 {:?} (n = {})",
        pct(&mut join, 0.5),
        pct(&mut join, 0.95),
        pct(&mut first, 0.5),
        pct(&mut first, 0.95),
        first.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_toggle_audio_and_video_and_force_mute_all_stops_audio() {
    let server = Server::start();
    let (_, [(a, _a), (b, mut b_events), (m, _m)]) = server
        .join([Role::Publisher, Role::Publisher, Role::Moderator])
        .await;
    let mut publisher = publish_connected(&a, PublishOptions::default()).await;
    let stream_id = publisher.stream_id().to_owned();
    let other = publish_connected(&b, PublishOptions::default()).await;
    let other_id = other.stream_id().to_owned();
    let mut sub = m
        .subscribe(
            &stream_id,
            SubscribeOptions {
                video: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    let sender = tokio::spawn(async move { send_media(&mut publisher, 150, true, true).await });

    // Collects the kinds of frames arriving in a window.
    async fn window(sub: &mut parlor_client::Subscriber, ms: u64) -> (usize, usize) {
        let end = tokio::time::Instant::now() + Duration::from_millis(ms);
        let (mut audio, mut video) = (0, 0);
        while let Ok(Ok(f)) =
            tokio::time::timeout_at(end, sub.next_frame(Duration::from_secs(5))).await
        {
            match f.kind {
                MediaKind::Audio => audio += 1,
                MediaKind::Video => video += 1,
            }
        }
        (audio, video)
    }
    // Frames already received before a change took effect are not counted.
    async fn flush(sub: &mut parlor_client::Subscriber) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(Ok(_)) = tokio::time::timeout(
            Duration::from_millis(5),
            sub.next_frame(Duration::from_secs(1)),
        )
        .await
        {}
    }
    let (audio, video) = window(&mut sub, 800).await;
    assert!(audio > 20 && video == 0, "audio only: {audio} / {video}");
    sub.set_media(Some(false), Some(true)).await.unwrap();
    flush(&mut sub).await;
    let (audio, video) = window(&mut sub, 800).await;
    assert!(audio == 0 && video > 10, "video only: {audio} / {video}");
    sub.set_media(Some(true), None).await.unwrap();
    flush(&mut sub).await;
    let (audio, video) = window(&mut sub, 600).await;
    assert!(audio > 10 && video > 10, "both: {audio} / {video}");

    // forceMuteAll excluding the other stream: only this one is muted, and its audio stops.
    m.force_mute_all(std::slice::from_ref(&other_id))
        .await
        .unwrap();
    let ev = expect_event(&mut b_events, 5, "hasAudio false", |e| {
        kind(e) == "streamPropertyChanged"
    })
    .await;
    let ServerMessage::StreamPropertyChanged {
        stream,
        changed_property,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(
        (stream.stream_id.as_str(), changed_property.as_str()),
        (stream_id.as_str(), "hasAudio")
    );
    expect_none(&mut b_events, 300, |e| {
        matches!(e, ServerMessage::MuteForced { .. })
    })
    .await;
    flush(&mut sub).await;
    let (audio, video) = window(&mut sub, 600).await;
    assert!(audio == 0 && video > 10, "muted: {audio} / {video}");
    sender.abort();
}
