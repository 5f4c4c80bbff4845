#!/usr/bin/env bash
# Where the cycles of a TLS download go (issue 29): nicksock http-get, curl and wget each
# fetch SIZE MiB over HTTPS (TLS 1.3, nginx on loopback, the file in /dev/shm) to
# /dev/null. For each client: wall time, CPU time (user + system, from /usr/bin/time), and
# the system calls (strace -c -f, a separate run); for nicksock and curl, the hottest
# symbols (perf record with the cpu-clock event: no hardware counters needed, so it works
# in a VM). nicksock is a symbolized build of the release profile (not stripped) in
# target/profile. It prints; it writes nothing into BENCHMARKS.md.
#
#   scripts/bench/tls_profile.sh [SIZE_MIB]      # default 1024
#
# Needs nginx, curl, wget, perf, strace, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
size=${1:-1024}
for tool in nginx curl wget perf strace /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "tls_profile: $tool is not installed" >&2; exit 1; }
done
CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release --quiet --bin nicksock --target-dir target/profile
BIN=$PWD/target/profile/release/nicksock
bench_workdir nicksock-tls-profile
mkdir -p "$work/www"
head -c "$((size << 20))" /dev/urandom >"$work/www/big.bin"
"$BIN" gen-cert 127.0.0.1 --out "$work" >/dev/null
port=$(free_port)
nginx_conf "listen 127.0.0.1:$port ssl; ssl_certificate $work/cert.pem; \
ssl_certificate_key $work/cert-key.pem; ssl_protocols TLSv1.3; root $work/www;"
nginx -p "$work" -e "$work/error.log" -c "$work/nginx.conf" &
pids+=($!)
wait_port "$port"
url=https://127.0.0.1:$port/big.bin

echo "CPU: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) cores;" \
  "flags: $(grep -m1 -o -w 'aes\|avx2\|vaes\|vpclmulqdq\|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "$size MiB over TLS 1.3 from nginx $(nginx -v 2>&1 | sed 's/.*\///'), to /dev/null"

declare -A cmd=(
  [nicksock]="$BIN http-get -s --cacert $work/cert.pem -o /dev/null $url"
  [curl]="curl -s --cacert $work/cert.pem -o /dev/null $url"
  [wget]="wget -q --ca-certificate=$work/cert.pem -O /dev/null $url"
)
for client in nicksock curl wget; do
  # A warm-up, then the timed run.
  ${cmd[$client]}
  /usr/bin/time -f "%e %U %S" -o "$work/time" ${cmd[$client]}
  read -r wall user sys <"$work/time"
  strace -c -f -o "$work/strace.$client" ${cmd[$client]}
  calls=$(awk '/^100.00/ {print $4}' "$work/strace.$client")
  top=$(awk '$1 ~ /^[0-9.]+$/ && NF >= 5 {print $NF ":" $4}' "$work/strace.$client" | head -4 | tr '\n' ' ')
  printf '%-9s %6.2f s wall  %5.2f s user  %5.2f s sys  %s MiB/s  %s system calls (%s)\n' \
    "$client" "$wall" "$user" "$sys" "$(python3 -c "print(round($size/$wall))")" "$calls" "$top"
done

for client in nicksock curl; do
  echo "== $client: the hottest symbols (perf record -e cpu-clock)"
  perf record -q -e cpu-clock -F 2000 -o "$work/perf.$client" ${cmd[$client]} 2>/dev/null
  # By library first (a stripped libcrypto spreads its samples over bare addresses), then by
  # symbol.
  perf report -q -i "$work/perf.$client" --no-children --sort dso --percent-limit 2 --stdio \
    2>/dev/null | sed -e 's/[[:space:]]*$//' | head -6
  perf report -q -i "$work/perf.$client" --no-children --sort dso,symbol --percent-limit 0.8 \
    --stdio 2>/dev/null | sed -e 's/[[:space:]]*-[[:space:]]*-[[:space:]]*$//' -e 's/[[:space:]]*$//' | head -20
done
