//! IVF: the minimal container libvpx and ffmpeg use for raw VP8/VP9/AV1 frames.
//!
//! # Layout (all integers little-endian)
//!
//! File header, 32 bytes:
//!
//! | offset | size | field                                                     |
//! |-------:|-----:|-----------------------------------------------------------|
//! | 0      | 4    | signature `DKIF`                                          |
//! | 4      | 2    | version, always 0                                         |
//! | 6      | 2    | header length in bytes, 32                                |
//! | 8      | 4    | codec FourCC, e.g. `VP80`                                 |
//! | 12     | 2    | width in pixels                                           |
//! | 14     | 2    | height in pixels                                          |
//! | 16     | 4    | time base **denominator** (libvpx calls it "rate")        |
//! | 20     | 4    | time base **numerator** (libvpx calls it "scale")         |
//! | 24     | 4    | frame count                                               |
//! | 28     | 4    | unused, written as 0                                      |
//!
//! Each frame: a 12-byte header (`u32` payload size, `u64` timestamp) followed by the
//! payload.
//!
//! # Time base
//!
//! Frame timestamps are in units of `timebase_num / timebase_den` seconds. ffmpeg's
//! `ivfenc` writes the stream time base's `den` at offset 16 and its `num` at offset 20,
//! and `ivfdec` reads them back the same way; libvpx's `ivfenc` writes its "frame rate"
//! there, which for a 30 fps stream is `30` / `1`, i.e. a time base of 1/30 s with one
//! tick per frame. [`IvfHeader`] follows ffmpeg: `timebase_den` comes from offset 16.
//!
//! # The "frame count" field
//!
//! libvpx writes the number of frames at offset 24. ffmpeg's muxer (`ivfenc`, 5.x) instead
//! patches the 64-bit value at offset 24 with an estimated *duration in time-base units*
//! (`frames * mean_pts_delta`), which equals the frame count when each frame advances the
//! timestamp by one tick (the usual case: `-r 30` gives a 1/30 time base). This crate
//! reads the low 32 bits as [`IvfHeader::frame_count`] and writes the high 32 bits as 0,
//! so a file with one tick per frame round-trips byte for byte. Readers should not trust
//! the field: [`IvfReader`] simply reads frames until end of file.

use std::io::{self, Read, Seek, SeekFrom, Write};

/// Size of the IVF file header this crate writes, in bytes.
pub const HEADER_LEN: usize = 32;

/// Size of the per-frame header, in bytes.
pub const FRAME_HEADER_LEN: usize = 12;

/// Largest frame payload [`IvfReader`] accepts and [`IvfWriter`] writes (16 MiB).
///
/// A 4K VP8 key frame at very high quality is a few MiB; anything bigger is a corrupt
/// or hostile size field, and refusing it keeps a bad file from making the reader
/// allocate gigabytes.
pub const MAX_FRAME_LEN: usize = 16 << 20;

/// The FourCC of VP8 streams.
pub const FOURCC_VP8: [u8; 4] = *b"VP80";

const SIGNATURE: [u8; 4] = *b"DKIF";

/// Errors reading or writing IVF.
#[derive(Debug, thiserror::Error)]
pub enum IvfError {
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with `DKIF`.
    #[error("not an IVF file: signature is {0:02x?}, expected \"DKIF\"")]
    BadSignature([u8; 4]),
    /// The version field is not 0.
    #[error("unsupported IVF version {0} (only 0 is defined)")]
    UnsupportedVersion(u16),
    /// The header-length field is smaller than the 32-byte header.
    #[error("invalid IVF header length {0} (must be at least 32)")]
    BadHeaderLen(u16),
    /// The stream ended in the middle of the file header, a frame header or a frame.
    #[error("truncated IVF {what}: expected {expected} bytes, got {got}")]
    Truncated {
        /// Which part was cut short: "file header", "frame header" or "frame".
        what: &'static str,
        /// Bytes that part should have.
        expected: usize,
        /// Bytes actually available.
        got: usize,
    },
    /// A frame is larger than [`MAX_FRAME_LEN`].
    #[error("IVF frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// The frame size (as declared in the file when reading).
        len: u64,
        /// The limit, [`MAX_FRAME_LEN`].
        max: usize,
    },
}

