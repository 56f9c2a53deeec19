//! The EBML encoding Matroska and WebM are built on: element IDs, variable-length sizes,
//! and the few element types the recorder writes and [`repair`](crate::repair) reads.
//!
//! An element is `ID | size | data`. IDs are 1–4 bytes and keep their length marker bits
//! (so `0x1A45DFA3` is written as those four bytes). Sizes are "vints": the number of
//! leading zero bits of the first byte plus one gives the length (1–8 bytes), the rest is
//! the value; all value bits set means "unknown size" (used for a live Segment).

/// Element IDs used by the recorder (Matroska names).
pub(crate) mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const VOID: u32 = 0xEC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const DATE_UTC: u32 = 0x4461;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

/// The 8-byte "unknown size" vint.
pub(crate) const UNKNOWN_SIZE_8: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Largest value an 8-byte size vint holds (all ones is reserved for "unknown").
pub(crate) const MAX_SIZE: u64 = (1 << 56) - 2;

/// Appends an element ID (its bytes as written, marker bits included).
pub(crate) fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = (id.leading_zeros() / 8) as usize;
    out.extend_from_slice(&bytes[skip.min(3)..]);
}

/// Appends `size` as the shortest vint that holds it.
pub(crate) fn put_size(out: &mut Vec<u8>, size: u64) {
    // A length-n vint holds values up to 2^(7n) - 2.
    let mut len = 1;
    while len < 8 && size > (1u64 << (7 * len)) - 2 {
        len += 1;
    }
    put_size_len(out, size, len);
}

