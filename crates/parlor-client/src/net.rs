//! A peer's network side: its UDP socket, ICE over TCP (RFC 6544), or a TURN relay.
//!
//! Over TCP the peer offers an *active* candidate: it connects to the server's passive
//! candidate when str0m first sends there, and every datagram travels as an RFC 4571
//! frame (a 16-bit length, then the bytes). One connection is kept, to the one server
//! address str0m sends TCP to.
//!
//! Relayed, the peer allocates on the session's TURN server (the first `turn:` URL over
//! UDP the server handed out, with the credentials minted for this connection) through
//! parlor-turn's client, and offers only the relayed candidate: as a browser with
//! `iceTransportPolicy: 'relay'`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::Candidate;
use str0m::net::{Protocol, TcpType};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::ClientError;
use parlor_proto::signaling::IceServer;
use parlor_turn::client::{State as TurnState, TurnClient};

/// Which candidates a peer offers: how its media may reach the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MediaTransport {
    /// UDP only (the default, what a load generator wants).
    #[default]
    Udp,
    /// ICE-TCP only: as a client behind a firewall that blocks UDP.
    Tcp,
    /// Both; ICE picks (UDP when it works).
    Any,
    /// Only through the session's TURN server (over UDP).
    Relay,
}

/// The discard port: active TCP candidates carry it (RFC 6544 §4.5), nobody listens there.
const ACTIVE_PORT: u16 = 9;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A datagram received, on either protocol.
pub(crate) struct Received<'a> {
    pub proto: Protocol,
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub data: &'a [u8],
}

pub(crate) struct Net {
    udp: Option<(UdpSocket, SocketAddr)>,
    /// The TURN allocation, in relay mode.
    turn: Option<Relay>,
    /// The active candidate's address, when TCP is offered.
    tcp_local: Option<SocketAddr>,
    tcp: Option<TcpLink>,
    /// The last frame read from TCP, lent out by [`Net::recv`].
    frame: Vec<u8>,
}

struct Relay {
    socket: UdpSocket,
    client: TurnClient,
    relayed: SocketAddr,
}

struct TcpLink {
    remote: SocketAddr,
    writer: OwnedWriteHalf,
    frames: mpsc::Receiver<Vec<u8>>,
    /// Scratch for one framed datagram.
    out: Vec<u8>,
}

impl Net {
    /// Binds what `transport` needs on `ip` and returns the local candidates to offer.
    pub async fn bind(
        ip: IpAddr,
        transport: MediaTransport,
        ice_servers: &[IceServer],
    ) -> Result<(Net, Vec<Candidate>), ClientError> {
        let media = |e: str0m::error::IceError| ClientError::Media(e.to_string());
        let mut candidates = Vec::new();
        let turn = match transport {
            MediaTransport::Relay => {
                let relay = allocate(ip, ice_servers).await?;
                let local = relay.socket.local_addr()?;
                candidates.push(
                    Candidate::builder()
                        .udp()
                        .relayed(relay.relayed, local)
                        .build()
                        .map_err(media)?,
                );
                Some(relay)
            }
            _ => None,
        };
        let udp = match transport {
            MediaTransport::Tcp | MediaTransport::Relay => None,
            MediaTransport::Udp | MediaTransport::Any => {
                let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
                let local = socket.local_addr()?;
                candidates.push(Candidate::host(local, "udp").map_err(media)?);
                Some((socket, local))
            }
        };
        let tcp_local = match transport {
            MediaTransport::Udp | MediaTransport::Relay => None,
            MediaTransport::Tcp | MediaTransport::Any => {
                let local = SocketAddr::new(ip, ACTIVE_PORT);
                candidates.push(
                    Candidate::builder()
                        .tcp()
                        .host(local)
                        .tcptype(TcpType::Active)
                        .build()
                        .map_err(media)?,
                );
                Some(local)
            }
        };
        let net = Net {
            udp,
            turn,
            tcp_local,
            tcp: None,
            frame: Vec::new(),
        };
        Ok((net, candidates))
    }

    /// Sends one datagram str0m produced. Errors are a lost datagram, as on UDP (ICE
    /// notices if the path is dead).
    pub async fn send(&mut self, proto: Protocol, destination: SocketAddr, contents: &[u8]) {
        match proto {
            Protocol::Udp => {
                if let Some(relay) = &mut self.turn {
                    if let Some(wrapped) =
                        relay.client.send_to(destination, contents, Instant::now())
                    {
                        let _ = relay.socket.send_to(&wrapped, relay.client.server()).await;
                    }
                    relay.flush().await;
                } else if let Some((socket, _)) = &self.udp {
                    let _ = socket.send_to(contents, destination).await;
                }
            }
            _ => {
                if self.tcp_local.is_none() || contents.len() > u16::MAX as usize {
                    return;
                }
                if self.tcp.as_ref().is_none_or(|l| l.remote != destination) {
                    match connect(destination).await {
                        Ok(link) => self.tcp = Some(link),
                        Err(e) => {
                            tracing::debug!(%destination, error = %e, "ICE-TCP connect failed");
                            return;
                        }
                    }
                }
                let Some(link) = self.tcp.as_mut() else {
                    return;
                };
                link.out.clear();
                link.out
                    .extend_from_slice(&(contents.len() as u16).to_be_bytes());
                link.out.extend_from_slice(contents);
                if let Err(e) = link.writer.write_all(&link.out).await {
                    tracing::debug!(error = %e, "ICE-TCP connection lost");
                    self.tcp = None;
                }
            }
        }
    }

