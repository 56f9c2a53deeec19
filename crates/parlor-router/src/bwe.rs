//! Downlink bandwidth estimation: how much a consumer's network carries, from the
//! transport-wide congestion control feedback its client sends
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01), and what the router does with it.
//!
//! The router numbers every packet it sends a consumer on the direct path ([`SentLog`]);
//! the client reports which numbers arrived and when. From those reports the
//! [`Estimator`] tells congestion — packets lost, or a queue that does not drain — and
//! measures what the link delivered meanwhile:
//! - **Congested** (more than [`LOSS_CONGESTED`] of the last half second's packets lost,
//!   or the smallest one-way delay of the last second [`QUEUE_CONGESTED`] above the
//!   smallest of the last half minute): the estimate drops to [`BACKOFF`] of the rate the
//!   link delivered in that half second, at most once per [`DECREASE_HOLD`] (the queue
//!   drains meanwhile). A queue that builds and drains — a keyframe's burst — is not
//!   congestion.
//! - **Calm** for a second: the estimate follows the rate delivered up, never down.
//! - **Probing**: a consumer held below the layer it wants is proven room for it before it
//!   gets it. The router pads its flow to [`PROBE_HEADROOM`] times the next layer's rate
//!   for [`PROBE_DURATION`] ([`Estimator::start_probe`]); if the link delivers at least
//!   that layer's rate without loss or a standing queue, the estimate rises to it. A failed probe waits longer before the next (2 s doubling to
//!   16 s), so a narrow link is not flooded.
//!
//! [`fit_layer`] turns an estimate into the highest simulcast layer that fits, and
//! [`Fallback`] into OpenTok's audio-only fallback when not even the lowest does.
//!
//! Sans-IO, like the rest of the router's decisions: times and sizes in, decisions out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use str0m::rtp::rtcp::Twcc;

use crate::VideoQualityState;

/// What a forwarded packet adds to its payload on the wire: the RTP header with its
/// extensions (~24 bytes) and the SRTP tag (16).
pub const PACKET_OVERHEAD: usize = 40;

/// Sent packets remembered for feedback: 1.7 s at 300 packets a second (a 2.5 Mbps layer
/// with its audio). Feedback comes every 50–100 ms; a report on a packet older than that
/// is ignored. 16 bytes a packet: 8 KiB per consumer.
pub const SENT_LOG: usize = 512;
/// Loss above this share of the last half second's packets is congestion.
pub const LOSS_CONGESTED: f32 = 0.1;
/// A queue this deep that did not drain in a second is congestion.
pub const QUEUE_CONGESTED: Duration = Duration::from_millis(50);
/// On congestion the estimate drops to this share of the rate the link delivered.
pub const BACKOFF: f64 = 0.85;
/// After a decrease, the next waits this long (the queue drains meanwhile).
pub const DECREASE_HOLD: Duration = Duration::from_secs(1);
/// Calm this long before a probe.
pub const PROBE_CALM: Duration = Duration::from_secs(2);
/// How long a probe pads the flow.
pub const PROBE_DURATION: Duration = Duration::from_millis(600);
/// A probe aims this much above the rate it proves.
pub const PROBE_HEADROOM: f64 = 1.1;
const PROBE_BACKOFF_MIN: Duration = Duration::from_secs(2);
const PROBE_BACKOFF_MAX: Duration = Duration::from_secs(16);
/// The window loss and the delivered rate are judged over.
const WINDOW: Duration = Duration::from_millis(500);
/// The window a standing queue is judged over: long enough for a keyframe's burst to drain
/// at the rates that carry it.
const QUEUE_WINDOW: Duration = Duration::from_secs(1);
/// How long the link must stay calm before the rate it delivers raises the estimate, and
/// how long after a probe its own congestion is forgiven.
const SETTLE: Duration = Duration::from_secs(1);
/// The window the base (queue-free) one-way delay is the minimum of.
const BASE_WINDOW: Duration = Duration::from_secs(30);
/// Feedback reports kept for the windows (bounded however often a client reports).
const MAX_BATCHES: usize = 64;
/// How long the lowest layer must fit no more before video is turned off.
pub const DISABLE_AFTER: Duration = Duration::from_secs(4);

/// One sent packet, as remembered for its feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Its extended transport-wide sequence number.
    pub seq: u64,
    pub at: Instant,
    /// Bytes on the wire (the UDP payload).
    pub size: u16,
}

