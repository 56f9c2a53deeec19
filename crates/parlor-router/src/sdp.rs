//! Turning str0m's SDP errors into messages a client can act on, and reading the one
//! preference of an offer str0m's answer does not follow (its video codec order).
//!
//! str0m's parser (combine) reports where it stopped as a memory address
//! (`Parse error at PointerOffset(0x7fe7…)`): useless to the client and a leak of the
//! server's heap layout. Only the "Unexpected …" / "Expected …" lines are kept.

use str0m::error::SdpError;

/// The most characters of a parse explanation passed on.
const MAX_EXPLANATION_CHARS: usize = 200;

/// What is wrong with an offer, without parser internals.
pub(crate) fn describe(e: &SdpError) -> String {
    match e {
        SdpError::ParseError(msg) => {
            let explanation = msg
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("Parse error at"))
                .collect::<Vec<_>>()
                .join("; ");
            let explanation: String = explanation.chars().take(MAX_EXPLANATION_CHARS).collect();
            if explanation.is_empty() {
                "the offer is not valid SDP".to_owned()
            } else {
                format!("the offer is not valid SDP ({explanation})")
            }
        }
        SdpError::Inconsistent(msg) => format!("the offer is inconsistent: {msg}"),
    }
}

/// Whether an offer's first video section lists an H.264 payload type before any VP8 one
/// (a publisher that prefers H.264). Reads only `m=video` and its `a=rtpmap` lines.
pub(crate) fn prefers_h264(sdp: &str) -> bool {
    let mut lines = sdp.lines().map(str::trim);
    let Some(m) = lines.by_ref().find(|l| l.starts_with("m=video ")) else {
        return false;
    };
    let order: Vec<&str> = m.split_ascii_whitespace().skip(3).collect();
    let mut h264 = None;
    let mut vp8 = None;
    for line in lines.take_while(|l| !l.starts_with("m=")) {
        let Some(map) = line.strip_prefix("a=rtpmap:") else {
            continue;
        };
        let Some((pt, codec)) = map.split_once(' ') else {
            continue;
        };
        let Some(rank) = order.iter().position(|p| *p == pt) else {
            continue;
        };
        let name = codec.split('/').next().unwrap_or("");
        let slot = if name.eq_ignore_ascii_case("H264") {
            &mut h264
        } else if name.eq_ignore_ascii_case("VP8") {
            &mut vp8
        } else {
            continue;
        };
        *slot = Some(slot.map_or(rank, |r: usize| r.min(rank)));
    }
    match (h264, vp8) {
        (Some(h), Some(v)) => h < v,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The first `a=ice-ufrag` of an SDP (the answer's: every section shares it with BUNDLE).
pub(crate) fn ice_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_video_codec_of_the_offer_decides() {
        let offer = |m: &str| {
            format!(
                "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
                 {m}\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n\
                 a=rtpmap:102 H264/90000\r\na=rtpmap:103 h264/90000\r\n\
                 m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=rtpmap:104 VP8/90000\r\n"
            )
        };
        assert!(!prefers_h264(&offer(
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103"
        )));
        assert!(prefers_h264(&offer(
            "m=video 9 UDP/TLS/RTP/SAVPF 97 103 102 96"
        )));
        assert!(prefers_h264(&offer("m=video 9 UDP/TLS/RTP/SAVPF 102")));
        assert!(!prefers_h264(&offer("m=video 9 UDP/TLS/RTP/SAVPF 96")));
        assert!(!prefers_h264("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
        assert!(!prefers_h264("garbage"));
    }

    #[test]
    fn parse_errors_name_no_address() {
        for offer in [
            "x",
            "",
            "v=0\r\nbogus",
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n",
        ] {
            let e = str0m::change::SdpOffer::from_sdp_string(offer).unwrap_err();
            let text = describe(&e);
            assert!(
                !text.contains("PointerOffset") && !text.contains("0x"),
                "{text}"
            );
            assert!(text.starts_with("the offer is"), "{text}");
        }
    }
}
