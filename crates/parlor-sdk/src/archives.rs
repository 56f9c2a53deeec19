//! Archives (recordings): the OpenTok archive REST calls, and downloading the result.
//!
//! ```no_run
//! use parlor_sdk::{ArchiveOptions, ArchiveStatus, OutputMode, Parlor};
//!
//! # async fn run(parlor: Parlor, session_id: &str) -> Result<(), parlor_sdk::Error> {
//! let archive = parlor
//!     .start_archive(
//!         session_id,
//!         ArchiveOptions { output_mode: OutputMode::Individual, ..Default::default() },
//!     )
//!     .await?;
//! // … later:
//! parlor.stop_archive(&archive.id).await?;
//! let archive = parlor.get_archive(&archive.id).await?;
//! if archive.status == ArchiveStatus::Available {
//!     let bytes = parlor.download_archive(&archive, "archive.zip").await?;
//!     println!("{bytes} bytes");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Every call speaks the OpenTok wire format (`/v2/project/{key}/archive…`, camelCase
//! JSON), so the same code works against OpenTok itself. Responses are read leniently:
//! unknown fields are ignored, missing or `null` ones take their defaults, IDs the server
//! sends as numbers (`projectId`, `partnerId`) are kept as strings, and a status this SDK
//! does not know is kept as [`ArchiveStatus::Other`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use parlor_proto::limits::ARCHIVE_RESOLUTIONS;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::{Error, Parlor, read_empty, read_json};

/// Longest a whole download may take (the client's usual 20 s limit would cut off any
/// archive of real size); a stalled transfer is caught sooner by [`DOWNLOAD_IDLE`].
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// Longest a download may wait for its next bytes.
const DOWNLOAD_IDLE: Duration = Duration::from_secs(60);
/// Most of an error body read into an error message (a download URL may answer with a
/// page of anything).
const MAX_ERROR_BODY: usize = 4096;
/// Longest ID accepted into a URL path (archive and stream IDs are UUIDs, 36 characters).
const MAX_ID_CHARS: usize = 128;

// ---------------------------------------------------------------------------------------
// Options and wire enums

/// What an archive produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputMode {
    /// One MP4 of every stream laid out together.
    #[default]
    Composed,
    /// One ZIP holding a media file per stream and a JSON manifest.
    Individual,
}

/// Which streams an archive records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamMode {
    /// Every stream of the session, present and future.
    #[default]
    Auto,
    /// Only the streams added with [`Parlor::add_archive_stream`].
    Manual,
}

/// A composed archive's layout type (the OpenTok names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LayoutType {
    /// Tiles: 1 → full frame, 2 → halves, up to 4×4.
    #[default]
    BestFit,
    /// The first stream full frame, the second small over its top right.
    Pip,
    /// The `focus` stream large on the right, the others in a column on the left.
    VerticalPresentation,
    /// The `focus` stream large on top, the others in a row along the bottom.
    HorizontalPresentation,
    /// A stylesheet of your own ([`ArchiveLayout::stylesheet`]).
    Custom,
}

/// The layout of a composed archive.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveLayout {
    /// The layout type (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: LayoutType,
    /// The CSS of a [`LayoutType::Custom`] layout (required there, refused elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stylesheet: Option<String>,
    /// The layout used while a screen is shared (only with [`LayoutType::BestFit`]; not
    /// `Custom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshare_type: Option<LayoutType>,
}

impl ArchiveLayout {
    /// A layout of `kind` without a stylesheet.
    pub fn new(kind: LayoutType) -> Self {
        ArchiveLayout {
            kind,
            ..Default::default()
        }
    }

    /// A custom layout with its stylesheet.
    pub fn custom(stylesheet: impl Into<String>) -> Self {
        ArchiveLayout {
            kind: LayoutType::Custom,
            stylesheet: Some(stylesheet.into()),
            screenshare_type: None,
        }
    }

    /// Refuses the combinations OpenTok documents as invalid.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match (&self.kind, &self.stylesheet) {
            (LayoutType::Custom, None) => {
                return Err(Error::InvalidArgument(
                    "a custom layout needs a stylesheet".into(),
                ));
            }
            (LayoutType::Custom, Some(css)) if css.trim().is_empty() => {
                return Err(Error::InvalidArgument(
                    "a custom layout needs a non-empty stylesheet".into(),
                ));
            }
            (LayoutType::Custom, Some(_)) | (_, None) => {}
            (kind, Some(_)) => {
                return Err(Error::InvalidArgument(format!(
                    "a stylesheet is only for the custom layout, not {kind}"
                )));
            }
        }
        match self.screenshare_type {
            None => Ok(()),
            Some(LayoutType::Custom) => Err(Error::InvalidArgument(
                "the screen-share layout cannot be custom".into(),
            )),
            Some(_) if self.kind != LayoutType::BestFit => Err(Error::InvalidArgument(format!(
                "a screen-share layout needs the bestFit layout, not {}",
                self.kind
            ))),
            Some(_) => Ok(()),
        }
    }
}

