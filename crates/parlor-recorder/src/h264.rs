//! H.264 over RTP ([RFC 6184]) to Matroska's `V_MPEG4/ISO/AVC` format.
//!
//! [`H264Depacketizer`] takes payloads in sequence order and reassembles access units
//! (all NAL units of one picture, ended by the RTP marker bit) from single NAL unit
//! packets, STAP-A aggregates and FU-A fragments (packetization modes 0 and 1; STAP-B,
//! MTAP and FU-B of the interleaved mode are rejected). Each NAL unit is written with a
//! 4-byte big-endian length in front, the layout an `avcC` with `lengthSizeMinusOne = 3`
//! announces. The latest SPS and PPS seen are kept so the track's `avcC`
//! ([`avc_decoder_configuration`]) can be built; they also stay in-band in the access
//! units, so a decoder follows a mid-stream change (e.g. of resolution).
//!
//! [RFC 6184]: https://www.rfc-editor.org/rfc/rfc6184

/// Largest access unit reassembled (16 MiB, as VP8 frames); bigger ones are dropped.
pub const MAX_ACCESS_UNIT_LEN: usize = 16 << 20;

/// Largest SPS or PPS kept (they are tens of bytes in practice).
const MAX_PARAMETER_SET_LEN: usize = 1024;

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Errors depacketizing H.264; the access unit in progress is discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H264Error {
    /// An empty payload, or one too short for its packet type.
    #[error("truncated H.264 RTP payload")]
    Truncated,
    /// The forbidden bit set, NAL type 0, or an interleaved-mode type (25–27, 29–31).
    #[error("unsupported or invalid H.264 NAL unit type {0}")]
    Unsupported(u8),
    /// A FU-A continuation without its start, or a new start inside a fragment.
    #[error("FU-A fragments out of order (a fragment was lost)")]
    BrokenFragment,
    /// The access unit exceeds [`MAX_ACCESS_UNIT_LEN`].
    #[error("H.264 access unit exceeds {MAX_ACCESS_UNIT_LEN} bytes")]
    TooLarge,
}

/// An access unit completed by [`H264Depacketizer::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessUnit<'a> {
    /// NAL units, each preceded by its 4-byte big-endian length.
    pub data: &'a [u8],
    /// Whether it holds an IDR slice (a key frame).
    pub keyframe: bool,
    /// The latest SPS seen (in this access unit or before; empty if none).
    pub sps: &'a [u8],
    /// The latest PPS seen (empty if none).
    pub pps: &'a [u8],
}

/// Reassembles H.264 access units from RTP payloads (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct H264Depacketizer {
    au: Vec<u8>,
    /// Timestamp of the access unit in progress.
    timestamp: Option<u32>,
    /// Offset in `au` of the length prefix of an open FU-A NAL unit.
    fragment: Option<usize>,
    /// Skipping the rest of a broken access unit until its marker.
    broken: bool,
    keyframe: bool,
    sps: Vec<u8>,
    pps: Vec<u8>,
    /// Bumped whenever the SPS or PPS changes.
    parameter_version: u64,
}

impl H264Depacketizer {
    /// An empty depacketizer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The latest sequence parameter set seen (empty if none).
    pub fn sps(&self) -> &[u8] {
        &self.sps
    }

    /// The latest picture parameter set seen (empty if none).
    pub fn pps(&self) -> &[u8] {
        &self.pps
    }

    /// Incremented each time a different SPS or PPS is seen.
    pub fn parameter_version(&self) -> u64 {
        self.parameter_version
    }

    /// Forgets the access unit in progress (after a gap in the sequence numbers).
    pub fn reset(&mut self) {
        self.au.clear();
        self.timestamp = None;
        self.fragment = None;
        self.broken = false;
        self.keyframe = false;
    }

