#!/usr/bin/env bash
# Benchmark: `nicksock http-get` against curl and wget, downloading from a local nginx over
# HTTP and HTTPS (TLS 1.3, a gen-cert certificate), and 200 small requests one after another
# (process start to exit). For each download it also takes the client's CPU time and nginx's
# share of its core (who set the pace), and it prints the CPU's model and AES flags (issue
# 29). The HTTPS ceiling is the same download by examples/tls_drain.rs, a client that reads
# the ciphertext without decrypting it: how fast nginx encrypts and sends on its one core.
# Every download is checked: the client's exit code, and nginx's log line for it (status 200,
# the whole body sent, the request complete); the drain's byte count too. The downloads run
# twice (two passes, each the best of ROUNDS); a cell the second pass did not reproduce
# within 10 % says so. Writes the tables into the `## http-get` section of BENCHMARKS.md.
#
#   scripts/bench/http_get.sh              # 1 GiB download file
#   BENCH_SIZE_MIB=256 scripts/bench/http_get.sh
#
# Needs nginx (Debian: nginx-light), curl and wget. Uses target/release/nicksock and builds it
# (and the drain example) when missing. Everything lives in a temporary directory under
# /dev/shm, removed at exit.
set -euo pipefail
# A failure inside $(…) stops the run too.
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh

SIZE_MIB=${BENCH_SIZE_MIB:-1024}
ROUNDS=${BENCH_ROUNDS:-3}          # downloads: best of this many
SMALL_REQUESTS=${BENCH_SMALL_REQUESTS:-200}
BIN=target/release/nicksock
OUT=BENCHMARKS.md

for tool in nginx curl wget bc; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
# Always the binary of this tree (cargo does nothing when it is fresh).
cargo build --release --quiet --bin nicksock --example tls_drain
BIN=$(realpath "$BIN")
DRAIN=$(realpath target/release/examples/tls_drain)

work=$(mktemp -d /dev/shm/nicksock-bench.XXXXXX)
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www" "$work/certs"
echo "bench: writing a $SIZE_MIB MiB file in $work" >&2
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$work/www/big.bin"
echo "ok" > "$work/www/tiny.txt"
"$BIN" gen-cert 127.0.0.1 localhost --out "$work/certs" >/dev/null
CERT=$work/certs/cert.pem

# Two ports nothing listens on.
free_port() {
  local port
  for port in $(seq "$1" $(($1 + 200))); do
    if ! "$BIN" connect -z 127.0.0.1 "$port" 2>/dev/null; then echo "$port"; return; fi
  done
  echo "bench: no free port near $1" >&2; exit 1
}
HTTP_PORT=$(free_port 28080)
HTTPS_PORT=$(free_port $((HTTP_PORT + 1)))

# Each request's line in $work/access.log: the proof that the whole body went out.
nginx_conf "listen 127.0.0.1:$HTTP_PORT; listen 127.0.0.1:$HTTPS_PORT ssl; ssl_certificate $CERT; ssl_certificate_key $work/certs/cert-key.pem; ssl_protocols TLSv1.3; root $work/www; access_log $work/access.log sent;" \
  "log_format sent '\$status \$body_bytes_sent \$request_completion';"
nginx -p "$work" -e "$work/error.log" -c "$work/nginx.conf" &
nginx_pid=$!
"$BIN" connect -z --retry-for 10 127.0.0.1 "$HTTP_PORT"
"$BIN" connect -z --retry-for 10 127.0.0.1 "$HTTPS_PORT"

HTTP_URL=http://127.0.0.1:$HTTP_PORT
HTTPS_URL=https://127.0.0.1:$HTTPS_PORT

now() { date +%s.%N; }

# The download command of each tool: TOOL SCHEME URL
fetch() {
  local tool=$1 scheme=$2 url=$3
  case "$tool/$scheme" in
    nicksock/http) "$BIN" http-get -s -o /dev/null "$url" ;;
    nicksock/https) "$BIN" http-get -s --cacert "$CERT" -o /dev/null "$url" ;;
    curl/http) curl -s -f -o /dev/null "$url" ;;
    curl/https) curl -s -f --cacert "$CERT" -o /dev/null "$url" ;;
    wget/http) wget -q -O /dev/null "$url" ;;
    wget/https) wget -q --ca-certificate="$CERT" -O /dev/null "$url" ;;
    # The ceiling: the ciphertext read, never decrypted; at least the body's size of it.
    drain/https)
      local got rest=${url#https://}
      local hostport=${rest%%/*}
      got=$("$DRAIN" "${hostport%:*}" "${hostport##*:}" "/${rest#*/}" "$CERT")
      [ "$got" -ge "$((SIZE_MIB << 20))" ] || { echo "drain: $got bytes" >&2; return 1; } ;;
  esac
}

