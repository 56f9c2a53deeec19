"""Live compatibility: the official `opentok` Python SDK controlling live sessions on a real
Parlor server, with native clients (`parlor client subscribe --json` / `publish`) in the
session to check each call's documented effect: signals, force disconnect, force mute (one,
all with exclusions, lifted), listing and getting streams, layout class lists. Results are
recorded to results/python-control.json (see compat_table.py)."""

import json

import pytest
from opentok import MediaModes, Roles
from opentok.exceptions import (
    ForceDisconnectError,
    OpenTokException,
    RequestError,
    SetStreamClassError,
)

from live_helpers import (
    HttpLog,
    error_body,
    make_media,
    marker,
    publisher,
    remove_media,
    running_clients,
    stop_all_clients,
    subscriber,
)
from parlor_helpers import API_KEY, forge_session_id

P = f"/v2/project/{API_KEY}"
sdk = pytest.mark.sdk


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


@pytest.fixture(autouse=True)
def _stop_clients():
    """Stops the clients a test started (not those of module fixtures)."""
    before = running_clients()
    yield
    for c in running_clients() - before:
        c.stop()


def new_session(client):
    return client.create_session(media_mode=MediaModes.routed).session_id


def sub(server, client, sid, label, role=Roles.subscriber):
    return subscriber(server, client.generate_token(sid, role=role), label)


def stream_created(c, stream_id):
    return c.wait_event("streamCreated", lambda e: e["stream"]["streamId"] == stream_id)


def audio_change(stream_id):
    return lambda e: e["stream"]["streamId"] == stream_id and e["changedProperty"] == "hasAudio"


def assert_none_before(client, sid, c, name, pred, what):
    """No event matching `pred` reached `c`: a REST signal as a marker, delivered in order
    after anything sent before it."""
    m = marker()
    client.send_signal(sid, {"type": m, "data": m})
    at = c.wait_event("signal", lambda e: e["type"] == m)
    upto = c.events.index(at)
    bad = [e for e in c.events[:upto] if e.get("event") == name and pred(e)]
    assert bad == [], f"{what}: {bad}"


def raised(fn, *args, **kwargs):
    """Calls the SDK; returns the OpenTokException it raised (fails if none)."""
    with pytest.raises(OpenTokException) as info:
        fn(*args, **kwargs)
    return info.value


def name_of(e):
    return f"{type(e).__name__}{e.args!r}"


# ---------------------------------------------------------------------------------------
# Sessions and tokens (option coverage: test_sessions.py / test_tokens.py / test_connect.py)


@sdk(method="create_session", operation="Create a session", feature="sessions and tokens")
def test_create_session(server, client, http, compat):
    mark = http.mark()
    sid = client.create_session(media_mode=MediaModes.routed).session_id
    http.one(mark, "POST", "/session/create", 200)
    c = subscriber(server, client.generate_token(sid), "subscriber")
    c.stop()
    compat.note = "POST /session/create 200; a live client joins the session (every option: test_sessions.py)"


@sdk(method="generate_token", operation="Generate a client token", feature="sessions and tokens")
def test_generate_token(server, client, compat):
    sid = new_session(client)
    for use_jwt in (True, False):
        data = f"user={'jwt' if use_jwt else 't1'}"
        token = client.generate_token(sid, role=Roles.moderator, data=data, use_jwt=use_jwt)
        c = subscriber(server, token, f"subscriber {data}")
        ev = next(e for e in c.events if e["event"] == "sessionConnected")
        assert ev["connection"]["data"] == data
        c.stop()
    compat.note = "JWT and T1 tokens connect live clients with their connection data (every role and refusal: test_tokens.py / test_connect.py)"


# ---------------------------------------------------------------------------------------
# Signals


@sdk(method="send_signal", operation="Signal every client in a session", feature="signaling")
def test_signal_session(server, client, http, compat):
    sid = new_session(client)
    a = sub(server, client, sid, "subscriber A")
    b = sub(server, client, sid, "subscriber B")
    payload = {"type": "chat", "data": 'hello everyone ✓ {"json": true}'}
    mark = http.mark()
    assert client.send_signal(sid, payload) is None
    x = http.one(mark, "POST", f"{P}/session/{sid}/signal", 204)
    assert json.loads(x.request_body) == payload
    for c in (a, b):
        ev = c.wait_event("signal", lambda e: e["type"] == "chat")
        assert ev["data"] == payload["data"]
        assert ev["from"] is None
    compat.note = "204; both subscribers printed the signal with its type and data, from the server (null)"


