//! Simulcast: a producer's video in up to [`MAX_LAYERS`] spatial layers, each its own RTP
//! stream (told apart by its RTP stream id, `rid`, in the order the publisher's
//! `a=simulcast` line lists them: lowest first), and one layer forwarded per consumer.
//!
//! A consumer switches layers only on a keyframe of the layer it switches to, and its
//! output stays one stream: sequence numbers continue ([`crate::forward::SeqRewriter`]),
//! timestamps continue ([`TimestampRewriter`]) and, for VP8, picture IDs and TL0PICIDX
//! continue ([`Vp8Rewriter`]), so the subscriber's decoder sees one seamless stream.
//! Which layer a consumer gets is [`choose_layer`]; which layers the publisher still needs
//! to send (LiveKit calls it dynacast) is [`needed_layers`].
//!
//! Everything here is sans-IO: plain values in, plain values out.

use std::time::{Duration, Instant};

/// Spatial layers a producer may send.
pub const MAX_LAYERS: usize = 3;

/// A layer with no packet for this long counts as stopped (the publisher paused it, or its
/// encoder dropped it for CPU or bandwidth).
pub const LAYER_IDLE: Duration = Duration::from_millis(1500);

/// The layer a consumer should receive: the highest layer sending (`available`, a bit per
/// layer) at or below `cap`; if none is, the lowest one sending. `None` when nothing is
/// sending.
pub fn choose_layer(available: u8, cap: u8) -> Option<u8> {
    if available == 0 {
        return None;
    }
    let at_or_below = available & ((2u16 << cap.min(7)) - 1) as u8;
    if at_or_below != 0 {
        Some(7 - at_or_below.leading_zeros() as u8)
    } else {
        Some(available.trailing_zeros() as u8)
    }
}

/// The layers a producer's publisher should send (a bit per layer, lowest first): every
/// layer up to the highest any consumer may take (`caps`, one per consumer that wants
/// video), and the top layer when something records it. The lower layers stay on: they are
/// what a consumer falls back to at once, and cost little.
pub fn needed_layers(count: u8, caps: impl IntoIterator<Item = u8>, recorded: bool) -> u8 {
    if count == 0 {
        return 0;
    }
    let top = count.min(MAX_LAYERS as u8) - 1;
    let mut highest = caps.into_iter().map(|c| c.min(top)).max();
    if recorded {
        highest = Some(top);
    }
    match highest {
        Some(h) => ((1u16 << (h + 1)) - 1) as u8,
        None => 0,
    }
}

/// Keeps a consumer's RTP timestamps continuous across layer switches: each layer's stream
/// has its own random timestamp base, so the first packet after a switch is placed after
/// the last one sent by the wall-clock time between them.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimestampRewriter {
    offset: u32,
    /// The last output timestamp and when its packet arrived.
    last: Option<(u32, Instant)>,
}

impl TimestampRewriter {
    /// Re-bases on the first packet of a new layer (`input`, arrived `at`), for a clock of
    /// `clock_rate` Hz.
    pub fn rebase(&mut self, input: u32, at: Instant, clock_rate: u32) {
        let Some((last, last_at)) = self.last else {
            self.offset = 0;
            return;
        };
        let elapsed = at.saturating_duration_since(last_at);
        let ticks = (elapsed.as_micros() as u64 * u64::from(clock_rate) / 1_000_000) as u32;
        let out = last.wrapping_add(ticks.max(1));
        self.offset = out.wrapping_sub(input);
    }

    /// The output timestamp of a packet sent before (a retransmission).
    pub fn peek(&self, input: u32) -> u32 {
        input.wrapping_add(self.offset)
    }

    /// The output timestamp of a packet of the current layer.
    pub fn map(&mut self, input: u32, at: Instant) -> u32 {
        let out = input.wrapping_add(self.offset);
        // The newest timestamp (a retransmitted or reordered packet does not move it back).
        if self
            .last
            .is_none_or(|(last, _)| out.wrapping_sub(last) < 0x8000_0000)
        {
            self.last = Some((out, at));
        }
        out
    }
}

/// Where a VP8 payload descriptor (RFC 7741 §4.2) keeps the fields a layer switch must
/// keep continuous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Fields {
    /// The picture ID's offset in the payload and whether it is the 15-bit form.
    pub picture_id: Option<(usize, bool)>,
    /// The TL0PICIDX byte's offset.
    pub tl0_pic_idx: Option<usize>,
}

