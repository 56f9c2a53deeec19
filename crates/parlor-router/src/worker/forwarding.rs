//! Forwarding: a producer's packets, queued while the socket has more to read, go to
//! every consumer (and tap) that wants them, grouped per consumer; keyframe requests.
//! The direct send path's own pieces are in [`super::direct`].

use super::direct::{direct_track, send_direct, twcc_number};
use super::*;

impl Worker {
    // ---- forwarding ---------------------------------------------------------------

    /// Queues a producer's packet; [`Worker::forward_pending`] sends it on.
    pub(super) fn enqueue(&mut self, producer: usize, packet: RtpPacket) {
        self.stats.rtp_received += 1;
        let arrival = self.pending.len() as u32;
        self.pending.push(Pending {
            producer,
            arrival,
            packet,
        });
        if self.pending.len() >= MAX_PENDING {
            self.forward_pending();
        }
    }

    /// Forwards the packets queued since the last call, grouped by producer, arrival order
    /// kept. A consumer gets all of a group at once — every packet written, then one send
    /// timeout and one drain — so packets that arrive together (a keyframe's, a backlog
    /// under load) cost one pass over the consumer's state instead of one pass each. That
    /// state is cold in the cache by the time its turn comes (there are hundreds of
    /// consumers), so passes are what forwarding costs.
    pub(super) fn forward_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        // With one producer (the common case) this is already sorted: a linear pass.
        pending.sort_unstable_by_key(|p| (p.producer, p.arrival));
        let mut rest = &pending[..];
        while let Some(first) = rest.first() {
            let n = rest
                .iter()
                .position(|p| p.producer != first.producer)
                .unwrap_or(rest.len());
            let (group, tail) = rest.split_at(n);
            self.forward(first.producer, group);
            rest = tail;
        }
        for p in pending.drain(..) {
            if let Some(Transport {
                role: Role::Producer(producer),
                ..
            }) = self.transports.get_mut(p.producer)
                && producer.ssrcs.iter().any(|&(ssrc, kind, _)| {
                    ssrc == p.packet.header.ssrc && kind == MediaKind::Video
                })
            {
                producer.remember(p.packet);
            }
        }
        self.pending = pending;
        self.flush_closing();
    }

    /// Forwards one producer's packets (at most [`MAX_PENDING`]) to every consumer that
    /// wants them.
    pub(super) fn forward(&mut self, pkey: usize, group: &[Pending]) {
        debug_assert!(group.len() <= MAX_PENDING);
        // What each packet is, once for all consumers.
        let mut media = [None; MAX_PENDING];
        let mut keyframe_starts = 0u64;
        for (i, p) in group.iter().enumerate() {
            let header = &p.packet.header;
            let Some((kind, layer, params)) = self.resolve(pkey, header.ssrc, header.payload_type)
            else {
                continue;
            };
            let Role::Producer(producer) = &mut self.transports[pkey].role else {
                return;
            };
            let is_video = kind == MediaKind::Video;
            // What each packet costs a consumer's downlink: payload, header and SRTP tag.
            let wire = (p.packet.payload.len() + crate::bwe::PACKET_OVERHEAD) as u32;
            if is_video {
                producer.layers.last_packet[usize::from(layer)] = Some(p.packet.timestamp);
                let bytes = &mut producer.layers.bytes[usize::from(layer)];
                *bytes = bytes.saturating_add(wire);
                producer
                    .layers
                    .first_video
                    .get_or_insert(p.packet.timestamp);
                // A layer (re)starting: its consumers need not wait for housekeeping.
                if producer.layers.available & (1 << layer) == 0
                    && !self.layers_dirty.contains(&pkey)
                {
                    self.layers_dirty.push(pkey);
                }
                if starts_keyframe(params.spec().codec, &p.packet.payload) {
                    keyframe_starts |= 1 << i;
                }
            } else if !producer.audio_enabled {
                continue;
            } else {
                producer.layers.audio_bytes = producer.layers.audio_bytes.saturating_add(wire);
                if let (Some(level), Some(_)) =
                    (header.ext_vals.audio_level, self.audio_level_interval)
                {
                    producer.audio_meter.packet(level);
                }
            }
            media[i] = Some(Media {
                is_video,
                layer,
                params,
            });
        }
        let retry_keyframe = match self.transports.get(pkey) {
            Some(Transport {
                role: Role::Producer(p),
                ..
            }) => p.keyframe_pending,
            _ => 0,
        };
        if retry_keyframe != 0 && media.iter().flatten().any(|m| m.is_video) {
            // Throttled requests: retry them on the producer's own video.
            for layer in 0..MAX_LAYERS as u8 {
                if retry_keyframe & (1 << layer) != 0 {
                    self.want_keyframe(pkey, layer);
                }
            }
        }
        let Some(Transport {
            role: Role::Producer(producer),
            ..
        }) = self.transports.get_mut(pkey)
        else {
            return;
        };
        // Packets that found a tap or a consumer still waiting for a keyframe.
        let mut keyframe_needed = 0u64;
        if !producer.taps.is_empty() {
            // Taps record one layer (none until it is chosen).
            let tap_layer = producer.layers.tap_layer(Instant::now()).unwrap_or(u8::MAX);
            keyframe_needed = tap_group(
                &mut producer.taps,
                group,
                &media,
                tap_layer,
                keyframe_starts,
                &self.clock,
                &mut self.stats,
            );
        }
        let simulcast = producer.layers.count > 1;
        let consumers = std::mem::take(&mut producer.consumers);
        let now = Instant::now();
        for &ckey in &consumers {
            let Some(ct) = self.transports.get_mut(ckey) else {
                continue;
            };
            if !ct.connected {
                continue;
            }
            let Role::Consumer(c) = &mut ct.role else {
                continue;
            };
            let rtc = &mut ct.rtc;
            let srtp = &mut c.srtp;
            let rtx_budget = &mut c.rtx_budget;
            let consumer_layer = &mut c.layer;
            let downlink = &mut c.downlink;
            let vp8_payload = &mut self.vp8_payload;
            // The direct path needs the keys and the address str0m sends to.
            let direct_to = ct.send_to.filter(|_| srtp.is_some());
            let outbox = &mut self.outbox;
            let (mut via_rtc, mut direct) = (0u64, 0u64);
            let result = catch_unwind(AssertUnwindSafe(|| {
                for (i, p) in group.iter().enumerate() {
                    let Some(m) = media[i] else {
                        continue;
                    };
                    let is_video = m.is_video;
                    let (track, layer) = if is_video {
                        (
                            &mut c.video,
                            Some((&mut *consumer_layer, m.layer, simulcast)),
                        )
                    } else {
                        (&mut c.audio, None)
                    };
                    let keyframe_start = keyframe_starts & (1 << i) != 0;
                    let out = match prepare(rtc, track, layer, &p.packet, m.params, keyframe_start)
                    {
                        Ok(out) => out,
                        Err(Skip::AwaitingKeyframe) => {
                            keyframe_needed |= 1 << i;
                            continue;
                        }
                        Err(_) => continue,
                    };
                    // Once a packet of this pass went through str0m, the rest follow it
                    // there: str0m's packets leave at the end of the pass, and the order
                    // must hold.
                    let due_via_rtc = via_rtc > 0
                        || track
                            .last_via_rtc
                            .is_none_or(|t| now.saturating_duration_since(t) >= VIA_RTC_INTERVAL);
                    if let (Some(to), Some(srtp), false) = (direct_to, srtp.as_mut(), due_via_rtc)
                        && let Some(d) = direct_track(rtc, track)
                    {
                        let mut buf = outbox.buffer();
                        let payload = match (out.rewrite_vp8, &mut consumer_layer.vp8) {
                            (true, Some(vp8)) => {
                                vp8_payload.clear();
                                vp8_payload.extend_from_slice(&p.packet.payload);
                                vp8.rewrite(vp8_payload);
                                &vp8_payload[..]
                            }
                            _ => &p.packet.payload[..],
                        };
                        let twcc = twcc_number(downlink, d);
                        send_direct(srtp, d, &mut buf, &out, &p.packet.header, payload, twcc)?;
                        if let (Some(dl), Some(_)) = (downlink.as_mut(), twcc) {
                            dl.log.commit(now, buf.len());
                        }
                        track.sent_bytes += buf.len() as u64;
                        track.sent_packets += 1;
                        outbox.push(to, buf);
                        direct += 1;
                        if is_video {
                            *rtx_budget = (*rtx_budget + crate::RTX_BUDGET_PER_PACKET)
                                .min(crate::RTX_BUDGET_BURST);
                        }
                    } else {
                        // On the direct path str0m keeps no retransmission copy: the
                        // worker answers NACKs for the whole track from the producer's
                        // history.
                        let nackable = is_video && direct_to.is_none();
                        let payload = match (out.rewrite_vp8, &mut consumer_layer.vp8) {
                            (true, Some(vp8)) => {
                                let mut payload = p.packet.payload.to_vec();
                                vp8.rewrite(&mut payload);
                                payload.into()
                            }
                            _ => p.packet.payload.clone(),
                        };
                        if write_via_rtc(rtc, track, &out, &p.packet, payload, nackable) {
                            track.last_via_rtc = Some(now);
                            // Header and payload, as the direct path counts its datagram
                            // (less SRTP's tag): close enough for a bitrate.
                            track.sent_bytes += (12 + p.packet.payload.len()) as u64;
                            track.sent_packets += 1;
                            via_rtc += 1;
                        }
                    }
                }
                if via_rtc > 0 {
                    // str0m queues written packets and sends them on its next timeout: hand
                    // it that timeout now, so they leave in this pass instead of a later
                    // timer wake-up (a second drain per consumer).
                    rtc.handle_input(Input::Timeout(now))
                        .map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            }));
            match result {
                Ok(Ok(())) => {
                    self.stats.rtp_forwarded += via_rtc + direct;
                    self.stats.rtp_forwarded_direct += direct;
                    if via_rtc + direct > 0 {
                        self.stats.forward_passes += 1;
                    }
                    if via_rtc > 0 {
                        self.drain(ckey);
                    }
                }
                Ok(Err(e)) => self.fail(ckey, &e),
                Err(_) => self.fail(ckey, "panic in forwarding"),
            }
            if self.outbox.len() >= outbox::BATCH {
                self.flush_outbox();
            }
        }
        if !consumers.is_empty() {
            // Each packet's arrival to the end of its fan-out: one clock read per pass.
            let done = Instant::now();
            for (i, p) in group.iter().enumerate() {
                if media[i].is_some() {
                    self.forward_latency
                        .observe(done.saturating_duration_since(p.packet.timestamp));
                }
            }
        }
        if let Some(Transport {
            role: Role::Producer(p),
            ..
        }) = self.transports.get_mut(pkey)
        {
            // Consumers added meanwhile cannot exist (no command runs in here); consumers
            // closed meanwhile are queued in `closing` and unlinked when removed.
            p.consumers = consumers;
        }
        // In arrival order, as if forwarded one by one: a packet a waiting consumer could
        // not start on asks for a keyframe; a keyframe that started every waiting consumer
        // makes a throttled request moot.
        for (i, m) in media.iter().enumerate().take(group.len()) {
            let Some(m) = *m else {
                continue;
            };
            if keyframe_needed & (1 << i) != 0 {
                self.want_keyframe(pkey, m.layer);
            } else if keyframe_starts & (1 << i) != 0 {
                if let Some(Transport {
                    role: Role::Producer(p),
                    ..
                }) = self.transports.get_mut(pkey)
                {
                    p.keyframe_pending &= !(1 << m.layer);
                }
                self.keyframe_wanted
                    .retain(|&(k, l)| (k, l) != (pkey, m.layer));
            }
        }
    }

    /// Hands a producer's RTCP sender report to its taps, after the packets that arrived
    /// before it.
    pub(super) fn tap_sender_report(&mut self, pkey: usize, report: SenderFeedback) {
        self.forward_pending();
        let Some(Transport {
            role: Role::Producer(p),
            ..
        }) = self.transports.get_mut(pkey)
        else {
            return;
        };
        let Some(&(_, kind)) = p.mids.iter().find(|(mid, _)| *mid == report.mid) else {
            return;
        };
        let info = report.sender_info;
        // Of simulcast video, only the recorded layer's reports: each layer's RTP clock has
        // a base of its own.
        if kind == MediaKind::Video
            && p.layers.count > 1
            && p.layers
                .tap_layer
                .and_then(|l| p.layers.ssrcs[usize::from(l)])
                != Some(info.ssrc)
        {
            return;
        }
        let d = p.taps.sender_report(
            kind,
            *info.ssrc,
            unix_micros(info.ntp_time),
            // str0m extends the report's RTP time; the wire value is its low 32 bits.
            info.rtp_time.numer() as u32,
        );
        self.stats.tap_dropped += d.dropped;
    }

    /// What a producer's packet is: its kind, its simulcast layer (0 without) and its
    /// codec. A new SSRC is looked up once (its mid, and its rid's place among the
    /// negotiated ones) and remembered.
    pub(super) fn resolve(
        &mut self,
        pkey: usize,
        ssrc: Ssrc,
        pt: Pt,
    ) -> Option<(MediaKind, u8, PayloadParams)> {
        let t = &mut self.transports[pkey];
        let Role::Producer(p) = &mut t.role else {
            return None;
        };
        let (kind, layer) = match p.ssrcs.iter().find(|(s, _, _)| *s == ssrc) {
            Some(&(_, kind, layer)) => (kind, layer),
            None => {
                let (mid, rid) = t
                    .rtc
                    .direct_api()
                    .stream_rx(&ssrc)
                    .map(|s| (s.mid(), s.rid()))?;
                let kind = p.mids.iter().find(|(m, _)| *m == mid)?.1;
                let mut layer = 0;
                if kind == MediaKind::Video {
                    if let Some(str0m::media::Rids::Specific(rids)) =
                        t.rtc.media(mid).map(|m| m.rids_rx())
                    {
                        p.layers.count = rids.len().min(MAX_LAYERS) as u8;
                        layer = rid
                            .and_then(|rid| rids.iter().position(|r| *r == rid))
                            .unwrap_or(0)
                            .min(MAX_LAYERS - 1) as u8;
                    } else {
                        p.layers.count = 1;
                    }
                    if p.layers.ssrcs[usize::from(layer)].is_some() {
                        // A new SSRC for a layer (a publisher's renegotiation): it replaces
                        // the old one.
                        let old = p.layers.ssrcs[usize::from(layer)];
                        p.ssrcs.retain(|(s, _, _)| Some(*s) != old);
                    }
                    p.layers.ssrcs[usize::from(layer)] = Some(ssrc);
                    self.layers_dirty.push(pkey);
                }
                p.ssrcs.push((ssrc, kind, layer));
                (kind, layer)
            }
        };
        let params = *t.rtc.codec_config().iter().find(|c| c.pt() == pt)?;
        Some((kind, layer, params))
    }

    pub(super) fn want_keyframe(&mut self, producer: usize, layer: u8) {
        if !self.keyframe_wanted.contains(&(producer, layer)) {
            self.keyframe_wanted.push((producer, layer));
        }
    }

    /// Sends the keyframe requests that are due; throttled ones stay pending and are
    /// retried as the producer's packets arrive.
    pub(super) fn flush_keyframe_requests(&mut self) {
        let now = Instant::now();
        while let Some((pkey, layer)) = self.keyframe_wanted.pop() {
            let Some(t) = self.transports.get_mut(pkey) else {
                continue;
            };
            let Role::Producer(p) = &mut t.role else {
                continue;
            };
            let l = usize::from(layer).min(MAX_LAYERS - 1);
            let throttled = p.last_keyframe_request[l]
                .is_some_and(|last| now.duration_since(last) < KEYFRAME_INTERVAL);
            let Some(ssrc) = p.layers.ssrcs[l].filter(|_| !throttled) else {
                p.keyframe_pending |= 1 << l;
                continue;
            };
            p.keyframe_pending &= !(1 << l);
            p.last_keyframe_request[l] = Some(now);
            self.stats.keyframe_requests += 1;
            let rtc = &mut t.rtc;
            let sent = catch_unwind(AssertUnwindSafe(|| {
                if let Some(rx) = rtc.direct_api().stream_rx(&ssrc) {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
            }));
            match sent {
                Ok(()) => self.drain(pkey),
                Err(_) => self.fail(pkey, "panic in request_keyframe"),
            }
        }
        self.flush_closing();
    }
}

/// What a producer's packet is, worked out once for all its consumers.
#[derive(Clone, Copy)]
pub(super) struct Media {
    pub(super) is_video: bool,
    /// Its simulcast layer (0 for audio and single-layer video).
    pub(super) layer: u8,
    pub(super) params: PayloadParams,
}

/// Offers one producer's group of packets to its taps, in arrival order: its audio and
/// the video of `video_layer`. Returns the packets a tap waited on a keyframe for (as
/// bits, like the consumers').
pub(super) fn tap_group(
    taps: &mut TapSet,
    group: &[Pending],
    media: &[Option<Media>],
    video_layer: u8,
    keyframe_starts: u64,
    clock: &WallClock,
    stats: &mut RouterStats,
) -> u64 {
    let mut needed = 0u64;
    for (i, p) in group.iter().enumerate() {
        let Some(Media {
            is_video,
            layer,
            params,
        }) = media[i]
        else {
            continue;
        };
        if is_video && layer != video_layer {
            continue;
        }
        let Some(codec) = TapCodec::from_codec(params.spec().codec) else {
            continue;
        };
        let header = &p.packet.header;
        let packet = TapPacket {
            kind: if is_video {
                MediaKind::Video
            } else {
                MediaKind::Audio
            },
            codec,
            ssrc: *header.ssrc,
            seq: header.sequence_number,
            timestamp: header.timestamp,
            marker: header.marker,
            payload: p.packet.payload.clone(),
            arrival_unix_micros: clock.unix_micros(p.packet.timestamp),
        };
        let d = taps.deliver(packet, keyframe_starts & (1 << i) != 0);
        stats.tap_packets += d.queued;
        stats.tap_dropped += d.dropped;
        if d.awaiting_keyframe {
            needed |= 1 << i;
        }
        if taps.is_empty() {
            break; // every reader is gone
        }
    }
    needed
}

/// The H.264 NAL unit type of a sequence parameter set.
const H264_SPS: u8 = 7;

/// Why a producer packet is not sent on a consumer track.
pub(super) enum Skip {
    /// The track waits for a keyframe and this packet does not start one.
    AwaitingKeyframe,
    /// The track is off or not negotiated, the codec is not the consumer's, or the
    /// packet precedes the track's start.
    NotForTrack,
}

/// A producer packet as one consumer track sends it.
pub(super) struct Prepared {
    pub(super) seq: u64,
    pub(super) pt: Pt,
    pub(super) timestamp: u32,
    /// Its VP8 payload descriptor is rewritten (the consumer's [`ConsumerLayer::vp8`]).
    pub(super) rewrite_vp8: bool,
}

/// Decides whether a producer packet goes to a consumer track and how it is numbered
/// there (sequence number, payload type, timestamp). For video, `layer` is the consumer's
/// layer state, the packet's layer and whether the producer sends simulcast: a packet of
/// another layer than the consumer's is skipped, and a keyframe of its target layer
/// switches it there.
pub(super) fn prepare(
    rtc: &Rtc,
    track: &mut Track,
    layer: Option<(&mut ConsumerLayer, u8, bool)>,
    packet: &RtpPacket,
    params: PayloadParams,
    keyframe_start: bool,
) -> Result<Prepared, Skip> {
    if track.mid.is_none() || !track.wanted {
        return Err(Skip::NotForTrack);
    }
    let is_video = layer.is_some();
    let mut timestamp = packet.header.timestamp;
    let mut rewrite_vp8 = false;
    if let Some((state, packet_layer, simulcast)) = layer {
        if state.quality_off {
            return Err(Skip::NotForTrack);
        }
        if state.current != Some(packet_layer) {
            if packet_layer != state.target {
                return Err(Skip::NotForTrack);
            }
            if !keyframe_start {
                return Err(Skip::AwaitingKeyframe);
            }
            // Switch: numbering continues from the last packet sent, and so do the
            // timestamps and (VP8) picture IDs.
            track.seq.pause();
            state.current = Some(packet_layer);
            state.timestamps.rebase(
                packet.header.timestamp,
                packet.timestamp,
                params.spec().clock_rate.get(),
            );
            if simulcast && params.spec().codec == Codec::Vp8 {
                state
                    .vp8
                    .get_or_insert_with(Default::default)
                    .rebase(&packet.payload);
            }
        }
        timestamp = state
            .timestamps
            .map(packet.header.timestamp, packet.timestamp);
        rewrite_vp8 = state.vp8.is_some();
    }
    let pt = match track.pt_map {
        Some((i, o, _)) if i == packet.header.payload_type => o,
        _ => match rtc.codec_config().match_params(params) {
            Some(p) => {
                track.pt_map = Some((packet.header.payload_type, p.pt(), p.resend()));
                p.pt()
            }
            None => return Err(Skip::NotForTrack), // the consumer did not negotiate this codec
        },
    };
    let input_seq: u64 = *packet.seq_no;
    if !track.seq.started() {
        if is_video && !keyframe_start {
            return Err(Skip::AwaitingKeyframe);
        }
        track.seq.start(input_seq, track.first_out);
    }
    let seq = track.seq.map(input_seq).ok_or(Skip::NotForTrack)?;
    Ok(Prepared {
        seq,
        pt,
        timestamp,
        rewrite_vp8,
    })
}

/// The header extensions forwarded: only what describes the media, never the publisher's
/// mid/rid or transport ids.
pub(super) fn media_extensions(packet: &RtpPacket) -> ExtensionValues {
    ExtensionValues {
        audio_level: packet.header.ext_vals.audio_level,
        voice_activity: packet.header.ext_vals.voice_activity,
        video_orientation: packet.header.ext_vals.video_orientation,
        ..Default::default()
    }
}

/// Writes a prepared packet to the consumer's str0m send stream; it leaves on the
/// transport's next timeout. Whether it was written.
pub(super) fn write_via_rtc(
    rtc: &mut Rtc,
    track: &mut Track,
    out: &Prepared,
    packet: &RtpPacket,
    payload: Arc<[u8]>,
    nackable: bool,
) -> bool {
    let Some(mid) = track.mid else {
        return false;
    };
    let write = RtpWrite::new(
        out.pt,
        SeqNo::from(out.seq),
        out.timestamp,
        packet.timestamp,
        payload,
    )
    .marker(packet.header.marker)
    .ext_vals(media_extensions(packet))
    .nackable(nackable);
    with_send_stream(rtc, track, mid, |tx| tx.write_rtp(write)).is_some()
}

/// Runs `f` on the consumer track's str0m send stream: found by mid (a scan) the first
/// time and configured, by SSRC (a hash lookup) after. `None` if it does not exist.
pub(super) fn with_send_stream<R>(
    rtc: &mut Rtc,
    track: &mut Track,
    mid: Mid,
    f: impl FnOnce(&mut StreamTx) -> R,
) -> Option<R> {
    let mut api = rtc.direct_api();
    let tx = match track.tx_ssrc {
        Some(ssrc) => api.stream_tx(&ssrc)?,
        None => {
            let tx = api.stream_tx_by_mid(mid, None)?;
            crate::configure_send_stream(tx);
            track.tx_ssrc = Some(tx.ssrc());
            tx
        }
    };
    Some(f(tx))
}

/// Whether an RTP payload is the first packet of a keyframe, for the codecs we route.
/// H.264: a packet with an SPS (encoders send SPS and PPS before each IDR, alone or in a
/// STAP-A; a subscriber started at the IDR itself could not decode it), or one with an
/// IDR (for streams that send their SPS once).
pub(super) fn starts_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => str0m::format::detect_vp8_keyframe(payload),
        Codec::H264 => {
            str0m::format::detect_h264_nalu(payload, H264_SPS)
                || str0m::format::detect_h264_keyframe(payload)
        }
        // Unknown video codecs: do not hold the consumer back.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_h264_keyframe_starts_at_its_sps() {
        let sps = [0x67, 0x42, 0xc0, 0x1f];
        let pps = [0x68, 0xce, 0x3c, 0x80];
        assert!(starts_keyframe(Codec::H264, &sps), "SPS alone");
        // STAP-A of SPS and PPS (Chrome's way).
        let mut stap = vec![0x78];
        for nal in [&sps[..], &pps[..]] {
            stap.extend_from_slice(&(nal.len() as u16).to_be_bytes());
            stap.extend_from_slice(nal);
        }
        assert!(starts_keyframe(Codec::H264, &stap), "SPS in a STAP-A");
        assert!(!starts_keyframe(Codec::H264, &pps), "PPS alone");
        assert!(
            starts_keyframe(Codec::H264, &[0x7c, 0x85, 1]),
            "an IDR's first FU-A"
        );
        assert!(
            !starts_keyframe(Codec::H264, &[0x7c, 0x05, 1]),
            "a middle FU-A"
        );
        assert!(!starts_keyframe(Codec::H264, &[0x41, 1]), "a P slice");
    }
}