@sdk(method="send_signal", operation="Signal every client in a session", feature="signaling", check="bad input")
def test_signal_bad_input(client, http, compat):
    sid = new_session(client)
    # Nobody connected yet: accepted, delivered to nobody.
    client.send_signal(sid, {"type": "nobody", "data": "x"})
    notes = []
    for what, target, payload, statuses in (
        ("unknown session", forge_session_id(sid), {"type": "t", "data": "x"}, (404,)),
        ("data > 8 kB", sid, {"type": "t", "data": "x" * (8 * 1024 + 1)}, (413,)),
        ("type with '!'", sid, {"type": "not allowed!", "data": "x"}, (400,)),
        ("type > 128 chars", sid, {"type": "t" * 129, "data": "x"}, (400, 413)),
    ):
        mark = http.mark()
        e = raised(client.send_signal, target, payload)
        [x] = http.since(mark)
        assert x.status in statuses, x.line()
        error_body(x, x.status)
        notes.append(f"{what}: {x.status} → {name_of(e)}")
    compat.note = "nobody connected: 204; " + "; ".join(notes)


@sdk(method="send_signal", operation="Signal one connection", feature="signaling")
def test_signal_connection(server, client, http, compat):
    sid = new_session(client)
    a = sub(server, client, sid, "subscriber A")
    b = sub(server, client, sid, "subscriber B")
    mark = http.mark()
    client.send_signal(sid, {"type": "private", "data": "for A only"}, a.connection_id)
    http.one(mark, "POST", f"{P}/session/{sid}/connection/{a.connection_id}/signal", 204)
    ev = a.wait_event("signal", lambda e: e["type"] == "private")
    assert ev["data"] == "for A only" and ev["from"] is None
    assert_none_before(client, sid, b, "signal", lambda e: e["type"] == "private",
                       "subscriber B got the signal sent to A")
    compat.note = "204; only the addressed subscriber printed the signal"


@sdk(method="send_signal", operation="Signal one connection", feature="signaling", check="unknown connection")
def test_signal_unknown_connection(server, client, http, compat):
    sid = new_session(client)
    sub(server, client, sid, "subscriber")
    cid = "00000000-0000-4000-8000-000000000000"
    mark = http.mark()
    e = raised(client.send_signal, sid, {"type": "t", "data": "x"}, cid)
    error_body(http.one(mark, "POST", f"{P}/session/{sid}/connection/{cid}/signal", 404), 404)
    # The SDK's 404 branch (SignalingError) sits under `if response:`, which is false for
    # any 4xx, so what surfaces is RequestError(..., 404).
    assert isinstance(e, RequestError) and 404 in e.args, name_of(e)
    compat.note = f"unknown connection: 404 → {name_of(e)} (the SDK's SignalingError branch is unreachable)"


# ---------------------------------------------------------------------------------------
# Force disconnect


@sdk(method="force_disconnect", operation="Force a client to disconnect", feature="moderation")
def test_force_disconnect(server, client, http, compat):
    sid = new_session(client)
    observer = sub(server, client, sid, "observer")
    victim = sub(server, client, sid, "victim")
    observer.wait_event("connectionCreated", lambda e: e["connection"]["connectionId"] == victim.connection_id)
    mark = http.mark()
    assert client.force_disconnect(sid, victim.connection_id) is None
    http.one(mark, "DELETE", f"{P}/session/{sid}/connection/{victim.connection_id}", 204)
    assert victim.wait_event("sessionDisconnected")["reason"] == "forceDisconnected"
    assert victim.wait_exit() == 0, victim.describe()
    assert victim.events[-1]["event"] == "summary"
    ev = observer.wait_event("connectionDestroyed", lambda e: e["connection"]["connectionId"] == victim.connection_id)
    assert ev["reason"] == "forceDisconnected"
    compat.note = "204; the client printed sessionDisconnected (forceDisconnected) and exited; others saw connectionDestroyed (forceDisconnected)"


