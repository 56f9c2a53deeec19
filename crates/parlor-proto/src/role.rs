use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a client token allows its holder to do in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publish, subscribe and signal (the default).
    #[default]
    Publisher,
    /// Subscribe and signal; cannot publish.
    Subscriber,
    /// Everything a publisher can, plus force disconnect, force unpublish and force mute.
    Moderator,
    /// Publish only: cannot subscribe or signal.
    #[serde(rename = "publisheronly")]
    PublisherOnly,
}

impl Role {
    /// All roles, in documentation order.
    pub const ALL: [Role; 4] = [
        Role::Publisher,
        Role::Subscriber,
        Role::Moderator,
        Role::PublisherOnly,
    ];

    /// The wire spelling (`publisher`, `subscriber`, `moderator`, `publisheronly`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Publisher => "publisher",
            Role::Subscriber => "subscriber",
            Role::Moderator => "moderator",
            Role::PublisherOnly => "publisheronly",
        }
    }

    /// May publish streams.
    pub fn can_publish(self) -> bool {
        !matches!(self, Role::Subscriber)
    }

    /// May subscribe to streams.
    pub fn can_subscribe(self) -> bool {
        !matches!(self, Role::PublisherOnly)
    }

    /// May send signals.
    pub fn can_signal(self) -> bool {
        !matches!(self, Role::PublisherOnly)
    }

    /// May force disconnect, force unpublish and force mute.
    pub fn can_moderate(self) -> bool {
        matches!(self, Role::Moderator)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role string that is none of the four roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}' (expected publisher, subscriber, moderator or publisheronly)")]
pub struct RoleParseError(pub String);

impl FromStr for Role {
    type Err = RoleParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| RoleParseError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_capabilities() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("Publisher".parse::<Role>().is_err());
        assert!(!Role::Subscriber.can_publish());
        assert!(!Role::PublisherOnly.can_subscribe());
        assert!(!Role::PublisherOnly.can_signal());
        assert!(Role::Moderator.can_moderate() && !Role::Publisher.can_moderate());
    }
}
