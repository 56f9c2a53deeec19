//! The layout engine of composed archives and broadcasts: pure functions from the
//! streams, a layout and the output resolution to rectangles. No I/O, no clock.
//!
//! * [`order_streams`] — OpenTok's stream prioritization: streams with a layout class
//!   first; within each tier screen shares, then streams of clients who also share a
//!   screen, then the order the streams were added.
//! * [`layout`] — the rectangles of one instant: each shown stream's slot (its CSS box)
//!   and the part of it its picture covers ([`Placement::video`], letterboxed with
//!   `object-fit: contain`, or the whole slot with `cover`).
//! * [`LayoutSpec`] — a validated `{type, stylesheet, screenshareType}`, whose errors
//!   ([`LayoutError`]) are specific enough for a REST `400` message.
//!
//! # Geometry
//!
//! The predefined layouts follow OpenTok's documented stylesheets ("the CSS based on the
//! predefined layouts"), and the [`css`] engine gives the same rectangles for those
//! stylesheets written as `custom` (tested):
//!
//! | type | geometry |
//! |---|---|
//! | `bestFit` | 1 → full; 2 → two halves side by side; 3–4 → 2×2; 5–9 → 3×3; 10–16 → 4×4. Tiles fill rows left to right, top to bottom; an incomplete last row is **left-aligned, not centred** (OpenTok's reference CSS floats the tiles left). |
//! | `pip` | the stream with class `full` (else the first in order) fills the frame at z 100; the first other stream sits at 20 %×20 %, 10 % from the top and right edges, at z 200; no other stream is shown. |
//! | `verticalPresentation` | the `focus` stream (else the first in order) at x 20 %, 80 %×100 %; the others a column of 20 %×20 % tiles from the top left (five fit; more fall outside the frame and are not shown). |
//! | `horizontalPresentation` | the `focus` stream (else the first) at 100 %×80 % on top; the others a row of 20 %×20 % tiles from the left along the bottom (five shown). |
//! | `custom` | the [`css`] subset. |
//!
//! Edges are computed in real numbers and each edge rounded to the nearest pixel
//! (`x0 = round(left)`, `x1 = round(left + width)`), so tiles of one grid share their
//! edges and cover the frame without gaps (640/3 gives 213, 214, 213 px columns).
//!
//! Streams without video take no part: they get no rectangle and no tile, and in a
//! custom stylesheet they are not `stream` elements (so `:nth-child` counts video
//! streams only). At most [`MAX_VIDEO_STREAMS`] (16, OpenTok's limit) streams are laid
//! out, the first in order.
//!
//! `screenshareType` (only with `bestFit`): while a stream of video type
//! [`VideoType::Screen`] with video is in the list, the layout is that type with the
//! first screen share (in order) in the `full`/`focus` position.

pub mod css;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use css::{Stylesheet, StylesheetError};

/// At most this many streams are laid out (OpenTok composes up to 16 video streams).
pub const MAX_VIDEO_STREAMS: usize = 16;

/// A rectangle in output pixels; `x`, `y` from the top left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// A rectangle from its position and size.
    pub const fn new(x: u32, y: u32, w: u32, h: u32) -> Self {
        Self { x, y, w, h }
    }

    /// The centre, rounded down.
    pub const fn centre(&self) -> (u32, u32) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }

    /// Whether the point lies inside.
    pub const fn contains(&self, x: u32, y: u32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w && y < self.y + self.h
    }
}

/// An output resolution: one of OpenTok's six.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Resolution {
    /// `640x480`, OpenTok's default.
    pub const SD_LANDSCAPE: Self = Self::new(640, 480);
    /// `480x640`.
    pub const SD_PORTRAIT: Self = Self::new(480, 640);
    /// `1280x720`.
    pub const HD_LANDSCAPE: Self = Self::new(1280, 720);
    /// `720x1280`.
    pub const HD_PORTRAIT: Self = Self::new(720, 1280);
    /// `1920x1080`.
    pub const FHD_LANDSCAPE: Self = Self::new(1920, 1080);
    /// `1080x1920`.
    pub const FHD_PORTRAIT: Self = Self::new(1080, 1920);
    /// The six resolutions OpenTok accepts.
    pub const ALL: [Self; 6] = [
        Self::SD_LANDSCAPE,
        Self::SD_PORTRAIT,
        Self::HD_LANDSCAPE,
        Self::HD_PORTRAIT,
        Self::FHD_LANDSCAPE,
        Self::FHD_PORTRAIT,
    ];

    const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }
}

