"""Live compatibility: every archive call of the official `opentok` Python SDK against a real
Parlor server, with native publishers (`parlor client publish`, ffmpeg-made VP8/Opus) in the
session and a subscriber that must be told when archives start and stop.

One recording window of a few seconds serves three archives of the same session at once
(each with its own multi_archive_tag): a composed one with every option (720x1280, bestFit +
screenshareType, max_bitrate; its layout changed live to a custom stylesheet), an audio-only
composed one, and an individual manual-mode one (streams added with and without video, one
removed halfway). The SDK sends every option it was not given as an explicit JSON null. The
outputs are downloaded from their signed URLs and checked with ffprobe (composed: H.264 +
AAC at the requested size; individual: a ZIP of per-stream WebM files with the
`<archiveId>.json` manifest). Then list (offset, count, session_id), delete, and an
archive_mode=always session. Results go to results/python-archives.json.

The tests run in file order and share one server, one session and its archives (`state`)."""

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from datetime import datetime

import pytest
from opentok import ArchiveModes, MediaModes, OutputModes, Roles, StreamModes
from opentok.archives import Archive, ArchiveList
from opentok.exceptions import ArchiveError, NotFoundError, OpenTokException, RequestError

from live_helpers import HttpLog, error_body, make_media, publisher, remove_media, subscriber, stop_all_clients
from parlor_helpers import API_KEY, forge_session_id

P = f"/v2/project/{API_KEY}"
sdk = pytest.mark.sdk
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_BITRATE = 150000
UNKNOWN_ARCHIVE = "5a1e0a4c-0000-4000-8000-00000000a001"
# Stacks the streams, each cropped to fill its half: no black left in the frame.
COVER_STYLESHEET = "stream { float: left; width: 100%; height: 50%; object-fit: cover; }"


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
    d = tempfile.mkdtemp(prefix="parlor-compat-archives-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _clients_stop_at_the_end(server):
    yield
    stop_all_clients()


@pytest.fixture(scope="module")
def live(server, client, media):
    """A routed session with a subscriber and two publishers."""
    sid = client.create_session(media_mode=MediaModes.routed).session_id
    state.sid = sid
    state.watcher = subscriber(server, client.generate_token(sid, role=Roles.subscriber), "watcher")
    state.a = publisher(server, client.generate_token(sid), media, name="cam-a", label="publisher A")
    state.b = publisher(server, client.generate_token(sid), media, name="cam-b", label="publisher B")
    state.watcher.wait_event("streamCreated", lambda e: e["stream"]["streamId"] == state.b.stream_id)
    return state


def need(*names):
    missing = [n for n in names if not hasattr(state, n)]
    assert not missing, f"an earlier test did not get as far as {', '.join(missing)}"


def sleep_until(since, seconds):
    time.sleep(max(0.0, since + seconds - time.monotonic()))


def raised(fn, *args, **kwargs):
    """Calls the SDK; returns the OpenTokException it raised (fails if none)."""
    with pytest.raises(OpenTokException) as info:
        fn(*args, **kwargs)
    return info.value


def name_of(e):
    return f"{type(e).__name__}{e.args!r}"


def check_archive(a, **want):
    """The SDK's Archive: every attribute it has, of the documented type, with `want`'s values."""
    assert isinstance(a, Archive), repr(a)
    assert UUID.match(a.id), a.id
    assert a.session_id == state.sid
    assert str(a.partner_id) == API_KEY
    assert isinstance(a.created_at, datetime) and abs(a.created_at.timestamp() - time.time()) < 120, a.created_at
    assert isinstance(a.size, int) and a.size >= 0, a.size
    assert isinstance(a.duration, int) and a.duration >= 0, a.duration
    assert isinstance(a.output_mode, OutputModes), a.output_mode
    assert a.stream_mode in ("auto", "manual"), a.stream_mode
    assert isinstance(a.has_audio, bool) and isinstance(a.has_video, bool)
    assert isinstance(a.streams, list), a.streams
    for k, v in want.items():
        assert getattr(a, k) == v, f"{k}: {getattr(a, k)!r} != {v!r} in {a.attrs()}"
    if a.status == "available":
        assert isinstance(a.url, str) and a.url
        assert a.size > 0
    else:
        assert a.url is None, f"url while {a.status}"


def raw_answer(http, mark, path):
    """The JSON body of the last answer to `path` since `mark` (what the SDK parsed)."""
    x = [x for x in http.since(mark) if x.path == path][-1]
    return json.loads(x.response_body)


def wait_done(client, archive_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        a = client.get_archive(archive_id)
        if a.status not in ("started", "paused", "stopped"):
            return a
        assert time.monotonic() < deadline, f"archive {archive_id} still {a.status} after {timeout} s"
        time.sleep(0.2)


def download(url, path):
    """GETs a URL (not through the SDK): (bytes, content type)."""
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200, url
        data = r.read()
        ctype = r.headers.get("Content-Type")
    with open(path, "wb") as f:
        f.write(data)
    return data, ctype


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def ffprobe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"ffprobe {path}: {r.stderr}"
    return json.loads(r.stdout)


def codecs(probe):
    return sorted(s["codec_name"] for s in probe["streams"])


def stream_of(probe, kind):
    return next(s for s in probe["streams"] if s["codec_type"] == kind)


def decodes_cleanly(path):
    """Decodes the whole file. `-enc_time_base -1` keeps each stream's own time base (WebM: 1 ms)
    for the null output: with ffmpeg's default of 1/frame rate, a 15 fps video that starts a
    few ms after the audio has frames 66/67 ms apart that round into the same 1/15 s tick
    ("non monotonically increasing dts"), a complaint about the check, not the file."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-enc_time_base", "-1", "-f", "null", "-"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), (f"{os.path.basename(path)} does not decode cleanly (ffmpeg -f null)"
                                                        f"\n{path}: {r.stderr}")


def grey_mean(path, seconds, region, w=96, h=128):
    """Mean grey level (0-255) of `region` (x0, y0, x1, y1 as fractions) of the frame at `seconds`."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", str(seconds), "-i", path, "-frames:v", "1",
                        "-vf", f"scale={w}:{h},format=gray", "-f", "rawvideo", "-"], capture_output=True, timeout=30)
    assert r.returncode == 0 and len(r.stdout) == w * h, f"no frame at {seconds} s of {path}: {r.stderr!r}"
    x0, y0, x1, y1 = region
    px = [r.stdout[y * w + x] for y in range(int(y0 * h), int(y1 * h)) for x in range(int(x0 * w), int(x1 * w))]
    return sum(px) / len(px)


