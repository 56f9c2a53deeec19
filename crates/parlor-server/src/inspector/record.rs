//! One thing that happened in a session, as the history keeps it.

use serde::Serialize;

/// What a client told about itself: its SDK (from the `connect` message) and its HTTP
/// `User-Agent` and address (from the WebSocket upgrade).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    /// The SDK, e.g. `parlor-web` or `parlor-client` (`None`: it did not say).
    pub sdk: Option<String>,
    pub sdk_version: Option<String>,
    pub user_agent: Option<String>,
    /// The address the WebSocket came from (a proxy's, behind one).
    pub remote_addr: Option<String>,
}

/// A record: when, where, what.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Unix milliseconds.
    pub at: i64,
    pub session_id: String,
    /// The meeting it belongs to; `None` for a connection refused before it joined one.
    pub meeting_id: Option<String>,
    pub what: What,
}

/// The kinds of records. Each has a stable name ([`What::kind`]) used in the events table
/// and the API.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// A meeting started, or (`resumed`) went on: its session was joined again less than
    /// `--meeting-gap` after it emptied.
    MeetingStarted {
        project_id: String,
        resumed: bool,
    },
    MeetingEnded,
    ConnectionCreated {
        connection_id: String,
        role: String,
        data: String,
        client: ClientInfo,
    },
    /// A client with a valid token that could not join (the session is full).
    ConnectionFailed {
        reason: String,
        message: String,
        client: ClientInfo,
    },
    ConnectionDestroyed {
        connection_id: String,
        reason: String,
        /// Signals the connection sent.
        signals: u64,
    },
    /// A stream announced to the session (its media connected).
    StreamCreated {
        stream_id: String,
        connection_id: String,
        name: String,
        video_type: String,
        has_audio: bool,
        has_video: bool,
    },
    StreamDestroyed {
        stream_id: String,
        reason: String,
    },
    /// A publish that did not become a stream: refused, its offer rejected, or its media
    /// never connected.
    PublishFailed {
        connection_id: String,
        stream_id: Option<String>,
        reason: String,
    },
    /// A subscription whose media connected.
    SubscriptionCreated {
        subscription_id: String,
        stream_id: String,
        connection_id: String,
        /// A pre-call network test's subscription (`testNetwork`).
        test_network: bool,
    },
    /// A pre-call network test's subscription ended: what it measured (the router's
    /// windows and the client's reports), summed up per kind of media.
    PrecallTest {
        subscription_id: String,
        stream_id: String,
        connection_id: String,
        summary: serde_json::Value,
    },
    SubscriptionDestroyed {
        subscription_id: String,
        reason: String,
    },
    SubscribeFailed {
        connection_id: String,
        stream_id: String,
        reason: String,
    },
    /// `forceDisconnect`, `forceUnpublish`, `forceMute`, `forceMuteAll`, by a moderator's
    /// connection or (`by` = None) the REST API.
    Moderation {
        action: &'static str,
        by: Option<String>,
        target: Option<String>,
    },
    ArchiveStarted {
        archive_id: String,
    },
    ArchiveStopped {
        archive_id: String,
    },
    /// A connection lost its WebSocket and waits to be resumed (its client can resume).
    ConnectionLost {
        connection_id: String,
        /// What ended the socket: `silence`, `socketError`, or `takenOver` (the client
        /// resumed on another socket first).
        cause: &'static str,
    },
    /// A lost connection was resumed.
    ConnectionResumed {
        connection_id: String,
        /// How long it was away.
        away_ms: u64,
        /// Messages the server sent again, and the client's it had not had.
        resent: u64,
        heard: u64,
    },
    /// A step of a subscription's audio-only fallback (`videoQuality`: the router found
    /// its downlink too narrow for the lowest video layer, or wide enough again).
    VideoQuality {
        subscription_id: String,
        stream_id: String,
        connection_id: String,
        /// `warning`, `warningLifted`, `disabled` or `enabled`.
        state: String,
    },
    /// A window of media quality (kept in its own table, not the timeline).
    Quality(Quality),
}

/// One window of one kind of media, on a stream's publisher side or on a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    pub stream_id: String,
    /// `None`: the publisher's side (what the router receives).
    pub subscription_id: Option<String>,
    /// The publisher's or the subscriber's connection.
    pub connection_id: String,
    /// `audio` or `video`.
    pub media: &'static str,
    pub window_ms: u32,
    pub bitrate_bps: u64,
    pub packets: u64,
    pub nacks: u64,
    pub plis: u64,
    /// Fraction lost, 0–1.
    pub loss: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    /// The window's estimated MOS ([`crate::inspector::score`]); `None` when no media
    /// flowed (a muted track) or no receiver report has told the loss yet.
    pub mos: Option<f64>,
    /// What the client reported of the same media for about the same time (`stats`).
    pub client: Option<parlor_proto::signaling::StatsReport>,
}

impl What {
    /// The event's name in the history and the API.
    pub fn kind(&self) -> &'static str {
        match self {
            What::MeetingStarted { .. } => "meetingStarted",
            What::MeetingEnded => "meetingEnded",
            What::ConnectionCreated { .. } => "connectionCreated",
            What::ConnectionFailed { .. } => "connectionFailed",
            What::ConnectionDestroyed { .. } => "connectionDestroyed",
            What::StreamCreated { .. } => "streamCreated",
            What::StreamDestroyed { .. } => "streamDestroyed",
            What::PublishFailed { .. } => "publishFailed",
            What::SubscriptionCreated { .. } => "subscriptionCreated",
            What::SubscriptionDestroyed { .. } => "subscriptionDestroyed",
            What::SubscribeFailed { .. } => "subscribeFailed",
            What::PrecallTest { .. } => "precallTest",
            What::Moderation { .. } => "moderation",
            What::ArchiveStarted { .. } => "archiveStarted",
            What::ArchiveStopped { .. } => "archiveStopped",
            What::ConnectionLost { .. } => "connectionLost",
            What::ConnectionResumed { .. } => "connectionResumed",
            What::VideoQuality { .. } => "videoQuality",
            What::Quality(_) => "quality",
        }
    }
}

/// Every event name, for validating the API's `kind` filter.
pub const KINDS: &[&str] = &[
    "meetingStarted",
    "meetingEnded",
    "connectionCreated",
    "connectionFailed",
    "connectionDestroyed",
    "streamCreated",
    "streamDestroyed",
    "publishFailed",
    "subscriptionCreated",
    "subscriptionDestroyed",
    "subscribeFailed",
    "precallTest",
    "moderation",
    "archiveStarted",
    "archiveStopped",
    "connectionLost",
    "connectionResumed",
    "videoQuality",
];
