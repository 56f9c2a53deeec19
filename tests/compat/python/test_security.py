"""Live security checks with the official `opentok` Python SDK against a real Parlor server:
client tokens (both formats, every role) are never REST credentials, the REST JWT the SDK
sends as X-OPENTOK-AUTH is never a client token, REST JWTs live at most 24 h, and a JWT header
with `crit` is refused. The SDK's own calls keep working throughout.

No test here carries the `sdk` marker, so nothing is recorded to results/ (conftest.py)."""
import base64
import hashlib
import hmac
import http.client
import http.server
import subprocess
import threading
import json
import time
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from opentok import Client, MediaModes, Roles

from live_helpers import marker, running_clients, subscriber
from parlor_helpers import API_KEY, API_SECRET, PARLOR_BIN

ROLES = [Roles.publisher, Roles.subscriber, Roles.moderator, Roles.publisher_only]
# generate_token(..., use_jwt=True) is a JWT, use_jwt=False the legacy T1 (opentok 3.x).
FORMATS = [("jwt", True), ("t1", False)]
# The claims that make a JWT a client token (docs/protocol.md §2.2, step 4).
CLIENT_CLAIMS = {"session_id", "scope", "role", "connection_data", "initial_layout_class_list",
                 "nonce", "create_time", "expire_time"}


@pytest.fixture(scope="module")
def sid(client):
    return client.create_session(media_mode=MediaModes.routed).session_id


@pytest.fixture(autouse=True)
def _stop_clients():
    before = running_clients()
    yield
    for c in running_clients() - before:
        c.stop()


def rest(server, method, path, auth, body=None):
    """One REST request with `auth` as X-OPENTOK-AUTH."""
    return requests.request(method, server.base_url + path, json=body, timeout=10,
                            headers={"X-OPENTOK-AUTH": auth, "Accept": "application/json"})


def assert_refused(r, needle, what):
    dump = f"{what}: {r.status_code} {r.headers.get('Content-Type')} {r.text}"
    assert r.status_code == 403, dump
    assert r.headers.get("Content-Type") == "application/json", dump
    body = r.json()
    assert body["code"] == 403, dump
    assert isinstance(body["message"], str), dump
    assert needle in body["message"], dump


def endpoints(sid, connection_id):
    """The endpoints every credential is tried on (the DELETE names `connection_id`)."""
    return [
        ("POST", "/session/create", None),
        ("POST", f"/v2/project/{API_KEY}/session/{sid}/signal", {"type": "x", "data": "y"}),
        ("DELETE", f"/v2/project/{API_KEY}/session/{sid}/connection/{connection_id}", None),
    ]


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def decode(token):
    """(header, claims) without verifying (PyJWT would refuse a `crit` header itself)."""
    h, p, _ = token.split(".")
    return json.loads(_unb64url(h)), json.loads(_unb64url(p))


def sign_hs256(header, claims, secret=API_SECRET):
    """HS256 over a hand-written header (PyJWT interprets `crit`/`b64` itself)."""
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(mac)}"


def test_client_tokens_are_refused_as_rest_credentials_and_the_sdk_keeps_working(server, client, sid):
    # A live member, so that an accepted DELETE or signal would be visible.
    member = subscriber(server, client.generate_token(sid, role=Roles.subscriber, data="member"), "member")
    tried = 0
    for fmt, use_jwt in FORMATS:
        for role in ROLES:
            token = client.generate_token(sid, role=role, data=f"role={role.value}", use_jwt=use_jwt)
            if use_jwt:
                assert token.count(".") == 2, token
                _, claims = decode(token)
                # Same iss/ist as a REST JWT; the client claims tell it apart.
                assert claims["iss"] == API_KEY and claims["ist"] == "project", claims
                assert claims["session_id"] == sid and claims["role"] == role.value, claims
            else:
                assert token.startswith("T1=="), token
            # A genuine client token: Parlor's own verifier accepts it for this session.
            code, v, stderr = server.token_verify(token, sid)
            assert code == 0 and v["valid"] is True and v["role"] == role.value, (fmt, role, v, stderr)
            for method, path, body in endpoints(sid, member.connection_id):
                assert_refused(rest(server, method, path, token, body), "client token",
                               f"{fmt} {role.value} token on {method} {path}")
                tried += 1
    assert tried == 2 * 4 * 3

    # Nothing the refused requests asked for happened: the member is still connected and got
    # no 'x' signal. The SDK's own signal (a marker, to that very connection) arrives, in order.
    m = marker()
    client.send_signal(sid, {"type": m, "data": m}, member.connection_id)
    at = member.wait_event("signal", lambda e: e["type"] == m)
    earlier = member.events[: member.events.index(at)]
    leaked = [e for e in earlier if e.get("event") == "signal" and e.get("type") == "x"]
    assert leaked == [], f"a refused signal was delivered: {leaked}"
    assert not any(e.get("event") == "sessionDisconnected" for e in member.events), member.describe()
    assert member.exit_code is None, member.describe()

    # The SDK's own calls on the same endpoints work: create_session, send_signal (above),
    # force_disconnect.
    assert client.create_session().session_id.startswith(("1_", "2_"))
    client.force_disconnect(sid, member.connection_id)
    gone = member.wait_event("sessionDisconnected")
    assert gone["reason"] == "forceDisconnected", gone
    member.wait_exit()


