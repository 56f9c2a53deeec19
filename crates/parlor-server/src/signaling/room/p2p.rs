//! Relayed (peer-to-peer) sessions: the room relays offers, answers and candidates between a
//! stream's publisher and its subscribers (`p2pSignal`), and tells a publisher when one of
//! its peer connections' subscription ends.

use super::*;

impl Room {
    /// In a relayed session, a subscription that ends is the end of the peer connection its
    /// stream's publisher keeps for it: the publisher gets `subscriptionEnded` too.
    pub(super) fn tell_relayed_publisher(
        &self,
        state: &State,
        subscription_id: &str,
        sub: &SubscriptionEntry,
    ) {
        if !self.relayed {
            return;
        }
        if let Some(entry) = state.streams.get(&sub.stream_id) {
            state.send(
                &entry.stream.connection.connection_id,
                &ServerMessage::SubscriptionEnded {
                    subscription_id: subscription_id.to_owned(),
                    stream_id: sub.stream_id.clone(),
                },
            );
        }
    }

    /// Relayed sessions: forwards an offer, answer or candidate between a stream's
    /// publisher and one of its subscribers. `from` and `to` must be those two (either
    /// way), both in this session; the subscription must be to that stream.
    #[allow(clippy::too_many_arguments)]
    pub fn p2p_signal(
        &self,
        from: &str,
        to: &str,
        stream_id: &str,
        subscription_id: &str,
        kind: P2pKind,
        sdp: Option<String>,
        candidate: Option<P2pCandidate>,
    ) -> Result<(), ProtocolError> {
        if !self.relayed {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                "p2pSignal: this session is routed (p2p.preference=disabled); its media goes \
                 through the server",
            ));
        }
        parlor_proto::signaling::validate_p2p(kind, sdp.as_deref(), candidate.as_ref())?;
        let mut state = lock(&self.state);
        if !state.members.contains_key(from) {
            return Err(ProtocolError::new(ErrorCode::NotConnected, "not connected"));
        }
        if from == to {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                "p2pSignal: 'to' is this connection",
            ));
        }
        if !state.members.contains_key(to) {
            return Err(not_found("connection", to));
        }
        let publisher = match state.streams.get(stream_id) {
            Some(s) => s.stream.connection.connection_id.clone(),
            None => return Err(not_found("stream", stream_id)),
        };
        let subscriber = match state.subscriptions.get(subscription_id) {
            Some(s) if s.stream_id == stream_id => s.connection_id.clone(),
            _ => return Err(not_found("subscription", subscription_id)),
        };
        let pair_ok =
            (from == publisher && to == subscriber) || (from == subscriber && to == publisher);
        if !pair_ok {
            return Err(ProtocolError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "p2pSignal: stream {stream_id}'s publisher and subscription \
                     {subscription_id}'s subscriber are the only parties of its peer connection"
                ),
            ));
        }
        let expected = match kind {
            P2pKind::Offer => from == subscriber,
            P2pKind::Answer => from == publisher,
            P2pKind::Candidate => true,
        };
        if !expected {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                "p2pSignal: the subscriber offers and the stream's publisher answers",
            ));
        }
        // The publisher's answer: the subscription is set up (for the history; its media
        // connects between the two clients, out of the server's sight).
        if kind == P2pKind::Answer
            && let Some(sub) = state.subscriptions.get_mut(subscription_id)
            && !sub.connected
        {
            sub.connected = true;
            self.record(What::SubscriptionCreated {
                subscription_id: subscription_id.to_owned(),
                stream_id: stream_id.to_owned(),
                connection_id: subscriber.clone(),
                test_network: sub.precall.is_some(),
            });
        }
        state.send(
            to,
            &ServerMessage::P2pSignal {
                from: from.to_owned(),
                stream_id: stream_id.to_owned(),
                subscription_id: subscription_id.to_owned(),
                kind,
                sdp,
                candidate,
            },
        );
        Ok(())
    }
}
