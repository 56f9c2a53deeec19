//! Quality samples: what the router measures of each transport's media, every
//! [`crate::RouterConfig::quality_interval`], for the Inspector.
//!
//! str0m reports cumulative statistics per media line on that interval (ingress for a
//! producer: what the router received and the receiver reports it sent; egress for a
//! consumer: the subscriber's receiver reports); a [`Meter`] per transport turns two
//! successive reports into one window's rates. Sans-IO: the worker hands it counters and
//! times, and sends what it returns as a [`crate::RouterEvent::Quality`]. Nothing here
//! runs per packet: the only per-packet cost of sampling is the consumer's two counters
//! (packets and bytes sent), kept by the worker because its direct send path bypasses
//! str0m's own.

use std::time::{Duration, Instant};

use str0m::media::MediaKind;
use str0m::stats::{MediaEgressStats, MediaIngressStats};

use crate::TransportId;

/// Which way media crosses the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A producer: the publisher's media as the router receives it.
    Ingress,
    /// A consumer: media the router sends a subscriber, as the subscriber reports it.
    Egress,
}

/// One window of one kind of media on one transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualitySample {
    pub id: TransportId,
    pub kind: MediaKind,
    pub direction: Direction,
    /// The window's length.
    pub window_ms: u32,
    /// Media bits per second over the window (RTP payload and headers).
    pub bitrate_bps: u64,
    /// RTP packets in the window.
    pub packets: u64,
    /// NACKs in the window: sent by the router (ingress) or received from the subscriber
    /// (egress).
    pub nacks: u64,
    /// Keyframe requests (PLI) in the window, the same way round.
    pub plis: u64,
    /// Fraction of packets lost, in thousandths, from the last receiver report: the
    /// router's own (ingress) or the subscriber's (egress).
    pub loss_permille: Option<u16>,
    /// Interarrival jitter from the same report, in microseconds.
    pub jitter_us: Option<u32>,
    /// Round-trip time, where str0m could measure it (egress: from receiver reports).
    pub rtt_us: Option<u32>,
}

/// Cumulative counters of one kind of media at one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counters {
    pub at: Instant,
    pub bytes: u64,
    pub packets: u64,
    pub nacks: u64,
    pub plis: u64,
}

/// What a receiver report says, alongside the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Report {
    /// Fraction lost, 0–1.
    pub loss: Option<f32>,
    /// Jitter in RTP timestamp units.
    pub jitter: Option<u32>,
    pub rtt: Option<Duration>,
}

/// A simulcast producer's video arrives as one stream per layer, and str0m reports each
/// (one ingress event per rid, in one round): summed here into the one window the
/// publisher's side is scored by. Without it, each layer's counters were taken for the
/// next window of the same stream, and most windows were thrown away as going backwards.
#[derive(Debug, Default)]
pub(crate) struct LayerSum {
    pending: [Option<(Counters, Report)>; crate::simulcast::MAX_LAYERS],
}

impl LayerSum {
    /// Adds layer `layer`'s counters and report; once each of the `count` layers has one
    /// (or a layer reports again first), returns their sum: bytes, packets, NACKs and PLIs
    /// added up, the worst loss and jitter, a round-trip time.
    pub(crate) fn add(
        &mut self,
        layer: usize,
        count: usize,
        counters: Counters,
        report: Report,
    ) -> Option<(Counters, Report)> {
        let layer = layer.min(self.pending.len() - 1);
        let mut out = None;
        if self.pending[layer].is_some() {
            out = self.take();
        }
        self.pending[layer] = Some((counters, report));
        if out.is_none() && self.pending.iter().take(count).all(Option::is_some) {
            out = self.take();
        }
        out
    }

    fn take(&mut self) -> Option<(Counters, Report)> {
        let mut sum: Option<(Counters, Report)> = None;
        for (c, r) in self.pending.iter_mut().filter_map(Option::take) {
            let Some((s, rep)) = &mut sum else {
                sum = Some((c, r));
                continue;
            };
            s.at = s.at.max(c.at);
            s.bytes += c.bytes;
            s.packets += c.packets;
            s.nacks += c.nacks;
            s.plis += c.plis;
            rep.loss = match (rep.loss, r.loss) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            rep.jitter = rep.jitter.max(r.jitter);
            rep.rtt = rep.rtt.or(r.rtt);
        }
        sum
    }
}

