//! The streams of an archive or a broadcast: how the layout engine sees each one, and the
//! manual-mode changes (`PATCH …/streams`). Archives and broadcasts share both.

use parlor_compositor::layout::{LayoutStream, VideoType};
use parlor_proto::signaling::Stream;

use super::model::ArchiveStreamRecord;
use super::{ArchiveError, StreamChange};

/// A stream as the layout engine sees it: its classes, video type and size, and whether
/// its client also shares a screen (among `session_streams`). Archives and broadcasts
/// lay out their streams with it.
pub(crate) fn layout_stream<'a>(
    stream: &Stream,
    classes: &[String],
    added_seq: u64,
    session_streams: impl IntoIterator<Item = &'a Stream>,
) -> LayoutStream {
    use parlor_proto::signaling::VideoType as Wire;
    let owner = &stream.connection.connection_id;
    let video_type = match stream.video_type {
        Wire::Screen => VideoType::Screen,
        Wire::Custom => VideoType::Custom,
        _ => VideoType::Camera,
    };
    LayoutStream {
        id: stream.stream_id.clone(),
        classes: classes.to_vec(),
        video_type,
        owner_shares_screen: session_streams
            .into_iter()
            .any(|o| o.connection.connection_id == *owner && o.video_type == Wire::Screen),
        added_seq,
        has_video: stream.has_video,
        size: stream.video_dimensions.map(|d| (d.width, d.height)),
    }
}

/// Applies a manual-mode stream change to the list of streams of an archive or a
/// broadcast (`what`, e.g. "archive 1234…"): an added stream must be `published` in the
/// session (replacing its earlier entry), a removed one must be in the list.
pub(crate) fn apply_stream_change(
    streams: &mut Vec<ArchiveStreamRecord>,
    change: &StreamChange,
    published: impl Fn(&str) -> bool,
    what: &str,
    session_id: &str,
) -> Result<(), ArchiveError> {
    match change {
        StreamChange::Add {
            stream_id,
            has_audio,
            has_video,
        } => {
            if !published(stream_id) {
                return Err(ArchiveError::NotFound(format!(
                    "stream {stream_id} is not published in session {session_id}"
                )));
            }
            streams.retain(|s| s.stream_id != *stream_id);
            streams.push(ArchiveStreamRecord {
                stream_id: stream_id.clone(),
                has_audio: *has_audio,
                has_video: *has_video,
            });
        }
        StreamChange::Remove { stream_id } => {
            if !streams.iter().any(|s| s.stream_id == *stream_id) {
                return Err(ArchiveError::NotFound(format!(
                    "stream {stream_id} is not in {what}"
                )));
            }
            streams.retain(|s| s.stream_id != *stream_id);
        }
    }
    Ok(())
}
