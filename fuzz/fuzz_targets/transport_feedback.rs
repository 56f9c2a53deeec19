//! The router's downlink estimator (`parlor_router::bwe`) under any arrival pattern a
//! client's network can produce: the packets the router logs as sent, what arrives and
//! when (fuzzed: losses, delays, reordering, report sizes), the feedback reports a client
//! would send about it (well-formed transport-cc, parsed by str0m as the worker gets them),
//! read as the worker reads them; then the estimate's use: the layer fit, the audio-only
//! fallback and probes. (Malformed reports are the router_datagram target's and the
//! worker's guard's business: str0m's reader panics on some, and the worker then stops
//! estimating that consumer.)
//!
//! An input is three setup bytes (send interval, packets per report, packet size), then a
//! byte per packet sent: bit 7 set, lost; else it arrives `bits 1–6` ms after it was sent.
//! Checked: nothing panics; a report is read for at most the log's length; a probe, once
//! started, pads for its duration and aims above its need.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use parlor_router::bwe::{self, Estimator, Fallback, SentLog};
use str0m::rtp::rtcp::Twcc;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// A transport-cc feedback body (after the RTCP header) for packets `base..`, each arrived
/// (µs after `start`) or lost: two-bit status vectors, small or large deltas in 250 µs.
fn report(base: u16, arrivals: &[Option<u64>]) -> Vec<u8> {
    let first = arrivals.iter().flatten().next().copied().unwrap_or(0);
    let reference = first / 64_000; // 64 ms units
    let mut at = reference * 64_000;
    let mut out = vec![0, 0, 0, 1, 0, 0, 0, 2];
    out.extend_from_slice(&base.to_be_bytes());
    out.extend_from_slice(&(arrivals.len() as u16).to_be_bytes());
    out.extend_from_slice(&(reference as u32).to_be_bytes()[1..]);
    out.push(0);
    let mut deltas = Vec::new();
    for group in arrivals.chunks(7) {
        let mut chunk = 0xc000u16;
        for (i, a) in group.iter().enumerate() {
            let Some(a) = *a else { continue };
            let d = (a as i64 - at as i64) / 250;
            at = (at as i64 + d * 250) as u64;
            let status = if (0..=255).contains(&d) {
                deltas.push(d as u8);
                0b01
            } else {
                deltas.extend_from_slice(
                    &(d.clamp(i16::MIN.into(), i16::MAX.into()) as i16).to_be_bytes(),
                );
                0b10
            };
            chunk |= status << (12 - 2 * i);
        }
        out.extend_from_slice(&chunk.to_be_bytes());
    }
    out.extend_from_slice(&deltas);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&[interval, every, size], packets)) = data.split_first_chunk::<3>() else {
        return;
    };
    let start = origin();
    let interval = 250 * (u64::from(interval) + 1);
    let every = usize::from(every % 40) + 1;
    let mut log = SentLog::new(start);
    let mut estimator = Estimator::default();
    let mut fallback = Fallback::default();
    let mut now = start;
    let mut sent = 0u64;
    for batch in packets.chunks(every) {
        let base = log.next_seq() as u16;
        let mut arrivals = Vec::with_capacity(batch.len());
        for &p in batch {
            sent += 1;
            let sent_us = interval * sent;
            log.commit(
                start + Duration::from_micros(sent_us),
                60 + usize::from(size) * 5,
            );
            arrivals.push((p & 0x80 == 0).then(|| sent_us + u64::from(p >> 1) * 1000));
            now = now.max(start + Duration::from_micros(sent_us));
        }
        now += Duration::from_millis(20);
        let twcc = Twcc::try_from(&report(base, &arrivals)[..]).expect("a well-formed report");
        let read = bwe::read_feedback(&log, &mut estimator, start, twcc, now);
        assert!(read <= bwe::SENT_LOG);
        let _ = estimator.end_feedback(now);
        let _ = estimator.signals(now);
        if let Some(estimate) = estimator.estimate() {
            let layer = bwe::fit_layer(&[100_000, 300_000, 900_000], 40_000, estimate);
            let _ = fallback.update(layer.is_some(), now);
            if estimator.should_probe(1_000_000, now) {
                let target = estimator.start_probe(1_000_000, now);
                assert!(target > 1_000_000);
                assert_eq!(estimator.probe_end(now), Some(now + bwe::PROBE_DURATION));
            }
        }
    }
});
