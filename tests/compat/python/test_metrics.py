"""`GET /metrics` as a Prometheus scraper sees it: refused without credentials, served with
the bearer token (as a scrape_config's `authorization` sends it) or a project's REST JWT,
parsed by the Prometheus Python client's OpenMetrics parser, and its counters move while a
real publisher and subscriber run."""

import time

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from live_helpers import make_media, publisher, remove_media, stop_all_clients, subscriber
from parlor_helpers import API_KEY, ParlorServer, auth_header

TOKEN = "scrape-0f9e8d7c6b5a4938"


@pytest.fixture(scope="module")
def metrics_server():
    srv = ParlorServer(extra_args=["--metrics-token", TOKEN, "--quality-interval", "1s"])
    yield srv
    stop_all_clients()
    assert srv.stop() == 0, srv.stderr_text()


def scrape(server, headers):
    r = requests.get(f"{server.base_url}/metrics", headers=headers, timeout=10)
    return r


def samples(server):
    r = scrape(server, {"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/openmetrics-text"), r.headers
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            # Histograms' buckets (le) and the quality histograms' side and media: never
            # anything per session.
            assert set(s.labels) <= {"le", "side", "media"}, f"{s.name} has labels {s.labels}"
            if s.labels and "le" in s.labels:
                # Unlabelled histograms keep their buckets (cumulative counts by bound).
                if set(s.labels) == {"le"}:
                    out[f'{s.name}{{le="{s.labels["le"]}"}}'] = s.value
                continue
            # Labelled series are summed per name (e.g. every side's window count).
            out[s.name] = out.get(s.name, 0) + s.value if s.labels else s.value
    return out


def test_metrics_need_credentials(metrics_server):
    r = scrape(metrics_server, {})
    assert r.status_code == 401
    assert "--metrics-token" in r.json()["message"]
    r = scrape(metrics_server, {"Authorization": "Bearer not-the-token-at-all"})
    assert r.status_code in (401, 403), r.text
    # A project's REST credentials are enough too.
    r = scrape(metrics_server, {"X-OPENTOK-AUTH": auth_header()})
    assert r.status_code == 200, r.text


def test_metrics_parse_and_move_with_a_session(metrics_server):
    from opentok import Client, MediaModes

    before = samples(metrics_server)
    for name in (
        "parlor_rooms", "parlor_participants", "parlor_tracks_published",
        "parlor_tracks_subscribed", "parlor_rtp_forwarded_total", "parlor_retransmissions_total",
        "parlor_callbacks_queued", "parlor_tokio_tasks", "parlor_process_resident_memory_bytes",
        "parlor_process_open_fds", "parlor_process_cpu_seconds_total",
    ):
        assert name in before, f"{name} missing from {sorted(before)}"
    assert before["parlor_process_resident_memory_bytes"] > 1_000_000

    client = Client(API_KEY, metrics_server.api_secret, api_url=metrics_server.base_url)
    sid = client.create_session(media_mode=MediaModes.routed).session_id
    media = make_media()
    try:
        watcher = subscriber(metrics_server, client.generate_token(sid), "metrics watcher")
        publisher(metrics_server, client.generate_token(sid), media, name="metrics")
        watcher.wait_event("streamCreated")
        deadline = time.monotonic() + 20
        while True:
            now = samples(metrics_server)
            if (now["parlor_rtp_forwarded_total"] > before["parlor_rtp_forwarded_total"] + 50
                    and now.get("parlor_quality_score_count", 0) > 0):
                break
            assert time.monotonic() < deadline, f"nothing forwarded: {now}"
            time.sleep(0.5)
        assert now["parlor_rooms"] >= 1
        assert now["parlor_participants"] >= 2
        assert now["parlor_tracks_published"] >= 1
        assert now["parlor_tracks_subscribed"] >= 1
        assert now["parlor_datagrams_received_total"] > before["parlor_datagrams_received_total"]
        assert now["parlor_process_cpu_seconds_total"] >= before["parlor_process_cpu_seconds_total"]
        # The histograms moved: two more joins, and scored quality windows on both sides.
        assert now["parlor_join_seconds_count"] >= before["parlor_join_seconds_count"] + 2
        assert now["parlor_join_seconds_sum"] > before["parlor_join_seconds_sum"]
        assert now["parlor_quality_loss_ratio_count"] > 0
        # Every forwarded packet's time through the router is counted, in sane buckets:
        # on this idle loopback, most within 10 ms.
        forwarded = now["parlor_forward_latency_seconds_count"] - before["parlor_forward_latency_seconds_count"]
        assert forwarded >= 50, now
        assert now["parlor_forward_latency_seconds_sum"] > before["parlor_forward_latency_seconds_sum"]
        assert now['parlor_forward_latency_seconds_bucket{le="0.01"}'] >= 0.5 * now["parlor_forward_latency_seconds_count"]
    finally:
        stop_all_clients()
        remove_media(media)
    # Gauges go back once the clients left.
    deadline = time.monotonic() + 20
    while samples(metrics_server)["parlor_participants"] != 0:
        assert time.monotonic() < deadline, "participants never went back to 0"
        time.sleep(0.5)
