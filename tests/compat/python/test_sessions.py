"""Live compatibility: the official `opentok` Python SDK creating sessions on a real Parlor server."""
import time

import pytest
import requests
from opentok import ArchiveModes, Client, MediaModes
from opentok.exceptions import AuthError, OpenTokException, RequestError

from parlor_helpers import (
    API_KEY,
    API_SECRET,
    WRONG_SECRET,
    auth_header,
    decode_session_id,
    forge_session_id,
)

NONE = dict(location=None, e2ee=False, archiveName=None, archiveResolution=None)
ROUTED, RELAYED = MediaModes.routed, MediaModes.relayed
ALWAYS, MANUAL = ArchiveModes.always, ArchiveModes.manual

# Every combination of options the Python SDK allows.
CASES = [
    ("default", {}, dict(mediaMode="relayed", archiveMode="manual", **NONE)),
    ("routed", dict(media_mode=ROUTED), dict(mediaMode="routed", archiveMode="manual", **NONE)),
    ("relayed", dict(media_mode=RELAYED), dict(mediaMode="relayed", archiveMode="manual", **NONE)),
    ("manual explicit", dict(media_mode=ROUTED, archive_mode=MANUAL), dict(mediaMode="routed", archiveMode="manual", **NONE)),
    ("location", dict(location="12.34.56.78"), dict(NONE, mediaMode="relayed", archiveMode="manual", location="12.34.56.78")),
    ("routed+location", dict(media_mode=ROUTED, location="10.1.200.3"), dict(NONE, mediaMode="routed", archiveMode="manual", location="10.1.200.3")),
    ("always+routed", dict(media_mode=ROUTED, archive_mode=ALWAYS), dict(mediaMode="routed", archiveMode="always", **NONE)),
    (
        "always+archive_name",
        dict(media_mode=ROUTED, archive_mode=ALWAYS, archive_name="Weekly sync 42"),
        dict(NONE, mediaMode="routed", archiveMode="always", archiveName="Weekly sync 42"),
    ),
    (
        "always+archive_resolution",
        dict(media_mode=ROUTED, archive_mode=ALWAYS, archive_resolution="720x1280"),
        dict(NONE, mediaMode="routed", archiveMode="always", archiveResolution="720x1280"),
    ),
    (
        "always+name+resolution",
        dict(media_mode=ROUTED, archive_mode=ALWAYS, archive_name="Board meeting", archive_resolution="1920x1080"),
        dict(NONE, mediaMode="routed", archiveMode="always", archiveName="Board meeting", archiveResolution="1920x1080"),
    ),
    ("e2ee+routed", dict(media_mode=ROUTED, e2ee=True), dict(NONE, mediaMode="routed", archiveMode="manual", e2ee=True)),
    ("e2ee false explicit", dict(e2ee=False), dict(mediaMode="relayed", archiveMode="manual", **NONE)),
    (
        "routed+e2ee+location",
        dict(media_mode=ROUTED, e2ee=True, location="203.0.113.9"),
        dict(NONE, mediaMode="routed", archiveMode="manual", e2ee=True, location="203.0.113.9"),
    ),
    (
        # e2ee is left out: end-to-end encrypted sessions cannot be archived (see test_e2ee_with_always_refused).
        "every archive option",
        dict(media_mode=ROUTED, archive_mode=ALWAYS, location="192.0.2.7", e2ee=False, archive_name="All options", archive_resolution="480x640"),
        dict(mediaMode="routed", archiveMode="always", location="192.0.2.7", e2ee=False, archiveName="All options", archiveResolution="480x640"),
    ),
]


@pytest.mark.parametrize("name,kwargs,expected", CASES, ids=[c[0] for c in CASES])
def test_create_session_options_are_stored(server, client, name, kwargs, expected):
    t0 = int(time.time() * 1000)
    session = client.create_session(**kwargs)
    t1 = int(time.time() * 1000)

    sid = session.session_id
    assert isinstance(sid, str) and 2 < len(sid) <= 255
    assert sid.isascii() and sid.isprintable()
    # The SDK's Session object reflects what it sent.
    assert session.media_mode == kwargs.get("media_mode", RELAYED)
    assert session.archive_mode == kwargs.get("archive_mode", MANUAL)

    # The id decodes the way the SDK decodes it, with the API key in field 1 ...
    parts = decode_session_id(sid)
    assert parts[1] == API_KEY, parts
    # ... and the SDK accepts it for token generation (it raises if the key is not in the id).
    token = session.generate_token()
    assert isinstance(token, str) and len(token) > 20

    code, shown, stderr = server.session_show(sid)
    assert code == 0, stderr
    assert shown["sessionId"] == sid
    assert str(shown["projectId"]) == API_KEY
    for key, value in expected.items():
        assert shown[key] == value, f"{key}: stored {shown[key]!r}, SDK sent {value!r}"
    assert isinstance(shown["createdAt"], int)
    assert t0 - 2000 <= shown["createdAt"] <= t1 + 2000, (shown["createdAt"], t0, t1)


def test_session_show_unknown_session(server, client):
    real = client.create_session().session_id
    ghost = forge_session_id(real)
    assert ghost != real
    code, shown, stderr = server.session_show(ghost)
    assert code == 1
    assert stderr.strip() != ""


def raw_create(server, form, headers=None):
    if headers is None:
        headers = {"X-OPENTOK-AUTH": auth_header()}
    h = {"User-Agent": "OpenTok-Python-SDK/3.15.0", "Accept": "application/json"}
    h.update(headers)
    return requests.post(server.base_url + "/session/create", data=form, headers=h, timeout=10)


