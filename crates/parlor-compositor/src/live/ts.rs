//! The encoder's MPEG-TS output, read and fanned out to the RTMP targets.
//!
//! [`TsScanner`] looks at each 188-byte packet just enough to know the programme's PIDs
//! (PAT → PMT → the H.264 and AAC elementary streams), to count video frames (PES
//! starts on the video PID), and to find **start points**: a video PES start with the
//! random-access indicator (a key frame; ffmpeg's mpegts muxer sets it) or, without
//! video, any audio PES start. [`Fanout`] gives each target whole packets: a target
//! that (re)starts, or whose queue overflowed, is fed again from the next start point,
//! preceded by the latest PAT and PMT, so its ffmpeg sees a stream that decodes from its
//! first byte.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

use super::rtmp::TargetShared;

/// MPEG-TS packet size.
pub(crate) const PACKET: usize = 188;

/// What one packet is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PacketInfo {
    /// A point a receiver can start from.
    pub start_point: bool,
    /// The first packet of a video frame.
    pub video_frame: bool,
}

/// PIDs and the latest programme tables of a TS stream.
#[derive(Debug)]
pub(crate) struct TsScanner {
    pmt_pid: Option<u16>,
    video_pid: Option<u16>,
    audio_pid: Option<u16>,
    pat: Option<[u8; PACKET]>,
    pmt: Option<[u8; PACKET]>,
    /// Whether the programme has video (known from the configuration, so an audio start
    /// point is never taken while the PMT is not parsed yet).
    expect_video: bool,
}

impl TsScanner {
    /// A scanner for a stream that has video or not.
    pub(crate) fn new(expect_video: bool) -> Self {
        TsScanner {
            pmt_pid: None,
            video_pid: None,
            audio_pid: None,
            pat: None,
            pmt: None,
            expect_video,
        }
    }

    /// The latest PAT and PMT packets, once both were seen.
    pub(crate) fn tables(&self) -> Option<([u8; PACKET], [u8; PACKET])> {
        Some((self.pat?, self.pmt?))
    }

    /// Looks at one packet (which must start with the sync byte 0x47).
    pub(crate) fn scan(&mut self, p: &[u8]) -> PacketInfo {
        let mut info = PacketInfo::default();
        if p.len() != PACKET || p[0] != 0x47 {
            return info;
        }
        let pusi = p[1] & 0x40 != 0;
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        let afc = (p[3] >> 4) & 0x3;
        let (payload, rai) = match afc {
            1 => (4, false),
            3 => {
                let len = usize::from(p[4]);
                let rai = len > 0 && p[5] & 0x40 != 0;
                (5 + len, rai)
            }
            2 => (PACKET, p[4] > 0 && p[5] & 0x40 != 0),
            _ => (PACKET, false),
        };
        if payload >= PACKET {
            return info;
        }
        let body = &p[payload..];
        if pid == 0 && pusi {
            if let Some(pmt) = parse_pat(body) {
                self.pmt_pid = Some(pmt);
                self.pat = Some(p.try_into().unwrap_or([0; PACKET]));
            }
        } else if Some(pid) == self.pmt_pid && pusi {
            if let Some((video, audio)) = parse_pmt(body) {
                self.video_pid = video;
                self.audio_pid = audio;
                self.pmt = Some(p.try_into().unwrap_or([0; PACKET]));
            }
        } else if pusi && Some(pid) == self.video_pid {
            info.video_frame = true;
            info.start_point = rai;
        } else if pusi && Some(pid) == self.audio_pid && !self.expect_video {
            info.start_point = true;
        }
        info.start_point &= self.tables().is_some();
        info
    }
}

/// The PMT PID of the first programme in a PAT section (after the pointer field).
fn parse_pat(body: &[u8]) -> Option<u16> {
    let s = body.get(1 + usize::from(*body.first()?)..)?;
    if *s.first()? != 0x00 {
        return None;
    }
    let section_len = usize::from(u16::from_be_bytes([s[1] & 0x0f, *s.get(2)?]));
    let end = (3 + section_len).checked_sub(4)?.min(s.len());
    let mut i = 8;
    while i + 4 <= end {
        let programme = u16::from_be_bytes([s[i], s[i + 1]]);
        let pid = u16::from_be_bytes([s[i + 2] & 0x1f, s[i + 3]]);
        if programme != 0 {
            return Some(pid);
        }
        i += 4;
    }
    None
}

