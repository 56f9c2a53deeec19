"""Live compatibility: every live streaming broadcast call of the official `opentok` Python
SDK against a real Parlor server, with two native publishers (`parlor client publish`,
ffmpeg-made VP8/Opus) in a routed session.

One broadcast (tagged "main", auto stream mode, 640x480) goes to HLS (served by Parlor at a
signed URL) and to two RTMP targets received by `ffmpeg -listen` servers the module starts on
free ports. It is polled with get_broadcast until HLS and both targets are live; the HLS
playlist is fetched with no credentials and a segment checked with ffprobe (H.264 + AAC
640x480). Its layout is changed (pip; bestFit + screenshare_type). A second, manual-mode
broadcast with its own multiBroadcastTag gets streams added (one without video) and removed;
an untagged third one is refused (409). Then stop (targets ended), the SDK's errors, and the
RTMP receivers' FLV files (H.264 + AAC 640x480). The SDK has no method listing broadcasts
(test_unbuilt.py records that). Results go to results/python-broadcasts.json.

The tests run in file order and share one server, one session and its broadcasts (`state`)."""

import copy
import json
import os
import re
import shutil
import tempfile
import time

import pytest
from opentok import MediaModes, Roles
from opentok.broadcast import Broadcast, BroadcastStreamModes
from opentok.exceptions import (
    BroadcastError, BroadcastHLSOptionsError, BroadcastOptionsError, OpenTokException, RequestError,
)

from broadcast_helpers import RtmpReceiver, av_of, fetch_hls, free_port, http_get, received, stop_all_receivers
from live_helpers import HttpLog, error_body, make_media, publisher, remove_media, stop_all_clients, subscriber
from parlor_helpers import API_KEY, forge_session_id

P = f"/v2/project/{API_KEY}"
sdk = pytest.mark.sdk
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UNKNOWN_BROADCAST = "5a1e0a4c-0000-4000-8000-00000000b001"
MAX_BITRATE = 600000
STARTING = ("connecting", "ready", "live")


class State:
    """What the tests share, in the order they run."""


state = State()


@pytest.fixture(scope="module")
def media():
    m = make_media()
    yield m
    remove_media(m[0])


@pytest.fixture(scope="module")
def http(server):
    log = HttpLog().install()
    yield log
    log.uninstall()


