#!/usr/bin/env bash
# Benchmarks for the socket core and TLS (issues 2 and 3), side by side in one run, written
# to the "## sockets" section of BENCHMARKS.md:
#   - a loopback transfer (default 2 GiB) between files in /dev/shm, every byte checked,
#     receivers with stdin at /dev/null: nicksock vs nc vs socat
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
. scripts/bench/lib.sh
bench_workdir nicksock-bench

head -c $((SIZE_MIB << 20)) /dev/urandom > "$work/data"
"$NS" gen-cert --out "$work" 127.0.0.1 >/dev/null
CERT=$work/cert.pem KEY=$work/cert-key.pem


# transfer NAME RECEIVER SENDER: best MB/s of $RUNS runs; PORT and RECV (the receiver's
# output file, in /dev/shm) are substituted. Every timed run proves its bytes: the receiver's
# file must equal the input (cmp, after the clock stopped) and both sides must exit 0, or
# the row says "failed" with what arrived. Receivers run as a script's background job would:
# stdin at /dev/null unless the command says otherwise.
transfer() {
  local name=$1 recv=$2 send=$3 best=0 port rp rc_s rc_r t0 t1 rate got
  local out=$work/received
  for _ in $(seq $RUNS); do
    port=$(free_port)
    rm -f "$out"
    recv_cmd=${recv//PORT/$port}
    bash -c "${recv_cmd//RECV/$out}" < /dev/null 2>/dev/null & rp=$!
    wait_port "$port"
    t0=$(now)
    rc_s=0; bash -c "${send//PORT/$port}" < "$work/data" >/dev/null 2>&1 || rc_s=$?
    rc_r=0; wait $rp || rc_r=$?
    t1=$(now)
    if ! cmp -s "$work/data" "$out" || [ "$rc_s$rc_r" != 00 ]; then
      got=$(stat -c %s "$out" 2>/dev/null || echo 0)
      echo "$name: $got of $((SIZE_MIB << 20)) bytes arrived intact; exit $rc_s (sender) $rc_r (receiver)" >&2
      echo "failed ($((got >> 20)) of $SIZE_MIB MiB)"; return
    fi
    rate=$(mbps "$SIZE_MIB" "$t0" "$t1")
    [ "$rate" -gt "$best" ] && best=$rate
  done
  rm -f "$out"
  echo "$best"
}

echo "plain transfer of $SIZE_MIB MiB…"
T_NS=$(transfer nicksock "$NS listen 127.0.0.1 PORT > RECV" "$NS connect 127.0.0.1 PORT")
T_NS_RO=$(transfer "nicksock --recv-only" "$NS listen --recv-only 127.0.0.1 PORT > RECV" "$NS connect 127.0.0.1 PORT")
T_NC=$(transfer nc "nc -l 127.0.0.1 PORT > RECV" "nc -N 127.0.0.1 PORT")
T_SOCAT=$(transfer socat "socat -u TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr STDOUT > RECV" "socat -u STDIN TCP:127.0.0.1:PORT")
echo "TLS transfer of $SIZE_MIB MiB…"
TT_NS=$(transfer nicksock "$NS listen --tls --cert $CERT --key $KEY 127.0.0.1 PORT > RECV" "$NS connect --tls --cacert $CERT 127.0.0.1 PORT")
TT_SOCAT=$(transfer socat "socat -u OPENSSL-LISTEN:PORT,bind=127.0.0.1,reuseaddr,cert=$CERT,key=$KEY,verify=0,openssl-min-proto-version=TLS1.3 STDOUT > RECV" "socat -u STDIN OPENSSL:127.0.0.1:PORT,cafile=$CERT,openssl-min-proto-version=TLS1.3")
TT_NCAT=$(transfer ncat "ncat --ssl --ssl-cert $CERT --ssl-key $KEY --recv-only -l 127.0.0.1 PORT > RECV" "ncat --ssl --send-only 127.0.0.1 PORT")

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
Transfers: best of $RUNS, from a file in /dev/shm to a file in /dev/shm, MB/s (higher is
better), from the sender's start to the receiver's exit. Each timed run is checked: the
received file must equal the input (\`cmp\`) and both sides must exit 0, else the cell says
\`failed\` with how much arrived. Receivers run with stdin at /dev/null, as a background job
in a script (nicksock's default set-up, no \`--recv-only\`, unless the row says so).

| test | nicksock | OpenBSD nc | socat | ncat | nicksock vs the faster peer |
| --- | --- | --- | --- | --- | --- |
| plain TCP transfer, $SIZE_MIB MiB | $T_NS | $T_NC | $T_SOCAT | — | $(ratio "$T_NS" "$T_NC" "$T_SOCAT") (target 1.3×) |
| plain TCP, receiver \`--recv-only\` | $T_NS_RO | — | — | — | $(ratio "$T_NS_RO" "$T_NC" "$T_SOCAT") |
| TLS 1.3 transfer, $SIZE_MIB MiB | $TT_NS | — | $TT_SOCAT | $TT_NCAT | $(ratio "$TT_NS" "$TT_SOCAT" "$TT_NCAT") (target 1.5×) |

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
