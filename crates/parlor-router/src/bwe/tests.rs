//! The estimator against a simulated bottleneck: a queue drained at a fixed rate that
//! drops what would wait longer than its limit (as `tc tbf` does), feedback every 100 ms.

use super::*;

/// A bottleneck link and the feedback its receiver sends.
struct Link {
    rate_bps: u64,
    queue_limit: Duration,
    busy_until: Option<Instant>,
    /// Packets sent, waiting for their feedback: (sent, arrival or lost).
    in_flight: Vec<(Sent, Option<Instant>)>,
}

impl Link {
    fn new(rate_bps: u64) -> Self {
        Link {
            rate_bps,
            queue_limit: Duration::from_millis(300),
            busy_until: None,
            in_flight: Vec::new(),
        }
    }

    fn send(&mut self, log: &mut SentLog, at: Instant, size: usize) {
        let seq = log.next_seq();
        log.commit(at, size);
        let sent = log.get(seq).unwrap();
        let start = self.busy_until.map_or(at, |b| b.max(at));
        let arrival = if start - at > self.queue_limit {
            None
        } else {
            let tx = Duration::from_secs_f64(size as f64 * 8.0 / self.rate_bps as f64);
            self.busy_until = Some(start + tx);
            Some(start + tx + Duration::from_millis(10))
        };
        self.in_flight.push((sent, arrival));
    }

    /// Feeds the estimator every result known by `now`; returns its change.
    fn feedback(&mut self, e: &mut Estimator, now: Instant) -> Option<Change> {
        let (due, rest): (Vec<_>, Vec<_>) = self
            .in_flight
            .drain(..)
            .partition(|(s, a)| a.map_or(s.at + Duration::from_millis(20) <= now, |a| a <= now));
        self.in_flight = rest;
        for (sent, received) in due {
            e.on_result(PacketResult { sent, received }, now);
        }
        e.end_feedback(now)
    }
}

/// A sender of `rate_bps` in 1200-byte packets, with a keyframe burst of `burst` bytes
/// every 3 s; returns the estimator's changes over `secs`, with times.
fn run(
    link: &mut Link,
    e: &mut Estimator,
    log: &mut SentLog,
    start: Instant,
    secs: u64,
    rate_bps: impl Fn(Instant) -> u64,
    burst: usize,
) -> Vec<(Duration, Change)> {
    let mut changes = Vec::new();
    let step = Duration::from_millis(10);
    let mut t = start;
    let mut owed = 0.0f64;
    let mut next_feedback = start + Duration::from_millis(100);
    let mut next_burst = start;
    while t < start + Duration::from_secs(secs) {
        owed += rate_bps(t) as f64 / 8.0 * step.as_secs_f64();
        while owed >= 1200.0 {
            link.send(log, t, 1200);
            owed -= 1200.0;
        }
        if burst > 0 && t >= next_burst {
            for _ in 0..burst / 1200 {
                link.send(log, t, 1200);
            }
            next_burst = t + Duration::from_secs(3);
        }
        if t >= next_feedback {
            if let Some(c) = link.feedback(e, t) {
                changes.push((t - start, c));
            }
            next_feedback = t + Duration::from_millis(100);
        }
        t += step;
    }
    changes
}

#[test]
fn too_much_for_the_link_is_congestion_and_the_estimate_drops_to_what_it_carries() {
    let start = Instant::now();
    let (mut link, mut e, mut log) = (
        Link::new(300_000),
        Estimator::default(),
        SentLog::new(start),
    );
    let changes = run(&mut link, &mut e, &mut log, start, 5, |_| 1_500_000, 0);
    let (at, first) = changes[0];
    assert!(at < Duration::from_secs(2), "congestion seen after {at:?}");
    let Change::Down(down) = first else {
        panic!("{changes:?}")
    };
    assert!(
        (200_000..=300_000).contains(&down),
        "estimate {down} for a 300 kbps link"
    );
}

#[test]
fn a_flow_that_fits_with_keyframe_bursts_is_not_congestion() {
    let start = Instant::now();
    let (mut link, mut e, mut log) = (
        Link::new(300_000),
        Estimator::default(),
        SentLog::new(start),
    );
    // 190 kbps with a 12 kB burst every 3 s: the queue builds to ~320 ms and drains.
    let changes = run(&mut link, &mut e, &mut log, start, 20, |_| 190_000, 12_000);
    assert!(
        changes.iter().all(|(_, c)| !matches!(c, Change::Down(_))),
        "{changes:?}"
    );
    assert_eq!(e.estimate(), None, "nothing limited the flow");
}