# ---------------------------------------------------------------------------------------
# Start: three archives of one session at once, each with its own multi_archive_tag.


@sdk(method="start_archive", operation="Start an archive", feature="archiving", check="composed, every option")
def test_start_composed_with_every_option(client, http, live, compat):
    mark = http.mark()
    layout = {"type": "bestFit", "screenshareType": "pip"}
    k = client.start_archive(
        state.sid, has_audio=True, has_video=True, name="composed ✓", output_mode=OutputModes.composed,
        stream_mode=StreamModes.auto, resolution="720x1280", layout=layout, multi_archive_tag="composed",
        max_bitrate=MAX_BITRATE,
    )
    state.k_started = time.monotonic()
    x = http.one(mark, "POST", f"{P}/archive", 200)
    assert json.loads(x.request_body) == {
        "name": "composed ✓", "sessionId": state.sid, "hasAudio": True, "hasVideo": True, "outputMode": "composed",
        "resolution": "720x1280", "streamMode": "auto", "multiArchiveTag": "composed", "maxBitrate": MAX_BITRATE,
        "layout": layout,
    }
    check_archive(k, status="started", name="composed ✓", output_mode=OutputModes.composed, stream_mode="auto",
                  has_audio=True, has_video=True, resolution="720x1280", size=0, duration=0, url=None,
                  max_bitrate=MAX_BITRATE)
    assert sorted(s["streamId"] for s in k.streams) == sorted([state.a.stream_id, state.b.stream_id])
    raw = json.loads(x.response_body)
    assert raw["layout"] == layout and raw["multiArchiveTag"] == "composed" and raw["reason"] == ""
    state.k_created_ms = raw["createdAt"]
    ev = state.watcher.wait_event("archiveStarted", lambda e: e["id"] == k.id)
    assert ev["name"] == "composed ✓"
    state.k = k
    compat.note = ("every option (name, has_audio, has_video, output_mode composed, stream_mode auto, resolution "
                   "720x1280, layout bestFit + screenshareType, multi_archive_tag, max_bitrate) sent and read back; "
                   "a subscriber printed archiveStarted with the name")


@sdk(method="start_archive", operation="Start an archive", feature="archiving", check="audio only, explicit nulls")
def test_start_audio_only_with_nulls(client, http, live, compat):
    need("k")
    mark = http.mark()
    l = client.start_archive(state.sid, has_video=False, multi_archive_tag="audio")
    state.l_started = time.monotonic()
    x = http.one(mark, "POST", f"{P}/archive", 200)
    body = json.loads(x.request_body)
    # What the SDK was not given goes as JSON null: the server takes it as the default.
    assert body == {"name": None, "sessionId": state.sid, "hasAudio": True, "hasVideo": False, "outputMode": "composed",
                    "resolution": None, "streamMode": "auto", "multiArchiveTag": "audio", "maxBitrate": None}
    check_archive(l, status="started", name=None, has_video=False, resolution="640x480", max_bitrate=None)
    assert all(s["hasVideo"] is False for s in l.streams), l.streams
    state.watcher.wait_event("archiveStarted", lambda e: e["id"] == l.id)
    state.l = l
    compat.note = ("has_video False with another multi_archive_tag while the first archive runs; name, resolution "
                   "and maxBitrate sent as null: the defaults (name null, 640x480)")