impl Vp8Fields {
    /// Finds the fields in a VP8 payload; `None` if the descriptor is truncated.
    pub fn parse(payload: &[u8]) -> Option<Vp8Fields> {
        let first = *payload.first()?;
        let mut fields = Vp8Fields {
            picture_id: None,
            tl0_pic_idx: None,
        };
        if first & 0x80 == 0 {
            return Some(fields); // no extension byte: nothing to rewrite
        }
        let ext = *payload.get(1)?;
        let mut at = 2;
        if ext & 0x80 != 0 {
            let long = *payload.get(at)? & 0x80 != 0;
            if long {
                payload.get(at + 1)?;
            }
            fields.picture_id = Some((at, long));
            at += if long { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            payload.get(at)?;
            fields.tl0_pic_idx = Some(at);
        }
        Some(fields)
    }

    fn picture_id(&self, payload: &[u8]) -> Option<u16> {
        let (at, long) = self.picture_id?;
        Some(if long {
            u16::from_be_bytes([payload[at] & 0x7f, payload[at + 1]])
        } else {
            u16::from(payload[at] & 0x7f)
        })
    }
}

/// Keeps a consumer's VP8 picture IDs and TL0PICIDX continuous across layer switches
/// (each layer's encoder counts its own), so the receiver's frame references stay valid.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vp8Rewriter {
    picture_id_offset: u16,
    tl0_offset: u8,
    last_picture_id: Option<u16>,
    last_tl0: Option<u8>,
}

impl Vp8Rewriter {
    /// Re-bases on the first packet of a new layer: its picture follows the last one sent.
    pub fn rebase(&mut self, payload: &[u8]) {
        let Some(fields) = Vp8Fields::parse(payload) else {
            return;
        };
        if let (Some(input), Some(last)) = (fields.picture_id(payload), self.last_picture_id) {
            self.picture_id_offset = last.wrapping_add(1).wrapping_sub(input);
        }
        if let (Some(at), Some(last)) = (fields.tl0_pic_idx, self.last_tl0) {
            self.tl0_offset = last.wrapping_add(1).wrapping_sub(payload[at]);
        }
    }

    /// Rewrites a payload of the current layer in place.
    pub fn rewrite(&mut self, payload: &mut [u8]) {
        let (picture_id, tl0) = self.apply(payload);
        self.last_picture_id = picture_id.or(self.last_picture_id);
        self.last_tl0 = tl0.or(self.last_tl0);
    }

