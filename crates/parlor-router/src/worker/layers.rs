//! Simulcast layers: which layer each consumer of a producer targets, and which layers the
//! producer's publisher needs to send ([`RouterEvent::LayersNeeded`]). Worked out again
//! for a producer when its layers start or stop sending, a consumer comes or goes, or a
//! consumer's cap or video changes; the rules are [`crate::simulcast`]'s pure functions.

use super::*;
use crate::simulcast::{choose_layer, needed_layers};

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