/// A [`SentLog`] entry, packed.
#[derive(Clone, Copy, Default)]
struct Slot {
    /// The low 32 bits of the sequence number (0: empty; numbers start at [`FIRST_SEQ`]).
    seq: u32,
    size: u16,
    /// Microseconds after the log's origin.
    at_us: u64,
}

/// The first transport-wide sequence number (wire value 0). Not 0 or 1: a report about
/// numbers "before" the first must extend to numbers below it, not wrap around to 2^64
/// (str0m's report iterator would overflow).
const FIRST_SEQ: u64 = 1 << 16;

/// The packets sent on a transport, by transport-wide sequence number: a ring, written per
/// packet without allocating.
pub struct SentLog {
    slots: Box<[Slot]>,
    zero: Instant,
    next: u64,
}

impl SentLog {
    /// An empty log; `zero` is a time no packet is sent before.
    pub fn new(zero: Instant) -> Self {
        SentLog {
            slots: vec![Slot::default(); SENT_LOG].into_boxed_slice(),
            zero,
            next: FIRST_SEQ,
        }
    }

    /// The sequence number the next packet carries (its low 16 bits go on the wire).
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The last number given out, if any.
    pub fn last_seq(&self) -> Option<u64> {
        (self.next > FIRST_SEQ).then(|| self.next - 1)
    }

    /// Records the packet numbered [`SentLog::next_seq`] as sent.
    pub fn commit(&mut self, at: Instant, size: usize) {
        let seq = self.next;
        self.slots[seq as usize % SENT_LOG] = Slot {
            seq: seq as u32,
            size: size.min(usize::from(u16::MAX)) as u16,
            at_us: at.saturating_duration_since(self.zero).as_micros() as u64,
        };
        self.next += 1;
    }

    /// The packet numbered `seq`, while remembered.
    pub fn get(&self, seq: u64) -> Option<Sent> {
        let slot = self.slots[seq as usize % SENT_LOG];
        (slot.seq != 0 && slot.seq == seq as u32 && seq < self.next).then(|| Sent {
            seq,
            at: self.zero + Duration::from_micros(slot.at_us),
            size: slot.size,
        })
    }

    /// Bytes sent since `since` (walking back from the newest; not for the per-packet path).
    pub fn bytes_since(&self, since: Instant) -> u64 {
        let mut total = 0;
        let mut seq = self.next;
        while seq > FIRST_SEQ && self.next - seq < SENT_LOG as u64 {
            seq -= 1;
            match self.get(seq) {
                Some(s) if s.at >= since => total += u64::from(s.size),
                _ => break,
            }
        }
        total
    }
}

/// What a feedback report says of one sent packet.
#[derive(Debug, Clone, Copy)]
pub struct PacketResult {
    pub sent: Sent,
    /// When it arrived, on the client's clock (offset unknown); `None`: lost.
    pub received: Option<Instant>,
}

/// What a window of feedback says ([`Estimator::signals`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signals {
    /// The share of packets lost (`None` under ten packets).
    pub loss: Option<f32>,
    /// The standing queue: the least one-way delay over the smallest of the last
    /// [`BASE_WINDOW`] (`None` before a window's worth).
    pub queue: Option<Duration>,
    /// The rate the link delivered, in bits per second (`None` if the packets arrived over
    /// less than half a window).
    pub delivered: Option<u64>,
}

impl Signals {
    /// Heavy loss, or a queue that did not drain once.
    pub fn congested(&self) -> bool {
        self.loss.is_some_and(|l| l > LOSS_CONGESTED)
            || self.queue.is_some_and(|q| q > QUEUE_CONGESTED)
    }
}

/// A change of the estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Congestion: the estimate dropped to this (bits per second).
    Down(u64),
    /// The link proved to carry this much (calm, or a probe that passed).
    Up(u64),
}

/// Packets that arrived, summed: what a delivered rate is worked out from.
#[derive(Debug, Clone, Copy, Default)]
struct Arrivals {
    received: u32,
    bytes: u64,
    /// The first arrival (client clock) and its packet's size, and the last arrival.
    first: Option<(Instant, u16)>,
    last: Option<Instant>,
}

impl Arrivals {
    fn add(&mut self, at: Instant, size: u16) {
        self.received += 1;
        self.bytes += u64::from(size);
        if self.first.is_none_or(|(f, _)| at < f) {
            self.first = Some((at, size));
        }
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
    }

    fn merge(&mut self, other: &Arrivals) {
        self.received += other.received;
        self.bytes += other.bytes;
        if let Some((at, size)) = other.first
            && self.first.is_none_or(|(f, _)| at < f)
        {
            self.first = Some((at, size));
        }
        if let Some(l) = other.last {
            self.last = Some(self.last.map_or(l, |x| x.max(l)));
        }
    }

