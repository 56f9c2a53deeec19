//! Short-lived TURN credentials, as the TURN REST API draft (draft-uberti-behave-turn-rest)
//! and coturn's `use-auth-secret` define them: the username is `<expiry>:<user>` (the expiry
//! in Unix seconds), the password is `base64(HMAC-SHA1(secret, username))`. The TURN server
//! knows only the shared secret; it recomputes the password from the username and refuses
//! it once the expiry has passed.

use std::time::{Duration, SystemTime};

/// The secret shared with the TURN server (coturn's `static-auth-secret`). Never printed:
/// its `Debug` says only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnSecret(String);

impl TurnSecret {
    /// Fewest characters a secret may have.
    pub const MIN_LEN: usize = 16;
    /// Most characters a secret may have.
    pub const MAX_LEN: usize = 512;

    /// The secret, when it is 16 to 512 visible ASCII characters; `None` otherwise.
    pub fn new(secret: impl Into<String>) -> Option<Self> {
        let secret = secret.into();
        ((Self::MIN_LEN..=Self::MAX_LEN).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_graphic()))
        .then_some(TurnSecret(secret))
    }
}

impl TurnSecret {
    /// The secret itself, for the embedded TURN server that checks credentials with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnSecret(<redacted>)")
    }
}

/// A username and password for a TURN server.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub credential: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("credential", &"<redacted>")
            .finish()
    }
}

/// The credentials of `user` (a connection ID), valid until `now + ttl`.
pub fn mint(secret: &TurnSecret, user: &str, now: SystemTime, ttl: Duration) -> Credentials {
    let expiry = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(ttl)
        .as_secs();
    let username = format!("{expiry}:{user}");
    let credential = password(secret, &username);
    Credentials {
        username,
        credential,
    }
}

/// `base64(HMAC-SHA1(secret, username))`: what the TURN server expects for `username`.
pub fn password(secret: &TurnSecret, username: &str) -> String {
    parlor_turn::auth::rest_password(secret.0.as_bytes(), username)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "north-wind-7f3a9c21e5d84b60";
    const CONNECTION: &str = "9bbe0304-7a01-49e7-bf8b-75f490db30a0";

    #[test]
    fn matches_an_independent_hmac_sha1() {
        // printf '%s' "1700000000:$CONNECTION" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64
        let secret = TurnSecret::new(SECRET).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_699_913_600);
        let c = mint(&secret, CONNECTION, now, Duration::from_secs(86_400));
        assert_eq!(c.username, format!("1700000000:{CONNECTION}"));
        assert_eq!(c.credential, "BsXvzzcFfnSmZzv+xKJ+Y2GQgb8=");
        // Another secret, another password; the same secret, the same one.
        let other = TurnSecret::new("south-wind-7f3a9c21e5d84b60").unwrap();
        assert_ne!(password(&other, &c.username), c.credential);
        assert_eq!(password(&secret, &c.username), c.credential);
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        for bad in ["", "short", "has a space in it, sixteen+", &"x".repeat(513)] {
            assert!(TurnSecret::new(bad).is_none(), "{bad:?}");
        }
        let secret = TurnSecret::new(SECRET).unwrap();
        assert!(!format!("{secret:?}").contains("7f3a"));
        let c = mint(
            &secret,
            CONNECTION,
            SystemTime::now(),
            Duration::from_secs(60),
        );
        let shown = format!("{c:?}");
        assert!(shown.contains(&c.username) && !shown.contains(&c.credential));
    }
}
