# Inputs: the simulator pulls the line as a button would; the page and the API show it.
sim_chip pi4 pinctrl-bcm2711 32 named
serve --backend cdev --pin 13 --input 12 --input 6 --active-low 6 --line-port 9000 127.0.0.1
report held "$(holder 12)"
state() { page | grep -o "id=\"pin$1-state\">[a-z]*<" | sed 's/.*>\(.*\)</\1/'; }
pull 12 up
report up-api "$(api_get /12)"
report up-page "$(state 12)"
report up-line "$(printf 'status 12\n' | nicksock connect 127.0.0.1 9000)"
pull 12 down
report down-line "$(printf 'status 12\non 12\n' | nicksock connect 127.0.0.1 9000 | tr '\n' '|')"
report down-api "$(api_get /12)"
report down-page "$(state 12)"
pull 6 down
report active-low-down "$(api_get /6)"
pull 6 up
report active-low-up "$(api_get /6)"
report list "$(api_get)"
report drive-input "$(nicksock http-get -s -o /dev/null -w '%{http_code}' \
  --json '{"state":"on"}' http://127.0.0.1:8080/api/pins/12)"
report input-level "$(level 12)"
stop term-status
