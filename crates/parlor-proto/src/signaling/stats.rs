//! The `stats` message's reports: what a client measures of its own media, per stream or
//! subscription and kind of media, and their checks.

use serde::{Deserialize, Serialize};

use super::{ErrorCode, ProtocolError};

/// Kind of media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    #[default]
    Audio,
    Video,
}

/// Why a sender lowers its quality (W3C `qualityLimitationReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QualityLimitation {
    None,
    Cpu,
    Bandwidth,
    Other,
}

/// ICE candidate type of the client's side of the selected pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CandidateType {
    Host,
    Srflx,
    Prflx,
    Relay,
}

/// One kind of media of one of the client's streams (`streamId`: what it sends) or
/// subscriptions (`subscriptionId`: what it receives), over the time since its previous
/// report. Every measure is optional: a client sends what its platform knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatsReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// `audio` (the default) or `video`.
    #[serde(default)]
    pub media: Media,
    /// Frames a second sent or decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Video freezes (W3C `freezeCount`) since the previous report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freezes: Option<u32>,
    /// Time spent frozen since the previous report, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_ms: Option<u32>,
    /// Fraction of audio samples concealed since the previous report, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concealed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_limitation: Option<QualityLimitation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_type: Option<CandidateType>,
    /// `udp` or `tcp`: the transport of the selected candidate pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<TransportProtocol>,
    /// Round-trip time to the media server in milliseconds, as the client measures it
    /// (a sender from the server's receiver reports; otherwise its ICE checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
}

/// Transport of an ICE candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportProtocol {
    Udp,
    Tcp,
}

impl StatsReport {
    /// Checks the report's numbers: finite and within what a real client measures.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        let bad = |what: &str| {
            Err(ProtocolError::new(
                ErrorCode::BadRequest,
                format!("stats: {what}"),
            ))
        };
        match (&self.stream_id, &self.subscription_id) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => return bad("a report names either a streamId or a subscriptionId"),
        }
        if self.fps.is_some_and(|f| !(0.0..=1000.0).contains(&f)) {
            return bad("fps must be between 0 and 1000");
        }
        if self.rtt_ms.is_some_and(|r| !(0.0..=60_000.0).contains(&r)) {
            return bad("rttMs must be between 0 and 60000");
        }
        if self.concealed.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return bad("concealed must be a fraction between 0 and 1");
        }
        if self.width.is_some_and(|w| w > 16384) || self.height.is_some_and(|h| h > 16384) {
            return bad("width and height must be at most 16384");
        }
        Ok(())
    }
}
