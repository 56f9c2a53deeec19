//! What active speaker detection costs:
//!
//! * `audio_level/packet`: the worker's per-packet work, an audio packet's level counted
//!   into its producer's window ([`AudioMeter::packet`]).
//! * `audio_level/window_100`: a window ending for 100 producers ([`AudioMeter::tick`]).
//! * `speakers/window_100_party`: one round of windows of a 100-party session through the
//!   session's [`SpeakerDetector`] — three people talking, the rest quiet (the router sends
//!   no windows for those once they are silent, so they cost nothing) — what the server
//!   does every `--speaker-interval` (250 ms) for such a session.
//!
//! `cargo bench -p parlor-router --bench speakers`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parlor_router::AudioLevelSample;
use parlor_router::audio_level::AudioMeter;
use parlor_router::speakers::SpeakerDetector;

const WINDOW: Duration = Duration::from_millis(250);

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("audio_level");
    g.throughput(Throughput::Elements(1));
    let mut meter = AudioMeter::default();
    let mut level = 0i8;
    g.bench_function("packet", |b| {
        b.iter(|| {
            level = level.wrapping_sub(7) | i8::MIN >> 1; // −64..−1, varied
            meter.packet(black_box(level));
        })
    });
    let mut meters: Vec<AudioMeter> = (0..100).map(|_| AudioMeter::default()).collect();
    let mut at = Instant::now();
    for m in &mut meters {
        m.tick(at, WINDOW);
    }
    g.throughput(Throughput::Elements(100));
    g.bench_function("window_100", |b| {
        b.iter(|| {
            at += WINDOW;
            let mut n = 0;
            for m in &mut meters {
                for _ in 0..12 {
                    m.packet(-30);
                }
                n += usize::from(m.tick(at, WINDOW).is_some());
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("speakers");
    let ids: Vec<String> = (0..100).map(|i| format!("stream-{i:03}")).collect();
    let talking = AudioLevelSample {
        window_ms: 250,
        packets: 12,
        voiced: 10,
        level: 30,
    };
    let mut detector = SpeakerDetector::default();
    let mut at = Instant::now();
    g.throughput(Throughput::Elements(3));
    g.bench_function("window_100_party", |b| {
        b.iter(|| {
            at += WINDOW;
            let mut changed = 0;
            for id in &ids[..3] {
                changed += usize::from(detector.sample(id, &talking, at));
            }
            changed
        })
    });
    // The worst case: all hundred talking at once.
    let mut detector = SpeakerDetector::default();
    g.throughput(Throughput::Elements(100));
    g.bench_function("window_100_all_talking", |b| {
        b.iter(|| {
            at += WINDOW;
            let mut changed = 0;
            for id in &ids {
                changed += usize::from(detector.sample(id, &talking, at));
            }
            changed
        })
    });
    g.finish();
}

criterion_group!(speakers, benches);
criterion_main!(speakers);
