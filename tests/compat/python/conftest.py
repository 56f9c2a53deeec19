import json
from pathlib import Path

import opentok
import pytest
from opentok import Client

from parlor_helpers import API_KEY, API_SECRET, ParlorServer

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


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


# --- per-method results for docs/compatibility.md ----------------------------------------
#
# A test marked `@pytest.mark.sdk(method=..., operation=..., feature=..., check=...)` records
# one result {sdk, version, method, operation, feature, status, note, message_surfaced?,
# error_raised?} to results/python-<module without "test_">.json. A passing test is "works"
# unless it set `compat.status` ("501", "n/a"); a failing or erroring one is "fails" with its
# error. See compat_table.py for the fields.


class Outcome:
    """What a passing test reports through the `compat` fixture."""

    def __init__(self):
        self.status = None
        self.note = ""
        self.message_surfaced = None
        self.error_raised = None


@pytest.fixture
def compat():
    return Outcome()


_records = {}  # suite -> {nodeid: record}
_partial = []  # why the run is partial (-k, -m, node ids): then no results file is written


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "sdk(method, operation, feature, check=None): record this SDK method's result "
        "to results/python-<suite>.json",
    )


def _failure_text(rep):
    crash = getattr(rep.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(rep.longrepr)
    return text.strip().splitlines()[0][:300] if text.strip() else "failed"


def _vonage_version():
    from importlib.metadata import version
    return version("vonage")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    marker = item.get_closest_marker("sdk")
    if marker is None:
        return
    suite = item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    records = _records.setdefault(suite, {})
    meta = marker.kwargs
    check = meta.get("check")
    # test_vonage_* modules drive PyPI `vonage` (vonage_video) with application credentials.
    vonage = suite.startswith("vonage_")
    rec = records.setdefault(item.nodeid, {
        "sdk": "vonage-python" if vonage else "python",
        "version": _vonage_version() if vonage else opentok.__version__,
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
            for key in ("message_surfaced", "error_raised"):
                if out is not None and getattr(out, key) is not None:
                    rec[key] = getattr(out, key)
        else:
            rec["status"] = "fails"
            rec["note"] = f"{check + ': ' if check else ''}{_failure_text(rep)}"


def pytest_deselected(items):
    if items:
        _partial.append(f"{len(items)} tests deselected")


def pytest_sessionfinish(session):
    if any("::" in str(a) for a in session.config.args):
        _partial.append("tests chosen by node id")
    if not _records:
        return
    if _partial:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write("\n")
            tr.write_line(f"compat results not written: partial run ({', '.join(_partial)})")
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    for suite, records in _records.items():
        out = []
        for rec in records.values():
            if rec["status"] is None:
                rec["status"] = "fails"
                rec["note"] = "did not run to the end"
            out.append(rec)
        name = f"vonage-python-{suite.removeprefix('vonage_')}" if suite.startswith("vonage_") else f"python-{suite}"
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
