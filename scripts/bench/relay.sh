#!/usr/bin/env bash
# Benchmarks for `relay` (issue 13), side by side in one run, written to the "## relay"
# section of BENCHMARKS.md:
#   - one 2 GiB stream through the relay, plain to plain: nicksock relay vs socat fork vs
#     haproxy (mode tcp, one thread)
#   - TLS termination (TLS client → relay → plain target): nicksock relay --tls vs stunnel4
#     vs haproxy ssl
#   - TLS origination (plain client → relay → TLS target): nicksock relay --to-tls vs
#     stunnel4 in client mode vs haproxy `server … ssl` (issue 29)
#   - TLS to TLS (TLS client → relay → TLS target): nicksock relay --tls --to-tls vs haproxy
#     with ssl on both sides (stunnel needs two services chained for this: not measured)
#   - new short connections per second through the relay (connect, 64 bytes each way,
#     close) at 50 at a time: nicksock vs socat fork vs haproxy
#   - `connect` with a pipe on stdin (`head -c 2G /dev/zero |`) vs OpenBSD nc
# Every stream is checked: the receiver's file must equal what was sent (cmp) and every
# process must exit 0, else the cell says "failed". The stream rows run twice, and a row the
# second pass did not reproduce within 10 % says so (issue 29); the CPU's model and AES
# flags head the table. Everything runs on 127.0.0.1.
# Usage: scripts/bench/relay.sh [SIZE_MIB] [CONN_SECS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-2048}
CONN_SECS=${2:-5}
RUNS=3
for tool in nc socat haproxy stunnel4 python3; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install netcat-openbsd socat haproxy stunnel4 python3)"; exit 1; }
done
cargo build --release --quiet --bin nicksock --example conn_load
NS=$PWD/target/release/nicksock
LOAD=$PWD/target/release/examples/conn_load
. scripts/bench/lib.sh
bench_workdir nicksock-relay-bench

head -c $((SIZE_MIB << 20)) /dev/urandom > "$work/data"
"$NS" gen-cert --out "$work" 127.0.0.1 >/dev/null
CERT=$work/cert.pem KEY=$work/cert-key.pem
cat "$CERT" "$KEY" > "$work/combined.pem"


# start_relay KIND PORT TARGET_PORT [MODE]: starts one relay in the background, sets
# RELAY_PID. MODE: "" (plain), tls (termination), to-tls (origination), tls-tls (both).
start_relay() {
  local kind=$1 port=$2 tport=$3 tls=${4:-}
  local front=false back=false
  case $tls in tls) front=true ;; to-tls) back=true ;; tls-tls) front=true back=true ;; esac
  case $kind in
    nicksock)
      local flags=()
      $front && flags+=(--tls --cert "$CERT" --key "$KEY")
      $back && flags+=(--to-tls --to-cacert "$CERT")
      "$NS" relay "${flags[@]}" 127.0.0.1 "$port" 127.0.0.1 "$tport" >/dev/null 2>&1 & ;;
    socat)
      socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,backlog=4096" "TCP:127.0.0.1:$tport" >/dev/null 2>&1 & ;;
    haproxy)
      local bind="bind 127.0.0.1:$port" server="server s 127.0.0.1:$tport"
      $front && bind="$bind ssl crt $work/combined.pem"
      $back && server="$server ssl verify required ca-file $CERT"
      cat > "$work/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 5000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend f
  $bind
  default_backend b
backend b
  $server
CFG
      haproxy -q -f "$work/haproxy.cfg" >/dev/null 2>&1 & ;;
    stunnel)
      cat > "$work/stunnel.conf" <<CFG
foreground = yes
pid =
[relay]
accept = 127.0.0.1:$port
connect = 127.0.0.1:$tport
$($back && printf 'client = yes\nverifyPeer = yes\nCAfile = %s\n' "$CERT" || printf 'cert = %s\nkey = %s\n' "$CERT" "$KEY")
CFG
      stunnel4 "$work/stunnel.conf" >/dev/null 2>&1 & ;;
  esac
  RELAY_PID=$!
  pids+=("$RELAY_PID")
  wait_port "$port"
}
stop_relay() { kill "$RELAY_PID" 2>/dev/null || true; wait "$RELAY_PID" 2>/dev/null || true; }

