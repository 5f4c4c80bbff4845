# Sourced in the VM (busybox sh) before each scenario. A scenario reports what it saw as
# lines "@ KEY VALUE" on the console; the Rust test reads them and makes the assertions.

CONFIGFS=/sys/kernel/config/gpio-sim

# report KEY VALUE...: one observation for the test.
report() {
  local key="$1"
  shift
  echo "@ $key $*"
}

# sim_chip ID LABEL LINES [named]: makes a live gpio-sim chip with one bank of LINES lines
# labelled LABEL; `named` names the lines GPIO0, GPIO1… as a Raspberry Pi's device tree
# does. Sets CHIP (/dev/gpiochipN) and SIM (its simulator directory in sysfs).
sim_chip() {
  local dir="$CONFIGFS/$1" i=0
  mkdir "$dir" "$dir/bank0"
  echo "$2" > "$dir/bank0/label"
  echo "$3" > "$dir/bank0/num_lines"
  if [ "${4:-}" = named ]; then
    while [ "$i" -lt "$3" ]; do
      mkdir "$dir/bank0/line$i"
      echo "GPIO$i" > "$dir/bank0/line$i/name"
      i=$((i + 1))
    done
  fi
  echo 1 > "$dir/live"
  CHIP=/dev/$(cat "$dir/bank0/chip_name")
  SIM=/sys/devices/platform/$(cat "$dir/dev_name")/$(cat "$dir/bank0/chip_name")
}

# sim_remove ID: takes the chip away again.
sim_remove() {
  local dir="$CONFIGFS/$1" line
  echo 0 > "$dir/live"
  for line in "$dir"/bank0/line*; do
    if [ -d "$line" ]; then rmdir "$line"; fi
  done
  rmdir "$dir/bank0" "$dir"
}

# level N: the line's level as the simulator sees it (what the program drives on an output).
level() {
  cat "$SIM/sim_gpio$1/value"
}

# pull N up|down: drives input line N from outside, as a button would.
pull() {
  echo "pull-$2" > "$SIM/sim_gpio$1/pull"
}

# holder N: the kernel's own account of line N of $CHIP, from debugfs: the consumer that
# holds it with its direction and level ("nicksock out hi"), "free", or "no-chip".
holder() {
  if [ ! -e /sys/kernel/debug/gpio ]; then mount -t debugfs debugfs /sys/kernel/debug; fi
  # A chip's section starts "gpiochip0: GPIOs 992-1023, …"; its line n is gpio-(992+n),
  # listed when it is requested or named.
  awk -v chip="${CHIP#/dev/}:" -v n="$1" '
    $1 == chip { split($3, range, "-"); want = "gpio-" (range[1] + n); found = 1; on = 1; next }
    /^gpiochip/ { on = 0 }
    on && $1 == want { line = $0 }
    END {
      if (!found) { print "no-chip"; exit }
      if (index(line, "|") == 0) { print "free"; exit }
      sub(/^[^|]*\|/, "", line); sub(/\)/, "", line); gsub(/ +/, " ", line); sub(/ $/, "", line)
      print line
    }' /sys/kernel/debug/gpio
}

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
  [ -e "/proc/$1/stat" ] && [ "$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat")" != Z ]
}

# serve ARGS...: starts `nicksock serve-gpio ARGS` in the background (as user $AS if set)
# with stderr in /tmp/serve.err, and waits until its HTTP port (PORT, default 8080) answers.
# Sets SERVE.
serve() {
  local tries=0
  if [ -n "${AS:-}" ]; then
    su -s /bin/sh "$AS" -c "nicksock serve-gpio $* 2> /tmp/serve.err" &
  else
    nicksock serve-gpio "$@" 2> /tmp/serve.err &
  fi
  SERVE=$!
  until wget -q -O /dev/null "http://127.0.0.1:${PORT:-8080}/api/pins" 2> /dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ] || ! alive "$SERVE"; then
      report serve-failed "$(cat /tmp/serve.err)"
      return 1
    fi
    sleep 0.05
  done
}

# stop KEY: SIGTERM to the server; reports its exit status as KEY, or that it did not stop
# within 10 seconds.
stop() {
  local tries=0
  kill -TERM "$SERVE"
  while alive "$SERVE" && [ "$tries" -lt 100 ]; do
    tries=$((tries + 1))
    sleep 0.1
  done
  if alive "$SERVE"; then
    report "$1" "still running 10 s after SIGTERM"
    kill -KILL "$SERVE"
    return 1
  fi
  wait "$SERVE"
  report "$1" $?
}

# must_fail KEY ARGS...: `nicksock serve-gpio ARGS`, expected to refuse to start; reports
# KEY-status and KEY-error (its stderr). Killed after 10 s if it serves after all.
must_fail() {
  local key="$1"
  shift
  if [ -n "${AS:-}" ]; then
    su -s /bin/sh "$AS" -c "timeout 10 nicksock serve-gpio $* 2> /tmp/fail.err > /dev/null"
  else
    timeout 10 nicksock serve-gpio "$@" 2> /tmp/fail.err > /dev/null
  fi
  report "$key-status" $?
  report "$key-error" "$(cat /tmp/fail.err)"
}

# The server's JSON API and page, on 127.0.0.1:${PORT:-8080}.
api_get() {
  wget -q -O - "http://127.0.0.1:${PORT:-8080}/api/pins$1"
}
api_post() { # api_post PIN JSON
  wget -q -O - --header 'Content-Type: application/json' --post-data "$2" \
    "http://127.0.0.1:${PORT:-8080}/api/pins/$1"
}
api_code() { # api_code PIN JSON: only the HTTP status (wget hides a 4xx/5xx's code)
  nicksock http-get -s -o /dev/null -w '%{http_code}' --json "$2" \
    "http://127.0.0.1:${PORT:-8080}/api/pins/$1"
}
page() {
  wget -q -O - "http://127.0.0.1:${PORT:-8080}/"
}
pin_state() { # pin_state N: what the page says of pin N (on or off)
  page | sed -n "s/.*id=\"pin$1-state\">\([a-z]*\)<.*/\1/p"
}
