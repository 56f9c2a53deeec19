"""Live compatibility of PyPI `vonage` 4.x (`vonage_video`), authenticated as a Vonage
application (`parlor app create`), against `parlor serve` over HTTPS.

The SDK's `video_host` is a host only and it always builds `https://{host}{path}`, so the
server runs with a certificate signed by a CA made here (openssl), trusted through
REQUESTS_CA_BUNDLE by the SDK and PARLOR_CA_FILE by the native clients. Covered: session
creation (the application ID in field 1 of the session ID), client tokens of every role that
a native client connects with, refused tokens with their reasons, and every control call
with live clients: signal, disconnect, mute one / all / lift, list / get streams, layout
classes, and archives (start, stop, get, list, delete). Results go to
results/vonage-python-app.json (see conftest.py).
"""
import base64
import json
import os
import re
import subprocess
import tempfile
import time

import pytest
import requests
from vonage import Auth, HttpClientOptions, Vonage
from vonage_video import (
    AddStreamRequest, ArchiveMode, ComposedLayout, CreateArchiveRequest, ListArchivesFilter, MediaMode, SessionOptions,
    SignalData, StreamLayout, StreamLayoutOptions, TokenOptions,
)

import live_helpers as live
import parlor_helpers as ph

SDK = "vonage-python"


def _sh(cmd, cwd):
    subprocess.run(["sh", "-c", cmd], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """A test CA and a server certificate for 127.0.0.1 / localhost in `d`."""
    _sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
        "-out ca.pem -days 2 -subj '/CN=Parlor Test CA' "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign", d)
    _sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key "
        "-out srv.csr -subj '/CN=localhost' && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
        "extendedKeyUsage=serverAuth\\n' > srv.ext && "
        "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 4660 "
        "-out srv.pem -days 2 -extfile srv.ext", d)
    return os.path.join(d, "ca.pem"), os.path.join(d, "srv.pem"), os.path.join(d, "srv.key")


class TlsServer(ph.ParlorServer):
    """`parlor serve` with TLS (PARLOR_TLS_CERT/KEY in its environment); base_url is
    https://127.0.0.1:PORT."""

    HTTPS_RE = re.compile(r"^parlor listening on (https://127\.0\.0\.1:(\d+))\s*$")

    def _wait_listening(self):
        saved, ph.LISTEN_RE = ph.LISTEN_RE, self.HTTPS_RE
        try:
            return super()._wait_listening()
        finally:
            ph.LISTEN_RE = saved


@pytest.fixture(scope="module")
def tls_env():
    d = tempfile.mkdtemp(prefix="parlor-compat-tls-")
    ca, cert, key = make_certs(d)
    saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "PARLOR_CA_FILE")}
    os.environ["REQUESTS_CA_BUNDLE"] = ca
    os.environ["PARLOR_CA_FILE"] = ca
    yield ca, cert, key
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def server(tls_env):
    _, cert, key = tls_env
    # ParlorServer passes its own serve flags; the TLS ones go through the environment.
    os.environ["PARLOR_TLS_CERT"], os.environ["PARLOR_TLS_KEY"] = cert, key
    try:
        srv = TlsServer()
    finally:
        os.environ.pop("PARLOR_TLS_CERT", None)
        os.environ.pop("PARLOR_TLS_KEY", None)
    yield srv
    live.stop_all_clients()
    assert srv.stop() == 0, srv.stderr_text()


def create_app(server, name):
    out = server.cli("app", "create", "--name", name, "--json", "--data-dir", server.data_dir)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def app(server):
    return create_app(server, "python-compat")


@pytest.fixture(scope="module")
def video(server, app):
    host = server.base_url.removeprefix("https://")
    client = Vonage(Auth(application_id=app["applicationId"], private_key=app["privateKey"]),
                    HttpClientOptions(video_host=host))
    return client.video


@pytest.fixture(scope="module")
def http_log():
    log = live.HttpLog().install()
    yield log
    log.uninstall()
    fivexx = [x.line() for x in log.exchanges if x.status >= 500]
    assert fivexx == [], "\n".join(fivexx)


