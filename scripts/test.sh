#!/usr/bin/env bash
# Installs everything the tests need (Debian, npm and PyPI packages, cargo-fuzz) and runs
# every test: formatting, clippy, the Rust suites, the live compatibility suites of the
# official OpenTok SDKs, and a short fuzz smoke run. Prints a one-line summary at the end.
#
#   ./scripts/test.sh            everything
#   PARLOR_SKIP_FUZZ=1 ./scripts/test.sh   without the fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
step() { printf '\n==> %s\n' "$*"; }

step "system packages"
apt_pkgs=(build-essential pkg-config libssl-dev openssl ffmpeg janus coturn util-linux iproute2 nftables unzip nodejs npm python3 python3-pip)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# Node and Python may come from elsewhere than Debian (e.g. pyenv): only the commands count.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
if command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then
  missing=("${missing[@]/python3-pip}"); missing=("${missing[@]/python3}")
fi
read -r -a missing <<<"${missing[*]:-}"
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# A clean clone gains nothing from incremental compilation, and its cache is ~2 GB of disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step "formatting and lints"
cargo fmt --all -- --check
# --all-features: parlor-server's `fuzzing` entry points (used only by fuzz/) are linted,
# and so kept compiling, too.
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "Rust tests"
# --no-fail-fast: one failing test binary does not hide what the others would report.
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$logs/cargo.log"

# node/ and python/ include the Vonage-application suites (node/vonage_*.test.mjs with npm
# @vonage/video, python/test_vonage_*.py with PyPI vonage over HTTPS; both make their own
# test CA with the openssl CLI).
step "SDK compatibility (npm opentok and @vonage/video, PyPI opentok and vonage)"
export PARLOR_BIN="$root/target/debug/parlor"
(cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)
rm -rf tests/compat/results
node --test --test-reporter=tap tests/compat/node/ 2>&1 | tee "$logs/node.log"
python3 -m pip install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
python3 -m pytest tests/compat/python -q -p no:cacheprovider 2>&1 | tee "$logs/pytest.log"
step "compatibility table (docs/compatibility.md) matches the suites' results"
python3 tests/compat/compat_table.py --check

step "benchmark smoke run (parlor-bench: Parlor and Janus, a few seconds)"
# Not a measurement (the full bench is in BENCHMARKS.md): it keeps the bench and its Janus
# adapter working. Janus runs in a private network namespace, which needs root.
cargo build -p parlor-bench -p parlor-server --locked --quiet
if [ "$(id -u)" = 0 ]; then peer=(--peer janus); else peer=(); echo "not root: Parlor only"; fi
bench_json=$(./target/debug/parlor-bench compare "${peer[@]}" --scenario livestream --subscribers 3 \
  --duration 2 --media-dir target/bench-media --json | tail -n 1)
echo "$bench_json"
python3 - "$bench_json" "${#peer[@]}" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
systems = ["parlor"] + (["janus"] if sys.argv[2] != "0" else [])
for s in systems:
    x = r[s]
    assert x["subscribers"] == 3, x
    assert x["forwarded_pps"] > 50, f"{s} forwarded {x['forwarded_pps']} pkt/s"
    assert x["loss_pct"] < 5, f"{s} lost {x['loss_pct']}%"
print("bench: 1 passed, 0 failed")
PY
# The recording benchmark (parlor-bench archive): the same idea, a few seconds.
./target/debug/parlor-bench archive --streams 2 --subscribers 1 --duration 1 --rounds 1 \
  --media-dir target/bench-media --json | tail -n 1 > "$logs/archive-bench.json"
./target/debug/parlor-bench archive --compose 2x640x480 --duration 3 --rounds 1 \
  --media-dir target/bench-media --json | tail -n 1 > "$logs/compose-bench.json"
python3 - "$logs/archive-bench.json" "$logs/compose-bench.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["record"]
assert r["streams"] == 2 and r["subscriptions"] == 2, r
rec = [w for w in r["windows"] if w["recorded"]]
assert rec and all(w["recorder_threads"] == 2 and w["tap_packets_per_s"] > 50 for w in rec), rec
assert r["none"]["forwarded_pps"] > 50 and r["recorded"]["loss_pct"] < 5, r
assert len(r["individual_stop_to_available_ms"]) == 1
c = json.load(open(sys.argv[2]))["compose"][0]["runs"][0]
assert c["output_video"] == [640, 480] and c["output_s"] > 2, c
print("archive bench: 2 passed, 0 failed")
PY
# The broadcast benchmark (parlor-bench broadcast): one round of the forwarding comparison,
# the CPU of a small broadcast and one latency run of each HLS mode, a few seconds each.
./target/debug/parlor-bench broadcast --streams 2 --subscribers 1 --resolution 640x480 \
  --duration 3 --forwarding-rounds 1 --latency-duration 12 --media-dir target/bench-media \
  --json | tail -n 1 > "$logs/broadcast-bench.json"
