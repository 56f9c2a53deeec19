"""Live native clients and an HTTP exchange log for the Python compatibility suites (not a
test module).

* `Subscriber` / `Publisher`: `parlor client subscribe --json` / `parlor client publish` as
  child processes; waits poll their output (events, stderr, exit), never sleep blindly.
* `HttpLog`: records every request the SDK makes and the server's answer, by wrapping
  `requests.adapters.HTTPAdapter.send` (the SDK is otherwise unchanged).
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

import requests

from parlor_helpers import PARLOR_BIN, reaped

WAIT = 10.0
STOP = 10.0
MAX_CLIENT_SECONDS = "90"  # a safety cap: no client outlives a suite

_running = set()
_running_lock = threading.Lock()


def make_media():
    """A small VP8 IVF (160x120, 15 fps, 3 s) and Opus Ogg (440 Hz, 3 s) in a temp dir:
    returns (dir, video, audio)."""
    d = tempfile.mkdtemp(prefix="parlor-compat-media-")
    video, audio = os.path.join(d, "v.ivf"), os.path.join(d, "o.ogg")
    for args in (
        ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=15", "-t", "3", "-c:v", "libvpx", "-f", "ivf", video],
        ["-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "libopus", audio],
    ):
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=30,
                       capture_output=True)
    return d, video, audio


def remove_media(d):
    shutil.rmtree(d, ignore_errors=True)


class LiveClient:
    """One `parlor client ...` child process; its JSON stdout lines, stderr and exit."""

    def __init__(self, label, args):
        self.label = label
        self.events = []
        self.stderr = ""
        self.exit_code = None
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            reaped([PARLOR_BIN, "client", *args]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        with _running_lock:
            _running.add(self)
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._readers:
            t.start()
        threading.Thread(target=self._reap, daemon=True).start()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "(not JSON)", "line": line}
            with self._cond:
                self.events.append(ev)
                self._cond.notify_all()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            with self._cond:
                self.stderr += raw.decode("utf-8", "replace")
                self._cond.notify_all()

    def _reap(self):
        code = self.proc.wait()
        for t in self._readers:
            t.join()
        with self._cond:
            self.exit_code = code
            self._cond.notify_all()
        with _running_lock:
            _running.discard(self)

    def describe(self):
        evs = "\n  ".join(json.dumps(e) for e in self.events[-15:])
        return f"{self.label} (exit {self.exit_code})\n events:\n  {evs}\n stderr:\n{self.stderr[-2000:]}"

    def until(self, what, check, timeout=WAIT):
        """The first truthy `check()`, rechecked on every output and on exit."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = check()
                if v:
                    return v
                if self.exit_code is not None:
                    raise AssertionError(f"{self.label} ended before {what}\n{self.describe()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{self.describe()}")
                self._cond.wait(left)

    def wait_event(self, name, pred=lambda e: True, timeout=WAIT):
        return self.until(
            f"{self.label}: {name}",
            lambda: next((e for e in self.events if e.get("event") == name and pred(e)), None),
            timeout,
        )

    def wait_stderr(self, pattern, timeout=WAIT):
        rx = re.compile(pattern)
        return self.until(f"{self.label}: stderr /{pattern}/", lambda: rx.search(self.stderr), timeout)

    def wait_exit(self, timeout=WAIT):
        """The exit code, once the process ended by itself."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.exit_code is not None, timeout):
                raise AssertionError(f"{self.label} did not exit within {timeout} s\n{self.describe()}")
            return self.exit_code

    def stop(self):
        """SIGTERM (the clients leave in order on it); SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with self._cond:
            self._cond.wait_for(lambda: self.exit_code is not None, timeout=STOP)
        return self.exit_code


def subscriber(server, token, label="subscriber"):
    """A subscriber printing JSON events, once it printed `sessionConnected`."""
    c = LiveClient(label, ["subscribe", "--url", server.base_url, "--token", token, "--json",
                           "--duration", MAX_CLIENT_SECONDS])
    c.connection_id = c.wait_event("sessionConnected")["connection"]["connectionId"]
    return c


def publisher(server, token, media, name=None, audio=True, label=None):
    """A publisher looping the media files, once the server accepted its stream; with
    `stream_id` and `connection_id`."""
    _, video, audio_file = media
    args = ["publish", "--url", server.base_url, "--token", token, "--video", video, "--loop",
            "--duration", MAX_CLIENT_SECONDS]
    if audio:
        args += ["--audio", audio_file]
    if name is not None:
        args += ["--name", name]
    c = LiveClient(label or f"publisher {name or ''}".strip(), args)
    c.connection_id = c.wait_stderr(r"as connection (\S+)").group(1)
    c.stream_id = c.wait_stderr(r"published stream (\S+)").group(1)
    return c


def running_clients():
    with _running_lock:
        return set(_running)


def stop_all_clients():
    with _running_lock:
        clients = list(_running)
    for c in clients:
        c.stop()


def marker():
    return "m" + secrets.token_hex(6)


# --- HTTP exchange log --------------------------------------------------------------


@dataclass
class Exchange:
    method: str
    url: str
    path: str
    request_body: str
    request_content_type: str
    status: int
    content_type: str
    response_body: str
    encoding_by_requests: str  # the charset requests uses for .text / .json() of the answer

    def line(self):
        return (f"{self.method} {self.url} {self.request_body!r} -> {self.status} "
                f"{self.content_type} {self.response_body!r}")


class HttpLog:
    """While installed, every request made through `requests` is appended to `exchanges`."""

    def __init__(self):
        self.exchanges = []
        self._orig = None

    def install(self):
        orig = self._orig = requests.adapters.HTTPAdapter.send
        log = self

        def send(adapter, request, **kwargs):
            response = orig(adapter, request, **kwargs)
            body = request.body
            if isinstance(body, bytes):
                body = body.decode("utf-8", "replace")
            path = requests.utils.urlparse(request.url).path
            log.exchanges.append(Exchange(
                method=request.method,
                url=request.url,
                path=path,
                request_body=body or "",
                request_content_type=request.headers.get("Content-Type", ""),
                status=response.status_code,
                content_type=response.headers.get("Content-Type", ""),
                response_body=response.content.decode("utf-8", "replace"),
                encoding_by_requests=response.encoding or "(guessed from the bytes)",
            ))
            return response

        requests.adapters.HTTPAdapter.send = send
        return self

    def uninstall(self):
        if self._orig is not None:
            requests.adapters.HTTPAdapter.send = self._orig
            self._orig = None

    def mark(self):
        return len(self.exchanges)

    def since(self, mark):
        return self.exchanges[mark:]

    def one(self, mark, method, path, status):
        """The single exchange since `mark`, checked."""
        xs = self.since(mark)
        listing = "\n".join(x.line() for x in xs)
        assert len(xs) == 1, f"expected one request, got:\n{listing}"
        x = xs[0]
        assert f"{x.method} {x.path}" == f"{method} {path}", listing
        assert x.status == status, f"wrong status:\n{listing}"
        return x


def error_body(x, status):
    """A 4xx answer: JSON {code, message}, Content-Type exactly application/json."""
    assert x.status == status, x.line()
    assert x.content_type == "application/json", x.line()
    body = json.loads(x.response_body)
    assert body["code"] == status, x.line()
    assert isinstance(body["message"], str) and body["message"], x.line()
    return body
