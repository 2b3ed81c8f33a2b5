#!/usr/bin/env bash
# Runs libFuzzer targets one after the other, each for SECONDS on a copy of
# its seed corpus (fuzz/corpus/<target>/, which is never written to) and
# with its dictionary (fuzz/<target>.dict) if it has one, then
# prints a table: target, runs, exec/s, result. Exits 1 if any target
# crashed, leaked, timed out or failed one of its checks, naming the input
# that reproduces it. Called by `make fuzz` (fuzz/README.md).
#
#   fuzz/run.sh BIN_DIR SECONDS TARGET...
#
# WORK_DIR (default: a new /tmp/kvstore-fuzz.* directory) keeps each
# target's log, grown corpus and crash inputs. FUZZ_ARGS adds libFuzzer flags.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
seconds=$2
shift 2
work=${WORK_DIR:-$(mktemp -d /tmp/kvstore-fuzz.XXXXXX)}
mkdir -p "$work"
echo "fuzz: ${#@} targets, ${seconds}s each; logs, corpora and crash inputs in $work"

declare -a rows
failed=()
for t in "$@"; do
  dir="$work/$t"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/crashes"
  [ -d "$here/corpus/$t" ] && cp -r "$here/corpus/$t/." "$dir/corpus/"
  echo "fuzz: $t: running ${seconds}s on $(find "$dir/corpus" -type f | wc -l) seeds ..."
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  # -timeout: one input taking this long is a hang (rpc_handlers bounds each
  # call at 10 s). LeakSanitizer runs after each input that allocates more
  # than it frees, and at exit (libFuzzer's default -detect_leaks=1).
  rc=0
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$bin/fuzz_$t" -max_total_time="$seconds" -timeout=30 -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$dir/crashes/" ${FUZZ_ARGS:-} "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  crash=$(find "$dir/crashes" -type f -printf '%f\n' | head -1)
  if [ $rc = 0 ] && [ -z "$crash" ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    failed+=("$t")
    echo "fuzz: $t: FAILED; the end of $dir/log:" >&2
    grep -v -E '^#[0-9]+[[:space:]]' "$dir/log" | tail -40 >&2
    if [ -n "$crash" ]; then
      echo "fuzz: $t: reproduce with: $bin/fuzz_$t $dir/crashes/$crash" >&2
    fi
  fi
  rows+=("$(printf '%-18s %12s %10s  %s' "$t" "${runs:--}" "${speed:--}" "$result")")
  echo "fuzz: $t: $result (${runs:--} runs, ${speed:--} exec/s)"
done

echo
printf '%-18s %12s %10s  %s\n' target runs exec/s result
for r in "${rows[@]}"; do echo "$r"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs under $work/<target>/crashes/)" >&2
  exit 1
fi
