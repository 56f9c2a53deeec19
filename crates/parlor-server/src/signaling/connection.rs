//! One client's WebSocket: authenticate with the first message, then serve requests and
//! relay room events until the client leaves, is forced out, or goes silent.

use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use parlor_proto::signaling::{
    ClientMessage, ConnectionReason, ErrorCode, MAX_STATS_REPORTS, ProtocolError, ServerMessage,
};
use parlor_router::ConsumerMedia;
use tokio::sync::mpsc;
use tokio::time::{Instant, interval};

use super::outbox::{Outbound, OutboxReader};
use super::room::Room;
use crate::AppState;
use crate::inspector::{ClientInfo, What};
use crate::limits::{REASON_RATE_LIMITED, REASON_RELAYED_SESSION};
use crate::logsafe::Untrusted;
use crate::verify::{VerifyError, verify_client_token_for_session};

/// The first message must arrive within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The server pings this often.
const PING_INTERVAL: Duration = Duration::from_secs(2);
/// A client silent this long (no message, no pong) is gone: networkDisconnected.
const SILENCE_LIMIT: Duration = Duration::from_secs(8);

/// A write to the client's socket that takes longer than this ends the connection.
const WRITE_TIMEOUT: Duration = SILENCE_LIMIT;
/// How long a leaving client's writer may take to send what is queued.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Requests read but not answered yet; past this a request is refused (`limitExceeded`).
const MAX_PENDING_REQUESTS: usize = 64;

/// Frames up to this size are read (and answered `limitExceeded` past the protocol's own
/// limit); larger ones end the connection.
const MAX_FRAME_BYTES: usize = 1 << 20;
/// The socket is read in chunks of this size (a message may span several). Signaling
/// messages are small; tungstenite's 128 KiB default was most of an idle connection's memory.
const READ_CHUNK_BYTES: usize = 8 << 10;

/// WebSocket close codes.
const CLOSE_PROTOCOL: u16 = 4000;
const CLOSE_AUTH: u16 = 4001;
const CLOSE_FORCED: u16 = 4003;
const CLOSE_TIMEOUT: u16 = 4008;
/// Close code when the session is at a cap (`limitExceeded`, reason `session_full`).
const CLOSE_LIMIT: u16 = 4029;

/// `GET /v1/rtc`: upgrade to the signaling protocol.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    ws: WebSocketUpgrade,
) -> Response {
    // What the Inspector shows about the client (recorded only once its token verified).
    let client = ClientInfo {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| cut(v, MAX_USER_AGENT_CHARS)),
        remote_addr: peer.map(|Extension(ConnectInfo(a))| a.ip().to_string()),
        ..ClientInfo::default()
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_CHUNK_BYTES)
        .on_upgrade(move |socket| serve(socket, state, client))
}

/// The longest `User-Agent` kept.
const MAX_USER_AGENT_CHARS: usize = 512;

/// `text`, at most `max` characters of it.
fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn text(msg: &ServerMessage) -> Message {
    Message::Text(Utf8Bytes::from(
        serde_json::to_string(msg).expect("server messages always serialize"),
    ))
}

async fn close(socket: &mut WebSocket, msg: &ServerMessage, code: u16, reason: &str) {
    let _ = socket.send(text(msg)).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason.to_owned()),
        })))
        .await;
}

fn error(
    id: Option<&str>,
    code: ErrorCode,
    reason: Option<&str>,
    message: String,
) -> ServerMessage {
    ServerMessage::Error {
        id: id.map(str::to_owned),
        code,
        reason: reason.map(str::to_owned),
        message,
    }
}

