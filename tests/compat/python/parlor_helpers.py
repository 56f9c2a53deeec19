"""Shared helpers for the Python live-compatibility tests (not a test module)."""
import base64
import hashlib
import hmac
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, parse_qsl

import jwt  # PyJWT, a dependency of the opentok SDK

REPO_ROOT = Path(__file__).resolve().parents[3]
PARLOR_BIN = os.environ.get("PARLOR_BIN") or str(REPO_ROOT / "target" / "debug" / "parlor")

API_KEY = "47001234"
API_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"  # 40 hex chars, no '.'
WRONG_SECRET = "aaaabbbbccccddddeeeeffff0000111122223333"

# The test process can die without tearing its fixtures down (killed, interrupted). Children
# started through `setpriv --pdeathsig KILL` are then killed by the kernel instead of being
# left running.
SETPRIV = next((p for p in ("/usr/bin/setpriv", "/bin/setpriv") if os.path.exists(p)), None)


def reaped(argv):
    """`argv` for Popen, such that the child dies with this process where setpriv exists."""
    return [SETPRIV, "--pdeathsig", "KILL", "--", *argv] if SETPRIV else list(argv)


LISTEN_RE = re.compile(r"^parlor listening on (http://127\.0\.0\.1:(\d+))\s*$")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class ParlorServer:
    """A `parlor serve` child process on a free port with a fresh data dir."""

    def __init__(self, api_key=API_KEY, api_secret=API_SECRET, data_dir=None, extra_args=()):
        """api_key=None starts without --api-key/--api-secret; data_dir reuses an existing dir;
        extra_args are more flags of `parlor serve`."""
        if not os.path.exists(PARLOR_BIN):
            raise RuntimeError(
                f"parlor binary not found at {PARLOR_BIN} (set PARLOR_BIN or build parlor-server)"
            )
        self.api_key = api_key
        self.api_secret = api_secret
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="parlor-compat-py-")
        cred_args = [] if api_key is None else ["--api-key", api_key, "--api-secret", api_secret]
        self._stderr_path = os.path.join(tempfile.gettempdir(), os.path.basename(self.data_dir) + ".stderr")
        self._stderr_file = open(self._stderr_path, "wb")
        self.proc = subprocess.Popen(
            reaped([
                PARLOR_BIN, "serve",
                "--listen", "127.0.0.1:0",
                "--media-port", "0",
                "--data-dir", self.data_dir,
                *cred_args,
                *extra_args,
            ]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
        )
        self.stdout_lines = []
        self._final_stderr = None
        self._lines = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()
        self.base_url = self._wait_listening()

    def _drain(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def stderr_text(self):
        if self._final_stderr is not None:
            return self._final_stderr
        self._stderr_file.flush()
        with open(self._stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.proc.kill()
                raise RuntimeError(
                    "parlor serve did not print its listening line in time\nstdout:\n"
                    + "".join(self.stdout_lines) + "\nstderr:\n" + self.stderr_text()
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                raise RuntimeError(
                    f"parlor serve exited early with {code}\nstdout:\n"
                    + "".join(self.stdout_lines) + "\nstderr:\n" + self.stderr_text()
                )
            m = LISTEN_RE.match(line)
            if m:
                return m.group(1)

    def stop(self, sig=signal.SIGTERM, keep_data=False):
        """Sends `sig` (SIGTERM); returns the exit code (None if it had to be killed)."""
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self._final_stderr = self.stderr_text()
        self._stderr_file.close()
        if not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        try:
            os.unlink(self._stderr_path)
        except OSError:
            pass
        return code

    # --- CLI wrappers -------------------------------------------------------

    def cli(self, *args):
        return subprocess.run([PARLOR_BIN, *args], capture_output=True, text=True, timeout=20)

    def session_show(self, session_id):
        r = self.cli("session", "show", session_id, "--data-dir", self.data_dir)
        data = None
        if r.returncode == 0:
            data = json.loads(r.stdout)
        return r.returncode, data, r.stderr

    def token_verify(self, token, session=None):
        args = ["token", "verify", token, "--data-dir", self.data_dir]
        if session:
            args += ["--session", session]
        r = self.cli(*args)
        try:
            data = json.loads(r.stdout)
        except ValueError:
            raise AssertionError(
                f"token verify printed no JSON (exit {r.returncode}): stdout={r.stdout!r} stderr={r.stderr!r}"
            )
        return r.returncode, data, r.stderr


# --- JWT / T1 crafting ---------------------------------------------------------


def python_token_claims(session_id, **over):
    """The JWT claim set the Python SDK's generate_token produces (use_jwt=True)."""
    now = int(time.time())
    claims = {
        "session_id": session_id,
        "role": "publisher",
        "iat": now,
        "exp": now + 86400,
        "scope": "session.connect",
        "iss": API_KEY,
        "ist": "project",
        "nonce": random.randint(0, 999999),
    }
    claims.update(over)
    return claims


def sign_jwt(claims, secret=API_SECRET):
    return jwt.encode(claims, secret, algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"})


def python_t1_data(session_id, connection_data=None, **over):
    """The T1 data string the Python SDK produces (use_jwt=False)."""
    now = int(time.time())
    params = dict(
        session_id=session_id,
        create_time=now,
        expire_time=now + 86400,
        role="publisher",
        nonce=random.randint(0, 999999),
        initial_layout_class_list="",
    )
    params.update(over)
    if connection_data is not None:
        params["connection_data"] = connection_data
    return urlencode(params, True)


def make_t1(data_string, api_key=API_KEY, secret=API_SECRET):
    sig = hmac.new(secret.encode(), data_string.encode(), hashlib.sha1).hexdigest()
    raw = f"partner_id={api_key}&sig={sig}:{data_string}".encode()
    return "T1==" + base64.b64encode(raw).decode()


def split_t1(token):
    assert token.startswith("T1=="), token
    decoded = base64.b64decode(token[4:]).decode("utf-8")
    head, _, data_string = decoded.partition(":")
    return head, data_string


def join_t1(head, data_string):
    return "T1==" + base64.b64encode(f"{head}:{data_string}".encode()).decode()


def t1_fields(token):
    return dict(parse_qsl(split_t1(token)[1], keep_blank_values=True))


def flip_jwt_signature(token):
    h, p, s = token.split(".")
    i = len(s) // 2
    c = "B" if s[i] == "A" else "A"
    return f"{h}.{p}.{s[:i]}{c}{s[i + 1:]}"


def auth_header(key=API_KEY, secret=API_SECRET, **over):
    """X-OPENTOK-AUTH exactly as the Python SDK builds it (with jti, exp = iat + 180)."""
    now = int(time.time())
    claims = {"ist": "project", "iat": now, "exp": now + 180, "iss": key, "jti": str(random.random())}
    claims.update(over)
    return jwt.encode(claims, secret, algorithm="HS256")


# --- session ids ---------------------------------------------------------------


def decode_session_id(session_id):
    """Decodes a session id the way the Python SDK does; returns the '~' separated parts."""
    sub = session_id[2:].encode("utf-8")
    sub += b"=" * (-len(sub) % 4)
    return base64.b64decode(sub, b"-_").decode("utf-8").split("~")


def forge_session_id(template, api_key=None):
    """A well-formed, never-created session id with the same layout as `template`."""
    parts = decode_session_id(template)
    if api_key:
        parts[1] = api_key
    idx = 4 if len(parts) > 4 else len(parts) - 1
    length = max(8, len(parts[idx]))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    parts[idx] = "".join(random.choice(alphabet) for _ in range(length))
    encoded = base64.urlsafe_b64encode("~".join(parts).encode("ascii")).decode().rstrip("=")
    return template[:2] + encoded
