//! The STUN and TURN servers a client is told about when it connects (`connected.iceServers`),
//! built in one place for every connection.

use std::time::{Duration, SystemTime};

use parlor_proto::signaling::IceServer;

use super::credentials::{self, TurnSecret};
use super::url::IceUrl;

/// Every source of STUN/TURN servers the server knows, in the order clients get them:
/// today the external servers of `--turn-url`; an embedded TURN server adds itself with
/// [`IceServers::add`] and its own secret.
#[derive(Debug, Clone, Default)]
pub struct IceServers {
    groups: Vec<Group>,
}

/// URLs that share credentials: one `RTCIceServer` entry.
#[derive(Debug, Clone)]
struct Group {
    urls: Vec<String>,
    /// Credentials for TURN URLs: the shared secret and how long minted ones last.
    auth: Option<(TurnSecret, Duration)>,
}

impl IceServers {
    /// No servers: clients connect to the media router directly only.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds `urls` (one `RTCIceServer` each group). TURN URLs get credentials minted with
    /// `secret` valid for `ttl`; STUN URLs go to an entry of their own, without any.
    pub fn add(&mut self, urls: &[IceUrl], secret: Option<&TurnSecret>, ttl: Duration) {
        let (turn, stun): (Vec<&IceUrl>, Vec<&IceUrl>) =
            urls.iter().partition(|u| u.scheme().is_turn());
        if !turn.is_empty() {
            self.groups.push(Group {
                urls: turn.iter().map(|u| u.to_string()).collect(),
                auth: secret.map(|s| (s.clone(), ttl)),
            });
        }
        if !stun.is_empty() {
            self.groups.push(Group {
                urls: stun.iter().map(|u| u.to_string()).collect(),
                auth: None,
            });
        }
    }

    /// Every URL, in order (for the log: no credentials in them).
    pub fn urls(&self) -> Vec<&str> {
        self.groups
            .iter()
            .flat_map(|g| g.urls.iter().map(String::as_str))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The list for the connection `connection_id` at `now`: its TURN credentials are
    /// `<now + ttl>:<connection_id>` and the HMAC of that under each group's secret.
    pub fn for_connection(&self, connection_id: &str, now: SystemTime) -> Vec<IceServer> {
        self.groups
            .iter()
            .map(|g| {
                let minted = g
                    .auth
                    .as_ref()
                    .map(|(secret, ttl)| credentials::mint(secret, connection_id, now, *ttl));
                IceServer {
                    urls: g.urls.clone(),
                    username: minted.as_ref().map(|c| c.username.clone()),
                    credential: minted.map(|c| c.credential),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_urls_share_minted_credentials_and_stun_urls_have_none() {
        let urls: Vec<IceUrl> = [
            "turn:192.0.2.7:3478?transport=udp",
            "stun:192.0.2.7:3478",
            "turns:turn.example.com:5349?transport=tcp",
        ]
        .iter()
        .map(|u| u.parse().unwrap())
        .collect();
        let secret = TurnSecret::new("north-wind-7f3a9c21e5d84b60").unwrap();
        let mut servers = IceServers::none();
        assert!(servers.is_empty());
        assert!(servers.for_connection("c", SystemTime::now()).is_empty());
        servers.add(&urls, Some(&secret), Duration::from_secs(600));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let list = servers.for_connection("conn-1", now);
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0].urls,
            [
                "turn:192.0.2.7:3478?transport=udp",
                "turns:turn.example.com:5349?transport=tcp"
            ]
        );
        assert_eq!(list[0].username.as_deref(), Some("1600:conn-1"));
        assert_eq!(
            list[0].credential.as_deref(),
            Some(credentials::password(&secret, "1600:conn-1").as_str())
        );
        assert_eq!(list[1].urls, ["stun:192.0.2.7:3478"]);
        assert_eq!((&list[1].username, &list[1].credential), (&None, &None));
        // Another connection, other credentials.
        let other = servers.for_connection("conn-2", now);
        assert_ne!(other[0].credential, list[0].credential);
        assert!(!format!("{servers:?}").contains("north-wind"));
    }
}
