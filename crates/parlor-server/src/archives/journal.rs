//! An archive's journal: one JSON line per fact, appended and synced as it happens
//! (`journal.jsonl` in the archive's directory).
//!
//! It says which stream files exist and which periods of the archive they cover, and every
//! event of the composed layout's timeline. After a crash, [`recover`] reads it back —
//! skipping a torn last line — repairs the stream files that were being written (their
//! last complete cluster is kept) and gives the archive's output step what it needs.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use parlor_compositor::layout::{LayoutStream, VideoType};
use parlor_compositor::timeline::{Event, EventKind};
use serde::{Deserialize, Serialize};

use super::model::{ArchiveRecord, LayoutRecord};
use super::output::RecordedStream;

/// The journal's file name in an archive's directory.
pub const FILE: &str = "journal.jsonl";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum JournalEntry {
    /// A stream period's file was opened (`streams/<file_stem>.webm|mkv`).
    StreamStarted {
        stream_id: String,
        index: u32,
        file_stem: String,
        start_offset_ms: u64,
        connection_data: String,
        video_type: String,
        has_audio: bool,
        has_video: bool,
    },
    /// A stream period ended and its file was finished.
    StreamEnded {
        stream_id: String,
        index: u32,
        stop_offset_ms: u64,
    },
    /// A layout event (see `parlor_compositor::timeline`).
    Added {
        at_ms: u64,
        id: String,
        classes: Vec<String>,
        video_type: String,
        owner_shares_screen: bool,
        added_seq: u64,
        has_video: bool,
        size: Option<(u32, u32)>,
    },
    Removed {
        at_ms: u64,
        id: String,
    },
    Video {
        at_ms: u64,
        id: String,
        on: bool,
    },
    Classes {
        at_ms: u64,
        id: String,
        classes: Vec<String>,
    },
    Size {
        at_ms: u64,
        id: String,
        size: (u32, u32),
    },
    Layout {
        at_ms: u64,
        layout: LayoutRecord,
    },
}

fn video_type_name(t: VideoType) -> &'static str {
    match t {
        VideoType::Camera => "camera",
        VideoType::Screen => "screen",
        VideoType::Custom => "custom",
    }
}

impl JournalEntry {
    /// The journal line of a layout event.
    pub fn layout_event(at_ms: u64, kind: &EventKind) -> JournalEntry {
        match kind {
            EventKind::Added(s) => JournalEntry::Added {
                at_ms,
                id: s.id.clone(),
                classes: s.classes.clone(),
                video_type: video_type_name(s.video_type).into(),
                owner_shares_screen: s.owner_shares_screen,
                added_seq: s.added_seq,
                has_video: s.has_video,
                size: s.size,
            },
            EventKind::Removed(id) => JournalEntry::Removed {
                at_ms,
                id: id.clone(),
            },
            EventKind::Video(id, on) => JournalEntry::Video {
                at_ms,
                id: id.clone(),
                on: *on,
            },
            EventKind::Classes(id, classes) => JournalEntry::Classes {
                at_ms,
                id: id.clone(),
                classes: classes.clone(),
            },
            EventKind::Size(id, size) => JournalEntry::Size {
                at_ms,
                id: id.clone(),
                size: *size,
            },
            EventKind::Layout(spec) => JournalEntry::Layout {
                at_ms,
                layout: LayoutRecord {
                    kind: spec.kind.as_str().into(),
                    stylesheet: spec.stylesheet.clone(),
                    screenshare_type: spec.screenshare_type.map(|t| t.as_str().into()),
                },
            },
        }
    }