    /// Bits per second: the bytes that arrived after the first packet, over the time since
    /// it arrived; `None` over less than `min_span` (or none at all).
    fn rate(&self, min_span: Duration) -> Option<u64> {
        let ((first, first_size), last) = (self.first?, self.last?);
        let span = last.saturating_duration_since(first);
        let bytes = self.bytes - u64::from(first_size);
        (span >= min_span && !span.is_zero())
            .then(|| (bytes as f64 * 8.0 / span.as_secs_f64()) as u64)
    }
}

/// A probe in flight or being judged.
#[derive(Debug, Clone, Copy)]
struct Probe {
    start: Instant,
    end: Instant,
    /// The total rate it aims at (bits per second).
    target: u64,
    /// Its packets that arrived, and those lost.
    arrived: Arrivals,
    lost: u32,
    /// The deepest queue a probe packet saw.
    max_queue: Duration,
    /// Feedback reached a packet sent after its end.
    covered: bool,
}

/// What one feedback report said, summed.
#[derive(Debug, Clone, Copy, Default)]
struct Batch {
    /// When it was taken (`None` while it is being summed).
    at: Option<Instant>,
    /// Its packets that arrived, and those lost.
    arrived: Arrivals,
    lost: u32,
    /// Its smallest one-way delay (µs, offset unknown).
    min_owd: Option<i64>,
}

/// The downlink estimate of one consumer transport.
pub struct Estimator {
    /// The report being read.
    current: Batch,
    /// The reports of the last [`QUEUE_WINDOW`], oldest first.
    batches: VecDeque<Batch>,
    /// Per-second minima of the one-way delay, the last [`BASE_WINDOW`], and their minimum.
    base: VecDeque<(Instant, i64)>,
    base_min: Option<i64>,
    /// Bits per second; `None` until the first congestion (nothing limits the consumer).
    estimate: Option<u64>,
    last_decrease: Option<Instant>,
    /// Since when there is no congestion (`None`: congested now).
    calm_since: Option<Instant>,
    probe: Option<Probe>,
    next_probe: Option<Instant>,
    probe_backoff: Duration,
}

impl Default for Estimator {
    fn default() -> Self {
        Estimator {
            current: Batch::default(),
            batches: VecDeque::new(),
            base: VecDeque::new(),
            base_min: None,
            estimate: None,
            last_decrease: None,
            calm_since: None,
            probe: None,
            next_probe: None,
            probe_backoff: PROBE_BACKOFF_MIN,
        }
    }
}

/// `a - b` in microseconds, either sign.
fn signed_micros(a: Instant, b: Instant) -> i64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_micros() as i64,
        None => -(b.duration_since(a).as_micros() as i64),
    }
}

impl Estimator {
    /// The estimate in bits per second; `None` while nothing has limited the consumer.
    pub fn estimate(&self) -> Option<u64> {
        self.estimate
    }

    /// Takes one packet's result from a feedback report received at `now`.
    pub fn on_result(&mut self, r: PacketResult, now: Instant) {
        let b = &mut self.current;
        let queue = if let Some(recv) = r.received {
            b.arrived.add(recv, r.sent.size);
            let owd = signed_micros(recv, r.sent.at);
            b.min_owd = Some(b.min_owd.map_or(owd, |m| m.min(owd)));
            match self.base.back_mut() {
                Some((t, min)) if now.saturating_duration_since(*t) < Duration::from_secs(1) => {
                    *min = (*min).min(owd)
                }
                _ => self.base.push_back((now, owd)),
            }
            let base = self.base_min.map_or(owd, |m| m.min(owd));
            self.base_min = Some(base);
            Some(Duration::from_micros((owd - base).max(0) as u64))
        } else {
            b.lost += 1;
            None
        };
        if let Some(p) = &mut self.probe
            && r.sent.at >= p.start
        {
            if r.sent.at >= p.end {
                p.covered = true;
            } else if let (Some(recv), Some(queue)) = (r.received, queue) {
                p.arrived.add(recv, r.sent.size);
                p.max_queue = p.max_queue.max(queue);
            } else {
                p.lost += 1;
            }
        }
    }