/// The H.264 and AAC PIDs of a PMT section (after the pointer field).
fn parse_pmt(body: &[u8]) -> Option<(Option<u16>, Option<u16>)> {
    let s = body.get(1 + usize::from(*body.first()?)..)?;
    if *s.first()? != 0x02 {
        return None;
    }
    let section_len = usize::from(u16::from_be_bytes([s[1] & 0x0f, *s.get(2)?]));
    let end = (3 + section_len).checked_sub(4)?.min(s.len());
    let info_len = usize::from(u16::from_be_bytes([*s.get(10)? & 0x0f, *s.get(11)?]));
    let mut i = 12 + info_len;
    let (mut video, mut audio) = (None, None);
    while i + 5 <= end {
        let kind = s[i];
        let pid = u16::from_be_bytes([s[i + 1] & 0x1f, s[i + 2]]);
        let es_info = usize::from(u16::from_be_bytes([s[i + 3] & 0x0f, s[i + 4]]));
        match kind {
            0x1b if video.is_none() => video = Some(pid),
            0x0f | 0x11 if audio.is_none() => audio = Some(pid),
            _ => {}
        }
        i += 5 + es_info;
    }
    Some((video, audio))
}

/// A chunk for one target: the feed generation it was cut for, and whole TS packets.
pub(crate) type Chunk = (u64, Arc<[u8]>);

/// One target as the fan-out sees it.
pub(crate) struct Feed {
    pub shared: Arc<TargetShared>,
    pub tx: SyncSender<Chunk>,
    /// The generation this feed is in step with (0: none).
    synced: u64,
}

impl Feed {
    /// A feed for a target.
    pub(crate) fn new(shared: Arc<TargetShared>, tx: SyncSender<Chunk>) -> Self {
        Feed {
            shared,
            tx,
            synced: 0,
        }
    }
}

/// Splits the encoder's output into packets and hands it to every target.
pub(crate) struct Fanout {
    scanner: TsScanner,
    feeds: Vec<Feed>,
    /// Bytes of an incomplete packet carried to the next read.
    rest: Vec<u8>,
    /// Reused per read: the aligned bytes.
    buf: Vec<u8>,
}

