//! VP8 frames and their RTP payload format ([RFC 7741]).
//!
//! # Payload descriptor
//!
//! Every RTP payload starts with a descriptor of 1 to 6 bytes:
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |X|R|N|S|R| PID | (REQUIRED)
//!      +-+-+-+-+-+-+-+-+
//! X:   |I|L|T|K| RSV   | (OPTIONAL)
//!      +-+-+-+-+-+-+-+-+
//! I:   |M| PictureID   | (OPTIONAL; M=1: 15-bit ID over two bytes)
//!      +-+-+-+-+-+-+-+-+
//! L:   |   TL0PICIDX   | (OPTIONAL)
//!      +-+-+-+-+-+-+-+-+
//! T/K: |TID|Y| KEYIDX  | (OPTIONAL; present if T or K is set)
//!      +-+-+-+-+-+-+-+-+
//! ```
//!
//! `S` marks the first packet of a VP8 partition and `PID` its index, so `S=1, PID=0`
//! starts a frame. The RTP marker bit is set on a frame's last packet. The frame itself
//! starts with a 3-byte frame tag whose bit 0 (`P`) is 0 for key frames, which then
//! continue with the start code `9d 01 2a` and the 14-bit width and height.
//!
//! [`Vp8Packetizer`] writes 4-byte descriptors (`X=1`, `I=1`, `M=1` with a 15-bit
//! picture ID, `PID=0`) and does not align packets to partitions, like libwebrtc.
//! [`Vp8Depacketizer`] accepts every descriptor variant.
//!
//! [RFC 7741]: https://www.rfc-editor.org/rfc/rfc7741

/// Length of the descriptor [`Vp8Packetizer`] writes.
pub const DESCRIPTOR_LEN: usize = 4;

/// Largest frame [`Vp8Depacketizer`] reassembles (16 MiB, as
/// [`ivf::MAX_FRAME_LEN`](crate::ivf::MAX_FRAME_LEN)).
pub const MAX_FRAME_LEN: usize = 16 << 20;

/// Picture IDs are 15 bits and wrap from `0x7fff` to 0.
const PICTURE_ID_MASK: u16 = 0x7fff;

/// Errors packetizing or depacketizing VP8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Vp8Error {
    /// [`Vp8Packetizer::packetize`] was given an empty frame.
    #[error("cannot packetize an empty VP8 frame")]
    EmptyFrame,
    /// `max_payload` leaves no room for frame data after the descriptor.
    #[error(
        "max payload of {max_payload} bytes leaves no room after the {DESCRIPTOR_LEN}-byte descriptor"
    )]
    MaxPayloadTooSmall {
        /// The size asked for.
        max_payload: usize,
    },
    /// The payload ends inside the descriptor its flags announce.
    #[error("truncated VP8 payload descriptor: needs {needed} bytes, payload has {len}")]
    TruncatedDescriptor {
        /// Bytes the descriptor needs.
        needed: usize,
        /// Bytes in the payload.
        len: usize,
    },
    /// The payload holds a descriptor but no VP8 data.
    #[error("VP8 RTP payload carries no data after its descriptor")]
    EmptyPayload,
    /// A reassembled frame exceeds [`MAX_FRAME_LEN`]; it is discarded.
    #[error("reassembled VP8 frame exceeds {max} bytes")]
    FrameTooLarge {
        /// The limit.
        max: usize,
    },
}

/// Whether a VP8 frame is a key frame: the frame tag's inverse key frame bit (bit 0 of
/// byte 0) is 0 and the start code `9d 01 2a` follows the 3-byte tag.
///
/// Needs the first 6 bytes of the frame; shorter input is not a key frame.
pub fn is_keyframe(frame: &[u8]) -> bool {
    frame.len() >= 6 && frame[0] & 0x01 == 0 && frame[3..6] == [0x9d, 0x01, 0x2a]
}

