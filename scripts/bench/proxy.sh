#!/usr/bin/env bash
# Benchmarks of `connect` through proxies (`--proxy URL`), side by side with curl and
# OpenBSD nc in one run, written to the "## proxies" section of BENCHMARKS.md:
#   - throughput, client → proxy → receiver, through tinyproxy (HTTP CONNECT), microsocks
#     (SOCKS5) and Dante (SOCKS5): nicksock connect --proxy vs curl telnet:// vs nc -X
#   - time from process start to the first byte through each proxy, median of 20
# Every transfer is checked: the receiver's file must equal what was sent (cmp) and every
# process must exit 0, else the cell says "failed". Everything runs on 127.0.0.1.
#
# Choices, and why:
#   - The receiver is `socat -u -b 1048576 TCP-LISTEN:… OPEN:FILE`: it sends nothing and no
#     FIN until it has read the sender's end, then exits. tinyproxy and microsocks tear the
#     whole tunnel down at the first FIN in either direction, so a receiver that shuts its
#     sending side at once (`nicksock listen` or `nc -l` with stdin at /dev/null) makes them
#     drop the data. socat rather than `nicksock listen --recv-only` (which also waits):
#     the receiver is none of the contestants, and with -b 1 MiB it is the faster one here
#     (about 1.5 GB/s from a direct `connect`, against 0.4 GB/s with socat's 8 KiB default).
#   - The data is random bytes without 0xFF: curl's telnet:// doubles every 0xFF it sends
#     (the telnet IAC escape), so a file with 0xFF would not arrive intact from curl. All
#     three senders send the same file.
#   - curl's telnet:// is the only way curl moves raw bytes through a proxy, and it is slow
#     by design: with stdin behind curl's read callback it reads one 100 KiB buffer per
#     100 ms poll, about 1 MB/s. It also never ends at stdin's end. So curl sends only the
#     first CURL_MIB MiB (4 by default, to keep the run short; the cell says so), timed from
#     its start until the receiver's file holds every byte; then curl is ended (by PID) and
#     the file compared.
#   - First byte: the target speaks first (a Python loop that writes "x\n" to each client
#     and closes). An echo target with `printf 'x\n' | client` does not work through
#     tinyproxy or microsocks: the client's FIN right after its line makes them drop the
#     tunnel before the echo comes back (whether nc -N wins that race is luck), and curl's
#     telnet:// never sends a FIN at all. So each client gets stdin as a pipe held open, the
#     time is from spawning it to "x\n" on its stdout (curl with -N, unbuffered), then stdin
#     is closed and the client must exit 0 having printed exactly "x\n".
#   - No measurement starts while cargo or rustc runs (waits up to 5 min each time; if one
#     still runs, the section says the numbers were taken on a busy machine).
# Usage: scripts/bench/proxy.sh [SIZE_MIB] [CURL_MIB]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-1024}
CURL_MIB=${2:-4}
[ "$CURL_MIB" -gt "$SIZE_MIB" ] && CURL_MIB=$SIZE_MIB
RUNS=3
FB_RUNS=20
for tool in nc curl socat tinyproxy microsocks danted python3; do
  command -v $tool >/dev/null || { echo "missing $tool (apt-get install netcat-openbsd curl socat tinyproxy microsocks dante-server python3)"; exit 1; }
done
cargo build --release --quiet --bin nicksock
NS=$PWD/target/release/nicksock
. scripts/bench/lib.sh
bench_workdir nicksock-proxy-bench
# The interpreter itself, not a wrapper (pyenv's shim), so that its PID is the server's.
PY=$(python3 -c 'import sys; print(sys.executable)')
BUSY=0

head -c $((SIZE_MIB << 20)) < <(tr -d '\377' < /dev/urandom) > "$work/data"
head -c $((CURL_MIB << 20)) "$work/data" > "$work/data.curl"

# The proxies, each on a free loopback port, in the foreground, ended by PID on exit.
start_proxies 100

# The first-byte target: writes "x\n" to each client and closes.
cat > "$work/greet.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
while True:
    c, _ = s.accept()
    c.sendall(b"x\n")
    c.close()
PY
# fb.py N CMD...: median ms from spawning CMD (stdin a pipe held open) to "x\n" on its
# stdout; then stdin is closed and CMD must exit 0 having printed exactly that.
cat > "$work/fb.py" <<'PY'
import os, select, statistics, subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(n):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, fd, deadline = b"", p.stdout.fileno(), t0 + 5
    while len(out) < 2 and time.perf_counter() < deadline:
        if select.select([fd], [], [], max(0, deadline - time.perf_counter()))[0]:
            chunk = os.read(fd, 64)
            if not chunk:
                break
            out += chunk
    t1 = time.perf_counter()
    try:
        rest, err = p.communicate(timeout=5)  # closes stdin first
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        rest, err = p.communicate()
        rc = "none (still running 5 s after stdin's end)"
    if out + rest != b"x\n" or rc != 0:
        print(f"{cmd[0]}: got {out + rest!r}, exit {rc}: {err.decode(errors='replace').strip()}", file=sys.stderr)
        print("failed")
        sys.exit()
    times.append((t1 - t0) * 1000)
