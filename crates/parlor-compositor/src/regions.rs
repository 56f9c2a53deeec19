//! Region layouts (Telnyx room compositions' `video_layout`): named rectangles of the
//! frame, each tiling the video sources active in it in a grid of at most
//! `max_columns` × `max_rows`, stacked by `z`.
//!
//! Pure: from the regions and the sources' time spans to the [`Segment`]s that
//! [`crate::compose::compose`] renders. A new segment starts wherever a source starts or
//! ends; within a segment, each region shows its active sources in the order it names
//! them (all sources, in the order given, for `"*"`), the first `max_columns × max_rows`
//! of them.

use crate::compose::Segment;
use crate::layout::{ObjectFit, Placement, Rect, Resolution};

/// Which sources a region shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSources {
    /// Every video source (`["*"]`).
    All,
    /// These, in this order.
    Ids(Vec<String>),
}

/// One region of the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Left edge, pixels.
    pub x: u32,
    /// Top edge, pixels.
    pub y: u32,
    /// Stacking order: higher is drawn above.
    pub z: i32,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Most columns of the grid (at least 1).
    pub max_columns: u32,
    /// Most rows of the grid (at least 1).
    pub max_rows: u32,
    /// What it shows.
    pub sources: RegionSources,
}

/// A video source and when it has pictures, on the composition's clock (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpan {
    /// The source's ID (the [`Placement::stream_id`] of its tiles).
    pub id: String,
    /// Start, ms (inclusive).
    pub start_ms: u64,
    /// End, ms (exclusive).
    pub end_ms: u64,
}

/// The grid for `n` tiles: `(columns, rows)`, as square as `max_columns × max_rows`
/// allows, `n` capped to that many.
pub fn grid(n: u32, max_columns: u32, max_rows: u32) -> (u32, u32) {
    let (max_c, max_r) = (max_columns.max(1), max_rows.max(1));
    let n = n.min(max_c * max_r);
    if n == 0 {
        return (0, 0);
    }
    let mut cols = ((n as f64).sqrt().ceil() as u32).min(max_c);
    let mut rows = n.div_ceil(cols);
    if rows > max_r {
        rows = max_r;
        cols = n.div_ceil(rows).min(max_c);
    }
    (cols, rows)
}

/// The tiles of a region showing `ids` (the first `max_columns × max_rows`), row by row.
fn tiles(region: &Region, ids: &[&str], frame: Resolution) -> Vec<Placement> {
    // The region, clipped to the frame.
    let x = region.x.min(frame.width);
    let y = region.y.min(frame.height);
    let w = region.width.min(frame.width - x);
    let h = region.height.min(frame.height - y);
    let (cols, rows) = grid(ids.len() as u32, region.max_columns, region.max_rows);
    if cols == 0 || w == 0 || h == 0 {
        return Vec::new();
    }
    let shown = (cols * rows).min(ids.len() as u32) as usize;
    ids[..shown]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (c, r) = (i as u32 % cols, i as u32 / cols);
            // Edges by proportion, so the tiles cover the region exactly.
            let (x0, x1) = (x + w * c / cols, x + w * (c + 1) / cols);
            let (y0, y1) = (y + h * r / rows, y + h * (r + 1) / rows);
            let slot = Rect::new(x0, y0, x1 - x0, y1 - y0);
            Placement {
                stream_id: (*id).to_owned(),
                slot,
                video: slot,
                z: region.z,
                fit: ObjectFit::Contain,
            }
        })
        .collect()
}

