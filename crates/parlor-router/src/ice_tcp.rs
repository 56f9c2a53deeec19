//! ICE over TCP (RFC 6544): the framing of datagrams on a TCP connection, without I/O.
//!
//! A client that cannot reach the router over UDP (a firewall that blocks it, a proxy that
//! passes only TCP) connects to the router's passive TCP candidate instead. On that
//! connection every STUN message, DTLS record and SRTP/SRTCP packet travels as one frame:
//! a 16-bit big-endian length, then that many bytes (RFC 4571). Past the framing the
//! router treats a frame exactly like a UDP datagram; the worker's TCP side
//! (`worker/tcp.rs`) does the socket I/O around the two types here.
//!
//! Both sides bound their memory: [`FrameReader`] holds at most one partial frame (64 KiB),
//! [`FrameWriter`] refuses frames once [`WRITE_LIMIT`] bytes wait to be written (a peer
//! that does not read loses datagrams, as it would on a congested UDP path; the connection
//! is not torn down for it).

/// The largest frame RFC 4571 can carry.
pub const MAX_FRAME: usize = u16::MAX as usize;
/// Bytes a connection may have waiting to be written before new frames are dropped:
/// about 0.8 s of a 4 Mbit/s subscription, far more than a healthy connection queues.
pub const WRITE_LIMIT: usize = 512 * 1024;
/// The most ICE-TCP connections the router holds from one IP address at once: an office
/// behind one NAT address needs about two per peer connection; one host cannot take every
/// slot (the router holds 4096 in all).
pub const MAX_CONNECTIONS_PER_IP: usize = 256;
/// Read buffer size to start with; it grows (to one maximal frame) only for big frames.
const INITIAL_READ: usize = 4096;

/// Reassembles frames from the bytes of a TCP stream. The default is empty and allocates
/// nothing until it is first read into.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Bytes of `buf` filled (from the start).
    filled: usize,
    /// Where the next frame starts.
    start: usize,
}

impl FrameReader {
    /// The free space to read into: at least enough for the frame being received (the
    /// buffer grows for it) or, between frames, some space.
    pub fn spare(&mut self) -> &mut [u8] {
        self.compact();
        let want = match self.pending_len() {
            Some(len) => self.start + 2 + len,
            None => self.filled + 1,
        };
        if want > self.buf.len() {
            let size = want
                .max(self.buf.len() * 2)
                .clamp(INITIAL_READ, 2 + MAX_FRAME);
            self.buf.resize(size, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// Records that `n` bytes were read into [`FrameReader::spare`].
    pub fn filled(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Option<&[u8]> {
        let len = self.pending_len()?;
        let begin = self.start + 2;
        if self.filled < begin + len {
            return None;
        }
        self.start = begin + len;
        Some(&self.buf[begin..begin + len])
    }

    /// The length announced by the frame being received, once its header is in.
    fn pending_len(&self) -> Option<usize> {
        let header = self.buf.get(self.start..self.start + 2)?;
        (self.filled >= self.start + 2).then(|| u16::from_be_bytes([header[0], header[1]]) as usize)
    }

    /// Moves the partial frame to the front of the buffer.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        self.buf.copy_within(self.start..self.filled, 0);
        self.filled -= self.start;
        self.start = 0;
    }
}

/// Frames waiting to be written to a TCP stream.
#[derive(Debug, Default)]
pub struct FrameWriter {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    written: usize,
}

impl FrameWriter {
    /// Queues one datagram as a frame. `false`: it was dropped (too big for a frame, or
    /// the peer is too far behind).
    pub fn push(&mut self, datagram: &[u8]) -> bool {
        if datagram.len() > MAX_FRAME || self.pending() + 2 + datagram.len() > WRITE_LIMIT {
            return false;
        }
        if self.written > 0 && self.written == self.buf.len() {
            self.buf.clear();
            self.written = 0;
        }
        self.buf
            .extend_from_slice(&(datagram.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(datagram);
        true
    }

    /// The bytes to write next.
    pub fn unwritten(&self) -> &[u8] {
        &self.buf[self.written..]
    }

    /// Records that `n` bytes of [`FrameWriter::unwritten`] were written.
    pub fn wrote(&mut self, n: usize) {
        self.written = (self.written + n).min(self.buf.len());
        if self.written == self.buf.len() {
            self.buf.clear();
            self.written = 0;
        } else if self.written > WRITE_LIMIT / 2 {
            self.buf.drain(..self.written);
            self.written = 0;
        }
    }

    /// Bytes queued and not written yet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(r: &mut FrameReader, mut bytes: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let spare = r.spare();
            let n = spare.len().min(chunk).min(bytes.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            r.filled(n);
            bytes = &bytes[n..];
            while let Some(f) = r.next_frame() {
                frames.push(f.to_vec());
            }
        }
        frames
    }

    fn framed(datagrams: &[Vec<u8>]) -> Vec<u8> {
        let mut w = FrameWriter::default();
        for d in datagrams {
            assert!(w.push(d));
        }
        w.unwritten().to_vec()
    }

    #[test]
    fn frames_survive_any_split_of_the_stream() {
        let datagrams: Vec<Vec<u8>> = [0usize, 1, 20, 1200, 5000, MAX_FRAME, 3]
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|b| (b * 7 + i) as u8).collect())
            .collect();
        let stream = framed(&datagrams);
        for chunk in [1, 2, 3, 1500, 65536, usize::MAX] {
            let mut r = FrameReader::default();
            assert_eq!(feed(&mut r, &stream, chunk), datagrams, "chunk {chunk}");
        }
    }

    #[test]
    fn the_reader_never_holds_more_than_one_frame() {
        let mut r = FrameReader::default();
        let stream = framed(&vec![vec![1u8; MAX_FRAME]; 4]);
        assert_eq!(feed(&mut r, &stream, 40_000).len(), 4);
        assert!(r.buf.len() <= 2 + MAX_FRAME);
    }

    #[test]
    fn a_peer_that_does_not_read_loses_frames_not_memory() {
        let mut w = FrameWriter::default();
        let datagram = [0u8; 1200];
        let mut accepted = 0;
        while w.push(&datagram) {
            accepted += 1;
        }
        assert_eq!(accepted, WRITE_LIMIT / 1202);
        assert!(w.pending() <= WRITE_LIMIT);
        // Once it reads, frames are accepted again, and the stream stays well formed.
        let n = w.unwritten().len() - 100;
        let mut out = w.unwritten()[..n].to_vec();
        w.wrote(n);
        assert!(w.push(&[9, 9]));
        out.extend_from_slice(w.unwritten());
        let frames = feed(&mut FrameReader::default(), &out, 4096);
        assert_eq!(frames.len(), accepted + 1);
        assert_eq!(frames.last().unwrap(), &vec![9, 9]);
    }

    #[test]
    fn too_big_a_datagram_is_refused() {
        assert!(!FrameWriter::default().push(&vec![0; MAX_FRAME + 1]));
    }
}
