//! `parlor-bench udp-floor`: what the kernel alone costs to send the datagrams an SFU sends.
//!
//! One thread on the SFU's CPU sends datagrams of the forwarded size, round robin to N
//! loopback receivers, in `sendmmsg` batches through the router's own `Outbox`; one thread
//! on the load CPU drains the receivers. Sent datagrams per CPU-second of the sending thread
//! is the ceiling no forwarding code can beat on this machine (on loopback, the receivers'
//! delivery runs on the sender's core and is part of it, as it is for the SFU in the bench).
//! Like the router, it hands the outbox one owned buffer per datagram (there, str0m's SRTP
//! output): an allocation and a copy per datagram, counted in the figure.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parlor_router::outbox::Outbox;
use serde::Serialize;

use crate::procfs;

#[derive(Debug, Serialize)]
pub struct Floor {
    pub destinations: usize,
    pub datagram_bytes: usize,
    pub sent: u64,
    pub received: u64,
    pub sent_per_s: f64,
    /// Datagrams sent per CPU-second of the sending thread: the kernel's ceiling.
    pub sent_per_cpu_s: f64,
    pub sender_cpu_pct: f64,
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime writes into the timespec it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub fn run(
    destinations: usize,
    datagram_bytes: usize,
    duration: Duration,
    send_cpu: usize,
    receive_cpu: usize,
) -> anyhow::Result<Floor> {
    let receivers = (0..destinations)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let addrs: Vec<SocketAddr> = receivers
        .iter()
        .map(|s| s.local_addr())
        .collect::<std::io::Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let reader = {
        let (stop, received) = (stop.clone(), received.clone());
        std::thread::spawn(move || -> anyhow::Result<()> {
            procfs::pin_self(receive_cpu)?;
            let mut buf = vec![0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let mut got = 0;
                for r in &receivers {
                    while r.recv(&mut buf).is_ok() {
                        got += 1;
                    }
                }
                received.fetch_add(got, Ordering::Relaxed);
                if got == 0 {
                    std::thread::yield_now();
                }
            }
            Ok(())
        })
    };
    let sender = std::thread::spawn(move || -> anyhow::Result<(u64, Duration, Duration)> {
        procfs::pin_self(send_cpu)?;
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        let mut outbox = Outbox::default();
        let payload = vec![0x5au8; datagram_bytes];
        let (start, cpu0) = (Instant::now(), thread_cpu());
        let mut sent = 0u64;
        let mut next = 0usize;
        while start.elapsed() < duration {
            for _ in 0..parlor_router::outbox::BATCH {
                outbox.push(addrs[next], payload.clone());
                next = (next + 1) % addrs.len();
            }
            sent += outbox.flush(&socket).sent;
        }
        Ok((sent, start.elapsed(), thread_cpu() - cpu0))
    });
    let (sent, wall, cpu) = sender
        .join()
        .map_err(|_| anyhow::anyhow!("sender panicked"))??;
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("reader panicked"))??;
    let (wall, cpu) = (wall.as_secs_f64(), cpu.as_secs_f64().max(1e-9));
    Ok(Floor {
        destinations,
        datagram_bytes,
        sent,
        received: received.load(Ordering::Relaxed),
        sent_per_s: sent as f64 / wall,
        sent_per_cpu_s: sent as f64 / cpu,
        sender_cpu_pct: 100.0 * cpu / wall,
    })
}