@sdk(method="force_disconnect", operation="Force a client to disconnect", feature="moderation", check="a publisher")
def test_force_disconnect_publisher(server, client, media, compat):
    sid = new_session(client)
    observer = sub(server, client, sid, "observer")
    pub = publisher(server, client.generate_token(sid), media, name="to be removed")
    stream_created(observer, pub.stream_id)
    client.force_disconnect(sid, pub.connection_id)
    ev = observer.wait_event("streamDestroyed", lambda e: e["stream"]["streamId"] == pub.stream_id)
    assert ev["reason"] == "forceDisconnected"
    ev = observer.wait_event("connectionDestroyed", lambda e: e["connection"]["connectionId"] == pub.connection_id)
    assert ev["reason"] == "forceDisconnected"
    pub.wait_stderr(r"the server ended the session \(forceDisconnected\)")
    assert pub.wait_exit() == 0, pub.describe()
    assert [s.id for s in client.list_streams(sid)] == []
    compat.note = "the publisher was told forceDisconnected and exited; others saw streamDestroyed and connectionDestroyed (forceDisconnected); the stream left list_streams"


@sdk(method="force_disconnect", operation="Force a client to disconnect", feature="moderation", check="unknown connection")
def test_force_disconnect_unknown(server, client, http, compat):
    sid = new_session(client)
    for live in (False, True):
        if live:
            sub(server, client, sid, "subscriber")
        mark = http.mark()
        e = raised(client.force_disconnect, sid, "no-such-connection")
        assert isinstance(e, ForceDisconnectError), name_of(e)
        error_body(http.one(mark, "DELETE", f"{P}/session/{sid}/connection/no-such-connection", 404), 404)
    compat.note = "unknown connection (empty or live session): 404 → ForceDisconnectError"


# ---------------------------------------------------------------------------------------
# Force mute


@sdk(method="mute_stream", operation="Mute one stream", feature="moderation")
def test_mute_stream(server, client, http, media, compat):
    sid = new_session(client)
    observer = sub(server, client, sid, "observer")
    pa = publisher(server, client.generate_token(sid), media, name="A")
    pb = publisher(server, client.generate_token(sid), media, name="B")
    for p in (pa, pb):
        assert stream_created(observer, p.stream_id)["stream"]["hasAudio"] is True
    mark = http.mark()
    r = client.mute_stream(sid, pa.stream_id)
    assert r.status_code == 200
    http.one(mark, "POST", f"{P}/session/{sid}/stream/{pa.stream_id}/mute", 200)
    ev = observer.wait_event("streamPropertyChanged", audio_change(pa.stream_id))
    assert (ev["oldValue"], ev["newValue"], ev["stream"]["hasAudio"]) == (True, False, False)
    pa.wait_stderr(r"a moderator muted the stream")
    assert_none_before(client, sid, observer, "streamPropertyChanged", audio_change(pb.stream_id),
                       "stream B was muted too")
    compat.note = "200; others saw streamPropertyChanged hasAudio true→false for that stream only; its publisher was told"


@sdk(method="mute_stream", operation="Mute one stream", feature="moderation", check="unknown stream")
def test_mute_stream_unknown(server, client, http, compat):
    sid = new_session(client)
    sub(server, client, sid, "subscriber")
    mark = http.mark()
    e = raised(client.mute_stream, sid, "no-such-stream")
    error_body(http.one(mark, "POST", f"{P}/session/{sid}/stream/no-such-stream/mute", 404), 404)
    compat.note = f"unknown stream: 404 → {type(e).__name__} (the SDK wraps its NotFoundError in a generic OpenTokException)"


@sdk(method="mute_all", operation="Mute all streams, with exclusions", feature="moderation")
def test_mute_all_with_exclusions(server, client, http, media, compat):
    sid = new_session(client)
    observer = sub(server, client, sid, "observer")
    pa = publisher(server, client.generate_token(sid), media, name="A")
    pb = publisher(server, client.generate_token(sid), media, name="B (excluded)")
    for p in (pa, pb):
        stream_created(observer, p.stream_id)
    mark = http.mark()
    r = client.mute_all(sid, [pb.stream_id])
    assert r.status_code == 200
    x = http.one(mark, "POST", f"{P}/session/{sid}/mute", 200)
    assert json.loads(x.request_body) == {"active": True, "excludedStreams": [pb.stream_id]}
    ev = observer.wait_event("streamPropertyChanged", audio_change(pa.stream_id))
    assert ev["newValue"] is False
    pa.wait_stderr(r"a moderator muted the stream")
    assert_none_before(client, sid, observer, "streamPropertyChanged", audio_change(pb.stream_id),
                       "the excluded stream was muted")
    pc = publisher(server, client.generate_token(sid), media, name="C (later)")
    assert stream_created(observer, pc.stream_id)["stream"]["hasAudio"] is False, \
        "a stream published after mute_all was not muted"
    pc.wait_stderr(r"a moderator muted the stream")
    compat.note = "sent {active: true, excludedStreams}: 200; only the non-excluded stream went hasAudio false; a stream published afterwards started muted"


