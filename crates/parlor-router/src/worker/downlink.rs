//! Downlink bandwidth estimation on the direct send path; the rules are [`crate::bwe`]'s.
//!
//! A consumer whose client negotiated transport-wide congestion control has a
//! [`Downlink`]: every packet the worker sends it directly carries a transport-wide
//! sequence number ([`super::direct::twcc_number`]) and is logged. The client's feedback
//! (raw RTCP, [`Worker::on_transport_feedback`]) feeds the estimator; the estimate caps the
//! consumer's simulcast layer, padding probes prove room for the next layer up
//! ([`Worker::send_padding`]), and when not even the lowest layer fits, video goes off and
//! comes back (the audio-only fallback, [`RouterEvent::VideoQuality`]).

use super::direct::write_header;
use super::*;
use crate::VideoQualityState;
use crate::bwe::{self, Change, Estimator, Fallback, SentLog};
use crate::srtp::SrtcpReceiver;

/// How often a probe's padding goes out.
pub(super) const PADDING_TICK: Duration = Duration::from_millis(5);
/// One padding packet's payload: all padding (RFC 3550 §5.1: its last byte counts it).
const PADDING: [u8; 255] = {
    let mut p = [0u8; 255];
    p[254] = 255;
    p
};

/// A consumer transport's downlink: what it was sent, what that says, what follows.
pub(super) struct Downlink {
    pub(super) log: SentLog,
    estimator: Estimator,
    fallback: Fallback,
    /// The highest layer the estimate allows (`u8::MAX`: no limit).
    pub(super) cap: u8,
    /// The origin the client's receive times are placed from.
    time_zero: Instant,
    padding: Option<Padding>,
    /// Reads the client's SRTCP feedback before str0m does (set once DTLS gives the keys,
    /// on the direct path only).
    pub(super) srtcp: Option<SrtcpReceiver>,
    /// Scratch for an unprotected report.
    plain: Vec<u8>,
}

/// A probe's padding: sent on the video's retransmission stream, which the client counts
/// in its feedback and then drops.
struct Padding {
    start: Instant,
    /// Bits per second of padding on top of the media.
    rate: u64,
    sent: u64,
}

impl Downlink {
    pub(super) fn new(now: Instant) -> Self {
        Downlink {
            log: SentLog::new(now),
            estimator: Estimator::default(),
            fallback: Fallback::default(),
            cap: u8::MAX,
            time_zero: now,
            padding: None,
            srtcp: None,
            plain: Vec::new(),
        }
    }
}

/// Whether a datagram is, by its clear RTCP header, one lone transport-wide congestion
/// control report (version 2, padded or not, RTPFB, FMT 15) in SRTCP with an AEAD tag: how
/// browsers and str0m send them (never stapled to other reports).
pub(super) fn is_lone_transport_feedback(data: &[u8]) -> bool {
    if data.len() < 4 || data[0] & 0xdf != 0x8f || data[1] != 205 {
        return false;
    }
    let len = (usize::from(u16::from_be_bytes([data[2], data[3]])) + 1) * 4;
    data.len() == len + crate::srtp::TAG_LEN + 4
}

impl Worker {
    /// Reads a consumer's SRTCP datagram itself if it is a lone transport-wide congestion
    /// control report it can unprotect; whether it did (otherwise str0m gets it).
    pub(super) fn read_transport_feedback(&mut self, key: usize, data: &[u8]) -> bool {
        let Some(Transport {
            role: Role::Consumer(c),
            ..
        }) = self.transports.get_mut(key)
        else {
            return false;
        };
        let Some(dl) = c.downlink.as_deref_mut() else {
            return false;
        };
        let Some(srtcp) = dl.srtcp.as_mut() else {
            return false;
        };
        let mut plain = std::mem::take(&mut dl.plain);
        let twcc = srtcp
            .unprotect(data, &mut plain)
            .and_then(|()| Twcc::try_from(plain.get(4..)?).ok());
        dl.plain = plain;
        let Some(twcc) = twcc else {
            return false;
        };
        self.stats.transport_feedback += 1;
        self.on_transport_feedback(key, twcc);
        true
    }

