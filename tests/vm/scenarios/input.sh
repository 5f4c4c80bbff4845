# Inputs: the simulator pulls the line as a button would; the page, the API and the line
# protocol show it, and nothing drives it.
sim_chip pi4 pinctrl-bcm2711 32 named
serve --backend cdev --pin 13 --input 12 --input 6 --active-low 6 --line-port 9000 127.0.0.1
report held "$(holder 12)"
line() { printf "$1" | nicksock connect 127.0.0.1 9000 | tr '\n' '|'; }
pull 12 up
report up-api "$(api_get /12)"
report up-page "$(pin_state 12)"
report up-line "$(line 'status 12\n')"
pull 12 down
report down-line "$(line 'status 12\non 12\nstatus 12\n')"
report down-api "$(api_get /12)"
report down-page "$(pin_state 12)"
pull 6 down
report active-low-down "$(api_get /6)"
pull 6 up
report active-low-up "$(api_get /6)"
report list "$(api_get)"
report drive-input "$(api_code 12 '{"state":"on"}')"
report input-level "$(level 12)"
stop term-status
