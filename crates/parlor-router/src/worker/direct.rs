//! The direct send path: a consumer's packets written and SRTP-protected by the worker
//! itself (header, AES-GCM) instead of through str0m, and its retransmissions (RFC 4588)
//! from the producer's history in answer to NACKs.

use super::forwarding::{Prepared, with_send_stream};
use super::*;
use crate::forward::extend_seq;

impl Worker {
    /// Answers a consumer's NACK on the direct path: each lost packet still in the
    /// producer's history is resent on the track's retransmission stream (RFC 4588),
    /// as far as the consumer's retransmission budget goes.
    /// Transports on str0m's path answer NACKs themselves (str0m keeps their copies).
    pub(super) fn retransmit(&mut self, ckey: usize, nack: &Nack) {
        let Some(pkey) = (match self.transports.get(ckey) {
            Some(Transport {
                role: Role::Consumer(c),
                ..
            }) => Some(c.producer),
            _ => None,
        }) else {
            return;
        };
        let Some((ct, pt)) = self.transports.get2_mut(ckey, pkey) else {
            return;
        };
        let (Some(to), Role::Consumer(c), Role::Producer(p)) = (ct.send_to, &mut ct.role, &pt.role)
        else {
            return;
        };
        let (Some(srtp), Some(d)) = (c.srtp.as_mut(), c.video.direct.as_mut()) else {
            return;
        };
        let (Some(rtx_ssrc), Some((in_pt, _, Some(rtx_pt)))) = (d.rtx_ssrc, c.video.pt_map) else {
            return;
        };
        if *nack.ssrc != d.ssrc {
            return;
        }
        // The layer the consumer gets now: older numbers (another layer's) are not resent.
        let Some(layer_ssrc) = c.layer.current.and_then(|l| p.layers.ssrcs[usize::from(l)]) else {
            return;
        };
        let Some(last) = c.video.seq.last_out() else {
            return;
        };
        for entry in nack.reports.iter() {
            let lost = std::iter::once(entry.pid).chain(
                (0..16u16)
                    .filter(|b| entry.blp & (1 << b) != 0)
                    .map(|b| entry.pid.wrapping_add(b + 1)),
            );
            for seq16 in lost {
                let out_seq = extend_seq(last, seq16);
                let Some(input) = c.video.seq.input_for(out_seq) else {
                    continue;
                };
                let Some(packet) = p
                    .history
                    .iter()
                    .rev()
                    .find(|h| *h.seq_no == input && h.header.ssrc == layer_ssrc)
                else {
                    continue;
                };
                if packet.header.payload_type != in_pt {
                    continue; // sent with another codec than the track's current one
                }
                if c.rtx_budget < 1.0 {
                    self.stats.retransmissions_refused += 1;
                    continue;
                }
                c.rtx_budget -= 1.0;
                let mut buf = self.outbox.buffer();
                let index = d.rtx_seq;
                d.rtx_seq += 1;
                let timestamp = c.layer.timestamps.peek(packet.header.timestamp);
                let twcc = twcc_number(&c.downlink, d);
                write_header(
                    &mut buf,
                    d,
                    rtx_ssrc,
                    rtx_pt,
                    index as u16,
                    timestamp,
                    &packet.header,
                    twcc,
                );
                // The payload is the original sequence number, then the original payload
                // (as it was sent: a simulcast VP8 descriptor rewritten).
                let payload = &mut self.rtx_payload;
                payload.clear();
                payload.extend_from_slice(&(out_seq as u16).to_be_bytes());
                payload.extend_from_slice(&packet.payload);
                if let Some(vp8) = &c.layer.vp8 {
                    vp8.apply(&mut payload[2..]);
                }
                if srtp.protect(&mut buf, payload, rtx_ssrc, index).is_ok() {
                    if let (Some(dl), Some(_)) = (c.downlink.as_mut(), twcc) {
                        dl.log.commit(Instant::now(), buf.len());
                    }
                    self.outbox.push(to, buf);
                    self.stats.retransmissions += 1;
                }
            }
        }
    }
}

/// The track's send stream and negotiated header extensions, looked up once.
pub(super) fn direct_track<'a>(rtc: &mut Rtc, track: &'a mut Track) -> Option<&'a mut DirectTrack> {
    if track.direct.is_none() {
        let mid = track.mid?;
        let (ssrc, rtx_ssrc) =
            with_send_stream(rtc, track, mid, |tx| (*tx.ssrc(), tx.rtx().map(|s| *s)))?;
        let exts = rtc.media(mid)?.remote_extmap();
        // One-byte header form: IDs 1–14.
        let id = |e: Extension| exts.id_of(e).filter(|id| (1..=14).contains(id));
        track.direct = Some(DirectTrack {
            ssrc,
            rtx_ssrc,
            rtx_seq: rand::rng().random_range(1..0x7fff),
            mid,
            mid_id: id(Extension::RtpMid),
            audio_level_id: id(Extension::AudioLevel),
            orientation_id: id(Extension::VideoOrientation),
            twcc_id: track.twcc_id,
        });
    }
    track.direct.as_mut()
}

