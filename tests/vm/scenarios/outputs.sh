# Outputs: the HTTP API, the page's forms and the line protocol switch a real line; an
# active-low line is inverted; SIGTERM stops the server and the kernel has the lines back.
# A Pi 4's chip: lines named GPIOn.
sim_chip pi4 pinctrl-bcm2711 32 named
serve --backend cdev --pin 13 --pin 19 --active-low 19 --line-port 9000 127.0.0.1
report start "$(level 13) $(level 19)"
report held "$(holder 13)"

api_post 13 '{"state":"on"}' > /dev/null && report api-on "$(level 13)"
api_post 13 '{"state":"off"}' > /dev/null && report api-off "$(level 13)"
api_post 13 '{"action":"toggle"}' > /dev/null && report api-toggle "$(level 13)"
api_post 13 '{"action":"toggle"}' > /dev/null && report api-toggle-again "$(level 13)"
report api-state "$(api_get /13)"

# The page's form (busybox wget would POST again after the 303, so nicksock posts it).
report form-post "$(nicksock http-get -s -o /dev/null -w '%{http_code}' -d 'pin=13&state=on' \
  http://127.0.0.1:8080/)" && report form-post-on "$(level 13)"
wget -q -O /dev/null 'http://127.0.0.1:8080/?pin=13&state=off' && report form-get-off "$(level 13)"

line() { printf '%s\n' "$1" | nicksock connect 127.0.0.1 9000; }
report line-on-reply "$(line 'on 13')" && report line-on "$(level 13)"
report line-off-reply "$(line 'off 13')" && report line-off "$(level 13)"
report line-toggle-reply "$(line 'toggle 13')" && report line-toggle "$(level 13)"

api_post 19 '{"state":"on"}' > /dev/null && report active-low-on "$(level 19)"
report active-low-page "$(pin_state 19)"
line 'off 19' > /dev/null && report active-low-off "$(level 19)"

stop term-status
report released "$(holder 13)"
