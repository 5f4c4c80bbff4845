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
# holds it with its direction and level ("nicksock out hi"), or "free".
holder() {
  if [ ! -e /sys/kernel/debug/gpio ]; then mount -t debugfs debugfs /sys/kernel/debug; fi
  awk -v chip="${CHIP#/dev/}:" -v n="$1" '
    $1 == chip { on = 1; next }
    /^gpiochip/ { on = 0 }
    on && /^ *gpio-[0-9]+ / && i++ == n { line = $0 }
    END {
      if (index(line, "|") == 0) { print "free"; exit }
      sub(/^[^|]*\|/, "", line); sub(/\)/, "", line); gsub(/ +/, " ", line); sub(/ $/, "", line)
      print line
    }' /sys/kernel/debug/gpio
}

# serve ARGS...: starts `nicksock serve-gpio ARGS` in the background with stderr in
# /tmp/serve.err, waits until its HTTP port (PORT, default 8080) answers. Sets SERVE.
serve() {
  local tries=0
  nicksock serve-gpio "$@" 2> /tmp/serve.err &
  SERVE=$!
  until wget -q -O /dev/null "http://127.0.0.1:${PORT:-8080}/api/pins" 2> /dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ] || ! kill -0 "$SERVE" 2> /dev/null; then
      report serve-failed "$(cat /tmp/serve.err)"
      return 1
    fi
    sleep 0.05
  done
}

# stop: SIGTERM to the server; reports its exit status as KEY.
stop() {
  kill -TERM "$SERVE"
  wait "$SERVE"
  report "$1" $?
}

# The server's JSON API and page, on 127.0.0.1:${PORT:-8080}.
api_get() {
  wget -q -O - "http://127.0.0.1:${PORT:-8080}/api/pins$1"
}
api_post() { # api_post PIN JSON
  wget -q -O - --header 'Content-Type: application/json' --post-data "$2" \
    "http://127.0.0.1:${PORT:-8080}/api/pins/$1"
}
page() {
  wget -q -O - "http://127.0.0.1:${PORT:-8080}/"
}
