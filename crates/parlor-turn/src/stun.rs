//! The STUN message format (RFC 8489) as TURN uses it, and TURN's ChannelData: parsing
//! without copying, building with MESSAGE-INTEGRITY (long-term credentials) and
//! FINGERPRINT, and the framing of both on a stream (TCP, TLS).

use std::net::{IpAddr, SocketAddr};

use aws_lc_rs::{constant_time, hmac};

pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const HEADER: usize = 20;

/// Methods.
pub const BINDING: u16 = 0x001;
pub const ALLOCATE: u16 = 0x003;
pub const REFRESH: u16 = 0x004;
pub const SEND: u16 = 0x006;
pub const DATA: u16 = 0x007;
pub const CREATE_PERMISSION: u16 = 0x008;
pub const CHANNEL_BIND: u16 = 0x009;

/// Attributes.
pub const MAPPED_ADDRESS: u16 = 0x0001;
pub const USERNAME: u16 = 0x0006;
pub const MESSAGE_INTEGRITY: u16 = 0x0008;
pub const ERROR_CODE: u16 = 0x0009;
pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
pub const CHANNEL_NUMBER: u16 = 0x000C;
pub const LIFETIME: u16 = 0x000D;
pub const XOR_PEER_ADDRESS: u16 = 0x0012;
pub const DATA_ATTR: u16 = 0x0013;
pub const REALM: u16 = 0x0014;
pub const NONCE: u16 = 0x0015;
pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
pub const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
pub const EVEN_PORT: u16 = 0x0018;
pub const REQUESTED_TRANSPORT: u16 = 0x0019;
pub const DONT_FRAGMENT: u16 = 0x001A;
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const RESERVATION_TOKEN: u16 = 0x0022;
pub const SOFTWARE: u16 = 0x8022;
pub const FINGERPRINT: u16 = 0x8028;

/// Message classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0x000,
            Class::Indication => 0x010,
            Class::Success => 0x100,
            Class::Error => 0x110,
        }
    }
}

fn message_type(method: u16, class: Class) -> u16 {
    (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | class.bits()
}

/// Why bytes are not a STUN message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("shorter than its header or its stated length")]
    Truncated,
    #[error("not a STUN message (first bits, magic cookie or length)")]
    NotStun,
    #[error("an attribute runs past the message")]
    BadAttribute,
}

/// A parsed STUN message, borrowing the bytes it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    bytes: &'a [u8],
    pub method: u16,
    pub class: Class,
}

impl<'a> Message<'a> {
    /// Parses one whole message (`bytes` must be exactly it).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() < HEADER {
            return Err(ParseError::Truncated);
        }
        let typ = u16::from_be_bytes([bytes[0], bytes[1]]);
        let len = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
        let cookie = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if typ & 0xC000 != 0 || cookie != MAGIC_COOKIE || len % 4 != 0 {
            return Err(ParseError::NotStun);
        }
        if bytes.len() != HEADER + len {
            return Err(ParseError::Truncated);
        }
        let class = match typ & 0x0110 {
            0x000 => Class::Request,
            0x010 => Class::Indication,
            0x100 => Class::Success,
            _ => Class::Error,
        };
        let method = (typ & 0x000F) | ((typ & 0x00E0) >> 1) | ((typ & 0x3E00) >> 2);
        let m = Message {
            bytes,
            method,
            class,
        };
        // Every attribute must fit.
        for a in m.attributes() {
            a?;
        }
        Ok(m)
    }

    pub fn transaction_id(&self) -> [u8; 12] {
        self.bytes[8..20].try_into().expect("12 bytes")
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Every attribute (type, value, offset of the attribute's header), in order.
    pub fn attributes(&self) -> impl Iterator<Item = Result<(u16, &'a [u8], usize), ParseError>> {
        let bytes = self.bytes;
        let mut at = HEADER;
        std::iter::from_fn(move || {
            if at >= bytes.len() {
                return None;
            }
            if at + 4 > bytes.len() {
                at = bytes.len();
                return Some(Err(ParseError::BadAttribute));
            }
            let typ = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
            let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
            let start = at + 4;
            if start + len > bytes.len() {
                at = bytes.len();
                return Some(Err(ParseError::BadAttribute));
            }
            let item = (typ, &bytes[start..start + len], at);
            at = start + len.next_multiple_of(4);
            Some(Ok(item))
        })
    }

    /// The first attribute of type `typ` before MESSAGE-INTEGRITY (what follows it is not
    /// covered by the integrity check, so it is ignored, except FINGERPRINT).
    pub fn get(&self, typ: u16) -> Option<&'a [u8]> {
        for a in self.attributes() {
            let (t, v, _) = a.ok()?;
            if t == typ {
                return Some(v);
            }
            if t == MESSAGE_INTEGRITY {
                return None;
            }
        }
        None
    }

    /// Comprehension-required attributes (type < 0x8000) this server does not know.
    pub fn unknown_required(&self, known: &[u16]) -> Vec<u16> {
        self.attributes()
            .filter_map(Result::ok)
            .map(|(t, _, _)| t)
            .filter(|t| *t < 0x8000 && !known.contains(t))
            .collect()
    }

    pub fn username(&self) -> Option<&'a str> {
        std::str::from_utf8(self.get(USERNAME)?).ok()
    }

    pub fn realm(&self) -> Option<&'a str> {
        std::str::from_utf8(self.get(REALM)?).ok()
    }

    pub fn nonce(&self) -> Option<&'a str> {
        std::str::from_utf8(self.get(NONCE)?).ok()
    }

    /// An XOR-*-ADDRESS attribute's address.
    pub fn xor_address(&self, typ: u16) -> Option<SocketAddr> {
        decode_xor_address(self.get(typ)?, &self.transaction_id())
    }

    pub fn u32_attr(&self, typ: u16) -> Option<u32> {
        let v = self.get(typ)?;
        Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1) with `key`. False when absent or wrong.
    pub fn verify_integrity(&self, key: &[u8]) -> bool {
        let Some((value, offset)) = self
            .attributes()
            .filter_map(Result::ok)
            .find(|(t, _, _)| *t == MESSAGE_INTEGRITY)
            .map(|(_, v, o)| (v, o))
        else {
            return false;
        };
        if value.len() != 20 {
            return false;
        }
        // The HMAC covers the message up to the attribute, with the length field counting
        // up to its end.
        let mut header = [0u8; HEADER];
        header.copy_from_slice(&self.bytes[..HEADER]);
        let covered_len = (offset + 24 - HEADER) as u16;
        header[2..4].copy_from_slice(&covered_len.to_be_bytes());
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&header);
        ctx.update(&self.bytes[HEADER..offset]);
        let tag = ctx.sign();
        constant_time::verify_slices_are_equal(tag.as_ref(), value).is_ok()
    }
}

