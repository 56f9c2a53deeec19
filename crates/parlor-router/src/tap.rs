//! Taps: a producer's media handed to a reader off the forwarding path — a recorder now,
//! a broadcast later.
//!
//! In mediasoup's terms a tap is a consumer whose transport is not WebRTC (a
//! `DirectTransport`): it receives the producer's own packets — decrypted, RTX already
//! unwrapped by str0m, original sequence numbers and timestamps, in arrival order — and
//! the producer's RTCP sender reports, as [`TapEvent`]s on a bounded queue. The worker
//! never waits for a tap: it offers each event with a non-blocking `try_send`; when the
//! queue is full the event is dropped and counted ([`Tap::dropped`], and
//! [`crate::RouterStats::tap_dropped`]), so a slow reader costs only its own completeness.
//! A producer without taps pays one branch on an empty `Vec` per group of packets.
//!
//! A tap's video starts on the first packet of a keyframe (attaching asks the publisher
//! for one, through the router's keyframe-request throttle); audio starts at once. Packets
//! the producer does not forward (force-muted audio, codecs we do not route) are not
//! tapped either.
//!
//! The channel is tokio's bounded `mpsc`, read either from tokio ([`Tap::recv_async`]) or
//! from a plain thread ([`Tap::recv`], [`Tap::recv_timeout`]: the thread parks until the
//! worker's send wakes it; it first waits a moment without a waker, so that a flowing
//! stream seldom costs the worker a wake-up syscall). Why that one: `try_send` is lock-free (a semaphore permit, a
//! slot in a block list, an atomic waker) and allocates only when the queue grows into a
//! new block of 32 slots (blocks are recycled as the reader frees them), so capacity costs
//! nothing until used; the worker sees a dropped reader in `try_send` itself (and in
//! `is_closed`, for the stats) with no command; and it serves async readers natively,
//! which std's `sync_channel` cannot do without a thread per tap. The blocking side is
//! built here on `poll_recv` and `thread::park`, so it works on any thread (and adds a
//! timeout, which tokio's `blocking_recv` lacks).
//!
//! Dropping the [`Tap`] detaches it; when the producer closes (or the router stops) the
//! worker drops its end, and the reader gets the queued events, then [`TapEvent::Closed`]
//! — always, even from a full queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use str0m::format::Codec;
use str0m::media::MediaKind;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{TryRecvError as TokioTryRecvError, TrySendError};

use crate::TransportId;

/// The largest queue a tap may ask for, in events (a minute of 1 Mbps video is ~6000
/// packets). Larger requests are capped to it.
pub const MAX_TAP_CAPACITY: usize = 1 << 16;

/// A blocking reader that finds the queue empty sleeps this long before it parks to be
/// woken. Waking a parked thread is a syscall (a futex wake) on the worker's send; with
/// this pause the reader is rarely parked while media flows (a video frame or an audio
/// packet comes at least every 20 ms), so the worker's sends seldom have anyone to wake.
/// A recorder does not mind the latency.
const COALESCE: Duration = Duration::from_millis(20);

/// The codec of a tapped packet (the codecs the router negotiates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TapCodec {
    Vp8,
    H264,
    Opus,
}

impl TapCodec {
    /// The codec's RTP clock rate, in Hz.
    pub fn clock_rate(self) -> u32 {
        match self {
            TapCodec::Vp8 | TapCodec::H264 => 90_000,
            TapCodec::Opus => 48_000,
        }
    }

    /// The tap codec of a str0m codec; `None` for codecs the router does not route.
    pub fn from_codec(codec: Codec) -> Option<TapCodec> {
        match codec {
            Codec::Vp8 => Some(TapCodec::Vp8),
            Codec::H264 => Some(TapCodec::H264),
            Codec::Opus => Some(TapCodec::Opus),
            _ => None,
        }
    }
}

