//! Per-consumer rewriting of a producer's RTP: the sequence numbers each subscriber sees.
//!
//! A consumer starts (and restarts, after a pause) on a packet of the producer's choosing
//! — for video, the first packet of a keyframe — and numbers its output from there. Output
//! numbers start below 65,536 so the SRTP rollover counter both ends derive starts at zero
//! (str0m uses the extended sequence number as the SRTP index), however long the producer
//! has been sending; a restart continues from the last number sent, so the subscriber sees
//! no gap. Packets older than the start point are not forwarded.

/// Maps a producer's extended sequence numbers to one consumer's.
#[derive(Debug, Clone, Default)]
pub struct SeqRewriter {
    /// `(first input forwarded, its output number)` since the last (re)start.
    base: Option<(u64, u64)>,
    /// The highest output number sent.
    last_out: Option<u64>,
}

impl SeqRewriter {
    /// Whether forwarding has started.
    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// Starts (or restarts) forwarding at producer packet `input`; `first_out` is used if
    /// nothing was sent before.
    pub fn start(&mut self, input: u64, first_out: u64) {
        let out = self.last_out.map_or(first_out, |last| last + 1);
        self.base = Some((input, out));
    }

    /// Stops forwarding until the next [`SeqRewriter::start`].
    pub fn pause(&mut self) {
        self.base = None;
    }

    /// The highest output number sent, if any.
    pub fn last_out(&self) -> Option<u64> {
        self.last_out
    }

    /// The producer packet that output number `out` carried, if it was numbered since the
    /// last (re)start.
    pub fn input_for(&self, out: u64) -> Option<u64> {
        let (base_in, base_out) = self.base?;
        Some(out.checked_sub(base_out)? + base_in)
    }

    /// The output number for producer packet `input`, or `None` if it precedes the start
    /// (or forwarding is paused).
    pub fn map(&mut self, input: u64) -> Option<u64> {
        let (base_in, base_out) = self.base?;
        let out = input.checked_sub(base_in)? + base_out;
        if self.last_out.is_none_or(|last| out > last) {
            self.last_out = Some(out);
        }
        Some(out)
    }
}

/// The extended sequence number nearest `last` whose low 16 bits are `seq`.
pub fn extend_seq(last: u64, seq: u16) -> u64 {
    let candidate = (last & !0xffff) | u64::from(seq);
    if candidate > last + 0x8000 && candidate >= 0x10000 {
        candidate - 0x10000
    } else if candidate + 0x8000 < last {
        candidate + 0x10000
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nacked_number_extends_to_the_nearest_sent() {
        assert_eq!(extend_seq(100, 98), 98);
        assert_eq!(extend_seq(0x1_0005, 0xfffe), 0xfffe, "just before a wrap");
        assert_eq!(extend_seq(0xfffe, 3), 0x1_0003, "just after a wrap");
        assert_eq!(extend_seq(5, 0xfff0), 0xfff0, "no number below zero");
    }

    #[test]
    fn starts_low_and_stays_contiguous_across_producer_wrap() {
        let mut r = SeqRewriter::default();
        assert_eq!(r.map(70_000), None, "not started");
        r.start(70_000, 100);
        assert_eq!(r.map(69_999), None, "before the start point");
        assert_eq!(r.map(70_000), Some(100));
        assert_eq!(r.map(70_002), Some(102), "gaps are kept for NACK");
        assert_eq!(r.map(70_001), Some(101), "reordering is kept");
        assert_eq!(r.last_out(), Some(102));
        assert_eq!(r.input_for(101), Some(70_001), "a NACKed number maps back");
        assert_eq!(r.input_for(99), None, "before the start point");
    }

    #[test]
    fn restart_continues_without_a_gap() {
        let mut r = SeqRewriter::default();
        r.start(10, 500);
        assert_eq!(r.map(12), Some(502));
        r.pause();
        assert_eq!(r.map(13), None);
        r.start(400, 1);
        assert_eq!(r.map(400), Some(503));
        assert_eq!(r.map(401), Some(504));
    }
}