    /// The layout event this line records, if it is one.
    fn to_event(&self) -> Option<Event> {
        let (at_ms, kind) = match self {
            JournalEntry::Added {
                at_ms,
                id,
                classes,
                video_type,
                owner_shares_screen,
                added_seq,
                has_video,
                size,
            } => (
                *at_ms,
                EventKind::Added(LayoutStream {
                    id: id.clone(),
                    classes: classes.clone(),
                    video_type: match video_type.as_str() {
                        "screen" => VideoType::Screen,
                        "custom" => VideoType::Custom,
                        _ => VideoType::Camera,
                    },
                    owner_shares_screen: *owner_shares_screen,
                    added_seq: *added_seq,
                    has_video: *has_video,
                    size: *size,
                }),
            ),
            JournalEntry::Removed { at_ms, id } => (*at_ms, EventKind::Removed(id.clone())),
            JournalEntry::Video { at_ms, id, on } => (*at_ms, EventKind::Video(id.clone(), *on)),
            JournalEntry::Classes { at_ms, id, classes } => {
                (*at_ms, EventKind::Classes(id.clone(), classes.clone()))
            }
            JournalEntry::Size { at_ms, id, size } => (*at_ms, EventKind::Size(id.clone(), *size)),
            JournalEntry::Layout { at_ms, layout } => {
                let spec = layout.to_spec().ok()?;
                (*at_ms, EventKind::Layout(spec))
            }
            _ => return None,
        };
        Some(Event { at_ms, kind })
    }
}

/// The append side.
pub struct Journal {
    file: Option<File>,
}

impl Journal {
    pub fn create(path: &Path) -> std::io::Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Journal { file: Some(file) })
    }

    /// Appends one line and syncs it. A failure is logged and stops the journal (the
    /// archive itself goes on; only crash recovery would know less).
    pub fn append(&mut self, entry: &JournalEntry) {
        let Some(file) = &mut self.file else { return };
        let mut line = serde_json::to_vec(entry).expect("journal entries serialize");
        line.push(b'\n');
        if let Err(e) = file.write_all(&line).and_then(|()| file.sync_data()) {
            tracing::warn!(error = %e, "cannot write an archive journal");
            self.file = None;
        }
    }
}

/// What a journal says, with the unfinished stream files repaired.
#[derive(Debug, Default)]
pub struct Recovered {
    pub files: Vec<RecordedStream>,
    pub events: Vec<Event>,
    /// The latest offset anything reached: the recording's length as far as it is known.
    pub last_offset_ms: u64,
}

/// Reads an archive's journal back (after a crash) and repairs the files it lists.
pub fn recover(dir: &Path, record: &ArchiveRecord) -> Recovered {
    let mut out = Recovered::default();
    let entries: Vec<JournalEntry> = match File::open(dir.join(FILE)) {
        Ok(f) => BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    let ended = |stream_id: &str, index: u32| {
        entries.iter().find_map(|e| match e {
            JournalEntry::StreamEnded {
                stream_id: s,
                index: i,
                stop_offset_ms,
            } if s == stream_id && *i == index => Some(*stop_offset_ms),
            _ => None,
        })
    };
    for entry in &entries {
        if let Some(event) = entry.to_event() {
            out.last_offset_ms = out.last_offset_ms.max(event.at_ms);
            out.events.push(event);
        }
        let JournalEntry::StreamStarted {
            stream_id,
            index,
            file_stem,
            start_offset_ms,
            connection_data,
            video_type,
            has_audio,
            has_video,
        } = entry
        else {
            continue;
        };
        // Only names this server made: a stream ID and an index.
        if file_stem.contains(['/', '\\']) || file_stem.starts_with('.') {
            continue;
        }
        let Some(path) = ["webm", "mkv"]
            .iter()
            .map(|ext| dir.join("streams").join(format!("{file_stem}.{ext}")))
            .find(|p| p.is_file())
        else {
            continue;
        };
        let stop_offset_ms = match ended(stream_id, *index) {
            Some(stop) => stop,
            None => match parlor_recorder::repair(&path) {
                Ok(report) => start_offset_ms + report.duration_ms.max(0.0) as u64,
                Err(e) => {
                    tracing::warn!(archive = %record.id, file = %path.display(), error = %e, "cannot repair a stream file");
                    continue;
                }
            },
        };
        out.last_offset_ms = out.last_offset_ms.max(stop_offset_ms);
        out.files.push(RecordedStream {
            stream_id: stream_id.clone(),
            index: *index,
            path,
            connection_data: connection_data.clone(),
            video_type: video_type.clone(),
            start_offset_ms: *start_offset_ms,
            stop_offset_ms,
            has_audio: *has_audio,
            has_video: *has_video,
        });
    }
    out
}
