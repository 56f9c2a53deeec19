//! ICE over TCP (RFC 6544) end to end: a real `parlor serve`, native clients whose media
//! reaches the router only over its TCP candidate (as behind a firewall that blocks UDP),
//! next to clients over UDP; and what a TCP client sending garbage does to the others
//! (nothing).

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, expect_event, fixtures, ivf_frames, publish_connected, wait_subscribed};
use parlor_client::{
    MediaKind, MediaTransport, PublishOptions, ServerMessage, SubscribeOptions, Subscriber,
};
use parlor_sdk::Role;

fn video_frames() -> Vec<Vec<u8>> {
    ivf_frames(&fixtures().video_ivf)
        .into_iter()
        .map(|(_, data)| data)
        .collect()
}

/// Receives until `n` frames or 3 s without one.
async fn receive(s: &mut Subscriber, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while let Ok(f) = s.next_frame(Duration::from_secs(3)).await {
        assert_eq!(f.kind, MediaKind::Video);
        got.push(f.data.to_vec());
        if got.len() == n {
            break;
        }
    }
    got
}

fn tcp_stats(stats: &serde_json::Value, field: &str) -> u64 {
    stats
        .pointer(&format!("/router/iceTcp/{field}"))
        .and_then(|v| v.as_u64())
        .unwrap_or_else(|| panic!("no router.iceTcp.{field} in {stats}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_flows_over_ice_tcp_beside_udp() {
    let server = Server::start();
    assert!(server.media_tcp_addr().is_some(), "TCP is on by default");
    let (
        _,
        [
            (publisher_session, _p),
            (tcp_viewer, _t),
            (udp_viewer, mut udp_events),
        ],
    ) = server
        .join([Role::Publisher, Role::Subscriber, Role::Subscriber])
        .await;
    publisher_session.set_media_transport(MediaTransport::Tcp);
    tcp_viewer.set_media_transport(MediaTransport::Tcp);
    let mut publisher = publish_connected(
        &publisher_session,
        PublishOptions {
            name: "over tcp".into(),
            has_audio: false,
            ..Default::default()
        },
    )
    .await;
    expect_event(&mut udp_events, 5, "streamCreated", |e| {
        matches!(e, ServerMessage::StreamCreated { .. })
    })
    .await;
    let mut over_tcp = tcp_viewer
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    let mut over_udp = udp_viewer
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut over_tcp).await;
    wait_subscribed(&mut over_udp).await;
    let stats = server.stats().await;
    assert_eq!(
        tcp_stats(&stats, "open"),
        2,
        "the publisher and one subscriber are on TCP: {stats}"
    );

    let frames = video_frames();
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for (i, frame) in frames.iter().take(90).enumerate() {
            tick.tick().await;
            publisher.send_video(frame, (i as u32) * 3000).unwrap();
        }
        (publisher, frames)
    });
    let (tcp_got, udp_got) = tokio::join!(receive(&mut over_tcp, 90), receive(&mut over_udp, 90));
    let (publisher, frames) = sender.await.unwrap();
    for (path, got) in [("TCP", &tcp_got), ("UDP", &udp_got)] {
        assert!(
            got.len() >= 60,
            "{path}: received only {} frames",
            got.len()
        );
        // Whatever was received is the publisher's frames, in order, from a keyframe on.
        let first = frames
            .iter()
            .position(|f| f == &got[0])
            .expect("a sent frame");
        assert!(parlor_media::vp8::is_keyframe(&got[0]));
        assert_eq!(got[..], frames[first..first + got.len()], "{path}");
    }
    let stats = server.stats().await;
    assert!(tcp_stats(&stats, "framesReceived") >= 90, "{stats}");
    assert!(tcp_stats(&stats, "framesSent") >= 60, "{stats}");

    // Leaving closes the connections.
    drop((over_tcp, over_udp, publisher));
    for s in [publisher_session, tcp_viewer, udp_viewer] {
        s.disconnect().await;
    }
    server.assert_released().await;
    let stats = server.stats().await;
    assert_eq!(tcp_stats(&stats, "open"), 0, "{stats}");
}

/// Writes `bytes` on a new connection to the TCP candidate, and returns it.
fn send_raw(server: &Server, bytes: &[u8]) -> TcpStream {
    let mut c = TcpStream::connect(server.media_tcp_addr().unwrap()).unwrap();
    c.write_all(bytes).unwrap();
    c
}

