#!/usr/bin/env bash
# The server core before and after a change, side by side in one run: the release binary of
# git revision BASE (built in a worktree under target/bench-base, kept between runs) against
# the working tree's, alternating round by round so that both see the same machine:
#   - echo: round trips/s with 64-byte messages at 100 connections (examples/echo_load)
#   - relay: one plain stream of SIZE_MIB (connect → relay → listen, checked with cmp), MB/s
#   - relay: short connections/s at 50 at a time (examples/conn_load)
#   - serve-gpio: GET / with keep-alive, requests/s (wrk -t2 -c50)
# Writes the "## server core, before and after" section of BENCHMARKS.md (replacing it).
# Usage: scripts/bench/core.sh BASE [SIZE_MIB] [SECS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${1:?usage: scripts/bench/core.sh BASE [SIZE_MIB] [SECS] [ROUNDS]}
SIZE_MIB=${2:-1024}
SECS=${3:-5}
ROUNDS=${4:-3}
for tool in wrk cmp python3 git; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install wrk diffutils python3 git)"; exit 1; }
done
base_rev=$(git rev-parse --short "$BASE")
cargo build --release --quiet --bin nicksock --example echo_load --example conn_load
NEW=$PWD/target/release/nicksock
ECHO_LOAD=$PWD/target/release/examples/echo_load
CONN_LOAD=$PWD/target/release/examples/conn_load
tree=$PWD/target/bench-base
if [ "$(git -C "$tree" rev-parse --short HEAD 2>/dev/null || true)" != "$base_rev" ]; then
  rm -rf "$tree"
  git worktree prune
  git worktree add --detach "$tree" "$base_rev" >/dev/null
fi
(cd "$tree" && CARGO_TARGET_DIR=$PWD/../bench-base-target cargo build --release --quiet --bin nicksock)
OLD=$PWD/target/bench-base-target/release/nicksock
. scripts/bench/lib.sh
bench_workdir nicksock-core-bench
head -c $((SIZE_MIB << 20)) /dev/urandom >"$work/data"

# serve PORT CMD...: starts CMD (a server on PORT) in the background, sets $sp to its PID and
# waits until it listens.
serve() {
  local port=$1
  shift
  "$@" >/dev/null 2>&1 </dev/null &
  sp=$!
  pids+=("$sp")
  wait_port "$port"
}

# echo_rate BIN: round trips/s at 100 connections.
echo_rate() {
  local port; port=$(free_port)
  serve "$port" "$1" echo 127.0.0.1 "$port"
  "$ECHO_LOAD" "127.0.0.1:$port" 100 "$SECS" | awk '{print $2}'
  kill "$sp"; wait "$sp" 2>/dev/null || true
}

# relay_stream BIN: MB/s of one plain stream through BIN's relay, or "failed".
relay_stream() {
  local tport rport
  tport=$(free_port)
  "$NEW" listen 127.0.0.1 "$tport" >"$work/out" </dev/null 2>/dev/null &
  local lp=$!
  pids+=("$lp")
  wait_port "$tport"
  rport=$(free_port)
  serve "$rport" "$1" relay 127.0.0.1 "$rport" 127.0.0.1 "$tport"
  local rp=$sp t0 t1 rc_s=0 rc_r=0
  t0=$(now)
  "$NEW" connect 127.0.0.1 "$rport" <"$work/data" >/dev/null 2>&1 || rc_s=$?
  wait "$lp" || rc_r=$?
  t1=$(now)
  kill "$rp"; wait "$rp" 2>/dev/null || true
  if [ $rc_s -ne 0 ] || [ $rc_r -ne 0 ] || ! cmp -s "$work/data" "$work/out"; then
    echo failed
  else
    mbps "$SIZE_MIB" "$t0" "$t1"
  fi
  rm -f "$work/out"
}

