//! Publishing a stream.

use std::time::Duration;

use parlor_media::vp8::Vp8Packetizer;
use parlor_proto::signaling::{
    ClientMessage, ServerMessage, SimulcastLayer, VideoDimensions, VideoType,
};
use rand::Rng as _;
use str0m::media::{Direction, MediaKind, Mid, Pt, Rid};
use tokio::sync::mpsc;

use crate::peer::{Peer, PeerCommand, PeerEvent, PeerOffer, VideoCodec, VideoOffer, random_seq};
use crate::{ClientError, Session};

/// Largest RTP payload the client produces.
const MAX_PAYLOAD: usize = 1100;

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub name: String,
    pub has_audio: bool,
    pub has_video: bool,
    pub video_type: VideoType,
    pub video_dimensions: Option<VideoDimensions>,
    /// First RTP sequence number of the video (random below 2^15 by default). Tests use
    /// values near 65,535 to exercise the wrap.
    pub initial_video_seq: Option<u64>,
    /// Simulcast layers, lowest first (two or three; none: one layer). Each is its own RTP
    /// stream, fed with [`PeerSender::send_video_layer`]; the sizes are what subscribers'
    /// preferences are matched against.
    pub simulcast: Vec<SimulcastLayer>,
    /// The video codec: VP8 (frames from IVF) or H.264 (Annex B access units, sent in
    /// packetization mode 1).
    pub video_codec: VideoCodec,
}

/// The rids of `n` simulcast layers, lowest first (as the web SDK names them).
fn layer_rids(n: usize) -> &'static [&'static str] {
    match n {
        0 | 1 => &[],
        2 => &["h", "f"],
        _ => &["q", "h", "f"],
    }
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            name: String::new(),
            has_audio: true,
            has_video: true,
            video_type: VideoType::Camera,
            video_dimensions: None,
            initial_video_seq: None,
            simulcast: Vec::new(),
            video_codec: VideoCodec::Vp8,
        }
    }
}

struct Track {
    mid: Mid,
    pt: Pt,
    seq: u64,
}

/// A simulcast layer's own RTP stream: its rid, numbering and VP8 picture IDs.
struct LayerTrack {
    rid: Rid,
    seq: u64,
    packetizer: Vp8Packetizer,
}

/// Writes encoded media into a peer as RTP (VP8 packetized; Opus one packet each).
pub struct PeerSender {
    cmd: mpsc::UnboundedSender<PeerCommand>,
    video: Option<Track>,
    audio: Option<Track>,
    packetizer: Vp8Packetizer,
    /// Simulcast: each layer's stream (empty: one layer, on `video`).
    layers: Vec<LayerTrack>,
    video_codec: VideoCodec,
    measures: std::sync::Arc<crate::peer::MediaMeasures>,
}

impl PeerSender {
    /// A sender on the m-lines `peer` offered. Video starts at `initial_video_seq`
    /// (random below 2^15 by default).
    pub fn new(peer: &Peer, initial_video_seq: Option<u64>) -> PeerSender {
        Self::with_layers(peer, initial_video_seq, 0)
    }

    /// A sender of `layers` simulcast layers (as offered with [`PeerOffer::with_layers`]).
    pub fn with_layers(peer: &Peer, initial_video_seq: Option<u64>, layers: usize) -> PeerSender {
        Self::with_codec(peer, initial_video_seq, layers, VideoCodec::Vp8)
    }

    /// A sender of `layers` simulcast layers of `codec` video.
    pub fn with_codec(
        peer: &Peer,
        initial_video_seq: Option<u64>,
        layers: usize,
        video_codec: VideoCodec,
    ) -> PeerSender {
        let track = |kind: MediaKind, seq: u64| {
            peer.pts
                .iter()
                .find(|(_, k, _)| *k == kind)
                .and_then(|(mid, _, pt)| pt.map(|pt| Track { mid: *mid, pt, seq }))
        };
        PeerSender {
            cmd: peer.cmd.clone(),
            video: track(
                MediaKind::Video,
                initial_video_seq.unwrap_or_else(random_seq),
            ),
            audio: track(MediaKind::Audio, random_seq()),
            packetizer: Vp8Packetizer::new(rand::rng().random()),
            layers: layer_rids(layers)
                .iter()
                .map(|rid| LayerTrack {
                    rid: Rid::from(*rid),
                    seq: random_seq(),
                    packetizer: Vp8Packetizer::new(rand::rng().random()),
                })
                .collect(),
            video_codec,
            measures: peer.measures.clone(),
        }
    }

    /// Whether its peer connection is gone (the publisher left): nothing sent arrives.
    pub fn is_closed(&self) -> bool {
        self.cmd.is_closed()
    }

    /// Its simulcast layers (0: one layer, sent with [`PeerSender::send_video`]).
    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Whether video / audio were negotiated.
    pub fn has(&self, kind: MediaKind) -> bool {
        match kind {
            MediaKind::Video => self.video.is_some(),
            MediaKind::Audio => self.audio.is_some(),
        }
    }

