"""Live compatibility: the official PyPI `telnyx` SDK (4.x) driving Parlor's Telnyx Video
Rooms API (`/v2`, credential `API key:API secret`): rooms (create, retrieve, update, delete,
list with filters and auto-pagination), join client tokens (generate, refresh), room
sessions and participants made by native clients joining (`parlor client ... --session
ROOM_ID --token JOIN_TOKEN`), and the session actions (end, kick, mute, unmute) with their
effect on those clients. Errors must be Telnyx's `{errors: [...]}` raised as the SDK's typed
errors; nothing may get a 5xx or a 409 (the SDK retries both). Rows and sessions appear
asynchronously: every wait polls, none sleeps.

Where the Python SDK sends something other than the Node one, the tests say so: a space in
a query value is `+`, `sessions.actions.end` sends `Content-Type: application/json` with an
empty body, and calls without parameters send `{}`."""
import json
import math
import re
import time
from datetime import date

import pytest
import telnyx

from live_helpers import make_media, remove_media, running_clients
from rooms_helpers import (
    UUID_RE,
    Recorder,
    check_errors,
    credential,
    expect_api_error,
    iso,
    iso_time,
    join_publisher,
    join_subscriber,
    jwt_payload,
    poll,
    random_uuid,
    raw,
    sdk_error,
    start_subscriber,
    telnyx_client,
    unique_name,
    utc_date,
)

DAY = 86400


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


@pytest.fixture(autouse=True)
def _stop_clients():
    """Stops the clients a test started."""
    before = running_clients()
    yield
    for c in running_clients() - before:
        c.stop()


# --- helpers --------------------------------------------------------------------------


def new_room(tx, **params):
    params.setdefault("unique_name", unique_name())
    return tx.rooms.create(**params).data


def join_token(tx, room_id, **params):
    return tx.rooms.actions.generate_join_client_token(room_id, **params).data


def room_ids(tx, **kw):
    return [r.id for r in tx.rooms.list(**kw)]


def active_session_of(tx, room_id):
    return poll(f"room {room_id} to get an active session",
                lambda: tx.rooms.retrieve(room_id).data.active_session_id)


def session_when(tx, session_id, what, pred):
    def check():
        s = tx.rooms.sessions.retrieve(session_id, include_participants=True).data
        return s if pred(s) else None
    return poll(f"session {session_id}: {what}", check)


def left_participant(tx, pid):
    def check():
        p = tx.room_participants.retrieve(pid).data
        return p if p.left_at else None
    return poll(f"participant {pid} to have left", check)


def participant_ids(tx, session_id, **kw):
    return sorted(p.id for p in tx.rooms.sessions.retrieve_participants(session_id, **kw))


def wire(log):
    """`data` of the last answer, as sent (timestamps as strings)."""
    return log.last().json["data"]


def check_room_wire(d):
    assert re.match(UUID_RE, d["id"]), d
    assert d["record_type"] == "room"
    iso_time(d["created_at"], "created_at")
    iso_time(d["updated_at"], "updated_at")


def check_session_wire(d, room_id):
    assert re.match(UUID_RE, d["id"]), d
    assert d["record_type"] == "room_session"
    assert d["room_id"] == room_id
    assert isinstance(d["active"], bool)
    iso_time(d["created_at"], "session created_at")
    iso_time(d["updated_at"], "session updated_at")
    if d["active"]:
        assert d.get("ended_at") is None, d
    else:
        iso_time(d["ended_at"], "ended_at")
    for p in d.get("participants") or []:
        assert p["record_type"] == "room_participant"
        assert p["session_id"] == d["id"]
        iso_time(p["joined_at"], "joined_at")
        iso_time(p["updated_at"], "participant updated_at")


def audio_off(stream_id):
    return lambda e: (e.get("stream", {}).get("streamId") == stream_id
                      and e.get("changedProperty") == "hasAudio" and e.get("newValue") is False)