    /// Rewrites a payload sent before (a retransmission) in place: the same mapping,
    /// without moving the last values on.
    pub fn apply(&self, payload: &mut [u8]) -> (Option<u16>, Option<u8>) {
        let Some(fields) = Vp8Fields::parse(payload) else {
            return (None, None);
        };
        let mut picture_id = None;
        if let Some((at, long)) = fields.picture_id
            && let Some(input) = fields.picture_id(payload)
        {
            let mask = if long { 0x7fff } else { 0x7f };
            let out = input.wrapping_add(self.picture_id_offset) & mask;
            if long {
                payload[at] = 0x80 | (out >> 8) as u8;
                payload[at + 1] = out as u8;
            } else {
                payload[at] = out as u8;
            }
            picture_id = Some(out);
        }
        let mut tl0 = None;
        if let Some(at) = fields.tl0_pic_idx {
            payload[at] = payload[at].wrapping_add(self.tl0_offset);
            tl0 = Some(payload[at]);
        }
        (picture_id, tl0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_sending_layer_at_or_below_the_cap() {
        assert_eq!(choose_layer(0b111, 2), Some(2));
        assert_eq!(choose_layer(0b111, 1), Some(1));
        assert_eq!(choose_layer(0b111, 0), Some(0));
        assert_eq!(choose_layer(0b011, 2), Some(1), "the top layer stopped");
        assert_eq!(choose_layer(0b101, 1), Some(0), "the middle one stopped");
        assert_eq!(
            choose_layer(0b100, 1),
            Some(2),
            "nothing at or below: the lowest"
        );
        assert_eq!(choose_layer(0, 2), None);
        assert_eq!(choose_layer(0b001, 200), Some(0), "a large cap is no cap");
    }

    #[test]
    fn the_publisher_sends_up_to_the_highest_layer_wanted() {
        assert_eq!(needed_layers(3, [0, 0], false), 0b001);
        assert_eq!(needed_layers(3, [0, 2, 1], false), 0b111);
        assert_eq!(needed_layers(3, [1], false), 0b011);
        assert_eq!(needed_layers(3, [], false), 0, "nobody watches");
        assert_eq!(
            needed_layers(3, [], true),
            0b111,
            "a recording takes the top"
        );
        assert_eq!(needed_layers(2, [7], false), 0b011, "caps above the top");
        assert_eq!(needed_layers(0, [1], true), 0);
    }

    #[test]
    fn timestamps_continue_across_a_switch() {
        let t0 = Instant::now();
        let mut ts = TimestampRewriter::default();
        ts.rebase(1_000, t0, 90_000);
        assert_eq!(
            ts.map(1_000, t0),
            1_000,
            "the first layer keeps its timestamps"
        );
        assert_eq!(ts.map(4_000, t0 + Duration::from_millis(33)), 4_000);
        // 100 ms later, a keyframe of a layer whose clock started elsewhere.
        let at = t0 + Duration::from_millis(133);
        ts.rebase(4_000_000_000, at, 90_000);
        assert_eq!(ts.map(4_000_000_000, at), 4_000 + 9_000);
        assert_eq!(
            ts.map(4_000_003_000, at + Duration::from_millis(33)),
            13_000 + 3_000
        );
        // Its clock wraps; the output does not notice.
        ts.rebase(u32::MAX - 10, at + Duration::from_millis(66), 90_000);
        let out = ts.map(u32::MAX - 10, at + Duration::from_millis(66));
        assert_eq!(
            ts.map(20, at + Duration::from_millis(99)),
            out.wrapping_add(31)
        );
    }

    #[test]
    fn a_switch_in_the_same_instant_still_moves_time_forward() {
        let t0 = Instant::now();
        let mut ts = TimestampRewriter::default();
        ts.map(500, t0);
        ts.rebase(77, t0, 90_000);
        assert_eq!(ts.map(77, t0), 501);
    }

    /// A VP8 payload descriptor with a 15-bit picture ID and TL0PICIDX, then two bytes.
    fn vp8(picture_id: u16, tl0: u8) -> Vec<u8> {
        vec![
            0x90,
            0xc0,
            0x80 | (picture_id >> 8) as u8,
            picture_id as u8,
            tl0,
            0xaa,
            0xbb,
        ]
    }

    fn read(payload: &[u8]) -> (u16, u8) {
        let f = Vp8Fields::parse(payload).unwrap();
        (
            f.picture_id(payload).unwrap(),
            payload[f.tl0_pic_idx.unwrap()],
        )
    }

    #[test]
    fn picture_ids_and_tl0_continue_across_a_switch() {
        let mut r = Vp8Rewriter::default();
        let mut p = vp8(100, 7);
        r.rebase(&p);
        r.rewrite(&mut p);
        assert_eq!(read(&p), (100, 7), "the first layer is left as it is");
        let mut p = vp8(101, 7);
        r.rewrite(&mut p);
        // Another layer's counters.
        let mut p = vp8(0x7ffe, 250);
        r.rebase(&p);
        r.rewrite(&mut p);
        assert_eq!(read(&p), (102, 8));
        assert_eq!(
            &p[5..],
            &[0xaa, 0xbb],
            "the payload after the descriptor is untouched"
        );
        let mut p = vp8(0x7fff, 251);
        r.rewrite(&mut p);
        assert_eq!(read(&p), (103, 9));
        let mut p = vp8(0, 252);
        r.rewrite(&mut p);
        assert_eq!(read(&p), (104, 10), "the input's wrap is carried through");
    }

    #[test]
    fn descriptors_without_the_fields_or_cut_short_are_left_alone() {
        let mut r = Vp8Rewriter::default();
        let mut plain = vec![0x10, 0x9d, 0x01, 0x2a];
        r.rebase(&plain);
        r.rewrite(&mut plain);
        assert_eq!(plain, [0x10, 0x9d, 0x01, 0x2a]);
        assert_eq!(Vp8Fields::parse(&[0x90]), None);
        assert_eq!(Vp8Fields::parse(&[0x90, 0x80, 0x80]), None);
        assert_eq!(Vp8Fields::parse(&[]), None);
        // A 7-bit picture ID stays 7 bits.
        let mut short = vec![0x90, 0x80, 0x05, 0x00];
        let mut r = Vp8Rewriter {
            picture_id_offset: 0x7e,
            ..Default::default()
        };
        r.rewrite(&mut short);
        assert_eq!(short[2], 0x03);
    }
}
