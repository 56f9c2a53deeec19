//! Rooms join tokens and webhook signatures.

use super::*;
use proptest::prelude::*;

const NOW: i64 = 1_800_000_000;
const ROOM: &str = "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0";

fn key() -> SigningKey {
    SigningKey::from_seed(&[7u8; 32]).unwrap()
}

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

/// A token with any header and claims, correctly signed by `key`.
fn sign_raw(key: &SigningKey, header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
    format!("{input}.{sig}")
}

const HEADER: &str = r#"{"alg":"Ed25519","typ":"JWT"}"#;

/// The claims of a valid access token for `ROOM`, issued at `NOW`, as a JSON object.
fn claims() -> Map<String, Value> {
    let Value::Object(map) = serde_json::json!({
        "aud": "telnyx_access_token",
        "iss": "telnyx_access_token",
        "typ": "access",
        "jti": "5f1d1b57-47a4-4a8e-9b1e-4b7e2c1f9a00",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 600,
        "grants_version": 1,
        "grants": [{"actions": ["join"], "resources": [format!("telnyx:video:rooms:{ROOM}")]}],
    }) else {
        unreachable!()
    };
    map
}

/// `claims()` with `edit` applied, signed by `key()`, verified at `NOW`.
fn verify_edited(edit: impl FnOnce(&mut Map<String, Value>)) -> Result<JoinGrant, RoomsTokenError> {
    let mut c = claims();
    edit(&mut c);
    let token = sign_raw(&key(), HEADER, &Value::Object(c).to_string());
    verify(&key().public_key(), &token, NOW)
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn access_token_round_trip() {
    let key = key();
    let minted = mint(&key, ROOM, TokenKind::Access, DEFAULT_TOKEN_TTL_SECS, NOW);
    assert_eq!(minted.expires_at, NOW + 600);
    assert!(is_join_token(&minted.token));
    let grant = verify(&key.public_key(), &minted.token, NOW).unwrap();
    assert_eq!(grant.room_id, ROOM);
    assert_eq!(grant.kind, TokenKind::Access);
    assert_eq!(grant.issued_at, NOW);
    assert_eq!(grant.expires_at, NOW + 600);
    expect_kind(&grant, TokenKind::Access).unwrap();
    let err = expect_kind(&grant, TokenKind::Refresh).unwrap_err();
    assert_eq!(err.reason(), "access token used as refresh token");
    assert_eq!(err.to_string(), "access token used as refresh token");
}

#[test]
fn refresh_token_round_trip() {
    let key = key();
    let minted = mint(
        &key,
        ROOM,
        TokenKind::Refresh,
        DEFAULT_REFRESH_TTL_SECS,
        NOW,
    );
    assert_eq!(minted.expires_at, NOW + 3600);
    assert!(is_join_token(&minted.token));
    let grant = verify(&key.public_key(), &minted.token, NOW + 3599).unwrap();
    assert_eq!(grant.room_id, ROOM);
    assert_eq!(grant.kind, TokenKind::Refresh);
    assert_eq!(grant.expires_at, NOW + 3600);
    expect_kind(&grant, TokenKind::Refresh).unwrap();
    let err = expect_kind(&grant, TokenKind::Access).unwrap_err();
    assert_eq!(err.reason(), "refresh token used as access token");
    assert_eq!(
        err,
        RoomsTokenError::WrongKind {
            expected: TokenKind::Access,
            got: TokenKind::Refresh
        }
    );
}

#[test]
fn minted_token_has_telnyx_shape() {
    let minted = mint(&key(), ROOM, TokenKind::Access, 60, NOW);
    let parts: Vec<&str> = minted.token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(!minted.token.contains('='));
    assert_eq!(
        decode_part(parts[0]),
        serde_json::json!({"alg": "Ed25519", "typ": "JWT"})
    );
    let c = decode_part(parts[1]);
    assert_eq!(c["aud"], "telnyx_access_token");
    assert_eq!(c["iss"], "telnyx_access_token");
    assert_eq!(c["typ"], "access");
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["nbf"], NOW);
    assert_eq!(c["exp"], NOW + 60);
    assert_eq!(c["grants_version"], 1);
    assert_eq!(
        c["grants"],
        serde_json::json!([{"actions": ["join"], "resources": [format!("telnyx:video:rooms:{ROOM}")]}])
    );
    assert_eq!(c.as_object().unwrap().len(), 9);
    // jti: a UUID v4 (version nibble 4, variant 10xx).
    let jti = c["jti"].as_str().unwrap();
    let groups: Vec<&str> = jti.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(jti.chars().all(|ch| ch == '-' || ch.is_ascii_hexdigit()));
    assert!(groups[2].starts_with('4'));
    assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
    assert!(minted.token.len() < MAX_TOKEN_BYTES);
}

