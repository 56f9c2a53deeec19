//! Rooms join tokens (`parlor_proto::rooms_token`) on arbitrary input: `is_join_token` and
//! `verify` never panic, nothing verifies that `is_join_token` would not have routed to
//! `verify`, and what verifies is consistent (a join grant on one room, valid now). The
//! input is used raw, and also as the claims of a token correctly signed with the fixed
//! fuzz key (so the claim checks after the signature are reached), under forged headers,
//! and as a webhook body and signature.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use parlor_proto::rooms_token::{self, SigningKey, TokenKind};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The seed corpus's tokens are signed with this key (seed [7; 32]).
    let key = SigningKey::from_seed(&[7; 32]).expect("a seed");
    let public = key.public_key();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(text);
    let mut candidates = vec![text.to_owned()];
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"EdDSA","typ":"JWT"}"#,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"Ed25519","crit":["exp"]}"#,
        r#"{"alg":"Ed25519","typ":"JWT"}"#,
    ] {
        candidates.push(format!(
            "{}.{payload}.{}",
            b64.encode(header),
            b64.encode(key.sign(text.as_bytes()))
        ));
    }
    // Correctly signed: the fuzzed text is the claims.
    let input = format!(
        "{}.{payload}",
        b64.encode(r#"{"alg":"Ed25519","typ":"JWT"}"#)
    );
    candidates.push(format!(
        "{input}.{}",
        b64.encode(key.sign(input.as_bytes()))
    ));
    for candidate in &candidates {
        let shaped = rooms_token::is_join_token(candidate);
        match rooms_token::verify(&public, candidate, NOW) {
            Ok(grant) => {
                assert!(shaped, "verified but not shaped like a join token");
                assert!(candidate.len() <= rooms_token::MAX_TOKEN_BYTES);
                assert!(!grant.room_id.is_empty() && grant.room_id.len() <= 128);
                assert!(!grant.jti.is_empty());
                assert!(grant.expires_at > NOW);
                let other = match grant.kind {
                    TokenKind::Access => TokenKind::Refresh,
                    TokenKind::Refresh => TokenKind::Access,
                };
                assert!(rooms_token::expect_kind(&grant, grant.kind).is_ok());
                assert!(rooms_token::expect_kind(&grant, other).is_err());
                // Expired from `exp` on.
                assert!(rooms_token::verify(&public, candidate, grant.expires_at).is_err());
            }
            Err(e) => {
                assert!(!e.reason().is_empty());
                let _ = e.to_string();
            }
        }
    }
    // Webhooks: the text as a body, and as a signature over it.
    let _ = rooms_token::verify_webhook_signature(&public, NOW, data, text);
    let signature = rooms_token::webhook_signature(&key, NOW, data);
    assert!(rooms_token::verify_webhook_signature(
        &public, NOW, data, &signature
    ));
});