# relay_conns BIN: short connections/s through BIN's relay to an echo server.
relay_conns() {
  local eport rport
  eport=$(free_port)
  serve "$eport" "$NEW" echo 127.0.0.1 "$eport"
  local ep=$sp
  rport=$(free_port)
  serve "$rport" "$1" relay 127.0.0.1 "$rport" 127.0.0.1 "$eport"
  local rp=$sp
  "$CONN_LOAD" "127.0.0.1:$rport" 50 "$SECS" | awk '{print $2 " (" $6 " failed)"}'
  kill "$rp" "$ep"; wait "$rp" "$ep" 2>/dev/null || true
}

# gpio_rate BIN: GET / requests/s with keep-alive (and wrk's error count).
gpio_rate() {
  local port; port=$(free_port)
  serve "$port" "$1" serve-gpio --backend sim --pin 13 127.0.0.1 --port "$port"
  local out; out=$(wrk -t2 -c50 -d"${SECS}s" "http://127.0.0.1:$port/")
  kill "$sp"; wait "$sp" 2>/dev/null || true
  local rate errors
  rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  errors=$(echo "$out" | awk '/Socket errors/ {s=0; for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}')
  echo "${rate} (${errors:-0} errors)"
}

declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for who in old new; do
    bin=$OLD
    [ $who = new ] && bin=$NEW
    echo "round $round, $who…" >&2
    R[$who,echo,$round]=$(echo_rate "$bin")
    R[$who,stream,$round]=$(relay_stream "$bin")
    R[$who,conns,$round]=$(relay_conns "$bin")
    R[$who,gpio,$round]=$(gpio_rate "$bin")
  done
done

# join X...: the words joined with " / ".
join() {
  local out=$1
  shift
  for x in "$@"; do out+=" / $x"; done
  echo "$out"
}

# row NAME KEY: the rounds of both binaries and the ratio of their medians.
row() {
  local name=$1 key=$2 old=() new=()
  for r in $(seq 1 "$ROUNDS"); do
    old+=("${R[old,$key,$r]}")
    new+=("${R[new,$key,$r]}")
  done
  local ratio
  ratio=$(python3 - "${old[@]}" -- "${new[@]}" <<'EOF'
import statistics, sys
args = sys.argv[1:]
cut = args.index("--")
def nums(xs):
    return [float(x.split()[0]) for x in xs if x.split()[0].replace(".", "", 1).isdigit()]
old, new = nums(args[:cut]), nums(args[cut + 1:])
if len(old) != cut or len(new) != len(args) - cut - 1:
    print("— (a run failed)")
else:
    print(f"{statistics.median(new) / statistics.median(old):.2f}×")
EOF
)
  echo "| $name | $(join "${old[@]}") | $(join "${new[@]}") | $ratio |"
}

section=$(
  echo "## server core, before and after"
  echo
  echo "\`scripts/bench/core.sh $base_rev $SIZE_MIB $SECS $ROUNDS\` on $(date -u +%F), $(nproc) cores, loopback, release"
  echo "builds; the binary of $base_rev (before) and of the working tree (after) alternate round"
  echo "by round. Each cell lists the rounds; the ratio is after ÷ before, of the medians. The"
  echo "stream is compared with its input (\`cmp\`) and every exit code checked, else \`failed\`."
  echo
  echo "| test | before ($base_rev) | after | after ÷ before |"
  echo "| --- | --- | --- | --- |"
  row "echo round trips/s, 100 connections, ${SECS} s" echo
  row "relay, one plain stream of $SIZE_MIB MiB, MB/s" stream
  row "relay, short connections/s, 50 at a time, ${SECS} s" conns
  row "serve-gpio GET / keep-alive, requests/s, wrk -t2 -c50 ${SECS} s" gpio
)
echo "$section"
python3 - "$section" <<'EOF'
import re, sys
section = sys.argv[1].rstrip() + "\n"
path = "BENCHMARKS.md"
text = open(path).read()
pattern = re.compile(r"^## server core, before and after\n.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(text):
    text = pattern.sub(lambda m: section + "\n", text)
else:
    text = text.rstrip() + "\n\n" + section
open(path, "w").write(text)
EOF