    /// The next datagram from UDP or the TCP connection. `None`: a receive error (try
    /// again).
    pub async fn recv<'a>(&'a mut self, buf: &'a mut [u8]) -> Option<Received<'a>> {
        enum Got {
            Udp(usize, SocketAddr, SocketAddr),
            Turn(usize),
            Tcp(Vec<u8>, SocketAddr),
            TcpClosed,
            Error,
        }
        let got = {
            let (udp, tcp, turn) = (&self.udp, &mut self.tcp, &self.turn);
            let buf = &mut *buf;
            // A relayed peer has no UDP socket of its own: one of the two, never both.
            let from_udp = async move {
                if let Some(relay) = turn {
                    return match relay.socket.recv_from(buf).await {
                        Ok((n, from)) if from == relay.client.server() => Got::Turn(n),
                        _ => Got::Error,
                    };
                }
                match udp {
                    Some((socket, local)) => match socket.recv_from(buf).await {
                        Ok((n, source)) => Got::Udp(n, source, *local),
                        Err(_) => Got::Error,
                    },
                    None => std::future::pending().await,
                }
            };
            let from_tcp = async move {
                match tcp {
                    Some(link) => match link.frames.recv().await {
                        Some(frame) => Got::Tcp(frame, link.remote),
                        None => Got::TcpClosed,
                    },
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                got = from_udp => got,
                got = from_tcp => got,
            }
        };
        match got {
            Got::Turn(n) => {
                let relay = self.turn.as_mut()?;
                let relayed = relay.relayed;
                let (peer, data) = relay.client.on_server(&buf[..n], Instant::now())?;
                Some(Received {
                    proto: Protocol::Udp,
                    source: peer,
                    destination: relayed,
                    data,
                })
            }
            Got::Udp(n, source, destination) => Some(Received {
                proto: Protocol::Udp,
                source,
                destination,
                data: &buf[..n],
            }),
            Got::Tcp(frame, source) => {
                self.frame = frame;
                Some(Received {
                    proto: Protocol::Tcp,
                    source,
                    destination: self.tcp_local?,
                    data: &self.frame,
                })
            }
            Got::TcpClosed => {
                self.tcp = None;
                None
            }
            Got::Error => None,
        }
    }
}

impl Relay {
    /// Sends what the TURN client queued (requests, refreshes, channel binds).
    async fn flush(&mut self) {
        while let Some(m) = self.client.poll_transmit() {
            let _ = self.socket.send_to(&m, self.client.server()).await;
        }
    }
}

impl Net {
    /// Runs the TURN client's timers (refreshes, channel binds); call it at least once a
    /// second.
    pub async fn tick(&mut self) {
        if let Some(relay) = &mut self.turn {
            let now = Instant::now();
            if relay.client.next_timeout().is_some_and(|t| t <= now) {
                relay.client.on_timeout(now);
            }
            relay.flush().await;
        }
    }
}

/// Allocates on the first TURN server over UDP in `servers`.
async fn allocate(ip: IpAddr, servers: &[IceServer]) -> Result<Relay, ClientError> {
    let no_turn = || {
        ClientError::Media("relay needs a turn: URL over UDP in the session's iceServers".into())
    };
    let (url, username, password) = servers
        .iter()
        .find_map(|s| {
            let url = s
                .urls
                .iter()
                .find(|u| u.starts_with("turn:") && !u.contains("transport=tcp"))?;
            Some((url.clone(), s.username.clone()?, s.credential.clone()?))
        })
        .ok_or_else(no_turn)?;
    let host_port = url
        .trim_start_matches("turn:")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let server = tokio::net::lookup_host(&host_port)
        .await?
        .next()
        .ok_or_else(no_turn)?;
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
    let mut client = TurnClient::new(server, &username, &password, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some(m) = client.poll_transmit() {
            socket.send_to(&m, server).await?;
        }
        match client.state() {
            TurnState::Allocated(relayed) => {
                return Ok(Relay {
                    socket,
                    client,
                    relayed,
                });
            }
            TurnState::Failed(code) => {
                return Err(ClientError::Media(format!(
                    "the TURN server {server} refused the allocation ({})",
                    code.map_or("no answer".into(), |c| c.to_string())
                )));
            }
            TurnState::Allocating => {}
        }
        let wake = client.next_timeout().unwrap_or(deadline).min(deadline);
        if Instant::now() >= deadline {
            return Err(ClientError::Timeout("the TURN allocation"));
        }
        match tokio::time::timeout_at(wake.into(), socket.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) if from == server => {
                client.on_server(&buf[..n], Instant::now());
            }
            Ok(_) => {}
            Err(_) => client.on_timeout(Instant::now()),
        }
    }
}

async fn connect(remote: SocketAddr) -> Result<TcpLink, ClientError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(remote))
        .await
        .map_err(|_| ClientError::Timeout("the ICE-TCP connection"))??;
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let (tx, frames) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let Ok(len) = reader.read_u16().await else {
                return;
            };
            let mut frame = vec![0; len as usize];
            if reader.read_exact(&mut frame).await.is_err() || tx.send(frame).await.is_err() {
                return;
            }
        }
    });
    Ok(TcpLink {
        remote,
        writer,
        frames,
        out: Vec::with_capacity(1500),
    })
}