async fn serve(mut socket: WebSocket, state: AppState, mut client: ClientInfo) {
    let upgraded = Instant::now();
    // 1. Authenticate: nothing else is read, and nothing is joined, before the token passes.
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let first = loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Ok(Some(Ok(Message::Text(t)))) => break t,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(Message::Binary(_)))) => {
                let msg = error(
                    None,
                    ErrorCode::BadRequest,
                    None,
                    "expected a text frame".into(),
                );
                return close(&mut socket, &msg, CLOSE_PROTOCOL, "protocol error").await;
            }
            Err(_) => {
                let msg = error(
                    None,
                    ErrorCode::NotConnected,
                    None,
                    "no connect message within 10 s".into(),
                );
                return close(&mut socket, &msg, CLOSE_TIMEOUT, "connect timeout").await;
            }
        }
    };
    let (session_id, token, context) = match ClientMessage::parse(&first) {
        Ok(ClientMessage::Connect {
            version,
            session_id,
            token,
            client: sdk,
            context,
        }) if version == parlor_proto::signaling::VERSION => {
            if let Some(sdk) = sdk {
                let max = parlor_proto::signaling::MAX_CLIENT_SDK_CHARS;
                client.sdk = Some(cut(&sdk.name, max));
                client.sdk_version = Some(cut(&sdk.version, max));
            }
            (session_id, token, context)
        }
        Ok(ClientMessage::Connect { version, .. }) => {
            let msg = error(
                None,
                ErrorCode::BadRequest,
                None,
                format!("protocol version {version} is not supported; this server speaks 1"),
            );
            return close(&mut socket, &msg, CLOSE_PROTOCOL, "unsupported version").await;
        }
        Ok(other) => {
            let msg = error(
                other.id(),
                ErrorCode::NotConnected,
                None,
                "the first message must be 'connect'".into(),
            );
            return close(&mut socket, &msg, CLOSE_PROTOCOL, "not connected").await;
        }
        Err(e) => {
            return close(
                &mut socket,
                &e.to_message(None),
                CLOSE_PROTOCOL,
                "protocol error",
            )
            .await;
        }
    };
    if parlor_proto::rooms_token::is_join_token(&token) {
        let (tx, outbox) = super::outbox::outbox();
        let joined = super::rooms_join::admit(&state, session_id, token, context, client, tx).await;
        return match joined {
            Ok(member) => run(socket, state, member, outbox, upgraded).await,
            Err(refusal) => close(&mut socket, &refusal.msg, refusal.code, &refusal.reason).await,
        };
    }
    if context.is_some() {
        let msg = error(
            None,
            ErrorCode::BadRequest,
            None,
            "'context' is for Rooms join tokens; an OpenTok token carries its connection data"
                .into(),
        );
        return close(&mut socket, &msg, CLOSE_PROTOCOL, "protocol error").await;
    }
    let store = state.store.clone();
    let sid = session_id.clone();
    let verified = tokio::task::spawn_blocking(move || {
        verify_client_token_for_session(&store, &token, Some(&sid), parlor_proto::unix_now())
    })
    .await;
    let (grant, session) = match verified {
        Ok(Ok(verified)) => verified,
        Ok(Err(VerifyError::Token(e))) => {
            tracing::info!(session = %Untrusted(&session_id), reason = e.reason(), "client token refused");
            // Not in the session history: the session named here is the client's word,
            // not checked against the token's project yet (an expired token of one project
            // must not write into another's timeline).
            let msg = error(None, ErrorCode::AuthFailed, Some(e.reason()), e.to_string());
            return close(&mut socket, &msg, CLOSE_AUTH, e.reason()).await;
        }
        Ok(Err(VerifyError::Store(e))) => {
            tracing::error!(error = %e, "storage failure while verifying a token");
            let msg = error(None, ErrorCode::Internal, None, "internal error".into());
            return close(&mut socket, &msg, 1011, "internal error").await;
        }
        Err(_) => return,
    };

    // 2. Join the room.
    let (tx, outbox) = super::outbox::outbox();
    let joined = state.signaling.join(
        &grant.session_id,
        &grant.project_id,
        super::Joining {
            data: grant.data.clone().unwrap_or_default(),
            role: grant.role,
            layout_classes: grant.initial_layout_class_list.clone(),
            client: client.clone(),
            relayed: session.media_mode == "relayed",
        },
        tx,
    );
    let (room, me) = match joined {
        Ok(joined) => joined,
        Err(e) => {
            tracing::info!(session = %grant.session_id, "connection refused: {e}");
            let reason = e.reason.unwrap_or("limit exceeded");
            state.signaling.history.record(
                &grant.session_id,
                None,
                What::ConnectionFailed {
                    reason: reason.to_owned(),
                    message: e.message.clone(),
                    client,
                },
            );
            return close(&mut socket, &e.to_message(None), CLOSE_LIMIT, reason).await;
        }
    };
    tracing::info!(session = %grant.session_id, connection = %me.connection_id, role = %grant.role, "connection joined");
    let member = Member {
        room,
        me: me.connection_id,
        rooms: None,
    };
    run(socket, state, member, outbox, upgraded).await
}