#[test]
fn jti_differs_between_tokens() {
    let a = verify(
        &key().public_key(),
        &mint(&key(), ROOM, TokenKind::Access, 600, NOW).token,
        NOW,
    )
    .unwrap();
    let b = verify(
        &key().public_key(),
        &mint(&key(), ROOM, TokenKind::Access, 600, NOW).token,
        NOW,
    )
    .unwrap();
    assert_ne!(a.jti, b.jti);
    assert_eq!(a.jti.len(), 36);
}

#[test]
fn expiry_boundary() {
    let key = key();
    let minted = mint(&key, ROOM, TokenKind::Access, 10, NOW);
    assert!(verify(&key.public_key(), &minted.token, NOW + 9).is_ok());
    let err = verify(&key.public_key(), &minted.token, NOW + 10).unwrap_err();
    assert_eq!(
        err,
        RoomsTokenError::Expired {
            expires_at: NOW + 10,
            now: NOW + 10
        }
    );
    assert_eq!(err.reason(), "token expired");
    assert!(matches!(
        verify(&key.public_key(), &minted.token, NOW + 11_000),
        Err(RoomsTokenError::Expired { .. })
    ));
    // A zero or negative lifetime never verifies.
    let dead = mint(&key, ROOM, TokenKind::Access, 0, NOW);
    assert!(matches!(
        verify(&key.public_key(), &dead.token, NOW),
        Err(RoomsTokenError::Expired { .. })
    ));
    // exp saturates rather than overflowing.
    assert_eq!(
        mint(&key, ROOM, TokenKind::Access, i64::MAX, NOW).expires_at,
        i64::MAX
    );
}

#[test]
fn not_before_in_the_future() {
    let key = key();
    let minted = mint(&key, ROOM, TokenKind::Access, 600, NOW);
    let err = verify(&key.public_key(), &minted.token, NOW - 1).unwrap_err();
    assert_eq!(
        err,
        RoomsTokenError::NotYetValid {
            not_before: NOW,
            now: NOW - 1
        }
    );
    assert_eq!(err.reason(), "token not yet valid");
    assert!(verify(&key.public_key(), &minted.token, NOW).is_ok());
    // An nbf later than iat is honoured.
    let err = verify_edited(|c| {
        c.insert("nbf".into(), (NOW + 5).into());
    })
    .unwrap_err();
    assert_eq!(err.reason(), "token not yet valid");
}

#[test]
fn hand_built_valid_claims_verify() {
    let grant = verify_edited(|_| {}).unwrap();
    assert_eq!(grant.jti, "5f1d1b57-47a4-4a8e-9b1e-4b7e2c1f9a00");
    // Claims Telnyx does not define are ignored.
    assert!(
        verify_edited(|c| {
            c.insert("context".into(), "x".into());
        })
        .is_ok()
    );
    // The header may leave out typ and carry a kid.
    let token = sign_raw(
        &key(),
        r#"{"alg":"Ed25519","kid":"k1"}"#,
        &Value::Object(claims()).to_string(),
    );
    assert!(verify(&key().public_key(), &token, NOW).is_ok());
}

