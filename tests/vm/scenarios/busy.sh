# A second serve-gpio on a line the first holds fails with exit 9 naming the line; after
# SIGTERM the line is free and can be taken again. A chip that goes away under a running
# server gets 500s, not a dead server.
sim_chip pi4 pinctrl-bcm2711 32 named
serve --backend cdev --pin 13 127.0.0.1
api_post 13 '{"state":"on"}' > /dev/null
must_fail second --backend cdev --pin 13 --port 8081 127.0.0.1
report first-still "$(api_get /13) $(level 13)"
stop term-status
report released "$(holder 13)"
export PORT=8082
serve --backend cdev --pin 13 --port 8082 127.0.0.1 && report retaken "$(holder 13)"
echo 0 > "$CONFIGFS/pi4/live"
report gone-read "$(nicksock http-get -s -w ' %{http_code}' http://127.0.0.1:8082/api/pins/13 |
  tr -d '\n')"
report gone-write "$(api_code 13 '{"state":"off"}')"
stop again-status
