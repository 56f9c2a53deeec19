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
    ClientMessage, ConnectionReason, ErrorCode, ProtocolError, ServerMessage,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, interval};

use super::outbox::{Outbound, OutboxReader};
use super::requests::{Request, request_id, run_requests};
use super::resume::{Refusal, Replay, Suspended, Takeover};
use super::room::Room;
use crate::AppState;
use crate::inspector::{ClientInfo, What};
use crate::limits::REASON_RATE_LIMITED;
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
/// How long a connection being suspended gives the requests it had read to finish (their
/// replies are queued for the client that resumes).
const SUSPEND_DRAIN: Duration = Duration::from_secs(5);
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
    let (session_id, token, context, reconnect) = match ClientMessage::parse(&first) {
        Ok(ClientMessage::Connect {
            version,
            session_id,
            token,
            client: sdk,
            context,
            reconnect,
        }) if version == parlor_proto::signaling::VERSION => {
            if let Some(sdk) = sdk {
                let max = parlor_proto::signaling::MAX_CLIENT_SDK_CHARS;
                client.sdk = Some(cut(&sdk.name, max));
                client.sdk_version = Some(cut(&sdk.version, max));
            }
            (session_id, token, context, reconnect)
        }
        Ok(ClientMessage::Resume {
            version,
            session_id,
            connection_id,
            resume_token,
            received,
        }) if version == parlor_proto::signaling::VERSION => {
            return resume(
                socket,
                state,
                session_id,
                connection_id,
                resume_token,
                received,
            )
            .await;
        }
        Ok(ClientMessage::Connect { version, .. } | ClientMessage::Resume { version, .. }) => {
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
    // A client that can resume gets its credential in `connected`.
    let resume_grant = if reconnect {
        state.signaling.resumable.grant()
    } else {
        None
    };
    let resume_token = resume_grant.as_ref().map(|g| g.token.clone());
    if parlor_proto::rooms_token::is_join_token(&token) {
        let (tx, outbox) = super::outbox::outbox();
        let joined =
            super::rooms_join::admit(&state, session_id, token, context, client, tx, resume_grant)
                .await;
        return match joined {
            Ok(member) => {
                let link = Link::new(outbox, resume_token);
                run(socket, state, member, link, Some(upgraded)).await
            }
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
            resume: resume_grant,
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
    run(
        socket,
        state,
        member,
        Link::new(outbox, resume_token),
        Some(upgraded),
    )
    .await
}

/// What a connection keeps from one WebSocket to the next when it is resumed: its queue,
/// what its writer sent (for resending), how many client messages it had, and its resume
/// credential (`None`: the client cannot resume, and the connection ends with its socket).
pub(super) struct Link {
    outbox: OutboxReader,
    replay: Replay,
    heard: u64,
    resume_token: Option<String>,
}

impl Link {
    fn new(outbox: OutboxReader, resume_token: Option<String>) -> Self {
        Link {
            outbox,
            replay: Replay::default(),
            heard: 0,
            resume_token,
        }
    }
}

/// A `resume` as the first message of a WebSocket: takes the connection back, sends
/// `resumed` and what the client missed, and serves it as before.
async fn resume(
    mut socket: WebSocket,
    state: AppState,
    session_id: String,
    connection_id: String,
    token: String,
    received: u64,
) {
    let resumable = &state.signaling.resumable;
    let refuse = |refusal: Refusal| {
        error(
            None,
            ErrorCode::AuthFailed,
            Some(refusal.reason()),
            refusal.message().into(),
        )
    };
    let suspended = match resumable.take(&session_id, &connection_id, &token).await {
        Ok(s) => s,
        Err(refusal) => {
            tracing::info!(session = %Untrusted(&session_id), reason = refusal.reason(), "resume refused");
            let msg = refuse(refusal);
            return close(&mut socket, &msg, CLOSE_AUTH, refusal.reason()).await;
        }
    };
    let Some(missed) = suspended.replay.after(received) else {
        let refusal = Refusal::TooFarBehind;
        tracing::info!(connection = %connection_id, reason = refusal.reason(), "resume refused");
        close(&mut socket, &refuse(refusal), CLOSE_AUTH, refusal.reason()).await;
        return end_suspended(&state, *suspended).await;
    };
    let resumed = ServerMessage::Resumed {
        connection_id: connection_id.clone(),
        heard: suspended.heard,
    };
    let resent = missed.len() as u64;
    let mut frames = std::iter::once(text(&resumed)).chain(missed.into_iter().map(Message::Text));
    let delivered = loop {
        let Some(frame) = frames.next() else {
            break true;
        };
        match tokio::time::timeout(WRITE_TIMEOUT, socket.send(frame)).await {
            Ok(Ok(())) => {}
            _ => break false,
        }
    };
    if !delivered {
        // Lost again on the way: it waits for another try.
        return park(&state, suspended);
    }
    tracing::info!(session = %session_id, connection = %connection_id, "connection resumed");
    let Suspended {
        member,
        outbox,
        replay,
        heard,
        token,
        lost_at,
    } = *suspended;
    member.room.record(What::ConnectionResumed {
        connection_id,
        away_ms: u64::try_from(lost_at.elapsed().as_millis()).unwrap_or(u64::MAX),
        resent,
        heard,
    });
    let link = Link {
        outbox,
        replay,
        heard,
        resume_token: Some(token),
    };
    run(socket, state, member, link, None).await
}

/// Parks a suspended connection until it is resumed or its grace period runs out.
fn park(state: &AppState, suspended: Box<Suspended>) {
    let resumable = &state.signaling.resumable;
    let grace = resumable.grace().unwrap_or_default();
    let me = suspended.member.me.clone();
    tracing::info!(connection = %me, grace_secs = grace.as_secs(), "connection lost; waiting for it to resume");
    let generation = resumable.suspend(suspended);
    let state = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        if let Some(s) = state.signaling.resumable.expire(&me, generation) {
            tracing::info!(connection = %me, "connection not resumed in time");
            end_suspended(&state, *s).await;
        }
    });
}

/// A suspended connection that will not be resumed leaves as a lost one always did.
async fn end_suspended(state: &AppState, suspended: Suspended) {
    let Member { room, me, rooms } = suspended.member;
    let reason = ConnectionReason::NetworkDisconnected;
    room.leave(&me, reason);
    if let Some(p) = rooms {
        p.left(state, &me, reason).await;
    }
}

/// Waits for a request to take this connection over (never, for one that cannot resume).
async fn next_takeover(takeovers: &mut Option<mpsc::Receiver<Takeover>>) -> Takeover {
    match takeovers {
        Some(rx) => match rx.recv().await {
            Some(t) => t,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// How a connection's WebSocket stopped being served.
enum Exit {
    /// A network failure (`networkDisconnected`), for this cause: resumable.
    Lost(&'static str),
    /// For this reason, never resumable (a full queue, an expired token).
    Ended(ConnectionReason),
    /// The writer stopped (and gave back the queue, unless it panicked).
    Writer(Option<(ConnectionReason, OutboxReader, Replay)>),
    /// A `resume` on another WebSocket takes the connection.
    TakenOver(Takeover),
}

/// A client let into a session's room.
pub(super) struct Member {
    pub room: Arc<Room>,
    /// Its connection ID.
    pub me: String,
    /// A Rooms participant's join, when it came with a Rooms join token.
    pub rooms: Option<super::rooms_join::Participant>,
}

/// Serves a member until it leaves, is forced out, or goes silent (then, if its client
/// can resume, suspends it: `resume.rs`). `upgraded`: when a new connection's WebSocket
/// opened (for the join-time histogram); `None` for a resumed one.
async fn run(
    socket: WebSocket,
    state: AppState,
    member: Member,
    link: Link,
    upgraded: Option<Instant>,
) {
    let Member {
        room,
        me,
        rooms: mut participant,
    } = member;
    let Link {
        outbox,
        replay,
        mut heard,
        resume_token,
    } = link;
    if let Some(upgraded) = upgraded {
        state
            .signaling
            .histograms
            .join
            .observe(upgraded.elapsed().as_secs_f64());
    }
    let mut takeovers = resume_token
        .as_deref()
        .map(|t| state.signaling.resumable.live(&me, t));
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
    // Asks the writer to stop and give back the queue (when the connection is suspended).
    let (stop_writer, stop) = oneshot::channel::<()>();
    let mut writer = tokio::spawn(write_events(sink, outbox, replay, stop));
    let (requests_tx, requests_rx) = mpsc::channel::<Request>(MAX_PENDING_REQUESTS);
    let worker = tokio::spawn(run_requests(
        state.clone(),
        room.clone(),
        me.clone(),
        requests_rx,
    ));
    let mut heartbeat = interval(PING_INTERVAL);
    let mut last_heard = Instant::now();
    let exit = loop {
        tokio::select! {
            incoming = stream.next() => {
                last_heard = Instant::now();
                if let Some(Ok(Message::Text(_) | Message::Binary(_))) = &incoming {
                    heard += 1;
                }
                let request = match incoming {
                    Some(Ok(Message::Text(t))) => match ClientMessage::parse(&t) {
                        Ok(ClientMessage::Connect { .. } | ClientMessage::Resume { .. }) => Err((None, ProtocolError::new(ErrorCode::BadRequest, "already connected"))),
                        Ok(msg) => Ok(msg),
                        // Answered with the request's id when it has a readable one.
                        Err(e) => Err((request_id(&t), e)),
                    },
                    Some(Ok(Message::Binary(_))) => Err((None, ProtocolError::new(
                        ErrorCode::BadRequest,
                        "binary frames are not part of the protocol",
                    ))),
                    Some(Ok(Message::Close(_))) | None => break Exit::Ended(ConnectionReason::ClientDisconnected),
                    Some(Ok(_)) => continue, // ping/pong
                    Some(Err(_)) => break Exit::Lost("socketError"),
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
            ended = &mut writer => break Exit::Writer(ended.ok()),
            _ = overflow.changed() => {
                break Exit::Ended(overflow.borrow().unwrap_or(ConnectionReason::NetworkDisconnected));
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    break Exit::Lost("silence");
                }
            }
            takeover = next_takeover(&mut takeovers) => break Exit::TakenOver(takeover),
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
                break Exit::Ended(ConnectionReason::ForceDisconnected);
            }
        }
    };
    drop(requests_tx);
    let lost = ConnectionReason::NetworkDisconnected;
    // Why, whether it may be resumed (and after what cause), who takes it over, and the
    // queue if the writer already gave it back.
    let (reason, cause, takeover, given_back) = match exit {
        Exit::Lost(cause) => (lost, Some(cause), None, None),
        Exit::Ended(reason) => (reason, None, None, None),
        Exit::Writer(Some((reason, outbox, replay))) => (
            reason,
            (reason == lost).then_some("socketError"),
            None,
            Some((outbox, replay)),
        ),
        Exit::Writer(None) => (lost, None, None, None),
        Exit::TakenOver(t) => (lost, Some("takenOver"), Some(t), None),
    };
    // A connection already out of its room (forced out: a kick, a moderator's
    // forceDisconnect, an expired token) is never suspended, however its socket ended: its
    // client may close the socket abruptly right after being told.
    let cause = cause.filter(|_| room.is_member(&me));
    if let (Some(cause), Some(token)) = (cause, resume_token) {
        // Suspend: the requests already read finish (their replies wait in the queue),
        // the writer gives the queue back, and the connection waits for its client.
        let mut worker = worker;
        if tokio::time::timeout(SUSPEND_DRAIN, &mut worker)
            .await
            .is_err()
        {
            worker.abort();
        }
        let given_back = match given_back {
            Some(back) => Some(back),
            None => {
                let _ = stop_writer.send(());
                match tokio::time::timeout(CLOSE_GRACE, &mut writer).await {
                    Ok(Ok((_, outbox, replay))) => Some((outbox, replay)),
                    _ => None,
                }
            }
        };
        if let Some((outbox, replay)) = given_back {
            writer.abort();
            room.record(What::ConnectionLost {
                connection_id: me.clone(),
                cause,
            });
            let suspended = Box::new(Suspended {
                member: Member {
                    room,
                    me,
                    rooms: participant,
                },
                outbox,
                replay,
                heard,
                token,
                lost_at: std::time::Instant::now(),
            });
            match takeover {
                Some(takeover) => {
                    if let Err(suspended) = takeover.send(suspended) {
                        park(&state, suspended);
                    }
                }
                None => park(&state, suspended),
            }
            return;
        }
    } else {
        worker.abort();
    }
    state.signaling.resumable.forget(&me);
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

/// Writes the member's queued events to the socket (recording each in `replay`), and
/// pings every [`PING_INTERVAL`]. Returns why it stopped — the socket failed or blocked
/// longer than [`WRITE_TIMEOUT`] (`networkDisconnected`), the room asked to close, the
/// queue is gone, or `stop` (the connection is suspended) — with the queue and the replay.
async fn write_events(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outbox: OutboxReader,
    mut replay: Replay,
    stop: oneshot::Receiver<()>,
) -> (ConnectionReason, OutboxReader, Replay) {
    // Fused: once it resolved (a dropped sender: never asked), it stays pending.
    let mut stop = futures_util::FutureExt::fuse(stop);
    let lost = ConnectionReason::NetworkDisconnected;
    let mut ping = interval(PING_INTERVAL);
    let reason = loop {
        let frame = tokio::select! {
            Ok(()) = &mut stop => return (lost, outbox, replay),
            item = outbox.recv() => match item {
                Some(Outbound::Text(t)) => {
                    replay.record(&t);
                    Message::Text(t)
                }
                Some(Outbound::Close(reason, detail)) => {
                    let bye = [
                        text(&ServerMessage::Disconnected { reason, detail: detail.map(str::to_owned) }),
                        Message::Close(Some(CloseFrame { code: CLOSE_FORCED, reason: "force disconnected".into() })),
                    ];
                    for frame in bye {
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(frame)).await;
                    }
                    return (reason, outbox, replay);
                }
                None => break ConnectionReason::ClientDisconnected,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
        };
        let sent = tokio::select! {
            Ok(()) = &mut stop => return (lost, outbox, replay),
            sent = tokio::time::timeout(WRITE_TIMEOUT, sink.send(frame)) => sent,
        };
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return (lost, outbox, replay),
        }
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
    (reason, outbox, replay)
}