/// Options for [`Parlor::start_archive`]. The default records audio and video of every
/// stream into one composed MP4 at the server's default resolution and layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// A name to find the archive by.
    pub name: Option<String>,
    /// Record audio (at least one of audio and video).
    pub has_audio: bool,
    /// Record video.
    pub has_video: bool,
    pub output_mode: OutputMode,
    /// Composed only: one of `640x480` (default), `480x640`, `1280x720`, `720x1280`,
    /// `1920x1080`, `1080x1920`.
    pub resolution: Option<String>,
    /// Composed only: the layout (default `bestFit`).
    pub layout: Option<ArchiveLayout>,
    pub stream_mode: StreamMode,
    /// Lets a session have several archives at once: each needs its own tag.
    pub multi_archive_tag: Option<String>,
    /// The highest video bitrate, in bits per second.
    pub max_bitrate: Option<u32>,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            name: None,
            has_audio: true,
            has_video: true,
            output_mode: OutputMode::Composed,
            resolution: None,
            layout: None,
            stream_mode: StreamMode::Auto,
            multi_archive_tag: None,
            max_bitrate: None,
        }
    }
}

/// The body of `POST /v2/project/{key}/archive`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StartBody<'a> {
    session_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    has_audio: bool,
    has_video: bool,
    output_mode: OutputMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<&'a ArchiveLayout>,
    stream_mode: StreamMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_archive_tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_bitrate: Option<u32>,
}

/// Checks `options` and builds the start request's body.
fn start_body<'a>(session_id: &'a str, o: &'a ArchiveOptions) -> Result<StartBody<'a>, Error> {
    if session_id.trim().is_empty() {
        return Err(Error::InvalidArgument("the session ID is empty".into()));
    }
    if !o.has_audio && !o.has_video {
        return Err(Error::InvalidArgument(
            "an archive must record audio, video or both".into(),
        ));
    }
    if let Some(res) = &o.resolution {
        if !ARCHIVE_RESOLUTIONS.contains(&res.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "resolution must be one of {ARCHIVE_RESOLUTIONS:?}, not '{res}'"
            )));
        }
    }
    if o.output_mode == OutputMode::Individual && (o.resolution.is_some() || o.layout.is_some()) {
        return Err(Error::InvalidArgument(
            "resolution and layout are for composed archives only".into(),
        ));
    }
    if let Some(layout) = &o.layout {
        layout.check()?;
    }
    if o.multi_archive_tag.as_deref().is_some_and(str::is_empty) {
        return Err(Error::InvalidArgument(
            "the multi-archive tag is empty".into(),
        ));
    }
    if o.max_bitrate == Some(0) {
        return Err(Error::InvalidArgument(
            "max_bitrate must be positive".into(),
        ));
    }
    Ok(StartBody {
        session_id,
        name: o.name.as_deref(),
        has_audio: o.has_audio,
        has_video: o.has_video,
        output_mode: o.output_mode,
        resolution: o.resolution.as_deref(),
        layout: o.layout.as_ref(),
        stream_mode: o.stream_mode,
        multi_archive_tag: o.multi_archive_tag.as_deref(),
        max_bitrate: o.max_bitrate,
    })
}

/// The body of `PATCH /v2/project/{key}/archive/{id}/streams`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase", untagged)]
pub(crate) enum StreamsBody<'a> {
    #[serde(rename_all = "camelCase")]
    Add {
        add_stream: &'a str,
        has_audio: bool,
        has_video: bool,
    },
    #[serde(rename_all = "camelCase")]
    Remove { remove_stream: &'a str },
}

/// Filters for [`Parlor::list_archives`]; the server's defaults where `None` (OpenTok:
/// offset 0, count 50, at most 1000).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArchives {
    /// Only this session's archives.
    pub session_id: Option<String>,
    /// Skip this many (newest first).
    pub offset: Option<u32>,
    /// Return at most this many.
    pub count: Option<u32>,
}

impl ListArchives {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(offset) = self.offset {
            q.push(("offset", offset.to_string()));
        }
        if let Some(count) = self.count {
            q.push(("count", count.to_string()));
        }
        if let Some(sid) = &self.session_id {
            q.push(("sessionId", sid.clone()));
        }
        q
    }
}

// ---------------------------------------------------------------------------------------
// Responses

