"""Live compatibility: PyPI `vonage` (`vonage_video`), authenticated as a Vonage application
over HTTPS, driving live streaming broadcasts of a session with two native publishers: a
broadcast to HLS (served by Parlor at a signed https URL) and one RTMP target (an
`ffmpeg -listen` receiver the module starts), polled with get_broadcast until both are live;
its layout changed; a second, manual-mode broadcast with its own multi_broadcast_tag whose
streams are added and removed; list_broadcasts; stop_broadcast; and what the receiver and the
HLS playlist got (ffprobe: H.264 + AAC 640x480). Results go to
results/vonage-python-broadcasts.json. The server, CA and application fixtures are
test_vonage_app.py's.
"""
import json
import os
import shutil
import tempfile
import time

import pytest
from vonage_http_client import HttpRequestError, NotFoundError
from vonage_video import (
    AddStreamRequest, BroadcastHls, BroadcastOutputSettings, BroadcastRtmp, ComposedLayout,
    CreateBroadcastRequest, ListBroadcastsFilter,
)
from vonage_video.errors import InvalidBroadcastStateError, InvalidHlsOptionsError

import live_helpers as live
from broadcast_helpers import RtmpReceiver, av_of, fetch_hls, free_port, received, stop_all_receivers
from test_vonage_app import app, media, routed, server, tls_env, token, video  # noqa: F401

sdk = pytest.mark.sdk


class State:
    """What the tests share, in the order they run."""


state = State()


@pytest.fixture(scope="module")
def http_log():
    log = live.HttpLog().install()
    yield log
    log.uninstall()
    fivexx = [x.line() for x in log.exchanges if x.status >= 500]
    assert fivexx == [], "\n".join(fivexx)


