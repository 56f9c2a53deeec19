//! Per-track RTP reordering: puts packets back in sequence order, drops duplicates,
//! extends 16-bit sequence numbers to 64 bits, and gives up on a missing packet once the
//! window is full or it has waited long enough.
//!
//! The buffer is a ring of `capacity` (a power of two) slots indexed by the extended
//! sequence number; each slot keeps its payload buffer between uses, so a steady stream
//! allocates nothing. Packets come out through a callback as [`Reordered`] events, in
//! order, with a [`Reordered::Gap`] wherever a packet was given up on.

/// How long a track waits for a missing packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReorderConfig {
    /// A missing packet is given up on once this many later packets are buffered behind
    /// it (1–4096).
    pub max_packets: u16,
    /// …or once the earliest packet waiting behind it arrived this long ago (µs).
    pub max_delay_micros: u64,
}

impl ReorderConfig {
    /// Video: up to 100 packets or 200 ms (room for a NACK round trip on a short path).
    pub const VIDEO: ReorderConfig = ReorderConfig {
        max_packets: 100,
        max_delay_micros: 200_000,
    };
    /// Audio: a few packets (up to 5, or 60 ms); audio is not retransmitted.
    pub const AUDIO: ReorderConfig = ReorderConfig {
        max_packets: 5,
        max_delay_micros: 60_000,
    };
}

/// Counters kept by the reorder buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReorderStats {
    /// Packets handed in.
    pub packets: u64,
    /// Packets dropped because the same sequence number was already buffered or emitted.
    pub duplicates: u64,
    /// Packets that arrived after their sequence number had been given up on (or too far
    /// behind to tell).
    pub late: u64,
    /// Sequence numbers given up on (never emitted).
    pub lost: u64,
}

/// One output of the reorder buffer.
#[derive(Debug)]
pub(crate) enum Reordered<'a> {
    /// The next packet in sequence order.
    Packet {
        timestamp: u32,
        marker: bool,
        arrival: u64,
        payload: &'a [u8],
    },
    /// One or more packets just before the next one are missing for good.
    Gap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    Waiting,
    Emitted,
    Skipped,
}

#[derive(Debug)]
struct Slot {
    seq: u64,
    state: State,
    timestamp: u32,
    marker: bool,
    arrival: u64,
    payload: Vec<u8>,
}

/// Reorders one track's packets (see the [module docs](self)).
#[derive(Debug)]
pub(crate) struct Reorder {
    cfg: ReorderConfig,
    slots: Vec<Slot>,
    mask: u64,
    /// Next sequence number to emit.
    next: Option<u64>,
    /// Highest extended sequence number seen.
    highest: u64,
    /// Slots in the Waiting state.
    waiting: usize,
    /// Whether emission has begun. Until then (half the window, or half the delay after
    /// the first packet) a packet from before the first one still moves the start back,
    /// so a stream whose first packets arrive out of order does not lose them.
    started: bool,
    first_arrival: u64,
    stats: ReorderStats,
}

/// Extended numbers start here so that packets from before the first one (reordered)
/// still extend to positive numbers.
const EXT_BASE: u64 = 1 << 32;

impl Reorder {
    pub(crate) fn new(cfg: ReorderConfig) -> Self {
        let max = cfg.max_packets.clamp(1, 4096);
        let cfg = ReorderConfig {
            max_packets: max,
            ..cfg
        };
        let capacity = (usize::from(max) + 1).next_power_of_two();
        let slots = (0..capacity)
            .map(|_| Slot {
                seq: 0,
                state: State::Empty,
                timestamp: 0,
                marker: false,
                arrival: 0,
                payload: Vec::new(),
            })
            .collect();
        Reorder {
            cfg,
            slots,
            mask: capacity as u64 - 1,
            next: None,
            highest: 0,
            waiting: 0,
            started: false,
            first_arrival: 0,
            stats: ReorderStats::default(),
        }
    }

