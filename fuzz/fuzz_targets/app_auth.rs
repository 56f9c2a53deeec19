//! The RS256 path (Vonage application credentials) on arbitrary input: public key PEM
//! parsing, REST Bearer JWTs and application client tokens never panic, and nothing but a
//! token the test key really signed verifies. The input is used raw, and also as the
//! payload of a token with a valid RS256 signature (so the claim checks after the
//! signature are reached), and with its header replaced (alg none, HS256, ES256, kid).
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use parlor_proto::app_auth::{self, PrivateKey, PublicKey, test_keys};
use parlor_proto::limits::MAX_CONNECTION_DATA_CHARS;
use parlor_proto::token::{Credential, ParsedToken};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = PublicKey::from_pem(text);
    let _ = PrivateKey::from_pem(text);
    let key = PublicKey::from_pem(test_keys::PUBLIC_A).expect("test key");
    let other = PublicKey::from_pem(test_keys::PUBLIC_B).expect("test key");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(text);
    let mut candidates = vec![text.to_owned()];
    // Headers an attacker would try, over the fuzzed payload, with junk signatures.
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"ES256"}"#,
        r#"{"alg":"RS256","kid":"0123456789abcdef"}"#,
        r#"{"alg":"RS256","crit":["x"]}"#,
    ] {
        candidates.push(format!(
            "{}.{payload}.{}",
            b64.encode(header),
            b64.encode(text)
        ));
    }
    // A correctly signed token whose claims are the fuzzed JSON, when it is JSON.
    if let Ok(serde_json::Value::Object(claims)) = serde_json::from_str::<serde_json::Value>(text) {
        let signer = PrivateKey::from_pem(test_keys::PRIVATE_A).expect("test key");
        let signed = sign(&claims, &signer);
        // Signed by A: never accepted by B's key alone.
        assert!(app_auth::verify(&signed, std::slice::from_ref(&other), NOW).is_err());
        candidates.push(signed);
    }
    for candidate in &candidates {
        if let Ok(id) = app_auth::claimed_application_id(candidate) {
            assert!(!id.is_empty());
        }
        let _ = app_auth::verify(candidate, std::slice::from_ref(&key), NOW);
        if let Ok(parsed) = ParsedToken::parse(candidate) {
            let project = parsed.project_id().to_owned();
            if parsed.is_application()
                && let Ok(grant) = parsed.verify_application(std::slice::from_ref(&key), NOW)
            {
                assert_eq!(grant.project_id, project);
                assert_eq!(grant.credential, Credential::Application);
                assert!(grant.expire_time > NOW);
                assert!(grant.data.map_or(0, |d| d.chars().count()) <= MAX_CONNECTION_DATA_CHARS);
            }
        }
    }
});

/// RS256 over `claims` with the test key, as `@vonage/video` signs.
fn sign(claims: &serde_json::Map<String, serde_json::Value>, key: &PrivateKey) -> String {
    app_auth::sign_claims(claims, key)
}
