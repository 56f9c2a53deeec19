//! Heap bytes per consumer transport: what one subscription costs the router in memory,
//! measured with a counting allocator around connected str0m pairs (real ICE, DTLS, SRTP;
//! no sockets).
//!
//! Prints the server side's live heap per transport just after connecting (idle) and after
//! forwarding video for a while (send/RTX buffers filled), the payloads themselves excluded
//! (they are shared by every consumer of a producer).
//!
//! `cargo bench -p parlor-router --bench memory`

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use common::Pair;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const TRANSPORTS: u16 = 50;
/// Packets forwarded per transport, 16 ms apart (~600 kbps of 1100-byte packets): 48 s,
/// past every buffer's time window.
const PACKETS: u64 = 3000;
const SPACING: Duration = Duration::from_millis(16);

fn main() {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let payload: Arc<[u8]> = vec![0x5a; 1100].into();
    let base = live();
    let mut pairs: Vec<Pair> = (0..TRANSPORTS).map(Pair::connect).collect();
    for p in &mut pairs {
        p.client = None;
        p.spacing = SPACING;
    }
    let idle = live() - base;
    for seq in 1..=PACKETS {
        for p in &mut pairs {
            p.forward(seq, &payload);
        }
    }
    assert!(pairs.iter().all(|p| p.sent == PACKETS));
    let busy = live() - base;
    let per = |bytes: isize| bytes as f64 / f64::from(TRANSPORTS) / 1024.0;
    println!("consumer transport heap, {TRANSPORTS} transports (server side):");
    println!("  connected, idle:            {:8.1} KiB each", per(idle));
    println!(
        "  after {PACKETS} video packets:  {:8.1} KiB each",
        per(busy)
    );
    println!(
        "  (the RTX window holds one {}-byte str0m RtpPacket per video packet sent)",
        std::mem::size_of::<str0m::rtp::RtpPacket>()
    );
}