@sdk(method="mute_all", operation="Mute all streams, with exclusions", feature="moderation", check="bad input")
def test_mute_all_bad_input(client, http, compat):
    sid = new_session(client)
    mark = http.mark()
    raised(client.mute_all, sid, "not-a-list")
    error_body(http.one(mark, "POST", f"{P}/session/{sid}/mute", 400), 400)
    mark = http.mark()
    raised(client.mute_all, forge_session_id(sid), None)
    error_body(http.since(mark)[0], 404)
    compat.note = "excludedStreams not a list: 400; unknown session: 404; each an OpenTokException"


@sdk(method="disable_force_mute", operation='Lift "mute all"', feature="moderation")
def test_disable_force_mute(server, client, http, media, compat):
    sid = new_session(client)
    # Called before anyone joined: it still covers every stream published afterwards.
    client.mute_all(sid, None)
    observer = sub(server, client, sid, "observer")
    pc = publisher(server, client.generate_token(sid), media, name="during")
    assert stream_created(observer, pc.stream_id)["stream"]["hasAudio"] is False, \
        "published during mute_all, yet not muted"
    mark = http.mark()
    r = client.disable_force_mute(sid)
    assert r.status_code == 200
    x = http.one(mark, "POST", f"{P}/session/{sid}/mute", 200)
    assert json.loads(x.request_body) == {"active": False}
    pd = publisher(server, client.generate_token(sid), media, name="after")
    assert stream_created(observer, pd.stream_id)["stream"]["hasAudio"] is True, \
        "published after disable_force_mute, yet muted"
    assert_none_before(client, sid, observer, "streamPropertyChanged", audio_change(pd.stream_id),
                       "the stream published after disable_force_mute was muted")
    compat.note = "sent {active: false}: 200; a stream published between mute_all (called before anyone joined) and it started muted, one published after it did not"


# ---------------------------------------------------------------------------------------
# Streams: list, get, layout class lists. One session with two publishers.


@pytest.fixture(scope="module")
def streams(server, client, media):
    sid = new_session(client)
    observer = sub(server, client, sid, "observer")
    pa = publisher(server, client.generate_token(sid, initial_layout_class_list=["focus"]), media, name="Caméra 1")
    pb = publisher(server, client.generate_token(sid), media, name="B", audio=False)
    for p in (pa, pb):
        stream_created(observer, p.stream_id)
    yield sid, pa, pb
    for c in (observer, pa, pb):
        c.stop()


def plain(s):
    return {"id": s.id, "videoType": s.videoType, "name": s.name, "layoutClassList": s.layoutClassList}


@sdk(method="list_streams", operation="List the streams of a session", feature="streams")
def test_list_streams(client, http, streams, compat):
    sid, pa, pb = streams
    mark = http.mark()
    lst = client.list_streams(sid)
    x = http.one(mark, "GET", f"{P}/session/{sid}/stream", 200)
    assert x.content_type == "application/json"
    assert lst.count == 2 and len(lst) == 2
    got = sorted((plain(s) for s in lst), key=lambda s: s["id"])
    want = sorted([
        {"id": pa.stream_id, "videoType": "camera", "name": "Caméra 1", "layoutClassList": ["focus"]},
        {"id": pb.stream_id, "videoType": "camera", "name": "B", "layoutClassList": []},
    ], key=lambda s: s["id"])
    assert got == want
    empty = client.list_streams(new_session(client))
    assert (empty.count, len(empty)) == (0, 0)
    compat.note = "{count, items}: both live streams with id, name (UTF-8), videoType camera and the token's initial layout classes; none for an empty session"


