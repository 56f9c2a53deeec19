//! The signaling link: one task owns the WebSocket, writes what the session sends, hands
//! what the server says to the session, and — when the socket is lost (an error, or 5 s
//! without a frame while the server pings every 2 s) — resumes the connection on a new
//! socket within the server's grace period (protocol.md §2.8): `resume` with the count of
//! messages received, then the messages the server did not hear are sent again.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parlor_proto::signaling::{ClientMessage, ResumeGrant, ServerMessage, VERSION};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::ClientError;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A socket that has carried no frame for this long is lost (the server pings every 2 s).
const SILENCE: Duration = Duration::from_secs(5);
/// How long one resume attempt (connect, `resume`, its answer) may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
/// Messages kept for resending (as the server keeps 512 for us).
const KEEP_SENT: usize = 512;

/// Where the link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Connected: messages flow.
    Connected,
    /// The socket was lost; resuming on a new one (OpenTok's `sessionReconnecting`).
    Reconnecting,
    /// Over: closed by either side, or not resumed in time.
    Closed,
}

/// How to reach the server again.
pub(crate) struct Resume {
    pub ws_url: String,
    pub tls: Option<tokio_tungstenite::Connector>,
    pub session_id: String,
    pub connection_id: String,
    pub grant: Option<ResumeGrant>,
}

/// Opens a WebSocket to `url`.
pub(crate) async fn open(
    url: &str,
    tls: Option<tokio_tungstenite::Connector>,
) -> Result<Ws, ClientError> {
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(url, None, false, tls)
        .await
        .map_err(|e| ClientError::Connection(format!("{url}: {e}")))?;
    Ok(ws)
}

/// Runs the link until it closes: sends what comes on `out` (a `Close` ends it), gives every
/// server message to `deliver`, resumes a lost socket if `resume.grant` allows.
pub(crate) async fn run(
    mut ws: Ws,
    resume: Resume,
    mut out: mpsc::UnboundedReceiver<Message>,
    state: watch::Sender<LinkState>,
    mut deliver: impl FnMut(ServerMessage),
) {
    // Counted as the server counts them: `connected` was the first message received.
    let mut received: u64 = 1;
    let mut sent: VecDeque<String> = VecDeque::new();
    let mut sent_before: u64 = 0; // messages no longer kept
    loop {
        let lost = serve(
            &mut ws,
            &mut out,
            &mut received,
            &mut sent,
            &mut sent_before,
            &mut deliver,
        )
        .await;
        if !lost {
            break;
        }
        let Some(grant) = &resume.grant else {
            break;
        };
        state.send_replace(LinkState::Reconnecting);
        tracing::info!(connection = %resume.connection_id, "signaling lost; resuming");
        match reconnect(&resume, grant, received).await {
            Some((new_ws, heard)) => {
                ws = new_ws;
                // The server heard `heard` messages: send the rest again, in order.
                let Some(skip) = heard.checked_sub(sent_before) else {
                    tracing::warn!("the server heard less than this client still keeps");
                    break;
                };
                let mut ok = true;
                for text in sent.iter().skip(skip as usize) {
                    if ws.send(Message::text(text.clone())).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                if !ok {
                    continue;
                }
                state.send_replace(LinkState::Connected);
                tracing::info!(connection = %resume.connection_id, heard, "signaling resumed");
            }
            None => break,
        }
    }
    let _ = ws.close(None).await;
    state.send_replace(LinkState::Closed);
}

/// Serves one socket. Returns whether it was lost (rather than closed on purpose).
async fn serve(
    ws: &mut Ws,
    out: &mut mpsc::UnboundedReceiver<Message>,
    received: &mut u64,
    sent: &mut VecDeque<String>,
    sent_before: &mut u64,
    deliver: &mut impl FnMut(ServerMessage),
) -> bool {
    let mut last_frame = Instant::now();
    let mut watchdog = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            msg = out.recv() => match msg {
                None | Some(Message::Close(_)) => {
                    let _ = ws.send(Message::Close(None)).await;
                    return false;
                }
                Some(Message::Text(t)) => {
                    sent.push_back(t.to_string());
                    if sent.len() > KEEP_SENT {
                        sent.pop_front();
                        *sent_before += 1;
                    }
                    if ws.send(Message::Text(t)).await.is_err() {
                        return true;
                    }
                }
                Some(other) => {
                    if ws.send(other).await.is_err() {
                        return true;
                    }
                }
            },
            frame = ws.next() => match frame {
                Some(Ok(frame)) => {
                    last_frame = Instant::now();
                    match frame {
                        Message::Text(t) => {
                            *received += 1;
                            match serde_json::from_str::<ServerMessage>(&t) {
                                Ok(msg) => deliver(msg),
                                Err(_) => tracing::warn!(message = %t, "unparsable server message"),
                            }
                        }
                        // The server closing on purpose (a forced disconnect, a refusal).
                        Message::Close(_) => return false,
                        _ => {}
                    }
                }
                Some(Err(_)) | None => return true,
            },
            _ = watchdog.tick() => {
                if last_frame.elapsed() > SILENCE {
                    return true;
                }
            }
        }
    }
}

/// Tries to resume until the grace period runs out; the new socket and the server's
/// `heard`, or `None` if the server refused or time ran out.
async fn reconnect(resume: &Resume, grant: &ResumeGrant, received: u64) -> Option<(Ws, u64)> {
    let deadline = Instant::now() + Duration::from_millis(grant.grace_ms);
    let mut backoff = Duration::from_millis(250);
    while Instant::now() < deadline {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt(resume, grant, received)).await {
            Ok(Ok(done)) => return Some(done),
            Ok(Err(Refused(why))) => {
                tracing::warn!(connection = %resume.connection_id, why, "resume refused");
                return None;
            }
            Ok(Err(Retry)) | Err(_) => {}
        }
        tokio::time::sleep(backoff.min(deadline.saturating_duration_since(Instant::now()))).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    None
}

/// Why an attempt did not resume.
enum AttemptError {
    /// The server said no: stop.
    Refused(String),
    /// The network is not back yet: try again.
    Retry,
}
use AttemptError::{Refused, Retry};

async fn attempt(
    resume: &Resume,
    grant: &ResumeGrant,
    received: u64,
) -> Result<(Ws, u64), AttemptError> {
    let mut ws = open(&resume.ws_url, resume.tls.clone())
        .await
        .map_err(|_| Retry)?;
    let hello = ClientMessage::Resume {
        version: VERSION,
        session_id: resume.session_id.clone(),
        connection_id: resume.connection_id.clone(),
        resume_token: grant.token.clone(),
        received,
    };
    ws.send(Message::text(
        serde_json::to_string(&hello).expect("serializes"),
    ))
    .await
    .map_err(|_| Retry)?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return match serde_json::from_str::<ServerMessage>(&t) {
                    Ok(ServerMessage::Resumed { heard, .. }) => Ok((ws, heard)),
                    Ok(ServerMessage::Error { message, .. }) => Err(Refused(message)),
                    _ => Err(Refused(format!("unexpected answer to resume: {t}"))),
                };
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(Retry),
        }
    }
}
