#!/usr/bin/env bash
# Start-up time and memory, nicksock against OpenBSD nc in the same run:
#   - `--version` and `nc -h`; `connect -z` and `nc -z` to a loopback port that accepts
#     (hyperfine, N runs each, interleaved in one invocation);
#   - instructions and page faults of `--version` (callgrind, perf), when those tools exist;
#   - peak RSS of the receiving and the sending side of a 64 MiB plain transfer, each file
#     compared byte for byte after it arrived.
# Usage: scripts/bench/startup.sh [RUNS] (default 3000). Needs a release build, hyperfine, nc.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
RUNS=${1:-3000}
ns=$PWD/target/release/nicksock
[ -x "$ns" ] || { echo "build first: cargo build --release" >&2; exit 1; }
bench_workdir nicksock-startup

# A listener that accepts and closes, so thousands of `-z` probes never fill its backlog.
python3 - "$work/port" <<'EOF' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4096)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(120)
while True:
    try:
        c, _ = s.accept(); c.close()
    except OSError:
        break
EOF
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.02; done
port=$(cat "$work/port")
wait_port "$port"

hyperfine -N --warmup 200 -r "$RUNS" --export-json "$work/hf.json" \
  "$ns --version" "nc -h" "$ns connect -z 127.0.0.1 $port" "nc -z 127.0.0.1 $port" >/dev/null 2>&1
python3 - "$work/hf.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']:<45} mean {r['mean']*1e3:.3f} ms  median {r['median']*1e3:.3f} ms  sd {r['stddev']*1e3:.3f}")
EOF

if command -v valgrind >/dev/null; then
  for cmd in "$ns --version" "nc -h"; do
    instr=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null $cmd 2>&1 >/dev/null | awk '/refs:/ {gsub(",", "", $4); print $4}')
    echo "instructions, $cmd: $instr"
  done
fi
if command -v perf >/dev/null; then
  for cmd in "$ns --version" "nc -h"; do
    faults=$(perf stat -x, -e page-faults -r 20 $cmd 2>&1 >/dev/null | awk -F, '/page-faults/ {print $1}')
    echo "page faults, $cmd: $faults"
  done
fi

# Peak RSS (KiB) of one side of a 64 MiB transfer; the other side is the same program.
head -c 64M /dev/urandom >"$work/data"
rss() { # rss SIDE PROGRAM -> prints the side's peak RSS
  local side=$1 prog=$2 p out=$work/got
  rm -f "$out" "$work/time"
  p=$(free_port)
  if [ "$prog" = nc ]; then
    recv=(nc -l 127.0.0.1 "$p"); send=(nc -N 127.0.0.1 "$p")
  else
    recv=("$ns" listen 127.0.0.1 "$p"); send=("$ns" connect 127.0.0.1 "$p")
  fi
  if [ "$side" = receiver ]; then
    /usr/bin/time -f %M -o "$work/time" "${recv[@]}" </dev/null >"$out" 2>/dev/null &
  else
    "${recv[@]}" </dev/null >"$out" 2>/dev/null &
  fi
  local lp=$!
  wait_port "$p"
  if [ "$side" = sender ]; then
    /usr/bin/time -f %M -o "$work/time" "${send[@]}" <"$work/data" >/dev/null
  else
    "${send[@]}" <"$work/data" >/dev/null
  fi
  wait "$lp"
  cmp -s "$work/data" "$out" || { echo "$prog $side: the 64 MiB did not arrive whole" >&2; exit 1; }
  cat "$work/time"
}
for side in receiver sender; do
  echo "peak RSS of the $side of 64 MiB: nicksock $(rss "$side" nicksock) KiB, nc $(rss "$side" nc) KiB"
done
