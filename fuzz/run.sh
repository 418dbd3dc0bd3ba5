#!/usr/bin/env bash
# A bounded run of every fuzz target: builds them (installing cargo-fuzz if it is
# missing), runs each for FUZZ_SECONDS (default 20) from its committed seeds, prints
# how many inputs each one ran and the total, and fails if any target crashed (a
# panic, a failed property, an out-of-memory or a timeout).
#
#   fuzz/run.sh                    every target, 20 s each
#   FUZZ_SECONDS=300 fuzz/run.sh   longer
#   fuzz/run.sh amounts dates      only these targets
#
# A crashing input is kept in fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>
# (from fuzz/). What libFuzzer finds besides goes to fuzz/target/corpus/<target>/,
# not into the committed seeds (fuzz/corpus/<target>/).
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
RSS_LIMIT_MB=2048
# An input slower than this is reported as a crash (a hang), in seconds.
INPUT_SECONDS_MAX=30
# caja forbids unsafe code, and its C dependency (SQLite) is not instrumented either
# way: AddressSanitizer would add little but halve the executions. FUZZ_SANITIZER=address
# turns it on.
SANITIZER="${FUZZ_SANITIZER:-none}"
CARGO_FUZZ_VERSION=0.13.2

# cargo fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov-module, …);
# this lets a stable toolchain take them.
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# The body targets run caja over a SQLite file: on tmpfs when there is one.
db_dir="$(mktemp -d -p /dev/shm caja-fuzz.XXXXXX 2>/dev/null || mktemp -d)"
trap 'rm -rf "$db_dir"' EXIT
export CAJA_FUZZ_DB_DIR="$db_dir"

# -a: debug assertions and overflow checks, so an overflow is a crash, not a wrap.
flags=(-a -s "$SANITIZER")
echo "== cargo fuzz build ${flags[*]}"
cargo fuzz build "${flags[@]}"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

mkdir -p target/logs
total=0
failed=()
rows=()
for target in "${targets[@]}"; do
  work="target/corpus/$target"
  mkdir -p "$work" "corpus/$target"
  args=(-max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$INPUT_SECONDS_MAX"
    -print_final_stats=1)
  [ -f "dicts/$target.dict" ] && args+=(-dict="dicts/$target.dict")
  log="target/logs/$target.log"
  echo "== $target (${SECONDS_PER_TARGET} s)"
  status=0
  cargo fuzz run "${flags[@]}" "$target" "$work" "corpus/$target" -- "${args[@]}" >"$log" 2>&1 || status=$?
  rm -f "$db_dir"/*   # this target's store
  runs="$(awk '/stat::number_of_executed_units/ { n = $2 } END { print n + 0 }' "$log")"
  total=$((total + runs))
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    rows+=("$(printf '%-18s %12s  FAILED (exit %s; see fuzz/%s)' "$target" "$runs" "$status" "$log")")
    grep -E "panicked at|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -n 8 || true
  else
    rows+=("$(printf '%-18s %12s' "$target" "$runs")")
  fi
done

echo
echo "== executions per target (${SECONDS_PER_TARGET} s each)"
printf '%s\n' "${rows[@]}"
printf '%-18s %12s\n' total "$total"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
