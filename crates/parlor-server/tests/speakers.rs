//! Active speakers against a real `parlor serve`, with native clients (real WebRTC) that
//! send Opus with the RFC 6464 audio level extension, as browsers do: the router reads the
//! levels, the server announces `speakers` to every connection when who speaks changes, a
//! joiner is told at once, and `--speaker-interval off` turns it all off.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use common::{Events, Server, expect_event, fixtures, ogg_packets, publish_connected};
use parlor_client::{PublishOptions, ServerMessage};
use parlor_sdk::Role;

/// What a publisher's audio packets say of their level: voiced speech, or a quiet room
/// (below the detector's voiced threshold).
const TALKING: u8 = 20;
const QUIET: u8 = 90;

/// Publishes audio only and sends the fixture's Opus every 20 ms with the level in
/// `level` until the publisher goes away.
async fn audio_publisher(session: &parlor_client::Session, level: Arc<AtomicU8>) -> String {
    let mut publisher = publish_connected(
        session,
        PublishOptions {
            has_video: false,
            ..PublishOptions::default()
        },
    )
    .await;
    let stream_id = publisher.stream_id().to_owned();
    let packets = ogg_packets(&fixtures().audio_ogg);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for n in 0u32.. {
            tick.tick().await;
            let packet = &packets[n as usize % packets.len()];
            let level = Some(level.load(Ordering::Relaxed));
            if publisher
                .send_audio_with_level(packet, n.wrapping_mul(960), level)
                .is_err()
            {
                return;
            }
        }
    });
    stream_id
}

fn speakers(speaking: &[&str], dominant: Option<&str>) -> impl Fn(&ServerMessage) -> bool {
    let speaking: Vec<String> = speaking.iter().map(|s| (*s).to_owned()).collect();
    let dominant = dominant.map(str::to_owned);
    move |e| {
        matches!(e, ServerMessage::Speakers { speaking: s, dominant: d }
            if *s == speaking && *d == dominant)
    }
}

async fn no_speakers_for(events: &mut Events, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(e)) = tokio::time::timeout_at(deadline, events.recv()).await {
        assert!(
            !matches!(e, ServerMessage::Speakers { .. }),
            "unexpected {e:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_announces_who_speaks() {
    let server = Server::start();
    let (sid, [(ann, _), (bob, _), (_carl, mut carl_events)]) = server
        .join([Role::Publisher, Role::Publisher, Role::Subscriber])
        .await;
    let ann_level = Arc::new(AtomicU8::new(QUIET));
    let bob_level = Arc::new(AtomicU8::new(QUIET));
    let a = audio_publisher(&ann, ann_level.clone()).await;
    let b = audio_publisher(&bob, bob_level.clone()).await;

    // A quiet room: nobody is announced.
    no_speakers_for(&mut carl_events, Duration::from_secs(2)).await;

    // Ann talks: speaking and dominant.
    ann_level.store(TALKING, Ordering::Relaxed);
    expect_event(
        &mut carl_events,
        5,
        "Ann speaking",
        speakers(&[&a], Some(&a)),
    )
    .await;

    // A joiner is told at once.
    let token = server
        .sdk()
        .generate_token(&sid, Default::default())
        .expect("token");
    let (_dan, mut dan_events) = server.connect(&sid, &token).await;
    expect_event(
        &mut dan_events,
        5,
        "Ann speaking, to a joiner",
        speakers(&[&a], Some(&a)),
    )
    .await;

    // Ann stops: nobody speaks, she stays the last (dominant) speaker.
    ann_level.store(QUIET, Ordering::Relaxed);
    expect_event(&mut carl_events, 5, "Ann stopped", speakers(&[], Some(&a))).await;

    // Bob talks: he takes over at once.
    bob_level.store(TALKING, Ordering::Relaxed);
    expect_event(
        &mut carl_events,
        5,
        "Bob speaking",
        speakers(&[&b], Some(&b)),
    )
    .await;

    // Bob leaves while talking: he is gone from the announcement.
    bob.disconnect().await;
    expect_event(&mut carl_events, 5, "Bob gone", speakers(&[], None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaker_detection_can_be_turned_off() {
    let server = Server::start_configured(&["--speaker-interval", "off"]);
    let (_, [(ann, _), (_carl, mut carl_events)]) =
        server.join([Role::Publisher, Role::Subscriber]).await;
    let _a = audio_publisher(&ann, Arc::new(AtomicU8::new(TALKING))).await;
    no_speakers_for(&mut carl_events, Duration::from_secs(3)).await;
}
