#!/usr/bin/env python3
"""Renders docs/compatibility.md from the live compatibility suites' results.

Each suite writes tests/compat/results/<sdk>-<suite>.json: a JSON array of records
{sdk, version, method, operation, feature, status, note[, message_surfaced, error_raised]}
with status "works" | "501" | "fails" | "n/a" (n/a: the SDK has no method for the operation);
for a 501, message_surfaced tells whether the error the application sees carries the
server's message, error_raised whether the SDK reported an error at all. `method` may name
several methods, "a / b". This script merges them into two tables, an operation (row) per SDK
method, with one column per SDK: the OpenTok / Vonage Video SDKs, then the Telnyx Video Rooms
SDKs (the Rooms API under /v2, whose operations are its own); followed by the notes.

    python3 tests/compat/compat_table.py            # writes docs/compatibility.md
    python3 tests/compat/compat_table.py --check    # exits 1 if the file is not up to date
    python3 tests/compat/compat_table.py --stdout   # prints it instead

Standard library only.
"""
import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = HERE / "results"
OUTPUT = REPO / "docs" / "compatibility.md"

# sdk key -> (language, registry, package, how its suites run). The vonage-* columns are the
# current Vonage SDKs authenticating as a Vonage application (`parlor app create`): their
# suites are node/vonage_*.test.mjs and python/test_vonage_*.py, run by the same commands.
SDKS = {
    "node": ("Node.js", "npm", "opentok", "node --test tests/compat/node/"),
    "python": ("Python", "PyPI", "opentok", "python3 -m pytest tests/compat/python"),
    "vonage-node": ("Node.js", "npm", "@vonage/video", None),
    "vonage-python": ("Python", "PyPI", "vonage", None),
}
# The Telnyx Video Rooms API (/v2; docs/rooms.md): node/rooms.test.mjs and
# node/rooms_media.test.mjs (npm telnyx), python/test_rooms.py and python/test_rooms_media.py
# (PyPI telnyx), run by the same commands. Their operations are not
# OpenTok's, so they get a table of their own.
TELNYX_SDKS = {
    "telnyx-node": ("Node.js", "npm", "telnyx", None),
    "telnyx-python": ("Python", "PyPI", "telnyx", None),
}
ALL_SDKS = {**SDKS, **TELNYX_SDKS}
STATUSES = ("works", "501", "fails", "n/a")
# Worst first: a row's cell shows the worst status among its records.
RANK = {"fails": 0, "501": 1, "n/a": 2, "works": 3}
FEATURES = [
    "sessions and tokens", "signaling", "moderation", "streams", "callbacks", "archiving",
    "broadcasts", "SIP interconnect", "captions", "Experience Composer", "Audio Connector",
]
TELNYX_FEATURES = ["rooms", "join tokens", "room sessions", "participants", "session actions", "recordings",
                   "compositions", "webhooks", "errors"]
REQUIRED = ("sdk", "version", "method", "operation", "feature", "status", "note")


def load(results_dir):
    files = sorted(results_dir.glob("*.json"))
    if not files:
        sys.exit(f"compat_table: no results in {results_dir} (run the compatibility suites first)")
    records = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except ValueError as e:
            sys.exit(f"compat_table: {f}: not JSON: {e}")
        if not isinstance(data, list):
            sys.exit(f"compat_table: {f}: not a JSON array")
        for i, r in enumerate(data):
            missing = [k for k in REQUIRED if k not in r]
            if missing:
                sys.exit(f"compat_table: {f}[{i}]: missing {', '.join(missing)}")
            if r["status"] not in STATUSES:
                sys.exit(f"compat_table: {f}[{i}]: unknown status {r['status']!r}")
            if r["sdk"] not in ALL_SDKS:
                sys.exit(f"compat_table: {f}[{i}]: unknown sdk {r['sdk']!r}")
            records.append(r)
    absent = [s for s in ALL_SDKS if not any(r["sdk"] == s for r in records)]
    if absent:
        sys.exit(f"compat_table: no results for {', '.join(absent)} in {results_dir} "
                 "(run every suite before rendering)")
    return records


# Notes of failures may quote ids minted during the run; they would make the page differ from
# run to run.
VOLATILE = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b[12]_[A-Za-z0-9_-]{40,}"), "<session id>"),
]