# CPU time (clock ticks) process PID and its reaped children have used: the relay's whole
# cost, threads included (stunnel) and socat's forked children too.
cpu_ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# stream KIND [MODE]: best MB/s of $RUNS streams of the data file through relay KIND into a
# nicksock receiver (stdin /dev/null; with TLS when MODE has the relay speak it to the
# target), each checked with cmp; "failed" otherwise.
stream() {
  local kind=$1 tls=${2:-} best=0 best_cpu= port tport rp rc_s rc_r t0 t1 c0 c1 rate
  port=$(free_port); tport=$(free_port)
  local client=("$NS" connect 127.0.0.1 "$port") receiver=("$NS" listen 127.0.0.1 "$tport")
  case $tls in tls | tls-tls) client=("$NS" connect --tls --cacert "$CERT" 127.0.0.1 "$port") ;; esac
  case $tls in to-tls | tls-tls) receiver=("$NS" listen --tls --cert "$CERT" --key "$KEY" 127.0.0.1 "$tport") ;; esac
  start_relay "$kind" "$port" "$tport" "$tls"
  for _ in $(seq $RUNS); do
    rm -f "$work/received"
    "${receiver[@]}" < /dev/null > "$work/received" 2>/dev/null & rp=$!
    wait_port "$tport"
    c0=$(cpu_ticks "$RELAY_PID")
    t0=$(now)
    rc_s=0; "${client[@]}" < "$work/data" > /dev/null 2>&1 || rc_s=$?
    rc_r=0; wait $rp || rc_r=$?
    t1=$(now)
    c1=$(cpu_ticks "$RELAY_PID")
    if ! cmp -s "$work/data" "$work/received" || [ "$rc_s$rc_r" != 00 ]; then
      echo "$kind: $(stat -c %s "$work/received" 2>/dev/null || echo 0) bytes arrived intact; exit $rc_s/$rc_r" >&2
      stop_relay; echo "failed"; return
    fi
    rate=$(mbps "$SIZE_MIB" "$t0" "$t1")
    if [ "$rate" -gt "$best" ]; then
      best=$rate
      best_cpu=$(python3 -c "print(f'{($c1 - $c0) / $TICKS * 1024 / $SIZE_MIB:.2f}')")
    fi
  done
  stop_relay
  echo "$best ($best_cpu)"
}

# short KIND: short connections per second through relay KIND to a nicksock echo server.
short() {
  local kind=$1 port tport ep out
  port=$(free_port); tport=$(free_port)
  "$NS" echo 127.0.0.1 "$tport" >/dev/null 2>&1 & ep=$!; pids+=("$ep")
  wait_port "$tport"
  start_relay "$kind" "$port" "$tport"
  out=$("$LOAD" "127.0.0.1:$port" 50 "$CONN_SECS")
  stop_relay
  kill "$ep"; wait "$ep" 2>/dev/null || true
  echo "$out" | awk '{print $2 " (" $6 " failed)"}'
}

# from_pipe SENDER...: best MB/s of $RUNS runs of `head -c SIZE /dev/zero | SENDER` into a
# nicksock receiver, checked by size and content.
from_pipe() {
  local best=0 tport rp rc_s rc_r t0 t1 rate
  for _ in $(seq $RUNS); do
    tport=$(free_port)
    rm -f "$work/received"
    "$NS" listen 127.0.0.1 "$tport" < /dev/null > "$work/received" 2>/dev/null & rp=$!
    wait_port "$tport"
    t0=$(now)
    rc_s=0; head -c $((SIZE_MIB << 20)) /dev/zero | "$@" 127.0.0.1 "$tport" > /dev/null 2>&1 || rc_s=$?
    rc_r=0; wait $rp || rc_r=$?
    t1=$(now)
    if [ "$(stat -c %s "$work/received")" != $((SIZE_MIB << 20)) ] ||
       ! cmp -s -n $((SIZE_MIB << 20)) /dev/zero "$work/received" || [ "$rc_s$rc_r" != 00 ]; then
      echo "$*: not every byte arrived; exit $rc_s/$rc_r" >&2; echo "failed"; return
    fi
    rate=$(mbps "$SIZE_MIB" "$t0" "$t1")
    [ "$rate" -gt "$best" ] && best=$rate
  done
  echo "$best"
}

# both FIRST SECOND: the faster of two passes' cells ("MB/s (CPU s/GiB)"), saying so when
# the second pass did not reproduce the first within 10 %; "failed" if either failed.
both() {
  python3 - "$1" "$2" <<'PY'
import sys
a, b = sys.argv[1], sys.argv[2]
first = [c.split()[0] if c.split() else "" for c in (a, b)]
if not all(f.isdigit() for f in first):
    # One pass failed: the other's figure, and the failure said.
    ok = [c for c, f in zip((a, b), first) if f.isdigit()]
    print(f"{ok[0]}, failed in the other pass" if ok else "failed")
    sys.exit()
va, vb = int(first[0]), int(first[1])
cell = a if va >= vb else b
same = va + vb > 0 and abs(va - vb) * 2 / (va + vb) <= 0.1
print(cell if same else f"{cell}, not reproduced: {va} / {vb}")
PY
}

