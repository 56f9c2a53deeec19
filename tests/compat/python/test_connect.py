"""Tokens minted by the official Python SDK connect a real client (`parlor client
subscribe`) to the session; refused ones fail with the server's reason."""

import json
import time

import pytest
from opentok import MediaModes, Roles

from parlor_helpers import PARLOR_BIN, python_token_claims, sign_jwt

import subprocess


def run_client(server, token, *extra, command="subscribe"):
    args = [PARLOR_BIN, "client", command, "--url", server.base_url, "--token", token, *extra]
    if command == "subscribe":
        args += ["--duration", "0.5", "--json"]
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def session_id(client):
    return client.create_session(media_mode=MediaModes.routed).session_id


@pytest.mark.parametrize("use_jwt", [True, False], ids=["jwt", "t1"])
@pytest.mark.parametrize("role", [Roles.publisher, Roles.subscriber, Roles.moderator])
def test_sdk_tokens_connect(server, client, session_id, role, use_jwt):
    token = client.generate_token(session_id, role=role, data="name=Py", use_jwt=use_jwt)
    r = run_client(server, token)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    connected = next(e for e in events if e["event"] == "sessionConnected")
    assert connected["connection"]["data"] == "name=Py"
    assert events[-1]["event"] == "summary"


def test_expired_token_is_refused_with_its_reason(server, session_id):
    now = int(time.time())
    token = sign_jwt(python_token_claims(session_id, iat=now - 600, exp=now - 60))
    r = run_client(server, token)
    assert r.returncode == 1
    assert "expired" in r.stderr


def test_token_for_another_session_is_refused(server, client, session_id):
    other = client.create_session(media_mode=MediaModes.routed).session_id
    token = client.generate_token(other)
    r = run_client(server, token, "--session", session_id)
    assert r.returncode == 1
    assert "wrong_session" in r.stderr


def test_subscriber_token_cannot_publish(server, client, session_id, tmp_path):
    token = client.generate_token(session_id, role=Roles.subscriber)
    video = tmp_path / "v.ivf"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1",
         "-c:v", "libvpx", "-f", "ivf", str(video)],
        check=True,
    )
    r = run_client(server, token, "--video", str(video), "--duration", "1", command="publish")
    assert r.returncode == 1
    assert "does not allow publishing" in r.stderr