impl Fanout {
    /// A fan-out to `feeds` for a stream with video or not.
    pub(crate) fn new(feeds: Vec<Feed>, has_video: bool) -> Self {
        Fanout {
            scanner: TsScanner::new(has_video),
            feeds,
            rest: Vec::with_capacity(PACKET),
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// Starts over for a new encoder run (new PIDs and tables; every target resyncs).
    pub(crate) fn reset(&mut self, has_video: bool) {
        self.scanner = TsScanner::new(has_video);
        self.rest.clear();
        for f in &mut self.feeds {
            f.synced = 0;
        }
    }

    /// The feeds (to drop them at the end, which ends the targets' input).
    pub(crate) fn into_feeds(self) -> Vec<Feed> {
        self.feeds
    }

    /// Takes bytes read from the encoder; returns the number of video frames that began
    /// in them.
    pub(crate) fn push(&mut self, data: &[u8]) -> u32 {
        self.buf.clear();
        self.buf.extend_from_slice(&self.rest);
        self.buf.extend_from_slice(data);
        self.rest.clear();
        // Resynchronise on the sync byte if the stream is ever misaligned.
        let mut start = 0;
        while start < self.buf.len() && self.buf[start] != 0x47 {
            start += 1;
        }
        let whole = (self.buf.len() - start) / PACKET * PACKET;
        let (aligned, tail) = self.buf[start..].split_at(whole);
        self.rest.extend_from_slice(tail);
        let mut frames = 0;
        let mut first_start = None;
        for (i, p) in aligned.chunks_exact(PACKET).enumerate() {
            let info = self.scanner.scan(p);
            frames += u32::from(info.video_frame);
            if info.start_point && first_start.is_none() {
                first_start = Some(i * PACKET);
            }
        }
        if aligned.is_empty() {
            return frames;
        }
        let mut whole_chunk: Option<Arc<[u8]>> = None;
        for feed in &mut self.feeds {
            let generation = feed.shared.generation();
            if generation == 0 {
                feed.synced = 0;
                continue;
            }
            let chunk = if feed.synced == generation {
                whole_chunk
                    .get_or_insert_with(|| Arc::from(aligned))
                    .clone()
            } else if let (Some(at), Some((pat, pmt))) = (first_start, self.scanner.tables()) {
                let mut v = Vec::with_capacity(2 * PACKET + aligned.len() - at);
                v.extend_from_slice(&pat);
                v.extend_from_slice(&pmt);
                v.extend_from_slice(&aligned[at..]);
                feed.synced = generation;
                Arc::from(v)
            } else {
                continue;
            };
            match feed.tx.try_send((generation, chunk)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    // Lost bytes break the stream: start again from the next start point.
                    feed.shared.count_dropped();
                    feed.synced = 0;
                }
                Err(TrySendError::Disconnected(_)) => feed.synced = 0,
            }
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pid: u16, pusi: bool, rai: bool, payload: &[u8]) -> [u8; PACKET] {
        let mut p = [0xffu8; PACKET];
        p[0] = 0x47;
        p[1] = (u8::from(pusi) << 6) | (pid >> 8) as u8;
        p[2] = pid as u8;
        if rai {
            p[3] = 0x30;
            p[4] = 1;
            p[5] = 0x40;
            p[6..6 + payload.len()].copy_from_slice(payload);
        } else {
            p[3] = 0x10;
            p[4..4 + payload.len()].copy_from_slice(payload);
        }
        p
    }

    /// A PAT naming PMT PID 0x1000 and a PMT with H.264 on 0x100 and AAC on 0x101, as
    /// ffmpeg writes them (CRCs are not checked).
    fn tables() -> ([u8; PACKET], [u8; PACKET]) {
        let pat = [
            0, 0x00, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0x00, 0, 0, 0, 0,
        ];
        let pmt = [
            0, 0x02, 0xb0, 23, 0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0, 0x1b, 0xe1, 0x00, 0xf0, 0,
            0x0f, 0xe1, 0x01, 0xf0, 0, 0, 0, 0, 0,
        ];
        (
            packet(0, true, false, &pat),
            packet(0x1000, true, false, &pmt),
        )
    }

    #[test]
    fn scanner_finds_pids_frames_and_keyframes() {
        let (pat, pmt) = tables();
        let mut s = TsScanner::new(true);
        assert_eq!(
            s.scan(&packet(0x100, true, true, &[0, 0, 1])),
            PacketInfo::default()
        );
        s.scan(&pat);
        s.scan(&pmt);
        assert!(s.tables().is_some());
        let key = s.scan(&packet(0x100, true, true, &[0, 0, 1]));
        assert!(key.start_point && key.video_frame);
        let delta = s.scan(&packet(0x100, true, false, &[0, 0, 1]));
        assert!(!delta.start_point && delta.video_frame);
        let cont = s.scan(&packet(0x100, false, false, &[1, 2, 3]));
        assert_eq!(cont, PacketInfo::default());
        // With video, audio is never a start point.
        assert!(!s.scan(&packet(0x101, true, false, &[0, 0, 1])).start_point);
        let mut a = TsScanner::new(false);
        a.scan(&pat);
        a.scan(&pmt);
        assert!(a.scan(&packet(0x101, true, false, &[0, 0, 1])).start_point);
    }

    #[test]
    fn fanout_starts_a_target_at_a_keyframe_after_the_tables() {
        let (pat, pmt) = tables();
        let shared = Arc::new(TargetShared::new("t".into(), "rtmp://x/y".into()));
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let mut f = Fanout::new(vec![Feed::new(shared.clone(), tx)], true);
        shared.set_generation(7);
        let delta = packet(0x100, true, false, &[0, 0, 1]);
        let key = packet(0x100, true, true, &[0, 0, 1]);
        let mut bytes = Vec::new();
        for p in [pat, pmt, delta, key, delta] {
            bytes.extend_from_slice(&p);
        }
        // Split mid-packet: the fan-out keeps the partial packet for the next read. No
        // start point yet: nothing is sent.
        let cut = 3 * PACKET + 100;
        assert_eq!(f.push(&bytes[..cut]), 1);
        assert!(rx.try_recv().is_err());
        assert_eq!(f.push(&bytes[cut..]), 2);
        let (generation, chunk) = rx.try_recv().unwrap();
        assert_eq!(generation, 7);
        // The tables, then the keyframe and what follows it.
        assert_eq!(chunk.len(), 4 * PACKET);
        assert_eq!(&chunk[..PACKET], &pat);
        assert_eq!(&chunk[PACKET..2 * PACKET], &pmt);
        assert_eq!(&chunk[2 * PACKET..3 * PACKET], &key);
        // Whole chunks from then on; a full queue drops and resyncs.
        f.push(&delta);
        f.push(&delta);
        f.push(&delta);
        assert_eq!(shared.dropped(), 1);
        rx.try_recv().unwrap();
        rx.try_recv().unwrap();
        f.push(&delta);
        assert!(rx.try_recv().is_err(), "waits for a keyframe after a drop");
        f.push(&key);
        assert_eq!(rx.try_recv().unwrap().1.len(), 3 * PACKET);
    }
}