# The Rooms suites' notes of failures may also quote timestamps and dates, room names with a
# random suffix, tokens and the server's port.
VOLATILE_ROOMS = [
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "<token>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"), "<time>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"-[0-9a-f]{10}\b"), "-<suffix>"),
    (re.compile(r"\b127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
]


def stable(note, rooms=False):
    for rx, placeholder in VOLATILE + (VOLATILE_ROOMS if rooms else []):
        note = rx.sub(placeholder, note)
    return note.replace("\n", " ").strip()


def code(s):
    return f"`{s}`"


def cell(recs):
    if not recs:
        return "not tested"
    status = min((r["status"] for r in recs), key=RANK.get)
    methods = []
    for r in recs:
        for m in r["method"].split(" / "):
            if m not in methods and m != "(none)":
                methods.append(m)
    label = {"works": "works", "fails": "**fails**", "n/a": "n/a (no such method)"}.get(status)
    if status == "501":
        r501 = [r for r in recs if r["status"] == "501"]
        if any(r.get("error_raised") is False for r in r501):
            label = "501, SDK reports no error"
        elif all(r.get("message_surfaced") for r in r501):
            label = "501, message shown"
        else:
            label = "501, message not shown"
    name = " / ".join(code(m) for m in methods)
    return f"{name}: {label}" if name else label


def rows_of(records, features):
    """(feature, operation) rows: by feature, then in the order the suites first recorded them."""
    order = {}
    for r in records:
        order.setdefault((r["feature"], r["operation"]), len(order))
    def feature_rank(f):
        return (features.index(f), "") if f in features else (len(features), f)
    return sorted(order, key=lambda k: (feature_rank(k[0]), order[k]))


def table(records, sdks, rows):
    """The table's lines, a blank line and the per-status counts line."""
    versions = {s: sorted({r["version"] for r in records if r["sdk"] == s}) for s in sdks}
    out = []
    w = out.append
    head = ["Feature", "Operation"] + [
        f"{sdks[s][0]} ({sdks[s][1]} `{sdks[s][2]}` {', '.join(versions[s])})" for s in sdks
    ]
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" * len(head))
    for feature, operation in rows:
        cells = [cell([r for r in records if r["sdk"] == s and r["feature"] == feature
                       and r["operation"] == operation]) for s in sdks]
        w(f"| {feature} | {operation} | " + " | ".join(cells) + " |")
    w("")
    counts = []
    for s in sdks:
        per = {}
        for feature, operation in rows:
            recs = [r for r in records if r["sdk"] == s and r["operation"] == operation
                    and r["feature"] == feature]
            if recs:
                st = min((r["status"] for r in recs), key=RANK.get)
                per[st] = per.get(st, 0) + 1
        counts.append(f"{sdks[s][0]} `{sdks[s][2]}`: " + ", ".join(f"{per[k]} {k}" for k in STATUSES if k in per))
    w("Operations per status: " + "; ".join(counts) + ".")
    return out


def notes(records, sdks, rows, rooms=False):
    out = []
    w = out.append
    for s in sdks:
        w("")
        w(f"### {sdks[s][0]} (`{sdks[s][2]}`)")
        w("")
        for feature, operation in rows:
            recs = [r for r in records if r["sdk"] == s and r["feature"] == feature
                    and r["operation"] == operation]
            ns = []
            for r in recs:
                n = stable(r["note"], rooms)
                if r["status"] == "fails":
                    n = f"FAILS: {n}"
                if n and n not in ns:
                    ns.append(n)
            if ns:
                w(f"- {operation}: " + " — ".join(ns))
    return out


def render(records):
    video = [r for r in records if r["sdk"] in SDKS]
    rooms = [r for r in records if r["sdk"] in TELNYX_SDKS]
    rows = rows_of(video, FEATURES)
    room_rows = rows_of(rooms, TELNYX_FEATURES)
    tx_versions = {s: ", ".join(sorted({r["version"] for r in rooms if r["sdk"] == s})) for s in TELNYX_SDKS}

    out = []
    w = out.append
    w("# Server SDK compatibility")
    w("")
    w("<!-- Generated by tests/compat/compat_table.py from the live compatibility suites' "
      "results. Do not edit by hand: run the suites, then the script. -->")
    w("")
    w("Parlor serves two REST APIs, and the official server SDKs of both work unchanged when "
      "pointed at a Parlor server: the OpenTok / Vonage Video API, and the Telnyx Video Rooms "
      "API under `/v2` (rooms, join client tokens, room sessions and participants, recordings, "
      "compositions and webhooks; see "
      "[rooms.md](rooms.md)). The tables show, for each SDK method, what happens when it is "
      "called against a real `parlor serve`: [OpenTok and Vonage](#opentok-and-vonage-video-sdks) "
      "first, then [Telnyx](#telnyx-video-rooms-sdks). The `opentok` columns "
      "authenticate with an API key and secret; the `@vonage/video` and `vonage` columns "
      "with a Vonage application (an application ID and an RSA private key from `parlor app "
      "create`), the Python one over HTTPS (`parlor serve --tls-cert --tls-key`), as that "
      "SDK requires. The `telnyx` columns send the Rooms API's credential, a project's "
      "`Bearer <API key>:<API secret>`.")
    w("")
    w("How it is produced: the live compatibility suites in `tests/compat/` run the "
      "published SDKs, unmodified, against a freshly started server with native clients in "
      "the session (`parlor client subscribe --json` and `parlor client publish`, with "
      "tokens minted by the SDK). Each test checks the effect the SDK documents: the "
      "subscriber prints the signal, the forced-out client is disconnected, the other "
      "clients see a stream lose its audio, a class list reads back, a registered callback "
      "URL receives events. It also checks the exact request the SDK sent and the status and "
      "body the server answered. Every test records one result in "
      "`tests/compat/results/<sdk>-<suite>.json` (git-ignored), and "
      "`tests/compat/compat_table.py` renders this page from those files:")
    w("")
    w("```sh")
    w("rm -rf tests/compat/results")
    for s in SDKS:
        if SDKS[s][3]:
            w(SDKS[s][3])
    w("python3 tests/compat/compat_table.py")
    w("```")
    w("")
    w("Statuses:")
    w("")
    w("- **works**: the call succeeded and had its documented effect. Its bad-input cases got "
      "the SDK's 4xx error, never a 5xx.")
    w("- **501**: Parlor has not built this feature yet. The server answers "
      "`501 {\"code\": 501, \"message\": \"this Parlor server does not support <feature> "
      "yet\"}`. *message shown* means the error the application gets from the SDK contains "
      "that message. *message not shown* means the SDK reports a generic error instead. "
      "*SDK reports no error* means the SDK returned as if the call had succeeded.")
    w("- **fails**: the call did not do what the SDK documents. The note gives the reason.")
    w("- **n/a**: this SDK has no method for the operation.")
    w("")
    w("## OpenTok and Vonage Video SDKs")
    w("")
    out.extend(table(video, SDKS, rows))
    w("")
    w("## Telnyx Video Rooms SDKs")
    w("")
    w(f"npm `telnyx` {tx_versions['telnyx-node']} (`tests/compat/node/rooms.test.mjs`, "
      f"`rooms_media.test.mjs`) and PyPI `telnyx` {tx_versions['telnyx-python']} "
      "(`tests/compat/python/test_rooms.py`, `test_rooms_media.py`) against the "
      "Rooms API, with the base URL pointed at the server's `/v2`. Rooms are joined by native "
      "clients with the join client tokens the SDK generates (`parlor client subscribe|publish "
      "--session ROOM_ID --token JOIN_TOKEN`): the joins make the room sessions and "
      "participants the SDK then lists, and the session actions act on those clients. "
      "Publishers in a room with `enable_recording` make the recordings the SDK lists, "
      "downloads (checked with ffprobe) and deletes, and the compositions it renders from them; "
      "a webhook receiver in the test checks every request with the SDK's own "
      "`webhooks.unwrap` and the key from `GET /v2/parlor/webhook_public_key`. The "
      "*errors* rows are the error cases, one row per family: each must be Telnyx's `{\"errors\": "
      "[...]}` with the code, `source` and detail the test names, raised as the SDK's typed "
      "error (`UnprocessableEntityError`, `NotFoundError`, …). No request of the suites may "
      "get a 5xx or a 409, which the SDKs would retry.")
    w("")
    out.extend(table(rooms, TELNYX_SDKS, room_rows))
    w("")
    w("## Notes")
    w("")
    w("What each test checked or observed, in the order it ran.")
    out.extend(notes(video, SDKS, rows))
    out.extend(notes(rooms, TELNYX_SDKS, room_rows, rooms=True))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--output", type=Path, default=OUTPUT)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the output is not up to date")
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = ap.parse_args()
    text = render(load(args.results))
    if args.stdout:
        sys.stdout.write(text)
    elif args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: regenerate it with tests/compat/compat_table.py", file=sys.stderr)
            return 1
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
