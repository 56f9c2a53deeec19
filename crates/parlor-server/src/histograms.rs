//! Distributions for `/metrics` (Prometheus histograms), observed as things happen: how long
//! a client takes to join, and the media quality windows the router measures (score,
//! loss, RTT, jitter), by side (publisher or subscriber) and kind of media — never by
//! session. `api::metrics` encodes them with the rest at each scrape.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Which side of a stream a quality window measured.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Side {
    Publisher,
    Subscriber,
}

/// The kind of media.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Media {
    Audio,
    Video,
}

/// The labels of the quality histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QualityLabels {
    pub side: Side,
    pub media: Media,
}

type Quality = Family<QualityLabels, Histogram, fn() -> Histogram>;

/// The histograms (cheap to observe: atomics; cloned into each scrape's registry).
#[derive(Clone, Debug)]
pub struct Histograms {
    /// WebSocket upgrade → `connected` sent (token verified, room joined), in seconds.
    pub join: Histogram,
    /// Estimated MOS of each quality window (1–4.5).
    pub score: Quality,
    /// Fraction lost in each quality window's receiver report.
    pub loss: Quality,
    /// RTT of each quality window that has one, in seconds.
    pub rtt: Quality,
    /// Jitter of each quality window, in seconds.
    pub jitter: Quality,
}

fn score_buckets() -> Histogram {
    Histogram::new([1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.2, 4.4])
}

fn loss_buckets() -> Histogram {
    Histogram::new([0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5])
}

fn time_buckets() -> Histogram {
    // 1 ms to ~1 s.
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0])
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            // 5 ms to ~10 s.
            join: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            score: Family::new_with_constructor(score_buckets),
            loss: Family::new_with_constructor(loss_buckets),
            rtt: Family::new_with_constructor(time_buckets),
            jitter: Family::new_with_constructor(time_buckets),
        }
    }
}

impl Histograms {
    /// Observes one quality window.
    pub fn quality(
        &self,
        labels: QualityLabels,
        mos: Option<f64>,
        loss: Option<f64>,
        rtt_ms: Option<f64>,
        jitter_ms: Option<f64>,
    ) {
        if let Some(m) = mos {
            self.score.get_or_create(&labels).observe(m);
        }
        if let Some(l) = loss {
            self.loss.get_or_create(&labels).observe(l);
        }
        if let Some(r) = rtt_ms {
            self.rtt.get_or_create(&labels).observe(r / 1000.0);
        }
        if let Some(j) = jitter_ms {
            self.jitter.get_or_create(&labels).observe(j / 1000.0);
        }
    }

    /// Adds them to a scrape's registry.
    pub fn register(&self, reg: &mut Registry) {
        reg.register(
            "join_seconds",
            "Time from a client's WebSocket upgrade to its connected message (token verified, session joined)",
            self.join.clone(),
        );
        reg.register(
            "quality_score",
            "Estimated MOS (1-4.5) of each media quality window",
            self.score.clone(),
        );
        reg.register(
            "quality_loss_ratio",
            "Fraction of packets lost in each media quality window's receiver report",
            self.loss.clone(),
        );
        reg.register(
            "quality_rtt_seconds",
            "Round-trip time of each media quality window that measured one",
            self.rtt.clone(),
        );
        reg.register(
            "quality_jitter_seconds",
            "Interarrival jitter of each media quality window",
            self.jitter.clone(),
        );
    }
}
