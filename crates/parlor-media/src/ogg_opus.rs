//! Opus in Ogg ([RFC 7845]), the `.opus`/`.ogg` files ffmpeg and opus-tools produce.
//!
//! # Ogg in brief ([RFC 3533])
//!
//! An Ogg stream is a sequence of *pages*. Each page has a 27-byte header (capture
//! pattern `OggS`, version 0, flags, 64-bit granule position, stream serial number, page
//! sequence number, CRC-32, segment count) followed by a *segment table* of up to 255
//! lacing values and then the page body. A packet is split into 255-byte segments; a
//! lacing value below 255 ends the packet, so a packet whose length is a multiple of 255
//! ends with a 0 lacing value, and a packet still "open" at the end of a page continues
//! on the next page, which then carries the *continued* flag. A page's granule position
//! belongs to the last packet that *completes* on that page (−1 if none does).
//!
//! The CRC is the MSB-first CRC-32 with polynomial `0x04c11db7`, initial value 0 and no
//! final XOR (not the zlib/Ethernet CRC), computed over the whole page with the CRC field
//! zeroed.
//!
//! # Opus mapping
//!
//! The first page of the logical stream (flagged *beginning of stream*) holds exactly one
//! packet, the 19-byte (or longer) `OpusHead` identification header; the comment header
//! `OpusTags` starts on the second page and its last page holds nothing else; audio
//! packets follow. Granule positions count 48 kHz samples *including* the `pre_skip`
//! samples the decoder must discard at the start, so the playable length of a stream is
//! `last_granule − pre_skip`. The last page may carry a granule position smaller than
//! the samples its packets decode to ("end trimming").
//!
//! # What this module supports
//!
//! [`OggOpusReader`] reads one Opus logical stream, ignoring pages of other streams
//! multiplexed with it, and stops at its end-of-stream page (chained streams after it are
//! not read). It accepts every channel mapping family but keeps only the fields of
//! [`OpusHead`]. [`OggOpusWriter`] writes mapping family 0 (mono/stereo) — what WebRTC
//! sends — one packet per page.
//!
//! [RFC 7845]: https://www.rfc-editor.org/rfc/rfc7845
//! [RFC 3533]: https://www.rfc-editor.org/rfc/rfc3533

use std::io::{self, Read, Write};

use crate::ivf::read_full;

/// Largest audio packet [`OggOpusReader`] accepts (1 MiB).
///
/// A single-stream Opus packet is at most 61,440 bytes of frames plus a few bytes of
/// framing; multistream packets (mapping families 1 and 255) can hold up to 255 of them.
/// Anything bigger is corruption, refused before it costs memory.
pub const MAX_PACKET_LEN: usize = 1 << 20;

/// Vendor string written in the `OpusTags` header.
pub const VENDOR: &str = "parlor";

const CAPTURE: [u8; 4] = *b"OggS";
const PAGE_HEADER_LEN: usize = 27;
const FLAG_CONTINUED: u8 = 0x01;
const FLAG_BOS: u8 = 0x02;
const FLAG_EOS: u8 = 0x04;
/// Granule position meaning "no packet ends on this page" (−1).
const NO_GRANULE: u64 = u64::MAX;
/// Most data one page can carry: 255 segments of 255 bytes.
const MAX_PAGE_BODY: usize = 255 * 255;
/// Longest duration an Opus packet may have (120 ms at 48 kHz).
const MAX_PACKET_DURATION: u32 = 5760;

/// Errors reading or writing Ogg Opus.
#[derive(Debug, thiserror::Error)]
pub enum OggError {
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The stream ended inside a page, or inside a packet that a later page should have
    /// continued.
    #[error("truncated Ogg stream: {0}")]
    Truncated(&'static str),
    /// A page does not start with `OggS`.
    #[error("lost Ogg page sync: expected \"OggS\", found {0:02x?}")]
    BadCapture([u8; 4]),
    /// The page header's stream-structure version is not 0.
    #[error("unsupported Ogg page version {0}")]
    UnsupportedVersion(u8),
    /// A page's CRC does not match its contents.
    #[error("Ogg page {sequence} CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// Page sequence number (as stored in the damaged page).
        sequence: u32,
        /// CRC stored in the page.
        stored: u32,
        /// CRC computed over the page.
        computed: u32,
    },
    /// Page sequence numbers skip (a page was lost) or repeat.
    #[error("Ogg page sequence gap: expected page {expected}, found {found}")]
    PageSequence {
        /// The sequence number that should have come next.
        expected: u32,
        /// The one that did.
        found: u32,
    },
    /// A packet was left open at the end of a page, but the next page does not continue
    /// it.
    #[error("Ogg page does not continue the packet left open by the previous page")]
    MissingContinuation,
    /// A page is flagged as continuing a packet, but no packet was open.
    #[error("Ogg page continues a packet, but no packet was open")]
    UnexpectedContinuation,
    /// The end-of-stream page ends inside a packet.
    #[error("Ogg end-of-stream page ends inside a packet")]
    UnterminatedPacket,
    /// A packet exceeds [`MAX_PACKET_LEN`].
    #[error("Ogg packet of at least {len} bytes exceeds the {max}-byte limit")]
    PacketTooLarge {
        /// Bytes seen so far when the limit was hit.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No logical stream in the file starts with an `OpusHead` packet.
    #[error("not an Ogg Opus stream: {0}")]
    NotOpus(&'static str),
    /// The `OpusHead` packet is malformed or misplaced.
    #[error("invalid OpusHead: {0}")]
    BadOpusHead(&'static str),
    /// The `OpusTags` packet is missing, malformed or misplaced.
    #[error("invalid OpusTags: {0}")]
    BadOpusTags(&'static str),
    /// An audio packet's TOC byte does not describe a valid Opus packet (see
    /// [`opus_packet_duration_48k`]). The reader stays usable: the packet has been
    /// consumed and the next call reads the one after it.
    #[error("invalid Opus packet ({len} bytes): cannot determine its duration")]
    InvalidOpusPacket {
        /// Length of the offending packet.
        len: usize,
    },
    /// [`OggOpusWriter`] only writes channel mapping family 0 with 1 or 2 channels.
    #[error(
        "unsupported Opus channel layout for writing: mapping family {family}, {channels} channels"
    )]
    UnsupportedLayout {
        /// Requested mapping family.
        family: u8,
        /// Requested channel count.
        channels: u8,
    },
    /// The end trim passed to [`OggOpusWriter::finish_with_end_trim`] is larger than the
    /// last packet's duration (or there is no audio packet to trim).
    #[error("end trim of {trim} samples exceeds the last packet's {available}")]
    InvalidEndTrim {
        /// Requested trim.
        trim: u64,
        /// Samples the last page can give up.
        available: u64,
    },
}

/// The Opus identification header (`OpusHead`, RFC 7845 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpusHead {
    /// Output channel count (1 or 2 for mapping family 0).
    pub channels: u8,
    /// Samples at 48 kHz to discard from the decoder output at the start.
    pub pre_skip: u16,
    /// Sample rate of the original input, informational only (0 = unspecified). Opus
    /// always decodes at 48 kHz (or another rate the player picks).
    pub input_sample_rate: u32,
    /// Gain to apply to the output, in Q7.8 dB.
    pub output_gain: i16,
    /// Channel mapping family: 0 (mono/stereo, RTP order), 1 (Vorbis order, up to 8
    /// channels) or 255 (unspecified).
    pub mapping_family: u8,
}

impl OpusHead {
    /// A mono or stereo (`channels` 1 or 2) family-0 header with the given pre-skip,
    /// 48 kHz input rate and no gain.
    pub fn new(channels: u8, pre_skip: u16) -> Self {
        OpusHead {
            channels,
            pre_skip,
            input_sample_rate: 48_000,
            output_gain: 0,
            mapping_family: 0,
        }
    }