impl Default for Resolution {
    fn default() -> Self {
        Self::SD_LANDSCAPE
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for Resolution {
    type Err = LayoutError;

    /// Parses `"640x480"` and the other five; anything else is
    /// [`LayoutError::Resolution`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.to_string() == s)
            .ok_or_else(|| LayoutError::Resolution(truncate(s, 40)))
    }
}

/// A layout type, as named in OpenTok's REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LayoutType {
    /// `bestFit`: tiles.
    #[default]
    BestFit,
    /// `pip`: picture in picture.
    Pip,
    /// `verticalPresentation`.
    VerticalPresentation,
    /// `horizontalPresentation`.
    HorizontalPresentation,
    /// `custom`: a stylesheet.
    Custom,
}

impl LayoutType {
    /// The REST name (`"bestFit"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BestFit => "bestFit",
            Self::Pip => "pip",
            Self::VerticalPresentation => "verticalPresentation",
            Self::HorizontalPresentation => "horizontalPresentation",
            Self::Custom => "custom",
        }
    }
}

impl fmt::Display for LayoutType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LayoutType {
    type Err = LayoutError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "bestFit" => Self::BestFit,
            "pip" => Self::Pip,
            "verticalPresentation" => Self::VerticalPresentation,
            "horizontalPresentation" => Self::HorizontalPresentation,
            "custom" => Self::Custom,
            other => return Err(LayoutError::UnknownType(truncate(other, 40))),
        })
    }
}

/// Why a layout, resolution or stylesheet is refused. The messages are meant for a
/// REST `400` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Not one of OpenTok's six resolutions.
    #[error(
        "resolution \"{0}\" is not supported; use one of 640x480, 480x640, 1280x720, 720x1280, 1920x1080, 1080x1920"
    )]
    Resolution(String),
    /// Not a layout type name.
    #[error(
        "layout type \"{0}\" is not supported; use bestFit, pip, verticalPresentation, horizontalPresentation or custom"
    )]
    UnknownType(String),
    /// A stylesheet with a type other than `custom`.
    #[error("stylesheet is only allowed with layout type custom (type is {0})")]
    StylesheetWithoutCustom(LayoutType),
    /// `custom` without a stylesheet.
    #[error("layout type custom requires a stylesheet")]
    CustomWithoutStylesheet,
    /// `screenshareType` with a type other than `bestFit`.
    #[error("screenshareType is only allowed with layout type bestFit (type is {0})")]
    ScreenshareTypeWithoutBestFit(LayoutType),
    /// `screenshareType: custom`.
    #[error(
        "screenshareType must be bestFit, pip, verticalPresentation or horizontalPresentation, not custom"
    )]
    ScreenshareTypeCustom,
    /// The stylesheet does not parse.
    #[error("invalid stylesheet: {0}")]
    Stylesheet(#[from] StylesheetError),
}

/// A validated layout: `{type, stylesheet, screenshareType}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayoutSpec {
    /// The layout type.
    pub kind: LayoutType,
    /// The stylesheet (only with [`LayoutType::Custom`], where it is required).
    pub stylesheet: Option<String>,
    /// The layout while a screen share is live (only with [`LayoutType::BestFit`]).
    pub screenshare_type: Option<LayoutType>,
}

impl LayoutSpec {
    /// A predefined layout with no stylesheet and no `screenshareType`.
    pub const fn predefined(kind: LayoutType) -> Self {
        Self {
            kind,
            stylesheet: None,
            screenshare_type: None,
        }
    }

    /// A validated layout (see [`LayoutSpec::validate`]).
    pub fn new(
        kind: LayoutType,
        stylesheet: Option<String>,
        screenshare_type: Option<LayoutType>,
    ) -> Result<Self, LayoutError> {
        let spec = Self {
            kind,
            stylesheet,
            screenshare_type,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks OpenTok's rules: a stylesheet only (and always) with `custom`, and it
    /// parses; `screenshareType` only with `bestFit`, and not `custom`.
    pub fn validate(&self) -> Result<(), LayoutError> {
        match (self.kind, &self.stylesheet) {
            (LayoutType::Custom, None) => return Err(LayoutError::CustomWithoutStylesheet),
            (LayoutType::Custom, Some(css)) => {
                Stylesheet::parse(css)?;
            }
            (kind, Some(_)) => return Err(LayoutError::StylesheetWithoutCustom(kind)),
            (_, None) => {}
        }
        match self.screenshare_type {
            None => {}
            Some(_) if self.kind != LayoutType::BestFit => {
                return Err(LayoutError::ScreenshareTypeWithoutBestFit(self.kind));
            }
            Some(LayoutType::Custom) => return Err(LayoutError::ScreenshareTypeCustom),
            Some(_) => {}
        }
        Ok(())
    }
}

/// What a stream's video shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VideoType {
    /// A camera.
    #[default]
    Camera,
    /// A screen share.
    Screen,
    /// A custom video source.
    Custom,
}

/// A stream as the layout sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayoutStream {
    /// The stream ID.
    pub id: String,
    /// Its layout class list.
    pub classes: Vec<String>,
    /// Camera, screen or custom.
    pub video_type: VideoType,
    /// Whether the stream's client also publishes a screen share.
    pub owner_shares_screen: bool,
    /// A sequence number in the order streams were added (smaller first).
    pub added_seq: u64,
    /// Whether the stream has video now (streams without get no rectangle).
    pub has_video: bool,
    /// The source video's size, for letterboxing; `None` fills the slot.
    pub size: Option<(u32, u32)>,
}