/// One RTP packet of the producer, as it arrived (decrypted; a retransmission already
/// turned back into the packet it repairs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapPacket {
    pub kind: MediaKind,
    pub codec: TapCodec,
    /// The publisher's SSRC for this stream (a new SSRC is a new stream: sequence numbers
    /// and timestamps restart).
    pub ssrc: u32,
    /// The publisher's own sequence number.
    pub seq: u16,
    /// RTP timestamp, in [`TapCodec::clock_rate`] units.
    pub timestamp: u32,
    pub marker: bool,
    /// The RTP payload (for VP8, the payload descriptor then the frame data). Shared with
    /// the router's forwarding: no copy is made.
    pub payload: Arc<[u8]>,
    /// When the router received the packet, in microseconds since the Unix epoch.
    pub arrival_unix_micros: u64,
}

/// What a tap receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapEvent {
    /// A packet of the producer.
    Rtp(TapPacket),
    /// An RTCP sender report of the producer: RTP time `rtp_time` of stream `ssrc` was
    /// sampled at the publisher's wallclock `ntp_unix_micros` (the report's NTP timestamp,
    /// as microseconds since the Unix epoch). Aligns audio and video on one clock.
    SenderReport {
        kind: MediaKind,
        ssrc: u32,
        ntp_unix_micros: u64,
        rtp_time: u32,
    },
    /// The producer closed (or the router stopped): nothing more will come. Delivered once,
    /// after every queued event.
    Closed,
}

/// The reading end of a tap on a producer: see the module docs. Dropping it detaches the
/// tap.
#[derive(Debug)]
pub struct Tap {
    producer: TransportId,
    rx: mpsc::Receiver<TapEvent>,
    dropped: Arc<AtomicU64>,
    /// Whether [`TapEvent::Closed`] was handed out.
    closed: bool,
}

impl Tap {
    /// The producer tapped.
    pub fn producer(&self) -> &TransportId {
        &self.producer
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Detaches the tap (the same as dropping it): the worker removes it on its next
    /// packet for the producer, or its next stats request.
    pub fn detach(self) {}

    /// The next event, blocking the thread until one comes; `None` after
    /// [`TapEvent::Closed`]. Not for async code (use [`Tap::recv_async`]).
    pub fn recv(&mut self) -> Option<TapEvent> {
        self.block(None).ok()
    }

    /// The next event, waiting at most `timeout`; `Disconnected` after
    /// [`TapEvent::Closed`]. Not for async code.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<TapEvent, RecvTimeoutError> {
        self.block(Some(Instant::now() + timeout))
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Result<TapEvent, TryRecvError> {
        match self.rx.try_recv() {
            Ok(event) => Ok(event),
            Err(TokioTryRecvError::Empty) => Err(TryRecvError::Empty),
            Err(TokioTryRecvError::Disconnected) => self.end().ok_or(TryRecvError::Disconnected),
        }
    }

    /// The next event, for async readers; `None` after [`TapEvent::Closed`].
    pub async fn recv_async(&mut self) -> Option<TapEvent> {
        match self.rx.recv().await {
            Some(event) => Some(event),
            None => self.end(),
        }
    }

    /// `Closed` the first time the channel is found ended, nothing after.
    fn end(&mut self) -> Option<TapEvent> {
        (!std::mem::replace(&mut self.closed, true)).then_some(TapEvent::Closed)
    }

    /// Waits on the channel with this thread parked; woken by the worker's send.
    fn block(&mut self, deadline: Option<Instant>) -> Result<TapEvent, RecvTimeoutError> {
        for pause in [Duration::ZERO, COALESCE] {
            let left = deadline.map_or(pause, |d| d.saturating_duration_since(Instant::now()));
            std::thread::sleep(pause.min(left));
            match self.try_recv() {
                Ok(event) => return Ok(event),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            match self.rx.poll_recv(&mut cx) {
                Poll::Ready(Some(event)) => return Ok(event),
                Poll::Ready(None) => return self.end().ok_or(RecvTimeoutError::Disconnected),
                // Spurious wake-ups just poll again.
                Poll::Pending => match deadline {
                    None => std::thread::park(),
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(RecvTimeoutError::Timeout);
                        }
                        std::thread::park_timeout(left);
                    }
                },
            }
        }
    }
}

/// Wakes a parked reader thread.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The worker's end of one tap.
#[derive(Debug)]
struct TapSender {
    tx: mpsc::Sender<TapEvent>,
    dropped: Arc<AtomicU64>,
    /// Whether video has started (on a keyframe's first packet).
    video_started: bool,
}

