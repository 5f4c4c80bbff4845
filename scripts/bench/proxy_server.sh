#!/usr/bin/env bash
# Benchmarks of the proxy server (`nicksock proxy`, issue 24) against tinyproxy, squid
# (HTTP CONNECT), microsocks and Dante (SOCKS5), side by side in one run, written to the
# "## proxy server" section of BENCHMARKS.md:
#   - throughput: SIZE_MIB (1 GiB) from nginx through each proxy, curl as the client
#     (`curl -p -x http://PROXY` for a CONNECT tunnel, `curl --socks5 PROXY`)
#   - new tunnels per second: examples/conn_load, 50 at a time, each opening a tunnel to an
#     echo server (SOCKS5 or CONNECT, one step after the other), 64 bytes each way, closed
#   - memory: HOLD (10,000) idle tunnels held open through each proxy (conn_load hold);
#     the proxy's memory is the PSS of its whole process tree (threads and helper processes
#     included), before and with the tunnels
# Every download is checked: curl's file must equal nginx's (cmp, after the clock stopped)
# and curl must exit 0, else the cell says "failed"; conn_load counts wrong answers as
# failures. Everything runs on 127.0.0.1. squid's row is there when squid is installed.
#
# Choices, and why:
#   - Each proxy is configured for the load: tinyproxy MaxClients and squid/nicksock
#     --max-conns above HOLD, every port allowed for CONNECT, no logging of requests.
#   - Median of RUNS (3) downloads per proxy and protocol, the proxies taking turns.
#   - No measurement starts while cargo or rustc runs (waits up to 5 min each time; if one
#     still runs, the section says so).
# Needs a high `ulimit -n` (HOLD tunnels are 2 × HOLD descriptors in a proxy); where the hard
# limit is lower, HOLD is lowered to fit and the section says so.
# Usage: scripts/bench/proxy_server.sh [SIZE_MIB] [CONN_SECS] [HOLD]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-1024}
CONN_SECS=${2:-5}
HOLD=${3:-10000}
RUNS=3
for tool in nginx curl tinyproxy microsocks danted python3 ss; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install nginx-light curl tinyproxy microsocks dante-server python3 iproute2)"; exit 1; }
done
# Each held tunnel is two descriptors in the proxy: as many as the hard limit allows.
ulimit -n "$(ulimit -Hn)"
HOLD_ASKED=$HOLD
max_hold=$(( ($(ulimit -n) - 200) / 2 ))
if [ "$HOLD" -gt "$max_hold" ]; then
  echo "the descriptor limit ($(ulimit -n)) allows $max_hold idle tunnels, not $HOLD" >&2
  HOLD=$max_hold
fi
cargo build --release --quiet --bin nicksock --example conn_load
NS=$PWD/target/release/nicksock
LOAD=$PWD/target/release/examples/conn_load
. scripts/bench/lib.sh
bench_workdir nicksock-proxy-server-bench
BUSY=0

mkdir -p "$work/www"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$work/www/data"
NGINX_PORT=$(free_port)
nginx_conf "listen 127.0.0.1:$NGINX_PORT; root $work/www;"
nginx -p "$work" -e "$work/error.log" -c "$work/nginx.conf" & pids+=($!)
ECHO_PORT=$(free_port)
"$NS" echo --max-conns 30000 127.0.0.1 "$ECHO_PORT" </dev/null >/dev/null 2>&1 & pids+=($!)

# One nicksock proxy per protocol, as every peer row is a process of its own: the memory
# of one row's idle tunnels must not be the allocator's memory left from another's.
NS_PORT=$(free_port)
"$NS" proxy --max-conns 30000 127.0.0.1 "$NS_PORT" </dev/null >/dev/null 2>"$work/nicksock.log" & pids+=($!)
NS_PID=$!
NS5_PORT=$(free_port)
"$NS" proxy --max-conns 30000 127.0.0.1 "$NS5_PORT" </dev/null >/dev/null 2>"$work/nicksock5.log" & pids+=($!)
NS5_PID=$!
start_proxies $((HOLD + 100))
SQUID_PORT=
if command -v squid >/dev/null; then
  SQUID_PORT=$(free_port)
  mkdir -p "$work/squid" && chmod 777 "$work/squid"
  cat > "$work/squid.conf" <<CFG
http_port 127.0.0.1:$SQUID_PORT
http_access allow all
cache deny all
cache_mem 8 MB
access_log none
cache_log $work/squid/cache.log
pid_filename $work/squid/squid.pid
coredump_dir $work/squid
max_filedescriptors 65536
CFG
  squid -N -f "$work/squid.conf" > "$work/squid.log" 2>&1 & pids+=($!)
  SQUID_PID=$!
fi
for p in nginx:$NGINX_PORT echo:$ECHO_PORT nicksock:$NS_PORT nicksock:$NS5_PORT tinyproxy:$TINY_PORT microsocks:$MICRO_PORT danted:$DANTE_PORT ${SQUID_PORT:+squid:$SQUID_PORT}; do
  wait_port "${p#*:}" || { echo "${p%:*} did not start" >&2; exit 1; }
done

# The contestants: NAME:PORT:PROTOCOL:PID.
rows=("nicksock:$NS_PORT:connect:$NS_PID" "nicksock:$NS5_PORT:socks5:$NS5_PID"
      "tinyproxy:$TINY_PORT:connect:$TINY_PID" "microsocks:$MICRO_PORT:socks5:$MICRO_PID"
      "dante:$DANTE_PORT:socks5:$DANTE_PID")