print(f"{statistics.median(times):.2f}")
PY
GREET_PORT=$(free_port)
"$PY" "$work/greet.py" "$GREET_PORT" 2>/dev/null & pids+=($!)
wait_port "$GREET_PORT"

# client TOOL PROXY HOST PORT [NSOPT]: sets $cmd to TOOL's command line for HOST PORT
# through PROXY (tiny, micro or dante); NSOPT is an option for nicksock only.
client() {
  local tool=$1 proxy=$2 host=$3 port=$4 nsopt=(${5:-}) pport kind
  case $proxy in
    tiny) pport=$TINY_PORT kind=http ;;
    micro) pport=$MICRO_PORT kind=socks5 ;;
    dante) pport=$DANTE_PORT kind=socks5 ;;
  esac
  case $tool/$kind in
    nicksock/http) cmd=("$NS" connect "${nsopt[@]}" --proxy "http://127.0.0.1:$pport" "$host" "$port") ;;
    nicksock/socks5) cmd=("$NS" connect "${nsopt[@]}" --proxy "socks5h://127.0.0.1:$pport" "$host" "$port") ;;
    curl/http) cmd=(curl -sSN -p -x "http://127.0.0.1:$pport" "telnet://$host:$port") ;;
    curl/socks5) cmd=(curl -sSN --socks5-hostname "127.0.0.1:$pport" "telnet://$host:$port") ;;
    nc/http) cmd=(nc -N -X connect -x "127.0.0.1:$pport" "$host" "$port") ;;
    nc/socks5) cmd=(nc -N -X 5 -x "127.0.0.1:$pport" "$host" "$port") ;;
  esac
}

# stream TOOL PROXY: sets $result to the best MB/s of $RUNS transfers of the data file
# (curl: its first CURL_MIB MiB) from TOOL through PROXY into the socat receiver, each
# checked with cmp and by exit codes; "failed" otherwise.
stream() {
  local tool=$1 proxy=$2 best=0 mib=$SIZE_MIB file=$work/data tport rp sp rc_s rc_r t0 t1 rate end got
  [ "$tool" = curl ] && mib=$CURL_MIB file=$work/data.curl
  result=failed
  for _ in $(seq $RUNS); do
    quiet
    tport=$(free_port)
    rm -f "$work/received"
    timeout 900 socat -u -b 1048576 "TCP-LISTEN:$tport,bind=127.0.0.1,reuseaddr" \
      "OPEN:$work/received,creat,trunc" 2>"$work/socat.err" & rp=$!; pids+=($rp)
    wait_port "$tport"
    # --send-only: without it, nicksock exits 1 when an HTTP proxy closes the tunnel at our
    # end of stdin (tinyproxy does), since a reply would have been lost; here none is due.
    client "$tool" "$proxy" 127.0.0.1 "$tport" --send-only
    if [ "$tool" = curl ]; then
      t0=$(now)
      "${cmd[@]}" < "$file" > /dev/null 2>"$work/sender.err" & sp=$!; pids+=($sp)
      # Bounded: curl's ~1 MB/s gets 3 s per MiB and a minute to spare.
      end=$(( $(date +%s) + 60 + 3 * mib ))
      while got=$(stat -c %s "$work/received" 2>/dev/null || echo 0); [ "$got" -lt $((mib << 20)) ]; do
        kill -0 "$sp" 2>/dev/null && [ "$(date +%s)" -lt "$end" ] || break
        sleep 0.01
      done
      t1=$(now)
      rc_s=0
      if kill -0 "$sp" 2>/dev/null; then kill "$sp"; wait "$sp" 2>/dev/null || true; else wait "$sp" || rc_s=$?; fi
      rc_r=0; wait "$rp" || rc_r=$?
    else
      t0=$(now)
      rc_s=0; timeout $((120 + mib / 5)) "${cmd[@]}" < "$file" > /dev/null 2>"$work/sender.err" || rc_s=$?
      rc_r=0; wait "$rp" || rc_r=$?
      t1=$(now)
    fi
    building && { echo "a build started during a measurement" >&2; BUSY=1; }
    if [ "$rc_s$rc_r" != 00 ] || ! cmp -s "$file" "$work/received"; then
      echo "$tool via $proxy: $(stat -c %s "$work/received" 2>/dev/null || echo 0) of $((mib << 20)) bytes arrived" \
        "$(cmp -s -n "$(stat -c %s "$work/received" 2>/dev/null || echo 0)" "$file" "$work/received" && echo intact || echo corrupted);" \
        "exit $rc_s (sender) / $rc_r (receiver); $(cat "$work/sender.err" "$work/socat.err" | head -c 300)" >&2
      kill "$rp" 2>/dev/null || true
      result=failed; return
    fi
    # MB/s as lib.sh's mbps, with a decimal below 10 (curl's ~1 MB/s).
    rate=$(python3 -c "r = $mib * 1.048576 / ($t1 - $t0); print(round(r) if r >= 10 else round(r, 1))")
    awk "BEGIN { exit !($rate > $best) }" && best=$rate
  done
  result=$best
  [ "$tool" = curl ] && [ "$mib" != "$SIZE_MIB" ] && result="$best ($mib MiB)"
  return 0
}

