#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60) with cargo fuzz (libFuzzer,
# nightly toolchain) and prints, per target: executions, coverage, corpus size and crashes.
# Seeds are fuzz/corpus/<target>/ (committed); what a run adds goes to fuzz/target/corpus/
# (not committed, kept between runs, so later runs start where earlier ones got to). A crash leaves its input in fuzz/artifacts/<target>/ and
# makes the script exit 1.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs the nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`); without them it says SKIP and why, and exits 0 unless
# NICKSOCK_REQUIRE_FUZZ=1.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true

skip() {
  echo "SKIP: fuzzing: $1"
  [ "${NICKSOCK_REQUIRE_FUZZ:-0}" = 1 ] && exit 1
  exit 0
}
command -v rustup >/dev/null || skip "no rustup to run the nightly toolchain"
rustup run nightly rustc --version >/dev/null 2>&1 || skip "no nightly toolchain (rustup toolchain install nightly)"
cargo +nightly fuzz --version >/dev/null 2>&1 || skip "no cargo-fuzz (cargo install cargo-fuzz)"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir fuzz)
fi

# One build for all targets (debug assertions on, as in the tests).
cargo +nightly fuzz build --fuzz-dir fuzz --debug-assertions >/dev/null

scratch=$(mktemp -d /tmp/nicksock-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failed=0
printf '%-18s %12s %8s %8s %8s %s\n' target executions cov features corpus result
for t in "${targets[@]}"; do
  mkdir -p "fuzz/target/corpus/$t" "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log=$scratch/$t.log
  result=ok
  # -rss_limit_mb: a parser that buffers without end fails here, not on a Pi.
  if ! cargo +nightly fuzz run --fuzz-dir fuzz --debug-assertions "$t" \
      "fuzz/target/corpus/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=512 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1; then
    result="CRASH: $(grep -m1 -o 'fuzz/artifacts/[^ ]*' "$log" || echo "see $log")"
    failed=1
    cp "$log" "fuzz/artifacts/$t/last.log"
  fi
  # The last figure of each kind libFuzzer printed ("?" when it printed none).
  last() { grep -o "$1 [0-9]*" "$log" | tail -1 | awk '{print $2}' || true; }
  execs=$(last 'stat::number_of_executed_units:')
  cov=$(last 'cov:')
  ft=$(last 'ft:')
  corp=$(last 'corp:')
  printf '%-18s %12s %8s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
exit $failed
