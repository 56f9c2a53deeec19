//! SRTP protection for the router's direct send path (RFC 3711 key derivation, RFC 7714
//! AEAD AES-GCM), and the one piece of a consumer's incoming SRTCP the worker reads itself:
//! its transport-wide congestion control feedback ([`SrtcpReceiver`]).
//!
//! str0m protects every packet it sends itself, but only after walking the whole `Rtc`
//! (queue, timeout, pacer, poll loop) for each one; with hundreds of subscribers that walk,
//! not the cipher, is what a forwarded packet costs. The worker therefore sends forwarded
//! media of a connected consumer itself: it writes the RTP header and protects the packet
//! with the consumer's own SRTP keys — the DTLS-SRTP keying material str0m's handshake
//! exported, captured by [`crate::dtls_keys`]. Only the AEAD profiles are handled here (the
//! ones str0m and browsers pick); a transport that negotiated AES-CM/HMAC stays on str0m's
//! path. The primitives (AES block, AES-GCM seal) come from str0m's crypto provider, so
//! both paths use the same implementation.

use str0m::crypto::SrtpProvider;
use str0m::crypto::dtls::SrtpProfile;
use str0m::crypto::{AeadAes128GcmCipher, AeadAes256GcmCipher};

/// Bytes an AEAD profile adds to a packet (the GCM tag).
pub const TAG_LEN: usize = 16;
/// RFC 7714: the master salt of the AEAD profiles.
const SALT_LEN: usize = 12;
/// RFC 3711 §4.3.1 key derivation labels: SRTP for what the worker sends, SRTCP for the
/// feedback it reads.
const LABEL_RTP_ENCRYPTION: u8 = 0x00;
const LABEL_RTP_SALT: u8 = 0x02;
const LABEL_RTCP_ENCRYPTION: u8 = 0x03;
const LABEL_RTCP_SALT: u8 = 0x05;
/// An SRTCP packet's trailer: the E flag and the 31-bit SRTCP index.
const SRTCP_INDEX_LEN: usize = 4;

enum Cipher {
    Aes128(Box<dyn AeadAes128GcmCipher>),
    Aes256(Box<dyn AeadAes256GcmCipher>),
}

/// The sending half of one transport's SRTP context.
pub struct SrtpSender {
    cipher: Cipher,
    salt: [u8; SALT_LEN],
}

impl std::fmt::Debug for SrtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("SrtpSender").finish_non_exhaustive()
    }
}

impl SrtpSender {
    /// The sender for one side of a DTLS-SRTP association (RFC 5764 §4.2: the material is
    /// client key, server key, client salt, server salt; the DTLS client — `active` —
    /// sends with the client's). `None` for a profile this path does not handle, or
    /// material of the wrong length.
    pub fn new(
        provider: &dyn SrtpProvider,
        material: &[u8],
        profile: SrtpProfile,
        active: bool,
    ) -> Option<Self> {
        let labels = (LABEL_RTP_ENCRYPTION, LABEL_RTP_SALT);
        let (cipher, salt) = session(provider, material, profile, active, labels, true)?;
        Some(SrtpSender { cipher, salt })
    }

    /// Protects an RTP packet: `buf` holds its header (the additional authenticated
    /// data); the ciphertext of `payload` and the tag are appended. `index` is the SRTP
    /// packet index (rollover counter × 65,536 + sequence number).
    pub fn protect(
        &mut self,
        buf: &mut Vec<u8>,
        payload: &[u8],
        ssrc: u32,
        index: u64,
    ) -> Result<(), str0m::crypto::CryptoError> {
        // RFC 7714 §8.1: 00 00 | SSRC | ROC | SEQ, XOR the session salt.
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..10].copy_from_slice(&((index >> 16) as u32).to_be_bytes());
        iv[10..12].copy_from_slice(&(index as u16).to_be_bytes());
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        let header_len = buf.len();
        buf.resize(header_len + payload.len() + TAG_LEN, 0);
        let (aad, out) = buf.split_at_mut(header_len);
        match &mut self.cipher {
            Cipher::Aes128(c) => c.encrypt(&iv, aad, payload, out),
            Cipher::Aes256(c) => c.encrypt(&iv, aad, payload, out),
        }
    }
}

