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

/// The transport-wide congestion control header extension's URI.
pub(crate) const TRANSPORT_CC: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/// The transport-wide sequence number extension IDs an offer's first audio and first
/// video sections declare (one-byte IDs only, 1–14).
pub(crate) fn transport_cc_ids(offer: &str) -> [Option<u8>; 2] {
    let mut ids = [None, None];
    let mut kind = None;
    for line in offer.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            kind = match m.split(' ').next() {
                Some("audio") if ids[0].is_none() => Some(0),
                Some("video") if ids[1].is_none() => Some(1),
                _ => None,
            };
        } else if let (Some(k), Some(id)) = (kind, transport_cc_extmap(line)) {
            ids[k] = Some(id);
        }
    }
    ids
}

/// The ID of an `a=extmap` line for [`TRANSPORT_CC`] (1–14), if it is one.
fn transport_cc_extmap(line: &str) -> Option<u8> {
    let (id, uri) = line.strip_prefix("a=extmap:")?.split_once(' ')?;
    let id: u8 = id.split('/').next()?.parse().ok()?;
    (uri.trim() == TRANSPORT_CC && (1..=14).contains(&id)).then_some(id)
}

/// Adds transport-wide congestion control to a consumer's answer, which str0m writes
/// without it: in each audio and video section the offer gave it an ID in (`ids`), the
/// extension with that ID and `a=rtcp-fb:<pt> transport-cc` for each media codec. The
/// client then reports the arrival of each packet the router numbers (the direct send
/// path, [`crate::bwe`]). str0m does not know the extension, so the few packets it sends
/// itself carry no number of their own to confuse the count.
pub(crate) fn add_transport_cc(answer: &str, ids: [Option<u8>; 2]) -> String {
    let mut out = String::with_capacity(answer.len() + 256);
    let mut id = None;
    let mut added = false;
    let mut seen = [false, false];
    for line in answer.split_inclusive('\n') {
        let bare = line.trim_end();
        if let Some(m) = bare.strip_prefix("m=") {
            let kind = match m.split(' ').next() {
                Some("audio") => Some(0),
                Some("video") => Some(1),
                _ => None,
            };
            // Only the first section of each kind (the ones `ids` came from).
            id = kind.and_then(|k| {
                let first = !seen[k];
                seen[k] = true;
                ids[k].filter(|_| first && !m.starts_with("audio 0") && !m.starts_with("video 0"))
            });
            added = false;
            out.push_str(line);
            continue;
        }
        if let Some(id) = id {
            out.push_str(line);
            // The extension goes after the section's mid (str0m writes one in each).
            if !added && bare.starts_with("a=mid:") {
                out.push_str(&format!("a=extmap:{id} {TRANSPORT_CC}\r\n"));
                added = true;
            }
            if let Some((pt, codec)) = bare
                .strip_prefix("a=rtpmap:")
                .and_then(|m| m.split_once(' '))
                && !codec.to_ascii_lowercase().starts_with("rtx/")
            {
                out.push_str(&format!("a=rtcp-fb:{pt} transport-cc\r\n"));
            }
            continue;
        }
        out.push_str(line);
    }
    out
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
    fn transport_cc_is_added_where_the_offer_had_it() {
        let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
             a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
             a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\n\
             a=extmap:3/recvonly http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=mid:2\r\n\
             a=extmap:5 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n";
        assert_eq!(transport_cc_ids(offer), [Some(3), Some(3)]);
        assert_eq!(
            transport_cc_ids(
                "m=video 9 X 96\r\na=extmap:15 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
            ),
            [None, None],
            "two-byte IDs are not written by the direct path"
        );
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
             a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
             a=rtpmap:111 opus/48000/2\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\n\
             a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n";
        let out = add_transport_cc(answer, [Some(3), Some(3)]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "v=0",
                "m=audio 9 UDP/TLS/RTP/SAVPF 111",
                "a=mid:0",
                "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
                "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
                "a=rtpmap:111 opus/48000/2",
                "a=rtcp-fb:111 transport-cc",
                "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
                "a=mid:1",
                "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
                "a=rtpmap:96 VP8/90000",
                "a=rtcp-fb:96 transport-cc",
                "a=rtpmap:97 rtx/90000",
            ]
        );
        assert!(out.ends_with("\r\n"));
        assert_eq!(add_transport_cc(answer, [None, None]), answer);
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
