//! A connection's requests: run one at a time, in order, on their own task (so a slow
//! negotiation never stalls events or heartbeats), each answered with its reply or error.

use std::sync::Arc;

use parlor_proto::signaling::{
    ClientMessage, ErrorCode, MAX_STATS_REPORTS, ProtocolError, ServerMessage,
};
use parlor_router::ConsumerMedia;
use tokio::sync::mpsc;

use super::room::Room;
use crate::AppState;
use crate::inspector::What;
use crate::limits::REASON_RELAYED_SESSION;

/// A request as read: a message, or why it could not be read (with its id if readable).
pub(super) type Request = Result<ClientMessage, (Option<String>, ProtocolError)>;

/// The `id` of a request that did not parse, if it is a JSON object with a string id.
pub(super) fn request_id(text: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("id")?
    {
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub(super) async fn run_requests(
    state: AppState,
    room: Arc<Room>,
    me: String,
    mut requests: mpsc::Receiver<Request>,
) {
    while let Some(request) = requests.recv().await {
        let reply = match request {
            Ok(msg) => {
                let id = msg.id().map(str::to_owned);
                // Reports without an id are not answered (unless refused).
                let quiet = matches!(
                    msg,
                    ClientMessage::Stats { id: None, .. }
                        | ClientMessage::P2pSignal { id: None, .. }
                );
                let failed = match &msg {
                    ClientMessage::Publish { .. } => Some(None),
                    ClientMessage::Subscribe { stream_id, .. } => Some(Some(stream_id.clone())),
                    _ => None,
                };
                match handle(&state, &room, &me, msg).await {
                    Ok(_) if quiet => continue,
                    // A relayed stream has no media for the server to wait for: it is
                    // announced (`streamCreated`) right after the publisher's reply.
                    Ok(ServerMessage::Published { id, stream_id, sdp }) if room.is_relayed() => {
                        room.send_to(
                            &me,
                            &ServerMessage::Published {
                                id,
                                stream_id: stream_id.clone(),
                                sdp,
                            },
                        );
                        room.stream_media_connected(&stream_id.as_str().into());
                        continue;
                    }
                    Ok(reply) => reply,
                    Err(e) => {
                        // A publish or subscribe refused: the Inspector's error log.
                        let reason = format!("{}: {}", crate::wire_name(&e.code), e.message);
                        match failed {
                            Some(None) => room.record(What::PublishFailed {
                                connection_id: me.clone(),
                                stream_id: None,
                                reason,
                            }),
                            Some(Some(stream_id)) => room.record(What::SubscribeFailed {
                                connection_id: me.clone(),
                                stream_id,
                                reason,
                            }),
                            None => {}
                        }
                        e.to_message(id.as_deref())
                    }
                }
            }
            Err((id, e)) => e.to_message(id.as_deref()),
        };
        room.send_to(&me, &reply);
    }
}

/// A client that sent an SDP offer in a relayed session: it cannot connect peer to peer.
fn relayed_media_refused(what: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::MediaError,
        format!(
            "{what}: this session is relayed (p2p.preference=enabled): media goes directly \
             between clients over p2pSignal, and the server takes no SDP offer; this client \
             needs a routed session (p2p.preference=disabled)"
        ),
    )
    .with_reason(REASON_RELAYED_SESSION)
}

pub(crate) async fn handle(
    state: &AppState,
    room: &Arc<Room>,
    me: &str,
    msg: ClientMessage,
) -> Result<ServerMessage, ProtocolError> {
    let router = &state.signaling.router;
    let ok = |id: Option<String>| Ok(ServerMessage::Ok { id });
    match msg {
        ClientMessage::Connect { .. } | ClientMessage::Resume { .. } => {
            unreachable!("handled by the connection loop")
        }
        ClientMessage::RestartIce {
            id,
            stream_id,
            subscription_id,
            sdp,
        } => {
            if room.is_relayed() {
                return Err(relayed_media_refused("restartIce"));
            }
            let transport = match (stream_id, subscription_id) {
                (Some(stream), None) => {
                    room.own_stream(me, &stream)?;
                    stream
                }
                (None, Some(sub)) => {
                    room.own_subscription(me, &sub)?;
                    sub
                }
                _ => {
                    return Err(ProtocolError::new(
                        ErrorCode::BadRequest,
                        "restartIce names exactly one of streamId and subscriptionId",
                    ));
                }
            };
            match router.restart_ice(transport.as_str().into(), sdp).await {
                Ok(sdp) => Ok(ServerMessage::IceRestarted { id, sdp }),
                Err(e) => Err(ProtocolError::new(
                    ErrorCode::MediaError,
                    format!("the ICE restart failed: {e}"),
                )),
            }
        }
        // A participant's token update is handled by its connection loop.
        ClientMessage::UpdateToken { .. } => Err(ProtocolError::new(
            ErrorCode::BadRequest,
            "updateToken is for connections made with a Rooms join token; an OpenTok token              is checked only at connect",
        )),
        ClientMessage::Ping { id } => Ok(ServerMessage::Pong { id }),
        ClientMessage::Stats { id, reports } => {
            if reports.len() > MAX_STATS_REPORTS {
                return Err(ProtocolError::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "stats: {} reports; the limit is {MAX_STATS_REPORTS}",
                        reports.len()
                    ),
                ));
            }
            for report in &reports {
                report.validate()?;
            }
            room.client_stats(me, reports);
            ok(id)
        }
        ClientMessage::Publish {
            id,
            name,
            has_audio,
            has_video,
            video_type,
            video_dimensions,
            simulcast,
            sdp,
        } => {
            super::room::layers::validate_layers(&simulcast)?;
            if room.is_relayed() {
                if !sdp.is_empty() {
                    return Err(relayed_media_refused("publish"));
                }
                // No producer: the publisher sends to each subscriber directly.
                let stream =
                    room.add_stream(me, name, has_audio, has_video, video_type, video_dimensions)?;
                return Ok(ServerMessage::Published {
                    id,
                    stream_id: stream.to_string(),
                    sdp: String::new(),
                });
            }
            let stream =
                room.add_stream(me, name, has_audio, has_video, video_type, video_dimensions)?;
            room.set_stream_layers(&stream, simulcast);
            match router.create_producer(stream.clone(), sdp).await {
                Ok(answer) => {
                    if !has_audio {
                        router.set_producer_audio(stream.clone(), false);
                    }
                    room.producer_created(&stream);
                    Ok(ServerMessage::Published {
                        id,
                        stream_id: stream.to_string(),
                        sdp: answer,
                    })
                }
                Err(e) => {
                    room.discard_stream(&stream);
                    Err(ProtocolError::new(ErrorCode::MediaError, e.to_string()))
                }
            }
        }
        ClientMessage::Unpublish { id, stream_id } => {
            room.unpublish(Some(me), &stream_id, false)?;
            ok(id)
        }
        ClientMessage::Subscribe {
            id,
            stream_id,
            audio,
            video,
            test_network,
            sdp,
        } => {
            if room.is_relayed() {
                if !sdp.is_empty() {
                    return Err(relayed_media_refused("subscribe"));
                }
                // No consumer: the subscriber offers to the stream's publisher (p2pSignal).
                let sub = room.add_subscription(me, &stream_id, test_network)?;
                return Ok(ServerMessage::Subscribed {
                    id,
                    subscription_id: sub.to_string(),
                    sdp: String::new(),
                });
            }
            let sub = room.add_subscription(me, &stream_id, test_network)?;
            let media = ConsumerMedia { audio, video };
            match router
                .create_consumer(sub.clone(), stream_id.as_str().into(), sdp, media)
                .await
            {
                Ok(answer) => Ok(ServerMessage::Subscribed {
                    id,
                    subscription_id: sub.to_string(),
                    sdp: answer,
                }),
                Err(e) => {
                    room.end_subscription(&sub, false);
                    let code = match e {
                        parlor_router::RouterError::UnknownProducer(_) => ErrorCode::NotFound,
                        _ => ErrorCode::MediaError,
                    };
                    Err(ProtocolError::new(code, e.to_string()))
                }
            }
        }
        ClientMessage::SetSubscription {
            id,
            subscription_id,
            audio,
            video,
            preferred_resolution,
            preferred_frame_rate,
        } => {
            room.own_subscription(me, &subscription_id)?;
            let preferences = preferred_resolution.is_some() || preferred_frame_rate.is_some();
            let max_layer = if preferences {
                Some(room.set_preferences(
                    me,
                    &subscription_id,
                    preferred_resolution,
                    preferred_frame_rate,
                )?)
            } else {
                None
            };
            // Relayed: the subscriber stops playing what it does not want by itself.
            if !room.is_relayed() {
                if audio.is_some() || video.is_some() {
                    router.set_consumer_media(subscription_id.as_str().into(), audio, video);
                }
                if let Some(max) = max_layer {
                    router.set_consumer_max_layer(subscription_id.as_str().into(), max);
                }
            }
            ok(id)
        }
        ClientMessage::Unsubscribe {
            id,
            subscription_id,
        } => {
            room.own_subscription(me, &subscription_id)?;
            room.end_subscription(&subscription_id, false);
            ok(id)
        }
        ClientMessage::SetStreamProperty {
            id,
            stream_id,
            has_audio,
            has_video,
            video_dimensions,
        } => {
            room.set_stream_property(me, &stream_id, has_audio, has_video, video_dimensions)?;
            ok(id)
        }
        ClientMessage::Signal {
            id,
            to,
            signal_type,
            data,
        } => {
            room.signal(Some(me), to.as_deref(), signal_type, data)?;
            ok(id)
        }
        ClientMessage::P2pSignal {
            id,
            to,
            stream_id,
            subscription_id,
            kind,
            sdp,
            candidate,
        } => {
            room.p2p_signal(me, &to, &stream_id, &subscription_id, kind, sdp, candidate)?;
            ok(id)
        }
        ClientMessage::ForceDisconnect { id, connection_id } => {
            if connection_id == me {
                return Err(ProtocolError::new(
                    ErrorCode::BadRequest,
                    "to leave, disconnect; forceDisconnect is for other connections",
                ));
            }
            room.force_disconnect(Some(me), &connection_id)?;
            ok(id)
        }
        ClientMessage::ForceUnpublish { id, stream_id } => {
            room.unpublish(Some(me), &stream_id, true)?;
            ok(id)
        }
        ClientMessage::ForceMuteStream { id, stream_id } => {
            room.force_mute(Some(me), Some(&stream_id), &[])?;
            ok(id)
        }
        ClientMessage::ForceMuteAll {
            id,
            excluded_stream_ids,
        } => {
            room.force_mute(Some(me), None, &excluded_stream_ids)?;
            ok(id)
        }
    }
}