#[test]
fn tampered_claims_fail_the_signature() {
    let key = key();
    let minted = mint(&key, ROOM, TokenKind::Refresh, 600, NOW);
    let parts: Vec<&str> = minted.token.split('.').collect();
    // Swap in other claims (a longer expiry, another room, the other kind) under the old
    // signature.
    for (name, value) in [
        ("exp", Value::from(NOW + 86_400)),
        ("typ", Value::from("access")),
        (
            "grants",
            serde_json::json!([{"actions": ["join"], "resources": ["telnyx:video:rooms:other"]}]),
        ),
    ] {
        let mut c = decode_part(parts[1]);
        c[name] = value;
        let forged = format!("{}.{}.{}", parts[0], b64(&c.to_string()), parts[2]);
        let err = verify(&key.public_key(), &forged, NOW).unwrap_err();
        assert_eq!(err, RoomsTokenError::BadSignature, "{name}");
        assert_eq!(err.reason(), "bad signature");
        assert!(is_join_token(&forged));
    }
    // One flipped bit in the signature.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let forged = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(
        verify(&key.public_key(), &forged, NOW),
        Err(RoomsTokenError::BadSignature)
    );
    // The header re-encoded (same meaning, other bytes): the signature covers the bytes.
    let forged = format!(
        "{}.{}.{}",
        b64(r#"{"typ":"JWT","alg":"Ed25519"}"#),
        parts[1],
        parts[2]
    );
    assert_eq!(
        verify(&key.public_key(), &forged, NOW),
        Err(RoomsTokenError::BadSignature)
    );
}

#[test]
fn signature_by_another_key() {
    let ours = key();
    let theirs = SigningKey::generate();
    assert_ne!(ours.public_key(), theirs.public_key());
    let minted = mint(&theirs, ROOM, TokenKind::Access, 600, NOW);
    assert!(is_join_token(&minted.token));
    assert_eq!(
        verify(&ours.public_key(), &minted.token, NOW),
        Err(RoomsTokenError::BadSignature)
    );
    assert!(verify(&theirs.public_key(), &minted.token, NOW).is_ok());
    // A public key that is not a curve point verifies nothing.
    assert_eq!(
        verify(&[0xff; 32], &minted.token, NOW),
        Err(RoomsTokenError::BadSignature)
    );
}

