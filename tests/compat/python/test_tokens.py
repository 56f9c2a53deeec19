"""Live compatibility: tokens minted by the official `opentok` Python SDK, checked by Parlor's own
verifier (`parlor token verify`, reading the running server's database)."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from opentok import Client, MediaModes, Roles

from parlor_helpers import (
    API_KEY,
    API_SECRET,
    WRONG_SECRET,
    flip_jwt_signature,
    forge_session_id,
    join_t1,
    make_t1,
    python_t1_data,
    python_token_claims,
    sign_jwt,
    split_t1,
    t1_fields,
)

FORMATS = [("jwt", True), ("t1", False)]
FORMAT_IDS = [f[0] for f in FORMATS]


@pytest.fixture(scope="module")
def sessions(client):
    a = client.create_session().session_id
    b = client.create_session(media_mode=MediaModes.routed).session_id
    return a, b


def mint(client, session_id, use_jwt, **kwargs):
    token = client.generate_token(session_id, use_jwt=use_jwt, **kwargs)
    if use_jwt:
        assert token.count(".") == 2, token
    else:
        assert token.startswith("T1=="), token
    return token


def expect_valid(server, token, session, *, fmt, session_id, role, data=None, layout=(), expire):
    code, v, stderr = server.token_verify(token, session)
    assert code == 0, (v, stderr)
    assert v["valid"] is True
    assert v["format"] == fmt
    assert str(v["projectId"]) == API_KEY
    assert v["sessionId"] == session_id
    assert v["role"] == role
    assert v["data"] == data
    assert v["initialLayoutClassList"] == list(layout)
    assert isinstance(v["expireTime"], int)
    if isinstance(expire, tuple):
        assert expire[0] <= v["expireTime"] <= expire[1], (v["expireTime"], expire)
    else:
        assert v["expireTime"] == expire
    return v


def expect_rejected(server, token, session, reason):
    code, v, stderr = server.token_verify(token, session)
    assert v["valid"] is False, f"expected {reason}, got {v}"
    assert v["reason"] == reason, f"expected {reason}, got {v}"
    assert code == 1
    assert isinstance(v["message"], str) and v["message"]


def day_window():
    now = int(time.time())
    return (now + 86400 - 5, now + 86400 + 5)


# ---------- valid tokens ----------


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_default_token(server, client, sessions, fmt, use_jwt):
    a, _ = sessions
    window = day_window()
    token = mint(client, a, use_jwt)
    expect_valid(server, token, a, fmt=fmt, session_id=a, role="publisher", expire=window)
    expect_valid(server, token, None, fmt=fmt, session_id=a, role="publisher", expire=window)


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize(
    "role,wire",
    [
        (Roles.publisher, "publisher"),
        (Roles.subscriber, "subscriber"),
        (Roles.moderator, "moderator"),
        (Roles.publisher_only, "publisheronly"),
    ],
    ids=["publisher", "subscriber", "moderator", "publisheronly"],
)
def test_roles(server, client, sessions, fmt, use_jwt, role, wire):
    _, b = sessions
    token = mint(client, b, use_jwt, role=role)
    expect_valid(server, token, b, fmt=fmt, session_id=b, role=wire, expire=day_window())


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_data_layout_and_expiry_round_trip(server, client, sessions, fmt, use_jwt):
    a, _ = sessions
    expire = int(time.time()) + 3600
    data = 'name=Zoë & co: {"id":7} ~x+y%20z'
    token = mint(
        client, a, use_jwt,
        role=Roles.moderator, expire_time=expire, data=data, initial_layout_class_list=["focus", "full-width"],
    )
    expect_valid(server, token, a, fmt=fmt, session_id=a, role="moderator", data=data, layout=["focus", "full-width"], expire=expire)


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_expire_time_as_datetime(server, client, sessions, fmt, use_jwt):
    a, _ = sessions
    when = (datetime.now(timezone.utc) + timedelta(days=29)).replace(microsecond=0)
    token = mint(client, a, use_jwt, role=Roles.subscriber, expire_time=when)
    expect_valid(server, token, a, fmt=fmt, session_id=a, role="subscriber", expire=int(when.timestamp()))


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_data_of_exactly_1000_chars(server, client, sessions, fmt, use_jwt):
    a, _ = sessions
    data = "d" * 1000
    token = mint(client, a, use_jwt, data=data)
    expect_valid(server, token, a, fmt=fmt, session_id=a, role="publisher", data=data, expire=day_window())


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_data_of_1000_non_ascii_chars(server, client, sessions, fmt, use_jwt):
    """The limit counts characters, not bytes."""
    _, b = sessions
    data = "ü" * 1000
    token = mint(client, b, use_jwt, data=data)
    expect_valid(server, token, b, fmt=fmt, session_id=b, role="publisher", data=data, expire=day_window())


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_wrong_session(server, client, sessions, fmt, use_jwt):
    a, b = sessions
    expect_rejected(server, mint(client, a, use_jwt), b, "wrong_session")


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_unknown_session(server, client, sessions, fmt, use_jwt):
    a, _ = sessions
    ghost = forge_session_id(a)
    assert ghost != a
    expect_rejected(server, mint(client, ghost, use_jwt), None, "unknown_session")


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_unknown_project(server, sessions, fmt, use_jwt):
    a, _ = sessions
    other = Client("47009999", API_SECRET, api_url=server.base_url)
    ghost = forge_session_id(a, api_key="47009999")
    expect_rejected(server, other.generate_token(ghost, use_jwt=use_jwt), None, "unknown_project")


@pytest.mark.parametrize("fmt,use_jwt", FORMATS, ids=FORMAT_IDS)
def test_wrong_secret(server, sessions, fmt, use_jwt):
    a, _ = sessions
    bad = Client(API_KEY, WRONG_SECRET, api_url=server.base_url)
    expect_rejected(server, bad.generate_token(a, use_jwt=use_jwt), a, "bad_signature")


# ---------- crafted tokens (PyJWT with the Python SDK's claim set) ----------


def test_crafted_claims_sanity(server, sessions):
    """The crafting below is right: the unmodified claim set verifies."""
    a, _ = sessions
    claims = python_token_claims(a, role="subscriber", connection_data="crafted", initial_layout_class_list="x y")
    expect_valid(server, sign_jwt(claims), a, fmt="jwt", session_id=a, role="subscriber", data="crafted", layout=["x", "y"], expire=claims["exp"])
    exp = int(time.time()) + 900
    t1 = make_t1(python_t1_data(a, role="moderator", expire_time=exp, connection_data="c d"))
    expect_valid(server, t1, a, fmt="t1", session_id=a, role="moderator", data="c d", expire=exp)


def test_jwt_signature_flipped(server, client, sessions):
    a, _ = sessions
    token = mint(client, a, True, role=Roles.subscriber)
    tampered = flip_jwt_signature(token)
    assert tampered != token
    expect_rejected(server, tampered, a, "bad_signature")


def test_jwt_payload_altered(server, client, sessions):
    import base64
    import json

    a, _ = sessions
    token = mint(client, a, True, role=Roles.subscriber)
    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    assert claims["role"] == "subscriber"
    claims["role"] = "moderator"
    p2 = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    expect_rejected(server, f"{h}.{p2}.{s}", a, "bad_signature")


def test_t1_payload_altered(server, client, sessions):
    a, _ = sessions
    token = mint(client, a, False, role=Roles.subscriber)
    head, data = split_t1(token)
    assert "role=subscriber" in data
    expect_rejected(server, join_t1(head, data.replace("role=subscriber", "role=moderator")), a, "bad_signature")


def test_t1_expiry_altered(server, client, sessions):
    a, _ = sessions
    token = mint(client, a, False)
    head, data = split_t1(token)
    exp = t1_fields(token)["expire_time"]
    later = str(int(exp) + 86400 * 300)
    expect_rejected(server, join_t1(head, data.replace(f"expire_time={exp}", f"expire_time={later}")), a, "bad_signature")


def test_jwt_expired(server, sessions):
    a, _ = sessions
    past = int(time.time()) - 3600
    token = sign_jwt(python_token_claims(a, iat=past - 60, exp=past))
    expect_rejected(server, token, a, "expired")


def test_t1_expired(server, sessions):
    a, _ = sessions
    past = int(time.time()) - 3600
    expect_rejected(server, make_t1(python_t1_data(a, create_time=past - 60, expire_time=past)), a, "expired")


def test_jwt_data_too_long(server, sessions):
    a, _ = sessions
    expect_rejected(server, sign_jwt(python_token_claims(a, connection_data="x" * 1001)), a, "data_too_long")


def test_t1_data_too_long(server, sessions):
    a, _ = sessions
    expect_rejected(server, make_t1(python_t1_data(a, connection_data="x" * 1001)), a, "data_too_long")


def test_jwt_invalid_role(server, sessions):
    a, _ = sessions
    expect_rejected(server, sign_jwt(python_token_claims(a, role="admin")), a, "invalid_role")


def test_t1_invalid_role(server, sessions):
    a, _ = sessions
    expect_rejected(server, make_t1(python_t1_data(a, role="superuser")), a, "invalid_role")


def test_jwt_invalid_scope(server, sessions):
    a, _ = sessions
    expect_rejected(server, sign_jwt(python_token_claims(a, scope="session.admin")), a, "invalid_scope")


@pytest.mark.parametrize("token", ["hello", "T1==%%%%", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30"])
def test_malformed(server, token):
    expect_rejected(server, token, None, "malformed")
