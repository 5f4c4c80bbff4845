#!/usr/bin/env bash
# Benchmarks for the socket core and TLS (issues 2 and 3), side by side in one run, written
# to the "## sockets" section of BENCHMARKS.md:
#   - a loopback transfer (default 2 GiB) from /dev/shm to /dev/null: nicksock vs nc vs socat
#   - the same over TLS 1.3: nicksock vs socat OPENSSL vs ncat --ssl (one certificate)
#   - echo round trips/s with 64-byte messages at 1, 100, 1000 connections: nicksock vs
#     socat fork vs a Python asyncio server
#   - RSS of nicksock echo holding 5000 idle connections
#   - sequential TLS handshakes/s: nicksock connect --tls against echo --tls vs openssl
#     s_client against s_server
# Everything runs on 127.0.0.1. (ncat 7.93 cannot verify an IP-address certificate, so its
# client runs without verification; the cost of verifying is per handshake, not per byte.
# Its client also needs --send-only, or it drops what it has not sent when stdin ends.) Usage: scripts/bench/sockets.sh [SIZE_MIB] [ECHO_SECS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-2048}
ECHO_SECS=${2:-5}
RUNS=3
cargo build --release --quiet --bin nicksock --example echo_load
NS=$PWD/target/release/nicksock
LOAD=$PWD/target/release/examples/echo_load
for tool in nc socat ncat openssl python3; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install netcat-openbsd socat ncat openssl python3)"; exit 1; }
done
work=$(mktemp -d /dev/shm/nicksock-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

head -c $((SIZE_MIB << 20)) /dev/urandom > "$work/data"
"$NS" gen-cert --out "$work" 127.0.0.1 >/dev/null
CERT=$work/cert.pem KEY=$work/cert-key.pem

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (bounded) until something listens on TCP port $1.
wait_port() {
  for _ in $(seq 1 200); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2; return 1
}
now() { date +%s.%N; }

# transfer NAME RECEIVER SENDER: best MB/s of $RUNS runs; PORT is substituted. A first
# run of 16 MiB into `wc -c` checks that every byte arrives ("failed" otherwise).
transfer() {
  local name=$1 recv=$2 send=$3 best=0
  local port; port=$(free_port)
  local to_pipe=${recv% > /dev/null}
  bash -c "${to_pipe//PORT/$port}" 2>/dev/null | wc -c > "$work/count" & local vp=$!
  wait_port "$port"
  head -c $((16 << 20)) "$work/data" | bash -c "${send//PORT/$port}" >/dev/null 2>&1 || true
  wait $vp || true
  if [ "$(cat "$work/count")" != $((16 << 20)) ]; then
    echo "$name: only $(cat "$work/count") of $((16 << 20)) bytes arrived" >&2
    echo "failed"; return
  fi
  for _ in $(seq $RUNS); do
    port=$(free_port)
    bash -c "${recv//PORT/$port}" >/dev/null 2>&1 & local rp=$!
    wait_port "$port"
    local t0; t0=$(now)
    bash -c "${send//PORT/$port}" < "$work/data" >/dev/null 2>&1 || true
    wait $rp || true
    local t1; t1=$(now)
    local rate; rate=$(python3 -c "print(round($SIZE_MIB*1.048576/($t1-$t0)))")
    [ "$rate" -gt "$best" ] && best=$rate
  done
  echo "$best"
}

echo "plain transfer of $SIZE_MIB MiB…"
T_NS=$(transfer nicksock "$NS listen --recv-only 127.0.0.1 PORT > /dev/null" "$NS connect 127.0.0.1 PORT")
T_NC=$(transfer nc "nc -l 127.0.0.1 PORT > /dev/null" "nc -N 127.0.0.1 PORT")
T_SOCAT=$(transfer socat "socat -u TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr STDOUT > /dev/null" "socat -u STDIN TCP:127.0.0.1:PORT")
echo "TLS transfer of $SIZE_MIB MiB…"
TT_NS=$(transfer nicksock "$NS listen --tls --cert $CERT --key $KEY --recv-only 127.0.0.1 PORT > /dev/null" "$NS connect --tls --cacert $CERT 127.0.0.1 PORT")
TT_SOCAT=$(transfer socat "socat -u OPENSSL-LISTEN:PORT,bind=127.0.0.1,reuseaddr,cert=$CERT,key=$KEY,verify=0,openssl-min-proto-version=TLS1.3 STDOUT > /dev/null" "socat -u STDIN OPENSSL:127.0.0.1:PORT,cafile=$CERT,openssl-min-proto-version=TLS1.3")
TT_NCAT=$(transfer ncat "ncat --ssl --ssl-cert $CERT --ssl-key $KEY --recv-only -l 127.0.0.1 PORT > /dev/null" "ncat --ssl --send-only 127.0.0.1 PORT")

# echo_rate SERVER_CMD CONNS: round trips/s and failures against a server on PORT.
echo_rate() {
  local cmd=$1 conns=$2 port; port=$(free_port)
  bash -c "${cmd//PORT/$port}" >/dev/null 2>&1 & local sp=$!
  pids+=("$sp")
  wait_port "$port"
  local out; out=$("$LOAD" "127.0.0.1:$port" "$conns" "$ECHO_SECS")
  kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null || true
  echo "$out" | awk '{print $2 " (" $6 " failed)"}'
}
declare -A ECHO
for c in 1 100 1000; do
  echo "echo with $c connections…"
  ECHO[ns,$c]=$(echo_rate "exec $NS echo 127.0.0.1 PORT" $c)
  ECHO[socat,$c]=$(echo_rate "exec socat TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork,backlog=4096 PIPE" $c)
  ECHO[py,$c]=$(echo_rate "exec python3 scripts/bench/asyncio_echo.py PORT" $c)
done

echo "5000 idle connections…"
port=$(free_port)
"$NS" echo 127.0.0.1 "$port" 2>/dev/null & ep=$!; pids+=("$ep")
wait_port "$port"
coproc HOLD { "$LOAD" "127.0.0.1:$port" 5000 --hold; }
read -r held_line <&"${HOLD[0]}"
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$ep/status")
kill "$HOLD_PID" 2>/dev/null || true; kill "$ep"; wait "$ep" 2>/dev/null || true

echo "TLS handshakes…"
HS_N=200
port=$(free_port)
"$NS" echo --tls --cert "$CERT" --key "$KEY" 127.0.0.1 "$port" 2>/dev/null & ep=$!; pids+=("$ep")
wait_port "$port"
t0=$(now)
for _ in $(seq $HS_N); do "$NS" connect --tls --cacert "$CERT" 127.0.0.1 "$port" </dev/null >/dev/null; done
t1=$(now)
HS_NS=$(python3 -c "print(round($HS_N/($t1-$t0)))")
kill "$ep"; wait "$ep" 2>/dev/null || true
port=$(free_port)
openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$CERT" -key "$KEY" -naccept $HS_N </dev/null >/dev/null 2>&1 & sp=$!; pids+=("$sp")
wait_port "$port"
t0=$(now)
for _ in $(seq $HS_N); do openssl s_client -quiet -CAfile "$CERT" -connect "127.0.0.1:$port" </dev/null >/dev/null 2>&1 || true; done
t1=$(now)
HS_OSSL=$(python3 -c "print(round($HS_N/($t1-$t0)))")
kill "$sp" 2>/dev/null || true

ratio() {
  python3 - "$@" <<'PY'
import sys
vals = [int(v) if v.isdigit() else 0 for v in sys.argv[1:]]
best = max(vals[1:])
print(f"{vals[0] / best:.2f}×" if vals[0] and best else "n/a")
PY
}
section=$(cat <<MD
## sockets

Measured by \`scripts/bench/sockets.sh $SIZE_MIB $ECHO_SECS\` on $(date -u +%Y-%m-%d), $(nproc) cores
($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), loopback only, release build.
Transfers: best of $RUNS, from /dev/shm to /dev/null, MB/s (higher is better). Each tool first
moves 16 MiB into \`wc -c\`; \`failed\` means not every byte arrived (ncat 7.93's TLS client
drops the tail at the end of stdin in some runs, even with \`--send-only\`).

| test | nicksock | OpenBSD nc | socat | ncat | nicksock vs the faster peer |
| --- | --- | --- | --- | --- | --- |
| plain TCP transfer, $SIZE_MIB MiB | $T_NS | $T_NC | $T_SOCAT | — | $(ratio $T_NS $T_NC $T_SOCAT) (target 1.3×) |
| TLS 1.3 transfer, $SIZE_MIB MiB | $TT_NS | — | $TT_SOCAT | $TT_NCAT | $(ratio $TT_NS $TT_SOCAT $TT_NCAT) (target 1.5×) |

Echo round trips per second, 64-byte messages, ${ECHO_SECS} s each (load: \`examples/echo_load.rs\`, one mio loop):

| connections | nicksock echo | socat fork | Python asyncio |
| --- | --- | --- | --- |
| 1 | ${ECHO[ns,1]} | ${ECHO[socat,1]} | ${ECHO[py,1]} |
| 100 | ${ECHO[ns,100]} | ${ECHO[socat,100]} | ${ECHO[py,100]} |
| 1000 | ${ECHO[ns,1000]} | ${ECHO[socat,1000]} | ${ECHO[py,1000]} |

Idle connections: nicksock echo holding 5000 connections (\`$held_line\`): RSS $((RSS_KB / 1024)) MiB (target < 64 MiB).

TLS handshakes, sequential, process start to exit, $HS_N each: nicksock connect --tls against
echo --tls $HS_NS/s; openssl s_client against s_server $HS_OSSL/s.
MD
)
python3 - "$section" <<'PY'
import pathlib, re, sys
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n\nEach section is written by its script in scripts/bench/.\n"
section = sys.argv[1].rstrip() + "\n"
pattern = re.compile(r"^## sockets\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
path.write_text(text)
PY
echo "$section"
