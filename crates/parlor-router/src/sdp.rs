//! Turning str0m's SDP errors into messages a client can act on.
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

#[cfg(test)]
mod tests {
    use super::*;

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
