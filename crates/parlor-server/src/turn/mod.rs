//! TURN and STUN for clients that cannot reach the media router directly (UDP blocked, a
//! strict NAT): the servers clients are told about when they connect, with short-lived TURN
//! credentials minted per connection.
//!
//! * [`credentials`] — the TURN REST API scheme coturn's `use-auth-secret` checks:
//!   `username = <expiry>:<connectionId>`, `credential = base64(HMAC-SHA1(secret, username))`.
//! * [`IceServers`] — the one list builder: every source of servers (the `--turn-url`s of an
//!   external TURN server such as coturn), and each connection's entries.
//! * [`TurnSettings`] — `--turn-url`, `--turn-secret` and `--turn-credential-ttl`, checked.

pub mod credentials;
pub mod embedded;
mod ice_servers;
mod url;

use std::time::Duration;

pub use credentials::TurnSecret;
pub use ice_servers::IceServers;
pub use url::{IceUrl, IceUrlError, Scheme};

/// How long minted TURN credentials last by default: a day, as the TURN REST API draft
/// suggests.
pub const DEFAULT_CREDENTIAL_TTL: Duration = Duration::from_secs(86_400);
/// The shortest credential lifetime allowed: coturn refuses a refresh with expired
/// credentials, so a relayed call cannot outlive them.
pub const MIN_CREDENTIAL_TTL: Duration = Duration::from_secs(600);
/// The longest credential lifetime allowed.
pub const MAX_CREDENTIAL_TTL: Duration = Duration::from_secs(7 * 86_400);

/// The external STUN/TURN servers clients are given (`--turn-url`, `--turn-secret`,
/// `--turn-credential-ttl`). `Debug` never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnSettings {
    pub urls: Vec<IceUrl>,
    pub secret: Option<TurnSecret>,
    pub credential_ttl: Duration,
}

impl Default for TurnSettings {
    fn default() -> Self {
        TurnSettings {
            urls: Vec::new(),
            secret: None,
            credential_ttl: DEFAULT_CREDENTIAL_TTL,
        }
    }
}

/// TURN settings that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TurnConfigError {
    #[error(transparent)]
    Url(#[from] IceUrlError),
    #[error(
        "invalid --turn-secret: it must be {min} to {max} visible ASCII characters, no spaces \
         (the TURN server's shared secret, coturn's static-auth-secret; e.g. `openssl rand -hex 32`)",
        min = TurnSecret::MIN_LEN,
        max = TurnSecret::MAX_LEN
    )]
    BadSecret,
    #[error(
        "--turn-url '{0}' needs --turn-secret: the TURN server's shared secret (coturn's \
         static-auth-secret, with use-auth-secret), to mint each client's credentials"
    )]
    NoSecret(String),
    #[error(
        "--turn-secret is set, but no --turn-url is a turn: or turns: URL (give the TURN \
         server's URLs, e.g. --turn-url 'turn:turn.example.com:3478?transport=udp')"
    )]
    NoTurnUrl,
    #[error(
        "invalid --turn-credential-ttl '{0}': give seconds or a duration with a unit s, m, h \
         or d (e.g. 86400, 12h), from 10m to 7d"
    )]
    BadTtl(String),
}

