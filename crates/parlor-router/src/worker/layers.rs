//! Simulcast layers: what the worker keeps of a producer's layers ([`ProducerLayers`]) and
//! of a consumer's ([`ConsumerLayer`]); which layer each consumer of a producer targets, and
//! which layers the producer's publisher needs to send ([`RouterEvent::LayersNeeded`]). Worked out again
//! for a producer when its layers start or stop sending, a consumer comes or goes, or a
//! consumer's cap, downlink or video changes; the rules are [`crate::simulcast`]'s pure functions.

use super::*;
use crate::simulcast::{TimestampRewriter, Vp8Rewriter, choose_layer, needed_layers};

/// A layer whose last packet is this recent is sending now (even the lowest layer sends a
/// frame every 67 ms at 15 fps).
const LIVE: Duration = Duration::from_millis(250);

/// A producer's video layers as the router sees them.
#[derive(Default)]
pub(super) struct ProducerLayers {
    /// Each layer's SSRC, once a packet of it arrived.
    pub(super) ssrcs: [Option<Ssrc>; MAX_LAYERS],
    /// When each layer's last packet arrived.
    pub(super) last_packet: [Option<Instant>; MAX_LAYERS],
    /// Layers negotiated (the rids of the publisher's `a=simulcast`; 1 without).
    pub(super) count: u8,
    /// The layers sending, a bit each, as of the last [`Worker::update_layers`].
    pub(super) available: u8,
    /// The layers the publisher was last told it needs to send.
    pub(super) needed: Option<u8>,
    /// The layer taps (recorders) get, once chosen ([`ProducerLayers::tap_layer`]).
    pub(super) tap_layer: Option<u8>,
    /// When its first video packet arrived.
    pub(super) first_video: Option<Instant>,
    /// Bytes on the wire per layer, and of audio, since the last [`ProducerLayers::meter`].
    pub(super) bytes: [u32; MAX_LAYERS],
    pub(super) audio_bytes: u32,
    /// Each layer's bitrate (bits per second, smoothed; 0 until it sent) and the audio's:
    /// what a consumer's downlink must carry for it.
    pub(super) rates: [u64; MAX_LAYERS],
    pub(super) audio_rate: u64,
    metered_at: Option<Instant>,
    /// The layers sending at the last metering (a bit each).
    metered_live: u8,
}

impl ProducerLayers {
    /// The layer taps record, chosen once: the top layer as soon as it sends; if it has not
    /// sent within [`crate::simulcast::LAYER_IDLE`] of the first video, the highest that
    /// does. `None` while undecided (taps get no video meanwhile).
    pub(super) fn tap_layer(&mut self, now: Instant) -> Option<u8> {
        if self.tap_layer.is_none() {
            let top = self.count.max(1) - 1;
            let sending = self.sending(now);
            if sending & (1 << top) != 0 {
                self.tap_layer = Some(top);
            } else if sending != 0
                && self.first_video.is_some_and(|t| {
                    now.saturating_duration_since(t) >= crate::simulcast::LAYER_IDLE
                })
            {
                self.tap_layer = Some(7 - sending.leading_zeros() as u8);
            }
        }
        self.tap_layer
    }

    /// Turns the bytes counted since the last call into bitrates (once a second, from
    /// housekeeping). Only layers that sent through the whole window are measured: a
    /// window a layer paused or resumed in would understate it, and a paused layer keeps
    /// its last rate (what resuming it costs).
    pub(super) fn meter(&mut self, now: Instant) {
        let mut live = 0u8;
        for (l, last) in self.last_packet.iter().enumerate() {
            if last.is_some_and(|t| now.saturating_duration_since(t) < LIVE) {
                live |= 1 << l;
            }
        }
        let whole = live & self.metered_live;
        self.metered_live = live;
        let Some(since) = self.metered_at.replace(now) else {
            self.bytes = [0; MAX_LAYERS];
            self.audio_bytes = 0;
            return;
        };
        let secs = now.saturating_duration_since(since).as_secs_f64();
        if secs < 0.1 {
            return;
        }
        let rate = |bytes: u32| (f64::from(bytes) * 8.0 / secs) as u64;
        let smooth = |old: u64, new: u64| if old == 0 { new } else { (old * 2 + new) / 3 };
        for (l, bytes) in self.bytes.iter_mut().enumerate() {
            if *bytes > 0 && whole & (1 << l) != 0 {
                self.rates[l] = smooth(self.rates[l], rate(*bytes));
            }
            *bytes = 0;
        }
        self.audio_rate = if self.audio_bytes > 0 {
            smooth(self.audio_rate, rate(self.audio_bytes))
        } else {
            0
        };
        self.audio_bytes = 0;
    }

