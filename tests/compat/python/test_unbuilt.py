"""Live compatibility: every Python SDK call for a feature Parlor has not built (SIP dial and
DTMF, captions, Experience Composer, Audio Connector), and the operations the Python SDK has no
method for (callbacks, listing broadcasts). The server must answer each call with 501 JSON
naming the feature; the suite records what the SDK made of it (whether the exception text
carries the server's message) in results/python-unbuilt.json."""

import inspect
import json

import opentok
import opentok.endpoints
import pytest
from opentok import Client, MediaModes, Roles

from live_helpers import HttpLog
from parlor_helpers import API_KEY

P = f"/v2/project/{API_KEY}"
RENDER = "5a1e0a4c-0000-4000-8000-00000000c001"
CAPTIONS = "5a1e0a4c-0000-4000-8000-00000000d001"
STREAM = "5a1e0a4c-0000-4000-8000-00000000e001"
CONNECTION = "5a1e0a4c-0000-4000-8000-00000000f001"


def not_available(feature):
    return f"this Parlor server does not support {feature} yet"


SIP = not_available("SIP interconnect")
DTMF = not_available("SIP interconnect (DTMF)")
CAPTIONING = not_available("live captions")
RENDERING = not_available("Experience Composer")
AUDIO_CONNECTOR = not_available("Audio Connector")


@pytest.fixture(scope="module")
def http(server):
    log = HttpLog().install()
    yield log
    log.uninstall()


@pytest.fixture(scope="module")
def live(client):
    sid = client.create_session(media_mode=MediaModes.routed).session_id
    return sid, client.generate_token(sid, role=Roles.moderator)


# (method, operation, feature, HTTP method, path after P, server message, call(client, sid, token))
CASES = [
    ("dial", "Dial a SIP endpoint", "SIP interconnect", "POST", lambda s: "/dial", SIP,
     lambda c, s, t: c.dial(s, t, "sip:user@sip.example.com;transport=tls", {"secure": True})),
    ("play_dtmf", "Play DTMF to a session", "SIP interconnect", "POST", lambda s: f"/session/{s}/play-dtmf", DTMF,
     lambda c, s, t: c.play_dtmf(s, None, "1234#")),
    ("play_dtmf", "Play DTMF to one connection", "SIP interconnect", "POST",
     lambda s: f"/session/{s}/connection/{CONNECTION}/play-dtmf", DTMF,
     lambda c, s, t: c.play_dtmf(s, CONNECTION, "1234#")),
    ("start_captions", "Start live captions", "captions", "POST", lambda s: "/captions", CAPTIONING,
     lambda c, s, t: c.start_captions(s, t)),
    ("stop_captions", "Stop live captions", "captions", "POST", lambda s: f"/captions/{CAPTIONS}/stop", CAPTIONING,
     lambda c, s, t: c.stop_captions(CAPTIONS)),
    ("start_render", "Start an Experience Composer", "Experience Composer", "POST", lambda s: "/render", RENDERING,
     lambda c, s, t: c.start_render(s, t, "https://example.com/composer")),
    ("get_render", "Get an Experience Composer", "Experience Composer", "GET", lambda s: f"/render/{RENDER}", RENDERING,
     lambda c, s, t: c.get_render(RENDER)),
    ("list_renders", "List Experience Composers", "Experience Composer", "GET", lambda s: "/render", RENDERING,
     lambda c, s, t: c.list_renders(count=10)),
    ("stop_render", "Stop an Experience Composer", "Experience Composer", "DELETE", lambda s: f"/render/{RENDER}", RENDERING,
     lambda c, s, t: c.stop_render(RENDER)),
    ("connect_audio_to_websocket", "Connect audio to a WebSocket", "Audio Connector", "POST", lambda s: "/connect", AUDIO_CONNECTOR,
     lambda c, s, t: c.connect_audio_to_websocket(s, t, {"uri": "wss://example.com/audio", "streams": [STREAM]})),
]


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0]}-{c[1]}", marks=pytest.mark.sdk(method=c[0], operation=c[1], feature=c[2]))
    for c in CASES
])
def test_unbuilt_feature_answers_501(client, http, live, compat, case):
    method, _, _, verb, path, message, invoke = case
    sid, token = live
    mark = http.mark()
    error = None
    try:
        value = invoke(client, sid, token)
    except Exception as e:  # noqa: BLE001 - recorded, whatever the SDK raises
        error = e
    # What the server did: one request, answered 501 JSON naming the feature.
    xs = http.since(mark)
    assert len(xs) == 1, "\n".join(x.line() for x in xs)
    x = xs[0]
    assert f"{x.method} {x.path}" == f"{verb} {P}{path(sid)}", x.line()
    assert x.status == 501, x.line()
    assert x.content_type == "application/json", x.line()
    assert json.loads(x.response_body) == {"code": 501, "message": message}, x.line()
    # What the SDK made of it.
    compat.status = "501"
    compat.error_raised = error is not None
    if error is None:
        compat.message_surfaced = False
        compat.note = f"the SDK raised nothing and returned {value!r}"
    else:
        text = f"{type(error).__name__}: {error}"
        compat.message_surfaced = message in text
        compat.note = text if compat.message_surfaced else f"the exception does not carry the message: {text}"


def _sdk_source():
    return inspect.getsource(opentok.opentok) + inspect.getsource(opentok.endpoints)


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c[1], marks=pytest.mark.sdk(method="(none)", operation=c[1], feature=c[2]))
    for c in [
        ("callback", "Register a callback", "callbacks"),
        ("callback", "List callbacks", "callbacks"),
        ("callback", "Unregister a callback", "callbacks"),
        ("broadcast", "List broadcasts", "broadcasts"),
    ]
])
def test_operations_the_sdk_has_no_method_for(compat, case):
    kind, operation, _ = case
    names = [n for n in dir(Client) if not n.startswith("_")]
    if kind == "callback":
        # No method and no endpoint: nothing in the SDK can reach /v2/project/{key}/callback.
        assert [n for n in names if "callback" in n.lower()] == []
        assert "/callback" not in _sdk_source()
        compat.note = (f"opentok {opentok.__version__} has no callback API: no Client method "
                       "and no /callback URL in opentok/opentok.py or opentok/endpoints.py")
    else:
        assert [n for n in names if "broadcast" in n and n.startswith(("list", "get_broadcasts"))] == []
        compat.note = (f"opentok {opentok.__version__} has no method listing broadcasts "
                       "(only start/stop/get/layout/add and remove stream)")
    compat.status = "n/a"


def test_only_unbuilt_features_answered_5xx_and_only_501(http):
    bad = [x.line() for x in http.exchanges if x.status >= 500 and x.status != 501]
    assert bad == []
