//! Session IDs in the layout the OpenTok server SDKs decode.
//!
//! A session ID is a two-character prefix followed by unpadded base64url of
//! `1~<apiKey>~<location>~<createdMs>~<random>~`. The Node SDK requires field 1 to equal
//! its API key, the Python SDK requires the key among the fields, so a token can only be
//! minted for a session of the SDK's own project. IDs are ASCII and never expire. For a
//! Vonage application, field 1 is the application ID (a UUID) in place of the API key.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use rand::Rng as _;

/// Prefix of every session ID Parlor issues.
pub const PREFIX: &str = "1_";
/// Longest session ID accepted anywhere (OpenTok documents 255).
pub const MAX_LEN: usize = 255;

/// The fields encoded in a session ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdParts {
    /// The project (API key) that owns the session.
    pub api_key: String,
    /// The location hint given at creation, empty if none.
    pub location: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
}

/// Why a string is not a session ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionIdError {
    #[error("session ID is empty")]
    Empty,
    #[error("session ID is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("session ID is not valid base64url after its 2-character prefix")]
    NotBase64,
    #[error("session ID does not have the 1~apiKey~location~time~random~ layout")]
    BadLayout,
}

/// Makes a new session ID for `api_key`, created at `created_ms`.
pub fn generate(api_key: &str, location: Option<&str>, created_ms: i64) -> String {
    let random: [u8; 16] = rand::rng().random();
    let inner = format!(
        "1~{api_key}~{}~{created_ms}~{}~",
        location.unwrap_or(""),
        hex::encode(random)
    );
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(inner))
}

/// Decodes a session ID's fields. This checks the layout only; whether the session exists
/// is the server's question.
pub fn decode(session_id: &str) -> Result<SessionIdParts, SessionIdError> {
    if session_id.is_empty() {
        return Err(SessionIdError::Empty);
    }
    if session_id.len() > MAX_LEN {
        return Err(SessionIdError::TooLong);
    }
    let body = session_id.get(2..).ok_or(SessionIdError::BadLayout)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(body))
        .map_err(|_| SessionIdError::NotBase64)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| SessionIdError::BadLayout)?;
    let fields: Vec<&str> = text.split('~').collect();
    if fields.len() < 5 {
        return Err(SessionIdError::BadLayout);
    }
    let api_key = fields[1];
    let opentok_key = !api_key.is_empty() && api_key.bytes().all(|b| b.is_ascii_digit());
    if !opentok_key && !crate::app_auth::is_application_id(api_key) {
        return Err(SessionIdError::BadLayout);
    }
    let created_ms = fields[3].parse().map_err(|_| SessionIdError::BadLayout)?;
    Ok(SessionIdParts {
        api_key: api_key.to_owned(),
        location: fields[2].to_owned(),
        created_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_decode() {
        let id = generate("47001234", Some("10.1.2.3"), 1_700_000_000_000);
        assert!(id.starts_with("1_") && id.is_ascii() && id.len() < MAX_LEN);
        let parts = decode(&id).unwrap();
        assert_eq!(parts.api_key, "47001234");
        assert_eq!(parts.location, "10.1.2.3");
        assert_eq!(parts.created_ms, 1_700_000_000_000);
    }

    #[test]
    fn application_ids_take_field_one() {
        let app = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f";
        let id = generate(app, None, 1_700_000_000_000);
        assert_eq!(decode(&id).unwrap().api_key, app);
        let not_uuid = generate("my-app", None, 1);
        assert_eq!(decode(&not_uuid), Err(SessionIdError::BadLayout));
    }

    #[test]
    fn decodes_node_style_standard_alphabet_padding() {
        // The Node SDK maps -/_ back to +// before decoding; we accept both alphabets' output.
        let inner = "1~123456~~1700000000000~abc~";
        let id = format!("2_{}", URL_SAFE.encode(inner));
        assert_eq!(decode(&id).unwrap().api_key, "123456");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode(""), Err(SessionIdError::Empty));
        assert_eq!(decode("1_!!!"), Err(SessionIdError::NotBase64));
        let no_key = format!("1_{}", URL_SAFE_NO_PAD.encode("1~~~1~r~"));
        assert_eq!(decode(&no_key), Err(SessionIdError::BadLayout));
        assert_eq!(decode(&"a".repeat(300)), Err(SessionIdError::TooLong));
    }

    proptest! {
        #[test]
        fn decode_never_panics(s in "\\PC*") {
            let _ = decode(&s);
        }

        #[test]
        fn round_trip(key in "[1-9][0-9]{0,11}", ms in 0i64..4_000_000_000_000) {
            let id = generate(&key, None, ms);
            let parts = decode(&id).unwrap();
            prop_assert_eq!(parts.api_key, key);
            prop_assert_eq!(parts.created_ms, ms);
        }
    }
}