impl TurnSettings {
    /// Checks the raw settings: `urls` (each may hold several, comma-separated), the secret
    /// and the credential lifetime (a duration, [`crate::config::parse_duration`]).
    pub fn resolve(
        urls: Vec<String>,
        secret: Option<String>,
        ttl: Option<String>,
    ) -> Result<Self, TurnConfigError> {
        let urls = urls
            .iter()
            .flat_map(|u| u.split(','))
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::parse::<IceUrl>)
            .collect::<Result<Vec<_>, _>>()?;
        let secret = secret
            .map(|s| TurnSecret::new(s).ok_or(TurnConfigError::BadSecret))
            .transpose()?;
        let first_turn = urls.iter().find(|u| u.scheme().is_turn());
        match (first_turn, &secret) {
            (Some(url), None) => return Err(TurnConfigError::NoSecret(url.to_string())),
            (None, Some(_)) => return Err(TurnConfigError::NoTurnUrl),
            _ => {}
        }
        let credential_ttl = match ttl {
            None => DEFAULT_CREDENTIAL_TTL,
            Some(text) => crate::config::parse_duration(&text)
                .filter(|d| (MIN_CREDENTIAL_TTL..=MAX_CREDENTIAL_TTL).contains(d))
                .ok_or(TurnConfigError::BadTtl(text))?,
        };
        Ok(TurnSettings {
            urls,
            secret,
            credential_ttl,
        })
    }

    /// The servers to give clients: these URLs, credentials minted with the secret.
    pub fn ice_servers(&self) -> IceServers {
        let mut servers = IceServers::none();
        servers.add(&self.urls, self.secret.as_ref(), self.credential_ttl);
        servers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "north-wind-7f3a9c21e5d84b60";

    fn resolve(
        urls: &[&str],
        secret: Option<&str>,
        ttl: Option<&str>,
    ) -> Result<TurnSettings, String> {
        TurnSettings::resolve(
            urls.iter().map(|u| u.to_string()).collect(),
            secret.map(Into::into),
            ttl.map(Into::into),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn urls_with_a_secret_or_stun_alone() {
        let t = resolve(
            &[
                "turn:192.0.2.7:3478?transport=udp,turn:192.0.2.7:3478?transport=tcp",
                "stun:192.0.2.7",
            ],
            Some(SECRET),
            None,
        )
        .unwrap();
        assert_eq!(t.urls.len(), 3);
        assert_eq!(t.credential_ttl, DEFAULT_CREDENTIAL_TTL);
        assert!(
            !format!("{t:?}").contains("north-wind"),
            "no secret in Debug"
        );
        let list = t
            .ice_servers()
            .for_connection("c", std::time::SystemTime::now());
        assert_eq!(list.len(), 2);
        assert!(list[0].credential.is_some() && list[1].credential.is_none());
        // STUN needs no secret; nothing at all is fine too.
        assert_eq!(
            resolve(&["stun:192.0.2.7"], None, None).unwrap().urls.len(),
            1
        );
        assert!(resolve(&[], None, None).unwrap().ice_servers().is_empty());
        let t = resolve(
            &["turns:t.example.com:5349?transport=tcp"],
            Some(SECRET),
            Some("12h"),
        )
        .unwrap();
        assert_eq!(t.credential_ttl, Duration::from_secs(43_200));
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        for (urls, secret, ttl, why) in [
            (
                &["turn:192.0.2.7:3478"][..],
                None,
                None,
                "needs --turn-secret",
            ),
            (
                &["stun:192.0.2.7"][..],
                Some(SECRET),
                None,
                "no --turn-url is a turn:",
            ),
            (&[][..], Some(SECRET), None, "no --turn-url is a turn:"),
            (
                &["turn:192.0.2.7"][..],
                Some("short"),
                None,
                "invalid --turn-secret",
            ),
            (
                &["http://192.0.2.7"][..],
                Some(SECRET),
                None,
                "invalid --turn-url 'http://192.0.2.7'",
            ),
            (
                &["turn:192.0.2.7"][..],
                Some(SECRET),
                Some("59"),
                "invalid --turn-credential-ttl '59'",
            ),
            (
                &["turn:192.0.2.7"][..],
                Some(SECRET),
                Some("8d"),
                "from 10m to 7d",
            ),
            (
                &["turn:192.0.2.7"][..],
                Some(SECRET),
                Some("a day"),
                "--turn-credential-ttl 'a day'",
            ),
        ] {
            let e = resolve(urls, secret, ttl).unwrap_err();
            assert!(e.contains(why), "{urls:?} {ttl:?}: {e}");
            assert!(!e.contains("north-wind"), "{e}");
        }
    }
}