/// A key frame's width and height (the 14-bit fields after the start code; the scaling
/// bits are ignored), or `None` for an inter frame or a truncated one.
pub fn keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    if !is_keyframe(frame) || frame.len() < 10 {
        return None;
    }
    let w = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let h = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((w, h))
}

/// Whether an RTP VP8 payload is the first packet of a key frame: its descriptor parses,
/// has `S=1` and `PID=0`, and the data after it passes [`is_keyframe`] (so the packet
/// must hold at least the frame's first 6 bytes, which every sender does).
pub fn payload_starts_keyframe(payload: &[u8]) -> bool {
    match Vp8Descriptor::parse(payload) {
        Ok(d) => d.starts_frame() && is_keyframe(&payload[d.len..]),
        Err(_) => false,
    }
}

/// A parsed VP8 payload descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vp8Descriptor {
    /// `N`: the frame is not used as a reference and can be dropped.
    pub non_reference: bool,
    /// `S`: this packet starts a VP8 partition.
    pub start_of_partition: bool,
    /// `PID`: the partition index (0–7).
    pub partition_index: u8,
    /// The picture ID, 7 or 15 bits, if present (`I=1`).
    pub picture_id: Option<u16>,
    /// Whether the picture ID was sent in the 15-bit form (`M=1`).
    pub long_picture_id: bool,
    /// `TL0PICIDX`, if present (`L=1`).
    pub tl0_pic_idx: Option<u8>,
    /// `TID`, the temporal layer index, if present (`T=1`).
    pub temporal_layer: Option<u8>,
    /// `Y`: layer sync bit (meaningful only with `T=1`).
    pub layer_sync: bool,
    /// `KEYIDX`, if present (`K=1`).
    pub key_index: Option<u8>,
    /// Length of the descriptor in bytes; the VP8 data starts here.
    pub len: usize,
}

impl Vp8Descriptor {
    /// Parses the descriptor at the start of an RTP payload.
    ///
    /// Reserved bits are ignored, as RFC 7741 requires. Errors if the payload ends
    /// inside the descriptor or carries no data after it.
    pub fn parse(payload: &[u8]) -> Result<Self, Vp8Error> {
        let truncated = |needed| Vp8Error::TruncatedDescriptor {
            needed,
            len: payload.len(),
        };
        let &b0 = payload.first().ok_or(truncated(1))?;
        let mut d = Vp8Descriptor {
            non_reference: b0 & 0x20 != 0,
            start_of_partition: b0 & 0x10 != 0,
            partition_index: b0 & 0x07,
            len: 1,
            ..Vp8Descriptor::default()
        };
        if b0 & 0x80 != 0 {
            let &x = payload.get(1).ok_or(truncated(2))?;
            d.len = 2;
            let (i, l, t, k) = (x & 0x80 != 0, x & 0x40 != 0, x & 0x20 != 0, x & 0x10 != 0);
            if i {
                let &p0 = payload.get(d.len).ok_or(truncated(d.len + 1))?;
                if p0 & 0x80 != 0 {
                    let &p1 = payload.get(d.len + 1).ok_or(truncated(d.len + 2))?;
                    d.picture_id = Some(u16::from(p0 & 0x7f) << 8 | u16::from(p1));
                    d.long_picture_id = true;
                    d.len += 2;
                } else {
                    d.picture_id = Some(u16::from(p0));
                    d.len += 1;
                }
            }
            if l {
                d.tl0_pic_idx = Some(*payload.get(d.len).ok_or(truncated(d.len + 1))?);
                d.len += 1;
            }
            if t || k {
                let &tk = payload.get(d.len).ok_or(truncated(d.len + 1))?;
                d.len += 1;
                if t {
                    d.temporal_layer = Some(tk >> 6);
                    d.layer_sync = tk & 0x20 != 0;
                }
                if k {
                    d.key_index = Some(tk & 0x1f);
                }
            }
        }
        if payload.len() <= d.len {
            return Err(Vp8Error::EmptyPayload);
        }
        Ok(d)
    }