    /// Takes a consumer's transport-wide congestion control feedback.
    pub(super) fn on_transport_feedback(&mut self, key: usize, twcc: Twcc) {
        let now = Instant::now();
        let Some(Transport {
            role: Role::Consumer(c),
            ..
        }) = self.transports.get_mut(key)
        else {
            return;
        };
        let Some(dl) = c.downlink.as_deref_mut() else {
            return;
        };
        let (log, estimator, time_zero) = (&dl.log, &mut dl.estimator, dl.time_zero);
        let read = catch_unwind(AssertUnwindSafe(|| {
            bwe::read_feedback(log, estimator, time_zero, twcc, now)
        }));
        if read.is_err() {
            return self.stop_estimating(key);
        }
        let change = dl.estimator.end_feedback(now);
        self.adapt(key, change, now);
    }

    /// Stops estimating consumer `key`'s downlink: its client sent a report str0m's reader
    /// could not walk (a well-behaved client never does), and its feedback is not read
    /// again. Its layer is no longer capped, and video it had lost comes back.
    fn stop_estimating(&mut self, key: usize) {
        self.stats.datagrams_dropped += 1;
        let Some(Transport {
            role: Role::Consumer(c),
            id,
            ..
        }) = self.transports.get_mut(key)
        else {
            return;
        };
        tracing::debug!(%id, "malformed transport feedback: downlink no longer estimated");
        c.downlink = None;
        if c.layer.quality_off {
            c.layer.quality_off = false;
            c.layer.current = None;
            let _ = self.events.send(RouterEvent::VideoQuality {
                id: id.clone(),
                state: VideoQualityState::Enabled,
            });
        }
        let pkey = c.producer;
        self.probing.retain(|&k| k != key);
        if !self.layers_dirty.contains(&pkey) {
            self.layers_dirty.push(pkey);
        }
    }

    /// Applies a consumer's estimate: its layer cap, its audio-only fallback, its probes.
    fn adapt(&mut self, key: usize, change: Option<Change>, now: Instant) {
        let Some(Transport {
            role: Role::Consumer(c),
            ..
        }) = self.transports.get(key)
        else {
            return;
        };
        if c.downlink
            .as_ref()
            .is_none_or(|dl| dl.estimator.estimate().is_none())
        {
            return; // nothing has limited this consumer yet
        }
        let pkey = c.producer;
        let Some(Transport {
            role: Role::Producer(p),
            ..
        }) = self.transports.get(pkey)
        else {
            return;
        };
        let (rates, count) = p.layers.layer_rates();
        let audio_rate = p.layers.audio_rate;
        let Some(Transport {
            role: Role::Consumer(c),
            id,
            ..
        }) = self.transports.get_mut(key)
        else {
            return;
        };
        let Some(dl) = c.downlink.as_deref_mut() else {
            return;
        };
        let Some(estimate) = dl.estimator.estimate() else {
            return; // nothing has limited this consumer yet
        };
        let rates = &rates[..count];
        let audio = if c.audio.wanted { audio_rate } else { 0 };
        let fit = bwe::fit_layer(rates, audio, estimate).unwrap_or(0);
        let cap = match change {
            Some(Change::Down(_)) => fit,
            Some(Change::Up(_)) if dl.cap != u8::MAX => dl.cap.max(fit),
            _ => dl.cap,
        };
        let mut dirty = cap != dl.cap;
        if dirty || change.is_some() {
            let signals = dl.estimator.signals(now);
            tracing::debug!(%id, ?change, estimate, cap, ?rates, audio, ?signals, "downlink");
        }
        tracing::trace!(%id, signals = ?dl.estimator.signals(now), "downlink feedback");
        dl.cap = cap;
        let mut step = None;
        if c.video.wanted {
            // The lowest layer fits if the link delivered it while congested (the estimate
            // is a share of what it delivered).
            let lowest = rates[0] + audio;
            let fits = lowest as f64 <= estimate as f64 / bwe::BACKOFF;
            step = dl.fallback.update(fits, now);
            match step {
                Some(VideoQualityState::Disabled) => {
                    c.layer.quality_off = true;
                    c.layer.current = None;
                    dirty = true;
                }
                Some(VideoQualityState::Enabled) => {
                    c.layer.quality_off = false;
                    c.layer.current = None;
                    dirty = true;
                }
                _ => {}
            }
            // Probe for the next layer up, or for the lowest while video is off.
            let want = c.layer.cap.min(count as u8 - 1);
            let need = if dl.fallback.disabled() {
                Some(lowest)
            } else if cap < want {
                Some(rates[usize::from(cap) + 1] + audio)
            } else {
                None
            };
            if let Some(need) = need
                && dl.estimator.should_probe(need, now)
            {
                let target = dl.estimator.start_probe(need, now);
                // What the media alone sends (its last half second), padded up to the target.
                let half = now.checked_sub(Duration::from_millis(500)).unwrap_or(now);
                let media = dl.log.bytes_since(half) * 8 * 2;
                tracing::debug!(%id, target, media, "downlink probe");
                dl.padding = Some(Padding {
                    start: now,
                    rate: target.saturating_sub(media),
                    sent: 0,
                });
                if !self.probing.contains(&key) {
                    self.probing.push(key);
                }
            }
        }
        if let Some(state) = step {
            tracing::debug!(%id, ?state, estimate, "video quality");
            let _ = self.events.send(RouterEvent::VideoQuality {
                id: id.clone(),
                state,
            });
        }
        if dirty && !self.layers_dirty.contains(&pkey) {
            self.layers_dirty.push(pkey);
        }
    }