/// A producer's media line as str0m reports it: what the router received, and its own
/// receiver report.
pub(crate) fn ingress(s: &MediaIngressStats) -> (Counters, Report) {
    let counters = Counters {
        at: s.timestamp,
        bytes: s.bytes,
        packets: s.packets,
        nacks: s.nacks,
        plis: s.plis + s.firs,
    };
    let report = Report {
        loss: s.loss,
        jitter: Some(s.jitter),
        rtt: s.rtt,
    };
    (counters, report)
}

/// A consumer's media line: the subscriber's receiver report from str0m, and what was
/// sent as the worker counted it (str0m counts only what went through it, not the direct
/// send path).
pub(crate) fn egress(
    s: &MediaEgressStats,
    sent_bytes: u64,
    sent_packets: u64,
) -> (Counters, Report) {
    let counters = Counters {
        at: s.timestamp,
        bytes: sent_bytes,
        packets: sent_packets,
        nacks: s.nacks,
        plis: s.plis + s.firs,
    };
    let report = Report {
        loss: s.loss,
        jitter: s.remote.as_ref().map(|r| r.jitter),
        rtt: s.rtt,
    };
    (counters, report)
}

/// A transport's last counters and report per kind of media.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    last: [Option<Counters>; 2],
    /// What the last receiver report said: a window without a new report keeps it (receiver
    /// reports come every few seconds, not every window).
    report: [Report; 2],
}

fn slot(kind: MediaKind) -> usize {
    match kind {
        MediaKind::Audio => 0,
        MediaKind::Video => 1,
    }
}

/// The RTP clock of each kind of media the router negotiates (Opus; VP8 and H.264).
fn clock_rate(kind: MediaKind) -> u32 {
    match kind {
        MediaKind::Audio => 48_000,
        MediaKind::Video => 90_000,
    }
}