/// Where an archive is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArchiveStatus {
    /// Recording.
    Started,
    /// Recording, but nobody publishes.
    Paused,
    /// Recording ended; the file is being made.
    Stopped,
    /// Uploaded to the project's storage target (no download URL from the server).
    Uploaded,
    /// Ready: [`Archive::url`] downloads it.
    Available,
    /// Could not be made ([`Archive::reason`] says why).
    Failed,
    /// Its files are no longer kept.
    Expired,
    /// Deleted through the API.
    Deleted,
    /// A status this SDK does not know, as the server spelled it.
    Other(String),
}

impl ArchiveStatus {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ArchiveStatus::Started => "started",
            ArchiveStatus::Paused => "paused",
            ArchiveStatus::Stopped => "stopped",
            ArchiveStatus::Uploaded => "uploaded",
            ArchiveStatus::Available => "available",
            ArchiveStatus::Failed => "failed",
            ArchiveStatus::Expired => "expired",
            ArchiveStatus::Deleted => "deleted",
            ArchiveStatus::Other(s) => s,
        }
    }

    /// Whether the archive will not change any more by itself (available, uploaded,
    /// failed, expired, deleted).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ArchiveStatus::Available
                | ArchiveStatus::Uploaded
                | ArchiveStatus::Failed
                | ArchiveStatus::Expired
                | ArchiveStatus::Deleted
        )
    }
}

impl From<&str> for ArchiveStatus {
    fn from(s: &str) -> Self {
        match s {
            "started" => ArchiveStatus::Started,
            "paused" => ArchiveStatus::Paused,
            "stopped" => ArchiveStatus::Stopped,
            "uploaded" => ArchiveStatus::Uploaded,
            "available" => ArchiveStatus::Available,
            "failed" => ArchiveStatus::Failed,
            "expired" => ArchiveStatus::Expired,
            "deleted" => ArchiveStatus::Deleted,
            other => ArchiveStatus::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ArchiveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ArchiveStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ArchiveStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        Ok(ArchiveStatus::from(s.as_str()))
    }
}

/// A stream an archive records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArchiveStream {
    pub stream_id: String,
    #[serde(deserialize_with = "null_true")]
    pub has_audio: bool,
    #[serde(deserialize_with = "null_true")]
    pub has_video: bool,
}

impl Default for ArchiveStream {
    fn default() -> Self {
        ArchiveStream {
            stream_id: String::new(),
            has_audio: true,
            has_video: true,
        }
    }
}

/// An archive, as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Archive {
    /// The archive's ID (a UUID).
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    pub status: ArchiveStatus,
    pub name: Option<String>,
    /// Why it stopped or failed (empty or `None` while fine).
    pub reason: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub session_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub project_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub partner_id: String,
    /// When it started, in Unix milliseconds.
    #[serde(deserialize_with = "null_default")]
    pub created_at: i64,
    /// When it last changed, in Unix milliseconds (0 where the server does not say).
    #[serde(deserialize_with = "null_default")]
    pub updated_at: i64,
    /// Length in seconds (0 while recording).
    #[serde(deserialize_with = "null_default")]
    pub duration: u64,
    /// Size of the file in bytes (0 until it is made).
    #[serde(deserialize_with = "null_default")]
    pub size: u64,
    #[serde(deserialize_with = "null_default")]
    pub output_mode: OutputMode,
    #[serde(deserialize_with = "null_default")]
    pub stream_mode: StreamMode,
    #[serde(deserialize_with = "null_true")]
    pub has_audio: bool,
    #[serde(deserialize_with = "null_true")]
    pub has_video: bool,
    pub resolution: Option<String>,
    /// Where to download it, only while [`ArchiveStatus::Available`] (a short-lived URL).
    pub url: Option<String>,
    /// The SHA-256 of the file (hex), where the server gives it.
    pub sha256sum: Option<String>,
    /// The streams recorded (while recording).
    #[serde(deserialize_with = "null_default")]
    pub streams: Vec<ArchiveStream>,
    pub multi_archive_tag: Option<String>,
    pub max_bitrate: Option<u32>,
}

impl Default for Archive {
    fn default() -> Self {
        Archive {
            id: String::new(),
            status: ArchiveStatus::Other(String::new()),
            name: None,
            reason: None,
            session_id: String::new(),
            project_id: String::new(),
            partner_id: String::new(),
            created_at: 0,
            updated_at: 0,
            duration: 0,
            size: 0,
            output_mode: OutputMode::Composed,
            stream_mode: StreamMode::Auto,
            has_audio: true,
            has_video: true,
            resolution: None,
            url: None,
            sha256sum: None,
            streams: Vec::new(),
            multi_archive_tag: None,
            max_bitrate: None,
        }
    }
}

