//! A client's SDP offer as the media router takes it: `publish` and `subscribe` hand the
//! offer to `RouterHandle::create_producer` / `create_consumer`, whose worker parses it
//! (str0m), builds the transport and accepts the offer (ICE-lite, RTP mode, Opus/VP8/H.264)
//! and answers. The real router runs on its own thread, bound to loopback, as in
//! `parlor serve`.
//!
//! Checked: nothing panics (the worker's own panic guard is bypassed: libFuzzer aborts on
//! any panic); an accepted offer's answer is SDP str0m parses back, with `a=ice-lite` and
//! the server's host candidate; a refused offer's error names no parser internals (no
//! memory addresses); every transport made is gone after `close` (checked every 16
//! inputs: the router then holds no consumer and at most the one producer; a cross-thread
//! round trip per input would halve the rate).
//!
//! Input: the first byte chooses producer or consumer (of a producer made from a real
//! offer at start-up) and what the consumer asks for; the rest is the offer (as UTF-8, as
//! the JSON message carries it).
#![no_main]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use parlor_router::{ConsumerMedia, RouterConfig, RouterError, RouterHandle, TransportId};

/// A publisher's offer from Chromium: the producer consumers attach to.
const PRODUCER_OFFER: &str = include_str!("../fixtures/chromium-publish-audio-video.sdp");

struct Fixture {
    rt: tokio::runtime::Runtime,
    router: RouterHandle,
    /// The producer consumers attach to (remade when the router closed it: it never
    /// connects, so it times out after 20 s).
    producer: Mutex<(TransportId, u32)>,
    inputs: AtomicU32,
}

/// Makes a new producer from the seed offer.
fn new_producer(f: &Fixture, n: u32) -> TransportId {
    let id: TransportId = Arc::from(format!("producer-{n}"));
    f.rt.block_on(
        f.router
            .create_producer(id.clone(), PRODUCER_OFFER.to_owned()),
    )
    .expect("the seed publisher offer is accepted");
    id
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (router, events) = RouterHandle::start(RouterConfig {
            bind: "127.0.0.1:0".parse().expect("address"),
            advertise_ip: None,
            quality_interval: None,
            tcp_port: None,
            audio_level_interval: None,
            disconnect_grace: parlor_router::DEFAULT_DISCONNECT_GRACE,
        })
        .expect("router");
        // Nobody reads the events (transports never connect here); keep the channel open.
        std::mem::forget(events);
        let f = Fixture {
            rt,
            router,
            producer: Mutex::new((Arc::from(""), 0)),
            inputs: AtomicU32::new(0),
        };
        let first = new_producer(&f, 0);
        *f.producer.lock().expect("lock") = (first, 0);
        f
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, offer)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let offer = String::from_utf8_lossy(offer).into_owned();
    let id: TransportId = Arc::from("fuzzed");
    let media = ConsumerMedia {
        audio: mode & 2 != 0,
        video: mode & 4 != 0,
    };
    let consume = |producer: TransportId, offer: String| {
        f.rt.block_on(f.router.create_consumer(id.clone(), producer, offer, media))
    };
    let result = if mode & 1 == 0 {
        f.rt.block_on(f.router.create_producer(id.clone(), offer))
    } else {
        let producer = f.producer.lock().expect("lock").0.clone();
        match consume(producer, offer.clone()) {
            Err(RouterError::UnknownProducer(_)) => {
                let mut p = f.producer.lock().expect("lock");
                p.1 += 1;
                p.0 = new_producer(f, p.1);
                consume(p.0.clone(), offer)
            }
            other => other,
        }
    };
    match result {
        Ok(answer) => {
            let parsed = str0m::change::SdpAnswer::from_sdp_string(&answer);
            assert!(parsed.is_ok(), "the answer does not parse: {answer}");
            assert!(answer.contains("a=ice-lite"), "{answer}");
            let candidate = format!(" {} typ host", f.router.advertised_addr().port());
            assert!(answer.contains(&candidate), "{answer}");
        }
        Err(RouterError::Sdp(why)) => {
            assert!(!why.contains("PointerOffset"), "{why}");
        }
        Err(e) => panic!("unexpected router error: {e}"),
    }
    f.router.close(id);
    if f.inputs.fetch_add(1, Ordering::Relaxed) % 16 == 0 {
        let stats = f.rt.block_on(f.router.stats()).expect("stats");
        assert!(
            stats.consumers == 0 && stats.producers <= 1,
            "a transport outlived its close: {stats:?}"
        );
    }
});