def assert_none_before(server, tx, room_id, observer, name, pred, what):
    """Nothing matching `pred` reached `observer` before now: a new participant joins as a
    marker, and the room announces it (connectionCreated) after anything sent earlier."""
    m = join_subscriber(server, room_id, join_token(tx, room_id).token, "marker")
    at = observer.wait_event("connectionCreated", lambda e: e["connection"]["connectionId"] == m.participant_id)
    upto = observer.events.index(at)
    bad = next((e for e in observer.events[:upto] if e.get("event") == name and pred(e)), None)
    assert bad is None, f"{what}: {bad}"
    m.stop()


# --- rooms ----------------------------------------------------------------------------


def test_create_every_field_and_read_it_back(server, tx, log):
    params = dict(unique_name=unique_name("py-every"), max_participants=7, enable_recording=True,
                  webhook_event_url="https://example.com/telnyx/events",
                  webhook_event_failover_url="http://127.0.0.1:9/failover", webhook_timeout_secs=12)
    t0 = time.time()
    mark = log.mark()
    room = tx.rooms.create(**params).data
    x = log.one(mark, "POST", "/v2/rooms", 201)
    assert x.authorization == f"Bearer {credential(server)}"
    assert json.loads(x.request_body) == params
    d = x.json["data"]
    check_room_wire(d)
    for k, v in params.items():
        assert d[k] == v, k
        assert getattr(room, k) == v, k
    assert "active_session_id" in d and d["active_session_id"] is None, d
    assert abs(iso_time(d["created_at"]) - t0) < 5

    tx.rooms.retrieve(room.id)
    got = wire(log)
    for k in ("id", "unique_name", "max_participants", "enable_recording", "webhook_event_url",
              "webhook_event_failover_url", "webhook_timeout_secs", "active_session_id", "created_at",
              "updated_at", "record_type"):
        assert got[k] == d[k], k

    mark = log.mark()
    page = tx.rooms.list(filter={"unique_name": params["unique_name"]})
    lx = log.one(mark, "GET", "/v2/rooms", 200)
    assert lx.raw_query == f"filter%5Bunique_name%5D={params['unique_name']}"
    assert [r.id for r in page.data] == [room.id]
    assert lx.json["meta"] == {"page_number": 1, "page_size": 20, "total_pages": 1, "total_results": 1}


def test_create_without_parameters_sends_an_empty_object(tx, log):
    mark = log.mark()
    room = tx.rooms.create().data
    x = log.one(mark, "POST", "/v2/rooms", 201)
    assert x.request_body == b"{}"
    check_room_wire(x.json["data"])
    assert room.enable_recording is False
    assert isinstance(room.max_participants, int) and 1 <= room.max_participants <= 100
    assert room.active_session_id is None


@pytest.mark.parametrize("field,value", [
    ("max_participants", 0), ("max_participants", 101), ("max_participants", "ten"),
    ("webhook_event_url", "not a url"), ("webhook_event_url", "ftp://example.com/hook"),
    ("webhook_event_failover_url", "example.com/no-scheme"),
    ("webhook_timeout_secs", 31), ("webhook_timeout_secs", -1),
    ("enable_recording", "yes"),
])
def test_create_invalid_values_get_422_naming_the_field(tx, log, field, value):
    name = unique_name("py-invalid")
    expect_api_error(log, lambda: tx.rooms.create(unique_name=name, **{field: value}), [422],
                     pointer=f"/{field}", mentions=field)
    assert room_ids(tx, filter={"unique_name": name}) == [], "a refused create made a room"


def test_create_boundary_values(tx):
    for params in ({"max_participants": 2}, {"max_participants": 50}, {"webhook_timeout_secs": 0},
                   {"webhook_timeout_secs": 30}, {"webhook_event_url": "http://localhost:8080/hook"}):
        room = new_room(tx, **params)
        for k, v in params.items():
            assert getattr(room, k) == v, params


