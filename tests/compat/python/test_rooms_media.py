"""Live compatibility: the official PyPI `telnyx` SDK (4.x) driving Parlor's Rooms recordings,
compositions and webhooks (`/v2`, docs/rooms.md). A room with enable_recording and a
webhook_event_url (an http.server thread in this module) gets three native publishers
(`parlor client publish --session ROOM_ID --token JOIN_TOKEN`), two with audio and video and
one with video only, for a few seconds; `rooms.sessions.actions.end` ends the session. Then:
room_recordings.list (filters, auto-pagination), retrieve, the download_url (ffprobe; a
tampered signature 403), room_compositions.create / retrieve (polled to completed) / list /
delete with the MP4 checked by ffprobe, the 422 / 404 cases, room_recordings.delete and
delete_bulk; and every webhook received, verified with the SDK's `webhooks.unwrap` and the key
from `GET /v2/parlor/webhook_public_key`. Every wait polls (the only sleep is the few seconds
of recording). Results go with the other Rooms tests' (`@records`, rooms_helpers.py)."""
import base64
import json
import re
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import telnyx

from live_helpers import make_media, remove_media, running_clients
from rooms_helpers import (
    UUID_RE,
    Recorder,
    credential,
    expect_api_error,
    iso,
    iso_time,
    join_publisher,
    join_subscriber,
    poll,
    random_uuid,
    records,
    telnyx_client,
    unique_name,
    utc_date,
)

pytest_plugins = ("rooms_helpers",)

RECORDINGS = "recordings"
COMPOSITIONS = "compositions"
WEBHOOKS = "webhooks"

shared = {}
# Every webhook request received: {"path", "headers", "body" (the raw text)}.
hooks = []


def need(key, what):
    assert key in shared, f"setup: {what} (made by an earlier test) is missing"
    return shared[key]


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8")
        hooks.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hook_base():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def log():
    return Recorder()


@pytest.fixture(scope="module")
def tx(server, log):
    return telnyx_client(server, log)


@pytest.fixture(scope="module")
def media():
    m = make_media()
    yield m
    remove_media(m[0])


@pytest.fixture(scope="module")
def tmp():
    with tempfile.TemporaryDirectory(prefix="parlor-compat-rooms-media-") as d:
        yield Path(d)


@pytest.fixture(scope="module", autouse=True)
def _stop_all_clients():
    yield
    for c in list(running_clients()):
        c.stop()


# --- helpers --------------------------------------------------------------------------


def join_token(tx, room_id):
    return tx.rooms.actions.generate_join_client_token(room_id).data.token


def active_session_of(tx, room_id):
    return poll(f"room {room_id} to get an active session", lambda: tx.rooms.retrieve(room_id).data.active_session_id)


def recordings_of(tx, **filt):
    return list(tx.room_recordings.list(filter=filt))


def ids(xs):
    return sorted(x.id for x in xs)


def download(url):
    r = httpx.get(url, timeout=15.0)
    return r.status_code, r.headers.get("content-type", ""), r.content


