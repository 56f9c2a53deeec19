//! Media containers and RTP payload formats for Parlor.
//!
//! Everything here works on byte slices or on [`std::io::Read`] / [`std::io::Write`],
//! with no I/O of its own, and reuses buffers where a caller streams many frames:
//!
//! * [`ivf`] — the IVF container libvpx and ffmpeg use for raw VP8 frames:
//!   [`ivf::IvfReader`], [`ivf::IvfWriter`].
//! * [`ogg_opus`] — Opus in Ogg (RFC 7845): [`ogg_opus::OggOpusReader`],
//!   [`ogg_opus::OggOpusWriter`], and Opus TOC parsing
//!   ([`ogg_opus::opus_packet_duration_48k`]).
//! * [`vp8`] — VP8 key frame detection and the VP8 RTP payload format (RFC 7741):
//!   [`vp8::Vp8Packetizer`], [`vp8::Vp8Depacketizer`],
//!   [`vp8::payload_starts_keyframe`].
//! * [`h264`] — H.264 Annex B streams split into access units, and the H.264 RTP payload
//!   format (RFC 6184, packetization mode 1): [`h264::packetize`].
//! * `fixtures` (cargo feature `fixtures`) — known test media generated with ffmpeg,
//!   for tests in other crates.
//!
//! Readers validate what they parse and cap sizes taken from the input (16 MiB per IVF
//! frame, 1 MiB per Opus packet), so malformed or hostile files produce errors, never
//! panics or huge allocations.

#![warn(missing_docs)]

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod h264;
pub mod ivf;
pub mod ogg_opus;
pub mod vp8;

#[cfg(test)]
mod ffmpeg_tests;