/// The session cipher and salt of one side of a DTLS-SRTP association (RFC 5764 §4.2: the
/// material is client key, server key, client salt, server salt), for the key derivation
/// `labels` (encryption, salt). `None` for a profile other than AEAD, or material of the
/// wrong length.
fn session(
    provider: &dyn SrtpProvider,
    material: &[u8],
    profile: SrtpProfile,
    client_side: bool,
    (key_label, salt_label): (u8, u8),
    encrypt: bool,
) -> Option<(Cipher, [u8; SALT_LEN])> {
    let key_len = match profile {
        SrtpProfile::AEAD_AES_128_GCM => 16,
        SrtpProfile::AEAD_AES_256_GCM => 32,
        _ => return None,
    };
    if material.len() != 2 * (key_len + SALT_LEN) {
        return None;
    }
    let (keys, salts) = material.split_at(2 * key_len);
    let (client_key, server_key) = keys.split_at(key_len);
    let (client_salt, server_salt) = salts.split_at(SALT_LEN);
    let (master_key, master_salt) = if client_side {
        (client_key, client_salt)
    } else {
        (server_key, server_salt)
    };
    // RFC 7714 §11: the 96-bit master salt enters the 112-bit KDF padded with zeros.
    let mut salt14 = [0u8; 14];
    salt14[..SALT_LEN].copy_from_slice(master_salt);
    let mut session_key = [0u8; 32];
    derive(
        provider,
        master_key,
        &salt14,
        key_label,
        &mut session_key[..key_len],
    );
    let mut salt = [0u8; SALT_LEN];
    derive(provider, master_key, &salt14, salt_label, &mut salt);
    let cipher = if key_len == 16 {
        let mut k = [0u8; 16];
        k.copy_from_slice(&session_key[..16]);
        Cipher::Aes128(provider.aead_aes_128_gcm().create_cipher(k, encrypt))
    } else {
        Cipher::Aes256(
            provider
                .aead_aes_256_gcm()
                .create_cipher(session_key, encrypt),
        )
    };
    Some((cipher, salt))
}

/// The receiving half of a consumer transport's SRTCP, for the feedback the worker reads
/// itself (transport-wide congestion control, [`crate::bwe`]) instead of handing it to
/// str0m: with hundreds of subscribers each sending ~20 reports a second, str0m's receive
/// path (its SRTCP context, the parse into its report queues, the copy it surfaces, and the
/// poll after it) was a fifth of the media thread (BENCHMARKS.md, "Downlink estimation").
/// Everything else a client sends still goes to str0m.
pub struct SrtcpReceiver {
    cipher: Cipher,
    salt: [u8; SALT_LEN],
    /// The highest SRTCP index read here (replays and reordered packets are refused).
    last_index: Option<u32>,
}

impl std::fmt::Debug for SrtcpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtcpReceiver").finish_non_exhaustive()
    }
}

impl SrtcpReceiver {
    /// The receiver of what the peer of a DTLS-SRTP association sends: `active` is this
    /// side's role, as for [`SrtpSender::new`] (the peer sends with the other side's keys).
    pub fn new(
        provider: &dyn SrtpProvider,
        material: &[u8],
        profile: SrtpProfile,
        active: bool,
    ) -> Option<Self> {
        let labels = (LABEL_RTCP_ENCRYPTION, LABEL_RTCP_SALT);
        let (cipher, salt) = session(provider, material, profile, !active, labels, false)?;
        Some(SrtcpReceiver {
            cipher,
            salt,
            last_index: None,
        })
    }

