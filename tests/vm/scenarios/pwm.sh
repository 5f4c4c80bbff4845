# PWM: software PWM on a real line. The simulator's view of the line is sampled while
# the duty is 25, 50 and 75 % (high that share of the time), 100 % (always high) and 0 %
# (always low). Then a timer on a real output line: `on 12 for 1` switches it back.
sim_chip pi4 pinctrl-bcm2711 32 named
serve --backend cdev --pin 12 --pwm 13=LED --pwm-hz 100 --line-port 9000 127.0.0.1
report start "$(head -n 1 /tmp/serve.err)"
report held "$(holder 13)"
# highs N: of N samples of line 13's level, how many were high. The guest has one CPU: a
# sampler that never pauses would hold it while the PWM thread waits to switch the line
# (seen: 15 % high at 25 %). So it pauses between samples, 0.5 to 4.5 ms in a pattern that
# is no multiple of the 10 ms period, and the samples fall at spread phases.
highs() {
  local n=0 i=0
  while [ "$i" -lt "$1" ]; do
    if [ "$(level 13)" = 1 ]; then n=$((n + 1)); fi
    i=$((i + 1))
    usleep $((i * 7919 % 4000 + 500))
  done
  echo "$n"
}
# settle V: waits (at most 5 s) until line 13 reads V.
settle() {
  local tries=0
  while [ "$(level 13)" != "$1" ] && [ "$tries" -lt 100 ]; do
    tries=$((tries + 1))
    sleep 0.05
  done
}
report half-api "$(api_post 13 '{"duty":50}')"
report half-highs "$(highs 400)"
for duty in 25 75; do
  api_post 13 "{\"duty\":$duty}" >/dev/null
  report "highs-$duty" "$(highs 400)"
done
report full-line "$(printf 'duty LED 100\n' | nicksock connect 127.0.0.1 9000)"
settle 1
report full-highs "$(highs 100)"
report off-line "$(printf 'off LED\n' | nicksock connect 127.0.0.1 9000)"
settle 0
report off-highs "$(highs 100)"
# centis: the time since boot in hundredths of a second.
centis() {
  local up
  read -r up _ </proc/uptime
  echo "${up%.*}${up#*.}"
}
# A watcher on the line port, read line by line: `read` blocks until the server says the
# line went back (at most 5 s per line, 20 lines).
mkfifo /tmp/timer-in /tmp/timer-out
nicksock connect 127.0.0.1 9000 < /tmp/timer-in > /tmp/timer-out &
exec 4> /tmp/timer-in
exec 5< /tmp/timer-out
echo watch >&4
read -r -t 5 watching <&5
start=$(centis)
report timer-line "$(printf 'on 12 for 1\n' | nicksock connect 127.0.0.1 9000)"
report timer-level "$(level 12)"
seen=0
while read -r -t 5 line <&5 && [ "$seen" -lt 20 ]; do
  seen=$((seen + 1))
  [ "$line" = "12 off" ] && break
done
report timer-back-cs "$(($(centis) - start))"
report timer-level-after "$(level 12)"
report timer-api "$(api_get /12)"
report timer-watched "$line"
exec 4>&-
stop term-status
