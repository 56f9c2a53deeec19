"""Server lifecycle as the SDK user sees it: generated credentials, persistence, shutdown signals."""
import re
import shutil
import signal

import pytest

from opentok import Client, MediaModes

from parlor_helpers import ParlorServer


def test_first_start_without_credentials_creates_a_working_project_that_persists():
    first = ParlorServer(api_key=None)
    data_dir = first.data_dir
    try:
        out = "".join(first.stdout_lines)
        key_m = re.search(r"^\s*API key:\s+(\d+)\s*$", out, re.M)
        secret_m = re.search(r"^\s*API secret:\s+([0-9a-fA-F]+)\s*$", out, re.M)
        assert key_m and secret_m, f"credentials not printed before the listening line:\n{out}"
        key, secret = key_m.group(1), secret_m.group(1)

        client = Client(key, secret, api_url=first.base_url)
        sid = client.create_session(media_mode=MediaModes.routed, location="198.51.100.4").session_id
        token = client.generate_token(sid)
        code, v, stderr = first.token_verify(token, sid)
        assert code == 0 and v["valid"] is True and v["projectId"] in (key, int(key)), (v, stderr)
        assert first.stop(keep_data=True) == 0

        # Restart on the same data dir, again without credentials: same project, same session.
        second = ParlorServer(api_key=None, data_dir=data_dir)
        try:
            code, shown, stderr = second.session_show(sid)
            assert code == 0, stderr
            assert shown["mediaMode"] == "routed" and shown["location"] == "198.51.100.4"
            again = Client(key, secret, api_url=second.base_url)
            sid2 = again.create_session().session_id
            assert sid2 != sid
            code, v, _ = second.token_verify(again.generate_token(sid2), sid2)
            assert code == 0 and v["valid"] is True
            # The original token still verifies after the restart.
            code, v, _ = second.token_verify(token, sid)
            assert code == 0 and v["valid"] is True
        finally:
            assert second.stop(keep_data=True) == 0, second.stderr_text()
    finally:
        if first.proc.poll() is None:
            first.stop(keep_data=True)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_right_after_listening_is_a_graceful_exit(sig):
    """Once the listening line is printed, SIGINT/SIGTERM must give a graceful exit 0, even at once.

    Repeated because the failure it guards against is a race between printing the line and
    installing the signal handlers."""
    codes = []
    for _ in range(10):
        srv = ParlorServer()
        code = srv.stop(sig=sig)
        codes.append(code)
        if code != 0:
            pytest.fail(f"exit {code} (negative = killed by that signal; None = no exit within the timeout) "
                        f"after {sig.name} right after the listening line; codes so far {codes}\nstderr:\n{srv.stderr_text()}")