impl Archive {
    /// The usual file name of the archive's download: `<id>.zip` for individual
    /// archives, `<id>.mp4` for composed ones.
    pub fn file_name(&self) -> String {
        let ext = match self.output_mode {
            OutputMode::Composed => "mp4",
            OutputMode::Individual => "zip",
        };
        format!("{}.{ext}", self.id)
    }
}

/// A page of archives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ArchiveList {
    /// How many archives match in all (not only on this page).
    #[serde(deserialize_with = "null_default")]
    pub count: u64,
    #[serde(deserialize_with = "null_default")]
    pub items: Vec<Archive>,
}

/// `null` read as the type's default (serde's `default` covers only missing fields).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A flag whose absence means yes (`hasAudio`, `hasVideo`): `null` read as `true`.
fn null_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

/// An ID sent as a string or a number (OpenTok sends `projectId` as a number).
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Option::<Id>::deserialize(d)? {
        Some(Id::S(s)) => s,
        Some(Id::N(n)) => n.to_string(),
        None => String::new(),
    })
}

// ---------------------------------------------------------------------------------------
// Text forms (for command lines and configuration)

/// A value that is not one of an enum's wire names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not one of {expected}")]
pub struct ParseEnumError {
    value: String,
    expected: &'static str,
}

macro_rules! wire_names {
    ($ty:ty, $expected:literal, $($variant:path => $name:literal),+ $(,)?) => {
        impl $ty {
            /// The wire spelling.
            pub fn as_str(&self) -> &'static str {
                match self { $($variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        /// Parses the wire spelling (ASCII case ignored).
        impl FromStr for $ty {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s.eq_ignore_ascii_case($name) { return Ok($variant); })+
                Err(ParseEnumError { value: s.to_owned(), expected: $expected })
            }
        }
    };
}

wire_names!(OutputMode, "composed, individual",
    OutputMode::Composed => "composed",
    OutputMode::Individual => "individual",
);
wire_names!(StreamMode, "auto, manual",
    StreamMode::Auto => "auto",
    StreamMode::Manual => "manual",
);
wire_names!(LayoutType, "bestFit, pip, verticalPresentation, horizontalPresentation, custom",
    LayoutType::BestFit => "bestFit",
    LayoutType::Pip => "pip",
    LayoutType::VerticalPresentation => "verticalPresentation",
    LayoutType::HorizontalPresentation => "horizontalPresentation",
    LayoutType::Custom => "custom",
);

// ---------------------------------------------------------------------------------------
// Calls

/// Checks an ID that goes into a URL path: it must be one path segment.
pub(crate) fn path_id<'a>(what: &str, id: &'a str) -> Result<&'a str, Error> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if ok {
        Ok(id)
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} '{}' is not an ID (letters, digits, '-', '_', '.', '~'; at most {MAX_ID_CHARS})",
            id.escape_debug()
        )))
    }
}

/// Archives (the OpenTok archive REST calls).
impl Parlor {
    /// Starts recording `session_id`. The server answers 409 ([`Error::Request`]) when the
    /// session is already recorded without a distinct `multi_archive_tag`, and refuses a
    /// session nobody can be recorded in.
    pub async fn start_archive(
        &self,
        session_id: &str,
        options: ArchiveOptions,
    ) -> Result<Archive, Error> {
        let body = start_body(session_id, &options)?;
        let request = self.request(reqwest::Method::POST, "/archive").json(&body);
        read_json(request.send().await?).await
    }

    /// Stops a recording; the archive is then made (`stopped`, later `available`).
    pub async fn stop_archive(&self, archive_id: &str) -> Result<Archive, Error> {
        let path = format!("/archive/{}/stop", path_id("archive ID", archive_id)?);
        read_json(self.request(reqwest::Method::POST, &path).send().await?).await
    }

    /// One archive.
    pub async fn get_archive(&self, archive_id: &str) -> Result<Archive, Error> {
        let path = format!("/archive/{}", path_id("archive ID", archive_id)?);
        read_json(self.request(reqwest::Method::GET, &path).send().await?).await
    }

    /// The project's archives, newest first.
    pub async fn list_archives(&self, filter: ListArchives) -> Result<ArchiveList, Error> {
        let query = filter.query();
        let path = if query.is_empty() {
            "/archive".to_owned()
        } else {
            let query = serde_urlencoded::to_string(&query)
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            format!("/archive?{query}")
        };
        read_json(self.request(reqwest::Method::GET, &path).send().await?).await
    }

    /// Deletes an archive and its files.
    pub async fn delete_archive(&self, archive_id: &str) -> Result<(), Error> {
        let path = format!("/archive/{}", path_id("archive ID", archive_id)?);
        read_empty(self.request(reqwest::Method::DELETE, &path).send().await?).await
    }