def tampered(url):
    parts = urlsplit(url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    assert any(k == "sig" for k, _ in q), f"no sig in {url}"
    q = [(k, (v[:-1] + ("B" if v[-1] == "A" else "A")) if k == "sig" else v) for k, v in q]
    return urlunsplit(parts._replace(query=urlencode(q)))


def ffprobe(tmp, data, name):
    f = tmp / name
    f.write_bytes(data)
    r = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(f)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"ffprobe {name}: {r.stderr}"
    return json.loads(r.stdout)


def check_recording(r):
    assert re.match(UUID_RE, r.id), r.id
    assert r.record_type == "room_recording"
    assert r.type in ("audio", "video")
    assert r.status in ("processing", "completed")
    ts(r.started_at, "recording.started_at")
    if r.status == "completed":
        ts(r.ended_at, "recording.ended_at")
        ts(r.completed_at, "recording.completed_at")
        assert isinstance(r.duration_secs, (int, float)) and r.duration_secs > 0, r.duration_secs
        assert isinstance(r.size_mb, (int, float)) and r.size_mb > 0, r.size_mb
        assert r.codec == ("opus" if r.type == "audio" else "vp8")
        assert re.match(r"^https?://.*[?&]sig=", r.download_url), r.download_url


def ts(v, what="timestamp"):
    """A timestamp of an SDK model (the SDK parses them into aware datetimes) → epoch seconds."""
    if isinstance(v, str):
        return iso_time(v, what)
    assert isinstance(v, datetime) and v.tzinfo is not None, f"{what}: {v!r}"
    return v.timestamp()


# --- the recorded session -------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded(server, tx, media, hook_base):
    """A room with recording and webhooks: publishers A and B (audio + video) and C (video
    only) for a few seconds, then actions.end; once every recording completed."""
    t0 = time.time()
    room = tx.rooms.create(unique_name=unique_name("recorded"), enable_recording=True,
                           webhook_event_url=f"{hook_base}/rec").data
    assert room.enable_recording is True
    a = join_publisher(server, room.id, join_token(tx, room.id), media, label="A")
    b = join_publisher(server, room.id, join_token(tx, room.id), media, label="B")
    c = join_publisher(server, room.id, join_token(tx, room.id), media, label="C", audio=False)
    sid = active_session_of(tx, room.id)
    poll("five recordings to start", lambda: len(recordings_of(tx, session_id=sid)) == 5, timeout=10)
    time.sleep(2.5)  # the seconds recorded
    assert tx.rooms.sessions.actions.end(sid).data.result == "ok"
    for p in (a, b, c):
        p.wait_exit()

    def done():
        xs = recordings_of(tx, session_id=sid)
        return xs if len(xs) == 5 and all(x.status == "completed" for x in xs) else None

    recs = poll("every recording to complete", done, timeout=30, interval=0.25)
    return {"room": room, "sid": sid, "pubs": {"A": a, "B": b, "C": c}, "recs": recs, "t0": t0}


# --- recordings -----------------------------------------------------------------------


@records("room_recordings.list", "List recordings (filters)", RECORDINGS)
def test_recordings_list_filters(tx, log, recorded, compat):
    room, sid, pubs, recs, t0 = (recorded[k] for k in ("room", "sid", "pubs", "recs", "t0"))
    for r in recs:
        check_recording(r)
        assert r.room_id == room.id and r.session_id == sid
    by_pid = lambda pid: [r for r in recs if r.participant_id == pid]  # noqa: E731
    assert sorted(r.type for r in by_pid(pubs["A"].participant_id)) == ["audio", "video"]
    assert sorted(r.type for r in by_pid(pubs["B"].participant_id)) == ["audio", "video"]
    assert [r.type for r in by_pid(pubs["C"].participant_id)] == ["video"]

    mark = log.mark()
    page = tx.room_recordings.list(filter={"session_id": sid, "participant_id": pubs["A"].participant_id})
    x = log.one(mark, "GET", "/v2/room_recordings", 200)
    assert "filter[session_id]=" in x.query
    assert ids(page.data) == ids(by_pid(pubs["A"].participant_id))
    assert x.json["meta"] == {"page_number": 1, "page_size": 20, "total_pages": 1, "total_results": 2}
    assert ids(recordings_of(tx, session_id=sid, type="audio")) == ids(r for r in recs if r.type == "audio")
    assert len(recordings_of(tx, session_id=sid, type="video")) == 3
    assert ids(recordings_of(tx, session_id=sid, status="completed")) == ids(recs)
    assert recordings_of(tx, session_id=sid, status="processing") == []
    assert ids(recordings_of(tx, session_id=sid, date_started_at={"gte": iso(t0 - 60)})) == ids(recs)
    assert recordings_of(tx, session_id=sid, date_started_at={"gte": iso(time.time() + 3600)}) == []
    started = ts(recs[0].started_at)
    assert ids(recordings_of(tx, session_id=sid, date_started_at={"eq": utc_date(started)})) == ids(recs)
    assert recordings_of(tx, session_id=random_uuid()) == []
    compat.note = ("three publishers (two with audio and video, one video only) of a recording room, session ended with "
                   "actions.end: five recordings, each completed with codec opus/vp8, duration_secs, size_mb, "
                   "download_url; filter[session_id] + [participant_id] (meta total_results 2), [type] audio/video, "
                   "[status] completed/processing, [date_started_at][gte] (past: all, future: none), [eq] a date; an "
                   "unknown session: none")


@records("room_recordings.list", "Recordings auto-pagination", RECORDINGS)
def test_recordings_auto_pagination(tx, log, recorded, compat):
    sid, recs = recorded["sid"], recorded["recs"]
    mark = log.mark()
    first = tx.room_recordings.list(filter={"session_id": sid}, page_size=2)
    x = log.one(mark, "GET", "/v2/room_recordings", 200)
    assert x.json["meta"] == {"page_number": 1, "page_size": 2, "total_pages": 3, "total_results": 5}
    assert len(first.data) == 2
    mark = log.mark()
    every = list(tx.room_recordings.list(filter={"session_id": sid}, page_size=2))
    pages = [y for y in log.since(mark) if y.path == "/v2/room_recordings"]
    assert len(pages) == 3, "\n".join(p.query for p in pages)
    assert "page[number]=3" in pages[2].query
    assert len(every) == 5 and ids(every) == ids(recs)
    compat.note = ("page_size 2 with filter[session_id]: meta {page_number 1, page_size 2, total_pages 3, "
                   "total_results 5}; iterating the page requests pages 1-3 and yields each of the five recordings once")


@records("room_recordings.retrieve", "Retrieve a recording", RECORDINGS)
def test_recordings_retrieve(tx, log, recorded, compat):
    for r in recorded["recs"]:
        mark = log.mark()
        got = tx.room_recordings.retrieve(r.id).data
        log.one(mark, "GET", f"/v2/room_recordings/{r.id}", 200)
        check_recording(got)
        a = got.to_dict()
        b = r.to_dict()
        a.pop("download_url")
        b.pop("download_url")
        assert a == b
    expect_api_error(log, lambda: tx.room_recordings.retrieve(random_uuid()), [404], code="10005")
    compat.note = "each of the five reads back as listed (download_url freshly signed); an unknown id: NotFoundError 404 10005"


@records("room_recordings.retrieve", "Download a recording (download_url)", RECORDINGS)
def test_recordings_download(tx, recorded, tmp, compat):
    for kind in ("audio", "video"):
        r = tx.room_recordings.retrieve(next(x for x in recorded["recs"] if x.type == kind).id).data
        status, ctype, data = download(r.download_url)
        assert status == 200, f"{kind}: {data[:200]!r}"
        assert data
        assert re.match(r"^audio/webm" if kind == "audio" else r"^video/(webm|x-matroska)", ctype), ctype
        assert abs(len(data) / 1e6 - r.size_mb) < 0.01, (len(data), r.size_mb)
        probe = ffprobe(tmp, data, f"{r.id}.webm")
        assert [f"{s['codec_type']}/{s['codec_name']}" for s in probe["streams"]] == \
            ["audio/opus" if kind == "audio" else "video/vp8"]
        assert download(tampered(r.download_url))[0] == 403
    compat.note = ("audio: 200 audio/webm, ffprobe one opus stream; video: 200 video/webm, one vp8 stream; sizes match "
                   "size_mb; a changed sig: 403")


# --- compositions ---------------------------------------------------------------------


@records("room_compositions.create", "Create a composition", COMPOSITIONS)
def test_compositions_create(tx, log, recorded, compat):
    sid, pubs, recs, room = recorded["sid"], recorded["pubs"], recorded["recs"], recorded["room"]
    video_a = next(r for r in recs if r.type == "video" and r.participant_id == pubs["A"].participant_id)
    body = {
        "session_id": sid,
        "format": "mp4",
        "resolution": "320x240",
        "video_layout": {
            "grid": {"x_pos": 0, "y_pos": 0, "z_pos": 0, "width": 320, "height": 240, "max_columns": 2, "max_rows": 2,
                     "video_sources": ["*"]},
            "speaker": {"x_pos": 220, "y_pos": 10, "z_pos": 10, "width": 80, "height": 60, "max_columns": 1,
                        "max_rows": 1, "video_sources": [video_a.id]},
        },
    }
    mark = log.mark()
    c = tx.room_compositions.create(**body).data
    x = log.one(mark, "POST", "/v2/room_compositions", 202)
    assert json.loads(x.request_body) == body
    assert re.match(UUID_RE, c.id)
    assert c.record_type == "composition"
    assert c.status == "enqueued"
    assert (c.session_id, c.room_id, c.resolution, c.format) == (sid, room.id, "320x240", "mp4")
    assert sorted(c.video_layout) == ["grid", "speaker"]
    assert c.video_layout["speaker"].video_sources == [video_a.id]
    shared["composition"] = c
    compat.note = ("POST /v2/room_compositions {session_id, format mp4, resolution 320x240, video_layout: grid [\"*\"] + "
                   "speaker [a video recording id]} 202: status enqueued, record_type composition, the fields as sent")


@records("room_compositions.retrieve", "Retrieve a composition", COMPOSITIONS)
def test_compositions_retrieve(tx, compat):
    c0 = need("composition", "the composition create made")
    seen = set()

    def completed():
        v = tx.room_compositions.retrieve(c0.id).data
        seen.add(v.status)
        assert v.status != "failed", v
        return v if v.status == "completed" else None

    c = poll("the composition to complete", completed, timeout=45, interval=0.25)
    assert seen <= {"enqueued", "processing", "completed"}, seen
    assert c.id == c0.id
    assert isinstance(c.duration_secs, (int, float)) and c.duration_secs > 0
    assert isinstance(c.size_mb, (int, float)) and c.size_mb > 0
    ts(c.completed_at, "completed_at")
    assert re.search(r"[?&]sig=", c.download_url)
    shared["completed"] = c
    compat.note = ("retrieve polled: enqueued / processing, then completed with duration_secs, size_mb, completed_at "
                   "and a signed download_url")


@records("room_compositions.retrieve", "Download a composition (download_url)", COMPOSITIONS)
def test_compositions_download(tmp, compat):
    c = need("completed", "the completed composition")
    status, ctype, data = download(c.download_url)
    assert status == 200 and ctype.startswith("video/mp4") and data, (status, ctype)
    probe = ffprobe(tmp, data, f"{c.id}.mp4")
    v = next((s for s in probe["streams"] if s["codec_type"] == "video"), None)
    assert v, probe["streams"]
    assert v["codec_name"] == "h264"
    assert (v["width"], v["height"]) == (320, 240)
    assert any(s["codec_type"] == "audio" and s["codec_name"] == "aac" for s in probe["streams"]), "no AAC audio"
    assert download(tampered(c.download_url))[0] == 403
    compat.note = "200 video/mp4; ffprobe: H.264 320x240 and AAC; a changed sig: 403"


@records("room_compositions.list", "List compositions", COMPOSITIONS)
def test_compositions_list(tx, log, compat):
    c = need("completed", "the completed composition")
    mark = log.mark()
    page = tx.room_compositions.list(filter={"session_id": c.session_id})
    x = log.one(mark, "GET", "/v2/room_compositions", 200)
    assert [y.id for y in page.data] == [c.id]
    assert x.json["meta"] == {"page_number": 1, "page_size": 20, "total_pages": 1, "total_results": 1}
    assert [y.id for y in tx.room_compositions.list(filter={"session_id": c.session_id, "status": "completed"})] == [c.id]
    assert list(tx.room_compositions.list(filter={"session_id": c.session_id, "status": "enqueued"})) == []
    assert list(tx.room_compositions.list(filter={"session_id": random_uuid()})) == []
    compat.note = ("filter[session_id]: the one composition (meta total_results 1); + [status] completed: it, enqueued: "
                   "none; an unknown session: none")


@records("room_compositions.create / room_compositions.retrieve / room_compositions.delete",
         "Invalid compositions: 422, unknown ids: 404", COMPOSITIONS)
def test_compositions_errors(server, tx, log, recorded, compat):
    sid = recorded["sid"]
    audio = next(r for r in recorded["recs"] if r.type == "audio")

    def region(**extra):
        return {"x_pos": 0, "y_pos": 0, "z_pos": 0, "width": 160, "height": 120, "video_sources": ["*"], **extra}

    room = tx.rooms.create(unique_name=unique_name("live")).data
    live = join_subscriber(server, room.id, join_token(tx, room.id), "live")
    live_sid = active_session_of(tx, room.id)
    cases = [
        ("resolution over the area", {"session_id": sid, "resolution": "1280x1280"}, "/resolution"),
        ("three regions", {"session_id": sid, "resolution": "320x240",
                           "video_layout": {"a": region(), "b": region(), "c": region()}}, "/video_layout"),
        ("z_pos 100", {"session_id": sid, "resolution": "320x240", "video_layout": {"a": region(z_pos=100)}},
         "/video_layout/a/z_pos"),
        ("an unknown recording id", {"session_id": sid, "resolution": "320x240",
                                     "video_layout": {"a": region(video_sources=[random_uuid()])}},
         "/video_layout/a/video_sources"),
        ("an audio recording as a video source", {"session_id": sid, "resolution": "320x240",
                                                  "video_layout": {"a": region(video_sources=[audio.id])}},
         "/video_layout/a/video_sources"),
        ("a live session", {"session_id": live_sid, "resolution": "320x240"}, "/session_id"),
        ("an unknown session", {"session_id": random_uuid(), "resolution": "320x240"}, "/session_id"),
    ]
    failed = []
    for label, body, pointer in cases:
        try:
            expect_api_error(log, lambda: tx.room_compositions.create(**body), [422], pointer=pointer)
        except AssertionError as e:
            failed.append(f"{label}: {str(e).splitlines()[0]}")
    live.stop()
    assert failed == [], "\n".join(failed)
    expect_api_error(log, lambda: tx.room_compositions.retrieve(random_uuid()), [404], code="10005")
    expect_api_error(log, lambda: tx.room_compositions.delete(random_uuid()), [404], code="10005")
    compat.note = ("UnprocessableEntityError 422 {errors} with source.pointer for: resolution 1280x1280 (/resolution), "
                   "three regions (/video_layout), z_pos 100, an unknown recording id and an audio recording in "
                   "video_sources, a live session and an unknown one (/session_id); retrieve and delete of an unknown "
                   "id: NotFoundError 404 10005")


@records("room_compositions.delete", "Delete a composition", COMPOSITIONS)
def test_compositions_delete(tx, log, compat):
    c = need("completed", "the completed composition")
    mark = log.mark()
    assert tx.room_compositions.delete(c.id) is None
    log.one(mark, "DELETE", f"/v2/room_compositions/{c.id}", 204)
    expect_api_error(log, lambda: tx.room_compositions.retrieve(c.id), [404], code="10005")
    assert list(tx.room_compositions.list(filter={"session_id": c.session_id})) == []
    assert download(c.download_url)[0] in (403, 404)
    compat.note = ("DELETE 204 (the SDK returns None); then retrieve NotFoundError 404 10005, the list is empty, and its "
                   "download_url answers 403/404")


# --- recording deletes (after the composition, which used them) -----------------------


@records("room_recordings.delete", "Delete a recording", RECORDINGS)
def test_recordings_delete(tx, log, recorded, compat):
    sid, pubs, recs = recorded["sid"], recorded["pubs"], recorded["recs"]
    r = next(x for x in recs if x.participant_id == pubs["C"].participant_id)
    url = tx.room_recordings.retrieve(r.id).data.download_url
    mark = log.mark()
    assert tx.room_recordings.delete(r.id) is None
    log.one(mark, "DELETE", f"/v2/room_recordings/{r.id}", 204)
    expect_api_error(log, lambda: tx.room_recordings.retrieve(r.id), [404], code="10005")
    assert ids(recordings_of(tx, session_id=sid)) == ids(x for x in recs if x.id != r.id)
    assert download(url)[0] in (403, 404)
    expect_api_error(log, lambda: tx.room_recordings.delete(random_uuid()), [404], code="10005")
    compat.note = ("DELETE /v2/room_recordings/{id} 204 (the SDK returns None): retrieve then NotFoundError 404 10005, "
                   "the session lists the other four, its download_url answers 403/404; an unknown id: 404 10005")


@records("room_recordings.delete_bulk", "Delete recordings in bulk", RECORDINGS)
def test_recordings_delete_bulk(tx, log, recorded, compat):
    sid, pubs, recs = recorded["sid"], recorded["pubs"], recorded["recs"]
    a, b = pubs["A"].participant_id, pubs["B"].participant_id
    before = recordings_of(tx, session_id=sid)
    mine = [x for x in before if x.participant_id == a]
    assert len(mine) == 2
    mark = log.mark()
    r = tx.room_recordings.delete_bulk(filter={"session_id": sid, "participant_id": a})
    x = log.one(mark, "DELETE", "/v2/room_recordings", 200)
    assert "filter[participant_id]=" in x.query
    assert x.json == {"data": {"room_recordings": 2}}
    assert r.data.room_recordings == 2
    assert ids(recordings_of(tx, session_id=sid)) == ids(y for y in before if y.participant_id != a)
    for y in mine:
        expect_api_error(log, lambda: tx.room_recordings.retrieve(y.id), [404])
    assert tx.room_recordings.delete_bulk(filter={"session_id": random_uuid()}).data.room_recordings == 0
    n_audio_b = len([y for y in recs if y.type == "audio" and y.participant_id == b])
    assert tx.room_recordings.delete_bulk(filter={"session_id": sid, "type": "audio"}).data.room_recordings == n_audio_b
    assert [("B" if y.participant_id == b else "?", y.type) for y in recordings_of(tx, session_id=sid)] == [("B", "video")]
    compat.note = ("DELETE /v2/room_recordings?filter[session_id]&filter[participant_id] 200 {data: {room_recordings: "
                   "2}}: exactly A's two gone (each 404), the others listed; a filter matching none: 0; then [type] "
                   "audio: 1 (B's), B's video left")


# --- webhooks -------------------------------------------------------------------------


def webhook_key(server):
    if "key" not in shared:
        r = httpx.get(f"{server.base_url}/v2/parlor/webhook_public_key",
                      headers={"Authorization": f"Bearer {credential(server)}"}, timeout=15.0)
        assert r.status_code == 200, r.text
        d = r.json()["data"]
        assert d["algorithm"] == "ed25519"
        assert len(base64.b64decode(d["public_key"])) == 32
        shared["key"] = d["public_key"]
    return shared["key"]


def unwrap_all(server, tx, reqs):
    """The events of `reqs`, each verified with the SDK's unwrap (then read as JSON)."""
    key = webhook_key(server)
    out = []
    for h in reqs:
        ev = tx.webhooks.unwrap(h["body"], headers=h["headers"], key=key)
        assert ev is not None
        body = json.loads(h["body"])
        assert body["data"]["record_type"] == "event"
        assert re.match(UUID_RE, body["data"]["id"])
        iso_time(body["data"]["occurred_at"], "occurred_at")
        out.append(body)
    return out


def short(t):
    return t.removeprefix("video.room.")


@records("webhooks.unwrap", "Verify webhooks (unwrap)", WEBHOOKS, check="join and leave")
def test_webhooks_join_leave(server, tx, hook_base, compat):
    room = tx.rooms.create(unique_name=unique_name("hooks"), webhook_event_url=f"{hook_base}/plain").data
    s = join_subscriber(server, room.id, join_token(tx, room.id), "S")
    sid = active_session_of(tx, room.id)
    s.stop()
    mine = lambda: [h for h in hooks if h["path"] == "/plain"]  # noqa: E731
    poll("session.ended to arrive", lambda: any("video.room.session.ended" in h["body"] for h in mine()), timeout=10)
    evs = unwrap_all(server, tx, mine())
    assert [short(e["data"]["event_type"]) for e in evs] == \
        ["session.started", "participant.joined", "participant.left", "session.ended"]
    for e in evs:
        assert e["data"]["payload"]["room_id"] == room.id
        assert e["data"]["payload"]["session_id"] == sid
        assert e["meta"] == {"attempt": 1, "delivered_to": f"{hook_base}/plain"}
    assert evs[1]["data"]["payload"]["participant_id"] == s.participant_id
    assert evs[2]["data"]["payload"]["left_reason"] == "user_initiated"
    assert evs[3]["data"]["payload"]["ended_reason"] == "all_participants_left"
    compat.note = ("a room with webhook_event_url at a receiver in the test, one client joins and leaves: "
                   "session.started, participant.joined, participant.left (user_initiated), session.ended "
                   "(all_participants_left), in that order; each request passes client.webhooks.unwrap(body, "
                   "headers=..., key=...) with the key of GET /v2/parlor/webhook_public_key")


@records("webhooks.unwrap", "Verify webhooks (unwrap)", WEBHOOKS, check="recordings")
def test_webhooks_recorded_session(server, tx, recorded, compat):
    room, sid, pubs, recs = recorded["room"], recorded["sid"], recorded["pubs"], recorded["recs"]
    composed = need("completed", "the completed composition")
    mine = lambda: [h for h in hooks if h["path"] == "/rec"]  # noqa: E731

    def arrived():
        bodies = [h["body"] for h in mine()]
        return (sum("video.room.recording.completed" in b for b in bodies) == 5
                and any("video.room.session.ended" in b for b in bodies)
                and any("video.room.composition.completed" in b for b in bodies))

    poll("the recording and composition events to arrive", arrived, timeout=15)
    evs = unwrap_all(server, tx, mine())
    types = [short(e["data"]["event_type"]) for e in evs]

    def at(kind, pred=lambda p: True):
        return next((i for i, e in enumerate(evs) if short(e["data"]["event_type"]) == kind and pred(e["data"]["payload"])), -1)

    assert types[0] == "session.started", types
    counts = [types.count(k) for k in ("session.started", "participant.joined", "participant.left", "session.ended",
                                       "recording.started", "recording.completed", "composition.completed")]
    assert counts == [1, 3, 3, 1, 5, 5, 1], types
    for e in evs:
        assert e["data"]["payload"]["room_id"] == room.id
        assert e["data"]["payload"]["session_id"] == sid
    for label, p in pubs.items():
        joined = at("participant.joined", lambda x: x["participant_id"] == p.participant_id)
        left = at("participant.left", lambda x: x["participant_id"] == p.participant_id)
        assert 0 <= joined < left < at("session.ended"), (label, types)
        assert evs[left]["data"]["payload"]["left_reason"] == "session_terminated"
    assert evs[at("session.ended")]["data"]["payload"]["ended_reason"] == "ended_via_api"
    for r in recs:
        started = at("recording.started", lambda x: x["recording_id"] == r.id)
        completed = at("recording.completed", lambda x: x["recording_id"] == r.id)
        assert at("participant.joined", lambda x: x["participant_id"] == r.participant_id) < started < completed, \
            (r.type, types)
        assert evs[started]["data"]["payload"]["participant_id"] == r.participant_id
        assert evs[started]["data"]["payload"]["type"] == r.type
        c = evs[completed]["data"]["payload"]
        assert c["codec"] == r.codec
        assert isinstance(c["duration_secs"], (int, float))
        assert re.search(r"[?&]sig=", c["download_url"])
    comp = evs[at("composition.completed")]["data"]["payload"]
    assert comp["composition_id"] == composed.id
    assert re.search(r"[?&]sig=", comp["download_url"])

    # Tampering: the body, the signature, the timestamp, and another key all make unwrap raise.
    h = mine()[0]
    key = webhook_key(server)
    hdr = {k.lower(): v for k, v in h["headers"].items()}
    sig = bytearray(base64.b64decode(hdr["telnyx-signature-ed25519"]))
    sig[0] ^= 1
    other_key = base64.b64encode(bytes([7] * 32)).decode()
    bad = [
        ("a changed body", h["body"].replace('"record_type":"event"', '"record_type":"evenT"'), hdr, key),
        ("a changed signature", h["body"], {**hdr, "telnyx-signature-ed25519": base64.b64encode(bytes(sig)).decode()}, key),
        ("a changed timestamp", h["body"], {**hdr, "telnyx-timestamp": str(int(hdr["telnyx-timestamp"]) - 1)}, key),
        ("another key", h["body"], hdr, other_key),
    ]
    for label, body, headers, k in bad:
        assert (body, headers, k) != (h["body"], hdr, key), f"{label}: nothing changed"
        with pytest.raises((ValueError, telnyx.TelnyxError)):
            tx.webhooks.unwrap(body, headers=headers, key=k)
    compat.note = ("every request to the recording room's URL passes unwrap: session.started first; 3 "
                   "participant.joined, 5 recording.started (each after its participant joined, with participant_id "
                   "and type), every participant.left (session_terminated) before session.ended (ended_via_api), 5 "
                   "recording.completed (codec, duration_secs, download_url), composition.completed (the room's URL: "
                   "the composition has none); a changed body, signature, timestamp or key: unwrap raises")


def test_no_server_errors(log):
    bad = log.server_errors()
    assert bad == [], "\n".join(x.line() for x in bad)
