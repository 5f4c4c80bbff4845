#!/usr/bin/env bash
# Benchmark of a program on a socket (issue 26): SIZE_MIB (1 GiB by default) sent through
# `cat` run by each server for one client and echoed back, side by side in one run, written
# to the "## exec" section of BENCHMARKS.md:
#   nicksock listen --exec /bin/cat
#   ncat -l --exec /bin/cat
#   socat TCP-LISTEN:PORT EXEC:cat
# Every transfer is checked: the bytes that came back must equal those sent (cmp, after the
# clock stopped) and the client and the server must exit 0, else the cell says "failed".
#
# Choices, and why:
#   - One client for all three servers: `nicksock connect 127.0.0.1 PORT < data > back`
#     (stdin a file in /dev/shm, sent by sendfile; what comes back spliced into a file in
#     /dev/shm), so the client costs the same in every row, and what it does at the end
#     (its FIN after the last byte, then reading until the server's FIN) is what the
#     nmap #962 case needs. The time is from spawning the client to its exit: every byte
#     sent, echoed and written.
#   - The servers serve one client and exit, as each does by default without -k/fork; the
#     server must exit 0 too (a server that lost bytes may still exit 0: cmp decides).
#   - Median of RUNS (3) runs per server, the servers taking turns run by run.
#   - Each transfer gets at most CAP (30) s: ncat --exec deadlocks on a bulk echo (it writes
#     to the program's stdin with a blocking write while the program waits for ncat to
#     read its stdout, so both wait once the buffers are full: on this machine after
#     56 KiB). A capped run says how many bytes had come back.
#   - No measurement starts while cargo or rustc runs (waits up to 5 min each time; if one
#     still runs, the section says the numbers were taken on a busy machine).
# Usage: scripts/bench/exec.sh [SIZE_MIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-1024}
RUNS=${2:-3}
CAP=30
for tool in ncat socat python3 ss; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install ncat socat python3 iproute2)"; exit 1; }
done
cargo build --release --quiet --bin nicksock
NS=$PWD/target/release/nicksock
. scripts/bench/lib.sh
bench_workdir nicksock-exec-bench
BUSY=0
head -c $((SIZE_MIB << 20)) /dev/urandom > "$work/data"

# run_once KIND: one transfer through KIND's `cat`; sets $secs, and $bad to "" or why it
# failed.
run_once() {
  local kind=$1 port srv rc=0 src=0 t0 t1
  quiet
  port=$(free_port)
  rm -f "$work/back"
  case $kind in
    nicksock) "$NS" listen 127.0.0.1 "$port" --exec /bin/cat </dev/null >/dev/null 2>"$work/srv.err" & ;;
    ncat) ncat -l 127.0.0.1 "$port" --exec /bin/cat </dev/null >/dev/null 2>"$work/srv.err" & ;;
    socat) socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr EXEC:cat </dev/null >/dev/null 2>"$work/srv.err" & ;;
  esac
  srv=$!
  pids+=("$srv")
  wait_port "$port"
  t0=$(now)
  timeout "$CAP" "$NS" connect 127.0.0.1 "$port" <"$work/data" >"$work/back" 2>"$work/cli.err" || rc=$?
  t1=$(now)
  building && { echo "a build started during a measurement" >&2; BUSY=1; }
  # The server has ended, or ends within 10 s of its client.
  for _ in $(seq 200); do kill -0 "$srv" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$srv" 2>/dev/null; then kill "$srv"; src=hung; fi
  [ "$src" = hung ] || wait "$srv" || src=$?
  secs=$(python3 -c "print($t1 - $t0)")
  bad=""
  if [ "$rc" = 124 ]; then bad="hung: $(stat -c %s "$work/back") bytes had come back after $CAP s"
  elif [ "$rc" != 0 ]; then bad="client exit $rc: $(head -c 200 "$work/cli.err" | tr '\n' ' ')"
  elif [ "$src" != 0 ]; then bad="server exit $src: $(head -c 200 "$work/srv.err" | tr '\n' ' ')"
  elif ! cmp -s "$work/data" "$work/back"; then
    bad="$(stat -c %s "$work/back") of $((SIZE_MIB << 20)) bytes came back, or they differ"
  fi
  [ -z "$bad" ] || echo "$kind: $bad" >&2
}

take_turns "$RUNS" nicksock ncat socat
row() { # row LABEL KIND
  local k=$2
  if [ -n "${FAIL[$k]:-}" ]; then
    echo "| $1 | failed (${FAIL[$k]}) | | |"
    return
  fi
  echo "| $1 | ${MED[$k]} | $(mbps "$SIZE_MIB" 0 "${MEDIAN[$k]}") | $(python3 -c "print(f'{${MEDIAN[$k]} / ${MEDIAN[nicksock]}:.2f}×')") |"
}
busy_note=""
[ "$BUSY" = 1 ] && busy_note="
**cargo or rustc used the same cores during at least one measurement: the numbers are not trustworthy.**
"
section=$(cat <<MD
## exec

Measured by \`scripts/bench/exec.sh $SIZE_MIB $RUNS\` on $(date -u +%Y-%m-%d), $(nproc) cores
($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r), release build;
$(ncat --version 2>&1 | head -1), $(socat -V | sed -n 's/^socat version \([^ ]*\).*/socat \1/p').
$SIZE_MIB MiB of random bytes sent by one client (\`nicksock connect 127.0.0.1 PORT < data > back\`,
files in /dev/shm) to a server that runs \`cat\` for it, and echoed back whole: \`nicksock listen
--exec /bin/cat\`, \`ncat -l --exec /bin/cat\`, \`socat TCP-LISTEN:PORT EXEC:cat\`. Median of $RUNS runs,
seconds from spawning the client to its exit (every byte sent, echoed back and written), the
servers taking turns. A run counts only if what came back equals what was sent (cmp) and
client and server exit 0. MB/s is the size one way over the time; "÷ nicksock" is the row's
time over nicksock's (above 1: slower than nicksock; the issue's target: at least the fastest).
$busy_note
| server | s | MB/s (one way) | ÷ nicksock |
| --- | --- | --- | --- |
$(row "nicksock listen --exec /bin/cat" nicksock)
$(row "ncat -l --exec /bin/cat" ncat)
$(row "socat TCP-LISTEN EXEC:cat" socat)
MD
)
write_section exec "$section"
echo "$section"
