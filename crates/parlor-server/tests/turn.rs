//! External TURN (`--turn-url`, `--turn-secret`): every client is handed the servers in its
//! `connected` reply, TURN credentials minted for its connection as coturn's
//! `use-auth-secret` checks them; none when no TURN is configured; bad settings stop the
//! start with a clear error. (tests/browser/turn.test.mjs runs calls through a real coturn.)

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{API_KEY, API_SECRET, Server};
use futures_util::{SinkExt as _, StreamExt as _};
use parlor_sdk::Role;
use tokio_tungstenite::tungstenite::Message;

const TURN_SECRET: &str = "c0turn-shared-7d41e9a05b3f2c68";

/// Connects with a raw WebSocket; the `connected` reply as JSON.
async fn connected(server: &Server, sid: &str, token: &str) -> serde_json::Value {
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url().as_str())
        .await
        .unwrap();
    let connect =
        serde_json::json!({"type": "connect", "version": 1, "sessionId": sid, "token": token});
    ws.send(Message::text(connect.to_string())).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["type"], "connected", "{v}");
                return v;
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no connected reply: {other:?}"),
        }
    }
}

/// `base64(HMAC-SHA1(secret, username))`, computed here on its own.
fn hmac_sha1_b64(secret: &str, username: &str) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, username.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_carries_turn_servers_with_credentials_for_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let server = Server::start_logging(
        &[
            "--api-key",
            API_KEY,
            "--api-secret",
            API_SECRET,
            "--log",
            "trace",
            "--turn-url",
            "turn:192.0.2.7:3478?transport=udp,turn:192.0.2.7:3478?transport=tcp",
            "--turn-url",
            "stun:192.0.2.7:3478",
            "--turn-secret",
            TURN_SECRET,
            "--turn-credential-ttl",
            "2h",
        ],
        std::fs::File::create(&log_path).unwrap(),
    );
    let (sid, tokens) = server
        .session_with_tokens(&[Role::Publisher, Role::Subscriber])
        .await;
    let mut credentials = Vec::new();
    for token in &tokens {
        let before = parlor_proto::unix_now();
        let msg = connected(&server, &sid, token).await;
        let connection_id = msg["connection"]["connectionId"].as_str().unwrap();
        let servers = msg["iceServers"].as_array().expect("iceServers");
        assert_eq!(servers.len(), 2, "{servers:?}");
        let turn = &servers[0];
        assert_eq!(
            turn["urls"],
            serde_json::json!([
                "turn:192.0.2.7:3478?transport=udp",
                "turn:192.0.2.7:3478?transport=tcp"
            ])
        );
        let username = turn["username"].as_str().unwrap();
        let (expiry, user) = username.split_once(':').unwrap();
        assert_eq!(user, connection_id, "the username names the connection");
        let expiry: i64 = expiry.parse().unwrap();
        assert!(
            (before + 7200..=parlor_proto::unix_now() + 7200).contains(&expiry),
            "expires in 2 h: {expiry} (now {before})"
        );
        let credential = turn["credential"].as_str().unwrap();
        assert_eq!(credential, hmac_sha1_b64(TURN_SECRET, username));
        assert_ne!(
            credential,
            hmac_sha1_b64("another-secret-0123456789", username)
        );
        // STUN: an entry of its own, without credentials.
        assert_eq!(
            servers[1],
            serde_json::json!({"urls": ["stun:192.0.2.7:3478"]})
        );
        credentials.push(credential.to_owned());
    }
    assert_ne!(credentials[0], credentials[1], "each connection its own");

    // Neither the secret nor a minted password reaches the log, even at trace.
    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("turn:192.0.2.7:3478"),
        "the URLs are logged at start"
    );
    for secret in std::iter::once(TURN_SECRET.to_owned()).chain(credentials) {
        assert!(!log.contains(&secret), "a secret in the log: {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_turn_the_handshake_has_no_ice_servers() {
    let server = Server::start();
    let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
    let msg = connected(&server, &sid, &tokens[0]).await;
    assert!(msg.get("iceServers").is_none(), "{msg}");
    // The native client still parses the reply.
    let (_session, _events) = server.connect(&sid, &tokens[0]).await;

    // A STUN URL alone needs no secret, and has no credentials.
    let stun = Server::start_configured(&["--turn-url", "stun:192.0.2.7"]);
    let (sid, tokens) = stun.session_with_tokens(&[Role::Publisher]).await;
    let msg = connected(&stun, &sid, &tokens[0]).await;
    assert_eq!(
        msg["iceServers"],
        serde_json::json!([{"urls": ["stun:192.0.2.7"]}])
    );
}

#[test]
fn bad_turn_settings_stop_the_start_with_the_reason() {
    let data = tempfile::tempdir().unwrap();
    for (args, env, why) in [
        (
            &["--turn-url", "turn:192.0.2.7:3478"][..],
            None,
            "needs --turn-secret",
        ),
        (
            &["--turn-secret", TURN_SECRET][..],
            None,
            "no --turn-url is a turn: or turns: URL",
        ),
        (
            &[
                "--turn-url",
                "http://192.0.2.7",
                "--turn-secret",
                TURN_SECRET,
            ][..],
            None,
            "invalid --turn-url 'http://192.0.2.7': it must start with turn:, turns: or stun:",
        ),
        (
            &[
                "--turn-url",
                "turn:192.0.2.7:99999",
                "--turn-secret",
                TURN_SECRET,
            ][..],
            None,
            "the port must be 1 to 65535",
        ),
        (
            &[
                "--turn-url",
                "turn:192.0.2.7?transport=sctp",
                "--turn-secret",
                TURN_SECRET,
            ][..],
            None,
            "?transport=udp or ?transport=tcp",
        ),
        (
            &["--turn-url", "turn:192.0.2.7", "--turn-secret", "short"][..],
            None,
            "invalid --turn-secret",
        ),
        (
            &[
                "--turn-url",
                "turn:192.0.2.7",
                "--turn-credential-ttl",
                "30s",
            ][..],
            Some(("PARLOR_TURN_SECRET", TURN_SECRET)),
            "invalid --turn-credential-ttl '30s'",
        ),
        (
            &[][..],
            Some(("PARLOR_TURN_URL", "turn:192.0.2.7,turn:bad_host")),
            "invalid --turn-url 'turn:bad_host'",
        ),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_parlor"));
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--media-port",
            "0",
            "--data-dir",
        ])
        .arg(data.path())
        .args(args)
        .env_remove("PARLOR_TURN_SECRET")
        .env_remove("PARLOR_TURN_URL");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert!(
            !stderr.contains(TURN_SECRET),
            "the secret in an error: {stderr}"
        );
    }
}