    /// Changes the layout of a composed archive while it records.
    pub async fn set_archive_layout(
        &self,
        archive_id: &str,
        layout: &ArchiveLayout,
    ) -> Result<(), Error> {
        layout.check()?;
        let path = format!("/archive/{}/layout", path_id("archive ID", archive_id)?);
        let request = self.request(reqwest::Method::PUT, &path).json(layout);
        read_empty(request.send().await?).await
    }

    /// Adds a stream to an archive in [`StreamMode::Manual`] (or changes which of its
    /// audio and video are recorded). The server answers 405 in auto mode.
    pub async fn add_archive_stream(
        &self,
        archive_id: &str,
        stream_id: &str,
        has_audio: bool,
        has_video: bool,
    ) -> Result<(), Error> {
        let body = StreamsBody::Add {
            add_stream: path_id("stream ID", stream_id)?,
            has_audio,
            has_video,
        };
        self.patch_archive_streams(archive_id, &body).await
    }

    /// Removes a stream from an archive in [`StreamMode::Manual`].
    pub async fn remove_archive_stream(
        &self,
        archive_id: &str,
        stream_id: &str,
    ) -> Result<(), Error> {
        let body = StreamsBody::Remove {
            remove_stream: path_id("stream ID", stream_id)?,
        };
        self.patch_archive_streams(archive_id, &body).await
    }

    async fn patch_archive_streams(
        &self,
        archive_id: &str,
        body: &StreamsBody<'_>,
    ) -> Result<(), Error> {
        let path = format!("/archive/{}/streams", path_id("archive ID", archive_id)?);
        let request = self.request(reqwest::Method::PATCH, &path).json(body);
        read_empty(request.send().await?).await
    }