/// The IVF file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IvfHeader {
    /// Codec FourCC, e.g. [`FOURCC_VP8`] (`VP80`).
    pub fourcc: [u8; 4],
    /// Frame width in pixels.
    pub width: u16,
    /// Frame height in pixels.
    pub height: u16,
    /// Time base numerator: timestamps count units of `timebase_num / timebase_den`
    /// seconds. Stored at offset 20.
    pub timebase_num: u32,
    /// Time base denominator. Stored at offset 16 (libvpx's "frame rate" field).
    pub timebase_den: u32,
    /// Frame count as declared in the header (offset 24). Informational only; see the
    /// [module docs](self) for how ffmpeg fills it.
    pub frame_count: u32,
}

impl IvfHeader {
    /// A VP8 header for `width`×`height` with a 1/`fps` time base (one tick per frame)
    /// and a frame count of 0 (to be patched by [`IvfWriter::finish`]).
    pub fn vp8(width: u16, height: u16, fps: u32) -> Self {
        IvfHeader {
            fourcc: FOURCC_VP8,
            width,
            height,
            timebase_num: 1,
            timebase_den: fps,
            frame_count: 0,
        }
    }

    /// Parses the fixed 32-byte header.
    ///
    /// Checks the signature, the version (0) and that the declared header length is at
    /// least 32; a longer declared header is accepted (the caller skips the excess).
    pub fn parse(b: &[u8; HEADER_LEN]) -> Result<(Self, u16), IvfError> {
        let sig = [b[0], b[1], b[2], b[3]];
        if sig != SIGNATURE {
            return Err(IvfError::BadSignature(sig));
        }
        let version = le16(&b[4..]);
        if version != 0 {
            return Err(IvfError::UnsupportedVersion(version));
        }
        let header_len = le16(&b[6..]);
        if usize::from(header_len) < HEADER_LEN {
            return Err(IvfError::BadHeaderLen(header_len));
        }
        let header = IvfHeader {
            fourcc: [b[8], b[9], b[10], b[11]],
            width: le16(&b[12..]),
            height: le16(&b[14..]),
            timebase_den: le32(&b[16..]),
            timebase_num: le32(&b[20..]),
            frame_count: le32(&b[24..]),
        };
        Ok((header, header_len))
    }

    /// Serializes the header (version 0, header length 32, unused bytes zero).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&SIGNATURE);
        b[4..6].copy_from_slice(&0u16.to_le_bytes());
        b[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        b[8..12].copy_from_slice(&self.fourcc);
        b[12..14].copy_from_slice(&self.width.to_le_bytes());
        b[14..16].copy_from_slice(&self.height.to_le_bytes());
        b[16..20].copy_from_slice(&self.timebase_den.to_le_bytes());
        b[20..24].copy_from_slice(&self.timebase_num.to_le_bytes());
        b[24..28].copy_from_slice(&self.frame_count.to_le_bytes());
        b
    }
}

/// One frame read by [`IvfReader::next_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvfFrame {
    /// Presentation timestamp in time-base units (see [`IvfHeader`]).
    pub pts: u64,
    /// The compressed frame.
    pub data: Vec<u8>,
}

/// Reads frames from an IVF stream.
///
/// Reads exactly what it needs from `R` (the file header, then 12 bytes plus the payload
/// per frame), so wrap files in a [`std::io::BufReader`] if the frames are small.
#[derive(Debug)]
pub struct IvfReader<R> {
    inner: R,
    header: IvfHeader,
    done: bool,
}

impl<R: Read> IvfReader<R> {
    /// Reads and validates the file header.
    pub fn new(mut inner: R) -> Result<Self, IvfError> {
        let mut b = [0u8; HEADER_LEN];
        let got = read_full(&mut inner, &mut b)?;
        if got < HEADER_LEN {
            // Check the signature of what we have first: "not IVF" beats "truncated".
            if got >= 4 && b[..4] != SIGNATURE {
                return Err(IvfError::BadSignature([b[0], b[1], b[2], b[3]]));
            }
            return Err(IvfError::Truncated {
                what: "file header",
                expected: HEADER_LEN,
                got,
            });
        }
        let (header, header_len) = IvfHeader::parse(&b)?;
        let extra = u64::from(header_len) - HEADER_LEN as u64;
        if extra > 0 {
            let skipped = io::copy(&mut (&mut inner).take(extra), &mut io::sink())?;
            if skipped < extra {
                return Err(IvfError::Truncated {
                    what: "file header",
                    expected: usize::from(header_len),
                    got: HEADER_LEN + skipped as usize,
                });
            }
        }
        Ok(IvfReader {
            inner,
            header,
            done: false,
        })
    }