/// The segments of a composition of `duration_ms` with these regions over these video
/// sources: placements in drawing order (by `z`, then region order, then tile order).
/// Neighbouring segments with the same placements are merged.
pub fn timeline(
    regions: &[Region],
    sources: &[SourceSpan],
    frame: Resolution,
    duration_ms: u64,
) -> Vec<Segment> {
    let mut cuts: Vec<u64> = vec![0, duration_ms];
    for s in sources {
        cuts.push(s.start_ms.min(duration_ms));
        cuts.push(s.end_ms.min(duration_ms));
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut order: Vec<&Region> = regions.iter().collect();
    order.sort_by_key(|r| r.z); // stable: equal z keeps region order
    let mut segments: Vec<Segment> = Vec::new();
    for pair in cuts.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let active = |s: &SourceSpan| s.start_ms <= start && s.end_ms >= end;
        let mut placements = Vec::new();
        for region in &order {
            let ids: Vec<&str> = match &region.sources {
                RegionSources::All => sources
                    .iter()
                    .filter(|s| active(s))
                    .map(|s| s.id.as_str())
                    .collect(),
                RegionSources::Ids(ids) => ids
                    .iter()
                    .filter(|id| sources.iter().any(|s| &s.id == *id && active(s)))
                    .map(String::as_str)
                    .collect(),
            };
            placements.extend(tiles(region, &ids, frame));
        }
        match segments.last_mut() {
            Some(last) if last.placements == placements && last.end_ms == start => {
                last.end_ms = end;
            }
            _ => segments.push(Segment {
                start_ms: start,
                end_ms: end,
                placements,
            }),
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, start_ms: u64, end_ms: u64) -> SourceSpan {
        SourceSpan {
            id: id.into(),
            start_ms,
            end_ms,
        }
    }

    fn region(x: u32, y: u32, w: u32, h: u32, z: i32, sources: RegionSources) -> Region {
        Region {
            x,
            y,
            z,
            width: w,
            height: h,
            max_columns: 2,
            max_rows: 2,
            sources,
        }
    }

    const FRAME: Resolution = Resolution {
        width: 320,
        height: 240,
    };

    #[test]
    fn grids_are_square_within_the_caps() {
        assert_eq!(grid(0, 3, 3), (0, 0));
        assert_eq!(grid(1, 3, 3), (1, 1));
        assert_eq!(grid(2, 3, 3), (2, 1));
        assert_eq!(grid(3, 3, 3), (2, 2));
        assert_eq!(grid(5, 3, 3), (3, 2));
        assert_eq!(grid(4, 4, 1), (4, 1));
        assert_eq!(grid(4, 1, 4), (1, 4));
        assert_eq!(grid(9, 2, 2), (2, 2));
    }

    #[test]
    fn a_region_tiles_its_active_sources_and_segments_follow_the_spans() {
        let regions = [region(0, 0, 320, 240, 0, RegionSources::All)];
        let sources = [span("a", 0, 4000), span("b", 1000, 3000)];
        let t = timeline(&regions, &sources, FRAME, 4000);
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].start_ms, t[0].end_ms), (0, 1000));
        assert_eq!(t[0].placements.len(), 1);
        assert_eq!(t[0].placements[0].slot, Rect::new(0, 0, 320, 240));
        assert_eq!((t[1].start_ms, t[1].end_ms), (1000, 3000));
        let slots: Vec<(&str, Rect)> = t[1]
            .placements
            .iter()
            .map(|p| (p.stream_id.as_str(), p.slot))
            .collect();
        assert_eq!(
            slots,
            [
                ("a", Rect::new(0, 0, 160, 240)),
                ("b", Rect::new(160, 0, 160, 240))
            ]
        );
        // a alone again: its span ends with the composition.
        assert_eq!((t[2].start_ms, t[2].end_ms), (3000, 4000));
        assert_eq!(t[2].placements, t[0].placements);
    }

    #[test]
    fn regions_stack_by_z_and_name_their_sources() {
        let regions = [
            region(160, 0, 160, 120, 5, RegionSources::Ids(vec!["b".into()])),
            region(0, 0, 320, 240, -1, RegionSources::All),
        ];
        let sources = [span("a", 0, 2000), span("b", 0, 2000), span("c", 0, 2000)];
        let t = timeline(&regions, &sources, FRAME, 2000);
        assert_eq!(t.len(), 1);
        let p = &t[0].placements;
        // The "*" region (z -1): three tiles in a 2×2 grid, drawn first.
        assert_eq!(p.len(), 4);
        assert!(p[..3].iter().all(|p| p.z == -1));
        assert_eq!(p[2].slot, Rect::new(0, 120, 160, 120));
        assert_eq!(p[3].stream_id, "b");
        assert_eq!(p[3].z, 5);
        assert_eq!(p[3].slot, Rect::new(160, 0, 160, 120));
    }

    #[test]
    fn caps_clipping_and_unknown_sources() {
        let mut r = region(200, 200, 400, 400, 0, RegionSources::All);
        r.max_columns = 1;
        r.max_rows = 1;
        let named = region(
            0,
            0,
            100,
            100,
            0,
            RegionSources::Ids(vec!["nope".into(), "a".into()]),
        );
        let sources = [span("a", 0, 1000), span("b", 0, 1000)];
        let t = timeline(&[r, named], &sources, FRAME, 1000);
        let p = &t[0].placements;
        assert_eq!(p.len(), 2);
        // Only the first source fits a 1×1 grid; the region is clipped to the frame.
        assert_eq!(p[0].stream_id, "a");
        assert_eq!(p[0].slot, Rect::new(200, 200, 120, 40));
        assert_eq!(p[1].stream_id, "a");
        assert_eq!(p[1].slot, Rect::new(0, 0, 100, 100));
        // No sources: one empty segment.
        let empty = timeline(&[], &[], FRAME, 500);
        assert_eq!(empty.len(), 1);
        assert!(empty[0].placements.is_empty());
    }
}
