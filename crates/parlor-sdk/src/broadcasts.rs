//! Live streaming broadcasts: the OpenTok broadcast REST calls.
//!
//! ```no_run
//! use parlor_sdk::{BroadcastOptions, HlsOptions, Parlor, RtmpTarget};
//!
//! # async fn run(parlor: Parlor, session_id: &str) -> Result<(), parlor_sdk::Error> {
//! let broadcast = parlor
//!     .start_broadcast(
//!         session_id,
//!         BroadcastOptions {
//!             hls: Some(HlsOptions::default()),
//!             rtmp: vec![RtmpTarget::new("youtube", "rtmp://a.rtmp.youtube.com/live2", "key")],
//!             ..Default::default()
//!         },
//!     )
//!     .await?;
//! println!("watch {}", broadcast.broadcast_urls.hls.as_deref().unwrap_or("-"));
//! parlor.stop_broadcast(&broadcast.id).await?;
//! # Ok(())
//! # }
//! ```
//!
//! As for archives, responses are read leniently (unknown fields ignored, `null`s
//! defaulted, numeric project IDs kept as strings).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::archives::{
    ArchiveLayout, ArchiveStream, ListArchives, StreamMode, StreamsBody, null_default, path_id,
    string_or_number,
};
use crate::{Error, Parlor, read_empty, read_json};

/// The HLS output's options (`dvr` and `low_latency` exclude each other).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HlsOptions {
    /// Keep the whole broadcast in the playlist (viewers can rewind).
    pub dvr: bool,
    /// Shorter segments, for less delay.
    pub low_latency: bool,
}

/// An RTMP target; in answers `status` says how it fares (`connecting`, `live`, `error`,
/// `ended`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RtmpTarget {
    /// Your name for the target.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// `rtmp://` or `rtmps://` URL of the server and application.
    #[serde(deserialize_with = "null_default")]
    pub server_url: String,
    /// The stream name (key).
    #[serde(deserialize_with = "null_default")]
    pub stream_name: String,
    /// In answers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl RtmpTarget {
    /// A target to start a broadcast with.
    pub fn new(id: &str, server_url: &str, stream_name: &str) -> Self {
        RtmpTarget {
            id: id.into(),
            server_url: server_url.into(),
            stream_name: stream_name.into(),
            status: None,
        }
    }
}

/// Options for [`Parlor::start_broadcast`]: at least one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// An HLS output, served by the server at [`BroadcastUrls::hls`].
    pub hls: Option<HlsOptions>,
    /// Up to five RTMP targets.
    pub rtmp: Vec<RtmpTarget>,
    /// The layout (default `bestFit`).
    pub layout: Option<ArchiveLayout>,
    /// Seconds after which the broadcast stops (60–36000; default 14400).
    pub max_duration: Option<u32>,
    /// `640x480` (default), `1280x720`, `1920x1080` or their portrait forms.
    pub resolution: Option<String>,
    pub stream_mode: StreamMode,
    /// Lets a session have several broadcasts at once: each needs its own tag.
    pub multi_broadcast_tag: Option<String>,
    /// Video bits per second.
    pub max_bitrate: Option<u32>,
    pub has_audio: bool,
    pub has_video: bool,
}

impl Default for BroadcastOptions {
    fn default() -> Self {
        BroadcastOptions {
            hls: None,
            rtmp: Vec::new(),
            layout: None,
            max_duration: None,
            resolution: None,
            stream_mode: StreamMode::Auto,
            multi_broadcast_tag: None,
            max_bitrate: None,
            has_audio: true,
            has_video: true,
        }
    }
}

/// Where a broadcast is in its life.
pub type BroadcastStatus = String;

/// A broadcast's outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BroadcastUrls {
    /// The HLS playlist's URL (no credentials needed).
    pub hls: Option<String>,
    /// `connecting`, `live`, `ended` or `error`.
    pub hls_status: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub rtmp: Vec<RtmpTarget>,
}