/// What offering one event to a producer's taps did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Taps it was queued on.
    pub queued: u64,
    /// Taps whose queue was full (the event is dropped for them and counted).
    pub dropped: u64,
    /// Whether a tap waits for a keyframe this video packet does not start.
    pub awaiting_keyframe: bool,
}

/// A producer's taps (the worker's side). Public so benchmarks measure exactly what the
/// worker runs.
#[derive(Debug, Default)]
pub struct TapSet {
    taps: Vec<TapSender>,
}

impl TapSet {
    /// Attaches a new tap with a queue of `capacity` events (1 to [`MAX_TAP_CAPACITY`]);
    /// returns its reading end.
    pub fn attach(&mut self, producer: TransportId, capacity: usize) -> Tap {
        let (tx, rx) = mpsc::channel(capacity.clamp(1, MAX_TAP_CAPACITY));
        let dropped = Arc::new(AtomicU64::new(0));
        self.taps.push(TapSender {
            tx,
            dropped: dropped.clone(),
            video_started: false,
        });
        Tap {
            producer,
            rx,
            dropped,
            closed: false,
        }
    }

    /// Whether there are no taps (the forwarding path's one check).
    pub fn is_empty(&self) -> bool {
        self.taps.is_empty()
    }

    /// How many taps there are (detached ones included until noticed).
    pub fn len(&self) -> usize {
        self.taps.len()
    }

    /// Removes the taps whose reader is gone.
    pub fn prune(&mut self) {
        self.taps.retain(|t| !t.tx.is_closed());
    }

    /// Offers a packet to every tap, never waiting. `keyframe_start`: whether it is the
    /// first packet of a keyframe (video taps start on one).
    pub fn deliver(&mut self, packet: TapPacket, keyframe_start: bool) -> Delivery {
        let video = packet.kind == MediaKind::Video;
        let mut delivery = Delivery::default();
        let mut detached = false;
        for tap in &mut self.taps {
            if video && !tap.video_started {
                if !keyframe_start {
                    delivery.awaiting_keyframe = true;
                    continue;
                }
                tap.video_started = true;
            }
            offer(
                tap,
                TapEvent::Rtp(packet.clone()),
                &mut delivery,
                &mut detached,
            );
        }
        if detached {
            self.prune();
        }
        delivery
    }

    /// Offers a sender report to every tap, never waiting.
    pub fn sender_report(
        &mut self,
        kind: MediaKind,
        ssrc: u32,
        ntp_unix_micros: u64,
        rtp_time: u32,
    ) -> Delivery {
        let mut delivery = Delivery::default();
        let mut detached = false;
        for tap in &mut self.taps {
            let event = TapEvent::SenderReport {
                kind,
                ssrc,
                ntp_unix_micros,
                rtp_time,
            };
            offer(tap, event, &mut delivery, &mut detached);
        }
        if detached {
            self.prune();
        }
        delivery
    }
}

fn offer(tap: &TapSender, event: TapEvent, delivery: &mut Delivery, detached: &mut bool) {
    match tap.tx.try_send(event) {
        Ok(()) => delivery.queued += 1,
        Err(TrySendError::Full(_)) => {
            tap.dropped.fetch_add(1, Ordering::Relaxed);
            delivery.dropped += 1;
        }
        Err(TrySendError::Closed(_)) => *detached = true,
    }
}

/// Converts the worker's monotonic instants to Unix time without a clock read per
/// packet: an anchor pair, refreshed now and then (so wallclock adjustments are followed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    instant: Instant,
    unix_micros: u64,
}

impl WallClock {
    pub(crate) fn now() -> WallClock {
        WallClock {
            instant: Instant::now(),
            unix_micros: unix_micros(SystemTime::now()),
        }
    }

    /// `at` in microseconds since the Unix epoch.
    pub(crate) fn unix_micros(&self, at: Instant) -> u64 {
        match at.checked_duration_since(self.instant) {
            Some(after) => self.unix_micros.saturating_add(after.as_micros() as u64),
            None => self
                .unix_micros
                .saturating_sub(self.instant.duration_since(at).as_micros() as u64),
        }
    }
}

