#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one after another, each for N executions (or T
# seconds), and prints per target: executions, exec/s, wall time, corpus size, coverage
# and whether it crashed. Exit status 1 if any target crashed.
#
#   ./scripts/fuzz.sh                       every target, 10,000,000 executions each
#   ./scripts/fuzz.sh sdp_offer signaling   only these
#   FUZZ_RUNS=1000000 ./scripts/fuzz.sh     another number of executions
#   FUZZ_SECS=600 ./scripts/fuzz.sh         at most 600 s each (with FUZZ_RUNS, whichever first)
#   FUZZ_NICE=10 ./scripts/fuzz.sh          at lower priority (default 10)
#   FUZZ_JOBS=1                             libFuzzer workers per target (default 1)
#
# The seeds in fuzz/corpus/<target>/ are read, never written: what a run finds goes to
# fuzz/target/corpus/<target>/ (kept between runs, not committed), crashes to
# fuzz/artifacts/<target>/ and full logs to fuzz/target/logs/<target>.log.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); the stable toolchain builds it with
# RUSTC_BOOTSTRAP=1, as scripts/test.sh does.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"

runs=${FUZZ_RUNS:-10000000}
secs=${FUZZ_SECS:-0}
nice_level=${FUZZ_NICE:-10}
jobs=${FUZZ_JOBS:-1}

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi

mkdir -p target/logs
results=()
crashed=0
for t in "${targets[@]}"; do
  work=target/corpus/$t
  mkdir -p "$work" "corpus/$t"
  echo "==> $t (runs=$runs, max_total_time=${secs}s)" >&2
  # Build first, so the build is not counted in the run's time.
  if ! RUSTC_BOOTSTRAP=1 nice -n "$nice_level" cargo fuzz build "$t" >&2; then
    results+=("$(printf '%-20s build failed' "$t")")
    crashed=1
    continue
  fi
  log=target/logs/$t.log
  args=(-runs="$runs" -print_final_stats=1)
  [ "$secs" != 0 ] && args+=(-max_total_time="$secs")
  [ "$jobs" != 1 ] && args+=(-fork="$jobs")
  start=$(date +%s)
  RUSTC_BOOTSTRAP=1 nice -n "$nice_level" cargo fuzz run "$t" "$work" "corpus/$t" -- \
    "${args[@]}" >"$log" 2>&1
  status=$?
  # The server targets keep their store in /dev/shm/parlor-fuzz-<target>-<pid>: remove
  # those whose process is gone.
  for d in /dev/shm/parlor-fuzz-*-*; do
    [ -e "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null && rm -rf "$d"
  done
  took=$(($(date +%s) - start))
  execs=$(awk '/^stat::number_of_executed_units:/{n=$2} END{print n}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec:/{n=$2} END{print n}' "$log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)
  corpus=$(find "$work" -type f | wc -l)
  if [ "$status" = 0 ]; then
    verdict="no crash"
  else
    verdict="CRASH (exit $status; see $log and artifacts/$t/)"
    crashed=1
  fi
  results+=("$(printf '%-20s %12s execs %8s exec/s %6ss  corpus %5s  %-22s %s' \
    "$t" "${execs:-?}" "${rate:-?}" "$took" "$corpus" "${cov:-cov: ?}" "$verdict")")
  echo "${results[-1]}" >&2
done

echo
printf '%s\n' "${results[@]}"
exit "$crashed"
