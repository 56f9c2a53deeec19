//! From what happened during a recording (streams added and removed, video on and off,
//! class lists and the layout changed) to the [`Segment`]s of a [`Composition`]
//! (`crate::compose::Composition`): stretches of time with one set of placements.
//!
//! Pure: the caller passes the events with their times (milliseconds from the start of
//! the archive); [`timeline`] replays them and calls [`layout`] after each instant.

use crate::compose::Segment;
use crate::layout::{LayoutSpec, LayoutStream, Resolution, layout};

/// One change, at a time in milliseconds from the archive's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When, in ms from the start of the archive.
    pub at_ms: u64,
    /// What.
    pub kind: EventKind,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A stream joined the archive (replaces a stream of the same ID).
    Added(LayoutStream),
    /// A stream left.
    Removed(String),
    /// A stream's video went on or off.
    Video(String, bool),
    /// A stream's layout class list changed.
    Classes(String, Vec<String>),
    /// A stream's video size changed (for letterboxing).
    Size(String, (u32, u32)),
    /// The archive's layout changed (`PUT …/layout`).
    Layout(LayoutSpec),
}

/// The segments of an archive of `duration_ms` that starts with `initial`: consecutive,
/// covering `[0, duration_ms)`, each as long as the placements stay the same. Events at
/// or after `duration_ms` are ignored; events at the same time apply together, in the
/// order given.
pub fn timeline(
    events: &[Event],
    initial: &LayoutSpec,
    res: Resolution,
    duration_ms: u64,
) -> Vec<Segment> {
    let mut sorted: Vec<&Event> = events.iter().filter(|e| e.at_ms < duration_ms).collect();
    sorted.sort_by_key(|e| e.at_ms);
    let mut streams: Vec<LayoutStream> = Vec::new();
    let mut spec = initial.clone();
    let mut segments: Vec<Segment> = Vec::new();
    let mut i = 0;
    let mut now = 0;
    while now < duration_ms {
        while i < sorted.len() && sorted[i].at_ms <= now {
            apply(&mut streams, &mut spec, &sorted[i].kind);
            i += 1;
        }
        let next = sorted.get(i).map_or(duration_ms, |e| e.at_ms);
        let placements = layout(&streams, &spec, res);
        match segments.last_mut() {
            Some(last) if last.placements == placements => last.end_ms = next,
            _ => segments.push(Segment {
                start_ms: now,
                end_ms: next,
                placements,
            }),
        }
        now = next;
    }
    segments
}

fn apply(streams: &mut Vec<LayoutStream>, spec: &mut LayoutSpec, kind: &EventKind) {
    let find = |streams: &mut Vec<LayoutStream>, id: &str| -> Option<usize> {
        streams.iter().position(|s| s.id == id)
    };
    match kind {
        EventKind::Added(s) => {
            streams.retain(|x| x.id != s.id);
            streams.push(s.clone());
        }
        EventKind::Removed(id) => streams.retain(|x| &x.id != id),
        EventKind::Video(id, on) => {
            if let Some(k) = find(streams, id) {
                streams[k].has_video = *on;
            }
        }
        EventKind::Classes(id, classes) => {
            if let Some(k) = find(streams, id) {
                streams[k].classes = classes.clone();
            }
        }
        EventKind::Size(id, size) => {
            if let Some(k) = find(streams, id) {
                streams[k].size = Some(*size);
            }
        }
        EventKind::Layout(new) => *spec = new.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{LayoutType, Rect};

    fn stream(id: &str, seq: u64) -> LayoutStream {
        LayoutStream {
            id: id.into(),
            added_seq: seq,
            has_video: true,
            ..Default::default()
        }
    }

    #[test]
    fn joins_leaves_and_layout_changes_make_segments() {
        let ev = |at_ms, kind| Event { at_ms, kind };
        let events = vec![
            ev(4000, EventKind::Added(stream("c", 2))),
            ev(0, EventKind::Added(stream("a", 0))),
            ev(2000, EventKind::Added(stream("b", 1))),
            ev(
                6000,
                EventKind::Layout(LayoutSpec::predefined(LayoutType::Pip)),
            ),
            // Same instant: the net effect counts.
            ev(7000, EventKind::Video("b".into(), false)),
            ev(7000, EventKind::Video("b".into(), true)),
            ev(8000, EventKind::Removed("a".into())),
            ev(99_000, EventKind::Removed("b".into())),
        ];
        let segs = timeline(
            &events,
            &LayoutSpec::default(),
            Resolution::SD_LANDSCAPE,
            10_000,
        );
        let spans: Vec<(u64, u64, usize)> = segs
            .iter()
            .map(|s| (s.start_ms, s.end_ms, s.placements.len()))
            .collect();
        assert_eq!(
            spans,
            [
                (0, 2000, 1),
                (2000, 4000, 2),
                (4000, 6000, 3),
                (6000, 8000, 2),
                (8000, 10_000, 2)
            ]
        );
        assert_eq!(segs[0].placements[0].slot, Rect::new(0, 0, 640, 480));
        assert_eq!(segs[3].placements[1].slot, Rect::new(448, 48, 128, 96));
        // After a leaves: b full, c in the corner.
        assert_eq!(segs[4].placements[0].stream_id, "b");
        assert_eq!(segs[4].placements[1].stream_id, "c");
        // An archive with nothing: one empty segment.
        let segs = timeline(&[], &LayoutSpec::default(), Resolution::SD_LANDSCAPE, 500);
        assert_eq!(segs.len(), 1);
        assert!(segs[0].placements.is_empty());
    }
}
