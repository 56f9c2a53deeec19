use super::test_keys::*;
use super::*;
use crate::Role;
use crate::token::{AppMintRequest, Credential, ParsedToken, TokenError, mint_application};

const NOW: i64 = 1_800_000_000;
const APP: &str = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f";

fn key_a() -> PrivateKey {
    PrivateKey::from_pem(PRIVATE_A).unwrap()
}

fn pub_a() -> PublicKey {
    PublicKey::from_pem(PUBLIC_A).unwrap()
}

fn pub_b() -> PublicKey {
    PublicKey::from_pem(PUBLIC_B).unwrap()
}

/// Signs arbitrary `claims` with an arbitrary header, as an attacker or a foreign SDK would.
fn forge(header: serde_json::Value, claims: serde_json::Value, sig: &[u8]) -> String {
    use base64::Engine as _;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        e.encode(header.to_string()),
        e.encode(claims.to_string()),
        e.encode(sig)
    )
}

fn rs256(claims: serde_json::Value, key: &PrivateKey, kid: Option<&str>) -> String {
    let serde_json::Value::Object(map) = claims else {
        unreachable!()
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &map, &key.encoding_key()).unwrap()
}

#[test]
fn keys_parse_and_refuse_with_reasons() {
    assert_eq!(key_a().public_key(), &pub_a());
    assert_eq!(pub_a().bits(), 2048);
    assert_eq!(pub_a().id().len(), 16);
    assert_ne!(pub_a().id(), pub_b().id());
    // The normalized PEM reads back to the same key.
    assert_eq!(PublicKey::from_pem(pub_a().pem()).unwrap(), pub_a());
    assert_eq!(
        PublicKey::from_pem(EC_PUBLIC),
        Err(KeyError::WrongKeyType("an EC key"))
    );
    assert_eq!(
        PrivateKey::from_pem(EC_PRIVATE).unwrap_err(),
        KeyError::WrongKeyType("an EC key")
    );
    assert_eq!(
        PublicKey::from_pem(RSA_1024_PUBLIC),
        Err(KeyError::TooShort(1024))
    );
    assert_eq!(
        PublicKey::from_pem(PRIVATE_A),
        Err(KeyError::PrivateKeyGiven)
    );
    assert_eq!(
        PrivateKey::from_pem(PUBLIC_A).unwrap_err(),
        KeyError::PublicKeyGiven
    );
    assert!(matches!(
        PublicKey::from_pem("hello"),
        Err(KeyError::NotPem(_))
    ));
    // Debug output never shows key material.
    let shown = format!("{:?}", key_a());
    assert!(
        !shown.contains("MII") && shown.contains(pub_a().id()),
        "{shown}"
    );
}

#[test]
fn application_ids_are_uuids() {
    assert!(is_application_id(APP));
    assert!(is_application_id(&new_jti()));
    for bad in [
        "12345678",
        "",
        "0b1c2d3e4f5046178829-3a4b5c6d7e8f0",
        &APP[1..],
    ] {
        assert!(!is_application_id(bad), "{bad}");
    }
}

#[test]
fn rest_jwt_round_trips_with_any_current_key() {
    let t = mint(APP, &key_a(), NOW, DEFAULT_REST_TTL_SECS);
    assert_eq!(claimed_application_id(&t).unwrap(), APP);
    verify(&t, &[pub_a()], NOW).unwrap();
    // Rotation: two keys at once, either may sign.
    verify(&t, &[pub_b(), pub_a()], NOW).unwrap();
    // A kid naming the right key passes; one naming a key the app lacks is refused.
    let claims =
        serde_json::json!({"application_id": APP, "iat": NOW, "exp": NOW + 60, "jti": "x"});
    let with_kid = rs256(claims.clone(), &key_a(), Some(pub_a().id()));
    verify(&with_kid, &[pub_b(), pub_a()], NOW).unwrap();
    assert_eq!(
        verify(&with_kid, &[pub_b()], NOW),
        Err(AppAuthError::UnknownKid(pub_a().id().to_owned()))
    );
    assert_eq!(verify(&t, &[], NOW), Err(AppAuthError::NoKeys));
}