class _CapturingProxy:
    """A local HTTP proxy in front of the real server recording each request's
    X-OPENTOK-AUTH; the SDK's calls through it succeed, so what it captured is a working
    credential."""

    def __init__(self, upstream):
        up = urlsplit(upstream)
        captured = self.captured = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                captured.append((self.command, self.path, self.headers.get("X-OPENTOK-AUTH")))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "content-length")}
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=10)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    res = conn.getresponse()
                    data = res.read()
                    self.send_response(res.status)
                    for k, v in res.getheaders():
                        if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_sdks_rest_jwt_is_refused_as_a_client_token(server, client, sid):
    proxy = _CapturingProxy(server.base_url)
    try:
        via_proxy = Client(API_KEY, API_SECRET, api_url=proxy.url)
        session = via_proxy.create_session(media_mode=MediaModes.routed).session_id
        via_proxy.send_signal(session, {"type": "hello", "data": "via proxy"})
    finally:
        proxy.close()
    assert [(m, p) for m, p, _ in proxy.captured] == [
        ("POST", "/session/create"),
        ("POST", f"/v2/project/{API_KEY}/session/{session}/signal"),
    ]
    for _, _, auth in proxy.captured:
        assert isinstance(auth, str), "the SDK sent no X-OPENTOK-AUTH"
        header, claims = decode(auth)
        jwt.decode(auth, API_SECRET, algorithms=["HS256"])  # signed with the API secret
        assert header["alg"] == "HS256", header
        assert claims["iss"] == API_KEY and claims["ist"] == "project", claims
        assert "jti" in claims, claims
        assert not CLIENT_CLAIMS & claims.keys(), claims
        # Client._create_jwt_auth_header: exp = iat + 60 * jwt_livetime (3 minutes).
        assert claims["exp"] - claims["iat"] == 180, claims
        # Parlor's verifier refuses it as a client token, for the session it was used on and ours.
        for s in (session, sid):
            code, v, _ = server.token_verify(auth, s)
            assert code == 1, v
            assert v["valid"] is False and v["reason"] == "rest_credential", v
            assert isinstance(v["message"], str) and v["message"], v

    # The SDK's header builder (Client.get_headers -> _create_jwt_auth_header), called directly.
    direct = client.get_headers()["X-OPENTOK-AUTH"]
    assert decode(direct)[1].keys() == decode(proxy.captured[0][2])[1].keys()
    assert rest(server, "POST", "/session/create", direct).status_code == 200
    code, v, _ = server.token_verify(direct, sid)
    assert (code, v["valid"], v["reason"]) == (1, False, "rest_credential"), v

    # A live client cannot join with it either (a REST JWT names no session: --session).
    r = subprocess.run([PARLOR_BIN, "client", "subscribe", "--url", server.base_url, "--token", direct,
                        "--session", sid, "--duration", "0.5", "--json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "rest_credential" in r.stderr, r.stderr
    assert '"event":"sessionConnected"' not in r.stdout, r.stdout


def _rest_jwt(exp, header=None):
    now = int(time.time())
    claims = {"iss": API_KEY, "ist": "project", "iat": now, "exp": exp}
    return sign_hs256(header or {"alg": "HS256", "typ": "JWT"}, claims)


def test_rest_jwts_live_at_most_24_hours(server, sid):
    now = int(time.time())
    for exp in (now + 2 * 86400, now + 86400 + 3600):
        for method, path, body in endpoints(sid, "no-such-connection"):
            assert_refused(rest(server, method, path, _rest_jwt(exp), body), "at most 86400 s",
                           f"exp now+{exp - now} on {method} {path}")
    # The same JWT with a 24 h lifetime is a working credential.
    day = _rest_jwt(now + 86400)
    r = rest(server, "POST", "/session/create", day)
    assert r.status_code == 200, r.text
    r = rest(server, "POST", f"/v2/project/{API_KEY}/session/{sid}/signal", day, {"type": "x", "data": "y"})
    assert r.status_code == 204, r.text


def test_rest_jwt_with_crit_header_is_refused(server, sid):
    exp = int(time.time()) + 60
    for header in (
        {"alg": "HS256", "typ": "JWT", "crit": ["b64"], "b64": False},
        {"alg": "HS256", "typ": "JWT", "crit": ["exp"]},
    ):
        token = _rest_jwt(exp, header)
        for method, path, body in endpoints(sid, "no-such-connection"):
            assert_refused(rest(server, method, path, token, body), "crit",
                           f"header {header} on {method} {path}")
    # Without crit the same claims are accepted.
    r = rest(server, "POST", "/session/create", _rest_jwt(exp))
    assert r.status_code == 200, r.text