    /// Downloads an archive's file to `path`; returns its size in bytes.
    ///
    /// The bytes go to `<path>.part` first, which is renamed to `path` once the transfer
    /// is complete and checked (HTTP status, length, and the SHA-256 where the archive
    /// has [`Archive::sha256sum`]); on any failure it is removed and `path` is untouched.
    pub async fn download_archive(
        &self,
        archive: &Archive,
        path: impl AsRef<Path>,
    ) -> Result<u64, Error> {
        let path = path.as_ref();
        let mut part = PathBuf::from(path);
        part.as_mut_os_string().push(".part");
        let result = async {
            let mut file = tokio::fs::File::create(&part).await?;
            let bytes = self.download_archive_to(archive, &mut file).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&part, path).await?;
            Ok(bytes)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&part).await;
        }
        result
    }

    /// Downloads an archive's file into `out`, streaming; returns its size in bytes.
    ///
    /// GETs [`Archive::url`] as it is (a signed URL: no credentials are added; a URL
    /// beginning with `/` is taken relative to the server). Fails when the archive has no
    /// URL (it is not `available`), on a non-2xx answer, when no bytes come for 60 s, and
    /// when the SHA-256 (where the archive has one) does not match — after the bytes
    /// were written to `out`.
    pub async fn download_archive_to<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        archive: &Archive,
        out: &mut W,
    ) -> Result<u64, Error> {
        let url = self.download_url(archive)?;
        let mut response = self.http.get(url).timeout(DOWNLOAD_TIMEOUT).send().await?;
        if !response.status().is_success() {
            return Err(read_error_capped(response).await);
        }
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        loop {
            let chunk = tokio::time::timeout(DOWNLOAD_IDLE, response.chunk())
                .await
                .map_err(|_| {
                    Error::UnexpectedResponse(format!(
                        "the download stalled: no data for {} s after {written} bytes",
                        DOWNLOAD_IDLE.as_secs()
                    ))
                })??;
            let Some(chunk) = chunk else { break };
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        out.flush().await?;
        if let Some(expected) = archive.sha256sum.as_deref().filter(|s| is_sha256_hex(s)) {
            let actual = hex_lower(&hasher.finalize());
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(Error::UnexpectedResponse(format!(
                    "the download's SHA-256 is {actual}, the archive says {expected}"
                )));
            }
        }
        Ok(written)
    }

    /// The URL to GET for an archive's file.
    fn download_url(&self, archive: &Archive) -> Result<String, Error> {
        let url = archive
            .url
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "archive {} has no download URL (status {})",
                    archive.id, archive.status
                ))
            })?;
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(url.to_owned())
        } else if url.starts_with('/') && !url.starts_with("//") {
            Ok(format!("{}{url}", self.api_url))
        } else {
            Err(Error::UnexpectedResponse(format!(
                "archive {} has a download URL that is not http(s): '{}'",
                archive.id,
                url.escape_debug()
            )))
        }
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_lower(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The error of a non-2xx answer, reading at most [`MAX_ERROR_BODY`] bytes of its body.
async fn read_error_capped(mut response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c[..c.len().min(MAX_ERROR_BODY - body.len())]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    crate::status_error(status, &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body(session_id: &str, o: &ArchiveOptions) -> Value {
        serde_json::to_value(start_body(session_id, o).unwrap()).unwrap()
    }

    #[test]
    fn start_body_defaults() {
        assert_eq!(
            body("1_MX4xfg", &ArchiveOptions::default()),
            json!({
                "sessionId": "1_MX4xfg",
                "hasAudio": true,
                "hasVideo": true,
                "outputMode": "composed",
                "streamMode": "auto",
            })
        );
    }

    #[test]
    fn start_body_every_field() {
        let o = ArchiveOptions {
            name: Some("Lesson 1".into()),
            has_audio: false,
            has_video: true,
            output_mode: OutputMode::Composed,
            resolution: Some("1280x720".into()),
            layout: Some(ArchiveLayout {
                kind: LayoutType::BestFit,
                stylesheet: None,
                screenshare_type: Some(LayoutType::VerticalPresentation),
            }),
            stream_mode: StreamMode::Manual,
            multi_archive_tag: Some("teacher".into()),
            max_bitrate: Some(2_000_000),
        };
        assert_eq!(
            body("1_MX4xfg", &o),
            json!({
                "sessionId": "1_MX4xfg",
                "name": "Lesson 1",
                "hasAudio": false,
                "hasVideo": true,
                "outputMode": "composed",
                "resolution": "1280x720",
                "layout": {"type": "bestFit", "screenshareType": "verticalPresentation"},
                "streamMode": "manual",
                "multiArchiveTag": "teacher",
                "maxBitrate": 2000000,
            })
        );
        let custom = ArchiveOptions {
            layout: Some(ArchiveLayout::custom("stream.instructor {width: 100%}")),
            ..Default::default()
        };
        assert_eq!(
            body("s", &custom)["layout"],
            json!({"type": "custom", "stylesheet": "stream.instructor {width: 100%}"})
        );
        let individual = ArchiveOptions {
            output_mode: OutputMode::Individual,
            ..Default::default()
        };
        assert_eq!(body("s", &individual)["outputMode"], "individual");
    }

    #[test]
    fn start_options_are_checked() {
        let refused = |o: ArchiveOptions| {
            assert!(
                matches!(start_body("s", &o), Err(Error::InvalidArgument(_))),
                "{o:?} was accepted"
            )
        };
        refused(ArchiveOptions {
            has_audio: false,
            has_video: false,
            ..Default::default()
        });
        refused(ArchiveOptions {
            resolution: Some("800x600".into()),
            ..Default::default()
        });
        refused(ArchiveOptions {
            output_mode: OutputMode::Individual,
            resolution: Some("1280x720".into()),
            ..Default::default()
        });
        refused(ArchiveOptions {
            output_mode: OutputMode::Individual,
            layout: Some(ArchiveLayout::new(LayoutType::Pip)),
            ..Default::default()
        });
        refused(ArchiveOptions {
            layout: Some(ArchiveLayout::new(LayoutType::Custom)),
            ..Default::default()
        });
        refused(ArchiveOptions {
            layout: Some(ArchiveLayout::custom("  ")),
            ..Default::default()
        });
        refused(ArchiveOptions {
            layout: Some(ArchiveLayout {
                kind: LayoutType::Pip,
                stylesheet: Some("stream {}".into()),
                screenshare_type: None,
            }),
            ..Default::default()
        });
        refused(ArchiveOptions {
            layout: Some(ArchiveLayout {
                kind: LayoutType::Pip,
                stylesheet: None,
                screenshare_type: Some(LayoutType::Pip),
            }),
            ..Default::default()
        });
        refused(ArchiveOptions {
            layout: Some(ArchiveLayout {
                kind: LayoutType::BestFit,
                stylesheet: None,
                screenshare_type: Some(LayoutType::Custom),
            }),
            ..Default::default()
        });
        refused(ArchiveOptions {
            multi_archive_tag: Some(String::new()),
            ..Default::default()
        });
        refused(ArchiveOptions {
            max_bitrate: Some(0),
            ..Default::default()
        });
        assert!(start_body(" ", &ArchiveOptions::default()).is_err());
    }

    #[test]
    fn streams_and_layout_bodies() {
        let add = StreamsBody::Add {
            add_stream: "abc",
            has_audio: true,
            has_video: false,
        };
        assert_eq!(
            serde_json::to_value(&add).unwrap(),
            json!({"addStream": "abc", "hasAudio": true, "hasVideo": false})
        );
        let remove = StreamsBody::Remove {
            remove_stream: "abc",
        };
        assert_eq!(
            serde_json::to_value(&remove).unwrap(),
            json!({"removeStream": "abc"})
        );
        assert_eq!(
            serde_json::to_value(ArchiveLayout::new(LayoutType::HorizontalPresentation)).unwrap(),
            json!({"type": "horizontalPresentation"})
        );
    }

    #[test]
    fn list_query() {
        assert!(ListArchives::default().query().is_empty());
        let q = ListArchives {
            session_id: Some("1_MX4".into()),
            offset: Some(10),
            count: Some(5),
        }
        .query();
        assert_eq!(
            q,
            [
                ("offset", "10".to_owned()),
                ("count", "5".to_owned()),
                ("sessionId", "1_MX4".to_owned())
            ]
        );
    }

    /// OpenTok's documented example of a started archive (numeric projectId, null url,
    /// empty reason).
    const OPENTOK_STARTED: &str = r#"{
        "createdAt" : 1384221730555,
        "duration" : 0,
        "hasAudio" : true,
        "hasVideo" : true,
        "id" : "b40ef09b-3811-4726-b508-e41a0f96c68f",
        "name" : "The archive name you supplied",
        "outputMode" : "composed",
        "projectId" : 234567,
        "reason" : "",
        "resolution" : "640x480",
        "sessionId" : "flR1ZSBPY3QgMjkgMTI6MTM6MjMgUERUIDIwMTN",
        "size" : 0,
        "status" : "started",
        "streamMode" : "auto",
        "url" : null
    }"#;

    #[test]
    fn parses_opentok_archive() {
        let a: Archive = serde_json::from_str(OPENTOK_STARTED).unwrap();
        assert_eq!(a.id, "b40ef09b-3811-4726-b508-e41a0f96c68f");
        assert_eq!(a.status, ArchiveStatus::Started);
        assert_eq!(a.name.as_deref(), Some("The archive name you supplied"));
        assert_eq!(a.project_id, "234567");
        assert_eq!(a.partner_id, "");
        assert_eq!(a.created_at, 1_384_221_730_555);
        assert_eq!(a.output_mode, OutputMode::Composed);
        assert_eq!(a.stream_mode, StreamMode::Auto);
        assert_eq!(a.resolution.as_deref(), Some("640x480"));
        assert_eq!(a.url, None);
        assert!(a.streams.is_empty());
        assert!(!a.status.is_final());
    }

    #[test]
    fn parses_every_field_and_round_trips() {
        let wire = json!({
            "id": "5f6e1c4a-90b2-4d7e-8e38-0c1a2b3c4d5e",
            "status": "available",
            "name": "demo",
            "reason": "user initiated",
            "sessionId": "1_MX40NzAwMTIzNH5-",
            "projectId": "47001234",
            "partnerId": "47001234",
            "createdAt": 1_700_000_000_123i64,
            "updatedAt": 1_700_000_009_000i64,
            "duration": 9,
            "size": 123_456,
            "outputMode": "individual",
            "streamMode": "manual",
            "hasAudio": true,
            "hasVideo": false,
            "resolution": "1280x720",
            "url": "http://127.0.0.1:7600/v2/archive-files/x.zip?expires=1&sig=ab",
            "sha256sum": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "password": "",
            "streams": [
                {"streamId": "s1", "hasAudio": true, "hasVideo": true},
                {"streamId": "s2", "hasAudio": true, "hasVideo": false}
            ],
            "multiArchiveTag": "t",
            "maxBitrate": 1_000_000,
            "somethingNew": {"nested": [1, 2]}
        });
        let a: Archive = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(a.status, ArchiveStatus::Available);
        assert_eq!(a.reason.as_deref(), Some("user initiated"));
        assert_eq!(a.updated_at, 1_700_000_009_000);
        assert_eq!((a.duration, a.size), (9, 123_456));
        assert_eq!(a.output_mode, OutputMode::Individual);
        assert_eq!(a.stream_mode, StreamMode::Manual);
        assert!(a.has_audio && !a.has_video);
        assert_eq!(a.streams.len(), 2);
        assert_eq!(a.streams[1].stream_id, "s2");
        assert!(!a.streams[1].has_video);
        assert_eq!(a.multi_archive_tag.as_deref(), Some("t"));
        assert_eq!(a.max_bitrate, Some(1_000_000));
        assert_eq!(a.file_name(), "5f6e1c4a-90b2-4d7e-8e38-0c1a2b3c4d5e.zip");
        assert!(a.status.is_final());

        // Serialized back: the same wire form, minus the fields this SDK does not keep.
        let mut expected = wire;
        let obj = expected.as_object_mut().unwrap();
        obj.remove("password");
        obj.remove("somethingNew");
        assert_eq!(serde_json::to_value(&a).unwrap(), expected);
        let again: Archive = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(again, a);
    }

    #[test]
    fn missing_and_null_fields_default() {
        let a: Archive = serde_json::from_value(json!({
            "id": "x", "status": "stopped", "createdAt": 5,
            "duration": null, "size": null, "streams": null, "hasAudio": null,
            "outputMode": null, "partnerId": null, "url": null, "name": null
        }))
        .unwrap();
        assert_eq!(a.status, ArchiveStatus::Stopped);
        assert_eq!((a.duration, a.size, a.created_at), (0, 0, 5));
        assert!(a.streams.is_empty() && a.has_audio && a.has_video);
        assert_eq!(a.output_mode, OutputMode::Composed);
        assert_eq!(a.partner_id, "");
        assert_eq!(a.name, None);
        let empty: Archive = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, Archive::default());
    }

    #[test]
    fn every_status_and_unknown_ones() {
        for s in [
            "started",
            "stopped",
            "uploaded",
            "available",
            "failed",
            "paused",
            "expired",
            "deleted",
        ] {
            let status: ArchiveStatus = serde_json::from_value(json!(s)).unwrap();
            assert!(!matches!(status, ArchiveStatus::Other(_)), "{s}");
            assert_eq!(serde_json::to_value(&status).unwrap(), json!(s));
        }
        let new: ArchiveStatus = serde_json::from_value(json!("transcoding")).unwrap();
        assert_eq!(new, ArchiveStatus::Other("transcoding".into()));
        assert_eq!(new.to_string(), "transcoding");
        assert!(!new.is_final());
    }

    #[test]
    fn parses_lists() {
        let list: ArchiveList = serde_json::from_value(json!({
            "count": 3,
            "items": [
                serde_json::from_str::<Value>(OPENTOK_STARTED).unwrap(),
                {"id": "b", "status": "failed", "reason": "no streams"}
            ]
        }))
        .unwrap();
        assert_eq!(list.count, 3);
        assert_eq!(list.items.len(), 2);
        assert_eq!(list.items[1].status, ArchiveStatus::Failed);
        assert_eq!(list.items[1].reason.as_deref(), Some("no streams"));
        // A wrong shape is an error, not a silent empty list.
        assert!(serde_json::from_value::<ArchiveList>(json!({"items": {"a": 1}})).is_err());
        assert!(serde_json::from_value::<Archive>(json!({"createdAt": "yesterday"})).is_err());
    }

    #[test]
    fn enums_parse_their_wire_names() {
        assert_eq!("bestFit".parse::<LayoutType>(), Ok(LayoutType::BestFit));
        assert_eq!(
            "VERTICALPRESENTATION".parse::<LayoutType>(),
            Ok(LayoutType::VerticalPresentation)
        );
        assert!("grid".parse::<LayoutType>().is_err());
        assert_eq!(
            "individual".parse::<OutputMode>(),
            Ok(OutputMode::Individual)
        );
        assert_eq!("manual".parse::<StreamMode>(), Ok(StreamMode::Manual));
        for t in [
            LayoutType::BestFit,
            LayoutType::Pip,
            LayoutType::VerticalPresentation,
            LayoutType::HorizontalPresentation,
            LayoutType::Custom,
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(t.as_str().parse::<LayoutType>(), Ok(t));
        }
    }

    #[test]
    fn ids_in_paths_are_one_segment() {
        assert!(path_id("archive ID", "b40ef09b-3811-4726-b508-e41a0f96c68f").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a?b",
            "a#b",
            "a b",
            "%2e%2e",
            "é",
            &"a".repeat(129),
        ] {
            assert!(path_id("archive ID", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn download_urls() {
        let p = Parlor::new("47001234", "secret", "http://127.0.0.1:7600/").unwrap();
        let mut a = Archive {
            id: "x".into(),
            status: ArchiveStatus::Stopped,
            ..Default::default()
        };
        assert!(matches!(p.download_url(&a), Err(Error::InvalidArgument(_))));
        a.url = Some("https://files.example/x.mp4?sig=1".into());
        assert_eq!(
            p.download_url(&a).unwrap(),
            "https://files.example/x.mp4?sig=1"
        );
        a.url = Some("/v2/archive-files/x.mp4?sig=1".into());
        assert_eq!(
            p.download_url(&a).unwrap(),
            "http://127.0.0.1:7600/v2/archive-files/x.mp4?sig=1"
        );
        for bad in ["//evil.example/x", "file:///etc/passwd", "x.mp4"] {
            a.url = Some(bad.into());
            assert!(p.download_url(&a).is_err(), "{bad}");
        }
    }

    #[test]
    fn sha256_hex() {
        let digest = Sha256::digest(b"");
        assert_eq!(
            hex_lower(&digest),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_sha256_hex(&hex_lower(&digest)));
        assert!(!is_sha256_hex("e3b0"));
    }
}