#[test]
fn each_rest_refusal_has_its_reason() {
    let keys = [pub_a()];
    let claims = |iat: i64, exp: i64| serde_json::json!({"application_id": APP, "iat": iat, "exp": exp, "jti": "j"});
    // Wrong key (tampered signature or another app's key).
    let t = mint(APP, &PrivateKey::from_pem(PRIVATE_B).unwrap(), NOW, 900);
    assert_eq!(verify(&t, &keys, NOW), Err(AppAuthError::BadSignature));
    // A tampered payload.
    let good = mint(APP, &key_a(), NOW, 900);
    let mut parts: Vec<&str> = good.split('.').collect();
    let other = mint(APP, &key_a(), NOW, 90_000);
    parts[1] = other.split('.').nth(1).unwrap();
    assert_eq!(
        verify(&parts.join("."), &keys, NOW),
        Err(AppAuthError::BadSignature)
    );
    // Clock rules.
    let expired = rs256(claims(NOW - 1000, NOW - 400), &key_a(), None);
    assert_eq!(
        verify(&expired, &keys, NOW),
        Err(AppAuthError::Expired(NOW - 400, NOW))
    );
    let future = rs256(claims(NOW + 400, NOW + 900), &key_a(), None);
    assert_eq!(
        verify(&future, &keys, NOW),
        Err(AppAuthError::IssuedInFuture(NOW + 400, NOW))
    );
    let long = rs256(claims(NOW, NOW + 2 * 86_400), &key_a(), None);
    assert_eq!(
        verify(&long, &keys, NOW),
        Err(AppAuthError::LifetimeTooLong(NOW + 2 * 86_400, NOW))
    );
    let no_exp = rs256(serde_json::json!({"application_id": APP}), &key_a(), None);
    assert_eq!(
        verify(&no_exp, &keys, NOW),
        Err(AppAuthError::MissingExpiry)
    );
    // Algorithms: none, HS256 claiming an application, another key type.
    let body = claims(NOW, NOW + 60);
    let none = forge(
        serde_json::json!({"alg": "none", "typ": "JWT"}),
        body.clone(),
        b"",
    );
    assert_eq!(claimed_application_id(&none), Err(AppAuthError::AlgNone));
    assert_eq!(verify(&none, &keys, NOW), Err(AppAuthError::AlgNone));
    let hs = {
        let serde_json::Value::Object(map) = body.clone() else {
            unreachable!()
        };
        jwt::sign_hs256(&map, "any-secret")
    };
    assert_eq!(
        claimed_application_id(&hs),
        Err(AppAuthError::SecretSigned {
            alg: "HS256".into(),
            application_id: APP.into()
        })
    );
    let es = forge(serde_json::json!({"alg": "ES256"}), body.clone(), &[1; 64]);
    assert_eq!(
        verify(&es, &keys, NOW),
        Err(AppAuthError::WrongKeyType("ES256".into()))
    );
    let ps = forge(serde_json::json!({"alg": "PS256"}), body.clone(), &[1; 256]);
    assert_eq!(
        claimed_application_id(&ps),
        Err(AppAuthError::WrongKeyType("PS256".into()))
    );
    let crit = forge(
        serde_json::json!({"alg": "RS256", "crit": ["x"], "x": 1}),
        body.clone(),
        &[1; 256],
    );
    assert!(matches!(
        verify(&crit, &keys, NOW),
        Err(AppAuthError::Malformed(_))
    ));
    // No application_id: not an application token at all.
    let no_app = rs256(
        serde_json::json!({"iat": NOW, "exp": NOW + 60}),
        &key_a(),
        None,
    );
    assert_eq!(
        claimed_application_id(&no_app),
        Err(AppAuthError::MissingApplicationId)
    );
    // Every reason code is distinct.
    let errors = [
        AppAuthError::Malformed("x"),
        AppAuthError::MissingApplicationId,
        AppAuthError::AlgNone,
        AppAuthError::SecretSigned {
            alg: "HS256".into(),
            application_id: APP.into(),
        },
        AppAuthError::WrongKeyType("ES256".into()),
        AppAuthError::UnknownApplication(APP.into()),
        AppAuthError::DeletedApplication(APP.into()),
        AppAuthError::UnknownKid("k".into()),
        AppAuthError::NoKeys,
        AppAuthError::BadSignature,
        AppAuthError::MissingExpiry,
        AppAuthError::Expired(0, 0),
        AppAuthError::IssuedInFuture(0, 0),
        AppAuthError::LifetimeTooLong(0, 0),
        AppAuthError::ClientToken("scope"),
        AppAuthError::WrongApplication {
            token: "a".into(),
            path: "b".into(),
        },
    ];
    let codes: std::collections::HashSet<_> = errors.iter().map(|e| e.reason()).collect();
    assert_eq!(codes.len(), errors.len());
}

