"""The Inspector API as a user's own tool reads it: docs/inspector-openapi.yaml is valid
OpenAPI 3.1 (openapi-spec-validator); with the `opentok` SDK's project JWT every path it
documents answers, and every answer validates against the schema it gives (jsonschema,
JSON Schema 2020-12 as OpenAPI 3.1 uses it), for a session with a real publisher and
subscriber (`parlor client`)."""

import pathlib
import time

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from live_helpers import make_media, publisher, remove_media, stop_all_clients, subscriber
from parlor_helpers import API_KEY, ParlorServer, auth_header

DOC = yaml.safe_load(
    (pathlib.Path(__file__).resolve().parents[3] / "docs" / "inspector-openapi.yaml").read_text()
)


@pytest.fixture(scope="module")
def server():
    srv = ParlorServer(extra_args=["--quality-interval", "1s"])
    yield srv
    stop_all_clients()
    assert srv.stop() == 0, srv.stderr_text()


def test_the_document_is_valid_openapi():
    validate_openapi(DOC)


def validator(path, status="200"):
    """A validator for the documented JSON answer of GET `path` with `status`."""
    op = DOC["paths"][path]["get"]["responses"][status]
    if "$ref" in op:
        op = DOC["components"]["responses"][op["$ref"].rsplit("/", 1)[1]]
    schema = dict(op["content"]["application/json"]["schema"])
    # Refs are to "#/components/...": resolve them in a root that has the components.
    schema["components"] = DOC["components"]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def get(server, path, **params):
    return requests.get(
        f"{server.base_url}{path}",
        params=params,
        headers={"X-OPENTOK-AUTH": auth_header()},
        timeout=10,
    )


def check(server, doc_path, real_path, **params):
    r = get(server, real_path, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    errors = sorted(validator(doc_path).iter_errors(body), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    return body


def test_every_documented_answer_matches_its_schema(server):
    from opentok import Client, MediaModes

    client = Client(API_KEY, server.api_secret, api_url=server.base_url)
    sid = client.create_session(media_mode=MediaModes.routed).session_id
    base = f"/v2/project/{API_KEY}/inspector/sessions"
    media = make_media()
    try:
        watcher = subscriber(server, client.generate_token(sid), "inspector watcher")
        publisher(server, client.generate_token(sid), media, name="inspected")
        watcher.wait_event("streamCreated")
        # Quality windows with a score on both sides (a window a second).
        deadline = time.monotonic() + 30
        while True:
            q = check(server, "/v2/project/{apiKey}/inspector/sessions/{sessionId}/quality",
                      f"{base}/{sid}/quality")
            sides = {s["side"] for s in q["items"] if s["summary"]["lastMos"] is not None}
            if sides == {"publisher", "subscriber"}:
                break
            assert time.monotonic() < deadline, q
            time.sleep(0.5)
        live = check(server, "/v2/project/{apiKey}/inspector/sessions/{sessionId}",
                     f"{base}/{sid}")
        assert live["live"] is True
        assert {c["sdk"] for c in live["connections"]} == {"parlor-client"}
        assert len(live["streams"]) == 1 and live["streams"][0]["name"] == "inspected"
    finally:
        stop_all_clients()
        remove_media(media)
    deadline = time.monotonic() + 20
    while True:
        ended = check(server, "/v2/project/{apiKey}/inspector/sessions/{sessionId}",
                      f"{base}/{sid}")
        if ended["meetings"] and ended["meetings"][0]["endedAt"] is not None:
            break
        assert time.monotonic() < deadline, ended
        time.sleep(0.5)
    assert ended["live"] is False
    assert ended["meetings"][0]["endReason"] == "lastConnectionLeft"
    assert all(c["leftAt"] is not None for c in ended["connections"])
    listed = check(server, "/v2/project/{apiKey}/inspector/sessions", base, count=10)
    assert sid in [s["sessionId"] for s in listed["items"]]
    events = check(server, "/v2/project/{apiKey}/inspector/sessions/{sessionId}/events",
                   f"{base}/{sid}/events")
    kinds = [e["kind"] for e in events["items"]]
    assert kinds[0] == "meetingStarted" and kinds[-1] == "meetingEnded", kinds
    for kind in ("connectionCreated", "streamCreated", "subscriptionCreated",
                 "streamDestroyed", "connectionDestroyed"):
        assert kind in kinds, kinds
    only = check(server, "/v2/project/{apiKey}/inspector/sessions/{sessionId}/events",
                 f"{base}/{sid}/events", kind="connectionCreated")
    assert [e["kind"] for e in only["items"]] == ["connectionCreated", "connectionCreated"]


def test_errors_are_the_documented_shape(server):
    r = get(server, f"/v2/project/{API_KEY}/inspector/sessions/nope")
    assert r.status_code == 404
    errors = list(validator("/v2/project/{apiKey}/inspector/sessions/{sessionId}", "404")
                  .iter_errors(r.json()))
    assert not errors, errors
    r = requests.get(f"{server.base_url}/v2/project/{API_KEY}/inspector/sessions", timeout=10)
    assert r.status_code == 401, r.text