/// A client let into a session's room.
pub(super) struct Member {
    pub room: Arc<Room>,
    /// Its connection ID.
    pub me: String,
    /// A Rooms participant's join, when it came with a Rooms join token.
    pub rooms: Option<super::rooms_join::Participant>,
}

/// Serves a member until it leaves, is forced out, or goes silent.
async fn run(
    socket: WebSocket,
    state: AppState,
    member: Member,
    outbox: OutboxReader,
    upgraded: Instant,
) {
    let Member {
        room,
        me,
        rooms: mut participant,
    } = member;
    state
        .signaling
        .histograms
        .join
        .observe(upgraded.elapsed().as_secs_f64());
    let signals = state.signaling.signal_limiter();
    // Offers, answers and candidates of relayed sessions, at the same rate as signals but
    // counted apart (a call setting up must not eat the app's signal budget, nor it theirs).
    let p2p_signals = state.signaling.signal_limiter();

    // 3. Serve until the client leaves, is forced out, or goes silent. Three tasks, so
    // that none waits for another: this one reads the client and keeps the heartbeat; the
    // writer drains the member's queue into the socket (a client that does not read
    // blocks only its writer); requests run one at a time, in order, on their own task,
    // so a slow negotiation never stalls events or heartbeats.
    let (sink, mut stream) = socket.split();
    let mut overflow = outbox.ended.clone();
    let mut writer = tokio::spawn(write_events(sink, outbox));
    let (requests_tx, requests_rx) = mpsc::channel::<Request>(MAX_PENDING_REQUESTS);
    let worker = tokio::spawn(run_requests(
        state.clone(),
        room.clone(),
        me.clone(),
        requests_rx,
    ));
    let mut heartbeat = interval(PING_INTERVAL);
    let mut last_heard = Instant::now();
    let reason = loop {
        tokio::select! {
            incoming = stream.next() => {
                last_heard = Instant::now();
                let request = match incoming {
                    Some(Ok(Message::Text(t))) => match ClientMessage::parse(&t) {
                        Ok(ClientMessage::Connect { .. }) => Err((None, ProtocolError::new(ErrorCode::BadRequest, "already connected"))),
                        Ok(msg) => Ok(msg),
                        // Answered with the request's id when it has a readable one.
                        Err(e) => Err((request_id(&t), e)),
                    },
                    Some(Ok(Message::Binary(_))) => Err((None, ProtocolError::new(
                        ErrorCode::BadRequest,
                        "binary frames are not part of the protocol",
                    ))),
                    Some(Ok(Message::Close(_))) | None => break ConnectionReason::ClientDisconnected,
                    Some(Ok(_)) => continue, // ping/pong
                    Some(Err(_)) => break ConnectionReason::NetworkDisconnected,
                };
                // Signals over the connection's rate are refused here, before they queue.
                if let Ok(ClientMessage::Signal { id, .. }) = &request
                    && let Err(wait) = signals.check()
                {
                    let e = ProtocolError::new(
                        ErrorCode::LimitExceeded,
                        format!(
                            "signal rate limit: at most {} signals per second per connection \
                             (bursts of twice as many); retry after {} ms",
                            signals.per_second(),
                            wait.millis()
                        ),
                    )
                    .with_reason(REASON_RATE_LIMITED);
                    room.send_to(&me, &e.to_message(id.as_deref()));
                    continue;
                }
                if let Ok(ClientMessage::P2pSignal { id, .. }) = &request
                    && let Err(wait) = p2p_signals.check()
                {
                    let e = ProtocolError::new(
                        ErrorCode::LimitExceeded,
                        format!(
                            "p2pSignal rate limit: at most {} per second per connection \
                             (bursts of twice as many); retry after {} ms",
                            p2p_signals.per_second(),
                            wait.millis()
                        ),
                    )
                    .with_reason(REASON_RATE_LIMITED);
                    room.send_to(&me, &e.to_message(id.as_deref()));
                    continue;
                }
                if let Ok(ClientMessage::UpdateToken { id, token }) = &request
                    && let Some(p) = &mut participant
                {
                    let reply = match p.update_token(&state, token).await {
                        Ok(()) => ServerMessage::Ok { id: id.clone() },
                        Err(e) => e.to_message(id.as_deref()),
                    };
                    room.send_to(&me, &reply);
                    continue;
                }
                if let Err(mpsc::error::TrySendError::Full(request)) = requests_tx.try_send(request) {
                    let id = match &request {
                        Ok(msg) => msg.id().map(str::to_owned),
                        Err((id, _)) => id.clone(),
                    };
                    let e = ProtocolError::new(
                        ErrorCode::LimitExceeded,
                        format!("more than {MAX_PENDING_REQUESTS} requests are waiting for an answer: wait for replies before sending more"),
                    );
                    room.send_to(&me, &e.to_message(id.as_deref()));
                }
            }
            ended = &mut writer => break ended.unwrap_or(ConnectionReason::NetworkDisconnected),
            _ = overflow.changed() => {
                break overflow.borrow().unwrap_or(ConnectionReason::NetworkDisconnected);
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    break ConnectionReason::NetworkDisconnected;
                }
            }
            _ = super::rooms_join::token_expiry(participant.as_ref()) => {
                let p = participant.as_mut().expect("only a participant's token expires");
                p.token_expired = true;
                let msg = error(
                    None,
                    ErrorCode::AuthFailed,
                    Some(super::rooms_join::REASON_TOKEN_EXPIRED),
                    "the join token expired: refresh it (refresh_client_token) and send \
                     updateToken before it does"
                        .into(),
                );
                room.send_to(&me, &msg);
                // Told to it and to the others as `token_expired`, then closed.
                let _ = room.force_disconnect_with(None, &me, Some(crate::rooms::left::TOKEN_EXPIRED));
                break ConnectionReason::ForceDisconnected;
            }
        }
    };
    drop(requests_tx);
    worker.abort();
    room.leave(&me, reason);
    if let Some(p) = participant {
        p.left(&state, &me, reason).await;
    }
    // The writer ends by itself once the member's queue is dropped with the room's entry
    // (after sending what is queued, a close frame included); one that is stuck on a
    // client that does not read is cut off.
    if !writer.is_finished() {
        let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer).await;
        writer.abort();
    }
}

