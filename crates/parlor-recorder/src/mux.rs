//! A live Matroska/WebM writer: headers once, then whole Clusters of SimpleBlocks as
//! they close, then Cues and the patches that finish the file.
//!
//! Layout (offsets are absolute, from the first byte this writer produced):
//!
//! ```text
//! EBML header (DocType webm | matroska)
//! Segment, size = 8-byte "unknown" vint          ← patched to the real size at finish
//!   Void (100 bytes)                              ← patched into SeekHead + Void at finish
//!   Info: TimestampScale 1 ms, DateUTC, MuxingApp, WritingApp,
//!         Duration (8-byte float, 0 until finish) ← patched at finish
//!   Tracks
//!   Cluster (known size): Timestamp, SimpleBlock…   ← one whole element at a time
//!   …
//!   Cues (at finish)
//! ```
//!
//! A Cluster is only handed out once it is closed, so a file cut anywhere ends in whole
//! clusters plus at most one partial element, which players skip and
//! [`repair`](crate::repair) truncates. A new cluster starts at every video key frame,
//! when the current one spans `cluster_max_ms`, and before a block's relative timestamp
//! could overflow its signed 16 bits.

use crate::ebml::{self, id};

/// Bytes reserved after the Segment header for the SeekHead written at finish.
const SEEK_HEAD_RESERVE: usize = 100;

/// Bytes to write over what was already written at `offset`, to finish the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// Absolute offset in the file.
    pub offset: u64,
    /// The replacement bytes (same length as what they replace).
    pub bytes: Vec<u8>,
}

/// What the Tracks element says about one track.
#[derive(Debug, Clone)]
pub(crate) struct TrackHeader {
    pub number: u8,
    pub video: bool,
    pub codec_id: &'static str,
    pub codec_private: Vec<u8>,
    /// Video: pixel width and height.
    pub dims: (u32, u32),
    /// Audio: channel count.
    pub channels: u8,
}

#[derive(Debug)]
pub(crate) struct Muxer {
    /// Bytes ready to be handed out.
    pub out: Vec<u8>,
    /// Bytes produced so far (handed out or in `out`).
    total: u64,
    segment_size_at: u64,
    segment_data_start: u64,
    void_at: u64,
    info_at: u64,
    tracks_at: u64,
    duration_at: u64,
    cluster: Vec<u8>,
    cluster_time: Option<i64>,
    cluster_keyframe_track: Option<u8>,
    cluster_max_ms: i64,
    /// (cluster time, track, cluster offset from the segment data start)
    cues: Vec<(i64, u8, u64)>,
    /// Track numbers to index in Cues: video tracks, or audio when there is no video.
    cue_track: Option<u8>,
    pub clusters: u64,
    header_written: bool,
}

impl Muxer {
    pub(crate) fn new(cluster_max_ms: u32) -> Self {
        Muxer {
            out: Vec::new(),
            total: 0,
            segment_size_at: 0,
            segment_data_start: 0,
            void_at: 0,
            info_at: 0,
            tracks_at: 0,
            duration_at: 0,
            cluster: Vec::new(),
            cluster_time: None,
            cluster_keyframe_track: None,
            cluster_max_ms: i64::from(cluster_max_ms.clamp(1, 30_000)),
            cues: Vec::new(),
            cue_track: None,
            clusters: 0,
            header_written: false,
        }
    }

