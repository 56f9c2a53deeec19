//! The Inspector page's login credential: a cookie that names a project and an expiry,
//! signed with that project's secret, so the server keeps no login state and a restart
//! logs nobody out.
//!
//! Value: `<apiKey>.<expiry, Unix seconds>.<signature>`, the signature base64url of
//! HMAC-SHA256 over `parlor-inspector-login\n<apiKey>\n<expiry>` with a key derived from the
//! project's secret (HMAC-SHA256(secret, "parlor inspector cookie key")), so it can never
//! stand for anything else signed with that secret (client tokens, REST JWTs, callbacks,
//! download URLs). Checked in constant time. Rotating a project's secret (or deleting an
//! application) ends its logins.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cookie's name.
pub const NAME: &str = "parlor_inspector";
/// How long a login lasts.
pub const LIFETIME_SECS: i64 = 4 * 3600;
/// How far ahead of the server's clock an expiry may be beyond [`LIFETIME_SECS`] (a
/// cookie from a server whose clock ran ahead).
const SKEW_SECS: i64 = 60;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, api_key: &str, expiry: i64) -> HmacSha256 {
    let mut derive = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    derive.update(b"parlor inspector cookie key");
    let key = derive.finalize().into_bytes();
    let mut mac = HmacSha256::new_from_slice(&key).expect("any key length");
    mac.update(b"parlor-inspector-login\n");
    mac.update(api_key.as_bytes());
    mac.update(b"\n");
    mac.update(expiry.to_string().as_bytes());
    mac
}

/// A cookie value for `api_key`, signed with its `secret`, valid until `now + LIFETIME_SECS`.
pub fn mint(api_key: &str, secret: &str, now: i64) -> String {
    let expiry = now + LIFETIME_SECS;
    let signature = mac(secret, api_key, expiry).finalize().into_bytes();
    format!("{api_key}.{expiry}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A cookie value's parts, not yet trusted.
#[derive(Debug, PartialEq, Eq)]
pub struct Claimed<'a> {
    pub api_key: &'a str,
    pub expiry: i64,
    signature: &'a str,
}

/// Reads a cookie value's parts, and checks its expiry against `now`: `None` when it is
/// malformed, expired or implausibly far ahead.
pub fn claimed(value: &str, now: i64) -> Option<Claimed<'_>> {
    let mut parts = value.split('.');
    let (Some(api_key), Some(expiry), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let valid_key = !api_key.is_empty()
        && api_key.len() <= 64
        && api_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid_key || expiry.is_empty() || !expiry.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let expiry: i64 = expiry.parse().ok()?;
    if expiry <= now || expiry > now + LIFETIME_SECS + SKEW_SECS {
        return None;
    }
    Some(Claimed {
        api_key,
        expiry,
        signature,
    })
}

impl Claimed<'_> {
    /// Whether the signature is the project's (`secret`), compared in constant time.
    pub fn signed_with(&self, secret: &str) -> bool {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(self.signature) else {
            return false;
        };
        mac(secret, self.api_key, self.expiry)
            .verify_slice(&signature)
            .is_ok()
    }
}

/// The value of cookie [`NAME`] among a request's `Cookie` header values.
pub fn find<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    headers
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// The `Set-Cookie` value that stores `value`: HttpOnly, SameSite=Strict, only for
/// `/inspector`, Secure when the page is served over TLS.
pub fn set(value: &str, secure: bool) -> String {
    format!(
        "{NAME}={value}; Path=/inspector; Max-Age={LIFETIME_SECS}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes it.
pub fn clear(secure: bool) -> String {
    format!(
        "{NAME}=; Path=/inspector; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c";

    #[test]
    fn a_minted_cookie_verifies_with_its_secret_only() {
        let v = mint("47001234", SECRET, NOW);
        let c = claimed(&v, NOW + 10).expect("parses");
        assert_eq!(c.api_key, "47001234");
        assert_eq!(c.expiry, NOW + LIFETIME_SECS);
        assert!(c.signed_with(SECRET));
        assert!(!c.signed_with("another secret"));
    }

    #[test]
    fn expired_or_far_future_cookies_are_refused() {
        let v = mint("47001234", SECRET, NOW);
        assert!(claimed(&v, NOW + LIFETIME_SECS).is_none(), "expired");
        assert!(claimed(&v, NOW + LIFETIME_SECS - 1).is_some());
        let far = mint("47001234", SECRET, NOW + 3600);
        assert!(claimed(&far, NOW).is_none(), "expiry too far ahead");
    }

    #[test]
    fn changing_the_key_or_the_expiry_breaks_the_signature() {
        let v = mint("47001234", SECRET, NOW);
        let sig = v.rsplit('.').next().unwrap();
        let other_key = format!("47005678.{}.{sig}", NOW + LIFETIME_SECS);
        assert!(!claimed(&other_key, NOW).unwrap().signed_with(SECRET));
        let later = format!("47001234.{}.{sig}", NOW + LIFETIME_SECS + 30);
        assert!(!claimed(&later, NOW).unwrap().signed_with(SECRET));
        // A character inside the signature (the last one also carries padding bits).
        let mut chars: Vec<char> = v.chars().collect();
        let i = chars.len() - 10;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let flipped: String = chars.into_iter().collect();
        assert!(!claimed(&flipped, NOW).unwrap().signed_with(SECRET));
    }

    #[test]
    fn malformed_values_are_refused() {
        for v in [
            "",
            "47001234",
            "47001234.1800003600",
            "47001234.1800003600.sig.extra",
            "4700 1234.1800003600.sig",
            "47001234.-5.sig",
            "47001234.+1800003600.sig",
            ".1800003600.sig",
        ] {
            assert!(claimed(v, NOW).is_none(), "{v:?}");
        }
        let c = claimed("47001234.1800003600.%%%", NOW).unwrap();
        assert!(!c.signed_with(SECRET), "undecodable signature");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        assert_eq!(find(["a=1; parlor_inspector=k.1.s ; b=2"]), Some("k.1.s"));
        assert_eq!(find(["a=1", "parlor_inspector=x"]), Some("x"));
        assert_eq!(find(["parlor_inspector_other=x"]), None);
        assert_eq!(find([]), None);
    }

    #[test]
    fn set_cookie_attributes() {
        let s = set("v", false);
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Strict"));
        assert!(s.contains("Path=/inspector") && !s.contains("Secure"));
        assert!(set("v", true).ends_with("; Secure"));
        assert!(clear(true).contains("Max-Age=0"));
    }
}