/// Writes the member's queued events to the socket, and pings every [`PING_INTERVAL`].
/// Returns why it stopped: the socket failed or blocked longer than [`WRITE_TIMEOUT`]
/// (`networkDisconnected`), the room asked to close, or the queue is gone.
async fn write_events(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outbox: OutboxReader,
) -> ConnectionReason {
    let mut ping = interval(PING_INTERVAL);
    let reason = loop {
        let frame = tokio::select! {
            item = outbox.recv() => match item {
                Some(Outbound::Text(t)) => Message::Text(t),
                Some(Outbound::Close(reason, detail)) => {
                    let bye = [
                        text(&ServerMessage::Disconnected { reason, detail: detail.map(str::to_owned) }),
                        Message::Close(Some(CloseFrame { code: CLOSE_FORCED, reason: "force disconnected".into() })),
                    ];
                    for frame in bye {
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(frame)).await;
                    }
                    return reason;
                }
                None => break ConnectionReason::ClientDisconnected,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
        };
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return ConnectionReason::NetworkDisconnected,
        }
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
    reason
}

/// A request as read: a message, or why it could not be read (with its id if readable).
type Request = Result<ClientMessage, (Option<String>, ProtocolError)>;

/// The `id` of a request that did not parse, if it is a JSON object with a string id.
fn request_id(text: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("id")?
    {
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

async fn run_requests(
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
        ClientMessage::Connect { .. } => unreachable!("handled by the connection loop"),
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
            sdp,
        } => {
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
        } => {
            room.own_subscription(me, &subscription_id)?;
            // Relayed: the subscriber stops playing what it does not want by itself.
            if !room.is_relayed() {
                router.set_consumer_media(subscription_id.as_str().into(), audio, video);
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
