//! Batched sending: the worker queues the datagrams its transports produce and sends them
//! with one `sendmmsg(2)` per batch (Linux), instead of one `sendto(2)` each.

use std::net::SocketAddr;

use socket2::SockAddr;

/// Flush when this many datagrams are queued.
pub const BATCH: usize = 64;
/// Sent buffers kept for reuse (a few batches' worth).
const SPARE: usize = 4 * BATCH;

/// Datagrams waiting to be sent, and the scratch space to send them without allocating.
#[derive(Default)]
pub struct Outbox {
    datagrams: Vec<(SockAddr, Vec<u8>)>,
    /// Buffers of sent datagrams, emptied, for [`Outbox::buffer`].
    spare: Vec<Vec<u8>>,
    #[cfg(target_os = "linux")]
    iovs: Vec<libc::iovec>,
    #[cfg(target_os = "linux")]
    headers: Vec<libc::mmsghdr>,
}

// SAFETY: `iovs` and `headers` hold raw pointers only during `flush`, which fills them,
// uses them and clears them before returning; between calls they are empty, so moving an
// `Outbox` to another thread moves no live pointer.
#[cfg(target_os = "linux")]
unsafe impl Send for Outbox {}

/// What a flush did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    pub sent: u64,
    pub dropped: u64,
    pub syscalls: u64,
}

impl Outbox {
    /// Queues a datagram (its buffer is moved, not copied).
    pub fn push(&mut self, destination: SocketAddr, contents: Vec<u8>) {
        self.datagrams.push((SockAddr::from(destination), contents));
    }

    /// An empty buffer to build a datagram in: a sent one reused when there is one, so
    /// the send path allocates nothing in steady state.
    pub fn buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_else(|| Vec::with_capacity(1500))
    }

    pub fn len(&self) -> usize {
        self.datagrams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.datagrams.is_empty()
    }

    /// Sends everything queued on `socket`. A full socket buffer drops the rest of the batch,
    /// as a congested network would; other errors skip the one datagram.
    #[cfg(target_os = "linux")]
    pub fn flush(&mut self, socket: &impl std::os::fd::AsRawFd) -> Flushed {
        let mut f = Flushed::default();
        if self.datagrams.is_empty() {
            return f;
        }
        self.iovs.clear();
        self.headers.clear();
        for (addr, data) in &mut self.datagrams {
            self.iovs.push(libc::iovec {
                iov_base: data.as_mut_ptr().cast(),
                iov_len: data.len(),
            });
            // SAFETY: an all-zero mmsghdr is valid; the pointers are set below.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
            h.msg_hdr.msg_namelen = addr.len();
            self.headers.push(h);
        }
        for (h, iov) in self.headers.iter_mut().zip(self.iovs.iter_mut()) {
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
        }
        let fd = socket.as_raw_fd();
        let mut at = 0;
        while at < self.headers.len() {
            let n = (self.headers.len() - at).min(1024);
            // SAFETY: headers[at..at+n] point at iovecs and addresses that live in `self`
            // until this function returns; sendmmsg only reads them.
            let r = unsafe { libc::sendmmsg(fd, self.headers.as_mut_ptr().add(at), n as u32, 0) };
            f.syscalls += 1;
            if r > 0 {
                at += r as usize;
                f.sent += r as u64;
                continue;
            }
            let err = std::io::Error::last_os_error();
            match err.kind() {
                std::io::ErrorKind::WouldBlock => {
                    f.dropped += (self.headers.len() - at) as u64;
                    break;
                }
                std::io::ErrorKind::Interrupted => continue,
                _ => {
                    // One bad destination (e.g. unreachable): skip it, send the rest.
                    tracing::trace!(error = %err, "sendmmsg failed for one datagram");
                    f.dropped += 1;
                    at += 1;
                }
            }
        }
        self.headers.clear();
        self.iovs.clear();
        self.recycle();
        f
    }

    fn recycle(&mut self) {
        for (_, mut data) in self.datagrams.drain(..) {
            if self.spare.len() < SPARE {
                data.clear();
                self.spare.push(data);
            }
        }
    }

    /// Sends everything queued, one datagram at a time (non-Linux).
    #[cfg(not(target_os = "linux"))]
    pub fn flush(&mut self, socket: &mio::net::UdpSocket) -> Flushed {
        let mut f = Flushed::default();
        for (addr, data) in &self.datagrams {
            f.syscalls += 1;
            match addr.as_socket().map(|a| socket.send_to(data, a)) {
                Some(Ok(_)) => f.sent += 1,
                _ => f.dropped += 1,
            }
        }
        self.recycle();
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_a_batch_to_several_destinations() {
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let receivers: Vec<_> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut outbox = Outbox::default();
        for (i, r) in receivers.iter().enumerate() {
            for j in 0..5u8 {
                outbox.push(r.local_addr().unwrap(), vec![i as u8, j]);
            }
        }
        assert_eq!(outbox.len(), 15);
        let f = outbox.flush(&sender);
        assert_eq!((f.sent, f.dropped), (15, 0));
        assert!(outbox.is_empty());
        for (i, r) in receivers.iter().enumerate() {
            let mut buf = [0u8; 8];
            for j in 0..5u8 {
                let n = r.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], &[i as u8, j], "in order per destination");
            }
        }
    }
}