/// A wallclock time in microseconds since the Unix epoch (0 before it).
pub(crate) fn unix_micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(kind: MediaKind, seq: u16) -> TapPacket {
        TapPacket {
            kind,
            codec: match kind {
                MediaKind::Audio => TapCodec::Opus,
                MediaKind::Video => TapCodec::Vp8,
            },
            ssrc: 7,
            seq,
            timestamp: u32::from(seq) * 3000,
            marker: false,
            payload: vec![1, 2, 3].into(),
            arrival_unix_micros: 1,
        }
    }

    fn seq_of(event: TapEvent) -> u16 {
        match event {
            TapEvent::Rtp(p) => p.seq,
            other => panic!("not a packet: {other:?}"),
        }
    }

    #[test]
    fn video_starts_on_a_keyframe_audio_at_once() {
        let mut set = TapSet::default();
        let mut tap = set.attach("p".into(), 16);
        let d = set.deliver(packet(MediaKind::Video, 1), false);
        assert!(d.awaiting_keyframe);
        assert_eq!(d.queued, 0);
        assert_eq!(set.deliver(packet(MediaKind::Audio, 50), false).queued, 1);
        let d = set.deliver(packet(MediaKind::Video, 2), true);
        assert_eq!((d.queued, d.awaiting_keyframe), (1, false));
        let d = set.deliver(packet(MediaKind::Video, 3), false);
        assert_eq!((d.queued, d.awaiting_keyframe), (1, false), "started");
        let seqs: Vec<u16> = std::iter::from_fn(|| tap.try_recv().ok())
            .map(seq_of)
            .collect();
        assert_eq!(seqs, [50, 2, 3]);
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_closed_still_arrives() {
        let mut set = TapSet::default();
        let mut tap = set.attach("p".into(), 2);
        for seq in 0..5 {
            set.deliver(packet(MediaKind::Audio, seq), false);
        }
        let d = set.sender_report(MediaKind::Audio, 7, 10, 20);
        assert_eq!((d.queued, d.dropped), (0, 1));
        assert_eq!(tap.dropped(), 4);
        drop(set); // the producer closed
        assert_eq!(tap.recv().map(seq_of), Some(0));
        assert_eq!(tap.recv().map(seq_of), Some(1));
        assert_eq!(tap.recv(), Some(TapEvent::Closed));
        assert_eq!(tap.recv(), None);
        assert_eq!(tap.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn a_dropped_tap_is_removed_on_the_next_packet() {
        let mut set = TapSet::default();
        let kept = set.attach("p".into(), 4);
        let gone = set.attach("p".into(), 4);
        assert_eq!(set.len(), 2);
        gone.detach();
        let d = set.deliver(packet(MediaKind::Audio, 1), false);
        assert_eq!(d.queued, 1);
        assert_eq!(set.len(), 1);
        drop(kept);
        set.prune();
        assert!(set.is_empty());
    }

    #[test]
    fn a_parked_reader_is_woken_by_a_send_and_times_out_without_one() {
        let mut set = TapSet::default();
        let mut tap = set.attach("p".into(), 4);
        let started = Instant::now();
        assert_eq!(
            tap.recv_timeout(Duration::from_millis(50)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        let reader = std::thread::spawn(move || {
            let first = tap.recv_timeout(Duration::from_secs(10));
            (first, tap.recv())
        });
        std::thread::sleep(Duration::from_millis(50));
        set.deliver(packet(MediaKind::Audio, 9), false);
        drop(set);
        let (first, second) = reader.join().unwrap();
        assert_eq!(first.map(seq_of), Ok(9));
        assert_eq!(second, Some(TapEvent::Closed));
    }

    #[test]
    fn instants_map_to_unix_time() {
        let clock = WallClock::now();
        let later = clock.instant + Duration::from_millis(1500);
        assert_eq!(clock.unix_micros(later), clock.unix_micros + 1_500_000);
        if let Some(earlier) = clock.instant.checked_sub(Duration::from_millis(2)) {
            assert_eq!(clock.unix_micros(earlier), clock.unix_micros - 2_000);
        }
        let now = unix_micros(SystemTime::now());
        assert!(now.abs_diff(clock.unix_micros) < 5_000_000);
    }
}