#[test]
fn a_probe_proves_room_for_the_next_layer_only_where_there_is() {
    // Wide; far too narrow; just too narrow (it carries less than the need, if more than
    // the need less the probe's headroom).
    for (capacity, need, passes) in [
        (3_000_000, 700_000, true),
        (300_000, 700_000, false),
        (260_000, 280_000, false),
    ] {
        let start = Instant::now();
        let (mut link, mut e, mut log) = (
            Link::new(300_000),
            Estimator::default(),
            SentLog::new(start),
        );
        // Congest once to get an estimate, then send what it allows while the link
        // widens (or not).
        run(&mut link, &mut e, &mut log, start, 3, |_| 1_500_000, 0);
        let limited = e.estimate().expect("an estimate after congestion");
        link.rate_bps = capacity;
        let t = start + Duration::from_secs(3);
        let changes = run(&mut link, &mut e, &mut log, t, 4, |_| 150_000, 0);
        let t = t + Duration::from_secs(4);
        assert!(e.should_probe(need, t), "{capacity}: calm, below the need");
        let target = e.start_probe(need, t);
        assert_eq!(target, need * 11 / 10);
        assert_eq!(e.probe_end(t), Some(t + PROBE_DURATION));
        // The sender pads its 150 kbps up to the target while the probe runs.
        let probing = |now| {
            if now < t + PROBE_DURATION {
                target
            } else {
                150_000
            }
        };
        let changes2 = run(&mut link, &mut e, &mut log, t, 3, probing, 0);
        let ups: Vec<_> = changes
            .iter()
            .chain(&changes2)
            .filter_map(|(_, c)| match c {
                Change::Up(r) => Some(*r),
                Change::Down(_) => None,
            })
            .collect();
        if passes {
            let best = *ups.iter().max().expect("an increase");
            assert!(best >= need, "{capacity}: proved {best}");
        } else {
            let estimate = e.estimate().unwrap();
            assert!(estimate < need, "{capacity}: {estimate} after {ups:?}");
            assert!(estimate <= limited.max(capacity), "{capacity}: {ups:?}");
            // The next probe waits (2 s after this one was judged, doubling after each
            // failure).
            let now = t + Duration::from_secs(2);
            assert!(!e.should_probe(need, now), "{capacity}: backed off");
        }
    }
}

#[test]
fn the_highest_layer_that_fits_with_the_audio() {
    let rates = [150_000, 500_000, 1_500_000];
    assert_eq!(fit_layer(&rates, 40_000, 2_000_000), Some(2));
    assert_eq!(fit_layer(&rates, 40_000, 600_000), Some(1));
    assert_eq!(fit_layer(&rates, 40_000, 200_000), Some(0));
    assert_eq!(fit_layer(&rates, 40_000, 150_000), None);
    assert_eq!(fit_layer(&[], 0, 1), None);
}

#[test]
fn the_fallback_warns_then_turns_video_off_and_back_on() {
    let t = Instant::now();
    let mut f = Fallback::default();
    assert_eq!(f.update(true, t), None);
    assert_eq!(f.update(false, t), Some(VideoQualityState::Warning));
    assert_eq!(
        f.update(true, t + Duration::from_secs(1)),
        Some(VideoQualityState::WarningLifted)
    );
    assert_eq!(
        f.update(false, t + Duration::from_secs(2)),
        Some(VideoQualityState::Warning)
    );
    assert_eq!(f.update(false, t + Duration::from_secs(5)), None);
    assert_eq!(
        f.update(false, t + Duration::from_secs(6)),
        Some(VideoQualityState::Disabled)
    );
    assert!(f.disabled());
    assert_eq!(f.update(false, t + Duration::from_secs(60)), None);
    assert_eq!(
        f.update(true, t + Duration::from_secs(61)),
        Some(VideoQualityState::Enabled)
    );
    assert!(!f.disabled());
}

#[test]
fn the_sent_log_wraps_and_forgets() {
    let t = Instant::now();
    let mut log = SentLog::new(t);
    assert_eq!(log.last_seq(), None);
    let first = log.next_seq();
    assert_eq!(first as u16, 0, "the first packet carries 0");
    for i in 0..SENT_LOG as u64 + 10 {
        log.commit(t + Duration::from_millis(i), 100);
    }
    let last = log.last_seq().unwrap();
    assert_eq!(last, first + SENT_LOG as u64 + 9);
    let newest = log.get(last).unwrap();
    assert_eq!(newest.size, 100);
    assert!(log.get(first + 5).is_none(), "overwritten");
    assert!(log.get(first + 3 + SENT_LOG as u64).is_some(), "kept");
    assert!(log.get(last + 1).is_none(), "not sent yet");
    assert!(log.get(0).is_none() && log.get(1).is_none(), "never sent");
    let since = t + Duration::from_millis(SENT_LOG as u64);
    assert_eq!(log.bytes_since(since), 10 * 100);
}

#[test]
fn a_report_from_before_the_first_packet_reads_nothing() {
    // A report whose base sequence number is "behind" the first packet sent (wire 0): in
    // the log's numbering that is below its first number, not a wrap to 2^64.
    let t = Instant::now();
    let mut log = SentLog::new(t);
    for i in 0..10 {
        log.commit(t + Duration::from_millis(i), 1200);
    }
    // Base 0xff00, 200 statuses of "received, small delta" (a run), 200 deltas.
    let mut report = vec![0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0x00, 0, 200, 0, 0, 1, 0];
    report.extend_from_slice(&(0x2000u16 | 200).to_be_bytes());
    report.extend(std::iter::repeat_n(4u8, 200));
    let twcc = str0m::rtp::rtcp::Twcc::try_from(&report[..]).unwrap();
    let mut e = Estimator::default();
    let read = read_feedback(&log, &mut e, t, twcc, t + Duration::from_millis(50));
    assert_eq!(read, 0);
}
