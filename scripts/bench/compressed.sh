#!/usr/bin/env bash
# Benchmark: `nicksock http-get --compressed` against `curl --compressed`, downloading a
# gzip-encoded file from a local nginx (gzip_static: nginx sends the .gz beside the file as
# it is, so the server's work is the same for both and no compressing is timed). Every round
# writes the decoded body to a file and compares it with the original (cmp) before its time
# counts. Prints the table for BENCHMARKS.md ("http-get --compressed").
#
#   scripts/bench/compressed.sh                  # 1 GiB decoded, best of 3
#   BENCH_SIZE_MIB=256 BENCH_ROUNDS=5 scripts/bench/compressed.sh
#
# Needs nginx (nginx-light has gzip_static), curl, gzip. Uses target/release/nicksock (built
# first: do not run it while anything else builds). Files live under /dev/shm, removed at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh

SIZE_MIB=${BENCH_SIZE_MIB:-1024}
ROUNDS=${BENCH_ROUNDS:-3}
for tool in nginx curl gzip cmp bc; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
cargo build --release --quiet --bin nicksock
BIN=$(realpath target/release/nicksock)

work=$(mktemp -d /dev/shm/nicksock-bench-gz.XXXXXX)
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www"
# Compressible like logs and JSON: text lines with numbers (gzip -6 makes it about 1/4).
echo "bench: writing $SIZE_MIB MiB and its gzip in $work" >&2
# (head closes the pipe early: the writers' SIGPIPE is expected.)
{ seq 1 100000000 | awk '{ printf "{\"id\":%d,\"pin\":%d,\"state\":\"%s\",\"t\":%d}\n", $1, $1 % 28, ($1 % 3 ? "on" : "off"), $1 * 7919 % 1000003 }' || true; } |
  head -c "$((SIZE_MIB * 1048576))" > "$work/www/data.json"
gzip -6 -k "$work/www/data.json"
GZ_BYTES=$(stat -c %s "$work/www/data.json.gz")

port=$("$BIN" connect -z 127.0.0.1 28180 2>/dev/null && echo 28181 || echo 28180)
nginx_conf "listen 127.0.0.1:$port; root $work/www; gzip_static on;" "" "application/json"
nginx -p "$work" -e "$work/error.log" -c "$work/nginx.conf" &
nginx_pid=$!
"$BIN" connect -z --retry-for 10 127.0.0.1 "$port"
URL=http://127.0.0.1:$port/data.json

fetch() {
  case "$1" in
    nicksock) "$BIN" http-get -s -f --compressed -o "$2" "$URL" ;;
    curl) curl -s -f --compressed -o "$2" "$URL" ;;
  esac
}

# Best of ROUNDS: "MB/s-of-decoded-bytes CPU-s" of the fastest round; each round's output is
# compared with the original before it counts.
best() {
  local tool=$1 best= best_cpu start end secs
  for _ in $(seq "$ROUNDS"); do
    start=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$work/time" bash -c "$(declare -f fetch); BIN='$BIN' URL='$URL' fetch $tool '$work/out'"
    end=$(date +%s.%N)
    cmp -s "$work/out" "$work/www/data.json" || { echo "bench: $tool's body differs" >&2; exit 1; }
    rm -f "$work/out"
    secs=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc -l)" = 1 ]; then
      best=$secs best_cpu=$(awk '{ print $1 + $2 }' "$work/time")
    fi
  done
  echo "$(echo "$SIZE_MIB * 1048576 / 1000000 / $best" | bc -l) $best_cpu"
}

declare -A mbps cpus
for tool in nicksock curl; do
  echo "bench: $tool --compressed" >&2
  read -r m c <<< "$(best "$tool")"
  mbps[$tool]=$m cpus[$tool]=$c
done
fmt() { printf '%.*f' "$1" "$2"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<TABLE

$(date +%F), $cpu, $(nproc) cores; $SIZE_MIB MiB of JSON lines, gzip -6 to $GZ_BYTES bytes,
served by nginx $(nginx -v 2>&1 | sed 's|.*/||') with gzip_static over HTTP on loopback; best of $ROUNDS, each
round's file compared with the original; curl $(curl --version | head -1 | cut -d' ' -f2).

| client | MB/s of decoded body | CPU-s (user + system) |
| --- | ---: | ---: |
| \`nicksock http-get --compressed -o\` | $(fmt 0 "${mbps[nicksock]}") | $(fmt 2 "${cpus[nicksock]}") |
| \`curl --compressed -o\` | $(fmt 0 "${mbps[curl]}") | $(fmt 2 "${cpus[curl]}") |
TABLE
