# Restore: pin states kept across a restart on a real chip. GPIO12 is switched on and the
# PWM pin 13 set to 30 % through the API; after SIGTERM and a new start with the same
# --state-file, line 12 is high from the start and pin 13 is at 30 % again; `--restore
# 12=off` then starts 12 low whatever the file says.
sim_chip pi4 pinctrl-bcm2711 32 named
serve --backend cdev --pin 12 --pwm 13 --pwm-hz 100 --state-file /tmp/pins.json 127.0.0.1
api_post 12 '{"value":1}' > /dev/null
api_post 13 '{"duty":30}' > /dev/null
stop first-status
report file-mode "$(stat -c %a /tmp/pins.json)"
report file "$(cat /tmp/pins.json)"
serve -v --backend cdev --pin 12 --pwm 13 --pwm-hz 100 --state-file /tmp/pins.json 127.0.0.1
report started "$(grep -E '^GPIO1[23]:' /tmp/serve.err | tr '\n' ';')"
report level-12 "$(level 12)"
report pin-13 "$(api_get /13)"
stop second-status
serve --backend cdev --pin 12 --pwm 13 --state-file /tmp/pins.json --restore 12=off 127.0.0.1
report forced-level-12 "$(level 12)"
stop third-status
