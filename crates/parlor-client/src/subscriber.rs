//! Subscribing to a stream.

use std::time::Duration;

use parlor_proto::signaling::{ClientMessage, ServerMessage, VideoDimensions};
use str0m::media::{Direction, MediaKind};

use crate::peer::{MediaFrame, Peer, PeerEvent, PeerOffer, ReceiveStats};
use crate::{ClientError, Session};

/// What to receive.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeOptions {
    pub audio: bool,
    pub video: bool,
    /// Share (0–1) of incoming RTP datagrams to drop, to exercise loss repair.
    pub drop_rate: f64,
    /// Drop retransmissions at `drop_rate` too (by default they get through): the peer
    /// NACKs the same packets again and again, as a client on a very bad link, or a
    /// hostile one, would.
    pub drop_retransmissions: bool,
    /// Count packets ([`Subscriber::stats`]) instead of assembling frames: no `Frame`
    /// events; what a load generator wants.
    pub count_only: bool,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            audio: true,
            video: true,
            drop_rate: 0.0,
            drop_retransmissions: false,
            count_only: false,
        }
    }
}

/// What a subscription reports.
#[derive(Debug, Clone)]
pub enum SubscriberEvent {
    /// The media connection is up.
    Connected,
    /// A frame arrived.
    Frame(MediaFrame),
    /// The media connection ended.
    Closed(String),
}

/// A subscription to one stream.
pub struct Subscriber {
    session: Session,
    subscription_id: String,
    stream_id: String,
    peer: Peer,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("subscription_id", &self.subscription_id)
            .finish_non_exhaustive()
    }
}

impl Subscriber {
    pub(crate) async fn start(
        session: Session,
        stream_id: &str,
        o: SubscribeOptions,
    ) -> Result<Subscriber, ClientError> {
        // Both m-lines are always offered, so audio or video can be turned on later.
        let kinds = [MediaKind::Audio, MediaKind::Video];
        let peer = PeerOffer::with_transport(
            session.media_ip(),
            session.media_transport(),
            &session.info().ice_servers,
            o.count_only,
            &kinds,
            Direction::RecvOnly,
        )
        .await?;
        let offer = peer.offer.clone();
        let reply = session
            .request(|id| ClientMessage::Subscribe {
                id,
                stream_id: stream_id.to_owned(),
                audio: o.audio,
                video: o.video,
                test_network: false,
                sdp: offer,
            })
            .await?;
        let ServerMessage::Subscribed {
            subscription_id,
            sdp,
            ..
        } = reply
        else {
            return Err(ClientError::Protocol(format!(
                "unexpected reply to subscribe: {reply:?}"
            )));
        };
        let peer = peer.drop_retransmissions(o.drop_retransmissions).start(
            &sdp,
            o.drop_rate,
            Some(session.closed_signal()),
        )?;
        if !o.count_only {
            session.report_measures(
                crate::session::Measured::Subscription(subscription_id.clone()),
                &peer.measures,
            );
        }
        Ok(Subscriber {
            session,
            subscription_id,
            stream_id: stream_id.to_owned(),
            peer,
        })
    }

    pub fn subscription_id(&self) -> &str {
        &self.subscription_id
    }

    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// What arrived so far (counted in `count_only` mode).
    pub fn stats(&self) -> std::sync::Arc<ReceiveStats> {
        self.peer.stats()
    }

    /// The next event, or `None` once the peer is gone.
    pub async fn next_event(&mut self) -> Option<SubscriberEvent> {
        loop {
            return match self.peer.events.recv().await? {
                PeerEvent::Connected => Some(SubscriberEvent::Connected),
                PeerEvent::Frame(f) => Some(SubscriberEvent::Frame(f)),
                PeerEvent::Closed(r) => Some(SubscriberEvent::Closed(r)),
                PeerEvent::KeyframeRequest => continue,
            };
        }
    }

    /// The next frame within `timeout`.
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<MediaFrame, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.next_event()).await {
                Err(_) => return Err(ClientError::Timeout("a frame")),
                Ok(None) => return Err(ClientError::Closed),
                Ok(Some(SubscriberEvent::Frame(f))) => return Ok(f),
                Ok(Some(SubscriberEvent::Closed(r))) => return Err(ClientError::Media(r)),
                Ok(Some(SubscriberEvent::Connected)) => {}
            }
        }
    }

    /// Turns audio and/or video on or off (subscribeToAudio / subscribeToVideo).
    pub async fn set_media(
        &self,
        audio: Option<bool>,
        video: Option<bool>,
    ) -> Result<(), ClientError> {
        self.set_subscription(audio, video, None, None).await
    }

    /// Sets the resolution and frame rate it would like (OpenTok's
    /// `setPreferredResolution` / `setPreferredFrameRate`; `None` clears one): of a
    /// simulcast stream, it gets the smallest layer that covers them.
    pub async fn set_preferences(
        &self,
        resolution: Option<VideoDimensions>,
        frame_rate: Option<f64>,
    ) -> Result<(), ClientError> {
        self.set_subscription(None, None, Some(resolution), Some(frame_rate))
            .await
    }

    /// `setSubscription`: what is `None` stays as it is.
    async fn set_subscription(
        &self,
        audio: Option<bool>,
        video: Option<bool>,
        preferred_resolution: Option<Option<VideoDimensions>>,
        preferred_frame_rate: Option<Option<f64>>,
    ) -> Result<(), ClientError> {
        let subscription_id = self.subscription_id.clone();
        self.session
            .request(|id| ClientMessage::SetSubscription {
                id,
                subscription_id,
                audio,
                video,
                preferred_resolution,
                preferred_frame_rate,
            })
            .await
            .map(|_| ())
    }

    /// Ends the subscription.
    pub async fn unsubscribe(self) -> Result<(), ClientError> {
        let subscription_id = self.subscription_id.clone();
        self.session
            .request(|id| ClientMessage::Unsubscribe {
                id,
                subscription_id,
            })
            .await
            .map(|_| ())
    }
}
