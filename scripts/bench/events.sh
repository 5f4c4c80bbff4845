#!/usr/bin/env bash
# serve-gpio's event stream under load: how long a POST takes to be answered and a change
# to reach a reading subscriber, with 0 and then STALLED (default 1000) subscribers that
# never read, and the server's peak memory. Release build; everything on loopback.
#
# Usage: scripts/bench/events.sh [STALLED] [CHANGES]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
stalled=${1:-1000}
changes=${2:-2000}
cargo build --release --quiet --bin nicksock --example events_load
BIN=target/release/nicksock
LOAD=target/release/examples/events_load
bench_workdir nicksock-events

for n in 0 "$stalled"; do
  "$BIN" serve-gpio --backend sim --pin 13 127.0.0.1 --port 0 2>"$work/serve.err" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do grep -q "^listening on " "$work/serve.err" && break; sleep 0.05; done
  addr=$(grep -m1 "^listening on " "$work/serve.err" | awk '{print $3}')
  "$LOAD" "$addr" "$n" "$changes"
  echo "  server peak RSS $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")," \
    "open descriptors at the end $(ls "/proc/$pid/fd" | wc -l)"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