    /// Each negotiated layer's bitrate, lowest first. A layer never seen counts as three
    /// times the one below it (the usual simulcast ladder), the lowest as 150 kbps; a layer
    /// never as less than one and a half times the one below (a paused layer's last rate
    /// may be from its encoder's ramp-up).
    pub(super) fn layer_rates(&self) -> ([u64; MAX_LAYERS], usize) {
        let count = usize::from(self.count.max(1)).min(MAX_LAYERS);
        let mut rates = self.rates;
        for l in 0..count {
            rates[l] = match (rates[l], l) {
                (0, 0) => 150_000,
                (0, _) => rates[l - 1] * 3,
                (r, 0) => r,
                (r, _) => r.max(rates[l - 1] * 3 / 2),
            };
        }
        (rates, count)
    }

    /// The layers with a packet in the last [`crate::simulcast::LAYER_IDLE`].
    pub(super) fn sending(&self, now: Instant) -> u8 {
        let mut mask = 0;
        for (l, last) in self.last_packet.iter().enumerate() {
            if last.is_some_and(|t| now.saturating_duration_since(t) < crate::simulcast::LAYER_IDLE)
            {
                mask |= 1 << l;
            }
        }
        mask
    }
}

/// A consumer's video layer: the one forwarded, the one to switch to on its next keyframe,
/// the highest it may take, and what keeps its output one stream across switches.
pub(super) struct ConsumerLayer {
    pub(super) current: Option<u8>,
    pub(super) target: u8,
    pub(super) cap: u8,
    /// Video is off for the downlink's sake (the audio-only fallback).
    pub(super) quality_off: bool,
    pub(super) timestamps: TimestampRewriter,
    /// Set for a simulcast VP8 producer: payload descriptors are rewritten.
    pub(super) vp8: Option<Vp8Rewriter>,
}

impl Default for ConsumerLayer {
    fn default() -> Self {
        ConsumerLayer {
            current: None,
            target: 0,
            cap: u8::MAX,
            quality_off: false,
            timestamps: TimestampRewriter::default(),
            vp8: None,
        }
    }
}

impl Worker {
    /// Works out the layers of every producer marked since the last call.
    pub(super) fn flush_layer_changes(&mut self) {
        while let Some(pkey) = self.layers_dirty.pop() {
            self.layers_dirty.retain(|&k| k != pkey);
            self.update_layers(pkey);
        }
    }

    fn update_layers(&mut self, pkey: usize) {
        let now = Instant::now();
        let Some(Transport {
            role: Role::Producer(p),
            id,
            ..
        }) = self.transports.get_mut(pkey)
        else {
            return;
        };
        let available = p.layers.sending(now);
        p.layers.available = available;
        let count = p.layers.count.max(1);
        let recorded = !p.taps.is_empty();
        let consumers = std::mem::take(&mut p.consumers);
        let id = id.clone();
        let mut caps = Vec::with_capacity(consumers.len());
        let mut keyframes = Vec::new();
        for &ckey in &consumers {
            let Some(Transport {
                role: Role::Consumer(c),
                ..
            }) = self.transports.get_mut(ckey)
            else {
                continue;
            };
            if !c.video.wanted || c.layer.quality_off {
                continue;
            }
            // The lower of the subscriber's cap and its downlink's.
            let cap = c
                .layer
                .cap
                .min(c.downlink.as_ref().map_or(u8::MAX, |d| d.cap));
            caps.push(cap);
            if let Some(target) = choose_layer(available, cap)
                && target != c.layer.target
            {
                c.layer.target = target;
                if c.layer.current != Some(target) && !keyframes.contains(&target) {
                    keyframes.push(target);
                }
            }
        }
        let Some(Transport {
            role: Role::Producer(p),
            ..
        }) = self.transports.get_mut(pkey)
        else {
            return;
        };
        p.consumers = consumers;
        let needed = needed_layers(count, caps, recorded);
        let announce = count > 1 && p.layers.needed != Some(needed);
        if announce {
            p.layers.needed = Some(needed);
        }
        for layer in keyframes {
            self.want_keyframe(pkey, layer);
        }
        if announce {
            tracing::debug!(%id, layers = needed, "layers needed");
            let _ = self
                .events
                .send(RouterEvent::LayersNeeded { id, layers: needed });
        }
    }
}