    /// What the reports of the last [`QUEUE_WINDOW`] before `now` say, in one pass over
    /// them (newest first): loss and the delivered rate over the last [`WINDOW`], the
    /// standing queue over the whole window.
    pub fn signals(&self, now: Instant) -> Signals {
        let (mut arrived, mut lost) = (Arrivals::default(), 0);
        let mut min_owd = None::<i64>;
        for b in self.batches.iter().rev() {
            let Some(age) = b.at.map(|t| now.saturating_duration_since(t)) else {
                continue;
            };
            if age > QUEUE_WINDOW {
                break;
            }
            if let Some(m) = b.min_owd {
                min_owd = Some(min_owd.map_or(m, |x| x.min(m)));
            }
            if age > WINDOW {
                continue;
            }
            arrived.merge(&b.arrived);
            lost += b.lost;
        }
        let total = arrived.received + lost;
        let loss = (total >= 10).then(|| lost as f32 / total as f32);
        // Only a half-full window of delays can say the queue never drained.
        let full = self
            .batches
            .front()
            .and_then(|b| b.at)
            .is_some_and(|t| now.saturating_duration_since(t) >= QUEUE_WINDOW / 2);
        let queue = match (self.base_min, min_owd) {
            (Some(base), Some(m)) if full => Some(Duration::from_micros((m - base).max(0) as u64)),
            _ => None,
        };
        // Too short a span says little (one burst).
        let delivered = arrived.rate(WINDOW / 2);
        Signals {
            loss,
            queue,
            delivered,
        }
    }

    /// Ends a feedback report: judges congestion and a probe, and says how the estimate
    /// changed.
    pub fn end_feedback(&mut self, now: Instant) -> Option<Change> {
        let batch = std::mem::take(&mut self.current);
        if batch.arrived.received + batch.lost > 0 {
            if self.batches.len() >= MAX_BATCHES {
                self.batches.pop_front();
            }
            self.batches.push_back(Batch {
                at: Some(now),
                ..batch
            });
        }
        self.trim(now);
        let signals = self.signals(now);
        let congested = signals.congested();
        if let Some(change) = self.judge_probe(now) {
            return Some(change);
        }
        // Congestion while a probe runs (or its packets drain) is the probe's doing.
        let probing = self
            .probe
            .is_some_and(|p| now < p.end + SETTLE || !p.covered);
        if congested {
            self.calm_since = None;
            if probing
                || self
                    .last_decrease
                    .is_some_and(|t| now.saturating_duration_since(t) < DECREASE_HOLD)
            {
                return None;
            }
            let delivered = signals.delivered?;
            let down = (delivered as f64 * BACKOFF) as u64;
            if self.estimate.is_none_or(|e| down < e) {
                self.estimate = Some(down);
                self.last_decrease = Some(now);
                return Some(Change::Down(down));
            }
            return None;
        }
        let calm_since = *self.calm_since.get_or_insert(now);
        if let (Some(e), Some(delivered)) = (self.estimate, signals.delivered)
            && now.saturating_duration_since(calm_since) >= SETTLE
            && delivered > e
        {
            self.estimate = Some(delivered);
            return Some(Change::Up(delivered));
        }
        None
    }

    fn judge_probe(&mut self, now: Instant) -> Option<Change> {
        let p = self.probe?;
        // Give up on feedback that never comes.
        let timed_out = now >= p.end + 2 * SETTLE;
        let failing = p.lost > 2 || p.max_queue > QUEUE_CONGESTED;
        if failing && now < p.end {
            // Stop padding at once: the link says no.
            self.probe = Some(Probe { end: now, ..p });
            return None;
        }
        if !(p.covered || timed_out) {
            return None;
        }
        self.probe = None;
        let delivered = p.arrived.rate(Duration::ZERO);
        let total = p.arrived.received + p.lost;
        // The link must have delivered what the probe is for (its headroom aside).
        let need = p.target as f64 / PROBE_HEADROOM;
        let passed = !failing
            && total > 0
            && (p.lost as f32) < total as f32 * 0.05
            && delivered.is_some_and(|d| d as f64 >= need);
        if passed {
            let proven = delivered.unwrap_or(0).min(p.target);
            self.probe_backoff = PROBE_BACKOFF_MIN;
            self.next_probe = Some(now + PROBE_BACKOFF_MIN);
            if self.estimate.is_none_or(|e| proven > e) {
                self.estimate = Some(proven);
                return Some(Change::Up(proven));
            }
        } else {
            self.next_probe = Some(now + self.probe_backoff);
            self.probe_backoff = (self.probe_backoff * 2).min(PROBE_BACKOFF_MAX);
        }
        None
    }

