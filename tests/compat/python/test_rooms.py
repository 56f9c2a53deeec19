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
empty body, and calls without parameters send `{}`.

Each test but the last records its result for the SDK method it checks (`@records`, a plugin
in rooms_helpers.py: results/telnyx-python-rooms.json, rendered by compat_table.py); tests of
one scenario share what an earlier one made (`shared`, `need`), and the clients an earlier
test left running for a later one (`keep`)."""
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
    records,
    sdk_error,
    start_subscriber,
    telnyx_client,
    unique_name,
    utc_date,
)

# The plugin that records each test's result (rooms_helpers.pytest_runtest_makereport, …).
pytest_plugins = ("rooms_helpers",)

DAY = 86400
ROOMS = "rooms"
TOKENS = "join tokens"
SESSIONS = "room sessions"
PARTICIPANTS = "participants"
ACTIONS = "session actions"
ERRORS = "errors"

# What a test made for the later tests of its scenario.
shared = {}
# Clients left running for a later test (which stops them); the others stop with their test.
kept = set()


def need(key, what):
    assert key in shared, f"setup: {what} (made by an earlier test) is missing"
    return shared[key]


def keep(*clients):
    kept.update(clients)
    return clients


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


@pytest.fixture(scope="module", autouse=True)
def _stop_kept_clients():
    yield
    for c in list(kept):
        c.stop()
    kept.clear()


@pytest.fixture(autouse=True)
def _stop_clients():
    """Stops the clients a test started, but those it kept for a later test."""
    before = running_clients()
    yield
    for c in running_clients() - before - kept:
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


@records("rooms.create", "Create a room", ROOMS)
def test_create_every_field(server, tx, log, compat):
    params = dict(unique_name=unique_name("py-every"), max_participants=7, enable_recording=True,
                  webhook_event_url="https://example.com/telnyx/events",
                  webhook_event_failover_url="http://127.0.0.1:9/failover", webhook_timeout_secs=12)
    t0 = time.time()
    mark = log.mark()
    room = tx.rooms.create(**params).data
    x = log.one(mark, "POST", "/v2/rooms", 201)
    shared["every field"] = (params, room, x.json["data"])
    assert x.authorization == f"Bearer {credential(server)}"
    assert json.loads(x.request_body) == params
    d = x.json["data"]
    check_room_wire(d)
    for k, v in params.items():
        assert d[k] == v, k
        assert getattr(room, k) == v, k
    assert "active_session_id" in d and d["active_session_id"] is None, d
    assert abs(iso_time(d["created_at"]) - t0) < 5
    compat.note = ("POST /v2/rooms with every field, Bearer `key:secret`: 201 JSON, the body as given; the room has "
                   "every field as sent (on the wire and in the SDK's model), active_session_id null, created_at "
                   "within the call")


@records("rooms.retrieve", "Retrieve a room", ROOMS)
def test_retrieve_reads_the_room_back(tx, log, compat):
    _, room, d = need("every field", "the room created with every field")
    tx.rooms.retrieve(room.id)
    got = wire(log)
    for k in ("id", "unique_name", "max_participants", "enable_recording", "webhook_event_url",
              "webhook_event_failover_url", "webhook_timeout_secs", "active_session_id", "created_at",
              "updated_at", "record_type"):
        assert got[k] == d[k], k
    compat.note = "GET /v2/rooms/{id} 200: every field as create returned it"


@records("rooms.list", "List rooms", ROOMS)
def test_list_reads_the_room_back(tx, log, compat):
    params, room, _ = need("every field", "the room created with every field")
    mark = log.mark()
    page = tx.rooms.list(filter={"unique_name": params["unique_name"]})
    lx = log.one(mark, "GET", "/v2/rooms", 200)
    assert lx.raw_query == f"filter%5Bunique_name%5D={params['unique_name']}"
    assert [r.id for r in page.data] == [room.id]
    assert lx.json["meta"] == {"page_number": 1, "page_size": 20, "total_pages": 1, "total_results": 1}
    compat.note = ("GET /v2/rooms?filter[unique_name]= 200: that room alone; meta {page_number 1, page_size 20, "
                   "total_pages 1, total_results 1}")


@records("rooms.create", "Create a room", ROOMS, check="no parameters")
def test_create_without_parameters_sends_an_empty_object(tx, log, compat):
    mark = log.mark()
    room = tx.rooms.create().data
    x = log.one(mark, "POST", "/v2/rooms", 201)
    assert x.request_body == b"{}"
    check_room_wire(x.json["data"])
    assert room.enable_recording is False
    assert isinstance(room.max_participants, int) and 1 <= room.max_participants <= 100
    assert room.active_session_id is None
    compat.note = ("without parameters (the SDK sends {}): 201 with the defaults (enable_recording false, "
                   "max_participants within 1..100)")


@pytest.mark.parametrize("field,value", [
    ("max_participants", 0), ("max_participants", 101), ("max_participants", "ten"),
    ("webhook_event_url", "not a url"), ("webhook_event_url", "ftp://example.com/hook"),
    ("webhook_event_failover_url", "example.com/no-scheme"),
    ("webhook_timeout_secs", 31), ("webhook_timeout_secs", -1),
    ("enable_recording", "yes"),
])
@records("rooms.create", "Invalid room fields: 422 naming the field", ERRORS)
def test_create_invalid_values_get_422_naming_the_field(tx, log, field, value, compat):
    name = unique_name("py-invalid")
    expect_api_error(log, lambda: tx.rooms.create(unique_name=name, **{field: value}), [422],
                     pointer=f"/{field}", mentions=field)
    assert room_ids(tx, filter={"unique_name": name}) == [], "a refused create made a room"
    compat.note = ("create with max_participants 0, 101, \"ten\"; URLs that are not http(s) or have no scheme; "
                   "webhook_timeout_secs 31, -1; enable_recording \"yes\": each an UnprocessableEntityError 422 "
                   "{errors} with source.pointer `/{field}` and a detail naming it; no room made")


@records("rooms.create", "Create a room", ROOMS, check="boundary values")
def test_create_boundary_values(tx, compat):
    for params in ({"max_participants": 2}, {"max_participants": 50}, {"webhook_timeout_secs": 0},
                   {"webhook_timeout_secs": 30}, {"webhook_event_url": "http://localhost:8080/hook"}):
        room = new_room(tx, **params)
        for k, v in params.items():
            assert getattr(room, k) == v, params
    compat.note = ("max_participants 2 and 50, webhook_timeout_secs 0 and 30 and an http://localhost webhook URL "
                   "are accepted and read back")


@records("rooms.create / rooms.update", "Duplicate unique_name: 422 code 10012", ERRORS)
def test_duplicate_unique_name_is_422_10012_until_deleted(tx, log, compat):
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
    compat.note = ("create and rename to a name in use: UnprocessableEntityError 422 code 10012 naming unique_name, "
                   "the room unchanged; the name is free again once its room is deleted")


@records("rooms.update", "Update a room", ROOMS)
def test_update_changes_only_what_was_sent(tx, log, compat):
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
    compat.note = ("PATCH /v2/rooms/{id} 200 with the fields given: those change, the others (unique_name, webhook "
                   "URL, created_at) do not, updated_at does not go back; no parameters (the SDK sends {}) changes "
                   "nothing; an unknown id: NotFoundError 404 code 10005")


@pytest.mark.parametrize("field,value", [
    ("max_participants", 0), ("max_participants", 101), ("webhook_event_url", "nope"), ("webhook_timeout_secs", 31),
])
@records("rooms.update", "Invalid room fields: 422 naming the field", ERRORS)
def test_update_invalid_values_get_422_and_change_nothing(tx, log, field, value, compat):
    room = new_room(tx, max_participants=5, webhook_event_url="https://example.com/a", webhook_timeout_secs=3)
    before = wire(log)
    expect_api_error(log, lambda: tx.rooms.update(room.id, **{field: value}), [422], pointer=f"/{field}", mentions=field)
    tx.rooms.retrieve(room.id)
    assert wire(log) == before, "a refused PATCH changed the room"
    compat.note = ("update with max_participants 0 and 101, webhook_event_url \"nope\", webhook_timeout_secs 31: "
                   "each an UnprocessableEntityError 422 with source.pointer `/{field}`; the room reads back unchanged")


@records("rooms.delete", "Delete a room", ROOMS)
def test_delete_then_everything_is_404(tx, log, compat):
    room = new_room(tx)
    mark = log.mark()
    assert tx.rooms.delete(room.id) is None
    x = log.one(mark, "DELETE", f"/v2/rooms/{room.id}", 204)
    assert x.response_body == ""
    expect_api_error(log, lambda: tx.rooms.retrieve(room.id), [404], code="10005")
    expect_api_error(log, lambda: tx.rooms.delete(room.id), [404], code="10005")
    expect_api_error(log, lambda: tx.rooms.actions.generate_join_client_token(room.id), [404], code="10005")
    assert room_ids(tx, filter={"unique_name": room.unique_name}) == []
    compat.note = ("DELETE /v2/rooms/{id} 204, empty body (the SDK returns None); then retrieve, delete and "
                   "generate_join_client_token get NotFoundError 404 code 10005 and list no longer has it")


# --- lists ----------------------------------------------------------------------------


@records("rooms.list", "Auto-pagination", ROOMS)
def test_list_auto_pagination(tx, log, compat):
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
    compat.note = ("iterating list(page_size=2) asks for each page once (page[number] 2, 3, …, brackets "
                   "percent-encoded) and yields every room once; meta right on each page; page_number 2 alone, a "
                   "page past the last (empty) and page_size 250 agree")


@pytest.mark.parametrize("param,value", [
    ("page[size]", 0), ("page[size]", 251), ("page[size]", "x"), ("page[number]", 0), ("page[number]", "x"),
])
@records("rooms.list", "Bad page or filter parameters: 400 or 422 naming the parameter", ERRORS)
def test_list_bad_page_values(tx, log, param, value, compat):
    # Integers through the SDK's own keyword (page_size / page_number), others as extra_query.
    if isinstance(value, int):
        kw = {"page_size" if param == "page[size]" else "page_number": value}
    else:
        kw = {"extra_query": {param: value}}
    expect_api_error(log, lambda: tx.rooms.list(**kw), [400, 422], parameter=param)
    compat.note = ("page[size] 0, 251, \"x\" and page[number] 0, \"x\" (the SDK's page_size / page_number, or "
                   "extra_query): each a 400/422 SDK error {errors} with source.parameter naming it")


@records("rooms.list", "Bad page or filter parameters: 400 or 422 naming the parameter", ERRORS,
         check="a bad date filter")
def test_list_bad_date_filter(tx, log, compat):
    expect_api_error(log, lambda: tx.rooms.list(filter={"date_created_at": {"eq": "yesterday"}}), [400, 422],
                     parameter="filter[date_created_at][eq]")
    compat.note = "filter[date_created_at][eq]=yesterday: a 400/422 SDK error with source.parameter naming it"


@records("rooms.list", "List rooms with filters", ROOMS)
def test_list_filters(tx, log, compat):
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
    compat.note = (f"filter[unique_name] with a space (sent as +) and + & = / é ? finds the room (and not with one "
                   f"more character); {len(cases)} date_created_at / date_updated_at filters (eq a datetime.date, a "
                   "date string or a timestamp, gte, lte) include or exclude it as they should")


# --- credentials and malformed requests --------------------------------------------------


@pytest.mark.parametrize("what", ["key only", "wrong secret", "garbage", "none"])
@records("rooms.list / rooms.create", "Bad credentials: 401 code 10009", ERRORS)
def test_bad_credentials_get_401_10009(server, log, what, compat):
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
    compat.note = ("the API key alone, a wrong secret, garbage and no API key (no Authorization header): list and "
                   "create each get AuthenticationError 401 code 10009 (the SDK sends `Bearer {api_key}`)")


@records("rooms.list", "Bad credentials: 401 code 10009", ERRORS, check="a join token")
def test_join_token_is_no_api_credential(server, tx, log, compat):
    token = join_token(tx, new_room(tx).id).token
    expect_api_error(log, lambda: telnyx_client(server, log, api_key=token).rooms.list(), [401], code="10009")
    compat.note = "a join client token as the API key: AuthenticationError 401 code 10009"


@records("(none)", "Malformed JSON bodies: 400", ERRORS)
def test_malformed_json_is_400(server, tx, log, compat):
    room = new_room(tx)
    for method, path in (("POST", "/v2/rooms"), ("PATCH", f"/v2/rooms/{room.id}")):
        r = raw(server, log, method, path, body='{"unique_name": ')
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/json")
        check_errors(r.json())
    r = raw(server, log, "POST", "/v2/rooms", body="[1, 2]")
    assert r.status_code in (400, 422), r.text
    check_errors(r.json())
    compat.note = ("by hand (the SDK always sends valid JSON): truncated JSON to create and update is 400 JSON "
                   "{errors}; [1, 2] as a create body is 400 or 422 {errors}")


@records("rooms.retrieve / rooms.sessions.retrieve / room_participants.retrieve / rooms.sessions.actions.*",
         "Unknown and malformed ids: 404 code 10005, or 4xx", ERRORS)
def test_unknown_and_malformed_ids(tx, log, compat):
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
    compat.note = ("an unknown UUID: room, session and participant retrieve, and end, kick, mute, unmute each get "
                   "NotFoundError 404 code 10005; \"not-a-uuid\" and \"12345\" to room and session retrieve get a "
                   "400/404/422 SDK error with {errors}")


# --- join client tokens ---------------------------------------------------------------


@records("rooms.actions.generate_join_client_token", "Generate a join client token", TOKENS)
def test_generate_join_client_token(tx, log, compat):
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
    compat.note = ("POST /v2/rooms/{id}/actions/generate_join_client_token 201 with the body as given: token and "
                   "refresh_token (distinct), token_expires_at / refresh_token_expires_at for the default TTLs (600 s, "
                   "3600 s), 10/60 and 3600/86400; the exp claim matches, grants name `telnyx:video:rooms:{room_id}`")


@records("rooms.actions.generate_join_client_token", "Invalid token TTLs: 422 naming the field", ERRORS)
def test_generate_join_client_token_bad_ttls(tx, log, compat):
    room = new_room(tx)
    for field, value in (("token_ttl_secs", 9), ("token_ttl_secs", 3601), ("refresh_token_ttl_secs", 59),
                         ("refresh_token_ttl_secs", 86401)):
        expect_api_error(log, lambda: tx.rooms.actions.generate_join_client_token(room.id, **{field: value}), [422],
                         mentions=field)
    compat.note = ("token_ttl_secs 9 and 3601, refresh_token_ttl_secs 59 and 86401: each an "
                   "UnprocessableEntityError 422 with a detail naming the field")


@records("rooms.actions.refresh_client_token", "Refresh a join client token", TOKENS)
def test_refresh_client_token(server, tx, log, compat):
    room = new_room(tx)
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
    compat.note = ("POST /v2/rooms/{id}/actions/refresh_client_token 200/201 with the body as given, twice with the "
                   "same refresh token: token_expires_at for token_ttl_secs 30 and the default 600 s, matching the "
                   "exp claim; a refreshed token joins the room")


@records("rooms.actions.refresh_client_token", "Bad refresh requests: 401 or 422", ERRORS)
def test_refresh_client_token_refused(server, tx, log, compat):
    room = new_room(tx)
    other = new_room(tx)
    issued = join_token(tx, room.id)
    for what, refresh in (("garbage", "garbage"), ("an access token", issued.token),
                          ("another room's refresh token", join_token(tx, other.id).refresh_token)):
        err = sdk_error(lambda: tx.rooms.actions.refresh_client_token(room.id, refresh_token=refresh), 401, 422)
        check_errors(err.body)
    expect_api_error(log, lambda: tx.rooms.actions.refresh_client_token(
        room.id, refresh_token=issued.refresh_token, token_ttl_secs=3601), [422], mentions="token_ttl_secs")
    compat.note = ("garbage, an access token and another room's refresh token: 401 or 422 {errors}; token_ttl_secs "
                   "3601: 422 naming the field")


@records("rooms.actions.generate_join_client_token", "Join a room with a join token", TOKENS)
def test_join_token_joins_its_own_room_only(server, tx, compat):
    a, b = new_room(tx), new_room(tx)
    tok = join_token(tx, a.id).token
    wrong = start_subscriber(server, b.id, tok, "token of A in B")
    assert wrong.wait_exit() != 0, wrong.describe()
    assert not any(e.get("event") == "sessionConnected" for e in wrong.events), wrong.describe()
    join_subscriber(server, a.id, tok, "token of A in A").stop()
    compat.note = ("a native client (`parlor client subscribe --session ROOM_ID --token TOKEN`) joins the token's "
                   "room; in another room the same token is refused (the client exits without sessionConnected)")


# --- sessions and participants -----------------------------------------------------------


# One room's life (the tests below, in order): A and B join, A leaves, B leaves (the session
# ends), C joins (a second session).


@records("rooms.sessions.retrieve", "Retrieve a session with its participants", SESSIONS)
def test_session_retrieve_with_participants(server, tx, log, compat):
    room = new_room(tx)
    a = join_subscriber(server, room.id, join_token(tx, room.id).token, "A")
    sid = active_session_of(tx, room.id)
    b = join_subscriber(server, room.id, join_token(tx, room.id).token, "B")
    keep(a, b)
    shared["life"] = dict(room=room, a=a, b=b, sid=sid)
    s = session_when(tx, sid, "both participants", lambda v: len(v.participants or []) == 2)
    check_session_wire(wire(log), room.id)
    assert s.active is True
    assert sorted(p.id for p in s.participants) == sorted([a.participant_id, b.participant_id])
    for p in wire(log)["participants"]:
        assert p["context"] is None and p["left_at"] is None, p
    compat.note = ("two native clients join with join tokens: the room gets an active session (UUID, record_type "
                   "room_session, room_id, created_at); retrieve with include_participants lists both (participant "
                   "id = the connection id, session_id, joined_at, context null, left_at null)")


@records("rooms.sessions.retrieve_participants", "List a session's participants", SESSIONS)
def test_session_participants(tx, compat):
    life = need("life", "the session A and B joined")
    a, b, sid = life["a"], life["b"], life["sid"]
    assert participant_ids(tx, sid) == sorted([a.participant_id, b.participant_id])
    assert participant_ids(tx, sid, filter={"context": "nobody has this"}) == []
    compat.note = ("GET /v2/room_sessions/{id}/participants (iterated): both participants of the live session; "
                   "filter[context] matching nobody: none")


@records("room_participants.list", "List participants", PARTICIPANTS)
def test_participants_list(tx, compat):
    life = need("life", "the session A and B joined")
    a, b, sid = life["a"], life["b"], life["sid"]
    assert sorted(p.id for p in tx.room_participants.list(filter={"session_id": sid})) == \
        sorted([a.participant_id, b.participant_id])
    compat.note = "GET /v2/room_participants?filter[session_id]= (iterated): both participants of the session"


@records("rooms.retrieve", "Retrieve a room", ROOMS, check="include_sessions")
def test_room_retrieve_include_sessions(tx, compat):
    life = need("life", "the session A and B joined")
    room_now = tx.rooms.retrieve(life["room"].id, include_sessions=True).data
    assert room_now.active_session_id == life["sid"]
    assert [x.id for x in room_now.sessions or []] == [life["sid"]]
    compat.note = "include_sessions: retrieve gives the room with active_session_id and its sessions"


@records("room_participants.retrieve", "Retrieve a participant", PARTICIPANTS)
def test_participant_retrieve_and_left_at(tx, compat):
    life = need("life", "the session A and B joined")
    a, sid = life["a"], life["sid"]
    assert tx.room_participants.retrieve(a.participant_id).data.session_id == sid
    a.stop()
    left = left_participant(tx, a.participant_id)
    assert left.left_at >= left.joined_at
    assert tx.rooms.sessions.retrieve(sid).data.active is True
    compat.note = ("GET /v2/room_participants/{id}: the participant with its session_id; once its client leaves, "
                   "left_at (not before joined_at), and the session stays active for the other")


@records("rooms.sessions.retrieve", "Retrieve a session with its participants", SESSIONS,
         check="the end of a session")
def test_last_leave_ends_the_session(server, tx, log, compat):
    life = need("life", "the session A and B joined")
    room, b, sid = life["room"], life["b"], life["sid"]
    b.stop()
    ended = session_when(tx, sid, "to end", lambda v: v.active is False)
    check_session_wire(wire(log), room.id)
    assert all(p.left_at for p in ended.participants)
    poll("the room to lose its active session", lambda: tx.rooms.retrieve(room.id).data.active_session_id is None)
    assert wire(log)["active_session_id"] is None

    c = join_subscriber(server, room.id, join_token(tx, room.id).token, "C")
    keep(c)
    sid2 = active_session_of(tx, room.id)
    assert sid2 != sid
    life.update(c=c, sid2=sid2, ended=ended)
    compat.note = ("when the last participant leaves, the session reads active false with ended_at and every "
                   "participant's left_at, and the room's active_session_id goes back to null; the next join opens "
                   "a new session")


def need_second_session():
    life = need("life", "the session A and B joined")
    assert "sid2" in life, "setup: the room's second session (made by an earlier test) is missing"
    return life


@records("rooms.sessions.list_0", "List room sessions (GET /room_sessions)", SESSIONS)
def test_list_room_sessions(tx, log, compat):
    life = need_second_session()
    room, sid, sid2 = life["room"], life["sid"], life["sid2"]
    mark = log.mark()
    assert sorted(x.id for x in tx.rooms.sessions.list_0(filter={"room_id": room.id, "active": True})) == [sid2]
    assert log.since(mark)[0].query == f"filter[room_id]={room.id}&filter[active]=true"
    assert sorted(x.id for x in tx.rooms.sessions.list_0(filter={"room_id": room.id, "active": False})) == [sid]
    compat.note = ("GET /v2/room_sessions?filter[room_id]=&filter[active]=true / false: the live session / the "
                   "ended one")


@records("rooms.sessions.list_1", "List a room's sessions (GET /rooms/{id}/sessions)", SESSIONS)
def test_list_sessions_of_a_room(tx, compat):
    life = need_second_session()
    room, sid, sid2, ended = life["room"], life["sid"], life["sid2"], life["ended"]
    assert sorted(x.id for x in tx.rooms.sessions.list_1(room.id)) == sorted([sid, sid2])
    assert [x.id for x in tx.rooms.sessions.list_1(room.id, filter={"active": False})] == [sid]
    ended_at = ended.ended_at.timestamp()
    assert [x.id for x in tx.rooms.sessions.list_1(room.id, filter={"date_ended_at": {"gte": iso(ended_at - 60)}})] == [sid]
    assert [x.id for x in tx.rooms.sessions.list_1(
        room.id, filter={"date_created_at": {"gte": iso(time.time() + 3600)}})] == []
    compat.note = ("GET /v2/rooms/{id}/sessions (iterated): both sessions; filter[active] false, "
                   "date_ended_at gte and date_created_at gte (future: none) include or exclude each as they should")


@records("rooms.sessions.retrieve_participants", "List a session's participants", SESSIONS, check="date filters")
def test_session_participants_date_filters(tx, compat):
    life = need_second_session()
    c, sid2 = life["c"], life["sid2"]
    joined = tx.room_participants.retrieve(c.participant_id).data.joined_at.timestamp()
    assert participant_ids(tx, sid2, filter={"date_joined_at": {"gte": iso(joined - 60)}}) == [c.participant_id]
    assert participant_ids(tx, sid2, filter={"date_joined_at": {"gte": iso(joined + 3600)}}) == []
    c.stop()
    compat.note = "filter[date_joined_at][gte] before the join lists the participant, an hour after it none"


@records("rooms.create", "Cap the participants (max_participants)", ROOMS)
def test_max_participants(server, tx, compat):
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
    compat.note = ("max_participants 2: a third join is refused (the client exits with a max_participants error) "
                   "and the session lists two participants; once one has left, a new join gets in")


# --- session actions -----------------------------------------------------------------------


@records("rooms.sessions.actions.end", "End a session", ACTIONS)
def test_end_disconnects_everyone(server, tx, log, compat):
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
    shared["ended session"] = sid
    compat.note = ("POST /v2/room_sessions/{id}/actions/end (Content-Type application/json, empty body) 200 "
                   "{data: {result: ok}}: both clients get sessionDisconnected and exit; the session reads ended with "
                   "every participant left, and the room has no active session")


@records("rooms.sessions.actions.*", "Actions on an ended session: 422", ERRORS)
def test_actions_on_an_ended_session(tx, log, compat):
    sid = need("ended session", "the session end ended")
    expect_api_error(log, lambda: tx.rooms.sessions.actions.end(sid), [422])
    expect_api_error(log, lambda: tx.rooms.sessions.actions.kick(sid, participants="all"), [422])
    expect_api_error(log, lambda: tx.rooms.sessions.actions.mute(sid, participants="all"), [422])
    compat.note = "end, kick and mute on the ended session: each UnprocessableEntityError 422 {errors}"


@records("rooms.sessions.actions.kick", "Kick participants", ACTIONS)
def test_kick_listed_then_all_but_excluded(server, tx, log, compat):
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
    compat.note = ("{participants: [A]}: result ok, that client exits and gets left_at; {participants: all, "
                   "exclude: [B]}: the others go, B stays connected (sees a later join, left_at null)")


@records("rooms.sessions.actions.mute", "Mute participants", ACTIONS)
def test_mute_list_exclusions_and_all(server, tx, log, media, compat):
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

    # mute without parameters: the SDK sends {} (everyone).
    mark = log.mark()
    assert tx.rooms.sessions.actions.mute(sid).data.result == "ok"
    assert log.one(mark, "POST", f"/v2/room_sessions/{sid}/actions/mute", 200).request_body == b"{}"
    observer.wait_event("streamPropertyChanged", audio_off(pb.stream_id))
    keep(observer, pa, pb, pc)
    shared["muted"] = (sid, [observer, pa, pb, pc])
    compat.note = ("{participants: [A]} mutes A only (the others see hasAudio false, A is told); {participants: all, "
                   "exclude: [B]} mutes C, never B (shown with a later join as a marker); without parameters (the SDK "
                   "sends {}) it mutes everyone, B too")


@records("rooms.sessions.actions.unmute", "Unmute participants", ACTIONS)
def test_unmute(tx, log, compat):
    sid, clients = need("muted", "the session mute muted")
    for kw in ({"participants": "all"}, {}):
        mark = log.mark()
        assert tx.rooms.sessions.actions.unmute(sid, **kw).data.result == "ok"
        x = log.one(mark, "POST", f"/v2/room_sessions/{sid}/actions/unmute", 200)
        assert json.loads(x.request_body) == kw
    for c in clients:
        c.stop()
    compat.note = ("after mute: POST /v2/room_sessions/{id}/actions/unmute {participants: all} and {} each 200 "
                   "{result: ok} (the answer only: no client-side effect is checked)")


@records("rooms.delete", "Delete a room", ROOMS, check="with a participant in it")
def test_delete_room_with_a_participant(server, tx, log, compat):
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
    compat.note = ("with a client in the room: it gets sessionDisconnected and exits; a join token issued before no "
                   "longer joins; retrieve and token generation get 404 code 10005")


# Not an SDK method: no result record.
def test_no_request_got_a_5xx_or_409(log):
    bad = log.server_errors()
    assert bad == [], "\n".join(x.line() for x in bad)