    /// Adds one payload; returns the access unit its marker bit completes, if any.
    ///
    /// An error discards the access unit in progress; the depacketizer then skips
    /// packets until the next one starts (a new timestamp, or after a marker).
    pub fn push(
        &mut self,
        payload: &[u8],
        timestamp: u32,
        marker: bool,
    ) -> Result<Option<AccessUnit<'_>>, H264Error> {
        if self.timestamp != Some(timestamp) {
            // A new access unit; one still open lost its marker packet.
            self.reset();
            self.timestamp = Some(timestamp);
        }
        if !self.broken {
            if let Err(e) = self.add(payload) {
                self.au.clear();
                self.fragment = None;
                self.broken = true;
                if marker {
                    self.timestamp = None;
                    self.broken = false;
                }
                return Err(e);
            }
        }
        if !marker {
            return Ok(None);
        }
        self.timestamp = None;
        if std::mem::take(&mut self.broken) || self.fragment.is_some() || self.au.is_empty() {
            let broken = self.fragment.is_some();
            self.reset();
            return if broken {
                Err(H264Error::BrokenFragment)
            } else {
                Ok(None)
            };
        }
        // The buffer is cleared by the next push (a new timestamp).
        let keyframe = std::mem::take(&mut self.keyframe);
        Ok(Some(AccessUnit {
            data: &self.au,
            keyframe,
            sps: &self.sps,
            pps: &self.pps,
        }))
    }

    fn add(&mut self, payload: &[u8]) -> Result<(), H264Error> {
        let &header = payload.first().ok_or(H264Error::Truncated)?;
        let kind = header & 0x1f;
        if header & 0x80 != 0 {
            return Err(H264Error::Unsupported(kind));
        }
        match kind {
            1..=23 => {
                if self.fragment.is_some() {
                    return Err(H264Error::BrokenFragment);
                }
                self.add_nal(payload)
            }
            STAP_A => {
                if self.fragment.is_some() {
                    return Err(H264Error::BrokenFragment);
                }
                let mut rest = &payload[1..];
                if rest.is_empty() {
                    return Err(H264Error::Truncated);
                }
                while !rest.is_empty() {
                    if rest.len() < 2 {
                        return Err(H264Error::Truncated);
                    }
                    let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                    let nal = rest.get(2..2 + len).ok_or(H264Error::Truncated)?;
                    if nal.is_empty() {
                        return Err(H264Error::Truncated);
                    }
                    if nal[0] & 0x80 != 0 || nal[0] & 0x1f == 0 || nal[0] & 0x1f >= 24 {
                        return Err(H264Error::Unsupported(nal[0] & 0x1f));
                    }
                    self.add_nal(nal)?;
                    rest = &rest[2 + len..];
                }
                Ok(())
            }
            FU_A => {
                let &fu = payload.get(1).ok_or(H264Error::Truncated)?;
                let (start, end, nal_type) = (fu & 0x80 != 0, fu & 0x40 != 0, fu & 0x1f);
                if nal_type == 0 || nal_type >= 24 {
                    return Err(H264Error::Unsupported(nal_type));
                }
                let data = &payload[2..];
                if start {
                    if self.fragment.is_some() {
                        return Err(H264Error::BrokenFragment);
                    }
                    self.check_room(5 + data.len())?;
                    self.fragment = Some(self.au.len());
                    self.au.extend_from_slice(&[0; 4]);
                    self.au.push((header & 0xe0) | nal_type);
                } else if self.fragment.is_none() {
                    return Err(H264Error::BrokenFragment);
                }
                self.check_room(data.len())?;
                self.au.extend_from_slice(data);
                if end {
                    let at = self.fragment.take().unwrap_or(0);
                    let len = (self.au.len() - at - 4) as u32;
                    self.au[at..at + 4].copy_from_slice(&len.to_be_bytes());
                    self.note_nal(at + 4);
                }
                Ok(())
            }
            other => Err(H264Error::Unsupported(other)),
        }
    }

    fn check_room(&self, more: usize) -> Result<(), H264Error> {
        if self.au.len() + more > MAX_ACCESS_UNIT_LEN {
            Err(H264Error::TooLarge)
        } else {
            Ok(())
        }
    }

    fn add_nal(&mut self, nal: &[u8]) -> Result<(), H264Error> {
        self.check_room(4 + nal.len())?;
        let at = self.au.len();
        self.au.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        self.au.extend_from_slice(nal);
        self.note_nal(at + 4);
        Ok(())
    }

    /// Looks at a complete NAL unit at `au[at..]`: key frame flag, parameter sets.
    fn note_nal(&mut self, at: usize) {
        let nal = &self.au[at..];
        let Some(&h) = nal.first() else { return };
        let keep = |store: &mut Vec<u8>, version: &mut u64| {
            if nal.len() <= MAX_PARAMETER_SET_LEN && store.as_slice() != nal {
                store.clear();
                store.extend_from_slice(nal);
                *version += 1;
            }
        };
        match h & 0x1f {
            NAL_IDR => self.keyframe = true,
            NAL_SPS => keep(&mut self.sps, &mut self.parameter_version),
            NAL_PPS => keep(&mut self.pps, &mut self.parameter_version),
            _ => {}
        }
    }
}