def test_duplicate_unique_name_is_422_10012_until_deleted(tx, log):
    name = unique_name("py-dup")
    first = new_room(tx, unique_name=name)
    expect_api_error(log, lambda: tx.rooms.create(unique_name=name), [422], code="10012", mentions="unique_name")
    other = new_room(tx)
    expect_api_error(log, lambda: tx.rooms.update(other.id, unique_name=name), [422], code="10012",
                     mentions="unique_name")
    assert tx.rooms.retrieve(other.id).data.unique_name == other.unique_name
    tx.rooms.delete(first.id)
    again = new_room(tx, unique_name=name)
    assert room_ids(tx, filter={"unique_name": name}) == [again.id]


def test_update_changes_only_what_was_sent(tx, log):
    room = new_room(tx, max_participants=5, webhook_event_url="https://example.com/a")
    mark = log.mark()
    upd = tx.rooms.update(room.id, max_participants=9, enable_recording=True, webhook_timeout_secs=3).data
    x = log.one(mark, "PATCH", f"/v2/rooms/{room.id}", 200)
    assert json.loads(x.request_body) == {"max_participants": 9, "enable_recording": True, "webhook_timeout_secs": 3}
    check_room_wire(x.json["data"])
    assert (upd.max_participants, upd.enable_recording, upd.webhook_timeout_secs) == (9, True, 3)
    assert (upd.unique_name, upd.webhook_event_url) == (room.unique_name, "https://example.com/a")
    assert upd.created_at == room.created_at
    assert upd.updated_at >= room.updated_at
    # No parameters: the SDK sends {}; nothing changes.
    mark = log.mark()
    assert tx.rooms.update(room.id).data.max_participants == 9
    assert log.one(mark, "PATCH", f"/v2/rooms/{room.id}", 200).request_body == b"{}"
    expect_api_error(log, lambda: tx.rooms.update(random_uuid(), max_participants=3), [404], code="10005")


@pytest.mark.parametrize("field,value", [
    ("max_participants", 0), ("max_participants", 101), ("webhook_event_url", "nope"), ("webhook_timeout_secs", 31),
])
def test_update_invalid_values_get_422_and_change_nothing(tx, log, field, value):
    room = new_room(tx, max_participants=5, webhook_event_url="https://example.com/a", webhook_timeout_secs=3)
    before = wire(log)
    expect_api_error(log, lambda: tx.rooms.update(room.id, **{field: value}), [422], pointer=f"/{field}", mentions=field)
    tx.rooms.retrieve(room.id)
    assert wire(log) == before, "a refused PATCH changed the room"


def test_delete_then_everything_is_404(tx, log):
    room = new_room(tx)
    mark = log.mark()
    assert tx.rooms.delete(room.id) is None
    x = log.one(mark, "DELETE", f"/v2/rooms/{room.id}", 204)
    assert x.response_body == ""
    expect_api_error(log, lambda: tx.rooms.retrieve(room.id), [404], code="10005")
    expect_api_error(log, lambda: tx.rooms.delete(room.id), [404], code="10005")
    expect_api_error(log, lambda: tx.rooms.actions.generate_join_client_token(room.id), [404], code="10005")
    assert room_ids(tx, filter={"unique_name": room.unique_name}) == []


# --- lists ----------------------------------------------------------------------------