/// The transport-wide sequence number (extension ID and the number's low 16 bits) a
/// consumer's next packet on track `d` carries, if it has a [`Downlink`]. The packet is
/// then committed to the downlink's log once sent.
pub(super) fn twcc_number(downlink: &Option<Box<Downlink>>, d: &DirectTrack) -> Option<(u8, u16)> {
    Some((d.twcc_id?, downlink.as_ref()?.log.next_seq() as u16))
}

/// Writes an RTP header (RFC 3550) with one-byte header extensions (RFC 8285).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_header(
    buf: &mut Vec<u8>,
    d: &DirectTrack,
    ssrc: u32,
    pt: Pt,
    seq: u16,
    timestamp: u32,
    header: &RtpHeader,
    twcc: Option<(u8, u16)>,
) {
    let ev = &header.ext_vals;
    buf.extend_from_slice(&[0x90, (u8::from(header.marker) << 7) | *pt]);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&timestamp.to_be_bytes());
    buf.extend_from_slice(&ssrc.to_be_bytes());
    let ext_start = buf.len();
    buf.extend_from_slice(&[0xbe, 0xde, 0, 0]);
    if let Some(id) = d.mid_id {
        let mid = d.mid.as_bytes();
        if (1..=16).contains(&mid.len()) {
            buf.push((id << 4) | (mid.len() as u8 - 1));
            buf.extend_from_slice(mid);
        }
    }
    if let (Some(id), Some(level), Some(vad)) =
        (d.audio_level_id, ev.audio_level, ev.voice_activity)
    {
        buf.extend_from_slice(&[
            id << 4,
            (u8::from(vad) << 7) | (level.unsigned_abs() & 0x7f),
        ]);
    }
    if let (Some(id), Some(o)) = (d.orientation_id, ev.video_orientation) {
        buf.extend_from_slice(&[id << 4, o as u8]);
    }
    if let Some((id, seq)) = twcc {
        buf.push((id << 4) | 1);
        buf.extend_from_slice(&seq.to_be_bytes());
    }
    while (buf.len() - ext_start) % 4 != 0 {
        buf.push(0);
    }
    let words = ((buf.len() - ext_start - 4) / 4) as u16;
    if words == 0 {
        // No extension: drop the empty block and the X bit.
        buf.truncate(ext_start);
        buf[0] = 0x80;
    } else {
        buf[ext_start + 2..ext_start + 4].copy_from_slice(&words.to_be_bytes());
    }
}

/// Builds and protects a forwarded packet for the direct path, into `buf`.
pub(super) fn send_direct(
    srtp: &mut SrtpSender,
    d: &DirectTrack,
    buf: &mut Vec<u8>,
    out: &Prepared,
    header: &RtpHeader,
    payload: &[u8],
    twcc: Option<(u8, u16)>,
) -> Result<(), String> {
    write_header(
        buf,
        d,
        d.ssrc,
        out.pt,
        out.seq as u16,
        out.timestamp,
        header,
        twcc,
    );
    srtp.protect(buf, payload, d.ssrc, out.seq)
        .map_err(|e| format!("SRTP: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_carries_mid_audio_level_and_nothing_else() {
        let d = DirectTrack {
            ssrc: 0x0102_0304,
            rtx_ssrc: None,
            rtx_seq: 1,
            mid: Mid::from("1"),
            mid_id: Some(4),
            audio_level_id: Some(1),
            orientation_id: None,
            twcc_id: None,
        };
        let mut header = RtpHeader {
            marker: true,
            timestamp: 0x0a0b_0c0d,
            ..Default::default()
        };
        header.ext_vals.audio_level = Some(-37);
        header.ext_vals.voice_activity = Some(true);
        let mut buf = Vec::new();
        write_header(
            &mut buf,
            &d,
            d.ssrc,
            Pt::from(111),
            0x1234,
            header.timestamp,
            &header,
            None,
        );
        let fixed = [
            0x90,
            0x80 | 111,
            0x12,
            0x34,
            0x0a,
            0x0b,
            0x0c,
            0x0d,
            1,
            2,
            3,
            4,
        ];
        assert_eq!(&buf[..12], &fixed);
        // One-byte extensions, one word: mid "1", then voice activity and 37 dBov.
        assert_eq!(&buf[12..], &[0xbe, 0xde, 0, 1, 0x40, b'1', 0x10, 0x80 | 37]);
        // Without extensions to write, no extension block and no X bit.
        let bare = DirectTrack {
            mid_id: None,
            audio_level_id: None,
            ..d
        };
        let mut buf = Vec::new();
        write_header(
            &mut buf,
            &bare,
            bare.ssrc,
            Pt::from(96),
            1,
            0,
            &RtpHeader::default(),
            None,
        );
        assert_eq!(buf.len(), 12);
        assert_eq!(buf[0], 0x80);
        // A transport-wide sequence number: one byte of ID and length, two of number.
        let mut buf = Vec::new();
        write_header(
            &mut buf,
            &bare,
            bare.ssrc,
            Pt::from(96),
            1,
            0,
            &RtpHeader::default(),
            Some((3, 0xabcd)),
        );
        assert_eq!(&buf[12..], &[0xbe, 0xde, 0, 1, 0x31, 0xab, 0xcd, 0]);
    }
}
