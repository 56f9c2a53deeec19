//! Simulcast layers: what the worker keeps of a producer's layers ([`ProducerLayers`]) and
//! of a consumer's ([`ConsumerLayer`]); which layer each consumer of a producer targets, and
//! which layers the producer's publisher needs to send ([`RouterEvent::LayersNeeded`]). Worked out again
//! for a producer when its layers start or stop sending, a consumer comes or goes, or a
//! consumer's cap or video changes; the rules are [`crate::simulcast`]'s pure functions.

use super::*;
use crate::simulcast::{TimestampRewriter, Vp8Rewriter, choose_layer, needed_layers};

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
            if !c.video.wanted {
                continue;
            }
            caps.push(c.layer.cap);
            if let Some(target) = choose_layer(available, c.layer.cap)
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
