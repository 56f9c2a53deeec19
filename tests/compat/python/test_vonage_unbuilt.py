"""Live compatibility: every PyPI `vonage` (`vonage_video`) call for a feature Parlor has
not built (SIP dial and DTMF, captions, Experience Composer, Audio Connector),
with Vonage application credentials over HTTPS. The server must answer each with 501 JSON
naming the feature; the suite records what the SDK made of it in
results/vonage-python-unbuilt.json. The server, CA and application fixtures are
test_vonage_app.py's.
"""
import json

import pytest
from vonage_video import (
    AudioConnectorOptions, AudioConnectorWebSocket, CaptionsData, CaptionsOptions,
    ExperienceComposerOptions, InitiateSipRequest, SipOptions,
)

import live_helpers as live
from test_vonage_app import app, routed, server, tls_env, token, video  # noqa: F401

RENDER = "5a1e0a4c-0000-4000-8000-00000000c001"
CAPTIONS = "5a1e0a4c-0000-4000-8000-00000000d001"
STREAM = "5a1e0a4c-0000-4000-8000-00000000e001"
CONNECTION = "5a1e0a4c-0000-4000-8000-00000000f001"


def _not(feature):
    return f"this Parlor server does not support {feature} yet"


SIP = _not("SIP interconnect")
DTMF = _not("SIP interconnect (DTMF)")
CAPTIONING = _not("live captions")
RENDERING = _not("Experience Composer")
AUDIO_CONNECTOR = _not("Audio Connector")


@pytest.fixture(scope="module")
def ctx(video):  # noqa: F811
    sid = routed(video)
    return {"sid": sid, "token": token(video, sid, role="moderator")}


@pytest.fixture(scope="module")
def http_log():
    log = live.HttpLog().install()
    yield log
    log.uninstall()


def check_501(video, http_log, compat, verb, path, message, call):  # noqa: F811
    mark = http_log.mark()
    err = None
    try:
        result = call()
    except Exception as e:  # the SDK's error for a 501, whatever its class
        err = e
        result = None
    xs = http_log.since(mark)
    listing = "\n".join(x.line() for x in xs)
    assert len(xs) == 1, listing
    x = xs[0]
    app_id = video.http_client.auth.application_id
    assert f"{x.method} {x.path}" == f"{verb} /v2/project/{app_id}{path}", listing
    assert x.status == 501, listing
    assert x.content_type == "application/json"
    assert json.loads(x.response_body) == {"code": 501, "message": message}
    compat.status = "501"
    compat.error_raised = err is not None
    if err is None:
        compat.message_surfaced = False
        compat.note = f"the SDK reported success ({result!r})"
    else:
        compat.message_surfaced = message in str(err)
        compat.note = f"{type(err).__name__}" + ("" if compat.message_surfaced else ": the message is not in the error")


@pytest.mark.sdk(method="initiate_sip_call", operation="Dial a SIP endpoint", feature="SIP interconnect")
def test_initiate_sip_call(video, ctx, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "POST", "/dial", SIP, lambda: video.initiate_sip_call(InitiateSipRequest(
        session_id=ctx["sid"], token=ctx["token"], sip=SipOptions(uri="sip:user@sip.example.com;transport=tls"))))


@pytest.mark.sdk(method="play_dtmf", operation="Play DTMF to a session", feature="SIP interconnect")
def test_play_dtmf_session(video, ctx, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "POST", f"/session/{ctx['sid']}/play-dtmf", DTMF,
              lambda: video.play_dtmf(ctx["sid"], "1234#"))


@pytest.mark.sdk(method="play_dtmf", operation="Play DTMF to one connection", feature="SIP interconnect")
def test_play_dtmf_connection(video, ctx, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "POST", f"/session/{ctx['sid']}/connection/{CONNECTION}/play-dtmf", DTMF,
              lambda: video.play_dtmf(ctx["sid"], "1234#", CONNECTION))


@pytest.mark.sdk(method="start_captions", operation="Start live captions", feature="captions")
def test_start_captions(video, ctx, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "POST", "/captions", CAPTIONING, lambda: video.start_captions(
        CaptionsOptions(session_id=ctx["sid"], token=ctx["token"])))


@pytest.mark.sdk(method="stop_captions", operation="Stop live captions", feature="captions")
def test_stop_captions(video, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "POST", f"/captions/{CAPTIONS}/stop", CAPTIONING,
              lambda: video.stop_captions(CaptionsData(captions_id=CAPTIONS)))


@pytest.mark.sdk(method="start_experience_composer", operation="Start an Experience Composer", feature="Experience Composer")
def test_start_experience_composer(video, ctx, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "POST", "/render", RENDERING, lambda: video.start_experience_composer(
        ExperienceComposerOptions(session_id=ctx["sid"], token=ctx["token"], url="https://example.com/composer")))


@pytest.mark.sdk(method="get_experience_composer", operation="Get an Experience Composer", feature="Experience Composer")
def test_get_experience_composer(video, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "GET", f"/render/{RENDER}", RENDERING,
              lambda: video.get_experience_composer(RENDER))


@pytest.mark.sdk(method="list_experience_composers", operation="List Experience Composers", feature="Experience Composer")
def test_list_experience_composers(video, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "GET", "/render", RENDERING, lambda: video.list_experience_composers())


@pytest.mark.sdk(method="stop_experience_composer", operation="Stop an Experience Composer", feature="Experience Composer")
def test_stop_experience_composer(video, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "DELETE", f"/render/{RENDER}", RENDERING,
              lambda: video.stop_experience_composer(RENDER))


@pytest.mark.sdk(method="start_audio_connector", operation="Connect audio to a WebSocket", feature="Audio Connector")
def test_start_audio_connector(video, ctx, http_log, compat):  # noqa: F811
    check_501(video, http_log, compat, "POST", "/connect", AUDIO_CONNECTOR, lambda: video.start_audio_connector(
        AudioConnectorOptions(session_id=ctx["sid"], token=ctx["token"],
                              websocket=AudioConnectorWebSocket(uri="wss://example.com/audio", streams=[STREAM]))))