/// Decodes an XOR-*-ADDRESS value.
pub fn decode_xor_address(v: &[u8], tid: &[u8; 12]) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let port = u16::from_be_bytes([v[2], v[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
    let ip = match v[1] {
        0x01 if v.len() == 8 => {
            let raw = u32::from_be_bytes(v[4..8].try_into().ok()?) ^ MAGIC_COOKIE;
            IpAddr::from(raw.to_be_bytes())
        }
        0x02 if v.len() == 20 => {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            key[4..].copy_from_slice(tid);
            let mut raw = [0u8; 16];
            for i in 0..16 {
                raw[i] = v[4 + i] ^ key[i];
            }
            IpAddr::from(raw)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Builds a STUN message.
#[derive(Debug)]
pub struct Builder {
    buf: Vec<u8>,
    tid: [u8; 12],
}

impl Builder {
    pub fn new(method: u16, class: Class, tid: [u8; 12]) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&message_type(method, class).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&tid);
        Builder { buf, tid }
    }

    /// A response (success or error) to `request`.
    pub fn reply(request: &Message<'_>, class: Class) -> Self {
        Self::new(request.method, class, request.transaction_id())
    }

    pub fn attr(mut self, typ: u16, value: &[u8]) -> Self {
        self.buf.extend_from_slice(&typ.to_be_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
        self.set_len();
        self
    }

    pub fn u32_attr(self, typ: u16, v: u32) -> Self {
        self.attr(typ, &v.to_be_bytes())
    }

    pub fn xor_address(self, typ: u16, addr: SocketAddr) -> Self {
        let mut v = Vec::with_capacity(20);
        let port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
        match addr.ip() {
            IpAddr::V4(ip) => {
                v.extend_from_slice(&[0, 0x01]);
                v.extend_from_slice(&port.to_be_bytes());
                v.extend_from_slice(&(u32::from(ip) ^ MAGIC_COOKIE).to_be_bytes());
            }
            IpAddr::V6(ip) => {
                v.extend_from_slice(&[0, 0x02]);
                v.extend_from_slice(&port.to_be_bytes());
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                key[4..].copy_from_slice(&self.tid);
                for (o, k) in ip.octets().iter().zip(key) {
                    v.push(o ^ k);
                }
            }
        }
        self.attr(typ, &v)
    }

    /// ERROR-CODE with its reason phrase.
    pub fn error(self, code: u16, reason: &str) -> Self {
        let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        v.extend_from_slice(reason.as_bytes());
        self.attr(ERROR_CODE, &v)
    }

    /// Appends MESSAGE-INTEGRITY computed with `key`.
    pub fn integrity(mut self, key: &[u8]) -> Self {
        // The length field must count the attribute before the HMAC is computed.
        let len = (self.buf.len() + 24 - HEADER) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
        let tag = hmac::sign(&key, &self.buf);
        self.attr(MESSAGE_INTEGRITY, tag.as_ref())
    }

    /// Appends FINGERPRINT, and returns the bytes.
    pub fn fingerprint(mut self) -> Vec<u8> {
        let len = (self.buf.len() + 8 - HEADER) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
        let crc = crc32fast::hash(&self.buf) ^ 0x5354_554E;
        self.attr(FINGERPRINT, &crc.to_be_bytes()).buf
    }

    pub fn build(self) -> Vec<u8> {
        self.buf
    }

    fn set_len(&mut self) {
        let len = (self.buf.len() - HEADER) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
    }
}

/// A ChannelData message (RFC 8656 §12.4): a channel number 0x4000–0x4FFF, a length, the
/// application data.
pub fn parse_channel_data(bytes: &[u8]) -> Option<(u16, &[u8])> {
    if bytes.len() < 4 || bytes[0] & 0xC0 != 0x40 {
        return None;
    }
    let channel = u16::from_be_bytes([bytes[0], bytes[1]]);
    let len = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
    // Over UDP the datagram may carry padding after the data.
    let data = bytes.get(4..4 + len)?;
    Some((channel, data))
}

/// Writes a ChannelData message into `out` (padded to 4 bytes: required on streams,
/// harmless on UDP).
pub fn write_channel_data(out: &mut Vec<u8>, channel: u16, data: &[u8]) {
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// On a stream: the length of the STUN message or ChannelData at the start of `buf` (with
/// ChannelData's padding), once its header is in. `Err`: neither, the stream is garbage.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    match buf[0] >> 6 {
        0 => Ok(Some(HEADER + len)),
        1 => Ok(Some(4 + len.next_multiple_of(4))),
        _ => Err(ParseError::NotStun),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    #[test]
    fn rfc5769_sample_request_verifies() {
        // RFC 5769 §2.1, short-term credentials: password "VOkJxbRl1RmTxUk/WvJxBt".
        let hex = "000100582112a442b7e7a701bc34d686fa87dfae\
                   802200105354554e207465737420636c69656e74\
                   002400046e0001ff\
                   80290008932ff9b151263b36\
                   000600096576746a3a68367659202020\
                   000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2\
                   80280004e57a3bcf";
        let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!((m.method, m.class), (BINDING, Class::Request));
        assert_eq!(m.username(), Some("evtj:h6vY"));
        assert!(m.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBt"));
        assert!(!m.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBu"));
        // Our FINGERPRINT over the same bytes gives the sample's.
        let crc = crc32fast::hash(&bytes[..bytes.len() - 8]) ^ 0x5354_554E;
        assert_eq!(crc.to_be_bytes(), [0xe5, 0x7a, 0x3b, 0xcf]);
    }

    #[test]
    fn built_messages_parse_back_and_verify() {
        let peer: SocketAddr = "192.0.2.7:32853".parse().unwrap();
        let peer6: SocketAddr = "[2001:db8::1]:4000".parse().unwrap();
        let bytes = Builder::new(CREATE_PERMISSION, Class::Request, TID)
            .attr(USERNAME, b"1700000000:conn")
            .xor_address(XOR_PEER_ADDRESS, peer)
            .u32_attr(LIFETIME, 600)
            .integrity(b"key")
            .fingerprint();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!((m.method, m.class), (CREATE_PERMISSION, Class::Request));
        assert_eq!(m.transaction_id(), TID);
        assert_eq!(m.xor_address(XOR_PEER_ADDRESS), Some(peer));
        assert_eq!(m.u32_attr(LIFETIME), Some(600));
        assert!(m.verify_integrity(b"key"));
        assert!(!m.verify_integrity(b"other"));
        let six = Builder::new(ALLOCATE, Class::Success, TID)
            .xor_address(XOR_RELAYED_ADDRESS, peer6)
            .build();
        let m = Message::parse(&six).unwrap();
        assert_eq!((m.method, m.class), (ALLOCATE, Class::Success));
        assert_eq!(m.xor_address(XOR_RELAYED_ADDRESS), Some(peer6));
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(Message::parse(&[0; 10]).unwrap_err(), ParseError::Truncated);
        let mut ok = Builder::new(BINDING, Class::Request, TID)
            .attr(SOFTWARE, b"x")
            .build();
        ok[4] ^= 1;
        assert_eq!(Message::parse(&ok).unwrap_err(), ParseError::NotStun);
        let mut long_attr = Builder::new(BINDING, Class::Request, TID)
            .attr(SOFTWARE, b"xxxx")
            .build();
        long_attr[23] = 200;
        assert_eq!(
            Message::parse(&long_attr).unwrap_err(),
            ParseError::BadAttribute
        );
    }

    #[test]
    fn channel_data_and_stream_framing() {
        let mut out = Vec::new();
        write_channel_data(&mut out, 0x4001, &[9; 5]);
        assert_eq!(out.len(), 12);
        assert_eq!(parse_channel_data(&out), Some((0x4001, &[9u8; 5][..])));
        assert_eq!(frame_len(&out), Ok(Some(12)));
        let stun = Builder::new(BINDING, Class::Request, TID).build();
        assert_eq!(frame_len(&stun), Ok(Some(20)));
        assert_eq!(frame_len(&[0xC0, 0, 0, 0]), Err(ParseError::NotStun));
        assert_eq!(frame_len(&[0x40, 0]), Ok(None));
    }
}