def test_list_auto_pagination(tx, log):
    mine = [new_room(tx, unique_name=unique_name(f"py-page-{i}")).id for i in range(5)]
    first = tx.rooms.list(page_size=2)
    total = first.meta.total_results
    assert total >= 5
    assert log.last().json["meta"] == {"page_number": 1, "page_size": 2, "total_pages": math.ceil(total / 2),
                                       "total_results": total}
    mark = log.mark()
    ids = [r.id for r in tx.rooms.list(page_size=2)]
    xs = log.since(mark)
    assert len(ids) == len(set(ids)) == total, ids
    assert set(mine) <= set(ids)
    assert len(xs) == math.ceil(total / 2) >= 3, "\n".join(x.line() for x in xs)
    for i, x in enumerate(xs, start=1):
        assert (x.method, x.path, x.status) == ("GET", "/v2/rooms", 200), x.line()
        assert "page%5Bsize%5D=2" in x.raw_query, x.raw_query
        if i > 1:
            assert f"page[number]={i}" in x.query, x.query
        assert x.json["meta"]["page_number"] == i
    second = tx.rooms.list(page_size=2, page_number=2)
    assert [r.id for r in second.data] == ids[2:4]
    past = tx.rooms.list(page_size=2, page_number=first.meta.total_pages + 1)
    assert past.data == []
    assert [r.id for r in tx.rooms.list(page_size=250).data] == ids


@pytest.mark.parametrize("param,value", [
    ("page[size]", 0), ("page[size]", 251), ("page[size]", "x"), ("page[number]", 0), ("page[number]", "x"),
])
def test_list_bad_page_values(tx, log, param, value):
    # Integers through the SDK's own keyword (page_size / page_number), others as extra_query.
    if isinstance(value, int):
        kw = {"page_size" if param == "page[size]" else "page_number": value}
    else:
        kw = {"extra_query": {param: value}}
    expect_api_error(log, lambda: tx.rooms.list(**kw), [400, 422], parameter=param)


def test_list_filters(tx, log):
    # Python encodes a space as '+', and a literal '+' as %2B.
    name = f"{unique_name('py odd')} a+b&c=d/é?"
    room = new_room(tx, unique_name=name)
    d = wire(log)
    mark = log.mark()
    assert room_ids(tx, filter={"unique_name": name}) == [room.id]
    assert "+" in log.since(mark)[0].raw_query  # the space
    assert room_ids(tx, filter={"unique_name": name + "x"}) == []

    created = iso_time(d["created_at"])
    day = date.fromisoformat(utc_date(created))
    cases = [
        ({"date_created_at": {"eq": day}}, True),  # a datetime.date: the SDK sends YYYY-MM-DD
        ({"date_created_at": {"eq": date.fromordinal(day.toordinal() - 1)}}, False),
        ({"date_created_at": {"eq": d["created_at"]}}, True),
        ({"date_created_at": {"gte": iso(created - 60)}}, True),
        ({"date_created_at": {"gte": iso(created + 3600)}}, False),
        ({"date_created_at": {"lte": iso(created + 3600)}}, True),
        ({"date_created_at": {"lte": iso(created - 3600)}}, False),
        ({"date_created_at": {"lte": utc_date(created - DAY)}}, False),
        ({"date_updated_at": {"gte": iso(created - 60)}}, True),
        ({"date_updated_at": {"eq": day}}, True),
    ]
    for flt, expected in cases:
        got = room.id in room_ids(tx, filter={"unique_name": name, **flt})
        assert got == expected, f"filter {flt} (created_at {d['created_at']}): {log.last().line()}"
    expect_api_error(log, lambda: tx.rooms.list(filter={"date_created_at": {"eq": "yesterday"}}), [400, 422],
                     parameter="filter[date_created_at][eq]")


# --- credentials and malformed requests --------------------------------------------------


@pytest.mark.parametrize("what", ["key only", "wrong secret", "garbage", "none"])
def test_bad_credentials_get_401_10009(server, log, what):
    api_key = {
        "key only": server.api_key,
        "wrong secret": f"{server.api_key}:{'0' * len(server.api_secret)}",
        "garbage": "not-a-credential",
        "none": None,
    }[what]
    bad = telnyx_client(server, log, api_key=api_key)
    mark = log.mark()
    expect_api_error(log, lambda: bad.rooms.list(), [401], code="10009")
    expect_api_error(log, lambda: bad.rooms.create(unique_name=unique_name("py-unauth")), [401], code="10009")
    assert log.since(mark)[0].authorization == (None if api_key is None else f"Bearer {api_key}")