    /// Whether to probe for `need` bits per second now: the estimate is below it, the
    /// link has been calm for [`PROBE_CALM`], and no probe ran or failed lately.
    pub fn should_probe(&self, need: u64, now: Instant) -> bool {
        self.probe.is_none()
            && self.estimate.is_some_and(|e| e < need)
            && self
                .calm_since
                .is_some_and(|t| now.saturating_duration_since(t) >= PROBE_CALM)
            && self.next_probe.is_none_or(|t| now >= t)
    }

    /// Starts a probe aiming at `need` (plus [`PROBE_HEADROOM`]); returns the total rate to
    /// send until [`Estimator::probe_end`].
    pub fn start_probe(&mut self, need: u64, now: Instant) -> u64 {
        let target = (need as f64 * PROBE_HEADROOM) as u64;
        self.probe = Some(Probe {
            start: now,
            end: now + PROBE_DURATION,
            target,
            arrived: Arrivals::default(),
            lost: 0,
            max_queue: Duration::ZERO,
            covered: false,
        });
        target
    }

    /// Until when the running probe pads the flow (`None`: no probe is padding).
    pub fn probe_end(&self, now: Instant) -> Option<Instant> {
        self.probe.map(|p| p.end).filter(|&end| now < end)
    }

    fn trim(&mut self, now: Instant) {
        let old = |t: Instant, w: Duration| now.saturating_duration_since(t) > w;
        while self
            .batches
            .front()
            .is_some_and(|b| b.at.is_none_or(|t| old(t, QUEUE_WINDOW)))
        {
            self.batches.pop_front();
        }
        if self.base.front().is_some_and(|b| old(b.0, BASE_WINDOW)) {
            while self.base.front().is_some_and(|b| old(b.0, BASE_WINDOW)) {
                self.base.pop_front();
            }
            self.base_min = self.base.iter().map(|b| b.1).min();
        }
    }
}

/// Reads a client's feedback report into `estimator`: each packet of `log` it reports on
/// (at most [`SENT_LOG`] statuses are read; packets no longer in the log are skipped).
/// `time_zero` places the client's receive times (any fixed instant: only their
/// differences count). Returns how many logged packets it reported on. Then
/// [`Estimator::end_feedback`].
///
/// str0m's report iterator panics on a report whose deltas do not match its statuses
/// (its parser lets some through, and a client can send them): callers guard it
/// (the worker stops estimating that consumer's downlink).
pub fn read_feedback(
    log: &SentLog,
    estimator: &mut Estimator,
    time_zero: Instant,
    twcc: Twcc,
    now: Instant,
) -> usize {
    let Some(last) = log.last_seq() else {
        return 0;
    };
    let mut n = 0;
    for (seq, _, received) in twcc.into_iter(time_zero, last.into()).take(SENT_LOG) {
        if let Some(sent) = log.get(*seq) {
            estimator.on_result(PacketResult { sent, received }, now);
            n += 1;
        }
    }
    n
}

/// The highest layer whose bitrate (`layer_rates`, lowest first), with `audio`'s, fits
/// `estimate`; `None` if not even the lowest does.
pub fn fit_layer(layer_rates: &[u64], audio: u64, estimate: u64) -> Option<u8> {
    layer_rates
        .iter()
        .rposition(|&r| r + audio <= estimate)
        .map(|l| l as u8)
}

/// OpenTok's audio-only fallback for one consumer: when the lowest video layer stops
/// fitting, a warning; if it still does not fit [`DISABLE_AFTER`] later, video off; back on
/// once it fits again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fallback {
    #[default]
    Normal,
    Warning {
        since: Instant,
    },
    Disabled,
}

impl Fallback {
    /// Takes whether the lowest layer fits now; returns the step to announce, if any.
    pub fn update(&mut self, fits: bool, now: Instant) -> Option<VideoQualityState> {
        let (next, step) = match (*self, fits) {
            (Fallback::Normal, false) => (
                Fallback::Warning { since: now },
                Some(VideoQualityState::Warning),
            ),
            (Fallback::Warning { .. }, true) => {
                (Fallback::Normal, Some(VideoQualityState::WarningLifted))
            }
            (Fallback::Warning { since }, false)
                if now.saturating_duration_since(since) >= DISABLE_AFTER =>
            {
                (Fallback::Disabled, Some(VideoQualityState::Disabled))
            }
            (Fallback::Disabled, true) => (Fallback::Normal, Some(VideoQualityState::Enabled)),
            (state, _) => (state, None),
        };
        *self = next;
        step
    }

    /// Whether video is off.
    pub fn disabled(&self) -> bool {
        matches!(self, Fallback::Disabled)
    }
}

#[cfg(test)]
mod tests;
