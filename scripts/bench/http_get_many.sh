#!/usr/bin/env bash
# Benchmark (issue 27): 100 small files from one nginx origin over HTTPS (TLS 1.3, a gen-cert
# certificate), every client fetching all of them in one process: `nicksock http-get
# --remote-name-all URL…` (one kept-alive connection), the same URLs to `curl
# --remote-name-all` (curl reuses its connection too), and `wget -i LIST`; then the same
# with parallel transfers (`nicksock -Z`, `curl -Z`; curl 7.88 draws its parallel meter
# even with -s, so it is given --no-progress-meter). Each round runs in a fresh directory
# whose files are compared with the originals (sha256sum -c) before its time counts; the
# clients take turns, and the median of the rounds is reported. Writes the section
# "http-get, many small files" of BENCHMARKS.md.
#
#   scripts/bench/http_get_many.sh                       # 100 files, 15 rounds
#   BENCH_FILES=500 BENCH_ROUNDS=5 scripts/bench/http_get_many.sh
#
# Needs nginx, curl, wget, sha256sum. Builds target/release/nicksock first; waits for other
# builds to end before measuring. Everything lives under /dev/shm and is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh

FILES=${BENCH_FILES:-100}
ROUNDS=${BENCH_ROUNDS:-15}
for tool in nginx curl wget sha256sum; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
cargo build --release --quiet --bin nicksock
BIN=$(realpath target/release/nicksock)

bench_workdir nicksock-bench-many
mkdir -p "$work/www" "$work/certs"
# Small files of different sizes (1 to 32 KiB), like a directory of build outputs.
for i in $(seq "$FILES"); do
  head -c $(( (i * 7919) % 32768 + 1024 )) /dev/urandom > "$work/www/f$i.bin"
done
(cd "$work/www" && sha256sum f*.bin > "$work/sums")
"$BIN" gen-cert 127.0.0.1 localhost --out "$work/certs" >/dev/null
CERT=$work/certs/cert.pem
port=$(free_port)
nginx_conf "listen 127.0.0.1:$port ssl; ssl_certificate $CERT; ssl_certificate_key $work/certs/cert-key.pem; ssl_protocols TLSv1.3; root $work/www;" "keepalive_requests 10000;"
nginx -p "$work" -e "$work/error.log" -c "$work/nginx.conf" &
pids+=($!)
wait_port "$port"

urls=()
for i in $(seq "$FILES"); do urls+=("https://127.0.0.1:$port/f$i.bin"); done
printf '%s\n' "${urls[@]}" > "$work/urls.txt"

# run_once KIND: fetches every file into a fresh directory; $secs the time, $bad what was
# wrong (a failed client or a file that differs).
run_once() {
  local dir=$work/out-$1 t0 t1 rc=0
  rm -rf "$dir" && mkdir -p "$dir"
  t0=$(now)
  case $1 in
    nicksock) (cd "$dir" && "$BIN" http-get -sf --cacert "$CERT" --remote-name-all "${urls[@]}") || rc=$? ;;
    nicksock-Z) (cd "$dir" && "$BIN" http-get -sf -Z --cacert "$CERT" --remote-name-all "${urls[@]}") || rc=$? ;;
    curl) (cd "$dir" && curl -sf --cacert "$CERT" --remote-name-all "${urls[@]}") || rc=$? ;;
    curl-Z) (cd "$dir" && curl -sf -Z --no-progress-meter --cacert "$CERT" --remote-name-all "${urls[@]}") || rc=$? ;;
    wget) wget -q --ca-certificate="$CERT" -P "$dir" -i "$work/urls.txt" || rc=$? ;;
  esac
  t1=$(now)
  secs=$(python3 -c "print($t1 - $t0)")
  bad=
  if [ "$rc" != 0 ]; then
    bad="exit $rc"
  elif ! (cd "$dir" && sha256sum --quiet -c "$work/sums" >/dev/null 2>&1); then
    bad="files differ"
  fi
}

quiet
take_turns "$ROUNDS" nicksock curl wget nicksock-Z curl-Z
for k in nicksock curl wget nicksock-Z curl-Z; do
  [ -z "${FAIL[$k]:-}" ] || { echo "bench: $k failed: ${FAIL[$k]}" >&2; exit 1; }
done
building && BUSY=1

ms() { python3 -c "print(f'{${MEDIAN[$1]} * 1000:.0f}')"; }
per_s() { python3 -c "print(f'{$FILES / ${MEDIAN[$1]}:.0f}')"; }
ratio() { python3 -c "print(f'{${MEDIAN[$2]} / ${MEDIAN[$1]}:.2f}')"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
section=$(cat <<MD
## http-get, many small files

\`scripts/bench/http_get_many.sh\` (issue 27): $FILES files of 1 to 32 KiB from one nginx over
HTTPS (TLS 1.3, loopback), every client fetching all of them in one process; each round in a
fresh directory whose files are checked with \`sha256sum -c\` before its time counts; the
clients take turns, median of $ROUNDS rounds${BUSY:+ (a build ran during the measurement: rerun)}.

$(date -u '+%Y-%m-%d'), ${cpu:-unknown CPU}, $(nproc) cores; nginx $(nginx -v 2>&1 | sed 's|.*/||'), curl $(curl --version | head -1 | cut -d' ' -f2), wget $(wget --version | head -1 | cut -d' ' -f3).

| client | ms for all | files/s | time vs nicksock |
| --- | ---: | ---: | ---: |
| \`nicksock http-get --remote-name-all URL…\` | $(ms nicksock) | $(per_s nicksock) | 1.00 |
| \`curl --remote-name-all URL…\` | $(ms curl) | $(per_s curl) | $(ratio nicksock curl) |
| \`wget -i LIST\` | $(ms wget) | $(per_s wget) | $(ratio nicksock wget) |
| \`nicksock http-get -Z --remote-name-all URL…\` | $(ms nicksock-Z) | $(per_s nicksock-Z) | $(ratio nicksock nicksock-Z) |
| \`curl -Z --remote-name-all URL…\` | $(ms curl-Z) | $(per_s curl-Z) | $(ratio nicksock curl-Z) |
MD
)
write_section "http-get, many small files" "$section"
echo "$section"