def test_join_token_is_no_api_credential(server, tx, log):
    token = join_token(tx, new_room(tx).id).token
    expect_api_error(log, lambda: telnyx_client(server, log, api_key=token).rooms.list(), [401], code="10009")


def test_malformed_json_is_400(server, tx, log):
    room = new_room(tx)
    for method, path in (("POST", "/v2/rooms"), ("PATCH", f"/v2/rooms/{room.id}")):
        r = raw(server, log, method, path, body='{"unique_name": ')
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/json")
        check_errors(r.json())
    r = raw(server, log, "POST", "/v2/rooms", body="[1, 2]")
    assert r.status_code in (400, 422), r.text
    check_errors(r.json())


def test_unknown_and_malformed_ids(tx, log):
    rid = random_uuid()
    expect_api_error(log, lambda: tx.rooms.retrieve(rid), [404], code="10005")
    expect_api_error(log, lambda: tx.rooms.sessions.retrieve(rid), [404], code="10005")
    expect_api_error(log, lambda: tx.room_participants.retrieve(rid), [404], code="10005")
    for action in ("end", "kick", "mute", "unmute"):
        fn = getattr(tx.rooms.sessions.actions, action)
        expect_api_error(log, (lambda: fn(rid)) if action == "end" else (lambda: fn(rid, participants="all")),
                         [404], code="10005")
    for bad in ("not-a-uuid", "12345"):
        for call in (lambda: tx.rooms.retrieve(bad), lambda: tx.rooms.sessions.retrieve(bad)):
            check_errors(sdk_error(call, 400, 404, 422).body)


# --- join client tokens ---------------------------------------------------------------


def test_generate_join_client_token(tx, log):
    room = new_room(tx)
    for params, ttl, refresh_ttl in (({}, 600, 3600), ({"token_ttl_secs": 10, "refresh_token_ttl_secs": 60}, 10, 60),
                                     ({"token_ttl_secs": 3600, "refresh_token_ttl_secs": 86400}, 3600, 86400)):
        t0 = time.time()
        mark = log.mark()
        tok = join_token(tx, room.id, **params)
        x = log.one(mark, "POST", f"/v2/rooms/{room.id}/actions/generate_join_client_token", 201)
        assert json.loads(x.request_body) == params
        d = x.json["data"]
        assert isinstance(d["token"], str) and isinstance(d["refresh_token"], str) and d["token"] != d["refresh_token"]
        exp, rexp = iso_time(d["token_expires_at"]), iso_time(d["refresh_token_expires_at"])
        assert abs(exp - (t0 + ttl)) < 5, (params, d)
        assert abs(rexp - (t0 + refresh_ttl)) < 5, (params, d)
        claims = jwt_payload(tok.token)
        assert abs(claims["exp"] - exp) <= 1
        resources = [r for g in claims.get("grants", []) for r in g.get("resources", [])]
        assert f"telnyx:video:rooms:{room.id}" in resources, claims
    for field, value in (("token_ttl_secs", 9), ("token_ttl_secs", 3601), ("refresh_token_ttl_secs", 59),
                         ("refresh_token_ttl_secs", 86401)):
        expect_api_error(log, lambda: tx.rooms.actions.generate_join_client_token(room.id, **{field: value}), [422],
                         mentions=field)


