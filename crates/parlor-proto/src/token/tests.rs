use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use sha1::Sha1;

use super::*;
use crate::session_id;

const KEY: &str = "47001234";
const SECRET: &str = "0123456789abcdef0123456789abcdef01234567";
const NOW: i64 = 1_800_000_000;

fn request<'a>(sid: &'a str, format: TokenFormat, classes: &'a [String]) -> MintRequest<'a> {
    MintRequest {
        api_key: KEY,
        api_secret: SECRET,
        session_id: sid,
        role: Role::Moderator,
        create_time: NOW,
        expire_time: NOW + 3600,
        data: Some("name=Ann Lee&id=7 ü"),
        initial_layout_class_list: classes,
        format,
    }
}

fn verify(token: &str) -> Result<TokenGrant, TokenError> {
    ParsedToken::parse(token)?.verify(SECRET, NOW)
}

fn t1_from_raw(partner: &str, data: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    format!(
        "T1=={}",
        STANDARD.encode(format!("partner_id={partner}&sig={sig}:{data}"))
    )
}

#[test]
fn both_formats_round_trip() {
    let sid = session_id::generate(KEY, None, NOW * 1000);
    let classes = vec!["focus".to_owned(), "full".to_owned()];
    for format in [TokenFormat::Jwt, TokenFormat::T1] {
        let token = mint(&request(&sid, format, &classes));
        let parsed = ParsedToken::parse(&token).unwrap();
        assert_eq!(parsed.project_id(), KEY);
        assert_eq!(parsed.claimed_session_id().as_deref(), Some(sid.as_str()));
        assert_eq!(parsed.format(), format);
        let grant = parsed.verify(SECRET, NOW).unwrap();
        assert_eq!(grant.session_id, sid);
        assert_eq!(grant.role, Role::Moderator);
        assert_eq!(grant.data.as_deref(), Some("name=Ann Lee&id=7 ü"));
        assert_eq!(grant.expire_time, NOW + 3600);
        assert_eq!(grant.initial_layout_class_list, classes);
        assert_eq!(grant.format, format);
    }
}

#[test]
fn python_style_jwt_is_accepted() {
    // Python: int nonce, no create_time/expire_time, layout list omitted when empty.
    let claims = serde_json::json!({
        "session_id": "1_abc", "role": "subscriber", "iat": NOW, "exp": NOW + 60,
        "scope": "session.connect", "iss": KEY, "ist": "project", "nonce": 123456,
    });
    let serde_json::Value::Object(map) = claims else {
        unreachable!()
    };
    let grant = verify(&jwt::sign_hs256(&map, SECRET)).unwrap();
    assert_eq!(grant.role, Role::Subscriber);
    assert_eq!(grant.expire_time, NOW + 60);
    assert!(grant.initial_layout_class_list.is_empty() && grant.data.is_none());
}

#[test]
fn t1_in_python_order_with_percent_20_and_no_scope() {
    let data = format!(
        "session_id=1_abc&create_time={NOW}&expire_time={}&role=publisheronly&nonce=42\
         &initial_layout_class_list=a%20b&connection_data=hello%20world",
        NOW + 10
    );
    let grant = verify(&t1_from_raw(KEY, &data, SECRET)).unwrap();
    assert_eq!(grant.role, Role::PublisherOnly);
    assert_eq!(grant.data.as_deref(), Some("hello world"));
    assert_eq!(grant.initial_layout_class_list, ["a", "b"]);
    assert_eq!(grant.format, TokenFormat::T1);
}

