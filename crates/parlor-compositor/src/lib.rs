//! Parlor's compositor: the layout of composed archives and broadcasts, the ffmpeg
//! driver that renders a composed MP4 from per-stream recordings, and the live
//! compositor of broadcasts.
//!
//! * [`layout`] — pure functions, no I/O: OpenTok's stream order, the predefined
//!   layouts, `screenshareType` switching and a CSS engine for `custom` stylesheets,
//!   giving each stream's rectangle and letterboxed picture.
//! * [`timeline`] — from stream and layout events to the [`compose::Segment`]s of a
//!   composition (each a stretch of time with one set of placements).
//! * [`ffmpeg`] — finding ffmpeg/ffprobe (a runtime tool, not linked) and what it
//!   supports.
//! * [`compose`] — one ffmpeg filter graph from a [`compose::Composition`], run as a
//!   child process with progress reports and cancellation.
//! * [`regions`] — Telnyx-style region layouts (named rectangles tiling their sources in
//!   a grid, stacked by z) as composition segments.
//! * [`live`] — the live compositor of broadcasts: sources decoded by ffmpeg, composed
//!   and mixed on a clock, encoded once (H.264 + AAC) to HLS and RTMP/RTMPS targets.

#![warn(missing_docs)]

pub mod compose;
pub mod ffmpeg;
pub mod layout;
pub mod live;
pub mod regions;
pub mod timeline;