    /// The file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// Reads the next frame into a new buffer; `Ok(None)` at a clean end of file.
    ///
    /// For a loop over many frames prefer [`read_frame_into`](Self::read_frame_into),
    /// which reuses one buffer.
    pub fn next_frame(&mut self) -> Result<Option<IvfFrame>, IvfError> {
        let mut data = Vec::new();
        Ok(self
            .read_frame_into(&mut data)?
            .map(|pts| IvfFrame { pts, data }))
    }

    /// Reads the next frame into `buf` (cleared first, capacity reused) and returns its
    /// timestamp; `Ok(None)` at a clean end of file, i.e. when the stream ends exactly
    /// on a frame boundary.
    ///
    /// A frame header or payload cut short is [`IvfError::Truncated`]; a declared size
    /// above [`MAX_FRAME_LEN`] is [`IvfError::FrameTooLarge`] (checked before reading or
    /// allocating anything).
    pub fn read_frame_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>, IvfError> {
        buf.clear();
        if self.done {
            return Ok(None);
        }
        let mut fh = [0u8; FRAME_HEADER_LEN];
        let got = read_full(&mut self.inner, &mut fh)?;
        if got == 0 {
            self.done = true;
            return Ok(None);
        }
        if got < FRAME_HEADER_LEN {
            self.done = true;
            return Err(IvfError::Truncated {
                what: "frame header",
                expected: FRAME_HEADER_LEN,
                got,
            });
        }
        let len = le32(&fh[0..]) as usize;
        let pts = u64::from_le_bytes(fh[4..12].try_into().expect("8 bytes"));
        if len > MAX_FRAME_LEN {
            self.done = true;
            return Err(IvfError::FrameTooLarge {
                len: len as u64,
                max: MAX_FRAME_LEN,
            });
        }
        // Reserve what a plausible frame needs, but let a lying size field only cost
        // as much memory as the stream actually delivers.
        buf.reserve(len.min(1 << 20));
        let got = (&mut self.inner).take(len as u64).read_to_end(buf)?;
        if got < len {
            self.done = true;
            return Err(IvfError::Truncated {
                what: "frame",
                expected: len,
                got,
            });
        }
        Ok(Some(pts))
    }