@pytest.fixture(scope="module")
def media():
    m = live.make_media()
    yield m
    live.remove_media(m)


def routed(video):
    return video.create_session(SessionOptions(media_mode=MediaMode.ROUTED)).session_id


def token(video, sid, **kw):
    t = video.generate_client_token(TokenOptions(session_id=sid, **kw))
    return t.decode() if isinstance(t, bytes) else t


def field1(session_id):
    s = session_id[2:]
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode().split("~")[1]


def verify(server, tok, sid):
    out = server.cli("token", "verify", tok, "--session", sid, "--data-dir", server.data_dir)
    return json.loads(out.stdout)


@pytest.mark.sdk(method="create_session", operation="Create a session", feature="sessions and tokens")
def test_create_session(server, app, video, http_log, compat):
    for options, media_mode, archive_mode, location in [
        (SessionOptions(), "routed", "manual", None),
        (SessionOptions(media_mode=MediaMode.RELAYED), "relayed", "manual", None),
        (SessionOptions(media_mode=MediaMode.ROUTED, archive_mode=ArchiveMode.ALWAYS), "routed", "always", None),
        (SessionOptions(media_mode=MediaMode.ROUTED, location="10.1.2.3"), "routed", "manual", "10.1.2.3"),
    ]:
        mark = http_log.mark()
        sid = video.create_session(options).session_id
        x = http_log.one(mark, "POST", "/session/create", 200)
        assert x.url.startswith("https://"), x.url
        assert field1(sid) == app["applicationId"]
        code, shown, err = server.session_show(sid)
        assert code == 0, err
        assert shown["projectId"] == app["applicationId"]
        assert (shown["mediaMode"], shown["archiveMode"], shown["location"]) == (media_mode, archive_mode, location)
    compat.note = "over HTTPS (REQUESTS_CA_BUNDLE at a test CA); default, relayed, archiveMode always, location"


@pytest.mark.parametrize("role", ["publisher", "subscriber", "moderator", "publisheronly"])
@pytest.mark.sdk(method="generate_client_token", operation="Generate a client token", feature="sessions and tokens")
def test_tokens_connect(server, video, role, compat):
    sid = routed(video)
    tok = token(video, sid, role=role, connection_data="name=Py", initial_layout_class_list=["focus", "full"])
    v = verify(server, tok, sid)
    assert v["valid"] and v["role"] == role and v["credential"] == "application", v
    assert v["initialLayoutClassList"] == ["focus", "full"]
    r = subprocess.run([ph.PARLOR_BIN, "client", "subscribe", "--url", server.base_url, "--token", tok,
                        "--duration", "0.5", "--json"], capture_output=True, text=True, timeout=30)
    assert '"event":"sessionConnected"' in r.stdout, r.stderr
    if role == "publisheronly":
        assert r.returncode == 1 and "publisheronly token does not allow subscribing" in r.stderr
    else:
        assert r.returncode == 0, r.stderr
    compat.note = "every role joins over wss:// (PARLOR_CA_FILE); layout classes as a JSON list are read"


@pytest.mark.sdk(method="generate_client_token", operation="Generate a client token", feature="sessions and tokens", check="refusals")
def test_refused_tokens(server, app, video, compat):
    sid = routed(video)
    good = token(video, sid)
    assert verify(server, good, sid)["valid"]
    h, p, s = good.split(".")
    flipped = s[:10] + ("A" if s[10] != "A" else "B") + s[11:]
    assert verify(server, f"{h}.{p}.{flipped}", sid)["reason"] == "bad_signature"
    other = create_app(server, "other")
    theirs = Vonage(Auth(application_id=other["applicationId"], private_key=other["privateKey"]),
                    HttpClientOptions(video_host=server.base_url.removeprefix("https://"))).video
    assert verify(server, token(theirs, sid), sid)["reason"] == "wrong_project"
    assert verify(server, token(video, routed(video)), sid)["reason"] == "wrong_session"
    short = token(video, sid, exp=int(time.time()) + 1)
    time.sleep(2.2)
    assert verify(server, short, sid)["reason"] == "expired"
    compat.note = "tampered signature, another application's token, another session, expired: each with its reason"


