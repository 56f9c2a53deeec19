//! Recording taps on a running router: real UDP, real str0m peers (the client crate's), the
//! ffmpeg-made VP8 and Opus fixtures.
//!
//! The publisher here behaves like an encoder: it sends delta frames, and a keyframe only
//! when the router asks for one (PLI). So a tap that sees video at all saw the keyframe its
//! attaching asked for.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parlor_client::peer::{Direction, PeerOffer};
use parlor_client::{MediaKind, Peer, PeerEvent, PeerSender, ReceiveStats};
use parlor_router::{
    ConsumerMedia, RouterConfig, RouterError, RouterHandle, RouterStats, TapCodec, TapEvent,
    TapPacket, TransportId,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn start_router() -> RouterHandle {
    let (router, mut events) = RouterHandle::start(RouterConfig {
        bind: SocketAddr::new(LOCALHOST, 0),
        advertise_ip: None,
        quality_interval: None,
        tcp_port: None,
        audio_level_interval: None,
        disconnect_grace: parlor_router::DEFAULT_DISCONNECT_GRACE,
    })
    .expect("router starts");
    // Nothing here needs the events, but the channel must be read.
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    router
}

fn now_unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The fixture media: VP8 frames split into keyframes and delta frames, Opus packets.
struct Media {
    keyframes: Vec<Vec<u8>>,
    deltas: Vec<Vec<u8>>,
    opus: Vec<Vec<u8>>,
}

fn media() -> Media {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    let fx = parlor_media::fixtures::ensure(&dir).expect("ffmpeg fixtures");
    let file = std::fs::File::open(&fx.video_ivf).unwrap();
    let mut ivf = parlor_media::ivf::IvfReader::new(std::io::BufReader::new(file)).unwrap();
    let (mut keyframes, mut deltas) = (Vec::new(), Vec::new());
    while let Some(f) = ivf.next_frame().unwrap() {
        if parlor_media::vp8::is_keyframe(&f.data) {
            keyframes.push(f.data);
        } else {
            deltas.push(f.data);
        }
    }
    let file = std::fs::File::open(&fx.audio_ogg).unwrap();
    let mut ogg =
        parlor_media::ogg_opus::OggOpusReader::new(std::io::BufReader::new(file)).unwrap();
    let mut opus = Vec::new();
    while let Some(p) = ogg.next_packet().unwrap() {
        opus.push(p.data);
    }
    assert!(!keyframes.is_empty() && deltas.len() > 100 && opus.len() > 100);
    Media {
        keyframes,
        deltas,
        opus,
    }
}

/// What a running publisher did, and a switch to pause it.
#[derive(Default)]
struct Published {
    paused: AtomicBool,
    keyframe_requests: AtomicU64,
    keyframes_sent: AtomicU64,
}

/// Publishes audio and video to a new producer `id` until the task is aborted: Opus every
/// 20 ms, VP8 at 30 fps — delta frames, and a keyframe each time one is asked for.
async fn publish(
    router: &RouterHandle,
    id: &TransportId,
) -> (Arc<Published>, tokio::task::JoinHandle<()>) {
    let offer = PeerOffer::new(
        LOCALHOST,
        true,
        &[MediaKind::Audio, MediaKind::Video],
        Direction::SendOnly,
    )
    .await
    .unwrap();
    let answer = router
        .create_producer(id.clone(), offer.offer.clone())
        .await
        .unwrap();
    let mut peer = offer.start(&answer, 0.0, None).unwrap();
    peer.wait_connected(Duration::from_secs(10)).await.unwrap();
    let sender = PeerSender::new(&peer, None);
    let state = Arc::new(Published::default());
    let task = tokio::spawn(run_publisher(peer, sender, media(), state.clone()));
    (state, task)
}

async fn run_publisher(mut peer: Peer, mut sender: PeerSender, media: Media, s: Arc<Published>) {
    let mut audio = tokio::time::interval(Duration::from_millis(20));
    let mut video = tokio::time::interval(Duration::from_micros(33_333));
    let (mut audio_time, mut video_time) = (0u32, 0u32);
    let (mut a, mut d, mut k) = (0usize, 0usize, 0usize);
    let mut keyframe_wanted = false;
    loop {
        tokio::select! {
            event = peer.next_event() => match event {
                Some(PeerEvent::KeyframeRequest) => {
                    s.keyframe_requests.fetch_add(1, Ordering::Relaxed);
                    keyframe_wanted = true;
                }
                Some(PeerEvent::Closed(_)) | None => return,
                Some(_) => {}
            },
            _ = audio.tick() => {
                audio_time = audio_time.wrapping_add(960);
                if !s.paused.load(Ordering::Relaxed) {
                    sender.send_audio(&media.opus[a % media.opus.len()], audio_time).unwrap();
                    a += 1;
                }
            }
            _ = video.tick() => {
                video_time = video_time.wrapping_add(3000);
                if s.paused.load(Ordering::Relaxed) {
                    continue;
                }
                let frame = if std::mem::take(&mut keyframe_wanted) {
                    s.keyframes_sent.fetch_add(1, Ordering::Relaxed);
                    k += 1;
                    &media.keyframes[k % media.keyframes.len()]
                } else {
                    d += 1;
                    &media.deltas[d % media.deltas.len()]
                };
                sender.send_video(frame, video_time).unwrap();
            }
        }
    }
}

/// Connects a receiving client (RTP mode: it counts packets) to `producer`.
async fn subscribe(
    router: &RouterHandle,
    id: &TransportId,
    producer: &TransportId,
) -> (Peer, Arc<ReceiveStats>) {
    let offer = PeerOffer::new(
        LOCALHOST,
        true,
        &[MediaKind::Audio, MediaKind::Video],
        Direction::RecvOnly,
    )
    .await
    .unwrap();
    let media = ConsumerMedia {
        audio: true,
        video: true,
    };
    let answer = router
        .create_consumer(id.clone(), producer.clone(), offer.offer.clone(), media)
        .await
        .unwrap();
    let mut peer = offer.start(&answer, 0.0, None).unwrap();
    peer.wait_connected(Duration::from_secs(10)).await.unwrap();
    let stats = peer.stats();
    (peer, stats)
}

async fn stats(router: &RouterHandle) -> RouterStats {
    router.stats().await.unwrap()
}

/// Pauses the publisher and waits until no packet is in flight at either end; returns the
/// router's stats and what the consumer received.
async fn quiet(
    published: &Published,
    router: &RouterHandle,
    received: &ReceiveStats,
) -> (RouterStats, u64) {
    published.paused.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(400)).await;
    (stats(router).await, received.packets())
}