fn client_token(role: Role, exp: i64, data: Option<&str>) -> String {
    mint_application(&AppMintRequest {
        application_id: APP,
        private_key: &key_a(),
        session_id: "1_sid",
        role,
        create_time: NOW,
        expire_time: exp,
        data,
        initial_layout_class_list: &["full".into(), "focus".into()],
    })
}

#[test]
fn client_tokens_verify_and_are_not_rest_credentials() {
    for role in [
        Role::Publisher,
        Role::Subscriber,
        Role::Moderator,
        Role::PublisherOnly,
    ] {
        let t = client_token(role, NOW + 86_400, Some("name=ann"));
        // A client token never authenticates REST calls.
        assert!(matches!(
            verify(&t, &[pub_a()], NOW),
            Err(AppAuthError::ClientToken(_))
        ));
        let parsed = ParsedToken::parse(&t).unwrap();
        assert!(parsed.is_application());
        assert_eq!(parsed.project_id(), APP);
        assert_eq!(parsed.claimed_session_id().as_deref(), Some("1_sid"));
        let grant = parsed.verify_application(&[pub_b(), pub_a()], NOW).unwrap();
        assert_eq!(grant.role, role);
        assert_eq!(grant.credential, Credential::Application);
        assert_eq!(grant.session_id, "1_sid");
        assert_eq!(grant.data.as_deref(), Some("name=ann"));
        assert_eq!(grant.initial_layout_class_list, ["full", "focus"]);
        assert_eq!(grant.expire_time, NOW + 86_400);
    }
    // A REST JWT is not a client token.
    let rest = mint(APP, &key_a(), NOW, 900);
    assert_eq!(
        ParsedToken::parse(&rest)
            .unwrap()
            .verify_application(&[pub_a()], NOW),
        Err(TokenError::RestCredential)
    );
}

#[test]
fn client_token_refusals_have_their_reasons() {
    let reason = |t: &str, keys: &[PublicKey]| {
        ParsedToken::parse(t)
            .and_then(|p| p.verify_application(keys, NOW))
            .map(|_| "ok")
            .unwrap_or_else(|e| e.reason())
    };
    let good = client_token(Role::Publisher, NOW + 60, None);
    assert_eq!(reason(&good, &[pub_a()]), "ok");
    assert_eq!(reason(&good, &[pub_b()]), "bad_signature");
    assert_eq!(
        reason(&client_token(Role::Publisher, NOW - 1, None), &[pub_a()]),
        "expired"
    );
    assert_eq!(
        reason(
            &client_token(Role::Publisher, NOW + 40 * 86_400, None),
            &[pub_a()]
        ),
        "lifetime_too_long"
    );
    assert_eq!(
        reason(
            &client_token(Role::Publisher, NOW + 60, Some(&"x".repeat(1001))),
            &[pub_a()]
        ),
        "data_too_long"
    );
    let body = serde_json::json!({"application_id": APP, "scope": "session.connect",
        "session_id": "1_sid", "role": "publisher", "iat": NOW, "exp": NOW + 60});
    let none = forge(serde_json::json!({"alg": "none"}), body.clone(), b"");
    assert_eq!(reason(&none, &[pub_a()]), "alg_none");
    let serde_json::Value::Object(map) = body.clone() else {
        unreachable!()
    };
    assert_eq!(
        reason(&jwt::sign_hs256(&map, "s"), &[pub_a()]),
        "secret_signed_application"
    );
    let es = forge(serde_json::json!({"alg": "ES256"}), body.clone(), &[0; 64]);
    assert_eq!(reason(&es, &[pub_a()]), "wrong_key_type");
    let kid = rs256(body.clone(), &key_a(), Some("0123456789abcdef"));
    assert_eq!(reason(&kid, &[pub_a()]), "unknown_kid");
    let mut bad_role = body.clone();
    bad_role["role"] = "admin".into();
    assert_eq!(
        reason(&rs256(bad_role, &key_a(), None), &[pub_a()]),
        "invalid_role"
    );
    let mut bad_scope = body.clone();
    bad_scope["scope"] = "session.admin".into();
    assert_eq!(
        reason(&rs256(bad_scope, &key_a(), None), &[pub_a()]),
        "invalid_scope"
    );
    // Secret verification of an application token never passes.
    assert_eq!(
        ParsedToken::parse(&good)
            .unwrap()
            .verify("any", NOW)
            .unwrap_err()
            .reason(),
        "unknown_application"
    );
}