@pytest.mark.sdk(method="send_signal", operation="Signal every client in a session", feature="signaling")
def test_signal_session(server, video, compat):
    sid = routed(video)
    a = live.subscriber(server, token(video, sid, role="subscriber"), "A")
    b = live.subscriber(server, token(video, sid, role="subscriber"), "B")
    video.send_signal(sid, SignalData(type="chat", data="hello"))
    for c in (a, b):
        assert c.wait_event("signal", lambda e: e["type"] == "chat")["data"] == "hello"
    a.stop(), b.stop()
    compat.note = "both subscribers printed the signal"


@pytest.mark.sdk(method="send_signal", operation="Signal one connection", feature="signaling")
def test_signal_connection(server, video, compat):
    sid = routed(video)
    a = live.subscriber(server, token(video, sid, role="subscriber"), "A")
    b = live.subscriber(server, token(video, sid, role="subscriber"), "B")
    video.send_signal(sid, SignalData(type="private", data="A only"), a.connection_id)
    assert a.wait_event("signal", lambda e: e["type"] == "private")["data"] == "A only"
    m = live.marker()
    video.send_signal(sid, SignalData(type=m, data=m))
    upto = b.events.index(b.wait_event("signal", lambda e: e["type"] == m))
    assert not [e for e in b.events[:upto] if e.get("event") == "signal" and e["type"] == "private"]
    a.stop(), b.stop()
    compat.note = "only the addressed subscriber printed the signal"


@pytest.mark.sdk(method="disconnect_client", operation="Force a client to disconnect", feature="moderation")
def test_disconnect(server, video, compat):
    sid = routed(video)
    observer = live.subscriber(server, token(video, sid, role="subscriber"), "observer")
    victim = live.subscriber(server, token(video, sid, role="subscriber"), "victim")
    video.disconnect_client(sid, victim.connection_id)
    victim.wait_event("sessionDisconnected")
    observer.wait_event("connectionDestroyed", lambda e: e["connection"]["connectionId"] == victim.connection_id)
    observer.stop()
    compat.note = "the client was disconnected; the other saw connectionDestroyed"


@pytest.fixture(scope="module")
def muted_session(server, video, media):
    sid = routed(video)
    watcher = live.subscriber(server, token(video, sid, role="subscriber"), "watcher")
    a = live.publisher(server, token(video, sid), media, name="a")
    b = live.publisher(server, token(video, sid), media, name="b")
    for p in (a, b):
        watcher.wait_event("streamCreated", lambda e, p=p: e["stream"]["streamId"] == p.stream_id)
    yield sid, watcher, a, b
    for c in (watcher, a, b):
        c.stop()


def _audio_off(stream_id):
    return lambda e: e["stream"]["streamId"] == stream_id and e["changedProperty"] == "hasAudio"


@pytest.mark.sdk(method="mute_stream", operation="Mute one stream", feature="moderation")
def test_mute_stream(video, muted_session, compat):
    sid, watcher, a, _ = muted_session
    video.mute_stream(sid, a.stream_id)
    assert watcher.wait_event("streamPropertyChanged", _audio_off(a.stream_id))["newValue"] is False
    compat.note = "the other client saw hasAudio false"


@pytest.mark.sdk(method="mute_all_streams", operation="Mute all streams, with exclusions", feature="moderation")
def test_mute_all(video, muted_session, media, server, compat):
    sid, watcher, a, b = muted_session
    video.mute_all_streams(sid, excluded_stream_ids=[a.stream_id])
    watcher.wait_event("streamPropertyChanged", _audio_off(b.stream_id))
    compat.note = "the stream not excluded lost its audio"