def test_refresh_client_token(server, tx, log):
    room = new_room(tx)
    other = new_room(tx)
    issued = join_token(tx, room.id)
    tokens = []
    for params in ({"refresh_token": issued.refresh_token, "token_ttl_secs": 30},
                   {"refresh_token": issued.refresh_token}):
        t0 = time.time()
        mark = log.mark()
        tokens.append(tx.rooms.actions.refresh_client_token(room.id, **params).data.token)
        x = log.one(mark, "POST", f"/v2/rooms/{room.id}/actions/refresh_client_token")
        assert x.status in (200, 201), x.line()
        assert json.loads(x.request_body) == params
        exp = iso_time(x.json["data"]["token_expires_at"])
        assert abs(exp - (t0 + params.get("token_ttl_secs", 600))) < 5, x.line()
        assert abs(jwt_payload(tokens[-1])["exp"] - exp) <= 1
    join_subscriber(server, room.id, tokens[0], "refreshed").stop()
    for what, refresh in (("garbage", "garbage"), ("an access token", issued.token),
                          ("another room's refresh token", join_token(tx, other.id).refresh_token)):
        err = sdk_error(lambda: tx.rooms.actions.refresh_client_token(room.id, refresh_token=refresh), 401, 422)
        check_errors(err.body)
    expect_api_error(log, lambda: tx.rooms.actions.refresh_client_token(
        room.id, refresh_token=issued.refresh_token, token_ttl_secs=3601), [422], mentions="token_ttl_secs")


def test_join_token_joins_its_own_room_only(server, tx):
    a, b = new_room(tx), new_room(tx)
    tok = join_token(tx, a.id).token
    wrong = start_subscriber(server, b.id, tok, "token of A in B")
    assert wrong.wait_exit() != 0, wrong.describe()
    assert not any(e.get("event") == "sessionConnected" for e in wrong.events), wrong.describe()
    join_subscriber(server, a.id, tok, "token of A in A").stop()


# --- sessions and participants -----------------------------------------------------------


def test_session_lifecycle_and_lists(server, tx, log):
    room = new_room(tx)
    a = join_subscriber(server, room.id, join_token(tx, room.id).token, "A")
    sid = active_session_of(tx, room.id)
    b = join_subscriber(server, room.id, join_token(tx, room.id).token, "B")
    s = session_when(tx, sid, "both participants", lambda v: len(v.participants or []) == 2)
    check_session_wire(wire(log), room.id)
    assert s.active is True
    assert sorted(p.id for p in s.participants) == sorted([a.participant_id, b.participant_id])
    for p in wire(log)["participants"]:
        assert p["context"] is None and p["left_at"] is None, p
    assert participant_ids(tx, sid) == sorted([a.participant_id, b.participant_id])
    assert sorted(p.id for p in tx.room_participants.list(filter={"session_id": sid})) == \
        sorted([a.participant_id, b.participant_id])
    assert tx.room_participants.retrieve(a.participant_id).data.session_id == sid
    assert participant_ids(tx, sid, filter={"context": "nobody has this"}) == []
    room_now = tx.rooms.retrieve(room.id, include_sessions=True).data
    assert room_now.active_session_id == sid
    assert [x.id for x in room_now.sessions or []] == [sid]

    a.stop()
    left = left_participant(tx, a.participant_id)
    assert left.left_at >= left.joined_at
    assert tx.rooms.sessions.retrieve(sid).data.active is True
    b.stop()
    ended = session_when(tx, sid, "to end", lambda v: v.active is False)
    check_session_wire(wire(log), room.id)
    assert all(p.left_at for p in ended.participants)
    poll("the room to lose its active session", lambda: tx.rooms.retrieve(room.id).data.active_session_id is None)
    assert wire(log)["active_session_id"] is None

    c = join_subscriber(server, room.id, join_token(tx, room.id).token, "C")
    sid2 = active_session_of(tx, room.id)
    assert sid2 != sid
    mark = log.mark()
    assert sorted(x.id for x in tx.rooms.sessions.list_0(filter={"room_id": room.id, "active": True})) == [sid2]
    assert log.since(mark)[0].query == f"filter[room_id]={room.id}&filter[active]=true"
    assert sorted(x.id for x in tx.rooms.sessions.list_0(filter={"room_id": room.id, "active": False})) == [sid]
    assert sorted(x.id for x in tx.rooms.sessions.list_1(room.id)) == sorted([sid, sid2])
    assert [x.id for x in tx.rooms.sessions.list_1(room.id, filter={"active": False})] == [sid]
    ended_at = ended.ended_at.timestamp()
    assert [x.id for x in tx.rooms.sessions.list_1(room.id, filter={"date_ended_at": {"gte": iso(ended_at - 60)}})] == [sid]
    assert [x.id for x in tx.rooms.sessions.list_1(
        room.id, filter={"date_created_at": {"gte": iso(time.time() + 3600)}})] == []
    joined = tx.room_participants.retrieve(c.participant_id).data.joined_at.timestamp()
    assert participant_ids(tx, sid2, filter={"date_joined_at": {"gte": iso(joined - 60)}}) == [c.participant_id]
    assert participant_ids(tx, sid2, filter={"date_joined_at": {"gte": iso(joined + 3600)}}) == []
    c.stop()