# first_byte TOOL PROXY: sets $result to the median ms of $FB_RUNS runs from TOOL's start
# to the target's first line through PROXY; "failed" if any run went wrong.
first_byte() {
  quiet
  client "$1" "$2" 127.0.0.1 "$GREET_PORT"
  result=$(timeout 600 "$PY" "$work/fb.py" "$FB_RUNS" "${cmd[@]}") || result=failed
  if building; then echo "a build started during a measurement" >&2; BUSY=1; fi
}

declare -A R
for proxy in tiny micro dante; do
  echo "$SIZE_MIB MiB through $proxy…"
  for tool in nicksock curl nc; do stream $tool $proxy; R[$proxy/$tool]=$result; done
done
echo "first byte…"
for proxy in tiny micro dante; do
  for tool in nicksock curl nc; do first_byte $tool $proxy; R[fb/$proxy/$tool]=$result; done
done

# ratio A B: A ÷ B from the leading numbers of two cells, or n/a.
ratio() {
  python3 - "$1" "$2" <<'PY'
import sys
def num(v):
    try: return float(v.split()[0])
    except (ValueError, IndexError): return 0.0
a, b = num(sys.argv[1]), num(sys.argv[2])
print(f"{a / b:.2f}×" if a and b else "n/a")
PY
}
row() { # row LABEL KEY: one table row for the results under KEY
  local n=${R[$2/nicksock]} c=${R[$2/curl]} o=${R[$2/nc]}
  echo "| $1 | $n | $c | $o | $(ratio "$n" "$c") | $(ratio "$n" "$o") |"
}
busy_note=""
[ "$BUSY" = 1 ] && busy_note="
**cargo/rustc ran on the same cores during at least one measurement: the numbers are not trustworthy.**
"
section=$(cat <<MD
## proxies

Measured by \`scripts/bench/proxy.sh $SIZE_MIB $CURL_MIB\` on $(date -u +%Y-%m-%d), $(nproc) cores
($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), loopback only, release build;
$(tinyproxy -v 2>&1 | head -1), microsocks $(dpkg-query -W -f '${Version}' microsocks 2>/dev/null || echo '(version unknown)'), $(danted -v 2>&1 | grep -Eo -m1 'Dante v[0-9]+(\.[0-9]+)*'),
$(curl --version | head -1 | cut -d' ' -f1-2), $(nc -h 2>&1 | head -1), receiver $(socat -V | grep -m1 -o 'socat version [0-9.]*').
Senders: \`nicksock connect --proxy http://…\` or \`socks5h://…\`, \`curl -p -x http://…\` or
\`--socks5-hostname\` with \`telnet://HOST:PORT\`, \`nc -N -X connect\` or \`-X 5\` with \`-x\`.
Throughput: best of $RUNS, MB/s from the sender's start to the receiver (\`socat -u\`, which sends
no FIN before the sender's: tinyproxy and microsocks drop the tunnel at the first FIN either way)
having the whole file; random data without 0xFF (curl's telnet doubles it), compared with
\`cmp\`, every exit code checked, else \`failed\`. nicksock sends with \`--send-only\`: without it,
it exits 1 (by design) when tinyproxy closes the tunnel at its end of stdin, as a reply would
be lost. curl's telnet:// reads one 100 KiB buffer per 100 ms (about 1 MB/s) and never ends at
stdin's end, so it sends $CURL_MIB MiB and is ended once the receiver has every byte.
First byte: median of $FB_RUNS runs, ms from spawning the client to the target's greeting line
on its stdout (the target speaks first and closes; the client's stdin stays open until then,
then it must exit 0). The ÷ columns are nicksock's number over the peer's: above 1 is better
for MB/s, below 1 is better for ms.
$busy_note
| test | nicksock | curl | OpenBSD nc | nicksock ÷ curl | nicksock ÷ nc |
| --- | --- | --- | --- | --- | --- |
$(row "HTTP CONNECT via tinyproxy, MB/s" tiny)
$(row "SOCKS5 via microsocks, MB/s" micro)
$(row "SOCKS5 via Dante, MB/s" dante)
$(row "first byte via tinyproxy, ms" fb/tiny)
$(row "first byte via microsocks, ms" fb/micro)
$(row "first byte via Dante, ms" fb/dante)
MD
)
write_section proxies "$section"
echo "$section"