/// The `avcC` record (ISO/IEC 14496-15 `AVCDecoderConfigurationRecord`) for one SPS and
/// one PPS, with 4-byte NAL lengths: Matroska's `CodecPrivate` for `V_MPEG4/ISO/AVC`.
/// `None` if the SPS is shorter than 4 bytes or either set is empty or too large.
pub fn avc_decoder_configuration(sps: &[u8], pps: &[u8]) -> Option<Vec<u8>> {
    if sps.len() < 4 || pps.is_empty() || sps.len() > 0xffff || pps.len() > 0xffff {
        return None;
    }
    let mut c = Vec::with_capacity(11 + sps.len() + pps.len());
    // version, profile, compatibility, level, 6 reserved bits + lengthSizeMinusOne = 3.
    c.extend_from_slice(&[1, sps[1], sps[2], sps[3], 0xff, 0xe1]);
    c.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    c.extend_from_slice(sps);
    c.push(1);
    c.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    c.extend_from_slice(pps);
    Some(c)
}

/// Reads the picture size (width, height, after cropping) from an SPS NAL unit (header
/// byte included); `None` if it does not parse.
pub fn sps_dimensions(sps: &[u8]) -> Option<(u32, u32)> {
    if sps.len() < 4 || sps[0] & 0x1f != NAL_SPS {
        return None;
    }
    // Remove emulation prevention bytes (00 00 03 → 00 00).
    let mut rbsp = Vec::with_capacity(sps.len());
    let mut zeros = 0;
    for &b in &sps[1..] {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    let mut r = Bits::new(&rbsp);
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags, level
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format = r.ue()?;
        if chroma_format == 3 {
            r.bits(1)?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bits(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.bits(1)? == 1 {
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bits(1)? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256).rem_euclid(256);
                        }
                        last = if next == 0 { last } else { next };
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bits(1)?;
            r.se()?;
            r.se()?;
            let cycle = r.ue()?;
            if cycle > 255 {
                return None;
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bits(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()? + 1;
    let height_units = r.ue()? + 1;
    let frame_mbs_only = r.bits(1)?;
    if frame_mbs_only == 0 {
        r.bits(1)?;
    }
    r.bits(1)?; // direct_8x8_inference_flag
    let (mut cl, mut cr, mut ct, mut cb) = (0, 0, 0, 0);
    if r.bits(1)? == 1 {
        (cl, cr, ct, cb) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
    }
    let (unit_x, unit_y) = match chroma_format {
        0 => (1, 2 - frame_mbs_only),
        1 => (2, 2 * (2 - frame_mbs_only)),
        2 => (2, 2 - frame_mbs_only),
        _ => (1, 2 - frame_mbs_only),
    };
    let width = (width_mbs * 16).checked_sub(unit_x * (cl + cr))?;
    let height = ((2 - frame_mbs_only) * height_units * 16).checked_sub(unit_y * (ct + cb))?;
    (width > 0 && height > 0 && width <= 16384 && height <= 16384)
        .then_some((width as u32, height as u32))
}

/// An MSB-first bit reader with Exp-Golomb codes, as the SPS needs.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }

    fn bits(&mut self, n: u32) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            v = (v << 1) | u64::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }

    fn ue(&mut self) -> Option<u64> {
        let mut zeros = 0;
        while self.bits(1)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u64 << zeros) - 1 + self.bits(zeros)?)
    }

    fn se(&mut self) -> Option<i64> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A baseline SPS for 320x240 as x264 writes it (profile 66, level 1.3).
    const SPS_320X240: [u8; 24] = [
        0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
    ];

    fn push_all(d: &mut H264Depacketizer, pkts: &[(&[u8], u32, bool)]) -> Vec<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        for &(p, ts, m) in pkts {
            if let Ok(Some(au)) = d.push(p, ts, m) {
                out.push((au.data.to_vec(), au.keyframe));
            }
        }
        out
    }

    #[test]
    fn single_stap_and_fu() {
        let mut d = H264Depacketizer::new();
        let stap = [
            24u8, 0, 3, 0x67, 1, 2, 0, 2, 0x68, 9, // SPS (3 bytes) and PPS (2 bytes)
        ];
        let fu1 = [0x7c, 0x85, 10, 11]; // FU-A start of IDR (nri 3)
        let fu2 = [0x7c, 0x05, 12];
        let fu3 = [0x7c, 0x45, 13];
        let out = push_all(
            &mut d,
            &[
                (&stap, 90, false),
                (&fu1, 90, false),
                (&fu2, 90, false),
                (&fu3, 90, true),
            ],
        );
        assert_eq!(
            out,
            [(
                vec![
                    0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 9, 0, 0, 0, 5, 0x65, 10, 11, 12, 13
                ],
                true
            )]
        );
        assert_eq!(d.sps(), [0x67, 1, 2]);
        assert_eq!(d.pps(), [0x68, 9]);
        // A single non-IDR slice.
        let out = push_all(&mut d, &[(&[0x41, 7, 7], 180, true)]);
        assert_eq!(out, [(vec![0, 0, 0, 3, 0x41, 7, 7], false)]);
    }

    #[test]
    fn lost_fragments_drop_the_access_unit() {
        let mut d = H264Depacketizer::new();
        // Middle fragment without a start.
        assert_eq!(
            d.push(&[0x7c, 0x05, 1], 1, false),
            Err(H264Error::BrokenFragment)
        );
        assert_eq!(d.push(&[0x7c, 0x45, 2], 1, true), Ok(None));
        // Start without an end, then the marker on another NAL.
        assert!(d.push(&[0x7c, 0x85, 1], 2, false).unwrap().is_none());
        assert!(d.push(&[0x41, 1], 2, true).is_err());
        // Marker lost: the next timestamp starts afresh.
        assert!(d.push(&[0x41, 1], 3, false).unwrap().is_none());
        assert_eq!(
            d.push(&[0x41, 2], 4, true).unwrap().unwrap().data,
            [0, 0, 0, 2, 0x41, 2]
        );
        // Interleaved-mode types are refused.
        assert_eq!(d.push(&[0x19, 0], 5, true), Err(H264Error::Unsupported(25)));
        assert_eq!(d.push(&[], 6, true), Err(H264Error::Truncated));
        assert_eq!(
            d.push(&[24, 0, 9, 0x67], 7, true),
            Err(H264Error::Truncated)
        );
    }

    #[test]
    fn sps_and_avcc() {
        assert_eq!(sps_dimensions(&SPS_320X240), Some((320, 240)));
        assert_eq!(sps_dimensions(&SPS_320X240[..5]), None);
        assert_eq!(sps_dimensions(&[0x68, 0, 0, 0]), None);
        let c = avc_decoder_configuration(&SPS_320X240, &[0x68, 0xce, 0x3c, 0x80]).unwrap();
        assert_eq!(&c[..8], &[1, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0, 24]);
        assert_eq!(&c[32..35], &[1, 0, 4]);
        assert!(avc_decoder_configuration(&[0x67], &[0x68]).is_none());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(
            packets in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..60), 0u32..4, any::<bool>()),
                0..40,
            )
        ) {
            let mut d = H264Depacketizer::new();
            for (p, ts, m) in &packets {
                if let Ok(Some(au)) = d.push(p, *ts, *m) {
                    // Every NAL unit is length-prefixed and the lengths add up.
                    let mut rest = au.data;
                    while !rest.is_empty() {
                        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                        prop_assert!(len >= 1 && 4 + len <= rest.len());
                        rest = &rest[4 + len..];
                    }
                }
                let _ = sps_dimensions(p);
            }
        }
    }
}