@sdk(method="start_archive", operation="Start an archive", feature="archiving", check="individual, stream_mode manual")
def test_start_individual_manual(client, http, live, compat):
    need("k")
    mark = http.mark()
    m = client.start_archive(state.sid, name="individual", output_mode=OutputModes.individual,
                             stream_mode=StreamModes.manual, multi_archive_tag="individual")
    state.m_started = time.monotonic()
    x = http.one(mark, "POST", f"{P}/archive", 200)
    assert json.loads(x.request_body)["resolution"] is None
    check_archive(m, status="started", name="individual", output_mode=OutputModes.individual, stream_mode="manual",
                  streams=[], resolution=None)
    state.watcher.wait_event("archiveStarted", lambda e: e["id"] == m.id)
    state.m = m
    compat.note = "output_mode individual, stream_mode manual (resolution null): started with no streams"


@sdk(method="start_archive", operation="Start an archive", feature="archiving", check="409 without a tag")
def test_start_second_archive_without_tag(client, http, live, compat):
    need("k")
    mark = http.mark()
    e = raised(client.start_archive, state.sid, name="one too many")
    body = error_body(http.one(mark, "POST", f"{P}/archive", 409), 409)
    assert isinstance(e, ArchiveError), name_of(e)
    assert str(e) == body["message"]
    compat.note = "a session already archived, no multi_archive_tag: 409, ArchiveError with the server message"


@sdk(method="start_archive", operation="Start an archive", feature="archiving", check="bad input")
def test_start_bad_input(client, http, live, compat):
    cases = [
        (dict(resolution="800x600"), 400, RequestError, "resolution must be one of"),
        (dict(layout={"type": "custom"}), 400, RequestError, "invalid layout"),
        (dict(max_bitrate=5), 400, RequestError, "maxBitrate"),
    ]
    for kwargs, status, kind, says in cases:
        mark = http.mark()
        e = raised(client.start_archive, state.sid, multi_archive_tag="bad", **kwargs)
        body = error_body(http.one(mark, "POST", f"{P}/archive", status), status)
        assert isinstance(e, kind) and says in str(e) and str(e) == body["message"], name_of(e)
    mark = http.mark()
    e = raised(client.start_archive, forge_session_id(state.sid))
    error_body(http.one(mark, "POST", f"{P}/archive", 404), 404)
    assert isinstance(e, NotFoundError) and str(e) == "Session not found", name_of(e)
    compat.note = ("resolution 800x600, custom layout without a stylesheet, max_bitrate 5: 400 RequestError with the "
                   "server message; unknown session: 404 NotFoundError \"Session not found\"")


# ---------------------------------------------------------------------------------------
# While recording: manual streams, a live layout change.


@sdk(method="add_archive_stream", operation="Add a stream to an archive", feature="archiving")
def test_add_archive_stream(client, http, live, compat):
    need("m")
    mark = http.mark()
    assert client.add_archive_stream(state.m.id, state.a.stream_id) is None
    x = http.one(mark, "PATCH", f"{P}/archive/{state.m.id}/streams", 204)
    assert json.loads(x.request_body) == {"hasAudio": True, "hasVideo": True, "addStream": state.a.stream_id}
    state.a_added = time.monotonic()
    mark = http.mark()
    client.add_archive_stream(state.m.id, state.b.stream_id, has_audio=True, has_video=False)
    x = http.one(mark, "PATCH", f"{P}/archive/{state.m.id}/streams", 204)
    assert json.loads(x.request_body) == {"hasAudio": True, "hasVideo": False, "addStream": state.b.stream_id}
    state.b_added = time.monotonic()
    m = client.get_archive(state.m.id)
    assert sorted(m.streams, key=lambda s: s["streamId"]) == sorted([
        {"streamId": state.a.stream_id, "hasAudio": True, "hasVideo": True},
        {"streamId": state.b.stream_id, "hasAudio": True, "hasVideo": False},
    ], key=lambda s: s["streamId"])
    compat.note = ("manual archive: 204 for a stream with audio and video and one with has_video False; "
                   "get_archive lists both with those flags")