# log_lines: how many lines nginx has logged so far.
log_lines() { if [ -f "$work/access.log" ]; then wc -l < "$work/access.log"; else echo 0; fi; }
# sent_whole BEFORE: whether the line nginx logs after the first BEFORE lines (waited for a
# moment: nginx may log it after the client is gone) is a 200 with the whole file sent.
sent_whole() {
  local line=
  for _ in $(seq 100); do
    line=$(sed -n "$(($1 + 1))p" "$work/access.log" 2>/dev/null || true)
    [ -n "$line" ] && break
    sleep 0.01
  done
  [ "$line" = "200 $((SIZE_MIB << 20)) OK" ] || { echo "bench: nginx logged '$line'" >&2; return 1; }
}

# CPU time nginx (one process: master_process off) has used, in seconds.
nginx_cpu() {
  local f
  f=$(sed 's/.*) //' "/proc/$nginx_pid/stat")
  echo "$(echo "$f" | cut -d' ' -f12) + $(echo "$f" | cut -d' ' -f13)" | bc -l
}
TICKS=$(getconf CLK_TCK)

# Best of ROUNDS downloads of the big file: "MB/s (10^6 bytes per second) client-CPU-s-per-GiB
# nginx-share-of-a-core" of the fastest round. The client's CPU time (user + system) is
# what it spent decrypting and moving the bytes; nginx's share of one core while it served
# the download says who set the pace (near 1: nginx, encrypting on its one core). A round
# that failed, or that nginx did not log as whole, stops the benchmark.
download_mbps() {
  local tool=$1 scheme=$2 url=$3 best= start end secs n0 n1 cpu best_cpu best_nginx logged
  for _ in $(seq "$ROUNDS"); do
    logged=$(log_lines)
    n0=$(nginx_cpu)
    start=$(now)
    /usr/bin/time -f "%U %S" -o "$work/time" bash -c "$(declare -f fetch); BIN='$BIN' DRAIN='$DRAIN' CERT='$CERT' SIZE_MIB=$SIZE_MIB fetch $tool $scheme $url/big.bin" \
      || { echo "bench: $tool $scheme download failed" >&2; exit 1; }
    end=$(now)
    n1=$(nginx_cpu)
    sent_whole "$logged"
    secs=$(echo "$end - $start" | bc -l)
    cpu=$(awk '{ print $1 + $2 }' "$work/time")
    if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc -l)" = 1 ]; then
      best=$secs
      best_cpu=$(echo "$cpu * 1024 / $SIZE_MIB" | bc -l)
      best_nginx=$(echo "($n1 - $n0) / $TICKS / $secs" | bc -l)
    fi
  done
  echo "$(echo "$SIZE_MIB * 1048576 / 1000000 / $best" | bc -l) $best_cpu $best_nginx"
}

# Milliseconds per request for SMALL_REQUESTS sequential requests of the tiny file.
per_request_ms() {
  local tool=$1 scheme=$2 url=$3 start end
  start=$(now)
  for _ in $(seq "$SMALL_REQUESTS"); do
    fetch "$tool" "$scheme" "$url/tiny.txt"
  done
  end=$(now)
  echo "($end - $start) * 1000 / $SMALL_REQUESTS" | bc -l
}

# Two passes over every download (the second one "a second run"), then the small requests.
declare -A mbps ms cpus nginx pass1 pass2
for pass in 1 2; do
  for scheme in http https; do
    url=$HTTP_URL; [ "$scheme" = https ] && url=$HTTPS_URL
    tools="nicksock curl wget"; [ "$scheme" = https ] && tools="$tools drain"
    for tool in $tools; do
      echo "bench: pass $pass, $tool $scheme download" >&2
      measured=$(download_mbps "$tool" "$scheme" "$url")
      read -r m c n <<< "$measured"
      key=$tool/$scheme
      [ "$pass" = 1 ] && pass1[$key]=$m
      # The table shows the faster pass, with its CPU figures.
      if [ -z "${mbps[$key]:-}" ] || [ "$(echo "$m > ${mbps[$key]}" | bc -l)" = 1 ]; then
        mbps[$key]=$m cpus[$key]=$c nginx[$key]=$n
      fi
      [ "$pass" = 2 ] && pass2[$key]=$m
    done
  done
done
for scheme in http https; do
  url=$HTTP_URL; [ "$scheme" = https ] && url=$HTTPS_URL
  for tool in nicksock curl; do
    echo "bench: $tool $scheme x$SMALL_REQUESTS small requests" >&2
    ms[$tool/$scheme]=$(per_request_ms "$tool" "$scheme" "$url")
  done
done

