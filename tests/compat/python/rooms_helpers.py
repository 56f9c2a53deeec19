"""Helpers for the Telnyx Video Rooms suite (test_rooms.py; not a test module): the official
PyPI `telnyx` SDK against a Parlor server's `/v2`, with every HTTP exchange recorded; the
Telnyx `{errors: [...]}` checks; polling; and native room clients (`parlor client
subscribe|publish --session ROOM_ID --token JOIN_TOKEN`, live_helpers.LiveClient).

It is also the pytest plugin (test_rooms.py names it in `pytest_plugins`) that records each
test's result for docs/compatibility.md: see `records` below. PYTEST_DONT_REWRITE: pytest
would warn that it cannot rewrite the asserts of a plugin module the test module imported
first; they are plain asserts, as before, and carry their own messages."""
import base64
import json
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit

import httpx
import pytest
import telnyx

from live_helpers import MAX_CLIENT_SECONDS, LiveClient

# TELNYX_CLIENT_ID/SECRET switch the SDK to OAuth against api.telnyx.com; the others would
# override what the tests pass. None of them may leak in from the environment.
for _k in ("TELNYX_CLIENT_ID", "TELNYX_CLIENT_SECRET", "TELNYX_API_KEY", "TELNYX_BASE_URL",
           "TELNYX_PUBLIC_KEY", "TELNYX_CUSTOM_HEADERS", "TELNYX_LOG"):
    os.environ.pop(_k, None)

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ISO_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


# --- per-method results (a pytest plugin) -----------------------------------------------
#
# A test decorated with `@records(method, operation, feature, check=None)` records one result
# {sdk: "telnyx-python", version, method, operation, feature, status, note} to
# results/telnyx-python-rooms.json, the record shape conftest.py writes for the OpenTok and
# Vonage suites (its `sdk` marker names those SDKs, so the Telnyx suite has its own). A passing
# test is "works" with the note it set on conftest's `compat` fixture; a failing or erroring
# one is "fails" with its error. A partial run (-k, -m, node ids) writes nothing.

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
_results = {}  # nodeid -> record, in the order the tests ran
_partial = []


def records(method, operation, feature, check=None):
    """Marks a test as the check of one SDK method (`method` may name several: "a / b")."""
    def mark(fn):
        fn.telnyx_compat = {"method": method, "operation": operation, "feature": feature, "check": check}
        return fn
    return mark