@sdk(method="add_archive_stream", operation="Add a stream to an archive", feature="archiving", check="auto archive, unknown stream")
def test_add_archive_stream_refused(client, http, live, compat):
    need("k", "m")
    mark = http.mark()
    e = raised(client.add_archive_stream, state.k.id, state.a.stream_id)
    error_body(http.one(mark, "PATCH", f"{P}/archive/{state.k.id}/streams", 405), 405)
    # The SDK tests `if response:` (false for any 4xx) before its status cases, so it never
    # raises its ArchiveStreamModeError: every refusal is a RequestError with the status.
    assert isinstance(e, RequestError) and e.args[1:] == (405,), name_of(e)
    mark = http.mark()
    e = raised(client.add_archive_stream, state.m.id, UNKNOWN_ARCHIVE)
    error_body(http.one(mark, "PATCH", f"{P}/archive/{state.m.id}/streams", 404), 404)
    assert isinstance(e, RequestError) and e.args[1:] == (404,), name_of(e)
    compat.note = ("on an auto archive: 405; a stream not in the session: 404; the SDK raises "
                   "RequestError('An unexpected error occurred.', status) for both (its 405/404 cases are "
                   "unreachable in opentok 3.15.0)")


@sdk(method="set_archive_layout", operation="Set an archive's layout", feature="archiving")
def test_set_archive_layout(client, http, live, compat):
    need("k")
    sleep_until(state.k_started, 2.0)
    mark = http.mark()
    assert client.set_archive_layout(state.k.id, "custom", stylesheet=COVER_STYLESHEET) is None
    state.layout_at = time.time()
    state.layout_at_mono = time.monotonic()
    x = http.one(mark, "PUT", f"{P}/archive/{state.k.id}/layout", 200)
    assert json.loads(x.request_body) == {"type": "custom", "stylesheet": COVER_STYLESHEET}
    mark = http.mark()
    assert client.get_archive(state.k.id).status == "started"
    raw = raw_answer(http, mark, f"{P}/archive/{state.k.id}")
    assert raw["layout"] == {"type": "custom", "stylesheet": COVER_STYLESHEET}, raw
    compat.note = ("custom with a stylesheet: 200 on a started composed archive; the new layout reads back "
                   "(in the JSON: the SDK's Archive has no layout attribute; its effect on the file: see below)")


@sdk(method="set_archive_layout", operation="Set an archive's layout", feature="archiving", check="bad input")
def test_set_archive_layout_refused(client, http, live, compat):
    need("k", "m")
    mark = http.mark()
    e = raised(client.set_archive_layout, state.m.id, "pip")
    error_body(http.one(mark, "PUT", f"{P}/archive/{state.m.id}/layout", 400), 400)
    assert isinstance(e, ArchiveError), name_of(e)
    mark = http.mark()
    e = raised(client.set_archive_layout, state.k.id, "bestFit", screenshare_type="mosaic")
    error_body(http.one(mark, "PUT", f"{P}/archive/{state.k.id}/layout", 400), 400)
    assert isinstance(e, ArchiveError), name_of(e)
    mark = http.mark()
    e = raised(client.set_archive_layout, UNKNOWN_ARCHIVE, "pip")
    error_body(http.one(mark, "PUT", f"{P}/archive/{UNKNOWN_ARCHIVE}/layout", 404), 404)
    assert isinstance(e, RequestError) and e.args[1:] == (404,), name_of(e)
    compat.note = ("an individual archive, screenshareType \"mosaic\": 400, ArchiveError; unknown archive: 404, "
                   "RequestError('OpenTok server error.', 404)")


@sdk(method="remove_archive_stream", operation="Remove a stream from an archive", feature="archiving")
def test_remove_archive_stream(client, http, live, compat):
    need("b_added")
    sleep_until(state.b_added, 1.5)
    mark = http.mark()
    assert client.remove_archive_stream(state.m.id, state.b.stream_id) is None
    state.b_removed = time.monotonic()
    x = http.one(mark, "PATCH", f"{P}/archive/{state.m.id}/streams", 204)
    assert json.loads(x.request_body) == {"removeStream": state.b.stream_id}
    assert client.get_archive(state.m.id).streams == [{"streamId": state.a.stream_id, "hasAudio": True, "hasVideo": True}]
    mark = http.mark()
    e = raised(client.remove_archive_stream, state.k.id, state.a.stream_id)
    error_body(http.one(mark, "PATCH", f"{P}/archive/{state.k.id}/streams", 405), 405)
    assert isinstance(e, RequestError) and e.args[1:] == (405,), name_of(e)
    compat.note = "204; get_archive lists only the stream left; on an auto archive: 405 (RequestError, as for add)"


# ---------------------------------------------------------------------------------------
# Stop, then wait for the outputs.