    pub(crate) fn stats(&self) -> ReorderStats {
        self.stats
    }

    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// Adds a packet, then emits every packet (and gap) that is ready at `arrival`.
    pub(crate) fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        arrival: u64,
        emit: &mut dyn FnMut(Reordered<'_>),
    ) {
        self.stats.packets += 1;
        let ext = match self.next {
            None => {
                let ext = EXT_BASE + u64::from(seq);
                self.next = Some(ext);
                self.highest = ext;
                self.first_arrival = arrival;
                ext
            }
            Some(_) => {
                let diff = i64::from(seq.wrapping_sub(self.highest as u16) as i16);
                self.highest.wrapping_add_signed(diff)
            }
        };
        let mut next = self.next.unwrap_or(ext);
        if ext < next && !self.started && self.highest - ext < self.capacity() - 1 {
            self.next = Some(ext);
            next = ext;
        }
        if ext < next {
            let behind = next - ext;
            let slot = &self.slots[(ext & self.mask) as usize];
            if behind <= self.capacity() && slot.seq == ext && slot.state == State::Emitted {
                self.stats.duplicates += 1;
            } else {
                self.stats.late += 1;
            }
            return;
        }
        if ext - next >= 4 * self.capacity() {
            // A jump far past the window (a sender restart, or a long outage): emit what
            // is buffered and continue from here.
            self.flush(emit);
            self.stats.lost += ext - self.next.unwrap_or(ext);
            if self.next != Some(ext) {
                emit(Reordered::Gap);
            }
            self.next = Some(ext);
        } else {
            // Make room: the window holds [next, next + capacity).
            while ext >= self.next.unwrap_or(ext) + self.capacity() {
                self.advance(emit);
            }
        }
        if ext > self.highest {
            self.highest = ext;
        }
        let slot = &mut self.slots[(ext & self.mask) as usize];
        if slot.seq == ext && slot.state == State::Waiting {
            self.stats.duplicates += 1;
            return;
        }
        slot.seq = ext;
        slot.state = State::Waiting;
        slot.timestamp = timestamp;
        slot.marker = marker;
        slot.arrival = arrival;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        self.waiting += 1;
        self.drain(arrival, emit);
    }

