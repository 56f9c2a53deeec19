//! The embedded TURN server's I/O: `parlor serve --turn-port` (UDP and TCP) and
//! `--turn-tls-port` (TLS with the server's certificate) around [`parlor_turn::TurnServer`].
//!
//! One task owns the protocol core. It reads the UDP listener itself; TCP and TLS
//! connections each have a reader task that cuts the stream into messages
//! (`parlor_turn::stun::frame_len`) and a writer task; each relay socket has a reader task.
//! What those readers get reaches the core over one channel. The core answers through
//! [`EdgeIo`]: UDP datagrams are sent at once (`try_send_to`: a full socket buffer drops,
//! as a congested path would), stream messages are queued to the connection's writer
//! (bounded: a client that does not read loses messages, not the server's memory).
//!
//! Credentials are minted by this process with `--turn-secret`, or a secret of its own
//! (random at each start): clients get them in `connected.iceServers` beside any
//! `--turn-url` servers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use parlor_turn::{ClientId, Io, Transport, TurnServer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use super::{IceUrl, TurnSecret};

/// How many messages wait for a stream client's writer before new ones are dropped.
const STREAM_QUEUE: usize = 512;
/// Stream connections open at once; more are closed at accept.
const MAX_STREAMS: usize = 4096;
/// A stream connection that carries no valid message this long after accept is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What `parlor serve` starts.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// The IP to listen on and to open relays on.
    pub bind_ip: IpAddr,
    /// The IP clients reach (URLs, relayed addresses).
    pub public_ip: IpAddr,
    /// UDP and TCP port (0: any free one).
    pub port: u16,
    /// TLS port, with the server's certificate.
    pub tls_port: Option<u16>,
    /// The host name in `turns:` URLs (it must match the certificate).
    pub tls_host: Option<String>,
    /// The media router's UDP address: the peer relays may send to.
    pub router: SocketAddr,
    /// The secret credentials are minted with; `None`: a random one.
    pub secret: Option<TurnSecret>,
}

/// A running embedded TURN server.
#[derive(Debug)]
pub struct EmbeddedTurn {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub tls: Option<SocketAddr>,
    urls: Vec<IceUrl>,
    secret: TurnSecret,
    stats: Arc<Mutex<parlor_turn::Stats>>,
}

impl EmbeddedTurn {
    /// The URLs clients are given.
    pub fn urls(&self) -> &[IceUrl] {
        &self.urls
    }

    /// The secret its credentials are minted with.
    pub fn secret(&self) -> &TurnSecret {
        &self.secret
    }

    /// Counters, at most a second old.
    pub fn stats(&self) -> parlor_turn::Stats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Something a reader task got.
enum Event {
    Stream {
        client: ClientId,
        data: Vec<u8>,
    },
    StreamOpened {
        conn: u64,
        writer: mpsc::Sender<Vec<u8>>,
    },
    StreamClosed {
        client: ClientId,
    },
    Peer {
        relay: SocketAddr,
        peer: SocketAddr,
        data: Vec<u8>,
    },
}

/// Binds the listeners and starts the server's tasks.
pub async fn start(
    config: EmbeddedConfig,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
) -> anyhow::Result<EmbeddedTurn> {
    let udp_bind = SocketAddr::new(config.bind_ip, config.port);
    let udp = Arc::new(
        UdpSocket::bind(udp_bind)
            .await
            .with_context(|| format!("cannot bind the TURN server to UDP {udp_bind}"))?,
    );
    let udp_addr = udp.local_addr()?;
    // TCP on the same port number as UDP (its own when UDP's was chosen by the system).
    let tcp_bind = SocketAddr::new(config.bind_ip, udp_addr.port());
    let tcp = TcpListener::bind(tcp_bind)
        .await
        .with_context(|| format!("cannot bind the TURN server to TCP {tcp_bind}"))?;
    let tcp_addr = tcp.local_addr()?;
    let tls_listener = match (config.tls_port, &tls) {
        (Some(port), Some(_)) => {
            let bind = SocketAddr::new(config.bind_ip, port);
            Some(
                TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("cannot bind the TURN server to TCP {bind} (TLS)"))?,
            )
        }
        (Some(_), None) => anyhow::bail!("--turn-tls-port needs --tls-cert and --tls-key"),
        _ => None,
    };
    let tls_addr = tls_listener.as_ref().map(|l| l.local_addr()).transpose()?;

