//! `GET /v1/stats`: live counters of the signaling layer and the media router, for
//! operators, the Inspector and leak checks. Authenticated like every project endpoint.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::{ApiError, ProjectAuth};
use crate::AppState;

pub async fn get(
    State(state): State<AppState>,
    _auth: ProjectAuth,
) -> Result<Json<Value>, ApiError> {
    let (rooms, transports) = state.signaling.counts();
    let r =
        state.signaling.router.stats().await.map_err(|e| {
            ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        })?;
    Ok(Json(json!({
        "signaling": { "rooms": rooms, "transports": transports },
        "router": {
            "transports": r.transports,
            "producers": r.producers,
            "consumers": r.consumers,
            "routes": r.routes,
            "datagramsReceived": r.datagrams_received,
            "datagramsDropped": r.datagrams_dropped,
            "rtpReceived": r.rtp_received,
            "rtpForwarded": r.rtp_forwarded,
            "forwardPasses": r.forward_passes,
            "rtpForwardedDirect": r.rtp_forwarded_direct,
            "retransmissions": r.retransmissions,
            "retransmissionsRefused": r.retransmissions_refused,
            "transportFeedback": r.transport_feedback,
            "paddingSent": r.padding_sent,
            "keyframeRequests": r.keyframe_requests,
            "transportsFailed": r.transports_failed,
            "datagramsSent": r.datagrams_sent,
            "sendSyscalls": r.send_syscalls,
            "datagramsSendDropped": r.datagrams_send_dropped,
            "timeouts": r.timeouts,
            "taps": r.taps,
            "tapPackets": r.tap_packets,
            "tapDropped": r.tap_dropped,
            "iceTcp": {
                "open": r.ice_tcp.open,
                "accepted": r.ice_tcp.accepted,
                "refused": r.ice_tcp.refused,
                "closed": r.ice_tcp.closed,
                "framesReceived": r.ice_tcp.frames_received,
                "framesSent": r.ice_tcp.frames_sent,
            },
        },
        "turn": state.turn.as_ref().map(|t| {
            let s = t.stats();
            json!({
                "allocations": s.allocations,
                "allocationsCreated": s.allocations_created,
                "authFailures": s.auth_failures,
                "forbiddenPeers": s.forbidden_peers,
                "quotaRefusals": s.quota_refusals,
                "relayedToPeers": s.relayed_to_peers,
                "relayedToClients": s.relayed_to_clients,
                "dropped": s.dropped,
            })
        }),
        "archives": { "recording": state.archives.recording_count() },
        "callbacks": { "queued": state.signaling.notifier.queued() },
        "history": { "dropped": state.signaling.history.dropped() },
        "runtime": {
            "tasks": tokio::runtime::Handle::current().metrics().num_alive_tasks(),
        },
    })))
}