#[test]
fn wrong_alg_headers() {
    let body = Value::Object(claims()).to_string();
    for (header, reason) in [
        (r#"{"alg":"EdDSA","typ":"JWT"}"#, "unsupported algorithm"),
        (r#"{"alg":"HS256","typ":"JWT"}"#, "unsupported algorithm"),
        (r#"{"alg":"none","typ":"JWT"}"#, "unsupported algorithm"),
        (r#"{"alg":"ed25519","typ":"JWT"}"#, "unsupported algorithm"),
        (r#"{"typ":"JWT"}"#, "malformed token"),
        (r#"{"alg":25519}"#, "malformed token"),
        (r#"{"alg":"Ed25519","typ":"JWS"}"#, "malformed token"),
        (r#"{"alg":"Ed25519","crit":["exp"]}"#, "malformed token"),
        (r#"["alg","Ed25519"]"#, "malformed token"),
        ("not json", "malformed token"),
    ] {
        let token = sign_raw(&key(), header, &body);
        let err = verify(&key().public_key(), &token, NOW).unwrap_err();
        assert_eq!(err.reason(), reason, "{header}");
    }
    let token = sign_raw(&key(), r#"{"alg":"HS256"}"#, &body);
    assert_eq!(
        verify(&key().public_key(), &token, NOW),
        Err(RoomsTokenError::UnsupportedAlgorithm("HS256".into()))
    );
    assert!(!is_join_token(&token));
    // An unsigned token (alg none, empty signature) is not even the right shape.
    let unsigned = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(&body));
    assert_eq!(
        verify(&key().public_key(), &unsigned, NOW)
            .unwrap_err()
            .reason(),
        "malformed token"
    );
}

#[test]
fn audience_issuer_and_type() {
    let err = verify_edited(|c| {
        c.insert("aud".into(), "someone_else".into());
    })
    .unwrap_err();
    assert_eq!(err, RoomsTokenError::WrongAudience("someone_else".into()));
    assert_eq!(err.reason(), "wrong audience");
    let err = verify_edited(|c| {
        c.insert("iss".into(), "parlor".into());
    })
    .unwrap_err();
    assert_eq!(err.reason(), "wrong issuer");
    let err = verify_edited(|c| {
        c.insert("typ".into(), "admin".into());
    })
    .unwrap_err();
    assert_eq!(err, RoomsTokenError::UnknownType("admin".into()));
    // aud as an array (RFC 7519 allows it, Telnyx does not send it) is refused.
    let err = verify_edited(|c| {
        c.insert("aud".into(), serde_json::json!(["telnyx_access_token"]));
    })
    .unwrap_err();
    assert_eq!(err.reason(), "malformed token");
}

#[test]
fn missing_and_mistyped_claims() {
    for name in [
        "aud",
        "iss",
        "typ",
        "jti",
        "iat",
        "nbf",
        "exp",
        "grants_version",
        "grants",
    ] {
        let err = verify_edited(|c| {
            c.remove(name);
        })
        .unwrap_err();
        assert_eq!(err.reason(), "malformed token", "without {name}");
    }
    for (name, value) in [
        ("exp", Value::from((NOW + 600).to_string())),
        ("exp", Value::from((NOW + 600) as f64 + 0.5)),
        ("exp", Value::from(u64::MAX)),
        ("iat", Value::Null),
        ("nbf", Value::Bool(true)),
        ("jti", Value::from(5)),
        ("jti", Value::from("")),
        ("jti", Value::from("j".repeat(129))),
        ("typ", Value::from(1)),
        ("grants_version", Value::from(2)),
        ("grants_version", Value::from("1")),
        ("grants", serde_json::json!({"actions": ["join"]})),
        ("grants", Value::from("join")),
    ] {
        let err = verify_edited(|c| {
            c.insert(name.into(), value.clone());
        })
        .unwrap_err();
        assert_eq!(err.reason(), "malformed token", "{name}: {value}");
    }
    // Claims that are not an object.
    let token = sign_raw(&key(), HEADER, "[1,2,3]");
    assert_eq!(
        verify(&key().public_key(), &token, NOW)
            .unwrap_err()
            .reason(),
        "malformed token"
    );
    let token = sign_raw(&key(), HEADER, "{\"aud\":");
    assert_eq!(
        verify(&key().public_key(), &token, NOW)
            .unwrap_err()
            .reason(),
        "malformed token"
    );
}

#[test]
fn grants_must_be_exactly_one_join_on_one_room() {
    let room = format!("telnyx:video:rooms:{ROOM}");
    for grants in [
        serde_json::json!([]),
        serde_json::json!([{"actions": ["publish"], "resources": [room]}]),
        serde_json::json!([{"actions": ["join", "publish"], "resources": [room]}]),
        serde_json::json!([{"actions": [], "resources": [room]}]),
        serde_json::json!([{"actions": "join", "resources": [room]}]),
        serde_json::json!([{"actions": ["join"], "resources": []}]),
        serde_json::json!([{"actions": ["join"], "resources": [room, "telnyx:video:rooms:b"]}]),
        serde_json::json!([{"actions": ["join"], "resources": ["telnyx:video:rooms:"]}]),
        serde_json::json!([{"actions": ["join"], "resources": ["telnyx:video:room:x"]}]),
        serde_json::json!([{"actions": ["join"], "resources": [format!("telnyx:video:rooms:{}", "r".repeat(129))]}]),
        serde_json::json!([{"actions": ["join"], "resources": [7]}]),
        serde_json::json!([{"actions": ["join"]}]),
        serde_json::json!([{"actions": ["join"], "resources": [room], "extra": 1}]),
        serde_json::json!([{"actions": ["join"], "resources": [room]}, {"actions": ["join"], "resources": [room]}]),
        serde_json::json!(["join"]),
    ] {
        let err = verify_edited(|c| {
            c.insert("grants".into(), grants.clone());
        })
        .unwrap_err();
        assert_eq!(err, RoomsTokenError::NoJoinGrant, "{grants}");
        assert_eq!(err.reason(), "no join grant");
    }
    // An empty room ID mints a token that never verifies.
    let minted = mint(&key(), "", TokenKind::Access, 600, NOW);
    assert_eq!(
        verify(&key().public_key(), &minted.token, NOW),
        Err(RoomsTokenError::NoJoinGrant)
    );
}

#[test]
fn truncated_and_garbage_inputs() {
    let key = key();
    let token = mint(&key, ROOM, TokenKind::Access, 600, NOW).token;
    // Every prefix is refused, and never panics.
    for end in 0..token.len() {
        let prefix = &token[..end];
        assert!(verify(&key.public_key(), prefix, NOW).is_err(), "{end}");
    }
    let (rest, sig) = token.rsplit_once('.').unwrap();
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        "a.b.c".into(),
        "a.b.c.d".into(),
        format!("{token}."),
        format!("{token}.x"),
        format!(".{token}"),
        format!("{rest}.{sig}="),
        format!("{rest}.{}", &sig[..sig.len() - 1]),
        format!("{rest}.{sig}AA"),
        format!("{rest}.{}", URL_SAFE_NO_PAD.encode([0u8; 63])),
        format!("{rest}.{}", URL_SAFE_NO_PAD.encode([0u8; 65])),
        format!("{rest}.{}", STANDARD.encode([0xfbu8; 64])),
        token.replacen('.', "..", 1),
        "T1==cGFydG5lcl9pZD0xJnNpZz0x".into(),
        "\u{0}\u{ffff}.é.🙂".into(),
    ] {
        let err = verify(&key.public_key(), &bad, NOW).unwrap_err();
        assert_eq!(err.reason(), "malformed token", "{bad:?}");
    }
    // Padded base64url (some encoders add '=') is not canonical: refused.
    let (h, rest2) = token.split_once('.').unwrap();
    let padded = format!("{h}==.{rest2}");
    assert!(verify(&key.public_key(), &padded, NOW).is_err());
    // Oversize tokens are refused before decoding.
    let long = format!("{token}{}", "A".repeat(MAX_TOKEN_BYTES));
    assert_eq!(
        verify(&key.public_key(), &long, NOW),
        Err(RoomsTokenError::TooLong { len: long.len() })
    );
    assert!(!is_join_token(&long));
    let exactly = "A".repeat(MAX_TOKEN_BYTES);
    assert_eq!(
        verify(&key.public_key(), &exactly, NOW)
            .unwrap_err()
            .reason(),
        "malformed token"
    );
}

#[test]
fn is_join_token_shapes() {
    let token = mint(&key(), ROOM, TokenKind::Access, 600, NOW).token;
    assert!(is_join_token(&token));
    // An OpenTok JWT client token (HS256) and a T1 token are not join tokens.
    let hs256 = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64(r#"{"iss":"123","ist":"project"}"#),
        "c2ln"
    );
    assert!(!is_join_token(&hs256));
    assert!(!is_join_token("T1==cGFydG5lcl9pZD0xMjM0NTY3OCZzaWc9YWJj"));
    assert!(!is_join_token(""));
    assert!(!is_join_token(".."));
    let (h, rest) = token.split_once('.').unwrap();
    assert!(!is_join_token(rest));
    assert!(!is_join_token(&format!("{h}.{rest}.more")));
    assert!(!is_join_token(&format!("{h}..sig")));
    assert!(!is_join_token(&format!("{h}.claims+/.sig")));
    // Shape only: an Ed25519 header with garbage base64url claims is still a join token to
    // route to `verify`, which refuses it.
    let shaped = format!("{h}.AAAA.AAAA");
    assert!(is_join_token(&shaped));
    assert!(verify(&key().public_key(), &shaped, NOW).is_err());
}

#[test]
fn error_messages_are_human() {
    assert_eq!(
        RoomsTokenError::Expired {
            expires_at: 10,
            now: 12
        }
        .to_string(),
        "join token expired at 10 (now 12)"
    );
    assert_eq!(
        RoomsTokenError::WrongKind {
            expected: TokenKind::Access,
            got: TokenKind::Refresh
        }
        .to_string(),
        "refresh token used as access token"
    );
    assert!(
        RoomsTokenError::Malformed("the signature is not base64url")
            .to_string()
            .contains("not base64url")
    );
    assert_eq!(RoomsTokenError::BadKey.reason(), "bad key");
    assert_eq!(
        RoomsTokenError::TooLong { len: 5000 }.to_string(),
        "join token is 5000 bytes long; at most 4096 are accepted"
    );
    // Attacker-chosen strings are cut short.
    let err = verify_edited(|c| {
        c.insert("aud".into(), "a".repeat(1000).into());
    })
    .unwrap_err();
    assert!(err.to_string().len() < 200);
}

#[test]
fn ttl_constants() {
    assert!(TOKEN_TTL_SECS.contains(&DEFAULT_TOKEN_TTL_SECS));
    assert!(REFRESH_TTL_SECS.contains(&DEFAULT_REFRESH_TTL_SECS));
    assert_eq!((*TOKEN_TTL_SECS.start(), *TOKEN_TTL_SECS.end()), (10, 3600));
    assert_eq!(
        (*REFRESH_TTL_SECS.start(), *REFRESH_TTL_SECS.end()),
        (60, 86400)
    );
    // The longest room ID and a maximal TTL still mint a token far below the cap.
    let minted = mint(&key(), &"r".repeat(128), TokenKind::Refresh, 86_400, NOW);
    assert!(minted.token.len() < MAX_TOKEN_BYTES / 4);
    assert!(verify(&key().public_key(), &minted.token, NOW).is_ok());
}

// ---- the signing key ----

#[test]
fn rfc8032_test_vector_1() {
    // RFC 8032 §7.1, TEST 1 (empty message).
    let seed: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let key = SigningKey::from_seed(&seed).unwrap();
    assert_eq!(
        hex::encode(key.public_key()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(
        hex::encode(key.sign(b"")),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065\
         224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
    assert_eq!(key.seed(), seed);
    assert_eq!(
        STANDARD.decode(key.public_key_base64()).unwrap(),
        key.public_key()
    );
}

#[test]
fn generated_keys_round_trip_through_their_seed() {
    let a = SigningKey::generate();
    let b = SigningKey::generate();
    assert_ne!(a.seed(), b.seed());
    assert_ne!(a.public_key(), b.public_key());
    let again = SigningKey::from_seed(&a.seed()).unwrap();
    assert_eq!(again.public_key(), a.public_key());
    assert_eq!(again.sign(b"msg"), a.sign(b"msg"));
    let clone = a.clone();
    assert_eq!(clone.public_key(), a.public_key());
    assert_eq!(a.public_key_base64().len(), 44);
    assert!(a.public_key_base64().ends_with('='));
}

#[test]
fn debug_does_not_show_the_seed() {
    for key in [key(), SigningKey::generate()] {
        let seed = key.seed();
        let shown = format!("{key:?} {key:#?}");
        assert!(shown.contains(&key.public_key_base64()), "{shown}");
        for encoded in [
            hex::encode(seed),
            hex::encode_upper(seed),
            STANDARD.encode(seed),
            URL_SAFE_NO_PAD.encode(seed),
            format!("{seed:?}"),
            format!("{seed:x?}"),
        ] {
            assert!(!shown.contains(&encoded), "{shown}");
        }
    }
    // [7, 7, …]: no run of the seed's bytes in decimal either.
    assert!(!format!("{:?}", key()).contains("7, 7, 7"));
}

// ---- webhook signatures ----

const WEBHOOK_TS: i64 = 1_700_000_000;
const WEBHOOK_BODY: &[u8] = br#"{"data":{"event_type":"video.room.session.started"}}"#;

#[test]
fn webhook_signature_round_trip() {
    let key = SigningKey::generate();
    let sig = webhook_signature(&key, WEBHOOK_TS, WEBHOOK_BODY);
    assert_eq!(STANDARD.decode(&sig).unwrap().len(), 64);
    assert_eq!(sig.len(), 88);
    let pk = key.public_key();
    assert!(verify_webhook_signature(
        &pk,
        WEBHOOK_TS,
        WEBHOOK_BODY,
        &sig
    ));
    assert!(!verify_webhook_signature(
        &pk,
        WEBHOOK_TS + 1,
        WEBHOOK_BODY,
        &sig
    ));
    assert!(!verify_webhook_signature(&pk, WEBHOOK_TS, b"{}", &sig));
    assert!(!verify_webhook_signature(
        &SigningKey::generate().public_key(),
        WEBHOOK_TS,
        WEBHOOK_BODY,
        &sig
    ));
    for bad in [
        "",
        "not base64!",
        &sig[..sig.len() - 2],
        &STANDARD.encode([0u8; 63]),
        &STANDARD.encode([0u8; 64]),
        &URL_SAFE_NO_PAD.encode(STANDARD.decode(&sig).unwrap()),
        &"A".repeat(10_000),
    ] {
        assert!(
            !verify_webhook_signature(&pk, WEBHOOK_TS, WEBHOOK_BODY, bad),
            "{bad}"
        );
    }
    // Negative timestamps and empty bodies are signed like any other.
    let sig = webhook_signature(&key, -5, b"");
    assert!(verify_webhook_signature(&pk, -5, b"", &sig));
}

#[test]
fn webhook_signature_known_answer() {
    // Computed independently with OpenSSL 3 (`openssl pkeyutl -sign -rawin`) for the seed
    // [7; 32] over `1700000000|{"data":{"event_type":"video.room.session.started"}}`.
    let key = key();
    assert_eq!(
        key.public_key_base64(),
        "6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="
    );
    let expected =
        "EOzXJ5JZEZ1WTIGijwD405W8kkgNLaAutZI6bhqXieMx6rFwDDHXXnhKwUklGb+MN/bia4iuBlVGi1yVd+W6Bg==";
    assert_eq!(webhook_signature(&key, WEBHOOK_TS, WEBHOOK_BODY), expected);
    // And it verifies with aws-lc-rs directly over "<ts>|<body>", as a receiver would.
    let message = format!(
        "{WEBHOOK_TS}|{}",
        std::str::from_utf8(WEBHOOK_BODY).unwrap()
    );
    let public = STANDARD.decode(key.public_key_base64()).unwrap();
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(message.as_bytes(), &STANDARD.decode(expected).unwrap())
        .unwrap();
    assert!(verify_webhook_signature(
        &key.public_key(),
        WEBHOOK_TS,
        WEBHOOK_BODY,
        expected
    ));
}

// ---- never panic ----

proptest! {
    #[test]
    fn never_panics_on_arbitrary_strings(s in "\\PC{0,600}") {
        let pk = key().public_key();
        let shaped = is_join_token(&s);
        prop_assert!(verify(&pk, &s, NOW).is_err());
        if !shaped {
            let reached_signature = matches!(
                verify(&pk, &s, NOW),
                Err(RoomsTokenError::BadSignature | RoomsTokenError::Expired { .. })
            );
            prop_assert!(!reached_signature, "not a join token, yet its signature was checked");
        }
        let _ = verify_webhook_signature(&pk, 0, s.as_bytes(), &s);
    }

    #[test]
    fn never_panics_on_jwt_shaped_strings(
        header in "[A-Za-z0-9_-]{0,60}",
        claims in "[A-Za-z0-9_=+/-]{0,200}",
        sig in "[A-Za-z0-9_-]{0,100}",
    ) {
        let token = format!("{header}.{claims}.{sig}");
        let _ = is_join_token(&token);
        prop_assert!(verify(&key().public_key(), &token, NOW).is_err());
        let real_header = b64(HEADER);
        let token = format!("{real_header}.{claims}.{sig}");
        prop_assert!(verify(&key().public_key(), &token, NOW).is_err());
    }

    #[test]
    fn signed_arbitrary_claims_never_panic(claims in "\\PC{1,300}") {
        // Correctly signed, so everything after the signature check sees the input.
        let token = sign_raw(&key(), HEADER, &claims);
        prop_assert!(is_join_token(&token));
        prop_assert!(verify(&key().public_key(), &token, NOW).is_err());
    }

    #[test]
    fn any_room_and_ttl_round_trip(
        room in "[A-Za-z0-9:_-]{1,128}",
        ttl in 1i64..100_000,
        refresh in any::<bool>(),
    ) {
        let kind = if refresh { TokenKind::Refresh } else { TokenKind::Access };
        let minted = mint(&key(), &room, kind, ttl, NOW);
        let grant = verify(&key().public_key(), &minted.token, NOW + ttl - 1).unwrap();
        prop_assert_eq!(grant.room_id, room);
        prop_assert_eq!(grant.kind, kind);
        prop_assert_eq!(grant.expires_at, NOW + ttl);
        let expired = matches!(
            verify(&key().public_key(), &minted.token, NOW + ttl),
            Err(RoomsTokenError::Expired { .. })
        );
        prop_assert!(expired, "not expired at NOW + ttl");
    }
}