@sdk(method="stop_archive", operation="Stop an archive", feature="archiving")
def test_stop_archive(client, http, live, compat):
    need("k", "l", "m")
    sleep_until(getattr(state, "layout_at_mono", state.k_started), 2.0)
    from_event = len(state.watcher.events)
    mark = http.mark()
    k = client.stop_archive(state.k.id)
    state.k_stopped = time.monotonic()
    http.one(mark, "POST", f"{P}/archive/{state.k.id}/stop", 200)
    check_archive(k, id=state.k.id, status="stopped", url=None, name="composed ✓")
    assert k.duration >= 3, f"duration under 3 s\n{k.duration}"
    assert raw_answer(http, mark, f"{P}/archive/{state.k.id}/stop")["reason"] == "user initiated"
    # The Archive object's own stop() for the other two: it updates the object in place.
    for which in ("l", "m"):
        a = getattr(state, which)
        a.stop()
        setattr(state, f"{which}_stopped", time.monotonic())
        assert a.status == "stopped", a.attrs()
    for a in (state.k, state.l, state.m):
        state.watcher.until(f"archiveStopped {a.id}", lambda: any(
            e.get("event") == "archiveStopped" and e.get("id") == a.id for e in state.watcher.events[from_event:]))
    compat.note = ("stopped with reason \"user initiated\" (in the JSON: the SDK's Archive has no reason attribute) "
                   "and a duration; also through Archive.stop(); the subscriber printed archiveStopped for each")


@sdk(method="stop_archive", operation="Stop an archive", feature="archiving", check="stop twice, unknown archive")
def test_stop_archive_refused(client, http, live, compat):
    need("k_stopped")
    mark = http.mark()
    e = raised(client.stop_archive, state.k.id)
    error_body(http.one(mark, "POST", f"{P}/archive/{state.k.id}/stop", 409), 409)
    assert isinstance(e, ArchiveError) and str(e) == "Archive is not in started state", name_of(e)
    mark = http.mark()
    e = raised(client.stop_archive, UNKNOWN_ARCHIVE)
    error_body(http.one(mark, "POST", f"{P}/archive/{UNKNOWN_ARCHIVE}/stop", 404), 404)
    assert isinstance(e, NotFoundError) and str(e) == "Archive not found", name_of(e)
    compat.note = ("stopping a stopped archive: 409, ArchiveError \"Archive is not in started state\"; unknown "
                   "archive: 404, NotFoundError \"Archive not found\"")


@sdk(method="get_archive", operation="Get an archive", feature="archiving")
def test_get_archive(server, client, http, live, work, compat):
    need("m_stopped")
    mark = http.mark()
    state.k_done = wait_done(client, state.k.id)
    state.l_done = wait_done(client, state.l.id)
    state.m_done = wait_done(client, state.m.id)
    check_archive(state.k_done, id=state.k.id, status="available", resolution="720x1280", name="composed ✓")
    check_archive(state.l_done, id=state.l.id, status="available", has_video=False)
    check_archive(state.m_done, id=state.m.id, status="available", output_mode=OutputModes.individual,
                  stream_mode="manual")
    files = {}
    for a, name, ctype in ((state.k_done, "k.mp4", "video/mp4"), (state.l_done, "l.mp4", "video/mp4"),
                           (state.m_done, "m.zip", "application/zip")):
        raw = raw_answer(http, mark, f"{P}/archive/{a.id}")
        assert a.url.startswith(f"{server.base_url}/"), a.url
        path = os.path.join(work, name)
        data, got_type = download(a.url, path)
        assert len(data) == a.size, f"size of {a.id}"
        assert hashlib.sha256(data).hexdigest() == raw["sha256sum"], f"sha256sum of {a.id}"
        assert got_type == ctype
        files[a.id] = (path, data)
    state.files = files
    tampered = re.sub(r"sig=([0-9a-f])", lambda m: "sig=" + ("1" if m.group(1) == "0" else "0"), state.k_done.url)
    assert status_of(tampered) == 403
    e = raised(client.get_archive, UNKNOWN_ARCHIVE)
    assert isinstance(e, NotFoundError) and str(e) == "Archive not found", name_of(e)
    compat.note = ("polled to \"available\" for all three; the Archive's attributes present "
                   "and typed; the url downloads a file of the given size and sha256sum (sha256sum is in the JSON: "
                   "the SDK's Archive has no attribute for it); a tampered URL: 403; unknown archive: NotFoundError")


# ---------------------------------------------------------------------------------------
# The files.