@pytest.mark.sdk(method="disable_mute_all_streams", operation='Lift "mute all"', feature="moderation")
def test_lift_mute_all(video, muted_session, media, server, compat):
    sid, watcher, _, _ = muted_session
    video.disable_mute_all_streams(sid)
    late = live.publisher(server, token(video, sid), media, name="late")
    created = watcher.wait_event("streamCreated", lambda e: e["stream"]["streamId"] == late.stream_id)
    assert created["stream"]["hasAudio"] is True
    late.stop()
    compat.note = "a stream published after the lift has its audio"


@pytest.fixture(scope="module")
def one_stream(server, video, media):
    sid = routed(video)
    # The client says "published" before its media connected; the REST API lists the
    # stream once the session announced it.
    watcher = live.subscriber(server, token(video, sid, role="subscriber"), "watcher")
    p = live.publisher(server, token(video, sid, initial_layout_class_list=["focus"]), media, name="cam")
    watcher.wait_event("streamCreated", lambda e: e["stream"]["streamId"] == p.stream_id)
    watcher.stop()
    yield sid, p
    p.stop()


@pytest.mark.sdk(method="list_streams", operation="List the streams of a session", feature="streams")
def test_list_streams(video, one_stream, compat):
    sid, p = one_stream
    streams = video.list_streams(sid)
    assert [s.id for s in streams] == [p.stream_id]
    assert streams[0].layout_class_list == ["focus"] and streams[0].name == "cam"
    compat.note = "id, name and the token's layout classes"


@pytest.mark.sdk(method="get_stream", operation="Get one stream", feature="streams")
def test_get_stream(video, one_stream, compat):
    sid, p = one_stream
    one = video.get_stream(sid, p.stream_id)
    assert one.id == p.stream_id and one.name == "cam" and one.video_type == "camera"
    compat.note = "id, name, videoType"


@pytest.mark.sdk(method="change_stream_layout", operation="Set layout class lists of streams", feature="streams")
def test_change_stream_layout(video, one_stream, compat):
    sid, p = one_stream
    streams = video.change_stream_layout(sid, StreamLayoutOptions(items=[StreamLayout(id=p.stream_id, layout_class_list=["full"])]))
    assert [s.layout_class_list for s in streams] == [["full"]]
    assert video.get_stream(sid, p.stream_id).layout_class_list == ["full"]
    compat.note = "the SDK reads the streams back from the answer; get_stream agrees"


_archive = {}


@pytest.mark.sdk(method="start_archive", operation="Start an archive", feature="archiving")
def test_start_archive(server, video, media, compat):
    sid = routed(video)
    p = live.publisher(server, token(video, sid), media, name="cam")
    archive = video.start_archive(CreateArchiveRequest(session_id=sid, name="py-app", output_mode="individual"))
    assert archive.status == "started" and archive.session_id == sid and archive.name == "py-app"
    _archive.update(id=archive.id, sid=sid, publisher=p)
    compat.note = "an individual archive of a live publisher"


@pytest.mark.sdk(method="stop_archive", operation="Stop an archive", feature="archiving")
def test_stop_archive(video, compat):
    assert _archive, "start_archive did not run"
    time.sleep(2)
    assert video.stop_archive(_archive["id"]).status == "stopped"
    _archive["publisher"].stop()
    compat.note = "stopped after two seconds of recording"


@pytest.mark.sdk(method="get_archive", operation="Get an archive", feature="archiving")
def test_get_archive(server, video, compat):
    assert _archive, "start_archive did not run"
    deadline = time.monotonic() + 60
    while True:
        got = video.get_archive(_archive["id"])
        if got.status not in ("started", "paused", "stopped"):
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.5)
    assert got.status == "available" and got.size > 0
    # The URL names this server, with the scheme it serves (https behind TLS).
    assert got.url.startswith(server.base_url + "/archive-download/"), (got.url, server.base_url)
    assert got.url.startswith("https://"), got.url
    body = requests.get(got.url, timeout=30)
    assert body.status_code == 200 and len(body.content) == got.size
    compat.note = "polled to available; the https download URL serves a file of the reported size"