impl Meter {
    /// Takes a report of `kind`; returns the window since the previous one (none for the
    /// first, or after counters went backwards).
    pub(crate) fn sample(
        &mut self,
        id: &TransportId,
        kind: MediaKind,
        direction: Direction,
        now: Counters,
        report: Report,
    ) -> Option<QualitySample> {
        let kept = &mut self.report[slot(kind)];
        let report = Report {
            loss: report.loss.or(kept.loss),
            jitter: report.jitter.or(kept.jitter),
            rtt: report.rtt.or(kept.rtt),
        };
        *kept = report;
        let last = self.last[slot(kind)].replace(now)?;
        let window = now.at.checked_duration_since(last.at)?;
        if window.is_zero()
            || now.bytes < last.bytes
            || now.packets < last.packets
            || now.nacks < last.nacks
            || now.plis < last.plis
        {
            return None;
        }
        let bits = (now.bytes - last.bytes).saturating_mul(8);
        let micros = u64::try_from(window.as_micros()).unwrap_or(u64::MAX).max(1);
        Some(QualitySample {
            id: id.clone(),
            kind,
            direction,
            window_ms: u32::try_from(window.as_millis()).unwrap_or(u32::MAX),
            bitrate_bps: bits.saturating_mul(1_000_000) / micros,
            packets: now.packets - last.packets,
            nacks: now.nacks - last.nacks,
            plis: now.plis - last.plis,
            loss_permille: report
                .loss
                .map(|l| (l.clamp(0.0, 1.0) * 1000.0).round() as u16),
            jitter_us: report
                .jitter
                .map(|j| (u64::from(j) * 1_000_000 / u64::from(clock_rate(kind))) as u32),
            rtt_us: report
                .rtt
                .map(|r| u32::try_from(r.as_micros()).unwrap_or(u32::MAX)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulcast_round_is_summed_once_every_layer_reported() {
        let t = Instant::now();
        let report = |loss| Report {
            loss: Some(loss),
            jitter: Some(90),
            rtt: None,
        };
        let mut sum = LayerSum::default();
        assert_eq!(sum.add(0, 3, counters(t, 100, 1), report(0.0)), None);
        assert_eq!(sum.add(1, 3, counters(t, 300, 3), report(0.1)), None);
        let (c, r) = sum.add(2, 3, counters(t, 600, 6), report(0.0)).unwrap();
        assert_eq!((c.bytes, c.packets, c.nacks), (1000, 10, 0));
        assert_eq!(r.loss, Some(0.1), "the worst layer's loss");
        // A layer reporting twice before the others closes the round it was in.
        assert_eq!(sum.add(0, 3, counters(t, 200, 2), report(0.0)), None);
        let (c, _) = sum.add(0, 3, counters(t, 250, 3), report(0.0)).unwrap();
        assert_eq!(c.bytes, 200);
    }

    fn counters(at: Instant, bytes: u64, packets: u64) -> Counters {
        Counters {
            at,
            bytes,
            packets,
            nacks: packets / 100,
            plis: 1,
        }
    }

    #[test]
    fn a_window_is_the_difference_of_two_reports() {
        let id: TransportId = "t".into();
        let t0 = Instant::now();
        let mut m = Meter::default();
        let report = Report {
            loss: Some(0.025),
            jitter: Some(450),
            rtt: Some(Duration::from_millis(80)),
        };
        assert!(
            m.sample(
                &id,
                MediaKind::Video,
                Direction::Egress,
                counters(t0, 1000, 10),
                report
            )
            .is_none(),
            "the first report only sets the baseline"
        );
        let s = m
            .sample(
                &id,
                MediaKind::Video,
                Direction::Egress,
                counters(t0 + Duration::from_secs(2), 251_000, 510),
                report,
            )
            .unwrap();
        assert_eq!(s.window_ms, 2000);
        assert_eq!(s.bitrate_bps, 1_000_000);
        assert_eq!(s.packets, 500);
        assert_eq!(s.nacks, 5);
        assert_eq!(s.plis, 0);
        assert_eq!(s.loss_permille, Some(25));
        assert_eq!(s.jitter_us, Some(5000), "450 units of a 90 kHz clock");
        assert_eq!(s.rtt_us, Some(80_000));
        // Audio has its own baseline and clock.
        assert!(
            m.sample(
                &id,
                MediaKind::Audio,
                Direction::Egress,
                counters(t0, 0, 0),
                report
            )
            .is_none()
        );
        let a = m
            .sample(
                &id,
                MediaKind::Audio,
                Direction::Egress,
                counters(t0 + Duration::from_secs(1), 4000, 50),
                report,
            )
            .unwrap();
        assert_eq!(a.bitrate_bps, 32_000);
        assert_eq!(a.jitter_us, Some(9375), "450 units of a 48 kHz clock");
    }

    #[test]
    fn counters_going_backwards_restart_the_baseline() {
        let id: TransportId = "t".into();
        let t0 = Instant::now();
        let mut m = Meter::default();
        let r = Report::default();
        m.sample(
            &id,
            MediaKind::Audio,
            Direction::Ingress,
            counters(t0, 5000, 50),
            r,
        );
        let second = t0 + Duration::from_secs(1);
        assert!(
            m.sample(
                &id,
                MediaKind::Audio,
                Direction::Ingress,
                counters(second, 10, 1),
                r
            )
            .is_none()
        );
        let third = t0 + Duration::from_secs(2);
        let s = m
            .sample(
                &id,
                MediaKind::Audio,
                Direction::Ingress,
                counters(third, 1010, 11),
                r,
            )
            .unwrap();
        assert_eq!(s.packets, 10);
        assert_eq!(s.loss_permille, None);
        // A report's values hold until the next report.
        let lossy = Report {
            loss: Some(0.5),
            ..Report::default()
        };
        let at = |s| t0 + Duration::from_secs(s);
        m.sample(
            &id,
            MediaKind::Audio,
            Direction::Ingress,
            counters(at(3), 2010, 21),
            lossy,
        )
        .unwrap();
        let s = m
            .sample(
                &id,
                MediaKind::Audio,
                Direction::Ingress,
                counters(at(4), 3010, 31),
                r,
            )
            .unwrap();
        assert_eq!(s.loss_permille, Some(500));
    }
}