/// Appends `size` as a vint of exactly `len` bytes (1–8); `size` must fit.
pub(crate) fn put_size_len(out: &mut Vec<u8>, size: u64, len: usize) {
    debug_assert!((1..=8).contains(&len) && size <= (1u64 << (7 * len)) - 2);
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// Appends an unsigned integer element (shortest big-endian form, at least one byte).
pub(crate) fn put_uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = ((value.leading_zeros() / 8) as usize).min(7);
    put_id(out, id);
    put_size(out, (8 - skip) as u64);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends a signed integer element as 8 bytes.
pub(crate) fn put_int8(out: &mut Vec<u8>, id: u32, value: i64) {
    put_id(out, id);
    put_size(out, 8);
    out.extend_from_slice(&value.to_be_bytes());
}

/// Appends an 8-byte float element; returns the offset in `out` of its 8 value bytes.
pub(crate) fn put_float(out: &mut Vec<u8>, id: u32, value: f64) -> usize {
    put_id(out, id);
    put_size(out, 8);
    let at = out.len();
    out.extend_from_slice(&value.to_be_bytes());
    at
}

/// Appends a binary or string element.
pub(crate) fn put_bytes(out: &mut Vec<u8>, id: u32, value: &[u8]) {
    put_id(out, id);
    put_size(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// Appends a master element whose children are already serialized in `body`.
pub(crate) fn put_master(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    put_bytes(out, id, body);
}

/// Appends a Void element occupying exactly `total` bytes (at least 2, at most 2^14).
pub(crate) fn put_void(out: &mut Vec<u8>, total: usize) {
    debug_assert!((2..=1 << 14).contains(&total));
    put_id(out, id::VOID);
    if total - 2 <= 126 {
        put_size_len(out, (total - 2) as u64, 1);
        out.resize(out.len() + total - 2, 0);
    } else {
        put_size_len(out, (total - 3) as u64, 2);
        out.resize(out.len() + total - 3, 0);
    }
}

/// Reads an element ID at the start of `b`: `(id, length)`, or `None` if `b` is too
/// short or the first byte is not a valid ID start.
pub(crate) fn read_id(b: &[u8]) -> Option<(u32, usize)> {
    let &first = b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 || b.len() < len {
        return None;
    }
    let id = b[..len]
        .iter()
        .fold(0u32, |acc, &x| (acc << 8) | u32::from(x));
    Some((id, len))
}

/// Reads a size vint at the start of `b`: `(size, length)` with `size == None` for the
/// reserved "unknown" value; `None` if `b` is too short or the first byte is zero.
#[allow(clippy::type_complexity)]
pub(crate) fn read_size(b: &[u8]) -> Option<(Option<u64>, usize)> {
    let &first = b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || b.len() < len {
        return None;
    }
    let mask = if len == 8 { 0 } else { 0xFFu8 >> len };
    let mut value = u64::from(first & mask);
    for &x in &b[1..len] {
        value = (value << 8) | u64::from(x);
    }
    let all_ones = (1u64 << (7 * len)) - 1;
    Some(((value != all_ones).then_some(value), len))
}

/// Reads an unsigned integer element's data (0–8 bytes, big-endian).
pub(crate) fn read_uint(data: &[u8]) -> Option<u64> {
    (data.len() <= 8).then(|| data.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Iterates over the child elements of a master element's data: `(id, data)`; stops at
/// the first malformed or truncated child (and [`Children::truncated`] says so).
pub(crate) struct Children<'a> {
    rest: &'a [u8],
    /// Set once a child could not be parsed or ran past the end.
    pub truncated: bool,
}

impl<'a> Children<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Children {
            rest: data,
            truncated: false,
        }
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = (u32, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.truncated {
            return None;
        }
        let parsed = read_id(self.rest).and_then(|(id, il)| {
            let (size, sl) = read_size(&self.rest[il..])?;
            let size = usize::try_from(size?).ok()?;
            let start = il + sl;
            let end = start.checked_add(size)?;
            (end <= self.rest.len()).then_some((id, start, end))
        });
        match parsed {
            Some((id, start, end)) => {
                let data = &self.rest[start..end];
                self.rest = &self.rest[end..];
                Some((id, data))
            }
            None => {
                self.truncated = true;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vint_round_trip() {
        for v in [0u64, 1, 126, 127, 128, 16382, 16383, 1 << 20, MAX_SIZE] {
            let mut b = Vec::new();
            put_size(&mut b, v);
            let (got, len) = read_size(&b).unwrap();
            assert_eq!((got, len), (Some(v), b.len()), "{v}");
        }
        // 127 needs two bytes: 0x7F alone is "unknown" in one byte.
        let mut b = Vec::new();
        put_size(&mut b, 127);
        assert_eq!(b, [0x40, 0x7F]);
        assert_eq!(read_size(&UNKNOWN_SIZE_8), Some((None, 8)));
        assert_eq!(read_size(&[0xFF]), Some((None, 1)));
        assert_eq!(read_size(&[0x00, 1, 2]), None);
        assert_eq!(read_size(&[0x40]), None);
    }

    #[test]
    fn ids_and_elements() {
        let mut b = Vec::new();
        put_id(&mut b, id::EBML);
        put_id(&mut b, id::SIMPLE_BLOCK);
        put_id(&mut b, id::TIMESTAMP_SCALE);
        assert_eq!(b, [0x1A, 0x45, 0xDF, 0xA3, 0xA3, 0x2A, 0xD7, 0xB1]);
        assert_eq!(read_id(&b), Some((id::EBML, 4)));
        let mut e = Vec::new();
        put_uint(&mut e, id::TRACK_NUMBER, 0);
        put_uint(&mut e, id::TIMESTAMP_SCALE, 1_000_000);
        assert_eq!(
            e,
            [0xD7, 0x81, 0x00, 0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]
        );
        let kids: Vec<_> = Children::new(&e).collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(read_uint(kids[1].1), Some(1_000_000));
        for total in [2, 3, 100, 128, 129, 130, 5000] {
            let mut v = Vec::new();
            put_void(&mut v, total);
            assert_eq!(v.len(), total);
            let mut c = Children::new(&v);
            assert_eq!(
                c.next()
                    .map(|(i, d)| (i, d.len() + 2 + usize::from(total > 128))),
                Some((id::VOID, total))
            );
        }
        // A child running past the end stops the iteration.
        let mut c = Children::new(&[0xD7, 0x85, 1, 2]);
        assert!(c.next().is_none() && c.truncated);
    }
}