@sdk(method="get_stream", operation="Get one stream", feature="streams")
def test_get_stream(client, http, streams, compat):
    sid, pa, pb = streams
    mark = http.mark()
    s = client.get_stream(sid, pa.stream_id)
    x = http.one(mark, "GET", f"{P}/session/{sid}/stream/{pa.stream_id}", 200)
    body_name = json.loads(x.response_body)["name"]  # the log decodes the bytes as UTF-8
    assert s.name == "Caméra 1", (
        f"name {s.name!r} instead of 'Caméra 1': the body's bytes are "
        f"{'UTF-8 for' if body_name == 'Caméra 1' else 'not UTF-8 for'} 'Caméra 1', sent as "
        f"Content-Type {x.content_type!r}, which requests decodes as {x.encoding_by_requests}"
    )
    assert plain(s) == {"id": pa.stream_id, "videoType": "camera", "name": "Caméra 1", "layoutClassList": ["focus"]}
    assert plain(client.get_stream(sid, pb.stream_id)) == \
        {"id": pb.stream_id, "videoType": "camera", "name": "B", "layoutClassList": []}
    compat.note = "a Stream with the published id, name (UTF-8), videoType and layout classes"


@sdk(method="get_stream", operation="Get one stream", feature="streams", check="unknown stream")
def test_get_stream_unknown(client, http, streams, compat):
    sid, _, _ = streams
    mark = http.mark()
    e = raised(client.get_stream, sid, "no-such-stream")
    error_body(http.one(mark, "GET", f"{P}/session/{sid}/stream/no-such-stream", 404), 404)
    assert isinstance(e, RequestError) and 404 in e.args, name_of(e)
    compat.note = f"unknown stream: 404 → {name_of(e)}"


@sdk(method="set_stream_class_lists", operation="Set layout class lists of streams", feature="streams")
def test_set_stream_class_lists(client, http, streams, compat):
    sid, pa, pb = streams
    mark = http.mark()
    assert client.set_stream_class_lists(sid, [
        {"id": pa.stream_id, "layoutClassList": ["full", "focus"]},
        {"id": pb.stream_id, "layoutClassList": ["small"]},
    ]) is None
    http.one(mark, "PUT", f"{P}/session/{sid}/stream", 200)
    assert client.get_stream(sid, pa.stream_id).layoutClassList == ["full", "focus"]
    assert {s.id: s.layoutClassList for s in client.list_streams(sid)} == \
        {pa.stream_id: ["full", "focus"], pb.stream_id: ["small"]}
    client.set_stream_class_lists(sid, [{"id": pb.stream_id, "layoutClassList": []}])
    assert client.get_stream(sid, pb.stream_id).layoutClassList == []
    compat.note = "200; get_stream and list_streams read the new lists back; an empty list clears"


@sdk(method="set_stream_class_lists", operation="Set layout class lists of streams", feature="streams", check="bad input")
def test_set_stream_class_lists_bad_input(client, http, streams, compat):
    sid, pa, _ = streams
    before = client.get_stream(sid, pa.stream_id).layoutClassList
    mark = http.mark()
    e = raised(client.set_stream_class_lists, sid, [
        {"id": pa.stream_id, "layoutClassList": ["ok"]},
        {"id": pa.stream_id, "layoutClassList": ["has space"]},
    ])
    error_body(http.one(mark, "PUT", f"{P}/session/{sid}/stream", 400), 400)
    assert isinstance(e, SetStreamClassError), name_of(e)
    assert client.get_stream(sid, pa.stream_id).layoutClassList == before
    mark = http.mark()
    e2 = raised(client.set_stream_class_lists, sid, [
        {"id": pa.stream_id, "layoutClassList": ["x"]},
        {"id": "no-such-stream", "layoutClassList": ["y"]},
    ])
    error_body(http.one(mark, "PUT", f"{P}/session/{sid}/stream", 404), 404)
    assert client.get_stream(sid, pa.stream_id).layoutClassList == before
    mark = http.mark()
    raised(client.set_stream_class_lists, sid, [])
    error_body(http.one(mark, "PUT", f"{P}/session/{sid}/stream", 400), 400)
    compat.note = f"a class with a space or no items: 400 → SetStreamClassError; an unknown stream: 404 → {name_of(e2)}; nothing changed on refusal"


def test_no_request_got_a_5xx_answer(http):
    stop_all_clients()
    bad = [x.line() for x in http.exchanges if x.status >= 500]
    assert bad == []