    pub(crate) fn header_written(&self) -> bool {
        self.header_written
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    fn append(&mut self, bytes: &[u8]) -> u64 {
        let at = self.total;
        self.out.extend_from_slice(bytes);
        self.total += bytes.len() as u64;
        at
    }

    /// Writes the EBML header, the Segment start, Info and Tracks.
    pub(crate) fn write_header(
        &mut self,
        doc_type: &str,
        date_unix_micros: u64,
        tracks: &[TrackHeader],
    ) {
        let mut b = Vec::with_capacity(512);
        let mut head = Vec::new();
        ebml::put_uint(&mut head, id::EBML_VERSION, 1);
        ebml::put_uint(&mut head, id::EBML_READ_VERSION, 1);
        ebml::put_uint(&mut head, id::EBML_MAX_ID_LENGTH, 4);
        ebml::put_uint(&mut head, id::EBML_MAX_SIZE_LENGTH, 8);
        ebml::put_bytes(&mut head, id::DOC_TYPE, doc_type.as_bytes());
        ebml::put_uint(&mut head, id::DOC_TYPE_VERSION, 4);
        ebml::put_uint(&mut head, id::DOC_TYPE_READ_VERSION, 2);
        ebml::put_master(&mut b, id::EBML, &head);

        ebml::put_id(&mut b, id::SEGMENT);
        let segment_size_at = b.len();
        b.extend_from_slice(&ebml::UNKNOWN_SIZE_8);
        let segment_data_start = b.len();
        let void_at = b.len();
        ebml::put_void(&mut b, SEEK_HEAD_RESERVE);

        let info_at = b.len();
        let mut info = Vec::new();
        ebml::put_uint(&mut info, id::TIMESTAMP_SCALE, 1_000_000);
        // DateUTC: nanoseconds since 2001-01-01T00:00:00 UTC.
        let date_ns = (i128::from(date_unix_micros) - 978_307_200_000_000) * 1000;
        ebml::put_int8(
            &mut info,
            id::DATE_UTC,
            date_ns.clamp(i64::MIN.into(), i64::MAX.into()) as i64,
        );
        ebml::put_bytes(&mut info, id::MUXING_APP, b"parlor-recorder");
        ebml::put_bytes(&mut info, id::WRITING_APP, b"parlor");
        let duration_in_info = ebml::put_float(&mut info, id::DURATION, 0.0);
        ebml::put_id(&mut b, id::INFO);
        ebml::put_size(&mut b, info.len() as u64);
        let duration_at = b.len() + duration_in_info;
        b.extend_from_slice(&info);

        let tracks_at = b.len();
        let mut all = Vec::new();
        for t in tracks {
            let mut e = Vec::new();
            ebml::put_uint(&mut e, id::TRACK_NUMBER, u64::from(t.number));
            ebml::put_uint(&mut e, id::TRACK_UID, u64::from(t.number));
            ebml::put_uint(&mut e, id::TRACK_TYPE, if t.video { 1 } else { 2 });
            ebml::put_uint(&mut e, id::FLAG_LACING, 0);
            ebml::put_bytes(&mut e, id::CODEC_ID, t.codec_id.as_bytes());
            if !t.codec_private.is_empty() {
                ebml::put_bytes(&mut e, id::CODEC_PRIVATE, &t.codec_private);
            }
            if t.video {
                let mut v = Vec::new();
                ebml::put_uint(&mut v, id::PIXEL_WIDTH, u64::from(t.dims.0));
                ebml::put_uint(&mut v, id::PIXEL_HEIGHT, u64::from(t.dims.1));
                ebml::put_master(&mut e, id::VIDEO, &v);
                self.cue_track = Some(t.number);
            } else {
                // Opus as libwebm writes it: CodecDelay from the OpusHead pre-skip (0 for
                // WebRTC streams, which start decoding at once), 80 ms SeekPreRoll.
                ebml::put_uint(&mut e, id::CODEC_DELAY, 0);
                ebml::put_uint(&mut e, id::SEEK_PRE_ROLL, 80_000_000);
                let mut a = Vec::new();
                ebml::put_float(&mut a, id::SAMPLING_FREQUENCY, 48_000.0);
                ebml::put_uint(&mut a, id::CHANNELS, u64::from(t.channels));
                ebml::put_master(&mut e, id::AUDIO, &a);
                self.cue_track.get_or_insert(t.number);
            }
            ebml::put_master(&mut all, id::TRACK_ENTRY, &e);
        }
        ebml::put_master(&mut b, id::TRACKS, &all);

        let base = self.append(&b);
        self.segment_size_at = base + segment_size_at as u64;
        self.segment_data_start = base + segment_data_start as u64;
        self.void_at = base + void_at as u64;
        self.info_at = base + info_at as u64;
        self.tracks_at = base + tracks_at as u64;
        self.duration_at = base + duration_at as u64;
        self.header_written = true;
    }

    /// Adds a block at `time_ms` (file time, ≥ 0). `keyframe` sets the SimpleBlock's
    /// key flag; a video key frame also starts a new cluster.
    pub(crate) fn write_block(
        &mut self,
        track: u8,
        video: bool,
        time_ms: i64,
        keyframe: bool,
        data: &[u8],
    ) {
        let time_ms = time_ms.max(0);
        let start_new = match self.cluster_time {
            None => true,
            Some(t0) => {
                let rel = time_ms - t0;
                (video && keyframe && !self.cluster.is_empty())
                    || rel >= self.cluster_max_ms
                    || rel > i64::from(i16::MAX)
                    || rel < i64::from(i16::MIN)
                    || self.cluster.len() > 32 << 20
            }
        };
        if start_new {
            self.close_cluster();
            self.cluster_time = Some(time_ms);
            ebml::put_uint(&mut self.cluster, id::TIMESTAMP, time_ms as u64);
            self.cluster_keyframe_track =
                (keyframe && (video || self.cue_track == Some(track))).then_some(track);
        }
        let rel = (time_ms - self.cluster_time.unwrap_or(time_ms)) as i16;
        ebml::put_id(&mut self.cluster, id::SIMPLE_BLOCK);
        ebml::put_size(&mut self.cluster, 4 + data.len() as u64);
        self.cluster.push(0x80 | track);
        self.cluster.extend_from_slice(&rel.to_be_bytes());
        self.cluster.push(if keyframe { 0x80 } else { 0 });
        self.cluster.extend_from_slice(data);
    }

    /// Hands out the open cluster, if any.
    pub(crate) fn close_cluster(&mut self) {
        let Some(time) = self.cluster_time.take() else {
            return;
        };
        let mut head = Vec::with_capacity(12);
        ebml::put_id(&mut head, id::CLUSTER);
        ebml::put_size(&mut head, self.cluster.len() as u64);
        let at = self.append(&head);
        let body = std::mem::take(&mut self.cluster);
        self.append(&body);
        self.cluster = body;
        self.cluster.clear();
        self.clusters += 1;
        if let Some(track) = self.cluster_keyframe_track.take() {
            if self.cue_track == Some(track) {
                self.cues.push((time, track, at - self.segment_data_start));
            }
        }
    }

    /// Closes the last cluster, writes Cues, and returns the patches that set the
    /// Segment size, the Duration and the SeekHead.
    pub(crate) fn finish(&mut self, duration_ms: f64) -> Vec<Patch> {
        self.close_cluster();
        let mut cues_at = None;
        if !self.cues.is_empty() {
            let mut body = Vec::new();
            for &(time, track, pos) in &self.cues {
                let mut tp = Vec::new();
                ebml::put_uint(&mut tp, id::CUE_TRACK, u64::from(track));
                ebml::put_uint(&mut tp, id::CUE_CLUSTER_POSITION, pos);
                let mut cp = Vec::new();
                ebml::put_uint(&mut cp, id::CUE_TIME, time as u64);
                ebml::put_master(&mut cp, id::CUE_TRACK_POSITIONS, &tp);
                ebml::put_master(&mut body, id::CUE_POINT, &cp);
            }
            let mut cues = Vec::new();
            ebml::put_master(&mut cues, id::CUES, &body);
            cues_at = Some(self.append(&cues));
        }
        let mut seek_entries = vec![(id::INFO, self.info_at), (id::TRACKS, self.tracks_at)];
        if let Some(at) = cues_at {
            seek_entries.push((id::CUES, at));
        }
        let mut seek_body = Vec::new();
        for (element, at) in seek_entries {
            let mut s = Vec::new();
            ebml::put_bytes(&mut s, id::SEEK_ID, &element.to_be_bytes());
            ebml::put_id(&mut s, id::SEEK_POSITION);
            ebml::put_size(&mut s, 8);
            s.extend_from_slice(&(at - self.segment_data_start).to_be_bytes());
            ebml::put_master(&mut seek_body, id::SEEK, &s);
        }
        let mut seek_head = Vec::with_capacity(SEEK_HEAD_RESERVE);
        ebml::put_master(&mut seek_head, id::SEEK_HEAD, &seek_body);
        let fill = SEEK_HEAD_RESERVE - seek_head.len();
        ebml::put_void(&mut seek_head, fill);

        let mut size = Vec::with_capacity(8);
        ebml::put_size_len(
            &mut size,
            (self.total - self.segment_data_start).min(ebml::MAX_SIZE),
            8,
        );
        vec![
            Patch {
                offset: self.segment_size_at,
                bytes: size,
            },
            Patch {
                offset: self.duration_at,
                bytes: duration_ms.to_be_bytes().to_vec(),
            },
            Patch {
                offset: self.void_at,
                bytes: seek_head,
            },
        ]
    }
}
