//! What a room writes into the session history (`crate::inspector`): its records, and the
//! media quality windows the router measures on its transports (scored, recorded, and
//! sent to subscribers as `qualityScore`).

use parlor_proto::signaling::ServerMessage;

use super::{Room, SubscriptionEntry};
use crate::inspector::score::{self, Window};
use crate::inspector::{Quality, What};
use crate::signaling::lock;

impl Room {
    /// Records what happened in this meeting in the session history.
    pub(crate) fn record(&self, what: What) {
        if let Some(hub) = self.hub.upgrade() {
            hub.history
                .record(&self.session_id, Some(&self.meeting_id), what);
        }
    }

    /// Records a window of media quality the router measured on one of this room's
    /// transports: a stream's producer, or (`subscription`) a consumer.
    ///
    /// A subscriber is told its subscription's score for the window (`qualityScore`): the
    /// worse of its own side's and the publisher side's, since a publisher's bad uplink
    /// reaches every subscriber without showing in their receiver reports.
    pub(in crate::signaling) fn quality(
        &self,
        sample: &parlor_router::QualitySample,
        subscription: bool,
    ) {
        let video = sample.kind == parlor_router::MediaKind::Video;
        let slot = usize::from(video);
        let loss = sample.loss_permille.map(|l| f64::from(l) / 1000.0);
        let jitter_ms = sample.jitter_us.map(|j| f64::from(j) / 1000.0);
        let rtt_ms = sample.rtt_us.map(|r| f64::from(r) / 1000.0);
        // No score without media, or before the first receiver report says what was lost.
        let mos = (sample.packets > 0 && loss.is_some()).then(|| {
            score::mos(&Window {
                video,
                loss,
                rtt_ms,
                jitter_ms,
                bitrate_bps: sample.bitrate_bps as f64,
            })
        });
        if let Some(hub) = self.hub.upgrade() {
            use crate::histograms::{Media, QualityLabels, Side};
            let labels = QualityLabels {
                side: if subscription {
                    Side::Subscriber
                } else {
                    Side::Publisher
                },
                media: if video { Media::Video } else { Media::Audio },
            };
            hub.histograms.quality(labels, mos, loss, rtt_ms, jitter_ms);
        }
        let (stream_id, subscription_id, connection_id) = {
            let mut state = lock(&self.state);
            if subscription {
                let Some(sub) = state.subscriptions.get(&*sample.id) else {
                    return;
                };
                let publisher = state
                    .streams
                    .get(&sub.stream_id)
                    .and_then(|s| s.publisher_mos[slot]);
                if let Some(m) = mos {
                    let worst = publisher.map_or(m, |p| p.min(m));
                    state.send(
                        &sub.connection_id,
                        &ServerMessage::QualityScore {
                            subscription_id: sample.id.to_string(),
                            media: if video { "video" } else { "audio" }.into(),
                            score: score::opentok_score(worst),
                        },
                    );
                }
                (
                    sub.stream_id.clone(),
                    Some(sample.id.to_string()),
                    sub.connection_id.clone(),
                )
            } else {
                let Some(entry) = state.streams.get_mut(&*sample.id) else {
                    return;
                };
                entry.publisher_mos[slot] = mos;
                (
                    entry.stream.stream_id.clone(),
                    None,
                    entry.stream.connection.connection_id.clone(),
                )
            }
        };
        self.record(What::Quality(Quality {
            stream_id,
            subscription_id,
            connection_id,
            media: if video { "video" } else { "audio" },
            window_ms: sample.window_ms,
            bitrate_bps: sample.bitrate_bps,
            packets: sample.packets,
            nacks: sample.nacks,
            plis: sample.plis,
            loss,
            jitter_ms,
            rtt_ms,
            mos,
        }));
    }

    /// Records the end of a subscription: destroyed if its media had connected, failed if
    /// not.
    pub(super) fn record_subscription_end(&self, id: &str, sub: &SubscriptionEntry, reason: &str) {
        if sub.connected {
            self.record(What::SubscriptionDestroyed {
                subscription_id: id.to_owned(),
                reason: reason.to_owned(),
            });
        } else {
            self.record(What::SubscribeFailed {
                connection_id: sub.connection_id.clone(),
                stream_id: sub.stream_id.clone(),
                reason: format!("the subscription ended ({reason}) before its media connected"),
            });
        }
    }
}