@sdk(method="start_archive", operation="Start an archive", feature="archiving", check="composed output")
def test_composed_output(compat):
    need("files")
    path, _ = state.files[state.k.id]
    probe = ffprobe(path)
    assert codecs(probe) == ["aac", "h264"], probe["streams"]
    v = stream_of(probe, "video")
    assert (v["width"], v["height"]) == (720, 1280)
    assert stream_of(probe, "audio")["sample_rate"] == "48000"
    d = float(probe["format"]["duration"])
    wall = state.k_stopped - state.k_started
    assert abs(d - wall) < 1.0, f"the file is not as long as the time recorded (±1 s)\nfile {d} s, recorded for {wall} s"
    decodes_cleanly(path)
    l_probe = ffprobe(state.files[state.l.id][0])
    assert codecs(l_probe) == ["aac"], f"has_video False: {l_probe['streams']}"
    compat.note = ("composed: H.264 720x1280 + AAC 48 kHz, as long as the time recorded (±1 s), decodes cleanly; "
                   "has_video False: AAC only")


@sdk(method="start_archive", operation="Start an archive", feature="archiving", check="max_bitrate")
def test_max_bitrate(compat):
    need("files")
    v = stream_of(ffprobe(state.files[state.k.id][0]), "video")
    rate = int(v.get("bit_rate") or 0)
    assert rate > 0, v
    assert rate <= MAX_BITRATE * 1.25, (f"max_bitrate {MAX_BITRATE} was accepted and echoed, but the composed video's "
                                        f"bit rate is over 1.25 times that\n{rate} bit/s")
    compat.note = f"max_bitrate {MAX_BITRATE}: the composed video's bit rate is at most 1.25 times that"


@sdk(method="set_archive_layout", operation="Set an archive's layout", feature="archiving", check="the change in the file")
def test_layout_change_in_the_file(compat):
    need("files", "layout_at")
    path, _ = state.files[state.k.id]
    # The SDK's created_at has whole seconds (it floors createdAt); the JSON has milliseconds.
    at = state.layout_at - state.k_created_ms / 1000
    # bestFit puts two 4:3 streams side by side across the middle of the 720x1280 frame and
    # leaves its top black; the stylesheet fills the whole frame.
    top_left = (0.0, 0.0, 0.25, 0.25)
    before = grey_mean(path, max(0.5, at - 0.8), top_left)
    # After: near the end of the file (the archive stops 2 s after the change). A frame
    # only 1 s after the client's clock said the change was made was once still bestFit
    # on CI: where the file's time starts against createdAt is not that exact.
    end = float(ffprobe(path)["format"]["duration"])
    after = grey_mean(path, max(at + 1.0, end - 0.4), top_left)
    assert before < 10, ("the file shows the new layout (custom) before it was set: the whole archive has the last "
                         f"layout\nchange at {at:.1f} s; the top left before it is not black ({before:.0f})")
    assert after > 30, ("the file does not show the new layout (custom) after it was set"
                        f"\nchange at {at:.1f} s, file of {end:.1f} s; the top left near its end is black ({after:.0f})")
    compat.note = "the file shows bestFit before the change and the custom stylesheet's layout after it"


@sdk(method="start_archive", operation="Start an archive", feature="archiving", check="individual output")
def test_individual_output(work, compat):
    need("files")
    path, data = state.files[state.m.id]
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None
    names = z.namelist()
    assert f"{state.m.id}.json" in names, names
    manifest = json.loads(z.read(f"{state.m.id}.json"))
    assert manifest["id"] == state.m.id
    assert manifest["sessionId"] == state.sid
    assert manifest["name"] == "individual"
    assert str(manifest["partnerId"]) == API_KEY
    assert isinstance(manifest["createdAt"], int)
    by_stream = {}
    for f in manifest["files"]:
        assert f["filename"] in names, f"{f['filename']} is in the manifest but not in the ZIP ({names})"
        assert f["filename"].endswith(".webm"), f
        assert z.getinfo(f["filename"]).file_size == f["size"]
        out = os.path.join(work, os.path.basename(f["filename"]))
        with open(out, "wb") as o:
            o.write(z.read(f["filename"]))
        decodes_cleanly(out)
        by_stream[f["streamId"]] = dict(f, probe=ffprobe(out))
    assert sorted(by_stream) == sorted([state.a.stream_id, state.b.stream_id]), manifest["files"]
    state.by_stream = by_stream
    compat.note = (f"a ZIP of {len(names)} entries: <archiveId>.json (id, sessionId, name, partnerId, createdAt, "
                   "files) and one .webm per stream, each decoding cleanly")


@sdk(method="add_archive_stream", operation="Add a stream to an archive", feature="archiving", check="the files")
def test_added_streams_in_the_files(compat):
    need("by_stream")
    a = state.by_stream[state.a.stream_id]
    b = state.by_stream[state.b.stream_id]
    assert codecs(a["probe"]) == ["opus", "vp8"]
    assert codecs(b["probe"]) == ["opus"], "added with has_video False"
    wall = state.m_stopped - state.a_added
    d = float(a["probe"]["format"]["duration"])
    assert abs(d - wall) < 1.0, ("the file of the stream added first is not as long as the time it was in the archive "
                                 f"(±1 s)\n{d} s in the file, in the archive for {wall} s")
    compat.note = ("the stream added with audio and video: VP8 + Opus for the time it was in (±1 s); the one "
                   "added with has_video False: Opus only")