def test_max_participants(server, tx):
    room = new_room(tx, max_participants=2)
    a = join_subscriber(server, room.id, join_token(tx, room.id).token, "A")
    b = join_subscriber(server, room.id, join_token(tx, room.id).token, "B")
    sid = active_session_of(tx, room.id)
    third = start_subscriber(server, room.id, join_token(tx, room.id).token, "third")
    assert third.wait_exit() != 0, third.describe()
    assert re.search(r"max(imum)?[_ ]participants|limit|full", third.stderr, re.I), third.describe()
    assert participant_ids(tx, sid) == sorted([a.participant_id, b.participant_id])
    a.stop()
    left_participant(tx, a.participant_id)
    join_subscriber(server, room.id, join_token(tx, room.id).token, "C").stop()
    b.stop()


# --- session actions -----------------------------------------------------------------------


def test_end_disconnects_everyone(server, tx, log):
    room = new_room(tx)
    a = join_subscriber(server, room.id, join_token(tx, room.id).token, "A")
    b = join_subscriber(server, room.id, join_token(tx, room.id).token, "B")
    sid = active_session_of(tx, room.id)
    mark = log.mark()
    r = tx.rooms.sessions.actions.end(sid)
    x = log.one(mark, "POST", f"/v2/room_sessions/{sid}/actions/end", 200)
    # The Python SDK sends Content-Type: application/json with an empty body here.
    assert x.request_body == b"", x.line()
    assert x.json == {"data": {"result": "ok"}}
    assert r.data.result == "ok"
    for c in (a, b):
        c.wait_event("sessionDisconnected")
        c.wait_exit()
    s = session_when(tx, sid, "to end", lambda v: v.active is False)
    assert s.ended_at is not None and all(p.left_at for p in s.participants)
    assert tx.rooms.retrieve(room.id).data.active_session_id is None
    expect_api_error(log, lambda: tx.rooms.sessions.actions.end(sid), [422])
    expect_api_error(log, lambda: tx.rooms.sessions.actions.kick(sid, participants="all"), [422])
    expect_api_error(log, lambda: tx.rooms.sessions.actions.mute(sid, participants="all"), [422])


def test_kick_listed_then_all_but_excluded(server, tx, log):
    room = new_room(tx)
    a, b, c = (join_subscriber(server, room.id, join_token(tx, room.id).token, n) for n in "ABC")
    sid = active_session_of(tx, room.id)
    assert tx.rooms.sessions.actions.kick(sid, participants=[a.participant_id]).data.result == "ok"
    assert json.loads(log.last().request_body) == {"participants": [a.participant_id]}
    a.wait_exit()
    left_participant(tx, a.participant_id)
    assert tx.rooms.sessions.actions.kick(sid, participants="all", exclude=[b.participant_id]).data.result == "ok"
    assert json.loads(log.last().request_body) == {"participants": "all", "exclude": [b.participant_id]}
    c.wait_exit()
    left_participant(tx, c.participant_id)
    d = join_subscriber(server, room.id, join_token(tx, room.id).token, "D")
    b.wait_event("connectionCreated", lambda e: e["connection"]["connectionId"] == d.participant_id)
    assert b.exit_code is None, b.describe()
    assert tx.room_participants.retrieve(b.participant_id).data.left_at is None
    b.stop()
    d.stop()


