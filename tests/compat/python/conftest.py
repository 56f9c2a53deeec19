import pytest
from opentok import Client

from parlor_helpers import API_KEY, API_SECRET, ParlorServer


@pytest.fixture(scope="module")
def server():
    """One `parlor serve` per test module, fresh data dir, port 0; SIGTERM at the end must exit 0."""
    srv = ParlorServer()
    yield srv
    code = srv.stop()
    assert code == 0, f"parlor serve exited with {code} after SIGTERM\nstderr:\n{srv.stderr_text()}"


@pytest.fixture(scope="module")
def client(server):
    return Client(API_KEY, API_SECRET, api_url=server.base_url)
