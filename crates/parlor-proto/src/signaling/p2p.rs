//! Relayed sessions' `p2pSignal` payloads: offers, answers and ICE candidates between a
//! stream's publisher and one subscriber, and their checks.

use serde::{Deserialize, Serialize};

use super::{ErrorCode, ProtocolError};

/// Largest SDP of a `p2pSignal` offer or answer, in bytes.
pub const MAX_P2P_SDP_BYTES: usize = 32 * 1024;
/// Longest ICE candidate line of a `p2pSignal`, in bytes.
pub const MAX_P2P_CANDIDATE_BYTES: usize = 1024;
/// Longest `sdpMid` of a `p2pSignal` candidate, in bytes.
pub const MAX_P2P_MID_BYTES: usize = 64;

/// What a `p2pSignal` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum P2pKind {
    /// The subscriber's SDP offer (receive-only).
    Offer,
    /// The publisher's SDP answer.
    Answer,
    /// A trickled ICE candidate, either way.
    Candidate,
}

/// An ICE candidate, as WebRTC's `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct P2pCandidate {
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
}

/// Checks a `p2pSignal`'s payload: an offer or answer has an SDP and no candidate, a
/// candidate a candidate and no SDP, each within its size limit.
pub fn validate_p2p(
    kind: P2pKind,
    sdp: Option<&str>,
    candidate: Option<&P2pCandidate>,
) -> Result<(), ProtocolError> {
    let bad = |m: String| Err(ProtocolError::new(ErrorCode::BadRequest, m));
    let big = |m: String| Err(ProtocolError::new(ErrorCode::LimitExceeded, m));
    match (kind, sdp, candidate) {
        (P2pKind::Offer | P2pKind::Answer, Some(sdp), None) => {
            if sdp.is_empty() {
                return bad("p2pSignal: the sdp is empty".into());
            }
            if sdp.len() > MAX_P2P_SDP_BYTES {
                return big(format!(
                    "p2pSignal: the sdp is {} bytes; the limit is {MAX_P2P_SDP_BYTES}",
                    sdp.len()
                ));
            }
            Ok(())
        }
        (P2pKind::Candidate, None, Some(c)) => {
            if c.candidate.len() > MAX_P2P_CANDIDATE_BYTES {
                return big(format!(
                    "p2pSignal: the candidate is {} bytes; the limit is {MAX_P2P_CANDIDATE_BYTES}",
                    c.candidate.len()
                ));
            }
            if c.sdp_mid
                .as_ref()
                .is_some_and(|m| m.len() > MAX_P2P_MID_BYTES)
            {
                return big(format!(
                    "p2pSignal: sdpMid is longer than {MAX_P2P_MID_BYTES} bytes"
                ));
            }
            Ok(())
        }
        (P2pKind::Candidate, _, _) => {
            bad("p2pSignal: a candidate carries a candidate and no sdp".into())
        }
        _ => bad("p2pSignal: an offer or answer carries an sdp and no candidate".into()),
    }
}
