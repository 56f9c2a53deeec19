//! Product limits, as documented by OpenTok and enforced by Parlor.

/// Longest connection data a client token may carry, in characters.
pub const MAX_CONNECTION_DATA_CHARS: usize = 1000;
/// Default client token lifetime (24 hours).
pub const DEFAULT_TOKEN_TTL_SECS: i64 = 24 * 3600;
/// Longest client token lifetime (30 days).
pub const MAX_TOKEN_TTL_SECS: i64 = 30 * 24 * 3600;
/// Longest signal `type`, in characters (`A-Za-z0-9-_~`).
pub const MAX_SIGNAL_TYPE_CHARS: usize = 128;
/// Largest signal `data`, in bytes.
pub const MAX_SIGNAL_DATA_BYTES: usize = 8 * 1024;
/// Clock skew tolerated on REST authentication JWTs (`iat`/`exp`), in seconds.
pub const REST_AUTH_SKEW_SECS: i64 = 300;
/// Longest lifetime of a REST authentication JWT: its `exp` may be at most this far (plus
/// the skew) after the server's time. The SDKs use 3–5 minutes; long-lived REST JWTs made
/// by hand (24 h) are the longest accepted.
pub const MAX_REST_AUTH_TTL_SECS: i64 = 24 * 3600;
/// Longest archive name accepted on a session.
pub const MAX_ARCHIVE_NAME_CHARS: usize = 80;
/// Archive resolutions accepted on a session.
pub const ARCHIVE_RESOLUTIONS: [&str; 6] = [
    "640x480",
    "480x640",
    "1280x720",
    "720x1280",
    "1920x1080",
    "1080x1920",
];