# Every stream row twice: a second pass of the same measurements, after the first.
declare -A first
for pass in 1 2; do
  echo "pass $pass: plain stream of $SIZE_MIB MiB through each relay…"
  S_NS=$(stream nicksock); S_SOCAT=$(stream socat); S_HA=$(stream haproxy)
  echo "pass $pass: TLS termination…"
  T_NS=$(stream nicksock tls); T_ST=$(stream stunnel tls); T_HA=$(stream haproxy tls)
  echo "pass $pass: TLS origination…"
  O_NS=$(stream nicksock to-tls); O_ST=$(stream stunnel to-tls); O_HA=$(stream haproxy to-tls)
  echo "pass $pass: TLS to TLS…"
  B_NS=$(stream nicksock tls-tls); B_HA=$(stream haproxy tls-tls)
  for v in S_NS S_SOCAT S_HA T_NS T_ST T_HA O_NS O_ST O_HA B_NS B_HA; do
    if [ "$pass" = 1 ]; then first[$v]=${!v}; else printf -v "$v" '%s' "$(both "${first[$v]}" "${!v}")"; fi
  done
done
echo "short connections…"
C_NS=$(short nicksock); C_SOCAT=$(short socat); C_HA=$(short haproxy)
echo "connect with a pipe on stdin…"
P_NS=$(from_pipe "$NS" connect); P_NC=$(from_pipe nc -N)

ratio() {
  python3 - "$@" <<'PY'
import sys
vals = [int(v.split()[0]) if v.split()[0].isdigit() else 0 for v in sys.argv[1:]]
best = max(vals[1:])
print(f"{vals[0] / best:.2f}×" if vals[0] and best else "n/a")
PY
}
section=$(cat <<MD
## relay

Measured by \`scripts/bench/relay.sh $SIZE_MIB $CONN_SECS\` on $(date -u +%Y-%m-%d), $(nproc) cores
($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), loopback only, release build;
$(haproxy -v | head -1 | cut -d' ' -f1-3), $(stunnel4 -version 2>&1 | grep -m1 -o 'stunnel [0-9.]*'), $(socat -V | grep -m1 -o 'socat version [0-9.]*').
Streams: two passes of the whole set, each the best of $RUNS; the faster pass is shown, with
both figures where the second pass did not reproduce the first within 10 %. MB/s from the
client's start to the receiver's exit, and in
brackets the relay's CPU seconds per GiB in that run (user + system, its threads and reaped
children included: the measure that does not move with the machine's neighbours); the client is
\`nicksock connect\` (with \`--tls\` when the relay terminates TLS), the target \`nicksock listen\` (with
\`--tls\` when the relay originates it) with
stdin at /dev/null writing to /dev/shm; every run's file is compared with the input (\`cmp\`)
and every exit code checked, else \`failed\`. haproxy runs one thread (\`nbthread 1\`). The
CPU's AES flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'aes|vaes|pclmulqdq|vpclmulqdq|avx2|avx512f' | xargs).

| test | nicksock relay | socat fork | haproxy | stunnel4 | nicksock vs the faster peer |
| --- | --- | --- | --- | --- | --- |
| one plain stream, $SIZE_MIB MiB | $S_NS | $S_SOCAT | $S_HA | — | $(ratio "$S_NS" "$S_SOCAT" "$S_HA") (target ≥ haproxy) |
| TLS termination, $SIZE_MIB MiB | $T_NS | — | $T_HA | $T_ST | $(ratio "$T_NS" "$T_ST" "$T_HA") (target 1.5× stunnel: $(ratio "$T_NS" "$T_ST")) |
| TLS origination (\`--to-tls\`), $SIZE_MIB MiB | $O_NS | — | $O_HA | $O_ST (client mode) | $(ratio "$O_NS" "$O_ST" "$O_HA") |
| TLS to TLS, $SIZE_MIB MiB | $B_NS | — | $B_HA | — | $(ratio "$B_NS" "$B_HA") |
| short connections/s, 50 at a time, ${CONN_SECS} s | $C_NS | $C_SOCAT | $C_HA | — | $(ratio "$C_NS" "$C_SOCAT" "$C_HA") (target ≥ haproxy) |

\`connect\` with a pipe on stdin (\`head -c $SIZE_MIB MiB /dev/zero |\`), into \`nicksock listen\`, checked
by size and content, MB/s: nicksock $P_NS, OpenBSD nc -N $P_NC ($(ratio "$P_NS" "$P_NC"); target 2×).
MD
)
python3 - "$section" <<'PY'
import pathlib, re, sys
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text()
section = sys.argv[1].rstrip() + "\n"
pattern = re.compile(r"^## relay\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
path.write_text(text)
PY
echo "$section"