    /// Whether this packet starts a frame (`S=1`, `PID=0`).
    pub fn starts_frame(&self) -> bool {
        self.start_of_partition && self.partition_index == 0
    }
}

/// Splits VP8 frames into RTP payloads.
///
/// ```
/// use parlor_media::vp8::Vp8Packetizer;
///
/// let frame = vec![0u8; 3000];
/// let mut packetizer = Vp8Packetizer::new(100);
/// let mut rtp_payload = Vec::with_capacity(1200);
/// for packet in packetizer.packetize(&frame, 1200).unwrap() {
///     rtp_payload.clear();
///     packet.append_to(&mut rtp_payload);
///     assert!(rtp_payload.len() <= 1200);
///     // send(rtp_header_with_marker(packet.last), &rtp_payload) ...
/// }
/// assert_eq!(packetizer.picture_id(), 101);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Packetizer {
    /// The picture ID the next frame gets (15 bits; higher bits are ignored).
    pub picture_id: u16,
}

impl Vp8Packetizer {
    /// A packetizer whose first frame gets `initial_picture_id` (masked to 15 bits).
    /// WebRTC senders start from a random ID.
    pub fn new(initial_picture_id: u16) -> Self {
        Vp8Packetizer {
            picture_id: initial_picture_id & PICTURE_ID_MASK,
        }
    }

    /// The picture ID the next frame will get.
    pub fn picture_id(&self) -> u16 {
        self.picture_id & PICTURE_ID_MASK
    }

    /// Splits `frame` into payloads of at most `max_payload` bytes (descriptor
    /// included) and advances the picture ID (once per frame, wrapping at 15 bits).
    ///
    /// The frame is split into the fewest packets possible with sizes balanced to
    /// within one byte (libwebrtc does the same), so no runt packet trails a frame.
    /// The returned iterator borrows `frame` and allocates nothing.
    pub fn packetize<'a>(
        &mut self,
        frame: &'a [u8],
        max_payload: usize,
    ) -> Result<Vp8Packets<'a>, Vp8Error> {
        if frame.is_empty() {
            return Err(Vp8Error::EmptyFrame);
        }
        if max_payload <= DESCRIPTOR_LEN {
            return Err(Vp8Error::MaxPayloadTooSmall { max_payload });
        }
        let capacity = max_payload - DESCRIPTOR_LEN;
        let count = frame.len().div_ceil(capacity);
        // The field is public: mask here rather than trust it.
        let picture_id = self.picture_id & PICTURE_ID_MASK;
        self.picture_id = (picture_id + 1) & PICTURE_ID_MASK;
        Ok(Vp8Packets {
            frame,
            picture_id,
            count,
            base: frame.len() / count,
            larger: frame.len() % count,
            index: 0,
            offset: 0,
        })
    }
}

/// The payloads of one frame, from [`Vp8Packetizer::packetize`].
#[derive(Debug, Clone)]
pub struct Vp8Packets<'a> {
    frame: &'a [u8],
    picture_id: u16,
    count: usize,
    /// Every packet carries `base` bytes of the frame, the first `larger` one more.
    base: usize,
    larger: usize,
    index: usize,
    offset: usize,
}

impl<'a> Vp8Packets<'a> {
    /// The picture ID these packets carry.
    pub fn picture_id(&self) -> u16 {
        self.picture_id
    }
}

impl<'a> Iterator for Vp8Packets<'a> {
    type Item = Vp8Packet<'a>;