@sdk(method="remove_archive_stream", operation="Remove a stream from an archive", feature="archiving", check="the files")
def test_removed_stream_in_the_files(compat):
    need("by_stream", "b_removed")
    b = state.by_stream[state.b.stream_id]
    wall = state.b_removed - state.b_added
    d = float(b["probe"]["format"]["duration"])
    assert abs(d - wall) < 1.0, ("the removed stream's file does not end when it was removed (±1 s)"
                                 f"\n{d} s in the file, in the archive for {wall} s")
    offsets = b["stopTimeOffset"] - b["startTimeOffset"]
    assert offsets < (state.m_stopped - state.m_started) * 1000 - 1000, ("the manifest's offsets of the removed stream "
                                                                         f"span the whole archive\n{offsets} ms")
    compat.note = "the removed stream's file and its manifest offsets end when it was removed (±1 s)"


# ---------------------------------------------------------------------------------------
# List and delete.


@sdk(method="list_archives", operation="List archives", feature="archiving")
def test_list_archives(client, http, live, compat):
    need("m_done")
    newest = [state.m.id, state.l.id, state.k.id]
    mark = http.mark()
    listed = client.list_archives(session_id=state.sid)
    x = http.one(mark, "GET", f"{P}/archive", 200)
    assert x.url.endswith(f"?sessionId={state.sid}"), x.url
    assert isinstance(listed, ArchiveList)
    assert listed.count == 3 and len(listed) == 3
    assert [a.id for a in listed] == newest, "newest first"
    for a in listed:
        check_archive(a, status="available")
    mark = http.mark()
    page = client.list_archives(offset=1, count=1, session_id=state.sid)
    x = http.one(mark, "GET", f"{P}/archive", 200)
    assert x.url.endswith(f"?offset=1&count=1&sessionId={state.sid}"), x.url
    assert page.count == 3, "count is the total, not the page"
    assert [a.id for a in page] == [state.l.id]
    first = client.list_archives(offset=0, count=2, session_id=state.sid)
    assert [a.id for a in first] == newest[:2]
    other = client.create_session(media_mode=MediaModes.routed).session_id
    none = client.list_archives(session_id=other)
    assert (none.count, len(none)) == (0, 0)
    everything = client.list_archives()
    assert everything.count >= 3 and set(newest) <= {a.id for a in everything}
    compat.note = ("session_id: the three archives, newest first, as Archive objects, count 3; offset 1 count 1: the "
                   "middle one, count still 3; offset 0 count 2: the newest two; another session: none; no options: "
                   "every archive")


@sdk(method="delete_archive", operation="Delete an archive", feature="archiving")
def test_delete_archive(client, http, live, compat):
    need("l_done")
    mark = http.mark()
    assert client.delete_archive(state.l.id) is None
    http.one(mark, "DELETE", f"{P}/archive/{state.l.id}", 204)
    e = raised(client.get_archive, state.l.id)
    assert isinstance(e, NotFoundError), name_of(e)
    assert status_of(state.l_done.url) != 200, "the deleted archive still downloads"
    listed = client.list_archives(session_id=state.sid)
    assert [a.id for a in listed] == [state.m.id, state.k.id] and listed.count == 2
    # The Archive object's own delete().
    state.m_done.delete()
    assert isinstance(raised(client.get_archive, state.m.id), NotFoundError)
    e = raised(client.delete_archive, state.l.id)
    assert isinstance(e, NotFoundError) and str(e) == "Archive not found", name_of(e)
    compat.note = ("204; then get_archive: NotFoundError, the URL no longer downloads, gone from the list (also "
                   "through Archive.delete()); deleting again: 404, NotFoundError \"Archive not found\"")


# ---------------------------------------------------------------------------------------
# archive_mode=always.


