# Inputs: the simulator pulls the line as a button would; the page, the API and the line
# protocol show it, a watcher on the line port is told of each edge, and nothing drives it.
sim_chip pi4 pinctrl-bcm2711 32 named
serve --backend cdev --pin 13 --input 12 --input 6 --active-low 6 --line-port 9000 127.0.0.1
report held "$(holder 12)"
line() { printf "$1" | nicksock connect 127.0.0.1 9000 | tr '\n' '|'; }
# A watcher whose stdin stays open until the end.
mkfifo /tmp/watch-in
nicksock connect 127.0.0.1 9000 < /tmp/watch-in > /tmp/watch.out &
WATCHER=$!
exec 3> /tmp/watch-in
echo watch >&3
# lines_in FILE N: waits (at most 5 s) until FILE has N lines.
lines_in() {
  local tries=0
  while [ "$(wc -l < "$1")" -lt "$2" ] && [ "$tries" -lt 100 ]; do
    tries=$((tries + 1))
    sleep 0.05
  done
}
lines_in /tmp/watch.out 1
# Reads follow the debounced value (5 ms): each read waits until the watcher saw the edge.
pull 12 up
lines_in /tmp/watch.out 2
report up-api "$(api_get /12)"
report up-page "$(pin_state 12)"
report up-line "$(line 'status 12\n')"
pull 12 down
lines_in /tmp/watch.out 3
report down-line "$(line 'status 12\non 12\nstatus 12\n')"
report down-api "$(api_get /12)"
report down-page "$(pin_state 12)"
pull 6 down
report active-low-down "$(api_get /6)"
pull 6 up
lines_in /tmp/watch.out 4
report active-low-up "$(api_get /6)"
report list "$(api_get)"
report drive-input "$(api_code 12 '{"state":"on"}')"
report input-level "$(level 12)"
# The edges, as the watcher saw them: 12 up, 12 down, 6 up (6 was already down).
exec 3>&-
wait "$WATCHER"
report watcher-status $?
report edges "$(tr '\n' '|' < /tmp/watch.out)"
stop term-status