/// How a picture fills its slot (CSS `object-fit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ObjectFit {
    /// Scaled to fit inside, aspect kept, black bars (letterbox or pillarbox).
    #[default]
    Contain,
    /// Scaled to fill, aspect kept, the overflow cropped (centred).
    Cover,
}

/// Where one stream appears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The stream.
    pub stream_id: String,
    /// Its box (clipped to the frame).
    pub slot: Rect,
    /// Where its picture appears: with [`ObjectFit::Contain`] the slot fitted to the
    /// source's aspect ratio and centred (the slot itself when the size is unknown);
    /// with [`ObjectFit::Cover`] the slot.
    pub video: Rect,
    /// Stacking order: higher is drawn above. Placements are returned in drawing order.
    pub z: i32,
    /// How the picture fills the slot.
    pub fit: ObjectFit,
}

/// OpenTok's stream order: streams with a layout class first; within each tier screen
/// shares, then streams of clients who also share a screen, then by `added_seq`.
pub fn order_streams(streams: &[LayoutStream]) -> Vec<&LayoutStream> {
    let mut ordered: Vec<&LayoutStream> = streams.iter().collect();
    ordered.sort_by_key(|s| {
        let tier = u8::from(s.classes.is_empty());
        let kind = if s.video_type == VideoType::Screen {
            0u8
        } else if s.owner_shares_screen {
            1
        } else {
            2
        };
        (tier, kind, s.added_seq)
    });
    ordered
}

/// The rectangles of the streams shown, in drawing order (by `z`, then document order).
///
/// An invalid `spec` (see [`LayoutSpec::validate`], which callers run when they accept
/// a layout) is laid out as `bestFit`, with a warning.
pub fn layout(streams: &[LayoutStream], spec: &LayoutSpec, res: Resolution) -> Vec<Placement> {
    let shown: Vec<&LayoutStream> = order_streams(streams)
        .into_iter()
        .filter(|s| s.has_video)
        .take(MAX_VIDEO_STREAMS)
        .collect();
    if shown.is_empty() {
        return Vec::new();
    }
    let mut kind = spec.kind;
    let mut forced_focus = None;
    if kind == LayoutType::BestFit {
        if let Some(share_kind) = spec.screenshare_type.filter(|k| *k != LayoutType::Custom) {
            if let Some(i) = shown.iter().position(|s| s.video_type == VideoType::Screen) {
                kind = share_kind;
                forced_focus = Some(i);
            }
        }
    }
    let mut placed = match kind {
        LayoutType::BestFit => best_fit(&shown, res),
        LayoutType::Pip => pip(&shown, res, forced_focus),
        LayoutType::VerticalPresentation => presentation(&shown, res, forced_focus, true),
        LayoutType::HorizontalPresentation => presentation(&shown, res, forced_focus, false),
        LayoutType::Custom => {
            let parsed = spec.stylesheet.as_deref().map(Stylesheet::parse);
            match parsed {
                Some(Ok(sheet)) => sheet.layout(&shown, res),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "invalid custom stylesheet; using bestFit");
                    best_fit(&shown, res)
                }
                None => {
                    tracing::warn!("custom layout without a stylesheet; using bestFit");
                    best_fit(&shown, res)
                }
            }
        }
    };
    // Drawing order: by z, document order kept among equals.
    placed.sort_by_key(|p| p.z);
    placed
}

/// Fits a source of `size` into `slot` keeping its aspect ratio, centred
/// (`object-fit: contain`). A zero or unknown size fills the slot.
pub fn fit_contain(slot: Rect, size: Option<(u32, u32)>) -> Rect {
    let Some((sw, sh)) = size.filter(|(w, h)| *w > 0 && *h > 0) else {
        return slot;
    };
    let (sw, sh) = (u64::from(sw), u64::from(sh));
    let (w, h) = (u64::from(slot.w), u64::from(slot.h));
    // Compare aspect ratios exactly: sw/sh vs w/h.
    let (vw, vh) = if sw * h > w * sh {
        // Source is wider: full width, bars above and below.
        (w, (w * sh + sw / 2) / sw)
    } else {
        (((h * sw + sh / 2) / sh), h)
    };
    let (vw, vh) = (vw.min(w) as u32, vh.min(h) as u32);
    Rect {
        x: slot.x + (slot.w - vw) / 2,
        y: slot.y + (slot.h - vh) / 2,
        w: vw,
        h: vh,
    }
}