    let secret = config.secret.clone().unwrap_or_else(|| {
        use rand::Rng as _;
        let random: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(40)
            .map(char::from)
            .collect();
        TurnSecret::new(random).expect("40 alphanumerics")
    });
    let nonce_key: [u8; 32] = rand::random();
    let core = TurnServer::new(
        parlor_turn::Config::new(
            "parlor",
            secret.expose().as_bytes().to_vec(),
            vec![config.router],
        ),
        &nonce_key,
    );

    let public = |port: u16| SocketAddr::new(config.public_ip, port);
    let mut urls = vec![
        format!("turn:{}?transport=udp", public(udp_addr.port())),
        format!("turn:{}?transport=tcp", public(tcp_addr.port())),
    ];
    if let Some(tls) = tls_addr {
        let host = config
            .tls_host
            .clone()
            .unwrap_or_else(|| public(tls.port()).ip().to_string());
        urls.push(format!("turns:{host}:{}?transport=tcp", tls.port()));
    }
    let urls = urls
        .iter()
        .map(|u| u.parse::<IceUrl>())
        .collect::<Result<Vec<_>, _>>()
        .context("the embedded TURN server's own URLs")?;

    let (events_tx, events_rx) = mpsc::channel(4096);
    let next_conn = Arc::new(AtomicU64::new(1));
    let open_streams = Arc::new(AtomicU64::new(0));
    tokio::spawn(accept_loop(
        tcp,
        Transport::Tcp,
        None,
        events_tx.clone(),
        next_conn.clone(),
        open_streams.clone(),
    ));
    if let (Some(listener), Some(tls)) = (tls_listener, tls) {
        // TURN clients send no ALPN of HTTP's: offer none.
        let mut tls = (*tls).clone();
        tls.alpn_protocols.clear();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        tokio::spawn(accept_loop(
            listener,
            Transport::Tls,
            Some(acceptor),
            events_tx.clone(),
            next_conn,
            open_streams,
        ));
    }
    let stats = Arc::new(Mutex::new(parlor_turn::Stats::default()));
    let io = EdgeIo {
        udp: udp.clone(),
        relays: HashMap::new(),
        streams: HashMap::new(),
        relay_bind: config.bind_ip,
        relay_public: config.public_ip,
        events: events_tx,
        dropped: 0,
    };
    tokio::spawn(run(core, io, udp, events_rx, stats.clone()));
    tracing::info!(%udp_addr, %tcp_addr, ?tls_addr, "embedded TURN server listening");
    Ok(EmbeddedTurn {
        udp: udp_addr,
        tcp: tcp_addr,
        tls: tls_addr,
        urls,
        secret,
        stats,
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The core's task: the UDP listener, the readers' events, the once-a-second expiry.
async fn run(
    mut core: TurnServer,
    mut io: EdgeIo,
    udp: Arc<UdpSocket>,
    mut events: mpsc::Receiver<Event>,
    stats: Arc<Mutex<parlor_turn::Stats>>,
) {
    let mut buf = vec![0u8; 65536];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            r = udp.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    let client = ClientId { transport: Transport::Udp, addr: from, conn: 0 };
                    core.on_client(client, &buf[..n], Instant::now(), unix_now(), &mut io);
                }
                Err(e) => tracing::debug!(error = %e, "TURN UDP receive error"),
            },
            ev = events.recv() => match ev {
                Some(Event::Stream { client, data }) => {
                    core.on_client(client, &data, Instant::now(), unix_now(), &mut io);
                }
                Some(Event::Peer { relay, peer, data }) => {
                    core.on_peer(relay, peer, &data, Instant::now(), &mut io);
                }
                Some(Event::StreamOpened { conn, writer }) => {
                    io.streams.insert(conn, writer);
                }
                Some(Event::StreamClosed { client }) => {
                    io.streams.remove(&client.conn);
                    core.client_gone(&client, &mut io);
                }
                None => return,
            },
            _ = tick.tick() => {
                core.on_timeout(Instant::now(), &mut io);
                *stats.lock().unwrap_or_else(|e| e.into_inner()) = parlor_turn::Stats {
                    dropped: core.stats().dropped + io.dropped,
                    ..core.stats()
                };
            }
        }
    }
}

/// The core's view of the sockets.
struct EdgeIo {
    udp: Arc<UdpSocket>,
    relays: HashMap<SocketAddr, (Arc<UdpSocket>, tokio::task::JoinHandle<()>)>,
    streams: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    relay_bind: IpAddr,
    relay_public: IpAddr,
    events: mpsc::Sender<Event>,
    /// Datagrams and messages the sockets or queues could not take.
    dropped: u64,
}