@pytest.fixture(scope="module")
def work():
    d = tempfile.mkdtemp(prefix="parlor-compat-broadcasts-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _clients_stop_at_the_end(server):
    yield
    stop_all_receivers()
    stop_all_clients()


@pytest.fixture(scope="module")
def live(server, client, media):
    """A routed session with two publishers, both announced."""
    sid = client.create_session(media_mode=MediaModes.routed).session_id
    state.sid = sid
    watcher = subscriber(server, client.generate_token(sid, role=Roles.subscriber), "watcher")
    state.a = publisher(server, client.generate_token(sid), media, name="cam-a", label="publisher A")
    state.b = publisher(server, client.generate_token(sid), media, name="cam-b", label="publisher B")
    for p in (state.a, state.b):
        watcher.wait_event("streamCreated", lambda e, p=p: e["stream"]["streamId"] == p.stream_id)
    watcher.stop()
    return state


def need(*names):
    missing = [n for n in names if not hasattr(state, n)]
    assert not missing, f"an earlier test did not get as far as {', '.join(missing)}"


def raised(fn, *args, **kwargs):
    """Calls the SDK; returns the OpenTokException it raised (fails if none)."""
    with pytest.raises(OpenTokException) as info:
        fn(*args, **kwargs)
    return info.value


def name_of(e):
    return f"{type(e).__name__}{e.args!r}"


def check_broadcast(b, **want):
    """The SDK's Broadcast: every attribute it has, of the documented type, with `want`'s values."""
    assert isinstance(b, Broadcast), repr(b)
    assert UUID.match(b.id), b.id
    assert b.sessionId == state.sid
    assert str(b.projectId) == API_KEY
    for k in ("createdAt", "updatedAt"):
        v = getattr(b, k)
        assert isinstance(v, int) and abs(v / 1000 - time.time()) < 120, f"{k} {v}"
    assert b.updatedAt >= b.createdAt
    assert b.status in ("started", "stopped"), b.status
    assert isinstance(b.hasAudio, bool) and isinstance(b.hasVideo, bool)
    assert isinstance(b.maxDuration, int) and isinstance(b.maxBitrate, int)
    assert isinstance(b.broadcastUrls, dict), b.broadcastUrls
    assert isinstance(b.streams, list), b.streams
    for k, v in want.items():
        assert getattr(b, k) == v, f"{k}: {getattr(b, k)!r} != {v!r} in {b.json()}"


def target(b, tid):
    return next(t for t in b.broadcastUrls.get("rtmp", []) if t["id"] == tid)


def by_id(streams):
    return sorted(streams, key=lambda s: s["streamId"])


def answer_of(x):
    return json.loads(x.response_body)


# ---------------------------------------------------------------------------------------
# Start: HLS and two RTMP targets.


@sdk(method="start_broadcast", operation="Start a broadcast", feature="broadcasts",
     check="HLS and two RTMP targets, every option")
def test_start_broadcast_hls_and_rtmp(server, client, http, live, work, compat):
    state.rx1 = RtmpReceiver(free_port(), "one", os.path.join(work, "one.flv"))
    state.rx2 = RtmpReceiver(free_port(), "two", os.path.join(work, "two.flv"))
    options = {
        "outputs": {
            "hls": {"lowLatency": True},
            "rtmp": [
                {"id": "one", "serverUrl": state.rx1.url, "streamName": "one"},
                {"id": "two", "serverUrl": state.rx2.url + "/", "streamName": "two"},
            ],
        },
        "maxDuration": 300,
        "maxBitrate": MAX_BITRATE,
        "resolution": "640x480",
        "layout": {"type": "bestFit"},
        "multiBroadcastTag": "main",
        "hasAudio": True,
        "hasVideo": True,
    }
    sent = copy.deepcopy(options)
    mark = http.mark()
    b = client.start_broadcast(state.sid, options)
    x = http.one(mark, "POST", f"{P}/broadcast", 200)
    assert json.loads(x.request_body) == {"sessionId": state.sid, "streamMode": "auto", **sent}
    check_broadcast(b, status="started", resolution="640x480", maxDuration=300, maxBitrate=MAX_BITRATE,
                    stream_mode="auto", hasAudio=True, hasVideo=True)
    assert by_id(b.streams) == by_id([
        {"streamId": state.a.stream_id, "hasAudio": True, "hasVideo": True},
        {"streamId": state.b.stream_id, "hasAudio": True, "hasVideo": True},
    ])
    urls = b.broadcastUrls
    assert urls["hls"].startswith(server.base_url + "/") and urls["hls"].endswith("/index.m3u8"), urls["hls"]
    assert urls["hlsStatus"] in STARTING, urls
    assert [{k: v for k, v in t.items() if k != "status"} for t in urls["rtmp"]] == sent["outputs"]["rtmp"]
    assert all(t["status"] in ("connecting", "live") for t in urls["rtmp"]), urls["rtmp"]
    # What the SDK's Broadcast has no attribute for is in the JSON.
    raw = answer_of(x)
    assert raw["layout"] == {"type": "bestFit"}
    assert raw["settings"] == {"hls": {"dvr": False, "lowLatency": True}}
    assert "reason" not in raw
    state.main = b
    compat.note = ("outputs (HLS lowLatency, two RTMP targets), maxDuration, maxBitrate, resolution, layout, "
                   "multiBroadcastTag, hasAudio, hasVideo sent with sessionId and the SDK's streamMode; the Broadcast "
                   "reads them back with both published streams, a signed HLS URL on the server and each target's "
                   "status (layout and settings are only in the JSON: the SDK's Broadcast has no attribute for them)")


@sdk(method="get_broadcast", operation="Get a broadcast", feature="broadcasts")
def test_get_broadcast_until_live(client, http, compat):
    need("main")
    started = time.monotonic()
    mark = http.mark()
    seen = []
    while True:
        b = client.get_broadcast(state.main.id)
        now = (f"hls {b.broadcastUrls['hlsStatus']}, one {target(b, 'one')['status']}, "
               f"two {target(b, 'two')['status']}")
        if not seen or seen[-1] != now:
            seen.append(now)
        if now == "hls live, one live, two live":
            break
        assert time.monotonic() - started < 30, f"the outputs are not all live after 30 s: {' → '.join(seen)}"
        time.sleep(0.25)
    state.live_at = time.monotonic()
    assert all(x.method == "GET" and x.path == f"{P}/broadcast/{state.main.id}" and x.status == 200
               for x in http.since(mark))
    check_broadcast(b, id=state.main.id, status="started", createdAt=state.main.createdAt, stream_mode="auto")
    assert b.broadcastUrls["hls"] == state.main.broadcastUrls["hls"]
    assert len(b.streams) == 2
    mark = http.mark()
    e = raised(client.get_broadcast, UNKNOWN_BROADCAST)
    error_body(http.one(mark, "GET", f"{P}/broadcast/{UNKNOWN_BROADCAST}", 404), 404)
    assert isinstance(e, RequestError) and e.args == ("OpenTok server error.", 404), name_of(e)
    compat.note = ("polled until HLS and both RTMP targets were live; unknown broadcast: 404, the SDK raises "
                   "RequestError('OpenTok server error.', 404)")


@sdk(method="start_broadcast", operation="Start a broadcast", feature="broadcasts", check="HLS output")
def test_hls_output(work, compat):
    need("live_at")
    url = state.main.broadcastUrls["hls"]
    hls = fetch_hls(url, work, "main")
    assert hls["status"] == 200, f"GET {url} without credentials: {hls['status']} {hls['playlist']}"
    assert hls["headers"]["Content-Type"] == "application/vnd.apple.mpegurl"
    assert hls["headers"]["Access-Control-Allow-Origin"] == "*"
    assert hls["playlist"].startswith("#EXTM3U"), hls["playlist"]
    assert "file" in hls, f"no segment in the playlist:\n{hls['playlist']}"
    assert av_of(hls["probe"]) == ("h264", 640, 480, "aac"), hls["probe"]["streams"]
    forged = url.replace(state.main.id, UNKNOWN_BROADCAST)
    assert http_get(forged)[0] == 404, forged
    sig = re.search(r"/([0-9a-f]{64})/index\.m3u8$", url).group(1)
    bad = url.replace(sig, ("1" if sig[0] == "0" else "0") + sig[1:])
    assert http_get(bad)[0] == 404, bad
    compat.note = ("the signed broadcastUrls['hls'] serves the playlist with no credentials "
                   "(application/vnd.apple.mpegurl, CORS *); a segment is H.264 640x480 + AAC; another id or a "
                   "changed signature: 404")


# ---------------------------------------------------------------------------------------
# Layout.


@sdk(method="set_broadcast_layout", operation="Set a broadcast's layout", feature="broadcasts")
def test_set_broadcast_layout(client, http, compat):
    need("main")
    mark = http.mark()
    assert client.set_broadcast_layout(state.main.id, "pip") is None
    x = http.one(mark, "PUT", f"{P}/broadcast/{state.main.id}/layout", 200)
    assert json.loads(x.request_body) == {"type": "pip"}
    assert answer_of(x)["layout"] == {"type": "pip"}
    mark = http.mark()
    client.set_broadcast_layout(state.main.id, "bestFit", screenshare_type="verticalPresentation")
    x = http.one(mark, "PUT", f"{P}/broadcast/{state.main.id}/layout", 200)
    assert json.loads(x.request_body) == {"type": "bestFit", "screenshareType": "verticalPresentation"}
    mark = http.mark()
    assert client.get_broadcast(state.main.id).status == "started"
    assert answer_of(http.since(mark)[0])["layout"] == {"type": "bestFit", "screenshareType": "verticalPresentation"}
    compat.note = ("200 for pip, then bestFit with a screenshare_type (the SDK returns None); get_broadcast's JSON "
                   "reads each back (the SDK's Broadcast has no layout attribute)")


@sdk(method="set_broadcast_layout", operation="Set a broadcast's layout", feature="broadcasts", check="bad input")
def test_set_broadcast_layout_bad_input(client, http, compat):
    need("main")
    mark = http.mark()
    e = raised(client.set_broadcast_layout, state.main.id, "custom")
    error_body(http.one(mark, "PUT", f"{P}/broadcast/{state.main.id}/layout", 400), 400)
    assert isinstance(e, BroadcastError), name_of(e)
    mark = http.mark()
    e = raised(client.set_broadcast_layout, UNKNOWN_BROADCAST, "pip")
    error_body(http.one(mark, "PUT", f"{P}/broadcast/{UNKNOWN_BROADCAST}/layout", 404), 404)
    assert isinstance(e, RequestError) and e.args == ("OpenTok server error.", 404), name_of(e)
    compat.note = ("custom without a stylesheet: 400, BroadcastError (the SDK's own text); unknown broadcast: 404, "
                   "RequestError('OpenTok server error.', 404)")


# ---------------------------------------------------------------------------------------
# A second, manual-mode broadcast with its own tag; an untagged one is refused.


@sdk(method="start_broadcast", operation="Start a broadcast", feature="broadcasts",
     check="manual stream mode, a second tagged broadcast")
def test_start_manual_tagged(client, http, compat):
    need("main")
    mark = http.mark()
    m = client.start_broadcast(state.sid, {"outputs": {"hls": {}}, "multiBroadcastTag": "manual"},
                               stream_mode=BroadcastStreamModes.manual)
    x = http.one(mark, "POST", f"{P}/broadcast", 200)
    assert json.loads(x.request_body) == {"sessionId": state.sid, "streamMode": "manual", "outputs": {"hls": {}},
                                          "multiBroadcastTag": "manual"}
    check_broadcast(m, status="started", stream_mode="manual", streams=[], resolution="640x480", maxDuration=14400,
                    hasAudio=True, hasVideo=True)
    assert m.id != state.main.id
    assert "rtmp" not in m.broadcastUrls
    assert answer_of(x)["settings"] == {"hls": {"dvr": False, "lowLatency": False}}
    state.m = m
    compat.note = ("stream_mode manual with another multiBroadcastTag while the first runs: started with no "
                   "streams, the defaults (640x480, maxDuration 14400, HLS without dvr or lowLatency)")


@sdk(method="start_broadcast", operation="Start a broadcast", feature="broadcasts", check="409 without a tag")
def test_start_second_broadcast_without_tag(client, http, compat):
    need("main")
    mark = http.mark()
    e = raised(client.start_broadcast, state.sid, {"outputs": {"hls": {}}})
    error_body(http.one(mark, "POST", f"{P}/broadcast", 409), 409)
    assert isinstance(e, BroadcastError), name_of(e)
    assert str(e) == "The broadcast has already started for the session."
    compat.note = ("a session already broadcast, no multiBroadcastTag: 409, BroadcastError('The broadcast has "
                   "already started for the session.')")


@sdk(method="start_broadcast", operation="Start a broadcast", feature="broadcasts", check="bad input")
def test_start_broadcast_bad_input(client, http, live, compat):
    # Refused by the SDK itself, nothing sent.
    mark = http.mark()
    e = raised(client.start_broadcast, state.sid, {"outputs": {"hls": {"dvr": True, "lowLatency": True}}})
    assert isinstance(e, BroadcastHLSOptionsError), name_of(e)
    e = raised(client.start_broadcast, state.sid, {"outputs": {"hls": {}}, "maxBitrate": 5})
    assert isinstance(e, BroadcastOptionsError), name_of(e)
    assert http.since(mark) == []

    def rtmp(n, url="rtmp://127.0.0.1:9/live"):
        return [{"id": f"t{i}", "serverUrl": url, "streamName": f"k{i}"} for i in range(n)]

    texts = set()
    for options, says in [
        ({"outputs": {"rtmp": rtmp(6)}}, "at most 5"),
        ({"outputs": {"rtmp": rtmp(1, "http://127.0.0.1:9/live")}}, "rtmp:// or rtmps://"),
        ({"outputs": {"hls": {}}, "maxDuration": 30}, "maxDuration"),
        ({"outputs": {"hls": {}}, "resolution": "800x600"}, "resolution"),
        ({"outputs": {}}, "outputs"),
    ]:
        mark = http.mark()
        e = raised(client.start_broadcast, state.sid, {**options, "multiBroadcastTag": "bad"})
        body = error_body(http.one(mark, "POST", f"{P}/broadcast", 400), 400)
        assert says in body["message"], body
        assert isinstance(e, BroadcastError), name_of(e)
        texts.add(str(e))
    assert len(texts) == 1, texts
    mark = http.mark()
    e = raised(client.start_broadcast, forge_session_id(state.sid), {"outputs": {"hls": {}}})
    error_body(http.one(mark, "POST", f"{P}/broadcast", 404), 404)
    assert isinstance(e, RequestError) and e.args == ("OpenTok server error.", 404), name_of(e)
    compat.note = ("dvr with lowLatency, maxBitrate 5: refused by the SDK (BroadcastHLSOptionsError, "
                   "BroadcastOptionsError), nothing sent; 6 RTMP targets, an http:// target, maxDuration 30, "
                   "resolution 800x600, no output: 400 with the server's reason, raised as a BroadcastError with "
                   "the SDK's own text; unknown session: 404, RequestError('OpenTok server error.', 404)")


# ---------------------------------------------------------------------------------------
# Manual streams.


@sdk(method="add_broadcast_stream", operation="Add a stream to a broadcast", feature="broadcasts")
def test_add_broadcast_stream(client, http, compat):
    need("m")
    mark = http.mark()
    assert client.add_broadcast_stream(state.m.id, state.a.stream_id) is None
    x = http.one(mark, "PATCH", f"{P}/broadcast/{state.m.id}/streams", 204)
    assert json.loads(x.request_body) == {"hasAudio": True, "hasVideo": True, "addStream": state.a.stream_id}
    mark = http.mark()
    client.add_broadcast_stream(state.m.id, state.b.stream_id, has_audio=True, has_video=False)
    x = http.one(mark, "PATCH", f"{P}/broadcast/{state.m.id}/streams", 204)
    assert json.loads(x.request_body) == {"hasAudio": True, "hasVideo": False, "addStream": state.b.stream_id}
    m = client.get_broadcast(state.m.id)
    assert by_id(m.streams) == by_id([
        {"streamId": state.a.stream_id, "hasAudio": True, "hasVideo": True},
        {"streamId": state.b.stream_id, "hasAudio": True, "hasVideo": False},
    ])
    compat.note = ("manual broadcast: 204 for a stream with audio and video and one with has_video False; "
                   "get_broadcast lists both with those flags")


@sdk(method="add_broadcast_stream", operation="Add a stream to a broadcast", feature="broadcasts",
     check="auto broadcast, unknown stream")
def test_add_broadcast_stream_refused(client, http, compat):
    need("m")
    mark = http.mark()
    e = raised(client.add_broadcast_stream, state.main.id, state.a.stream_id)
    error_body(http.one(mark, "PATCH", f"{P}/broadcast/{state.main.id}/streams", 405), 405)
    # The SDK's BroadcastStreamModeError branch sits under `if response:`, which a 4xx
    # response never passes: every refusal is a RequestError with the status.
    assert isinstance(e, RequestError) and e.args == ("An unexpected error occurred.", 405), name_of(e)
    mark = http.mark()
    e = raised(client.add_broadcast_stream, state.m.id, UNKNOWN_BROADCAST)
    error_body(http.one(mark, "PATCH", f"{P}/broadcast/{state.m.id}/streams", 404), 404)
    assert isinstance(e, RequestError) and e.args[1] == 404, name_of(e)
    compat.note = ("on an auto broadcast: 405, raised as RequestError('An unexpected error occurred.', 405) (the "
                   "SDK's BroadcastStreamModeError is unreachable); a stream not in the session: 404 RequestError")


@sdk(method="remove_broadcast_stream", operation="Remove a stream from a broadcast", feature="broadcasts")
def test_remove_broadcast_stream(client, http, compat):
    need("m")
    mark = http.mark()
    assert client.remove_broadcast_stream(state.m.id, state.b.stream_id) is None
    x = http.one(mark, "PATCH", f"{P}/broadcast/{state.m.id}/streams", 204)
    assert json.loads(x.request_body) == {"removeStream": state.b.stream_id}
    assert client.get_broadcast(state.m.id).streams == [
        {"streamId": state.a.stream_id, "hasAudio": True, "hasVideo": True}]
    mark = http.mark()
    e = raised(client.remove_broadcast_stream, state.m.id, state.b.stream_id)
    error_body(http.one(mark, "PATCH", f"{P}/broadcast/{state.m.id}/streams", 404), 404)
    assert isinstance(e, RequestError) and e.args == ("OpenTok server error.", 404), name_of(e)
    mark = http.mark()
    e = raised(client.remove_broadcast_stream, state.main.id, state.a.stream_id)
    error_body(http.one(mark, "PATCH", f"{P}/broadcast/{state.main.id}/streams", 405), 405)
    assert isinstance(e, RequestError) and e.args[1] == 405, name_of(e)
    compat.note = ("204; get_broadcast lists only the stream left; removing it again: 404, on an auto broadcast: "
                   "405, both RequestError('OpenTok server error.', status)")


# ---------------------------------------------------------------------------------------
# Stop.


@sdk(method="stop_broadcast", operation="Stop a broadcast", feature="broadcasts")
def test_stop_broadcast(client, http, compat):
    need("main", "m")
    time.sleep(max(0.0, getattr(state, "live_at", time.monotonic()) + 3 - time.monotonic()))
    mark = http.mark()
    b = client.stop_broadcast(state.main.id)
    state.stopped_at = time.monotonic()
    x = http.one(mark, "POST", f"{P}/broadcast/{state.main.id}/stop", 200)
    assert x.request_body == ""
    check_broadcast(b, id=state.main.id, status="stopped", streams=[], createdAt=state.main.createdAt)
    reason = answer_of(x).get("reason")
    assert isinstance(reason, str) and reason, answer_of(x)
    assert b.broadcastUrls["hlsStatus"] == "ended"
    assert [(t["id"], t["status"]) for t in b.broadcastUrls["rtmp"]] == [("one", "ended"), ("two", "ended")]
    m = client.stop_broadcast(state.m.id)
    check_broadcast(m, id=state.m.id, status="stopped", stream_mode="manual")
    assert m.broadcastUrls["hlsStatus"] == "ended"
    # The ended playlist says so (the encoder finishes it once its inputs are closed).
    until = time.monotonic() + 10
    while True:
        status, _, playlist = http_get(state.main.broadcastUrls["hls"])
        if b"#EXT-X-ENDLIST" in playlist or time.monotonic() > until:
            break
        time.sleep(0.2)
    assert status == 200 and b"#EXT-X-ENDLIST" in playlist, (
        f"the HLS playlist of a stopped broadcast never ends (10 s after the stop)\n{playlist.decode()}")
    compat.note = (f"200 (no body): stopped with reason \"{reason}\" (only in the JSON), hlsStatus ended, both RTMP "
                   "targets ended; the playlist gets #EXT-X-ENDLIST")


@sdk(method="stop_broadcast", operation="Stop a broadcast", feature="broadcasts",
     check="stop twice, unknown broadcast, stopped broadcast")
def test_stop_broadcast_refused(client, http, compat):
    need("stopped_at")
    mark = http.mark()
    e = raised(client.stop_broadcast, state.main.id)
    error_body(http.one(mark, "POST", f"{P}/broadcast/{state.main.id}/stop", 409), 409)
    assert isinstance(e, BroadcastError), name_of(e)
    mark = http.mark()
    e = raised(client.stop_broadcast, UNKNOWN_BROADCAST)
    error_body(http.one(mark, "POST", f"{P}/broadcast/{UNKNOWN_BROADCAST}/stop", 404), 404)
    assert isinstance(e, RequestError) and e.args == ("OpenTok server error.", 404), name_of(e)
    mark = http.mark()
    e = raised(client.set_broadcast_layout, state.main.id, "pip")
    error_body(http.one(mark, "PUT", f"{P}/broadcast/{state.main.id}/layout", 409), 409)
    assert isinstance(e, RequestError) and e.args[1] == 409, name_of(e)
    mark = http.mark()
    e = raised(client.add_broadcast_stream, state.m.id, state.a.stream_id)
    error_body(http.one(mark, "PATCH", f"{P}/broadcast/{state.m.id}/streams", 409), 409)
    assert isinstance(e, RequestError) and e.args[1] == 409, name_of(e)
    assert client.get_broadcast(state.main.id).status == "stopped"
    compat.note = ("stopping a stopped broadcast: 409 BroadcastError; unknown broadcast: 404 RequestError; layout or "
                   "streams of a stopped broadcast: 409 RequestError; get_broadcast still reads it (stopped)")


@sdk(method="start_broadcast", operation="Start a broadcast", feature="broadcasts", check="RTMP output")
def test_rtmp_output(compat):
    need("stopped_at")
    for rx in (state.rx1, state.rx2):
        probe, _ = received(rx)
        assert av_of(probe) == ("h264", 640, 480, "aac"), (rx.key, probe["streams"])
        d = float(probe["format"].get("duration", 0))
        assert d >= 2, f"{rx.key}: {d} s received"
    compat.note = "each RTMP receiver (ffmpeg -listen) got FLV with H.264 640x480 + AAC, at least 2 s of it"


def test_no_broadcast_call_got_a_5xx(http):
    bad = [x.line() for x in http.exchanges if x.status >= 500]
    assert bad == []
