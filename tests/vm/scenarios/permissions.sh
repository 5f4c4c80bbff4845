# A user outside the gpio group gets exit 9 and the fix; in the group (as Raspberry Pi OS
# sets /dev/gpiochip*: root:gpio 0660) the same command serves. And `auto` picks the chip.
sim_chip pi4 pinctrl-bcm2711 32 named
echo 'root:x:0:0::/tmp:/bin/sh' > /etc/passwd
echo 'pi:x:1000:1000::/tmp:/bin/sh' >> /etc/passwd
printf 'root:x:0:\npi:x:1000:\ngpio:x:997:\n' > /etc/group
chgrp 997 "$CHIP"
chmod 0660 "$CHIP"
export AS=pi

must_fail outsider --pin 13 --port 8081 127.0.0.1

sed -i 's/^gpio:x:997:$/gpio:x:997:pi/' /etc/group
serve --pin 13 127.0.0.1
api_post 13 '{"state":"on"}' > /dev/null && report member-level "$(level 13)"
report member-says "$(head -1 /tmp/serve.err)"
report member-holder "$(holder 13)"