def test_mute_all_list_and_exclusions_then_unmute(server, tx, log, media):
    room = new_room(tx)
    observer = join_subscriber(server, room.id, join_token(tx, room.id).token, "observer")
    pa = join_publisher(server, room.id, join_token(tx, room.id).token, media, "A")
    pb = join_publisher(server, room.id, join_token(tx, room.id).token, media, "B (never muted)")
    pc = join_publisher(server, room.id, join_token(tx, room.id).token, media, "C")
    for p in (pa, pb, pc):
        ev = observer.wait_event("streamCreated", lambda e, p=p: e["stream"]["streamId"] == p.stream_id)
        assert ev["stream"]["hasAudio"] is True
    sid = active_session_of(tx, room.id)

    assert tx.rooms.sessions.actions.mute(sid, participants=[pa.participant_id]).data.result == "ok"
    observer.wait_event("streamPropertyChanged", audio_off(pa.stream_id))
    pa.wait_stderr(r"a moderator muted the stream")
    assert_none_before(server, tx, room.id, observer, "streamPropertyChanged",
                       lambda e: audio_off(pb.stream_id)(e) or audio_off(pc.stream_id)(e),
                       "a participant not listed was muted")
    mark = log.mark()
    assert tx.rooms.sessions.actions.mute(sid, participants="all", exclude=[pb.participant_id]).data.result == "ok"
    x = log.one(mark, "POST", f"/v2/room_sessions/{sid}/actions/mute", 200)
    assert json.loads(x.request_body) == {"participants": "all", "exclude": [pb.participant_id]}
    observer.wait_event("streamPropertyChanged", audio_off(pc.stream_id))
    pc.wait_stderr(r"a moderator muted the stream")
    assert_none_before(server, tx, room.id, observer, "streamPropertyChanged", audio_off(pb.stream_id),
                       "the excluded participant was muted")
    assert "a moderator muted the stream" not in pb.stderr

    for kw in ({"participants": "all"}, {}):
        mark = log.mark()
        assert tx.rooms.sessions.actions.unmute(sid, **kw).data.result == "ok"
        x = log.one(mark, "POST", f"/v2/room_sessions/{sid}/actions/unmute", 200)
        assert json.loads(x.request_body) == kw
    # mute without parameters: the SDK sends {} (everyone).
    mark = log.mark()
    assert tx.rooms.sessions.actions.mute(sid).data.result == "ok"
    assert log.one(mark, "POST", f"/v2/room_sessions/{sid}/actions/mute", 200).request_body == b"{}"
    observer.wait_event("streamPropertyChanged", audio_off(pb.stream_id))


def test_delete_room_with_a_participant(server, tx, log):
    room = new_room(tx)
    first, second = join_token(tx, room.id), join_token(tx, room.id)
    a = join_subscriber(server, room.id, first.token, "A")
    active_session_of(tx, room.id)
    tx.rooms.delete(room.id)
    a.wait_event("sessionDisconnected")
    a.wait_exit()
    again = start_subscriber(server, room.id, second.token, "rejoin")
    assert again.wait_exit() != 0, again.describe()
    assert not any(e.get("event") == "sessionConnected" for e in again.events), again.describe()
    expect_api_error(log, lambda: tx.rooms.retrieve(room.id), [404], code="10005")
    expect_api_error(log, lambda: tx.rooms.actions.generate_join_client_token(room.id), [404], code="10005")


def test_no_request_got_a_5xx_or_409(log):
    bad = log.server_errors()
    assert bad == [], "\n".join(x.line() for x in bad)