/// A broadcast, as the server describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Broadcast {
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub session_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub project_id: String,
    /// `started` or `stopped`.
    #[serde(deserialize_with = "null_default")]
    pub status: BroadcastStatus,
    /// Why it stopped.
    pub reason: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub created_at: i64,
    #[serde(deserialize_with = "null_default")]
    pub updated_at: i64,
    #[serde(deserialize_with = "null_default")]
    pub resolution: String,
    #[serde(deserialize_with = "null_default")]
    pub broadcast_urls: BroadcastUrls,
    #[serde(deserialize_with = "null_default")]
    pub max_duration: u64,
    #[serde(deserialize_with = "null_default")]
    pub max_bitrate: u64,
    pub stream_mode: StreamMode,
    #[serde(deserialize_with = "null_default")]
    pub streams: Vec<ArchiveStream>,
    pub has_audio: bool,
    pub has_video: bool,
}

/// A page of broadcasts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BroadcastList {
    /// How many there are in all.
    #[serde(deserialize_with = "null_default")]
    pub count: u64,
    #[serde(deserialize_with = "null_default")]
    pub items: Vec<Broadcast>,
}

/// Filters for [`Parlor::list_broadcasts`] (the archive list's).
pub type ListBroadcasts = ListArchives;

fn start_body(session_id: &str, o: &BroadcastOptions) -> Result<Value, Error> {
    if o.hls.is_none() && o.rtmp.is_empty() {
        return Err(Error::InvalidArgument(
            "a broadcast needs an output: HLS, an RTMP target or both".into(),
        ));
    }
    if o.hls.is_some_and(|h| h.dvr && h.low_latency) {
        return Err(Error::InvalidArgument(
            "HLS cannot have both dvr and low_latency".into(),
        ));
    }
    if let Some(layout) = &o.layout {
        layout.check()?;
    }
    let mut outputs = json!({});
    if let Some(h) = o.hls {
        outputs["hls"] = json!({ "dvr": h.dvr, "lowLatency": h.low_latency });
    }
    if !o.rtmp.is_empty() {
        outputs["rtmp"] = o
            .rtmp
            .iter()
            .map(|t| json!({ "id": t.id, "serverUrl": t.server_url, "streamName": t.stream_name }))
            .collect();
    }
    let mut body = json!({
        "sessionId": session_id,
        "outputs": outputs,
        "streamMode": o.stream_mode,
        "hasAudio": o.has_audio,
        "hasVideo": o.has_video,
    });
    if let Some(l) = &o.layout {
        body["layout"] =
            serde_json::to_value(l).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    }
    if let Some(d) = o.max_duration {
        body["maxDuration"] = d.into();
    }
    if let Some(r) = &o.resolution {
        body["resolution"] = r.clone().into();
    }
    if let Some(t) = &o.multi_broadcast_tag {
        body["multiBroadcastTag"] = t.clone().into();
    }
    if let Some(b) = o.max_bitrate {
        body["maxBitrate"] = b.into();
    }
    Ok(body)
}

/// Broadcasts (the OpenTok broadcast REST calls).
impl Parlor {
    /// Starts broadcasting `session_id` to HLS and/or RTMP targets. The server answers
    /// 409 ([`Error::Request`]) when the session is already broadcast without a distinct
    /// `multi_broadcast_tag`.
    pub async fn start_broadcast(
        &self,
        session_id: &str,
        options: BroadcastOptions,
    ) -> Result<Broadcast, Error> {
        let body = start_body(session_id, &options)?;
        let request = self
            .request(reqwest::Method::POST, "/broadcast")
            .json(&body);
        read_json(request.send().await?).await
    }

    /// Stops a broadcast: every output ends.
    pub async fn stop_broadcast(&self, broadcast_id: &str) -> Result<Broadcast, Error> {
        let path = format!("/broadcast/{}/stop", path_id("broadcast ID", broadcast_id)?);
        read_json(self.request(reqwest::Method::POST, &path).send().await?).await
    }