    /// Unprotects an encrypted SRTCP packet (RFC 7714 §9: the first 8 bytes and the E
    /// flag with the index authenticated, the rest encrypted) into `out`: the RTCP packet,
    /// header included. `None` if it is not authentic, not encrypted, or its index is not
    /// above the last one read here (a replay).
    pub fn unprotect(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Option<()> {
        if packet.len() < 8 + TAG_LEN + SRTCP_INDEX_LEN {
            return None;
        }
        let (body, trailer) = packet.split_at(packet.len() - SRTCP_INDEX_LEN);
        let e_and_index = u32::from_be_bytes(trailer.try_into().ok()?);
        let index = e_and_index & 0x7fff_ffff;
        if e_and_index & 0x8000_0000 == 0 || self.last_index.is_some_and(|l| index <= l) {
            return None;
        }
        // RFC 7714 §9.1: 00 00 | SSRC | 00 00 | 0 | SRTCP index, XOR the session salt.
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&body[4..8]);
        iv[8..12].copy_from_slice(&index.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        let mut aad = [0u8; 12];
        aad[..8].copy_from_slice(&body[..8]);
        aad[8..].copy_from_slice(trailer);
        out.clear();
        out.extend_from_slice(&body[..8]);
        out.resize(body.len() - TAG_LEN, 0);
        let input = &body[8..];
        let n = match &mut self.cipher {
            Cipher::Aes128(c) => c.decrypt(&iv, &[&aad], input, &mut out[8..]),
            Cipher::Aes256(c) => c.decrypt(&iv, &[&aad], input, &mut out[8..]),
        }
        .ok()?;
        out.truncate(8 + n);
        self.last_index = Some(index);
        Some(())
    }
}

/// RFC 3711 §4.3.1 with a key derivation rate of zero: the AES counter-mode keystream over
/// `(label · 2^48) XOR master_salt`, shifted left 16 bits.
fn derive(
    provider: &dyn SrtpProvider,
    master_key: &[u8],
    salt14: &[u8; 14],
    label: u8,
    out: &mut [u8],
) {
    let mut x = [0u8; 16];
    x[..14].copy_from_slice(salt14);
    x[7] ^= label;
    for (counter, chunk) in out.chunks_mut(16).enumerate() {
        x[14..].copy_from_slice(&(counter as u16).to_be_bytes());
        let mut block = [0u8; 32]; // room for the provider's padding block
        if master_key.len() == 16 {
            provider.srtp_aes_128_ecb_round(master_key, &x, &mut block);
        } else {
            provider.srtp_aes_256_ecb_round(master_key, &x, &mut block);
        }
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> &'static dyn SrtpProvider {
        str0m::crypto::from_feature_flags().srtp_provider
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3711 Appendix B.3, the key derivation test vectors.
    #[test]
    fn key_derivation_matches_rfc_3711() {
        let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        let salt: [u8; 14] = hex("0EC675AD498AFEEBB6960B3AABE6").try_into().unwrap();
        let mut cipher_key = [0u8; 16];
        derive(
            provider(),
            &key,
            &salt,
            LABEL_RTP_ENCRYPTION,
            &mut cipher_key,
        );
        assert_eq!(cipher_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut cipher_salt = [0u8; 14];
        derive(provider(), &key, &salt, LABEL_RTP_SALT, &mut cipher_salt);
        assert_eq!(cipher_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth_key = [0u8; 20];
        derive(provider(), &key, &salt, 0x01, &mut auth_key);
        assert_eq!(
            auth_key.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
        );
    }

    #[test]
    fn only_aead_profiles_and_whole_material() {
        let material = [7u8; 2 * (16 + 12)];
        assert!(
            SrtpSender::new(provider(), &material, SrtpProfile::AEAD_AES_128_GCM, true).is_some()
        );
        assert!(
            SrtpSender::new(provider(), &material, SrtpProfile::AES128_CM_SHA1_80, true).is_none()
        );
        assert!(
            SrtpSender::new(
                provider(),
                &material[1..],
                SrtpProfile::AEAD_AES_128_GCM,
                true
            )
            .is_none()
        );
        assert!(
            SrtpSender::new(provider(), &material, SrtpProfile::AEAD_AES_256_GCM, true).is_none()
        );
    }

    /// An SRTCP packet as the other side sends it (RFC 7714 §9), for the receiver's tests.
    fn srtcp(material: &[u8], sender_active: bool, rtcp: &[u8], index: u32) -> Vec<u8> {
        let labels = (LABEL_RTCP_ENCRYPTION, LABEL_RTCP_SALT);
        let profile = SrtpProfile::AEAD_AES_128_GCM;
        let (cipher, salt) =
            session(provider(), material, profile, sender_active, labels, true).unwrap();
        let Cipher::Aes128(mut c) = cipher else {
            unreachable!()
        };
        let trailer = (0x8000_0000 | index).to_be_bytes();
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&rtcp[4..8]);
        iv[8..12].copy_from_slice(&index.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(salt) {
            *b ^= s;
        }
        let mut aad = rtcp[..8].to_vec();
        aad.extend_from_slice(&trailer);
        let mut out = rtcp[..8].to_vec();
        out.resize(rtcp.len() + TAG_LEN, 0);
        c.encrypt(&iv, &aad, &rtcp[8..], &mut out[8..]).unwrap();
        out.extend_from_slice(&trailer);
        out
    }

    #[test]
    fn srtcp_from_the_peer_is_read_once_and_only_if_authentic() {
        let material: Vec<u8> = (0..2 * (16 + 12)).map(|i| (i * 7) as u8).collect();
        let profile = SrtpProfile::AEAD_AES_128_GCM;
        // The router is the DTLS server (passive): the client sends with the client keys.
        let mut r = SrtcpReceiver::new(provider(), &material, profile, false).unwrap();
        let rtcp = [0x8f, 205, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let mut out = Vec::new();
        let p1 = srtcp(&material, true, &rtcp, 7);
        assert_eq!(r.unprotect(&p1, &mut out), Some(()));
        assert_eq!(out, rtcp);
        assert_eq!(r.unprotect(&p1, &mut out), None, "a replay");
        let p2 = srtcp(&material, true, &rtcp, 8);
        let mut tampered = p2.clone();
        tampered[10] ^= 1;
        assert_eq!(r.unprotect(&tampered, &mut out), None, "not authentic");
        let mut clear = p2.clone();
        let n = clear.len();
        clear[n - 4] &= 0x7f;
        assert_eq!(
            r.unprotect(&clear, &mut out),
            None,
            "the E flag is part of the AAD"
        );
        assert_eq!(r.unprotect(&p2, &mut out), Some(()));
        // The router's own side's keys do not read it.
        let mut wrong = SrtcpReceiver::new(provider(), &material, profile, true).unwrap();
        let p3 = srtcp(&material, true, &rtcp, 9);
        assert_eq!(wrong.unprotect(&p3, &mut out), None);
        assert_eq!(r.unprotect(&p3[..20], &mut out), None, "too short");
    }

    #[test]
    fn protect_appends_ciphertext_and_tag_and_depends_on_index() {
        let material: Vec<u8> = (0..2 * (32 + 12)).map(|i| i as u8).collect();
        let mut s =
            SrtpSender::new(provider(), &material, SrtpProfile::AEAD_AES_256_GCM, false).unwrap();
        let header = [0x80, 96, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4];
        let payload = [0x55u8; 100];
        let mut a = header.to_vec();
        s.protect(&mut a, &payload, 0x01020304, 1).unwrap();
        assert_eq!(a.len(), 12 + 100 + TAG_LEN);
        assert_eq!(&a[..12], &header, "the header stays in the clear");
        assert_ne!(&a[12..112], &payload[..], "the payload is encrypted");
        let mut b = header.to_vec();
        s.protect(&mut b, &payload, 0x01020304, 1 + (1 << 16))
            .unwrap();
        assert_ne!(a, b, "the rollover counter is part of the nonce");
    }
}