// ---- the embedded TURN server (`--turn-port`) ----------------------------------------------

mod embedded {
    use std::net::SocketAddr;

    use parlor_turn::auth;
    use parlor_turn::stun::{self, Builder, Class, Message};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpStream, UdpSocket};

    use super::*;

    const REALM: &str = "parlor";

    /// A TURN client over UDP or TCP, speaking through parlor-turn's codec.
    pub struct Client {
        udp: Option<UdpSocket>,
        tcp: Option<TcpStream>,
        server: SocketAddr,
        username: String,
        password: String,
        nonce: String,
        tid: u8,
    }

    /// The reply: its error code (None: success) and bytes.
    pub struct Reply {
        pub code: Option<u16>,
        pub bytes: Vec<u8>,
    }

    impl Reply {
        pub fn msg(&self) -> Message<'_> {
            Message::parse(&self.bytes).unwrap()
        }
    }

    impl Client {
        pub async fn udp(server: SocketAddr, username: &str, password: &str) -> Client {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            Self::new(Some(socket), None, server, username, password)
        }

        pub async fn tcp(server: SocketAddr, username: &str, password: &str) -> Client {
            let stream = TcpStream::connect(server).await.unwrap();
            Self::new(None, Some(stream), server, username, password)
        }

        fn new(
            udp: Option<UdpSocket>,
            tcp: Option<TcpStream>,
            server: SocketAddr,
            username: &str,
            password: &str,
        ) -> Client {
            Client {
                udp,
                tcp,
                server,
                username: username.into(),
                password: password.into(),
                nonce: String::new(),
                tid: 0,
            }
        }

        pub async fn send_raw(&mut self, bytes: &[u8]) {
            match (&self.udp, &mut self.tcp) {
                (Some(u), _) => {
                    u.send_to(bytes, self.server).await.unwrap();
                }
                (_, Some(t)) => t.write_all(bytes).await.unwrap(),
                _ => unreachable!(),
            }
        }

        async fn recv(&mut self) -> Vec<u8> {
            let mut buf = vec![0u8; 2048];
            let read = async {
                match (&self.udp, &mut self.tcp) {
                    (Some(u), _) => {
                        let n = u.recv(&mut buf).await.unwrap();
                        buf.truncate(n);
                        buf
                    }
                    (_, Some(t)) => {
                        let mut header = [0u8; 20];
                        t.read_exact(&mut header[..4]).await.unwrap();
                        let len = stun::frame_len(&header[..4]).unwrap().unwrap();
                        let mut all = header[..4].to_vec();
                        all.resize(len, 0);
                        t.read_exact(&mut all[4..]).await.unwrap();
                        all
                    }
                    _ => unreachable!(),
                }
            };
            tokio::time::timeout(Duration::from_secs(5), read)
                .await
                .expect("a TURN reply")
        }

        /// Sends a request (with credentials once a nonce is known) and returns the reply,
        /// answering one 401/438 challenge first.
        pub async fn request(&mut self, method: u16, f: impl Fn(Builder) -> Builder) -> Reply {
            for _ in 0..2 {
                self.tid += 1;
                let tid = [self.tid; 12];
                let mut b = f(Builder::new(method, Class::Request, tid));
                if !self.nonce.is_empty() {
                    let key = auth::long_term_key(&self.username, REALM, &self.password);
                    b = b
                        .attr(stun::USERNAME, self.username.as_bytes())
                        .attr(stun::REALM, REALM.as_bytes())
                        .attr(stun::NONCE, self.nonce.as_bytes())
                        .integrity(&key);
                }
                let had_nonce = !self.nonce.is_empty();
                self.send_raw(&b.fingerprint()).await;
                let bytes = self.recv().await;
                let m = Message::parse(&bytes).unwrap();
                assert_eq!(m.transaction_id(), tid);
                let code = m
                    .get(stun::ERROR_CODE)
                    .map(|v| u16::from(v[2]) * 100 + u16::from(v[3]));
                if matches!(code, Some(401 | 438)) && !had_nonce {
                    self.nonce = m.nonce().unwrap().to_owned();
                    continue;
                }
                return Reply { code, bytes };
            }
            unreachable!()
        }

        pub async fn allocate(&mut self) -> Reply {
            self.request(stun::ALLOCATE, |b| {
                b.attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
            })
            .await
        }
    }

    /// The embedded server's UDP and TCP addresses and the credentials minted for a fresh
    /// connection, from its `connected.iceServers`.
    pub async fn minted(server: &Server) -> (SocketAddr, SocketAddr, String, String) {
        let (sid, tokens) = server.session_with_tokens(&[Role::Publisher]).await;
        let msg = connected(server, &sid, &tokens[0]).await;
        let entry = &msg["iceServers"][0];
        let urls: Vec<&str> = entry["urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap())
            .collect();
        let addr = |transport: &str| -> SocketAddr {
            let url = urls
                .iter()
                .find(|u| u.ends_with(&format!("transport={transport}")))
                .unwrap_or_else(|| panic!("no {transport} URL in {urls:?}"));
            url.trim_start_matches("turn:")
                .split('?')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        (
            addr("udp"),
            addr("tcp"),
            entry["username"].as_str().unwrap().to_owned(),
            entry["credential"].as_str().unwrap().to_owned(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn relays_to_the_media_router_only_with_valid_credentials_within_quota() {
        let server = Server::start_configured(&["--turn-port", "0", "--turn-secret", TURN_SECRET]);
        let (udp, tcp, username, password) = minted(&server).await;
        assert_eq!(password, hmac_sha1_b64(TURN_SECRET, &username));

        // Allocate, over UDP and over TCP: the relayed address is on the server's IP.
        let mut c = Client::udp(udp, &username, &password).await;
        let reply = c.allocate().await;
        assert_eq!(reply.code, None);
        let relay = reply.msg().xor_address(stun::XOR_RELAYED_ADDRESS).unwrap();
        assert_eq!(relay.ip(), server.media_addr().ip());
        let mut over_tcp = Client::tcp(tcp, &username, &password).await;
        assert_eq!(over_tcp.allocate().await.code, None);

        // The media router is a permitted peer; anything else is 403.
        let router = server.media_addr();
        let perm = |peer: SocketAddr| move |b: Builder| b.xor_address(stun::XOR_PEER_ADDRESS, peer);
        assert_eq!(
            c.request(stun::CREATE_PERMISSION, perm(router)).await.code,
            None
        );
        for stranger in ["8.8.8.8:53", "192.0.2.1:7601"] {
            let peer: SocketAddr = stranger.parse().unwrap();
            assert_eq!(
                c.request(stun::CREATE_PERMISSION, perm(peer)).await.code,
                Some(403),
                "{stranger}"
            );
        }
        // The router's host, another port: a channel there is refused too.
        let ssh = SocketAddr::new(router.ip(), 22);
        let bind = |peer: SocketAddr, ch: u8| {
            move |b: Builder| {
                b.attr(stun::CHANNEL_NUMBER, &[0x40, ch, 0, 0])
                    .xor_address(stun::XOR_PEER_ADDRESS, peer)
            }
        };
        assert_eq!(
            c.request(stun::CHANNEL_BIND, bind(ssh, 1)).await.code,
            Some(403)
        );
        assert_eq!(
            c.request(stun::CHANNEL_BIND, bind(router, 2)).await.code,
            None
        );

        // Data relayed on the channel reaches the router (which drops it, counted: it names
        // no transport).
        let dropped = || async {
            server.stats().await["router"]["datagramsDropped"]
                .as_u64()
                .unwrap()
        };
        let before = dropped().await;
        let mut cd = Vec::new();
        stun::write_channel_data(&mut cd, 0x4002, b"not a transport's datagram");
        for _ in 0..5 {
            c.send_raw(&cd).await;
        }
        let mut arrived = false;
        for _ in 0..50 {
            if dropped().await >= before + 5 {
                arrived = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(arrived, "the router saw the relayed datagrams");

        // Forged and expired credentials are refused.
        let now = parlor_proto::unix_now();
        let forged_user = format!("{}:someone", now + 600);
        let mut forged = Client::udp(
            udp,
            &forged_user,
            &hmac_sha1_b64("not-the-secret-0123456789", &forged_user),
        )
        .await;
        assert_eq!(forged.allocate().await.code, Some(401));
        let expired_user = format!("{}:someone", now - 10);
        let mut expired = Client::udp(
            udp,
            &expired_user,
            &hmac_sha1_b64(TURN_SECRET, &expired_user),
        )
        .await;
        assert_eq!(expired.allocate().await.code, Some(401));

        // 64 allocations per username: the two above, 62 more, then 486.
        let mut held = Vec::new();
        for _ in 0..62 {
            let mut more = Client::udp(udp, &username, &password).await;
            assert_eq!(more.allocate().await.code, None);
            held.push(more);
        }
        let mut one_too_many = Client::udp(udp, &username, &password).await;
        assert_eq!(one_too_many.allocate().await.code, Some(486));
        // Another connection's credentials have their own quota.
        let (_, _, other_user, other_password) = minted(&server).await;
        let mut other = Client::udp(udp, &other_user, &other_password).await;
        assert_eq!(other.allocate().await.code, None);

        // Garbage on the TURN ports disturbs nobody: the allocation still works.
        let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0..100u8 {
            junk.send_to(&[i; 57], udp).await.unwrap();
        }
        let mut garbage_tcp = TcpStream::connect(tcp).await.unwrap();
        garbage_tcp.write_all(&[0xff; 64]).await.unwrap();
        let mut buf = [0u8; 8];
        let closed = tokio::time::timeout(Duration::from_secs(5), garbage_tcp.read(&mut buf)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "garbage closes a TURN TCP connection: {closed:?}"
        );
        assert_eq!(
            c.request(stun::REFRESH, |b| b.u32_attr(stun::LIFETIME, 600))
                .await
                .code,
            None
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn native_clients_publish_and_subscribe_through_the_embedded_turn_server() {
        let server = Server::start_configured(&["--turn-port", "0"]);
        let (_, [(publisher_session, _p), (viewer, _v)]) =
            server.join([Role::Publisher, Role::Subscriber]).await;
        for s in [&publisher_session, &viewer] {
            s.set_media_transport(parlor_client::MediaTransport::Relay);
        }
        let mut publisher = common::publish_connected(
            &publisher_session,
            parlor_client::PublishOptions {
                has_audio: false,
                ..Default::default()
            },
        )
        .await;
        let mut sub = viewer
            .subscribe(
                publisher.stream_id(),
                parlor_client::SubscribeOptions::default(),
            )
            .await
            .unwrap();
        common::wait_subscribed(&mut sub).await;
        let frames: Vec<Vec<u8>> = common::ivf_frames(&common::fixtures().video_ivf)
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let sender = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(33));
            for (i, frame) in frames.iter().take(60).enumerate() {
                tick.tick().await;
                publisher.send_video(frame, (i as u32) * 3000).unwrap();
            }
            publisher
        });
        let mut got = 0;
        while let Ok(f) = sub.next_frame(Duration::from_secs(3)).await {
            assert_eq!(f.kind, parlor_client::MediaKind::Video);
            got += 1;
            if got == 60 {
                break;
            }
        }
        let _publisher = sender.await.unwrap();
        assert!(got >= 45, "received {got} frames through TURN");
        // Both peers' media went through the TURN server: two allocations, relayed both ways.
        // The server publishes its TURN counters once a second, so wait for a fresh copy.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let stats = loop {
            let stats = server.stats().await;
            let turn = &stats["turn"];
            let relayed = |k: &str| turn[k].as_u64().unwrap_or(0);
            if (relayed("relayedToPeers") > 60 && relayed("relayedToClients") > 60)
                || tokio::time::Instant::now() > deadline
            {
                break stats;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let turn = &stats["turn"];
        assert_eq!(turn["allocations"], 2, "{stats}");
        assert!(turn["relayedToPeers"].as_u64().unwrap() > 60, "{stats}");
        assert!(turn["relayedToClients"].as_u64().unwrap() > 60, "{stats}");
    }
}