    /// Sends the padding due on every probing consumer.
    pub(super) fn send_padding(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.probing.len() {
            if self.pad(self.probing[i], now) {
                i += 1;
            } else {
                self.probing.swap_remove(i);
            }
        }
    }

    /// Sends consumer `key`'s probe padding due by `now`; whether its probe goes on.
    fn pad(&mut self, key: usize, now: Instant) -> bool {
        let Some(Transport {
            role: Role::Consumer(c),
            send_to: Some(to),
            ..
        }) = self.transports.get_mut(key)
        else {
            return false;
        };
        let to = *to;
        let (Some(dl), Some(srtp), Some(d)) = (
            c.downlink.as_deref_mut(),
            c.srtp.as_mut(),
            c.video.direct.as_mut(),
        ) else {
            return false;
        };
        let (Some(padding), Some(_)) = (dl.padding.as_mut(), dl.estimator.probe_end(now)) else {
            dl.padding = None;
            return false;
        };
        let (Some(rtx_ssrc), Some((_, _, Some(rtx_pt))), Some(twcc_id)) =
            (d.rtx_ssrc, c.video.pt_map, d.twcc_id)
        else {
            dl.padding = None;
            return false;
        };
        let elapsed = now.saturating_duration_since(padding.start).as_secs_f64();
        let due = (padding.rate as f64 / 8.0 * elapsed) as u64;
        while padding.sent + PADDING.len() as u64 <= due {
            let mut buf = self.outbox.buffer();
            let index = d.rtx_seq;
            d.rtx_seq += 1;
            let twcc = Some((twcc_id, dl.log.next_seq() as u16));
            let header = RtpHeader::default();
            write_header(
                &mut buf,
                d,
                rtx_ssrc,
                rtx_pt,
                index as u16,
                0,
                &header,
                twcc,
            );
            buf[0] |= 0x20; // P: the payload is padding
            if srtp.protect(&mut buf, &PADDING, rtx_ssrc, index).is_err() {
                dl.padding = None;
                return false;
            }
            dl.log.commit(now, buf.len());
            padding.sent += buf.len() as u64;
            self.stats.padding_sent += 1;
            self.outbox.push(to, buf);
        }
        true
    }
}