/// Everything a tap reader saw.
#[derive(Debug, Default)]
struct Seen {
    packets: Vec<TapPacket>,
    /// Sender reports with the local wallclock when each was read.
    reports: Vec<(TapEvent, u64)>,
    closed: usize,
    /// Whether the reader saw anything after `Closed`.
    after_closed: bool,
}

impl Seen {
    fn record(&mut self, event: TapEvent) {
        if self.closed > 0 {
            self.after_closed = true;
        }
        match event {
            TapEvent::Rtp(p) => self.packets.push(p),
            report @ TapEvent::SenderReport { .. } => {
                self.reports.push((report, now_unix_micros()));
            }
            TapEvent::Closed => self.closed += 1,
        }
    }

    fn of(&self, kind: MediaKind) -> Vec<&TapPacket> {
        self.packets.iter().filter(|p| p.kind == kind).collect()
    }

    /// Checks one kind's packets and sender reports; returns the packet count.
    fn check_kind(&self, kind: MediaKind, codec: TapCodec) -> usize {
        let packets = self.of(kind);
        assert!(packets.len() > 20, "{kind:?}: {} packets", packets.len());
        assert!(packets.iter().all(|p| p.codec == codec), "{kind:?} codec");
        let ssrc = packets[0].ssrc;
        assert!(
            packets.iter().all(|p| p.ssrc == ssrc),
            "{kind:?}: one stream"
        );
        for pair in packets.windows(2) {
            let step = pair[1].seq.wrapping_sub(pair[0].seq);
            assert_eq!(step, 1, "{kind:?}: {} then {}", pair[0].seq, pair[1].seq);
            let ts_step = pair[1].timestamp.wrapping_sub(pair[0].timestamp);
            assert!(ts_step < 0x8000_0000, "{kind:?}: timestamps go forward");
            assert!(pair[1].arrival_unix_micros >= pair[0].arrival_unix_micros);
        }
        // The publisher's sender reports for this stream: taken at (about) now on the
        // publisher's clock — the same machine's — and for RTP times the packets carry.
        let reports: Vec<_> = self
            .reports
            .iter()
            .filter_map(|(r, read_at)| match *r {
                TapEvent::SenderReport {
                    kind: k,
                    ssrc: s,
                    ntp_unix_micros,
                    rtp_time,
                } if k == kind => Some((s, ntp_unix_micros, rtp_time, *read_at)),
                _ => None,
            })
            .collect();
        assert!(!reports.is_empty(), "{kind:?}: no sender report");
        for &(s, ntp, rtp_time, read_at) in &reports {
            assert_eq!(s, ssrc, "{kind:?}: the report is the stream's");
            assert!(
                ntp <= read_at + 50_000 && read_at - ntp < 2_000_000,
                "{kind:?}: report NTP {ntp}, read at {read_at}"
            );
            // The packet that arrived nearest the report's wallclock carries an RTP time
            // within a second of the report's.
            let nearest = packets
                .iter()
                .min_by_key(|p| p.arrival_unix_micros.abs_diff(ntp))
                .unwrap();
            let apart = rtp_time.wrapping_sub(nearest.timestamp) as i32;
            assert!(
                apart.unsigned_abs() < codec.clock_rate(),
                "{kind:?}: report RTP time {rtp_time}, packet {}",
                nearest.timestamp
            );
        }
        packets.len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taps_get_both_kinds_a_keyframe_sender_reports_and_closed() {
    let router = start_router();
    let producer: TransportId = "stream-1".into();
    let (published, publisher) = publish(&router, &producer).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        published.keyframes_sent.load(Ordering::Relaxed),
        0,
        "nobody asked for a keyframe yet"
    );

    // An archive read from a plain thread, a broadcast read from tokio, at once.
    let attached_at = Instant::now();
    let attached_unix = now_unix_micros();
    let mut archive = router.tap(&producer, 4096).await.unwrap();
    let mut broadcast = router.tap(&producer, 4096).await.unwrap();
    assert_eq!(archive.producer(), &producer);
    assert_eq!(stats(&router).await.taps, 2);
    let archive_reader = std::thread::spawn(move || {
        let mut seen = Seen::default();
        let mut first_video = None;
        loop {
            match archive.recv_timeout(Duration::from_secs(15)) {
                Ok(event) => {
                    if first_video.is_none()
                        && matches!(&event, TapEvent::Rtp(p) if p.kind == MediaKind::Video)
                    {
                        first_video = Some(attached_at.elapsed());
                    }
                    seen.record(event);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("the archive tap stalled: {e:?}"),
            }
        }
        (seen, first_video, archive.dropped())
    });
    let broadcast_reader = tokio::spawn(async move {
        let mut seen = Seen::default();
        while let Some(event) = broadcast.recv_async().await {
            seen.record(event);
        }
        (seen, broadcast.dropped())
    });

    // Audio sender reports come every 5 s.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let before_close = stats(&router).await;
    router.close(producer.clone());
    let (archive, first_video, archive_dropped) =
        tokio::task::spawn_blocking(move || archive_reader.join().unwrap())
            .await
            .unwrap();
    let (broadcast, broadcast_dropped) =
        tokio::time::timeout(Duration::from_secs(5), broadcast_reader)
            .await
            .expect("the broadcast tap ends")
            .unwrap();
    publisher.abort();

    // The keyframe request on attaching worked, and video started on that keyframe.
    assert!(published.keyframe_requests.load(Ordering::Relaxed) >= 1);
    assert!(published.keyframes_sent.load(Ordering::Relaxed) >= 1);
    let first_video = first_video.expect("the archive saw video");
    assert!(
        first_video < Duration::from_millis(1500),
        "first video {first_video:?} after attaching"
    );
    for seen in [&archive, &broadcast] {
        let video = seen.of(MediaKind::Video);
        assert!(
            parlor_media::vp8::payload_starts_keyframe(&video[0].payload),
            "the first video packet starts a keyframe"
        );
        let first = &seen.packets[0];
        assert!(
            first.arrival_unix_micros.abs_diff(attached_unix) < 1_000_000,
            "arrival time {} vs attaching at {attached_unix}",
            first.arrival_unix_micros
        );
        let audio = seen.check_kind(MediaKind::Audio, TapCodec::Opus);
        let video = seen.check_kind(MediaKind::Video, TapCodec::Vp8);
        // 7 s of 50 Opus packets a second and 30 frames a second.
        assert!(audio > 250 && video > 150, "{audio} audio, {video} video");
        assert_eq!(seen.closed, 1, "Closed exactly once");
        assert!(!seen.after_closed, "Closed is the last event");
    }
    assert_eq!((archive_dropped, broadcast_dropped), (0, 0));
    assert_eq!(before_close.tap_dropped, 0);
    assert!(before_close.tap_packets > 0);
    let after = stats(&router).await;
    assert_eq!(
        after.tap_packets,
        (archive.packets.len() + broadcast.packets.len()) as u64,
        "every packet queued was read"
    );
    assert_eq!(after.taps, 0, "the producer's taps went with it");
    router.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_tap_drops_and_counts_without_stalling_forwarding() {
    let router = start_router();
    let producer: TransportId = "stream-2".into();
    let (published, publisher) = publish(&router, &producer).await;
    let (_consumer, received) = subscribe(&router, &"sub-1".into(), &producer).await;

    // Only producers can be tapped.
    assert_eq!(
        router.tap(&"nobody".into(), 8).await.err(),
        Some(RouterError::UnknownProducer("nobody".into()))
    );
    assert_eq!(
        router.tap(&"sub-1".into(), 8).await.err(),
        Some(RouterError::UnknownProducer("sub-1".into()))
    );

    let tap = router.tap(&producer, 16).await.unwrap();
    // Long enough for the consumer to start on a keyframe and the tap to fill up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(received.packets() > 0, "the consumer receives");
    assert!(tap.dropped() > 0, "16 events fill up in 1.5 s");

    let (s0, c0) = quiet(&published, &router, &received).await;
    let d0 = tap.dropped();
    published.paused.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (s1, c1) = quiet(&published, &router, &received).await;
    let d1 = tap.dropped();
    let produced = s1.rtp_received - s0.rtp_received;
    assert!(produced > 100, "{produced} packets published");
    assert_eq!(
        c1 - c0,
        produced,
        "the consumer got every packet while the tap was full"
    );
    assert_eq!(received.lost(), 0);
    // Every packet was offered to the full tap and dropped (sender reports too).
    assert!(d1 - d0 >= produced, "{} dropped of {produced}", d1 - d0);
    assert_eq!(s1.tap_dropped, d1, "the router counts what the tap counts");
    assert!(
        s1.tap_packets > 0 && s1.tap_packets <= 16,
        "only the first 16 events were queued: {}",
        s1.tap_packets
    );
    assert_eq!(s1.taps, 1);

    // Dropping the tap detaches it: the stats no longer count it, nothing more is
    // offered to it, and forwarding goes on.
    drop(tap);
    assert_eq!(stats(&router).await.taps, 0);
    published.paused.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s2, c2) = quiet(&published, &router, &received).await;
    assert!(s2.rtp_received > s1.rtp_received && c2 > c1);
    assert_eq!(s2.tap_dropped, s1.tap_dropped);
    assert_eq!(s2.tap_packets, s1.tap_packets);
    publisher.abort();
    router.shutdown();
}