@pytest.mark.sdk(method="list_archives", operation="List archives", feature="archiving")
def test_list_archives(video, http_log, compat):
    assert _archive, "start_archive did not run"
    # Another session's archive (started and stopped at once; nobody needs to publish).
    other = video.start_archive(CreateArchiveRequest(session_id=routed(video)))
    video.stop_archive(other.id)
    mark = http_log.mark()
    archives, count, _ = video.list_archives(ListArchivesFilter(session_id=_archive["sid"]))
    sent = http_log.since(mark)[0].url
    ids = {a.id for a in archives}
    assert count == len(archives)
    # The SDK names the filter session_id= (the others sessionId=): both are read.
    assert "session_id=" in sent, sent
    assert ids == {_archive["id"]}, (ids, other.id)
    compat.note = "filtered by session (sent as session_id=): count and items"


@pytest.mark.sdk(method="delete_archive", operation="Delete an archive", feature="archiving")
def test_delete_archive(video, compat):
    assert _archive, "start_archive did not run"
    video.delete_archive(_archive["id"])
    with pytest.raises(Exception):
        video.get_archive(_archive["id"])
    compat.note = "deleted; get_archive then fails (404)"


_manual = {}


@pytest.mark.sdk(method="add_stream_to_archive", operation="Add a stream to an archive", feature="archiving")
def test_add_stream_to_archive(server, video, media, compat):
    sid = routed(video)
    p = live.publisher(server, token(video, sid), media, name="cam")
    archive = video.start_archive(CreateArchiveRequest(session_id=sid, stream_mode="manual", output_mode="composed"))
    assert archive.stream_mode == "manual"
    video.add_stream_to_archive(archive.id, AddStreamRequest(stream_id=p.stream_id, has_audio=True, has_video=False))
    got = video.get_archive(archive.id)
    assert [st.stream_id for st in got.streams] == [p.stream_id]
    _manual.update(id=archive.id, publisher=p)
    compat.note = "the stream is in the archive's streams"


@pytest.mark.sdk(method="change_archive_layout", operation="Set an archive's layout", feature="archiving")
def test_change_archive_layout(video, compat):
    assert _manual, "add_stream_to_archive did not run"
    video.change_archive_layout(_manual["id"], ComposedLayout(type="pip"))
    compat.note = "pip accepted"


@pytest.mark.sdk(method="remove_stream_from_archive", operation="Remove a stream from an archive", feature="archiving")
def test_remove_stream_from_archive(video, compat):
    assert _manual, "add_stream_to_archive did not run"
    video.remove_stream_from_archive(_manual["id"], _manual["publisher"].stream_id)
    assert not video.get_archive(_manual["id"]).streams
    video.stop_archive(_manual["id"])
    _manual["publisher"].stop()
    compat.note = "the archive's streams are empty again"


@pytest.mark.sdk(method="create_session", operation="Archive a session automatically (archiveMode always)", feature="archiving")
def test_archive_mode_always(server, video, media, compat):
    sid = video.create_session(SessionOptions(media_mode=MediaMode.ROUTED, archive_mode=ArchiveMode.ALWAYS)).session_id
    watcher = live.subscriber(server, token(video, sid, role="subscriber"), "watcher")
    p = live.publisher(server, token(video, sid), media, name="cam")
    watcher.wait_event("archiveStarted", timeout=20)
    archives, _, _ = video.list_archives(ListArchivesFilter(session_id=sid))
    assert len([a for a in archives if a.session_id == sid]) == 1
    watcher.stop(), p.stop()
    compat.note = "an archive started by itself at the first stream; the subscriber was told"


def _no_callback_api(video, compat):
    assert not [m for m in dir(video) if "callback" in m.lower()]
    compat.status = "n/a"


@pytest.mark.sdk(method="(none)", operation="Register a callback", feature="callbacks")
def test_no_register_callback(video, compat):
    _no_callback_api(video, compat)


@pytest.mark.sdk(method="(none)", operation="List callbacks", feature="callbacks")
def test_no_list_callbacks(video, compat):
    _no_callback_api(video, compat)


@pytest.mark.sdk(method="(none)", operation="Unregister a callback", feature="callbacks")
def test_no_unregister_callback(video, compat):
    _no_callback_api(video, compat)
