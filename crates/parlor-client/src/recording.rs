//! Recording a subscription with Parlor's recorder (`parlor-recorder`, the code the
//! server's archives use): [`StreamRecording`] writes one stream's frames, as a
//! [`Subscriber`](crate::Subscriber) receives them, to `<dir>/<streamId>.webm` — VP8 and
//! Opus in one WebM file, written cluster by cluster and synced, so a killed process
//! leaves a playable file.
//!
//! The frames go in through [`StreamRecorder::push_frame`]: str0m has already reordered
//! and depacketized them, so only the recorder's key-frame gating, clock, interleaving
//! and muxing run. The frames are written exactly as received; each track is placed on
//! the file's clock by its RTP time (anchored on arrival, as no sender reports reach a
//! subscriber's application), so gaps in the sender's timing are kept.
//!
//! The file is created on the first frame (a subscription that receives nothing leaves
//! no file); [`StreamRecording::finish`] writes what is held back, the Cues, and patches
//! the Duration. Call [`StreamRecording::handle_timeout`] every ~100 ms so clusters are
//! written while media pauses (the recorder waits up to 4 s for the other track).

use std::path::{Path, PathBuf};

use parlor_recorder::{
    Codec, FrameIn, RecorderError, RecorderStats, StreamFile, StreamRecorder, StreamRecorderConfig,
    TrackKind,
};

use crate::{MediaFrame, MediaKind, Stream};

/// One stream being recorded to `<dir>/<streamId>.webm`.
#[derive(Debug)]
pub struct StreamRecording {
    path: PathBuf,
    rec: StreamRecorder,
    /// Created on the first frame.
    file: Option<StreamFile>,
}

/// A stream ID as a file name: anything but ASCII letters, digits, `-` and `_` becomes
/// `_` (stream IDs are UUIDs; a hostile one must not name a path elsewhere).
pub fn file_stem(stream_id: &str) -> String {
    stream_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl StreamRecording {
    /// A recording of `stream` in `dir` (which must exist), with file time 0 at
    /// `origin_unix_micros`. The tracks are those the stream announces (both if it
    /// announces neither); frames of another kind are ignored.
    pub fn new(dir: &Path, stream: &Stream, origin_unix_micros: u64) -> StreamRecording {
        let (mut audio, mut video) = (stream.has_audio, stream.has_video);
        if !audio && !video {
            (audio, video) = (true, true);
        }
        let cfg = StreamRecorderConfig::new(
            audio.then_some(Codec::Opus),
            video.then_some(Codec::Vp8),
            origin_unix_micros,
        );
        StreamRecording {
            path: dir.join(format!("{}.webm", file_stem(&stream.stream_id))),
            rec: StreamRecorder::new(cfg).expect("Opus audio and VP8 video are valid"),
            file: None,
        }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records one received frame, which arrived at `arrival_unix_micros`; writes what
    /// became ready.
    pub fn push(
        &mut self,
        frame: &MediaFrame,
        arrival_unix_micros: u64,
    ) -> Result<(), RecorderError> {
        if self.file.is_none() {
            self.file = Some(StreamFile::create(&self.path)?);
        }
        let kind = match frame.kind {
            MediaKind::Audio => TrackKind::Audio,
            MediaKind::Video => TrackKind::Video,
        };
        let input = FrameIn {
            rtp_time: frame.rtp_time as u32,
            data: &frame.data,
            contiguous: frame.contiguous,
        };
        self.rec.push_frame(kind, &input, arrival_unix_micros);
        self.write_ready()
    }

    /// Advances the recorder's time without a frame, and writes what became ready.
    pub fn handle_timeout(&mut self, now_unix_micros: u64) -> Result<(), RecorderError> {
        self.rec.handle_timeout(now_unix_micros);
        self.write_ready()
    }

    fn write_ready(&mut self) -> Result<(), RecorderError> {
        match self.file.as_mut() {
            Some(file) => file.write_ready(&mut self.rec).map(drop),
            None => Ok(()),
        }
    }

    /// Whether video was lost and the recording waits for a key frame (once per need).
    pub fn take_keyframe_request(&mut self) -> bool {
        self.rec.take_keyframe_request()
    }

    /// The recorder's counters.
    pub fn stats(&self) -> RecorderStats {
        self.rec.stats()
    }

    /// Finishes the file (if a frame ever came); returns the final counters.
    pub fn finish(mut self) -> Result<RecorderStats, RecorderError> {
        if let Some(file) = self.file.take() {
            file.finish(&mut self.rec)?;
        }
        Ok(self.rec.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parlor_proto::signaling::{Connection, VideoType};
    use std::sync::Arc;

    fn stream(id: &str, has_audio: bool, has_video: bool) -> Stream {
        Stream {
            stream_id: id.into(),
            connection: Connection {
                connection_id: "c".into(),
                creation_time: 0,
                data: String::new(),
            },
            name: String::new(),
            has_audio,
            has_video,
            video_type: VideoType::Camera,
            video_dimensions: None,
            creation_time: 0,
        }
    }

    #[test]
    fn file_names_stay_in_the_directory() {
        assert_eq!(file_stem("a1-B_2"), "a1-B_2");
        assert_eq!(file_stem("../etc/passwd"), "___etc_passwd");
        let dir = Path::new("/rec");
        let r = StreamRecording::new(dir, &stream("x/../y", true, true), 0);
        assert_eq!(r.path(), Path::new("/rec/x____y.webm"));
    }

    #[test]
    fn frames_make_a_file_only_once_they_come() {
        let dir = std::env::temp_dir().join(format!("parlor-client-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t0 = 1_700_000_000_000_000;
        let r = StreamRecording::new(&dir, &stream("s1", true, false), t0);
        let path = r.path().to_owned();
        assert_eq!(r.finish().unwrap().audio.frames, 0);
        assert!(!path.exists(), "no frame, no file");

        let mut r = StreamRecording::new(&dir, &stream("s2", true, false), t0);
        for i in 0..50u64 {
            let frame = MediaFrame {
                kind: MediaKind::Audio,
                data: Arc::from(&[0xfc, i as u8, 0x55][..]),
                rtp_time: (1u64 << 32) + 960 * i,
                keyframe: false,
                contiguous: true,
            };
            r.push(&frame, t0 + 20_000 * i).unwrap();
        }
        // Video is not announced: ignored.
        let frame = MediaFrame {
            kind: MediaKind::Video,
            data: Arc::from(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 1, 0, 1, 0][..]),
            rtp_time: 0,
            keyframe: true,
            contiguous: true,
        };
        r.push(&frame, t0).unwrap();
        r.handle_timeout(t0 + 5_000_000).unwrap();
        let path = r.path().to_owned();
        let stats = r.finish().unwrap();
        assert_eq!((stats.audio.frames, stats.video.frames), (50, 0));
        assert_eq!(stats.audio.first_ms, Some(0));
        assert_eq!(stats.audio.last_ms, Some(49 * 20));
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]));
        assert_eq!(bytes.len() as u64, stats.bytes);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
