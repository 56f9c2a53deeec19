//! Micro-benchmarks of the forwarding hot path, sans-IO: connected str0m peer pairs in
//! memory (real ICE, DTLS and SRTP, no sockets).
//!
//! * `rewrite_protect`: one consumer — sequence rewrite, `write_rtp`, the send timeout and
//!   draining the protected datagram (what the worker does per consumer per pass, here
//!   with one packet per pass, the steady state).
//! * `fan_out/N`: one producer packet to N consumers (per packet, all consumers).
//! * `direct_protect`, `direct_fan_out/N`: the worker's direct send path instead — an RTP
//!   header written and the packet AES-256-GCM protected with the consumer's SRTP keys
//!   (the profile str0m negotiates), into a reused buffer; for one consumer, and for N
//!   consumers' keys in turn.
//!
//! * `direct_fan_out_timed/N`: `direct_fan_out/N` with what the worker adds per pass to
//!   measure forwarding latency (a clock read and a histogram observation; the arrival
//!   time is str0m's, already there — here a second clock read, so this overstates it).
//!
//! `cargo bench -p parlor-router --bench forward`

mod common;

use std::sync::Arc;

use common::{Pair, direct, sender};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use parlor_router::LatencyHistogram;
use parlor_router::srtp::SrtpSender;
use std::time::Instant;

fn benches(c: &mut Criterion) {
    let payload: Arc<[u8]> = vec![0x5a; 1100].into();
    let mut g = c.benchmark_group("forward");
    g.throughput(Throughput::Elements(1));
    let mut pair = Pair::connect(0);
    let mut seq = 0u64;
    g.bench_function("rewrite_protect", |b| {
        b.iter(|| {
            seq += 1;
            pair.forward(seq, &payload)
        })
    });
    drop(pair);
    for n in [10usize, 100, 300] {
        let mut pairs: Vec<Pair> = (0..n as u16).map(Pair::connect).collect();
        let mut seq = 0u64;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("fan_out", n), &n, |b, _| {
            b.iter(|| {
                seq += 1;
                pairs
                    .iter_mut()
                    .map(|p| p.forward(seq, &payload))
                    .sum::<usize>()
            })
        });
        // The clients live as long as their pairs; nothing reads them here.
        assert!(
            pairs
                .iter()
                .all(|p| p.client.as_ref().is_some_and(|c| c.is_alive()) && p.sent > 0)
        );
    }
    let mut buf = Vec::with_capacity(1500);
    let mut s = sender(0);
    g.throughput(Throughput::Elements(1));
    g.bench_function("direct_protect", |b| {
        b.iter(|| {
            seq += 1;
            direct(&mut s, &mut buf, seq, &payload)
        })
    });
    for n in [1usize, 10, 100, 300] {
        let mut senders: Vec<SrtpSender> = (0..n as u16).map(sender).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("direct_fan_out", n), &n, |b, _| {
            b.iter(|| {
                seq += 1;
                senders
                    .iter_mut()
                    .map(|s| direct(s, &mut buf, seq, &payload))
                    .sum::<usize>()
            })
        });
        // The same pass with the worker's forwarding-latency measure: its arrival time,
        // a clock read at the end of the fan-out and the histogram's observation.
        let mut latency = LatencyHistogram::default();
        g.bench_with_input(BenchmarkId::new("direct_fan_out_timed", n), &n, |b, _| {
            b.iter(|| {
                let arrival = Instant::now();
                seq += 1;
                let sent = senders
                    .iter_mut()
                    .map(|s| direct(s, &mut buf, seq, &payload))
                    .sum::<usize>();
                latency.observe(Instant::now().saturating_duration_since(arrival));
                sent
            })
        });
        assert!(latency.count() > 0);
    }
    g.finish();
}

criterion_group!(forward, benches);
criterion_main!(forward);