[ -n "$SQUID_PORT" ] && rows+=("squid:$SQUID_PORT:connect:$SQUID_PID")

# run_once ROW: one download through ROW's proxy; sets $secs and $bad.
run_once() {
  local name port proto rc=0 t0 t1
  IFS=: read -r name port proto _ <<< "$1"
  quiet
  rm -f "$work/out"
  local how=(-p -x "http://127.0.0.1:$port")
  [ "$proto" = socks5 ] && how=(--socks5 "127.0.0.1:$port")
  t0=$(now)
  curl -sS --max-time 120 "${how[@]}" -o "$work/out" "http://127.0.0.1:$NGINX_PORT/data" 2>"$work/curl.err" || rc=$?
  t1=$(now)
  building && { echo "a build started during a measurement" >&2; BUSY=1; }
  secs=$(python3 -c "print($t1 - $t0)")
  bad=""
  if [ "$rc" != 0 ]; then bad="curl exit $rc: $(head -c 150 "$work/curl.err" | tr '\n' ' ')"
  elif ! cmp -s "$work/www/data" "$work/out"; then bad="the file differs ($(stat -c %s "$work/out") bytes)"
  fi
  [ -z "$bad" ] || echo "$1: $bad" >&2
}
take_turns "$RUNS" "${rows[@]}"

# Tunnels per second, and the memory of HOLD idle ones.
pss_tree() { # pss_tree PID: kB of PSS of PID and every descendant
  local all=("$1") kids p total=0
  kids=$(pgrep -P "$1" || true)
  for p in $kids; do all+=($(pgrep -P "$p" || true) "$p"); done
  for p in "${all[@]}"; do
    total=$((total + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo $total
}
declare -A RATE MEM
for row in "${rows[@]}"; do
  IFS=: read -r name port proto pid <<< "$row"
  quiet
  RATE[$row]=$("$LOAD" "127.0.0.1:$port" 50 "$CONN_SECS" "$proto" "127.0.0.1:$ECHO_PORT" | awk '{ print $2 " (" $6 " failed)" }')
  before=$(pss_tree "$pid")
  coproc HOLDER { "$LOAD" "127.0.0.1:$port" "$HOLD" hold "$proto" "127.0.0.1:$ECHO_PORT" 2>&1; }
  if read -r -t 150 line <&"${HOLDER[0]}" && [ "$line" = "holding $HOLD" ]; then
    after=$(pss_tree "$pid")
    MEM[$row]="$(( (after - before) * 1024 / HOLD )) B ($((before / 1024)) → $((after / 1024)) MiB)"
  else
    MEM[$row]="failed: ${line:-no answer}"
  fi
  exec {HOLDER[1]}>&-
  wait "$HOLDER_PID" 2>/dev/null || true
  echo "$row: ${RATE[$row]} tunnels/s, ${MEM[$row]} per idle tunnel"
done

row() {
  local r=$1 name proto
  IFS=: read -r name _ proto _ <<< "$r"
  local mbs="failed (${FAIL[$r]:-})"
  [ -z "${FAIL[$r]:-}" ] && mbs="$(mbps "$SIZE_MIB" 0 "${MEDIAN[$r]}")"
  echo "| $name | $proto | $mbs | ${RATE[$r]} | ${MEM[$r]} |"
}
busy_note=""
[ "$BUSY" = 1 ] && busy_note="
**cargo or rustc used the same cores during at least one measurement: the numbers are not trustworthy.**
"
squid_version=""
[ -n "$SQUID_PORT" ] && squid_version=", $(squid -v | head -1 | sed 's/Squid Cache: Version/squid/')"
section=$(cat <<MD
## proxy server

Measured by \`scripts/bench/proxy_server.sh $SIZE_MIB $CONN_SECS $HOLD\` on $(date -u +%Y-%m-%d), $(nproc) cores
($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r), release build;
$(tinyproxy -v 2>&1 | head -1), microsocks $(dpkg-query -W -f '${Version}' microsocks 2>/dev/null || echo '(version unknown)'), $(danted -v 2>&1 | grep -Eo -m1 'Dante v[0-9]+(\.[0-9]+)*')$squid_version,
curl $(curl --version | head -1 | cut -d' ' -f2). Everything on 127.0.0.1.

- MB/s: $SIZE_MIB MiB of random bytes from nginx through the proxy, curl as the client
  (\`curl -p -x http://PROXY\`: a CONNECT tunnel; \`curl --socks5 PROXY\`), median of $RUNS, each
  checked with cmp after the clock stopped.
- tunnels/s: \`examples/conn_load\`, 50 at a time for $CONN_SECS s, each opening a tunnel to an echo
  server, 64 bytes there and back, closed.
- memory per idle tunnel: $HOLD tunnels held open through the proxy$([ "$HOLD" != "$HOLD_ASKED" ] && echo " ($HOLD_ASKED asked; the descriptor limit, $(ulimit -n), allows $HOLD)"); the growth of the PSS
  of the proxy's whole process tree over $HOLD (before → with them).
$busy_note
A "failed" memory cell says why the tunnels could not all be opened (Dante, with the default
limits of its child processes, refuses tunnels while many handshakes are under way; the
same shows as failures in its tunnels/s).

| proxy | protocol | MB/s | tunnels/s (failed) | memory per idle tunnel |
| --- | --- | --- | --- | --- |
$(for r in "${rows[@]}"; do row "$r"; done)
MD
)
write_section "proxy server" "$section"
echo "$section"