/// A framed STUN binding request naming `ufrag` (no valid integrity).
fn framed_binding_request(ufrag: &str) -> Vec<u8> {
    let username = format!("{ufrag}:remote");
    let mut attr = Vec::new();
    attr.extend_from_slice(&0x0006u16.to_be_bytes()); // USERNAME
    attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attr.extend_from_slice(username.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    let mut stun = Vec::new();
    stun.extend_from_slice(&0x0001u16.to_be_bytes()); // Binding request
    stun.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    stun.extend_from_slice(&0x2112A442u32.to_be_bytes());
    stun.extend_from_slice(&[7; 12]);
    stun.extend_from_slice(&attr);
    let mut framed = (stun.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&stun);
    framed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_tcp_port_disturbs_no_one_and_unclaimed_connections_are_closed() {
    let server = Server::start();
    let (_, [(publisher_session, _p), (viewer, _v)]) =
        server.join([Role::Publisher, Role::Subscriber]).await;
    viewer.set_media_transport(MediaTransport::Tcp);
    let mut publisher = publish_connected(
        &publisher_session,
        PublishOptions {
            has_audio: false,
            ..Default::default()
        },
    )
    .await;
    let mut sub = viewer
        .subscribe(publisher.stream_id(), SubscribeOptions::default())
        .await
        .unwrap();
    wait_subscribed(&mut sub).await;
    let dropped_before = server.stats().await["router"]["datagramsDropped"]
        .as_u64()
        .unwrap();

    // Garbage of every kind, each on a connection of its own: random bytes in frames, a
    // check naming no transport, one naming a ufrag that does not exist, a frame header
    // promising more than ever comes, and a connection that says nothing.
    let mut random = Vec::new();
    for i in 0..50u16 {
        let frame: Vec<u8> = (0..(i * 13 % 1400)).map(|b| (b * 31 + i) as u8).collect();
        random.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        random.extend_from_slice(&frame);
    }
    let mut raw = vec![
        send_raw(&server, &random),
        send_raw(&server, &framed_binding_request("nosuchufrag12345")),
        send_raw(&server, &[0xff, 0xff, 1, 2, 3]),
        send_raw(&server, &[]),
    ];

    // Meanwhile the real subscriber over TCP receives everything.
    let frames = video_frames();
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for (i, frame) in frames.iter().take(60).enumerate() {
            tick.tick().await;
            publisher.send_video(frame, (i as u32) * 3000).unwrap();
        }
        publisher
    });
    let got = receive(&mut sub, 60).await;
    let _publisher = sender.await.unwrap();
    assert!(got.len() >= 45, "received only {} frames", got.len());
    let stats = server.stats().await;
    assert!(
        stats["router"]["datagramsDropped"].as_u64().unwrap() >= dropped_before + 50,
        "the garbage frames were counted as dropped: {stats}"
    );

    // No transport claimed the garbage connections: the server closes them (within its
    // 10 s claim timeout and a housekeeping second).
    let started = Instant::now();
    for c in &mut raw {
        c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut buf = [0u8; 64];
        match c.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("the server should close an unclaimed connection: {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    // The subscriber's own connection stays.
    let stats = server.stats().await;
    assert_eq!(tcp_stats(&stats, "open"), 1, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_tcp_port_off_offers_udp_only() {
    let server = Server::start_configured(&["--media-tcp-port", "off"]);
    assert_eq!(server.media_tcp_addr(), None);
    let (_, [(session, _events)]) = server.join([Role::Publisher]).await;
    session.set_media_transport(MediaTransport::Tcp);
    // A client that can only use TCP finds no candidate to pair with.
    let mut p = session.publish(PublishOptions::default()).await.unwrap();
    let connected = tokio::time::timeout(Duration::from_secs(5), p.wait_connected()).await;
    assert!(
        !matches!(connected, Ok(Ok(()))),
        "connected without a TCP candidate: {connected:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_tcp_slot() {
    use parlor_router::ice_tcp::MAX_CONNECTIONS_PER_IP;
    let server = Server::start();
    let addr = server.media_tcp_addr().unwrap();
    let held: Vec<TcpStream> = (0..MAX_CONNECTIONS_PER_IP)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    // The router accepted them all; one more from the same address is closed at once.
    let mut stats = server.stats().await;
    for _ in 0..50 {
        if tcp_stats(&stats, "open") == MAX_CONNECTIONS_PER_IP as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stats = server.stats().await;
    }
    assert_eq!(
        tcp_stats(&stats, "open"),
        MAX_CONNECTIONS_PER_IP as u64,
        "{stats}"
    );
    let mut extra = TcpStream::connect(addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 4];
    let closed = extra.read(&mut buf);
    assert!(
        matches!(closed, Ok(0))
            || closed
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection past the cap is closed: {closed:?}"
    );
    let stats = server.stats().await;
    assert!(tcp_stats(&stats, "refused") >= 1, "{stats}");
    assert_eq!(tcp_stats(&stats, "open"), MAX_CONNECTIONS_PER_IP as u64);
    drop(held);
}
