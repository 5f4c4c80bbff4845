# How serve-gpio finds BCM GPIO13: by line name, by a Raspberry Pi header label, by --chip
# (label or path); and the exit 9 when it cannot.
found() { # found KEY ARGS...: serve, switch GPIO13 on, report how it was found, stop
  local key="$1"
  shift
  serve --backend cdev --pin 13 "$@" 127.0.0.1 || return
  report "$key-how" "$(head -1 /tmp/serve.err)"
  api_post 13 '{"state":"on"}' > /dev/null && report "$key-level" "$(level 13)"
  report "$key-held" "$(holder 13)"
  stop "$key-stop"
}

# A chip whose lines are named as a Pi's are, but whose label is no Pi's.
sim_chip named gpio-expander 32 named
found by-name
must_fail missing --backend cdev --pin 40 127.0.0.1
sim_remove named

# A Pi 4 header chip whose lines have no names.
sim_chip header pinctrl-bcm2711 32
found by-label
sim_remove header

# A Pi 5: the SoC's own chip (unnamed lines) comes first, the RP1 chip with the header's
# named lines second, so no chip number can be assumed.
sim_chip soc gpio-brcmstb@107d508500 32
sim_chip rp1 pinctrl-rp1 54 named
found pi5
sim_remove rp1
sim_remove soc

# Neither names nor a header label: only --chip can pick it, by label or by path.
sim_chip plain some-expander 32
must_fail unnamed --backend cdev --pin 13 127.0.0.1
found chip-label --chip some-expander
found chip-path --chip "$CHIP"
must_fail no-such-chip --backend cdev --pin 13 --chip pinctrl-rp1 127.0.0.1
sim_remove plain
