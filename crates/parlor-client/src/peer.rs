//! One WebRTC peer connection: a `str0m::Rtc` on its own UDP socket, driven by a task.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng as _;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::ClientError;

pub use str0m::media::MediaKind;

/// A frame received on a subscription (depacketized by str0m).
#[derive(Debug, Clone)]
pub struct MediaFrame {
    pub kind: MediaKind,
    /// The encoded frame (a VP8 frame, an Opus packet).
    pub data: Arc<[u8]>,
    /// RTP time of the frame, in the codec's clock (90 kHz video, 48 kHz audio).
    pub rtp_time: u64,
    pub keyframe: bool,
    /// Whether nothing was lost between this frame and the previous one.
    pub contiguous: bool,
}

pub(crate) enum PeerCommand {
    Rtp {
        mid: Mid,
        pt: str0m::media::Pt,
        seq: u64,
        time: u32,
        marker: bool,
        nackable: bool,
        payload: Arc<[u8]>,
    },
}

#[derive(Debug)]
pub(crate) enum PeerEvent {
    Connected,
    Frame(MediaFrame),
    KeyframeRequest,
    Closed(String),
}

/// A peer before negotiation: its Rtc, socket and pending offer.
pub(crate) struct NewPeer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    pending: SdpPendingOffer,
    pub offer: String,
    pub mids: Vec<(Mid, MediaKind)>,
}

impl NewPeer {
    /// Creates a peer offering `kinds` in `direction`.
    pub async fn offer(
        ip: IpAddr,
        rtp_mode: bool,
        kinds: &[MediaKind],
        direction: Direction,
    ) -> Result<NewPeer, ClientError> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let local = socket.local_addr()?;
        let mut rtc = Rtc::builder()
            .set_rtp_mode(rtp_mode)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(Instant::now());
        let candidate =
            Candidate::host(local, "udp").map_err(|e| ClientError::Media(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        let mids = kinds
            .iter()
            .map(|&kind| (api.add_media(kind, direction, None, None, None), kind))
            .collect();
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| ClientError::Media("nothing to negotiate".into()))?;
        Ok(NewPeer {
            rtc,
            socket,
            local,
            pending,
            offer: offer.to_sdp_string(),
            mids,
        })
    }

    /// Applies the server's answer and starts the peer's task. `drop_rate` drops that
    /// share of incoming RTP datagrams before str0m sees them (for loss tests).
    pub fn start(
        mut self,
        answer: &str,
        drop_rate: f64,
    ) -> Result<(PeerHandle, mpsc::UnboundedReceiver<PeerEvent>), ClientError> {
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| ClientError::Media(e.to_string()))?;
        self.rtc
            .sdp_api()
            .accept_answer(self.pending, answer)
            .map_err(|e| ClientError::Media(e.to_string()))?;
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let pts = self
            .mids
            .iter()
            .map(|(mid, kind)| {
                let codec = match kind {
                    MediaKind::Audio => str0m::format::Codec::Opus,
                    MediaKind::Video => str0m::format::Codec::Vp8,
                };
                let pt = self
                    .rtc
                    .codec_config()
                    .iter()
                    .find(|p| p.spec().codec == codec)
                    .map(|p| p.pt());
                (*mid, *kind, pt)
            })
            .collect();
        // Loss is induced on first transmissions only: retransmissions (RTX payload types)
        // get through, so a test sees the repair path rather than repeated loss.
        let rtx_pts: Vec<u8> = self
            .rtc
            .codec_config()
            .iter()
            .filter_map(|p| p.resend())
            .map(|pt| *pt)
            .collect();
        let loss = Loss {
            rate: drop_rate,
            rtx_pts,
        };
        tokio::spawn(run(
            self.rtc,
            self.socket,
            self.local,
            self.mids,
            cmd_rx,
            ev_tx,
            loss,
        ));
        Ok((PeerHandle { cmd: cmd_tx, pts }, ev_rx))
    }
}

/// Commands to a running peer.
pub(crate) struct PeerHandle {
    pub cmd: mpsc::UnboundedSender<PeerCommand>,
    /// Negotiated payload type per m-line.
    pub pts: Vec<(Mid, MediaKind, Option<str0m::media::Pt>)>,
}

async fn run(
    mut rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mids: Vec<(Mid, MediaKind)>,
    mut commands: mpsc::UnboundedReceiver<PeerCommand>,
    events: mpsc::UnboundedSender<PeerEvent>,
    loss: Loss,
) {
    let mut buf = vec![0u8; 2048];
    let kind_of = |mid: Mid| mids.iter().find(|(m, _)| *m == mid).map(|(_, k)| *k);
    let reason = 'outer: loop {
        // Drain everything str0m wants to say.
        let deadline = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => {
                    let ev = match e {
                        Event::Connected => Some(PeerEvent::Connected),
                        Event::MediaData(d) => kind_of(d.mid).map(|kind| {
                            PeerEvent::Frame(MediaFrame {
                                kind,
                                keyframe: d.is_keyframe(),
                                data: d.data,
                                rtp_time: d.time.numer(),
                                contiguous: d.contiguous,
                            })
                        }),
                        Event::KeyframeRequest(_) => Some(PeerEvent::KeyframeRequest),
                        Event::Closed => {
                            break 'outer "the server closed the connection".to_owned();
                        }
                        _ => None,
                    };
                    if let Some(ev) = ev
                        && events.send(ev).is_err()
                    {
                        break 'outer "dropped".to_owned();
                    }
                }
                Err(e) => break 'outer e.to_string(),
            }
        };
        if !rtc.is_alive() {
            break "the connection ended".to_owned();
        }
        let deadline = deadline.min(Instant::now() + Duration::from_secs(1));
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(PeerCommand::Rtp { mid, pt, seq, time, marker, nackable, payload }) => {
                    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(mid, None) {
                        tx.write_rtp(
                            RtpWrite::new(pt, SeqNo::from(seq), time, Instant::now(), payload)
                                .marker(marker)
                                .nackable(nackable),
                        );
                    }
                }
                None => break "closed by the application".to_owned(),
            },
            received = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = received else { continue };
                let data = &buf[..n];
                if loss.drops(data) {
                    continue;
                }
                let Ok(receive) = Receive::new(Protocol::Udp, source, local, data) else { continue };
                if let Err(e) = rtc.handle_input(Input::Receive(Instant::now(), receive)) {
                    tracing::debug!(error = %e, "datagram refused");
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                if let Err(e) = rtc.handle_input(Input::Timeout(Instant::now())) {
                    break e.to_string();
                }
            }
        }
    };
    let _ = events.send(PeerEvent::Closed(reason));
}

/// Induced loss of incoming RTP, for tests of the repair path.
struct Loss {
    rate: f64,
    rtx_pts: Vec<u8>,
}

impl Loss {
    fn drops(&self, data: &[u8]) -> bool {
        if self.rate <= 0.0 || data.len() <= 12 || !(128..192).contains(&data[0]) {
            return false;
        }
        // RTCP shares the RTP version bits; its packet types are 192-223 (RFC 5761).
        if (192..224).contains(&data[1]) {
            return false;
        }
        let pt = data[1] & 0x7f;
        !self.rtx_pts.contains(&pt) && rand::rng().random_bool(self.rate)
    }
}

/// A random starting sequence number below 2^15, as browsers pick.
pub(crate) fn random_seq() -> u64 {
    rand::rng().random_range(1..0x7fff)
}