    /// Parses an `OpusHead` packet.
    ///
    /// Accepts versions 0–15 (RFC 7845: same major version), and for mapping families
    /// other than 0 checks that the channel mapping table is present and consistent
    /// (the table itself is not kept).
    pub fn parse(p: &[u8]) -> Result<Self, OggError> {
        if p.len() < 8 || &p[..8] != b"OpusHead" {
            return Err(OggError::BadOpusHead("missing \"OpusHead\" magic"));
        }
        if p.len() < 19 {
            return Err(OggError::BadOpusHead("shorter than 19 bytes"));
        }
        if p[8] & 0xf0 != 0 {
            return Err(OggError::BadOpusHead("unsupported major version"));
        }
        let head = OpusHead {
            channels: p[9],
            pre_skip: u16::from_le_bytes([p[10], p[11]]),
            input_sample_rate: u32::from_le_bytes([p[12], p[13], p[14], p[15]]),
            output_gain: i16::from_le_bytes([p[16], p[17]]),
            mapping_family: p[18],
        };
        if head.channels == 0 {
            return Err(OggError::BadOpusHead("zero channels"));
        }
        if head.mapping_family == 0 {
            if head.channels > 2 {
                return Err(OggError::BadOpusHead(
                    "mapping family 0 allows only 1 or 2 channels",
                ));
            }
        } else {
            let table_end = 21 + usize::from(head.channels);
            if p.len() < table_end {
                return Err(OggError::BadOpusHead("channel mapping table truncated"));
            }
            let (streams, coupled) = (p[19], p[20]);
            if streams == 0
                || coupled > streams
                || usize::from(streams) + usize::from(coupled) > 255
            {
                return Err(OggError::BadOpusHead("invalid stream counts"));
            }
            let decoded = streams + coupled;
            if p[21..table_end].iter().any(|&m| m != 255 && m >= decoded) {
                return Err(OggError::BadOpusHead("channel mapping out of range"));
            }
        }
        Ok(head)
    }

    /// Serializes a family-0 header (19 bytes, version 1).
    ///
    /// Errors for other families, whose mapping table [`OpusHead`] does not carry.
    pub fn to_bytes(&self) -> Result<[u8; 19], OggError> {
        if self.mapping_family != 0 || !(1..=2).contains(&self.channels) {
            return Err(OggError::UnsupportedLayout {
                family: self.mapping_family,
                channels: self.channels,
            });
        }
        let mut b = [0u8; 19];
        b[..8].copy_from_slice(b"OpusHead");
        b[8] = 1;
        b[9] = self.channels;
        b[10..12].copy_from_slice(&self.pre_skip.to_le_bytes());
        b[12..16].copy_from_slice(&self.input_sample_rate.to_le_bytes());
        b[16..18].copy_from_slice(&self.output_gain.to_le_bytes());
        b[18] = 0;
        Ok(b)
    }
}

/// One audio packet read by [`OggOpusReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPacket {
    /// The Opus packet.
    pub data: Vec<u8>,
    /// The granule position of the page on which this packet completes, if it is the
    /// last packet completing on that page; `None` otherwise. Counts 48 kHz samples from
    /// the start of the stream including pre-skip (see the [module docs](self)).
    pub granule_position: Option<u64>,
    /// Duration in samples at 48 kHz, from the packet's TOC byte.
    pub duration_48k: u32,
}

/// Metadata of a packet read by [`OggOpusReader::read_packet_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    /// As [`OpusPacket::granule_position`].
    pub granule_position: Option<u64>,
    /// As [`OpusPacket::duration_48k`].
    pub duration_48k: u32,
}

/// Duration of an Opus packet in samples at 48 kHz, from its TOC byte (RFC 6716 §3.1)
/// and, for code-3 packets, its frame-count byte; `None` for packets that cannot be valid.
///
/// Only the bytes needed for the duration are checked: the packet must be non-empty,
/// code-2 and code-3 packets need their second byte, a code-3 frame count must be
/// non-zero, and the total must not exceed 120 ms (5760 samples). Frame lengths are not
/// validated, so this also works on the first stream of a multistream packet, whose
/// self-delimiting framing keeps the TOC and frame-count bytes in front.
pub fn opus_packet_duration_48k(packet: &[u8]) -> Option<u32> {
    let &toc = packet.first()?;
    let config = toc >> 3;
    let frame = match config {
        // SILK-only NB/MB/WB: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][usize::from(config & 3)],
        // Hybrid SWB/FB: 10, 20 ms.
        12..=15 => [480, 960][usize::from(config & 1)],
        // CELT-only NB/WB/SWB/FB: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][usize::from(config & 3)],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 => 2,
        2 => {
            // Two frames with the first one's length coded in 1 or 2 bytes.
            if packet.len() < 2 {
                return None;
            }
            2
        }
        _ => {
            let count = u32::from(*packet.get(1)? & 0x3f);
            if count == 0 {
                return None;
            }
            count
        }
    };
    let total = frame * frames;
    (total <= MAX_PACKET_DURATION).then_some(total)
}