    /// Sends one video frame with RTP time `rtp_time` (90 kHz): a VP8 frame, or an H.264
    /// access unit in Annex B (start codes; delimiters are dropped); of a simulcast stream,
    /// on its top layer.
    pub fn send_video(&mut self, frame: &[u8], rtp_time: u32) -> Result<(), ClientError> {
        match self.layers.len() {
            0 => self.send_video_on(None, frame, rtp_time),
            n => self.send_video_on(Some(n - 1), frame, rtp_time),
        }
    }

    /// Sends one VP8 frame on simulcast layer `layer` (0 the lowest), with that layer's
    /// RTP time `rtp_time` (90 kHz). Each layer has its own sequence numbers and picture
    /// IDs, as a browser's encoders do.
    pub fn send_video_layer(
        &mut self,
        layer: usize,
        frame: &[u8],
        rtp_time: u32,
    ) -> Result<(), ClientError> {
        if layer >= self.layers.len() {
            return Err(ClientError::Media(format!(
                "this stream has {} simulcast layers; there is no layer {layer}",
                self.layers.len()
            )));
        }
        self.send_video_on(Some(layer), frame, rtp_time)
    }

    fn send_video_on(
        &mut self,
        layer: Option<usize>,
        frame: &[u8],
        rtp_time: u32,
    ) -> Result<(), ClientError> {
        let track = self
            .video
            .as_mut()
            .ok_or_else(|| ClientError::Media("this stream has no video".into()))?;
        let (packetizer, seq, rid) = match layer {
            Some(l) => {
                let t = &mut self.layers[l];
                (&mut t.packetizer, &mut t.seq, Some(t.rid))
            }
            None => (&mut self.packetizer, &mut track.seq, None),
        };
        let payloads: Vec<(Vec<u8>, bool)> = match self.video_codec {
            VideoCodec::Vp8 => packetizer
                .packetize(frame, MAX_PAYLOAD)
                .map_err(|e| ClientError::Media(e.to_string()))?
                .map(|p| {
                    let mut payload = Vec::with_capacity(p.payload_len());
                    p.append_to(&mut payload);
                    (payload, p.last)
                })
                .collect(),
            VideoCodec::H264 => {
                let nals = parlor_media::h264::nal_units(frame);
                parlor_media::h264::packetize(&nals, MAX_PAYLOAD)
                    .into_iter()
                    .map(|p| (p.data, p.last))
                    .collect()
            }
        };
        for (payload, last) in payloads {
            self.cmd
                .send(PeerCommand::Rtp {
                    mid: track.mid,
                    pt: track.pt,
                    seq: *seq,
                    time: rtp_time,
                    marker: last,
                    nackable: true,
                    payload: payload.into(),
                    audio_level: None,
                    rid,
                })
                .map_err(|_| ClientError::Closed)?;
            *seq += 1;
        }
        if layer.is_none_or(|l| l + 1 == self.layers.len()) {
            match self.video_codec {
                VideoCodec::Vp8 => self.measures.video_frame(frame),
                VideoCodec::H264 => {
                    self.measures
                        .video_frames
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    /// Sends one Opus packet with RTP time `rtp_time` (48 kHz).
    pub fn send_audio(&mut self, packet: &[u8], rtp_time: u32) -> Result<(), ClientError> {
        self.send_audio_with_level(packet, rtp_time, None)
    }

    /// [`PeerSender::send_audio`], with the packet's loudness in dB below full scale
    /// (0–127) in the RFC 6464 audio level extension, as browsers send it: what the
    /// server's speaker detection reads. An app that encodes its own audio knows it.
    pub fn send_audio_with_level(
        &mut self,
        packet: &[u8],
        rtp_time: u32,
        level_dbov: Option<u8>,
    ) -> Result<(), ClientError> {
        let track = self
            .audio
            .as_mut()
            .ok_or_else(|| ClientError::Media("this stream has no audio".into()))?;
        self.cmd
            .send(PeerCommand::Rtp {
                mid: track.mid,
                pt: track.pt,
                seq: track.seq,
                time: rtp_time,
                marker: false,
                nackable: false,
                payload: packet.into(),
                audio_level: level_dbov,
                rid: None,
            })
            .map_err(|_| ClientError::Closed)?;
        track.seq += 1;
        Ok(())
    }
}

/// A published stream. Feed it encoded media with [`Publisher::send_video`] and
/// [`Publisher::send_audio`] at the media's own pace.
pub struct Publisher {
    session: Session,
    stream_id: String,
    sender: PeerSender,
    peer: Peer,
    keyframe_requests: u64,
    connected: bool,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("stream_id", &self.stream_id)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    pub(crate) async fn start(
        session: Session,
        o: PublishOptions,
    ) -> Result<Publisher, ClientError> {
        let mut kinds = Vec::new();
        if o.has_audio {
            kinds.push(MediaKind::Audio);
        }
        if o.has_video {
            kinds.push(MediaKind::Video);
        }
        if o.simulcast.len() > parlor_proto::signaling::MAX_SIMULCAST_LAYERS {
            return Err(ClientError::Media(format!(
                "{} simulcast layers; the most is {}",
                o.simulcast.len(),
                parlor_proto::signaling::MAX_SIMULCAST_LAYERS
            )));
        }
        let rids = layer_rids(o.simulcast.len());
        let peer = PeerOffer::with_video(
            session.media_ip(),
            session.media_transport(),
            &session.info().ice_servers,
            true,
            &kinds,
            Direction::SendOnly,
            VideoOffer {
                codec: o.video_codec,
                rids,
            },
        )
        .await?;
        let offer = peer.offer.clone();
        let reply = session
            .request(|id| ClientMessage::Publish {
                id,
                name: o.name.clone(),
                has_audio: o.has_audio,
                has_video: o.has_video,
                video_type: o.video_type,
                video_dimensions: o.video_dimensions,
                simulcast: if rids.is_empty() {
                    Vec::new()
                } else {
                    o.simulcast.clone()
                },
                sdp: offer,
            })
            .await?;
        let ServerMessage::Published { stream_id, sdp, .. } = reply else {
            return Err(ClientError::Protocol(format!(
                "unexpected reply to publish: {reply:?}"
            )));
        };
        let peer = peer.start(&sdp, 0.0, Some(session.closed_signal()))?;
        let sender = PeerSender::with_codec(&peer, o.initial_video_seq, rids.len(), o.video_codec);
        session.report_measures(
            crate::session::Measured::Stream(stream_id.clone()),
            &peer.measures,
        );
        if (o.has_video && !sender.has(MediaKind::Video))
            || (o.has_audio && !sender.has(MediaKind::Audio))
        {
            return Err(ClientError::Media(format!(
                "the server did not accept {:?}/Opus",
                o.video_codec
            )));
        }
        Ok(Publisher {
            session,
            stream_id,
            sender,
            peer,
            keyframe_requests: 0,
            connected: false,
        })
    }

    /// Keeps the stream going but hands over its media writer: events (keyframe requests)
    /// are consumed in the background. For load generators feeding many publishers from
    /// one clock.
    pub fn into_sender(self) -> PeerSender {
        let mut peer = self.peer;
        tokio::spawn(async move { while peer.events.recv().await.is_some() {} });
        self.sender
    }

    /// The stream's ID.
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// Waits until the media connection is up (the others then see `streamCreated`).
    pub async fn wait_connected(&mut self) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !self.connected {
            match tokio::time::timeout_at(deadline, self.peer.events.recv()).await {
                Err(_) => return Err(ClientError::Timeout("the publisher's media connection")),
                Ok(None) => return Err(ClientError::Closed),
                Ok(Some(ev)) => self.on_event(ev)?,
            }
        }
        Ok(())
    }

    fn on_event(&mut self, ev: PeerEvent) -> Result<(), ClientError> {
        match ev {
            PeerEvent::Connected => self.connected = true,
            PeerEvent::KeyframeRequest => {
                self.keyframe_requests += 1;
            }
            PeerEvent::Closed(reason) => return Err(ClientError::Media(reason)),
            PeerEvent::Frame(_) => {}
        }
        Ok(())
    }

    /// Handles pending peer events; returns how many keyframe requests arrived so far.
    pub fn poll_keyframe_requests(&mut self) -> Result<u64, ClientError> {
        while let Ok(ev) = self.peer.events.try_recv() {
            self.on_event(ev)?;
        }
        Ok(self.keyframe_requests)
    }

    /// Sends one VP8 frame with RTP time `rtp_time` (90 kHz); of a simulcast stream, on
    /// its top layer.
    pub fn send_video(&mut self, frame: &[u8], rtp_time: u32) -> Result<(), ClientError> {
        self.sender.send_video(frame, rtp_time)
    }

    /// Sends one VP8 frame on simulcast layer `layer` ([`PeerSender::send_video_layer`]).
    pub fn send_video_layer(
        &mut self,
        layer: usize,
        frame: &[u8],
        rtp_time: u32,
    ) -> Result<(), ClientError> {
        self.sender.send_video_layer(layer, frame, rtp_time)
    }

    /// Sends one Opus packet with RTP time `rtp_time` (48 kHz).
    pub fn send_audio(&mut self, packet: &[u8], rtp_time: u32) -> Result<(), ClientError> {
        self.sender.send_audio(packet, rtp_time)
    }

    /// [`Publisher::send_audio`] with the packet's audio level (see
    /// [`PeerSender::send_audio_with_level`]).
    pub fn send_audio_with_level(
        &mut self,
        packet: &[u8],
        rtp_time: u32,
        level_dbov: Option<u8>,
    ) -> Result<(), ClientError> {
        self.sender
            .send_audio_with_level(packet, rtp_time, level_dbov)
    }

    /// Tells the others that audio or video is on or off (publishAudio / publishVideo).
    pub async fn set_publishing(
        &self,
        audio: Option<bool>,
        video: Option<bool>,
    ) -> Result<(), ClientError> {
        self.session
            .set_stream_property(&self.stream_id, audio, video)
            .await
    }

    /// Stops publishing.
    pub async fn unpublish(self) -> Result<(), ClientError> {
        let stream_id = self.stream_id.clone();
        self.session
            .request(|id| ClientMessage::Unpublish { id, stream_id })
            .await
            .map(|_| ())
    }
}