    fn next(&mut self) -> Option<Vp8Packet<'a>> {
        if self.index == self.count {
            return None;
        }
        let first = self.index == 0;
        let len = self.base + usize::from(self.index < self.larger);
        let chunk = &self.frame[self.offset..self.offset + len];
        self.offset += len;
        self.index += 1;
        let [id_hi, id_lo] = self.picture_id.to_be_bytes();
        Some(Vp8Packet {
            // X=1, S on the first packet, PID=0 | I=1 | M=1 + 15-bit picture ID.
            descriptor: [
                0x80 | if first { 0x10 } else { 0 },
                0x80,
                0x80 | id_hi,
                id_lo,
            ],
            chunk,
            last: self.index == self.count,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.count - self.index;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Vp8Packets<'_> {}

/// One RTP payload: `descriptor` followed by `chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Packet<'a> {
    /// The payload descriptor.
    pub descriptor: [u8; DESCRIPTOR_LEN],
    /// The part of the frame this packet carries.
    pub chunk: &'a [u8],
    /// Last packet of the frame: set the RTP marker bit.
    pub last: bool,
}

impl Vp8Packet<'_> {
    /// Payload length (descriptor plus chunk).
    pub fn payload_len(&self) -> usize {
        DESCRIPTOR_LEN + self.chunk.len()
    }

    /// Appends the payload (descriptor, then chunk) to `out`, e.g. after an RTP header.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.payload_len());
        out.extend_from_slice(&self.descriptor);
        out.extend_from_slice(self.chunk);
    }
}

/// A frame completed by [`Vp8Depacketizer::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Frame<'a> {
    /// The reassembled frame (borrowed from the depacketizer until the next push).
    pub data: &'a [u8],
    /// The picture ID of its first packet, if it carried one.
    pub picture_id: Option<u16>,
    /// Whether the frame is a key frame ([`is_keyframe`]).
    pub keyframe: bool,
}

/// Reassembles VP8 frames from RTP payloads.
///
/// Feed payloads in RTP sequence order with their marker bits. A frame is complete
/// when its marker packet arrives. Without sequence numbers, loss is detected from the
/// payloads: a continuation packet with no frame open (lost start), a new frame
/// starting before the marker (lost end), or a picture-ID change inside a frame. The
/// affected frame is discarded and counted in [`dropped_frames`](Self::dropped_frames).
/// A malformed descriptor is an error and also discards the frame in progress.
#[derive(Debug, Default)]
pub struct Vp8Depacketizer {
    frame: Vec<u8>,
    in_frame: bool,
    /// Skipping the rest of a frame whose start was lost.
    discarding: bool,
    picture_id: Option<u16>,
    dropped: u64,
}