def _failure_text(rep):
    crash = getattr(rep.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(rep.longrepr)
    return text.strip().splitlines()[0][:300] if text.strip() else "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    meta = getattr(getattr(item, "function", None), "telnyx_compat", None)
    if meta is None:
        return
    check = meta["check"]
    rec = _results.setdefault(item.nodeid, {
        "sdk": "telnyx-python",
        "version": telnyx.__version__,
        "method": meta["method"],
        "operation": meta["operation"],
        "feature": meta["feature"],
        "status": None,
        "note": "",
    })
    if rep.when == "setup" and not rep.passed:
        rec["status"] = "fails"
        rec["note"] = f"{check + ': ' if check else ''}setup: {_failure_text(rep)}"
    elif rep.when == "call":
        if rep.passed:
            out = item.funcargs.get("compat")
            rec["status"] = (out.status if out else None) or "works"
            rec["note"] = out.note if out else ""
        else:
            rec["status"] = "fails"
            rec["note"] = f"{check + ': ' if check else ''}{_failure_text(rep)}"


def pytest_deselected(items):
    if items:
        _partial.append(f"{len(items)} tests deselected")


def pytest_sessionfinish(session):
    if not _results:
        return
    if any("::" in str(a) for a in session.config.args):
        _partial.append("tests chosen by node id")
    if _partial:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write("\n")
            tr.write_line(f"telnyx compat results not written: partial run ({', '.join(_partial)})")
        return
    out = []
    for rec in _results.values():
        if rec["status"] is None:
            rec["status"] = "fails"
            rec["note"] = "did not run to the end"
        out.append(rec)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "telnyx-python-rooms.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


# --- HTTP exchange log -----------------------------------------------------------------


@dataclass
class Exchange:
    method: str
    url: str
    path: str
    query: str  # decoded: filter[unique_name]=a b
    raw_query: str  # as sent
    authorization: str | None
    request_content_type: str | None
    request_body: bytes
    status: int
    content_type: str
    response_body: str

    @property
    def json(self):
        return json.loads(self.response_body)

    def line(self):
        return (f"{self.method} {self.path}?{self.raw_query} body={self.request_body!r} -> {self.status} "
                f"{self.content_type} {self.response_body[:600]}")


class Recorder:
    """Collects every exchange of the httpx clients it hooks into."""

    def __init__(self):
        self.exchanges = []

    def hook(self, response: httpx.Response):
        response.read()
        req = response.request
        parts = urlsplit(str(req.url))
        self.exchanges.append(Exchange(
            method=req.method,
            url=str(req.url),
            path=parts.path,
            query=unquote_plus(parts.query),
            raw_query=parts.query,
            authorization=req.headers.get("authorization"),
            request_content_type=req.headers.get("content-type"),
            request_body=req.content,
            status=response.status_code,
            content_type=response.headers.get("content-type", ""),
            response_body=response.text,
        ))

    def mark(self):
        return len(self.exchanges)

    def since(self, mark):
        return self.exchanges[mark:]

    def one(self, mark, method, path, status=None):
        """The single exchange since `mark`, checked."""
        xs = self.since(mark)
        listing = "\n".join(x.line() for x in xs)
        assert len(xs) == 1, f"expected one request, got:\n{listing}"
        x = xs[0]
        assert f"{x.method} {x.path}" == f"{method} {path}", listing
        if status is not None:
            assert x.status == status, f"wrong status:\n{listing}"
        return x

    def last(self):
        return self.exchanges[-1]

    def server_errors(self):
        """Exchanges answered with a 5xx or a 409 (the SDKs retry both)."""
        return [x for x in self.exchanges if x.status >= 500 or x.status == 409]


def credential(server):
    """The Rooms API credential: a project's `API key:API secret`."""
    return f"{server.api_key}:{server.api_secret}"


def telnyx_client(server, recorder, api_key="default"):
    """The SDK client against `server` as an application would build it (no retries).
    `api_key=None` sends no Authorization header."""
    if api_key == "default":
        api_key = credential(server)
    http = telnyx.DefaultHttpxClient(event_hooks={"response": [recorder.hook]})
    # api_key=None falls back to TELNYX_API_KEY, removed from the environment above.
    return telnyx.Telnyx(api_key=api_key, base_url=f"{server.base_url}/v2", max_retries=0,
                         timeout=15.0, http_client=http)


def raw(server, recorder, method, path, body=None, auth="default", headers=None):
    """A request by hand, recorded: `body` bytes/str sent as is, anything else as JSON;
    `auth` the Authorization header (None: none). Returns the httpx.Response."""
    h = {"Accept": "application/json", **(headers or {})}
    if auth == "default":
        auth = f"Bearer {credential(server)}"
    if auth is not None:
        h["Authorization"] = auth
    content = None
    if body is not None:
        content = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    with httpx.Client(event_hooks={"response": [recorder.hook]}, timeout=15.0) as c:
        return c.request(method, f"{server.base_url}{path}", content=content, headers=h)


# --- errors ----------------------------------------------------------------------------

STATUS_CLASS = {
    400: telnyx.BadRequestError,
    401: telnyx.AuthenticationError,
    404: telnyx.NotFoundError,
    422: telnyx.UnprocessableEntityError,
}


def sdk_error(call, *statuses):
    """Runs `call()`; it must raise the SDK's typed error for one of `statuses`. Returns it."""
    try:
        value = call()
    except telnyx.APIStatusError as err:
        ok = any(isinstance(err, STATUS_CLASS[s]) and err.status_code == s for s in statuses)
        want = " or ".join(f"{STATUS_CLASS[s].__name__} {s}" for s in statuses)
        assert ok, f"expected {want}, got {type(err).__name__} {err.status_code}: {err}"
        return err
    data = getattr(value, "data", value)
    raise AssertionError(f"expected an error, the call succeeded: {data!r}")


def check_errors(body, code=None, pointer=None, parameter=None, mentions=None):
    """A Telnyx error body: {errors: [{code: "<digits>", title, detail, source?}]}, with at
    least one error; `code`, `pointer`, `parameter` and `mentions` (text in a detail) must
    match one of them."""
    shown = json.dumps(body) if not isinstance(body, str) else body
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], \
        f"not a Telnyx error body: {shown}"
    for e in body["errors"]:
        assert isinstance(e.get("code"), str) and e["code"].isdigit(), f"errors[].code: {shown}"
        assert isinstance(e.get("title"), str) and e["title"], f"errors[].title: {shown}"
        assert isinstance(e.get("detail"), str) and e["detail"], f"errors[].detail: {shown}"
        assert e.get("source") is None or isinstance(e["source"], dict), f"errors[].source: {shown}"
    errs = body["errors"]
    src = lambda e: e.get("source") or {}  # noqa: E731
    if code is not None:
        assert any(e["code"] == code for e in errs), f"no error with code {code}: {shown}"
    if pointer is not None:
        assert any(src(e).get("pointer") == pointer for e in errs), f"no error with source.pointer {pointer}: {shown}"
    if parameter is not None:
        assert any(src(e).get("parameter") == parameter for e in errs), \
            f"no error with source.parameter {parameter}: {shown}"
    if mentions is not None:
        assert any(mentions in e["detail"] for e in errs), f"no error detail mentions {mentions!r}: {shown}"
    return errs


