#!/usr/bin/env bash
# The fault and soak suite: each scenario drives a release nicksock with many, slow, broken
# or garbage clients (examples/soak_load.rs) and prints PASS or FAIL with its figures. All
# traffic stays on loopback, or in a network namespace the script makes itself. Not part of
# `cargo test`: it needs root for the namespace, 20,000 descriptors, and minutes.
#
#   scripts/soak.sh [SCENARIO...]     (default: all)
#   SOAK_MINUTES=10 (the mixed soak), SOAK_GARBAGE_SECS=60 (garbage to every port)
#
# Scenarios: connections, fdlimit, slowloris, garbage, lossy, netem, mixed.
# Exit 0 when every scenario run passed. RELIABILITY.md has the figures of a full run.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
ns=$PWD/target/release/nicksock
load=$PWD/target/release/examples/soak_load
cargo build --release --bin nicksock --example soak_load >/dev/null 2>&1 || { echo "build failed" >&2; exit 1; }
bench_workdir nicksock-soak
ulimit -n "$(ulimit -Hn)"
failed=0
pass() { echo "PASS $1: $2"; }
fail() { echo "FAIL $1: $2"; failed=1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
alive() { kill -0 "$1" 2>/dev/null; }

# serve NAME ARGS...: starts nicksock ARGS in the background with its stderr in
# $work/NAME.err, waits for its ready lines; sets $pid, $port (first listener) and
# $port2 (a second one, e.g. the line port), all on 127.0.0.1.
serve() {
  local name=$1; shift
  "$ns" "$@" </dev/null >/dev/null 2>"$work/$name.err" &
  pid=$!
  pids+=("$pid")
  local want=1
  case " $* " in *" --line-port "*) want=2 ;; esac
  for _ in $(seq 1 200); do
    [ "$(grep -c 'listening on' "$work/$name.err")" -ge "$want" ] && break
    sleep 0.05
  done
  port=$(grep -m1 'listening on' "$work/$name.err" | grep -o ':[0-9]*' | tail -1 | tr -d :)
  port2=$(grep 'listening on' "$work/$name.err" | sed -n 2p | grep -o ':[0-9]*' | head -1 | tr -d :)
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# established PORT: connections to the local port now established.
established() { ss -Htn state established "sport = :$1" | wc -l; }
# wait_established PORT N: waits (bounded) until N connections to PORT are established.
wait_established() {
  for _ in $(seq 1 600); do
    [ "$(established "$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
field() { grep -o "$2 [0-9.]*" <<<"$1" | awk '{print $2}'; }

scenario_connections() {
  serve echo echo 127.0.0.1 0
  local out; out=$("$load" hold "127.0.0.1:$port" 10000 echo 3)
  local rss; rss=$(rss_kb "$pid")
  if [ "$(field "$out" answered)" = 10000 ]; then
    pass connections "echo: 10000 concurrent clients all echoed ($out); RSS $((rss / 1024)) MiB"
  else
    fail connections "echo: $out"
  fi
  stop "$pid"

  serve gpio serve-gpio --backend sim --pin 13 127.0.0.1 --port 0 --line-port 0
  local gp=$pid http=$port line=$port2
  out=$("$load" hold "127.0.0.1:$http" 10000 http 1)
  rss=$(rss_kb "$gp")
  if [ "$(field "$out" answered)" = 10000 ]; then
    pass connections "serve-gpio: 10000 concurrent HTTP clients all answered 200 ($out); RSS $((rss / 1024)) MiB"
  else
    fail connections "serve-gpio: $out"
  fi
  stop "$gp"

  # Beyond the limits: a port full of idle line clients, then of slow senders.
  serve gpio2 serve-gpio --backend sim --pin 13 127.0.0.1 --port 0 --line-port 0 --max-conns 1000
  gp=$pid; http=$port; line=$port2
  "$load" hold "127.0.0.1:$line" 1500 line 20 >"$work/idle.out" &
  local holder=$!
  for _ in $(seq 1 400); do [ -s "$work/idle.out" ] && break; sleep 0.05; done
  out=$("$load" probe "127.0.0.1:$http" 50)
  if [ "$(field "$out" ok)" = 50 ]; then
    pass connections "1500 idle line clients on a 1000-client port: the page still answers ($out; idle: $(cat "$work/idle.out"))"
  else
    fail connections "idle line clients locked out the page: $out"
  fi
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
  "$load" slow "127.0.0.1:$http" 1500 1000 8 >"$work/slow.out" &
  local slow=$!
  wait_established "$http" 1000
  out=$("$load" probe "127.0.0.1:$http" 50)
  wait "$slow"
  if [ "$(field "$out" ok)" = 50 ]; then
    pass connections "1500 slowloris clients on a 1000-client port: requests still answered ($out; $(cat "$work/slow.out"))"
  else
    fail connections "slowloris locked out the page: $out"
  fi
  stop "$gp"
}

scenario_fdlimit() {
  # The server gets 256 descriptors; 1000 clients come at once.
  ( ulimit -n 256; exec "$ns" serve-gpio --backend sim --pin 13 127.0.0.1 --port 0 ) \
    </dev/null >/dev/null 2>"$work/fd.err" &
  pid=$!; pids+=("$pid")
  for _ in $(seq 1 200); do grep -q 'listening on' "$work/fd.err" && break; sleep 0.05; done
  port=$(grep -m1 'listening on' "$work/fd.err" | grep -o ':[0-9]*' | tail -1 | tr -d :)
  local t0; t0=$(cpu_ticks "$pid")
  local out; out=$("$load" hold "127.0.0.1:$port" 1000 http)
  local t1; t1=$(cpu_ticks "$pid")
  # Idle now: a server spinning on EMFILE would keep burning CPU.
  local probe; probe=$("$load" probe "127.0.0.1:$port" 20)
  local t2; t2=$(cpu_ticks "$pid")
  local lines; lines=$(grep -c 'accepting a connection' "$work/fd.err")
  if [ "$(field "$out" answered)" = 1000 ] && [ "$(field "$probe" ok)" = 20 ] && alive "$pid"; then
    pass fdlimit "ulimit -n 256, 1000 clients: $out; afterwards $probe; CPU $(( (t1 - t0) ))+$(( (t2 - t1) )) ticks; $lines accept-failure lines logged"
  else
    fail fdlimit "$out / $probe / alive: $(alive "$pid" && echo yes || echo no)"
  fi
  stop "$pid"
}

scenario_slowloris() {
  serve gpio serve-gpio --backend sim --pin 13 127.0.0.1 --port 0
  local gp=$pid http=$port
  "$load" slow "127.0.0.1:$http" 2000 2000 14 >"$work/slow2.out" &
  local slow=$!
  wait_established "$http" 2000
  local out; out=$("$load" probe "127.0.0.1:$http" 100)
  wait "$slow"
  local max; max=$(field "$out" max_ms)
  local cut; cut=$(field "$(cat "$work/slow2.out")" cut)
  if [ "$(field "$out" ok)" = 100 ] && awk "BEGIN {exit !($max < 100)}" && [ "$cut" = 2000 ]; then
    pass slowloris "2000 slowloris (a byte every 2 s): $out; $(cat "$work/slow2.out")"
  else
    fail slowloris "$out; $(cat "$work/slow2.out")"
  fi
  stop "$gp"

  mkdir -p "$work/certs" && "$ns" gen-cert 127.0.0.1 --out "$work/certs" >/dev/null
  serve tls serve-gpio --backend sim --pin 13 127.0.0.1 --port 0 --tls \
    --cert "$work/certs/cert.pem" --key "$work/certs/cert-key.pem"
  gp=$pid; http=$port
  "$load" stall "127.0.0.1:$http" 500 13 >"$work/stall.out" &
  local stall=$!
  wait_established "$http" 500
  local worst=0 t
  for _ in $(seq 1 20); do
    t=$(curl -s -o /dev/null -w '%{time_total}' --cacert "$work/certs/cert.pem" "https://127.0.0.1:$http/api/pins")
    worst=$(awk "BEGIN {print ($t > $worst) ? $t : $worst}")
  done
  wait "$stall"
  cut=$(field "$(cat "$work/stall.out")" cut)
  if [ "$cut" = 500 ] && awk "BEGIN {exit !($worst < 0.1)}"; then
    pass slowloris "500 stalled TLS handshakes: $(cat "$work/stall.out"); 20 HTTPS requests meanwhile, slowest ${worst} s"
  else
    fail slowloris "TLS stall: $(cat "$work/stall.out"); slowest HTTPS request ${worst} s"
  fi
  stop "$gp"
}

scenario_garbage() {
  local secs=${SOAK_GARBAGE_SECS:-60}
  serve echo echo 127.0.0.1 0
  local ep=$pid eport=$port
  mkdir -p "$work/gcerts" && "$ns" gen-cert 127.0.0.1 --out "$work/gcerts" >/dev/null
  serve gpio serve-gpio --backend sim --pin 13 127.0.0.1 --port 0 --line-port 0
  local gp=$pid http=$port line=$port2
  serve tls serve-gpio --backend sim --pin 13 127.0.0.1 --port 0 --tls \
    --cert "$work/gcerts/cert.pem" --key "$work/gcerts/cert-key.pem"
  local tp=$pid tport=$port
  # Four rounds: memory may rise to the peak of concurrent connections the load reaches,
  # but the last round must not rise above the earlier rounds' highest (+10 %, +1 MiB).
  local quarter=$(( (secs + 3) / 4 )) round seed=1 samples=()
  for round in 1 2 3 4; do
    local jobs=()
    for target in "$eport" "$http" "$line" "$tport"; do
      "$load" garbage "127.0.0.1:$target" "$quarter" "$seed" >"$work/garbage.$round.$target" &
      jobs+=($!); seed=$((seed + 1))
    done
    wait "${jobs[@]}"
    samples+=("$(rss_kb "$ep") $(rss_kb "$gp") $(rss_kb "$tp")")
  done
  local probe; probe=$("$load" probe "127.0.0.1:$http" 20)
  local made; made=$(cat "$work"/garbage.* | awk '{s += $3} END {print s}')
  local flat=yes i
  for i in 1 2 3; do
    local earlier last
    earlier=$(printf '%s\n' "${samples[@]:0:3}" | awk -v c="$i" '$c > m {m = $c} END {print m}')
    last=$(awk -v c="$i" '{print $c}' <<<"${samples[3]}")
    [ "$last" -le $(( earlier * 11 / 10 + 1024 )) ] || flat=no
  done
  local figures="RSS KiB (echo, http+line, tls) after each quarter: $(printf '[%s] ' "${samples[@]}")"
  if alive "$ep" && alive "$gp" && alive "$tp" && [ "$(field "$probe" ok)" = 20 ] && [ "$flat" = yes ]; then
    pass garbage "${secs} s of garbage and resets to the echo, HTTP, line and TLS ports ($made connections): all alive; $figures; then $probe"
  else
    fail garbage "alive: $(alive "$ep" && echo y)$(alive "$gp" && echo y)$(alive "$tp" && echo y); flat: $flat; $figures; $probe"
  fi
  stop "$ep"; stop "$gp"; stop "$tp"
}

scenario_lossy() {
  # A namespace of our own whose loopback drops 1 % of packets (nftables). The kernel here
  # may lack sch_netem (delay, reordering, duplication): then only loss is injected.
  if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "SKIP lossy: needs root and iproute2"; return
  fi
  command -v nft >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null 2>&1; }
  command -v nft >/dev/null || { fail lossy "nftables could not be installed"; return; }
  local nsname=nicksock-soak-$$
  # Packets the loss rule dropped so far.
  dropped() { ip netns exec "$nsname" nft list ruleset 2>/dev/null | grep -o 'packets [0-9]*' | awk '{s += $2} END {print s + 0}'; }
  ip netns add "$nsname" || { fail lossy "cannot make a network namespace"; return; }
  trap 'ip netns del '"$nsname"' 2>/dev/null; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
  ip -n "$nsname" link set lo up
  local netem="no"
  if tc -n "$nsname" qdisc add dev lo root netem delay 2ms 1ms loss 1% duplicate 0.5% reorder 1% 2>/dev/null; then
    netem="yes (delay 2±1 ms, loss 1 %, duplicate 0.5 %, reorder 1 %)"
  else
    ip netns exec "$nsname" nft -f - <<'EOF'
table inet soak {
  chain out { type filter hook output priority 0; numgen random mod 100 < 1 counter drop; }
}
EOF
  fi
  head -c 256M /dev/urandom >"$work/256m"
  mkdir -p "$work/lcerts" && "$ns" gen-cert 127.0.0.1 --out "$work/lcerts" >/dev/null
  local mode
  for mode in plain tls; do
    local tls_l=() tls_c=()
    if [ "$mode" = tls ]; then
      tls_l=(--tls --cert "$work/lcerts/cert.pem" --key "$work/lcerts/cert-key.pem")
      tls_c=(--tls --cacert "$work/lcerts/cert.pem")
    fi
    rm -f "$work/got"
    ip netns exec "$nsname" "$ns" listen "${tls_l[@]}" 127.0.0.1 0 </dev/null >"$work/got" 2>"$work/l.err" &
    local lp=$!
    for _ in $(seq 1 200); do grep -q 'listening on' "$work/l.err" && break; sleep 0.05; done
    local p; p=$(grep -m1 'listening on' "$work/l.err" | grep -o ':[0-9]*' | tail -1 | tr -d :)
    local t0; t0=$(now)
    ip netns exec "$nsname" "$ns" connect "${tls_c[@]}" 127.0.0.1 "$p" <"$work/256m" >/dev/null 2>"$work/c.err"
    local cc=$?
    wait "$lp"; local lc=$?
    local t1; t1=$(now)
    if [ "$cc" = 0 ] && [ "$lc" = 0 ] && cmp -s "$work/256m" "$work/got"; then
      pass lossy "$mode 256 MiB through 1 % loss (netem: $netem): identical, exit 0/0, $(mbps 256 "$t0" "$t1") MB/s; packets dropped so far: $(dropped)"
    else
      fail lossy "$mode: exits $cc/$lc, $(stat -c %s "$work/got") bytes arrived; $(tail -1 "$work/c.err")"
    fi
  done
  # http-get from nginx in the same namespace, over HTTP and HTTPS.
  if command -v nginx >/dev/null; then
    local d=$work/nginx hp hsp
    mkdir -p "$d/www" && ln -f "$work/256m" "$d/www/256m"
    hp=$(free_port); hsp=$(free_port)
    cat >"$d/nginx.conf" <<EOF
daemon off; master_process off; pid $d/nginx.pid; error_log $d/error.log;
events { worker_connections 64; }
http {
  access_log off; client_body_temp_path $d/b; proxy_temp_path $d/p; fastcgi_temp_path $d/f;
  uwsgi_temp_path $d/u; scgi_temp_path $d/s; sendfile on;
  server {
    listen 127.0.0.1:$hp; listen 127.0.0.1:$hsp ssl; root $d/www;
    ssl_certificate $work/lcerts/cert.pem; ssl_certificate_key $work/lcerts/cert-key.pem;
  }
}
EOF
    ip netns exec "$nsname" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" </dev/null >/dev/null 2>&1 &
    local np=$!; pids+=("$np")
    for _ in $(seq 1 200); do [ -s "$d/nginx.pid" ] && break; sleep 0.05; done
    local url
    for url in "http://127.0.0.1:$hp/256m" "https://127.0.0.1:$hsp/256m"; do
      rm -f "$work/dl"
      local t0; t0=$(now)
      ip netns exec "$nsname" "$ns" http-get -s --cacert "$work/lcerts/cert.pem" -o "$work/dl" "$url" 2>"$work/dl.err"
      local rc=$?
      local t1; t1=$(now)
      if [ "$rc" = 0 ] && cmp -s "$work/256m" "$work/dl"; then
        pass lossy "http-get $url, 256 MiB from nginx through 1 % loss: identical, exit 0, $(mbps 256 "$t0" "$t1") MB/s; packets dropped so far: $(dropped)"
      else
        fail lossy "http-get $url: exit $rc; $(tail -1 "$work/dl.err")"
      fi
    done
    kill "$np" 2>/dev/null; wait "$np" 2>/dev/null
  else
    fail lossy "nginx is not installed (the http-get part needs it)"
  fi
  ip netns del "$nsname"
}

scenario_netem() {
  # tc netem where the host kernel has none: in a throw-away VM (tests/vm/gpio-vm.sh) whose
  # Debian kernel has sch_netem, on the guest's loopback, so every packet of both directions
  # is delayed 2 ± 1 ms and 1 % lost, 1 % reordered, 0.5 % duplicated. 256 MiB through
  # connect/listen (plain, TLS) and http-get from nginx (HTTP, HTTPS), compared by SHA-256.
  local why; why=$(bash tests/vm/gpio-vm.sh check 2>&1) || { echo "SKIP netem: no VM: $why"; return; }
  NICKSOCK_VM_MEM=1536 NICKSOCK_VM_TIMEOUT=900 bash tests/vm/gpio-vm.sh run -f "$ns" \
    -f "$(command -v tc)" -f "$(command -v nginx)" tests/vm/scenarios/netem.sh >"$work/netem.out" 2>&1
  local sent; sent=$(sed -n 's/^@ sent //p' "$work/netem.out")
  local key line
  for key in plain tls http https; do
    line=$(sed -n "s/^@ $key //p" "$work/netem.out")
    local t0 t1; t0=$(awk '{for (i = 1; i < NF; i++) if ($i == "from") print $(i + 1)}' <<<"$line")
    t1=$(awk '{for (i = 1; i < NF; i++) if ($i == "to") print $(i + 1)}' <<<"$line")
    if [ -n "$sent" ] && [[ "$line" == "exits 0"*" sum $sent "* || "$line" == "exits 0/0 sum $sent "* ]]; then
      pass netem "$key: 256 MiB identical (SHA-256), exit 0, $(mbps 256 "$t0" "$t1") MB/s"
    else
      fail netem "$key: ${line:-no report}"
    fi
  done
  echo "     netem on the guest's loopback: $(sed -n 's/^@ stats //p' "$work/netem.out")"
  grep -q "^@ netem-failed\|^@ nginx-failed\|^@ gen-cert-failed" "$work/netem.out" &&
    fail netem "$(grep '^@ .*-failed' "$work/netem.out")"
}

scenario_mixed() {
  local minutes=${SOAK_MINUTES:-10}
  serve gpio serve-gpio --backend sim --pin 13 --pin 19 127.0.0.1 --port 0 --line-port 0
  local gp=$pid http=$port line=$port2
  local end=$(( $(date +%s) + minutes * 60 ))
  # Subscribers for the whole run: the event stream, and `watch` on the line port (its
  # stdin held open by a sleep as long as the run).
  curl -s -N --max-time $((minutes * 60 + 30)) "http://127.0.0.1:$http/api/events" >"$work/events.out" &
  local sub=$!
  (printf 'watch\n'; sleep $((minutes * 60 + 5))) | "$ns" connect 127.0.0.1 "$line" >"$work/watch.out" 2>/dev/null &
  local watcher=$!
  (
    while [ "$(date +%s)" -lt "$end" ]; do
      curl -s -o /dev/null "http://127.0.0.1:$http/"
      curl -s -o /dev/null -d 'pin=13&state=toggle' "http://127.0.0.1:$http/"
      curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"state":"on"}' "http://127.0.0.1:$http/api/pins/19"
      printf 'toggle 13\nstatus\n' | "$ns" connect -q 0 127.0.0.1 "$line" >/dev/null 2>&1
      "$ns" http-get -s -o /dev/null "http://127.0.0.1:$http/api/pins" 2>/dev/null
      "$load" hold "127.0.0.1:$http" 200 http >/dev/null
    done
  ) &
  local driver=$!
  local samples="$work/samples" t=0 c0; c0=$(cpu_ticks "$gp")
  : >"$samples"
  while alive "$driver"; do
    echo "$t $(rss_kb "$gp") $(( $(cpu_ticks "$gp") - c0 ))" >>"$samples"
    t=$((t + 1)); sleep 1
  done
  wait "$driver"
  local n; n=$(wc -l <"$samples")
  local warm; warm=$(awk -v n="$n" 'NR == int(n / 10) + 1 {print $2}' "$samples")
  local peak_late; peak_late=$(awk -v n="$n" 'NR > n / 2 && $2 > m {m = $2} END {print m}' "$samples")
  local last; last=$(tail -1 "$samples" | awk '{print $2}')
  local cpu; cpu=$(tail -1 "$samples" | awk '{print $3}')
  local probe; probe=$("$load" probe "127.0.0.1:$http" 20)
  # The subscribers were with it all along: one event per change, none dropped.
  local events; events=$(grep -c '^data: ' "$work/events.out")
  local watched; watched=$(grep -c '^1[39] ' "$work/watch.out")
  local subs_alive; subs_alive=$(alive "$sub" && alive "$watcher" && echo yes || echo no)
  if alive "$gp" && [ "$(field "$probe" ok)" = 20 ] && [ "$peak_late" -le $((warm * 11 / 10 + 512)) ] &&
    [ "$subs_alive" = yes ] && [ "$events" -gt 100 ] && [ "$watched" -gt 100 ]; then
    pass mixed "$minutes min of page, form, API, line protocol, http-get, 200-client bursts, an event stream ($events events) and a line watcher ($watched lines): RSS after warm-up $warm KiB, highest in the second half $peak_late KiB, at the end $last KiB; $cpu CPU ticks; $n samples; then $probe"
  else
    fail mixed "RSS warm $warm, late peak $peak_late, end $last KiB; alive $(alive "$gp" && echo yes || echo no); subscribers alive $subs_alive ($events events, $watched watched lines); $probe"
  fi
  kill "$sub" "$watcher" 2>/dev/null
  stop "$gp"
}

all=(connections fdlimit slowloris garbage lossy netem mixed)
for s in "${@:-${all[@]}}"; do
  echo "== $s ($(date -u +%H:%M:%S))"
  "scenario_$s"
done
exit $failed
