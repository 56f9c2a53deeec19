//! What a room writes into the session history (`crate::inspector`): its records, and the
//! media quality windows the router measures on its transports (scored, recorded, and
//! sent to subscribers as `qualityScore`).

use parlor_proto::signaling::{Media, ServerMessage, StatsReport};
use serde_json::{Value, json};

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
        // The router's RTT (from receiver reports, or RTCP XR from a publisher), else the
        // client's own (a browser measures its publisher's from the router's reports).
        let rtt_ms = sample
            .rtt_us
            .map(|r| f64::from(r) / 1000.0)
            .or_else(|| self.client_rtt(&sample.id, subscription, slot));
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
        let (stream_id, subscription_id, connection_id, client) = {
            let mut state = lock(&self.state);
            let state = &mut *state;
            if subscription {
                let Some(sub) = state.subscriptions.get_mut(&*sample.id) else {
                    return;
                };
                let client = sub.client[slot].take();
                if let Some(precall) = sub.precall.as_mut() {
                    precall.add(video, sample, loss, mos, client.as_ref());
                }
                let publisher = state
                    .streams
                    .get(&sub.stream_id)
                    .and_then(|s| s.publisher_mos[slot]);
                let ids = (
                    sub.stream_id.clone(),
                    Some(sample.id.to_string()),
                    sub.connection_id.clone(),
                    client,
                );
                if let Some(m) = mos {
                    let worst = publisher.map_or(m, |p| p.min(m));
                    state.send(
                        &ids.2,
                        &ServerMessage::QualityScore {
                            subscription_id: sample.id.to_string(),
                            media: if video { "video" } else { "audio" }.into(),
                            score: score::opentok_score(worst),
                        },
                    );
                }
                ids
            } else {
                let Some(entry) = state.streams.get_mut(&*sample.id) else {
                    return;
                };
                entry.publisher_mos[slot] = mos;
                (
                    entry.stream.stream_id.clone(),
                    None,
                    entry.stream.connection.connection_id.clone(),
                    entry.client[slot].take(),
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
            client,
        }));
    }

    /// The RTT in the client's pending report for a transport's media, if it gave one.
    fn client_rtt(&self, id: &str, subscription: bool, slot: usize) -> Option<f64> {
        let state = lock(&self.state);
        let report = if subscription {
            state.subscriptions.get(id)?.client[slot].as_ref()
        } else {
            state.streams.get(id)?.client[slot].as_ref()
        };
        report?.rtt_ms
    }

    /// Takes a client's `stats` reports: each one of its own streams' or subscriptions'
    /// is kept until the next quality window of that media takes it. Reports of streams
    /// or subscriptions that are not the client's (or no longer exist) are ignored, and so
    /// is a client reporting more than once a second. Returns how many were taken.
    pub(crate) fn client_stats(&self, me: &str, reports: Vec<StatsReport>) -> usize {
        let mut state = lock(&self.state);
        let state = &mut *state;
        let Some(member) = state.members.get_mut(me) else {
            return 0;
        };
        let now = std::time::Instant::now();
        if member
            .last_stats
            .is_some_and(|t| now.duration_since(t) < MIN_STATS_SPACING)
        {
            return 0;
        }
        member.last_stats = Some(now);
        let mut taken = 0;
        for report in reports {
            let slot = usize::from(report.media == Media::Video);
            let target = match (&report.stream_id, &report.subscription_id) {
                (Some(stream), None) => state
                    .streams
                    .get_mut(stream.as_str())
                    .filter(|s| s.stream.connection.connection_id == me)
                    .map(|s| &mut s.client[slot]),
                (None, Some(sub)) => state
                    .subscriptions
                    .get_mut(sub.as_str())
                    .filter(|s| s.connection_id == me)
                    .map(|s| &mut s.client[slot]),
                _ => None,
            };
            if let Some(target) = target {
                *target = Some(report);
                taken += 1;
            }
        }
        taken
    }

    /// Records the end of a subscription: destroyed if its media had connected, failed if
    /// not.
    pub(super) fn record_subscription_end(&self, id: &str, sub: &SubscriptionEntry, reason: &str) {
        if let Some(precall) = &sub.precall {
            self.record(What::PrecallTest {
                subscription_id: id.to_owned(),
                stream_id: sub.stream_id.clone(),
                connection_id: sub.connection_id.clone(),
                summary: precall.summary(),
            });
        }
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

/// The least time between two `stats` reports of one client that are both taken.
const MIN_STATS_SPACING: std::time::Duration = std::time::Duration::from_millis(900);

/// What a pre-call test's subscription measured, per kind of media (audio, video): the
/// router's windows (bitrate, loss, score) and the client's reports (frame rate,
/// resolution, freezes).
#[derive(Debug, Default)]
pub(crate) struct Precall {
    started: Option<std::time::Instant>,
    media: [PrecallMedia; 2],
}

#[derive(Debug, Default)]
struct PrecallMedia {
    windows: u32,
    bits: u64,
    window_ms: u64,
    loss_sum: f64,
    loss_n: u32,
    mos_sum: f64,
    mos_n: u32,
    fps_sum: f64,
    fps_n: u32,
    freezes: u64,
    width: Option<u32>,
    height: Option<u32>,
}

impl Precall {
    fn add(
        &mut self,
        video: bool,
        sample: &parlor_router::QualitySample,
        loss: Option<f64>,
        mos: Option<f64>,
        client: Option<&StatsReport>,
    ) {
        self.started.get_or_insert_with(std::time::Instant::now);
        let m = &mut self.media[usize::from(video)];
        m.windows += 1;
        m.bits += sample
            .bitrate_bps
            .saturating_mul(u64::from(sample.window_ms))
            / 1000;
        m.window_ms += u64::from(sample.window_ms);
        if let Some(l) = loss {
            m.loss_sum += l;
            m.loss_n += 1;
        }
        if let Some(s) = mos {
            m.mos_sum += s;
            m.mos_n += 1;
        }
        if let Some(c) = client {
            if let Some(f) = c.fps {
                m.fps_sum += f;
                m.fps_n += 1;
            }
            m.freezes += u64::from(c.freezes.unwrap_or(0));
            m.width = c.width.or(m.width);
            m.height = c.height.or(m.height);
        }
    }

    /// `{audio, video}`, each `null` when that media never flowed, else its mean bitrate,
    /// loss, MOS and score, and for video the mean frame rate, last resolution and freezes.
    fn summary(&self) -> Value {
        let mean = |sum: f64, n: u32| (n > 0).then(|| sum / f64::from(n));
        let one = |m: &PrecallMedia, video: bool| {
            if m.windows == 0 {
                return Value::Null;
            }
            let mos = mean(m.mos_sum, m.mos_n);
            let mut v = json!({
                "windows": m.windows,
                "bitrateBps": (m.bits * 1000).checked_div(m.window_ms).unwrap_or(0),
                "loss": mean(m.loss_sum, m.loss_n),
                "mos": mos,
                "score": mos.map(score::opentok_score),
            });
            if video {
                v["fps"] = json!(mean(m.fps_sum, m.fps_n));
                v["width"] = json!(m.width);
                v["height"] = json!(m.height);
                v["freezes"] = json!(m.freezes);
            }
            v
        };
        json!({
            "durationMs": self.started.map(|t| t.elapsed().as_millis() as u64),
            "audio": one(&self.media[0], false),
            "video": one(&self.media[1], true),
        })
    }
}