impl Vp8Depacketizer {
    /// An empty depacketizer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one RTP payload; returns the frame it completes, if any.
    pub fn push(&mut self, payload: &[u8], marker: bool) -> Result<Option<Vp8Frame<'_>>, Vp8Error> {
        let d = match Vp8Descriptor::parse(payload) {
            Ok(d) => d,
            Err(e) => {
                // Skip the rest of the frame this packet belonged to, if one was open.
                self.discarding = self.in_frame && !marker;
                self.drop_frame();
                return Err(e);
            }
        };
        let data = &payload[d.len..];
        if d.starts_frame() {
            if self.in_frame {
                self.drop_frame();
            }
            self.discarding = false;
            self.in_frame = true;
            self.picture_id = d.picture_id;
            self.frame.clear();
        } else if self.in_frame
            && d.picture_id.is_some()
            && self.picture_id.is_some()
            && d.picture_id != self.picture_id
        {
            // A packet of another picture: this frame's end and the next one's start
            // were lost.
            self.drop_frame();
            self.discarding = true;
        } else if !self.in_frame && !self.discarding {
            // Lost the start of this frame.
            self.dropped += 1;
            self.discarding = true;
        }
        if self.discarding {
            if marker {
                self.discarding = false;
            }
            return Ok(None);
        }
        if self.frame.len() + data.len() > MAX_FRAME_LEN {
            self.drop_frame();
            self.discarding = !marker;
            return Err(Vp8Error::FrameTooLarge { max: MAX_FRAME_LEN });
        }
        self.frame.extend_from_slice(data);
        if !marker {
            return Ok(None);
        }
        self.in_frame = false;
        Ok(Some(Vp8Frame {
            data: &self.frame,
            picture_id: self.picture_id,
            keyframe: is_keyframe(&self.frame),
        }))
    }

    /// Frames discarded so far because packets were missing or invalid.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// Forgets any frame in progress (not counted as dropped), e.g. after a seek.
    pub fn reset(&mut self) {
        self.frame.clear();
        self.in_frame = false;
        self.discarding = false;
    }

    fn drop_frame(&mut self) {
        if self.in_frame {
            self.dropped += 1;
        }
        self.in_frame = false;
        self.frame.clear();
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn keyframe_size_reads_the_14_bit_fields() {
        // 320x240 (0x140, 0xf0), with scaling bits set on the width.
        let key = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x41, 0xf0, 0x00];
        assert_eq!(keyframe_size(&key), Some((320, 240)));
        let inter = [0x11, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
        assert_eq!(keyframe_size(&inter), None);
        assert_eq!(keyframe_size(&key[..8]), None);
    }
    use super::*;
    use proptest::prelude::*;

    fn keyframe(len: usize) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        f[..10].copy_from_slice(&[0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
        f
    }

    fn interframe(len: usize) -> Vec<u8> {
        let mut f: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        f[0] = 0x31;
        f
    }

    fn payloads(p: &mut Vp8Packetizer, frame: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        p.packetize(frame, max)
            .unwrap()
            .map(|pk| {
                let mut v = Vec::new();
                pk.append_to(&mut v);
                (v, pk.last)
            })
            .collect()
    }

    #[test]
    fn keyframe_detection() {
        assert!(is_keyframe(&keyframe(10)));
        assert!(is_keyframe(&keyframe(10)[..6]));
        assert!(!is_keyframe(&keyframe(10)[..5]));
        assert!(!is_keyframe(&interframe(100)));
        // P bit clear but no start code.
        assert!(!is_keyframe(&[0x50, 0x42, 0x00, 0x9d, 0x01, 0x2b]));
        assert!(!is_keyframe(&[]));
    }

    #[test]
    fn descriptor_layout_and_balanced_split() {
        let frame = keyframe(2500);
        let mut p = Vp8Packetizer::new(0x7ffe);
        let packets: Vec<_> = p.packetize(&frame, 1200).unwrap().collect();
        // 2500 bytes at 1196 per packet: 3 packets of 834, 833, 833.
        let sizes: Vec<_> = packets.iter().map(|p| p.chunk.len()).collect();
        assert_eq!(sizes, [834, 833, 833]);
        assert_eq!(packets[0].descriptor, [0x90, 0x80, 0xff, 0xfe]);
        assert_eq!(packets[1].descriptor, [0x80, 0x80, 0xff, 0xfe]);
        assert_eq!(
            packets.iter().map(|p| p.last).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert!(packets.iter().all(|p| p.payload_len() <= 1200));
        // Picture ID wraps at 15 bits.
        assert_eq!(p.picture_id(), 0x7fff);
        let next = p.packetize(&frame, 1200).unwrap();
        assert_eq!(next.len(), 3);
        assert_eq!(next.picture_id(), 0x7fff);
        assert_eq!(p.picture_id(), 0);
        assert_eq!(Vp8Packetizer::new(0xffff).picture_id(), 0x7fff);
        let mut raw = Vp8Packetizer { picture_id: 0xffff };
        assert_eq!(raw.packetize(&frame, 1200).unwrap().picture_id(), 0x7fff);
        assert_eq!(raw.picture_id(), 0);
        // Exact fit: one packet.
        let one: Vec<_> = p.packetize(&frame[..1196], 1200).unwrap().collect();
        assert_eq!(one.len(), 1);
        assert!(one[0].last);
        assert_eq!(one[0].descriptor[0], 0x90);
    }

    #[test]
    fn packetize_errors_leave_picture_id_alone() {
        let mut p = Vp8Packetizer::new(5);
        assert_eq!(p.packetize(&[], 1200).unwrap_err(), Vp8Error::EmptyFrame);
        assert_eq!(
            p.packetize(&[1], 4).unwrap_err(),
            Vp8Error::MaxPayloadTooSmall { max_payload: 4 }
        );
        assert_eq!(p.picture_id(), 5);
        // One byte of data per packet is allowed.
        assert_eq!(p.packetize(&[1, 2, 3], 5).unwrap().len(), 3);
    }

    #[test]
    fn descriptor_variants() {
        // Minimal: no extension.
        let d = Vp8Descriptor::parse(&[0x10, 0xaa]).unwrap();
        assert!(d.starts_frame());
        assert_eq!((d.len, d.picture_id), (1, None));
        // 7-bit picture ID, TL0PICIDX, TID/Y/KEYIDX, N bit, PID 2.
        let d = Vp8Descriptor::parse(&[0xb2, 0xf0, 0x11, 0x22, 0b1010_0101, 0xaa]).unwrap();
        assert_eq!(
            d,
            Vp8Descriptor {
                non_reference: true,
                start_of_partition: true,
                partition_index: 2,
                picture_id: Some(0x11),
                long_picture_id: false,
                tl0_pic_idx: Some(0x22),
                temporal_layer: Some(2),
                layer_sync: true,
                key_index: Some(5),
                len: 5,
            }
        );
        assert!(!d.starts_frame());
        // K without T: TID/Y ignored.
        let d = Vp8Descriptor::parse(&[0x80, 0x10, 0xff, 0xaa]).unwrap();
        assert_eq!(
            (d.temporal_layer, d.key_index, d.len),
            (None, Some(0x1f), 3)
        );
        // Reserved bits set are ignored.
        assert!(Vp8Descriptor::parse(&[0x48, 0xaa]).is_ok());
        // Truncated descriptors and empty payloads.
        for bad in [
            &[][..],
            &[0x80],
            &[0x80, 0x80],
            &[0x80, 0x80, 0x80],
            &[0x80, 0xc0, 0x01],
            &[0x80, 0x20],
            &[0x90, 0x80, 0x81, 0x00],
            &[0x10],
        ] {
            assert!(Vp8Descriptor::parse(bad).is_err(), "{bad:x?}");
            assert!(!payload_starts_keyframe(bad));
        }
        assert_eq!(
            Vp8Descriptor::parse(&[0x80, 0xc0, 0x01]),
            Err(Vp8Error::TruncatedDescriptor { needed: 4, len: 3 })
        );
        assert_eq!(Vp8Descriptor::parse(&[0x10]), Err(Vp8Error::EmptyPayload));
    }

    #[test]
    fn payload_starts_keyframe_only_on_first_packet_of_keyframes() {
        let mut p = Vp8Packetizer::new(0);
        let k = payloads(&mut p, &keyframe(3000), 1200);
        let i = payloads(&mut p, &interframe(3000), 1200);
        assert!(payload_starts_keyframe(&k[0].0));
        assert!(k[1..].iter().all(|(pl, _)| !payload_starts_keyframe(pl)));
        assert!(i.iter().all(|(pl, _)| !payload_starts_keyframe(pl)));
        // S=1 but PID=1: a later partition, not a frame start.
        let mut later = k[0].0.clone();
        later[0] |= 1;
        assert!(!payload_starts_keyframe(&later));
    }

    #[test]
    fn depacketize_round_trip_and_loss() {
        let mut p = Vp8Packetizer::new(10);
        let frames = [keyframe(3000), interframe(500), interframe(2400)];
        let mut d = Vp8Depacketizer::new();
        for (n, f) in frames.iter().enumerate() {
            let pls = payloads(&mut p, f, 1200);
            for (k, (pl, last)) in pls.iter().enumerate() {
                let out = d.push(pl, *last).unwrap();
                if k + 1 < pls.len() {
                    assert!(out.is_none());
                } else {
                    let out = out.unwrap();
                    assert_eq!(out.data, &f[..]);
                    assert_eq!(out.picture_id, Some(10 + n as u16));
                    assert_eq!(out.keyframe, n == 0);
                }
            }
        }
        assert_eq!(d.dropped_frames(), 0);

        // Lost first packet: the frame is dropped, the next one is fine.
        let a = payloads(&mut p, &interframe(3000), 1200);
        let b = payloads(&mut p, &interframe(100), 1200);
        for (pl, m) in &a[1..] {
            assert!(d.push(pl, *m).unwrap().is_none());
        }
        assert_eq!(d.dropped_frames(), 1);
        assert_eq!(d.push(&b[0].0, true).unwrap().unwrap().data.len(), 100);

        // Lost last packet (marker): the next frame start drops it.
        let a = payloads(&mut p, &interframe(3000), 1200);
        let b = payloads(&mut p, &interframe(100), 1200);
        for (pl, m) in &a[..2] {
            assert!(d.push(pl, *m).unwrap().is_none());
        }
        assert!(d.push(&b[0].0, true).unwrap().is_some());
        assert_eq!(d.dropped_frames(), 2);

        // Lost the end of one frame and the start of the next: picture ID change.
        let a = payloads(&mut p, &interframe(3000), 1200);
        let b = payloads(&mut p, &interframe(3000), 1200);
        assert!(d.push(&a[0].0, false).unwrap().is_none());
        assert!(d.push(&b[1].0, false).unwrap().is_none());
        assert!(d.push(&b[2].0, true).unwrap().is_none());
        assert_eq!(d.dropped_frames(), 3);

        // Garbage mid-frame: an error, and the frame is dropped.
        let a = payloads(&mut p, &interframe(3000), 1200);
        assert!(d.push(&a[0].0, false).unwrap().is_none());
        assert!(d.push(&[0x80], false).is_err());
        assert_eq!(d.dropped_frames(), 4);
        assert!(d.push(&a[1].0, false).unwrap().is_none());
        assert!(d.push(&a[2].0, true).unwrap().is_none());
        assert_eq!(d.dropped_frames(), 4);
        let b = payloads(&mut p, &interframe(10), 1200);
        assert_eq!(d.push(&b[0].0, true).unwrap().unwrap().data.len(), 10);
    }

    #[test]
    fn depacketizes_foreign_descriptors() {
        // Minimal 1-byte descriptors (no picture ID), two partitions.
        let mut d = Vp8Depacketizer::new();
        assert!(d.push(&[0x10, 1, 2], false).unwrap().is_none());
        assert!(d.push(&[0x00, 3], false).unwrap().is_none());
        assert!(d.push(&[0x11, 4], false).unwrap().is_none());
        let f = d.push(&[0x01, 5, 6], true).unwrap().unwrap();
        assert_eq!(f.data, [1, 2, 3, 4, 5, 6]);
        assert_eq!(f.picture_id, None);
    }

    proptest! {
        #[test]
        fn depacketizer_never_panics(
            packets in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..40), any::<bool>()),
                0..30,
            )
        ) {
            let mut d = Vp8Depacketizer::new();
            for (pl, m) in &packets {
                let _ = d.push(pl, *m);
                let _ = payload_starts_keyframe(pl);
            }
        }

        #[test]
        fn packetize_round_trip(
            len in 1usize..5000,
            max in 5usize..1500,
            id in any::<u16>(),
        ) {
            let frame: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut p = Vp8Packetizer::new(id);
            let packets: Vec<_> = p.packetize(&frame, max).unwrap().collect();
            prop_assert_eq!(packets.len(), len.div_ceil(max - DESCRIPTOR_LEN));
            let sizes: Vec<_> = packets.iter().map(|p| p.chunk.len()).collect();
            prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            let mut d = Vp8Depacketizer::new();
            let mut out = None;
            for pk in &packets {
                let mut pl = Vec::new();
                pk.append_to(&mut pl);
                prop_assert!(pl.len() <= max);
                if let Some(f) = d.push(&pl, pk.last).unwrap() {
                    out = Some((f.data.to_vec(), f.picture_id));
                }
            }
            prop_assert_eq!(out, Some((frame, Some(id & 0x7fff))));
        }
    }
}
