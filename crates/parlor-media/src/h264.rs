//! H.264 over RTP (RFC 6184), packetization mode 1, as a sender needs it: an Annex B stream
//! split into access units ([`access_units`]), and an access unit into RTP payloads
//! ([`packetize`]): a NAL unit that fits is sent alone (single NAL unit packet); a larger
//! one is cut into FU-A fragments. Access unit delimiters are dropped (RFC 6184 §5.1 allows
//! it, and browsers do). The last payload of an access unit carries the RTP marker.

/// Splits an Annex B byte stream into its NAL units (start codes `00 00 01` or
/// `00 00 00 01` removed). Bytes before the first start code are ignored.
pub fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new(); // (start code position, NAL start)
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            let code = if i > 0 && stream[i - 1] == 0 {
                i - 1
            } else {
                i
            };
            starts.push((code, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &(_, begin)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(stream.len(), |&(code, _)| code);
        if end > begin {
            out.push(&stream[begin..end]);
        }
    }
    out
}

/// The NAL unit type (the low five bits of its first byte).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Whether an access unit (its NAL units) is a keyframe: it holds an IDR slice.
pub fn is_keyframe(nals: &[&[u8]]) -> bool {
    nals.iter().any(|n| nal_type(n) == 5)
}

/// Splits an Annex B stream whose access units each begin with an access unit delimiter
/// (NAL type 9; x264's `aud=1`) into access units, each as its NAL units without the
/// delimiter.
pub fn access_units(stream: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut units: Vec<Vec<&[u8]>> = Vec::new();
    for nal in nal_units(stream) {
        if nal_type(nal) == 9 || units.is_empty() {
            units.push(Vec::new());
        }
        if nal_type(nal) != 9 {
            units.last_mut().expect("pushed above").push(nal);
        }
    }
    units.retain(|u| !u.is_empty());
    units
}

/// One RTP payload of an access unit, and whether it ends the access unit (the marker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The RTP payload.
    pub data: Vec<u8>,
    /// Whether it is the access unit's last (its packet carries the marker bit).
    pub last: bool,
}

/// The RTP payloads of one access unit (its NAL units, delimiters dropped), each at most
/// `mtu` bytes (at least 3).
pub fn packetize(nals: &[&[u8]], mtu: usize) -> Vec<Payload> {
    let mtu = mtu.max(3);
    let nals: Vec<&[u8]> = nals
        .iter()
        .copied()
        .filter(|n| !n.is_empty() && nal_type(n) != 9)
        .collect();
    let mut out = Vec::new();
    for nal in nals {
        if nal.len() <= mtu {
            out.push(Payload {
                data: nal.to_vec(),
                last: false,
            });
            continue;
        }
        // FU-A: FU indicator (F, NRI of the NAL, type 28), FU header (S, E, type).
        let indicator = (nal[0] & 0xe0) | 28;
        let kind = nal[0] & 0x1f;
        let body = &nal[1..];
        let chunk = mtu - 2;
        let pieces = body.len().div_ceil(chunk);
        for (i, piece) in body.chunks(chunk).enumerate() {
            let mut header = kind;
            if i == 0 {
                header |= 0x80;
            }
            if i + 1 == pieces {
                header |= 0x40;
            }
            let mut data = Vec::with_capacity(piece.len() + 2);
            data.extend_from_slice(&[indicator, header]);
            data.extend_from_slice(piece);
            out.push(Payload { data, last: false });
        }
    }
    if let Some(p) = out.last_mut() {
        p.last = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_splits_on_both_start_codes() {
        let stream = [
            0xff, 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x65, 9, 9, 9,
        ];
        let nals = nal_units(&stream);
        assert_eq!(
            nals,
            vec![&[0x09, 0xf0][..], &[0x67, 1, 2], &[0x65, 9, 9, 9]]
        );
        assert_eq!(nal_units(&[1, 2, 3]), Vec::<&[u8]>::new());
    }

    #[test]
    fn access_units_begin_at_delimiters() {
        let stream = [
            0, 0, 0, 1, 0x09, 0x10, 0, 0, 1, 0x67, 7, 0, 0, 1, 0x68, 8, 0, 0, 1, 0x65, 5, //
            0, 0, 0, 1, 0x09, 0x30, 0, 0, 1, 0x41, 1,
        ];
        let units = access_units(&stream);
        assert_eq!(units.len(), 2);
        assert_eq!(units[0], vec![&[0x67, 7][..], &[0x68, 8], &[0x65, 5]]);
        assert!(is_keyframe(&units[0]));
        assert_eq!(units[1], vec![&[0x41, 1][..]]);
        assert!(!is_keyframe(&units[1]));
    }

    #[test]
    fn small_nals_go_alone_and_large_ones_in_fu_a() {
        let sps = [0x67u8, 1, 2];
        let mut idr = vec![0x65u8];
        idr.extend((0..10u8).collect::<Vec<_>>());
        let payloads = packetize(&[&sps, &idr], 6);
        assert_eq!(payloads[0].data, sps);
        // 10 body bytes in pieces of 4: start, middle, end; type 5 kept, NRI kept.
        assert_eq!(payloads[1].data, [0x7c, 0x85, 0, 1, 2, 3]);
        assert_eq!(payloads[2].data, [0x7c, 0x05, 4, 5, 6, 7]);
        assert_eq!(payloads[3].data, [0x7c, 0x45, 8, 9]);
        assert_eq!(payloads.iter().filter(|p| p.last).count(), 1);
        assert!(payloads[3].last);
        assert!(payloads.iter().all(|p| p.data.len() <= 6));
    }

    #[test]
    fn delimiters_and_empty_units_are_dropped() {
        assert!(packetize(&[&[0x09, 0x10]], 100).is_empty());
        assert!(packetize(&[], 100).is_empty());
        let p = packetize(&[&[0x09, 0x10], &[0x41, 1]], 100);
        assert_eq!(
            p,
            vec![Payload {
                data: vec![0x41, 1],
                last: true
            }]
        );
    }
}