impl Io for EdgeIo {
    fn to_client(&mut self, client: &ClientId, data: &[u8]) {
        let sent = match client.transport {
            Transport::Udp => self.udp.try_send_to(data, client.addr).is_ok(),
            Transport::Tcp | Transport::Tls => self
                .streams
                .get(&client.conn)
                .is_some_and(|w| w.try_send(data.to_vec()).is_ok()),
        };
        if !sent {
            self.dropped += 1;
        }
    }

    fn to_peer(&mut self, relay: SocketAddr, peer: SocketAddr, data: &[u8]) {
        match self.relays.get(&relay) {
            Some((socket, _)) if socket.try_send_to(data, peer).is_ok() => {}
            _ => self.dropped += 1,
        }
    }

    fn open_relay(&mut self, family_of: SocketAddr) -> std::io::Result<SocketAddr> {
        if family_of.is_ipv4() != self.relay_bind.is_ipv4() && !self.relay_bind.is_unspecified() {
            return Err(std::io::Error::other("no relay address of that family"));
        }
        let std_socket = std::net::UdpSocket::bind(SocketAddr::new(self.relay_bind, 0))?;
        std_socket.set_nonblocking(true)?;
        let socket = Arc::new(UdpSocket::from_std(std_socket)?);
        let relay = SocketAddr::new(self.relay_public, socket.local_addr()?.port());
        let events = self.events.clone();
        let reader = socket.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, peer)) = reader.recv_from(&mut buf).await {
                let data = buf[..n].to_vec();
                if events
                    .send(Event::Peer { relay, peer, data })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        self.relays.insert(relay, (socket, task));
        Ok(relay)
    }

    fn close_relay(&mut self, relay: SocketAddr) {
        if let Some((_, task)) = self.relays.remove(&relay) {
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    transport: Transport,
    tls: Option<tokio_rustls::TlsAcceptor>,
    events: mpsc::Sender<Event>,
    next_conn: Arc<AtomicU64>,
    open: Arc<AtomicU64>,
) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "TURN accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= MAX_STREAMS as u64 {
            continue;
        }
        let _ = stream.set_nodelay(true);
        let conn = next_conn.fetch_add(1, Ordering::Relaxed);
        let client = ClientId {
            transport,
            addr,
            conn,
        };
        let (events, tls, open) = (events.clone(), tls.clone(), open.clone());
        open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            match tls {
                None => serve_stream(stream, client, events.clone()).await,
                Some(acceptor) => {
                    match tokio::time::timeout(IDLE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve_stream(tls, client, events.clone()).await,
                        _ => tracing::debug!(%addr, "TURN TLS handshake failed"),
                    }
                }
            }
            open.fetch_sub(1, Ordering::Relaxed);
            let _ = events.send(Event::StreamClosed { client }).await;
        });
    }
}

/// Reads a stream client's messages until it closes or sends garbage; writes what the core
/// queues for it.
async fn serve_stream<S>(stream: S, client: ClientId, events: mpsc::Sender<Event>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(STREAM_QUEUE);
    if events
        .send(Event::StreamOpened {
            conn: client.conn,
            writer: tx,
        })
        .await
        .is_err()
    {
        return;
    }
    let write = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if writer.write_all(&msg).await.is_err() {
                return;
            }
        }
    });
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut seen_valid = false;
    loop {
        let read = if seen_valid {
            reader.read(&mut chunk).await
        } else {
            match tokio::time::timeout(IDLE_TIMEOUT, reader.read(&mut chunk)).await {
                Ok(r) => r,
                Err(_) => break,
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        loop {
            match parlor_turn::stun::frame_len(&buf) {
                Ok(Some(len)) if buf.len() >= len => {
                    let data: Vec<u8> = buf.drain(..len).collect();
                    seen_valid = true;
                    if events.send(Event::Stream { client, data }).await.is_err() {
                        write.abort();
                        return;
                    }
                }
                Ok(_) => break,
                Err(_) => {
                    tracing::debug!(addr = %client.addr, "garbage on a TURN stream; closing it");
                    write.abort();
                    return;
                }
            }
        }
        if buf.len() > 70 * 1024 {
            break; // no message is this long
        }
    }
    write.abort();
}
