# Helpers the benchmark scripts share (sourced, not run): a scratch directory with its
# clean-up, a loopback port, waiting for a listener, the time, and MB/s.

# bench_workdir NAME: sets $work to a new directory in /dev/shm and $pids to an empty list;
# on exit, the processes in $pids are ended (by PID) and the directory removed.
bench_workdir() {
  work=$(mktemp -d "/dev/shm/$1.XXXXXX")
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}

# A loopback TCP port that was free a moment ago (benchmarks only: tests hold their ports).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (bounded) until something listens on TCP port $1.
wait_port() {
  for _ in $(seq 1 200); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2; return 1
}
now() { date +%s.%N; }

# nginx_conf SERVER [HTTP] [TYPE]: writes $work/nginx.conf for an nginx in the foreground
# with everything of its own in $work (pid, error.log, temporary files; no access log): the
# server block SERVER, HTTP added to the http block, TYPE the default Content-Type. Start it
# with `nginx -p "$work" -e "$work/error.log" -c "$work/nginx.conf" &`.
nginx_conf() {
  cat > "$work/nginx.conf" <<CONF
daemon off;
master_process off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi; uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  default_type ${3:-application/octet-stream};
  sendfile on;
  ${2:-}
  server { $1 }
}
CONF
}
# mbps MIB T0 T1: MB/s for MIB mebibytes moved between times T0 and T1.
mbps() { python3 -c "print(round($1*1.048576/($3-$2)))"; }

# write_section TITLE TEXT: replaces BENCHMARKS.md's "## TITLE" section with TEXT (or adds it
# at the end).
write_section() {
  python3 - "$1" "$2" <<'PY'
import pathlib, re, sys
title, section = sys.argv[1], sys.argv[2].rstrip() + "\n"
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text()
pattern = re.compile(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
path.write_text(text)
PY
}

# building: whether a build runs (a script may redefine it to watch more, e.g. a CI run).
building() { pgrep -x cargo >/dev/null || pgrep rustc >/dev/null; }
# quiet: waits (bounded) until `building` says no: a build on the same cores makes a
# measurement worthless. If one still runs after 5 min, says so and sets BUSY (a script
# that also sees a build right after a measurement sets BUSY too: it may have overlapped).
quiet() {
  local i
  for i in $(seq 300); do
    building || return 0
    [ "$i" = 1 ] && echo "waiting for builds to finish…" >&2
    sleep 1
  done
  echo "builds still running after 5 min: measuring anyway" >&2
  BUSY=1
}

# take_turns RUNS KIND...: RUNS rounds in which each KIND runs once (`run_once KIND`, which
# sets $secs and $bad); fills TIMES[KIND] (the seconds of every run), FAIL[KIND] (the first
# failure), MED[KIND] (the median, to 2 decimals) and MEDIAN[KIND] (to the nanosecond, for
# rates), and prints them.
take_turns() {
  local runs=$1 r k
  shift
  declare -gA TIMES FAIL MED MEDIAN
  for r in $(seq "$runs"); do
    echo "run $r of $runs…"
    for k in "$@"; do
      run_once "$k"
      TIMES[$k]="${TIMES[$k]:-} $secs"
      [ -n "$bad" ] && [ -z "${FAIL[$k]:-}" ] && FAIL[$k]=$bad
    done
  done
  for k in "$@"; do
    MEDIAN[$k]=$(python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" ${TIMES[$k]})
    MED[$k]=$(python3 -c "print(f'{${MEDIAN[$k]}:.2f}')")
    echo "$k: ${TIMES[$k]} s → median ${MED[$k]}${FAIL[$k]:+ (${FAIL[$k]})}"
  done
}

# start_proxies MAXCLIENTS: tinyproxy (HTTP CONNECT, every port allowed), microsocks and
# Dante (SOCKS5, no authentication) on free loopback ports, in the foreground, ended by PID
# on exit; sets TINY_PORT, MICRO_PORT, DANTE_PORT and their *_PID, and waits until they
# listen. Their logs are in $work.
start_proxies() {
  TINY_PORT=$(free_port); MICRO_PORT=$(free_port); DANTE_PORT=$(free_port)
  # No ConnectPort line: tinyproxy.conf(5) says CONNECT to every port is then allowed.
  cat > "$work/tinyproxy.conf" <<CFG
Port $TINY_PORT
Listen 127.0.0.1
Timeout 600
MaxClients $1
Allow 127.0.0.1
LogLevel Critical
CFG
  cat > "$work/danted.conf" <<CFG
logoutput: stderr
internal: 127.0.0.1 port = $DANTE_PORT
external: 127.0.0.1
clientmethod: none
socksmethod: none
CFG
  # As root, both drop to nobody (Dante wants these lines before its rules).
  if [ "$(id -u)" = 0 ]; then
    printf 'User nobody\nGroup %s\n' "$(id -gn nobody)" >> "$work/tinyproxy.conf"
    printf 'user.privileged: root\nuser.unprivileged: nobody\n' >> "$work/danted.conf"
  fi
  cat >> "$work/danted.conf" <<CFG
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }
CFG
  tinyproxy -d -c "$work/tinyproxy.conf" > "$work/tinyproxy.log" 2>&1 & pids+=($!)
  TINY_PID=$!
  microsocks -i 127.0.0.1 -p "$MICRO_PORT" > "$work/microsocks.log" 2>&1 & pids+=($!)
  MICRO_PID=$!
  # danted stays in the foreground unless -D; its mother process ends its children on SIGTERM.
  danted -f "$work/danted.conf" -p "$work/danted.pid" > "$work/danted.log" 2>&1 & pids+=($!)
  DANTE_PID=$!
  local p
  for p in tinyproxy:$TINY_PORT microsocks:$MICRO_PORT danted:$DANTE_PORT; do
    wait_port "${p#*:}" || { echo "${p%:*} did not start:" >&2; cat "$work/${p%:*}.log" >&2; exit 1; }
  done
}