def test_wire_response_shape(server):
    r = raw_create(server, {"p2p.preference": "enabled", "archiveMode": "manual", "e2ee": "false"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert isinstance(body, list) and len(body) == 1
    o = body[0]
    for k in ("session_id", "project_id", "partner_id", "create_dt", "media_server_url"):
        assert k in o, (k, body)
    assert o["project_id"] == API_KEY, "project_id should be the API key as a string (as OpenTok sends it)"
    assert o["partner_id"] == API_KEY, "partner_id should be the API key as a string (as OpenTok sends it)"
    assert o["create_dt"]


INVALID_VALUES = [
    {"archiveMode": "bogus", "p2p.preference": "disabled"},
    {"archiveMode": "manual", "p2p.preference": "bogus"},
    {"archiveMode": "manual", "p2p.preference": "enabled", "location": "not-an-ip"},
    {"archiveMode": "manual", "p2p.preference": "enabled", "location": "300.1.2.3"},
    {"archiveMode": "manual", "p2p.preference": "disabled", "e2ee": "bogus"},
    {"archiveMode": "always", "p2p.preference": "enabled"},
    {"archiveMode": "always", "p2p.preference": "disabled", "archiveResolution": "999x999"},
]


@pytest.mark.parametrize("form", INVALID_VALUES, ids=lambda f: "&".join(f"{k}={v}" for k, v in f.items()))
def test_invalid_values_get_400_json(server, form):
    r = raw_create(server, form)
    assert r.status_code == 400, f"{form} -> {r.status_code} {r.text}"
    assert r.headers.get("Content-Type") == "application/json"
    body = r.json()
    assert body["code"] == 400
    assert isinstance(body["message"], str) and body["message"]


COMBINATION_RULES = [
    # end-to-end encrypted media cannot be archived
    {"archiveMode": "always", "p2p.preference": "disabled", "e2ee": "true"},
    # e2ee is only for routed sessions
    {"archiveMode": "manual", "p2p.preference": "enabled", "e2ee": "true"},
    # archiveName / archiveResolution only with archiveMode=always (documented by the Python SDK)
    {"archiveMode": "manual", "p2p.preference": "disabled", "archiveName": "x"},
    {"archiveMode": "manual", "p2p.preference": "disabled", "archiveResolution": "1280x720"},
    # archiveName is 1..80 characters
    {"archiveMode": "always", "p2p.preference": "disabled", "archiveName": "n" * 81},
]


@pytest.mark.parametrize("form", COMBINATION_RULES, ids=["e2ee-always", "e2ee-relayed", "name-manual", "resolution-manual", "name-81"])
def test_documented_combination_rules_get_400(server, form):
    r = raw_create(server, form)
    assert r.status_code == 400, f"{form} -> {r.status_code} {r.text}"
    assert r.json()["code"] == 400
    assert r.json()["message"]


def test_e2ee_with_always_refused(server, client):
    """The SDK lets e2ee + always through; the server must refuse it (400), which the SDK reports as an error."""
    with pytest.raises(OpenTokException):
        client.create_session(media_mode=ROUTED, archive_mode=ALWAYS, e2ee=True)
    r = raw_create(server, {"p2p.preference": "disabled", "archiveMode": "always", "e2ee": "true"})
    assert r.status_code == 400, r.text


def test_wrong_secret_gives_sdk_auth_error(server):
    bad = Client(API_KEY, WRONG_SECRET, api_url=server.base_url)
    with pytest.raises(RequestError) as info:
        bad.create_session()
    # create_session raises AuthError on 403 and then wraps it in RequestError.
    assert "invalid credentials" in str(info.value)
    assert isinstance(info.value.__context__, AuthError), repr(info.value.__context__)


def test_unknown_key_gives_sdk_auth_error(server):
    bad = Client("47009999", API_SECRET, api_url=server.base_url)
    with pytest.raises(RequestError) as info:
        bad.create_session()
    assert isinstance(info.value.__context__, AuthError), repr(info.value.__context__)


AUTH_CASES = [
    ("missing header", {}, 401),
    ("wrong secret", {"X-OPENTOK-AUTH": auth_header(secret=WRONG_SECRET)}, 403),
    ("unknown iss", {"X-OPENTOK-AUTH": auth_header(key="47009999")}, 403),
    ("ist account", {"X-OPENTOK-AUTH": auth_header(ist="account")}, 403),
    ("expired", {"X-OPENTOK-AUTH": auth_header(iat=int(time.time()) - 3900, exp=int(time.time()) - 3600)}, 403),
    ("garbage", {"X-OPENTOK-AUTH": "not-a-jwt"}, 403),
]


@pytest.mark.parametrize("name,headers,status", AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
def test_raw_auth_failures(server, name, headers, status):
    r = raw_create(server, {"p2p.preference": "enabled", "archiveMode": "manual"}, headers)
    assert r.status_code == status, f"{name}: {r.status_code} {r.text}"
    assert r.json()["message"]


def test_python_auth_without_jti_and_with_sub_accepted(server):
    import jwt

    now = int(time.time())
    token = jwt.encode({"iss": API_KEY, "ist": "project", "iat": now, "exp": now + 300, "sub": "video"}, API_SECRET, algorithm="HS256")
    r = raw_create(server, {"p2p.preference": "disabled", "archiveMode": "manual"}, {"X-OPENTOK-AUTH": token})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()[0]["session_id"], str)


def test_health(server):
    assert requests.get(server.base_url + "/health", timeout=5).status_code == 200