@pytest.fixture(scope="module")
def work():
    d = tempfile.mkdtemp(prefix="parlor-compat-vonage-broadcasts-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _receivers_stop_at_the_end(server):  # noqa: F811
    yield
    stop_all_receivers()


def base(video):  # noqa: F811
    return f"/v2/project/{video.http_client.auth.application_id}"


def need(*names):
    missing = [n for n in names if not hasattr(state, n)]
    assert not missing, f"an earlier test did not get as far as {', '.join(missing)}"


def status_of(fn, *args):
    """The HTTP status of the error the SDK raised (fails if none)."""
    with pytest.raises(HttpRequestError) as info:
        fn(*args)
    return info.value.response.status_code


def streams_of(b):
    return sorted(((s.stream_id, s.has_audio, s.has_video) for s in b.streams or []))


@sdk(method="start_broadcast", operation="Start a broadcast", feature="broadcasts")
def test_start_broadcast(server, video, media, http_log, work, compat):  # noqa: F811
    sid = routed(video)
    state.sid = sid
    watcher = live.subscriber(server, token(video, sid, role="subscriber"), "watcher")
    state.a = live.publisher(server, token(video, sid), media, name="cam-a", label="publisher A")
    state.b = live.publisher(server, token(video, sid), media, name="cam-b", label="publisher B")
    for p in (state.a, state.b):
        watcher.wait_event("streamCreated", lambda e, p=p: e["stream"]["streamId"] == p.stream_id)
    watcher.stop()
    state.rx = RtmpReceiver(free_port(), "vonage", os.path.join(work, "vonage.flv"))
    mark = http_log.mark()
    b = video.start_broadcast(CreateBroadcastRequest(
        session_id=sid,
        outputs=BroadcastOutputSettings(
            hls=BroadcastHls(),
            rtmp=[BroadcastRtmp(id="rx", server_url=state.rx.url, stream_name="vonage")],
        ),
        resolution="640x480", max_duration=300, layout=ComposedLayout(type="bestFit"), multi_broadcast_tag="main",
    ))
    x = http_log.one(mark, "POST", f"{base(video)}/broadcast", 200)
    assert json.loads(x.request_body) == {
        "sessionId": sid, "outputs": {"hls": {}, "rtmp": [{"id": "rx", "serverUrl": state.rx.url, "streamName": "vonage"}]},
        "resolution": "640x480", "maxDuration": 300, "layout": {"type": "bestFit"}, "multiBroadcastTag": "main",
    }
    assert (b.session_id, b.status, b.resolution, b.max_duration, b.stream_mode) == (sid, "started", "640x480", 300, "auto")
    assert streams_of(b) == sorted([(state.a.stream_id, True, True), (state.b.stream_id, True, True)])
    assert b.broadcast_urls.hls.startswith(server.base_url + "/"), b.broadcast_urls.hls
    assert [(t.id, t.server_url, t.stream_name) for t in b.broadcast_urls.rtmp] == [("rx", state.rx.url, "vonage")]
    assert b.settings.hls.dvr is False and b.settings.hls.low_latency is False
    state.main = b
    compat.note = ("HLS, one RTMP target, resolution, max_duration, layout and multi_broadcast_tag: started with both "
                   "published streams, a signed https HLS URL and the target; the SDK's Broadcast reads every field")


@sdk(method="get_broadcast", operation="Get a broadcast", feature="broadcasts")
def test_get_broadcast(server, video, tls_env, http_log, work, compat):  # noqa: F811
    need("main")
    started = time.monotonic()
    seen = []
    while True:
        b = video.get_broadcast(state.main.id)
        now = f"hls {b.broadcast_urls.hls_status}, rx {b.broadcast_urls.rtmp[0].status}"
        if not seen or seen[-1] != now:
            seen.append(now)
        if now == "hls live, rx live":
            break
        assert time.monotonic() - started < 30, f"not live after 30 s: {' → '.join(seen)}"
        time.sleep(0.25)
    state.live_at = time.monotonic()
    assert b.id == state.main.id and b.status == "started"
    hls = fetch_hls(b.broadcast_urls.hls, work, "vonage", cafile=tls_env[0])
    assert hls["status"] == 200, hls["playlist"]
    assert "file" in hls, f"no segment in:\n{hls['playlist']}"
    assert av_of(hls["probe"]) == ("h264", 640, 480, "aac"), hls["probe"]["streams"]
    with pytest.raises(NotFoundError):
        video.get_broadcast("5a1e0a4c-0000-4000-8000-00000000b001")
    compat.note = ("polled until HLS and the RTMP target were live; the https HLS URL serves a playlist without "
                   "credentials, a segment is H.264 640x480 + AAC; unknown broadcast: NotFoundError (404)")


@sdk(method="change_broadcast_layout", operation="Set a broadcast's layout", feature="broadcasts")
def test_change_broadcast_layout(video, http_log, compat):  # noqa: F811
    need("main")
    mark = http_log.mark()
    b = video.change_broadcast_layout(state.main.id, ComposedLayout(type="pip"))
    x = http_log.one(mark, "PUT", f"{base(video)}/broadcast/{state.main.id}/layout", 200)
    assert json.loads(x.request_body) == {"type": "pip"}
    assert b.id == state.main.id and b.status == "started"
    assert json.loads(x.response_body)["layout"] == {"type": "pip"}
    video.change_broadcast_layout(state.main.id, ComposedLayout(type="bestFit", screenshare_type="pip"))
    assert json.loads(http_log.exchanges[-1].response_body)["layout"] == {"type": "bestFit", "screenshareType": "pip"}
    compat.note = "pip, then bestFit with a screenshare_type: 200, the SDK reads the broadcast back from the answer"


@sdk(method="start_broadcast", operation="Start a broadcast", feature="broadcasts", check="manual, tagged; 409 without a tag")
def test_start_manual_and_conflict(video, http_log, compat):  # noqa: F811
    need("main")
    m = video.start_broadcast(CreateBroadcastRequest(
        session_id=state.sid, outputs=BroadcastOutputSettings(hls=BroadcastHls()), stream_mode="manual",
        multi_broadcast_tag="manual"))
    assert (m.status, m.stream_mode, m.streams) == ("started", "manual", [])
    state.m = m
    mark = http_log.mark()
    with pytest.raises(InvalidBroadcastStateError) as info:
        video.start_broadcast(CreateBroadcastRequest(session_id=state.sid, outputs=BroadcastOutputSettings(hls=BroadcastHls())))
    live.error_body(http_log.one(mark, "POST", f"{base(video)}/broadcast", 409), 409)
    assert "already being broadcast" in str(info.value), str(info.value)
    with pytest.raises(InvalidHlsOptionsError):
        BroadcastHls(dvr=True, low_latency=True)
    compat.note = ("a manual broadcast with its own multi_broadcast_tag starts beside the first with no streams; an "
                   "untagged one: 409, InvalidBroadcastStateError carrying the server message; dvr with low_latency: "
                   "refused by the SDK's model")


@sdk(method="add_stream_to_broadcast", operation="Add a stream to a broadcast", feature="broadcasts")
def test_add_stream_to_broadcast(video, http_log, compat):  # noqa: F811
    need("m")
    mark = http_log.mark()
    video.add_stream_to_broadcast(state.m.id, AddStreamRequest(stream_id=state.a.stream_id))
    x = http_log.one(mark, "PATCH", f"{base(video)}/broadcast/{state.m.id}/streams", 204)
    assert json.loads(x.request_body) == {"addStream": state.a.stream_id}
    video.add_stream_to_broadcast(state.m.id, AddStreamRequest(stream_id=state.b.stream_id, has_audio=True, has_video=False))
    assert json.loads(http_log.exchanges[-1].request_body) == {"addStream": state.b.stream_id, "hasAudio": True, "hasVideo": False}
    assert streams_of(video.get_broadcast(state.m.id)) == sorted([(state.a.stream_id, True, True), (state.b.stream_id, True, False)])
    assert status_of(video.add_stream_to_broadcast, state.main.id, AddStreamRequest(stream_id=state.a.stream_id)) == 405
    compat.note = ("204 for a stream with the defaults and one with has_video False; get_broadcast lists both with "
                   "those flags; on an auto broadcast: 405 HttpRequestError")


@sdk(method="remove_stream_from_broadcast", operation="Remove a stream from a broadcast", feature="broadcasts")
def test_remove_stream_from_broadcast(video, http_log, compat):  # noqa: F811
    need("m")
    mark = http_log.mark()
    video.remove_stream_from_broadcast(state.m.id, state.b.stream_id)
    x = http_log.one(mark, "PATCH", f"{base(video)}/broadcast/{state.m.id}/streams", 204)
    assert json.loads(x.request_body) == {"removeStream": state.b.stream_id}
    assert streams_of(video.get_broadcast(state.m.id)) == [(state.a.stream_id, True, True)]
    assert status_of(video.remove_stream_from_broadcast, state.m.id, state.b.stream_id) == 404
    compat.note = "204; get_broadcast lists only the stream left; removing it again: 404 NotFoundError"


@sdk(method="list_broadcasts", operation="List broadcasts", feature="broadcasts")
def test_list_broadcasts(video, http_log, compat):  # noqa: F811
    need("m")
    mark = http_log.mark()
    items, count, _ = video.list_broadcasts(ListBroadcastsFilter(session_id=state.sid))
    x = http_log.one(mark, "GET", f"{base(video)}/broadcast", 200)
    # The SDK names the filter session_id= (and the page size count=): both are read.
    assert "session_id=" in x.url, x.url
    assert count == 2
    assert [b.id for b in items] == [state.m.id, state.main.id], "newest first"
    items, count, _ = video.list_broadcasts(ListBroadcastsFilter(session_id=state.sid, offset=1, page_size=1))
    assert count == 2 and [b.id for b in items] == [state.main.id]
    compat.note = ("filtered by session (sent as session_id=): both broadcasts, newest first, count 2; offset 1, "
                   "page_size 1: the older one")


@sdk(method="stop_broadcast", operation="Stop a broadcast", feature="broadcasts")
def test_stop_broadcast(video, http_log, compat):  # noqa: F811
    need("main", "m")
    time.sleep(max(0.0, getattr(state, "live_at", time.monotonic()) + 3 - time.monotonic()))
    mark = http_log.mark()
    b = video.stop_broadcast(state.main.id)
    http_log.one(mark, "POST", f"{base(video)}/broadcast/{state.main.id}/stop", 200)
    assert b.status == "stopped"
    assert b.broadcast_urls.hls_status == "ended" and b.broadcast_urls.rtmp[0].status == "ended"
    assert video.stop_broadcast(state.m.id).status == "stopped"
    assert status_of(video.stop_broadcast, state.main.id) == 409
    probe, _ = received(state.rx)
    assert av_of(probe) == ("h264", 640, 480, "aac"), probe["streams"]
    compat.note = ("stopped (hls_status and the target ended); stopping again: 409 HttpRequestError; the RTMP "
                   "receiver got H.264 640x480 + AAC")
