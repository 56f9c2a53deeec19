//! `GET /metrics`: the server's counters for Prometheus, in the OpenMetrics text format
//! (the `prometheus-client` crate's encoder), taken fresh at each scrape.
//!
//! Authenticated like everything else: `Authorization: Bearer <--metrics-token>` (what a
//! Prometheus `scrape_config` sends with `authorization: {credentials: …}`), or any
//! project credential the REST API accepts. No per-session labels: per-session detail
//! belongs to `/v1/stats` and the Inspector. Histograms (`crate::histograms`) carry only
//! `side` and `media` labels.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::{ApiError, ProjectAuth};
use crate::AppState;

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A scraper: the metrics token, or a project's REST credentials.
pub struct MetricsAuth;

impl FromRequestParts<AppState> for MetricsAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(token) = state.config.metrics_token.as_deref()
            && let Some(given) = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        {
            use subtle::ConstantTimeEq as _;
            if given.trim().as_bytes().ct_eq(token.as_bytes()).into() {
                return Ok(MetricsAuth);
            }
        }
        ProjectAuth::from_request_parts(parts, state)
            .await
            .map(|_| MetricsAuth)
            .map_err(|e| {
                if e.status == StatusCode::UNAUTHORIZED {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "/metrics needs Authorization: Bearer <the server's --metrics-token>, or \
                         a project's REST credentials",
                    )
                } else {
                    e
                }
            })
    }
}

pub async fn get(State(state): State<AppState>, _auth: MetricsAuth) -> Result<Response, ApiError> {
    let r = state
        .signaling
        .router
        .stats()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let (rooms, _) = state.signaling.counts();
    let mut reg = Registry::with_prefix("parlor");
    let gauge = |reg: &mut Registry, name: &str, help: &str, v: usize| {
        reg.register(name, help, ConstGauge::new(v as i64));
    };
    let counter = |reg: &mut Registry, name: &str, help: &str, v: u64| {
        reg.register(name, help, ConstCounter::new(v));
    };
    gauge(
        &mut reg,
        "rooms",
        "Sessions with at least one connection",
        rooms,
    );
    gauge(
        &mut reg,
        "participants",
        "Client connections in all sessions",
        state.signaling.connection_count(),
    );
    gauge(
        &mut reg,
        "tracks_published",
        "Streams published (producers)",
        r.producers,
    );
    gauge(
        &mut reg,
        "tracks_subscribed",
        "Subscriptions (consumers)",
        r.consumers,
    );
    gauge(
        &mut reg,
        "transports",
        "WebRTC transports in the media router",
        r.transports,
    );
    counter(
        &mut reg,
        "datagrams_received",
        "UDP datagrams received",
        r.datagrams_received,
    );
    counter(
        &mut reg,
        "datagrams_dropped",
        "UDP datagrams received and dropped (unknown source, malformed)",
        r.datagrams_dropped,
    );
    counter(
        &mut reg,
        "datagrams_sent",
        "UDP datagrams sent",
        r.datagrams_sent,
    );
    gauge(
        &mut reg,
        "ice_tcp_connections",
        "ICE-TCP connections open to the media router",
        r.ice_tcp.open,
    );
    counter(
        &mut reg,
        "ice_tcp_frames_received",
        "Datagrams received as ICE-TCP frames (also in datagrams_received)",
        r.ice_tcp.frames_received,
    );
    counter(
        &mut reg,
        "ice_tcp_frames_sent",
        "Datagrams sent as ICE-TCP frames",
        r.ice_tcp.frames_sent,
    );
    counter(
        &mut reg,
        "datagrams_send_dropped",
        "UDP datagrams dropped because the socket's send buffer was full",
        r.datagrams_send_dropped,
    );
    counter(
        &mut reg,
        "rtp_received",
        "RTP packets received from publishers",
        r.rtp_received,
    );
    counter(
        &mut reg,
        "rtp_forwarded",
        "RTP packets forwarded to subscribers",
        r.rtp_forwarded,
    );
    counter(
        &mut reg,
        "retransmissions",
        "Packets resent in answer to subscribers' NACKs",
        r.retransmissions,
    );
    counter(
        &mut reg,
        "retransmissions_refused",
        "NACKed packets not resent: the subscriber's retransmission budget was spent",
        r.retransmissions_refused,
    );
    counter(
        &mut reg,
        "transport_feedback",
        "Transport-wide congestion control reports read from subscribers (downlink estimation)",
        r.transport_feedback,
    );
    counter(
        &mut reg,
        "padding_sent",
        "Padding packets sent to probe subscribers' downlinks",
        r.padding_sent,
    );
    counter(
        &mut reg,
        "keyframe_requests",
        "Keyframe requests (PLI) sent to publishers",
        r.keyframe_requests,
    );
    counter(
        &mut reg,
        "transports_failed",
        "Transports closed by a failure (ICE, DTLS, timeout)",
        r.transports_failed,
    );
    counter(
        &mut reg,
        "recorder_dropped",
        "Media events the recorders' queues dropped (a recorder fell behind)",
        r.tap_dropped,
    );
    gauge(
        &mut reg,
        "archives_recording",
        "Archives being recorded",
        state.archives.recording_count(),
    );
    gauge(
        &mut reg,
        "callbacks_queued",
        "Callback deliveries waiting or in flight",
        state.signaling.notifier.queued(),
    );
    counter(
        &mut reg,
        "history_dropped",
        "Session history records dropped because the history writer fell behind",
        state.signaling.history.dropped(),
    );
    if let Some(turn) = &state.turn {
        let t = turn.stats();
        gauge(
            &mut reg,
            "turn_allocations",
            "Allocations on the embedded TURN server",
            t.allocations,
        );
        counter(
            &mut reg,
            "turn_relayed",
            "Datagrams the embedded TURN server relayed (both ways)",
            t.relayed_to_peers + t.relayed_to_clients,
        );
        counter(
            &mut reg,
            "turn_refusals",
            "TURN requests refused: bad credentials, forbidden peers, quotas",
            t.auth_failures + t.forbidden_peers + t.quota_refusals,
        );
    }
    gauge(
        &mut reg,
        "tokio_tasks",
        "Tasks alive on the server's async runtime",
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
    );
    reg.register(
        "forward_latency_seconds",
        "Time from a publisher's packet arriving at the media router to the end of its fan-out to every subscriber",
        ForwardLatency(r.forward_latency),
    );
    state.signaling.histograms.register(&mut reg);
    process_metrics(&mut reg);
    let mut body = String::new();
    encode(&mut body, &reg).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics",
        )
    })?;
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(response)
}