/// A box in real-valued output coordinates, snapped to pixels by rounding each edge
/// and clipped to the frame; `None` if nothing of it is visible.
pub(crate) fn snap(x: f64, y: f64, w: f64, h: f64, res: Resolution) -> Option<Rect> {
    let clamp = |v: f64, max: u32| v.round().clamp(0.0, f64::from(max)) as u32;
    if !(x.is_finite() && y.is_finite() && w.is_finite() && h.is_finite()) {
        return None;
    }
    let x0 = clamp(x, res.width);
    let x1 = clamp(x + w, res.width);
    let y0 = clamp(y, res.height);
    let y1 = clamp(y + h, res.height);
    (x1 > x0 && y1 > y0).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0))
}

pub(crate) fn place(stream: &LayoutStream, slot: Rect, z: i32, fit: ObjectFit) -> Placement {
    let video = match fit {
        ObjectFit::Contain => fit_contain(slot, stream.size),
        ObjectFit::Cover => slot,
    };
    Placement {
        stream_id: stream.id.clone(),
        slot,
        video,
        z,
        fit,
    }
}

/// Columns (= rows) of the bestFit grid for `n` streams; 2 streams are 2×1.
fn grid(n: usize) -> (usize, usize) {
    match n {
        0 | 1 => (1, 1),
        2 => (2, 1),
        3 | 4 => (2, 2),
        5..=9 => (3, 3),
        _ => (4, 4),
    }
}

fn best_fit(shown: &[&LayoutStream], res: Resolution) -> Vec<Placement> {
    let (cols, rows) = grid(shown.len());
    let (fw, fh) = (f64::from(res.width), f64::from(res.height));
    let (tw, th) = (fw / cols as f64, fh / rows as f64);
    shown
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let (c, r) = (i % cols, i / cols);
            let slot = snap(c as f64 * tw, r as f64 * th, tw, th, res)?;
            Some(place(s, slot, 0, ObjectFit::Contain))
        })
        .collect()
}

/// The index of the stream in the big position: `forced`, else the first with `class`,
/// else the first.
fn big_index(shown: &[&LayoutStream], forced: Option<usize>, class: &str) -> usize {
    forced
        .or_else(|| {
            shown
                .iter()
                .position(|s| s.classes.iter().any(|c| c == class))
        })
        .unwrap_or(0)
}

fn pip(shown: &[&LayoutStream], res: Resolution, forced: Option<usize>) -> Vec<Placement> {
    let big = big_index(shown, forced, "full");
    let (fw, fh) = (f64::from(res.width), f64::from(res.height));
    let mut out = Vec::with_capacity(2);
    if let Some(slot) = snap(0.0, 0.0, fw, fh, res) {
        out.push(place(shown[big], slot, 100, ObjectFit::Contain));
    }
    if let Some((_, corner)) = shown.iter().enumerate().find(|(i, _)| *i != big) {
        // right: 10%; top: 10%; width: 20%; height: 20%.
        let (w, h) = (fw * 0.2, fh * 0.2);
        if let Some(slot) = snap(fw - fw * 0.1 - w, fh * 0.1, w, h, res) {
            out.push(place(corner, slot, 200, ObjectFit::Contain));
        }
    }
    out
}

fn presentation(
    shown: &[&LayoutStream],
    res: Resolution,
    forced: Option<usize>,
    vertical: bool,
) -> Vec<Placement> {
    let big = big_index(shown, forced, "focus");
    let (fw, fh) = (f64::from(res.width), f64::from(res.height));
    let (tw, th) = (fw * 0.2, fh * 0.2);
    let mut out = Vec::with_capacity(shown.len());
    let focus_box = if vertical {
        snap(tw, 0.0, fw - tw, fh, res)
    } else {
        snap(0.0, 0.0, fw, fh - th, res)
    };
    if let Some(slot) = focus_box {
        out.push(place(shown[big], slot, 0, ObjectFit::Contain));
    }
    let others = shown.iter().enumerate().filter(|(i, _)| *i != big);
    for (k, (_, s)) in others.enumerate() {
        let (x, y) = if vertical {
            (0.0, k as f64 * th)
        } else {
            (k as f64 * tw, fh - th)
        };
        // Tiles past the fifth lie outside the frame (as with OpenTok's CSS).
        if let Some(slot) = snap(x, y, tw, th, res).filter(|_| k < 5) {
            out.push(place(s, slot, 0, ObjectFit::Contain));
        }
    }
    out
}

/// At most `max` characters of `s`, for error messages that echo input.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