    /// Emits what is ready at time `now`: packets in order, and gaps whose wait is over.
    pub(crate) fn drain(&mut self, now: u64, emit: &mut dyn FnMut(Reordered<'_>)) {
        if self.next.is_none() {
            return;
        }
        if !self.started {
            let half_delay = self
                .first_arrival
                .saturating_add(self.cfg.max_delay_micros / 2);
            if self.waiting <= usize::from(self.cfg.max_packets / 2) && now < half_delay {
                return;
            }
            self.started = true;
        }
        while let Some(next) = self.next {
            let i = (next & self.mask) as usize;
            if self.slots[i].seq == next && self.slots[i].state == State::Waiting {
                self.advance(emit);
                continue;
            }
            if self.waiting == 0 {
                break;
            }
            let span = self.highest - next;
            let give_up = span >= u64::from(self.cfg.max_packets)
                || now
                    >= self
                        .oldest_waiting()
                        .saturating_add(self.cfg.max_delay_micros);
            if !give_up {
                break;
            }
            self.advance(emit);
        }
    }

    /// Emits everything buffered, giving up on every gap (end of the recording).
    pub(crate) fn flush(&mut self, emit: &mut dyn FnMut(Reordered<'_>)) {
        self.started = true;
        while self.waiting > 0 {
            self.advance(emit);
        }
    }

    /// Moves `next` on by one: emits its packet, or records it as lost.
    fn advance(&mut self, emit: &mut dyn FnMut(Reordered<'_>)) {
        let Some(next) = self.next else { return };
        self.next = Some(next + 1);
        let slot = &mut self.slots[(next & self.mask) as usize];
        if slot.seq == next && slot.state == State::Waiting {
            slot.state = State::Emitted;
            self.waiting -= 1;
            emit(Reordered::Packet {
                timestamp: slot.timestamp,
                marker: slot.marker,
                arrival: slot.arrival,
                payload: &slot.payload,
            });
        } else {
            slot.seq = next;
            slot.state = State::Skipped;
            self.stats.lost += 1;
            emit(Reordered::Gap);
        }
    }

    fn oldest_waiting(&self) -> u64 {
        let Some(next) = self.next else { return 0 };
        (next..=self.highest)
            .map(|s| &self.slots[(s & self.mask) as usize])
            .filter(|s| s.state == State::Waiting)
            .map(|s| s.arrival)
            .min()
            .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, PartialEq, Eq, Clone)]
    enum Out {
        P(u32),
        Gap,
    }

    fn run(r: &mut Reorder, seqs: &[(u16, u64)]) -> Vec<Out> {
        let mut out = Vec::new();
        for &(seq, at) in seqs {
            // The payload and timestamp carry the sequence number, to check identity.
            r.push(
                seq,
                u32::from(seq),
                false,
                &seq.to_be_bytes(),
                at,
                &mut |e| {
                    out.push(match e {
                        Reordered::Packet {
                            timestamp, payload, ..
                        } => {
                            assert_eq!(payload, &(timestamp as u16).to_be_bytes());
                            Out::P(timestamp)
                        }
                        Reordered::Gap => Out::Gap,
                    })
                },
            );
        }
        out
    }

    fn cfg(max_packets: u16, ms: u64) -> ReorderConfig {
        ReorderConfig {
            max_packets,
            max_delay_micros: ms * 1000,
        }
    }

    #[test]
    fn reorders_and_drops_duplicates() {
        let mut r = Reorder::new(cfg(10, 100));
        // Nothing comes out before half the delay (or half the window) has passed.
        assert!(run(&mut r, &[(1, 0)]).is_empty());
        let out = run(
            &mut r,
            &[
                (3, 60_000),
                (2, 61_000),
                (2, 62_000),
                (5, 63_000),
                (4, 64_000),
                (3, 65_000),
            ],
        );
        assert_eq!(out, [1, 2, 3, 4, 5].map(Out::P));
        assert_eq!(r.stats().duplicates, 2);
        assert_eq!(r.stats().lost, 0);
    }

    #[test]
    fn first_packets_out_of_order_are_kept() {
        let mut r = Reorder::new(cfg(10, 100));
        let out = run(&mut r, &[(5, 0), (3, 1), (4, 2), (6, 60_000)]);
        assert_eq!(out, [3, 4, 5, 6].map(Out::P));
        assert_eq!(r.stats().late + r.stats().lost, 0);
    }

    #[test]
    fn sequence_wraparound() {
        let mut r = Reorder::new(cfg(2, 1000));
        let out = run(&mut r, &[(65534, 0), (0, 1), (65535, 2), (1, 3)]);
        assert_eq!(out, [65534, 65535, 0, 1].map(Out::P));
        // A packet from before the first one is late, not a huge jump.
        assert!(run(&mut r, &[(65533, 4)]).is_empty());
        assert_eq!(r.stats().late, 1);
    }

    #[test]
    fn gives_up_by_count_and_by_time() {
        let mut r = Reorder::new(cfg(3, 100));
        // 2 is lost: after 3 packets behind it, it is given up on.
        let out = run(&mut r, &[(1, 0), (3, 1), (4, 2)]);
        assert_eq!(out, [Out::P(1)]);
        let out = run(&mut r, &[(5, 3)]);
        assert_eq!(out, [Out::Gap, Out::P(3), Out::P(4), Out::P(5)]);
        // The late arrival of 2 is counted as late.
        assert!(run(&mut r, &[(2, 4)]).is_empty());
        assert_eq!(r.stats().late, 1);
        // 6 is lost; 7 waits until 100 ms after it arrived.
        assert!(run(&mut r, &[(7, 10_000)]).is_empty());
        let mut out = Vec::new();
        r.drain(109_999, &mut |_| out.push(()));
        assert!(out.is_empty());
        r.drain(110_000, &mut |_| out.push(()));
        assert_eq!(out.len(), 2);
        assert_eq!(r.stats().lost, 2);
    }

    #[test]
    fn window_overflow_and_jumps() {
        let mut r = Reorder::new(cfg(100, 10_000_000));
        // Capacity 128: a packet 200 ahead pushes the window along.
        let out = run(&mut r, &[(10, 0), (12, 0), (211, 0)]);
        assert_eq!(out[0], Out::P(10));
        assert!(out.contains(&Out::P(12)));
        // A jump of 30000 (a restart) flushes and continues from there.
        let out = run(&mut r, &[(30_211, 1), (30_212, 2)]);
        assert_eq!(out.last(), Some(&Out::P(30_212)));
        assert!(out.contains(&Out::P(30_211)));
        let mut rest = Vec::new();
        r.flush(&mut |_| rest.push(()));
        assert!(rest.is_empty());
    }

    proptest! {
        /// Whatever the order, duplication and loss, packets come out in strictly
        /// increasing extended order, each at most once, and all of them when nothing
        /// is lost and the shuffle stays within the window.
        #[test]
        fn output_is_ordered_and_complete(
            start in any::<u16>(),
            n in 1usize..400,
            swaps in prop::collection::vec((0usize..400, 0usize..8), 0..200),
            dups in prop::collection::vec(0usize..400, 0..50),
            drops in prop::collection::vec(0usize..400, 0..20),
        ) {
            let mut order: Vec<u16> = (0..n).map(|i| start.wrapping_add(i as u16)).collect();
            for (i, d) in swaps {
                let i = i % n;
                let j = (i + d).min(n - 1);
                order.swap(i, j);
            }
            for d in dups {
                let v = order[d % n];
                order.insert((d % n + 3).min(order.len()), v);
            }
            let dropped: std::collections::HashSet<u16> =
                drops.iter().map(|d| start.wrapping_add((d % n) as u16)).collect();
            // Never drop the first packet sent; it fixes the start.
            let first = order[0];
            order.retain(|s| *s == first || !dropped.contains(s));
            let mut r = Reorder::new(cfg(100, 200));
            let feed: Vec<(u16, u64)> = order.iter().map(|&s| (s, 0)).collect();
            let mut out = run(&mut r, &feed);
            r.flush(&mut |e| if let Reordered::Packet { timestamp, .. } = e { out.push(Out::P(timestamp)) });
            let got: Vec<u16> = out.iter().filter_map(|o| match o { Out::P(t) => Some(*t as u16), Out::Gap => None }).collect();
            let mut seen = std::collections::HashSet::new();
            for w in got.windows(2) {
                let d = w[1].wrapping_sub(w[0]);
                prop_assert!((1..0x8000).contains(&d), "{:?}", w);
            }
            for g in &got { prop_assert!(seen.insert(*g)); }
            if dropped.is_empty() && got.first() == Some(&start) {
                prop_assert_eq!(got.len(), n);
            }
        }
    }
}