/// The process's CPU time, resident memory and open file descriptors, from `/proc/self`
/// (Linux); left out where it cannot be read.
/// The router's forwarding-latency buckets, as a Prometheus histogram in seconds.
#[derive(Debug)]
struct ForwardLatency(parlor_router::LatencyHistogram);

impl EncodeMetric for ForwardLatency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let h = &self.0;
        let mut buckets = [(f64::INFINITY, 0u64); parlor_router::LATENCY_BOUNDS_US.len() + 1];
        for (i, b) in buckets.iter_mut().enumerate() {
            if let Some(&bound) = parlor_router::LATENCY_BOUNDS_US.get(i) {
                b.0 = bound as f64 / 1e6;
            }
            b.1 = h.counts[i];
        }
        encoder.encode_histogram::<NoLabelSet>(h.sum_us as f64 / 1e6, h.count(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn process_metrics(reg: &mut Registry) {
    let process = reg.sub_registry_with_prefix("process");
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        // The fields after the command name (which may hold spaces), from field 3 on.
        && let Some((_, rest)) = stat.rsplit_once(')')
    {
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime, fields 14 and 15, in clock ticks: USER_HZ is 100 on Linux.
        if let (Some(u), Some(s)) = (fields.get(11), fields.get(12))
            && let (Ok(u), Ok(s)) = (u.parse::<u64>(), s.parse::<u64>())
        {
            process.register(
                "cpu_seconds",
                "User and system CPU time of the process, in seconds",
                ConstCounter::new((u + s) as f64 / 100.0),
            );
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kib) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
    {
        process.register(
            "resident_memory_bytes",
            "Resident memory of the process",
            ConstGauge::new(kib * 1024),
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        process.register(
            "open_fds",
            "Open file descriptors of the process",
            ConstGauge::new(fds.count() as i64),
        );
    }
}
