"""Media helpers for the broadcast suites (PyPI `opentok` and `vonage`), not a test module:
RTMP receivers (`ffmpeg -listen`) on free ports, the HLS output fetched like a player would
(no credentials, any TLS trusted through the CA the caller names), and ffprobe of what either
received."""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from parlor_helpers import reaped

_receivers = []


def free_port():
    """A TCP port nobody listens on now (bound to port 0, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    """Whether something listens on TCP `port`, read from /proc/net/tcp* (never by connecting:
    an `ffmpeg -listen 1` takes one connection only)."""
    hexport = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 3 and cols[1].endswith(hexport) and cols[3] == "0A":
                return True
    return False


class RtmpReceiver:
    """`ffmpeg -listen 1` on 127.0.0.1:`port` for /live/<key>, copying what it receives into
    `out` (FLV); `url` is the serverUrl to give a broadcast. Returns once the port listens."""

    def __init__(self, port, key, out):
        self.port, self.key, self.out = port, key, out
        self.url = f"rtmp://127.0.0.1:{port}/live"
        self.stderr = b""
        self.proc = subprocess.Popen(
            reaped(["ffmpeg", "-nostdin", "-v", "error", "-y", "-listen", "1",
                    "-i", f"rtmp://127.0.0.1:{port}/live/{key}", "-c", "copy", "-f", "flv", out]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        _receivers.append(self)
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert self.proc.poll() is None, f"the RTMP receiver on {port} exited: {self.stderr!r}"
            assert time.monotonic() < deadline, f"the RTMP receiver on {port} does not listen after 10 s"
            time.sleep(0.05)

    def _drain(self):
        for chunk in self.proc.stderr:
            self.stderr += chunk

    def wait_exit(self, timeout):
        """The exit code once ffmpeg ended by itself, or None after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM (ffmpeg finishes the file), SIGKILL after 5 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(5) is None:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def stop_all_receivers():
    for rx in list(_receivers):
        rx.stop()
    _receivers.clear()


def http_get(url, cafile=None):
    """GET without credentials: (status, headers, body bytes)."""
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(url, timeout=30, context=ctx) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def fetch_hls(hls_url, directory, name="segment", cafile=None):
    """The HLS playlist as a player gets it, then its first media segment (after the
    EXT-X-MAP initialization section, if any) saved in `directory` and probed. Returns a dict
    {status, headers, playlist, segment_url, file, probe}."""
    status, headers, body = http_get(hls_url, cafile)
    out = {"status": status, "headers": headers, "playlist": body.decode("utf-8", "replace")}
    if status != 200:
        return out
    lines = [l.strip() for l in out["playlist"].splitlines()]
    init = next((m.group(1) for m in (re.match(r'#EXT-X-MAP:.*URI="([^"]+)"', l) for l in lines) if m), None)
    segment = next((l for l in lines if l and not l.startswith("#")), None)
    if segment is None:
        return out
    data = b""
    if init:
        s, _, b = http_get(urllib.parse.urljoin(hls_url, init), cafile)
        assert s == 200, f"GET {init} (EXT-X-MAP): {s}"
        data += b
    out["segment_url"] = urllib.parse.urljoin(hls_url, segment)
    s, _, b = http_get(out["segment_url"], cafile)
    assert s == 200, f"GET {out['segment_url']}: {s}"
    data += b
    ext = os.path.splitext(urllib.parse.urlparse(out["segment_url"]).path)[1] or ".ts"
    out["file"] = os.path.join(directory, name + ext)
    with open(out["file"], "wb") as f:
        f.write(data)
    out["probe"] = ffprobe(out["file"])
    return out


def ffprobe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"ffprobe {path}: {r.stderr}"
    return json.loads(r.stdout)


def av_of(probe):
    """(video codec, width, height, audio codec) of a probe; None where a track is missing."""
    v = next((s for s in probe["streams"] if s["codec_type"] == "video"), None)
    a = next((s for s in probe["streams"] if s["codec_type"] == "audio"), None)
    return (v and v["codec_name"], v and v["width"], v and v["height"], a and a["codec_name"])


def received(rx, wait=10):
    """Waits for a receiver to end by itself (the server closed the stream), stops it after
    `wait` seconds otherwise; (probe of its file, whether it ended by itself)."""
    ended = rx.wait_exit(wait) is not None
    if not ended:
        rx.stop()
    return ffprobe(rx.out), ended