def expect_api_error(recorder, call, statuses, **checks):
    """`sdk_error` + `check_errors` on the body the SDK parsed, answered as JSON."""
    mark = recorder.mark()
    err = sdk_error(call, *statuses)
    xs = recorder.since(mark)
    assert xs, "the SDK made no request"
    assert xs[-1].content_type.startswith("application/json"), xs[-1].line()
    check_errors(err.body, **checks)
    return err


# --- values ----------------------------------------------------------------------------


def unique_name(prefix="room"):
    return f"{prefix}-{secrets.token_hex(5)}"


def random_uuid():
    return str(uuid.uuid4())


def iso_time(value, what="timestamp"):
    """An ISO 8601 timestamp string from the wire → epoch seconds."""
    assert isinstance(value, str), f"{what} is not a string: {value!r}"
    assert re.match(ISO_RE, value), f"{what} is not an ISO 8601 timestamp: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def iso(epoch):
    """Epoch seconds → an ISO 8601 UTC timestamp with milliseconds."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_date(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")


def jwt_payload(token):
    parts = token.split(".")
    assert len(parts) == 3, f"not a JWT: {token}"
    seg = parts[1] + "=" * (-len(parts[1]) % 4)
    return json.loads(base64.urlsafe_b64decode(seg))


def poll(what, fn, timeout=5.0, interval=0.1):
    """The first truthy `fn()` (exceptions count as not yet), polled; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = v
        except Exception as e:  # noqa: BLE001 - reported if it never succeeds
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


# --- native room clients ---------------------------------------------------------------


def start_subscriber(server, room_id, token, label="subscriber"):
    """`parlor client subscribe --json` into the room, not waited for (for refused joins)."""
    return LiveClient(label, ["subscribe", "--url", server.base_url, "--session", room_id, "--token", token,
                              "--json", "--duration", MAX_CLIENT_SECONDS])


def join_subscriber(server, room_id, token, label="subscriber"):
    """A subscriber in the room once it printed sessionConnected; `participant_id` is its
    connection id."""
    c = start_subscriber(server, room_id, token, label)
    c.participant_id = c.wait_event("sessionConnected")["connection"]["connectionId"]
    return c


def join_publisher(server, room_id, token, media, label="publisher", audio=True):
    """A publisher looping `media` (live_helpers.make_media) into the room, once its stream
    was accepted; with `participant_id` and `stream_id`."""
    _, video, audio_file = media
    args = ["publish", "--url", server.base_url, "--session", room_id, "--token", token, "--video", video,
            "--loop", "--duration", MAX_CLIENT_SECONDS, "--name", label]
    if audio:
        args += ["--audio", audio_file]
    c = LiveClient(label, args)
    c.participant_id = c.wait_stderr(r"as connection (\S+)").group(1)
    c.stream_id = c.wait_stderr(r"published stream (\S+)").group(1)
    return c