fmt() { printf '%.*f' "$1" "$2"; }
ratio() { fmt 2 "$(echo "$1 / $2" | bc -l)"; }
# cell KEY: the best MB/s, and both passes when they are more than 10 % apart.
cell() {
  local a=${pass1[$1]} b=${pass2[$1]}
  if [ "$(echo "($a - $b) / ($a + $b) * 2 > 0.1 || ($b - $a) / ($a + $b) * 2 > 0.1" | bc -l)" = 1 ]; then
    echo "$(fmt 0 "${mbps[$1]}") (not reproduced: $(fmt 0 "$a") / $(fmt 0 "$b"))"
  else
    fmt 0 "${mbps[$1]}"
  fi
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
aes_flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'aes|vaes|pclmulqdq|vpclmulqdq|avx2|avx512f' | xargs)
section=$(cat <<MD
## http-get

Run by \`scripts/bench/http_get.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, ${cpu:-unknown CPU};
nginx $(nginx -v 2>&1 | sed 's|.*/||'), curl $(curl --version | head -1 | cut -d' ' -f2), wget $(wget --version | head -1 | cut -d' ' -f3).
Everything on loopback; HTTPS is TLS 1.3 with a \`gen-cert\` certificate (\`--cacert\`).

Download of a $SIZE_MIB MiB file to \`/dev/null\`, MB/s (higher is better): two passes, each the
best of $ROUNDS; the faster pass is shown, and both where the second did not reproduce the first
within 10 %. Every download was checked (exit code; nginx logged 200, the whole body sent). The
ceiling is \`examples/tls_drain.rs\`: the handshake, then the ciphertext read and never
decrypted, so the client costs nothing but the kernel's copy: how fast nginx encrypts and sends
on its one core here.

| | nicksock | curl | wget | ceiling (no decryption) | nicksock / curl | nicksock / wget |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| HTTP | $(cell nicksock/http) | $(cell curl/http) | $(cell wget/http) | — | $(ratio "${mbps[nicksock/http]}" "${mbps[curl/http]}")× | $(ratio "${mbps[nicksock/http]}" "${mbps[wget/http]}")× |
| HTTPS | $(cell nicksock/https) | $(cell curl/https) | $(cell wget/https) | $(cell drain/https) | $(ratio "${mbps[nicksock/https]}" "${mbps[curl/https]}")× | $(ratio "${mbps[nicksock/https]}" "${mbps[wget/https]}")× |

The same fastest rounds: the client's CPU seconds (user + system) per GiB, lower is better,
and in brackets nginx's share of its one core while it served that download (near 1.0:
nginx's encrypting set the pace, the limit any client meets here). CPU: ${cpu:-unknown}; its AES flags: ${aes_flags:-none}.

| | nicksock | curl | wget | ceiling |
| --- | ---: | ---: | ---: | ---: |
| HTTP | $(fmt 2 "${cpus[nicksock/http]}") ($(fmt 2 "${nginx[nicksock/http]}")) | $(fmt 2 "${cpus[curl/http]}") ($(fmt 2 "${nginx[curl/http]}")) | $(fmt 2 "${cpus[wget/http]}") ($(fmt 2 "${nginx[wget/http]}")) | — |
| HTTPS | $(fmt 2 "${cpus[nicksock/https]}") ($(fmt 2 "${nginx[nicksock/https]}")) | $(fmt 2 "${cpus[curl/https]}") ($(fmt 2 "${nginx[curl/https]}")) | $(fmt 2 "${cpus[wget/https]}") ($(fmt 2 "${nginx[wget/https]}")) | $(fmt 2 "${cpus[drain/https]}") ($(fmt 2 "${nginx[drain/https]}")) |

$SMALL_REQUESTS small requests one after another, process start to exit, ms per request (lower is
better):

| | nicksock | curl | nicksock / curl |
| --- | ---: | ---: | ---: |
| HTTP | $(fmt 2 "${ms[nicksock/http]}") | $(fmt 2 "${ms[curl/http]}") | $(ratio "${ms[nicksock/http]}" "${ms[curl/http]}") |
| HTTPS | $(fmt 2 "${ms[nicksock/https]}") | $(fmt 2 "${ms[curl/https]}") | $(ratio "${ms[nicksock/https]}" "${ms[curl/https]}") |
MD
)

# Replace the `## http-get` section (up to the next `## ` heading), or append it.
[ -f "$OUT" ] || printf '# Benchmarks\n' > "$OUT"
SECTION=$section awk '
  /^## / { if (skipping) skipping = 0 }
  /^## http-get$/ { print ENVIRON["SECTION"]; print ""; skipping = 1; done = 1; next }
  !skipping { print }
  END { if (!done) { print ""; print ENVIRON["SECTION"] } }
' "$OUT" > "$OUT.new"
mv "$OUT.new" "$OUT"
echo "$section"