// ---------------------------------------------------------------------------------------
// CRC

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            k += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

fn crc_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)];
    }
    crc
}

/// Appends one complete page (header, segment table, body) with its CRC to `out`.
fn push_page(
    out: &mut Vec<u8>,
    flags: u8,
    granule: u64,
    serial: u32,
    sequence: u32,
    lacing: &[u8],
    body: &[u8],
) {
    debug_assert!(lacing.len() <= 255);
    debug_assert_eq!(
        lacing.iter().map(|&l| usize::from(l)).sum::<usize>(),
        body.len()
    );
    let start = out.len();
    out.extend_from_slice(&CAPTURE);
    out.push(0);
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(lacing.len() as u8);
    out.extend_from_slice(lacing);
    out.extend_from_slice(body);
    let crc = crc_update(0, &out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

/// Writes the page(s) carrying one packet into `out`: full 255-segment pages for a long
/// packet, and a last page holding the packet's end, with `granule` and `last_flags`.
/// Returns the next sequence number.
fn push_packet_pages(
    out: &mut Vec<u8>,
    serial: u32,
    mut sequence: u32,
    packet: &[u8],
    granule: u64,
    first_flags: u8,
) -> u32 {
    // Lacing values: floor(len / 255) times 255, then len % 255 (possibly 0).
    let mut remaining_full = packet.len() / 255;
    let tail = (packet.len() % 255) as u8;
    let mut offset = 0;
    let mut flags = first_flags;
    let mut lacing = [255u8; 255];
    loop {
        // Segments on this page: up to 255, the last one being the tail if it fits.
        if remaining_full < 255 {
            let n = remaining_full;
            lacing[n] = tail;
            let body = &packet[offset..];
            push_page(out, flags, granule, serial, sequence, &lacing[..=n], body);
            return sequence.wrapping_add(1);
        }
        // A full page of 255-byte segments; the packet continues on the next page.
        let body = &packet[offset..offset + MAX_PAGE_BODY];
        push_page(out, flags, NO_GRANULE, serial, sequence, &lacing, body);
        offset += MAX_PAGE_BODY;
        remaining_full -= 255;
        sequence = sequence.wrapping_add(1);
        flags = FLAG_CONTINUED;
    }
}

// ---------------------------------------------------------------------------------------
// Reader

/// The current page: header fields plus segment table and body.
#[derive(Debug)]
struct Page {
    flags: u8,
    granule: u64,
    serial: u32,
    sequence: u32,
    lacing: [u8; 255],
    segments: usize,
    body: Vec<u8>,
}

impl Page {
    fn new() -> Self {
        Page {
            flags: 0,
            granule: 0,
            serial: 0,
            sequence: 0,
            lacing: [0; 255],
            segments: 0,
            body: Vec::new(),
        }
    }

    /// Reads the next page; `Ok(false)` at a clean end of stream.
    ///
    /// On error the page is left empty (no segments, no flags), so a caller that goes
    /// on reading never sees half of a damaged page.
    fn read<R: Read>(&mut self, r: &mut R) -> Result<bool, OggError> {
        let result = self.read_inner(r);
        if !matches!(result, Ok(true)) {
            self.flags = 0;
            self.segments = 0;
            self.body.clear();
        }
        result
    }

    fn read_inner<R: Read>(&mut self, r: &mut R) -> Result<bool, OggError> {
        let mut h = [0u8; PAGE_HEADER_LEN];
        let got = read_full(r, &mut h)?;
        if got == 0 {
            return Ok(false);
        }
        if got >= 4 && h[..4] != CAPTURE {
            return Err(OggError::BadCapture([h[0], h[1], h[2], h[3]]));
        }
        if got < PAGE_HEADER_LEN {
            return Err(OggError::Truncated("inside a page header"));
        }
        if h[4] != 0 {
            return Err(OggError::UnsupportedVersion(h[4]));
        }
        let segments = usize::from(h[26]);
        if read_full(r, &mut self.lacing[..segments])? < segments {
            return Err(OggError::Truncated("inside a segment table"));
        }
        let body_len: usize = self.lacing[..segments]
            .iter()
            .map(|&l| usize::from(l))
            .sum();
        self.body.resize(body_len, 0);
        if read_full(r, &mut self.body)? < body_len {
            return Err(OggError::Truncated("inside a page body"));
        }
        let sequence = u32::from_le_bytes(h[18..22].try_into().expect("4 bytes"));
        let stored = u32::from_le_bytes(h[22..26].try_into().expect("4 bytes"));
        h[22..26].fill(0);
        let mut crc = crc_update(0, &h);
        crc = crc_update(crc, &self.lacing[..segments]);
        crc = crc_update(crc, &self.body);
        if crc != stored {
            return Err(OggError::CrcMismatch {
                sequence,
                stored,
                computed: crc,
            });
        }
        self.flags = h[5];
        self.granule = u64::from_le_bytes(h[6..14].try_into().expect("8 bytes"));
        self.serial = u32::from_le_bytes(h[14..18].try_into().expect("4 bytes"));
        self.sequence = sequence;
        self.segments = segments;
        Ok(true)
    }

    /// Index of the last segment that ends a packet (lacing value < 255), if any.
    fn last_packet_end(&self) -> Option<usize> {
        self.lacing[..self.segments].iter().rposition(|&l| l < 255)
    }
}

/// Where a raw packet ended.
struct RawPacket {
    len: usize,
    granule: Option<u64>,
    ends_page: bool,
}

/// Reads Opus packets from an Ogg Opus stream.
///
/// Reads whole pages (at most 65,307 bytes each) from `R`; wrap unbuffered sources in a
/// [`std::io::BufReader`] anyway to avoid small reads for page headers.
///
/// After an error other than [`OggError::InvalidOpusPacket`] the reader's position in
/// the stream is unspecified: further calls may return more errors or `Ok(None)`, but
/// never panic.
#[derive(Debug)]
pub struct OggOpusReader<R> {
    inner: R,
    head: OpusHead,
    serial: u32,
    page: Page,
    /// Next segment of `page` to consume.
    segment: usize,
    /// Offset in `page.body` of that segment.
    body_offset: usize,
    last_packet_end: Option<usize>,
    next_sequence: u32,
    done: bool,
}

impl<R: Read> OggOpusReader<R> {
    /// Reads the `OpusHead` and `OpusTags` headers and positions the reader at the
    /// first audio packet.
    ///
    /// Among the beginning-of-stream pages at the start of the file, the first whose
    /// packet is an `OpusHead` selects the logical stream; pages of any other stream are
    /// skipped from then on.
    pub fn new(inner: R) -> Result<Self, OggError> {
        let mut reader = OggOpusReader {
            inner,
            head: OpusHead::new(1, 0),
            serial: 0,
            page: Page::new(),
            segment: 0,
            body_offset: 0,
            last_packet_end: None,
            next_sequence: 0,
            done: false,
        };
        // Find the Opus stream's BOS page.
        loop {
            if !reader.page.read(&mut reader.inner)? {
                return Err(OggError::NotOpus("no OpusHead page before end of stream"));
            }
            if reader.page.flags & FLAG_BOS == 0 {
                return Err(OggError::NotOpus(
                    "no beginning-of-stream page with an OpusHead packet",
                ));
            }
            if reader.page.body.starts_with(b"OpusHead") {
                break;
            }
        }
        reader.serial = reader.page.serial;
        reader.next_sequence = reader.page.sequence.wrapping_add(1);
        reader.start_page();

        let mut buf = Vec::with_capacity(64);
        let raw = reader
            .next_raw(&mut buf, 21 + 255, 21 + 255)
            .map_err(|e| match e {
                OggError::PacketTooLarge { .. } => OggError::BadOpusHead("too long"),
                e => e,
            })?
            .ok_or(OggError::BadOpusHead("missing"))?;
        if !raw.ends_page {
            return Err(OggError::BadOpusHead(
                "first page holds more than the OpusHead packet",
            ));
        }
        reader.head = OpusHead::parse(&buf)?;

        // OpusTags: only its magic is checked, and only its first bytes are kept, so
        // large tag blocks (cover art) cost no memory.
        buf.clear();
        let raw = match reader.next_raw(&mut buf, 8, usize::MAX) {
            Ok(Some(raw)) => raw,
            Ok(None) | Err(OggError::UnexpectedContinuation) => {
                return Err(OggError::BadOpusTags("missing"));
            }
            Err(e) => return Err(e),
        };
        if raw.len < 16 || buf != b"OpusTags" {
            return Err(OggError::BadOpusTags("missing \"OpusTags\" magic"));
        }
        if !raw.ends_page {
            return Err(OggError::BadOpusTags(
                "audio data shares the last OpusTags page",
            ));
        }
        Ok(reader)
    }

    /// The stream's identification header.
    pub fn head(&self) -> &OpusHead {
        &self.head
    }

    /// The serial number of the Opus logical stream.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Reads the next audio packet into a new buffer; `Ok(None)` after the
    /// end-of-stream page (or at a clean end of file without one).
    pub fn next_packet(&mut self) -> Result<Option<OpusPacket>, OggError> {
        let mut data = Vec::new();
        Ok(self.read_packet_into(&mut data)?.map(|info| OpusPacket {
            data,
            granule_position: info.granule_position,
            duration_48k: info.duration_48k,
        }))
    }

    /// Reads the next audio packet into `buf` (cleared first, capacity reused).
    pub fn read_packet_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<PacketInfo>, OggError> {
        buf.clear();
        let Some(raw) = self.next_raw(buf, usize::MAX, MAX_PACKET_LEN)? else {
            return Ok(None);
        };
        let duration_48k =
            opus_packet_duration_48k(buf).ok_or(OggError::InvalidOpusPacket { len: raw.len })?;
        Ok(Some(PacketInfo {
            granule_position: raw.granule,
            duration_48k,
        }))
    }

    /// Returns the underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn start_page(&mut self) {
        self.segment = 0;
        self.body_offset = 0;
        self.last_packet_end = self.page.last_packet_end();
    }

    /// Assembles the next packet, appending at most `store` of its bytes to `out` and
    /// failing once it exceeds `max` bytes.
    fn next_raw(
        &mut self,
        out: &mut Vec<u8>,
        store: usize,
        max: usize,
    ) -> Result<Option<RawPacket>, OggError> {
        let mut len = 0usize;
        let mut open = false;
        loop {
            if self.done {
                return Ok(None);
            }
            if self.segment < self.page.segments {
                let lace = usize::from(self.page.lacing[self.segment]);
                let chunk = &self.page.body[self.body_offset..self.body_offset + lace];
                let index = self.segment;
                self.segment += 1;
                self.body_offset += lace;
                open = true;
                len += lace;
                if len > max {
                    return Err(OggError::PacketTooLarge { len, max });
                }
                let room = store.saturating_sub(out.len()).min(lace);
                out.extend_from_slice(&chunk[..room]);
                if lace < 255 {
                    let granule = (Some(index) == self.last_packet_end
                        && self.page.granule != NO_GRANULE)
                        .then_some(self.page.granule);
                    return Ok(Some(RawPacket {
                        len,
                        granule,
                        ends_page: self.segment == self.page.segments,
                    }));
                }
                continue;
            }
            // Page exhausted.
            if self.page.flags & FLAG_EOS != 0 {
                self.done = true;
                return if open {
                    Err(OggError::UnterminatedPacket)
                } else {
                    Ok(None)
                };
            }
            // Whatever happens next, the old page is gone.
            self.segment = 0;
            self.body_offset = 0;
            loop {
                if !self.page.read(&mut self.inner)? {
                    self.done = true;
                    return if open {
                        Err(OggError::Truncated("end of file inside a packet"))
                    } else {
                        Ok(None)
                    };
                }
                if self.page.serial == self.serial {
                    break;
                }
            }
            let gap = self.page.sequence != self.next_sequence;
            let expected = self.next_sequence;
            self.next_sequence = self.page.sequence.wrapping_add(1);
            self.start_page();
            let continued = self.page.flags & FLAG_CONTINUED != 0;
            if continued && (gap || !open) {
                // The start of the packet this page continues is lost: skip its tail so
                // the next call starts at a packet boundary.
                self.skip_orphan_tail();
            }
            if gap {
                return Err(OggError::PageSequence {
                    expected,
                    found: self.page.sequence,
                });
            }
            if open && !continued {
                return Err(OggError::MissingContinuation);
            }
            if !open && continued {
                return Err(OggError::UnexpectedContinuation);
            }
        }
    }

    fn skip_orphan_tail(&mut self) {
        while self.segment < self.page.segments {
            let lace = self.page.lacing[self.segment];
            self.segment += 1;
            self.body_offset += usize::from(lace);
            if lace < 255 {
                break;
            }
        }
    }
}

/// Yields packets until the end of the stream; stops after the first error.
impl<R: Read> Iterator for OggOpusReader<R> {
    type Item = Result<OpusPacket, OggError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_packet() {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Writer

/// Writes an Ogg Opus stream, one audio packet per page.
///
/// The last page is held back until the next packet or [`finish`](Self::finish), so it
/// can carry the end-of-stream flag: **call `finish`**, or the stream ends without its
/// last page. Output is built in an internal buffer and written with one `write_all`
/// per page.
#[derive(Debug)]
pub struct OggOpusWriter<W: Write> {
    inner: W,
    serial: u32,
    sequence: u32,
    granule: u64,
    /// Pages not yet written; the last one is the held-back page.
    pending: Vec<u8>,
    /// Offset of the held-back page in `pending`.
    last_page: usize,
    /// Duration of the packet on the held-back page (0 for the tags page).
    last_duration: u32,
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the `OpusHead` page and prepares the `OpusTags` page (vendor
    /// [`VENDOR`], no comments).
    ///
    /// Only mapping family 0 with 1 or 2 channels is supported
    /// ([`OggError::UnsupportedLayout`] otherwise).
    pub fn new(mut inner: W, serial: u32, head: &OpusHead) -> Result<Self, OggError> {
        let head_bytes = head.to_bytes()?;
        let mut pending = Vec::with_capacity(256);
        push_page(&mut pending, FLAG_BOS, 0, serial, 0, &[19], &head_bytes);
        inner.write_all(&pending)?;
        pending.clear();

        let mut tags = Vec::with_capacity(8 + 4 + VENDOR.len() + 4);
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(VENDOR.len() as u32).to_le_bytes());
        tags.extend_from_slice(VENDOR.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes());
        let sequence = push_packet_pages(&mut pending, serial, 1, &tags, 0, 0);
        Ok(OggOpusWriter {
            inner,
            serial,
            sequence,
            granule: 0,
            pending,
            last_page: 0,
            last_duration: 0,
        })
    }

    /// Appends an audio packet on a page of its own (or several, for packets over
    /// 65,024 bytes), advancing the granule position by the packet's duration.
    ///
    /// Packets whose duration cannot be determined are refused
    /// ([`OggError::InvalidOpusPacket`]); nothing is written then.
    pub fn write_packet(&mut self, packet: &[u8]) -> Result<(), OggError> {
        let duration = opus_packet_duration_48k(packet)
            .ok_or(OggError::InvalidOpusPacket { len: packet.len() })?;
        self.flush_pending()?;
        self.granule += u64::from(duration);
        self.sequence = push_packet_pages(
            &mut self.pending,
            self.serial,
            self.sequence,
            packet,
            self.granule,
            0,
        );
        self.last_page = self.last_page_offset();
        self.last_duration = duration;
        Ok(())
    }

    /// Granule position after the packets written so far (48 kHz samples, including
    /// pre-skip).
    pub fn granule_position(&self) -> u64 {
        self.granule
    }

    /// Writes the held-back last page flagged end-of-stream, flushes, and returns the
    /// writer.
    pub fn finish(self) -> Result<W, OggError> {
        self.finish_with_end_trim(0)
    }

    /// Like [`finish`](Self::finish), but lowers the last page's granule position by
    /// `trim` samples, telling players to drop that many samples from the end of the
    /// decoded audio (RFC 7845 §4.5). `trim` may not exceed the last packet's duration.
    ///
    /// Use it to remux a stream exactly: the original's trim is its final granule
    /// position subtracted from the sum of its packet durations.
    pub fn finish_with_end_trim(mut self, trim: u64) -> Result<W, OggError> {
        if trim > u64::from(self.last_duration) {
            return Err(OggError::InvalidEndTrim {
                trim,
                available: u64::from(self.last_duration),
            });
        }
        let start = self.last_page;
        let page = &mut self.pending[start..];
        page[5] |= FLAG_EOS;
        if trim > 0 {
            page[6..14].copy_from_slice(&(self.granule - trim).to_le_bytes());
        }
        page[22..26].fill(0);
        let crc = crc_update(0, page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        self.inner.write_all(&self.pending)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.pending)?;
        self.pending.clear();
        self.last_page = 0;
        Ok(())
    }

    /// Offset of the last page in `pending` (pages are walked by their headers).
    fn last_page_offset(&self) -> usize {
        let mut offset = 0;
        loop {
            let segments = usize::from(self.pending[offset + 26]);
            let body: usize = self.pending[offset + 27..offset + 27 + segments]
                .iter()
                .map(|&l| usize::from(l))
                .sum();
            let next = offset + PAGE_HEADER_LEN + segments + body;
            if next >= self.pending.len() {
                return offset;
            }
            offset = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// TOC for CELT FB 20 ms (config 31), code 0.
    const TOC_20MS: u8 = 31 << 3;

    fn packet(len: usize, fill: u8) -> Vec<u8> {
        let mut p = vec![fill; len];
        p[0] = TOC_20MS;
        p
    }

    fn write_stream(packets: &[Vec<u8>]) -> Vec<u8> {
        let mut w = OggOpusWriter::new(Vec::new(), 0x1234, &OpusHead::new(2, 312)).unwrap();
        for p in packets {
            w.write_packet(p).unwrap();
        }
        w.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<OpusPacket>, OggError> {
        OggOpusReader::new(bytes)?.collect()
    }

    /// Splits a stream into pages (offset, length).
    fn pages(bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        let mut off = 0;
        while off < bytes.len() {
            let n = usize::from(bytes[off + 26]);
            let body: usize = bytes[off + 27..off + 27 + n]
                .iter()
                .map(|&l| usize::from(l))
                .sum();
            let len = 27 + n + body;
            v.push((off, len));
            off += len;
        }
        v
    }

    #[test]
    fn crc_matches_reference_vector() {
        // CRC-32/MPEG-2 differs only by its init/xorout; with init 0 and no final XOR the
        // check value for "123456789" is 0x89a1897f (CRC-32/BZIP2 has 0xfc891918).
        assert_eq!(crc_update(0, b"123456789"), 0x89a1_897f);
    }

    #[test]
    fn toc_durations() {
        // Config 0 (SILK NB 10 ms) code 0.
        assert_eq!(opus_packet_duration_48k(&[0]), Some(480));
        // Config 3 (SILK NB 60 ms) code 1: two frames = 120 ms.
        assert_eq!(opus_packet_duration_48k(&[3 << 3 | 1]), Some(5760));
        // Config 13 (hybrid SWB 20 ms) code 2 needs the length byte.
        assert_eq!(opus_packet_duration_48k(&[13 << 3 | 2]), None);
        assert_eq!(opus_packet_duration_48k(&[13 << 3 | 2, 0]), Some(1920));
        // Config 16 (CELT NB 2.5 ms) code 3 with 48 frames = 120 ms; 49 is too many.
        assert_eq!(opus_packet_duration_48k(&[16 << 3 | 3, 48]), Some(5760));
        assert_eq!(opus_packet_duration_48k(&[16 << 3 | 3, 49]), None);
        // Code 3 with VBR/padding flags set: only the low 6 bits count.
        assert_eq!(opus_packet_duration_48k(&[TOC_20MS | 3, 0xc3]), Some(2880));
        assert_eq!(opus_packet_duration_48k(&[TOC_20MS | 3, 0]), None);
        assert_eq!(opus_packet_duration_48k(&[TOC_20MS | 3]), None);
        // 60 ms SILK code 3 with 3 frames = 180 ms: invalid.
        assert_eq!(opus_packet_duration_48k(&[3 << 3 | 3, 3]), None);
        assert_eq!(opus_packet_duration_48k(&[]), None);
        assert_eq!(opus_packet_duration_48k(&[TOC_20MS]), Some(960));
    }

    #[test]
    fn head_round_trip_and_validation() {
        let h = OpusHead {
            channels: 2,
            pre_skip: 3840,
            input_sample_rate: 44_100,
            output_gain: -256,
            mapping_family: 0,
        };
        assert_eq!(OpusHead::parse(&h.to_bytes().unwrap()).unwrap(), h);
        let mut b = h.to_bytes().unwrap();
        b[9] = 3;
        assert!(matches!(OpusHead::parse(&b), Err(OggError::BadOpusHead(_))));
        b[9] = 0;
        assert!(matches!(OpusHead::parse(&b), Err(OggError::BadOpusHead(_))));
        let mut b = h.to_bytes().unwrap();
        b[8] = 0x10;
        assert!(matches!(OpusHead::parse(&b), Err(OggError::BadOpusHead(_))));
        // Family 1, 6 channels, 4 streams, 2 coupled (5.1).
        let mut v = h.to_bytes().unwrap().to_vec();
        v[9] = 6;
        v[18] = 1;
        v.extend_from_slice(&[4, 2, 0, 4, 1, 2, 3, 5]);
        assert_eq!(OpusHead::parse(&v).unwrap().channels, 6);
        v[25] = 6; // mapping index 6 >= 6 decoded channels
        assert!(OpusHead::parse(&v).is_err());
        assert!(OpusHead::parse(&v[..24]).is_err());
        let family1 = OpusHead {
            mapping_family: 1,
            ..h
        };
        assert!(matches!(
            OggOpusWriter::new(Vec::new(), 1, &family1),
            Err(OggError::UnsupportedLayout { family: 1, .. })
        ));
    }

    #[test]
    fn write_then_read_packets_of_every_lacing_shape() {
        // Lengths around segment and page boundaries, including a packet that needs two
        // pages and one whose length is exactly one full page.
        let lens = [
            1, 2, 254, 255, 256, 510, 1000, 65_024, 65_025, 65_279, 70_000, 3,
        ];
        let packets: Vec<_> = lens
            .iter()
            .enumerate()
            .map(|(i, &l)| packet(l, i as u8))
            .collect();
        let bytes = write_stream(&packets);
        let read = read_all(&bytes).unwrap();
        assert_eq!(read.len(), packets.len());
        let mut granule = 0;
        for (p, r) in packets.iter().zip(&read) {
            granule += 960;
            assert_eq!(&r.data, p);
            assert_eq!(r.duration_48k, 960);
            assert_eq!(r.granule_position, Some(granule));
        }
        // Page structure: head (BOS), tags, then data pages; only the last is EOS.
        let ps = pages(&bytes);
        assert_eq!(bytes[ps[0].0 + 5], FLAG_BOS);
        for (i, &(off, _)) in ps.iter().enumerate().skip(1) {
            let eos = bytes[off + 5] & FLAG_EOS != 0;
            assert_eq!(eos, i == ps.len() - 1);
            assert_eq!(
                u32::from_le_bytes(bytes[off + 18..off + 22].try_into().unwrap()),
                i as u32
            );
        }
        // 65_024 = 255 * 255 - 1 .. fits one page; 65_025 needs a second page holding
        // only the terminating 0 lacing value.
        assert_eq!(ps.len(), 2 + lens.len() + 3);
    }

    #[test]
    fn multiple_packets_per_page_get_granule_only_on_the_last() {
        let mut bytes = write_stream(&[]);
        // Replace the EOS tags page by a plain one plus a hand-built data page with
        // three packets, the last one continuing onto an EOS page.
        let ps = pages(&bytes);
        bytes.truncate(ps[1].0);
        let tags = b"OpusTags\x00\x00\x00\x00\x00\x00\x00\x00";
        push_page(&mut bytes, 0, 0, 0x1234, 1, &[16], tags);
        let a = packet(10, 1);
        let b = packet(300, 2);
        let c = packet(400, 3);
        let mut body = Vec::new();
        body.extend_from_slice(&a);
        body.extend_from_slice(&b);
        body.extend_from_slice(&c[..255]);
        push_page(&mut bytes, 0, 1920, 0x1234, 2, &[10, 255, 45, 255], &body);
        // A page of another stream in between is ignored.
        push_page(&mut bytes, FLAG_BOS, 0, 0x9999, 0, &[3], b"xyz");
        push_page(
            &mut bytes,
            FLAG_CONTINUED | FLAG_EOS,
            2880,
            0x1234,
            3,
            &[145],
            &c[255..],
        );
        let read = read_all(&bytes).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!((&read[0].data, read[0].granule_position), (&a, None));
        assert_eq!((&read[1].data, read[1].granule_position), (&b, Some(1920)));
        assert_eq!((&read[2].data, read[2].granule_position), (&c, Some(2880)));
    }

    #[test]
    fn bad_crc_is_detected() {
        let bytes = write_stream(&[packet(100, 7), packet(100, 8)]);
        let ps = pages(&bytes);
        let (off, len) = ps[2];
        let mut bad = bytes.clone();
        bad[off + len - 1] ^= 0x40;
        let mut r = OggOpusReader::new(&bad[..]).unwrap();
        assert!(matches!(
            r.next_packet(),
            Err(OggError::CrcMismatch { sequence: 2, .. })
        ));
        // Damage in the header pages fails construction.
        let mut bad = bytes.clone();
        bad[ps[0].0 + 30] ^= 1;
        assert!(matches!(
            OggOpusReader::new(&bad[..]),
            Err(OggError::CrcMismatch { sequence: 0, .. })
        ));
    }

    #[test]
    fn lost_page_and_truncation_are_errors() {
        let bytes = write_stream(&[packet(100, 1), packet(100, 2), packet(100, 3)]);
        let ps = pages(&bytes);
        // Drop page 3 (second audio packet).
        let mut lost = bytes[..ps[3].0].to_vec();
        lost.extend_from_slice(&bytes[ps[4].0..]);
        let mut r = OggOpusReader::new(&lost[..]).unwrap();
        assert!(r.next_packet().unwrap().is_some());
        assert!(matches!(
            r.next_packet(),
            Err(OggError::PageSequence {
                expected: 3,
                found: 4
            })
        ));
        // The reader resynchronises on the next page.
        assert_eq!(r.next_packet().unwrap().unwrap().data, packet(100, 3));

        // Truncated mid-page.
        for cut in [ps[2].0 + 10, ps[2].0 + 27, ps[2].0 + 40] {
            let mut r = OggOpusReader::new(&bytes[..cut]).unwrap();
            assert!(matches!(r.next_packet(), Err(OggError::Truncated(_))));
        }
        // Truncated on a page boundary without EOS: a clean end.
        let r = OggOpusReader::new(&bytes[..ps[3].0]).unwrap();
        assert_eq!(r.count(), 1);
        // Truncated in a multi-page packet.
        let big = write_stream(&[packet(70_000, 1)]);
        let ps = pages(&big);
        let mut r = OggOpusReader::new(&big[..ps[3].0]).unwrap();
        assert!(matches!(r.next_packet(), Err(OggError::Truncated(_))));
    }

    #[test]
    fn header_problems() {
        assert!(matches!(
            OggOpusReader::new(&b""[..]),
            Err(OggError::NotOpus(_))
        ));
        assert!(matches!(
            OggOpusReader::new(&b"RIFF\0\0\0\0WAVEfmt "[..]),
            Err(OggError::BadCapture(_))
        ));
        let bytes = write_stream(&[packet(10, 1)]);
        let ps = pages(&bytes);
        // Missing tags.
        assert!(matches!(
            OggOpusReader::new(&bytes[..ps[1].0]),
            Err(OggError::BadOpusTags("missing"))
        ));
        // A Vorbis-like BOS page only.
        let mut v = Vec::new();
        push_page(&mut v, FLAG_BOS, 0, 5, 0, &[7], b"\x01vorbis");
        push_page(&mut v, 0, 0, 5, 1, &[7], b"\x03vorbis");
        assert!(matches!(
            OggOpusReader::new(&v[..]),
            Err(OggError::NotOpus(_))
        ));
        // The Opus BOS page after another stream's BOS page is found.
        let mut v = Vec::new();
        push_page(&mut v, FLAG_BOS, 0, 5, 0, &[7], b"\x01vorbis");
        v.extend_from_slice(&bytes);
        let r = OggOpusReader::new(&v[..]).unwrap();
        assert_eq!(r.serial(), 0x1234);
        assert_eq!(r.head().pre_skip, 312);
        assert_eq!(r.count(), 1);
        // Audio sharing the OpusHead page.
        let mut v = Vec::new();
        let head = OpusHead::new(1, 0).to_bytes().unwrap();
        let mut body = head.to_vec();
        body.push(TOC_20MS);
        push_page(&mut v, FLAG_BOS, 0, 5, 0, &[19, 1], &body);
        assert!(matches!(
            OggOpusReader::new(&v[..]),
            Err(OggError::BadOpusHead(_))
        ));
    }

    #[test]
    fn invalid_toc_is_reported_and_skippable() {
        let mut bytes = write_stream(&[]);
        let ps = pages(&bytes);
        bytes.truncate(ps[1].0);
        push_page(
            &mut bytes,
            0,
            0,
            0x1234,
            1,
            &[16],
            b"OpusTags\0\0\0\0\0\0\0\0",
        );
        push_page(&mut bytes, 0, 0, 0x1234, 2, &[2, 0], &[TOC_20MS | 3, 0]);
        push_page(&mut bytes, FLAG_EOS, 960, 0x1234, 3, &[1], &[TOC_20MS]);
        let mut r = OggOpusReader::new(&bytes[..]).unwrap();
        assert!(matches!(
            r.next_packet(),
            Err(OggError::InvalidOpusPacket { len: 2 })
        ));
        assert!(matches!(
            r.next_packet(),
            Err(OggError::InvalidOpusPacket { len: 0 })
        ));
        assert_eq!(r.next_packet().unwrap().unwrap().duration_48k, 960);
        assert_eq!(r.next_packet().unwrap(), None);

        let mut w = OggOpusWriter::new(Vec::new(), 1, &OpusHead::new(1, 0)).unwrap();
        assert!(matches!(
            w.write_packet(&[]),
            Err(OggError::InvalidOpusPacket { len: 0 })
        ));
    }

    #[test]
    fn end_trim() {
        let mut w = OggOpusWriter::new(Vec::new(), 9, &OpusHead::new(1, 312)).unwrap();
        w.write_packet(&packet(5, 0)).unwrap();
        w.write_packet(&packet(5, 0)).unwrap();
        assert_eq!(w.granule_position(), 1920);
        let bytes = w.finish_with_end_trim(648).unwrap();
        let read = read_all(&bytes).unwrap();
        assert_eq!(read[1].granule_position, Some(1920 - 648));

        let mut w = OggOpusWriter::new(Vec::new(), 9, &OpusHead::new(1, 312)).unwrap();
        w.write_packet(&packet(5, 0)).unwrap();
        assert!(matches!(
            w.finish_with_end_trim(961),
            Err(OggError::InvalidEndTrim { .. })
        ));
        // With no audio, finish flags the tags page EOS: a valid, empty stream.
        let empty = write_stream(&[]);
        assert_eq!(pages(&empty).len(), 2);
        assert_eq!(read_all(&empty).unwrap(), vec![]);
    }

    /// Every truncation point and a damaged byte at every offset: errors, never a panic,
    /// even when the caller keeps reading after an error (a regression: a page that
    /// failed half-way used to leave a stale segment table behind).
    #[test]
    fn exhaustive_damage_never_panics() {
        let bytes = write_stream(&[packet(300, 1), packet(20, 2), packet(600, 3)]);
        let drain = |data: &[u8]| {
            if let Ok(mut r) = OggOpusReader::new(data) {
                for _ in 0..20 {
                    if let Ok(None) = r.next_packet() {
                        break;
                    }
                }
            }
        };
        for cut in 0..bytes.len() {
            drain(&bytes[..cut]);
        }
        for i in 0..bytes.len() {
            for x in [0x04, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= x;
                drain(&damaged);
            }
        }
        // After a CRC error the reader reports the lost page, then goes on.
        let ps = pages(&bytes);
        let mut damaged = bytes.clone();
        damaged[ps[3].0 + 40] ^= 1;
        let mut r = OggOpusReader::new(&damaged[..]).unwrap();
        assert_eq!(r.next_packet().unwrap().unwrap().data, packet(300, 1));
        assert!(matches!(
            r.next_packet(),
            Err(OggError::CrcMismatch { sequence: 3, .. })
        ));
        assert!(matches!(
            r.next_packet(),
            Err(OggError::PageSequence {
                expected: 3,
                found: 4
            })
        ));
        assert_eq!(r.next_packet().unwrap().unwrap().data, packet(600, 3));
        assert_eq!(r.next_packet().unwrap(), None);
    }

    /// Builds a syntactically valid stream (correct CRCs) from arbitrary page contents,
    /// so the packet assembler, not the CRC check, sees the garbage.
    fn arbitrary_pages() -> impl Strategy<Value = Vec<u8>> {
        let page = (
            0u8..8,
            prop::collection::vec(prop::sample::select(vec![0u8, 1, 7, 100, 254, 255]), 0..6),
            0u32..4,
            any::<u64>(),
        );
        prop::collection::vec(page, 0..8).prop_map(|pages| {
            let mut out = write_stream(&[packet(20, 1)]);
            let ps = pages_of(&out);
            out.truncate(ps[2]);
            for (i, (flags, lacing, seq_delta, granule)) in pages.into_iter().enumerate() {
                let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
                let body: Vec<u8> = (0..body_len).map(|k| (k as u8) | 0x80).collect();
                let seq = (i as u32 + 2).wrapping_add(seq_delta).wrapping_sub(1);
                push_page(&mut out, flags, granule, 0x1234, seq, &lacing, &body);
            }
            out
        })
    }

    fn pages_of(bytes: &[u8]) -> Vec<usize> {
        pages(bytes).into_iter().map(|(o, _)| o).collect()
    }

    proptest! {
        #[test]
        fn reader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(mut r) = OggOpusReader::new(&bytes[..]) {
                for _ in 0..100 {
                    if let Ok(None) = r.next_packet() { break; }
                }
            }
        }

        #[test]
        fn reader_never_panics_on_arbitrary_pages(bytes in arbitrary_pages()) {
            let mut r = OggOpusReader::new(&bytes[..]).unwrap();
            for _ in 0..100 {
                if let Ok(None) = r.next_packet() { break; }
            }
        }

        #[test]
        fn reader_never_panics_on_corrupted_streams(
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = write_stream(&[packet(300, 1), packet(20, 2), packet(600, 3)]);
            for (i, x) in flips {
                let i = i.index(bytes.len());
                bytes[i] ^= x;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            if let Ok(mut r) = OggOpusReader::new(&bytes[..]) {
                for _ in 0..100 {
                    if let Ok(None) = r.next_packet() { break; }
                }
            }
        }

        #[test]
        fn write_read_round_trip(lens in prop::collection::vec(1usize..1500, 0..20)) {
            let packets: Vec<_> = lens.iter().map(|&l| packet(l, l as u8)).collect();
            let bytes = write_stream(&packets);
            let read: Vec<_> = read_all(&bytes).unwrap().into_iter().map(|p| p.data).collect();
            prop_assert_eq!(read, packets);
        }
    }
}