#[test]
fn each_refusal_has_its_reason() {
    let sid = "1_abc";
    let jwt = mint(&request(sid, TokenFormat::Jwt, &[]));
    let t1 = mint(&request(sid, TokenFormat::T1, &[]));

    // Tampering: a changed signature character, a changed payload, another secret.
    // (A middle character: the last one may carry only unused base64 bits.)
    let sig_start = jwt.rfind('.').unwrap() + 1;
    let mut bad_sig = jwt.clone().into_bytes();
    let i = sig_start + 10;
    bad_sig[i] = if bad_sig[i] == b'A' { b'B' } else { b'A' };
    let bad_sig = String::from_utf8(bad_sig).unwrap();
    assert_eq!(verify(&bad_sig).unwrap_err().reason(), "bad_signature");
    assert_eq!(
        ParsedToken::parse(&t1).unwrap().verify("wrong", NOW),
        Err(TokenError::BadSignature)
    );
    let forged = t1_from_raw(KEY, "session_id=1_abc&role=moderator", "not-the-secret");
    assert_eq!(verify(&forged), Err(TokenError::BadSignature));

    // Expiry: expire_time and exp both count; the earliest wins.
    for format in [TokenFormat::Jwt, TokenFormat::T1] {
        let mut req = request(sid, format, &[]);
        req.expire_time = NOW - 1;
        assert_eq!(verify(&mint(&req)).unwrap_err().reason(), "expired");
        req.expire_time = NOW + 31 * 24 * 3600;
        assert_eq!(
            verify(&mint(&req)).unwrap_err().reason(),
            "lifetime_too_long"
        );
        req.expire_time = NOW + 30 * 24 * 3600;
        assert!(verify(&mint(&req)).is_ok(), "30 days are allowed");
        req.expire_time = NOW + 10;
        req.data = Some(&"x".repeat(1001).leak()[..]);
        assert_eq!(verify(&mint(&req)), Err(TokenError::DataTooLong(1001)));
        req.data = Some(&"é".repeat(1000).leak()[..]);
        assert!(verify(&mint(&req)).is_ok(), "1000 characters are allowed");
    }

    let bad_role = t1_from_raw(
        KEY,
        &format!("session_id=1_abc&expire_time={}&role=admin", NOW + 5),
        SECRET,
    );
    assert_eq!(
        verify(&bad_role),
        Err(TokenError::InvalidRole("admin".into()))
    );
    let bad_scope = t1_from_raw(
        KEY,
        &format!("session_id=1_abc&expire_time={}&scope=everything", NOW + 5),
        SECRET,
    );
    assert_eq!(verify(&bad_scope).unwrap_err().reason(), "invalid_scope");
    let twice = t1_from_raw(
        KEY,
        &format!("session_id=1_a&session_id=1_b&expire_time={}", NOW + 5),
        SECRET,
    );
    assert_eq!(verify(&twice).unwrap_err().reason(), "malformed");
    let no_session = t1_from_raw(KEY, &format!("expire_time={}", NOW + 5), SECRET);
    assert_eq!(verify(&no_session).unwrap_err().reason(), "malformed");

    for junk in [
        "", "T1==", "T1==!!!", "a.b.c", "abc", "T1==YWJj", "x.eyJ9.y",
    ] {
        assert_eq!(
            ParsedToken::parse(junk).unwrap_err().reason(),
            "malformed",
            "{junk:?}"
        );
    }
}

proptest! {
    #[test]
    fn parse_and_verify_never_panic(s in "\\PC{0,300}") {
        if let Ok(p) = ParsedToken::parse(&s) {
            let _ = p.verify(SECRET, NOW);
        }
        let t1 = format!("T1=={}", STANDARD.encode(&s));
        if let Ok(p) = ParsedToken::parse(&t1) {
            let _ = p.verify(SECRET, NOW);
        }
    }

    #[test]
    fn any_grant_round_trips(
        data in proptest::option::of("\\PC{0,200}"),
        role in proptest::sample::select(Role::ALL.to_vec()),
        ttl in 1i64..2_592_000,
        classes in proptest::collection::vec("[a-z0-9_-]{1,12}", 0..4),
        t1 in any::<bool>(),
    ) {
        let format = if t1 { TokenFormat::T1 } else { TokenFormat::Jwt };
        let req = MintRequest {
            api_key: KEY, api_secret: SECRET, session_id: "1_sid", role,
            create_time: NOW, expire_time: NOW + ttl, data: data.as_deref(),
            initial_layout_class_list: &classes, format,
        };
        let grant = verify(&mint(&req)).unwrap();
        prop_assert_eq!(grant.role, role);
        prop_assert_eq!(grant.data, data.filter(|d| !d.is_empty()));
        prop_assert_eq!(grant.initial_layout_class_list, classes);
        prop_assert_eq!(grant.expire_time, NOW + ttl);
    }
}

#[test]
fn a_rest_credential_is_not_a_client_token() {
    let rest = crate::project_auth::mint(KEY, SECRET, NOW, 300);
    let err = verify(&rest).unwrap_err();
    assert_eq!(err, TokenError::RestCredential);
    assert_eq!(err.reason(), "rest_credential");
}

#[test]
fn a_critical_header_extension_is_refused() {
    let sid = session_id::generate(KEY, None, NOW * 1000);
    let token = mint(&request(&sid, TokenFormat::Jwt, &[]));
    let (_, rest) = token.split_once('.').unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1}"#);
    // Re-sign with the crit header so only the header is at fault.
    let payload = rest.split('.').next().unwrap();
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let err = verify(&format!("{signing_input}.{sig}")).unwrap_err();
    assert!(
        matches!(&err, TokenError::Malformed(m) if m.contains("crit")),
        "{err:?}"
    );
}
