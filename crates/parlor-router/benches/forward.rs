//! Micro-benchmarks of the forwarding hot path, sans-IO: connected str0m peer pairs in
//! memory (real ICE, DTLS and SRTP, no sockets).
//!
//! * `rewrite_protect`: one consumer — sequence rewrite, `write_rtp`, the send timeout and
//!   draining the protected datagram (what the worker does per consumer per pass, here
//!   with one packet per pass, the steady state).
//! * `fan_out/N`: one producer packet to N consumers (per packet, all consumers).
//!
//! `cargo bench -p parlor-router --bench forward`

mod common;

use std::sync::Arc;

use common::Pair;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

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
    g.finish();
}

criterion_group!(forward, benches);
criterion_main!(forward);
