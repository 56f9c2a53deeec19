//! Credentials: the TURN REST API scheme (draft-uberti-behave-turn-rest, coturn's
//! `use-auth-secret`) checked statelessly, and the nonces of long-term authentication.
//!
//! A username is `<expiry>:<user>` (the expiry in Unix seconds) and its password
//! `base64(HMAC-SHA1(secret, username))`: the server keeps no list of users, it recomputes
//! the password from the username, and refuses the username once its expiry has passed.
//! The long-term key of a message's MESSAGE-INTEGRITY is `MD5(username:realm:password)`
//! (RFC 8489 §9.2.2).
//!
//! Nonces are stateless too: `<issued, hex>-<HMAC(server key, issued), hex>`. A nonce
//! older than [`NONCE_LIFETIME`] is stale (438), so a captured request cannot be replayed
//! for long.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Digest as _;

/// How long a nonce is accepted.
pub const NONCE_LIFETIME: u64 = 3600;

/// `base64(HMAC-SHA1(secret, username))`.
pub fn rest_password(secret: &[u8], username: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    STANDARD.encode(hmac::sign(&key, username.as_bytes()).as_ref())
}

/// The long-term credential key, `MD5(username:realm:password)`.
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    let mut md5 = md5::Md5::new();
    md5.update(username.as_bytes());
    md5.update(b":");
    md5.update(realm.as_bytes());
    md5.update(b":");
    md5.update(password.as_bytes());
    md5.finalize().into()
}

/// The expiry (Unix seconds) a REST username carries, if it is one.
pub fn username_expiry(username: &str) -> Option<u64> {
    let (expiry, user) = username.split_once(':')?;
    (!user.is_empty()).then_some(())?;
    expiry.parse().ok()
}

/// Issues and checks nonces with a server key.
pub struct Nonces {
    key: hmac::Key,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces")
    }
}

/// What a nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Valid,
    Stale,
    Forged,
}

impl Nonces {
    pub fn new(key: &[u8]) -> Self {
        Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// A nonce issued at `now_unix`.
    pub fn issue(&self, now_unix: u64) -> String {
        let tag = hmac::sign(&self.key, &now_unix.to_be_bytes());
        format!("{now_unix:x}-{}", hex(&tag.as_ref()[..12]))
    }

    pub fn check(&self, nonce: &str, now_unix: u64) -> NonceCheck {
        let Some((issued, tag)) = nonce.split_once('-') else {
            return NonceCheck::Forged;
        };
        let Ok(issued) = u64::from_str_radix(issued, 16) else {
            return NonceCheck::Forged;
        };
        let want = hmac::sign(&self.key, &issued.to_be_bytes());
        if constant_time::verify_slices_are_equal(
            hex(&want.as_ref()[..12]).as_bytes(),
            tag.as_bytes(),
        )
        .is_err()
        {
            return NonceCheck::Forged;
        }
        if issued > now_unix || now_unix - issued > NONCE_LIFETIME {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_password_matches_an_independent_hmac() {
        // printf '%s' 1700000000:9bbe0304-7a01-49e7-bf8b-75f490db30a0 |
        //   openssl dgst -sha1 -hmac north-wind-7f3a9c21e5d84b60 -binary | base64
        assert_eq!(
            rest_password(
                b"north-wind-7f3a9c21e5d84b60",
                "1700000000:9bbe0304-7a01-49e7-bf8b-75f490db30a0"
            ),
            "BsXvzzcFfnSmZzv+xKJ+Y2GQgb8="
        );
    }

    #[test]
    fn long_term_key_is_rfc_8489s() {
        let key = long_term_key("user", "realm", "pass");
        // printf 'user:realm:pass' | md5sum
        assert_eq!(hex(&key), "8493fbc53ba582fb4c044c456bdc40eb");
    }

    #[test]
    fn usernames_carry_their_expiry() {
        assert_eq!(username_expiry("1700000000:conn"), Some(1_700_000_000));
        assert_eq!(username_expiry("1700000000:"), None);
        assert_eq!(username_expiry("alice"), None);
        assert_eq!(username_expiry("soon:conn"), None);
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let n = Nonces::new(b"server key");
        let nonce = n.issue(1000);
        assert_eq!(n.check(&nonce, 1000), NonceCheck::Valid);
        assert_eq!(n.check(&nonce, 1000 + NONCE_LIFETIME), NonceCheck::Valid);
        assert_eq!(n.check(&nonce, 1001 + NONCE_LIFETIME), NonceCheck::Stale);
        assert_eq!(
            Nonces::new(b"other").check(&nonce, 1000),
            NonceCheck::Forged
        );
        let (_, tag) = nonce.split_once('-').unwrap();
        assert_eq!(n.check(&format!("3e9-{tag}"), 1001), NonceCheck::Forged);
        assert_eq!(n.check("garbage", 1000), NonceCheck::Forged);
    }
}