python3 - "$logs/broadcast-bench.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["forwarding"]
assert f["subscriptions"] == 2 and len(f["media_ratio_per_round"]) == 1, f
assert all(w["loss_pct"] < 5 and w["tap_dropped"] == 0 for w in f["windows"]), f["windows"]
assert [w["tap_packets_per_s"] > 0 for w in f["windows"]] == [w["recorded"] for w in f["windows"]], f["windows"]
c = r["cpu"]
assert c["ffmpeg_processes"] >= 3 and c["ffmpeg_cpu"] > 0 and c["server_cpu"] > 0, c
assert [l["hls_mode"] for l in r["latency"]] == ["normal", "lowLatency"], r["latency"]
print("broadcast bench: 1 passed, 0 failed")
PY
# The soak (parlor-bench soak): 30 s of clients joining, publishing or subscribing,
# signalling and leaving, its callbacks going to a local receiver; it fails on any
# unexpected error, or if anything the load made (callback deliveries included) is still
# held after it (RELIABILITY.md has the 10-minute run).
./target/debug/parlor-bench soak --sessions 4 --clients 4 --duration 30 --sample-every 10 \
  --min-stay 3 --max-stay 10 --media-dir target/bench-media --json | tail -n 1 > "$logs/soak.json"
python3 - "$logs/soak.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["errors"] == 0 and r["released"], r
assert r["joins"] > 16 and r["publishes"] > 8 and r["subscriptions"] > 8 and r["signals"] > 0, r
assert r["callbacks"] > r["joins"], r  # connectionCreated and -Destroyed at least, all delivered
assert r["after"]["fds"] <= r["baseline"]["fds"] + 4, r
print("soak: 1 passed, 0 failed")
PY

# ---- browser: the web SDK (web/) and the demo app, end to end in Chromium (tests/browser/) ----
step "web SDK build check and browser tests (esbuild, Debian chromium, playwright-core)"
if ! dpkg -s chromium >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi
(cd web && npm ci --no-audit --no-fund --loglevel=error)
# The binary embeds web/dist (committed, so no npm is needed to run Parlor): it must be
# exactly what web/src builds to. The build also type-checks (tsc).
rebuilt=$(mktemp -d)
(cd web && node build.mjs --outdir "$rebuilt" >/dev/null)
if ! diff -r web/dist "$rebuilt" >/dev/null; then
  echo "web/dist is not the build of web/src: run 'cd web && npm run build' and commit web/dist" >&2
  diff -r web/dist "$rebuilt" | head -n 20 >&2 || true
  rm -rf "$rebuilt"
  exit 1
fi
rm -rf "$rebuilt"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
node --test --test-reporter=tap --test-concurrency=1 tests/browser/ 2>&1 | tee "$logs/browser.log"
# ---- end of browser step ----

if [ -z "${PARLOR_SKIP_FUZZ:-}" ]; then
  step "fuzz smoke run (cargo fuzz, ${PARLOR_FUZZ_SECS:-20}s per target)"
  if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --quiet
  fi
  # cargo-fuzz needs nightly features; the stable toolchain allows them with RUSTC_BOOTSTRAP.
  for target in client_token rooms_token rest_auth app_auth signaling turn_server; do
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- \
      -max_total_time="${PARLOR_FUZZ_SECS:-20}" -print_final_stats=0 2>&1 | tail -n 3)
  done
  # The targets that run a whole server in-process (parlor-server's `fuzzing` feature)
  # take most of an hour to build with AddressSanitizer on this machine: the smoke run
  # builds them unoptimised and without a sanitizer, so they cannot rot and each runs a
  # little; scripts/fuzz.sh runs them properly (RELIABILITY.md has the figures).
  for target in sdp_offer rest_params signaling_sequence router_datagram transport_feedback; do
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --dev --sanitizer none "$target" -- \
      -max_total_time="${PARLOR_FUZZ_SECS:-20}" -print_final_stats=0 2>&1 | tail -n 3)
  done
fi

# One closing line over every runner.
passed=0 failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < <(
  grep -hoE 'test result: [a-z]+\. [0-9]+ passed; [0-9]+ failed' "$logs/cargo.log" |
    awk '{print $4, $6}'
  awk '/^# pass /{p=$3} /^# fail /{f=$3} END{print p+0, f+0}' "$logs/node.log"
  awk '/^# pass /{p=$3} /^# fail /{f=$3} END{print p+0, f+0}' "$logs/browser.log"
  tail -n 5 "$logs/pytest.log" | grep -oE '[0-9]+ (passed|failed)' |
    awk '/passed/{p=$1} /failed/{f=$1} END{print p+0, f+0}'
)
echo
# What the build left on disk (CI machines have had little to spare).
du -sh target fuzz/target 2>/dev/null || true
echo "summary: $passed passed, $failed failed"
[ "$failed" = 0 ]
