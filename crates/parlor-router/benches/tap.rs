//! What a recording tap costs the forwarding path: the same per-packet work as
//! `forward.rs`, without and with one tap on the producer (its packet built and offered
//! with `try_send`, exactly as the worker does, [`parlor_router::tap::TapSet`]).
//!
//! * `offer/read`: one packet offered to one tap that a reader thread drains (the
//!   recorder keeping up: the send may wake a parked reader).
//! * `offer/full`: offered to a tap nobody reads (the queue stays full: every packet is
//!   dropped and counted).
//! * `direct/N`, `direct_tapped/N`: one producer packet to N consumers on the direct send
//!   path (header, AES-256-GCM), without and with one read tap. Throughput is per
//!   consumer-packet, so the difference is the tap's cost spread over N consumers.
//! * `str0m/N`, `str0m_tapped/N`: the same on str0m's send path (`write_rtp`, timeout,
//!   drain; AES-CM consumers).
//!
//! `cargo bench -p parlor-router --bench tap`

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use common::{Pair, direct, sender};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use parlor_router::srtp::SrtpSender;
use parlor_router::tap::TapSet;
use parlor_router::{MediaKind, TapCodec, TapEvent, TapPacket};

/// Builds the packet as the worker does and offers it to the producer's taps (nothing
/// when there are none: the worker's one branch).
fn tap(taps: &mut TapSet, seq: u64, payload: &Arc<[u8]>) -> u64 {
    if taps.is_empty() {
        return 0;
    }
    let packet = TapPacket {
        kind: MediaKind::Video,
        codec: TapCodec::Vp8,
        ssrc: 0x1234_5678,
        seq: seq as u16,
        timestamp: (seq * 3000) as u32,
        marker: true,
        payload: payload.clone(),
        arrival_unix_micros: 1_700_000_000_000_000 + seq,
    };
    let d = taps.deliver(packet, true);
    d.queued + d.dropped
}

/// A producer's taps with one tap a thread reads (until the set is dropped).
fn read_tap() -> (TapSet, std::thread::JoinHandle<u64>) {
    let mut taps = TapSet::default();
    let mut t = taps.attach("bench".into(), 4096);
    let reader = std::thread::spawn(move || {
        let mut n = 0u64;
        while let Some(event) = t.recv() {
            if let TapEvent::Rtp(p) = black_box(event) {
                n += u64::from(p.marker);
            }
        }
        n
    });
    (taps, reader)
}

fn benches(c: &mut Criterion) {
    let payload: Arc<[u8]> = vec![0x5a; 1100].into();
    let mut g = c.benchmark_group("tap");
    g.measurement_time(Duration::from_secs(4));
    let mut seq = 0u64;

    g.throughput(Throughput::Elements(1));
    let (mut taps, reader) = read_tap();
    g.bench_function("offer/read", |b| {
        b.iter(|| {
            seq += 1;
            tap(&mut taps, seq, &payload)
        })
    });
    drop(taps);
    assert!(reader.join().unwrap() > 0, "the reader read");
    let mut full = TapSet::default();
    let unread = full.attach("bench".into(), 16);
    g.bench_function("offer/full", |b| {
        b.iter(|| {
            seq += 1;
            tap(&mut full, seq, &payload)
        })
    });
    assert!(unread.dropped() > 0);

    let mut buf = Vec::with_capacity(1500);
    for n in [1usize, 10, 100] {
        let mut senders: Vec<SrtpSender> = (0..n as u16).map(sender).collect();
        g.throughput(Throughput::Elements(n as u64));
        for tapped in [false, true] {
            let (mut taps, reader) = if tapped {
                let (t, r) = read_tap();
                (t, Some(r))
            } else {
                (TapSet::default(), None)
            };
            let name = if tapped { "direct_tapped" } else { "direct" };
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    seq += 1;
                    tap(&mut taps, seq, &payload)
                        + senders
                            .iter_mut()
                            .map(|s| direct(s, &mut buf, seq, &payload) as u64)
                            .sum::<u64>()
                })
            });
            drop(taps);
            if let Some(r) = reader {
                r.join().unwrap();
            }
        }
    }

    for n in [1usize, 100] {
        let mut pairs: Vec<Pair> = (0..n as u16).map(Pair::connect).collect();
        g.throughput(Throughput::Elements(n as u64));
        for tapped in [false, true] {
            let (mut taps, reader) = if tapped {
                let (t, r) = read_tap();
                (t, Some(r))
            } else {
                (TapSet::default(), None)
            };
            let name = if tapped { "str0m_tapped" } else { "str0m" };
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    seq += 1;
                    tap(&mut taps, seq, &payload)
                        + pairs
                            .iter_mut()
                            .map(|p| p.forward(seq, &payload) as u64)
                            .sum::<u64>()
                })
            });
            drop(taps);
            if let Some(r) = reader {
                r.join().unwrap();
            }
        }
        // The clients live as long as their pairs; nothing reads them here. (Nothing was
        // sent if a filter skipped these benchmarks.)
        assert!(
            pairs
                .iter()
                .all(|p| p.client.as_ref().is_some_and(|c| c.is_alive()))
        );
        black_box(pairs.iter().map(|p| p.sent).sum::<u64>());
    }
    g.finish();
}

criterion_group!(tap_benches, benches);
criterion_main!(tap_benches);