@sdk(method="create_session", operation="Archive a session automatically (archiveMode always)", feature="archiving")
def test_always_archived_session(server, client, http, media, compat):
    mark = http.mark()
    session = client.create_session(media_mode=MediaModes.routed, archive_mode=ArchiveModes.always,
                                     archive_name="automatic", archive_resolution="480x640")
    x = http.one(mark, "POST", "/session/create", 200)
    assert "archiveMode=always" in x.request_body, x.request_body
    assert session.archive_mode == ArchiveModes.always
    code, shown, err = server.session_show(session.session_id)
    assert code == 0, err
    assert shown["archiveMode"] == "always", shown
    sid = session.session_id
    state.always_sid = sid
    watcher = subscriber(server, client.generate_token(sid, role=Roles.subscriber), "always watcher")
    assert client.list_archives(session_id=sid).count == 0, "an archive started before anyone published"
    pub = publisher(server, client.generate_token(sid), media, name="auto")
    ev = watcher.wait_event("archiveStarted")
    listed = client.list_archives(session_id=sid)
    assert len(listed) == 1, listed.items
    a = listed.items[0]
    assert a.id == ev["id"]
    assert (a.session_id, a.status, a.output_mode) == (sid, "started", OutputModes.composed)
    assert a.name == "automatic" and ev["name"] == "automatic", "the session's archive_name"
    assert a.resolution == "480x640", "the session's archive_resolution"
    assert [s["streamId"] for s in a.streams] == [pub.stream_id]
    # It stops by itself when the session ends, not through the API.
    mark = http.mark()
    e = raised(client.stop_archive, a.id)
    error_body(http.one(mark, "POST", f"{P}/archive/{a.id}/stop", 409), 409)
    assert isinstance(e, ArchiveError), name_of(e)
    state.always_archive = a
    compat.note = ("create_session archive_mode always (with archive_name and archive_resolution): stored as always; "
                   "nothing recorded until a client publishes, then a composed archive of the stream starts by "
                   "itself with that name and resolution, and the subscriber prints archiveStarted; stop_archive on "
                   "it: 409 ArchiveError")


@sdk(method="start_archive", operation="Archive a session automatically (archiveMode always)", feature="archiving",
     check="a tagged archive beside the automatic one")
def test_tagged_archive_beside_the_automatic_one(client, http, compat):
    need("always_archive")
    # The SDK's docs for multi_archive_tag: "You must also set this option when manually
    # starting an archive that is automatically archived."
    mark = http.mark()
    try:
        a = client.start_archive(state.always_sid, multi_archive_tag="manual-beside-auto")
    except OpenTokException as e:
        xs = http.since(mark)
        said = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|[12]_[A-Za-z0-9_-]{40,}", "<id>", xs[-1].response_body if xs else "")
        pytest.fail(f"a manual archive with a multiArchiveTag in an archiveMode=always session was refused: "
                    f"{xs[-1].status if xs else '?'} {said} ({type(e).__name__})")
    assert a.status == "started"
    client.stop_archive(a.id)
    compat.note = "a manual archive with a multi_archive_tag starts beside the automatic one, and stops"


@sdk(method="delete_archive", operation="Delete an archive", feature="archiving", check="a started archive")
def test_delete_started_archive(client, http, compat):
    need("always_archive")
    a = state.always_archive
    mark = http.mark()
    e = raised(client.delete_archive, a.id)
    error_body(http.one(mark, "DELETE", f"{P}/archive/{a.id}", 409), 409)
    assert isinstance(e, RequestError) and e.args[1:] == (409,), name_of(e)
    assert client.get_archive(a.id).status == "started"
    compat.note = ("a started archive: 409 (the SDK raises RequestError('An unexpected error occurred', 409)), "
                   "and it keeps recording")


@sdk(method="get_archive", operation="Get an archive", feature="archiving", check="paused while nobody publishes")
def test_paused_while_nobody_publishes(client, server, media, compat):
    sid = client.create_session(media_mode=MediaModes.routed).session_id
    watcher = subscriber(server, client.generate_token(sid, role=Roles.subscriber), "paused watcher")

    def status_is(archive_id, want):
        deadline = time.monotonic() + 10
        while True:
            a = client.get_archive(archive_id)
            if a.status == want:
                return a
            assert time.monotonic() < deadline, f"archive still {a.status}, not {want}, after 10 s"
            time.sleep(0.1)

    a = client.start_archive(sid, output_mode=OutputModes.individual)
    assert a.status == "started", "the start's answer (the archive is paused next)"
    watcher.wait_event("archiveStarted", lambda e: e["id"] == a.id)
    status_is(a.id, "paused")
    pub = publisher(server, client.generate_token(sid), media, name="late")
    status_is(a.id, "started")
    pub.stop()
    assert status_is(a.id, "paused").url is None
    assert client.stop_archive(a.id).status == "stopped"
    done = wait_done(client, a.id)
    assert done.status == "available", done.reason
    compat.note = ("start_archive while nobody publishes answers started, then get_archive reads paused; "
                   "started while a client publishes, paused again when it leaves; stop_archive stops a "
                   "paused archive, which becomes available")


def test_no_archive_call_got_a_5xx(http):
    bad = [x.line() for x in http.exchanges if x.status >= 500]
    assert bad == []