    /// One broadcast, with its outputs' status.
    pub async fn get_broadcast(&self, broadcast_id: &str) -> Result<Broadcast, Error> {
        let path = format!("/broadcast/{}", path_id("broadcast ID", broadcast_id)?);
        read_json(self.request(reqwest::Method::GET, &path).send().await?).await
    }

    /// The project's broadcasts, newest first.
    pub async fn list_broadcasts(&self, filter: ListBroadcasts) -> Result<BroadcastList, Error> {
        let query = filter.query();
        let path = if query.is_empty() {
            "/broadcast".to_owned()
        } else {
            let query = serde_urlencoded::to_string(&query)
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            format!("/broadcast?{query}")
        };
        read_json(self.request(reqwest::Method::GET, &path).send().await?).await
    }

    /// Changes a live broadcast's layout.
    pub async fn set_broadcast_layout(
        &self,
        broadcast_id: &str,
        layout: &ArchiveLayout,
    ) -> Result<(), Error> {
        layout.check()?;
        let path = format!(
            "/broadcast/{}/layout",
            path_id("broadcast ID", broadcast_id)?
        );
        let request = self.request(reqwest::Method::PUT, &path).json(layout);
        let response = request.send().await?;
        let _: Value = read_json(response).await?;
        Ok(())
    }

    /// Adds a stream to a broadcast in [`StreamMode::Manual`].
    pub async fn add_broadcast_stream(
        &self,
        broadcast_id: &str,
        stream_id: &str,
        has_audio: bool,
        has_video: bool,
    ) -> Result<(), Error> {
        let body = StreamsBody::Add {
            add_stream: path_id("stream ID", stream_id)?,
            has_audio,
            has_video,
        };
        self.patch_broadcast_streams(broadcast_id, &body).await
    }

    /// Removes a stream from a broadcast in [`StreamMode::Manual`].
    pub async fn remove_broadcast_stream(
        &self,
        broadcast_id: &str,
        stream_id: &str,
    ) -> Result<(), Error> {
        let body = StreamsBody::Remove {
            remove_stream: path_id("stream ID", stream_id)?,
        };
        self.patch_broadcast_streams(broadcast_id, &body).await
    }

    async fn patch_broadcast_streams(
        &self,
        broadcast_id: &str,
        body: &StreamsBody<'_>,
    ) -> Result<(), Error> {
        let path = format!(
            "/broadcast/{}/streams",
            path_id("broadcast ID", broadcast_id)?
        );
        let request = self.request(reqwest::Method::PATCH, &path).json(body);
        read_empty(request.send().await?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_body_needs_an_output_and_not_both_hls_modes() {
        assert!(start_body("s", &BroadcastOptions::default()).is_err());
        let both = BroadcastOptions {
            hls: Some(HlsOptions {
                dvr: true,
                low_latency: true,
            }),
            ..Default::default()
        };
        assert!(start_body("s", &both).is_err());
        let ok = BroadcastOptions {
            hls: Some(HlsOptions::default()),
            rtmp: vec![RtmpTarget::new("a", "rtmp://h/live", "k")],
            max_duration: Some(600),
            ..Default::default()
        };
        let body = start_body("s", &ok).unwrap();
        assert_eq!(body["outputs"]["rtmp"][0]["serverUrl"], "rtmp://h/live");
        assert_eq!(body["outputs"]["hls"]["lowLatency"], false);
        assert_eq!(body["maxDuration"], 600);
        assert_eq!(body["streamMode"], "auto");
    }

    #[test]
    fn answers_are_read_leniently() {
        let b: Broadcast = serde_json::from_value(json!({
            "id": "x", "projectId": 47001234, "status": "started", "streams": null,
            "broadcastUrls": {"hls": "http://h/x.m3u8", "hlsStatus": "live",
                "rtmp": [{"id": "a", "serverUrl": "rtmp://h/l", "streamName": "k", "status": "live"}]},
            "unknown": 1
        }))
        .unwrap();
        assert_eq!(b.project_id, "47001234");
        assert_eq!(b.broadcast_urls.rtmp[0].status.as_deref(), Some("live"));
        assert!(b.streams.is_empty());
    }
}