    /// Returns the underlying reader, positioned after the last frame read.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// Yields frames until end of file; stops after the first error.
impl<R: Read> Iterator for IvfReader<R> {
    type Item = Result<IvfFrame, IvfError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_frame() {
            Ok(Some(f)) => Some(Ok(f)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Writes an IVF stream.
///
/// The header is written by [`new`](Self::new) exactly as given. For a seekable output
/// (a file), [`finish`](Self::finish) then patches the frame count; otherwise put the
/// right count in the header up front, or accept a stale one (readers ignore it).
/// Each frame costs two `write_all` calls; wrap unbuffered outputs in a
/// [`std::io::BufWriter`].
#[derive(Debug)]
pub struct IvfWriter<W> {
    inner: W,
    frames: u32,
    bytes_written: u64,
}

impl<W: Write> IvfWriter<W> {
    /// Writes the file header and returns the writer.
    pub fn new(mut inner: W, header: IvfHeader) -> Result<Self, IvfError> {
        inner.write_all(&header.to_bytes())?;
        Ok(IvfWriter {
            inner,
            frames: 0,
            bytes_written: HEADER_LEN as u64,
        })
    }

    /// Appends a frame with timestamp `pts` (time-base units).
    ///
    /// Frames above [`MAX_FRAME_LEN`] are refused, so that everything written here can
    /// be read back by [`IvfReader`].
    pub fn write_frame(&mut self, pts: u64, data: &[u8]) -> Result<(), IvfError> {
        if data.len() > MAX_FRAME_LEN {
            return Err(IvfError::FrameTooLarge {
                len: data.len() as u64,
                max: MAX_FRAME_LEN,
            });
        }
        let mut fh = [0u8; FRAME_HEADER_LEN];
        fh[0..4].copy_from_slice(&(data.len() as u32).to_le_bytes());
        fh[4..12].copy_from_slice(&pts.to_le_bytes());
        self.inner.write_all(&fh)?;
        self.inner.write_all(data)?;
        self.frames = self.frames.wrapping_add(1);
        self.bytes_written += (FRAME_HEADER_LEN + data.len()) as u64;
        Ok(())
    }

    /// Number of frames written so far.
    pub fn frames_written(&self) -> u32 {
        self.frames
    }

    /// Returns the underlying writer without touching the header.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write + Seek> IvfWriter<W> {
    /// Patches the header's frame count with the number of frames written, flushes, and
    /// returns the writer positioned at the end of the stream.
    ///
    /// The header is located relative to the current position (this writer knows how
    /// many bytes it wrote), so the IVF stream need not start at offset 0 of `W`.
    pub fn finish(mut self) -> Result<W, IvfError> {
        let end = self.inner.stream_position()?;
        let start = end.checked_sub(self.bytes_written).ok_or_else(|| {
            io::Error::other("IVF writer: output position is before the header it wrote")
        })?;
        self.inner.seek(SeekFrom::Start(start + 24))?;
        self.inner.write_all(&self.frames.to_le_bytes())?;
        self.inner.seek(SeekFrom::Start(end))?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads until `buf` is full or the reader reports end of file; returns the byte count.
pub(crate) fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn sample() -> Vec<u8> {
        let mut w = IvfWriter::new(Vec::new(), IvfHeader::vp8(320, 240, 30)).unwrap();
        w.write_frame(0, b"\x10\x02\x00\x9d\x01\x2a\x40\x01\xf0\x00")
            .unwrap();
        w.write_frame(1, b"abc").unwrap();
        w.write_frame(2, b"").unwrap();
        w.into_inner()
    }

    #[test]
    fn header_layout_matches_ffmpeg() {
        let h = IvfHeader {
            fourcc: FOURCC_VP8,
            width: 320,
            height: 240,
            timebase_num: 1,
            timebase_den: 30,
            frame_count: 180,
        };
        let b = h.to_bytes();
        // Bytes taken from `ffmpeg -c:v libvpx -r 30 out.ivf` (ffmpeg 5.1).
        let expected: [u8; 32] = [
            0x44, 0x4b, 0x49, 0x46, 0x00, 0x00, 0x20, 0x00, 0x56, 0x50, 0x38, 0x30, 0x40, 0x01,
            0xf0, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xb4, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(b, expected);
        assert_eq!(IvfHeader::parse(&b).unwrap(), (h, 32));
    }

    #[test]
    fn round_trip_in_memory() {
        let bytes = sample();
        let mut r = IvfReader::new(Cursor::new(&bytes)).unwrap();
        assert_eq!(r.header().width, 320);
        assert_eq!(r.header().timebase_den, 30);
        let mut buf = Vec::new();
        assert_eq!(r.read_frame_into(&mut buf).unwrap(), Some(0));
        assert_eq!(buf.len(), 10);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(
            f,
            IvfFrame {
                pts: 1,
                data: b"abc".to_vec()
            }
        );
        assert_eq!(r.read_frame_into(&mut buf).unwrap(), Some(2));
        assert!(buf.is_empty());
        assert_eq!(r.read_frame_into(&mut buf).unwrap(), None);
        assert_eq!(r.next_frame().unwrap(), None);
    }

    #[test]
    fn finish_patches_frame_count_at_offset() {
        let mut out = Cursor::new(b"prefix".to_vec());
        out.seek(SeekFrom::End(0)).unwrap();
        let mut w = IvfWriter::new(out, IvfHeader::vp8(2, 2, 25)).unwrap();
        for i in 0..7 {
            w.write_frame(i, &[i as u8; 5]).unwrap();
        }
        let out = w.finish().unwrap();
        let pos = out.position();
        let bytes = out.into_inner();
        assert_eq!(pos as usize, bytes.len());
        assert_eq!(&bytes[..6], b"prefix");
        let r = IvfReader::new(&bytes[6..]).unwrap();
        assert_eq!(r.header().frame_count, 7);
        assert_eq!(r.count(), 7);
    }

    #[test]
    fn rejects_bad_headers() {
        let good = sample();
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(matches!(
            IvfReader::new(&bad[..]),
            Err(IvfError::BadSignature(_))
        ));
        let mut bad = good.clone();
        bad[4] = 1;
        assert!(matches!(
            IvfReader::new(&bad[..]),
            Err(IvfError::UnsupportedVersion(1))
        ));
        let mut bad = good.clone();
        bad[6] = 16;
        assert!(matches!(
            IvfReader::new(&bad[..]),
            Err(IvfError::BadHeaderLen(16))
        ));
        assert!(matches!(
            IvfReader::new(&good[..20]),
            Err(IvfError::Truncated {
                what: "file header",
                got: 20,
                ..
            })
        ));
        assert!(matches!(
            IvfReader::new(&b"RIFF"[..]),
            Err(IvfError::BadSignature(_))
        ));
    }

    #[test]
    fn longer_declared_header_is_skipped() {
        let good = sample();
        let mut v = good[..32].to_vec();
        v[6] = 40;
        v.extend_from_slice(&[0xee; 8]);
        v.extend_from_slice(&good[32..]);
        let r = IvfReader::new(&v[..]).unwrap();
        assert_eq!(r.count(), 3);
        // ...but a header cut short inside the declared length is truncated.
        assert!(matches!(
            IvfReader::new(&v[..36]),
            Err(IvfError::Truncated { got: 36, .. })
        ));
    }

    #[test]
    fn truncation_anywhere_is_an_error_not_a_panic() {
        let good = sample();
        // Frame boundaries: after the header and after each frame.
        let boundaries = [32, 32 + 12 + 10, 32 + 12 + 10 + 12 + 3, good.len()];
        for cut in 32..=good.len() {
            let mut r = IvfReader::new(&good[..cut]).unwrap();
            let results: Vec<_> = r.by_ref().collect();
            let errors = results.iter().filter(|r| r.is_err()).count();
            if boundaries.contains(&cut) {
                assert_eq!(errors, 0, "cut at {cut}");
            } else {
                assert_eq!(errors, 1, "cut at {cut}");
                assert!(matches!(
                    results.last(),
                    Some(Err(IvfError::Truncated { .. }))
                ));
            }
        }
    }

    #[test]
    fn absurd_frame_size_is_refused_without_allocating() {
        let mut v = IvfHeader::vp8(1, 1, 1).to_bytes().to_vec();
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        v.extend_from_slice(&0u64.to_le_bytes());
        let mut r = IvfReader::new(&v[..]).unwrap();
        let mut buf = Vec::new();
        assert!(matches!(
            r.read_frame_into(&mut buf),
            Err(IvfError::FrameTooLarge { len, .. }) if len == u64::from(u32::MAX)
        ));
        assert_eq!(buf.capacity(), 0);
        // A size under the cap that the stream cannot back is "truncated", and only
        // costs the capped reservation.
        let mut v = IvfHeader::vp8(1, 1, 1).to_bytes().to_vec();
        v.extend_from_slice(&(MAX_FRAME_LEN as u32).to_le_bytes());
        v.extend_from_slice(&0u64.to_le_bytes());
        v.extend_from_slice(b"xy");
        let mut r = IvfReader::new(&v[..]).unwrap();
        assert!(matches!(
            r.read_frame_into(&mut buf),
            Err(IvfError::Truncated {
                what: "frame",
                got: 2,
                ..
            })
        ));
        assert!(buf.capacity() < MAX_FRAME_LEN);
    }

    #[test]
    fn writer_refuses_oversized_frames() {
        let mut w = IvfWriter::new(Vec::new(), IvfHeader::vp8(1, 1, 1)).unwrap();
        let big = vec![0u8; MAX_FRAME_LEN + 1];
        assert!(matches!(
            w.write_frame(0, &big),
            Err(IvfError::FrameTooLarge { .. })
        ));
        assert_eq!(w.frames_written(), 0);
        assert_eq!(w.into_inner().len(), HEADER_LEN);
    }

    proptest::proptest! {
        #[test]
        fn reader_never_panics(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
                               raw in proptest::bool::ANY) {
            let mut v = if raw { Vec::new() } else { IvfHeader::vp8(8, 8, 30).to_bytes().to_vec() };
            v.extend_from_slice(&tail);
            if let Ok(mut r) = IvfReader::new(&v[..]) {
                let mut buf = Vec::new();
                for _ in 0..600 {
                    match r.read_frame_into(&mut buf) {
                        Ok(Some(_)) => {}
                        _ => break,
                    }
                }
            }
        }
    }
}
